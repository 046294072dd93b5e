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
// (elementwise-inl.h: within 3 and 4 ulp); Elu uses hwy::Expm1 and Softplus
// max(x, 0) + log1p(e^-|x|) with hwy::Log1p (each within a few ulp; the
// split form never overflows); the rest are one or two IEEE operations.
//
// Layout
//   Gate-major rows: a projection row holds gates * H floats, gate g's
//   hidden element j at g * H + j, in ONNX's gate order (see above).
//   State rows are [batch, H] per direction, updated in place: element j of
//   the new state depends only on element j of the old one and of the gate
//   rows, so the in-place update is safe within a row.
//
// Tail contract
//   Nothing outside the given arrays is read or written. Whole vectors cover
//   each unit's hidden block; the rest goes through the same code with
//   one-lane vectors (CappedTag<float, 1>).
//
// Partitioning
//   A unit is (direction, batch row, block of kRnnHiddenBlock hidden
//   elements); blocks start at multiples of kRnnHiddenBlock, which every
//   lane count divides, so each element takes the same (vector or one-lane)
//   path whatever the split, and no value is reduced across units: 1-thread
//   and N-thread results are bitwise equal.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_RNN_RNN_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_RNN_RNN_INL_H_
#undef TESSERA_OPS_RNN_RNN_INL_H_
#else
#define TESSERA_OPS_RNN_RNN_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "ops/elementwise/elementwise-inl.h"
#include "ops/rnn/rnn.h"

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

// A gate's pre-activation: projection + recurrent product, clipped.
template <class D>
HWY_INLINE hn::Vec<D> GateInput(D d, const float* xw, const float* gr, size_t j) {
  return hn::Add(hn::LoadU(d, xw + j), hn::LoadU(d, gr + j));
}

template <class D, class V>
HWY_INLINE V Clip(D d, V x, bool has_clip, float clip) {
  if (!has_clip) return x;
  return hn::Min(hn::Max(x, hn::Set(d, -clip)), hn::Set(d, clip));
}

// Pointers of one unit's rows. Functors below take them so the span loop
// can call one templated operator() for full and one-lane vectors (generic
// lambdas would not reliably inherit the target attributes).
struct RowPtrs {
  const float* xw = nullptr;
  const float* gr = nullptr;
  const float* gh = nullptr;
  float* h = nullptr;
  float* c = nullptr;
  float* y = nullptr;
  float* z = nullptr;
  float* rh = nullptr;
  const float* peephole = nullptr;
  const float* rbh = nullptr;
};

struct RnnCellFn {
  RowPtrs r;
  size_t hidden;
  const RnnActivation* act;
  bool has_clip;
  float clip;

  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    const auto h = RnnActivate(d, Clip(d, GateInput(d, r.xw, r.gr, j), has_clip, clip), act[0]);
    hn::StoreU(h, d, r.h + j);
    if (r.y != nullptr) hn::StoreU(h, d, r.y + j);
  }
};

struct LstmCellFn {
  RowPtrs r;
  size_t hidden;
  const RnnActivation* act;
  bool has_clip;
  float clip;
  bool input_forget;

  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    const size_t n = hidden;
    const auto one = hn::Set(d, 1.0f);
    const auto c_prev = hn::LoadU(d, r.c + j);
    auto pi = GateInput(d, r.xw, r.gr, j);
    auto po = GateInput(d, r.xw + n, r.gr + n, j);
    auto pf = GateInput(d, r.xw + 2 * n, r.gr + 2 * n, j);
    const auto pc = Clip(d, GateInput(d, r.xw + 3 * n, r.gr + 3 * n, j), has_clip, clip);
    if (r.peephole != nullptr) {
      pi = hn::MulAdd(hn::LoadU(d, r.peephole + j), c_prev, pi);
      pf = hn::MulAdd(hn::LoadU(d, r.peephole + 2 * n + j), c_prev, pf);
    }
    const auto i = RnnActivate(d, Clip(d, pi, has_clip, clip), act[0]);
    const auto f = input_forget ? hn::Sub(one, i) : RnnActivate(d, Clip(d, pf, has_clip, clip), act[0]);
    const auto g = RnnActivate(d, pc, act[1]);
    const auto c_new = hn::MulAdd(f, c_prev, hn::Mul(i, g));
    if (r.peephole != nullptr) po = hn::MulAdd(hn::LoadU(d, r.peephole + n + j), c_new, po);
    const auto o = RnnActivate(d, Clip(d, po, has_clip, clip), act[0]);
    const auto h_new = hn::Mul(o, RnnActivate(d, c_new, act[2]));
    hn::StoreU(c_new, d, r.c + j);
    hn::StoreU(h_new, d, r.h + j);
    if (r.y != nullptr) hn::StoreU(h_new, d, r.y + j);
  }
};

