// Tessera plugin C++ layer: write an op as a small C++ class; this
// header-only layer builds the C tables of tessera/plugin.h from it and
// turns every exception that escapes your code into a status, so nothing
// C++ crosses the ABI.
//
//   class Scale {
//    public:
//     static tessera::plugin::OpSchema Schema() {
//       using namespace tessera::plugin;
//       OpSchema s("com.acme", "Scale");
//       s.inputs = {Param::Required("X", {TSR_DTYPE_FLOAT32})};
//       s.outputs = {Param::Required("Y", {TSR_DTYPE_FLOAT32})};
//       s.attributes = {Attr::Float("alpha", 1.0f)};
//       return s;
//     }
//     static void InferShapes(tessera::plugin::ShapeContext& ctx) {
//       ctx.SetOutput(0, TSR_DTYPE_FLOAT32, ctx.Input(0).dims);
//     }
//     static tessera::plugin::OpCost Cost(const tessera::plugin::ShapeContext& ctx) { ... }
//     // Kernel creation, once per node at model load: read attributes,
//     // prepack constant inputs (ctx.Constant(i)) into members.
//     explicit Scale(const tessera::plugin::ShapeContext& ctx) : alpha_(ctx.AttrFloat("alpha")) {}
//     // Runs concurrently in many sessions: const, state only in ctx.
//     void Run(tessera::plugin::KernelContext& ctx) const { ... }
//    private:
//     float alpha_;
//   };
//
//   extern "C" TSR_PLUGIN_EXPORT TsrPluginStatus* TsrPluginInit(const TsrHostApi* host,
//                                                              const TsrPluginApi** out) {
//     static tessera::plugin::Plugin plugin("acme-ops", "1.0");
//     return plugin.Init(host, out, [](tessera::plugin::Plugin& p) { p.Add<Scale>(); });
//   }
//
// The Plugin object lives in TsrPluginInit's own static, not in a global of
// this header, so two plugins in one process never share one.
#ifndef TESSERA_PLUGIN_HPP_
#define TESSERA_PLUGIN_HPP_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/plugin.h"

namespace tessera::plugin {

// Throw this to fail with a specific code; any other exception becomes
// TSR_ERR_INTERNAL carrying its what().
class Error : public std::runtime_error {
 public:
  Error(int32_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int32_t code() const { return code_; }

 private:
  int32_t code_;
};

struct OpCost {
  double flops = 0;
  double bytes_read = 0;
  double bytes_written = 0;
};

// dtype and shape before run time. dims hold TSR_DYNAMIC_DIM where unknown.
struct TensorInfo {
  int32_t dtype = TSR_DTYPE_UNDEFINED;  // UNDEFINED: an omitted optional input
  bool has_shape = false;               // false: rank unknown
  std::vector<int64_t> dims;

  bool present() const { return dtype != TSR_DTYPE_UNDEFINED; }
};

// A tensor's memory, valid during the callback that got it.
class TensorView {
 public:
  TensorView() = default;
  explicit TensorView(const TsrTensorView& v) : view_(v) {}

  bool present() const { return view_.dtype != TSR_DTYPE_UNDEFINED; }
  int32_t dtype() const { return view_.dtype; }
  int32_t rank() const { return view_.rank; }
  int64_t dim(int32_t i) const { return view_.dims[i]; }
  std::vector<int64_t> dims() const { return std::vector<int64_t>(view_.dims, view_.dims + view_.rank); }
  int64_t NumElements() const {
    int64_t n = 1;
    for (int32_t i = 0; i < view_.rank; ++i) n *= view_.dims[i];
    return n;
  }
  // Typed access; the dtype is checked (a mismatch throws Error).
  template <typename T> T* data_as(int32_t expected_dtype) const {
    if (view_.dtype != expected_dtype) {
      throw Error(TSR_ERR_INVALID_ARGUMENT, "tensor has dtype " + std::to_string(view_.dtype) + ", expected " +
                                                std::to_string(expected_dtype));
    }
    return static_cast<T*>(view_.data);
  }
  float* f32() const { return data_as<float>(TSR_DTYPE_FLOAT32); }
  const TsrTensorView& raw() const { return view_; }

