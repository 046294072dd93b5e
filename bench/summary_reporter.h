// The console reporter both baseline benches (gemm_bench, rnn_bench) print
// through: Google Benchmark's own output as usual, and every benchmark's
// GFLOP/s and time kept for the summary table each bench prints after it.
//
// Benchmark names are "<bench>/<library>/<case...>/threads:<t>[/options]";
// a result is filed under the library and the case key
// "<case...>/threads:<t>".
//
// Why a range beside each ratio: on a shared host one run of one case
// swings by 5-15%, so a ratio of medians of 0.97 may be noise or a real
// gap. With --benchmark_repetitions=N and
// --benchmark_enable_random_interleaving=true, the N-th repetitions of all
// cases run in one shuffled round, so the two libraries' repetitions of the
// same index ran close together in time; RatioOf pairs them by that index
// and reports the lowest and highest of the paired ratios and in how many
// pairs the first library was faster. A range that straddles 1 says the run
// alone cannot tell the two apart; a count far from half says it can (1 of
// 15 happens by chance under 1 in 1000 times when neither is faster).
#ifndef TESSERA_BENCH_SUMMARY_REPORTER_H_
#define TESSERA_BENCH_SUMMARY_REPORTER_H_

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace tessera {

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  struct Result {
    double gflops = 0;  // median over repetitions (or the single run)
    double ms = 0;      // real time per iteration, the same statistic
    std::vector<double> gflops_by_repetition;  // indexed by repetition; 0 where missing
  };

  // The ratio a / b of two libraries' GFLOP/s on one case (> 1: a is
  // faster): of the medians, and the lowest and highest of the
  // repetition-paired ratios (`pairs` of them, `wins` above 1; 0 without
  // repetitions).
  struct Ratio {
    double median = 0;
    double low = 0;
    double high = 0;
    int pairs = 0;
    int wins = 0;
  };

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      auto counter = run.counters.find("GFLOP/s");
      if (counter == run.counters.end()) continue;
      std::string library, key;
      if (!SplitName(run.run_name.str(), &library, &key)) continue;
      Result& result = results_[library][key];
      const double gflops = counter->second.value;
      if (run.run_type == Run::RT_Iteration) {
        const size_t rep = run.repetition_index < 0 ? 0 : static_cast<size_t>(run.repetition_index);
        if (result.gflops_by_repetition.size() <= rep) result.gflops_by_repetition.resize(rep + 1, 0.0);
        result.gflops_by_repetition[rep] = gflops;
      }
      // The median aggregate when repeated, else the one run.
      const bool summary = run.repetitions > 1 ? (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median")
                                               : run.run_type == Run::RT_Iteration;
      if (summary) {
        result.gflops = gflops;
        result.ms = run.GetAdjustedRealTime() * MillisecondsPer(run.time_unit);
      }
    }
  }

  // The result of `library` on `key`, or an empty one (gflops 0) when that
  // benchmark did not run (filtered out, skipped or failed).
  Result Find(const std::string& library, const std::string& key) const {
    auto lib_it = results_.find(library);
    if (lib_it == results_.end()) return Result{};
    auto it = lib_it->second.find(key);
    return it == lib_it->second.end() ? Result{} : it->second;
  }

  Ratio RatioOf(const std::string& a, const std::string& b, const std::string& key) const {
    const Result ra = Find(a, key), rb = Find(b, key);
    Ratio ratio;
    if (ra.gflops <= 0 || rb.gflops <= 0) return ratio;
    ratio.median = ra.gflops / rb.gflops;
    const size_t n = std::min(ra.gflops_by_repetition.size(), rb.gflops_by_repetition.size());
    for (size_t i = 0; i < n; ++i) {
      const double x = ra.gflops_by_repetition[i], y = rb.gflops_by_repetition[i];
      if (x <= 0 || y <= 0) continue;
      const double r = x / y;
      ratio.low = ratio.pairs == 0 ? r : std::min(ratio.low, r);
      ratio.high = ratio.pairs == 0 ? r : std::max(ratio.high, r);
      ++ratio.pairs;
      if (r > 1) ++ratio.wins;
    }
    if (ratio.pairs < 2) ratio.pairs = ratio.wins = 0;  // one pair is no spread
    return ratio;
  }

  // "0.91-1.03" for a ratio's paired range, "-" without one.
  static std::string RangeText(const Ratio& ratio) {
    if (ratio.pairs == 0) return "-";
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f-%.2f", ratio.low, ratio.high);
    return text;
  }

  // "4/15": in how many of the pairs the first library was faster.
  static std::string WinsText(const Ratio& ratio) {
    if (ratio.pairs == 0) return "-";
    return std::to_string(ratio.wins) + "/" + std::to_string(ratio.pairs);
  }

 private:
  // "<bench>/<library>/<case...>/threads:<t>[/options]" -> library, key.
  static bool SplitName(const std::string& name, std::string* library, std::string* key) {
    const size_t lib_begin = name.find('/') + 1;
    const size_t lib_end = name.find('/', lib_begin);
    const size_t threads = name.find("/threads:");
    if (lib_begin == 0 || lib_end == std::string::npos || threads == std::string::npos || threads < lib_end) {
      return false;
    }
    const size_t key_end = name.find('/', threads + 1);
    *library = name.substr(lib_begin, lib_end - lib_begin);
    *key = name.substr(lib_end + 1, (key_end == std::string::npos ? name.size() : key_end) - lib_end - 1);
    return true;
  }

  static double MillisecondsPer(benchmark::TimeUnit unit) {
    switch (unit) {
      case benchmark::kNanosecond: return 1e-6;
      case benchmark::kMicrosecond: return 1e-3;
      case benchmark::kMillisecond: return 1.0;
      case benchmark::kSecond: return 1e3;
    }
    return 1e-6;
  }

  // library -> key -> result
  std::map<std::string, std::map<std::string, Result>> results_;
};

}  // namespace tessera

#endif  // TESSERA_BENCH_SUMMARY_REPORTER_H_
