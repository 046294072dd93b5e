// Tests of ONNX Erf, Sqrt, Gelu (erf and tanh forms) and Pow through
// testing::RunOp against the double-precision references in
// tests/reference/math_reference.h, on every Highway target, with odd
// sizes (SIMD tails), special values, 1 vs 2 threads and bad inputs.
// Tolerances come from the error bounds derived in ops/math/math-inl.h.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/op.h"
#include "tests/reference/math_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using testing::BitwiseEqual;
using testing::ForEachTarget;
using testing::FromVector;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff
const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

const std::vector<int64_t> kSizes = {1, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 1001};

// Random values in [lo, hi] plus the given specials, n in total (specials first).
OwnedTensor Values(int64_t n, uint32_t seed, float lo, float hi, const std::vector<float>& specials = {}) {
  OwnedTensor t = RandomF32({n}, seed, lo, hi);
  float* p = t.view.data_as<float>();
  for (size_t i = 0; i < specials.size() && static_cast<int64_t>(i) < n; ++i) p[i] = specials[i];
  return t;
}

StatusOr<std::vector<OwnedTensor>> Unary(const char* op, const Tensor& x, int threads = 1,
                                         const char* approximate = nullptr, int32_t version = 17) {
  OpInvocation inv;
  inv.op_type = op;
  inv.version = version;
  inv.inputs = {&x};
  inv.threads = threads;
  if (approximate != nullptr) inv.attrs.Set("approximate", Attribute::String(approximate));
  return RunOp(inv);
}

// Checks every element of op(x) with `tol(x, ref)`; NaN and inf must match exactly.
template <class Ref, class Tol>
void CheckUnary(const char* op, const Tensor& x, const char* target, Ref ref, Tol tol,
                const char* approximate = nullptr) {
  auto result = Unary(op, x, 1, approximate);
  ASSERT_TRUE(result.ok()) << op << " on " << target << ": " << result.status().ToString();
  const Tensor& y = result.value()[0].view;
  ASSERT_EQ(y.shape, x.shape);
  const float* in = x.data_as<float>();
  const float* got = y.data_as<float>();
  for (int64_t i = 0; i < x.NumElements(); ++i) {
    const double want = ref(static_cast<double>(in[i]));
    const std::string where = std::string(op) + (approximate ? std::string(" ") + approximate : "") +
                              ", target " + target + ", n " + std::to_string(x.NumElements()) + ", index " +
                              std::to_string(i) + ", x " + std::to_string(in[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[i])) << where << ": got " << got[i];
    } else if (std::isinf(want) || std::isinf(in[i])) {
      EXPECT_EQ(got[i], static_cast<float>(want)) << where;
    } else {
      ASSERT_NEAR(got[i], want, tol(static_cast<double>(in[i]), want)) << where;
    }
  }
}

TEST(MathTest, ErfMatchesReference) {
  const std::vector<float> specials = {0.0f, -0.0f, 0.4999999f, -0.5f, 0.5f, 1e-30f, -1e-30f, 3.9f, -4.0f, 10.0f,
                                       -1e30f, kInf, -kInf, kNaN};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 1;
    for (int64_t n : kSizes) {
      OwnedTensor x = Values(n, seed++, -6.0f, 6.0f, n > 20 ? specials : std::vector<float>{});
      CheckUnary("Erf", x.view, target, reference::RefErf, [](double xv, double want) {
        // Series for |x| < 0.5 (a few ulp relative), erfc fit beyond
        // (absolute error below 2e-7).
        return std::fabs(xv) < 0.5 ? 6 * kU * std::fabs(want) + 1e-45 : 2e-7;
      });
    }
  });
}