 private:
  TsrTensorView view_{TSR_DTYPE_UNDEFINED, 0, nullptr, nullptr, nullptr};
};

namespace detail {

// Throws Error for a host status (and frees it).
inline void Check(const TsrHostApi* host, TsrPluginStatus* status) {
  if (status == nullptr) return;
  const int32_t code = host->GetStatusCode(status);
  std::string message = host->GetStatusMessage(status);
  host->ReleaseStatus(status);
  throw Error(code, message);
}

inline TensorInfo ToInfo(const TsrTensorInfo& t) {
  TensorInfo info;
  info.dtype = t.dtype;
  info.has_shape = t.rank >= 0;
  if (t.rank > 0) info.dims.assign(t.dims, t.dims + t.rank);
  return info;
}

}  // namespace detail

// A node outside run: InferShapes, Cost and kernel construction.
class ShapeContext {
 public:
  ShapeContext(const TsrHostApi* host, TsrShapeContext* ctx) : host_(host), ctx_(ctx) {}

  std::string NodeName() const { return host_->GetNodeName(ctx_); }
  size_t NumInputs() const { return host_->GetInputCount(ctx_); }
  size_t NumOutputs() const { return host_->GetOutputCount(ctx_); }
  bool HasInput(size_t i) const { return i < NumInputs() && Input(i).present(); }

  TensorInfo Input(size_t i) const {
    TsrTensorInfo t;
    detail::Check(host_, host_->GetInputInfo(ctx_, i, &t));
    return detail::ToInfo(t);
  }
  TensorInfo Output(size_t i) const {
    TsrTensorInfo t;
    detail::Check(host_, host_->GetOutputInfo(ctx_, i, &t));
    return detail::ToInfo(t);
  }
  // The value of a constant input (weights), or nothing.
  std::optional<TensorView> Constant(size_t i) const {
    TsrTensorView v;
    int32_t is_constant = 0;
    detail::Check(host_, host_->GetConstantInput(ctx_, i, &v, &is_constant));
    if (!is_constant) return std::nullopt;
    return TensorView(v);
  }
  // InferShapes only. has_shape false: rank unknown.
  void SetOutput(size_t i, int32_t dtype, const std::vector<int64_t>& dims, bool has_shape = true) {
    detail::Check(host_, host_->SetOutputInfo(ctx_, i, dtype, has_shape ? static_cast<int32_t>(dims.size()) : -1,
                                              dims.data()));
  }

  // Attributes (declared defaults are filled in by the host).
  int64_t AttrInt(const char* name) const {
    int64_t v = 0;
    detail::Check(host_, host_->GetAttrInt(ctx_, name, &v));
    return v;
  }
  float AttrFloat(const char* name) const {
    float v = 0;
    detail::Check(host_, host_->GetAttrFloat(ctx_, name, &v));
    return v;
  }
  std::string AttrString(const char* name) const {
    const char* v = nullptr;
    detail::Check(host_, host_->GetAttrString(ctx_, name, &v));
    return v;
  }
  std::vector<int64_t> AttrInts(const char* name) const {
    const int64_t* v = nullptr;
    size_t n = 0;
    detail::Check(host_, host_->GetAttrInts(ctx_, name, &v, &n));
    return std::vector<int64_t>(v, v + n);
  }
  std::vector<float> AttrFloats(const char* name) const {
    const float* v = nullptr;
    size_t n = 0;
    detail::Check(host_, host_->GetAttrFloats(ctx_, name, &v, &n));
    return std::vector<float>(v, v + n);
  }

 private:
  const TsrHostApi* host_;
  TsrShapeContext* ctx_;
};

// One node execution.
class KernelContext {
 public:
  KernelContext(const TsrHostApi* host, TsrKernelContext* ctx) : host_(host), ctx_(ctx) {}

  size_t NumInputs() const { return host_->GetKernelInputCount(ctx_); }
  size_t NumOutputs() const { return host_->GetKernelOutputCount(ctx_); }
  TensorView Input(size_t i) const {
    TsrTensorView v;
    detail::Check(host_, host_->GetInput(ctx_, i, &v));
    return TensorView(v);
  }
  TensorView Output(size_t i) const {
    TsrTensorView v;
    detail::Check(host_, host_->GetOutput(ctx_, i, &v));
    return TensorView(v);
  }
  // 64-byte-aligned memory until Run returns. Call from Run itself, not
  // from inside a ParallelFor body.
  void* Scratch(size_t bytes) {
    void* p = nullptr;
    detail::Check(host_, host_->GetScratch(ctx_, bytes, &p));
    return p;
  }

