// `tessera convert MODEL.onnx -o MODEL.tess`: ONNX models into Tessera's
// format, through the C API's TsrConvertOnnxFile.
#include <cstdio>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace tessera::cli {

const char kConvertHelp[] =
    "Usage: tessera convert MODEL.onnx -o MODEL.tess [--plugin PATH ...]\n"
    "\n"
    "Converts an ONNX model (op sets up to 17) into a Tessera model file.\n"
    "Initializers become 64-byte-aligned weights; symbolic input dims (e.g.\n"
    "'batch', 'sequence') stay named dynamic dims, so the converted model runs\n"
    "at any batch size and sequence length; each node keeps the op-set version\n"
    "its model imports. The converted model is loaded once (shapes inferred,\n"
    "kernels prepared) before the file is written.\n"
    "\n"
    "A model using ops Tessera does not implement is refused with one error\n"
    "listing every such op type and the names of its nodes. Weights stored\n"
    "outside the .onnx file (ONNX external data) are not read.\n"
    "\n"
    "Every other command also takes an .onnx file directly (converted in\n"
    "memory), e.g. 'tessera run model.onnx --random-inputs --dim batch=2'.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE      the .tess file to write (replaced if it exists)\n"
    TSR_CLI_PLUGIN_OPTION_HELP
    "  -h, --help             show this help\n"
    "\n"
    "Example:\n"
    "  tessera convert lstm.onnx -o lstm.tess && tessera inspect lstm.tess\n";

int ConvertCommand(const std::vector<std::string>& args) {
  const std::string command = "convert";
  ArgReader reader(command, args);
  std::vector<std::string> positional;
  std::vector<std::string> plugins;
  std::string output;
  while (!reader.Done()) {
    std::string value;
    if (reader.Flag("--help", "-h")) {
      std::fputs(kConvertHelp, stdout);
      return kExitOk;
    }
    if (reader.Option("--output", &value) || reader.Option("-o", &value)) {
      if (!output.empty()) UsageError(command, "--output given twice");
      if (value.empty()) UsageError(command, "--output needs a file name");
      output = value;
    } else if (ParsePluginOption(reader, &plugins)) {
      continue;
    } else {
      positional.push_back(reader.Positional());
    }
  }
  if (positional.empty()) UsageError(command, "missing MODEL.onnx argument");
  if (positional.size() > 1) UsageError(command, "unexpected argument '" + Printable(positional[1]) + "'");
  if (output.empty()) UsageError(command, "missing -o MODEL.tess (the file to write)");
  const std::string& input = positional[0];
  if (!OnnxImportAvailable()) {
    Fail("this tessera was built without ONNX support (protobuf was not found when it was configured)");
  }

  ModelOptions options;
  for (const std::string& plugin : plugins) options.AddPlugin(plugin);
  try {
    ConvertOnnxFile(input, output, options);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.find(input) != std::string::npos || message.find(output) != std::string::npos) Fail(message);
    Fail(input + ": " + message);
  }

  // A summary of what was written, read back through the normal loader.
  const Model model = LoadModel(output, plugins);
  const std::vector<NodeInfo> nodes = model.Nodes();
  std::vector<std::string> ops;
  for (const NodeInfo& n : nodes) {
    const std::string op = OpName(n.domain, n.op_type);
    bool seen = false;
    for (const std::string& o : ops) seen = seen || o == op;
    if (!seen) ops.push_back(op);
  }
  TsrModelStats stats{};
  bool have_stats = true;
  try {
    std::vector<std::pair<std::string, int64_t>> ones;
    for (const std::string& name : DynamicDimNames(model.Inputs())) ones.emplace_back(name, 1);
    stats = model.Stats(ones);
  } catch (const Error&) {
    have_stats = false;  // an unnamed dynamic dim: no parameter count without binding it
  }
  std::printf("Converted %s -> %s\n", Printable(input).c_str(), Printable(output).c_str());
  std::printf("  %zu nodes, %zu op types", nodes.size(), ops.size());
  if (have_stats) {
    std::printf(", %s parameters (%s)", WithThousands(stats.parameter_count).c_str(),
                HumanBytes(static_cast<double>(stats.parameter_bytes)).c_str());
  }
  std::printf("\n");
  for (const bool inputs : {true, false}) {
    const std::vector<ValueInfo> values = inputs ? model.Inputs() : model.Outputs();
    std::printf("\n%s:\n", inputs ? "Inputs" : "Outputs");
    Table table({});
    for (const ValueInfo& v : values) table.AddRow({Printable(v.name), DTypeName(v.dtype), FormatDims(v)});
    std::fputs(table.ToString().c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace tessera::cli
