#include "examples/plugins/ffn_model.h"

#include <cmath>

namespace tessera::examples {
namespace {

// splitmix64 mapped to [-scale, scale): the same bytes with every standard
// library, so the generated model is reproducible.
std::vector<float> Weights(uint64_t seed, size_t count, float scale) {
  std::vector<float> w(count);
  uint64_t state = seed;
  for (float& x : w) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x = (static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f) * scale;
  }
  return w;
}

}  // namespace

FfnWeights MakeFfnWeights() {
  FfnWeights w;
  w.w_in = Weights(11, kFfnModel * 2 * kFfnHidden, 1.0f / std::sqrt(static_cast<float>(kFfnModel)));
  w.w_out = Weights(12, kFfnHidden * kFfnModel, 1.0f / std::sqrt(static_cast<float>(kFfnHidden)));
  w.scale = Weights(13, kFfnModel, 0.5f);
  for (float& s : w.scale) s += 1.0f;  // around 1, as a trained RMSNorm gain is
  return w;
}

void BuildFfnBlock(ModelBuilder& b) {
  using Attr = ModelBuilder::Attr;
  const FfnWeights w = MakeFfnWeights();
  b.SetProducer("tessera examples/plugins/make_ffn_model");
  b.SetMetadata("name", "ffn_swiglu_rmsnorm");
  b.SetMetadata("description", "Transformer FFN block using example.SwiGLU and example.RMSNorm (needs the example plugin)");
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", kFfnModel});
  const int w_in = b.AddConstant<float>("W_in", {kFfnModel, 2 * kFfnHidden}, w.w_in);
  const int w_out = b.AddConstant<float>("W_out", {kFfnHidden, kFfnModel}, w.w_out);
  const int scale = b.AddConstant<float>("scale", {kFfnModel}, w.scale);
  const int up = b.AddNode("MatMul", {x, w_in}, {"up"}, {}, "ffn/up")[0];
  const int act = b.AddNode("SwiGLU", {up}, {"act"}, {}, "ffn/swiglu", "example", 1)[0];
  const int down = b.AddNode("MatMul", {act, w_out}, {"down"}, {}, "ffn/down")[0];
  const int res = b.AddNode("Add", {down, x}, {"residual"}, {}, "ffn/residual")[0];
  const int y = b.AddTensor("y", TSR_DTYPE_FLOAT32, {"batch", kFfnModel});
  b.AddNodeInto("RMSNorm", {res, scale}, {y}, {Attr::Float("epsilon", kFfnEpsilon)}, "ffn/norm", "example", 1);
  b.AddOutput(y);
}

}  // namespace tessera::examples
