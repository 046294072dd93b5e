// ONNX RNN, GRU and LSTM (f32), versions 7-13 and 14+ (14 adds `layout`;
// the equations are unchanged since 7). Versions 1-6 had other attributes
// (RNN/LSTM `output_sequence`, GRU-1 no linear_before_reset) and are not
// implemented.
//
// Inputs  X, W, R, B?, sequence_lens?, initial_h?, (LSTM: initial_c?, P?)
// Outputs Y?, Y_h?, (LSTM: Y_c?), any subset.
// Shapes (layout 0 / layout 1; D = num_directions, G = gates: RNN 1,
// GRU 3, LSTM 4):
//   X [seq, batch, I] / [batch, seq, I];  W [D, G*H, I];  R [D, G*H, H];
//   B [D, 2*G*H];  sequence_lens [batch] (i32);  initial_h, initial_c, Y_h,
//   Y_c [D, batch, H] / [batch, D, H];  P [D, 3*H];
//   Y [seq, D, batch, H] / [batch, seq, D, H].
// Rows shorter than seq_length (sequence_lens) stop early: their Y entries
// past the length are 0 and Y_h / Y_c hold the state after their last valid
// step (for the reverse direction, the step at t = 0).
//
// Execution (DESIGN.md, "Recurrences"): W is packed once for the GEMM and
// R once into the step kernel's block layout (rnn.h) when the kernel is
// created, if they are constants (else into scratch per run). The input
// projection of every time step and direction is one GemmF32Batch with the
// folded biases as C. Each time step is then one parallel loop over units
// (direction, block of 64 hidden elements, group of up to 24 batch rows)
// that computes the block's recurrent product for its rows and its fused
// gate epilogue (GRU
// with linear_before_reset 0 needs two such loops, since its candidate
// product reads r . H_{t-1} of every element). All buffers come from one
// Scratch call before the time loop; nothing is allocated inside it.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ops/builtin_ops.h"
#include "ops/gemm/gemm.h"
#include "ops/rnn/rnn.h"
#include "runtime/core/op.h"

