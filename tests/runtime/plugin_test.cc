// Plugins end to end through the public API (tessera.hpp over
// libtessera.so): the example plugin's model against a double-precision
// reference at 1 and 2 threads; a C plugin and a C++ plugin together;
// shape inference, attribute defaults and cost of plugin ops; every refusal
// (missing file, not a library, no entry symbol, unknown ABI, short
// struct, failing init, incomplete op, op clashes) and every fault (an
// error status or a C++ exception from each callback), each with the
// message a user would need; and the ABI layout pinned with static_assert.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "examples/plugins/ffn_model.h"
#include "tessera/model_builder.h"
#include "tessera/plugin.h"
#include "tessera/tessera.hpp"

// ---- ABI layout (LP64): a change here breaks every built plugin ---------------
#if defined(__LP64__)
static_assert(offsetof(TsrHostApi, abi_version) == 0);
static_assert(offsetof(TsrHostApi, struct_size) == 4);
static_assert(offsetof(TsrHostApi, CreateStatus) == 8);
static_assert(offsetof(TsrHostApi, ReleaseStatus) == 16);
static_assert(offsetof(TsrHostApi, GetNodeName) == 40);
static_assert(offsetof(TsrHostApi, GetAttrInt) == 96);
static_assert(offsetof(TsrHostApi, GetInput) == 152);
static_assert(offsetof(TsrHostApi, ParallelFor) == 176);
static_assert(sizeof(TsrHostApi) == 184);
static_assert(offsetof(TsrPluginOp, domain) == 8);
static_assert(offsetof(TsrPluginOp, since_version) == 24);
static_assert(offsetof(TsrPluginOp, inputs) == 32);
static_assert(offsetof(TsrPluginOp, op_state) == 80);
static_assert(offsetof(TsrPluginOp, infer_shapes) == 88);
static_assert(offsetof(TsrPluginOp, run) == 112);
static_assert(sizeof(TsrPluginOp) == 128);
static_assert(offsetof(TsrPluginApi, name) == 8);
static_assert(offsetof(TsrPluginApi, ops) == 24);
static_assert(sizeof(TsrPluginApi) == 40);
static_assert(sizeof(TsrPluginParam) == 40);
static_assert(offsetof(TsrPluginAttr, default_int) == 24);
static_assert(offsetof(TsrPluginAttr, default_count) == 72);
static_assert(sizeof(TsrPluginAttr) == 80);
static_assert(sizeof(TsrTensorInfo) == 16);
static_assert(offsetof(TsrTensorView, data) == 24);
static_assert(sizeof(TsrTensorView) == 32);
static_assert(sizeof(TsrOpCost) == 24);
#endif
static_assert(TSR_PLUGIN_ABI_VERSION == 0x10000u);
// The codes plugin.h shares with tessera.h (included second above, so
// any drift would also be a macro redefinition warning).
static_assert(TSR_ERR_INVALID_ARGUMENT == 1 && TSR_ERR_CANCELLED == 8 && TSR_DTYPE_BOOL == 8);

namespace {

using tessera::Model;
using tessera::ModelBuilder;
using tessera::ModelOptions;
using tessera::Session;
using tessera::SessionOptions;
using tessera::Value;

const std::string kExamplePlugin = TSR_EXAMPLE_PLUGIN;
const std::string kFfnModelPath = TSR_FFN_MODEL;
const std::string kTestPlugin = TSR_TEST_PLUGIN;
const std::string kTestPluginC = TSR_TEST_PLUGIN_C;
const std::string kPluginDir = TSR_TEST_PLUGIN_DIR;

std::string BadPlugin(const std::string& kind) { return kPluginDir + "/libtsr_bad_" + kind + ".so"; }

// The error a model load gives, or "" when it loads.
struct LoadError {
  int32_t code = 0;
  std::string message;
};

template <typename Fn>
LoadError ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const tessera::Error& e) {
    return LoadError{e.code(), e.what()};
  }
  return LoadError{};
}

ModelOptions WithPlugins(const std::vector<std::string>& plugins) {
  ModelOptions options;
  options.PluginsFromEnv(false);
  for (const std::string& p : plugins) options.AddPlugin(p);
  return options;
}

Model LoadBuilt(const ModelBuilder& b, const ModelOptions& options) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!b.Finish(&bytes, &error)) throw tessera::Error(TSR_ERR_INTERNAL, "builder: " + error);
  return Model::LoadFromBuffer(bytes.data(), bytes.size(), options);
}

