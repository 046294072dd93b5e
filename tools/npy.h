// Reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0) for
// the dtypes Tessera has: <f4, <f2, <i4, <i8, |i1, |u1, |b1, C order only.
//
// Files are untrusted. Every size in the header is checked against the size
// of the file before anything is allocated, so a hostile header cannot ask
// for a huge buffer, and every problem comes back as one line of text that
// names the file and what is wrong with it. Nothing here throws or aborts.
//
// The format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//   "\x93NUMPY" | major | minor | header length (u16 LE in 1.0, u32 LE in
//   2.0 and 3.0) | header: a Python dict literal with exactly the keys
//   'descr', 'fortran_order' and 'shape', space-padded and '\n'-terminated |
//   raw element data.
//
// This library depends on tessera.h for the TSR_DTYPE_* values only (the
// macros, no function), so it links without libtessera and can be fuzzed
// on its own.
#ifndef TESSERA_TOOLS_NPY_H_
#define TESSERA_TOOLS_NPY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::tools {

// A dense little-endian C-order array.
struct NpyArray {
  int32_t dtype = 0;           // a TSR_DTYPE_* value
  std::vector<int64_t> dims;   // empty for a 0-d (scalar) array
  std::vector<uint8_t> bytes;  // element count * element size bytes

  // Product of dims (1 for a 0-d array).
  int64_t ElementCount() const;
};

// Bytes per element of a dtype .npy files can hold (all Tessera dtypes but
// bf16, which NumPy lacks); 0 for any other value.
size_t NpyElementSize(int32_t dtype);

// The .npy descr of a dtype ("<f4", "|b1", ...), or "" where there is none.
const char* NpyDescr(int32_t dtype);

// Reads `path`. On failure returns false and sets *error to one line such
// as "x.npy: data is truncated: shape (4, 32) of <f4 needs 512 bytes, the
// file has 500 after the header". *out is only written on success.
bool ReadNpy(const std::string& path, NpyArray* out, std::string* error);

// The same from bytes in memory; `name` stands for the file in messages.
bool ReadNpyFromMemory(const void* data, size_t size, const std::string& name, NpyArray* out,
                       std::string* error);

// Serializes `array` as a version 1.0 file (2.0 if the header does not fit
// in 1.0) whose data starts 64-byte aligned, as NumPy writes it. Fails if
// the dtype has no .npy form or dims and bytes disagree.
bool EncodeNpy(const NpyArray& array, std::string* out, std::string* error);

// EncodeNpy, then writes the bytes to `path` (replacing the file).
bool WriteNpy(const std::string& path, const NpyArray& array, std::string* error);

}  // namespace tessera::tools

#endif  // TESSERA_TOOLS_NPY_H_
