// The host side of the plugin ABI (tessera/plugin.h): opens plugin
// libraries, checks their ABI version and tables, and adapts each plugin op
// into an OpDef registered in an OpRegistry layered over the built-ins.
//
// Lifetime: every adapted OpDef and every kernel it creates holds a
// reference to its library, so a library stays loaded while any model uses
// one of its ops, even after the PluginSet that loaded it is gone.
#ifndef TESSERA_RUNTIME_PLUGIN_LOADER_H_
#define TESSERA_RUNTIME_PLUGIN_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include "runtime/core/registry.h"
#include "runtime/core/status.h"

namespace tessera::runtime {

// The environment variable that lists plugin libraries to load with every
// model, separated by ':' (empty entries are ignored).
inline constexpr const char* kPluginPathEnv = "TESSERA_PLUGINS";

// The ABI majors this host reads, for messages ("1").
std::string SupportedPluginAbiVersions();

struct PluginInfo {
  std::string path;     // as given
  std::string name;     // the plugin's own name (TsrPluginApi::name)
  std::string version;  // the plugin's own version string
  uint32_t abi_version = 0;
  std::vector<std::string> ops;  // "domain.Op v1+" per registered op
};

class PluginLibrary;

// A set of loaded plugins and the registry that holds their ops.
class PluginSet {
 public:
  // Loads `paths` in order into a registry over `parent` (nullptr: the
  // built-ins). A path listed twice (after resolving symlinks) is loaded
  // once. Fails on the first plugin that cannot be loaded, with a message
  // that starts "plugin '<path>': ", or on an op clash naming both owners.
  static StatusOr<std::shared_ptr<const PluginSet>> Load(const std::vector<std::string>& paths,
                                                         const OpRegistry* parent = nullptr);
  ~PluginSet();

  const OpRegistry& registry() const { return *registry_; }
  const std::vector<PluginInfo>& plugins() const { return infos_; }

  // "'libfoo.so' (foo 1.2), 'libbar.so' (bar 0.1)" or "none".
  std::string Describe() const;

 private:
  PluginSet() = default;

  std::vector<std::shared_ptr<PluginLibrary>> libraries_;
  std::vector<PluginInfo> infos_;
  std::unique_ptr<OpRegistry> registry_;
};

// Paths from TESSERA_PLUGINS, in order.
std::vector<std::string> PluginPathsFromEnvironment();

}  // namespace tessera::runtime

#endif  // TESSERA_RUNTIME_PLUGIN_LOADER_H_