  // fn(begin, end) over chunks of at most `grain` items tiling [0, n), on
  // the session's threads. The first exception a chunk throws is rethrown
  // here after all chunks finished (later chunks are skipped), so it never
  // unwinds through the host's scheduler.
  template <typename Fn>
  void ParallelFor(int64_t n, int64_t grain, const Fn& fn) const {
    struct State {
      const Fn* fn;
      std::atomic<bool> failed{false};
      std::mutex mutex;
      std::exception_ptr error;
    } state;
    state.fn = &fn;
    host_->ParallelFor(
        ctx_, n, grain,
        [](void* user, int64_t begin, int64_t end) {
          State& s = *static_cast<State*>(user);
          if (s.failed.load(std::memory_order_relaxed)) return;
          try {
            (*s.fn)(begin, end);
          } catch (...) {
            std::lock_guard<std::mutex> lock(s.mutex);
            if (!s.error) s.error = std::current_exception();
            s.failed.store(true, std::memory_order_relaxed);
          }
        },
        &state);
    if (state.error) std::rethrow_exception(state.error);
  }

 private:
  const TsrHostApi* host_;
  TsrKernelContext* ctx_;
};

// An input or output declaration.
struct Param {
  std::string name;
  int32_t presence = TSR_PARAM_REQUIRED;
  std::vector<int32_t> dtypes;  // empty: any
  std::string type_var;
  int32_t min_count = 1;

  static Param Required(std::string name, std::vector<int32_t> dtypes = {}, std::string type_var = "") {
    return Param{std::move(name), TSR_PARAM_REQUIRED, std::move(dtypes), std::move(type_var), 1};
  }
  static Param Optional(std::string name, std::vector<int32_t> dtypes = {}, std::string type_var = "") {
    return Param{std::move(name), TSR_PARAM_OPTIONAL, std::move(dtypes), std::move(type_var), 1};
  }
  static Param Variadic(std::string name, std::vector<int32_t> dtypes = {}, std::string type_var = "",
                        int32_t min_count = 1) {
    return Param{std::move(name), TSR_PARAM_VARIADIC, std::move(dtypes), std::move(type_var), min_count};
  }
};

// An attribute declaration: with a default, or required.
struct Attr {
  std::string name;
  int32_t type = TSR_ATTR_INT;
  bool required = false;
  bool has_default = false;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;

  static Attr Int(std::string name, int64_t v) { return Make(std::move(name), TSR_ATTR_INT, [&](Attr& a) { a.i = v; }); }
  static Attr Float(std::string name, float v) { return Make(std::move(name), TSR_ATTR_FLOAT, [&](Attr& a) { a.f = v; }); }
  static Attr String(std::string name, std::string v) {
    return Make(std::move(name), TSR_ATTR_STRING, [&](Attr& a) { a.s = std::move(v); });
  }
  static Attr Ints(std::string name, std::vector<int64_t> v) {
    return Make(std::move(name), TSR_ATTR_INTS, [&](Attr& a) { a.ints = std::move(v); });
  }
  static Attr Floats(std::string name, std::vector<float> v) {
    return Make(std::move(name), TSR_ATTR_FLOATS, [&](Attr& a) { a.floats = std::move(v); });
  }
  // No default: a node must give it.
  static Attr Required(std::string name, int32_t type) {
    Attr a;
    a.name = std::move(name);
    a.type = type;
    a.required = true;
    return a;
  }

 private:
  template <typename Set>
  static Attr Make(std::string name, int32_t type, Set&& set) {
    Attr a;
    a.name = std::move(name);
    a.type = type;
    a.has_default = true;
    set(a);
    return a;
  }
};

// Everything an op declares besides its code.
struct OpSchema {
  OpSchema() = default;
  OpSchema(std::string domain, std::string op_type, int32_t since_version = 1, int32_t until_version = 0)
      : domain(std::move(domain)),
        op_type(std::move(op_type)),
        since_version(since_version),
        until_version(until_version) {}

