// Host side of the plugin ABI. Three parts:
//   1. the TsrHostApi table: C functions over OpContext and KernelContext,
//      each catching every exception so nothing C++ reaches plugin code;
//   2. validation of the plugin's tables (version, struct sizes, required
//      callbacks, descriptors), with messages naming the plugin file and op;
//   3. adapters: each plugin op becomes an OpDef whose closures call the
//      plugin, and each plugin kernel a Kernel.
#include "runtime/plugin_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <set>
#include <tuple>
#include <utility>

#include "tessera/plugin.h"

// The status a plugin receives from and returns to the host.
struct TsrPluginStatus {
  int32_t code;
  std::string message;
};

// A node as seen by infer_shapes, cost and create_kernel.
struct TsrShapeContext {
  tessera::OpContext* op = nullptr;
  bool writable = false;  // SetOutputInfo allowed (infer_shapes only)
  // Strides of constant inputs, kept alive for the views handed out.
  std::vector<std::vector<int64_t>> strides;
};

// One node execution as seen by run.
struct TsrKernelContext {
  tessera::KernelContext* kernel = nullptr;
  // Row-major strides of every input, then every output (slot order).
  std::vector<std::vector<int64_t>> strides;
};

namespace tessera::runtime {
namespace {

// Returned when allocating a status fails; never freed.
TsrPluginStatus g_out_of_memory_status{TSR_ERR_RESOURCE_EXHAUSTED, "out of memory (creating a status)"};

TsrPluginStatus* NewStatus(int32_t code, std::string message) {
  try {
    return new TsrPluginStatus{code, std::move(message)};
  } catch (...) {
    return &g_out_of_memory_status;
  }
}

void FreeStatus(TsrPluginStatus* s) {
  if (s != &g_out_of_memory_status) delete s;
}

TsrPluginStatus* FromStatus(const Status& s) {
  return s.ok() ? nullptr : NewStatus(static_cast<int32_t>(s.code()), s.message());
}

// Takes ownership of a plugin's status. Unknown codes become kInternal, so
// a buggy plugin cannot make an error look like success.
Status TakeStatus(TsrPluginStatus* s, const std::string& context) {
  if (s == nullptr) return Status::Ok();
  StatusCode code = StatusCode::kInternal;
  if (s->code > 0 && s->code <= static_cast<int32_t>(StatusCode::kCancelled)) code = static_cast<StatusCode>(s->code);
  std::string message = s->message.empty() ? "(no message)" : s->message;
  FreeStatus(s);
  return Status(code, context.empty() ? message : context + ": " + message);
}

// Runs a host service body, turning any exception into a status.
template <typename Fn>
TsrPluginStatus* Guard(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return &g_out_of_memory_status;
  } catch (const std::exception& e) {
    return NewStatus(TSR_ERR_INTERNAL, std::string("host error: ") + e.what());
  } catch (...) {
    return NewStatus(TSR_ERR_INTERNAL, "host error");
  }
}

TsrPluginStatus* BadArg(const char* function, const std::string& what) {
  return NewStatus(TSR_ERR_INVALID_ARGUMENT, std::string(function) + ": " + what);
}

// ---- Host services ----------------------------------------------------------

TsrPluginStatus* HostCreateStatus(int32_t code, const char* message) {
  return NewStatus(code == TSR_OK ? TSR_ERR_INTERNAL : code, message != nullptr ? message : "");
}

void HostReleaseStatus(TsrPluginStatus* status) { FreeStatus(status); }
int32_t HostGetStatusCode(const TsrPluginStatus* status) { return status != nullptr ? status->code : TSR_OK; }
const char* HostGetStatusMessage(const TsrPluginStatus* status) {
  return status != nullptr ? status->message.c_str() : "";
}

const char* HostGetNodeName(const TsrShapeContext* ctx) {
  return ctx != nullptr && ctx->op != nullptr ? ctx->op->node_name.c_str() : "";
}
size_t HostGetInputCount(const TsrShapeContext* ctx) { return ctx != nullptr ? ctx->op->inputs.size() : 0; }
size_t HostGetOutputCount(const TsrShapeContext* ctx) { return ctx != nullptr ? ctx->op->outputs.size() : 0; }

void FillInfo(const TensorInfo* info, TsrTensorInfo* out) {
  if (info == nullptr) {
    *out = TsrTensorInfo{TSR_DTYPE_UNDEFINED, -1, nullptr};
    return;
  }
  out->dtype = static_cast<int32_t>(info->dtype);
  out->rank = info->has_shape ? static_cast<int32_t>(info->shape.size()) : -1;
  out->dims = info->has_shape ? info->shape.data() : nullptr;
}

TsrPluginStatus* HostGetInputInfo(const TsrShapeContext* ctx, size_t index, TsrTensorInfo* out) {
  return Guard([&]() -> TsrPluginStatus* {
    if (ctx == nullptr || out == nullptr) return BadArg("GetInputInfo", "ctx or out is NULL");
    if (index >= ctx->op->inputs.size()) {
      return BadArg("GetInputInfo", "input " + std::to_string(index) + " out of range (the node has " +
                                        std::to_string(ctx->op->inputs.size()) + ")");
    }
    FillInfo(ctx->op->inputs[index], out);
    return nullptr;
  });
}

TsrPluginStatus* HostGetConstantInput(const TsrShapeContext* ctx, size_t index, TsrTensorView* out,
                                      int32_t* is_constant) {
  return Guard([&]() -> TsrPluginStatus* {
    if (ctx == nullptr || out == nullptr || is_constant == nullptr) {
      return BadArg("GetConstantInput", "ctx, out or is_constant is NULL");
    }
    if (index >= ctx->op->inputs.size()) {
      return BadArg("GetConstantInput", "input " + std::to_string(index) + " out of range (the node has " +
                                            std::to_string(ctx->op->inputs.size()) + ")");
    }
    const Tensor* c = ctx->op->constant(index);
    *is_constant = c != nullptr ? 1 : 0;
    *out = TsrTensorView{TSR_DTYPE_UNDEFINED, 0, nullptr, nullptr, nullptr};
    if (c == nullptr) return nullptr;
    auto& strides = const_cast<TsrShapeContext*>(ctx)->strides;
    if (strides.size() < ctx->op->inputs.size()) strides.resize(ctx->op->inputs.size());
    strides[index] = ContiguousStrides(c->shape);
    *out = TsrTensorView{static_cast<int32_t>(c->dtype), static_cast<int32_t>(c->shape.size()), c->shape.data(),
                         strides[index].data(), c->data};
    return nullptr;
  });
}

TsrPluginStatus* HostGetOutputInfo(const TsrShapeContext* ctx, size_t index, TsrTensorInfo* out) {
  return Guard([&]() -> TsrPluginStatus* {
    if (ctx == nullptr || out == nullptr) return BadArg("GetOutputInfo", "ctx or out is NULL");
    if (index >= ctx->op->outputs.size()) {
      return BadArg("GetOutputInfo", "output " + std::to_string(index) + " out of range (the node has " +
                                         std::to_string(ctx->op->outputs.size()) + ")");
    }
    FillInfo(&ctx->op->outputs[index], out);
    return nullptr;
  });
}

TsrPluginStatus* HostSetOutputInfo(TsrShapeContext* ctx, size_t index, int32_t dtype, int32_t rank,
                                   const int64_t* dims) {
  return Guard([&]() -> TsrPluginStatus* {
    if (ctx == nullptr) return BadArg("SetOutputInfo", "ctx is NULL");
    if (!ctx->writable) return BadArg("SetOutputInfo", "outputs can only be set in infer_shapes");
    if (index >= ctx->op->outputs.size()) {
      return BadArg("SetOutputInfo", "output " + std::to_string(index) + " out of range (the node has " +
                                         std::to_string(ctx->op->outputs.size()) + ")");
    }
    if (!IsValidDType(dtype)) return BadArg("SetOutputInfo", "unknown dtype " + std::to_string(dtype));
    if (rank > 0 && dims == nullptr) return BadArg("SetOutputInfo", "dims is NULL but rank > 0");
    TensorInfo info;
    info.dtype = static_cast<DType>(dtype);
    info.has_shape = rank >= 0;
    for (int32_t d = 0; d < rank; ++d) {
      if (dims[d] < 0 && dims[d] != kDynamicDim) {
        return BadArg("SetOutputInfo", "output " + std::to_string(index) + " dim " + std::to_string(d) + " is " +
                                           std::to_string(dims[d]) + " (dims are >= 0 or TSR_DYNAMIC_DIM)");
      }
      info.shape.push_back(dims[d]);
    }
    ctx->op->outputs[index] = std::move(info);
    return nullptr;
  });
}

// The attribute `name` of `type`, or a status saying why not.
TsrPluginStatus* FindAttr(const TsrShapeContext* ctx, const char* name, AttrType type, const char* function,
                          const Attribute** out) {
  if (ctx == nullptr || name == nullptr) return BadArg(function, "ctx or name is NULL");
  const Attribute* a = ctx->op->attrs != nullptr ? ctx->op->attrs->Find(name) : nullptr;
  if (a == nullptr) {
    return NewStatus(TSR_ERR_NOT_FOUND, std::string("node has no attribute '") + name + "'");
  }
  if (a->type != type) {
    return NewStatus(TSR_ERR_INVALID_ARGUMENT, std::string("attribute '") + name + "' is " +
                                                   AttrTypeName(a->type) + ", read as " + AttrTypeName(type));
  }
  *out = a;
  return nullptr;
}

TsrPluginStatus* HostGetAttrInt(const TsrShapeContext* ctx, const char* name, int64_t* out) {
  return Guard([&]() -> TsrPluginStatus* {
    const Attribute* a = nullptr;
    if (out == nullptr) return BadArg("GetAttrInt", "out is NULL");
    if (TsrPluginStatus* s = FindAttr(ctx, name, AttrType::kInt, "GetAttrInt", &a)) return s;
    *out = a->i;
    return nullptr;
  });
}

TsrPluginStatus* HostGetAttrFloat(const TsrShapeContext* ctx, const char* name, float* out) {
  return Guard([&]() -> TsrPluginStatus* {
    const Attribute* a = nullptr;
    if (out == nullptr) return BadArg("GetAttrFloat", "out is NULL");
    if (TsrPluginStatus* s = FindAttr(ctx, name, AttrType::kFloat, "GetAttrFloat", &a)) return s;
    *out = a->f;
    return nullptr;
  });
}

TsrPluginStatus* HostGetAttrString(const TsrShapeContext* ctx, const char* name, const char** out) {
  return Guard([&]() -> TsrPluginStatus* {
    const Attribute* a = nullptr;
    if (out == nullptr) return BadArg("GetAttrString", "out is NULL");
    if (TsrPluginStatus* s = FindAttr(ctx, name, AttrType::kString, "GetAttrString", &a)) return s;
    *out = a->s.c_str();
    return nullptr;
  });
}

TsrPluginStatus* HostGetAttrInts(const TsrShapeContext* ctx, const char* name, const int64_t** out, size_t* count) {
  return Guard([&]() -> TsrPluginStatus* {
    const Attribute* a = nullptr;
    if (out == nullptr || count == nullptr) return BadArg("GetAttrInts", "out or count is NULL");
    if (TsrPluginStatus* s = FindAttr(ctx, name, AttrType::kInts, "GetAttrInts", &a)) return s;
    *out = a->ints.data();
    *count = a->ints.size();
    return nullptr;
  });
}

TsrPluginStatus* HostGetAttrFloats(const TsrShapeContext* ctx, const char* name, const float** out, size_t* count) {
  return Guard([&]() -> TsrPluginStatus* {
    const Attribute* a = nullptr;
    if (out == nullptr || count == nullptr) return BadArg("GetAttrFloats", "out or count is NULL");
    if (TsrPluginStatus* s = FindAttr(ctx, name, AttrType::kFloats, "GetAttrFloats", &a)) return s;
    *out = a->floats.data();
    *count = a->floats.size();
    return nullptr;
  });
}

size_t HostGetKernelInputCount(const TsrKernelContext* ctx) {
  return ctx != nullptr ? ctx->kernel->num_inputs() : 0;
}
size_t HostGetKernelOutputCount(const TsrKernelContext* ctx) {
  return ctx != nullptr ? ctx->kernel->num_outputs() : 0;
}

void FillView(const Tensor* t, const std::vector<int64_t>& strides, TsrTensorView* out) {
  if (t == nullptr) {
    *out = TsrTensorView{TSR_DTYPE_UNDEFINED, 0, nullptr, nullptr, nullptr};
    return;
  }
  *out = TsrTensorView{static_cast<int32_t>(t->dtype), static_cast<int32_t>(t->shape.size()), t->shape.data(),
                       strides.data(), t->data};
}

TsrPluginStatus* HostGetInput(const TsrKernelContext* ctx, size_t index, TsrTensorView* out) {
  return Guard([&]() -> TsrPluginStatus* {
    if (ctx == nullptr || out == nullptr) return BadArg("GetInput", "ctx or out is NULL");
    if (index >= ctx->kernel->num_inputs()) {
      return BadArg("GetInput", "input " + std::to_string(index) + " out of range (the node has " +
                                    std::to_string(ctx->kernel->num_inputs()) + ")");
    }
    FillView(ctx->kernel->input(index), ctx->strides[index], out);
    return nullptr;
  });
}

TsrPluginStatus* HostGetOutput(const TsrKernelContext* ctx, size_t index, TsrTensorView* out) {
  return Guard([&]() -> TsrPluginStatus* {
    if (ctx == nullptr || out == nullptr) return BadArg("GetOutput", "ctx or out is NULL");
    if (index >= ctx->kernel->num_outputs()) {
      return BadArg("GetOutput", "output " + std::to_string(index) + " out of range (the node has " +
                                     std::to_string(ctx->kernel->num_outputs()) + ")");
    }
    FillView(ctx->kernel->output(index), ctx->strides[ctx->kernel->num_inputs() + index], out);
    return nullptr;
  });
}

TsrPluginStatus* HostGetScratch(TsrKernelContext* ctx, size_t bytes, void** out) {
  return Guard([&]() -> TsrPluginStatus* {
    if (ctx == nullptr || out == nullptr) return BadArg("GetScratch", "ctx or out is NULL");
    *out = nullptr;
    StatusOr<void*> p = ctx->kernel->Scratch(bytes);
    if (!p.ok()) return FromStatus(p.status());
    *out = *p;
    return nullptr;
  });
}

void HostParallelFor(const TsrKernelContext* ctx, int64_t n, int64_t grain, void (*fn)(void*, int64_t, int64_t),
                     void* user) {
  if (ctx == nullptr || fn == nullptr) return;
  ctx->kernel->ParallelFor(n, grain, [fn, user](int64_t begin, int64_t end) { fn(user, begin, end); });
}

const TsrHostApi kHostApi = {
    TSR_PLUGIN_ABI_VERSION,
    sizeof(TsrHostApi),
    HostCreateStatus,
    HostReleaseStatus,
    HostGetStatusCode,
    HostGetStatusMessage,
    HostGetNodeName,
    HostGetInputCount,
    HostGetOutputCount,
    HostGetInputInfo,
    HostGetConstantInput,
    HostGetOutputInfo,
    HostSetOutputInfo,
    HostGetAttrInt,
    HostGetAttrFloat,
    HostGetAttrString,
    HostGetAttrInts,
    HostGetAttrFloats,
    HostGetKernelInputCount,
    HostGetKernelOutputCount,
    HostGetInput,
    HostGetOutput,
    HostGetScratch,
    HostParallelFor,
};

// The smallest struct sizes a plugin of ABI 1.0 can give: up to the last
// field that 1.0 defines. Later minors may be larger, never smaller.
constexpr size_t kMinPluginApiSize = offsetof(TsrPluginApi, num_ops) + sizeof(size_t);
constexpr size_t kMinPluginOpSize = offsetof(TsrPluginOp, release_kernel) + sizeof(void (*)(void*, TsrPluginKernel*));

std::string AbiString(uint32_t v) {
  return std::to_string(TSR_PLUGIN_ABI_VERSION_MAJOR(v)) + "." + std::to_string(TSR_PLUGIN_ABI_VERSION_MINOR(v));
}

}  // namespace

