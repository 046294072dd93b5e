// Math kernels (f32) for ONNX Erf, Sqrt, Gelu and Pow. Each entry point
// dispatches once to the best Highway target (math.cc); the maths, error
// bounds and tail contract are at the top of math-inl.h.
//
// Unary forms: out[i] = f(in[i]) for i in [0, n); `in == out` is allowed,
// otherwise the ranges must not overlap. Every element goes through the
// same vector code (tails use one-lane vectors), so results never depend on
// position or on how a caller splits the array.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_MATH_MATH_H_
#define TESSERA_OPS_MATH_MATH_H_

#include <cstddef>
#include <cstdint>

#include "ops/elementwise/elementwise.h"

namespace tessera::ops {

// erf(x), absolute error below 2e-7 (relative error of a few ulp for
// |x| < 0.5); exactly +-1 for |x| >= 4; NaN stays NaN.
void ErfF32(const float* in, float* out, size_t n);
// sqrt(x), correctly rounded (IEEE); NaN for x < 0.
void SqrtF32(const float* in, float* out, size_t n);
// x/2 * (1 + erf(x / sqrt 2)) (ONNX Gelu, approximate="none").
void GeluErfF32(const float* in, float* out, size_t n);
// x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) (approximate="tanh").
void GeluTanhF32(const float* in, float* out, size_t n);

// out[i] = pow(a[.], b[.]) with numpy broadcasting (plan from
// MakeBroadcastPlan), for flat output indices [begin, end). Computed in
// double precision and rounded once, so within 1 ulp of the true power;
// special cases as C's pow (pow(x, 0) = 1, pow(1, y) = 1, negative base
// with a non-integer exponent is NaN, pow(0, negative) = inf).
void PowF32(const BroadcastPlan& plan, const float* a, const float* b, float* out, int64_t begin, int64_t end);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_MATH_MATH_H_
