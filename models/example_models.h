// The bundled example models, built with the public ModelBuilder. The
// program make_example_models writes them to models/; tests rebuild them
// and check the committed files are byte-identical (so they can always be
// regenerated).
#ifndef TESSERA_MODELS_EXAMPLE_MODELS_H_
#define TESSERA_MODELS_EXAMPLE_MODELS_H_

#include <cstdint>
#include <vector>

#include "tessera/model_builder.h"

namespace tessera::models {

// Deterministic weights: splitmix64, mapped to [-scale, scale]. Defined
// here (not <random>) so the bytes are the same with every standard library.
std::vector<float> DeterministicWeights(uint64_t seed, size_t count, float scale);

// gated_mlp.tess: a gated (GLU-style) MLP classifier with two independent
// branches that the executor runs concurrently.
//
//   features [batch, 32]
//     ├─ Gemm(W_a, b_a) ── Tanh ─────────────┐
//     └─ MatMul(W_b) ── Add(b_b) ── Sigmoid ─┴─ Mul ── Gemm(W_o^T, b_o) ── Softmax ── probs [batch, 10]
inline constexpr int kGatedMlpIn = 32;
inline constexpr int kGatedMlpHidden = 64;
inline constexpr int kGatedMlpClasses = 10;
void BuildGatedMlp(ModelBuilder& b);

// lstm_classifier.tess: a 2-layer LSTM sequence classifier, in the shape
// PyTorch's ONNX export gives nn.LSTM(num_layers=2) + nn.Linear: each
// layer's Y [seq, 1, batch, H] is squeezed to the next layer's X, and the
// last layer's final state Y_h feeds the head.
//
//   features [seq, batch, 16]
//     ── LSTM(32) ── Squeeze(1) ── LSTM(32).Y_h ── Squeeze(0) ── Gemm(W_o^T, b_o) ── Softmax ── probs [batch, 5]
inline constexpr int kLstmClassifierIn = 16;
inline constexpr int kLstmClassifierHidden = 32;
inline constexpr int kLstmClassifierClasses = 5;
void BuildLstmClassifier(ModelBuilder& b);

// gpt_tiny.tess: a 2-layer GPT-style decoder (pre-LayerNorm blocks, GELU
// MLP, causal tessera.Attention with a KV cache, learned positions). One
// model serves the prompt and every decoding step: the cache inputs take a
// zero-length past on the first call.
//
//   input_ids [batch, seq] ── Gather(tok_emb) ─┐
//   position_ids [batch, seq] ── Gather(pos_emb) ┴─ Add ── x
//   per layer l (past_key_l, past_value_l [batch, 4, past, 8] in;
//                present_key_l, present_value_l [batch, 4, past + seq, 8] out):
//     x += MatMul(Attention(MatMul(LN(x), Wq|Wk|Wv), causal, past_l), Wo)
//     x += MatMul(Gelu(MatMul(LN(x), W1)), W2)
//   LN(x) ── MatMul(W_head) ── logits [batch, seq, 64]
//
// position_ids is an input (not computed from seq) so that a cached step
// passes the offset of its token, past_len.
inline constexpr int kGptTinyVocab = 64;
inline constexpr int kGptTinyModel = 32;
inline constexpr int kGptTinyHeads = 4;
inline constexpr int kGptTinyHeadDim = kGptTinyModel / kGptTinyHeads;
inline constexpr int kGptTinyFf = 4 * kGptTinyModel;
inline constexpr int kGptTinyLayers = 2;
inline constexpr int kGptTinyMaxPositions = 64;
void BuildGptTiny(ModelBuilder& b);

// seq2seq_attention.tess: a GRU encoder and one step of a decoder with
// additive attention (Bahdanau, Cho and Bengio 2015), in one graph so that
// `tessera run --random-inputs` shows the whole model. The encoder runs on
// every call here; a decoding loop would run it once and feed `memory` and
// `keys` to the step (the AdditiveAttention takes W1 h precomputed as keys).
//
//   source_ids [batch, src_len] ── Gather(src_emb) ── GRU(layout 1, sequence_lens)
//     ── Squeeze ── memory [batch, src_len, 32] ── MatMul(W1) ── keys
//   src_lengths [batch] ── clamped to [0, src_len] ── GRU sequence_lens (i32), attention mask
//   prev_state [batch, 32] (s_{i-1}) ──┐
//   memory, keys, src_lengths ── tessera.AdditiveAttention(W2, v) ── context, attention [batch, src_len]
//   prev_token [batch] ── Gather(tgt_emb) ── Concat(context, ·) ── GRU(1 step, initial_h = s_{i-1})
//     ── state [batch, 32] ── Gemm(W_out^T, b_out) ── LogSoftmax ── log_probs [batch, 16]
//
// src_lengths is clamped in the graph (Cast, Sub, Relu: ONNX has no
// integer Min) because `tessera run --random-inputs` draws integers in
// [0, 9] for any src_len; a length of 0 gives zero attention weights and a
// zero context.
inline constexpr int kSeq2SeqVocab = 16;  // source and target
inline constexpr int kSeq2SeqEmbed = 16;
inline constexpr int kSeq2SeqHidden = 32;  // encoder and decoder GRUs
inline constexpr int kSeq2SeqAttn = 32;
void BuildSeq2SeqAttention(ModelBuilder& b);

// Every bundled model: the file under models/ and the function that builds
// it. make_example_models writes them all; a test checks each committed file
// is what its function builds, byte for byte.
struct ExampleModel {
  const char* file;
  void (*build)(ModelBuilder&);
};
const std::vector<ExampleModel>& ExampleModels();

}  // namespace tessera::models

#endif  // TESSERA_MODELS_EXAMPLE_MODELS_H_
