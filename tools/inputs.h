// Model inputs for the commands that run a model (run, profile, bench):
// the shared options, .npy inputs checked against the model's declared
// dtypes and shapes, and seeded random inputs.
#ifndef TESSERA_TOOLS_INPUTS_H_
#define TESSERA_TOOLS_INPUTS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.hpp"
#include "tools/cli_util.h"

namespace tessera::cli {

// Size of a dynamic dim that random inputs need and no --dim gives.
inline constexpr int64_t kDefaultDim = 1;

struct InputOptions {
  std::vector<std::pair<std::string, std::string>> input_files;  // name, path
  bool random_inputs = false;
  bool seed_given = false;
  uint64_t seed = 1;
  DimBindings dims;
};

// The help text of these options, shared by every command that has them
// (a macro so that it concatenates into each command's help literal).
#define TSR_CLI_INPUT_OPTIONS_HELP \
    "  --input NAME=FILE.npy  read input NAME from a .npy file (repeatable). Its\n" \
    "                         dtype and shape must match the model's; a dynamic\n" \
    "                         dim accepts any size. A bf16 input also takes f32.\n" \
    "  --random-inputs        generate every input not given by --input: floats\n" \
    "                         uniform in [-1, 1], integers in [0, 9], bools 0/1\n" \
    "  --seed S               seed for --random-inputs (default 1); the same seed\n" \
    "                         gives the same inputs on every machine\n" \
    "  --dim NAME=VALUE       size of a dynamic dim for random inputs (default 1);\n" \
    "                         also checked against the .npy inputs (repeatable)\n"

// Consumes --input, --random-inputs, --seed or --dim if it is next.
bool ParseInputOption(ArgReader& reader, InputOptions* options);
// Checks the combination once every argument is read.
void CheckInputOptions(const std::string& command, const InputOptions& options);

struct InputPlan {
  std::string name;
  Value value;
  std::string source;  // shown in the summary: "from x.npy", "random, seed 1"
};

// Every input of `model` in its order, read from files or generated;
// errors name the input. Dynamic dims that random inputs had to default go
// to *defaulted.
std::vector<InputPlan> LoadInputs(const std::string& command, const Model& model, const InputOptions& options,
                                  std::vector<std::string>* defaulted);
// Prints an "Inputs:" section: name, dtype, shape, source.
void PrintInputs(const std::vector<InputPlan>& plans, const std::vector<std::string>& defaulted);
// "'a', 'b'".
std::string QuotedList(const std::vector<std::string>& names);

}  // namespace tessera::cli

#endif  // TESSERA_TOOLS_INPUTS_H_
