/* A test plugin in plain C99 against tessera/plugin.h alone: it proves the
 * header compiles as C and that a plugin without the C++ layer works.
 * Domain "testc":
 *   testc.Negate  Y = -X, through host scratch memory and ParallelFor
 *                 (chunks of 100 elements), with a cost callback.
 *   testc.Fail    returns an error status from the stage chosen by the int
 *                 attribute `stage`: 0 run, 1 infer_shapes, 2 create_kernel.
 */
#include <string.h>

#include "tessera/plugin.h"
/* Included second on purpose: its shared TSR_OK/TSR_DTYPE_* macros must be
 * identical redefinitions (-Werror turns any drift into a build error). */
#include "tessera/tessera.h"

static const TsrHostApi* g_host = NULL;

static const int32_t kF32[] = {TSR_DTYPE_FLOAT32};
static const TsrPluginParam kX[] = {{"X", TSR_PARAM_REQUIRED, 1, kF32, 1, "T"}};
static const TsrPluginParam kY[] = {{"Y", TSR_PARAM_REQUIRED, 1, kF32, 1, "T"}};

static TsrPluginStatus* SameShape(void* op_state, TsrShapeContext* ctx) {
  TsrTensorInfo x;
  TsrPluginStatus* s = g_host->GetInputInfo(ctx, 0, &x);
  (void)op_state;
  if (s != NULL) return s;
  return g_host->SetOutputInfo(ctx, 0, x.dtype, x.rank, x.dims);
}

static TsrPluginStatus* NegateCost(void* op_state, const TsrShapeContext* ctx, TsrOpCost* out) {
  TsrTensorInfo y;
  double n = 1;
  int32_t i;
  TsrPluginStatus* s = g_host->GetOutputInfo(ctx, 0, &y);
  (void)op_state;
  if (s != NULL) return s;
  for (i = 0; i < y.rank; ++i) n *= (double)y.dims[i];
  out->flops = n;
  out->bytes_read = 4 * n;
  out->bytes_written = 4 * n;
  return NULL;
}

static TsrPluginStatus* NoState(void* op_state, const TsrShapeContext* ctx, TsrPluginKernel** out) {
  (void)op_state;
  (void)ctx;
  *out = NULL;
  return NULL;
}

typedef struct NegateJob {
  const float* in;
  float* out;
} NegateJob;

static void NegateChunk(void* user, int64_t begin, int64_t end) {
  const NegateJob* job = (const NegateJob*)user;
  int64_t i;
  for (i = begin; i < end; ++i) job->out[i] = -job->in[i];
}

static int64_t Elements(const TsrTensorView* v) {
  int64_t n = 1;
  int32_t i;
  for (i = 0; i < v->rank; ++i) n *= v->dims[i];
  return n;
}

static TsrPluginStatus* NegateRun(void* op_state, const TsrPluginKernel* kernel, TsrKernelContext* ctx) {
  TsrTensorView x, y;
  TsrPluginStatus* s;
  void* scratch = NULL;
  NegateJob job;
  int64_t n;
  (void)op_state;
  (void)kernel;
  if ((s = g_host->GetInput(ctx, 0, &x)) != NULL) return s;
  if ((s = g_host->GetOutput(ctx, 0, &y)) != NULL) return s;
  n = Elements(&x);
  /* Stage the input in host scratch: exercises GetScratch. */
  if ((s = g_host->GetScratch(ctx, (size_t)n * sizeof(float), &scratch)) != NULL) return s;
  if (n > 0) memcpy(scratch, x.data, (size_t)n * sizeof(float));
  job.in = (const float*)scratch;
  job.out = (float*)y.data;
  g_host->ParallelFor(ctx, n, 100, NegateChunk, &job);
  return NULL;
}

static const TsrPluginAttr kFailAttrs[] = {{"stage", TSR_ATTR_INT, 0, 1, 0, 0, 0.0f, NULL, NULL, NULL, NULL, 0}};

static TsrPluginStatus* StageError(const TsrShapeContext* ctx, int64_t stage, const char* message) {
  int64_t value = 0;
  TsrPluginStatus* s = g_host->GetAttrInt(ctx, "stage", &value);
  if (s != NULL) return s;
  return value == stage ? g_host->CreateStatus(TSR_ERR_INVALID_ARGUMENT, message) : NULL;
}

static TsrPluginStatus* FailInfer(void* op_state, TsrShapeContext* ctx) {
  TsrPluginStatus* s = StageError(ctx, 1, "Fail: injected failure in infer_shapes");
  if (s != NULL) return s;
  return SameShape(op_state, ctx);
}

/* The kernel state is the stage (no allocation needed: cast in an int). */
static TsrPluginStatus* FailCreate(void* op_state, const TsrShapeContext* ctx, TsrPluginKernel** out) {
  (void)op_state;
  *out = NULL;
  return StageError(ctx, 2, "Fail: injected failure in create_kernel");
}

static TsrPluginStatus* FailRun(void* op_state, const TsrPluginKernel* kernel, TsrKernelContext* ctx) {
  (void)op_state;
  (void)kernel;
  (void)ctx;
  /* Only stage 0 gets here: the others failed at load. */
  return g_host->CreateStatus(TSR_ERR_INVALID_ARGUMENT, "Fail: injected failure in run");
}

static const TsrPluginOp kNegate = {
    TSR_PLUGIN_ABI_VERSION, sizeof(TsrPluginOp), "testc", "Negate", 1, 0, kX, 1, kY, 1, NULL, 0, NULL,
    SameShape, NegateCost, NoState, NegateRun, NULL};
static const TsrPluginOp kFail = {
    TSR_PLUGIN_ABI_VERSION, sizeof(TsrPluginOp), "testc", "Fail", 1, 0, kX, 1, kY, 1, kFailAttrs, 1, NULL,
    FailInfer, NULL, FailCreate, FailRun, NULL};
static const TsrPluginOp* const kOps[] = {&kNegate, &kFail};
static const TsrPluginApi kApi = {TSR_PLUGIN_ABI_VERSION, sizeof(TsrPluginApi), "tessera-test-c", "0.1", kOps, 2};

TSR_PLUGIN_EXPORT TsrPluginStatus* TsrPluginInit(const TsrHostApi* host, const TsrPluginApi** out) {
  if (TSR_PLUGIN_ABI_VERSION_MAJOR(host->abi_version) != TSR_PLUGIN_ABI_MAJOR) {
    return host->CreateStatus(TSR_ERR_UNIMPLEMENTED, "tessera-test-c needs plugin ABI 1");
  }
  g_host = host;
  *out = &kApi;
  return NULL;
}
