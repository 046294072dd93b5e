// SIMD gate epilogues of the recurrent family, compiled once per Highway
// target.
//
// Maths (ONNX RNN-14, GRU-14, LSTM-14; "." is the elementwise product,
// x_t W^T + Wb is the input projection done for all steps by one GEMM,
// H_{t-1} R^T the per-step recurrent GEMM; clip, when set, clamps every
// pre-activation to [-clip, clip] before f or g):
//   RNN:  H_t = f(x_t Wi^T + H_{t-1} Ri^T + Wbi + Rbi)
//   GRU (gates z, r, h):
//         z = f(x_t Wz^T + H_{t-1} Rz^T + Wbz + Rbz)
//         r = f(x_t Wr^T + H_{t-1} Rr^T + Wbr + Rbr)
//         linear_before_reset 0: h = g(x_t Wh^T + (r . H_{t-1}) Rh^T + Rbh + Wbh)
//         linear_before_reset 1: h = g(x_t Wh^T + r . (H_{t-1} Rh^T + Rbh) + Wbh)
//         H_t = (1 - z) . h + z . H_{t-1}
//   LSTM (gates i, o, f, c; peepholes P = [Pi, Po, Pf]):
//         i = f(x_t Wi^T + H_{t-1} Ri^T + Pi . C_{t-1} + Wbi + Rbi)
//         f = f(x_t Wf^T + H_{t-1} Rf^T + Pf . C_{t-1} + Wbf + Rbf)
//             (input_forget 1 couples the gates: f = 1 - i)
//         c = g(x_t Wc^T + H_{t-1} Rc^T + Wbc + Rbc)
//         C_t = f . C_{t-1} + i . c
//         o = f(x_t Wo^T + H_{t-1} Ro^T + Po . C_t + Wbo + Rbo)
//         H_t = o . h(C_t)
// Biases: the driver folds Wb + Rb into the input projection for every gate
// except GRU's candidate under linear_before_reset 1, where only Wbh is
// folded and Rbh (rbh) is added to the recurrent product here, because r
// scales it.
//
// Activations: Sigmoid and Tanh are VecSigmoid / VecTanh
// (elementwise-inl.h: each within 3 ulp); Elu uses hwy::Expm1 and Softplus
// max(x, 0) + log1p(e^-|x|) with hwy::Log1p (each within a few ulp; the
// split form never overflows); the rest are one or two IEEE operations.
//
// Layout
//   Projection rows are gate-major: gates * H floats, gate g's hidden
//   element j at g * H + j, in ONNX's gate order (see above). R is packed
//   per unit (rnn.h): a unit (direction, block of 64 hidden elements) owns
//   the columns of all gates of its block, in chunks of two vectors by H
//   rows, so the product streams each chunk once, contiguously, for all
//   batch rows, and leaves [batch, gates * w] in a unit-private buffer that
//   the epilogue reads while it is in L1. State rows are [batch, H]; every
//   unit reads all of H_{t-1}, so H_t goes to a second buffer (the driver
//   swaps them), while the cell state, read and written only at its own
//   element, is updated in place.
//
// Product kernels
//   Eight batch rows by one chunk (16 accumulators) while eight rows
//   remain, on targets with 32 vector registers; then six by one (12), then
//   four by one (8), then single rows (the batch-1 matrix-vector case) by
//   up to six chunks at once (two independent chains per chunk). Each output is one FMA chain over k in
//   increasing order whichever kernel computes it.
//
// Tail contract
//   Chunks past a block's last column are zero-padded in the packing, so
//   the product never needs a column tail; it stores whole chunks into the
//   unit buffer, whose rows are padded to whole chunks. The epilogue reads
//   and writes only the block's w elements: whole vectors, then one-lane
//   vectors (CappedTag<float, 1>) through the same code.
//
// Partitioning
//   Callers split units (direction, hidden block, row group) over threads;
//   a unit is computed whole by one call and writes only its own block and
//   rows of H_t, C_t, Y and its own product buffer, and nothing is reduced across units, so 1-thread and N-thread
//   results are bitwise equal.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_RNN_RNN_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_RNN_RNN_INL_H_
#undef TESSERA_OPS_RNN_RNN_INL_H_
#else
#define TESSERA_OPS_RNN_RNN_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/elementwise/elementwise-inl.h"
#include "ops/rnn/rnn.h"
#include "ops/vector_registers-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One ONNX activation. The switch is on a per-node constant, so it is
// perfectly predicted and costs far less than the transcendental it picks.
template <class D, class V>
HWY_INLINE V RnnActivate(D d, V x, const RnnActivation& a) {
  switch (a.kind) {
    case RnnActivationKind::kRelu:
      return VecRelu(d, x);
    case RnnActivationKind::kTanh:
      return VecTanh(d, x);
    case RnnActivationKind::kSigmoid:
      return VecSigmoid(d, x);
    case RnnActivationKind::kAffine:
      return hn::MulAdd(hn::Set(d, a.alpha), x, hn::Set(d, a.beta));
    case RnnActivationKind::kLeakyRelu:
      return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(hn::Set(d, a.alpha), x), x);
    case RnnActivationKind::kThresholdedRelu:
      return hn::IfThenElseZero(hn::Gt(x, hn::Set(d, a.alpha)), x);
    case RnnActivationKind::kScaledTanh:
      return hn::Mul(hn::Set(d, a.alpha), VecTanh(d, hn::Mul(hn::Set(d, a.beta), x)));
    case RnnActivationKind::kHardSigmoid: {
      const V v = hn::MulAdd(hn::Set(d, a.alpha), x, hn::Set(d, a.beta));
      return hn::Min(hn::Max(v, hn::Zero(d)), hn::Set(d, 1.0f));
    }
    case RnnActivationKind::kElu: {
      // Expm1 only on the negative side (its valid range ends at +88).
      const V neg = hn::Min(x, hn::Zero(d));
      return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(hn::Set(d, a.alpha), hn::Expm1(d, neg)), x);
    }
    case RnnActivationKind::kSoftsign:
      return hn::Div(x, hn::Add(hn::Set(d, 1.0f), hn::Abs(x)));
    case RnnActivationKind::kSoftplus: {
      // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): e^-|x| is in (0, 1].
      const V e = VecExp(d, hn::Neg(hn::Abs(x)));
      return hn::Add(hn::Max(x, hn::Zero(d)), hn::Log1p(d, e));
    }
  }
  return x;
}

