// Registration entry points of the built-in op families. Each family
// registers through the same OpRegistrar a plugin uses.
#ifndef TESSERA_OPS_BUILTIN_OPS_H_
#define TESSERA_OPS_BUILTIN_OPS_H_

#include "runtime/core/op.h"

namespace tessera::ops {

Status RegisterElementwiseOps(OpRegistrar& registrar);
Status RegisterGemmOps(OpRegistrar& registrar);
Status RegisterRnnOps(OpRegistrar& registrar);
Status RegisterSoftmaxOps(OpRegistrar& registrar);
Status RegisterMathOps(OpRegistrar& registrar);
Status RegisterNormOps(OpRegistrar& registrar);
Status RegisterShapeOps(OpRegistrar& registrar);
Status RegisterMovementOps(OpRegistrar& registrar);
Status RegisterAttentionOps(OpRegistrar& registrar);

// All of the above, in order.
Status RegisterBuiltinOps(OpRegistrar& registrar);

}  // namespace tessera::ops

#endif  // TESSERA_OPS_BUILTIN_OPS_H_
