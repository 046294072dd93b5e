// Tests of ONNX MatMul and Gemm through testing::RunOp, and of the GemmF32
// entry point directly, against the double-precision references in
// tests/reference/gemm_reference.h, on every Highway target.
//
// Tolerance: each output is a float dot product of length k accumulated by
// FMAs, then scaled by alpha and combined with beta * C (two roundings), so
// with u = 2^-24 and M the reference magnitude (sum_p |a_p b_p| scaled by
// |alpha|, plus |beta c|):  |y - y_ref| <= (k + 2) u M  (first order).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "ops/gemm/gemm.h"
#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "runtime/threading.h"
#include "tests/reference/gemm_reference.h"
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

void ExpectMatchesReference(const Tensor& y, const reference::RefResult& want, int64_t k, const std::string& where) {
  ASSERT_EQ(y.shape, want.shape) << where;
  const std::vector<float> got = ToFloatVector(y);
  ASSERT_EQ(got.size(), want.values.size()) << where;
  const double u = std::ldexp(1.0, -24);
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = static_cast<double>(k + 2) * u * want.magnitude[i] + 1e-30;
    ASSERT_NEAR(got[i], want.values[i], tol) << where << ", element " << i;
  }
}

// ---------------------------------------------------------------------------
// Gemm.

struct GemmCase {
  int64_t m, k, n;
  bool trans_a, trans_b;
  std::vector<int64_t> c_shape;  // empty vector and has_c false: no C
  bool has_c;
  float alpha, beta;
  bool b_constant;
};

std::string Describe(const GemmCase& c, const char* target, int threads) {
  std::ostringstream s;
  s << "Gemm m=" << c.m << " k=" << c.k << " n=" << c.n << " transA=" << c.trans_a << " transB=" << c.trans_b
    << " C=" << (c.has_c ? ShapeToString(c.c_shape) : std::string("none")) << " alpha=" << c.alpha
    << " beta=" << c.beta << (c.b_constant ? " B constant" : " B runtime") << ", target " << target << ", "
    << threads << " thread(s)";
  return s.str();
}

// Runs the case at 1 and 2 threads, checks the reference and that both
// results are bitwise equal.
void CheckGemm(const GemmCase& c, uint32_t seed, const char* target) {
  const Shape a_shape = c.trans_a ? Shape{c.k, c.m} : Shape{c.m, c.k};
  const Shape b_shape = c.trans_b ? Shape{c.n, c.k} : Shape{c.k, c.n};
  OwnedTensor a = RandomF32(a_shape, seed);
  OwnedTensor b = RandomF32(b_shape, seed + 1);
  OwnedTensor bias = RandomF32(c.c_shape, seed + 2);
  OpInvocation inv;
  inv.op_type = "Gemm";
  inv.inputs = {&a.view, &b.view};
  inv.constant = {false, c.b_constant};
  if (c.has_c) {
    inv.inputs.push_back(&bias.view);
    inv.constant.push_back(false);
  }
  inv.attrs.Set("alpha", Attribute::Float(c.alpha));
  inv.attrs.Set("beta", Attribute::Float(c.beta));
  inv.attrs.Set("transA", Attribute::Int(c.trans_a ? 1 : 0));
  inv.attrs.Set("transB", Attribute::Int(c.trans_b ? 1 : 0));
  const std::vector<float> c_values = ToFloatVector(bias.view);
  const reference::RefResult want =
      reference::RefGemm(ToFloatVector(a.view), a_shape, c.trans_a, ToFloatVector(b.view), b_shape, c.trans_b,
                         c.has_c ? &c_values : nullptr, c.c_shape, c.alpha, c.beta);
  std::vector<OwnedTensor> results;
  for (int threads : {1, 2}) {
    inv.threads = threads;
    auto out = RunOp(inv);
    ASSERT_TRUE(out.ok()) << Describe(c, target, threads) << ": " << out.status().ToString();
    ExpectMatchesReference(out.value()[0].view, want, c.k, Describe(c, target, threads));
    results.push_back(std::move(out.value()[0]));
  }
  EXPECT_TRUE(BitwiseEqual(results[0].view, results[1].view)) << Describe(c, target, 2) << ": differs from 1 thread";
}

TEST(GemmTest, OddSizesTransposesAndBiasShapes) {
  // Sizes around the 6-row tile and the panel widths (8, 16 and 32 floats
  // on the x86 targets), primes, and 1.
  const std::vector<int64_t> sizes = {1, 5, 6, 7, 13, 17, 31, 33, 64, 97};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 1;
    for (int64_t m : sizes) {
      for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{33}, int64_t{64}}) {
        for (int64_t k : {int64_t{1}, int64_t{7}, int64_t{64}}) {
          for (int t = 0; t < 4; ++t) {
            GemmCase c{m, k, n, (t & 1) != 0, (t & 2) != 0, {n}, true, 1.0f, 1.0f, (seed % 2) == 0};
            CheckGemm(c, seed++, target);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  });
}

