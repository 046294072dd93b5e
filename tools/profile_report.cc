#include "tools/profile_report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "tools/cli_util.h"

namespace tessera::cli {
namespace {

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  return (*std::max_element(values.begin(), values.begin() + static_cast<long>(mid)) + upper) / 2;
}

std::string Fixed(double value, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

// 1234567 -> "1.23M": FLOP counts span from tens to 10^12 per node.
std::string Metric(double value) {
  static const char* const kSuffix[] = {"", "k", "M", "G", "T", "P"};
  int unit = 0;
  while (std::fabs(value) >= 1000 && unit < 5) {
    value /= 1000;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%.0f", value);
  } else {
    std::snprintf(buf, sizeof(buf), value < 10 ? "%.2f%s" : value < 100 ? "%.1f%s" : "%.0f%s", value, kSuffix[unit]);
  }
  return buf;
}

std::string OpLabel(const NodeProfile& r) { return OpName(r.domain, r.op_type); }

// "[4, 32] [32, 64]"; "-" stands for an omitted optional input.
std::string ShapeList(const std::vector<std::vector<int64_t>>& shapes, const std::vector<bool>& present) {
  std::string out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const bool here = i < present.size() && present[i];
    out += (i > 0 ? " " : "") + (here ? FormatShape(shapes[i]) : std::string("-"));
  }
  return out;
}

// Rows accumulate durations; medians are taken at the end.
struct Accumulator {
  ProfileRow row;
  std::vector<double> durations;
};

void Add(Accumulator* a, const NodeProfile& r) {
  a->row.calls += 1;
  a->row.total_ns += static_cast<double>(r.duration_ns);
  a->row.flops += r.flops;
  a->row.bytes_read += r.bytes_read;
  a->row.bytes_written += r.bytes_written;
  a->durations.push_back(static_cast<double>(r.duration_ns));
}

std::vector<ProfileRow> Finish(std::vector<Accumulator> accs, double total_ns) {
  std::vector<ProfileRow> rows;
  for (Accumulator& a : accs) {
    a.row.median_ns = Median(a.durations);
    a.row.share = total_ns > 0 ? a.row.total_ns / total_ns : 0;
    rows.push_back(std::move(a.row));
  }
  // Longest first; ties keep execution (node index) or name order.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const ProfileRow& a, const ProfileRow& b) { return a.total_ns > b.total_ns; });
  return rows;
}

}  // namespace

Roofline RooflineFor(const MachineInfo& machine, int threads) {
  Roofline r;
  r.target = machine.simd_target;
  r.threads = threads <= 0 ? machine.cores : threads;
  // All cores can do at least what one does: an all-core measurement below
  // the one-thread one means other processes held the cores, so the
  // one-thread number is the better bound.
  const double peak_all = std::max(machine.peak_gflops, machine.peak_gflops_1thread);
  const double bandwidth_all = std::max(machine.bandwidth_gbs, machine.bandwidth_gbs_1thread);
  if (r.threads >= machine.cores) {
    r.peak_gflops = peak_all;
    r.bandwidth_gbs = bandwidth_all;
  } else {
    r.peak_gflops = std::min(peak_all, machine.peak_gflops_1thread * r.threads);
    r.bandwidth_gbs = std::min(bandwidth_all, machine.bandwidth_gbs_1thread * r.threads);
  }
  return r;
}

double ProfileRow::roofline_fraction(const Roofline& r) const {
  if (total_ns <= 0) return 0;
  if (flops > 0) {
    const double attainable = std::min(r.peak_gflops, intensity() * r.bandwidth_gbs);
    return attainable > 0 ? gflops() / attainable : 0;
  }
  return r.bandwidth_gbs > 0 ? gbs() / r.bandwidth_gbs : 0;
}

ProfileReport BuildProfileReport(const std::vector<std::vector<NodeProfile>>& runs,
                                 const std::vector<double>& run_wall_ns, const Roofline& roofline) {
  ProfileReport report;
  report.roofline = roofline;
  report.runs = static_cast<int>(runs.size());
  report.run_wall_ns = run_wall_ns;
  std::map<int, Accumulator> by_node;  // keyed by node index: execution order
  std::map<std::string, Accumulator> by_op;
  for (const std::vector<NodeProfile>& run : runs) {
    for (const NodeProfile& r : run) {
      report.total_ns += static_cast<double>(r.duration_ns);
      Accumulator& node = by_node[r.node_index];
      if (node.row.calls == 0) {
        node.row.name = r.node_name;
        node.row.op = OpLabel(r);
        node.row.node_index = r.node_index;
        node.row.input_shapes = r.input_shapes;
        node.row.input_present = r.input_present;
      }
      Add(&node, r);
      Accumulator& op = by_op[OpLabel(r)];
      if (op.row.calls == 0) {
        op.row.name = op.row.op = OpLabel(r);
        op.row.nodes = 0;
      }
      Add(&op, r);
    }
  }
  std::vector<Accumulator> nodes, ops;
  for (auto& [index, acc] : by_node) nodes.push_back(std::move(acc));
  for (auto& [name, acc] : by_op) {
    // Distinct nodes of this type: its calls over the runs.
    acc.row.nodes = report.runs > 0 ? static_cast<int>(acc.row.calls / report.runs) : 0;
    ops.push_back(std::move(acc));
  }
  report.nodes = Finish(std::move(nodes), report.total_ns);
  report.ops = Finish(std::move(ops), report.total_ns);
  return report;
}

