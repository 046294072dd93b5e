// SIMD code of the attention family, compiled once per Highway target.
//
// Maths (tessera.Attention, docs/ops/attention.md): for each batch b, query
// head h (kv head g = h / (num_heads / kv_num_heads)) and query row i,
//   s_j = scale * (q_i . k_j) + mask(b, h, i, j)   for the keys j it may see
//   y_i = sum_j softmax(s)_j v_j
// where "may see" excludes keys with a zero bool/int mask, keys after
// causal_offset + i when causal, and keys whose additive mask is -inf.
//
// Online softmax (flash attention, Dao et al. 2022, sec. 3.1): keys are
// visited in tiles of kAttentionKeyTile. Each query row keeps a running max
// m, a running denominator l and an unnormalised output o. For a tile with
// scores s: m' = max(m, max_j s_j), alpha = e^(m - m'), p_j = e^(s_j - m'),
// l = alpha l + sum_j p_j, o = alpha o + sum_j p_j v_j; at the end
// y = o / l. Only one tile of scores exists at a time (kAttentionQueryBlock
// x kAttentionKeyTile floats), so memory is linear in sequence length. A
// row that has seen no visible key keeps m = -inf, skips the update (no
// e^(-inf - -inf) = NaN) and ends with l = 0: its output is zeros.
// Accuracy: each score is a dot product of head_dim terms (error about
// head_dim * u * sum |q k|), e^ is VecExp (1 ulp) and the weighted sum
// of V adds about kv_len * u relative: the tests derive their tolerance
// from those sums.
//
// Layout. First, once per call, every key tile of every (batch, kv head)
// is packed (AttentionPackKVF32, parallel over tiles) into
//   kt [head_dim][kAttentionKeyTile]: the K tile transposed, so the score
//      product broadcasts q_i[c] and multiplies a vector of keys: no
//      horizontal sums, keys are the vector axis.
//   vp [kAttentionKeyTile][dp]: the V tile, rows padded to dp (head_dim
//      rounded up to the vector length) with zeros, so the o += p v product
//      uses whole vectors along head_dim.
// That is the size of K and V again (linear in the sequence), and each key
// is transposed once instead of once per query block. Then each work unit
// (one batch, one head, a block of up to kAttentionQueryBlock query rows)
// uses its own slot of scratch:
//   s  [kAttentionQueryBlock][kAttentionKeyTile]: scores, then p.
//   o  [kAttentionQueryBlock][dp], m and l [kAttentionQueryBlock].
// Tiles never straddle the past/new boundary of the key sequence; a
// partial tile's missing keys are zero in kt/vp and -inf in s.
// Decoding (fewer than 8 query rows per kv head, AttentionUseDirect) skips
// the packing, which would copy the whole cache to use it once: the direct
// path reads K and V rows in place (dot products along head_dim), same
// tiles, same online softmax. Which path runs depends on shapes only.
//
// Tail contract: Q, K, V, the mask and Y are read and written element-wise
// at their true extents (K/V tiles are copied into padded scratch, Q is read
// one scalar at a time in the packed path, the direct path ends each row's
// dot product and V update with scalar tails, Y's last partial vector goes
// through one-lane vectors). Nothing outside the tensors is touched.
//
// Partitioning: a work unit is computed whole by one call, visiting tiles in
// a fixed order, and units share nothing but read-only inputs, so results
// are bitwise independent of the split and the thread count.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_ATTENTION_ATTENTION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_ATTENTION_ATTENTION_INL_H_
#undef TESSERA_OPS_ATTENTION_ATTENTION_INL_H_
#else
#define TESSERA_OPS_ATTENTION_ATTENTION_INL_H_
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hwy/highway.h"
#include "ops/attention/attention.h"
#include "ops/elementwise/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Mask element as "visible?" and additive term.
HWY_INLINE float MaskTerm(AttentionMaskType type, const void* mask, int64_t offset) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  switch (type) {
    case AttentionMaskType::kF32:
      return static_cast<const float*>(mask)[offset];
    case AttentionMaskType::kBool:
      return static_cast<const uint8_t*>(mask)[offset] != 0 ? 0.0f : kNegInf;
    case AttentionMaskType::kI32:
      return static_cast<const int32_t*>(mask)[offset] != 0 ? 0.0f : kNegInf;
    case AttentionMaskType::kI64:
      return static_cast<const int64_t*>(mask)[offset] != 0 ? 0.0f : kNegInf;
    case AttentionMaskType::kNone:
      break;
  }
  return 0.0f;
}

