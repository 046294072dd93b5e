// Tests of the .npy reader and writer: round trips of every dtype, files
// written by NumPy (tests/tools/data, made by make_npy_fixtures.py), and
// hostile files, each of which must give one line naming the file and the
// problem, never a crash or a huge allocation.
#include "tools/npy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "tessera/tessera.h"

namespace tessera::tools {
namespace {

std::string DataPath(const std::string& name) { return std::string(TESSERA_NPY_TEST_DATA_DIR) + "/" + name; }

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

template <typename T>
NpyArray MakeArray(int32_t dtype, std::vector<int64_t> dims, const std::vector<T>& values) {
  NpyArray a;
  a.dtype = dtype;
  a.dims = std::move(dims);
  a.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  return a;
}

template <typename T>
std::vector<T> Values(const NpyArray& a) {
  std::vector<T> v(a.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), a.bytes.data(), a.bytes.size());
  return v;
}

// A version 1.0 file with the given header text and data, for malformed cases.
std::string FileWithHeader(const std::string& header, const std::string& data = "") {
  std::string file("\x93NUMPY\x01\x00", 8);
  file.push_back(static_cast<char>(header.size() & 0xff));
  file.push_back(static_cast<char>(header.size() >> 8));
  return file + header + data;
}

// Reads `bytes` from memory as "bad.npy"; expects failure and returns the
// error, which must be one line starting with the name.
std::string ErrorFor(const std::string& bytes) {
  NpyArray out;
  std::string error;
  EXPECT_FALSE(ReadNpyFromMemory(bytes.data(), bytes.size(), "bad.npy", &out, &error));
  EXPECT_EQ(error.rfind("bad.npy: ", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

std::string ErrorForFile(const std::string& path) {
  NpyArray out;
  std::string error;
  EXPECT_FALSE(ReadNpy(path, &out, &error)) << path;
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

std::string Encoded(const NpyArray& a) {
  std::string bytes, error;
  EXPECT_TRUE(EncodeNpy(a, &bytes, &error)) << error;
  return bytes;
}

// ---- Round trips ------------------------------------------------------------

void ExpectRoundTrip(const NpyArray& a) {
  const std::string bytes = Encoded(a);
  // Data starts 64-byte aligned, as NumPy writes it.
  const size_t header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  NpyArray b;
  std::string error;
  ASSERT_TRUE(ReadNpyFromMemory(bytes.data(), bytes.size(), "mem", &b, &error)) << error;
  EXPECT_EQ(b.dtype, a.dtype);
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.bytes, a.bytes);
}

TEST(NpyRoundTrip, EveryDType) {
  ExpectRoundTrip(MakeArray<float>(TSR_DTYPE_FLOAT32, {2, 3}, {1, -2, 3.5f, 0, -0.0f, 1e30f}));
  ExpectRoundTrip(MakeArray<uint16_t>(TSR_DTYPE_FLOAT16, {3}, {0x3c00, 0xc000, 0x7bff}));
  ExpectRoundTrip(MakeArray<int32_t>(TSR_DTYPE_INT32, {1, 1, 2}, {std::numeric_limits<int32_t>::min(), 7}));
  ExpectRoundTrip(MakeArray<int64_t>(TSR_DTYPE_INT64, {2}, {std::numeric_limits<int64_t>::max(), -1}));
  ExpectRoundTrip(MakeArray<int8_t>(TSR_DTYPE_INT8, {4}, {-128, -1, 0, 127}));
  ExpectRoundTrip(MakeArray<uint8_t>(TSR_DTYPE_UINT8, {2, 2}, {0, 1, 128, 255}));
  ExpectRoundTrip(MakeArray<uint8_t>(TSR_DTYPE_BOOL, {3}, {1, 0, 1}));
}

TEST(NpyRoundTrip, ZeroDimensionalAndZeroSize) {
  for (int32_t dtype : {TSR_DTYPE_FLOAT32, TSR_DTYPE_FLOAT16, TSR_DTYPE_INT32, TSR_DTYPE_INT64, TSR_DTYPE_INT8,
                        TSR_DTYPE_UINT8, TSR_DTYPE_BOOL}) {
    SCOPED_TRACE(NpyDescr(dtype));
    NpyArray scalar;
    scalar.dtype = dtype;
    scalar.bytes.assign(NpyElementSize(dtype), 1);
    ExpectRoundTrip(scalar);
    EXPECT_EQ(scalar.ElementCount(), 1);

    NpyArray empty;
    empty.dtype = dtype;
    empty.dims = {0, 5};
    ExpectRoundTrip(empty);
    empty.dims = {3, 0};
    ExpectRoundTrip(empty);
    EXPECT_EQ(empty.ElementCount(), 0);
  }
}

TEST(NpyRoundTrip, ThroughAFile) {
  const std::string path = ::testing::TempDir() + "/npy_test_roundtrip.npy";
  const NpyArray a = MakeArray<int64_t>(TSR_DTYPE_INT64, {3, 1}, {5, -6, 7});
  std::string error;
  ASSERT_TRUE(WriteNpy(path, a, &error)) << error;
  NpyArray b;
  ASSERT_TRUE(ReadNpy(path, &b, &error)) << error;
  EXPECT_EQ(b.dtype, a.dtype);
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.bytes, a.bytes);
}

TEST(NpyWrite, RefusesWhatNpyCannotHold) {
  std::string bytes, error;
  NpyArray bf16 = MakeArray<uint16_t>(TSR_DTYPE_BFLOAT16, {1}, {0});
  EXPECT_FALSE(EncodeNpy(bf16, &bytes, &error));
  EXPECT_NE(error.find("bf16"), std::string::npos) << error;

  NpyArray mismatch = MakeArray<float>(TSR_DTYPE_FLOAT32, {2, 2}, {1, 2, 3});
  EXPECT_FALSE(EncodeNpy(mismatch, &bytes, &error));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;

  NpyArray negative = MakeArray<float>(TSR_DTYPE_FLOAT32, {-1}, {});
  EXPECT_FALSE(EncodeNpy(negative, &bytes, &error));
  EXPECT_NE(error.find("negative"), std::string::npos) << error;

  const std::string path = ::testing::TempDir() + "/no_such_dir/x.npy";
  EXPECT_FALSE(WriteNpy(path, MakeArray<float>(TSR_DTYPE_FLOAT32, {1}, {1}), &error));
  EXPECT_EQ(error.rfind(path + ": cannot write", 0), 0u) << error;
}

// ---- Files written by NumPy -------------------------------------------------

NpyArray ReadFixture(const std::string& name) {
  NpyArray a;
  std::string error;
  EXPECT_TRUE(ReadNpy(DataPath(name), &a, &error)) << error;
  return a;
}

// Our writer must reproduce NumPy's bytes exactly (header, padding, data).
void ExpectSameBytesAsNumPy(const std::string& name) {
  const NpyArray a = ReadFixture(name);
  EXPECT_EQ(Encoded(a), ReadFileBytes(DataPath(name))) << name;
}

TEST(NpyNumPyFiles, F32) {
  const NpyArray a = ReadFixture("f32_2x3.npy");
  EXPECT_EQ(a.dtype, TSR_DTYPE_FLOAT32);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Values<float>(a), (std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1.5f}));
  ExpectSameBytesAsNumPy("f32_2x3.npy");
}

TEST(NpyNumPyFiles, F16) {
  const NpyArray a = ReadFixture("f16_4.npy");
  EXPECT_EQ(a.dtype, TSR_DTYPE_FLOAT16);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{4}));
  // 0.5, -2, 65504 (the largest half), 0 as IEEE binary16 bit patterns.
  EXPECT_EQ(Values<uint16_t>(a), (std::vector<uint16_t>{0x3800, 0xc000, 0x7bff, 0x0000}));
  ExpectSameBytesAsNumPy("f16_4.npy");
}

