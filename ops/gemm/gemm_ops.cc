// ONNX MatMul (v1+, f32: numpy matmul semantics, batched with broadcasting
// of the leading dims, 1-D operands promoted and the promoted dim removed
// from the output) and Gemm (v7+, f32: Y = alpha * op(A) * op(B) + beta * C
// with C unidirectionally broadcast to [M, N]; C is required up to v10 and
// optional from v11). Both run on the packed kernel of gemm.h; a constant B
// (the usual weight) is packed once when the kernel is created.
//
// Versions: Gemm v1-6 had a `broadcast` attribute and no numpy rules for C;
// that legacy form is not implemented.
//
// Also Tessera's fused forms, which the graph optimizer
// (graph/passes/optimize.h) makes out of MatMul/Gemm followed by a bias Add
// and an activation, so the GEMM epilogue writes the final values once:
//   tessera.FusedMatMul v1: Y = act(MatMul(A, B) + bias), bias [N] optional
//     (added to every row), attribute activation "" (none), "Relu",
//     "Sigmoid" or "Tanh";
//   tessera.FusedGemm v1: Y = act(Gemm(A, B, C)), Gemm's inputs and
//     attributes plus the same activation attribute.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/elementwise/elementwise.h"
#include "ops/gemm/gemm.h"
#include "runtime/core/op.h"

