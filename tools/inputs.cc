// Model inputs for the commands that run a model (run, profile, bench):
// the shared options (--input, --random-inputs, --seed, --dim), reading
// and validating .npy files, and seeded random inputs.
#include "tools/inputs.h"

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <map>

#include "tessera/half.hpp"
#include "tools/npy.h"

namespace tessera::cli {

bool ParseInputOption(ArgReader& reader, InputOptions* options) {
  const std::string& command = reader.command();
  std::string value;
  if (reader.Option("--input", &value)) {
    const size_t eq = value.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
      UsageError(command, "--input '" + Printable(value) + "': expected NAME=FILE.npy");
    }
    const std::string name = value.substr(0, eq);
    for (const auto& [n, path] : options->input_files) {
      if (n == name) UsageError(command, "--input " + Printable(name) + " is given twice");
    }
    options->input_files.emplace_back(name, value.substr(eq + 1));
  } else if (reader.Flag("--random-inputs")) {
    options->random_inputs = true;
  } else if (reader.Option("--seed", &value)) {
    options->seed = ParseSeed(command, value);
    options->seed_given = true;
  } else if (reader.Option("--dim", &value)) {
    ParseDimOption(command, value, &options->dims);
  } else {
    return false;
  }
  return true;
}

void CheckInputOptions(const std::string& command, const InputOptions& options) {
  if (options.seed_given && !options.random_inputs) UsageError(command, "--seed needs --random-inputs");
}

namespace {

// splitmix64: tiny, and unlike <random>'s distributions it gives the same
// numbers with every standard library, so a seed names the same inputs
// everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1): the top 24 bits are exact in a float.
  float Float() { return static_cast<float>(Next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }

 private:
  uint64_t state_;
};

void FillRandom(Value* value, Random* random) {
  const int64_t n = value->ElementCount();
  void* data = value->data();
  for (int64_t i = 0; i < n; ++i) {
    switch (value->dtype()) {
      case TSR_DTYPE_FLOAT32: static_cast<float*>(data)[i] = random->Float(); break;
      case TSR_DTYPE_FLOAT16: static_cast<uint16_t*>(data)[i] = FloatToHalf(random->Float()); break;
      case TSR_DTYPE_BFLOAT16: static_cast<uint16_t*>(data)[i] = FloatToBFloat16(random->Float()); break;
      // Integers stay small and non-negative: they are often indices.
      case TSR_DTYPE_INT8: static_cast<int8_t*>(data)[i] = static_cast<int8_t>(random->Next() % 10); break;
      case TSR_DTYPE_UINT8: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(random->Next() % 10); break;
      case TSR_DTYPE_INT32: static_cast<int32_t*>(data)[i] = static_cast<int32_t>(random->Next() % 10); break;
      case TSR_DTYPE_INT64: static_cast<int64_t*>(data)[i] = static_cast<int64_t>(random->Next() % 10); break;
      case TSR_DTYPE_BOOL: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(random->Next() & 1); break;
      default: Fail("cannot generate random values of dtype " + DTypeName(value->dtype()));
    }
  }
}

// Where each dynamic dim's size came from, for messages about conflicts.
struct DimSource {
  int64_t value;
  std::string origin;  // "--dim batch=4 was given" or "input 'x' has batch=4"
};

// Checks one .npy against the declared input; returns "" or what is wrong.
// Binds the dynamic dims it sees into `bound`.
std::string CheckInputFile(const ValueInfo& info, const tools::NpyArray& array,
                           std::map<std::string, DimSource>* bound) {
  const bool bf16_from_f32 = info.dtype == TSR_DTYPE_BFLOAT16 && array.dtype == TSR_DTYPE_FLOAT32;
  if (array.dtype != info.dtype && !bf16_from_f32) {
    return "dtype is " + DTypeName(array.dtype) + ", expected " + DTypeName(info.dtype);
  }
  if (array.dims.size() != info.dims.size()) {
    return "rank is " + std::to_string(array.dims.size()) + ", expected " + std::to_string(info.dims.size());
  }
  // Check every static dim before binding any dynamic one, so a wrong file
  // leaves no binding behind.
  for (size_t d = 0; d < info.dims.size(); ++d) {
    if (info.dims[d] >= 0 && array.dims[d] != info.dims[d]) {
      return "dim " + std::to_string(d) + " is " + std::to_string(array.dims[d]) + ", expected " +
             std::to_string(info.dims[d]);
    }
  }
  for (size_t d = 0; d < info.dims.size(); ++d) {
    const std::string& name = info.dim_names[d];
    if (info.dims[d] >= 0 || name.empty()) continue;  // unnamed dynamic dims take any size
    const int64_t got = array.dims[d];
    const auto it = bound->find(name);
    if (it == bound->end()) {
      bound->emplace(name, DimSource{got, "input '" + Printable(info.name) + "' has " + Printable(name) + "=" +
                                              std::to_string(got)});
    } else if (it->second.value != got) {
      return "dim " + std::to_string(d) + " (" + Printable(name) + ") is " + std::to_string(got) + ", but " +
             it->second.origin;
    }
  }
  return "";
}

Value ValueFromNpy(const ValueInfo& info, const tools::NpyArray& array) {
  Value value = Value::Zeros(info.dtype, array.dims);
  if (info.dtype == TSR_DTYPE_BFLOAT16 && array.dtype == TSR_DTYPE_FLOAT32) {
    uint16_t* out = static_cast<uint16_t*>(value.data());
    for (int64_t i = 0; i < array.ElementCount(); ++i) {
      float f;
      std::memcpy(&f, array.bytes.data() + i * sizeof(float), sizeof(float));
      out[i] = FloatToBFloat16(f);
    }
  } else if (!array.bytes.empty()) {
    if (value.ByteSize() != array.bytes.size()) Fail("input '" + Printable(info.name) + "': size mismatch");
    std::memcpy(value.data(), array.bytes.data(), array.bytes.size());
  }
  return value;
}

}  // namespace

