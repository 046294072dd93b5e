// Per-target entry points of the elementwise family and their dispatchers.
// The maths, the tail contract and the partitioning rule are described at
// the top of elementwise-inl.h; this file only instantiates them once per
// Highway target and exports one plain function per entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/elementwise/elementwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/elementwise/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

void ReluF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, ReluFn()); }
void SigmoidF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, SigmoidFn()); }
void TanhF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, TanhFn()); }
void ExpF32Kernel(const float* in, float* out, size_t n) { UnaryArrayF32(in, out, n, ExpFn()); }

void BinaryF32Kernel(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, float* out,
                     int64_t begin, int64_t end) {
  BinaryF32Impl(op, plan, a, b, out, begin, end);
}
void BinaryI32Kernel(BinaryOp op, const BroadcastPlan& plan, const int32_t* a, const int32_t* b, int32_t* out,
                     int64_t begin, int64_t end) {
  BinaryIntImpl<int32_t>(op, plan, a, b, out, begin, end);
}
void BinaryI64Kernel(BinaryOp op, const BroadcastPlan& plan, const int64_t* a, const int64_t* b, int64_t* out,
                     int64_t begin, int64_t end) {
  BinaryIntImpl<int64_t>(op, plan, a, b, out, begin, end);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

namespace tessera::ops {

HWY_EXPORT(ReluF32Kernel);
HWY_EXPORT(SigmoidF32Kernel);
HWY_EXPORT(TanhF32Kernel);
HWY_EXPORT(ExpF32Kernel);
HWY_EXPORT(BinaryF32Kernel);
HWY_EXPORT(BinaryI32Kernel);
HWY_EXPORT(BinaryI64Kernel);

void ReluF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(ReluF32Kernel)(in, out, n); }
void SigmoidF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(SigmoidF32Kernel)(in, out, n); }
void TanhF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(TanhF32Kernel)(in, out, n); }
void ExpF32(const float* in, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(ExpF32Kernel)(in, out, n); }

void BinaryF32(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, float* out, int64_t begin,
               int64_t end) {
  HWY_DYNAMIC_DISPATCH(BinaryF32Kernel)(op, plan, a, b, out, begin, end);
}
void BinaryI32(BinaryOp op, const BroadcastPlan& plan, const int32_t* a, const int32_t* b, int32_t* out,
               int64_t begin, int64_t end) {
  HWY_DYNAMIC_DISPATCH(BinaryI32Kernel)(op, plan, a, b, out, begin, end);
}
void BinaryI64(BinaryOp op, const BroadcastPlan& plan, const int64_t* a, const int64_t* b, int64_t* out,
               int64_t begin, int64_t end) {
  HWY_DYNAMIC_DISPATCH(BinaryI64Kernel)(op, plan, a, b, out, begin, end);
}

// ---------------------------------------------------------------------------
// Broadcast planning: plain C++, compiled once.

const char* BinaryOpName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "Add";
    case BinaryOp::kSub:
      return "Sub";
    case BinaryOp::kMul:
      return "Mul";
    case BinaryOp::kDiv:
      return "Div";
  }
  return "?";
}

StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b, const char* a_name, const char* b_name) {
  const size_t rank = a.size() > b.size() ? a.size() : b.size();
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Right-aligned; missing leading dims act as 1.
    const int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (da == db) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else if (db == 1) {
      out[i] = da;
    } else if (da == kDynamicDim) {
      // Unknown vs known n > 1: the unknown one must be 1 or n at run time.
      out[i] = db;
    } else if (db == kDynamicDim) {
      out[i] = da;
    } else {
      return Error(StatusCode::kInvalidArgument, a_name, " ", ShapeToString(a), " and ", b_name, " ",
                   ShapeToString(b), " are not broadcastable: dim ", i, " is ", da, " vs ", db);
    }
  }
  // Each operand is bounded by the element limit, their broadcast is not
  // ([2^32, 1] with [1, 2^32]), and shapes inferred at load are checked
  // against the limit only after inference: ops downstream (Reshape's -1)
  // must not see an element count that wraps int64. A 0 makes it 0.
  if (std::find(out.begin(), out.end(), 0) == out.end()) {
    int64_t n = 1;
    for (int64_t d : out) {
      if (d < 0) continue;  // dynamic
      if (n > std::numeric_limits<int64_t>::max() / d) {
        return Error(StatusCode::kInvalidArgument, a_name, " ", ShapeToString(a), " and ", b_name, " ",
                     ShapeToString(b), " broadcast to ", ShapeToString(out), ", more than 2^63 - 1 elements");
      }
      n *= d;
    }
  }
  return out;
}

StatusOr<BroadcastPlan> MakeBroadcastPlan(const Shape& a, const Shape& b) {
  TSR_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(a, b));
  if (!IsStatic(out) || !IsStatic(a) || !IsStatic(b)) {
    return Error(StatusCode::kInvalidArgument, "broadcast plan needs static shapes, got A ", ShapeToString(a),
                 " and B ", ShapeToString(b));
  }
  TSR_ASSIGN_OR_RETURN(int64_t num_elements, CheckedNumElements(out));
  const size_t rank = out.size();
  BroadcastPlan plan;
  plan.num_elements = num_elements;
  if (num_elements == 0) {
    // Nothing to walk: one empty dim, strides 0. An empty operand's other
    // dims can be huge (called without the loader's element limit), and the
    // strides below would multiply them: [0, 2^62, 4] with [0, 1, 4] keeps
    // 2^62 and 4 in separate groups, and A's step became 4 * 2^62.
    plan.rank = 1;
    return plan;
  }
  // Collapse: drop output dims of 1, merge neighbours in which each operand
  // is read along (its dim equals the output's) or broadcast alike.
  bool a_full[kMaxBroadcastRank];
  bool b_full[kMaxBroadcastRank];
  for (size_t i = 0; i < rank; ++i) {
    if (out[i] == 1) continue;
    const bool fa = (i + a.size() >= rank ? a[i + a.size() - rank] : 1) == out[i];
    const bool fb = (i + b.size() >= rank ? b[i + b.size() - rank] : 1) == out[i];
    if (plan.rank > 0 && a_full[plan.rank - 1] == fa && b_full[plan.rank - 1] == fb) {
      plan.dims[plan.rank - 1] *= out[i];
      continue;
    }
    if (plan.rank == kMaxBroadcastRank) {
      return Error(StatusCode::kUnimplemented, "broadcasting A ", ShapeToString(a), " against B ", ShapeToString(b),
                   " alternates between broadcast patterns more than ", kMaxBroadcastRank, " times");
    }
    plan.dims[plan.rank] = out[i];
    a_full[plan.rank] = fa;
    b_full[plan.rank] = fb;
    ++plan.rank;
  }
  if (plan.rank == 0) {  // every output dim is 1: one element
    plan.rank = 1;
    plan.dims[0] = 1;
    a_full[0] = b_full[0] = true;
  }
  int64_t a_step = 1;
  int64_t b_step = 1;
  for (int k = plan.rank - 1; k >= 0; --k) {
    plan.a_strides[k] = a_full[k] ? a_step : 0;
    plan.b_strides[k] = b_full[k] ? b_step : 0;
    if (a_full[k]) a_step *= plan.dims[k];
    if (b_full[k]) b_step *= plan.dims[k];
  }
  return plan;
}

}  // namespace tessera::ops

#endif  // HWY_ONCE
