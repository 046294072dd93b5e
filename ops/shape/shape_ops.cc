// ONNX ops that compute or reinterpret shapes: Shape, Reshape, Unsqueeze,
// Squeeze, Identity, Cast, ConstantOfShape, Expand and Where. All dtypes
// that only move bytes take any element type. Plain C++: each op is a
// memcpy, a strided copy or a per-element conversion; large ones are split
// with ParallelFor in fixed 64 KiB chunks (no reductions, so any split gives
// the same bytes).
//
// Value propagation (runtime/core/op.h): every op here fills the values of
// small integer outputs in InferShapes when its inputs are known, by running
// its own kernel on them (PropagateByRunning); Shape knows its value from
// the input's shape alone. That is what lets Shape -> Gather -> Concat ->
// Reshape chains plan with dynamic dims.
//
// Versions implemented (and the older forms that are not):
//   Shape v1-14 and v15+ (start, end).
//   Reshape v5-13 and v14+ (allowzero). v1-4 took the shape as an attribute.
//   Unsqueeze v1-12 (axes attribute) and v13+ (axes input).
//   Squeeze v1-12 (axes attribute) and v13+ (axes input).
//   Identity v1+. Cast v6+ (v1-5 named the target type by a string).
//   ConstantOfShape v9+, Expand v8+, Where v9+.
// ConstantOfShape: ONNX's `value` attribute is a one-element tensor, a type
// Tessera's schema does not have; a converter writes it as `value_float`
// (f32 output) or `value_int` (i64 output). Neither: f32 zeros, the ONNX
// default.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/elementwise/elementwise.h"
#include "ops/shape/shape_util.h"
#include "runtime/core/op.h"
#include "tessera/half.hpp"

