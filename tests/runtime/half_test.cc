// tessera/half.hpp against references built from the formats' definitions:
// every float16 bit pattern decodes to sign * mantissa * 2^exponent, and
// narrowing picks the nearest representable value (ties to the even
// pattern), found here by search over the decoded table in double.
#include "tessera/half.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// The value of a binary16 pattern from its definition, in double.
double HalfValue(uint16_t h) {
  const int sign = (h >> 15) != 0 ? -1 : 1;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  if (exponent == 31) return mantissa == 0 ? sign * std::numeric_limits<double>::infinity() : std::nan("");
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// The nearest binary16 to x (finite x), ties to the even pattern; beyond
// the largest half by at least half an ulp (65520), infinity.
uint16_t NearestHalf(double x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  if (a >= 65520.0) return sign | 0x7C00;
  // Non-negative finite halves are monotonic in their bit pattern.
  uint16_t best = 0;
  double best_error = std::numeric_limits<double>::infinity();
  for (uint16_t h = 0; h < 0x7C00; ++h) {
    const double error = std::fabs(HalfValue(h) - a);
    if (error < best_error || (error == best_error && (h & 1) == 0)) {
      best = h;
      best_error = error;
    }
  }
  return sign | best;
}

TEST(HalfTest, EveryFloat16PatternWidensToItsDefinedValue) {
  for (uint32_t i = 0; i <= 0xFFFF; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = tessera::HalfToFloat(h);
    const double expected = HalfValue(h);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << i;
    } else {
      EXPECT_EQ(static_cast<double>(f), expected) << std::hex << i;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;  // -0 stays -0
    }
  }
}

TEST(HalfTest, EveryFiniteFloat16RoundTripsAndNaNsStayQuietNaNs) {
  for (uint32_t i = 0; i <= 0xFFFF; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const uint16_t back = tessera::FloatToHalf(tessera::HalfToFloat(h));
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) {
      EXPECT_EQ(back & 0x7E00, 0x7E00) << std::hex << i;  // a quiet NaN
      EXPECT_EQ(back & 0x8000, h & 0x8000) << std::hex << i;
    } else {
      EXPECT_EQ(back, h) << std::hex << i;  // finite values and infinities
    }
  }
}

TEST(HalfTest, NarrowingRoundsToNearestEvenAtBoundaries) {
  // Midpoints between neighbours (exact in float), just above and below them,
  // the subnormal range, the overflow threshold and the extremes.
  std::vector<float> cases = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e30f,
                              std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), std::ldexp(1.5f, -25),
                              std::ldexp(1.0f, -26), std::ldexp(1.0f, -14), std::ldexp(1023.5f, -24),
                              std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max()};
  for (uint16_t h = 0; h < 0x7BFF; h = static_cast<uint16_t>(h + 97)) {
    const float mid = static_cast<float>((HalfValue(h) + HalfValue(static_cast<uint16_t>(h + 1))) / 2);
    cases.push_back(mid);
    cases.push_back(std::nextafter(mid, 0.0f));
    cases.push_back(std::nextafter(mid, 1e9f));
    cases.push_back(-mid);
  }
  for (float f : cases) {
    EXPECT_EQ(tessera::FloatToHalf(f), NearestHalf(f)) << f;
  }
  EXPECT_EQ(tessera::FloatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(tessera::FloatToHalf(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(tessera::FloatToHalf(std::nanf("")) & 0x7E00, 0x7E00);
}

TEST(HalfTest, NarrowingRandomFloatsMatchesTheNearestHalf) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> exponent(-27, 17);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  for (int i = 0; i < 300; ++i) {
    const float f = std::ldexp(mantissa(rng), exponent(rng)) * (i % 2 == 0 ? 1.0f : -1.0f);
    EXPECT_EQ(tessera::FloatToHalf(f), NearestHalf(f)) << f;
  }
}

TEST(HalfTest, BFloat16IsTheUpperHalfRoundedToNearestEven) {
  for (uint32_t i = 0; i <= 0xFFFF; ++i) {
    const uint16_t b = static_cast<uint16_t>(i);
    const float f = tessera::BFloat16ToFloat(b);
    EXPECT_EQ(Bits(f), i << 16) << std::hex << i;
    if (!std::isnan(f)) {
      EXPECT_EQ(tessera::FloatToBFloat16(f), b) << std::hex << i;
    }
  }
  // Below, at and above the midpoint between 1 and its bfloat16 successor
  // (1 + 2^-7), and the tie from an odd pattern, which rounds up to even.
  EXPECT_EQ(tessera::FloatToBFloat16(1.0f + std::ldexp(1.0f, -8) - std::ldexp(1.0f, -20)), 0x3F80);
  EXPECT_EQ(tessera::FloatToBFloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);  // tie: 0x3F80 is even
  EXPECT_EQ(tessera::FloatToBFloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(tessera::FloatToBFloat16(1.0f + std::ldexp(3.0f, -8)), 0x3F82);  // tie from 0x3F81: up to even
  EXPECT_EQ(tessera::FloatToBFloat16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to infinity
  const uint16_t nan = tessera::FloatToBFloat16(std::nanf(""));
  EXPECT_TRUE(std::isnan(tessera::BFloat16ToFloat(nan)));
  EXPECT_NE(nan & 0x40, 0);  // quiet
}

}  // namespace
