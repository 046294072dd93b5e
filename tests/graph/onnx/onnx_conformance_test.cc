// ONNX backend tests (Debian's libonnx-testdata, ONNX 1.12: the node,
// pytorch-operator, pytorch-converted and simple suites) through the
// importer and the runtime: for every test directory, convert model.onnx,
// run it on each test_data_set_N/input_K.pb and compare with output_K.pb.
//
// Each case ends as
//   pass  every output matches (ONNX's backend tolerance: |got - want| <=
//         1e-7 + 1e-3 * |want| for floats, NaN where NaN is expected;
//         integers and bools exactly; shapes and dtypes exactly);
//   skip  conversion or loading says kUnimplemented: an op Tessera does not
//         implement at the test's op-set version, or a dtype or attribute it
//         does not support (the reason is the message);
//   fail  anything else.
// Known failures are listed, with their reasons, in
// onnx_conformance_expected_failures.txt; the test fails when a case fails
// that is not listed, and when a listed case does not fail (it passes or
// skips now: take it off the list). The per-op summary is printed; with
// TESSERA_ONNX_CONFORMANCE_REPORT=FILE it is also written as Markdown (the
// source of docs/onnx_conformance.md).
//
// Without the test data (libonnx-testdata not installed) the test skips.
// TESSERA_ONNX_TESTDATA=DIR points at another data directory (holding
// node/ and the other suites).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/onnx/onnx_importer.h"
#include "runtime/core/op.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace tessera {
namespace {

constexpr char kDefaultDataDir[] = "/usr/share/libonnx-testdata/data";
// The suites of ONNX's test data: single-op tests (node/), models PyTorch
// exported for one operator (pytorch-operator/) or one module
// (pytorch-converted/), and small hand-made models (simple/). real/ holds
// CNNs whose weights Debian does not ship.
constexpr const char* kSuites[] = {"node", "pytorch-operator", "pytorch-converted", "simple"};

std::string DataDir() {
  const char* env = std::getenv("TESSERA_ONNX_TESTDATA");
  return env != nullptr && env[0] != '\0' ? env : kDefaultDataDir;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

enum class Outcome { kPass, kSkip, kFail };

struct CaseResult {
  std::string suite;
  std::string name;  // "test_x" in node/, "suite/test_x" in the others
  std::string op;  // the op under test, for the summary
  Outcome outcome = Outcome::kPass;
  std::string reason;
  bool bound_inputs = false;  // integer inputs were bound as constants
};

// Compares one output with ONNX's backend tolerance; "" when it matches.
std::string Compare(const Tensor& got, const Tensor& want) {
  if (got.dtype != want.dtype) {
    return std::string("dtype ") + DTypeName(got.dtype) + ", expected " + DTypeName(want.dtype);
  }
  if (got.shape != want.shape) return "shape " + ShapeToString(got.shape) + ", expected " + ShapeToString(want.shape);
  const int64_t n = want.NumElements();
  if (want.dtype == DType::kF32) {
    const float* g = got.data_as<float>();
    const float* w = want.data_as<float>();
    for (int64_t i = 0; i < n; ++i) {
      const double a = g[i], b = w[i];
      if (a == b) continue;  // infinities included
      if (std::isnan(b) ? !std::isnan(a) : !(std::fabs(a - b) <= 1e-7 + 1e-3 * std::fabs(b))) {
        std::ostringstream s;
        s.precision(9);
        s << "element " << i << " is " << a << ", expected " << b;
        return s.str();
      }
    }
    return "";
  }
  if (std::memcmp(got.data, want.data, got.ByteSize()) != 0) {
    for (int64_t i = 0; i < n; ++i) {
      const size_t size = DTypeSize(want.dtype);
      if (std::memcmp(static_cast<const char*>(got.data) + i * size, static_cast<const char*>(want.data) + i * size,
                      size) != 0) {
        return "element " + std::to_string(i) + " differs (" + DTypeName(want.dtype) + ")";
      }
    }
  }
  return "";
}

StatusOr<OwnedTensor> ReadTensorFile(const std::string& path, DType expected) {
  const std::string bytes = ReadText(path);
  auto t = graph::ReadOnnxTensor(bytes.data(), bytes.size(), nullptr, expected);
  if (!t.ok()) return t.status().WithContext(path);
  return t;
}

// The first line of a message, without the model path prefix.
std::string ShortReason(const std::string& message) {
  std::string m = message.substr(0, message.find('\n'));
  const std::string marker = "model.onnx: ";
  const size_t at = m.find(marker);
  if (at != std::string::npos) m = m.substr(at + marker.size());
  return m;
}

// kUnimplemented is a skip. So is a node refusing an input's dtype in a
// single-node model (node/): its inputs come straight from the graph
// inputs, so the op does not implement that dtype. Anything else fails.
Outcome Classify(const Status& status, bool single_node) {
  if (status.code() == StatusCode::kUnimplemented) return Outcome::kSkip;
  const std::string& m = status.message();
  if (single_node && m.find("' has dtype ") != std::string::npos && m.find(", expected ") != std::string::npos) {
    return Outcome::kSkip;
  }
  return Outcome::kFail;
}

bool IsDataDependentShape(const Status& status) {
  return status.message().find("unsupported data-dependent shape") != std::string::npos;
}

// Converts and loads, with `bound` graph inputs made constants.
StatusOr<std::shared_ptr<const runtime::Model>> Load(const std::string& onnx,
                                                     const std::vector<std::pair<std::string, const Tensor*>>& bound) {
  graph::OnnxImportOptions import;
  import.source_name = "model.onnx";
  import.constant_inputs = bound;
  TSR_ASSIGN_OR_RETURN(std::vector<uint8_t> tess, graph::ConvertOnnxToTess(onnx.data(), onnx.size(), import));
  return runtime::Model::LoadFromBuffer(tess.data(), tess.size(), runtime::ModelOptions(), "model.onnx");
}

// Runs one test_data_set: inputs by position (input_K.pb is the K-th graph
// input of the .onnx), outputs compared by position. When a shape depends
// on an input's values (Reshape's `shape` given as a graph input), Tessera
// cannot plan before it has the values: the case is then converted again
// with every integer input bound to its value from the data set, which
// tests the same op on the same values.
Status RunDataSet(const std::string& onnx, const std::string& set_dir, std::string* mismatch, bool* bound_inputs) {
  TSR_ASSIGN_OR_RETURN(std::shared_ptr<const runtime::Model> model, Load(onnx, {}));
  std::vector<std::string> input_names;
  for (int v : model->graph().inputs) input_names.push_back(model->graph().values[static_cast<size_t>(v)].name);
  std::vector<OwnedTensor> inputs;
  for (size_t k = 0; k < input_names.size(); ++k) {
    const DType dtype = model->graph().values[static_cast<size_t>(model->graph().inputs[k])].info.dtype;
    TSR_ASSIGN_OR_RETURN(OwnedTensor t, ReadTensorFile(set_dir + "/input_" + std::to_string(k) + ".pb", dtype));
    inputs.push_back(std::move(t));
  }
  std::vector<std::string> output_names;
  for (int v : model->graph().outputs) output_names.push_back(model->graph().values[static_cast<size_t>(v)].name);

  runtime::SessionOptions session_options;
  session_options.threads = 1;
  std::vector<OwnedTensor> outputs;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<std::pair<std::string, const Tensor*>> feeds, bound;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const DType dtype = inputs[k].view.dtype;
      const bool bind = attempt == 1 && (dtype == DType::kI64 || dtype == DType::kI32);
      (bind ? bound : feeds).emplace_back(input_names[k], &inputs[k].view);
    }
    if (attempt == 1) {
      TSR_ASSIGN_OR_RETURN(model, Load(onnx, bound));
      *bound_inputs = true;
    }
    runtime::Session session(model, session_options);
    const Status run = session.Run(feeds, output_names, &outputs);
    if (run.ok()) break;
    if (attempt == 1 || !IsDataDependentShape(run)) return run;
  }
  for (size_t k = 0; k < output_names.size(); ++k) {
    TSR_ASSIGN_OR_RETURN(OwnedTensor want,
                         ReadTensorFile(set_dir + "/output_" + std::to_string(k) + ".pb", outputs[k].view.dtype));
    const std::string diff = Compare(outputs[k].view, want.view);
    if (!diff.empty()) {
      *mismatch = "output '" + output_names[k] + "': " + diff;
      return Status::Ok();
    }
  }
  return Status::Ok();
}