std::string SupportedPluginAbiVersions() { return std::to_string(TSR_PLUGIN_ABI_MAJOR) + ".x"; }

// ---- Libraries -----------------------------------------------------------------

class PluginLibrary {
 public:
  PluginLibrary(std::string path, void* handle) : path_(std::move(path)), handle_(handle) {}
  ~PluginLibrary() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const std::string& path() const { return path_; }
  void* handle() const { return handle_; }
  const TsrPluginApi* api = nullptr;
  std::string label;  // "'name'", for errors from the plugin's callbacks
  std::string owner;  // "plugin name (path)", the registry owner

 private:
  std::string path_;
  void* handle_;
};

namespace {

// One plugin op: the library (kept loaded) and its table.
struct OpBinding {
  std::shared_ptr<PluginLibrary> library;
  const TsrPluginOp* op = nullptr;
  std::string name;  // "example.SwiGLU", for messages
  bool has_cost = false;
  bool has_release = false;
};

class PluginKernel final : public Kernel {
 public:
  PluginKernel(std::shared_ptr<const OpBinding> binding, TsrPluginKernel* state)
      : binding_(std::move(binding)), state_(state) {}
  ~PluginKernel() override {
    if (binding_->has_release && state_ != nullptr) {
      try {
        binding_->op->release_kernel(binding_->op->op_state, state_);
      } catch (...) {
        // A plugin that throws from release has broken the ABI; there is
        // nobody left to tell, and unwinding further would terminate.
      }
    }
  }

