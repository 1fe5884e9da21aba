// RON_CHECK: an always-on assertion (also in release builds), for invariants whose violation
// means memory or evidence is already wrong — continuing would risk serving bad data. Not for
// input validation: bad input gets a Status.
#ifndef ENGINE_CORE_CHECK_H_
#define ENGINE_CORE_CHECK_H_

namespace ron::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr);
}  // namespace ron::internal

#define RON_CHECK(cond)                                                                        \
  do {                                                                                         \
    if (__builtin_expect(!(cond), 0)) ::ron::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#endif  // ENGINE_CORE_CHECK_H_
