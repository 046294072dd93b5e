// The graph optimizations (graph/passes/optimize.h). For each pass, a graph
// where it must fire and one where it must not; in both, the model loaded
// with and without optimizations gives the same outputs on random inputs
// (to float rounding: fusions reorder no sums, but e.g. LayerNormalization
// computes its statistics in one kernel instead of five ops).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "graph/loader.h"
#include "graph/passes/optimize.h"
#include "runtime/core/registry.h"
#include "runtime/session.h"
#include "tessera/model_builder.h"
#include "tests/testing/op_test_util.h"

namespace tessera::runtime {
namespace {

using Attr = ModelBuilder::Attr;
using testing::RandomF32;
using Dim = ModelBuilder::Dim;
constexpr int32_t kF32 = TSR_DTYPE_FLOAT32;

std::vector<float> Values(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  OwnedTensor t = RandomF32({static_cast<int64_t>(n)}, seed, lo, hi);
  return std::vector<float>(t.view.data_as<float>(), t.view.data_as<float>() + n);
}

std::shared_ptr<const Model> Load(const ModelBuilder& b, bool optimize) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  ModelOptions options;
  options.optimize = optimize;
  auto model = Model::LoadFromBuffer(bytes.data(), bytes.size(), options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

// "Gemm", "tessera.FusedMatMul", ... in execution order.
std::vector<std::string> Ops(const Model& model) {
  std::vector<std::string> ops;
  for (const graph::Node& n : model.graph().nodes) ops.push_back((n.domain.empty() ? "" : n.domain + ".") + n.op_type);
  return ops;
}

int Count(const std::vector<std::string>& ops, const std::string& op) {
  int n = 0;
  for (const std::string& o : ops) n += o == op;
  return n;
}

int Rewrites(const Model& model, const std::string& pass) {
  for (const graph::PassRecord& r : model.optimize_report().passes) {
    if (r.pass == pass) return r.rewrites;
  }
  return 0;
}

std::string Describe(const Model& model) {
  std::string s;
  for (const std::string& op : Ops(model)) s += op + " ";
  return s;
}

// Runs both models on the same inputs (f32 random, shapes by input name)
// and compares every output: |a - b| <= tol * max(1, |b|).
void ExpectSameOutputs(const Model& plain, const Model& optimized, const std::map<std::string, Shape>& shapes,
                       double tol = 1e-5, uint32_t seed = 7) {
  std::vector<OwnedTensor> storage;
  std::vector<std::pair<std::string, const Tensor*>> inputs;
  storage.reserve(shapes.size());
  for (const auto& [name, shape] : shapes) {
    storage.push_back(RandomF32(shape, seed++));
    inputs.emplace_back(name, &storage.back().view);
  }
  std::vector<std::string> names;
  for (int v : plain.graph().outputs) names.push_back(plain.graph().values[static_cast<size_t>(v)].name);
  std::vector<OwnedTensor> want, got;
  for (const Model* m : {&plain, &optimized}) {
    auto shared = std::shared_ptr<const Model>(std::shared_ptr<const Model>(), m);
    Session session(shared, SessionOptions{});
    Status s = session.Run(inputs, names, m == &plain ? &want : &got);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  ASSERT_EQ(want.size(), got.size());
  for (size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ(want[o].view.shape, got[o].view.shape) << names[o];
    const float* a = got[o].view.data_as<float>();
    const float* b = want[o].view.data_as<float>();
    for (int64_t i = 0; i < want[o].view.NumElements(); ++i) {
      ASSERT_NEAR(a[i], b[i], tol * std::max(1.0, std::fabs(static_cast<double>(b[i]))))
          << names[o] << "[" << i << "]";
    }
  }
}

struct Pair {
  std::shared_ptr<const Model> plain, optimized;
};

Pair LoadBoth(const ModelBuilder& b) { return {Load(b, false), Load(b, true)}; }

// ---------------------------------------------------------------------------
// Constant folding and dead nodes.

TEST(OptimizeTest, FoldsConstantSubgraphsAndShapeChainsOfStaticShapes) {
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {2, 3, 4});
  // W^T computed in the graph from a stored [6, 4]: Transpose folds.
  const int w = b.AddConstant<float>("w", {6, 4}, Values(24, 1));
  const int wt = b.AddNode("Transpose", {w}, {"wt"}, {Attr::Ints("perm", {1, 0})}, "wt")[0];
  const int two = b.AddConstant<float>("two", {1}, {2.0f});
  const int w2 = b.AddNode("Mul", {wt, two}, {"w2"}, {}, "w2")[0];
  // Reshape target from Shape(x): [2, 12], static, so Shape/Gather/Concat fold.
  const int zero = b.AddConstant<int64_t>("zero", {1}, {0});
  const int rest = b.AddConstant<int64_t>("rest", {1}, {12});
  const int shape = b.AddNode("Shape", {x}, {"shape"}, {}, "shape")[0];
  const int batch = b.AddNode("Gather", {shape, zero}, {"batch"}, {Attr::Int("axis", 0)}, "gather")[0];
  const int target = b.AddNode("Concat", {batch, rest}, {"target"}, {Attr::Int("axis", 0)}, "concat")[0];
  const int flat = b.AddNode("Reshape", {x, target}, {"flat"}, {}, "flatten")[0];
  const int y = b.AddNode("MatMul", {x, w2}, {"y"}, {}, "mm")[0];
  b.AddOutput(y);
  b.AddOutput(flat);
  const Pair m = LoadBoth(b);
  ASSERT_TRUE(m.plain && m.optimized);
  const std::vector<std::string> ops = Ops(*m.optimized);
  EXPECT_EQ(Rewrites(*m.optimized, "constant_folding"), 5) << Describe(*m.optimized);
  EXPECT_EQ(ops, (std::vector<std::string>{"Reshape", "MatMul"})) << Describe(*m.optimized);
  EXPECT_EQ(m.optimized->optimize_report().nodes_before, 7);
  EXPECT_EQ(m.optimized->optimize_report().nodes_after, 2);
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {2, 3, 4}}});
}