  Status Run(KernelContext& ctx) const override {
    TsrKernelContext handle;
    handle.kernel = &ctx;
    handle.strides.reserve(ctx.num_inputs() + ctx.num_outputs());
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      handle.strides.push_back(ctx.input(i) != nullptr ? ContiguousStrides(ctx.input(i)->shape) : Shape());
    }
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      handle.strides.push_back(ctx.output(i) != nullptr ? ContiguousStrides(ctx.output(i)->shape) : Shape());
    }
    TsrPluginStatus* s = binding_->op->run(binding_->op->op_state, state_, &handle);
    return TakeStatus(s, "plugin " + binding_->library->label);
  }

 private:
  std::shared_ptr<const OpBinding> binding_;
  TsrPluginKernel* state_;
};

// Checks what the host needs before calling anything of `op`.
Status CheckOp(const TsrPluginOp* op, size_t index) {
  const std::string where = "op " + std::to_string(index);
  if (op == nullptr) return Error(StatusCode::kInvalidArgument, where, " is NULL");
  if (TSR_PLUGIN_ABI_VERSION_MAJOR(op->abi_version) != TSR_PLUGIN_ABI_MAJOR) {
    return Error(StatusCode::kUnimplemented, where, " uses plugin ABI ", AbiString(op->abi_version),
                 "; this Tessera supports ABI ", SupportedPluginAbiVersions());
  }
  if (op->struct_size < kMinPluginOpSize) {
    return Error(StatusCode::kInvalidArgument, where, ": TsrPluginOp.struct_size is ", op->struct_size,
                 ", ABI 1.0 needs at least ", kMinPluginOpSize);
  }
  if (op->domain == nullptr || op->op_type == nullptr || op->op_type[0] == '\0') {
    return Error(StatusCode::kInvalidArgument, where, ": domain or op_type is missing");
  }
  const std::string name = std::string(op->domain) + (op->domain[0] != '\0' ? "." : "") + op->op_type;
  if (op->infer_shapes == nullptr || op->create_kernel == nullptr || op->run == nullptr) {
    return Error(StatusCode::kInvalidArgument, "op ", name,
                 ": infer_shapes, create_kernel and run are required, one is NULL");
  }
  for (const auto& [params, count, kind] : {std::make_tuple(op->inputs, op->num_inputs, "input"),
                                            std::make_tuple(op->outputs, op->num_outputs, "output")}) {
    if (count > 0 && params == nullptr) {
      return Error(StatusCode::kInvalidArgument, "op ", name, ": ", count, " ", kind, "s declared but the array is NULL");
    }
    for (size_t i = 0; i < count; ++i) {
      const TsrPluginParam& p = params[i];
      if (p.name == nullptr) return Error(StatusCode::kInvalidArgument, "op ", name, ": ", kind, " ", i, " has no name");
      if (p.presence < TSR_PARAM_REQUIRED || p.presence > TSR_PARAM_VARIADIC) {
        return Error(StatusCode::kInvalidArgument, "op ", name, ": ", kind, " '", p.name, "' has unknown presence ",
                     p.presence);
      }
      if (p.num_dtypes > 0 && p.dtypes == nullptr) {
        return Error(StatusCode::kInvalidArgument, "op ", name, ": ", kind, " '", p.name, "' dtypes array is NULL");
      }
      for (size_t d = 0; d < p.num_dtypes; ++d) {
        if (!IsValidDType(p.dtypes[d])) {
          return Error(StatusCode::kInvalidArgument, "op ", name, ": ", kind, " '", p.name, "' allows unknown dtype ",
                       p.dtypes[d]);
        }
      }
    }
  }
  if (op->num_outputs == 0) return Error(StatusCode::kInvalidArgument, "op ", name, ": declares no outputs");
  if (op->num_attributes > 0 && op->attributes == nullptr) {
    return Error(StatusCode::kInvalidArgument, "op ", name, ": attributes declared but the array is NULL");
  }
  return Status::Ok();
}

