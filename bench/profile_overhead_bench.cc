// What per-node profiling costs: every bundled model run through the public
// API with profiling off and on, side by side in one process.
//
// BM_Run/.../profiling:0 and :1 are the plain cases on gated_mlp.
// BM_ProfilingOverhead alternates blocks of runs of two sessions (off, on)
// over one model and reports the median time per run of each and their
// ratio; alternating keeps slow drifts of a shared machine (other
// processes, clock changes) out of the comparison, which separate cases
// minutes apart would not. gated_mlp at batch 1 (8 nodes in ~3 us) is the
// worst case: there the two timestamps per node are a visible share.
//
//   build/bench/profile_overhead_bench --benchmark_filter=Overhead
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.hpp"

namespace {

const tessera::Model& LoadModel(const std::string& name) {
  // Loaded once per process; the sessions of every case share it.
  static std::vector<std::pair<std::string, std::unique_ptr<tessera::Model>>> loaded;
  for (const auto& m : loaded) {
    if (m.first == name) return *m.second;
  }
  loaded.emplace_back(name, std::make_unique<tessera::Model>(
                                tessera::Model::Load(std::string(TESSERA_BENCH_MODELS_DIR) + "/" + name + ".tess")));
  return *loaded.back().second;
}

const tessera::Model& GatedMlp() { return LoadModel("gated_mlp"); }

std::vector<float> Wave(size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  return x;
}

// gated_mlp: features [batch, 32] -> probs [batch, 10].
tessera::Value Features(int64_t batch) {
  return tessera::Value::FromData<float>({batch, 32}, Wave(static_cast<size_t>(batch * 32)));
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

// One model with its inputs: the feeds a case runs.
struct Feeds {
  std::vector<std::pair<std::string, tessera::Value>> values;
  std::vector<std::string> outputs;
};

// Runs one session per profiling setting over `model` in alternating
// blocks and reports the median per-run time of each and their ratio.
void MeasureOverhead(benchmark::State& state, const tessera::Model& model, const Feeds& f, int threads) {
  tessera::Session off(model, tessera::SessionOptions().Threads(threads).Profiling(false));
  tessera::Session on(model, tessera::SessionOptions().Threads(threads).Profiling(true));
  std::vector<std::pair<std::string, const tessera::Value*>> feeds;
  for (const auto& v : f.values) feeds.emplace_back(v.first, &v.second);
  off.Run(feeds, f.outputs);  // plans each session once
  on.Run(feeds, f.outputs);
  double flops = 0;
  for (const auto& r : on.Profile()) flops += r.flops;
  // A block is long enough (~20 runs) that clock reads cost nothing next to
  // it, and short enough that many blocks fit in the benchmark's time.
  constexpr int kRunsPerBlock = 20;
  using Clock = std::chrono::steady_clock;
  auto block = [&](tessera::Session& s) {
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < kRunsPerBlock; ++i) {
      std::vector<tessera::Value> y = s.Run(feeds, f.outputs);
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
  state.counters["nodes"] = static_cast<double>(model.Nodes().size());
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * 2 * kRunsPerBlock, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ProfilingOverhead(benchmark::State& state) {
  const int64_t batch = state.range(0);
  Feeds f;
  f.values.emplace_back("features", Features(batch));
  f.outputs = {"probs"};
  MeasureOverhead(state, GatedMlp(), f, static_cast<int>(state.range(1)));
}
BENCHMARK(BM_ProfilingOverhead)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{1, 64, 512}, {1, 2}})
    ->UseRealTime()
    ->MinTime(2.0);

// The other bundled models at batch 1, each in the shape the README runs.
Feeds LstmClassifierFeeds() {
  constexpr int64_t seq = 32;  // features [seq, batch, 16]
  Feeds f;
  f.values.emplace_back("features", tessera::Value::FromData<float>({seq, 1, 16}, Wave(seq * 16)));
  f.outputs = {"probs"};
  return f;
}

Feeds GptTinyDecodeFeeds() {
  // One decode step after a 16-token prefix: ids below the vocab (64).
  constexpr int64_t past = 16;
  Feeds f;
  f.values.emplace_back("input_ids", tessera::Value::FromData<int64_t>({1, 1}, {7}));
  f.values.emplace_back("position_ids", tessera::Value::FromData<int64_t>({1, 1}, {past}));
  for (const char* name : {"past_key_0", "past_value_0", "past_key_1", "past_value_1"}) {
    f.values.emplace_back(name, tessera::Value::FromData<float>({1, 4, past, 8}, Wave(4 * past * 8)));
  }
  f.outputs = {"logits", "present_key_0", "present_value_0", "present_key_1", "present_value_1"};
  return f;
}

Feeds Seq2SeqFeeds() {
  // One decoder step over a 6-token source; ids below the vocab (16).
  Feeds f;
  f.values.emplace_back("source_ids", tessera::Value::FromData<int64_t>({1, 6}, {1, 5, 9, 2, 14, 3}));
  f.values.emplace_back("src_lengths", tessera::Value::FromData<int64_t>({1}, {6}));
  f.values.emplace_back("prev_token", tessera::Value::FromData<int64_t>({1}, {4}));
  f.values.emplace_back("prev_state", tessera::Value::FromData<float>({1, 32}, Wave(32)));
  f.outputs = {"log_probs", "state", "attention"};
  return f;
}

void BM_ModelProfilingOverhead(benchmark::State& state, const char* model, Feeds (*feeds)()) {
  MeasureOverhead(state, LoadModel(model), feeds(), static_cast<int>(state.range(0)));
}
BENCHMARK_CAPTURE(BM_ModelProfilingOverhead, lstm_classifier, "lstm_classifier", LstmClassifierFeeds)
    ->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->MinTime(2.0);
BENCHMARK_CAPTURE(BM_ModelProfilingOverhead, gpt_tiny_decode, "gpt_tiny", GptTinyDecodeFeeds)
    ->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->MinTime(2.0);
BENCHMARK_CAPTURE(BM_ModelProfilingOverhead, seq2seq_attention, "seq2seq_attention", Seq2SeqFeeds)
    ->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
