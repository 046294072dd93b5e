// The roofline loops (see machine_kernels.h), compiled once per Highway
// target.
//
// FmaLoopF32: kChains independent accumulators, each updated by one FMA per
// iteration (x = x * m + c). A core sustains its FMA peak only with
// (FMA ports x FMA latency) chains in flight: 2 x 4 = 8 on Zen 4 and
// Skylake-X, 2 x 5 = 10 on some Intel cores; 12 covers both and fits the 16
// registers of SSE4/AVX2 next to the two constants. m < 1 makes every
// chain converge to c / (1 - m), so values never overflow or go subnormal
// (subnormals would take a slow path on some cores).
//
// TriadF32: STREAM's triad with ordinary (write-allocating) stores, the
// traffic a kernel writing its output sees. n is a multiple of 64 floats
// and the arrays are 64-byte aligned, so full vectors cover it on every
// target (at most 64 floats per vector) and there is no tail.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "runtime/machine_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "runtime/machine_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::runtime {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int64_t kChains = 12;

int64_t DispatchedTargetImpl() { return HWY_TARGET; }

size_t VectorBytesF32Impl() { return hn::Lanes(hn::ScalableTag<float>()) * sizeof(float); }

int64_t FmaLoopFlopsPerIterationImpl() {
  return kChains * 2 * static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
}

float FmaLoopF32Impl(int64_t iterations, float seed) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.9999f);
  const auto c = hn::Set(d, 1e-5f);
  // Distinct starting values keep the chains from being merged.
  auto x0 = hn::Set(d, seed), x1 = hn::Set(d, seed + 0.01f), x2 = hn::Set(d, seed + 0.02f);
  auto x3 = hn::Set(d, seed + 0.03f), x4 = hn::Set(d, seed + 0.04f), x5 = hn::Set(d, seed + 0.05f);
  auto x6 = hn::Set(d, seed + 0.06f), x7 = hn::Set(d, seed + 0.07f), x8 = hn::Set(d, seed + 0.08f);
  auto x9 = hn::Set(d, seed + 0.09f), x10 = hn::Set(d, seed + 0.10f), x11 = hn::Set(d, seed + 0.11f);
  for (int64_t i = 0; i < iterations; ++i) {
    x0 = hn::MulAdd(x0, m, c);
    x1 = hn::MulAdd(x1, m, c);
    x2 = hn::MulAdd(x2, m, c);
    x3 = hn::MulAdd(x3, m, c);
    x4 = hn::MulAdd(x4, m, c);
    x5 = hn::MulAdd(x5, m, c);
    x6 = hn::MulAdd(x6, m, c);
    x7 = hn::MulAdd(x7, m, c);
    x8 = hn::MulAdd(x8, m, c);
    x9 = hn::MulAdd(x9, m, c);
    x10 = hn::MulAdd(x10, m, c);
    x11 = hn::MulAdd(x11, m, c);
  }
  const auto sum = hn::Add(hn::Add(hn::Add(hn::Add(x0, x1), hn::Add(x2, x3)), hn::Add(hn::Add(x4, x5), hn::Add(x6, x7))),
                           hn::Add(hn::Add(x8, x9), hn::Add(x10, x11)));
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

void TriadF32Impl(float* HWY_RESTRICT a, const float* HWY_RESTRICT b, const float* HWY_RESTRICT c, float s,
                  size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto vs = hn::Set(d, s);
  for (size_t i = 0; i < n; i += lanes) {
    hn::Store(hn::MulAdd(hn::Load(d, c + i), vs, hn::Load(d, b + i)), d, a + i);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace tessera::runtime
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tessera::runtime {

HWY_EXPORT(DispatchedTargetImpl);
HWY_EXPORT(VectorBytesF32Impl);
HWY_EXPORT(FmaLoopFlopsPerIterationImpl);
HWY_EXPORT(FmaLoopF32Impl);
HWY_EXPORT(TriadF32Impl);

int64_t DispatchedTarget() { return HWY_DYNAMIC_DISPATCH(DispatchedTargetImpl)(); }
size_t VectorBytesF32() { return HWY_DYNAMIC_DISPATCH(VectorBytesF32Impl)(); }
int64_t FmaLoopFlopsPerIteration() { return HWY_DYNAMIC_DISPATCH(FmaLoopFlopsPerIterationImpl)(); }
float FmaLoopF32(int64_t iterations, float seed) { return HWY_DYNAMIC_DISPATCH(FmaLoopF32Impl)(iterations, seed); }
void TriadF32(float* a, const float* b, const float* c, float s, size_t n) {
  HWY_DYNAMIC_DISPATCH(TriadF32Impl)(a, b, c, s, n);
}

}  // namespace tessera::runtime
#endif  // HWY_ONCE