// s[r][0, kAttentionKeyTile) = scale * q_r . kt[:, j] for 4 rows, two key
// vectors at a time (8 independent FMA chains hide the FMA latency).
HWY_INLINE void ScoreRows4(const float* q0, const float* q1, const float* q2, const float* q3, const float* kt,
                           size_t dim, float scale, float* s) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t kT = static_cast<size_t>(kAttentionKeyTile);
  const auto vscale = hn::Set(d, scale);
  size_t c0 = 0;
  for (; c0 + 2 * lanes <= kT; c0 += 2 * lanes) {
    auto a00 = hn::Zero(d), a01 = hn::Zero(d), a10 = hn::Zero(d), a11 = hn::Zero(d);
    auto a20 = hn::Zero(d), a21 = hn::Zero(d), a30 = hn::Zero(d), a31 = hn::Zero(d);
    for (size_t c = 0; c < dim; ++c) {
      const auto k0 = hn::Load(d, kt + c * kT + c0);
      const auto k1 = hn::Load(d, kt + c * kT + c0 + lanes);
      const auto b0 = hn::Set(d, q0[c]);
      const auto b1 = hn::Set(d, q1[c]);
      const auto b2 = hn::Set(d, q2[c]);
      const auto b3 = hn::Set(d, q3[c]);
      a00 = hn::MulAdd(b0, k0, a00);
      a01 = hn::MulAdd(b0, k1, a01);
      a10 = hn::MulAdd(b1, k0, a10);
      a11 = hn::MulAdd(b1, k1, a11);
      a20 = hn::MulAdd(b2, k0, a20);
      a21 = hn::MulAdd(b2, k1, a21);
      a30 = hn::MulAdd(b3, k0, a30);
      a31 = hn::MulAdd(b3, k1, a31);
    }
    hn::Store(hn::Mul(a00, vscale), d, s + c0);
    hn::Store(hn::Mul(a01, vscale), d, s + c0 + lanes);
    hn::Store(hn::Mul(a10, vscale), d, s + kT + c0);
    hn::Store(hn::Mul(a11, vscale), d, s + kT + c0 + lanes);
    hn::Store(hn::Mul(a20, vscale), d, s + 2 * kT + c0);
    hn::Store(hn::Mul(a21, vscale), d, s + 2 * kT + c0 + lanes);
    hn::Store(hn::Mul(a30, vscale), d, s + 3 * kT + c0);
    hn::Store(hn::Mul(a31, vscale), d, s + 3 * kT + c0 + lanes);
  }
  // Only reached when one vector holds the whole tile (lanes == kT).
  for (; c0 + lanes <= kT; c0 += lanes) {
    const float* qs[4] = {q0, q1, q2, q3};
    for (size_t r = 0; r < 4; ++r) {
      auto a = hn::Zero(d);
      for (size_t c = 0; c < dim; ++c) a = hn::MulAdd(hn::Set(d, qs[r][c]), hn::Load(d, kt + c * kT + c0), a);
      hn::Store(hn::Mul(a, vscale), d, s + r * kT + c0);
    }
  }
}

// The same for one row.
HWY_INLINE void ScoreRow1(const float* q0, const float* kt, size_t dim, float scale, float* s) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t kT = static_cast<size_t>(kAttentionKeyTile);
  const auto vscale = hn::Set(d, scale);
  size_t c0 = 0;
  for (; c0 + 2 * lanes <= kT; c0 += 2 * lanes) {
    auto a0 = hn::Zero(d), a1 = hn::Zero(d);
    for (size_t c = 0; c < dim; ++c) {
      const auto b0 = hn::Set(d, q0[c]);
      a0 = hn::MulAdd(b0, hn::Load(d, kt + c * kT + c0), a0);
      a1 = hn::MulAdd(b0, hn::Load(d, kt + c * kT + c0 + lanes), a1);
    }
    hn::Store(hn::Mul(a0, vscale), d, s + c0);
    hn::Store(hn::Mul(a1, vscale), d, s + c0 + lanes);
  }
  for (; c0 + lanes <= kT; c0 += lanes) {
    auto a = hn::Zero(d);
    for (size_t c = 0; c < dim; ++c) a = hn::MulAdd(hn::Set(d, q0[c]), hn::Load(d, kt + c * kT + c0), a);
    hn::Store(hn::Mul(a, vscale), d, s + c0);
  }
}

