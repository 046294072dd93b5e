#include "graph/shape_inference.h"

#include <string>

namespace tessera::graph {
namespace {

// Merges what the op inferred with what the file declared for the value.
Status MergeDeclared(const TensorInfo& declared, TensorInfo& inferred) {
  if (declared.dtype != DType::kUnknown && declared.dtype != inferred.dtype) {
    return Error(StatusCode::kInvalidModel, "declared dtype ", DTypeName(declared.dtype), " but the op produces ",
                 DTypeName(inferred.dtype));
  }
  if (!declared.has_shape) return Status::Ok();
  if (!inferred.has_shape) {
    inferred.shape = declared.shape;
    inferred.has_shape = true;
    return Status::Ok();
  }
  if (declared.shape.size() != inferred.shape.size()) {
    return Error(StatusCode::kInvalidModel, "declared shape ", ShapeToString(declared.shape),
                 " but the op produces ", ShapeToString(inferred.shape));
  }
  for (size_t d = 0; d < declared.shape.size(); ++d) {
    const int64_t a = declared.shape[d];
    int64_t& b = inferred.shape[d];
    if (a >= 0 && b >= 0 && a != b) {
      return Error(StatusCode::kInvalidModel, "declared shape ", ShapeToString(declared.shape),
                   " but the op produces ", ShapeToString(inferred.shape));
    }
    if (b < 0) b = a;
  }
  return Status::Ok();
}

}  // namespace

Status InferShapes(const Graph& graph, std::vector<TensorInfo>& infos, const std::vector<TensorInfo>* declared,
                   bool require_static) {
  for (const Node& node : graph.nodes) {
    OpContext ctx = MakeOpContext(graph, node, infos);
    Status status = CheckSignature(*node.def, ctx.inputs, node.outputs.size());
    if (status.ok()) status = node.def->infer_shapes(ctx);
    if (!status.ok()) return status.WithContext(NodeLabel(node));
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const int v = node.outputs[o];
      if (v < 0) continue;
      const Value& value = graph.values[static_cast<size_t>(v)];
      TensorInfo& out = ctx.outputs[o];
      if (declared != nullptr) {
        Status merged = MergeDeclared((*declared)[static_cast<size_t>(v)], out);
        if (!merged.ok()) return merged.WithContext(NodeLabel(node) + ": output '" + value.name + "'");
      }
      if (require_static && (!out.has_shape || !IsStatic(out.shape))) {
        return Error(StatusCode::kInvalidModel, NodeLabel(node), ": output '", value.name,
                     "' has no static shape for these inputs (got ",
                     out.has_shape ? ShapeToString(out.shape) : std::string("unknown rank"), ")");
      }
      infos[static_cast<size_t>(v)] = std::move(out);
    }
  }
  return Status::Ok();
}

}  // namespace tessera::graph
