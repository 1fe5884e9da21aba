// What the CPU offers, asked once per process (x86-64; false elsewhere): for the code paths that
// pick SSE2, AVX2 or AVX-512 at run time.
#ifndef ENGINE_CORE_CPU_H_
#define ENGINE_CORE_CPU_H_

namespace ron::internal {

bool CpuHasAvx();
bool CpuHasAvx2();
bool CpuHasAvx512f();
bool CpuHasAvx512bw();  // byte and word instructions (and AVX-512F)

}  // namespace ron::internal

#endif  // ENGINE_CORE_CPU_H_
