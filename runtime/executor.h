// Runs a model's nodes on a TBB flow graph: one continue_node per node, one
// edge per dependency, so independent nodes run concurrently. Built once
// per session inside the session's arena and reused by every run.
#ifndef TESSERA_RUNTIME_EXECUTOR_H_
#define TESSERA_RUNTIME_EXECUTOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/model.h"
#include "runtime/threading.h"

namespace tessera::runtime {

struct NodeRecord {
  int node = -1;
  int64_t start_ns = 0;  // from the start of the run
  int64_t duration_ns = 0;
  int thread_index = 0;
};

// A run's cancellation: the run with id `run` is cancelled once
// `*cancelled_run` equals it (Session::Cancel stores the id of the run in
// progress). Checked before each node starts.
struct CancelToken {
  const std::atomic<uint64_t>* cancelled_run = nullptr;
  uint64_t run = 0;
  bool cancelled() const {
    return cancelled_run != nullptr && cancelled_run->load(std::memory_order_relaxed) == run;
  }
};

class Executor {
 public:
  // `arena` must outlive the executor.
  Executor(const Model& model, ThreadArena& arena);
  ~Executor();

  // Runs every node once. tensors[v] is the view of value v (inputs,
  // constants, arena slices, owned outputs). On failure the first error is
  // returned with the node named; nodes not yet started are skipped.
  // With `records`, one entry per node is filled (in node order). Once
  // `cancel` says so, nodes not yet started are skipped and the run
  // returns kCancelled.
  Status Run(std::vector<Tensor>& tensors, std::vector<NodeRecord>* records, CancelToken cancel = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::runtime

#endif  // TESSERA_RUNTIME_EXECUTOR_H_
