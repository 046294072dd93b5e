#include "ops/simd_target.h"

#include <cctype>
#include <cstdlib>

#include <hwy/targets.h>

namespace tessera::ops {
namespace {

struct SimdTargetState {
  int64_t usable = 0;
  int64_t requested = 0;
  Status status;
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const SimdTargetState& State() {
  static const SimdTargetState* const state = [] {
    auto* s = new SimdTargetState();
    s->usable = hwy::SupportedTargets() & HWY_TARGETS;
    const char* env = std::getenv(kSimdTargetEnv);
    if (env != nullptr && env[0] != '\0') {
      StatusOr<int64_t> target = ParseSimdTarget(env, s->usable);
      if (target.ok()) {
        s->requested = target.value();
        // Every better target has a lower bit; the baseline stays enabled.
        hwy::DisableTargets(s->requested - 1);
      } else {
        s->status = Status(target.status().code(), std::string(kSimdTargetEnv) + ": " + target.status().message());
      }
    }
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    return s;
  }();
  return *state;
}

}  // namespace

const Status& InitSimdTarget() { return State().status; }

int64_t BuiltSimdTargets() { return HWY_TARGETS; }

int64_t UsableSimdTargets() { return State().usable; }

int64_t RequestedSimdTarget() { return State().requested; }

std::string SimdTargetNames(int64_t targets) {
  std::string names;
  // Lower bits are better targets in Highway's encoding.
  for (int bit = 0; bit < 63; ++bit) {
    const int64_t target = int64_t{1} << bit;
    if ((targets & target) == 0) continue;
    names += (names.empty() ? "" : " ") + std::string(hwy::TargetName(target));
  }
  return names;
}

StatusOr<int64_t> ParseSimdTarget(const std::string& name, int64_t usable) {
  const std::string wanted = Upper(name);
  for (int bit = 0; bit < 63; ++bit) {
    const int64_t target = int64_t{1} << bit;
    if (wanted != hwy::TargetName(target)) continue;
    if ((target & usable) != 0) return target;
    const char* why = (target & HWY_TARGETS) == 0 ? "is not compiled into this build" : "is not supported by this CPU";
    return Error(StatusCode::kInvalidArgument, "SIMD target '", name, "' ", why, "; this build runs here on: ",
                 SimdTargetNames(usable), " (built: ", SimdTargetNames(HWY_TARGETS), ")");
  }
  return Error(StatusCode::kInvalidArgument, "unknown SIMD target '", name, "'; this build runs here on: ",
               SimdTargetNames(usable), " (built: ", SimdTargetNames(HWY_TARGETS), ")");
}

}  // namespace tessera::ops