template <class D, class V>
HWY_INLINE V Clip(D d, V x, bool has_clip, float clip) {
  if (!has_clip) return x;
  return hn::Min(hn::Max(x, hn::Set(d, -clip)), hn::Set(d, clip));
}

// ---------------------------------------------------------------------------
// The recurrent product of one unit: out[r * ldo + l] = sum_k a[r * lda + k]
// * P[k][l] over the unit's chunks (P as packed, see rnn.h). Every output is
// one FMA chain over k in increasing order, whichever tile computes it, so
// the tiling below changes nothing in the results.

// Floats per chunk row: two vectors, as the packing assumed.
HWY_INLINE size_t ChunkWidth() {
  const hn::ScalableTag<float> d;
  return 2 * hn::Lanes(d);
}

// kRows (4 to 8) rows by one chunk: 2 * kRows accumulators, 2 loads and
// kRows broadcasts per 2 * kRows FMAs. Six rows (12 accumulators) is the
// largest tile that does not spill with 16 vector registers (AVX2, SSE4);
// targets with 32 (AVX-512, NEON, SVE) take eight (kProductTileRows); four
// (8 chains) just covers the FMA latency x throughput product.
inline constexpr size_t kProductTileRows = kVectorRegisters == 32 ? 8 : 6;
#define TSR_RNN_ROW_FMA(r)                        \
  if constexpr (kRows > r) {                      \
    const auto av = hn::Set(d, a[r * lda + q]);   \
    c##r##0 = hn::MulAdd(av, b0, c##r##0);        \
    c##r##1 = hn::MulAdd(av, b1, c##r##1);        \
  }
