// A test plugin written with the C++ layer (tessera/plugin.hpp), domain
// "test":
//   test.Scale  Y = alpha * X (alpha defaults to 2), split into chunks of
//               `grain` elements (attribute, default 64) on the host's
//               ParallelFor so tests see multi-chunk runs.
//   test.Throw  throws std::runtime_error from the stage named by attribute
//               `where` ("infer_shapes", "create", "run", "parallel_for");
//               the C++ layer must turn each into a status.
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/plugin.hpp"

namespace {

using tessera::plugin::Attr;
using tessera::plugin::KernelContext;
using tessera::plugin::OpCost;
using tessera::plugin::OpSchema;
using tessera::plugin::Param;
using tessera::plugin::ShapeContext;

class Scale {
 public:
  static OpSchema Schema() {
    OpSchema s("test", "Scale");
    s.inputs = {Param::Required("X", {TSR_DTYPE_FLOAT32})};
    s.outputs = {Param::Required("Y", {TSR_DTYPE_FLOAT32})};
    s.attributes = {Attr::Float("alpha", 2.0f), Attr::Int("grain", 64)};
    return s;
  }
  static void InferShapes(ShapeContext& ctx) {
    const auto x = ctx.Input(0);
    ctx.SetOutput(0, TSR_DTYPE_FLOAT32, x.dims, x.has_shape);
  }
  static OpCost Cost(const ShapeContext& ctx) {
    double n = 1;
    for (int64_t d : ctx.Input(0).dims) n *= static_cast<double>(d);
    return OpCost{n, 4 * n, 4 * n};
  }
  explicit Scale(const ShapeContext& ctx) : alpha_(ctx.AttrFloat("alpha")), grain_(ctx.AttrInt("grain")) {}
  void Run(KernelContext& ctx) const {
    const float* x = ctx.Input(0).f32();
    float* y = ctx.Output(0).f32();
    const float alpha = alpha_;
    ctx.ParallelFor(ctx.Input(0).NumElements(), grain_, [=](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) y[i] = alpha * x[i];
    });
  }

 private:
  float alpha_;
  int64_t grain_;
};

class Throw {
 public:
  static OpSchema Schema() {
    OpSchema s("test", "Throw");
    s.inputs = {Param::Required("X", {TSR_DTYPE_FLOAT32})};
    s.outputs = {Param::Required("Y", {TSR_DTYPE_FLOAT32})};
    s.attributes = {Attr::String("where", "run")};
    return s;
  }
  static void InferShapes(ShapeContext& ctx) {
    if (ctx.AttrString("where") == "infer_shapes") throw std::runtime_error("deliberate exception in infer_shapes");
    const auto x = ctx.Input(0);
    ctx.SetOutput(0, TSR_DTYPE_FLOAT32, x.dims, x.has_shape);
  }
  static OpCost Cost(const ShapeContext&) { return OpCost{}; }
  explicit Throw(const ShapeContext& ctx) : where_(ctx.AttrString("where")) {
    if (where_ == "create") throw std::runtime_error("deliberate exception in create_kernel");
  }
  void Run(KernelContext& ctx) const {
    if (where_ == "run") throw std::runtime_error("deliberate exception in run");
    const int64_t n = ctx.Input(0).NumElements();
    ctx.ParallelFor(n, 1, [](int64_t begin, int64_t) {
      if (begin == 1) throw std::runtime_error("deliberate exception in a parallel_for chunk");
    });
  }

 private:
  std::string where_;
};

}  // namespace

extern "C" TSR_PLUGIN_EXPORT TsrPluginStatus* TsrPluginInit(const TsrHostApi* host, const TsrPluginApi** out) {
  static tessera::plugin::Plugin plugin("tessera-test", "0.1");
  return plugin.Init(host, out, [](tessera::plugin::Plugin& p) {
    p.Add<Scale>();
    p.Add<Throw>();
  });
}