TEST(GemmTest, AlphaBetaAndEveryBiasBroadcast) {
  const int64_t m = 11, k = 19, n = 37;
  const std::vector<std::vector<int64_t>> c_shapes = {{}, {1}, {n}, {1, n}, {m, 1}, {m, n}, {1, 1}};
  ForEachTarget([&](const char* target) {
    uint32_t seed = 500;
    for (const auto& c_shape : c_shapes) {
      for (float alpha : {1.0f, -0.5f, 2.25f}) {
        for (float beta : {1.0f, 0.0f, -3.0f}) {
          GemmCase c{m, k, n, false, true, c_shape, true, alpha, beta, true};
          CheckGemm(c, seed++, target);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
    GemmCase no_bias{m, k, n, true, false, {}, false, 0.75f, 1.0f, false};
    CheckGemm(no_bias, seed++, target);
  });
}

TEST(GemmTest, LargeProductSpreadsOverThreadsBitwiseEqual) {
  // Enough tiles for many ParallelFor chunks, with tails in every direction.
  ForEachTarget([](const char* target) {
    CheckGemm(GemmCase{203, 301, 157, false, false, {157}, true, 1.0f, 1.0f, true}, 900, target);
    CheckGemm(GemmCase{129, 77, 250, true, true, {129, 1}, true, 0.5f, 2.0f, false}, 901, target);
    // Eight row blocks of 21 or 22 six-row tiles (or 10 or 11 twelve-row
    // ones) and a 1-row last tile, dealt out evenly rather than cut at
    // kGemmMc rows.
    // A read in place and A packed (transposed).
    CheckGemm(GemmCase{1033, 40, 37, false, false, {37}, true, 1.0f, 1.0f, true}, 906, target);
    CheckGemm(GemmCase{1033, 40, 37, true, false, {37}, true, 1.0f, 1.0f, true}, 907, target);
  });
}

// The operands of Y[m, n] = A[m, k] * B: A row-major with row stride lda,
// B packed, Y with row stride ldy; alpha, C and the activation keep their
// defaults.
ops::GemmF32Params ProductParams(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                                 ops::PackedBF32View b, float* y, int64_t ldy) {
  ops::GemmF32Params p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = a;
  p.lda = lda;
  p.b = b;
  p.y = y;
  p.ldy = ldy;
  return p;
}

// The product of the first `m` rows of `a` ([rows, k], row-major) with the
// packed B ([k, n]), on the calling thread.
std::vector<float> LeadingRowsProduct(const OwnedTensor& a, const ops::PackedBF32& packed, int64_t m, int64_t k,
                                      int64_t n) {
  std::vector<float> y(static_cast<size_t>(m * n));
  EXPECT_TRUE(ops::GemmF32(ProductParams(m, n, k, a.view.data_as<float>(), k, packed.view(), y.data(), n), nullptr)
                  .ok());
  return y;
}

// Expects the first rows of the m_all-row product A * B to equal, bit for
// bit, the product of only those rows, for each count in `leading`.
void ExpectLeadingRowsBitwiseEqual(int64_t m_all, int64_t k, int64_t n, std::initializer_list<int64_t> leading,
                                   uint32_t seed, const char* target) {
  const OwnedTensor a = RandomF32({m_all, k}, seed);
  const OwnedTensor b = RandomF32({k, n}, seed + 1);
  auto packed = ops::PackedBF32::Pack(b.view.data_as<float>(), n, false, k, n);
  ASSERT_TRUE(packed.ok());
  const std::vector<float> y_all = LeadingRowsProduct(a, packed.value(), m_all, k, n);
  for (int64_t m : leading) {
    const std::vector<float> y_few = LeadingRowsProduct(a, packed.value(), m, k, n);
    EXPECT_EQ(std::memcmp(y_all.data(), y_few.data(), y_few.size() * sizeof(float)), 0)
        << target << " m=" << m << " of " << m_all << ", k=" << k;
  }
}

// L2 sizes per core: the blocking and the choice to pack A have one rule
// below 1 MiB and one from it.
constexpr int64_t kSmallL2 = 512 * 1024, kLargeL2 = 1024 * 1024;

// GemmF32 plans its products for `l2_bytes` of L2 while this lives, and for
// this host's L2 after, so a test runs the rule it names on any host.
class ScopedGemmL2 {
 public:
  explicit ScopedGemmL2(int64_t l2_bytes) { ops::SetGemmL2BytesForTest(l2_bytes); }
  ~ScopedGemmL2() { ops::SetGemmL2BytesForTest(0); }
  ScopedGemmL2(const ScopedGemmL2&) = delete;
  ScopedGemmL2& operator=(const ScopedGemmL2&) = delete;
};

// Tasks of one product for a panel width and a thread count (512 KiB L2).
int64_t TaskCount(int64_t m, int64_t n, int64_t k, int64_t panel_width, int threads) {
  return ops::GemmTaskGridOf(m, n, k, false, panel_width, threads, kSmallL2, true).count();
}

TEST(GemmTest, TaskGridFollowsTheThreadCount) {
  // A packed product takes the widest tasks whose count is a multiple of
  // the thread count (or at least 8 per thread), in equal panel groups.
  // 2048^3 with 32-float panels: 15 row blocks of 64 panels on one thread;
  // on two, the row blocks round up to 16 (GemmRowBlocksOf) and the tasks
  // stay 64 panels wide.
  EXPECT_EQ(ops::GemmTaskGridOf(2048, 2048, 2048, false, 32, 1, kSmallL2, true).panels_per_task, 64);
  EXPECT_EQ(TaskCount(2048, 2048, 2048, 32, 1), 15);
  EXPECT_EQ(ops::GemmTaskGridOf(2048, 2048, 2048, false, 32, 2, kSmallL2, true).panels_per_task, 64);
  EXPECT_EQ(TaskCount(2048, 2048, 2048, 32, 2), 16);
  // 1024^3 with A transposed (so packed) on a large L2: 11 row blocks of
  // 96 rows on one thread, 12 on two or three (the next multiple of the
  // thread count; each block whole tiles). Not transposed, it reads A in
  // place there, in 8 blocks of 128 rows at any thread count.
  EXPECT_EQ(ops::GemmTaskGridOf(1024, 1024, 1024, true, 32, 1, kLargeL2, true).row_blocks, 11);
  EXPECT_EQ(ops::GemmTaskGridOf(1024, 1024, 1024, true, 32, 2, kLargeL2, true).row_blocks, 12);
  EXPECT_EQ(ops::GemmTaskGridOf(1024, 1024, 1024, true, 32, 3, kLargeL2, true).row_blocks, 12);
  for (int threads : {1, 2, 3}) {
    const ops::GemmTaskGrid in_place = ops::GemmTaskGridOf(1024, 1024, 1024, false, 32, threads, kLargeL2, true);
    EXPECT_FALSE(in_place.pack_a) << threads;
    EXPECT_EQ(in_place.row_blocks, 8) << threads;
  }
  // Never more row blocks than 12-row tiles: 12 rows stay one block.
  EXPECT_EQ(ops::GemmTaskGridOf(12, 768, 16384, false, 32, 2, kSmallL2, true).row_blocks, 1);
  // A read in place keeps its blocks: 128 x 768 (in place) is one block.
  EXPECT_EQ(ops::GemmTaskGridOf(128, 3072, 768, false, 32, 2, kSmallL2, true).row_blocks, 1);
  // 512^3: 6 row blocks of 96 rows by 16 panels; one task per row block for
  // 1, 2 or 3 threads; for 16, 16 row blocks (2-3 tiles each) of one task.
  EXPECT_EQ(ops::GemmBlockingOf(512, 512, false, kSmallL2).mc, 96);
  for (int threads : {1, 2, 3}) EXPECT_EQ(TaskCount(512, 512, 512, 32, threads), 6) << threads;
  EXPECT_EQ(TaskCount(512, 512, 512, 32, 16), 16);
  EXPECT_EQ(ops::GemmTaskGridOf(512, 512, 512, false, 32, 16, kSmallL2, true).panels_per_task, 16);
  // 64 x 4096 x 4096 packs A but has 6 tiles, too few to round up to 16
  // blocks: its one row block's 128 panels go in 16 groups of 8.
  EXPECT_EQ(ops::GemmTaskGridOf(64, 4096, 4096, false, 32, 16, kSmallL2, true).row_blocks, 1);
  EXPECT_EQ(ops::GemmTaskGridOf(64, 4096, 4096, false, 32, 16, kSmallL2, true).panels_per_task, 8);
  // 24 panels on 2 threads with one row block: two groups of 12, not 16 + 8.
  EXPECT_EQ(ops::GemmTaskGridOf(12, 768, 16384, false, 32, 2, kSmallL2, true).panels_per_task, 12);
  // A read in place keeps 8 tasks per thread: 8 x 1024 x 1024 (32 panels)
  // as 16 two-panel tasks on 2 threads, 8 four-panel ones on 1.
  EXPECT_EQ(TaskCount(8, 1024, 1024, 32, 2), 16);
  EXPECT_EQ(TaskCount(8, 1024, 1024, 32, 1), 8);
  // Every split respects the narrowest task and covers every panel, with
  // Y's lines aligned or not; where rows are split among the threads, each
  // gets as many row blocks.
  for (bool aligned : {true, false}) {
    for (int threads : {1, 2, 3, 4, 7, 16}) {
      for (int64_t m : {1, 8, 64, 301, 1000, 4096}) {
        for (int64_t n : {1, 33, 250, 1000, 5000}) {
          for (int64_t k : {32, 700}) {
            const ops::GemmTaskGrid g = ops::GemmTaskGridOf(m, n, k, false, 16, threads, kSmallL2, aligned);
            const std::string where = std::to_string(m) + " x " + std::to_string(k) + " x " + std::to_string(n) +
                                      ", " + std::to_string(threads) + " threads, aligned " + std::to_string(aligned);
            EXPECT_GE(g.panels_per_task, m == 1 ? 1 : g.pack_a ? 4 : 2) << where;
            EXPECT_LE(g.panels_per_task, ops::kGemmMaxPanelsPerTask) << where;
            EXPECT_GE(g.panel_groups * g.panels_per_task, g.panels) << where;
            EXPECT_LT((g.panel_groups - 1) * g.panels_per_task, g.panels) << where;
            if (ops::GemmTaskGridOf(m, n, k, false, 16, threads, kSmallL2, true).row_blocks != g.row_blocks) {
              EXPECT_EQ(g.row_blocks % threads, 0) << where;
            }
          }
        }
      }
    }
  }
}

TEST(GemmTest, InPlaceProductsSplitRowsAmongThreadsWhereSplitPanelsWouldNot) {
  // (m, n, k) with 16-float panels, on a 512 KiB L2.
  const auto grid = [](int64_t m, int64_t n, int64_t k, int threads, bool y_lines_aligned) {
    return ops::GemmTaskGridOf(m, n, k, false, 16, threads, kSmallL2, y_lines_aligned);
  };
  // 128^3 reads A in place as one row block of 8 panels, four 2-panel
  // tasks. With Y's rows on cache lines, two threads take two tasks each.
  EXPECT_EQ(grid(128, 128, 128, 2, true).row_blocks, 1);
  EXPECT_EQ(grid(128, 128, 128, 2, true).panel_groups, 4);
  // Off a line, both threads would write the line at their panel boundary
  // in every row: they take 64 rows each instead, all 8 panels wide.
  EXPECT_EQ(grid(128, 128, 128, 2, false).row_blocks, 2);
  EXPECT_EQ(grid(128, 128, 128, 2, false).panel_groups, 1);
  EXPECT_EQ(grid(128, 128, 128, 2, false).panels_per_task, 8);
  // 96^3: three 2-panel tasks would give one thread two, so the rows are
  // split whatever the alignment.
  EXPECT_EQ(grid(96, 96, 96, 2, true).row_blocks, 2);
  EXPECT_EQ(grid(96, 96, 96, 2, true).panel_groups, 1);
  // 300^3: three row blocks (144 rows at most) round up to four on two
  // threads; three threads already have one each.
  EXPECT_EQ(grid(300, 300, 300, 2, false).row_blocks, 4);
  EXPECT_EQ(grid(300, 300, 300, 3, false).row_blocks, 3);
  // Never split: on one thread; with B larger than A (32 x 1024 x 1024,
  // the 128 x 768 x 3072 projection), where each thread would read all of
  // B; with fewer than 24 rows a thread (40 rows on two); with an odd M;
  // packed A.
  EXPECT_EQ(grid(128, 128, 128, 1, false).row_blocks, 1);
  EXPECT_EQ(grid(32, 1024, 1024, 2, false).row_blocks, 1);
  EXPECT_EQ(grid(128, 3072, 768, 2, false).row_blocks, 1);
  EXPECT_EQ(grid(40, 40, 40, 2, false).row_blocks, 1);
  EXPECT_EQ(grid(127, 127, 127, 2, false).row_blocks, 1);  // odd M (InPlaceRowSplitsGiveTheSameBits)
  EXPECT_EQ(grid(1000, 1000, 1000, 3, false).row_blocks, grid(1000, 1000, 1000, 3, true).row_blocks);
  // Where the lines lie.
  alignas(64) float y[64] = {};
  EXPECT_TRUE(ops::GemmYLinesAligned(y, 32, 16));
  EXPECT_FALSE(ops::GemmYLinesAligned(y + 4, 32, 16));  // the row starts 16 bytes into a line
  EXPECT_FALSE(ops::GemmYLinesAligned(y, 40, 16));      // row 1 starts mid-line
  EXPECT_FALSE(ops::GemmYLinesAligned(y, 32, 8));       // SSE4's 32-byte panels share lines
}

TEST(GemmTest, InPlaceRowSplitsGiveTheSameBits) {
  // 122 x 64 x 100 read in place, Y off a line (one float in, ldy 103): one
  // row block on one thread, split into 2 or 3 row blocks of 60-62 or 40-42
  // rows on 2 or 3 threads (GemmSplitsRowsAmongThreads), so rows fall in
  // other tiles (rows 120-121 end the 1-thread block in a 2-row tile and
  // the last 3-thread block in a 6-row one). Each output is the same chain
  // in any of them, so the bits agree. With an odd M (121) the rows are not
  // split, since the last row's 1-row tile would move.
  constexpr int64_t kK = 64, kN = 100, kLdy = 103;
  ForEachTarget([&](const char* target) {
    const int64_t width = ops::GemmF32PanelWidth();
    for (const int64_t m : {int64_t{122}, int64_t{121}}) {
      const std::string where = std::string(target) + " M=" + std::to_string(m);
      const OwnedTensor a = RandomF32({m, kK}, 960);
      const OwnedTensor b = RandomF32({kK, kN}, 961);
      auto packed = ops::PackedBF32::Pack(b.view.data_as<float>(), kN, false, kK, kN);
      ASSERT_TRUE(packed.ok());
      std::vector<std::vector<float>> results;
      for (int threads : {1, 2, 3}) {
        EXPECT_EQ(ops::GemmTaskGridOf(m, kN, kK, false, width, threads, kSmallL2, false).row_blocks,
                  m % 2 == 0 ? threads : 1)
            << where;
        std::vector<float> y(static_cast<size_t>(m * kLdy + 1), -1.0f);
        ThreadArena arena(threads);
        TbbRunner runner;
        Status status;
        arena.Execute([&] {
          status = ops::GemmF32(
              ProductParams(m, kN, kK, a.view.data_as<float>(), kK, packed.value().view(), y.data() + 1, kLdy),
              &runner);
        });
        ASSERT_TRUE(status.ok()) << status.ToString();
        results.push_back(std::move(y));
      }
      const float* av = a.view.data_as<float>();
      const float* bv = b.view.data_as<float>();
      for (int64_t i : {int64_t{0}, int64_t{79}, int64_t{80}, m - 1}) {
        for (int64_t j : {int64_t{0}, int64_t{50}, kN - 1}) {
          double want = 0, magnitude = 0;
          for (int64_t q = 0; q < kK; ++q) {
            want += static_cast<double>(av[i * kK + q]) * bv[q * kN + j];
            magnitude += std::fabs(static_cast<double>(av[i * kK + q]) * bv[q * kN + j]);
          }
          EXPECT_NEAR(results[0][static_cast<size_t>(1 + i * kLdy + j)], want, (kK + 2) * 0x1p-24 * magnitude)
              << where << " (" << i << ", " << j << ")";
        }
      }
      EXPECT_EQ(results[0], results[1]) << where << ": 2 threads differ from 1";
      EXPECT_EQ(results[0], results[2]) << where << ": 3 threads differ from 1";
    }
  });
}

TEST(GemmTest, RowsAreDealtEvenlyToEveryRunOfBlocks) {
  // In units of one row: every block holds floor or ceil of units / blocks
  // units, the blocks cover the product in order, and every run of
  // consecutive blocks (what the runner gives one thread) holds its share
  // to within one unit. With the longer blocks first, 86 units in 10
  // blocks gave the first five 45.
  for (int64_t units : {1, 2, 7, 43, 86, 171, 342, 1000}) {
    for (int64_t row_blocks = 1; row_blocks <= std::min<int64_t>(units, 24); ++row_blocks) {
      const std::string where = std::to_string(units) + " units in " + std::to_string(row_blocks) + " blocks";
      std::vector<int64_t> starts(static_cast<size_t>(row_blocks) + 1);
      for (int64_t rb = 0; rb < row_blocks; ++rb) {
        int64_t row0 = 0, rows = 0;
        ops::GemmRowBlockRows(units, 1, row_blocks, rb, &row0, &rows);
        EXPECT_EQ(row0, starts[static_cast<size_t>(rb)]) << where << ", block " << rb;
        EXPECT_GE(rows, units / row_blocks) << where << ", block " << rb;
        EXPECT_LE(rows, (units + row_blocks - 1) / row_blocks) << where << ", block " << rb;
        starts[static_cast<size_t>(rb) + 1] = row0 + rows;
      }
      EXPECT_EQ(starts.back(), units) << where;
      for (int64_t b0 = 0; b0 < row_blocks; ++b0) {
        for (int64_t b1 = b0 + 1; b1 <= row_blocks; ++b1) {
          const double share = static_cast<double>(units) * static_cast<double>(b1 - b0) / row_blocks;
          const double held = static_cast<double>(starts[static_cast<size_t>(b1)] - starts[static_cast<size_t>(b0)]);
          EXPECT_LT(std::abs(held - share), 1.0) << where << ", blocks [" << b0 << ", " << b1 << ")";
        }
      }
    }
  }
  // In units of a tile (A packed) or a row pair (A read in place): blocks
  // start at multiples of the unit and the last one ends at row m, however
  // many rows its last unit lacks. 256 rows in two blocks are 126 and 130
  // in 6-row tiles, 128 and 128 in pairs.
  for (int64_t unit_rows : {2, 6, 12}) {
    for (int64_t m : {1, 2, 13, 128, 255, 256, 1000}) {
      for (int64_t row_blocks = 1; row_blocks <= std::min<int64_t>((m + unit_rows - 1) / unit_rows, 9);
           ++row_blocks) {
        int64_t end = 0;
        for (int64_t rb = 0; rb < row_blocks; ++rb) {
          int64_t row0 = 0, rows = 0;
          ops::GemmRowBlockRows(m, unit_rows, row_blocks, rb, &row0, &rows);
          EXPECT_EQ(row0, end) << m << " rows, unit " << unit_rows << ", block " << rb << " of " << row_blocks;
          EXPECT_EQ(row0 % unit_rows, 0) << m << " rows, unit " << unit_rows << ", block " << rb;
          EXPECT_GT(rows, 0) << m << " rows, unit " << unit_rows << ", block " << rb << " of " << row_blocks;
          end = row0 + rows;
        }
        EXPECT_EQ(end, m) << m << " rows, unit " << unit_rows << ", " << row_blocks << " blocks";
      }
    }
  }
  int64_t row0 = 0, rows = 0;
  ops::GemmRowBlockRows(256, 6, 2, 0, &row0, &rows);
  EXPECT_EQ(rows, 126);
  ops::GemmRowBlockRows(256, 2, 2, 1, &row0, &rows);
  EXPECT_EQ(row0, 128);
  EXPECT_EQ(rows, 128);
}

TEST(GemmTest, SplitsForDifferentThreadCountsGiveTheSameBits) {
  // 301 x 517 x 1000 packs A on a 512 KiB L2: with AVX2's or AVX-512's
  // panels one or two threads take one task per row block (4 blocks) and
  // three take 6 row blocks (GemmRowBlocksOf), their tiles dealt out
  // differently. Every task computes its outputs whole, so the bits do not
  // change.
  constexpr int64_t kM = 301, kK = 517, kN = 1000;
  ASSERT_TRUE(ops::GemmPacksA(kM, kK, false, kSmallL2));
  const ScopedGemmL2 small_l2(kSmallL2);
  ForEachTarget([&](const char* target) {
    const int64_t width = ops::GemmF32PanelWidth();
    // (SCALAR's 2-float panels give 32 tasks at any of these counts.)
    if (width >= 8) {
      ASSERT_NE(TaskCount(kM, kN, kK, width, 1), TaskCount(kM, kN, kK, width, 3)) << target;
    }
    const OwnedTensor a = RandomF32({kM, kK}, 950);
    const OwnedTensor b = RandomF32({kK, kN}, 951);
    auto packed = ops::PackedBF32::Pack(b.view.data_as<float>(), kN, false, kK, kN);
    ASSERT_TRUE(packed.ok());
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      std::vector<float> y(static_cast<size_t>(kM * kN), -1.0f);
      ThreadArena arena(threads);
      TbbRunner runner;
      Status status;
      arena.Execute([&] {
        status = ops::GemmF32(ProductParams(kM, kN, kK, a.view.data_as<float>(), kK, packed.value().view(), y.data(), kN),
                              &runner);
      });
      ASSERT_TRUE(status.ok()) << status.ToString();
      results.push_back(std::move(y));
    }
    // Spot-check values against a double-precision dot product.
    const float* av = a.view.data_as<float>();
    const float* bv = b.view.data_as<float>();
    for (int64_t i : {int64_t{0}, int64_t{150}, kM - 1}) {
      for (int64_t j : {int64_t{0}, int64_t{517}, kN - 1}) {
        double want = 0, magnitude = 0;
        for (int64_t q = 0; q < kK; ++q) {
          want += static_cast<double>(av[i * kK + q]) * bv[q * kN + j];
          magnitude += std::fabs(static_cast<double>(av[i * kK + q]) * bv[q * kN + j]);
        }
        EXPECT_NEAR(results[0][static_cast<size_t>(i * kN + j)], want, (kK + 2) * 0x1p-24 * magnitude)
            << target << " (" << i << ", " << j << ")";
      }
    }
    EXPECT_EQ(results[0], results[1]) << target << ": 2 threads differ from 1";
    EXPECT_EQ(results[0], results[2]) << target << ": 3 threads differ from 1";
  });
}

TEST(GemmTest, PackedAndInPlaceAGiveTheSameBits) {
  // On a 512 KiB L2, a row-major A above kGemmInPlaceAFloats is packed and
  // one below it is read in place (on a larger L2 both are read in place,
  // up to k = kGemmSinglePassMaxK; OneInnerBlockAndKcBlocksGiveTheSameBits
  // packs past it). Both paths, with row tails past whole 6-row tiles and row
  // blocks, several k blocks and a column tail, match the reference, and
  // the first 11 or 32 rows of the packed product equal the in-place
  // product of those rows alone bit for bit: each output is the same FMA
  // chain (11 rows are a 6-row tile and a 5-row one whose sixth row is a
  // stand-in; 32 rows end in two 4-row tiles; only a 1-row tile, which
  // splits its chain, would differ). So the whole-tile kernel (RunTile),
  // which runs the full-panel tiles of the packed product, meets the
  // general one, which runs the 11-row product's 5-row tile, and on a
  // 6-row target the 32-row product's two 4-row tiles run whole against
  // the packed product's 6-row tiles. With N = 77 (two full panels and a
  // partial one) the full 12-row tiles of both run GemmTwoPanelKernel on
  // AVX-512, packed and in place.
  constexpr int64_t kM = 301, kK = 2 * ops::kGemmKc + 5, kN = 45;
  static_assert(kM * kK > ops::kGemmInPlaceAFloats, "the large case must pack A");
  constexpr int64_t kFew = 32;
  static_assert(kFew * kK <= ops::kGemmInPlaceAFloats, "the small cases must read A in place");
  ASSERT_TRUE(ops::GemmPacksA(kM, kK, false, kSmallL2));
  ASSERT_FALSE(ops::GemmPacksA(kFew, kK, false, kSmallL2));
  EXPECT_FALSE(ops::GemmPacksA(kM, kK, false, kLargeL2));
  EXPECT_FALSE(ops::GemmPacksA(4096, ops::kGemmSinglePassMaxK, false, kLargeL2));
  EXPECT_TRUE(ops::GemmPacksA(kM, ops::kGemmSinglePassMaxK + 1, false, kLargeL2));
  EXPECT_FALSE(ops::GemmPacksA(kFew, ops::kGemmSinglePassMaxK + 1, false, kLargeL2));
  EXPECT_TRUE(ops::GemmPacksA(4, 4, true, kLargeL2));
  const ScopedGemmL2 small_l2(kSmallL2);
  ForEachTarget([&](const char* target) {
    CheckGemm(GemmCase{kM, kK, kN, false, false, {kN}, true, 1.0f, 1.0f, true}, 902, target);
    CheckGemm(GemmCase{7, kK, kN, false, true, {kN}, true, 1.0f, 1.0f, true}, 903, target);
    CheckGemm(GemmCase{8, kK, kN, false, false, {kN}, true, 1.0f, 1.0f, true}, 904, target);
    CheckGemm(GemmCase{kFew, kK, kN, false, true, {kN}, true, 1.0f, 1.0f, true}, 905, target);
    // Read in place in two row blocks dealt as row pairs (RowBlockOf):
    // rows 0-127 and 128-254, which ends in a 1-row tile on a 6-row target.
    static_assert(255 * ops::kGemmKc <= ops::kGemmInPlaceAFloats && 255 > ops::kGemmMc, "in place, two blocks");
    CheckGemm(GemmCase{255, ops::kGemmKc, kN, false, false, {kN}, true, 1.0f, 1.0f, true}, 907, target);
    ExpectLeadingRowsBitwiseEqual(kM, kK, kN, {11, kFew}, 904, target);
    ExpectLeadingRowsBitwiseEqual(kM, kK, 77, {11, kFew}, 906, target);
  });
}

TEST(GemmTest, OneInnerBlockAndKcBlocksGiveTheSameBits) {
  // A packed product with k <= GemmSinglePassMaxK (1024 with a 512 KiB L2,
  // 2048 with 1 MiB) runs in one k block of fewer rows, and above it in
  // kGemmLongKc blocks; A read in place (a few rows, or on a large L2 any
  // number up to k = kGemmSinglePassMaxK) takes one block up to
  // kGemmSinglePassMaxK on any L2 and walks a larger k in kGemmKc blocks.
  // Every output is the same FMA chain either way, so the first rows of the
  // product equal the in-place product of those rows alone, bit for bit (n
  // = 45 ends in a partial panel, whose running sum goes through a stack
  // row between blocks). The products run as on either L2; the cases cover
  // one block and several on either rule.
  struct Blocked {
    int64_t m, k;
    ops::GemmBlocking small_l2, large_l2;
  };
  constexpr int64_t kMax = ops::kGemmSinglePassMaxK, kLong = ops::kGemmLongKc, kMc = ops::kGemmMc;
  const Blocked cases[] = {
      {450, 300, {144, 300}, {kMc, 300}},                    // one block, mc capped (in place)
      {200, 700, {60, 700}, {kMc, 700}},                     // one block, 60 rows (in place)
      {130, kMax, {48, kMax}, {kMc, kMax}},                  // the largest one block on a small L2
      {130, kMax + 1, {kMc, kLong}, {84, kMax + 1}},         // kGemmLongKc blocks on a small L2
      {150, 3 * kLong + 7, {kMc, kLong}, {60, 3 * kLong + 7}},  // 2 row blocks, short last k block
      {70, 2 * kMax, {kMc, kLong}, {48, 2 * kMax}},          // the largest one block on a large L2
      {70, 2 * kMax + 7, {kMc, kLong}, {kMc, kLong}},        // kGemmLongKc blocks, short last
  };
  constexpr int64_t kN = 45, kFew = 32;
  EXPECT_EQ(ops::GemmSinglePassMaxK(kSmallL2), kMax);
  EXPECT_EQ(ops::GemmSinglePassMaxK(kLargeL2), 2 * kMax);
  for (const Blocked& c : cases) {
    for (const auto& [l2, want] : {std::pair{kSmallL2, c.small_l2}, std::pair{kLargeL2, c.large_l2}}) {
      // A large L2 reads any A in place up to kGemmSinglePassMaxK, a small
      // one only up to kGemmInPlaceAFloats.
      ASSERT_EQ(ops::GemmPacksA(c.m, c.k, false, l2), l2 == kSmallL2 || c.k > kMax) << c.k << " " << l2;
      ASSERT_FALSE(ops::GemmPacksA(kFew, c.k, false, l2)) << c.k << " " << l2;
      const ops::GemmBlocking blocking = ops::GemmBlockingOf(c.m, c.k, false, l2);
      EXPECT_EQ(blocking.mc, want.mc) << c.k << " " << l2;
      EXPECT_EQ(blocking.kc, want.kc) << c.k << " " << l2;
      // A read in place takes all of k up to kGemmSinglePassMaxK.
      EXPECT_EQ(ops::GemmBlockingOf(kFew, c.k, false, l2).kc, c.k <= kMax ? c.k : ops::kGemmKc) << c.k;
    }
  }
  for (const int64_t l2 : {kSmallL2, kLargeL2}) {
    const ScopedGemmL2 scoped(l2);
    ForEachTarget([&](const char* target) {
      for (const Blocked& c : cases) {
        CheckGemm(GemmCase{c.m, c.k, kN, false, false, {kN}, true, 1.0f, 1.0f, true}, 910 + c.k, target);
        CheckGemm(GemmCase{c.m, c.k, kN, true, false, {}, false, 0.5f, 0.0f, true}, 911 + c.k, target);
        ExpectLeadingRowsBitwiseEqual(c.m, c.k, kN, {kFew}, static_cast<uint32_t>(912 + c.k), target);
      }
    });
  }
}

TEST(GemmTest, EmptyInnerDimensionGivesBetaTimesC) {
  OwnedTensor a = testing::MakeTensor(DType::kF32, {3, 0});
  OwnedTensor b = testing::MakeTensor(DType::kF32, {0, 4});
  OwnedTensor c = FromVector<float>({4}, {1, 2, 3, 4});
  OpInvocation inv;
  inv.op_type = "Gemm";
  inv.inputs = {&a.view, &b.view, &c.view};
  inv.attrs.Set("beta", Attribute::Float(2.0f));
  auto out = RunOp(inv);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(ToFloatVector(out.value()[0].view),
            (std::vector<float>{2, 4, 6, 8, 2, 4, 6, 8, 2, 4, 6, 8}));
  // The same with B constant: packed at run time like a non-constant one.
  inv.constant = {false, true, false};
  out = RunOp(inv);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(ToFloatVector(out.value()[0].view),
            (std::vector<float>{2, 4, 6, 8, 2, 4, 6, 8, 2, 4, 6, 8}));
  // A constant empty B [0, INT64_MAX] (valid beside its 0): not prepacked,
  // so n + panel_width - 1 is never formed; the output is empty.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  OwnedTensor a0 = testing::MakeTensor(DType::kF32, {0, 0});
  OwnedTensor b0 = testing::MakeTensor(DType::kF32, {0, kMax});
  OpInvocation empty;
  empty.op_type = "Gemm";
  empty.inputs = {&a0.view, &b0.view};
  empty.constant = {false, true};
  out = RunOp(empty);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value()[0].view.shape, Shape({0, kMax}));
}

TEST(GemmTest, ZeroBetaIgnoresC) {
  // As in BLAS, C is not read when beta is 0, so a NaN there stays out.
  OwnedTensor a = FromVector<float>({1, 2}, {1, 2});
  OwnedTensor b = FromVector<float>({2, 1}, {3, 4});
  OwnedTensor c = FromVector<float>({1}, {std::numeric_limits<float>::quiet_NaN()});
  OpInvocation inv;
  inv.op_type = "Gemm";
  inv.inputs = {&a.view, &b.view, &c.view};
  inv.attrs.Set("beta", Attribute::Float(0.0f));
  auto out = RunOp(inv);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(ToFloatVector(out.value()[0].view), std::vector<float>{11});
}

TEST(GemmTest, BadShapesAreNamed) {
  OwnedTensor a = RandomF32({2, 3}, 1);
  OwnedTensor b = RandomF32({4, 5}, 2);
  OwnedTensor a3 = RandomF32({2, 3, 4}, 3);
  OwnedTensor b_ok = RandomF32({3, 5}, 4);
  OwnedTensor c_bad = RandomF32({3}, 5);
  struct Bad {
    std::vector<const Tensor*> inputs;
    std::string fragment;
  };
  const std::vector<Bad> cases = {
      {{&a.view, &b.view}, "input 'A' [2, 3] and input 'B' [4, 5] do not multiply"},
      {{&a3.view, &b_ok.view}, "input 'A' [2, 3, 4] has rank 3"},
      {{&a.view, &b_ok.view, &c_bad.view}, "input 'C' [3] does not broadcast to the output [2, 5]"},
  };
  for (const Bad& bad : cases) {
    OpInvocation inv;
    inv.op_type = "Gemm";
    inv.inputs = bad.inputs;
    auto out = RunOp(inv);
    ASSERT_FALSE(out.ok()) << bad.fragment;
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find(bad.fragment), std::string::npos) << out.status().message();
  }
}

