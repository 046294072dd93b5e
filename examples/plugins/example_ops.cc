// An example plugin: two ops a Transformer feed-forward block wants that
// ONNX lacks as single ops, in the domain "example".
//
//   example.RMSNorm v1   Y = X / sqrt(mean(X^2 over the last axis) + epsilon) * scale
//                        (Zhang & Sennrich 2019, "Root Mean Square Layer
//                        Normalization", eq. 4, without the bias)
//   example.SwiGLU v1    X = [A | B] split in halves on the last axis,
//                        Y = A * sigmoid(A) * B  (Shazeer 2020, "GLU Variants
//                        Improve Transformer", FFN_SwiGLU with the two
//                        projections fused into one MatMul before it)
//
// Written with the C++ layer (tessera/plugin.hpp): each op is one class with
// a schema, shape inference, a cost, a constructor (kernel creation, where
// constant inputs can be prepacked) and a const Run. Scalar loops keep the
// example readable; a real plugin would vectorize them. Build it as a
// shared library that links nothing of Tessera: the host hands it every
// service through TsrHostApi.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/plugin.h"
#include "tessera/plugin.hpp"

namespace {

using tessera::plugin::Attr;
using tessera::plugin::Error;
using tessera::plugin::KernelContext;
using tessera::plugin::OpCost;
using tessera::plugin::OpSchema;
using tessera::plugin::Param;
using tessera::plugin::ShapeContext;
using tessera::plugin::TensorInfo;

constexpr const char* kDomain = "example";

// Items per ParallelFor chunk: ~4096 elements of work (a few microseconds)
// outweigh the scheduler's ~1 us per task, and small tensors stay on one
// thread. Chunks never split a row, so results do not depend on threads.
int64_t RowGrain(int64_t row_length) { return row_length >= 4096 ? 1 : 4096 / (row_length > 0 ? row_length : 1); }

int64_t Product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= dims[i];
  return p;
}

double Elements(const TensorInfo& info) {
  return info.has_shape ? static_cast<double>(Product(info.dims, 0, info.dims.size())) : 0.0;
}

class RmsNorm {
 public:
  static OpSchema Schema() {
    OpSchema s(kDomain, "RMSNorm");
    s.inputs = {Param::Required("X", {TSR_DTYPE_FLOAT32}, "T"), Param::Required("scale", {TSR_DTYPE_FLOAT32}, "T")};
    s.outputs = {Param::Required("Y", {TSR_DTYPE_FLOAT32}, "T")};
    s.attributes = {Attr::Float("epsilon", 1e-6f)};
    return s;
  }

  static void InferShapes(ShapeContext& ctx) {
    const TensorInfo x = ctx.Input(0);
    const TensorInfo scale = ctx.Input(1);
    if (x.has_shape && x.dims.empty()) throw Error(TSR_ERR_INVALID_MODEL, "input 'X' is a scalar; RMSNorm needs rank >= 1");
    if (scale.has_shape && scale.dims.size() != 1) {
      throw Error(TSR_ERR_INVALID_MODEL, "input 'scale' has rank " + std::to_string(scale.dims.size()) + ", expected 1");
    }
    if (x.has_shape && scale.has_shape && x.dims.back() >= 0 && scale.dims[0] >= 0 && x.dims.back() != scale.dims[0]) {
      throw Error(TSR_ERR_INVALID_MODEL, "input 'scale' has " + std::to_string(scale.dims[0]) +
                                             " elements, but the last dim of 'X' is " + std::to_string(x.dims.back()));
    }
    if (ctx.AttrFloat("epsilon") < 0) throw Error(TSR_ERR_INVALID_MODEL, "attribute 'epsilon' must be >= 0");
    ctx.SetOutput(0, TSR_DTYPE_FLOAT32, x.dims, x.has_shape);
  }

  // Per element: square, add (sum), multiply by the inverse, multiply by
  // scale; per row: one divide, one add and one square root.
  static OpCost Cost(const ShapeContext& ctx) {
    const TensorInfo x = ctx.Input(0);
    const double n = Elements(x);
    const double rows = x.has_shape && !x.dims.empty() && x.dims.back() > 0 ? n / static_cast<double>(x.dims.back()) : 0;
    const double d = x.has_shape && !x.dims.empty() ? static_cast<double>(x.dims.back()) : 0;
    return OpCost{4 * n + 3 * rows, (n + d) * sizeof(float), n * sizeof(float)};
  }

