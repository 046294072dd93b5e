// ONNX ops that move data between layouts: Transpose, Concat, Split, Slice
// and Gather. Plain C++ over bytes (any dtype): contiguous runs are
// memcpy'd, strided runs go through typed loops (shape_util.cc), and large
// outputs are split into fixed chunks of rows with ParallelFor. There are no
// reductions, so every split gives the same bytes.
//
// Versions implemented (older forms not implemented are named):
//   Transpose v1+.
//   Concat v4+ (v1-3 had an optional axis defaulting to 1). Negative axes,
//     new in v11, are accepted for every version.
//   Split v2-12 (`split` attribute), v13-17 (`split` input) and v18+
//     (`split` input or `num_outputs`); v1 took the split as a second input.
//   Slice v10+ (starts/ends/axes/steps inputs); v1-9 took attributes.
//   Gather v1+; negative indices (v11+) are accepted for every version.
// Each fills output values for small integer outputs when its inputs are
// known (PropagateByRunning; see runtime/core/op.h).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/shape/shape_util.h"
#include "runtime/core/op.h"

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

const std::vector<DType> kIndexTypes = {DType::kI32, DType::kI64};

// ---------------------------------------------------------------------------
// Transpose (v1+): out[j0..jn] = in[i] with i_perm[k] = j_k.

StatusOr<std::vector<int64_t>> TransposePerm(const AttributeMap* attrs, int64_t rank) {
  std::vector<int64_t> perm = attrs != nullptr ? attrs->GetInts("perm") : std::vector<int64_t>();
  if (attrs == nullptr || !attrs->Has("perm")) {
    perm.clear();
    for (int64_t k = rank - 1; k >= 0; --k) perm.push_back(k);  // default: reverse the dims
    return perm;
  }
  if (static_cast<int64_t>(perm.size()) != rank) {
    return Error(StatusCode::kInvalidArgument, "attribute 'perm' has ", perm.size(), " entries, but input 'data' has rank ",
                 rank);
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[static_cast<size_t>(p)]) {
      return Error(StatusCode::kInvalidArgument, "attribute 'perm' is not a permutation of 0..", rank - 1);
    }
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

class TransposeKernel final : public Kernel {
 public:
  explicit TransposeKernel(AttributeMap attrs) : attrs_(std::move(attrs)) {}
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Transpose", "input 'data'", x));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Transpose", "output 'transposed'", y, x->dtype));
    TSR_ASSIGN_OR_RETURN(std::vector<int64_t> perm, TransposePerm(&attrs_, x->rank()));
    if (y->NumElements() == 0) return Status::Ok();
    const std::vector<int64_t> in_strides = ContiguousStrides(x->shape);
    std::vector<int64_t> strides;
    for (int64_t p : perm) strides.push_back(in_strides[static_cast<size_t>(p)]);
    const int64_t inner = y->shape.empty() ? 1 : y->shape.back();
    const int64_t rows = y->NumElements() / inner;
    const size_t elem = DTypeSize(x->dtype);
    const Shape& dims = y->shape;
    ctx.ParallelFor(rows, CopyGrain(elem, inner),
                    [&](int64_t b, int64_t e) { shape::StridedCopy(x->data, y->data, elem, dims, strides, b, e); });
    return Status::Ok();
  }

 private:
  AttributeMap attrs_;
};

