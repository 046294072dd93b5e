// Converts ONNX models (.onnx, a protobuf ModelProto) into Tessera's .tess
// format.
//
// What is kept: graph inputs with their dtypes and shapes, a symbolic dim
// ("batch", "seq") staying a named dynamic dim and a dim with neither value
// nor name an unnamed dynamic one, so a converted model runs at any size;
// declared shapes of graph outputs and of value_info entries (checked
// against Tessera's shape inference at load); initializers and Constant
// nodes, as weights in the 64-byte-aligned segment; nodes with their op
// type, domain, attributes and the op-set version their domain imports, so
// the registry picks the definition of that version (Softmax before 13,
// Squeeze with an `axes` attribute before 13, Split's `split` attribute
// before 13, ...); op-set forms older than the first version Tessera
// implements, rewritten exactly where that is possible (see LegacyUpgrade
// in the .cc); metadata_props and the producer.
//
// What is refused, with a message naming it: a file that does not parse; an
// initializer with external data, of an element type Tessera has no dtype
// for (double, string, ...), or whose data does not fill its shape;
// subgraph (If, Loop) or sparse attributes; and nodes whose op Tessera does
// not implement at the model's op-set version: ONE error lists every such op
// type with the names of all its nodes.
//
// Every .onnx file is untrusted: the protobuf parser rejects malformed
// bytes, and every count and size is checked before use.
#ifndef TESSERA_GRAPH_ONNX_ONNX_IMPORTER_H_
#define TESSERA_GRAPH_ONNX_ONNX_IMPORTER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/registry.h"
#include "runtime/core/status.h"
#include "runtime/core/tensor.h"

namespace tessera::graph {

// Whether this build has the importer (protobuf was found at configure
// time). Without it every function below fails with kUnimplemented.
bool OnnxImportAvailable();

struct OnnxImportOptions {
  // The ops the converted model may use: nodes are checked against it.
  // nullptr: the built-in ops.
  const OpRegistry* registry = nullptr;
  // Names the model in messages ("model.onnx").
  std::string source_name = "<onnx buffer>";
  // Graph inputs to replace by constants of these values (the dtype must
  // match the declared one and the shape fit it). Tessera plans every shape
  // before running, so an input whose values decide shapes (a Reshape's
  // `shape`, Slice's `starts`) must be known when loading; binding it here
  // makes it part of the model. Not owned; must outlive the call.
  std::vector<std::pair<std::string, const Tensor*>> constant_inputs;
};

// ONNX ModelProto bytes -> .tess bytes (loadable with LoadGraphFromBuffer).
StatusOr<std::vector<uint8_t>> ConvertOnnxToTess(const void* data, size_t size, const OnnxImportOptions& options);

// The bytes of an .onnx file (at most 2 GiB, protobuf's limit).
StatusOr<std::vector<uint8_t>> ReadOnnxFile(const std::string& path);

// Reads `path` and converts it; source_name defaults to the path.
StatusOr<std::vector<uint8_t>> ConvertOnnxFileToTess(const std::string& path, const OnnxImportOptions& options);

// The op type of every node in file order ("com.example.Op" for an op of
// another domain than ai.onnx), without converting anything: for reports.
StatusOr<std::vector<std::string>> ListOnnxOpTypes(const void* data, size_t size);

// One ONNX TensorProto (the input_N.pb / output_N.pb files of ONNX's test
// data) as a Tessera tensor. `name` receives TensorProto.name ("" if unset).
// `expected` is the dtype the caller wants, or kUnknown: when it is f16 or
// bf16, a UINT16 tensor is read as those bits (ONNX 1.12's test data stores
// bfloat16 tensors as UINT16).
StatusOr<OwnedTensor> ReadOnnxTensor(const void* data, size_t size, std::string* name = nullptr,
                                     DType expected = DType::kUnknown);

// The dtype for an ONNX TensorProto.DataType value; kUnknown where Tessera
// has none (double, string, uint16, ...).
DType DTypeFromOnnxElemType(int32_t elem_type);
// "FLOAT", "DOUBLE", ... for messages; "type N" for unknown values.
std::string OnnxElemTypeName(int32_t elem_type);

}  // namespace tessera::graph

#endif  // TESSERA_GRAPH_ONNX_ONNX_IMPORTER_H_
