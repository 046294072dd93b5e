// Per-target entry points of the attention family and their dispatchers.
// The maths, tiling, tail contract and partitioning rule are described at
// the top of attention-inl.h.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/attention/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/attention/attention-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

void AttentionPackKVF32Kernel(const AttentionF32Params& p, int64_t item_begin, int64_t item_end, float* packed) {
  AttentionPackKVF32Impl(p, item_begin, item_end, packed);
}

void AttentionF32Kernel(const AttentionF32Params& p, const float* packed, int64_t unit_begin, int64_t unit_end,
                        float* scratch) {
  AttentionF32Impl(p, packed, unit_begin, unit_end, scratch);
}

void AdditiveAttentionF32Kernel(const float* keys, const float* qp, const float* v, const float* memory,
                                const int64_t* lengths, int64_t src_len, int64_t attn_dim, int64_t enc_dim,
                                float* weights, float* context, int64_t b_begin, int64_t b_end) {
  AdditiveAttentionF32Impl(keys, qp, v, memory, lengths, src_len, attn_dim, enc_dim, weights, context, b_begin,
                           b_end);
}

void AttentionDirectF32Kernel(const AttentionF32Params& p, int64_t unit_begin, int64_t unit_end, float* scratch) {
  AttentionDirectF32Impl(p, unit_begin, unit_end, scratch);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

namespace tessera::ops {

HWY_EXPORT(AttentionPackKVF32Kernel);
HWY_EXPORT(AttentionF32Kernel);
HWY_EXPORT(AttentionDirectF32Kernel);
HWY_EXPORT(AdditiveAttentionF32Kernel);

int64_t AttentionUnits(const AttentionF32Params& p) {
  return p.batch * p.num_heads * ((p.q_len + kAttentionQueryBlock - 1) / kAttentionQueryBlock);
}

int64_t AttentionScratchFloats(int64_t head_dim) {
  // s + o + m + l; o rows padded to a multiple of 64 floats, which covers
  // the vector length of every target.
  const int64_t dp = (head_dim + 63) / 64 * 64;
  return kAttentionQueryBlock * kAttentionKeyTile + kAttentionQueryBlock * dp + 2 * kAttentionQueryBlock;
}

void AttentionPackKVF32(const AttentionF32Params& p, int64_t item_begin, int64_t item_end, float* packed) {
  HWY_DYNAMIC_DISPATCH(AttentionPackKVF32Kernel)(p, item_begin, item_end, packed);
}

void AttentionF32(const AttentionF32Params& p, const float* packed, int64_t unit_begin, int64_t unit_end,
                  float* scratch) {
  HWY_DYNAMIC_DISPATCH(AttentionF32Kernel)(p, packed, unit_begin, unit_end, scratch);
}

void AttentionDirectF32(const AttentionF32Params& p, int64_t unit_begin, int64_t unit_end, float* scratch) {
  HWY_DYNAMIC_DISPATCH(AttentionDirectF32Kernel)(p, unit_begin, unit_end, scratch);
}

void AdditiveAttentionF32(const float* keys, const float* qp, const float* v, const float* memory,
                          const int64_t* lengths, int64_t src_len, int64_t attn_dim, int64_t enc_dim,
                          float* weights, float* context, int64_t b_begin, int64_t b_end) {
  HWY_DYNAMIC_DISPATCH(AdditiveAttentionF32Kernel)(keys, qp, v, memory, lengths, src_len, attn_dim, enc_dim,
                                                   weights, context, b_begin, b_end);
}

}  // namespace tessera::ops

#endif  // HWY_ONCE
