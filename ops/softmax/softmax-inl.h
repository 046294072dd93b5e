// SIMD code of the softmax family, compiled once per Highway target.
//
// Maths (ONNX Softmax; v13+ along one axis, v1-12 over the flattened
// trailing block, which is the contiguous-row case below):
//   m = max_j x_j;  e_i = exp(x_i - m);  s = sum_j e_j;  y_i = e_i * (1 / s).
// Subtracting the max makes every exponent <= 0, so e_i is in [0, 1] and
// s in [1, n]: no overflow for any finite input, and the row's largest
// element contributes exactly e = 1. exp is VecExp (elementwise-inl.h,
// within 1 ulp). Error of y_i relative to the exact softmax of the
// float inputs, with u = 2^-24 (first order): x_i - m rounds by
// u*|x_i - m|, which exp turns into the same relative error; exp adds 2u;
// the sum of n positive terms adds at most (n - 1)u (less in lanes); the
// reciprocal and the scaling add 2u. So |dy_i| / y_i <= u * (|x_i - m| +
// max_j |x_j - m| + n + 5), the bound the tests check.
// Rows containing NaN or +inf give NaN (as e.g. numpy does); -inf entries
// give 0 when the row has a finite element.
//
// Layout and passes
//   Contiguous rows (the axis is innermost): three passes over each row
//   (max; exp, store and sum; scale), two vector accumulators each.
//   Strided axis ([outer, axis_len, inner], inner > 1): a work unit is one
//   outer index and a block of up to kSoftmaxColumnBlock inner columns. The
//   running max and sum of the block's columns live in stack arrays, and the
//   same three passes walk the axis_len rows of the block with contiguous
//   vector loads along the inner dimension, so nothing is gathered. Each
//   column's sum is accumulated over the axis in order, independent of the
//   vector width.
//
// Tail contract
//   Nothing outside the tensors is read or written. Whole vectors cover the
//   body; the rest uses one-lane vectors (CappedTag<float, 1>) through the
//   same code.
//
// Partitioning
//   Callers split rows (contiguous case) or work units (strided case) into
//   chunks; a row or unit is always computed whole by one call, and no
//   reduction crosses rows or units, so 1-thread and N-thread results are
//   bitwise equal.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_SOFTMAX_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_SOFTMAX_SOFTMAX_INL_H_
#undef TESSERA_OPS_SOFTMAX_SOFTMAX_INL_H_
#else
#define TESSERA_OPS_SOFTMAX_SOFTMAX_INL_H_
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "hwy/highway.h"
#include "ops/elementwise/elementwise-inl.h"
#include "ops/softmax/softmax.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The maximum of n >= 1 contiguous floats (two vector accumulators; max is
// exact, so the order does not matter).
HWY_INLINE float RowMaxF32(const float* in, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  auto max0 = hn::Set(d, -std::numeric_limits<float>::infinity());
  auto max1 = max0;
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    max0 = hn::Max(max0, hn::LoadU(d, in + i));
    max1 = hn::Max(max1, hn::LoadU(d, in + i + lanes));
  }
  for (; i + lanes <= n; i += lanes) max0 = hn::Max(max0, hn::LoadU(d, in + i));
  auto max_1lane = hn::Set(d1, hn::GetLane(hn::MaxOfLanes(d, hn::Max(max0, max1))));
  for (; i < n; ++i) max_1lane = hn::Max(max_1lane, hn::LoadU(d1, in + i));
  return hn::GetLane(max_1lane);
}

// col_max[j] = max over the axis of column j, for `width` columns of a
// strided unit (layout as SoftmaxColumnsF32); col_max is 64-byte aligned.
HWY_INLINE void ColumnMaxF32(const float* in, size_t axis_len, size_t stride, size_t width,
                             float* HWY_RESTRICT col_max) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  size_t j = 0;
  for (; j + lanes <= width; j += lanes) hn::Store(hn::LoadU(d, in + j), d, col_max + j);
  for (; j < width; ++j) hn::StoreU(hn::LoadU(d1, in + j), d1, col_max + j);
  for (size_t a = 1; a < axis_len; ++a) {
    const float* row = in + a * stride;
    for (j = 0; j + lanes <= width; j += lanes) {
      hn::Store(hn::Max(hn::Load(d, col_max + j), hn::LoadU(d, row + j)), d, col_max + j);
    }
    for (; j < width; ++j) {
      hn::StoreU(hn::Max(hn::LoadU(d1, col_max + j), hn::LoadU(d1, row + j)), d1, col_max + j);
    }
  }
}

