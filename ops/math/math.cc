// Per-target entry points of the math family and their dispatchers. The
// maths, error bounds, tail contract and partitioning rule are described at
// the top of math-inl.h.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/math/math.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

void ErfF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, ErfFn()); }
void SqrtF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, SqrtFn()); }
void GeluErfF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, GeluErfFn()); }
void GeluTanhF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, GeluTanhFn()); }
void PowF32Kernel(const BroadcastPlan& plan, const float* a, const float* b, float* out, int64_t begin,
                  int64_t end) {
  PowF32Impl(plan, a, b, out, begin, end);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

namespace tessera::ops {

HWY_EXPORT(ErfF32Kernel);
HWY_EXPORT(SqrtF32Kernel);
HWY_EXPORT(GeluErfF32Kernel);
HWY_EXPORT(GeluTanhF32Kernel);
HWY_EXPORT(PowF32Kernel);

void ErfF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(ErfF32Kernel)(in, out, n); }
void SqrtF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(SqrtF32Kernel)(in, out, n); }
void GeluErfF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(GeluErfF32Kernel)(in, out, n); }
void GeluTanhF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(GeluTanhF32Kernel)(in, out, n); }
void PowF32(const BroadcastPlan& plan, const float* a, const float* b, float* out, int64_t begin, int64_t end) {
  HWY_DYNAMIC_DISPATCH(PowF32Kernel)(plan, a, b, out, begin, end);
}

}  // namespace tessera::ops

#endif  // HWY_ONCE
