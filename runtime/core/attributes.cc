#include "runtime/core/attributes.h"

namespace tessera {

const char* AttrTypeName(AttrType type) {
  switch (type) {
    case AttrType::kUndefined: return "undefined";
    case AttrType::kInt: return "int";
    case AttrType::kFloat: return "float";
    case AttrType::kString: return "string";
    case AttrType::kInts: return "ints";
    case AttrType::kFloats: return "floats";
    case AttrType::kStrings: return "strings";
  }
  return "invalid";
}

Attribute Attribute::Int(int64_t v) {
  Attribute a;
  a.type = AttrType::kInt;
  a.i = v;
  return a;
}
Attribute Attribute::Float(float v) {
  Attribute a;
  a.type = AttrType::kFloat;
  a.f = v;
  return a;
}
Attribute Attribute::String(std::string v) {
  Attribute a;
  a.type = AttrType::kString;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::Ints(std::vector<int64_t> v) {
  Attribute a;
  a.type = AttrType::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::Floats(std::vector<float> v) {
  Attribute a;
  a.type = AttrType::kFloats;
  a.floats = std::move(v);
  return a;
}
Attribute Attribute::Strings(std::vector<std::string> v) {
  Attribute a;
  a.type = AttrType::kStrings;
  a.strings = std::move(v);
  return a;
}

const Attribute* AttributeMap::Find(const std::string& name) const {
  auto it = items_.find(name);
  return it == items_.end() ? nullptr : &it->second;
}

int64_t AttributeMap::GetInt(const std::string& name, int64_t fallback) const {
  const Attribute* a = Find(name);
  return a != nullptr && a->type == AttrType::kInt ? a->i : fallback;
}
float AttributeMap::GetFloat(const std::string& name, float fallback) const {
  const Attribute* a = Find(name);
  return a != nullptr && a->type == AttrType::kFloat ? a->f : fallback;
}
std::string AttributeMap::GetString(const std::string& name, const std::string& fallback) const {
  const Attribute* a = Find(name);
  return a != nullptr && a->type == AttrType::kString ? a->s : fallback;
}
std::vector<int64_t> AttributeMap::GetInts(const std::string& name) const {
  const Attribute* a = Find(name);
  return a != nullptr && a->type == AttrType::kInts ? a->ints : std::vector<int64_t>{};
}
std::vector<float> AttributeMap::GetFloats(const std::string& name) const {
  const Attribute* a = Find(name);
  return a != nullptr && a->type == AttrType::kFloats ? a->floats : std::vector<float>{};
}
std::vector<std::string> AttributeMap::GetStrings(const std::string& name) const {
  const Attribute* a = Find(name);
  return a != nullptr && a->type == AttrType::kStrings ? a->strings : std::vector<std::string>{};
}

}  // namespace tessera