namespace {

void AddRateColumns(const ProfileRow& row, const ProfileReport& report, std::vector<std::string>* cells) {
  const double runs = std::max(1, report.runs);
  const Roofline& roof = report.roofline;
  cells->push_back(row.flops > 0 ? Metric(row.flops / runs) : "-");
  cells->push_back(HumanBytes(row.bytes() / runs));
  cells->push_back(row.flops > 0 ? Fixed(row.gflops(), 2) : "-");
  cells->push_back(Fixed(row.gbs(), 2));
  cells->push_back(row.flops > 0 ? Fixed(row.intensity(), 2) : "-");
  cells->push_back(row.compute_bound(roof) ? "compute" : "memory");
  cells->push_back(Fixed(100.0 * row.roofline_fraction(roof), 1) + "%");
}

std::string Percent(double fraction) { return Fixed(100.0 * fraction, 1) + "%"; }

}  // namespace

std::string FormatProfileReport(const ProfileReport& report) {
  const Roofline& roof = report.roofline;
  std::string out;
  char line[512];
  const double runs = std::max(1, report.runs);
  std::snprintf(line, sizeof(line),
                "Roofline for %d thread%s (%s): %.1f GFLOP/s FP32 FMA peak, %.1f GB/s memory bandwidth, "
                "ridge point %.2f FLOP/byte\n",
                roof.threads, roof.threads == 1 ? "" : "s", roof.target.c_str(), roof.peak_gflops, roof.bandwidth_gbs,
                roof.ridge());
  out += line;
  std::vector<double> walls = report.run_wall_ns;
  if (!walls.empty()) {
    // Both sides of the ratio are means over the same runs: a median wall
    // time against mean node times would read an outlier run as overlap.
    const double node_ms = report.total_ns / runs / 1e6;
    const double median_ms = Median(walls) / 1e6;
    double wall_sum_ns = 0;
    for (double w : walls) wall_sum_ns += w;
    const double mean_ms = wall_sum_ns / static_cast<double>(walls.size()) / 1e6;
    std::snprintf(line, sizeof(line),
                  "Wall time per run: median %.3f ms, mean %.3f ms, min %.3f ms, max %.3f ms; node times sum to "
                  "%.3f ms per run (%.2fx the mean wall time: above 1 means nodes overlapped)\n",
                  median_ms, mean_ms, *std::min_element(walls.begin(), walls.end()) / 1e6,
                  *std::max_element(walls.begin(), walls.end()) / 1e6, node_ms, mean_ms > 0 ? node_ms / mean_ms : 0.0);
    out += line;
  }

  // Per run: FLOPs and bytes per run; times are totals over every run.
  const std::vector<std::string> rate_header = {"FLOP/run", "bytes/run", "GFLOP/s", "GB/s", "FLOP/B", "bound",
                                                "roofline"};
  std::vector<std::string> header = {"#", "node", "op", "calls", "total ms", "median us", "share"};
  header.insert(header.end(), rate_header.begin(), rate_header.end());
  header.push_back("input shapes");
  std::vector<bool> right = {true, false, false, true, true, true, true, true, true, true, true, true, false, true,
                             false};
  Table nodes(header, right);
  for (const ProfileRow& row : report.nodes) {
    std::vector<std::string> cells = {std::to_string(row.node_index), Printable(row.name), row.op,
                                      std::to_string(row.calls), Fixed(row.total_ns / 1e6, 3),
                                      Fixed(row.median_ns / 1e3, 1), Percent(row.share)};
    AddRateColumns(row, report, &cells);
    cells.push_back(ShapeList(row.input_shapes, row.input_present));
    nodes.AddRow(std::move(cells));
  }
  std::snprintf(line, sizeof(line), "\nNodes (%zu, by total time over %d run%s):\n", report.nodes.size(),
                report.runs, report.runs == 1 ? "" : "s");
  out += line;
  out += nodes.ToString();

  std::vector<std::string> op_header = {"op", "nodes", "calls", "total ms", "median us", "share"};
  op_header.insert(op_header.end(), rate_header.begin(), rate_header.end());
  Table ops(op_header, {false, true, true, true, true, true, true, true, true, true, true, false, true});
  for (const ProfileRow& row : report.ops) {
    std::vector<std::string> cells = {row.op, std::to_string(row.nodes), std::to_string(row.calls),
                                      Fixed(row.total_ns / 1e6, 3), Fixed(row.median_ns / 1e3, 1),
                                      Percent(row.share)};
    AddRateColumns(row, report, &cells);
    ops.AddRow(std::move(cells));
  }
  out += "\nBy op type:\n";
  out += ops.ToString();
  std::snprintf(line, sizeof(line), "  total  %.3f ms over %d run%s (100%%)\n", report.total_ns / 1e6, report.runs,
                report.runs == 1 ? "" : "s");
  out += line;
  out +=
      "\nroofline: achieved GFLOP/s over min(peak, FLOP/B x bandwidth), or GB/s over bandwidth for ops\n"
      "without FLOPs. The bandwidth is DRAM's: an op whose data stays in cache can exceed 100%.\n";
  return out;
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", value);
  return buf;
}

