#include "graph/passes/pass_util.h"

#include <cmath>
#include <set>
#include <utility>

#include "graph/shape_inference.h"

namespace tessera::graph::passes {

int SoleConsumer(const Graph& graph, int value) {
  if (value < 0) return -1;
  const Value& v = graph.values[static_cast<size_t>(value)];
  if (v.is_graph_output || v.consumers.size() != 1) return -1;
  return v.consumers[0];
}

const Node* ProducerOf(const Graph& graph, int value) {
  if (value < 0) return nullptr;
  const int p = graph.values[static_cast<size_t>(value)].producer;
  return p >= 0 ? &graph.nodes[static_cast<size_t>(p)] : nullptr;
}

const Tensor* ConstantOf(const Graph& graph, int value) {
  if (value < 0) return nullptr;
  const Value& v = graph.values[static_cast<size_t>(value)];
  return v.is_constant ? &v.constant : nullptr;
}

bool ScalarConstant(const Graph& graph, int value, double* out) {
  const Tensor* t = ConstantOf(graph, value);
  if (t == nullptr || t->dtype != DType::kF32 || t->NumElements() != 1) return false;
  *out = t->data_as<float>()[0];
  return true;
}

bool IsScalarNear(const Graph& graph, int value, double want, double tolerance) {
  double got = 0;
  if (!ScalarConstant(graph, value, &got)) return false;
  return std::fabs(got - want) <= tolerance * std::max(1.0, std::fabs(want));
}

int OtherInput(const Node& node, int value) {
  if (node.inputs.size() != 2) return -1;
  if (node.inputs[0] == value) return node.inputs[1];
  if (node.inputs[1] == value) return node.inputs[0];
  return -1;
}

bool HasRank(const Graph& graph, int value, size_t rank) {
  if (value < 0) return false;
  const TensorInfo& info = graph.values[static_cast<size_t>(value)].info;
  return info.has_shape && info.shape.size() == rank;
}

std::string UniqueValueName(const Graph& graph, const std::string& base) {
  std::set<std::string> used;
  for (const Value& v : graph.values) used.insert(v.name);
  if (used.count(base) == 0) return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (used.count(name) == 0) return name;
  }
}

std::string FusedName(const Graph& graph, const std::vector<int>& nodes, const std::string& suffix) {
  if (nodes.empty()) return suffix;
  std::string prefix = graph.nodes[static_cast<size_t>(nodes[0])].name;
  for (int n : nodes) {
    const std::string& name = graph.nodes[static_cast<size_t>(n)].name;
    size_t k = 0;
    while (k < prefix.size() && k < name.size() && prefix[k] == name[k]) ++k;
    prefix.resize(k);
  }
  const size_t slash = prefix.rfind('/');
  if (slash == std::string::npos) return graph.nodes[static_cast<size_t>(nodes.back())].name;
  return prefix.substr(0, slash + 1) + suffix;
}

StatusOr<Node> MakeNode(const OpRegistry& registry, const std::string& domain, const std::string& op_type,
                        int32_t version, std::string name, std::vector<int> inputs, std::vector<int> outputs,
                        AttributeMap attrs) {
  Node node;
  node.name = std::move(name);
  node.op_type = op_type;
  node.domain = domain;
  node.version = version;
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  node.attrs = std::move(attrs);
  node.def = registry.Find(domain, op_type, version);
  if (node.def == nullptr) {
    return Error(StatusCode::kNotFound, "op '", domain.empty() ? "" : domain + ".", op_type, "' v", version,
                 " is not registered");
  }
  TSR_RETURN_IF_ERROR(CheckAndFillAttributes(*node.def, node.attrs));
  return node;
}

Status RunKernelOnce(const Kernel& kernel, const std::vector<const Tensor*>& inputs,
                     const std::vector<Tensor*>& outputs) {
  TensorTable table(inputs, outputs);
  const SerialRunner serial;
  KernelContext ctx = table.Context(&serial);
  return kernel.Run(ctx);
}

void Edit::ReplacePattern(const std::vector<int>& pattern, int keep, Node fused) {
  Node& slot = graph_.nodes[static_cast<size_t>(keep)];
  fused.file_index = slot.file_index;
  slot = std::move(fused);
  for (int p : pattern) {
    if (p != keep) Kill(p);
  }
}

int Edit::AddConstant(const std::string& name, OwnedTensor tensor) {
  Value value;
  value.name = UniqueValueName(graph_, name);
  value.info = TensorInfo{tensor.view.dtype, tensor.view.shape, true};
  value.dim_names.assign(tensor.view.shape.size(), "");
  value.is_constant = true;
  value.constant = tensor.view;
  graph_.owned_constants.push_back(std::move(tensor.storage));
  graph_.values.push_back(std::move(value));
  return static_cast<int>(graph_.values.size()) - 1;
}

