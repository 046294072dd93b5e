// Graph optimizations: rewrites of a validated Graph that keep every graph
// output's values (up to float rounding) and make the graph cheaper to run.
//
// They run on Tessera's Graph IR, so they apply to every model, whether a
// converter or the ModelBuilder wrote it. Model load runs them by default
// (ModelOptions::optimize, TsrModelOptionsSetOptimize, `--no-optimize` in the
// CLI, TESSERA_OPTIMIZE=0); a converter may run them before writing a file.
//
// The passes, in the order OptimizeGraph runs them:
//   constant_folding   a node whose inputs are all constants runs once, its
//                      kernel on the constants, and its outputs become
//                      constants; so do outputs whose values shape
//                      inference already knows (Shape of a static shape and
//                      the Gather/Concat/Unsqueeze chains built on it).
//   gelu_fusion        x * 0.5 * (1 + Erf(x / sqrt(2))) -> Gelu, and the tanh
//                      form 0.5 x (1 + Tanh(sqrt(2/pi) (x + 0.044715 x^3)))
//                      -> Gelu(approximate="tanh").
//   layer_norm_fusion  ReduceMean, Sub, Pow 2 (or Mul by itself), ReduceMean,
//                      Add eps, Sqrt, Div, [Mul gamma], [Add beta] over the
//                      same trailing axes -> LayerNormalization.
//   attention_fusion   per-head Reshape/Transpose of Q, K and V, MatMul Q K^T,
//                      scale (Div or Mul), optional additive mask, Softmax,
//                      MatMul by V, Transpose/Reshape back ->
//                      tessera.Attention on the projections.
//   matmul_bias_fusion MatMul by a constant matrix + Add of a constant [N]
//                      bias -> tessera.FusedMatMul with bias.
//   activation_fusion  Relu/Sigmoid/Tanh of a MatMul, FusedMatMul or Gemm
//                      output that nothing else reads -> the GEMM epilogue
//                      (tessera.FusedMatMul / tessera.FusedGemm activation).
//   dead_node_elimination  nodes none of whose outputs reaches a graph
//                      output; runs after every pass, so it also removes
//                      what a fusion left unused.
// A pass rewrites only where it has proved the rewrite exact; everything it
// cannot prove (unknown shapes, a second reader of an intermediate) it leaves
// alone. Fused ops must be registered (a registry without them turns those
// passes off).
#ifndef TESSERA_GRAPH_PASSES_OPTIMIZE_H_
#define TESSERA_GRAPH_PASSES_OPTIMIZE_H_

#include <string>
#include <vector>

#include "graph/graph.h"
#include "runtime/core/registry.h"

namespace tessera::graph {

struct PassRecord {
  std::string pass;   // e.g. "layer_norm_fusion"
  int rewrites = 0;   // how many times it fired
  int nodes_before = 0;
  int nodes_after = 0;
};

struct OptimizeReport {
  int nodes_before = 0;
  int nodes_after = 0;
  // One record per pass that fired, in the order they ran.
  std::vector<PassRecord> passes;
};

// Rewrites `graph` in place. `graph` must be a validated graph as the loader
// makes it (topological order, producers and consumers, inferred infos);
// afterwards it is one again, with unused values dropped. On failure the
// graph is left unchanged. `report` may be null.
Status OptimizeGraph(Graph& graph, const OpRegistry& registry, OptimizeReport* report);

// True unless the environment variable TESSERA_OPTIMIZE is "0", "off" or
// "false": the default of ModelOptions::optimize.
bool OptimizeFromEnvironment();

}  // namespace tessera::graph

#endif  // TESSERA_GRAPH_PASSES_OPTIMIZE_H_
