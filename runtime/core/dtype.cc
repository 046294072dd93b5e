#include "runtime/core/dtype.h"

namespace tessera {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kI8: return 1;
    case DType::kU8: return 1;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kBool: return 1;
    case DType::kUnknown: return 0;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kI8: return "i8";
    case DType::kU8: return "u8";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kBool: return "bool";
    case DType::kUnknown: return "unknown";
  }
  return "invalid";
}

const char* DTypeNumpyDescr(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "<f4";
    case DType::kF16: return "<f2";
    case DType::kI8: return "|i1";
    case DType::kU8: return "|u1";
    case DType::kI32: return "<i4";
    case DType::kI64: return "<i8";
    case DType::kBool: return "|b1";
    default: return nullptr;  // NumPy has no bf16
  }
}

DType DTypeFromNumpyDescr(const std::string& descr) {
  for (int32_t v = 1; v <= kMaxDTypeValue; ++v) {
    const char* d = DTypeNumpyDescr(static_cast<DType>(v));
    if (d == nullptr) continue;
    // NumPy writes '<' or '|' for our little-endian types; '=' means native,
    // which is little-endian on every machine Tessera runs on.
    if (descr == d || (descr.size() == 3 && descr[0] == '=' && descr.substr(1) == d + 1)) {
      return static_cast<DType>(v);
    }
  }
  return DType::kUnknown;
}

}  // namespace tessera