Status InferTranspose(OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  if (!x.has_shape) {
    ctx.outputs[0] = TensorInfo{x.dtype, {}, false};
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(std::vector<int64_t> perm, TransposePerm(ctx.attrs, static_cast<int64_t>(x.shape.size())));
  Shape dims;
  for (int64_t p : perm) dims.push_back(x.shape[static_cast<size_t>(p)]);
  SetOutput(ctx, 0, x.dtype, std::move(dims));
  return PropagateByRunning(ctx, TransposeKernel(*ctx.attrs));
}

// ---------------------------------------------------------------------------
// Concat (v4+).

class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(int64_t axis) : axis_(axis) {}
  Status Run(KernelContext& ctx) const override {
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Concat", "output 'concat_result'", y));
    TSR_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(axis_, y->rank(), "Concat: attribute 'axis'"));
    // Nothing to copy; and an empty output called without the loader's
    // element limit may have a huge dim beside its 0, so `inner` below
    // could wrap.
    if (y->NumElements() == 0) return Status::Ok();
    const size_t a = static_cast<size_t>(axis);
    const size_t elem = DTypeSize(y->dtype);
    const int64_t outer = Product(y->shape, 0, a);
    const int64_t inner = Product(y->shape, a + 1, y->shape.size());
    // Per input: its block of (its axis length x inner) elements per outer
    // index, and where that block starts in the output's block.
    std::vector<const uint8_t*> src;
    std::vector<int64_t> block_bytes;
    std::vector<int64_t> offset_bytes;
    int64_t offset = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor* x = ctx.input(i);
      TSR_RETURN_IF_ERROR(CheckRunTensor("Concat", "input " + std::to_string(i), x, y->dtype));
      const int64_t bytes = x->rank() == y->rank() ? x->shape[a] * inner * static_cast<int64_t>(elem) : -1;
      if (bytes < 0) return Error(StatusCode::kInternal, "Concat: input ", i, " rank differs from the output's");
      src.push_back(static_cast<const uint8_t*>(x->data));
      block_bytes.push_back(bytes);
      offset_bytes.push_back(offset);
      offset += bytes;
    }
    const int64_t out_block = y->shape[a] * inner * static_cast<int64_t>(elem);
    if (offset != out_block) return Error(StatusCode::kInternal, "Concat: inputs do not fill the output");
    auto* dst = static_cast<uint8_t*>(y->data);
    ctx.ParallelFor(outer, out_block >= shape::kCopyGrainBytes ? 1 : shape::kCopyGrainBytes / std::max<int64_t>(out_block, 1),
                    [&](int64_t b, int64_t e) {
                      for (int64_t o = b; o < e; ++o) {
                        for (size_t i = 0; i < src.size(); ++i) {
                          if (block_bytes[i] == 0) continue;
                          std::memcpy(dst + o * out_block + offset_bytes[i], src[i] + o * block_bytes[i],
                                      static_cast<size_t>(block_bytes[i]));
                        }
                      }
                    });
    return Status::Ok();
  }

 private:
  int64_t axis_;
};

Status InferConcat(OpContext& ctx) {
  const int64_t axis_attr = ctx.attrs->GetInt("axis", 0);
  const TensorInfo* first = nullptr;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.has_input(i) && ctx.input(i).has_shape) {
      first = &ctx.input(i);
      break;
    }
  }
  const DType dtype = ctx.input(0).dtype;
  if (first == nullptr) {
    ctx.outputs[0] = TensorInfo{dtype, {}, false};
    return Status::Ok();
  }
  const int64_t rank = static_cast<int64_t>(first->shape.size());
  TSR_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(axis_attr, rank, "attribute 'axis'"));
  Shape out = first->shape;
  out[static_cast<size_t>(axis)] = 0;
  bool axis_known = true;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (!ctx.has_input(i)) return Error(StatusCode::kInvalidArgument, "input ", i, " is omitted");
    const TensorInfo& in = ctx.input(i);
    if (!in.has_shape) {
      axis_known = false;
      continue;
    }
    if (static_cast<int64_t>(in.shape.size()) != rank) {
      return Error(StatusCode::kInvalidArgument, "input ", i, " ", ShapeToString(in.shape), " has rank ",
                   in.shape.size(), ", but input 0 has rank ", rank);
    }
    for (int64_t d = 0; d < rank; ++d) {
      const size_t k = static_cast<size_t>(d);
      if (d == axis) {
        if (in.shape[k] < 0) {
          axis_known = false;
        } else if (in.shape[k] > std::numeric_limits<int64_t>::max() - out[k]) {
          // Each input is bounded only by its own element count (and not at
          // all beside a 0 dim), so the sum is checked before adding.
          return Error(StatusCode::kInvalidArgument, "input ", i, " ", ShapeToString(in.shape),
                       " makes the concatenated dim ", d, " longer than 2^63 - 1");
        } else {
          out[k] += in.shape[k];
        }
      } else if (out[k] < 0) {
        out[k] = in.shape[k];
      } else if (in.shape[k] >= 0 && in.shape[k] != out[k]) {
        return Error(StatusCode::kInvalidArgument, "input ", i, " ", ShapeToString(in.shape),
                     " does not match the other inputs in dim ", d, " (", in.shape[k], " vs ", out[k], ")");
      }
    }
  }
  if (!axis_known) out[static_cast<size_t>(axis)] = kDynamicDim;
  SetOutput(ctx, 0, dtype, std::move(out));
  return PropagateByRunning(ctx, ConcatKernel(axis_attr));
}

