// Tests of the elementwise ops (Add, Sub, Mul, Div, Relu, Sigmoid, Tanh,
// Exp) through testing::RunOp, against the double-precision references in
// tests/reference/elementwise_reference.h, on every Highway target.
//
// Tolerances:
//   Add/Sub/Mul/Div f32: exact. Each is one IEEE operation, and rounding the
//     double result (which has more than 2*24+2 bits) to float gives the
//     correctly rounded float result, so the kernel must match bitwise.
//   Relu: exact.
//   Exp: 1 ulp (0.82 measured over every float, elementwise-inl.h).
//   Sigmoid: 3 ulp (derived in elementwise-inl.h from Exp's 1 ulp; 2.82
//     measured).
//   Tanh: 3 ulp (2.68 measured over every float).
//   Ulps are measured at the reference value; below FLT_MIN one ulp is the
//   subnormal step 2^-149.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/elementwise/elementwise.h"
#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "tests/reference/elementwise_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using reference::RefBinary;
using testing::BitwiseEqual;
using testing::ForEachTarget;
using testing::FromVector;
using testing::MakeTensor;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;

const std::vector<int64_t>& TestSizes() {
  static const std::vector<int64_t> sizes = [] {
    std::vector<int64_t> s = {1, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 1000};
    std::mt19937 rng(20240611);
    std::uniform_int_distribution<int64_t> dist(0, 2500);
    for (int i = 0; i < 5; ++i) s.push_back(2 * dist(rng) + 1);  // random odd sizes
    return s;
  }();
  return sizes;
}

std::string Where(const char* target, const Shape& shape, uint32_t seed) {
  std::ostringstream os;
  os << "target " << target << ", shape " << ShapeToString(shape) << ", seed " << seed;
  return os.str();
}

struct BinaryCase {
  const char* name;
  RefBinary ref;
};
const BinaryCase kBinaryOps[] = {
    {"Add", RefBinary::kAdd}, {"Sub", RefBinary::kSub}, {"Mul", RefBinary::kMul}, {"Div", RefBinary::kDiv}};

StatusOr<std::vector<OwnedTensor>> RunBinary(const char* op, const Tensor& a, const Tensor& b, int threads = 1) {
  OpInvocation inv;
  inv.op_type = op;
  inv.inputs = {&a, &b};
  inv.threads = threads;
  return RunOp(inv);
}

StatusOr<std::vector<OwnedTensor>> RunUnary(const char* op, const Tensor& x, int threads = 1) {
  OpInvocation inv;
  inv.op_type = op;
  inv.inputs = {&x};
  inv.threads = threads;
  return RunOp(inv);
}

// Random f32 operand; divisors are kept in +-[0.5, 2] so quotients are tame.
OwnedTensor RandomOperand(const Shape& shape, uint32_t seed, bool divisor) {
  if (!divisor) return RandomF32(shape, seed, -10.0f, 10.0f);
  OwnedTensor t = RandomF32(shape, seed, 0.5f, 2.0f);
  std::mt19937 rng(seed ^ 0x5bd1e995u);
  float* p = t.view.data_as<float>();
  for (int64_t i = 0; i < t.view.NumElements(); ++i) {
    if (rng() & 1) p[i] = -p[i];
  }
  return t;
}

std::vector<double> ToDoubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.NumElements()));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.dtype == DType::kF32) v[i] = t.data_as<float>()[i];
    if (t.dtype == DType::kI32) v[i] = t.data_as<int32_t>()[i];
    if (t.dtype == DType::kI64) v[i] = static_cast<double>(t.data_as<int64_t>()[i]);
  }
  return v;
}

// Runs `op` on f32 operands of the given shapes and expects the exact
// (correctly rounded) result.
void CheckBinaryF32(const BinaryCase& op, const Shape& a_shape, const Shape& b_shape, uint32_t seed,
                    const char* target) {
  OwnedTensor a = RandomOperand(a_shape, seed, false);
  OwnedTensor b = RandomOperand(b_shape, seed + 1, op.ref == RefBinary::kDiv);
  auto result = RunBinary(op.name, a.view, b.view);
  ASSERT_TRUE(result.ok()) << op.name << " " << Where(target, a_shape, seed) << ": " << result.status().ToString();
  const Tensor& c = result.value()[0].view;
  const std::vector<double> want =
      reference::RefBinaryBroadcast(op.ref, a_shape, ToDoubles(a.view), b_shape, ToDoubles(b.view), false);
  ASSERT_EQ(static_cast<size_t>(c.NumElements()), want.size());
  const float* got = c.data_as<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], static_cast<float>(want[i]))
        << op.name << " A " << ShapeToString(a_shape) << " B " << ShapeToString(b_shape) << " -> C "
        << ShapeToString(c.shape) << ", index " << i << ", seed " << seed << ", target " << target;
  }
}