  // Kernel creation. When the scale is a constant (the usual case: it is a
  // weight), it is copied here once, the prepack step; otherwise Run reads
  // the input each time.
  explicit RmsNorm(const ShapeContext& ctx) : epsilon_(ctx.AttrFloat("epsilon")) {
    if (auto scale = ctx.Constant(1)) {
      const float* p = scale->f32();
      packed_scale_.assign(p, p + scale->NumElements());
    }
  }

  void Run(KernelContext& ctx) const {
    const auto x = ctx.Input(0);
    const auto y = ctx.Output(0);
    const int64_t d = x.dim(x.rank() - 1);
    const int64_t rows = d > 0 ? x.NumElements() / d : 0;
    const float* scale = packed_scale_.empty() ? ctx.Input(1).f32() : packed_scale_.data();
    if (ctx.Input(1).NumElements() != d) {
      throw Error(TSR_ERR_INVALID_ARGUMENT, "input 'scale' has " + std::to_string(ctx.Input(1).NumElements()) +
                                                " elements, but the last dim of 'X' is " + std::to_string(d));
    }
    const float* in = x.f32();
    float* out = y.f32();
    const float epsilon = epsilon_;
    ctx.ParallelFor(rows, RowGrain(d), [=](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* row = in + r * d;
        float* dst = out + r * d;
        // Double accumulation: the mean of squares of a long row loses
        // about log2(d) bits in float, and this loop is not the bottleneck.
        double sum = 0;
        for (int64_t i = 0; i < d; ++i) sum += static_cast<double>(row[i]) * row[i];
        const float inv = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(d) + epsilon));
        for (int64_t i = 0; i < d; ++i) dst[i] = row[i] * inv * scale[i];
      }
    });
  }

 private:
  float epsilon_;
  std::vector<float> packed_scale_;
};

class SwiGlu {
 public:
  static OpSchema Schema() {
    OpSchema s(kDomain, "SwiGLU");
    s.inputs = {Param::Required("X", {TSR_DTYPE_FLOAT32})};
    s.outputs = {Param::Required("Y", {TSR_DTYPE_FLOAT32})};
    return s;
  }

  // [..., 2H] -> [..., H]; a dynamic last dim stays dynamic.
  static void InferShapes(ShapeContext& ctx) {
    const TensorInfo x = ctx.Input(0);
    if (!x.has_shape) {
      ctx.SetOutput(0, TSR_DTYPE_FLOAT32, {}, false);
      return;
    }
    if (x.dims.empty()) throw Error(TSR_ERR_INVALID_MODEL, "input 'X' is a scalar; SwiGLU needs rank >= 1");
    std::vector<int64_t> dims = x.dims;
    if (dims.back() >= 0) {
      if (dims.back() % 2 != 0) {
        throw Error(TSR_ERR_INVALID_MODEL, "the last dim of input 'X' is " + std::to_string(dims.back()) +
                                               "; SwiGLU splits it in two halves, so it must be even");
      }
      dims.back() /= 2;
    }
    ctx.SetOutput(0, TSR_DTYPE_FLOAT32, dims);
  }

  // Per output element: exp (counted as 1, as the profiler counts
  // transcendental calls), add and divide (sigmoid), two multiplies.
  static OpCost Cost(const ShapeContext& ctx) {
    const double out = Elements(ctx.Output(0));
    return OpCost{5 * out, 2 * out * sizeof(float), out * sizeof(float)};
  }

  explicit SwiGlu(const ShapeContext&) {}

  void Run(KernelContext& ctx) const {
    const auto x = ctx.Input(0);
    const auto y = ctx.Output(0);
    const int64_t h = y.dim(y.rank() - 1);
    const int64_t rows = h > 0 ? y.NumElements() / h : 0;
    const float* in = x.f32();
    float* out = y.f32();
    ctx.ParallelFor(rows, RowGrain(2 * h), [=](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* a = in + r * 2 * h;
        const float* b = a + h;
        float* dst = out + r * h;
        for (int64_t i = 0; i < h; ++i) dst[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
      }
    });
  }
};

}  // namespace

extern "C" TSR_PLUGIN_EXPORT TsrPluginStatus* TsrPluginInit(const TsrHostApi* host, const TsrPluginApi** out) {
  static tessera::plugin::Plugin plugin("tessera-example-ops", "1.0");
  return plugin.Init(host, out, [](tessera::plugin::Plugin& p) {
    p.Add<RmsNorm>();
    p.Add<SwiGlu>();
  });
}