  std::string domain;
  std::string op_type;
  int32_t since_version = 1;
  int32_t until_version = 0;  // 0: no upper bound
  std::vector<Param> inputs;
  std::vector<Param> outputs;
  std::vector<Attr> attributes;
};

namespace detail {

// Turns the exception in flight into a status for the host.
inline TsrPluginStatus* StatusFromException(const TsrHostApi* host, const std::string& where) {
  try {
    throw;
  } catch (const Error& e) {
    return host->CreateStatus(e.code(), (where + e.what()).c_str());
  } catch (const std::bad_alloc&) {
    return host->CreateStatus(TSR_ERR_RESOURCE_EXHAUSTED, (where + "out of memory").c_str());
  } catch (const std::exception& e) {
    return host->CreateStatus(TSR_ERR_INTERNAL, (where + "exception: " + e.what()).c_str());
  } catch (...) {
    return host->CreateStatus(TSR_ERR_INTERNAL, (where + "unknown exception").c_str());
  }
}

// The C descriptors of one op, with the storage they point into.
struct OpEntry {
  const TsrHostApi* host = nullptr;
  OpSchema schema;
  std::string name;  // "domain.Op", for messages
  std::vector<std::vector<int32_t>> dtypes;
  std::vector<TsrPluginParam> inputs, outputs;
  std::vector<TsrPluginAttr> attributes;
  TsrPluginOp op{};

  void BuildParams(const std::vector<Param>& params, std::vector<TsrPluginParam>* out) {
    for (const Param& p : params) {
      TsrPluginParam c{};
      c.name = p.name.c_str();
      c.presence = p.presence;
      c.min_count = p.min_count;
      c.dtypes = p.dtypes.empty() ? nullptr : p.dtypes.data();
      c.num_dtypes = p.dtypes.size();
      c.type_var = p.type_var.c_str();
      out->push_back(c);
    }
  }

  void Build() {
    name = schema.domain.empty() ? schema.op_type : schema.domain + "." + schema.op_type;
    BuildParams(schema.inputs, &inputs);
    BuildParams(schema.outputs, &outputs);
    for (const Attr& a : schema.attributes) {
      TsrPluginAttr c{};
      c.name = a.name.c_str();
      c.type = a.type;
      c.required = a.required ? 1 : 0;
      c.has_default = a.has_default ? 1 : 0;
      c.default_int = a.i;
      c.default_float = a.f;
      c.default_string = a.s.c_str();
      c.default_ints = a.ints.data();
      c.default_floats = a.floats.data();
      c.default_count = a.type == TSR_ATTR_INTS ? a.ints.size() : a.type == TSR_ATTR_FLOATS ? a.floats.size() : 0;
      attributes.push_back(c);
    }
    op.abi_version = TSR_PLUGIN_ABI_VERSION;
    op.struct_size = sizeof(TsrPluginOp);
    op.domain = schema.domain.c_str();
    op.op_type = schema.op_type.c_str();
    op.since_version = schema.since_version;
    op.until_version = schema.until_version;
    op.inputs = inputs.data();
    op.num_inputs = inputs.size();
    op.outputs = outputs.data();
    op.num_outputs = outputs.size();
    op.attributes = attributes.data();
    op.num_attributes = attributes.size();
    op.op_state = this;
  }
};

template <typename Op>
struct OpCallbacks {
  static TsrPluginStatus* InferShapes(void* state, TsrShapeContext* ctx) {
    OpEntry& e = *static_cast<OpEntry*>(state);
    try {
      ShapeContext c(e.host, ctx);
      Op::InferShapes(c);
      return nullptr;
    } catch (...) {
      return StatusFromException(e.host, e.name + " infer_shapes: ");
    }
  }
  static TsrPluginStatus* Cost(void* state, const TsrShapeContext* ctx, TsrOpCost* out) {
    OpEntry& e = *static_cast<OpEntry*>(state);
    try {
      const ShapeContext c(e.host, const_cast<TsrShapeContext*>(ctx));
      const OpCost cost = Op::Cost(c);
      *out = TsrOpCost{cost.flops, cost.bytes_read, cost.bytes_written};
      return nullptr;
    } catch (...) {
      return StatusFromException(e.host, e.name + " cost: ");
    }
  }
  static TsrPluginStatus* CreateKernel(void* state, const TsrShapeContext* ctx, TsrPluginKernel** out) {
    OpEntry& e = *static_cast<OpEntry*>(state);
    try {
      const ShapeContext c(e.host, const_cast<TsrShapeContext*>(ctx));
      *out = reinterpret_cast<TsrPluginKernel*>(new Op(c));
      return nullptr;
    } catch (...) {
      return StatusFromException(e.host, e.name + " create_kernel: ");
    }
  }
  static TsrPluginStatus* Run(void* state, const TsrPluginKernel* kernel, TsrKernelContext* ctx) {
    OpEntry& e = *static_cast<OpEntry*>(state);
    try {
      KernelContext c(e.host, ctx);
      reinterpret_cast<const Op*>(kernel)->Run(c);
      return nullptr;
    } catch (...) {
      return StatusFromException(e.host, e.name + " run: ");
    }
  }
  static void Release(void* state, TsrPluginKernel* kernel) {
    // Destructors must not throw; one that does would terminate anyway.
    delete reinterpret_cast<Op*>(kernel);
  }
};

}  // namespace detail

// A plugin: its name, version and ops. Keep it in a function-local static
// of TsrPluginInit (see the top of this file).
class Plugin {
 public:
  Plugin(const char* name, const char* version) : name_(name), version_(version) {}
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  // Adds op class Op (Schema, InferShapes, Cost, Op(const ShapeContext&),
  // Run(KernelContext&) const).
  template <typename Op>
  Plugin& Add() {
    auto entry = std::make_unique<detail::OpEntry>();
    entry->schema = Op::Schema();
    entry->Build();
    entry->op.infer_shapes = &detail::OpCallbacks<Op>::InferShapes;
    entry->op.cost = &detail::OpCallbacks<Op>::Cost;
    entry->op.create_kernel = &detail::OpCallbacks<Op>::CreateKernel;
    entry->op.run = &detail::OpCallbacks<Op>::Run;
    entry->op.release_kernel = &detail::OpCallbacks<Op>::Release;
    entries_.push_back(std::move(entry));
    return *this;
  }