// o[r][0, dp) += sum_{j < nk} p[r][j] vp[j][0, dp) for rows [0, rows): 4
// rows x 2 vectors of head_dim per pass, then single rows / vectors.
HWY_INLINE void AccumulatePV(const float* p, const float* vp, size_t nk, size_t dp, size_t rows, float* o) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t kT = static_cast<size_t>(kAttentionKeyTile);
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* p0 = p + r * kT;
    float* o0 = o + r * dp;
    size_t c0 = 0;
    for (; c0 + 2 * lanes <= dp; c0 += 2 * lanes) {
      auto a00 = hn::Load(d, o0 + c0), a01 = hn::Load(d, o0 + c0 + lanes);
      auto a10 = hn::Load(d, o0 + dp + c0), a11 = hn::Load(d, o0 + dp + c0 + lanes);
      auto a20 = hn::Load(d, o0 + 2 * dp + c0), a21 = hn::Load(d, o0 + 2 * dp + c0 + lanes);
      auto a30 = hn::Load(d, o0 + 3 * dp + c0), a31 = hn::Load(d, o0 + 3 * dp + c0 + lanes);
      for (size_t j = 0; j < nk; ++j) {
        const auto v0 = hn::Load(d, vp + j * dp + c0);
        const auto v1 = hn::Load(d, vp + j * dp + c0 + lanes);
        const auto b0 = hn::Set(d, p0[j]);
        const auto b1 = hn::Set(d, p0[kT + j]);
        const auto b2 = hn::Set(d, p0[2 * kT + j]);
        const auto b3 = hn::Set(d, p0[3 * kT + j]);
        a00 = hn::MulAdd(b0, v0, a00);
        a01 = hn::MulAdd(b0, v1, a01);
        a10 = hn::MulAdd(b1, v0, a10);
        a11 = hn::MulAdd(b1, v1, a11);
        a20 = hn::MulAdd(b2, v0, a20);
        a21 = hn::MulAdd(b2, v1, a21);
        a30 = hn::MulAdd(b3, v0, a30);
        a31 = hn::MulAdd(b3, v1, a31);
      }
      hn::Store(a00, d, o0 + c0);
      hn::Store(a01, d, o0 + c0 + lanes);
      hn::Store(a10, d, o0 + dp + c0);
      hn::Store(a11, d, o0 + dp + c0 + lanes);
      hn::Store(a20, d, o0 + 2 * dp + c0);
      hn::Store(a21, d, o0 + 2 * dp + c0 + lanes);
      hn::Store(a30, d, o0 + 3 * dp + c0);
      hn::Store(a31, d, o0 + 3 * dp + c0 + lanes);
    }
    for (; c0 < dp; c0 += lanes) {  // dp is a multiple of lanes
      auto a0 = hn::Load(d, o0 + c0), a1 = hn::Load(d, o0 + dp + c0);
      auto a2 = hn::Load(d, o0 + 2 * dp + c0), a3 = hn::Load(d, o0 + 3 * dp + c0);
      for (size_t j = 0; j < nk; ++j) {
        const auto v0 = hn::Load(d, vp + j * dp + c0);
        a0 = hn::MulAdd(hn::Set(d, p0[j]), v0, a0);
        a1 = hn::MulAdd(hn::Set(d, p0[kT + j]), v0, a1);
        a2 = hn::MulAdd(hn::Set(d, p0[2 * kT + j]), v0, a2);
        a3 = hn::MulAdd(hn::Set(d, p0[3 * kT + j]), v0, a3);
      }
      hn::Store(a0, d, o0 + c0);
      hn::Store(a1, d, o0 + dp + c0);
      hn::Store(a2, d, o0 + 2 * dp + c0);
      hn::Store(a3, d, o0 + 3 * dp + c0);
    }
  }
  for (; r < rows; ++r) {
    const float* p0 = p + r * kT;
    float* o0 = o + r * dp;
    size_t c0 = 0;
    for (; c0 + 2 * lanes <= dp; c0 += 2 * lanes) {
      auto a0 = hn::Load(d, o0 + c0), a1 = hn::Load(d, o0 + c0 + lanes);
      for (size_t j = 0; j < nk; ++j) {
        const auto b = hn::Set(d, p0[j]);
        a0 = hn::MulAdd(b, hn::Load(d, vp + j * dp + c0), a0);
        a1 = hn::MulAdd(b, hn::Load(d, vp + j * dp + c0 + lanes), a1);
      }
      hn::Store(a0, d, o0 + c0);
      hn::Store(a1, d, o0 + c0 + lanes);
    }
    for (; c0 < dp; c0 += lanes) {
      auto a0 = hn::Load(d, o0 + c0);
      for (size_t j = 0; j < nk; ++j) a0 = hn::MulAdd(hn::Set(d, p0[j]), hn::Load(d, vp + j * dp + c0), a0);
      hn::Store(a0, d, o0 + c0);
    }
  }
}

