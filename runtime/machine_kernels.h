// The two Highway loops behind the machine roofline (runtime/machine.h):
// an FP32 FMA loop for the compute peak and a stream triad for memory
// bandwidth. Plain declarations; the SIMD code is in machine_kernels.cc,
// compiled once per target and dispatched to the target the ops use.
#ifndef TESSERA_RUNTIME_MACHINE_KERNELS_H_
#define TESSERA_RUNTIME_MACHINE_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace tessera::runtime {

// The Highway target (a HWY_* bit) that dynamic dispatch selects, i.e. the
// one every op kernel runs on.
int64_t DispatchedTarget();
// Bytes of one float vector on that target.
size_t VectorBytesF32();

// FLOPs one iteration of FmaLoopF32 performs (2 per lane per FMA).
int64_t FmaLoopFlopsPerIteration();
// Runs `iterations` rounds of independent FMA chains and returns a value
// that depends on all of them, so the compiler cannot drop the work.
float FmaLoopF32(int64_t iterations, float seed);

// a[i] = b[i] + s * c[i] for i in [0, n). n must be a multiple of 64 and
// the arrays 64-byte aligned (AlignedBuffer), so there is no tail.
void TriadF32(float* a, const float* b, const float* c, float s, size_t n);

}  // namespace tessera::runtime

#endif  // TESSERA_RUNTIME_MACHINE_KERNELS_H_