  // Checks the host, builds the tables once with `add_ops(*this)` and
  // hands them out. Safe to call again (each load of the library).
  template <typename AddOps>
  TsrPluginStatus* Init(const TsrHostApi* host, const TsrPluginApi** out, AddOps&& add_ops) {
    // Nothing to report through without a host; it then sees no table.
    if (host == nullptr || out == nullptr) return nullptr;
    // abi_version, struct_size and CreateStatus keep their place in every
    // ABI major (plugin.h), so this refusal is readable by any host.
    constexpr size_t kHostApi10Size = offsetof(TsrHostApi, ParallelFor) + sizeof(host->ParallelFor);
    if (TSR_PLUGIN_ABI_VERSION_MAJOR(host->abi_version) != TSR_PLUGIN_ABI_MAJOR || host->struct_size < kHostApi10Size) {
      const std::string message = std::string(name_) + " was built for plugin ABI " +
                                  std::to_string(TSR_PLUGIN_ABI_MAJOR) + "." + std::to_string(TSR_PLUGIN_ABI_MINOR) +
                                  "; the host offers " + std::to_string(TSR_PLUGIN_ABI_VERSION_MAJOR(host->abi_version)) +
                                  "." + std::to_string(TSR_PLUGIN_ABI_VERSION_MINOR(host->abi_version)) +
                                  " with a TsrHostApi of " + std::to_string(host->struct_size) + " bytes";
      return host->CreateStatus(TSR_ERR_UNIMPLEMENTED, message.c_str());
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!built_) {
      try {
        entries_.clear();
        add_ops(*this);
        ops_.clear();
        for (auto& e : entries_) {
          e->host = host;
          ops_.push_back(&e->op);
        }
        api_ = TsrPluginApi{TSR_PLUGIN_ABI_VERSION, sizeof(TsrPluginApi), name_, version_, ops_.data(), ops_.size()};
        built_ = true;
      } catch (...) {
        return detail::StatusFromException(host, std::string(name_) + ": init: ");
      }
    }
    // Later loads of the library in this process get the same tables; the
    // host table is the same too, and kernels of earlier loads may be
    // running, so nothing is rewritten.
    *out = &api_;
    return nullptr;
  }

 private:
  const char* name_;
  const char* version_;
  std::mutex mutex_;
  bool built_ = false;
  std::vector<std::unique_ptr<detail::OpEntry>> entries_;
  std::vector<const TsrPluginOp*> ops_;
  TsrPluginApi api_{};
};

}  // namespace tessera::plugin

#endif  // TESSERA_PLUGIN_HPP_
