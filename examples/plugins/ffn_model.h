// The model that uses the example plugin: a Transformer feed-forward block
// with a SwiGLU activation and a residual RMSNorm.
//
//   x [batch, 16] ─ MatMul(W_in [16, 64]) ─ example.SwiGLU ─ MatMul(W_out [32, 16]) ─ Add(x) ─ example.RMSNorm(scale) ─ y [batch, 16]
//
// Tests rebuild the weights with FfnWeights() to compute a reference.
#ifndef TESSERA_EXAMPLES_PLUGINS_FFN_MODEL_H_
#define TESSERA_EXAMPLES_PLUGINS_FFN_MODEL_H_

#include <cstdint>
#include <vector>

#include "tessera/model_builder.h"

namespace tessera::examples {

inline constexpr int64_t kFfnModel = 16;   // model width
inline constexpr int64_t kFfnHidden = 32;  // SwiGLU output width (W_in has 2x)
inline constexpr float kFfnEpsilon = 1e-5f;

struct FfnWeights {
  std::vector<float> w_in;   // [kFfnModel, 2 * kFfnHidden]
  std::vector<float> w_out;  // [kFfnHidden, kFfnModel]
  std::vector<float> scale;  // [kFfnModel]
};
FfnWeights MakeFfnWeights();

void BuildFfnBlock(ModelBuilder& b);

}  // namespace tessera::examples

#endif  // TESSERA_EXAMPLES_PLUGINS_FFN_MODEL_H_