template <typename T>
OwnedTensor RandomInt(const Shape& shape, uint32_t seed, bool divisor) {
  std::mt19937 rng(seed);
  // |a * b| <= 40000^2 < 2^31: products never overflow i32.
  std::uniform_int_distribution<int64_t> dist(divisor ? 1 : -40000, divisor ? 1000 : 40000);
  std::vector<T> v(static_cast<size_t>(NumElements(shape)));
  for (T& x : v) {
    x = static_cast<T>(dist(rng));
    if (divisor && (rng() & 1)) x = -x;
  }
  // FromVector memcpys from v.data(), which is null for an empty vector.
  if (v.empty()) return MakeTensor(DTypeOf<T>::value, shape);
  return FromVector<T>(shape, v);
}

template <typename T>
void CheckBinaryInt(const BinaryCase& op, const Shape& a_shape, const Shape& b_shape, uint32_t seed,
                    const char* target) {
  OwnedTensor a = RandomInt<T>(a_shape, seed, false);
  OwnedTensor b = RandomInt<T>(b_shape, seed + 1, op.ref == RefBinary::kDiv);
  auto result = RunBinary(op.name, a.view, b.view);
  ASSERT_TRUE(result.ok()) << op.name << " " << Where(target, a_shape, seed) << ": " << result.status().ToString();
  const Tensor& c = result.value()[0].view;
  ASSERT_EQ(c.dtype, DTypeOf<T>::value);
  // Operands up to 4e4 in magnitude: every result is exact in double.
  const std::vector<double> want = reference::RefBinaryBroadcast(op.ref, a_shape, ToDoubles(a.view), b_shape,
                                                                 ToDoubles(b.view), op.ref == RefBinary::kDiv);
  ASSERT_EQ(static_cast<size_t>(c.NumElements()), want.size());
  const T* got = c.data_as<T>();
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], static_cast<T>(want[i]))
        << op.name << " " << DTypeName(c.dtype) << " A " << ShapeToString(a_shape) << " B "
        << ShapeToString(b_shape) << ", index " << i << ", seed " << seed << ", target " << target;
  }
}

// Shape pairs that cover the broadcast walk's cases: same shape, row vector,
// column vector, scalar on either side, rank-0, size-1 dims on both sides,
// alternating patterns, zero-size dims, and runs longer than one vector.
const std::vector<std::pair<Shape, Shape>>& BroadcastCases() {
  static const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4}, {4}},          {{4}, {2, 3, 4}},        {{2, 1, 4}, {3, 1}},     {{3, 1}, {2, 1, 4}},
      {{}, {5, 7}},              {{5, 7}, {}},            {{}, {}},                {{1}, {5}},
      {{5}, {1}},                {{1}, {1}},              {{37, 1}, {37, 19}},     {{37, 19}, {37, 1}},
      {{1, 53}, {29, 1}},        {{3, 1, 5, 1}, {4, 1, 6}}, {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{1, 1, 17}, {17}},
      {{0, 3}, {3}},             {{2, 0}, {1}},           {{2, 0, 3}, {2, 1, 3}},  {{0}, {}},
      {{9, 130}, {130}},         {{130, 9}, {130, 1}},    {{6, 1, 70}, {1, 5, 70}}, {{1, 1000}, {3, 1}},
  };
  return cases;
}

TEST(ElementwiseTest, BinaryF32SameShapeEverySize) {
  ForEachTarget([](const char* target) {
    for (const BinaryCase& op : kBinaryOps) {
      uint32_t seed = 1;
      for (int64_t n : TestSizes()) {
        CheckBinaryF32(op, {n}, {n}, seed++, target);
        // Scalar operand on either side, over the same lengths.
        CheckBinaryF32(op, {n}, {}, seed++, target);
        CheckBinaryF32(op, {1}, {n}, seed++, target);
      }
    }
  });
}

TEST(ElementwiseTest, BinaryF32Broadcasting) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 100;
    for (const BinaryCase& op : kBinaryOps) {
      for (const auto& [a, b] : BroadcastCases()) CheckBinaryF32(op, a, b, seed++, target);
    }
  });
}

TEST(ElementwiseTest, BinaryIntBroadcasting) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 200;
    for (const BinaryCase& op : kBinaryOps) {
      for (const auto& [a, b] : BroadcastCases()) {
        CheckBinaryInt<int32_t>(op, a, b, seed++, target);
        CheckBinaryInt<int64_t>(op, a, b, seed++, target);
      }
      for (int64_t n : TestSizes()) CheckBinaryInt<int32_t>(op, {n}, {n}, seed++, target);
    }
  });
}

