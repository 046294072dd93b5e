// Constant folding: outputs that can be computed before any input arrives
// become constants, and the nodes that computed them go away.
//
// Two sources, in one sweep in topological order (so a chain folds whole):
//   * values that shape inference propagated (Shape of a static shape, and
//     Gather/Concat/Unsqueeze/... on such values, see runtime/core/op.h):
//     they are already known, the node is simply replaced by them;
//   * nodes whose present inputs are all constants (the file's or ones
//     folded earlier in the sweep): the node's own kernel runs once on them,
//     on this thread. Kernels are deterministic and thread-invariant, so the
//     folded values are exactly what every run would compute.
// Only ops of the built-in registry fold (a plugin op might not be a pure
// function of its inputs). Nodes that write a graph output stay, so outputs
// keep being produced by nodes. A node whose outputs would be much larger
// than its inputs (Expand, ConstantOfShape, Tile-like growth) stays too: it
// is cheaper to recompute than to keep in memory for the model's lifetime.
#include <algorithm>
#include <utility>

#include "graph/passes/pass_util.h"
#include "graph/shape_inference.h"

namespace tessera::graph::passes {
namespace {

// Outputs up to this size always fold; above it only when they are not
// more than twice the size of the inputs.
constexpr double kAlwaysFoldBytes = 1 << 20;

double Bytes(const TensorInfo& info) {
  return KnownElements(info) * static_cast<double>(DTypeSize(info.dtype));
}

bool WritesGraphOutput(const Graph& graph, const Node& node) {
  for (int v : node.outputs) {
    if (v >= 0 && graph.values[static_cast<size_t>(v)].is_graph_output) return true;
  }
  return false;
}

// Runs `node` on its constant inputs; empty result when it does not
// qualify.
StatusOr<std::vector<OwnedTensor>> Evaluate(const Graph& graph, const Node& node) {
  std::vector<OwnedTensor> results;
  double in_bytes = 0, out_bytes = 0;
  bool any_input = false;
  for (int v : node.inputs) {
    if (v < 0) continue;
    const Value& value = graph.values[static_cast<size_t>(v)];
    if (!value.is_constant) return results;
    any_input = true;
    in_bytes += Bytes(value.info);
  }
  if (!any_input) return results;
  for (int v : node.outputs) {
    if (v < 0) continue;
    const TensorInfo& info = graph.values[static_cast<size_t>(v)].info;
    if (!info.has_shape || !IsStatic(info.shape) || info.dtype == DType::kUnknown) return results;
    out_bytes += Bytes(info);
  }
  if (out_bytes > kAlwaysFoldBytes && out_bytes > 2 * in_bytes) return results;

  std::vector<TensorInfo> infos;
  for (const Value& v : graph.values) infos.push_back(v.info);
  OpContext ctx = MakeOpContext(graph, node, infos);
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    if (node.outputs[o] >= 0) ctx.outputs[o] = infos[static_cast<size_t>(node.outputs[o])];
  }
  TSR_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, node.def->create_kernel(ctx));
  std::vector<const Tensor*> inputs;
  for (int v : node.inputs) inputs.push_back(v >= 0 ? &graph.values[static_cast<size_t>(v)].constant : nullptr);
  std::vector<OwnedTensor> outputs(node.outputs.size());
  std::vector<Tensor*> output_views;
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    if (node.outputs[o] < 0) {
      output_views.push_back(nullptr);
      continue;
    }
    const TensorInfo& info = infos[static_cast<size_t>(node.outputs[o])];
    TSR_ASSIGN_OR_RETURN(outputs[o], OwnedTensor::Allocate(info.dtype, info.shape));
    output_views.push_back(&outputs[o].view);
  }
  TSR_RETURN_IF_ERROR(RunKernelOnce(*kernel, inputs, output_views));
  return outputs;
}

}  // namespace

StatusOr<int> FoldConstants(Graph& graph, const OpRegistry& registry) {
  // Values known by propagation, per value.
  std::vector<OwnedTensor> known;
  {
    std::vector<TensorInfo> infos;
    for (const Value& v : graph.values) infos.push_back(v.info);
    TSR_RETURN_IF_ERROR(InferShapes(graph, infos, nullptr, /*require_static=*/false, &known));
  }
  Edit edit(graph);
  int folded = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    if (registry.OwnerOf(node.def) != "builtin" || WritesGraphOutput(graph, node)) continue;
    bool all_known = true;
    for (int v : node.outputs) all_known &= v < 0 || known[static_cast<size_t>(v)].view.data != nullptr;
    std::vector<OwnedTensor> results;
    if (all_known) {
      for (int v : node.outputs) results.push_back(v >= 0 ? std::move(known[static_cast<size_t>(v)]) : OwnedTensor());
    } else {
      StatusOr<std::vector<OwnedTensor>> evaluated = Evaluate(graph, node);
      if (!evaluated.ok()) return evaluated.status().WithContext("constant folding " + NodeLabel(node));
      results = std::move(evaluated).value();
      if (results.empty()) continue;
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o] >= 0) edit.MakeConstant(node.outputs[o], std::move(results[o]));
    }
    edit.Kill(static_cast<int>(n));
    ++folded;
  }
  if (folded > 0) TSR_RETURN_IF_ERROR(edit.Commit());
  return folded;
}

}  // namespace tessera::graph::passes
