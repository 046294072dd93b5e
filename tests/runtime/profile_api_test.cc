// The profile of a run through the public API (tessera.hpp over
// libtessera.so): every record's fields, FLOP and byte counts against
// hand-computed values for MatMul, Gemm, Softmax, RNN, GRU, LSTM and
// Attention, input shapes, and the machine roofline (TsrGetMachineInfo).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tessera/model_builder.h"
#include "tessera/tessera.h"
#include "tessera/tessera.hpp"

namespace {

using tessera::ModelBuilder;

// x [3, 5] -> MatMul(W [5, 7]) -> mm [3, 7] -> Softmax(axis -1) -> probs
//          -> Gemm(W, c [7]) -> g [3, 7]
//          -> Gemm(W) (no C) -> g0 [3, 7]
tessera::Model ThreeOpModel() {
  ModelBuilder b;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {"batch", 5});
  std::vector<float> w(35), c(7);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i);
  for (size_t i = 0; i < c.size(); ++i) c[i] = 0.5f;
  const int wt = b.AddConstant<float>("W", {5, 7}, w);
  const int ct = b.AddConstant<float>("c", {7}, c);
  const int mm = b.AddNode("MatMul", {x, wt}, {"mm"}, {}, "mm")[0];
  const int probs = b.AddNode("Softmax", {mm}, {"probs"}, {}, "softmax")[0];
  const int g = b.AddNode("Gemm", {x, wt, ct}, {"g"}, {}, "gemm_c")[0];
  const int g0 = b.AddNode("Gemm", {x, wt}, {"g0"}, {}, "gemm")[0];
  b.AddOutput(probs);
  b.AddOutput(g);
  b.AddOutput(g0);
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  return tessera::Model::LoadFromBuffer(bytes.data(), bytes.size());
}

std::vector<tessera::NodeProfile> ProfileOnce(const tessera::Model& model, int threads, int64_t batch) {
  tessera::Session session(model, tessera::SessionOptions().Threads(threads).Profiling(true));
  std::vector<float> data(static_cast<size_t>(batch * 5), 0.25f);
  tessera::Value x = tessera::Value::FromData<float>({batch, 5}, data);
  session.Run({{"x", &x}}, {"probs", "g", "g0"});
  return session.Profile();
}

const tessera::NodeProfile& Find(const std::vector<tessera::NodeProfile>& records, const std::string& name) {
  for (const auto& r : records) {
    if (r.node_name == name) return r;
  }
  ADD_FAILURE() << "no record for " << name;
  return records.front();
}

TEST(ProfileApiTest, FlopAndByteCountsMatchHandComputedValues) {
  const tessera::Model model = ThreeOpModel();
  const auto records = ProfileOnce(model, 1, 3);
  ASSERT_EQ(records.size(), 4u);

  // MatMul [3, 5] x [5, 7]: 3 * 7 dot products of length 5, 2 FLOPs per
  // term; reads A and B once, writes Y once (f32).
  const auto& mm = Find(records, "mm");
  EXPECT_EQ(mm.op_type, "MatMul");
  EXPECT_EQ(mm.flops, 2.0 * 3 * 5 * 7);
  EXPECT_EQ(mm.bytes_read, 4.0 * (3 * 5 + 5 * 7));
  EXPECT_EQ(mm.bytes_written, 4.0 * 3 * 7);
  EXPECT_EQ(mm.bytes, mm.bytes_read + mm.bytes_written);

  // Gemm: the product (210), alpha (one multiply per output, 21) and
  // beta * C + (one FMA, 2 per output, 42).
  const auto& gemm_c = Find(records, "gemm_c");
  EXPECT_EQ(gemm_c.flops, 210.0 + 21.0 + 42.0);
  EXPECT_EQ(gemm_c.bytes_read, 4.0 * (15 + 35 + 7));
  EXPECT_EQ(gemm_c.bytes_written, 4.0 * 21);
  // Without C: the product and alpha only.
  EXPECT_EQ(Find(records, "gemm").flops, 210.0 + 21.0);

  // Softmax over rows of 7: per element max, subtract, exp (22), sum and
  // scale = 26 FLOPs, plus one division per row.
  const auto& sm = Find(records, "softmax");
  EXPECT_EQ(sm.flops, 26.0 * 21 + 3);
  EXPECT_EQ(sm.bytes_read, 4.0 * 21);
  EXPECT_EQ(sm.bytes_written, 4.0 * 21);
}

