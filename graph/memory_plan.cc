#include "graph/memory_plan.h"

#include <algorithm>

namespace tessera::graph {

Reachability::Reachability(const Graph& graph) {
  const size_t n = graph.nodes.size();
  if (n > kMaxTrackedNodes) {
    sequential_ = true;
    return;
  }
  words_ = (n + 63) / 64;
  bits_.assign(n * words_, 0);
  // Nodes are in topological order, so every producer's row is final
  // before its consumers read it.
  for (size_t b = 0; b < n; ++b) {
    uint64_t* row = &bits_[b * words_];
    for (int v : graph.nodes[b].inputs) {
      if (v < 0) continue;
      const int p = graph.values[static_cast<size_t>(v)].producer;
      if (p < 0) continue;
      const uint64_t* prow = &bits_[static_cast<size_t>(p) * words_];
      for (size_t w = 0; w < words_; ++w) row[w] |= prow[w];
      row[static_cast<size_t>(p) / 64] |= uint64_t{1} << (p % 64);
    }
  }
}

bool Reachability::IsAncestor(int a, int b) const {
  if (sequential_) return a < b;
  return (bits_[static_cast<size_t>(b) * words_ + static_cast<size_t>(a) / 64] >> (a % 64)) & 1;
}

namespace {

struct Block {
  int64_t offset;
  int64_t size;
  int value;
};

// True when every use of `value` happens-before node `node` starts.
bool DeadBefore(const Graph& graph, int value, int node, const Reachability& reach) {
  const Value& v = graph.values[static_cast<size_t>(value)];
  if (v.consumers.empty()) return reach.IsAncestor(v.producer, node);
  for (int c : v.consumers) {
    if (!reach.IsAncestor(c, node)) return false;
  }
  return true;
}

}  // namespace

MemoryPlan PlanMemory(const Graph& graph, const std::vector<TensorInfo>& infos, const Reachability& reach) {
  MemoryPlan plan;
  plan.offsets.assign(graph.values.size(), -1);
  std::vector<Block> placed;  // sorted by offset
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (int v : graph.nodes[n].outputs) {
      if (v < 0 || graph.values[static_cast<size_t>(v)].is_graph_output) continue;
      const TensorInfo& info = infos[static_cast<size_t>(v)];
      const int64_t size = static_cast<int64_t>(
          AlignUp(static_cast<size_t>(NumElements(info.shape)) * DTypeSize(info.dtype), kTensorAlignment));
      plan.unplanned_bytes += size;
      ++plan.num_intermediates;
      // First fit among the gaps left by blocks still alive when node n runs.
      int64_t offset = 0;
      for (const Block& b : placed) {
        if (DeadBefore(graph, b.value, static_cast<int>(n), reach)) continue;
        if (b.offset >= offset + size) break;
        offset = std::max(offset, b.offset + b.size);
      }
      plan.offsets[static_cast<size_t>(v)] = offset;
      plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
      const Block block{offset, size, v};
      placed.insert(std::upper_bound(placed.begin(), placed.end(), block,
                                     [](const Block& a, const Block& b) { return a.offset < b.offset; }),
                    block);
    }
  }
  return plan;
}

}  // namespace tessera::graph