// A dense sweep of [-10, 10] (every 2^-12), so no region of the piecewise
// approximations escapes the random samples.
TEST(MathTest, DenseSweepOfErfAndGelu) {
  std::vector<float> xs;
  for (int i = -10 * 4096; i <= 10 * 4096; ++i) xs.push_back(static_cast<float>(i) / 4096.0f);
  OwnedTensor x = FromVector<float>({static_cast<int64_t>(xs.size())}, xs);
  ForEachTarget([&](const char* target) {
    CheckUnary("Erf", x.view, target, reference::RefErf, [](double xv, double want) {
      return std::fabs(xv) < 0.5 ? 6 * kU * std::fabs(want) + 1e-45 : 2e-7;
    });
    CheckUnary("Gelu", x.view, target, reference::RefGeluErf, [](double xv, double want) {
      return 1e-7 * std::fabs(xv) + (5e-7 + xv * xv * kU) * std::fabs(want) + 1e-44;
    });
    CheckUnary("Gelu", x.view, target, reference::RefGeluTanh,
               [](double xv, double want) {
                 const double two_u = 2 * std::sqrt(2.0 / M_PI) * (xv + 0.044715 * xv * xv * xv);
                 return (6 * kU + 4 * kU * std::fabs(two_u)) * std::fabs(want) + 1e-44;
               },
               "tanh");
  });
}

TEST(MathTest, SqrtIsCorrectlyRounded) {
  ForEachTarget([&](const char* target) {
    uint32_t seed = 50;
    for (int64_t n : kSizes) {
      OwnedTensor x = Values(n, seed++, 0.0f, 1000.0f, n > 10 ? std::vector<float>{0.0f, 1e-40f, -1.0f, kInf, kNaN, 2.0f}
                                                             : std::vector<float>{});
      CheckUnary("Sqrt", x.view, target, reference::RefSqrt, [](double, double want) {
        return 0.5 * kU * 2 * std::fabs(want);  // half an ulp of the float result
      });
    }
  });
}

TEST(MathTest, GeluErfMatchesReference) {
  const std::vector<float> specials = {0.0f, -0.70710677f, -0.7071068f, -5.0f, -12.0f, -19.9f, -20.5f, 7.0f, kInf,
                                       -kInf, kNaN, 1e-20f};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 100;
    for (int64_t n : kSizes) {
      OwnedTensor x = Values(n, seed++, -8.0f, 8.0f, n > 20 ? specials : std::vector<float>{});
      for (const char* mode : {static_cast<const char*>(nullptr), "none"}) {
        CheckUnary("Gelu", x.view, target, reference::RefGeluErf,
                   [](double xv, double want) {
                     // erf's absolute 2e-7 scaled by |x|/2; the direct erfc
                     // branch's relative 1.2e-7 + z^2 u; a few roundings.
                     const double z2 = xv * xv / 2;
                     return 1e-7 * std::fabs(xv) + (5e-7 + z2 * 2 * kU) * std::fabs(want) + 1e-44;
                   },
                   mode);
      }
    }
  });
}

TEST(MathTest, GeluTanhMatchesReference) {
  const std::vector<float> specials = {0.0f, -3.0f, -9.0f, -19.0f, -21.0f, 30.0f, kInf, -kInf, kNaN};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 200;
    for (int64_t n : kSizes) {
      OwnedTensor x = Values(n, seed++, -8.0f, 8.0f, n > 20 ? specials : std::vector<float>{});
      CheckUnary("Gelu", x.view, target, reference::RefGeluTanh,
                 [](double xv, double want) {
                   // Sigmoid's 3 ulp, the multiply, and the rounding of the
                   // argument 2u (a few u relative) amplified by |2u|.
                   const double two_u = 2 * std::sqrt(2.0 / M_PI) * (xv + 0.044715 * xv * xv * xv);
                   return (6 * kU + 4 * kU * std::fabs(two_u)) * std::fabs(want) + 1e-44;
                 },
                 "tanh");
    }
  });
}

TEST(MathTest, GeluRejectsUnknownApproximation) {
  OwnedTensor x = RandomF32({4}, 1);
  auto result = Unary("Gelu", x.view, 1, "fast");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "attribute 'approximate' is \"fast\", expected \"none\" or \"tanh\"");
}