// x [n] -> one node of `op` -> y.
ModelBuilder OneNode(const std::string& domain, const std::string& op, const std::vector<ModelBuilder::Attr>& attrs,
                     tessera::ModelBuilder::Dim n = "n") {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {n});
  const int y = b.AddNode(op, {x}, {"y"}, attrs, "the_node", domain, 1)[0];
  b.AddOutput(y);
  return b;
}

std::vector<float> Ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  return v;
}

std::vector<float> RunOne(const Model& model, int threads, const std::vector<float>& x) {
  Session session(model, SessionOptions().Threads(threads));
  const Value in = Value::FromData<float>({static_cast<int64_t>(x.size())}, x);
  return session.Run({{"x", &in}}, {"y"})[0].ToVector<float>();
}

// ---- The example plugin and its model ------------------------------------------

// The FFN block of examples/plugins/ffn_model.h in double precision.
std::vector<double> FfnReference(const std::vector<float>& x, int64_t batch) {
  using namespace tessera::examples;
  const FfnWeights w = MakeFfnWeights();
  const int64_t d = kFfnModel, h = kFfnHidden;
  std::vector<double> y(static_cast<size_t>(batch * d));
  for (int64_t r = 0; r < batch; ++r) {
    std::vector<double> up(2 * h, 0.0), act(h), res(d);
    for (int64_t j = 0; j < 2 * h; ++j) {
      for (int64_t k = 0; k < d; ++k) up[j] += static_cast<double>(x[r * d + k]) * w.w_in[k * 2 * h + j];
    }
    for (int64_t j = 0; j < h; ++j) act[j] = up[j] / (1.0 + std::exp(-up[j])) * up[h + j];
    double sum_sq = 0;
    for (int64_t c = 0; c < d; ++c) {
      res[c] = x[r * d + c];
      for (int64_t j = 0; j < h; ++j) res[c] += act[j] * w.w_out[j * d + c];
      sum_sq += res[c] * res[c];
    }
    const double inv = 1.0 / std::sqrt(sum_sq / static_cast<double>(d) + kFfnEpsilon);
    for (int64_t c = 0; c < d; ++c) y[r * d + c] = res[c] * inv * w.scale[c];
  }
  return y;
}

TEST(PluginTest, ExampleModelMatchesReferenceAtOneAndTwoThreads) {
  const Model model = Model::Load(kFfnModelPath, WithPlugins({kExamplePlugin}));
  // Enough rows that RMSNorm's row chunks (4096 / 16 = 256 rows each) split.
  const int64_t batch = 700;
  std::vector<float> x(static_cast<size_t>(batch * tessera::examples::kFfnModel));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.613f * static_cast<float>(i)) * 1.5f;
  const std::vector<double> ref = FfnReference(x, batch);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    Session session(model, SessionOptions().Threads(threads));
    const Value in = Value::FromData<float>({batch, tessera::examples::kFfnModel}, x);
    const std::vector<Value> y = session.Run({{"x", &in}}, {"y"});
    ASSERT_EQ(y[0].dims(), (std::vector<int64_t>{batch, tessera::examples::kFfnModel}));
    results.push_back(y[0].ToVector<float>());
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    // Two float GEMMs of depth <= 32 and a normalization by an O(1) RMS:
    // a few hundred ulps of 1 at most.
    ASSERT_NEAR(results[0][i], ref[i], 2e-5 * std::max(1.0, std::fabs(ref[i]))) << "element " << i;
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)))
      << "1 and 2 threads differ";
}