TEST(GemmTest, BiasIsRequiredBeforeVersion11) {
  OwnedTensor a = RandomF32({2, 3}, 1);
  OwnedTensor b = RandomF32({3, 4}, 2);
  OpInvocation inv;
  inv.op_type = "Gemm";
  inv.version = 9;
  inv.inputs = {&a.view, &b.view};
  auto out = RunOp(inv);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("'C'"), std::string::npos) << out.status().message();
}

// ---------------------------------------------------------------------------
// MatMul.

void CheckMatMul(const Shape& a_shape, const Shape& b_shape, bool b_constant, uint32_t seed, const char* target) {
  OwnedTensor a = RandomF32(a_shape, seed);
  OwnedTensor b = RandomF32(b_shape, seed + 1);
  std::ostringstream where;
  where << "MatMul " << ShapeToString(a_shape) << " x " << ShapeToString(b_shape)
        << (b_constant ? " (B constant)" : "") << ", target " << target;
  const reference::RefResult want =
      reference::RefMatMul(ToFloatVector(a.view), a_shape, ToFloatVector(b.view), b_shape);
  const int64_t k = a_shape.back();
  OpInvocation inv;
  inv.op_type = "MatMul";
  inv.inputs = {&a.view, &b.view};
  inv.constant = {false, b_constant};
  std::vector<OwnedTensor> results;
  for (int threads : {1, 2}) {
    inv.threads = threads;
    auto out = RunOp(inv);
    ASSERT_TRUE(out.ok()) << where.str() << ": " << out.status().ToString();
    ExpectMatchesReference(out.value()[0].view, want, k, where.str() + ", threads " + std::to_string(threads));
    results.push_back(std::move(out.value()[0]));
  }
  EXPECT_TRUE(BitwiseEqual(results[0].view, results[1].view)) << where.str() << ": 2 threads differ from 1";
}

