#include "runtime/machine.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "hwy/targets.h"
#include "ops/simd_target.h"
#include "runtime/core/tensor.h"
#include "runtime/machine_kernels.h"
#include "runtime/threading.h"

namespace tessera::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Keeps loop results observable so the compiler cannot drop the loops.
volatile float g_sink = 0;

// Repetitions per measurement: short and many, so that some are likely to
// run undisturbed even when other processes share the cores (a scheduler
// time slice is a few ms).
constexpr int kRepetitions = 10;

struct FmaJob {
  int64_t iterations;
};

}  // namespace

double MeasureFmaGflops(int threads, double seconds) {
  if (threads <= 0) threads = DefaultThreadCount();
  const double flops_per_iteration = static_cast<double>(FmaLoopFlopsPerIteration());
  // Calibrate on one thread: double the count until a call takes >= 2 ms,
  // long enough for the timer and short enough to cost nothing.
  int64_t iterations = 1024;
  double t = 0;
  for (;;) {
    const Clock::time_point start = Clock::now();
    g_sink = g_sink + FmaLoopF32(iterations, 1.0f);
    t = SecondsSince(start);
    if (t >= 2e-3 || iterations > (int64_t{1} << 40)) break;
    iterations *= 2;
  }
  const double rep_seconds = seconds / kRepetitions;
  const int64_t per_rep = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(iterations) * rep_seconds / t));
  double best = 0;
  if (threads == 1) {
    for (int r = 0; r < kRepetitions; ++r) {
      const Clock::time_point start = Clock::now();
      g_sink = g_sink + FmaLoopF32(per_rep, 1.0f + static_cast<float>(r));
      best = std::max(best, flops_per_iteration * static_cast<double>(per_rep) / SecondsSince(start) * 1e-9);
    }
    return best;
  }
  // Several chunks per thread, so that a thread slowed by another process
  // is helped by the others (work stealing) instead of setting the pace.
  ThreadArena arena(threads);
  TbbRunner runner;
  const int64_t chunks = int64_t{threads} * 4;
  FmaJob job{std::max<int64_t>(1, per_rep / 4)};
  auto body = [](void* ctx, int64_t begin, int64_t end) {
    const FmaJob& j = *static_cast<const FmaJob*>(ctx);
    float sum = 0;
    for (int64_t c = begin; c < end; ++c) sum += FmaLoopF32(j.iterations, 1.0f + static_cast<float>(c));
    g_sink = g_sink + sum;
  };
  // The first execute starts the arena's worker threads; keep it untimed.
  arena.Execute([&] { runner.ParallelFor(threads, 1, body, &job); });
  for (int r = 0; r < kRepetitions; ++r) {
    const Clock::time_point start = Clock::now();
    arena.Execute([&] { runner.ParallelFor(chunks, 1, body, &job); });
    const double flops = flops_per_iteration * static_cast<double>(job.iterations) * static_cast<double>(chunks);
    best = std::max(best, flops / SecondsSince(start) * 1e-9);
  }
  return best;
}

size_t DefaultTriadBytesPerArray() {
  long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (llc <= 0) llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
  const size_t kMin = size_t{32} << 20, kMax = size_t{256} << 20;
  return std::clamp(llc > 0 ? 2 * static_cast<size_t>(llc) : kMin, kMin, kMax);
}

namespace {

struct TriadJob {
  float* a;
  const float* b;
  const float* c;
  int64_t chunk;  // floats per chunk, a multiple of 64
  int64_t n;
};

void TriadChunks(void* ctx, int64_t begin, int64_t end) {
  const TriadJob& j = *static_cast<const TriadJob*>(ctx);
  for (int64_t k = begin; k < end; ++k) {
    const int64_t first = k * j.chunk;
    const int64_t count = std::min(j.chunk, j.n - first);
    TriadF32(j.a + first, j.b + first, j.c + first, 3.0f, static_cast<size_t>(count));
  }
}

// Three arrays of n floats, allocated and touched once, so that both triad
// measurements of GetMachineInfo share one set of page faults.
struct TriadArrays {
  AlignedBuffer a, b, c;
  size_t n = 0;

