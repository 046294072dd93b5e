// SIMD code of the math family (ONNX Erf, Sqrt, Gelu, Pow), compiled once
// per Highway target.
//
// Maths and error bounds (u = 2^-24, float rounding)
//   Sqrt(x)  hn::Sqrt, correctly rounded; NaN for x < 0 (IEEE).
//   Erf(x)   odd, so computed for z = |x| and given x's sign:
//            z < 0.5: the Maclaurin series 2/sqrt(pi) * sum_n (-1)^n
//              z^(2n+1) / (n! (2n+1)) through n = 6; the first omitted term
//              is below 1e-9 of the sum for z < 0.5, so the error is the
//              Horner evaluation's, a few ulp relative.
//            z >= 0.5: erf = 1 - erfc(z), erfc(z) = t exp(-z^2 + P(t)),
//              t = 1 / (1 + z/2), P the degree-9 Chebyshev fit of Numerical
//              Recipes (Press et al., 2nd ed., section 6.2), whose
//              relative error is below 1.2e-7 for all z >= 0. z^2 is split
//              into hi + lo with an FMA so its rounding does not enter the
//              exponent twice; rounding the exponent sum costs up to
//              z^2 u relative. erfc <= 0.48 here, so erf's absolute error
//              stays below 1.2e-7 * 0.48 + a few u: under 2e-7.
//            z is clamped to 10 first (erfc(10) ~ 2e-45 is 0 in float), so
//            +-inf give +-1 and no inf - inf appears; NaN stays NaN.
//   Gelu, approximate="none": 0.5 x (1 + erf(x / sqrt 2)). For x / sqrt 2
//            <= -0.5 the bracket is erfc(|x| / sqrt 2), computed directly
//            rather than as 1 - erf, so the result keeps its relative
//            accuracy where it is small (no cancellation). x < -20 gives 0:
//            the true value is below 1e-88, far under float's smallest
//            subnormal, and -inf would otherwise give -inf * 0 = NaN.
//   Gelu, approximate="tanh": 0.5 x (1 + tanh(u)) = x * sigmoid(2u) with
//            u = sqrt(2/pi) (x + 0.044715 x^3); the sigmoid form (VecSigmoid,
//            3 ulp) has no cancellation for negative x. x < -20 gives 0 as
//            above (sigmoid(2u) < e^-600 there).
//   Pow(x, y): computed in double: exp(y log|x|) with Highway's f64 Log and
//            Exp (a few double ulp, i.e. ~2^-50 relative, amplified by
//            |y log x| < 200 where the float result is finite and non-zero),
//            then rounded once to float: within 1 float ulp. The product is
//            clamped to [-200, 200] (e^+-200 is far outside float's range,
//            so the rounding gives 0 or inf exactly as the true value
//            would). Special cases follow C's pow: pow(x, 0) = pow(1, y) = 1
//            even for NaN; negative x with a non-integer y is NaN; negative
//            x with an odd integer y negates; pow(+-0, y) is 0 (y > 0) or
//            inf (y < 0) with the sign rule; pow(+-inf, y) is inf (y > 0) or
//            0 (y < 0) with the sign rule; pow(-1, +-inf) = 1.
//            Targets without f64 vectors fall back to std::pow per element.
//
// Tail contract
//   Nothing outside the arrays is read or written: whole vectors cover the
//   body and the remaining elements run through the same code with
//   one-lane vectors (CappedTag<T, 1>), so tails get bitwise the same
//   results as the body.
//
// Partitioning
//   Callers split flat element ranges anywhere (ParallelFor); there are no
//   reductions, so results never depend on the split or the thread count.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_MATH_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_MATH_MATH_INL_H_
#undef TESSERA_OPS_MATH_MATH_INL_H_
#else
#define TESSERA_OPS_MATH_MATH_INL_H_
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "ops/elementwise/elementwise-inl.h"
#include "ops/math/math.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// erfc(z) for z >= 0 (clamped to 10), relative error < 1.2e-7 + z^2 u.
template <class D, class V>
HWY_INLINE V VecErfcNonNegative(D d, V z) {
  z = hn::Min(z, hn::Set(d, 10.0f));
  const V t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(hn::Set(d, 0.5f), z, hn::Set(d, 1.0f)));
  V p = hn::Set(d, 0.17087277f);
  p = hn::MulAdd(p, t, hn::Set(d, -0.82215223f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.48851587f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.13520398f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.27886807f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.18628806f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.09678418f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.37409196f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.00002368f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.26551223f));
  const V z2 = hn::Mul(z, z);
  const V z2_lo = hn::MulSub(z, z, z2);  // z*z - z2, exact with an FMA
  const V arg = hn::Sub(hn::Sub(p, z2_lo), z2);
  return hn::Mul(t, VecExp(d, arg));
}

