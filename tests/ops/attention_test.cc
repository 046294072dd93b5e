// Tests of tessera.Attention and tessera.AdditiveAttention through
// testing::RunOp, against the double-precision references in
// tests/reference/attention_reference.h, on every Highway target.
//
// Tolerances come from the references' first-order bounds (units of
// u = 2^-24, see attention_reference.h), times 4 for the 1-2 ulp of
// hwy::Exp/Tanh and the rounding of the online rescaling, plus 1e-30
// absolute for results that are exactly zero in double.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "tests/reference/attention_reference.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

using reference::AttentionRefConfig;
using reference::MaskEntry;
using reference::MaskFn;
using testing::BitwiseEqual;
using testing::ForEachTarget;
using testing::FromVector;
using testing::MakeTensor;
using testing::OpInvocation;
using testing::RandomF32;
using testing::RunOp;
using testing::ToFloatVector;

const double kU = std::ldexp(1.0, -24);

// A mask input and what it means for the reference.
struct MaskCase {
  const Tensor* tensor = nullptr;
  MaskFn fn;
};

StatusOr<std::vector<OwnedTensor>> RunAttention(const AttentionRefConfig& c, const Tensor& q, const Tensor& k,
                                                const Tensor& v, const Tensor* mask, const Tensor* past_k,
                                                const Tensor* past_v, size_t num_outputs, int threads,
                                                bool explicit_scale) {
  OpInvocation inv;
  inv.domain = kTesseraDomain;
  inv.op_type = "Attention";
  inv.version = 1;
  inv.attrs.Set("num_heads", Attribute::Int(c.num_heads));
  if (c.kv_num_heads != c.num_heads) inv.attrs.Set("kv_num_heads", Attribute::Int(c.kv_num_heads));
  if (c.causal) inv.attrs.Set("causal", Attribute::Int(1));
  if (explicit_scale) inv.attrs.Set("scale", Attribute::Float(static_cast<float>(c.scale)));
  inv.inputs = {&q, &k, &v, mask, past_k, past_v};
  inv.num_outputs = num_outputs;
  inv.threads = threads;
  return RunOp(inv);
}

struct AttentionInputs {
  OwnedTensor q, k, v, past_k, past_v;
};

AttentionInputs MakeInputs(const AttentionRefConfig& c, uint32_t seed, float range = 1.0f) {
  AttentionInputs in;
  in.q = RandomF32({c.batch, c.q_len, c.num_heads * c.head_dim}, seed, -range, range);
  in.k = RandomF32({c.batch, c.kv_len, c.kv_num_heads * c.head_dim}, seed + 1, -range, range);
  in.v = RandomF32({c.batch, c.kv_len, c.kv_num_heads * c.head_dim}, seed + 2);
  if (c.past_len > 0) {
    in.past_k = RandomF32({c.batch, c.kv_num_heads, c.past_len, c.head_dim}, seed + 3, -range, range);
    in.past_v = RandomF32({c.batch, c.kv_num_heads, c.past_len, c.head_dim}, seed + 4);
  }
  return in;
}

std::string Describe(const AttentionRefConfig& c, uint32_t seed, const char* target) {
  std::ostringstream s;
  s << "batch " << c.batch << " heads " << c.num_heads << "/" << c.kv_num_heads << " head_dim " << c.head_dim
    << " q_len " << c.q_len << " kv_len " << c.kv_len << " past " << c.past_len << " causal " << c.causal
    << " seed " << seed << " target " << target;
  return s.str();
}

void ExpectNear(const Tensor& got_t, const std::vector<double>& want, const std::vector<double>& bound,
                const std::string& where) {
  ASSERT_EQ(static_cast<size_t>(got_t.NumElements()), want.size()) << where;
  const float* got = got_t.data_as<float>();
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = 4 * kU * bound[i] + 1e-30;
    ASSERT_TRUE(std::isfinite(got[i])) << where << ", index " << i << ": " << got[i];
    ASSERT_NEAR(got[i], want[i], tol) << where << ", index " << i;
  }
}

