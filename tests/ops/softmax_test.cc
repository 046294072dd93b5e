// Tests of ONNX Softmax (v13+ along an axis, v1-12 over the input coerced
// to 2-D) through testing::RunOp, against the double-precision reference in
// tests/reference/softmax_reference.h, on every Highway target.
//
// Tolerance, derived in ops/softmax/softmax-inl.h: with u = 2^-24, n the
// softmax length and R = max_j |x_j - m| the spread of its vector,
//   |y - y_ref| <= u * (2R + n + 5) * y_ref + 4 * 2^-149,
// the last term for results in the subnormal range, where relative error
// bounds do not hold.
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

#include "ops/softmax/softmax.h"
#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "tests/reference/softmax_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using testing::BitwiseEqual;
using testing::ForEachTarget;
using testing::FromVector;
using testing::MakeTensor;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;
using testing::ToFloatVector;

constexpr int32_t kV13 = 17;  // any version >= 13
constexpr int32_t kV1To12 = 11;

const std::vector<int64_t>& TestSizes() {
  static const std::vector<int64_t> sizes = [] {
    std::vector<int64_t> s = {1, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 1000};
    std::mt19937 rng(7071);
    std::uniform_int_distribution<int64_t> dist(0, 2500);
    for (int i = 0; i < 5; ++i) s.push_back(2 * dist(rng) + 1);  // random odd sizes
    return s;
  }();
  return sizes;
}

StatusOr<std::vector<OwnedTensor>> RunSoftmax(const Tensor& x, int32_t version, const int64_t* axis,
                                              int threads = 1) {
  OpInvocation inv;
  inv.op_type = "Softmax";
  inv.version = version;
  inv.inputs = {&x};
  inv.threads = threads;
  if (axis != nullptr) inv.attrs.Set("axis", Attribute::Int(*axis));
  return RunOp(inv);
}

// Runs Softmax on x and checks it against the reference for that version.
// `axis` nullptr means "attribute absent" (the version's default).
void CheckSoftmax(const Tensor& x, int32_t version, const int64_t* axis, uint32_t seed, const char* target) {
  const int64_t rank = x.rank();
  const int64_t given = axis != nullptr ? *axis : (version >= 13 ? -1 : 1);
  const int64_t normalized = given < 0 ? given + rank : given;
  std::ostringstream where;
  where << "Softmax v" << version << " axis " << given << ", shape " << ShapeToString(x.shape) << ", seed " << seed
        << ", target " << target;
  auto result = RunSoftmax(x, version, axis);
  ASSERT_TRUE(result.ok()) << where.str() << ": " << result.status().ToString();
  const Tensor& y = result.value()[0].view;
  ASSERT_EQ(y.shape, x.shape) << where.str();
  const std::vector<float> in = ToFloatVector(x);
  std::vector<double> spread;
  const std::vector<double> want = version >= 13 ? reference::RefSoftmax(in, x.shape, normalized, &spread)
                                                 : reference::RefSoftmaxCoerced2D(in, x.shape, normalized, &spread);
  int64_t n = 1;  // softmax vector length
  if (version >= 13) {
    n = x.dim(normalized);
  } else {
    for (int64_t k = normalized; k < rank; ++k) n *= x.dim(k);
  }
  const double u = std::ldexp(1.0, -24);
  const float* got = y.data_as<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = u * (2 * spread[i] + static_cast<double>(n) + 5) * want[i] + 4 * std::ldexp(1.0, -149);
    ASSERT_TRUE(std::isfinite(got[i])) << where.str() << ", index " << i << ": " << got[i];
    ASSERT_NEAR(got[i], want[i], tol) << where.str() << ", index " << i << ", x " << in[i];
  }
}

