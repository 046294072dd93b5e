// The ONNX entry points of the public API, through libtessera.so:
// tessera::Model::LoadOnnx / LoadOnnxFromBuffer, tessera::ConvertOnnxFile,
// and the C functions' argument checks.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessera/tessera.hpp"

namespace {

std::string Fixture(const std::string& name) { return std::string(TESSERA_ONNX_FIXTURES) + "/" + name; }

std::vector<float> RunSymbolicDims(tessera::Model& model, int64_t batch, int64_t seq) {
  tessera::Session session(model, tessera::SessionOptions().Threads(1));
  std::vector<float> x(static_cast<size_t>(batch * seq * 8), 0.5f);
  tessera::Value xv = tessera::Value::FromData<float>({batch, seq, 8}, x);
  tessera::Value bv = tessera::Value::FromData<float>({4}, {1, 2, 3, 4});
  std::vector<tessera::Value> out = session.Run({{"x", &xv}, {"bias", &bv}}, {"y"});
  EXPECT_EQ(out[0].dims(), (std::vector<int64_t>{batch, seq, 4}));
  return out[0].ToVector<float>();
}

TEST(OnnxApi, LoadOnnxKeepsNamedDims) {
  ASSERT_TRUE(tessera::OnnxImportAvailable());
  tessera::Model model = tessera::Model::LoadOnnx(Fixture("symbolic_dims.onnx"));
  const std::vector<tessera::ValueInfo> inputs = model.Inputs();
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(inputs[0].dims, (std::vector<int64_t>{-1, -1, 8}));
  EXPECT_EQ(inputs[0].dim_names, (std::vector<std::string>{"batch", "seq", ""}));
  EXPECT_EQ(RunSymbolicDims(model, 3, 2).size(), 24u);
  EXPECT_EQ(RunSymbolicDims(model, 1, 5).size(), 20u);
}

TEST(OnnxApi, ConvertThenLoadGivesTheSameResults) {
  const std::string out = std::string(TESSERA_BINARY_DIR) + "/symbolic_dims_api_test.tess";
  tessera::ConvertOnnxFile(Fixture("symbolic_dims.onnx"), out);
  tessera::Model converted = tessera::Model::Load(out);
  std::ifstream in(Fixture("symbolic_dims.onnx"), std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string onnx = bytes.str();
  tessera::Model direct = tessera::Model::LoadOnnxFromBuffer(onnx.data(), onnx.size());
  EXPECT_EQ(RunSymbolicDims(converted, 2, 3), RunSymbolicDims(direct, 2, 3));
  std::remove(out.c_str());
}

TEST(OnnxApi, UnsupportedOpsAreUnimplemented) {
  try {
    tessera::Model::LoadOnnx(Fixture("unsupported_ops.onnx"));
    FAIL() << "loaded a model with unsupported ops";
  } catch (const tessera::Error& e) {
    EXPECT_EQ(e.code(), TSR_ERR_UNIMPLEMENTED);
    EXPECT_NE(std::string(e.what()).find("Floor in 2 nodes 'floor_a', 'floor_b'"), std::string::npos) << e.what();
  }
}

TEST(OnnxApi, CArgumentChecks) {
  TsrModel* model = nullptr;
  TsrStatus* s = TsrModelLoadOnnx(nullptr, nullptr, &model);
  EXPECT_EQ(TsrStatusGetCode(s), TSR_ERR_INVALID_ARGUMENT);
  TsrStatusRelease(s);
  s = TsrModelLoadOnnxFromBuffer(nullptr, 4, nullptr, &model);
  EXPECT_EQ(TsrStatusGetCode(s), TSR_ERR_INVALID_ARGUMENT);
  TsrStatusRelease(s);
  s = TsrConvertOnnxFile(Fixture("symbolic_dims.onnx").c_str(), nullptr, nullptr);
  EXPECT_EQ(TsrStatusGetCode(s), TSR_ERR_INVALID_ARGUMENT);
  TsrStatusRelease(s);
  s = TsrModelLoadOnnx("/nonexistent/model.onnx", nullptr, &model);
  EXPECT_EQ(TsrStatusGetCode(s), TSR_ERR_NOT_FOUND);
  EXPECT_EQ(model, nullptr);
  TsrStatusRelease(s);
  // A conversion that fails writes nothing.
  const std::string out = std::string(TESSERA_BINARY_DIR) + "/unsupported_api_test.tess";
  std::remove(out.c_str());
  s = TsrConvertOnnxFile(Fixture("unsupported_ops.onnx").c_str(), out.c_str(), nullptr);
  EXPECT_EQ(TsrStatusGetCode(s), TSR_ERR_UNIMPLEMENTED);
  TsrStatusRelease(s);
  EXPECT_EQ(std::fopen(out.c_str(), "rb"), nullptr);
}

}  // namespace
