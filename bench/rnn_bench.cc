// Recurrent op throughput: Tessera's ONNX LSTM, GRU and RNN kernels next to
// oneDNN's RNN primitives (lstm_forward, gru_forward, vanilla_rnn_forward
// with tanh), in one process and one run, at seq_len 128, batch 1 and 16,
// input = hidden = 256 and 512, forward, plus one bidirectional LSTM, at 1
// and 2 threads. oneDNN is optional (TESSERA_BENCH_DNNL); without it only
// Tessera runs.
//
// Both sides get what an inference engine has: weights prepared once
// (Tessera packs W and R when the kernel is created from constant weights,
// oneDNN reorders them into the layout its primitive asks for), zero
// initial state, and the full output sequence Y written every call. The GRU
// is ONNX's default (linear_before_reset 0), which is oneDNN's gru_forward.
// Tessera runs the registered op's kernel, the same object a session runs,
// inside a ThreadArena of the requested size.
//
// FLOPs (the op's Cost(), as the issue defines them):
//   2 * gates * H * (I + H) * seq * batch * directions.
// After the Google Benchmark output a table lists per case the median
// milliseconds per call (one call runs the whole 128-step sequence for all
// batch rows), GFLOP/s, oneDNN's time divided by Tessera's (> 1: Tessera
// is faster), and with repetitions that ratio's range and how many pairs
// Tessera won, over repetitions paired by index (bench/summary_reporter.h
// says why; run with random interleaving for it to mean something).
//
//   build/bench/rnn_bench [--benchmark_repetitions=5 --benchmark_enable_random_interleaving=true]
//                         [--benchmark_filter=...]
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/openmp_policy.h"
#include "bench/summary_reporter.h"
#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "runtime/threading.h"