CaseResult RunCase(const std::string& dir, const std::string& name, bool single_node) {
  CaseResult result;
  result.name = name;
  const std::string onnx = ReadText(dir + "/" + name + "/model.onnx");
  int sets = 0;
  for (const std::string& set : ListDir(dir + "/" + name)) {
    const std::string set_dir = dir + "/" + name + "/" + set;
    if (set.rfind("test_data_set_", 0) != 0 || !IsDir(set_dir)) continue;
    ++sets;
    std::string mismatch;
    bool bound = false;
    const Status status = RunDataSet(onnx, set_dir, &mismatch, &bound);
    result.bound_inputs = result.bound_inputs || bound;
    if (!status.ok()) {
      result.outcome = Classify(status, single_node);
      result.reason = ShortReason(status.message());
      return result;
    }
    if (!mismatch.empty()) {
      result.outcome = Outcome::kFail;
      result.reason = set + ": " + mismatch;
      return result;
    }
  }
  if (sets == 0) {
    result.outcome = Outcome::kFail;
    result.reason = "no test_data_set_N directory";
  }
  return result;
}

// The op a case tests: its single op; for a multi-node model, the op of the
// single-node test it expands (test_x_expanded -> test_x), else its ops
// joined with '+'.
std::map<std::string, std::string> OpsUnderTest(const std::string& dir, const std::vector<std::string>& names) {
  std::map<std::string, std::vector<std::string>> ops;
  for (const std::string& name : names) {
    const std::string onnx = ReadText(dir + "/" + name + "/model.onnx");
    auto list = graph::ListOnnxOpTypes(onnx.data(), onnx.size());
    std::set<std::string> distinct;
    if (list.ok()) {
      for (const std::string& op : *list) {
        if (op != "Constant") distinct.insert(op);
      }
      // A model of Constant nodes alone tests Constant.
      if (distinct.empty() && !list->empty()) distinct.insert("Constant");
    }
    ops[name] = std::vector<std::string>(distinct.begin(), distinct.end());
  }
  std::map<std::string, std::string> result;
  for (const auto& [name, list] : ops) {
    std::string op;
    const std::string suffix = "_expanded";
    if (list.size() == 1) {
      op = list[0];
    } else if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
               ops.count(name.substr(0, name.size() - suffix.size())) != 0 &&
               ops[name.substr(0, name.size() - suffix.size())].size() == 1) {
      op = ops[name.substr(0, name.size() - suffix.size())][0] + " (expanded)";
    } else {
      for (const std::string& o : list) op += (op.empty() ? "" : "+") + o;
      if (op.empty()) op = "(no nodes)";
    }
    result[name] = op;
  }
  return result;
}

