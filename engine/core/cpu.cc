#include "engine/core/cpu.h"

namespace ron::internal {

#if defined(__x86_64__)
namespace {

struct Features {
  bool avx = false, avx2 = false, avx512f = false, avx512bw = false;
};

const Features& Detected() {
  static const Features features = [] {
    __builtin_cpu_init();  // may run before the runtime's own initialization of the data
    Features f;
    f.avx = __builtin_cpu_supports("avx") != 0;
    f.avx2 = __builtin_cpu_supports("avx2") != 0;
    f.avx512f = __builtin_cpu_supports("avx512f") != 0;
    f.avx512bw = f.avx512f && __builtin_cpu_supports("avx512bw") != 0;
    return f;
  }();
  return features;
}

}  // namespace

bool CpuHasAvx() { return Detected().avx; }
bool CpuHasAvx2() { return Detected().avx2; }
bool CpuHasAvx512f() { return Detected().avx512f; }
bool CpuHasAvx512bw() { return Detected().avx512bw; }
#else
bool CpuHasAvx() { return false; }
bool CpuHasAvx2() { return false; }
bool CpuHasAvx512f() { return false; }
bool CpuHasAvx512bw() { return false; }
#endif

}  // namespace ron::internal
