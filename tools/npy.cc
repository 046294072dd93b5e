#include "tools/npy.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string_view>
#include <system_error>

#include "tessera/tessera.h"

namespace tessera::tools {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// Magic, major and minor version bytes: the part every version shares.
constexpr size_t kVersionedMagicSize = kMagicSize + 2;
// NumPy aligns the start of the data to 64 bytes so that it can be
// memory-mapped and loaded with aligned SIMD loads; readers do not rely on it.
constexpr size_t kDataAlignment = 64;
// NumPy 1.x allows 32 dims and 2.x 64; anything deeper is hostile. The bound
// also keeps an encoded header far below the 65535 bytes of a 1.0 header.
constexpr size_t kMaxRank = 64;
// NumPy >= 1.23 leaves room after the shape for the first dim to grow to 21
// digits, so a file can be appended to without rewriting its data. Writing
// the same header makes our files byte-identical to NumPy's.
constexpr size_t kGrowthAxisMaxDigits = 21;

struct DTypeEntry {
  char kind;  // NumPy kind character: 'f', 'i', 'u' or 'b'
  size_t size;
  int32_t dtype;
  const char* descr;  // the form NumPy writes on a little-endian machine
};

constexpr DTypeEntry kDTypes[] = {
    {'f', 4, TSR_DTYPE_FLOAT32, "<f4"}, {'f', 2, TSR_DTYPE_FLOAT16, "<f2"},
    {'i', 4, TSR_DTYPE_INT32, "<i4"},   {'i', 8, TSR_DTYPE_INT64, "<i8"},
    {'i', 1, TSR_DTYPE_INT8, "|i1"},    {'u', 1, TSR_DTYPE_UINT8, "|u1"},
    {'b', 1, TSR_DTYPE_BOOL, "|b1"},
};

constexpr char kSupportedDescrs[] = "<f4, <f2, <i4, <i8, |i1, |u1, |b1";

// A short, printable, single-line rendering of untrusted text for messages.
std::string Quote(std::string_view text, size_t max_chars = 40) {
  std::string out = "'";
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == max_chars) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "'";
}

std::string ShapeString(const std::vector<int64_t>& dims) {
  // Python's tuple repr, as the user sees it in NumPy: (), (3,), (2, 3).
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims[i]);
  }
  if (dims.size() == 1) s += ",";
  return s + ")";
}

// Multiplies non-negative values, failing on int64 overflow.
bool CheckedMul(int64_t a, int64_t b, int64_t* out) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

// Element count of `dims` (all >= 0), or false if it overflows int64. A
// zero dim makes the count 0, but the other dims must still be sane.
bool ElementCountOf(const std::vector<int64_t>& dims, int64_t* count) {
  int64_t nonzero_product = 1;
  bool has_zero = false;
  for (int64_t d : dims) {
    if (d == 0) {
      has_zero = true;
    } else if (!CheckedMul(nonzero_product, d, &nonzero_product)) {
      return false;
    }
  }
  *count = has_zero ? 0 : nonzero_product;
  return true;
}

// The header dict, parsed. Only what Tessera needs is kept.
struct Header {
  int32_t dtype = 0;
  std::string descr;
  std::vector<int64_t> dims;
};

// Maps a descr string to a Tessera dtype, or explains why it cannot.
bool ParseDescr(const std::string& descr, int32_t* dtype, std::string* what) {
  std::string_view rest = descr;
  char order = '\0';
  if (!rest.empty() && std::strchr("<>|=", rest.front()) != nullptr) {
    order = rest.front();
    rest.remove_prefix(1);
  }
  if (!rest.empty() && (rest.front() == 'O' || rest.front() == 'V')) {
    *what = "dtype " + Quote(descr) + " (object or structured array) is not supported; only " +
            std::string(kSupportedDescrs) + " are";
    return false;
  }
  for (const DTypeEntry& entry : kDTypes) {
    if (rest.size() < 2 || rest.front() != entry.kind) continue;
    // The size must be exactly the entry's digits ("f4", not "f04" or "f4x").
    if (rest.substr(1) != std::to_string(entry.size)) continue;
    if (entry.size == 1) {
      // Byte order is meaningless for single bytes; NumPy writes '|'.
      *dtype = entry.dtype;
      return true;
    }
    if (order == '<') {
      *dtype = entry.dtype;
      return true;
    }
    if (order == '>') {
      *what = "big-endian dtype " + Quote(descr) + " is not supported; convert it with a.astype('" +
              entry.descr + "')";
    } else {
      *what = "dtype " + Quote(descr) + " does not say its byte order; expected '" + entry.descr + "'";
    }
    return false;
  }
  *what = "unsupported dtype " + Quote(descr) + "; Tessera reads " + kSupportedDescrs;
  return false;
}

