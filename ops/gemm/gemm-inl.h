// SIMD code of the GEMM family, compiled once per Highway target.
//
// Maths
//   Y[i, j] = alpha * sum_p op(A)[i, p] * B[p, j] + beta * C(i, j), with the
//   sum accumulated in float by fused multiply-adds in order p = 0 .. k-1,
//   one accumulator per output element. The error of each element is the
//   usual bound of a length-k dot product, |dY| <= k u sum_p |a_p b_p|
//   (first order, u = 2^-24), plus two roundings for the epilogue.
//
// Packed B layout (see gemm.h)
//   Panels of kPanelVectors vectors (the panel width), each k rows of
//   panel-width contiguous floats, zero-padded past column n. One row of a
//   panel is therefore two aligned vector loads.
//
// Micro-kernel
//   A tile is up to kTileRows rows of Y by one panel. Its kTileRows x 2
//   accumulators stay in registers for the whole k loop: each step loads
//   the panel row (2 vectors), broadcasts one element of each A row, and
//   issues 2 * kTileRows FMAs. With kTileRows = 6 that is 12 independent
//   accumulators, enough to cover the FMA latency on current x86 and ARM
//   cores. A is read in place (no packing) through a row stride and a
//   column stride, which is how transA costs nothing extra. This is the
//   straightforward kernel; cache blocking over k and A packing come later.
//
// Tail contract
//   Rows past m are never touched: the micro-kernel is instantiated for
//   1..kTileRows rows. Columns past n exist only in the zero padding of the
//   last panel; that tile's accumulators go through a stack buffer and only
//   the n - column columns are written. Nothing outside A, B, C and Y is
//   read or written.
//
// Partitioning
//   Tiles are numbered panel-major (all row blocks of panel 0, then panel
//   1, ...) so consecutive tiles of one chunk reuse the same B panel from
//   cache. Each tile is computed whole by one call, and no sum crosses
//   tiles, so the split and the thread count never change a result bit.

// Per-target include guard (toggled by foreach_target.h).
#if defined(TESSERA_OPS_GEMM_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TESSERA_OPS_GEMM_GEMM_INL_H_
#undef TESSERA_OPS_GEMM_GEMM_INL_H_
#else
#define TESSERA_OPS_GEMM_GEMM_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "ops/gemm/gemm.h"

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline constexpr size_t kPanelVectors = 2;
inline constexpr int64_t kTileRows = kGemmTileRows;

HWY_INLINE int64_t PanelWidthF32() {
  const hn::ScalableTag<float> d;
  return static_cast<int64_t>(kPanelVectors * hn::Lanes(d));
}

// Tile geometry of one product.
struct GemmTiling {
  int64_t row_blocks = 0;
  int64_t panels = 0;
  int64_t tiles() const { return row_blocks * panels; }
};

HWY_INLINE GemmTiling TilingOf(const GemmF32Params& p) {
  GemmTiling t;
  t.row_blocks = (p.m + kTileRows - 1) / kTileRows;
  t.panels = (p.n + p.b.panel_width - 1) / p.b.panel_width;
  return t;
}

// Y[row, col..col+cols) = alpha * acc + beta * C for one row of a tile.
// `acc` holds the row's panel-width accumulators (cols <= panel width).
// The vector path covers full panels whose C is a row (stride_n 1) or a
// repeated value (stride_n 0); everything else goes element by element with
// the same operations (fma), so results match either way.
HWY_INLINE void StoreTileRow(const GemmF32Params& p, int64_t row, int64_t col, int64_t cols, const float* acc) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  float* y = p.y + row * p.ldy + col;
  const bool use_c = p.c != nullptr && p.beta != 0.0f;
  const float* c_row = use_c ? p.c + row * p.c_stride_m + col * p.c_stride_n : nullptr;
  const auto alpha = hn::Set(d, p.alpha);
  const auto beta = hn::Set(d, p.beta);
  int64_t j = 0;
  if (!use_c || p.c_stride_n == 0 || p.c_stride_n == 1) {
    for (; j + lanes <= cols; j += lanes) {
      auto v = hn::Mul(hn::Load(d, acc + j), alpha);
      if (use_c) {
        const auto c = p.c_stride_n == 1 ? hn::LoadU(d, c_row + j) : hn::Set(d, c_row[0]);
        v = hn::MulAdd(c, beta, v);
      }
      hn::StoreU(v, d, y + j);
    }
  }
  for (; j < cols; ++j) {
    const float v = acc[j] * p.alpha;
    y[j] = use_c ? hn::GetLane(hn::MulAdd(hn::Set(d, c_row[j * p.c_stride_n]), beta, hn::Set(d, v))) : v;
  }
}