// ---------------------------------------------------------------------------
// Split.

enum class SplitForm { kAttribute, kInput, kInputOrNumOutputs };  // v2-12, v13-17, v18+

// Sizes of the `outputs` parts of a dim of length `len`.
StatusOr<std::vector<int64_t>> SplitSizes(int64_t len, size_t outputs, const std::vector<int64_t>* split,
                                          int64_t num_outputs, SplitForm form) {
  std::vector<int64_t> sizes;
  if (split != nullptr && !split->empty()) {
    if (split->size() != outputs) {
      return Error(StatusCode::kInvalidArgument, "'split' has ", split->size(), " entries, but the node has ",
                   outputs, " outputs");
    }
    int64_t sum = 0;
    for (int64_t s : *split) {
      if (s < 0) return Error(StatusCode::kInvalidArgument, "'split' has a negative size ", s);
      // Checked before adding: a hostile list must not wrap the sum (found
      // by model_fuzz).
      if (s > std::numeric_limits<int64_t>::max() - sum) {
        return Error(StatusCode::kInvalidArgument, "'split' sizes sum past 2^63 - 1");
      }
      sum += s;
    }
    if (len >= 0 && sum != len) {
      return Error(StatusCode::kInvalidArgument, "'split' sums to ", sum, ", but the split axis has length ", len);
    }
    return *split;
  }
  if (form == SplitForm::kInputOrNumOutputs) {
    if (num_outputs <= 0) {
      return Error(StatusCode::kInvalidArgument, "Split v18+ needs input 'split' or attribute 'num_outputs'");
    }
    if (static_cast<size_t>(num_outputs) != outputs) {
      return Error(StatusCode::kInvalidArgument, "attribute 'num_outputs' is ", num_outputs, ", but the node has ",
                   outputs, " outputs");
    }
  }
  if (len < 0) return std::vector<int64_t>(outputs, kDynamicDim);
  const int64_t n = static_cast<int64_t>(outputs);
  if (form == SplitForm::kInputOrNumOutputs) {
    // v18: parts of ceil(len / n), the last one smaller when n does not
    // divide. Not (len + n - 1) / n: beside a 0 dim, in a kernel called
    // without the loader's element limit, len can be up to INT64_MAX, and
    // the sum would wrap.
    const int64_t part = len / n + (len % n != 0 ? 1 : 0);
    int64_t left = len;
    for (int64_t i = 0; i < n; ++i) {
      sizes.push_back(std::min(part, left));
      left -= sizes.back();
    }
    return sizes;
  }
  if (len % n != 0) {
    return Error(StatusCode::kInvalidArgument, "the split axis has length ", len, ", which ", n,
                 " outputs cannot split evenly; give 'split'");
  }
  return std::vector<int64_t>(outputs, len / n);
}

