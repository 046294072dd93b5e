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

struct LoadOptions {
  const OpRegistry* registry = nullptr;  // nullptr: the built-in ops
  int max_rank = 32;
};

// Memory-maps the file; constants are used in place.
StatusOr<std::unique_ptr<Graph>> LoadGraphFromFile(const std::string& path, const LoadOptions& options);

// Copies the bytes (into 64-byte-aligned memory) and loads them.
// `source_name` names the model in messages.
StatusOr<std::unique_ptr<Graph>> LoadGraphFromBuffer(const void* data, size_t size, const LoadOptions& options,
                                                     const std::string& source_name = "<buffer>");

}  // namespace tessera::graph

#endif  // TESSERA_GRAPH_LOADER_H_
