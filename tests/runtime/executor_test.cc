// The session and executor, through the internal API: concurrency of
// independent nodes, bitwise thread invariance, failures mid-graph,
// exceptions in kernels, and re-planning for new input shapes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "runtime/core/registry.h"
#include "runtime/session.h"
#include "tessera/model_builder.h"
#include "tests/testing/op_test_util.h"

namespace tessera::runtime {
namespace {

using Attr = ModelBuilder::Attr;

// test.Rendezvous: copies X to Y, but first waits until `parties` kernels
// of this op are inside Run at the same time (or fails after a timeout).
// Two of them in independent branches can only both succeed if the
// executor really runs them concurrently.
struct Rendezvous {
  std::atomic<int> arrived{0};
};

// test.Fail: fails (or throws) when its input's first element is negative.
OpRegistry MakeTestRegistry(Rendezvous* rv) {
  OpRegistry registry(&BuiltinOpRegistry());
  registry.set_owner("test");
  auto same_shape = [](OpContext& ctx) {
    ctx.outputs[0] = ctx.input(0);
    return Status::Ok();
  };
  {
    OpDef def;
    def.domain = "test";
    def.op_type = "Rendezvous";
    def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}}};
    def.outputs = {ParamDef{"Y"}};
    def.attributes = {AttrDef{"timeout_ms", AttrType::kInt, false, Attribute::Int(5000)}};
    def.infer_shapes = same_shape;
    def.create_kernel = [rv](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
      struct K : Kernel {
        Rendezvous* rv;
        int64_t timeout_ms;
        Status Run(KernelContext& c) const override {
          rv->arrived.fetch_add(1);
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
          while (rv->arrived.load() < 2) {
            if (std::chrono::steady_clock::now() > deadline) {
              return Status(StatusCode::kInternal, "rendezvous timed out: the other branch never ran concurrently");
            }
            std::this_thread::yield();
          }
          std::memcpy(c.output(0)->data, c.input(0)->data, c.input(0)->ByteSize());
          return Status::Ok();
        }
      };
      auto k = std::make_unique<K>();
      k->rv = rv;
      k->timeout_ms = ctx.attrs->GetInt("timeout_ms");
      return std::unique_ptr<Kernel>(std::move(k));
    };
    EXPECT_TRUE(registry.Register(def).ok());
  }
  {
    OpDef def;
    def.domain = "test";
    def.op_type = "Fail";
    def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}}};
    def.outputs = {ParamDef{"Y"}};
    def.attributes = {AttrDef{"throw", AttrType::kInt, false, Attribute::Int(0)}};
    def.infer_shapes = same_shape;
    def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
      struct K : Kernel {
        bool throws;
        Status Run(KernelContext& c) const override {
          if (c.input(0)->data_as<float>()[0] < 0) {
            if (throws) throw std::runtime_error("boom");
            return Status(StatusCode::kInvalidArgument, "negative first element");
          }
          std::memcpy(c.output(0)->data, c.input(0)->data, c.input(0)->ByteSize());
          return Status::Ok();
        }
      };
      auto k = std::make_unique<K>();
      k->throws = ctx.attrs->GetInt("throw") != 0;
      return std::unique_ptr<Kernel>(std::move(k));
    };
    EXPECT_TRUE(registry.Register(def).ok());
  }
  return registry;
}

std::shared_ptr<const Model> LoadModel(const ModelBuilder& b, const OpRegistry* registry = nullptr) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  ModelOptions options;
  options.load.registry = registry;
  auto model = Model::LoadFromBuffer(bytes.data(), bytes.size(), options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

TEST(ExecutorTest, IndependentBranchesRunConcurrently) {
  Rendezvous rv;
  OpRegistry registry = MakeTestRegistry(&rv);
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {4});
  const int l = b.AddNode("Rendezvous", {x}, {"left"}, {}, "left", "test")[0];
  const int r = b.AddNode("Rendezvous", {x}, {"right"}, {}, "right", "test")[0];
  b.AddOutput(b.AddNode("Add", {l, r}, {"y"}, {}, "join")[0]);
  auto model = LoadModel(b, &registry);
  ASSERT_NE(model, nullptr);

  Session session(model, SessionOptions{2, /*profiling=*/true});
  OwnedTensor input = testing::FromVector<float>({4}, {1, 2, 3, 4});
  std::vector<OwnedTensor> out;
  const Status status = session.Run({{"x", &input.view}}, {"y"}, &out);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(testing::ToFloatVector(out[0].view), (std::vector<float>{2, 4, 6, 8}));
  // The profile shows the two branches overlapping on different threads.
  const auto& profile = session.profile();
  ASSERT_EQ(profile.size(), 3u);
  const ProfileRecord* left = nullptr;
  const ProfileRecord* right = nullptr;
  for (const ProfileRecord& p : profile) {
    const std::string& name = model->graph().nodes[static_cast<size_t>(p.node)].name;
    if (name == "left") left = &p;
    if (name == "right") right = &p;
  }
  ASSERT_TRUE(left && right);
  EXPECT_NE(left->thread_index, right->thread_index);
  EXPECT_LT(left->start_ns, right->start_ns + right->duration_ns);
  EXPECT_LT(right->start_ns, left->start_ns + left->duration_ns);
}

