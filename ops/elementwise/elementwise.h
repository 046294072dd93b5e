// Elementwise kernels: numpy-broadcast binary arithmetic (Add, Sub, Mul,
// Div) and unary activations (Relu, Sigmoid, Tanh, Exp).
//
// These are plain entry points over raw arrays; each dispatches once to the
// best Highway target (elementwise.cc). Other families reuse them directly
// (LSTM/GRU gate epilogues call SigmoidF32/TanhF32 on whole gate rows), and
// SIMD code in other -inl.h files can use the vector forms VecSigmoid,
// VecTanh, VecExp and VecRelu from ops/elementwise/elementwise-inl.h.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_H_
#define TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_H_

#include <cstddef>
#include <cstdint>

#include "runtime/core/status.h"
#include "runtime/core/tensor.h"

namespace tessera::ops {

// ---------------------------------------------------------------------------
// Unary f32 kernels: out[i] = f(in[i]) for i in [0, n).
//
// `in == out` (in place) is allowed; otherwise the ranges must not overlap.
// Nothing outside [in, in + n) and [out, out + n) is touched. Every element
// goes through the same vector code (tails use one-lane vectors), so a
// value's result never depends on its position, on n or on how a caller
// splits the array: chunked and whole-array calls are bitwise equal.
// NaN inputs give NaN; no finite input gives NaN or a spurious inf.

// max(x, 0); NaN stays NaN.
void ReluF32(const float* in, float* out, size_t n);
// 1 / (1 + e^-x), within 3 ulp; exactly 1 for x >= 17, exactly 0 for
// x < -103.9 (true value below half the smallest subnormal).
void SigmoidF32(const float* in, float* out, size_t n);
// tanh(x), within 3 ulp; exactly +-1 for |x| > 9.1.
void TanhF32(const float* in, float* out, size_t n);
// e^x, within 1 ulp; +inf where e^x overflows (x > 88.72), 0 where it
// underflows (x < -103.9).
void ExpF32(const float* in, float* out, size_t n);

// ---------------------------------------------------------------------------
// Binary kernels with numpy multidirectional broadcasting.

enum class BinaryOp : int32_t { kAdd, kSub, kMul, kDiv };

// "Add", "Sub", "Mul", "Div".
const char* BinaryOpName(BinaryOp op);

// Output shape of broadcasting `a` against `b` (numpy rules: right-aligned,
// a dim of 1 stretches). Dims may be kDynamicDim: an unknown dim against 1
// or an unknown dim stays unknown, against a known n > 1 it becomes n. Fails
// (kInvalidArgument) only on a definite mismatch, naming both operands:
//   "A [2, 3] and B [4] are not broadcastable: dim 1 is 3 vs 4"
// `a_name` and `b_name` name the operands in that message.
StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b, const char* a_name = "A",
                                const char* b_name = "B");

// Most distinct dims a broadcast can keep after collapsing (see below).
inline constexpr int kMaxBroadcastRank = 16;

// How to walk a broadcast: adjacent output dims in which each operand is
// either read along or broadcast alike are merged, and output dims of 1 are
// dropped, so [64, 128, 32] + [32] becomes dims {8192, 32} with A strides
// {32, 1} and B strides {0, 1}. The innermost collapsed dim is a contiguous
// run in the output, in which each operand has stride 1 (read along) or 0
// (one repeated value); the kernels loop over runs, not over indices.
struct BroadcastPlan {
  int rank = 0;  // number of collapsed dims, >= 1
  int64_t num_elements = 0;  // of the output
  int64_t dims[kMaxBroadcastRank] = {};
  int64_t a_strides[kMaxBroadcastRank] = {};  // elements; 0 where A is broadcast
  int64_t b_strides[kMaxBroadcastRank] = {};
};

// Builds the plan for static shapes `a` and `b`. Fails when they do not
// broadcast (message as BroadcastShapes) or in the pathological case of more
// than kMaxBroadcastRank alternating broadcast patterns (kUnimplemented).
StatusOr<BroadcastPlan> MakeBroadcastPlan(const Shape& a, const Shape& b);

// out[i] = a[.] op b[.] for flat output indices i in [begin, end), with
// operand offsets taken from `plan`. `out` points at the whole output, not
// at out + begin. Outputs must not overlap inputs unless they alias exactly
// with the same plan strides (an in-place same-shape op).
//
// f32 follows IEEE (x / 0 is +-inf or NaN). The integer forms wrap around on
// overflow (two's complement, INT_MIN / -1 == INT_MIN) and truncate
// division toward zero like C and ONNX; x / 0 yields 0 rather than trapping,
// and callers that must report it check the divisor first (the Div op
// returns an error Status).
void BinaryF32(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, float* out,
               int64_t begin, int64_t end);
void BinaryI32(BinaryOp op, const BroadcastPlan& plan, const int32_t* a, const int32_t* b, int32_t* out,
               int64_t begin, int64_t end);
void BinaryI64(BinaryOp op, const BroadcastPlan& plan, const int64_t* a, const int64_t* b, int64_t* out,
               int64_t begin, int64_t end);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_ELEMENTWISE_ELEMENTWISE_H_