StatusOr<Attribute> DefaultOf(const TsrPluginAttr& a, const std::string& op_name) {
  const auto list_missing = [&]() {
    return Error(StatusCode::kInvalidArgument, "op ", op_name, ": attribute '", a.name,
                 "' has a list default of ", a.default_count, " elements but no array");
  };
  switch (a.type) {
    case TSR_ATTR_INT: return Attribute::Int(a.default_int);
    case TSR_ATTR_FLOAT: return Attribute::Float(a.default_float);
    case TSR_ATTR_STRING: return Attribute::String(a.default_string != nullptr ? a.default_string : "");
    case TSR_ATTR_INTS:
      if (a.default_count > 0 && a.default_ints == nullptr) return list_missing();
      return Attribute::Ints(std::vector<int64_t>(a.default_ints, a.default_ints + a.default_count));
    case TSR_ATTR_FLOATS:
      if (a.default_count > 0 && a.default_floats == nullptr) return list_missing();
      return Attribute::Floats(std::vector<float>(a.default_floats, a.default_floats + a.default_count));
    case TSR_ATTR_STRINGS: {
      if (a.default_count > 0 && a.default_strings == nullptr) return list_missing();
      std::vector<std::string> v;
      for (size_t i = 0; i < a.default_count; ++i) v.emplace_back(a.default_strings[i] ? a.default_strings[i] : "");
      return Attribute::Strings(std::move(v));
    }
    default:
      return Error(StatusCode::kInvalidArgument, "op ", op_name, ": attribute '", a.name, "' has unknown type ",
                   a.type);
  }
}