  static StatusOr<TriadArrays> Allocate(size_t bytes_per_array) {
    TriadArrays t;
    // Multiples of 64 floats: no tail on any target (see machine_kernels.h).
    t.n = bytes_per_array / sizeof(float) / 64 * 64;
    if (t.n == 0) {
      return Error(StatusCode::kInvalidArgument, "triad arrays of ", bytes_per_array, " bytes are too small");
    }
    const size_t bytes = t.n * sizeof(float);
    TSR_ASSIGN_OR_RETURN(t.a, AlignedBuffer::Allocate(bytes));
    TSR_ASSIGN_OR_RETURN(t.b, AlignedBuffer::Allocate(bytes));
    TSR_ASSIGN_OR_RETURN(t.c, AlignedBuffer::Allocate(bytes));
    // Touch every page before timing (first-touch page faults would be
    // counted against the bandwidth otherwise).
    std::fill(static_cast<float*>(t.a.data()), static_cast<float*>(t.a.data()) + t.n, 0.0f);
    std::fill(static_cast<float*>(t.b.data()), static_cast<float*>(t.b.data()) + t.n, 1.0f);
    std::fill(static_cast<float*>(t.c.data()), static_cast<float*>(t.c.data()) + t.n, 2.0f);
    return t;
  }
};

double TriadBestGbs(int threads, const TriadArrays& arrays, double seconds) {
  if (threads <= 0) threads = DefaultThreadCount();
  const size_t n = arrays.n;
  TriadJob job{static_cast<float*>(arrays.a.data()), static_cast<const float*>(arrays.b.data()),
               static_cast<const float*>(arrays.c.data()), 0, static_cast<int64_t>(n)};
  // Per thread, 8 chunks of at least 64 KiB: small enough to balance,
  // large enough that scheduling costs nothing next to the memory traffic.
  job.chunk = std::max<int64_t>(16384, static_cast<int64_t>(n) / (int64_t{threads} * 8) / 64 * 64);
  const int64_t chunks = (job.n + job.chunk - 1) / job.chunk;
  ThreadArena arena(threads);
  TbbRunner runner;
  auto pass = [&] {
    if (threads == 1) {
      TriadF32(job.a, job.b, job.c, 3.0f, n);
    } else {
      arena.Execute([&] { runner.ParallelFor(chunks, 1, TriadChunks, &job); });
    }
  };
  pass();  // warms the arena's threads and the TLB
  double best = 0;
  const Clock::time_point start = Clock::now();
  // Passes while time is left (at least 2, at most 100): bounded by time,
  // not by a pass count, so a slow build (sanitizers, -O0, emulated SIMD)
  // finishes in about `seconds` too.
  for (int r = 0; r < 100 && (r < 2 || SecondsSince(start) < seconds); ++r) {
    const Clock::time_point t0 = Clock::now();
    pass();
    best = std::max(best, 3.0 * static_cast<double>(n * sizeof(float)) / SecondsSince(t0) * 1e-9);
  }
  g_sink = g_sink + job.a[n / 2];
  return best;
}

}  // namespace

StatusOr<double> MeasureTriadGbs(int threads, size_t bytes_per_array, double seconds) {
  TSR_ASSIGN_OR_RETURN(TriadArrays arrays, TriadArrays::Allocate(bytes_per_array));
  return TriadBestGbs(threads, arrays, seconds);
}

const StatusOr<MachineInfo>& GetMachineInfo() {
  static const StatusOr<MachineInfo>* const info = [] {
    const Clock::time_point start = Clock::now();
    // TESSERA_SIMD_TARGET applies before the first dispatch; a value it
    // refuses is an error here, where `tessera sysinfo` reports it.
    const Status& simd = ops::InitSimdTarget();
    if (!simd.ok()) return new StatusOr<MachineInfo>(simd);
    MachineInfo m;
    m.simd_target = hwy::TargetName(DispatchedTarget());
    m.supported_targets = ops::SimdTargetNames(ops::UsableSimdTargets());
    m.vector_bits = static_cast<int>(VectorBytesF32() * 8);
    m.cores = DefaultThreadCount();
    // ~0.15 s per number: long enough to reach a steady clock, short
    // enough for an interactive command.
    constexpr double kSeconds = 0.15;
    m.peak_gflops_1thread = MeasureFmaGflops(1, kSeconds);
    m.peak_gflops = m.cores > 1 ? MeasureFmaGflops(m.cores, kSeconds) : m.peak_gflops_1thread;
    StatusOr<TriadArrays> arrays = TriadArrays::Allocate(DefaultTriadBytesPerArray());
    if (!arrays.ok()) return new StatusOr<MachineInfo>(arrays.status().WithContext("measuring memory bandwidth"));
    m.bandwidth_gbs_1thread = TriadBestGbs(1, arrays.value(), kSeconds / 2);
    m.bandwidth_gbs = m.cores > 1 ? TriadBestGbs(m.cores, arrays.value(), kSeconds / 2) : m.bandwidth_gbs_1thread;
    m.measure_seconds = SecondsSince(start);
    return new StatusOr<MachineInfo>(std::move(m));
  }();
  return *info;
}

}  // namespace tessera::runtime
