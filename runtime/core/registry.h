// The op registry: (domain, op_type, version range) -> OpDef.
#ifndef TESSERA_RUNTIME_CORE_REGISTRY_H_
#define TESSERA_RUNTIME_CORE_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/op.h"

namespace tessera {

class OpRegistry final : public OpRegistrar {
 public:
  // A registry that also searches `parent` (not owned; must outlive this
  // one). A model's registry is the built-ins plus its plugins.
  explicit OpRegistry(const OpRegistry* parent = nullptr) : parent_(parent) {}

  // Registers under the owner set by set_owner ("builtin", a plugin path).
  // Fails when the declaration is malformed or its version range overlaps
  // one already registered here or in a parent; the message names both
  // owners.
  Status Register(OpDef def) override;
  void set_owner(std::string owner) { owner_ = std::move(owner); }

  // The definition covering `version`, or nullptr.
  const OpDef* Find(const std::string& domain, const std::string& op_type, int32_t version) const;
  // Every definition of the op (any version), for error messages.
  std::vector<const OpDef*> FindAll(const std::string& domain, const std::string& op_type) const;
  // Owner of a registered definition ("builtin", plugin path).
  std::string OwnerOf(const OpDef* def) const;

  // All definitions, parents first, sorted by domain and type.
  std::vector<const OpDef*> All() const;

 private:
  struct Entry {
    std::unique_ptr<OpDef> def;
    std::string owner;
  };
  const OpRegistry* parent_;
  std::string owner_ = "builtin";
  std::map<std::pair<std::string, std::string>, std::vector<Entry>> ops_;
};

// Normalizes "ai.onnx" to kOnnxDomain.
std::string CanonicalDomain(const std::string& domain);

// The process-wide registry of built-in ops, filled on first use
// (thread-safe). Defined in ops/builtin_ops.cc.
const OpRegistry& BuiltinOpRegistry();

}  // namespace tessera

#endif  // TESSERA_RUNTIME_CORE_REGISTRY_H_
