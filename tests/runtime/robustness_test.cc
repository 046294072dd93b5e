// Concurrency, cancellation and faults (docs/robustness.md):
// - one model shared by 8 threads, each running many sessions over inputs
//   of different shapes, gives outputs bitwise equal to a serial run (and
//   runs under ThreadSanitizer without a report);
// - Session::Cancel stops a run in progress from another thread, and
//   sessions created, cancelled and destroyed while others run leave those
//   others untouched;
// - an allocation failure at any point of a run, or a kernel failing
//   mid-graph, returns an error, frees everything (LeakSanitizer checks that
//   in the sanitizer builds) and leaves the session and model usable;
// - the per-run limit max_planned_bytes, and the limits through the C API.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/registry.h"
#include "runtime/session.h"
#include "tessera/model_builder.h"
#include "tessera/tessera.h"
#include "tests/testing/op_test_util.h"

namespace tessera::runtime {
namespace {

std::string ModelPath(const std::string& name) { return std::string(TESSERA_SOURCE_DIR) + "/models/" + name; }

std::shared_ptr<const Model> LoadFile(const std::string& name) {
  ModelOptions options;
  options.plugins_from_env = false;
  auto model = Model::LoadFromFile(ModelPath(name), options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

std::shared_ptr<const Model> LoadBuilt(const ModelBuilder& b, const OpRegistry* registry = nullptr,
                                       const graph::ModelLimits& limits = {}) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  ModelOptions options;
  options.plugins_from_env = false;
  options.load.registry = registry;
  options.load.limits = limits;
  auto model = Model::LoadFromBuffer(bytes.data(), bytes.size(), options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

// One request: inputs for every graph input of `model`, with each dynamic
// dim bound by name to a size drawn from `seed` (1 to 4), floats in
// [-1, 1] and integers in [0, 9] (valid token ids and lengths for every
// bundled model).
struct Request {
  std::vector<OwnedTensor> tensors;
  std::vector<std::pair<std::string, const Tensor*>> inputs;
  std::vector<std::string> outputs;
};

Request MakeRequest(const Model& model, uint32_t seed) {
  const graph::Graph& g = model.graph();
  std::mt19937 rng(seed);
  std::map<std::string, int64_t> dims;
  Request r;
  r.tensors.reserve(g.inputs.size());
  for (int index : g.inputs) {
    const graph::Value& v = g.values[static_cast<size_t>(index)];
    Shape shape = v.info.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0) shape[d] = dims.emplace(v.dim_names[d], 1 + rng() % 4).first->second;
    }
    OwnedTensor t = testing::MakeTensor(v.info.dtype, shape);
    for (int64_t i = 0; i < t.view.NumElements(); ++i) {
      switch (t.view.dtype) {
        case DType::kF32: t.view.data_as<float>()[i] = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f; break;
        case DType::kI32: t.view.data_as<int32_t>()[i] = static_cast<int32_t>(rng() % 10); break;
        case DType::kI64: t.view.data_as<int64_t>()[i] = static_cast<int64_t>(rng() % 10); break;
        default: ADD_FAILURE() << "no generator for dtype " << DTypeName(t.view.dtype);
      }
    }
    r.tensors.push_back(std::move(t));
    r.inputs.emplace_back(v.name, &r.tensors.back().view);
  }
  for (int index : g.outputs) r.outputs.push_back(g.values[static_cast<size_t>(index)].name);
  return r;
}

bool SameOutputs(const std::vector<OwnedTensor>& a, const std::vector<OwnedTensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!testing::BitwiseEqual(a[i].view, b[i].view)) return false;
  }
  return true;
}

// ---- Concurrency ----------------------------------------------------------

TEST(ConcurrencyTest, EightThreadsShareOneModelAndMatchASerialRun) {
  for (const char* file : {"gpt_tiny.tess", "seq2seq_attention.tess", "lstm_classifier.tess"}) {
    SCOPED_TRACE(file);
    auto model = LoadFile(file);
    ASSERT_NE(model, nullptr);
    // Serial reference: 12 requests of different shapes, one thread.
    constexpr int kRequests = 12;
    std::vector<Request> requests;
    std::vector<std::vector<OwnedTensor>> expected(kRequests);
    for (int i = 0; i < kRequests; ++i) requests.push_back(MakeRequest(*model, 1000 + i));
    {
      Session serial(model, SessionOptions{1, false});
      for (int i = 0; i < kRequests; ++i) {
        const Status s = serial.Run(requests[i].inputs, requests[i].outputs, &expected[i]);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    }
    // 8 threads, each making a new session every 3 runs (1 or 2 threads
    // each), walking the requests from a different start so shapes change
    // from run to run in every session.
    constexpr int kThreads = 8;
    constexpr int kRunsPerThread = 18;
    std::atomic<int> runs{0}, mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::unique_ptr<Session> session;
        for (int i = 0; i < kRunsPerThread; ++i) {
          if (i % 3 == 0) session = std::make_unique<Session>(model, SessionOptions{1 + (t + i) % 2, false});
          const int k = (t * 5 + i) % kRequests;
          std::vector<OwnedTensor> out;
          if (!session->Run(requests[k].inputs, requests[k].outputs, &out).ok()) {
            failures.fetch_add(1);
          } else if (!SameOutputs(out, expected[k])) {
            mismatches.fetch_add(1);
          }
          runs.fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(runs.load(), kThreads * kRunsPerThread);
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(mismatches.load(), 0);
  }
}

// ---- Cancellation ---------------------------------------------------------

// test.Gate: copies X to Y once `open` is set (or fails after 10 s), and
// counts the kernels that entered, so a test knows a run is in progress.
struct Gate {
  std::atomic<bool> open{false};
  std::atomic<int> entered{0};
};

// test.FailIf: copies X to Y, or fails (kInternal "injected kernel
// failure") while `fail` is set.
std::atomic<bool> fail_kernels{false};

OpRegistry MakeTestRegistry(Gate* gate) {
  OpRegistry registry(&BuiltinOpRegistry());
  registry.set_owner("robustness_test");
  auto same_shape = [](OpContext& ctx) {
    ctx.outputs[0] = ctx.input(0);
    return Status::Ok();
  };
  struct Copy : Kernel {
    Gate* gate = nullptr;
    Status Run(KernelContext& c) const override {
      if (gate != nullptr) {
        gate->entered.fetch_add(1);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!gate->open.load()) {
          if (std::chrono::steady_clock::now() > deadline) return Status(StatusCode::kInternal, "gate never opened");
          std::this_thread::yield();
        }
      } else if (fail_kernels.load()) {
        return Status(StatusCode::kInternal, "injected kernel failure");
      }
      std::memcpy(c.output(0)->data, c.input(0)->data, c.input(0)->ByteSize());
      return Status::Ok();
    }
  };
  for (const char* op : {"Gate", "FailIf"}) {
    OpDef def;
    def.domain = "test";
    def.op_type = op;
    def.inputs = {ParamDef{"X", ParamDef::Presence::kRequired, {DType::kF32}}};
    def.outputs = {ParamDef{"Y"}};
    def.infer_shapes = same_shape;
    Gate* g = std::string(op) == "Gate" ? gate : nullptr;
    def.create_kernel = [g](const OpContext&) -> StatusOr<std::unique_ptr<Kernel>> {
      auto k = std::make_unique<Copy>();
      k->gate = g;
      return std::unique_ptr<Kernel>(std::move(k));
    };
    EXPECT_TRUE(registry.Register(def).ok());
  }
  return registry;
}

// x -> Relu -> test.<op> -> Identity -> y
ModelBuilder ChainThrough(const char* op) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"n"});
  const int r = b.AddNode("Relu", {x}, {"r"}, {}, "before")[0];
  const int g = b.AddNode(op, {r}, {"g"}, {}, "middle", "test")[0];
  b.AddOutput(b.AddNode("Identity", {g}, {"y"}, {}, "after")[0]);
  return b;
}

