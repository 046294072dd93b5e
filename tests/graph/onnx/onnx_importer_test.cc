// The ONNX importer on the fixtures of make_onnx_fixtures.py: attributes,
// initializers of every dtype, symbolic dims, op-set differences, Constant
// nodes, the single unsupported-op error, refusals, and hostile bytes.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/loader.h"
#include "graph/onnx/onnx_importer.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace tessera {
namespace {

std::string FixturePath(const std::string& name) { return std::string(TESSERA_ONNX_FIXTURES) + "/" + name; }

std::string ReadFixture(const std::string& name) {
  std::ifstream in(FixturePath(name), std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<const runtime::Model> Load(const std::string& name) {
  auto model = runtime::Model::LoadFromOnnxFile(FixturePath(name), runtime::ModelOptions());
  EXPECT_TRUE(model.ok()) << name << ": " << model.status().ToString();
  return model.ok() ? *model : nullptr;
}

// The converted graph as the loader makes it, before any load-time graph
// optimization: what the importer wrote.
std::unique_ptr<graph::Graph> ConvertedGraph(const std::string& name) {
  const std::string onnx = ReadFixture(name);
  auto tess = graph::ConvertOnnxToTess(onnx.data(), onnx.size(), graph::OnnxImportOptions());
  EXPECT_TRUE(tess.ok()) << name << ": " << tess.status().ToString();
  if (!tess.ok()) return nullptr;
  auto g = graph::LoadGraphFromBuffer(tess->data(), tess->size(), graph::LoadOptions());
  EXPECT_TRUE(g.ok()) << name << ": " << g.status().ToString();
  return g.ok() ? std::move(g).value() : nullptr;
}

Status LoadStatus(const std::string& name) {
  return runtime::Model::LoadFromOnnxFile(FixturePath(name), runtime::ModelOptions()).status();
}

const graph::Node* FindNode(const graph::Graph& g, const std::string& name) {
  for (const graph::Node& n : g.nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const graph::Value* FindValue(const graph::Graph& g, const std::string& name) {
  const int v = g.FindValue(name);
  return v >= 0 ? &g.values[static_cast<size_t>(v)] : nullptr;
}

OwnedTensor MakeF32(const Shape& shape, float start = 0.1f, float step = 0.37f) {
  OwnedTensor t = OwnedTensor::Allocate(DType::kF32, shape).value();
  float* p = t.view.data_as<float>();
  for (int64_t i = 0; i < t.view.NumElements(); ++i) p[i] = std::sin(start + step * static_cast<float>(i));
  return t;
}

std::vector<OwnedTensor> RunModel(const std::shared_ptr<const runtime::Model>& model,
                             const std::vector<std::pair<std::string, const Tensor*>>& inputs) {
  runtime::SessionOptions options;
  options.threads = 1;
  runtime::Session session(model, options);
  std::vector<std::string> names;
  for (int v : model->graph().outputs) names.push_back(model->graph().values[static_cast<size_t>(v)].name);
  std::vector<OwnedTensor> outputs;
  const Status status = session.Run(inputs, names, &outputs);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return outputs;
}

std::vector<float> Floats(const Tensor& t) {
  const float* p = t.data_as<float>();
  return std::vector<float>(p, p + t.NumElements());
}

void ExpectNear(const std::vector<double>& want, const Tensor& got, const std::string& what) {
  ASSERT_EQ(got.dtype, DType::kF32) << what;
  ASSERT_EQ(static_cast<size_t>(got.NumElements()), want.size()) << what;
  const float* p = got.data_as<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(p[i], want[i], 1e-5 * std::max(1.0, std::fabs(want[i]))) << what << " element " << i;
  }
}

TEST(OnnxImporter, Available) { EXPECT_TRUE(graph::OnnxImportAvailable()); }

TEST(OnnxImporter, AttributesOfEachType) {
  auto model = Load("attributes.onnx");
  std::unique_ptr<graph::Graph> converted = ConvertedGraph("attributes.onnx");
  ASSERT_TRUE(model != nullptr && converted != nullptr);
  const graph::Graph& g = *converted;
  const graph::Node* gemm = FindNode(g, "gemm");
  ASSERT_NE(gemm, nullptr);
  EXPECT_FLOAT_EQ(gemm->attrs.GetFloat("alpha"), 0.5f);
  EXPECT_FLOAT_EQ(gemm->attrs.GetFloat("beta"), 2.0f);
  EXPECT_EQ(gemm->attrs.GetInt("transA", -1), 0);
  EXPECT_EQ(gemm->version, 17);
  const graph::Node* transpose = FindNode(g, "transpose");
  ASSERT_NE(transpose, nullptr);
  EXPECT_EQ(transpose->attrs.GetInts("perm"), (std::vector<int64_t>{1, 0}));
  const graph::Node* lstm = FindNode(g, "lstm");
  ASSERT_NE(lstm, nullptr);
  EXPECT_EQ(lstm->attrs.GetString("direction"), "reverse");
  EXPECT_EQ(lstm->attrs.GetStrings("activations"), (std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}));
  EXPECT_FLOAT_EQ(lstm->attrs.GetFloat("clip"), 0.75f);
  EXPECT_EQ(lstm->attrs.GetInt("hidden_size"), 4);
  // An omitted output ("") stays omitted.
  ASSERT_EQ(lstm->outputs.size(), 2u);
  EXPECT_EQ(lstm->outputs[0], -1);

  // g = 0.5 * x^T B (no C, so beta does not matter).
  OwnedTensor x = MakeF32({2, 3});
  const std::vector<OwnedTensor> out = RunModel(model, {{"x", &x.view}});
  ASSERT_EQ(out.size(), 2u);
  const graph::Value* b = FindValue(g, "B");
  ASSERT_TRUE(b != nullptr && b->is_constant);
  const float* bp = b->constant.data_as<float>();
  const float* xp = x.view.data_as<float>();
  std::vector<double> want;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 5; ++j) {
      double sum = 0;
      for (int k = 0; k < 2; ++k) sum += static_cast<double>(xp[k * 3 + i]) * bp[k * 5 + j];
      want.push_back(0.5 * sum);
    }
  }
  ExpectNear(want, out[0].view, "g");
}

TEST(OnnxImporter, InitializersOfEveryDtypeInBothEncodings) {
  const std::string onnx = ReadFixture("initializers.onnx");
  auto tess = graph::ConvertOnnxToTess(onnx.data(), onnx.size(), graph::OnnxImportOptions());
  ASSERT_TRUE(tess.ok()) << tess.status().ToString();
  auto g = graph::LoadGraphFromBuffer(tess->data(), tess->size(), graph::LoadOptions());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_LT((*g)->FindValue("unused"), 0) << "an initializer nobody reads is dropped";

  struct Expected {
    const char* name;
    DType dtype;
    Shape shape;
    std::vector<uint8_t> bytes;
  };
  auto bytes_of = [](const auto& values) {
    std::vector<uint8_t> b(values.size() * sizeof(values[0]));
    std::memcpy(b.data(), values.data(), b.size());
    return b;
  };
  const std::vector<Expected> expected = {
      {"f32", DType::kF32, {2, 3}, bytes_of(std::vector<float>{1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, -7.5f})},
      {"i64", DType::kI64, {3}, bytes_of(std::vector<int64_t>{1, -2, 3000000000000})},
      {"i32", DType::kI32, {3}, bytes_of(std::vector<int32_t>{7, -8, 2000000000})},
      {"i8", DType::kI8, {3}, bytes_of(std::vector<int8_t>{-128, 0, 127})},
      {"u8", DType::kU8, {3}, bytes_of(std::vector<uint8_t>{0, 200, 255})},
      {"bool", DType::kBool, {4}, bytes_of(std::vector<uint8_t>{1, 0, 1, 1})},
      // IEEE half bits of 1.0, -0.5, 65504.
      {"f16", DType::kF16, {3}, bytes_of(std::vector<uint16_t>{0x3C00, 0xB800, 0x7BFF})},
      // bfloat16 bits of 1.0, -2.0, 0.5.
      {"bf16", DType::kBF16, {3}, bytes_of(std::vector<uint16_t>{0x3F80, 0xC000, 0x3F00})},
      {"scalar", DType::kF32, {}, bytes_of(std::vector<float>{4.25f})},
  };
  for (const Expected& e : expected) {
    for (const char* form : {"_raw", "_typed"}) {
      const std::string name = std::string(e.name) + form;
      const int v = (*g)->FindValue(name);
      ASSERT_GE(v, 0) << name;
      const graph::Value& value = (*g)->values[static_cast<size_t>(v)];
      ASSERT_TRUE(value.is_constant) << name;
      EXPECT_EQ(value.constant.dtype, e.dtype) << name;
      EXPECT_EQ(value.constant.shape, e.shape) << name;
      ASSERT_EQ(value.constant.ByteSize(), e.bytes.size()) << name;
      EXPECT_EQ(std::memcmp(value.constant.data, e.bytes.data(), e.bytes.size()), 0) << name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(value.constant.data) % 64, 0u) << name << " is not 64-byte aligned";
    }
  }
}