// X [seq 5, batch 2, input 3] through one recurrent node with hidden size
// 4 and `gates` gate blocks (RNN 1, GRU 3, LSTM 4), output Y only.
std::vector<tessera::NodeProfile> ProfileRecurrent(const std::string& op, int64_t gates, int64_t dirs) {
  ModelBuilder b;
  const int64_t seq = 5, batch = 2, input = 3, hidden = 4;
  const int x = b.AddInput("x", TSR_DTYPE_FLOAT32, {seq, batch, input});
  const int w = b.AddConstant<float>("W", {dirs, gates * hidden, input},
                                     std::vector<float>(static_cast<size_t>(dirs * gates * hidden * input), 0.1f));
  const int r = b.AddConstant<float>("R", {dirs, gates * hidden, hidden},
                                     std::vector<float>(static_cast<size_t>(dirs * gates * hidden * hidden), 0.1f));
  std::vector<ModelBuilder::Attr> attrs = {ModelBuilder::Attr::Int("hidden_size", hidden)};
  if (dirs == 2) attrs.push_back(ModelBuilder::Attr::String("direction", "bidirectional"));
  const int y = b.AddNode(op, {x, w, r}, {"y"}, attrs, "cell")[0];
  b.AddOutput(y);
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  const tessera::Model model = tessera::Model::LoadFromBuffer(bytes.data(), bytes.size());
  tessera::Session session(model, tessera::SessionOptions().Threads(1).Profiling(true));
  tessera::Value xv = tessera::Value::FromData<float>({seq, batch, input}, std::vector<float>(30, 0.5f));
  session.Run({{"x", &xv}}, {"y"});
  return session.Profile();
}

TEST(ProfileApiTest, RecurrentFlopsMatchHandComputedValues) {
  // Per step, row and direction, the input and recurrent products:
  // 2 * gates * hidden * (input + hidden) = 2 * G * 4 * 7 = 56 G FLOPs,
  // times 5 steps x 2 rows (the gate epilogue is not counted, by the ops'
  // declaration, so the rate is comparable to GEMM's).
  struct Case {
    const char* op;
    int64_t gates, dirs;
    double flops;
  };
  for (const Case& c : {Case{"RNN", 1, 1, 560.0}, Case{"GRU", 3, 1, 1680.0}, Case{"LSTM", 4, 1, 2240.0},
                        Case{"LSTM", 4, 2, 4480.0}}) {
    SCOPED_TRACE(std::string(c.op) + " directions " + std::to_string(c.dirs));
    const auto records = ProfileRecurrent(c.op, c.gates, c.dirs);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].op_type, c.op);
    EXPECT_EQ(records[0].flops, c.flops);
    // Reads X, W and R once; writes Y [5, dirs, 2, 4].
    EXPECT_EQ(records[0].bytes_read, 4.0 * (30 + c.dirs * c.gates * 4 * (3 + 4)));
    EXPECT_EQ(records[0].bytes_written, 4.0 * 5 * c.dirs * 2 * 4);
  }
}

