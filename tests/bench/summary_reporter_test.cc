// The benches' summary reporter: what it files under which library and
// case, and the ratio with its range over repetitions paired by index.
#include "bench/summary_reporter.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tessera {
namespace {

using BenchRun = benchmark::BenchmarkReporter::Run;

// One repetition (index >= 0) of `repetitions`, or a single run
// (repetitions 1), of `name`, timed so that it took `ms` per iteration.
BenchRun IterationRun(const std::string& name, double gflops, double ms, int64_t index, int64_t repetitions) {
  BenchRun run;
  run.run_name.function_name = name;
  run.run_type = BenchRun::RT_Iteration;
  run.repetition_index = index;
  run.repetitions = repetitions;
  run.iterations = 10;
  run.time_unit = benchmark::kMillisecond;
  run.real_accumulated_time = ms * 1e-3 * 10;  // seconds over all iterations
  run.cpu_accumulated_time = run.real_accumulated_time;
  run.counters["GFLOP/s"] = benchmark::Counter(gflops);
  return run;
}

BenchRun MedianRun(const std::string& name, double gflops, double ms, int64_t repetitions) {
  BenchRun run = IterationRun(name, gflops, ms, BenchRun::no_repetition_index, repetitions);
  run.run_type = BenchRun::RT_Aggregate;
  run.aggregate_name = "median";
  return run;
}

class SummaryReporterTest : public ::testing::Test {
 protected:
  SummaryReporterTest() {
    reporter_.SetOutputStream(&console_);
    reporter_.SetErrorStream(&console_);
  }
  // Three repetitions of each library on one case, as Google Benchmark
  // reports them (iterations, then the median aggregate).
  void ReportThree(const std::string& name, const std::vector<double>& gflops, double median) {
    std::vector<BenchRun> runs;
    for (int64_t i = 0; i < 3; ++i) runs.push_back(IterationRun(name, gflops[i], 1.0, i, 3));
    runs.push_back(MedianRun(name, median, 2.0, 3));
    reporter_.ReportRuns(runs);
  }

  std::ostringstream console_;
  SummaryReporter reporter_;
};

TEST_F(SummaryReporterTest, PairsRepetitionsByIndex) {
  ReportThree("gemm/tessera/64x64x64/threads:1/min_time:0.200/real_time", {90.0, 110.0, 100.0}, 100.0);
  ReportThree("gemm/onednn/64x64x64/threads:1/min_time:0.200/real_time", {100.0, 100.0, 80.0}, 100.0);
  const SummaryReporter::Ratio ratio = reporter_.RatioOf("tessera", "onednn", "64x64x64/threads:1");
  EXPECT_DOUBLE_EQ(ratio.median, 1.0);  // of the median aggregates, not of the pairs
  EXPECT_EQ(ratio.pairs, 3);
  EXPECT_DOUBLE_EQ(ratio.low, 0.9);   // 90 / 100
  EXPECT_DOUBLE_EQ(ratio.high, 1.25);  // 100 / 80
  EXPECT_EQ(SummaryReporter::RangeText(ratio), "0.90-1.25");
  EXPECT_EQ(ratio.wins, 2);  // 110 / 100 and 100 / 80
  EXPECT_EQ(SummaryReporter::WinsText(ratio), "2/3");
  // The summary figures are the median aggregate's, time in ms.
  EXPECT_DOUBLE_EQ(reporter_.Find("tessera", "64x64x64/threads:1").gflops, 100.0);
  EXPECT_DOUBLE_EQ(reporter_.Find("tessera", "64x64x64/threads:1").ms, 2.0);
  // Google Benchmark's own lines still print.
  EXPECT_NE(console_.str().find("gemm/onednn/64x64x64/threads:1"), std::string::npos);
}

TEST_F(SummaryReporterTest, KeyRunsFromTheCaseToTheThreadCount) {
  ReportThree("rnn/tessera/LSTM/b1/h256/fwd/threads:2/min_time:0.300/real_time", {50.0, 60.0, 55.0}, 55.0);
  const SummaryReporter::Result r = reporter_.Find("tessera", "LSTM/b1/h256/fwd/threads:2");
  EXPECT_DOUBLE_EQ(r.gflops, 55.0);
  ASSERT_EQ(r.gflops_by_repetition.size(), 3u);
  EXPECT_DOUBLE_EQ(r.gflops_by_repetition[1], 60.0);
  EXPECT_EQ(reporter_.Find("tessera", "LSTM/b1/h256/fwd/threads:1").gflops, 0.0);
  EXPECT_EQ(reporter_.Find("onednn", "LSTM/b1/h256/fwd/threads:2").gflops, 0.0);
}

TEST_F(SummaryReporterTest, SingleRunsHaveARatioButNoRange) {
  reporter_.ReportRuns({IterationRun("gemm/tessera/8x8x8/threads:1", 30.0, 0.5, 0, 1)});
  reporter_.ReportRuns({IterationRun("gemm/openblas/8x8x8/threads:1", 20.0, 0.75, 0, 1)});
  const SummaryReporter::Ratio ratio = reporter_.RatioOf("tessera", "openblas", "8x8x8/threads:1");
  EXPECT_DOUBLE_EQ(ratio.median, 1.5);
  EXPECT_EQ(ratio.pairs, 0);
  EXPECT_EQ(SummaryReporter::RangeText(ratio), "-");
  EXPECT_EQ(SummaryReporter::WinsText(ratio), "-");
  EXPECT_DOUBLE_EQ(reporter_.Find("openblas", "8x8x8/threads:1").ms, 0.75);
}

TEST_F(SummaryReporterTest, IgnoresFailedRunsAndForeignNames) {
  BenchRun failed = IterationRun("gemm/tessera/8x8x8/threads:1", 30.0, 0.5, 0, 1);
  failed.error_occurred = true;
  failed.error_message = "GemmF32 failed";
  reporter_.ReportRuns({failed});
  reporter_.ReportRuns({IterationRun("BM_NoLibraryOrThreads", 30.0, 0.5, 0, 1)});
  EXPECT_EQ(reporter_.Find("tessera", "8x8x8/threads:1").gflops, 0.0);
  const SummaryReporter::Ratio ratio = reporter_.RatioOf("tessera", "onednn", "8x8x8/threads:1");
  EXPECT_EQ(ratio.median, 0.0);
  EXPECT_EQ(SummaryReporter::RangeText(ratio), "-");
}

}  // namespace
}  // namespace tessera
