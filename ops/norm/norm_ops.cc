// ONNX LayerNormalization (opset 17) and ReduceMean (v1-17 with an `axes`
// attribute, v18+ with an `axes` input), f32. Declarations, shape
// inference, cost and kernels; the SIMD code is in norm-inl.h.
//
// LayerNormalization: axis (default -1), epsilon (default 1e-5), stash_type
// (only 1, f32 statistics, which is also the only value ONNX defines for
// f32 inputs). Scale and B broadcast unidirectionally to X's normalized
// dims [axis:]; the optional outputs Mean and InvStdDev have X's shape with
// dims [axis:] set to 1. ONNX requires Scale; Tessera also accepts it
// omitted (scale 1), a superset that no valid ONNX model notices.
//
// ReduceMean: keepdims (default 1); v18 adds noop_with_empty_axes (default
// 0): with no axes, reduce every dim, or with the flag pass the input
// through. Negative axes (v11+) are accepted for every version.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/norm/norm.h"
#include "ops/shape/shape_util.h"
#include "runtime/core/op.h"

namespace tessera::ops {
namespace {

// Elements per ParallelFor chunk: LayerNorm does ~8 FLOPs per element over
// three passes, a mean 1; 8192 elements (32 KiB, a few microseconds) is
// well above TBB's per-task overhead, so small tensors stay on one thread.
// Rows and units are never split.
constexpr int64_t kGrainElements = 8192;

// LayerNorm FLOPs per element: sum 1; centre and square-accumulate 3;
// normalize (subtract, multiply, scale, bias) 4. Plus a division, a square
// root and a reciprocal per row, counted as 3.
constexpr double kLayerNormFlops = 8;

int64_t GrainFor(int64_t unit_elements) {
  return unit_elements >= kGrainElements ? 1 : kGrainElements / std::max<int64_t>(unit_elements, 1);
}

Status CheckF32(const char* op, const std::string& role, const Tensor* t) {
  return ::tessera::CheckRunTensor(op, role, t, DType::kF32);
}

// ---------------------------------------------------------------------------
// LayerNormalization.

// Checks that `p` (Scale or B) broadcasts unidirectionally to `norm` (X's
// dims [axis:]); unknown dims pass.
Status CheckNormParam(const TensorInfo& p, const Shape& norm, const char* name) {
  if (!p.has_shape) return Status::Ok();
  if (p.shape.size() > norm.size()) {
    return Error(StatusCode::kInvalidArgument, "input '", name, "' ", ShapeToString(p.shape),
                 " has more dims than the normalized dims ", ShapeToString(norm), " of input 'X'");
  }
  const size_t shift = norm.size() - p.shape.size();
  for (size_t k = 0; k < p.shape.size(); ++k) {
    const int64_t a = p.shape[k];
    const int64_t b = norm[shift + k];
    if (a >= 0 && b >= 0 && a != b && a != 1) {
      return Error(StatusCode::kInvalidArgument, "input '", name, "' ", ShapeToString(p.shape),
                   " does not broadcast to the normalized dims ", ShapeToString(norm), " of input 'X' (axis ",
                   shift + k, ": ", a, " vs ", b, ")");
    }
  }
  return Status::Ok();
}

class LayerNormKernel final : public Kernel {
 public:
  LayerNormKernel(int64_t axis, float epsilon) : axis_(axis), epsilon_(epsilon) {}

