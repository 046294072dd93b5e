/* The C API from C: proves tessera.h compiles as C99 and that a C program
 * can load, inspect, run and handle errors. Usage: c_api_test MODEL.tess */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tessera/tessera.h"

static int failures = 0;

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                    \
    }                                                                \
  } while (0)

/* Expects `status` to be an error with `code` whose message contains
 * `fragment`; releases it. */
static void ExpectError(TsrStatus* status, int32_t code, const char* fragment) {
  CHECK(status != NULL);
  if (status == NULL) return;
  CHECK(TsrStatusGetCode(status) == code);
  if (strstr(TsrStatusGetMessage(status), fragment) == NULL) {
    fprintf(stderr, "message '%s' lacks '%s'\n", TsrStatusGetMessage(status), fragment);
    ++failures;
  }
  TsrStatusRelease(status);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: c_api_test MODEL.tess\n");
    return 2;
  }
  TsrModel* model = NULL;
  ExpectError(TsrModelLoad("/no/such/file.tess", NULL, &model), TSR_ERR_NOT_FOUND, "/no/such/file.tess");
  CHECK(model == NULL);

  TsrStatus* status = TsrModelLoad(argv[1], NULL, &model);
  if (status != NULL) {
    fprintf(stderr, "load failed: %s\n", TsrStatusGetMessage(status));
    TsrStatusRelease(status);
    return 1;
  }
  CHECK(TsrModelGetInputCount(model) == 1);
  TsrValueInfo info;
  CHECK(TsrModelGetInputInfo(model, 0, &info) == NULL);
  CHECK(strcmp(info.name, "features") == 0);
  CHECK(info.rank == 2 && info.dims[0] == -1 && info.dims[1] == 32);
  CHECK(info.dim_names[0] != NULL && strcmp(info.dim_names[0], "batch") == 0);
  ExpectError(TsrModelGetInputInfo(model, 5, &info), TSR_ERR_INVALID_ARGUMENT, "out of range");

  /* The load-time graph optimizations: bias fusion, then two activations. */
  CHECK(TsrModelGetNodeCount(model) == 5);
  CHECK(TsrModelGetOptimizationCount(model) == 2);
  TsrOptimizationInfo opt;
  CHECK(TsrModelGetOptimization(model, 1, &opt) == NULL);
  CHECK(strcmp(opt.pass, "activation_fusion") == 0 && opt.rewrites == 2);
  CHECK(opt.nodes_before == 7 && opt.nodes_after == 5);
  ExpectError(TsrModelGetOptimization(model, 2, &opt), TSR_ERR_INVALID_ARGUMENT, "out of range");
  TsrModelOptions* as_stored = NULL;
  TsrModel* stored = NULL;
  CHECK(TsrModelOptionsCreate(&as_stored) == NULL);
  CHECK(TsrModelOptionsSetOptimize(as_stored, 0) == NULL);
  CHECK(TsrModelLoad(argv[1], as_stored, &stored) == NULL);
  CHECK(TsrModelGetNodeCount(stored) == 8 && TsrModelGetOptimizationCount(stored) == 0);
  TsrModelRelease(stored);
  TsrModelOptionsRelease(as_stored);

  TsrSessionOptions* options = NULL;
  CHECK(TsrSessionOptionsCreate(&options) == NULL);
  CHECK(TsrSessionOptionsSetThreadCount(options, 2) == NULL);
  CHECK(TsrSessionOptionsSetProfiling(options, 1) == NULL);
  TsrSession* session = NULL;
  CHECK(TsrSessionCreate(model, options, &session) == NULL);
  TsrSessionOptionsRelease(options);
  /* The session keeps the model alive. */
  TsrModelRelease(model);

  float data[3 * 32];
  for (int i = 0; i < 3 * 32; ++i) data[i] = (float)sin(0.1 * i);
  const int64_t dims[2] = {3, 32};
  TsrTensor* input = NULL;
  CHECK(TsrTensorCreateView(TSR_DTYPE_FLOAT32, dims, 2, data, sizeof(data), &input) == NULL);
  const char* in_names[1] = {"features"};
  const char* out_names[1] = {"probs"};
  const TsrTensor* ins[1] = {input};
  TsrTensor* outs[1] = {NULL};
  status = TsrSessionRun(session, in_names, ins, 1, out_names, 1, outs);
  CHECK(status == NULL);
  if (status != NULL) {
    fprintf(stderr, "run failed: %s\n", TsrStatusGetMessage(status));
    TsrStatusRelease(status);
  } else {
    CHECK(TsrTensorGetRank(outs[0]) == 2);
    CHECK(TsrTensorGetDims(outs[0])[0] == 3 && TsrTensorGetDims(outs[0])[1] == 10);
    const float* p = (const float*)TsrTensorGetData(outs[0]);
    for (int r = 0; r < 3; ++r) {
      double sum = 0;
      for (int c = 0; c < 10; ++c) sum += p[r * 10 + c];
      CHECK(fabs(sum - 1.0) < 1e-5);
    }
    TsrTensorRelease(outs[0]);
    /* 8 nodes as stored; at load MatMul + Add + Sigmoid and Gemm + Tanh fuse. */
    CHECK(TsrSessionGetProfileCount(session) == 5);
    TsrNodeProfile record;
    CHECK(TsrSessionGetProfileRecord(session, 0, &record) == NULL);
    CHECK(record.duration_ns >= 0);
  }

  /* A wrong input shape is refused with a message naming the input. */
  const int64_t bad_dims[2] = {3, 31};
  TsrTensor* bad = NULL;
  CHECK(TsrTensorCreate(TSR_DTYPE_FLOAT32, bad_dims, 2, &bad) == NULL);
  const TsrTensor* bad_ins[1] = {bad};
  ExpectError(TsrSessionRun(session, in_names, bad_ins, 1, out_names, 1, outs), TSR_ERR_INVALID_ARGUMENT,
              "input 'features' has shape [3, 31]");
  ExpectError(TsrSessionRun(NULL, in_names, ins, 1, out_names, 1, outs), TSR_ERR_INVALID_ARGUMENT, "NULL");

  TsrTensorRelease(bad);
  TsrTensorRelease(input);
  TsrSessionRelease(session);
  TsrStatusRelease(NULL);
  TsrModelRelease(NULL);
  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
