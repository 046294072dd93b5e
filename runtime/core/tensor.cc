#include "runtime/core/tensor.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace tessera {

std::string ShapeToString(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) os << ", ";
    if (shape[i] < 0) {
      os << '?';
    } else {
      os << shape[i];
    }
  }
  os << ']';
  return os.str();
}

bool IsStatic(const Shape& shape) {
  for (int64_t d : shape) {
    if (d < 0) return false;
  }
  return true;
}

// A 0 dim makes the count 0 before anything is multiplied: shapes inferred
// at load are bounded (max_tensor_elements, on the product of their nonzero
// dims) only after inference, and kernels may be called with shapes no limit
// checked, so an empty shape's other dims can be anything (e.g. [2^62, 4, 0]
// from Expand) and their product must not be formed.
// CheckedNumElements stays stricter: it refuses such a shape.
int64_t NumElements(const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

StatusOr<int64_t> CheckedNumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return Error(StatusCode::kInvalidArgument, "shape ", ShapeToString(shape), " has a negative or unknown dim");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      return Error(StatusCode::kResourceExhausted, "shape ", ShapeToString(shape), " has more than 2^63 elements");
    }
    n *= d;
  }
  return n;
}

StatusOr<int64_t> CheckedByteSize(DType dtype, const Shape& shape) {
  TSR_ASSIGN_OR_RETURN(int64_t n, CheckedNumElements(shape));
  const int64_t size = static_cast<int64_t>(DTypeSize(dtype));
  if (size == 0) return Error(StatusCode::kInvalidArgument, "dtype ", DTypeName(dtype), " has no element size");
  if (n > std::numeric_limits<int64_t>::max() / size) {
    return Error(StatusCode::kResourceExhausted, "tensor of shape ", ShapeToString(shape), " and dtype ",
                 DTypeName(dtype), " exceeds 2^63 bytes");
  }
  return n * size;
}

std::vector<int64_t> ContiguousStrides(const Shape& shape) {
  // Only an empty tensor's strides can pass int64, and only in a shape the
  // element limit never checked (it bounds the product of the nonzero dims):
  // [0, 2^33, 2^33] has an outer stride of 2^66. Such strides address
  // nothing, so they saturate at INT64_MAX instead of wrapping (plugins get
  // them for every tensor).
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) {
    const int64_t d = shape[i];
    strides[i - 1] = d > 0 && strides[i] > kMax / d ? kMax : strides[i] * d;
  }
  return strides;
}

void AlignedBuffer::Free::operator()(void* p) const { std::free(p); }

namespace {
std::atomic<AllocationHook> allocation_hook{nullptr};
}  // namespace

void SetAllocationHookForTesting(AllocationHook hook) { allocation_hook.store(hook); }

StatusOr<AlignedBuffer> AlignedBuffer::Allocate(size_t bytes) {
  // One relaxed load when no test has set a hook.
  if (const AllocationHook hook = allocation_hook.load(std::memory_order_relaxed); hook != nullptr && !hook(bytes)) {
    return Error(StatusCode::kResourceExhausted, "out of memory allocating ", bytes, " bytes (injected by a test)");
  }
  AlignedBuffer buffer;
  // aligned_alloc needs a size that is a multiple of the alignment; a
  // zero-byte tensor still gets a valid, distinct pointer.
  const size_t rounded = AlignUp(bytes == 0 ? 1 : bytes, kTensorAlignment);
  if (rounded < bytes) return Error(StatusCode::kResourceExhausted, "cannot allocate ", bytes, " bytes");
  void* p = std::aligned_alloc(kTensorAlignment, rounded);
  if (p == nullptr) {
    return Error(StatusCode::kResourceExhausted, "out of memory allocating ", bytes, " bytes");
  }
  buffer.data_.reset(p);
  buffer.size_ = bytes;
  return buffer;
}

StatusOr<OwnedTensor> OwnedTensor::Allocate(DType dtype, const Shape& shape) {
  TSR_ASSIGN_OR_RETURN(int64_t bytes, CheckedByteSize(dtype, shape));
  OwnedTensor t;
  TSR_ASSIGN_OR_RETURN(t.storage, AlignedBuffer::Allocate(static_cast<size_t>(bytes)));
  t.view.dtype = dtype;
  t.view.shape = shape;
  t.view.data = t.storage.data();
  return t;
}

}  // namespace tessera
