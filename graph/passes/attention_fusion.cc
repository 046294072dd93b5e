// Multi-head attention subgraph fusion into tessera.Attention
// (docs/ops/attention.md), for the form PyTorch modules write out by hand
// and torch.onnx exports:
//
//   q4 = Reshape(q, [B, S, H, hd])      qh = Transpose(q4, [0, 2, 1, 3])
//   k4 = Reshape(k, [B, T, H, hd])      kt = Transpose(k4, [0, 2, 3, 1])
//                                          (or [0, 2, 1, 3] then [0, 1, 3, 2])
//   v4 = Reshape(v, [B, T, H, hd])      vh = Transpose(v4, [0, 2, 1, 3])
//   s  = MatMul(qh, kt)                 scaled by Div(s, c) or Mul(s, c) (or
//                                       qh and/or kt multiplied by constants)
//   s' = Add(s, mask)                   optional, f32 additive
//   o  = MatMul(Softmax(s', axis=-1), vh)
//   y  = Reshape(Transpose(o, [0, 2, 1, 3]), [B, S, H * hd])
// becomes y = tessera.Attention(q, k, v, mask, num_heads=H, scale=...). The
// projections producing q, k and v stay (and are themselves fused with their
// biases by matmul_bias_fusion).
//
// The Reshapes' target shapes are often computed (Shape -> Gather -> Concat)
// so dynamic dims cannot be compared by value at load. The pass checks them
// by probing: it infers every shape twice with the dynamic input dims bound
// to two different sets of distinct primes (named dims alike by name) and
// requires the head split and merge to keep B and S, and the mask Add to
// keep the score shape, in both. A graph whose shapes cannot be inferred
// that way is checked on its static dims only. One difference is by design:
// a query row that sees no key (every mask entry -inf) gives zeros in the
// fused op where the decomposed softmax gives NaN.
#include <cmath>
#include <utility>

#include "graph/passes/pass_util.h"
#include "graph/shape_inference.h"

namespace tessera::graph::passes {
namespace {

bool IsOnnx(const Node& node, const char* op_type) { return node.domain.empty() && node.op_type == op_type; }

// Per-value infos with the dynamic input dims bound to sizes chosen by
// `probe` (0 or 1); false when inference fails for them.
bool ProbeInfos(const Graph& graph, int probe, std::vector<TensorInfo>* out) {
  // Small sizes, since graphs slice constant tables (positions, causal
  // masks) to the sequence length and break beyond the table's size.
  static constexpr int64_t kPrimes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59};
  constexpr size_t kCount = sizeof(kPrimes) / sizeof(kPrimes[0]);
  std::vector<TensorInfo> infos;
  for (const Value& v : graph.values) infos.push_back(v.info);
  std::vector<std::pair<std::string, int64_t>> named;
  size_t next = 0;
  for (int index : graph.inputs) {
    const Value& v = graph.values[static_cast<size_t>(index)];
    Shape shape = v.info.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] >= 0) continue;
      const std::string& name = d < v.dim_names.size() ? v.dim_names[d] : std::string();
      int64_t size = -1;
      for (const auto& [n, s] : named) {
        if (!name.empty() && n == name) size = s;
      }
      if (size < 0) {
        // Distinct sizes within a probe; probe 1 shifts them by one prime,
        // so every dim also differs between the probes.
        size = kPrimes[(next++ + static_cast<size_t>(probe)) % kCount];
        if (!name.empty()) named.emplace_back(name, size);
      }
      shape[d] = size;
    }
    infos[static_cast<size_t>(index)].shape = shape;
  }
  if (!InferShapes(graph, infos, nullptr, /*require_static=*/false).ok()) return false;
  *out = std::move(infos);
  return true;
}

// Dims compared in the load-time infos and in each probe.
class DimChecker {
 public:
  explicit DimChecker(const Graph& graph) : graph_(graph) {
    for (int p = 0; p < 2; ++p) {
      std::vector<TensorInfo> infos;
      if (!ProbeInfos(graph, p, &infos)) {
        probes_.clear();
        break;
      }
      probes_.push_back(std::move(infos));
    }
  }

