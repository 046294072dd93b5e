// The memory plan: reuse by liveness, and never an overlap between two
// values that may be alive at the same time under concurrent execution.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "graph/loader.h"
#include "graph/memory_plan.h"
#include "tessera/model_builder.h"

namespace tessera::graph {
namespace {

std::unique_ptr<Graph> Load(const ModelBuilder& b) {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  auto g = LoadGraphFromBuffer(bytes.data(), bytes.size(), LoadOptions{});
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return std::move(g).value();
}

std::vector<TensorInfo> Infos(const Graph& g) {
  std::vector<TensorInfo> infos;
  for (const Value& v : g.values) infos.push_back(v.info);
  return infos;
}

// True when a and b may be alive at the same time: neither is dead before
// the other is produced.
bool MayOverlapInTime(const Graph& g, int a, int b, const Reachability& reach) {
  auto dead_before_producer_of = [&](int x, int y) {
    const Value& vx = g.values[static_cast<size_t>(x)];
    const int node = g.values[static_cast<size_t>(y)].producer;
    if (vx.consumers.empty()) return reach.IsAncestor(vx.producer, node);
    for (int c : vx.consumers) {
      if (!reach.IsAncestor(c, node)) return false;
    }
    return true;
  };
  return !dead_before_producer_of(a, b) && !dead_before_producer_of(b, a);
}

void ExpectNoConflicts(const Graph& g, const MemoryPlan& plan, const std::vector<TensorInfo>& infos,
                       const Reachability& reach) {
  for (size_t a = 0; a < g.values.size(); ++a) {
    if (plan.offsets[a] < 0) continue;
    const int64_t size_a = static_cast<int64_t>(NumElements(infos[a].shape) * 4);
    EXPECT_EQ(plan.offsets[a] % 64, 0);
    EXPECT_LE(plan.offsets[a] + size_a, plan.arena_bytes);
    for (size_t b = a + 1; b < g.values.size(); ++b) {
      if (plan.offsets[b] < 0) continue;
      const int64_t size_b = static_cast<int64_t>(NumElements(infos[b].shape) * 4);
      const bool disjoint = plan.offsets[a] + size_a <= plan.offsets[b] || plan.offsets[b] + size_b <= plan.offsets[a];
      if (!disjoint) {
        EXPECT_FALSE(MayOverlapInTime(g, static_cast<int>(a), static_cast<int>(b), reach))
            << "'" << g.values[a].name << "' and '" << g.values[b].name << "' share memory but may be alive together";
      }
    }
  }
}

TEST(MemoryPlanTest, ChainReusesTwoBuffers) {
  ModelBuilder b;
  int t = b.AddInput("x", TSR_DTYPE_FLOAT32, {256});
  for (int i = 0; i < 10; ++i) t = b.AddNode(i % 2 ? "Relu" : "Tanh", {t}, {"t" + std::to_string(i)})[0];
  b.AddOutput(t);
  auto g = Load(b);
  Reachability reach(*g);
  const MemoryPlan plan = PlanMemory(*g, Infos(*g), reach);
  // Nine intermediates of 1 KiB each; a chain needs only two alive at once.
  EXPECT_EQ(plan.num_intermediates, 9);
  EXPECT_EQ(plan.unplanned_bytes, 9 * 1024);
  EXPECT_EQ(plan.arena_bytes, 2 * 1024);
  ExpectNoConflicts(*g, plan, Infos(*g), reach);
}

TEST(MemoryPlanTest, ConcurrentBranchesDoNotShare) {
  // Two independent chains: in topological order branch A is finished
  // before branch B starts, but they may run at the same time, so B must
  // not reuse A's buffers.
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {16});
  int a = x, c = x;
  for (int i = 0; i < 3; ++i) a = b.AddNode("Relu", {a}, {"a" + std::to_string(i)})[0];
  for (int i = 0; i < 3; ++i) c = b.AddNode("Tanh", {c}, {"b" + std::to_string(i)})[0];
  b.AddOutput(b.AddNode("Add", {a, c}, {"y"})[0]);
  auto g = Load(b);
  Reachability reach(*g);
  EXPECT_FALSE(reach.IsAncestor(g->values[static_cast<size_t>(g->FindValue("a0"))].producer,
                                g->values[static_cast<size_t>(g->FindValue("b0"))].producer));
  const MemoryPlan plan = PlanMemory(*g, Infos(*g), reach);
  ExpectNoConflicts(*g, plan, Infos(*g), reach);
  const int64_t a0 = plan.offsets[static_cast<size_t>(g->FindValue("a0"))];
  for (const char* name : {"b0", "b1", "b2"}) {
    EXPECT_NE(plan.offsets[static_cast<size_t>(g->FindValue(name))], a0) << name;
  }
}

TEST(MemoryPlanTest, RandomDagsNeverConflict) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    ModelBuilder b;
    std::vector<int> pool{b.AddInput("x", TSR_DTYPE_FLOAT32, {static_cast<int64_t>(8 + rng() % 64)})};
    const int nodes = 5 + static_cast<int>(rng() % 40);
    for (int i = 0; i < nodes; ++i) {
      const int in0 = pool[rng() % pool.size()];
      const std::string name = "v" + std::to_string(i);
      if (rng() % 2) {
        pool.push_back(b.AddNode("Add", {in0, pool[rng() % pool.size()]}, {name})[0]);
      } else {
        pool.push_back(b.AddNode(rng() % 2 ? "Relu" : "Sigmoid", {in0}, {name})[0]);
      }
    }
    b.AddOutput(pool.back());
    auto g = Load(b);
    Reachability reach(*g);
    const MemoryPlan plan = PlanMemory(*g, Infos(*g), reach);
    ExpectNoConflicts(*g, plan, Infos(*g), reach);
    EXPECT_LE(plan.arena_bytes, plan.unplanned_bytes) << "seed " << seed;
  }
}

}  // namespace
}  // namespace tessera::graph