#define TSR_RNN_ROW_STORE(r)                      \
  if constexpr (kRows > r) {                      \
    hn::StoreU(c##r##0, d, out + r * ldo);        \
    hn::StoreU(c##r##1, d, out + r * ldo + n);    \
  }
template <size_t kRows>
HWY_INLINE void ProductRows(const float* HWY_RESTRICT a, size_t lda, const float* HWY_RESTRICT panel, size_t k,
                            float* HWY_RESTRICT out, size_t ldo) {
  static_assert(kRows >= 4 && kRows <= 8, "four to eight rows");
  const hn::ScalableTag<float> d;
  const size_t n = hn::Lanes(d);
  auto c00 = hn::Zero(d), c01 = hn::Zero(d), c10 = hn::Zero(d), c11 = hn::Zero(d);
  auto c20 = hn::Zero(d), c21 = hn::Zero(d), c30 = hn::Zero(d), c31 = hn::Zero(d);
  auto c40 = hn::Zero(d), c41 = hn::Zero(d), c50 = hn::Zero(d), c51 = hn::Zero(d);
  auto c60 = hn::Zero(d), c61 = hn::Zero(d), c70 = hn::Zero(d), c71 = hn::Zero(d);
  for (size_t q = 0; q < k; ++q) {
    const auto b0 = hn::Load(d, panel + q * 2 * n);
    const auto b1 = hn::Load(d, panel + q * 2 * n + n);
    TSR_RNN_ROW_FMA(0)
    TSR_RNN_ROW_FMA(1)
    TSR_RNN_ROW_FMA(2)
    TSR_RNN_ROW_FMA(3)
    TSR_RNN_ROW_FMA(4)
    TSR_RNN_ROW_FMA(5)
    TSR_RNN_ROW_FMA(6)
    TSR_RNN_ROW_FMA(7)
  }
  TSR_RNN_ROW_STORE(0)
  TSR_RNN_ROW_STORE(1)
  TSR_RNN_ROW_STORE(2)
  TSR_RNN_ROW_STORE(3)
  TSR_RNN_ROW_STORE(4)
  TSR_RNN_ROW_STORE(5)
  TSR_RNN_ROW_STORE(6)
  TSR_RNN_ROW_STORE(7)
}
#undef TSR_RNN_ROW_FMA
#undef TSR_RNN_ROW_STORE

// One row by kChunks (1 to 6) chunks, the batch-1 case: 2 * kChunks
// independent FMA chains, each row value used once. Four or more chunks
// (8+ chains) hide the FMA latency; fewer are latency-bound, so a unit's
// chunks go in as few calls as possible (UnitProduct).
#define TSR_RNN_CHUNK_FMA(i)                                          \
  if constexpr (kChunks > i) {                                        \
    c##i##0 = hn::MulAdd(av, hn::Load(d, panels + i * chunk + o), c##i##0);     \
    c##i##1 = hn::MulAdd(av, hn::Load(d, panels + i * chunk + o + n), c##i##1); \
  }
#define TSR_RNN_CHUNK_STORE(i)                      \
  if constexpr (kChunks > i) {                      \
    hn::StoreU(c##i##0, d, out + 2 * i * n);        \
    hn::StoreU(c##i##1, d, out + (2 * i + 1) * n);  \
  }
template <size_t kChunks>
HWY_INLINE void ProductRow1Chunks(const float* HWY_RESTRICT a, const float* HWY_RESTRICT panels, size_t k,
                                  float* HWY_RESTRICT out) {
  static_assert(kChunks >= 1 && kChunks <= 6, "one to six chunks");
  const hn::ScalableTag<float> d;
  const size_t n = hn::Lanes(d);
  const size_t chunk = k * 2 * n;  // floats per chunk
  auto c00 = hn::Zero(d), c01 = hn::Zero(d), c10 = hn::Zero(d), c11 = hn::Zero(d);
  auto c20 = hn::Zero(d), c21 = hn::Zero(d), c30 = hn::Zero(d), c31 = hn::Zero(d);
  auto c40 = hn::Zero(d), c41 = hn::Zero(d), c50 = hn::Zero(d), c51 = hn::Zero(d);
  for (size_t q = 0; q < k; ++q) {
    const auto av = hn::Set(d, a[q]);
    const size_t o = q * 2 * n;
    TSR_RNN_CHUNK_FMA(0)
    TSR_RNN_CHUNK_FMA(1)
    TSR_RNN_CHUNK_FMA(2)
    TSR_RNN_CHUNK_FMA(3)
    TSR_RNN_CHUNK_FMA(4)
    TSR_RNN_CHUNK_FMA(5)
  }
  TSR_RNN_CHUNK_STORE(0)
  TSR_RNN_CHUNK_STORE(1)
  TSR_RNN_CHUNK_STORE(2)
  TSR_RNN_CHUNK_STORE(3)
  TSR_RNN_CHUNK_STORE(4)
  TSR_RNN_CHUNK_STORE(5)
}
#undef TSR_RNN_CHUNK_FMA
#undef TSR_RNN_CHUNK_STORE

// One row by `chunks` chunks in as few ProductRow1Chunks calls as
// possible: fours while more than six remain, then the rest in one call.
// A unit has 2 chunks per gate on AVX-512 (64 hidden elements, 32-float
// chunks): a plain RNN's 2 and a GRU candidate phase's 2 are one call of 4
// chains, a GRU's 6 (linear_before_reset 1) one of 12, where fours and then
// single chunks (2 chains, FMA-latency-bound) ran them as 1 + 1 and
// 4 + 1 + 1. Paired with that split on Zen 5 (8
// repetitions): GRU h256 1.10x on one thread, RNN h256 1.10x and RNN h512
// 1.17-1.21x, GRU h512 1.02x; the LSTM (8 chunks, two fours) is unchanged.
// Each output is the same FMA chain either way.
HWY_INLINE void ProductRow1(const float* HWY_RESTRICT a, const float* HWY_RESTRICT panels, size_t k, size_t chunks,
                            float* HWY_RESTRICT out) {
  const size_t cw = ChunkWidth();
  const size_t chunk = k * cw;
  size_t c = 0;
  for (; chunks - c > 6; c += 4) ProductRow1Chunks<4>(a, panels + c * chunk, k, out + c * cw);
  switch (chunks - c) {
    case 6: return ProductRow1Chunks<6>(a, panels + c * chunk, k, out + c * cw);
    case 5: return ProductRow1Chunks<5>(a, panels + c * chunk, k, out + c * cw);
    case 4: return ProductRow1Chunks<4>(a, panels + c * chunk, k, out + c * cw);
    case 3: return ProductRow1Chunks<3>(a, panels + c * chunk, k, out + c * cw);
    case 2: return ProductRow1Chunks<2>(a, panels + c * chunk, k, out + c * cw);
    case 1: return ProductRow1Chunks<1>(a, panels + c * chunk, k, out + c * cw);
    default: return;
  }
}

// rows x (chunks * chunk width) product of one unit into out (row stride ldo).
HWY_INLINE void UnitProduct(const float* a, size_t rows, size_t k, const float* panels, size_t chunks, float* out,
                            size_t ldo) {
  const size_t cw = ChunkWidth();
  const size_t chunk = k * cw;
  size_t r = 0;
  // Each row tile streams the unit's chunks once, so fewer, taller tiles
  // read R less often: 16 batch rows are two 8-row tiles on 32-register
  // targets (three tiles, 6 + 6 + 4, with 16 registers), which made the
  // batch-16 cases 1.01-1.05x as fast on AVX-512 (Zen 5; medians of 10
  // paired repetitions, every case and thread count).
  if constexpr (kProductTileRows == 8) {
    for (; r + 8 <= rows; r += 8) {
      for (size_t c = 0; c < chunks; ++c) ProductRows<8>(a + r * k, k, panels + c * chunk, k, out + r * ldo + c * cw, ldo);
    }
  }
  for (; r + 6 <= rows; r += 6) {
    for (size_t c = 0; c < chunks; ++c) ProductRows<6>(a + r * k, k, panels + c * chunk, k, out + r * ldo + c * cw, ldo);
  }
  for (; r + 4 <= rows; r += 4) {
    for (size_t c = 0; c < chunks; ++c) ProductRows<4>(a + r * k, k, panels + c * chunk, k, out + r * ldo + c * cw, ldo);
  }
  for (; r < rows; ++r) ProductRow1(a + r * k, panels, k, chunks, out + r * ldo);
}

// ---------------------------------------------------------------------------
// Gate epilogues. Pointers are already offset to the unit's first hidden
// element j0; gate g of element jj is at xw + g * xs + jj in the projection
// row and at g_row + g * gs + jj in the unit's product row. Functors (not
// generic lambdas, which would not reliably inherit the target attributes)
// so the span loop can call one templated operator() for full and one-lane
// vectors.
struct RowPtrs {
  const float* xw = nullptr;
  size_t xs = 0;
  const float* g = nullptr;
  size_t gs = 0;
  const float* h_prev = nullptr;
  float* h_next = nullptr;
  float* c = nullptr;
  float* y = nullptr;
  float* z = nullptr;
  float* rh = nullptr;
  const float* peephole = nullptr;  // stride xs between i, o, f
  const float* rbh = nullptr;
};

// A gate's pre-activation: projection + recurrent product.
template <class D>
HWY_INLINE hn::Vec<D> GateInput(D d, const RowPtrs& r, size_t gate_xw, size_t gate_prod, size_t j) {
  return hn::Add(hn::LoadU(d, r.xw + gate_xw * r.xs + j), hn::LoadU(d, r.g + gate_prod * r.gs + j));
}

struct CellParams {
  const RnnActivation* act;
  bool has_clip;
  float clip;
  bool input_forget;
  bool linear_before_reset;
};

template <class D>
HWY_INLINE void StoreState(D d, const RowPtrs& r, hn::Vec<D> h, size_t j) {
  hn::StoreU(h, d, r.h_next + j);
  if (r.y != nullptr) hn::StoreU(h, d, r.y + j);
}

struct RnnCellFn {
  RowPtrs r;
  CellParams cp;
  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    StoreState(d, r, RnnActivate(d, Clip(d, GateInput(d, r, 0, 0, j), cp.has_clip, cp.clip), cp.act[0]), j);
  }
};

struct LstmCellFn {
  RowPtrs r;
  CellParams cp;
  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    const auto one = hn::Set(d, 1.0f);
    const auto c_prev = hn::LoadU(d, r.c + j);
    auto pi = GateInput(d, r, 0, 0, j);
    auto po = GateInput(d, r, 1, 1, j);
    auto pf = GateInput(d, r, 2, 2, j);
    const auto pc = Clip(d, GateInput(d, r, 3, 3, j), cp.has_clip, cp.clip);
    if (r.peephole != nullptr) {
      pi = hn::MulAdd(hn::LoadU(d, r.peephole + j), c_prev, pi);
      pf = hn::MulAdd(hn::LoadU(d, r.peephole + 2 * r.xs + j), c_prev, pf);
    }
    const auto i = RnnActivate(d, Clip(d, pi, cp.has_clip, cp.clip), cp.act[0]);
    const auto f = cp.input_forget ? hn::Sub(one, i) : RnnActivate(d, Clip(d, pf, cp.has_clip, cp.clip), cp.act[0]);
    const auto g = RnnActivate(d, pc, cp.act[1]);
    const auto c_new = hn::MulAdd(f, c_prev, hn::Mul(i, g));
    if (r.peephole != nullptr) po = hn::MulAdd(hn::LoadU(d, r.peephole + r.xs + j), c_new, po);
    const auto o = RnnActivate(d, Clip(d, po, cp.has_clip, cp.clip), cp.act[0]);
    hn::StoreU(c_new, d, r.c + j);
    StoreState(d, r, hn::Mul(o, RnnActivate(d, c_new, cp.act[2])), j);
  }
};

// GRU (linear_before_reset 0) phase 1: z into r.z, r . H_{t-1} into r.rh.
struct GruResetFn {
  RowPtrs r;
  CellParams cp;
  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    const auto z = RnnActivate(d, Clip(d, GateInput(d, r, 0, 0, j), cp.has_clip, cp.clip), cp.act[0]);
    const auto rr = RnnActivate(d, Clip(d, GateInput(d, r, 1, 1, j), cp.has_clip, cp.clip), cp.act[0]);
    hn::StoreU(z, d, r.z + j);
    hn::StoreU(hn::Mul(rr, hn::LoadU(d, r.h_prev + j)), d, r.rh + j);
  }
};

struct GruUpdateFn {
  RowPtrs r;
  CellParams cp;
  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    const auto h_prev = hn::LoadU(d, r.h_prev + j);
    hn::Vec<D> z, candidate_in;
    if (cp.linear_before_reset) {
      // Product gates z, r, h (all from H_{t-1}).
      z = RnnActivate(d, Clip(d, GateInput(d, r, 0, 0, j), cp.has_clip, cp.clip), cp.act[0]);
      const auto rr = RnnActivate(d, Clip(d, GateInput(d, r, 1, 1, j), cp.has_clip, cp.clip), cp.act[0]);
      const auto recurrent = hn::Add(hn::LoadU(d, r.g + 2 * r.gs + j), hn::LoadU(d, r.rbh + j));
      candidate_in = hn::MulAdd(rr, recurrent, hn::LoadU(d, r.xw + 2 * r.xs + j));
    } else {
      // Product gate 0 is (r . H_{t-1}) Rh^T.
      z = hn::LoadU(d, r.z + j);
      candidate_in = GateInput(d, r, 2, 0, j);
    }
    const auto candidate = RnnActivate(d, Clip(d, candidate_in, cp.has_clip, cp.clip), cp.act[1]);
    const auto h_new = hn::MulAdd(z, h_prev, hn::Mul(hn::Sub(hn::Set(d, 1.0f), z), candidate));
    StoreState(d, r, h_new, j);
  }
};