TEST(ElementwiseTest, BroadcastShapeIsNumpyShape) {
  OwnedTensor a = RandomF32({2, 1, 4}, 1);
  OwnedTensor b = RandomF32({3, 1}, 2);
  auto result = RunBinary("Add", a.view, b.view);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result.value()[0].view.shape, Shape({2, 3, 4}));
  OwnedTensor s = RandomF32({}, 3);
  result = RunBinary("Mul", s.view, s.view);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result.value()[0].view.shape, Shape({}));
  OwnedTensor z = RandomF32({2, 0}, 4);
  OwnedTensor one = RandomF32({1}, 5);
  result = RunBinary("Sub", z.view, one.view);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result.value()[0].view.shape, Shape({2, 0}));
}

TEST(ElementwiseTest, IntegerDivisionTruncatesTowardZero) {
  const std::vector<int32_t> a = {7, -7, 7, -7, 0, 1, -1, 99};
  const std::vector<int32_t> b = {2, 2, -2, -2, 5, 3, 3, -10};
  const std::vector<int32_t> want = {3, -3, -3, 3, 0, 0, 0, -9};
  ForEachTarget([&](const char* target) {
    OwnedTensor ta = FromVector<int32_t>({8}, a);
    OwnedTensor tb = FromVector<int32_t>({8}, b);
    auto result = RunBinary("Div", ta.view, tb.view);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(result.value()[0].view.data_as<int32_t>()[i], want[i]) << "index " << i << ", target " << target;
    }
    const std::vector<int64_t> a64(a.begin(), a.end());
    const std::vector<int64_t> b64(b.begin(), b.end());
    OwnedTensor ta64 = FromVector<int64_t>({8}, a64);
    OwnedTensor tb64 = FromVector<int64_t>({8}, b64);
    result = RunBinary("Div", ta64.view, tb64.view);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(result.value()[0].view.data_as<int64_t>()[i], want[i]) << "i64 index " << i << ", target " << target;
    }
  });
}

TEST(ElementwiseTest, IntegerDivisionByZeroIsAnError) {
  OwnedTensor a = FromVector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  OwnedTensor b = FromVector<int32_t>({3}, {1, 0, 2});
  auto result = RunBinary("Div", a.view, b.view);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("Div"), std::string::npos) << result.status().message();
  EXPECT_NE(result.status().message().find("division by zero"), std::string::npos) << result.status().message();
  EXPECT_NE(result.status().message().find("flat index 1"), std::string::npos) << result.status().message();

  OwnedTensor a64 = FromVector<int64_t>({4}, {1, 2, 3, 4});
  OwnedTensor zero64 = FromVector<int64_t>({}, {0});
  result = RunBinary("Div", a64.view, zero64.view);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("division by zero"), std::string::npos) << result.status().message();

  // Integer Mul by zero, and f32 division by zero, are fine.
  OwnedTensor b_zero = FromVector<int32_t>({3}, {0, 0, 0});
  EXPECT_TRUE(RunBinary("Mul", a.view, b_zero.view).ok());
  // An empty output divides nothing, whatever B holds.
  OwnedTensor empty = MakeTensor(DType::kI32, {0, 3});
  EXPECT_TRUE(RunBinary("Div", empty.view, b.view).ok());
}

TEST(ElementwiseTest, IntegerOverflowWraps) {
  constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
  constexpr int32_t kMax32 = std::numeric_limits<int32_t>::max();
  OwnedTensor a = FromVector<int32_t>({2}, {kMin32, kMax32});
  OwnedTensor m1 = FromVector<int32_t>({}, {-1});
  OwnedTensor p1 = FromVector<int32_t>({}, {1});
  auto div = RunBinary("Div", a.view, m1.view);  // INT_MIN / -1 must not trap
  ASSERT_TRUE(div.ok()) << div.status().ToString();
  EXPECT_EQ(div.value()[0].view.data_as<int32_t>()[0], kMin32);
  EXPECT_EQ(div.value()[0].view.data_as<int32_t>()[1], -kMax32);
  auto add = RunBinary("Add", a.view, p1.view);
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add.value()[0].view.data_as<int32_t>()[1], kMin32);
  constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
  OwnedTensor a64 = FromVector<int64_t>({1}, {kMin64});
  OwnedTensor m164 = FromVector<int64_t>({1}, {-1});
  auto div64 = RunBinary("Div", a64.view, m164.view);
  ASSERT_TRUE(div64.ok()) << div64.status().ToString();
  EXPECT_EQ(div64.value()[0].view.data_as<int64_t>()[0], kMin64);
  auto mul64 = RunBinary("Mul", a64.view, m164.view);
  ASSERT_TRUE(mul64.ok());
  EXPECT_EQ(mul64.value()[0].view.data_as<int64_t>()[0], kMin64);
}

