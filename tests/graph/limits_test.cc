// Limits for untrusted models (ModelLimits in graph/loader.h): one test per
// limit, each refusing a file just over it with kResourceExhausted and a
// message that names the tensor or node and the limit, and loading it just
// under. The per-run limit (max_planned_bytes) is tested with sessions in
// tests/runtime/robustness_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "graph/loader.h"
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

StatusOr<std::unique_ptr<Graph>> Load(const std::vector<uint8_t>& bytes, const ModelLimits& limits) {
  LoadOptions options;
  options.limits = limits;
  return LoadGraphFromBuffer(bytes.data(), bytes.size(), options, "model.tess");
}

void ExpectOverLimit(const StatusOr<std::unique_ptr<Graph>>& result, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(result.ok()) << "loaded, expected a limit naming '" << fragments[0] << "'";
  EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted) << result.status().ToString();
  for (const std::string& f : fragments) {
    EXPECT_NE(result.status().message().find(f), std::string::npos)
        << "message: " << result.status().message() << "\nmissing: " << f;
  }
}

// Loads `b` with `limits` changed by `set(limits, value)`: over the limit at
// `over` (expecting `fragments`), and loading at `under`.
template <typename Set>
void ExpectLimit(const ModelBuilder& b, Set set, int64_t under, int64_t over,
                 const std::vector<std::string>& fragments) {
  const std::vector<uint8_t> bytes = Finish(b);
  ModelLimits limits;
  set(limits, over);
  ExpectOverLimit(Load(bytes, limits), fragments);
  set(limits, under);
  auto ok = Load(bytes, limits);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

// x [batch, 4] -> Relu -> Relu -> y
ModelBuilder TwoRelus() {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 4});
  const int r = b.AddNode("Relu", {x}, {"r"}, {}, "first")[0];
  b.AddOutput(b.AddNode("Relu", {r}, {"y"}, {}, "second")[0]);
  return b;
}

// The largest allocation made while a test's hook is set.
std::atomic<size_t> largest_allocation{0};
bool RecordAllocation(size_t bytes) {
  size_t seen = largest_allocation.load();
  while (bytes > seen && !largest_allocation.compare_exchange_weak(seen, bytes)) {
  }
  return true;
}

TEST(ModelLimitsTest, DefaultsLoadEveryBundledModel) {
  const ModelLimits defaults;
  EXPECT_EQ(defaults.max_file_bytes, int64_t{1} << 36);
  EXPECT_EQ(defaults.max_rank, 32);
  EXPECT_EQ(defaults.max_tensor_elements, int64_t{1} << 34);
  EXPECT_EQ(defaults.max_planned_bytes, int64_t{1} << 36);
  for (const char* name : {"gated_mlp", "lstm_classifier", "gpt_tiny", "seq2seq_attention"}) {
    auto g = LoadGraphFromFile(std::string(TESSERA_SOURCE_DIR) + "/models/" + name + ".tess", LoadOptions{});
    EXPECT_TRUE(g.ok()) << name << ": " << g.status().ToString();
  }
}

TEST(ModelLimitsTest, FileBytes) {
  const std::vector<uint8_t> bytes = Finish(TwoRelus());
  const int64_t size = static_cast<int64_t>(bytes.size());
  ModelLimits limits;
  limits.max_file_bytes = size - 1;
  ExpectOverLimit(Load(bytes, limits), {"model.tess", "model size in bytes is " + std::to_string(size),
                                        "limit of " + std::to_string(size - 1), "max_file_bytes"});
  // From a file: refused before it is mapped.
  const std::string path = ::testing::TempDir() + "limits_test_file_bytes.tess";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), size);
  LoadOptions options;
  options.limits = limits;
  auto from_file = LoadGraphFromFile(path, options);
  ASSERT_FALSE(from_file.ok());
  EXPECT_EQ(from_file.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(from_file.status().message().find(path), std::string::npos) << from_file.status().message();
  limits.max_file_bytes = size;
  EXPECT_TRUE(Load(bytes, limits).ok());
  options.limits = limits;
  EXPECT_TRUE(LoadGraphFromFile(path, options).ok());
  std::remove(path.c_str());
}

