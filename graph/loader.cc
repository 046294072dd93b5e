#include "graph/loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "graph/shape_inference.h"
#include "schemas/tessera_generated.h"

namespace tessera::graph {
namespace {

namespace fbs = ::tessera::schema;

// A read-only private mapping of a whole file.
class MappedFile {
 public:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_;
  size_t size_;
};

Status InvalidModel(const std::string& what) { return Status(StatusCode::kInvalidModel, what); }

// `limit_name` is the ModelLimits field, so a message says which option to
// raise.
Status OverLimit(const std::string& what, uint64_t got, uint64_t limit, const char* limit_name) {
  return Error(StatusCode::kResourceExhausted, what, " is ", got, ", over the limit of ", limit, " (", limit_name, ")");
}

Status CheckFileSize(size_t size, const ModelLimits& limits) {
  if (size > static_cast<uint64_t>(limits.max_file_bytes)) {
    return OverLimit("model size in bytes", size, static_cast<uint64_t>(limits.max_file_bytes), "max_file_bytes");
  }
  return Status::Ok();
}

std::string TensorLabel(size_t index, const std::string& name) {
  return "tensor " + std::to_string(index) + (name.empty() ? std::string() : " '" + name + "'");
}

std::string TensorLabel(size_t index, const fbs::Tensor* t) {
  return TensorLabel(index, t != nullptr && t->name() != nullptr ? t->name()->str() : std::string());
}

// Converts the inline integer data of a constant to its dtype, checking
// that each value fits.
template <typename T>
Status StoreInts(const flatbuffers::Vector<int64_t>& src, void* dst) {
  T* out = static_cast<T*>(dst);
  for (flatbuffers::uoffset_t i = 0; i < src.size(); ++i) {
    const int64_t v = src.Get(i);
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
      return InvalidModel("int_data[" + std::to_string(i) + "] = " + std::to_string(v) + " does not fit the dtype");
    }
    out[i] = static_cast<T>(v);
  }
  return Status::Ok();
}

class Loader {
 public:
  Loader(const uint8_t* data, size_t size, const LoadOptions& options, const OpRegistry& registry)
      : data_(data), size_(size), options_(options), registry_(registry) {}

  Status Load(Graph& graph) {
    TSR_RETURN_IF_ERROR(CheckEnvelope());
    TSR_RETURN_IF_ERROR(ReadTensors(graph));
    TSR_RETURN_IF_ERROR(ReadNodes(graph));
    TSR_RETURN_IF_ERROR(ReadGraphIO(graph));
    TSR_RETURN_IF_ERROR(SortTopologically(graph));
    for (const auto* kv : OrEmpty(model_->metadata())) {
      graph.metadata.emplace_back(kv->key()->str(), kv->value() != nullptr ? kv->value()->str() : "");
    }
    if (model_->producer() != nullptr) graph.producer_name = model_->producer()->str();
    std::vector<TensorInfo> infos;
    for (const Value& v : graph.values) infos.push_back(v.info);
    const std::vector<TensorInfo> declared = infos;
    const Status inferred = InferShapes(graph, infos, &declared, /*require_static=*/false);
    if (!inferred.ok()) {
      // Ops report shape conflicts as invalid arguments; in a file they mean
      // the model itself is inconsistent.
      const StatusCode code =
          inferred.code() == StatusCode::kInvalidArgument ? StatusCode::kInvalidModel : inferred.code();
      return Error(code, inferred.message());
    }
    for (size_t i = 0; i < graph.values.size(); ++i) {
      TSR_RETURN_IF_ERROR(CheckTensorLimit(infos[i].shape, limits(), TensorLabel(i, graph.values[i].name)));
      graph.values[i].info = infos[i];
    }
    return Status::Ok();
  }

 private:
  template <typename T>
  static const flatbuffers::Vector<T>& OrEmpty(const flatbuffers::Vector<T>* v) {
    static const flatbuffers::Vector<T>* const empty = [] {
      // A FlatBuffers vector is its uint32 length followed by elements.
      static const uint32_t zero_length = 0;
      return reinterpret_cast<const flatbuffers::Vector<T>*>(&zero_length);
    }();
    return v != nullptr ? *v : *empty;
  }

