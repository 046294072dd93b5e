// Plan-time value propagation through whole graphs (runtime/core/op.h):
// the PyTorch-export pattern Shape -> Gather -> Concat -> Reshape with a
// dynamic batch dim loads, plans and runs at different batch sizes; static
// chains are resolved at load; a shape computed from tensor data fails with
// an error naming the node and the input. Values are checked against
// independent expectations (these ops only move data, so bit for bit).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/core/registry.h"
#include "runtime/session.h"
#include "tessera/model_builder.h"
#include "tests/reference/norm_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera::runtime {
namespace {

using Attr = ModelBuilder::Attr;

std::shared_ptr<const Model> LoadModel(const ModelBuilder& b, Status* status = nullptr) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  auto model = Model::LoadFromBuffer(bytes.data(), bytes.size(), ModelOptions());
  if (status != nullptr) {
    *status = model.status();
  } else {
    EXPECT_TRUE(model.ok()) << model.status().ToString();
  }
  return model.ok() ? std::move(model).value() : nullptr;
}

const TensorInfo& InfoOf(const Model& model, const std::string& name) {
  return model.graph().values[static_cast<size_t>(model.graph().FindValue(name))].info;
}

// x [batch, 6, 4] -> y = Reshape(x, Concat(Gather(Shape(x), [0]), [24]))
//                 -> n = LayerNormalization(y) over the 24 features
//   ones = ConstantOfShape(Concat(batch, Shape(x)[2:3] * 2)) = 1.5 of [batch, 8]
//   last = Slice(x, starts=[-1], ends=[INT64_MAX], axes=Unsqueeze(Sub(Size-of-shape, 1))) : the last of dim 2
ModelBuilder FlattenModel(ModelBuilder::Dim batch) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {batch, 6, 4});
  const int zero = b.AddConstant<int64_t>("zero", {1}, {0});
  const int features = b.AddConstant<int64_t>("features", {1}, {24});
  const int shape = b.AddNode("Shape", {x}, {"x_shape"}, {}, "shape")[0];
  const int bdim = b.AddNode("Gather", {shape, zero}, {"batch_dim"}, {Attr::Int("axis", 0)}, "gather")[0];
  const int target = b.AddNode("Concat", {bdim, features}, {"target"}, {Attr::Int("axis", 0)}, "concat")[0];
  const int y = b.AddNode("Reshape", {x, target}, {"y"}, {}, "reshape")[0];
  const int n = b.AddNode("LayerNormalization", {y}, {"n"}, {Attr::Int("axis", -1)}, "norm")[0];
  b.AddOutput(y);
  b.AddOutput(n);
  // Integer arithmetic and Shape's start/end on the propagated values.
  const int two = b.AddConstant<int64_t>("two", {1}, {2});
  const int last_dim = b.AddNode("Shape", {x}, {"last_dim"}, {Attr::Int("start", 2), Attr::Int("end", 3)},
                                 "shape_tail")[0];
  const int doubled = b.AddNode("Mul", {last_dim, two}, {"doubled"}, {}, "double")[0];
  const int ones_shape = b.AddNode("Concat", {bdim, doubled}, {"ones_shape"}, {Attr::Int("axis", 0)}, "concat2")[0];
  b.AddOutput(b.AddNode("ConstantOfShape", {ones_shape}, {"ones"}, {Attr::Float("value_float", 1.5f)}, "fill")[0]);
  // Slice whose axes come from Squeeze(Sub(Shape(shape), 1)): rank - 1 = 2.
  const int rank = b.AddNode("Shape", {shape}, {"rank"}, {}, "rank")[0];
  const int one = b.AddConstant<int64_t>("one", {1}, {1});
  const int last_axis = b.AddNode("Sub", {rank, one}, {"last_axis"}, {}, "sub")[0];
  const int starts = b.AddConstant<int64_t>("starts", {1}, {-1});
  const int ends = b.AddConstant<int64_t>("ends", {1}, {1000});
  b.AddOutput(b.AddNode("Slice", {x, starts, ends, last_axis}, {"last"}, {}, "slice")[0]);
  return b;
}

