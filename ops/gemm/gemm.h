// GEMM kernels (f32): Y = alpha * op(A) * B + beta * C, with B packed once
// into the micro-kernel's panel layout.
//
// This is the entry point other families reuse (MatMul and Gemm here; the
// input projections of RNN/GRU/LSTM and the products inside attention
// later): pack the weights with PackBF32 (once, at kernel creation, when they
// are constant), then call GemmF32 / GemmF32Batch with a GemmF32Params per
// product. Each call dispatches once to the best Highway target (gemm.cc)
// and splits the output tiles over the host's ParallelRunner. Every output
// element is computed by one thread with the same sequence of operations
// whatever the thread count, so results are bitwise thread-invariant. The
// maths, the packed layout and the tail contract are described at the top
// of gemm-inl.h.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_GEMM_GEMM_H_
#define TESSERA_OPS_GEMM_GEMM_H_

#include <cstddef>
#include <cstdint>

#include "runtime/core/op.h"
#include "runtime/core/status.h"
#include "runtime/core/tensor.h"

namespace tessera::ops {

// ---------------------------------------------------------------------------
// Packed B.
//
// A [k, n] matrix is stored as ceil(n / panel_width) panels; panel p holds
// columns [p * panel_width, (p + 1) * panel_width) as k rows of panel_width
// contiguous floats (K-major), zero-padded past column n. The panel width is
// a property of the SIMD target (a fixed number of vectors), so a packed B
// records the width it was packed with, and GemmF32 refuses a packed B whose
// width the current target does not use (callers then repack; only tests
// switch targets after packing).

// Floats per panel row for the target GemmF32 dispatches to now.
int64_t GemmF32PanelWidth();

// Floats a packed [k, n] matrix occupies with the given panel width.
int64_t PackedBF32Floats(int64_t k, int64_t n, int64_t panel_width);

// A view of packed B; `data` is 64-byte aligned (kTensorAlignment) and
// holds PackedBF32Floats(k, n, panel_width) floats.
struct PackedBF32View {
  const float* data = nullptr;
  int64_t k = 0;
  int64_t n = 0;
  int64_t panel_width = 0;
};

// Packs op(B) into `packed` (64-byte aligned, PackedBF32Floats floats):
// op(B) = B when !trans_b, where `b` is [k, n] with row stride ldb >= n;
// op(B) = B^T when trans_b, where `b` is [n, k] with row stride ldb >= k.
// Panels are packed in parallel on `runner` when it is non-null and the
// matrix is large; the result does not depend on it.
void PackBF32(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, int64_t panel_width,
              float* packed, const ParallelRunner* runner = nullptr);

// Owns one or more packed matrices of equal [k, n] (e.g. the batch of a
// constant 3-D MatMul weight), packed for the current target.
class PackedBF32 {
 public:
  PackedBF32() = default;

  // Packs `count` matrices, matrix i starting at b + i * batch_stride
  // (floats); the other arguments as PackBF32.
  static StatusOr<PackedBF32> Pack(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n,
                                   int64_t count = 1, int64_t batch_stride = 0,
                                   const ParallelRunner* runner = nullptr);

  int64_t count() const { return count_; }
  int64_t panel_width() const { return panel_width_; }
  PackedBF32View view(int64_t i = 0) const;