TEST(CancelTest, CancelStopsTheRunInProgressAndTheSessionStaysUsable) {
  Gate gate;
  OpRegistry registry = MakeTestRegistry(&gate);
  auto model = LoadBuilt(ChainThrough("Gate"), &registry);
  ASSERT_NE(model, nullptr);
  Session session(model, SessionOptions{2, false});
  OwnedTensor input = testing::FromVector<float>({3}, {-1, 2, 3});
  Status status;
  std::vector<OwnedTensor> out;
  std::thread runner([&] { status = session.Run({{"x", &input.view}}, {"y"}, &out); });
  while (gate.entered.load() == 0) std::this_thread::yield();
  session.Cancel();  // while test.Gate runs: "after" must not start
  gate.open = true;
  runner.join();
  EXPECT_EQ(status.code(), StatusCode::kCancelled) << status.ToString();
  EXPECT_NE(status.message().find("cancelled"), std::string::npos) << status.message();
  // The cancel was for that run only.
  status = session.Run({{"x", &input.view}}, {"y"}, &out);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(testing::ToFloatVector(out[0].view), (std::vector<float>{0, 2, 3}));
}

TEST(CancelTest, CancelWithNoRunInProgressAffectsNoLaterRun) {
  auto model = LoadFile("gated_mlp.tess");
  ASSERT_NE(model, nullptr);
  Session session(model, SessionOptions{1, false});
  Request r = MakeRequest(*model, 7);
  std::vector<OwnedTensor> out;
  session.Cancel();
  ASSERT_TRUE(session.Run(r.inputs, r.outputs, &out).ok());
  ASSERT_TRUE(session.Run(r.inputs, r.outputs, &out).ok());
  session.Cancel();
  session.Cancel();
  EXPECT_TRUE(session.Run(r.inputs, r.outputs, &out).ok());
}

