// Tessera's fused attention ops (domain "tessera", version 1+). The full
// definitions, with examples of decoder graphs, are in docs/ops/attention.md.
//
// tessera.Attention: multi-head scaled dot-product attention
//   inputs   Q [batch, q_len, num_heads * head_dim]                     f32
//            K [batch, kv_len, kv_num_heads * head_dim]                 f32
//            V [batch, kv_len, kv_num_heads * head_dim]                 f32
//            mask (optional), numpy-broadcastable to
//              [batch, num_heads, q_len, past_len + kv_len]:
//              f32 is added to the scaled scores (-inf hides a key);
//              bool, i32, i64: nonzero = attend, zero = hidden
//            past_key, past_value (optional, both or neither)
//              [batch, kv_num_heads, past_len, head_dim]                 f32
//   outputs  Y [batch, q_len, num_heads * head_dim]
//            present_key, present_value (optional)
//              [batch, kv_num_heads, past_len + kv_len, head_dim]: past then new
//   attrs    num_heads (required), kv_num_heads (default num_heads; must
//            divide it: grouped-query attention), scale (default
//            1/sqrt(head_dim)), causal (0/1: query i sees keys
//            j <= past_len + i).
//   A query row that sees no key (all hidden) gives zeros, never NaN.
//
// tessera.AdditiveAttention: Bahdanau attention, one decoder step
//   inputs   memory h [batch, src_len, enc_dim], query s [batch, dec_dim],
//            W1 [enc_dim, attn_dim] (optional: give W1 or keys),
//            W2 [dec_dim, attn_dim], v [attn_dim],
//            src_lengths (optional) i64 [batch], values in [0, src_len],
//            keys (optional) [batch, src_len, attn_dim] = h W1, computed
//            once per source sequence (a MatMul) and fed to every step.
//   outputs  context [batch, enc_dim], weights (optional) [batch, src_len]
//   score_j = v . tanh(W1^T h_j + W2^T s), a = softmax over j < src_len_b,
//   context = sum_j a_j h_j. A row with src_lengths 0 gives zero weights
//   and a zero context.
//
// The SIMD code is in attention-inl.h; projections run on GemmF32.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ops/attention/attention.h"
#include "ops/builtin_ops.h"
#include "ops/gemm/gemm.h"
#include "runtime/core/op.h"