namespace tessera::ops {
namespace {

enum class CellKind { kRnn, kGru, kLstm };

// Input and output slots, as ONNX numbers them.
enum Slot : size_t { kX = 0, kW, kR, kB, kSeqLens, kInitialH, kInitialC, kP, kNumSlots };
enum OutSlot : size_t { kY = 0, kYH, kYC };

const char* const kInputNames[kNumSlots] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};

int64_t GatesOf(CellKind kind) { return kind == CellKind::kRnn ? 1 : kind == CellKind::kGru ? 3 : 4; }
int64_t ActivationsOf(CellKind kind) { return kind == CellKind::kRnn ? 1 : kind == CellKind::kGru ? 2 : 3; }
const char* OpName(CellKind kind) { return kind == CellKind::kRnn ? "RNN" : kind == CellKind::kGru ? "GRU" : "LSTM"; }

// FMAs of recurrent product per ParallelFor chunk of a step: 16K FMAs are
// a few microseconds of work (with the unit's epilogue), enough to amortise
// TBB's ~1 us task cost; steps smaller than that stay on one thread.
constexpr int64_t kStepGrainFmas = int64_t{1} << 14;

// The node's attributes, validated.
struct RnnConfig {
  CellKind kind = CellKind::kRnn;
  int64_t num_dirs = 1;
  bool reverse = false;      // direction "reverse" (unidirectional)
  int64_t hidden_attr = -1;  // hidden_size, -1 when absent (taken from R)
  int64_t layout = 0;
  bool has_clip = false;
  float clip = 0.0f;
  RnnActivation act[2][3];
  bool linear_before_reset = false;
  bool input_forget = false;
};

StatusOr<RnnConfig> ReadConfig(const AttributeMap& attrs, CellKind kind) {
  RnnConfig cfg;
  cfg.kind = kind;
  const std::string direction = attrs.GetString("direction", "forward");
  if (direction == "forward") {
    cfg.num_dirs = 1;
  } else if (direction == "reverse") {
    cfg.num_dirs = 1;
    cfg.reverse = true;
  } else if (direction == "bidirectional") {
    cfg.num_dirs = 2;
  } else {
    return Error(StatusCode::kInvalidArgument, "attribute 'direction' is '", direction,
                 "', expected 'forward', 'reverse' or 'bidirectional'");
  }
  if (attrs.Has("hidden_size")) {
    cfg.hidden_attr = attrs.GetInt("hidden_size");
    if (cfg.hidden_attr < 1) {
      return Error(StatusCode::kInvalidArgument, "attribute 'hidden_size' is ", cfg.hidden_attr, ", expected >= 1");
    }
  }
  cfg.layout = attrs.GetInt("layout", 0);
  if (cfg.layout != 0 && cfg.layout != 1) {
    return Error(StatusCode::kInvalidArgument, "attribute 'layout' is ", cfg.layout, ", expected 0 or 1");
  }
  if (attrs.Has("clip")) {
    cfg.has_clip = true;
    cfg.clip = attrs.GetFloat("clip");
    if (!(cfg.clip > 0.0f)) {
      return Error(StatusCode::kInvalidArgument, "attribute 'clip' is ", cfg.clip, ", expected > 0");
    }
  }
  if (kind == CellKind::kGru) {
    const int64_t lbr = attrs.GetInt("linear_before_reset", 0);
    if (lbr != 0 && lbr != 1) {
      return Error(StatusCode::kInvalidArgument, "attribute 'linear_before_reset' is ", lbr, ", expected 0 or 1");
    }
    cfg.linear_before_reset = lbr == 1;
  }
  if (kind == CellKind::kLstm) {
    const int64_t input_forget = attrs.GetInt("input_forget", 0);
    if (input_forget != 0 && input_forget != 1) {
      return Error(StatusCode::kInvalidArgument, "attribute 'input_forget' is ", input_forget, ", expected 0 or 1");
    }
    cfg.input_forget = input_forget == 1;
  }

  // Activations: per direction, in the op's order (f; f, g; f, g, h).
  // Defaults per ONNX: RNN Tanh; GRU Sigmoid, Tanh; LSTM Sigmoid, Tanh, Tanh.
  const int64_t per_dir = ActivationsOf(kind);
  std::vector<std::string> names = attrs.GetStrings("activations");
  if (!attrs.Has("activations")) {
    const std::vector<std::string> defaults = kind == CellKind::kRnn   ? std::vector<std::string>{"Tanh"}
                                              : kind == CellKind::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                       : std::vector<std::string>{"Sigmoid", "Tanh",
                                                                                                  "Tanh"};
    for (int64_t d = 0; d < cfg.num_dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  }
  if (static_cast<int64_t>(names.size()) != per_dir * cfg.num_dirs) {
    return Error(StatusCode::kInvalidArgument, "attribute 'activations' has ", names.size(), " entries, expected ",
                 per_dir * cfg.num_dirs, " (", per_dir, " per direction for ", OpName(kind), ", ", cfg.num_dirs,
                 " direction", cfg.num_dirs == 2 ? "s" : "", ")");
  }
  // alpha and beta values are consumed in order by the activations that take
  // them (onnxruntime's reading of the spec); an activation past the end of
  // the list keeps its op's default.
  const std::vector<float> alphas = attrs.GetFloats("activation_alpha");
  const std::vector<float> betas = attrs.GetFloats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    RnnActivation act;
    bool uses_alpha = false, uses_beta = false;
    if (!ParseRnnActivation(names[i], &act, &uses_alpha, &uses_beta)) {
      return Error(StatusCode::kInvalidArgument, "attribute 'activations' entry ", i, " is unknown activation '",
                   names[i],
                   "' (known: Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, "
                   "Elu, Softsign, Softplus)");
    }
    if (uses_alpha && next_alpha < alphas.size()) act.alpha = alphas[next_alpha++];
    if (uses_beta && next_beta < betas.size()) act.beta = betas[next_beta++];
    cfg.act[i / static_cast<size_t>(per_dir)][i % static_cast<size_t>(per_dir)] = act;
  }
  if (next_alpha < alphas.size()) {
    return Error(StatusCode::kInvalidArgument, "attribute 'activation_alpha' has ", alphas.size(),
                 " values, but the activations take only ", next_alpha);
  }
  if (next_beta < betas.size()) {
    return Error(StatusCode::kInvalidArgument, "attribute 'activation_beta' has ", betas.size(),
                 " values, but the activations take only ", next_beta);
  }
  return cfg;
}

// Sizes of one node, as far as known (kDynamicDim where not).
struct RnnDims {
  int64_t seq = kDynamicDim;
  int64_t batch = kDynamicDim;
  int64_t input = kDynamicDim;
  int64_t hidden = kDynamicDim;
};

bool Known(int64_t d) { return d != kDynamicDim; }

struct DimSpec {
  std::string label;  // e.g. "4*hidden_size"
  int64_t value;      // kDynamicDim when not known yet
};

// Checks one input's shape against its expected dims (unknown ones match
// anything) and names the input, its shape and what was expected.
Status ExpectShape(size_t slot, const Shape& shape, const std::vector<DimSpec>& expected) {
  bool ok = shape.size() == expected.size();
  for (size_t i = 0; ok && i < expected.size(); ++i) {
    if (Known(expected[i].value) && Known(shape[i]) && shape[i] != expected[i].value) ok = false;
  }
  if (ok) return Status::Ok();
  std::ostringstream want;
  want << "[";
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i > 0) want << ", ";
    want << expected[i].label;
    if (Known(expected[i].value)) want << "=" << expected[i].value;
  }
  want << "]";
  return Error(StatusCode::kInvalidArgument, "input '", kInputNames[slot], "' has shape ", ShapeToString(shape),
               ", expected ", want.str());
}