class SplitKernel final : public Kernel {
 public:
  SplitKernel(int64_t axis, SplitForm form, std::vector<int64_t> attr_split, int64_t num_outputs)
      : axis_(axis), form_(form), attr_split_(std::move(attr_split)), num_outputs_(num_outputs) {}
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Split", "input 'input'", x));
    TSR_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(axis_, x->rank(), "Split: attribute 'axis'"));
    const size_t a = static_cast<size_t>(axis);
    std::vector<int64_t> split = attr_split_;
    if (form_ != SplitForm::kAttribute && ctx.input(1) != nullptr) split = ReadInts(*ctx.input(1));
    StatusOr<std::vector<int64_t>> sizes = SplitSizes(x->shape[a], ctx.num_outputs(), &split, num_outputs_, form_);
    if (!sizes.ok()) return sizes.status().WithContext("Split");
    const size_t elem = DTypeSize(x->dtype);
    // An empty input called directly (without the loader's element limit)
    // may have a huge dim beside its 0: its products could wrap, and there
    // is nothing to copy.
    const bool empty = x->NumElements() == 0;
    const int64_t outer = empty ? 0 : Product(x->shape, 0, a);
    const int64_t inner = empty ? 0 : Product(x->shape, a + 1, x->shape.size());
    const int64_t in_block = x->shape[a] * inner * static_cast<int64_t>(elem);
    const auto* src = static_cast<const uint8_t*>(x->data);
    int64_t offset = 0;
    for (size_t o = 0; o < ctx.num_outputs(); ++o) {
      const int64_t block = sizes.value()[o] * inner * static_cast<int64_t>(elem);
      Tensor* y = ctx.output(o);  // nullptr for an unwanted output
      if (y != nullptr) {
        TSR_RETURN_IF_ERROR(CheckRunTensor("Split", "output " + std::to_string(o), y, x->dtype));
        Shape expected = x->shape;
        expected[a] = sizes.value()[o];
        if (y->shape != expected) {
          return Error(StatusCode::kInternal, "Split: output ", o, " is planned as ", ShapeToString(y->shape),
                       " but the split gives ", ShapeToString(expected));
        }
      }
      if (y != nullptr && block > 0) {
        auto* dst = static_cast<uint8_t*>(y->data);
        const int64_t start = offset;
        ctx.ParallelFor(outer, block >= shape::kCopyGrainBytes ? 1 : shape::kCopyGrainBytes / block,
                        [&](int64_t b, int64_t e) {
                          for (int64_t i = b; i < e; ++i) {
                            std::memcpy(dst + i * block, src + i * in_block + start, static_cast<size_t>(block));
                          }
                        });
      }
      offset += block;
    }
    return Status::Ok();
  }

 private:
  int64_t axis_;
  SplitForm form_;
  std::vector<int64_t> attr_split_;
  int64_t num_outputs_;
};

Status InferSplit(OpContext& ctx, SplitForm form) {
  const TensorInfo& x = ctx.input(0);
  const size_t n = ctx.outputs.size();
  std::vector<int64_t> split;
  bool known = true;
  if (form == SplitForm::kAttribute) {
    split = ctx.attrs->GetInts("split");
  } else if (ctx.has_input(1)) {
    known = KnownInts(ctx, 1, &split);
  }
  const int64_t num_outputs = ctx.attrs->GetInt("num_outputs", 0);
  for (size_t o = 0; o < n; ++o) ctx.outputs[o] = TensorInfo{x.dtype, {}, false};
  if (form == SplitForm::kInputOrNumOutputs && ctx.has_input(1) && ctx.attrs->Has("num_outputs")) {
    return Error(StatusCode::kInvalidArgument, "input 'split' and attribute 'num_outputs' are both given");
  }
  if (!x.has_shape) return Status::Ok();
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  const int64_t axis_attr = ctx.attrs->GetInt("axis", 0);
  TSR_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(axis_attr, rank, "attribute 'axis'"));
  std::vector<int64_t> sizes(n, kDynamicDim);
  if (known) {
    TSR_ASSIGN_OR_RETURN(sizes, SplitSizes(x.shape[static_cast<size_t>(axis)], n, &split, num_outputs, form));
  }
  for (size_t o = 0; o < n; ++o) {
    Shape dims = x.shape;
    dims[static_cast<size_t>(axis)] = sizes[o];
    SetOutput(ctx, o, x.dtype, std::move(dims));
  }
  return PropagateByRunning(ctx, SplitKernel(axis_attr, form, form == SplitForm::kAttribute ? split
                                                                                          : std::vector<int64_t>(),
                                             num_outputs));
}