TEST(SoftmaxTest, EveryAxisOf3DAnd4DTensors) {
  const std::vector<Shape> shapes = {{3, 5, 7}, {2, 3, 4, 5}, {2, 1, 300, 3}, {4, 9, 1, 33}};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 1;
    for (const Shape& shape : shapes) {
      const int64_t rank = static_cast<int64_t>(shape.size());
      for (int64_t axis = -rank; axis < rank; ++axis) {
        OwnedTensor x = RandomF32(shape, seed, -5.0f, 5.0f);
        CheckSoftmax(x.view, kV13, &axis, seed++, target);
      }
    }
  });
}

TEST(SoftmaxTest, LastAxisEveryLength) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 100;
    for (int64_t n : TestSizes()) {
      OwnedTensor x = RandomF32({3, n}, seed, -10.0f, 10.0f);
      CheckSoftmax(x.view, kV13, nullptr, seed++, target);
    }
  });
}

// The strided kernel walks blocks of 256 inner columns: inner sizes below,
// at and across block boundaries, with odd axis lengths.
TEST(SoftmaxTest, StridedAxisEveryInnerSize) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 200;
    const int64_t axis = 1;
    for (int64_t inner : {2, 3, 7, 16, 17, 255, 256, 257, 513, 1000}) {
      for (int64_t len : {1, 5, 33}) {
        OwnedTensor x = RandomF32({2, len, inner}, seed, -10.0f, 10.0f);
        CheckSoftmax(x.view, kV13, &axis, seed++, target);
      }
    }
    for (int64_t n : TestSizes()) {
      OwnedTensor x = RandomF32({n, 3}, seed, -10.0f, 10.0f);
      const int64_t axis0 = 0;
      CheckSoftmax(x.view, kV13, &axis0, seed++, target);
    }
  });
}

TEST(SoftmaxTest, LargeValuesAreStable) {
  const float inf = std::numeric_limits<float>::infinity();
  ForEachTarget([&](const char* target) {
    const std::vector<std::vector<float>> rows = {
        {1000.0f, 999.0f, 998.0f, 1000.0f},      {-1000.0f, -1001.0f, -1002.5f, -1000.0f},
        {1e4f, -1e4f, 0.0f, 9990.0f},             {3e38f, -3e38f, 3e38f, 0.0f},
        {88.0f, 89.0f, 90.0f, 91.0f},             {-200.0f, 0.0f, -90.0f, -104.0f},
    };
    for (size_t r = 0; r < rows.size(); ++r) {
      OwnedTensor x = FromVector<float>({1, 4}, rows[r]);
      CheckSoftmax(x.view, kV13, nullptr, static_cast<uint32_t>(r), target);
      // The same values along a strided axis.
      OwnedTensor xt = FromVector<float>({4, 1}, rows[r]);
      const int64_t axis0 = 0;
      CheckSoftmax(xt.view, kV13, &axis0, static_cast<uint32_t>(r), target);
    }
    // A large random tensor shifted far from 0 gives the same probabilities.
    OwnedTensor x = RandomF32({5, 300}, 9, 5000.0f, 5010.0f);
    CheckSoftmax(x.view, kV13, nullptr, 9, target);
    // -inf entries (masked positions) get probability 0.
    OwnedTensor masked = FromVector<float>({3}, {0.0f, -inf, 1.0f});
    auto result = RunSoftmax(masked.view, kV13, nullptr);
    ASSERT_TRUE(result.ok());
    const float* y = result.value()[0].view.data_as<float>();
    EXPECT_EQ(y[1], 0.0f) << target;
    EXPECT_NEAR(y[0], 1.0 / (1.0 + std::exp(1.0)), 1e-7) << target;
    EXPECT_NEAR(y[2], 1.0 / (1.0 + std::exp(-1.0)), 1e-7) << target;
  });
}