// Derives the sizes from the inputs' shapes (null: absent or rank unknown)
// and checks every input against them.
StatusOr<RnnDims> CheckShapes(const RnnConfig& cfg, const std::array<const Shape*, kNumSlots>& shapes) {
  RnnDims dims;
  const int64_t gates = GatesOf(cfg.kind);
  const int64_t nd = cfg.num_dirs;
  const bool batch_first = cfg.layout == 1;
  if (const Shape* x = shapes[kX]; x != nullptr) {
    if (x->size() != 3) {
      return Error(StatusCode::kInvalidArgument, "input 'X' has shape ", ShapeToString(*x), ", expected rank 3 (",
                   batch_first ? "[batch, seq_length, input_size]" : "[seq_length, batch, input_size]", ")");
    }
    dims.seq = (*x)[batch_first ? 1 : 0];
    dims.batch = (*x)[batch_first ? 0 : 1];
    dims.input = (*x)[2];
  }
  dims.hidden = cfg.hidden_attr >= 0 ? cfg.hidden_attr : kDynamicDim;
  // Without hidden_size, R's last dim defines it (ONNX leaves the attribute
  // optional; R [D, G*H, H] always carries H).
  if (const Shape* r = shapes[kR]; r != nullptr && r->size() == 3 && !Known(dims.hidden)) dims.hidden = (*r)[2];
  // The widths below (up to 2 * gates * hidden_size, B's) must not wrap
  // int64; a hostile file can declare any hidden_size (found by model_fuzz).
  constexpr int64_t kMaxHidden = std::numeric_limits<int64_t>::max() / 8;
  if (Known(dims.hidden) && dims.hidden > kMaxHidden) {
    return Error(StatusCode::kInvalidArgument, "hidden_size ", dims.hidden, " is larger than ", kMaxHidden,
                 ", the most whose gate widths fit in 64 bits");
  }
  const int64_t gh = Known(dims.hidden) ? gates * dims.hidden : kDynamicDim;
  const std::string g = std::to_string(gates);
  const DimSpec dirs{"num_directions", nd};
  const DimSpec hid{"hidden_size", dims.hidden};
  if (shapes[kW] != nullptr) {
    TSR_RETURN_IF_ERROR(ExpectShape(kW, *shapes[kW], {dirs, {g + "*hidden_size", gh}, {"input_size", dims.input}}));
    if (!Known(dims.input)) dims.input = (*shapes[kW])[2];
  }
  if (shapes[kR] != nullptr) {
    TSR_RETURN_IF_ERROR(ExpectShape(kR, *shapes[kR], {dirs, {g + "*hidden_size", gh}, hid}));
  }
  if (shapes[kB] != nullptr) {
    TSR_RETURN_IF_ERROR(
        ExpectShape(kB, *shapes[kB], {dirs, {std::to_string(2 * gates) + "*hidden_size", Known(gh) ? 2 * gh : gh}}));
  }
  if (shapes[kSeqLens] != nullptr) {
    TSR_RETURN_IF_ERROR(ExpectShape(kSeqLens, *shapes[kSeqLens], {{"batch_size", dims.batch}}));
    if (!Known(dims.batch)) dims.batch = (*shapes[kSeqLens])[0];
  }
  for (size_t slot : {kInitialH, kInitialC}) {
    if (shapes[slot] == nullptr) continue;
    const DimSpec bat{"batch_size", dims.batch};
    TSR_RETURN_IF_ERROR(ExpectShape(slot, *shapes[slot], batch_first ? std::vector<DimSpec>{bat, dirs, hid}
                                                                      : std::vector<DimSpec>{dirs, bat, hid}));
    if (!Known(dims.batch)) dims.batch = (*shapes[slot])[batch_first ? 0 : 1];
  }
  if (shapes[kP] != nullptr) {
    TSR_RETURN_IF_ERROR(
        ExpectShape(kP, *shapes[kP], {dirs, {"3*hidden_size", Known(dims.hidden) ? 3 * dims.hidden : kDynamicDim}}));
  }
  return dims;
}

// The shapes of Y and of Y_h / Y_c.
Shape YShape(const RnnConfig& cfg, const RnnDims& d) {
  return cfg.layout == 0 ? Shape{d.seq, cfg.num_dirs, d.batch, d.hidden} : Shape{d.batch, d.seq, cfg.num_dirs, d.hidden};
}
Shape StateShape(const RnnConfig& cfg, const RnnDims& d) {
  return cfg.layout == 0 ? Shape{cfg.num_dirs, d.batch, d.hidden} : Shape{d.batch, cfg.num_dirs, d.hidden};
}

std::array<const Shape*, kNumSlots> InfoShapes(const OpContext& ctx) {
  std::array<const Shape*, kNumSlots> shapes{};
  for (size_t i = 0; i < kNumSlots; ++i) {
    if (ctx.has_input(i) && ctx.input(i).has_shape) shapes[i] = &ctx.input(i).shape;
  }
  return shapes;
}

// sequence_lens values must lie in [0, seq_length].
Status CheckSeqLens(const int32_t* lens, int64_t batch, int64_t seq) {
  for (int64_t b = 0; b < batch; ++b) {
    if (lens[b] < 0 || lens[b] > seq) {
      return Error(StatusCode::kInvalidArgument, "input 'sequence_lens' has value ", lens[b], " for batch row ", b,
                   ", outside [0, seq_length=", seq, "]");
    }
  }
  return Status::Ok();
}

