// The .tess format and the loader: round trip through the builder, and
// every kind of bad file the loader must refuse with a clear message.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "graph/loader.h"
#include "graph/memory_plan.h"
#include "runtime/core/registry.h"
#include "schemas/tessera_generated.h"
#include "tessera/model_builder.h"

namespace tessera::graph {
namespace {

using Attr = ModelBuilder::Attr;
namespace fbs = ::tessera::schema;

std::vector<uint8_t> Finish(const ModelBuilder& b) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  return bytes;
}

StatusOr<std::unique_ptr<Graph>> Load(const std::vector<uint8_t>& bytes, const OpRegistry* registry = nullptr) {
  LoadOptions options;
  options.registry = registry;
  return LoadGraphFromBuffer(bytes.data(), bytes.size(), options, "model.tess");
}

// Expects a failure whose message contains every fragment.
void ExpectError(const StatusOr<std::unique_ptr<Graph>>& result, StatusCode code,
                 const std::vector<std::string>& fragments) {
  ASSERT_FALSE(result.ok()) << "loaded, expected an error containing '" << fragments[0] << "'";
  EXPECT_EQ(result.status().code(), code) << result.status().ToString();
  for (const std::string& f : fragments) {
    EXPECT_NE(result.status().message().find(f), std::string::npos)
        << "message: " << result.status().message() << "\nmissing: " << f;
  }
}

// x [batch, 4] -> MatMul(W [4, 3]) -> Add(bias [3]) -> Relu -> y
ModelBuilder SmallModel() {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 4});
  std::vector<float> w(12);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i) - 1.0f;
  const int wt = b.AddConstant<float>("W", {4, 3}, w);
  const int bias = b.AddConstant<float>("bias", {3}, {0.5f, -0.5f, 1.0f});
  const int mm = b.AddNode("MatMul", {x, wt}, {"mm"}, {}, "proj")[0];
  const int add = b.AddNode("Add", {mm, bias}, {"pre"}, {}, "bias")[0];
  const int y = b.AddNode("Relu", {add}, {"y"}, {}, "act")[0];
  b.AddOutput(y);
  b.SetMetadata("author", "tests");
  return b;
}

TEST(FormatTest, RoundTripKeepsEverything) {
  ModelBuilder b = SmallModel();
  // Constants of other dtypes and every attribute type, on a node of an op
  // registered here for the purpose.
  b.AddConstant<int64_t>("ids", {2, 2}, {1, -2, 3, 1LL << 40});
  b.AddConstant<int32_t>("i32", {3}, {7, 8, 9});
  const std::vector<uint8_t> bytes = Finish(b);
  auto graph = Load(bytes);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const Graph& g = **graph;
  ASSERT_EQ(g.inputs.size(), 1u);
  const Value& x = g.values[static_cast<size_t>(g.inputs[0])];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.info.shape, (Shape{kDynamicDim, 4}));
  EXPECT_EQ(x.dim_names[0], "batch");
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].name, "proj");
  EXPECT_EQ(g.nodes[0].version, 17);
  const Value& w = g.values[static_cast<size_t>(g.FindValue("W"))];
  ASSERT_TRUE(w.is_constant);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.constant.data) % kTensorAlignment, 0u);
  EXPECT_EQ(w.constant.data_as<float>()[5], 0.25f * 5 - 1.0f);
  const Value& ids = g.values[static_cast<size_t>(g.FindValue("ids"))];
  EXPECT_EQ(ids.constant.dtype, DType::kI64);
  EXPECT_EQ(ids.constant.data_as<int64_t>()[3], 1LL << 40);
  // Shape inference ran: y is [batch, 3].
  const Value& y = g.values[static_cast<size_t>(g.outputs[0])];
  EXPECT_EQ(y.info.dtype, DType::kF32);
  EXPECT_EQ(y.info.shape, (Shape{kDynamicDim, 3}));
  ASSERT_EQ(g.metadata.size(), 1u);
  EXPECT_EQ(g.metadata[0], (std::pair<std::string, std::string>{"author", "tests"}));
}

TEST(FormatTest, BuilderIsDeterministic) {
  EXPECT_EQ(Finish(SmallModel()), Finish(SmallModel()));
}

TEST(FormatTest, WeightSegmentIsAlignedInTheFile) {
  const std::vector<uint8_t> bytes = Finish(SmallModel());
  const fbs::Model* m = fbs::GetModel(bytes.data());
  EXPECT_EQ(m->segment_offset() % 64, 0u);
  EXPECT_EQ(m->segment_offset() + m->segment_size(), bytes.size());
  for (const fbs::Tensor* t : *m->tensors()) {
    if (t->data() != nullptr) {
      EXPECT_EQ(t->data()->offset() % 64, 0u) << t->name()->str();
    }
  }
}