TEST(OptimizeTest, KeepsNodesOfDynamicShapesAndTensorData) {
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {"batch", 3, 4});
  const int zero = b.AddConstant<int64_t>("zero", {1}, {0});
  const int rest = b.AddConstant<int64_t>("rest", {1}, {12});
  const int shape = b.AddNode("Shape", {x}, {"shape"}, {}, "shape")[0];
  const int batch = b.AddNode("Gather", {shape, zero}, {"batch"}, {Attr::Int("axis", 0)}, "gather")[0];
  const int target = b.AddNode("Concat", {batch, rest}, {"target"}, {Attr::Int("axis", 0)}, "concat")[0];
  const int flat = b.AddNode("Reshape", {x, target}, {"flat"}, {}, "flatten")[0];
  const int y = b.AddNode("Relu", {flat}, {"y"}, {}, "relu")[0];
  b.AddOutput(y);
  const Pair m = LoadBoth(b);
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Ops(*m.optimized), Ops(*m.plain));
  EXPECT_TRUE(m.optimized->optimize_report().passes.empty());
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {5, 3, 4}}});
}

TEST(OptimizeTest, RemovesNodesNoOutputNeeds) {
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {"batch", 4});
  const int unused = b.AddNode("Tanh", {x}, {"unused"}, {}, "unused_tanh")[0];
  b.AddNode("Exp", {unused}, {"unused2"}, {}, "unused_exp");
  const int y = b.AddNode("Sigmoid", {x}, {"y"}, {}, "sigmoid")[0];
  b.AddOutput(y);
  const Pair m = LoadBoth(b);
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Ops(*m.optimized), (std::vector<std::string>{"Sigmoid"}));
  EXPECT_EQ(Rewrites(*m.optimized, "dead_node_elimination"), 2);
  // The values only they used are gone too.
  EXPECT_EQ(m.optimized->graph().FindValue("unused"), -1);
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {3, 4}}});

  // Every node needed: nothing to remove.
  ModelBuilder c;
  const int cx = c.AddInput("x", kF32, {"batch", 4});
  const int t = c.AddNode("Tanh", {cx}, {"t"}, {}, "tanh")[0];
  c.AddOutput(c.AddNode("Exp", {t}, {"y"}, {}, "exp")[0]);
  c.AddOutput(t);
  const Pair k = LoadBoth(c);
  EXPECT_EQ(Ops(*k.optimized), (std::vector<std::string>{"Tanh", "Exp"}));
  EXPECT_TRUE(k.optimized->optimize_report().passes.empty());
}

TEST(OptimizeTest, OffLoadsTheGraphAsStored) {
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {"batch", 4});
  const int w = b.AddConstant<float>("w", {4, 3}, Values(12, 2));
  const int y = b.AddNode("MatMul", {x, w}, {"y"}, {}, "mm")[0];
  b.AddOutput(b.AddNode("Relu", {y}, {"z"}, {}, "relu")[0]);
  const Pair m = LoadBoth(b);
  EXPECT_EQ(Ops(*m.plain), (std::vector<std::string>{"MatMul", "Relu"}));
  EXPECT_TRUE(m.plain->optimize_report().passes.empty());
  EXPECT_EQ(Ops(*m.optimized), (std::vector<std::string>{"tessera.FusedMatMul"}));
}

// ---------------------------------------------------------------------------
// GEMM epilogues.

