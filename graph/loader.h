// Turns .tess bytes into a validated Graph.
//
// Every file is untrusted. In order: size and file identifier, FlatBuffers
// verification, format version, the weight segment, tensors (names, dtypes,
// shapes, data sizes and offsets), nodes (indices, single producer, op
// known in the registry, attributes), graph inputs and outputs, cycles, then
// shape inference. Each failure names the file and the tensor or node.
#ifndef TESSERA_GRAPH_LOADER_H_
#define TESSERA_GRAPH_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "graph/graph.h"
#include "runtime/core/registry.h"

namespace tessera::graph {

// The format version this build writes and the majors it reads.
inline constexpr uint32_t kFormatMajor = 1;
inline constexpr uint32_t kFormatMinor = 0;

// Limits for untrusted models (docs/robustness.md). Each is checked before
// anything of that size is allocated, and a model over one is refused with
// kResourceExhausted and a message naming the tensor or node, the size and
// the limit. The defaults admit any model this engine is meant to run on
// one machine and refuse what could only be an attack or a corrupt file.
struct ModelLimits {
  int64_t max_file_bytes = int64_t{1} << 36;     // 64 GiB: the .tess file, weights included
  int64_t max_rank = 32;                         // dims of any tensor
  int64_t max_tensor_elements = int64_t{1} << 34;  // any one tensor, declared or inferred
  // Memory a session plans for one run: the activation arena plus the
  // outputs it returns; checked when the input shapes are known.
  int64_t max_planned_bytes = int64_t{1} << 36;  // 64 GiB
  int64_t max_nodes = int64_t{1} << 20;
  int64_t max_tensors = int64_t{1} << 22;
  // Any one name, op type, domain, dim name, metadata key or value, or
  // string attribute.
  int64_t max_string_bytes = int64_t{1} << 20;
  // Elements of one list attribute (ints, floats or strings).
  int64_t max_attribute_elements = int64_t{1} << 20;
};

struct LoadOptions {
  const OpRegistry* registry = nullptr;  // nullptr: the built-in ops
  ModelLimits limits;
};

// Fails with kResourceExhausted when the product of the known nonzero dims
// of `shape` exceeds limits.max_tensor_elements (dynamic dims and dims of 0
// are left out, so an empty tensor cannot declare dims whose product would
// wrap int64); `what` names the tensor in the message.
Status CheckTensorLimit(const Shape& shape, const ModelLimits& limits, const std::string& what);

// Memory-maps the file; constants are used in place.
StatusOr<std::unique_ptr<Graph>> LoadGraphFromFile(const std::string& path, const LoadOptions& options);

// Copies the bytes (into 64-byte-aligned memory) and loads them.
// `source_name` names the model in messages.
StatusOr<std::unique_ptr<Graph>> LoadGraphFromBuffer(const void* data, size_t size, const LoadOptions& options,
                                                     const std::string& source_name = "<buffer>");

}  // namespace tessera::graph

#endif  // TESSERA_GRAPH_LOADER_H_
