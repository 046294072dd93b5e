// Tests of ONNX RNN, GRU and LSTM (v7-13 and v14+) through testing::RunOp,
// against the double-precision reference in tests/reference/rnn_reference.h,
// on every Highway target, at 1 and 2 threads (bitwise equal).
//
// Tolerance. Each pre-activation is a float sum of I + H + 2 products of
// magnitude <= ~1, so its error is at most ~(I + H + 4) u max(1, |v|)
// (u = 2^-24); the activations add a few ulp and are 1-Lipschitz for the
// inputs used (alpha <= 1); the state carries the error to later steps,
// where weights of norm < 1 keep it from growing more than linearly. So
//   |y - y_ref| <= 16 u (I + H + 4) seq max(1, |y_ref|),
// which is tight enough to catch any wrong gate, bias, order or activation
// (those are off by 1e-2 or more).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "runtime/threading.h"
#include "tests/reference/rnn_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using testing::BitwiseEqual;
using testing::ForEachTarget;
using testing::FromVector;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;
using testing::ToFloatVector;

struct Case {
  std::string op = "LSTM";
  int32_t version = 14;
  int64_t seq = 5, batch = 3, input = 7, hidden = 9;
  std::string direction = "forward";
  int layout = 0;
  bool bias = false, seq_lens = false, initial_h = false, initial_c = false, peephole = false;
  bool clip = false;
  float clip_value = 0.75f;
  bool linear_before_reset = false, input_forget = false;
  std::vector<std::string> activations;
  std::vector<float> alphas, betas;
  bool constant_weights = true;
  bool hidden_size_attr = true;
  uint32_t seed = 1;

  int64_t gates() const { return op == "RNN" ? 1 : op == "GRU" ? 3 : 4; }
  int64_t dirs() const { return direction == "bidirectional" ? 2 : 1; }
  size_t outputs() const { return op == "LSTM" ? 3 : 2; }
};

std::string Describe(const Case& c) {
  std::ostringstream os;
  os << c.op << " v" << c.version << " " << c.direction << " layout " << c.layout << " seq " << c.seq << " batch "
     << c.batch << " I " << c.input << " H " << c.hidden << (c.bias ? " B" : "") << (c.seq_lens ? " lens" : "")
     << (c.initial_h ? " h0" : "") << (c.initial_c ? " c0" : "") << (c.peephole ? " P" : "")
     << (c.clip ? " clip" : "") << (c.linear_before_reset ? " lbr" : "") << (c.input_forget ? " input_forget" : "")
     << (c.constant_weights ? "" : " runtime-weights") << " seed " << c.seed;
  for (const std::string& a : c.activations) os << " " << a;
  return os.str();
}

// The tensors of one case, and the invocation that uses them.
struct CaseData {
  OwnedTensor x, w, r, b, lens, h0, c0, p;
  std::vector<float> xv, wv, rv, bv, h0v, c0v, pv;
  std::vector<int32_t> lensv;
  OpInvocation inv;
};

Shape StateShape(const Case& c) {
  return c.layout == 0 ? Shape{c.dirs(), c.batch, c.hidden} : Shape{c.batch, c.dirs(), c.hidden};
}