namespace tessera::ops {
namespace {

bool Known(int64_t d) { return d != kDynamicDim; }
// Dims `a` and `b` agree, or one of them is not known yet.
bool DimsAgree(int64_t a, int64_t b) { return !Known(a) || !Known(b) || a == b; }
int64_t FirstKnown(int64_t a, int64_t b) { return Known(a) ? a : b; }

double KnownElements(const TensorInfo* info) {
  if (info == nullptr || !info->has_shape || !IsStatic(info->shape)) return 0;
  return static_cast<double>(NumElements(info->shape));
}

// ---------------------------------------------------------------------------
// tessera.Attention

enum AttentionInput { kQ = 0, kK, kV, kMask, kPastKey, kPastValue };
enum AttentionOutput { kY = 0, kPresentKey, kPresentValue };

struct AttentionConfig {
  int64_t num_heads = 0;
  int64_t kv_num_heads = 0;
  bool has_scale = false;
  float scale = 0.0f;
  bool causal = false;
};

StatusOr<AttentionConfig> ReadAttentionConfig(const AttributeMap& attrs) {
  AttentionConfig cfg;
  cfg.num_heads = attrs.GetInt("num_heads", 0);
  if (cfg.num_heads < 1) {
    return Error(StatusCode::kInvalidModel, "attribute 'num_heads' is ", cfg.num_heads, ", expected >= 1");
  }
  cfg.kv_num_heads = attrs.GetInt("kv_num_heads", 0);
  if (cfg.kv_num_heads == 0) cfg.kv_num_heads = cfg.num_heads;
  if (cfg.kv_num_heads < 1 || cfg.num_heads % cfg.kv_num_heads != 0) {
    return Error(StatusCode::kInvalidModel, "attribute 'kv_num_heads' is ", cfg.kv_num_heads,
                 ", expected a divisor of num_heads=", cfg.num_heads);
  }
  cfg.has_scale = attrs.Has("scale");
  cfg.scale = attrs.GetFloat("scale", 0.0f);
  if (cfg.has_scale && !std::isfinite(cfg.scale)) {
    return Error(StatusCode::kInvalidModel, "attribute 'scale' is not finite");
  }
  const int64_t causal = attrs.GetInt("causal", 0);
  if (causal != 0 && causal != 1) {
    return Error(StatusCode::kInvalidModel, "attribute 'causal' is ", causal, ", expected 0 or 1");
  }
  cfg.causal = causal == 1;
  return cfg;
}

// Dims of one call; kDynamicDim where not known yet.
struct AttentionDims {
  int64_t batch = kDynamicDim;
  int64_t q_len = kDynamicDim;
  int64_t kv_len = kDynamicDim;
  int64_t past_len = 0;
  int64_t head_dim = kDynamicDim;
  bool ranks_known = false;  // Q's rank is known (outputs get a shape)
};

// Shapes of the inputs; nullptr for an omitted input or an unknown rank.
using ShapeList = std::vector<const Shape*>;

Status CheckRank(const Shape* s, size_t rank, const char* name, const char* layout) {
  if (s != nullptr && s->size() != rank) {
    return Error(StatusCode::kInvalidArgument, "input '", name, "' has shape ", ShapeToString(*s), ", expected rank ",
                 rank, " ", layout);
  }
  return Status::Ok();
}

StatusOr<AttentionDims> CheckAttentionShapes(const AttentionConfig& cfg, const ShapeList& in, bool has_past) {
  const Shape* q = in[kQ];
  const Shape* k = in[kK];
  const Shape* v = in[kV];
  TSR_RETURN_IF_ERROR(CheckRank(q, 3, "Q", "[batch, q_len, num_heads * head_dim]"));
  TSR_RETURN_IF_ERROR(CheckRank(k, 3, "K", "[batch, kv_len, kv_num_heads * head_dim]"));
  TSR_RETURN_IF_ERROR(CheckRank(v, 3, "V", "[batch, kv_len, kv_num_heads * head_dim]"));
  AttentionDims dims;
  dims.ranks_known = q != nullptr;
  if (q != nullptr) {
    dims.batch = (*q)[0];
    dims.q_len = (*q)[1];
    const int64_t hidden = (*q)[2];
    if (Known(hidden)) {
      if (hidden % cfg.num_heads != 0 || hidden == 0) {
        return Error(StatusCode::kInvalidArgument, "input 'Q' has shape ", ShapeToString(*q), ": its last dim ",
                     hidden, " is not a positive multiple of num_heads=", cfg.num_heads);
      }
      dims.head_dim = hidden / cfg.num_heads;
    }
  }
  if (k != nullptr && v != nullptr) {
    for (size_t a = 0; a < 3; ++a) {
      if (!DimsAgree((*k)[a], (*v)[a])) {
        return Error(StatusCode::kInvalidArgument, "inputs 'K' ", ShapeToString(*k), " and 'V' ", ShapeToString(*v),
                     " must have the same shape");
      }
    }
  }
  for (const Shape* kv : {k, v}) {
    if (kv == nullptr) continue;
    const char* name = kv == k ? "K" : "V";
    if (!DimsAgree((*kv)[0], dims.batch)) {
      return Error(StatusCode::kInvalidArgument, "input '", name, "' has batch ", (*kv)[0], ", but 'Q' has batch ",
                   dims.batch);
    }
    dims.batch = FirstKnown(dims.batch, (*kv)[0]);
    dims.kv_len = FirstKnown(dims.kv_len, (*kv)[1]);
    const int64_t kv_hidden = (*kv)[2];
    if (Known(kv_hidden) && Known(dims.head_dim) && kv_hidden != cfg.kv_num_heads * dims.head_dim) {
      return Error(StatusCode::kInvalidArgument, "input '", name, "' has shape ", ShapeToString(*kv),
                   ": its last dim must be kv_num_heads * head_dim = ", cfg.kv_num_heads, " * ", dims.head_dim, " = ",
                   cfg.kv_num_heads * dims.head_dim);
    }
    if (Known(kv_hidden) && !Known(dims.head_dim)) {
      if (kv_hidden % cfg.kv_num_heads != 0 || kv_hidden == 0) {
        return Error(StatusCode::kInvalidArgument, "input '", name, "' has shape ", ShapeToString(*kv),
                     ": its last dim is not a positive multiple of kv_num_heads=", cfg.kv_num_heads);
      }
      dims.head_dim = kv_hidden / cfg.kv_num_heads;
    }
  }
  if (has_past) {
    const Shape* pk = in[kPastKey];
    const Shape* pv = in[kPastValue];
    TSR_RETURN_IF_ERROR(CheckRank(pk, 4, "past_key", "[batch, kv_num_heads, past_len, head_dim]"));
    TSR_RETURN_IF_ERROR(CheckRank(pv, 4, "past_value", "[batch, kv_num_heads, past_len, head_dim]"));
    dims.past_len = kDynamicDim;
    for (const Shape* p : {pk, pv}) {
      if (p == nullptr) continue;
      const char* name = p == pk ? "past_key" : "past_value";
      const Shape want = {dims.batch, cfg.kv_num_heads, FirstKnown(dims.past_len, (*p)[2]), dims.head_dim};
      for (size_t a = 0; a < 4; ++a) {
        if (!DimsAgree((*p)[a], want[a])) {
          return Error(StatusCode::kInvalidArgument, "input '", name, "' has shape ", ShapeToString(*p),
                       ", expected ", ShapeToString(want), " [batch, kv_num_heads, past_len, head_dim]",
                       p == pv ? " (the same as past_key)" : "");
        }
      }
      dims.batch = FirstKnown(dims.batch, (*p)[0]);
      dims.past_len = FirstKnown(dims.past_len, (*p)[2]);
      dims.head_dim = FirstKnown(dims.head_dim, (*p)[3]);
    }
  }
  // past_len + kv_len (the present length) is formed below, in inference,
  // Cost() and the kernel. Each is bounded by its input's element count
  // except beside a 0 (batch 0: [0, 2^62, hidden] passes the limit).
  if (Known(dims.past_len) && Known(dims.kv_len) &&
      dims.past_len > std::numeric_limits<int64_t>::max() - dims.kv_len) {
    return Error(StatusCode::kInvalidArgument, "past_len ", dims.past_len, " plus kv_len ", dims.kv_len,
                 " (the present length) is more than 2^63 - 1");
  }
  if (const Shape* m = in[kMask]; m != nullptr) {
    const int64_t total = Known(dims.past_len) && Known(dims.kv_len) ? dims.past_len + dims.kv_len : kDynamicDim;
    const Shape target = {dims.batch, cfg.num_heads, dims.q_len, total};
    if (m->empty() || m->size() > 4) {
      return Error(StatusCode::kInvalidArgument, "input 'mask' has shape ", ShapeToString(*m),
                   ", expected rank 1 to 4, broadcastable to [batch, num_heads, q_len, total_kv_len] = ",
                   ShapeToString(target));
    }
    const size_t lead = 4 - m->size();
    for (size_t a = 0; a < m->size(); ++a) {
      const int64_t md = (*m)[a];
      const int64_t td = target[lead + a];
      if (Known(md) && md != 1 && !DimsAgree(md, td)) {
        return Error(StatusCode::kInvalidArgument, "input 'mask' has shape ", ShapeToString(*m),
                     ", not broadcastable to [batch, num_heads, q_len, total_kv_len] = ", ShapeToString(target),
                     " (dim ", a, " is ", md, ", expected 1 or ", td, ")");
      }
    }
  }
  return dims;
}

ShapeList InfoShapes(const OpContext& ctx) {
  ShapeList shapes(6, nullptr);
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (ctx.has_input(i) && ctx.input(i).has_shape) shapes[i] = &ctx.input(i).shape;
  }
  return shapes;
}

Status CheckPastPresence(bool has_past_key, bool has_past_value) {
  if (has_past_key != has_past_value) {
    return Error(StatusCode::kInvalidArgument, "inputs 'past_key' and 'past_value' must be given together (got only '",
                 has_past_key ? "past_key" : "past_value", "')");
  }
  return Status::Ok();
}

Status InferAttention(OpContext& ctx) {
  TSR_ASSIGN_OR_RETURN(const AttentionConfig cfg, ReadAttentionConfig(*ctx.attrs));
  const bool has_past = ctx.has_input(kPastKey);
  TSR_RETURN_IF_ERROR(CheckPastPresence(has_past, ctx.has_input(kPastValue)));
  TSR_ASSIGN_OR_RETURN(const AttentionDims dims, CheckAttentionShapes(cfg, InfoShapes(ctx), has_past));
  const int64_t total = Known(dims.past_len) && Known(dims.kv_len) ? dims.past_len + dims.kv_len : kDynamicDim;
  for (size_t o = 0; o < ctx.outputs.size(); ++o) {
    TensorInfo& out = ctx.outputs[o];
    out.dtype = DType::kF32;
    if (o == kY) {
      out.has_shape = dims.ranks_known;
      out.shape = dims.ranks_known ? ctx.input(kQ).shape : Shape{};
    } else {
      out.has_shape = true;
      out.shape = {dims.batch, cfg.kv_num_heads, total, dims.head_dim};
    }
  }
  return Status::Ok();
}

// Score-matrix entries a query row really computes: all keys, or for causal
// attention those with j <= past_len + i (clipped to the total).
// Closed form, in double: rows i < kv_len = total - past_len see
// past_len + i + 1 keys, the rest all `total`. (A loop over the rows ran
// q_len times, 2^40 for Q [0, 2^40, hidden], and formed past_len + i + 1.)
double VisiblePairs(int64_t q_len, int64_t past_len, int64_t total, bool causal) {
  const double q = static_cast<double>(q_len);
  if (!causal) return q * static_cast<double>(total);
  const double m = static_cast<double>(std::min(q_len, total - past_len));
  return m * static_cast<double>(past_len) + m * (m + 1) / 2 + (q - m) * static_cast<double>(total);
}

// FLOPs per visible (query, key) pair besides the two products: scale 1,
// mask 1, max 1, subtract 1, exp 22 (VecExp's operations, as counted for
// the Exp op), sum 1.
constexpr double kSoftmaxFlopsPerScore = 27;

OpCost AttentionCost(const OpContext& ctx) {
  OpCost cost;
  StatusOr<AttentionConfig> cfg = ReadAttentionConfig(*ctx.attrs);
  if (!cfg.ok()) return cost;
  const bool has_past = ctx.has_input(kPastKey) && ctx.has_input(kPastValue);
  StatusOr<AttentionDims> dims = CheckAttentionShapes(cfg.value(), InfoShapes(ctx), has_past);
  if (!dims.ok()) return cost;
  const AttentionDims& d = dims.value();
  if (!Known(d.batch) || !Known(d.q_len) || !Known(d.kv_len) || !Known(d.past_len) || !Known(d.head_dim)) {
    return cost;
  }
  const int64_t total = d.past_len + d.kv_len;
  // Useful work only: tiles on the causal diagonal compute (and discard) a
  // few more products, which a throughput figure should not reward.
  // batch * num_heads in double: beside q_len 0 Q's hidden size, and so
  // num_heads, is bounded by nothing (Q [2^30, 0, 2^40], num_heads 2^40).
  const double pairs = static_cast<double>(d.batch) * static_cast<double>(cfg.value().num_heads) *
                       VisiblePairs(d.q_len, d.past_len, total, cfg.value().causal);
  cost.flops = pairs * (4.0 * static_cast<double>(d.head_dim) + kSoftmaxFlopsPerScore);
  // Compulsory traffic: every input once (K/V tiles are re-read per query
  // block from cache), Y and the present cache written once.
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.inputs[i] != nullptr) {
      cost.bytes_read += KnownElements(ctx.inputs[i]) * static_cast<double>(DTypeSize(ctx.inputs[i]->dtype));
    }
  }
  for (const TensorInfo& out : ctx.outputs) cost.bytes_written += KnownElements(&out) * sizeof(float);
  return cost;
}