  // Every string the loader copies: names, op types, domains, attribute
  // strings, metadata.
  Status CheckString(const flatbuffers::String* str, const std::string& what) const {
    if (str == nullptr || static_cast<int64_t>(str->size()) <= limits().max_string_bytes) return Status::Ok();
    return OverLimit(what + ": length", str->size(), static_cast<uint64_t>(limits().max_string_bytes),
                     "max_string_bytes");
  }

  const ModelLimits& limits() const { return options_.limits; }

  Status CheckEnvelope() {
    TSR_RETURN_IF_ERROR(CheckFileSize(size_, limits()));
    if (size_ < 8) {
      return InvalidModel("file is " + std::to_string(size_) + " bytes, too small to be a Tessera model");
    }
    if (!fbs::ModelBufferHasIdentifier(data_)) {
      std::string id;
      for (int i = 4; i < 8; ++i) {
        const char c = static_cast<char>(data_[i]);
        id += (c >= 32 && c < 127) ? c : '?';
      }
      return InvalidModel("not a Tessera model: file identifier is '" + id + "', expected '" +
                          fbs::ModelIdentifier() + "'");
    }
    // The FlatBuffer itself must lie in the first 2 GiB; the weight segment
    // may extend beyond.
    const size_t fb_size = std::min<size_t>(size_, FLATBUFFERS_MAX_BUFFER_SIZE - 1);
    flatbuffers::Verifier verifier(data_, fb_size, /*max_depth=*/64, /*max_tables=*/10'000'000);
    if (!fbs::VerifyModelBuffer(verifier)) {
      return InvalidModel("FlatBuffers verification failed: the file is truncated or corrupt");
    }
    model_ = fbs::GetModel(data_);
    if (model_->format_major() != kFormatMajor) {
      return InvalidModel("format version " + std::to_string(model_->format_major()) + "." +
                          std::to_string(model_->format_minor()) + " is not supported; this build reads " +
                          std::to_string(kFormatMajor) + ".x");
    }
    const uint64_t num_tensors = OrEmpty(model_->tensors()).size();
    if (num_tensors > static_cast<uint64_t>(limits().max_tensors)) {
      return OverLimit("tensor count", num_tensors, static_cast<uint64_t>(limits().max_tensors), "max_tensors");
    }
    const uint64_t num_nodes = OrEmpty(model_->nodes()).size();
    if (num_nodes > static_cast<uint64_t>(limits().max_nodes)) {
      return OverLimit("node count", num_nodes, static_cast<uint64_t>(limits().max_nodes), "max_nodes");
    }
    TSR_RETURN_IF_ERROR(CheckString(model_->producer(), "producer"));
    for (const auto* kv : OrEmpty(model_->metadata())) {
      TSR_RETURN_IF_ERROR(CheckString(kv->key(), "metadata key"));
      TSR_RETURN_IF_ERROR(CheckString(kv->value(), "metadata '" + kv->key()->str().substr(0, 64) + "'"));
    }
    const uint64_t seg_off = model_->segment_offset();
    const uint64_t seg_size = model_->segment_size();
    if (seg_size > 0) {
      if (seg_off % kTensorAlignment != 0) {
        return InvalidModel("weight segment offset " + std::to_string(seg_off) + " is not 64-byte aligned");
      }
      if (seg_off > size_ || seg_size > size_ - seg_off) {
        return InvalidModel("weight segment [" + std::to_string(seg_off) + ", +" + std::to_string(seg_size) +
                            ") extends past the end of the file (" + std::to_string(size_) + " bytes)");
      }
    }
    return Status::Ok();
  }