namespace tessera::ops {
namespace {

// Dims `a` and `b` agree, or one of them is not known yet.
bool DimsAgree(int64_t a, int64_t b) { return a == kDynamicDim || b == kDynamicDim || a == b; }

// The packed form of a B operand: prepacked at kernel creation when B is a
// constant, otherwise packed into scratch for each run.
struct PackedOperand {
  std::vector<PackedBF32View> views;
};

Status PackAtRun(KernelContext& ctx, const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, int64_t count,
                 int64_t batch_stride, PackedOperand& out) {
  const int64_t width = GemmF32PanelWidth();
  const int64_t floats = PackedBF32Floats(k, n, width);
  TSR_ASSIGN_OR_RETURN(void* scratch, ctx.Scratch(static_cast<size_t>(std::max<int64_t>(floats * count, 1)) *
                                                  sizeof(float)));
  float* packed = static_cast<float*>(scratch);
  out.views.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    PackBF32(b + i * batch_stride, ldb, trans_b, k, n, width, packed + i * floats, ctx.runner());
    out.views[static_cast<size_t>(i)] = PackedBF32View{packed + i * floats, k, n, width};
  }
  return Status::Ok();
}

// Views of a prepacked constant when it was packed for the current target.
bool UsePrepacked(const PackedBF32& prepacked, PackedOperand& out) {
  if (prepacked.count() == 0 || prepacked.panel_width() != GemmF32PanelWidth()) return false;
  out.views.resize(static_cast<size_t>(prepacked.count()));
  for (int64_t i = 0; i < prepacked.count(); ++i) out.views[static_cast<size_t>(i)] = prepacked.view(i);
  return true;
}

// The `activation` attribute of the fused ops.
StatusOr<GemmActivation> ActivationOf(const AttributeMap* attrs) {
  const std::string name = attrs != nullptr ? attrs->GetString("activation") : std::string();
  if (name.empty()) return GemmActivation::kNone;
  if (name == "Relu") return GemmActivation::kRelu;
  if (name == "Sigmoid") return GemmActivation::kSigmoid;
  if (name == "Tanh") return GemmActivation::kTanh;
  return Error(StatusCode::kInvalidArgument, "attribute 'activation' is '", name,
               "'; expected \"\" (none), \"Relu\", \"Sigmoid\" or \"Tanh\"");
}

// FLOPs per element of each epilogue activation, as the elementwise ops
// count them.
double ActivationFlops(GemmActivation act) {
  switch (act) {
    case GemmActivation::kRelu: return 1;
    case GemmActivation::kSigmoid: return 25;
    case GemmActivation::kTanh: return 24;
    case GemmActivation::kNone: break;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// MatMul.

// The operands of a MatMul as matrices: A is [batch_a..., m, k], B is
// [batch_b..., k, n] after 1-D promotion.
struct MatMulDims {
  Shape a_batch, b_batch;
  int64_t m = 1, k = 1, n = 1;
  bool a_vector = false, b_vector = false;
};

StatusOr<MatMulDims> SplitMatMul(const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) {
    return Error(StatusCode::kInvalidArgument, "input '", a.empty() ? "A" : "B",
                 "' is a scalar; MatMul needs rank >= 1");
  }
  MatMulDims d;
  d.a_vector = a.size() == 1;
  d.b_vector = b.size() == 1;
  if (d.a_vector) {
    d.m = 1;
    d.k = a[0];
  } else {
    d.a_batch.assign(a.begin(), a.end() - 2);
    d.m = a[a.size() - 2];
    d.k = a[a.size() - 1];
  }
  int64_t kb;
  if (d.b_vector) {
    kb = b[0];
    d.n = 1;
  } else {
    d.b_batch.assign(b.begin(), b.end() - 2);
    kb = b[b.size() - 2];
    d.n = b[b.size() - 1];
  }
  if (!DimsAgree(d.k, kb)) {
    return Error(StatusCode::kInvalidArgument, "input 'A' ", ShapeToString(a), " and input 'B' ", ShapeToString(b),
                 " do not multiply: A has ", d.k, " columns but B has ", kb, " rows");
  }
  if (d.k == kDynamicDim) d.k = kb;
  return d;
}

StatusOr<Shape> MatMulOutputShape(const Shape& a, const Shape& b) {
  TSR_ASSIGN_OR_RETURN(MatMulDims d, SplitMatMul(a, b));
  TSR_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(d.a_batch, d.b_batch, "A", "B"));
  if (!d.a_vector) out.push_back(d.m);
  if (!d.b_vector) out.push_back(d.n);
  return out;
}

Status InferMatMul(OpContext& ctx) {
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  TensorInfo& y = ctx.outputs[0];
  y.dtype = a.dtype;
  if (!a.has_shape || !b.has_shape) {
    y.has_shape = false;
    y.shape.clear();
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(y.shape, MatMulOutputShape(a.shape, b.shape));
  y.has_shape = true;
  return Status::Ok();
}

// FusedMatMul: MatMul's shapes; the bias is [N], N the columns of B (so B
// must not be a vector).
Status InferFusedMatMul(OpContext& ctx) {
  TSR_RETURN_IF_ERROR(ActivationOf(ctx.attrs).status());
  TSR_RETURN_IF_ERROR(InferMatMul(ctx));
  if (!ctx.has_input(2)) return Status::Ok();
  const TensorInfo& b = ctx.input(1);
  const TensorInfo& bias = ctx.input(2);
  if (b.has_shape && b.shape.size() < 2) {
    return Error(StatusCode::kInvalidArgument, "input 'bias' needs a matrix 'B', but 'B' is ",
                 ShapeToString(b.shape));
  }
  if (!bias.has_shape) return Status::Ok();
  const int64_t n = b.has_shape ? b.shape.back() : kDynamicDim;
  if (bias.shape.size() != 1 || !DimsAgree(bias.shape[0], n)) {
    return Error(StatusCode::kInvalidArgument, "input 'bias' ", ShapeToString(bias.shape), " must be [", n,
                 "] (the columns of 'B')");
  }
  return Status::Ok();
}

OpCost MatMulCost(const OpContext& ctx) {
  OpCost cost;
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  const TensorInfo& y = ctx.outputs[0];
  if (!a.has_shape || !b.has_shape || !IsStatic(a.shape) || !IsStatic(b.shape)) return cost;
  StatusOr<MatMulDims> d = SplitMatMul(a.shape, b.shape);
  if (!d.ok()) return cost;
  // Every output element is a length-k dot product: k multiplies, k adds.
  cost.flops = 2.0 * KnownElements(y) * static_cast<double>(d.value().k);
  cost.bytes_read = (KnownElements(a) + KnownElements(b)) * sizeof(float);
  cost.bytes_written = KnownElements(y) * sizeof(float);
  return cost;
}

OpCost FusedMatMulCost(const OpContext& ctx) {
  OpCost cost = MatMulCost(ctx);
  const double outputs = KnownElements(ctx.outputs[0]);
  StatusOr<GemmActivation> act = ActivationOf(ctx.attrs);
  if (act.ok()) cost.flops += outputs * ActivationFlops(act.value());
  if (ctx.has_input(2)) {
    cost.flops += outputs;
    cost.bytes_read += KnownElements(ctx.input(2)) * sizeof(float);
  }
  return cost;
}

// Element strides of `batch` (a leading shape) within the broadcast
// `out_batch`, in matrices: 0 where the dim is broadcast.
std::vector<int64_t> BatchStrides(const Shape& batch, const Shape& out_batch) {
  std::vector<int64_t> strides(out_batch.size(), 0);
  int64_t stride = 1;
  for (size_t i = 0; i < batch.size(); ++i) {
    const size_t src = batch.size() - 1 - i;
    const size_t dst = out_batch.size() - 1 - i;
    strides[dst] = batch[src] == 1 ? 0 : stride;
    stride *= batch[src];
  }
  return strides;
}

// MatMul, and FusedMatMul with its optional bias (input 2) and activation.
class MatMulKernel final : public Kernel {
 public:
  MatMulKernel(PackedBF32 prepacked_b, GemmActivation activation = GemmActivation::kNone)
      : prepacked_b_(std::move(prepacked_b)), activation_(activation) {}

  Status Run(KernelContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* bias = ctx.input(2);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("MatMul", "input 'A'", a, DType::kF32));
    TSR_RETURN_IF_ERROR(CheckRunTensor("MatMul", "input 'B'", b, DType::kF32));
    if (bias != nullptr) TSR_RETURN_IF_ERROR(CheckRunTensor("MatMul", "input 'bias'", bias, DType::kF32));
    if (y == nullptr) return Error(StatusCode::kInvalidArgument, "MatMul: output 'Y' is missing");
    TSR_ASSIGN_OR_RETURN(const MatMulDims d, SplitMatMul(a->shape, b->shape));
    TSR_ASSIGN_OR_RETURN(const Shape out_shape, MatMulOutputShape(a->shape, b->shape));
    if (y->shape != out_shape) {
      return Error(StatusCode::kInternal, "MatMul: output shape ", ShapeToString(y->shape), ", expected ",
                   ShapeToString(out_shape));
    }
    if (bias != nullptr && (d.b_vector || bias->shape != Shape{d.n})) {
      return Error(StatusCode::kInternal, "MatMul: bias shape ", ShapeToString(bias->shape), ", expected [", d.n,
                   "]");
    }
    if (y->NumElements() == 0) return Status::Ok();

    const Shape out_batch(out_shape.begin(), out_shape.end() - (d.a_vector ? 0 : 1) - (d.b_vector ? 0 : 1));
    const int64_t b_count = NumElements(d.b_batch);
    PackedOperand packed;
    if (!UsePrepacked(prepacked_b_, packed)) {
      TSR_RETURN_IF_ERROR(PackAtRun(ctx, b->data_as<float>(), d.n, false, d.k, d.n, b_count, d.k * d.n, packed));
    }

    const std::vector<int64_t> a_strides = BatchStrides(d.a_batch, out_batch);
    const std::vector<int64_t> b_strides = BatchStrides(d.b_batch, out_batch);
    const int64_t count = NumElements(out_batch);
    std::vector<GemmF32Params> params(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      // Decompose the output batch index and map it into A's and B's batch.
      int64_t rest = i, a_index = 0, b_index = 0;
      for (size_t dim = out_batch.size(); dim-- > 0;) {
        const int64_t coord = rest % out_batch[dim];
        rest /= out_batch[dim];
        a_index += coord * a_strides[dim];
        b_index += coord * b_strides[dim];
      }
      GemmF32Params& p = params[static_cast<size_t>(i)];
      p.m = d.m;
      p.n = d.n;
      p.k = d.k;
      p.a = a->data_as<float>() + a_index * d.m * d.k;
      p.lda = std::max<int64_t>(d.k, 1);
      p.b = packed.views[static_cast<size_t>(b_index)];
      if (bias != nullptr) {
        p.c = bias->data_as<float>();
        p.c_stride_m = 0;
        p.c_stride_n = 1;
      }
      p.activation = activation_;
      p.y = y->data_as<float>() + i * d.m * d.n;
      p.ldy = d.n;
    }
    return GemmF32Batch(params.data(), count, ctx.runner());
  }

 private:
  PackedBF32 prepacked_b_;  // empty unless B is a constant
  GemmActivation activation_;
};

StatusOr<std::unique_ptr<Kernel>> CreateMatMul(const OpContext& ctx) {
  PackedBF32 prepacked;
  const Tensor* b = ctx.constant(1);
  // An empty B has nothing to pack, and called without the loader's
  // element limit its other dims may be huge ([0, 2^62, 4]), so k * n
  // could wrap.
  if (b != nullptr && b->dtype == DType::kF32 && !b->shape.empty() && b->NumElements() > 0) {
    const int64_t k = b->shape.size() == 1 ? b->shape[0] : b->shape[b->shape.size() - 2];
    const int64_t n = b->shape.size() == 1 ? 1 : b->shape.back();
    const int64_t count = b->shape.size() <= 2 ? 1 : NumElements(Shape(b->shape.begin(), b->shape.end() - 2));
    TSR_ASSIGN_OR_RETURN(prepacked, PackedBF32::Pack(b->data_as<float>(), n, false, k, n, count, k * n));
  }
  TSR_ASSIGN_OR_RETURN(const GemmActivation act, ActivationOf(ctx.attrs));
  return std::unique_ptr<Kernel>(std::make_unique<MatMulKernel>(std::move(prepacked), act));
}

OpDef MatMulDef() {
  OpDef def;
  def.op_type = "MatMul";
  def.since_version = 1;
  def.until_version = kMaxOpVersion;
  def.inputs = {ParamDef{"A", ParamDef::Presence::kRequired, {DType::kF32}, "T"},
                ParamDef{"B", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.infer_shapes = InferMatMul;
  def.cost = MatMulCost;
  def.create_kernel = CreateMatMul;
  return def;
}

OpDef FusedMatMulDef() {
  OpDef def = MatMulDef();
  def.domain = kTesseraDomain;
  def.op_type = "FusedMatMul";
  def.since_version = 1;
  def.inputs.push_back(ParamDef{"bias", ParamDef::Presence::kOptional, {DType::kF32}, "T"});
  def.attributes = {AttrDef{"activation", AttrType::kString, false, Attribute::String("")}};
  def.infer_shapes = InferFusedMatMul;
  def.cost = FusedMatMulCost;
  return def;
}

// ---------------------------------------------------------------------------
// Gemm.

struct GemmAttrs {
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
  GemmActivation activation = GemmActivation::kNone;  // FusedGemm only
};

GemmAttrs GemmAttrsOf(const OpContext& ctx) {
  GemmAttrs g;
  if (ctx.attrs == nullptr) return g;
  g.alpha = ctx.attrs->GetFloat("alpha", 1.0f);
  g.beta = ctx.attrs->GetFloat("beta", 1.0f);
  g.trans_a = ctx.attrs->GetInt("transA", 0) != 0;
  g.trans_b = ctx.attrs->GetInt("transB", 0) != 0;
  StatusOr<GemmActivation> act = ActivationOf(ctx.attrs);
  if (act.ok()) g.activation = act.value();
  return g;
}

struct GemmDims {
  int64_t m = 0, k = 0, n = 0;
};

StatusOr<GemmDims> GemmDimsOf(const Shape& a, const Shape& b, const GemmAttrs& g) {
  if (a.size() != 2) {
    return Error(StatusCode::kInvalidArgument, "input 'A' ", ShapeToString(a), " has rank ", a.size(),
                 "; Gemm needs 2-D inputs");
  }
  if (b.size() != 2) {
    return Error(StatusCode::kInvalidArgument, "input 'B' ", ShapeToString(b), " has rank ", b.size(),
                 "; Gemm needs 2-D inputs");
  }
  GemmDims d;
  d.m = g.trans_a ? a[1] : a[0];
  d.k = g.trans_a ? a[0] : a[1];
  const int64_t kb = g.trans_b ? b[1] : b[0];
  d.n = g.trans_b ? b[0] : b[1];
  if (!DimsAgree(d.k, kb)) {
    return Error(StatusCode::kInvalidArgument, "input 'A' ", ShapeToString(a), (g.trans_a ? " (transposed)" : ""),
                 " and input 'B' ", ShapeToString(b), (g.trans_b ? " (transposed)" : ""),
                 " do not multiply: op(A) has ", d.k, " columns but op(B) has ", kb, " rows");
  }
  if (d.k == kDynamicDim) d.k = kb;
  return d;
}

// C must broadcast to [m, n] without changing it (ONNX's unidirectional
// broadcasting): rank <= 2, each dim 1 or equal to the output's.
Status CheckGemmBias(const Shape& c, int64_t m, int64_t n) {
  const Shape target = {m, n};
  bool ok = c.size() <= 2;
  for (size_t i = 0; ok && i < c.size(); ++i) {
    const int64_t dim = c[c.size() - 1 - i];
    const int64_t want = target[1 - i];
    ok = dim == 1 || DimsAgree(dim, want);
  }
  if (!ok) {
    return Error(StatusCode::kInvalidArgument, "input 'C' ", ShapeToString(c), " does not broadcast to the output ",
                 ShapeToString(target));
  }
  return Status::Ok();
}

Status InferGemm(OpContext& ctx) {
  TSR_RETURN_IF_ERROR(ActivationOf(ctx.attrs).status());
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  TensorInfo& y = ctx.outputs[0];
  y.dtype = a.dtype;
  y.has_shape = true;  // always 2-D
  GemmDims d{kDynamicDim, kDynamicDim, kDynamicDim};
  const GemmAttrs g = GemmAttrsOf(ctx);
  if (a.has_shape && b.has_shape) {
    TSR_ASSIGN_OR_RETURN(d, GemmDimsOf(a.shape, b.shape, g));
  } else {
    if (a.has_shape && a.shape.size() == 2) d.m = g.trans_a ? a.shape[1] : a.shape[0];
    if (b.has_shape && b.shape.size() == 2) d.n = g.trans_b ? b.shape[0] : b.shape[1];
  }
  y.shape = {d.m, d.n};
  if (ctx.has_input(2) && ctx.input(2).has_shape) TSR_RETURN_IF_ERROR(CheckGemmBias(ctx.input(2).shape, d.m, d.n));
  return Status::Ok();
}

OpCost GemmCost(const OpContext& ctx) {
  OpCost cost;
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  const TensorInfo& y = ctx.outputs[0];
  if (!a.has_shape || !b.has_shape || !IsStatic(a.shape) || !IsStatic(b.shape)) return cost;
  StatusOr<GemmDims> d = GemmDimsOf(a.shape, b.shape, GemmAttrsOf(ctx));
  if (!d.ok()) return cost;
  const double outputs = KnownElements(y);
  // The product, then alpha (1 multiply) and, with C, beta * C + (1 FMA).
  cost.flops = 2.0 * outputs * static_cast<double>(d.value().k) + outputs;
  double read = KnownElements(a) + KnownElements(b);
  if (ctx.has_input(2)) {
    cost.flops += 2.0 * outputs;
    read += KnownElements(ctx.input(2));
  }
  cost.flops += outputs * ActivationFlops(GemmAttrsOf(ctx).activation);
  cost.bytes_read = read * sizeof(float);
  cost.bytes_written = outputs * sizeof(float);
  return cost;
}

class GemmKernel final : public Kernel {
 public:
  GemmKernel(GemmAttrs attrs, PackedBF32 prepacked_b) : attrs_(attrs), prepacked_b_(std::move(prepacked_b)) {}

  Status Run(KernelContext& ctx) const override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* c = ctx.input(2);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Gemm", "input 'A'", a, DType::kF32));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Gemm", "input 'B'", b, DType::kF32));
    if (c != nullptr) TSR_RETURN_IF_ERROR(CheckRunTensor("Gemm", "input 'C'", c, DType::kF32));
    if (y == nullptr) return Error(StatusCode::kInvalidArgument, "Gemm: output 'Y' is missing");
    TSR_ASSIGN_OR_RETURN(const GemmDims d, GemmDimsOf(a->shape, b->shape, attrs_));
    if (y->shape != Shape{d.m, d.n}) {
      return Error(StatusCode::kInternal, "Gemm: output shape ", ShapeToString(y->shape), ", expected ",
                   ShapeToString(Shape{d.m, d.n}));
    }
    if (c != nullptr) TSR_RETURN_IF_ERROR(CheckGemmBias(c->shape, d.m, d.n));
    if (y->NumElements() == 0) return Status::Ok();

    PackedOperand packed;
    if (!UsePrepacked(prepacked_b_, packed)) {
      TSR_RETURN_IF_ERROR(
          PackAtRun(ctx, b->data_as<float>(), b->shape[1], attrs_.trans_b, d.k, d.n, 1, 0, packed));
    }
    GemmF32Params p;
    p.m = d.m;
    p.n = d.n;
    p.k = d.k;
    p.a = a->data_as<float>();
    p.lda = std::max<int64_t>(a->shape[1], 1);
    p.trans_a = attrs_.trans_a;
    p.b = packed.views[0];
    p.alpha = attrs_.alpha;
    if (c != nullptr && c->NumElements() > 0) {
      p.c = c->data_as<float>();
      p.beta = attrs_.beta;
      // Right-aligned dims of C; a dim of 1 (or a missing one) repeats.
      const int64_t cm = c->shape.size() == 2 ? c->shape[0] : 1;
      const int64_t cn = c->shape.empty() ? 1 : c->shape.back();
      p.c_stride_m = cm == 1 ? 0 : cn;
      p.c_stride_n = cn == 1 ? 0 : 1;
    }
    p.activation = attrs_.activation;
    p.y = y->data_as<float>();
    p.ldy = d.n;
    return GemmF32(p, ctx.runner());
  }