TEST(PluginTest, ExampleModelNodesAndCostReachTheProfiler) {
  const Model model = Model::Load(kFfnModelPath, WithPlugins({kExamplePlugin}));
  bool found = false;
  for (const tessera::NodeInfo& n : model.Nodes()) {
    if (n.name == "ffn/swiglu") {
      EXPECT_EQ(n.domain, "example");
      EXPECT_EQ(n.op_type, "SwiGLU");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  Session session(model, SessionOptions().Threads(1).Profiling(true));
  const int64_t batch = 3;
  const Value in = Value::FromData<float>({batch, 16}, std::vector<float>(batch * 16, 0.5f));
  session.Run({{"x", &in}}, {"y"});
  int checked = 0;
  for (const tessera::NodeProfile& p : session.Profile()) {
    if (p.node_name == "ffn/swiglu") {
      // SwiGLU's Cost: 5 FLOPs per output element, reads 2x and writes 1x.
      EXPECT_DOUBLE_EQ(p.flops, 5.0 * batch * 32);
      EXPECT_DOUBLE_EQ(p.bytes, 3.0 * batch * 32 * sizeof(float));
      ++checked;
    }
    if (p.node_name == "ffn/norm") {
      EXPECT_DOUBLE_EQ(p.flops, 4.0 * batch * 16 + 3.0 * batch);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST(PluginTest, ModelWithoutItsPluginNamesOpDomainNodeAndHowToLoad) {
  const LoadError e = ErrorOf([] { Model::Load(kFfnModelPath, WithPlugins({})); });
  EXPECT_EQ(e.code, TSR_ERR_NOT_FOUND);
  for (const char* part : {"'ffn/swiglu'", "unknown op 'SwiGLU'", "domain 'example'", "plugins loaded: none",
                           "--plugin"}) {
    EXPECT_NE(e.message.find(part), std::string::npos) << "missing '" << part << "' in: " << e.message;
  }
  // With other plugins loaded, they are listed.
  const LoadError e2 = ErrorOf([] { Model::Load(kFfnModelPath, WithPlugins({kTestPluginC})); });
  EXPECT_NE(e2.message.find("plugins loaded: '" + kTestPluginC + "' (tessera-test-c 0.1)"), std::string::npos)
      << e2.message;
}

TEST(PluginTest, EnvironmentVariableLoadsPlugins) {
  ASSERT_EQ(0, setenv("TESSERA_PLUGINS", (":" + kExamplePlugin + "::").c_str(), 1));
  EXPECT_EQ(Model::Load(kFfnModelPath).Nodes().size(), 5u);
  // Opting out of the variable makes the op unknown again.
  ModelOptions no_env;
  no_env.PluginsFromEnv(false);
  EXPECT_EQ(ErrorOf([&] { Model::Load(kFfnModelPath, no_env); }).code, TSR_ERR_NOT_FOUND);
  // Listed in the variable and again explicitly: loaded once, no clash.
  ModelOptions both;
  both.AddPlugin(kExamplePlugin);
  EXPECT_EQ(Model::Load(kFfnModelPath, both).Nodes().size(), 5u);
  unsetenv("TESSERA_PLUGINS");
}

// ---- Shape inference, attributes, both plugin flavours ------------------------------

TEST(PluginTest, SwiGluInfersHalfTheLastDimAndKeepsDynamicDims) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 64});
  b.AddOutput(b.AddNode("SwiGLU", {x}, {"y"}, {}, "act", "example", 1)[0]);
  const Model model = LoadBuilt(b, WithPlugins({kExamplePlugin}));
  EXPECT_EQ(model.Outputs()[0].dims, (std::vector<int64_t>{-1, 32}));
  EXPECT_EQ(model.Outputs()[0].dtype, TSR_DTYPE_FLOAT32);
}

TEST(PluginTest, ShapeInferenceErrorNamesNodeAndReason) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {2, 7});
  b.AddOutput(b.AddNode("SwiGLU", {x}, {"y"}, {}, "odd_act", "example", 1)[0]);
  const LoadError e = ErrorOf([&] { LoadBuilt(b, WithPlugins({kExamplePlugin})); });
  EXPECT_NE(e.code, 0);
  EXPECT_NE(e.message.find("'odd_act'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("the last dim of input 'X' is 7"), std::string::npos) << e.message;
}

TEST(PluginTest, SignatureIsCheckedByTheHost) {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_INT32, {4});
  b.AddOutput(b.AddNode("Scale", {x}, {"y"}, {}, "int_scale", "test", 1)[0]);
  const LoadError e = ErrorOf([&] { LoadBuilt(b, WithPlugins({kTestPlugin})); });
  EXPECT_NE(e.message.find("input 'X' has dtype i32, expected f32"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("'int_scale'"), std::string::npos) << e.message;
}

TEST(PluginTest, AttributeDefaultsAndValues) {
  const std::vector<float> x = Ramp(37);
  const Model by_default = LoadBuilt(OneNode("test", "Scale", {}), WithPlugins({kTestPlugin}));
  const Model tripled = LoadBuilt(OneNode("test", "Scale", {ModelBuilder::Attr::Float("alpha", 3.0f)}),
                                  WithPlugins({kTestPlugin}));
  const std::vector<float> y2 = RunOne(by_default, 1, x), y3 = RunOne(tripled, 1, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(y2[i], 2.0f * x[i]) << i;
    EXPECT_EQ(y3[i], 3.0f * x[i]) << i;
  }
}

TEST(PluginTest, CAndCppPluginsTogetherAtOneAndTwoThreads) {
  // x -> testc.Negate -> test.Scale(alpha 0.5, grain 7) -> y: many chunks
  // in both plugins' ParallelFor.
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"n"});
  const int neg = b.AddNode("Negate", {x}, {"neg"}, {}, "negate", "testc", 1)[0];
  b.AddOutput(b.AddNode("Scale", {neg}, {"y"},
                        {ModelBuilder::Attr::Float("alpha", 0.5f), ModelBuilder::Attr::Int("grain", 7)}, "scale",
                        "test", 1)[0]);
  const Model model = LoadBuilt(b, WithPlugins({kTestPluginC, kTestPlugin}));
  const std::vector<float> x_values = Ramp(10007);
  const std::vector<float> y1 = RunOne(model, 1, x_values), y2 = RunOne(model, 2, x_values);
  for (size_t i = 0; i < x_values.size(); ++i) ASSERT_EQ(y1[i], -0.5f * x_values[i]) << i;
  EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));
}