void MakeData(const Case& c, CaseData& data) {
  const int64_t g = c.gates(), nd = c.dirs(), n = c.hidden;
  // Weights ~ U(-1/sqrt(I + H), +) keep the recurrences contractive.
  const float ws = 1.0f / std::sqrt(static_cast<float>(c.input + n));
  uint32_t seed = c.seed * 16;
  data.x = RandomF32(c.layout == 0 ? Shape{c.seq, c.batch, c.input} : Shape{c.batch, c.seq, c.input}, seed++);
  data.w = RandomF32({nd, g * n, c.input}, seed++, -ws, ws);
  data.r = RandomF32({nd, g * n, n}, seed++, -ws, ws);
  data.b = RandomF32({nd, 2 * g * n}, seed++, -0.5f, 0.5f);
  data.h0 = RandomF32(StateShape(c), seed++);
  data.c0 = RandomF32(StateShape(c), seed++);
  data.p = RandomF32({nd, 3 * n}, seed++, -0.5f, 0.5f);
  data.lensv.resize(static_cast<size_t>(c.batch));
  // Mixed lengths: the full length, 2, 4, ... wrapping through 0 to seq.
  for (int64_t b = 0; b < c.batch; ++b) data.lensv[b] = static_cast<int32_t>((c.seq + 2 * b) % (c.seq + 1));
  data.lens = FromVector<int32_t>({c.batch}, data.lensv);
  data.xv = ToFloatVector(data.x.view);
  data.wv = ToFloatVector(data.w.view);
  data.rv = ToFloatVector(data.r.view);
  data.bv = ToFloatVector(data.b.view);
  data.h0v = ToFloatVector(data.h0.view);
  data.c0v = ToFloatVector(data.c0.view);
  data.pv = ToFloatVector(data.p.view);

  OpInvocation& inv = data.inv;
  inv.op_type = c.op;
  inv.version = c.version;
  inv.inputs = {&data.x.view, &data.w.view, &data.r.view, c.bias ? &data.b.view : nullptr,
                c.seq_lens ? &data.lens.view : nullptr, c.initial_h ? &data.h0.view : nullptr};
  if (c.op == "LSTM") {
    inv.inputs.push_back(c.initial_c ? &data.c0.view : nullptr);
    inv.inputs.push_back(c.peephole ? &data.p.view : nullptr);
  }
  inv.constant = {false, c.constant_weights, c.constant_weights, true, true, false, false, true};
  inv.num_outputs = c.outputs();
  if (c.hidden_size_attr) inv.attrs.Set("hidden_size", Attribute::Int(n));
  inv.attrs.Set("direction", Attribute::String(c.direction));
  if (c.version >= 14) inv.attrs.Set("layout", Attribute::Int(c.layout));
  if (c.clip) inv.attrs.Set("clip", Attribute::Float(c.clip_value));
  if (c.op == "GRU") inv.attrs.Set("linear_before_reset", Attribute::Int(c.linear_before_reset ? 1 : 0));
  if (c.op == "LSTM") inv.attrs.Set("input_forget", Attribute::Int(c.input_forget ? 1 : 0));
  if (!c.activations.empty()) inv.attrs.Set("activations", Attribute::Strings(c.activations));
  if (!c.alphas.empty()) inv.attrs.Set("activation_alpha", Attribute::Floats(c.alphas));
  if (!c.betas.empty()) inv.attrs.Set("activation_beta", Attribute::Floats(c.betas));
}

reference::RefRnnResult Reference(const Case& c, const CaseData& data) {
  reference::RefRnnSpec s;
  s.op = c.op;
  s.seq = c.seq;
  s.batch = c.batch;
  s.input = c.input;
  s.hidden = c.hidden;
  s.direction = c.direction;
  s.layout = c.layout;
  s.has_clip = c.clip;
  s.clip = c.clip_value;
  s.activations = c.activations;
  s.alphas = c.alphas;
  s.betas = c.betas;
  s.linear_before_reset = c.linear_before_reset;
  s.input_forget = c.input_forget;
  s.x = &data.xv;
  s.w = &data.wv;
  s.r = &data.rv;
  s.b = c.bias ? &data.bv : nullptr;
  s.seq_lens = c.seq_lens ? &data.lensv : nullptr;
  s.initial_h = c.initial_h ? &data.h0v : nullptr;
  s.initial_c = c.op == "LSTM" && c.initial_c ? &data.c0v : nullptr;
  s.p = c.op == "LSTM" && c.peephole ? &data.pv : nullptr;
  return reference::RefRecurrent(s);
}