TEST(FormatTest, LoadsFromFileWithMmap) {
  const std::vector<uint8_t> bytes = Finish(SmallModel());
  const std::string path = ::testing::TempDir() + "/small.tess";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  auto graph = LoadGraphFromFile(path, LoadOptions{});
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const Value& w = (*graph)->values[static_cast<size_t>((*graph)->FindValue("W"))];
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.constant.data) % kTensorAlignment, 0u);
}

TEST(FormatTest, InlineConstantsFromJsonStyleFields) {
  // What a hand-written JSON model produces: float_data / int_data inline.
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<fbs::Tensor>> tensors;
  auto dims = [&](std::vector<int64_t> d) {
    std::vector<flatbuffers::Offset<fbs::Dim>> v;
    for (int64_t s : d) v.push_back(fbs::CreateDim(fbb, s));
    return fbb.CreateVector(v);
  };
  tensors.push_back(fbs::CreateTensor(fbb, fbb.CreateString("x"), fbs::DType::FLOAT32, dims({2})));
  tensors.push_back(fbs::CreateTensor(fbb, fbb.CreateString("c"), fbs::DType::FLOAT32, dims({2}), nullptr,
                                      fbb.CreateVector(std::vector<float>{1.5f, -2.0f})));
  tensors.push_back(fbs::CreateTensor(fbb, fbb.CreateString("y")));
  std::vector<flatbuffers::Offset<fbs::Node>> nodes{fbs::CreateNode(
      fbb, 0, fbb.CreateString("Add"), 0, 14, fbb.CreateVector(std::vector<int32_t>{0, 1}),
      fbb.CreateVector(std::vector<int32_t>{2}))};
  fbs::FinishModelBuffer(fbb, fbs::CreateModel(fbb, 1, 0, 0, fbb.CreateVector(tensors), fbb.CreateVector(nodes),
                                               fbb.CreateVector(std::vector<int32_t>{0}),
                                               fbb.CreateVector(std::vector<int32_t>{2})));
  std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  auto graph = Load(bytes);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const Value& c = (*graph)->values[1];
  ASSERT_TRUE(c.is_constant);
  EXPECT_EQ(c.constant.data_as<float>()[1], -2.0f);
  EXPECT_EQ((*graph)->values[2].info.shape, (Shape{2}));
}

// ---- Bad files ------------------------------------------------------------

TEST(BadModelTest, EmptyAndTinyFiles) {
  ExpectError(Load({}), StatusCode::kInvalidModel, {"model.tess", "too small"});
  ExpectError(Load({1, 2, 3}), StatusCode::kInvalidModel, {"too small"});
}

TEST(BadModelTest, WrongFileIdentifier) {
  std::vector<uint8_t> bytes = Finish(SmallModel());
  std::memcpy(bytes.data() + 4, "ONNX", 4);
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"not a Tessera model", "'ONNX'", "'TSR1'"});
}

TEST(BadModelTest, EveryTruncationIsRefused) {
  const std::vector<uint8_t> bytes = Finish(SmallModel());
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(len));
    auto result = Load(cut);
    ASSERT_FALSE(result.ok()) << "a file cut to " << len << " of " << bytes.size() << " bytes loaded";
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidModel) << result.status().ToString();
  }
}

TEST(BadModelTest, RandomBitFlipsNeverCrash) {
  const std::vector<uint8_t> bytes = Finish(SmallModel());
  std::mt19937 rng(1234);
  int refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> flipped = bytes;
    const int flips = 1 + trial % 4;
    for (int k = 0; k < flips; ++k) {
      const size_t pos = rng() % flipped.size();
      flipped[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    auto result = Load(flipped);  // must return, never crash
    if (!result.ok()) {
      ++refused;
      EXPECT_FALSE(result.status().message().empty());
    }
  }
  // Most flips hit the FlatBuffer's structure or checked fields; weight
  // bytes may change freely. Either way no crash.
  EXPECT_GT(refused, 0);
}

TEST(BadModelTest, UnsupportedFormatMajor) {
  std::vector<uint8_t> bytes = Finish(SmallModel());
  ASSERT_TRUE(fbs::GetMutableModel(bytes.data())->mutate_format_major(2));
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"format version 2.0 is not supported", "reads 1.x"});
}

TEST(BadModelTest, TensorIndexOutOfRange) {
  std::vector<uint8_t> bytes = Finish(SmallModel());
  auto* node = fbs::GetMutableModel(bytes.data())->mutable_nodes()->GetMutableObject(1);
  node->mutable_inputs()->Mutate(1, 1000);
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"node 1 'bias'", "refers to tensor 1000"});
}