namespace tessera::ops {
namespace {

using shape::CopyGrain;
using shape::KnownInts;
using shape::NormalizeAxes;
using shape::NormalizeAxis;
using shape::Param;
using shape::Product;
using shape::ReadInts;
using shape::SetOutput;

// Copies input 0 to output 0 byte for byte (reshaping ops: the bytes of a
// dense row-major tensor do not change when its dims are regrouped).
Status CopyBytes(KernelContext& ctx, const char* op, const char* in_name) {
  const Tensor* x = ctx.input(0);
  Tensor* y = ctx.output(0);
  TSR_RETURN_IF_ERROR(CheckRunTensor(op, std::string("input '") + in_name + "'", x));
  TSR_RETURN_IF_ERROR(CheckRunTensor(op, "output", y, x->dtype));
  if (y->NumElements() != x->NumElements()) {
    return Error(StatusCode::kInternal, op, ": output ", ShapeToString(y->shape), " and input ",
                 ShapeToString(x->shape), " differ in size");
  }
  if (x->data == y->data || x->NumElements() == 0) return Status::Ok();
  const auto* src = static_cast<const uint8_t*>(x->data);
  auto* dst = static_cast<uint8_t*>(y->data);
  const int64_t bytes = static_cast<int64_t>(x->ByteSize());
  ctx.ParallelFor(bytes, shape::kCopyGrainBytes, [&](int64_t begin, int64_t end) {
    std::memcpy(dst + begin, src + begin, static_cast<size_t>(end - begin));
  });
  return Status::Ok();
}

// The run-time shape must be the planned one: a mismatch means an input
// whose values decide the shape changed between planning and running.
Status CheckPlanned(const char* op, const Shape& expected, const Tensor& y) {
  if (expected != y.shape) {
    return Error(StatusCode::kInternal, op, ": the input values give output shape ", ShapeToString(expected),
                 " at run time, but the plan has ", ShapeToString(y.shape));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Shape (v1-14 whole shape; v15+ dims [start, end) with negative and
// clamped bounds).

struct ShapeRange {
  int64_t begin;
  int64_t end;
};

ShapeRange ShapeSlice(const AttributeMap* attrs, int64_t rank) {
  int64_t start = attrs != nullptr ? attrs->GetInt("start", 0) : 0;
  int64_t end = rank;
  if (attrs != nullptr && attrs->Has("end")) end = attrs->GetInt("end", rank);
  auto clamp = [rank](int64_t v) {
    if (v < 0) v += rank;
    return v < 0 ? 0 : (v > rank ? rank : v);
  };
  start = clamp(start);
  end = clamp(end);
  return {start, end > start ? end : start};
}

class ShapeKernel final : public Kernel {
 public:
  explicit ShapeKernel(AttributeMap attrs) : attrs_(std::move(attrs)) {}
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    if (x == nullptr) return Error(StatusCode::kInvalidArgument, "Shape: input 'data' is missing");
    TSR_RETURN_IF_ERROR(CheckRunTensor("Shape", "output 'shape'", y, DType::kI64));
    const ShapeRange r = ShapeSlice(&attrs_, x->rank());
    if (y->NumElements() != r.end - r.begin) return Error(StatusCode::kInternal, "Shape: output length differs");
    for (int64_t d = r.begin; d < r.end; ++d) y->data_as<int64_t>()[d - r.begin] = x->shape[static_cast<size_t>(d)];
    return Status::Ok();
  }

 private:
  AttributeMap attrs_;
};

Status InferShape(OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  if (!x.has_shape) {
    ctx.outputs[0] = TensorInfo{DType::kI64, {kDynamicDim}, true};
    return Status::Ok();
  }
  const ShapeRange r = ShapeSlice(ctx.attrs, static_cast<int64_t>(x.shape.size()));
  SetOutput(ctx, 0, DType::kI64, {r.end - r.begin});
  bool known = true;
  for (int64_t d = r.begin; d < r.end; ++d) known = known && x.shape[static_cast<size_t>(d)] >= 0;
  if (!known) return Status::Ok();
  if (Tensor* value = ctx.SetOutputValue(0)) {
    for (int64_t d = r.begin; d < r.end; ++d) value->data_as<int64_t>()[d - r.begin] = x.shape[static_cast<size_t>(d)];
  }
  return Status::Ok();
}

OpDef ShapeDef(int32_t since, int32_t until) {
  OpDef def;
  def.op_type = "Shape";
  def.since_version = since;
  def.until_version = until;
  def.inputs = {Param("data")};
  def.outputs = {Param("shape", ParamDef::Presence::kRequired, {DType::kI64})};
  if (since >= 15) {
    def.attributes = {AttrDef{"start", AttrType::kInt, false, Attribute::Int(0)},
                      AttrDef{"end", AttrType::kInt, false, Attribute()}};
  }
  def.infer_shapes = InferShape;
  def.cost = [](const OpContext& ctx) {
    OpCost cost;
    cost.bytes_written = 8.0 * static_cast<double>(NumElements(ctx.outputs[0].shape));
    return cost;
  };
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<ShapeKernel>(ctx.attrs != nullptr ? *ctx.attrs : AttributeMap()));
  };
  return def;
}

// ---------------------------------------------------------------------------
// Reshape: 0 copies the input dim (unless allowzero), -1 is inferred.

// "[5, -1]": the shape input as given (ShapeToString would print -1 as ?).
std::string SpecToString(const std::vector<int64_t>& spec) {
  std::string s = "[";
  for (size_t i = 0; i < spec.size(); ++i) s += (i ? ", " : "") + std::to_string(spec[i]);
  return s + "]";
}

StatusOr<Shape> ReshapeDims(const TensorInfo& data, const std::vector<int64_t>& spec, bool allowzero) {
  Shape out(spec.size(), kDynamicDim);
  int64_t infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const int64_t s = spec[i];
    if (s == -1) {
      if (infer_at >= 0) {
        return Error(StatusCode::kInvalidArgument, "input 'shape' has -1 at both index ", infer_at, " and ", i,
                     "; at most one dim can be inferred");
      }
      infer_at = static_cast<int64_t>(i);
    } else if (s < -1) {
      return Error(StatusCode::kInvalidArgument, "input 'shape' has ", s, " at index ", i,
                   "; dims must be >= -1");
    } else if (s == 0 && !allowzero) {
      if (data.has_shape && i >= data.shape.size()) {
        return Error(StatusCode::kInvalidArgument, "input 'shape' has 0 at index ", i,
                     " (copy the input dim) but input 'data' ", ShapeToString(data.shape), " has only ",
                     data.shape.size(), " dims");
      }
      out[i] = data.has_shape ? data.shape[i] : kDynamicDim;
    } else {
      has_zero = has_zero || s == 0;
      out[i] = s;
    }
  }
  if (allowzero && has_zero && infer_at >= 0) {
    return Error(StatusCode::kInvalidArgument,
                 "input 'shape' has both 0 and -1 with allowzero=1, which ONNX forbids");
  }
  if (!data.has_shape || !IsStatic(data.shape)) return out;
  const int64_t total = NumElements(data.shape);
  // The dims come from input 'shape', any int64 >= 0, so their product is
  // checked before each multiply; a 0 anywhere makes it 0, whatever else.
  bool zero = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (static_cast<int64_t>(i) == infer_at) continue;
    if (out[i] < 0) return out;  // a dim copied from a dynamic input dim
    zero = zero || out[i] == 0;
  }
  int64_t known = zero ? 0 : 1;
  for (size_t i = 0; i < out.size() && !zero; ++i) {
    if (static_cast<int64_t>(i) == infer_at) continue;
    if (known > std::numeric_limits<int64_t>::max() / out[i]) {
      return Error(StatusCode::kInvalidArgument, "cannot reshape input 'data' ", ShapeToString(data.shape), " (",
                   total, " elements) to ", SpecToString(spec), ": its dims multiply past 2^63 - 1");
    }
    known *= out[i];
  }
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) {
      return Error(StatusCode::kInvalidArgument, "cannot reshape input 'data' ", ShapeToString(data.shape), " (",
                   total, " elements) to ", SpecToString(spec), " with -1 inferred");
    }
    out[static_cast<size_t>(infer_at)] = total / known;
  } else if (known != total) {
    return Error(StatusCode::kInvalidArgument, "cannot reshape input 'data' ", ShapeToString(data.shape), " (",
                 total, " elements) to ", SpecToString(spec), " (", known, " elements)");
  }
  return out;
}

class ReshapeKernel final : public Kernel {
 public:
  explicit ReshapeKernel(bool allowzero) : allowzero_(allowzero) {}
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* s = ctx.input(1);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Reshape", "input 'data'", x));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Reshape", "input 'shape'", s, DType::kI64));
    TSR_ASSIGN_OR_RETURN(Shape dims, ReshapeDims(TensorInfo{x->dtype, x->shape, true}, ReadInts(*s), allowzero_));
    TSR_RETURN_IF_ERROR(CheckPlanned("Reshape", dims, *ctx.output(0)));
    return CopyBytes(ctx, "Reshape", "data");
  }

 private:
  bool allowzero_;
};

