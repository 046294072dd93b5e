// GEMM throughput: Tessera's packed Highway GEMM next to OpenBLAS sgemm and
// oneDNN matmul, in one process and one run, shape by shape, at 1 and 2
// threads. The baselines are optional (TESSERA_BENCH_OPENBLAS,
// TESSERA_BENCH_DNNL); without them only Tessera runs.
//
// Every library gets the weights the way an inference engine holds them:
// Tessera packs B once (as at model load), oneDNN reorders B once into the
// layout its primitive asks for (format_tag::any), OpenBLAS has no such
// step and reads B as is. A and C are plain row-major and C is written, not
// accumulated (beta 0).
//
// After the Google Benchmark output, a table lists per shape and thread
// count the median GFLOP/s of each library, Tessera's fraction of the FMA
// peak on that many threads, the ratio of Tessera to
// the faster baseline, and with repetitions that ratio's range and how
// many pairs Tessera won, over repetitions paired by index
// (bench/summary_reporter.h says why; run with random interleaving for it
// to mean something).
//
// The FMA peak is a benchmark of its own among the others, gemm/peak/fma
// at 1 and 2 threads (runtime/machine_kernels.h's FMA loop on the
// dispatched SIMD target), and each fraction divides by its best
// repetition: with random interleaving its repetitions run between the
// products', so both see the same clock, and another process can only
// slow a repetition down (the 2-thread peak's repetitions read 73-90
// GFLOP/s in one run on our VM, where the products ran up to 86). A peak
// measured once at start need not match the clock later in the run: on
// our Zen 1 VM three runs' starts measured 46.3, 43.8 and 38.0 GFLOP/s per
// core while all three libraries ran 1024^3 at 36-37 in each, so the same
// products read 85% to 98% of it. Where the peak benchmark is filtered
// out, the table measures the peak on as many threads after the run
// (runtime::MeasureFmaGflops); --peak_gflops=X (per core) overrides both.
//
//   build/bench/gemm_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//                          [--peak_gflops=116]
//                          [--shapes=MxKxN,MxKxN,...]  (instead of the list)
//   build/bench/gemm_bench --alternate=150 [--shapes=...]
//     (instead of the Google Benchmark run: the libraries alternating in
//     slices of 8 ms on one thread and 50 ms on two, for gaps of 1% and
//     less; see RunAlternating)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/openmp_policy.h"
#include "bench/summary_reporter.h"
#include "hwy/targets.h"
#include "ops/gemm/gemm.h"
#include "runtime/machine.h"
#include "runtime/machine_kernels.h"
#include "runtime/threading.h"

