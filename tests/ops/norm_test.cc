// Tests of ONNX LayerNormalization (opset 17) and ReduceMean (v13 axes
// attribute, v18 axes input) through testing::RunOp against the
// double-precision references in tests/reference/norm_reference.h, on
// every Highway target, with odd sizes, broadcast Scale/B, the optional
// Mean/InvStdDev outputs, 1 vs 2 threads and bad inputs.
//
// Tolerances (ops/norm/norm-inl.h): with u = 2^-24, n the row length and
// A = mean |x| of the row, the mean is off by at most about n u A, so each
// normalized value by (n u A) * inv plus (n + 8) u relative; ReduceMean by
// n u A + u |mean|.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/op.h"
#include "tests/reference/norm_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using testing::BitwiseEqual;
using testing::ForEachTarget;
using testing::FromVector;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;
using testing::ToFloatVector;

constexpr double kU = 1.0 / (1 << 24);

struct LayerNormCase {
  Shape x;
  int64_t axis;
  Shape scale;  // empty vector with has_scale false: omitted
  bool has_scale;
  Shape bias;
  bool has_bias;
};

StatusOr<std::vector<OwnedTensor>> RunLayerNorm(const Tensor& x, const Tensor* scale, const Tensor* bias,
                                                 int64_t axis, float eps, size_t outputs, int threads = 1) {
  OpInvocation inv;
  inv.op_type = "LayerNormalization";
  inv.inputs = {&x, scale, bias};
  inv.attrs.Set("axis", Attribute::Int(axis));
  inv.attrs.Set("epsilon", Attribute::Float(eps));
  inv.num_outputs = outputs;
  inv.threads = threads;
  return RunOp(inv);
}

// p broadcast (numpy, right-aligned) to `norm`, flattened.
std::vector<float> Broadcast(const Tensor& p, const Shape& norm) {
  std::vector<float> out;
  const int64_t n = NumElements(norm);
  const float* src = p.data_as<float>();
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rest = flat, off = 0, stride = 1;
    std::vector<int64_t> idx(norm.size());
    for (size_t k = norm.size(); k-- > 0;) {
      idx[k] = rest % norm[k];
      rest /= norm[k];
    }
    for (size_t k = p.shape.size(); k-- > 0;) {
      off += (p.shape[k] == 1 ? 0 : idx[norm.size() - p.shape.size() + k]) * stride;
      stride *= p.shape[k];
    }
    out.push_back(src[off]);
  }
  return out;
}

void CheckLayerNorm(const LayerNormCase& c, uint32_t seed, const char* target) {
  const int64_t rank = static_cast<int64_t>(c.x.size());
  const int64_t axis = c.axis < 0 ? c.axis + rank : c.axis;
  OwnedTensor x = RandomF32(c.x, seed, -3.0f, 5.0f);
  OwnedTensor scale = RandomF32(c.scale, seed + 1, 0.5f, 2.0f);
  OwnedTensor bias = RandomF32(c.bias, seed + 2, -1.0f, 1.0f);
  const float eps = 1e-5f;
  auto result = RunLayerNorm(x.view, c.has_scale ? &scale.view : nullptr, c.has_bias ? &bias.view : nullptr, c.axis,
                             eps, 3);
  const std::string where = "shape " + ShapeToString(c.x) + " axis " + std::to_string(c.axis) + " seed " +
                            std::to_string(seed) + " target " + target;
  ASSERT_TRUE(result.ok()) << where << ": " << result.status().ToString();
  const Shape norm(c.x.begin() + axis, c.x.end());
  int64_t rows = 1, cols = 1;
  for (int64_t k = 0; k < rank; ++k) (k < axis ? rows : cols) *= c.x[static_cast<size_t>(k)];
  const auto ref = reference::RefLayerNorm(ToFloatVector(x.view), rows, cols,
                                           c.has_scale ? Broadcast(scale.view, norm) : std::vector<float>(),
                                           c.has_bias ? Broadcast(bias.view, norm) : std::vector<float>(), eps);
  const auto& out = result.value();
  Shape stats = c.x;
  for (size_t k = static_cast<size_t>(axis); k < stats.size(); ++k) stats[k] = 1;
  ASSERT_EQ(out[0].view.shape, c.x) << where;
  ASSERT_EQ(out[1].view.shape, stats) << where;
  ASSERT_EQ(out[2].view.shape, stats) << where;
  const float* y = out[0].view.data_as<float>();
  const float* mean = out[1].view.data_as<float>();
  const float* inv = out[2].view.data_as<float>();
  const double n = static_cast<double>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const double mean_err = (n + 2) * kU * ref.abs_mean[static_cast<size_t>(r)];
    ASSERT_NEAR(mean[r], ref.mean[static_cast<size_t>(r)], mean_err) << where << ", row " << r;
    ASSERT_NEAR(inv[r], ref.inv_std_dev[static_cast<size_t>(r)],
                (n + 8) * kU * ref.inv_std_dev[static_cast<size_t>(r)] + 2 * mean_err * ref.inv_std_dev[static_cast<size_t>(r)] * ref.inv_std_dev[static_cast<size_t>(r)])
        << where << ", row " << r;
    for (int64_t j = 0; j < cols; ++j) {
      const size_t k = static_cast<size_t>(r * cols + j);
      const double s = c.has_scale ? 2.0 : 1.0;  // |scale| <= 2
      const double tol = s * mean_err * ref.inv_std_dev[static_cast<size_t>(r)] + (n + 12) * kU * (std::fabs(ref.y[k]) + 1);
      ASSERT_NEAR(y[k], ref.y[k], tol) << where << ", row " << r << ", col " << j;
    }
  }
}

