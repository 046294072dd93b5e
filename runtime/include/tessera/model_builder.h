// Builds .tess model files from C++ (tests, examples, converters).
//
//   tessera::ModelBuilder b;
//   int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 16});
//   int w = b.AddConstant<float>("w", {16, 4}, weights);
//   int y = b.AddNode("MatMul", {x, w}, {"y"})[0];
//   b.AddOutput(y);
//   std::string error;
//   if (!b.Save("model.tess", &error)) { ... }
//
// The builder never throws: a mistake (unknown tensor id, duplicate name)
// is remembered and reported by Finish/Save. Output is deterministic: the
// same calls give the same bytes. Weights go to the 64-byte-aligned segment
// after the FlatBuffer (see schemas/tessera.fbs).
#ifndef TESSERA_MODEL_BUILDER_H_
#define TESSERA_MODEL_BUILDER_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/tessera.h"

namespace tessera {

class TSR_API ModelBuilder {
 public:
  // A dim: a fixed size, or a named dynamic dim ("batch").
  struct Dim {
    Dim(int64_t size) : size(size) {}            // NOLINT: implicit by design
    Dim(const char* dim_name) : size(-1), name(dim_name) {}  // NOLINT
    int64_t size;
    std::string name;
  };

  // A node attribute (ONNX AttributeProto subset).
  struct Attr {
    std::string name;
    int32_t type = 0;  // 1 int, 2 float, 3 string, 4 ints, 5 floats, 6 strings
    int64_t i = 0;
    float f = 0;
    std::string s;
    std::vector<int64_t> ints;
    std::vector<float> floats;
    std::vector<std::string> strings;

    static Attr Int(std::string name, int64_t v);
    static Attr Float(std::string name, float v);
    static Attr String(std::string name, std::string v);
    static Attr Ints(std::string name, std::vector<int64_t> v);
    static Attr Floats(std::string name, std::vector<float> v);
    static Attr Strings(std::string name, std::vector<std::string> v);
  };

  ModelBuilder();

  // Each returns the new tensor's id.
  int AddInput(const std::string& name, int32_t dtype, const std::vector<Dim>& shape);
  // A constant stored in the weight segment; `bytes` must equal the size
  // that dtype and shape imply.
  int AddConstant(const std::string& name, int32_t dtype, const std::vector<int64_t>& shape, const void* data,
                  size_t bytes);
  template <typename T>
  int AddConstant(const std::string& name, const std::vector<int64_t>& shape, const std::vector<T>& values);
  // An intermediate tensor whose dtype and shape the loader infers; a
  // declared shape (optional) is checked against inference.
  int AddTensor(const std::string& name);
  int AddTensor(const std::string& name, int32_t dtype, const std::vector<Dim>& shape);

  // Adds a node reading `inputs` (tensor ids; -1 for an omitted optional
  // input) and creating one new tensor per name in `outputs` ("" for an
  // unwanted output). Returns the output ids (-1 for unwanted ones).
  std::vector<int> AddNode(const std::string& op_type, const std::vector<int>& inputs,
                           const std::vector<std::string>& outputs, const std::vector<Attr>& attrs = {},
                           const std::string& node_name = "", const std::string& domain = "",
                           int32_t version = 0 /* 0: 17 for ONNX ops, 1 otherwise */);
  // Adds a node writing into existing tensors (made with AddTensor).
  void AddNodeInto(const std::string& op_type, const std::vector<int>& inputs, const std::vector<int>& outputs,
                   const std::vector<Attr>& attrs = {}, const std::string& node_name = "",
                   const std::string& domain = "", int32_t version = 0);

  void AddOutput(int tensor);
  void SetMetadata(const std::string& key, const std::string& value);
  void SetProducer(const std::string& producer);

  // The file's bytes, or false with *error set to the first mistake made.
  bool Finish(std::vector<uint8_t>* bytes, std::string* error) const;
  bool Save(const std::string& path, std::string* error) const;

  int FindTensor(const std::string& name) const;  // -1 when absent

 private:
  struct TensorDef {
    std::string name;
    int32_t dtype = 1;
    bool has_shape = false;
    std::vector<Dim> shape;
    bool has_data = false;
    uint64_t data_offset = 0;  // in segment_
    uint64_t data_size = 0;
  };
  struct NodeDef {
    std::string name, op_type, domain;
    int32_t version = 0;
    std::vector<int> inputs, outputs;
    std::vector<Attr> attrs;
  };

  int NewTensor(TensorDef def);
  void Fail(const std::string& message);
  bool ValidId(int id, bool allow_omitted) const;

  std::vector<TensorDef> tensors_;
  std::vector<NodeDef> nodes_;
  std::vector<int> inputs_, outputs_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::string producer_ = "tessera ModelBuilder";
  std::vector<uint8_t> segment_;
  std::string error_;
};

template <typename T>
int ModelBuilder::AddConstant(const std::string& name, const std::vector<int64_t>& shape,
                              const std::vector<T>& values) {
  int32_t dtype = 0;
  if constexpr (std::is_same_v<T, float>) dtype = TSR_DTYPE_FLOAT32;
  else if constexpr (std::is_same_v<T, int64_t>) dtype = TSR_DTYPE_INT64;
  else if constexpr (std::is_same_v<T, int32_t>) dtype = TSR_DTYPE_INT32;
  else if constexpr (std::is_same_v<T, int8_t>) dtype = TSR_DTYPE_INT8;
  else if constexpr (std::is_same_v<T, uint8_t>) dtype = TSR_DTYPE_UINT8;
  else static_assert(sizeof(T) == 0, "unsupported element type");
  return AddConstant(name, dtype, shape, values.data(), values.size() * sizeof(T));
}

}  // namespace tessera

#endif  // TESSERA_MODEL_BUILDER_H_
