// Shapes, tensor views and aligned storage.
//
// A Tensor is a non-owning, dense, row-major view: dtype, dims and a data
// pointer. Whoever made the view owns the memory (the session's arena, the
// model's weight segment, or the user). Kernels never read or write outside
// [data, data + ByteSize()): buffers from users and plugins carry no padding,
// so SIMD tails go through a partial vector or a stack copy.
#ifndef TESSERA_RUNTIME_CORE_TENSOR_H_
#define TESSERA_RUNTIME_CORE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/dtype.h"
#include "runtime/core/status.h"

namespace tessera {

// Dims of a tensor. At load time a dim may be kDynamicDim (symbolic or
// unknown); at run time every dim is >= 0.
using Shape = std::vector<int64_t>;
inline constexpr int64_t kDynamicDim = -1;

// Alignment of every buffer Tessera allocates (one cache line, one AVX-512 vector).
inline constexpr size_t kTensorAlignment = 64;

// "[2, 3, ?]" for the CLI and error messages.
std::string ShapeToString(const Shape& shape);

bool IsStatic(const Shape& shape);

// Product of the dims; 1 for a scalar. The Checked form fails on a negative
// dim or when the product or the byte size overflows int64.
int64_t NumElements(const Shape& shape);
StatusOr<int64_t> CheckedNumElements(const Shape& shape);
StatusOr<int64_t> CheckedByteSize(DType dtype, const Shape& shape);

// Row-major strides in elements.
std::vector<int64_t> ContiguousStrides(const Shape& shape);

inline size_t AlignUp(size_t n, size_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

struct Tensor {
  DType dtype = DType::kUnknown;
  Shape shape;
  void* data = nullptr;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t dim(int64_t i) const { return shape[static_cast<size_t>(i)]; }
  int64_t NumElements() const { return ::tessera::NumElements(shape); }
  size_t ByteSize() const { return static_cast<size_t>(NumElements()) * DTypeSize(dtype); }

  template <typename T> T* data_as() { return static_cast<T*>(data); }
  template <typename T> const T* data_as() const { return static_cast<const T*>(data); }
};

// dtype + shape without data, as known at load and planning time.
struct TensorInfo {
  DType dtype = DType::kUnknown;
  Shape shape;
  bool has_shape = false;  // false: rank unknown (shape is empty then)
};

// Owning, 64-byte-aligned, uninitialised memory.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Fails with kResourceExhausted, never throws or aborts.
  static StatusOr<AlignedBuffer> Allocate(size_t bytes);

  void* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> data_;
  size_t size_ = 0;
};

// Fault injection for tests: while a hook is set, every AlignedBuffer::
// Allocate first calls it with the requested size and fails with
// kResourceExhausted when it returns false. nullptr (the default) removes
// it. The hook may be called from several threads at once.
using AllocationHook = bool (*)(size_t bytes);
void SetAllocationHookForTesting(AllocationHook hook);

// A Tensor that owns its storage.
struct OwnedTensor {
  Tensor view;
  AlignedBuffer storage;

  static StatusOr<OwnedTensor> Allocate(DType dtype, const Shape& shape);
};

}  // namespace tessera

#endif  // TESSERA_RUNTIME_CORE_TENSOR_H_