// fn(d, j) over [0, n): whole vectors, then one lane at a time.
template <class Fn>
HWY_INLINE void ForEachSpan(const Fn& fn, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  size_t j = 0;
  for (; j + lanes <= n; j += lanes) fn(d, j);
  for (; j < n; ++j) fn(d1, j);
}

template <class Fn>
HWY_INLINE void RunCell(const RowPtrs& r, const CellParams& cp, size_t n) {
  ForEachSpan(Fn{r, cp}, n);
}

// The time index batch row `b` of direction `dir` is at in this step, or
// -1 when the row's sequence has ended (sequence_lens).
HWY_INLINE int64_t StepTime(const RnnStepParams& p, int64_t dir, int64_t b) {
  const int64_t len = p.seq_lens != nullptr ? p.seq_lens[b] : p.seq_length;
  if (p.step >= len) return -1;
  return p.reverse[dir] ? len - 1 - p.step : p.step;
}

// Row `b`'s projection at time `t`: xw_gates * H floats, gate-major.
HWY_INLINE const float* StepProjection(const RnnStepParams& p, int64_t dir, int64_t b, int64_t t) {
  return p.xw[dir] + (t * p.xw_t_stride + b * p.xw_b_stride) * p.xw_gates * p.hidden;
}

// Asks for the projection values a unit's epilogue will read (all gates of
// its w hidden elements, for each of its running batch rows) before its
// product runs, so they are in cache by the time the epilogue needs them.
// The projection of every step was computed up front (6 MiB for a GRU
// with H = 256 at batch 16), so a step's values come from L3, and the
// epilogue reads them in short runs (w floats per gate, H floats apart)
// that the hardware prefetchers do not pick up: the first load of each run
// took 6% of a batch-16 GRU's time in perf's samples, and the whole GRU
// and LSTM at batch 16 on one thread ran about 5% faster with this.
HWY_INLINE void PrefetchUnitProjection(const RnnStepParams& p, int64_t dir, int64_t r0, int64_t r1, int64_t j0,
                                       int64_t w) {
  constexpr int64_t kFloatsPerLine = 16;
  for (int64_t b = r0; b < r1; ++b) {
    const int64_t t = StepTime(p, dir, b);
    if (t < 0) continue;
    const float* xw = StepProjection(p, dir, b, t) + j0;
    for (int64_t g = 0; g < p.xw_gates; ++g) {
      const float* run = xw + g * p.hidden;
      for (int64_t j = 0; j < w; j += kFloatsPerLine) hwy::Prefetch(run + j);
      hwy::Prefetch(run + w - 1);  // the run's last line when it is not line-aligned
    }
  }
}