#ifdef TESSERA_BENCH_OPENBLAS
#include <cblas.h>
#endif
#ifdef TESSERA_BENCH_DNNL
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace tessera {
namespace {

struct Shape3 {
  int64_t m, k, n;
};

// The shape list: square sizes, GEMV (M = 1), the small-M shapes of
// recurrent steps, and two Transformer projections. --shapes replaces it.
std::vector<Shape3>& Shapes() {
  static std::vector<Shape3> shapes = {
      {64, 64, 64},      {128, 128, 128},  {256, 256, 256},  {512, 512, 512},   {1024, 1024, 1024},
      {2048, 2048, 2048}, {1, 512, 512},    {1, 1024, 1024}, {1, 4096, 4096},   {8, 1024, 1024},
      {32, 1024, 1024},  {128, 768, 3072}, {512, 768, 768},
  };
  return shapes;
}

std::vector<float> RandomVector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

double Flops(const Shape3& s) { return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.k) * s.n; }

void SetCounters(benchmark::State& state, const Shape3& s) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(Flops(s) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// One library's product of one shape on `threads` threads, set up once
// (inputs, weights held as that library holds them, threads) and run on
// demand: by Google Benchmark's loop (Run(state)) or a given number of
// calls (Run(calls), --alternate). error() is empty unless setup or a call
// failed.
class GemmCase {
 public:
  virtual ~GemmCase() = default;
  void Run(benchmark::State& state) {
    // The whole loop inside the library's context: entering it (Tessera's
    // arena) is not part of a product.
    Within([&] {
      for (auto _ : state) {
        Call();
        benchmark::ClobberMemory();
      }
    });
    if (!error_.empty()) state.SkipWithError(error_.c_str());
  }
  void Run(int64_t calls) {
    Within([&] {
      for (int64_t i = 0; i < calls; ++i) Call();
    });
  }
  const std::string& error() const { return error_; }

 protected:
  // One product (or one unit of the peak loop); a failure sets error_.
  virtual void Call() = 0;
  // Runs `body` with the library's thread count in force.
  virtual void Within(const std::function<void()>& body) { body(); }
  std::string error_;
};

class TesseraCase : public GemmCase {
 public:
  TesseraCase(Shape3 s, int threads)
      : a_(RandomVector(static_cast<size_t>(s.m * s.k), 1)),
        y_(static_cast<size_t>(s.m * s.n)),
        arena_(threads) {
    const std::vector<float> b = RandomVector(static_cast<size_t>(s.k * s.n), 2);
    auto packed = ops::PackedBF32::Pack(b.data(), s.n, false, s.k, s.n);
    if (!packed.ok()) {
      error_ = packed.status().ToString();
      return;
    }
    packed_ = std::move(packed).value();
    p_.m = s.m;
    p_.n = s.n;
    p_.k = s.k;
    p_.a = a_.data();
    p_.lda = s.k;
    p_.b = packed_.view();
    p_.y = y_.data();
    p_.ldy = s.n;
  }

 private:
  void Call() override {
    if (!ops::GemmF32(p_, &runner_).ok()) error_ = "GemmF32 failed";
  }
  void Within(const std::function<void()>& body) override { arena_.Execute(body); }
  std::vector<float> a_, y_;
  ops::PackedBF32 packed_;
  ops::GemmF32Params p_;
  ThreadArena arena_;
  TbbRunner runner_;
};

// The FMA peak on `threads` threads, timed like a product: each call runs
// 4 chunks per thread of the FMA loop (12 FMA chains, 2^16 rounds: 0.3 ms
// on our Zen 1 VM), so a thread slowed by another process is helped by the
// others rather than setting the pace.
class FmaPeakCase : public GemmCase {
 public:
  explicit FmaPeakCase(int threads) : chunks_(int64_t{4} * threads), arena_(threads) {}
  static constexpr int64_t kLoopIterations = int64_t{1} << 16;
  double FlopsPerCall() const {
    return static_cast<double>(chunks_ * kLoopIterations * runtime::FmaLoopFlopsPerIteration());
  }

 private:
  void Call() override {
    runner_.ParallelFor(
        chunks_, 1,
        [](void*, int64_t begin, int64_t end) {
          float sum = 0;
          for (int64_t c = begin; c < end; ++c) {
            sum += runtime::FmaLoopF32(kLoopIterations, 1.0f + static_cast<float>(c));
          }
          benchmark::DoNotOptimize(sum);
        },
        nullptr);
  }
  void Within(const std::function<void()>& body) override { arena_.Execute(body); }
  int64_t chunks_;
  ThreadArena arena_;
  TbbRunner runner_;
};

#ifdef TESSERA_BENCH_OPENBLAS
class OpenBlasCase : public GemmCase {
 public:
  OpenBlasCase(Shape3 s, int threads)
      : s_(s),
        threads_(threads),
        a_(RandomVector(static_cast<size_t>(s.m * s.k), 1)),
        b_(RandomVector(static_cast<size_t>(s.k * s.n), 2)),
        y_(static_cast<size_t>(s.m * s.n)) {}

 private:
  void Call() override {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s_.m), static_cast<int>(s_.n),
                static_cast<int>(s_.k), 1.0f, a_.data(), static_cast<int>(s_.k), b_.data(), static_cast<int>(s_.n),
                0.0f, y_.data(), static_cast<int>(s_.n));
  }
  void Within(const std::function<void()>& body) override {
    // Only when it changes: once per thread count, not per --alternate slice.
    if (openblas_get_num_threads() != threads_) openblas_set_num_threads(threads_);
    body();
  }
  Shape3 s_;
  int threads_;
  std::vector<float> a_, b_, y_;
};
#endif

