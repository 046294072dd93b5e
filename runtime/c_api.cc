// The C API (tessera.h) over the runtime. Every entry point catches every
// exception: nothing but a TsrStatus crosses this boundary.
#include "tessera/tessera.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "graph/onnx/onnx_importer.h"
#include "runtime/machine.h"
#include "runtime/model.h"
#include "runtime/session.h"

struct TsrStatus {
  int32_t code;
  std::string message;
};

struct TsrTensor {
  tessera::OwnedTensor owned;  // empty for a view
  tessera::Tensor view;
};

struct TsrModelOptions {
  tessera::runtime::ModelOptions options;
};

struct TsrModel {
  std::shared_ptr<const tessera::runtime::Model> model;
  // Stable C views of graph metadata, built once at load.
  struct Info {
    std::vector<const char*> dim_names;
  };
  std::vector<Info> inputs, outputs;
  struct NodeNames {
    std::vector<const char*> inputs, outputs;
  };
  std::vector<NodeNames> nodes;
};

struct TsrSessionOptions {
  tessera::runtime::SessionOptions options;
};

struct TsrSession {
  std::unique_ptr<tessera::runtime::Session> session;
};

namespace {

using tessera::Status;
using tessera::StatusCode;

TsrStatus* MakeStatus(const Status& s) {
  if (s.ok()) return nullptr;
  return new (std::nothrow) TsrStatus{static_cast<int32_t>(s.code()), s.message()};
}

TsrStatus* MakeStatus(StatusCode code, const std::string& message) { return MakeStatus(Status(code, message)); }

TsrStatus* NullArgument(const char* function, const char* arg) {
  return MakeStatus(StatusCode::kInvalidArgument, std::string(function) + ": " + arg + " is NULL");
}

const char* kEmpty = "";

template <typename Fn>
TsrStatus* Guard(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return MakeStatus(StatusCode::kResourceExhausted, "out of memory");
  } catch (const std::exception& e) {
    return MakeStatus(StatusCode::kInternal, std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return MakeStatus(StatusCode::kInternal, "unexpected exception");
  }
}

tessera::StatusOr<tessera::Shape> MakeShape(const int64_t* dims, size_t rank) {
  if (rank > 0 && dims == nullptr) return Status(StatusCode::kInvalidArgument, "dims is NULL but rank > 0");
  tessera::Shape shape(dims, dims + rank);
  for (size_t i = 0; i < rank; ++i) {
    if (shape[i] < 0) {
      return tessera::Error(StatusCode::kInvalidArgument, "dim ", i, " is ", shape[i], "; dims must be >= 0");
    }
  }
  return shape;
}

TsrModel* WrapModel(std::shared_ptr<const tessera::runtime::Model> model) {
  auto wrapped = std::make_unique<TsrModel>();
  const tessera::graph::Graph& g = model->graph();
  for (const auto* list : {&g.inputs, &g.outputs}) {
    auto& infos = list == &g.inputs ? wrapped->inputs : wrapped->outputs;
    for (int v : *list) {
      const tessera::graph::Value& value = g.values[static_cast<size_t>(v)];
      TsrModel::Info info;
      for (size_t d = 0; d < value.info.shape.size(); ++d) {
        const bool named = d < value.dim_names.size() && !value.dim_names[d].empty();
        info.dim_names.push_back(named ? value.dim_names[d].c_str() : nullptr);
      }
      infos.push_back(std::move(info));
    }
  }
  for (const tessera::graph::Node& node : g.nodes) {
    TsrModel::NodeNames names;
    for (int v : node.inputs) names.inputs.push_back(v >= 0 ? g.values[static_cast<size_t>(v)].name.c_str() : kEmpty);
    for (int v : node.outputs) names.outputs.push_back(v >= 0 ? g.values[static_cast<size_t>(v)].name.c_str() : kEmpty);
    wrapped->nodes.push_back(std::move(names));
  }
  wrapped->model = std::move(model);
  return wrapped.release();
}

// Writes `bytes` to `path` (replaced if it exists).
Status WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return Status(StatusCode::kIoError, path + ": cannot open for writing: " + std::strerror(errno));
  }
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) return Status(StatusCode::kIoError, path + ": write failed");
  return Status::Ok();
}

