// Writes the model fuzzer's extra seeds (tests/fuzz/seeds/model/*.tess):
// one tiny model per op family, so that mutations start from every op's
// shape inference and kernel, not only from the four bundled models. Each
// is built with the public ModelBuilder, then loaded and run once through
// the C API (dynamic dims 2, zero-filled inputs) to prove it is a valid
// seed.
//
//   make_model_seeds DIR
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "tessera/model_builder.h"
#include "tessera/tessera.h"

namespace {

using tessera::ModelBuilder;
using Attr = ModelBuilder::Attr;

std::vector<float> Ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 7) - 3);
  return v;
}

struct Seed {
  const char* name;
  std::function<void(ModelBuilder&)> build;
};

const std::vector<Seed>& Seeds() {
  static const std::vector<Seed> seeds = {
      {"elementwise", [](ModelBuilder& b) {
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"n", 3});
         const int c = b.AddConstant<float>("c", {3}, {0.5f, -1.0f, 2.0f});
         int y = b.AddNode("Add", {x, c}, {"add"})[0];
         y = b.AddNode("Mul", {y, x}, {"mul"})[0];
         y = b.AddNode("Sub", {y, c}, {"sub"})[0];
         y = b.AddNode("Div", {y, c}, {"div"})[0];
         y = b.AddNode("Tanh", {y}, {"tanh"})[0];
         y = b.AddNode("Sigmoid", {y}, {"sig"})[0];
         y = b.AddNode("Relu", {y}, {"relu"})[0];
         const int e = b.AddNode("Erf", {y}, {"erf"})[0];
         const int s = b.AddNode("Sqrt", {b.AddNode("Mul", {x, x}, {"sq"})[0]}, {"sqrt"})[0];
         const int p = b.AddNode("Pow", {s, c}, {"pow"})[0];
         b.AddOutput(b.AddNode("Gelu", {b.AddNode("Add", {e, p}, {"sum"})[0]}, {"y"}, {}, "", "", 20)[0]);
       }},
      {"gemm", [](ModelBuilder& b) {
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 5});
         const int w = b.AddConstant<float>("w", {4, 5}, Ramp(20, 0.1f));
         const int bias = b.AddConstant<float>("bias", {4}, Ramp(4, 0.2f));
         const int g = b.AddNode("Gemm", {x, w, bias}, {"g"},
                                 {Attr::Int("transB", 1), Attr::Float("alpha", 0.5f), Attr::Float("beta", 2.0f)})[0];
         const int w2 = b.AddConstant<float>("w2", {4, 3}, Ramp(12, 0.3f));
         b.AddOutput(b.AddNode("MatMul", {g, w2}, {"y"})[0]);
       }},
      {"batched_matmul", [](ModelBuilder& b) {
         const int a = b.AddInput("a", TSR_DTYPE_FLOAT32, {2, "m", 3});
         const int c = b.AddInput("c", TSR_DTYPE_FLOAT32, {1, 3, "n"});
         b.AddOutput(b.AddNode("MatMul", {a, c}, {"y"})[0]);
       }},
      {"softmax_norm", [](ModelBuilder& b) {
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", "seq", 6});
         const int scale = b.AddConstant<float>("scale", {6}, Ramp(6, 0.5f));
         const int bias = b.AddConstant<float>("bias", {6}, Ramp(6, 0.25f));
         const int ln = b.AddNode("LayerNormalization", {x, scale, bias}, {"ln"},
                                  {Attr::Int("axis", -1), Attr::Float("epsilon", 1e-5f)})[0];
         const int sm = b.AddNode("Softmax", {ln}, {"sm"}, {Attr::Int("axis", 1)})[0];
         const int lsm = b.AddNode("LogSoftmax", {sm}, {"lsm"}, {Attr::Int("axis", -1)})[0];
         b.AddOutput(b.AddNode("ReduceMean", {lsm}, {"y"}, {Attr::Ints("axes", {2}), Attr::Int("keepdims", 0)},
                               "", "", 13)[0]);
       }},
      {"lstm", [](ModelBuilder& b) {
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"seq", "batch", 3});
         const int w = b.AddConstant<float>("W", {2, 16, 3}, Ramp(96, 0.05f));
         const int r = b.AddConstant<float>("R", {2, 16, 4}, Ramp(128, 0.05f));
         const int bias = b.AddConstant<float>("B", {2, 32}, Ramp(64, 0.01f));
         auto out = b.AddNode("LSTM", {x, w, r, bias}, {"Y", "Y_h", "Y_c"},
                              {Attr::Int("hidden_size", 4), Attr::String("direction", "bidirectional")}, "", "", 14);
         b.AddOutput(out[0]);
         b.AddOutput(out[1]);
         b.AddOutput(out[2]);
       }},
      {"gru", [](ModelBuilder& b) {
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", "seq", 3});
         const int lens = b.AddInput("lens", TSR_DTYPE_INT32, {"batch"});
         const int w = b.AddConstant<float>("W", {1, 12, 3}, Ramp(36, 0.05f));
         const int r = b.AddConstant<float>("R", {1, 12, 4}, Ramp(48, 0.05f));
         const int bias = b.AddConstant<float>("B", {1, 24}, Ramp(24, 0.01f));
         auto out = b.AddNode("GRU", {x, w, r, bias, lens}, {"Y", "Y_h"},
                              {Attr::Int("hidden_size", 4), Attr::Int("layout", 1), Attr::Int("linear_before_reset", 1)},
                              "", "", 14);
         b.AddOutput(out[0]);
         b.AddOutput(out[1]);
       }},
      {"rnn", [](ModelBuilder& b) {
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"seq", 2, 3});
         const int h0 = b.AddInput("h0", TSR_DTYPE_FLOAT32, {1, 2, 4});
         const int w = b.AddConstant<float>("W", {1, 4, 3}, Ramp(12, 0.1f));
         const int r = b.AddConstant<float>("R", {1, 4, 4}, Ramp(16, 0.1f));
         auto out = b.AddNode("RNN", {x, w, r, -1, -1, h0}, {"Y", "Y_h"},
                              {Attr::Int("hidden_size", 4), Attr::Float("clip", 2.0f)}, "", "", 14);
         b.AddOutput(out[0]);
         b.AddOutput(out[1]);
       }},
      {"shape_values", [](ModelBuilder& b) {
         // Shape -> Gather -> Concat -> Reshape: shapes computed by value
         // propagation.
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 2, 3});
         const int shape = b.AddNode("Shape", {x}, {"shape"})[0];
         const int zero = b.AddConstant<int64_t>("zero", {1}, {0});
         const int batch = b.AddNode("Gather", {shape, zero}, {"batch_dim"}, {Attr::Int("axis", 0)})[0];
         const int six = b.AddConstant<int64_t>("six", {1}, {6});
         const int target = b.AddNode("Concat", {batch, six}, {"target"}, {Attr::Int("axis", 0)})[0];
         const int flat = b.AddNode("Reshape", {x, target}, {"flat"})[0];
         const int minus = b.AddConstant<int64_t>("minus_one", {2}, {-1, 3});
         const int back = b.AddNode("Reshape", {flat, minus}, {"back"})[0];
         b.AddOutput(b.AddNode("Transpose", {back}, {"y"}, {Attr::Ints("perm", {1, 0})})[0]);
       }},
      {"movement", [](ModelBuilder& b) {
         const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"n", 4});
         const int axes = b.AddConstant<int64_t>("axes", {1}, {0});
         const int u = b.AddNode("Unsqueeze", {x, axes}, {"u"})[0];
         const int s = b.AddNode("Squeeze", {u, axes}, {"s"})[0];
         const int starts = b.AddConstant<int64_t>("starts", {1}, {1});
         const int ends = b.AddConstant<int64_t>("ends", {1}, {4});
         const int sl_axes = b.AddConstant<int64_t>("slice_axes", {1}, {1});
         const int steps = b.AddConstant<int64_t>("steps", {1}, {2});
         const int sl = b.AddNode("Slice", {s, starts, ends, sl_axes, steps}, {"sl"})[0];
         const int split = b.AddConstant<int64_t>("split", {2}, {1, 3});
         auto halves = b.AddNode("Split", {x, split}, {"left", "right"}, {Attr::Int("axis", 1)});
         const int cat = b.AddNode("Concat", {halves[1], halves[0], sl}, {"cat"}, {Attr::Int("axis", 1)})[0];
         const int shape = b.AddConstant<int64_t>("expand_to", {3}, {2, 1, 6});
         b.AddOutput(b.AddNode("Expand", {cat, shape}, {"y"})[0]);
       }},
      {"gather_where_cast", [](ModelBuilder& b) {
         const int ids = b.AddInput("ids", TSR_DTYPE_INT64, {"batch", "seq"});
         const int table = b.AddConstant<float>("table", {10, 3}, Ramp(30, 0.1f));
         const int emb = b.AddNode("Gather", {table, ids}, {"emb"}, {Attr::Int("axis", 0)})[0];
         const int cond = b.AddInput("cond", TSR_DTYPE_BOOL, {"batch", "seq", 1});
         const int other = b.AddConstant<float>("other", {1}, {-1.0f});
         const int w = b.AddNode("Where", {cond, emb, other}, {"w"})[0];
         const int as_int = b.AddNode("Cast", {w}, {"as_int"}, {Attr::Int("to", TSR_DTYPE_INT32)})[0];
         b.AddOutput(b.AddNode("Cast", {as_int}, {"y"}, {Attr::Int("to", TSR_DTYPE_FLOAT32)})[0]);
         const int shape = b.AddConstant<int64_t>("shape", {2}, {2, 2});
         b.AddOutput(b.AddNode("ConstantOfShape", {shape}, {"filled"})[0]);
       }},
  };
  return seeds;
}

