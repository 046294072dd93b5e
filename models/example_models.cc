#include "models/example_models.h"

#include <cmath>

namespace tessera::models {

std::vector<float> DeterministicWeights(uint64_t seed, size_t count, float scale) {
  std::vector<float> w(count);
  uint64_t state = seed;
  for (float& x : w) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    // Top 24 bits -> [0, 1) exactly representable in float, then [-1, 1).
    const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
    x = (2.0f * unit - 1.0f) * scale;
  }
  return w;
}

void BuildGatedMlp(ModelBuilder& b) {
  using Attr = ModelBuilder::Attr;
  constexpr int64_t in = kGatedMlpIn, hidden = kGatedMlpHidden, classes = kGatedMlpClasses;
  const float s_in = 1.0f / std::sqrt(static_cast<float>(in));
  const float s_hidden = 1.0f / std::sqrt(static_cast<float>(hidden));

  b.SetProducer("tessera models/make_example_models");
  b.SetMetadata("name", "gated_mlp");
  b.SetMetadata("description", "GLU-style gated MLP classifier: two concurrent branches, softmax over 10 classes");

  const int x = b.AddInput("features", TSR_DTYPE_FLOAT32, {"batch", in});
  const int w_a = b.AddConstant<float>("W_a", {in, hidden}, DeterministicWeights(1, in * hidden, s_in));
  const int b_a = b.AddConstant<float>("b_a", {hidden}, DeterministicWeights(2, hidden, 0.1f));
  const int w_b = b.AddConstant<float>("W_b", {in, hidden}, DeterministicWeights(3, in * hidden, s_in));
  const int b_b = b.AddConstant<float>("b_b", {hidden}, DeterministicWeights(4, hidden, 0.1f));
  const int w_o = b.AddConstant<float>("W_o", {classes, hidden},
                                       DeterministicWeights(5, classes * hidden, s_hidden));
  const int b_o = b.AddConstant<float>("b_o", {classes}, DeterministicWeights(6, classes, 0.1f));

  const int a_pre = b.AddNode("Gemm", {x, w_a, b_a}, {"value_pre"}, {}, "value/gemm")[0];
  const int a = b.AddNode("Tanh", {a_pre}, {"value"}, {}, "value/tanh")[0];
  const int g_mm = b.AddNode("MatMul", {x, w_b}, {"gate_mm"}, {}, "gate/matmul")[0];
  const int g_pre = b.AddNode("Add", {g_mm, b_b}, {"gate_pre"}, {}, "gate/bias")[0];
  const int g = b.AddNode("Sigmoid", {g_pre}, {"gate"}, {}, "gate/sigmoid")[0];
  const int m = b.AddNode("Mul", {a, g}, {"gated"}, {}, "glu/mul")[0];
  const int logits = b.AddNode("Gemm", {m, w_o, b_o}, {"logits"}, {Attr::Int("transB", 1)}, "head/gemm")[0];
  // The output is declared with its symbolic batch dim so tools and the
  // API report [batch, 10] rather than an anonymous dynamic dim.
  const int probs = b.AddTensor("probs", TSR_DTYPE_FLOAT32, {"batch", classes});
  b.AddNodeInto("Softmax", {logits}, {probs}, {Attr::Int("axis", -1)}, "head/softmax");
  b.AddOutput(probs);
}