TEST(ElementwiseTest, FloatDivisionByZeroFollowsIeee) {
  ForEachTarget([](const char* target) {
    OwnedTensor a = FromVector<float>({3}, {1.0f, -1.0f, 0.0f});
    OwnedTensor b = FromVector<float>({}, {0.0f});
    auto result = RunBinary("Div", a.view, b.view);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const float* c = result.value()[0].view.data_as<float>();
    EXPECT_EQ(c[0], std::numeric_limits<float>::infinity()) << target;
    EXPECT_EQ(c[1], -std::numeric_limits<float>::infinity()) << target;
    EXPECT_TRUE(std::isnan(c[2])) << target;
  });
}

// ---------------------------------------------------------------------------
// Unary ops.

struct UnaryCase {
  const char* name;
  double (*ref)(double);
  double max_ulp;
  float lo, hi;  // random input range: covers saturation and overflow
};
const UnaryCase kUnaryOps[] = {
    {"Relu", reference::RefRelu, 0, -10, 10},
    {"Sigmoid", reference::RefSigmoid, 3, -30, 30},
    {"Tanh", reference::RefTanh, 3, -12, 12},
    {"Exp", reference::RefExp, 1, -110, 95},
};

// Error of `got` in ulps of the float format at `want`. Results beyond the
// float range must be inf; inf counts as 2^128 near the boundary.
double UlpError(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : std::numeric_limits<double>::infinity();
  if (std::isnan(got)) return std::numeric_limits<double>::infinity();
  if (std::isinf(want) || std::fabs(want) > std::ldexp(1.0, 128)) {
    return got == std::copysign(std::numeric_limits<float>::infinity(), want) ? 0
                                                                            : std::numeric_limits<double>::infinity();
  }
  const double g = std::isinf(got) ? std::copysign(std::ldexp(1.0, 128), got) : static_cast<double>(got);
  const double aw = std::fabs(want);
  const double ulp = aw < FLT_MIN ? std::ldexp(1.0, -149) : std::ldexp(1.0, std::ilogb(aw) - 23);
  return std::fabs(g - want) / ulp;
}

void CheckUnary(const UnaryCase& op, const Tensor& x, uint32_t seed, const char* target) {
  auto result = RunUnary(op.name, x);
  ASSERT_TRUE(result.ok()) << op.name << " " << Where(target, x.shape, seed) << ": " << result.status().ToString();
  const Tensor& y = result.value()[0].view;
  ASSERT_EQ(y.shape, x.shape);
  const float* in = x.data_as<float>();
  const float* got = y.data_as<float>();
  for (int64_t i = 0; i < x.NumElements(); ++i) {
    const double want = op.ref(in[i]);
    const double err = UlpError(got[i], want);
    ASSERT_LE(err, op.max_ulp) << op.name << "(" << in[i] << ") = " << got[i] << ", want " << want << ", index "
                               << i << ", " << Where(target, x.shape, seed);
  }
}

TEST(ElementwiseTest, UnaryEverySize) {
  ForEachTarget([](const char* target) {
    for (const UnaryCase& op : kUnaryOps) {
      uint32_t seed = 300;
      for (int64_t n : TestSizes()) {
        OwnedTensor x = RandomF32({n}, seed, op.lo, op.hi);
        CheckUnary(op, x.view, seed++, target);
      }
    }
  });
}

// Every 16411th float bit pattern (a prime stride, so the mantissas vary):
// about 500 values in each binade of both signs, including the subnormals,
// the infinities and NaNs. The random tests above stay inside each op's
// interesting range; this one holds the bound over the whole float line.
TEST(ElementwiseTest, UnaryBoundHoldsAcrossEveryBinade) {
  std::vector<float> values;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 16411) {
    const uint32_t b = static_cast<uint32_t>(bits);
    float v;
    std::memcpy(&v, &b, sizeof(v));
    values.push_back(v);
  }
  OwnedTensor x = FromVector<float>({static_cast<int64_t>(values.size())}, values);
  ForEachTarget([&](const char* target) {
    for (const UnaryCase& op : kUnaryOps) CheckUnary(op, x.view, 0, target);
  });
}