TEST(ExecutorTest, OneThreadRunsBranchesInTurn) {
  // The converse: with one thread the rendezvous cannot complete, which
  // shows the test above can fail.
  Rendezvous rv;
  OpRegistry registry = MakeTestRegistry(&rv);
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {4});
  const int l = b.AddNode("Rendezvous", {x}, {"left"}, {Attr::Int("timeout_ms", 200)}, "left", "test")[0];
  const int r = b.AddNode("Rendezvous", {x}, {"right"}, {Attr::Int("timeout_ms", 200)}, "right", "test")[0];
  b.AddOutput(b.AddNode("Add", {l, r}, {"y"})[0]);
  auto model = LoadModel(b, &registry);
  Session session(model, SessionOptions{1, false});
  OwnedTensor input = testing::FromVector<float>({4}, {1, 2, 3, 4});
  std::vector<OwnedTensor> out;
  const Status status = session.Run({{"x", &input.view}}, {"y"}, &out);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("rendezvous timed out"), std::string::npos) << status.message();
}

// A wider model with branches, broadcasting and a softmax head.
ModelBuilder BranchyModel() {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 37});
  std::vector<int> heads;
  for (int h = 0; h < 4; ++h) {
    std::vector<float> w(37 * 29), bias(29);
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i + 101 * h));
    for (size_t i = 0; i < bias.size(); ++i) bias[i] = std::cos(0.11f * static_cast<float>(i + h));
    const std::string p = "h" + std::to_string(h);
    const int wt = b.AddConstant<float>(p + "/W", {37, 29}, w);
    const int bt = b.AddConstant<float>(p + "/b", {29}, bias);
    const int mm = b.AddNode("MatMul", {x, wt}, {p + "/mm"})[0];
    const int add = b.AddNode("Add", {mm, bt}, {p + "/pre"})[0];
    heads.push_back(b.AddNode(h % 2 ? "Tanh" : "Sigmoid", {add}, {p + "/act"})[0]);
  }
  const int s0 = b.AddNode("Mul", {heads[0], heads[1]}, {"m01"})[0];
  const int s1 = b.AddNode("Sub", {heads[2], heads[3]}, {"m23"})[0];
  const int s = b.AddNode("Add", {s0, s1}, {"sum"})[0];
  b.AddOutput(b.AddNode("Softmax", {s}, {"y"}, {Attr::Int("axis", 1)})[0]);
  b.AddOutput(s0);
  return b;
}

TEST(ExecutorTest, OutputsAreBitwiseEqualForAnyThreadCount) {
  auto model = LoadModel(BranchyModel());
  ASSERT_NE(model, nullptr);
  OwnedTensor input = testing::RandomF32({53, 37}, 7);
  std::vector<OwnedTensor> reference;
  for (int threads : {1, 2, 3, 4}) {
    Session session(model, SessionOptions{threads, false});
    for (int repeat = 0; repeat < 3; ++repeat) {
      std::vector<OwnedTensor> out;
      const Status status = session.Run({{"x", &input.view}}, {"y", "m01"}, &out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      if (reference.empty()) {
        reference = std::move(out);
        continue;
      }
      for (size_t i = 0; i < out.size(); ++i) {
        EXPECT_TRUE(testing::BitwiseEqual(out[i].view, reference[i].view))
            << "output " << i << " differs at " << threads << " threads, repeat " << repeat;
      }
    }
  }
}

TEST(ExecutorTest, ReplansWhenInputShapesChange) {
  auto model = LoadModel(BranchyModel());
  Session session(model, SessionOptions{2, false});
  for (int64_t batch : {1, 64, 3, 64, 0}) {
    OwnedTensor input = testing::RandomF32({batch, 37}, static_cast<uint32_t>(batch));
    std::vector<OwnedTensor> out;
    const Status status = session.Run({{"x", &input.view}}, {"y"}, &out);
    ASSERT_TRUE(status.ok()) << "batch " << batch << ": " << status.ToString();
    EXPECT_EQ(out[0].view.shape, (Shape{batch, 29}));
    // Each softmax row sums to 1.
    for (int64_t r = 0; r < batch; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < 29; ++c) sum += out[0].view.data_as<float>()[r * 29 + c];
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }
}

TEST(ExecutorTest, KernelErrorNamesTheNodeAndSessionStaysUsable) {
  Rendezvous rv;
  OpRegistry registry = MakeTestRegistry(&rv);
  for (int throws : {0, 1}) {
    ModelBuilder b;
    const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {3});
    const int r = b.AddNode("Relu", {x}, {"r"}, {}, "relu")[0];
    const int f = b.AddNode("Fail", {x}, {"f"}, {Attr::Int("throw", throws)}, "checker", "test")[0];
    b.AddOutput(b.AddNode("Add", {r, f}, {"y"}, {}, "join")[0]);
    auto model = LoadModel(b, &registry);
    Session session(model, SessionOptions{2, false});
    OwnedTensor bad = testing::FromVector<float>({3}, {-1, 2, 3});
    std::vector<OwnedTensor> out;
    Status status = session.Run({{"x", &bad.view}}, {"y"}, &out);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.message().find("'checker' (test.Fail v1)"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(throws ? "boom" : "negative first element"), std::string::npos)
        << status.message();
    // The same session runs the next request normally.
    OwnedTensor good = testing::FromVector<float>({3}, {1, -2, 3});
    status = session.Run({{"x", &good.view}}, {"y"}, &out);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(testing::ToFloatVector(out[0].view), (std::vector<float>{2, -2, 6}));
  }
}

