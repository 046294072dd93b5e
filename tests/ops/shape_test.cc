// Tests of the ONNX shape and data-movement ops (ops/shape/): Transpose,
// Reshape, Concat, Split, Slice, Gather, Unsqueeze, Squeeze, Where, Expand,
// Cast, Shape, ConstantOfShape and Identity, through testing::RunOp against
// the naive references in tests/reference/shape_reference.h. These ops only
// move (or convert) values, so results must match bit for bit. Also: value
// propagation at the op level (Shape's value, Gather/Concat on known
// values), 1 vs 2 threads, and bad inputs with clear errors.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "tests/reference/shape_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using testing::BitwiseEqual;
using testing::FromVector;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;
using testing::ToFloatVector;

template <typename T>
std::vector<T> Values(const Tensor& t) {
  const T* p = t.data_as<T>();
  return std::vector<T>(p, p + t.NumElements());
}

OwnedTensor Bools(const Shape& shape, const std::vector<int>& v) {
  OwnedTensor t = testing::MakeTensor(DType::kBool, shape);
  for (size_t i = 0; i < v.size(); ++i) t.view.data_as<bool>()[i] = v[i] != 0;
  return t;
}

OwnedTensor Ints(const std::vector<int64_t>& v) { return FromVector<int64_t>({static_cast<int64_t>(v.size())}, v); }

OwnedTensor RandomI64(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> v(static_cast<size_t>(NumElements(shape)));
  for (auto& x : v) x = static_cast<int64_t>(rng()) - (1ll << 31);
  return FromVector<int64_t>(shape, v);
}

struct Op {
  const char* type;
  int32_t version = 17;
  std::vector<const Tensor*> inputs;
  AttributeMap attrs;
  size_t outputs = 1;
  int threads = 1;
  bool first_constant = false;
  // All inputs but the first (unless first_constant) are passed as
  // constants (shape inputs).
  StatusOr<std::vector<OwnedTensor>> Run() const {
    OpInvocation inv;
    inv.op_type = type;
    inv.version = version;
    inv.inputs = inputs;
    inv.attrs = attrs;
    inv.num_outputs = outputs;
    inv.threads = threads;
    inv.constant.assign(inputs.size(), true);
    inv.constant[0] = first_constant;
    return RunOp(inv);
  }
};

// ---------------------------------------------------------------------------

TEST(ShapeOpsTest, TransposeMatchesReference) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{3, 7}, {1, 0}}, {{2, 3, 5}, {2, 0, 1}}, {{2, 3, 5}, {0, 2, 1}}, {{4, 1, 3, 5}, {3, 1, 0, 2}},
      {{17, 33}, {}},  // default: reversed
      {{2, 3, 4, 5}, {0, 1, 3, 2}}, {{5}, {0}}};
  uint32_t seed = 1;
  for (const auto& [shape, perm] : cases) {
    OwnedTensor x = RandomF32(shape, seed++);
    OwnedTensor xi = RandomI64(shape, seed++);
    std::vector<int64_t> p = perm;
    if (p.empty()) {
      for (int64_t k = static_cast<int64_t>(shape.size()) - 1; k >= 0; --k) p.push_back(k);
    }
    for (const Tensor* in : {&x.view, &xi.view}) {
      Op op{"Transpose"};
      op.inputs.push_back(in);
      if (!perm.empty()) op.attrs.Set("perm", Attribute::Ints(perm));
      auto r = op.Run();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      Shape want_shape;
      const Tensor& y = r.value()[0].view;
      if (in->dtype == DType::kF32) {
        auto want = reference::RefTranspose(Values<float>(*in), shape, p, &want_shape);
        EXPECT_EQ(Values<float>(y), want) << ShapeToString(shape);
      } else {
        auto want = reference::RefTranspose(Values<int64_t>(*in), shape, p, &want_shape);
        EXPECT_EQ(Values<int64_t>(y), want) << ShapeToString(shape);
      }
      EXPECT_EQ(y.shape, want_shape);
    }
  }
  OwnedTensor x = RandomF32({2, 3}, 1);
  Op bad{"Transpose"};
  bad.inputs = {&x.view};
  bad.attrs.Set("perm", Attribute::Ints({0, 0}));
  auto r = bad.Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "attribute 'perm' is not a permutation of 0..1");
}

