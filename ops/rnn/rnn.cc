// Per-target entry points of the recurrent family's gate epilogues and their
// dispatchers. The maths, gate layout, tail contract and partitioning rule
// are described at the top of rnn-inl.h.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/rnn/rnn.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/rnn/rnn-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

void RnnCellStepF32Kernel(const RnnStepParams& p, int64_t begin, int64_t end) {
  RnnCellStepF32Impl(p, begin, end);
}

void LstmCellStepF32Kernel(const RnnStepParams& p, int64_t begin, int64_t end) {
  LstmCellStepF32Impl(p, begin, end);
}

void GruResetStepF32Kernel(const RnnStepParams& p, int64_t begin, int64_t end) {
  GruResetStepF32Impl(p, begin, end);
}

void GruUpdateStepF32Kernel(const RnnStepParams& p, int64_t begin, int64_t end) {
  GruUpdateStepF32Impl(p, begin, end);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <algorithm>
#include <cctype>
#include <string>

namespace tessera::ops {

HWY_EXPORT(RnnCellStepF32Kernel);
HWY_EXPORT(LstmCellStepF32Kernel);
HWY_EXPORT(GruResetStepF32Kernel);
HWY_EXPORT(GruUpdateStepF32Kernel);

void RnnCellStepF32(const RnnStepParams& p, int64_t begin, int64_t end) {
  HWY_DYNAMIC_DISPATCH(RnnCellStepF32Kernel)(p, begin, end);
}

void LstmCellStepF32(const RnnStepParams& p, int64_t begin, int64_t end) {
  HWY_DYNAMIC_DISPATCH(LstmCellStepF32Kernel)(p, begin, end);
}

void GruResetStepF32(const RnnStepParams& p, int64_t begin, int64_t end) {
  HWY_DYNAMIC_DISPATCH(GruResetStepF32Kernel)(p, begin, end);
}

void GruUpdateStepF32(const RnnStepParams& p, int64_t begin, int64_t end) {
  HWY_DYNAMIC_DISPATCH(GruUpdateStepF32Kernel)(p, begin, end);
}

int64_t RnnStepUnits(const RnnStepParams& p) {
  return p.num_dirs * p.batch * ((p.hidden + kRnnHiddenBlock - 1) / kRnnHiddenBlock);
}

bool ParseRnnActivation(const std::string& name, RnnActivation* out, bool* uses_alpha, bool* uses_beta) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  struct Entry {
    const char* name;
    RnnActivationKind kind;
    bool alpha, beta;
    float default_alpha, default_beta;
  };
  // Defaults are those of the ONNX ops of the same name (Affine and
  // ScaledTanh are the retired experimental ops: alpha 1, beta 0 / 1).
  static const Entry kTable[] = {
      {"relu", RnnActivationKind::kRelu, false, false, 0.0f, 0.0f},
      {"tanh", RnnActivationKind::kTanh, false, false, 0.0f, 0.0f},
      {"sigmoid", RnnActivationKind::kSigmoid, false, false, 0.0f, 0.0f},
      {"affine", RnnActivationKind::kAffine, true, true, 1.0f, 0.0f},
      {"leakyrelu", RnnActivationKind::kLeakyRelu, true, false, 0.01f, 0.0f},
      {"thresholdedrelu", RnnActivationKind::kThresholdedRelu, true, false, 1.0f, 0.0f},
      {"scaledtanh", RnnActivationKind::kScaledTanh, true, true, 1.0f, 1.0f},
      {"hardsigmoid", RnnActivationKind::kHardSigmoid, true, true, 0.2f, 0.5f},
      {"elu", RnnActivationKind::kElu, true, false, 1.0f, 0.0f},
      {"softsign", RnnActivationKind::kSoftsign, false, false, 0.0f, 0.0f},
      {"softplus", RnnActivationKind::kSoftplus, false, false, 0.0f, 0.0f},
  };
  for (const Entry& e : kTable) {
    if (lower != e.name) continue;
    *out = RnnActivation{e.kind, e.default_alpha, e.default_beta};
    *uses_alpha = e.alpha;
    *uses_beta = e.beta;
    return true;
  }
  return false;
}

}  // namespace tessera::ops

#endif  // HWY_ONCE