TEST(OptimizeTest, FusesMatMulBiasAndActivationIntoTheGemmEpilogue) {
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {"batch", "seq", 8});
  const int w1 = b.AddConstant<float>("w1", {8, 6}, Values(48, 3));
  const int b1 = b.AddConstant<float>("b1", {6}, Values(6, 4));
  const int h = b.AddNode("MatMul", {x, w1}, {"h"}, {}, "fc1/matmul")[0];
  const int hb = b.AddNode("Add", {b1, h}, {"hb"}, {}, "fc1/bias")[0];  // bias first: either order
  const int a = b.AddNode("Relu", {hb}, {"a"}, {}, "fc1/relu")[0];
  const int w2 = b.AddConstant<float>("w2", {6, 5}, Values(30, 5));
  const int b2 = b.AddConstant<float>("b2", {1, 1, 5}, Values(5, 6));  // [1, 1, N] broadcasts too
  const int g = b.AddNode("MatMul", {a, w2}, {"g"}, {}, "fc2/matmul")[0];
  const int gb = b.AddNode("Add", {g, b2}, {"gb"}, {}, "fc2/bias")[0];
  const int y = b.AddNode("Sigmoid", {gb}, {"y"}, {}, "fc2/sigmoid")[0];
  // A 2-D Gemm with Tanh.
  const int z = b.AddInput("z", kF32, {"batch", 8});
  const int wg = b.AddConstant<float>("wg", {7, 8}, Values(56, 7));
  const int cg = b.AddConstant<float>("cg", {7}, Values(7, 8));
  const int gm = b.AddNode("Gemm", {z, wg, cg}, {"gm"}, {Attr::Int("transB", 1), Attr::Float("alpha", 0.5f)},
                           "head/gemm")[0];
  const int t = b.AddNode("Tanh", {gm}, {"t"}, {}, "head/tanh")[0];
  b.AddOutput(y);
  b.AddOutput(t);
  const Pair m = LoadBoth(b);
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Ops(*m.optimized),
            (std::vector<std::string>{"tessera.FusedMatMul", "tessera.FusedMatMul", "tessera.FusedGemm"}))
      << Describe(*m.optimized);
  EXPECT_EQ(Rewrites(*m.optimized, "matmul_bias_fusion"), 2);
  EXPECT_EQ(Rewrites(*m.optimized, "activation_fusion"), 3);
  const graph::Node& first = m.optimized->graph().nodes[0];
  EXPECT_EQ(first.name, "fc1/matmul");
  EXPECT_EQ(first.attrs.GetString("activation"), "Relu");
  EXPECT_EQ(first.inputs.size(), 3u);
  EXPECT_EQ(m.optimized->graph().nodes[2].attrs.GetString("activation"), "Tanh");
  EXPECT_FLOAT_EQ(m.optimized->graph().nodes[2].attrs.GetFloat("alpha"), 0.5f);
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {2, 3, 8}}, {"z", {2, 8}}});
}

TEST(OptimizeTest, KeepsProductsWithPerRowAddsOrSecondReaders) {
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {4, 8});
  const int w = b.AddConstant<float>("w", {8, 6}, Values(48, 3));
  // Not a bias: one value per row and column ([4, 6]), and a computed one.
  const int full = b.AddConstant<float>("full", {4, 6}, Values(24, 4));
  const int h = b.AddNode("MatMul", {x, w}, {"h"}, {}, "mm1")[0];
  const int hb = b.AddNode("Add", {h, full}, {"hb"}, {}, "add_full")[0];
  const int h2 = b.AddNode("MatMul", {x, w}, {"h2"}, {}, "mm2")[0];
  const int hs = b.AddNode("Add", {h2, h2}, {"hs"}, {}, "add_self")[0];
  // The product is read twice: the Relu cannot take over the epilogue.
  const int h3 = b.AddNode("MatMul", {x, w}, {"h3"}, {}, "mm3")[0];
  const int r = b.AddNode("Relu", {h3}, {"r"}, {}, "relu")[0];
  const int s = b.AddNode("Add", {r, h3}, {"s"}, {}, "residual")[0];
  // The product is a graph output itself.
  const int h4 = b.AddNode("MatMul", {x, w}, {"h4"}, {}, "mm4")[0];
  const int t = b.AddNode("Tanh", {h4}, {"t"}, {}, "tanh")[0];
  for (int o : {hb, hs, s, h4, t}) b.AddOutput(o);
  const Pair m = LoadBoth(b);
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Ops(*m.optimized), Ops(*m.plain)) << Describe(*m.optimized);
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {4, 8}}});
}

// ---------------------------------------------------------------------------
// LayerNormalization.

// The decomposed LayerNorm torch.onnx writes before opset 17, over `axes`
// of x [batch, 5, 16]; square by Pow or Mul; with or without gamma/beta.
ModelBuilder DecomposedLayerNorm(std::vector<int64_t> axes, bool pow, bool affine, bool axes_as_input = false) {
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {"batch", 5, 16});
  std::vector<int> mean_in = {x};
  std::vector<Attr> attrs;
  int axes_value = -1;
  if (axes_as_input) {
    axes_value = b.AddConstant<int64_t>("axes", {static_cast<int64_t>(axes.size())}, axes);
  } else {
    attrs.push_back(Attr::Ints("axes", axes));
  }
  const int32_t version = axes_as_input ? 18 : 13;
  auto reduce = [&](int in, const std::string& out, const std::string& name) {
    std::vector<int> ins = {in};
    if (axes_as_input) ins.push_back(axes_value);
    return b.AddNode("ReduceMean", ins, {out}, attrs, name, "", version)[0];
  };
  const int mean = reduce(x, "mean", "ln/ReduceMean");
  const int d = b.AddNode("Sub", {x, mean}, {"d"}, {}, "ln/Sub")[0];
  int sq;
  if (pow) {
    const int two = b.AddConstant<float>("two", {}, {2.0f});
    sq = b.AddNode("Pow", {d, two}, {"sq"}, {}, "ln/Pow")[0];
  } else {
    sq = b.AddNode("Mul", {d, d}, {"sq"}, {}, "ln/Mul_sq")[0];
  }
  const int var = reduce(sq, "var", "ln/ReduceMean_1");
  const int eps = b.AddConstant<float>("eps", {}, {1e-5f});
  const int ve = b.AddNode("Add", {var, eps}, {"ve"}, {}, "ln/Add")[0];
  const int sd = b.AddNode("Sqrt", {ve}, {"sd"}, {}, "ln/Sqrt")[0];
  int y = b.AddNode("Div", {d, sd}, {"n"}, {}, "ln/Div")[0];
  if (affine) {
    const int gamma = b.AddConstant<float>("gamma", {16}, Values(16, 11, 0.5f, 1.5f));
    const int beta = b.AddConstant<float>("beta", {1, 16}, Values(16, 12));
    y = b.AddNode("Mul", {y, gamma}, {"scaled"}, {}, "ln/Mul")[0];
    y = b.AddNode("Add", {y, beta}, {"y"}, {}, "ln/Add_1")[0];
  }
  b.AddOutput(y);
  return b;
}

