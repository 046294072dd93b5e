// The model fuzz target's body (fuzz_run_model.h): model bytes -> verified,
// validated, planned model -> one run.
//
// Each input is loaded like an untrusted .tess file (FlatBuffers
// verification, semantic checks, shape inference, kernel creation and
// weight packing). When it loads, every dynamic input dim is bound to a
// small size (0 to 3, derived from the input's bytes, one size per dim
// name) and the model runs once on one thread on deterministic pseudo-random
// inputs: floats in [-2, 2], integers in [-2, 5] (so index inputs are
// sometimes out of range). Every outcome but a crash, a sanitizer report or
// a leak is fine: a refusal must simply be a Status.
//
// The limits are small so that no input can make one run allocate or
// compute much (libFuzzer's -rss_limit_mb and -timeout would call that a
// bug): no tensor over 2^16 elements, no run planning over 16 MiB.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/fuzz/fuzz_run_model.h"

namespace tessera::fuzz {
namespace {

using tessera::DType;
using tessera::OwnedTensor;
using tessera::Shape;

tessera::runtime::ModelOptions FuzzOptions() {
  tessera::runtime::ModelOptions options;
  options.plugins_from_env = false;
  tessera::graph::ModelLimits& limits = options.load.limits;
  limits.max_file_bytes = 1 << 20;
  limits.max_rank = 8;
  limits.max_tensor_elements = 1 << 16;
  limits.max_planned_bytes = 16 << 20;
  limits.max_nodes = 1024;
  limits.max_tensors = 4096;
  limits.max_string_bytes = 1024;
  limits.max_attribute_elements = 1024;
  return options;
}

// A small deterministic generator (SplitMix64), seeded from the input so a
// crash reproduces from the file alone.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int64_t Int(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1)); }

 private:
  uint64_t state_;
};

uint64_t Hash(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

void Fill(OwnedTensor& t, Rng& rng) {
  const int64_t n = t.view.NumElements();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.view.dtype) {
      case DType::kF32: t.view.data_as<float>()[i] = static_cast<float>(rng.Int(-2000, 2000)) / 1000.0f; break;
      case DType::kI8: t.view.data_as<int8_t>()[i] = static_cast<int8_t>(rng.Int(-2, 5)); break;
      case DType::kU8: t.view.data_as<uint8_t>()[i] = static_cast<uint8_t>(rng.Int(0, 5)); break;
      case DType::kI32: t.view.data_as<int32_t>()[i] = static_cast<int32_t>(rng.Int(-2, 5)); break;
      case DType::kI64: t.view.data_as<int64_t>()[i] = rng.Int(-2, 5); break;
      case DType::kBool: t.view.data_as<uint8_t>()[i] = static_cast<uint8_t>(rng.Int(0, 1)); break;
      default: std::memset(t.view.data, 0, t.view.ByteSize()); return;
    }
  }
}

}  // namespace

void LoadAndRunModel(const uint8_t* data, size_t size) {
  static const tessera::runtime::ModelOptions options = FuzzOptions();
  auto loaded = tessera::runtime::Model::LoadFromBuffer(data, size, options);
  if (!loaded.ok()) return;
  std::shared_ptr<const tessera::runtime::Model> model = std::move(loaded).value();
  const tessera::graph::Graph& g = model->graph();

  Rng rng(Hash(data, size));
  std::map<std::string, int64_t> bound;  // one size per dim name
  std::vector<OwnedTensor> inputs;
  std::vector<std::pair<std::string, const tessera::Tensor*>> named;
  inputs.reserve(g.inputs.size());
  for (int index : g.inputs) {
    const tessera::graph::Value& v = g.values[static_cast<size_t>(index)];
    Shape shape = v.info.shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] >= 0) continue;
      const std::string& name = d < v.dim_names.size() ? v.dim_names[d] : std::string();
      if (name.empty()) {
        shape[d] = rng.Int(0, 3);
      } else {
        auto it = bound.emplace(name, rng.Int(0, 3)).first;
        shape[d] = it->second;
      }
    }
    // Declared static dims may be large; the limits bound a tensor, and a
    // few such inputs stay small enough to allocate here.
    auto elements = tessera::CheckedNumElements(shape);
    if (!elements.ok() || elements.value() > options.load.limits.max_tensor_elements) return;
    auto tensor = OwnedTensor::Allocate(v.info.dtype, shape);
    if (!tensor.ok()) return;
    inputs.push_back(std::move(tensor).value());
    Fill(inputs.back(), rng);
    named.emplace_back(v.name, &inputs.back().view);
  }
  std::vector<std::string> output_names;
  for (int index : g.outputs) output_names.push_back(g.values[static_cast<size_t>(index)].name);

  tessera::runtime::SessionOptions session_options;
  session_options.threads = 1;
  tessera::runtime::Session session(model, session_options);
  std::vector<OwnedTensor> outputs;
  (void)session.Run(named, output_names, &outputs);
}

}  // namespace tessera::fuzz