  Status Run(KernelContext& ctx) const override {
    const char* op = "LayerNormalization";
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckF32(op, "input 'X'", x));
    TSR_RETURN_IF_ERROR(CheckF32(op, "output 'Y'", y));
    TSR_ASSIGN_OR_RETURN(const int64_t axis, shape::NormalizeAxis(axis_, x->rank(), "LayerNormalization: attribute 'axis'"));
    // Before the products: an empty X called without the loader's element
    // limit may have a huge dim beside its 0, e.g. [0, 2^62, 4] with axis 1.
    if (x->NumElements() == 0) return Status::Ok();
    const size_t a = static_cast<size_t>(axis);
    const int64_t rows = shape::Product(x->shape, 0, a);
    const int64_t cols = shape::Product(x->shape, a, x->shape.size());
    const Shape norm(x->shape.begin() + axis, x->shape.end());
    const float* scale = nullptr;
    const float* bias = nullptr;
    TSR_RETURN_IF_ERROR(Param(ctx, 1, "Scale", norm, cols, &scale));
    TSR_RETURN_IF_ERROR(Param(ctx, 2, "B", norm, cols, &bias));
    float* mean = nullptr;
    float* inv = nullptr;
    for (size_t o = 1; o < 3; ++o) {
      Tensor* t = ctx.output(o);
      if (t == nullptr) continue;
      TSR_RETURN_IF_ERROR(CheckF32(op, o == 1 ? "output 'Mean'" : "output 'InvStdDev'", t));
      if (t->NumElements() != rows) return Error(StatusCode::kInternal, op, ": statistics output size differs");
      (o == 1 ? mean : inv) = t->data_as<float>();
    }
    const float* in = x->data_as<float>();
    float* out = y->data_as<float>();
    const float eps = epsilon_;
    ctx.ParallelFor(rows, GrainFor(cols), [&](int64_t begin, int64_t end) {
      LayerNormRowsF32(in, scale, bias, eps, out, mean, inv, cols, begin, end);
    });
    return Status::Ok();
  }

 private:
  // Scale or B as `cols` contiguous floats: the tensor itself when it
  // already has that layout, else broadcast into scratch.
  static Status Param(KernelContext& ctx, size_t i, const char* name, const Shape& norm, int64_t cols,
                      const float** out) {
    const Tensor* p = ctx.input(i);
    if (p == nullptr) return Status::Ok();
    TSR_RETURN_IF_ERROR(CheckF32("LayerNormalization", std::string("input '") + name + "'", p));
    TensorInfo info{p->dtype, p->shape, true};
    Status s = CheckNormParam(info, norm, name);
    if (!s.ok()) return s.WithContext("LayerNormalization");
    if (p->NumElements() == cols) {
      *out = p->data_as<float>();
      return Status::Ok();
    }
    TSR_ASSIGN_OR_RETURN(void* scratch, ctx.Scratch(static_cast<size_t>(cols) * sizeof(float)));
    const Shape dims = norm.empty() ? Shape{1} : norm;
    const int64_t inner = dims.back();
    shape::StridedCopy(p->data, scratch, sizeof(float), dims, shape::BroadcastStrides(p->shape, dims), 0,
                       cols / inner);
    *out = static_cast<const float*>(scratch);
    return Status::Ok();
  }

