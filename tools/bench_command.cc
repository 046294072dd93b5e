// `tessera bench MODEL ...`: whole-model latency and throughput. C sessions
// over one shared Model run concurrently, each on its own thread (the way
// a server handles parallel requests); every run's latency is recorded and
// summarized as percentiles, next to the model's load time and the
// process's peak resident memory.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/inputs.h"

namespace tessera::cli {

const char kBenchHelp[] =
    "Usage: tessera bench MODEL [--threads N] [--runs N | --duration S] [--concurrency C]\n"
    "                           [--warmup N] [--input NAME=FILE.npy ...]\n"
    "                           [--random-inputs [--seed S]] [--dim NAME=VALUE ...]\n"
    "                           [--plugin PATH ...]\n"
    "\n"
    "Measures whole-model latency (min, p50, p90, p99, max, mean over every\n"
    "timed run) and throughput (runs per second) with C sessions over one\n"
    "shared model, each run from its own thread; also the model's load time\n"
    "and the process's peak resident memory. Runs longer than two seconds\n"
    "show a progress line on stderr.\n"
    "\n"
    "Options:\n"
    "  --threads N            threads per session; 0 (default) = all cores\n"
    "  --runs N               timed runs per session, at least 1 (default 100)\n"
    "  --duration S           run for S seconds (e.g. 10 or 2.5) instead of --runs\n"
    "  --concurrency C        concurrent sessions, at least 1 (default 1)\n"
    "  --warmup N             untimed runs per session first (default 5)\n"
    TSR_CLI_INPUT_OPTIONS_HELP
    TSR_CLI_PLUGIN_OPTION_HELP
    "  -h, --help             show this help\n";

namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string model_path;
  InputOptions inputs;
  std::vector<std::string> plugins;  // --plugin, in order
  int32_t threads = 0;
  int64_t runs = 100;
  bool runs_given = false;
  double duration_s = 0;  // 0: use runs
  int64_t concurrency = 1;
  int64_t warmup = 5;
};

constexpr int64_t kMaxRuns = 100000000;
constexpr double kMaxDuration = 86400;
constexpr double kProgressAfterSeconds = 2;

// A positive number of seconds: digits with at most one '.', no sign or
// exponent, in (0, kMaxDuration].
double ParseSeconds(const std::string& command, const std::string& text) {
  bool digits = false, dot = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      digits = false;
      break;
    }
  }
  const double value = digits ? std::strtod(text.c_str(), nullptr) : 0;
  if (!digits || !(value > 0) || value > kMaxDuration) {
    UsageError(command, "--duration: '" + Printable(text) + "' is not a number of seconds in (0, 86400]");
  }
  return value;
}

bool ParseBenchOptions(const std::vector<std::string>& args, BenchOptions* options) {
  const std::string command = "bench";
  ArgReader reader(command, args);
  std::vector<std::string> positional;
  while (!reader.Done()) {
    std::string value;
    if (reader.Flag("--help", "-h")) {
      std::fputs(kBenchHelp, stdout);
      return false;
    }
    if (ParseInputOption(reader, &options->inputs)) continue;
    if (ParsePluginOption(reader, &options->plugins)) continue;
    if (reader.Option("--threads", &value)) {
      options->threads = static_cast<int32_t>(ParseCount(command, "--threads", value, 65536));
    } else if (reader.Option("--runs", &value)) {
      options->runs = ParseCount(command, "--runs", value, kMaxRuns);
      options->runs_given = true;
      if (options->runs == 0) UsageError(command, "--runs: must be at least 1");
    } else if (reader.Option("--duration", &value)) {
      options->duration_s = ParseSeconds(command, value);
    } else if (reader.Option("--concurrency", &value)) {
      options->concurrency = ParseCount(command, "--concurrency", value, 1024);
      if (options->concurrency == 0) UsageError(command, "--concurrency: must be at least 1");
    } else if (reader.Option("--warmup", &value)) {
      options->warmup = ParseCount(command, "--warmup", value, kMaxRuns);
    } else {
      positional.push_back(reader.Positional());
    }
  }
  if (positional.empty()) UsageError(command, "missing MODEL argument");
  if (positional.size() > 1) UsageError(command, "unexpected argument '" + Printable(positional[1]) + "'");
  if (options->runs_given && options->duration_s > 0) UsageError(command, "give --runs or --duration, not both");
  CheckInputOptions(command, options->inputs);
  options->model_path = positional[0];
  return true;
}

// Nearest-rank percentile of sorted values: the smallest value with at
// least p% of all values at or below it.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = static_cast<size_t>(std::max(1.0, rank)) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

// Peak resident set size in bytes: VmHWM from /proc (Linux), else
// getrusage, whose ru_maxrss Linux reports in KiB.
double PeakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) * 1024.0;
  }
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) == 0) return static_cast<double>(usage.ru_maxrss) * 1024.0;
  return 0;
}

// What one session's thread does and leaves behind.
struct Worker {
  std::unique_ptr<Session> session;
  std::vector<double> latencies_ns;
  std::string error;
};

}  // namespace

