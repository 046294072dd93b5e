// SIMD code of the elementwise family, compiled once per Highway target.
//
// Maths
//   Binary: C = A op B, op in {+, -, *, /}, with numpy broadcasting (ONNX
//   Add/Sub/Mul/Div v7+). f32 ops are single IEEE operations, so every
//   target and the tails give the correctly rounded result.
//   Unary (ONNX Relu/Sigmoid/Tanh/Exp v6+):
//     Relu(x)    = x < 0 ? 0 : x (NaN and -0 pass through).
//     Exp(x)     = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 in
//                  [-ln2/2, ln2/2] (ln 2 split in two, Cody-Waite), e^r =
//                  1 + r + r^2 P(r) with our degree-4 P, 1 + r summed with its
//                  rounding error carried, and 2^n applied exactly (vscalefps
//                  on AVX-512, exponent-field arithmetic elsewhere). x is
//                  clamped to [-105, 104] first: e^-105 rounds to 0 and
//                  e^104 overflows to +inf, as the true values do, and the
//                  clamp keeps n in range for inputs like +-1e30 or +-inf.
//                  Error within 0.82 ulp, checked on every float (AVX-512 and
//                  AVX2 builds); Highway's hwy::Exp, used before, reaches
//                  1.03 ulp and costs 1.8x the time per vector on AVX-512.
//     Sigmoid(x) = r = 1 / (1 + e) for x >= 0, e * r for x < 0, with
//                  e = e^-|x| in (0, 1]. e never overflows, so there is no
//                  inf/inf and no NaN for any finite x; large x give exactly
//                  1, very negative x underflow gracefully through the
//                  subnormals to 0. Error: e is within 1 ulp; 1 + e adds at
//                  most 0.5 ulp of its own and passes on at most half of e's
//                  error (e / (1 + e) <= 1/2); the division adds 0.5 ulp; so
//                  r is within 1.5 ulp and e * r within 1 + 1.5 + 0.5 = 3 ulp
//                  (relative to the true value, while it is a normal float;
//                  below 2^-126 the error is at most a few subnormal steps).
//                  Every float checked: 2.82 ulp.
//     Tanh(x)    = m / (m + 2) with the sign of x, m = e^(2|x|) - 1 formed by
//                  one FMA from Exp's pieces (see VecTanh), 2|x| clamped to
//                  40 (tanh(20) is 1 in float). Error within 2.68 ulp over
//                  every float (hwy::Tanh, used before: 2.86, and 2.1x the
//                  time per vector on AVX-512).
//   NaN inputs give NaN in every unary op (patched explicitly, since x86
//   min/max would otherwise turn NaN into the clamp bound).
//
// Tail contract
//   Kernels never read or write outside the arrays they are given (user
//   buffers carry no padding). Whole vectors cover the body; the remaining
//   elements go through the same vector code with one-lane vectors
//   (CappedTag<float, 1>: scalar loads and stores on every target), so tail
//   elements get bitwise the same results as body elements.
//
// Partitioning
//   Callers split the flat output index range into chunks (ParallelFor);
//   a chunk may start and end anywhere, even inside a broadcast run. No
//   value depends on the chunking, because there are no reductions and each
//   element is computed by the same lane arithmetic wherever it falls.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_INL_H_
#undef TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_INL_H_
#else
#define TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "hwy/highway.h"
#include "ops/elementwise/elementwise.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---------------------------------------------------------------------------
// Vector math, reusable from other families' -inl.h (gate epilogues,
// attention). All accept any float32 descriptor, full or partial.

template <class D, class V>
HWY_INLINE V VecRelu(D d, V x) {
  // Lt(NaN, 0) is false, so NaN passes through (Max would drop it on x86).
  return hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x);
}

// x * 2^n for a vector n of integral values in [-152, 150] (the range
// ExpArgument gives). AVX-512 has this as one instruction (vscalefps), which
// also rounds a subnormal result once; elsewhere two exact multiplications
// by 2^(n/2) and 2^(n - n/2), each a normal float, built in the exponent
// field, so only the second can round.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
HWY_INLINE __m512 ScalefRaw(__m512 x, __m512 n) { return _mm512_scalef_ps(x, n); }
HWY_INLINE __m256 ScalefRaw(__m256 x, __m256 n) { return _mm256_scalef_ps(x, n); }
HWY_INLINE __m128 ScalefRaw(__m128 x, __m128 n) { return _mm_scalef_ps(x, n); }

