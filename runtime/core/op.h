// The op interface: everything Tessera knows about an operator.
//
// An OpDef declares an op completely: its key (domain, type, version range),
// its inputs, outputs and attributes, shape inference, cost, and a kernel
// factory. Graph validation, the planner, the profiler and the executor all
// work from this declaration alone, so built-in ops and plugin ops are
// indistinguishable once registered.
//
// Lifecycle of a kernel:
//   load:  graph validation -> InferShapes (dims may be kDynamicDim)
//          -> CreateKernel (once per node; may prepack constant inputs)
//   run:   InferShapes again with the session's concrete input shapes,
//          outputs allocated by the host, then Kernel::Run.
// A Kernel is immutable after creation and shared by every session, so Run
// is const and all per-call state lives in the KernelContext.
//
// Value propagation (shapes that depend on input values). Some outputs'
// shapes depend on the VALUES of an input, not only on its shape: Reshape's
// `shape`, Expand's and ConstantOfShape's shape, the starts/ends/axes of
// Slice, the axes of Squeeze/Unsqueeze/ReduceMean, Split's sizes. Exported
// graphs often compute those values instead of storing them (PyTorch emits
// Shape -> Gather -> Concat -> Reshape), and Tessera must know every shape
// before running, to plan memory. So:
//   * infer_shapes may also fill ctx.output_values[o] with the output's
//     VALUE when it is computable from input shapes and known input values
//     alone (Shape, and Gather/Concat/Slice/Cast/Squeeze/Unsqueeze/integer
//     arithmetic on known values). Only small integer or bool outputs
//     qualify (IsPropagatable); an op fills them where it can and leaves
//     them empty otherwise, never guessing.
//   * Graph shape inference hands such a value to every consumer through
//     ctx.constants, exactly as if the file had stored it as a constant. At
//     load, values that follow from static dims are known; when a session
//     plans concrete input shapes, inference runs again and values derived
//     from dynamic dims (batch, sequence length) become known too.
//   * A ParamDef with needs_value marks an input whose values decide output
//     shapes. If such an input is still unknown when a session plans (it is
//     computed from tensor DATA, not shapes), planning fails with an error
//     naming the node and the input ("unsupported data-dependent shape").
//   * Kernels never rely on propagated values: CreateKernel sees only the
//     file's constants, and Run reads the real input tensors (the producing
//     nodes still run) and checks them against the planned output shape.
#ifndef TESSERA_RUNTIME_CORE_OP_H_
#define TESSERA_RUNTIME_CORE_OP_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/attributes.h"
#include "runtime/core/dtype.h"
#include "runtime/core/status.h"
#include "runtime/core/tensor.h"

namespace tessera {

// Domain of ONNX's standard ops ("ai.onnx" in a file is read as this).
inline constexpr const char* kOnnxDomain = "";
// Domain of Tessera's own ops (fused attention and the like).
inline constexpr const char* kTesseraDomain = "tessera";
inline constexpr int32_t kMaxOpVersion = std::numeric_limits<int32_t>::max();

struct ParamDef {
  enum class Presence { kRequired, kOptional, kVariadic };