// tessera.Attention with Q, K, V [1, 4, 2 heads x 8], output Y only.
tessera::NodeProfile ProfileAttention(bool causal) {
  ModelBuilder b;
  const int q = b.AddInput("q", TSR_DTYPE_FLOAT32, {1, 4, 16});
  const int k = b.AddInput("k", TSR_DTYPE_FLOAT32, {1, 4, 16});
  const int v = b.AddInput("v", TSR_DTYPE_FLOAT32, {1, 4, 16});
  const int y = b.AddNode("Attention", {q, k, v}, {"y"},
                          {ModelBuilder::Attr::Int("num_heads", 2), ModelBuilder::Attr::Int("causal", causal ? 1 : 0)},
                          "attn", "tessera")[0];
  b.AddOutput(y);
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(b.Finish(&bytes, &error)) << error;
  const tessera::Model model = tessera::Model::LoadFromBuffer(bytes.data(), bytes.size());
  tessera::Session session(model, tessera::SessionOptions().Threads(1).Profiling(true));
  const tessera::Value x = tessera::Value::FromData<float>({1, 4, 16}, std::vector<float>(64, 0.25f));
  session.Run({{"q", &x}, {"k", &x}, {"v", &x}}, {"y"});
  const auto records = session.Profile();
  EXPECT_EQ(records.size(), 1u);
  return records.at(0);
}

TEST(ProfileApiTest, AttentionFlopsMatchHandComputedValues) {
  // Per visible (query, key) pair and head: Q.K and P.V products, 2 x 2 x 8
  // = 32 FLOPs, plus 27 for the softmax of the score (scale, mask, max,
  // subtract, exp 22, sum). 4 queries x 4 keys x 2 heads = 32 pairs; causal
  // sees 1 + 2 + 3 + 4 = 10 per head, 20 in all.
  const tessera::NodeProfile full = ProfileAttention(false);
  EXPECT_EQ(full.op_type, "Attention");
  EXPECT_EQ(full.domain, "tessera");
  EXPECT_EQ(full.flops, 32.0 * (4 * 8 + 27));
  EXPECT_EQ(full.bytes_read, 3 * 64 * 4.0);
  EXPECT_EQ(full.bytes_written, 64 * 4.0);
  EXPECT_EQ(ProfileAttention(true).flops, 20.0 * (4 * 8 + 27));
}

TEST(ProfileApiTest, CountsFollowTheRunsShapes) {
  const tessera::Model model = ThreeOpModel();
  // batch 11 instead of 3: MatMul FLOPs scale with the rows.
  const auto records = ProfileOnce(model, 1, 11);
  EXPECT_EQ(Find(records, "mm").flops, 2.0 * 11 * 5 * 7);
  const auto& mm = Find(records, "mm");
  ASSERT_EQ(mm.input_shapes.size(), 2u);
  EXPECT_EQ(mm.input_shapes[0], (std::vector<int64_t>{11, 5}));
  EXPECT_EQ(mm.input_shapes[1], (std::vector<int64_t>{5, 7}));
  EXPECT_TRUE(mm.input_present[0] && mm.input_present[1]);
  const auto& gemm_c = Find(records, "gemm_c");
  ASSERT_EQ(gemm_c.input_shapes.size(), 3u);
  EXPECT_EQ(gemm_c.input_shapes[2], (std::vector<int64_t>{7}));
}

TEST(ProfileApiTest, RecordsNameNodesInModelOrderWithThreadsAndTimes) {
  const tessera::Model model = ThreeOpModel();
  const std::vector<tessera::NodeInfo> nodes = model.Nodes();
  const int threads = 2;
  const auto records = ProfileOnce(model, threads, 64);
  ASSERT_EQ(records.size(), nodes.size());
  std::set<int32_t> indices;
  int64_t previous_start = 0;
  for (const auto& r : records) {
    ASSERT_GE(r.node_index, 0);
    ASSERT_LT(static_cast<size_t>(r.node_index), nodes.size());
    indices.insert(r.node_index);
    EXPECT_EQ(nodes[static_cast<size_t>(r.node_index)].name, r.node_name);
    EXPECT_EQ(nodes[static_cast<size_t>(r.node_index)].op_type, r.op_type);
    EXPECT_EQ(r.domain, "");
    EXPECT_GE(r.thread_index, 0);
    EXPECT_LT(r.thread_index, threads);
    EXPECT_GE(r.start_ns, previous_start);  // records come in start order
    EXPECT_GE(r.duration_ns, 0);
    EXPECT_EQ(r.end_ns(), r.start_ns + r.duration_ns);
    previous_start = r.start_ns;
  }
  EXPECT_EQ(indices.size(), nodes.size());  // each node exactly once
}

