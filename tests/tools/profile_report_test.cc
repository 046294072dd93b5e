// The profiler's report (tools/profile_report.h) on hand-made records, where
// every number is known, and `tessera profile` end to end: its --json and
// --trace files must be valid JSON whose totals add up.
#include "tools/profile_report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tools/json_lite.h"

namespace tessera::cli {
namespace {

using testing::Json;
using testing::JsonParser;

NodeProfile Record(int index, const std::string& name, const std::string& op, int64_t start_ns, int64_t duration_ns,
                   int thread, double flops, double bytes_read, double bytes_written) {
  NodeProfile r;
  r.node_index = index;
  r.node_name = name;
  r.op_type = op;
  r.start_ns = start_ns;
  r.duration_ns = duration_ns;
  r.thread_index = thread;
  r.flops = flops;
  r.bytes_read = bytes_read;
  r.bytes_written = bytes_written;
  r.bytes = bytes_read + bytes_written;
  r.input_shapes = {{4, 8}, {}};
  r.input_present = {true, false};
  return r;
}

// Two runs of three nodes; node c overlaps a on another thread.
std::vector<std::vector<NodeProfile>> TwoRuns() {
  return {
      {Record(0, "a", "MatMul", 0, 100, 0, 1000, 300, 100), Record(1, "b", "Add", 100, 50, 0, 10, 80, 40),
       Record(2, "c", "MatMul", 20, 400, 1, 2000, 500, 100)},
      {Record(0, "a", "MatMul", 0, 300, 0, 1000, 300, 100), Record(1, "b", "Add", 300, 50, 0, 10, 80, 40),
       Record(2, "c", "MatMul", 10, 200, 1, 2000, 500, 100)},
  };
}

// 10 GFLOP/s and 5 GB/s: the ridge point is 2 FLOP/byte.
Roofline TestRoofline() {
  Roofline r;
  r.target = "TEST";
  r.threads = 2;
  r.peak_gflops = 10;
  r.bandwidth_gbs = 5;
  return r;
}

const ProfileRow& FindRow(const std::vector<ProfileRow>& rows, const std::string& name) {
  for (const ProfileRow& row : rows) {
    if (row.name == name) return row;
  }
  ADD_FAILURE() << "no row " << name;
  return rows.front();
}

TEST(ProfileReportTest, NodeRowsHoldHandComputedValues) {
  const ProfileReport report = BuildProfileReport(TwoRuns(), {500, 400}, TestRoofline());
  ASSERT_EQ(report.runs, 2);
  EXPECT_DOUBLE_EQ(report.total_ns, 1100);
  ASSERT_EQ(report.nodes.size(), 3u);
  // Sorted by total time: c (600), a (400), b (100).
  EXPECT_EQ(report.nodes[0].name, "c");
  EXPECT_EQ(report.nodes[1].name, "a");
  EXPECT_EQ(report.nodes[2].name, "b");

  const ProfileRow& c = report.nodes[0];
  EXPECT_EQ(c.calls, 2);
  EXPECT_EQ(c.node_index, 2);
  EXPECT_DOUBLE_EQ(c.total_ns, 600);
  EXPECT_DOUBLE_EQ(c.median_ns, 300);  // mean of the two middle values, 200 and 400
  EXPECT_DOUBLE_EQ(c.share, 600.0 / 1100.0);
  EXPECT_DOUBLE_EQ(c.flops, 4000);
  EXPECT_DOUBLE_EQ(c.bytes(), 1200);
  EXPECT_DOUBLE_EQ(c.gflops(), 4000.0 / 600.0);
  EXPECT_DOUBLE_EQ(c.gbs(), 2.0);
  EXPECT_DOUBLE_EQ(c.intensity(), 4000.0 / 1200.0);
  EXPECT_TRUE(c.compute_bound(report.roofline));
  // Compute-bound: attainable is the 10 GFLOP/s peak.
  EXPECT_DOUBLE_EQ(c.roofline_fraction(report.roofline), (4000.0 / 600.0) / 10.0);

  const ProfileRow& a = report.nodes[1];
  EXPECT_DOUBLE_EQ(a.median_ns, 200);
  EXPECT_DOUBLE_EQ(a.intensity(), 2.5);
  EXPECT_DOUBLE_EQ(a.roofline_fraction(report.roofline), 0.5);

  // b: 20 FLOPs over 240 bytes is below the ridge, so memory-bound, and
  // the attainable rate is intensity x bandwidth.
  const ProfileRow& b = report.nodes[2];
  EXPECT_FALSE(b.compute_bound(report.roofline));
  EXPECT_DOUBLE_EQ(b.roofline_fraction(report.roofline), (20.0 / 100.0) / ((20.0 / 240.0) * 5.0));
  ASSERT_EQ(b.input_shapes.size(), 2u);
  EXPECT_EQ(b.input_shapes[0], (std::vector<int64_t>{4, 8}));
  EXPECT_FALSE(b.input_present[1]);
}

TEST(ProfileReportTest, TotalsEqualTheSumOfNodesAndOfOps) {
  const auto runs = TwoRuns();
  const ProfileReport report = BuildProfileReport(runs, {500, 400}, TestRoofline());
  double records_ns = 0;
  for (const auto& run : runs) {
    for (const NodeProfile& r : run) records_ns += static_cast<double>(r.duration_ns);
  }
  double nodes_ns = 0, ops_ns = 0, node_share = 0, op_share = 0, node_flops = 0, op_flops = 0;
  for (const ProfileRow& row : report.nodes) {
    nodes_ns += row.total_ns;
    node_share += row.share;
    node_flops += row.flops;
  }
  for (const ProfileRow& row : report.ops) {
    ops_ns += row.total_ns;
    op_share += row.share;
    op_flops += row.flops;
  }
  EXPECT_DOUBLE_EQ(report.total_ns, records_ns);
  EXPECT_DOUBLE_EQ(nodes_ns, records_ns);
  EXPECT_DOUBLE_EQ(ops_ns, records_ns);
  EXPECT_DOUBLE_EQ(node_share, 1.0);
  EXPECT_DOUBLE_EQ(op_share, 1.0);
  EXPECT_DOUBLE_EQ(node_flops, op_flops);

  ASSERT_EQ(report.ops.size(), 2u);
  const ProfileRow& matmul = FindRow(report.ops, "MatMul");
  EXPECT_EQ(matmul.nodes, 2);
  EXPECT_EQ(matmul.calls, 4);
  EXPECT_DOUBLE_EQ(matmul.total_ns, 1000);
  EXPECT_DOUBLE_EQ(matmul.median_ns, 250);  // of 100, 200, 300, 400
  EXPECT_DOUBLE_EQ(matmul.flops, 6000);
  EXPECT_EQ(report.ops[0].name, "MatMul");  // longest first
}

TEST(ProfileReportTest, DataMovementIsMemoryBoundAgainstBandwidth) {
  std::vector<std::vector<NodeProfile>> runs = {{Record(0, "t", "Transpose", 0, 1000, 0, 0, 2000, 2000)}};
  const ProfileReport report = BuildProfileReport(runs, {1000}, TestRoofline());
  const ProfileRow& t = report.nodes.at(0);
  EXPECT_FALSE(t.compute_bound(report.roofline));
  EXPECT_DOUBLE_EQ(t.gbs(), 4.0);
  EXPECT_DOUBLE_EQ(t.roofline_fraction(report.roofline), 4.0 / 5.0);
}

TEST(ProfileReportTest, RooflineScalesWithThreads) {
  MachineInfo m;
  m.simd_target = "AVX2";
  m.cores = 4;
  m.peak_gflops_1thread = 100;
  m.peak_gflops = 380;
  m.bandwidth_gbs_1thread = 20;
  m.bandwidth_gbs = 30;
  const Roofline one = RooflineFor(m, 1);
  EXPECT_EQ(one.threads, 1);
  EXPECT_DOUBLE_EQ(one.peak_gflops, 100);
  EXPECT_DOUBLE_EQ(one.bandwidth_gbs, 20);
  EXPECT_DOUBLE_EQ(one.ridge(), 5);
  const Roofline two = RooflineFor(m, 2);  // 2 x one thread, capped at all cores
  EXPECT_DOUBLE_EQ(two.peak_gflops, 200);
  EXPECT_DOUBLE_EQ(two.bandwidth_gbs, 30);
  const Roofline all = RooflineFor(m, 0);
  EXPECT_EQ(all.threads, 4);
  EXPECT_DOUBLE_EQ(all.peak_gflops, 380);
  EXPECT_DOUBLE_EQ(RooflineFor(m, 16).peak_gflops, 380);
  EXPECT_EQ(all.target, "AVX2");
  // An all-core measurement below one thread's (other load on the cores)
  // does not lower the bound under one thread's.
  m.peak_gflops = 60;
  m.bandwidth_gbs = 10;
  EXPECT_DOUBLE_EQ(RooflineFor(m, 0).peak_gflops, 100);
  EXPECT_DOUBLE_EQ(RooflineFor(m, 0).bandwidth_gbs, 20);
  EXPECT_DOUBLE_EQ(RooflineFor(m, 2).peak_gflops, 100);
}

Json ParseOrFail(const std::string& text) {
  Json doc;
  std::string error;
  EXPECT_TRUE(JsonParser(text).Parse(&doc, &error)) << error << "\n" << text.substr(0, 2000);
  return doc;
}

TEST(ProfileReportTest, JsonParserRejectsInvalidJson) {
  // The checks below are only as good as the parser: make sure it fails.
  for (const char* bad : {"{", "{\"a\": 1,}", "[1 2]", "{\"a\": nan}", "[01]", "\"x", "{\"a\": 1} x", "[1.]"}) {
    Json doc;
    std::string error;
    EXPECT_FALSE(JsonParser(bad).Parse(&doc, &error)) << bad;
  }
  Json doc;
  std::string error;
  ASSERT_TRUE(JsonParser("{\"a\": [1, -2.5e3, \"x\\\"y\", true, null]}").Parse(&doc, &error)) << error;
  EXPECT_EQ(doc["a"].array[1].number, -2500);
  EXPECT_EQ(doc["a"].array[2].string, "x\"y");
}

TEST(ProfileReportTest, ChromeTraceHasOneEventPerNodeCallOnItsThreadLane) {
  const auto runs = TwoRuns();
  const std::string text = ChromeTraceJson(runs, {0, 1000}, {500, 400}, "test \"model\"");
  const Json doc = ParseOrFail(text);
  ASSERT_TRUE(doc.Has("traceEvents"));
  const std::vector<Json>& events = doc["traceEvents"].array;
  int node_events = 0, run_events = 0;
  std::set<int> named_lanes, node_lanes;
  for (const Json& e : events) {
    ASSERT_TRUE(e.Has("ph") && e.Has("pid") && e.Has("tid") && e.Has("name"));
    const std::string ph = e["ph"].string;
    const int tid = static_cast<int>(e["tid"].number);
    if (ph == "M") {
      if (e["name"].string == "thread_name") named_lanes.insert(tid);
      if (e["name"].string == "process_name") {
        EXPECT_EQ(e["args"]["name"].string, "test \"model\"");
      }
      continue;
    }
    ASSERT_EQ(ph, "X");
    ASSERT_GE(e["dur"].number, 0);
    ASSERT_GE(e["ts"].number, 0);
    if (e["cat"].string == "run") {
      ++run_events;
      continue;
    }
    ++node_events;
    node_lanes.insert(tid);
    const int run = static_cast<int>(e["args"]["run"].number);
    // The run's offset (1000 ns = 1 us for run 1) plus the node's start.
    const NodeProfile* match = nullptr;
    for (const NodeProfile& r : runs[static_cast<size_t>(run)]) {
      if (r.node_name == e["name"].string) match = &r;
    }
    ASSERT_NE(match, nullptr) << e["name"].string;
    EXPECT_EQ(tid, match->thread_index);
    EXPECT_DOUBLE_EQ(e["ts"].number, (run * 1000.0 + static_cast<double>(match->start_ns)) / 1e3);
    EXPECT_DOUBLE_EQ(e["dur"].number, static_cast<double>(match->duration_ns) / 1e3);
    EXPECT_EQ(e["args"]["flops"].number, match->flops);
    EXPECT_EQ(e["args"]["input_shapes"].string, "[4, 8] -");
  }
  EXPECT_EQ(node_events, 6);
  EXPECT_EQ(run_events, 2);
  EXPECT_EQ(node_lanes, (std::set<int>{0, 1}));
  // Every lane with events has a name: the two workers and the runs lane.
  EXPECT_EQ(named_lanes, (std::set<int>{0, 1, 2}));
}

TEST(ProfileReportTest, JsonReportMatchesTheTables) {
  const ProfileReport report = BuildProfileReport(TwoRuns(), {500, 400}, TestRoofline());
  const Json doc = ParseOrFail(ProfileReportJson(report, {"\"model\": \"m.tess\""}));
  EXPECT_EQ(doc["model"].string, "m.tess");
  EXPECT_EQ(doc["runs"].number, 2);
  EXPECT_DOUBLE_EQ(doc["roofline"]["ridge_flops_per_byte"].number, 2);
  ASSERT_EQ(doc["nodes"].array.size(), 3u);
  const Json& c = doc["nodes"].array[0];
  EXPECT_EQ(c["name"].string, "c");
  EXPECT_EQ(c["bound"].string, "compute");
  EXPECT_DOUBLE_EQ(c["total_ms"].number, 600e-6);
  EXPECT_EQ(c["input_shapes"].array[0].array.size(), 2u);
  EXPECT_EQ(c["input_shapes"].array[1].type, Json::Type::kNull);
  EXPECT_EQ(doc["ops"].array.size(), 2u);
}

// ---- The command end to end -------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ProfileCommandTest, WritesValidJsonAndTraceWhoseTotalsAddUp) {
  const std::string dir = ::testing::TempDir();
  const std::string json_path = dir + "/tessera_profile_test.json";
  const std::string trace_path = dir + "/tessera_profile_test.trace.json";
  std::remove(json_path.c_str());
  std::remove(trace_path.c_str());
  // gated_mlp: 8 nodes as stored, 5 after the load-time fusions; input
  // features [batch, 32].
  const std::string command = std::string(TESSERA_CLI_EMULATOR) + " '" + TESSERA_CLI + "' profile '" + TESSERA_MODEL +
                              "' --random-inputs --dim batch=16 --threads 2 --runs 3 --warmup 1 --json '" + json_path +
                              "' --trace '" + trace_path + "' > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  const Json report = ParseOrFail(ReadFile(json_path));
  EXPECT_EQ(report["runs"].number, 3);
  ASSERT_EQ(report["nodes"].array.size(), 5u);
  double nodes_ms = 0, ops_ms = 0;
  std::set<std::string> names;
  for (const Json& node : report["nodes"].array) {
    EXPECT_EQ(node["calls"].number, 3);
    nodes_ms += node["total_ms"].number;
    names.insert(node["name"].string);
    if (node["name"].string == "gate/matmul") {
      // [16, 32] x [32, 64]: 2 x 16 x 32 x 64 FLOPs per call, plus the
      // fused bias (1) and sigmoid (25) per output, 3 calls.
      EXPECT_EQ(node["flops"].number, 3.0 * (2 * 16 * 32 * 64 + 16 * 64 * 26));
      EXPECT_EQ(node["input_shapes"].array[0].array[0].number, 16);
    }
  }
  for (const Json& op : report["ops"].array) ops_ms += op["total_ms"].number;
  const double total_ms = report["total_node_ms"].number;
  EXPECT_GT(total_ms, 0);
  EXPECT_NEAR(nodes_ms, total_ms, 1e-6 * total_ms + 1e-9);
  EXPECT_NEAR(ops_ms, total_ms, 1e-6 * total_ms + 1e-9);
  EXPECT_EQ(report["run_wall_ms"].array.size(), 3u);

  const Json trace = ParseOrFail(ReadFile(trace_path));
  int node_events = 0;
  std::set<std::string> traced;
  for (const Json& e : trace["traceEvents"].array) {
    if (e["ph"].string != "X" || e["cat"].string == "run") continue;
    ++node_events;
    traced.insert(e["name"].string);
    const int tid = static_cast<int>(e["tid"].number);
    EXPECT_GE(tid, 0);
    EXPECT_LT(tid, 2);  // a 2-thread session has worker slots 0 and 1
  }
  EXPECT_EQ(node_events, 5 * 3);
  EXPECT_EQ(traced, names);
}

}  // namespace
}  // namespace tessera::cli