// GRU (linear_before_reset 0) phase 1: z into r.z, r . H_{t-1} into r.rh.
struct GruResetFn {
  RowPtrs r;
  size_t hidden;
  const RnnActivation* act;
  bool has_clip;
  float clip;

  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    const size_t n = hidden;
    const auto z = RnnActivate(d, Clip(d, GateInput(d, r.xw, r.gr, j), has_clip, clip), act[0]);
    const auto rr = RnnActivate(d, Clip(d, GateInput(d, r.xw + n, r.gr + n, j), has_clip, clip), act[0]);
    hn::StoreU(z, d, r.z + j);
    hn::StoreU(hn::Mul(rr, hn::LoadU(d, r.h + j)), d, r.rh + j);
  }
};

struct GruUpdateFn {
  RowPtrs r;
  size_t hidden;
  const RnnActivation* act;
  bool has_clip;
  float clip;
  bool linear_before_reset;

  template <class D>
  HWY_INLINE void operator()(D d, size_t j) const {
    const size_t n = hidden;
    const auto h_prev = hn::LoadU(d, r.h + j);
    hn::Vec<D> z, candidate_in;
    if (linear_before_reset) {
      z = RnnActivate(d, Clip(d, GateInput(d, r.xw, r.gr, j), has_clip, clip), act[0]);
      const auto rr = RnnActivate(d, Clip(d, GateInput(d, r.xw + n, r.gr + n, j), has_clip, clip), act[0]);
      const auto recurrent = hn::Add(hn::LoadU(d, r.gr + 2 * n + j), hn::LoadU(d, r.rbh + j));
      candidate_in = hn::MulAdd(rr, recurrent, hn::LoadU(d, r.xw + 2 * n + j));
    } else {
      z = hn::LoadU(d, r.z + j);
      candidate_in = GateInput(d, r.xw + 2 * n, r.gh, j);
    }
    const auto candidate = RnnActivate(d, Clip(d, candidate_in, has_clip, clip), act[1]);
    const auto h_new = hn::MulAdd(z, h_prev, hn::Mul(hn::Sub(hn::Set(d, 1.0f), z), candidate));
    hn::StoreU(h_new, d, r.h + j);
    if (r.y != nullptr) hn::StoreU(h_new, d, r.y + j);
  }
};

// fn(d, j) over [j0, j1): whole vectors, then one lane at a time.
template <class Fn>
HWY_INLINE void ForEachSpan(const Fn& fn, size_t j0, size_t j1) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  size_t j = j0;
  for (; j + lanes <= j1; j += lanes) fn(d, j);
  for (; j < j1; ++j) fn(d1, j);
}

// One unit's coordinates; false when its row is past its length.
struct Unit {
  int64_t dir, row, t, j0, j1;
};