TEST(ValuePropagationTest, ShapeGatherConcatReshapeWithDynamicBatch) {
  auto model = LoadModel(FlattenModel("batch"));
  ASSERT_NE(model, nullptr);
  // At load the batch is unknown, so the whole target shape is (values are
  // propagated whole, not per element): the rank is known, the dims not.
  // Slice's axes follow from the rank alone, so its shape is known.
  EXPECT_EQ(InfoOf(*model, "y").shape, Shape({kDynamicDim, kDynamicDim}));
  EXPECT_EQ(InfoOf(*model, "ones").shape, Shape({kDynamicDim, kDynamicDim}));
  EXPECT_EQ(InfoOf(*model, "last").shape, Shape({kDynamicDim, 6, 1}));

  Session session(model, SessionOptions{2, false});
  for (int64_t batch : {2, 5, 2}) {
    OwnedTensor x = testing::RandomF32({batch, 6, 4}, static_cast<uint32_t>(batch));
    std::vector<OwnedTensor> out;
    const Status status = session.Run({{"x", &x.view}}, {"y", "n", "ones", "last"}, &out);
    ASSERT_TRUE(status.ok()) << "batch " << batch << ": " << status.ToString();
    ASSERT_EQ(out[0].view.shape, Shape({batch, 24}));
    EXPECT_EQ(std::memcmp(out[0].view.data, x.view.data, x.view.ByteSize()), 0) << "batch " << batch;
    // LayerNorm of each flattened row against the double reference.
    const auto ref = reference::RefLayerNorm(testing::ToFloatVector(x.view), batch, 24, {}, {}, 1e-5);
    ASSERT_EQ(out[1].view.shape, Shape({batch, 24}));
    for (size_t i = 0; i < ref.y.size(); ++i) {
      ASSERT_NEAR(out[1].view.data_as<float>()[i], ref.y[i], 1e-5) << "batch " << batch << ", " << i;
    }
    ASSERT_EQ(out[2].view.shape, Shape({batch, 8}));
    EXPECT_EQ(testing::ToFloatVector(out[2].view), std::vector<float>(static_cast<size_t>(batch * 8), 1.5f));
    ASSERT_EQ(out[3].view.shape, Shape({batch, 6, 1}));
    for (int64_t r = 0; r < batch * 6; ++r) {
      ASSERT_EQ(out[3].view.data_as<float>()[r], x.view.data_as<float>()[r * 4 + 3]) << r;
    }
  }
}

TEST(ValuePropagationTest, StaticChainsResolveAtLoad) {
  auto model = LoadModel(FlattenModel(3));
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(InfoOf(*model, "y").shape, Shape({3, 24}));
  EXPECT_EQ(InfoOf(*model, "ones").shape, Shape({3, 8}));
  EXPECT_EQ(InfoOf(*model, "last").shape, Shape({3, 6, 1}));
}

TEST(ValuePropagationTest, DataDependentShapeIsAClearError) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {2, 6});
  const int s = b.AddInput("wanted_shape", TSR_DTYPE_INT64, {2});
  b.AddOutput(b.AddNode("Reshape", {x, s}, {"y"}, {}, "reshape_by_data")[0]);
  auto model = LoadModel(b);  // loads: the rank (2) is known, the dims are not
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(InfoOf(*model, "y").shape, Shape({kDynamicDim, kDynamicDim}));
  Session session(model, SessionOptions{1, false});
  OwnedTensor xv = testing::RandomF32({2, 6}, 1);
  OwnedTensor sv = testing::FromVector<int64_t>({2}, {3, 4});
  std::vector<OwnedTensor> out;
  const Status status = session.Run({{"x", &xv.view}, {"wanted_shape", &sv.view}}, {"y"}, &out);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("node 0 'reshape_by_data' (Reshape v17): input 'shape' ('wanted_shape') decides "
                                  "the shape of output 'y' but its values are computed from tensor data at run "
                                  "time: unsupported data-dependent shape"),
            std::string::npos)
      << status.ToString();
}

TEST(ValuePropagationTest, ShapeErrorsNameTheNodeAndInput) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 6});
  const int shape = b.AddNode("Shape", {x}, {"s"}, {}, "shape")[0];
  const int idx = b.AddConstant<int64_t>("idx", {1}, {5});
  b.AddOutput(b.AddNode("Gather", {shape, idx}, {"g"}, {}, "bad_gather")[0]);
  // Loads (the shape value is not known yet), fails when planning.
  auto model = LoadModel(b);
  ASSERT_NE(model, nullptr);
  Session session(model, SessionOptions{1, false});
  OwnedTensor xv = testing::RandomF32({2, 6}, 1);
  std::vector<OwnedTensor> out;
  const Status status = session.Run({{"x", &xv.view}}, {"g"}, &out);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("'bad_gather' (Gather v17)"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("input 'indices' has 5 at flat index 0, out of range for axis 0"), std::string::npos)
      << status.ToString();

  ModelBuilder c;
  const int y = c.AddInput("y", TSR_DTYPE_FLOAT32, {2, 6});
  const int bad = c.AddConstant<int64_t>("bad_shape", {2}, {5, -1});
  c.AddOutput(c.AddNode("Reshape", {y, bad}, {"z"}, {}, "reshape")[0]);
  Status load_status;
  auto none = LoadModel(c, &load_status);
  EXPECT_EQ(none, nullptr);
  EXPECT_NE(load_status.message().find("node 0 'reshape' (Reshape v17): cannot reshape input 'data' [2, 6] (12 "
                                       "elements) to [5, -1] with -1 inferred"),
            std::string::npos)
      << load_status.ToString();
}