  std::string name;
  Presence presence = Presence::kRequired;
  // Allowed element types; empty means any.
  std::vector<DType> dtypes;
  // Params that name the same non-empty type_var must have the same dtype
  // (ONNX's type constraints, e.g. "T" for A, B and Y of MatMul).
  std::string type_var;
  // For kVariadic (only the last param may be): the fewest accepted.
  int32_t min_count = 1;
  // The op needs this input's values (not only its shape) to infer output
  // shapes; see "Value propagation" at the top of this file.
  bool needs_value = false;
};

struct AttrDef {
  std::string name;
  AttrType type = AttrType::kUndefined;
  bool required = false;
  // Filled into the node when the attribute is absent and not required;
  // kUndefined means "no default" (the op checks Has()).
  Attribute default_value;
};

// What an op sees of its node outside Run: at load (shapes may hold
// kDynamicDim) and when a session plans concrete shapes.
struct OpContext {
  std::string node_name;
  const AttributeMap* attrs = nullptr;
  // One entry per input slot; nullptr for an omitted optional input.
  std::vector<const TensorInfo*> inputs;
  // Same length as inputs; the value where the input is a constant
  // (weights) or, during shape inference, a value known by propagation.
  std::vector<const Tensor*> constants;
  // One entry per output slot. InferShapes fills them; Cost and
  // CreateKernel read them.
  std::vector<TensorInfo> outputs;
  // Optional, filled by InferShapes only: an output's value where it follows
  // from shapes and known input values (value propagation, see the top of
  // this file). Empty (data == nullptr) means unknown. Hosts size it like
  // `outputs` before calling InferShapes; SetOutputValue allocates it.
  std::vector<OwnedTensor> output_values;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const TensorInfo& input(size_t i) const { return *inputs[i]; }
  const Tensor* constant(size_t i) const { return i < constants.size() ? constants[i] : nullptr; }
  // Allocates output_values[o] with outputs[o]'s dtype and (static) shape
  // and returns its view, or nullptr when the output does not qualify
  // (IsPropagatable) or the host did not ask for values; the op then simply
  // does not propagate.
  Tensor* SetOutputValue(size_t o);
};

// Most elements an output may have to be propagated as a value: shape
// vectors and index lists are tiny, and a cap keeps inference cheap.
inline constexpr int64_t kMaxPropagatedElements = 1024;

// i32, i64 or bool, static shape, at most kMaxPropagatedElements elements.
bool IsPropagatable(const TensorInfo& info);

// Work of one node execution, the single source for the profiler,
// benchmarks and roofline reports.
struct OpCost {
  double flops = 0;
  double bytes_read = 0;
  double bytes_written = 0;
};

// Bytes of all present inputs and outputs, no FLOPs: a default for data
// movement ops. Requires static shapes.
OpCost DefaultCost(const OpContext& ctx);

// Elements of a tensor when its shape is fully known, else 0: what a Cost
// function counts for a shape that is still partly dynamic.
double KnownElements(const TensorInfo& info);

// Checks a tensor handed to Kernel::Run: present (with data unless empty)
// and, when `dtype` is not kUnknown, of that dtype. The host validated the
// node, so a failure means a host bug or a misuse through the C API; it is
// reported, never crashed on. `role` is e.g. "input 'A'".
Status CheckRunTensor(const char* op, const std::string& role, const Tensor* t, DType dtype = DType::kUnknown);

// Lent by the host to a running kernel. Implemented by the runtime on the
// session's TBB arena; the same service reaches plugins through the C ABI.
class ParallelRunner {
 public:
  virtual ~ParallelRunner() = default;
  // Calls fn(ctx, begin, end) over chunks that tile [0, n). Chunk bounds
  // depend only on n and grain (never on the thread count), and every chunk
  // has at most `grain` items. Returns after all chunks ran.
  virtual void ParallelFor(int64_t n, int64_t grain, void (*fn)(void* ctx, int64_t begin, int64_t end),
                           void* ctx) const = 0;
  // How many threads may run chunks at once (>= 1). A kernel may size its
  // work with it (fewer, larger items when few threads share them), but a
  // result must never depend on it.
  virtual int MaxConcurrency() const = 0;
};

// Runs everything on the calling thread, in order. For tests and tools.
class SerialRunner final : public ParallelRunner {
 public:
  void ParallelFor(int64_t n, int64_t grain, void (*fn)(void*, int64_t, int64_t), void* ctx) const override;
  int MaxConcurrency() const override { return 1; }
};

class KernelContext {
 public:
  // A node's view of the run's tensors: `input_ids` and `output_ids` index
  // `tensors` (-1 for an omitted one). Nothing is copied, so making a
  // context per node per run allocates nothing.
  KernelContext(Tensor* tensors, const std::vector<int>& input_ids, const std::vector<int>& output_ids,
                const ParallelRunner* runner)
      : tensors_(tensors), input_ids_(&input_ids), output_ids_(&output_ids), runner_(runner) {}
  // Hands the scratch buffers back to this thread's cache (see Scratch).
  ~KernelContext();
  KernelContext(const KernelContext&) = delete;
  KernelContext& operator=(const KernelContext&) = delete;

  size_t num_inputs() const { return input_ids_->size(); }
  size_t num_outputs() const { return output_ids_->size(); }
  // nullptr for an omitted optional input.
  const Tensor* input(size_t i) const { return Lookup(*input_ids_, i); }
  // Allocated by the host with the inferred shape; nullptr where the node
  // omits that output.
  Tensor* output(size_t i) const { return Lookup(*output_ids_, i); }