std::string QuotedList(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "'" : ", '") + Printable(n) + "'";
  return s;
}

// Reads, validates or generates every model input, in the model's order.
// Dynamic dims that random inputs had to default go to *defaulted.
std::vector<InputPlan> PrepareInputs(const std::string& command, const std::vector<ValueInfo>& inputs,
                                     const InputOptions& options, std::vector<std::string>* defaulted) {
  std::vector<std::string> input_names;
  for (const ValueInfo& info : inputs) input_names.push_back(info.name);
  for (const auto& [name, path] : options.input_files) {
    if (std::find(input_names.begin(), input_names.end(), name) == input_names.end()) {
      UsageError(command, "--input " + Printable(name) + ": the model has no input named '" + Printable(name) +
                              "' (its inputs: " + QuotedList(input_names) + ")");
    }
  }
  auto file_for = [&options](const std::string& name) -> const std::string* {
    for (const auto& [n, path] : options.input_files) {
      if (n == name) return &path;
    }
    return nullptr;
  };
  if (!options.random_inputs) {
    std::vector<std::string> missing;
    for (const ValueInfo& info : inputs) {
      if (file_for(info.name) == nullptr) missing.push_back(info.name);
    }
    if (missing.size() == 1) {
      const ValueInfo& info = *std::find_if(inputs.begin(), inputs.end(),
                                            [&](const ValueInfo& v) { return v.name == missing[0]; });
      UsageError(command, "missing input '" + Printable(info.name) + "' (" + DTypeName(info.dtype) + " " +
                              FormatDims(info) + "): pass --input " + Printable(info.name) +
                              "=FILE.npy or --random-inputs");
    }
    if (!missing.empty()) {
      UsageError(command, "missing inputs " + QuotedList(missing) +
                              ": pass --input NAME=FILE.npy for each, or --random-inputs");
    }
  }

  std::map<std::string, DimSource> bound;
  for (const auto& [name, value] : options.dims) {
    bound.emplace(name, DimSource{value, "--dim " + Printable(name) + "=" + std::to_string(value) + " was given"});
  }

  // Files first: their dims also size the random inputs.
  std::vector<InputPlan> plans(inputs.size());
  std::vector<std::string> errors;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& info = inputs[i];
    const std::string* path = file_for(info.name);
    if (path == nullptr) continue;
    tools::NpyArray array;
    std::string error;
    if (!tools::ReadNpy(*path, &array, &error)) {
      errors.push_back("input '" + Printable(info.name) + "': " + Printable(error));
      continue;
    }
    const std::string mismatch = CheckInputFile(info, array, &bound);
    if (!mismatch.empty()) {
      errors.push_back("input '" + Printable(info.name) + "' from " + Printable(*path) + ": expected " +
                       DTypeName(info.dtype) + " " + FormatDims(info) + ", got " + DTypeName(array.dtype) + " " +
                       FormatShape(array.dims) + ": " + mismatch);
      continue;
    }
    plans[i] = InputPlan{info.name, ValueFromNpy(info, array), "from " + Printable(*path)};
  }
  if (!errors.empty()) throw CliError(kExitError, errors);

  Random random(options.seed);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& info = inputs[i];
    if (plans[i].value.valid()) continue;
    std::vector<int64_t> dims;
    int64_t elements = 1;
    for (size_t d = 0; d < info.dims.size(); ++d) {
      int64_t size = info.dims[d];
      if (size < 0) {
        const auto it = bound.find(info.dim_names[d]);
        if (it != bound.end() && !info.dim_names[d].empty()) {
          size = it->second.value;
        } else {
          size = kDefaultDim;
          const std::string name = info.dim_names[d].empty() ? "?" : info.dim_names[d];
          if (std::find(defaulted->begin(), defaulted->end(), name) == defaulted->end()) defaulted->push_back(name);
        }
      }
      // At most 2^40 elements: far more than any machine holds, and small
      // enough that checking at each step keeps the product exact.
      if (size != 0 && elements > (int64_t{1} << 40) / size) {
        Fail("input '" + Printable(info.name) + "': random shape " + FormatDims(info) + " is too large");
      }
      elements *= size;
      dims.push_back(size);
    }
    Value value = Value::Zeros(info.dtype, dims);
    FillRandom(&value, &random);
    plans[i] = InputPlan{info.name, std::move(value), "random, seed " + std::to_string(options.seed)};
  }
  return plans;
}

std::vector<InputPlan> LoadInputs(const std::string& command, const Model& model, const InputOptions& options,
                                  std::vector<std::string>* defaulted) {
  const std::vector<ValueInfo> inputs = model.Inputs();
  CheckDimNames(command, options.dims, DynamicDimNames(inputs));
  return PrepareInputs(command, inputs, options, defaulted);
}

void PrintInputs(const std::vector<InputPlan>& plans, const std::vector<std::string>& defaulted) {
  std::printf("\nInputs:\n");
  Table input_table({});
  for (const InputPlan& p : plans) {
    input_table.AddRow({Printable(p.name), DTypeName(p.value.dtype()), FormatShape(p.value.dims()), p.source});
  }
  std::fputs(plans.empty() ? "  (none)\n" : input_table.ToString().c_str(), stdout);
  for (const std::string& name : defaulted) {
    std::printf("  (dynamic dim %s defaulted to %lld; set it with --dim %s=N)\n", Printable(name).c_str(),
                static_cast<long long>(kDefaultDim), Printable(name).c_str());
  }
}

}  // namespace tessera::cli
