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

}  // namespace tessera::models

#endif  // TESSERA_MODELS_EXAMPLE_MODELS_H_
