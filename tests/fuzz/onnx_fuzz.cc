// Fuzz target: .onnx bytes -> the ONNX importer (protobuf parse, checks,
// conversion to .tess) -> when it converts, the converted model loaded and
// run as in model_fuzz (fuzz_run_model.cc). Refusals are fine; crashes,
// sanitizer reports and leaks are bugs.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph/onnx/onnx_importer.h"
#include "tests/fuzz/fuzz_run_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tessera::graph::OnnxImportOptions options;
  options.source_name = "fuzz.onnx";
  auto tess = tessera::graph::ConvertOnnxToTess(data, size, options);
  if (tess.ok()) tessera::fuzz::LoadAndRunModel(tess.value().data(), tess.value().size());
  return 0;
}