void BuildLstmClassifier(ModelBuilder& b) {
  using Attr = ModelBuilder::Attr;
  constexpr int64_t in = kLstmClassifierIn, hidden = kLstmClassifierHidden, classes = kLstmClassifierClasses;
  constexpr int64_t gates = 4;  // i, o, f, c (ONNX order)
  // U(-1/sqrt(H), 1/sqrt(H)), PyTorch's LSTM initialisation.
  const float s = 1.0f / std::sqrt(static_cast<float>(hidden));

  b.SetProducer("tessera models/make_example_models");
  b.SetMetadata("name", "lstm_classifier");
  b.SetMetadata("description", "2-layer LSTM sequence classifier: final hidden state -> softmax over 5 classes");

  const int x = b.AddInput("features", TSR_DTYPE_FLOAT32, {"seq", "batch", in});
  const std::vector<Attr> lstm_attrs = {Attr::Int("hidden_size", hidden), Attr::String("direction", "forward")};
  int layer_in = x;
  int64_t layer_width = in;
  int h_last = -1;
  for (int layer = 0; layer < 2; ++layer) {
    const std::string p = "lstm" + std::to_string(layer);
    const uint64_t seed = 10 + 3 * static_cast<uint64_t>(layer);
    const int w = b.AddConstant<float>(p + "/W", {1, gates * hidden, layer_width},
                                       DeterministicWeights(seed, gates * hidden * layer_width, s));
    const int r = b.AddConstant<float>(p + "/R", {1, gates * hidden, hidden},
                                       DeterministicWeights(seed + 1, gates * hidden * hidden, s));
    const int bias = b.AddConstant<float>(p + "/B", {1, 2 * gates * hidden},
                                          DeterministicWeights(seed + 2, 2 * gates * hidden, s));
    if (layer == 0) {
      // Y only; the squeeze drops its num_directions axis.
      const int y = b.AddNode("LSTM", {layer_in, w, r, bias}, {p + "/Y"}, lstm_attrs, p)[0];
      const int axes = b.AddConstant<int64_t>(p + "/squeeze_axes", {1}, {1});
      layer_in = b.AddNode("Squeeze", {y, axes}, {p + "/seq_out"}, {}, p + "/squeeze")[0];
      layer_width = hidden;
    } else {
      // The final state only: Y is not requested.
      h_last = b.AddNode("LSTM", {layer_in, w, r, bias}, {"", p + "/Y_h"}, lstm_attrs, p)[1];
    }
  }
  const int axes = b.AddConstant<int64_t>("head/squeeze_axes", {1}, {0});
  const int h = b.AddNode("Squeeze", {h_last, axes}, {"last_hidden"}, {}, "head/squeeze")[0];
  const int w_o = b.AddConstant<float>("head/W", {classes, hidden}, DeterministicWeights(20, classes * hidden, s));
  const int b_o = b.AddConstant<float>("head/b", {classes}, DeterministicWeights(21, classes, 0.1f));
  const int logits = b.AddNode("Gemm", {h, w_o, b_o}, {"logits"}, {Attr::Int("transB", 1)}, "head/gemm")[0];
  const int probs = b.AddTensor("probs", TSR_DTYPE_FLOAT32, {"batch", classes});
  b.AddNodeInto("Softmax", {logits}, {probs}, {Attr::Int("axis", -1)}, "head/softmax");
  b.AddOutput(probs);
}