// Online-softmax update of one row for one tile: turns the scores s[0, kT)
// into p in place, updates m, l and rescales o[0, dp). Returns false when
// the row has seen no visible key yet (then p is all zeros).
HWY_INLINE void SoftmaxUpdateRow(float* s, float* o, size_t dp, float& m, float& l) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t kT = static_cast<size_t>(kAttentionKeyTile);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  auto vmax = hn::Set(d, kNegInf);
  for (size_t j = 0; j < kT; j += lanes) vmax = hn::Max(vmax, hn::Load(d, s + j));
  const float tile_max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  const float m_new = tile_max > m ? tile_max : m;
  if (m_new == kNegInf) {  // nothing visible so far: contribute nothing
    for (size_t j = 0; j < kT; j += lanes) hn::Store(hn::Zero(d), d, s + j);
    return;
  }
  const auto vm = hn::Set(d, m_new);
  const auto neg_inf = hn::Set(d, kNegInf);
  auto sum = hn::Zero(d);
  for (size_t j = 0; j < kT; j += lanes) {
    const auto x = hn::Load(d, s + j);
    // Masked scores are -inf: their weight is exactly 0 (VecExp clamps its
    // argument, so it would not return 0 by itself).
    const auto p = hn::IfThenElseZero(hn::Gt(x, neg_inf), VecExp(d, hn::Sub(x, vm)));
    hn::Store(p, d, s + j);
    sum = hn::Add(sum, p);
  }
  const float tile_sum = hn::GetLane(hn::SumOfLanes(d, sum));
  if (m == kNegInf) {
    l = tile_sum;  // o is still zero
  } else if (m_new != m) {
    const float alpha = std::exp(m - m_new);
    l = l * alpha + tile_sum;
    const auto va = hn::Set(d, alpha);
    for (size_t c = 0; c < dp; c += lanes) hn::Store(hn::Mul(hn::Load(d, o + c), va), d, o + c);
  } else {
    l += tile_sum;
  }
  m = m_new;
}

// Key range of tile t: tiles cover [0, past_len) and then [past_len, total)
// in steps of kAttentionKeyTile, never straddling the boundary.
HWY_INLINE void AttentionTileRange(const AttentionF32Params& p, int64_t t, int64_t& j0, int64_t& nk) {
  const int64_t past_tiles = (p.past_len + kAttentionKeyTile - 1) / kAttentionKeyTile;
  if (t < past_tiles) {
    j0 = t * kAttentionKeyTile;
    nk = p.past_len - j0 < kAttentionKeyTile ? p.past_len - j0 : kAttentionKeyTile;
  } else {
    j0 = p.past_len + (t - past_tiles) * kAttentionKeyTile;
    const int64_t total = p.past_len + p.new_len;
    nk = total - j0 < kAttentionKeyTile ? total - j0 : kAttentionKeyTile;
  }
}

