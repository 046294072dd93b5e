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
// Execution (DESIGN.md, "Recurrences"): W and R are packed once when the
// kernel is created if they are constants (else into scratch per run); the
// input projection of every time step and direction is one GemmF32Batch
// with the folded biases as C; each time step then runs the recurrent
// products of all directions as one GemmF32Batch over the [batch, H] state
// and one fused gate epilogue (rnn-inl.h) over (direction, row, hidden
// block) units. All buffers come from one Scratch call before the time
// loop; nothing is allocated inside it.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
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

// Epilogue elements per ParallelFor chunk: a gate costs ~20-40 FLOPs per
// element (one transcendental), so 2048 elements per gate row amount to
// tens of microseconds, well above TBB's ~1 us task cost; smaller steps
// stay on one thread.
constexpr int64_t kEpilogueGrainElements = 2048;

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

double KnownElements(const TensorInfo& info) {
  if (!info.has_shape || !IsStatic(info.shape)) return 0;
  return static_cast<double>(NumElements(info.shape));
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
  cost.flops = 2.0 * static_cast<double>(GatesOf(kind) * d.hidden * (d.input + d.hidden)) *
               static_cast<double>(d.seq * d.batch * cfg.value().num_dirs);
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.has_input(i)) cost.bytes_read += KnownElements(ctx.input(i)) * 4;
  }
  for (const TensorInfo& out : ctx.outputs) cost.bytes_written += KnownElements(out) * 4;
  return cost;
}

// Floats rounded up to whole 64-byte lines, so carved scratch pieces stay
// 64-byte aligned (packed panels require it).
int64_t AlignFloats(int64_t n) { return (n + 15) / 16 * 16; }

// A packed weight set: one view per direction (two sub-matrices for GRU).
struct PackedViews {
  PackedBF32View v[2];
};

// The weights as packed once at kernel creation; empty when not constant.
struct Prepacked {
  PackedBF32 w;   // W^T, [I, G*H] per direction
  PackedBF32 r;   // R^T: all gates, or z and r (GRU, linear_before_reset 0)
  PackedBF32 rh;  // GRU, linear_before_reset 0: Rh^T, [H, H] per direction
};

