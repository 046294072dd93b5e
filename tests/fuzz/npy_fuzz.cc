// Fuzz target: bytes -> tools/npy.h's reader. A file that reads must encode
// again (EncodeNpy) and read back to the same dtype, dims and bytes; any
// other file must give an error message. Crashes, sanitizer reports and
// leaks are bugs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tools/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::tools::NpyArray array;
  std::string error;
  if (!tessera::tools::ReadNpyFromMemory(data, size, "fuzz.npy", &array, &error)) {
    if (error.empty()) std::abort();  // a refusal must say why
    return 0;
  }
  std::string encoded;
  if (!tessera::tools::EncodeNpy(array, &encoded, &error)) {
    // Every array the reader accepts has a .npy form.
    std::abort();
  }
  tessera::tools::NpyArray again;
  if (!tessera::tools::ReadNpyFromMemory(encoded.data(), encoded.size(), "again.npy", &again, &error) ||
      again.dtype != array.dtype || again.dims != array.dims || again.bytes != array.bytes) {
    std::abort();
  }
  return 0;
}