#ifdef TESSERA_BENCH_DNNL
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace tessera {
namespace {

struct RnnCase {
  std::string op;  // "LSTM", "GRU", "RNN"
  int64_t batch;
  int64_t hidden;  // = input size
  bool bidirectional;
  int64_t seq = 128;

  int64_t gates() const { return op == "LSTM" ? 4 : op == "GRU" ? 3 : 1; }
  int64_t dirs() const { return bidirectional ? 2 : 1; }
  double flops() const {
    return 2.0 * static_cast<double>(gates() * hidden * (hidden + hidden)) * static_cast<double>(seq * batch * dirs());
  }
  std::string key() const {
    return op + "/b" + std::to_string(batch) + "/h" + std::to_string(hidden) + (bidirectional ? "/bidi" : "/fwd");
  }
};

const std::vector<RnnCase>& Cases() {
  static const std::vector<RnnCase> cases = [] {
    std::vector<RnnCase> c;
    for (const char* op : {"LSTM", "GRU", "RNN"}) {
      for (int64_t batch : {1, 16}) {
        for (int64_t hidden : {256, 512}) c.push_back(RnnCase{op, batch, hidden, false});
      }
    }
    c.push_back(RnnCase{"LSTM", 1, 256, true});
    c.push_back(RnnCase{"LSTM", 16, 256, true});
    return c;
  }();
  return cases;
}

std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

void SetCounters(benchmark::State& state, const RnnCase& c) {
  state.counters["GFLOP/s"] = benchmark::Counter(c.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Tessera(benchmark::State& state, RnnCase c, int threads) {
  const int64_t n = c.hidden, in = c.hidden, g = c.gates(), nd = c.dirs();
  std::vector<float> x = RandomVector(c.seq * c.batch * in, 1, 1.0f);
  std::vector<float> w = RandomVector(nd * g * n * in, 2, 0.05f);
  std::vector<float> r = RandomVector(nd * g * n * n, 3, 0.05f);
  std::vector<float> b = RandomVector(nd * 2 * g * n, 4, 0.1f);
  std::vector<float> y(static_cast<size_t>(c.seq * nd * c.batch * n));
  Tensor xt{DType::kF32, {c.seq, c.batch, in}, x.data()};
  Tensor wt{DType::kF32, {nd, g * n, in}, w.data()};
  Tensor rt{DType::kF32, {nd, g * n, n}, r.data()};
  Tensor bt{DType::kF32, {nd, 2 * g * n}, b.data()};
  Tensor yt{DType::kF32, {c.seq, nd, c.batch, n}, y.data()};

  const OpDef* def = BuiltinOpRegistry().Find("", c.op, 14);
  if (def == nullptr) {
    state.SkipWithError("op not registered");
    return;
  }
  AttributeMap attrs;
  attrs.Set("hidden_size", Attribute::Int(n));
  attrs.Set("direction", Attribute::String(c.bidirectional ? "bidirectional" : "forward"));
  if (!CheckAndFillAttributes(*def, attrs).ok()) {
    state.SkipWithError("attributes rejected");
    return;
  }
  std::vector<TensorInfo> infos = {{DType::kF32, xt.shape, true},
                                   {DType::kF32, wt.shape, true},
                                   {DType::kF32, rt.shape, true},
                                   {DType::kF32, bt.shape, true}};
  OpContext ctx;
  ctx.node_name = "bench";
  ctx.attrs = &attrs;
  ctx.inputs = {&infos[0], &infos[1], &infos[2], &infos[3]};
  ctx.constants = {nullptr, &wt, &rt, &bt};  // weights are constants: packed once here
  ctx.outputs.resize(1);
  Status s = def->infer_shapes(ctx);
  StatusOr<std::unique_ptr<Kernel>> kernel = s.ok() ? def->create_kernel(ctx) : StatusOr<std::unique_ptr<Kernel>>(s);
  if (!kernel.ok()) {
    state.SkipWithError(kernel.status().ToString().c_str());
    return;
  }
  ThreadArena arena(threads);
  TbbRunner runner;
  arena.Execute([&] {
    TensorTable kctx_table({&xt, &wt, &rt, &bt}, {&yt});
    for (auto _ : state) {
      KernelContext kctx = kctx_table.Context(&runner);
      if (!kernel.value()->Run(kctx).ok()) state.SkipWithError("Run failed");
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  });
  SetCounters(state, c);
}

#ifdef TESSERA_BENCH_DNNL
void BM_OneDnn(benchmark::State& state, RnnCase c, int threads) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const int64_t n = c.hidden, in = c.hidden, g = c.gates(), nd = c.dirs();
  std::vector<float> x = RandomVector(c.seq * c.batch * in, 1, 1.0f);
  std::vector<float> w = RandomVector(nd * in * g * n, 2, 0.05f);
  std::vector<float> r = RandomVector(nd * n * g * n, 3, 0.05f);
  std::vector<float> b = RandomVector(nd * g * n, 4, 0.1f);
  std::vector<float> y(static_cast<size_t>(c.seq * c.batch * nd * n));
  omp_set_num_threads(threads);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto direction =
      c.bidirectional ? dnnl::rnn_direction::bidirectional_concat : dnnl::rnn_direction::unidirectional_left2right;
  const dnnl::memory::desc src_md({c.seq, c.batch, in}, dt::f32, tag::tnc);
  const dnnl::memory::desc dst_md({c.seq, c.batch, nd * n}, dt::f32, tag::tnc);
  const dnnl::memory::desc w_any({1, nd, in, g, n}, dt::f32, tag::any);
  const dnnl::memory::desc r_any({1, nd, n, g, n}, dt::f32, tag::any);
  const dnnl::memory::desc bias_md({1, nd, g, n}, dt::f32, tag::ldgo);
  const dnnl::memory::desc none;  // zero initial state, final state not requested
  const auto inference = dnnl::prop_kind::forward_inference;
  dnnl::primitive prim;
  dnnl::memory::desc w_md, r_md;
  if (c.op == "LSTM") {
    const dnnl::lstm_forward::primitive_desc pd(
        dnnl::lstm_forward::desc(inference, direction, src_md, none, none, w_any, r_any, bias_md, dst_md, none, none),
        engine);
    prim = dnnl::lstm_forward(pd);
    w_md = pd.weights_layer_desc();
    r_md = pd.weights_iter_desc();
  } else if (c.op == "GRU") {
    const dnnl::gru_forward::primitive_desc pd(
        dnnl::gru_forward::desc(inference, direction, src_md, none, w_any, r_any, bias_md, dst_md, none), engine);
    prim = dnnl::gru_forward(pd);
    w_md = pd.weights_layer_desc();
    r_md = pd.weights_iter_desc();
  } else {
    const dnnl::vanilla_rnn_forward::primitive_desc pd(
        dnnl::vanilla_rnn_forward::desc(inference, dnnl::algorithm::eltwise_tanh, direction, src_md, none, w_any,
                                        r_any, bias_md, dst_md, none),
        engine);
    prim = dnnl::vanilla_rnn_forward(pd);
    w_md = pd.weights_layer_desc();
    r_md = pd.weights_iter_desc();
  }
  // Weights reordered once into the primitive's layout.
  dnnl::memory w_user({{1, nd, in, g, n}, dt::f32, tag::ldigo}, engine, w.data());
  dnnl::memory r_user({{1, nd, n, g, n}, dt::f32, tag::ldigo}, engine, r.data());
  dnnl::memory w_mem(w_md, engine), r_mem(r_md, engine);
  dnnl::reorder(w_user, w_mem).execute(stream, w_user, w_mem);
  dnnl::reorder(r_user, r_mem).execute(stream, r_user, r_mem);
  stream.wait();
  dnnl::memory src_mem(src_md, engine, x.data());
  dnnl::memory dst_mem(dst_md, engine, y.data());
  dnnl::memory bias_mem(bias_md, engine, b.data());
  for (auto _ : state) {
    prim.execute(stream, {{DNNL_ARG_SRC_LAYER, src_mem},
                          {DNNL_ARG_WEIGHTS_LAYER, w_mem},
                          {DNNL_ARG_WEIGHTS_ITER, r_mem},
                          {DNNL_ARG_BIAS, bias_mem},
                          {DNNL_ARG_DST_LAYER, dst_mem}});
    stream.wait();
    benchmark::DoNotOptimize(y.data());
  }
  SetCounters(state, c);
}
#endif

std::string Key(const RnnCase& c, int threads) { return c.key() + "/threads:" + std::to_string(threads); }

void PrintSummary(const SummaryReporter& reporter) {
  std::printf("\nMedian ms per call (one call = the whole 128-step sequence for all batch rows), GFLOP/s,\n"
              "oneDNN time / Tessera time (> 1: Tessera faster), and over repetitions paired by index\n"
              "the lowest and highest of that ratio and how many pairs Tessera won\n"
              "(bench/summary_reporter.h):\n\n");
  std::printf("%-28s %10s %9s %10s %9s %7s %11s %7s\n", "case/threads", "tessera ms", "GFLOP/s", "onednn ms",
              "GFLOP/s", "ratio", "range", "won");
  for (const RnnCase& c : Cases()) {
    for (int threads : {1, 2}) {
      const std::string key = Key(c, threads);
      const SummaryReporter::Result t = reporter.Find("tessera", key);
      const SummaryReporter::Result d = reporter.Find("onednn", key);
      if (t.ms == 0 && d.ms == 0) continue;  // filtered out
      // Both count the same FLOPs, so the GFLOP/s ratio is the time ratio.
      const SummaryReporter::Ratio ratio = reporter.RatioOf("tessera", "onednn", key);
      char d_ms[16] = "-", d_gf[16] = "-", ratio_s[16] = "-";
      if (d.ms > 0) {
        std::snprintf(d_ms, sizeof(d_ms), "%.3f", d.ms);
        std::snprintf(d_gf, sizeof(d_gf), "%.1f", d.gflops);
      }
      if (ratio.median > 0) std::snprintf(ratio_s, sizeof(ratio_s), "%.2fx", ratio.median);
      std::printf("%-28s %10.3f %9.1f %10s %9s %7s %11s %7s\n", key.c_str(), t.ms, t.gflops, d_ms, d_gf, ratio_s,
                  SummaryReporter::RangeText(ratio).c_str(), SummaryReporter::WinsText(ratio).c_str());
    }
  }
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
#ifdef TESSERA_BENCH_DNNL
  tessera::WarnIfOpenMpWaitsPassively();
#endif
  for (const tessera::RnnCase& c : tessera::Cases()) {
    for (int threads : {1, 2}) {
      const std::string key = tessera::Key(c, threads);
      benchmark::RegisterBenchmark(("rnn/tessera/" + key).c_str(), tessera::BM_Tessera, c, threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3);
#ifdef TESSERA_BENCH_DNNL
      benchmark::RegisterBenchmark(("rnn/onednn/" + key).c_str(), tessera::BM_OneDnn, c, threads)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3);
#endif
    }
  }
  tessera::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  tessera::PrintSummary(reporter);
  benchmark::Shutdown();
  return 0;
}