TEST(OnnxImporter, SymbolicDimsStayNamedAndRunAtAnySize) {
  auto model = Load("symbolic_dims.onnx");
  std::unique_ptr<graph::Graph> converted = ConvertedGraph("symbolic_dims.onnx");
  ASSERT_TRUE(model != nullptr && converted != nullptr);
  const graph::Graph& g = *converted;
  ASSERT_EQ(g.inputs.size(), 2u);
  const graph::Value& x = g.values[static_cast<size_t>(g.inputs[0])];
  EXPECT_EQ(x.info.shape, (Shape{kDynamicDim, kDynamicDim, 8}));
  EXPECT_EQ(x.dim_names, (std::vector<std::string>{"batch", "seq", ""}));
  const graph::Value& bias = g.values[static_cast<size_t>(g.inputs[1])];
  EXPECT_EQ(bias.info.shape, (Shape{kDynamicDim}));
  EXPECT_TRUE(bias.dim_names.empty() || bias.dim_names[0].empty()) << "a dim with neither value nor name is unnamed";
  const graph::Value& y = g.values[static_cast<size_t>(g.outputs[0])];
  EXPECT_EQ(y.dim_names, (std::vector<std::string>{"batch", "seq", ""}));

  const graph::Value* w = FindValue(g, "W");
  ASSERT_TRUE(w != nullptr && w->is_constant);
  for (const auto& [batch, seq] : std::vector<std::pair<int64_t, int64_t>>{{2, 3}, {5, 1}, {1, 7}}) {
    OwnedTensor in = MakeF32({batch, seq, 8});
    OwnedTensor b = MakeF32({4}, 2.0f, 0.5f);
    const std::vector<OwnedTensor> out = RunModel(model, {{"x", &in.view}, {"bias", &b.view}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].view.shape, (Shape{batch, seq, 4}));
    std::vector<double> want;
    const float* xp = in.view.data_as<float>();
    const float* wp = w->constant.data_as<float>();
    for (int64_t r = 0; r < batch * seq; ++r) {
      for (int j = 0; j < 4; ++j) {
        double sum = b.view.data_as<float>()[j];
        for (int k = 0; k < 8; ++k) sum += static_cast<double>(xp[r * 8 + k]) * wp[k * 4 + j];
        want.push_back(sum);
      }
    }
    ExpectNear(want, out[0].view, "y at batch " + std::to_string(batch) + ", seq " + std::to_string(seq));
  }
}

