#include "runtime/core/op.h"

#include <algorithm>
#include <map>

namespace tessera {

double KnownElements(const TensorInfo& info) {
  if (!info.has_shape || !IsStatic(info.shape)) return 0;
  return static_cast<double>(NumElements(info.shape));
}

Status CheckRunTensor(const char* op, const std::string& role, const Tensor* t, DType dtype) {
  if (t == nullptr || (t->data == nullptr && t->NumElements() != 0)) {
    return Error(StatusCode::kInvalidArgument, op, ": ", role, " is missing");
  }
  if (dtype != DType::kUnknown && t->dtype != dtype) {
    return Error(StatusCode::kInvalidArgument, op, ": ", role, " has dtype ", DTypeName(t->dtype), ", expected ",
                 DTypeName(dtype));
  }
  return Status::Ok();
}

OpCost DefaultCost(const OpContext& ctx) {
  OpCost cost;
  for (const TensorInfo* in : ctx.inputs) {
    if (in != nullptr) cost.bytes_read += static_cast<double>(NumElements(in->shape)) * DTypeSize(in->dtype);
  }
  for (const TensorInfo& out : ctx.outputs) {
    cost.bytes_written += static_cast<double>(NumElements(out.shape)) * DTypeSize(out.dtype);
  }
  return cost;
}

bool IsPropagatable(const TensorInfo& info) {
  if (info.dtype != DType::kI32 && info.dtype != DType::kI64 && info.dtype != DType::kBool) return false;
  if (!info.has_shape || !IsStatic(info.shape)) return false;
  return NumElements(info.shape) <= kMaxPropagatedElements;
}

Tensor* OpContext::SetOutputValue(size_t o) {
  if (o >= outputs.size() || o >= output_values.size() || !IsPropagatable(outputs[o])) return nullptr;
  // Never empty, even for zero elements, so data != nullptr marks "known".
  const int64_t bytes = NumElements(outputs[o].shape) * static_cast<int64_t>(DTypeSize(outputs[o].dtype));
  StatusOr<AlignedBuffer> buffer = AlignedBuffer::Allocate(static_cast<size_t>(bytes > 0 ? bytes : 1));
  if (!buffer.ok()) return nullptr;
  OwnedTensor& value = output_values[o];
  value.storage = std::move(buffer).value();
  value.view = Tensor{outputs[o].dtype, outputs[o].shape, value.storage.data()};
  return &value.view;
}

Status PropagateByRunning(OpContext& ctx, const Kernel& kernel) {
  if (ctx.output_values.size() < ctx.outputs.size()) return Status::Ok();  // the host asked for no values
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (ctx.has_input(i) && ctx.constant(i) == nullptr) return Status::Ok();
  }
  for (const TensorInfo& out : ctx.outputs) {
    if (!IsPropagatable(out)) return Status::Ok();
  }
  std::vector<Tensor*> outputs;
  for (size_t o = 0; o < ctx.outputs.size(); ++o) {
    Tensor* value = ctx.SetOutputValue(o);
    if (value == nullptr) return Status::Ok();
    outputs.push_back(value);
  }
  std::vector<const Tensor*> inputs(ctx.inputs.size(), nullptr);
  for (size_t i = 0; i < ctx.inputs.size(); ++i) inputs[i] = ctx.constant(i);
  TensorTable table(inputs, outputs);
  const SerialRunner serial;
  KernelContext kernel_ctx = table.Context(&serial);
  Status status = kernel.Run(kernel_ctx);
  if (!status.ok()) {
    for (OwnedTensor& value : ctx.output_values) value = OwnedTensor();
  }
  return status;
}

void SerialRunner::ParallelFor(int64_t n, int64_t grain, void (*fn)(void*, int64_t, int64_t), void* ctx) const {
  if (grain < 1) grain = 1;
  for (int64_t begin = 0; begin < n; begin += grain) {
    fn(ctx, begin, begin + grain < n ? begin + grain : n);
  }
}

