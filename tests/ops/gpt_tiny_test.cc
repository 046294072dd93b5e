// The bundled GPT-style decoder (models/gpt_tiny.tess) through the public
// C++ API: greedy generation with the KV cache (present_* fed back as
// past_*) gives the same tokens and logits as recomputing the whole prefix
// with an empty cache at every step; the cached logits are bitwise equal at
// 1 and 2 threads; the committed file is byte-identical to a fresh build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "models/example_models.h"
#include "tessera/model_builder.h"
#include "tessera/tessera.hpp"

namespace {

using namespace tessera::models;

const std::string kModelPath = std::string(TESSERA_SOURCE_DIR) + "/models/gpt_tiny.tess";

// One call of the model on `tokens` at positions [offset, offset + n) with
// the given caches (2 per layer). Returns logits [1, n, vocab] and the
// present caches.
struct Step {
  std::vector<float> logits;
  std::vector<tessera::Value> present;
};

Step RunStep(tessera::Session& session, const std::vector<int64_t>& tokens, int64_t offset,
             const std::vector<tessera::Value>& past) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<int64_t> positions(tokens.size());
  for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = offset + i;
  const tessera::Value ids = tessera::Value::FromData<int64_t>({1, n}, tokens);
  const tessera::Value pos = tessera::Value::FromData<int64_t>({1, n}, positions);
  std::vector<std::pair<std::string, const tessera::Value*>> inputs = {{"input_ids", &ids}, {"position_ids", &pos}};
  std::vector<std::string> outputs = {"logits"};
  for (int l = 0; l < kGptTinyLayers; ++l) {
    const std::string s = std::to_string(l);
    inputs.emplace_back("past_key_" + s, &past[2 * l]);
    inputs.emplace_back("past_value_" + s, &past[2 * l + 1]);
    outputs.push_back("present_key_" + s);
    outputs.push_back("present_value_" + s);
  }
  std::vector<tessera::Value> out = session.Run(inputs, outputs);
  EXPECT_EQ(out[0].dims(), (std::vector<int64_t>{1, n, kGptTinyVocab}));
  Step step;
  step.logits = out[0].ToVector<float>();
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_EQ(out[i].dims(), (std::vector<int64_t>{1, kGptTinyHeads, offset + n, kGptTinyHeadDim})) << outputs[i];
    step.present.push_back(std::move(out[i]));
  }
  return step;
}

std::vector<tessera::Value> EmptyCache() {
  std::vector<tessera::Value> cache;
  for (int i = 0; i < 2 * kGptTinyLayers; ++i) {
    cache.push_back(tessera::Value::Zeros(TSR_DTYPE_FLOAT32, {1, kGptTinyHeads, 0, kGptTinyHeadDim}));
  }
  return cache;
}

int64_t ArgMax(const float* logits) {
  return std::max_element(logits, logits + kGptTinyVocab) - logits;
}

struct Generation {
  std::vector<int64_t> tokens;               // generated only
  std::vector<std::vector<float>> logits;    // the logits that chose each token
};

// Prompt in one call, then one token per call with the cache.
Generation GenerateCached(const tessera::Model& model, int threads, const std::vector<int64_t>& prompt, int count) {
  tessera::Session session(model, tessera::SessionOptions().Threads(threads));
  Generation g;
  std::vector<tessera::Value> cache = EmptyCache();
  std::vector<int64_t> feed = prompt;
  int64_t offset = 0;
  for (int i = 0; i < count; ++i) {
    Step step = RunStep(session, feed, offset, cache);
    const float* last = step.logits.data() + (feed.size() - 1) * kGptTinyVocab;
    g.logits.emplace_back(last, last + kGptTinyVocab);
    g.tokens.push_back(ArgMax(last));
    offset += static_cast<int64_t>(feed.size());
    feed = {g.tokens.back()};
    cache = std::move(step.present);
  }
  return g;
}