#ifdef TESSERA_BENCH_DNNL
class OneDnnCase : public GemmCase {
 public:
  OneDnnCase(Shape3 s, int threads)
      : threads_(threads),
        a_(RandomVector(static_cast<size_t>(s.m * s.k), 1)),
        y_(static_cast<size_t>(s.m * s.n)),
        engine_(dnnl::engine::kind::cpu, 0),
        stream_(engine_) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    std::vector<float> b = RandomVector(static_cast<size_t>(s.k * s.n), 2);
    omp_set_num_threads(threads_);
    const dnnl::memory::desc a_md({s.m, s.k}, dt::f32, tag::ab);
    const dnnl::memory::desc b_any({s.k, s.n}, dt::f32, tag::any);
    const dnnl::memory::desc y_md({s.m, s.n}, dt::f32, tag::ab);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, y_md), engine_);
    a_mem_ = dnnl::memory(a_md, engine_, a_.data());
    y_mem_ = dnnl::memory(y_md, engine_, y_.data());
    // Weights reordered once into the primitive's preferred layout.
    dnnl::memory b_user({{s.k, s.n}, dt::f32, tag::ab}, engine_, b.data());
    b_mem_ = dnnl::memory(pd.weights_desc(), engine_);
    dnnl::reorder(b_user, b_mem_).execute(stream_, b_user, b_mem_);
    stream_.wait();
    matmul_ = dnnl::matmul(pd);
  }

 private:
  void Call() override {
    matmul_.execute(stream_, {{DNNL_ARG_SRC, a_mem_}, {DNNL_ARG_WEIGHTS, b_mem_}, {DNNL_ARG_DST, y_mem_}});
    stream_.wait();
  }
  void Within(const std::function<void()>& body) override {
    omp_set_num_threads(threads_);
    body();
  }
  int threads_;
  std::vector<float> a_, y_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::memory a_mem_, b_mem_, y_mem_;
  dnnl::matmul matmul_;
};
#endif

// The libraries this build compares, by the names benchmarks and tables use.
std::vector<std::string> Libraries() {
  std::vector<std::string> names = {"tessera"};
#ifdef TESSERA_BENCH_OPENBLAS
  names.push_back("openblas");
#endif
#ifdef TESSERA_BENCH_DNNL
  names.push_back("onednn");
#endif
  return names;
}

std::unique_ptr<GemmCase> MakeCase(const std::string& library, Shape3 s, int threads) {
#ifdef TESSERA_BENCH_OPENBLAS
  if (library == "openblas") return std::make_unique<OpenBlasCase>(s, threads);
#endif
#ifdef TESSERA_BENCH_DNNL
  if (library == "onednn") return std::make_unique<OneDnnCase>(s, threads);
#endif
  (void)library;
  return std::make_unique<TesseraCase>(s, threads);
}

void BM_Gemm(benchmark::State& state, std::string library, Shape3 s, int threads) {
  const std::unique_ptr<GemmCase> c = MakeCase(library, s, threads);
  if (!c->error().empty()) {
    state.SkipWithError(c->error().c_str());
    return;
  }
  c->Run(state);
  SetCounters(state, s);
}

void BM_FmaPeak(benchmark::State& state, int threads) {
  FmaPeakCase peak(threads);
  peak.Run(state);
  state.counters["GFLOP/s"] =
      benchmark::Counter(peak.FlopsPerCall() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

std::string Key(const Shape3& s, int threads) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%lldx%lldx%lld/threads:%d", static_cast<long long>(s.m),
                static_cast<long long>(s.k), static_cast<long long>(s.n), threads);
  return buf;
}

// The FMA peak on `threads` threads that the table divides by, in GFLOP/s,
// and where it came from: --peak_gflops (per core) when given, else the
// best repetition of the peak benchmark on that many threads, else
// measured now.
struct Peak {
  double gflops = 0;
  const char* source = "";
};
Peak PeakOn(const SummaryReporter& r, int threads, double peak_flag) {
  if (peak_flag > 0) return {peak_flag * threads, "--peak_gflops"};
  const SummaryReporter::Result measured = r.Find("peak", "fma/threads:" + std::to_string(threads));
  double best = measured.gflops;
  for (double gflops : measured.gflops_by_repetition) best = std::max(best, gflops);
  if (best > 0) return {best, "gemm/peak/fma, best repetition"};
  return {runtime::MeasureFmaGflops(threads, 0.3), "measured after the run"};
}