TensorTable::TensorTable(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) {
  for (const Tensor* in : inputs) {
    input_ids.push_back(in != nullptr ? static_cast<int>(tensors.size()) : -1);
    if (in != nullptr) tensors.push_back(*in);
  }
  for (Tensor* out : outputs) {
    output_ids.push_back(out != nullptr ? static_cast<int>(tensors.size()) : -1);
    if (out != nullptr) tensors.push_back(*out);
  }
}

namespace {

// Scratch buffers outlive the kernel call that asked for them, in a small
// per-thread cache: steady runs then allocate nothing, and a buffer big
// enough for malloc to map fresh pages is not unmapped and page-faulted
// back in on every call (for a small attention call that cost 4x the
// kernel itself).
constexpr size_t kScratchCacheBuffers = 8;
constexpr size_t kScratchCacheBytes = size_t{64} << 20;

struct ScratchCache {
  std::vector<AlignedBuffer> buffers;  // oldest first
  size_t bytes = 0;
};

ScratchCache& ThreadScratchCache() {
  thread_local ScratchCache cache;
  return cache;
}

}  // namespace

KernelContext::~KernelContext() {
  ScratchCache& cache = ThreadScratchCache();
  for (AlignedBuffer& buffer : scratch_) {
    if (buffer.size() > kScratchCacheBytes) continue;  // too big to keep: freed
    cache.bytes += buffer.size();
    cache.buffers.push_back(std::move(buffer));
    while (cache.buffers.size() > kScratchCacheBuffers || cache.bytes > kScratchCacheBytes) {
      cache.bytes -= cache.buffers.front().size();
      cache.buffers.erase(cache.buffers.begin());
    }
  }
}

StatusOr<void*> KernelContext::Scratch(size_t bytes) {
  // The smallest cached buffer that fits, else a new one.
  ScratchCache& cache = ThreadScratchCache();
  size_t best = cache.buffers.size();
  for (size_t i = 0; i < cache.buffers.size(); ++i) {
    const size_t size = cache.buffers[i].size();
    if (size >= bytes && (best == cache.buffers.size() || size < cache.buffers[best].size())) best = i;
  }
  AlignedBuffer buffer;
  if (best < cache.buffers.size()) {
    buffer = std::move(cache.buffers[best]);
    cache.buffers.erase(cache.buffers.begin() + static_cast<std::ptrdiff_t>(best));
    cache.bytes -= buffer.size();
  } else {
    TSR_ASSIGN_OR_RETURN(buffer, AlignedBuffer::Allocate(bytes));
  }
  void* p = buffer.data();
  scratch_.push_back(std::move(buffer));
  return p;
}

std::string OpDef::DisplayName() const {
  std::string name = domain.empty() ? op_type : domain + "." + op_type;
  name += " v" + std::to_string(since_version);
  if (until_version == kMaxOpVersion) {
    name += "+";
  } else if (until_version != since_version) {
    name += "-" + std::to_string(until_version);
  }
  return name;
}

}  // namespace tessera