TEST(NormTest, LayerNormMatchesReference) {
  const std::vector<LayerNormCase> cases = {
      {{1, 1}, -1, {1}, true, {1}, true},
      {{3, 7}, -1, {7}, true, {7}, true},
      {{5, 33}, 1, {33}, true, {}, false},
      {{2, 3, 17}, -1, {17}, false, {17}, true},
      {{2, 3, 65}, 1, {3, 65}, true, {65}, true},        // normalize [3, 65]; B broadcasts
      {{4, 5, 6}, 0, {5, 1}, true, {1}, true},           // whole tensor one row; broadcast params
      {{2, 1001}, -1, {1001}, true, {1001}, true},
      {{6, 127}, -1, {}, false, {}, false},              // Tessera extension: no Scale
  };
  ForEachTarget([&](const char* target) {
    uint32_t seed = 1;
    for (const LayerNormCase& c : cases) {
      CheckLayerNorm(c, seed, target);
      seed += 3;
    }
  });
}

TEST(NormTest, LayerNormLargeMeanKeepsPrecision) {
  // mean 1000, stddev ~1: E[x^2] - mean^2 would cancel catastrophically.
  OwnedTensor x = RandomF32({4, 64}, 5, 999.0f, 1001.0f);
  auto result = RunLayerNorm(x.view, nullptr, nullptr, -1, 1e-5f, 1);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const auto ref = reference::RefLayerNorm(ToFloatVector(x.view), 4, 64, {}, {}, 1e-5);
  const float* y = result.value()[0].view.data_as<float>();
  for (size_t k = 0; k < ref.y.size(); ++k) {
    // mean error ~ n u * 1000, times inv ~ 1.7.
    ASSERT_NEAR(y[k], ref.y[k], 70 * kU * 1000 * 1.8 + 80 * kU) << k;
  }
}

TEST(NormTest, LayerNormOneAndTwoThreadsBitwiseEqual) {
  OwnedTensor x = RandomF32({300, 257}, 7);
  OwnedTensor s = RandomF32({257}, 8);
  auto a = RunLayerNorm(x.view, &s.view, nullptr, -1, 1e-5f, 3, 1);
  auto b = RunLayerNorm(x.view, &s.view, nullptr, -1, 1e-5f, 3, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t o = 0; o < 3; ++o) EXPECT_TRUE(BitwiseEqual(a.value()[o].view, b.value()[o].view)) << o;
}

TEST(NormTest, LayerNormBadInputsNameTheInput) {
  OwnedTensor x = RandomF32({2, 8}, 1);
  OwnedTensor s = RandomF32({7}, 2);
  auto r = RunLayerNorm(x.view, &s.view, nullptr, -1, 1e-5f, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "input 'Scale' [7] does not broadcast to the normalized dims [8] of input 'X' (axis 0: 7 vs 8)");
  r = RunLayerNorm(x.view, nullptr, nullptr, 2, 1e-5f, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "attribute 'axis' is 2, out of range for rank 2 (valid: -2 to 1)");
  // An empty X with a huge dim beside its 0: nothing to normalize, and the
  // row length 2^62 * 4 must not be formed.
  OwnedTensor e = RandomF32({0, int64_t{1} << 62, 4}, 3);
  r = RunLayerNorm(e.view, nullptr, nullptr, 1, 1e-5f, 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].view.shape, Shape({0, int64_t{1} << 62, 4}));
}