TEST(NpyNumPyFiles, Integers) {
  NpyArray a = ReadFixture("i32_3.npy");
  EXPECT_EQ(a.dtype, TSR_DTYPE_INT32);
  EXPECT_EQ(Values<int32_t>(a), (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 0,
                                                      std::numeric_limits<int32_t>::max()}));
  a = ReadFixture("i64_2x2.npy");
  EXPECT_EQ(a.dtype, TSR_DTYPE_INT64);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Values<int64_t>(a), (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 1,
                                                      std::numeric_limits<int64_t>::max()}));
  a = ReadFixture("i8_5.npy");
  EXPECT_EQ(a.dtype, TSR_DTYPE_INT8);
  EXPECT_EQ(Values<int8_t>(a), (std::vector<int8_t>{-128, -1, 0, 1, 127}));
  a = ReadFixture("u8_4.npy");
  EXPECT_EQ(a.dtype, TSR_DTYPE_UINT8);
  EXPECT_EQ(Values<uint8_t>(a), (std::vector<uint8_t>{0, 1, 128, 255}));
  a = ReadFixture("i8_1000.npy");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{1000}));
  EXPECT_EQ(Values<int8_t>(a)[999], 99);
  for (const char* name : {"i32_3.npy", "i64_2x2.npy", "i8_5.npy", "u8_4.npy", "i8_1000.npy"}) {
    ExpectSameBytesAsNumPy(name);
  }
}