class AttentionKernel final : public Kernel {
 public:
  explicit AttentionKernel(AttentionConfig cfg) : cfg_(cfg) {}

  Status Run(KernelContext& ctx) const override {
    ShapeList shapes(6, nullptr);
    for (size_t i = 0; i < shapes.size(); ++i) {
      const Tensor* t = ctx.input(i);
      if (t == nullptr) continue;
      if (t->data == nullptr && t->NumElements() != 0) {
        return Error(StatusCode::kInvalidArgument, "Attention: input ", i, " has no data");
      }
      shapes[i] = &t->shape;
    }
    if (shapes[kQ] == nullptr || shapes[kK] == nullptr || shapes[kV] == nullptr || ctx.output(kY) == nullptr) {
      return Error(StatusCode::kInvalidArgument, "Attention: Q, K, V and Y are required");
    }
    const bool has_past = shapes[kPastKey] != nullptr;
    TSR_RETURN_IF_ERROR(CheckPastPresence(has_past, shapes[kPastValue] != nullptr));
    TSR_ASSIGN_OR_RETURN(const AttentionDims dims, CheckAttentionShapes(cfg_, shapes, has_past));
    const Tensor* mask = ctx.input(kMask);
    AttentionF32Params p;
    p.batch = dims.batch;
    p.num_heads = cfg_.num_heads;
    p.kv_num_heads = cfg_.kv_num_heads;
    p.head_dim = dims.head_dim;
    p.q_len = dims.q_len;
    p.scale = cfg_.has_scale ? cfg_.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(dims.head_dim)));
    p.causal = cfg_.causal;
    p.causal_offset = dims.past_len;
    p.q = ctx.input(kQ)->data_as<float>();
    p.q_row_stride = cfg_.num_heads * dims.head_dim;
    p.y = ctx.output(kY)->data_as<float>();
    p.y_row_stride = p.q_row_stride;
    const int64_t kv_hidden = cfg_.kv_num_heads * dims.head_dim;
    const int64_t total = dims.past_len + dims.kv_len;

    Tensor* present_k = ctx.output(kPresentKey);
    Tensor* present_v = ctx.output(kPresentValue);
    if (present_k != nullptr && present_v != nullptr) {
      // Write the cache first and attend over it: one key sequence in head
      // layout, no second copy.
      CopyToPresent(ctx, dims, has_past ? ctx.input(kPastKey)->data_as<float>() : nullptr,
                    ctx.input(kK)->data_as<float>(), present_k->data_as<float>());
      CopyToPresent(ctx, dims, has_past ? ctx.input(kPastValue)->data_as<float>() : nullptr,
                    ctx.input(kV)->data_as<float>(), present_v->data_as<float>());
      p.k_past = present_k->data_as<float>();
      p.v_past = present_v->data_as<float>();
      p.past_len = total;
      p.new_len = 0;
    } else {
      if (present_k != nullptr || present_v != nullptr) {
        const float* past = has_past ? ctx.input(present_k != nullptr ? kPastKey : kPastValue)->data_as<float>()
                                     : nullptr;
        const float* cur = ctx.input(present_k != nullptr ? kK : kV)->data_as<float>();
        Tensor* present = present_k != nullptr ? present_k : present_v;
        CopyToPresent(ctx, dims, past, cur, present->data_as<float>());
      }
      p.k_past = has_past ? ctx.input(kPastKey)->data_as<float>() : nullptr;
      p.v_past = has_past ? ctx.input(kPastValue)->data_as<float>() : nullptr;
      p.past_len = dims.past_len;
      p.k_new = ctx.input(kK)->data_as<float>();
      p.v_new = ctx.input(kV)->data_as<float>();
      p.new_len = dims.kv_len;
      p.kv_row_stride = kv_hidden;
    }
    if (mask != nullptr) {
      switch (mask->dtype) {
        case DType::kF32: p.mask_type = AttentionMaskType::kF32; break;
        case DType::kBool: p.mask_type = AttentionMaskType::kBool; break;
        case DType::kI32: p.mask_type = AttentionMaskType::kI32; break;
        case DType::kI64: p.mask_type = AttentionMaskType::kI64; break;
        default:
          return Error(StatusCode::kInvalidArgument, "Attention: input 'mask' has dtype ", DTypeName(mask->dtype),
                       ", expected f32, bool, i32 or i64");
      }
      p.mask = mask->data;
      // Broadcast strides over [batch, num_heads, q_len, total]: 0 where the
      // mask dim is 1 (or absent), the row-major stride otherwise. Only for
      // a non-empty Y: with batch or q_len 0 the mask may have huge dims
      // beside its 0 ([0, 1, 2^40, 2^40], when called without the loader's
      // element limit), whose strides would wrap, and nothing reads it.
      if (dims.batch > 0 && dims.q_len > 0) {
        const size_t lead = 4 - mask->shape.size();
        int64_t stride = 1;
        for (int a = 3; a >= 0; --a) {
          const size_t ua = static_cast<size_t>(a);
          if (ua < lead) {
            p.mask_strides[a] = 0;
            continue;
          }
          const int64_t md = mask->shape[ua - lead];
          p.mask_strides[a] = md == 1 ? 0 : stride;
          stride *= md;
        }
      }
    }
    if (dims.batch == 0 || dims.q_len == 0) return Status::Ok();

    // Pack every K/V tile once (linear in the sequence: the size of K and
    // V), unless too few query rows would use each tile (decoding).
    const bool direct = AttentionUseDirect(p);
    float* packed = nullptr;
    if (!direct) {
      const int64_t items = AttentionPackItems(p);
      const int64_t tile_floats = AttentionTileFloats(dims.head_dim);
      const size_t packed_bytes = static_cast<size_t>(std::max<int64_t>(items * tile_floats, 1)) * sizeof(float);
      TSR_ASSIGN_OR_RETURN(void* packed_mem, ctx.Scratch(packed_bytes));
      packed = static_cast<float*>(packed_mem);
      // A tile is ~2 x 64 x head_dim copies; 16 tiles per task amortise TBB.
      ctx.ParallelFor(items, 16, [&](int64_t begin, int64_t end) { AttentionPackKVF32(p, begin, end, packed); });
    }

    // Static partitioning: a fixed number of chunks (at most kMaxChunks,
    // independent of the thread count), each with its own scratch slot, so
    // scratch stays bounded by kMaxChunks x AttentionScratchFloats whatever
    // the sequence length, and every unit is computed whole by one chunk.
    const int64_t units = AttentionUnits(p);
    const int64_t per_chunk = (units + kMaxChunks - 1) / kMaxChunks;
    const int64_t chunks = (units + per_chunk - 1) / per_chunk;
    const int64_t slot_floats = AttentionScratchFloats(dims.head_dim);
    TSR_ASSIGN_OR_RETURN(void* scratch,
                         ctx.Scratch(static_cast<size_t>(chunks * slot_floats) * sizeof(float)));
    float* slots = static_cast<float*>(scratch);
    // A chunk's work in FLOPs: ~4 * head_dim per score; chunks under ~64
    // KFLOP stay together on one task.
    const double chunk_flops = static_cast<double>(per_chunk) * kAttentionQueryBlock *
                               static_cast<double>(total) * 4.0 * static_cast<double>(dims.head_dim);
    const int64_t grain = chunk_flops >= 65536.0 ? 1 : chunks;
    ctx.ParallelFor(chunks, grain, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const int64_t end_unit = std::min(units, (c + 1) * per_chunk);
        if (direct) {
          AttentionDirectF32(p, c * per_chunk, end_unit, slots + c * slot_floats);
        } else {
          AttentionF32(p, packed, c * per_chunk, end_unit, slots + c * slot_floats);
        }
      }
    });
    return Status::Ok();
  }

 private:
  // Chunks of work units per call: 64 keeps 2-16 threads busy with
  // balanced shares while bounding scratch (64 x ~16 KiB at head_dim 64).
  static constexpr int64_t kMaxChunks = 64;

  // present[b, g, 0:past_len] = past[b, g]; present[b, g, past_len + j] =
  // cur[b, j, g * head_dim : (g + 1) * head_dim]. One (b, g) per item.
  void CopyToPresent(KernelContext& ctx, const AttentionDims& dims, const float* past, const float* cur,
                     float* present) const {
    const int64_t hd = dims.head_dim;
    const int64_t kvh = cfg_.kv_num_heads;
    const int64_t total = dims.past_len + dims.kv_len;
    const int64_t rows_per_item = std::max<int64_t>(total, 1);
    const int64_t grain = std::max<int64_t>(1, 16384 / (rows_per_item * std::max<int64_t>(hd, 1)));
    ctx.ParallelFor(dims.batch * kvh, grain, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int64_t b = item / kvh;
        const int64_t g = item % kvh;
        float* dst = present + item * total * hd;
        if (dims.past_len > 0) {
          std::memcpy(dst, past + item * dims.past_len * hd, static_cast<size_t>(dims.past_len * hd) * sizeof(float));
        }
        for (int64_t j = 0; j < dims.kv_len; ++j) {
          std::memcpy(dst + (dims.past_len + j) * hd, cur + (b * dims.kv_len + j) * kvh * hd + g * hd,
                      static_cast<size_t>(hd) * sizeof(float));
        }
      }
    });
  }

  AttentionConfig cfg_;
};