namespace {

std::string RowJson(const ProfileRow& row, const ProfileReport& report, bool node) {
  const Roofline& roof = report.roofline;
  std::string s = "{";
  if (node) {
    s += "\"index\": " + std::to_string(row.node_index) + ", \"name\": " + JsonString(row.name) + ", ";
  }
  s += "\"op\": " + JsonString(row.op) + ", ";
  if (!node) s += "\"nodes\": " + std::to_string(row.nodes) + ", ";
  s += "\"calls\": " + std::to_string(row.calls) + ", \"total_ms\": " + JsonNumber(row.total_ns / 1e6) +
       ", \"median_us\": " + JsonNumber(row.median_ns / 1e3) + ", \"share\": " + JsonNumber(row.share) +
       ", \"flops\": " + JsonNumber(row.flops) + ", \"bytes_read\": " + JsonNumber(row.bytes_read) +
       ", \"bytes_written\": " + JsonNumber(row.bytes_written) + ", \"gflops_per_s\": " + JsonNumber(row.gflops()) +
       ", \"gbytes_per_s\": " + JsonNumber(row.gbs()) + ", \"flops_per_byte\": " + JsonNumber(row.intensity()) +
       ", \"bound\": " + JsonString(row.compute_bound(roof) ? "compute" : "memory") +
       ", \"roofline_fraction\": " + JsonNumber(row.roofline_fraction(roof));
  if (node) {
    // An omitted optional input is null, so indices match the node's inputs.
    s += ", \"input_shapes\": [";
    for (size_t i = 0; i < row.input_shapes.size(); ++i) {
      const bool present = i < row.input_present.size() && row.input_present[i];
      s += std::string(i > 0 ? ", " : "") + (present ? FormatShape(row.input_shapes[i]) : "null");
    }
    s += "]";
  }
  return s + "}";
}

}  // namespace

std::string ProfileReportJson(const ProfileReport& report, const std::vector<std::string>& header) {
  const Roofline& roof = report.roofline;
  std::string s = "{\n";
  for (const std::string& member : header) s += "  " + member + ",\n";
  s += "  \"roofline\": {\"target\": " + JsonString(roof.target) + ", \"threads\": " + std::to_string(roof.threads) +
       ", \"peak_gflops_per_s\": " + JsonNumber(roof.peak_gflops) +
       ", \"bandwidth_gbytes_per_s\": " + JsonNumber(roof.bandwidth_gbs) +
       ", \"ridge_flops_per_byte\": " + JsonNumber(roof.ridge()) + "},\n";
  s += "  \"runs\": " + std::to_string(report.runs) + ",\n";
  s += "  \"run_wall_ms\": [";
  for (size_t i = 0; i < report.run_wall_ns.size(); ++i) {
    s += (i > 0 ? ", " : "") + JsonNumber(report.run_wall_ns[i] / 1e6);
  }
  s += "],\n";
  s += "  \"total_node_ms\": " + JsonNumber(report.total_ns / 1e6) + ",\n";
  s += "  \"nodes\": [\n";
  for (size_t i = 0; i < report.nodes.size(); ++i) {
    s += "    " + RowJson(report.nodes[i], report, true) + (i + 1 < report.nodes.size() ? ",\n" : "\n");
  }
  s += "  ],\n  \"ops\": [\n";
  for (size_t i = 0; i < report.ops.size(); ++i) {
    s += "    " + RowJson(report.ops[i], report, false) + (i + 1 < report.ops.size() ? ",\n" : "\n");
  }
  s += "  ]\n}\n";
  return s;
}

