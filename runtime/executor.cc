#include "runtime/executor.h"

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <set>

#include "runtime/tsan_annotations.h"

namespace tessera::runtime {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Per-node timestamps come from the CPU's tick counter: reading it costs a
// few nanoseconds where steady_clock costs 20-30 on a VM, and profiling
// takes two per node, which at batch 1 is most of what profiling costs.
// Ticks become nanoseconds only when a run ends. x86's invariant TSC and
// arm64's generic timer tick at a constant rate; elsewhere steady_clock is
// the tick.
int64_t Ticks() {
#if defined(__x86_64__) || defined(__i386__)
  return static_cast<int64_t>(__rdtsc());
#elif defined(__aarch64__)
  int64_t t;
  asm volatile("mrs %0, cntvct_el0" : "=r"(t));
  return t;
#else
  return SteadyNs();
#endif
}

// Nanoseconds per tick, measured once against steady_clock over 200 us
// (a one-off cost on the first profiled run; the read jitter of both
// clocks is then well under 0.1% of the interval).
double NsPerTick() {
  static const double ns_per_tick = [] {
    const int64_t ns0 = SteadyNs();
    const int64_t t0 = Ticks();
    int64_t ns1 = ns0;
    while (ns1 - ns0 < 200000) ns1 = SteadyNs();
    const int64_t t1 = Ticks();
    return t1 > t0 ? static_cast<double>(ns1 - ns0) / static_cast<double>(t1 - t0) : 1.0;
  }();
  return ns_per_tick;
}

}  // namespace

struct Executor::Impl {
  Impl(const Model& m, ThreadArena& a) : model(m), arena(a) {}

  // Builds the flow graph; must run inside the arena, since a graph
  // attaches to the arena it is made in.
  void Build() {
    graph = std::make_unique<tbb::flow::graph>();
    start = std::make_unique<tbb::flow::broadcast_node<tbb::flow::continue_msg>>(*graph);
    const graph::Graph& g = model.graph();
    const size_t n = g.nodes.size();
    nodes.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      nodes.push_back(std::make_unique<tbb::flow::continue_node<tbb::flow::continue_msg>>(
          *graph, [this, i](const tbb::flow::continue_msg&) { RunNode(i); }));
    }
    const bool chain = model.reachability().sequential();
    for (size_t i = 0; i < n; ++i) {
      std::set<int> producers;
      if (chain) {
        if (i > 0) producers.insert(static_cast<int>(i) - 1);
      } else {
        for (int v : g.nodes[i].inputs) {
          if (v >= 0 && g.values[static_cast<size_t>(v)].producer >= 0) {
            producers.insert(g.values[static_cast<size_t>(v)].producer);
          }
        }
      }
      if (producers.empty()) {
        tbb::flow::make_edge(*start, *nodes[i]);
      } else {
        for (int p : producers) tbb::flow::make_edge(*nodes[static_cast<size_t>(p)], *nodes[i]);
      }
      predecessors.emplace_back(producers.begin(), producers.end());
    }
  }

  void RunNode(size_t i) {
    // For ThreadSanitizer, the flow graph's edges (runtime/tsan_annotations.h).
    TSR_TSAN_ACQUIRE(&predecessors);
    for (int p : predecessors[i]) TSR_TSAN_ACQUIRE(&predecessors[static_cast<size_t>(p)]);
    RunNodeBody(i);
    TSR_TSAN_RELEASE(&predecessors[i]);
  }

  void RunNodeBody(size_t i) {
    if (failed.load(std::memory_order_relaxed)) return;
    if (cancel.cancelled()) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (first_error.ok()) first_error = Status(StatusCode::kCancelled, "the run was cancelled");
      failed.store(true, std::memory_order_relaxed);
      return;
    }
    const int64_t t0 = records != nullptr ? Ticks() : 0;
    const graph::Node& node = model.graph().nodes[i];
    Status status;
    try {
      KernelContext ctx(tensors->data(), node.inputs, node.outputs, &runner);
      status = model.kernel(i).Run(ctx);
    } catch (const std::exception& e) {
      status = Error(StatusCode::kInternal, "kernel threw: ", e.what());
    } catch (...) {
      status = Error(StatusCode::kInternal, "kernel threw a non-standard exception");
    }
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (first_error.ok()) first_error = status.WithContext(graph::NodeLabel(node));
      failed.store(true, std::memory_order_relaxed);
    }
    if (records != nullptr) {
      // Raw ticks here; Run converts them to nanoseconds once all nodes ran.
      NodeRecord& r = (*records)[i];
      r.node = static_cast<int>(i);
      r.start_ns = t0;
      r.duration_ns = Ticks() - t0;
      r.thread_index = tbb::this_task_arena::current_thread_index();
    }
  }

  const Model& model;
  ThreadArena& arena;
  TbbRunner runner;
  std::unique_ptr<tbb::flow::graph> graph;
  std::unique_ptr<tbb::flow::broadcast_node<tbb::flow::continue_msg>> start;
  std::vector<std::unique_ptr<tbb::flow::continue_node<tbb::flow::continue_msg>>> nodes;
  // The nodes each node waits for (its flow-graph edges), by node index.
  std::vector<std::vector<int>> predecessors;

  // State of the run in progress.
  std::vector<Tensor>* tensors = nullptr;
  std::vector<NodeRecord>* records = nullptr;
  CancelToken cancel;
  int64_t run_start_ticks = 0;
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  Status first_error;
};

Executor::Executor(const Model& model, ThreadArena& arena) : impl_(std::make_unique<Impl>(model, arena)) {}

Executor::~Executor() {
  // The graph must be destroyed in the arena it was built in.
  if (impl_->graph) {
    impl_->arena.Execute([this] {
      impl_->nodes.clear();
      impl_->start.reset();
      impl_->graph.reset();
    });
  }
}

Status Executor::Run(std::vector<Tensor>& tensors, std::vector<NodeRecord>* records, CancelToken cancel) {
  Impl& s = *impl_;
  s.tensors = &tensors;
  s.records = records;
  s.cancel = cancel;
  if (records != nullptr) records->assign(s.model.graph().nodes.size(), NodeRecord{});
  s.failed.store(false);
  s.first_error = Status::Ok();
  s.run_start_ticks = Ticks();
  std::exception_ptr escaped;
  s.arena.Execute([&] {
    try {
      if (!s.graph) s.Build();
      TSR_TSAN_RELEASE(&s.predecessors);
      s.start->try_put(tbb::flow::continue_msg());
      s.graph->wait_for_all();
      for (const auto& p : s.predecessors) TSR_TSAN_ACQUIRE(&p);
    } catch (...) {
      escaped = std::current_exception();
    }
  });
  if (escaped) {
    // Only flow-graph machinery itself (allocation) can get here; node
    // bodies catch their own exceptions.
    try {
      std::rethrow_exception(escaped);
    } catch (const std::exception& e) {
      return Error(StatusCode::kInternal, "executor failed: ", e.what());
    } catch (...) {
      return Error(StatusCode::kInternal, "executor failed");
    }
  }
  if (records != nullptr) {
    const double ns_per_tick = NsPerTick();
    for (NodeRecord& r : *records) {
      // A node skipped after an earlier failure keeps its zero record.
      if (r.node < 0) continue;
      r.start_ns = static_cast<int64_t>(static_cast<double>(r.start_ns - s.run_start_ticks) * ns_per_tick);
      r.duration_ns = static_cast<int64_t>(static_cast<double>(r.duration_ns) * ns_per_tick);
    }
  }
  s.tensors = nullptr;
  s.records = nullptr;
  return s.first_error;
}

}  // namespace tessera::runtime