OpDef SplitDef(SplitForm form) {
  OpDef def;
  def.op_type = "Split";
  def.since_version = form == SplitForm::kAttribute ? 2 : form == SplitForm::kInput ? 13 : 18;
  def.until_version = form == SplitForm::kAttribute ? 12 : form == SplitForm::kInput ? 17 : kMaxOpVersion;
  def.inputs = {Param("input", ParamDef::Presence::kRequired, {}, "T")};
  def.attributes = {AttrDef{"axis", AttrType::kInt, false, Attribute::Int(0)}};
  if (form == SplitForm::kAttribute) {
    def.attributes.push_back(AttrDef{"split", AttrType::kInts, false, Attribute()});
  } else {
    def.inputs.push_back(Param("split", ParamDef::Presence::kOptional, {DType::kI64}, "", /*needs_value=*/true));
  }
  if (form == SplitForm::kInputOrNumOutputs) {
    def.attributes.push_back(AttrDef{"num_outputs", AttrType::kInt, false, Attribute()});
  }
  ParamDef out = Param("outputs", ParamDef::Presence::kVariadic, {}, "T");
  def.outputs = {out};
  def.infer_shapes = [form](OpContext& ctx) { return InferSplit(ctx, form); };
  def.create_kernel = [form](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    return std::unique_ptr<Kernel>(std::make_unique<SplitKernel>(
        ctx.attrs->GetInt("axis", 0), form,
        form == SplitForm::kAttribute ? ctx.attrs->GetInts("split") : std::vector<int64_t>(),
        ctx.attrs->GetInt("num_outputs", 0)));
  };
  return def;
}

// ---------------------------------------------------------------------------
// Slice (v10+).

struct SliceAxis {
  int64_t start;
  int64_t step;
  int64_t length;
};

// ONNX Slice bounds for one axis of size `dim`: negative start/end count
// from the back; then start is clamped to [0, dim] (step > 0) or [0, dim-1]
// (step < 0), and end to [0, dim] or [-1, dim-1].
//
// starts, ends and steps are any int64 (INT64_MAX and INT64_MIN are common
// "to the end" markers), so nothing here adds or negates a step: the length
// is (|end - start| - 1) / |step| + 1 written without |step|, and a step is
// only kept where the slice has two or more elements, where |step| < dim
// and the kernel's step * stride stays within the tensor (model_fuzz class:
// step = INT64_MAX used to wrap end - start + step - 1, and INT64_MIN's
// negation).
SliceAxis SliceBounds(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (dim == 0) return {0, 1, 0};  // and std::clamp below needs dim - 1 >= lo
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  int64_t length = 0;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    length = end > start ? (end - start - 1) / step + 1 : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    length = start > end ? (end - start + 1) / step + 1 : 0;
  }
  return {start, length > 1 ? step : 1, length};
}

// Per-axis slices of a tensor of `dims`; axes not named keep everything.
StatusOr<std::vector<SliceAxis>> SlicePlan(const Shape& dims, const std::vector<int64_t>& starts,
                                           const std::vector<int64_t>& ends, const std::vector<int64_t>* axes_in,
                                           const std::vector<int64_t>* steps_in) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  if (starts.size() != ends.size()) {
    return Error(StatusCode::kInvalidArgument, "inputs 'starts' (", starts.size(), ") and 'ends' (", ends.size(),
                 ") differ in length");
  }
  std::vector<int64_t> axes;
  if (axes_in != nullptr) {
    if (axes_in->size() != starts.size()) {
      return Error(StatusCode::kInvalidArgument, "input 'axes' has ", axes_in->size(), " entries, 'starts' has ",
                   starts.size());
    }
    TSR_ASSIGN_OR_RETURN(axes, NormalizeAxes(*axes_in, rank, "input 'axes'"));
  } else {
    if (static_cast<int64_t>(starts.size()) > rank) {
      return Error(StatusCode::kInvalidArgument, "input 'starts' has ", starts.size(),
                   " entries, more than the rank ", rank, " of input 'data'");
    }
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps_in != nullptr && steps_in->size() != starts.size()) {
    return Error(StatusCode::kInvalidArgument, "input 'steps' has ", steps_in->size(), " entries, 'starts' has ",
                 starts.size());
  }
  std::vector<SliceAxis> plan;
  for (int64_t d : dims) plan.push_back({0, 1, d});
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t step = steps_in != nullptr ? (*steps_in)[i] : 1;
    if (step == 0) return Error(StatusCode::kInvalidArgument, "input 'steps' has 0 at index ", i);
    const size_t a = static_cast<size_t>(axes[i]);
    plan[a] = dims[a] < 0 ? SliceAxis{0, step, kDynamicDim} : SliceBounds(dims[a], starts[i], ends[i], step);
  }
  return plan;
}