// test name -> reason, from the expected-failures file ('#' comments).
std::map<std::string, std::string> ExpectedFailures() {
  std::map<std::string, std::string> expected;
  std::istringstream in(ReadText(TESSERA_ONNX_EXPECTED_FAILURES));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find_first_of(" \t");
    const std::string name = line.substr(0, space);
    std::string reason = space == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", space));
    expected[name] = reason;
  }
  return expected;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

struct OpCounts {
  int pass = 0, fail = 0, skip = 0;
  int bound = 0;  // passes with integer inputs bound as constants
};

// The Markdown report: totals per suite; for node/, per op (ops with at
// least one case that converts: the ops Tessera implements) with every case
// that does not pass, then the ops Tessera does not implement; for the
// other suites, every model that converts.
std::string Report(const std::vector<CaseResult>& results, const std::map<std::string, std::string>& expected) {
  auto unsupported_op = [](const CaseResult& r) {
    return r.outcome == Outcome::kSkip && r.reason.find("not supported by Tessera") != std::string::npos;
  };
  std::ostringstream s;
  s << "| suite | cases | pass | known failure | skip (dtype, attribute) | skip (op not implemented) |\n"
       "|---|---:|---:|---:|---:|---:|\n";
  for (const char* suite : kSuites) {
    int n = 0, pass = 0, fail = 0, skip = 0, skip_ops = 0;
    for (const CaseResult& r : results) {
      if (r.suite != suite) continue;
      ++n;
      if (r.outcome == Outcome::kPass) ++pass;
      else if (r.outcome == Outcome::kFail) ++fail;
      else if (unsupported_op(r)) ++skip_ops;
      else ++skip;
    }
    if (n > 0) {
      s << "| " << suite << " | " << n << " | " << pass << " | " << fail << " | " << skip << " | " << skip_ops
        << " |\n";
    }
  }

  std::map<std::string, OpCounts> counts;
  std::set<std::string> implemented;
  for (const CaseResult& r : results) {
    if (r.suite != "node") continue;
    OpCounts& c = counts[r.op];
    if (r.outcome == Outcome::kPass) ++c.pass, c.bound += r.bound_inputs;
    else if (r.outcome == Outcome::kFail) ++c.fail;
    else ++c.skip;
    if (!unsupported_op(r)) implemented.insert(r.op);
  }
  s << "\n### node/: per op (ops with at least one case that converts)\n\n";
  s << "| op | pass | known failure | skip |\n|---|---:|---:|---:|\n";
  for (const auto& [op, c] : counts) {
    if (implemented.count(op) == 0) continue;
    s << "| " << Escape(op) << " | " << c.pass;
    if (c.bound > 0) s << " (" << c.bound << " with shape inputs bound)";
    s << " | " << c.fail << " | " << c.skip << " |\n";
  }
  s << "\n### node/: cases of those ops that do not pass\n\n| case | op | result | reason |\n|---|---|---|---|\n";
  for (const CaseResult& r : results) {
    if (r.suite != "node" || r.outcome == Outcome::kPass || implemented.count(r.op) == 0) continue;
    const bool failed = r.outcome == Outcome::kFail;
    const auto it = expected.find(r.name);
    const std::string reason = failed && it != expected.end() && !it->second.empty() ? it->second : r.reason;
    s << "| " << r.name << " | " << Escape(r.op) << " | " << (failed ? "known failure" : "skip") << " | "
      << Escape(reason) << " |\n";
  }
  std::map<std::string, int> missing;
  for (const CaseResult& r : results) {
    if (r.suite == "node" && implemented.count(r.op) == 0) ++missing[r.op];
  }
  s << "\n### node/: skipped, ops Tessera does not implement\n\n";
  s << "Every case of these ops is skipped: the model uses an op that Tessera does not implement (the "
       "importer's error lists them). Cases per op in parentheses; \"(expanded)\" is the ONNX function body "
       "of an op, which uses ops Tessera lacks.\n\n";
  bool first = true;
  for (const auto& [op, n] : missing) {
    s << (first ? "" : ", ") << Escape(op) << " (" << n << ")";
    first = false;
  }
  s << "\n\n### Other suites: the models that convert\n\n| case | ops | result |\n|---|---|---|\n";
  for (const CaseResult& r : results) {
    if (r.suite == "node" || unsupported_op(r)) continue;
    s << "| " << r.name << " | " << Escape(r.op) << " | "
      << (r.outcome == Outcome::kPass ? std::string("pass")
                                      : (r.outcome == Outcome::kFail ? "known failure: " : "skip: ") + Escape(r.reason))
      << " |\n";
  }
  int other_skips = 0;
  for (const CaseResult& r : results) other_skips += r.suite != "node" && unsupported_op(r);
  s << "\nThe other " << other_skips << " models of these suites use ops Tessera does not implement.\n";
  return s.str();
}