std::string ChromeTraceJson(const std::vector<std::vector<NodeProfile>>& runs,
                            const std::vector<int64_t>& run_start_ns, const std::vector<double>& run_wall_ns,
                            const std::string& process_name) {
  // Trace-event timestamps are microseconds; fractions keep ns resolution.
  auto us = [](double ns) { return JsonNumber(ns / 1e3); };
  int max_thread = 0;
  for (const auto& run : runs) {
    for (const NodeProfile& r : run) max_thread = std::max(max_thread, r.thread_index);
  }
  const int runs_lane = max_thread + 1;  // a lane of its own under the workers
  std::vector<std::string> events;
  events.push_back("{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 0, \"args\": {\"name\": " +
                   JsonString(process_name) + "}}");
  for (int t = 0; t <= max_thread; ++t) {
    events.push_back("{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": " + std::to_string(t) +
                     ", \"args\": {\"name\": \"worker " + std::to_string(t) + "\"}}");
    events.push_back("{\"name\": \"thread_sort_index\", \"ph\": \"M\", \"pid\": 1, \"tid\": " + std::to_string(t) +
                     ", \"args\": {\"sort_index\": " + std::to_string(t + 1) + "}}");
  }
  events.push_back("{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": " + std::to_string(runs_lane) +
                   ", \"args\": {\"name\": \"runs\"}}");
  events.push_back("{\"name\": \"thread_sort_index\", \"ph\": \"M\", \"pid\": 1, \"tid\": " +
                   std::to_string(runs_lane) + ", \"args\": {\"sort_index\": 0}}");
  for (size_t k = 0; k < runs.size(); ++k) {
    const double base = k < run_start_ns.size() ? static_cast<double>(run_start_ns[k]) : 0;
    const double wall = k < run_wall_ns.size() ? run_wall_ns[k] : 0;
    events.push_back("{\"name\": \"run " + std::to_string(k) + "\", \"cat\": \"run\", \"ph\": \"X\", \"pid\": 1, " +
                     "\"tid\": " + std::to_string(runs_lane) + ", \"ts\": " + us(base) + ", \"dur\": " + us(wall) +
                     "}");
    for (const NodeProfile& r : runs[k]) {
      const std::string shapes = ShapeList(r.input_shapes, r.input_present);
      events.push_back("{\"name\": " + JsonString(r.node_name) + ", \"cat\": " + JsonString(OpLabel(r)) +
                       ", \"ph\": \"X\", \"pid\": 1, \"tid\": " + std::to_string(r.thread_index) +
                       ", \"ts\": " + us(base + static_cast<double>(r.start_ns)) +
                       ", \"dur\": " + us(static_cast<double>(r.duration_ns)) + ", \"args\": {\"op\": " +
                       JsonString(OpLabel(r)) + ", \"run\": " + std::to_string(k) +
                       ", \"node_index\": " + std::to_string(r.node_index) + ", \"flops\": " + JsonNumber(r.flops) +
                       ", \"bytes_read\": " + JsonNumber(r.bytes_read) +
                       ", \"bytes_written\": " + JsonNumber(r.bytes_written) +
                       ", \"input_shapes\": " + JsonString(shapes) + "}}");
    }
  }
  std::string s = "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
  for (size_t i = 0; i < events.size(); ++i) s += events[i] + (i + 1 < events.size() ? ",\n" : "\n");
  return s + "]}\n";
}

void CheckWritable(const std::string& option, const std::string& path) {
  struct stat st;
  const bool existed = stat(path.c_str(), &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) Fail(option + " " + Printable(path) + ": is a directory");
  // Append mode creates the file if needed but never truncates an existing
  // one, so a run that fails later leaves it as it was.
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) Fail(option + " " + Printable(path) + ": cannot write: " + std::strerror(errno));
  std::fclose(f);
  if (!existed) std::remove(path.c_str());
}

void WriteTextFile(const std::string& option, const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) Fail(option + " " + Printable(path) + ": cannot write: " + std::strerror(errno));
  const size_t written = std::fwrite(text.data(), 1, text.size(), f);
  const bool ok = written == text.size() && std::fflush(f) == 0;
  const int error = errno;
  std::fclose(f);
  if (!ok) Fail(option + " " + Printable(path) + ": write failed: " + std::strerror(error));
}

}  // namespace tessera::cli
