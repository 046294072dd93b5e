// `tessera inspect MODEL [--dim NAME=VALUE ...]`: what a model declares
// and what it costs, without running it.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace tessera::cli {

const char kInspectHelp[] =
    "Usage: tessera inspect MODEL [--dim NAME=VALUE ...] [--no-optimize] [--plugin PATH ...]\n"
    "\n"
    "Shows a model's inputs and outputs (dynamic dims by name), metadata, its\n"
    "nodes in execution order, an op histogram, the parameter count and size,\n"
    "and the activation memory the planner needs compared with giving every\n"
    "intermediate tensor its own buffer.\n"
    "\n"
    "Models are optimized when they load (constant folding, dead-node\n"
    "elimination, MatMul bias and activation fusion into the GEMM epilogue,\n"
    "LayerNormalization, GELU and attention pattern fusion). When a pass\n"
    "changed the graph, inspect shows the nodes as stored, the passes that\n"
    "fired (rewrites, node counts), then the nodes that run; the figures are\n"
    "for the graph that runs.\n"
    "\n"
    "Options:\n"
    "  --dim NAME=VALUE  bind a dynamic dim (e.g. --dim batch=4) for the memory\n"
    "                    figures; repeatable. Unbound dims are listed instead.\n"
    "  --no-optimize     load the graph as stored, without optimizations (as\n"
    "                    TESSERA_OPTIMIZE=0 does for every command)\n"
    "  --plugin PATH     load an op library (a Tessera plugin) first, for models\n"
    "                    using its ops; repeatable (TESSERA_PLUGINS adds more)\n"
    "  -h, --help        show this help\n";

namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += ", ";
    s += names[i].empty() ? "<none>" : Printable(names[i]);
  }
  return s;
}

void PrintValues(const char* title, const std::vector<ValueInfo>& values) {
  std::printf("\n%s:\n", title);
  Table table({});
  for (const ValueInfo& v : values) table.AddRow({Printable(v.name), DTypeName(v.dtype), FormatDims(v)});
  std::fputs(values.empty() ? "  (none)\n" : table.ToString().c_str(), stdout);
}

void PrintNodes(const std::vector<NodeInfo>& nodes, const char* title = "in execution order") {
  std::printf("\nNodes (%zu, %s):\n", nodes.size(), title);
  Table table({"#", "name", "op", "inputs -> outputs"}, {true});
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeInfo& n = nodes[i];
    table.AddRow({std::to_string(i), n.name.empty() ? "-" : Printable(n.name),
                  OpName(n.domain, n.op_type) + " v" + std::to_string(n.version),
                  JoinNames(n.inputs) + " -> " + JoinNames(n.outputs)});
  }
  std::fputs(table.ToString().c_str(), stdout);
}

void PrintOpHistogram(const std::vector<NodeInfo>& nodes) {
  std::map<std::string, int> counts;
  for (const NodeInfo& n : nodes) ++counts[OpName(n.domain, n.op_type)];
  std::vector<std::pair<std::string, int>> sorted(counts.begin(), counts.end());
  // Most frequent first; ties by name so the output is stable.
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::printf("\nOps (%zu types):\n", sorted.size());
  Table table({}, {false, true});
  for (const auto& [op, count] : sorted) table.AddRow({op, std::to_string(count)});
  std::fputs(table.ToString().c_str(), stdout);
}

// The passes that changed the graph at load; with any, the stored graph
// first, so before and after can be compared.
void PrintOptimizations(const Model& model, const std::string& path, const std::vector<std::string>& plugins,
                        bool optimize) {
  if (!optimize) {
    std::printf("\nOptimizations: off (--no-optimize)\n");
    return;
  }
  const std::vector<TsrOptimizationInfo> passes = model.Optimizations();
  if (passes.empty()) {
    std::printf("\nOptimizations: none applied\n");
    return;
  }
  PrintNodes(LoadModel(path, plugins, /*optimize=*/false).Nodes(), "as stored, before optimization");
  std::printf("\nOptimizations (%d nodes -> %d):\n", passes.front().nodes_before, passes.back().nodes_after);
  Table table({"pass", "rewrites", "nodes"}, {false, true, true});
  for (const TsrOptimizationInfo& p : passes) {
    table.AddRow({p.pass, std::to_string(p.rewrites),
                  std::to_string(p.nodes_before) + " -> " + std::to_string(p.nodes_after)});
  }
  std::fputs(table.ToString().c_str(), stdout);
}

