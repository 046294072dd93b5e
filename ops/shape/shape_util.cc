#include "ops/shape/shape_util.h"

#include <cstring>
#include <utility>

namespace tessera::ops::shape {

ParamDef Param(const char* name, ParamDef::Presence presence, std::vector<DType> dtypes, const char* type_var,
               bool needs_value) {
  ParamDef p;
  p.name = name;
  p.presence = presence;
  p.dtypes = std::move(dtypes);
  p.type_var = type_var;
  p.needs_value = needs_value;
  return p;
}

std::vector<int64_t> ReadInts(const Tensor& t) {
  const int64_t n = t.NumElements();
  std::vector<int64_t> values(static_cast<size_t>(n));
  if (t.dtype == DType::kI64) {
    // memcpy must not see the null pointers of an empty tensor and vector.
    if (n > 0) std::memcpy(values.data(), t.data, static_cast<size_t>(n) * sizeof(int64_t));
  } else {
    const int32_t* p = t.data_as<int32_t>();
    for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = p[i];
  }
  return values;
}

StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= rank) {
    if (rank == 0) return Error(StatusCode::kInvalidArgument, what, " is ", axis, ", but the tensor is a scalar");
    return Error(StatusCode::kInvalidArgument, what, " is ", axis, ", out of range for rank ", rank, " (valid: ",
                 -rank, " to ", rank - 1, ")");
  }
  return axis < 0 ? axis + rank : axis;
}

StatusOr<std::vector<int64_t>> NormalizeAxes(const std::vector<int64_t>& axes, int64_t rank,
                                             const std::string& what) {
  std::vector<int64_t> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t axis : axes) {
    TSR_ASSIGN_OR_RETURN(const int64_t a, NormalizeAxis(axis, rank, what));
    if (seen[static_cast<size_t>(a)]) {
      return Error(StatusCode::kInvalidArgument, what, " names axis ", a, " more than once");
    }
    seen[static_cast<size_t>(a)] = true;
    out.push_back(a);
  }
  return out;
}

bool KnownInts(const OpContext& ctx, size_t i, std::vector<int64_t>* values) {
  const Tensor* t = ctx.constant(i);
  if (t == nullptr || (t->dtype != DType::kI64 && t->dtype != DType::kI32)) return false;
  *values = ReadInts(*t);
  return true;
}

void SetOutput(OpContext& ctx, size_t o, DType dtype, Shape shape) {
  ctx.outputs[o].dtype = dtype;
  ctx.outputs[o].shape = std::move(shape);
  ctx.outputs[o].has_shape = true;
}

int64_t Product(const Shape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) p *= shape[i];
  return p;
}

namespace {

// n elements from s (every `stride` elements; 0 repeats one) to contiguous
// o, with a typed loop the compiler can unroll (a memcpy of a variable
// element size per element would be a call each).
template <typename T>
void StridedRun(const uint8_t* s, uint8_t* o, int64_t n, int64_t stride) {
  T* out = reinterpret_cast<T*>(o);
  if (stride == 0) {
    T v;
    std::memcpy(&v, s, sizeof(T));
    for (int64_t j = 0; j < n; ++j) out[j] = v;
    return;
  }
  // Signed offsets: a negative stride (Slice with steps < 0) walks back.
  const int64_t step = stride * static_cast<int64_t>(sizeof(T));
  for (int64_t j = 0; j < n; ++j) std::memcpy(&out[j], s + j * step, sizeof(T));
}

}  // namespace

void StridedCopy(const void* in, void* out, size_t element_bytes, const Shape& dims,
                 const std::vector<int64_t>& in_strides, int64_t row_begin, int64_t row_end) {
  const auto* src = static_cast<const uint8_t*>(in);
  auto* dst = static_cast<uint8_t*>(out);
  const size_t rank = dims.size();
  if (rank == 0) {
    if (row_begin < row_end) std::memcpy(dst, src, element_bytes);
    return;
  }
  const int64_t inner = dims[rank - 1];
  const int64_t inner_stride = in_strides[rank - 1];
  if (inner == 0 || row_begin >= row_end) return;
  // Multi-index of the first row (all dims but the last), then an odometer.
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;  // in elements, into `in`
  int64_t rest = row_begin;
  for (size_t k = rank - 1; k-- > 0;) {
    index[k] = rest % dims[k];
    rest /= dims[k];
    offset += index[k] * in_strides[k];
  }
  for (int64_t row = row_begin; row < row_end; ++row) {
    uint8_t* o = dst + static_cast<size_t>(row * inner) * element_bytes;
    // offset and the strides may be negative (Slice with steps < 0), so
    // pointer arithmetic stays signed; a size_t cast would wrap the pointer.
    const uint8_t* s = src + offset * static_cast<int64_t>(element_bytes);
    if (inner_stride == 1) {
      std::memcpy(o, s, static_cast<size_t>(inner) * element_bytes);
    } else {
      switch (element_bytes) {
        case 1: StridedRun<uint8_t>(s, o, inner, inner_stride); break;
        case 2: StridedRun<uint16_t>(s, o, inner, inner_stride); break;
        case 4: StridedRun<uint32_t>(s, o, inner, inner_stride); break;
        case 8: StridedRun<uint64_t>(s, o, inner, inner_stride); break;
        default:
          for (int64_t j = 0; j < inner; ++j) {
            std::memcpy(o + static_cast<size_t>(j) * element_bytes,
                        s + j * inner_stride * static_cast<int64_t>(element_bytes), element_bytes);
          }
      }
    }
    for (size_t k = rank - 1; k-- > 0;) {
      ++index[k];
      offset += in_strides[k];
      if (index[k] < dims[k]) break;
      offset -= index[k] * in_strides[k];
      index[k] = 0;
    }
  }
}

std::vector<int64_t> BroadcastStrides(const Shape& from, const Shape& to) {
  std::vector<int64_t> strides(to.size(), 0);
  const std::vector<int64_t> own = ContiguousStrides(from);
  const size_t shift = to.size() - from.size();
  for (size_t k = 0; k < from.size(); ++k) {
    strides[shift + k] = (from[k] == 1 && to[shift + k] != 1) ? 0 : own[k];
  }
  return strides;
}

}  // namespace tessera::ops::shape