void BuildGptTiny(ModelBuilder& b) {
  using Attr = ModelBuilder::Attr;
  constexpr int64_t vocab = kGptTinyVocab, d = kGptTinyModel, ff = kGptTinyFf;
  const float s_d = 1.0f / std::sqrt(static_cast<float>(d));
  const float s_ff = 1.0f / std::sqrt(static_cast<float>(ff));

  b.SetProducer("tessera models/make_example_models");
  b.SetMetadata("name", "gpt_tiny");
  b.SetMetadata("description",
                "2-layer GPT-style decoder (d_model 32, 4 heads, vocab 64) with a KV cache: "
                "pass zero-length past_* on the first call, then each call's present_* as the next past_*");

  const int ids = b.AddInput("input_ids", TSR_DTYPE_INT64, {"batch", "seq"});
  const int pos = b.AddInput("position_ids", TSR_DTYPE_INT64, {"batch", "seq"});
  // Embeddings of magnitude ~1 so that the first LayerNorm sees signal, not
  // just its epsilon.
  const int tok_emb = b.AddConstant<float>("tok_emb", {vocab, d}, DeterministicWeights(100, vocab * d, 1.0f));
  const int pos_emb = b.AddConstant<float>("pos_emb", {kGptTinyMaxPositions, d},
                                           DeterministicWeights(101, kGptTinyMaxPositions * d, 0.5f));
  const int te = b.AddNode("Gather", {tok_emb, ids}, {"tok_embedded"}, {Attr::Int("axis", 0)}, "embed/tokens")[0];
  const int pe = b.AddNode("Gather", {pos_emb, pos}, {"pos_embedded"}, {Attr::Int("axis", 0)}, "embed/positions")[0];
  int x = b.AddNode("Add", {te, pe}, {"embedded"}, {}, "embed/add")[0];

  // LayerNorm with a gain near 1 and a small bias (not exactly 1 and 0, so
  // a test would notice if they were ignored).
  auto layer_norm = [&](const std::string& p, int in, uint64_t seed) {
    std::vector<float> gain = DeterministicWeights(seed, d, 0.1f);
    for (float& g : gain) g += 1.0f;
    const int scale = b.AddConstant<float>(p + "/scale", {d}, gain);
    const int bias = b.AddConstant<float>(p + "/bias", {d}, DeterministicWeights(seed + 1, d, 0.1f));
    return b.AddNode("LayerNormalization", {in, scale, bias}, {p + "/out"},
                     {Attr::Int("axis", -1), Attr::Float("epsilon", 1e-5f)}, p)[0];
  };
  auto matmul = [&](const std::string& p, int in, int64_t rows, int64_t cols, uint64_t seed, float scale) {
    const int w = b.AddConstant<float>(p + "/W", {rows, cols}, DeterministicWeights(seed, rows * cols, scale));
    return b.AddNode("MatMul", {in, w}, {p + "/out"}, {}, p)[0];
  };

  std::vector<int> presents;
  for (int layer = 0; layer < kGptTinyLayers; ++layer) {
    const std::string p = "layer" + std::to_string(layer);
    const std::string l = std::to_string(layer);
    const uint64_t seed = 200 + 20 * static_cast<uint64_t>(layer);
    const int h = layer_norm(p + "/ln1", x, seed);
    const int q = matmul(p + "/q", h, d, d, seed + 2, s_d);
    const int k = matmul(p + "/k", h, d, d, seed + 3, s_d);
    const int v = matmul(p + "/v", h, d, d, seed + 4, s_d);
    const std::vector<ModelBuilder::Dim> cache = {"batch", kGptTinyHeads, "past", kGptTinyHeadDim};
    const int past_k = b.AddInput("past_key_" + l, TSR_DTYPE_FLOAT32, cache);
    const int past_v = b.AddInput("past_value_" + l, TSR_DTYPE_FLOAT32, cache);
    const std::vector<int> attn =
        b.AddNode("Attention", {q, k, v, -1, past_k, past_v}, {p + "/attn/out", "present_key_" + l, "present_value_" + l},
                  {Attr::Int("num_heads", kGptTinyHeads), Attr::Int("causal", 1)}, p + "/attn", "tessera", 1);
    const int o = matmul(p + "/attn_proj", attn[0], d, d, seed + 5, s_d);
    x = b.AddNode("Add", {x, o}, {p + "/attn_residual"}, {}, p + "/attn_residual")[0];
    const int h2 = layer_norm(p + "/ln2", x, seed + 6);
    const int up = matmul(p + "/mlp_up", h2, d, ff, seed + 8, s_d);
    const int act = b.AddNode("Gelu", {up}, {p + "/gelu"}, {}, p + "/gelu")[0];
    const int down = matmul(p + "/mlp_down", act, ff, d, seed + 9, s_ff);
    x = b.AddNode("Add", {x, down}, {p + "/mlp_residual"}, {}, p + "/mlp_residual")[0];
    presents.push_back(attn[1]);
    presents.push_back(attn[2]);
  }
  const int h = layer_norm("final_ln", x, 300);
  const int w_head = b.AddConstant<float>("head/W", {d, vocab}, DeterministicWeights(302, d * vocab, s_d));
  const int logits = b.AddTensor("logits", TSR_DTYPE_FLOAT32, {"batch", "seq", vocab});
  b.AddNodeInto("MatMul", {h, w_head}, {logits}, {}, "head");
  b.AddOutput(logits);
  for (int present : presents) b.AddOutput(present);
}