StatusOr<Shape> ReshapeTo(const Shape& in, const std::vector<int64_t>& spec, int32_t version, bool allowzero) {
  OwnedTensor x = RandomF32(in, 3);
  OwnedTensor s = Ints(spec);
  Op op{"Reshape", version};
  op.inputs = {&x.view, &s.view};
  if (allowzero) op.attrs.Set("allowzero", Attribute::Int(1));
  auto r = op.Run();
  if (!r.ok()) return r.status();
  if (!BitwiseEqual(Tensor{x.view.dtype, r.value()[0].view.shape, x.view.data}, r.value()[0].view)) {
    return Error(StatusCode::kInternal, "bytes changed");
  }
  return r.value()[0].view.shape;
}

TEST(ShapeOpsTest, ReshapeZeroMinusOneAndAllowzero) {
  EXPECT_EQ(ReshapeTo({2, 3, 4}, {0, -1}, 14, false).value(), Shape({2, 12}));
  EXPECT_EQ(ReshapeTo({2, 3, 4}, {-1, 0, 2}, 13, false).value(), Shape({4, 3, 2}));
  EXPECT_EQ(ReshapeTo({2, 3, 4}, {24}, 5, false).value(), Shape({24}));
  EXPECT_EQ(ReshapeTo({0, 3}, {0, 3}, 14, true).value(), Shape({0, 3}));
  auto r = ReshapeTo({2, 3, 4}, {-1, -1}, 14, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'shape' has -1 at both index 0 and 1; at most one dim can be inferred");
  r = ReshapeTo({2, 3, 4}, {5, -1}, 14, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot reshape input 'data' [2, 3, 4] (24 elements) to [5, -1] with -1 inferred");
  r = ReshapeTo({2, 3}, {0, -1}, 14, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'shape' has both 0 and -1 with allowzero=1, which ONNX forbids");
  r = ReshapeTo({0, 3}, {0, -1}, 14, false);  // -1 next to a 0 dim is ambiguous
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot reshape input 'data' [0, 3] (0 elements) to [0, -1] with -1 inferred");
  r = ReshapeTo({2, 3}, {7}, 14, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot reshape input 'data' [2, 3] (6 elements) to [7] (7 elements)");
  // Dims whose product wraps int64 (the model_fuzz class of the Split sum).
  r = ReshapeTo({2, 3}, {int64_t{1} << 62, 4, -1}, 14, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "cannot reshape input 'data' [2, 3] (6 elements) to [4611686018427387904, 4, -1]: its dims multiply past "
            "2^63 - 1");
  r = ReshapeTo({2, 3}, {int64_t{1} << 32, int64_t{1} << 32}, 14, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "cannot reshape input 'data' [2, 3] (6 elements) to [4294967296, 4294967296]: its dims multiply past "
            "2^63 - 1");
  // A 0 makes the product 0 whatever the other dims are: no wrap on the way
  // (the output buffer's size check then refuses the shape).
  r = ReshapeTo({0, 3}, {int64_t{1} << 62, 4, 0}, 14, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "shape [4611686018427387904, 4, 0] has more than 2^63 elements");
}

TEST(ShapeOpsTest, ConcatAnyAxis) {
  uint32_t seed = 10;
  for (int64_t axis : {0, 1, 2, -1, -3}) {
    const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    std::vector<OwnedTensor> parts;
    std::vector<const Tensor*> ins;
    for (int64_t len : {1, 3, 0, 7}) {
      Shape s = {2, 3, 5};
      s[a] = len;
      parts.push_back(RandomF32(s, seed++));
    }
    for (auto& p : parts) ins.push_back(&p.view);
    Op op{"Concat"};
    op.inputs = ins;
    op.attrs.Set("axis", Attribute::Int(axis));
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const Tensor& y = r.value()[0].view;
    Shape want_shape = {2, 3, 5};
    want_shape[a] = 11;
    ASSERT_EQ(y.shape, want_shape);
    // Each output element comes from the input whose range along the axis holds it.
    for (int64_t flat = 0; flat < y.NumElements(); ++flat) {
      reference::Dims j = reference::Unflatten(flat, y.shape);
      int64_t k = 0;
      while (j[a] >= parts[static_cast<size_t>(k)].view.shape[a]) j[a] -= parts[static_cast<size_t>(k++)].view.shape[a];
      const Tensor& src = parts[static_cast<size_t>(k)].view;
      ASSERT_EQ(y.data_as<float>()[flat], src.data_as<float>()[reference::Flatten(j, src.shape)]) << axis << " " << flat;
    }
  }
  OwnedTensor a = RandomF32({2, 3}, 1), b = RandomF32({3, 3}, 2);
  Op bad{"Concat"};
  bad.inputs = {&a.view, &b.view};
  bad.attrs.Set("axis", Attribute::Int(1));
  auto r = bad.Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 1 [3, 3] does not match the other inputs in dim 0 (3 vs 2)");
  // Empty inputs with huge dims beside their 0: the concatenated length
  // must not wrap int64, and copying nothing must not form huge products.
  OwnedTensor e = RandomF32({0, int64_t{1} << 62, 4}, 3);
  Op empty{"Concat"};
  empty.inputs = {&e.view, &e.view};
  empty.attrs.Set("axis", Attribute::Int(0));
  r = empty.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].view.shape, Shape({0, int64_t{1} << 62, 4}));
  empty.inputs = {&e.view, &e.view, &e.view};
  empty.attrs.Set("axis", Attribute::Int(1));
  r = empty.Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "input 1 [0, 4611686018427387904, 4] makes the concatenated dim 1 longer than 2^63 - 1");
}

TEST(ShapeOpsTest, SplitEveryForm) {
  OwnedTensor x = RandomF32({2, 7, 3}, 5);
  auto check = [&](const std::vector<OwnedTensor>& outs, const std::vector<int64_t>& sizes) {
    ASSERT_EQ(outs.size(), sizes.size());
    int64_t start = 0;
    for (size_t o = 0; o < outs.size(); ++o) {
      Shape want;
      auto ref = reference::RefSlice(Values<float>(x.view), x.view.shape, {0, start, 0}, {2, start + sizes[o], 3},
                                     {1, 1, 1}, &want);
      EXPECT_EQ(outs[o].view.shape, want) << o;
      EXPECT_EQ(Values<float>(outs[o].view), ref) << o;
      start += sizes[o];
    }
  };
  {  // v13: split input
    OwnedTensor split = Ints({2, 0, 5});
    Op op{"Split", 13};
    op.inputs = {&x.view, &split.view};
    op.attrs.Set("axis", Attribute::Int(1));
    op.outputs = 3;
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    check(r.value(), {2, 0, 5});
  }
  {  // v18: num_outputs, uneven: ceil(7/3) = 3, 3, 1
    Op op{"Split", 18};
    op.inputs = {&x.view};
    op.attrs.Set("axis", Attribute::Int(-2));
    op.attrs.Set("num_outputs", Attribute::Int(3));
    op.outputs = 3;
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    check(r.value(), {3, 3, 1});
  }
  {  // v11: split attribute
    Op op{"Split", 11};
    op.inputs = {&x.view};
    op.attrs.Set("axis", Attribute::Int(1));
    op.attrs.Set("split", Attribute::Ints({4, 3}));
    op.outputs = 2;
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    check(r.value(), {4, 3});
  }
  {  // v13 equal parts that do not divide
    Op op{"Split", 13};
    op.inputs = {&x.view};
    op.attrs.Set("axis", Attribute::Int(1));
    op.outputs = 2;
    auto r = op.Run();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "the split axis has length 7, which 2 outputs cannot split evenly; give 'split'");
  }
  {
    OwnedTensor split = Ints({2, 2});
    Op op{"Split", 13};
    op.inputs = {&x.view, &split.view};
    op.attrs.Set("axis", Attribute::Int(1));
    op.outputs = 2;
    auto r = op.Run();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "'split' sums to 4, but the split axis has length 7");
  }
  {  // sizes whose sum wraps int64 (a model_fuzz finding)
    OwnedTensor split = Ints({int64_t{1} << 62, int64_t{1} << 62, int64_t{1} << 62});
    Op op{"Split", 13};
    op.inputs = {&x.view, &split.view};
    op.attrs.Set("axis", Attribute::Int(1));
    op.outputs = 3;
    auto r = op.Run();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "'split' sizes sum past 2^63 - 1");
  }
  {  // v18 parts of ceil(len / n) for len = INT64_MAX (beside a 0): no wrap
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    OwnedTensor e = RandomF32({0, kMax}, 5);
    Op op{"Split", 18};
    op.inputs = {&e.view};
    op.attrs.Set("axis", Attribute::Int(1));
    op.attrs.Set("num_outputs", Attribute::Int(2));
    op.outputs = 2;
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[0].view.shape, Shape({0, kMax / 2 + 1}));
    EXPECT_EQ(r.value()[1].view.shape, Shape({0, kMax / 2}));
  }
  {  // an empty input with a huge dim beside its 0: nothing to copy, no wrap
    OwnedTensor e = RandomF32({0, int64_t{1} << 62, 4}, 5);
    Op op{"Split", 13};
    op.inputs = {&e.view};
    op.outputs = 2;
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[1].view.shape, Shape({0, int64_t{1} << 62, 4}));
  }
}