void ExpectClose(const Tensor& got, const std::vector<double>& want, const Case& c, const std::string& where) {
  ASSERT_EQ(static_cast<size_t>(got.NumElements()), want.size()) << where;
  const double u = std::ldexp(1.0, -24);
  const double scale = 16 * u * static_cast<double>(c.input + c.hidden + 4) * static_cast<double>(c.seq + 1);
  const float* g = got.data_as<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = scale * std::max(1.0, std::fabs(want[i]));
    ASSERT_TRUE(std::isfinite(g[i])) << where << ", index " << i;
    ASSERT_NEAR(g[i], want[i], tol) << where << ", index " << i;
  }
}

// Runs the case at 1 and 2 threads, checks bitwise equality and every
// output against the reference.
void CheckCase(const Case& c, const char* target) {
  CaseData data;
  MakeData(c, data);
  const reference::RefRnnResult want = Reference(c, data);
  const std::string where = Describe(c) + ", target " + target;
  std::vector<std::vector<OwnedTensor>> results;
  for (int threads : {1, 2}) {
    data.inv.threads = threads;
    auto out = RunOp(data.inv);
    ASSERT_TRUE(out.ok()) << where << ": " << out.status().ToString();
    results.push_back(std::move(out).value());
  }
  const std::vector<double>* wants[] = {&want.y, &want.y_h, &want.y_c};
  const char* names[] = {"Y", "Y_h", "Y_c"};
  for (size_t o = 0; o < c.outputs(); ++o) {
    ExpectClose(results[0][o].view, *wants[o], c, where + ", output " + names[o]);
    EXPECT_TRUE(BitwiseEqual(results[0][o].view, results[1][o].view))
        << where << ", output " << names[o] << ": 2 threads differ from 1";
  }
}

// Every direction x layout x sequence_lens x optional inputs x clip x the
// op's own switch (GRU linear_before_reset, LSTM input_forget), at odd sizes.
void EveryCombination(const std::string& op, const char* target) {
  uint32_t seed = 1;
  for (const char* direction : {"forward", "reverse", "bidirectional"}) {
    for (int layout : {0, 1}) {
      for (bool lens : {false, true}) {
        for (bool optional : {false, true}) {
          for (bool clip : {false, true}) {
            for (bool flag : {false, true}) {
              if (op == "RNN" && flag) continue;
              Case c;
              c.op = op;
              c.direction = direction;
              c.layout = layout;
              c.seq_lens = lens;
              c.bias = c.initial_h = c.initial_c = c.peephole = optional;
              c.clip = clip;
              c.linear_before_reset = op == "GRU" && flag;
              c.input_forget = op == "LSTM" && flag;
              c.seed = seed++;
              CheckCase(c, target);
            }
          }
        }
      }
    }
  }
}

TEST(RnnTest, EveryAttributeCombination) {
  ForEachTarget([](const char* target) { EveryCombination("RNN", target); });
}
TEST(GruTest, EveryAttributeCombination) {
  ForEachTarget([](const char* target) { EveryCombination("GRU", target); });
}
TEST(LstmTest, EveryAttributeCombination) {
  ForEachTarget([](const char* target) { EveryCombination("LSTM", target); });
}

// Hidden sizes around the vector widths and the 128-element epilogue block,
// odd input sizes, batch rows with mixed lengths.
TEST(RecurrentTest, OddSizesAndTails) {
  const int64_t hiddens[] = {1, 3, 8, 17, 33, 129, 200};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 500;
    for (const char* op : {"RNN", "GRU", "LSTM"}) {
      for (int64_t h : hiddens) {
        Case c;
        c.op = op;
        c.hidden = h;
        c.input = 2 * (h % 7) + 3;
        c.batch = 4;
        c.seq = 6;
        c.direction = "bidirectional";
        c.bias = c.initial_h = c.initial_c = c.peephole = c.seq_lens = true;
        c.seed = seed++;
        CheckCase(c, target);
      }
    }
  });
}