// Runs Attention (with present outputs when there is a past) and checks Y
// against the reference; returns Y.
OwnedTensor CheckAttention(const AttentionRefConfig& c, uint32_t seed, const char* target,
                           const MaskCase& mask = {}, bool explicit_scale = false) {
  const AttentionInputs in = MakeInputs(c, seed);
  const std::string where = Describe(c, seed, target);
  const bool past = c.past_len > 0;
  auto result = RunAttention(c, in.q.view, in.k.view, in.v.view, mask.tensor, past ? &in.past_k.view : nullptr,
                             past ? &in.past_v.view : nullptr, past ? 3 : 1, 1, explicit_scale);
  EXPECT_TRUE(result.ok()) << where << ": " << result.status().ToString();
  if (!result.ok()) return OwnedTensor{};
  std::vector<double> bound;
  const std::vector<double> want =
      reference::RefAttention(c, ToFloatVector(in.q.view), ToFloatVector(in.k.view), ToFloatVector(in.v.view),
                              past ? ToFloatVector(in.past_k.view) : std::vector<float>{},
                              past ? ToFloatVector(in.past_v.view) : std::vector<float>{}, mask.fn, &bound);
  ExpectNear(result.value()[0].view, want, bound, where);
  if (past) {
    // present = concat(past, new) along the sequence, in head layout.
    const int64_t total = c.past_len + c.kv_len;
    const float* pk = result.value()[1].view.data_as<float>();
    const float* pv = result.value()[2].view.data_as<float>();
    const float* ok = in.past_k.view.data_as<float>();
    const float* nk = in.k.view.data_as<float>();
    const float* nv = in.v.view.data_as<float>();
    const float* ov = in.past_v.view.data_as<float>();
    for (int64_t b = 0; b < c.batch; ++b) {
      for (int64_t g = 0; g < c.kv_num_heads; ++g) {
        for (int64_t j = 0; j < total; ++j) {
          for (int64_t x = 0; x < c.head_dim; ++x) {
            const int64_t at = ((b * c.kv_num_heads + g) * total + j) * c.head_dim + x;
            const bool old = j < c.past_len;
            const int64_t src = old ? ((b * c.kv_num_heads + g) * c.past_len + j) * c.head_dim + x
                                    : (b * c.kv_len + j - c.past_len) * c.kv_num_heads * c.head_dim +
                                          g * c.head_dim + x;
            EXPECT_EQ(pk[at], old ? ok[src] : nk[src]) << where << " present_key " << at;
            EXPECT_EQ(pv[at], old ? ov[src] : nv[src]) << where << " present_value " << at;
          }
        }
      }
    }
  }
  return std::move(result.value()[0]);
}

AttentionRefConfig Config(int64_t batch, int64_t heads, int64_t head_dim, int64_t q_len, int64_t kv_len,
                          bool causal = false, int64_t past = 0) {
  AttentionRefConfig c;
  c.batch = batch;
  c.num_heads = heads;
  c.kv_num_heads = heads;
  c.head_dim = head_dim;
  c.q_len = q_len;
  c.kv_len = kv_len;
  c.past_len = past;
  c.causal = causal;
  c.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  return c;
}

// head_dim across SIMD tails, lengths across query blocks (32) and key
// tiles (64), causal and not.
TEST(AttentionTest, SizesAndTailsEveryTarget) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 10;
    for (int64_t head_dim : {1, 7, 64, 65}) {
      for (auto [q_len, kv_len] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 5}, {33, 70}, {65, 129}}) {
        for (bool causal : {false, true}) {
          CheckAttention(Config(2, 3, head_dim, q_len, kv_len, causal), seed++, target);
        }
      }
    }
    // q_len > kv_len with causal: later queries see every key.
    CheckAttention(Config(1, 2, 16, 40, 9, true), seed++, target);
  });
}

TEST(AttentionTest, ExplicitScaleAndGroupedQueryHeads) {
  ForEachTarget([](const char* target) {
    AttentionRefConfig c = Config(2, 6, 9, 17, 66);
    c.scale = 0.3f;
    CheckAttention(c, 100, target, {}, /*explicit_scale=*/true);
    c = Config(2, 6, 8, 19, 70, true);
    c.kv_num_heads = 2;  // query heads 0-2 read kv head 0, 3-5 kv head 1
    CheckAttention(c, 101, target);
    c.kv_num_heads = 1;
    CheckAttention(c, 102, target);
  });
}

