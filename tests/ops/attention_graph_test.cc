// tessera.Attention inside models, through the public API (builder, load,
// session): the domain "tessera" node, an omitted optional input (mask),
// dynamic sequence and cache lengths, and present_key/present_value fed
// back as past_key/past_value. The test a GPT-style example relies on:
// decoding token by token with the cache gives what one causal pass over the
// whole sequence gives.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessera/model_builder.h"
#include "tessera/tessera.hpp"

namespace {

constexpr int64_t kModel = 16;  // 2 heads x head_dim 8
constexpr int32_t kF32 = 1;

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// x [1, seq, 16] -> Q, K, V projections -> causal Attention (2 heads);
// with_past adds past_key/past_value inputs [1, 2, past, 8] (with
// loose_past: [1, heads, past, head_dim], all symbolic, so only the node
// checks them).
tessera::Model BuildModel(bool with_past, bool loose_past = false) {
  using tessera::ModelBuilder;
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {1, "seq", kModel});
  const int wq = b.AddConstant<float>("Wq", {kModel, kModel}, Random(kModel * kModel, 1));
  const int wk = b.AddConstant<float>("Wk", {kModel, kModel}, Random(kModel * kModel, 2));
  const int wv = b.AddConstant<float>("Wv", {kModel, kModel}, Random(kModel * kModel, 3));
  const int q = b.AddNode("MatMul", {x, wq}, {"q"})[0];
  const int k = b.AddNode("MatMul", {x, wk}, {"k"})[0];
  const int v = b.AddNode("MatMul", {x, wv}, {"v"})[0];
  int past_k = -1, past_v = -1;
  if (with_past) {
    using Dim = ModelBuilder::Dim;
    const std::vector<Dim> shape = loose_past ? std::vector<Dim>{1, "heads", "past", "head_dim"}
                                              : std::vector<Dim>{1, 2, "past", 8};
    past_k = b.AddInput("past_key", kF32, shape);
    past_v = b.AddInput("past_value", kF32, shape);
  }
  const std::vector<int> out =
      b.AddNode("Attention", {q, k, v, -1, past_k, past_v}, {"y", "present_key", "present_value"},
                {ModelBuilder::Attr::Int("num_heads", 2), ModelBuilder::Attr::Int("causal", 1)}, "attn",
                "tessera", 1);
  for (int o : out) b.AddOutput(o);
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  return tessera::Model::LoadFromBuffer(bytes.data(), bytes.size());
}

TEST(AttentionGraphTest, CachedDecodingEqualsFullCausalPass) {
  const int64_t T = 11, prompt = 6;
  const std::vector<float> x = Random(static_cast<size_t>(T * kModel), 10);
  tessera::Model full_model = BuildModel(false);
  tessera::Model step_model = BuildModel(true);
  for (int threads : {1, 2}) {
    tessera::Session full(full_model, tessera::SessionOptions().Threads(threads));
    tessera::Value xv = tessera::Value::FromData<float>({1, T, kModel}, x);
    std::vector<tessera::Value> want = full.Run({{"x", &xv}}, {"y"});
    ASSERT_EQ(want[0].dims(), (std::vector<int64_t>{1, T, kModel}));

    // The prompt in one call, then one token per call with the cache.
    tessera::Value xp = tessera::Value::FromData<float>(
        {1, prompt, kModel}, std::vector<float>(x.begin(), x.begin() + prompt * kModel));
    std::vector<tessera::Value> state = full.Run({{"x", &xp}}, {"y", "present_key", "present_value"});
    ASSERT_EQ(state[1].dims(), (std::vector<int64_t>{1, 2, prompt, 8}));
    const float* w = want[0].data_as<float>();
    for (int64_t i = 0; i < prompt * kModel; ++i) {
      EXPECT_NEAR(state[0].data_as<float>()[i], w[i], 1e-5) << "prompt element " << i;
    }
    tessera::Session step(step_model, tessera::SessionOptions().Threads(threads));
    for (int64_t t = prompt; t < T; ++t) {
      tessera::Value xt = tessera::Value::FromData<float>(
          {1, 1, kModel}, std::vector<float>(x.begin() + t * kModel, x.begin() + (t + 1) * kModel));
      std::vector<tessera::Value> next = step.Run(
          {{"x", &xt}, {"past_key", &state[1]}, {"past_value", &state[2]}}, {"y", "present_key", "present_value"});
      ASSERT_EQ(next[1].dims(), (std::vector<int64_t>{1, 2, t + 1, 8}));
      for (int64_t c = 0; c < kModel; ++c) {
        // Products of 16 terms in [-0.5, 0.5] and a softmax of <= 11 keys:
        // float differences of the two summation orders stay below 1e-5.
        EXPECT_NEAR(next[0].data_as<float>()[c], w[t * kModel + c], 1e-5) << "token " << t << " threads " << threads;
      }
      state = std::move(next);
    }
  }
}

TEST(AttentionGraphTest, BadCacheShapeFailsNamingTheNode) {
  tessera::Model step_model = BuildModel(true, /*loose_past=*/true);
  tessera::Session step(step_model, tessera::SessionOptions().Threads(1));
  tessera::Value xt = tessera::Value::Zeros(kF32, {1, 1, kModel});
  tessera::Value pk = tessera::Value::Zeros(kF32, {1, 2, 4, 7});  // head_dim 7, but Q has 2 heads of 8
  tessera::Value pv = tessera::Value::Zeros(kF32, {1, 2, 4, 7});
  try {
    step.Run({{"x", &xt}, {"past_key", &pk}, {"past_value", &pv}}, {"y"});
    FAIL() << "expected an error";
  } catch (const tessera::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("attn"), std::string::npos) << msg;
    EXPECT_NE(msg.find("past_key"), std::string::npos) << msg;
  }
}

}  // namespace
