// Pattern fusions for the decomposed forms exporters write for ops that
// older ONNX opsets lack: LayerNormalization (before opset 17) and GELU
// (before opset 20), as torch.onnx writes them.
//
// LayerNormalization over the trailing axes A = [a, rank):
//   mean = ReduceMean(x, A, keepdims=1)     d = Sub(x, mean)
//   var  = ReduceMean(Pow(d, 2) | Mul(d, d), A, keepdims=1)
//   y    = Div(d, Sqrt(Add(var, eps)))      [Mul(y, gamma)] [Add(., beta)]
// gamma and beta must be f32 constants that broadcast to x's dims [a:]
// (leading 1s dropped); eps an f32 scalar constant. Anything else (axes that
// are not trailing, keepdims=0, the two means over different axes, a
// computed gamma, an intermediate read elsewhere) is left alone.
//
// GELU, exact and tanh forms (Hendrycks and Gimpel 2016, sec. 2):
//   x * 0.5 * (1 + Erf(x / sqrt(2)))                      (also x * (1/sqrt 2))
//   x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))  (x^3 = Pow(x, 3)
//                                                             or x * x * x)
// with the final products in any of the orders exporters use: (x * s) * 0.5,
// (x * 0.5) * s, x * (s * 0.5). Constants must match to 1e-6 relative (they
// are rounded to f32 in the file).
#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "graph/passes/pass_util.h"

namespace tessera::graph::passes {
namespace {

const double kPi = std::acos(-1.0);

bool IsOnnx(const Node& node, const char* op_type) { return node.domain.empty() && node.op_type == op_type; }

// The node reading `value`, when it is the only reader and of `op_type`.
const Node* SoleConsumerOfType(const Graph& graph, int value, const char* op_type, int* index) {
  const int c = SoleConsumer(graph, value);
  if (c < 0 || !IsOnnx(graph.nodes[static_cast<size_t>(c)], op_type)) return nullptr;
  *index = c;
  return &graph.nodes[static_cast<size_t>(c)];
}

// ---------------------------------------------------------------------------
// LayerNormalization.

// The normalized axes of a ReduceMean as the first axis a of [a, rank), or
// -1 when they are not trailing, keepdims is 0, or they are unknown.
int64_t TrailingAxesStart(const Graph& graph, const Node& reduce, int64_t rank) {
  if (reduce.attrs.GetInt("keepdims", 1) != 1) return -1;
  std::vector<int64_t> axes;
  if (reduce.attrs.Has("axes")) {
    axes = reduce.attrs.GetInts("axes");
  } else if (reduce.inputs.size() > 1 && reduce.inputs[1] >= 0) {
    const Tensor* t = ConstantOf(graph, reduce.inputs[1]);
    if (t == nullptr || t->dtype != DType::kI64) return -1;
    axes.assign(t->data_as<int64_t>(), t->data_as<int64_t>() + t->NumElements());
  }
  if (axes.empty()) return -1;
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank) return -1;
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i)) return -1;
  }
  return axes[0];
}

// gamma or beta as a constant broadcasting to x's dims [axis:]: its value
// index (a view without leading 1s when needed), or -1.
int NormParam(Graph& graph, Edit& edit, int value, const Shape& x_shape, int64_t axis) {
  const Tensor* t = ConstantOf(graph, value);
  if (t == nullptr || t->dtype != DType::kF32) return -1;
  Shape shape = t->shape;
  while (!shape.empty() && shape.front() == 1 &&
         static_cast<int64_t>(shape.size()) > static_cast<int64_t>(x_shape.size()) - axis) {
    shape.erase(shape.begin());
  }
  const size_t norm_rank = x_shape.size() - static_cast<size_t>(axis);
  if (shape.size() > norm_rank) return -1;
  for (size_t k = 0; k < shape.size(); ++k) {
    const int64_t want = x_shape[x_shape.size() - shape.size() + k];
    if (shape[k] != 1 && shape[k] != want) return -1;
  }
  if (shape == t->shape) return value;
  const Tensor view{DType::kF32, shape, t->data};
  return edit.AddConstantView(graph.values[static_cast<size_t>(value)].name + "_norm", view);
}

}  // namespace