TEST(ProfileApiTest, NoRecordsWithProfilingOff) {
  const tessera::Model model = ThreeOpModel();
  tessera::Session session(model, tessera::SessionOptions().Threads(1));
  tessera::Value x = tessera::Value::FromData<float>({2, 5}, std::vector<float>(10, 1.0f));
  session.Run({{"x", &x}}, {"g"});
  EXPECT_TRUE(session.Profile().empty());
}

TEST(ProfileApiTest, CApiRecordCarriesInputShapes) {
  const tessera::Model model = ThreeOpModel();
  TsrSessionOptions* options = nullptr;
  ASSERT_EQ(TsrSessionOptionsCreate(&options), nullptr);
  ASSERT_EQ(TsrSessionOptionsSetProfiling(options, 1), nullptr);
  TsrSession* session = nullptr;
  ASSERT_EQ(TsrSessionCreate(model.get(), options, &session), nullptr);
  tessera::Value x = tessera::Value::FromData<float>({4, 5}, std::vector<float>(20, 1.0f));
  const char* in_name = "x";
  const TsrTensor* in = x.get();
  const char* out_name = "g";
  TsrTensor* out = nullptr;
  ASSERT_EQ(TsrSessionRun(session, &in_name, &in, 1, &out_name, 1, &out), nullptr);
  ASSERT_EQ(TsrSessionGetProfileCount(session), 4u);
  bool seen_gemm = false;
  for (size_t i = 0; i < 4; ++i) {
    TsrNodeProfile p;
    ASSERT_EQ(TsrSessionGetProfileRecord(session, i, &p), nullptr);
    if (std::string(p.node_name) != "gemm_c") continue;
    seen_gemm = true;
    ASSERT_EQ(p.num_inputs, 3u);
    ASSERT_EQ(p.input_ranks[0], 2u);
    EXPECT_EQ(p.input_dims[0][0], 4);
    EXPECT_EQ(p.input_dims[0][1], 5);
    ASSERT_EQ(p.input_ranks[2], 1u);
    EXPECT_EQ(p.input_dims[2][0], 7);
    EXPECT_EQ(p.bytes, p.bytes_read + p.bytes_written);
  }
  EXPECT_TRUE(seen_gemm);
  TsrNodeProfile p;
  TsrStatus* status = TsrSessionGetProfileRecord(session, 4, &p);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(TsrStatusGetCode(status), TSR_ERR_INVALID_ARGUMENT);
  TsrStatusRelease(status);
  TsrTensorRelease(out);
  TsrSessionRelease(session);
  TsrSessionOptionsRelease(options);
}

TEST(MachineInfoTest, MeasuresOnceAndReportsPlausibleNumbers) {
  const tessera::MachineInfo m = tessera::GetMachineInfo();
  EXPECT_FALSE(m.simd_target.empty());
  // The dispatched target is one of the supported ones.
  EXPECT_NE((" " + m.supported_targets + " ").find(" " + m.simd_target + " "), std::string::npos)
      << m.supported_targets;
  EXPECT_GE(m.vector_bits, 32);
  EXPECT_GE(m.cores, 1);
  EXPECT_GT(m.peak_gflops_1thread, 0);
  EXPECT_GT(m.peak_gflops, 0);
  EXPECT_GT(m.bandwidth_gbs_1thread, 0);
  EXPECT_GT(m.bandwidth_gbs, 0);
  // Cached: the second call returns the same measurement.
  const tessera::MachineInfo again = tessera::GetMachineInfo();
  EXPECT_EQ(again.peak_gflops_1thread, m.peak_gflops_1thread);
  EXPECT_EQ(again.bandwidth_gbs, m.bandwidth_gbs);
  EXPECT_EQ(again.measure_seconds, m.measure_seconds);

  TsrStatus* status = TsrGetMachineInfo(nullptr);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(TsrStatusGetCode(status), TSR_ERR_INVALID_ARGUMENT);
  TsrStatusRelease(status);
}

}  // namespace
