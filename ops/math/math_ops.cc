// ONNX math ops (f32): Erf (v9+), Sqrt (v6+), Gelu and Pow (v7+).
// Declarations, shape inference, cost and kernels; the SIMD code and its
// error bounds are in math-inl.h.
//
// Versions: Sqrt v1-5 carried a `consumed_inputs` attribute and Pow v1-6 an
// `axis`/`broadcast` scheme instead of numpy broadcasting; neither legacy
// form is implemented.
//
// Gelu became a standard ONNX op only in opset 20. Exporters for older
// opsets emit it decomposed (Div, Erf, Add, Mul) or in the com.microsoft
// domain; Tessera registers Gelu in the ONNX domain for every version (1+)
// with the opset-20 semantics (attribute approximate = "none" | "tanh"), so
// converters can fuse the decomposition into one node whatever opset the
// model declares.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/elementwise/elementwise.h"
#include "ops/math/math.h"
#include "runtime/core/op.h"

namespace tessera::ops {
namespace {

// Elements per ParallelFor chunk (fixed, never from the thread count;
// multiples of 16 so chunks start vector-aligned). Sqrt is one instruction
// per element and memory bound: 16K elements as for the arithmetic ops.
// Erf and Gelu cost ~30-40 FLOPs and Pow ~60 (in double): 4096 and 2048
// elements give tasks of tens of microseconds, far above TBB's ~1 us.
constexpr int64_t kCheapGrain = 16384;
constexpr int64_t kTranscendentalGrain = 4096;
constexpr int64_t kPowGrain = 2048;

// FLOPs per element as the vector code executes them (an FMA counts 2;
// compares, selects, abs and clamps 0), matching elementwise_ops.cc's
// convention. erfc: reciprocal 1 + FMA 2, 9 FMAs 18, z^2 and its FMA
// residual 3, two subtracts 2, Exp 22, multiply 1 = 49; the small-|x|
// series 6 FMAs + 2 multiplies = 14; Erf = 49 + 14 + 1 (1 - erfc) = 64.
// GeluErf: 3 multiplies, 1 add, Erf 64 and the direct erfc 49 = 117 (both
// branches run, as selects). GeluTanh: 4 multiplies, 1 FMA, Sigmoid 25 = 31.
// Pow: Log ~30 and Exp ~30 in double, a multiply and conversions ~ 62.
constexpr double kSqrtFlops = 1;
constexpr double kErfFlops = 64;
constexpr double kGeluErfFlops = 117;
constexpr double kGeluTanhFlops = 31;
constexpr double kPowFlops = 62;

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
    ctx.ParallelFor(n, grain_, [&](int64_t begin, int64_t end) {
      fn(in + begin, out + begin, static_cast<size_t>(end - begin));
    });
    return Status::Ok();
  }

 private:
  const char* name_;
  UnaryFn fn_;
  int64_t grain_;
};

OpCost UnaryCost(const OpContext& ctx, double flops_per_element) {
  OpCost cost;
  const double n = KnownElements(ctx.input(0));
  cost.flops = n * flops_per_element;
  cost.bytes_read = n * sizeof(float);
  cost.bytes_written = n * sizeof(float);
  return cost;
}

OpDef UnaryDef(const char* op_type, int32_t since, UnaryFn fn, double flops, int64_t grain) {
  OpDef def;
  def.op_type = op_type;
  def.since_version = since;
  def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.infer_shapes = [](OpContext& ctx) {
    ctx.outputs[0] = ctx.input(0);
    return Status::Ok();
  };
  def.cost = [flops](const OpContext& ctx) { return UnaryCost(ctx, flops); };
  def.create_kernel = [op_type, fn, grain](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<UnaryKernel>(op_type, fn, grain));
  };
  return def;
}

// Gelu's `approximate` attribute: "none" (erf) or "tanh".
StatusOr<bool> GeluUsesTanh(const AttributeMap* attrs) {
  const std::string mode = attrs != nullptr ? attrs->GetString("approximate", "none") : "none";
  if (mode == "none") return false;
  if (mode == "tanh") return true;
  return Error(StatusCode::kInvalidArgument, "attribute 'approximate' is \"", mode,
               "\", expected \"none\" or \"tanh\"");
}

