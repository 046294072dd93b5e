// Tessera C++ API: a header-only layer over the C API (tessera.h).
//
//   tessera::Model model = tessera::Model::Load("model.tess");
//   tessera::Session session(model, tessera::SessionOptions().Threads(2));
//   tessera::Value x = tessera::Value::FromData<float>({1, 16}, data);
//   std::vector<tessera::Value> y = session.Run({{"x", &x}}, {"y"});
//
// Failures throw tessera::Error, which carries the C status code and the
// message. The exception is raised in this header, in the caller's code:
// none crosses the library boundary.
#ifndef TESSERA_TESSERA_HPP_
#define TESSERA_TESSERA_HPP_

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/tessera.h"

namespace tessera {

class Error : public std::runtime_error {
 public:
  Error(int32_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int32_t code() const { return code_; }

 private:
  int32_t code_;
};

namespace detail {
// Throws if `status` is an error; always releases it.
inline void Check(TsrStatus* status) {
  if (status == nullptr) return;
  const int32_t code = TsrStatusGetCode(status);
  std::string message = TsrStatusGetMessage(status);
  TsrStatusRelease(status);
  throw Error(code, message);
}

template <typename T, void (*Release)(T*)>
struct Deleter {
  void operator()(T* p) const { Release(p); }
};
template <typename T, void (*Release)(T*)>
using Handle = std::unique_ptr<T, Deleter<T, Release>>;

template <typename T> constexpr int32_t DTypeOf();
template <> constexpr int32_t DTypeOf<float>() { return TSR_DTYPE_FLOAT32; }
template <> constexpr int32_t DTypeOf<int8_t>() { return TSR_DTYPE_INT8; }
template <> constexpr int32_t DTypeOf<uint8_t>() { return TSR_DTYPE_UINT8; }
template <> constexpr int32_t DTypeOf<int32_t>() { return TSR_DTYPE_INT32; }
template <> constexpr int32_t DTypeOf<int64_t>() { return TSR_DTYPE_INT64; }
template <> constexpr int32_t DTypeOf<bool>() { return TSR_DTYPE_BOOL; }
}  // namespace detail

// A tensor: owns its memory, or views the caller's (View()).
class Value {
 public:
  Value() = default;
  explicit Value(TsrTensor* handle) : handle_(handle) {}

  // A zero-filled tensor.
  static Value Zeros(int32_t dtype, const std::vector<int64_t>& dims) {
    TsrTensor* t = nullptr;
    detail::Check(TsrTensorCreate(dtype, dims.data(), dims.size(), &t));
    return Value(t);
  }
  // A tensor holding a copy of `data` (NumElements(dims) values).
  template <typename T>
  static Value FromData(const std::vector<int64_t>& dims, const std::vector<T>& data) {
    Value v = Zeros(detail::DTypeOf<T>(), dims);
    if (static_cast<size_t>(v.ElementCount()) != data.size()) {
      throw Error(TSR_ERR_INVALID_ARGUMENT, "FromData: " + std::to_string(data.size()) +
                                                " values given for a tensor of " +
                                                std::to_string(v.ElementCount()) + " elements");
    }
    if (!data.empty()) std::memcpy(v.data(), data.data(), data.size() * sizeof(T));
    return v;
  }
  // A view of the caller's memory; no copy. Keep `data` alive while used.
  static Value View(int32_t dtype, const std::vector<int64_t>& dims, void* data, size_t bytes) {
    TsrTensor* t = nullptr;
    detail::Check(TsrTensorCreateView(dtype, dims.data(), dims.size(), data, bytes, &t));
    return Value(t);
  }

  bool valid() const { return handle_ != nullptr; }
  int32_t dtype() const { return TsrTensorGetDType(handle_.get()); }
  std::vector<int64_t> dims() const {
    const int64_t* d = TsrTensorGetDims(handle_.get());
    return std::vector<int64_t>(d, d + TsrTensorGetRank(handle_.get()));
  }
  int64_t ElementCount() const { return TsrTensorGetElementCount(handle_.get()); }
  size_t ByteSize() const { return TsrTensorGetByteSize(handle_.get()); }
  void* data() { return TsrTensorGetData(handle_.get()); }
  const void* data() const { return TsrTensorGetData(handle_.get()); }
  template <typename T> T* data_as() {
    CheckType<T>();
    return static_cast<T*>(data());
  }
  template <typename T> const T* data_as() const {
    CheckType<T>();
    return static_cast<const T*>(data());
  }
  template <typename T> std::vector<T> ToVector() const {
    const T* p = data_as<T>();
    return std::vector<T>(p, p + ElementCount());
  }