TEST(NpyNumPyFiles, Bool) {
  const NpyArray a = ReadFixture("bool_2x2.npy");
  EXPECT_EQ(a.dtype, TSR_DTYPE_BOOL);
  EXPECT_EQ(Values<uint8_t>(a), (std::vector<uint8_t>{1, 0, 0, 1}));
  ExpectSameBytesAsNumPy("bool_2x2.npy");
}

TEST(NpyNumPyFiles, ScalarAndEmpty) {
  NpyArray a = ReadFixture("scalar_f32.npy");
  EXPECT_TRUE(a.dims.empty());
  EXPECT_EQ(Values<float>(a), (std::vector<float>{3.25f}));
  ExpectSameBytesAsNumPy("scalar_f32.npy");

  a = ReadFixture("empty_f32_0x3.npy");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(a.bytes.empty());
  ExpectSameBytesAsNumPy("empty_f32_0x3.npy");

  a = ReadFixture("empty_f32_rank16.npy");
  EXPECT_EQ(a.dims.size(), 16u);
  EXPECT_EQ(ReadFileBytes(DataPath("empty_f32_rank16.npy")).size(), 192u);
  ExpectSameBytesAsNumPy("empty_f32_rank16.npy");
}

TEST(NpyNumPyFiles, Versions2And3) {
  const NpyArray v1 = ReadFixture("f32_2x3.npy");
  for (const char* name : {"f32_2x3_v2.npy", "f32_2x3_v3.npy"}) {
    const NpyArray a = ReadFixture(name);
    EXPECT_EQ(a.dtype, v1.dtype) << name;
    EXPECT_EQ(a.dims, v1.dims) << name;
    EXPECT_EQ(a.bytes, v1.bytes) << name;
  }
}

TEST(NpyNumPyFiles, RefusesWhatTesseraCannotHold) {
  struct Case {
    const char* file;
    const char* message;
  };
  for (const Case& c : {
           Case{"fortran_f32.npy", "fortran_order is True"},
           Case{"bigendian_f32.npy", "big-endian dtype '>f4' is not supported"},
           Case{"complex64.npy", "unsupported dtype '<c8'"},
           Case{"f64.npy", "unsupported dtype '<f8'"},
           Case{"object.npy", "dtype '|O' (object or structured array) is not supported"},
           Case{"structured.npy", "structured dtypes"},
       }) {
    const std::string error = ErrorForFile(DataPath(c.file));
    EXPECT_NE(error.find(c.message), std::string::npos) << error;
  }
}

// ---- Hostile and malformed files -----------------------------------------

TEST(NpyMalformed, MissingOrNotAFile) {
  EXPECT_NE(ErrorForFile(DataPath("no_such_file.npy")).find("cannot open"), std::string::npos);
  EXPECT_NE(ErrorForFile(std::string(TESSERA_NPY_TEST_DATA_DIR)).find("not a regular file"), std::string::npos);
}

TEST(NpyMalformed, Magic) {
  EXPECT_NE(ErrorFor("").find("file is empty"), std::string::npos);
  EXPECT_NE(ErrorFor("PK\x03\x04 not numpy").find("bad magic"), std::string::npos);
  EXPECT_NE(ErrorFor(std::string("\x93NUMPZ\x01\x00\x10\x00", 10)).find("bad magic"), std::string::npos);
  // A prefix of the magic is a truncated file, not a foreign one.
  EXPECT_NE(ErrorFor("\x93NUM").find("truncated"), std::string::npos);
}

