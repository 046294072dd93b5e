// ONNX ModelProto -> .tess, through the public ModelBuilder. See
// onnx_importer.h for what is kept and what is refused.
//
// Order of work: parse; resolve the op-set of each domain; check every node
// against the registry (collecting all unsupported ops into one error); then
// constants (initializers and Constant nodes), graph inputs, node outputs
// (with declared types from graph outputs and value_info), nodes, graph
// outputs. Tensors are created before any node refers to them, so the file
// may list nodes in any order; the loader sorts and checks for cycles.
#include "graph/onnx/onnx_importer.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "graph/onnx/onnx_subset.pb.h"
#include "runtime/core/dtype.h"
#include "tessera/model_builder.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "TensorProto.raw_data is little-endian and is copied as is");

namespace tessera::graph {
namespace {

namespace pb = ::tessera::onnx_subset;
using Attr = ModelBuilder::Attr;

// Files above this are refused before parsing: protobuf messages are
// limited to 2 GiB, and larger ONNX models keep their weights outside the
// file (external data), which Tessera does not read.
constexpr size_t kMaxOnnxBytes = static_cast<size_t>(INT_MAX);

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// "node 3 'enc/lstm' (LSTM)" or "node 3 (LSTM)" for an unnamed node.
std::string NodeText(const pb::NodeProto& node, int index) {
  std::string text = "node " + std::to_string(index);
  if (!node.name().empty()) text += " " + Quote(node.name());
  return text + " (" + node.op_type() + ")";
}

bool IsDefaultDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// A tensor decoded from a TensorProto: dtype, dims and little-endian bytes.
struct DecodedTensor {
  DType dtype = DType::kUnknown;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

template <typename Dst, typename Src>
void NarrowInto(const Src& values, std::vector<uint8_t>* bytes) {
  bytes->resize(static_cast<size_t>(values.size()) * sizeof(Dst));
  Dst* out = reinterpret_cast<Dst*>(bytes->data());
  for (int i = 0; i < values.size(); ++i) out[i] = static_cast<Dst>(values.Get(i));
}

// What: `what` names the tensor in messages ("initializer 'W'").
StatusOr<DecodedTensor> DecodeTensor(const pb::TensorProto& t, const std::string& what) {
  if (t.data_location() == pb::TensorProto::EXTERNAL || t.external_data_size() > 0) {
    std::string location;
    for (const auto& kv : t.external_data()) {
      if (kv.key() == "location") location = kv.value();
    }
    return Error(StatusCode::kUnimplemented, what, " keeps its data outside the .onnx file (external data",
                 location.empty() ? std::string() : ", location " + Quote(location),
                 "); Tessera reads self-contained files only: save the model with "
                 "onnx.save_model(model, path, save_as_external_data=False) (below 2 GiB)");
  }
  DecodedTensor out;
  out.dtype = DTypeFromOnnxElemType(t.data_type());
  if (out.dtype == DType::kUnknown) {
    return Error(StatusCode::kUnimplemented, what, " has element type ", OnnxElemTypeName(t.data_type()),
                 ", which Tessera has no dtype for (it has f32, f16, bf16, i8, u8, i32, i64, bool)");
  }
  for (int d = 0; d < t.dims_size(); ++d) {
    if (t.dims(d) < 0) return Error(StatusCode::kInvalidModel, what, " has dim ", d, " = ", t.dims(d));
    out.dims.push_back(t.dims(d));
  }
  auto bytes = CheckedByteSize(out.dtype, Shape(out.dims.begin(), out.dims.end()));
  if (!bytes.ok()) return bytes.status().WithContext(what);
  const int64_t count = *bytes / static_cast<int64_t>(DTypeSize(out.dtype));
  const size_t size = static_cast<size_t>(*bytes);
  if (t.has_raw_data()) {
    if (t.raw_data().size() != size) {
      return Error(StatusCode::kInvalidModel, what, ": raw_data has ", t.raw_data().size(), " bytes, its ",
                   DTypeName(out.dtype), " shape ", ShapeToString(Shape(out.dims.begin(), out.dims.end())),
                   " needs ", size);
    }
    out.bytes.assign(t.raw_data().begin(), t.raw_data().end());
    if (out.dtype == DType::kBool) {
      for (uint8_t& b : out.bytes) b = b != 0;
    }
    return out;
  }
  int64_t stored = 0;
  const char* field = "";
  switch (out.dtype) {
    case DType::kF32:
      field = "float_data";
      stored = t.float_data_size();
      NarrowInto<float>(t.float_data(), &out.bytes);
      break;
    case DType::kI64:
      field = "int64_data";
      stored = t.int64_data_size();
      NarrowInto<int64_t>(t.int64_data(), &out.bytes);
      break;
    case DType::kI32:
      field = "int32_data";
      stored = t.int32_data_size();
      NarrowInto<int32_t>(t.int32_data(), &out.bytes);
      break;
    case DType::kI8:
      field = "int32_data";
      stored = t.int32_data_size();
      NarrowInto<int8_t>(t.int32_data(), &out.bytes);
      break;
    case DType::kU8:
      field = "int32_data";
      stored = t.int32_data_size();
      NarrowInto<uint8_t>(t.int32_data(), &out.bytes);
      break;
    case DType::kBool:
      field = "int32_data";
      stored = t.int32_data_size();
      out.bytes.resize(static_cast<size_t>(stored));
      for (int i = 0; i < t.int32_data_size(); ++i) out.bytes[static_cast<size_t>(i)] = t.int32_data(i) != 0;
      break;
    case DType::kF16:
    case DType::kBF16:
      // The 16 bits of each value sit in the low half of an int32.
      field = "int32_data";
      stored = t.int32_data_size();
      NarrowInto<uint16_t>(t.int32_data(), &out.bytes);
      break;
    case DType::kUnknown:
      break;
  }
  if (stored != count) {
    return Error(StatusCode::kInvalidModel, what, ": ", field, " holds ", stored, " values, its shape ",
                 ShapeToString(Shape(out.dims.begin(), out.dims.end())), " needs ", count);
  }
  return out;
}

// The builder's dims for a declared ONNX shape: dim_value -> fixed,
// dim_param -> named dynamic, neither -> unnamed dynamic.
StatusOr<std::vector<ModelBuilder::Dim>> BuilderDims(const pb::TensorShapeProto& shape, const std::string& what) {
  std::vector<ModelBuilder::Dim> dims;
  for (int d = 0; d < shape.dim_size(); ++d) {
    const pb::TensorShapeProto::Dimension& dim = shape.dim(d);
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0) {
        return Error(StatusCode::kInvalidModel, what, " declares dim ", d, " = ", dim.dim_value());
      }
      dims.emplace_back(dim.dim_value());
    } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
      ModelBuilder::Dim named(int64_t{-1});
      named.name = dim.dim_param();
      dims.push_back(std::move(named));
    } else {
      dims.emplace_back(int64_t{-1});
    }
  }
  return dims;
}

