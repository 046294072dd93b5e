#include "graph/passes/optimize.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <utility>

#include "graph/passes/pass_util.h"

namespace tessera::graph {

bool OptimizeFromEnvironment() {
  const char* env = std::getenv("TESSERA_OPTIMIZE");
  if (env == nullptr) return true;
  return std::strcmp(env, "0") != 0 && std::strcmp(env, "off") != 0 && std::strcmp(env, "false") != 0;
}

Status OptimizeGraph(Graph& graph, const OpRegistry& registry, OptimizeReport* report) {
  struct Pass {
    const char* name;
    std::function<StatusOr<int>(Graph&)> run;
  };
  const std::vector<Pass> passes = {
      {"dead_node_elimination", [](Graph& g) { return passes::EliminateDeadNodes(g); }},
      {"constant_folding", [&](Graph& g) { return passes::FoldConstants(g, registry); }},
      {"gelu_fusion", [&](Graph& g) { return passes::FuseGelu(g, registry); }},
      {"layer_norm_fusion", [&](Graph& g) { return passes::FuseLayerNorm(g, registry); }},
      {"attention_fusion", [&](Graph& g) { return passes::FuseAttention(g, registry); }},
      {"matmul_bias_fusion", [&](Graph& g) { return passes::FuseMatMulBias(g, registry); }},
      {"activation_fusion", [&](Graph& g) { return passes::FuseActivation(g, registry); }},
  };

  // Failure leaves the graph as it was: keep what the passes may change.
  // Constants a pass adds own their storage in owned_constants, appended.
  std::vector<Value> saved_values = graph.values;
  std::vector<Node> saved_nodes = graph.nodes;
  const std::vector<int> saved_inputs = graph.inputs;
  const std::vector<int> saved_outputs = graph.outputs;
  const size_t saved_owned = graph.owned_constants.size();

  OptimizeReport local;
  local.nodes_before = static_cast<int>(graph.nodes.size());
  Status status;
  for (const Pass& pass : passes) {
    PassRecord record;
    record.pass = pass.name;
    record.nodes_before = static_cast<int>(graph.nodes.size());
    StatusOr<int> fired = pass.run(graph);
    if (fired.ok() && fired.value() > 0 && std::strcmp(pass.name, "dead_node_elimination") != 0) {
      // What a rewrite leaves unread goes right away, and counts as the
      // rewrite's own saving.
      StatusOr<int> dead = passes::EliminateDeadNodes(graph);
      if (!dead.ok()) fired = dead.status();
    }
    if (!fired.ok()) {
      status = fired.status().WithContext(std::string("optimization pass ") + pass.name);
      break;
    }
    record.rewrites = fired.value();
    record.nodes_after = static_cast<int>(graph.nodes.size());
    if (record.rewrites > 0) local.passes.push_back(std::move(record));
  }
  if (!status.ok()) {
    graph.values = std::move(saved_values);
    graph.nodes = std::move(saved_nodes);
    graph.inputs = saved_inputs;
    graph.outputs = saved_outputs;
    graph.owned_constants.erase(graph.owned_constants.begin() + static_cast<std::ptrdiff_t>(saved_owned),
                                graph.owned_constants.end());
    return status;
  }
  local.nodes_after = static_cast<int>(graph.nodes.size());
  if (report != nullptr) *report = std::move(local);
  return Status::Ok();
}

}  // namespace tessera::graph
