// Helpers shared by the data-movement ops (ops/shape/*_ops.cc): reading
// integer inputs, normalizing axes, checking run-time tensors, and the
// strided copy loops. Plain C++: these ops move bytes, they do no arithmetic
// that SIMD would speed up beyond what memcpy already does.
#ifndef TESSERA_OPS_SHAPE_SHAPE_UTIL_H_
#define TESSERA_OPS_SHAPE_SHAPE_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/op.h"

namespace tessera::ops::shape {

// Bytes per ParallelFor chunk of copies: 64 KiB moves in a few
// microseconds, well above TBB's ~1 us task overhead, so small tensors stay
// on one thread. Fixed, so chunking never depends on the thread count (and
// copies have no reductions anyway).
inline constexpr int64_t kCopyGrainBytes = 64 * 1024;

// Most dims an output may get from the length of a 1-D input whose values
// are unknown (Reshape's, Expand's and ConstantOfShape's 'shape'). A
// declared length can be up to the element limit (2^34), and Shape(length)
// would allocate that many dims at load; longer gives an unknown rank
// instead (the loader's max_rank, 32 by default, is far below).
inline constexpr int64_t kMaxRankFromLength = 1024;

// The integers of an i32 or i64 tensor (any shape, flattened).
std::vector<int64_t> ReadInts(const Tensor& t);

// A ParamDef in one line (ParamDef has no constructor): the declarations of
// the shape ops list many params with `needs_value` set.
ParamDef Param(const char* name, ParamDef::Presence presence = ParamDef::Presence::kRequired,
               std::vector<DType> dtypes = {}, const char* type_var = "", bool needs_value = false);

// `axis` in [-rank, rank-1] mapped to [0, rank), or an error naming `what`
// (e.g. "attribute 'axis'") with the valid range.
StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, const std::string& what);

// Normalizes a list of axes against `rank`; duplicates are an error.
StatusOr<std::vector<int64_t>> NormalizeAxes(const std::vector<int64_t>& axes, int64_t rank,
                                             const std::string& what);

// The known value of input `i` as integers, or nullptr-equivalent false.
bool KnownInts(const OpContext& ctx, size_t i, std::vector<int64_t>* values);

// Sets output `o` to dtype and shape (has_shape true).
void SetOutput(OpContext& ctx, size_t o, DType dtype, Shape shape);

// Product of shape[begin, end).
int64_t Product(const Shape& shape, size_t begin, size_t end);

// Elements per copy chunk for an element size.
inline int64_t CopyGrain(size_t element_bytes, int64_t elements_per_item = 1) {
  const int64_t item_bytes = static_cast<int64_t>(element_bytes) * (elements_per_item > 0 ? elements_per_item : 1);
  return item_bytes >= kCopyGrainBytes ? 1 : kCopyGrainBytes / (item_bytes > 0 ? item_bytes : 1);
}

// Strided gather: out (contiguous, shape `dims`) receives the element at
// in + sum_k index_k * in_strides[k] (strides in elements, may be 0 for a
// broadcast dim) for every multi-index, for output rows [row_begin,
// row_end) where a row is one index of all but the last dim. Contiguous
// runs (last stride 1) are memcpy'd, broadcast runs (last stride 0) filled.
void StridedCopy(const void* in, void* out, size_t element_bytes, const Shape& dims,
                 const std::vector<int64_t>& in_strides, int64_t row_begin, int64_t row_end);

// Strides of `from` broadcast (numpy rules) to `to`: 0 where `from` has a
// 1 (or is missing) and `to` does not. Requires a broadcastable pair.
std::vector<int64_t> BroadcastStrides(const Shape& from, const Shape& to);

}  // namespace tessera::ops::shape

#endif  // TESSERA_OPS_SHAPE_SHAPE_UTIL_H_
