// Fuzz target: .tess bytes -> verified, validated, planned model -> one run
// on small random inputs (fuzz_run_model.cc).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_run_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::fuzz::LoadAndRunModel(data, size);
  return 0;
}
