// SIMD code of the GEMM family, compiled once per Highway target.
//
// Maths
//   Y[i, j] = alpha * sum_p op(A)[i, p] * B[p, j] + beta * C(i, j). The sum
//   is accumulated in float by fused multiply-adds in order p = 0 .. k-1,
//   in blocks of kc (GemmBlockingOf) with the running sum kept in Y between
//   blocks; every tile reloads it into its accumulators and continues the
//   chain, so the blocking never changes a bit (but a 1-row tile splits
//   its chain, see the micro-kernel). The error of each element is the usual
//   bound of a length-k dot product, |dY| <= k u sum_p |a_p b_p| (first order,
//   u = 2^-24), plus two roundings for the epilogue.
//
// Packed B layout (see gemm.h)
//   Panels of kPanelVectors vectors (the panel width), each k rows of
//   panel-width contiguous floats, zero-padded past column n. One row of a
//   panel is two aligned vector loads, and rows [p0, p0 + kc) of a panel
//   (a "sliver") are contiguous.
//
// Blocking (Goto's scheme, sized for ~32 KiB L1 and >= 512 KiB L2)
//   A task is a block of at most mc rows (RowBlockOf: the rows dealt
//   out evenly) by GemmPanelsPerTask panels of Y. For each kc-block of the
//   inner dimension it packs its rows of op(A) into row micro-panels
//   (kTileRows rows interleaved, so the micro-kernel reads A contiguously
//   whatever transA and lda are), then runs the micro-kernel over every
//   (row tile, panel) of the block. A B sliver (kc x 32 floats, 32 KiB on
//   AVX-512 at kc = 256) is reused by all row tiles of the block while the
//   packed A block (mc x kc, at most 384 KiB) stays in L2; a packed A with
//   k <= 1024 (2048 on an L2 of 1 MiB or more) is one block of fewer rows,
//   and one with a larger k walks it in blocks of 512 (GemmBlockingOf in
//   gemm.h says why). A row-major
//   op(A) of at most kGemmInPlaceAFloats, or on an L2 of 1 MiB or more any
//   whose k fits one block (k <= kGemmSinglePassMaxK), is not packed: the
//   micro-kernel reads its rows where they lie (GemmPacksA in gemm.h says
//   why), with the same loops and the same FMA chains.
//
// Micro-kernel
//   kTileRows x 2 vector accumulators stay in registers for the whole kc
//   loop: each step loads the sliver row (2 vectors), broadcasts one packed
//   A value per row and issues 2 * kTileRows FMAs. Targets with 32 vector
//   registers (AVX-512, ARM) use 12 rows (24 accumulators); SSE4/AVX2 have
//   16 registers and use 6 rows (12 accumulators). Either is more than the
//   FMA latency x throughput product, so the loop runs at FMA throughput.
//   The first row tile of a panel prefetches its sliver kGemmPrefetchBBytes
//   ahead when kc > kGemmKc and later tiles reuse it (gemm.h says why).
//   A 1-row tile (the last row of a block) would be one dependency chain per
//   vector, so it splits the k loop over two accumulator sets. A product
//   with M = 1 (GEMV) skips blocking and packing altogether: GemvPanelsF32.
//   A full tile's last k block applies alpha and beta * C to the
//   accumulators in registers; partial panels go through a stack row, in
//   and out. Whole tiles run an instantiation without the branches for
//   partial tiles (RunTile).
//   On AVX-512, a product taken in one k block of at most
//   kGemmSinglePassMaxK runs its full 12-row tiles against pairs of full
//   panels as two 6-row halves of 4 vectors each (GemmTwoPanelKernel: 6 x
//   64 floats, the same 24 accumulators), A packed or read in place; the
//   same chains in the same order, so the same bits.
//
// Tail contract
//   Rows past m are zero in the packed A block (read in place, the tile's
//   last real row stands in for them); their accumulators are computed and
//   dropped. Columns past n exist only in the zero padding of
//   the last panel; that tile's rows go through a stack buffer and only the
//   n - column columns are written. Nothing outside A, B, C and Y is read or
//   written.
//
// Partitioning
//   Tasks (row block, panel group) are numbered row-block-major and are
//   independent; each computes its outputs whole, over all of k, in a fixed
//   order, so the split and the thread count never change a result bit.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_GEMM_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_GEMM_GEMM_INL_H_
#undef TESSERA_OPS_GEMM_GEMM_INL_H_
#else
#define TESSERA_OPS_GEMM_GEMM_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/elementwise/elementwise-inl.h"
#include "ops/gemm/gemm.h"
#include "ops/vector_registers-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline constexpr size_t kPanelVectors = 2;

// The tile height by register count: see "Micro-kernel" above.
inline constexpr int64_t kTileRows = kVectorRegisters == 32 ? 12 : 6;
static_assert(kGemmMaxTileRows % kTileRows == 0 && kGemmMc % kGemmMaxTileRows == 0,
              "row blocks (multiples of kGemmMaxTileRows rows) hold whole row tiles");
static_assert(kTileRows <= kGemmMaxTileRows, "gemm.h sizes buffers for kGemmMaxTileRows");

HWY_INLINE int64_t PanelWidthF32() {
  const hn::ScalableTag<float> d;
  return static_cast<int64_t>(kPanelVectors * hn::Lanes(d));
}

// Rows [*row0, *row0 + *rows) of row block `rb`: the product's rows dealt
// out to its row blocks in units (GemmRowBlockRows in gemm.h) of whole
// tiles when A is packed and of row pairs when it is read in place. Tiles
// first: a packed product's block count follows the thread count
// (GemmRowBlocksOf), and whole tiles keep every tile boundary at a
// multiple of kTileRows from row 0 whatever the split, so a 1-row tile
// (the one tile that splits its FMA chains, see the micro-kernel) lies at
// the same row at any thread count and no block ends in a short tile. A
// product read in place has the same blocks at any thread count unless M
// is even (GemmSplitsRowsAmongThreads), and then every block has an even
// number of rows and none ends in a 1-row tile; so its rows may be dealt
// finer: with a 6-row tile, 256 rows in two blocks are
// 128 and 128 as pairs (each 20 tiles and the last 8 rows as two 4-row
// tiles, GemmTaskF32) where whole tiles made them 126 and 130, and the two
// threads that take one block each finish together. Measured against whole
// tiles (AVX2, our EPYC VM, 20 paired repetitions, two threads): 256^3
// 1.015x (faster in 20 of 20), 256 x 300 x 256 1.018x (19 of 20), 512 x
// 256 x 256 1.004x, 400 x 320 x 400 0.996x; one thread level (0.994-1.000).
HWY_INLINE void RowBlockOf(const GemmTaskGrid& t, int64_t m, int64_t rb, int64_t* row0, int64_t* rows) {
  GemmRowBlockRows(m, t.pack_a ? kTileRows : 2, t.row_blocks, rb, row0, rows);
}