// Softmax over [2, 3, 4] at axis 1: before op set 13 over the 12 trailing
// elements of each row (coerced to 2-D), from 13 over the 3 of axis 1.
TEST(OnnxImporter, SoftmaxAxisSemanticsFollowTheOpSet) {
  OwnedTensor x = MakeF32({2, 3, 4});
  const float* xp = x.view.data_as<float>();
  for (int opset : {11, 13}) {
    auto model = Load("softmax_opset" + std::to_string(opset) + ".onnx");
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(ConvertedGraph("softmax_opset" + std::to_string(opset) + ".onnx")->nodes[0].version, opset);
    const std::vector<OwnedTensor> out = RunModel(model, {{"x", &x.view}});
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> want(24);
    for (int n = 0; n < 2; ++n) {
      for (int k = 0; k < 4; ++k) {
        for (int c = 0; c < 3; ++c) {
          double sum = 0;
          for (int c2 = 0; c2 < 3; ++c2) {
            for (int k2 = 0; k2 < 4; ++k2) {
              if (opset >= 13 && k2 != k) continue;
              sum += std::exp(static_cast<double>(xp[n * 12 + c2 * 4 + k2]));
            }
          }
          want[static_cast<size_t>(n * 12 + c * 4 + k)] = std::exp(static_cast<double>(xp[n * 12 + c * 4 + k])) / sum;
        }
      }
    }
    ExpectNear(want, out[0].view, "softmax op set " + std::to_string(opset));
  }
}