TEST(OptimizeTest, FusesDecomposedLayerNorm) {
  for (bool pow : {true, false}) {
    for (bool affine : {true, false}) {
      for (bool axes_as_input : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "pow " << pow << " affine " << affine << " axes input " << axes_as_input);
        const Pair m = LoadBoth(DecomposedLayerNorm({-1}, pow, affine, axes_as_input));
        ASSERT_TRUE(m.plain && m.optimized);
        ASSERT_EQ(Ops(*m.optimized), (std::vector<std::string>{"LayerNormalization"})) << Describe(*m.optimized);
        const graph::Node& ln = m.optimized->graph().nodes[0];
        EXPECT_EQ(ln.name, "ln/LayerNormalization");
        EXPECT_EQ(ln.attrs.GetInt("axis"), 2);
        EXPECT_FLOAT_EQ(ln.attrs.GetFloat("epsilon"), 1e-5f);
        EXPECT_EQ(Rewrites(*m.optimized, "layer_norm_fusion"), 1);
        ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {3, 5, 16}}}, 1e-5);
      }
    }
  }
  // Over the last two axes too.
  const Pair two = LoadBoth(DecomposedLayerNorm({1, 2}, true, false));
  ASSERT_EQ(Ops(*two.optimized), (std::vector<std::string>{"LayerNormalization"}));
  EXPECT_EQ(two.optimized->graph().nodes[0].attrs.GetInt("axis"), 1);
  ExpectSameOutputs(*two.plain, *two.optimized, {{"x", {2, 5, 16}}}, 1e-5);
}

TEST(OptimizeTest, KeepsNormalizationsThatAreNotLayerNorm) {
  // Over axis 1 only: not trailing.
  const Pair middle = LoadBoth(DecomposedLayerNorm({1}, true, true));
  ASSERT_TRUE(middle.plain && middle.optimized);
  EXPECT_EQ(Count(Ops(*middle.optimized), "LayerNormalization"), 0) << Describe(*middle.optimized);
  ExpectSameOutputs(*middle.plain, *middle.optimized, {{"x", {2, 5, 16}}}, 1e-5);

  // The variance over other axes than the mean.
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {2, 5, 16});
  const int mean = b.AddNode("ReduceMean", {x}, {"mean"}, {Attr::Ints("axes", {-1})}, "mean", "", 13)[0];
  const int d = b.AddNode("Sub", {x, mean}, {"d"}, {}, "sub")[0];
  const int sq = b.AddNode("Mul", {d, d}, {"sq"}, {}, "sq")[0];
  const int var = b.AddNode("ReduceMean", {sq}, {"var"}, {Attr::Ints("axes", {1, 2})}, "var", "", 13)[0];
  const int eps = b.AddConstant<float>("eps", {}, {1e-5f});
  const int sd = b.AddNode("Sqrt", {b.AddNode("Add", {var, eps}, {"ve"}, {}, "add")[0]}, {"sd"}, {}, "sqrt")[0];
  b.AddOutput(b.AddNode("Div", {d, sd}, {"y"}, {}, "div")[0]);
  const Pair m = LoadBoth(b);
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Ops(*m.optimized), Ops(*m.plain));
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {2, 5, 16}}}, 1e-5);
}

// ---------------------------------------------------------------------------
// GELU.

