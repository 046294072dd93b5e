// Shared by the model and ONNX fuzz targets: loads .tess bytes as an
// untrusted model under small limits and, when it loads, runs it once on
// small deterministic pseudo-random inputs (tests/fuzz/model_fuzz.cc says
// how). Refusals are fine; crashes, sanitizer reports and leaks are bugs.
#ifndef TESSERA_TESTS_FUZZ_FUZZ_RUN_MODEL_H_
#define TESSERA_TESTS_FUZZ_FUZZ_RUN_MODEL_H_

#include <cstddef>
#include <cstdint>

namespace tessera::fuzz {

void LoadAndRunModel(const uint8_t* data, size_t size);

}  // namespace tessera::fuzz

#endif  // TESSERA_TESTS_FUZZ_FUZZ_RUN_MODEL_H_