class SliceKernel final : public Kernel {
 public:
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Slice", "input 'data'", x));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Slice", "output 'output'", y, x->dtype));
    const char* names[] = {"starts", "ends", "axes", "steps"};
    std::vector<int64_t> v[4];
    for (size_t i = 1; i < 5; ++i) {
      const Tensor* t = ctx.input(i);
      if (t == nullptr) continue;
      TSR_RETURN_IF_ERROR(CheckRunTensor("Slice", std::string("input '") + names[i - 1] + "'", t));
      v[i - 1] = ReadInts(*t);
    }
    StatusOr<std::vector<SliceAxis>> plan = SlicePlan(x->shape, v[0], v[1], ctx.input(3) ? &v[2] : nullptr,
                                                       ctx.input(4) ? &v[3] : nullptr);
    if (!plan.ok()) return plan.status().WithContext("Slice");
    Shape dims;
    for (const SliceAxis& s : plan.value()) dims.push_back(s.length);
    TSR_RETURN_IF_ERROR(CheckPlannedShape(dims, *y));
    // Before the strides: an empty input called without the loader's
    // element limit may have a huge dim beside its 0, whose strides would
    // wrap.
    if (y->NumElements() == 0) return Status::Ok();
    const std::vector<int64_t> in_strides = ContiguousStrides(x->shape);
    std::vector<int64_t> strides;
    int64_t base = 0;
    for (size_t k = 0; k < plan.value().size(); ++k) {
      const SliceAxis& s = plan.value()[k];
      strides.push_back(s.step * in_strides[k]);  // |step| < dim unless the axis keeps one element
      base += s.start * in_strides[k];
    }
    const size_t elem = DTypeSize(x->dtype);
    const uint8_t* src = static_cast<const uint8_t*>(x->data) + static_cast<size_t>(base) * elem;
    const int64_t inner = dims.empty() ? 1 : dims.back();
    const int64_t rows = y->NumElements() / inner;
    ctx.ParallelFor(rows, CopyGrain(elem, inner),
                    [&](int64_t b, int64_t e) { shape::StridedCopy(src, y->data, elem, dims, strides, b, e); });
    return Status::Ok();
  }

 private:
  static Status CheckPlannedShape(const Shape& dims, const Tensor& y) {
    if (dims != y.shape) {
      return Error(StatusCode::kInternal, "Slice: the inputs give output shape ", ShapeToString(dims),
                   " at run time, but the plan has ", ShapeToString(y.shape));
    }
    return Status::Ok();
  }
};

