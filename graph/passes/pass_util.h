// What the optimization passes share: questions about a Graph (who reads a
// value, is it a constant scalar), and the editing protocol.
//
// Editing protocol. A pass never erases or reorders nodes itself: it marks
// nodes dead in an Edit, rewrites a node in place (typically the last node of
// a matched pattern, which comes after every node the pattern reads, so the
// order stays topological), and may append values (new constants). Then
// Edit::Commit drops the dead nodes and the values nothing uses any more,
// rebuilds producers and consumers, checks the order, and re-runs shape
// inference with the previous infos as declared, so a rewrite that changes
// any value's dtype or shape fails loudly instead of running wrong.
#ifndef TESSERA_GRAPH_PASSES_PASS_UTIL_H_
#define TESSERA_GRAPH_PASSES_PASS_UTIL_H_

#include <string>
#include <vector>

#include "graph/graph.h"
#include "runtime/core/registry.h"

namespace tessera::graph::passes {

// The one node that reads `value`, or -1 when none, several, or `value` is a
// graph output (then the value must survive the rewrite).
int SoleConsumer(const Graph& graph, int value);

// The node producing `value`, or nullptr (graph input, constant, omitted).
const Node* ProducerOf(const Graph& graph, int value);

// The constant tensor of `value`, or nullptr.
const Tensor* ConstantOf(const Graph& graph, int value);

// True when `value` is an f32 constant with exactly one element; *out gets it.
bool ScalarConstant(const Graph& graph, int value, double* out);

// True when `value` is an f32 constant with one element equal to `want` up to
// a relative `tolerance` (exporters write e.g. sqrt(2) as a rounded float).
bool IsScalarNear(const Graph& graph, int value, double want, double tolerance = 1e-6);

// The other input of a binary node, when one of its two inputs is `value`;
// -1 otherwise.
int OtherInput(const Node& node, int value);

// True when `value`'s rank is known and equals `rank`.
bool HasRank(const Graph& graph, int value, size_t rank);

// A value name not used in the graph: `base`, or `base` + "_1", "_2", ...
std::string UniqueValueName(const Graph& graph, const std::string& base);

// The common '/'-separated prefix of the nodes' names plus `suffix`
// ("/blk/ln/" + "LayerNormalization"), or the last node's name when they
// share none. Names for fused nodes that say where they came from.
std::string FusedName(const Graph& graph, const std::vector<int>& nodes, const std::string& suffix);

// A node of op (domain, op_type, version) resolved in `registry`, attributes
// checked and defaults filled. Fails when the registry lacks the op.
StatusOr<Node> MakeNode(const OpRegistry& registry, const std::string& domain, const std::string& op_type,
                        int32_t version, std::string name, std::vector<int> inputs, std::vector<int> outputs,
                        AttributeMap attrs);

// Runs `kernel` on the calling thread over the given tensors (a null input
// is an omitted one).
Status RunKernelOnce(const Kernel& kernel, const std::vector<const Tensor*>& inputs,
                     const std::vector<Tensor*>& outputs);

class Edit {
 public:
  explicit Edit(Graph& graph) : graph_(graph), dead_(graph.nodes.size(), false) {}

  void Kill(int node) { dead_[static_cast<size_t>(node)] = true; }
  bool IsDead(int node) const { return dead_[static_cast<size_t>(node)]; }
  // A fusion: `fused` takes the place (and the file position) of node
  // `keep`, the last of `pattern` in execution order; the rest of the
  // pattern dies.
  void ReplacePattern(const std::vector<int>& pattern, int keep, Node fused);

  // Adds a constant value owning `tensor`'s storage; returns its index.
  int AddConstant(const std::string& name, OwnedTensor tensor);
  // Adds a constant value viewing `tensor`, whose memory the graph already
  // keeps alive (another constant's data seen with another shape).
  int AddConstantView(const std::string& name, const Tensor& tensor);
  // Turns value `value` (a node output) into a constant owning `tensor`.
  void MakeConstant(int value, OwnedTensor tensor);

  // Applies the edit as described at the top of this file.
  Status Commit();

 private:
  Graph& graph_;
  std::vector<bool> dead_;
};

// The passes (see optimize.h). Each returns how many rewrites it made and
// leaves the graph committed (Edit::Commit) when it made any.
StatusOr<int> EliminateDeadNodes(Graph& graph);
StatusOr<int> FoldConstants(Graph& graph, const OpRegistry& registry);
StatusOr<int> FuseGelu(Graph& graph, const OpRegistry& registry);
StatusOr<int> FuseLayerNorm(Graph& graph, const OpRegistry& registry);
StatusOr<int> FuseAttention(Graph& graph, const OpRegistry& registry);
StatusOr<int> FuseMatMulBias(Graph& graph, const OpRegistry& registry);
StatusOr<int> FuseActivation(Graph& graph, const OpRegistry& registry);

}  // namespace tessera::graph::passes

#endif  // TESSERA_GRAPH_PASSES_PASS_UTIL_H_