// Each mask dtype and several broadcast shapes, with and without causal.
TEST(AttentionTest, MasksOfEachKindAndShape) {
  ForEachTarget([](const char* target) {
    const int64_t B = 2, H = 3, Q = 13, K = 75;
    uint32_t seed = 200;
    for (bool causal : {false, true}) {
      const AttentionRefConfig c = Config(B, H, 8, Q, K, causal);
      {  // additive f32, full [B, H, Q, K]
        OwnedTensor m = RandomF32({B, H, Q, K}, seed, -3.0f, 3.0f);
        const float* md = m.view.data_as<float>();
        MaskCase mc{&m.view, [=](int64_t b, int64_t h, int64_t i, int64_t j) {
                      return MaskEntry{true, md[((b * H + h) * Q + i) * K + j]};
                    }};
        CheckAttention(c, seed++, target, mc);
      }
      {  // additive f32 [Q, K] with -inf entries (broadcast over batch and heads)
        std::vector<float> mv(static_cast<size_t>(Q * K));
        std::mt19937 rng(seed);
        for (float& x : mv) x = (rng() % 4 == 0) ? -std::numeric_limits<float>::infinity() : (rng() % 100) / 50.0f;
        OwnedTensor m = FromVector<float>({Q, K}, mv);
        MaskCase mc{&m.view, [=](int64_t, int64_t, int64_t i, int64_t j) {
                      return MaskEntry{true, mv[static_cast<size_t>(i * K + j)]};
                    }};
        CheckAttention(c, seed++, target, mc);
      }
      {  // bool padding mask [B, 1, 1, K]: batch 0 sees 50 keys, batch 1 sees 7
        std::vector<uint8_t> mv(static_cast<size_t>(B * K), 0);
        for (int64_t j = 0; j < 50; ++j) mv[static_cast<size_t>(j)] = 1;
        for (int64_t j = 0; j < 7; ++j) mv[static_cast<size_t>(K + j)] = 1;
        OwnedTensor m = testing::MakeTensor(DType::kBool, {B, 1, 1, K});
        std::memcpy(m.view.data, mv.data(), mv.size());
        MaskCase mc{&m.view, [=](int64_t b, int64_t, int64_t, int64_t j) {
                      return MaskEntry{mv[static_cast<size_t>(b * K + j)] != 0, 0.0};
                    }};
        CheckAttention(c, seed++, target, mc);
      }
      {  // i32 [H, 1, K] (per-head key mask)
        std::vector<int32_t> mv(static_cast<size_t>(H * K));
        std::mt19937 rng(seed);
        for (int32_t& x : mv) x = static_cast<int32_t>(rng() % 3);
        OwnedTensor m = FromVector<int32_t>({H, 1, K}, mv);
        MaskCase mc{&m.view, [=](int64_t, int64_t h, int64_t, int64_t j) {
                      return MaskEntry{mv[static_cast<size_t>(h * K + j)] != 0, 0.0};
                    }};
        CheckAttention(c, seed++, target, mc);
      }
      {  // i64 [K] (rank 1)
        std::vector<int64_t> mv(static_cast<size_t>(K));
        for (int64_t j = 0; j < K; ++j) mv[static_cast<size_t>(j)] = (j % 5 != 2) ? 1 : 0;
        OwnedTensor m = FromVector<int64_t>({K}, mv);
        MaskCase mc{&m.view, [=](int64_t, int64_t, int64_t, int64_t j) {
                      return MaskEntry{mv[static_cast<size_t>(j)] != 0, 0.0};
                    }};
        CheckAttention(c, seed++, target, mc);
      }
    }
  });
}

// Rows that see no key give exact zeros, never NaN: a bool mask hiding
// every key of some rows, an additive -inf row, and a padded batch entry.
TEST(AttentionTest, FullyMaskedRowsAreZero) {
  ForEachTarget([](const char* target) {
    const int64_t B = 2, H = 2, Q = 5, K = 70;
    const AttentionRefConfig c = Config(B, H, 7, Q, K);
    std::vector<uint8_t> mv(static_cast<size_t>(B * Q * K), 1);
    for (int64_t j = 0; j < K; ++j) {
      mv[static_cast<size_t>(2 * K + j)] = 0;            // batch 0, query 2
      mv[static_cast<size_t>((Q + 4) * K + j)] = 0;      // batch 1, query 4
    }
    OwnedTensor m = testing::MakeTensor(DType::kBool, {B, 1, Q, K});
    std::memcpy(m.view.data, mv.data(), mv.size());
    MaskCase mc{&m.view, [=](int64_t b, int64_t, int64_t i, int64_t j) {
                  return MaskEntry{mv[static_cast<size_t>((b * Q + i) * K + j)] != 0, 0.0};
                }};
    OwnedTensor y = CheckAttention(c, 300, target, mc);
    const float* yd = y.view.data_as<float>();
    for (int64_t x = 0; x < H * 7; ++x) {
      ASSERT_EQ(yd[2 * H * 7 + x], 0.0f) << target;
      ASSERT_EQ(yd[(Q + 4) * H * 7 + x], 0.0f) << target;
    }
    std::vector<float> add(static_cast<size_t>(Q * K), 0.0f);
    for (int64_t j = 0; j < K; ++j) add[static_cast<size_t>(3 * K + j)] = -std::numeric_limits<float>::infinity();
    OwnedTensor ma = FromVector<float>({1, 1, Q, K}, add);
    MaskCase mca{&ma.view, [=](int64_t, int64_t, int64_t i, int64_t j) {
                   return MaskEntry{true, add[static_cast<size_t>(i * K + j)]};
                 }};
    OwnedTensor y2 = CheckAttention(c, 301, target, mca);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t x = 0; x < H * 7; ++x) ASSERT_EQ(y2.view.data_as<float>()[(b * Q + 3) * H * 7 + x], 0.0f);
    }
  });
}