  Status ReadShape(const fbs::Tensor* t, Value& value) {
    if (t->shape() == nullptr) return Status::Ok();
    if (t->shape()->size() > static_cast<uint64_t>(limits().max_rank)) {
      return OverLimit("rank", t->shape()->size(), static_cast<uint64_t>(limits().max_rank), "max_rank");
    }
    value.info.has_shape = true;
    for (const fbs::Dim* dim : *t->shape()) {
      if (dim->size() < kDynamicDim) {
        return InvalidModel("dim size " + std::to_string(dim->size()) + " is negative");
      }
      TSR_RETURN_IF_ERROR(CheckString(dim->name(), "dim name"));
      value.info.shape.push_back(dim->size());
      value.dim_names.push_back(dim->name() != nullptr ? dim->name()->str() : "");
    }
    // Before anything is allocated for it (a constant's buffer, a plan).
    return CheckTensorLimit(value.info.shape, limits(), "");
  }

  Status ReadConstant(const fbs::Tensor* t, Value& value, Graph& graph) {
    const int sources = (t->data() != nullptr) + (t->float_data() != nullptr) + (t->int_data() != nullptr);
    if (sources == 0) return Status::Ok();
    if (sources > 1) return InvalidModel("has more than one of data, float_data and int_data");
    if (!value.info.has_shape || !IsStatic(value.info.shape)) {
      return InvalidModel("is a constant but its shape is not fully known");
    }
    TSR_ASSIGN_OR_RETURN(int64_t bytes, CheckedByteSize(value.info.dtype, value.info.shape));
    const int64_t count = NumElements(value.info.shape);
    value.is_constant = true;
    value.constant = Tensor{value.info.dtype, value.info.shape, nullptr};
    if (const fbs::DataRef* ref = t->data()) {
      const uint64_t seg_size = model_->segment_size();
      if (ref->offset() % kTensorAlignment != 0) {
        return InvalidModel("data offset " + std::to_string(ref->offset()) + " is not 64-byte aligned");
      }
      if (ref->offset() > seg_size || ref->size() > seg_size - ref->offset()) {
        return InvalidModel("data [" + std::to_string(ref->offset()) + ", +" + std::to_string(ref->size()) +
                            ") lies outside the weight segment (" + std::to_string(seg_size) + " bytes)");
      }
      if (ref->size() != static_cast<uint64_t>(bytes)) {
        return InvalidModel("data is " + std::to_string(ref->size()) + " bytes but dtype " +
                            DTypeName(value.info.dtype) + " and shape " + ShapeToString(value.info.shape) +
                            " need " + std::to_string(bytes));
      }
      // Zero-copy: the constant points into the mapped file.
      value.constant.data = const_cast<uint8_t*>(data_ + model_->segment_offset() + ref->offset());
      return Status::Ok();
    }
    const uint32_t given = t->float_data() != nullptr ? t->float_data()->size() : t->int_data()->size();
    if (static_cast<int64_t>(given) != count) {
      return InvalidModel("has " + std::to_string(given) + " inline values but shape " +
                          ShapeToString(value.info.shape) + " needs " + std::to_string(count));
    }
    TSR_ASSIGN_OR_RETURN(AlignedBuffer buffer, AlignedBuffer::Allocate(static_cast<size_t>(bytes)));
    if (t->float_data() != nullptr) {
      if (value.info.dtype != DType::kF32) {
        return InvalidModel(std::string("has float_data but dtype ") + DTypeName(value.info.dtype));
      }
      if (count > 0) std::memcpy(buffer.data(), t->float_data()->data(), static_cast<size_t>(bytes));
    } else {
      const auto& ints = *t->int_data();
      Status s;
      switch (value.info.dtype) {
        case DType::kI8: s = StoreInts<int8_t>(ints, buffer.data()); break;
        case DType::kU8: s = StoreInts<uint8_t>(ints, buffer.data()); break;
        case DType::kI32: s = StoreInts<int32_t>(ints, buffer.data()); break;
        case DType::kI64: s = StoreInts<int64_t>(ints, buffer.data()); break;
        case DType::kBool: s = StoreInts<uint8_t>(ints, buffer.data()); break;
        default:
          return InvalidModel(std::string("has int_data but dtype ") + DTypeName(value.info.dtype));
      }
      TSR_RETURN_IF_ERROR(s);
      if (value.info.dtype == DType::kBool) {
        for (int64_t i = 0; i < count; ++i) {
          if (static_cast<uint8_t*>(buffer.data())[i] > 1) return InvalidModel("bool int_data holds a value other than 0 or 1");
        }
      }
    }
    value.constant.data = buffer.data();
    graph.owned_constants.push_back(std::move(buffer));
    return Status::Ok();
  }