void PrintSummary(const SummaryReporter& r, double peak_flag) {
  const Peak peaks[2] = {PeakOn(r, 1, peak_flag), PeakOn(r, 2, peak_flag)};
  std::printf("\nFMA peak: %.1f GFLOP/s on 1 thread (%s), %.1f on 2 (%s)\n", peaks[0].gflops, peaks[0].source,
              peaks[1].gflops, peaks[1].source);
  std::printf("GFLOP/s (median), Tessera's fraction of the FMA peak on as many threads,\n"
              "Tessera / the faster baseline, and over repetitions paired by index the lowest and\n"
              "highest of that ratio and how many pairs Tessera won (bench/summary_reporter.h):\n\n");
  std::printf("%-24s %9s %9s %9s %7s %7s %11s %7s\n", "shape MxKxN/threads", "tessera", "openblas", "onednn", "peak",
              "ratio", "range", "won");
  for (const Shape3& s : Shapes()) {
    for (int threads : {1, 2}) {
      const std::string key = Key(s, threads);
      const double t = r.Find("tessera", key).gflops;
      const double ob = r.Find("openblas", key).gflops;
      const double dn = r.Find("onednn", key).gflops;
      if (t == 0 && ob == 0 && dn == 0) continue;  // filtered out
      const SummaryReporter::Ratio ratio = r.RatioOf("tessera", dn >= ob ? "onednn" : "openblas", key);
      char ob_s[16] = "-", dn_s[16] = "-", ratio_s[16] = "-";
      if (ob > 0) std::snprintf(ob_s, sizeof(ob_s), "%.1f", ob);
      if (dn > 0) std::snprintf(dn_s, sizeof(dn_s), "%.1f", dn);
      if (ratio.median > 0) std::snprintf(ratio_s, sizeof(ratio_s), "%.2fx", ratio.median);
      std::printf("%-24s %9.1f %9s %9s %6.0f%% %7s %11s %7s\n", key.c_str(), t, ob_s, dn_s,
                  100.0 * t / peaks[threads - 1].gflops, ratio_s, SummaryReporter::RangeText(ratio).c_str(),
                  SummaryReporter::WinsText(ratio).c_str());
    }
  }
}

// --alternate=R: on one thread and then on two, every library (and the FMA
// peak) runs one shape in turn, a slice of about kSliceSeconds each on one
// thread (two threads: below), for R rounds, in a shuffled order each
// round; each round yields one ratio per baseline,
// Tessera's GFLOP/s over the baseline's in the same round. Why beside the
// Google Benchmark run: its repetitions last at least 0.2 s each, and on a
// shared host a burst of another process's work hits one library's
// repetition and not its pair's, so a paired ratio of 15 repetitions swings
// by 5-10% and cannot resolve a 1% gap. Slices of 8 ms put the libraries
// under the same conditions within milliseconds: on our Zen 1 VM, 150
// rounds, the quartiles of the ratio lay within 1% of the median. The first
// call of a slice refills the caches the other libraries emptied and is
// not timed, so a slice measures the steady state, as a Google Benchmark
// loop does. A process keeps where its buffers lie, and the baselines'
// speed follows that: on our Zen 1 VM oneDNN ran 256^3 at 38.3 GFLOP/s as
// a process's first shape and at 25.4 after 128^3 had run, where Tessera
// ran 37.2-38.3 (README, "The latest host"). To compare against a
// baseline's best, give each shape its own process (--shapes), several.
//
// On two threads a slice lasts kTwoThreadSliceSeconds and starts once the
// process is idle (WaitUntilIdle). Idle threads spin before they sleep, and
// take a core from whatever slice comes next: libgomp's (oneDNN's OpenMP
// workers) spun for 10-15 ms after each parallel region on our VM. Each
// slice's untimed first call wakes the library's own threads. Shorter slices
// did not work: with 8 ms slices, each after a millisecond of idleness,
// Tessera's two-thread 64^3 ran at 39 GFLOP/s where Google Benchmark's loop
// read 53; with 50 ms slices it read 52.4 (each after an idle process) and
// 56.8-58.6 (each after a fixed 50 ms pause), against 48.6-54.3 in the
// Google Benchmark runs of that hour. OpenBLAS is left out on two
// threads: with its slices in the rounds, oneDNN's two-thread slices ran
// 128^3 at 54-57 GFLOP/s, and without them at 72 (Google Benchmark's loop:
// 67-70), after a fixed 50 ms pause or an idle process alike; we did not
// find why. OpenBLAS's two-thread figures stay with the Google Benchmark
// run.
constexpr double kSliceSeconds = 0.008;
constexpr double kTwoThreadSliceSeconds = 0.05;

// Returns once the process's threads used less than a tenth of a core over
// 5 ms (every library's idle threads asleep), or after 2 s.
void WaitUntilIdle() {
  constexpr double kWindowSeconds = 0.005;
  for (int i = 0; i < 400; ++i) {
    const std::clock_t cpu = std::clock();
    std::this_thread::sleep_for(std::chrono::duration<double>(kWindowSeconds));
    if (static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC < 0.1 * kWindowSeconds) return;
  }
}