TEST(ElementwiseTest, UnarySpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> values = {0.0f,   -0.0f,   1e-30f,   -1e-30f,  1e-5f,   -1e-5f,  1.0f,     -1.0f,
                               17.0f,  -17.0f,  18.7f,    -18.7f,   20.0f,   -20.0f,  87.3f,    -87.3f,
                               88.72f, -88.72f, 88.73f,   -88.73f,  100.0f,  -100.0f, 103.9f,   -103.9f,
                               104.0f, -104.0f, 110.0f,   -110.0f,  1e30f,   -1e30f,  FLT_MAX,  -FLT_MAX,
                               inf,    -inf,    FLT_MIN,  -FLT_MIN, 1e-40f,  -1e-40f, 0.5f,     -0.5f};
  ForEachTarget([&](const char* target) {
    for (const UnaryCase& op : kUnaryOps) {
      OwnedTensor x = FromVector<float>({static_cast<int64_t>(values.size())}, values);
      CheckUnary(op, x.view, 0, target);
      // No NaN from a non-NaN input; NaN stays NaN.
      std::vector<float> with_nan = values;
      with_nan.push_back(std::numeric_limits<float>::quiet_NaN());
      OwnedTensor xn = FromVector<float>({static_cast<int64_t>(with_nan.size())}, with_nan);
      auto result = RunUnary(op.name, xn.view);
      ASSERT_TRUE(result.ok());
      const float* y = result.value()[0].view.data_as<float>();
      for (size_t i = 0; i < with_nan.size(); ++i) {
        EXPECT_EQ(std::isnan(y[i]), std::isnan(with_nan[i]))
            << op.name << "(" << with_nan[i] << ") = " << y[i] << ", index " << i << ", target " << target;
      }
    }
    // Saturation is exact.
    OwnedTensor big = FromVector<float>({4}, {100.0f, -100.0f, 1e30f, -1e30f});
    auto sig = RunUnary("Sigmoid", big.view);
    ASSERT_TRUE(sig.ok());
    const float* s = sig.value()[0].view.data_as<float>();
    EXPECT_EQ(s[0], 1.0f) << target;
    EXPECT_GT(s[1], 0.0f) << target;  // 3.7e-44: a subnormal, not flushed
    EXPECT_EQ(s[2], 1.0f) << target;
    EXPECT_EQ(s[3], 0.0f) << target;
    auto th = RunUnary("Tanh", big.view);
    ASSERT_TRUE(th.ok());
    const float* t = th.value()[0].view.data_as<float>();
    EXPECT_EQ(t[0], 1.0f) << target;
    EXPECT_EQ(t[1], -1.0f) << target;
    EXPECT_EQ(t[2], 1.0f) << target;
    EXPECT_EQ(t[3], -1.0f) << target;
    auto ex = RunUnary("Exp", big.view);
    ASSERT_TRUE(ex.ok());
    const float* e = ex.value()[0].view.data_as<float>();
    EXPECT_EQ(e[0], inf) << target;
    EXPECT_GT(e[1], 0.0f) << target;  // e^-100 = 3.7e-44, a subnormal
    EXPECT_EQ(e[2], inf) << target;
    EXPECT_EQ(e[3], 0.0f) << target;
  });
}

// Tails go through the same vector code as the body: any element's result
// is the same wherever it sits in the array.
TEST(ElementwiseTest, UnaryResultDoesNotDependOnPosition) {
  ForEachTarget([](const char* target) {
    for (const UnaryCase& op : kUnaryOps) {
      const uint32_t seed = 400;
      OwnedTensor x = RandomF32({1000}, seed, op.lo, op.hi);
      auto full = RunUnary(op.name, x.view);
      ASSERT_TRUE(full.ok());
      const float* whole = full.value()[0].view.data_as<float>();
      for (int64_t offset : {0, 1, 3, 7, 13, 500}) {
        for (int64_t len : {1, 5, 17, 100, 487}) {
          OwnedTensor part = FromVector<float>(
              {len}, std::vector<float>(x.view.data_as<float>() + offset, x.view.data_as<float>() + offset + len));
          auto sub = RunUnary(op.name, part.view);
          ASSERT_TRUE(sub.ok());
          ASSERT_EQ(std::memcmp(sub.value()[0].view.data, whole + offset, static_cast<size_t>(len) * 4), 0)
              << op.name << " offset " << offset << " length " << len << ", seed " << seed << ", target " << target;
        }
      }
    }
  });
}