OpDef AttentionDef() {
  using P = ParamDef::Presence;
  OpDef def;
  def.domain = kTesseraDomain;
  def.op_type = "Attention";
  def.since_version = 1;
  def.inputs = {ParamDef{"Q", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"K", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"V", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"mask", P::kOptional, {DType::kF32, DType::kBool, DType::kI32, DType::kI64}},
                ParamDef{"past_key", P::kOptional, {DType::kF32}, "T"},
                ParamDef{"past_value", P::kOptional, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"Y", P::kRequired, {DType::kF32}, "T"},
                 ParamDef{"present_key", P::kOptional, {DType::kF32}, "T"},
                 ParamDef{"present_value", P::kOptional, {DType::kF32}, "T"}};
  def.attributes = {AttrDef{"num_heads", AttrType::kInt, true, Attribute()},
                    AttrDef{"kv_num_heads", AttrType::kInt, false, Attribute::Int(0)},
                    AttrDef{"scale", AttrType::kFloat, false, Attribute()},
                    AttrDef{"causal", AttrType::kInt, false, Attribute::Int(0)}};
  def.infer_shapes = InferAttention;
  def.cost = AttentionCost;
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    TSR_ASSIGN_OR_RETURN(const AttentionConfig cfg, ReadAttentionConfig(*ctx.attrs));
    return std::unique_ptr<Kernel>(std::make_unique<AttentionKernel>(cfg));
  };
  return def;
}