// Softmax of one contiguous row of n >= 1 elements. in == out is allowed.
HWY_INLINE void SoftmaxRowF32(const float* in, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);

  // Pass 1: the row maximum.
  const float row_max = RowMaxF32(in, n);
  size_t i = 0;

  // Pass 2: e = exp(x - max), stored, and summed.
  const auto vmax = hn::Set(d, row_max);
  auto sum0 = hn::Zero(d);
  auto sum1 = hn::Zero(d);
  i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    const auto e0 = VecExp(d, hn::Sub(hn::LoadU(d, in + i), vmax));
    const auto e1 = VecExp(d, hn::Sub(hn::LoadU(d, in + i + lanes), vmax));
    hn::StoreU(e0, d, out + i);
    hn::StoreU(e1, d, out + i + lanes);
    sum0 = hn::Add(sum0, e0);
    sum1 = hn::Add(sum1, e1);
  }
  for (; i + lanes <= n; i += lanes) {
    const auto e = VecExp(d, hn::Sub(hn::LoadU(d, in + i), vmax));
    hn::StoreU(e, d, out + i);
    sum0 = hn::Add(sum0, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(sum0, sum1)));
  const auto vmax1 = hn::Set(d1, row_max);
  for (; i < n; ++i) {
    const auto e = VecExp(d1, hn::Sub(hn::LoadU(d1, in + i), vmax1));
    hn::StoreU(e, d1, out + i);
    sum += hn::GetLane(e);
  }

  // Pass 3: scale by 1 / sum (one division per row, then multiplies).
  const float inv = 1.0f / sum;
  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, out + i), vinv), d, out + i);
  const auto vinv1 = hn::Set(d1, inv);
  for (; i < n; ++i) hn::StoreU(hn::Mul(hn::LoadU(d1, out + i), vinv1), d1, out + i);
}

HWY_INLINE void SoftmaxRowsF32Impl(const float* in, float* out, int64_t cols, int64_t row_begin,
                                   int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    SoftmaxRowF32(in + r * cols, out + r * cols, static_cast<size_t>(cols));
  }
}

// Softmax along the axis of one work unit: `in` and `out` point at column 0
// of the unit in axis row 0; rows are `stride` floats apart; `width` <=
// kSoftmaxColumnBlock columns; axis_len >= 1. in == out is allowed (each
// element is read before it is overwritten at the same place).
HWY_INLINE void SoftmaxColumnsF32(const float* in, float* out, size_t axis_len, size_t stride, size_t width) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN float col_max[kSoftmaxColumnBlock];
  HWY_ALIGN float col_sum[kSoftmaxColumnBlock];

  // Pass 1: column maxima, starting from row 0.
  ColumnMaxF32(in, axis_len, stride, width, col_max);
  size_t j = 0;

  // Pass 2: e = exp(x - max), stored, and summed down each column.
  for (j = 0; j + lanes <= width; j += lanes) hn::Store(hn::Zero(d), d, col_sum + j);
  for (; j < width; ++j) col_sum[j] = 0.0f;
  for (size_t a = 0; a < axis_len; ++a) {
    const float* row = in + a * stride;
    float* out_row = out + a * stride;
    for (j = 0; j + lanes <= width; j += lanes) {
      const auto e = VecExp(d, hn::Sub(hn::LoadU(d, row + j), hn::Load(d, col_max + j)));
      hn::StoreU(e, d, out_row + j);
      hn::Store(hn::Add(hn::Load(d, col_sum + j), e), d, col_sum + j);
    }
    for (; j < width; ++j) {
      const auto e = VecExp(d1, hn::Sub(hn::LoadU(d1, row + j), hn::LoadU(d1, col_max + j)));
      hn::StoreU(e, d1, out_row + j);
      hn::StoreU(hn::Add(hn::LoadU(d1, col_sum + j), e), d1, col_sum + j);
    }
  }

  // Pass 3: scale each column by 1 / sum (the reciprocals reuse col_sum).
  for (j = 0; j < width; ++j) col_sum[j] = 1.0f / col_sum[j];
  for (size_t a = 0; a < axis_len; ++a) {
    float* out_row = out + a * stride;
    for (j = 0; j + lanes <= width; j += lanes) {
      hn::StoreU(hn::Mul(hn::LoadU(d, out_row + j), hn::Load(d, col_sum + j)), d, out_row + j);
    }
    for (; j < width; ++j) {
      hn::StoreU(hn::Mul(hn::LoadU(d1, out_row + j), hn::LoadU(d1, col_sum + j)), d1, out_row + j);
    }
  }
}

HWY_INLINE void SoftmaxStridedF32Impl(const float* in, float* out, int64_t axis_len, int64_t inner,
                                      int64_t unit_begin, int64_t unit_end) {
  const int64_t blocks = (inner + kSoftmaxColumnBlock - 1) / kSoftmaxColumnBlock;
  for (int64_t u = unit_begin; u < unit_end; ++u) {
    const int64_t outer_index = u / blocks;
    const int64_t column = (u % blocks) * kSoftmaxColumnBlock;
    const int64_t width = inner - column < kSoftmaxColumnBlock ? inner - column : kSoftmaxColumnBlock;
    const int64_t offset = outer_index * axis_len * inner + column;
    SoftmaxColumnsF32(in + offset, out + offset, static_cast<size_t>(axis_len), static_cast<size_t>(inner),
                      static_cast<size_t>(width));
  }
}