 private:
  GemmAttrs attrs_;
  PackedBF32 prepacked_b_;  // empty unless B is a constant
};

StatusOr<std::unique_ptr<Kernel>> CreateGemm(const OpContext& ctx) {
  TSR_RETURN_IF_ERROR(ActivationOf(ctx.attrs).status());
  const GemmAttrs attrs = GemmAttrsOf(ctx);
  PackedBF32 prepacked;
  const Tensor* b = ctx.constant(1);
  // An empty B has nothing to pack; beside its 0 the other dim can be up
  // to INT64_MAX without the loader's element limit, and packing [0, n]
  // rounds n up to whole panels (n + width - 1 wraps) and walks n / width
  // empty panels.
  if (b != nullptr && b->dtype == DType::kF32 && b->shape.size() == 2 && b->NumElements() > 0) {
    const int64_t k = attrs.trans_b ? b->shape[1] : b->shape[0];
    const int64_t n = attrs.trans_b ? b->shape[0] : b->shape[1];
    TSR_ASSIGN_OR_RETURN(prepacked, PackedBF32::Pack(b->data_as<float>(), b->shape[1], attrs.trans_b, k, n));
  }
  return std::unique_ptr<Kernel>(std::make_unique<GemmKernel>(attrs, std::move(prepacked)));
}