  Status ReadTensors(Graph& graph) {
    const auto& tensors = OrEmpty(model_->tensors());
    std::map<std::string, size_t> names;
    for (flatbuffers::uoffset_t i = 0; i < tensors.size(); ++i) {
      const fbs::Tensor* t = tensors.Get(i);
      TSR_RETURN_IF_ERROR(CheckString(t->name(), "tensor " + std::to_string(i) + ": name"));
      Value value;
      value.name = t->name()->str();
      const std::string label = TensorLabel(i, t);
      if (value.name.empty()) return InvalidModel(label + " has an empty name");
      auto [it, inserted] = names.emplace(value.name, i);
      if (!inserted) {
        return InvalidModel(label + ": name already used by tensor " + std::to_string(it->second));
      }
      const int32_t dtype = static_cast<int32_t>(t->dtype());
      // UNKNOWN (0) is allowed for intermediates, whose dtype is inferred.
      if (dtype != 0 && !IsValidDType(dtype)) {
        return InvalidModel(label + ": unknown dtype value " + std::to_string(dtype));
      }
      value.info.dtype = static_cast<DType>(dtype);
      Status s = ReadShape(t, value);
      if (s.ok()) s = ReadConstant(t, value, graph);
      if (s.ok() && value.is_constant && dtype == 0) s = InvalidModel("constant has no dtype");
      if (!s.ok()) return s.WithContext(label);
      graph.values.push_back(std::move(value));
    }
    return Status::Ok();
  }

  Status CheckIndex(int32_t index, bool allow_omitted, const std::string& what) const {
    const int64_t n = static_cast<int64_t>(OrEmpty(model_->tensors()).size());
    if ((index == -1 && allow_omitted) || (index >= 0 && index < n)) return Status::Ok();
    return InvalidModel(what + " refers to tensor " + std::to_string(index) + ", but the model has " +
                        std::to_string(n) + " tensors");
  }

  Status ReadAttribute(const fbs::Attribute* a, AttributeMap& attrs) {
    TSR_RETURN_IF_ERROR(CheckString(a->name(), "attribute name"));
    const std::string name = a->name()->str();
    TSR_RETURN_IF_ERROR(CheckString(a->s(), "attribute '" + name + "'"));
    const uint64_t elements = std::max({a->ints() != nullptr ? a->ints()->size() : 0u,
                                        a->floats() != nullptr ? a->floats()->size() : 0u,
                                        a->strings() != nullptr ? a->strings()->size() : 0u});
    if (elements > static_cast<uint64_t>(limits().max_attribute_elements)) {
      return OverLimit("attribute '" + name + "': element count", elements,
                       static_cast<uint64_t>(limits().max_attribute_elements), "max_attribute_elements");
    }
    for (const auto* str : OrEmpty(a->strings())) {
      TSR_RETURN_IF_ERROR(CheckString(str, "attribute '" + name + "'"));
    }
    if (attrs.Has(name)) return InvalidModel("attribute '" + name + "' appears twice");
    Attribute value;
    switch (a->type()) {
      case fbs::AttributeType::INT: value = Attribute::Int(a->i()); break;
      case fbs::AttributeType::FLOAT: value = Attribute::Float(a->f()); break;
      case fbs::AttributeType::STRING:
        value = Attribute::String(a->s() != nullptr ? a->s()->str() : "");
        break;
      case fbs::AttributeType::INTS:
        value = Attribute::Ints(a->ints() != nullptr ? std::vector<int64_t>(a->ints()->begin(), a->ints()->end())
                                                     : std::vector<int64_t>{});
        break;
      case fbs::AttributeType::FLOATS:
        value = Attribute::Floats(a->floats() != nullptr
                                      ? std::vector<float>(a->floats()->begin(), a->floats()->end())
                                      : std::vector<float>{});
        break;
      case fbs::AttributeType::STRINGS: {
        std::vector<std::string> strings;
        for (const auto* s : OrEmpty(a->strings())) strings.push_back(s->str());
        value = Attribute::Strings(std::move(strings));
        break;
      }
      default:
        return InvalidModel("attribute '" + name + "' has unknown type " +
                            std::to_string(static_cast<int32_t>(a->type())));
    }
    attrs.Set(name, std::move(value));
    return Status::Ok();
  }