TEST(ShapeOpsTest, SliceNegativeClampedAndStepped) {
  OwnedTensor x = RandomF32({5, 9, 4}, 6);
  struct Case {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const std::vector<Case> cases = {
      {{1}, {4}, {0}, {1}},
      {{-3}, {1000}, {1}, {2}},
      {{100}, {-100}, {1}, {-3}},
      {{-1, 0}, {-1000, 4}, {0, 2}, {-1, 3}},
      {{0, 2, 1}, {5, 9, 3}, {}, {}},  // axes and steps omitted
      {{7}, {2}, {-2}, {1}},           // empty result
      {{2}, {3}, {-1}, {-1}},          // negative step, empty
  };
  for (const Case& c : cases) {
    OwnedTensor starts = Ints(c.starts), ends = Ints(c.ends), axes = Ints(c.axes), steps = Ints(c.steps);
    Op op{"Slice", 13};
    op.inputs = {&x.view, &starts.view, &ends.view};
    if (!c.axes.empty()) op.inputs.push_back(&axes.view);
    if (!c.steps.empty()) op.inputs.push_back(&steps.view);
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::vector<int64_t> s = {0, 0, 0}, e = {5, 9, 4}, st = {1, 1, 1};
    for (size_t i = 0; i < c.starts.size(); ++i) {
      int64_t a = c.axes.empty() ? static_cast<int64_t>(i) : c.axes[i];
      if (a < 0) a += 3;
      s[static_cast<size_t>(a)] = c.starts[i];
      e[static_cast<size_t>(a)] = c.ends[i];
      st[static_cast<size_t>(a)] = c.steps.empty() ? 1 : c.steps[i];
    }
    Shape want_shape;
    auto want = reference::RefSlice(Values<float>(x.view), x.view.shape, s, e, st, &want_shape);
    EXPECT_EQ(r.value()[0].view.shape, want_shape);
    EXPECT_EQ(Values<float>(r.value()[0].view), want);
  }
  // i32 indices.
  OwnedTensor s32 = FromVector<int32_t>({1}, {-2}), e32 = FromVector<int32_t>({1}, {9});
  Op op32{"Slice", 13};
  op32.inputs = {&x.view, &s32.view, &e32.view};
  auto r = op32.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].view.shape, Shape({2, 9, 4}));
  // Step 0.
  OwnedTensor s = Ints({0}), e = Ints({1}), a = Ints({0}), zero = Ints({0});
  Op bad{"Slice", 13};
  bad.inputs = {&x.view, &s.view, &e.view, &a.view, &zero.view};
  r = bad.Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'steps' has 0 at index 0");
  // Steps of INT64_MAX and INT64_MIN (ends likewise) keep one element; the
  // length and stride arithmetic must not wrap (a model_fuzz class).
  for (const int64_t step : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    const bool up = step > 0;
    OwnedTensor hs = Ints({up ? 2 : -1}), he = Ints({step}), ha = Ints({1}), hst = Ints({step});
    Op huge{"Slice", 13};
    huge.inputs = {&x.view, &hs.view, &he.view, &ha.view, &hst.view};
    r = huge.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Shape want_shape;
    auto want = reference::RefSlice(Values<float>(x.view), x.view.shape, {0, up ? 2 : 8, 0}, {5, up ? 3 : 9, 4},
                                    {1, 1, 1}, &want_shape);
    EXPECT_EQ(r.value()[0].view.shape, want_shape);
    EXPECT_EQ(Values<float>(r.value()[0].view), want);
  }
}

