// Naive double-precision references for ONNX MatMul and Gemm, written from
// the definitions and never calling kernel code. Each also returns, per
// output element, the magnitude sum_p |a_p * b_p| (scaled as the result is)
// plus |beta * c|, which the tests' error bound needs.
#ifndef TESSERA_TESTS_REFERENCE_GEMM_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_GEMM_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace tessera::reference {

struct RefResult {
  std::vector<int64_t> shape;
  std::vector<double> values;
  std::vector<double> magnitude;
};

// numpy.matmul: 1-D operands are promoted ([k] -> [1, k] for A, [k, 1] for
// B) and the promoted dim dropped from the result; leading dims broadcast.
// Shapes are assumed valid.
inline RefResult RefMatMul(const std::vector<float>& a, std::vector<int64_t> a_shape, const std::vector<float>& b,
                           std::vector<int64_t> b_shape) {
  const bool a_vec = a_shape.size() == 1;
  const bool b_vec = b_shape.size() == 1;
  if (a_vec) a_shape.insert(a_shape.begin(), 1);
  if (b_vec) b_shape.push_back(1);
  const int64_t m = a_shape[a_shape.size() - 2];
  const int64_t k = a_shape.back();
  const int64_t n = b_shape.back();
  const std::vector<int64_t> a_batch(a_shape.begin(), a_shape.end() - 2);
  const std::vector<int64_t> b_batch(b_shape.begin(), b_shape.end() - 2);
  const size_t rank = a_batch.size() > b_batch.size() ? a_batch.size() : b_batch.size();
  // Right-align both batch shapes to `rank` dims, padding with 1.
  std::vector<int64_t> ab(rank, 1), bb(rank, 1), ob(rank, 1);
  for (size_t i = 0; i < a_batch.size(); ++i) ab[rank - a_batch.size() + i] = a_batch[i];
  for (size_t i = 0; i < b_batch.size(); ++i) bb[rank - b_batch.size() + i] = b_batch[i];
  int64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    ob[i] = ab[i] == 1 ? bb[i] : ab[i];
    count *= ob[i];
  }
  RefResult r;
  r.shape = ob;
  if (!a_vec) r.shape.push_back(m);
  if (!b_vec) r.shape.push_back(n);
  r.values.assign(static_cast<size_t>(count * m * n), 0.0);
  r.magnitude.assign(r.values.size(), 0.0);
  for (int64_t batch = 0; batch < count; ++batch) {
    // Coordinates of `batch` in ob, mapped to A's and B's (broadcast) index.
    int64_t rest = batch, ai = 0, bi = 0, a_stride = 1, b_stride = 1;
    for (size_t d = rank; d-- > 0;) {
      const int64_t coord = rest % ob[d];
      rest /= ob[d];
      ai += (ab[d] == 1 ? 0 : coord) * a_stride;
      bi += (bb[d] == 1 ? 0 : coord) * b_stride;
      a_stride *= ab[d];
      b_stride *= bb[d];
    }
    const float* am = a.data() + ai * m * k;
    const float* bm = b.data() + bi * k * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0, mag = 0;
        for (int64_t p = 0; p < k; ++p) {
          const double t = static_cast<double>(am[i * k + p]) * bm[p * n + j];
          sum += t;
          mag += std::fabs(t);
        }
        const size_t out = static_cast<size_t>((batch * m + i) * n + j);
        r.values[out] = sum;
        r.magnitude[out] = mag;
      }
    }
  }
  return r;
}

// ONNX Gemm: Y = alpha * op(A) * op(B) + beta * C, C (may be empty: absent)
// broadcast to [m, n] with numpy rules.
inline RefResult RefGemm(const std::vector<float>& a, const std::vector<int64_t>& a_shape, bool trans_a,
                         const std::vector<float>& b, const std::vector<int64_t>& b_shape, bool trans_b,
                         const std::vector<float>* c, const std::vector<int64_t>& c_shape, double alpha,
                         double beta) {
  const int64_t m = trans_a ? a_shape[1] : a_shape[0];
  const int64_t k = trans_a ? a_shape[0] : a_shape[1];
  const int64_t n = trans_b ? b_shape[0] : b_shape[1];
  RefResult r;
  r.shape = {m, n};
  r.values.assign(static_cast<size_t>(m * n), 0.0);
  r.magnitude.assign(r.values.size(), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0, mag = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = trans_a ? a[static_cast<size_t>(p * m + i)] : a[static_cast<size_t>(i * k + p)];
        const double bv = trans_b ? b[static_cast<size_t>(j * k + p)] : b[static_cast<size_t>(p * n + j)];
        sum += av * bv;
        mag += std::fabs(av * bv);
      }
      double y = alpha * sum;
      double y_mag = std::fabs(alpha) * mag;
      if (c != nullptr) {
        // Right-aligned C dims; a dim of 1 (or a missing one) repeats.
        const int64_t cm = c_shape.size() == 2 ? c_shape[0] : 1;
        const int64_t cn = c_shape.empty() ? 1 : c_shape.back();
        const double cv = (*c)[static_cast<size_t>((cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j))];
        y += beta * cv;
        y_mag += std::fabs(beta * cv);
      }
      r.values[static_cast<size_t>(i * n + j)] = y;
      r.magnitude[static_cast<size_t>(i * n + j)] = y_mag;
    }
  }
  return r;
}

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_GEMM_REFERENCE_H_