template <class D, class V>
HWY_INLINE V MulPow2(D /*d*/, V x, V n) {
  return V{ScalefRaw(x.raw, n.raw)};
}
#else
template <class D, class V>
HWY_INLINE V MulPow2(D d, V x, V n) {
  const hn::RebindToSigned<D> di;
  const auto bias = hn::Set(di, 127);
  const auto n_int = hn::ConvertTo(di, n);
  const auto half = hn::ShiftRight<1>(n_int);
  const V pow_half = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(half, bias)));
  const V pow_rest = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::Sub(n_int, half), bias)));
  return hn::Mul(hn::Mul(x, pow_half), pow_rest);
}
#endif

// e^x = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 in
// [-ln2/2, ln2/2]; x must be finite and within [-105, 104]. ln 2 is split
// (Cody and Waite) so that n * kLn2High is exact for |n| < 2^9 and r keeps
// its low bits.
template <class D, class V>
HWY_INLINE V ExpArgument(D d, V x, V* r) {
  const V n = hn::Round(hn::Mul(x, hn::Set(d, 1.44269504088896341f)));
  const V kLn2High = hn::Set(d, 0.693145751953125f);   // 15 significant bits
  const V kLn2Low = hn::Set(d, 1.42860682030941723e-6f);  // ln 2 - kLn2High
  *r = hn::NegMulAdd(n, kLn2Low, hn::NegMulAdd(n, kLn2High, x));
  return n;
}

// P(r) in e^r = 1 + r + r^2 P(r) for r in [-ln2/2, ln2/2]: degree 4,
// fitted for the least maximum relative error of e^r (3.1e-9, a twentieth
// of a float ulp), evaluated in Estrin's scheme (three independent chains).
template <class D, class V>
HWY_INLINE V ExpReducedPoly(D d, V r, V r2) {
  const V p01 = hn::MulAdd(hn::Set(d, 1.666652113e-01f), r, hn::Set(d, 4.999999404e-01f));
  const V p23 = hn::MulAdd(hn::Set(d, 8.368710056e-03f), r, hn::Set(d, 4.166838899e-02f));
  return hn::MulAdd(hn::Mul(r2, r2), hn::Set(d, 1.381461276e-03f), hn::MulAdd(p23, r2, p01));
}

// e^x to within 0.82 ulp (every float checked): 1 + r is formed with its
// rounding error carried (Fast2Sum: |r| < 1), so the only roundings that
// matter are r's own and the last addition. Summing 1 + (r + r^2 P) instead
// rounds twice near 1 and reaches 1.04 ulp.
template <class D, class V>
HWY_INLINE V VecExp(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V clamped = hn::Min(hn::Max(x, hn::Set(d, -105.0f)), hn::Set(d, 104.0f));
  V r;
  const V n = ExpArgument(d, clamped, &r);
  const V r2 = hn::Mul(r, r);
  const V sum = hn::Add(one, r);
  const V sum_error = hn::Add(hn::Sub(one, sum), r);
  const V e_r = hn::Add(sum, hn::MulAdd(ExpReducedPoly(d, r, r2), r2, sum_error));
  const V y = MulPow2(d, e_r, n);
  return hn::IfThenElse(hn::Eq(x, x), y, x);  // NaN in, NaN out
}

template <class D, class V>
HWY_INLINE V VecSigmoid(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V e = VecExp(d, hn::Neg(hn::Abs(x)));  // (0, 1]; NaN for NaN
  const V r = hn::Div(one, hn::Add(one, e));
  return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(e, r), r);
}

// tanh |x| = m / (m + 2) with m = e^(2|x|) - 1 = 2^n (e^r - 1) + (2^n - 1):
// one FMA that neither cancels (n >= 0) nor needs a separate small-|x|
// branch (n = 0 leaves m = r + r^2 P(r) as computed); the sign is put back
// at the end.
template <class D, class V>
HWY_INLINE V VecTanh(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V sign = hn::And(hn::SignBit(d), x);
  const V abs_x = hn::Abs(x);
  const V t = hn::Min(hn::Add(abs_x, abs_x), hn::Set(d, 40.0f));  // tanh(20) is 1 in float
  V r;
  const V n = ExpArgument(d, t, &r);
  const V r2 = hn::Mul(r, r);
  const V scale = MulPow2(d, one, n);
  const V m = hn::MulAdd(hn::MulAdd(ExpReducedPoly(d, r, r2), r2, r), scale, hn::Sub(scale, one));
  const V y = hn::Xor(hn::Div(m, hn::Add(m, hn::Set(d, 2.0f))), sign);
  return hn::IfThenElse(hn::Eq(x, x), y, x);
}

// Functors so the array loops below take the vector function as a type
// (generic lambdas would not reliably inherit the target attributes).
struct ReluFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return VecRelu(d, x); }
};
struct ExpFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return VecExp(d, x); }
};
struct SigmoidFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return VecSigmoid(d, x); }
};
struct TanhFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return VecTanh(d, x); }
};

