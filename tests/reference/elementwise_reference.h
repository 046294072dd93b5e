// Naive double-precision references for the elementwise ops, written from
// the ONNX definitions (numpy broadcasting, C integer division) and never
// calling kernel code: one multi-index per output element, computed the
// slow, obvious way.
#ifndef TESSERA_TESTS_REFERENCE_ELEMENTWISE_REFERENCE_H_
#define TESSERA_TESTS_REFERENCE_ELEMENTWISE_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace tessera::reference {

using RefShape = std::vector<int64_t>;

inline int64_t RefNumElements(const RefShape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// numpy broadcast of two static shapes; `ok` false when they do not
// broadcast.
inline RefShape RefBroadcastShape(const RefShape& a, const RefShape& b, bool* ok) {
  *ok = true;
  const size_t rank = a.size() > b.size() ? a.size() : b.size();
  RefShape out(rank, 1);
  for (size_t k = 0; k < rank; ++k) {
    // Dim k counted from the right.
    const int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
    const int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
    int64_t d = da;
    if (da == 1) {
      d = db;
    } else if (db != 1 && db != da) {
      *ok = false;
    }
    out[rank - 1 - k] = d;
  }
  return out;
}

// Flat index into an operand of shape `in` for the output multi-index
// `index` (rank of the output): right-aligned, size-1 dims read index 0.
inline int64_t RefOperandIndex(const RefShape& in, const RefShape& index) {
  int64_t flat = 0;
  const size_t offset = index.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k) {
    const int64_t i = in[k] == 1 ? 0 : index[offset + k];
    flat = flat * in[k] + i;
  }
  return flat;
}

enum class RefBinary { kAdd, kSub, kMul, kDiv };

inline double RefApply(RefBinary op, double a, double b) {
  switch (op) {
    case RefBinary::kAdd:
      return a + b;
    case RefBinary::kSub:
      return a - b;
    case RefBinary::kMul:
      return a * b;
    case RefBinary::kDiv:
      return a / b;
  }
  return 0;
}

// C = A op B with broadcasting, in double. For integer ops the caller
// passes exactly representable values and applies RefIntDivide for Div.
inline std::vector<double> RefBinaryBroadcast(RefBinary op, const RefShape& a_shape, const std::vector<double>& a,
                                              const RefShape& b_shape, const std::vector<double>& b,
                                              bool integer_division) {
  bool ok = false;
  const RefShape out_shape = RefBroadcastShape(a_shape, b_shape, &ok);
  if (!ok) std::abort();  // test bug: references are only called on valid shapes
  const int64_t n = RefNumElements(out_shape);
  std::vector<double> out(static_cast<size_t>(n));
  RefShape index(out_shape.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    // Multi-index of `flat` in the output.
    int64_t rest = flat;
    for (size_t k = out_shape.size(); k-- > 0;) {
      index[k] = rest % out_shape[k];
      rest /= out_shape[k];
    }
    const double va = a[static_cast<size_t>(RefOperandIndex(a_shape, index))];
    const double vb = b[static_cast<size_t>(RefOperandIndex(b_shape, index))];
    double v = RefApply(op, va, vb);
    if (integer_division) v = std::trunc(v);  // C and ONNX: toward zero
    out[static_cast<size_t>(flat)] = v;
  }
  return out;
}

inline double RefRelu(double x) { return x < 0 ? 0.0 : x; }
inline double RefSigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double RefTanh(double x) { return std::tanh(x); }
inline double RefExp(double x) { return std::exp(x); }

}  // namespace tessera::reference

#endif  // TESSERA_TESTS_REFERENCE_ELEMENTWISE_REFERENCE_H_
