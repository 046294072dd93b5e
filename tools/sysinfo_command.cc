// `tessera sysinfo`: the machine's roofline as the profiler sees it: the
// SIMD target the kernels run on, the cores, and the measured FP32 FMA peak
// and memory bandwidth on one thread and on all cores.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace tessera::cli {

const char kSysinfoHelp[] =
    "Usage: tessera sysinfo\n"
    "\n"
    "Prints the machine's roofline, the limits `tessera profile` compares each\n"
    "op against: the SIMD target Tessera's kernels run on, the number of cores,\n"
    "the FP32 FMA peak (GFLOP/s) and the memory bandwidth (GB/s, stream triad)\n"
    "measured on one thread and on all cores, and the ridge point between them.\n"
    "Measuring takes about a second; other load on the machine lowers the\n"
    "numbers, so run it on an idle machine.\n"
    "\n"
    "The kernels run on the best SIMD target that is built in and supported by\n"
    "the CPU (listed best first); the TESSERA_SIMD_TARGET environment variable\n"
    "caps it at one of those, e.g. TESSERA_SIMD_TARGET=SSE4.\n"
    "\n"
    "Options:\n"
    "  -h, --help             show this help\n";

int SysinfoCommand(const std::vector<std::string>& args) {
  ArgReader reader("sysinfo", args);
  while (!reader.Done()) {
    if (reader.Flag("--help", "-h")) {
      std::fputs(kSysinfoHelp, stdout);
      return kExitOk;
    }
    UsageError("sysinfo", "unexpected argument '" + Printable(reader.Positional()) + "'");
  }
  const MachineInfo m = GetMachineInfo();
  const std::string all = std::to_string(m.cores) + (m.cores == 1 ? " thread" : " threads");
  Table table({});
  table.AddRow({"Tessera", TsrVersionString()});
  std::string target = m.simd_target + " (" + std::to_string(m.vector_bits) + "-bit vectors";
  const char* cap = std::getenv("TESSERA_SIMD_TARGET");
  if (cap != nullptr && cap[0] != '\0') target += std::string(", capped by TESSERA_SIMD_TARGET=") + cap;
  table.AddRow({"SIMD target", target + ")"});
  table.AddRow({"Supported targets", m.supported_targets});
  table.AddRow({"Cores", std::to_string(m.cores)});
  char line[160];
  std::snprintf(line, sizeof(line), "%.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %s", m.peak_gflops_1thread,
                m.peak_gflops, all.c_str());
  table.AddRow({"FP32 FMA peak", line});
  std::snprintf(line, sizeof(line), "%.1f GB/s on 1 thread, %.1f GB/s on %s (stream triad)",
                m.bandwidth_gbs_1thread, m.bandwidth_gbs, all.c_str());
  table.AddRow({"Memory bandwidth", line});
  auto ridge = [](double gflops, double gbs) { return gbs > 0 ? gflops / gbs : 0.0; };
  std::snprintf(line, sizeof(line), "%.2f FLOP/byte on 1 thread, %.2f FLOP/byte on %s",
                ridge(m.peak_gflops_1thread, m.bandwidth_gbs_1thread), ridge(m.peak_gflops, m.bandwidth_gbs),
                all.c_str());
  table.AddRow({"Ridge point", line});
  std::snprintf(line, sizeof(line), "%.2f s (best of 10 repetitions each)", m.measure_seconds);
  table.AddRow({"Measured in", line});
  std::fputs(table.ToString().c_str(), stdout);
  return kExitOk;
}

}  // namespace tessera::cli
