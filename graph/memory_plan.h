// Activation memory planning: one arena per session, buffers reused by
// liveness, safe under concurrent execution of independent nodes.
//
// A value's buffer may be reused by a later value only if every use of the
// earlier value happens-before the producer of the later one in the
// dependency graph (all its consumers are ancestors of that producer). A
// plain "last use in topological order" rule would be wrong here, because
// the executor runs independent branches at the same time.
#ifndef TESSERA_GRAPH_MEMORY_PLAN_H_
#define TESSERA_GRAPH_MEMORY_PLAN_H_

#include <cstdint>
#include <vector>

#include "graph/graph.h"

namespace tessera::graph {

// Node reachability: IsAncestor(a, b) is true when node a must finish
// before node b starts (a path a -> ... -> b exists). Bitsets, one per
// node: n^2/8 bytes, so above kMaxTrackedNodes nodes the graph is treated
// as a chain (a before b iff a comes first in topological order) and the
// executor must then run the nodes in that order.
class Reachability {
 public:
  static constexpr size_t kMaxTrackedNodes = 8192;

  explicit Reachability(const Graph& graph);
  bool IsAncestor(int a, int b) const;
  // True when the graph was too large to track and is handled as a chain.
  bool sequential() const { return sequential_; }

 private:
  size_t words_ = 0;
  bool sequential_ = false;
  std::vector<uint64_t> bits_;  // row b holds the ancestors of b
};

struct MemoryPlan {
  // Byte offset into the arena per value; -1 for values not in the arena
  // (graph inputs, constants, graph outputs, omitted).
  std::vector<int64_t> offsets;
  int64_t arena_bytes = 0;       // planned peak
  int64_t unplanned_bytes = 0;   // sum of all intermediates, each 64-byte aligned
  int64_t num_intermediates = 0;
};

// `infos` holds static shapes for every value (after session planning).
MemoryPlan PlanMemory(const Graph& graph, const std::vector<TensorInfo>& infos, const Reachability& reach);

}  // namespace tessera::graph

#endif  // TESSERA_GRAPH_MEMORY_PLAN_H_