Status InferRecurrent(OpContext& ctx, CellKind kind) {
  TSR_ASSIGN_OR_RETURN(const RnnConfig cfg, ReadConfig(*ctx.attrs, kind));
  TSR_ASSIGN_OR_RETURN(const RnnDims dims, CheckShapes(cfg, InfoShapes(ctx)));
  if (const Tensor* lens = ctx.constant(kSeqLens); lens != nullptr && lens->dtype == DType::kI32 &&
                                                   lens->rank() == 1 && Known(dims.seq)) {
    TSR_RETURN_IF_ERROR(CheckSeqLens(lens->data_as<int32_t>(), lens->dim(0), dims.seq));
  }
  const bool rank_known = ctx.has_input(kX) && ctx.input(kX).has_shape;
  for (size_t o = 0; o < ctx.outputs.size(); ++o) {
    TensorInfo& out = ctx.outputs[o];
    out.dtype = DType::kF32;
    out.has_shape = rank_known;
    out.shape = !rank_known ? Shape{} : o == kY ? YShape(cfg, dims) : StateShape(cfg, dims);
  }
  return Status::Ok();
}

OpCost RecurrentCost(const OpContext& ctx, CellKind kind) {
  OpCost cost;
  StatusOr<RnnConfig> cfg = ReadConfig(*ctx.attrs, kind);
  if (!cfg.ok()) return cost;
  StatusOr<RnnDims> dims = CheckShapes(cfg.value(), InfoShapes(ctx));
  if (!dims.ok()) return cost;
  const RnnDims& d = dims.value();
  if (!Known(d.seq) || !Known(d.batch) || !Known(d.input) || !Known(d.hidden)) return cost;
  // The two products dominate: 2 * G * H * (I + H) per row, step and
  // direction (the gate epilogue's few dozen FLOPs per element are left
  // out, as benchmarks quote GEMM-equivalent throughput).
  // In double: beside a 0 dim (X [0, 0, 2^62] with W's input_size not
  // known yet) input_size is bounded by nothing, and the int64 products
  // would wrap.
  cost.flops = 2.0 * static_cast<double>(GatesOf(kind)) * static_cast<double>(d.hidden) *
               (static_cast<double>(d.input) + static_cast<double>(d.hidden)) * static_cast<double>(d.seq) *
               static_cast<double>(d.batch) * static_cast<double>(cfg.value().num_dirs);
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.has_input(i)) cost.bytes_read += KnownElements(ctx.input(i)) * 4;
  }
  for (const TensorInfo& out : ctx.outputs) cost.bytes_written += KnownElements(out) * 4;
  return cost;
}

// Floats rounded up to whole 64-byte lines, so carved scratch pieces stay
// 64-byte aligned (packed panels require it).
int64_t AlignFloats(int64_t n) { return (n + 15) / 16 * 16; }

// The recurrent weights' packed layouts of one node: the product of every
// gate from H_{t-1}, except for GRU under linear_before_reset 0, whose
// candidate multiplies r . H_{t-1} and is packed apart.
struct RecurrentLayouts {
  RnnPackedLayout from_h;
  RnnPackedLayout candidate;  // gates == 0 unless GRU with linear_before_reset 0
};

RecurrentLayouts MakeLayouts(CellKind kind, bool linear_before_reset, int64_t hidden, int64_t chunk_width) {
  RecurrentLayouts l;
  const bool split = kind == CellKind::kGru && !linear_before_reset;
  l.from_h = RnnPackedLayout{hidden, split ? 2 : GatesOf(kind), 0, chunk_width};
  if (split) l.candidate = RnnPackedLayout{hidden, 1, 2 * hidden, chunk_width};
  return l;
}

// Weights packed once at kernel creation (constant W and R).
struct Prepacked {
  PackedBF32 w;               // W^T, [I, G*H] per direction, for the projection GEMM
  AlignedBuffer r;            // R per direction: from_h layout, then candidate layout
  RecurrentLayouts layouts;   // chunk_width 0: R not prepacked
};

// Packs R of every direction into `out` (from_h sets, then candidate sets).
void PackRecurrent(const float* r, int64_t num_dirs, int64_t hidden, int64_t gates, const RecurrentLayouts& l,
                   float* out) {
  const int64_t from_h = RnnPackedFloats(l.from_h);
  const int64_t cand = l.candidate.gates > 0 ? RnnPackedFloats(l.candidate) : 0;
  for (int64_t d = 0; d < num_dirs; ++d) {
    const float* rd = r + d * gates * hidden * hidden;
    PackRnnWeights(rd, l.from_h, out + d * from_h);
    if (cand > 0) PackRnnWeights(rd, l.candidate, out + num_dirs * from_h + d * cand);
  }
}

int64_t RecurrentFloats(const RecurrentLayouts& l, int64_t num_dirs) {
  return num_dirs * (RnnPackedFloats(l.from_h) + (l.candidate.gates > 0 ? RnnPackedFloats(l.candidate) : 0));
}

