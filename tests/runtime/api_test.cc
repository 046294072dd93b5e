// The public C++ API (tessera.hpp over libtessera.so) on the bundled
// example model: end to end against an independent double-precision
// reference, model introspection, profiling, and errors as a user sees them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "models/example_models.h"
#include "tessera/model_builder.h"
#include "tessera/tessera.hpp"

namespace {

const std::string kModelPath = std::string(TESSERA_SOURCE_DIR) + "/models/gated_mlp.tess";

// The gated MLP in double precision, from its definition
// (models/example_models.h), with the same deterministic weights.
std::vector<double> GatedMlpReference(const std::vector<float>& x, int64_t batch) {
  using namespace tessera::models;
  const int in = kGatedMlpIn, hid = kGatedMlpHidden, cls = kGatedMlpClasses;
  const float s_in = 1.0f / std::sqrt(static_cast<float>(in));
  const float s_hid = 1.0f / std::sqrt(static_cast<float>(hid));
  const auto wa = DeterministicWeights(1, in * hid, s_in), ba = DeterministicWeights(2, hid, 0.1f);
  const auto wb = DeterministicWeights(3, in * hid, s_in), bb = DeterministicWeights(4, hid, 0.1f);
  const auto wo = DeterministicWeights(5, cls * hid, s_hid), bo = DeterministicWeights(6, cls, 0.1f);
  std::vector<double> probs(static_cast<size_t>(batch * cls));
  for (int64_t r = 0; r < batch; ++r) {
    std::vector<double> m(hid);
    for (int j = 0; j < hid; ++j) {
      double a = ba[j], g = bb[j];
      for (int k = 0; k < in; ++k) {
        a += static_cast<double>(x[r * in + k]) * wa[k * hid + j];
        g += static_cast<double>(x[r * in + k]) * wb[k * hid + j];
      }
      m[j] = std::tanh(a) * (1.0 / (1.0 + std::exp(-g)));
    }
    std::vector<double> logits(cls);
    double max_logit = -1e300;
    for (int c = 0; c < cls; ++c) {
      logits[c] = bo[c];
      for (int j = 0; j < hid; ++j) logits[c] += m[j] * wo[c * hid + j];
      max_logit = std::max(max_logit, logits[c]);
    }
    double sum = 0;
    for (int c = 0; c < cls; ++c) sum += std::exp(logits[c] - max_logit);
    for (int c = 0; c < cls; ++c) probs[r * cls + c] = std::exp(logits[c] - max_logit) / sum;
  }
  return probs;
}

std::vector<float> Inputs(int64_t batch) {
  std::vector<float> x(static_cast<size_t>(batch * tessera::models::kGatedMlpIn));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.731f * static_cast<float>(i)) * 2.0f;
  return x;
}

TEST(ApiTest, BundledModelMatchesReference) {
  tessera::Model model = tessera::Model::Load(kModelPath);
  for (int threads : {1, 2}) {
    tessera::Session session(model, tessera::SessionOptions().Threads(threads));
    for (int64_t batch : {1, 5, 33}) {
      const std::vector<float> x = Inputs(batch);
      tessera::Value input = tessera::Value::FromData<float>({batch, 32}, x);
      std::vector<tessera::Value> out = session.Run({{"features", &input}}, {"probs"});
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].dims(), (std::vector<int64_t>{batch, 10}));
      const std::vector<float> got = out[0].ToVector<float>();
      const std::vector<double> want = GatedMlpReference(x, batch);
      for (size_t i = 0; i < want.size(); ++i) {
        // float32 accumulation over K <= 64 plus transcendental error:
        // well inside 1e-5 absolute on probabilities.
        EXPECT_NEAR(got[i], want[i], 1e-5) << "batch " << batch << " index " << i << " threads " << threads;
      }
    }
  }
}