StatusOr<int> FuseLayerNorm(Graph& graph, const OpRegistry& registry) {
  if (registry.Find(kOnnxDomain, "LayerNormalization", 17) == nullptr) return 0;
  Edit edit(graph);
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (edit.IsDead(static_cast<int>(n)) || !IsOnnx(graph.nodes[n], "ReduceMean")) continue;
    const Node& mean_node = graph.nodes[n];
    const int x = mean_node.inputs[0];
    const TensorInfo x_info = graph.values[static_cast<size_t>(x)].info;
    if (!x_info.has_shape || x_info.dtype != DType::kF32) continue;
    const int64_t rank = static_cast<int64_t>(x_info.shape.size());
    const int64_t axis = TrailingAxesStart(graph, mean_node, rank);
    if (axis < 0) continue;
    std::vector<int> pattern = {static_cast<int>(n)};

    int sub_i = -1, sq_i = -1, var_i = -1, eps_i = -1, sqrt_i = -1, div_i = -1;
    const Node* sub = SoleConsumerOfType(graph, mean_node.outputs[0], "Sub", &sub_i);
    if (sub == nullptr || sub->inputs[0] != x || sub->inputs[1] != mean_node.outputs[0]) continue;
    const int d = sub->outputs[0];
    // d feeds the square and the division, nothing else.
    const Value& d_value = graph.values[static_cast<size_t>(d)];
    if (d_value.is_graph_output) continue;
    std::set<int> readers(d_value.consumers.begin(), d_value.consumers.end());
    if (readers.size() != 2) continue;
    for (int r : readers) {
      const Node& node = graph.nodes[static_cast<size_t>(r)];
      if (IsOnnx(node, "Div") && node.inputs[0] == d && node.inputs[1] != d) {
        div_i = r;
      } else if ((IsOnnx(node, "Pow") && node.inputs[0] == d && IsScalarNear(graph, node.inputs[1], 2.0)) ||
                 (IsOnnx(node, "Mul") && node.inputs[0] == d && node.inputs[1] == d)) {
        sq_i = r;
      }
    }
    if (div_i < 0 || sq_i < 0) continue;
    const Node* var = SoleConsumerOfType(graph, graph.nodes[static_cast<size_t>(sq_i)].outputs[0], "ReduceMean",
                                         &var_i);
    if (var == nullptr || TrailingAxesStart(graph, *var, rank) != axis) continue;
    const Node* add_eps = SoleConsumerOfType(graph, var->outputs[0], "Add", &eps_i);
    if (add_eps == nullptr) continue;
    double eps = 0;
    if (!ScalarConstant(graph, OtherInput(*add_eps, var->outputs[0]), &eps)) continue;
    const Node* sqrt = SoleConsumerOfType(graph, add_eps->outputs[0], "Sqrt", &sqrt_i);
    if (sqrt == nullptr || SoleConsumer(graph, sqrt->outputs[0]) != div_i ||
        graph.nodes[static_cast<size_t>(div_i)].inputs[1] != sqrt->outputs[0]) {
      continue;
    }
    pattern.insert(pattern.end(), {sub_i, sq_i, var_i, eps_i, sqrt_i, div_i});

    // Optional affine tail.
    int sink = div_i;
    int gamma = -1, beta = -1;
    int next = -1;
    if (const Node* mul = SoleConsumerOfType(graph, graph.nodes[static_cast<size_t>(sink)].outputs[0], "Mul", &next)) {
      const int g = NormParam(graph, edit, OtherInput(*mul, graph.nodes[static_cast<size_t>(sink)].outputs[0]),
                              x_info.shape, axis);
      if (g >= 0) {
        gamma = g;
        sink = next;
        pattern.push_back(sink);
      }
    }
    if (const Node* add = SoleConsumerOfType(graph, graph.nodes[static_cast<size_t>(sink)].outputs[0], "Add", &next)) {
      const int b = NormParam(graph, edit, OtherInput(*add, graph.nodes[static_cast<size_t>(sink)].outputs[0]),
                              x_info.shape, axis);
      if (b >= 0) {
        beta = b;
        sink = next;
        pattern.push_back(sink);
      }
    }
    AttributeMap attrs;
    attrs.Set("axis", Attribute::Int(axis));
    attrs.Set("epsilon", Attribute::Float(static_cast<float>(eps)));
    const Node& last = graph.nodes[static_cast<size_t>(sink)];
    TSR_ASSIGN_OR_RETURN(Node node, MakeNode(registry, kOnnxDomain, "LayerNormalization", 17,
                                             FusedName(graph, pattern, "LayerNormalization"), {x, gamma, beta},
                                             {last.outputs[0]}, std::move(attrs)));
    edit.ReplacePattern(pattern, sink, std::move(node));
    ++fused;
  }
  if (fused > 0) TSR_RETURN_IF_ERROR(edit.Commit());
  return fused;
}