// One attribute in the builder's form. Tensor attributes are handled by
// the caller (Constant, ConstantOfShape) and refused here.
StatusOr<Attr> ConvertAttribute(const pb::AttributeProto& a, const std::string& where) {
  const std::string what = where + ": attribute " + Quote(a.name());
  if (!a.ref_attr_name().empty()) {
    return Error(StatusCode::kInvalidModel, what, " refers to function attribute ", Quote(a.ref_attr_name()),
                 ", which is only valid inside a function body");
  }
  int32_t type = a.type();
  if (!a.has_type()) {
    // Files older than IR version 3 may omit the type: read it off the
    // field that is set.
    if (a.has_f()) type = pb::AttributeProto::FLOAT;
    else if (a.has_i()) type = pb::AttributeProto::INT;
    else if (a.has_s()) type = pb::AttributeProto::STRING;
    else if (a.has_t()) type = pb::AttributeProto::TENSOR;
    else if (a.has_g()) type = pb::AttributeProto::GRAPH;
    else if (a.floats_size() > 0) type = pb::AttributeProto::FLOATS;
    else if (a.ints_size() > 0) type = pb::AttributeProto::INTS;
    else if (a.strings_size() > 0) type = pb::AttributeProto::STRINGS;
    else if (a.tensors_size() > 0) type = pb::AttributeProto::TENSORS;
    else if (a.graphs_size() > 0) type = pb::AttributeProto::GRAPHS;
  }
  switch (type) {
    case pb::AttributeProto::FLOAT:
      return Attr::Float(a.name(), a.f());
    case pb::AttributeProto::INT:
      return Attr::Int(a.name(), a.i());
    case pb::AttributeProto::STRING:
      return Attr::String(a.name(), a.s());
    case pb::AttributeProto::FLOATS:
      return Attr::Floats(a.name(), std::vector<float>(a.floats().begin(), a.floats().end()));
    case pb::AttributeProto::INTS:
      return Attr::Ints(a.name(), std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case pb::AttributeProto::STRINGS:
      return Attr::Strings(a.name(), std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case pb::AttributeProto::GRAPH:
    case pb::AttributeProto::GRAPHS:
      return Error(StatusCode::kUnimplemented, what,
                   " is a subgraph; Tessera runs flat graphs only (no If, Loop or Scan bodies)");
    case pb::AttributeProto::TENSOR:
    case pb::AttributeProto::TENSORS:
      return Error(StatusCode::kUnimplemented, what,
                   " is a tensor; Tessera takes tensor attributes only on Constant and ConstantOfShape");
    case pb::AttributeProto::UNDEFINED:
      return Error(StatusCode::kInvalidModel, what, " has no type and no value");
    default:
      return Error(StatusCode::kUnimplemented, what, " has attribute type ", type,
                   ", which Tessera does not read (sparse tensors and type protos are not supported)");
  }
}

// A Constant node's value (ONNX Constant v1-v13+: exactly one of value,
// value_float(s), value_int(s); strings and sparse values are refused).
StatusOr<DecodedTensor> ConstantNodeValue(const pb::NodeProto& node, const std::string& where) {
  if (node.attribute_size() != 1) {
    return Error(StatusCode::kInvalidModel, where, ": a Constant needs exactly one value attribute, got ",
                 node.attribute_size());
  }
  const pb::AttributeProto& a = node.attribute(0);
  DecodedTensor out;
  if (a.name() == "value") {
    return DecodeTensor(a.t(), where + ": attribute 'value'");
  }
  if (a.name() == "value_float" || a.name() == "value_floats") {
    out.dtype = DType::kF32;
    std::vector<float> v;
    if (a.name() == "value_float") {
      v.push_back(a.f());
    } else {
      v.assign(a.floats().begin(), a.floats().end());
      out.dims.push_back(static_cast<int64_t>(v.size()));
    }
    out.bytes.resize(v.size() * sizeof(float));
    if (!v.empty()) std::memcpy(out.bytes.data(), v.data(), out.bytes.size());
    return out;
  }
  if (a.name() == "value_int" || a.name() == "value_ints") {
    out.dtype = DType::kI64;
    std::vector<int64_t> v;
    if (a.name() == "value_int") {
      v.push_back(a.i());
    } else {
      v.assign(a.ints().begin(), a.ints().end());
      out.dims.push_back(static_cast<int64_t>(v.size()));
    }
    out.bytes.resize(v.size() * sizeof(int64_t));
    if (!v.empty()) std::memcpy(out.bytes.data(), v.data(), out.bytes.size());
    return out;
  }
  return Error(StatusCode::kUnimplemented, where, ": Constant attribute ", Quote(a.name()),
               " is not supported (Tessera reads value, value_float(s) and value_int(s))");
}

// ConstantOfShape's `value` (a one-element tensor) becomes Tessera's
// value_float / value_int attribute.
StatusOr<std::vector<Attr>> ConstantOfShapeAttrs(const pb::NodeProto& node, const std::string& where) {
  std::vector<Attr> attrs;
  for (const pb::AttributeProto& a : node.attribute()) {
    if (a.name() != "value") {
      TSR_ASSIGN_OR_RETURN(Attr attr, ConvertAttribute(a, where));
      attrs.push_back(std::move(attr));
      continue;
    }
    TSR_ASSIGN_OR_RETURN(DecodedTensor v, DecodeTensor(a.t(), where + ": attribute 'value'"));
    if (v.bytes.size() != DTypeSize(v.dtype)) {
      return Error(StatusCode::kInvalidModel, where, ": attribute 'value' must hold one element");
    }
    if (v.dtype == DType::kF32) {
      float f;
      std::memcpy(&f, v.bytes.data(), sizeof(f));
      attrs.push_back(Attr::Float("value_float", f));
    } else if (v.dtype == DType::kI64) {
      int64_t i;
      std::memcpy(&i, v.bytes.data(), sizeof(i));
      attrs.push_back(Attr::Int("value_int", i));
    } else {
      return Error(StatusCode::kUnimplemented, where, ": attribute 'value' has dtype ", DTypeName(v.dtype),
                   "; Tessera's ConstantOfShape fills f32 or i64");
    }
  }
  return attrs;
}

// Old forms of ops that Tessera implements from a later op-set version, and
// the version they are rewritten to (the rewrites are exact; ONNX's version
// converter makes the same): 0 when `op_type` at `version` has none.
//   Add, Sub, Mul, Div, Pow < 7   `broadcast` (and `axis`) attributes: numpy
//                                 broadcasting from 7 covers them where the
//                                 axis aligns the trailing dims
//   Gemm < 7                      `broadcast` dropped (C broadcasts from 7)
//   Relu, Sigmoid, Tanh, Exp,
//   Sqrt < 6                      `consumed_inputs` dropped
//   Concat < 4                    `axis` defaulted to 1
//   Reshape < 5                   `shape` attribute -> a constant input
//   Slice < 10                    `starts`, `ends`, `axes` attributes ->
//                                 constant inputs
int32_t LegacyUpgrade(const std::string& op_type, int32_t version) {
  struct Rule {
    const char* op;
    int32_t to;
  };
  static const Rule kRules[] = {{"Add", 7},  {"Sub", 7},     {"Mul", 7},     {"Div", 7},   {"Pow", 7},
                                {"Gemm", 7}, {"Relu", 6},    {"Sigmoid", 6}, {"Tanh", 6},  {"Exp", 6},
                                {"Sqrt", 6}, {"Concat", 4},  {"Reshape", 5}, {"Slice", 10}};
  for (const Rule& r : kRules) {
    if (op_type == r.op && version < r.to) return r.to;
  }
  return 0;
}

// Removes and returns attribute `name` (nullptr-like: type 0 when absent).
Attr TakeAttr(std::vector<Attr>& attrs, const std::string& name) {
  for (size_t i = 0; i < attrs.size(); ++i) {
    if (attrs[i].name == name) {
      Attr a = std::move(attrs[i]);
      attrs.erase(attrs.begin() + static_cast<std::ptrdiff_t>(i));
      return a;
    }
  }
  return Attr();
}

class Converter {
 public:
  Converter(const pb::ModelProto& model, const OnnxImportOptions& options)
      : model_(model), graph_(model.graph()), options_(options) {
    registry_ = options.registry != nullptr ? options.registry : &BuiltinOpRegistry();
  }

  StatusOr<std::vector<uint8_t>> Run() {
    TSR_RETURN_IF_ERROR(ReadOpsets());
    TSR_RETURN_IF_ERROR(CheckOps());
    if (graph_.sparse_initializer_size() > 0) {
      return Error(StatusCode::kUnimplemented, "sparse initializer ",
                   Quote(graph_.sparse_initializer(0).values().name()), " (and ", graph_.sparse_initializer_size(),
                   " in all): Tessera stores dense weights only");
    }
    FindUses();
    TSR_RETURN_IF_ERROR(AddConstants());
    TSR_RETURN_IF_ERROR(AddInputs());
    TSR_RETURN_IF_ERROR(AddNodeOutputs());
    TSR_RETURN_IF_ERROR(AddNodes());
    TSR_RETURN_IF_ERROR(AddOutputs());
    AddMetadata();
    std::vector<uint8_t> bytes;
    std::string error;
    if (!builder_.Finish(&bytes, &error)) return Status(StatusCode::kInvalidModel, error);
    return bytes;
  }

 private:
  Status ReadOpsets() {
    for (const pb::OperatorSetIdProto& opset : model_.opset_import()) {
      const std::string domain = IsDefaultDomain(opset.domain()) ? std::string() : opset.domain();
      if (opset.version() < 1 || opset.version() > INT32_MAX) {
        return Error(StatusCode::kInvalidModel, "op set of domain ", Quote(opset.domain()), " has version ",
                     opset.version());
      }
      opsets_[domain] = static_cast<int32_t>(opset.version());
    }
    return Status::Ok();
  }

  // The op-set version a node's domain imports; 0 when none.
  int32_t OpsetOf(const pb::NodeProto& node) const {
    auto it = opsets_.find(IsDefaultDomain(node.domain()) ? std::string() : node.domain());
    return it == opsets_.end() ? 0 : it->second;
  }

  // Every node whose op is neither known to the registry at its op-set
  // version nor handled here (Constant): one error for all of them.
  Status CheckOps() {
    // Op key "domain.Type" -> (why, node labels), in first-seen order.
    std::vector<std::string> order;
    std::map<std::string, std::pair<std::string, std::vector<std::string>>> missing;
    for (int n = 0; n < graph_.node_size(); ++n) {
      const pb::NodeProto& node = graph_.node(n);
      const std::string domain = IsDefaultDomain(node.domain()) ? std::string() : node.domain();
      const std::string key = domain.empty() ? node.op_type() : domain + "." + node.op_type();
      const int32_t version = OpsetOf(node);
      std::string why;
      if (version == 0) {
        why = "the model imports no op set for domain " + Quote(domain.empty() ? "ai.onnx" : domain);
      } else if (domain.empty() && node.op_type() == "Constant") {
        continue;
      } else if (registry_->Find(domain, node.op_type(), version) == nullptr &&
                 !(domain.empty() && LegacyUpgrade(node.op_type(), version) != 0 &&
                   registry_->Find(domain, node.op_type(), LegacyUpgrade(node.op_type(), version)) != nullptr)) {
        std::vector<const OpDef*> all = registry_->FindAll(domain, node.op_type());
        if (!all.empty()) {
          why = "op set " + std::to_string(version) + "; Tessera has";
          for (size_t i = 0; i < all.size(); ++i) why += (i ? ", " : " ") + all[i]->DisplayName();
        }
      } else {
        continue;
      }
      auto [it, inserted] = missing.try_emplace(key);
      if (inserted) {
        order.push_back(key);
        it->second.first = why;
      }
      it->second.second.push_back(node.name().empty() ? "#" + std::to_string(n) : Quote(node.name()));
    }
    if (missing.empty()) return Status::Ok();
    std::string message = std::to_string(missing.size()) +
                          (missing.size() == 1 ? " op type is" : " op types are") + " not supported by Tessera:";
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& [why, nodes] = missing[order[i]];
      message += (i ? "; " : " ") + order[i];
      if (!why.empty()) message += " (" + why + ")";
      message += nodes.size() == 1 ? " in node " : " in " + std::to_string(nodes.size()) + " nodes ";
      for (size_t k = 0; k < nodes.size(); ++k) message += (k ? ", " : "") + nodes[k];
    }
    return Status(StatusCode::kUnimplemented, message);
  }

  // Names read by some node or listed as graph outputs: initializers that
  // nobody reads are dropped.
  void FindUses() {
    for (const pb::NodeProto& node : graph_.node()) {
      for (const std::string& name : node.input()) used_.insert(name);
    }
    for (const pb::ValueInfoProto& v : graph_.output()) used_.insert(v.name());
  }

  Status AddConstant(const std::string& name, const DecodedTensor& t) {
    if (ids_.count(name) != 0) return Error(StatusCode::kInvalidModel, "tensor ", Quote(name), " is defined twice");
    const int id = builder_.AddConstant(name, static_cast<int32_t>(t.dtype), t.dims, t.bytes.data(), t.bytes.size());
    ids_[name] = id;
    ranks_[name] = static_cast<int>(t.dims.size());
    return Status::Ok();
  }

  Status AddConstants() {
    for (const pb::TensorProto& t : graph_.initializer()) {
      if (t.name().empty()) return Status(StatusCode::kInvalidModel, "an initializer has no name");
      if (used_.count(t.name()) == 0) continue;
      TSR_ASSIGN_OR_RETURN(DecodedTensor decoded, DecodeTensor(t, "initializer " + Quote(t.name())));
      TSR_RETURN_IF_ERROR(AddConstant(t.name(), decoded));
    }
    for (int n = 0; n < graph_.node_size(); ++n) {
      const pb::NodeProto& node = graph_.node(n);
      if (!IsDefaultDomain(node.domain()) || node.op_type() != "Constant") continue;
      const std::string where = NodeText(node, n);
      if (node.output_size() != 1 || node.output(0).empty()) {
        return Error(StatusCode::kInvalidModel, where, ": a Constant has exactly one output, got ",
                     node.output_size());
      }
      TSR_ASSIGN_OR_RETURN(DecodedTensor value, ConstantNodeValue(node, where));
      TSR_RETURN_IF_ERROR(AddConstant(node.output(0), value).WithContext(where));
    }
    return Status::Ok();
  }

  Status AddInputs() {
    for (const pb::ValueInfoProto& v : graph_.input()) {
      // Before IR version 4 initializers were also listed as inputs (with a
      // default value); Tessera treats them as constants.
      if (ids_.count(v.name()) != 0) continue;
      const std::string what = "graph input " + Quote(v.name());
      if (v.name().empty()) return Status(StatusCode::kInvalidModel, "a graph input has no name");
      if (!v.type().has_tensor_type()) {
        return Error(StatusCode::kUnimplemented, what, " is not a tensor (sequences, maps and optionals are "
                                                       "not supported)");
      }
      const pb::TypeProto::Tensor& tt = v.type().tensor_type();
      const DType dtype = DTypeFromOnnxElemType(tt.elem_type());
      if (dtype == DType::kUnknown) {
        return Error(StatusCode::kUnimplemented, what, " has element type ", OnnxElemTypeName(tt.elem_type()),
                     ", which Tessera has no dtype for");
      }
      if (!tt.has_shape()) {
        return Error(StatusCode::kUnimplemented, what,
                     " has no shape; Tessera needs the rank of every graph input (give each dim a size or a "
                     "name such as 'batch')");
      }
      TSR_ASSIGN_OR_RETURN(std::vector<ModelBuilder::Dim> dims, BuilderDims(tt.shape(), what));
      if (const Tensor* value = ConstantInput(v.name())) {
        TSR_RETURN_IF_ERROR(AddBoundInput(v.name(), dtype, dims, *value));
        continue;
      }
      ids_[v.name()] = builder_.AddInput(v.name(), static_cast<int32_t>(dtype), dims);
      ranks_[v.name()] = static_cast<int>(dims.size());
    }
    for (const auto& [name, value] : options_.constant_inputs) {
      if (ids_.count(name) == 0 || !bound_.count(name)) {
        return Error(StatusCode::kInvalidArgument, "constant value given for ", Quote(name),
                     ", which is not a graph input");
      }
    }
    return Status::Ok();
  }

  const Tensor* ConstantInput(const std::string& name) const {
    for (const auto& [input, value] : options_.constant_inputs) {
      if (input == name) return value;
    }
    return nullptr;
  }

  // A graph input bound to a constant (OnnxImportOptions::constant_inputs).
  Status AddBoundInput(const std::string& name, DType dtype, const std::vector<ModelBuilder::Dim>& dims,
                       const Tensor& value) {
    const std::string what = "constant value for graph input " + Quote(name);
    if (value.dtype != dtype) {
      return Error(StatusCode::kInvalidArgument, what, " has dtype ", DTypeName(value.dtype), ", the input is ",
                   DTypeName(dtype));
    }
    bool fits = value.shape.size() == dims.size();
    for (size_t d = 0; fits && d < dims.size(); ++d) fits = dims[d].size < 0 || dims[d].size == value.shape[d];
    if (!fits) {
      return Error(StatusCode::kInvalidArgument, what, " has shape ", ShapeToString(value.shape),
                   ", which the input's declared shape does not allow");
    }
    DecodedTensor t;
    t.dtype = dtype;
    t.dims = value.shape;
    t.bytes.assign(static_cast<const uint8_t*>(value.data), static_cast<const uint8_t*>(value.data) + value.ByteSize());
    bound_.insert(name);
    return AddConstant(name, t);
  }

  // Declared types of graph outputs and value_info entries, by name.
  std::unordered_map<std::string, const pb::ValueInfoProto*> DeclaredTypes() const {
    std::unordered_map<std::string, const pb::ValueInfoProto*> declared;
    for (const pb::ValueInfoProto& v : graph_.value_info()) declared[v.name()] = &v;
    for (const pb::ValueInfoProto& v : graph_.output()) declared[v.name()] = &v;
    return declared;
  }

  Status AddNodeOutputs() {
    const auto declared = DeclaredTypes();
    for (int n = 0; n < graph_.node_size(); ++n) {
      const pb::NodeProto& node = graph_.node(n);
      if (IsDefaultDomain(node.domain()) && node.op_type() == "Constant") continue;
      for (const std::string& name : node.output()) {
        if (name.empty()) continue;
        if (ids_.count(name) != 0) {
          return Error(StatusCode::kInvalidModel, NodeText(node, n), ": output ", Quote(name),
                       " is already defined (ONNX graphs assign each name once)");
        }
        ids_[name] = AddDeclaredTensor(name, declared);
      }
    }
    return Status::Ok();
  }

  // An intermediate with the dtype and shape the file declares, where it
  // declares one Tessera can express; inference checks it at load.
  int AddDeclaredTensor(const std::string& name,
                        const std::unordered_map<std::string, const pb::ValueInfoProto*>& declared) {
    auto it = declared.find(name);
    if (it == declared.end() || !it->second->type().has_tensor_type()) return builder_.AddTensor(name);
    const pb::TypeProto::Tensor& tt = it->second->type().tensor_type();
    const DType dtype = DTypeFromOnnxElemType(tt.elem_type());
    if (dtype == DType::kUnknown || !tt.has_shape()) return builder_.AddTensor(name);
    auto dims = BuilderDims(tt.shape(), name);
    if (!dims.ok()) return builder_.AddTensor(name);
    ranks_[name] = static_cast<int>(dims->size());
    return builder_.AddTensor(name, static_cast<int32_t>(dtype), *dims);
  }

  Status AddNodes() {
    for (int n = 0; n < graph_.node_size(); ++n) {
      const pb::NodeProto& node = graph_.node(n);
      const bool default_domain = IsDefaultDomain(node.domain());
      if (default_domain && node.op_type() == "Constant") continue;
      const std::string where = NodeText(node, n);
      std::vector<int> inputs, outputs;
      for (const std::string& name : node.input()) {
        if (name.empty()) {
          inputs.push_back(-1);
          continue;
        }
        auto it = ids_.find(name);
        if (it == ids_.end()) {
          return Error(StatusCode::kInvalidModel, where, ": input ", Quote(name),
                       " is not a graph input, an initializer or an output of any node");
        }
        inputs.push_back(it->second);
      }
      for (const std::string& name : node.output()) outputs.push_back(name.empty() ? -1 : ids_.at(name));
      std::vector<Attr> attrs;
      if (default_domain && node.op_type() == "ConstantOfShape") {
        TSR_ASSIGN_OR_RETURN(attrs, ConstantOfShapeAttrs(node, where));
      } else {
        for (const pb::AttributeProto& a : node.attribute()) {
          TSR_ASSIGN_OR_RETURN(Attr attr, ConvertAttribute(a, where));
          attrs.push_back(std::move(attr));
        }
      }
      int32_t version = OpsetOf(node);
      if (default_domain && registry_->Find("", node.op_type(), version) == nullptr &&
          LegacyUpgrade(node.op_type(), version) != 0) {
        TSR_RETURN_IF_ERROR(UpgradeLegacy(node, where, &inputs, &attrs));
        version = LegacyUpgrade(node.op_type(), version);
      }
      builder_.AddNodeInto(node.op_type(), inputs, outputs, attrs, node.name(),
                           default_domain ? std::string() : node.domain(), version);
    }
    return Status::Ok();
  }

  // Rewrites the attributes (and inputs) of an old op-set form into the
  // version LegacyUpgrade names.
  Status UpgradeLegacy(const pb::NodeProto& node, const std::string& where, std::vector<int>* inputs,
                       std::vector<Attr>* attrs) {
    const std::string& op = node.op_type();
    TakeAttr(*attrs, "consumed_inputs");
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
      const Attr broadcast = TakeAttr(*attrs, "broadcast");
      const Attr axis = TakeAttr(*attrs, "axis");
      if (broadcast.i != 0 && axis.type != 0 && node.input_size() == 2) {
        // B's dims align with A's from `axis`; numpy aligns trailing dims.
        // They agree when B ends where A does.
        auto a = ranks_.find(node.input(0));
        auto b = ranks_.find(node.input(1));
        if (a == ranks_.end() || b == ranks_.end()) {
          return Error(StatusCode::kUnimplemented, where, ": broadcast along 'axis' (op set < 7) needs the ranks "
                                                          "of both inputs, which the model does not declare");
        }
        if (axis.i != a->second - b->second) {
          return Error(StatusCode::kUnimplemented, where, ": broadcast of a rank-", b->second, " B along axis ",
                       axis.i, " of a rank-", a->second, " A (op set < 7) is not numpy broadcasting");
        }
      }
    } else if (op == "Gemm") {
      TakeAttr(*attrs, "broadcast");
    } else if (op == "Concat") {
      Attr axis = TakeAttr(*attrs, "axis");
      attrs->push_back(Attr::Int("axis", axis.type != 0 ? axis.i : 1));
    } else if (op == "Reshape" || op == "Slice") {
      const char* names[] = {"shape", nullptr, nullptr};
      if (op == "Slice") {
        names[0] = "starts";
        names[1] = "ends";
        names[2] = "axes";
      }
      inputs->resize(1);
      for (const char* name : names) {
        if (name == nullptr) break;
        Attr a = TakeAttr(*attrs, name);
        if (a.type == 0) {
          if (std::string(name) == "axes") break;
          return Error(StatusCode::kInvalidModel, where, ": attribute ", Quote(name), " is missing");
        }
        DecodedTensor t;
        t.dtype = DType::kI64;
        t.dims = {static_cast<int64_t>(a.ints.size())};
        t.bytes.resize(a.ints.size() * sizeof(int64_t));
        if (!a.ints.empty()) std::memcpy(t.bytes.data(), a.ints.data(), t.bytes.size());
        const std::string constant = (node.output_size() > 0 ? node.output(0) : node.name()) + "::" + name;
        TSR_RETURN_IF_ERROR(AddConstant(constant, t).WithContext(where));
        inputs->push_back(ids_.at(constant));
      }
    }
    return Status::Ok();
  }

  Status AddOutputs() {
    if (graph_.output_size() == 0) return Status(StatusCode::kInvalidModel, "the graph has no outputs");
    for (const pb::ValueInfoProto& v : graph_.output()) {
      auto it = ids_.find(v.name());
      if (it == ids_.end()) {
        return Error(StatusCode::kInvalidModel, "graph output ", Quote(v.name()),
                     " is not produced by any node, input or initializer");
      }
      builder_.AddOutput(it->second);
    }
    return Status::Ok();
  }

  void AddMetadata() {
    std::string producer = "tessera onnx importer";
    if (!model_.producer_name().empty()) {
      producer += " (from " + model_.producer_name();
      if (!model_.producer_version().empty()) producer += " " + model_.producer_version();
      producer += ")";
    }
    builder_.SetProducer(producer);
    if (!graph_.name().empty()) builder_.SetMetadata("name", graph_.name());
    if (!model_.doc_string().empty()) builder_.SetMetadata("description", model_.doc_string());
    std::string opsets;
    for (const auto& [domain, version] : opsets_) {
      opsets += (opsets.empty() ? "" : " ") + (domain.empty() ? std::string("ai.onnx") : domain) + ":" +
                std::to_string(version);
    }
    builder_.SetMetadata("onnx.opset_import", opsets);
    builder_.SetMetadata("onnx.ir_version", std::to_string(model_.ir_version()));
    for (const pb::StringStringEntryProto& kv : model_.metadata_props()) builder_.SetMetadata(kv.key(), kv.value());
  }

  const pb::ModelProto& model_;
  const pb::GraphProto& graph_;
  const OnnxImportOptions& options_;
  const OpRegistry* registry_;
  std::map<std::string, int32_t> opsets_;  // "" is the default domain
  std::set<std::string> used_;
  std::set<std::string> bound_;  // graph inputs bound to constants
  std::unordered_map<std::string, int> ranks_;  // declared ranks, for legacy broadcasts
  std::unordered_map<std::string, int> ids_;
  ModelBuilder builder_;
};

