// Per-target entry points of the GEMM family, their dispatchers, and the
// target-independent parts (packing, parameter checks, work splitting). The
// maths, the packed layout and the partitioning rule are described at the
// top of gemm-inl.h.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/gemm/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/gemm/gemm-inl.h"

#include <algorithm>

HWY_BEFORE_NAMESPACE();
namespace tessera::ops {
namespace HWY_NAMESPACE {

int64_t GemmF32PanelWidthKernel() { return PanelWidthF32(); }

// Tasks [begin, end) of `count` products of equal shape, numbered
// product-major: item = product * tasks_per_product + task. `a_pack` holds
// kGemmPackAFloats floats.
void GemmF32TasksKernel(const GemmF32Params* params, const GemmTaskGrid& grid, int64_t begin, int64_t end,
                        float* a_pack) {
  const int64_t per_product = grid.count();
  // Consecutive tasks of one row block run as one call, so they pack each
  // A block once.
  for (int64_t item = begin; item < end;) {
    const int64_t product = item / per_product;
    const int64_t rb = (item % per_product) / grid.panel_groups;
    const int64_t pg_begin = (item % per_product) % grid.panel_groups;
    const int64_t pg_end = std::min(grid.panel_groups, pg_begin + (end - item));
    GemmTaskF32(params[product], grid, rb, pg_begin, pg_end, a_pack);
    item += pg_end - pg_begin;
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace tessera::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "hwy/aligned_allocator.h"

namespace tessera::ops {

HWY_EXPORT(GemmF32PanelWidthKernel);
HWY_EXPORT(GemmF32TasksKernel);

namespace {

// FLOPs per ParallelFor chunk: ~2^20 FLOPs is ~10-20 microseconds on one
// core, which amortises a TBB task (~1 us) while still giving small
// products a few chunks per thread.
constexpr double kChunkFlops = 1 << 20;

// Products that pack nothing split at a quarter of that. A GEMV (M = 1)
// streams B once and is bound by memory, not FMAs; two cores read it about
// twice as fast: 1 x 512 x 512 (2^19 FLOPs, ~16 us) runs as two chunks on
// two threads. A product that reads A in place has no packing to amortise,
// and 64^3 (2^19 FLOPs, ~6 us) runs as two chunks (GemmPanelsPerTask).
constexpr double kNoPackChunkFlops = 1 << 18;

// Matrices with fewer floats than this pack on the calling thread.
constexpr int64_t kParallelPackFloats = 1 << 16;

// Each thread packs A blocks into its own buffer, allocated on first use
// and kept for the thread's lifetime (no allocation per call).
float* ThreadAPackBuffer() {
  thread_local hwy::AlignedFreeUniquePtr<float[]> buffer;
  if (!buffer) buffer = hwy::AllocateAligned<float>(static_cast<size_t>(kGemmPackAFloats));
  return buffer.get();
}

template <typename Fn>
void RunChunks(const ParallelRunner* runner, int64_t n, int64_t grain, const Fn& fn) {
  if (n <= 0) return;
  if (runner == nullptr || n <= grain) {
    fn(int64_t{0}, n);
    return;
  }
  runner->ParallelFor(
      n, grain, [](void* c, int64_t begin, int64_t end) { (*static_cast<const Fn*>(c))(begin, end); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

Status CheckParams(const GemmF32Params& p, const GemmF32Params& first, int64_t panel_width) {
  if (p.m < 0 || p.n < 0 || p.k < 0) {
    return Error(StatusCode::kInternal, "GemmF32: negative size m=", p.m, " n=", p.n, " k=", p.k);
  }
  if (p.m != first.m || p.n != first.n || p.k != first.k) {
    return Error(StatusCode::kInternal, "GemmF32Batch: products differ in shape");
  }
  if (p.b.k != p.k || p.b.n != p.n) {
    return Error(StatusCode::kInternal, "GemmF32: packed B is [", p.b.k, ", ", p.b.n, "], expected [", p.k, ", ",
                 p.n, "]");
  }
  if (p.b.panel_width != panel_width) {
    return Error(StatusCode::kInternal, "GemmF32: B was packed with panel width ", p.b.panel_width,
                 " but the current SIMD target uses ", panel_width, "; repack it");
  }
  if (p.m == 0 || p.n == 0) return Status::Ok();
  if (p.y == nullptr || p.ldy < p.n) return Error(StatusCode::kInternal, "GemmF32: bad output (ldy ", p.ldy, ")");
  if (p.k > 0) {
    if (p.a == nullptr || p.b.data == nullptr) return Error(StatusCode::kInternal, "GemmF32: null operand");
    if (p.lda < (p.trans_a ? p.m : p.k)) return Error(StatusCode::kInternal, "GemmF32: lda ", p.lda, " too small");
  }
  return Status::Ok();
}

}  // namespace

int64_t GemmF32PanelWidth() { return HWY_DYNAMIC_DISPATCH(GemmF32PanelWidthKernel)(); }

namespace {
std::atomic<int64_t> l2_bytes_for_test{0};  // SetGemmL2BytesForTest; 0: the host's
}  // namespace

int64_t GemmL2Bytes() {
  const int64_t for_test = l2_bytes_for_test.load(std::memory_order_relaxed);
  if (for_test > 0) return for_test;
  static const int64_t bytes = [] {
    long reported = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    reported = sysconf(_SC_LEVEL2_CACHE_SIZE);  // glibc; 0 or -1 when unknown
#endif
    return reported > 0 ? static_cast<int64_t>(reported) : int64_t{512} * 1024;
  }();
  return bytes;
}

void SetGemmL2BytesForTest(int64_t bytes) { l2_bytes_for_test.store(bytes, std::memory_order_relaxed); }

int64_t PackedBF32Floats(int64_t k, int64_t n, int64_t panel_width) {
  return ((n + panel_width - 1) / panel_width) * k * panel_width;
}

void PackBF32(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, int64_t panel_width, float* packed,
              const ParallelRunner* runner) {
  const int64_t panels = (n + panel_width - 1) / panel_width;
  const auto pack_panels = [&](int64_t begin, int64_t end) {
    for (int64_t panel = begin; panel < end; ++panel) {
      float* out = packed + panel * k * panel_width;
      const int64_t col0 = panel * panel_width;
      const int64_t cols = std::min(panel_width, n - col0);
      for (int64_t q = 0; q < k; ++q, out += panel_width) {
        if (!trans_b) {
          std::memcpy(out, b + q * ldb + col0, static_cast<size_t>(cols) * sizeof(float));
        } else {
          for (int64_t j = 0; j < cols; ++j) out[j] = b[(col0 + j) * ldb + q];
        }
        std::fill(out + cols, out + panel_width, 0.0f);
      }
    }
  };
  const int64_t grain = std::max<int64_t>(1, kParallelPackFloats / std::max<int64_t>(1, k * panel_width));
  RunChunks(PackedBF32Floats(k, n, panel_width) >= kParallelPackFloats ? runner : nullptr, panels, grain,
            pack_panels);
}

StatusOr<PackedBF32> PackedBF32::Pack(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, int64_t count,
                                      int64_t batch_stride, const ParallelRunner* runner) {
  if (k < 0 || n < 0 || count < 0) {
    return Error(StatusCode::kInternal, "PackedBF32: negative size k=", k, " n=", n, " count=", count);
  }
  PackedBF32 result;
  result.k_ = k;
  result.n_ = n;
  result.count_ = count;
  result.panel_width_ = GemmF32PanelWidth();
  result.matrix_floats_ = PackedBF32Floats(k, n, result.panel_width_);
  TSR_ASSIGN_OR_RETURN(
      result.storage_,
      AlignedBuffer::Allocate(static_cast<size_t>(result.matrix_floats_ * count) * sizeof(float)));
  for (int64_t i = 0; i < count; ++i) {
    PackBF32(b + i * batch_stride, ldb, trans_b, k, n, result.panel_width_,
             static_cast<float*>(result.storage_.data()) + i * result.matrix_floats_, runner);
  }
  return result;
}

PackedBF32View PackedBF32::view(int64_t i) const {
  PackedBF32View v;
  v.data = static_cast<const float*>(storage_.data()) + i * matrix_floats_;
  v.k = k_;
  v.n = n_;
  v.panel_width = panel_width_;
  return v;
}

Status GemmF32(const GemmF32Params& params, const ParallelRunner* runner) {
  return GemmF32Batch(&params, 1, runner);
}

Status GemmF32Batch(const GemmF32Params* params, int64_t count, const ParallelRunner* runner) {
  if (count <= 0) return Status::Ok();
  const int64_t panel_width = GemmF32PanelWidth();
  for (int64_t i = 0; i < count; ++i) TSR_RETURN_IF_ERROR(CheckParams(params[i], params[0], panel_width));
  const GemmF32Params& p = params[0];
  if (p.m == 0 || p.n == 0) return Status::Ok();
  const int threads = runner != nullptr ? runner->MaxConcurrency() : 1;
  // The first product's Y stands for a batch's (the split is only a matter
  // of speed: it never changes a bit).
  const GemmTaskGrid grid = GemmTaskGridOf(p.m, p.n, p.k, p.trans_a, panel_width, threads, GemmL2Bytes(),
                                           GemmYLinesAligned(p.y, p.ldy, panel_width));
  const int64_t items = count * grid.count();
  // A task is one row block (m / row_blocks rows on average, at most mc;
  // GemmRowBlocksOf may make them shorter) by panels_per_task panels, or
  // the product's own width where it is narrower.
  const int64_t block_rows = (p.m + grid.row_blocks - 1) / grid.row_blocks;
  const double task_flops = 2.0 * static_cast<double>(block_rows) *
                            static_cast<double>(std::min(p.n, grid.panels_per_task * panel_width)) *
                            static_cast<double>(std::max<int64_t>(p.k, 1));
  const bool packs_nothing = p.m == 1 || !grid.pack_a;
  const double chunk_flops = packs_nothing ? kNoPackChunkFlops : kChunkFlops;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(chunk_flops / task_flops));
  std::atomic<bool> out_of_memory{false};
  RunChunks(runner, items, grain, [&](int64_t begin, int64_t end) {
    float* a_pack = ThreadAPackBuffer();
    if (a_pack == nullptr) {
      out_of_memory.store(true, std::memory_order_relaxed);
      return;
    }
    HWY_DYNAMIC_DISPATCH(GemmF32TasksKernel)(params, grid, begin, end, a_pack);
  });
  if (out_of_memory.load()) {
    return Error(StatusCode::kResourceExhausted, "GemmF32: could not allocate the ", kGemmPackAFloats * sizeof(float),
                 "-byte A packing buffer");
  }
  return Status::Ok();
}

}  // namespace tessera::ops

#endif  // HWY_ONCE