Status InferReshape(OpContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& shape = ctx.input(1);
  const bool allowzero = ctx.attrs != nullptr && ctx.attrs->GetInt("allowzero", 0) != 0;
  if (shape.has_shape && shape.shape.size() != 1) {
    return Error(StatusCode::kInvalidArgument, "input 'shape' must be 1-D, got ", ShapeToString(shape.shape));
  }
  std::vector<int64_t> spec;
  if (!KnownInts(ctx, 1, &spec)) {
    // Rank from the shape input's length; every dim unknown until planning.
    if (shape.has_shape && shape.shape[0] >= 0 && shape.shape[0] <= shape::kMaxRankFromLength) {
      SetOutput(ctx, 0, data.dtype, Shape(static_cast<size_t>(shape.shape[0]), kDynamicDim));
    } else {
      ctx.outputs[0] = TensorInfo{data.dtype, {}, false};
    }
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(Shape dims, ReshapeDims(data, spec, allowzero));
  SetOutput(ctx, 0, data.dtype, std::move(dims));
  return PropagateByRunning(ctx, ReshapeKernel(allowzero));
}

// ---------------------------------------------------------------------------
// Unsqueeze / Squeeze.

StatusOr<Shape> UnsqueezeDims(const Shape& in, const std::vector<int64_t>& axes) {
  const int64_t out_rank = static_cast<int64_t>(in.size() + axes.size());
  TSR_ASSIGN_OR_RETURN(std::vector<int64_t> norm, NormalizeAxes(axes, out_rank, "'axes'"));
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : norm) inserted[static_cast<size_t>(a)] = true;
  Shape out;
  size_t k = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(inserted[static_cast<size_t>(i)] ? 1 : in[k++]);
  return out;
}

// With axes empty and `all`: every dim of size 1 (all dims must be known).
StatusOr<Shape> SqueezeDims(const Shape& in, const std::vector<int64_t>& axes, bool all) {
  Shape out;
  if (all) {
    for (int64_t d : in) {
      if (d != 1) out.push_back(d);
    }
    return out;
  }
  TSR_ASSIGN_OR_RETURN(std::vector<int64_t> norm, NormalizeAxes(axes, static_cast<int64_t>(in.size()), "'axes'"));
  std::vector<bool> drop(in.size(), false);
  for (int64_t a : norm) {
    const int64_t d = in[static_cast<size_t>(a)];
    if (d >= 0 && d != 1) {
      return Error(StatusCode::kInvalidArgument, "'axes' names axis ", a, " of input 'data' ", ShapeToString(in),
                   ", which has size ", d, ", not 1");
    }
    drop[static_cast<size_t>(a)] = true;
  }
  // A squeezed dim that is still dynamic (at load) must be 1 at run time;
  // the kernel checks it then.
  for (size_t i = 0; i < in.size(); ++i) {
    if (!drop[i]) out.push_back(in[i]);
  }
  return out;
}

enum class AxesFrom { kAttribute, kInput };

class SqueezeKernel final : public Kernel {
 public:
  SqueezeKernel(bool unsqueeze, AxesFrom from, std::vector<int64_t> attr_axes)
      : unsqueeze_(unsqueeze), from_(from), attr_axes_(std::move(attr_axes)) {}
  Status Run(KernelContext& ctx) const override {
    const char* op = unsqueeze_ ? "Unsqueeze" : "Squeeze";
    const Tensor* x = ctx.input(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor(op, "input 'data'", x));
    std::vector<int64_t> axes = attr_axes_;
    if (from_ == AxesFrom::kInput && ctx.input(1) != nullptr) axes = ReadInts(*ctx.input(1));
    StatusOr<Shape> dims = unsqueeze_ ? UnsqueezeDims(x->shape, axes) : SqueezeDims(x->shape, axes, axes.empty());
    if (!dims.ok()) return dims.status().WithContext(op);
    TSR_RETURN_IF_ERROR(CheckPlanned(op, dims.value(), *ctx.output(0)));
    return CopyBytes(ctx, op, "data");
  }

 private:
  bool unsqueeze_;
  AxesFrom from_;
  std::vector<int64_t> attr_axes_;
};

Status InferSqueeze(OpContext& ctx, bool unsqueeze, AxesFrom from) {
  const TensorInfo& data = ctx.input(0);
  std::vector<int64_t> axes;
  bool known = true;
  if (from == AxesFrom::kAttribute) {
    axes = ctx.attrs != nullptr ? ctx.attrs->GetInts("axes") : std::vector<int64_t>();
  } else if (ctx.has_input(1)) {
    known = KnownInts(ctx, 1, &axes);
    if (ctx.input(1).has_shape && ctx.input(1).shape.size() != 1) {
      return Error(StatusCode::kInvalidArgument, "input 'axes' must be 1-D, got ",
                   ShapeToString(ctx.input(1).shape));
    }
  }
  if (unsqueeze && known && axes.empty()) {
    return Error(StatusCode::kInvalidArgument, "'axes' is empty; Unsqueeze needs at least one axis");
  }
  const bool all = !unsqueeze && known && axes.empty();
  if (!known || !data.has_shape || (all && !IsStatic(data.shape))) {
    ctx.outputs[0] = TensorInfo{data.dtype, {}, false};
    if (unsqueeze && known && data.has_shape) {
      SetOutput(ctx, 0, data.dtype, Shape(data.shape.size() + axes.size(), kDynamicDim));
    }
    return Status::Ok();
  }
  StatusOr<Shape> dims = unsqueeze ? UnsqueezeDims(data.shape, axes) : SqueezeDims(data.shape, axes, all);
  TSR_RETURN_IF_ERROR(dims.status());
  SetOutput(ctx, 0, data.dtype, std::move(dims).value());
  return PropagateByRunning(ctx, SqueezeKernel(unsqueeze, from, from == AxesFrom::kAttribute ? axes
                                                                                            : std::vector<int64_t>()));
}