// ---------------------------------------------------------------------------
// tessera.AdditiveAttention

enum AdditiveInput { kMemory = 0, kQuery, kW1, kW2, kVec, kSrcLengths, kKeys };
enum AdditiveOutput { kContext = 0, kWeights };

struct AdditiveDims {
  int64_t batch = kDynamicDim;
  int64_t src_len = kDynamicDim;
  int64_t enc_dim = kDynamicDim;
  int64_t dec_dim = kDynamicDim;
  int64_t attn_dim = kDynamicDim;
};

// Merges dim `got` of input `name` into `want`, or fails naming both.
Status Merge(int64_t& want, int64_t got, const char* what, const char* name, const Shape& shape) {
  if (!DimsAgree(want, got)) {
    return Error(StatusCode::kInvalidArgument, "input '", name, "' has shape ", ShapeToString(shape), ": its ", what,
                 " is ", got, ", but other inputs give ", want);
  }
  want = FirstKnown(want, got);
  return Status::Ok();
}

StatusOr<AdditiveDims> CheckAdditiveShapes(const ShapeList& in, bool has_w1, bool has_keys) {
  if (has_w1 == has_keys) {
    return Error(StatusCode::kInvalidArgument,
                 "give exactly one of inputs 'W1' (keys computed here) and 'keys' (= memory x W1, precomputed); got ",
                 has_w1 ? "both" : "neither");
  }
  AdditiveDims d;
  if (const Shape* h = in[kMemory]) {
    TSR_RETURN_IF_ERROR(CheckRank(h, 3, "memory", "[batch, src_len, enc_dim]"));
    d.batch = (*h)[0];
    d.src_len = (*h)[1];
    d.enc_dim = (*h)[2];
  }
  if (const Shape* s = in[kQuery]) {
    TSR_RETURN_IF_ERROR(CheckRank(s, 2, "query", "[batch, dec_dim]"));
    TSR_RETURN_IF_ERROR(Merge(d.batch, (*s)[0], "batch", "query", *s));
    d.dec_dim = (*s)[1];
  }
  if (const Shape* w1 = in[kW1]) {
    TSR_RETURN_IF_ERROR(CheckRank(w1, 2, "W1", "[enc_dim, attn_dim]"));
    TSR_RETURN_IF_ERROR(Merge(d.enc_dim, (*w1)[0], "enc_dim (dim 0)", "W1", *w1));
    TSR_RETURN_IF_ERROR(Merge(d.attn_dim, (*w1)[1], "attn_dim (dim 1)", "W1", *w1));
  }
  if (const Shape* w2 = in[kW2]) {
    TSR_RETURN_IF_ERROR(CheckRank(w2, 2, "W2", "[dec_dim, attn_dim]"));
    TSR_RETURN_IF_ERROR(Merge(d.dec_dim, (*w2)[0], "dec_dim (dim 0)", "W2", *w2));
    TSR_RETURN_IF_ERROR(Merge(d.attn_dim, (*w2)[1], "attn_dim (dim 1)", "W2", *w2));
  }
  if (const Shape* v = in[kVec]) {
    TSR_RETURN_IF_ERROR(CheckRank(v, 1, "v", "[attn_dim]"));
    TSR_RETURN_IF_ERROR(Merge(d.attn_dim, (*v)[0], "attn_dim", "v", *v));
  }
  if (const Shape* k = in[kKeys]) {
    TSR_RETURN_IF_ERROR(CheckRank(k, 3, "keys", "[batch, src_len, attn_dim]"));
    TSR_RETURN_IF_ERROR(Merge(d.batch, (*k)[0], "batch", "keys", *k));
    TSR_RETURN_IF_ERROR(Merge(d.src_len, (*k)[1], "src_len", "keys", *k));
    TSR_RETURN_IF_ERROR(Merge(d.attn_dim, (*k)[2], "attn_dim", "keys", *k));
  }
  if (const Shape* l = in[kSrcLengths]) {
    TSR_RETURN_IF_ERROR(CheckRank(l, 1, "src_lengths", "[batch]"));
    TSR_RETURN_IF_ERROR(Merge(d.batch, (*l)[0], "batch", "src_lengths", *l));
  }
  if (Known(d.attn_dim) && d.attn_dim == 0) {
    return Error(StatusCode::kInvalidArgument, "input 'v' has attn_dim 0, expected >= 1");
  }
  return d;
}

