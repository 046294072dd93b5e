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
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
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

void BM_Tessera(benchmark::State& state, Shape3 s, int threads) {
  const std::vector<float> a = RandomVector(static_cast<size_t>(s.m * s.k), 1);
  const std::vector<float> b = RandomVector(static_cast<size_t>(s.k * s.n), 2);
  std::vector<float> y(static_cast<size_t>(s.m * s.n));
  auto packed = ops::PackedBF32::Pack(b.data(), s.n, false, s.k, s.n);
  if (!packed.ok()) {
    state.SkipWithError(packed.status().ToString().c_str());
    return;
  }
  ops::GemmF32Params p;
  p.m = s.m;
  p.n = s.n;
  p.k = s.k;
  p.a = a.data();
  p.lda = s.k;
  p.b = packed.value().view();
  p.y = y.data();
  p.ldy = s.n;
  ThreadArena arena(threads);
  TbbRunner runner;
  arena.Execute([&] {
    for (auto _ : state) {
      if (!ops::GemmF32(p, &runner).ok()) state.SkipWithError("GemmF32 failed");
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  });
  SetCounters(state, s);
}

// The FMA peak on `threads` threads, timed like a product: each iteration
// runs 4 chunks per thread of the FMA loop (12 FMA chains, 2^16 rounds:
// 0.3 ms on our Zen 1 VM), so a thread slowed by another process is helped
// by the others rather than setting the pace.
void BM_FmaPeak(benchmark::State& state, int threads) {
  constexpr int64_t kLoopIterations = int64_t{1} << 16;
  const int64_t chunks = int64_t{4} * threads;
  ThreadArena arena(threads);
  TbbRunner runner;
  arena.Execute([&] {
    for (auto _ : state) {
      runner.ParallelFor(
          chunks, 1,
          [](void*, int64_t begin, int64_t end) {
            float sum = 0;
            for (int64_t c = begin; c < end; ++c) {
              sum += runtime::FmaLoopF32(kLoopIterations, 1.0f + static_cast<float>(c));
            }
            benchmark::DoNotOptimize(sum);
          },
          nullptr);
    }
  });
  const double flops = static_cast<double>(chunks * kLoopIterations * runtime::FmaLoopFlopsPerIteration());
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

#ifdef TESSERA_BENCH_OPENBLAS
void BM_OpenBlas(benchmark::State& state, Shape3 s, int threads) {
  const std::vector<float> a = RandomVector(static_cast<size_t>(s.m * s.k), 1);
  const std::vector<float> b = RandomVector(static_cast<size_t>(s.k * s.n), 2);
  std::vector<float> y(static_cast<size_t>(s.m * s.n));
  openblas_set_num_threads(threads);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                static_cast<int>(s.k), 1.0f, a.data(), static_cast<int>(s.k), b.data(), static_cast<int>(s.n),
                0.0f, y.data(), static_cast<int>(s.n));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s);
}
#endif

#ifdef TESSERA_BENCH_DNNL
void BM_OneDnn(benchmark::State& state, Shape3 s, int threads) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  std::vector<float> a = RandomVector(static_cast<size_t>(s.m * s.k), 1);
  std::vector<float> b = RandomVector(static_cast<size_t>(s.k * s.n), 2);
  std::vector<float> y(static_cast<size_t>(s.m * s.n));
  omp_set_num_threads(threads);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc a_md({s.m, s.k}, dt::f32, tag::ab);
  const dnnl::memory::desc b_any({s.k, s.n}, dt::f32, tag::any);
  const dnnl::memory::desc y_md({s.m, s.n}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, y_md), engine);
  dnnl::memory a_mem(a_md, engine, a.data());
  dnnl::memory y_mem(y_md, engine, y.data());
  // Weights reordered once into the primitive's preferred layout.
  dnnl::memory b_user({{s.k, s.n}, dt::f32, tag::ab}, engine, b.data());
  dnnl::memory b_mem(pd.weights_desc(), engine);
  dnnl::reorder(b_user, b_mem).execute(stream, b_user, b_mem);
  stream.wait();
  const dnnl::matmul matmul(pd);
  for (auto _ : state) {
    matmul.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, y_mem}});
    stream.wait();
    benchmark::DoNotOptimize(y.data());
  }
  SetCounters(state, s);
}
#endif

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
  // Our own flag, removed before Google Benchmark parses the rest.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--peak_gflops=", 14) == 0) {
      peak_flag = std::atof(argv[i] + 14);
      if (!(peak_flag > 0)) {
        std::fprintf(stderr, "gemm_bench: --peak_gflops: '%s' is not a positive number\n", argv[i] + 14);
        return 2;
      }
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
  using tessera::Key;
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("gemm/peak/fma/threads:" + std::to_string(threads)).c_str(), tessera::BM_FmaPeak,
                                 threads)
        ->UseRealTime()
        ->MinTime(0.2);
  }
  for (const tessera::Shape3& s : tessera::Shapes()) {
    for (int threads : {1, 2}) {
      const std::string key = Key(s, threads);
      benchmark::RegisterBenchmark(("gemm/tessera/" + key).c_str(), tessera::BM_Tessera, s, threads)
          ->UseRealTime()
          ->MinTime(0.2);
#ifdef TESSERA_BENCH_OPENBLAS
      benchmark::RegisterBenchmark(("gemm/openblas/" + key).c_str(), tessera::BM_OpenBlas, s, threads)
          ->UseRealTime()
          ->MinTime(0.2);
#endif
#ifdef TESSERA_BENCH_DNNL
      benchmark::RegisterBenchmark(("gemm/onednn/" + key).c_str(), tessera::BM_OneDnn, s, threads)
          ->UseRealTime()
          ->MinTime(0.2);
#endif
    }
  }
  tessera::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  tessera::PrintSummary(reporter, peak_flag);
  benchmark::Shutdown();
  return 0;
}