// Every step reruns the whole prefix with an empty cache.
Generation GenerateUncached(const tessera::Model& model, const std::vector<int64_t>& prompt, int count) {
  tessera::Session session(model, tessera::SessionOptions().Threads(1));
  Generation g;
  std::vector<int64_t> prefix = prompt;
  for (int i = 0; i < count; ++i) {
    const Step step = RunStep(session, prefix, 0, EmptyCache());
    const float* last = step.logits.data() + (prefix.size() - 1) * kGptTinyVocab;
    g.logits.emplace_back(last, last + kGptTinyVocab);
    g.tokens.push_back(ArgMax(last));
    prefix.push_back(g.tokens.back());
  }
  return g;
}

TEST(GptTinyTest, CachedGenerationEqualsRecomputingThePrefix) {
  const tessera::Model model = tessera::Model::Load(kModelPath);
  const std::vector<int64_t> prompt = {1, 2, 3, 40, 17};
  constexpr int kCount = 24;  // 5 + 24 positions: well inside the 64 learned ones
  const Generation cached = GenerateCached(model, 1, prompt, kCount);
  const Generation full = GenerateUncached(model, prompt, kCount);
  ASSERT_EQ(cached.tokens.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(cached.tokens, full.tokens);
  for (int i = 0; i < kCount; ++i) {
    for (int c = 0; c < kGptTinyVocab; ++c) {
      // Logits are O(1); the two paths differ only in the attention's
      // summation order (tiles of the cache vs one pass) and in GEMM
      // blocking for 1 vs many rows, each a few float ulps per layer.
      EXPECT_NEAR(cached.logits[i][c], full.logits[i][c], 2e-5f) << "step " << i << " token " << c;
    }
  }
  // The weights are untrained, yet generation must not be degenerate: a
  // constant token would also pass the comparison if, say, the cache were
  // ignored and positions were all equal.
  std::vector<int64_t> distinct = cached.tokens;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_GE(distinct.size(), 4u);
}

TEST(GptTinyTest, IgnoringTheCacheChangesTheLogits) {
  // The test above would pass vacuously if the cache had no effect: check
  // that one token with the prompt's cache differs from that token alone.
  const tessera::Model model = tessera::Model::Load(kModelPath);
  tessera::Session session(model, tessera::SessionOptions().Threads(1));
  const Step prompt = RunStep(session, {1, 2, 3}, 0, EmptyCache());
  const Step with_cache = RunStep(session, {4}, 3, prompt.present);
  std::vector<tessera::Value> zeros;
  for (int i = 0; i < 2 * kGptTinyLayers; ++i) {
    zeros.push_back(tessera::Value::Zeros(TSR_DTYPE_FLOAT32, {1, kGptTinyHeads, 3, kGptTinyHeadDim}));
  }
  const Step zero_cache = RunStep(session, {4}, 3, zeros);
  double diff = 0;
  for (int c = 0; c < kGptTinyVocab; ++c) diff += std::fabs(with_cache.logits[c] - zero_cache.logits[c]);
  EXPECT_GT(diff, 1e-2);
}

TEST(GptTinyTest, CachedGenerationIsBitwiseEqualAcrossThreadCounts) {
  const tessera::Model model = tessera::Model::Load(kModelPath);
  const std::vector<int64_t> prompt = {5, 9, 11};
  const Generation one = GenerateCached(model, 1, prompt, 8);
  const Generation two = GenerateCached(model, 2, prompt, 8);
  EXPECT_EQ(one.tokens, two.tokens);
  for (size_t i = 0; i < one.logits.size(); ++i) {
    EXPECT_EQ(std::memcmp(one.logits[i].data(), two.logits[i].data(), kGptTinyVocab * sizeof(float)), 0)
        << "step " << i;
  }
}

TEST(GptTinyTest, PositionBeyondTheTableFailsNamingTheNode) {
  const tessera::Model model = tessera::Model::Load(kModelPath);
  tessera::Session session(model, tessera::SessionOptions().Threads(1));
  try {
    RunStep(session, {1}, kGptTinyMaxPositions, EmptyCache());
    FAIL() << "expected an error";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("embed/positions"), std::string::npos) << e.what();
  }
}

}  // namespace
