// ONNX elementwise ops: Add, Sub, Mul, Div (v7+, numpy broadcasting; f32,
// i32, i64) and Relu, Sigmoid, Tanh, Exp (v6+, f32). Declarations, shape
// inference, cost and kernels; the SIMD code is in elementwise-inl.h.
//
// Versions: Add/Sub/Mul/Div v1-6 used a `broadcast`/`axis` attribute scheme
// instead of numpy rules, and Relu/Sigmoid/Tanh/Exp v1-5 a `consumed_inputs`
// attribute; neither legacy form is implemented.
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/elementwise/elementwise.h"
#include "runtime/core/op.h"

namespace tessera::ops {
namespace {

// Chunk sizes for ParallelFor, in elements. Fixed (never from the thread
// count) and multiples of 16 so chunk starts are vector-aligned on every
// target. Arithmetic costs 1 FLOP per element and is memory bound: 16K
// elements (64 KiB of f32 output, ~5 us) is well above TBB's per-task
// overhead of ~1 us, and tensors up to that size stay on one thread. The
// transcendental ops cost ~25 FLOPs per element, so a quarter of that keeps
// tasks of similar duration.
constexpr int64_t kArithmeticGrain = 16384;
constexpr int64_t kTranscendentalGrain = 4096;

// FLOPs per element, counting the operations the vector code executes (a
// fused multiply-add counts 2; compares, selects, clamps, sign tricks and
// int conversions count 0), so GFLOP/s reports are comparable with GEMM's.
// Exp (VecExp): range reduction 1 multiply + 2 FMAs = 5; r^2 1; degree-4
// Estrin P: 4 FMAs + 1 multiply = 9; 1 + r + r^2 P with the carried error:
// 4 adds + 1 FMA = 6; the 2^n scaling 1; total 22. Sigmoid: Exp + add +
// divide + multiply = 25. Tanh (VecTanh): 2|x| 1, range reduction 5, r^2 1,
// P 9, r + r^2 P 2, 2^n 1, 2^n - 1 1, the FMA for m 2, m + 2 1, divide 1 =
// 24. Relu: 1 (its compare, counted like the arithmetic ops so Relu does
// not report as free).
constexpr double kExpFlops = 22;
constexpr double kSigmoidFlops = 25;
constexpr double kTanhFlops = 24;
constexpr double kReluFlops = 1;

// ---------------------------------------------------------------------------
// Binary ops.

template <typename T>
using BinaryFn = void (*)(BinaryOp, const BroadcastPlan&, const T*, const T*, T*, int64_t, int64_t);

// Index of the first zero in b, or -1.
template <typename T>
int64_t FirstZero(const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (b[i] == 0) return i;
  }
  return -1;
}

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(BinaryOp op, DType dtype) : op_(op), dtype_(dtype) {}

  Status Run(KernelContext& ctx) const override {
    const char* name = BinaryOpName(op_);
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    Tensor* c = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor(name, "input 'A'", a, dtype_));
    TSR_RETURN_IF_ERROR(CheckRunTensor(name, "input 'B'", b, dtype_));
    TSR_RETURN_IF_ERROR(CheckRunTensor(name, "output 'C'", c, dtype_));
    StatusOr<BroadcastPlan> plan_or = MakeBroadcastPlan(a->shape, b->shape);
    if (!plan_or.ok()) return plan_or.status().WithContext(name);
    const BroadcastPlan& plan = plan_or.value();
    if (c->NumElements() != plan.num_elements) {
      return Error(StatusCode::kInternal, name, ": output 'C' has shape ", ShapeToString(c->shape),
                   ", but A ", ShapeToString(a->shape), " and B ", ShapeToString(b->shape), " broadcast to ",
                   plan.num_elements, " elements");
    }
    if (plan.num_elements == 0) return Status::Ok();
    switch (dtype_) {
      case DType::kF32:
        return RunTyped<float>(ctx, plan, *a, *b, *c, &BinaryF32);
      case DType::kI32:
        return RunTyped<int32_t>(ctx, plan, *a, *b, *c, &BinaryI32);
      case DType::kI64:
        return RunTyped<int64_t>(ctx, plan, *a, *b, *c, &BinaryI64);
      default:
        return Error(StatusCode::kInternal, name, ": no kernel for dtype ", DTypeName(dtype_));
    }
  }

 private:
  template <typename T>
  Status RunTyped(KernelContext& ctx, const BroadcastPlan& plan, const Tensor& a, const Tensor& b, Tensor& c,
                  BinaryFn<T> fn) const {
    const T* pa = a.data_as<T>();
    const T* pb = b.data_as<T>();
    T* pc = c.data_as<T>();
    if (op_ == BinaryOp::kDiv && !std::is_floating_point<T>::value) {
      // Every element of B reaches the output when the output is non-empty,
      // so a zero anywhere in B is a division by zero.
      const int64_t zero = FirstZero(pb, b.NumElements());
      if (zero >= 0) {
        return Error(StatusCode::kInvalidArgument, "Div: integer division by zero: input 'B' ",
                     ShapeToString(b.shape), " is 0 at flat index ", zero);
      }
    }
    const BinaryOp op = op_;
    ctx.ParallelFor(plan.num_elements, kArithmeticGrain,
                    [&](int64_t begin, int64_t end) { fn(op, plan, pa, pb, pc, begin, end); });
    return Status::Ok();
  }

  BinaryOp op_;
  DType dtype_;
};

