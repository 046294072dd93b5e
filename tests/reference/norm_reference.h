// Naive double-precision references for ONNX LayerNormalization (opset 17)
// and ReduceMean, written from the definitions; never kernel code.
#ifndef TESSERA_TESTS_REFERENCE_NORM_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_NORM_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace tessera::reference {

struct RefLayerNormResult {
  std::vector<double> y;
  std::vector<double> mean;         // one per row
  std::vector<double> inv_std_dev;  // one per row
  std::vector<double> abs_mean;     // mean |x| per row, for error bounds
};

// x is [rows, cols] row-major; scale and bias have cols elements (already
// broadcast) or are empty (1 and 0).
inline RefLayerNormResult RefLayerNorm(const std::vector<float>& x, int64_t rows, int64_t cols,
                                       const std::vector<float>& scale, const std::vector<float>& bias,
                                       double epsilon) {
  RefLayerNormResult r;
  r.y.resize(x.size());
  for (int64_t i = 0; i < rows; ++i) {
    double sum = 0, abs_sum = 0;
    for (int64_t j = 0; j < cols; ++j) {
      sum += x[static_cast<size_t>(i * cols + j)];
      abs_sum += std::fabs(x[static_cast<size_t>(i * cols + j)]);
    }
    const double mean = sum / static_cast<double>(cols);
    double var = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double c = x[static_cast<size_t>(i * cols + j)] - mean;
      var += c * c;
    }
    var /= static_cast<double>(cols);
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t j = 0; j < cols; ++j) {
      const size_t k = static_cast<size_t>(i * cols + j);
      double v = (x[k] - mean) * inv;
      if (!scale.empty()) v *= scale[static_cast<size_t>(j)];
      if (!bias.empty()) v += bias[static_cast<size_t>(j)];
      r.y[k] = v;
    }
    r.mean.push_back(mean);
    r.inv_std_dev.push_back(inv);
    r.abs_mean.push_back(abs_sum / static_cast<double>(cols));
  }
  return r;
}

// Mean of x (row-major, `shape`) over the dims flagged in `reduced`; the
// output is in row-major order of the kept dims. Also returns the mean of
// |x| over each output's elements (for the error bound).
inline std::vector<double> RefReduceMean(const std::vector<float>& x, const std::vector<int64_t>& shape,
                                         const std::vector<bool>& reduced, std::vector<double>* abs_mean) {
  int64_t out_size = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (!reduced[k]) out_size *= shape[k];
  }
  std::vector<double> sum(static_cast<size_t>(out_size), 0.0), abs_sum(sum), count(sum);
  std::vector<int64_t> index(shape.size(), 0);
  for (size_t flat = 0; flat < x.size(); ++flat) {
    int64_t rest = static_cast<int64_t>(flat);
    for (size_t k = shape.size(); k-- > 0;) {
      index[k] = rest % shape[k];
      rest /= shape[k];
    }
    int64_t o = 0;
    for (size_t k = 0; k < shape.size(); ++k) {
      if (!reduced[k]) o = o * shape[k] + index[k];
    }
    sum[static_cast<size_t>(o)] += x[flat];
    abs_sum[static_cast<size_t>(o)] += std::fabs(x[flat]);
    count[static_cast<size_t>(o)] += 1;
  }
  std::vector<double> mean(sum.size());
  if (abs_mean != nullptr) abs_mean->resize(sum.size());
  for (size_t o = 0; o < sum.size(); ++o) {
    mean[o] = sum[o] / count[o];
    if (abs_mean != nullptr) (*abs_mean)[o] = abs_sum[o] / count[o];
  }
  return mean;
}

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_NORM_REFERENCE_H_
