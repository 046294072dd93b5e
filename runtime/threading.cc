#include "runtime/threading.h"

#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "runtime/tsan_annotations.h"

namespace tessera {

void TbbRunner::ParallelFor(int64_t n, int64_t grain, void (*fn)(void*, int64_t, int64_t), void* ctx) const {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t chunks = (n + grain - 1) / grain;
  const auto run_chunk = [&](int64_t c) {
    const int64_t begin = c * grain;
    fn(ctx, begin, begin + grain < n ? begin + grain : n);
  };
  // One chunk, or an arena of one thread: the same chunks in order on this
  // thread, without the cost of spawning and joining TBB tasks. A recurrent
  // op at batch 1 on one thread runs hundreds of small loops per sequence,
  // and ran 1.05-1.10x as fast this way (medians of 10 paired repetitions).
  if (chunks == 1 || MaxConcurrency() == 1) {
    for (int64_t c = 0; c < chunks; ++c) run_chunk(c);
    return;
  }
  // For ThreadSanitizer: the caller's writes before the loop reach every
  // chunk, and every chunk's writes reach the caller after it.
  char before = 0, after = 0;
  TSR_TSAN_RELEASE(&before);
  // One task per fixed chunk: simple_partitioner with grain 1 never merges
  // chunks, so the work each call of fn sees is the same at any thread count.
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, chunks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        TSR_TSAN_ACQUIRE(&before);
        for (int64_t c = r.begin(); c != r.end(); ++c) run_chunk(c);
        TSR_TSAN_RELEASE(&after);
      },
      tbb::simple_partitioner());
  TSR_TSAN_ACQUIRE(&after);
}

int TbbRunner::MaxConcurrency() const { return tbb::this_task_arena::max_concurrency(); }

struct ThreadArena::Impl {
  explicit Impl(int n) : arena(n) {}
  tbb::task_arena arena;
};

ThreadArena::ThreadArena(int num_threads)
    : impl_(std::make_unique<Impl>(num_threads > 0 ? num_threads : DefaultThreadCount())) {}

ThreadArena::~ThreadArena() = default;

int ThreadArena::num_threads() const { return impl_->arena.max_concurrency(); }

void ThreadArena::Execute(const std::function<void()>& fn) { impl_->arena.execute(fn); }

int DefaultThreadCount() { return tbb::info::default_concurrency(); }

}  // namespace tessera
