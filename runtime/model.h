// A loaded model: the validated graph plus one prepared kernel per node.
// Immutable after Load and shared by every session (through shared_ptr).
#ifndef TESSERA_RUNTIME_MODEL_H_
#define TESSERA_RUNTIME_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/loader.h"
#include "graph/memory_plan.h"
#include "graph/passes/optimize.h"
#include "runtime/core/op.h"

namespace tessera::runtime {

class PluginSet;

struct ModelOptions {
  graph::LoadOptions load;
  // Plugin libraries whose ops the model may use, loaded into a registry
  // layered over load.registry (or the built-ins). The paths in the
  // TESSERA_PLUGINS environment variable are loaded first when
  // plugins_from_env is set.
  std::vector<std::string> plugins;
  bool plugins_from_env = true;
  // Graph optimizations (graph/passes/optimize.h) after validation; on
  // unless TESSERA_OPTIMIZE is 0, off or false.
  bool optimize = graph::OptimizeFromEnvironment();
};

class Model {
 public:
  static StatusOr<std::shared_ptr<const Model>> LoadFromFile(const std::string& path, const ModelOptions& options);
  // `source_name` names the model in messages.
  static StatusOr<std::shared_ptr<const Model>> LoadFromBuffer(const void* data, size_t size,
                                                               const ModelOptions& options,
                                                               const std::string& source_name = "<buffer>");
  // An ONNX model (.onnx), converted in memory (graph/onnx/onnx_importer.h)
  // and then loaded like a .tess file. Its ops are checked against the
  // built-ins plus the plugins `options` loads.
  static StatusOr<std::shared_ptr<const Model>> LoadFromOnnxFile(const std::string& path,
                                                                 const ModelOptions& options);
  static StatusOr<std::shared_ptr<const Model>> LoadFromOnnxBuffer(const void* data, size_t size,
                                                                   const ModelOptions& options);

  const graph::Graph& graph() const { return *graph_; }
  const Kernel& kernel(size_t node) const { return *kernels_[node]; }
  const graph::Reachability& reachability() const { return reachability_; }

  // Binds dynamic dims by name and infers static shapes of every value for
  // the given graph-input shapes (one per graph input, in order).
  StatusOr<std::vector<TensorInfo>> InferStaticShapes(const std::vector<Shape>& input_shapes) const;
  // Input shapes from dim bindings alone (for statistics without data):
  // fails naming the input and dim that is dynamic and unbound.
  StatusOr<std::vector<Shape>> BindInputShapes(const std::vector<std::pair<std::string, int64_t>>& dims) const;

  // What the graph optimizations did at load (empty when they were off or
  // nothing applied).
  const graph::OptimizeReport& optimize_report() const { return optimize_report_; }

  // The plugins loaded for this model; nullptr when none.
  const PluginSet* plugins() const { return plugins_.get(); }

  // The limits it was loaded with; sessions check their plans against them.
  const graph::ModelLimits& limits() const { return limits_; }

 private:
  Model(std::unique_ptr<graph::Graph> graph);
  Status CreateKernels();

  // First, so it is destroyed last: the graph points at its OpDefs.
  std::shared_ptr<const PluginSet> plugins_;
  std::unique_ptr<graph::Graph> graph_;
  std::vector<std::unique_ptr<Kernel>> kernels_;
  graph::Reachability reachability_;
  graph::OptimizeReport optimize_report_;
  graph::ModelLimits limits_;
};

// Converts an ONNX model file to .tess bytes, with the ops of the built-ins
// and the plugins `options` loads, and checks the result by loading it
// (shape inference and kernel creation included): a model that converts
// also loads.
StatusOr<std::vector<uint8_t>> ConvertOnnxFile(const std::string& path, const ModelOptions& options);

}  // namespace tessera::runtime

#endif  // TESSERA_RUNTIME_MODEL_H_