// erf(z) / z for |z| < 0.5 as a polynomial in z^2 (Maclaurin series).
template <class D, class V>
HWY_INLINE V VecErfSmallOverZ(D d, V z2) {
  // 2/sqrt(pi) * (-1)^n / (n! (2n+1)), n = 6 .. 0.
  V p = hn::Set(d, 1.2055332981789664e-4f);
  p = hn::MulAdd(p, z2, hn::Set(d, -8.5483270234508709e-4f));
  p = hn::MulAdd(p, z2, hn::Set(d, 5.2239776254421878e-3f));
  p = hn::MulAdd(p, z2, hn::Set(d, -2.6866170645131252e-2f));
  p = hn::MulAdd(p, z2, hn::Set(d, 1.1283791670955126e-1f));
  p = hn::MulAdd(p, z2, hn::Set(d, -3.7612638903183752e-1f));
  return hn::MulAdd(p, z2, hn::Set(d, 1.1283791670955126f));
}

template <class D, class V>
HWY_INLINE V VecErf(D d, V x) {
  const V z = hn::Abs(x);
  const V small = hn::Mul(x, VecErfSmallOverZ(d, hn::Mul(x, x)));  // keeps x's sign
  const V large = hn::CopySignToAbs(hn::Sub(hn::Set(d, 1.0f), VecErfcNonNegative(d, z)), x);
  const V y = hn::IfThenElse(hn::Lt(z, hn::Set(d, 0.5f)), small, large);
  return hn::IfThenElse(hn::Eq(x, x), y, x);  // NaN in, NaN out
}

template <class D, class V>
HWY_INLINE V VecGeluErf(D d, V x) {
  const V half_x = hn::Mul(hn::Set(d, 0.5f), x);
  const V z = hn::Mul(x, hn::Set(d, 0.70710678118654752f));
  const V upper = hn::Mul(half_x, hn::Add(hn::Set(d, 1.0f), VecErf(d, z)));
  const V lower = hn::Mul(half_x, VecErfcNonNegative(d, hn::Neg(z)));
  const V y = hn::IfThenElse(hn::Le(z, hn::Set(d, -0.5f)), lower, upper);
  return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -20.0f)), y);
}

template <class D, class V>
HWY_INLINE V VecGeluTanh(D d, V x) {
  // 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) = x (c1 + c3 x^2).
  const V x2 = hn::Mul(x, x);
  const V two_u = hn::Mul(x, hn::MulAdd(hn::Set(d, 2.0f * 0.7978845608028654f * 0.044715f), x2,
                                        hn::Set(d, 2.0f * 0.7978845608028654f)));
  const V y = hn::Mul(x, VecSigmoid(d, two_u));
  return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -20.0f)), y);
}

struct ErfFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return VecErf(d, x); }
};
struct SqrtFn {
  template <class D, class V>
  HWY_INLINE V operator()(D, V x) const { return hn::Sqrt(x); }
};
struct GeluErfFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return VecGeluErf(d, x); }
};
struct GeluTanhFn {
  template <class D, class V>
  HWY_INLINE V operator()(D d, V x) const { return VecGeluTanh(d, x); }
};

// ---------------------------------------------------------------------------
// Pow.

#if HWY_HAVE_FLOAT64