// Computes the tile of kRows rows starting at `row` and the panel starting
// at column `col`.
template <int64_t kRows>
HWY_NOINLINE void GemmTileF32(const GemmF32Params& p, int64_t row, int64_t panel) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const int64_t width = p.b.panel_width;
  const int64_t col = panel * width;
  const float* HWY_RESTRICT b = p.b.data + panel * p.k * width;
  // Element (i, q) of op(A) is a[i * a_row + q * a_col].
  const int64_t a_row = p.trans_a ? 1 : p.lda;
  const int64_t a_col = p.trans_a ? p.lda : 1;
  const float* HWY_RESTRICT a = p.a + row * a_row;

  auto c00 = hn::Zero(d), c01 = hn::Zero(d);
  auto c10 = hn::Zero(d), c11 = hn::Zero(d);
  auto c20 = hn::Zero(d), c21 = hn::Zero(d);
  auto c30 = hn::Zero(d), c31 = hn::Zero(d);
  auto c40 = hn::Zero(d), c41 = hn::Zero(d);
  auto c50 = hn::Zero(d), c51 = hn::Zero(d);
  for (int64_t q = 0; q < p.k; ++q) {
    const auto b0 = hn::Load(d, b + q * width);
    const auto b1 = hn::Load(d, b + q * width + lanes);
    const float* HWY_RESTRICT aq = a + q * a_col;
    {
      const auto a0 = hn::Set(d, aq[0]);
      c00 = hn::MulAdd(a0, b0, c00);
      c01 = hn::MulAdd(a0, b1, c01);
    }
    if constexpr (kRows > 1) {
      const auto a1 = hn::Set(d, aq[a_row]);
      c10 = hn::MulAdd(a1, b0, c10);
      c11 = hn::MulAdd(a1, b1, c11);
    }
    if constexpr (kRows > 2) {
      const auto a2 = hn::Set(d, aq[2 * a_row]);
      c20 = hn::MulAdd(a2, b0, c20);
      c21 = hn::MulAdd(a2, b1, c21);
    }
    if constexpr (kRows > 3) {
      const auto a3 = hn::Set(d, aq[3 * a_row]);
      c30 = hn::MulAdd(a3, b0, c30);
      c31 = hn::MulAdd(a3, b1, c31);
    }
    if constexpr (kRows > 4) {
      const auto a4 = hn::Set(d, aq[4 * a_row]);
      c40 = hn::MulAdd(a4, b0, c40);
      c41 = hn::MulAdd(a4, b1, c41);
    }
    if constexpr (kRows > 5) {
      const auto a5 = hn::Set(d, aq[5 * a_row]);
      c50 = hn::MulAdd(a5, b0, c50);
      c51 = hn::MulAdd(a5, b1, c51);
    }
  }

  // The epilogue reads the accumulators from an aligned stack row, which
  // also serves the partial last panel.
  HWY_ALIGN float acc[kPanelVectors * HWY_MAX_BYTES / sizeof(float)];
  const int64_t cols = (p.n - col) < width ? (p.n - col) : width;
  const auto finish_row = [&](int64_t r, decltype(c00) lo, decltype(c00) hi) {
    hn::Store(lo, d, acc);
    hn::Store(hi, d, acc + lanes);
    StoreTileRow(p, row + r, col, cols, acc);
  };
  finish_row(0, c00, c01);
  if constexpr (kRows > 1) finish_row(1, c10, c11);
  if constexpr (kRows > 2) finish_row(2, c20, c21);
  if constexpr (kRows > 3) finish_row(3, c30, c31);
  if constexpr (kRows > 4) finish_row(4, c40, c41);
  if constexpr (kRows > 5) finish_row(5, c50, c51);
}

// Tiles [begin, end) of the product, numbered panel-major.
HWY_INLINE void GemmTilesF32(const GemmF32Params& p, const GemmTiling& t, int64_t begin, int64_t end) {
  static_assert(kTileRows == 6, "GemmTileF32 has six accumulator rows");
  for (int64_t tile = begin; tile < end; ++tile) {
    const int64_t panel = tile / t.row_blocks;
    const int64_t row = (tile % t.row_blocks) * kTileRows;
    switch (p.m - row < kTileRows ? p.m - row : kTileRows) {
      case 1: GemmTileF32<1>(p, row, panel); break;
      case 2: GemmTileF32<2>(p, row, panel); break;
      case 3: GemmTileF32<3>(p, row, panel); break;
      case 4: GemmTileF32<4>(p, row, panel); break;
      case 5: GemmTileF32<5>(p, row, panel); break;
      default: GemmTileF32<6>(p, row, panel); break;
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
