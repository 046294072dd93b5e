/* Deliberately broken plugins, one per value of TSR_BAD_KIND, each built
 * as its own library (tests/runtime/plugins/CMakeLists.txt):
 *   1  its TsrPluginApi claims ABI major 99
 *   2  its TsrPluginApi.struct_size is smaller than ABI 1.0's
 *   3  TsrPluginInit returns an error
 *   4  an op without a run callback
 *   5  an op in domain "test" named "Scale": clashes with the test plugin
 *   6  an op in the ONNX domain named "Relu": clashes with the built-in
 */
#include "tessera/plugin.h"

static const int32_t kF32[] = {TSR_DTYPE_FLOAT32};
static const TsrPluginParam kX[] = {{"X", TSR_PARAM_REQUIRED, 1, kF32, 1, NULL}};
static const TsrPluginParam kY[] = {{"Y", TSR_PARAM_REQUIRED, 1, kF32, 1, NULL}};

static TsrPluginStatus* Infer(void* op_state, TsrShapeContext* ctx) {
  (void)op_state;
  (void)ctx;
  return NULL;
}
static TsrPluginStatus* Create(void* op_state, const TsrShapeContext* ctx, TsrPluginKernel** out) {
  (void)op_state;
  (void)ctx;
  *out = NULL;
  return NULL;
}
#if TSR_BAD_KIND != 4
static TsrPluginStatus* Run(void* op_state, const TsrPluginKernel* kernel, TsrKernelContext* ctx) {
  (void)op_state;
  (void)kernel;
  (void)ctx;
  return NULL;
}
#endif

#if TSR_BAD_KIND == 4
#define OP_DOMAIN "bad"
#define OP_TYPE "NoRun"
#define OP_RUN NULL
#elif TSR_BAD_KIND == 5
#define OP_DOMAIN "test"
#define OP_TYPE "Scale"
#define OP_RUN Run
#elif TSR_BAD_KIND == 6
#define OP_DOMAIN ""
#define OP_TYPE "Relu"
#define OP_RUN Run
#else
#define OP_DOMAIN "bad"
#define OP_TYPE "Op"
#define OP_RUN Run
#endif

static const TsrPluginOp kOp = {TSR_PLUGIN_ABI_VERSION, sizeof(TsrPluginOp), OP_DOMAIN, OP_TYPE, 1, 0, kX, 1, kY, 1,
                                NULL, 0, NULL, Infer, NULL, Create, OP_RUN, NULL};
static const TsrPluginOp* const kOps[] = {&kOp};

#if TSR_BAD_KIND == 1
#define API_VERSION ((uint32_t)((99u << 16) | 0u))
#else
#define API_VERSION TSR_PLUGIN_ABI_VERSION
#endif
#if TSR_BAD_KIND == 2
#define API_SIZE 16u
#else
#define API_SIZE ((uint32_t)sizeof(TsrPluginApi))
#endif

static const TsrPluginApi kApi = {API_VERSION, API_SIZE, "bad-plugin", "0", kOps, 1};

TSR_PLUGIN_EXPORT TsrPluginStatus* TsrPluginInit(const TsrHostApi* host, const TsrPluginApi** out) {
#if TSR_BAD_KIND == 3
  (void)out;
  (void)kApi;
  return host->CreateStatus(TSR_ERR_INTERNAL, "bad-plugin: cannot initialise (deliberate)");
#else
  (void)host;
  *out = &kApi;
  return NULL;
#endif
}