// The exported array kernels work in place (LSTM gate epilogues use them
// so). Exact-size std::vectors (unlike the 64-byte-rounded test tensors)
// let AddressSanitizer catch any read or write past the end.
TEST(ElementwiseTest, ArrayKernelsWorkInPlace) {
  using Fn = void (*)(const float*, float*, size_t);
  const Fn fns[] = {&ops::ReluF32, &ops::SigmoidF32, &ops::TanhF32, &ops::ExpF32};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 450;
    for (int64_t n : TestSizes()) {
      OwnedTensor x = RandomF32({n}, seed++, -5.0f, 5.0f);
      for (Fn fn : fns) {
        std::vector<float> in(x.view.data_as<float>(), x.view.data_as<float>() + n);
        std::vector<float> out(static_cast<size_t>(n));
        fn(in.data(), out.data(), out.size());
        fn(in.data(), in.data(), in.size());
        EXPECT_EQ(std::memcmp(out.data(), in.data(), out.size() * 4), 0) << "n " << n << ", target " << target;
      }
    }
  });
}

// Chunks from ParallelFor may start and end anywhere, even inside a
// broadcast run: the exported kernel over any split equals one whole call.
TEST(ElementwiseTest, BinaryKernelChunksMayStartAnywhere) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 500;
    for (const auto& [a_shape, b_shape] : BroadcastCases()) {
      auto plan = ops::MakeBroadcastPlan(a_shape, b_shape);
      ASSERT_TRUE(plan.ok()) << plan.status().ToString();
      const int64_t n = plan.value().num_elements;
      if (n == 0) continue;
      // Exact-size copies, so AddressSanitizer sees any access past the end.
      const std::vector<float> a = testing::ToFloatVector(RandomF32(a_shape, seed++).view);
      const std::vector<float> b = testing::ToFloatVector(RandomOperand(b_shape, seed++, true).view);
      std::vector<float> whole(static_cast<size_t>(n));
      ops::BinaryF32(ops::BinaryOp::kDiv, plan.value(), a.data(), b.data(), whole.data(), 0, n);
      for (int64_t piece : {1, 2, 5, 13}) {
        std::vector<float> split(static_cast<size_t>(n), -1.0f);
        for (int64_t begin = 0; begin < n; begin += piece) {
          ops::BinaryF32(ops::BinaryOp::kDiv, plan.value(), a.data(), b.data(), split.data(), begin,
                         begin + piece < n ? begin + piece : n);
        }
        ASSERT_EQ(std::memcmp(whole.data(), split.data(), whole.size() * 4), 0)
            << "A " << ShapeToString(a_shape) << " B " << ShapeToString(b_shape) << " pieces of " << piece
            << ", target " << target;
      }
    }
  });
}

TEST(ElementwiseTest, BroadcastPlanCollapsesDims) {
  // [64, 128, 32] + [32]: one outer dim of 8192 rows over runs of 32.
  auto plan = ops::MakeBroadcastPlan({64, 128, 32}, {32});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan.value().rank, 2);
  EXPECT_EQ(plan.value().dims[0], 64 * 128);
  EXPECT_EQ(plan.value().dims[1], 32);
  EXPECT_EQ(plan.value().a_strides[0], 32);
  EXPECT_EQ(plan.value().b_strides[0], 0);
  EXPECT_EQ(plan.value().b_strides[1], 1);
  // Same shapes collapse to one contiguous run.
  plan = ops::MakeBroadcastPlan({2, 3, 4, 5}, {2, 3, 4, 5});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan.value().rank, 1);
  EXPECT_EQ(plan.value().dims[0], 120);
  // [M, N] / [M, 1]: runs of N with a repeated B value.
  plan = ops::MakeBroadcastPlan({6, 7}, {6, 1});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan.value().rank, 2);
  EXPECT_EQ(plan.value().a_strides[1], 1);
  EXPECT_EQ(plan.value().b_strides[1], 0);
  EXPECT_EQ(plan.value().b_strides[0], 1);
  // Empty: one 0 dim. The operands' other dims may be huge beside their 0
  // (called without the loader's element limit); no stride is formed from
  // them.
  plan = ops::MakeBroadcastPlan({0, int64_t{1} << 62, 4}, {0, 1, 4});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan.value().num_elements, 0);
  EXPECT_EQ(plan.value().rank, 1);
  EXPECT_EQ(plan.value().dims[0], 0);
}

