// Attention kernels (f32): fused multi-head scaled dot-product attention
// (tessera.Attention) and the scoring/softmax/context step of additive
// (Bahdanau) attention (tessera.AdditiveAttention). The ops themselves are
// declared in attention_ops.cc and documented in docs/ops/attention.md; the
// maths, tiling, tail contract and partitioning rule are at the top of
// attention-inl.h.
//
// Each entry point dispatches once to the best Highway target
// (attention.cc) and computes a range of independent work units, so callers
// split work with ParallelFor and every unit is computed whole by one call:
// results are bitwise independent of the split and of the thread count.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_ATTENTION_ATTENTION_H_
#define TESSERA_OPS_ATTENTION_ATTENTION_H_

#include <cstddef>
#include <cstdint>

namespace tessera::ops {

// Keys per tile of the online softmax. 64 keys x head_dim 64 x 4 B = 16 KiB
// for the transposed K tile plus 16 KiB for the V tile: both stay in L1
// (32 KiB on Zen 4 / most x86 for data, with the query block's scores and
// accumulators streaming from L2).
inline constexpr int64_t kAttentionKeyTile = 64;
// Query rows per work unit. 32 rows reuse each packed K/V tile 32 times
// (packing costs ~1/32 of the tile's FMAs) and still give batch x heads x
// ceil(q_len / 32) units: 32 units for 8 heads at q_len 128.
inline constexpr int64_t kAttentionQueryBlock = 32;

// How the optional mask is stored. kBool/kI32/kI64: nonzero = attend,
// zero = masked out. kF32: added to the scaled scores.
enum class AttentionMaskType : int32_t { kNone, kF32, kBool, kI32, kI64 };

// One Attention call. Element strides are in floats (or mask elements).
struct AttentionF32Params {
  int64_t batch = 0;
  int64_t num_heads = 0;     // query heads
  int64_t kv_num_heads = 0;  // divides num_heads; query head h reads kv head h / (num_heads / kv_num_heads)
  int64_t head_dim = 0;
  int64_t q_len = 0;
  int64_t past_len = 0;  // keys/values read from k_past/v_past
  int64_t new_len = 0;   // keys/values read from k_new/v_new, after the past ones
  float scale = 1.0f;
  bool causal = false;
  // Query i (0-based in this call) may attend to key j (0-based over
  // past_len + new_len) only if j <= causal_offset + i, when causal.
  int64_t causal_offset = 0;

  // Q: row (b, i) at q + (b * q_len + i) * q_row_stride, head h at + h * head_dim.
  const float* q = nullptr;
  int64_t q_row_stride = 0;
  // Past keys/values in head layout [batch, kv_num_heads, past_len, head_dim].
  const float* k_past = nullptr;
  const float* v_past = nullptr;
  // New keys/values in token layout: row (b, j) at k_new + (b * new_len + j) * kv_row_stride,
  // kv head g at + g * head_dim.
  const float* k_new = nullptr;
  const float* v_new = nullptr;
  int64_t kv_row_stride = 0;

  // Mask element (b, h, i, j) at mask + b * s0 + h * s1 + i * s2 + j * s3
  // (a stride of 0 broadcasts that axis).
  AttentionMaskType mask_type = AttentionMaskType::kNone;
  const void* mask = nullptr;
  int64_t mask_strides[4] = {0, 0, 0, 0};

  // Y: row (b, i) at y + (b * q_len + i) * y_row_stride, head h at + h * head_dim.
  float* y = nullptr;
  int64_t y_row_stride = 0;
};

// Key tiles of one (batch, kv head): [0, past_len) and [past_len, total)
// each cut into tiles of kAttentionKeyTile; a tile never straddles the two.
inline int64_t AttentionKVTiles(int64_t past_len, int64_t new_len) {
  return (past_len + kAttentionKeyTile - 1) / kAttentionKeyTile + (new_len + kAttentionKeyTile - 1) / kAttentionKeyTile;
}

// Floats of one packed tile: K transposed [head_dim][kAttentionKeyTile],
// then V [kAttentionKeyTile][head_dim padded to a multiple of 64 floats,
// which covers every target's vector length].
inline int64_t AttentionTileFloats(int64_t head_dim) {
  return head_dim * kAttentionKeyTile + kAttentionKeyTile * ((head_dim + 63) / 64 * 64);
}

// Packing items: one per (batch, kv head, key tile).
inline int64_t AttentionPackItems(const AttentionF32Params& p) {
  return p.batch * p.kv_num_heads * AttentionKVTiles(p.past_len, p.new_len);
}

// Packs items [item_begin, item_end) of K/V into `packed` (64-byte aligned,
// AttentionPackItems(p) * AttentionTileFloats(head_dim) floats). Run it over
// all items before AttentionF32.
void AttentionPackKVF32(const AttentionF32Params& p, int64_t item_begin, int64_t item_end, float* packed);

// True when a call should skip packing and read K/V in place
// (AttentionDirectF32): fewer than 8 query rows share each kv head, so a
// packed tile would be used fewer than 8 times (decoding with a cache).
// Depends on shapes only, never on threads.
inline bool AttentionUseDirect(const AttentionF32Params& p) {
  return p.q_len * (p.num_heads / p.kv_num_heads) < 8;
}

// Work units: one per (batch, head, block of kAttentionQueryBlock queries).
int64_t AttentionUnits(const AttentionF32Params& p);

// Floats of scratch one AttentionF32 call needs besides the packed K/V
// (reused across the units of that call): independent of the sequence
// lengths.
int64_t AttentionScratchFloats(int64_t head_dim);

// Computes units [unit_begin, unit_end) from the packed K/V. `scratch` is
// 64-byte aligned and holds AttentionScratchFloats(head_dim) floats, private
// to this call.
void AttentionF32(const AttentionF32Params& p, const float* packed, int64_t unit_begin, int64_t unit_end,
                  float* scratch);

// The same units computed straight from K/V (no packing); `scratch` as for
// AttentionF32. Used where AttentionUseDirect holds.
void AttentionDirectF32(const AttentionF32Params& p, int64_t unit_begin, int64_t unit_end, float* scratch);

// Additive attention, after the projections: for batch rows
// [b_begin, b_end), with keys [batch, src_len, attn_dim] (= W1 h), qp
// [batch, attn_dim] (= W2 s), v [attn_dim] and memory h [batch, src_len,
// enc_dim]:
//   score_j = v . tanh(keys_j + qp),  j < len_b
//   a = softmax(score) over j < len_b (zeros elsewhere and when len_b == 0)
//   context = sum_j a_j h_j
// `lengths` may be null (every row has src_len positions); values were
// validated to lie in [0, src_len]. weights is [batch, src_len], context
// [batch, enc_dim].
void AdditiveAttentionF32(const float* keys, const float* qp, const float* v, const float* memory,
                          const int64_t* lengths, int64_t src_len, int64_t attn_dim, int64_t enc_dim,
                          float* weights, float* context, int64_t b_begin, int64_t b_end);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_ATTENTION_ATTENTION_H_