TEST(ShapeOpsTest, GatherEmbeddingsAndAxes) {
  OwnedTensor table = RandomF32({11, 7}, 8);
  for (DType index_type : {DType::kI64, DType::kI32}) {
    const std::vector<int64_t> idx = {0, 10, -1, 3, -11, 5};
    OwnedTensor indices = index_type == DType::kI64 ? FromVector<int64_t>({2, 3}, idx)
                                                    : FromVector<int32_t>({2, 3}, {0, 10, -1, 3, -11, 5});
    for (int64_t axis : {0, 1, -2}) {
      if (axis == 1) continue;  // indices up to 10 are out of range for dim 7
      OpInvocation inv;
      inv.op_type = "Gather";
      inv.inputs = {&table.view, &indices.view};
      inv.attrs.Set("axis", Attribute::Int(axis));
      auto r = RunOp(inv);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      Shape want_shape;
      auto want = reference::RefGather(Values<float>(table.view), table.view.shape, idx, {2, 3}, axis < 0 ? axis + 2 : axis, &want_shape);
      EXPECT_EQ(r.value()[0].view.shape, want_shape);
      EXPECT_EQ(Values<float>(r.value()[0].view), want);
    }
  }
  // Axis 1 of a 3-D tensor with a scalar index.
  OwnedTensor x = RandomF32({3, 5, 4}, 9);
  OwnedTensor scalar = FromVector<int64_t>({}, {-2});
  OpInvocation inv;
  inv.op_type = "Gather";
  inv.inputs = {&x.view, &scalar.view};
  inv.attrs.Set("axis", Attribute::Int(1));
  auto r = RunOp(inv);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Shape want_shape;
  auto want = reference::RefGather(Values<float>(x.view), x.view.shape, {-2}, {}, 1, &want_shape);
  EXPECT_EQ(r.value()[0].view.shape, Shape({3, 4}));
  EXPECT_EQ(Values<float>(r.value()[0].view), want);
  // Out of range: a clear run-time error naming the index.
  OwnedTensor bad = FromVector<int64_t>({3}, {1, 11, 2});
  inv.inputs = {&table.view, &bad.view};
  inv.attrs.Set("axis", Attribute::Int(0));
  r = RunOp(inv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "Gather: input 'indices' has 11 at flat index 1, out of range for axis 0 of input 'data' [11, 7] "
            "(valid: -11 to 10)");
  // No indices into an empty table with a huge dim beside its 0: an empty
  // output, without forming the row size 2^62 * 4.
  OwnedTensor empty_table = RandomF32({0, int64_t{1} << 62, 4}, 4);
  OwnedTensor no_indices = FromVector<int64_t>({0}, {});
  inv.inputs = {&empty_table.view, &no_indices.view};
  r = RunOp(inv);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].view.shape, Shape({0, int64_t{1} << 62, 4}));
}

