// Recurrent steps of the recurrent family (ONNX RNN, GRU, LSTM; f32).
//
// A recurrent op runs in two kinds of work (rnn_ops.cc drives them):
//   * one GEMM (gemm.h) for the input projection X*W^T + bias of every time
//     step at once;
//   * per time step one fused step (this header): the recurrent product
//     H_{t-1} * R^T against R packed once (PackRnnWeights), immediately
//     followed, while the product is still in L1, by the gate epilogue that
//     applies clip and the activations, updates the state and writes the
//     step's output row.
// The step works on units of (direction, block of kRnnHiddenBlock hidden
// elements, group of up to kRnnRowGroup batch rows): a unit computes every
// gate's columns of its block for its rows, so a block of R is read once
// per group and step and the gates of an element meet in one place. Units never share outputs and each is computed whole by one
// call, so results are bitwise independent of the split and the thread
// count. Each entry point dispatches once per call to the best Highway
// target (rnn.cc). The maths, packed layout and tail contract are described
// at the top of rnn-inl.h.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_RNN_RNN_H_
#define TESSERA_OPS_RNN_RNN_H_

#include <cstdint>
#include <string>

namespace tessera::ops {

// The activation functions ONNX's RNN, GRU and LSTM accept (ONNX
// Operators.md, RNN-14 "activations"), with their alpha/beta.
enum class RnnActivationKind : int32_t {
  kRelu,
  kTanh,
  kSigmoid,
  kAffine,           // alpha * x + beta
  kLeakyRelu,        // x < 0 ? alpha * x : x
  kThresholdedRelu,  // x > alpha ? x : 0
  kScaledTanh,       // alpha * tanh(beta * x)
  kHardSigmoid,      // max(0, min(1, alpha * x + beta))
  kElu,              // x < 0 ? alpha * (e^x - 1) : x
  kSoftsign,         // x / (1 + |x|)
  kSoftplus,         // log(1 + e^x)
};

struct RnnActivation {
  RnnActivationKind kind = RnnActivationKind::kTanh;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// Looks up an activation by its ONNX name (case-insensitive, as onnxruntime
// reads them); false for an unknown name. `uses_alpha` / `uses_beta` say
// which of activation_alpha / activation_beta it consumes, and the kind's
// alpha/beta are set to the defaults of the corresponding ONNX op
// (LeakyRelu 0.01; ThresholdedRelu 1; Elu 1; HardSigmoid 0.2 and 0.5;
// Affine 1 and 0; ScaledTanh 1 and 1).
bool ParseRnnActivation(const std::string& name, RnnActivation* out, bool* uses_alpha, bool* uses_beta);

// Hidden elements per unit. 64 keeps a unit's product (batch rows x gates x
// 64 floats; 16 KiB for an LSTM at batch 16) in L1 for the epilogue, gives
// H / 64 units per direction to spread over threads, and is a multiple of
// the chunk width of every x86 target, so full blocks need no padding.
inline constexpr int64_t kRnnHiddenBlock = 64;

// Batch rows per unit at most. A unit reads its block of R once for all its
// rows, so rows stay together up to 24 (four 6-row product tiles); larger
// batches split into row groups, which gives threads work even when H is
// small, at the cost of reading each block of R once per group.
inline constexpr int64_t kRnnRowGroup = 24;

// Rows per unit and units per step: a step has num_dirs * blocks * groups
// units (blocks = ceil(H / kRnnHiddenBlock), groups = ceil(batch /
// kRnnRowGroup)); unit u is direction u / (blocks * groups), block
// (u / groups) % blocks, row group u % groups.
inline int64_t RnnUnitRows(int64_t batch) { return batch < kRnnRowGroup ? batch : kRnnRowGroup; }
inline int64_t RnnStepUnitCount(int64_t hidden, int64_t batch, int64_t num_dirs) {
  return num_dirs * ((hidden + kRnnHiddenBlock - 1) / kRnnHiddenBlock) * ((batch + kRnnRowGroup - 1) / kRnnRowGroup);
}

// ---------------------------------------------------------------------------
// Packed recurrent weights.
//
// For one direction, the rows [row0, row0 + gates * H) of R ([G*H, H],
// ONNX layout) are stored block by block: block b holds the columns of
// hidden elements [64b, 64b + w) of each of the `gates` gates, gate-major
// (local column l = g * w + jj), split into chunks of `chunk_width`
// columns; a chunk is H rows (the reduction dim k) of chunk_width
// contiguous floats, zero-padded past the block's last column. The chunk
// width is two vectors of the target, so a packed set records it and the
// kernel refuses (the driver repacks) a width the current target does not
// use.
struct RnnPackedLayout {
  int64_t hidden = 0;       // H (and k)
  int64_t gates = 0;        // gates packed (GRU's z/r and candidate are packed apart)
  int64_t row0 = 0;         // first packed row of R
  int64_t chunk_width = 0;  // floats per chunk row
};

// Chunk width the current target's step kernel reads.
int64_t RnnChunkWidth();

// Floats of one direction's packed weights, and where block b starts.
int64_t RnnPackedFloats(const RnnPackedLayout& layout);
int64_t RnnPackedBlockOffset(const RnnPackedLayout& layout, int64_t block);

// Packs one direction: r is R[d] ([G*H, H] row-major); out holds
// RnnPackedFloats(layout) floats, 64-byte aligned.
void PackRnnWeights(const float* r, const RnnPackedLayout& layout, float* out);

// ---------------------------------------------------------------------------
// One time step.

enum class RnnStepKind : int32_t {
  kRnn,        // H_t = f(xw + H_{t-1} R^T)
  kLstm,       // gates, C_t and H_t
  kGruReset,   // GRU linear_before_reset 0, phase 1: z and r . H_{t-1}
  kGruUpdate,  // GRU final phase: candidate and H_t
};

// Everything one step call needs. Arrays indexed by direction d in
// [0, num_dirs); direction 1 exists only for bidirectional ops and always
// runs in reverse.
struct RnnStepParams {
  RnnStepKind kind = RnnStepKind::kRnn;
  int64_t hidden = 0;  // H
  int64_t batch = 0;
  int64_t num_dirs = 1;
  int64_t seq_length = 0;
  int64_t step = 0;  // steps already taken by every direction
  // Per-row lengths (ONNX sequence_lens, validated to [0, seq_length]);
  // null means every row has seq_length steps. A row whose length is
  // <= step is not updated.
  const int32_t* seq_lens = nullptr;
  bool reverse[2] = {false, true};