HWY_INLINE bool DecodeUnit(const RnnStepParams& p, int64_t u, Unit* out) {
  const int64_t blocks = (p.hidden + kRnnHiddenBlock - 1) / kRnnHiddenBlock;
  out->dir = u / (p.batch * blocks);
  const int64_t rest = u % (p.batch * blocks);
  out->row = rest / blocks;
  out->j0 = (rest % blocks) * kRnnHiddenBlock;
  out->j1 = out->j0 + kRnnHiddenBlock < p.hidden ? out->j0 + kRnnHiddenBlock : p.hidden;
  const int64_t len = p.seq_lens != nullptr ? p.seq_lens[out->row] : p.seq_length;
  if (p.step >= len) return false;
  out->t = p.reverse[out->dir] ? len - 1 - p.step : p.step;
  return true;
}

HWY_INLINE RowPtrs UnitRows(const RnnStepParams& p, const Unit& u, int64_t gates) {
  const int64_t d = u.dir, b = u.row, n = p.hidden;
  RowPtrs r;
  r.xw = p.xw[d] + (u.t * p.xw_t_stride + b * p.xw_b_stride) * gates * n;
  r.gr = p.gr[d] != nullptr ? p.gr[d] + b * p.gr_cols : nullptr;
  r.gh = p.gh[d] != nullptr ? p.gh[d] + b * n : nullptr;
  r.h = p.h[d] + b * n;
  r.c = p.c[d] != nullptr ? p.c[d] + b * n : nullptr;
  r.y = p.y != nullptr ? p.y + u.t * p.y_t_stride + d * p.y_d_stride + b * p.y_b_stride : nullptr;
  r.z = p.z[d] != nullptr ? p.z[d] + b * n : nullptr;
  r.rh = p.rh[d] != nullptr ? p.rh[d] + b * n : nullptr;
  r.peephole = p.peephole[d];
  r.rbh = p.rbh[d];
  return r;
}

HWY_INLINE void RnnCellStepF32Impl(const RnnStepParams& p, int64_t begin, int64_t end) {
  for (int64_t u = begin; u < end; ++u) {
    Unit unit;
    if (!DecodeUnit(p, u, &unit)) continue;
    const RnnCellFn fn{UnitRows(p, unit, 1), static_cast<size_t>(p.hidden), p.act[unit.dir], p.has_clip, p.clip};
    ForEachSpan(fn, static_cast<size_t>(unit.j0), static_cast<size_t>(unit.j1));
  }
}

HWY_INLINE void LstmCellStepF32Impl(const RnnStepParams& p, int64_t begin, int64_t end) {
  for (int64_t u = begin; u < end; ++u) {
    Unit unit;
    if (!DecodeUnit(p, u, &unit)) continue;
    const LstmCellFn fn{UnitRows(p, unit, 4), static_cast<size_t>(p.hidden), p.act[unit.dir], p.has_clip, p.clip,
                        p.input_forget};
    ForEachSpan(fn, static_cast<size_t>(unit.j0), static_cast<size_t>(unit.j1));
  }
}

HWY_INLINE void GruResetStepF32Impl(const RnnStepParams& p, int64_t begin, int64_t end) {
  for (int64_t u = begin; u < end; ++u) {
    Unit unit;
    if (!DecodeUnit(p, u, &unit)) continue;
    const GruResetFn fn{UnitRows(p, unit, 3), static_cast<size_t>(p.hidden), p.act[unit.dir], p.has_clip, p.clip};
    ForEachSpan(fn, static_cast<size_t>(unit.j0), static_cast<size_t>(unit.j1));
  }
}

HWY_INLINE void GruUpdateStepF32Impl(const RnnStepParams& p, int64_t begin, int64_t end) {
  for (int64_t u = begin; u < end; ++u) {
    Unit unit;
    if (!DecodeUnit(p, u, &unit)) continue;
    const GruUpdateFn fn{UnitRows(p, unit, 3), static_cast<size_t>(p.hidden), p.act[unit.dir], p.has_clip, p.clip,
                         p.linear_before_reset};
    ForEachSpan(fn, static_cast<size_t>(unit.j0), static_cast<size_t>(unit.j1));
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // TESSERA_OPS_RNN_RNN_INL_H_
