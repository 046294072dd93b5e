// TbbRunner's contract (runtime/core/op.h): ParallelFor calls fn over
// fixed chunks that tile [0, n), each at most `grain` long, whose bounds
// depend only on n and grain, in an arena of any size; and it returns only
// after every chunk ran.
#include "runtime/threading.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace tessera {
namespace {

using Chunks = std::vector<std::pair<int64_t, int64_t>>;

struct Recorder {
  std::mutex mu;
  Chunks chunks;
  std::vector<std::thread::id> threads;
};

void Record(void* ctx, int64_t begin, int64_t end) {
  auto* r = static_cast<Recorder*>(ctx);
  std::lock_guard<std::mutex> lock(r->mu);
  r->chunks.emplace_back(begin, end);
  r->threads.push_back(std::this_thread::get_id());
}

// The chunks ParallelFor(n, grain) must produce, in order.
Chunks Expected(int64_t n, int64_t grain) {
  Chunks out;
  for (int64_t b = 0; b < n; b += grain) out.emplace_back(b, std::min(n, b + grain));
  return out;
}

Chunks RunIn(int threads, int64_t n, int64_t grain) {
  Recorder r;
  ThreadArena arena(threads);
  TbbRunner runner;
  arena.Execute([&] { runner.ParallelFor(n, grain, Record, &r); });
  std::sort(r.chunks.begin(), r.chunks.end());
  return r.chunks;
}

TEST(TbbRunnerTest, ChunkBoundsDependOnlyOnNAndGrain) {
  for (const auto& [n, grain] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {7, 1}, {7, 3}, {8, 4}, {1000, 7}, {1000, 1000}, {1000, 5000}, {97, 96}}) {
    SCOPED_TRACE(testing::Message() << "n=" << n << " grain=" << grain);
    const Chunks expected = Expected(n, grain);
    EXPECT_EQ(RunIn(1, n, grain), expected);
    EXPECT_EQ(RunIn(2, n, grain), expected);
  }
}

TEST(TbbRunnerTest, GrainBelowOneMeansOne) {
  EXPECT_EQ(RunIn(1, 5, 0), Expected(5, 1));
  EXPECT_EQ(RunIn(2, 5, -3), Expected(5, 1));
}

TEST(TbbRunnerTest, EmptyRangeCallsNothing) {
  EXPECT_TRUE(RunIn(1, 0, 4).empty());
  EXPECT_TRUE(RunIn(2, -1, 4).empty());
}

// One thread: every chunk on the calling thread, in increasing order.
TEST(TbbRunnerTest, OneThreadRunsChunksInOrderOnTheCaller) {
  Recorder r;
  std::thread::id caller;
  ThreadArena arena(1);
  TbbRunner runner;
  arena.Execute([&] {
    caller = std::this_thread::get_id();
    runner.ParallelFor(50, 4, Record, &r);
  });
  EXPECT_EQ(r.chunks, Expected(50, 4));
  for (const std::thread::id& id : r.threads) EXPECT_EQ(id, caller);
}

// Several threads: ParallelFor returns only after every chunk's writes.
TEST(TbbRunnerTest, EveryChunkFinishesBeforeReturn) {
  std::vector<int> hits(10000, 0);
  ThreadArena arena(2);
  TbbRunner runner;
  arena.Execute([&] {
    runner.ParallelFor(
        static_cast<int64_t>(hits.size()), 16,
        [](void* ctx, int64_t begin, int64_t end) {
          auto* h = static_cast<std::vector<int>*>(ctx);
          for (int64_t i = begin; i < end; ++i) (*h)[static_cast<size_t>(i)] += 1;
        },
        &hits);
  });
  EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), static_cast<long>(hits.size()));
}

// MaxConcurrency is the calling arena's thread count; a SerialRunner's is 1.
TEST(TbbRunnerTest, MaxConcurrencyIsTheArenasThreadCount) {
  TbbRunner runner;
  for (int threads : {1, 2, 3}) {
    ThreadArena arena(threads);
    int seen = 0;
    arena.Execute([&] { seen = runner.MaxConcurrency(); });
    EXPECT_EQ(seen, threads);
  }
  EXPECT_EQ(SerialRunner().MaxConcurrency(), 1);
}

}  // namespace
}  // namespace tessera