ShapeList AdditiveInfoShapes(const OpContext& ctx) {
  ShapeList shapes(7, nullptr);
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (ctx.has_input(i) && ctx.input(i).has_shape) shapes[i] = &ctx.input(i).shape;
  }
  return shapes;
}

Status CheckSrcLengths(const int64_t* lens, int64_t batch, int64_t src_len) {
  for (int64_t b = 0; b < batch; ++b) {
    if (lens[b] < 0 || lens[b] > src_len) {
      return Error(StatusCode::kInvalidArgument, "input 'src_lengths' has value ", lens[b], " for batch row ", b,
                   ", outside [0, src_len=", src_len, "]");
    }
  }
  return Status::Ok();
}

Status InferAdditive(OpContext& ctx) {
  TSR_ASSIGN_OR_RETURN(const AdditiveDims d,
                       CheckAdditiveShapes(AdditiveInfoShapes(ctx), ctx.has_input(kW1), ctx.has_input(kKeys)));
  if (const Tensor* lens = ctx.constant(kSrcLengths);
      lens != nullptr && lens->dtype == DType::kI64 && lens->rank() == 1 && Known(d.src_len)) {
    TSR_RETURN_IF_ERROR(CheckSrcLengths(lens->data_as<int64_t>(), lens->dim(0), d.src_len));
  }
  for (size_t o = 0; o < ctx.outputs.size(); ++o) {
    TensorInfo& out = ctx.outputs[o];
    out.dtype = DType::kF32;
    out.has_shape = true;
    out.shape = o == kContext ? Shape{d.batch, d.enc_dim} : Shape{d.batch, d.src_len};
  }
  return Status::Ok();
}