// Each activation the spec lists, in every slot and direction, with and
// without explicit alpha/beta.
TEST(RecurrentTest, EveryActivationPerDirection) {
  const std::vector<std::string> all = {"Relu",       "Tanh",        "Sigmoid", "Affine",   "LeakyRelu", "ThresholdedRelu",
                                        "ScaledTanh", "HardSigmoid", "Elu",     "Softsign", "Softplus"};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 900;
    for (const char* op : {"RNN", "GRU", "LSTM"}) {
      const size_t per_dir = std::string(op) == "RNN" ? 1 : std::string(op) == "GRU" ? 2 : 3;
      for (size_t first = 0; first < all.size(); ++first) {
        for (bool with_params : {false, true}) {
          Case c;
          c.op = op;
          c.direction = "bidirectional";
          c.bias = c.initial_h = true;
          c.seed = seed++;
          // Slot k of direction d takes activation (first + 3d + k) mod 11.
          for (size_t d = 0; d < 2; ++d) {
            for (size_t k = 0; k < per_dir; ++k) c.activations.push_back(all[(first + 3 * d + k) % all.size()]);
          }
          if (with_params) {
            // More values than needed are rejected, so give exactly as many
            // as the list consumes.
            for (const std::string& a : c.activations) {
              if (a == "Affine" || a == "LeakyRelu" || a == "ThresholdedRelu" || a == "ScaledTanh" ||
                  a == "HardSigmoid" || a == "Elu") {
                c.alphas.push_back(0.3f + 0.1f * static_cast<float>(c.alphas.size()));
              }
              if (a == "Affine" || a == "ScaledTanh" || a == "HardSigmoid") {
                c.betas.push_back(0.4f - 0.05f * static_cast<float>(c.betas.size()));
              }
            }
          }
          CheckCase(c, target);
        }
      }
    }
  });
}

TEST(RecurrentTest, Version7To13WithoutLayoutAndRuntimeWeights) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 1200;
    for (const char* op : {"RNN", "GRU", "LSTM"}) {
      for (bool constant : {true, false}) {
        Case c;
        c.op = op;
        c.version = 7;
        c.direction = "bidirectional";
        c.bias = c.seq_lens = c.initial_h = true;
        c.constant_weights = constant;
        c.hidden_size_attr = !constant;  // hidden_size is optional: R carries it
        c.seed = seed++;
        CheckCase(c, target);
      }
    }
  });
}

// Large enough that the projection, the recurrent GEMMs and the epilogue
// all split over threads.
TEST(RecurrentTest, LargeCasesBitwiseThreadInvariant) {
  for (const char* op : {"RNN", "GRU", "LSTM"}) {
    Case c;
    c.op = op;
    c.seq = 7;
    c.batch = 9;
    c.input = 150;
    c.hidden = 300;
    c.direction = "bidirectional";
    c.bias = c.seq_lens = c.initial_h = c.peephole = true;
    c.linear_before_reset = false;
    c.seed = 77;
    CheckCase(c, "default");
  }
}

// More than 24 batch rows split into row groups (units of their own); 31
// rows leave a 7-row group (one 6-row tile and a single row). The 24-row
// group is three 8-row tiles on targets with 32 vector registers, four
// 6-row ones with 16.
TEST(RecurrentTest, ManyBatchRowsSplitIntoRowGroups) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 1500;
    for (const char* op : {"RNN", "GRU", "LSTM"}) {
      Case c;
      c.op = op;
      c.seq = 4;
      c.batch = 31;
      c.input = 9;
      c.hidden = 70;
      c.direction = "bidirectional";
      c.layout = 1;
      c.bias = c.seq_lens = c.initial_h = c.initial_c = c.peephole = true;
      c.seed = seed++;
      CheckCase(c, target);
    }
  });
}