TsrStatus* GetValueInfo(const TsrModel* model, size_t index, bool input, TsrValueInfo* out) {
  if (model == nullptr || out == nullptr) return NullArgument("TsrModelGet*Info", "model or out");
  const tessera::graph::Graph& g = model->model->graph();
  const std::vector<int>& list = input ? g.inputs : g.outputs;
  if (index >= list.size()) {
    return MakeStatus(StatusCode::kInvalidArgument, std::string(input ? "input" : "output") + " index " +
                                                        std::to_string(index) + " out of range (" +
                                                        std::to_string(list.size()) + ")");
  }
  const tessera::graph::Value& v = g.values[static_cast<size_t>(list[index])];
  const TsrModel::Info& info = (input ? model->inputs : model->outputs)[index];
  out->name = v.name.c_str();
  out->dtype = static_cast<int32_t>(v.info.dtype);
  out->rank = v.info.shape.size();
  out->dims = v.info.shape.data();
  out->dim_names = info.dim_names.data();
  return nullptr;
}

}  // namespace

extern "C" {

const char* TsrVersionString(void) { return "0.1.0"; }

int32_t TsrStatusGetCode(const TsrStatus* status) { return status == nullptr ? TSR_OK : status->code; }
const char* TsrStatusGetMessage(const TsrStatus* status) { return status == nullptr ? "" : status->message.c_str(); }
void TsrStatusRelease(TsrStatus* status) { delete status; }

const char* TsrDTypeName(int32_t dtype) {
  return tessera::IsValidDType(dtype) ? tessera::DTypeName(static_cast<tessera::DType>(dtype)) : "invalid";
}
size_t TsrDTypeSize(int32_t dtype) {
  return tessera::IsValidDType(dtype) ? tessera::DTypeSize(static_cast<tessera::DType>(dtype)) : 0;
}

TsrStatus* TsrTensorCreate(int32_t dtype, const int64_t* dims, size_t rank, TsrTensor** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrTensorCreate", "out");
    *out = nullptr;
    if (!tessera::IsValidDType(dtype)) {
      return MakeStatus(StatusCode::kInvalidArgument, "TsrTensorCreate: unknown dtype " + std::to_string(dtype));
    }
    auto shape = MakeShape(dims, rank);
    if (!shape.ok()) return MakeStatus(shape.status().WithContext("TsrTensorCreate"));
    auto owned = tessera::OwnedTensor::Allocate(static_cast<tessera::DType>(dtype), *shape);
    if (!owned.ok()) return MakeStatus(owned.status().WithContext("TsrTensorCreate"));
    auto t = std::make_unique<TsrTensor>();
    t->owned = std::move(owned).value();
    std::memset(t->owned.view.data, 0, t->owned.view.ByteSize());
    t->view = t->owned.view;
    *out = t.release();
    return nullptr;
  });
}

TsrStatus* TsrTensorCreateView(int32_t dtype, const int64_t* dims, size_t rank, void* data, size_t data_bytes,
                               TsrTensor** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrTensorCreateView", "out");
    *out = nullptr;
    if (!tessera::IsValidDType(dtype)) {
      return MakeStatus(StatusCode::kInvalidArgument, "TsrTensorCreateView: unknown dtype " + std::to_string(dtype));
    }
    auto shape = MakeShape(dims, rank);
    if (!shape.ok()) return MakeStatus(shape.status().WithContext("TsrTensorCreateView"));
    auto bytes = tessera::CheckedByteSize(static_cast<tessera::DType>(dtype), *shape);
    if (!bytes.ok()) return MakeStatus(bytes.status().WithContext("TsrTensorCreateView"));
    if (static_cast<uint64_t>(*bytes) != data_bytes) {
      return MakeStatus(StatusCode::kInvalidArgument,
                        "TsrTensorCreateView: " + std::to_string(data_bytes) + " bytes given, shape " +
                            tessera::ShapeToString(*shape) + " of " + TsrDTypeName(dtype) + " needs " +
                            std::to_string(*bytes));
    }
    if (data == nullptr && *bytes > 0) return NullArgument("TsrTensorCreateView", "data");
    auto t = std::make_unique<TsrTensor>();
    t->view = tessera::Tensor{static_cast<tessera::DType>(dtype), *shape, data};
    *out = t.release();
    return nullptr;
  });
}