// FLOPs per (batch, source position, attention unit): add 1, tanh 24
// (VecTanh's operations, as counted for the Tanh op), multiply-add by v 2.
constexpr double kScoreFlopsPerUnit = 27;
// Per (batch, source position): the softmax (26, as Softmax counts it).
constexpr double kSoftmaxFlopsPerPosition = 26;

OpCost AdditiveCost(const OpContext& ctx) {
  OpCost cost;
  StatusOr<AdditiveDims> dims =
      CheckAdditiveShapes(AdditiveInfoShapes(ctx), ctx.has_input(kW1), ctx.has_input(kKeys));
  if (!dims.ok()) return cost;
  const AdditiveDims& d = dims.value();
  if (!Known(d.batch) || !Known(d.src_len) || !Known(d.enc_dim) || !Known(d.dec_dim) || !Known(d.attn_dim)) {
    return cost;
  }
  const double b = static_cast<double>(d.batch), s = static_cast<double>(d.src_len);
  const double e = static_cast<double>(d.enc_dim), dd = static_cast<double>(d.dec_dim);
  const double a = static_cast<double>(d.attn_dim);
  // Upper bound over src_lengths (data the cost cannot see): every position.
  cost.flops = 2 * b * dd * a + b * s * (a * kScoreFlopsPerUnit + kSoftmaxFlopsPerPosition + 2 * e);
  if (ctx.has_input(kW1)) cost.flops += 2 * b * s * e * a;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.inputs[i] != nullptr) {
      cost.bytes_read += KnownElements(ctx.inputs[i]) * static_cast<double>(DTypeSize(ctx.inputs[i]->dtype));
    }
  }
  for (const TensorInfo& out : ctx.outputs) cost.bytes_written += KnownElements(&out) * sizeof(float);
  return cost;
}

class AdditiveAttentionKernel final : public Kernel {
 public:
  // Constant weights are packed once here, for the target chosen now.
  Status Prepack(const OpContext& ctx) {
    if (const Tensor* w1 = ctx.constant(kW1); w1 != nullptr && w1->rank() == 2) {
      TSR_ASSIGN_OR_RETURN(w1_, PackedBF32::Pack(w1->data_as<float>(), w1->dim(1), false, w1->dim(0), w1->dim(1)));
      has_w1_ = true;
    }
    if (const Tensor* w2 = ctx.constant(kW2); w2 != nullptr && w2->rank() == 2) {
      TSR_ASSIGN_OR_RETURN(w2_, PackedBF32::Pack(w2->data_as<float>(), w2->dim(1), false, w2->dim(0), w2->dim(1)));
      has_w2_ = true;
    }
    return Status::Ok();
  }

