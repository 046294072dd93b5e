// What per-node profiling costs: the bundled model run through the public
// API with profiling off and on, side by side in one process.
//
// BM_Run/.../profiling:0 and :1 are the plain cases. BM_ProfilingOverhead
// alternates blocks of runs of two sessions (off, on) over one model and
// reports the median time per run of each and their ratio; alternating keeps
// slow drifts of a shared machine (other processes, clock changes) out of
// the comparison, which separate cases minutes apart would not.
//
//   build/bench/profile_overhead_bench --benchmark_filter=Overhead
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"

namespace {

const tessera::Model& GatedMlp() {
  static const tessera::Model* const model = new tessera::Model(tessera::Model::Load(TESSERA_BENCH_MODEL));
  return *model;
}

// gated_mlp: features [batch, 32] -> probs [batch, 10].
tessera::Value Features(int64_t batch) {
  std::vector<float> x(static_cast<size_t>(batch * 32));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  return tessera::Value::FromData<float>({batch, 32}, x);
}

// The model's FLOPs per run, from one profiled run (the ops' declared cost).
double ModelFlops(int64_t batch) {
  tessera::Session session(GatedMlp(), tessera::SessionOptions().Threads(1).Profiling(true));
  const tessera::Value x = Features(batch);
  session.Run({{"features", &x}}, {"probs"});
  double flops = 0;
  for (const auto& r : session.Profile()) flops += r.flops;
  return flops;
}

void BM_Run(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const bool profiling = state.range(2) != 0;
  tessera::Session session(GatedMlp(), tessera::SessionOptions().Threads(threads).Profiling(profiling));
  const tessera::Value x = Features(batch);
  const std::vector<std::pair<std::string, const tessera::Value*>> feeds = {{"features", &x}};
  const std::vector<std::string> outputs = {"probs"};
  session.Run(feeds, outputs);  // plans the session once
  for (auto _ : state) {
    std::vector<tessera::Value> y = session.Run(feeds, outputs);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(ModelFlops(batch), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Run)
    ->ArgNames({"batch", "threads", "profiling"})
    ->ArgsProduct({{1, 64, 512}, {1, 2}, {0, 1}})
    ->UseRealTime();

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void BM_ProfilingOverhead(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  tessera::Session off(GatedMlp(), tessera::SessionOptions().Threads(threads).Profiling(false));
  tessera::Session on(GatedMlp(), tessera::SessionOptions().Threads(threads).Profiling(true));
  const tessera::Value x = Features(batch);
  const std::vector<std::pair<std::string, const tessera::Value*>> feeds = {{"features", &x}};
  const std::vector<std::string> outputs = {"probs"};
  off.Run(feeds, outputs);
  on.Run(feeds, outputs);
  // A block is long enough (~20 runs) that clock reads cost nothing next to
  // it, and short enough that many blocks fit in the benchmark's time.
  constexpr int kRunsPerBlock = 20;
  using Clock = std::chrono::steady_clock;
  auto block = [&](tessera::Session& s) {
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < kRunsPerBlock; ++i) {
      std::vector<tessera::Value> y = s.Run(feeds, outputs);
      benchmark::DoNotOptimize(y.data());
    }
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / kRunsPerBlock;
  };
  std::vector<double> off_us, on_us;
  int64_t k = 0;
  for (auto _ : state) {
    // Alternate which goes first, so neither always follows the other.
    if (k++ % 2 == 0) {
      off_us.push_back(block(off));
      on_us.push_back(block(on));
    } else {
      on_us.push_back(block(on));
      off_us.push_back(block(off));
    }
  }
  const double off_median = Median(off_us), on_median = Median(on_us);
  state.counters["off_us"] = off_median;
  state.counters["on_us"] = on_median;
  state.counters["overhead_%"] = off_median > 0 ? 100.0 * (on_median / off_median - 1.0) : 0.0;
  state.counters["FLOP/s"] =
      benchmark::Counter(ModelFlops(batch) * 2 * kRunsPerBlock, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ProfilingOverhead)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{1, 64, 512}, {1, 2}})
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