TEST(AttentionTest, PastCacheAndPresentOutputs) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 400;
    for (bool causal : {false, true}) {
      CheckAttention(Config(2, 3, 16, 5, 5, causal, 37), seed++, target);
      CheckAttention(Config(1, 2, 65, 1, 1, causal, 130), seed++, target);
      AttentionRefConfig c = Config(2, 4, 8, 3, 3, causal, 64);
      c.kv_num_heads = 2;
      CheckAttention(c, seed++, target);
    }
  });
}

// Incremental decoding: feeding tokens one (or a few) at a time with the
// cache gives what one causal pass over the whole sequence gives.
TEST(AttentionTest, TokenByTokenWithCacheEqualsFullCausalPass) {
  ForEachTarget([](const char* target) {
    const int64_t B = 2, H = 2, D = 24, T = 75;
    const AttentionRefConfig full = Config(B, H, D, T, T, true);
    const AttentionInputs in = MakeInputs(full, 500);
    auto whole = RunAttention(full, in.q.view, in.k.view, in.v.view, nullptr, nullptr, nullptr, 1, 1, false);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    std::vector<double> bound;
    const std::vector<double> want = reference::RefAttention(full, ToFloatVector(in.q.view), ToFloatVector(in.k.view),
                                                             ToFloatVector(in.v.view), {}, {}, nullptr, &bound);
    ExpectNear(whole.value()[0].view, want, bound, std::string("full pass ") + target);

    const float* q = in.q.view.data_as<float>();
    const float* k = in.k.view.data_as<float>();
    const float* v = in.v.view.data_as<float>();
    const float* yw = whole.value()[0].view.data_as<float>();
    OwnedTensor past_k, past_v;
    int64_t t0 = 0;
    const int64_t steps[] = {1, 1, 3, 1, 64, 5};  // the rest one token at a time
    size_t step_index = 0;
    while (t0 < T) {
      const int64_t n = std::min<int64_t>(step_index < 6 ? steps[step_index] : 1, T - t0);
      ++step_index;
      auto slice = [&](const float* src) {
        OwnedTensor t = testing::MakeTensor(DType::kF32, {B, n, H * D});
        for (int64_t b = 0; b < B; ++b) {
          std::memcpy(t.view.data_as<float>() + b * n * H * D, src + (b * T + t0) * H * D,
                      static_cast<size_t>(n * H * D) * sizeof(float));
        }
        return t;
      };
      OwnedTensor qs = slice(q), ks = slice(k), vs = slice(v);
      AttentionRefConfig c = Config(B, H, D, n, n, true, t0);
      auto r = RunAttention(c, qs.view, ks.view, vs.view, nullptr, t0 > 0 ? &past_k.view : nullptr,
                            t0 > 0 ? &past_v.view : nullptr, 3, 1, false);
      ASSERT_TRUE(r.ok()) << "step at " << t0 << ": " << r.status().ToString();
      const float* ys = r.value()[0].view.data_as<float>();
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t x = 0; x < H * D; ++x) {
            const size_t at = static_cast<size_t>((b * T + t0 + i) * H * D + x);
            const double tol = 4 * kU * bound[at] + 1e-30;
            ASSERT_NEAR(ys[(b * n + i) * H * D + x], want[at], tol) << target << " token " << t0 + i;
            ASSERT_NEAR(ys[(b * n + i) * H * D + x], yw[at], 2 * tol) << target << " token " << t0 + i;
          }
        }
      }
      past_k = std::move(r.value()[1]);
      past_v = std::move(r.value()[2]);
      t0 += n;
    }
  });
}