// Shape inference can give an empty integer tensor huge dims beside its 0.
// Expand of [1, 4, 0] to [2^62, 1, 1] infers [2^62, 4, 0]: value
// propagation counts its elements (0, without forming 2^62 * 4), and the
// loader's limit, which multiplies the nonzero dims, refuses it by name.
TEST(ValuePropagationTest, HugeDimsBesideAZeroDoNotWrapTheCount) {
  ModelBuilder b;
  const int x = b.AddConstant<int64_t>("x", {1, 4, 0}, {});
  const int target = b.AddConstant<int64_t>("target", {3}, {int64_t{1} << 62, 1, 1});
  b.AddOutput(b.AddNode("Expand", {x, target}, {"y"}, {}, "expand")[0]);
  Status status;
  EXPECT_EQ(LoadModel(b, &status), nullptr);
  EXPECT_NE(status.message().find("'y': shape [4611686018427387904, 4, 0] is empty, but its other dims multiply to "
                                  "more than 17179869184, the limit (max_tensor_elements)"),
            std::string::npos)
      << status.ToString();
}

// Two inputs within the element limit whose broadcast is not: Add refuses
// it by name, before Reshape's -1 divides by its (wrapped) element count.
TEST(ValuePropagationTest, BroadcastPastInt64IsRefused) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {int64_t{1} << 32, 1});
  const int y = b.AddInput("y", TSR_DTYPE_FLOAT32, {1, int64_t{1} << 32});
  const int sum = b.AddNode("Add", {x, y}, {"sum"}, {}, "add")[0];
  const int flat = b.AddConstant<int64_t>("flat", {1}, {-1});
  b.AddOutput(b.AddNode("Reshape", {sum, flat}, {"z"}, {}, "reshape")[0]);
  Status status;
  EXPECT_EQ(LoadModel(b, &status), nullptr);
  EXPECT_NE(status.message().find("node 0 'add' (Add v17): A [4294967296, 1] and B [1, 4294967296] broadcast to "
                                  "[4294967296, 4294967296], more than 2^63 - 1 elements"),
            std::string::npos)
      << status.ToString();
}

// An embedding lookup with indices from the caller: an out-of-range token
// id is a run-time error that names the node.
TEST(ValuePropagationTest, GatherOutOfRangeAtRunTimeNamesTheNode) {
  ModelBuilder b;
  const int ids = b.AddInput("ids", TSR_DTYPE_INT64, {"batch", "seq"});
  std::vector<float> table(10 * 4);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<float>(i);
  const int emb = b.AddConstant<float>("table", {10, 4}, table);
  b.AddOutput(b.AddNode("Gather", {emb, ids}, {"vectors"}, {}, "embed")[0]);
  auto model = LoadModel(b);
  ASSERT_NE(model, nullptr);
  Session session(model, SessionOptions{2, false});
  OwnedTensor good = testing::FromVector<int64_t>({2, 3}, {0, 9, -1, 3, 4, -10});
  std::vector<OwnedTensor> out;
  Status status = session.Run({{"ids", &good.view}}, {"vectors"}, &out);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(out[0].view.shape, Shape({2, 3, 4}));
  const int64_t rows[] = {0, 9, 9, 3, 4, 0};
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t j = 0; j < 4; ++j) {
      ASSERT_EQ(out[0].view.data_as<float>()[r * 4 + j], static_cast<float>(rows[r] * 4 + j)) << r << " " << j;
    }
  }
  OwnedTensor bad = testing::FromVector<int64_t>({1, 2}, {3, 10});
  status = session.Run({{"ids", &bad.view}}, {"vectors"}, &out);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("node 0 'embed' (Gather v17)"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("input 'indices' has 10 at flat index 1, out of range for axis 0"),
            std::string::npos)
      << status.ToString();
}

}  // namespace
}  // namespace tessera::runtime