// Runs with only the outputs in `wanted` requested (others nullptr), the
// way the executor runs a node with unused outputs.
StatusOr<std::vector<OwnedTensor>> RunSubset(const OpInvocation& inv, const std::vector<bool>& wanted) {
  const OpDef* def = BuiltinOpRegistry().Find(inv.domain, inv.op_type, inv.version);
  if (def == nullptr) return Error(StatusCode::kNotFound, "no op");
  AttributeMap attrs = inv.attrs;
  TSR_RETURN_IF_ERROR(CheckAndFillAttributes(*def, attrs));
  std::vector<TensorInfo> infos(inv.inputs.size());
  OpContext ctx;
  ctx.attrs = &attrs;
  for (size_t i = 0; i < inv.inputs.size(); ++i) {
    if (inv.inputs[i] != nullptr) infos[i] = TensorInfo{inv.inputs[i]->dtype, inv.inputs[i]->shape, true};
    ctx.inputs.push_back(inv.inputs[i] != nullptr ? &infos[i] : nullptr);
    ctx.constants.push_back(nullptr);
  }
  ctx.outputs.resize(wanted.size());
  TSR_RETURN_IF_ERROR(def->infer_shapes(ctx));
  TSR_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, def->create_kernel(ctx));
  std::vector<OwnedTensor> outs;
  std::vector<Tensor*> ptrs;
  for (size_t o = 0; o < wanted.size(); ++o) {
    outs.push_back(testing::MakeTensor(ctx.outputs[o].dtype, ctx.outputs[o].shape));
    ptrs.push_back(wanted[o] ? &outs.back().view : nullptr);
  }
  for (size_t o = 0; o < wanted.size(); ++o) ptrs[o] = wanted[o] ? &outs[o].view : nullptr;
  TensorTable table(inv.inputs, ptrs);
  KernelContext kctx = table.Context(nullptr);
  TSR_RETURN_IF_ERROR(kernel->Run(kctx));
  return outs;
}

TEST(RecurrentTest, AnySubsetOfOutputs) {
  for (const char* op : {"GRU", "LSTM"}) {
    Case c;
    c.op = op;
    c.direction = "bidirectional";
    c.layout = 1;
    c.bias = c.seq_lens = c.initial_h = c.initial_c = true;
    c.seed = 31;
    CaseData data;
    MakeData(c, data);
    auto full = RunOp(data.inv);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    const size_t n = c.outputs();
    for (unsigned mask = 1; mask < (1u << n); ++mask) {
      std::vector<bool> wanted(n);
      for (size_t o = 0; o < n; ++o) wanted[o] = (mask >> o) & 1;
      auto sub = RunSubset(data.inv, wanted);
      ASSERT_TRUE(sub.ok()) << op << " mask " << mask << ": " << sub.status().ToString();
      for (size_t o = 0; o < n; ++o) {
        if (!wanted[o]) continue;
        EXPECT_TRUE(BitwiseEqual(sub.value()[o].view, full.value()[o].view)) << op << " mask " << mask << " output " << o;
      }
    }
  }
}

// seq_length 0 beside a huge batch (the op called directly, without the
// loader's element limit), with only Y wanted: Y is empty, nothing runs,
// and batch * hidden_size (the state's scratch size) is never formed.
TEST(RecurrentTest, EmptySequenceWithHugeBatch) {
  OwnedTensor x = RandomF32({0, int64_t{1} << 62, 4}, 1);
  OwnedTensor w = RandomF32({1, 64, 4}, 2);
  OwnedTensor r = RandomF32({1, 64, 16}, 3);
  OpInvocation inv;
  inv.op_type = "LSTM";
  inv.version = 14;
  inv.inputs = {&x.view, &w.view, &r.view};
  inv.attrs.Set("hidden_size", Attribute::Int(16));
  inv.num_outputs = 1;
  auto out = RunOp(inv);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value()[0].view.shape, Shape({0, 1, int64_t{1} << 62, 16}));
}

// Runs a case expecting failure; returns the message.
std::string ErrorOf(const Case& c, const std::function<void(CaseData&)>& mutate) {
  CaseData data;
  MakeData(c, data);
  mutate(data);
  auto out = RunOp(data.inv);
  if (out.ok()) return "unexpectedly succeeded";
  return out.status().ToString();
}