// Packs tiles [item_begin, item_end) of the (batch, kv head, tile) grid:
// K transposed into kt [head_dim][kT], V rows padded into vp [kT][dp], zeros
// for the keys a partial tile lacks. Done once per call, so every query
// block of every head sharing the kv head reads ready tiles.
HWY_INLINE void AttentionPackKVF32Impl(const AttentionF32Params& p, int64_t item_begin, int64_t item_end,
                                       float* packed) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t kT = static_cast<size_t>(kAttentionKeyTile);
  const size_t dim = static_cast<size_t>(p.head_dim);
  const size_t dp = (dim + lanes - 1) / lanes * lanes;
  const int64_t tiles = AttentionKVTiles(p.past_len, p.new_len);
  const int64_t tile_floats = AttentionTileFloats(p.head_dim);
  for (int64_t item = item_begin; item < item_end; ++item) {
    const int64_t t = item % tiles;
    const int64_t g = (item / tiles) % p.kv_num_heads;
    const int64_t b = item / (tiles * p.kv_num_heads);
    int64_t j0, nk_signed;
    AttentionTileRange(p, t, j0, nk_signed);
    const size_t nk = static_cast<size_t>(nk_signed);
    float* kt = packed + item * tile_floats;
    float* vp = kt + dim * kT;
    for (size_t jj = 0; jj < nk; ++jj) {
      const int64_t j = j0 + static_cast<int64_t>(jj);
      const float* krow;
      const float* vrow;
      if (j < p.past_len) {
        const int64_t off = ((b * p.kv_num_heads + g) * p.past_len + j) * p.head_dim;
        krow = p.k_past + off;
        vrow = p.v_past + off;
      } else {
        const int64_t off = (b * p.new_len + (j - p.past_len)) * p.kv_row_stride + g * p.head_dim;
        krow = p.k_new + off;
        vrow = p.v_new + off;
      }
      for (size_t c = 0; c < dim; ++c) kt[c * kT + jj] = krow[c];
      std::memcpy(vp + jj * dp, vrow, dim * sizeof(float));
      for (size_t c = dim; c < dp; ++c) vp[jj * dp + c] = 0.0f;
    }
    if (nk < kT) {
      for (size_t c = 0; c < dim; ++c) {
        for (size_t jj = nk; jj < kT; ++jj) kt[c * kT + jj] = 0.0f;
      }
      std::memset(vp + nk * dp, 0, (kT - nk) * dp * sizeof(float));
    }
  }
}

// Key row j of kv head g in batch b (past in head layout, new in token
// layout); the same for V with `v` true.
HWY_INLINE const float* AttentionKeyRow(const AttentionF32Params& p, int64_t b, int64_t g, int64_t j, bool v) {
  if (j < p.past_len) {
    return (v ? p.v_past : p.k_past) + ((b * p.kv_num_heads + g) * p.past_len + j) * p.head_dim;
  }
  return (v ? p.v_new : p.k_new) + (b * p.new_len + (j - p.past_len)) * p.kv_row_stride + g * p.head_dim;
}