// Packs inner indices [0, kc) of a whole tile's kTileRows row-major rows
// (src, src + lda, ...) into its micro-panel, four indices at a time: a 4x4
// transpose of each group of four rows, and for a 6-row tile an interleave
// of rows 4-5, stored side by side (per 4 x kTileRows values, kTileRows
// 16-byte loads and about as many stores). Returns how many indices it
// packed (a multiple of four); the caller packs the rest.
HWY_INLINE int64_t PackTileRowsBy4(const float* HWY_RESTRICT src, int64_t lda, int64_t kc,
                                   float* HWY_RESTRICT panel) {
#if HWY_TARGET == HWY_SCALAR
  (void)src;
  (void)lda;
  (void)kc;
  (void)panel;
  return 0;
#else
  static_assert(kTileRows % 4 == 0 || kTileRows % 4 == 2, "groups of four rows, then at most a pair");
  const hn::Full128<float> d4;
  const hn::Full64<float> d2;
  int64_t q = 0;
  for (; q + 4 <= kc; q += 4) {
    float* out = panel + q * kTileRows;
    for (int64_t g = 0; g + 4 <= kTileRows; g += 4) {
      const float* rows = src + g * lda + q;
      const auto a0 = hn::LoadU(d4, rows);
      const auto a1 = hn::LoadU(d4, rows + lda);
      const auto a2 = hn::LoadU(d4, rows + 2 * lda);
      const auto a3 = hn::LoadU(d4, rows + 3 * lda);
      const auto p01l = hn::InterleaveLower(d4, a0, a1);  // a0[0] a1[0] a0[1] a1[1]
      const auto p23l = hn::InterleaveLower(d4, a2, a3);
      const auto p01u = hn::InterleaveUpper(d4, a0, a1);  // a0[2] a1[2] a0[3] a1[3]
      const auto p23u = hn::InterleaveUpper(d4, a2, a3);
      hn::StoreU(hn::ConcatLowerLower(d4, p23l, p01l), d4, out + g);  // index q: rows g .. g+3
      hn::StoreU(hn::ConcatUpperUpper(d4, p23l, p01l), d4, out + kTileRows + g);
      hn::StoreU(hn::ConcatLowerLower(d4, p23u, p01u), d4, out + 2 * kTileRows + g);
      hn::StoreU(hn::ConcatUpperUpper(d4, p23u, p01u), d4, out + 3 * kTileRows + g);
    }
    if constexpr (kTileRows % 4 == 2) {
      const float* rows = src + (kTileRows - 2) * lda + q;
      const auto a4 = hn::LoadU(d4, rows);
      const auto a5 = hn::LoadU(d4, rows + lda);
      const auto p45l = hn::InterleaveLower(d4, a4, a5);  // a4[0] a5[0] a4[1] a5[1]
      const auto p45u = hn::InterleaveUpper(d4, a4, a5);
      float* pair = out + kTileRows - 2;
      hn::StoreU(hn::LowerHalf(d2, p45l), d2, pair);
      hn::StoreU(hn::UpperHalf(d2, p45l), d2, pair + kTileRows);
      hn::StoreU(hn::LowerHalf(d2, p45u), d2, pair + 2 * kTileRows);
      hn::StoreU(hn::UpperHalf(d2, p45u), d2, pair + 3 * kTileRows);
    }
  }
  return q;
#endif
}

// Packs rows [row0, row0 + rows) and inner indices [p0, p0 + kc) of op(A)
// into micro-panels of kTileRows rows: panel t holds, for q in [0, kc), the
// kTileRows values op(A)[row0 + t * kTileRows + r, p0 + q] contiguously.
// Rows past `rows` are zero.
HWY_INLINE void PackABlock(const GemmF32Params& p, int64_t row0, int64_t rows, int64_t p0, int64_t kc,
                           float* HWY_RESTRICT out) {
  const int64_t tiles = (rows + kTileRows - 1) / kTileRows;
  for (int64_t t = 0; t < tiles; ++t) {
    float* HWY_RESTRICT panel = out + t * kTileRows * kc;
    const int64_t r_end = (rows - t * kTileRows) < kTileRows ? (rows - t * kTileRows) : kTileRows;
    if (!p.trans_a) {
      const float* src = p.a + (row0 + t * kTileRows) * p.lda + p0;
      // Whole tiles transpose four indices at a time. On AVX2 (6-row tiles)
      // packing took 3.6% of the micro-kernel's time at 1024^3 and 2048^3
      // copying one float at a time, 2.9% this way, and 6.7% one row at a
      // time (scattered 4-byte stores); where A comes from L3 or DRAM (an
      // RNN's projection, M 2048 x K 256) reading A bounds it and all three
      // cost about the same. On AVX-512 (12-row tiles, twice the FMA rate)
      // copying one float at a time took a quarter of 512^3's time (perf).
      int64_t q0 = 0;
      if (r_end == kTileRows) q0 = PackTileRowsBy4(src, p.lda, kc, panel);
      for (int64_t r = 0; r < r_end; ++r) {
        for (int64_t q = q0; q < kc; ++q) panel[q * kTileRows + r] = src[r * p.lda + q];
      }
    } else {
      // A^T: op(A)[i, q] = a[q * lda + i], so a panel row is contiguous.
      for (int64_t q = 0; q < kc; ++q) {
        const float* src = p.a + (p0 + q) * p.lda + row0 + t * kTileRows;
        std::memcpy(panel + q * kTileRows, src, static_cast<size_t>(r_end) * sizeof(float));
      }
    }
    if (r_end < kTileRows) {
      for (int64_t q = 0; q < kc; ++q) {
        for (int64_t r = r_end; r < kTileRows; ++r) panel[q * kTileRows + r] = 0.0f;
      }
    }
  }
}

// Where one k-block's accumulators go: the first block stores its partial
// sum, middle blocks add to Y, the last applies alpha and beta * C. A
// single block does both at once.
struct BlockRole {
  bool first;
  bool last;
};

template <class D, class V>
HWY_INLINE V ApplyActivation(D d, GemmActivation act, V v) {
  switch (act) {
    case GemmActivation::kNone: return v;
    case GemmActivation::kRelu: return VecRelu(d, v);
    case GemmActivation::kSigmoid: return VecSigmoid(d, v);
    case GemmActivation::kTanh: return VecTanh(d, v);
  }
  return v;
}

// Whether the last k block can apply beta * C a vector at a time: C is
// absent (or beta is 0), a row (c_stride_n 1) or a repeated value
// (c_stride_n 0). Other column strides go element by element through
// StoreTileRow.
HWY_INLINE bool CTakesVectors(const GemmF32Params& p) {
  return p.c == nullptr || p.beta == 0.0f || p.c_stride_n == 0 || p.c_stride_n == 1;
}

