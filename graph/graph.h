// A validated model graph: what the loader makes of a .tess file.
//
// Values are the graph's tensors (inputs, constants, intermediates,
// outputs); nodes are stored in a topological order. Every index and every
// size has been checked, every node resolved to its OpDef, and shapes
// inferred as far as the declared dims allow (dynamic dims stay
// kDynamicDim until a session binds them).
#ifndef TESSERA_GRAPH_GRAPH_H_
#define TESSERA_GRAPH_GRAPH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/attributes.h"
#include "runtime/core/op.h"
#include "runtime/core/tensor.h"

namespace tessera::graph {

struct Value {
  std::string name;
  TensorInfo info;                     // declared, completed by inference
  std::vector<std::string> dim_names;  // one per dim of a declared shape; "" if unnamed
  bool is_constant = false;
  Tensor constant;                     // the data when is_constant
  int producer = -1;                   // node index, -1 for inputs and constants
  std::vector<int> consumers;          // node indices (a node appears once per use)
  bool is_graph_input = false;
  bool is_graph_output = false;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;
  int32_t version = 1;
  std::vector<int> inputs;   // value indices; -1 for an omitted input
  std::vector<int> outputs;  // value indices; -1 for an unwanted output
  AttributeMap attrs;        // validated, defaults filled in
  const OpDef* def = nullptr;
  int file_index = 0;        // position in the file, for messages
};

class Graph {
 public:
  std::vector<Value> values;
  std::vector<Node> nodes;  // topological order
  std::vector<int> inputs;  // value indices
  std::vector<int> outputs;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string producer_name;

  // Keeps the bytes that constants point into alive: the mapped file or
  // the copied buffer, plus constants decoded from inline data.
  std::shared_ptr<const void> storage;
  std::vector<AlignedBuffer> owned_constants;

  int FindValue(const std::string& name) const;
};

// "node 4 'enc/gemm' (Gemm v13)" for messages.
std::string NodeLabel(const Node& node);

// Builds the OpContext for `node` from per-value infos (indexed by value).
// `constants` selects whether constant inputs are exposed (they are for
// kernel creation and shape inference).
OpContext MakeOpContext(const Graph& graph, const Node& node, const std::vector<TensorInfo>& infos);

}  // namespace tessera::graph

#endif  // TESSERA_GRAPH_GRAPH_H_