// x [batch, 12] -> MatMul -> GELU (decomposed) -> y; `form` 0: exact with
// (x * s) * 0.5, 1: exact with (x * 0.5) * s and x * (1/sqrt 2), 2: tanh.
ModelBuilder DecomposedGelu(int form, float half = 0.5f) {
  ModelBuilder b;
  const int in = b.AddInput("in", kF32, {"batch", 12});
  const int w = b.AddConstant<float>("w", {12, 10}, Values(120, 21));
  const int x = b.AddNode("MatMul", {in, w}, {"x"}, {}, "mlp/MatMul")[0];
  const int one = b.AddConstant<float>("one", {}, {1.0f});
  const int h = b.AddConstant<float>("half", {}, {half});
  int s;
  if (form == 2) {
    const int three = b.AddConstant<float>("three", {}, {3.0f});
    const int k = b.AddConstant<float>("k", {}, {0.044715f});
    const int c = b.AddConstant<float>("c", {}, {0.7978845608f});
    const int cube = b.AddNode("Pow", {x, three}, {"cube"}, {}, "mlp/Pow")[0];
    const int kc = b.AddNode("Mul", {k, cube}, {"kc"}, {}, "mlp/Mul_k")[0];
    const int inner = b.AddNode("Add", {x, kc}, {"inner"}, {}, "mlp/Add_inner")[0];
    const int arg = b.AddNode("Mul", {inner, c}, {"arg"}, {}, "mlp/Mul_c")[0];
    const int t = b.AddNode("Tanh", {arg}, {"t"}, {}, "mlp/Tanh")[0];
    s = b.AddNode("Add", {t, one}, {"s"}, {}, "mlp/Add_one")[0];
  } else {
    int arg;
    if (form == 0) {
      const int sqrt2 = b.AddConstant<float>("sqrt2", {}, {1.4142135f});
      arg = b.AddNode("Div", {x, sqrt2}, {"arg"}, {}, "mlp/Div")[0];
    } else {
      const int inv = b.AddConstant<float>("inv_sqrt2", {}, {0.70710677f});
      arg = b.AddNode("Mul", {x, inv}, {"arg"}, {}, "mlp/Mul_arg")[0];
    }
    const int e = b.AddNode("Erf", {arg}, {"e"}, {}, "mlp/Erf")[0];
    s = b.AddNode("Add", {e, one}, {"s"}, {}, "mlp/Add")[0];
  }
  int y;
  if (form == 1) {
    const int xh = b.AddNode("Mul", {x, h}, {"xh"}, {}, "mlp/Mul_half")[0];
    y = b.AddNode("Mul", {xh, s}, {"y"}, {}, "mlp/Mul_out")[0];
  } else {
    const int xs = b.AddNode("Mul", {x, s}, {"xs"}, {}, "mlp/Mul_x")[0];
    y = b.AddNode("Mul", {xs, h}, {"y"}, {}, "mlp/Mul_out")[0];
  }
  b.AddOutput(y);
  return b;
}

TEST(OptimizeTest, FusesDecomposedGelu) {
  for (int form : {0, 1, 2}) {
    SCOPED_TRACE(form);
    const Pair m = LoadBoth(DecomposedGelu(form));
    ASSERT_TRUE(m.plain && m.optimized);
    ASSERT_EQ(Ops(*m.optimized), (std::vector<std::string>{"MatMul", "Gelu"})) << Describe(*m.optimized);
    const graph::Node& gelu = m.optimized->graph().nodes[1];
    EXPECT_EQ(gelu.attrs.GetString("approximate"), form == 2 ? "tanh" : "none");
    EXPECT_EQ(gelu.name, "mlp/Gelu");
    EXPECT_EQ(Rewrites(*m.optimized, "gelu_fusion"), 1);
    ExpectSameOutputs(*m.plain, *m.optimized, {{"in", {4, 12}}}, 2e-5);
  }
}

TEST(OptimizeTest, KeepsGeluLookalikes) {
  // 0.6 instead of 0.5: not GELU.
  const Pair m = LoadBoth(DecomposedGelu(0, 0.6f));
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Count(Ops(*m.optimized), "Gelu"), 0) << Describe(*m.optimized);
  EXPECT_EQ(Count(Ops(*m.optimized), "Erf"), 1);
  ExpectSameOutputs(*m.plain, *m.optimized, {{"in", {4, 12}}}, 1e-5);
}

// ---------------------------------------------------------------------------
// Attention.

// Multi-head self-attention as a PyTorch module writes it, x [batch, seq, 16]
// with 2 heads of 8. Head split/merge shapes computed from Shape(x) when
// `computed_shapes` (dynamic batch and seq), else constants [0, 0, 2, 8].
// `scale_by_div`: scores / sqrt(8), else * (1/sqrt(8)). With `mask`, an
// additive f32 mask input [seq, seq]. `probs_output` also returns the
// attention weights (then the softmax output has a second reader).
struct MhaOptions {
  bool computed_shapes = true;
  bool scale_by_div = true;
  bool mask = true;
  bool probs_output = false;
  bool k_two_transposes = false;
};