int BenchCommand(const std::vector<std::string>& args) {
  BenchOptions options;
  if (!ParseBenchOptions(args, &options)) return kExitOk;

  const Clock::time_point load_start = Clock::now();
  const Model model = LoadModel(options.model_path, options.plugins);
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - load_start).count();
  std::vector<std::string> defaulted;
  const std::vector<InputPlan> plans = LoadInputs("bench", model, options.inputs, &defaulted);

  std::printf("Model: %s (loaded in %.3f ms)\n", Printable(options.model_path).c_str(), load_ms);
  PrintInputs(plans, defaulted);
  const std::string threads = options.threads == 0 ? "all cores" : std::to_string(options.threads);
  std::string plan = options.duration_s > 0 ? "for " + FormatNumber(options.duration_s) + " s"
                                            : std::to_string(options.runs) + " runs";
  std::printf("\nBenchmark: %s per session, %lld concurrent session%s, threads per session: %s, warmup: %lld\n",
              plan.c_str(), static_cast<long long>(options.concurrency), options.concurrency == 1 ? "" : "s",
              threads.c_str(), static_cast<long long>(options.warmup));
  std::fflush(stdout);

  std::vector<std::pair<std::string, const Value*>> feeds;
  for (const InputPlan& p : plans) feeds.emplace_back(p.name, &p.value);
  std::vector<std::string> output_names;
  for (const ValueInfo& info : model.Outputs()) output_names.push_back(info.name);

  const size_t count = static_cast<size_t>(options.concurrency);
  std::vector<Worker> workers(count);
  for (Worker& w : workers) {
    w.session = std::make_unique<Session>(model, SessionOptions().Threads(options.threads));
    if (options.duration_s <= 0) w.latencies_ns.reserve(static_cast<size_t>(options.runs));
  }

  // Every worker warms up, then waits until all are ready, so the timed
  // phase measures C sessions running together.
  std::atomic<size_t> ready{0};
  std::atomic<bool> go{false}, stop{false};
  std::atomic<int64_t> done_runs{0};
  Clock::time_point start;
  auto body = [&](Worker* w) {
    try {
      for (int64_t i = 0; i < options.warmup && !stop.load(); ++i) w->session->Run(feeds, output_names);
    } catch (const Error& e) {
      w->error = e.what();
      stop.store(true);
    }
    ready.fetch_add(1);
    while (!go.load()) std::this_thread::yield();
    try {
      const Clock::time_point deadline =
          start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_s));
      for (int64_t i = 0; !stop.load(); ++i) {
        // With --duration, every session still completes at least one run.
        if (options.duration_s > 0 ? i > 0 && Clock::now() >= deadline : i >= options.runs) break;
        const Clock::time_point t0 = Clock::now();
        w->session->Run(feeds, output_names);
        w->latencies_ns.push_back(static_cast<double>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
        done_runs.fetch_add(1, std::memory_order_relaxed);
      }
    } catch (const Error& e) {
      w->error = e.what();
      stop.store(true);
    }
  };
  std::vector<std::thread> pool;
  for (Worker& w : workers) pool.emplace_back(body, &w);
  while (ready.load() < count) std::this_thread::yield();
  start = Clock::now();
  go.store(true);

  // The progress line: only once a run takes long enough to wonder.
  const bool tty = isatty(STDERR_FILENO) != 0;
  const int64_t total_runs = options.runs * options.concurrency;
  bool progress_shown = false;
  Clock::time_point last_progress = start;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t done = done_runs.load(std::memory_order_relaxed);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const bool finished = stop.load() || (options.duration_s > 0 ? elapsed >= options.duration_s : done >= total_runs);
    if (finished) break;
    // On a terminal the line redraws in place; in a log, one line every
    // few seconds.
    const double every = tty ? 0.25 : 5.0;
    if (elapsed >= kProgressAfterSeconds &&
        (!progress_shown || std::chrono::duration<double>(Clock::now() - last_progress).count() >= every)) {
      last_progress = Clock::now();
      char line[160];
      if (options.duration_s > 0) {
        std::snprintf(line, sizeof(line), "bench: %.1f s of %.1f s, %lld runs, %.1f runs/s", elapsed,
                      options.duration_s, static_cast<long long>(done), done / elapsed);
      } else {
        std::snprintf(line, sizeof(line), "bench: %lld of %lld runs, %.1f s, %.1f runs/s",
                      static_cast<long long>(done), static_cast<long long>(total_runs), elapsed, done / elapsed);
      }
      std::fprintf(stderr, tty ? "\r%s\x1b[K" : "%s\n", line);
      progress_shown = true;
    }
  }
  for (std::thread& t : pool) t.join();
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (progress_shown && tty) std::fputs("\r\x1b[K", stderr);

  std::vector<std::string> errors;
  for (const Worker& w : workers) {
    if (!w.error.empty()) errors.push_back(w.error);
  }
  if (!errors.empty()) throw CliError(kExitError, errors.front());

  std::vector<double> all;
  for (const Worker& w : workers) all.insert(all.end(), w.latencies_ns.begin(), w.latencies_ns.end());
  std::sort(all.begin(), all.end());
  double sum = 0;
  for (double v : all) sum += v;
  const double mean = all.empty() ? 0 : sum / static_cast<double>(all.size());

  std::printf("\nTimed %zu runs in %.3f s\n", all.size(), wall_s);
  Table latency({"latency ms", "min", "p50", "p90", "p99", "max", "mean"},
                {false, true, true, true, true, true, true});
  auto ms = [](double ns) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3f", ns / 1e6);
    return std::string(buf);
  };
  latency.AddRow({"", ms(all.front()), ms(Percentile(all, 50)), ms(Percentile(all, 90)), ms(Percentile(all, 99)),
                  ms(all.back()), ms(mean)});
  std::fputs(latency.ToString().c_str(), stdout);
  std::printf("\nThroughput: %.1f runs/s (%lld concurrent session%s)\n", static_cast<double>(all.size()) / wall_s,
              static_cast<long long>(options.concurrency), options.concurrency == 1 ? "" : "s");
  std::printf("Model load: %.3f ms\n", load_ms);
  std::printf("Peak resident memory: %s\n", HumanBytes(PeakResidentBytes()).c_str());
  return kExitOk;
}

}  // namespace tessera::cli