 private:
  AlignedBuffer storage_;
  int64_t k_ = 0;
  int64_t n_ = 0;
  int64_t panel_width_ = 0;
  int64_t count_ = 0;
  int64_t matrix_floats_ = 0;
};

// ---------------------------------------------------------------------------
// The product.

// Blocking (see gemm-inl.h): a task computes at most GemmBlockingOf's mc
// rows by GemmPanelsPerTask panels of Y, walking the inner dimension in
// blocks of its kc; the micro-kernel tile is at most kGemmMaxTileRows rows
// by one panel.
inline constexpr int64_t kGemmMc = 144;
inline constexpr int64_t kGemmKc = 256;
inline constexpr int64_t kGemmMaxTileRows = 12;

// Whether a product packs op(A) into row micro-panels (gemm-inl.h) or
// the micro-kernel reads a row-major A where it lies (GemmPacksA, below the
// single-pass constants it uses). Packing costs about one load and one
// store per element for every panel group that uses the block, and pays
// off by giving the kernel one contiguous A stream; reading in place costs
// nothing up front but walks kTileRows rows lda apart. Which wins depends
// on the core's caches (and so, here, on its L2):
// - With an L2 below kGemmLargeL2Bytes, a row-major op(A) of at most
//   kGemmInPlaceAFloats (512 KiB, that L2: 128^3 and 256^3, 32 x 1024, the
//   128 x 768 of a Transformer projection) is read in place, and everything
//   larger is packed. Measured on our Zen 1 EPYC VM (AVX2, 512 KiB L2, 1
//   thread, medians on a noisy machine): reading in place made 128^3 1.17x,
//   256^3 1.10x and 32 x 1024 x 1024 1.15x faster, and 512^3, 1024^3 and
//   2048^3 0.98x, 0.90x and 0.96x as fast.
// - With a larger L2 (Zen 5: 1 MiB, 48 KiB L1), a larger row-major op(A)
//   is read in place too when its k fits one block in place (k <=
//   kGemmSinglePassMaxK), whatever M. Paired against packing in one binary
//   (Zen 5, AVX-512; alternating slices, 10-40 per run, in two runs with
//   the two variants' buffers swapped; the runs' medians, one thread, then
//   two): 512^3 1.03x and 1.02-1.04x, 1024^3 1.01-1.04x and 1.02-1.04x,
//   512 x 768 x 768 1.02-1.04x and 1.01-1.02x, 768^3 1.01-1.03x and 1.01x,
//   2048 x 256 x 768 1.03x and 1.01-1.02x, 4096 x 1024 x 256 1.04-1.05x on
//   both, 4096 x 768 x 3072 1.01-1.02x and 1.02-1.03x, 2048 x 1024 x 4096
//   1.01-1.02x and 1.02x, 2048 x 512 x 2048 and 1000^3 1.00-1.01x and
//   1.01-1.02x; with Highway's AVX2 target on the same core, 512^3, 1024^3
//   and 512 x 768 x 768 1.02-1.04x on one thread and two. With a longer k
//   (kGemmKc blocks in place) it lost badly: 2048^3 0.78x, 256 x 2048 x
//   2048 0.84x, 1024 x 1536 x 1024 0.97x. The Zen 5 measurements of
//   packed products with k <= 1024 further down (GemmBlockingOf,
//   GemmPanelsPerTask, GemmRowBlocksOf: 512^3, 1024^3, 512 x 768 x 768)
//   were taken before this rule; on such a host those rules now serve a
//   transposed A, and k > 1024.
// Transposed, op(A) is always packed. Either way each output is the same
// FMA chain, so the choice never changes a bit.
inline constexpr int64_t kGemmInPlaceAFloats = int64_t{1} << 17;

// A product takes k in one block up to a limit that grows with the L2
// (GemmBlockingOf says why): with a 512 KiB L2 a packed A block holds at
// most kGemmSinglePassAFloats (192 KiB; its B sliver, up to k = 1024 rows,
// needs more of L2 beside it) and k goes up to kGemmSinglePassMaxK; with an
// L2 of kGemmLargeL2Bytes or more (Zen 5 and many server cores have 1 MiB
// or 2 MiB), twice both. Either way the block keeps at least
// kGemmSinglePassMinRows rows. A product that reads A in place takes k up
// to kGemmSinglePassMaxK in one block on any L2; past its limit, a product
// walks k in blocks of kGemmLongKc (packed) or kGemmKc (in place).
inline constexpr int64_t kGemmSinglePassMaxK = 1024;
inline constexpr int64_t kGemmSinglePassAFloats = 48 * 1024;
inline constexpr int64_t kGemmSinglePassMinRows = kGemmSinglePassAFloats / kGemmSinglePassMaxK;
inline constexpr int64_t kGemmLargeL2Bytes = int64_t{1} << 20;
inline constexpr int64_t kGemmLongKc = 512;
inline int64_t GemmSinglePassAFloats(int64_t l2_bytes) {
  return l2_bytes >= kGemmLargeL2Bytes ? 2 * kGemmSinglePassAFloats : kGemmSinglePassAFloats;
}
inline int64_t GemmSinglePassMaxK(int64_t l2_bytes) {
  return GemmSinglePassAFloats(l2_bytes) / kGemmSinglePassMinRows;
}
inline bool GemmPacksA(int64_t m, int64_t k, bool trans_a, int64_t l2_bytes) {
  if (trans_a) return true;
  if (m * k <= kGemmInPlaceAFloats) return false;
  return l2_bytes < kGemmLargeL2Bytes || k > kGemmSinglePassMaxK;
}

// This host's L2 per core in bytes, as the C library reports it (read
// once); 512 KiB where it reports nothing. GemmF32 plans every product for
// it (GemmPacksA, GemmBlockingOf). SetGemmL2BytesForTest(bytes) makes it
// plan for `bytes` instead, and 0 for this host's again, so that tests run
// the rules of both L2 sizes on any host.
int64_t GemmL2Bytes();
void SetGemmL2BytesForTest(int64_t bytes);

// The largest packed A block, mc x kc floats, is each thread's packing
// buffer: kGemmMc x kGemmLongKc (288 KiB), or a one-block product's on a
// large L2 (384 KiB).
inline constexpr int64_t kGemmPackAFloats =
    kGemmMc * kGemmLongKc > 2 * kGemmSinglePassAFloats ? kGemmMc * kGemmLongKc : 2 * kGemmSinglePassAFloats;

// Rows per row block (mc) and inner block length (kc) of one product, on a
// host with `l2_bytes` of L2 per core. A packed product with k <=
// GemmSinglePassMaxK takes the whole inner dimension in one block, with as
// many rows as GemmSinglePassAFloats allows (with a 512 KiB L2: 48 at k =
// 1024, 96 at 512; whole 12-row tiles); a product that reads A in place
// takes k <= kGemmSinglePassMaxK in one block of kGemmMc rows (there is no
// A block to fit in L2). With a larger k, a packed product walks it in
// kGemmLongKc blocks of kGemmMc rows, and A read in place in kGemmKc
// blocks. One block saves re-reading each Y
// tile (the running sum) once per block and the fixed cost of each
// micro-kernel call; its B sliver (k x panel width) is read from L2 rather
// than L1. Measured with both blockings built into one binary, their
// repetitions interleaved in one run (AVX2, our AMD EPYC VM; single runs
// swing by +-7%), one block against kGemmKc blocks ran 1024^3 at
// 0.95-1.22x (median 1.05) on one thread and 0.98-1.10x on two, 512 x 768
// x 768 at 1.01-1.17x and 1.01-1.26x (with any mc from 48 to 96), 512^3
// at 0.94-1.10x and 0.99-1.04x. Not kept for a larger k: 2048^3 in two blocks
// of 1024 (48 rows, so B streams from memory 43 times) was 0.91-0.99x. A
// read in place in one block against kGemmKc blocks was inconclusive on
// AVX2 (128 x 768 x 3072: 0.92-1.16x on one thread, 0.69-1.05x on two)
// and is clearly ahead on AVX-512 (Zen 5, two runs of 8 paired
// repetitions): 128 x 768 x 3072 1.06-1.10x on one thread and 1.07-1.09x
// on two, 8 x 1024 x 1024 1.04-1.06x and 1.06-1.09x, 32 x 1024 x 1024
// 1.02-1.03x on both, 128 x 512 x 512 1.00-1.03x. With a 1 MiB L2 (Zen 5,
// AVX-512), one block up to k = 2048 (48 rows, a 384 KiB A block and a 256
// KiB B sliver) against kGemmLongKc blocks of 144 rows, over three runs of
// 6 paired repetitions: 2048^3 1.05-1.08x on one thread and 1.04-1.08x on
// two, 1024 x 1536 x 1024 1.06-1.11x and 1.02-1.12x, 512 x 2048 x 512
// 1.00-1.04x and 0.97-1.06x, 1024 x 2048 x 1024 1.09x and 1.11x (one
// run); 256 x 2048 x 2048 (6 row blocks, each streaming all of B) 1.04-1.07x
// on one thread but 0.93-1.00x on two. (Twice the A block with k <= 1024,
// 96 rows at k = 1024, was level, 0.98-1.02x, so both follow one rule.)
// For k > 1024, kGemmLongKc blocks of 144
// rows (a 288 KiB A block) re-read Y half as often as kGemmKc blocks: 2048^3
// ran 1.02-1.06x on one thread and 1.00-1.13x on two over three paired runs,
// 1024 x 2048 x 1024 1.00-1.02x and 0.99-1.01x; blocks of 512 with fewer
// rows (72, 96), of 384 or 768 were no better. Every tile continues its
// running sum in its accumulators, so the blocking never changes a bit
// (gemm-inl.h).
struct GemmBlocking {
  int64_t mc = kGemmMc;
  int64_t kc = kGemmKc;
};
inline GemmBlocking GemmBlockingOf(int64_t m, int64_t k, bool trans_a, int64_t l2_bytes) {
  if (k <= kGemmKc) return GemmBlocking{};
  if (!GemmPacksA(m, k, trans_a, l2_bytes)) return GemmBlocking{kGemmMc, k <= kGemmSinglePassMaxK ? k : kGemmKc};
  if (k > GemmSinglePassMaxK(l2_bytes)) return GemmBlocking{kGemmMc, kGemmLongKc};
  const int64_t mc = GemmSinglePassAFloats(l2_bytes) / k / kGemmMaxTileRows * kGemmMaxTileRows;
  return GemmBlocking{mc < kGemmMc ? mc : kGemmMc, k};
}
// How far ahead in its B sliver the first row tile of a block longer than
// kGemmKc (one-block products, and kGemmLongKc blocks) prefetches, when
// later tiles of the block reuse the sliver. Such a sliver (kc x panel
// width: 32-64 KiB on AVX2) is not in L2 when the block's first tile
// reaches it, and a one-block product shares it among only 4-8 row tiles
// (mc = 48-96 rows), so the first tile's wait on L3 was a visible share
// of the block; the later tiles find it in L2 and do not
// prefetch, since a prefetch takes a load slot of the FMA loop (on
// AVX-512, prefetching in every tile, 4 KiB or 1 KiB ahead, was level:
// 0.99-1.03x over 512^3, 1024^3 and 512 x 768 x 768). Nor do
// kGemmKc blocks, whose 16 KiB slivers serve 24 tiles. Measured with and
// without it in one binary, repetitions interleaved and paired (AVX2, our
// AMD EPYC VM, medians of 8 to 12 pairs per run, the range over runs):
// 1024^3 1.05-1.10x on one thread and 1.03-1.11x on two, 2048 x 1024 x
// 2048 1.04-1.13x and 1.08-1.12x, 512 x 768 x 768 1.00-1.01x and
// 1.00-1.09x, 512^3 0.99-1.06x and 0.93-0.99x; on 2048^3 in kGemmKc blocks
// it was 0.98-0.99x and 0.97x (the kGemmLongKc blocks were measured with
// it). Products that read A in place (one block up to k =
// kGemmSinglePassMaxK) prefetch the same way, where the block has more
// than one tile: paired in one binary (12 repetitions, AVX2, our EPYC VM),
// 16 x 1024 x 3072 1.09x on one thread and on two (faster in 11-12 of
// 12), 8 x 1024 x 1024 1.07x and 1.03x, 32 x 1024 x 1024 1.03x (12 of 12,
// twice) and 1.01-1.03x, 8 x 512 x 1536 1.02x and 1.01x, 128 x 768 x 3072
// 1.01x; 64 x 512 x 512, 100 x 1000 x 500, 128 x 768 x 768 level (0.99-
// 1.01x), and a lone tile (4 x 1024 x 1024) gained nothing (0.98-1.00x).
// A sliver longer than kGemmSinglePassMaxK rows (one block up to k =
// 2048 on a large L2) is prefetched kGemmPrefetchLongBBytes ahead: its
// first tile is a quarter of the block's (48 rows), and with 4 KiB two
// threads streaming B ran 256 x 2048 x 2048 at 0.90x of kGemmLongKc
// blocks; with 16 KiB, 0.93-1.07x, and 2048^3 1.04-1.05x (AVX-512; the
// distance for shorter slivers was level, 0.98-1.02x, and stays). It
// never changes a bit.
inline constexpr int64_t kGemmPrefetchBBytes = 4096;
inline constexpr int64_t kGemmPrefetchLongBBytes = 16384;
static_assert(kGemmKc <= kGemmLongKc && kGemmMc * kGemmLongKc <= kGemmPackAFloats &&
                  2 * kGemmSinglePassAFloats <= kGemmPackAFloats,
              "the packing buffer holds every packed A block");
static_assert(kGemmSinglePassMinRows >= kGemmMaxTileRows, "a single-pass block holds a whole tile");

// Panels per task. As wide as kGemmMaxPanelsPerTask panels (1024 columns
// on AVX2, 2048 on AVX-512), so each packed A block is packed once per many
// FLOPs and reused across many panels (the B slivers a task streams per k
// block come from L3; packing was 10% of 1024^3 at 16 panels per task and
// 5% at 32 on AVX2). Narrower when that leaves too few tasks for the
// threads (`threads`, the runner's MaxConcurrency): the panels are cut into
// the fewest equal groups that give at least 8 tasks per thread, or, when
// A is packed, a multiple of the thread count (every thread gets as many
// tasks, so a task can be wide and pack its block once). Products that
// read A in place pack nothing, and keep 8 tasks per thread: their tasks
// are short (8 x 1024 x 1024 takes ~50 us), and many of them let a thread
// that wakes late take fewer (2 tasks of 16 panels made it 0.85x as fast on
// two threads). Measured against the former rule (power-of-two widths until
// there were 16 tasks; AVX-512, Zen 5, 6 paired repetitions, two runs):
// 512^3 1.07-1.12x on one thread and 1.04-1.06x on two, 512 x 768 x 768
// 1.01-1.06x and 1.02-1.04x, the other shapes level. Not below 4 panels
// when A is packed: a task packs its A block once, and packing one element
// costs about as much as the 2 * columns FLOPs it feeds, so a one-panel task
// would spend a third of its time packing. A read in place costs nothing up
// front, so such a task may be 2 panels wide, and a GEMV (M = 1) one. Any
// split gives the same bits: a task always computes its outputs whole, so
// the thread count may shape the split. `row_blocks` is GemmRowBlocksOf's.
inline constexpr int64_t kGemmMaxPanelsPerTask = 64;
inline int64_t GemmPanelsPerTask(int64_t m, int64_t row_blocks, int64_t panels, bool packs_a, int threads) {
  const int64_t narrowest = m == 1 ? 1 : packs_a ? 4 : 2;
  if (panels <= narrowest) return narrowest;
  const int64_t thread_count = threads > 1 ? threads : 1;
  const int64_t many_tasks = 8 * thread_count;
  for (int64_t groups = (panels + kGemmMaxPanelsPerTask - 1) / kGemmMaxPanelsPerTask;; ++groups) {
    const int64_t per_task = (panels + groups - 1) / groups;
    if (per_task <= narrowest) return narrowest;
    const int64_t tasks = row_blocks * ((panels + per_task - 1) / per_task);
    if (tasks >= many_tasks || (packs_a && tasks % thread_count == 0)) return per_task;
  }
}

// Row blocks of a product with mc-row blocks (GemmRowBlockRows deals the
// rows out to them). When A is packed and several threads share the
// product, their count is rounded up to a multiple of the thread count
// while each block keeps a whole tile: every thread then gets as many row
// blocks, GemmPanelsPerTask can keep the panels in one group, and each A
// block is packed once rather than once per panel group. 1024^3 on two
// threads had 11 blocks of 96 rows, cut into 22 half-width tasks (one
// thread worked a task longer than the other); as 12 blocks of 84-96 rows
// and 12 full-width tasks it ran 1.03x as fast (two runs of 8 repetitions
// paired in one binary, AVX-512, Zen 5), 2048^3 1.02-1.03x, 512 x 768 x
// 768 1.00-1.02x, the rest level. Products that read A in place keep their
// blocks (their tasks are short and many, GemmPanelsPerTask), except where
// GemmTaskGridOf splits their rows between the threads.
inline int64_t GemmRowBlocksOf(int64_t m, int64_t mc, bool packs_a, int threads) {
  const int64_t blocks = (m + mc - 1) / mc;
  if (!packs_a || threads <= 1) return blocks;
  const int64_t rounded = (blocks + threads - 1) / threads * threads;
  return rounded <= (m + kGemmMaxTileRows - 1) / kGemmMaxTileRows ? rounded : blocks;
}
// Rows [*row0, *row0 + *rows) of row block `rb` of an m-row product with
// `row_blocks` blocks, its rows dealt out in units of `unit_rows` (the
// kernel's tile height, or a pair of rows: RowBlockOf in gemm-inl.h says which
// and why). Block rb starts at unit rb * units / row_blocks (rounded down), so
// blocks differ by at most one unit (and so hold at most mc rows, as
// GemmBlockingOf sized them) and the longer ones are spread out: any run of
// consecutive blocks holds its share of the units to within one. (Cut into
// whole kGemmMc-row blocks instead, M = 1024 left a 16-row last block, and one
// thread of two had 576 rows to the other's 448.) Spreading the longer blocks
// out is what balances the threads, since the runner gives each thread a run
// of consecutive tasks (TBB halves the range): with the longer blocks first,
// one thread of two got all of them, e.g. 512 x 768 x 768 on AVX2 in 10 blocks
// of 86 6-row tiles, 45 tiles to one thread and 41 to the other; spread out,
// 43 and 43. Measured against the longer blocks first (AVX2, on our EPYC VM
// while it ran at a 40 GFLOP/s per core FMA peak; two runs of 10 paired
// repetitions, two threads): 512 x 768 x 768 1.05x and 1.10x (faster in 10 of
// 10 both times), 512^3 1.01x and 1.05x, 1024^3 1.01x and 1.03x; one run:
// 2048^3, 1000^3 and 2048 x 256 x 1024 1.02x, 768^3 1.03x; one thread, and
// 384^3 (4 equal blocks), level. On AVX-512 (Zen 5), together with 12-row
// tiles dealt as half tiles (not kept), it read 1.01x and 1.02x on the two
// 512-row shapes over 30 pairs and 0.97-1.01x on six others over 16: level.
inline void GemmRowBlockRows(int64_t m, int64_t unit_rows, int64_t row_blocks, int64_t rb, int64_t* row0,
                             int64_t* rows) {
  const int64_t units = (m + unit_rows - 1) / unit_rows;
  *row0 = rb * units / row_blocks * unit_rows;
  const int64_t end = (rb + 1) * units / row_blocks * unit_rows;
  *rows = (end < m ? end : m) - *row0;
}

// How one product splits into tasks: row blocks of at most blocking.mc
// rows by groups of panels_per_task panels, numbered row-block-major. The
// driver (gemm.cc) makes it once per call, for the runner's thread count
// and the host's L2, counts and chunks the tasks with it, and hands it to the kernel
// (gemm-inl.h), which finds each task's rows and panels in it, so both
// number them alike.
struct GemmTaskGrid {
  bool pack_a = true;  // GemmPacksA
  GemmBlocking blocking;
  int64_t row_blocks = 0;
  int64_t panels = 0;
  int64_t panels_per_task = 0;
  int64_t panel_groups = 0;
  int64_t count() const { return row_blocks * panel_groups; }
};

// Floats in a 64-byte cache line.
inline constexpr int64_t kGemmLineFloats = 64 / static_cast<int64_t>(sizeof(float));

// Whether Y's rows start on cache lines and its panels are whole lines:
// then two tasks side by side in one row never write the same line.
inline bool GemmYLinesAligned(const float* y, int64_t ldy, int64_t panel_width) {
  return reinterpret_cast<uintptr_t>(y) % (kGemmLineFloats * sizeof(float)) == 0 && ldy % kGemmLineFloats == 0 &&
         panel_width % kGemmLineFloats == 0;
}

// Where the threads would split a row block of a product read in place by
// its panels (its row blocks do not come out even among them), they split
// its rows instead when that is cheap and the panels split badly. Split by
// panels, the two threads at a boundary both write the cache line that
// straddles it, in every row, whenever Y's rows are not line-aligned
// (GemmYLinesAligned: a std::vector's 16-byte start, ldy not a multiple of
// 16, or SSE4's 32-byte panels), and the panel groups may not divide among
// the threads (96^3 on AVX2 is three 2-panel tasks, two on one thread).
// Split by rows, a thread writes whole rows but reads all of B rather than
// its share, which costs little when B is no larger than A (n <= m). Each
// thread keeps at least two 12-row tiles' worth of rows, and M must be
// even: RowBlockOf (gemm-inl.h) deals such a product's rows in pairs, so
// every block then has an even number of rows and none ends in a 1-row
// tile, the one tile that splits its FMA chains (for speed: without the
// split, 7 x 512 x 512 ran 0.86x as fast). With an odd M the last row's
// tile, and so its bits, would follow the thread count. The row blocks are
// rounded up to a multiple of the thread count, one task each (at most
// kGemmMaxPanelsPerTask panels wide; a wider block's tasks are
// consecutive, so each thread still gets whole blocks).
//
// Measured in one binary, two threads (AVX2, our EPYC VM, 10-16 paired
// repetitions per run), with Y 16 bytes off a line: 128^3 1.11x and 1.04x
// (faster in 16 of 16 and 9 of 10), 96^3 1.32x, 384 x 300 x 100 1.06x,
// 300^3 1.03x twice, 64^3 1.03x; with Y on a line (where only uneven panel
// groups split the rows): 96^3 1.22x, 384 x 300 x 100 1.12x, 300^3 0.97x
// and 1.02x; 250^3 and 32 x 1024 x 1024 (never split) level. Timed alone,
// a 2-thread 128^3 call took 55.6 us with Y off a line and 49.4 us on one,
// and split by rows 50.5 us either way: so with aligned lines and even
// panel groups the panels stay split (split by rows there, 128^3 ran 0.99x
// and 64^3 0.94x). Every output is the same FMA chain in any tile of two
// rows or more (gemm-inl.h), so the split never changes a bit.
inline bool GemmSplitsRowsAmongThreads(const GemmTaskGrid& g, int64_t m, int64_t n, int threads,
                                       bool y_lines_aligned) {
  if (g.pack_a || threads <= 1 || g.row_blocks % threads == 0) return false;
  if (n > m || m < 2 * kGemmMaxTileRows * threads || m % 2 != 0) return false;
  return !y_lines_aligned || g.count() % threads != 0;
}

inline GemmTaskGrid GemmTaskGridOf(int64_t m, int64_t n, int64_t k, bool trans_a, int64_t panel_width, int threads,
                                   int64_t l2_bytes, bool y_lines_aligned) {
  GemmTaskGrid g;
  g.pack_a = GemmPacksA(m, k, trans_a, l2_bytes);
  g.blocking = GemmBlockingOf(m, k, trans_a, l2_bytes);
  g.row_blocks = GemmRowBlocksOf(m, g.blocking.mc, g.pack_a, threads);
  g.panels = (n + panel_width - 1) / panel_width;
  g.panels_per_task = GemmPanelsPerTask(m, g.row_blocks, g.panels, g.pack_a, threads);
  g.panel_groups = (g.panels + g.panels_per_task - 1) / g.panels_per_task;
  if (GemmSplitsRowsAmongThreads(g, m, n, threads, y_lines_aligned)) {
    g.row_blocks = (g.row_blocks + threads - 1) / threads * threads;
    const int64_t whole_width = g.panels > g.panels_per_task ? g.panels : g.panels_per_task;
    g.panels_per_task = whole_width < kGemmMaxPanelsPerTask ? whole_width : kGemmMaxPanelsPerTask;
    g.panel_groups = (g.panels + g.panels_per_task - 1) / g.panels_per_task;
  }
  return g;
}

// Fused epilogue activations (the vector forms of the elementwise ops, with
// the same accuracy).
enum class GemmActivation : int32_t { kNone, kRelu, kSigmoid, kTanh };

// One product Y[m, n] = act(alpha * op(A) * B + beta * C).
struct GemmF32Params {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;