// pow(x, y) in double with C's special cases (see the top of this file).
template <class D, class V>
HWY_INLINE V VecPowF64(D d, V x, V y) {
  const V zero = hn::Zero(d);
  const V one = hn::Set(d, 1.0);
  const V inf = hn::Set(d, std::numeric_limits<double>::infinity());
  const V nan = hn::Set(d, std::numeric_limits<double>::quiet_NaN());
  const V ax = hn::Abs(x);
  const auto finite_pos = hn::And(hn::Gt(ax, zero), hn::Lt(ax, inf));
  // Log only sees (0, inf); other lanes are replaced below.
  const V safe = hn::IfThenElse(finite_pos, ax, one);
  const V prod = hn::Mul(y, hn::Log(d, safe));
  V r = hn::Exp(d, hn::Min(hn::Max(prod, hn::Set(d, -200.0)), hn::Set(d, 200.0)));
  const auto y_pos = hn::Gt(y, zero);
  const auto y_neg = hn::Lt(y, zero);
  r = hn::IfThenElse(hn::Eq(ax, zero), hn::IfThenElse(y_pos, zero, inf), r);
  r = hn::IfThenElse(hn::Eq(ax, inf), hn::IfThenElse(y_neg, zero, inf), r);
  r = hn::IfThenElse(hn::And(hn::Eq(ax, one), hn::Eq(hn::Abs(y), inf)), one, r);
  const auto x_neg = hn::Lt(hn::CopySign(one, x), zero);  // includes -0
  const auto y_int = hn::Eq(hn::Round(y), y);
  const V y_half = hn::Mul(y, hn::Set(d, 0.5));
  const auto y_odd = hn::And(y_int, hn::Ne(hn::Floor(y_half), y_half));
  r = hn::IfThenElse(hn::And(x_neg, y_odd), hn::Neg(r), r);
  const auto bad_base = hn::And(x_neg, finite_pos);  // negative, non-zero, finite
  r = hn::IfThenElse(hn::AndNot(y_int, bad_base), nan, r);
  // NaN test as Not(Eq): x86's Ne is an ordered compare (false for NaN).
  r = hn::IfThenElse(hn::Not(hn::And(hn::Eq(x, x), hn::Eq(y, y))), nan, r);
  return hn::IfThenElse(hn::Or(hn::Eq(y, zero), hn::Eq(x, one)), one, r);
}

// n outputs; each operand advances (stride 1) or repeats its first value
// (stride 0).
template <class D64>
HWY_INLINE void PowChunk(D64 d64, const float* a, int64_t sa, const float* b, int64_t sb, float* out, size_t i) {
  const hn::Rebind<float, D64> df;
  const auto va = sa != 0 ? hn::PromoteTo(d64, hn::LoadU(df, a + i)) : hn::Set(d64, static_cast<double>(a[0]));
  const auto vb = sb != 0 ? hn::PromoteTo(d64, hn::LoadU(df, b + i)) : hn::Set(d64, static_cast<double>(b[0]));
  const auto r = VecPowF64(d64, va, vb);
  // Highway's f64 -> f32 DemoteTo saturates at +-FLT_MAX (even for inf), so
  // lanes that round to inf in float (|r| >= (2 - 2^-24) 2^127, the
  // midpoint between FLT_MAX and 2^128) are fixed up. The flag travels as
  // 1.0 / 0.0 through the same demotion, since masks of f64 and f32 lanes
  // differ in width.
  const auto overflow = hn::Ge(hn::Abs(r), hn::Set(d64, 0x1.ffffffp+127));
  const auto flag = hn::DemoteTo(df, hn::IfThenElseZero(overflow, hn::Set(d64, 1.0)));
  const auto demoted = hn::DemoteTo(df, r);
  const auto inf = hn::Set(df, std::numeric_limits<float>::infinity());
  hn::StoreU(hn::IfThenElse(hn::Eq(flag, hn::Set(df, 1.0f)), hn::CopySign(inf, demoted), demoted), df, out + i);
}

HWY_INLINE void PowRunF32(const float* a, int64_t sa, const float* b, int64_t sb, float* out, size_t n) {
  const hn::ScalableTag<double> d;
  const hn::CappedTag<double, 1> d1;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) PowChunk(d, a, sa, b, sb, out, i);
  for (; i < n; ++i) PowChunk(d1, a, sa, b, sb, out, i);
}

#else  // !HWY_HAVE_FLOAT64

HWY_INLINE void PowRunF32(const float* a, int64_t sa, const float* b, int64_t sb, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(std::pow(static_cast<double>(a[sa != 0 ? i : 0]), static_cast<double>(b[sb != 0 ? i : 0])));
  }
}

#endif  // HWY_HAVE_FLOAT64

struct PowRunner {
  const float* a;
  const float* b;
  float* out;
  int64_t sa;
  int64_t sb;
  HWY_INLINE void operator()(int64_t a_off, int64_t b_off, int64_t out_off, int64_t len) const {
    PowRunF32(a + a_off, sa, b + b_off, sb, out + out_off, static_cast<size_t>(len));
  }
};

HWY_INLINE void PowF32Impl(const BroadcastPlan& plan, const float* a, const float* b, float* out, int64_t begin,
                           int64_t end) {
  const int last = plan.rank - 1;
  const PowRunner runner{a, b, out, plan.a_strides[last], plan.b_strides[last]};
  ForEachBroadcastRun(plan, begin, end, runner);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // TESSERA_OPS_MATH_MATH_INL_H_ toggle guard