// Squeeze, Unsqueeze and Split take axes/sizes as attributes before op
// set 13 and as inputs from 13; both forms give the same result.
TEST(OnnxImporter, AxesAttributeAndAxesInputGiveTheSameResult) {
  for (const char* op : {"squeeze", "unsqueeze", "split"}) {
    auto v11 = Load(std::string(op) + "_opset11.onnx");
    auto v13 = Load(std::string(op) + "_opset13.onnx");
    ASSERT_TRUE(v11 != nullptr && v13 != nullptr) << op;
    EXPECT_EQ(ConvertedGraph(std::string(op) + "_opset11.onnx")->nodes[0].version, 11);
    EXPECT_EQ(ConvertedGraph(std::string(op) + "_opset13.onnx")->nodes[0].version, 13);
    const Shape in_shape = std::string(op) == "squeeze" ? Shape{2, 1, 4} : Shape{2, 3, 4};
    OwnedTensor x = MakeF32(in_shape);
    const std::vector<OwnedTensor> a = RunModel(v11, {{"x", &x.view}});
    const std::vector<OwnedTensor> b = RunModel(v13, {{"x", &x.view}});
    ASSERT_EQ(a.size(), b.size()) << op;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].view.shape, b[i].view.shape) << op;
      EXPECT_EQ(Floats(a[i].view), Floats(b[i].view)) << op;
    }
    if (std::string(op) == "unsqueeze") {
      EXPECT_EQ(a[0].view.shape, (Shape{1, 2, 3, 1, 4}));
    }
    if (std::string(op) == "squeeze") {
      EXPECT_EQ(a[0].view.shape, (Shape{2, 4}));
    }
    if (std::string(op) == "split") {
      ASSERT_EQ(a.size(), 2u);
      EXPECT_EQ(a[0].view.shape, (Shape{2, 3, 1}));
      EXPECT_EQ(a[1].view.shape, (Shape{2, 3, 3}));
      EXPECT_EQ(Floats(a[1].view)[0], Floats(x.view)[1]);
    }
  }
}

TEST(OnnxImporter, ReduceMeanAxesAttribute) {
  auto model = Load("reducemean_opset13.onnx");
  ASSERT_NE(model, nullptr);
  OwnedTensor x = MakeF32({2, 3, 4});
  const std::vector<OwnedTensor> out = RunModel(model, {{"x", &x.view}});
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> want;
  const float* xp = x.view.data_as<float>();
  for (int r = 0; r < 6; ++r) {
    double sum = 0;
    for (int k = 0; k < 4; ++k) sum += xp[r * 4 + k];
    want.push_back(sum / 4);
  }
  EXPECT_EQ(out[0].view.shape, (Shape{2, 3}));
  ExpectNear(want, out[0].view, "reducemean");
}

TEST(OnnxImporter, ConstantNodesAndConstantOfShapeValue) {
  auto model = Load("constants.onnx");
  std::unique_ptr<graph::Graph> converted = ConvertedGraph("constants.onnx");
  ASSERT_TRUE(model != nullptr && converted != nullptr);
  for (const graph::Node& n : converted->nodes) EXPECT_NE(n.op_type, "Constant") << "Constant nodes become constants";
  const graph::Node* fill = FindNode(*converted, "fill");
  ASSERT_NE(fill, nullptr);
  EXPECT_FLOAT_EQ(fill->attrs.GetFloat("value_float"), 0.25f);
  OwnedTensor x = MakeF32({2, 3});
  const std::vector<OwnedTensor> out = RunModel(model, {{"x", &x.view}});
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> want;
  const float* xp = x.view.data_as<float>();
  for (int i = 0; i < 6; ++i) want.push_back((xp[i] + (i % 3 + 1) + 10.0 * (i % 3 + 1)) * 0.5 + 0.25);
  ExpectNear(want, out[0].view, "constants");
}

TEST(OnnxImporter, OldIrInitializersListedAsInputsAreConstants) {
  std::unique_ptr<graph::Graph> converted = ConvertedGraph("ir3_initializer_inputs.onnx");
  ASSERT_NE(converted, nullptr);
  const graph::Graph& g = *converted;
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[static_cast<size_t>(g.inputs[0])].name, "x");
  EXPECT_TRUE(FindValue(g, "w")->is_constant);
  EXPECT_EQ(g.nodes[0].version, 9);
}