  // Input projections, gate-major rows of gates * H floats: row (t, b) of
  // direction d starts at xw[d] + (t * xw_t_stride + b * xw_b_stride) *
  // xw_gates * H. Bias folded in (see rnn-inl.h for GRU's split).
  const float* xw[2] = {nullptr, nullptr};
  int64_t xw_gates = 1;
  int64_t xw_t_stride = 0;
  int64_t xw_b_stride = 0;

  // The product's left operand, [batch, H] per direction (H_{t-1}, or
  // r . H_{t-1} for kGruUpdate without linear_before_reset), and the packed
  // right operand with its layout.
  const float* a[2] = {nullptr, nullptr};
  const float* packed[2] = {nullptr, nullptr};
  RnnPackedLayout layout;
  // Per-unit product buffers: unit u owns RnnUnitRows(batch) rows of
  // RnnUnitColumns(layout) floats at prod + u * RnnUnitRows(batch) *
  // RnnUnitColumns(layout).
  float* prod = nullptr;

  // State [batch, H] per direction: read from h_prev, written to h_next
  // (two buffers, since every unit reads all of H_{t-1}); the cell state is
  // element-local and updated in place.
  const float* h_prev[2] = {nullptr, nullptr};
  float* h_next[2] = {nullptr, nullptr};
  float* c[2] = {nullptr, nullptr};

  // Output Y or null: element (t, d, b, j) at y + t * y_t_stride +
  // d * y_d_stride + b * y_b_stride + j.
  float* y = nullptr;
  int64_t y_t_stride = 0;
  int64_t y_d_stride = 0;
  int64_t y_b_stride = 0;

  // LSTM peepholes [3H] in ONNX order (i, o, f), or null.
  const float* peephole[2] = {nullptr, nullptr};
  bool input_forget = false;

  // GRU: linear_before_reset; rbh[d] ([H]) is the recurrent candidate bias
  // when it is 1; z[d] and rh[d] ([batch, H]) carry z and r . H_{t-1}
  // between the two phases when it is 0.
  bool linear_before_reset = false;
  const float* rbh[2] = {nullptr, nullptr};
  float* z[2] = {nullptr, nullptr};
  float* rh[2] = {nullptr, nullptr};

  // Gate activations per direction: RNN uses [0]; GRU f=[0], g=[1];
  // LSTM f=[0], g=[1], h=[2].
  RnnActivation act[2][3];
  // Pre-activation clip to [-clip, clip]; has_clip false: none.
  bool has_clip = false;
  float clip = 0.0f;
};

// Floats per batch row of a unit's product buffer (the widest block,
// rounded up to whole chunks).
int64_t RnnUnitColumns(const RnnPackedLayout& layout);

// Runs units [begin, end) of one step. Returns false (computing nothing)
// when p.layout.chunk_width is not RnnChunkWidth().
bool RnnStepF32(const RnnStepParams& p, int64_t begin, int64_t end);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_RNN_RNN_H_