// The direct path for few query rows per kv head (decoding: q_len 1): the
// packed path would copy every cached key and value to use it once, so here
// each row reads K and V in place. Scores are dot products along head_dim
// (four keys at a time, whole vectors then one-lane tail), the online
// softmax is the same, and o += p_j v_j reads V rows with a one-lane tail.
// Tiles and their order are those of the packed path.
HWY_INLINE void AttentionDirectF32Impl(const AttentionF32Params& p, int64_t unit_begin, int64_t unit_end,
                                       float* scratch) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t kT = static_cast<size_t>(kAttentionKeyTile);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t dim = static_cast<size_t>(p.head_dim);
  const size_t dp = (dim + lanes - 1) / lanes * lanes;
  float* s = scratch;
  float* o = s + kT;
  const int64_t q_blocks = (p.q_len + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
  const int64_t group = p.num_heads / p.kv_num_heads;
  const int64_t total = p.past_len + p.new_len;
  const int64_t tiles = AttentionKVTiles(p.past_len, p.new_len);
  for (int64_t u = unit_begin; u < unit_end; ++u) {
    const int64_t b = u / (p.num_heads * q_blocks);
    const int64_t h = (u / q_blocks) % p.num_heads;
    const int64_t i0 = (u % q_blocks) * kAttentionQueryBlock;
    const int64_t i1 = p.q_len - i0 < kAttentionQueryBlock ? p.q_len : i0 + kAttentionQueryBlock;
    const int64_t g = h / group;
    for (int64_t i = i0; i < i1; ++i) {
      const float* q = p.q + (b * p.q_len + i) * p.q_row_stride + h * p.head_dim;
      std::memset(o, 0, dp * sizeof(float));
      float m = kNegInf, l = 0.0f;
      const int64_t key_end = p.causal && p.causal_offset + i + 1 < total ? p.causal_offset + i + 1 : total;
      for (int64_t t = 0; t < tiles; ++t) {
        int64_t j0, nk_signed;
        AttentionTileRange(p, t, j0, nk_signed);
        if (j0 >= key_end) continue;
        if (j0 + nk_signed > key_end) nk_signed = key_end - j0;
        const size_t nk = static_cast<size_t>(nk_signed);
        size_t jj = 0;
        for (; jj + 4 <= nk; jj += 4) {
          const int64_t j = j0 + static_cast<int64_t>(jj);
          const float* k0 = AttentionKeyRow(p, b, g, j, false);
          const float* k1 = AttentionKeyRow(p, b, g, j + 1, false);
          const float* k2 = AttentionKeyRow(p, b, g, j + 2, false);
          const float* k3 = AttentionKeyRow(p, b, g, j + 3, false);
          auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
          size_t c = 0;
          for (; c + lanes <= dim; c += lanes) {
            const auto qv = hn::LoadU(d, q + c);
            a0 = hn::MulAdd(qv, hn::LoadU(d, k0 + c), a0);
            a1 = hn::MulAdd(qv, hn::LoadU(d, k1 + c), a1);
            a2 = hn::MulAdd(qv, hn::LoadU(d, k2 + c), a2);
            a3 = hn::MulAdd(qv, hn::LoadU(d, k3 + c), a3);
          }
          float d0 = hn::GetLane(hn::SumOfLanes(d, a0)), d1s = hn::GetLane(hn::SumOfLanes(d, a1));
          float d2 = hn::GetLane(hn::SumOfLanes(d, a2)), d3 = hn::GetLane(hn::SumOfLanes(d, a3));
          for (; c < dim; ++c) {
            d0 += q[c] * k0[c];
            d1s += q[c] * k1[c];
            d2 += q[c] * k2[c];
            d3 += q[c] * k3[c];
          }
          s[jj] = d0 * p.scale;
          s[jj + 1] = d1s * p.scale;
          s[jj + 2] = d2 * p.scale;
          s[jj + 3] = d3 * p.scale;
        }
        for (; jj < nk; ++jj) {
          const float* k0 = AttentionKeyRow(p, b, g, j0 + static_cast<int64_t>(jj), false);
          auto a0 = hn::Zero(d);
          size_t c = 0;
          for (; c + lanes <= dim; c += lanes) a0 = hn::MulAdd(hn::LoadU(d, q + c), hn::LoadU(d, k0 + c), a0);
          float d0 = hn::GetLane(hn::SumOfLanes(d, a0));
          for (; c < dim; ++c) d0 += q[c] * k0[c];
          s[jj] = d0 * p.scale;
        }
        for (jj = nk; jj < kT; ++jj) s[jj] = kNegInf;
        if (p.mask_type != AttentionMaskType::kNone) {
          const int64_t base = b * p.mask_strides[0] + h * p.mask_strides[1] + i * p.mask_strides[2];
          for (jj = 0; jj < nk; ++jj) {
            s[jj] += MaskTerm(p.mask_type, p.mask, base + (j0 + static_cast<int64_t>(jj)) * p.mask_strides[3]);
          }
        }
        SoftmaxUpdateRow(s, o, dp, m, l);
        for (jj = 0; jj < nk; ++jj) {
          if (s[jj] == 0.0f) continue;  // hidden key (or a weight that underflowed): adds nothing
          const float* vrow = AttentionKeyRow(p, b, g, j0 + static_cast<int64_t>(jj), true);
          const auto w = hn::Set(d, s[jj]);
          size_t c = 0;
          for (; c + lanes <= dim; c += lanes) {
            hn::Store(hn::MulAdd(w, hn::LoadU(d, vrow + c), hn::Load(d, o + c)), d, o + c);
          }
          for (; c < dim; ++c) o[c] += s[jj] * vrow[c];
        }
      }
      float* yrow = p.y + (b * p.q_len + i) * p.y_row_stride + h * p.head_dim;
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      const auto vinv = hn::Set(d, inv);
      size_t c = 0;
      for (; c + lanes <= dim; c += lanes) hn::StoreU(hn::Mul(hn::Load(d, o + c), vinv), d, yrow + c);
      const auto vinv1 = hn::Set(d1, inv);
      for (; c < dim; ++c) hn::StoreU(hn::Mul(hn::LoadU(d1, o + c), vinv1), d1, yrow + c);
    }
  }
}

