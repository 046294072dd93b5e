// tessera.Attention throughput: the fused op at batch 1, 8 heads, head_dim
// 64, seq 128 / 512 / 2048 (causal and not), and decode steps (one new
// token) against a KV cache of 512 and 2048, at 1 and 2 threads; next to
// Tessera's own unfused path for the same maths (MatMul Q K^T -> [Add causal
// mask ->] Softmax -> MatMul with V, K handed over pre-transposed so the
// unfused side does no transpose), in the same run.
//
// Each kernel is the registered op's kernel, the object a session runs,
// inside a ThreadArena of the requested size. FLOPs come from the ops'
// Cost(): for Attention 4 * head_dim + 29 per visible (query, key) pair
// (causal counts only the visible half); the unfused path is the sum of its
// three ops. Counters: GFLOP/s, the fraction of the FP32 FMA peak
// (--peak_gflops per core, default 116: AMD Zen 4 AVX-512), and the peak
// scratch bytes (fused: K/V packed into tiles, linear in seq, plus bounded
// per-chunk slots; unfused: the two [heads, seq, seq] matrices it holds).
//
//   build/bench/attention_bench [--benchmark_repetitions=5] [--peak_gflops=116]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "ops/attention/attention.h"
#include "runtime/core/op.h"
#include "runtime/core/registry.h"
#include "runtime/threading.h"

namespace tessera {
namespace {

double g_peak_per_core = 116;

constexpr int64_t kHeads = 8;
constexpr int64_t kHeadDim = 64;

std::vector<float> RandomVector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// One registered op, ready to run: shapes inferred, kernel created.
struct PreparedOp {
  const OpDef* def = nullptr;
  AttributeMap attrs;
  std::vector<TensorInfo> infos;
  OpContext ctx;
  std::unique_ptr<Kernel> kernel;
  OpCost cost;
};

Status Prepare(PreparedOp& op, const std::string& domain, const std::string& type, int32_t version,
               const std::vector<const Tensor*>& inputs, size_t num_outputs) {
  op.def = BuiltinOpRegistry().Find(domain, type, version);
  if (op.def == nullptr) return Error(StatusCode::kNotFound, "op ", type, " not registered");
  TSR_RETURN_IF_ERROR(CheckAndFillAttributes(*op.def, op.attrs));
  op.infos.resize(inputs.size());
  op.ctx.node_name = "bench";
  op.ctx.attrs = &op.attrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] != nullptr) op.infos[i] = TensorInfo{inputs[i]->dtype, inputs[i]->shape, true};
    op.ctx.inputs.push_back(inputs[i] != nullptr ? &op.infos[i] : nullptr);
    op.ctx.constants.push_back(nullptr);
  }
  op.ctx.outputs.resize(num_outputs);
  TSR_RETURN_IF_ERROR(op.def->infer_shapes(op.ctx));
  TSR_ASSIGN_OR_RETURN(op.kernel, op.def->create_kernel(op.ctx));
  op.cost = op.def->cost ? op.def->cost(op.ctx) : DefaultCost(op.ctx);
  return Status::Ok();
}

void SetCounters(benchmark::State& state, double flops, double scratch_bytes, int threads) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak"] = benchmark::Counter(flops * 1e-9 / (g_peak_per_core * threads),
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["scratch_KiB"] = scratch_bytes / 1024.0;
}

