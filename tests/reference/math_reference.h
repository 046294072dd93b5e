// Naive double-precision references for ONNX Erf, Sqrt, Gelu and Pow,
// written from the definitions with <cmath> in double; never kernel code.
#ifndef TESSERA_TESTS_REFERENCE_MATH_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_MATH_REFERENCE_H_

#include <cmath>

namespace tessera::reference {

inline double RefErf(double x) { return std::erf(x); }

inline double RefSqrt(double x) { return std::sqrt(x); }

// ONNX Gelu, approximate="none": x/2 (1 + erf(x / sqrt 2)), evaluated as
// x/2 erfc(-x / sqrt 2) so it stays accurate where it is tiny.
// At x = -inf the formula is -inf * 0; Tessera defines it as the limit, 0.
inline double RefGeluErf(double x) {
  if (std::isinf(x) && x < 0) return 0.0;
  return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
}

// approximate="tanh": x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
inline double RefGeluTanh(double x) {
  if (std::isinf(x) && x < 0) return 0.0;  // the limit, as above
  const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  // 1 + tanh(u) = 2 / (1 + e^-2u), exact in double for all u.
  return x / (1.0 + std::exp(-2.0 * u));
}

inline double RefPow(double x, double y) { return std::pow(x, y); }

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_MATH_REFERENCE_H_