TEST(CancelTest, SessionsCancelledAndDestroyedWhileOthersRun) {
  auto model = LoadFile("gpt_tiny.tess");
  ASSERT_NE(model, nullptr);
  constexpr int kRequests = 6;
  std::vector<Request> requests;
  std::vector<std::vector<OwnedTensor>> expected(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    requests.push_back(MakeRequest(*model, 2000 + i));
    ASSERT_TRUE(Session(model, SessionOptions{1, false}).Run(requests[i].inputs, requests[i].outputs, &expected[i]).ok());
  }
  // Four steady workers check every output; four churners create a
  // session, start a run, cancel it from a helper thread at a random moment
  // and destroy the session, over and over.
  std::atomic<int> mismatches{0}, steady_runs{0}, cancelled{0}, completed{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Session session(model, SessionOptions{2, false});
      for (int i = 0; i < 12; ++i) {
        const int k = (t + i) % kRequests;
        std::vector<OwnedTensor> out;
        if (!session.Run(requests[k].inputs, requests[k].outputs, &out).ok() || !SameOutputs(out, expected[k])) {
          mismatches.fetch_add(1);
        }
        steady_runs.fetch_add(1);
      }
    });
  }
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 8; ++i) {
        auto session = std::make_unique<Session>(model, SessionOptions{1 + i % 2, false});
        const int k = (t + i) % kRequests;
        std::vector<OwnedTensor> out;
        Status status;
        std::thread run([&] { status = session->Run(requests[k].inputs, requests[k].outputs, &out); });
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
        session->Cancel();
        run.join();
        if (status.ok()) {
          completed.fetch_add(1);
          if (!SameOutputs(out, expected[k])) mismatches.fetch_add(1);
        } else if (status.code() == StatusCode::kCancelled) {
          cancelled.fetch_add(1);
        } else {
          other.fetch_add(1);
        }
        session.reset();  // destroyed while the steady workers run
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(steady_runs.load(), 48);
  EXPECT_EQ(cancelled.load() + completed.load(), 32);
}

// ---- Faults -------------------------------------------------------------