// Op-set 3 forms rewritten into the versions Tessera implements.
TEST(OnnxImporter, LegacyOpSetFormsAreUpgraded) {
  auto model = Load("legacy_opset3.onnx");
  std::unique_ptr<graph::Graph> converted = ConvertedGraph("legacy_opset3.onnx");
  ASSERT_TRUE(model != nullptr && converted != nullptr);
  EXPECT_EQ(FindNode(*converted, "add")->version, 7);
  EXPECT_FALSE(FindNode(*converted, "add")->attrs.Has("broadcast"));
  EXPECT_EQ(FindNode(*converted, "relu")->version, 6);
  EXPECT_EQ(FindNode(*converted, "reshape")->version, 5);
  EXPECT_EQ(FindNode(*converted, "slice")->version, 10);
  EXPECT_EQ(FindNode(*converted, "slice")->inputs.size(), 4u);
  EXPECT_EQ(FindNode(*converted, "concat")->attrs.GetInt("axis", -1), 1);
  EXPECT_EQ(FindNode(*converted, "gemm")->version, 7);

  OwnedTensor x = MakeF32({2, 3});
  const std::vector<OwnedTensor> out = RunModel(model, {{"x", &x.view}});
  ASSERT_EQ(out.size(), 1u);
  // relu(x + b) as [3, 2], rows 1..2, concatenated with itself on axis 1
  // ([2, 4]), times w [4, 2] plus c.
  const float* xp = x.view.data_as<float>();
  const double b[3] = {1.0, -2.0, 0.5};
  double flat[6];
  for (int i = 0; i < 6; ++i) flat[i] = std::max(0.0, xp[i] + b[i % 3]);
  std::vector<double> want;
  for (int r = 0; r < 2; ++r) {
    const double row[4] = {flat[(r + 1) * 2], flat[(r + 1) * 2 + 1], flat[(r + 1) * 2], flat[(r + 1) * 2 + 1]};
    for (int j = 0; j < 2; ++j) {
      double sum = j == 0 ? 0.25 : -0.25;
      for (int k = 0; k < 4; ++k) sum += row[k] * ((k * 2 + j) / 8.0);
      want.push_back(sum);
    }
  }
  ExpectNear(want, out[0].view, "legacy");

  const Status refused = LoadStatus("legacy_broadcast_axis.onnx");
  EXPECT_EQ(refused.code(), StatusCode::kUnimplemented) << refused.ToString();
  EXPECT_NE(refused.message().find("broadcast of a rank-1 B along axis 0 of a rank-2 A"), std::string::npos)
      << refused.ToString();
}

// Cast to f16 and bf16 and back: round to nearest even on the way there,
// exact on the way back.
TEST(OnnxImporter, CastThroughHalfAndBFloat16) {
  auto model = Load("cast_half.onnx");
  ASSERT_NE(model, nullptr);
  const float inf = std::numeric_limits<float>::infinity();
  // f16 has 10 mantissa bits, bf16 7: 1 + 2^-11 and 1 + 2^-8 are ties that
  // go to the even neighbour 1; 1 + 3 * 2^-11 and 1 + 3 * 2^-8 go up.
  OwnedTensor x = OwnedTensor::Allocate(DType::kF32, {6}).value();
  const float in[6] = {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 70000.0f, -2.5f};
  std::memcpy(x.view.data, in, sizeof(in));
  const std::vector<OwnedTensor> out = RunModel(model, {{"x", &x.view}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Floats(out[0].view), (std::vector<float>{1.0f, 1.0f + 0x1p-9f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, inf,
                                                      -2.5f}));
  EXPECT_EQ(Floats(out[1].view), (std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f + 0x1p-6f, 70144.0f, -2.5f}));
}

