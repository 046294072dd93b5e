// PyTorch models exported to ONNX by tools/export_pytorch_models.py (an
// LSTM classifier, a bidirectional GRU, a 2-layer GPT-style decoder):
// converted, loaded (graph optimizations included) and run at each data
// set's batch size and sequence length; every output within 1e-4 relative
// of PyTorch's (|got - want| <= 1e-4 |want| + 1e-6, the absolute term for
// values that round to zero).
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/onnx/onnx_importer.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace tessera {
namespace {

std::string Dir(const std::string& model) { return std::string(TESSERA_PYTORCH_FIXTURES) + "/" + model; }

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

OwnedTensor ReadTensor(const std::string& path) {
  const std::string bytes = ReadBytes(path);
  auto t = graph::ReadOnnxTensor(bytes.data(), bytes.size());
  EXPECT_TRUE(t.ok()) << path << ": " << t.status().ToString();
  return t.ok() ? std::move(t).value() : OwnedTensor();
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

// Runs every data set of `model_name` with `threads` threads and compares
// each output with PyTorch's.
void RunAndCompare(const std::string& model_name, int threads) {
  auto model = runtime::Model::LoadFromOnnxFile(Dir(model_name) + "/model.onnx", runtime::ModelOptions());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const graph::Graph& g = (*model)->graph();
  std::vector<std::string> outputs;
  for (int v : g.outputs) outputs.push_back(g.values[static_cast<size_t>(v)].name);
  runtime::SessionOptions options;
  options.threads = threads;
  runtime::Session session(*model, options);
  int sets = 0;
  for (;; ++sets) {
    const std::string set = Dir(model_name) + "/test_data_set_" + std::to_string(sets);
    if (!Exists(set + "/input_0.pb")) break;
    std::vector<OwnedTensor> inputs;
    std::vector<std::pair<std::string, const Tensor*>> feeds;
    for (size_t k = 0; k < g.inputs.size(); ++k) {
      inputs.push_back(ReadTensor(set + "/input_" + std::to_string(k) + ".pb"));
    }
    for (size_t k = 0; k < g.inputs.size(); ++k) {
      feeds.emplace_back(g.values[static_cast<size_t>(g.inputs[k])].name, &inputs[k].view);
    }
    std::vector<OwnedTensor> got;
    const Status status = session.Run(feeds, outputs, &got);
    ASSERT_TRUE(status.ok()) << model_name << " set " << sets << ": " << status.ToString();
    for (size_t k = 0; k < outputs.size(); ++k) {
      const OwnedTensor want = ReadTensor(set + "/output_" + std::to_string(k) + ".pb");
      ASSERT_EQ(got[k].view.shape, want.view.shape) << model_name << " set " << sets << " output " << outputs[k];
      ASSERT_EQ(got[k].view.dtype, DType::kF32);
      const float* a = got[k].view.data_as<float>();
      const float* b = want.view.data_as<float>();
      double worst = 0;
      for (int64_t i = 0; i < want.view.NumElements(); ++i) {
        const double err = std::fabs(static_cast<double>(a[i]) - b[i]);
        worst = std::max(worst, err / (std::fabs(static_cast<double>(b[i])) + 1e-2));
        ASSERT_LE(err, 1e-4 * std::fabs(b[i]) + 1e-6)
            << model_name << " set " << sets << " output '" << outputs[k] << "' element " << i << ": " << a[i]
            << ", PyTorch " << b[i] << " (shape " << ShapeToString(want.view.shape) << ", " << threads
            << " threads)";
      }
      std::printf("%s set %d output %s %s: max |err| / (|want| + 0.01) = %.2g\n", model_name.c_str(), sets,
                  outputs[k].c_str(), ShapeToString(want.view.shape).c_str(), worst);
    }
  }
  EXPECT_GE(sets, 2) << "each model has data sets of two shapes";
}

class PytorchModels : public ::testing::TestWithParam<const char*> {};

TEST_P(PytorchModels, MatchPyTorchAtEveryShape) {
  if (!graph::OnnxImportAvailable()) GTEST_SKIP() << "built without the ONNX importer";
  RunAndCompare(GetParam(), 1);
  RunAndCompare(GetParam(), 3);
}

INSTANTIATE_TEST_SUITE_P(Exported, PytorchModels, ::testing::Values("lstm_classifier", "bigru", "gpt_tiny"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

// The decoder keeps its batch and sequence dims named.
TEST(PytorchModels, GptTinyKeepsDynamicDims) {
  if (!graph::OnnxImportAvailable()) GTEST_SKIP() << "built without the ONNX importer";
  auto model = runtime::Model::LoadFromOnnxFile(Dir("gpt_tiny") + "/model.onnx", runtime::ModelOptions());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const graph::Value& tokens = (*model)->graph().values[static_cast<size_t>((*model)->graph().inputs[0])];
  EXPECT_EQ(tokens.dim_names, (std::vector<std::string>{"batch", "seq"}));
  EXPECT_EQ(tokens.info.dtype, DType::kI64);
}

}  // namespace
}  // namespace tessera