ModelBuilder Mha(const MhaOptions& o) {
  ModelBuilder b;
  constexpr int64_t kD = 16, kH = 2, kHd = 8;
  const int x = b.AddInput("x", kF32, {"batch", "seq", kD});
  int split_shape, merge_shape;
  if (o.computed_shapes) {
    const int shape = b.AddNode("Shape", {x}, {"x_shape"}, {}, "attn/Shape")[0];
    const int idx01 = b.AddConstant<int64_t>("idx01", {2}, {0, 1});
    const int bs = b.AddNode("Gather", {shape, idx01}, {"bs"}, {Attr::Int("axis", 0)}, "attn/Gather")[0];
    const int heads = b.AddConstant<int64_t>("heads", {2}, {kH, kHd});
    const int width = b.AddConstant<int64_t>("width", {1}, {kD});
    split_shape = b.AddNode("Concat", {bs, heads}, {"split_shape"}, {Attr::Int("axis", 0)}, "attn/Concat")[0];
    merge_shape = b.AddNode("Concat", {bs, width}, {"merge_shape"}, {Attr::Int("axis", 0)}, "attn/Concat_1")[0];
  } else {
    split_shape = b.AddConstant<int64_t>("split_shape", {4}, {0, 0, kH, kHd});
    merge_shape = b.AddConstant<int64_t>("merge_shape", {3}, {0, 0, kD});
  }
  auto project = [&](const char* name, uint32_t seed) {
    const int w = b.AddConstant<float>(std::string("W") + name, {kD, kD}, Values(kD * kD, seed, -0.5f, 0.5f));
    const int bias = b.AddConstant<float>(std::string("b") + name, {kD}, Values(kD, seed + 100));
    const int p = b.AddNode("MatMul", {x, w}, {std::string(name) + "_mm"}, {}, std::string("attn/") + name + "/MatMul")[0];
    const int pb = b.AddNode("Add", {p, bias}, {name}, {}, std::string("attn/") + name + "/Add")[0];
    return b.AddNode("Reshape", {pb, split_shape}, {std::string(name) + "4"}, {},
                     std::string("attn/") + name + "/Reshape")[0];
  };
  const int q4 = project("q", 31), k4 = project("k", 32), v4 = project("v", 33);
  const int qh = b.AddNode("Transpose", {q4}, {"qh"}, {Attr::Ints("perm", {0, 2, 1, 3})}, "attn/q/Transpose")[0];
  int kt;
  if (o.k_two_transposes) {
    const int kh = b.AddNode("Transpose", {k4}, {"kh"}, {Attr::Ints("perm", {0, 2, 1, 3})}, "attn/k/Transpose")[0];
    kt = b.AddNode("Transpose", {kh}, {"kt"}, {Attr::Ints("perm", {0, 1, 3, 2})}, "attn/k/Transpose_1")[0];
  } else {
    kt = b.AddNode("Transpose", {k4}, {"kt"}, {Attr::Ints("perm", {0, 2, 3, 1})}, "attn/k/Transpose")[0];
  }
  const int vh = b.AddNode("Transpose", {v4}, {"vh"}, {Attr::Ints("perm", {0, 2, 1, 3})}, "attn/v/Transpose")[0];
  int s = b.AddNode("MatMul", {qh, kt}, {"scores"}, {}, "attn/MatMul")[0];
  if (o.scale_by_div) {
    const int c = b.AddConstant<float>("sqrt_hd", {}, {std::sqrt(8.0f)});
    s = b.AddNode("Div", {s, c}, {"scaled"}, {}, "attn/Div")[0];
  } else {
    const int c = b.AddConstant<float>("inv_sqrt_hd", {}, {1.0f / std::sqrt(8.0f)});
    s = b.AddNode("Mul", {c, s}, {"scaled"}, {}, "attn/Mul")[0];
  }
  if (o.mask) {
    const int mask = b.AddInput("mask", kF32, {"seq", "seq"});
    s = b.AddNode("Add", {s, mask}, {"masked"}, {}, "attn/Add")[0];
  }
  const int p = b.AddNode("Softmax", {s}, {"probs"}, {Attr::Int("axis", -1)}, "attn/Softmax")[0];
  const int o4 = b.AddNode("MatMul", {p, vh}, {"o4"}, {}, "attn/MatMul_1")[0];
  const int ot = b.AddNode("Transpose", {o4}, {"ot"}, {Attr::Ints("perm", {0, 2, 1, 3})}, "attn/Transpose")[0];
  const int y = b.AddNode("Reshape", {ot, merge_shape}, {"y"}, {}, "attn/Reshape")[0];
  b.AddOutput(y);
  if (o.probs_output) b.AddOutput(p);
  return b;
}

TEST(OptimizeTest, FusesMultiHeadAttention) {
  for (int variant = 0; variant < 4; ++variant) {
    MhaOptions o;
    o.computed_shapes = variant != 1;
    o.scale_by_div = variant != 2;
    o.mask = variant != 3;
    o.k_two_transposes = variant == 2;
    SCOPED_TRACE(variant);
    const Pair m = LoadBoth(Mha(o));
    ASSERT_TRUE(m.plain && m.optimized);
    const std::vector<std::string> ops = Ops(*m.optimized);
    EXPECT_EQ(ops, (std::vector<std::string>{"tessera.FusedMatMul", "tessera.FusedMatMul", "tessera.FusedMatMul",
                                             "tessera.Attention"}))
        << Describe(*m.optimized);
    EXPECT_EQ(Rewrites(*m.optimized, "attention_fusion"), 1);
    const graph::Node& attn = m.optimized->graph().nodes.back();
    EXPECT_EQ(attn.name, "attn/Attention");
    EXPECT_EQ(attn.attrs.GetInt("num_heads"), 2);
    EXPECT_NEAR(attn.attrs.GetFloat("scale"), 1.0 / std::sqrt(8.0), 1e-7);
    std::map<std::string, Shape> inputs = {{"x", {2, 5, 16}}};
    if (o.mask) inputs["mask"] = {5, 5};
    ExpectSameOutputs(*m.plain, *m.optimized, inputs, 2e-5);
    // Dynamic dims: another batch and sequence length.
    inputs["x"] = {3, 7, 16};
    if (o.mask) inputs["mask"] = {7, 7};
    ExpectSameOutputs(*m.plain, *m.optimized, inputs, 2e-5);
  }
}