TEST(MathTest, GeluIsRegisteredForEveryOpsetVersion) {
  OwnedTensor x = FromVector<float>({3}, {-1.0f, 0.0f, 2.0f});
  for (int32_t version : {1, 13, 17, 20}) {
    auto result = Unary("Gelu", x.view, 1, nullptr, version);
    ASSERT_TRUE(result.ok()) << "v" << version << ": " << result.status().ToString();
    EXPECT_NEAR(result.value()[0].view.data_as<float>()[2], reference::RefGeluErf(2.0), 1e-6);
  }
}

StatusOr<std::vector<OwnedTensor>> Pow(const Tensor& x, const Tensor& y, int threads = 1) {
  OpInvocation inv;
  inv.op_type = "Pow";
  inv.inputs = {&x, &y};
  inv.threads = threads;
  return RunOp(inv);
}

// Expects pow(x, y) with numpy broadcasting within one float ulp (the
// double computation rounded once), specials exactly.
void CheckPow(const Tensor& x, const Tensor& y, const std::vector<float>& xs, const std::vector<double>& ys,
              const Shape& out_shape, const char* target) {
  auto result = Pow(x, y);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const Tensor& z = result.value()[0].view;
  ASSERT_EQ(z.shape, out_shape);
  // Broadcast index maps (right-aligned).
  const size_t rank = out_shape.size();
  auto offset = [&](const Shape& s, int64_t flat) {
    int64_t off = 0, stride = 1, rest = flat;
    std::vector<int64_t> idx(rank);
    for (size_t k = rank; k-- > 0;) {
      idx[k] = rest % out_shape[k];
      rest /= out_shape[k];
    }
    for (size_t k = s.size(); k-- > 0;) {
      const int64_t i = s[k] == 1 ? 0 : idx[rank - s.size() + k];
      off += i * stride;
      stride *= s[k];
    }
    return off;
  };
  const float* got = z.data_as<float>();
  for (int64_t i = 0; i < z.NumElements(); ++i) {
    const double xv = xs[static_cast<size_t>(offset(x.shape, i))];
    const double yv = ys[static_cast<size_t>(offset(y.shape, i))];
    const double want = static_cast<double>(static_cast<float>(reference::RefPow(xv, yv)));
    const std::string where = std::string("target ") + target + ", pow(" + std::to_string(xv) + ", " +
                              std::to_string(yv) + "), index " + std::to_string(i);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[i])) << where << ": got " << got[i];
    } else if (std::isinf(want) || want == 0) {
      EXPECT_EQ(got[i], want) << where;
    } else {
      EXPECT_NEAR(got[i], want, 2 * kU * std::fabs(want)) << where;  // one ulp
    }
  }
}

TEST(MathTest, PowBroadcastsAndMatchesReference) {
  ForEachTarget([&](const char* target) {
    uint32_t seed = 300;
    for (const auto& [xs_shape, ys_shape, out_shape] :
         std::vector<std::tuple<Shape, Shape, Shape>>{{{37}, {37}, {37}},
                                                      {{3, 1, 17}, {4, 1}, {3, 4, 17}},
                                                      {{5, 9}, {}, {5, 9}},
                                                      {{1}, {2, 33}, {2, 33}},
                                                      {{65}, {1}, {65}}}) {
      OwnedTensor x = RandomF32(xs_shape, seed++, 0.01f, 20.0f);
      OwnedTensor y = RandomF32(ys_shape, seed++, -4.0f, 4.0f);
      const float* px = x.view.data_as<float>();
      const float* py = y.view.data_as<float>();
      CheckPow(x.view, y.view, std::vector<float>(px, px + x.view.NumElements()),
               std::vector<double>(py, py + y.view.NumElements()), out_shape, target);
    }
  });
}