class RecurrentKernel final : public Kernel {
 public:
  RecurrentKernel(RnnConfig cfg, Prepacked prepacked) : cfg_(cfg), pre_(std::move(prepacked)) {}

  Status Run(KernelContext& ctx) const override {
    const char* op = OpName(cfg_.kind);
    std::array<const Shape*, kNumSlots> shapes{};
    for (size_t i = 0; i < kNumSlots; ++i) {
      const Tensor* t = ctx.input(i);
      if (t == nullptr) continue;
      const DType want = i == kSeqLens ? DType::kI32 : DType::kF32;
      if (t->dtype != want) {
        return Error(StatusCode::kInvalidArgument, op, ": input '", kInputNames[i], "' has dtype ",
                     DTypeName(t->dtype), ", expected ", DTypeName(want));
      }
      if (t->data == nullptr && t->NumElements() != 0) {
        return Error(StatusCode::kInvalidArgument, op, ": input '", kInputNames[i], "' has no data");
      }
      shapes[i] = &t->shape;
    }
    for (size_t i : {kX, kW, kR}) {
      if (shapes[i] == nullptr) {
        return Error(StatusCode::kInvalidArgument, op, ": required input '", kInputNames[i], "' is missing");
      }
    }
    StatusOr<RnnDims> checked = CheckShapes(cfg_, shapes);
    if (!checked.ok()) return checked.status().WithContext(op);
    const RnnDims dims = checked.value();
    const int32_t* lens = ctx.input(kSeqLens) != nullptr ? ctx.input(kSeqLens)->data_as<int32_t>() : nullptr;
    if (lens != nullptr) {
      Status s = CheckSeqLens(lens, dims.batch, dims.seq);
      if (!s.ok()) return s.WithContext(op);
    }
    for (size_t o = 0; o < ctx.num_outputs(); ++o) {
      const Tensor* out = ctx.output(o);
      if (out == nullptr) continue;
      const Shape want = o == kY ? YShape(cfg_, dims) : StateShape(cfg_, dims);
      if (out->dtype != DType::kF32 || out->shape != want) {
        return Error(StatusCode::kInternal, op, ": output ", o, " is ", DTypeName(out->dtype), " ",
                     ShapeToString(out->shape), ", expected f32 ", ShapeToString(want));
      }
    }
    // Nothing to write. This also keeps Compute's scratch sizes from
    // wrapping: beside seq_length 0 the batch can be huge (X [0, 2^62, 4],
    // called without the loader's element limit) when Y_h and Y_c are not
    // wanted.
    bool any_output = false;
    for (size_t o = 0; o < ctx.num_outputs(); ++o) {
      any_output = any_output || (ctx.output(o) != nullptr && ctx.output(o)->NumElements() > 0);
    }
    if (!any_output) return Status::Ok();
    return Compute(ctx, dims, lens);
  }

 private:
  Status Compute(KernelContext& ctx, const RnnDims& dims, const int32_t* lens) const;

  RnnConfig cfg_;
  Prepacked pre_;
};