OpDef GeluDef() {
  OpDef def;
  def.op_type = "Gelu";
  def.since_version = 1;
  def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.attributes = {AttrDef{"approximate", AttrType::kString, false, Attribute::String("none")}};
  def.infer_shapes = [](OpContext& ctx) -> Status {
    TSR_RETURN_IF_ERROR(GeluUsesTanh(ctx.attrs).status());
    ctx.outputs[0] = ctx.input(0);
    return Status::Ok();
  };
  def.cost = [](const OpContext& ctx) {
    StatusOr<bool> tanh = GeluUsesTanh(ctx.attrs);
    return UnaryCost(ctx, tanh.ok() && tanh.value() ? kGeluTanhFlops : kGeluErfFlops);
  };
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    TSR_ASSIGN_OR_RETURN(const bool tanh, GeluUsesTanh(ctx.attrs));
    return std::unique_ptr<Kernel>(
        std::make_unique<UnaryKernel>("Gelu", tanh ? &GeluTanhF32 : &GeluErfF32, kTranscendentalGrain));
  };
  return def;
}

// ---------------------------------------------------------------------------
// Pow (v7+): Z = X ^ Y, numpy broadcasting; X f32, Y f32, i32 or i64.

class PowKernel final : public Kernel {
 public:
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* y = ctx.input(1);
    Tensor* z = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Pow", "input 'X'", x, DType::kF32));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Pow", "input 'Y'", y, DType::kUnknown));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Pow", "output 'Z'", z, DType::kF32));
    StatusOr<BroadcastPlan> plan_or = MakeBroadcastPlan(x->shape, y->shape);
    if (!plan_or.ok()) return plan_or.status().WithContext("Pow");
    const BroadcastPlan& plan = plan_or.value();
    if (z->NumElements() != plan.num_elements) {
      return Error(StatusCode::kInternal, "Pow: output 'Z' has shape ", ShapeToString(z->shape), ", but X ",
                   ShapeToString(x->shape), " and Y ", ShapeToString(y->shape), " broadcast to ",
                   plan.num_elements, " elements");
    }
    if (plan.num_elements == 0) return Status::Ok();
    const float* exponent = y->data_as<float>();
    if (y->dtype != DType::kF32) {
      // Integer exponents as floats (exact up to 2^24; beyond, any finite
      // base other than +-1 and 0 over- or underflows anyway).
      const int64_t n = y->NumElements();
      TSR_ASSIGN_OR_RETURN(void* scratch, ctx.Scratch(static_cast<size_t>(n) * sizeof(float)));
      float* converted = static_cast<float*>(scratch);
      for (int64_t i = 0; i < n; ++i) {
        converted[i] = y->dtype == DType::kI32 ? static_cast<float>(y->data_as<int32_t>()[i])
                                               : static_cast<float>(y->data_as<int64_t>()[i]);
      }
      exponent = converted;
    }
    const float* base = x->data_as<float>();
    float* out = z->data_as<float>();
    ctx.ParallelFor(plan.num_elements, kPowGrain,
                    [&](int64_t begin, int64_t end) { PowF32(plan, base, exponent, out, begin, end); });
    return Status::Ok();
  }
};

OpDef PowDef() {
  OpDef def;
  def.op_type = "Pow";
  def.since_version = 7;
  def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}, "T"},
                ParamDef{"Y", ParamDef::Presence::kRequired, {DType::kF32, DType::kI32, DType::kI64}, "T1"}};
  def.outputs = {ParamDef{"Z", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.infer_shapes = [](OpContext& ctx) -> Status {
    const TensorInfo& x = ctx.input(0);
    const TensorInfo& y = ctx.input(1);
    ctx.outputs[0] = TensorInfo{DType::kF32, {}, false};
    if (!x.has_shape || !y.has_shape) return Status::Ok();
    TSR_ASSIGN_OR_RETURN(ctx.outputs[0].shape, BroadcastShapes(x.shape, y.shape, "X", "Y"));
    ctx.outputs[0].has_shape = true;
    return Status::Ok();
  };
  def.cost = [](const OpContext& ctx) {
    OpCost cost;
    const double n = KnownElements(ctx.outputs[0]);
    cost.flops = n * kPowFlops;
    cost.bytes_read = KnownElements(ctx.input(0)) * sizeof(float) +
                      KnownElements(ctx.input(1)) * static_cast<double>(DTypeSize(ctx.input(1).dtype));
    cost.bytes_written = n * sizeof(float);
    return cost;
  };
  def.create_kernel = [](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<PowKernel>());
  };
  return def;
}

}  // namespace

Status RegisterMathOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(registrar.Register(UnaryDef("Erf", 9, &ErfF32, kErfFlops, kTranscendentalGrain)));
  TSR_RETURN_IF_ERROR(registrar.Register(UnaryDef("Sqrt", 6, &SqrtF32, kSqrtFlops, kCheapGrain)));
  TSR_RETURN_IF_ERROR(registrar.Register(GeluDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(PowDef()));
  return Status::Ok();
}

}  // namespace tessera::ops