  const TsrTensor* get() const { return handle_.get(); }
  TsrTensor* get() { return handle_.get(); }

 private:
  template <typename T> void CheckType() const {
    if (detail::DTypeOf<T>() != dtype()) {
      throw Error(TSR_ERR_INVALID_ARGUMENT, std::string("tensor has dtype ") + TsrDTypeName(dtype()) +
                                                ", read as " + TsrDTypeName(detail::DTypeOf<T>()));
    }
  }
  detail::Handle<TsrTensor, TsrTensorRelease> handle_;
};

struct ValueInfo {
  std::string name;
  int32_t dtype = 0;
  std::vector<int64_t> dims;         // -1: dynamic
  std::vector<std::string> dim_names;  // "" where unnamed
};

struct NodeInfo {
  std::string name, op_type, domain;
  int32_t version = 0;
  std::vector<std::string> inputs, outputs;  // "" for omitted
};

// One node's execution in a profiled run (see TsrNodeProfile).
struct NodeProfile {
  std::string node_name, op_type;
  int64_t start_ns = 0, duration_ns = 0;  // from the start of the run
  int32_t thread_index = 0;               // worker slot in the session's arena
  double flops = 0, bytes = 0;            // declared by the op; bytes = read + written
  double bytes_read = 0, bytes_written = 0;
  int32_t node_index = 0;  // index into Model::Nodes()
  std::string domain;
  // One per input slot; an omitted optional input has input_present false.
  std::vector<std::vector<int64_t>> input_shapes;
  std::vector<bool> input_present;

  int64_t end_ns() const { return start_ns + duration_ns; }
};

// The machine's roofline (see TsrMachineInfo): measured on the first call.
struct MachineInfo {
  std::string simd_target, supported_targets;
  int32_t vector_bits = 0, cores = 0;
  double peak_gflops_1thread = 0, peak_gflops = 0;      // FP32 FMA, 1e9 FLOP/s
  double bandwidth_gbs_1thread = 0, bandwidth_gbs = 0;  // stream triad, 1e9 B/s
  double measure_seconds = 0;
};

inline MachineInfo GetMachineInfo() {
  TsrMachineInfo m;
  detail::Check(TsrGetMachineInfo(&m));
  return MachineInfo{m.simd_target,           m.supported_targets, m.vector_bits,
                     m.cores,                 m.peak_gflops_1thread, m.peak_gflops,
                     m.bandwidth_gbs_1thread, m.bandwidth_gbs,     m.measure_seconds};
}

class ModelOptions {
 public:
  ModelOptions() {
    TsrModelOptions* o = nullptr;
    detail::Check(TsrModelOptionsCreate(&o));
    handle_.reset(o);
  }
  // A plugin library whose ops the model may use (repeatable).
  ModelOptions& AddPlugin(const std::string& path) {
    detail::Check(TsrModelOptionsAddPlugin(handle_.get(), path.c_str()));
    return *this;
  }
  // false: ignore the TESSERA_PLUGINS environment variable.
  ModelOptions& PluginsFromEnv(bool on) {
    detail::Check(TsrModelOptionsSetPluginsFromEnv(handle_.get(), on ? 1 : 0));
    return *this;
  }
  // A limit for untrusted models: TSR_LIMIT_* (tessera.h) and its value.
  ModelOptions& Limit(int32_t limit, int64_t value) {
    detail::Check(TsrModelOptionsSetLimit(handle_.get(), limit, value));
    return *this;
  }
  // false: load the graph as stored, without graph optimizations.
  ModelOptions& Optimize(bool on) {
    detail::Check(TsrModelOptionsSetOptimize(handle_.get(), on ? 1 : 0));
    return *this;
  }
  const TsrModelOptions* get() const { return handle_.get(); }