TEST(BadModelTest, GraphOutputIndexOutOfRange) {
  std::vector<uint8_t> bytes = Finish(SmallModel());
  fbs::GetMutableModel(bytes.data())->mutable_outputs()->Mutate(0, -7);
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"graph output 0", "tensor -7"});
}

TEST(BadModelTest, BufferSizeDoesNotMatchShape) {
  std::vector<uint8_t> bytes = Finish(SmallModel());
  auto* tensors = fbs::GetMutableModel(bytes.data())->mutable_tensors();
  for (flatbuffers::uoffset_t i = 0; i < tensors->size(); ++i) {
    auto* t = tensors->GetMutableObject(i);
    if (t->name()->str() == "W") const_cast<fbs::DataRef*>(t->data())->mutate_size(44);
  }
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"tensor 1 'W'", "44 bytes", "[4, 3]", "need 48"});
}

TEST(BadModelTest, DataOutsideTheSegment) {
  std::vector<uint8_t> bytes = Finish(SmallModel());
  auto* t = fbs::GetMutableModel(bytes.data())->mutable_tensors()->GetMutableObject(1);
  const_cast<fbs::DataRef*>(t->data())->mutate_offset(1 << 20);
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"'W'", "outside the weight segment"});
}

TEST(BadModelTest, SegmentPastEndOfFile) {
  std::vector<uint8_t> bytes = Finish(SmallModel());
  bytes.resize(bytes.size() - 8);
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"extends past the end of the file"});
}

TEST(BadModelTest, Cycle) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  const int a = b.AddTensor("a");
  const int c = b.AddTensor("c");
  const int d = b.AddTensor("d");
  b.AddNodeInto("Add", {x, d}, {a}, {}, "first");
  b.AddNodeInto("Relu", {a}, {c}, {}, "second");
  b.AddNodeInto("Relu", {c}, {d}, {}, "third");
  b.AddOutput(c);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"cycle", "node 0 'first'"});
}

TEST(BadModelTest, SelfLoop) {
  ModelBuilder b;
  const int a = b.AddTensor("a");
  b.AddNodeInto("Relu", {a}, {a}, {}, "loop");
  b.AddOutput(a);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"'loop'", "cycle"});
}

TEST(BadModelTest, UnknownOp) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  b.AddOutput(b.AddNode("Frobnicate", {x}, {"y"}, {}, "mystery", "com.example")[0]);
  ExpectError(Load(Finish(b)), StatusCode::kNotFound,
              {"node 0 'mystery' (com.example.Frobnicate v1)", "unknown op 'Frobnicate'", "'com.example'"});
}

TEST(BadModelTest, UnsupportedOpVersion) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  b.AddOutput(b.AddNode("Relu", {x}, {"y"}, {}, "old", "", 1)[0]);
  ExpectError(Load(Finish(b)), StatusCode::kUnimplemented, {"'old'", "version 1 is not supported", "Relu v6+"});
}

// A registry with one extra op that requires an attribute, over the
// built-ins (as a plugin would add it).
class RequiredAttrOp : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.set_owner("test");
    OpDef def;
    def.domain = "test";
    def.op_type = "Scale";
    def.inputs = {ParamDef{"X"}};
    def.outputs = {ParamDef{"Y"}};
    def.attributes = {AttrDef{"factor", AttrType::kFloat, /*required=*/true, {}}};
    def.infer_shapes = [](OpContext& ctx) {
      ctx.outputs[0] = ctx.input(0);
      return Status::Ok();
    };
    def.create_kernel = [](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> {
      return Status(StatusCode::kUnimplemented, "not runnable");
    };
    ASSERT_TRUE(registry_.Register(def).ok());
  }
  OpRegistry registry_{&BuiltinOpRegistry()};
};

TEST_F(RequiredAttrOp, MissingRequiredAttribute) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  b.AddOutput(b.AddNode("Scale", {x}, {"y"}, {}, "scale", "test")[0]);
  ExpectError(Load(Finish(b), &registry_), StatusCode::kInvalidModel,
              {"node 0 'scale' (test.Scale v1)", "missing required attribute 'factor'"});
}

TEST_F(RequiredAttrOp, WrongAttributeType) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  b.AddOutput(b.AddNode("Scale", {x}, {"y"}, {Attr::Int("factor", 2)}, "scale", "test")[0]);
  ExpectError(Load(Finish(b), &registry_), StatusCode::kInvalidModel,
              {"'scale'", "attribute 'factor' has type int, expected float"});
}

