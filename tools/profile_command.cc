// `tessera profile MODEL ...`: runs a model several times with per-node
// profiling and reports, per node and per op type, where the time goes and
// how close each op runs to the machine's roofline; optionally writes the
// same as JSON and a Chrome trace-event file with one lane per thread.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/inputs.h"
#include "tools/profile_report.h"

namespace tessera::cli {

const char kProfileHelp[] =
    "Usage: tessera profile MODEL [--threads N] [--runs N] [--warmup N]\n"
    "                             [--input NAME=FILE.npy ...] [--random-inputs [--seed S]]\n"
    "                             [--dim NAME=VALUE ...] [--json FILE] [--trace FILE]\n"
    "                             [--plugin PATH ...]\n"
    "\n"
    "Runs the model --warmup times untimed, then --runs times with per-node\n"
    "profiling, and prints per node and per op type: calls, total and median\n"
    "time, share of all node time, FLOPs and bytes per run (as each op declares\n"
    "them), achieved GFLOP/s and GB/s, FLOPs per byte, whether the op is\n"
    "compute- or memory-bound (its FLOPs per byte against the machine's ridge\n"
    "point) and the fraction of the roofline it reaches; nodes also show their\n"
    "input shapes. The roofline is measured first (see 'tessera sysinfo').\n"
    "\n"
    "Options:\n"
    "  --threads N            threads to use; 0 (default) = all cores\n"
    "  --runs N               profiled runs, at least 1 (default 10)\n"
    "  --warmup N             untimed runs first (default 2)\n"
    TSR_CLI_INPUT_OPTIONS_HELP
    "  --json FILE            also write the report as JSON\n"
    "  --trace FILE           write a Chrome trace-event file (open it in\n"
    "                         https://ui.perfetto.dev or chrome://tracing): one\n"
    "                         lane per worker thread, one slice per node call\n"
    TSR_CLI_PLUGIN_OPTION_HELP
    "  -h, --help             show this help\n";

namespace {

struct ProfileOptions {
  std::string model_path;
  InputOptions inputs;
  std::vector<std::string> plugins;  // --plugin, in order
  int32_t threads = 0;
  int64_t runs = 10;
  int64_t warmup = 2;
  std::string json_path;
  std::string trace_path;
};

constexpr int64_t kMaxRuns = 1000000;

bool ParseProfileOptions(const std::vector<std::string>& args, ProfileOptions* options) {
  const std::string command = "profile";
  ArgReader reader(command, args);
  std::vector<std::string> positional;
  while (!reader.Done()) {
    std::string value;
    if (reader.Flag("--help", "-h")) {
      std::fputs(kProfileHelp, stdout);
      return false;
    }
    if (ParseInputOption(reader, &options->inputs)) continue;
    if (ParsePluginOption(reader, &options->plugins)) continue;
    if (reader.Option("--threads", &value)) {
      options->threads = static_cast<int32_t>(ParseCount(command, "--threads", value, 65536));
    } else if (reader.Option("--runs", &value)) {
      options->runs = ParseCount(command, "--runs", value, kMaxRuns);
      if (options->runs == 0) UsageError(command, "--runs: must be at least 1");
    } else if (reader.Option("--warmup", &value)) {
      options->warmup = ParseCount(command, "--warmup", value, kMaxRuns);
    } else if (reader.Option("--json", &value)) {
      options->json_path = value;
    } else if (reader.Option("--trace", &value)) {
      options->trace_path = value;
    } else {
      positional.push_back(reader.Positional());
    }
  }
  if (positional.empty()) UsageError(command, "missing MODEL argument");
  if (positional.size() > 1) UsageError(command, "unexpected argument '" + Printable(positional[1]) + "'");
  CheckInputOptions(command, options->inputs);
  options->model_path = positional[0];
  return true;
}

}  // namespace

int ProfileCommand(const std::vector<std::string>& args) {
  ProfileOptions options;
  if (!ParseProfileOptions(args, &options)) return kExitOk;

  const Model model = LoadModel(options.model_path, options.plugins);
  std::vector<std::string> defaulted;
  const std::vector<InputPlan> plans = LoadInputs("profile", model, options.inputs, &defaulted);
  // A bad output path is reported before any time is spent.
  if (!options.json_path.empty()) CheckWritable("--json", options.json_path);
  if (!options.trace_path.empty()) CheckWritable("--trace", options.trace_path);

  std::printf("Model: %s\n", Printable(options.model_path).c_str());
  PrintInputs(plans, defaulted);
  std::fflush(stdout);

  // Measured before the runs, so the measurement does not compete with them.
  const MachineInfo machine = GetMachineInfo();
  Session session(model, SessionOptions().Threads(options.threads).Profiling(true));
  const Roofline roofline = RooflineFor(machine, options.threads);

  std::vector<std::pair<std::string, const Value*>> feeds;
  for (const InputPlan& p : plans) feeds.emplace_back(p.name, &p.value);
  std::vector<std::string> output_names;
  for (const ValueInfo& info : model.Outputs()) output_names.push_back(info.name);

  for (int64_t i = 0; i < options.warmup; ++i) session.Run(feeds, output_names);
  using Clock = std::chrono::steady_clock;
  std::vector<std::vector<NodeProfile>> runs;
  std::vector<double> wall_ns;
  std::vector<int64_t> start_ns;
  runs.reserve(static_cast<size_t>(options.runs));
  const Clock::time_point first = Clock::now();
  for (int64_t i = 0; i < options.runs; ++i) {
    const Clock::time_point start = Clock::now();
    session.Run(feeds, output_names);
    const Clock::time_point end = Clock::now();
    start_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(start - first).count());
    wall_ns.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count()));
    runs.push_back(session.Profile());
  }

  const ProfileReport report = BuildProfileReport(runs, wall_ns, roofline);
  const std::string threads = options.threads == 0 ? "all cores (" + std::to_string(machine.cores) + ")"
                                                    : std::to_string(options.threads);
  std::printf("\nProfiled %lld run%s after %lld warmup run%s (threads: %s)\n",
              static_cast<long long>(options.runs), options.runs == 1 ? "" : "s",
              static_cast<long long>(options.warmup), options.warmup == 1 ? "" : "s", threads.c_str());
  std::fputs(FormatProfileReport(report).c_str(), stdout);

  if (!options.json_path.empty()) {
    std::vector<std::string> header = {"\"model\": " + JsonString(options.model_path),
                                       "\"threads\": " + std::to_string(options.threads),
                                       "\"warmup\": " + std::to_string(options.warmup)};
    std::string inputs = "\"inputs\": [";
    for (size_t i = 0; i < plans.size(); ++i) {
      inputs += std::string(i > 0 ? ", " : "") + "{\"name\": " + JsonString(plans[i].name) +
                ", \"dtype\": " + JsonString(DTypeName(plans[i].value.dtype())) +
                ", \"shape\": " + FormatShape(plans[i].value.dims()) + "}";
    }
    header.push_back(inputs + "]");
    header.push_back("\"machine\": {\"simd_target\": " + JsonString(machine.simd_target) +
                     ", \"cores\": " + std::to_string(machine.cores) +
                     ", \"peak_gflops_per_s_1thread\": " + JsonNumber(machine.peak_gflops_1thread) +
                     ", \"peak_gflops_per_s\": " + JsonNumber(machine.peak_gflops) +
                     ", \"bandwidth_gbytes_per_s_1thread\": " + JsonNumber(machine.bandwidth_gbs_1thread) +
                     ", \"bandwidth_gbytes_per_s\": " + JsonNumber(machine.bandwidth_gbs) + "}");
    WriteTextFile("--json", options.json_path, ProfileReportJson(report, header));
    std::printf("\nWrote the report to %s\n", Printable(options.json_path).c_str());
  }
  if (!options.trace_path.empty()) {
    WriteTextFile("--trace", options.trace_path,
                  ChromeTraceJson(runs, start_ns, wall_ns, "tessera profile " + options.model_path));
    std::printf("%sWrote the trace to %s (open it in https://ui.perfetto.dev)\n",
                options.json_path.empty() ? "\n" : "", Printable(options.trace_path).c_str());
  }
  return kExitOk;
}

}  // namespace tessera::cli