OpDef SqueezeDef(bool unsqueeze, AxesFrom from) {
  OpDef def;
  def.op_type = unsqueeze ? "Unsqueeze" : "Squeeze";
  def.since_version = from == AxesFrom::kAttribute ? 1 : 13;
  def.until_version = from == AxesFrom::kAttribute ? 12 : kMaxOpVersion;
  def.inputs = {Param("data", ParamDef::Presence::kRequired, {}, "T")};
  if (from == AxesFrom::kInput) {
    def.inputs.push_back(Param("axes", unsqueeze ? ParamDef::Presence::kRequired : ParamDef::Presence::kOptional,
                               {DType::kI64}, "", /*needs_value=*/true));
  } else {
    def.attributes = {AttrDef{"axes", AttrType::kInts, unsqueeze, Attribute()}};
  }
  def.outputs = {Param(unsqueeze ? "expanded" : "squeezed", ParamDef::Presence::kRequired, {}, "T")};
  def.infer_shapes = [unsqueeze, from](OpContext& ctx) { return InferSqueeze(ctx, unsqueeze, from); };
  def.create_kernel = [unsqueeze, from](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    std::vector<int64_t> axes;
    if (from == AxesFrom::kAttribute && ctx.attrs != nullptr) axes = ctx.attrs->GetInts("axes");
    return std::unique_ptr<Kernel>(std::make_unique<SqueezeKernel>(unsqueeze, from, std::move(axes)));
  };
  return def;
}

// ---------------------------------------------------------------------------
// Identity.

class IdentityKernel final : public Kernel {
 public:
  Status Run(KernelContext& ctx) const override { return CopyBytes(ctx, "Identity", "input"); }
};

OpDef IdentityDef() {
  OpDef def;
  def.op_type = "Identity";
  def.since_version = 1;
  def.inputs = {Param("input", ParamDef::Presence::kRequired, {}, "T")};
  def.outputs = {Param("output", ParamDef::Presence::kRequired, {}, "T")};
  def.infer_shapes = [](OpContext& ctx) {
    ctx.outputs[0] = ctx.input(0);
    return PropagateByRunning(ctx, IdentityKernel());
  };
  def.create_kernel = [](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<IdentityKernel>());
  };
  return def;
}

// ---------------------------------------------------------------------------
// Cast (v6+). `to` is an ONNX TensorProto.DataType code.
//
// Conversions follow C++ value conversion, with the cases C++ leaves
// undefined pinned down (ONNX leaves them unspecified): float to integer
// truncates toward zero and saturates at the integer type's range, NaN
// gives 0; integer narrowing wraps (two's complement); anything to bool is
// x != 0 (NaN is true); bool is 0 or 1. f16 and bf16 (stored as their
// 16 bits) convert through f32: to them with IEEE round-to-nearest-even
// (overflow to infinity, NaN stays NaN), from them exactly.

StatusOr<DType> DTypeFromOnnx(int64_t code) {
  switch (code) {
    case 1: return DType::kF32;
    case 2: return DType::kU8;
    case 3: return DType::kI8;
    case 6: return DType::kI32;
    case 7: return DType::kI64;
    case 9: return DType::kBool;
    case 10: return DType::kF16;
    case 16: return DType::kBF16;
    default:
      return Error(StatusCode::kUnimplemented, "attribute 'to' is ", code,
                   ", an ONNX type Tessera cannot cast to (supported: 1 float, 2 uint8, 3 int8, 6 int32, "
                   "7 int64, 9 bool, 10 float16, 16 bfloat16)");
  }
}

template <typename To, typename From>
To ConvertValue(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To(0);
    // Saturate. The bounds are powers of two, exact in float: [-2^(b-1),
    // 2^(b-1)) for signed b-bit types, [0, 2^b) for unsigned ones.
    const From lo = static_cast<From>(std::numeric_limits<To>::min());
    const From hi = std::is_signed_v<To> ? -lo : static_cast<From>(std::numeric_limits<To>::max()) + From(1);
    if (v <= lo) return std::numeric_limits<To>::min();
    if (v >= hi) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else if constexpr (std::is_integral_v<To> && std::is_integral_v<From> && !std::is_same_v<From, bool>) {
    // Through the unsigned type: wraps modulo 2^bits, defined in C++17.
    return static_cast<To>(static_cast<std::make_unsigned_t<To>>(static_cast<uint64_t>(v)));
  } else {
    return static_cast<To>(v);
  }
}