 private:
  detail::Handle<TsrModelOptions, TsrModelOptionsRelease> handle_;
};

class Model {
 public:
  static Model Load(const std::string& path, const ModelOptions& options = ModelOptions()) {
    TsrModel* m = nullptr;
    detail::Check(TsrModelLoad(path.c_str(), options.get(), &m));
    return Model(m);
  }
  static Model LoadFromBuffer(const void* data, size_t size, const ModelOptions& options = ModelOptions()) {
    TsrModel* m = nullptr;
    detail::Check(TsrModelLoadFromBuffer(data, size, options.get(), &m));
    return Model(m);
  }

  // An ONNX model, converted in memory (see TsrModelLoadOnnx).
  static Model LoadOnnx(const std::string& path, const ModelOptions& options = ModelOptions()) {
    TsrModel* m = nullptr;
    detail::Check(TsrModelLoadOnnx(path.c_str(), options.get(), &m));
    return Model(m);
  }
  static Model LoadOnnxFromBuffer(const void* data, size_t size, const ModelOptions& options = ModelOptions()) {
    TsrModel* m = nullptr;
    detail::Check(TsrModelLoadOnnxFromBuffer(data, size, options.get(), &m));
    return Model(m);
  }

  std::vector<ValueInfo> Inputs() const { return Infos(TsrModelGetInputCount, TsrModelGetInputInfo); }
  std::vector<ValueInfo> Outputs() const { return Infos(TsrModelGetOutputCount, TsrModelGetOutputInfo); }

  std::vector<NodeInfo> Nodes() const {
    std::vector<NodeInfo> nodes;
    for (size_t i = 0; i < TsrModelGetNodeCount(handle_.get()); ++i) {
      TsrNodeInfo n;
      detail::Check(TsrModelGetNodeInfo(handle_.get(), i, &n));
      nodes.push_back(NodeInfo{n.name, n.op_type, n.domain, n.version,
                               std::vector<std::string>(n.input_names, n.input_names + n.num_inputs),
                               std::vector<std::string>(n.output_names, n.output_names + n.num_outputs)});
    }
    return nodes;
  }

  // The graph optimizations that changed the graph at load, in order.
  std::vector<TsrOptimizationInfo> Optimizations() const {
    std::vector<TsrOptimizationInfo> result;
    for (size_t i = 0; i < TsrModelGetOptimizationCount(handle_.get()); ++i) {
      TsrOptimizationInfo info;
      detail::Check(TsrModelGetOptimization(handle_.get(), i, &info));
      result.push_back(info);
    }
    return result;
  }

  std::vector<std::pair<std::string, std::string>> Metadata() const {
    std::vector<std::pair<std::string, std::string>> result;
    for (size_t i = 0; i < TsrModelGetMetadataCount(handle_.get()); ++i) {
      const char* key = nullptr;
      const char* value = nullptr;
      detail::Check(TsrModelGetMetadata(handle_.get(), i, &key, &value));
      result.emplace_back(key, value);
    }
    return result;
  }

  // Statistics with dynamic dims bound by name.
  TsrModelStats Stats(const std::vector<std::pair<std::string, int64_t>>& dims = {}) const {
    std::vector<const char*> names;
    std::vector<int64_t> values;
    for (const auto& [name, value] : dims) {
      names.push_back(name.c_str());
      values.push_back(value);
    }
    TsrModelStats stats;
    detail::Check(TsrModelGetStats(handle_.get(), names.data(), values.data(), names.size(), &stats));
    return stats;
  }

  const TsrModel* get() const { return handle_.get(); }