  // Dim `da` of value `a` equals dim `db` of value `b` (negative: from the
  // end), in every probe, or statically when there are no probes.
  bool Equal(int a, int64_t da, int b, int64_t db) const {
    if (probes_.empty()) return DimsEqual(StaticInfo(a), da, StaticInfo(b), db);
    for (const auto& infos : probes_) {
      if (!DimsEqual(infos[static_cast<size_t>(a)], da, infos[static_cast<size_t>(b)], db)) return false;
    }
    return true;
  }

  // Dim `d` of `value` when it is the same number in every probe (a static
  // dim, or one the probes computed from constants), else -1.
  int64_t Fixed(int value, size_t d) const {
    int64_t size = -1;
    if (probes_.empty()) {
      const TensorInfo& info = graph_.values[static_cast<size_t>(value)].info;
      return info.has_shape && d < info.shape.size() ? info.shape[d] : -1;
    }
    for (const auto& infos : probes_) {
      const TensorInfo& info = infos[static_cast<size_t>(value)];
      if (!info.has_shape || d >= info.shape.size() || info.shape[d] < 0) return -1;
      if (size >= 0 && size != info.shape[d]) return -1;
      size = info.shape[d];
    }
    return size;
  }

  // Value `a` has the same shape as value `b`.
  bool SameShape(int a, int b) const {
    const TensorInfo& ia = graph_.values[static_cast<size_t>(a)].info;
    const TensorInfo& ib = graph_.values[static_cast<size_t>(b)].info;
    if (!ia.has_shape || !ib.has_shape || ia.shape.size() != ib.shape.size()) return false;
    for (size_t d = 0; d < ia.shape.size(); ++d) {
      if (!Equal(a, static_cast<int64_t>(d), b, static_cast<int64_t>(d))) return false;
    }
    return true;
  }

 private:
  const TensorInfo& StaticInfo(int v) const { return graph_.values[static_cast<size_t>(v)].info; }

  // Both dims known and equal.
  static bool DimsEqual(const TensorInfo& ia, int64_t da, const TensorInfo& ib, int64_t db) {
    if (!ia.has_shape || !ib.has_shape) return false;
    const int64_t ra = static_cast<int64_t>(ia.shape.size());
    const int64_t rb = static_cast<int64_t>(ib.shape.size());
    if (da < 0) da += ra;
    if (db < 0) db += rb;
    if (da < 0 || da >= ra || db < 0 || db >= rb) return false;
    const int64_t x = ia.shape[static_cast<size_t>(da)];
    const int64_t y = ib.shape[static_cast<size_t>(db)];
    return x >= 0 && x == y;
  }

  const Graph& graph_;
  std::vector<std::vector<TensorInfo>> probes_;
};

bool IsTranspose(const Node* node, const std::vector<int64_t>& perm) {
  return node != nullptr && IsOnnx(*node, "Transpose") && node->attrs.GetInts("perm") == perm;
}

// The producer of `value` when `value` has only that one reader.
const Node* SoleProducer(const Graph& graph, int value) {
  if (value < 0 || SoleConsumer(graph, value) < 0) return nullptr;
  return ProducerOf(graph, value);
}

int IndexOf(const Graph& graph, const Node* node) { return static_cast<int>(node - graph.nodes.data()); }

// Strips a multiplication (or division) by a scalar constant from `value`:
// returns the unscaled value and multiplies *scale.
int StripScale(const Graph& graph, int value, double* scale, std::vector<int>& pattern) {
  const Node* node = SoleProducer(graph, value);
  if (node == nullptr || node->inputs.size() != 2) return value;
  double c = 0;
  if (IsOnnx(*node, "Div") && ScalarConstant(graph, node->inputs[1], &c) && c != 0) {
    *scale /= c;
  } else if (IsOnnx(*node, "Mul") && ScalarConstant(graph, node->inputs[1], &c)) {
    *scale *= c;
  } else if (IsOnnx(*node, "Mul") && ScalarConstant(graph, node->inputs[0], &c)) {
    *scale *= c;
    pattern.push_back(IndexOf(graph, node));
    return node->inputs[1];
  } else {
    return value;
  }
  pattern.push_back(IndexOf(graph, node));
  return node->inputs[0];
}

