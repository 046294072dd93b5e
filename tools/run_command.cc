// `tessera run MODEL ...`: runs a model once on inputs from .npy files or
// seeded random inputs, summarizes each output, and optionally writes the
// outputs as .npy and prints a per-node profile.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/inputs.h"
#include "tools/npy.h"

namespace tessera::cli {

const char kRunHelp[] =
    "Usage: tessera run MODEL [--input NAME=FILE.npy ...] [--random-inputs [--seed S]]\n"
    "                         [--dim NAME=VALUE ...] [--output-dir DIR] [--threads N]\n"
    "                         [--profile] [--plugin PATH ...]\n"
    "\n"
    "Runs the model once and prints each output's name, dtype, shape, min, max,\n"
    "mean and first values.\n"
    "\n"
    "Options:\n"
    TSR_CLI_INPUT_OPTIONS_HELP
    "  --output-dir DIR       write each output to DIR/NAME.npy (created if needed;\n"
    "                         characters other than letters, digits, '.', '_' and\n"
    "                         '-' in NAME become '_'; bf16 is written as f32)\n"
    "  --threads N            threads to use; 0 (default) = all cores\n"
    "  --profile              print per-node times and throughput\n"
    TSR_CLI_PLUGIN_OPTION_HELP
    "  -h, --help             show this help\n";

namespace {

constexpr int kFirstValues = 8;

struct RunOptions {
  std::string model_path;
  InputOptions inputs;
  std::string output_dir;
  int32_t threads = 0;
  bool profile = false;
  std::vector<std::string> plugins;  // --plugin, in order
};

// Returns false if --help was asked for (and printed).
bool ParseRunOptions(const std::vector<std::string>& args, RunOptions* options) {
  const std::string command = "run";
  ArgReader reader(command, args);
  std::vector<std::string> positional;
  while (!reader.Done()) {
    std::string value;
    if (reader.Flag("--help", "-h")) {
      std::fputs(kRunHelp, stdout);
      return false;
    }
    if (ParseInputOption(reader, &options->inputs)) continue;
    if (reader.Option("--output-dir", &value)) {
      options->output_dir = value;
    } else if (reader.Option("--threads", &value)) {
      options->threads = static_cast<int32_t>(ParseCount(command, "--threads", value, 65536));
    } else if (reader.Flag("--profile")) {
      options->profile = true;
    } else if (ParsePluginOption(reader, &options->plugins)) {
      continue;
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

// ---- Output summary ---------------------------------------------------------

std::string FormatElement(int32_t dtype, double v) {
  if (dtype == TSR_DTYPE_BOOL) return v != 0 ? "true" : "false";
  const bool integer = dtype == TSR_DTYPE_INT8 || dtype == TSR_DTYPE_UINT8 || dtype == TSR_DTYPE_INT32 ||
                       dtype == TSR_DTYPE_INT64;
  return FormatNumber(v, integer ? 17 : 6);
}

void PrintOutput(const std::string& name, const Value& value) {
  const int32_t dtype = value.dtype();
  const int64_t n = value.ElementCount();
  std::printf("  %s  %s  %s\n", Printable(name).c_str(), DTypeName(dtype).c_str(), FormatShape(value.dims()).c_str());
  if (n == 0) {
    std::printf("    (no elements)\n");
    return;
  }
  const void* data = value.data();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  int64_t finite = 0, nans = 0, infs = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = ElementAsDouble(dtype, data, i);
    if (std::isnan(v)) {
      ++nans;
    } else if (std::isinf(v)) {
      ++infs;
    } else {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
      ++finite;
    }
  }
  std::string stats;
  if (finite > 0) {
    const double mean = sum / static_cast<double>(finite);
    stats = "min " + FormatElement(dtype, lo) + "  max " + FormatElement(dtype, hi) + "  mean " +
            FormatNumber(mean, 6);
  } else {
    stats = "no finite values";
  }
  if (nans > 0) stats += "  nan " + WithThousands(nans);
  if (infs > 0) stats += "  inf " + WithThousands(infs);
  std::printf("    %s  (%s values)\n", stats.c_str(), WithThousands(n).c_str());

  const int64_t shown = std::min<int64_t>(n, kFirstValues);
  std::string values;
  for (int64_t i = 0; i < shown; ++i) values += " " + FormatElement(dtype, ElementAsDouble(dtype, data, i));
  if (shown < n) {
    std::printf("    first %lld:%s ...\n", static_cast<long long>(shown), values.c_str());
  } else {
    std::printf("    values:%s\n", values.c_str());
  }
}

// An output name as a file name: letters, digits, '.', '_' and '-' are
// kept, anything else (notably '/') becomes '_', and a leading '.' is
// replaced so that no name is hidden or means "." or "..".
std::string SafeFileStem(const std::string& name) {
  std::string stem;
  for (char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
    stem += keep ? c : '_';
  }
  if (stem.empty()) stem = "output";
  if (stem[0] == '.') stem[0] = '_';
  return stem;
}

// Done before the run, so that a bad directory costs no run.
void CreateOutputDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) Fail("--output-dir " + Printable(dir) + ": cannot create the directory: " + ec.message());
}

void WriteOutputs(const std::string& dir, const std::vector<std::string>& names, const std::vector<Value>& values) {
  std::printf("\nWrote:\n");
  std::set<std::string> used;
  for (size_t i = 0; i < values.size(); ++i) {
    // Two names may map to one stem ("a/b" and "a_b"): number the later.
    std::string stem = SafeFileStem(names[i]);
    for (int k = 2; used.count(stem) != 0; ++k) stem = SafeFileStem(names[i]) + "_" + std::to_string(k);
    used.insert(stem);

    const Value& value = values[i];
    tools::NpyArray array;
    array.dims = value.dims();
    const auto* bytes = static_cast<const uint8_t*>(value.data());
    std::string note;
    if (value.dtype() == TSR_DTYPE_BFLOAT16) {
      // NumPy has no bfloat16; f32 holds every bf16 value exactly.
      array.dtype = TSR_DTYPE_FLOAT32;
      array.bytes.resize(static_cast<size_t>(value.ElementCount()) * sizeof(float));
      for (int64_t e = 0; e < value.ElementCount(); ++e) {
        const float f = static_cast<float>(ElementAsDouble(TSR_DTYPE_BFLOAT16, bytes, e));
        std::memcpy(array.bytes.data() + e * sizeof(float), &f, sizeof(f));
      }
      note = " (bf16 written as f32)";
    } else {
      array.dtype = value.dtype();
      array.bytes.assign(bytes, bytes + value.ByteSize());
    }
    const std::string path = (std::filesystem::path(dir) / (stem + ".npy")).string();
    std::string error;
    if (!tools::WriteNpy(path, array, &error)) Fail(Printable(error));
    std::printf("  %s -> %s%s\n", Printable(names[i]).c_str(), Printable(path).c_str(), note.c_str());
  }
}

void PrintProfile(const std::vector<NodeProfile>& records, double wall_ms) {
  double total_ns = 0;
  for (const NodeProfile& r : records) total_ns += static_cast<double>(r.duration_ns);
  std::printf("\nProfile (%zu nodes; node times sum to %.3f ms of %.3f ms wall):\n", records.size(),
              total_ns / 1e6, wall_ms);
  if (records.empty()) {
    std::printf("  (no records)\n");
    return;
  }
  auto share = [total_ns](double ns) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%.1f%%", total_ns > 0 ? 100.0 * ns / total_ns : 0.0);
    return std::string(buf);
  };
  auto fixed = [](double v, int decimals) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    return std::string(buf);
  };
  // flops per nanosecond is GFLOP/s, and bytes per nanosecond GB/s.
  auto rate = [&fixed](double amount, int64_t ns) { return ns > 0 && amount > 0 ? fixed(amount / ns, 2) : "-"; };
  Table nodes({"#", "node", "op", "thread", "start us", "time us", "share", "GFLOP/s", "GB/s"},
              {true, false, false, true, true, true, true, true, true});
  for (size_t i = 0; i < records.size(); ++i) {
    const NodeProfile& r = records[i];
    nodes.AddRow({std::to_string(i), Printable(r.node_name), Printable(r.op_type), std::to_string(r.thread_index),
                  fixed(r.start_ns / 1e3, 1), fixed(r.duration_ns / 1e3, 1),
                  share(static_cast<double>(r.duration_ns)), rate(r.flops, r.duration_ns),
                  rate(r.bytes, r.duration_ns)});
  }
  std::fputs(nodes.ToString().c_str(), stdout);

