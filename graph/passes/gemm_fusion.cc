// GEMM epilogue fusions: a bias Add and an activation after a matrix
// product are folded into the product's epilogue (ops/gemm/gemm.h), so the
// output is written once instead of three times.
//
//   MatMul(A, B) -> Add(., bias)        => tessera.FusedMatMul(A, B, bias)
//   MatMul/FusedMatMul -> Relu|Sigmoid|Tanh   => tessera.FusedMatMul activation
//   Gemm -> Relu|Sigmoid|Tanh           => tessera.FusedGemm activation
//
// The bias must be an f32 constant holding one value per output column:
// shape [N], or [1, ..., 1, N] of rank at most the product's (so the Add does
// not broadcast the product to a larger shape). A non-broadcast operand, a
// computed bias, or a product that another node also reads stays as it is.
#include <string>
#include <utility>

#include "graph/passes/pass_util.h"

namespace tessera::graph::passes {
namespace {

bool IsOnnx(const Node& node, const char* op_type) { return node.domain.empty() && node.op_type == op_type; }

bool IsTessera(const Node& node, const char* op_type) {
  return node.domain == kTesseraDomain && node.op_type == op_type;
}

// The bias as a [N] view when `value` qualifies for a product whose output
// has the given info.
bool BiasFor(const Graph& graph, int value, const TensorInfo& product, Tensor* bias) {
  const Tensor* t = ConstantOf(graph, value);
  if (t == nullptr || t->dtype != DType::kF32 || t->shape.empty()) return false;
  if (!product.has_shape || product.shape.empty() || t->shape.size() > product.shape.size()) return false;
  const int64_t n = product.shape.back();
  if (n < 0 || t->shape.back() != n) return false;
  for (size_t d = 0; d + 1 < t->shape.size(); ++d) {
    if (t->shape[d] != 1) return false;
  }
  *bias = Tensor{DType::kF32, Shape{n}, t->data};
  return true;
}

}  // namespace

StatusOr<int> FuseMatMulBias(Graph& graph, const OpRegistry& registry) {
  if (registry.Find(kTesseraDomain, "FusedMatMul", 1) == nullptr) return 0;
  Edit edit(graph);
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& mm = graph.nodes[n];
    if (edit.IsDead(static_cast<int>(n)) || !IsOnnx(mm, "MatMul")) continue;
    // A vector B has no columns to add a bias to.
    const TensorInfo& b_info = graph.values[static_cast<size_t>(mm.inputs[1])].info;
    if (!b_info.has_shape || b_info.shape.size() < 2) continue;
    const int y = mm.outputs[0];
    const int add_index = SoleConsumer(graph, y);
    if (add_index < 0) continue;
    const Node& add = graph.nodes[static_cast<size_t>(add_index)];
    if (!IsOnnx(add, "Add")) continue;
    const int other = OtherInput(add, y);
    if (other < 0 || other == y) continue;
    const TensorInfo product = graph.values[static_cast<size_t>(y)].info;
    Tensor bias;
    if (!BiasFor(graph, other, product, &bias)) continue;
    const int bias_value = bias.shape == graph.values[static_cast<size_t>(other)].constant.shape
                               ? other
                               : edit.AddConstantView(graph.values[static_cast<size_t>(other)].name + "_row", bias);
    const Node& matmul = graph.nodes[n];
    const Node& sum = graph.nodes[static_cast<size_t>(add_index)];
    TSR_ASSIGN_OR_RETURN(Node node, MakeNode(registry, kTesseraDomain, "FusedMatMul", 1, matmul.name,
                                             {matmul.inputs[0], matmul.inputs[1], bias_value}, sum.outputs,
                                             AttributeMap()));
    node.file_index = matmul.file_index;
    graph.nodes[static_cast<size_t>(add_index)] = std::move(node);
    edit.Kill(static_cast<int>(n));
    ++fused;
  }
  if (fused > 0) TSR_RETURN_IF_ERROR(edit.Commit());
  return fused;
}

StatusOr<int> FuseActivation(Graph& graph, const OpRegistry& registry) {
  const bool have_matmul = registry.Find(kTesseraDomain, "FusedMatMul", 1) != nullptr;
  const bool have_gemm = registry.Find(kTesseraDomain, "FusedGemm", 1) != nullptr;
  Edit edit(graph);
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& act = graph.nodes[n];
    if (!IsOnnx(act, "Relu") && !IsOnnx(act, "Sigmoid") && !IsOnnx(act, "Tanh")) continue;
    const int x = act.inputs[0];
    const int p = graph.values[static_cast<size_t>(x)].producer;
    if (p < 0 || SoleConsumer(graph, x) != static_cast<int>(n) || edit.IsDead(p)) continue;
    Node& product = graph.nodes[static_cast<size_t>(p)];
    const bool matmul = IsOnnx(product, "MatMul");
    const bool fused_matmul = IsTessera(product, "FusedMatMul");
    const bool gemm = IsOnnx(product, "Gemm");
    const bool fused_gemm = IsTessera(product, "FusedGemm");
    if (!((matmul || fused_matmul) && have_matmul) && !((gemm || fused_gemm) && have_gemm)) continue;
    if ((fused_matmul || fused_gemm) && !product.attrs.GetString("activation").empty()) continue;
    if (product.outputs.size() != 1) continue;
    AttributeMap attrs = product.attrs;
    attrs.Set("activation", Attribute::String(act.op_type));
    TSR_ASSIGN_OR_RETURN(Node replacement,
                         MakeNode(registry, kTesseraDomain, (matmul || fused_matmul) ? "FusedMatMul" : "FusedGemm", 1,
                                  product.name, product.inputs, act.outputs, std::move(attrs)));
    replacement.file_index = product.file_index;
    product = std::move(replacement);
    edit.Kill(static_cast<int>(n));
    ++fused;
  }
  if (fused > 0) TSR_RETURN_IF_ERROR(edit.Commit());
  return fused;
}

}  // namespace tessera::graph::passes