HWY_INLINE void AttentionF32Impl(const AttentionF32Params& p, const float* packed, int64_t unit_begin,
                                 int64_t unit_end, float* scratch) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t kT = static_cast<size_t>(kAttentionKeyTile);
  constexpr size_t kQ = static_cast<size_t>(kAttentionQueryBlock);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t dim = static_cast<size_t>(p.head_dim);
  const size_t dp = (dim + lanes - 1) / lanes * lanes;
  // Scratch layout (AttentionScratchFloats reserves o rows of dp rounded to 64).
  const size_t dp_max = (dim + 63) / 64 * 64;
  float* s = scratch;
  float* o = s + kQ * kT;
  float* mrow = o + kQ * dp_max;
  float* lrow = mrow + kQ;

  const int64_t q_blocks = (p.q_len + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
  const int64_t group = p.num_heads / p.kv_num_heads;
  const int64_t total = p.past_len + p.new_len;
  const int64_t tiles = AttentionKVTiles(p.past_len, p.new_len);
  const int64_t tile_floats = AttentionTileFloats(p.head_dim);

  for (int64_t u = unit_begin; u < unit_end; ++u) {
    const int64_t b = u / (p.num_heads * q_blocks);
    const int64_t h = (u / q_blocks) % p.num_heads;
    const int64_t i0 = (u % q_blocks) * kAttentionQueryBlock;
    const size_t rows = static_cast<size_t>(p.q_len - i0 < kAttentionQueryBlock ? p.q_len - i0 : kAttentionQueryBlock);
    const int64_t g = h / group;

    std::memset(o, 0, rows * dp * sizeof(float));
    for (size_t r = 0; r < rows; ++r) {
      mrow[r] = kNegInf;
      lrow[r] = 0.0f;
    }
    const float* qrow[kQ];
    for (size_t r = 0; r < rows; ++r) {
      qrow[r] = p.q + (b * p.q_len + i0 + static_cast<int64_t>(r)) * p.q_row_stride + h * p.head_dim;
    }
    // Keys the block's last row may see; later tiles are skipped whole.
    int64_t key_end = total;
    if (p.causal) {
      const int64_t last_visible = p.causal_offset + i0 + static_cast<int64_t>(rows) - 1;
      if (last_visible + 1 < key_end) key_end = last_visible + 1;
    }

    for (int64_t t = 0; t < tiles; ++t) {
      int64_t j0, nk_signed;
      AttentionTileRange(p, t, j0, nk_signed);
      if (j0 >= key_end) continue;
      if (j0 + nk_signed > key_end) nk_signed = key_end - j0;
      const size_t nk = static_cast<size_t>(nk_signed);
      const float* kt = packed + ((b * p.kv_num_heads + g) * tiles + t) * tile_floats;
      const float* vp = kt + dim * kT;

      // Scores for the block's rows.
      size_t r = 0;
      for (; r + 4 <= rows; r += 4) {
        ScoreRows4(qrow[r], qrow[r + 1], qrow[r + 2], qrow[r + 3], kt, dim, p.scale, s + r * kT);
      }
      for (; r < rows; ++r) ScoreRow1(qrow[r], kt, dim, p.scale, s + r * kT);

      // Masks, inside the tile: missing keys, causal, then the user mask.
      for (r = 0; r < rows; ++r) {
        float* srow = s + r * kT;
        for (size_t jj = nk; jj < kT; ++jj) srow[jj] = kNegInf;
        const int64_t i = i0 + static_cast<int64_t>(r);
        if (p.causal) {
          const int64_t limit = p.causal_offset + i;  // last visible key
          for (int64_t j = limit + 1 - j0 > 0 ? limit + 1 - j0 : 0; j < nk_signed; ++j) srow[j] = kNegInf;
        }
        if (p.mask_type != AttentionMaskType::kNone) {
          const int64_t base = b * p.mask_strides[0] + h * p.mask_strides[1] + i * p.mask_strides[2];
          for (size_t jj = 0; jj < nk; ++jj) {
            srow[jj] += MaskTerm(p.mask_type, p.mask, base + (j0 + static_cast<int64_t>(jj)) * p.mask_strides[3]);
          }
        }
        SoftmaxUpdateRow(srow, o + r * dp, dp, mrow[r], lrow[r]);
      }

      AccumulatePV(s, vp, nk, dp, rows, o);
    }

    // y = o / l; rows that saw no visible key (l == 0) are zeros.
    for (size_t r = 0; r < rows; ++r) {
      float* yrow = p.y + (b * p.q_len + i0 + static_cast<int64_t>(r)) * p.y_row_stride + h * p.head_dim;
      const float* orow = o + r * dp;
      const float inv = lrow[r] > 0.0f ? 1.0f / lrow[r] : 0.0f;
      const auto vinv = hn::Set(d, inv);
      size_t c = 0;
      for (; c + lanes <= dim; c += lanes) hn::StoreU(hn::Mul(hn::Load(d, orow + c), vinv), d, yrow + c);
      const auto vinv1 = hn::Set(d1, inv);
      for (; c < dim; ++c) hn::StoreU(hn::Mul(hn::LoadU(d1, orow + c), vinv1), d1, yrow + c);
    }
  }
}

