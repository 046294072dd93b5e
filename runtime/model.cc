#include "runtime/model.h"

#include <map>

#include "graph/onnx/onnx_importer.h"
#include "graph/shape_inference.h"
#include "runtime/plugin_loader.h"

namespace tessera::runtime {

Model::Model(std::unique_ptr<graph::Graph> graph) : graph_(std::move(graph)), reachability_(*graph_) {}

Status Model::CreateKernels() {
  std::vector<TensorInfo> infos;
  for (const graph::Value& v : graph_->values) infos.push_back(v.info);
  for (const graph::Node& node : graph_->nodes) {
    OpContext ctx = graph::MakeOpContext(*graph_, node, infos);
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o] >= 0) ctx.outputs[o] = infos[static_cast<size_t>(node.outputs[o])];
    }
    auto kernel = node.def->create_kernel(ctx);
    if (!kernel.ok()) return kernel.status().WithContext(graph::NodeLabel(node));
    kernels_.push_back(std::move(kernel).value());
  }
  return Status::Ok();
}

namespace {

// Loads the plugins `options` asks for (TESSERA_PLUGINS first, then the
// explicit list) and points `load` at their registry; nullptr when none.
StatusOr<std::shared_ptr<const PluginSet>> LoadPlugins(const ModelOptions& options, graph::LoadOptions* load) {
  std::vector<std::string> paths;
  if (options.plugins_from_env) paths = PluginPathsFromEnvironment();
  paths.insert(paths.end(), options.plugins.begin(), options.plugins.end());
  if (paths.empty()) return std::shared_ptr<const PluginSet>();
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const PluginSet> plugins, PluginSet::Load(paths, options.load.registry));
  load->registry = &plugins->registry();
  return plugins;
}

// The loader reports an op nobody provides as kNotFound "unknown op ...";
// the plugin layer knows what was loaded and how to load more, so it adds
// that here rather than teaching graph/ about plugins.
Status AddPluginHint(const Status& status, const PluginSet* plugins) {
  if (status.ok() || status.code() != StatusCode::kNotFound ||
      status.message().find("unknown op '") == std::string::npos) {
    return status;
  }
  return Status(status.code(), status.message() + "; plugins loaded: " +
                                   (plugins != nullptr ? plugins->Describe() : std::string("none")) +
                                   "; load the plugin that provides it (tessera --plugin PATH, "
                                   "TsrModelOptionsAddPlugin, or " + kPluginPathEnv + ")");
}

// The graph optimizations `options` asks for, before the Model (whose
// reachability and kernels are the final graph's) is made.
StatusOr<graph::OptimizeReport> Optimize(graph::Graph& graph, const graph::LoadOptions& load,
                                         const ModelOptions& options, const std::string& source) {
  graph::OptimizeReport report;
  if (!options.optimize) return report;
  const OpRegistry& registry = load.registry != nullptr ? *load.registry : BuiltinOpRegistry();
  const Status status = graph::OptimizeGraph(graph, registry, &report);
  if (!status.ok()) {
    return Status(status.code(), source + ": " + status.message() +
                                     " (load with optimizations off to avoid it: --no-optimize, TESSERA_OPTIMIZE=0 "
                                     "or TsrModelOptionsSetOptimize)");
  }
  return report;
}

}  // namespace

StatusOr<std::shared_ptr<const Model>> Model::LoadFromFile(const std::string& path, const ModelOptions& options) {
  graph::LoadOptions load = options.load;
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const PluginSet> plugins, LoadPlugins(options, &load));
  auto graph = graph::LoadGraphFromFile(path, load);
  if (!graph.ok()) return AddPluginHint(graph.status(), plugins.get());
  TSR_ASSIGN_OR_RETURN(graph::OptimizeReport report, Optimize(*graph.value(), load, options, path));
  std::shared_ptr<Model> model(new Model(std::move(graph).value()));
  model->plugins_ = std::move(plugins);
  model->optimize_report_ = std::move(report);
  model->limits_ = options.load.limits;
  TSR_RETURN_IF_ERROR(model->CreateKernels().WithContext(path));
  return std::shared_ptr<const Model>(std::move(model));
}

StatusOr<std::shared_ptr<const Model>> Model::LoadFromBuffer(const void* data, size_t size,
                                                            const ModelOptions& options,
                                                            const std::string& source_name) {
  graph::LoadOptions load = options.load;
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const PluginSet> plugins, LoadPlugins(options, &load));
  auto graph = graph::LoadGraphFromBuffer(data, size, load, source_name);
  if (!graph.ok()) return AddPluginHint(graph.status(), plugins.get());
  TSR_ASSIGN_OR_RETURN(graph::OptimizeReport report, Optimize(*graph.value(), load, options, source_name));
  std::shared_ptr<Model> model(new Model(std::move(graph).value()));
  model->plugins_ = std::move(plugins);
  model->optimize_report_ = std::move(report);
  model->limits_ = options.load.limits;
  TSR_RETURN_IF_ERROR(model->CreateKernels().WithContext(source_name));
  return std::shared_ptr<const Model>(std::move(model));
}