StatusOr<std::vector<OwnedTensor>> RunReduceMean(const Tensor& x, const std::vector<int64_t>* axes, bool keepdims,
                                                 int32_t version, bool noop = false, int threads = 1) {
  OpInvocation inv;
  inv.op_type = "ReduceMean";
  inv.version = version;
  inv.threads = threads;
  inv.attrs.Set("keepdims", Attribute::Int(keepdims ? 1 : 0));
  OwnedTensor axes_tensor;
  inv.inputs = {&x};
  if (version >= 18) {
    if (noop) inv.attrs.Set("noop_with_empty_axes", Attribute::Int(1));
    if (axes != nullptr) {
      axes_tensor = FromVector<int64_t>({static_cast<int64_t>(axes->size())}, *axes);
      inv.inputs.push_back(&axes_tensor.view);
      inv.constant = {false, true};
    }
  } else if (axes != nullptr) {
    inv.attrs.Set("axes", Attribute::Ints(*axes));
  }
  return RunOp(inv);
}

void CheckReduceMean(const Shape& shape, const std::vector<int64_t>& axes, bool keepdims, int32_t version,
                     uint32_t seed, const char* target) {
  OwnedTensor x = RandomF32(shape, seed, -2.0f, 6.0f);
  auto result = RunReduceMean(x.view, &axes, keepdims, version);
  std::string axes_str;
  for (int64_t a : axes) axes_str += std::to_string(a) + " ";
  const std::string where = "shape " + ShapeToString(shape) + " axes " + axes_str + "keepdims " +
                            std::to_string(keepdims) + " v" + std::to_string(version) + " target " + target;
  ASSERT_TRUE(result.ok()) << where << ": " << result.status().ToString();
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (int64_t a : axes) reduced[static_cast<size_t>(a < 0 ? a + static_cast<int64_t>(shape.size()) : a)] = true;
  Shape want_shape;
  int64_t n = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (!reduced[k]) want_shape.push_back(shape[k]);
    else {
      n *= shape[k];
      if (keepdims) want_shape.push_back(1);
    }
  }
  const Tensor& y = result.value()[0].view;
  ASSERT_EQ(y.shape, want_shape) << where;
  std::vector<double> abs_mean;
  const auto want = reference::RefReduceMean(ToFloatVector(x.view), shape, reduced, &abs_mean);
  const float* got = y.data_as<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], (static_cast<double>(n) + 2) * kU * abs_mean[i] + kU * std::fabs(want[i]))
        << where << ", index " << i;
  }
}

TEST(NormTest, ReduceMeanEveryAxisPattern) {
  ForEachTarget([&](const char* target) {
    uint32_t seed = 10;
    for (int32_t version : {13, 18}) {
      for (bool keepdims : {true, false}) {
        CheckReduceMean({3, 17}, {-1}, keepdims, version, seed++, target);
        CheckReduceMean({3, 17}, {0}, keepdims, version, seed++, target);
        CheckReduceMean({4, 5, 6}, {1}, keepdims, version, seed++, target);
        CheckReduceMean({4, 5, 6}, {0, 2}, keepdims, version, seed++, target);
        CheckReduceMean({2, 3, 4, 5}, {1, 3}, keepdims, version, seed++, target);
        CheckReduceMean({2, 3, 4, 5}, {0, 1, 2, 3}, keepdims, version, seed++, target);
        CheckReduceMean({2, 1, 1000}, {-1, 1}, keepdims, version, seed++, target);
        CheckReduceMean({7, 600, 3}, {1}, keepdims, version, seed++, target);  // strided, > one column block
        CheckReduceMean({5, 1033}, {0}, keepdims, version, seed++, target);   // inner > kMeanColumnBlock
        CheckReduceMean({3, 4}, {}, keepdims, version, seed++, target);       // empty: all axes
      }
    }
  });
}

TEST(NormTest, ReduceMeanNoopWithEmptyAxesPassesThrough) {
  OwnedTensor x = RandomF32({3, 5}, 3);
  auto r = RunReduceMean(x.view, nullptr, true, 18, /*noop=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(BitwiseEqual(r.value()[0].view, x.view));
}

TEST(NormTest, ReduceMeanOneAndTwoThreadsBitwiseEqual) {
  OwnedTensor x = RandomF32({64, 300, 33}, 4);
  for (const std::vector<int64_t>& axes : {std::vector<int64_t>{2}, {1}, {0, 2}}) {
    auto a = RunReduceMean(x.view, &axes, true, 13, false, 1);
    auto b = RunReduceMean(x.view, &axes, true, 13, false, 2);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(BitwiseEqual(a.value()[0].view, b.value()[0].view));
  }
}

TEST(NormTest, ReduceMeanBadAxes) {
  OwnedTensor x = RandomF32({3, 5}, 3);
  const std::vector<int64_t> out_of_range = {2};
  auto r = RunReduceMean(x.view, &out_of_range, true, 13);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "'axes' is 2, out of range for rank 2 (valid: -2 to 1)");
  const std::vector<int64_t> twice = {1, -1};
  r = RunReduceMean(x.view, &twice, true, 18);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "'axes' names axis 1 more than once");
}

}  // namespace
}  // namespace tessera