TEST(OptimizeTest, KeepsAttentionWhoseWeightsAreAnOutput) {
  MhaOptions o;
  o.probs_output = true;
  const Pair m = LoadBoth(Mha(o));
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Count(Ops(*m.optimized), "tessera.Attention"), 0) << Describe(*m.optimized);
  EXPECT_EQ(Count(Ops(*m.optimized), "Softmax"), 1);
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {2, 5, 16}}, {"mask", {5, 5}}}, 2e-5);
}

TEST(OptimizeTest, KeepsReshapesThatDoNotSplitHeads) {
  // [batch, seq, 16] -> [seq, batch, 2, 8] is a reshape, not a head split
  // (dims 0 and 1 trade places); the probes tell them apart.
  ModelBuilder b;
  const int x = b.AddInput("x", kF32, {"batch", "seq", 16});
  const int shape = b.AddNode("Shape", {x}, {"x_shape"}, {}, "shape")[0];
  const int idx10 = b.AddConstant<int64_t>("idx10", {2}, {1, 0});
  const int sb = b.AddNode("Gather", {shape, idx10}, {"sb"}, {Attr::Int("axis", 0)}, "gather")[0];
  const int heads = b.AddConstant<int64_t>("heads", {2}, {2, 8});
  const int split = b.AddNode("Concat", {sb, heads}, {"split"}, {Attr::Int("axis", 0)}, "concat")[0];
  const int width = b.AddConstant<int64_t>("width", {1}, {16});
  const int merge = b.AddNode("Concat", {sb, width}, {"merge"}, {Attr::Int("axis", 0)}, "concat_1")[0];
  const int q4 = b.AddNode("Reshape", {x, split}, {"q4"}, {}, "q_split")[0];
  const int k4 = b.AddNode("Reshape", {x, split}, {"k4"}, {}, "k_split")[0];
  const int v4 = b.AddNode("Reshape", {x, split}, {"v4"}, {}, "v_split")[0];
  const int qh = b.AddNode("Transpose", {q4}, {"qh"}, {Attr::Ints("perm", {0, 2, 1, 3})}, "q_t")[0];
  const int kt = b.AddNode("Transpose", {k4}, {"kt"}, {Attr::Ints("perm", {0, 2, 3, 1})}, "k_t")[0];
  const int vh = b.AddNode("Transpose", {v4}, {"vh"}, {Attr::Ints("perm", {0, 2, 1, 3})}, "v_t")[0];
  const int s = b.AddNode("MatMul", {qh, kt}, {"s"}, {}, "qk")[0];
  const int p = b.AddNode("Softmax", {s}, {"p"}, {Attr::Int("axis", -1)}, "softmax")[0];
  const int o4 = b.AddNode("MatMul", {p, vh}, {"o4"}, {}, "pv")[0];
  const int ot = b.AddNode("Transpose", {o4}, {"ot"}, {Attr::Ints("perm", {0, 2, 1, 3})}, "o_t")[0];
  b.AddOutput(b.AddNode("Reshape", {ot, merge}, {"y"}, {}, "merge")[0]);
  const Pair m = LoadBoth(b);
  ASSERT_TRUE(m.plain && m.optimized);
  EXPECT_EQ(Count(Ops(*m.optimized), "tessera.Attention"), 0) << Describe(*m.optimized);
  ExpectSameOutputs(*m.plain, *m.optimized, {{"x", {2, 3, 16}}}, 2e-5);
}

// ---------------------------------------------------------------------------
// The bundled models: same outputs optimized or not.

// Random inputs for every graph input of `model`, dynamic dims set to 3
// (4 for "past" caches): f32 in [-1, 1], integers in [0, 9] (valid token,
// position and length values for every bundled model).
std::vector<OwnedTensor> RandomInputs(const Model& model, uint32_t seed) {
  std::vector<OwnedTensor> inputs;
  for (int index : model.graph().inputs) {
    const graph::Value& v = model.graph().values[static_cast<size_t>(index)];
    Shape shape = v.info.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0) shape[d] = v.dim_names[d] == "past" ? 4 : 3;
    }
    if (v.info.dtype == DType::kF32) {
      inputs.push_back(RandomF32(shape, seed++));
      continue;
    }
    StatusOr<OwnedTensor> t = OwnedTensor::Allocate(v.info.dtype, shape);
    EXPECT_TRUE(t.ok());
    OwnedTensor tensor = std::move(t).value();
    for (int64_t i = 0; i < tensor.view.NumElements(); ++i) {
      const int64_t value = static_cast<int64_t>((i * 7 + seed) % 10);
      if (v.info.dtype == DType::kI64) tensor.view.data_as<int64_t>()[i] = value;
      if (v.info.dtype == DType::kI32) tensor.view.data_as<int32_t>()[i] = static_cast<int32_t>(value);
    }
    inputs.push_back(std::move(tensor));
  }
  return inputs;
}