TEST_F(RequiredAttrOp, UnknownAttribute) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  b.AddOutput(b.AddNode("Scale", {x}, {"y"}, {Attr::Float("factor", 2), Attr::Int("bogus", 1)}, "scale", "test")[0]);
  ExpectError(Load(Finish(b), &registry_), StatusCode::kInvalidModel, {"unknown attribute 'bogus'"});
}

TEST(BadModelTest, WrongArity) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  b.AddOutput(b.AddNode("Add", {x}, {"y"}, {}, "half_add")[0]);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"'half_add'", "has 1 inputs", "takes 2"});
}

TEST(BadModelTest, WrongInputDType) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  const int i = b.AddConstant<int64_t>("i", {3}, {1, 2, 3});
  b.AddOutput(b.AddNode("Add", {x, i}, {"y"}, {}, "mixed")[0]);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"'mixed'", "dtype i64", "f32"});
}

TEST(BadModelTest, ShapeMismatchFoundAtLoad) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {2, 3});
  const int w = b.AddConstant<float>("w", {4, 5}, std::vector<float>(20, 1.0f));
  b.AddOutput(b.AddNode("MatMul", {x, w}, {"y"}, {}, "proj")[0]);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"node 0 'proj' (MatMul v17)", "[2, 3]", "[4, 5]"});
}

TEST(BadModelTest, DeclaredShapeContradictsInference) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {2, 3});
  const int y = b.AddTensor("y", TSR_DTYPE_FLOAT32, {2, 4});
  b.AddNodeInto("Relu", {x}, {y}, {}, "act");
  b.AddOutput(y);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"'act'", "output 'y'", "declared shape [2, 4]"});
}

TEST(BadModelTest, TensorProducedTwice) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  const int y = b.AddTensor("y");
  b.AddNodeInto("Relu", {x}, {y}, {}, "one");
  b.AddNodeInto("Tanh", {x}, {y}, {}, "two");
  b.AddOutput(y);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"'two'", "already produced by node 0 'one'"});
}

// One node listing the same output twice (a model_fuzz finding: the second
// listing looked the node up among those already read, past their end).
TEST(BadModelTest, NodeListsOneOutputTwice) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {6});
  const int y = b.AddTensor("y");
  b.AddNodeInto("Split", {x}, {y, y}, {}, "halves");
  b.AddOutput(y);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"node 0 'halves'", "output 'y' is listed twice"});
}

TEST(BadModelTest, InputWithoutProducer) {
  ModelBuilder b;
  const int ghost = b.AddTensor("ghost");
  b.AddOutput(b.AddNode("Relu", {ghost}, {"y"}, {}, "act")[0]);
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"'act'", "'ghost'", "neither a graph input"});
}

TEST(BadModelTest, NoOutputs) {
  ModelBuilder b;
  b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
  ExpectError(Load(Finish(b)), StatusCode::kInvalidModel, {"declares no outputs"});
}

TEST(BadModelTest, HugeTensorRefusedBeforeAllocation) {
  // 2^62 elements of f32 overflow int64 bytes: refused by the element limit
  // (tests/graph/limits_test.cc has one test per limit), not by a failed
  // allocation.
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<fbs::Dim>> dims{fbs::CreateDim(fbb, int64_t{1} << 31),
                                                  fbs::CreateDim(fbb, int64_t{1} << 31)};
  std::vector<flatbuffers::Offset<fbs::Tensor>> tensors{fbs::CreateTensor(
      fbb, fbb.CreateString("big"), fbs::DType::FLOAT32, fbb.CreateVector(dims), nullptr,
      fbb.CreateVector(std::vector<float>{1.0f}))};
  fbs::FinishModelBuffer(fbb, fbs::CreateModel(fbb, 1, 0, 0, fbb.CreateVector(tensors), 0, 0,
                                               fbb.CreateVector(std::vector<int32_t>{0})));
  std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  ExpectError(Load(bytes), StatusCode::kResourceExhausted, {"tensor 0 'big'", "max_tensor_elements"});
}

TEST(BadModelTest, DuplicateTensorNames) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<fbs::Tensor>> tensors{fbs::CreateTensor(fbb, fbb.CreateString("t")),
                                                        fbs::CreateTensor(fbb, fbb.CreateString("t"))};
  fbs::FinishModelBuffer(fbb, fbs::CreateModel(fbb, 1, 0, 0, fbb.CreateVector(tensors)));
  std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  ExpectError(Load(bytes), StatusCode::kInvalidModel, {"tensor 1 't'", "already used by tensor 0"});
}

TEST(BadModelTest, MissingFile) {
  auto result = LoadGraphFromFile("/nonexistent/dir/model.tess", LoadOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("/nonexistent/dir/model.tess"), std::string::npos);
}

}  // namespace
}  // namespace tessera::graph