void TsrTensorRelease(TsrTensor* tensor) { delete tensor; }
int32_t TsrTensorGetDType(const TsrTensor* t) { return t == nullptr ? 0 : static_cast<int32_t>(t->view.dtype); }
size_t TsrTensorGetRank(const TsrTensor* t) { return t == nullptr ? 0 : t->view.shape.size(); }
const int64_t* TsrTensorGetDims(const TsrTensor* t) { return t == nullptr ? nullptr : t->view.shape.data(); }
int64_t TsrTensorGetElementCount(const TsrTensor* t) { return t == nullptr ? 0 : t->view.NumElements(); }
size_t TsrTensorGetByteSize(const TsrTensor* t) { return t == nullptr ? 0 : t->view.ByteSize(); }
void* TsrTensorGetData(TsrTensor* t) { return t == nullptr ? nullptr : t->view.data; }

TsrStatus* TsrModelOptionsCreate(TsrModelOptions** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrModelOptionsCreate", "out");
    *out = new TsrModelOptions();
    return nullptr;
  });
}
void TsrModelOptionsRelease(TsrModelOptions* options) { delete options; }

TsrStatus* TsrModelOptionsAddPlugin(TsrModelOptions* options, const char* path) {
  return Guard([&]() -> TsrStatus* {
    if (options == nullptr) return NullArgument("TsrModelOptionsAddPlugin", "options");
    if (path == nullptr || path[0] == '\0') return NullArgument("TsrModelOptionsAddPlugin", "path");
    options->options.plugins.emplace_back(path);
    return nullptr;
  });
}

TsrStatus* TsrModelOptionsSetPluginsFromEnv(TsrModelOptions* options, int32_t enabled) {
  if (options == nullptr) return NullArgument("TsrModelOptionsSetPluginsFromEnv", "options");
  options->options.plugins_from_env = enabled != 0;
  return nullptr;
}

namespace {

// The field of ModelLimits a TSR_LIMIT_* value names; nullptr if none.
int64_t* LimitField(tessera::graph::ModelLimits& limits, int32_t limit) {
  switch (limit) {
    case TSR_LIMIT_FILE_BYTES: return &limits.max_file_bytes;
    case TSR_LIMIT_RANK: return &limits.max_rank;
    case TSR_LIMIT_TENSOR_ELEMENTS: return &limits.max_tensor_elements;
    case TSR_LIMIT_PLANNED_BYTES: return &limits.max_planned_bytes;
    case TSR_LIMIT_NODES: return &limits.max_nodes;
    case TSR_LIMIT_TENSORS: return &limits.max_tensors;
    case TSR_LIMIT_STRING_BYTES: return &limits.max_string_bytes;
    case TSR_LIMIT_ATTRIBUTE_ELEMENTS: return &limits.max_attribute_elements;
    default: return nullptr;
  }
}

}  // namespace

TsrStatus* TsrModelOptionsSetLimit(TsrModelOptions* options, int32_t limit, int64_t value) {
  return Guard([&]() -> TsrStatus* {
    if (options == nullptr) return NullArgument("TsrModelOptionsSetLimit", "options");
    int64_t* field = LimitField(options->options.load.limits, limit);
    if (field == nullptr) {
      return MakeStatus(StatusCode::kInvalidArgument, "TsrModelOptionsSetLimit: unknown limit " + std::to_string(limit));
    }
    if (value < 1) {
      return MakeStatus(StatusCode::kInvalidArgument, "TsrModelOptionsSetLimit: limit " + std::to_string(limit) +
                                                          " must be >= 1, got " + std::to_string(value));
    }
    *field = value;
    return nullptr;
  });
}

