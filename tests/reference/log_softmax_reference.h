// Naive double-precision reference for ONNX LogSoftmax (v13+ along one
// axis; v1-12 over the input coerced to 2-D, which is the same computation
// on the [prod(dims[:axis]), prod(dims[axis:])] view with axis 1):
//   y = x - max - log(sum exp(x - max)).
#ifndef TESSERA_TESTS_REFERENCE_LOG_SOFTMAX_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_LOG_SOFTMAX_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace tessera::reference {

// Along the middle axis of [outer, len, inner]; `spread` gets max_j |x_j -
// max| of each element's vector (for the error bound).
inline std::vector<double> RefLogSoftmax(const std::vector<float>& x, int64_t outer, int64_t len, int64_t inner,
                                         std::vector<double>* spread) {
  std::vector<double> y(x.size());
  spread->assign(x.size(), 0.0);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t a) { return static_cast<size_t>((o * len + a) * inner + i); };
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t a = 0; a < len; ++a) m = std::fmax(m, x[at(a)]);
      double sum = 0, range = 0;
      for (int64_t a = 0; a < len; ++a) {
        sum += std::exp(x[at(a)] - m);
        range = std::fmax(range, std::fabs(x[at(a)] - m));
      }
      for (int64_t a = 0; a < len; ++a) {
        y[at(a)] = (x[at(a)] - m) - std::log(sum);
        (*spread)[at(a)] = range;
      }
    }
  }
  return y;
}

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_LOG_SOFTMAX_REFERENCE_H_