// Fused Attention: q_len new queries and keys after a cache of `past`.
void BM_Attention(benchmark::State& state, int64_t q_len, int64_t past, bool causal, int threads) {
  const int64_t hidden = kHeads * kHeadDim;
  std::vector<float> q = RandomVector(q_len * hidden, 1), k = RandomVector(q_len * hidden, 2),
                     v = RandomVector(q_len * hidden, 3);
  std::vector<float> pk = RandomVector(std::max<int64_t>(past, 1) * hidden, 4),
                     pv = RandomVector(std::max<int64_t>(past, 1) * hidden, 5);
  std::vector<float> y(static_cast<size_t>(q_len * hidden), std::nanf(""));
  Tensor qt{DType::kF32, {1, q_len, hidden}, q.data()};
  Tensor kt{DType::kF32, {1, q_len, hidden}, k.data()};
  Tensor vt{DType::kF32, {1, q_len, hidden}, v.data()};
  Tensor pkt{DType::kF32, {1, kHeads, past, kHeadDim}, pk.data()};
  Tensor pvt{DType::kF32, {1, kHeads, past, kHeadDim}, pv.data()};
  Tensor yt{DType::kF32, {1, q_len, hidden}, y.data()};
  PreparedOp op;
  op.attrs.Set("num_heads", Attribute::Int(kHeads));
  op.attrs.Set("causal", Attribute::Int(causal ? 1 : 0));
  const Tensor* pkp = past > 0 ? &pkt : nullptr;
  const Tensor* pvp = past > 0 ? &pvt : nullptr;
  const Status s = Prepare(op, kTesseraDomain, "Attention", 1, {&qt, &kt, &vt, nullptr, pkp, pvp}, 1);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  ThreadArena arena(threads);
  TbbRunner runner;
  arena.Execute([&] {
    TensorTable kctx_table({&qt, &kt, &vt, nullptr, pkp, pvp}, {&yt});
    for (auto _ : state) {
      KernelContext kctx = kctx_table.Context(&runner);
      if (!op.kernel->Run(kctx).ok()) state.SkipWithError("Run failed");
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  });
  // Scratch of one call: the packed K/V tiles (linear in the sequence) plus
  // one slot per chunk (at most 64 chunks, independent of the sequence).
  ops::AttentionF32Params p;
  p.batch = 1;
  p.num_heads = kHeads;
  p.kv_num_heads = kHeads;
  p.q_len = q_len;
  p.past_len = past;
  p.new_len = q_len;
  const double chunks = static_cast<double>(std::min<int64_t>(ops::AttentionUnits(p), 64));
  const double packed = ops::AttentionUseDirect(p)
                            ? 0.0  // decoding reads K/V in place
                            : static_cast<double>(ops::AttentionPackItems(p) * ops::AttentionTileFloats(kHeadDim)) * 4;
  SetCounters(state, op.cost.flops, packed + chunks * static_cast<double>(ops::AttentionScratchFloats(kHeadDim)) * 4,
              threads);
}

// Unfused: S = Q K^T (MatMul, batched over heads), P = Softmax(S * scale
// folded into Q), Y = P V (MatMul). Q, K^T and V are given in head layout.
// Causal adds the mask the way an exported graph does: S + M (Add, M a
// [seq, seq] matrix of 0 and -inf broadcast over heads) before the Softmax.
void BM_Unfused(benchmark::State& state, int64_t seq, bool causal, int threads) {
  std::vector<float> q = RandomVector(kHeads * seq * kHeadDim, 1), kt = RandomVector(kHeads * kHeadDim * seq, 2),
                     v = RandomVector(kHeads * seq * kHeadDim, 3);
  std::vector<float> sc(static_cast<size_t>(kHeads * seq * seq)), pr(sc.size()),
      y(static_cast<size_t>(kHeads * seq * kHeadDim));
  Tensor qt{DType::kF32, {1, kHeads, seq, kHeadDim}, q.data()};
  Tensor ktt{DType::kF32, {1, kHeads, kHeadDim, seq}, kt.data()};
  Tensor vt{DType::kF32, {1, kHeads, seq, kHeadDim}, v.data()};
  Tensor st{DType::kF32, {1, kHeads, seq, seq}, sc.data()};
  Tensor pt{DType::kF32, {1, kHeads, seq, seq}, pr.data()};
  Tensor yt{DType::kF32, {1, kHeads, seq, kHeadDim}, y.data()};
  std::vector<float> mask(static_cast<size_t>(seq * seq), 0.0f);
  for (int64_t i = 0; i < seq; ++i) {
    for (int64_t j = i + 1; j < seq; ++j) mask[static_cast<size_t>(i * seq + j)] = -INFINITY;
  }
  Tensor mt{DType::kF32, {seq, seq}, mask.data()};
  PreparedOp mm1, add, sm, mm2;
  Status s = Prepare(mm1, "", "MatMul", 13, {&qt, &ktt}, 1);
  if (s.ok() && causal) s = Prepare(add, "", "Add", 14, {&st, &mt}, 1);
  if (s.ok()) s = Prepare(sm, "", "Softmax", 13, {&st}, 1);
  if (s.ok()) s = Prepare(mm2, "", "MatMul", 13, {&pt, &vt}, 1);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  ThreadArena arena(threads);
  TbbRunner runner;
  arena.Execute([&] {
    TensorTable c1_table({&qt, &ktt}, {&st});
    // Causal: S + M written into P, then Softmax(P) back into S.
    TensorTable c_add_table({&st, &mt}, {&pt});
    TensorTable c2_table({causal ? &pt : &st}, {causal ? &st : &pt});
    TensorTable c3_table({causal ? &st : &pt, &vt}, {&yt});
    for (auto _ : state) {
      KernelContext c1 = c1_table.Context(&runner);
      KernelContext c_add = c_add_table.Context(&runner);
      KernelContext c2 = c2_table.Context(&runner);
      KernelContext c3 = c3_table.Context(&runner);
      bool ok = mm1.kernel->Run(c1).ok();
      if (ok && causal) ok = add.kernel->Run(c_add).ok();
      if (ok) ok = sm.kernel->Run(c2).ok() && mm2.kernel->Run(c3).ok();
      if (!ok) state.SkipWithError("Run failed");
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  });
  SetCounters(state, mm1.cost.flops + (causal ? add.cost.flops : 0.0) + sm.cost.flops + mm2.cost.flops,
              2.0 * static_cast<double>(sc.size()) * 4, threads);
}

void RegisterAll() {
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    for (int64_t seq : {128, 512, 2048}) {
      for (bool causal : {false, true}) {
        benchmark::RegisterBenchmark(
            ("Attention/seq:" + std::to_string(seq) + (causal ? "/causal" : "/full") + t).c_str(),
            [=](benchmark::State& st) { BM_Attention(st, seq, 0, causal, threads); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
      for (bool causal : {false, true}) {
        benchmark::RegisterBenchmark(("Unfused_MatMul_Softmax_MatMul/seq:" + std::to_string(seq) +
                                      (causal ? "/causal" : "/full") + t)
                                         .c_str(),
                                     [=](benchmark::State& st) { BM_Unfused(st, seq, causal, threads); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
    for (int64_t cache : {512, 2048}) {
      benchmark::RegisterBenchmark(("Attention_decode/cache:" + std::to_string(cache) + t).c_str(),
                                   [=](benchmark::State& st) { BM_Attention(st, 1, cache - 1, true, threads); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--peak_gflops=", 14) == 0) {
      tessera::g_peak_per_core = std::atof(argv[i] + 14);
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  tessera::RegisterAll();
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
