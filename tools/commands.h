// The `tessera` subcommands. Each takes the arguments after its name,
// prints to stdout, and returns an exit code or throws CliError.
#ifndef TESSERA_TOOLS_COMMANDS_H_
#define TESSERA_TOOLS_COMMANDS_H_

#include <string>
#include <vector>

namespace tessera::cli {

extern const char kInspectHelp[];
int InspectCommand(const std::vector<std::string>& args);

extern const char kRunHelp[];
int RunCommand(const std::vector<std::string>& args);

extern const char kProfileHelp[];
int ProfileCommand(const std::vector<std::string>& args);

extern const char kBenchHelp[];
int BenchCommand(const std::vector<std::string>& args);

extern const char kConvertHelp[];
int ConvertCommand(const std::vector<std::string>& args);

extern const char kSysinfoHelp[];
int SysinfoCommand(const std::vector<std::string>& args);

}  // namespace tessera::cli

#endif  // TESSERA_TOOLS_COMMANDS_H_