// A strict parser for the header: a Python dict literal with string keys,
// as NumPy writes it, e.g. {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }. It accepts only what such a literal can contain and
// never evaluates anything.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  bool Parse(Header* header, std::string* what) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    SkipSpace();
    if (!Consume('{')) return Fail("header is not a dict (expected '{')", what);
    SkipSpace();
    while (!Consume('}')) {
      std::string key;
      if (!ParseString(&key, what)) return false;
      SkipSpace();
      if (!Consume(':')) return Fail("expected ':' after key " + Quote(key), what);
      SkipSpace();
      if (key == "descr") {
        if (seen_descr) return Fail("header repeats the key 'descr'", what);
        seen_descr = true;
        if (Peek() == '[') {
          return Fail("structured dtypes (a list 'descr') are not supported; only " +
                          std::string(kSupportedDescrs) + " are",
                      what);
        }
        if (!ParseString(&header->descr, what)) return false;
      } else if (key == "fortran_order") {
        if (seen_order) return Fail("header repeats the key 'fortran_order'", what);
        seen_order = true;
        bool fortran_order = false;
        if (!ParseBool(&fortran_order, what)) return false;
        if (fortran_order) {
          return Fail("fortran_order is True; only C-order arrays are supported "
                      "(save np.ascontiguousarray(a))",
                      what);
        }
      } else if (key == "shape") {
        if (seen_shape) return Fail("header repeats the key 'shape'", what);
        seen_shape = true;
        if (!ParseShape(&header->dims, what)) return false;
      } else {
        return Fail("unexpected key " + Quote(key) + " in the header", what);
      }
      SkipSpace();
      // Items are separated by commas; a trailing comma is allowed (NumPy
      // writes one).
      if (Consume(',')) {
        SkipSpace();
      } else if (Peek() != '}') {
        return Fail(Where("expected ',' or '}'"), what);
      }
    }
    SkipSpace();
    if (pos_ != text_.size()) return Fail(Where("unexpected text after the header dict"), what);
    if (!seen_descr) return Fail("header has no 'descr' key", what);
    if (!seen_order) return Fail("header has no 'fortran_order' key", what);
    if (!seen_shape) return Fail("header has no 'shape' key", what);
    return true;
  }

 private:
  static bool Fail(const std::string& message, std::string* what) {
    *what = message;
    return false;
  }
  // "<message> at header offset N: '...'".
  std::string Where(const std::string& message) const {
    if (pos_ >= text_.size()) return message + " at the end of the header";
    return message + " at header offset " + std::to_string(pos_) + ": " + Quote(text_.substr(pos_), 20);
  }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Consume(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  // A Python string literal in single or double quotes. Escapes are
  // accepted for the quote and the backslash only: no NumPy descr or key
  // needs more.
  bool ParseString(std::string* out, std::string* what) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return Fail(Where("expected a quoted string"), what);
    ++pos_;
    out->clear();
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == quote) return true;
      if (c == '\n') break;
      if (c == '\\') {
        if (pos_ >= text_.size()) break;
        c = text_[pos_++];
        if (c != '\\' && c != '\'' && c != '"') return Fail(Where("unsupported escape in a string"), what);
      }
      out->push_back(c);
    }
    return Fail("unterminated string in the header", what);
  }

  bool ParseBool(bool* out, std::string* what) {
    const std::string_view rest = text_.substr(pos_);
    if (rest.substr(0, 4) == "True") {
      pos_ += 4;
      *out = true;
      return true;
    }
    if (rest.substr(0, 5) == "False") {
      pos_ += 5;
      *out = false;
      return true;
    }
    return Fail(Where("'fortran_order' must be True or False"), what);
  }

  // A non-negative decimal integer that fits int64. Python 2 NumPy wrote
  // longs with an 'L' suffix, which is accepted.
  bool ParseDim(int64_t* out, std::string* what) {
    if (Peek() == '-') return Fail(Where("shape has a negative dim"), what);
    if (Peek() < '0' || Peek() > '9') return Fail(Where("expected a dim (a non-negative integer)"), what);
    int64_t value = 0;
    while (Peek() >= '0' && Peek() <= '9') {
      const int digit = text_[pos_] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) {
        return Fail(Where("shape has a dim that overflows int64"), what);
      }
      value = value * 10 + digit;
      ++pos_;
    }
    Consume('L');
    *out = value;
    return true;
  }

  // A tuple of dims: (), (3,), (2, 3) or (2, 3,).
  bool ParseShape(std::vector<int64_t>* dims, std::string* what) {
    if (!Consume('(')) {
      return Fail(Where("'shape' must be a tuple of integers"), what);
    }
    dims->clear();
    SkipSpace();
    while (!Consume(')')) {
      if (dims->size() == kMaxRank) {
        return Fail("shape has more than " + std::to_string(kMaxRank) + " dims", what);
      }
      int64_t dim = 0;
      if (!ParseDim(&dim, what)) return false;
      dims->push_back(dim);
      SkipSpace();
      if (Consume(',')) {
        SkipSpace();
      } else if (Peek() != ')') {
        return Fail(Where("expected ',' or ')' in the shape"), what);
      }
    }
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Reads the fixed-size prefix: magic, version and header length. `prefix`
// holds the first `prefix_size` bytes of a file of `file_size` bytes (at
// least min(file_size, 12)). On success *header_offset is where the header
// text starts; the header is known to end inside the file.
bool ParsePrefix(const uint8_t* prefix, size_t prefix_size, uint64_t file_size, size_t* header_offset,
                 size_t* header_size, std::string* what) {
  if (file_size == 0) {
    *what = "file is empty";
    return false;
  }
  const size_t magic_bytes = prefix_size < kMagicSize ? prefix_size : kMagicSize;
  if (std::memcmp(prefix, kMagic, magic_bytes) != 0) {
    *what = "not a .npy file (bad magic bytes; expected \\x93NUMPY)";
    return false;
  }
  if (prefix_size < kVersionedMagicSize) {
    *what = "file is truncated: " + std::to_string(file_size) + " bytes, shorter than the .npy header";
    return false;
  }
  const int major = prefix[6], minor = prefix[7];
  size_t length_bytes = 0;
  if (major == 1 && minor == 0) {
    length_bytes = 2;
  } else if ((major == 2 || major == 3) && minor == 0) {
    length_bytes = 4;  // 3.0 differs from 2.0 only in allowing UTF-8 text
  } else {
    *what = "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
            " (Tessera reads 1.0, 2.0 and 3.0)";
    return false;
  }
  const size_t fixed = kVersionedMagicSize + length_bytes;
  if (prefix_size < fixed) {
    *what = "file is truncated: " + std::to_string(file_size) + " bytes, shorter than the .npy header";
    return false;
  }
  uint64_t length = 0;
  for (size_t i = 0; i < length_bytes; ++i) length |= uint64_t{prefix[kVersionedMagicSize + i]} << (8 * i);
  if (length > file_size - fixed) {
    *what = "header length " + std::to_string(length) + " runs past the end of the file (" +
            std::to_string(file_size) + " bytes)";
    return false;
  }
  *header_offset = fixed;
  *header_size = static_cast<size_t>(length);
  return true;
}

// Parses the header text and checks that the data it describes is exactly
// `data_size` bytes. On success *data_bytes is that size.
bool ParseHeader(std::string_view text, uint64_t data_size, Header* header, uint64_t* data_bytes,
                 std::string* what) {
  if (!HeaderParser(text).Parse(header, what)) return false;
  if (!ParseDescr(header->descr, &header->dtype, what)) return false;
  int64_t count = 0, bytes = 0;
  if (!ElementCountOf(header->dims, &count) ||
      !CheckedMul(count, static_cast<int64_t>(NpyElementSize(header->dtype)), &bytes)) {
    *what = "shape " + ShapeString(header->dims) + " is too large (its byte size overflows int64)";
    return false;
  }
  const uint64_t needed = static_cast<uint64_t>(bytes);
  if (needed != data_size) {
    *what = std::string(needed > data_size ? "data is truncated" : "data is longer than the shape says") +
            ": shape " + ShapeString(header->dims) + " of " + header->descr + " needs " +
            std::to_string(needed) + " bytes, the file has " + std::to_string(data_size) +
            " after the header";
    return false;
  }
  *data_bytes = needed;
  return true;
}

// C++ `bool` and the runtime expect 0 or 1; any other byte would be UB.
bool CheckBoolBytes(const std::vector<uint8_t>& bytes, std::string* what) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] > 1) {
      *what = "bool element " + std::to_string(i) + " has byte value " + std::to_string(bytes[i]) +
              " (expected 0 or 1)";
      return false;
    }
  }
  return true;
}

