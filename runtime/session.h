// A session: one caller's execution context over a shared Model. Owns the
// thread arena, the activation arena (sized by the memory plan) and the
// plan for the last input shapes. Sessions over one model run concurrently
// without locks; one session runs one call at a time.
#ifndef TESSERA_RUNTIME_SESSION_H_
#define TESSERA_RUNTIME_SESSION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/memory_plan.h"
#include "runtime/executor.h"
#include "runtime/model.h"
#include "runtime/threading.h"

namespace tessera::runtime {

// Streaming: a recurrent state carried between Run calls. After every
// successful Run the session keeps a copy of graph output `output` and feeds
// it as graph input `input` of the next Run, unless that Run gives the input
// itself (which sets the state explicitly). So a long sequence fed in chunks
// through e.g. an LSTM's initial_h/Y_h gives the outputs of feeding it whole.
struct StateBinding {
  std::string output;
  std::string input;
};

struct SessionOptions {
  int threads = 0;  // 0: all cores
  bool profiling = false;
  std::vector<StateBinding> state;
};

struct ProfileRecord {
  int node = -1;
  int64_t start_ns = 0;
  int64_t duration_ns = 0;
  int thread_index = 0;
  OpCost cost;
};

class Session {
 public:
  Session(std::shared_ptr<const Model> model, const SessionOptions& options);
  ~Session();

  // Runs with inputs given by name (views; only read) and returns the named
  // outputs as new tensors, in the order asked.
  Status Run(const std::vector<std::pair<std::string, const Tensor*>>& inputs,
             const std::vector<std::string>& output_names, std::vector<OwnedTensor>* outputs);

  // Forgets every carried state (SessionOptions::state): the next Run must
  // give those inputs again.
  void ResetState();

  // Cancels the Run in progress, if any; safe to call from any thread while
  // Run runs on another. Nodes not yet started are skipped and that Run
  // returns kCancelled; later runs are not affected.
  void Cancel();

  // Records of the last run when profiling is on, sorted by start time.
  // Built on first call after a run, so a profiled run pays only for its
  // timestamps, not for records nobody reads.
  const std::vector<ProfileRecord>& profile() const;
  // The input shapes of each node under the current plan, one entry per
  // input slot (dims nullptr and rank 0 for an omitted optional input), as
  // stable arrays for the C API. Built when the plan is made, never per run;
  // valid until a run with other input shapes.
  struct NodeShapes {
    std::vector<const int64_t*> dims;
    std::vector<size_t> ranks;
  };
  const std::vector<NodeShapes>& node_input_shapes() const { return node_shapes_; }
  const Model& model() const { return *model_; }
  int num_threads() const { return arena_.num_threads(); }

 private:
  Status Plan(const std::vector<Shape>& input_shapes);

  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  ThreadArena arena_;
  std::unique_ptr<Executor> executor_;

  // Plan for planned_shapes_ (the input shapes of the last run).
  bool planned_ = false;
  std::vector<Shape> planned_shapes_;
  std::vector<TensorInfo> infos_;
  std::vector<OpCost> costs_;
  std::vector<NodeShapes> node_shapes_;
  graph::MemoryPlan plan_;
  AlignedBuffer activations_;

  // One per options_.state binding; data == nullptr while none is carried.
  std::vector<OwnedTensor> state_;

  // Ids for Cancel: run_id_ counts Run calls; cancelled_run_ holds the id
  // of the last run Cancel was called during.
  std::atomic<uint64_t> run_id_{0};
  std::atomic<uint64_t> cancelled_run_{0};

  std::vector<NodeRecord> records_;  // the executor's, reused by every profiled run
  bool records_ready_ = false;       // records_ hold the last run's, which succeeded
  mutable std::vector<ProfileRecord> profile_;
  mutable bool profile_built_ = false;
};

}  // namespace tessera::runtime

#endif  // TESSERA_RUNTIME_SESSION_H_
