// Shape inference over a whole graph, in topological order.
#ifndef TESSERA_GRAPH_SHAPE_INFERENCE_H_
#define TESSERA_GRAPH_SHAPE_INFERENCE_H_

#include <vector>

#include "graph/graph.h"

namespace tessera::graph {

// `infos` has one entry per value; entries of graph inputs and constants
// must be set, the others are overwritten. Each node's inputs are checked
// against its declaration (CheckSignature) and its InferShapes runs.
//
// At load time pass the file's declared infos as `declared`: an inferred
// output is checked against what the file declared for it (dtype equal,
// same rank, equal where both dims are known), and a dim the file knows
// fills one that inference left dynamic.
//
// With require_static (session planning), every output must come out with a
// known, fully static shape. When it does not because an input the op
// declares needs_value is computed from tensor data, the error says so
// ("unsupported data-dependent shape") and names the node and the input.
//
// Value propagation (see runtime/core/op.h): values the ops compute from
// shapes (Shape -> Gather -> Concat ...) are handed to consumers as if they
// were constants. When `known_values` is given, it receives them, one entry
// per value (data == nullptr where unknown); constants are not copied there.
Status InferShapes(const Graph& graph, std::vector<TensorInfo>& infos, const std::vector<TensorInfo>* declared,
                   bool require_static, std::vector<OwnedTensor>* known_values = nullptr);

}  // namespace tessera::graph

#endif  // TESSERA_GRAPH_SHAPE_INFERENCE_H_