TEST(NpyMalformed, TruncatedPrefixAndHeader) {
  const std::string good = Encoded(MakeArray<float>(TSR_DTYPE_FLOAT32, {2}, {1, 2}));
  EXPECT_NE(ErrorFor(good.substr(0, 7)).find("truncated"), std::string::npos);
  EXPECT_NE(ErrorFor(good.substr(0, 9)).find("truncated"), std::string::npos);
  EXPECT_NE(ErrorFor(good.substr(0, 40)).find("header length 118 runs past the end of the file (40 bytes)"),
            std::string::npos);
  // A 2.0 header claiming 4 GiB of text in a 20-byte file.
  EXPECT_NE(ErrorFor(std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}\n   \n  ", 20)).find("runs past the end"),
            std::string::npos);
}

TEST(NpyMalformed, Versions) {
  EXPECT_NE(ErrorFor(std::string("\x93NUMPY\x04\x00\x00\x00\x00\x00", 12)).find("version 4.0"), std::string::npos);
  EXPECT_NE(ErrorFor(std::string("\x93NUMPY\x01\x01\x00\x00", 10)).find("version 1.1"), std::string::npos);
}

TEST(NpyMalformed, UnparsableHeader) {
  struct Case {
    const char* header;
    const char* message;
  };
  for (const Case& c : {
           Case{"", "expected '{'"},
           Case{"descr: <f4", "expected '{'"},
           Case{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", "expected a quoted string"},
           Case{"{'descr': '<f4', 'fortran_order': False}", "no 'shape' key"},
           Case{"{'fortran_order': False, 'shape': (2,)}", "no 'descr' key"},
           Case{"{'descr': '<f4', 'shape': (2,)}", "no 'fortran_order' key"},
           Case{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "repeats the key 'descr'"},
           Case{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unexpected key 'x'"},
           Case{"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "must be True or False"},
           Case{"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "must be a tuple"},
           Case{"{'descr': '<f4', 'fortran_order': False, 'shape': (2; 3)}", "expected ',' or ')'"},
           Case{"{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", "expected ',' or ')'"},
           Case{"{'descr': '<f4', 'fortran_order': False, 'shape': (x,)}", "expected a dim"},
           Case{"{'descr': '<f4 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"},
           Case{"{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", "expected ':'"},
           Case{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "unexpected text after"},
           Case{"{'descr': '<f4", "unterminated string"},
           Case{"{'descr': 42, 'fortran_order': False, 'shape': (2,)}", "expected a quoted string"},
       }) {
    const std::string error = ErrorFor(FileWithHeader(c.header, std::string(8, '\0')));
    EXPECT_NE(error.find(c.message), std::string::npos) << "header: " << c.header << "\nerror: " << error;
  }
}

TEST(NpyMalformed, Descr) {
  struct Case {
    const char* descr;
    const char* message;
  };
  for (const Case& c : {
           Case{">f4", "big-endian dtype '>f4'"},
           Case{">i8", "big-endian dtype '>i8'"},
           Case{"=f4", "does not say its byte order"},
           Case{"f4", "does not say its byte order"},
           Case{"<c8", "unsupported dtype '<c8'"},
           Case{"<u4", "unsupported dtype '<u4'"},
           Case{"<f04", "unsupported dtype '<f04'"},
           Case{"|O", "object or structured"},
           Case{"|V8", "object or structured"},
           Case{"", "unsupported dtype ''"},
       }) {
    const std::string header = std::string("{'descr': '") + c.descr + "', 'fortran_order': False, 'shape': (2,), }";
    const std::string error = ErrorFor(FileWithHeader(header, std::string(8, '\0')));
    EXPECT_NE(error.find(c.message), std::string::npos) << error;
  }
  // Single-byte types have no byte order: any marker is accepted.
  for (const char* descr : {"|i1", "<i1", ">u1", "b1"}) {
    const std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (2,), }";
    const std::string file = FileWithHeader(header, std::string(2, '\0'));
    NpyArray a;
    std::string error;
    EXPECT_TRUE(ReadNpyFromMemory(file.data(), file.size(), "ok.npy", &a, &error)) << error;
  }
}

TEST(NpyMalformed, Shapes) {
  auto error_for_shape = [](const std::string& shape) {
    return ErrorFor(FileWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }",
                                   std::string(16, '\0')));
  };
  EXPECT_NE(error_for_shape("(-1, 4)").find("negative dim"), std::string::npos);
  EXPECT_NE(error_for_shape("(99999999999999999999,)").find("overflows int64"), std::string::npos);
  // Each dim fits, the product does not.
  EXPECT_NE(error_for_shape("(4294967296, 4294967296)").find("too large"), std::string::npos);
  // The byte size overflows though the element count fits.
  EXPECT_NE(error_for_shape("(4611686018427387904,)").find("too large"), std::string::npos);
  // A huge but representable shape must be refused by the size check, not
  // by a failed allocation.
  EXPECT_NE(error_for_shape("(1099511627776,)").find("needs 4398046511104 bytes, the file has 16"),
            std::string::npos);
  std::string deep = "(";
  for (int i = 0; i < 65; ++i) deep += "1, ";
  EXPECT_NE(error_for_shape(deep + ")").find("more than 64 dims"), std::string::npos);
  // Python 2 NumPy wrote long dims with an 'L' suffix.
  const std::string py2 = FileWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }",
                                         std::string(16, '\0'));
  NpyArray a;
  std::string error;
  EXPECT_TRUE(ReadNpyFromMemory(py2.data(), py2.size(), "py2.npy", &a, &error)) << error;
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 2}));
}