// One row of a tile: `acc` holds the row's panel-width accumulators and
// `cols` <= panel width of them are written to Y[row, col..). The vector
// path covers full panels whose C is a row (stride_n 1) or a repeated value
// (stride_n 0); everything else goes element by element through the same
// operations on one-lane vectors, so results do not depend on the path.
HWY_INLINE void StoreTileRow(const GemmF32Params& p, BlockRole role, int64_t row, int64_t col, int64_t cols,
                             const float* HWY_RESTRICT acc, bool activate = true) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  float* y = p.y + row * p.ldy + col;
  const bool use_c = role.last && p.c != nullptr && p.beta != 0.0f;
  const float* c_row = use_c ? p.c + row * p.c_stride_m + col * p.c_stride_n : nullptr;
  int64_t j = 0;
  if (!role.last || CTakesVectors(p)) {
    const auto alpha = hn::Set(d, p.alpha);
    const auto beta = hn::Set(d, p.beta);
    for (; j + lanes <= cols; j += lanes) {
      auto v = hn::Load(d, acc + j);
      if (!role.first) v = hn::Add(hn::LoadU(d, y + j), v);
      if (role.last) {
        v = hn::Mul(v, alpha);
        if (use_c) v = hn::MulAdd(p.c_stride_n == 1 ? hn::LoadU(d, c_row + j) : hn::Set(d, c_row[0]), beta, v);
        if (activate) v = ApplyActivation(d, p.activation, v);
      }
      hn::StoreU(v, d, y + j);
    }
  }
  const auto alpha1 = hn::Set(d1, p.alpha);
  const auto beta1 = hn::Set(d1, p.beta);
  for (; j < cols; ++j) {
    auto v = hn::Load(d1, acc + j);
    if (!role.first) v = hn::Add(hn::LoadU(d1, y + j), v);
    if (role.last) {
      v = hn::Mul(v, alpha1);
      if (use_c) v = hn::MulAdd(hn::Set(d1, c_row[j * p.c_stride_n]), beta1, v);
      if (activate) v = ApplyActivation(d1, p.activation, v);
    }
    hn::StoreU(v, d1, y + j);
  }
}

// The activation over a finished tile, Y[row..row+rows, col..col+cols), in
// place. The micro-kernel applies it here rather than per row in
// StoreTileRow: a row holds only two vectors, and sigmoid or tanh is a long
// dependent chain, so a whole tile of independent vectors is what lets the
// core overlap them (per row it ran 4-5% slower than a separate pass). The
// operations per lane are the same, so are the bits.
template <class Activation>
HWY_INLINE void ActivateTileWith(const GemmF32Params& p, int64_t row, int64_t rows, int64_t col, int64_t cols,
                                 const Activation& activation) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t ldy = p.ldy;  // a local: a vector store may alias `p`
  float* const y_tile = p.y + row * ldy + col;
  for (int64_t r = 0; r < rows; ++r) {
    float* y = y_tile + r * ldy;
    int64_t j = 0;
    for (; j + lanes <= cols; j += lanes) hn::StoreU(activation(d, hn::LoadU(d, y + j)), d, y + j);
    for (; j < cols; ++j) hn::StoreU(activation(d1, hn::LoadU(d1, y + j)), d1, y + j);
  }
}

HWY_INLINE void ActivateTile(const GemmF32Params& p, int64_t row, int64_t rows, int64_t col, int64_t cols) {
  switch (p.activation) {
    case GemmActivation::kNone: return;
    case GemmActivation::kRelu:
      return ActivateTileWith(p, row, rows, col, cols, [](auto dd, auto v) { return VecRelu(dd, v); });
    case GemmActivation::kSigmoid:
      return ActivateTileWith(p, row, rows, col, cols, [](auto dd, auto v) { return VecSigmoid(dd, v); });
    case GemmActivation::kTanh:
      return ActivateTileWith(p, row, rows, col, cols, [](auto dd, auto v) { return VecTanh(dd, v); });
  }
}

// Accumulates one packed-A row tile against one B sliver over kc steps and
// writes the first `rows` rows (<= kRows) through StoreTileRow. `a` is the
// tile's micro-panel (kTileRows values per step; only the first kRows are
// read), `b` the sliver (panel-width values per step).
#define TSR_GEMM_ROW_FMA(r)                         \
  if constexpr (kRows > r) {                        \
    const auto a##r = hn::Set(d, a_q[a_off##r]); \
    c##r##0 = hn::MulAdd(a##r, b0, c##r##0);        \
    c##r##1 = hn::MulAdd(a##r, b1, c##r##1);        \
  }
// One step q of the k loop: a sliver row (two vectors) times the tile's
// kRows values of A.
#define TSR_GEMM_STEP(q)                                         \
  {                                                              \
    const auto b0 = hn::Load(d, b + (q) * width);                \
    const auto b1 = hn::Load(d, b + (q) * width + lanes);        \
    const float* HWY_RESTRICT a_q = a + (q) * kStep;             \
    TSR_GEMM_ROW_FMA(0)                                          \
    TSR_GEMM_ROW_FMA(1)                                          \
    TSR_GEMM_ROW_FMA(2)                                          \
    TSR_GEMM_ROW_FMA(3)                                          \
    TSR_GEMM_ROW_FMA(4)                                          \
    TSR_GEMM_ROW_FMA(5)                                          \
    TSR_GEMM_ROW_FMA(6)                                          \
    TSR_GEMM_ROW_FMA(7)                                          \
    TSR_GEMM_ROW_FMA(8)                                          \
    TSR_GEMM_ROW_FMA(9)                                          \
    TSR_GEMM_ROW_FMA(10)                                         \
    TSR_GEMM_ROW_FMA(11)                                         \
  }
#define TSR_GEMM_ROW_LOAD(r)                            \
  if constexpr (kRows > r) {                            \
    if (rows > r) {                                     \
      c##r##0 = hn::LoadU(d, y_tile + r * ldy);         \
      c##r##1 = hn::LoadU(d, y_tile + r * ldy + lanes); \
    }                                                   \
  }
#define TSR_GEMM_PARTIAL_ROW_LOAD(r)                                                        \
  if constexpr (kRows > r) {                                                                \
    if (rows > r) {                                                                         \
      std::memcpy(acc, y_tile + r * ldy, static_cast<size_t>(cols) * sizeof(float));        \
      c##r##0 = hn::Load(d, acc);                                                           \
      c##r##1 = hn::Load(d, acc + lanes);                                                   \
    }                                                                                       \
  }
