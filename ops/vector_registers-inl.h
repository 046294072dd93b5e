// How many vector registers the Highway target being compiled has, for the
// register-blocked kernels that size their tiles from it (the GEMM
// micro-kernel in ops/gemm/gemm-inl.h, the recurrent step's product in
// ops/rnn/rnn-inl.h): one place for the condition, so the two cannot
// disagree about a target.
//
// x86 below AVX-512 (SSE4, AVX2, and x86's SCALAR build, which compiles to
// SSE2) has 16; AVX-512 has 32, as have NEON and SVE (and Arm's SCALAR,
// which the kernels never tune for).

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_VECTOR_REGISTERS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_VECTOR_REGISTERS_INL_H_
#undef TESSERA_OPS_VECTOR_REGISTERS_INL_H_
#else
#define TESSERA_OPS_VECTOR_REGISTERS_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

#if HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3
inline constexpr int kVectorRegisters = 16;
#else
inline constexpr int kVectorRegisters = 32;
#endif

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
