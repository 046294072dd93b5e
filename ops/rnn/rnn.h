// Gate epilogues of the recurrent family (ONNX RNN, GRU, LSTM; f32).
//
// A recurrent op runs in two kinds of work (rnn_ops.cc drives them):
//   * GEMMs from gemm.h: the input projection X*W^T + bias for all time
//     steps at once, and per time step the recurrent product H_{t-1}*R^T
//     with R packed once;
//   * per time step one fused epilogue (this header) that reads the two
//     products, applies clip and the gate activations, updates the hidden
//     (and cell) state in place and writes the step's output row.
// The epilogues work on units of (direction, batch row, block of
// kRnnHiddenBlock hidden elements); callers split units with ParallelFor.
// Every element is computed by the same lane arithmetic whatever the split,
// so results are bitwise independent of the thread count. Each entry point
// dispatches once per call to the best Highway target (rnn.cc). The maths,
// gate layout and tail contract are described at the top of rnn-inl.h.
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

// Hidden elements per epilogue unit: a multiple of every target's lane
// count (up to 64 floats, 2048-bit SVE), so where whole vectors end inside
// a row depends only on the hidden size, never on the split.
inline constexpr int64_t kRnnHiddenBlock = 128;

// Everything one epilogue call needs for one time step. Arrays indexed by
// direction d in [0, num_dirs); direction 1 exists only for bidirectional
// ops and always runs in reverse.
struct RnnStepParams {
  int64_t hidden = 0;  // H
  int64_t batch = 0;
  int64_t num_dirs = 1;
  int64_t seq_length = 0;
  int64_t step = 0;  // steps already taken by every direction
  // Per-row lengths (ONNX sequence_lens, validated to [0, seq_length]);
  // null means every row has seq_length steps. A row whose length is
  // <= step is left untouched.
  const int32_t* seq_lens = nullptr;
  bool reverse[2] = {false, true};

  // Input projections, gate-major rows of gates*H floats: row (t, b) of
  // direction d starts at xw[d] + (t * xw_t_stride + b * xw_b_stride) *
  // gates * H. Bias already added (see rnn-inl.h for GRU's split).
  const float* xw[2] = {nullptr, nullptr};
  int64_t xw_t_stride = 0;
  int64_t xw_b_stride = 0;

  // Recurrent products of this step, [batch, n] row-major: gr[d] holds
  // H_{t-1} * R^T (n = gr_cols): every gate, except for GRU with
  // linear_before_reset 0, where it holds z and r only and gh[d]
  // ([batch, H]) the candidate's (r . H_{t-1}) * Rh^T.
  const float* gr[2] = {nullptr, nullptr};
  int64_t gr_cols = 0;
  const float* gh[2] = {nullptr, nullptr};

  // State [batch, H] row-major, updated in place.
  float* h[2] = {nullptr, nullptr};
  float* c[2] = {nullptr, nullptr};  // LSTM cell state

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

// Epilogue units of one step: num_dirs * batch * ceil(H / kRnnHiddenBlock).
int64_t RnnStepUnits(const RnnStepParams& p);

// H_t = f(xw + gr) for units [begin, end).
void RnnCellStepF32(const RnnStepParams& p, int64_t begin, int64_t end);

// LSTM gates, C_t and H_t for units [begin, end).
void LstmCellStepF32(const RnnStepParams& p, int64_t begin, int64_t end);

// GRU with linear_before_reset 0, phase 1: z and r from xw + gr; stores z
// and r . H_{t-1} (the input of the candidate's product) into p.z / p.rh.
void GruResetStepF32(const RnnStepParams& p, int64_t begin, int64_t end);

// GRU final phase: the candidate h_t and H_t = (1 - z) . h_t + z . H_{t-1}.
// linear_before_reset 0: reads z from p.z and the candidate product from
// p.gh; 1: computes z and r here from gr, and the candidate from gh + rbh.
void GruUpdateStepF32(const RnnStepParams& p, int64_t begin, int64_t end);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_RNN_RNN_H_