TEST(SoftmaxTest, V1To12CoercesTo2D) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 300;
    const Shape shape = {2, 3, 4};
    CheckSoftmax(RandomF32(shape, seed).view, kV1To12, nullptr, seed, target);  // default axis 1
    ++seed;
    for (int64_t axis : {0, 1, 2, -1, -2, -3}) {
      OwnedTensor x = RandomF32(shape, seed, -3.0f, 3.0f);
      CheckSoftmax(x.view, kV1To12, &axis, seed++, target);
      CheckSoftmax(x.view, 1, &axis, seed, target);
      CheckSoftmax(x.view, 12, &axis, seed, target);
    }
    for (int64_t n : TestSizes()) {
      OwnedTensor x = RandomF32({2, 1, n}, seed, -10.0f, 10.0f);
      CheckSoftmax(x.view, kV1To12, nullptr, seed++, target);
    }
  });
  // The semantics really differ: v11 axis 1 of [2, 3, 4] normalizes 12
  // values together, v13 axis 1 only 3.
  OwnedTensor x = RandomF32({2, 3, 4}, 5);
  const int64_t axis = 1;
  auto old_result = RunSoftmax(x.view, kV1To12, &axis);
  auto new_result = RunSoftmax(x.view, kV13, &axis);
  ASSERT_TRUE(old_result.ok() && new_result.ok());
  double old_sum = 0;
  double new_sum = 0;
  for (int k = 0; k < 12; ++k) {
    old_sum += old_result.value()[0].view.data_as<float>()[k];
    new_sum += new_result.value()[0].view.data_as<float>()[k];
  }
  EXPECT_NEAR(old_sum, 1.0, 1e-5);
  EXPECT_NEAR(new_sum, 4.0, 1e-5);
}

TEST(SoftmaxTest, ZeroSizeDims) {
  for (const Shape& shape : {Shape{0, 5}, Shape{3, 0}, Shape{2, 0, 4}}) {
    OwnedTensor x = MakeTensor(DType::kF32, shape);
    for (int64_t axis : {0, 1, -1}) {
      for (int32_t version : {kV13, kV1To12}) {
        auto result = RunSoftmax(x.view, version, &axis);
        ASSERT_TRUE(result.ok()) << ShapeToString(shape) << " axis " << axis << ": " << result.status().ToString();
        EXPECT_EQ(result.value()[0].view.shape, shape);
      }
    }
  }
}

TEST(SoftmaxTest, ThreadCountDoesNotChangeResults) {
  struct Case {
    Shape shape;
    int64_t axis;
    int32_t version;
  };
  const Case cases[] = {
      {{512, 1000}, -1, kV13},    // contiguous rows, 4 rows per chunk
      {{8, 64, 3000}, 1, kV13},   // strided, one 64 x 256 unit per chunk
      {{300, 40, 3}, 1, kV13},    // strided, narrow units, 34 per chunk
      {{301, 7}, 0, kV13},        // strided, axis 0
      {{64, 10, 100}, 1, kV1To12},  // coerced rows of 1000
  };
  uint32_t seed = 400;
  for (const Case& c : cases) {
    OwnedTensor x = RandomF32(c.shape, seed++, -20.0f, 20.0f);
    auto one = RunSoftmax(x.view, c.version, &c.axis, 1);
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    for (int threads : {2, 3}) {
      auto many = RunSoftmax(x.view, c.version, &c.axis, threads);
      ASSERT_TRUE(many.ok());
      EXPECT_TRUE(BitwiseEqual(one.value()[0].view, many.value()[0].view))
          << ShapeToString(c.shape) << " axis " << c.axis << " v" << c.version << " threads " << threads;
    }
  }
  ForEachTarget([](const char* target) {
    const int64_t axis = 1;
    CheckSoftmax(RandomF32({8, 64, 3000}, 11, -20.0f, 20.0f).view, kV13, &axis, 11, target);
  });
}

