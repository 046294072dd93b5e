#include "runtime/session.h"

#include <algorithm>
#include <cstring>

namespace tessera::runtime {
namespace {

std::string NameList(const graph::Graph& g, const std::vector<int>& values) {
  std::string s;
  for (int v : values) s += (s.empty() ? "'" : ", '") + g.values[static_cast<size_t>(v)].name + "'";
  return s.empty() ? "(none)" : s;
}

std::string ShapesToString(const std::vector<Shape>& shapes) {
  std::string s;
  for (const Shape& shape : shapes) s += (s.empty() ? "" : ", ") + ShapeToString(shape);
  return s;
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options)
    : model_(std::move(model)), options_(options), arena_(options.threads) {
  executor_ = std::make_unique<Executor>(*model_, arena_);
  state_.resize(options_.state.size());
}

void Session::ResetState() {
  for (OwnedTensor& s : state_) s = OwnedTensor();
}

Session::~Session() = default;

void Session::Cancel() {
  // The id of the run in progress (or of the last one, which has ended:
  // then this cancels nothing, since the next run gets a new id).
  cancelled_run_.store(run_id_.load());
}

const std::vector<ProfileRecord>& Session::profile() const {
  if (!profile_built_) {
    profile_.clear();
    if (records_ready_) {
      for (const NodeRecord& r : records_) {
        profile_.push_back(ProfileRecord{r.node, r.start_ns, r.duration_ns, r.thread_index,
                                         costs_[static_cast<size_t>(r.node)]});
      }
      std::sort(profile_.begin(), profile_.end(),
                [](const ProfileRecord& a, const ProfileRecord& b) { return a.start_ns < b.start_ns; });
    }
    profile_built_ = true;
  }
  return profile_;
}

Status Session::Plan(const std::vector<Shape>& input_shapes) {
  if (planned_ && input_shapes == planned_shapes_) return Status::Ok();
  planned_ = false;
  TSR_ASSIGN_OR_RETURN(infos_, model_->InferStaticShapes(input_shapes));
  const graph::Graph& g = model_->graph();
  costs_.clear();
  for (const graph::Node& node : g.nodes) {
    OpContext ctx = graph::MakeOpContext(g, node, infos_);
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o] >= 0) ctx.outputs[o] = infos_[static_cast<size_t>(node.outputs[o])];
    }
    costs_.push_back(node.def->cost ? node.def->cost(ctx) : DefaultCost(ctx));
  }
  node_shapes_.assign(g.nodes.size(), NodeShapes{});
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int v : g.nodes[n].inputs) {
      const bool present = v >= 0;
      node_shapes_[n].dims.push_back(present ? infos_[static_cast<size_t>(v)].shape.data() : nullptr);
      node_shapes_[n].ranks.push_back(present ? infos_[static_cast<size_t>(v)].shape.size() : 0);
    }
  }
  // Limits (ModelLimits) before anything is allocated: each tensor, then
  // the arena plus the outputs this run returns.
  const graph::ModelLimits& limits = model_->limits();
  for (size_t v = 0; v < infos_.size(); ++v) {
    TSR_RETURN_IF_ERROR(graph::CheckTensorLimit(infos_[v].shape, limits, "tensor '" + g.values[v].name + "'"));
  }
  plan_ = graph::PlanMemory(g, infos_, model_->reachability());
  int64_t planned = plan_.arena_bytes;
  for (int v : g.outputs) planned += NumElements(infos_[static_cast<size_t>(v)].shape) *
                                    static_cast<int64_t>(DTypeSize(infos_[static_cast<size_t>(v)].dtype));
  if (planned > limits.max_planned_bytes) {
    return Error(StatusCode::kResourceExhausted, "input shapes ", ShapesToString(input_shapes), " need ", planned,
                 " bytes of activations and outputs (", plan_.arena_bytes, " in the arena), over the limit of ",
                 limits.max_planned_bytes, " (max_planned_bytes)");
  }
  // Grow only: a smaller plan reuses the arena it already has.
  const size_t needed = static_cast<size_t>(std::max<int64_t>(plan_.arena_bytes, 64));
  if (activations_.size() < needed) {
    activations_ = AlignedBuffer();
    TSR_ASSIGN_OR_RETURN(activations_, AlignedBuffer::Allocate(needed));
  }
  planned_shapes_ = input_shapes;
  planned_ = true;
  return Status::Ok();
}