// Fails the allocation whose 1-based number since arming is `fail_at`.
std::atomic<int> allocations_left{-1};
bool FailNthAllocation(size_t) {
  return allocations_left.fetch_sub(1) != 1;
}

TEST(FaultTest, AllocationFailureAtEveryPointOfARun) {
  auto model = LoadFile("seq2seq_attention.tess");
  ASSERT_NE(model, nullptr);
  Request small = MakeRequest(*model, 11);
  Request other = MakeRequest(*model, 12);
  std::vector<OwnedTensor> expected_small, expected_other;
  ASSERT_TRUE(Session(model, SessionOptions{1, false}).Run(small.inputs, small.outputs, &expected_small).ok());
  ASSERT_TRUE(Session(model, SessionOptions{1, false}).Run(other.inputs, other.outputs, &expected_other).ok());
  // For n = 1, 2, ...: a fresh session whose first run fails its n-th
  // allocation (arena, outputs, kernel scratch, ...), until a run makes
  // fewer than n. Each failure is an error (or, for an optional
  // allocation, a correct result), and the same session then runs both
  // requests correctly.
  int failed_runs = 0, points = 0;
  for (int n = 1; n < 10000; ++n) {
    Session session(model, SessionOptions{1 + n % 2, false});
    std::vector<OwnedTensor> out;
    allocations_left = n;
    SetAllocationHookForTesting(FailNthAllocation);
    const Status status = session.Run(small.inputs, small.outputs, &out);
    SetAllocationHookForTesting(nullptr);
    const bool injected = allocations_left.load() <= 0;
    if (!injected) {
      ASSERT_TRUE(status.ok()) << status.ToString();
      break;
    }
    ++points;
    // A few allocations are optional: a value that shape inference could
    // not propagate stays unknown, and the run goes on without it.
    if (!status.ok()) {
      ++failed_runs;
      EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << "allocation " << n << ": " << status.ToString();
      EXPECT_NE(status.message().find("injected"), std::string::npos) << status.message();
    } else {
      EXPECT_TRUE(SameOutputs(out, expected_small)) << "allocation " << n;
    }
    ASSERT_TRUE(session.Run(other.inputs, other.outputs, &out).ok()) << "after failing allocation " << n;
    EXPECT_TRUE(SameOutputs(out, expected_other));
    ASSERT_TRUE(session.Run(small.inputs, small.outputs, &out).ok());
    EXPECT_TRUE(SameOutputs(out, expected_small));
  }
  std::printf("allocations in one run: %d; failing one fails the run at %d of them\n", points, failed_runs);
  EXPECT_GT(failed_runs, 2);  // arena and outputs at least
}

TEST(FaultTest, KernelFailingMidGraphLeavesModelUsable) {
  OpRegistry registry = MakeTestRegistry(nullptr);
  auto model = LoadBuilt(ChainThrough("FailIf"), &registry);
  ASSERT_NE(model, nullptr);
  OwnedTensor input = testing::FromVector<float>({4}, {-1, 1, -2, 2});
  Session session(model, SessionOptions{2, false});
  std::vector<OwnedTensor> out;
  fail_kernels = true;
  Status status = session.Run({{"x", &input.view}}, {"y"}, &out);
  fail_kernels = false;
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("node 1 'middle' (test.FailIf v1)"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("injected kernel failure"), std::string::npos) << status.message();
  EXPECT_TRUE(out.empty());
  // The same session, and a new one, run normally.
  for (Session* s : {&session, new Session(model, SessionOptions{1, false})}) {
    status = s->Run({{"x", &input.view}}, {"y"}, &out);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(testing::ToFloatVector(out[0].view), (std::vector<float>{0, 1, 0, 2}));
    if (s != &session) delete s;
  }
}

// ---- Per-run limit --------------------------------------------------------