 private:
  explicit Model(TsrModel* m) : handle_(m) {}
  std::vector<ValueInfo> Infos(size_t (*count)(const TsrModel*),
                               TsrStatus* (*get)(const TsrModel*, size_t, TsrValueInfo*)) const {
    std::vector<ValueInfo> infos;
    for (size_t i = 0; i < count(handle_.get()); ++i) {
      TsrValueInfo v;
      detail::Check(get(handle_.get(), i, &v));
      ValueInfo info{v.name, v.dtype, std::vector<int64_t>(v.dims, v.dims + v.rank), {}};
      for (size_t d = 0; d < v.rank; ++d) info.dim_names.push_back(v.dim_names[d] ? v.dim_names[d] : "");
      infos.push_back(std::move(info));
    }
    return infos;
  }
  detail::Handle<TsrModel, TsrModelRelease> handle_;
};

// Converts an .onnx file into a .tess file (see TsrConvertOnnxFile).
inline void ConvertOnnxFile(const std::string& onnx_path, const std::string& tess_path,
                            const ModelOptions& options = ModelOptions()) {
  detail::Check(TsrConvertOnnxFile(onnx_path.c_str(), tess_path.c_str(), options.get()));
}
inline bool OnnxImportAvailable() { return TsrOnnxImportAvailable() != 0; }

class SessionOptions {
 public:
  SessionOptions() {
    TsrSessionOptions* o = nullptr;
    detail::Check(TsrSessionOptionsCreate(&o));
    handle_.reset(o);
  }
  // 0 = all cores.
  SessionOptions& Threads(int32_t n) {
    detail::Check(TsrSessionOptionsSetThreadCount(handle_.get(), n));
    return *this;
  }
  SessionOptions& Profiling(bool on) {
    detail::Check(TsrSessionOptionsSetProfiling(handle_.get(), on ? 1 : 0));
    return *this;
  }
  // Streaming: carry graph output `output` into graph input `input` between
  // runs (see TsrSessionOptionsAddState).
  SessionOptions& State(const std::string& output, const std::string& input) {
    detail::Check(TsrSessionOptionsAddState(handle_.get(), output.c_str(), input.c_str()));
    return *this;
  }
  const TsrSessionOptions* get() const { return handle_.get(); }

 private:
  detail::Handle<TsrSessionOptions, TsrSessionOptionsRelease> handle_;
};

class Session {
 public:
  explicit Session(const Model& model, const SessionOptions& options = SessionOptions()) {
    TsrSession* s = nullptr;
    detail::Check(TsrSessionCreate(model.get(), options.get(), &s));
    handle_.reset(s);
  }

  // Runs with named inputs; returns the named outputs in order.
  std::vector<Value> Run(const std::vector<std::pair<std::string, const Value*>>& inputs,
                         const std::vector<std::string>& output_names) {
    std::vector<const char*> in_names;
    std::vector<const TsrTensor*> in_values;
    for (const auto& [name, value] : inputs) {
      in_names.push_back(name.c_str());
      in_values.push_back(value->get());
    }
    std::vector<const char*> out_names;
    for (const std::string& name : output_names) out_names.push_back(name.c_str());
    std::vector<TsrTensor*> outs(output_names.size(), nullptr);
    detail::Check(TsrSessionRun(handle_.get(), in_names.data(), in_values.data(), in_names.size(),
                                out_names.data(), out_names.size(), outs.data()));
    std::vector<Value> result;
    for (TsrTensor* t : outs) result.emplace_back(t);
    return result;
  }

  // Per-node records of the last run (profiling on).
  // Forgets every carried state (SessionOptions::State).
  void ResetState() { detail::Check(TsrSessionResetState(handle_.get())); }
  // Cancels the Run in progress from another thread (TsrSessionCancel).
  void Cancel() { detail::Check(TsrSessionCancel(handle_.get())); }

  std::vector<NodeProfile> Profile() const {
    std::vector<NodeProfile> records;
    for (size_t i = 0; i < TsrSessionGetProfileCount(handle_.get()); ++i) {
      TsrNodeProfile p;
      detail::Check(TsrSessionGetProfileRecord(handle_.get(), i, &p));
      NodeProfile r;
      r.node_name = p.node_name;
      r.op_type = p.op_type;
      r.start_ns = p.start_ns;
      r.duration_ns = p.duration_ns;
      r.thread_index = p.thread_index;
      r.flops = p.flops;
      r.bytes = p.bytes;
      r.bytes_read = p.bytes_read;
      r.bytes_written = p.bytes_written;
      r.node_index = p.node_index;
      r.domain = p.domain;
      for (size_t k = 0; k < p.num_inputs; ++k) {
        const int64_t* dims = p.input_dims[k];
        r.input_present.push_back(dims != nullptr);
        r.input_shapes.emplace_back(dims, dims + (dims != nullptr ? p.input_ranks[k] : 0));
      }
      records.push_back(std::move(r));
    }
    return records;
  }

 private:
  detail::Handle<TsrSession, TsrSessionRelease> handle_;
};

}  // namespace tessera

#endif  // TESSERA_TESSERA_HPP_