TEST(ShapeOpsTest, UnsqueezeAndSqueezeBothForms) {
  OwnedTensor x = RandomF32({3, 1, 5}, 10);
  {
    OwnedTensor axes = Ints({0, -1});
    Op op{"Unsqueeze", 13};
    op.inputs = {&x.view, &axes.view};
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[0].view.shape, Shape({1, 3, 1, 5, 1}));
    EXPECT_EQ(Values<float>(r.value()[0].view), Values<float>(x.view));
  }
  {
    Op op{"Unsqueeze", 11};
    op.inputs = {&x.view};
    op.attrs.Set("axes", Attribute::Ints({1}));
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[0].view.shape, Shape({3, 1, 1, 5}));
  }
  {
    Op op{"Squeeze", 13};
    op.inputs = {&x.view};
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[0].view.shape, Shape({3, 5}));
  }
  {
    OwnedTensor axes = Ints({-2});
    Op op{"Squeeze", 13};
    op.inputs = {&x.view, &axes.view};
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[0].view.shape, Shape({3, 5}));
  }
  {
    Op op{"Squeeze", 11};
    op.inputs = {&x.view};
    op.attrs.Set("axes", Attribute::Ints({0}));
    auto r = op.Run();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "'axes' names axis 0 of input 'data' [3, 1, 5], which has size 3, not 1");
  }
}

TEST(ShapeOpsTest, WhereAndExpandBroadcast) {
  OwnedTensor cond = Bools({3, 1}, {1, 0, 1});
  OwnedTensor x = RandomF32({1, 5}, 11);
  OwnedTensor y = RandomF32({2, 3, 5}, 12);
  Op op{"Where"};
  op.inputs = {&cond.view, &x.view, &y.view};
  auto r = op.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Tensor& out = r.value()[0].view;
  ASSERT_EQ(out.shape, Shape({2, 3, 5}));
  for (int64_t f = 0; f < out.NumElements(); ++f) {
    const auto j = reference::Unflatten(f, out.shape);
    const bool c = cond.view.data_as<bool>()[reference::BroadcastSource(j, cond.view.shape, out.shape)];
    const float want = c ? x.view.data_as<float>()[reference::BroadcastSource(j, x.view.shape, out.shape)]
                         : y.view.data_as<float>()[reference::BroadcastSource(j, y.view.shape, out.shape)];
    ASSERT_EQ(out.data_as<float>()[f], want) << f;
  }
  OwnedTensor in = RandomI64({3, 1}, 13);
  OwnedTensor shape = Ints({2, 1, 6});
  Op expand{"Expand"};
  expand.inputs = {&in.view, &shape.view};
  r = expand.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Tensor& e = r.value()[0].view;
  ASSERT_EQ(e.shape, Shape({2, 3, 6}));
  for (int64_t f = 0; f < e.NumElements(); ++f) {
    const auto j = reference::Unflatten(f, e.shape);
    ASSERT_EQ(e.data_as<int64_t>()[f], in.view.data_as<int64_t>()[reference::BroadcastSource(j, in.view.shape, e.shape)]);
  }
  OwnedTensor bad_shape = Ints({4, 5});
  expand.inputs = {&in.view, &bad_shape.view};
  r = expand.Run();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not broadcastable"), std::string::npos) << r.status().ToString();
}