StatusOr<std::vector<uint8_t>> ReadFileBytes(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Error(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError, path,
                 ": cannot open: ", std::strerror(errno));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (bytes.size() + got > kMaxOnnxBytes) {
      std::fclose(f);
      return Error(StatusCode::kResourceExhausted, path,
                   ": larger than 2 GiB; ONNX files that large keep their weights as external data, "
                   "which Tessera does not read");
    }
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Error(StatusCode::kIoError, path, ": read failed");
  return bytes;
}

}  // namespace

bool OnnxImportAvailable() { return true; }

DType DTypeFromOnnxElemType(int32_t elem_type) {
  switch (elem_type) {
    case pb::TensorProto::FLOAT: return DType::kF32;
    case pb::TensorProto::UINT8: return DType::kU8;
    case pb::TensorProto::INT8: return DType::kI8;
    case pb::TensorProto::INT32: return DType::kI32;
    case pb::TensorProto::INT64: return DType::kI64;
    case pb::TensorProto::BOOL: return DType::kBool;
    case pb::TensorProto::FLOAT16: return DType::kF16;
    case pb::TensorProto::BFLOAT16: return DType::kBF16;
    default: return DType::kUnknown;
  }
}

std::string OnnxElemTypeName(int32_t elem_type) {
  static const char* const kNames[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",      "UINT16",     "INT16",
                                       "INT32",     "INT64",  "STRING", "BOOL",      "FLOAT16",    "DOUBLE",
                                       "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
  if (elem_type >= 0 && elem_type < static_cast<int32_t>(sizeof(kNames) / sizeof(kNames[0]))) {
    return kNames[elem_type];
  }
  return "type " + std::to_string(elem_type);
}

StatusOr<std::vector<uint8_t>> ConvertOnnxToTess(const void* data, size_t size, const OnnxImportOptions& options) {
  const std::string& source = options.source_name;
  if (size > kMaxOnnxBytes) {
    return Error(StatusCode::kResourceExhausted, source, ": ", size,
                 " bytes is above protobuf's 2 GiB limit; large ONNX models keep their weights as external "
                 "data, which Tessera does not read");
  }
  if (data == nullptr && size > 0) return Status(StatusCode::kInvalidArgument, source + ": data is NULL");
  pb::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size))) {
    return Error(StatusCode::kInvalidModel, source, ": not a valid ONNX model (the ", size,
                 " bytes do not parse as an ONNX ModelProto; truncated or not an .onnx file)");
  }
  if (!model.has_graph()) {
    return Error(StatusCode::kInvalidModel, source, ": not a valid ONNX model (no graph",
                 size == 0 ? "; the file is empty)" : ")");
  }
  if (model.opset_import_size() == 0) {
    return Error(StatusCode::kInvalidModel, source, ": the model imports no op set (opset_import is empty)");
  }
  Converter converter(model, options);
  auto bytes = converter.Run();
  if (!bytes.ok()) return bytes.status().WithContext(source);
  return bytes;
}