double Seconds(const std::chrono::steady_clock::time_point& since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

struct AlternatingEntry {
  std::string name;
  std::unique_ptr<GemmCase> run;
  double flops_per_call = 0;
  int64_t calls_per_slice = 1;
  std::vector<double> gflops;  // by round
};

// Calls one slice makes: enough to last about slice_seconds, timed after
// a warm-up call (a library's first call may generate its code, as
// oneDNN's does, or allocate and touch its buffers; timed, it set one call
// per slice for oneDNN at 256^3, where several fit).
int64_t CallsPerSlice(GemmCase& c, double slice_seconds) {
  c.Run(1);
  int64_t calls = 1;
  double seconds = 0;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    c.Run(calls);
    seconds = Seconds(start);
    if (seconds >= slice_seconds / 2 || calls >= (int64_t{1} << 30)) break;
    calls *= 2;
  }
  const int64_t per_slice = static_cast<int64_t>(slice_seconds / (seconds / static_cast<double>(calls)) + 0.5);
  return per_slice < 1 ? 1 : per_slice;
}

// One shape on `threads` threads for RunAlternating: its slices, then its
// row of the table.
void AlternateShape(const std::vector<std::string>& libraries, const Shape3& s, int threads, double slice_seconds,
                    int rounds) {
  const std::string key = Key(s, threads);
  std::vector<AlternatingEntry> entries;
  std::string error;
  for (const std::string& name : libraries) {
    if (threads > 1 && name == "openblas") {
      entries.push_back(AlternatingEntry{name, nullptr, 0});  // left out: see above
      continue;
    }
    AlternatingEntry e{name, MakeCase(name, s, threads), Flops(s)};
    if (!e.run->error().empty()) error = name + ": " + e.run->error();
    entries.push_back(std::move(e));
  }
  if (!error.empty()) {
    std::printf("%-24s skipped: %s\n", key.c_str(), error.c_str());
    return;
  }
  auto peak = std::make_unique<FmaPeakCase>(threads);
  const double peak_flops = peak->FlopsPerCall();
  entries.push_back(AlternatingEntry{"peak", std::move(peak), peak_flops});
  for (AlternatingEntry& e : entries) {
    if (e.run) e.calls_per_slice = CallsPerSlice(*e.run, slice_seconds);
  }
  // A fresh order every round, so that each library follows every other
  // alike (a rotation kept one cyclic order, and Tessera always ran right
  // after the peak, oneDNN after OpenBLAS). A fixed seed: the same order
  // in every run.
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 order_rng(1);
  for (int round = 0; round < rounds; ++round) {
    std::shuffle(order.begin(), order.end(), order_rng);
    for (size_t i : order) {
      AlternatingEntry& e = entries[i];
      if (!e.run) continue;
      if (threads > 1) WaitUntilIdle();
      e.run->Run(1);  // untimed: see above
      const auto start = std::chrono::steady_clock::now();
      e.run->Run(e.calls_per_slice);
      e.gflops.push_back(e.flops_per_call * static_cast<double>(e.calls_per_slice) / Seconds(start) * 1e-9);
    }
  }
  std::printf("%-24s", key.c_str());
  for (size_t i = 0; i < libraries.size(); ++i) {
    if (entries[i].run) {
      std::printf(" %9.1f", Quantile(entries[i].gflops, 0.5));
    } else {
      std::printf(" %9s", "-");
    }
  }
  std::printf(" %5.0f%%", 100.0 * Quantile(entries[0].gflops, 0.5) / Quantile(entries.back().gflops, 0.5));
  for (size_t b = 1; b < libraries.size(); ++b) {
    if (!entries[b].run) {
      std::printf("  %-31s", "-");
      continue;
    }
    std::vector<double> ratios;
    int wins = 0;
    for (int round = 0; round < rounds; ++round) {
      ratios.push_back(entries[0].gflops[round] / entries[b].gflops[round]);
      wins += ratios.back() > 1.0 ? 1 : 0;
    }
    char cell[64];
    std::snprintf(cell, sizeof(cell), "%.3fx (%.3f-%.3f) %d/%d", Quantile(ratios, 0.5), Quantile(ratios, 0.25),
                  Quantile(ratios, 0.75), wins, rounds);
    std::printf("  %-31s", cell);
  }
  std::printf("\n");
  std::fflush(stdout);
}

