// Which Highway target the kernels run on.
//
// By default: the best target that is both compiled into this build
// (HWY_TARGETS, the same project-wide set for every kernel file) and
// supported by the CPU, as Highway's dynamic dispatch picks it. The
// TESSERA_SIMD_TARGET environment variable caps that choice at a named
// target (Highway's names, any case: AVX3, AVX2, SSE4, SCALAR on x86;
// SVE2, SVE_256, SVE, NEON on Arm), so that results can be reproduced
// across machines and each target's code path can be tested on one machine.
// The cap goes through Highway's own mechanism (hwy::DisableTargets of every
// better target), so hwy::SupportedTargets() and the per-target test loop
// see it too.
//
// No Highway types appear here.
#ifndef TESSERA_OPS_SIMD_TARGET_H_
#define TESSERA_OPS_SIMD_TARGET_H_

#include <cstdint>
#include <string>

#include "runtime/core/status.h"

namespace tessera::ops {

inline constexpr const char* kSimdTargetEnv = "TESSERA_SIMD_TARGET";

// Applies TESSERA_SIMD_TARGET (when set and not empty) and chooses the
// dispatch target, once per process (thread-safe); later calls return the
// first call's outcome. When the variable names no target this build can
// run on this CPU, the result says why and lists the ones it can, and the
// kernels keep the default choice.
const Status& InitSimdTarget();

// Highway targets compiled into this build, as a bit set (HWY_TARGETS).
int64_t BuiltSimdTargets();
// Built targets this CPU supports, before any cap: the set the variable
// may name.
int64_t UsableSimdTargets();
// The target the variable selected, or 0 when it is unset or refused.
int64_t RequestedSimdTarget();

// Target names separated by spaces, best first: "AVX2 SSE4 SCALAR".
std::string SimdTargetNames(int64_t targets);

// The target `name` denotes when it is one of `usable` (any case), or an
// error naming the usable ones.
StatusOr<int64_t> ParseSimdTarget(const std::string& name, int64_t usable);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_SIMD_TARGET_H_