bool Fail(const std::string& name, const std::string& what, std::string* error) {
  if (error != nullptr) *error = name + ": " + what;
  return false;
}

}  // namespace

int64_t NpyArray::ElementCount() const {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  return count;
}

size_t NpyElementSize(int32_t dtype) {
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.size;
  }
  return 0;
}

const char* NpyDescr(int32_t dtype) {
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.dtype == dtype) return entry.descr;
  }
  return "";
}

bool ReadNpyFromMemory(const void* data, size_t size, const std::string& name, NpyArray* out,
                       std::string* error) {
  if (data == nullptr || size == 0) return Fail(name, "file is empty", error);
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  std::string what;
  size_t header_offset = 0, header_size = 0;
  if (!ParsePrefix(bytes, size, size, &header_offset, &header_size, &what)) return Fail(name, what, error);
  const size_t data_offset = header_offset + header_size;
  Header header;
  uint64_t data_bytes = 0;
  const std::string_view text(reinterpret_cast<const char*>(bytes) + header_offset, header_size);
  if (!ParseHeader(text, size - data_offset, &header, &data_bytes, &what)) return Fail(name, what, error);

  NpyArray array;
  array.dtype = header.dtype;
  array.dims = std::move(header.dims);
  array.bytes.assign(bytes + data_offset, bytes + data_offset + data_bytes);
  if (array.dtype == TSR_DTYPE_BOOL && !CheckBoolBytes(array.bytes, &what)) return Fail(name, what, error);
  *out = std::move(array);
  return true;
}