TEST(OptimizeTest, BundledModelsGiveTheSameOutputs) {
  for (const char* name : {"gated_mlp", "lstm_classifier", "seq2seq_attention", "gpt_tiny"}) {
    SCOPED_TRACE(name);
    const std::string path = std::string(TESSERA_SOURCE_DIR) + "/models/" + name + ".tess";
    std::shared_ptr<const Model> models[2];
    for (int optimize = 0; optimize < 2; ++optimize) {
      ModelOptions options;
      options.optimize = optimize == 1;
      auto model = Model::LoadFromFile(path, options);
      ASSERT_TRUE(model.ok()) << model.status().ToString();
      models[optimize] = std::move(model).value();
    }
    const std::vector<OwnedTensor> storage = RandomInputs(*models[0], 3);
    std::vector<std::pair<std::string, const Tensor*>> inputs;
    for (size_t i = 0; i < storage.size(); ++i) {
      inputs.emplace_back(models[0]->graph().values[static_cast<size_t>(models[0]->graph().inputs[i])].name,
                          &storage[i].view);
    }
    std::vector<std::string> names;
    for (int v : models[0]->graph().outputs) names.push_back(models[0]->graph().values[static_cast<size_t>(v)].name);
    std::vector<OwnedTensor> results[2];
    for (int k = 0; k < 2; ++k) {
      Session session(models[k], SessionOptions{});
      Status s = session.Run(inputs, names, &results[k]);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    for (size_t o = 0; o < names.size(); ++o) {
      ASSERT_EQ(results[0][o].view.shape, results[1][o].view.shape);
      const float* want = results[0][o].view.data_as<float>();
      const float* got = results[1][o].view.data_as<float>();
      for (int64_t i = 0; i < results[0][o].view.NumElements(); ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-5 * std::max(1.0, std::fabs(static_cast<double>(want[i]))))
            << names[o] << "[" << i << "]";
      }
    }
    std::string passes;
    for (const graph::PassRecord& r : models[1]->optimize_report().passes) {
      passes += r.pass + " x" + std::to_string(r.rewrites) + " ";
    }
    std::printf("%s: %zu -> %zu nodes: %s\n", name, models[0]->graph().nodes.size(),
                models[1]->graph().nodes.size(), passes.c_str());
  }
}

// The 2-layer GPT decoder exported by tools/export_pytorch_models.py
// (opset 17: LayerNormalization native, GELU and attention decomposed, the
// head shapes computed from Shape): both attention blocks and both GELUs
// fuse. tests/graph/onnx/pytorch_models_test.cc checks its outputs against
// PyTorch with the optimizations on.
TEST(OptimizeTest, PyTorchGptExportFusesAttentionAndGelu) {
  const std::string path = std::string(TESSERA_SOURCE_DIR) + "/tests/graph/onnx/pytorch/gpt_tiny/model.onnx";
  auto model = Model::LoadFromOnnxFile(path, ModelOptions());
  if (!model.ok() && model.status().code() == StatusCode::kUnimplemented) {
    GTEST_SKIP() << "built without the ONNX importer: " << model.status().ToString();
  }
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const Model& m = *model.value();
  const std::vector<std::string> ops = Ops(m);
  EXPECT_EQ(Rewrites(m, "attention_fusion"), 2) << Describe(m);
  EXPECT_EQ(Rewrites(m, "gelu_fusion"), 2);
  EXPECT_EQ(Count(ops, "tessera.Attention"), 2);
  EXPECT_EQ(Count(ops, "Softmax"), 0);
  EXPECT_EQ(Count(ops, "Erf"), 0);
  EXPECT_EQ(Count(ops, "MatMul"), 0);  // every projection took its bias
  EXPECT_EQ(m.optimize_report().nodes_before, 144);
  EXPECT_EQ(m.optimize_report().nodes_after, 44);
}

// ---------------------------------------------------------------------------
// The entry point on its own.

TEST(OptimizeTest, ReportsPassesInOrderWithNodeCounts) {
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(DecomposedGelu(0).Finish(&bytes, &error)) << error;
  graph::LoadOptions load;
  auto g = graph::LoadGraphFromBuffer(bytes.data(), bytes.size(), load);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  graph::OptimizeReport report;
  ASSERT_TRUE(graph::OptimizeGraph(*g.value(), BuiltinOpRegistry(), &report).ok());
  EXPECT_EQ(report.nodes_before, 6);
  EXPECT_EQ(report.nodes_after, 2);
  ASSERT_EQ(report.passes.size(), 1u);
  EXPECT_EQ(report.passes[0].pass, "gelu_fusion");
  EXPECT_EQ(report.passes[0].rewrites, 1);
  EXPECT_EQ(report.passes[0].nodes_before, 6);
  EXPECT_EQ(report.passes[0].nodes_after, 2);
  // A second run finds nothing left to do.
  graph::OptimizeReport again;
  ASSERT_TRUE(graph::OptimizeGraph(*g.value(), BuiltinOpRegistry(), &again).ok());
  EXPECT_TRUE(again.passes.empty());
  EXPECT_EQ(again.nodes_before, 2);
}

}  // namespace
}  // namespace tessera::runtime