TEST(ShapeOpsTest, CastConversions) {
  const float inf = std::numeric_limits<float>::infinity();
  OwnedTensor f = FromVector<float>({8}, {1.9f, -1.9f, 0.0f, 3e9f, -3e9f, std::nanf(""), inf, -0.5f});
  auto cast = [](const Tensor& in, int64_t to) {
    Op op{"Cast"};
    op.inputs = {&in};
    op.attrs.Set("to", Attribute::Int(to));
    return op.Run();
  };
  auto r = cast(f.view, 6);  // int32: truncate, saturate, NaN -> 0
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Values<int32_t>(r.value()[0].view),
            (std::vector<int32_t>{1, -1, 0, 2147483647, -2147483647 - 1, 0, 2147483647, 0}));
  r = cast(f.view, 9);  // bool: x != 0 (NaN is true)
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Values<bool>(r.value()[0].view), (std::vector<bool>{true, true, false, true, true, true, true, true}));
  OwnedTensor i = FromVector<int64_t>({4}, {5000000000ll, -1, 16777217, 0});
  r = cast(i.view, 6);  // int64 -> int32 wraps
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Values<int32_t>(r.value()[0].view), (std::vector<int32_t>{705032704, -1, 16777217, 0}));
  r = cast(i.view, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Values<float>(r.value()[0].view), (std::vector<float>{5e9f, -1.0f, 16777216.0f, 0.0f}));
  OwnedTensor b = Bools({3}, {1, 0, 1});
  r = cast(b.view, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Values<int64_t>(r.value()[0].view), (std::vector<int64_t>{1, 0, 1}));
  r = cast(b.view, 11);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "attribute 'to' is 11, an ONNX type Tessera cannot cast to (supported: 1 float, 2 uint8, 3 int8, 6 int32, "
            "7 int64, 9 bool, 10 float16, 16 bfloat16)");
}

TEST(ShapeOpsTest, ShapeConstantOfShapeIdentity) {
  OwnedTensor x = RandomF32({2, 3, 5, 7}, 14);
  for (const auto& [start, end, want] : std::vector<std::tuple<int64_t, int64_t, std::vector<int64_t>>>{
           {0, 100, {2, 3, 5, 7}}, {1, -1, {3, 5}}, {-2, 4, {5, 7}}, {3, 1, {}}, {-100, 1, {2}}}) {
    Op op{"Shape", 15};
    op.inputs = {&x.view};
    op.attrs.Set("start", Attribute::Int(start));
    op.attrs.Set("end", Attribute::Int(end));
    auto r = op.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(Values<int64_t>(r.value()[0].view), want) << start << " " << end;
  }
  OwnedTensor dims = Ints({2, 3});
  Op c{"ConstantOfShape"};
  c.inputs = {&dims.view};
  c.first_constant = true;
  auto r = c.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Values<float>(r.value()[0].view), std::vector<float>(6, 0.0f));
  c.attrs.Set("value_int", Attribute::Int(-4));
  r = c.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].view.dtype, DType::kI64);
  EXPECT_EQ(Values<int64_t>(r.value()[0].view), std::vector<int64_t>(6, -4));
  Op id{"Identity"};
  id.inputs = {&x.view};
  r = id.Run();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(BitwiseEqual(r.value()[0].view, x.view));
}

