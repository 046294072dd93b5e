// Helpers shared by the `tessera` subcommands: errors with exit codes, a
// hand-written argument reader, number parsing, and text formatting
// (tables, shapes, byte sizes). Public API only: tools never include
// runtime internals.
#ifndef TESSERA_TOOLS_CLI_UTIL_H_
#define TESSERA_TOOLS_CLI_UTIL_H_

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.hpp"

namespace tessera::cli {

// Exit codes (documented in `tessera --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // the model, an input file, the runtime
inline constexpr int kExitUsage = 2;  // the command line itself

// A failure that ends the command: main prints "tessera: error: <what>" and
// exits with `exit_code`. Several lines may be reported at once (one per
// bad input); each is printed with the prefix.
class CliError : public std::runtime_error {
 public:
  CliError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code), lines_{message} {}
  CliError(int exit_code, std::vector<std::string> lines)
      : std::runtime_error(lines.empty() ? std::string() : lines.front()),
        exit_code_(exit_code),
        lines_(std::move(lines)) {}
  int exit_code() const { return exit_code_; }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  int exit_code_;
  std::vector<std::string> lines_;
};

// Usage errors name the command so the hint can point at its help.
[[noreturn]] void UsageError(const std::string& command, const std::string& message);
[[noreturn]] void Fail(const std::string& message);

// Walks one subcommand's arguments. Options are "--name VALUE" or
// "--name=VALUE"; anything not starting with '-' is positional.
class ArgReader {
 public:
  ArgReader(std::string command, std::vector<std::string> args)
      : command_(std::move(command)), args_(std::move(args)) {}

  bool Done() const { return pos_ >= args_.size(); }
  // Consumes a boolean flag (any of the given spellings) if it is next.
  bool Flag(const char* name, const char* alias = nullptr);
  // Consumes an option with a value if it is next; a missing value is a
  // usage error.
  bool Option(const char* name, std::string* value);
  // Consumes a positional argument; an unknown option is a usage error.
  std::string Positional();

  const std::string& command() const { return command_; }

 private:
  std::string command_;
  std::vector<std::string> args_;
  size_t pos_ = 0;
};

// Parses a decimal integer in [0, max]; anything else is a usage error
// naming `what` (e.g. "--threads").
int64_t ParseCount(const std::string& command, const std::string& what, const std::string& text,
                   int64_t max = INT64_MAX);
uint64_t ParseSeed(const std::string& command, const std::string& text);

// --dim NAME=VALUE, in the order given; a repeated name is a usage error.
using DimBindings = std::vector<std::pair<std::string, int64_t>>;
void ParseDimOption(const std::string& command, const std::string& text, DimBindings* dims);
const int64_t* FindDim(const DimBindings& dims, const std::string& name);

// The dynamic dim names of a model's inputs, in first-seen order.
std::vector<std::string> DynamicDimNames(const std::vector<ValueInfo>& inputs);
// A --dim naming a dim the model does not have is a usage error.
void CheckDimNames(const std::string& command, const DimBindings& dims, const std::vector<std::string>& known);

// Loads a model; a failure is a runtime error whose line names the file.
Model LoadModel(const std::string& path);
// The same with plugin libraries (--plugin) whose ops the model may use; a
// plugin that cannot be loaded is a runtime error naming the plugin file.
// `optimize` false loads the graph as stored (no graph optimizations).
Model LoadModel(const std::string& path, const std::vector<std::string>& plugins, bool optimize = true);

// Consumes "--plugin PATH" if it is next (repeatable), appending PATH.
bool ParsePluginOption(ArgReader& reader, std::vector<std::string>* plugins);
#define TSR_CLI_PLUGIN_OPTION_HELP                                              \
  "  --plugin PATH          load an op library (a Tessera plugin) before the\n" \
  "                         model, for models using its ops; repeatable. The\n" \
  "                         TESSERA_PLUGINS variable (':'-separated) adds more\n"

// ---- Formatting -------------------------------------------------------------

std::string DTypeName(int32_t dtype);
// Declared dims: "[batch, 32]"; an unnamed dynamic dim prints as "?".
std::string FormatDims(const ValueInfo& info);
// Concrete dims: "[4, 32]"; a scalar is "[]".
std::string FormatShape(const std::vector<int64_t>& dims);
// "512 B", "26.5 KiB", "1.25 MiB", "3.00 GiB".
std::string HumanBytes(double bytes);
// 6794 -> "6,794".
std::string WithThousands(int64_t value);
// printf("%.*g") without trailing noise; "nan", "inf" as such.
std::string FormatNumber(double value, int significant = 6);
// Makes untrusted text (metadata, names) printable on one line.
std::string Printable(const std::string& text);
// "com.acme::Foo" for a custom domain, "Gemm" for ONNX ops.
std::string OpName(const std::string& domain, const std::string& op_type);

// A text table: columns sized to their widest cell, two spaces apart,
// indented by two spaces. Right-aligned columns are for numbers.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned = {});
  void AddRow(std::vector<std::string> cells);
  std::string ToString() const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header (may be empty)
  std::vector<bool> right_;
  bool has_header_;
};

// ---- Element conversion -----------------------------------------------------

// Element `i` of a buffer of `dtype`, as a double.
double ElementAsDouble(int32_t dtype, const void* data, int64_t i);

}  // namespace tessera::cli

#endif  // TESSERA_TOOLS_CLI_UTIL_H_