  Status ResolveOp(Node& node) {
    node.def = registry_.Find(node.domain, node.op_type, node.version);
    if (node.def != nullptr) return Status::Ok();
    const std::vector<const OpDef*> others = registry_.FindAll(node.domain, node.op_type);
    std::string domain = node.domain.empty() ? "ai.onnx" : node.domain;
    if (others.empty()) {
      return Error(StatusCode::kNotFound, "unknown op '", node.op_type, "' in domain '", domain,
                   "' (no registered op or loaded plugin provides it)");
    }
    std::string versions;
    for (const OpDef* d : others) versions += (versions.empty() ? "" : ", ") + d->DisplayName();
    return Error(StatusCode::kUnimplemented, "op '", node.op_type, "' version ", node.version,
                 " is not supported; registered: ", versions);
  }

  Status ReadNodes(Graph& graph) {
    const auto& nodes = OrEmpty(model_->nodes());
    for (flatbuffers::uoffset_t i = 0; i < nodes.size(); ++i) {
      const fbs::Node* n = nodes.Get(i);
      const std::string where = "node " + std::to_string(i);
      TSR_RETURN_IF_ERROR(CheckString(n->name(), where + ": name"));
      TSR_RETURN_IF_ERROR(CheckString(n->op_type(), where + ": op type"));
      TSR_RETURN_IF_ERROR(CheckString(n->domain(), where + ": domain"));
      Node node;
      node.file_index = static_cast<int>(i);
      node.name = n->name() != nullptr ? n->name()->str() : "";
      node.op_type = n->op_type()->str();
      node.domain = CanonicalDomain(n->domain() != nullptr ? n->domain()->str() : "");
      node.version = n->version();
      const std::string label = NodeLabel(node);
      for (int32_t v : OrEmpty(n->inputs())) {
        TSR_RETURN_IF_ERROR(CheckIndex(v, true, label + ": input " + std::to_string(node.inputs.size())));
        node.inputs.push_back(v);
      }
      for (int32_t v : OrEmpty(n->outputs())) {
        TSR_RETURN_IF_ERROR(CheckIndex(v, true, label + ": output " + std::to_string(node.outputs.size())));
        if (v >= 0) {
          Value& value = graph.values[static_cast<size_t>(v)];
          if (value.is_constant) {
            return InvalidModel(label + ": output '" + value.name + "' is a constant tensor");
          }
          const int this_node = static_cast<int>(graph.nodes.size());  // pushed below
          if (value.producer == this_node) {
            // Before the check below, which would look up this node among
            // those already read (found by model_fuzz).
            return InvalidModel(label + ": output '" + value.name + "' is listed twice");
          }
          if (value.producer >= 0) {
            return InvalidModel(label + ": output '" + value.name + "' is already produced by " +
                                NodeLabel(graph.nodes[static_cast<size_t>(value.producer)]));
          }
          value.producer = this_node;
        }
        node.outputs.push_back(v);
      }
      Status s = ResolveOp(node);
      for (size_t k = 0; s.ok() && k < OrEmpty(n->attributes()).size(); ++k) {
        s = ReadAttribute(OrEmpty(n->attributes()).Get(static_cast<flatbuffers::uoffset_t>(k)), node.attrs);
      }
      if (s.ok()) s = CheckAndFillAttributes(*node.def, node.attrs);
      if (!s.ok()) return s.WithContext(label);
      graph.nodes.push_back(std::move(node));
    }
    return Status::Ok();
  }

