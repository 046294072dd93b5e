// The `tessera` command-line tool: inspect, run, profile and benchmark
// Tessera models.
//
// Exit codes: 0 success, 1 a model, input or runtime error, 2 a usage
// error. Every error is reported as "tessera: error: ..." on stderr.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace tessera::cli {
namespace {

const char kMainHelp[] =
    "Usage: tessera COMMAND [ARGS...]\n"
    "\n"
    "Inspect and run Tessera models (.tess files, or .onnx converted on load)\n"
    "on the CPU.\n"
    "\n"
    "Commands:\n"
    "  inspect MODEL     inputs, outputs, metadata, nodes, ops, parameters, memory\n"
    "  run MODEL         run once on .npy or random inputs; summarize the outputs\n"
    "  profile MODEL     per-node and per-op times, GFLOP/s, GB/s and roofline;\n"
    "                    --json and Chrome/Perfetto --trace output\n"
    "  bench MODEL       whole-model latency percentiles, throughput with\n"
    "                    concurrent sessions, load time, peak memory\n"
    "  convert MODEL     convert an ONNX model (.onnx) into a .tess file\n"
    "  sysinfo           SIMD target, cores, measured FMA peak and bandwidth\n"
    "  help [COMMAND]    show this help, or a command's\n"
    "\n"
    "Options:\n"
    "  -h, --help        show this help\n"
    "  --version         print the Tessera version\n"
    "\n"
    "Examples:\n"
    "  tessera inspect models/gated_mlp.tess --dim batch=8\n"
    "  tessera run models/gated_mlp.tess --random-inputs --dim batch=4 --profile\n"
    "  tessera run models/gated_mlp.tess --input features=x.npy --output-dir out\n"
    "  tessera profile models/gated_mlp.tess --random-inputs --dim batch=64 --trace t.json\n"
    "  tessera bench models/gated_mlp.tess --random-inputs --concurrency 2 --duration 5\n"
    "  tessera convert model.onnx -o model.tess\n"
    "\n"
    "Run 'tessera COMMAND --help' for a command's options.\n"
    "Exit status: 0 on success, 1 for model, input or runtime errors, 2 for\n"
    "usage errors.\n";

struct Command {
  const char* name;
  const char* help;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"inspect", kInspectHelp, InspectCommand},
    {"run", kRunHelp, RunCommand},
    {"profile", kProfileHelp, ProfileCommand},
    {"bench", kBenchHelp, BenchCommand},
    {"convert", kConvertHelp, ConvertCommand},
    {"sysinfo", kSysinfoHelp, SysinfoCommand},
};

const Command* FindCommand(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) UsageError("", "no command given");
  const std::string& first = args[0];
  if (first == "--help" || first == "-h") {
    std::fputs(kMainHelp, stdout);
    return kExitOk;
  }
  if (first == "--version") {
    std::printf("tessera %s\n", TsrVersionString());
    return kExitOk;
  }
  if (first == "help") {
    if (args.size() == 1) {
      std::fputs(kMainHelp, stdout);
      return kExitOk;
    }
    if (args.size() > 2) UsageError("", "help takes at most one COMMAND");
    const Command* command = FindCommand(args[1]);
    if (command == nullptr) UsageError("", "unknown command '" + Printable(args[1]) + "'");
    std::fputs(command->help, stdout);
    return kExitOk;
  }
  const Command* command = FindCommand(first);
  if (command == nullptr) {
    if (first.size() > 1 && first[0] == '-') UsageError("", "unknown option '" + Printable(first) + "'");
    UsageError("", "unknown command '" + Printable(first) + "'");
  }
  return command->run(std::vector<std::string>(args.begin() + 1, args.end()));
}

void PrintError(const std::string& line) {
  std::fflush(stdout);  // keep stdout's partial report before the error
  std::fprintf(stderr, "tessera: error: %s\n", Printable(line).c_str());
}

}  // namespace
}  // namespace tessera::cli

int main(int argc, char** argv) {
  namespace cli = tessera::cli;
  try {
    return cli::Main(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const cli::CliError& e) {
    for (const std::string& line : e.lines()) cli::PrintError(line);
    return e.exit_code();
  } catch (const tessera::Error& e) {
    cli::PrintError(e.what());
    return cli::kExitError;
  } catch (const std::bad_alloc&) {
    cli::PrintError("out of memory");
    return cli::kExitError;
  } catch (const std::exception& e) {
    cli::PrintError(std::string("internal error: ") + e.what());
    return cli::kExitError;
  }
}
