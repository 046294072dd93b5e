#include "runtime/core/registry.h"

#include <algorithm>

namespace tessera {

std::string CanonicalDomain(const std::string& domain) {
  return domain == "ai.onnx" ? std::string(kOnnxDomain) : domain;
}

namespace {

Status CheckDeclaration(const OpDef& def) {
  const std::string name = def.DisplayName();
  if (def.op_type.empty()) return Error(StatusCode::kInvalidArgument, "op registered with an empty op_type");
  if (def.since_version < 1 || def.until_version < def.since_version) {
    return Error(StatusCode::kInvalidArgument, name, ": bad version range [", def.since_version, ", ",
                 def.until_version, "]");
  }
  if (!def.infer_shapes) return Error(StatusCode::kInvalidArgument, name, ": no shape inference function");
  if (!def.create_kernel) return Error(StatusCode::kInvalidArgument, name, ": no kernel factory");
  for (const auto* params : {&def.inputs, &def.outputs}) {
    for (size_t i = 0; i < params->size(); ++i) {
      if ((*params)[i].presence == ParamDef::Presence::kVariadic && i + 1 != params->size()) {
        return Error(StatusCode::kInvalidArgument, name, ": variadic param '", (*params)[i].name,
                     "' is not the last");
      }
    }
  }
  for (const AttrDef& a : def.attributes) {
    if (a.default_value.type != AttrType::kUndefined && a.default_value.type != a.type) {
      return Error(StatusCode::kInvalidArgument, name, ": default of attribute '", a.name, "' is ",
                   AttrTypeName(a.default_value.type), ", declared ", AttrTypeName(a.type));
    }
  }
  return Status::Ok();
}

}  // namespace

Status OpRegistry::Register(OpDef def) {
  def.domain = CanonicalDomain(def.domain);
  TSR_RETURN_IF_ERROR(CheckDeclaration(def));
  for (const OpDef* existing : FindAll(def.domain, def.op_type)) {
    if (existing->since_version <= def.until_version && def.since_version <= existing->until_version) {
      return Error(StatusCode::kInvalidArgument, "op ", def.DisplayName(), " from '", owner_,
                   "' overlaps ", existing->DisplayName(), " already registered by '", OwnerOf(existing), "'");
    }
  }
  auto& entries = ops_[{def.domain, def.op_type}];
  entries.push_back(Entry{std::make_unique<OpDef>(std::move(def)), owner_});
  return Status::Ok();
}

const OpDef* OpRegistry::Find(const std::string& domain, const std::string& op_type, int32_t version) const {
  for (const OpDef* def : FindAll(domain, op_type)) {
    if (def->since_version <= version && version <= def->until_version) return def;
  }
  return nullptr;
}

std::vector<const OpDef*> OpRegistry::FindAll(const std::string& domain, const std::string& op_type) const {
  std::vector<const OpDef*> result;
  if (parent_ != nullptr) result = parent_->FindAll(domain, op_type);
  auto it = ops_.find({CanonicalDomain(domain), op_type});
  if (it != ops_.end()) {
    for (const Entry& e : it->second) result.push_back(e.def.get());
  }
  return result;
}

std::string OpRegistry::OwnerOf(const OpDef* def) const {
  for (const auto& [key, entries] : ops_) {
    for (const Entry& e : entries) {
      if (e.def.get() == def) return e.owner;
    }
  }
  return parent_ != nullptr ? parent_->OwnerOf(def) : std::string("unknown");
}

std::vector<const OpDef*> OpRegistry::All() const {
  std::vector<const OpDef*> result;
  if (parent_ != nullptr) result = parent_->All();
  for (const auto& [key, entries] : ops_) {
    for (const Entry& e : entries) result.push_back(e.def.get());
  }
  return result;
}

}  // namespace tessera