  int64_t axis_;
  float epsilon_;
};

Status InferLayerNorm(OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  const int64_t stash = ctx.attrs->GetInt("stash_type", 1);
  if (stash != 1) {
    return Error(StatusCode::kUnimplemented, "attribute 'stash_type' is ", stash,
                 "; only 1 (f32 statistics) is implemented");
  }
  ctx.outputs[0] = x;
  for (size_t o = 1; o < ctx.outputs.size(); ++o) ctx.outputs[o] = TensorInfo{DType::kF32, {}, false};
  if (!x.has_shape) return Status::Ok();
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  TSR_ASSIGN_OR_RETURN(const int64_t axis, shape::NormalizeAxis(ctx.attrs->GetInt("axis", -1), rank, "attribute 'axis'"));
  const Shape norm(x.shape.begin() + axis, x.shape.end());
  if (ctx.has_input(1)) TSR_RETURN_IF_ERROR(CheckNormParam(ctx.input(1), norm, "Scale"));
  if (ctx.has_input(2)) TSR_RETURN_IF_ERROR(CheckNormParam(ctx.input(2), norm, "B"));
  Shape stats = x.shape;
  for (size_t k = static_cast<size_t>(axis); k < stats.size(); ++k) stats[k] = 1;
  for (size_t o = 1; o < ctx.outputs.size(); ++o) shape::SetOutput(ctx, o, DType::kF32, stats);
  return Status::Ok();
}

OpDef LayerNormDef() {
  OpDef def;
  def.op_type = "LayerNormalization";
  def.since_version = 17;
  def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}, "T"},
                ParamDef{"Scale", ParamDef::Presence::kOptional, {DType::kF32}, "T"},
                ParamDef{"B", ParamDef::Presence::kOptional, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", ParamDef::Presence::kRequired, {DType::kF32}, "T"},
                 ParamDef{"Mean", ParamDef::Presence::kOptional, {DType::kF32}, "U"},
                 ParamDef{"InvStdDev", ParamDef::Presence::kOptional, {DType::kF32}, "U"}};
  def.attributes = {AttrDef{"axis", AttrType::kInt, false, Attribute::Int(-1)},
                    AttrDef{"epsilon", AttrType::kFloat, false, Attribute::Float(1e-5f)},
                    AttrDef{"stash_type", AttrType::kInt, false, Attribute::Int(1)}};
  def.infer_shapes = InferLayerNorm;
  def.cost = [](const OpContext& ctx) {
    OpCost cost;
    const TensorInfo& x = ctx.input(0);
    if (!x.has_shape || !IsStatic(x.shape)) return cost;
    const double n = static_cast<double>(NumElements(x.shape));
    cost.flops = n * kLayerNormFlops;
    cost.bytes_read = n * sizeof(float);
    cost.bytes_written = n * sizeof(float);
    for (size_t i = 1; i < 3; ++i) {
      if (ctx.has_input(i) && ctx.input(i).has_shape && IsStatic(ctx.input(i).shape)) {
        cost.bytes_read += static_cast<double>(NumElements(ctx.input(i).shape)) * sizeof(float);
      }
    }
    for (size_t o = 1; o < ctx.outputs.size(); ++o) {
      if (ctx.outputs[o].has_shape && IsStatic(ctx.outputs[o].shape)) {
        cost.bytes_written += static_cast<double>(NumElements(ctx.outputs[o].shape)) * sizeof(float);
      }
    }
    return cost;
  };
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    const float eps = ctx.attrs->GetFloat("epsilon", 1e-5f);
    if (!(eps >= 0.0f) || !std::isfinite(eps)) {
      return Error(StatusCode::kInvalidArgument, "attribute 'epsilon' is ", eps, "; it must be finite and >= 0");
    }
    return std::unique_ptr<Kernel>(std::make_unique<LayerNormKernel>(ctx.attrs->GetInt("axis", -1), eps));
  };
  return def;
}

// ---------------------------------------------------------------------------
// ReduceMean.

enum class AxesFrom { kAttribute, kInput };  // v1-17, v18+

// Output dims of reducing `in` over `axes` (normalized, distinct); all
// dims when `axes` is empty and !noop.
struct Reduction {
  std::vector<bool> reduced;  // per input dim
  Shape out;
};

StatusOr<Reduction> PlanReduction(const Shape& in, const std::vector<int64_t>& axes, bool keepdims, bool noop) {
  const int64_t rank = static_cast<int64_t>(in.size());
  Reduction r;
  r.reduced.assign(in.size(), false);
  if (axes.empty()) {
    if (!noop) r.reduced.assign(in.size(), true);
  } else {
    TSR_ASSIGN_OR_RETURN(std::vector<int64_t> norm, shape::NormalizeAxes(axes, rank, "'axes'"));
    for (int64_t a : norm) r.reduced[static_cast<size_t>(a)] = true;
  }
  for (size_t k = 0; k < in.size(); ++k) {
    if (!r.reduced[k]) {
      r.out.push_back(in[k]);
    } else if (keepdims) {
      r.out.push_back(1);
    }
  }
  return r;
}

