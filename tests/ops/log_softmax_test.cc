// Tests of ONNX LogSoftmax (v13+ along an axis, v1-12 over the input
// coerced to 2-D) through testing::RunOp against the double-precision
// reference in tests/reference/log_softmax_reference.h, on every Highway
// target. Tolerance from ops/softmax/softmax-inl.h: with u = 2^-24, n the
// vector length and R its spread max |x - max|,
//   |y - y_ref| <= u (|x - max| + R + 2 log(n) + n + 3) + u |y_ref|.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/op.h"
#include "tests/reference/log_softmax_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using testing::BitwiseEqual;
using testing::ForEachTarget;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;
using testing::ToFloatVector;

constexpr double kU = 1.0 / (1 << 24);

StatusOr<std::vector<OwnedTensor>> RunLogSoftmax(const Tensor& x, int32_t version, int64_t axis, int threads = 1) {
  OpInvocation inv;
  inv.op_type = "LogSoftmax";
  inv.version = version;
  inv.inputs = {&x};
  inv.threads = threads;
  inv.attrs.Set("axis", Attribute::Int(axis));
  return RunOp(inv);
}

void Check(const Shape& shape, int32_t version, int64_t axis, uint32_t seed, const char* target) {
  OwnedTensor x = RandomF32(shape, seed, -20.0f, 20.0f);
  const std::string where = "LogSoftmax v" + std::to_string(version) + " axis " + std::to_string(axis) + " shape " +
                            ShapeToString(shape) + " seed " + std::to_string(seed) + " target " + target;
  auto result = RunLogSoftmax(x.view, version, axis);
  ASSERT_TRUE(result.ok()) << where << ": " << result.status().ToString();
  const Tensor& y = result.value()[0].view;
  ASSERT_EQ(y.shape, shape);
  const int64_t rank = static_cast<int64_t>(shape.size());
  const size_t a = static_cast<size_t>(axis < 0 ? axis + rank : axis);
  int64_t outer = 1, len = 1, inner = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (k < a) outer *= shape[k];
    else if (k == a || version < 13) len *= shape[k];
    else inner *= shape[k];
  }
  std::vector<double> spread;
  const std::vector<float> in = ToFloatVector(x.view);
  const auto want = reference::RefLogSoftmax(in, outer, len, inner, &spread);
  const float* got = y.data_as<float>();
  const double n = static_cast<double>(len);
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = kU * (2 * spread[i] + 2 * std::log(n) + n + 3) + kU * std::fabs(want[i]);
    ASSERT_NEAR(got[i], want[i], tol) << where << ", index " << i;
  }
}

TEST(LogSoftmaxTest, EveryAxisAndOddLengths) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 1;
    for (const Shape& shape : std::vector<Shape>{{3, 5, 7}, {2, 3, 4, 5}, {4, 300, 3}, {2, 1001}, {1}, {17, 33}}) {
      const int64_t rank = static_cast<int64_t>(shape.size());
      for (int64_t axis = -rank; axis < rank; ++axis) {
        Check(shape, 13, axis, seed++, target);
        Check(shape, 11, axis, seed++, target);
      }
    }
  });
}

TEST(LogSoftmaxTest, LargeNegativeGapsStayFinite) {
  // log(softmax) would underflow to log(0) = -inf for gaps > 104; the
  // direct form gives x - max - log(sum).
  OwnedTensor x = RandomF32({1, 3}, 1);
  float* p = x.view.data_as<float>();
  p[0] = 0.0f;
  p[1] = -500.0f;
  p[2] = 1.0f;
  auto r = RunLogSoftmax(x.view, 13, -1);
  ASSERT_TRUE(r.ok());
  const float* y = r.value()[0].view.data_as<float>();
  const double lse = 1.0 + std::log1p(std::exp(-1.0) + std::exp(-501.0));
  EXPECT_NEAR(y[1], -500.0 - lse, 1e-4);
  EXPECT_NEAR(y[0], -lse, 1e-6);
}

TEST(LogSoftmaxTest, OneAndTwoThreadsBitwiseEqual) {
  OwnedTensor x = RandomF32({50, 3000}, 2, -5.0f, 5.0f);
  for (int64_t axis : {0, 1}) {
    auto a = RunLogSoftmax(x.view, 13, axis, 1);
    auto b = RunLogSoftmax(x.view, 13, axis, 2);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(BitwiseEqual(a.value()[0].view, b.value()[0].view)) << axis;
  }
}

TEST(LogSoftmaxTest, BadAxisNamesTheAttribute) {
  OwnedTensor x = RandomF32({2, 3}, 2);
  auto r = RunLogSoftmax(x.view, 13, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "attribute 'axis' is 2, out of range for input 'input' [2, 3] of rank 2 (valid: -2 to 1)");
}

}  // namespace
}  // namespace tessera