TEST(ElementwiseTest, ThreadCountDoesNotChangeResults) {
  // Several chunks at every grain (16K for arithmetic, 4K for the rest),
  // with odd sizes so chunks end mid-run and the last chunk has a tail.
  OwnedTensor x = RandomF32({100003}, 7, -20.0f, 20.0f);
  for (const UnaryCase& op : kUnaryOps) {
    auto one = RunUnary(op.name, x.view, 1);
    ASSERT_TRUE(one.ok());
    for (int threads : {2, 3}) {
      auto many = RunUnary(op.name, x.view, threads);
      ASSERT_TRUE(many.ok());
      EXPECT_TRUE(BitwiseEqual(one.value()[0].view, many.value()[0].view)) << op.name << " threads " << threads;
    }
  }
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{301, 1001}, {1001}}, {{301, 1001}, {301, 1}}, {{7, 1, 5003}, {1, 9, 1}}, {{100003}, {}}};
  uint32_t seed = 8;
  for (const auto& [a_shape, b_shape] : shapes) {
    OwnedTensor a = RandomF32(a_shape, seed++);
    OwnedTensor b = RandomOperand(b_shape, seed++, true);
    for (const BinaryCase& op : kBinaryOps) {
      auto one = RunBinary(op.name, a.view, b.view, 1);
      ASSERT_TRUE(one.ok());
      for (int threads : {2, 3}) {
        auto many = RunBinary(op.name, a.view, b.view, threads);
        ASSERT_TRUE(many.ok());
        EXPECT_TRUE(BitwiseEqual(one.value()[0].view, many.value()[0].view))
            << op.name << " A " << ShapeToString(a_shape) << " B " << ShapeToString(b_shape) << " threads "
            << threads;
      }
    }
  }
  // The multi-chunk results are also right, not just consistent.
  ForEachTarget([&](const char* target) {
    CheckBinaryF32(kBinaryOps[2], {7, 1, 5003}, {1, 9, 1}, 9, target);
    CheckBinaryInt<int64_t>(kBinaryOps[3], {301, 1001}, {301, 1}, 10, target);
  });
}

// ---------------------------------------------------------------------------
// Errors, shape inference and cost.

TEST(ElementwiseTest, NonBroadcastableShapesFail) {
  OwnedTensor a = RandomF32({2, 3}, 1);
  OwnedTensor b = RandomF32({4}, 2);
  auto result = RunBinary("Add", a.view, b.view);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "A [2, 3] and B [4] are not broadcastable: dim 1 is 3 vs 4");
  OwnedTensor c = RandomF32({5, 1, 3}, 3);
  OwnedTensor d = RandomF32({2, 4}, 4);
  result = RunBinary("Mul", c.view, d.view);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "A [5, 1, 3] and B [2, 4] are not broadcastable: dim 2 is 3 vs 4");
}

TEST(ElementwiseTest, WrongDtypeFails) {
  OwnedTensor f = RandomF32({3}, 1);
  OwnedTensor i = FromVector<int32_t>({3}, {1, 2, 3});
  auto mixed = RunBinary("Add", f.view, i.view);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("'B' has dtype i32"), std::string::npos) << mixed.status().message();
  auto relu_int = RunUnary("Relu", i.view);
  ASSERT_FALSE(relu_int.ok());
  EXPECT_NE(relu_int.status().message().find("'X' has dtype i32, expected f32"), std::string::npos)
      << relu_int.status().message();
  OwnedTensor u8 = FromVector<uint8_t>({3}, {1, 2, 3});
  auto add_u8 = RunBinary("Add", u8.view, u8.view);
  ASSERT_FALSE(add_u8.ok());
  EXPECT_NE(add_u8.status().message().find("expected f32, i32 or i64"), std::string::npos)
      << add_u8.status().message();
}

TEST(ElementwiseTest, VersionRanges) {
  const OpRegistry& registry = BuiltinOpRegistry();
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    EXPECT_EQ(registry.Find("", op, 6), nullptr) << op;
    EXPECT_NE(registry.Find("", op, 7), nullptr) << op;
    EXPECT_NE(registry.Find("", op, 14), nullptr) << op;
  }
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp"}) {
    EXPECT_EQ(registry.Find("", op, 5), nullptr) << op;
    EXPECT_NE(registry.Find("", op, 6), nullptr) << op;
    EXPECT_NE(registry.Find("", op, 13), nullptr) << op;
  }
}

// Shape inference at load time, where dims may be unknown.
StatusOr<TensorInfo> InferBinary(const TensorInfo& a, const TensorInfo& b) {
  const OpDef* def = BuiltinOpRegistry().Find("", "Add", 14);
  if (def == nullptr) return Error(StatusCode::kNotFound, "Add");
  AttributeMap attrs;
  OpContext ctx;
  ctx.attrs = &attrs;
  ctx.inputs = {&a, &b};
  ctx.constants = {nullptr, nullptr};
  ctx.outputs.resize(1);
  TSR_RETURN_IF_ERROR(def->infer_shapes(ctx));
  return ctx.outputs[0];
}