TEST(MathTest, PowSpecialCasesFollowC) {
  const std::vector<float> bases = {-2.0f, -0.5f, -0.0f, 0.0f, 1.0f, -1.0f, kInf, -kInf, kNaN, 3.0f, 1e-30f, 1e30f};
  const std::vector<float> exps = {0.0f, 1.0f, 2.0f, 3.0f, -1.0f, -2.0f, 0.5f, -0.5f, kInf, -kInf, kNaN, 200.0f, -200.0f};
  std::vector<float> xs, ys;
  for (float b : bases) {
    for (float e : exps) {
      xs.push_back(b);
      ys.push_back(e);
    }
  }
  const int64_t n = static_cast<int64_t>(xs.size());
  OwnedTensor x = FromVector<float>({n}, xs);
  OwnedTensor y = FromVector<float>({n}, ys);
  ForEachTarget([&](const char* target) {
    CheckPow(x.view, y.view, xs, std::vector<double>(ys.begin(), ys.end()), {n}, target);
  });
}

TEST(MathTest, PowNegativeBasesWithIntegerExponents) {
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> base(-8.0f, 8.0f);
  std::uniform_int_distribution<int> exponent(-12, 12);
  std::vector<float> xs, ys;
  for (int i = 0; i < 301; ++i) {
    xs.push_back(base(rng));
    ys.push_back(static_cast<float>(exponent(rng)));
  }
  OwnedTensor x = FromVector<float>({301}, xs);
  OwnedTensor y = FromVector<float>({301}, ys);
  ForEachTarget([&](const char* target) {
    CheckPow(x.view, y.view, xs, std::vector<double>(ys.begin(), ys.end()), {301}, target);
  });
}

TEST(MathTest, PowTakesIntegerExponents) {
  OwnedTensor x = FromVector<float>({2, 3}, {-2.0f, 1.5f, 10.0f, 0.0f, -3.0f, 7.0f});
  OwnedTensor y = FromVector<int64_t>({3}, {3, -2, 5});
  ForEachTarget([&](const char* target) {
    CheckPow(x.view, y.view, {-2.0f, 1.5f, 10.0f, 0.0f, -3.0f, 7.0f}, {3, -2, 5}, {2, 3}, target);
  });
  OwnedTensor y32 = FromVector<int32_t>({1}, {2});
  auto r = Pow(x.view, y32.view);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].view.data_as<float>()[4], 9.0f);
}

TEST(MathTest, PowRejectsShapesThatDoNotBroadcast) {
  OwnedTensor x = RandomF32({2, 3}, 1);
  OwnedTensor y = RandomF32({4}, 2);
  auto r = Pow(x.view, y.view);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not broadcastable"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("X [2, 3]"), std::string::npos) << r.status().ToString();
}

TEST(MathTest, OneAndTwoThreadsAreBitwiseEqual) {
  OwnedTensor x = RandomF32({3, 40001}, 9, -6.0f, 6.0f);
  OwnedTensor e = RandomF32({40001}, 10, -3.0f, 3.0f);
  OwnedTensor base = RandomF32({3, 40001}, 11, 0.0f, 5.0f);
  for (const char* op : {"Erf", "Sqrt", "Gelu"}) {
    const Tensor& in = std::string(op) == "Sqrt" ? base.view : x.view;
    auto a = Unary(op, in, 1);
    auto b = Unary(op, in, 2);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(BitwiseEqual(a.value()[0].view, b.value()[0].view)) << op;
  }
  auto a = Unary("Gelu", x.view, 1, "tanh");
  auto b = Unary("Gelu", x.view, 2, "tanh");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(BitwiseEqual(a.value()[0].view, b.value()[0].view));
  auto p1 = Pow(base.view, e.view, 1);
  auto p2 = Pow(base.view, e.view, 2);
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_TRUE(BitwiseEqual(p1.value()[0].view, p2.value()[0].view));
}

}  // namespace
}  // namespace tessera
