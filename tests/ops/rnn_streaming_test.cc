// Streaming through the public API: a session that carries Y_h (and Y_c)
// into initial_h (and initial_c) between runs (SessionOptions::State) gives,
// for a sequence fed in chunks, the outputs of feeding it whole. This holds
// for the forward direction of RNN, GRU (both linear_before_reset) and LSTM:
// step t depends only on x_t and the state after step t-1. A reverse (or
// bidirectional) recurrence starts from the END of the sequence, so its
// state at a chunk boundary depends on inputs not seen yet: it cannot be
// streamed, and carrying its state would compute something else.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tessera/model_builder.h"
#include "tessera/tessera.hpp"

namespace {

constexpr int64_t kBatch = 2, kInput = 5, kHidden = 7;

std::vector<float> Values(size_t n, float scale, float phase) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(phase + 0.61f * static_cast<float>(i));
  return v;
}

// X [seq, batch, I], h0 (and c0) [1, batch, H] -> Y, h_n (and c_n).
tessera::Model BuildModel(const std::string& op, bool linear_before_reset) {
  using Attr = tessera::ModelBuilder::Attr;
  const int64_t gates = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
  const float s = 1.0f / std::sqrt(static_cast<float>(kHidden));
  tessera::ModelBuilder b;
  const int x = b.AddInput("X", TSR_DTYPE_FLOAT32, {"seq", kBatch, kInput});
  const int h0 = b.AddInput("h0", TSR_DTYPE_FLOAT32, {1, kBatch, kHidden});
  const int c0 = op == "LSTM" ? b.AddInput("c0", TSR_DTYPE_FLOAT32, {1, kBatch, kHidden}) : -1;
  const int w = b.AddConstant<float>("W", {1, gates * kHidden, kInput}, Values(gates * kHidden * kInput, s, 0.1f));
  const int r = b.AddConstant<float>("R", {1, gates * kHidden, kHidden}, Values(gates * kHidden * kHidden, s, 0.7f));
  const int bias = b.AddConstant<float>("B", {1, 2 * gates * kHidden}, Values(2 * gates * kHidden, 0.3f, 1.3f));
  std::vector<Attr> attrs = {Attr::Int("hidden_size", kHidden)};
  if (op == "GRU") attrs.push_back(Attr::Int("linear_before_reset", linear_before_reset ? 1 : 0));
  std::vector<int> inputs = {x, w, r, bias, -1, h0};
  std::vector<std::string> outputs = {"Y", "h_n"};
  if (op == "LSTM") {
    inputs.push_back(c0);
    outputs.push_back("c_n");
  }
  for (int out : b.AddNode(op, inputs, outputs, attrs, "cell")) b.AddOutput(out);
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  return tessera::Model::LoadFromBuffer(bytes.data(), bytes.size());
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, size_t offset, const std::string& what) {
  for (size_t i = 0; i < got.size(); ++i) {
    // Chunks change only the row count of the projection GEMM; every value
    // is the same float computation up to the GEMM's blocking, so they
    // agree to a few ulp of values below 1 in magnitude.
    ASSERT_NEAR(got[i], want[offset + i], 1e-6) << what << ", element " << offset + i;
  }
}

void CheckStreaming(const std::string& op, bool linear_before_reset) {
  const std::string where = op + (op == "GRU" ? (linear_before_reset ? " lbr 1" : " lbr 0") : "");
  const bool lstm = op == "LSTM";
  tessera::Model model = BuildModel(op, linear_before_reset);
  const int64_t seq = 12;
  const std::vector<float> x = Values(static_cast<size_t>(seq * kBatch * kInput), 1.0f, 0.0f);
  const std::vector<float> zeros(static_cast<size_t>(kBatch * kHidden), 0.0f);
  tessera::Value h0 = tessera::Value::FromData<float>({1, kBatch, kHidden}, zeros);
  tessera::Value c0 = tessera::Value::FromData<float>({1, kBatch, kHidden}, zeros);
  std::vector<std::string> out_names = {"Y", "h_n"};
  if (lstm) out_names.push_back("c_n");

  // Whole sequence.
  tessera::Session whole(model, tessera::SessionOptions().Threads(1));
  tessera::Value x_all = tessera::Value::FromData<float>({seq, kBatch, kInput}, x);
  std::vector<std::pair<std::string, const tessera::Value*>> ins = {{"X", &x_all}, {"h0", &h0}};
  if (lstm) ins.push_back({"c0", &c0});
  const std::vector<tessera::Value> full = whole.Run(ins, out_names);
  const std::vector<float> y_full = full[0].ToVector<float>();

  // Chunks of 5, 4 and 3 steps; the state is given on the first run only.
  for (int threads : {1, 2}) {
    tessera::SessionOptions options;
    options.Threads(threads).State("h_n", "h0");
    if (lstm) options.State("c_n", "c0");
    tessera::Session stream(model, options);
    int64_t t0 = 0;
    std::vector<tessera::Value> last;
    for (int64_t len : {5, 4, 3}) {
      const std::vector<float> chunk(x.begin() + t0 * kBatch * kInput, x.begin() + (t0 + len) * kBatch * kInput);
      tessera::Value xc = tessera::Value::FromData<float>({len, kBatch, kInput}, chunk);
      std::vector<std::pair<std::string, const tessera::Value*>> chunk_ins = {{"X", &xc}};
      if (t0 == 0) {
        chunk_ins.push_back({"h0", &h0});
        if (lstm) chunk_ins.push_back({"c0", &c0});
      }
      last = stream.Run(chunk_ins, out_names);
      ExpectNear(last[0].ToVector<float>(), y_full, static_cast<size_t>(t0 * kBatch * kHidden),
                 where + " Y, threads " + std::to_string(threads));
      t0 += len;
    }
    ExpectNear(last[1].ToVector<float>(), full[1].ToVector<float>(), 0, where + " Y_h");
    if (lstm) ExpectNear(last[2].ToVector<float>(), full[2].ToVector<float>(), 0, where + " Y_c");

    // After ResetState the state must be given again, and the error says so.
    stream.ResetState();
    tessera::Value xc = tessera::Value::FromData<float>({1, kBatch, kInput}, std::vector<float>(kBatch * kInput, 0.5f));
    try {
      stream.Run({{"X", &xc}}, out_names);
      ADD_FAILURE() << where << ": a run without carried state succeeded";
    } catch (const tessera::Error& e) {
      EXPECT_NE(std::string(e.what()).find("'h0'"), std::string::npos) << e.what();
    }
  }
}

TEST(RnnStreamingTest, ForwardChunksEqualWholeSequence) {
  CheckStreaming("RNN", false);
  CheckStreaming("GRU", false);
  CheckStreaming("GRU", true);
  CheckStreaming("LSTM", false);
}

TEST(RnnStreamingTest, UnknownBindingIsNamed) {
  tessera::Model model = BuildModel("RNN", false);
  tessera::Session session(model, tessera::SessionOptions().State("h_last", "h0"));
  tessera::Value x = tessera::Value::FromData<float>({1, kBatch, kInput}, std::vector<float>(kBatch * kInput, 0.5f));
  tessera::Value h0 = tessera::Value::FromData<float>({1, kBatch, kHidden}, std::vector<float>(kBatch * kHidden, 0.0f));
  try {
    session.Run({{"X", &x}, {"h0", &h0}}, {"Y"});
    ADD_FAILURE() << "a binding to an unknown output was accepted";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no output 'h_last'"), std::string::npos) << e.what();
  }
}

}  // namespace