template <typename To, typename From>
void ConvertRange(const void* in, void* out, int64_t begin, int64_t end) {
  const From* src = static_cast<const From*>(in);
  To* dst = static_cast<To*>(out);
  for (int64_t i = begin; i < end; ++i) dst[i] = ConvertValue<To, From>(src[i]);
}

template <typename To, bool kBF16>
void ConvertFromHalfRange(const void* in, void* out, int64_t begin, int64_t end) {
  const uint16_t* src = static_cast<const uint16_t*>(in);
  To* dst = static_cast<To*>(out);
  for (int64_t i = begin; i < end; ++i) {
    dst[i] = ConvertValue<To, float>(kBF16 ? BFloat16ToFloat(src[i]) : HalfToFloat(src[i]));
  }
}

template <typename From, bool kBF16>
void ConvertToHalfRange(const void* in, void* out, int64_t begin, int64_t end) {
  const From* src = static_cast<const From*>(in);
  uint16_t* dst = static_cast<uint16_t*>(out);
  for (int64_t i = begin; i < end; ++i) {
    const float f = ConvertValue<float, From>(src[i]);
    dst[i] = kBF16 ? FloatToBFloat16(f) : FloatToHalf(f);
  }
}

template <bool kFromBF16, bool kToBF16>
void ConvertHalfToHalfRange(const void* in, void* out, int64_t begin, int64_t end) {
  const uint16_t* src = static_cast<const uint16_t*>(in);
  uint16_t* dst = static_cast<uint16_t*>(out);
  for (int64_t i = begin; i < end; ++i) {
    const float f = kFromBF16 ? BFloat16ToFloat(src[i]) : HalfToFloat(src[i]);
    dst[i] = kToBF16 ? FloatToBFloat16(f) : FloatToHalf(f);
  }
}

using ConvertFn = void (*)(const void*, void*, int64_t, int64_t);

template <typename To>
ConvertFn PickFrom(DType from) {
  switch (from) {
    case DType::kF32: return &ConvertRange<To, float>;
    case DType::kU8: return &ConvertRange<To, uint8_t>;
    case DType::kI8: return &ConvertRange<To, int8_t>;
    case DType::kI32: return &ConvertRange<To, int32_t>;
    case DType::kI64: return &ConvertRange<To, int64_t>;
    case DType::kBool: return &ConvertRange<To, bool>;
    case DType::kF16: return &ConvertFromHalfRange<To, false>;
    case DType::kBF16: return &ConvertFromHalfRange<To, true>;
    default: return nullptr;
  }
}

template <bool kBF16>
ConvertFn PickToHalf(DType from) {
  switch (from) {
    case DType::kF32: return &ConvertToHalfRange<float, kBF16>;
    case DType::kU8: return &ConvertToHalfRange<uint8_t, kBF16>;
    case DType::kI8: return &ConvertToHalfRange<int8_t, kBF16>;
    case DType::kI32: return &ConvertToHalfRange<int32_t, kBF16>;
    case DType::kI64: return &ConvertToHalfRange<int64_t, kBF16>;
    case DType::kBool: return &ConvertToHalfRange<bool, kBF16>;
    case DType::kF16: return &ConvertHalfToHalfRange<false, kBF16>;
    case DType::kBF16: return &ConvertHalfToHalfRange<true, kBF16>;
    default: return nullptr;
  }
}

ConvertFn PickConvert(DType from, DType to) {
  switch (to) {
    case DType::kF16: return PickToHalf<false>(from);
    case DType::kBF16: return PickToHalf<true>(from);
    case DType::kF32: return PickFrom<float>(from);
    case DType::kU8: return PickFrom<uint8_t>(from);
    case DType::kI8: return PickFrom<int8_t>(from);
    case DType::kI32: return PickFrom<int32_t>(from);
    case DType::kI64: return PickFrom<int64_t>(from);
    case DType::kBool: return PickFrom<bool>(from);
    default: return nullptr;
  }
}

class CastKernel final : public Kernel {
 public:
  explicit CastKernel(DType to) : to_(to) {}
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Cast", "input 'input'", x));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Cast", "output 'output'", y, to_));
    if (y->NumElements() != x->NumElements()) return Error(StatusCode::kInternal, "Cast: output size differs");
    if (x->dtype == to_) return CopyBytes(ctx, "Cast", "input");
    const ConvertFn fn = PickConvert(x->dtype, to_);
    if (fn == nullptr) {
      return Error(StatusCode::kUnimplemented, "Cast: no conversion from ", DTypeName(x->dtype), " to ",
                   DTypeName(to_));
    }
    const void* in = x->data;
    void* out = y->data;
    ctx.ParallelFor(x->NumElements(), CopyGrain(8), [&](int64_t begin, int64_t end) { fn(in, out, begin, end); });
    return Status::Ok();
  }

 private:
  DType to_;
};

const std::vector<DType> kCastTypes = {DType::kF32, DType::kU8,   DType::kI8,  DType::kI32,
                                       DType::kI64, DType::kBool, DType::kF16, DType::kBF16};