TEST(NpyMalformed, DataSize) {
  const std::string good = Encoded(MakeArray<float>(TSR_DTYPE_FLOAT32, {2, 3}, {1, 2, 3, 4, 5, 6}));
  EXPECT_NE(ErrorFor(good.substr(0, good.size() - 1))
                .find("data is truncated: shape (2, 3) of <f4 needs 24 bytes, the file has 23 after the header"),
            std::string::npos);
  EXPECT_NE(ErrorFor(good + "x").find("data is longer than the shape says"), std::string::npos);
  EXPECT_NE(ErrorForFile(DataPath("features_truncated.npy")).find("data is truncated"), std::string::npos);
}

TEST(NpyMalformed, BoolBytes) {
  const std::string file = FileWithHeader("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                          std::string("\x01\x00\x07", 3));
  EXPECT_NE(ErrorFor(file).find("bool element 2 has byte value 7"), std::string::npos);
}

TEST(NpyMalformed, MessagesAreOneSafeLine) {
  // Control characters from the file are escaped, never printed raw.
  const std::string error =
      ErrorFor(FileWithHeader("{'descr': '\x1b[31m', 'fortran_order': False, 'shape': (2,)}", "12345678"));
  EXPECT_EQ(error.find('\x1b'), std::string::npos) << error;
  EXPECT_NE(error.find("unsupported dtype '\\x1b[31m'"), std::string::npos) << error;
}

// Every prefix and many single-byte corruptions of a valid file must be
// handled (success or a clean error): run under ASan/UBSan to make this
// check memory safety too.
TEST(NpyMalformed, EveryTruncationAndByteFlip) {
  const std::string good = Encoded(MakeArray<int32_t>(TSR_DTYPE_INT32, {2, 2}, {1, 2, 3, 4}));
  for (size_t n = 0; n < good.size(); ++n) {
    NpyArray a;
    std::string error;
    EXPECT_FALSE(ReadNpyFromMemory(good.data(), n, "cut.npy", &a, &error)) << n;
    EXPECT_FALSE(error.empty());
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (int flip : {0x01, 0x20, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      NpyArray a;
      std::string error;
      if (ReadNpyFromMemory(bad.data(), bad.size(), "flip.npy", &a, &error)) {
        EXPECT_EQ(static_cast<int64_t>(a.bytes.size()), a.ElementCount() * static_cast<int64_t>(NpyElementSize(a.dtype)));
      } else {
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;
      }
    }
  }
}

}  // namespace
}  // namespace tessera::tools
