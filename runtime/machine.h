// The machine's roofline: which SIMD target the kernels run on, how many
// cores a session may use, and the measured FP32 FMA peak and memory
// bandwidth. The profiler divides each op's achieved GFLOP/s and GB/s by
// these to say how close to the limit it runs and which limit applies
// (compute-bound when its FLOPs per byte exceed peak / bandwidth, the
// ridge point).
//
// The numbers are measured, not looked up: a vendor's nominal peak says
// nothing about the clock under load, the VM the process runs in, or the
// vector width the dispatched target really uses. A measurement takes
// about a second and is done once per process.
#ifndef TESSERA_RUNTIME_MACHINE_H_
#define TESSERA_RUNTIME_MACHINE_H_

#include <cstddef>
#include <string>

#include "runtime/core/status.h"

namespace tessera::runtime {

struct MachineInfo {
  std::string simd_target;        // Highway name of the dispatched target, e.g. "AVX3"
  std::string supported_targets;  // every target built and supported here, best first
  int vector_bits = 0;            // float vector width on simd_target
  int cores = 0;                  // threads a session with threads = 0 gets
  double peak_gflops_1thread = 0;  // FP32 FMA peak, one thread
  double peak_gflops = 0;          // ... all `cores` threads
  double bandwidth_gbs_1thread = 0;  // stream triad, 1e9 bytes/s, one thread
  double bandwidth_gbs = 0;          // ... all `cores` threads
  double measure_seconds = 0;        // wall time the measurement took
};

// Measured on the first call, then the same result for the life of the
// process (thread-safe). Fails only when the triad arrays cannot be
// allocated.
const StatusOr<MachineInfo>& GetMachineInfo();

// The two measurements, for tests and benchmarks. Each takes the best of
// several repetitions within about `seconds`: other processes can only make
// a repetition slower, so the best is the closest to the machine's limit.
// `threads` <= 0 means all cores.
double MeasureFmaGflops(int threads, double seconds);
// Arrays of `bytes_per_array` each (rounded down to 256 bytes); counts 12
// bytes per element (two loads and one store, as STREAM does).
StatusOr<double> MeasureTriadGbs(int threads, size_t bytes_per_array, double seconds);
// Triad arrays large enough to defeat the caches: twice the last-level
// cache each (32 MiB to 256 MiB), so the three are 6x the LLC.
size_t DefaultTriadBytesPerArray();

}  // namespace tessera::runtime

#endif  // TESSERA_RUNTIME_MACHINE_H_