bool ReadNpy(const std::string& path, NpyArray* out, std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return Fail(path, "cannot open: " + (ec ? ec.message() : std::string("No such file or directory")), error);
  }
  if (!fs::is_regular_file(status)) return Fail(path, "not a regular file", error);
  const uintmax_t file_size = fs::file_size(path, ec);
  if (ec) return Fail(path, "cannot read the file size: " + ec.message(), error);

  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(path, std::string("cannot open: ") + std::strerror(errno), error);
  // Reads exactly `n` bytes, which the checks above keep within the file.
  auto read = [&in](void* dst, size_t n) {
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    return static_cast<size_t>(in.gcount()) == n;
  };

  uint8_t prefix[kVersionedMagicSize + 4] = {};
  const size_t prefix_size = file_size < sizeof(prefix) ? static_cast<size_t>(file_size) : sizeof(prefix);
  if (!read(prefix, prefix_size)) return Fail(path, "read failed (was the file truncated while reading?)", error);
  std::string what;
  size_t header_offset = 0, header_size = 0;
  if (!ParsePrefix(prefix, prefix_size, file_size, &header_offset, &header_size, &what)) {
    return Fail(path, what, error);
  }
  // header_size is at most the file size (checked), so this allocation is
  // bounded by what is really on disk.
  std::string text(header_size, '\0');
  in.seekg(static_cast<std::streamoff>(header_offset));
  if (!read(text.data(), header_size)) return Fail(path, "read failed in the header", error);
  Header header;
  uint64_t data_bytes = 0;
  if (!ParseHeader(text, file_size - header_offset - header_size, &header, &data_bytes, &what)) {
    return Fail(path, what, error);
  }

  NpyArray array;
  array.dtype = header.dtype;
  array.dims = std::move(header.dims);
  array.bytes.resize(static_cast<size_t>(data_bytes));  // equals the bytes left in the file
  if (!read(array.bytes.data(), array.bytes.size())) return Fail(path, "read failed in the data", error);
  if (array.dtype == TSR_DTYPE_BOOL && !CheckBoolBytes(array.bytes, &what)) return Fail(path, what, error);
  *out = std::move(array);
  return true;
}