TEST(RunLimitsTest, PlannedBytesAndElementsOnceDimsAreBound) {
  // x [n, 64] -> Relu -> Relu -> y: 2 tensors of n * 256 bytes per run.
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"n", 64});
  const int r = b.AddNode("Relu", {x}, {"r"})[0];
  b.AddOutput(b.AddNode("Relu", {r}, {"y"})[0]);
  graph::ModelLimits limits;
  limits.max_planned_bytes = 100 * 256 * 2;
  limits.max_tensor_elements = 200 * 64;
  auto model = LoadBuilt(b, nullptr, limits);
  ASSERT_NE(model, nullptr);
  Session session(model, SessionOptions{1, false});
  std::vector<OwnedTensor> out;
  OwnedTensor fits = testing::RandomF32({100, 64}, 1);
  EXPECT_TRUE(session.Run({{"x", &fits.view}}, {"y"}, &out).ok());
  OwnedTensor over = testing::RandomF32({101, 64}, 1);
  Status s = session.Run({{"x", &over.view}}, {"y"}, &out);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("[101, 64] need 51712 bytes"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("limit of 51200 (max_planned_bytes)"), std::string::npos) << s.message();
  OwnedTensor huge = testing::RandomF32({201, 64}, 1);
  s = session.Run({{"x", &huge.view}}, {"y"}, &out);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("tensor 'x': shape [201, 64] has more than 12800 elements"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("max_tensor_elements"), std::string::npos) << s.message();
  // Still usable.
  EXPECT_TRUE(session.Run({{"x", &fits.view}}, {"y"}, &out).ok());
}

// ---- The C API --------------------------------------------------------------

TEST(CApiLimitsTest, SetGetAndRefuse) {
  TsrModelOptions* options = nullptr;
  ASSERT_EQ(TsrModelOptionsCreate(&options), nullptr);
  int64_t value = 0;
  ASSERT_EQ(TsrModelOptionsGetLimit(options, TSR_LIMIT_TENSOR_ELEMENTS, &value), nullptr);
  EXPECT_EQ(value, int64_t{1} << 34);
  ASSERT_EQ(TsrModelOptionsSetLimit(options, TSR_LIMIT_NODES, 3), nullptr);
  ASSERT_EQ(TsrModelOptionsGetLimit(options, TSR_LIMIT_NODES, &value), nullptr);
  EXPECT_EQ(value, 3);
  for (auto [limit, v] : {std::pair<int32_t, int64_t>{99, 1}, {TSR_LIMIT_RANK, 0}, {TSR_LIMIT_FILE_BYTES, -5}}) {
    TsrStatus* s = TsrModelOptionsSetLimit(options, limit, v);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(TsrStatusGetCode(s), TSR_ERR_INVALID_ARGUMENT);
    TsrStatusRelease(s);
  }
  TsrModel* model = nullptr;
  TsrStatus* s = TsrModelLoad(ModelPath("gated_mlp.tess").c_str(), options, &model);  // 6 nodes
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(TsrStatusGetCode(s), TSR_ERR_RESOURCE_EXHAUSTED);
  EXPECT_NE(std::string(TsrStatusGetMessage(s)).find("max_nodes"), std::string::npos) << TsrStatusGetMessage(s);
  TsrStatusRelease(s);
  ASSERT_EQ(TsrModelOptionsSetLimit(options, TSR_LIMIT_NODES, 100), nullptr);
  ASSERT_EQ(TsrModelLoad(ModelPath("gated_mlp.tess").c_str(), options, &model), nullptr);
  TsrSession* session = nullptr;
  ASSERT_EQ(TsrSessionCreate(model, nullptr, &session), nullptr);
  EXPECT_EQ(TsrSessionCancel(session), nullptr);  // nothing in progress: a no-op
  TsrStatus* null_session = TsrSessionCancel(nullptr);
  EXPECT_EQ(TsrStatusGetCode(null_session), TSR_ERR_INVALID_ARGUMENT);
  TsrStatusRelease(null_session);
  TsrSessionRelease(session);
  TsrModelRelease(model);
  TsrModelOptionsRelease(options);
}

}  // namespace
}  // namespace tessera::runtime