namespace {

// Converts ONNX bytes with the ops of the built-ins and of the plugins that
// `options` names (loaded here for the check, and again by the load).
StatusOr<std::vector<uint8_t>> ConvertOnnx(const void* data, size_t size, const std::string& source,
                                           const ModelOptions& options) {
  graph::LoadOptions load = options.load;
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const PluginSet> plugins, LoadPlugins(options, &load));
  graph::OnnxImportOptions import;
  import.registry = load.registry;
  import.source_name = source;
  return graph::ConvertOnnxToTess(data, size, import);
}

}  // namespace

StatusOr<std::shared_ptr<const Model>> Model::LoadFromOnnxFile(const std::string& path,
                                                              const ModelOptions& options) {
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> onnx, graph::ReadOnnxFile(path));
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> tess, ConvertOnnx(onnx.data(), onnx.size(), path, options));
  return Model::LoadFromBuffer(tess.data(), tess.size(), options, path);
}

StatusOr<std::shared_ptr<const Model>> Model::LoadFromOnnxBuffer(const void* data, size_t size,
                                                                const ModelOptions& options) {
  const std::string source = "<onnx buffer>";
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> tess, ConvertOnnx(data, size, source, options));
  return Model::LoadFromBuffer(tess.data(), tess.size(), options, source);
}

StatusOr<std::vector<uint8_t>> ConvertOnnxFile(const std::string& path, const ModelOptions& options) {
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> onnx, graph::ReadOnnxFile(path));
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> tess, ConvertOnnx(onnx.data(), onnx.size(), path, options));
  // Graph optimizations (issue 8) are applied when the .tess is loaded, so
  // the converted file keeps the ONNX graph as exported.
  TSR_RETURN_IF_ERROR(Model::LoadFromBuffer(tess.data(), tess.size(), options, path).status());
  return tess;
}

StatusOr<std::vector<TensorInfo>> Model::InferStaticShapes(const std::vector<Shape>& input_shapes) const {
  const graph::Graph& g = *graph_;
  std::vector<TensorInfo> infos;
  infos.reserve(g.values.size());
  for (const graph::Value& v : g.values) infos.push_back(v.info);
  // Named dims must agree across inputs ("batch" is one number per run).
  std::map<std::string, std::pair<int64_t, std::string>> bound;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const graph::Value& v = g.values[static_cast<size_t>(g.inputs[i])];
    const Shape& shape = input_shapes[i];
    if (shape.size() != v.info.shape.size()) {
      return Error(StatusCode::kInvalidArgument, "input '", v.name, "' has rank ", shape.size(), " (shape ",
                   ShapeToString(shape), "), expected rank ", v.info.shape.size(), " (shape ",
                   ShapeToString(v.info.shape), ")");
    }
    for (size_t d = 0; d < shape.size(); ++d) {
      const int64_t declared = v.info.shape[d];
      if (shape[d] < 0) {
        return Error(StatusCode::kInvalidArgument, "input '", v.name, "' has negative dim ", d);
      }
      if (declared >= 0 && declared != shape[d]) {
        return Error(StatusCode::kInvalidArgument, "input '", v.name, "' has shape ", ShapeToString(shape),
                     ", expected ", ShapeToString(v.info.shape), " (dim ", d, " must be ", declared, ")");
      }
      const std::string& name = d < v.dim_names.size() ? v.dim_names[d] : std::string();
      if (declared < 0 && !name.empty()) {
        auto [it, inserted] = bound.emplace(name, std::make_pair(shape[d], v.name));
        if (!inserted && it->second.first != shape[d]) {
          return Error(StatusCode::kInvalidArgument, "dim '", name, "' is ", shape[d], " in input '", v.name,
                       "' but ", it->second.first, " in input '", it->second.second, "'");
        }
      }
    }
    infos[static_cast<size_t>(g.inputs[i])].shape = shape;
  }
  TSR_RETURN_IF_ERROR(graph::InferShapes(g, infos, nullptr, /*require_static=*/true));
  return infos;
}

StatusOr<std::vector<Shape>> Model::BindInputShapes(const std::vector<std::pair<std::string, int64_t>>& dims) const {
  std::vector<Shape> shapes;
  for (int index : graph_->inputs) {
    const graph::Value& v = graph_->values[static_cast<size_t>(index)];
    Shape shape = v.info.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] >= 0) continue;
      const std::string& name = v.dim_names[d];
      for (const auto& [dim_name, value] : dims) {
        if (!name.empty() && dim_name == name) shape[d] = value;
      }
      if (shape[d] < 0) {
        return Error(StatusCode::kInvalidArgument, "input '", v.name, "' dim ", d,
                     name.empty() ? std::string(" is dynamic and unnamed") : " ('" + name + "') is not bound",
                     "; give its size");
      }
    }
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

}  // namespace tessera::runtime
