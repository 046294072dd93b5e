// SIMD code of the elementwise family, compiled once per Highway target.
//
// Maths
//   Binary: C = A op B, op in {+, -, *, /}, with numpy broadcasting (ONNX
//   Add/Sub/Mul/Div v7+). f32 ops are single IEEE operations, so every
//   target and the tails give the correctly rounded result.
//   Unary (ONNX Relu/Sigmoid/Tanh/Exp v6+):
//     Relu(x)    = x < 0 ? 0 : x (NaN and -0 pass through).
//     Exp(x)     = e^x via hwy::Exp (Highway's documented bound: 1 ulp on
//                  [-FLT_MAX, 104]). x is clamped to [-105, 104] first: below
//                  -104 hwy::Exp returns 0 (true value < 2^-150, rounds to 0),
//                  and above 88.73 it overflows to +inf, as e^x does. The
//                  clamp keeps the float->int conversion inside hwy::Exp in
//                  range for inputs like +-1e30 or +-inf.
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
//     Tanh(x)    = hwy::Tanh (documented bound 4 ulp over all floats; +-1
//                  beyond |x| > 18.7), input clamped to [-20, 20] for the same
//                  conversion-range reason as Exp.
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

#include "hwy/contrib/math/math-inl.h"
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

template <class D, class V>
HWY_INLINE V VecExp(D d, V x) {
  const V clamped = hn::Min(hn::Max(x, hn::Set(d, -105.0f)), hn::Set(d, 104.0f));
  const V y = hn::Exp(d, clamped);
  return hn::IfThenElse(hn::Eq(x, x), y, x);  // NaN in, NaN out
}

template <class D, class V>
HWY_INLINE V VecSigmoid(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V e = VecExp(d, hn::Neg(hn::Abs(x)));  // (0, 1]; NaN for NaN
  const V r = hn::Div(one, hn::Add(one, e));
  return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(e, r), r);
}

template <class D, class V>
HWY_INLINE V VecTanh(D d, V x) {
  const V limit = hn::Set(d, 20.0f);
  const V clamped = hn::Min(hn::Max(x, hn::Neg(limit)), limit);
  const V y = hn::Tanh(d, clamped);
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
