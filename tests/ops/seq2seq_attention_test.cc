// The bundled GRU encoder + additive-attention decoder step
// (models/seq2seq_attention.tess) through the public C++ API: against a
// double-precision computation written from the model's definition
// (models/example_models.h) and the formulas (GRUs by the ONNX reference of
// tests/reference/rnn_reference.h, attention and the head by loops here),
// with lengths of 0, in range and beyond src_len (clamped by the graph);
// bitwise equal at 1 and 2 threads; byte-identical to a fresh build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "models/example_models.h"
#include "tessera/model_builder.h"
#include "tessera/tessera.hpp"
#include "tests/reference/rnn_reference.h"

namespace {

using namespace tessera::models;

const std::string kModelPath = std::string(TESSERA_SOURCE_DIR) + "/models/seq2seq_attention.tess";
constexpr int64_t V = kSeq2SeqVocab, E = kSeq2SeqEmbed, H = kSeq2SeqHidden, A = kSeq2SeqAttn;

struct Inputs {
  int64_t batch = 0, src_len = 0;
  std::vector<int64_t> source, lengths, prev_token;
  std::vector<float> prev_state;
};

struct Outputs {
  std::vector<double> log_probs, state, attention;
};

// The model's computation in double, from its definition.
Outputs Reference(const Inputs& in) {
  const float s_h = 1.0f / std::sqrt(static_cast<float>(H));
  const int64_t B = in.batch, S = in.src_len;
  const std::vector<float> src_emb = DeterministicWeights(400, V * E, 1.0f);
  const std::vector<float> enc_w = DeterministicWeights(401, 3 * H * E, s_h);
  const std::vector<float> enc_r = DeterministicWeights(402, 3 * H * H, s_h);
  const std::vector<float> enc_b = DeterministicWeights(403, 6 * H, s_h);
  const std::vector<float> w1 = DeterministicWeights(404, H * A, s_h);
  const std::vector<float> w2 = DeterministicWeights(405, H * A, s_h);
  const std::vector<float> v = DeterministicWeights(406, A, 1.0f);
  const std::vector<float> tgt_emb = DeterministicWeights(407, V * E, 1.0f);
  const std::vector<float> dec_w = DeterministicWeights(408, 3 * H * (H + E), s_h);
  const std::vector<float> dec_r = DeterministicWeights(409, 3 * H * H, s_h);
  const std::vector<float> dec_b = DeterministicWeights(410, 6 * H, s_h);
  const std::vector<float> w_out = DeterministicWeights(411, V * H, 1.0f);
  const std::vector<float> b_out = DeterministicWeights(412, V, s_h);

  // Lengths clamped to [0, src_len], as the graph does.
  std::vector<int32_t> lens(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) lens[b] = static_cast<int32_t>(std::clamp<int64_t>(in.lengths[b], 0, S));

  // Encoder: embeddings [B, S, E] (batch-major) -> GRU (layout 1).
  std::vector<float> x(static_cast<size_t>(B * S * E));
  for (int64_t i = 0; i < B * S; ++i) {
    std::copy_n(src_emb.begin() + in.source[i] * E, E, x.begin() + i * E);
  }
  tessera::reference::RefRnnSpec enc;
  enc.op = "GRU";
  enc.seq = S;
  enc.batch = B;
  enc.input = E;
  enc.hidden = H;
  enc.layout = 1;
  enc.x = &x;
  enc.w = &enc_w;
  enc.r = &enc_r;
  enc.b = &enc_b;
  enc.seq_lens = &lens;
  const std::vector<double> memory = tessera::reference::RefRecurrent(enc).y;  // [B, S, 1, H]

  Outputs out;
  out.attention.assign(static_cast<size_t>(B * S), 0.0);
  std::vector<float> dec_x(static_cast<size_t>(B * (H + E)));
  for (int64_t b = 0; b < B; ++b) {
    // score_j = v . tanh(W1^T h_j + W2^T s), softmax over j < len.
    std::vector<double> q(A, 0.0);
    for (int64_t a = 0; a < A; ++a) {
      for (int64_t k = 0; k < H; ++k) q[a] += static_cast<double>(in.prev_state[b * H + k]) * w2[k * A + a];
    }
    const int64_t len = lens[b];
    std::vector<double> score(static_cast<size_t>(len));
    for (int64_t j = 0; j < len; ++j) {
      double sc = 0;
      for (int64_t a = 0; a < A; ++a) {
        double key = 0;
        for (int64_t k = 0; k < H; ++k) key += memory[(b * S + j) * H + k] * w1[k * A + a];
        sc += v[a] * std::tanh(key + q[a]);
      }
      score[j] = sc;
    }
    const double mx = len > 0 ? *std::max_element(score.begin(), score.end()) : 0.0;
    double sum = 0;
    for (int64_t j = 0; j < len; ++j) sum += std::exp(score[j] - mx);
    std::vector<double> context(H, 0.0);
    for (int64_t j = 0; j < len; ++j) {
      const double a_j = std::exp(score[j] - mx) / sum;
      out.attention[b * S + j] = a_j;
      for (int64_t k = 0; k < H; ++k) context[k] += a_j * memory[(b * S + j) * H + k];
    }
    // Decoder input [context; emb(prev_token)]; the reference GRU reads
    // float input, so the context is rounded once (a relative 6e-8).
    for (int64_t k = 0; k < H; ++k) dec_x[b * (H + E) + k] = static_cast<float>(context[k]);
    for (int64_t k = 0; k < E; ++k) dec_x[b * (H + E) + H + k] = tgt_emb[in.prev_token[b] * E + k];
  }
  tessera::reference::RefRnnSpec dec;
  dec.op = "GRU";
  dec.seq = 1;
  dec.batch = B;
  dec.input = H + E;
  dec.hidden = H;
  dec.layout = 1;
  dec.x = &dec_x;
  dec.w = &dec_w;
  dec.r = &dec_r;
  dec.b = &dec_b;
  dec.initial_h = &in.prev_state;
  out.state = tessera::reference::RefRecurrent(dec).y_h;  // [B, 1, H]

  out.log_probs.assign(static_cast<size_t>(B * V), 0.0);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> logits(V);
    for (int64_t c = 0; c < V; ++c) {
      double acc = b_out[c];
      for (int64_t k = 0; k < H; ++k) acc += out.state[b * H + k] * w_out[c * H + k];
      logits[c] = acc;
    }
    const double mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double l : logits) sum += std::exp(l - mx);
    for (int64_t c = 0; c < V; ++c) out.log_probs[b * V + c] = logits[c] - mx - std::log(sum);
  }
  return out;
}