TEST(MatMulTest, VectorPromotion) {
  ForEachTarget([](const char* target) {
    CheckMatMul({7}, {7}, false, 1, target);      // -> scalar []
    CheckMatMul({7}, {7, 5}, true, 2, target);    // -> [5]
    CheckMatMul({3, 7}, {7}, false, 3, target);   // -> [3]
    CheckMatMul({2, 4, 33}, {33}, true, 4, target);  // -> [2, 4]
    CheckMatMul({33}, {3, 33, 19}, false, 5, target);  // -> [3, 19]
  });
}

TEST(MatMulTest, BatchedWithBroadcasting) {
  ForEachTarget([](const char* target) {
    uint32_t seed = 10;
    for (bool constant : {false, true}) {
      CheckMatMul({2, 3, 5, 7}, {2, 3, 7, 9}, constant, seed++, target);
      CheckMatMul({2, 1, 13, 17}, {3, 17, 31}, constant, seed++, target);
      CheckMatMul({13, 17}, {4, 17, 31}, constant, seed++, target);
      CheckMatMul({4, 13, 17}, {17, 31}, constant, seed++, target);
      CheckMatMul({1, 6, 1}, {5, 1, 1, 65}, constant, seed++, target);
    }
  });
}

TEST(MatMulTest, LargeAndTailsBitwiseThreadInvariant) {
  ForEachTarget([](const char* target) {
    CheckMatMul({131, 257}, {257, 129}, true, 40, target);
    CheckMatMul({3, 47, 100}, {3, 100, 71}, false, 41, target);
  });
}

