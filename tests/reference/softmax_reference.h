// Naive double-precision reference for ONNX Softmax, written from the
// definition and never calling kernel code:
//   v13+:  y = exp(x - max) / sum(exp(x - max)) along one axis;
//   v1-12: the same over each row of the input coerced to 2-D at `axis`.
#ifndef TESSERA_TESTS_REFERENCE_SOFTMAX_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_SOFTMAX_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace tessera::reference {

// Softmax of x (row-major, shape `shape`) along axis `axis` in [0, rank).
// Also returns, per element, the spread max_j |x_j - m| of its softmax
// vector, which the tests' error bound needs.
inline std::vector<double> RefSoftmax(const std::vector<float>& x, const std::vector<int64_t>& shape, int64_t axis,
                                      std::vector<double>* spread = nullptr) {
  int64_t outer = 1;
  int64_t inner = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= shape[static_cast<size_t>(k)];
  for (size_t k = static_cast<size_t>(axis) + 1; k < shape.size(); ++k) inner *= shape[k];
  const int64_t len = shape[static_cast<size_t>(axis)];
  std::vector<double> y(x.size());
  if (spread != nullptr) spread->assign(x.size(), 0.0);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t a) { return static_cast<size_t>((o * len + a) * inner + i); };
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t a = 0; a < len; ++a) m = std::fmax(m, x[at(a)]);
      double sum = 0;
      double range = 0;
      for (int64_t a = 0; a < len; ++a) {
        sum += std::exp(x[at(a)] - m);
        range = std::fmax(range, std::fabs(x[at(a)] - m));
      }
      for (int64_t a = 0; a < len; ++a) {
        y[at(a)] = std::exp(x[at(a)] - m) / sum;
        if (spread != nullptr) (*spread)[at(a)] = range;
      }
    }
  }
  return y;
}

// ONNX Softmax v1-12: coerce to [N, D] with N = prod(dims[:axis]) and
// softmax over each row of D elements.
inline std::vector<double> RefSoftmaxCoerced2D(const std::vector<float>& x, const std::vector<int64_t>& shape,
                                               int64_t axis, std::vector<double>* spread = nullptr) {
  int64_t n = 1;
  int64_t d = 1;
  for (size_t k = 0; k < shape.size(); ++k) (static_cast<int64_t>(k) < axis ? n : d) *= shape[k];
  return RefSoftmax(x, {n, d}, 1, spread);
}

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_SOFTMAX_REFERENCE_H_
