#include "runtime/executor.h"

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <set>

namespace tessera::runtime {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
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
    }
  }

  void RunNode(size_t i) {
    if (failed.load(std::memory_order_relaxed)) return;
    const int64_t t0 = records != nullptr ? NowNs() : 0;
    const graph::Node& node = model.graph().nodes[i];
    std::vector<const Tensor*> ins;
    ins.reserve(node.inputs.size());
    for (int v : node.inputs) ins.push_back(v >= 0 ? &(*tensors)[static_cast<size_t>(v)] : nullptr);
    std::vector<Tensor*> outs;
    outs.reserve(node.outputs.size());
    for (int v : node.outputs) outs.push_back(v >= 0 ? &(*tensors)[static_cast<size_t>(v)] : nullptr);
    Status status;
    try {
      KernelContext ctx(std::move(ins), std::move(outs), &runner);
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
      NodeRecord& r = (*records)[i];
      r.node = static_cast<int>(i);
      r.start_ns = t0 - run_start_ns;
      r.duration_ns = NowNs() - t0;
      r.thread_index = tbb::this_task_arena::current_thread_index();
    }
  }

  const Model& model;
  ThreadArena& arena;
  TbbRunner runner;
  std::unique_ptr<tbb::flow::graph> graph;
  std::unique_ptr<tbb::flow::broadcast_node<tbb::flow::continue_msg>> start;
  std::vector<std::unique_ptr<tbb::flow::continue_node<tbb::flow::continue_msg>>> nodes;

  // State of the run in progress.
  std::vector<Tensor>* tensors = nullptr;
  std::vector<NodeRecord>* records = nullptr;
  int64_t run_start_ns = 0;
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

Status Executor::Run(std::vector<Tensor>& tensors, std::vector<NodeRecord>* records) {
  Impl& s = *impl_;
  s.tensors = &tensors;
  s.records = records;
  if (records != nullptr) records->assign(s.model.graph().nodes.size(), NodeRecord{});
  s.failed.store(false);
  s.first_error = Status::Ok();
  s.run_start_ns = NowNs();
  std::exception_ptr escaped;
  s.arena.Execute([&] {
    try {
      if (!s.graph) s.Build();
      s.start->try_put(tbb::flow::continue_msg());
      s.graph->wait_for_all();
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
  s.tensors = nullptr;
  s.records = nullptr;
  return s.first_error;
}

}  // namespace tessera::runtime