std::string FormatBindings(const DimBindings& dims) {
  std::string s;
  for (const auto& [name, value] : dims) s += (s.empty() ? "" : ", ") + Printable(name) + "=" + std::to_string(value);
  return s;
}

// Parameters never depend on dims, so they are shown even when some dims
// are unbound (by asking with those dims set to 1); activation memory is
// shown only for the dims the user chose.
void PrintStats(const Model& model, const DimBindings& given, const std::vector<std::string>& dynamic) {
  std::vector<std::string> unbound;
  DimBindings all = given;
  for (const std::string& name : dynamic) {
    if (FindDim(given, name) == nullptr) {
      unbound.push_back(name);
      all.emplace_back(name, 1);
    }
  }
  TsrModelStats stats;
  try {
    stats = model.Stats(all);
  } catch (const Error& e) {
    std::printf("\nParameters and memory: not available: %s\n", Printable(e.what()).c_str());
    return;
  }
  std::printf("\nParameters: %s (%s)\n", WithThousands(stats.parameter_count).c_str(),
              HumanBytes(static_cast<double>(stats.parameter_bytes)).c_str());
  if (!unbound.empty()) {
    std::string flags;
    for (const std::string& name : unbound) flags += (flags.empty() ? "" : " ") + ("--dim " + Printable(name) + "=N");
    std::printf("Activation memory: depends on %s; pass %s\n", JoinNames(unbound).c_str(), flags.c_str());
    return;
  }
  const std::string for_dims = given.empty() ? "" : " for " + FormatBindings(given);
  std::printf("Activation memory%s: %s planned, %s without reuse (%s intermediates", for_dims.c_str(),
              HumanBytes(static_cast<double>(stats.activation_bytes_planned)).c_str(),
              HumanBytes(static_cast<double>(stats.activation_bytes_unplanned)).c_str(),
              WithThousands(stats.num_intermediates).c_str());
  if (stats.activation_bytes_planned > 0) {
    std::printf(", %.1fx less", static_cast<double>(stats.activation_bytes_unplanned) /
                                     static_cast<double>(stats.activation_bytes_planned));
  }
  std::printf(")\n");
}

}  // namespace

int InspectCommand(const std::vector<std::string>& args) {
  const std::string command = "inspect";
  ArgReader reader(command, args);
  std::vector<std::string> positional;
  DimBindings dims;
  std::vector<std::string> plugins;
  bool optimize = true;
  while (!reader.Done()) {
    std::string value;
    if (reader.Flag("--help", "-h")) {
      std::fputs(kInspectHelp, stdout);
      return kExitOk;
    }
    if (reader.Option("--dim", &value)) {
      ParseDimOption(command, value, &dims);
    } else if (reader.Flag("--no-optimize")) {
      optimize = false;
    } else if (ParsePluginOption(reader, &plugins)) {
      continue;
    } else {
      positional.push_back(reader.Positional());
    }
  }
  if (positional.empty()) UsageError(command, "missing MODEL argument");
  if (positional.size() > 1) UsageError(command, "unexpected argument '" + Printable(positional[1]) + "'");
  const std::string& path = positional[0];

  const Model model = LoadModel(path, plugins, optimize);
  const std::vector<ValueInfo> inputs = model.Inputs();
  const std::vector<std::string> dynamic = DynamicDimNames(inputs);
  CheckDimNames(command, dims, dynamic);

  std::printf("Model: %s\n", Printable(path).c_str());
  const auto metadata = model.Metadata();
  std::printf("\nMetadata:\n");
  Table meta({});
  for (const auto& [key, value] : metadata) meta.AddRow({Printable(key), Printable(value)});
  std::fputs(metadata.empty() ? "  (none)\n" : meta.ToString().c_str(), stdout);

  PrintValues("Inputs", inputs);
  PrintValues("Outputs", model.Outputs());
  if (!dynamic.empty()) std::printf("Dynamic dims: %s\n", JoinNames(dynamic).c_str());

  PrintOptimizations(model, path, plugins, optimize);
  const std::vector<NodeInfo> nodes = model.Nodes();
  PrintNodes(nodes);
  PrintOpHistogram(nodes);
  PrintStats(model, dims, dynamic);
  return kExitOk;
}

}  // namespace tessera::cli