TsrStatus* TsrModelOptionsGetLimit(const TsrModelOptions* options, int32_t limit, int64_t* value) {
  return Guard([&]() -> TsrStatus* {
    if (options == nullptr || value == nullptr) return NullArgument("TsrModelOptionsGetLimit", "options or value");
    tessera::graph::ModelLimits limits = options->options.load.limits;
    const int64_t* field = LimitField(limits, limit);
    if (field == nullptr) {
      return MakeStatus(StatusCode::kInvalidArgument, "TsrModelOptionsGetLimit: unknown limit " + std::to_string(limit));
    }
    *value = *field;
    return nullptr;
  });
}

TsrStatus* TsrModelOptionsSetOptimize(TsrModelOptions* options, int32_t enabled) {
  if (options == nullptr) return NullArgument("TsrModelOptionsSetOptimize", "options");
  options->options.optimize = enabled != 0;
  return nullptr;
}

TsrStatus* TsrModelLoad(const char* path, const TsrModelOptions* options, TsrModel** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrModelLoad", "out");
    *out = nullptr;
    if (path == nullptr) return NullArgument("TsrModelLoad", "path");
    const tessera::runtime::ModelOptions defaults;
    auto model = tessera::runtime::Model::LoadFromFile(path, options != nullptr ? options->options : defaults);
    if (!model.ok()) return MakeStatus(model.status());
    *out = WrapModel(std::move(model).value());
    return nullptr;
  });
}

TsrStatus* TsrModelLoadFromBuffer(const void* data, size_t size, const TsrModelOptions* options, TsrModel** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrModelLoadFromBuffer", "out");
    *out = nullptr;
    if (data == nullptr && size > 0) return NullArgument("TsrModelLoadFromBuffer", "data");
    const tessera::runtime::ModelOptions defaults;
    auto model =
        tessera::runtime::Model::LoadFromBuffer(data, size, options != nullptr ? options->options : defaults);
    if (!model.ok()) return MakeStatus(model.status());
    *out = WrapModel(std::move(model).value());
    return nullptr;
  });
}

void TsrModelRelease(TsrModel* model) { delete model; }

TsrStatus* TsrModelLoadOnnx(const char* path, const TsrModelOptions* options, TsrModel** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrModelLoadOnnx", "out");
    *out = nullptr;
    if (path == nullptr) return NullArgument("TsrModelLoadOnnx", "path");
    const tessera::runtime::ModelOptions defaults;
    auto model = tessera::runtime::Model::LoadFromOnnxFile(path, options != nullptr ? options->options : defaults);
    if (!model.ok()) return MakeStatus(model.status());
    *out = WrapModel(std::move(model).value());
    return nullptr;
  });
}

TsrStatus* TsrModelLoadOnnxFromBuffer(const void* data, size_t size, const TsrModelOptions* options, TsrModel** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrModelLoadOnnxFromBuffer", "out");
    *out = nullptr;
    if (data == nullptr && size > 0) return NullArgument("TsrModelLoadOnnxFromBuffer", "data");
    const tessera::runtime::ModelOptions defaults;
    auto model = tessera::runtime::Model::LoadFromOnnxBuffer(data, size,
                                                             options != nullptr ? options->options : defaults);
    if (!model.ok()) return MakeStatus(model.status());
    *out = WrapModel(std::move(model).value());
    return nullptr;
  });
}

TsrStatus* TsrConvertOnnxFile(const char* onnx_path, const char* tess_path, const TsrModelOptions* options) {
  return Guard([&]() -> TsrStatus* {
    if (onnx_path == nullptr) return NullArgument("TsrConvertOnnxFile", "onnx_path");
    if (tess_path == nullptr || tess_path[0] == '\0') return NullArgument("TsrConvertOnnxFile", "tess_path");
    const tessera::runtime::ModelOptions defaults;
    auto tess = tessera::runtime::ConvertOnnxFile(onnx_path, options != nullptr ? options->options : defaults);
    if (!tess.ok()) return MakeStatus(tess.status());
    return MakeStatus(WriteFile(tess_path, *tess));
  });
}

int32_t TsrOnnxImportAvailable(void) { return tessera::graph::OnnxImportAvailable() ? 1 : 0; }