// Both paths: packed tiles (q_len 150) and in-place K/V (q_len 2, decoding).
TEST(AttentionTest, OneAndTwoThreadsBitwiseEqual) {
  for (bool causal : {false, true}) {
    for (int64_t q_len : {150, 2}) {
    const AttentionRefConfig c = Config(2, 4, 33, q_len, q_len == 2 ? 2 : 200, causal, q_len == 2 ? 218 : 20);
    const AttentionInputs in = MakeInputs(c, 600);
    OwnedTensor m = RandomF32({2, 1, q_len, 220}, 601, -1.0f, 1.0f);
    auto one = RunAttention(c, in.q.view, in.k.view, in.v.view, &m.view, &in.past_k.view, &in.past_v.view, 3, 1,
                            false);
    auto two = RunAttention(c, in.q.view, in.k.view, in.v.view, &m.view, &in.past_k.view, &in.past_v.view, 3, 2,
                            false);
    ASSERT_TRUE(one.ok() && two.ok());
    for (size_t o = 0; o < 3; ++o) EXPECT_TRUE(BitwiseEqual(one.value()[o].view, two.value()[o].view)) << o;
    }
  }
}

void ExpectAttentionError(const AttentionRefConfig& c, const Shape& q, const Shape& k, const Shape& v,
                          const Shape* mask, const Shape* pk, const Shape* pv, const std::string& needle) {
  OwnedTensor tq = RandomF32(q, 1), tk = RandomF32(k, 2), tv = RandomF32(v, 3);
  OwnedTensor tm = mask ? RandomF32(*mask, 4) : OwnedTensor{};
  OwnedTensor tpk = pk ? RandomF32(*pk, 5) : OwnedTensor{};
  OwnedTensor tpv = pv ? RandomF32(*pv, 6) : OwnedTensor{};
  auto r = RunAttention(c, tq.view, tk.view, tv.view, mask ? &tm.view : nullptr, pk ? &tpk.view : nullptr,
                        pv ? &tpv.view : nullptr, 1, 1, false);
  ASSERT_FALSE(r.ok()) << needle;
  EXPECT_NE(r.status().ToString().find(needle), std::string::npos) << r.status().ToString();
}

TEST(AttentionTest, BadShapesAndAttributesNameTheInput) {
  const AttentionRefConfig c = Config(2, 4, 8, 5, 6);
  ExpectAttentionError(c, {2, 5, 30}, {2, 6, 30}, {2, 6, 30}, nullptr, nullptr, nullptr, "input 'Q'");
  ExpectAttentionError(c, {2, 5, 32}, {3, 6, 32}, {3, 6, 32}, nullptr, nullptr, nullptr, "batch");
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 32}, {2, 7, 32}, nullptr, nullptr, nullptr, "'V'");
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 16}, {2, 6, 16}, nullptr, nullptr, nullptr, "input 'K'");
  const Shape bad_mask = {2, 4, 5, 7};
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 32}, {2, 6, 32}, &bad_mask, nullptr, nullptr, "input 'mask'");
  const Shape bad_mask_rank = {1, 2, 4, 5, 6};
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 32}, {2, 6, 32}, &bad_mask_rank, nullptr, nullptr, "input 'mask'");
  const Shape pk = {2, 4, 9, 8}, pv_bad = {2, 4, 10, 8}, pk_bad_dim = {2, 4, 9, 7};
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 32}, {2, 6, 32}, nullptr, &pk, &pv_bad, "input 'past_value'");
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 32}, {2, 6, 32}, nullptr, &pk_bad_dim, &pk_bad_dim, "input 'past_key'");
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 32}, {2, 6, 32}, nullptr, &pk, nullptr, "past_value");
  // A mask sized for the new keys only, when there is a past of 9.
  const Shape short_mask = {6};
  ExpectAttentionError(c, {2, 5, 32}, {2, 6, 32}, {2, 6, 32}, &short_mask, &pk, &pk, "input 'mask'");
  // Batch 0 lets the lengths be huge (the op called directly, without the
  // loader's element limit); past_len + kv_len must not wrap int64.
  const int64_t huge = int64_t{1} << 62;
  const Shape pk_huge = {0, 4, huge, 8};
  ExpectAttentionError(c, {0, 5, 32}, {0, huge, 32}, {0, huge, 32}, nullptr, &pk_huge, &pk_huge,
                       "past_len 4611686018427387904 plus kv_len 4611686018427387904 (the present length) is more "
                       "than 2^63 - 1");
  AttentionRefConfig gqa = c;
  gqa.kv_num_heads = 3;
  ExpectAttentionError(gqa, {2, 5, 32}, {2, 6, 24}, {2, 6, 24}, nullptr, nullptr, nullptr, "kv_num_heads");
  // Batch 0: a mask with huge dims beside its 0 (called without the
  // loader's element limit) is never read, and its strides (2^40 * 2^40)
  // are not formed.
  {
    const int64_t huge = int64_t{1} << 40;
    OwnedTensor q0 = RandomF32({0, huge, 32}, 1), k0 = RandomF32({0, huge, 32}, 2);
    OwnedTensor m0 = MakeTensor(DType::kBool, {0, 1, huge, huge});
    auto r = RunAttention(c, q0.view, k0.view, k0.view, &m0.view, nullptr, nullptr, 1, 1, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value()[0].view.shape, Shape({0, huge, 32}));
  }
  // Missing num_heads.
  OpInvocation inv;
  inv.domain = kTesseraDomain;
  inv.op_type = "Attention";
  inv.version = 1;
  OwnedTensor t = RandomF32({1, 2, 4}, 1);
  inv.inputs = {&t.view, &t.view, &t.view};
  auto r = RunOp(inv);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("num_heads"), std::string::npos) << r.status().ToString();
}