// ---------------------------------------------------------------------------
// Additive attention (Bahdanau et al. 2015, eq. 6 and A.1.2): after the
// projections keys = W1 h and qp = W2 s, per batch row
//   e_j = v . tanh(keys_j + qp) for j < len, a = softmax(e), c = sum_j a_j h_j.
// Scores are vectors along attn_dim with a one-lane tail, tanh is VecTanh;
// the softmax runs over the len visible positions (positions >= len get
// weight 0, and len == 0 gives zero weights and a zero context). The context
// accumulates rows of h in j order along enc_dim. A batch row is computed
// whole by one call.
HWY_INLINE void AdditiveAttentionF32Impl(const float* keys, const float* qp, const float* v, const float* memory,
                                         const int64_t* lengths, int64_t src_len, int64_t attn_dim,
                                         int64_t enc_dim, float* weights, float* context, int64_t b_begin,
                                         int64_t b_end) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  const size_t na = static_cast<size_t>(attn_dim);
  const size_t ne = static_cast<size_t>(enc_dim);
  for (int64_t b = b_begin; b < b_end; ++b) {
    const int64_t len = lengths != nullptr ? lengths[b] : src_len;
    const float* q = qp + b * attn_dim;
    float* w = weights + b * src_len;
    float max_score = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < len; ++j) {
      const float* k = keys + (b * src_len + j) * attn_dim;
      auto acc = hn::Zero(d);
      size_t a = 0;
      for (; a + lanes <= na; a += lanes) {
        const auto t = VecTanh(d, hn::Add(hn::LoadU(d, k + a), hn::LoadU(d, q + a)));
        acc = hn::MulAdd(hn::LoadU(d, v + a), t, acc);
      }
      float e = hn::GetLane(hn::SumOfLanes(d, acc));
      for (; a < na; ++a) {
        const auto t = VecTanh(d1, hn::Add(hn::LoadU(d1, k + a), hn::LoadU(d1, q + a)));
        e += v[a] * hn::GetLane(t);
      }
      w[j] = e;
      if (e > max_score) max_score = e;
    }
    // Softmax over the visible positions.
    float sum = 0.0f;
    {
      const auto vmax = hn::Set(d, max_score);
      auto vsum = hn::Zero(d);
      size_t j = 0;
      const size_t n = static_cast<size_t>(len);
      for (; j + lanes <= n; j += lanes) {
        const auto e = VecExp(d, hn::Sub(hn::LoadU(d, w + j), vmax));
        hn::StoreU(e, d, w + j);
        vsum = hn::Add(vsum, e);
      }
      sum = hn::GetLane(hn::SumOfLanes(d, vsum));
      const auto vmax1 = hn::Set(d1, max_score);
      for (; j < n; ++j) {
        const auto e = VecExp(d1, hn::Sub(hn::LoadU(d1, w + j), vmax1));
        hn::StoreU(e, d1, w + j);
        sum += hn::GetLane(e);
      }
    }
    const float inv = len > 0 ? 1.0f / sum : 0.0f;
    for (int64_t j = 0; j < len; ++j) w[j] *= inv;
    for (int64_t j = len; j < src_len; ++j) w[j] = 0.0f;

    // Context, accumulated in j order.
    float* c = context + b * enc_dim;
    std::memset(c, 0, ne * sizeof(float));
    for (int64_t j = 0; j < len; ++j) {
      const float* hrow = memory + (b * src_len + j) * enc_dim;
      const auto wj = hn::Set(d, w[j]);
      size_t e = 0;
      for (; e + lanes <= ne; e += lanes) {
        hn::StoreU(hn::MulAdd(wj, hn::LoadU(d, hrow + e), hn::LoadU(d, c + e)), d, c + e);
      }
      const auto wj1 = hn::Set(d1, w[j]);
      for (; e < ne; ++e) hn::StoreU(hn::MulAdd(wj1, hn::LoadU(d1, hrow + e), hn::LoadU(d1, c + e)), d1, c + e);
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