class ReduceMeanKernel final : public Kernel {
 public:
  ReduceMeanKernel(AxesFrom from, std::vector<int64_t> attr_axes, bool keepdims, bool noop)
      : from_(from), attr_axes_(std::move(attr_axes)), keepdims_(keepdims), noop_(noop) {}

  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckF32("ReduceMean", "input 'data'", x));
    TSR_RETURN_IF_ERROR(CheckF32("ReduceMean", "output 'reduced'", y));
    std::vector<int64_t> axes = attr_axes_;
    if (from_ == AxesFrom::kInput && ctx.input(1) != nullptr) axes = shape::ReadInts(*ctx.input(1));
    StatusOr<Reduction> plan = PlanReduction(x->shape, axes, keepdims_, noop_);
    if (!plan.ok()) return plan.status().WithContext("ReduceMean");
    if (plan.value().out != y->shape) {
      return Error(StatusCode::kInternal, "ReduceMean: the axes give output shape ", ShapeToString(plan.value().out),
                   " at run time, but the plan has ", ShapeToString(y->shape));
    }
    if (y->NumElements() == 0) return Status::Ok();
    float* out = y->data_as<float>();
    // Groups of adjacent dims that are all reduced or all kept, dims of 1
    // dropped (they change no sum). Dims before the first 0 multiply to at
    // most max_tensor_elements (the loader's and the session's limit bounds
    // the product of the nonzero dims), so the groups formed before
    // returning cannot wrap.
    std::vector<std::pair<int64_t, bool>> groups;
    for (size_t k = 0; k < x->shape.size(); ++k) {
      const int64_t d = x->shape[k];
      if (d == 0) {
        // Only a reduced dim can be 0 here (the output is non-empty): the
        // mean of nothing is 0 / 0.
        std::fill(out, out + y->NumElements(), std::numeric_limits<float>::quiet_NaN());
        return Status::Ok();
      }
      if (d == 1) continue;
      if (!groups.empty() && groups.back().second == plan.value().reduced[k]) {
        groups.back().first *= d;
      } else {
        groups.emplace_back(d, plan.value().reduced[k]);
      }
    }
    const float* in = x->data_as<float>();
    const bool any_reduced = std::any_of(groups.begin(), groups.end(), [](const auto& g) { return g.second; });
    if (!any_reduced) {
      std::memcpy(out, in, y->ByteSize());
      return Status::Ok();
    }
    // One pass per reduced group, last first; the mean of equal-sized
    // groups' means is the mean. Intermediates go to scratch.
    int64_t total = x->NumElements();
    while (true) {
      size_t g = groups.size();
      while (g-- > 0 && !groups[g].second) {
      }
      const int64_t len = groups[g].first;
      int64_t outer = 1, inner = 1;
      for (size_t k = 0; k < g; ++k) outer *= groups[k].first;
      for (size_t k = g + 1; k < groups.size(); ++k) inner *= groups[k].first;
      groups.erase(groups.begin() + static_cast<long>(g));
      // Merge the kept neighbours that are now adjacent.
      if (g > 0 && g < groups.size() && groups[g - 1].second == groups[g].second) {
        groups[g - 1].first *= groups[g].first;
        groups.erase(groups.begin() + static_cast<long>(g));
      }
      const bool last = std::none_of(groups.begin(), groups.end(), [](const auto& gr) { return gr.second; });
      float* dst = out;
      if (!last) {
        TSR_ASSIGN_OR_RETURN(void* scratch, ctx.Scratch(static_cast<size_t>(total / len) * sizeof(float)));
        dst = static_cast<float*>(scratch);
      }
      if (inner == 1) {
        ctx.ParallelFor(outer, GrainFor(len),
                        [&](int64_t b, int64_t e) { MeanRowsF32(in, dst, len, b, e); });
      } else {
        const int64_t units = MeanStridedUnits(outer, inner);
        ctx.ParallelFor(units, GrainFor(len * std::min(inner, kMeanColumnBlock)),
                        [&](int64_t b, int64_t e) { MeanStridedF32(in, dst, len, inner, b, e); });
      }
      total /= len;
      in = dst;
      if (last) return Status::Ok();
    }
  }

 private:
  AxesFrom from_;
  std::vector<int64_t> attr_axes_;
  bool keepdims_;
  bool noop_;
};