std::vector<ParamDef> AdaptParams(const TsrPluginParam* params, size_t count) {
  std::vector<ParamDef> result;
  for (size_t i = 0; i < count; ++i) {
    const TsrPluginParam& p = params[i];
    ParamDef def;
    def.name = p.name;
    def.presence = p.presence == TSR_PARAM_OPTIONAL   ? ParamDef::Presence::kOptional
                   : p.presence == TSR_PARAM_VARIADIC ? ParamDef::Presence::kVariadic
                                                      : ParamDef::Presence::kRequired;
    for (size_t d = 0; d < p.num_dtypes; ++d) def.dtypes.push_back(static_cast<DType>(p.dtypes[d]));
    def.type_var = p.type_var != nullptr ? p.type_var : "";
    def.min_count = p.min_count > 0 ? p.min_count : 1;
    result.push_back(std::move(def));
  }
  return result;
}

// Builds the OpDef for one validated plugin op.
StatusOr<OpDef> AdaptOp(const std::shared_ptr<PluginLibrary>& library, const TsrPluginOp* op) {
  auto binding = std::make_shared<OpBinding>();
  binding->library = library;
  binding->op = op;
  binding->name = std::string(op->domain) + (op->domain[0] != '\0' ? "." : "") + op->op_type;
  // Fields past the 1.0 layout would be read only when struct_size covers
  // them; 1.0 has none, and every 1.0 field is covered (CheckOp).
  binding->has_cost = op->cost != nullptr;
  binding->has_release = op->release_kernel != nullptr;

  OpDef def;
  def.domain = op->domain;
  def.op_type = op->op_type;
  def.since_version = op->since_version;
  def.until_version = op->until_version == 0 ? kMaxOpVersion : op->until_version;
  def.inputs = AdaptParams(op->inputs, op->num_inputs);
  def.outputs = AdaptParams(op->outputs, op->num_outputs);
  for (size_t i = 0; i < op->num_attributes; ++i) {
    const TsrPluginAttr& a = op->attributes[i];
    if (a.name == nullptr) {
      return Error(StatusCode::kInvalidArgument, "op ", binding->name, ": attribute ", i, " has no name");
    }
    AttrDef attr;
    attr.name = a.name;
    attr.type = static_cast<AttrType>(a.type);
    attr.required = a.required != 0;
    TSR_ASSIGN_OR_RETURN(Attribute default_value, DefaultOf(a, binding->name));
    if (a.has_default != 0) attr.default_value = std::move(default_value);
    def.attributes.push_back(std::move(attr));
  }

  std::shared_ptr<const OpBinding> b = binding;
  def.infer_shapes = [b](OpContext& ctx) -> Status {
    // Outputs start unknown so that an output the plugin forgets is caught.
    for (TensorInfo& out : ctx.outputs) out = TensorInfo();
    TsrShapeContext handle;
    handle.op = &ctx;
    handle.writable = true;
    TSR_RETURN_IF_ERROR(TakeStatus(b->op->infer_shapes(b->op->op_state, &handle), "plugin " + b->library->label));
    for (size_t i = 0; i < ctx.outputs.size(); ++i) {
      if (ctx.outputs[i].dtype == DType::kUnknown) {
        const std::string name =
            i < b->op->num_outputs ? b->op->outputs[i].name : b->op->outputs[b->op->num_outputs - 1].name;
        return Error(StatusCode::kInternal, "plugin ", b->library->label, ": infer_shapes of ", b->name,
                     " did not set output ", i, " '", name, "'");
      }
    }
    return Status::Ok();
  };
  def.cost = [b](const OpContext& ctx) -> OpCost {
    if (!b->has_cost) return DefaultCost(ctx);
    TsrShapeContext handle;
    handle.op = const_cast<OpContext*>(&ctx);
    TsrOpCost cost{0, 0, 0};
    const Status s = TakeStatus(b->op->cost(b->op->op_state, &handle, &cost), "");
    // The cost feeds profiles only; a plugin that cannot price a node gets
    // the data-movement default rather than failing the run.
    if (!s.ok()) return DefaultCost(ctx);
    return OpCost{cost.flops, cost.bytes_read, cost.bytes_written};
  };
  def.create_kernel = [b](const OpContext& ctx) -> StatusOr<std::unique_ptr<Kernel>> {
    TsrShapeContext handle;
    handle.op = const_cast<OpContext*>(&ctx);
    TsrPluginKernel* state = nullptr;
    TSR_RETURN_IF_ERROR(
        TakeStatus(b->op->create_kernel(b->op->op_state, &handle, &state), "plugin " + b->library->label));
    return std::unique_ptr<Kernel>(std::make_unique<PluginKernel>(b, state));
  };
  return def;
}

