// Messages of given lengths whose bytes come from a fuzzer's input, for the hashing fuzzers:
// each is read cyclically from `pool`, one after another (all zeros when the pool is empty),
// so that short inputs still make long messages.
#ifndef FUZZ_FUZZ_MESSAGES_H_
#define FUZZ_FUZZ_MESSAGES_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ron::fuzz {

inline std::vector<std::string> MessagesFromPool(const std::vector<size_t>& lengths,
                                                 std::string_view pool) {
  std::vector<std::string> messages;
  size_t from = 0;
  for (size_t length : lengths) {
    std::string m(length, '\0');
    for (size_t k = 0; k < length && !pool.empty(); ++k) m[k] = pool[(from + k) % pool.size()];
    from += length;
    messages.push_back(std::move(m));
  }
  return messages;
}

}  // namespace ron::fuzz

#endif  // FUZZ_FUZZ_MESSAGES_H_