OpDef CastDef() {
  OpDef def;
  def.op_type = "Cast";
  def.since_version = 6;
  def.inputs = {Param("input", ParamDef::Presence::kRequired, kCastTypes)};
  def.outputs = {Param("output", ParamDef::Presence::kRequired, kCastTypes)};
  def.attributes = {AttrDef{"to", AttrType::kInt, true, Attribute()},
                    AttrDef{"saturate", AttrType::kInt, false, Attribute::Int(1)}};  // v19, f8 only: no effect
  def.infer_shapes = [](OpContext& ctx) -> Status {
    TSR_ASSIGN_OR_RETURN(const DType to, DTypeFromOnnx(ctx.attrs->GetInt("to", 0)));
    ctx.outputs[0] = ctx.input(0);
    ctx.outputs[0].dtype = to;
    return PropagateByRunning(ctx, CastKernel(to));
  };
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    TSR_ASSIGN_OR_RETURN(const DType to, DTypeFromOnnx(ctx.attrs->GetInt("to", 0)));
    return std::unique_ptr<Kernel>(std::make_unique<CastKernel>(to));
  };
  return def;
}

// ---------------------------------------------------------------------------
// ConstantOfShape (v9+).

StatusOr<Shape> DimsFromValues(const std::vector<int64_t>& values, const char* input) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0) {
      return Error(StatusCode::kInvalidArgument, "input '", input, "' has ", values[i], " at index ", i,
                   "; dims must be >= 0");
    }
  }
  Shape dims(values.begin(), values.end());
  TSR_RETURN_IF_ERROR(CheckedNumElements(dims).status());
  return dims;
}

class ConstantOfShapeKernel final : public Kernel {
 public:
  ConstantOfShapeKernel(DType dtype, float f, int64_t i) : dtype_(dtype), f_(f), i_(i) {}
  Status Run(KernelContext& ctx) const override {
    const Tensor* s = ctx.input(0);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("ConstantOfShape", "input 'input'", s, DType::kI64));
    TSR_RETURN_IF_ERROR(CheckRunTensor("ConstantOfShape", "output 'output'", y, dtype_));
    TSR_ASSIGN_OR_RETURN(Shape dims, DimsFromValues(ReadInts(*s), "input"));
    TSR_RETURN_IF_ERROR(CheckPlanned("ConstantOfShape", dims, *y));
    const int64_t n = y->NumElements();
    if (dtype_ == DType::kF32) {
      float* p = y->data_as<float>();
      const float f = f_;
      ctx.ParallelFor(n, CopyGrain(4), [&](int64_t b, int64_t e) { std::fill(p + b, p + e, f); });
    } else {
      int64_t* p = y->data_as<int64_t>();
      const int64_t i = i_;
      ctx.ParallelFor(n, CopyGrain(8), [&](int64_t b, int64_t e) { std::fill(p + b, p + e, i); });
    }
    return Status::Ok();
  }

 private:
  DType dtype_;
  float f_;
  int64_t i_;
};

struct FillValue {
  DType dtype = DType::kF32;
  float f = 0;
  int64_t i = 0;
};

StatusOr<FillValue> ConstantOfShapeValue(const AttributeMap* attrs) {
  FillValue v;
  const bool has_f = attrs != nullptr && attrs->Has("value_float");
  const bool has_i = attrs != nullptr && attrs->Has("value_int");
  if (has_f && has_i) {
    return Error(StatusCode::kInvalidArgument, "attributes 'value_float' and 'value_int' are both set; give one");
  }
  if (has_f) v.f = attrs->GetFloat("value_float");
  if (has_i) {
    v.dtype = DType::kI64;
    v.i = attrs->GetInt("value_int");
  }
  return v;
}

OpDef ConstantOfShapeDef() {
  OpDef def;
  def.op_type = "ConstantOfShape";
  def.since_version = 9;
  def.inputs = {Param("input", ParamDef::Presence::kRequired, {DType::kI64}, "", /*needs_value=*/true)};
  def.outputs = {Param("output", ParamDef::Presence::kRequired, {DType::kF32, DType::kI64})};
  def.attributes = {AttrDef{"value_float", AttrType::kFloat, false, Attribute()},
                    AttrDef{"value_int", AttrType::kInt, false, Attribute()}};
  def.infer_shapes = [](OpContext& ctx) -> Status {
    TSR_ASSIGN_OR_RETURN(const FillValue v, ConstantOfShapeValue(ctx.attrs));
    const TensorInfo& s = ctx.input(0);
    if (s.has_shape && s.shape.size() != 1) {
      return Error(StatusCode::kInvalidArgument, "input 'input' must be 1-D, got ", ShapeToString(s.shape));
    }
    std::vector<int64_t> values;
    if (!KnownInts(ctx, 0, &values)) {
      if (s.has_shape && s.shape[0] >= 0 && s.shape[0] <= shape::kMaxRankFromLength) {
        SetOutput(ctx, 0, v.dtype, Shape(static_cast<size_t>(s.shape[0]), kDynamicDim));
      } else {
        ctx.outputs[0] = TensorInfo{v.dtype, {}, false};
      }
      return Status::Ok();
    }
    TSR_ASSIGN_OR_RETURN(Shape dims, DimsFromValues(values, "input"));
    SetOutput(ctx, 0, v.dtype, std::move(dims));
    return PropagateByRunning(ctx, ConstantOfShapeKernel(v.dtype, v.f, v.i));
  };
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    TSR_ASSIGN_OR_RETURN(const FillValue v, ConstantOfShapeValue(ctx.attrs));
    return std::unique_ptr<Kernel>(std::make_unique<ConstantOfShapeKernel>(v.dtype, v.f, v.i));
  };
  return def;
}