TEST(ExecutorTest, BadRunArguments) {
  auto model = LoadModel(BranchyModel());
  Session session(model, SessionOptions{1, false});
  OwnedTensor ok = testing::RandomF32({2, 37}, 1);
  OwnedTensor wrong_shape = testing::RandomF32({2, 36}, 1);
  OwnedTensor wrong_rank = testing::RandomF32({74}, 1);
  OwnedTensor wrong_dtype = testing::FromVector<int64_t>({2}, {1, 2});
  std::vector<OwnedTensor> out;
  auto expect = [&](const Status& s, const std::string& fragment) {
    ASSERT_FALSE(s.ok()) << "expected: " << fragment;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
  };
  expect(session.Run({}, {"y"}, &out), "missing input 'x'");
  expect(session.Run({{"z", &ok.view}}, {"y"}, &out), "unknown input 'z'; the model's inputs are 'x'");
  expect(session.Run({{"x", &ok.view}, {"x", &ok.view}}, {"y"}, &out), "given twice");
  expect(session.Run({{"x", &wrong_shape.view}}, {"y"}, &out), "input 'x' has shape [2, 36], expected [?, 37]");
  expect(session.Run({{"x", &wrong_rank.view}}, {"y"}, &out), "input 'x' has rank 1");
  expect(session.Run({{"x", &wrong_dtype.view}}, {"y"}, &out), "input 'x' has dtype i64, expected f32");
  expect(session.Run({{"x", &ok.view}}, {"nope"}, &out), "unknown output 'nope'; the model's outputs are 'y', 'm01'");
}

TEST(ExecutorTest, OutputAskedTwiceAndPassThroughOutputs) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {2});
  const int c = b.AddConstant<float>("c", {2}, {5, 6});
  b.AddOutput(b.AddNode("Relu", {x}, {"y"})[0]);
  b.AddOutput(x);
  b.AddOutput(c);
  auto model = LoadModel(b);
  Session session(model, SessionOptions{1, false});
  OwnedTensor input = testing::FromVector<float>({2}, {-1, 1});
  std::vector<OwnedTensor> out;
  ASSERT_TRUE(session.Run({{"x", &input.view}}, {"y", "x", "c", "y"}, &out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(testing::ToFloatVector(out[0].view), (std::vector<float>{0, 1}));
  EXPECT_EQ(testing::ToFloatVector(out[1].view), (std::vector<float>{-1, 1}));
  EXPECT_NE(out[1].view.data, input.view.data);
  EXPECT_EQ(testing::ToFloatVector(out[2].view), (std::vector<float>{5, 6}));
  EXPECT_EQ(testing::ToFloatVector(out[3].view), (std::vector<float>{0, 1}));
  EXPECT_NE(out[0].view.data, out[3].view.data);
}

TEST(ExecutorTest, ManySessionsShareOneModel) {
  auto model = LoadModel(BranchyModel());
  OwnedTensor input = testing::RandomF32({9, 37}, 3);
  std::vector<OwnedTensor> expected;
  ASSERT_TRUE(Session(model, SessionOptions{1, false}).Run({{"x", &input.view}}, {"y"}, &expected).ok());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Session session(model, SessionOptions{2, false});
      for (int i = 0; i < 20; ++i) {
        std::vector<OwnedTensor> out;
        if (!session.Run({{"x", &input.view}}, {"y"}, &out).ok() ||
            !testing::BitwiseEqual(out[0].view, expected[0].view)) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace tessera::runtime