// out[i] = fn(in[i]) for i in [0, n). No HWY_RESTRICT: in == out is allowed
// (each vector is loaded before the store to the same place).
template <class Fn>
HWY_INLINE void UnaryArrayF32(const float* in, float* out, size_t n, Fn fn) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  // Two vectors per iteration: the polynomial chains of two independent
  // vectors overlap in the pipeline.
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    const auto y0 = fn(d, hn::LoadU(d, in + i));
    const auto y1 = fn(d, hn::LoadU(d, in + i + lanes));
    hn::StoreU(y0, d, out + i);
    hn::StoreU(y1, d, out + i + lanes);
  }
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(fn(d, hn::LoadU(d, in + i)), d, out + i);
  }
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) {
    hn::StoreU(fn(d1, hn::LoadU(d1, in + i)), d1, out + i);
  }
}

// ---------------------------------------------------------------------------
// Binary f32.

struct AddFn {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Add(a, b); }
};
struct SubFn {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Sub(a, b); }
};
struct MulFn {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Mul(a, b); }
};
struct DivFn {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Div(a, b); }
};

// One contiguous output run of n elements. Each operand either advances with
// the output (stride 1) or repeats its first value (stride 0); the plan
// guarantees not both are 0. The repeated operand is splatted once per run.
template <class Op>
HWY_INLINE void BinaryRunF32(const float* HWY_RESTRICT a, int64_t sa, const float* HWY_RESTRICT b, int64_t sb,
                             float* out, size_t n, Op op) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  if (sa != 0 && sb != 0) {
    for (; i + lanes <= n; i += lanes) {
      hn::StoreU(op(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
    }
    for (; i < n; ++i) hn::StoreU(op(hn::LoadU(d1, a + i), hn::LoadU(d1, b + i)), d1, out + i);
  } else if (sa == 0) {
    const auto va = hn::Set(d, a[0]);
    for (; i + lanes <= n; i += lanes) hn::StoreU(op(va, hn::LoadU(d, b + i)), d, out + i);
    const auto va1 = hn::Set(d1, a[0]);
    for (; i < n; ++i) hn::StoreU(op(va1, hn::LoadU(d1, b + i)), d1, out + i);
  } else {
    const auto vb = hn::Set(d, b[0]);
    for (; i + lanes <= n; i += lanes) hn::StoreU(op(hn::LoadU(d, a + i), vb), d, out + i);
    const auto vb1 = hn::Set(d1, b[0]);
    for (; i < n; ++i) hn::StoreU(op(hn::LoadU(d1, a + i), vb1), d1, out + i);
  }
}

// ---------------------------------------------------------------------------
// Broadcast walk shared by all dtypes.

// Calls run(a_offset, b_offset, out_offset, length) for each maximal piece
// of the flat output range [begin, end) that lies inside one innermost run
// of `plan`, in order. Offsets are in elements. The multi-index of `begin`
// is found once by division; after that the walk is an odometer, so the
// per-element cost is only that of the run kernel. `run` is a functor, not
// a lambda, so it carries the target attributes on every compiler.
template <class RunFn>
HWY_INLINE void ForEachBroadcastRun(const BroadcastPlan& plan, int64_t begin, int64_t end, const RunFn& run) {
  if (begin >= end) return;
  const int last = plan.rank - 1;
  int64_t index[kMaxBroadcastRank];
  int64_t a_off = 0;
  int64_t b_off = 0;
  int64_t rest = begin;
  for (int k = last; k >= 0; --k) {
    index[k] = rest % plan.dims[k];
    rest /= plan.dims[k];
    a_off += index[k] * plan.a_strides[k];
    b_off += index[k] * plan.b_strides[k];
  }
  const int64_t inner = plan.dims[last];
  int64_t pos = begin;
  for (;;) {
    const int64_t len = inner - index[last] < end - pos ? inner - index[last] : end - pos;
    run(a_off, b_off, pos, len);
    pos += len;
    if (pos >= end) return;
    // The run reached the end of its row (it is cut short only at `end`):
    // rewind to the row start and step the odometer to the next row.
    a_off -= index[last] * plan.a_strides[last];
    b_off -= index[last] * plan.b_strides[last];
    index[last] = 0;
    for (int k = last - 1; k >= 0; --k) {
      ++index[k];
      a_off += plan.a_strides[k];
      b_off += plan.b_strides[k];
      if (index[k] < plan.dims[k]) break;
      index[k] = 0;
      a_off -= plan.dims[k] * plan.a_strides[k];
      b_off -= plan.dims[k] * plan.b_strides[k];
    }
  }
}

template <class Op>
struct BinaryRunnerF32 {
  const float* a;
  const float* b;
  float* out;
  int64_t sa;  // innermost strides: 1 or 0
  int64_t sb;
  HWY_INLINE void operator()(int64_t a_off, int64_t b_off, int64_t out_off, int64_t len) const {
    BinaryRunF32(a + a_off, sa, b + b_off, sb, out + out_off, static_cast<size_t>(len), Op());
  }
};

template <class Op>
HWY_INLINE void BinaryBroadcastF32(const BroadcastPlan& plan, const float* a, const float* b, float* out,
                                   int64_t begin, int64_t end) {
  const int last = plan.rank - 1;
  const BinaryRunnerF32<Op> runner{a, b, out, plan.a_strides[last], plan.b_strides[last]};
  ForEachBroadcastRun(plan, begin, end, runner);
}

HWY_INLINE void BinaryF32Impl(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, float* out,
                              int64_t begin, int64_t end) {
  switch (op) {
    case BinaryOp::kAdd:
      return BinaryBroadcastF32<AddFn>(plan, a, b, out, begin, end);
    case BinaryOp::kSub:
      return BinaryBroadcastF32<SubFn>(plan, a, b, out, begin, end);
    case BinaryOp::kMul:
      return BinaryBroadcastF32<MulFn>(plan, a, b, out, begin, end);
    case BinaryOp::kDiv:
      return BinaryBroadcastF32<DivFn>(plan, a, b, out, begin, end);
  }
}

// ---------------------------------------------------------------------------
// Binary integer ops: scalar loops (compilers auto-vectorize Add/Sub/Mul for
// the target; integer division has no SIMD instruction on x86 anyway).
// Arithmetic is done in the unsigned type so overflow wraps instead of being
// undefined behaviour.

template <typename T>
struct IntArith {
  using U = std::make_unsigned_t<T>;
  static T Add(T a, T b) { return static_cast<T>(static_cast<U>(a) + static_cast<U>(b)); }
  static T Sub(T a, T b) { return static_cast<T>(static_cast<U>(a) - static_cast<U>(b)); }
  static T Mul(T a, T b) { return static_cast<T>(static_cast<U>(a) * static_cast<U>(b)); }
  // C's `/` truncates toward zero, as ONNX requires. INT_MIN / -1 overflows
  // (and traps on x86), so -1 is done as a wrapping negation; 0 is checked
  // by the op before running, and yields 0 here instead of trapping.
  static T Div(T a, T b) {
    if (b == 0) return 0;
    if (b == -1) return static_cast<T>(U{0} - static_cast<U>(a));
    return static_cast<T>(a / b);
  }
};

template <typename T, T (*kOp)(T, T)>
struct BinaryRunnerInt {
  const T* a;
  const T* b;
  T* out;
  int64_t sa;
  int64_t sb;
  HWY_INLINE void operator()(int64_t a_off, int64_t b_off, int64_t out_off, int64_t len) const {
    const T* pa = a + a_off;
    const T* pb = b + b_off;
    T* po = out + out_off;
    if (sa != 0 && sb != 0) {
      for (int64_t i = 0; i < len; ++i) po[i] = kOp(pa[i], pb[i]);
    } else if (sa == 0) {
      const T va = pa[0];
      for (int64_t i = 0; i < len; ++i) po[i] = kOp(va, pb[i]);
    } else {
      const T vb = pb[0];
      for (int64_t i = 0; i < len; ++i) po[i] = kOp(pa[i], vb);
    }
  }
};

template <typename T, T (*kOp)(T, T)>
HWY_INLINE void BinaryBroadcastInt(const BroadcastPlan& plan, const T* a, const T* b, T* out, int64_t begin,
                                   int64_t end) {
  const int last = plan.rank - 1;
  const BinaryRunnerInt<T, kOp> runner{a, b, out, plan.a_strides[last], plan.b_strides[last]};
  ForEachBroadcastRun(plan, begin, end, runner);
}

template <typename T>
HWY_INLINE void BinaryIntImpl(BinaryOp op, const BroadcastPlan& plan, const T* a, const T* b, T* out, int64_t begin,
                          int64_t end) {
  switch (op) {
    case BinaryOp::kAdd:
      return BinaryBroadcastInt<T, &IntArith<T>::Add>(plan, a, b, out, begin, end);
    case BinaryOp::kSub:
      return BinaryBroadcastInt<T, &IntArith<T>::Sub>(plan, a, b, out, begin, end);
    case BinaryOp::kMul:
      return BinaryBroadcastInt<T, &IntArith<T>::Mul>(plan, a, b, out, begin, end);
    case BinaryOp::kDiv:
      return BinaryBroadcastInt<T, &IntArith<T>::Div>(plan, a, b, out, begin, end);
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_INL_H_ toggle guard
