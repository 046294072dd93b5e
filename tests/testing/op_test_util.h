// Runs one built-in op outside any graph, the way the executor does:
// attribute defaults, signature check, shape inference, kernel creation
// (with constant inputs for prepacking), host-allocated outputs, Run inside
// a thread arena. Outputs are NaN-filled before Run and followed by a
// canary that must survive it.
#ifndef TESSERA_TESTS_TESTING_OP_TEST_UTIL_H_
#define TESSERA_TESTS_TESTING_OP_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "runtime/core/op.h"
#include "runtime/core/tensor.h"

namespace tessera::testing {

struct OpInvocation {
  std::string domain = "";
  std::string op_type;
  int32_t version = 17;
  AttributeMap attrs;
  // nullptr marks an omitted optional input.
  std::vector<const Tensor*> inputs;
  // Inputs with constant[i] true are passed to CreateKernel as constants.
  std::vector<bool> constant;
  size_t num_outputs = 1;
  int threads = 1;
};

// Fails with the op's own status (bad attributes, shapes) or when a kernel
// wrote past its output (the canary).
StatusOr<std::vector<OwnedTensor>> RunOp(const OpInvocation& op);

// Tensor helpers.
OwnedTensor MakeTensor(DType dtype, const Shape& shape);
OwnedTensor RandomF32(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
template <typename T>
OwnedTensor FromVector(const Shape& shape, const std::vector<T>& values);
std::vector<float> ToFloatVector(const Tensor& t);

// Calls fn once per Highway target that is compiled in and supported by
// this CPU (at most TESSERA_SIMD_TARGET when set), with dispatch forced to
// that target through hwy::SetSupportedTargetsForTest; restores the normal
// choice afterwards.
void ForEachTarget(const std::function<void(const char* target_name)>& fn);

// True when both tensors have equal dtype, shape and bytes.
bool BitwiseEqual(const Tensor& a, const Tensor& b);

}  // namespace tessera::testing

#include <cstring>
namespace tessera::testing {
template <typename T>
OwnedTensor FromVector(const Shape& shape, const std::vector<T>& values) {
  OwnedTensor t = MakeTensor(DTypeOf<T>::value, shape);
  if (!values.empty()) std::memcpy(t.view.data, values.data(), values.size() * sizeof(T));
  return t;
}
}  // namespace tessera::testing

#endif  // TESSERA_TESTS_TESTING_OP_TEST_UTIL_H_