size_t TsrModelGetInputCount(const TsrModel* m) { return m == nullptr ? 0 : m->model->graph().inputs.size(); }
size_t TsrModelGetOutputCount(const TsrModel* m) { return m == nullptr ? 0 : m->model->graph().outputs.size(); }
TsrStatus* TsrModelGetInputInfo(const TsrModel* m, size_t i, TsrValueInfo* out) {
  return Guard([&] { return GetValueInfo(m, i, true, out); });
}
TsrStatus* TsrModelGetOutputInfo(const TsrModel* m, size_t i, TsrValueInfo* out) {
  return Guard([&] { return GetValueInfo(m, i, false, out); });
}

size_t TsrModelGetNodeCount(const TsrModel* m) { return m == nullptr ? 0 : m->model->graph().nodes.size(); }

TsrStatus* TsrModelGetNodeInfo(const TsrModel* m, size_t index, TsrNodeInfo* out) {
  return Guard([&]() -> TsrStatus* {
    if (m == nullptr || out == nullptr) return NullArgument("TsrModelGetNodeInfo", "model or out");
    const auto& nodes = m->model->graph().nodes;
    if (index >= nodes.size()) {
      return MakeStatus(StatusCode::kInvalidArgument, "node index " + std::to_string(index) + " out of range (" +
                                                          std::to_string(nodes.size()) + ")");
    }
    const tessera::graph::Node& n = nodes[index];
    out->name = n.name.c_str();
    out->op_type = n.op_type.c_str();
    out->domain = n.domain.c_str();
    out->version = n.version;
    out->num_inputs = m->nodes[index].inputs.size();
    out->input_names = m->nodes[index].inputs.data();
    out->num_outputs = m->nodes[index].outputs.size();
    out->output_names = m->nodes[index].outputs.data();
    return nullptr;
  });
}

size_t TsrModelGetOptimizationCount(const TsrModel* m) {
  return m == nullptr ? 0 : m->model->optimize_report().passes.size();
}

TsrStatus* TsrModelGetOptimization(const TsrModel* m, size_t index, TsrOptimizationInfo* out) {
  return Guard([&]() -> TsrStatus* {
    if (m == nullptr || out == nullptr) return NullArgument("TsrModelGetOptimization", "model or out");
    const auto& passes = m->model->optimize_report().passes;
    if (index >= passes.size()) {
      return MakeStatus(StatusCode::kInvalidArgument, "optimization index " + std::to_string(index) +
                                                          " out of range (" + std::to_string(passes.size()) + ")");
    }
    // The report is part of the immutable model, so the name outlives it.
    out->pass = passes[index].pass.c_str();
    out->rewrites = passes[index].rewrites;
    out->nodes_before = passes[index].nodes_before;
    out->nodes_after = passes[index].nodes_after;
    return nullptr;
  });
}

size_t TsrModelGetMetadataCount(const TsrModel* m) { return m == nullptr ? 0 : m->model->graph().metadata.size(); }

TsrStatus* TsrModelGetMetadata(const TsrModel* m, size_t index, const char** key, const char** value) {
  return Guard([&]() -> TsrStatus* {
    if (m == nullptr || key == nullptr || value == nullptr) return NullArgument("TsrModelGetMetadata", "argument");
    const auto& md = m->model->graph().metadata;
    if (index >= md.size()) {
      return MakeStatus(StatusCode::kInvalidArgument, "metadata index " + std::to_string(index) + " out of range");
    }
    *key = md[index].first.c_str();
    *value = md[index].second.c_str();
    return nullptr;
  });
}