// ---- Faults: an error status or an exception from a plugin callback ---------------------

TEST(PluginTest, KernelErrorReachesCallerWithNodeAndSessionStaysUsable) {
  const Model model =
      LoadBuilt(OneNode("testc", "Fail", {ModelBuilder::Attr::Int("stage", 0)}), WithPlugins({kTestPluginC}));
  Session session(model, SessionOptions().Threads(2));
  const Value in = Value::FromData<float>({3}, std::vector<float>{1, 2, 3});
  for (int attempt = 0; attempt < 2; ++attempt) {
    const LoadError e = ErrorOf([&] { session.Run({{"x", &in}}, {"y"}); });
    EXPECT_EQ(e.code, TSR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(e.message.find("'the_node' (testc.Fail v1)"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("plugin 'tessera-test-c': Fail: injected failure in run"), std::string::npos)
        << e.message;
  }
  // The host is fine: another model with the same plugin runs.
  const Model negate = LoadBuilt(OneNode("testc", "Negate", {}), WithPlugins({kTestPluginC}));
  EXPECT_EQ(RunOne(negate, 2, {1.5f})[0], -1.5f);
}

TEST(PluginTest, LoadTimeErrorStatusesNameTheNode) {
  for (const auto& [stage, text] : {std::pair<int, const char*>{1, "injected failure in infer_shapes"},
                                    std::pair<int, const char*>{2, "injected failure in create_kernel"}}) {
    const LoadError e = ErrorOf([&, stage = stage] {
      LoadBuilt(OneNode("testc", "Fail", {ModelBuilder::Attr::Int("stage", stage)}), WithPlugins({kTestPluginC}));
    });
    // The loader reports shape inference failures as an invalid model;
    // kernel creation keeps the plugin's own code.
    EXPECT_EQ(e.code, stage == 1 ? TSR_ERR_INVALID_MODEL : TSR_ERR_INVALID_ARGUMENT) << e.message;
    EXPECT_NE(e.message.find(text), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("'the_node'"), std::string::npos) << e.message;
  }
}

TEST(PluginTest, ExceptionsInTheCppLayerBecomeStatuses) {
  const std::vector<float> x = {1, 2, 3, 4};
  for (const char* where : {"run", "parallel_for"}) {
    const Model model =
        LoadBuilt(OneNode("test", "Throw", {ModelBuilder::Attr::String("where", where)}), WithPlugins({kTestPlugin}));
    for (int threads : {1, 2}) {
      const LoadError e = ErrorOf([&] { RunOne(model, threads, x); });
      EXPECT_EQ(e.code, TSR_ERR_INTERNAL) << where;
      EXPECT_NE(e.message.find("'the_node' (test.Throw v1)"), std::string::npos) << e.message;
      EXPECT_NE(e.message.find("test.Throw run: exception: deliberate exception in"), std::string::npos)
          << e.message;
    }
  }
  for (const auto& [where, text] : {std::pair<const char*, const char*>{"infer_shapes", "in infer_shapes"},
                                    std::pair<const char*, const char*>{"create", "in create_kernel"}}) {
    const LoadError e = ErrorOf([&, where = where] {
      LoadBuilt(OneNode("test", "Throw", {ModelBuilder::Attr::String("where", where)}), WithPlugins({kTestPlugin}));
    });
    EXPECT_EQ(e.code, TSR_ERR_INTERNAL) << e.message;
    EXPECT_NE(e.message.find(std::string("deliberate exception ") + text), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("'the_node'"), std::string::npos) << e.message;
  }
}

// ---- Refusals: the plugin itself cannot be used -------------------------------------------

LoadError LoadWithPlugin(const std::string& plugin) {
  return ErrorOf([&] { Model::Load(kFfnModelPath, WithPlugins({plugin})); });
}

void ExpectMessage(const LoadError& e, const std::vector<std::string>& parts) {
  EXPECT_NE(e.code, 0);
  for (const std::string& part : parts) {
    EXPECT_NE(e.message.find(part), std::string::npos) << "missing '" << part << "' in: " << e.message;
  }
}

TEST(PluginTest, MissingFile) {
  const std::string path = kPluginDir + "/libno_such_plugin.so";
  const LoadError e = LoadWithPlugin(path);
  EXPECT_EQ(e.code, TSR_ERR_NOT_FOUND);
  ExpectMessage(e, {"plugin '" + path + "': cannot open: No such file"});
}

TEST(PluginTest, NotASharedLibrary) {
  ExpectMessage(LoadWithPlugin(kFfnModelPath), {"plugin '" + kFfnModelPath + "': not a loadable shared library"});
}

TEST(PluginTest, NoEntrySymbol) {
  const std::string path = kPluginDir + "/libtsr_no_entry_plugin.so";
  ExpectMessage(LoadWithPlugin(path), {"plugin '" + path + "': not a Tessera plugin", "'TsrPluginInit'"});
}

TEST(PluginTest, UnknownAbiMajorNamesBothVersions) {
  const LoadError e = LoadWithPlugin(BadPlugin("abi_major"));
  EXPECT_EQ(e.code, TSR_ERR_UNIMPLEMENTED);
  ExpectMessage(e, {"plugin '" + BadPlugin("abi_major") + "' uses plugin ABI 99.0", "supports ABI 1.x"});
}

TEST(PluginTest, TooSmallStruct) {
  ExpectMessage(LoadWithPlugin(BadPlugin("small_struct")), {"TsrPluginApi.struct_size is 16"});
}

TEST(PluginTest, FailingInit) {
  ExpectMessage(LoadWithPlugin(BadPlugin("init_error")),
                {"plugin '" + BadPlugin("init_error") + "': TsrPluginInit failed", "cannot initialise (deliberate)"});
}

TEST(PluginTest, OpWithoutRunCallback) {
  ExpectMessage(LoadWithPlugin(BadPlugin("no_run")), {"op bad.NoRun", "run are required"});
}

TEST(PluginTest, ClashWithAnotherPluginNamesBothOwners) {
  const LoadError e = ErrorOf([] { Model::Load(kFfnModelPath, WithPlugins({kTestPlugin, BadPlugin("clash_plugin")})); });
  ExpectMessage(e, {"op test.Scale v1+ from 'plugin bad-plugin (" + BadPlugin("clash_plugin") + ")'",
                    "already registered by 'plugin tessera-test (" + kTestPlugin + ")'"});
}

TEST(PluginTest, ClashWithBuiltinNamesBothOwners) {
  ExpectMessage(LoadWithPlugin(BadPlugin("clash_builtin")),
                {"op Relu v1+ from 'plugin bad-plugin (" + BadPlugin("clash_builtin") + ")'", "by 'builtin'"});
}

TEST(PluginTest, HostStaysUsableAfterRefusals) {
  for (const std::string& bad : {BadPlugin("abi_major"), BadPlugin("init_error"), kFfnModelPath}) {
    EXPECT_NE(LoadWithPlugin(bad).code, 0);
  }
  EXPECT_EQ(Model::Load(kFfnModelPath, WithPlugins({kExamplePlugin})).Nodes().size(), 5u);
}

}  // namespace
