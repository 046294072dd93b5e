// What `tessera profile` computes from per-node records (the public
// NodeProfile of tessera.hpp): per node and per op type, calls, total and
// median time, share, declared FLOPs and bytes, achieved GFLOP/s and GB/s,
// and where that sits under the machine's roofline. Also the machine
// outputs: a JSON report and a Chrome trace-event file (Perfetto,
// chrome://tracing) with one lane per worker thread.
//
// Kept apart from the command so tests can feed it synthetic records and
// check every number.
#ifndef TESSERA_TOOLS_PROFILE_REPORT_H_
#define TESSERA_TOOLS_PROFILE_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/tessera.hpp"

namespace tessera::cli {

// The limits that apply to a session of `threads` threads.
struct Roofline {
  std::string target;
  int threads = 1;
  double peak_gflops = 0;    // FP32 FMA
  double bandwidth_gbs = 0;  // stream triad
  // FLOPs per byte where the two limits meet: an op below it is
  // memory-bound, above it compute-bound.
  double ridge() const { return bandwidth_gbs > 0 ? peak_gflops / bandwidth_gbs : 0; }
};

// For `threads` threads (0 = all cores): the all-core numbers when the
// session uses every core, else the one-thread numbers scaled by the thread
// count and capped at the all-core numbers (never below one thread's).
Roofline RooflineFor(const MachineInfo& machine, int threads);

// One row of the report: a node, or all nodes of one op type.
struct ProfileRow {
  std::string name;  // node name, or op type for an op row
  std::string op;    // op type ("domain::Op" for a custom domain)
  int node_index = -1;  // -1 for an op row
  int nodes = 1;        // nodes of this op type (1 for a node row)
  // Node rows: one per input slot; input_present[i] is false for an
  // omitted optional input.
  std::vector<std::vector<int64_t>> input_shapes;
  std::vector<bool> input_present;
  int64_t calls = 0;
  double total_ns = 0;
  double median_ns = 0;  // of single calls
  double share = 0;      // of the sum of every node's time
  // Totals over all calls, from each op's declared cost.
  double flops = 0, bytes_read = 0, bytes_written = 0;

  double bytes() const { return bytes_read + bytes_written; }
  double gflops() const { return total_ns > 0 ? flops / total_ns : 0; }  // FLOP/ns = GFLOP/s
  double gbs() const { return total_ns > 0 ? bytes() / total_ns : 0; }
  double intensity() const { return bytes() > 0 ? flops / bytes() : 0; }  // FLOP per byte
  // Memory-bound when the op's intensity is below the ridge point (and
  // always when it declares no FLOPs).
  bool compute_bound(const Roofline& r) const { return flops > 0 && intensity() >= r.ridge(); }
  // Achieved over attainable: GFLOP/s over min(peak, intensity x bandwidth)
  // for ops with FLOPs, GB/s over bandwidth for pure data movement.
  double roofline_fraction(const Roofline& r) const;
};

struct ProfileReport {
  Roofline roofline;
  int runs = 0;
  std::vector<double> run_wall_ns;  // each timed run, as the caller measured it
  double total_ns = 0;              // every node's time over every run
  std::vector<ProfileRow> nodes;    // by total time, longest first
  std::vector<ProfileRow> ops;      // by total time, longest first
};

// runs[r] holds the records of run r; run_wall_ns[r] its wall time.
ProfileReport BuildProfileReport(const std::vector<std::vector<NodeProfile>>& runs,
                                 const std::vector<double>& run_wall_ns, const Roofline& roofline);

// The text tables of `tessera profile`.
std::string FormatProfileReport(const ProfileReport& report);

// The report as JSON. `header` holds extra members written first, each a
// complete `"key": value` pair (e.g. "\"model\": \"m.tess\"").
std::string ProfileReportJson(const ProfileReport& report, const std::vector<std::string>& header);

// A Chrome trace-event JSON document: one complete ("X") event per node
// call on the lane (tid) of the worker thread that ran it, runs laid out at
// run_start_ns[r] (from the first run's start), a "run N" event per run on
// a lane of its own, and thread_name metadata naming each lane.
std::string ChromeTraceJson(const std::vector<std::vector<NodeProfile>>& runs,
                            const std::vector<int64_t>& run_start_ns, const std::vector<double>& run_wall_ns,
                            const std::string& process_name);

// JSON string literal with escapes (quotes included).
std::string JsonString(const std::string& text);
// A JSON number; non-finite values (invalid in JSON) become null.
std::string JsonNumber(double value);

// Writes `text` to `path` or fails (exit code 1) naming the option and file.
void WriteTextFile(const std::string& option, const std::string& path, const std::string& text);
// Fails early (before any run) if `path` cannot be created for writing.
void CheckWritable(const std::string& option, const std::string& path);

}  // namespace tessera::cli

#endif  // TESSERA_TOOLS_PROFILE_REPORT_H_
