#include "engine/core/check.h"

#include <cstdio>
#include <cstdlib>

namespace ron::internal {

void CheckFailed(const char* file, int line, const char* expr) {
  std::fprintf(stderr, "ron-audit: invariant violated at %s:%d: %s\n", file, line, expr);
  std::abort();
}

}  // namespace ron::internal