// Opens one library and checks its tables; the returned library has `api`.
StatusOr<std::shared_ptr<PluginLibrary>> OpenLibrary(const std::string& path) {
  const std::string where = "plugin '" + path + "'";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Error(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError, where,
                 ": cannot open: ", std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Error(StatusCode::kInvalidArgument, where, ": not a regular file");
  // dlopen searches the library path for a bare name; "./" makes a
  // relative path mean the file the user named.
  const std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  // RTLD_LOCAL: a plugin's symbols never resolve another plugin's.
  void* handle = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return Error(StatusCode::kInvalidArgument, where, ": not a loadable shared library: ",
                 err != nullptr ? err : "dlopen failed");
  }
  auto library = std::make_shared<PluginLibrary>(path, handle);
  dlerror();
  void* symbol = dlsym(handle, TSR_PLUGIN_INIT_SYMBOL);
  if (symbol == nullptr) {
    return Error(StatusCode::kInvalidArgument, where, ": not a Tessera plugin: it does not export '",
                 TSR_PLUGIN_INIT_SYMBOL, "' (declare it extern \"C\" TSR_PLUGIN_EXPORT, see tessera/plugin.h)");
  }
  TsrPluginInitFn init = nullptr;
  static_assert(sizeof(init) == sizeof(symbol), "function and data pointers differ in size");
  std::memcpy(&init, &symbol, sizeof(init));
  const TsrPluginApi* api = nullptr;
  Status init_status;
  try {
    init_status = TakeStatus(init(&kHostApi, &api), "");
  } catch (...) {
    init_status = Error(StatusCode::kInternal, "threw a C++ exception across the C ABI");
  }
  if (!init_status.ok()) return init_status.WithContext(where + ": " + TSR_PLUGIN_INIT_SYMBOL + " failed");
  if (api == nullptr) return Error(StatusCode::kInvalidArgument, where, ": ", TSR_PLUGIN_INIT_SYMBOL, " returned no table");
  if (TSR_PLUGIN_ABI_VERSION_MAJOR(api->abi_version) != TSR_PLUGIN_ABI_MAJOR) {
    return Error(StatusCode::kUnimplemented, where, " uses plugin ABI ", AbiString(api->abi_version),
                 "; this Tessera supports ABI ", SupportedPluginAbiVersions(), " (it implements ",
                 AbiString(TSR_PLUGIN_ABI_VERSION), "); rebuild the plugin against this Tessera's tessera/plugin.h");
  }
  if (api->struct_size < kMinPluginApiSize) {
    return Error(StatusCode::kInvalidArgument, where, ": TsrPluginApi.struct_size is ", api->struct_size,
                 ", ABI ", AbiString(api->abi_version), " needs at least ", kMinPluginApiSize);
  }
  if (api->num_ops > 0 && api->ops == nullptr) {
    return Error(StatusCode::kInvalidArgument, where, ": declares ", api->num_ops, " ops but the array is NULL");
  }
  library->api = api;
  const std::string name = api->name != nullptr && api->name[0] != '\0' ? api->name : "unnamed";
  library->label = "'" + name + "'";
  library->owner = "plugin " + name + " (" + path + ")";
  return library;
}

