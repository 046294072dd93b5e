// Softmax kernels (f32): y_i = e^(x_i - m) / sum_j e^(x_j - m), m = max_j x_j,
// over contiguous rows or along a strided axis. Each entry point dispatches
// once to the best Highway target (softmax.cc) and handles a range of
// independent work units, so callers split work with ParallelFor and every
// unit is computed whole by one call: results are bitwise independent of the
// split and of the thread count.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_SOFTMAX_SOFTMAX_H_
#define TESSERA_OPS_SOFTMAX_SOFTMAX_H_

#include <cstdint>

namespace tessera::ops {

// Softmax of rows [row_begin, row_end) of a row-major [rows, cols] matrix:
// out[r * cols + j] for j in [0, cols). `in == out` (in place) is allowed;
// otherwise they must not overlap. cols >= 1.
void SoftmaxRowsF32(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end);

// Columns per work unit of SoftmaxStridedF32. 256 floats keep the running
// max and sum of one unit in 2 KiB of stack, and a unit's rows (axis_len x
// 1 KiB) stay in L2 between the kernel's three passes for axis_len up to a
// few hundred.
inline constexpr int64_t kSoftmaxColumnBlock = 256;

// Number of work units of SoftmaxStridedF32 for a [outer, axis_len, inner]
// tensor: one per (outer index, block of kSoftmaxColumnBlock inner columns).
int64_t SoftmaxStridedUnits(int64_t outer, int64_t inner);

// Softmax along the middle axis of a row-major [outer, axis_len, inner]
// tensor (inner > 1: the axis is strided), for work units [unit_begin,
// unit_end). The inner dimension is processed with vectors, so every load
// is contiguous. `in == out` is allowed. axis_len >= 1.
void SoftmaxStridedF32(const float* in, float* out, int64_t axis_len, int64_t inner, int64_t unit_begin,
                       int64_t unit_end);

// LogSoftmax forms of the two kernels above (ONNX LogSoftmax):
// y_i = (x_i - m) - log(sum_j e^(x_j - m)), same layouts, units and
// aliasing rules.
void LogSoftmaxRowsF32(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end);
void LogSoftmaxStridedF32(const float* in, float* out, int64_t axis_len, int64_t inner, int64_t unit_begin,
                          int64_t unit_end);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_SOFTMAX_SOFTMAX_H_