// Value propagation at the op level: Shape knows its value from the input
// shape alone; Gather, Concat and integer Mul compute theirs from known
// inputs; a data-dependent input leaves the value unknown.
TEST(ShapeOpsTest, InferShapesPropagatesValues) {
  const OpRegistry& registry = BuiltinOpRegistry();
  AttributeMap no_attrs;
  const TensorInfo x{DType::kF32, {4, 6, 8}, true};
  OpContext shape_ctx;
  shape_ctx.attrs = &no_attrs;
  shape_ctx.inputs = {&x};
  shape_ctx.constants = {nullptr};
  shape_ctx.outputs.resize(1);
  shape_ctx.output_values.resize(1);
  const OpDef* shape_def = registry.Find("", "Shape", 13);
  ASSERT_TRUE(shape_def->infer_shapes(shape_ctx).ok());
  ASSERT_NE(shape_ctx.output_values[0].view.data, nullptr);
  EXPECT_EQ(Values<int64_t>(shape_ctx.output_values[0].view), (std::vector<int64_t>{4, 6, 8}));

  OwnedTensor index = FromVector<int64_t>({1}, {-1});
  const TensorInfo index_info{DType::kI64, {1}, true};
  AttributeMap gather_attrs;
  gather_attrs.Set("axis", Attribute::Int(0));
  OpContext gather_ctx;
  gather_ctx.attrs = &gather_attrs;
  gather_ctx.inputs = {&shape_ctx.outputs[0], &index_info};
  gather_ctx.constants = {&shape_ctx.output_values[0].view, &index.view};
  gather_ctx.outputs.resize(1);
  gather_ctx.output_values.resize(1);
  ASSERT_TRUE(registry.Find("", "Gather", 13)->infer_shapes(gather_ctx).ok());
  EXPECT_EQ(Values<int64_t>(gather_ctx.output_values[0].view), (std::vector<int64_t>{8}));

  OpContext mul_ctx;
  mul_ctx.attrs = &no_attrs;
  mul_ctx.inputs = {&gather_ctx.outputs[0], &shape_ctx.outputs[0]};
  mul_ctx.constants = {&gather_ctx.output_values[0].view, &shape_ctx.output_values[0].view};
  mul_ctx.outputs.resize(1);
  mul_ctx.output_values.resize(1);
  ASSERT_TRUE(registry.Find("", "Mul", 14)->infer_shapes(mul_ctx).ok());
  EXPECT_EQ(Values<int64_t>(mul_ctx.output_values[0].view), (std::vector<int64_t>{32, 48, 64}));

  // Unknown input value: no value, and no error.
  mul_ctx.constants = {nullptr, &shape_ctx.output_values[0].view};
  mul_ctx.output_values.clear();
  mul_ctx.output_values.resize(1);
  ASSERT_TRUE(registry.Find("", "Mul", 14)->infer_shapes(mul_ctx).ok());
  EXPECT_EQ(mul_ctx.output_values[0].view.data, nullptr);

  // A known out-of-range index is an error at inference time.
  OwnedTensor bad = FromVector<int64_t>({1}, {3});
  gather_ctx.constants = {&shape_ctx.output_values[0].view, &bad.view};
  gather_ctx.output_values.clear();
  gather_ctx.output_values.resize(1);
  const Status s = registry.Find("", "Gather", 13)->infer_shapes(gather_ctx);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("has 3 at flat index 0, out of range"), std::string::npos) << s.ToString();
}