// Cost() against hand counts: 4 * head_dim + 29 FLOPs per visible (query,
// key) pair; bytes are the inputs read once and the outputs written once.
TEST(AttentionTest, CostCountsVisiblePairsAndBytes) {
  const OpDef* def = BuiltinOpRegistry().Find(kTesseraDomain, "Attention", 1);
  ASSERT_NE(def, nullptr);
  for (bool causal : {false, true}) {
    AttributeMap attrs;
    attrs.Set("num_heads", Attribute::Int(4));
    attrs.Set("causal", Attribute::Int(causal ? 1 : 0));
    ASSERT_TRUE(CheckAndFillAttributes(*def, attrs).ok());
    // batch 2, q_len 3, kv_len 3, past 5, head_dim 8, bool mask [2, 1, 1, 8].
    const TensorInfo q{DType::kF32, {2, 3, 32}, true}, kv{DType::kF32, {2, 3, 32}, true};
    const TensorInfo mask{DType::kBool, {2, 1, 1, 8}, true}, past{DType::kF32, {2, 4, 5, 8}, true};
    OpContext ctx;
    ctx.attrs = &attrs;
    ctx.inputs = {&q, &kv, &kv, &mask, &past, &past};
    ctx.constants.assign(6, nullptr);
    ctx.outputs.resize(3);
    ASSERT_TRUE(def->infer_shapes(ctx).ok());
    EXPECT_EQ(ctx.outputs[1].shape, (Shape{2, 4, 8, 8}));
    const OpCost cost = def->cost(ctx);
    // Visible keys per query: all 8, or 6, 7, 8 (j <= 5 + i) when causal.
    const double pairs = 2 * 4 * (causal ? 6 + 7 + 8 : 3 * 8);
    EXPECT_DOUBLE_EQ(cost.flops, pairs * (4 * 8 + 27));
    const double read = 4.0 * (3 * 2 * 3 * 32 + 2 * 2 * 4 * 5 * 8) + 2 * 8;
    const double written = 4.0 * (2 * 3 * 32 + 2 * 2 * 4 * 8 * 8);
    EXPECT_DOUBLE_EQ(cost.bytes_read, read);
    EXPECT_DOUBLE_EQ(cost.bytes_written, written);
  }
  // Dims bounded by nothing beside a 0 (no loader limit in a direct call): a
  // causal q_len of 2^40 with batch 0 (the pair count is a closed form, not
  // a loop over 2^40 rows), and num_heads 2^40 with q_len 0 (batch *
  // num_heads = 2^70 must not be formed in int64). Both cost 0 FLOPs.
  struct Huge {
    int64_t num_heads;
    Shape q, kv;
  };
  for (const Huge& h : {Huge{4, {0, int64_t{1} << 40, 32}, {0, 6, 32}},
                        Huge{int64_t{1} << 40, {int64_t{1} << 30, 0, int64_t{1} << 40},
                             {int64_t{1} << 30, 0, int64_t{1} << 40}}}) {
    AttributeMap attrs;
    attrs.Set("num_heads", Attribute::Int(h.num_heads));
    attrs.Set("causal", Attribute::Int(1));
    ASSERT_TRUE(CheckAndFillAttributes(*def, attrs).ok());
    const TensorInfo q{DType::kF32, h.q, true}, kv{DType::kF32, h.kv, true};
    OpContext ctx;
    ctx.attrs = &attrs;
    ctx.inputs = {&q, &kv, &kv};
    ctx.constants.assign(3, nullptr);
    ctx.outputs.resize(1);
    ASSERT_TRUE(def->infer_shapes(ctx).ok());
    EXPECT_DOUBLE_EQ(def->cost(ctx).flops, 0.0) << ShapeToString(h.q);
  }
}