Status RecurrentKernel::Compute(KernelContext& ctx, const RnnDims& dims, const int32_t* lens) const {
  const int64_t nd = cfg_.num_dirs, seq = dims.seq, batch = dims.batch, in = dims.input, n = dims.hidden;
  const int64_t gates = GatesOf(cfg_.kind);
  const int64_t gh = gates * n;
  const bool gru = cfg_.kind == CellKind::kGru, lstm = cfg_.kind == CellKind::kLstm;
  const bool lbr = cfg_.linear_before_reset;
  const bool split = gru && !lbr;  // GRU's candidate product runs as a second phase
  Tensor* y = ctx.output(kY);
  Tensor* y_h = ctx.output(kYH);
  Tensor* y_c = lstm ? ctx.output(kYC) : nullptr;
  const float* x = ctx.input(kX)->data_as<float>();
  const float* w = ctx.input(kW)->data_as<float>();
  const float* r = ctx.input(kR)->data_as<float>();
  const float* bias_in = ctx.input(kB) != nullptr ? ctx.input(kB)->data_as<float>() : nullptr;
  const float* init_h = ctx.input(kInitialH) != nullptr ? ctx.input(kInitialH)->data_as<float>() : nullptr;
  const float* init_c = lstm && ctx.input(kInitialC) != nullptr ? ctx.input(kInitialC)->data_as<float>() : nullptr;
  const float* peephole = lstm && ctx.input(kP) != nullptr ? ctx.input(kP)->data_as<float>() : nullptr;

  // Weights: the prepacked ones when they were packed for the current
  // target, else packed into scratch below (only tests switch targets; a
  // non-constant W or R is packed every run).
  const int64_t width = GemmF32PanelWidth();
  const bool pre_w = pre_.w.count() == nd && pre_.w.panel_width() == width;
  const int64_t chunk_width = RnnChunkWidth();
  const bool pre_r = pre_.layouts.from_h.chunk_width == chunk_width;
  const RecurrentLayouts layouts = MakeLayouts(cfg_.kind, lbr, n, chunk_width);
  const int64_t w_floats = pre_w ? 0 : AlignFloats(PackedBF32Floats(in, gh, width));

  // One scratch block for everything, carved into 64-byte-aligned pieces.
  const int64_t state = AlignFloats(batch * n);
  const int64_t xw_floats = AlignFloats(seq * batch * gh);
  const int64_t units = RnnStepUnitCount(n, batch, nd);
  const int64_t prod_cols = std::max(RnnUnitColumns(layouts.from_h),
                                     split ? RnnUnitColumns(layouts.candidate) : int64_t{0});
  const int64_t sizes[] = {
      xw_floats * nd,                        // 0 input projections
      AlignFloats(units * RnnUnitRows(batch) * prod_cols),  // 1 per-unit products
      2 * state * nd,                        // 2 H, double-buffered
      lstm ? state * nd : 0,                 // 3 C
      split ? state * nd : 0,                // 4 GRU z
      split ? state * nd : 0,                // 5 GRU r . H
      AlignFloats(gh) * nd,                  // 6 projection bias
      gru && lbr ? AlignFloats(n) * nd : 0,  // 7 GRU Rbh
      w_floats * nd,                         // 8 packed W (when not prepacked)
      pre_r ? 0 : AlignFloats(RecurrentFloats(layouts, nd)),  // 9 packed R (when not prepacked)
  };
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  TSR_ASSIGN_OR_RETURN(void* block, ctx.Scratch(static_cast<size_t>(std::max<int64_t>(total, 16)) * sizeof(float)));
  float* pieces[std::size(sizes)];
  float* cursor = static_cast<float*>(block);
  for (size_t i = 0; i < std::size(sizes); ++i) {
    pieces[i] = cursor;
    cursor += sizes[i];
  }
  float* xw = pieces[0];
  float* hs = pieces[2];
  float* cs = pieces[3];
  float* bias = pieces[6];
  float* rbh = pieces[7];

  PackedBF32View w_view[2];
  for (int64_t d = 0; d < nd; ++d) {
    if (pre_w) {
      w_view[d] = pre_.w.view(d);
    } else {
      float* dst = pieces[8] + d * w_floats;
      PackBF32(w + d * gh * in, in, true, in, gh, width, dst, ctx.runner());
      w_view[d] = PackedBF32View{dst, in, gh, width};
    }
  }
  const float* packed_r = pre_r ? static_cast<const float*>(pre_.r.data()) : pieces[9];
  if (!pre_r) PackRecurrent(r, nd, n, gates, layouts, pieces[9]);

  // Biases: Wb + Rb folded into the projection, except GRU's candidate
  // under linear_before_reset, whose Rbh must stay inside r . (...).
  for (int64_t d = 0; d < nd; ++d) {
    float* bd = bias + d * AlignFloats(gh);
    const float* wb = bias_in != nullptr ? bias_in + d * 2 * gh : nullptr;
    for (int64_t i = 0; i < gh; ++i) {
      const bool keep_apart = gru && lbr && i >= 2 * n;
      bd[i] = wb == nullptr ? 0.0f : keep_apart ? wb[i] : wb[i] + wb[gh + i];
      if (keep_apart) rbh[d * AlignFloats(n) + (i - 2 * n)] = wb == nullptr ? 0.0f : wb[gh + i];
    }
  }

  // Initial state, from [D, batch, H] (layout 0) or [batch, D, H]. H lives
  // in buffer 0 of each direction's pair before the first step.
  const auto state_offset = [&](int64_t d, int64_t b) {
    return cfg_.layout == 0 ? (d * batch + b) * n : (b * nd + d) * n;
  };
  const auto h_buffer = [&](int64_t d, int64_t which) { return hs + (2 * d + which) * state; };
  for (int64_t d = 0; d < nd; ++d) {
    for (int64_t b = 0; b < batch; ++b) {
      float* h_row = h_buffer(d, 0) + b * n;
      if (init_h != nullptr) {
        std::memcpy(h_row, init_h + state_offset(d, b), static_cast<size_t>(n) * sizeof(float));
      } else {
        std::fill(h_row, h_row + n, 0.0f);
      }
      if (!lstm) continue;
      float* c_row = cs + d * state + b * n;
      if (init_c != nullptr) {
        std::memcpy(c_row, init_c + state_offset(d, b), static_cast<size_t>(n) * sizeof(float));
      } else {
        std::fill(c_row, c_row + n, 0.0f);
      }
    }
  }
  if (split) std::fill(pieces[5], pieces[5] + sizes[5], 0.0f);  // r . H of finished rows is read, never used

  // Input projections of all steps: X is [seq * batch, I] in either layout.
  if (seq * batch > 0) {
    std::array<GemmF32Params, 2> proj{};
    for (int64_t d = 0; d < nd; ++d) {
      GemmF32Params& p = proj[d];
      p.m = seq * batch;
      p.n = gh;
      p.k = in;
      p.a = x;
      p.lda = std::max<int64_t>(in, 1);
      p.b = w_view[d];
      p.c = bias + d * AlignFloats(gh);
      p.c_stride_m = 0;
      p.c_stride_n = 1;
      p.beta = 1.0f;
      p.y = xw + d * xw_floats;
      p.ldy = gh;
    }
    TSR_RETURN_IF_ERROR(GemmF32Batch(proj.data(), nd, ctx.runner()));
  }

  // Step parameters; step, the state buffers and the operands change per
  // step or phase, nothing is allocated in the loop.
  RnnStepParams sp;
  sp.hidden = n;
  sp.batch = batch;
  sp.num_dirs = nd;
  sp.seq_length = seq;
  sp.seq_lens = lens;
  sp.reverse[0] = cfg_.reverse;
  sp.reverse[1] = true;
  sp.xw_gates = gates;
  sp.xw_t_stride = cfg_.layout == 0 ? batch : 1;
  sp.xw_b_stride = cfg_.layout == 0 ? 1 : seq;
  sp.prod = pieces[1];
  if (y != nullptr) {
    sp.y = y->data_as<float>();
    sp.y_t_stride = cfg_.layout == 0 ? nd * batch * n : nd * n;
    sp.y_d_stride = cfg_.layout == 0 ? batch * n : n;
    sp.y_b_stride = cfg_.layout == 0 ? n : seq * nd * n;
  }
  sp.input_forget = cfg_.input_forget;
  sp.linear_before_reset = lbr;
  sp.has_clip = cfg_.has_clip;
  sp.clip = cfg_.clip;
  const int64_t from_h_floats = RnnPackedFloats(layouts.from_h);
  const int64_t cand_floats = split ? RnnPackedFloats(layouts.candidate) : 0;
  for (int64_t d = 0; d < nd; ++d) {
    sp.xw[d] = xw + d * xw_floats;
    sp.c[d] = lstm ? cs + d * state : nullptr;
    sp.z[d] = split ? pieces[4] + d * state : nullptr;
    sp.rh[d] = split ? pieces[5] + d * state : nullptr;
    sp.rbh[d] = gru && lbr ? rbh + d * AlignFloats(n) : nullptr;
    sp.peephole[d] = peephole != nullptr ? peephole + d * 3 * n : nullptr;
    for (int k = 0; k < 3; ++k) sp.act[d][k] = cfg_.act[d][k];
  }
  const RnnStepKind main_kind =
      cfg_.kind == CellKind::kRnn ? RnnStepKind::kRnn : lstm ? RnnStepKind::kLstm : RnnStepKind::kGruUpdate;

  int64_t steps = seq;
  if (lens != nullptr) steps = batch > 0 ? *std::max_element(lens, lens + batch) : 0;
  // A unit's product costs rows * H * gates * 64 FMAs.
  const int64_t unit_fmas = std::max<int64_t>(1, RnnUnitRows(batch) * n * gates * std::min(n, kRnnHiddenBlock));
  const int64_t grain = std::max<int64_t>(1, kStepGrainFmas / unit_fmas);
  const auto run_phase = [&](RnnStepParams& p) {
    bool ok = true;
    ctx.ParallelFor(units, grain, [&](int64_t b, int64_t e) {
      if (!RnnStepF32(p, b, e)) ok = false;  // only a target switch mid-run could cause it
    });
    return ok ? Status::Ok() : Error(StatusCode::kInternal, OpName(cfg_.kind), ": packed weights do not match the target");
  };
  int64_t cur = 0;  // which H buffer holds H_{t-1}
  for (int64_t s = 0; s < steps && batch > 0; ++s) {
    sp.step = s;
    for (int64_t d = 0; d < nd; ++d) {
      sp.h_prev[d] = h_buffer(d, cur);
      sp.a[d] = sp.h_prev[d];
      sp.packed[d] = packed_r + d * from_h_floats;
    }
    sp.layout = layouts.from_h;
    if (split) {
      sp.kind = RnnStepKind::kGruReset;
      for (int64_t d = 0; d < nd; ++d) sp.h_next[d] = nullptr;
      TSR_RETURN_IF_ERROR(run_phase(sp));
      for (int64_t d = 0; d < nd; ++d) {
        sp.a[d] = sp.rh[d];
        sp.packed[d] = packed_r + nd * from_h_floats + d * cand_floats;
      }
      sp.layout = layouts.candidate;
    }
    sp.kind = main_kind;
    for (int64_t d = 0; d < nd; ++d) sp.h_next[d] = h_buffer(d, 1 - cur);
    TSR_RETURN_IF_ERROR(run_phase(sp));
    cur = 1 - cur;
  }

  // Y past each row's length is zero (every Y element is written either
  // by a step or here).
  if (y != nullptr && lens != nullptr) {
    for (int64_t d = 0; d < nd; ++d) {
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t t = lens[b]; t < seq; ++t) {
          float* row = sp.y + t * sp.y_t_stride + d * sp.y_d_stride + b * sp.y_b_stride;
          std::fill(row, row + n, 0.0f);
        }
      }
    }
  }
  for (int64_t d = 0; d < nd; ++d) {
    for (int64_t b = 0; b < batch; ++b) {
      const size_t bytes = static_cast<size_t>(n) * sizeof(float);
      if (y_h != nullptr) std::memcpy(y_h->data_as<float>() + state_offset(d, b), h_buffer(d, cur) + b * n, bytes);
      if (y_c != nullptr) std::memcpy(y_c->data_as<float>() + state_offset(d, b), cs + d * state + b * n, bytes);
    }
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Kernel>> CreateRecurrent(const OpContext& ctx, CellKind kind) {
  TSR_ASSIGN_OR_RETURN(const RnnConfig cfg, ReadConfig(*ctx.attrs, kind));
  Prepacked pre;
  StatusOr<RnnDims> dims = CheckShapes(cfg, InfoShapes(ctx));
  if (dims.ok() && Known(dims.value().hidden)) {
    const int64_t n = dims.value().hidden;
    const int64_t gates = GatesOf(kind);
    const int64_t nd = cfg.num_dirs;
    // Constants of the wrong size are left to Run, which reports them.
    const Tensor* w = ctx.constant(kW);
    if (w != nullptr && w->dtype == DType::kF32 && w->rank() == 3 && w->NumElements() == nd * gates * n * w->dim(2)) {
      const int64_t in = w->dim(2);
      TSR_ASSIGN_OR_RETURN(pre.w, PackedBF32::Pack(w->data_as<float>(), in, true, in, gates * n, nd, gates * n * in));
    }
    const Tensor* r = ctx.constant(kR);
    if (r != nullptr && r->dtype == DType::kF32 && r->NumElements() == nd * gates * n * n) {
      const RecurrentLayouts layouts = MakeLayouts(kind, cfg.linear_before_reset, n, RnnChunkWidth());
      TSR_ASSIGN_OR_RETURN(pre.r, AlignedBuffer::Allocate(static_cast<size_t>(
                                      std::max<int64_t>(RecurrentFloats(layouts, nd), 1)) * sizeof(float)));
      PackRecurrent(r->data_as<float>(), nd, n, gates, layouts, static_cast<float*>(pre.r.data()));
      pre.layouts = layouts;
    }
  }
  return std::unique_ptr<Kernel>(std::make_unique<RecurrentKernel>(cfg, std::move(pre)));
}

OpDef RecurrentDef(CellKind kind, bool v14) {
  using P = ParamDef::Presence;
  OpDef def;
  def.op_type = OpName(kind);
  def.since_version = v14 ? 14 : 7;
  def.until_version = v14 ? kMaxOpVersion : 13;
  def.inputs = {ParamDef{"X", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"W", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"R", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"B", P::kOptional, {DType::kF32}, "T"},
                ParamDef{"sequence_lens", P::kOptional, {DType::kI32}},
                ParamDef{"initial_h", P::kOptional, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", P::kOptional, {DType::kF32}, "T"},
                 ParamDef{"Y_h", P::kOptional, {DType::kF32}, "T"}};
  if (kind == CellKind::kLstm) {
    def.inputs.push_back(ParamDef{"initial_c", P::kOptional, {DType::kF32}, "T"});
    def.inputs.push_back(ParamDef{"P", P::kOptional, {DType::kF32}, "T"});
    def.outputs.push_back(ParamDef{"Y_c", P::kOptional, {DType::kF32}, "T"});
  }
  def.attributes = {
      AttrDef{"activation_alpha", AttrType::kFloats, false, Attribute()},
      AttrDef{"activation_beta", AttrType::kFloats, false, Attribute()},
      AttrDef{"activations", AttrType::kStrings, false, Attribute()},
      AttrDef{"clip", AttrType::kFloat, false, Attribute()},
      AttrDef{"direction", AttrType::kString, false, Attribute::String("forward")},
      AttrDef{"hidden_size", AttrType::kInt, false, Attribute()},
  };
  if (kind == CellKind::kGru) {
    def.attributes.push_back(AttrDef{"linear_before_reset", AttrType::kInt, false, Attribute::Int(0)});
  }
  if (kind == CellKind::kLstm) {
    def.attributes.push_back(AttrDef{"input_forget", AttrType::kInt, false, Attribute::Int(0)});
  }
  if (v14) def.attributes.push_back(AttrDef{"layout", AttrType::kInt, false, Attribute::Int(0)});
  def.infer_shapes = [kind](OpContext& ctx) { return InferRecurrent(ctx, kind); };
  def.cost = [kind](const OpContext& ctx) { return RecurrentCost(ctx, kind); };
  def.create_kernel = [kind](const OpContext& ctx) { return CreateRecurrent(ctx, kind); };
  return def;
}

}  // namespace

Status RegisterRnnOps(OpRegistrar& registrar) {
  for (CellKind kind : {CellKind::kRnn, CellKind::kGru, CellKind::kLstm}) {
    TSR_RETURN_IF_ERROR(registrar.Register(RecurrentDef(kind, false)));
    TSR_RETURN_IF_ERROR(registrar.Register(RecurrentDef(kind, true)));
  }
  return Status::Ok();
}

}  // namespace tessera::ops