TEST(MatMulTest, EmptyDims) {
  for (const auto& shapes : std::vector<std::pair<Shape, Shape>>{
           {{0, 5}, {5, 3}}, {{4, 0}, {0, 3}}, {{2, 0, 5}, {5, 3}}, {{4, 5}, {5, 0}}}) {
    CheckMatMul(shapes.first, shapes.second, false, 50, "default");
  }
  // A constant empty B with huge dims beside its 0: nothing to prepack, and
  // its k * n (2^62 * 4) must not be formed.
  OwnedTensor a = RandomF32({0, 3, int64_t{1} << 62}, 51);
  OwnedTensor b = RandomF32({0, int64_t{1} << 62, 4}, 52);
  OpInvocation inv;
  inv.op_type = "MatMul";
  inv.inputs = {&a.view, &b.view};
  inv.constant = {false, true};
  auto out = RunOp(inv);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out.value()[0].view.shape, Shape({0, 3, 4}));
}

TEST(MatMulTest, BadShapesAreNamed) {
  OwnedTensor a = RandomF32({2, 3}, 1);
  OwnedTensor b = RandomF32({4, 5}, 2);
  OwnedTensor scalar = RandomF32({}, 3);
  OwnedTensor a_batch = RandomF32({2, 2, 3}, 4);
  OwnedTensor b_batch = RandomF32({3, 3, 5}, 5);
  struct Bad {
    const Tensor* a;
    const Tensor* b;
    std::string fragment;
  };
  const std::vector<Bad> cases = {
      {&a.view, &b.view, "A has 3 columns but B has 4 rows"},
      {&scalar.view, &b.view, "input 'A' is a scalar"},
      {&a_batch.view, &b_batch.view, "not broadcastable"},
  };
  for (const Bad& bad : cases) {
    OpInvocation inv;
    inv.op_type = "MatMul";
    inv.inputs = {bad.a, bad.b};
    auto out = RunOp(inv);
    ASSERT_FALSE(out.ok()) << bad.fragment;
    EXPECT_NE(out.status().message().find(bad.fragment), std::string::npos) << out.status().message();
  }
}

