// Embedding Tessera from C++ (tessera/tessera.hpp, linked with libtessera):
// load a model, list its inputs and outputs, run it once with every input
// filled with one value, and print the outputs.
//
//   embed_cpp MODEL.tess [VALUE]     (VALUE defaults to 0; dynamic dims = 1)
//
// Errors arrive as tessera::Error, thrown in this program's code from the
// C status (no exception crosses the library boundary).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.hpp"

namespace {

// "[batch, 32]": dynamic dims by name.
std::string DimsString(const tessera::ValueInfo& info) {
  std::string s = "[";
  for (size_t d = 0; d < info.dims.size(); ++d) {
    if (d > 0) s += ", ";
    s += info.dims[d] >= 0 ? std::to_string(info.dims[d]) : info.dim_names[d].empty() ? "?" : info.dim_names[d];
  }
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s MODEL.tess [VALUE]\n", argv[0]);
    return 2;
  }
  const float fill = argc == 3 ? std::strtof(argv[2], nullptr) : 0.0f;

  try {
    // A Model is immutable and may be shared by threads; each concurrent
    // caller makes its own Session.
    const tessera::Model model = tessera::Model::Load(argv[1]);
    const std::vector<tessera::ValueInfo> input_infos = model.Inputs();
    const std::vector<tessera::ValueInfo> output_infos = model.Outputs();

    // One tensor per input; dynamic dims are set to 1 here.
    std::vector<tessera::Value> values;
    for (const tessera::ValueInfo& info : input_infos) {
      std::printf("input  %s: %s %s\n", info.name.c_str(), TsrDTypeName(info.dtype), DimsString(info).c_str());
      std::vector<int64_t> dims = info.dims;
      for (int64_t& d : dims) d = d < 0 ? 1 : d;
      tessera::Value value = tessera::Value::Zeros(info.dtype, dims);  // zero-filled
      if (info.dtype == TSR_DTYPE_FLOAT32) std::fill_n(value.data_as<float>(), value.ElementCount(), fill);
      values.push_back(std::move(value));
    }
    std::vector<std::pair<std::string, const tessera::Value*>> inputs;
    for (size_t i = 0; i < values.size(); ++i) inputs.emplace_back(input_infos[i].name, &values[i]);

    std::vector<std::string> output_names;
    for (const tessera::ValueInfo& info : output_infos) {
      std::printf("output %s: %s %s\n", info.name.c_str(), TsrDTypeName(info.dtype), DimsString(info).c_str());
      output_names.push_back(info.name);
    }

    tessera::Session session(model, tessera::SessionOptions().Threads(2));
    const std::vector<tessera::Value> outputs = session.Run(inputs, output_names);

    for (size_t i = 0; i < outputs.size(); ++i) {
      const tessera::Value& out = outputs[i];
      std::printf("%s =", output_names[i].c_str());
      if (out.dtype() == TSR_DTYPE_FLOAT32) {
        const float* data = out.data_as<float>();
        const int64_t shown = std::min<int64_t>(out.ElementCount(), 10);
        for (int64_t e = 0; e < shown; ++e) std::printf(" %.5g", data[e]);
        if (shown < out.ElementCount()) std::printf(" ...");
      } else {
        std::printf(" (%lld %s values)", static_cast<long long>(out.ElementCount()), TsrDTypeName(out.dtype()));
      }
      std::printf("\n");
    }
  } catch (const tessera::Error& e) {
    std::fprintf(stderr, "embed_cpp: %s\n", e.what());
    return 1;
  }
  return 0;
}