  Status ReadGraphIO(Graph& graph) {
    for (int32_t v : OrEmpty(model_->inputs())) {
      TSR_RETURN_IF_ERROR(CheckIndex(v, false, "graph input " + std::to_string(graph.inputs.size())));
      Value& value = graph.values[static_cast<size_t>(v)];
      if (value.is_graph_input) return InvalidModel("tensor '" + value.name + "' is listed twice as a graph input");
      if (value.is_constant || value.producer >= 0) {
        return InvalidModel("graph input '" + value.name + "' is also " +
                            (value.is_constant ? std::string("a constant") : "produced by a node"));
      }
      if (!value.info.has_shape || value.info.dtype == DType::kUnknown) {
        return InvalidModel("graph input '" + value.name + "' has no declared dtype and shape");
      }
      value.is_graph_input = true;
      graph.inputs.push_back(v);
    }
    if (OrEmpty(model_->outputs()).size() == 0) return InvalidModel("the model declares no outputs");
    for (int32_t v : OrEmpty(model_->outputs())) {
      TSR_RETURN_IF_ERROR(CheckIndex(v, false, "graph output " + std::to_string(graph.outputs.size())));
      Value& value = graph.values[static_cast<size_t>(v)];
      if (value.is_graph_output) return InvalidModel("tensor '" + value.name + "' is listed twice as a graph output");
      if (!value.is_constant && !value.is_graph_input && value.producer < 0) {
        return InvalidModel("graph output '" + value.name + "' is not produced by any node");
      }
      value.is_graph_output = true;
      graph.outputs.push_back(v);
    }
    // Every node input must come from somewhere.
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      for (int v : graph.nodes[i].inputs) {
        if (v < 0) continue;
        const Value& value = graph.values[static_cast<size_t>(v)];
        if (!value.is_constant && !value.is_graph_input && value.producer < 0) {
          return InvalidModel(NodeLabel(graph.nodes[i]) + ": input '" + value.name +
                              "' is neither a graph input, a constant, nor produced by a node");
        }
      }
    }
    return Status::Ok();
  }

  // Kahn's algorithm, taking ready nodes in file order so the result is
  // deterministic. Remaps producers and consumers to the new order.
  Status SortTopologically(Graph& graph) {
    const size_t n = graph.nodes.size();
    std::vector<int> pending(n, 0);
    std::vector<std::vector<int>> users(n);
    for (size_t i = 0; i < n; ++i) {
      std::set<int> producers;
      for (int v : graph.nodes[i].inputs) {
        if (v >= 0 && graph.values[static_cast<size_t>(v)].producer >= 0) {
          producers.insert(graph.values[static_cast<size_t>(v)].producer);
        }
      }
      for (int p : producers) {
        if (p == static_cast<int>(i)) {
          return InvalidModel(NodeLabel(graph.nodes[i]) + " consumes its own output (a cycle)");
        }
        users[static_cast<size_t>(p)].push_back(static_cast<int>(i));
      }
      pending[i] = static_cast<int>(producers.size());
    }
    std::set<int> ready;
    for (size_t i = 0; i < n; ++i) {
      if (pending[i] == 0) ready.insert(static_cast<int>(i));
    }
    std::vector<int> order;
    while (!ready.empty()) {
      const int i = *ready.begin();
      ready.erase(ready.begin());
      order.push_back(i);
      for (int u : users[static_cast<size_t>(i)]) {
        if (--pending[static_cast<size_t>(u)] == 0) ready.insert(u);
      }
    }
    if (order.size() != n) {
      for (size_t i = 0; i < n; ++i) {
        if (pending[i] > 0) {
          return InvalidModel("the graph has a cycle through " + NodeLabel(graph.nodes[i]));
        }
      }
    }
    std::vector<int> new_index(n);
    std::vector<Node> sorted;
    sorted.reserve(n);
    for (size_t k = 0; k < n; ++k) {
      new_index[static_cast<size_t>(order[k])] = static_cast<int>(k);
      sorted.push_back(std::move(graph.nodes[static_cast<size_t>(order[k])]));
    }
    graph.nodes = std::move(sorted);
    for (Value& value : graph.values) {
      if (value.producer >= 0) value.producer = new_index[static_cast<size_t>(value.producer)];
    }
    for (size_t k = 0; k < n; ++k) {
      for (int v : graph.nodes[k].inputs) {
        if (v >= 0) graph.values[static_cast<size_t>(v)].consumers.push_back(static_cast<int>(k));
      }
    }
    return Status::Ok();
  }

