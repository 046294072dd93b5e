// ONNX Softmax (f32), two definitions:
//   v13+:  softmax along `axis` (default -1), any axis, negative counts from
//          the back; a non-last axis runs as the strided kernel.
//   v1-12: the input is coerced to 2-D [N, D] at `axis` (default 1),
//          N = prod(dims[:axis]), D = prod(dims[axis:]), and softmax runs over
//          each row of D (the whole trailing block, not one axis).
// Both accept axis in [-r, r-1] for rank r, as the ONNX spec states.
// LogSoftmax (log of the above, computed as x - max - log(sum e^(x - max))
// rather than as a log of a softmax, which would lose everything below
// e^-87) has the same two definitions, v1-12 and v13+, and shares the
// kernels' structure. The SIMD code is in softmax-inl.h.
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/softmax/softmax.h"
#include "runtime/core/op.h"

namespace tessera::ops {
namespace {

// Elements per ParallelFor chunk: softmax costs ~26 FLOPs per element, so
// 4096 elements (~115 KFLOP, tens of microseconds) amortise TBB's ~1 us task
// overhead, and tensors up to that size stay on one thread. Rows and
// strided units are never split, so a chunk holds at least one of them.
constexpr int64_t kGrainElements = 4096;

// FLOPs per element: max compare 1, subtract 1, exp 22 (VecExp's
// operations, counted as for the Exp op in elementwise_ops.cc), sum 1,
// scale 1; plus one division per softmax vector, counted separately.
constexpr double kFlopsPerElement = 26;

enum class Semantics { kAxis, kCoerced2D };  // v13+, v1-12

// The axis in [0, rank) or an error naming the attribute and the input.
StatusOr<int64_t> NormalizeAxis(int64_t axis, const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (axis < -rank || axis >= rank) {
    if (rank == 0) {
      return Error(StatusCode::kInvalidArgument, "attribute 'axis' is ", axis,
                   ", but input 'input' is a scalar (rank 0); Softmax needs rank >= 1");
    }
    return Error(StatusCode::kInvalidArgument, "attribute 'axis' is ", axis, ", out of range for input 'input' ",
                 ShapeToString(shape), " of rank ", rank, " (valid: ", -rank, " to ", rank - 1, ")");
  }
  return axis < 0 ? axis + rank : axis;
}

// The node's axis attribute; the declared default fills it in, so the
// fallback only matters for a host that skipped CheckAndFillAttributes.
int64_t AxisAttr(const OpContext& ctx, Semantics semantics) {
  const int64_t fallback = semantics == Semantics::kAxis ? -1 : 1;
  return ctx.attrs != nullptr ? ctx.attrs->GetInt("axis", fallback) : fallback;
}

int64_t Product(const Shape& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(Semantics semantics, int64_t axis, bool log) : semantics_(semantics), axis_(axis), log_(log) {}

  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    if (x == nullptr || y == nullptr) return Error(StatusCode::kInvalidArgument, "Softmax: input or output missing");
    if (x->dtype != DType::kF32 || y->dtype != DType::kF32) {
      return Error(StatusCode::kInvalidArgument, "Softmax: input 'input' has dtype ", DTypeName(x->dtype),
                   ", expected f32");
    }
    if (y->shape != x->shape) {
      return Error(StatusCode::kInternal, "Softmax: output shape ", ShapeToString(y->shape),
                   " differs from input shape ", ShapeToString(x->shape));
    }
    TSR_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(axis_, x->shape));
    if (x->NumElements() == 0) return Status::Ok();
    const float* in = x->data_as<float>();
    float* out = y->data_as<float>();
    const size_t a = static_cast<size_t>(axis);
    const int64_t outer = Product(x->shape, 0, a);
    if (semantics_ == Semantics::kCoerced2D) {
      return RunRows(ctx, in, out, outer, Product(x->shape, a, x->shape.size()));
    }
    const int64_t axis_len = x->shape[a];
    const int64_t inner = Product(x->shape, a + 1, x->shape.size());
    if (inner == 1) return RunRows(ctx, in, out, outer, axis_len);
    const int64_t units = SoftmaxStridedUnits(outer, inner);
    const int64_t unit_elements = axis_len * (inner < kSoftmaxColumnBlock ? inner : kSoftmaxColumnBlock);
    const int64_t grain = unit_elements >= kGrainElements ? 1 : kGrainElements / unit_elements;
    const auto strided = log_ ? &LogSoftmaxStridedF32 : &SoftmaxStridedF32;
    ctx.ParallelFor(units, grain,
                    [&](int64_t begin, int64_t end) { strided(in, out, axis_len, inner, begin, end); });
    return Status::Ok();
  }