TEST(MatMulTest, FlopCount) {
  // 2 * M * N * K per product, times the broadcast batch.
  const OpDef* def = BuiltinOpRegistry().Find(kOnnxDomain, "MatMul", 17);
  TensorInfo a{DType::kF32, {3, 1, 4, 5}, true};
  TensorInfo b{DType::kF32, {2, 5, 6}, true};
  OpContext ctx;
  AttributeMap attrs;
  ctx.attrs = &attrs;
  ctx.inputs = {&a, &b};
  ctx.constants = {nullptr, nullptr};
  ctx.outputs.resize(1);
  ASSERT_NE(def, nullptr);
  ASSERT_TRUE(def->infer_shapes(ctx).ok());
  EXPECT_EQ(ctx.outputs[0].shape, (Shape{3, 2, 4, 6}));
  EXPECT_EQ(def->cost(ctx).flops, 2.0 * 3 * 2 * 4 * 6 * 5);
}

// ---------------------------------------------------------------------------
// The entry point, with strided operands.

TEST(GemmF32Test, StridedOperandsAndPanelWidthCheck) {
  // A read in place with lda > k: 29 rows are two full 12-row tiles and a
  // partial one, 77 columns two full panels and a partial one (on AVX-512
  // the full tiles run GemmTwoPanelKernel, the rest the 12-row kernel).
  const int64_t m = 29, k = 10, n = 77, lda = 13, ldb = 81, ldy = 86;
  OwnedTensor a = RandomF32({m, lda}, 1);
  OwnedTensor b = RandomF32({k, ldb}, 2);
  std::vector<float> y(static_cast<size_t>(m * ldy), -7.0f);
  auto packed = ops::PackedBF32::Pack(b.view.data_as<float>(), ldb, false, k, n);
  ASSERT_TRUE(packed.ok()) << packed.status().ToString();
  ops::GemmF32Params p = ProductParams(m, n, k, a.view.data_as<float>(), lda, packed.value().view(), y.data(), ldy);
  ASSERT_TRUE(ops::GemmF32(p, nullptr).ok());
  const float* av = a.view.data_as<float>();
  const float* bv = b.view.data_as<float>();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldy; ++j) {
      const float got = y[static_cast<size_t>(i * ldy + j)];
      if (j >= n) {
        ASSERT_EQ(got, -7.0f) << "wrote past column n at row " << i << ", column " << j;
        continue;
      }
      double want = 0, mag = 0;
      for (int64_t q = 0; q < k; ++q) {
        want += static_cast<double>(av[i * lda + q]) * bv[q * ldb + j];
        mag += std::fabs(static_cast<double>(av[i * lda + q]) * bv[q * ldb + j]);
      }
      ASSERT_NEAR(got, want, (k + 2) * std::ldexp(1.0, -24) * mag) << "row " << i << ", column " << j;
    }
  }
  p.b.panel_width += 1;
  const Status mismatch = ops::GemmF32(p, nullptr);
  EXPECT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.message().find("panel width"), std::string::npos) << mismatch.message();
}

