#include "tessera/model_builder.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "graph/loader.h"
#include "runtime/core/dtype.h"
#include "schemas/tessera_generated.h"

namespace tessera {
namespace {

namespace fbs = ::tessera::schema;

constexpr uint64_t kAlign = 64;

uint64_t AlignUp64(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

size_t ElementSize(int32_t dtype) {
  return IsValidDType(dtype) ? DTypeSize(static_cast<DType>(dtype)) : 0;
}

}  // namespace

ModelBuilder::Attr ModelBuilder::Attr::Int(std::string name, int64_t v) {
  Attr a;
  a.name = std::move(name);
  a.type = 1;
  a.i = v;
  return a;
}
ModelBuilder::Attr ModelBuilder::Attr::Float(std::string name, float v) {
  Attr a;
  a.name = std::move(name);
  a.type = 2;
  a.f = v;
  return a;
}
ModelBuilder::Attr ModelBuilder::Attr::String(std::string name, std::string v) {
  Attr a;
  a.name = std::move(name);
  a.type = 3;
  a.s = std::move(v);
  return a;
}
ModelBuilder::Attr ModelBuilder::Attr::Ints(std::string name, std::vector<int64_t> v) {
  Attr a;
  a.name = std::move(name);
  a.type = 4;
  a.ints = std::move(v);
  return a;
}
ModelBuilder::Attr ModelBuilder::Attr::Floats(std::string name, std::vector<float> v) {
  Attr a;
  a.name = std::move(name);
  a.type = 5;
  a.floats = std::move(v);
  return a;
}
ModelBuilder::Attr ModelBuilder::Attr::Strings(std::string name, std::vector<std::string> v) {
  Attr a;
  a.name = std::move(name);
  a.type = 6;
  a.strings = std::move(v);
  return a;
}

ModelBuilder::ModelBuilder() = default;

void ModelBuilder::Fail(const std::string& message) {
  if (error_.empty()) error_ = message;
}

bool ModelBuilder::ValidId(int id, bool allow_omitted) const {
  return (allow_omitted && id == -1) || (id >= 0 && static_cast<size_t>(id) < tensors_.size());
}

int ModelBuilder::FindTensor(const std::string& name) const {
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (tensors_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int ModelBuilder::NewTensor(TensorDef def) {
  if (def.name.empty()) Fail("a tensor needs a name");
  if (FindTensor(def.name) >= 0) Fail("tensor name '" + def.name + "' is used twice");
  tensors_.push_back(std::move(def));
  return static_cast<int>(tensors_.size() - 1);
}

int ModelBuilder::AddInput(const std::string& name, int32_t dtype, const std::vector<Dim>& shape) {
  TensorDef def;
  def.name = name;
  def.dtype = dtype;
  def.has_shape = true;
  def.shape = shape;
  const int id = NewTensor(std::move(def));
  inputs_.push_back(id);
  return id;
}

int ModelBuilder::AddConstant(const std::string& name, int32_t dtype, const std::vector<int64_t>& shape,
                              const void* data, size_t bytes) {
  TensorDef def;
  def.name = name;
  def.dtype = dtype;
  def.has_shape = true;
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) Fail("constant '" + name + "' has a negative dim");
    def.shape.emplace_back(d);
    count *= static_cast<uint64_t>(d < 0 ? 0 : d);
  }
  if (ElementSize(dtype) == 0) Fail("constant '" + name + "' has an unknown dtype");
  if (count * ElementSize(dtype) != bytes) {
    Fail("constant '" + name + "': " + std::to_string(bytes) + " bytes given, shape and dtype need " +
         std::to_string(count * ElementSize(dtype)));
  }
  def.has_data = true;
  def.data_offset = AlignUp64(segment_.size());
  def.data_size = bytes;
  segment_.resize(def.data_offset + bytes, 0);
  if (bytes > 0) std::memcpy(segment_.data() + def.data_offset, data, bytes);
  return NewTensor(std::move(def));
}

int ModelBuilder::AddTensor(const std::string& name) {
  TensorDef def;
  def.name = name;
  def.dtype = 0;  // inferred
  return NewTensor(std::move(def));
}

int ModelBuilder::AddTensor(const std::string& name, int32_t dtype, const std::vector<Dim>& shape) {
  TensorDef def;
  def.name = name;
  def.dtype = dtype;
  def.has_shape = true;
  def.shape = shape;
  return NewTensor(std::move(def));
}

std::vector<int> ModelBuilder::AddNode(const std::string& op_type, const std::vector<int>& inputs,
                                       const std::vector<std::string>& outputs, const std::vector<Attr>& attrs,
                                       const std::string& node_name, const std::string& domain, int32_t version) {
  std::vector<int> ids;
  for (const std::string& name : outputs) ids.push_back(name.empty() ? -1 : AddTensor(name));
  AddNodeInto(op_type, inputs, ids, attrs, node_name, domain, version);
  return ids;
}

void ModelBuilder::AddNodeInto(const std::string& op_type, const std::vector<int>& inputs,
                               const std::vector<int>& outputs, const std::vector<Attr>& attrs,
                               const std::string& node_name, const std::string& domain, int32_t version) {
  const std::string label = "node '" + (node_name.empty() ? op_type : node_name) + "'";
  for (int id : inputs) {
    if (!ValidId(id, true)) Fail(label + ": input id " + std::to_string(id) + " does not exist");
  }
  for (int id : outputs) {
    if (!ValidId(id, true)) Fail(label + ": output id " + std::to_string(id) + " does not exist");
  }
  NodeDef node;
  node.name = node_name;
  node.op_type = op_type;
  node.domain = domain;
  node.version = version != 0 ? version : (domain.empty() || domain == "ai.onnx" ? 17 : 1);
  node.inputs = inputs;
  node.outputs = outputs;
  node.attrs = attrs;
  nodes_.push_back(std::move(node));
}

void ModelBuilder::AddOutput(int tensor) {
  if (!ValidId(tensor, false)) {
    Fail("output id " + std::to_string(tensor) + " does not exist");
    return;
  }
  outputs_.push_back(tensor);
}

void ModelBuilder::SetMetadata(const std::string& key, const std::string& value) {
  for (auto& kv : metadata_) {
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  }
  metadata_.emplace_back(key, value);
}

void ModelBuilder::SetProducer(const std::string& producer) { producer_ = producer; }

bool ModelBuilder::Finish(std::vector<uint8_t>* bytes, std::string* error) const {
  if (!error_.empty()) {
    if (error != nullptr) *error = error_;
    return false;
  }
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<flatbuffers::Offset<fbs::Tensor>> tensors;
  for (const TensorDef& t : tensors_) {
    auto name = fbb.CreateString(t.name);
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fbs::Dim>>> shape = 0;
    if (t.has_shape) {
      std::vector<flatbuffers::Offset<fbs::Dim>> dims;
      for (const Dim& d : t.shape) {
        dims.push_back(fbs::CreateDim(fbb, d.size, d.name.empty() ? 0 : fbb.CreateString(d.name)));
      }
      shape = fbb.CreateVector(dims);
    }
    fbs::TensorBuilder tb(fbb);
    tb.add_name(name);
    tb.add_dtype(static_cast<fbs::DType>(t.dtype));
    if (t.has_shape) tb.add_shape(shape);
    const fbs::DataRef ref(t.data_offset, t.data_size);
    if (t.has_data) tb.add_data(&ref);
    tensors.push_back(tb.Finish());
  }
  std::vector<flatbuffers::Offset<fbs::Node>> nodes;
  for (const NodeDef& n : nodes_) {
    std::vector<flatbuffers::Offset<fbs::Attribute>> attrs;
    for (const Attr& a : n.attrs) {
      auto name = fbb.CreateString(a.name);
      auto s = a.type == 3 ? fbb.CreateString(a.s) : 0;
      auto ints = a.type == 4 ? fbb.CreateVector(a.ints) : 0;
      auto floats = a.type == 5 ? fbb.CreateVector(a.floats) : 0;
      auto strings = a.type == 6 ? fbb.CreateVectorOfStrings(a.strings) : 0;
      attrs.push_back(fbs::CreateAttribute(fbb, name, static_cast<fbs::AttributeType>(a.type), a.i, a.f, s, ints,
                                           floats, strings));
    }
    // The parts are created one statement each, last field first. C++
    // leaves the order in which function arguments are evaluated unspecified
    // (GCC takes them right to left on x86-64, left to right on aarch64),
    // and that order decides the layout, so the bytes, of the file: nested
    // calls made aarch64 write other bytes than the bundled models'.
    const auto node_attrs = attrs.empty() ? 0 : fbb.CreateVector(attrs);
    const auto node_outputs = fbb.CreateVector(n.outputs);
    const auto node_inputs = fbb.CreateVector(n.inputs);
    const auto node_domain = n.domain.empty() ? 0 : fbb.CreateString(n.domain);
    const auto node_op_type = fbb.CreateString(n.op_type);
    const auto node_name = n.name.empty() ? 0 : fbb.CreateString(n.name);
    nodes.push_back(fbs::CreateNode(fbb, node_name, node_op_type, node_domain, n.version, node_inputs, node_outputs,
                                    node_attrs));
  }
  std::vector<flatbuffers::Offset<fbs::Metadata>> metadata;
  for (const auto& [key, value] : metadata_) {
    const auto value_string = fbb.CreateString(value);  // last field first, as for nodes
    metadata.push_back(fbs::CreateMetadata(fbb, fbb.CreateString(key), value_string));
  }
  // segment_offset is only known once the FlatBuffer is finished: write a
  // placeholder that is never the default (so the field is stored), then
  // patch it in place.
  const uint64_t placeholder = segment_.empty() ? 0 : std::numeric_limits<uint64_t>::max();
  // Last field first, as for nodes.
  const auto model_metadata = fbb.CreateVector(metadata);
  const auto model_outputs = fbb.CreateVector(outputs_);
  const auto model_inputs = fbb.CreateVector(inputs_);
  const auto model_nodes = fbb.CreateVector(nodes);
  const auto model_tensors = fbb.CreateVector(tensors);
  const auto model_producer = fbb.CreateString(producer_);
  auto model = fbs::CreateModel(fbb, graph::kFormatMajor, graph::kFormatMinor, model_producer, model_tensors,
                                model_nodes, model_inputs, model_outputs, model_metadata, placeholder, segment_.size());
  fbs::FinishModelBuffer(fbb, model);
  const uint64_t fb_size = fbb.GetSize();
  if (fb_size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    if (error != nullptr) *error = "the graph (without weights) exceeds FlatBuffers' 2 GiB limit";
    return false;
  }
  const uint64_t segment_offset = segment_.empty() ? 0 : AlignUp64(fb_size);
  bytes->assign(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fb_size);
  if (!segment_.empty()) {
    fbs::GetMutableModel(bytes->data())->mutate_segment_offset(segment_offset);
    bytes->resize(segment_offset, 0);
    bytes->insert(bytes->end(), segment_.begin(), segment_.end());
  }
  return true;
}

bool ModelBuilder::Save(const std::string& path, std::string* error) const {
  std::vector<uint8_t> bytes;
  if (!Finish(&bytes, error)) return false;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    if (error != nullptr) *error = path + ": cannot open for writing: " + std::strerror(errno);
    return false;
  }
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    if (error != nullptr) *error = path + ": write failed";
    return false;
  }
  return true;
}

}  // namespace tessera
