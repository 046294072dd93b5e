// Tessera's only door to oneTBB: the ParallelRunner kernels use, and the
// thread arenas sessions run in. Nothing outside runtime/*.cc includes TBB.
#ifndef TESSERA_RUNTIME_THREADING_H_
#define TESSERA_RUNTIME_THREADING_H_

#include <functional>
#include <memory>

#include "runtime/core/op.h"

namespace tessera {

// ParallelFor on tbb::parallel_for in the calling thread's arena. The range
// is cut into fixed chunks [i*grain, min(n, (i+1)*grain)), so chunk bounds
// never depend on the number of threads. In an arena of one thread, or for
// a single chunk, the chunks run in order on the calling thread without TBB
// tasks.
class TbbRunner final : public ParallelRunner {
 public:
  void ParallelFor(int64_t n, int64_t grain, void (*fn)(void*, int64_t, int64_t), void* ctx) const override;
  // The calling thread's arena's concurrency.
  int MaxConcurrency() const override;
};

// A pool of at most `num_threads` threads (the caller's thread included)
// that work runs in; an embedding application's other TBB work is not
// affected. num_threads <= 0 means all cores.
class ThreadArena {
 public:
  explicit ThreadArena(int num_threads);
  ~ThreadArena();
  ThreadArena(const ThreadArena&) = delete;
  ThreadArena& operator=(const ThreadArena&) = delete;

  int num_threads() const;
  // Runs fn inside the arena and returns when it is done. Exceptions from
  // fn propagate to the caller.
  void Execute(const std::function<void()>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Cores TBB can use in this process (affinity mask respected).
int DefaultThreadCount();

}  // namespace tessera

#endif  // TESSERA_RUNTIME_THREADING_H_