// The exported kernels work in place and over any split of their work
// units (attention will call them on its own score tiles).
TEST(SoftmaxTest, KernelsWorkInPlaceAndInPieces) {
  ForEachTarget([](const char* target) {
    const int64_t rows = 5;
    const int64_t cols = 37;
    OwnedTensor x = RandomF32({rows, cols}, 21, -8.0f, 8.0f);
    std::vector<float> whole(static_cast<size_t>(rows * cols));
    ops::SoftmaxRowsF32(x.view.data_as<float>(), whole.data(), cols, 0, rows);
    std::vector<float> pieces(whole.size());
    for (int64_t r = 0; r < rows; ++r) ops::SoftmaxRowsF32(x.view.data_as<float>(), pieces.data(), cols, r, r + 1);
    EXPECT_EQ(std::memcmp(whole.data(), pieces.data(), whole.size() * 4), 0) << target;
    std::vector<float> in_place(x.view.data_as<float>(), x.view.data_as<float>() + whole.size());
    ops::SoftmaxRowsF32(in_place.data(), in_place.data(), cols, 0, rows);
    EXPECT_EQ(std::memcmp(whole.data(), in_place.data(), whole.size() * 4), 0) << target;

    const int64_t outer = 3;
    const int64_t len = 9;
    const int64_t inner = 600;  // three column blocks, the last one partial
    OwnedTensor y = RandomF32({outer, len, inner}, 22, -8.0f, 8.0f);
    const int64_t units = ops::SoftmaxStridedUnits(outer, inner);
    EXPECT_EQ(units, 9);
    std::vector<float> strided(static_cast<size_t>(outer * len * inner));
    ops::SoftmaxStridedF32(y.view.data_as<float>(), strided.data(), len, inner, 0, units);
    std::vector<float> strided_pieces(strided.size());
    for (int64_t u = units; u-- > 0;) {
      ops::SoftmaxStridedF32(y.view.data_as<float>(), strided_pieces.data(), len, inner, u, u + 1);
    }
    EXPECT_EQ(std::memcmp(strided.data(), strided_pieces.data(), strided.size() * 4), 0) << target;
    std::vector<float> strided_in_place(y.view.data_as<float>(), y.view.data_as<float>() + strided.size());
    ops::SoftmaxStridedF32(strided_in_place.data(), strided_in_place.data(), len, inner, 0, units);
    EXPECT_EQ(std::memcmp(strided.data(), strided_in_place.data(), strided.size() * 4), 0) << target;

    // Exact-size buffers (the test tensors are rounded up to 64 bytes), so
    // AddressSanitizer sees any access past the end of a row or block.
    for (int64_t n : TestSizes()) {
      std::vector<float> row = ToFloatVector(RandomF32({n}, 23, -8.0f, 8.0f).view);
      std::vector<float> out(row.size());
      ops::SoftmaxRowsF32(row.data(), out.data(), n, 0, 1);
      std::vector<float> block = ToFloatVector(RandomF32({3, n}, 24, -8.0f, 8.0f).view);
      std::vector<float> block_out(block.size());
      ops::SoftmaxStridedF32(block.data(), block_out.data(), 3, n, 0, ops::SoftmaxStridedUnits(1, n));
      double row_sum = 0;
      for (float v : out) row_sum += v;
      EXPECT_NEAR(row_sum, 1.0, 1e-4) << "n " << n << ", target " << target;
      for (int64_t j = 0; j < n; ++j) {
        const double column_sum = block_out[j] + block_out[n + j] + block_out[2 * n + j];
        ASSERT_NEAR(column_sum, 1.0, 1e-6) << "column " << j << " of [3, " << n << "], target " << target;
      }
    }
  });
}

TEST(SoftmaxTest, AxisOutOfRangeFails) {
  OwnedTensor x = RandomF32({2, 3, 4}, 1);
  for (int32_t version : {kV13, kV1To12}) {
    for (int64_t axis : {3, -4, 100}) {
      auto result = RunSoftmax(x.view, version, &axis);
      ASSERT_FALSE(result.ok()) << "v" << version << " axis " << axis;
      EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(result.status().message(), "attribute 'axis' is " + std::to_string(axis) +
                                               ", out of range for input 'input' [2, 3, 4] of rank 3 (valid: -3 to 2)");
    }
  }
  OwnedTensor scalar = FromVector<float>({}, {1.0f});
  auto result = RunSoftmax(scalar.view, kV13, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("rank 0"), std::string::npos) << result.status().message();
}

