// Per-target entry points of the softmax family and their dispatchers. The
// maths, layout, tail contract and partitioning rule are described at the
// top of softmax-inl.h.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/softmax/softmax.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/softmax/softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

void SoftmaxRowsF32Kernel(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end) {
  SoftmaxRowsF32Impl(in, out, cols, row_begin, row_end);
}

void SoftmaxStridedF32Kernel(const float* in, float* out, int64_t axis_len, int64_t inner, int64_t unit_begin,
                             int64_t unit_end) {
  SoftmaxStridedF32Impl(in, out, axis_len, inner, unit_begin, unit_end);
}

void LogSoftmaxRowsF32Kernel(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end) {
  LogSoftmaxRowsF32Impl(in, out, cols, row_begin, row_end);
}

void LogSoftmaxStridedF32Kernel(const float* in, float* out, int64_t axis_len, int64_t inner, int64_t unit_begin,
                                int64_t unit_end) {
  LogSoftmaxStridedF32Impl(in, out, axis_len, inner, unit_begin, unit_end);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

namespace tessera::ops {

HWY_EXPORT(SoftmaxRowsF32Kernel);
HWY_EXPORT(SoftmaxStridedF32Kernel);

void SoftmaxRowsF32(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end) {
  HWY_DYNAMIC_DISPATCH(SoftmaxRowsF32Kernel)(in, out, cols, row_begin, row_end);
}

void SoftmaxStridedF32(const float* in, float* out, int64_t axis_len, int64_t inner, int64_t unit_begin,
                       int64_t unit_end) {
  HWY_DYNAMIC_DISPATCH(SoftmaxStridedF32Kernel)(in, out, axis_len, inner, unit_begin, unit_end);
}

HWY_EXPORT(LogSoftmaxRowsF32Kernel);
HWY_EXPORT(LogSoftmaxStridedF32Kernel);

void LogSoftmaxRowsF32(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end) {
  HWY_DYNAMIC_DISPATCH(LogSoftmaxRowsF32Kernel)(in, out, cols, row_begin, row_end);
}

void LogSoftmaxStridedF32(const float* in, float* out, int64_t axis_len, int64_t inner, int64_t unit_begin,
                          int64_t unit_end) {
  HWY_DYNAMIC_DISPATCH(LogSoftmaxStridedF32Kernel)(in, out, axis_len, inner, unit_begin, unit_end);
}

int64_t SoftmaxStridedUnits(int64_t outer, int64_t inner) {
  return outer * ((inner + kSoftmaxColumnBlock - 1) / kSoftmaxColumnBlock);
}

}  // namespace tessera::ops

#endif  // HWY_ONCE