// Load-time inference with dynamic dims: known dims follow, unknown ones
// stay unknown, and values stay unknown.
TEST(ShapeOpsTest, InferShapesKeepsDynamicDims) {
  const OpRegistry& registry = BuiltinOpRegistry();
  const TensorInfo x{DType::kF32, {kDynamicDim, 1, 5}, true};
  OwnedTensor axes = Ints({1});
  const TensorInfo axes_info{DType::kI64, {1}, true};
  AttributeMap attrs;
  OpContext ctx;
  ctx.attrs = &attrs;
  ctx.inputs = {&x, &axes_info};
  ctx.constants = {nullptr, &axes.view};
  ctx.outputs.resize(1);
  ctx.output_values.resize(1);
  ASSERT_TRUE(registry.Find("", "Squeeze", 13)->infer_shapes(ctx).ok());
  EXPECT_EQ(ctx.outputs[0].shape, Shape({kDynamicDim, 5}));
  ASSERT_TRUE(registry.Find("", "Unsqueeze", 13)->infer_shapes(ctx).ok());
  EXPECT_EQ(ctx.outputs[0].shape, Shape({kDynamicDim, 1, 1, 5}));
  // Shape of a dynamic tensor: length known, value unknown.
  OpContext shape_ctx;
  shape_ctx.attrs = &attrs;
  shape_ctx.inputs = {&x};
  shape_ctx.constants = {nullptr};
  shape_ctx.outputs.resize(1);
  shape_ctx.output_values.resize(1);
  ASSERT_TRUE(registry.Find("", "Shape", 13)->infer_shapes(shape_ctx).ok());
  EXPECT_EQ(shape_ctx.outputs[0].shape, Shape({3}));
  EXPECT_EQ(shape_ctx.output_values[0].view.data, nullptr);
  // A 'shape' input of unknown values gives the output's rank by its length,
  // up to kMaxRankFromLength; a hostile declared length (2^34) gives an
  // unknown rank instead of a 2^34-dim Shape (128 GiB) at load.
  for (const int64_t length : {int64_t{4}, int64_t{1} << 34}) {
    const TensorInfo spec{DType::kI64, {length}, true};
    for (const char* op : {"Reshape", "Expand", "ConstantOfShape"}) {
      OpContext c;
      c.attrs = &attrs;
      c.inputs = std::string(op) == "ConstantOfShape" ? std::vector<const TensorInfo*>{&spec}
                                                      : std::vector<const TensorInfo*>{&x, &spec};
      c.constants.assign(c.inputs.size(), nullptr);
      c.outputs.resize(1);
      ASSERT_TRUE(registry.Find("", op, 17)->infer_shapes(c).ok()) << op;
      EXPECT_EQ(c.outputs[0].has_shape, length == 4) << op;
      if (length == 4) {
        EXPECT_EQ(c.outputs[0].shape, Shape(4, kDynamicDim)) << op;
      }
    }
  }
}

TEST(ShapeOpsTest, OneAndTwoThreadsBitwiseEqual) {
  OwnedTensor x = RandomF32({64, 129, 33}, 20);
  OwnedTensor idx = FromVector<int64_t>({5}, {3, 0, 63, -1, 7});
  auto both = [&](Op op) {
    op.threads = 1;
    auto a = op.Run();
    op.threads = 2;
    auto b = op.Run();
    ASSERT_TRUE(a.ok() && b.ok()) << op.type;
    EXPECT_TRUE(BitwiseEqual(a.value()[0].view, b.value()[0].view)) << op.type;
  };
  Op t{"Transpose"};
  t.inputs = {&x.view};
  t.attrs.Set("perm", Attribute::Ints({2, 0, 1}));
  both(t);
  Op g{"Gather"};
  g.inputs = {&x.view, &idx.view};
  both(g);
  OwnedTensor s = Ints({1, -1}), e = Ints({-1, 0}), a = Ints({0, 1}), st = Ints({2, -3});
  Op sl{"Slice", 13};
  sl.inputs = {&x.view, &s.view, &e.view, &a.view, &st.view};
  both(sl);
}

StatusOr<std::vector<OwnedTensor>> RunCast(const Tensor& in, int64_t to) {
  testing::OpInvocation op;
  op.op_type = "Cast";
  op.inputs.push_back(&in);
  op.constant.push_back(false);
  op.attrs.Set("to", Attribute::Int(to));
  return testing::RunOp(op);
}

// To f16: round to nearest even, overflow to infinity, NaN stays NaN,
// subnormal halves kept. (The way back and bf16 are covered through ONNX
// models in tests/graph/onnx.)
TEST(ShapeOpsTest, CastToHalf) {
  const float inf = std::numeric_limits<float>::infinity();
  // 1 + 2^-11 is halfway between halves 1 and 1 + 2^-10: even is 1. 1 + 3 *
  // 2^-11 rounds up to 1 + 2^-9. 65519 rounds to 65504, 65520 to infinity.
  // 2^-24 is the smallest subnormal, 2^-25 a tie that rounds to 0, 3 * 2^-25
  // rounds to 2^-23.
  OwnedTensor f = FromVector<float>({12}, {1.0f, -2.5f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 65519.0f, 65520.0f,
                                           0x1p-24f, 0x1p-25f, 3 * 0x1p-25f, std::nanf(""), -inf, 0x1p-14f});
  auto r = RunCast(f.view, 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()[0].view.dtype, DType::kF16);
  EXPECT_EQ(Values<uint16_t>(r.value()[0].view),
            (std::vector<uint16_t>{0x3C00, 0xC100, 0x3C00, 0x3C02, 0x7BFF, 0x7C00, 0x0001, 0x0000, 0x0002, 0x7E00,
                                   0xFC00, 0x0400}));
}

}  // namespace
}  // namespace tessera