TEST(ApiTest, OneAndTwoThreadsBitwiseEqual) {
  tessera::Model model = tessera::Model::Load(kModelPath);
  const std::vector<float> x = Inputs(64);
  tessera::Value input = tessera::Value::FromData<float>({64, 32}, x);
  tessera::Session one(model, tessera::SessionOptions().Threads(1));
  tessera::Session two(model, tessera::SessionOptions().Threads(2));
  const auto a = one.Run({{"features", &input}}, {"probs"})[0].ToVector<float>();
  const auto b = two.Run({{"features", &input}}, {"probs"})[0].ToVector<float>();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(ApiTest, EveryBundledModelIsRegeneratedByteIdentical) {
  for (const tessera::models::ExampleModel& model : tessera::models::ExampleModels()) {
    tessera::ModelBuilder b;
    model.build(b);
    std::vector<uint8_t> bytes;
    std::string error;
    ASSERT_TRUE(b.Finish(&bytes, &error)) << model.file << ": " << error;
    std::ifstream file(std::string(TESSERA_SOURCE_DIR) + "/models/" + model.file, std::ios::binary);
    const std::vector<uint8_t> committed((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, committed) << "models/" << model.file
                                << " is stale: run `cmake --build build --target regenerate_models`";
  }
}

TEST(ApiTest, HandWrittenJsonModelRuns) {
  // models/scale_shift.json, compiled by flatc at build time: y = x * scale + shift.
  tessera::Model model = tessera::Model::Load(std::string(TESSERA_BINARY_DIR) + "/models/scale_shift.tess");
  tessera::Session session(model);
  tessera::Value x = tessera::Value::FromData<float>({2, 4}, {1, 2, 3, 4, -1, -2, -3, -4});
  const std::vector<float> y = session.Run({{"x", &x}}, {"y"})[0].ToVector<float>();
  const std::vector<float> want{0.5f, 2.1f, 6.2f, -3.7f, -0.5f, -1.9f, -5.8f, 4.3f};
  ASSERT_EQ(y.size(), want.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], want[i]) << i;
}

TEST(ApiTest, Introspection) {
  tessera::Model model = tessera::Model::Load(kModelPath);
  const auto inputs = model.Inputs();
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].name, "features");
  EXPECT_EQ(inputs[0].dtype, TSR_DTYPE_FLOAT32);
  EXPECT_EQ(inputs[0].dims, (std::vector<int64_t>{-1, 32}));
  EXPECT_EQ(inputs[0].dim_names, (std::vector<std::string>{"batch", ""}));
  const auto outputs = model.Outputs();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name, "probs");
  EXPECT_EQ(outputs[0].dims, (std::vector<int64_t>{-1, 10}));
  // 8 nodes as stored; at load MatMul + Add + Sigmoid and Gemm + Tanh fuse.
  const auto nodes = model.Nodes();
  ASSERT_EQ(nodes.size(), 5u);
  EXPECT_EQ(nodes.back().op_type, "Softmax");
  EXPECT_EQ(nodes.back().inputs, (std::vector<std::string>{"logits"}));
  const auto optimizations = model.Optimizations();
  ASSERT_EQ(optimizations.size(), 2u);
  EXPECT_STREQ(optimizations[0].pass, "matmul_bias_fusion");
  EXPECT_EQ(optimizations[0].nodes_before, 8);
  EXPECT_EQ(optimizations[1].nodes_after, 5);
  const tessera::Model stored = tessera::Model::Load(kModelPath, tessera::ModelOptions().Optimize(false));
  EXPECT_EQ(stored.Nodes().size(), 8u);
  EXPECT_TRUE(stored.Optimizations().empty());
  const TsrModelStats stats = model.Stats({{"batch", 4}});
  EXPECT_EQ(stats.parameter_count, 32 * 64 * 2 + 64 * 2 + 64 * 10 + 10);
  EXPECT_EQ(stats.parameter_bytes, stats.parameter_count * 4);
  EXPECT_EQ(stats.num_intermediates, 4);
  EXPECT_LT(stats.activation_bytes_planned, stats.activation_bytes_unplanned);
  bool found = false;
  for (const auto& [key, value] : model.Metadata()) found |= key == "name" && value == "gated_mlp";
  EXPECT_TRUE(found);
  try {
    model.Stats();
    FAIL() << "stats without binding 'batch' should fail";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("('batch') is not bound"), std::string::npos) << e.what();
  }
}

TEST(ApiTest, ProfileHasOneRecordPerNodeWithCosts) {
  tessera::Model model = tessera::Model::Load(kModelPath);
  tessera::Session session(model, tessera::SessionOptions().Threads(2).Profiling(true));
  tessera::Value input = tessera::Value::FromData<float>({8, 32}, Inputs(8));
  session.Run({{"features", &input}}, {"probs"});
  const auto profile = session.Profile();
  ASSERT_EQ(profile.size(), 5u);  // after the load-time fusions
  for (const auto& p : profile) {
    EXPECT_GE(p.duration_ns, 0);
    EXPECT_GT(p.bytes, 0) << p.node_name;
    if (p.node_name == "gate/matmul") {
      // The product, plus the fused bias (1) and sigmoid (25) per output.
      EXPECT_EQ(p.flops, 2.0 * 8 * 32 * 64 + 8 * 64 * 26);
    }
  }
}

TEST(ApiTest, ErrorsAUserSees) {
  auto expect_error = [](auto&& fn, int32_t code, const std::string& fragment) {
    try {
      fn();
      ADD_FAILURE() << "no error; expected: " << fragment;
    } catch (const tessera::Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error([] { tessera::Model::Load("/no/such/model.tess"); }, TSR_ERR_NOT_FOUND, "/no/such/model.tess");
  const std::string garbage = "definitely not a model, just some text";
  expect_error([&] { tessera::Model::LoadFromBuffer(garbage.data(), garbage.size()); }, TSR_ERR_INVALID_MODEL,
               "not a Tessera model");
  tessera::Model model = tessera::Model::Load(kModelPath);
  tessera::Session session(model);
  tessera::Value wrong_shape = tessera::Value::Zeros(TSR_DTYPE_FLOAT32, {2, 31});
  tessera::Value wrong_dtype = tessera::Value::Zeros(TSR_DTYPE_INT64, {2, 32});
  expect_error([&] { session.Run({{"features", &wrong_shape}}, {"probs"}); }, TSR_ERR_INVALID_ARGUMENT,
               "input 'features' has shape [2, 31], expected [?, 32]");
  expect_error([&] { session.Run({{"features", &wrong_dtype}}, {"probs"}); }, TSR_ERR_INVALID_ARGUMENT,
               "input 'features' has dtype i64, expected f32");
  expect_error([&] { session.Run({}, {"probs"}); }, TSR_ERR_INVALID_ARGUMENT, "missing input 'features'");
  expect_error([&] { tessera::SessionOptions().Threads(-2); }, TSR_ERR_INVALID_ARGUMENT, "thread count");
  std::vector<float> three(3);
  expect_error([&] { tessera::Value::View(TSR_DTYPE_FLOAT32, {2, 2}, three.data(), 12); },
               TSR_ERR_INVALID_ARGUMENT, "12 bytes given");
}

}  // namespace