TEST(ModelLimitsTest, Rank) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {1, 2, 1, 2, 1});
  b.AddOutput(b.AddNode("Relu", {x}, {"y"})[0]);
  ExpectLimit(b, [](ModelLimits& l, int64_t v) { l.max_rank = v; }, 5, 4,
              {"tensor 0 'x'", "rank is 5", "limit of 4", "max_rank"});
}

// The example: a file declaring a tensor of 2^60 elements is
// refused before anything is allocated, naming the tensor and the limit.
TEST(ModelLimitsTest, TensorOfTwoToTheSixtyElementsAllocatesNothing) {
  for (bool constant : {false, true}) {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<fbs::Dim>> dims{fbs::CreateDim(fbb, int64_t{1} << 30),
                                                    fbs::CreateDim(fbb, int64_t{1} << 30)};
    // As a constant it points at a (nonexistent) 2^62-byte weight range.
    const fbs::DataRef data(0, uint64_t{1} << 62);
    std::vector<flatbuffers::Offset<fbs::Tensor>> tensors{
        fbs::CreateTensor(fbb, fbb.CreateString("huge"), fbs::DType::FLOAT32, fbb.CreateVector(dims),
                          constant ? &data : nullptr),
        fbs::CreateTensor(fbb, fbb.CreateString("y"))};
    std::vector<flatbuffers::Offset<fbs::Node>> nodes{
        fbs::CreateNode(fbb, 0, fbb.CreateString("Relu"), 0, 14, fbb.CreateVector(std::vector<int32_t>{0}),
                        fbb.CreateVector(std::vector<int32_t>{1}))};
    fbs::FinishModelBuffer(
        fbb, fbs::CreateModel(fbb, 1, 0, 0, fbb.CreateVector(tensors), fbb.CreateVector(nodes),
                              constant ? 0 : fbb.CreateVector(std::vector<int32_t>{0}),
                              fbb.CreateVector(std::vector<int32_t>{1})));
    std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    largest_allocation = 0;
    SetAllocationHookForTesting(RecordAllocation);
    auto result = Load(bytes, ModelLimits{});
    SetAllocationHookForTesting(nullptr);
    ExpectOverLimit(result, {"tensor 0 'huge'", "[1073741824, 1073741824]", "more than 17179869184 elements",
                             "max_tensor_elements"});
    // Only the copy of the file itself was allocated.
    EXPECT_LE(largest_allocation.load(), bytes.size());
  }
}

