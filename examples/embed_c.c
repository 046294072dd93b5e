/* Embedding Tessera from C99 (tessera/tessera.h, linked with libtessera):
 * load a model, list its inputs and outputs, run it once with every input
 * filled with one value, and print the outputs.
 *
 *   embed_c MODEL.tess [VALUE]     (VALUE defaults to 0; dynamic dims = 1)
 *
 * Every call that can fail returns a TsrStatus*: NULL is success, anything
 * else is an error the caller must release. Every object is released on
 * every path, through the single exit at `done`. */
#include <stdio.h>
#include <stdlib.h>

#include "tessera/tessera.h"

/* Reports and releases a failed status; returns 1 on failure, 0 on success. */
static int Failed(TsrStatus* status, const char* what) {
  if (status == NULL) return 0;
  fprintf(stderr, "embed_c: %s: %s\n", what, TsrStatusGetMessage(status));
  TsrStatusRelease(status);
  return 1;
}

static void PrintInfo(const char* kind, const TsrValueInfo* info) {
  size_t d;
  printf("%s %s: %s [", kind, info->name, TsrDTypeName(info->dtype));
  for (d = 0; d < info->rank; ++d) {
    if (d > 0) printf(", ");
    if (info->dims[d] >= 0) {
      printf("%lld", (long long)info->dims[d]);
    } else {
      printf("%s", info->dim_names[d] != NULL ? info->dim_names[d] : "?");
    }
  }
  printf("]\n");
}

int main(int argc, char** argv) {
  TsrModel* model = NULL;
  TsrSession* session = NULL;
  TsrSessionOptions* options = NULL;
  TsrTensor** inputs = NULL;
  TsrTensor** outputs = NULL;
  const char** input_names = NULL;
  const char** output_names = NULL;
  int64_t* dims = NULL;
  size_t num_inputs = 0, num_outputs = 0, i, d;
  int64_t e;
  float fill;
  int rc = 1;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s MODEL.tess [VALUE]\n", argv[0]);
    return 2;
  }
  fill = argc == 3 ? strtof(argv[2], NULL) : 0.0f;

  if (Failed(TsrModelLoad(argv[1], NULL, &model), "load")) goto done;
  num_inputs = TsrModelGetInputCount(model);
  num_outputs = TsrModelGetOutputCount(model);
  /* calloc: unused slots stay NULL, and releasing NULL is a no-op. */
  inputs = calloc(num_inputs + 1, sizeof *inputs);
  input_names = calloc(num_inputs + 1, sizeof *input_names);
  outputs = calloc(num_outputs + 1, sizeof *outputs);
  output_names = calloc(num_outputs + 1, sizeof *output_names);
  if (!inputs || !input_names || !outputs || !output_names) {
    fprintf(stderr, "embed_c: out of memory\n");
    goto done;
  }

  /* One tensor per input; dynamic dims (-1) are set to 1 here. */
  for (i = 0; i < num_inputs; ++i) {
    TsrValueInfo info;
    if (Failed(TsrModelGetInputInfo(model, i, &info), "input info")) goto done;
    PrintInfo("input ", &info);
    dims = malloc((info.rank + 1) * sizeof *dims);
    if (dims == NULL) goto done;
    for (d = 0; d < info.rank; ++d) dims[d] = info.dims[d] < 0 ? 1 : info.dims[d];
    if (Failed(TsrTensorCreate(info.dtype, dims, info.rank, &inputs[i]), "create input")) goto done;
    free(dims);
    dims = NULL;
    if (info.dtype == TSR_DTYPE_FLOAT32) {
      float* data = TsrTensorGetData(inputs[i]);
      for (e = 0; e < TsrTensorGetElementCount(inputs[i]); ++e) data[e] = fill;
    } /* other dtypes stay zero-filled */
    input_names[i] = info.name; /* valid while the model lives */
  }
  for (i = 0; i < num_outputs; ++i) {
    TsrValueInfo info;
    if (Failed(TsrModelGetOutputInfo(model, i, &info), "output info")) goto done;
    PrintInfo("output", &info);
    output_names[i] = info.name;
  }

  if (Failed(TsrSessionOptionsCreate(&options), "session options")) goto done;
  if (Failed(TsrSessionOptionsSetThreadCount(options, 2), "thread count")) goto done;
  if (Failed(TsrSessionCreate(model, options, &session), "create session")) goto done;
  if (Failed(TsrSessionRun(session, input_names, (const TsrTensor* const*)inputs, num_inputs, output_names,
                           num_outputs, outputs),
             "run")) {
    goto done;
  }

  for (i = 0; i < num_outputs; ++i) {
    const int64_t count = TsrTensorGetElementCount(outputs[i]);
    printf("%s =", output_names[i]);
    if (TsrTensorGetDType(outputs[i]) == TSR_DTYPE_FLOAT32) {
      const float* data = TsrTensorGetData(outputs[i]);
      for (e = 0; e < count && e < 10; ++e) printf(" %.5g", data[e]);
      if (count > 10) printf(" ...");
    } else {
      printf(" (%lld %s values)", (long long)count, TsrDTypeName(TsrTensorGetDType(outputs[i])));
    }
    printf("\n");
  }
  rc = 0;

done:
  free(dims);
  for (i = 0; inputs != NULL && i < num_inputs; ++i) TsrTensorRelease(inputs[i]);
  for (i = 0; outputs != NULL && i < num_outputs; ++i) TsrTensorRelease(outputs[i]);
  free(inputs);
  free(outputs);
  free(input_names);
  free(output_names);
  TsrSessionRelease(session);
  TsrSessionOptionsRelease(options);
  TsrModelRelease(model);
  return rc;
}
