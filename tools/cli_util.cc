#include "tools/cli_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "tessera/half.hpp"

namespace tessera::cli {

void UsageError(const std::string& command, const std::string& message) {
  const std::string help = command.empty() ? "tessera --help" : "tessera " + command + " --help";
  throw CliError(kExitUsage, message + " (see '" + help + "')");
}

void Fail(const std::string& message) { throw CliError(kExitError, message); }

// ---- ArgReader --------------------------------------------------------------

bool ArgReader::Flag(const char* name, const char* alias) {
  if (Done()) return false;
  const std::string& arg = args_[pos_];
  for (const char* spelling : {name, alias}) {
    if (spelling == nullptr) continue;
    if (arg == spelling) {
      ++pos_;
      return true;
    }
    if (arg.rfind(std::string(spelling) + "=", 0) == 0) {
      UsageError(command_, std::string("option ") + spelling + " takes no value");
    }
  }
  return false;
}

bool ArgReader::Option(const char* name, std::string* value) {
  if (Done()) return false;
  const std::string& arg = args_[pos_];
  const std::string prefix = std::string(name) + "=";
  if (arg.rfind(prefix, 0) == 0) {
    *value = arg.substr(prefix.size());
    ++pos_;
  } else if (arg == name) {
    // "--output-dir --profile" is a forgotten value, not a directory name.
    if (pos_ + 1 >= args_.size() || args_[pos_ + 1].rfind("--", 0) == 0) {
      UsageError(command_, std::string("option ") + name + " needs a value");
    }
    *value = args_[pos_ + 1];
    pos_ += 2;
  } else {
    return false;
  }
  if (value->empty()) UsageError(command_, std::string("option ") + name + " needs a non-empty value");
  return true;
}

std::string ArgReader::Positional() {
  const std::string& arg = args_[pos_];
  if (arg.size() > 1 && arg[0] == '-') {
    UsageError(command_, "unknown option '" + Printable(arg) + "'");
  }
  ++pos_;
  return arg;
}

// ---- Numbers and dims -------------------------------------------------------

namespace {

// Decimal digits only (no sign, no spaces, no "0x"), checked for overflow.
bool ParseDecimal(const std::string& text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

}  // namespace

int64_t ParseCount(const std::string& command, const std::string& what, const std::string& text, int64_t max) {
  uint64_t value = 0;
  if (!ParseDecimal(text, static_cast<uint64_t>(max), &value)) {
    const bool negative = text.size() > 1 && text[0] == '-' && std::isdigit(static_cast<unsigned char>(text[1]));
    UsageError(command, what + ": '" + Printable(text) + "' is not " +
                            (negative ? "allowed (it must be >= 0)"
                                      : "a whole number in [0, " + std::to_string(max) + "]"));
  }
  return static_cast<int64_t>(value);
}

uint64_t ParseSeed(const std::string& command, const std::string& text) {
  uint64_t value = 0;
  if (!ParseDecimal(text, UINT64_MAX, &value)) {
    UsageError(command, "--seed: '" + Printable(text) + "' is not a whole number in [0, 2^64)");
  }
  return value;
}

void ParseDimOption(const std::string& command, const std::string& text, DimBindings* dims) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    UsageError(command, "--dim '" + Printable(text) + "': expected NAME=VALUE, e.g. --dim batch=4");
  }
  const std::string name = text.substr(0, eq);
  if (FindDim(*dims, name) != nullptr) UsageError(command, "--dim " + Printable(name) + " is given twice");
  // 2^40 elements in one dim is already far beyond memory; larger values
  // are typos, and keeping them small keeps size arithmetic exact.
  const int64_t value = ParseCount(command, "--dim " + Printable(name), text.substr(eq + 1), int64_t{1} << 40);
  dims->emplace_back(name, value);
}

const int64_t* FindDim(const DimBindings& dims, const std::string& name) {
  for (const auto& [n, v] : dims) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::vector<std::string> DynamicDimNames(const std::vector<ValueInfo>& inputs) {
  std::vector<std::string> names;
  for (const ValueInfo& info : inputs) {
    for (size_t d = 0; d < info.dims.size(); ++d) {
      if (info.dims[d] >= 0 || info.dim_names[d].empty()) continue;
      if (std::find(names.begin(), names.end(), info.dim_names[d]) == names.end()) {
        names.push_back(info.dim_names[d]);
      }
    }
  }
  return names;
}

void CheckDimNames(const std::string& command, const DimBindings& dims, const std::vector<std::string>& known) {
  for (const auto& [name, value] : dims) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    UsageError(command, "--dim " + Printable(name) + ": the model has no dynamic dim named '" + Printable(name) +
                            "' (" + (known.empty() ? std::string("it has none") : "its dynamic dims: " + list) +
                            ")");
  }
}

