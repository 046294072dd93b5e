// The list of built-in op families (TFLite's register.cc): explicit calls,
// no static initialisers, which static archives would silently drop.
#include "ops/builtin_ops.h"

#include <cstdio>
#include <cstdlib>

#include "ops/simd_target.h"
#include "runtime/core/registry.h"

namespace tessera {
namespace ops {

Status RegisterBuiltinOps(OpRegistrar& registrar) {
  TSR_RETURN_IF_ERROR(RegisterElementwiseOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterGemmOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterRnnOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterSoftmaxOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterMathOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterNormOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterShapeOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterMovementOps(registrar));
  TSR_RETURN_IF_ERROR(RegisterAttentionOps(registrar));
  return Status::Ok();
}

}  // namespace ops

const OpRegistry& BuiltinOpRegistry() {
  static const OpRegistry* const registry = [] {
    // Choose the SIMD target once, before any kernel dispatches. A refused
    // TESSERA_SIMD_TARGET leaves the default choice; it is said here once,
    // and `tessera sysinfo` (GetMachineInfo) fails with the same message.
    const Status& simd = ops::InitSimdTarget();
    if (!simd.ok()) std::fprintf(stderr, "tessera: warning: %s; using the default target\n", simd.message().c_str());
    auto* r = new OpRegistry();
    r->set_owner("builtin");
    const Status status = ops::RegisterBuiltinOps(*r);
    if (!status.ok()) {
      // A malformed built-in declaration is a bug in this build, caught by
      // every test run; there is no user input involved.
      std::fprintf(stderr, "tessera: built-in op registration failed: %s\n", status.ToString().c_str());
      std::abort();
    }
    return r;
  }();
  return *registry;
}

}  // namespace tessera