  struct OpTotal {
    int count = 0;
    double ns = 0, flops = 0, bytes = 0;
  };
  std::map<std::string, OpTotal> by_op;
  for (const NodeProfile& r : records) {
    OpTotal& t = by_op[r.op_type];
    ++t.count;
    t.ns += static_cast<double>(r.duration_ns);
    t.flops += r.flops;
    t.bytes += r.bytes;
  }
  std::vector<std::pair<std::string, OpTotal>> sorted(by_op.begin(), by_op.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  std::printf("\nBy op type:\n");
  Table ops({"op", "nodes", "time us", "share", "GFLOP/s", "GB/s"}, {false, true, true, true, true, true});
  for (const auto& [op, t] : sorted) {
    const int64_t ns = static_cast<int64_t>(t.ns);
    ops.AddRow({Printable(op), std::to_string(t.count), fixed(t.ns / 1e3, 1), share(t.ns), rate(t.flops, ns),
                rate(t.bytes, ns)});
  }
  std::fputs(ops.ToString().c_str(), stdout);
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  RunOptions options;
  if (!ParseRunOptions(args, &options)) return kExitOk;

  const Model model = LoadModel(options.model_path, options.plugins);
  std::vector<std::string> defaulted;
  std::vector<InputPlan> plans = LoadInputs("run", model, options.inputs, &defaulted);
  if (!options.output_dir.empty()) CreateOutputDir(options.output_dir);

  std::printf("Model: %s\n", Printable(options.model_path).c_str());
  PrintInputs(plans, defaulted);

  SessionOptions session_options;
  session_options.Threads(options.threads).Profiling(options.profile);
  Session session(model, session_options);
  std::vector<std::pair<std::string, const Value*>> feeds;
  for (const InputPlan& p : plans) feeds.emplace_back(p.name, &p.value);
  std::vector<std::string> output_names;
  for (const ValueInfo& info : model.Outputs()) output_names.push_back(info.name);

  const auto start = std::chrono::steady_clock::now();
  const std::vector<Value> outputs = session.Run(feeds, output_names);
  const double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  const std::string threads = options.threads == 0 ? "all cores" : std::to_string(options.threads);
  std::printf("\nRan in %.3f ms (threads: %s)\n", wall_ms, threads.c_str());
  std::printf("\nOutputs:\n");
  for (size_t i = 0; i < outputs.size(); ++i) PrintOutput(output_names[i], outputs[i]);
  if (!options.output_dir.empty()) WriteOutputs(options.output_dir, output_names, outputs);
  if (options.profile) PrintProfile(session.Profile(), wall_ms);
  return kExitOk;
}

}  // namespace tessera::cli