TEST(GemmF32Test, FusedActivationEpilogues) {
  // Each activation is applied once, after alpha and beta * C, on three
  // products: A read in place in one k block and A packed in one block (as
  // on a 512 KiB L2), whose full 12-row tiles against pairs of full panels
  // run GemmTwoPanelKernel on AVX-512 (M = 29 and 301 leave a partial tile,
  // N = 77 two full panels and a partial one), and A read in place across
  // several k blocks (k > kGemmSinglePassMaxK), which runs the 12-row
  // kernel throughout.
  const ScopedGemmL2 small_l2(kSmallL2);
  struct Product {
    int64_t m, k, n;
  };
  for (const Product& shape : {Product{29, 2 * ops::kGemmKc + 37, 77}, Product{301, 449, 77},
                               Product{29, ops::kGemmSinglePassMaxK + 37, 45}}) {
    const int64_t m = shape.m, k = shape.k, n = shape.n;
    ASSERT_EQ(ops::GemmPacksA(m, k, false, kSmallL2), m == 301);
    OwnedTensor a = RandomF32({m, k}, 11);
    OwnedTensor b = RandomF32({k, n}, 12);
    OwnedTensor c = RandomF32({n}, 13);
    const float* av = a.view.data_as<float>();
    const float* bv = b.view.data_as<float>();
    const float* cv = c.view.data_as<float>();
    const float alpha = 0.25f, beta = -1.5f;
    struct Act {
      ops::GemmActivation act;
      const char* name;
      double (*fn)(double);
    };
    const std::vector<Act> acts = {
        {ops::GemmActivation::kNone, "none", [](double x) { return x; }},
        {ops::GemmActivation::kRelu, "relu", [](double x) { return x > 0 ? x : 0.0; }},
        {ops::GemmActivation::kSigmoid, "sigmoid", [](double x) { return 1.0 / (1.0 + std::exp(-x)); }},
        {ops::GemmActivation::kTanh, "tanh", [](double x) { return std::tanh(x); }},
    };
    // The double-precision products, once per shape.
    std::vector<double> sums(static_cast<size_t>(m * n)), mags(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0, mag = 0;
        for (int64_t q = 0; q < k; ++q) {
          sum += static_cast<double>(av[i * k + q]) * bv[q * n + j];
          mag += std::fabs(static_cast<double>(av[i * k + q]) * bv[q * n + j]);
        }
        sums[static_cast<size_t>(i * n + j)] = sum;
        mags[static_cast<size_t>(i * n + j)] = mag;
      }
    }
    ForEachTarget([&](const char* target) {
      auto packed = ops::PackedBF32::Pack(bv, n, false, k, n);  // for this target's panel width
      ASSERT_TRUE(packed.ok()) << packed.status().ToString();
      for (const Act& act : acts) {
        std::vector<float> y(static_cast<size_t>(m * n));
        ops::GemmF32Params p = ProductParams(m, n, k, av, k, packed.value().view(), y.data(), n);
        p.alpha = alpha;
        p.c = cv;
        p.c_stride_n = 1;
        p.beta = beta;
        p.activation = act.act;
        ASSERT_TRUE(ops::GemmF32(p, nullptr).ok());
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            const size_t at = static_cast<size_t>(i * n + j);
            const double pre = alpha * sums[at] + beta * cv[j];
            const double want = act.fn(pre);
            // The activation's derivative is at most 1, so the product's error
            // carries over; the activation adds a few ulp of its result.
            const double tol = (k + 2) * std::ldexp(1.0, -24) * (std::fabs(alpha) * mags[at] + std::fabs(beta * cv[j])) +
                               8 * std::ldexp(1.0, -24) * std::fabs(want) + 1e-30;
            ASSERT_NEAR(y[at], want, tol) << act.name << ", " << m << " x " << k << " x " << n << ", target " << target
                                          << ", row " << i << ", column " << j;
          }
        }
      }
    });
  }
}

}  // namespace
}  // namespace tessera
