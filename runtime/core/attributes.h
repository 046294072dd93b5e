// Typed node attributes (ONNX's AttributeProto, minus graphs and tensors).
#ifndef TESSERA_RUNTIME_CORE_ATTRIBUTES_H_
#define TESSERA_RUNTIME_CORE_ATTRIBUTES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

// Values equal schemas/tessera.fbs's AttributeType; append only.
enum class AttrType : int32_t {
  kUndefined = 0,
  kInt = 1,
  kFloat = 2,
  kString = 3,
  kInts = 4,
  kFloats = 5,
  kStrings = 6,
};

const char* AttrTypeName(AttrType type);

struct Attribute {
  AttrType type = AttrType::kUndefined;
  int64_t i = 0;
  float f = 0.0f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;

  static Attribute Int(int64_t v);
  static Attribute Float(float v);
  static Attribute String(std::string v);
  static Attribute Ints(std::vector<int64_t> v);
  static Attribute Floats(std::vector<float> v);
  static Attribute Strings(std::vector<std::string> v);
};

// The attributes of one node. Graph validation checks every attribute
// against the op's declaration and fills in declared defaults, so kernels
// read declared attributes with the plain getters below without checks.
class AttributeMap {
 public:
  void Set(const std::string& name, Attribute value) { items_[name] = std::move(value); }
  const Attribute* Find(const std::string& name) const;
  bool Has(const std::string& name) const { return Find(name) != nullptr; }

  // Each returns `fallback` when the attribute is absent or of another type.
  int64_t GetInt(const std::string& name, int64_t fallback = 0) const;
  float GetFloat(const std::string& name, float fallback = 0.0f) const;
  std::string GetString(const std::string& name, const std::string& fallback = "") const;
  std::vector<int64_t> GetInts(const std::string& name) const;
  std::vector<float> GetFloats(const std::string& name) const;
  std::vector<std::string> GetStrings(const std::string& name) const;

  const std::map<std::string, Attribute>& items() const { return items_; }

 private:
  std::map<std::string, Attribute> items_;
};

}  // namespace tessera

#endif  // TESSERA_RUNTIME_CORE_ATTRIBUTES_H_