Status InferSlice(OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  ctx.outputs[0] = TensorInfo{x.dtype, {}, false};
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    if (ctx.has_input(i) && ctx.input(i).has_shape && ctx.input(i).shape.size() != 1) {
      return Error(StatusCode::kInvalidArgument, "input ", i, " (", i == 1 ? "starts" : i == 2 ? "ends" : i == 3 ? "axes" : "steps",
                   ") must be 1-D, got ", ShapeToString(ctx.input(i).shape));
    }
  }
  if (!x.has_shape) return Status::Ok();
  std::vector<int64_t> v[4];
  bool known = true;
  for (size_t i = 1; i < 5; ++i) {
    if (ctx.has_input(i)) known = KnownInts(ctx, i, &v[i - 1]) && known;
  }
  if (!known) {
    // Rank is kept; which dims change depends on the unknown axes.
    SetOutput(ctx, 0, x.dtype, Shape(x.shape.size(), kDynamicDim));
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(std::vector<SliceAxis> plan, SlicePlan(x.shape, v[0], v[1], ctx.has_input(3) ? &v[2] : nullptr,
                                                              ctx.has_input(4) ? &v[3] : nullptr));
  Shape dims;
  for (const SliceAxis& s : plan) dims.push_back(s.length);
  SetOutput(ctx, 0, x.dtype, std::move(dims));
  return PropagateByRunning(ctx, SliceKernel());
}

// ---------------------------------------------------------------------------
// Gather (v1+): out[o, i..., r] = data[o, indices[i...], r] along `axis`.

class GatherKernel final : public Kernel {
 public:
  explicit GatherKernel(int64_t axis) : axis_(axis) {}
  Status Run(KernelContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* idx = ctx.input(1);
    Tensor* y = ctx.output(0);
    TSR_RETURN_IF_ERROR(CheckRunTensor("Gather", "input 'data'", x));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Gather", "input 'indices'", idx));
    TSR_RETURN_IF_ERROR(CheckRunTensor("Gather", "output 'output'", y, x->dtype));
    TSR_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(axis_, x->rank(), "Gather: attribute 'axis'"));
    const size_t a = static_cast<size_t>(axis);
    const int64_t dim = x->shape[a];
    const int64_t n = idx->NumElements();
    // Validate every index once, before any copy, so a bad index is an
    // error naming it rather than a read outside the data.
    std::vector<int64_t> indices = ReadInts(*idx);
    for (int64_t i = 0; i < n; ++i) {
      int64_t& k = indices[static_cast<size_t>(i)];
      if (k < -dim || k >= dim) {
        return Error(StatusCode::kInvalidArgument, "Gather: input 'indices' has ", k, " at flat index ", i,
                     ", out of range for axis ", axis, " of input 'data' ", ShapeToString(x->shape), " (valid: ",
                     -dim, " to ", dim - 1, ")");
      }
      if (k < 0) k += dim;
    }
    // Before the products: an empty input called without the loader's
    // element limit may have a huge dim beside its 0, e.g. [0, 2^62, 4]
    // with axis 0.
    if (y->NumElements() == 0) return Status::Ok();
    const int64_t outer = Product(x->shape, 0, a);
    const int64_t inner_bytes = Product(x->shape, a + 1, x->shape.size()) * static_cast<int64_t>(DTypeSize(x->dtype));
    const auto* src = static_cast<const uint8_t*>(x->data);
    auto* dst = static_cast<uint8_t*>(y->data);
    // One item per (outer, index) pair: one row of inner_bytes (an
    // embedding row when axis is 0).
    ctx.ParallelFor(outer * n, inner_bytes >= shape::kCopyGrainBytes ? 1 : shape::kCopyGrainBytes / inner_bytes,
                    [&](int64_t b, int64_t e) {
                      for (int64_t item = b; item < e; ++item) {
                        const int64_t o = item / n;
                        const int64_t k = indices[static_cast<size_t>(item % n)];
                        std::memcpy(dst + item * inner_bytes, src + (o * dim + k) * inner_bytes,
                                    static_cast<size_t>(inner_bytes));
                      }
                    });
    return Status::Ok();
  }

 private:
  int64_t axis_;
};

Status InferGather(OpContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& idx = ctx.input(1);
  if (!x.has_shape || !idx.has_shape) {
    ctx.outputs[0] = TensorInfo{x.dtype, {}, false};
    return Status::Ok();
  }
  TSR_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(ctx.attrs->GetInt("axis", 0),
                                                         static_cast<int64_t>(x.shape.size()), "attribute 'axis'"));
  Shape dims(x.shape.begin(), x.shape.begin() + axis);
  dims.insert(dims.end(), idx.shape.begin(), idx.shape.end());
  dims.insert(dims.end(), x.shape.begin() + axis + 1, x.shape.end());
  SetOutput(ctx, 0, x.dtype, std::move(dims));
  return PropagateByRunning(ctx, GatherKernel(axis));
}

