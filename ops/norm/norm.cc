// Per-target entry points of the norm family and their dispatchers. The
// maths, layout, tail contract and partitioning rule are described at the
// top of norm-inl.h.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/norm/norm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/norm/norm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

void LayerNormRowsF32Kernel(const float* x, const float* scale, const float* bias, float epsilon, float* y,
                            float* mean_out, float* inv_out, int64_t cols, int64_t row_begin, int64_t row_end) {
  LayerNormRowsF32Impl(x, scale, bias, epsilon, y, mean_out, inv_out, cols, row_begin, row_end);
}

void MeanRowsF32Kernel(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end) {
  MeanRowsF32Impl(in, out, cols, row_begin, row_end);
}

void MeanStridedF32Kernel(const float* in, float* out, int64_t len, int64_t inner, int64_t unit_begin,
                          int64_t unit_end) {
  MeanStridedF32Impl(in, out, len, inner, unit_begin, unit_end);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

namespace tessera::ops {

HWY_EXPORT(LayerNormRowsF32Kernel);
HWY_EXPORT(MeanRowsF32Kernel);
HWY_EXPORT(MeanStridedF32Kernel);

void LayerNormRowsF32(const float* x, const float* scale, const float* bias, float epsilon, float* y,
                      float* mean_out, float* inv_std_dev_out, int64_t cols, int64_t row_begin, int64_t row_end) {
  HWY_DYNAMIC_DISPATCH(LayerNormRowsF32Kernel)(x, scale, bias, epsilon, y, mean_out, inv_std_dev_out, cols, row_begin,
                                               row_end);
}

void MeanRowsF32(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end) {
  HWY_DYNAMIC_DISPATCH(MeanRowsF32Kernel)(in, out, cols, row_begin, row_end);
}

void MeanStridedF32(const float* in, float* out, int64_t len, int64_t inner, int64_t unit_begin, int64_t unit_end) {
  HWY_DYNAMIC_DISPATCH(MeanStridedF32Kernel)(in, out, len, inner, unit_begin, unit_end);
}

int64_t MeanStridedUnits(int64_t outer, int64_t inner) {
  return outer * ((inner + kMeanColumnBlock - 1) / kMeanColumnBlock);
}

}  // namespace tessera::ops

#endif  // HWY_ONCE
