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

// The declaration of input slot `slot` (the last param covers variadic
// slots).
const ParamDef* InputParam(const OpDef& def, size_t slot) {
  if (def.inputs.empty()) return nullptr;
  return &def.inputs[slot < def.inputs.size() ? slot : def.inputs.size() - 1];
}

// Why an output has no static shape at planning time: the first input the
// op needs the values of that is known neither as a constant nor by
// propagation, i.e. computed from tensor data while running.
Status NoStaticShapeError(const Graph& graph, const Node& node, const OpContext& ctx, const Value& value,
                          const TensorInfo& out) {
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const ParamDef* param = InputParam(*node.def, i);
    if (param == nullptr || !param->needs_value || node.inputs[i] < 0 || ctx.constant(i) != nullptr) continue;
    const Value& in = graph.values[static_cast<size_t>(node.inputs[i])];
    return Error(StatusCode::kUnimplemented, NodeLabel(node), ": input '", param->name, "' ('", in.name,
                 "') decides the shape of output '", value.name,
                 "' but its values are computed from tensor data at run time: unsupported data-dependent shape "
                 "(Tessera plans every shape before running; such an input must be a constant or computed from "
                 "input shapes, e.g. Shape -> Gather -> Concat)");
  }
  return Error(StatusCode::kInvalidModel, NodeLabel(node), ": output '", value.name,
               "' has no static shape for these inputs (got ",
               out.has_shape ? ShapeToString(out.shape) : std::string("unknown rank"), ")");
}

}  // namespace

Status InferShapes(const Graph& graph, std::vector<TensorInfo>& infos, const std::vector<TensorInfo>* declared,
                   bool require_static, std::vector<OwnedTensor>* known_values) {
  // Values known by propagation, by value index; data == nullptr: unknown.
  std::vector<OwnedTensor> known(graph.values.size());
  for (const Node& node : graph.nodes) {
    OpContext ctx = MakeOpContext(graph, node, infos);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v >= 0 && ctx.constants[i] == nullptr && known[static_cast<size_t>(v)].view.data != nullptr) {
        ctx.constants[i] = &known[static_cast<size_t>(v)].view;
      }
    }
    ctx.output_values.resize(node.outputs.size());
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
        return NoStaticShapeError(graph, node, ctx, value, out);
      }
      OwnedTensor& out_value = ctx.output_values[o];
      if (out_value.view.data != nullptr) {
        // A propagated value must describe the output exactly; anything
        // else is a bug in the op's inference.
        if (out_value.view.dtype != out.dtype || !out.has_shape || out_value.view.shape != out.shape) {
          return Error(StatusCode::kInternal, NodeLabel(node), ": output '", value.name, "' has a propagated value ",
                       ShapeToString(out_value.view.shape), " ", DTypeName(out_value.view.dtype),
                       " that disagrees with its inferred shape ",
                       out.has_shape ? ShapeToString(out.shape) : std::string("(unknown rank)"), " ",
                       DTypeName(out.dtype));
        }
        known[static_cast<size_t>(v)] = std::move(out_value);
      }
      infos[static_cast<size_t>(v)] = std::move(out);
    }
  }
  if (known_values != nullptr) *known_values = std::move(known);
  return Status::Ok();
}

}  // namespace tessera::graph