 private:
  Status RunRows(KernelContext& ctx, const float* in, float* out, int64_t rows, int64_t cols) const {
    const int64_t grain = cols >= kGrainElements ? 1 : kGrainElements / cols;
    const auto row_fn = log_ ? &LogSoftmaxRowsF32 : &SoftmaxRowsF32;
    ctx.ParallelFor(rows, grain, [&](int64_t begin, int64_t end) { row_fn(in, out, cols, begin, end); });
    return Status::Ok();
  }

  Semantics semantics_;
  int64_t axis_;  // as given; normalized against each run's rank
  bool log_;      // LogSoftmax
};

Status InferSoftmax(OpContext& ctx, Semantics semantics) {
  const TensorInfo& x = ctx.input(0);
  ctx.outputs[0] = x;
  if (!x.has_shape) return Status::Ok();  // rank unknown: the axis is checked at run time
  return NormalizeAxis(AxisAttr(ctx, semantics), x.shape).status();
}

OpCost SoftmaxCost(const OpContext& ctx, Semantics semantics) {
  OpCost cost;
  const TensorInfo& x = ctx.input(0);
  if (!x.has_shape || !IsStatic(x.shape)) return cost;
  const double n = static_cast<double>(NumElements(x.shape));
  StatusOr<int64_t> axis = NormalizeAxis(AxisAttr(ctx, semantics), x.shape);
  double vectors = 0;  // softmax vectors, one division each
  if (axis.ok() && n > 0) {
    const size_t a = static_cast<size_t>(axis.value());
    const double len = static_cast<double>(
        semantics == Semantics::kAxis ? x.shape[a] : Product(x.shape, a, x.shape.size()));
    vectors = n / len;
  }
  cost.flops = n * kFlopsPerElement + vectors;
  // Compulsory traffic: the input once, the output once (the kernel's
  // second and third passes over a row hit cache for all but huge rows).
  cost.bytes_read = n * sizeof(float);
  cost.bytes_written = n * sizeof(float);
  return cost;
}

OpDef SoftmaxDef(Semantics semantics, bool log = false) {
  OpDef def;
  def.op_type = log ? "LogSoftmax" : "Softmax";
  if (semantics == Semantics::kAxis) {
    def.since_version = 13;
    def.until_version = kMaxOpVersion;
  } else {
    def.since_version = 1;
    def.until_version = 12;
  }
  def.inputs = {ParamDef{"input", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"output", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.attributes = {AttrDef{"axis", AttrType::kInt, false,
                            Attribute::Int(semantics == Semantics::kAxis ? -1 : 1)}};
  def.infer_shapes = [semantics](OpContext& ctx) { return InferSoftmax(ctx, semantics); };
  def.cost = [semantics](const OpContext& ctx) { return SoftmaxCost(ctx, semantics); };
  def.create_kernel = [semantics, log](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<SoftmaxKernel>(semantics, AxisAttr(ctx, semantics), log));
  };
  return def;
}

}  // namespace

Status RegisterSoftmaxOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(registrar.Register(SoftmaxDef(Semantics::kCoerced2D)));
  TSR_RETURN_IF_ERROR(registrar.Register(SoftmaxDef(Semantics::kAxis)));
  TSR_RETURN_IF_ERROR(registrar.Register(SoftmaxDef(Semantics::kCoerced2D, /*log=*/true)));
  TSR_RETURN_IF_ERROR(registrar.Register(SoftmaxDef(Semantics::kAxis, /*log=*/true)));
  return Status::Ok();
}

}  // namespace tessera::ops