std::vector<tessera::Value> RunStep(const tessera::Model& model, const Inputs& in, int threads) {
  tessera::Session session(model, tessera::SessionOptions().Threads(threads));
  const tessera::Value src = tessera::Value::FromData<int64_t>({in.batch, in.src_len}, in.source);
  const tessera::Value lens = tessera::Value::FromData<int64_t>({in.batch}, in.lengths);
  const tessera::Value tok = tessera::Value::FromData<int64_t>({in.batch}, in.prev_token);
  const tessera::Value state = tessera::Value::FromData<float>({in.batch, H}, in.prev_state);
  return session.Run({{"source_ids", &src}, {"src_lengths", &lens}, {"prev_token", &tok}, {"prev_state", &state}},
                     {"log_probs", "state", "attention"});
}

Inputs MakeInputs() {
  Inputs in;
  in.batch = 4;
  in.src_len = 7;
  // Lengths: full, partial, empty, and beyond src_len (clamped to 7).
  in.lengths = {7, 3, 0, 12};
  for (int64_t i = 0; i < in.batch * in.src_len; ++i) in.source.push_back((i * 5 + 3) % V);
  in.prev_token = {0, 9, 15, 4};
  const std::vector<float> s = DeterministicWeights(7, static_cast<size_t>(in.batch * H), 0.8f);
  in.prev_state.assign(s.begin(), s.end());
  return in;
}

void ExpectNear(const tessera::Value& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(static_cast<size_t>(got.ElementCount()), want.size()) << what;
  const float* g = got.data_as<float>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << what << " element " << i;
}

TEST(Seq2SeqAttentionTest, DecoderStepMatchesDoubleReference) {
  const tessera::Model model = tessera::Model::Load(kModelPath);
  const Inputs in = MakeInputs();
  const std::vector<tessera::Value> out = RunStep(model, in, 1);
  EXPECT_EQ(out[0].dims(), (std::vector<int64_t>{in.batch, V}));
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{in.batch, H}));
  EXPECT_EQ(out[2].dims(), (std::vector<int64_t>{in.batch, in.src_len}));
  const Outputs want = Reference(in);
  // f32 rounding through two GRUs (7 steps of 32-term products) and the
  // attention: observed differences are below 5e-7; 2e-5 leaves a margin while
  // any wrong weight, gate order or mask changes values by >= 1e-2.
  ExpectNear(out[0], want.log_probs, 2e-5, "log_probs");
  ExpectNear(out[1], want.state, 2e-5, "state");
  ExpectNear(out[2], want.attention, 2e-5, "attention");
  // Row 2 has length 0: no weights at all; row 3 (length 12) attends over
  // all 7 positions; every other row sums to 1.
  const float* att = out[2].data_as<float>();
  for (int64_t b = 0; b < in.batch; ++b) {
    double sum = 0;
    for (int64_t j = 0; j < in.src_len; ++j) sum += att[b * in.src_len + j];
    EXPECT_NEAR(sum, b == 2 ? 0.0 : 1.0, 1e-6) << "row " << b;
  }
  EXPECT_GT(att[3 * in.src_len + 6], 0.0f);
  EXPECT_EQ(att[1 * in.src_len + 3], 0.0f);  // beyond row 1's length 3
}

TEST(Seq2SeqAttentionTest, BitwiseEqualAcrossThreadCounts) {
  const tessera::Model model = tessera::Model::Load(kModelPath);
  const Inputs in = MakeInputs();
  const std::vector<tessera::Value> one = RunStep(model, in, 1);
  const std::vector<tessera::Value> two = RunStep(model, in, 2);
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].ElementCount(), two[i].ElementCount());
    EXPECT_EQ(std::memcmp(one[i].data_as<float>(), two[i].data_as<float>(), one[i].ElementCount() * sizeof(float)), 0)
        << "output " << i;
  }
}

}  // namespace