// What to pack: op(B) = src^T for `count` directions, src [n, k] with row
// stride k, matrix d at src + d * stride.
struct PackSpec {
  const float* src;
  int64_t k, n, count, stride;
};

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
  // GRU under linear_before_reset 0 multiplies r . H_{t-1} by Rh, so its
  // z/r and candidate products are separate; otherwise one product covers
  // every gate.
  const bool split_r = gru && !lbr;
  const int64_t gr_cols = split_r ? 2 * n : gh;
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

  // Weights: the prepacked ones when they match the current target's panel
  // width, else packed into scratch below.
  const int64_t width = GemmF32PanelWidth();
  const std::array<PackSpec, 3> specs = {
      PackSpec{w, in, gh, nd, gh * in},
      PackSpec{r, n, gr_cols, nd, gh * n},
      PackSpec{split_r ? r + 2 * n * n : nullptr, n, n, nd, gh * n},
  };
  const std::array<const PackedBF32*, 3> pre = {&pre_.w, &pre_.r, &pre_.rh};
  const int num_packs = split_r ? 3 : 2;
  std::array<bool, 3> use_pre{};
  std::array<int64_t, 3> pack_floats{};
  for (int i = 0; i < num_packs; ++i) {
    use_pre[i] = pre[i]->count() == nd && pre[i]->panel_width() == width;
    pack_floats[i] = use_pre[i] ? 0 : AlignFloats(PackedBF32Floats(specs[i].k, specs[i].n, width)) * nd;
  }

  // One scratch block for everything, carved into 64-byte-aligned pieces.
  const int64_t state = AlignFloats(batch * n);
  const int64_t xw_floats = AlignFloats(seq * batch * gh);
  const int64_t sizes[] = {
      xw_floats * nd,                          // 0 input projections
      AlignFloats(batch * gr_cols) * nd,       // 1 recurrent products
      split_r ? state * nd : 0,                // 2 GRU candidate products
      state * nd,                              // 3 H
      lstm ? state * nd : 0,                   // 4 C
      gru && !lbr ? state * nd : 0,            // 5 GRU z
      gru && !lbr ? state * nd : 0,            // 6 GRU r . H
      AlignFloats(gh) * nd,                    // 7 projection bias
      gru && lbr ? AlignFloats(n) * nd : 0,    // 8 GRU Rbh
      pack_floats[0], pack_floats[1], pack_floats[2],
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
  float* gr = pieces[1];
  float* ghp = pieces[2];
  float* hs = pieces[3];
  float* cs = pieces[4];
  float* zs = pieces[5];
  float* rhs = pieces[6];
  float* bias = pieces[7];
  float* rbh = pieces[8];

  std::array<PackedViews, 3> packed{};
  for (int i = 0; i < num_packs; ++i) {
    for (int64_t d = 0; d < nd; ++d) {
      if (use_pre[i]) {
        packed[i].v[d] = pre[i]->view(d);
        continue;
      }
      float* dst = pieces[9 + i] + d * (pack_floats[i] / nd);
      PackBF32(specs[i].src + d * specs[i].stride, specs[i].k, true, specs[i].k, specs[i].n, width, dst,
               ctx.runner());
      packed[i].v[d] = PackedBF32View{dst, specs[i].k, specs[i].n, width};
    }
  }

  // Biases: Wb + Rb folded into the projection, except GRU's candidate
  // under linear_before_reset, whose Rbh must stay inside r . (...).
  for (int64_t d = 0; d < nd; ++d) {
    float* bd = bias + d * AlignFloats(gh);
    const float* wb = bias_in != nullptr ? bias_in + d * 2 * gh : nullptr;
    for (int64_t i = 0; i < gh; ++i) {
      const bool split = gru && lbr && i >= 2 * n;
      bd[i] = wb == nullptr ? 0.0f : split ? wb[i] : wb[i] + wb[gh + i];
      if (split) rbh[d * AlignFloats(n) + (i - 2 * n)] = wb == nullptr ? 0.0f : wb[gh + i];
    }
  }

  // Initial state, from [D, batch, H] (layout 0) or [batch, D, H].
  const auto state_offset = [&](int64_t d, int64_t b) {
    return cfg_.layout == 0 ? (d * batch + b) * n : (b * nd + d) * n;
  };
  for (int64_t d = 0; d < nd; ++d) {
    for (int64_t b = 0; b < batch; ++b) {
      float* h_row = hs + d * state + b * n;
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
      p.b = packed[0].v[d];
      p.c = bias + d * AlignFloats(gh);
      p.c_stride_m = 0;
      p.c_stride_n = 1;
      p.beta = 1.0f;
      p.y = xw + d * xw_floats;
      p.ldy = gh;
    }
    TSR_RETURN_IF_ERROR(GemmF32Batch(proj.data(), nd, ctx.runner()));
  }

  // Step parameters; only `step` changes inside the loop.
  RnnStepParams sp;
  sp.hidden = n;
  sp.batch = batch;
  sp.num_dirs = nd;
  sp.seq_length = seq;
  sp.seq_lens = lens;
  sp.reverse[0] = cfg_.reverse;
  sp.reverse[1] = true;
  sp.xw_t_stride = cfg_.layout == 0 ? batch : 1;
  sp.xw_b_stride = cfg_.layout == 0 ? 1 : seq;
  sp.gr_cols = gr_cols;
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
  for (int64_t d = 0; d < nd; ++d) {
    sp.xw[d] = xw + d * xw_floats;
    sp.gr[d] = gr + d * AlignFloats(batch * gr_cols);
    sp.gh[d] = split_r ? ghp + d * state : nullptr;
    sp.h[d] = hs + d * state;
    sp.c[d] = lstm ? cs + d * state : nullptr;
    sp.z[d] = gru && !lbr ? zs + d * state : nullptr;
    sp.rh[d] = gru && !lbr ? rhs + d * state : nullptr;
    sp.rbh[d] = gru && lbr ? rbh + d * AlignFloats(n) : nullptr;
    sp.peephole[d] = peephole != nullptr ? peephole + d * 3 * n : nullptr;
    for (int k = 0; k < 3; ++k) sp.act[d][k] = cfg_.act[d][k];
  }

  // Recurrent products, built once: from H_{t-1} (all but GRU's candidate
  // under linear_before_reset 0, which multiplies r . H_{t-1}).
  std::array<GemmF32Params, 2> from_h{};
  std::array<GemmF32Params, 2> from_rh{};
  const auto product = [&](const float* a, const PackedBF32View& b, float* out) {
    GemmF32Params p;
    p.m = batch;
    p.n = b.n;
    p.k = n;
    p.a = a;
    p.lda = n;
    p.b = b;
    p.y = out;
    p.ldy = b.n;
    return p;
  };
  for (int64_t d = 0; d < nd; ++d) {
    from_h[d] = product(sp.h[d], packed[1].v[d], gr + d * AlignFloats(batch * gr_cols));
    if (split_r) from_rh[d] = product(sp.rh[d], packed[2].v[d], ghp + d * state);
  }

  int64_t steps = seq;
  if (lens != nullptr) steps = batch > 0 ? *std::max_element(lens, lens + batch) : 0;
  const int64_t units = RnnStepUnits(sp);
  const int64_t grain = std::max<int64_t>(1, kEpilogueGrainElements / (kRnnHiddenBlock * gates));
  for (int64_t s = 0; s < steps && batch > 0; ++s) {
    sp.step = s;
    TSR_RETURN_IF_ERROR(GemmF32Batch(from_h.data(), nd, ctx.runner()));
    if (cfg_.kind == CellKind::kRnn) {
      ctx.ParallelFor(units, grain, [&](int64_t b, int64_t e) { RnnCellStepF32(sp, b, e); });
    } else if (lstm) {
      ctx.ParallelFor(units, grain, [&](int64_t b, int64_t e) { LstmCellStepF32(sp, b, e); });
    } else {
      if (!lbr) {
        ctx.ParallelFor(units, grain, [&](int64_t b, int64_t e) { GruResetStepF32(sp, b, e); });
        TSR_RETURN_IF_ERROR(GemmF32Batch(from_rh.data(), nd, ctx.runner()));
      }
      ctx.ParallelFor(units, grain, [&](int64_t b, int64_t e) { GruUpdateStepF32(sp, b, e); });
    }
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
  for (auto [out, src] : {std::pair<Tensor*, const float*>{y_h, hs}, std::pair<Tensor*, const float*>{y_c, cs}}) {
    if (out == nullptr) continue;
    for (int64_t d = 0; d < nd; ++d) {
      for (int64_t b = 0; b < batch; ++b) {
        std::memcpy(out->data_as<float>() + state_offset(d, b), src + d * state + b * n,
                    static_cast<size_t>(n) * sizeof(float));
      }
    }
  }
  return Status::Ok();
}

// Packs a constant weight for every direction; false (nothing packed) when
// the constant does not have the expected size, which Run then reports.
StatusOr<PackedBF32> PackConstant(const Tensor* t, const PackSpec& spec, int64_t expected_elements) {
  if (t == nullptr || t->dtype != DType::kF32 || t->NumElements() != expected_elements) return PackedBF32();
  return PackedBF32::Pack(spec.src, spec.k, true, spec.k, spec.n, spec.count, spec.stride);
}

StatusOr<std::unique_ptr<Kernel>> CreateRecurrent(const OpContext& ctx, CellKind kind) {
  TSR_ASSIGN_OR_RETURN(const RnnConfig cfg, ReadConfig(*ctx.attrs, kind));
  Prepacked pre;
  StatusOr<RnnDims> dims = CheckShapes(cfg, InfoShapes(ctx));
  if (dims.ok()) {
    const RnnDims& d = dims.value();
    const int64_t gh = GatesOf(kind) * d.hidden;
    const int64_t nd = cfg.num_dirs;
    const Tensor* w = ctx.constant(kW);
    const Tensor* r = ctx.constant(kR);
    if (w != nullptr && Known(d.hidden) && w->rank() == 3) {
      const int64_t in = w->dim(2);
      TSR_ASSIGN_OR_RETURN(pre.w, PackConstant(w, PackSpec{w->data_as<float>(), in, gh, nd, gh * in}, nd * gh * in));
    }
    if (r != nullptr && Known(d.hidden)) {
      const int64_t n = d.hidden;
      const bool split_r = kind == CellKind::kGru && !cfg.linear_before_reset;
      const float* src = r->data_as<float>();
      TSR_ASSIGN_OR_RETURN(pre.r, PackConstant(r, PackSpec{src, n, split_r ? 2 * n : gh, nd, gh * n}, nd * gh * n));
      if (split_r) {
        TSR_ASSIGN_OR_RETURN(pre.rh, PackConstant(r, PackSpec{src + 2 * n * n, n, n, nd, gh * n}, nd * gh * n));
      }
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