void BuildSeq2SeqAttention(ModelBuilder& b) {
  using Attr = ModelBuilder::Attr;
  constexpr int64_t vocab = kSeq2SeqVocab, e = kSeq2SeqEmbed, h = kSeq2SeqHidden, a = kSeq2SeqAttn;
  const float s_h = 1.0f / std::sqrt(static_cast<float>(h));  // PyTorch's GRU/Linear initialisation
  const std::vector<Attr> gru_attrs = {Attr::Int("hidden_size", h), Attr::Int("layout", 1)};

  b.SetProducer("tessera models/make_example_models");
  b.SetMetadata("name", "seq2seq_attention");
  b.SetMetadata("description",
                "GRU encoder + one decoder step with additive (Bahdanau) attention: "
                "log-probs of the next token, the new decoder state and the attention weights");

  const int src = b.AddInput("source_ids", TSR_DTYPE_INT64, {"batch", "src_len"});
  const int lengths = b.AddInput("src_lengths", TSR_DTYPE_INT64, {"batch"});
  const int prev_token = b.AddInput("prev_token", TSR_DTYPE_INT64, {"batch"});
  const int prev_state = b.AddInput("prev_state", TSR_DTYPE_FLOAT32, {"batch", h});

  // clamped = src_len - Relu(src_len - Relu(lengths)), in f32 (exact for
  // any length below 2^24), then back to i64 for the attention and i32 for
  // the GRU.
  const int shape = b.AddNode("Shape", {src}, {"src_shape"}, {}, "lengths/shape")[0];
  const int one = b.AddConstant<int64_t>("lengths/axis1", {}, {1});
  const int src_len = b.AddNode("Gather", {shape, one}, {"src_len"}, {Attr::Int("axis", 0)}, "lengths/src_len")[0];
  const int src_len_f = b.AddNode("Cast", {src_len}, {"src_len_f"}, {Attr::Int("to", TSR_DTYPE_FLOAT32)},
                                  "lengths/src_len_f")[0];
  const int len_f = b.AddNode("Cast", {lengths}, {"lengths_f"}, {Attr::Int("to", TSR_DTYPE_FLOAT32)},
                              "lengths/cast_f")[0];
  const int len_pos = b.AddNode("Relu", {len_f}, {"lengths_nonneg"}, {}, "lengths/nonneg")[0];
  const int excess_raw = b.AddNode("Sub", {src_len_f, len_pos}, {"lengths_room"}, {}, "lengths/room")[0];
  const int room = b.AddNode("Relu", {excess_raw}, {"lengths_room_nonneg"}, {}, "lengths/room_nonneg")[0];
  const int clamped_f = b.AddNode("Sub", {src_len_f, room}, {"lengths_clamped_f"}, {}, "lengths/clamp")[0];
  const int clamped = b.AddNode("Cast", {clamped_f}, {"lengths_clamped"}, {Attr::Int("to", TSR_DTYPE_INT64)},
                                "lengths/cast_i64")[0];
  const int clamped_i32 = b.AddNode("Cast", {clamped_f}, {"lengths_i32"}, {Attr::Int("to", TSR_DTYPE_INT32)},
                                    "lengths/cast_i32")[0];

  // Encoder: embeddings -> GRU over the source (batch-major, layout 1).
  const int src_emb = b.AddConstant<float>("encoder/emb", {vocab, e}, DeterministicWeights(400, vocab * e, 1.0f));
  const int enc_w = b.AddConstant<float>("encoder/gru/W", {1, 3 * h, e}, DeterministicWeights(401, 3 * h * e, s_h));
  const int enc_r = b.AddConstant<float>("encoder/gru/R", {1, 3 * h, h}, DeterministicWeights(402, 3 * h * h, s_h));
  const int enc_b = b.AddConstant<float>("encoder/gru/B", {1, 6 * h}, DeterministicWeights(403, 6 * h, s_h));
  const int x = b.AddNode("Gather", {src_emb, src}, {"encoder/embedded"}, {Attr::Int("axis", 0)}, "encoder/embed")[0];
  const int y = b.AddNode("GRU", {x, enc_w, enc_r, enc_b, clamped_i32}, {"encoder/gru/Y"}, gru_attrs, "encoder/gru")[0];
  // Y [batch, src_len, num_directions = 1, H] -> memory [batch, src_len, H].
  const int axis2 = b.AddConstant<int64_t>("encoder/squeeze_axes", {1}, {2});
  const int memory = b.AddNode("Squeeze", {y, axis2}, {"memory"}, {}, "encoder/squeeze")[0];
  // W1 h_j, once per source sequence (not once per decoder step).
  const int w1 = b.AddConstant<float>("attention/W1", {h, a}, DeterministicWeights(404, h * a, s_h));
  const int keys = b.AddNode("MatMul", {memory, w1}, {"keys"}, {}, "encoder/keys")[0];

  // Decoder step: attention on s_{i-1}, then the GRU on [context; y_{i-1}].
  const int w2 = b.AddConstant<float>("attention/W2", {h, a}, DeterministicWeights(405, h * a, s_h));
  const int v = b.AddConstant<float>("attention/v", {a}, DeterministicWeights(406, a, 1.0f));
  const int weights = b.AddTensor("attention", TSR_DTYPE_FLOAT32, {"batch", "src_len"});
  const int context = b.AddTensor("context");
  b.AddNodeInto("AdditiveAttention", {memory, prev_state, -1, w2, v, clamped, keys}, {context, weights}, {},
                "decoder/attention", "tessera", 1);
  const int tgt_emb = b.AddConstant<float>("decoder/emb", {vocab, e}, DeterministicWeights(407, vocab * e, 1.0f));
  const int y_prev = b.AddNode("Gather", {tgt_emb, prev_token}, {"decoder/embedded"}, {Attr::Int("axis", 0)},
                               "decoder/embed")[0];
  const int dec_in = b.AddNode("Concat", {context, y_prev}, {"decoder/input"}, {Attr::Int("axis", 1)},
                               "decoder/concat")[0];
  const int axis1 = b.AddConstant<int64_t>("decoder/unsqueeze_axes", {1}, {1});
  const int dec_x = b.AddNode("Unsqueeze", {dec_in, axis1}, {"decoder/x"}, {}, "decoder/x")[0];
  const int dec_h0 = b.AddNode("Unsqueeze", {prev_state, axis1}, {"decoder/h0"}, {}, "decoder/h0")[0];
  const int dec_w = b.AddConstant<float>("decoder/gru/W", {1, 3 * h, h + e},
                                         DeterministicWeights(408, 3 * h * (h + e), s_h));
  const int dec_r = b.AddConstant<float>("decoder/gru/R", {1, 3 * h, h}, DeterministicWeights(409, 3 * h * h, s_h));
  const int dec_b = b.AddConstant<float>("decoder/gru/B", {1, 6 * h}, DeterministicWeights(410, 6 * h, s_h));
  const int y_h = b.AddNode("GRU", {dec_x, dec_w, dec_r, dec_b, -1, dec_h0}, {"", "decoder/gru/Y_h"}, gru_attrs,
                            "decoder/gru")[1];
  const int state = b.AddTensor("state", TSR_DTYPE_FLOAT32, {"batch", h});
  b.AddNodeInto("Squeeze", {y_h, axis1}, {state}, {}, "decoder/state");
  // Output weights of scale 1 rather than 1/sqrt(H): the state is O(0.3),
  // and untrained logits that small would give a nearly uniform
  // distribution, which shows little in a demo.
  const int w_out = b.AddConstant<float>("decoder/out/W", {vocab, h}, DeterministicWeights(411, vocab * h, 1.0f));
  const int b_out = b.AddConstant<float>("decoder/out/b", {vocab}, DeterministicWeights(412, vocab, s_h));
  const int logits = b.AddNode("Gemm", {state, w_out, b_out}, {"logits"}, {Attr::Int("transB", 1)}, "decoder/out")[0];
  const int log_probs = b.AddTensor("log_probs", TSR_DTYPE_FLOAT32, {"batch", vocab});
  b.AddNodeInto("LogSoftmax", {logits}, {log_probs}, {Attr::Int("axis", -1)}, "decoder/log_softmax");
  b.AddOutput(log_probs);
  b.AddOutput(state);
  b.AddOutput(weights);
}

const std::vector<ExampleModel>& ExampleModels() {
  static const std::vector<ExampleModel> models = {
      {"gated_mlp.tess", BuildGatedMlp},
      {"lstm_classifier.tess", BuildLstmClassifier},
      {"gpt_tiny.tess", BuildGptTiny},
      {"seq2seq_attention.tess", BuildSeq2SeqAttention},
  };
  return models;
}

}  // namespace tessera::models