void RunAlternating(int rounds) {
  const std::vector<std::string> libraries = Libraries();
  std::printf("\nSlices alternating for %d rounds: ~%.0f ms each on one thread, ~%.0f ms once the process is idle on two\n"
              "(bench/gemm_bench.cc says why). GFLOP/s (median over rounds), Tessera's fraction of the FMA peak\n"
              "measured in the same rounds, and per baseline the median over rounds of Tessera / baseline, its\n"
              "quartiles, and the rounds Tessera won:\n\n",
              rounds, kSliceSeconds * 1e3, kTwoThreadSliceSeconds * 1e3);
  std::printf("%-24s", "shape MxKxN/threads");
  for (const std::string& name : libraries) std::printf(" %9s", name.c_str());
  std::printf(" %6s", "peak");
  for (size_t i = 1; i < libraries.size(); ++i) std::printf("  %-31s", ("vs " + libraries[i]).c_str());
  std::printf("\n");
  for (int threads : {1, 2}) {
    const double slice_seconds = threads == 1 ? kSliceSeconds : kTwoThreadSliceSeconds;
    for (const Shape3& s : Shapes()) AlternateShape(libraries, s, threads, slice_seconds, rounds);
  }
}

// Parses --shapes' value, "MxKxN[,MxKxN...]" with every dim in [1, 2^15],
// into `out`. On a malformed list returns false and says why on stderr.
bool ParseShapes(const char* text, std::vector<Shape3>* out) {
  out->clear();
  const std::string list = text;
  for (size_t begin = 0; begin <= list.size();) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(begin, end - begin);
    long long dims[3] = {0, 0, 0};
    char tail = 0;
    if (std::sscanf(item.c_str(), "%lldx%lldx%lld%c", &dims[0], &dims[1], &dims[2], &tail) != 3) {
      std::fprintf(stderr, "gemm_bench: --shapes: '%s' is not MxKxN (three positive integers joined by 'x')\n",
                   item.c_str());
      return false;
    }
    for (long long dim : dims) {
      if (dim < 1 || dim > (1 << 15)) {
        std::fprintf(stderr, "gemm_bench: --shapes: '%s' has a dim outside [1, 32768]\n", item.c_str());
        return false;
      }
    }
    out->push_back({dims[0], dims[1], dims[2]});
    begin = end + 1;
  }
  return true;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  double peak_flag = 0;
  int alternate_rounds = 0;
  // Our own flag, removed before Google Benchmark parses the rest.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--peak_gflops=", 14) == 0) {
      peak_flag = std::atof(argv[i] + 14);
      if (!(peak_flag > 0)) {
        std::fprintf(stderr, "gemm_bench: --peak_gflops: '%s' is not a positive number\n", argv[i] + 14);
        return 2;
      }
    } else if (std::strncmp(argv[i], "--alternate=", 12) == 0) {
      char* end = nullptr;
      const long rounds = std::strtol(argv[i] + 12, &end, 10);
      if (end == argv[i] + 12 || *end != '\0' || rounds < 1 || rounds > 100000) {
        std::fprintf(stderr, "gemm_bench: --alternate: '%s' is not a round count in [1, 100000]\n", argv[i] + 12);
        return 2;
      }
      alternate_rounds = static_cast<int>(rounds);
    } else if (std::strncmp(argv[i], "--shapes=", 9) == 0) {
      if (!tessera::ParseShapes(argv[i] + 9, &tessera::Shapes())) return 2;
    } else {
      args.push_back(argv[i]);
    }
  }
  std::printf("SIMD target: %s\n", hwy::TargetName(tessera::runtime::DispatchedTarget()));
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
#ifdef TESSERA_BENCH_DNNL
  tessera::WarnIfOpenMpWaitsPassively();
#endif
  if (alternate_rounds > 0) {
    // Instead of the Google Benchmark run (whose flags are then ignored).
    tessera::RunAlternating(alternate_rounds);
    return 0;
  }
  using tessera::Key;
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("gemm/peak/fma/threads:" + std::to_string(threads)).c_str(), tessera::BM_FmaPeak,
                                 threads)
        ->UseRealTime()
        ->MinTime(0.2);
  }
  for (const tessera::Shape3& s : tessera::Shapes()) {
    for (int threads : {1, 2}) {
      for (const std::string& library : tessera::Libraries()) {
        benchmark::RegisterBenchmark(("gemm/" + library + "/" + Key(s, threads)).c_str(), tessera::BM_Gemm, library, s,
                                     threads)
            ->UseRealTime()
            ->MinTime(0.2);
      }
    }
  }
  tessera::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  tessera::PrintSummary(reporter, peak_flag);
  benchmark::Shutdown();
  return 0;
}