Status Session::Run(const std::vector<std::pair<std::string, const Tensor*>>& caller_inputs,
                    const std::vector<std::string>& output_names, std::vector<OwnedTensor>* outputs) {
  const CancelToken cancel{&cancelled_run_, run_id_.fetch_add(1) + 1};
  const graph::Graph& g = model_->graph();
  const auto find_value = [&](const std::vector<int>& list, const std::string& name) {
    return std::find_if(list.begin(), list.end(),
                        [&](int v) { return g.values[static_cast<size_t>(v)].name == name; });
  };
  // Carried states fill the inputs the caller did not give.
  std::vector<std::pair<std::string, const Tensor*>> inputs = caller_inputs;
  std::vector<size_t> state_outputs(options_.state.size());  // indices into g.outputs
  for (size_t i = 0; i < options_.state.size(); ++i) {
    const StateBinding& b = options_.state[i];
    auto out = find_value(g.outputs, b.output);
    if (out == g.outputs.end()) {
      return Error(StatusCode::kInvalidArgument, "state binding '", b.output, "' -> '", b.input,
                   "': the model has no output '", b.output, "'; its outputs are ", NameList(g, g.outputs));
    }
    auto in = find_value(g.inputs, b.input);
    if (in == g.inputs.end()) {
      return Error(StatusCode::kInvalidArgument, "state binding '", b.output, "' -> '", b.input,
                   "': the model has no input '", b.input, "'; its inputs are ", NameList(g, g.inputs));
    }
    state_outputs[i] = static_cast<size_t>(out - g.outputs.begin());
    const bool given = std::any_of(caller_inputs.begin(), caller_inputs.end(),
                                   [&](const auto& p) { return p.first == b.input; });
    if (given) continue;
    if (state_[i].view.data == nullptr) {
      return Error(StatusCode::kInvalidArgument, "input '", b.input, "' carries the state of output '", b.output,
                   "', but no state is held yet: give it on the first run and after ResetState");
    }
    inputs.emplace_back(b.input, &state_[i].view);
  }
  // A failed run leaves no records: stale ones could point into a plan that
  // is being replaced.
  records_ready_ = false;
  profile_built_ = false;
  // Match inputs to graph inputs by name.
  std::vector<const Tensor*> given(g.inputs.size(), nullptr);
  for (const auto& input : inputs) {
    // Not a structured binding: C++17 lambdas cannot capture those (clang
    // refuses; only C++20 allows it).
    const std::string& name = input.first;
    const Tensor* tensor = input.second;
    auto it = std::find_if(g.inputs.begin(), g.inputs.end(),
                           [&](int v) { return g.values[static_cast<size_t>(v)].name == name; });
    if (it == g.inputs.end()) {
      return Error(StatusCode::kInvalidArgument, "unknown input '", name, "'; the model's inputs are ",
                   NameList(g, g.inputs));
    }
    const size_t k = static_cast<size_t>(it - g.inputs.begin());
    if (given[k] != nullptr) return Error(StatusCode::kInvalidArgument, "input '", name, "' is given twice");
    if (tensor == nullptr || (tensor->data == nullptr && tensor->NumElements() > 0)) {
      return Error(StatusCode::kInvalidArgument, "input '", name, "' has no data");
    }
    const graph::Value& v = g.values[static_cast<size_t>(*it)];
    if (tensor->dtype != v.info.dtype) {
      return Error(StatusCode::kInvalidArgument, "input '", name, "' has dtype ", DTypeName(tensor->dtype),
                   ", expected ", DTypeName(v.info.dtype));
    }
    given[k] = tensor;
  }
  std::vector<Shape> shapes;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    if (given[k] == nullptr) {
      return Error(StatusCode::kInvalidArgument, "missing input '", g.values[static_cast<size_t>(g.inputs[k])].name,
                   "'; the model's inputs are ", NameList(g, g.inputs));
    }
    shapes.push_back(given[k]->shape);
  }
  std::vector<size_t> wanted;  // indices into g.outputs
  for (const std::string& name : output_names) {
    auto it = std::find_if(g.outputs.begin(), g.outputs.end(),
                           [&](int v) { return g.values[static_cast<size_t>(v)].name == name; });
    if (it == g.outputs.end()) {
      return Error(StatusCode::kInvalidArgument, "unknown output '", name, "'; the model's outputs are ",
                   NameList(g, g.outputs));
    }
    wanted.push_back(static_cast<size_t>(it - g.outputs.begin()));
  }

  TSR_RETURN_IF_ERROR(Plan(shapes));

  // Bind a view to every value.
  std::vector<Tensor> tensors(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    const graph::Value& value = g.values[v];
    if (value.is_constant) {
      tensors[v] = value.constant;
    } else if (plan_.offsets[v] >= 0) {
      tensors[v] = Tensor{infos_[v].dtype, infos_[v].shape,
                          static_cast<uint8_t*>(activations_.data()) + plan_.offsets[v]};
    }
  }
  for (size_t k = 0; k < g.inputs.size(); ++k) tensors[static_cast<size_t>(g.inputs[k])] = *given[k];
  std::vector<OwnedTensor> results(g.outputs.size());
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const size_t v = static_cast<size_t>(g.outputs[k]);
    TSR_ASSIGN_OR_RETURN(results[k], OwnedTensor::Allocate(infos_[v].dtype, infos_[v].shape));
    const graph::Value& value = g.values[v];
    if (value.is_constant || value.is_graph_input) {
      // Passed through: copy, since the caller owns outputs.
      std::memcpy(results[k].view.data, tensors[v].data, results[k].view.ByteSize());
    } else {
      tensors[v] = results[k].view;
    }
  }

  // records_ keeps its capacity from run to run: profiling allocates
  // nothing per run once the first run is done.
  TSR_RETURN_IF_ERROR(executor_->Run(tensors, options_.profiling ? &records_ : nullptr, cancel));

  records_ready_ = options_.profiling;

  // Keep the carried states (copies: the caller may take the outputs).
  // A state of unchanged shape reuses its buffer, so streaming fixed-size
  // chunks allocates nothing here after the first run.
  for (size_t i = 0; i < state_.size(); ++i) {
    const Tensor& src = results[state_outputs[i]].view;
    if (state_[i].view.data == nullptr || state_[i].view.dtype != src.dtype || state_[i].view.shape != src.shape) {
      TSR_ASSIGN_OR_RETURN(state_[i], OwnedTensor::Allocate(src.dtype, src.shape));
    }
    std::memcpy(state_[i].view.data, src.data, src.ByteSize());
  }

  outputs->clear();
  for (size_t i = 0; i < wanted.size(); ++i) {
    OwnedTensor& src = results[wanted[i]];
    // An output asked for twice gets a copy the second time.
    const bool used_again = std::find(wanted.begin() + static_cast<long>(i) + 1, wanted.end(), wanted[i]) != wanted.end();
    if (used_again) {
      TSR_ASSIGN_OR_RETURN(OwnedTensor copy, OwnedTensor::Allocate(src.view.dtype, src.view.shape));
      std::memcpy(copy.view.data, src.view.data, src.view.ByteSize());
      outputs->push_back(std::move(copy));
    } else {
      outputs->push_back(std::move(src));
    }
  }
  return Status::Ok();
}

}  // namespace tessera::runtime