Status InferBinary(OpContext& ctx) {
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  TensorInfo& c = ctx.outputs[0];
  c.dtype = a.dtype;
  if (!a.has_shape || !b.has_shape) {
    // The output rank is the larger input rank; unknown if either is.
    c.has_shape = false;
    c.shape.clear();
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(c.shape, BroadcastShapes(a.shape, b.shape, "A", "B"));
  c.has_shape = true;
  return Status::Ok();
}

OpCost BinaryCost(const OpContext& ctx) {
  OpCost cost;
  const double n = KnownElements(ctx.outputs[0]);
  const double size = static_cast<double>(DTypeSize(ctx.outputs[0].dtype));
  cost.flops = n;  // one add, subtract, multiply or divide per output element
  cost.bytes_read = (KnownElements(ctx.input(0)) + KnownElements(ctx.input(1))) * size;
  cost.bytes_written = n * size;
  return cost;
}

OpDef BinaryDef(const char* op_type, BinaryOp op) {
  const std::vector<DType> types = {DType::kF32, DType::kI32, DType::kI64};
  OpDef def;
  def.op_type = op_type;
  def.since_version = 7;
  def.until_version = kMaxOpVersion;
  def.inputs = {ParamDef{"A", ParamDef::Presence::kRequired, types, "T"},
                ParamDef{"B", ParamDef::Presence::kRequired, types, "T"}};
  def.outputs = {ParamDef{"C", ParamDef::Presence::kRequired, types, "T"}};
  // Integer arithmetic on values known before running (shape computations
  // such as batch * heads) is propagated; see runtime/core/op.h.
  def.infer_shapes = [op](OpContext& ctx) -> Status {
    TSR_RETURN_IF_ERROR(InferBinary(ctx));
    return PropagateByRunning(ctx, BinaryKernel(op, ctx.outputs[0].dtype));
  };
  def.cost = BinaryCost;
  def.create_kernel = [op](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<BinaryKernel>(op, ctx.input(0).dtype));
  };
  return def;
}

// ---------------------------------------------------------------------------
// Unary ops.

using UnaryFn = void (*)(const float*, float*, size_t);

class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(const char* name, UnaryFn fn, int64_t grain) : name_(name), fn_(fn), grain_(grain) {}

  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor(name_, "input 'X'", x, DType::kF32));
    TSR_RETURN_IF_ERROR(CheckRunTensor(name_, "output 'Y'", y, DType::kF32));
    const int64_t n = x->NumElements();
    if (y->NumElements() != n) {
      return Error(StatusCode::kInternal, name_, ": output 'Y' has shape ", ShapeToString(y->shape),
                   ", input 'X' has ", ShapeToString(x->shape));
    }
    const float* in = x->data_as<float>();
    float* out = y->data_as<float>();
    const UnaryFn fn = fn_;
    ctx.ParallelFor(n, grain_,
                    [&](int64_t begin, int64_t end) { fn(in + begin, out + begin, static_cast<size_t>(end - begin)); });
    return Status::Ok();
  }

 private:
  const char* name_;
  UnaryFn fn_;
  int64_t grain_;
};

Status InferUnary(OpContext& ctx) {
  ctx.outputs[0] = ctx.input(0);
  return Status::Ok();
}

OpDef UnaryDef(const char* op_type, UnaryFn fn, double flops_per_element, int64_t grain) {
  OpDef def;
  def.op_type = op_type;
  def.since_version = 6;
  def.until_version = kMaxOpVersion;
  def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.infer_shapes = InferUnary;
  def.cost = [flops_per_element](const OpContext& ctx) {
    OpCost cost;
    const double n = KnownElements(ctx.input(0));
    cost.flops = n * flops_per_element;
    cost.bytes_read = n * sizeof(float);
    cost.bytes_written = n * sizeof(float);
    return cost;
  };
  def.create_kernel = [op_type, fn, grain](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<UnaryKernel>(op_type, fn, grain));
  };
  return def;
}

}  // namespace

Status RegisterElementwiseOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(registrar.Register(BinaryDef("Add", BinaryOp::kAdd)));
  TSR_RETURN_IF_ERROR(registrar.Register(BinaryDef("Sub", BinaryOp::kSub)));
  TSR_RETURN_IF_ERROR(registrar.Register(BinaryDef("Mul", BinaryOp::kMul)));
  TSR_RETURN_IF_ERROR(registrar.Register(BinaryDef("Div", BinaryOp::kDiv)));
  TSR_RETURN_IF_ERROR(registrar.Register(UnaryDef("Relu", &ReluF32, kReluFlops, kArithmeticGrain)));
  TSR_RETURN_IF_ERROR(registrar.Register(UnaryDef("Sigmoid", &SigmoidF32, kSigmoidFlops, kTranscendentalGrain)));
  TSR_RETURN_IF_ERROR(registrar.Register(UnaryDef("Tanh", &TanhF32, kTanhFlops, kTranscendentalGrain)));
  TSR_RETURN_IF_ERROR(registrar.Register(UnaryDef("Exp", &ExpF32, kExpFlops, kTranscendentalGrain)));
  return Status::Ok();
}

}  // namespace tessera::ops