// ---------------------------------------------------------------------------
// LogSoftmax: y_i = (x_i - m) - log(sum_j e^(x_j - m)). Same passes as
// above, except that pass 2 only sums (nothing is stored) and pass 3
// subtracts the log-sum instead of scaling. x_i - m is exact when x_i and m
// are within a factor of 2 and otherwise rounds once; log(s) (std::log, 1
// ulp) with s in [1, n] is at most log(n). So |dy_i| <= u (|x_i - m| +
// 2 log(n) + n + 3) (first order), the bound the tests check.

HWY_INLINE void LogSoftmaxRowF32(const float* in, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);

  const float row_max = RowMaxF32(in, n);
  size_t i = 0;

  const auto vmax = hn::Set(d, row_max);
  auto sum0 = hn::Zero(d);
  auto sum1 = hn::Zero(d);
  i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    sum0 = hn::Add(sum0, VecExp(d, hn::Sub(hn::LoadU(d, in + i), vmax)));
    sum1 = hn::Add(sum1, VecExp(d, hn::Sub(hn::LoadU(d, in + i + lanes), vmax)));
  }
  for (; i + lanes <= n; i += lanes) sum0 = hn::Add(sum0, VecExp(d, hn::Sub(hn::LoadU(d, in + i), vmax)));
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(sum0, sum1)));
  const auto vmax1 = hn::Set(d1, row_max);
  for (; i < n; ++i) sum += hn::GetLane(VecExp(d1, hn::Sub(hn::LoadU(d1, in + i), vmax1)));

  const float log_sum = std::log(sum);
  const auto vlog = hn::Set(d, log_sum);
  const auto vlog1 = hn::Set(d1, log_sum);
  i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Sub(hn::Sub(hn::LoadU(d, in + i), vmax), vlog), d, out + i);
  }
  for (; i < n; ++i) hn::StoreU(hn::Sub(hn::Sub(hn::LoadU(d1, in + i), vmax1), vlog1), d1, out + i);
}

HWY_INLINE void LogSoftmaxRowsF32Impl(const float* in, float* out, int64_t cols, int64_t row_begin,
                                      int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    LogSoftmaxRowF32(in + r * cols, out + r * cols, static_cast<size_t>(cols));
  }
}

// LogSoftmax along the axis of one strided work unit (see
// SoftmaxColumnsF32 for the layout). in == out is allowed.
HWY_INLINE void LogSoftmaxColumnsF32(const float* in, float* out, size_t axis_len, size_t stride, size_t width) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN float col_max[kSoftmaxColumnBlock];
  HWY_ALIGN float col_sum[kSoftmaxColumnBlock];

  ColumnMaxF32(in, axis_len, stride, width, col_max);
  size_t j = 0;

  for (j = 0; j < width; ++j) col_sum[j] = 0.0f;
  for (size_t a = 0; a < axis_len; ++a) {
    const float* row = in + a * stride;
    for (j = 0; j + lanes <= width; j += lanes) {
      const auto e = VecExp(d, hn::Sub(hn::LoadU(d, row + j), hn::Load(d, col_max + j)));
      hn::Store(hn::Add(hn::Load(d, col_sum + j), e), d, col_sum + j);
    }
    for (; j < width; ++j) {
      const auto e = VecExp(d1, hn::Sub(hn::LoadU(d1, row + j), hn::LoadU(d1, col_max + j)));
      hn::StoreU(hn::Add(hn::LoadU(d1, col_sum + j), e), d1, col_sum + j);
    }
  }

  for (j = 0; j < width; ++j) col_sum[j] = std::log(col_sum[j]);  // now the log-sums
  for (size_t a = 0; a < axis_len; ++a) {
    const float* row = in + a * stride;
    float* out_row = out + a * stride;
    for (j = 0; j + lanes <= width; j += lanes) {
      const auto centred = hn::Sub(hn::LoadU(d, row + j), hn::Load(d, col_max + j));
      hn::StoreU(hn::Sub(centred, hn::Load(d, col_sum + j)), d, out_row + j);
    }
    for (; j < width; ++j) {
      const auto centred = hn::Sub(hn::LoadU(d1, row + j), hn::LoadU(d1, col_max + j));
      hn::StoreU(hn::Sub(centred, hn::LoadU(d1, col_sum + j)), d1, out_row + j);
    }
  }
}

HWY_INLINE void LogSoftmaxStridedF32Impl(const float* in, float* out, int64_t axis_len, int64_t inner,
                                         int64_t unit_begin, int64_t unit_end) {
  const int64_t blocks = (inner + kSoftmaxColumnBlock - 1) / kSoftmaxColumnBlock;
  for (int64_t u = unit_begin; u < unit_end; ++u) {
    const int64_t outer_index = u / blocks;
    const int64_t column = (u % blocks) * kSoftmaxColumnBlock;
    const int64_t width = inner - column < kSoftmaxColumnBlock ? inner - column : kSoftmaxColumnBlock;
    const int64_t offset = outer_index * axis_len * inner + column;
    LogSoftmaxColumnsF32(in + offset, out + offset, static_cast<size_t>(axis_len), static_cast<size_t>(inner),
                         static_cast<size_t>(width));
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // TESSERA_OPS_SOFTMAX_SOFTMAX_INL_H_ toggle guard