TEST(SoftmaxTest, WrongDtypeFails) {
  OwnedTensor x = FromVector<int32_t>({3}, {1, 2, 3});
  auto result = RunSoftmax(x.view, kV13, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("'input' has dtype i32, expected f32"), std::string::npos)
      << result.status().message();
  OwnedTensor y = RandomF32({3}, 1);
  OpInvocation inv;
  inv.op_type = "Softmax";
  inv.inputs = {&y.view};
  inv.attrs.Set("axis", Attribute::Float(1.0f));
  auto bad_attr = RunOp(inv);
  ASSERT_FALSE(bad_attr.ok());
  EXPECT_NE(bad_attr.status().message().find("'axis'"), std::string::npos) << bad_attr.status().message();
}

TEST(SoftmaxTest, VersionRanges) {
  const OpRegistry& registry = BuiltinOpRegistry();
  const OpDef* v1 = registry.Find("", "Softmax", 1);
  const OpDef* v12 = registry.Find("", "Softmax", 12);
  const OpDef* v13 = registry.Find("", "Softmax", 13);
  const OpDef* v21 = registry.Find("", "Softmax", 21);
  ASSERT_NE(v1, nullptr);
  ASSERT_NE(v13, nullptr);
  EXPECT_EQ(v1, v12);
  EXPECT_NE(v12, v13);
  EXPECT_EQ(v13, v21);
  EXPECT_EQ(v1->until_version, 12);
}

// Shape inference with unknown dims and unknown rank; the axis is checked
// only when the rank is known.
TEST(SoftmaxTest, ShapeInferenceHandlesDynamicDims) {
  const OpDef* def = BuiltinOpRegistry().Find("", "Softmax", 13);
  ASSERT_NE(def, nullptr);
  auto infer = [&](const TensorInfo& x, int64_t axis) {
    AttributeMap attrs;
    attrs.Set("axis", Attribute::Int(axis));
    OpContext ctx;
    ctx.attrs = &attrs;
    ctx.inputs = {&x};
    ctx.constants = {nullptr};
    ctx.outputs.resize(1);
    const Status status = def->infer_shapes(ctx);
    return std::make_pair(status, ctx.outputs[0]);
  };
  auto [status, out] = infer(TensorInfo{DType::kF32, {kDynamicDim, 4}, true}, -1);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(out.shape, Shape({kDynamicDim, 4}));
  EXPECT_TRUE(out.has_shape);
  std::tie(status, out) = infer(TensorInfo{DType::kF32, {}, false}, 5);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_FALSE(out.has_shape);
  std::tie(status, out) = infer(TensorInfo{DType::kF32, {kDynamicDim, 4}, true}, 2);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "attribute 'axis' is 2, out of range for input 'input' [?, 4] of rank 2 (valid: -2 to 1)");
}

TEST(SoftmaxTest, CostCountsFlopsAndBytes) {
  auto cost_of = [](int32_t version, const Shape& shape, int64_t axis) {
    const OpDef* def = BuiltinOpRegistry().Find("", "Softmax", version);
    AttributeMap attrs;
    attrs.Set("axis", Attribute::Int(axis));
    const TensorInfo x{DType::kF32, shape, true};
    OpContext ctx;
    ctx.attrs = &attrs;
    ctx.inputs = {&x};
    ctx.constants = {nullptr};
    ctx.outputs = {x};
    return def->cost(ctx);
  };
  // 26 FLOPs per element plus one division per softmax vector.
  OpCost c = cost_of(kV13, {2, 3, 4}, -1);
  EXPECT_EQ(c.flops, 24 * 26 + 6);
  EXPECT_EQ(c.bytes_read, 96);
  EXPECT_EQ(c.bytes_written, 96);
  c = cost_of(kV13, {2, 3, 4}, 1);
  EXPECT_EQ(c.flops, 24 * 26 + 8);
  c = cost_of(kV1To12, {2, 3, 4}, 1);
  EXPECT_EQ(c.flops, 24 * 26 + 2);
}

}  // namespace
}  // namespace tessera