// A key identifying the file, so one plugin named two ways loads once.
std::string FileKey(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : path;
}

}  // namespace

StatusOr<std::shared_ptr<const PluginSet>> PluginSet::Load(const std::vector<std::string>& paths,
                                                           const OpRegistry* parent) {
  std::shared_ptr<PluginSet> set(new PluginSet());
  set->registry_ = std::make_unique<OpRegistry>(parent != nullptr ? parent : &BuiltinOpRegistry());
  std::set<std::string> seen;
  for (const std::string& path : paths) {
    if (!seen.insert(FileKey(path)).second) continue;
    TSR_ASSIGN_OR_RETURN(std::shared_ptr<PluginLibrary> library, OpenLibrary(path));
    const TsrPluginApi* api = library->api;
    PluginInfo info;
    info.path = path;
    info.name = api->name != nullptr ? api->name : "";
    info.version = api->version != nullptr ? api->version : "";
    info.abi_version = api->abi_version;
    set->registry_->set_owner(library->owner);
    for (size_t i = 0; i < api->num_ops; ++i) {
      const TsrPluginOp* op = api->ops[i];
      TSR_RETURN_IF_ERROR(CheckOp(op, i).WithContext("plugin '" + path + "'"));
      TSR_ASSIGN_OR_RETURN(OpDef def, AdaptOp(library, op));
      info.ops.push_back(def.DisplayName());
      TSR_RETURN_IF_ERROR(set->registry_->Register(std::move(def)).WithContext("plugin '" + path + "'"));
    }
    set->infos_.push_back(std::move(info));
    set->libraries_.push_back(std::move(library));
  }
  return std::shared_ptr<const PluginSet>(std::move(set));
}

PluginSet::~PluginSet() {
  // The registry's OpDefs hold library references; drop them before the
  // set's own references so that no closure outlives its code.
  registry_.reset();
}

std::string PluginSet::Describe() const {
  if (infos_.empty()) return "none";
  std::string s;
  for (const PluginInfo& p : infos_) {
    if (!s.empty()) s += ", ";
    s += "'" + p.path + "' (" + (p.name.empty() ? std::string("unnamed") : p.name);
    if (!p.version.empty()) s += " " + p.version;
    s += ")";
  }
  return s;
}

std::vector<std::string> PluginPathsFromEnvironment() {
  std::vector<std::string> paths;
  const char* value = std::getenv(kPluginPathEnv);
  if (value == nullptr) return paths;
  std::string current;
  for (const char* p = value;; ++p) {
    if (*p == ':' || *p == '\0') {
      if (!current.empty()) paths.push_back(current);
      current.clear();
      if (*p == '\0') break;
    } else {
      current += *p;
    }
  }
  return paths;
}

}  // namespace tessera::runtime