TEST(OnnxConformance, BackendTests) {
  if (!graph::OnnxImportAvailable()) GTEST_SKIP() << "built without the ONNX importer";
  const std::string root = DataDir();
  if (!IsDir(root + "/node")) GTEST_SKIP() << root << "/node not found (install libonnx-testdata)";
  const std::map<std::string, std::string> expected = ExpectedFailures();
  std::set<std::string> all_names;
  std::vector<CaseResult> results;
  for (const char* suite : kSuites) {
    const std::string dir = root + "/" + suite;
    std::vector<std::string> names;
    for (const std::string& name : ListDir(dir)) {
      if (IsFile(dir + "/" + name + "/model.onnx")) names.push_back(name);
    }
    if (std::string(suite) == "node") {
      ASSERT_FALSE(names.empty()) << "no test cases in " << dir;
    }
    const std::map<std::string, std::string> ops = OpsUnderTest(dir, names);
    for (const std::string& name : names) {
      const std::string full = std::string(suite) == "node" ? name : std::string(suite) + "/" + name;
      all_names.insert(full);
      CaseResult r = RunCase(dir, name, std::string(suite) == "node" && ops.at(name).find('+') == std::string::npos);
      r.suite = suite;
      r.name = full;
      r.op = ops.at(name);
      const bool listed = expected.count(full) != 0;
      if (r.outcome == Outcome::kFail) {
        EXPECT_TRUE(listed) << full << " (" << r.op << ") fails: " << r.reason
                            << "\n  (fix it, or add it with the reason to onnx_conformance_expected_failures.txt)";
      } else {
        EXPECT_FALSE(listed) << full << " is listed as a known failure but now "
                             << (r.outcome == Outcome::kPass ? "passes" : "skips: " + r.reason)
                             << "; take it off onnx_conformance_expected_failures.txt";
      }
      results.push_back(std::move(r));
    }
  }
  for (const auto& [name, reason] : expected) {
    EXPECT_TRUE(all_names.count(name) != 0) << "onnx_conformance_expected_failures.txt names '" << name
                                            << "', which is not a test case in " << root;
  }

  const std::string report = Report(results, expected);
  std::printf("%s", report.c_str());
  if (const char* path = std::getenv("TESSERA_ONNX_CONFORMANCE_REPORT")) {
    std::ofstream(path) << report;
  }
}

}  // namespace
}  // namespace tessera