  const uint8_t* data_;
  size_t size_;
  const LoadOptions& options_;
  const OpRegistry& registry_;
  const fbs::Model* model_ = nullptr;
};

StatusOr<std::unique_ptr<Graph>> LoadFromBytes(const uint8_t* data, size_t size, std::shared_ptr<const void> storage,
                                               const LoadOptions& options, const std::string& source_name) {
  auto graph = std::make_unique<Graph>();
  graph->storage = std::move(storage);
  const OpRegistry& registry = options.registry != nullptr ? *options.registry : BuiltinOpRegistry();
  Loader loader(data, size, options, registry);
  TSR_RETURN_IF_ERROR(loader.Load(*graph).WithContext(source_name));
  return graph;
}

}  // namespace

Status CheckTensorLimit(const Shape& shape, const ModelLimits& limits, const std::string& what) {
  // Dims of 0 and dynamic dims are left out of the product. Dynamic dims
  // count as 1: whatever they are bound to, the known ones alone already
  // set a floor. Leaving out 0 bounds the product of every subset of the
  // dims (the strides, a row's size, the count of one slice) by the limit,
  // even for an empty tensor, so no op's arithmetic on a shape that passed
  // can wrap int64, even with the limit raised to 2^63 - 1.
  const uint64_t limit = static_cast<uint64_t>(std::max<int64_t>(limits.max_tensor_elements, 0));
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0) continue;
    // n <= limit < 2^63 here, so the product cannot wrap before the check.
    if (static_cast<uint64_t>(d) > limit / n) {
      Status s = std::find(shape.begin(), shape.end(), 0) != shape.end()
                     ? Error(StatusCode::kResourceExhausted, "shape ", ShapeToString(shape),
                             " is empty, but its other dims multiply to more than ", limit,
                             ", the limit (max_tensor_elements)")
                     : Error(StatusCode::kResourceExhausted, "shape ", ShapeToString(shape), " has more than ", limit,
                             " elements, the limit (max_tensor_elements)");
      return what.empty() ? s : s.WithContext(what);
    }
    n *= static_cast<uint64_t>(d);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Graph>> LoadGraphFromFile(const std::string& path, const LoadOptions& options) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return Error(err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError, path, ": cannot open: ",
                 std::strerror(err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Error(StatusCode::kIoError, path, ": not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    close(fd);
    return Error(StatusCode::kInvalidModel, path, ": file is empty");
  }
  if (Status s = CheckFileSize(size, options.limits); !s.ok()) {
    close(fd);
    return s.WithContext(path);
  }
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED) return Error(StatusCode::kIoError, path, ": cannot map: ", std::strerror(err));
  auto mapped = std::make_shared<MappedFile>(p, size);
  const uint8_t* bytes = mapped->data();
  return LoadFromBytes(bytes, size, std::move(mapped), options, path);
}

StatusOr<std::unique_ptr<Graph>> LoadGraphFromBuffer(const void* data, size_t size, const LoadOptions& options,
                                                     const std::string& source_name) {
  TSR_RETURN_IF_ERROR(CheckFileSize(size, options.limits).WithContext(source_name));
  TSR_ASSIGN_OR_RETURN(AlignedBuffer copy, AlignedBuffer::Allocate(size));
  if (size > 0) std::memcpy(copy.data(), data, size);
  auto holder = std::make_shared<AlignedBuffer>(std::move(copy));
  const auto* bytes = static_cast<const uint8_t*>(holder->data());
  return LoadFromBytes(bytes, size, std::move(holder), options, source_name);
}

}  // namespace tessera::graph
