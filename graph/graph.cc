#include "graph/graph.h"

namespace tessera::graph {

int Graph::FindValue(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string NodeLabel(const Node& node) {
  std::string label = "node " + std::to_string(node.file_index);
  if (!node.name.empty()) label += " '" + node.name + "'";
  label += " (";
  if (!node.domain.empty()) label += node.domain + ".";
  label += node.op_type + " v" + std::to_string(node.version) + ")";
  return label;
}

OpContext MakeOpContext(const Graph& graph, const Node& node, const std::vector<TensorInfo>& infos) {
  OpContext ctx;
  ctx.node_name = node.name;
  ctx.attrs = &node.attrs;
  for (int v : node.inputs) {
    ctx.inputs.push_back(v >= 0 ? &infos[static_cast<size_t>(v)] : nullptr);
    const Value* value = v >= 0 ? &graph.values[static_cast<size_t>(v)] : nullptr;
    ctx.constants.push_back(value != nullptr && value->is_constant ? &value->constant : nullptr);
  }
  ctx.outputs.resize(node.outputs.size());
  return ctx;
}

}  // namespace tessera::graph