struct HeadSplit {
  int input = -1;  // the [B, S, H * hd] tensor
  int64_t heads = 0;
  int64_t head_dim = 0;
};

// `value` = Reshape(x [B, S, H * hd]) -> [B, S, H, hd] read only once.
bool MatchHeadSplit(const Graph& graph, const DimChecker& dims, int value, HeadSplit* out,
                    std::vector<int>& pattern) {
  const Node* reshape = SoleProducer(graph, value);
  if (reshape == nullptr || !IsOnnx(*reshape, "Reshape")) return false;
  const int x = reshape->inputs[0];
  if (!HasRank(graph, x, 3) || !HasRank(graph, value, 4)) return false;
  const int64_t width = dims.Fixed(x, 2);
  const int64_t heads = dims.Fixed(value, 2);
  const int64_t head_dim = dims.Fixed(value, 3);
  if (heads <= 0 || head_dim <= 0 || width != heads * head_dim) return false;
  if (!dims.Equal(x, 0, value, 0) || !dims.Equal(x, 1, value, 1)) return false;
  out->input = x;
  out->heads = heads;
  out->head_dim = head_dim;
  pattern.push_back(IndexOf(graph, reshape));
  return true;
}

}  // namespace

StatusOr<int> FuseAttention(Graph& graph, const OpRegistry& registry) {
  if (registry.Find(kTesseraDomain, "Attention", 1) == nullptr) return 0;
  // Cheap precheck before probing shapes: any Softmax at all.
  bool any = false;
  for (const Node& node : graph.nodes) any |= IsOnnx(node, "Softmax");
  if (!any) return 0;
  const DimChecker dims(graph);
  Edit edit(graph);
  int fused = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& softmax = graph.nodes[n];
    if (edit.IsDead(static_cast<int>(n)) || !IsOnnx(softmax, "Softmax")) continue;
    const int scores_in = softmax.inputs[0];
    if (!HasRank(graph, scores_in, 4)) continue;
    int64_t axis = softmax.attrs.GetInt("axis", softmax.version >= 13 ? -1 : 1);
    if (axis < 0) axis += 4;
    if (axis != 3) continue;
    std::vector<int> pattern = {static_cast<int>(n)};

    // Optional mask, then the scale, then Q K^T.
    int scores = scores_in;
    int mask = -1;
    if (const Node* add = SoleProducer(graph, scores_in); add != nullptr && IsOnnx(*add, "Add")) {
      for (int side = 0; side < 2 && mask < 0; ++side) {
        const int s = add->inputs[static_cast<size_t>(side)];
        const Node* p = SoleProducer(graph, s);
        if (p == nullptr || !(IsOnnx(*p, "MatMul") || IsOnnx(*p, "Div") || IsOnnx(*p, "Mul"))) continue;
        const int m = add->inputs[static_cast<size_t>(1 - side)];
        if (graph.values[static_cast<size_t>(m)].info.dtype != DType::kF32 || !dims.SameShape(s, scores_in)) continue;
        scores = s;
        mask = m;
      }
      if (mask < 0) continue;
      pattern.push_back(IndexOf(graph, add));
    }
    double scale = 1.0;
    scores = StripScale(graph, scores, &scale, pattern);
    const Node* qk = SoleProducer(graph, scores);
    if (qk == nullptr || !IsOnnx(*qk, "MatMul")) continue;
    pattern.push_back(IndexOf(graph, qk));
    const int qh = StripScale(graph, qk->inputs[0], &scale, pattern);
    const int kt = StripScale(graph, qk->inputs[1], &scale, pattern);

    // Q heads.
    const Node* q_transpose = SoleProducer(graph, qh);
    if (!IsTranspose(q_transpose, {0, 2, 1, 3})) continue;
    pattern.push_back(IndexOf(graph, q_transpose));
    HeadSplit q, k, v;
    if (!MatchHeadSplit(graph, dims, q_transpose->inputs[0], &q, pattern)) continue;
    // K heads, transposed to [B, H, hd, T].
    const Node* k_transpose = SoleProducer(graph, kt);
    int k4 = -1;
    if (IsTranspose(k_transpose, {0, 2, 3, 1})) {
      k4 = k_transpose->inputs[0];
      pattern.push_back(IndexOf(graph, k_transpose));
    } else if (IsTranspose(k_transpose, {0, 1, 3, 2})) {
      const Node* inner = SoleProducer(graph, k_transpose->inputs[0]);
      if (!IsTranspose(inner, {0, 2, 1, 3})) continue;
      k4 = inner->inputs[0];
      pattern.push_back(IndexOf(graph, k_transpose));
      pattern.push_back(IndexOf(graph, inner));
    } else {
      continue;
    }
    if (!MatchHeadSplit(graph, dims, k4, &k, pattern)) continue;

    // Softmax(s) V, heads merged back.
    const int probs = softmax.outputs[0];
    const int pv_index = SoleConsumer(graph, probs);
    if (pv_index < 0) continue;
    const Node& pv = graph.nodes[static_cast<size_t>(pv_index)];
    if (!IsOnnx(pv, "MatMul") || pv.inputs[0] != probs) continue;
    pattern.push_back(pv_index);
    const Node* v_transpose = SoleProducer(graph, pv.inputs[1]);
    if (!IsTranspose(v_transpose, {0, 2, 1, 3})) continue;
    pattern.push_back(IndexOf(graph, v_transpose));
    if (!MatchHeadSplit(graph, dims, v_transpose->inputs[0], &v, pattern)) continue;
    const int o_transpose_index = SoleConsumer(graph, pv.outputs[0]);
    if (o_transpose_index < 0) continue;
    const Node& o_transpose = graph.nodes[static_cast<size_t>(o_transpose_index)];
    if (!IsTranspose(&o_transpose, {0, 2, 1, 3})) continue;
    pattern.push_back(o_transpose_index);
    const int merge_index = SoleConsumer(graph, o_transpose.outputs[0]);
    if (merge_index < 0) continue;
    const Node& merge = graph.nodes[static_cast<size_t>(merge_index)];
    const int merged = o_transpose.outputs[0];
    const int y = merge.outputs[0];
    if (!IsOnnx(merge, "Reshape") || !HasRank(graph, y, 3)) continue;
    pattern.push_back(merge_index);

    // One head layout throughout, and the merge undoes the split.
    if (q.heads != k.heads || q.heads != v.heads || q.head_dim != k.head_dim || q.head_dim != v.head_dim) continue;
    if (dims.Fixed(y, 2) != q.heads * q.head_dim) continue;
    if (!dims.Equal(merged, 0, y, 0) || !dims.Equal(merged, 1, y, 1) || !dims.Equal(q.input, 1, y, 1)) continue;
    bool overlap = false;
    for (int p : pattern) overlap |= edit.IsDead(p);
    if (overlap) continue;

    AttributeMap attrs;
    attrs.Set("num_heads", Attribute::Int(q.heads));
    attrs.Set("scale", Attribute::Float(static_cast<float>(scale)));
    TSR_ASSIGN_OR_RETURN(Node node, MakeNode(registry, kTesseraDomain, "Attention", 1,
                                             FusedName(graph, pattern, "Attention"), {q.input, k.input, v.input, mask},
                                             {y}, std::move(attrs)));
    edit.ReplacePattern(pattern, merge_index, std::move(node));
    ++fused;
  }
  if (fused > 0) TSR_RETURN_IF_ERROR(edit.Commit());
  return fused;
}

}  // namespace tessera::graph::passes
