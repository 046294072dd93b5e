// SIMD code of the norm family (ONNX LayerNormalization v17, ReduceMean),
// compiled once per Highway target.
//
// Maths
//   LayerNormalization (ONNX opset 17, stash_type = 1: statistics in f32),
//   per row of n = prod(dims[axis:]) elements:
//     mean = (sum_i x_i) / n;  var = (sum_i (x_i - mean)^2) / n;
//     inv = 1 / sqrt(var + epsilon);  y_i = (x_i - mean) * inv * s_i + b_i.
//   The variance is computed in a second pass over the centred values (not
//   as E[x^2] - mean^2), so it never goes negative and keeps its relative
//   accuracy when |mean| >> stddev. Error (first order, u = 2^-24): the
//   sums of n terms add at most (n - 1) u relative to sum |x_i| (less with
//   several accumulator lanes), so |mean error| <= n u mean|x|, which moves
//   every centred value by that much; inv adds about (n + 3) u relative.
//   The tests derive their tolerance from these terms.
//   ReduceMean: sum / n over the reduced elements (sum in f32, several
//   vector accumulators in the contiguous case, strictly in axis order per
//   column in the strided case), error <= n u * mean|x| + u |mean|.
//
// Layout and passes
//   Contiguous rows: three passes for LayerNorm (sum; centred square sum;
//   normalize and store), one for a row mean, two vector accumulators each.
//   Strided mean ([outer, len, inner], inner > 1): a unit is one outer index
//   and up to kMeanColumnBlock columns; column sums live in a stack array
//   and every load runs along the inner dimension.
//
// Tail contract
//   Nothing outside the tensors is read or written: whole vectors cover the
//   body, one-lane vectors (CappedTag<float, 1>) the rest.
//
// Partitioning
//   A row or a unit is always computed whole by one call and no reduction
//   crosses rows or units, so 1-thread and N-thread results are bitwise
//   equal.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_NORM_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_NORM_NORM_INL_H_
#undef TESSERA_OPS_NORM_NORM_INL_H_
#else
#define TESSERA_OPS_NORM_NORM_INL_H_
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "ops/norm/norm.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// sum_i x[i] over n elements, two vector accumulators plus a one-lane tail.
HWY_INLINE float RowSumF32(const float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  auto s0 = hn::Zero(d);
  auto s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + lanes));
  }
  for (; i + lanes <= n; i += lanes) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  auto tail = hn::Zero(d1);
  for (; i < n; ++i) tail = hn::Add(tail, hn::LoadU(d1, x + i));
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1))) + hn::GetLane(tail);
}

// sum_i (x[i] - mean)^2.
HWY_INLINE float RowCentredSquaresF32(const float* x, float mean, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  const auto vm = hn::Set(d, mean);
  auto s0 = hn::Zero(d);
  auto s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    const auto c0 = hn::Sub(hn::LoadU(d, x + i), vm);
    const auto c1 = hn::Sub(hn::LoadU(d, x + i + lanes), vm);
    s0 = hn::MulAdd(c0, c0, s0);
    s1 = hn::MulAdd(c1, c1, s1);
  }
  for (; i + lanes <= n; i += lanes) {
    const auto c = hn::Sub(hn::LoadU(d, x + i), vm);
    s0 = hn::MulAdd(c, c, s0);
  }
  const auto vm1 = hn::Set(d1, mean);
  auto tail = hn::Zero(d1);
  for (; i < n; ++i) {
    const auto c = hn::Sub(hn::LoadU(d1, x + i), vm1);
    tail = hn::MulAdd(c, c, tail);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1))) + hn::GetLane(tail);
}

// y = (x - mean) * inv * scale + bias for one row (scale/bias may be null).
template <class D>
HWY_INLINE void NormalizeStep(D d, const float* x, const float* scale, const float* bias, float mean, float inv,
                              float* y, size_t i) {
  auto v = hn::Mul(hn::Sub(hn::LoadU(d, x + i), hn::Set(d, mean)), hn::Set(d, inv));
  if (scale != nullptr) v = hn::Mul(v, hn::LoadU(d, scale + i));
  if (bias != nullptr) v = hn::Add(v, hn::LoadU(d, bias + i));
  hn::StoreU(v, d, y + i);
}

HWY_INLINE void LayerNormRowsF32Impl(const float* x, const float* scale, const float* bias, float epsilon, float* y,
                                     float* mean_out, float* inv_out, int64_t cols, int64_t row_begin,
                                     int64_t row_end) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t n = static_cast<size_t>(cols);
  const size_t lanes = hn::Lanes(d);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float mean = RowSumF32(xr, n) / static_cast<float>(cols);
    const float var = RowCentredSquaresF32(xr, mean, n) / static_cast<float>(cols);
    const float inv = 1.0f / std::sqrt(var + epsilon);
    size_t i = 0;
    for (; i + lanes <= n; i += lanes) NormalizeStep(d, xr, scale, bias, mean, inv, yr, i);
    for (; i < n; ++i) NormalizeStep(d1, xr, scale, bias, mean, inv, yr, i);
    if (mean_out != nullptr) mean_out[r] = mean;
    if (inv_out != nullptr) inv_out[r] = inv;
  }
}

HWY_INLINE void MeanRowsF32Impl(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    out[r] = RowSumF32(in + r * cols, static_cast<size_t>(cols)) / static_cast<float>(cols);
  }
}

HWY_INLINE void MeanStridedF32Impl(const float* in, float* out, int64_t len, int64_t inner, int64_t unit_begin,
                                   int64_t unit_end) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  const int64_t blocks = (inner + kMeanColumnBlock - 1) / kMeanColumnBlock;
  HWY_ALIGN float sums[kMeanColumnBlock];
  for (int64_t u = unit_begin; u < unit_end; ++u) {
    const int64_t o = u / blocks;
    const int64_t column = (u % blocks) * kMeanColumnBlock;
    const size_t width = static_cast<size_t>(inner - column < kMeanColumnBlock ? inner - column : kMeanColumnBlock);
    for (size_t j = 0; j < width; ++j) sums[j] = 0.0f;
    for (int64_t a = 0; a < len; ++a) {
      const float* row = in + (o * len + a) * inner + column;
      size_t j = 0;
      for (; j + lanes <= width; j += lanes) {
        hn::Store(hn::Add(hn::Load(d, sums + j), hn::LoadU(d, row + j)), d, sums + j);
      }
      for (; j < width; ++j) hn::StoreU(hn::Add(hn::LoadU(d1, sums + j), hn::LoadU(d1, row + j)), d1, sums + j);
    }
    const float n = static_cast<float>(len);
    float* dst = out + o * inner + column;
    for (size_t j = 0; j < width; ++j) dst[j] = sums[j] / n;
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // TESSERA_OPS_NORM_NORM_INL_H_ toggle guard