Status InferReduceMean(OpContext& ctx, AxesFrom from) {
  const TensorInfo& x = ctx.input(0);
  const bool keepdims = ctx.attrs->GetInt("keepdims", 1) != 0;
  const bool noop = ctx.attrs->GetInt("noop_with_empty_axes", 0) != 0;
  std::vector<int64_t> axes;
  bool known = true;
  if (from == AxesFrom::kAttribute) {
    axes = ctx.attrs->GetInts("axes");
  } else if (ctx.has_input(1)) {
    if (ctx.input(1).has_shape && ctx.input(1).shape.size() != 1) {
      return Error(StatusCode::kInvalidArgument, "input 'axes' must be 1-D, got ", ShapeToString(ctx.input(1).shape));
    }
    known = shape::KnownInts(ctx, 1, &axes);
  }
  ctx.outputs[0] = TensorInfo{DType::kF32, {}, false};
  if (!x.has_shape) return Status::Ok();
  if (!known) {
    if (keepdims) shape::SetOutput(ctx, 0, DType::kF32, Shape(x.shape.size(), kDynamicDim));
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(Reduction r, PlanReduction(x.shape, axes, keepdims, noop));
  shape::SetOutput(ctx, 0, DType::kF32, std::move(r.out));
  return Status::Ok();
}

OpDef ReduceMeanDef(AxesFrom from) {
  OpDef def;
  def.op_type = "ReduceMean";
  def.since_version = from == AxesFrom::kAttribute ? 1 : 18;
  def.until_version = from == AxesFrom::kAttribute ? 17 : kMaxOpVersion;
  def.inputs = {ParamDef{"data", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.attributes = {AttrDef{"keepdims", AttrType::kInt, false, Attribute::Int(1)}};
  if (from == AxesFrom::kAttribute) {
    def.attributes.push_back(AttrDef{"axes", AttrType::kInts, false, Attribute()});
  } else {
    ParamDef axes{"axes", ParamDef::Presence::kOptional, {DType::kI64}, ""};
    axes.needs_value = true;
    def.inputs.push_back(axes);
    def.attributes.push_back(AttrDef{"noop_with_empty_axes", AttrType::kInt, false, Attribute::Int(0)});
  }
  def.outputs = {ParamDef{"reduced", ParamDef::Presence::kRequired, {DType::kF32}, "T"}};
  def.infer_shapes = [from](OpContext& ctx) { return InferReduceMean(ctx, from); };
  def.cost = [](const OpContext& ctx) {
    OpCost cost;
    const TensorInfo& x = ctx.input(0);
    const TensorInfo& y = ctx.outputs[0];
    if (!x.has_shape || !IsStatic(x.shape) || !y.has_shape || !IsStatic(y.shape)) return cost;
    const double n = static_cast<double>(NumElements(x.shape));
    const double m = static_cast<double>(NumElements(y.shape));
    cost.flops = n + m;  // one add per input element, one divide per output
    cost.bytes_read = n * sizeof(float);
    cost.bytes_written = m * sizeof(float);
    return cost;
  };
  def.create_kernel = [from](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<ReduceMeanKernel>(
        from, from == AxesFrom::kAttribute ? ctx.attrs->GetInts("axes") : std::vector<int64_t>(),
        ctx.attrs->GetInt("keepdims", 1) != 0, ctx.attrs->GetInt("noop_with_empty_axes", 0) != 0));
  };
  return def;
}

}  // namespace

Status RegisterNormOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(registrar.Register(LayerNormDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(ReduceMeanDef(AxesFrom::kAttribute)));
  TSR_RETURN_IF_ERROR(registrar.Register(ReduceMeanDef(AxesFrom::kInput)));
  return Status::Ok();
}

}  // namespace tessera::ops