  Status Run(KernelContext& ctx) const override {
    ShapeList shapes(7, nullptr);
    for (size_t i = 0; i < shapes.size(); ++i) {
      const Tensor* t = ctx.input(i);
      if (t == nullptr) continue;
      if (t->data == nullptr && t->NumElements() != 0) {
        return Error(StatusCode::kInvalidArgument, "AdditiveAttention: input ", i, " has no data");
      }
      shapes[i] = &t->shape;
    }
    for (size_t i : {kMemory, kQuery, kW2, kVec}) {
      if (shapes[i] == nullptr) return Error(StatusCode::kInvalidArgument, "AdditiveAttention: input ", i, " missing");
    }
    if (ctx.output(kContext) == nullptr) {
      return Error(StatusCode::kInvalidArgument, "AdditiveAttention: output 'context' missing");
    }
    TSR_ASSIGN_OR_RETURN(const AdditiveDims d,
                         CheckAdditiveShapes(shapes, shapes[kW1] != nullptr, shapes[kKeys] != nullptr));
    const int64_t* lens = nullptr;
    if (const Tensor* l = ctx.input(kSrcLengths)) {
      lens = l->data_as<int64_t>();
      TSR_RETURN_IF_ERROR(CheckSrcLengths(lens, d.batch, d.src_len));
    }
    if (d.batch == 0) return Status::Ok();
    const int64_t width = GemmF32PanelWidth();

    // qp = s W2 [batch, attn_dim].
    TSR_ASSIGN_OR_RETURN(void* qp_mem, ctx.Scratch(static_cast<size_t>(d.batch * d.attn_dim) * sizeof(float)));
    float* qp = static_cast<float*>(qp_mem);
    TSR_ASSIGN_OR_RETURN(const PackedBF32View w2,
                         Packed(ctx, has_w2_ ? &w2_ : nullptr, ctx.input(kW2), d.dec_dim, d.attn_dim, width));
    GemmF32Params g2;
    g2.m = d.batch;
    g2.n = d.attn_dim;
    g2.k = d.dec_dim;
    g2.a = ctx.input(kQuery)->data_as<float>();
    g2.lda = d.dec_dim;
    g2.b = w2;
    g2.y = qp;
    g2.ldy = d.attn_dim;
    TSR_RETURN_IF_ERROR(GemmF32(g2, ctx.runner()));

    // keys = h W1 [batch * src_len, attn_dim], unless given.
    const float* keys = nullptr;
    if (const Tensor* k = ctx.input(kKeys)) {
      keys = k->data_as<float>();
    } else {
      const int64_t rows = d.batch * d.src_len;
      TSR_ASSIGN_OR_RETURN(void* keys_mem,
                           ctx.Scratch(static_cast<size_t>(std::max<int64_t>(rows * d.attn_dim, 1)) * sizeof(float)));
      TSR_ASSIGN_OR_RETURN(const PackedBF32View w1,
                           Packed(ctx, has_w1_ ? &w1_ : nullptr, ctx.input(kW1), d.enc_dim, d.attn_dim, width));
      GemmF32Params g1;
      g1.m = rows;
      g1.n = d.attn_dim;
      g1.k = d.enc_dim;
      g1.a = ctx.input(kMemory)->data_as<float>();
      g1.lda = d.enc_dim;
      g1.b = w1;
      g1.y = static_cast<float*>(keys_mem);
      g1.ldy = d.attn_dim;
      if (rows > 0) TSR_RETURN_IF_ERROR(GemmF32(g1, ctx.runner()));
      keys = g1.y;
    }

    float* weights = nullptr;
    if (Tensor* w = ctx.output(kWeights)) {
      weights = w->data_as<float>();
    } else {
      TSR_ASSIGN_OR_RETURN(void* w_mem,
                           ctx.Scratch(static_cast<size_t>(std::max<int64_t>(d.batch * d.src_len, 1)) * sizeof(float)));
      weights = static_cast<float*>(w_mem);
    }
    float* context = ctx.output(kContext)->data_as<float>();
    const float* v = ctx.input(kVec)->data_as<float>();
    const float* memory = ctx.input(kMemory)->data_as<float>();
    // One batch row is src_len x (~25 attn_dim + 2 enc_dim) FLOPs; rows
    // under ~64 KFLOP are grouped.
    const double row_flops =
        static_cast<double>(d.src_len) *
        (kScoreFlopsPerUnit * static_cast<double>(d.attn_dim) + 2.0 * static_cast<double>(d.enc_dim));
    const int64_t grain = row_flops >= 65536.0 ? 1 : static_cast<int64_t>(65536.0 / std::max(row_flops, 1.0));
    ctx.ParallelFor(d.batch, grain, [&](int64_t begin, int64_t end) {
      AdditiveAttentionF32(keys, qp, v, memory, lens, d.src_len, d.attn_dim, d.enc_dim, weights, context, begin,
                           end);
    });
    return Status::Ok();
  }

 private:
  // The prepacked view when it matches the current target, else `w` packed
  // into scratch for this run.
  static StatusOr<PackedBF32View> Packed(KernelContext& ctx, const PackedBF32* pre, const Tensor* w, int64_t k,
                                         int64_t n, int64_t width) {
    if (pre != nullptr && pre->panel_width() == width) return pre->view();
    const int64_t floats = PackedBF32Floats(k, n, width);
    TSR_ASSIGN_OR_RETURN(void* mem, ctx.Scratch(static_cast<size_t>(std::max<int64_t>(floats, 1)) * sizeof(float)));
    float* packed = static_cast<float*>(mem);
    PackBF32(w->data_as<float>(), n, false, k, n, width, packed, ctx.runner());
    return PackedBF32View{packed, k, n, width};
  }

  PackedBF32 w1_;
  PackedBF32 w2_;
  bool has_w1_ = false;
  bool has_w2_ = false;
};

OpDef AdditiveAttentionDef() {
  using P = ParamDef::Presence;
  OpDef def;
  def.domain = kTesseraDomain;
  def.op_type = "AdditiveAttention";
  def.since_version = 1;
  def.inputs = {ParamDef{"memory", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"query", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"W1", P::kOptional, {DType::kF32}, "T"},
                ParamDef{"W2", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"v", P::kRequired, {DType::kF32}, "T"},
                ParamDef{"src_lengths", P::kOptional, {DType::kI64}},
                ParamDef{"keys", P::kOptional, {DType::kF32}, "T"}};
  def.outputs = {ParamDef{"context", P::kRequired, {DType::kF32}, "T"},
                 ParamDef{"weights", P::kOptional, {DType::kF32}, "T"}};
  def.infer_shapes = InferAdditive;
  def.cost = AdditiveCost;
  def.create_kernel = [](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    auto kernel = std::make_unique<AdditiveAttentionKernel>();
    TSR_RETURN_IF_ERROR(kernel->Prepack(ctx));
    return std::unique_ptr<Kernel>(std::move(kernel));
  };
  return def;
}

}  // namespace

Status RegisterAttentionOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(registrar.Register(AttentionDef()));
  TSR_RETURN_IF_ERROR(registrar.Register(AdditiveAttentionDef()));
  return Status::Ok();
}

}  // namespace tessera::ops