  // fn(begin, end) over [0, n) in chunks of at most `grain` items. Chunk
  // bounds never depend on the thread count; a kernel keeps results
  // bitwise thread-invariant by never combining partial results across
  // chunks in an order that depends on scheduling.
  template <typename Fn>
  void ParallelFor(int64_t n, int64_t grain, const Fn& fn) const {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n <= grain || runner_ == nullptr) {
      fn(int64_t{0}, n);
      return;
    }
    runner_->ParallelFor(
        n, grain,
        [](void* c, int64_t begin, int64_t end) { (*static_cast<const Fn*>(c))(begin, end); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // 64-byte-aligned memory that lives until Run returns; its contents are
  // unspecified (a reused buffer holds an earlier call's data).
  StatusOr<void*> Scratch(size_t bytes);

  const ParallelRunner* runner() const { return runner_; }

 private:
  Tensor* Lookup(const std::vector<int>& ids, size_t i) const {
    return i < ids.size() && ids[i] >= 0 ? &tensors_[ids[i]] : nullptr;
  }

  Tensor* tensors_;
  const std::vector<int>* input_ids_;
  const std::vector<int>* output_ids_;
  const ParallelRunner* runner_;
  std::vector<AlignedBuffer> scratch_;
};

// A tensor table built from pointer lists (nullptr for an omitted input or
// output), for code that runs a kernel outside a session: plan-time value
// propagation, tests, benchmarks. Views are copied, so a kernel writes
// through to the outputs' memory.
struct TensorTable {
  TensorTable(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs);
  KernelContext Context(const ParallelRunner* runner) { return KernelContext(tensors.data(), input_ids, output_ids, runner); }

  std::vector<Tensor> tensors;
  std::vector<int> input_ids;
  std::vector<int> output_ids;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status Run(KernelContext& ctx) const = 0;
};

struct OpDef {
  std::string domain = kOnnxDomain;
  std::string op_type;
  // Inclusive range of op-set versions this definition implements.
  int32_t since_version = 1;
  int32_t until_version = kMaxOpVersion;

  std::vector<ParamDef> inputs;
  std::vector<ParamDef> outputs;
  std::vector<AttrDef> attributes;

  // Fills ctx.outputs from inputs and attributes; fails with a message that
  // names the offending input or attribute (the caller adds the node).
  std::function<Status(OpContext& ctx)> infer_shapes;
  // FLOPs and bytes for concrete shapes; DefaultCost when unset.
  std::function<OpCost(const OpContext& ctx)> cost;
  std::function<StatusOr<std::unique_ptr<Kernel>>(const OpContext& ctx)> create_kernel;

  // "Softmax v13+" / "tessera.Attention v1" for messages.
  std::string DisplayName() const;
};

// Checks a node's attributes against the declaration (known names, types,
// required ones present) and fills in declared defaults. Messages name the
// attribute; the caller adds the node.
Status CheckAndFillAttributes(const OpDef& def, AttributeMap& attrs);

// Checks input/output counts, presence and dtypes (incl. type_var
// agreement) of a node against the declaration. `inputs[i]` is nullptr for an
// omitted input. Messages name the param; the caller adds the node.
Status CheckSignature(const OpDef& def, const std::vector<const TensorInfo*>& inputs, size_t num_outputs);

// Value propagation by running the op's own kernel: when every present
// input is known (ctx.constant) and every output qualifies
// (IsPropagatable), allocates ctx.output_values and runs `kernel` on the
// known values on the calling thread. Otherwise does nothing. A kernel error
// (e.g. a known index out of range) is returned, so it surfaces at load or
// planning time with the node named by the caller.
Status PropagateByRunning(OpContext& ctx, const Kernel& kernel);

// Where op families register their ops; the plugin loader adapts into the
// same interface, so a built-in op is a plugin that happens to be linked in.
class OpRegistrar {
 public:
  virtual ~OpRegistrar() = default;
  virtual Status Register(OpDef def) = 0;
};

}  // namespace tessera

#endif  // TESSERA_RUNTIME_CORE_OP_H_