TsrStatus* TsrModelGetStats(const TsrModel* m, const char* const* dim_names, const int64_t* dim_values,
                            size_t num_dims, TsrModelStats* out) {
  return Guard([&]() -> TsrStatus* {
    if (m == nullptr || out == nullptr) return NullArgument("TsrModelGetStats", "model or out");
    if (num_dims > 0 && (dim_names == nullptr || dim_values == nullptr)) {
      return NullArgument("TsrModelGetStats", "dim_names or dim_values");
    }
    const tessera::runtime::Model& model = *m->model;
    const tessera::graph::Graph& g = model.graph();
    *out = TsrModelStats{};
    for (const tessera::graph::Value& v : g.values) {
      if (!v.is_constant) continue;
      out->parameter_count += v.constant.NumElements();
      out->parameter_bytes += static_cast<int64_t>(v.constant.ByteSize());
    }
    std::vector<std::pair<std::string, int64_t>> dims;
    for (size_t i = 0; i < num_dims; ++i) {
      if (dim_names[i] == nullptr) return NullArgument("TsrModelGetStats", "a dim name");
      if (dim_values[i] < 0) {
        return MakeStatus(StatusCode::kInvalidArgument,
                          std::string("dim '") + dim_names[i] + "' must be >= 0, got " + std::to_string(dim_values[i]));
      }
      dims.emplace_back(dim_names[i], dim_values[i]);
    }
    auto shapes = model.BindInputShapes(dims);
    if (!shapes.ok()) return MakeStatus(shapes.status());
    auto infos = model.InferStaticShapes(*shapes);
    if (!infos.ok()) return MakeStatus(infos.status());
    const tessera::graph::MemoryPlan plan = tessera::graph::PlanMemory(g, *infos, model.reachability());
    out->activation_bytes_planned = plan.arena_bytes;
    out->activation_bytes_unplanned = plan.unplanned_bytes;
    out->num_intermediates = plan.num_intermediates;
    return nullptr;
  });
}

TsrStatus* TsrSessionOptionsCreate(TsrSessionOptions** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrSessionOptionsCreate", "out");
    *out = new TsrSessionOptions();
    return nullptr;
  });
}
void TsrSessionOptionsRelease(TsrSessionOptions* options) { delete options; }

TsrStatus* TsrSessionOptionsSetThreadCount(TsrSessionOptions* options, int32_t threads) {
  if (options == nullptr) return NullArgument("TsrSessionOptionsSetThreadCount", "options");
  if (threads < 0) {
    return MakeStatus(StatusCode::kInvalidArgument,
                      "thread count must be >= 0 (0 = all cores), got " + std::to_string(threads));
  }
  options->options.threads = threads;
  return nullptr;
}

TsrStatus* TsrSessionOptionsSetProfiling(TsrSessionOptions* options, int32_t enabled) {
  if (options == nullptr) return NullArgument("TsrSessionOptionsSetProfiling", "options");
  options->options.profiling = enabled != 0;
  return nullptr;
}

TsrStatus* TsrSessionOptionsAddState(TsrSessionOptions* options, const char* output_name, const char* input_name) {
  return Guard([&]() -> TsrStatus* {
    if (options == nullptr) return NullArgument("TsrSessionOptionsAddState", "options");
    if (output_name == nullptr) return NullArgument("TsrSessionOptionsAddState", "output_name");
    if (input_name == nullptr) return NullArgument("TsrSessionOptionsAddState", "input_name");
    options->options.state.push_back(tessera::runtime::StateBinding{output_name, input_name});
    return nullptr;
  });
}

TsrStatus* TsrSessionResetState(TsrSession* session) {
  if (session == nullptr) return NullArgument("TsrSessionResetState", "session");
  session->session->ResetState();
  return nullptr;
}

TsrStatus* TsrSessionCancel(TsrSession* session) {
  if (session == nullptr) return NullArgument("TsrSessionCancel", "session");
  session->session->Cancel();
  return nullptr;
}

TsrStatus* TsrSessionCreate(const TsrModel* model, const TsrSessionOptions* options, TsrSession** out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrSessionCreate", "out");
    *out = nullptr;
    if (model == nullptr) return NullArgument("TsrSessionCreate", "model");
    const tessera::runtime::SessionOptions defaults;
    auto s = std::make_unique<TsrSession>();
    s->session = std::make_unique<tessera::runtime::Session>(model->model,
                                                             options != nullptr ? options->options : defaults);
    *out = s.release();
    return nullptr;
  });
}

void TsrSessionRelease(TsrSession* session) { delete session; }