// ---------------------------------------------------------------------------
// Expand (v8+): broadcast the input to `shape` (numpy rules both ways, so
// a 1 in `shape` keeps the input's dim and `shape` may have lower rank).

class ExpandKernel final : public Kernel {
 public:
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* s = ctx.input(1);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Expand", "input 'input'", x));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Expand", "input 'shape'", s, DType::kI64));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Expand", "output 'output'", y, x->dtype));
    TSR_ASSIGN_OR_RETURN(Shape target, DimsFromValues(ReadInts(*s), "shape"));
    StatusOr<Shape> dims = BroadcastShapes(x->shape, target, "input", "shape");
    if (!dims.ok()) return dims.status().WithContext("Expand");
    TSR_RETURN_IF_ERROR(CheckPlanned("Expand", dims.value(), *y));
    if (y->NumElements() == 0) return Status::Ok();
    const std::vector<int64_t> strides = shape::BroadcastStrides(x->shape, y->shape);
    const int64_t inner = y->shape.empty() ? 1 : y->shape.back();
    const int64_t rows = y->NumElements() / inner;
    const size_t elem = DTypeSize(x->dtype);
    const Shape& out_shape = y->shape;
    ctx.ParallelFor(rows, CopyGrain(elem, inner), [&](int64_t b, int64_t e) {
      shape::StridedCopy(x->data, y->data, elem, out_shape, strides, b, e);
    });
    return Status::Ok();
  }
};

Status InferExpand(OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& s = ctx.input(1);
  if (s.has_shape && s.shape.size() != 1) {
    return Error(StatusCode::kInvalidArgument, "input 'shape' must be 1-D, got ", ShapeToString(s.shape));
  }
  std::vector<int64_t> values;
  if (!KnownInts(ctx, 1, &values) || !x.has_shape) {
    ctx.outputs[0] = TensorInfo{x.dtype, {}, false};
    if (x.has_shape && s.has_shape && s.shape[0] >= 0 && s.shape[0] <= shape::kMaxRankFromLength) {
      const size_t rank = std::max(x.shape.size(), static_cast<size_t>(s.shape[0]));
      SetOutput(ctx, 0, x.dtype, Shape(rank, kDynamicDim));
    }
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(Shape target, DimsFromValues(values, "shape"));
  TSR_ASSIGN_OR_RETURN(Shape dims, BroadcastShapes(x.shape, target, "input", "shape"));
  SetOutput(ctx, 0, x.dtype, std::move(dims));
  return PropagateByRunning(ctx, ExpandKernel());
}

// ---------------------------------------------------------------------------
// Where (v9+): output = condition ? X : Y, all three broadcast together.

template <typename T>
void WhereRows(const bool* c, const T* x, const T* y, T* out, const Shape& dims, const std::vector<int64_t>& cs,
               const std::vector<int64_t>& xs, const std::vector<int64_t>& ys, int64_t row_begin, int64_t row_end) {
  const size_t rank = dims.size();
  const int64_t inner = rank == 0 ? 1 : dims[rank - 1];
  std::vector<int64_t> index(rank, 0);
  int64_t oc = 0, ox = 0, oy = 0;
  int64_t rest = row_begin;
  for (size_t k = rank > 0 ? rank - 1 : 0; k-- > 0;) {
    index[k] = rest % dims[k];
    rest /= dims[k];
    oc += index[k] * cs[k];
    ox += index[k] * xs[k];
    oy += index[k] * ys[k];
  }
  const int64_t ic = rank ? cs[rank - 1] : 0, ix = rank ? xs[rank - 1] : 0, iy = rank ? ys[rank - 1] : 0;
  for (int64_t row = row_begin; row < row_end; ++row) {
    T* o = out + row * inner;
    for (int64_t j = 0; j < inner; ++j) o[j] = c[oc + j * ic] ? x[ox + j * ix] : y[oy + j * iy];
    for (size_t k = rank > 0 ? rank - 1 : 0; k-- > 0;) {
      ++index[k];
      oc += cs[k];
      ox += xs[k];
      oy += ys[k];
      if (index[k] < dims[k]) break;
      oc -= index[k] * cs[k];
      ox -= index[k] * xs[k];
      oy -= index[k] * ys[k];
      index[k] = 0;
    }
  }
}

class WhereKernel final : public Kernel {
 public:
  Status Run(KernelContext& ctx) const override {
    const Tensor* c = ctx.input(0);
    const Tensor* x = ctx.input(1);
    const Tensor* y = ctx.input(2);
    Tensor* out = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Where", "input 'condition'", c, DType::kBool));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Where", "input 'X'", x));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Where", "input 'Y'", y, x->dtype));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Where", "output 'output'", out, x->dtype));
    if (out->NumElements() == 0) return Status::Ok();
    const std::vector<int64_t> cs = shape::BroadcastStrides(c->shape, out->shape);
    const std::vector<int64_t> xs = shape::BroadcastStrides(x->shape, out->shape);
    const std::vector<int64_t> ys = shape::BroadcastStrides(y->shape, out->shape);
    const int64_t inner = out->shape.empty() ? 1 : out->shape.back();
    const int64_t rows = out->NumElements() / inner;
    const Shape& dims = out->shape;
    const bool* pc = c->data_as<bool>();
    auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* px = static_cast<const T*>(x->data);
      const T* py = static_cast<const T*>(y->data);
      T* po = static_cast<T*>(out->data);
      ctx.ParallelFor(rows, CopyGrain(sizeof(T), inner),
                      [&](int64_t b, int64_t e) { WhereRows<T>(pc, px, py, po, dims, cs, xs, ys, b, e); });
    };
    switch (DTypeSize(x->dtype)) {
      case 1: run(uint8_t{}); break;
      case 2: run(uint16_t{}); break;
      case 4: run(uint32_t{}); break;
      case 8: run(uint64_t{}); break;
      default: return Error(StatusCode::kUnimplemented, "Where: dtype ", DTypeName(x->dtype));
    }
    return Status::Ok();
  }
};