namespace {

// EncodeNpy with the reason for a failure in *what (no file name).
bool Encode(const NpyArray& array, std::string* out, std::string* what) {
  const size_t element_size = NpyElementSize(array.dtype);
  if (element_size == 0) {
    *what = array.dtype == TSR_DTYPE_BFLOAT16 ? std::string("cannot write bf16 (NumPy has no bfloat16)")
                                              : "cannot write dtype " + std::to_string(array.dtype);
    return false;
  }
  if (array.dims.size() > kMaxRank) {
    *what = "cannot write rank " + std::to_string(array.dims.size()) + " (at most " + std::to_string(kMaxRank) +
            ")";
    return false;
  }
  for (int64_t d : array.dims) {
    if (d < 0) {
      *what = "cannot write shape " + ShapeString(array.dims) + " (negative dim)";
      return false;
    }
  }
  int64_t count = 0, bytes = 0;
  if (!ElementCountOf(array.dims, &count) || !CheckedMul(count, static_cast<int64_t>(element_size), &bytes) ||
      static_cast<uint64_t>(bytes) != array.bytes.size()) {
    *what = "shape " + ShapeString(array.dims) + " of " + NpyDescr(array.dtype) + " does not match the " +
            std::to_string(array.bytes.size()) + " bytes of data";
    return false;
  }

  // Keys in sorted order, each followed by ", ", as NumPy writes them.
  std::string header = std::string("{'descr': '") + NpyDescr(array.dtype) +
                       "', 'fortran_order': False, 'shape': " + ShapeString(array.dims) + ", }";
  if (!array.dims.empty()) {
    const size_t digits = std::to_string(array.dims[0]).size();
    if (digits < kGrowthAxisMaxDigits) header.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  // Pad with spaces so that the data starts aligned; '\n' ends the header.
  const size_t prefix = kVersionedMagicSize + 2;
  const size_t unpadded = prefix + header.size() + 1;
  header.append((kDataAlignment - unpadded % kDataAlignment) % kDataAlignment, ' ');
  header += '\n';

  out->clear();
  out->reserve(prefix + header.size() + array.bytes.size());
  out->append(kMagic, kMagicSize);
  out->push_back('\x01');  // version 1.0: kMaxRank keeps the header < 64 KiB
  out->push_back('\x00');
  out->push_back(static_cast<char>(header.size() & 0xff));
  out->push_back(static_cast<char>(header.size() >> 8));
  out->append(header);
  out->append(reinterpret_cast<const char*>(array.bytes.data()), array.bytes.size());
  return true;
}

}  // namespace

bool EncodeNpy(const NpyArray& array, std::string* out, std::string* error) {
  std::string what;
  if (!Encode(array, out, &what)) return Fail(".npy encoder", what, error);
  return true;
}

bool WriteNpy(const std::string& path, const NpyArray& array, std::string* error) {
  std::string encoded, what;
  if (!Encode(array, &encoded, &what)) return Fail(path, what, error);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return Fail(path, std::string("cannot write: ") + std::strerror(errno), error);
  file.write(encoded.data(), static_cast<std::streamsize>(encoded.size()));
  file.close();
  if (!file) return Fail(path, std::string("write failed: ") + std::strerror(errno), error);
  return true;
}

}  // namespace tessera::tools