// ---------------------------------------------------------------------------
// GELU.

namespace {

// x / sqrt(2) or x * (1 / sqrt(2)): x, else -1.
int ErfArgument(const Graph& graph, const Node& node) {
  if (IsOnnx(node, "Div") && IsScalarNear(graph, node.inputs[1], std::sqrt(2.0))) return node.inputs[0];
  if (IsOnnx(node, "Mul")) {
    if (IsScalarNear(graph, node.inputs[1], std::sqrt(0.5))) return node.inputs[0];
    if (IsScalarNear(graph, node.inputs[0], std::sqrt(0.5))) return node.inputs[1];
  }
  return -1;
}

// The other operand of a Mul whose operand is a scalar constant near
// `value`; -1 otherwise.
int MulByScalar(const Graph& graph, const Node& node, double value) {
  if (!IsOnnx(node, "Mul")) return -1;
  if (IsScalarNear(graph, node.inputs[1], value)) return node.inputs[0];
  if (IsScalarNear(graph, node.inputs[0], value)) return node.inputs[1];
  return -1;
}

// sqrt(2/pi) * (x + 0.044715 * x^3) produced by `node`: x, else -1; the
// nodes of the inner polynomial are appended to `pattern`.
int TanhArgument(const Graph& graph, const Node& node, std::vector<int>& pattern) {
  const int inner = MulByScalar(graph, node, std::sqrt(2.0 / kPi));
  const Node* add = ProducerOf(graph, inner);
  if (add == nullptr || !IsOnnx(*add, "Add") || SoleConsumer(graph, inner) < 0) return -1;
  for (int side = 0; side < 2; ++side) {
    const int x = add->inputs[static_cast<size_t>(side)];
    const int cubic = add->inputs[static_cast<size_t>(1 - side)];
    const Node* scaled = ProducerOf(graph, cubic);
    if (scaled == nullptr || SoleConsumer(graph, cubic) < 0) continue;
    const int cube = MulByScalar(graph, *scaled, 0.044715);
    const Node* power = ProducerOf(graph, cube);
    if (power == nullptr || SoleConsumer(graph, cube) < 0) continue;
    std::vector<int> extra;
    if (IsOnnx(*power, "Pow") && power->inputs[0] == x && IsScalarNear(graph, power->inputs[1], 3.0)) {
      // x^3 directly.
    } else if (IsOnnx(*power, "Mul")) {
      // (x * x) * x or x * (x * x).
      const int sq = power->inputs[0] == x ? power->inputs[1] : power->inputs[1] == x ? power->inputs[0] : -1;
      const Node* square = ProducerOf(graph, sq);
      if (square == nullptr || !IsOnnx(*square, "Mul") || square->inputs[0] != x || square->inputs[1] != x ||
          SoleConsumer(graph, sq) < 0) {
        continue;
      }
      extra.push_back(graph.values[static_cast<size_t>(sq)].producer);
    } else {
      continue;
    }
    pattern.push_back(graph.values[static_cast<size_t>(inner)].producer);
    pattern.push_back(graph.values[static_cast<size_t>(cubic)].producer);
    pattern.push_back(graph.values[static_cast<size_t>(cube)].producer);
    pattern.insert(pattern.end(), extra.begin(), extra.end());
    return x;
  }
  return -1;
}

// The tail x * 0.5 * s, where s = 1 + f(x) is `s`: the node that writes the
// result, with the tail's nodes appended to `pattern`; -1 when absent.
int GeluTail(const Graph& graph, int s, int x, std::vector<int>& pattern) {
  int m1 = SoleConsumer(graph, s);
  if (m1 < 0 || !IsOnnx(graph.nodes[static_cast<size_t>(m1)], "Mul")) return -1;
  const Node& first = graph.nodes[static_cast<size_t>(m1)];
  const int other = OtherInput(first, s);
  if (other == x) {
    // (x * s) * 0.5
    const int m2 = SoleConsumer(graph, first.outputs[0]);
    if (m2 < 0 || MulByScalar(graph, graph.nodes[static_cast<size_t>(m2)], 0.5) != first.outputs[0]) return -1;
    pattern.insert(pattern.end(), {m1, m2});
    return m2;
  }
  if (IsScalarNear(graph, other, 0.5)) {
    // x * (s * 0.5)
    const int m2 = SoleConsumer(graph, first.outputs[0]);
    if (m2 < 0 || !IsOnnx(graph.nodes[static_cast<size_t>(m2)], "Mul") ||
        OtherInput(graph.nodes[static_cast<size_t>(m2)], first.outputs[0]) != x) {
      return -1;
    }
    pattern.insert(pattern.end(), {m1, m2});
    return m2;
  }
  // (x * 0.5) * s
  const Node* half = ProducerOf(graph, other);
  if (half == nullptr || MulByScalar(graph, *half, 0.5) != x || SoleConsumer(graph, other) != m1) return -1;
  pattern.insert(pattern.end(), {graph.values[static_cast<size_t>(other)].producer, m1});
  return m1;
}

}  // namespace