TEST(RecurrentTest, BadInputsAreNamed) {
  Case c;
  c.op = "LSTM";
  c.bias = c.peephole = c.initial_h = c.initial_c = c.seq_lens = true;
  OwnedTensor bad3 = RandomF32({1, 35, 7}, 1);    // 35 != 4 * 9
  OwnedTensor bad_r = RandomF32({1, 36, 8}, 1);   // H 8 != 9
  OwnedTensor bad_b = RandomF32({1, 36}, 1);      // needs 72
  OwnedTensor bad_p = RandomF32({1, 28}, 1);      // needs 27
  OwnedTensor bad_h = RandomF32({1, 2, 9}, 1);    // batch 2 != 3
  OwnedTensor bad_x = RandomF32({5, 3}, 1);       // rank 2
  OwnedTensor w_in = RandomF32({1, 36, 6}, 1);    // input 6 != 7
  OwnedTensor w_dirs = RandomF32({2, 36, 7}, 1);  // 2 directions for forward
  OwnedTensor lens_big = FromVector<int32_t>({3}, {5, 6, 1});
  OwnedTensor lens_neg = FromVector<int32_t>({3}, {5, -1, 1});
  OwnedTensor lens_f32 = RandomF32({3}, 1);
  struct Bad {
    std::function<void(CaseData&)> mutate;
    std::vector<std::string> expect;
  };
  const std::vector<Bad> cases = {
      {[&](CaseData& d) { d.inv.inputs[1] = &bad3.view; }, {"'W'", "4*hidden_size=36"}},
      {[&](CaseData& d) { d.inv.inputs[1] = &w_in.view; }, {"'W'", "input_size=7"}},
      {[&](CaseData& d) { d.inv.inputs[1] = &w_dirs.view; }, {"'W'", "num_directions=1"}},
      {[&](CaseData& d) { d.inv.inputs[2] = &bad_r.view; }, {"'R'", "hidden_size=9"}},
      {[&](CaseData& d) { d.inv.inputs[3] = &bad_b.view; }, {"'B'", "8*hidden_size=72"}},
      {[&](CaseData& d) { d.inv.inputs[7] = &bad_p.view; }, {"'P'", "3*hidden_size=27"}},
      {[&](CaseData& d) { d.inv.inputs[5] = &bad_h.view; }, {"'initial_h'", "batch_size=3"}},
      {[&](CaseData& d) { d.inv.inputs[6] = &bad_h.view; }, {"'initial_c'", "batch_size=3"}},
      {[&](CaseData& d) { d.inv.inputs[0] = &bad_x.view; }, {"'X'", "rank 3"}},
      {[&](CaseData& d) { d.inv.inputs[4] = &lens_big.view; }, {"'sequence_lens'", "value 6", "row 1"}},
      {[&](CaseData& d) { d.inv.inputs[4] = &lens_neg.view; }, {"'sequence_lens'", "value -1"}},
      {[&](CaseData& d) { d.inv.inputs[4] = &lens_f32.view; }, {"sequence_lens"}},
      {[&](CaseData& d) { d.inv.attrs.Set("activations", Attribute::Strings({"Sigmoid", "Swish", "Tanh"})); },
       {"'activations'", "'Swish'"}},
      {[&](CaseData& d) { d.inv.attrs.Set("activations", Attribute::Strings({"Sigmoid", "Tanh"})); },
       {"'activations'", "expected 3"}},
      {[&](CaseData& d) { d.inv.attrs.Set("activation_alpha", Attribute::Floats({0.5f})); },
       {"'activation_alpha'"}},
      {[&](CaseData& d) { d.inv.attrs.Set("direction", Attribute::String("sideways")); }, {"'direction'", "sideways"}},
      {[&](CaseData& d) { d.inv.attrs.Set("hidden_size", Attribute::Int(10)); }, {"'W'", "4*hidden_size=40"}},
      // 4 * hidden_size (and 8 *, B's width) would wrap int64.
      {[&](CaseData& d) { d.inv.attrs.Set("hidden_size", Attribute::Int(int64_t{1} << 62)); },
       {"hidden_size 4611686018427387904 is larger than"}},
      {[&](CaseData& d) { d.inv.attrs.Set("layout", Attribute::Int(2)); }, {"'layout'"}},
      {[&](CaseData& d) { d.inv.attrs.Set("clip", Attribute::Float(-1.0f)); }, {"'clip'"}},
      {[&](CaseData& d) { d.inv.attrs.Set("input_forget", Attribute::Int(3)); }, {"'input_forget'"}},
      {[&](CaseData& d) {
         d.inv.version = 13;
         d.inv.attrs.Set("layout", Attribute::Int(1));
       },
       {"layout"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string message = ErrorOf(c, cases[i].mutate);
    for (const std::string& part : cases[i].expect) {
      EXPECT_NE(message.find(part), std::string::npos) << "case " << i << ": '" << part << "' not in: " << message;
    }
  }
}

// Shapes are checked at load (infer_shapes) when known, before any kernel
// exists; a constant sequence_lens is checked there too.
TEST(RecurrentTest, BadShapesFailInShapeInference) {
  const OpDef* def = BuiltinOpRegistry().Find("", "GRU", 14);
  ASSERT_NE(def, nullptr);
  AttributeMap attrs;
  attrs.Set("hidden_size", Attribute::Int(4));
  ASSERT_TRUE(CheckAndFillAttributes(*def, attrs).ok());
  TensorInfo x{DType::kF32, {kDynamicDim, 2, 5}, true};
  TensorInfo w{DType::kF32, {1, 12, 5}, true};
  TensorInfo r{DType::kF32, {1, 12, 4}, true};
  TensorInfo bad_b{DType::kF32, {1, 12}, true};
  OpContext ctx;
  ctx.attrs = &attrs;
  ctx.inputs = {&x, &w, &r};
  ctx.constants = {nullptr, nullptr, nullptr};
  ctx.outputs.resize(2);
  ASSERT_TRUE(def->infer_shapes(ctx).ok());
  EXPECT_EQ(ctx.outputs[0].shape, (Shape{kDynamicDim, 1, 2, 4}));
  EXPECT_EQ(ctx.outputs[1].shape, (Shape{1, 2, 4}));
  ctx.inputs.push_back(&bad_b);
  ctx.constants.push_back(nullptr);
  const Status s = def->infer_shapes(ctx);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("input 'B' has shape [1, 12], expected [num_directions=1, 6*hidden_size=24]"),
            std::string::npos)
      << s.ToString();
}

TEST(RecurrentTest, FlopCountFollowsTheGateFormula) {
  const OpDef* def = BuiltinOpRegistry().Find("", "LSTM", 14);
  ASSERT_NE(def, nullptr);
  AttributeMap attrs;
  attrs.Set("hidden_size", Attribute::Int(16));
  attrs.Set("direction", Attribute::String("bidirectional"));
  ASSERT_TRUE(CheckAndFillAttributes(*def, attrs).ok());
  TensorInfo x{DType::kF32, {10, 3, 8}, true};
  TensorInfo w{DType::kF32, {2, 64, 8}, true};
  TensorInfo r{DType::kF32, {2, 64, 16}, true};
  OpContext ctx;
  ctx.attrs = &attrs;
  ctx.inputs = {&x, &w, &r};
  ctx.constants = {nullptr, nullptr, nullptr};
  ctx.outputs.resize(1);
  ASSERT_TRUE(def->infer_shapes(ctx).ok());
  EXPECT_DOUBLE_EQ(def->cost(ctx).flops, 2.0 * 4 * 16 * (8 + 16) * 10 * 3 * 2);
  // An input_size of 2^62 beside seq_length 0 (W's not known yet): 0 FLOPs,
  // without forming 4 * 16 * (2^62 + 16) in int64.
  TensorInfo x_empty{DType::kF32, {0, 3, int64_t{1} << 62}, true};
  TensorInfo w_open{DType::kF32, {2, 64, kDynamicDim}, true};
  ctx.inputs = {&x_empty, &w_open, &r};
  ASSERT_TRUE(def->infer_shapes(ctx).ok());
  EXPECT_DOUBLE_EQ(def->cost(ctx).flops, 0.0);
}

}  // namespace
}  // namespace tessera
