// Element types. The numeric values equal schemas/tessera.fbs's DType and the
// C API's TSR_DTYPE_* constants, so a value crosses every boundary unchanged.
#ifndef TESSERA_RUNTIME_CORE_DTYPE_H_
#define TESSERA_RUNTIME_CORE_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

enum class DType : int32_t {
  kUnknown = 0,
  kF32 = 1,
  kF16 = 2,   // reserved: storable, no kernels yet
  kBF16 = 3,  // reserved: storable, no kernels yet
  kI8 = 4,
  kU8 = 5,
  kI32 = 6,
  kI64 = 7,
  kBool = 8,  // one byte per element, 0 or 1
};

inline constexpr int32_t kMaxDTypeValue = 8;

// Bytes per element; 0 for kUnknown and values outside the enum.
size_t DTypeSize(DType dtype);

// Short lowercase names as the CLI prints them: "f32", "i64", "bool".
const char* DTypeName(DType dtype);

// NumPy descriptor ("<f4", "<i8", "|b1") and back; kUnknown when not mapped.
const char* DTypeNumpyDescr(DType dtype);
DType DTypeFromNumpyDescr(const std::string& descr);

inline bool IsValidDType(int32_t value) { return value > 0 && value <= kMaxDTypeValue; }

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::kI8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kU8; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kI64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };

}  // namespace tessera

#endif  // TESSERA_RUNTIME_CORE_DTYPE_H_