// An empty tensor may not declare huge dims either: the limit applies to
// the product of its nonzero dims, so no stride or row size an op computes
// from a shape that passed can wrap int64. Strides still saturate rather
// than wrap for shapes that never went through the check (kernel tests).
TEST(ModelLimitsTest, EmptyTensorWithHugeDimsIsRefused) {
  const Shape shape = {0, int64_t{1} << 33, int64_t{1} << 33};
  const Status s = CheckTensorLimit(shape, ModelLimits(), "t");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  for (const char* part : {"t", "[0, 8589934592, 8589934592]", "is empty, but its other dims multiply to more than "
                           "17179869184", "max_tensor_elements"}) {
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  }
  // Within the limit an empty tensor is fine, as are dynamic dims (-1).
  EXPECT_TRUE(CheckTensorLimit({0, int64_t{1} << 17, int64_t{1} << 17}, ModelLimits(), "t").ok());
  EXPECT_TRUE(CheckTensorLimit({-1, 0, int64_t{1} << 34}, ModelLimits(), "t").ok());
  ModelLimits max;
  max.max_tensor_elements = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(CheckTensorLimit({0, int64_t{1} << 31, int64_t{1} << 31}, max, "t").ok());
  EXPECT_FALSE(CheckTensorLimit({0, int64_t{1} << 32, int64_t{1} << 32}, max, "t").ok());

  // The same shape on a model's input is refused at load, naming the tensor.
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {int64_t{0}, int64_t{1} << 33, int64_t{1} << 33});
  b.AddOutput(b.AddNode("Relu", {x}, {"y"})[0]);
  ExpectOverLimit(Load(Finish(b), ModelLimits{}),
                  {"tensor 0 'x'", "is empty, but its other dims multiply to more than", "max_tensor_elements"});

  EXPECT_EQ(NumElements(shape), 0);
  EXPECT_EQ(ContiguousStrides(shape),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::max(), int64_t{1} << 33, 1}));
  EXPECT_EQ(ContiguousStrides({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
}

TEST(ModelLimitsTest, TensorElementsOfAnInferredTensor) {
  // [64, 1] x [1, 64] -> a [64, 64] product: only shape inference knows it.
  ModelBuilder b;
  const int x = b.AddInput("col", TSR_DTYPE_FLOAT32, {64, 1});
  const int w = b.AddInput("row", TSR_DTYPE_FLOAT32, {1, 64});
  b.AddOutput(b.AddNode("MatMul", {x, w}, {"outer"})[0]);
  ExpectLimit(b, [](ModelLimits& l, int64_t v) { l.max_tensor_elements = v; }, 4096, 4095,
              {"tensor 2 'outer'", "[64, 64]", "more than 4095 elements", "max_tensor_elements"});
}

TEST(ModelLimitsTest, NodeCount) {
  ExpectLimit(TwoRelus(), [](ModelLimits& l, int64_t v) { l.max_nodes = v; }, 2, 1,
              {"node count is 2", "limit of 1", "max_nodes"});
}

TEST(ModelLimitsTest, TensorCount) {
  ExpectLimit(TwoRelus(), [](ModelLimits& l, int64_t v) { l.max_tensors = v; }, 3, 2,
              {"tensor count is 3", "limit of 2", "max_tensors"});
}

TEST(ModelLimitsTest, StringBytes) {
  const std::string long_name(100, 'n');
  {
    ModelBuilder b;
    const int x = b.AddInput(long_name, TSR_DTYPE_FLOAT32, {4});
    b.AddOutput(b.AddNode("Relu", {x}, {"y"})[0]);
    ExpectLimit(b, [](ModelLimits& l, int64_t v) { l.max_string_bytes = v; }, 100, 99,
                {"tensor 0: name: length is 100", "limit of 99", "max_string_bytes"});
  }
  {
    ModelBuilder b = TwoRelus();
    b.SetMetadata("notes", long_name);
    ExpectLimit(b, [](ModelLimits& l, int64_t v) { l.max_string_bytes = v; }, 100, 99,
                {"metadata 'notes'", "max_string_bytes"});
  }
  {
    ModelBuilder b;
    const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {4});
    b.AddOutput(b.AddNode("Relu", {x}, {"y"}, {}, long_name)[0]);
    ExpectLimit(b, [](ModelLimits& l, int64_t v) { l.max_string_bytes = v; }, 100, 99,
                {"node 0: name: length is 100", "max_string_bytes"});
  }
}

TEST(ModelLimitsTest, AttributeElements) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {1, 1, 1, 1, 1, 1, 1, 1, 1, 2});
  b.AddOutput(b.AddNode("Transpose", {x}, {"y"}, {Attr::Ints("perm", {9, 8, 7, 6, 5, 4, 3, 2, 1, 0})}, "t")[0]);
  ExpectLimit(b, [](ModelLimits& l, int64_t v) { l.max_attribute_elements = v; }, 10, 9,
              {"node 0 't'", "attribute 'perm': element count is 10", "limit of 9", "max_attribute_elements"});
}

}  // namespace
}  // namespace tessera::graph