OpDef GemmDef(bool bias_optional) {
  OpDef def;
  def.op_type = "Gemm";
  def.since_version = bias_optional ? 11 : 7;
  def.until_version = bias_optional ? kMaxOpVersion : 10;
  const auto c_presence = bias_optional ? ParamDef::Presence::kOptional : ParamDef::Presence::kRequired;
  def.inputs = {ParamDef{"A", ParamDef::Presence::kRequired, {DType::kF32}, "T"},
                ParamDef{"B", ParamDef::Presence::kRequired, {DType::kF32}, "T"},
                ParamDef{"C", c_presence, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.attributes = {AttrDef{"alpha", AttrType::kFloat, false, Attribute::Float(1.0f)},
                    AttrDef{"beta", AttrType::kFloat, false, Attribute::Float(1.0f)},
                    AttrDef{"transA", AttrType::kInt, false, Attribute::Int(0)},
                    AttrDef{"transB", AttrType::kInt, false, Attribute::Int(0)}};
  def.infer_shapes = InferGemm;
  def.cost = GemmCost;
  def.create_kernel = CreateGemm;
  return def;
}

OpDef FusedGemmDef() {
  OpDef def = GemmDef(true);
  def.domain = kTesseraDomain;
  def.op_type = "FusedGemm";
  def.since_version = 1;
  def.attributes.push_back(AttrDef{"activation", AttrType::kString, false, Attribute::String("")});
  return def;
}

}  // namespace

Status RegisterGemmOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(registrar.Register(MatMulDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(GemmDef(false)));
  TSR_RETURN_IF_ERROR(registrar.Register(GemmDef(true)));
  TSR_RETURN_IF_ERROR(registrar.Register(FusedMatMulDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(FusedGemmDef()));
  return Status::Ok();
}

}  // namespace tessera::ops
