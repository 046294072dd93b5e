// The importer's entry points in a build without protobuf: each says so.
#include "graph/onnx/onnx_importer.h"

namespace tessera::graph {
namespace {

Status Unavailable() {
  return Status(StatusCode::kUnimplemented,
                "this Tessera was built without ONNX support (protobuf was not found at configure time; "
                "install libprotobuf-dev and protobuf-compiler, e.g. with .ci/install-deps, and reconfigure)");
}

}  // namespace

bool OnnxImportAvailable() { return false; }

StatusOr<std::vector<uint8_t>> ConvertOnnxToTess(const void*, size_t, const OnnxImportOptions&) {
  return Unavailable();
}

StatusOr<std::vector<uint8_t>> ReadOnnxFile(const std::string&) { return Unavailable(); }

StatusOr<std::vector<uint8_t>> ConvertOnnxFileToTess(const std::string&, const OnnxImportOptions&) {
  return Unavailable();
}

StatusOr<std::vector<std::string>> ListOnnxOpTypes(const void*, size_t) { return Unavailable(); }

StatusOr<OwnedTensor> ReadOnnxTensor(const void*, size_t, std::string*, DType) { return Unavailable(); }

DType DTypeFromOnnxElemType(int32_t) { return DType::kUnknown; }

std::string OnnxElemTypeName(int32_t elem_type) { return "type " + std::to_string(elem_type); }

}  // namespace tessera::graph