  // op(A) = A when !trans_a: A is [m, k], row stride lda >= k.
  // op(A) = A^T when trans_a: A is [k, m], row stride lda >= m.
  const float* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;

  // B as [k, n], packed; b.k and b.n must equal k and n.
  PackedBF32View b;

  float alpha = 1.0f;

  // C (bias), broadcast over [m, n]: element (i, j) is
  // c[i * c_stride_m + j * c_stride_n]. A stride of 0 repeats along that
  // axis: (n, 1) full matrix, (0, 1) row vector, (1, 0) column vector,
  // (0, 0) scalar. Unused when c is null or beta == 0 (then C is not read,
  // as in BLAS, so NaNs in an ignored C do not propagate).
  const float* c = nullptr;
  int64_t c_stride_m = 0;
  int64_t c_stride_n = 0;
  float beta = 1.0f;

  // Applied last, so Gemm + activation writes Y once:
  // Y = act(alpha * op(A) * B + beta * C).
  GemmActivation activation = GemmActivation::kNone;

  // Y is [m, n] with row stride ldy >= n; it must not overlap A, B or C.
  float* y = nullptr;
  int64_t ldy = 0;
};

// Runs one product; tiles are spread over `runner` (null: the calling
// thread) with a grain sized so that small products stay on one thread.
// Fails (kInternal) when the params are inconsistent or B was packed for a
// panel width the current target does not use.
Status GemmF32(const GemmF32Params& params, const ParallelRunner* runner);

// Runs `count` products of equal m, n and k (e.g. the batch of a batched
// MatMul) as one parallel loop over (product, tile), so a batch of small
// products still fills the threads.
Status GemmF32Batch(const GemmF32Params* params, int64_t count, const ParallelRunner* runner);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_GEMM_GEMM_H_