StatusOr<int> FuseGelu(Graph& graph, const OpRegistry& registry) {
  if (registry.Find(kOnnxDomain, "Gelu", 20) == nullptr) return 0;
  Edit edit(graph);
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& f = graph.nodes[n];
    const bool erf = IsOnnx(f, "Erf");
    if (edit.IsDead(static_cast<int>(n)) || (!erf && !IsOnnx(f, "Tanh"))) continue;
    const int arg = f.inputs[0];
    const Node* arg_node = ProducerOf(graph, arg);
    if (arg_node == nullptr || SoleConsumer(graph, arg) != static_cast<int>(n)) continue;
    std::vector<int> pattern = {graph.values[static_cast<size_t>(arg)].producer, static_cast<int>(n)};
    const int x = erf ? ErfArgument(graph, *arg_node) : TanhArgument(graph, *arg_node, pattern);
    if (x < 0) continue;
    int plus_i = -1;
    const Node* plus = SoleConsumerOfType(graph, f.outputs[0], "Add", &plus_i);
    if (plus == nullptr || !IsScalarNear(graph, OtherInput(*plus, f.outputs[0]), 1.0)) continue;
    pattern.push_back(plus_i);
    const int sink = GeluTail(graph, plus->outputs[0], x, pattern);
    if (sink < 0) continue;
    bool overlap = false;
    for (int p : pattern) overlap |= edit.IsDead(p);
    if (overlap) continue;
    AttributeMap attrs;
    attrs.Set("approximate", Attribute::String(erf ? "none" : "tanh"));
    const Node& last = graph.nodes[static_cast<size_t>(sink)];
    TSR_ASSIGN_OR_RETURN(Node node, MakeNode(registry, kOnnxDomain, "Gelu", 20, FusedName(graph, pattern, "Gelu"),
                                             {x}, {last.outputs[0]}, std::move(attrs)));
    edit.ReplacePattern(pattern, sink, std::move(node));
    ++fused;
  }
  if (fused > 0) TSR_RETURN_IF_ERROR(edit.Commit());
  return fused;
}

}  // namespace tessera::graph::passes