// ---------------------------------------------------------------------------
// AdditiveAttention

struct AdditiveCase {
  int64_t B, S, E, Dd, A;
  std::vector<int64_t> lengths;  // empty: no src_lengths input
};

enum class KeysMode { kW1, kConstantW1, kPrecomputed };

StatusOr<std::vector<OwnedTensor>> RunAdditive(const AdditiveCase& c, const Tensor& h, const Tensor& s,
                                               const Tensor& w1, const Tensor& w2, const Tensor& v,
                                               const Tensor* lens, KeysMode mode, int threads) {
  // keys = h W1, computed in double and rounded, for the precomputed mode.
  OwnedTensor keys;
  if (mode == KeysMode::kPrecomputed) {
    std::vector<float> kv(static_cast<size_t>(c.B * c.S * c.A));
    const float* hd = h.data_as<float>();
    const float* wd = w1.data_as<float>();
    for (int64_t r = 0; r < c.B * c.S; ++r) {
      for (int64_t a = 0; a < c.A; ++a) {
        double acc = 0;
        for (int64_t x = 0; x < c.E; ++x) acc += static_cast<double>(hd[r * c.E + x]) * wd[x * c.A + a];
        kv[static_cast<size_t>(r * c.A + a)] = static_cast<float>(acc);
      }
    }
    keys = FromVector<float>({c.B, c.S, c.A}, kv);
  }
  OpInvocation inv;
  inv.domain = kTesseraDomain;
  inv.op_type = "AdditiveAttention";
  inv.version = 1;
  inv.inputs = {&h, &s, mode == KeysMode::kPrecomputed ? nullptr : &w1, &w2, &v, lens,
                mode == KeysMode::kPrecomputed ? &keys.view : nullptr};
  inv.constant = {false, false, mode == KeysMode::kConstantW1, mode == KeysMode::kConstantW1, true, false, false};
  inv.num_outputs = 2;
  inv.threads = threads;
  return RunOp(inv);
}

void CheckAdditive(const AdditiveCase& c, KeysMode mode, uint32_t seed, const char* target) {
  OwnedTensor h = RandomF32({c.B, c.S, c.E}, seed);
  OwnedTensor s = RandomF32({c.B, c.Dd}, seed + 1);
  OwnedTensor w1 = RandomF32({c.E, c.A}, seed + 2, -0.5f, 0.5f);
  OwnedTensor w2 = RandomF32({c.Dd, c.A}, seed + 3, -0.5f, 0.5f);
  OwnedTensor v = RandomF32({c.A}, seed + 4, -2.0f, 2.0f);
  OwnedTensor lens = c.lengths.empty() ? OwnedTensor{} : FromVector<int64_t>({c.B}, c.lengths);
  std::ostringstream where;
  where << "B " << c.B << " S " << c.S << " E " << c.E << " Dd " << c.Dd << " A " << c.A << " lengths "
        << c.lengths.size() << " mode " << static_cast<int>(mode) << " seed " << seed << " target " << target;
  auto r = RunAdditive(c, h.view, s.view, w1.view, w2.view, v.view, c.lengths.empty() ? nullptr : &lens.view, mode, 1);
  ASSERT_TRUE(r.ok()) << where.str() << ": " << r.status().ToString();
  const reference::AdditiveRefResult want = reference::RefAdditiveAttention(
      c.B, c.S, c.E, c.Dd, c.A, ToFloatVector(h.view), ToFloatVector(s.view), ToFloatVector(w1.view),
      ToFloatVector(w2.view), ToFloatVector(v.view), c.lengths);
  ExpectNear(r.value()[0].view, want.context, want.context_bound, where.str() + " context");
  ExpectNear(r.value()[1].view, want.weights, want.weights_bound, where.str() + " weights");
}