TEST(OnnxImporter, UnsupportedOpsAreListedInOneError) {
  const Status status = LoadStatus("unsupported_ops.onnx");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
  const std::string& m = status.message();
  EXPECT_NE(m.find("4 op types are not supported by Tessera"), std::string::npos) << m;
  EXPECT_NE(m.find("Floor in 2 nodes 'floor_a', 'floor_b'"), std::string::npos) << m;
  EXPECT_NE(m.find("HardSwish in node #3"), std::string::npos) << m;
  EXPECT_NE(m.find("com.example.FancyOp in node 'custom'"), std::string::npos) << m;
  EXPECT_NE(m.find("LayerNormalization (op set 13; Tessera has LayerNormalization v17+) in node 'layer_norm'"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("Relu"), std::string::npos) << "supported ops are not listed: " << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
}

TEST(OnnxImporter, RefusalsNameWhatIsWrong) {
  struct Case {
    const char* fixture;
    StatusCode code;
    std::vector<const char*> parts;
  };
  const std::vector<Case> cases = {
      {"external_data.onnx", StatusCode::kUnimplemented, {"initializer 'w'", "external data", "weights.bin"}},
      {"double_initializer.onnx", StatusCode::kUnimplemented, {"initializer 'w64'", "DOUBLE"}},
      {"no_shape_input.onnx", StatusCode::kUnimplemented, {"graph input 'x' has no shape"}},
      {"short_raw_data.onnx", StatusCode::kInvalidModel, {"initializer 'w'", "raw_data has 6 bytes", "needs 8"}},
  };
  for (const Case& c : cases) {
    const Status status = LoadStatus(c.fixture);
    ASSERT_FALSE(status.ok()) << c.fixture;
    EXPECT_EQ(status.code(), c.code) << c.fixture << ": " << status.ToString();
    EXPECT_NE(status.message().find(c.fixture), std::string::npos) << "names the file: " << status.message();
    for (const char* part : c.parts) {
      EXPECT_NE(status.message().find(part), std::string::npos) << c.fixture << ": " << status.message();
    }
  }
  const Status missing = LoadStatus("no_such_file.onnx");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing.ToString();
}

TEST(OnnxImporter, ConstantInputsBindGraphInputs) {
  // symbolic_dims.onnx with `bias` bound: one input left.
  const std::string onnx = ReadFixture("symbolic_dims.onnx");
  const std::vector<float> bias = {1, 2, 3, 4};
  Tensor value{DType::kF32, {4}, const_cast<float*>(bias.data())};
  graph::OnnxImportOptions options;
  options.constant_inputs = {{"bias", &value}};
  auto tess = graph::ConvertOnnxToTess(onnx.data(), onnx.size(), options);
  ASSERT_TRUE(tess.ok()) << tess.status().ToString();
  auto g = graph::LoadGraphFromBuffer(tess->data(), tess->size(), graph::LoadOptions());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ((*g)->inputs.size(), 1u);
  EXPECT_TRUE((*g)->values[static_cast<size_t>((*g)->FindValue("bias"))].is_constant);

  Tensor wrong{DType::kI64, {4}, const_cast<float*>(bias.data())};
  options.constant_inputs = {{"bias", &wrong}};
  auto refused = graph::ConvertOnnxToTess(onnx.data(), onnx.size(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("has dtype i64, the input is f32"), std::string::npos)
      << refused.status().ToString();
  options.constant_inputs = {{"nope", &value}};
  refused = graph::ConvertOnnxToTess(onnx.data(), onnx.size(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'nope', which is not a graph input"), std::string::npos)
      << refused.status().ToString();
}

TEST(OnnxImporter, GarbageEmptyAndTruncatedBytesGiveErrors) {
  graph::OnnxImportOptions options;
  options.source_name = "bad.onnx";
  auto empty = graph::ConvertOnnxToTess(nullptr, 0, options);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("bad.onnx: not a valid ONNX model"), std::string::npos)
      << empty.status().ToString();
  const std::string garbage = "this is not a protobuf \xff\xff\xff\xff\xff\xff";
  auto bad = graph::ConvertOnnxToTess(garbage.data(), garbage.size(), options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(bad.status().message().find("not a valid ONNX model"), std::string::npos) << bad.status().ToString();
  auto tensor = graph::ReadOnnxTensor(garbage.data(), garbage.size());
  EXPECT_FALSE(tensor.ok());
}

// Every prefix of every fixture, and every fixture with each byte flipped,
// converts and loads or fails with a message; nothing crashes (run under
// ASan/UBSan by .ci/sanitize like the rest of the suite).
TEST(OnnxImporter, HostileBytesNeverCrash) {
  const char* fixtures[] = {"attributes.onnx", "initializers.onnx", "symbolic_dims.onnx", "constants.onnx",
                            "split_opset13.onnx", "unsupported_ops.onnx"};
  int failures = 0, loads = 0;
  for (const char* name : fixtures) {
    const std::string onnx = ReadFixture(name);
    ASSERT_FALSE(onnx.empty()) << name;
    auto check = [&](const std::string& bytes) {
      auto model = runtime::Model::LoadFromOnnxBuffer(bytes.data(), bytes.size(), runtime::ModelOptions());
      if (model.ok()) {
        ++loads;
      } else {
        ++failures;
        EXPECT_FALSE(model.status().message().empty());
      }
    };
    for (size_t n = 0; n < onnx.size(); ++n) check(onnx.substr(0, n));
    for (size_t i = 0; i < onnx.size(); ++i) {
      std::string flipped = onnx;
      flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
      check(flipped);
    }
  }
  EXPECT_GT(failures, 0);
  EXPECT_GT(loads, 0);
}

}  // namespace
}  // namespace tessera
