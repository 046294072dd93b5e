// Tests of the SIMD target choice (ops/simd_target.h): names, refusals, and
// that TESSERA_SIMD_TARGET, when the test runs with it, really is the target
// the kernels dispatch to and the highest one the per-target loop visits.
// .ci/simd-targets runs the whole suite once per target with the variable
// set; a refused or ignored value fails here instead of silently testing the
// default target again.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include "ops/simd_target.h"
#include "runtime/machine_kernels.h"
#include "tests/testing/op_test_util.h"

namespace tessera {
namespace {

int64_t Best(int64_t targets) { return targets & -targets; }

std::string Requested() {
  const char* env = std::getenv(ops::kSimdTargetEnv);
  return env != nullptr ? env : "";
}

TEST(SimdTargetTest, ParsesEveryUsableTargetInAnyCase) {
  const int64_t usable = ops::UsableSimdTargets();
  ASSERT_NE(usable, 0);
  for (int64_t t = usable; t != 0; t &= t - 1) {
    const int64_t target = Best(t);
    std::string lower = hwy::TargetName(target);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    StatusOr<int64_t> parsed = ops::ParseSimdTarget(lower, usable);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed.value(), target) << lower;
  }
}

TEST(SimdTargetTest, RefusesUnknownNamesAndListsTheUsableOnes) {
  StatusOr<int64_t> parsed = ops::ParseSimdTarget("SSE9", ops::UsableSimdTargets());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "unknown SIMD target 'SSE9'; this build runs here on: " +
                                           ops::SimdTargetNames(ops::UsableSimdTargets()) +
                                           " (built: " + ops::SimdTargetNames(ops::BuiltSimdTargets()) + ")");
}

TEST(SimdTargetTest, RefusesATargetTheCpuLacks) {
  const int64_t best_built = Best(ops::BuiltSimdTargets());
  StatusOr<int64_t> parsed = ops::ParseSimdTarget(hwy::TargetName(best_built), /*usable=*/0);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("is not supported by this CPU"), std::string::npos)
      << parsed.status().message();
}

TEST(SimdTargetTest, RefusesATargetNotCompiledIn) {
  // A target of this architecture that the build leaves out (SSSE3 on x86,
  // which CMakeLists.txt disables; the scalar fallbacks on Arm).
  for (int bit = 0; bit < 63; ++bit) {
    const int64_t target = int64_t{1} << bit;
    if ((target & ops::BuiltSimdTargets()) != 0 || std::string(hwy::TargetName(target)) == "Unknown") continue;
    StatusOr<int64_t> parsed = ops::ParseSimdTarget(hwy::TargetName(target), ops::UsableSimdTargets());
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(parsed.status().message().find("is not compiled into this build"), std::string::npos)
        << parsed.status().message();
    return;
  }
  GTEST_SKIP() << "every target of this architecture is compiled in";
}

TEST(SimdTargetTest, KernelsDispatchToTheRequestedOrBestTarget) {
  const Status& status = ops::InitSimdTarget();
  ASSERT_TRUE(status.ok()) << status.ToString();
  const std::string requested = Requested();
  const int64_t expected = requested.empty() ? Best(ops::UsableSimdTargets()) : ops::RequestedSimdTarget();
  ASSERT_NE(expected, 0);
  EXPECT_EQ(std::string(hwy::TargetName(runtime::DispatchedTarget())), hwy::TargetName(expected))
      << ops::kSimdTargetEnv << "='" << requested << "'";
  std::printf("kernels dispatch to %s; usable here: %s; built: %s\n", hwy::TargetName(runtime::DispatchedTarget()),
              ops::SimdTargetNames(ops::UsableSimdTargets()).c_str(),
              ops::SimdTargetNames(ops::BuiltSimdTargets()).c_str());
}

TEST(SimdTargetTest, PerTargetLoopVisitsTheCapAndEveryTargetBelowIt) {
  std::string visited;
  testing::ForEachTarget([&](const char* name) { visited += (visited.empty() ? "" : " ") + std::string(name); });
  const int64_t requested = ops::RequestedSimdTarget();
  const int64_t expected = ops::UsableSimdTargets() & (requested != 0 ? ~(requested - 1) : ~int64_t{0});
  EXPECT_EQ(visited, ops::SimdTargetNames(expected));
  // The loop restores the choice it found.
  EXPECT_EQ(runtime::DispatchedTarget(), Best(expected));
}

}  // namespace
}  // namespace tessera