TsrStatus* TsrSessionRun(TsrSession* session, const char* const* input_names, const TsrTensor* const* inputs,
                         size_t num_inputs, const char* const* output_names, size_t num_outputs,
                         TsrTensor** outputs) {
  return Guard([&]() -> TsrStatus* {
    if (session == nullptr) return NullArgument("TsrSessionRun", "session");
    if (num_inputs > 0 && (input_names == nullptr || inputs == nullptr)) {
      return NullArgument("TsrSessionRun", "input_names or inputs");
    }
    if (num_outputs > 0 && (output_names == nullptr || outputs == nullptr)) {
      return NullArgument("TsrSessionRun", "output_names or outputs");
    }
    std::vector<std::pair<std::string, const tessera::Tensor*>> ins;
    for (size_t i = 0; i < num_inputs; ++i) {
      if (input_names[i] == nullptr || inputs[i] == nullptr) {
        return MakeStatus(StatusCode::kInvalidArgument, "TsrSessionRun: input " + std::to_string(i) + " is NULL");
      }
      ins.emplace_back(input_names[i], &inputs[i]->view);
    }
    std::vector<std::string> outs;
    for (size_t i = 0; i < num_outputs; ++i) {
      if (output_names[i] == nullptr) {
        return MakeStatus(StatusCode::kInvalidArgument,
                          "TsrSessionRun: output name " + std::to_string(i) + " is NULL");
      }
      outs.emplace_back(output_names[i]);
      outputs[i] = nullptr;
    }
    std::vector<tessera::OwnedTensor> results;
    const Status status = session->session->Run(ins, outs, &results);
    if (!status.ok()) return MakeStatus(status);
    for (size_t i = 0; i < num_outputs; ++i) {
      auto t = std::make_unique<TsrTensor>();
      t->owned = std::move(results[i]);
      t->view = t->owned.view;
      outputs[i] = t.release();
    }
    return nullptr;
  });
}

size_t TsrSessionGetProfileCount(const TsrSession* s) { return s == nullptr ? 0 : s->session->profile().size(); }

TsrStatus* TsrSessionGetProfileRecord(const TsrSession* s, size_t index, TsrNodeProfile* out) {
  return Guard([&]() -> TsrStatus* {
    if (s == nullptr || out == nullptr) return NullArgument("TsrSessionGetProfileRecord", "session or out");
    const auto& records = s->session->profile();
    if (index >= records.size()) {
      return MakeStatus(StatusCode::kInvalidArgument, "profile index " + std::to_string(index) + " out of range");
    }
    const tessera::runtime::ProfileRecord& r = records[index];
    const tessera::graph::Node& node = s->session->model().graph().nodes[static_cast<size_t>(r.node)];
    out->node_name = node.name.c_str();
    out->op_type = node.op_type.c_str();
    out->start_ns = r.start_ns;
    out->duration_ns = r.duration_ns;
    out->thread_index = r.thread_index;
    out->flops = r.cost.flops;
    out->bytes = r.cost.bytes_read + r.cost.bytes_written;
    out->bytes_read = r.cost.bytes_read;
    out->bytes_written = r.cost.bytes_written;
    out->node_index = r.node;
    out->domain = node.domain.c_str();
    const auto& shapes = s->session->node_input_shapes()[static_cast<size_t>(r.node)];
    out->num_inputs = shapes.dims.size();
    out->input_ranks = shapes.ranks.data();
    out->input_dims = shapes.dims.data();
    return nullptr;
  });
}

TsrStatus* TsrGetMachineInfo(TsrMachineInfo* out) {
  return Guard([&]() -> TsrStatus* {
    if (out == nullptr) return NullArgument("TsrGetMachineInfo", "out");
    const auto& info = tessera::runtime::GetMachineInfo();
    if (!info.ok()) return MakeStatus(info.status());
    const tessera::runtime::MachineInfo& m = info.value();
    // GetMachineInfo's result lives as long as the process, so these
    // strings are static, as the header promises.
    out->simd_target = m.simd_target.c_str();
    out->supported_targets = m.supported_targets.c_str();
    out->vector_bits = m.vector_bits;
    out->cores = m.cores;
    out->peak_gflops_1thread = m.peak_gflops_1thread;
    out->peak_gflops = m.peak_gflops;
    out->bandwidth_gbs_1thread = m.bandwidth_gbs_1thread;
    out->bandwidth_gbs = m.bandwidth_gbs;
    out->measure_seconds = m.measure_seconds;
    return nullptr;
  });
}

}  // extern "C"