TEST(AdditiveAttentionTest, SizesLengthsAndKeyModesEveryTarget) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 700;
    const std::vector<AdditiveCase> cases = {
        {1, 1, 1, 1, 1, {}},          {3, 9, 7, 5, 17, {}},        {3, 9, 7, 5, 17, {9, 0, 4}},
        {2, 40, 33, 16, 64, {1, 40}}, {4, 17, 20, 3, 65, {}},      {2, 5, 64, 64, 8, {5, 2}},
    };
    for (const AdditiveCase& c : cases) {
      for (KeysMode mode : {KeysMode::kW1, KeysMode::kConstantW1, KeysMode::kPrecomputed}) {
        CheckAdditive(c, mode, seed++, target);
      }
    }
  });
}

TEST(AdditiveAttentionTest, ZeroLengthRowIsZeros) {
  const AdditiveCase c{2, 6, 5, 4, 9, {0, 6}};
  OwnedTensor h = RandomF32({2, 6, 5}, 1), s = RandomF32({2, 4}, 2), w1 = RandomF32({5, 9}, 3),
              w2 = RandomF32({4, 9}, 4), v = RandomF32({9}, 5);
  OwnedTensor lens = FromVector<int64_t>({2}, c.lengths);
  auto r = RunAdditive(c, h.view, s.view, w1.view, w2.view, v.view, &lens.view, KeysMode::kW1, 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (int64_t x = 0; x < 5; ++x) EXPECT_EQ(r.value()[0].view.data_as<float>()[x], 0.0f);
  for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(r.value()[1].view.data_as<float>()[j], 0.0f);
}

TEST(AdditiveAttentionTest, OneAndTwoThreadsBitwiseEqual) {
  const AdditiveCase c{48, 50, 40, 32, 64, {}};
  OwnedTensor h = RandomF32({48, 50, 40}, 1), s = RandomF32({48, 32}, 2), w1 = RandomF32({40, 64}, 3),
              w2 = RandomF32({32, 64}, 4), v = RandomF32({64}, 5);
  auto one = RunAdditive(c, h.view, s.view, w1.view, w2.view, v.view, nullptr, KeysMode::kW1, 1);
  auto two = RunAdditive(c, h.view, s.view, w1.view, w2.view, v.view, nullptr, KeysMode::kW1, 2);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_TRUE(BitwiseEqual(one.value()[0].view, two.value()[0].view));
  EXPECT_TRUE(BitwiseEqual(one.value()[1].view, two.value()[1].view));
}

TEST(AdditiveAttentionTest, BadInputsNameTheInput) {
  OwnedTensor h = RandomF32({2, 6, 5}, 1), s = RandomF32({2, 4}, 2), w1 = RandomF32({5, 9}, 3),
              w2 = RandomF32({4, 9}, 4), v = RandomF32({9}, 5), s_bad = RandomF32({3, 4}, 6),
              w2_bad = RandomF32({4, 8}, 7), keys = RandomF32({2, 6, 9}, 8);
  OwnedTensor lens_bad = FromVector<int64_t>({2}, {3, 7});
  auto run = [&](const Tensor* w1p, const Tensor& sp, const Tensor& w2p, const Tensor* lens, const Tensor* k) {
    OpInvocation inv;
    inv.domain = kTesseraDomain;
    inv.op_type = "AdditiveAttention";
    inv.version = 1;
    inv.inputs = {&h.view, &sp, w1p, &w2p, &v.view, lens, k};
    inv.num_outputs = 2;
    return RunOp(inv);
  };
  auto expect = [](const StatusOr<std::vector<OwnedTensor>>& r, const std::string& needle) {
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.status().ToString().find(needle), std::string::npos) << r.status().ToString();
  };
  expect(run(&w1.view, s_bad.view, w2.view, nullptr, nullptr), "input 'query'");
  expect(run(&w1.view, s.view, w2_bad.view, nullptr, nullptr), "input 'W2'");
  expect(run(&w1.view, s.view, w2.view, &lens_bad.view, nullptr), "input 'src_lengths'");
  expect(run(&w1.view, s.view, w2.view, nullptr, &keys.view), "exactly one of inputs 'W1'");
  expect(run(nullptr, s.view, w2.view, nullptr, nullptr), "exactly one of inputs 'W1'");
}

}  // namespace
}  // namespace tessera