int Edit::AddConstantView(const std::string& name, const Tensor& tensor) {
  Value value;
  value.name = UniqueValueName(graph_, name);
  value.info = TensorInfo{tensor.dtype, tensor.shape, true};
  value.dim_names.assign(tensor.shape.size(), "");
  value.is_constant = true;
  value.constant = tensor;
  graph_.values.push_back(std::move(value));
  return static_cast<int>(graph_.values.size()) - 1;
}

void Edit::MakeConstant(int value, OwnedTensor tensor) {
  Value& v = graph_.values[static_cast<size_t>(value)];
  v.is_constant = true;
  v.constant = tensor.view;
  v.info = TensorInfo{tensor.view.dtype, tensor.view.shape, true};
  v.producer = -1;
  graph_.owned_constants.push_back(std::move(tensor.storage));
}

Status Edit::Commit() {
  Graph& g = graph_;
  // Live nodes, in their (topological) order.
  std::vector<Node> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (i >= dead_.size() || !dead_[i]) nodes.push_back(std::move(g.nodes[i]));
  }
  // Values still referenced, in their old order.
  std::vector<bool> used(g.values.size(), false);
  for (int v : g.inputs) used[static_cast<size_t>(v)] = true;
  for (int v : g.outputs) used[static_cast<size_t>(v)] = true;
  for (const Node& node : nodes) {
    for (int v : node.inputs) {
      if (v >= 0) used[static_cast<size_t>(v)] = true;
    }
    for (int v : node.outputs) {
      if (v >= 0) used[static_cast<size_t>(v)] = true;
    }
  }
  std::vector<int> remap(g.values.size(), -1);
  std::vector<Value> values;
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!used[v]) continue;
    remap[v] = static_cast<int>(values.size());
    values.push_back(std::move(g.values[v]));
  }
  const auto map = [&](int v) { return v >= 0 ? remap[static_cast<size_t>(v)] : -1; };
  for (Value& value : values) {
    value.producer = -1;
    value.consumers.clear();
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int& v : nodes[n].inputs) v = map(v);
    for (int& v : nodes[n].outputs) {
      v = map(v);
      if (v >= 0) values[static_cast<size_t>(v)].producer = static_cast<int>(n);
    }
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int v : nodes[n].inputs) {
      if (v < 0) continue;
      Value& value = values[static_cast<size_t>(v)];
      if (!value.is_constant && !value.is_graph_input && value.producer < 0) {
        return Error(StatusCode::kInternal, NodeLabel(nodes[n]), ": input '", value.name, "' lost its producer");
      }
      if (value.producer >= static_cast<int>(n)) {
        return Error(StatusCode::kInternal, NodeLabel(nodes[n]), ": input '", value.name,
                     "' is produced later (the rewrite broke the topological order)");
      }
      value.consumers.push_back(static_cast<int>(n));
    }
  }
  for (int& v : g.inputs) v = map(v);
  for (int& v : g.outputs) v = map(v);
  g.nodes = std::move(nodes);
  g.values = std::move(values);
  for (const int v : g.outputs) {
    const Value& value = g.values[static_cast<size_t>(v)];
    if (!value.is_constant && !value.is_graph_input && value.producer < 0) {
      return Error(StatusCode::kInternal, "graph output '", value.name, "' lost its producer");
    }
  }
  dead_.assign(g.nodes.size(), false);

  // Every value must keep what inference knew of it.
  std::vector<TensorInfo> infos;
  for (const Value& v : g.values) infos.push_back(v.info);
  const std::vector<TensorInfo> declared = infos;
  Status inferred = InferShapes(g, infos, &declared, /*require_static=*/false);
  if (!inferred.ok()) {
    return Error(StatusCode::kInternal, "after the rewrite: ", inferred.message());
  }
  for (size_t i = 0; i < g.values.size(); ++i) g.values[i].info = infos[i];
  return Status::Ok();
}

StatusOr<int> EliminateDeadNodes(Graph& graph) {
  std::vector<bool> needed(graph.values.size(), false);
  for (int v : graph.outputs) needed[static_cast<size_t>(v)] = true;
  Edit edit(graph);
  int removed = 0;
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    const Node& node = graph.nodes[n];
    bool live = false;
    for (int v : node.outputs) live |= v >= 0 && needed[static_cast<size_t>(v)];
    if (!live) {
      edit.Kill(static_cast<int>(n));
      ++removed;
      continue;
    }
    for (int v : node.inputs) {
      if (v >= 0) needed[static_cast<size_t>(v)] = true;
    }
  }
  if (removed > 0) TSR_RETURN_IF_ERROR(edit.Commit());
  return removed;
}

}  // namespace tessera::graph::passes