OpCost MovementCost(const OpContext& ctx) {
  // Bytes written and the same amount read (inputs may be read in part).
  OpCost cost;
  for (const TensorInfo& out : ctx.outputs) {
    if (out.has_shape && IsStatic(out.shape)) {
      cost.bytes_written += static_cast<double>(NumElements(out.shape) * DTypeSize(out.dtype));
    }
  }
  cost.bytes_read = cost.bytes_written;
  return cost;
}

OpDef MovementDef(const char* op_type, int32_t since, int32_t until, std::vector<ParamDef> inputs,
                  std::vector<ParamDef> outputs, std::vector<AttrDef> attrs,
                  std::function<Status(OpContext&)> infer,
                  std::function<StatusOr<std::unique_ptr<Kernel>>(const OpContext&)> make) {
  OpDef def;
  def.op_type = op_type;
  def.since_version = since;
  def.until_version = until;
  def.inputs = std::move(inputs);
  def.outputs = std::move(outputs);
  def.attributes = std::move(attrs);
  def.infer_shapes = std::move(infer);
  def.cost = MovementCost;
  def.create_kernel = std::move(make);
  return def;
}

}  // namespace

Status RegisterMovementOps(OpRegistrar& registrar) {
  using P = ParamDef::Presence;
  TSR_RETURN_IF_ERROR(registrar.Register(MovementDef(
      "Transpose", 1, kMaxOpVersion, {Param("data", P::kRequired, {}, "T")},
      {Param("transposed", P::kRequired, {}, "T")}, {AttrDef{"perm", AttrType::kInts, false, Attribute()}},
      InferTranspose, [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(std::make_unique<TransposeKernel>(*ctx.attrs));
      })));
  ParamDef concat_in = Param("inputs", P::kVariadic, {}, "T");
  TSR_RETURN_IF_ERROR(registrar.Register(MovementDef(
      "Concat", 4, kMaxOpVersion, {concat_in}, {Param("concat_result", P::kRequired, {}, "T")},
      {AttrDef{"axis", AttrType::kInt, true, Attribute()}}, InferConcat,
      [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(std::make_unique<ConcatKernel>(ctx.attrs->GetInt("axis", 0)));
      })));
  TSR_RETURN_IF_ERROR(registrar.Register(SplitDef(SplitForm::kAttribute)));
  TSR_RETURN_IF_ERROR(registrar.Register(SplitDef(SplitForm::kInput)));
  TSR_RETURN_IF_ERROR(registrar.Register(SplitDef(SplitForm::kInputOrNumOutputs)));
  TSR_RETURN_IF_ERROR(registrar.Register(MovementDef(
      "Slice", 10, kMaxOpVersion,
      {Param("data", P::kRequired, {}, "T"), Param("starts", P::kRequired, kIndexTypes, "Tind", true),
       Param("ends", P::kRequired, kIndexTypes, "Tind", true), Param("axes", P::kOptional, kIndexTypes, "Tind", true),
       Param("steps", P::kOptional, kIndexTypes, "Tind", true)},
      {Param("output", P::kRequired, {}, "T")}, {}, InferSlice,
      [](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(std::make_unique<SliceKernel>());
      })));
  TSR_RETURN_IF_ERROR(registrar.Register(MovementDef(
      "Gather", 1, kMaxOpVersion,
      {Param("data", P::kRequired, {}, "T"), Param("indices", P::kRequired, kIndexTypes)},
      {Param("output", P::kRequired, {}, "T")}, {AttrDef{"axis", AttrType::kInt, false, Attribute::Int(0)}},
      InferGather, [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(std::make_unique<GatherKernel>(ctx.attrs->GetInt("axis", 0)));
      })));
  return Status::Ok();
}

}  // namespace tessera::ops
