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

bool RnnStepF32Kernel(const RnnStepParams& p, int64_t begin, int64_t end) { return RnnStepF32Impl(p, begin, end); }

int64_t RnnChunkWidthKernel() { return static_cast<int64_t>(ChunkWidth()); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <algorithm>
#include <cctype>
#include <string>

namespace tessera::ops {

HWY_EXPORT(RnnStepF32Kernel);
HWY_EXPORT(RnnChunkWidthKernel);

bool RnnStepF32(const RnnStepParams& p, int64_t begin, int64_t end) {
  return HWY_DYNAMIC_DISPATCH(RnnStepF32Kernel)(p, begin, end);
}

int64_t RnnChunkWidth() { return HWY_DYNAMIC_DISPATCH(RnnChunkWidthKernel)(); }

namespace {

// Chunks of a block of w hidden elements.
int64_t BlockChunks(const RnnPackedLayout& l, int64_t w) { return (l.gates * w + l.chunk_width - 1) / l.chunk_width; }

}  // namespace

int64_t RnnUnitColumns(const RnnPackedLayout& l) {
  const int64_t w = l.hidden < kRnnHiddenBlock ? l.hidden : kRnnHiddenBlock;
  return BlockChunks(l, w) * l.chunk_width;
}

int64_t RnnPackedBlockOffset(const RnnPackedLayout& l, int64_t block) {
  // Every block but the last is full, so they all have the same size.
  return block * BlockChunks(l, kRnnHiddenBlock) * l.hidden * l.chunk_width;
}

int64_t RnnPackedFloats(const RnnPackedLayout& l) {
  const int64_t blocks = (l.hidden + kRnnHiddenBlock - 1) / kRnnHiddenBlock;
  if (blocks == 0) return 0;
  const int64_t last = l.hidden - (blocks - 1) * kRnnHiddenBlock;
  return RnnPackedBlockOffset(l, blocks - 1) + BlockChunks(l, last) * l.hidden * l.chunk_width;
}

void PackRnnWeights(const float* r, const RnnPackedLayout& l, float* out) {
  const int64_t n = l.hidden, cw = l.chunk_width;
  const int64_t blocks = (n + kRnnHiddenBlock - 1) / kRnnHiddenBlock;
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t j0 = block * kRnnHiddenBlock;
    const int64_t w = std::min<int64_t>(kRnnHiddenBlock, n - j0);
    float* dst = out + RnnPackedBlockOffset(l, block);
    const int64_t chunks = BlockChunks(l, w);
    for (int64_t c = 0; c < chunks; ++c) {
      float* panel = dst + c * n * cw;
      for (int64_t col = 0; col < cw; ++col) {
        const int64_t local = c * cw + col;  // g * w + jj
        if (local >= l.gates * w) {
          for (int64_t k = 0; k < n; ++k) panel[k * cw + col] = 0.0f;
          continue;
        }
        const int64_t row = l.row0 + (local / w) * n + j0 + local % w;  // R's row for this column
        const float* src = r + row * n;
        for (int64_t k = 0; k < n; ++k) panel[k * cw + col] = src[k];
      }
    }
  }
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
