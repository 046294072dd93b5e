// The bundled 2-layer LSTM classifier (models/lstm_classifier.tess) end to
// end through the public C++ API: against a double-precision reference built
// from the model's definition (models/example_models.h) with the LSTM
// reference of tests/reference/rnn_reference.h, bitwise equal at 1 and 2
// threads, and byte-identical to a fresh build of the model.
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

const std::string kModelPath = std::string(TESSERA_SOURCE_DIR) + "/models/lstm_classifier.tess";

std::vector<double> Reference(const std::vector<float>& x, int64_t seq, int64_t batch) {
  constexpr int64_t in = kLstmClassifierIn, hid = kLstmClassifierHidden, cls = kLstmClassifierClasses;
  const float s = 1.0f / std::sqrt(static_cast<float>(hid));
  std::vector<float> layer_in = x;
  int64_t width = in;
  std::vector<double> last;
  for (int layer = 0; layer < 2; ++layer) {
    const uint64_t seed = 10 + 3 * static_cast<uint64_t>(layer);
    const std::vector<float> w = DeterministicWeights(seed, 4 * hid * width, s);
    const std::vector<float> r = DeterministicWeights(seed + 1, 4 * hid * hid, s);
    const std::vector<float> b = DeterministicWeights(seed + 2, 8 * hid, s);
    tessera::reference::RefRnnSpec spec;
    spec.op = "LSTM";
    spec.seq = seq;
    spec.batch = batch;
    spec.input = width;
    spec.hidden = hid;
    spec.x = &layer_in;
    spec.w = &w;
    spec.r = &r;
    spec.b = &b;
    const tessera::reference::RefRnnResult out = tessera::reference::RefRecurrent(spec);
    // Squeeze(1) of [seq, 1, batch, H] keeps the element order. The next
    // layer reads it as float, as the engine does.
    layer_in.assign(out.y.begin(), out.y.end());
    width = hid;
    last = out.y_h;
  }
  const std::vector<float> w_o = DeterministicWeights(20, cls * hid, s);
  const std::vector<float> b_o = DeterministicWeights(21, cls, 0.1f);
  std::vector<double> probs(static_cast<size_t>(batch * cls));
  for (int64_t r = 0; r < batch; ++r) {
    std::vector<double> logits(cls);
    for (int64_t c = 0; c < cls; ++c) {
      logits[c] = b_o[c];
      for (int64_t j = 0; j < hid; ++j) logits[c] += last[r * hid + j] * w_o[c * hid + j];
    }
    const double m = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double l : logits) sum += std::exp(l - m);
    for (int64_t c = 0; c < cls; ++c) probs[r * cls + c] = std::exp(logits[c] - m) / sum;
  }
  return probs;
}

std::vector<float> Inputs(int64_t seq, int64_t batch) {
  std::vector<float> x(static_cast<size_t>(seq * batch * kLstmClassifierIn));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.377f * static_cast<float>(i));
  return x;
}

TEST(LstmClassifierTest, MatchesReferenceAndIsThreadInvariant) {
  tessera::Model model = tessera::Model::Load(kModelPath);
  for (auto [seq, batch] : {std::pair<int64_t, int64_t>{1, 1}, {9, 3}, {40, 17}}) {
    const std::vector<float> x = Inputs(seq, batch);
    tessera::Value input = tessera::Value::FromData<float>({seq, batch, kLstmClassifierIn}, x);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2}) {
      tessera::Session session(model, tessera::SessionOptions().Threads(threads));
      std::vector<tessera::Value> out = session.Run({{"features", &input}}, {"probs"});
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].dims(), (std::vector<int64_t>{batch, kLstmClassifierClasses}));
      results.push_back(out[0].ToVector<float>());
    }
    const std::vector<double> want = Reference(x, seq, batch);
    ASSERT_EQ(results[0].size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      // Two float LSTM layers over up to 40 steps (K <= 64 per product),
      // then a softmax of 5: errors of a few 1e-6 at most.
      EXPECT_NEAR(results[0][i], want[i], 2e-5) << "seq " << seq << " batch " << batch << " index " << i;
    }
    EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)), 0)
        << "seq " << seq << " batch " << batch << ": 2 threads differ from 1";
  }
}

}  // namespace