namespace {

// .onnx files are converted in memory; everything else is read as .tess.
bool IsOnnxPath(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

}  // namespace

Model LoadModel(const std::string& path) {
  try {
    if (IsOnnxPath(path)) return Model::LoadOnnx(path);
    return Model::Load(path);
  } catch (const Error& e) {
    // Runtime messages usually name the file already; add it if not.
    const std::string message = e.what();
    if (message.find(path) != std::string::npos) Fail(message);
    Fail(path + ": " + message);
  }
}

Model LoadModel(const std::string& path, const std::vector<std::string>& plugins, bool optimize) {
  if (plugins.empty() && optimize) return LoadModel(path);
  ModelOptions options;
  if (!optimize) options.Optimize(false);
  for (const std::string& plugin : plugins) options.AddPlugin(plugin);
  try {
    if (IsOnnxPath(path)) return Model::LoadOnnx(path, options);
    return Model::Load(path, options);
  } catch (const Error& e) {
    // Plugin errors start "plugin '<file>'" and are not about the model.
    const std::string message = e.what();
    if (message.find(path) != std::string::npos || message.rfind("plugin '", 0) == 0) Fail(message);
    Fail(path + ": " + message);
  }
}

bool ParsePluginOption(ArgReader& reader, std::vector<std::string>* plugins) {
  std::string value;
  if (!reader.Option("--plugin", &value)) return false;
  plugins->push_back(value);
  return true;
}

// ---- Formatting -------------------------------------------------------------

std::string DTypeName(int32_t dtype) { return TsrDTypeName(dtype); }

std::string FormatDims(const ValueInfo& info) {
  std::string s = "[";
  for (size_t d = 0; d < info.dims.size(); ++d) {
    if (d > 0) s += ", ";
    if (info.dims[d] >= 0) {
      s += std::to_string(info.dims[d]);
    } else {
      s += info.dim_names[d].empty() ? "?" : Printable(info.dim_names[d]);
    }
  }
  return s + "]";
}

std::string FormatShape(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d > 0) s += ", ";
    s += std::to_string(dims[d]);
  }
  return s + "]";
}

std::string HumanBytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%.0f B", bytes);
  } else {
    // Three significant digits: 1.25 MiB, 26.5 KiB, 123 MiB.
    std::snprintf(buf, sizeof(buf), bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes,
                  kUnits[unit]);
  }
  return buf;
}

std::string WithThousands(int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string FormatNumber(double value, int significant) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.*g", significant, value);
  return buf;
}

std::string Printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);  // UTF-8 passes through
    }
  }
  return out;
}

std::string OpName(const std::string& domain, const std::string& op_type) {
  return domain.empty() ? Printable(op_type) : Printable(domain) + "::" + Printable(op_type);
}

Table::Table(std::vector<std::string> header, std::vector<bool> right_aligned)
    : right_(std::move(right_aligned)), has_header_(!header.empty()) {
  rows_.push_back(std::move(header));
}

void Table::AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

std::string Table::ToString() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (size_t r = has_header_ ? 0 : 1; r < rows_.size(); ++r) {
    std::string line = " ";
    for (size_t c = 0; c < rows_[r].size(); ++c) {
      const std::string& cell = rows_[r][c];
      const std::string pad(widths[c] - cell.size(), ' ');
      const bool right = c < right_.size() && right_[c];
      line += " ";
      line += right ? pad + cell : cell + pad;
      line += " ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

// ---- Element conversion -----------------------------------------------------

double ElementAsDouble(int32_t dtype, const void* data, int64_t i) {
  auto load = [&](auto zero) {
    decltype(zero) v;
    std::memcpy(&v, static_cast<const char*>(data) + i * sizeof(v), sizeof(v));
    return v;
  };
  switch (dtype) {
    case TSR_DTYPE_FLOAT32: return load(float{});
    case TSR_DTYPE_FLOAT16: return HalfToFloat(load(uint16_t{}));
    case TSR_DTYPE_BFLOAT16: return BFloat16ToFloat(load(uint16_t{}));
    case TSR_DTYPE_INT8: return load(int8_t{});
    case TSR_DTYPE_UINT8: return load(uint8_t{});
    case TSR_DTYPE_INT32: return load(int32_t{});
    case TSR_DTYPE_INT64: return static_cast<double>(load(int64_t{}));
    case TSR_DTYPE_BOOL: return load(uint8_t{}) != 0 ? 1.0 : 0.0;
    default: return NAN;
  }
}

}  // namespace tessera::cli
