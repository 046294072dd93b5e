// Tessera's 16-bit float formats, for filling and reading tensors of dtype
// TSR_DTYPE_FLOAT16 and TSR_DTYPE_BFLOAT16 (stored as uint16_t):
//
//   std::vector<uint16_t> bits(n);
//   for (size_t i = 0; i < n; ++i) bits[i] = tessera::FloatToHalf(x[i]);
//
// float16 is IEEE binary16 (1 sign, 5 exponent, 10 mantissa bits); bfloat16
// is the upper half of a float32. Widening is exact. Narrowing rounds to
// nearest, ties to even; a float16 overflows to infinity from 65520 up
// (65504 is the largest finite half), and every NaN becomes a quiet NaN.
// The engine's Cast op and the CLI use these same functions.
#ifndef TESSERA_HALF_HPP_
#define TESSERA_HALF_HPP_

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tessera {

namespace detail {
inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
}  // namespace detail

inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in f32
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) return detail::BitsFloat(sign | 0x7F800000u | (mantissa << 13));  // inf, NaN
  return detail::BitsFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline uint16_t FloatToHalf(float f) {
  const uint32_t x = detail::FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t magnitude = x & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return sign | 0x7E00u;  // NaN: the quiet NaN
  // 65520 and above round to infinity (65504 is the largest half).
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;
  if (magnitude < 0x38800000u) {
    // Below 2^-14: a subnormal half, round(|f| * 2^24) to nearest even; the
    // scaling by a power of two is exact, and 1024 is the smallest normal.
    const float scaled = detail::BitsFloat(magnitude) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled)));
  }
  uint32_t h = (((magnitude >> 23) - 112) << 10) | ((magnitude >> 13) & 0x3FFu);
  const uint32_t rest = magnitude & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;  // a carry moves into the exponent
  return static_cast<uint16_t>(sign | h);
}

inline float BFloat16ToFloat(uint16_t b) { return detail::BitsFloat(static_cast<uint32_t>(b) << 16); }

inline uint16_t FloatToBFloat16(float f) {
  const uint32_t x = detail::FloatBits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace tessera

#endif  // TESSERA_HALF_HPP_