TEST(ElementwiseTest, ShapeInferenceHandlesDynamicDims) {
  const int64_t q = kDynamicDim;
  auto info = [](Shape s) { return TensorInfo{DType::kF32, std::move(s), true}; };
  struct Case {
    Shape a, b, want;
  };
  const Case cases[] = {
      {{q, 3}, {4, 1}, {4, 3}}, {{q}, {q}, {q}},         {{q, 1}, {1, 5}, {q, 5}},
      {{q, 3}, {3}, {q, 3}},    {{2, q}, {2, 1, 7}, {2, 2, 7}}, {{}, {q, 2}, {q, 2}},
  };
  for (const Case& c : cases) {
    auto out = InferBinary(info(c.a), info(c.b));
    ASSERT_TRUE(out.ok()) << ShapeToString(c.a) << " + " << ShapeToString(c.b) << ": " << out.status().ToString();
    EXPECT_TRUE(out.value().has_shape);
    EXPECT_EQ(out.value().shape, c.want) << ShapeToString(c.a) << " + " << ShapeToString(c.b);
    EXPECT_EQ(out.value().dtype, DType::kF32);
  }
  // Unknown rank: the output rank is unknown too.
  auto unknown = InferBinary(TensorInfo{DType::kI64, {}, false}, info({2, 3}));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown.value().has_shape);
  EXPECT_EQ(unknown.value().dtype, DType::kI64);
  // A definite mismatch is still an error; an unknown dim is not.
  auto bad = InferBinary(info({q, 3}), info({5}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "A [?, 3] and B [5] are not broadcastable: dim 1 is 3 vs 5");

  // Unary ops pass the input's info through, unknown rank included.
  const OpDef* relu = BuiltinOpRegistry().Find("", "Relu", 14);
  ASSERT_NE(relu, nullptr);
  for (const TensorInfo& x : {info({q, 7}), TensorInfo{DType::kF32, {}, false}}) {
    AttributeMap attrs;
    OpContext ctx;
    ctx.attrs = &attrs;
    ctx.inputs = {&x};
    ctx.constants = {nullptr};
    ctx.outputs.resize(1);
    ASSERT_TRUE(relu->infer_shapes(ctx).ok());
    EXPECT_EQ(ctx.outputs[0].has_shape, x.has_shape);
    EXPECT_EQ(ctx.outputs[0].shape, x.shape);
  }
}

TEST(ElementwiseTest, CostCountsFlopsAndBytes) {
  auto cost_of = [](const char* op, std::vector<TensorInfo> inputs) {
    const OpDef* def = BuiltinOpRegistry().Find("", op, 14);
    AttributeMap attrs;
    OpContext ctx;
    ctx.attrs = &attrs;
    for (const TensorInfo& t : inputs) ctx.inputs.push_back(new TensorInfo(t));
    ctx.constants.resize(inputs.size());
    ctx.outputs.resize(1);
    EXPECT_TRUE(def->infer_shapes(ctx).ok());
    const OpCost cost = def->cost(ctx);
    for (const TensorInfo* t : ctx.inputs) delete t;
    return cost;
  };
  OpCost add = cost_of("Add", {TensorInfo{DType::kF32, {2, 3}, true}, TensorInfo{DType::kF32, {3}, true}});
  EXPECT_EQ(add.flops, 6);
  EXPECT_EQ(add.bytes_read, (6 + 3) * 4);
  EXPECT_EQ(add.bytes_written, 6 * 4);
  OpCost div64 = cost_of("Div", {TensorInfo{DType::kI64, {4}, true}, TensorInfo{DType::kI64, {}, true}});
  EXPECT_EQ(div64.flops, 4);
  EXPECT_EQ(div64.bytes_read, (4 + 1) * 8);
  EXPECT_EQ(div64.bytes_written, 4 * 8);
  OpCost sigmoid = cost_of("Sigmoid", {TensorInfo{DType::kF32, {10}, true}});
  EXPECT_EQ(sigmoid.flops, 250);
  EXPECT_EQ(sigmoid.bytes_read, 40);
  OpCost relu = cost_of("Relu", {TensorInfo{DType::kF32, {10}, true}});
  EXPECT_EQ(relu.flops, 10);
  // A shape not yet known costs nothing rather than something negative.
  OpCost dynamic = cost_of("Exp", {TensorInfo{DType::kF32, {kDynamicDim, 4}, true}});
  EXPECT_EQ(dynamic.flops, 0);
}

}  // namespace
}  // namespace tessera