// Loads `path` and runs it once; "" on success, else the error.
std::string LoadAndRun(const std::string& path) {
  std::string error;
  TsrModel* model = nullptr;
  TsrSession* session = nullptr;
  std::vector<TsrTensor*> inputs, outputs;
  std::vector<const char*> input_names, output_names;
  TsrStatus* s = TsrModelLoad(path.c_str(), nullptr, &model);
  if (s == nullptr) s = TsrSessionCreate(model, nullptr, &session);
  for (size_t i = 0; s == nullptr && i < TsrModelGetInputCount(model); ++i) {
    TsrValueInfo info;
    s = TsrModelGetInputInfo(model, i, &info);
    if (s != nullptr) break;
    std::vector<int64_t> dims(info.dims, info.dims + info.rank);
    for (int64_t& d : dims) d = d < 0 ? 2 : d;
    TsrTensor* t = nullptr;
    s = TsrTensorCreate(info.dtype, dims.data(), dims.size(), &t);
    inputs.push_back(t);
    input_names.push_back(info.name);
  }
  for (size_t i = 0; s == nullptr && i < TsrModelGetOutputCount(model); ++i) {
    TsrValueInfo info;
    s = TsrModelGetOutputInfo(model, i, &info);
    output_names.push_back(info.name);
  }
  outputs.assign(output_names.size(), nullptr);
  if (s == nullptr) {
    s = TsrSessionRun(session, input_names.data(), inputs.data(), inputs.size(), output_names.data(),
                      output_names.size(), outputs.data());
  }
  if (s != nullptr) error = TsrStatusGetMessage(s);
  TsrStatusRelease(s);
  for (TsrTensor* t : inputs) TsrTensorRelease(t);
  for (TsrTensor* t : outputs) TsrTensorRelease(t);
  TsrSessionRelease(session);
  TsrModelRelease(model);
  return error;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_model_seeds DIR\n");
    return 2;
  }
  int failures = 0;
  for (const Seed& seed : Seeds()) {
    ModelBuilder b;
    seed.build(b);
    const std::string path = std::string(argv[1]) + "/" + seed.name + ".tess";
    std::string error;
    if (!b.Save(path, &error) || !(error = LoadAndRun(path)).empty()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), error.c_str());
      ++failures;
      continue;
    }
    std::printf("%s\n", path.c_str());
  }
  return failures == 0 ? 0 : 1;
}