namespace tessera {

Status CheckAndFillAttributes(const OpDef& def, AttributeMap& attrs) {
  for (const auto& [name, value] : attrs.items()) {
    const AttrDef* decl = nullptr;
    for (const AttrDef& a : def.attributes) {
      if (a.name == name) decl = &a;
    }
    if (decl == nullptr) {
      return Error(StatusCode::kInvalidModel, "unknown attribute '", name, "' for ", def.DisplayName());
    }
    if (value.type != decl->type) {
      return Error(StatusCode::kInvalidModel, "attribute '", name, "' has type ", AttrTypeName(value.type),
                   ", expected ", AttrTypeName(decl->type));
    }
  }
  for (const AttrDef& a : def.attributes) {
    if (attrs.Has(a.name)) continue;
    if (a.required) return Error(StatusCode::kInvalidModel, "missing required attribute '", a.name, "'");
    if (a.default_value.type != AttrType::kUndefined) attrs.Set(a.name, a.default_value);
  }
  return Status::Ok();
}

namespace {

// Index range of node slots that param `p` of `params` covers, given the
// node has `count` slots.
std::pair<size_t, size_t> SlotRange(const std::vector<ParamDef>& params, size_t p, size_t count) {
  if (params[p].presence == ParamDef::Presence::kVariadic) return {p, count};
  return {p, p + 1};
}

std::string DTypeList(const std::vector<DType>& dtypes) {
  std::string s;
  for (size_t i = 0; i < dtypes.size(); ++i) {
    if (i > 0) s += i + 1 == dtypes.size() ? " or " : ", ";
    s += DTypeName(dtypes[i]);
  }
  return s;
}

}  // namespace

Status CheckSignature(const OpDef& def, const std::vector<const TensorInfo*>& inputs, size_t num_outputs) {
  const bool variadic_in = !def.inputs.empty() && def.inputs.back().presence == ParamDef::Presence::kVariadic;
  size_t min_inputs = 0;
  for (size_t p = 0; p < def.inputs.size(); ++p) {
    const ParamDef& param = def.inputs[p];
    if (param.presence == ParamDef::Presence::kRequired) min_inputs = p + 1;
    if (param.presence == ParamDef::Presence::kVariadic) min_inputs = p + static_cast<size_t>(param.min_count);
  }
  if (inputs.size() < min_inputs) {
    const size_t missing = std::min(inputs.size(), def.inputs.size() - 1);
    std::string accepted = std::to_string(min_inputs);
    if (variadic_in) {
      accepted += " or more";
    } else if (min_inputs != def.inputs.size()) {
      accepted += " to " + std::to_string(def.inputs.size());
    }
    return Error(StatusCode::kInvalidModel, "has ", inputs.size(), " inputs, but ", def.DisplayName(),
                 " requires input '", def.inputs[missing].name, "' (input ", missing, "); it takes ", accepted);
  }
  if (!variadic_in && inputs.size() > def.inputs.size()) {
    return Error(StatusCode::kInvalidModel, "has ", inputs.size(), " inputs, ", def.DisplayName(), " takes at most ",
                 def.inputs.size());
  }
  const bool variadic_out =
      !def.outputs.empty() && def.outputs.back().presence == ParamDef::Presence::kVariadic;
  if (num_outputs == 0 || (!variadic_out && num_outputs > def.outputs.size())) {
    return Error(StatusCode::kInvalidModel, "has ", num_outputs, " outputs, ", def.DisplayName(), " produces ",
                 variadic_out ? "at least 1" : "1 to " + std::to_string(def.outputs.size()));
  }
  std::map<std::string, std::pair<DType, std::string>> type_vars;  // var -> (dtype, first param)
  for (size_t p = 0; p < def.inputs.size(); ++p) {
    const ParamDef& param = def.inputs[p];
    const auto [first, last] = SlotRange(def.inputs, p, inputs.size());
    for (size_t i = first; i < last && i < inputs.size(); ++i) {
      const TensorInfo* info = inputs[i];
      if (info == nullptr) {
        if (param.presence == ParamDef::Presence::kRequired) {
          return Error(StatusCode::kInvalidModel, "required input '", param.name, "' is missing");
        }
        continue;
      }
      if (!param.dtypes.empty() &&
          std::find(param.dtypes.begin(), param.dtypes.end(), info->dtype) == param.dtypes.end()) {
        return Error(StatusCode::kInvalidModel, "input '", param.name, "' has dtype ", DTypeName(info->dtype),
                     ", expected ", DTypeList(param.dtypes));
      }
      if (!param.type_var.empty()) {
        auto [it, inserted] = type_vars.emplace(param.type_var, std::make_pair(info->dtype, param.name));
        if (!inserted && it->second.first != info->dtype) {
          return Error(StatusCode::kInvalidModel, "input '", param.name, "' has dtype ", DTypeName(info->dtype),
                       " but '", it->second.second, "' has ", DTypeName(it->second.first),
                       "; both must match (type ", param.type_var, ")");
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace tessera
