// Normalization and reduction kernels (f32): ONNX LayerNormalization and
// ReduceMean. Each entry point dispatches once to the best Highway target
// (norm.cc) and handles a range of independent work units (rows, or
// strided column blocks), so callers split work with ParallelFor and every
// unit is computed whole by one call: results are bitwise independent of
// the split and the thread count.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_NORM_NORM_H_
#define TESSERA_OPS_NORM_NORM_H_

#include <cstdint>

namespace tessera::ops {

// LayerNorm of rows [row_begin, row_end) of a row-major [rows, cols]
// matrix (cols >= 1):
//   mean = sum(x) / cols, var = sum((x - mean)^2) / cols,
//   inv = 1 / sqrt(var + epsilon), y = (x - mean) * inv * scale + bias.
// `scale` and `bias` have cols elements, or are nullptr (1 and 0).
// `mean_out` / `inv_std_dev_out` (one value per row) may be nullptr.
// `x == y` is allowed.
void LayerNormRowsF32(const float* x, const float* scale, const float* bias, float epsilon, float* y,
                      float* mean_out, float* inv_std_dev_out, int64_t cols, int64_t row_begin, int64_t row_end);

// out[r] = mean of row r of a row-major [rows, cols] matrix, for rows
// [row_begin, row_end). cols == 0 gives NaN (0 / 0), as the mean of nothing.
void MeanRowsF32(const float* in, float* out, int64_t cols, int64_t row_begin, int64_t row_end);

// Columns per work unit of MeanStridedF32 (2 KiB of stack accumulators).
inline constexpr int64_t kMeanColumnBlock = 512;

// Number of work units of MeanStridedF32 for an [outer, len, inner] tensor.
int64_t MeanStridedUnits(int64_t outer, int64_t inner);

// out[o * inner + j] = mean over a of in[(o * len + a) * inner + j]: the
// mean along the middle axis, for work units [unit_begin, unit_end) (one
// outer index and up to kMeanColumnBlock columns each). Loads are
// contiguous along the inner dimension.
void MeanStridedF32(const float* in, float* out, int64_t len, int64_t inner, int64_t unit_begin, int64_t unit_end);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_NORM_NORM_H_
