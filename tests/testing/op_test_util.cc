#include "tests/testing/op_test_util.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <hwy/targets.h>

#include "ops/simd_target.h"
#include "runtime/core/registry.h"
#include "runtime/threading.h"

namespace tessera::testing {
namespace {

constexpr size_t kCanaryBytes = 64;
constexpr uint8_t kCanary = 0xA5;

}  // namespace

OwnedTensor MakeTensor(DType dtype, const Shape& shape) {
  auto t = OwnedTensor::Allocate(dtype, shape);
  if (!t.ok()) std::abort();  // tests only: allocation of test data
  return std::move(t).value();
}

OwnedTensor RandomF32(const Shape& shape, uint32_t seed, float lo, float hi) {
  OwnedTensor t = MakeTensor(DType::kF32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.view.data_as<float>();
  for (int64_t i = 0; i < t.view.NumElements(); ++i) p[i] = dist(rng);
  return t;
}

std::vector<float> ToFloatVector(const Tensor& t) {
  const float* p = t.data_as<float>();
  return std::vector<float>(p, p + t.NumElements());
}

bool BitwiseEqual(const Tensor& a, const Tensor& b) {
  return a.dtype == b.dtype && a.shape == b.shape && std::memcmp(a.data, b.data, a.ByteSize()) == 0;
}

void ForEachTarget(const std::function<void(const char*)>& fn) {
  // Applies TESSERA_SIMD_TARGET first, so a capped run tests the cap and
  // every target below it. Only targets compiled in: dispatch to any other
  // would silently run the fallback target under a wrong name.
  (void)ops::InitSimdTarget();
  for (int64_t targets = hwy::SupportedTargets() & HWY_TARGETS; targets != 0; targets &= targets - 1) {
    const int64_t target = targets & ~(targets - 1);
    hwy::SetSupportedTargetsForTest(target);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    fn(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

StatusOr<std::vector<OwnedTensor>> RunOp(const OpInvocation& op) {
  const OpDef* def = BuiltinOpRegistry().Find(op.domain, op.op_type, op.version);
  if (def == nullptr) return Error(StatusCode::kNotFound, "no op ", op.op_type, " v", op.version);
  AttributeMap attrs = op.attrs;
  TSR_RETURN_IF_ERROR(CheckAndFillAttributes(*def, attrs));

  std::vector<TensorInfo> infos(op.inputs.size());
  OpContext ctx;
  ctx.node_name = "test";
  ctx.attrs = &attrs;
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    const Tensor* t = op.inputs[i];
    if (t != nullptr) infos[i] = TensorInfo{t->dtype, t->shape, true};
    ctx.inputs.push_back(t != nullptr ? &infos[i] : nullptr);
    const bool is_const = t != nullptr && i < op.constant.size() && op.constant[i];
    ctx.constants.push_back(is_const ? t : nullptr);
  }
  ctx.outputs.resize(op.num_outputs);
  TSR_RETURN_IF_ERROR(CheckSignature(*def, ctx.inputs, op.num_outputs));
  TSR_RETURN_IF_ERROR(def->infer_shapes(ctx));
  TSR_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, def->create_kernel(ctx));

  // Outputs: NaN (or 0xFF) filled, then a canary region right after.
  std::vector<AlignedBuffer> storage;
  std::vector<Tensor> outputs(op.num_outputs);
  for (size_t i = 0; i < op.num_outputs; ++i) {
    const TensorInfo& info = ctx.outputs[i];
    if (!IsStatic(info.shape)) return Error(StatusCode::kInternal, "output ", i, " shape not static");
    TSR_ASSIGN_OR_RETURN(int64_t bytes, CheckedByteSize(info.dtype, info.shape));
    TSR_ASSIGN_OR_RETURN(AlignedBuffer buf, AlignedBuffer::Allocate(static_cast<size_t>(bytes) + kCanaryBytes));
    auto* p = static_cast<uint8_t*>(buf.data());
    if (info.dtype == DType::kF32) {
      const float nan = std::numeric_limits<float>::quiet_NaN();
      for (int64_t k = 0; k < bytes / 4; ++k) std::memcpy(p + 4 * k, &nan, 4);
    } else {
      std::memset(p, 0xFF, static_cast<size_t>(bytes));
    }
    std::memset(p + bytes, kCanary, kCanaryBytes);
    outputs[i] = Tensor{info.dtype, info.shape, buf.data()};
    storage.push_back(std::move(buf));
  }

  TbbRunner runner;
  ThreadArena arena(op.threads);
  Status run_status;
  std::vector<Tensor*> output_ptrs;
  for (Tensor& out : outputs) output_ptrs.push_back(&out);
  TensorTable table(op.inputs, output_ptrs);
  arena.Execute([&] {
    KernelContext kctx = table.Context(&runner);
    run_status = kernel->Run(kctx);
  });
  TSR_RETURN_IF_ERROR(run_status);

  std::vector<OwnedTensor> result;
  for (size_t i = 0; i < op.num_outputs; ++i) {
    const auto* p = static_cast<const uint8_t*>(storage[i].data());
    const size_t bytes = outputs[i].ByteSize();
    for (size_t k = 0; k < kCanaryBytes; ++k) {
      if (p[bytes + k] != kCanary) {
        return Error(StatusCode::kInternal, "kernel wrote past the end of output ", i, " (canary byte ", k, ")");
      }
    }
    OwnedTensor t = MakeTensor(outputs[i].dtype, outputs[i].shape);
    std::memcpy(t.view.data, outputs[i].data, bytes);
    result.push_back(std::move(t));
  }
  return result;
}

}  // namespace tessera::testing