#define TSR_GEMM_ROW_STORE(r)                                                                        \
  if constexpr (kRows > r) {                                                                         \
    if (rows > r) {                                                                                  \
      float* y_r = y_tile + r * ldy;                                                                 \
      if (full && !role.last) {                                                                      \
        hn::StoreU(c##r##0, d, y_r);                                                                 \
        hn::StoreU(c##r##1, d, y_r + lanes);                                                         \
      } else if (full && finish_in_registers) {                                                      \
        const float* c_row = use_c ? c_tile + r * c_stride_m : nullptr;                              \
        hn::StoreU(FinishVector(d, c##r##0, alpha, beta, c_row, c_stride_n, 0), d, y_r);             \
        hn::StoreU(FinishVector(d, c##r##1, alpha, beta, c_row, c_stride_n, lanes), d, y_r + lanes); \
      } else {                                                                                       \
        hn::Store(c##r##0, d, acc);                                                                  \
        hn::Store(c##r##1, d, acc + lanes);                                                          \
        StoreTileRow(p, store_role, row + r, col, cols, acc, false);                                 \
      }                                                                                              \
    }                                                                                                \
  }

// The last k block's epilogue of one vector of a full tile, in registers:
// alpha, then beta * C (a row, c_stride_n 1, or a repeated value,
// c_stride_n 0; c_row null when C is not used), the same operations in the
// same order as StoreTileRow's vector path, so the same bits.
template <class D, class V>
HWY_INLINE V FinishVector(D d, V v, V alpha, V beta, const float* c_row, int64_t c_stride_n, size_t offset) {
  v = hn::Mul(v, alpha);
  if (c_row != nullptr) v = hn::MulAdd(c_stride_n == 1 ? hn::LoadU(d, c_row + offset) : hn::Set(d, c_row[0]), beta, v);
  return v;
}

// Where row r of a tile finds op(A)[row + r, p0 + q]: at a[q * step +
// ARowOffset(r)]. Packed A (kPackedA): step kTileRows, offset r. A read in
// place (row-major, not packed): step 1, offset r * lda, with rows past
// `rows` reading the last real row instead (their sums are dropped), so
// nothing past A is read.
template <bool kPackedA>
HWY_INLINE int64_t ARowOffset(int64_t r, int64_t rows, int64_t lda) {
  if constexpr (kPackedA) {
    return r;
  } else {
    return (r < rows ? r : rows - 1) * lda;
  }
}

// kWholeTile: the caller guarantees a whole tile (rows == kRows, cols ==
// the panel width) and, in the last k block, a C that takes vectors
// (CTakesVectors), so the compiler drops every branch on them and the
// stack row (RunTile says why that pays).
template <int64_t kRows, bool kPackedA, bool kPrefetchB = false, bool kWholeTile = false>
HWY_NOINLINE void GemmMicroKernel(const GemmF32Params& p, BlockRole role, const float* HWY_RESTRICT a,
                                  const float* HWY_RESTRICT b, int64_t kc, int64_t row, int64_t rows, int64_t col,
                                  int64_t cols) {
  static_assert(kRows >= 1 && kRows <= 12, "twelve accumulator rows at most");
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const int64_t width = static_cast<int64_t>(kPanelVectors * lanes);
  if constexpr (kWholeTile) {
    rows = kRows;
    cols = width;
  }
  auto c00 = hn::Zero(d), c01 = hn::Zero(d), c10 = hn::Zero(d), c11 = hn::Zero(d);
  auto c20 = hn::Zero(d), c21 = hn::Zero(d), c30 = hn::Zero(d), c31 = hn::Zero(d);
  auto c40 = hn::Zero(d), c41 = hn::Zero(d), c50 = hn::Zero(d), c51 = hn::Zero(d);
  auto c60 = hn::Zero(d), c61 = hn::Zero(d), c70 = hn::Zero(d), c71 = hn::Zero(d);
  auto c80 = hn::Zero(d), c81 = hn::Zero(d), c90 = hn::Zero(d), c91 = hn::Zero(d);
  auto c100 = hn::Zero(d), c101 = hn::Zero(d), c110 = hn::Zero(d), c111 = hn::Zero(d);
  // Every tile continues the running sum of earlier k blocks in its
  // accumulators (loaded from Y) and, unless this is the last block, stores
  // them straight back: each output is one FMA chain over all of k, the
  // same whatever the blocking (kc, mc) and the thread count. A full-width
  // tile loads and stores its rows directly; a partial panel's rows go
  // through `acc` (its lanes past `cols` stay zero and are dropped). A full
  // tile writes all of `acc` before it reads it, so only a partial one
  // zeroes it: perf put 3% of the micro-kernel's samples of 2048 x 256 x
  // 768 at the zeroing stores, most likely queued behind the previous
  // tile's Y stores (cache misses) in the store buffer.
  const bool full = cols == width;
  // Y's layout (and below C's) in locals. Highway's vector stores write
  // through a may_alias type, so after each store to Y the compiler reloads
  // whatever it reads through `p`; the epilogue re-read p.y, p.ldy and C's
  // fields for every row. With locals, measured against that (AVX2, our EPYC
  // VM, the two binaries alternating, 6 runs of 3 repetitions): 64^3 1.016x
  // and 128^3 1.009x on one thread (faster in 6 of 6), 512^3 1.014x and
  // 1.009x, 512 x 768 x 768 1.006x and 1.009x; 256^3, 7 x 512 x 512 and
  // 32 x 1024 x 1024 level (0.997-1.013x). It never changes a bit.
  const int64_t ldy = p.ldy;
  float* const y_tile = p.y + row * ldy + col;
  HWY_ALIGN float acc[kPanelVectors * HWY_MAX_BYTES / sizeof(float)];
  if (!full) std::memset(acc, 0, sizeof(acc));
  if (!full && !role.first) {
    TSR_GEMM_PARTIAL_ROW_LOAD(0)
    TSR_GEMM_PARTIAL_ROW_LOAD(1)
    TSR_GEMM_PARTIAL_ROW_LOAD(2)
    TSR_GEMM_PARTIAL_ROW_LOAD(3)
    TSR_GEMM_PARTIAL_ROW_LOAD(4)
    TSR_GEMM_PARTIAL_ROW_LOAD(5)
    TSR_GEMM_PARTIAL_ROW_LOAD(6)
    TSR_GEMM_PARTIAL_ROW_LOAD(7)
    TSR_GEMM_PARTIAL_ROW_LOAD(8)
    TSR_GEMM_PARTIAL_ROW_LOAD(9)
    TSR_GEMM_PARTIAL_ROW_LOAD(10)
    TSR_GEMM_PARTIAL_ROW_LOAD(11)
  }
  if (full && !role.first) {
    TSR_GEMM_ROW_LOAD(0)
    TSR_GEMM_ROW_LOAD(1)
    TSR_GEMM_ROW_LOAD(2)
    TSR_GEMM_ROW_LOAD(3)
    TSR_GEMM_ROW_LOAD(4)
    TSR_GEMM_ROW_LOAD(5)
    TSR_GEMM_ROW_LOAD(6)
    TSR_GEMM_ROW_LOAD(7)
    TSR_GEMM_ROW_LOAD(8)
    TSR_GEMM_ROW_LOAD(9)
    TSR_GEMM_ROW_LOAD(10)
    TSR_GEMM_ROW_LOAD(11)
  }
  // What StoreTileRow still has to do with the accumulators: they hold the
  // whole running sum, so nothing is added from Y.
  const BlockRole store_role{true, role.last};
  constexpr int64_t kStep = kPackedA ? kTileRows : 1;
  const int64_t a_off0 = ARowOffset<kPackedA>(0, rows, p.lda), a_off1 = ARowOffset<kPackedA>(1, rows, p.lda);
  const int64_t a_off2 = ARowOffset<kPackedA>(2, rows, p.lda), a_off3 = ARowOffset<kPackedA>(3, rows, p.lda);
  const int64_t a_off4 = ARowOffset<kPackedA>(4, rows, p.lda), a_off5 = ARowOffset<kPackedA>(5, rows, p.lda);
  const int64_t a_off6 = ARowOffset<kPackedA>(6, rows, p.lda), a_off7 = ARowOffset<kPackedA>(7, rows, p.lda);
  const int64_t a_off8 = ARowOffset<kPackedA>(8, rows, p.lda), a_off9 = ARowOffset<kPackedA>(9, rows, p.lda);
  const int64_t a_off10 = ARowOffset<kPackedA>(10, rows, p.lda), a_off11 = ARowOffset<kPackedA>(11, rows, p.lda);
  int64_t q = 0;
  if constexpr (kRows == 1) {
    // One row: a second accumulator set for odd steps keeps two independent
    // chains per vector; they are summed once at the end (fixed order).
    auto e0 = hn::Zero(d), e1 = hn::Zero(d);
    for (; q + 2 <= kc; q += 2) {
      const auto a0 = hn::Set(d, a[q * kStep]);
      const auto a1 = hn::Set(d, a[(q + 1) * kStep]);
      c00 = hn::MulAdd(a0, hn::Load(d, b + q * width), c00);
      c01 = hn::MulAdd(a0, hn::Load(d, b + q * width + lanes), c01);
      e0 = hn::MulAdd(a1, hn::Load(d, b + (q + 1) * width), e0);
      e1 = hn::MulAdd(a1, hn::Load(d, b + (q + 1) * width + lanes), e1);
    }
    c00 = hn::Add(c00, e0);
    c01 = hn::Add(c01, e1);
  }
  if constexpr (kPrefetchB) {
    // The sliver row kGemmPrefetchBBytes (or kGemmPrefetchLongBBytes) ahead, while it is still in the
    // sliver (a prefetch never faults, but the pointer must stay valid).
    const int64_t ahead_bytes = kc > kGemmSinglePassMaxK ? kGemmPrefetchLongBBytes : kGemmPrefetchBBytes;
    const int64_t ahead = ahead_bytes / (width * static_cast<int64_t>(sizeof(float)));
#pragma GCC unroll 4
    for (; q + ahead < kc; ++q) {
      const float* next = b + (q + ahead) * width;
      hwy::Prefetch(next);
      if constexpr (HWY_MAX_BYTES >= 64) hwy::Prefetch(next + lanes);  // a row spans two lines
      TSR_GEMM_STEP(q)
    }
  }
#pragma GCC unroll 4
  for (; q < kc; ++q) {
    TSR_GEMM_STEP(q)
  }
  // A full tile's last block finishes in registers when C is absent, a
  // row or a scalar; other C strides go through StoreTileRow.
  const bool use_c = role.last && p.c != nullptr && p.beta != 0.0f;
  const bool finish_in_registers = role.last && (kWholeTile || CTakesVectors(p));
  const auto alpha = hn::Set(d, p.alpha);
  const auto beta = hn::Set(d, p.beta);
  const int64_t c_stride_m = p.c_stride_m, c_stride_n = p.c_stride_n;
  const float* const c_tile = use_c ? p.c + row * c_stride_m + col * c_stride_n : nullptr;
  TSR_GEMM_ROW_STORE(0)
  TSR_GEMM_ROW_STORE(1)
  TSR_GEMM_ROW_STORE(2)
  TSR_GEMM_ROW_STORE(3)
  TSR_GEMM_ROW_STORE(4)
  TSR_GEMM_ROW_STORE(5)
  TSR_GEMM_ROW_STORE(6)
  TSR_GEMM_ROW_STORE(7)
  TSR_GEMM_ROW_STORE(8)
  TSR_GEMM_ROW_STORE(9)
  TSR_GEMM_ROW_STORE(10)
  TSR_GEMM_ROW_STORE(11)
  if (role.last) ActivateTile(p, row, rows, col, cols);
}
#undef TSR_GEMM_STEP
#undef TSR_GEMM_ROW_FMA
#undef TSR_GEMM_ROW_LOAD
#undef TSR_GEMM_PARTIAL_ROW_LOAD
#undef TSR_GEMM_ROW_STORE

// Whether a one-block product runs its full 12-row tiles against pairs of
// full panels through GemmTwoPanelKernel: on targets with 32 vector
// registers of 16 floats (AVX-512), where it was measured.
inline constexpr bool kGemmTwoPanelTiles = kTileRows == 12 && HWY_MAX_BYTES == 64;

// Six rows of A against two adjacent full panels (slivers b0p, b1p), all of
// k in one block, written to Y rows [row, row + 6) and columns
// [col, col + 2 * panel width). `a` is where the six rows start: in a
// packed micro-panel (kPackedA: rows r0 .. r0 + 5 of a 12-row panel,
// kTileRows values per step) or in A itself (read in place: rows lda
// apart). Each row keeps four vector accumulators (oneDNN's register
// shape, 6 x 64 floats): per step four B loads and six broadcasts feed 24
// FMAs, where the 12 x 32 tile needs two loads and twelve broadcasts.
// Paired against the 12-row kernel on AVX-512 (Zen 5, four runs of 8-12),
// one-block products that store Y often for their FLOPs ran faster: 2048 x
// 256 x 1024 1.02-1.06x on one thread and 1.01-1.03x on two, 2048 x 128 x
// 768 1.01-1.03x, 1024^3 1.01-1.02x; 2048 x 256 x 768, 512 x 768 x 768 and
// 512^3 level (0.99-1.02x). With A read in place (four runs of 8-16; the
// first number one thread, the second two), 64^3 ran 1.07-1.13x and
// 1.07-1.10x, 128^3 1.05-1.06x and 1.02-1.10x (one run 0.85x: 14-17 us, two
// threads swing most), 256^3 1.03-1.05x and 0.99-1.05x, 128 x 768 x 3072
// 1.03-1.10x and 1.00-1.08x, 32 x 1024 x 1024 0.99-1.05x and 1.04-1.11x, or
// 1.27-1.29x and 1.14-1.22x in the runs where the 12-row kernel took 450 us
// instead of 345 (it swings between the two from one process to the next, as
// if on where its twelve rows, 4 KiB apart, fall in L1; six rows keep 350).
// It has no B prefetch for a sliver's first tile: prefetching both slivers
// 16 KiB ahead there gained 1.01-1.04x on 2048^3 and was level elsewhere,
// less than leaving k > kGemmSinglePassMaxK to the 12-row kernel (see
// GemmTaskF32), nor does it prefetch Y rows (level with 4 KiB row strides,
// 0.97-1.02x). Every output is the same FMA chain as in the 12-row kernel,
// in the same order, and the epilogue is FinishVector's, so the bits are the
// same.
template <bool kPackedA>
HWY_NOINLINE void GemmTwoPanelKernel(const GemmF32Params& p, const float* HWY_RESTRICT a,
                                     const float* HWY_RESTRICT b0p, const float* HWY_RESTRICT b1p, int64_t kc,
                                     int64_t row, int64_t col) {
  constexpr int64_t kStep = kPackedA ? kTileRows : 1;
  const int64_t a_off0 = ARowOffset<kPackedA>(0, 6, p.lda), a_off1 = ARowOffset<kPackedA>(1, 6, p.lda);
  const int64_t a_off2 = ARowOffset<kPackedA>(2, 6, p.lda), a_off3 = ARowOffset<kPackedA>(3, 6, p.lda);
  const int64_t a_off4 = ARowOffset<kPackedA>(4, 6, p.lda), a_off5 = ARowOffset<kPackedA>(5, 6, p.lda);
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const int64_t width = static_cast<int64_t>(kPanelVectors * lanes);
  auto c00 = hn::Zero(d), c01 = hn::Zero(d), c02 = hn::Zero(d), c03 = hn::Zero(d);
  auto c10 = hn::Zero(d), c11 = hn::Zero(d), c12 = hn::Zero(d), c13 = hn::Zero(d);
  auto c20 = hn::Zero(d), c21 = hn::Zero(d), c22 = hn::Zero(d), c23 = hn::Zero(d);
  auto c30 = hn::Zero(d), c31 = hn::Zero(d), c32 = hn::Zero(d), c33 = hn::Zero(d);
  auto c40 = hn::Zero(d), c41 = hn::Zero(d), c42 = hn::Zero(d), c43 = hn::Zero(d);
  auto c50 = hn::Zero(d), c51 = hn::Zero(d), c52 = hn::Zero(d), c53 = hn::Zero(d);
#define TSR_GEMM_TWO_PANEL_ROW(r)              \
  {                                            \
    const auto ar = hn::Set(d, a_q[a_off##r]); \
    c##r##0 = hn::MulAdd(ar, b0, c##r##0);     \
    c##r##1 = hn::MulAdd(ar, b1, c##r##1);     \
    c##r##2 = hn::MulAdd(ar, b2, c##r##2);     \
    c##r##3 = hn::MulAdd(ar, b3, c##r##3);     \
  }
#pragma GCC unroll 4
  for (int64_t q = 0; q < kc; ++q) {
    const auto b0 = hn::Load(d, b0p + q * width);
    const auto b1 = hn::Load(d, b0p + q * width + lanes);
    const auto b2 = hn::Load(d, b1p + q * width);
    const auto b3 = hn::Load(d, b1p + q * width + lanes);
    const float* HWY_RESTRICT a_q = a + q * kStep;
    TSR_GEMM_TWO_PANEL_ROW(0)
    TSR_GEMM_TWO_PANEL_ROW(1)
    TSR_GEMM_TWO_PANEL_ROW(2)
    TSR_GEMM_TWO_PANEL_ROW(3)
    TSR_GEMM_TWO_PANEL_ROW(4)
    TSR_GEMM_TWO_PANEL_ROW(5)
  }
#undef TSR_GEMM_TWO_PANEL_ROW
  const bool use_c = p.c != nullptr && p.beta != 0.0f;
  const auto alpha = hn::Set(d, p.alpha);
  const auto beta = hn::Set(d, p.beta);
  const int64_t ldy = p.ldy;  // locals, as in GemmMicroKernel: a store to Y may alias `p`
  float* const y_tile = p.y + row * ldy + col;
  const int64_t c_stride_m = p.c_stride_m, c_stride_n = p.c_stride_n;
  const float* const c_tile = use_c ? p.c + row * c_stride_m + col * c_stride_n : nullptr;
#define TSR_GEMM_TWO_PANEL_STORE(r)                                                                        \
  {                                                                                                        \
    float* y_r = y_tile + r * ldy;                                                                         \
    const float* c_r = use_c ? c_tile + r * c_stride_m : nullptr;                                          \
    const float* c_r1 = use_c ? c_r + width * c_stride_n : nullptr;                                        \
    hn::StoreU(FinishVector(d, c##r##0, alpha, beta, c_r, c_stride_n, 0), d, y_r);                         \
    hn::StoreU(FinishVector(d, c##r##1, alpha, beta, c_r, c_stride_n, lanes), d, y_r + lanes);             \
    hn::StoreU(FinishVector(d, c##r##2, alpha, beta, c_r1, c_stride_n, 0), d, y_r + width);                \
    hn::StoreU(FinishVector(d, c##r##3, alpha, beta, c_r1, c_stride_n, lanes), d, y_r + width + lanes);    \
  }
  TSR_GEMM_TWO_PANEL_STORE(0)
  TSR_GEMM_TWO_PANEL_STORE(1)
  TSR_GEMM_TWO_PANEL_STORE(2)
  TSR_GEMM_TWO_PANEL_STORE(3)
  TSR_GEMM_TWO_PANEL_STORE(4)
  TSR_GEMM_TWO_PANEL_STORE(5)
#undef TSR_GEMM_TWO_PANEL_STORE
  ActivateTile(p, row, 6, col, 2 * width);
}

// Runs the micro-kernel with the fewest accumulator rows that cover `rows`
// (packed rows past `rows` are zero, and in place the last row stands in for
// them, so extra rows are harmless). A whole tile (all kTileRows rows, a full
// panel, and in the last k block a C taking vectors: most tiles of most
// products) runs the kWholeTile kernel, which has none of the general kernel's
// branches on rows, columns and C, and no stack row; in place, so do the 4-row
// tiles of the last 8 rows (GemmTaskF32). The general kernel spent 2.4% of its
// samples at 256^3 outside its k loop, and fitting the time of 256 x k x 256
// for k = 32 .. 256 to a line put its fixed cost at 18-21 ns a tile (oneDNN's
// 16-17, whole tiles 15-16). Measured against the general kernel for every tile
// (AVX2, our EPYC VM; one thread: the two alternating in one process in 8 ms
// slices over 6 random placements of the buffers, loops aligned to 64 bytes and
// not, so that code placement does not decide): 64^3 1.023-1.028x, 128^3
// 1.013-1.014x, 256^3 1.007-1.012x, 256 x 64 x 256 1.024x, 512^3 1.004-1.009x,
// 1024^3 1.005x, 128 x 768 x 3072 1.011x, 512 x 768 x 768 1.004-1.006x (faster
// in 5 or 6 of 6 placements each), 32 x 1024 x 1024 level; two threads (20
// rounds of 50 ms slices after a pause): 64^3 1.019x, 128^3 1.013x, 256^3
// 1.005x, 512^3 1.002x. It served only one-block products at first; serving
// every k block as well, 2048^3 (four blocks of 512) ran 1.006-1.024x as fast
// (six runs of 6 placements x 6 rounds, median 1.013x) and one-block products
// stayed level (0.999-1.002x). It never changes a bit (the same FMA chains, and
// FinishVector's epilogue).
template <bool kPackedA>
HWY_INLINE void RunTile(const GemmF32Params& p, BlockRole role, const float* a, const float* b, int64_t kc,
                        int64_t row, int64_t rows, int64_t col, int64_t cols) {
  const bool whole = cols == p.b.panel_width && (!role.last || CTakesVectors(p));
  if (whole && rows == kTileRows) {
    return GemmMicroKernel<kTileRows, kPackedA, false, true>(p, role, a, b, kc, row, rows, col, cols);
  }
  if constexpr (!kPackedA && kTileRows == 6) {
    if (whole && rows == 4) return GemmMicroKernel<4, false, false, true>(p, role, a, b, kc, row, rows, col, cols);
  }
  if (rows <= 1) return GemmMicroKernel<1, kPackedA>(p, role, a, b, kc, row, rows, col, cols);
  if (rows <= 2) return GemmMicroKernel<2, kPackedA>(p, role, a, b, kc, row, rows, col, cols);
  if (rows <= 4) return GemmMicroKernel<4, kPackedA>(p, role, a, b, kc, row, rows, col, cols);
  if (kTileRows == 6 || rows <= 6) return GemmMicroKernel<6, kPackedA>(p, role, a, b, kc, row, rows, col, cols);
  if (rows <= 8) return GemmMicroKernel<8, kPackedA>(p, role, a, b, kc, row, rows, col, cols);
  return GemmMicroKernel<kTileRows, kPackedA>(p, role, a, b, kc, row, rows, col, cols);
}

// Rows [row0, row0 + rows) of a one-block product against the full panels
// `panel` and `panel` + 1: full 12-row tiles as two 6-row halves through
// GemmTwoPanelKernel, a last partial tile through RunTile, one panel at a
// time. `a_block` is the block's A: packed (tile t at t * kTileRows * kc)
// or read in place (row r at r * lda).
template <bool kPackedA>
HWY_INLINE void RunPanelPair(const GemmF32Params& p, const float* a_block, int64_t kc, int64_t row0, int64_t rows,
                             int64_t panel) {
  const int64_t width = p.b.panel_width;
  const float* sliver0 = p.b.data + panel * p.k * width;
  const float* sliver1 = sliver0 + p.k * width;
  const int64_t col = panel * width;
  const int64_t row_stride = kPackedA ? kc : p.lda;  // from a tile's row 0 to row r: r * row_stride
  constexpr int64_t kHalf = kTileRows / 2;
  int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) {
    const float* tile = a_block + r * row_stride;
    GemmTwoPanelKernel<kPackedA>(p, tile, sliver0, sliver1, kc, row0 + r, col);
    const float* lower_half = tile + ARowOffset<kPackedA>(kHalf, kTileRows, p.lda);
    GemmTwoPanelKernel<kPackedA>(p, lower_half, sliver0, sliver1, kc, row0 + r + kHalf, col);
  }
  if (r < rows) {
    const BlockRole whole{true, true};
    RunTile<kPackedA>(p, whole, a_block + r * row_stride, sliver0, kc, row0 + r, rows - r, col, width);
    RunTile<kPackedA>(p, whole, a_block + r * row_stride, sliver1, kc, row0 + r, rows - r, col + width, width);
  }
}

// GEMV (m == 1): Y[0, :] = op(A) row times B, panels [panel0, panel_end).
// With one row there is no reuse of B to block for, so the whole inner
// dimension runs in registers: kPanels panels at a time (2 * kPanels
// independent chains, kPanels B streams), A read in place (stride 1, or lda
// when transposed), no packing.
template <int64_t kPanels>
HWY_NOINLINE void GemvPanelsF32(const GemmF32Params& p, int64_t panel) {
  static_assert(kPanels >= 1 && kPanels <= 4, "four panels at most");
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const int64_t width = p.b.panel_width;
  const int64_t a_stride = p.trans_a ? p.lda : 1;
  const float* HWY_RESTRICT b = p.b.data + panel * p.k * width;
  const int64_t panel_floats = p.k * width;
  auto c00 = hn::Zero(d), c01 = hn::Zero(d), c10 = hn::Zero(d), c11 = hn::Zero(d);
  auto c20 = hn::Zero(d), c21 = hn::Zero(d), c30 = hn::Zero(d), c31 = hn::Zero(d);
  for (int64_t q = 0; q < p.k; ++q) {
    const auto a = hn::Set(d, p.a[q * a_stride]);
    const float* HWY_RESTRICT bq = b + q * width;
    c00 = hn::MulAdd(a, hn::Load(d, bq), c00);
    c01 = hn::MulAdd(a, hn::Load(d, bq + lanes), c01);
    if constexpr (kPanels > 1) {
      c10 = hn::MulAdd(a, hn::Load(d, bq + panel_floats), c10);
      c11 = hn::MulAdd(a, hn::Load(d, bq + panel_floats + lanes), c11);
    }
    if constexpr (kPanels > 2) {
      c20 = hn::MulAdd(a, hn::Load(d, bq + 2 * panel_floats), c20);
      c21 = hn::MulAdd(a, hn::Load(d, bq + 2 * panel_floats + lanes), c21);
    }
    if constexpr (kPanels > 3) {
      c30 = hn::MulAdd(a, hn::Load(d, bq + 3 * panel_floats), c30);
      c31 = hn::MulAdd(a, hn::Load(d, bq + 3 * panel_floats + lanes), c31);
    }
  }
  HWY_ALIGN float acc[kPanelVectors * HWY_MAX_BYTES / sizeof(float)];
  const auto store = [&](int64_t i, decltype(c00) lo, decltype(c00) hi) {
    const int64_t col = (panel + i) * width;
    const int64_t cols = (p.n - col) < width ? (p.n - col) : width;
    hn::Store(lo, d, acc);
    hn::Store(hi, d, acc + lanes);
    StoreTileRow(p, BlockRole{true, true}, 0, col, cols, acc);
  };
  store(0, c00, c01);
  if constexpr (kPanels > 1) store(1, c10, c11);
  if constexpr (kPanels > 2) store(2, c20, c21);
  if constexpr (kPanels > 3) store(3, c30, c31);
}

// Whether Y's row stride is a multiple of 4 KiB, so that the rows of a
// tile share L1 sets (and evict each other) and GemmTaskF32 prefetches
// each next tile's Y rows (PrefetchTileY).
HWY_INLINE bool YRowsShareL1Sets(int64_t ldy) {
  constexpr int64_t kPageFloats = 4096 / sizeof(float);
  return ldy % kPageFloats == 0;
}

// Asks for the Y rows [row, row + rows) of the tile at column `col` (its
// lines of one panel row) for writing, into L2: the micro-kernel's first
// loads of them (the running sum of earlier k blocks) or its stores then
// find them there. Called for the next tile while the current one
// computes, and only where YRowsShareL1Sets: there a tile's stores missed
// often, and paired on AVX-512 (Zen 5, two runs of 6-8) 2048 x 256 x 1024
// ran 1.06-1.11x as fast on one thread and 1.08-1.11x on two, 2048 x 512 x
// 2048 1.07x and 1.03x, 128 x 768 x 3072 1.02x and 1.03x. Elsewhere the
// prefetches were only cost, about 50 cycles a tile (24 of them and their
// loop) beside the ~1536 of a 12-row tile's FMAs at k = 128; leaving them
// out there, paired (AVX-512, Zen 5, runs of 8-10): 64^3 1.04-1.05x on
// one thread and 1.05-1.06x on two, 128^3 1.03-1.07x and 1.00-1.02x, 256^3
// 1.00-1.03x and 1.01-1.03x, 512 x 768 x 768 1.03x and 1.03x; 512^3,
// 384^3, 1000^3 and 2048 x 256 x 768 level (0.99-1.01x). It never changes
// a bit.
HWY_INLINE void PrefetchTileY(const GemmF32Params& p, int64_t row, int64_t rows, int64_t col, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* y = p.y + (row + r) * p.ldy + col;
    for (int64_t j = 0; j < width; j += kGemmLineFloats) __builtin_prefetch(y + j, 1, 2);
  }
}

// Row block `rb` of one product (rows as RowBlockOf) by panel groups
// [pg_begin, pg_end): panels [pg_begin * panels_per_task, ...). Several
// groups of one row block share each packed A block. `a_pack` holds
// kGemmPackAFloats floats.
HWY_INLINE void GemmTaskF32(const GemmF32Params& p, const GemmTaskGrid& t, int64_t rb, int64_t pg_begin,
                            int64_t pg_end, float* HWY_RESTRICT a_pack) {
  int64_t row0 = 0, rows = 0;
  RowBlockOf(t, p.m, rb, &row0, &rows);
  const int64_t panel0 = pg_begin * t.panels_per_task;
  const int64_t panel_end = (pg_end * t.panels_per_task) < t.panels ? (pg_end * t.panels_per_task) : t.panels;
  const int64_t width = p.b.panel_width;
  if (p.k == 0) {
    // No products: Y = beta * C (or 0), through the same epilogue.
    HWY_ALIGN float zeros[kPanelVectors * HWY_MAX_BYTES / sizeof(float)] = {};
    for (int64_t panel = panel0; panel < panel_end; ++panel) {
      const int64_t col = panel * width;
      const int64_t cols = (p.n - col) < width ? (p.n - col) : width;
      for (int64_t r = 0; r < rows; ++r) StoreTileRow(p, BlockRole{true, true}, row0 + r, col, cols, zeros);
    }
    return;
  }
  if (p.m == 1) {
    int64_t panel = panel0;
    for (; panel + 4 <= panel_end; panel += 4) GemvPanelsF32<4>(p, panel);
    for (; panel < panel_end; ++panel) GemvPanelsF32<1>(p, panel);
    return;
  }
  const int64_t block_k = t.blocking.kc;
  const bool prefetch_y = YRowsShareL1Sets(p.ldy);
  for (int64_t p0 = 0; p0 < p.k; p0 += block_k) {
    const int64_t kc = (p.k - p0) < block_k ? (p.k - p0) : block_k;
    const BlockRole role{p0 == 0, p0 + kc == p.k};
    if (t.pack_a) PackABlock(p, row0, rows, p0, kc, a_pack);
    int64_t panel = panel0;
    // Pairs of full panels through GemmTwoPanelKernel (RunPanelPair), up to
    // kGemmSinglePassMaxK: a longer block (k up to 2048 on a large L2)
    // keeps its 48-row A block (384 KiB) in L2 beside one 256 KiB sliver,
    // and a pair of them left too little room: 2048^3 ran 0.93-0.97x as
    // fast as with the 12-row kernel on one thread and 0.96-0.98x on two
    // (AVX-512, Zen 5, two runs of 8-10 paired repetitions), 1024 x 2048 x
    // 1024 0.98-1.03x and 0.98-0.99x.
    if (kGemmTwoPanelTiles && role.first && role.last && kc <= kGemmSinglePassMaxK && CTakesVectors(p)) {
      for (; panel + 2 <= panel_end && (panel + 2) * width <= p.n; panel += 2) {
        if (t.pack_a) {
          RunPanelPair<true>(p, a_pack, kc, row0, rows, panel);
        } else {
          RunPanelPair<false>(p, p.a + row0 * p.lda, kc, row0, rows, panel);
        }
      }
    }
    for (; panel < panel_end; ++panel) {
      const float* sliver = p.b.data + panel * p.k * width + p0 * width;
      const int64_t col = panel * width;
      const int64_t cols = (p.n - col) < width ? (p.n - col) : width;
      for (int64_t r = 0; r < rows;) {
        int64_t tile_rows = (rows - r) < kTileRows ? (rows - r) : kTileRows;
        // Read in place, the last 8 rows of a 6-row target run as two 4-row
        // tiles (8 independent FMA chains each) instead of 6 + 2 (the 2-row
        // tile has 4 chains, half the FMA rate at 4 cycles latency x 2
        // ports): M = 8, 32, 128, and 256 as two 128-row blocks. Each
        // output's chain is the same.
        if (!t.pack_a && kTileRows == 6 && rows - r == kTileRows + 2) tile_rows = 4;
        if (prefetch_y && r + tile_rows < rows) {
          const int64_t next = r + tile_rows;
          PrefetchTileY(p, row0 + next, (rows - next) < kTileRows ? (rows - next) : kTileRows, col, cols);
        } else if (prefetch_y && panel + 1 < panel_end) {
          const int64_t next_cols = (p.n - col - width) < width ? (p.n - col - width) : width;
          PrefetchTileY(p, row0, rows < kTileRows ? rows : kTileRows, col + width, next_cols);
        }
        // The first tile of a long sliver (k block > kGemmKc) that later
        // tiles reuse reads it from L3 or memory, and prefetches it ahead:
        // see kGemmPrefetchBBytes. With A read in place that tile is whole,
        // or the first 4-row one of M = 8; a tile alone in its block
        // gains nothing (4 x 1024 x 1024: 0.98-1.00x).
        const bool prefetch_b = r == 0 && tile_rows < rows && block_k > kGemmKc;
        const float* a_in_place = t.pack_a ? nullptr : p.a + (row0 + r) * p.lda + p0;
        if (prefetch_b && tile_rows == kTileRows && t.pack_a) {
          GemmMicroKernel<kTileRows, true, true>(p, role, a_pack, sliver, kc, row0, tile_rows, col, cols);
        } else if (prefetch_b && tile_rows == kTileRows) {
          GemmMicroKernel<kTileRows, false, true>(p, role, a_in_place, sliver, kc, row0, tile_rows, col, cols);
        } else if (prefetch_b && tile_rows == 4 && !t.pack_a) {
          GemmMicroKernel<4, false, true>(p, role, a_in_place, sliver, kc, row0, tile_rows, col, cols);
        } else if (t.pack_a) {
          RunTile<true>(p, role, a_pack + r * kc, sliver, kc, row0 + r, tile_rows, col, cols);
        } else {
          RunTile<false>(p, role, a_in_place, sliver, kc, row0 + r, tile_rows, col, cols);
        }
        r += tile_rows;
      }
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