Status InferWhere(OpContext& ctx) {
  const TensorInfo& c = ctx.input(0);
  const TensorInfo& x = ctx.input(1);
  const TensorInfo& y = ctx.input(2);
  if (!c.has_shape || !x.has_shape || !y.has_shape) {
    ctx.outputs[0] = TensorInfo{x.dtype, {}, false};
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(Shape cx, BroadcastShapes(c.shape, x.shape, "condition", "X"));
  TSR_ASSIGN_OR_RETURN(Shape dims, BroadcastShapes(cx, y.shape, "condition and X", "Y"));
  SetOutput(ctx, 0, x.dtype, std::move(dims));
  return PropagateByRunning(ctx, WhereKernel());
}

OpDef SimpleDef(const char* op_type, int32_t since, std::vector<ParamDef> inputs, std::vector<ParamDef> outputs,
                std::function<Status(OpContext&)> infer, std::function<std::unique_ptr<Kernel>()> make) {
  OpDef def;
  def.op_type = op_type;
  def.since_version = since;
  def.inputs = std::move(inputs);
  def.outputs = std::move(outputs);
  def.infer_shapes = std::move(infer);
  def.create_kernel = [make](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> { return make(); };
  return def;
}

OpDef ReshapeDef(bool v14) {
  OpDef def;
  def.op_type = "Reshape";
  def.since_version = v14 ? 14 : 5;
  def.until_version = v14 ? kMaxOpVersion : 13;
  def.inputs = {Param("data", ParamDef::Presence::kRequired, {}, "T"),
                Param("shape", ParamDef::Presence::kRequired, {DType::kI64}, "", /*needs_value=*/true)};
  def.outputs = {Param("reshaped", ParamDef::Presence::kRequired, {}, "T")};
  if (v14) def.attributes = {AttrDef{"allowzero", AttrType::kInt, false, Attribute::Int(0)}};
  def.infer_shapes = InferReshape;
  def.cost = [](const OpContext& ctx) {
    OpCost cost;
    const TensorInfo& out = ctx.outputs[0];
    if (out.has_shape && IsStatic(out.shape)) {
      cost.bytes_read = cost.bytes_written = static_cast<double>(NumElements(out.shape) * DTypeSize(out.dtype));
    }
    return cost;
  };
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    const bool allowzero = ctx.attrs != nullptr && ctx.attrs->GetInt("allowzero", 0) != 0;
    return std::unique_ptr<Kernel>(std::make_unique<ReshapeKernel>(allowzero));
  };
  return def;
}

}  // namespace

Status RegisterShapeOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(registrar.Register(ShapeDef(1, 14)));
  TSR_RETURN_IF_ERROR(registrar.Register(ShapeDef(15, kMaxOpVersion)));
  TSR_RETURN_IF_ERROR(registrar.Register(ReshapeDef(false)));
  TSR_RETURN_IF_ERROR(registrar.Register(ReshapeDef(true)));
  TSR_RETURN_IF_ERROR(registrar.Register(SqueezeDef(true, AxesFrom::kAttribute)));
  TSR_RETURN_IF_ERROR(registrar.Register(SqueezeDef(true, AxesFrom::kInput)));
  TSR_RETURN_IF_ERROR(registrar.Register(SqueezeDef(false, AxesFrom::kAttribute)));
  TSR_RETURN_IF_ERROR(registrar.Register(SqueezeDef(false, AxesFrom::kInput)));
  TSR_RETURN_IF_ERROR(registrar.Register(IdentityDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(CastDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(ConstantOfShapeDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(SimpleDef(
      "Expand", 8,
      {Param("input", ParamDef::Presence::kRequired, {}, "T"),
       Param("shape", ParamDef::Presence::kRequired, {DType::kI64}, "", /*needs_value=*/true)},
      {Param("output", ParamDef::Presence::kRequired, {}, "T")}, InferExpand,
      [] { return std::unique_ptr<Kernel>(std::make_unique<ExpandKernel>()); })));
  TSR_RETURN_IF_ERROR(registrar.Register(SimpleDef(
      "Where", 9,
      {Param("condition", ParamDef::Presence::kRequired, {DType::kBool}),
       Param("X", ParamDef::Presence::kRequired, {}, "T"), Param("Y", ParamDef::Presence::kRequired, {}, "T")},
      {Param("output", ParamDef::Presence::kRequired, {}, "T")}, InferWhere,
      [] { return std::unique_ptr<Kernel>(std::make_unique<WhereKernel>()); })));
  return Status::Ok();
}

}  // namespace tessera::ops