HWY_INLINE bool RnnStepF32Impl(const RnnStepParams& p, int64_t begin, int64_t end) {
  const RnnPackedLayout& layout = p.layout;
  if (layout.chunk_width != static_cast<int64_t>(ChunkWidth())) return false;
  const int64_t blocks = (p.hidden + kRnnHiddenBlock - 1) / kRnnHiddenBlock;
  const int64_t groups = (p.batch + kRnnRowGroup - 1) / kRnnRowGroup;
  const int64_t n = p.hidden;
  const int64_t ldo = RnnUnitColumns(layout);
  const int64_t unit_rows = RnnUnitRows(p.batch);
  for (int64_t u = begin; u < end; ++u) {
    const int64_t dir = u / (blocks * groups);
    const int64_t block = (u / groups) % blocks;
    const int64_t r0 = (u % groups) * kRnnRowGroup;
    const int64_t r1 = r0 + kRnnRowGroup < p.batch ? r0 + kRnnRowGroup : p.batch;
    const int64_t j0 = block * kRnnHiddenBlock;
    const int64_t w = j0 + kRnnHiddenBlock < n ? kRnnHiddenBlock : n - j0;
    const int64_t chunks = (layout.gates * w + layout.chunk_width - 1) / layout.chunk_width;
    float* prod = p.prod + u * unit_rows * ldo;
    PrefetchUnitProjection(p, dir, r0, r1, j0, w);
    UnitProduct(p.a[dir] + r0 * n, static_cast<size_t>(r1 - r0), static_cast<size_t>(n),
                p.packed[dir] + RnnPackedBlockOffset(layout, block), static_cast<size_t>(chunks), prod,
                static_cast<size_t>(ldo));

    const CellParams cp{p.act[dir], p.has_clip, p.clip, p.input_forget, p.linear_before_reset};
    for (int64_t b = r0; b < r1; ++b) {
      const int64_t t = StepTime(p, dir, b);
      const int64_t state = b * n + j0;
      if (t < 0) {
        // Finished row: its state carries over to the next buffer as is.
        if (p.h_next[dir] != nullptr) {
          std::memcpy(p.h_next[dir] + state, p.h_prev[dir] + state, static_cast<size_t>(w) * sizeof(float));
        }
        continue;
      }
      RowPtrs r;
      r.xw = StepProjection(p, dir, b, t) + j0;
      r.xs = static_cast<size_t>(n);
      r.g = prod + (b - r0) * ldo;
      r.gs = static_cast<size_t>(w);
      r.h_prev = p.h_prev[dir] + state;
      r.h_next = p.h_next[dir] != nullptr ? p.h_next[dir] + state : nullptr;
      r.c = p.c[dir] != nullptr ? p.c[dir] + state : nullptr;
      r.y = p.y != nullptr && p.kind != RnnStepKind::kGruReset
                ? p.y + t * p.y_t_stride + dir * p.y_d_stride + b * p.y_b_stride + j0
                : nullptr;
      r.z = p.z[dir] != nullptr ? p.z[dir] + state : nullptr;
      r.rh = p.rh[dir] != nullptr ? p.rh[dir] + state : nullptr;
      r.peephole = p.peephole[dir] != nullptr ? p.peephole[dir] + j0 : nullptr;
      r.rbh = p.rbh[dir] != nullptr ? p.rbh[dir] + j0 : nullptr;
      switch (p.kind) {
        case RnnStepKind::kRnn: RunCell<RnnCellFn>(r, cp, static_cast<size_t>(w)); break;
        case RnnStepKind::kLstm: RunCell<LstmCellFn>(r, cp, static_cast<size_t>(w)); break;
        case RnnStepKind::kGruReset: RunCell<GruResetFn>(r, cp, static_cast<size_t>(w)); break;
        case RnnStepKind::kGruUpdate: RunCell<GruUpdateFn>(r, cp, static_cast<size_t>(w)); break;
      }
    }
  }
  return true;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // TESSERA_OPS_RNN_RNN_INL_H_