StatusOr<std::vector<uint8_t>> ConvertOnnxFileToTess(const std::string& path, const OnnxImportOptions& options) {
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadOnnxFile(path));
  OnnxImportOptions named = options;
  if (named.source_name == OnnxImportOptions().source_name) named.source_name = path;
  return ConvertOnnxToTess(bytes.data(), bytes.size(), named);
}

StatusOr<std::vector<uint8_t>> ReadOnnxFile(const std::string& path) { return ReadFileBytes(path); }

StatusOr<std::vector<std::string>> ListOnnxOpTypes(const void* data, size_t size) {
  pb::ModelProto model;
  if (size > kMaxOnnxBytes || !model.ParseFromArray(data, static_cast<int>(size))) {
    return Status(StatusCode::kInvalidModel, "the bytes do not parse as an ONNX ModelProto");
  }
  std::vector<std::string> ops;
  for (const pb::NodeProto& node : model.graph().node()) {
    ops.push_back(IsDefaultDomain(node.domain()) ? node.op_type() : node.domain() + "." + node.op_type());
  }
  return ops;
}

StatusOr<OwnedTensor> ReadOnnxTensor(const void* data, size_t size, std::string* name, DType expected) {
  if (size > kMaxOnnxBytes) return Status(StatusCode::kResourceExhausted, "TensorProto larger than 2 GiB");
  pb::TensorProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) {
    return Status(StatusCode::kInvalidModel, "the bytes do not parse as an ONNX TensorProto");
  }
  if (name != nullptr) *name = proto.name();
  if (proto.data_type() == pb::TensorProto::UINT16 && (expected == DType::kF16 || expected == DType::kBF16)) {
    // Same storage (raw bytes or int32_data), other meaning of the bits.
    proto.set_data_type(expected == DType::kF16 ? pb::TensorProto::FLOAT16 : pb::TensorProto::BFLOAT16);
  }
  TSR_ASSIGN_OR_RETURN(DecodedTensor t, DecodeTensor(proto, "tensor " + Quote(proto.name())));
  TSR_ASSIGN_OR_RETURN(OwnedTensor out,
                       OwnedTensor::Allocate(t.dtype, Shape(t.dims.begin(), t.dims.end())));
  if (!t.bytes.empty()) std::memcpy(out.view.data, t.bytes.data(), t.bytes.size());
  return out;
}

}  // namespace tessera::graph
