/* Tessera C API: load a model once, create sessions, run them.
 *
 * Conventions
 * - Every fallible call returns a TsrStatus*: NULL means success; otherwise
 *   the caller owns the status and frees it with TsrStatusRelease. No C++
 *   exception ever crosses this API.
 * - Objects are opaque handles released with their *Release function;
 *   Release(NULL) is a no-op.
 * - A TsrModel is immutable after loading and may be shared by any number
 *   of threads. A TsrSession belongs to one caller at a time: run several
 *   sessions concurrently for parallel requests.
 * - Strings and arrays returned by getters stay valid as long as the object
 *   they came from.
 */
#ifndef TESSERA_TESSERA_H_
#define TESSERA_TESSERA_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define TSR_API __declspec(dllexport)
#else
#define TSR_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------- */
#define TSR_VERSION_MAJOR 0
#define TSR_VERSION_MINOR 1
#define TSR_VERSION_PATCH 0
/* "0.1.0" */
TSR_API const char* TsrVersionString(void);

/* ---- Status ------------------------------------------------------------ */
#define TSR_OK 0
#define TSR_ERR_INVALID_ARGUMENT 1  /* bad call: shape, dtype, name, option */
#define TSR_ERR_INVALID_MODEL 2     /* corrupt, hostile or inconsistent file */
#define TSR_ERR_NOT_FOUND 3         /* missing file, input, output or op */
#define TSR_ERR_UNIMPLEMENTED 4
#define TSR_ERR_RESOURCE_EXHAUSTED 5 /* a limit or an allocation */
#define TSR_ERR_INTERNAL 6
#define TSR_ERR_IO 7
#define TSR_ERR_CANCELLED 8

typedef struct TsrStatus TsrStatus;
TSR_API int32_t TsrStatusGetCode(const TsrStatus* status);
/* One line saying what, where, expected and got. */
TSR_API const char* TsrStatusGetMessage(const TsrStatus* status);
TSR_API void TsrStatusRelease(TsrStatus* status);

/* ---- Element types ----------------------------------------------------- */
#define TSR_DTYPE_FLOAT32 1
#define TSR_DTYPE_FLOAT16 2
#define TSR_DTYPE_BFLOAT16 3
#define TSR_DTYPE_INT8 4
#define TSR_DTYPE_UINT8 5
#define TSR_DTYPE_INT32 6
#define TSR_DTYPE_INT64 7
#define TSR_DTYPE_BOOL 8
/* "f32", "i64", ...; "invalid" for an unknown value. */
TSR_API const char* TsrDTypeName(int32_t dtype);
/* Bytes per element; 0 for an unknown value. */
TSR_API size_t TsrDTypeSize(int32_t dtype);

/* ---- Tensors ----------------------------------------------------------- */
/* A dense, row-major tensor. It owns 64-byte-aligned memory
 * (TsrTensorCreate) or borrows the caller's (TsrTensorCreateView). */
typedef struct TsrTensor TsrTensor;
/* Allocates a zero-filled tensor. */
TSR_API TsrStatus* TsrTensorCreate(int32_t dtype, const int64_t* dims, size_t rank, TsrTensor** out);
/* Wraps `data` (at least `data_bytes` bytes, which must equal the
 * tensor's size) without copying; the caller keeps it alive and unchanged
 * while the view is used. */
TSR_API TsrStatus* TsrTensorCreateView(int32_t dtype, const int64_t* dims, size_t rank, void* data,
                                       size_t data_bytes, TsrTensor** out);
TSR_API void TsrTensorRelease(TsrTensor* tensor);
TSR_API int32_t TsrTensorGetDType(const TsrTensor* tensor);
TSR_API size_t TsrTensorGetRank(const TsrTensor* tensor);
TSR_API const int64_t* TsrTensorGetDims(const TsrTensor* tensor);
TSR_API int64_t TsrTensorGetElementCount(const TsrTensor* tensor);
TSR_API size_t TsrTensorGetByteSize(const TsrTensor* tensor);
TSR_API void* TsrTensorGetData(TsrTensor* tensor);

/* ---- Models ------------------------------------------------------------ */
typedef struct TsrModelOptions TsrModelOptions;
TSR_API TsrStatus* TsrModelOptionsCreate(TsrModelOptions** out);
TSR_API void TsrModelOptionsRelease(TsrModelOptions* options);
/* Adds a plugin library (tessera/plugin.h) whose ops the model may use;
 * repeatable, loaded in order at TsrModelLoad. The paths listed in the
 * TESSERA_PLUGINS environment variable (':'-separated) are loaded first. A
 * plugin that cannot be loaded fails the model load with a message naming
 * the plugin file. The library stays loaded while the model lives. */
TSR_API TsrStatus* TsrModelOptionsAddPlugin(TsrModelOptions* options, const char* path);
/* 0: ignore TESSERA_PLUGINS for loads with these options (default 1). */
TSR_API TsrStatus* TsrModelOptionsSetPluginsFromEnv(TsrModelOptions* options, int32_t enabled);
/* 0: load the graph as stored, without the graph optimizations (constant
 * folding, dead-node elimination, GEMM bias/activation, LayerNorm, GELU and
 * attention fusion). Default 1, or 0 when the environment variable
 * TESSERA_OPTIMIZE is 0, off or false. */
TSR_API TsrStatus* TsrModelOptionsSetOptimize(TsrModelOptions* options, int32_t enabled);

/* Limits for untrusted models (docs/robustness.md). A file over one is
 * refused by TsrModelLoad* with TSR_ERR_RESOURCE_EXHAUSTED and a message
 * naming the tensor or node, the size and the limit, before anything of
 * that size is allocated. TSR_LIMIT_PLANNED_BYTES and the element limit are
 * checked again by each TsrSessionRun once input shapes bind the dynamic
 * dims. Values must be >= 1; the defaults follow each name. */
#define TSR_LIMIT_FILE_BYTES 1           /* the .tess file, weights included: 2^36 (64 GiB) */
#define TSR_LIMIT_RANK 2                 /* dims of any tensor: 32 */
#define TSR_LIMIT_TENSOR_ELEMENTS 3      /* any one tensor, declared or inferred: 2^34 */
#define TSR_LIMIT_PLANNED_BYTES 4        /* activations + outputs of one run: 2^36 */
#define TSR_LIMIT_NODES 5                /* 2^20 */
#define TSR_LIMIT_TENSORS 6              /* 2^22 */
#define TSR_LIMIT_STRING_BYTES 7         /* any name, op type, string attribute, metadata: 2^20 */
#define TSR_LIMIT_ATTRIBUTE_ELEMENTS 8   /* elements of one list attribute: 2^20 */
TSR_API TsrStatus* TsrModelOptionsSetLimit(TsrModelOptions* options, int32_t limit, int64_t value);
TSR_API TsrStatus* TsrModelOptionsGetLimit(const TsrModelOptions* options, int32_t limit, int64_t* value);

typedef struct TsrModel TsrModel;
/* Memory-maps the file (weights are used in place), verifies it, validates
 * the graph, infers shapes and prepares kernels (weights are packed here,
 * once). `options` may be NULL. */
TSR_API TsrStatus* TsrModelLoad(const char* path, const TsrModelOptions* options, TsrModel** out);
/* The same from bytes in memory; the bytes are copied. */
TSR_API TsrStatus* TsrModelLoadFromBuffer(const void* data, size_t size, const TsrModelOptions* options,
                                          TsrModel** out);
TSR_API void TsrModelRelease(TsrModel* model);

/* ONNX models (.onnx, protobuf ModelProto, op sets up to 17). The model is
 * converted to Tessera's format in memory, then loaded as by TsrModelLoad:
 * symbolic input dims ("batch") stay named dynamic dims, initializers
 * become weights, and each node keeps its op-set version. Nodes are checked
 * against the built-in ops plus the plugins `options` names; a model using
 * ops Tessera does not implement fails with TSR_ERR_UNIMPLEMENTED and one
 * message listing every such op type with its node names. External weight
 * files (ONNX external data) are not read. In a build without protobuf
 * these fail with TSR_ERR_UNIMPLEMENTED (see TsrOnnxImportAvailable). */
TSR_API TsrStatus* TsrModelLoadOnnx(const char* path, const TsrModelOptions* options, TsrModel** out);
/* The same from .onnx bytes in memory (not kept after the call). */
TSR_API TsrStatus* TsrModelLoadOnnxFromBuffer(const void* data, size_t size, const TsrModelOptions* options,
                                              TsrModel** out);
/* Converts the ONNX model at `onnx_path` into a .tess file at `tess_path`
 * (overwritten). The converted model is loaded once before it is written,
 * so a file written here loads. */
TSR_API TsrStatus* TsrConvertOnnxFile(const char* onnx_path, const char* tess_path, const TsrModelOptions* options);
/* 1 when this build has the ONNX importer, 0 when it was built without
 * protobuf. */
TSR_API int32_t TsrOnnxImportAvailable(void);

/* A graph input or output as declared by the model. dims[i] is -1 for a
 * dynamic dim, whose name (e.g. "batch") is dim_names[i] or NULL. */
typedef struct TsrValueInfo {
  const char* name;
  int32_t dtype;
  size_t rank;
  const int64_t* dims;
  const char* const* dim_names;
} TsrValueInfo;

TSR_API size_t TsrModelGetInputCount(const TsrModel* model);
TSR_API size_t TsrModelGetOutputCount(const TsrModel* model);
TSR_API TsrStatus* TsrModelGetInputInfo(const TsrModel* model, size_t index, TsrValueInfo* out);
TSR_API TsrStatus* TsrModelGetOutputInfo(const TsrModel* model, size_t index, TsrValueInfo* out);

/* Nodes in execution (topological) order. An omitted optional input or
 * output has an empty name. */
typedef struct TsrNodeInfo {
  const char* name;
  const char* op_type;
  const char* domain; /* "" for ONNX ops */
  int32_t version;
  size_t num_inputs;
  const char* const* input_names;
  size_t num_outputs;
  const char* const* output_names;
} TsrNodeInfo;
TSR_API size_t TsrModelGetNodeCount(const TsrModel* model);
TSR_API TsrStatus* TsrModelGetNodeInfo(const TsrModel* model, size_t index, TsrNodeInfo* out);

/* The graph optimizations that changed the graph at load, in the order they
 * ran: the pass ("constant_folding", "attention_fusion", ...), how many
 * rewrites it made, and the node count before and after it. Node counts of
 * the whole graph: the stored one is the first record's nodes_before (or
 * TsrModelGetNodeCount when there are no records). The pass name lives as
 * long as the model. */
typedef struct TsrOptimizationInfo {
  const char* pass;
  int32_t rewrites;
  int32_t nodes_before;
  int32_t nodes_after;
} TsrOptimizationInfo;
TSR_API size_t TsrModelGetOptimizationCount(const TsrModel* model);
TSR_API TsrStatus* TsrModelGetOptimization(const TsrModel* model, size_t index, TsrOptimizationInfo* out);

/* Metadata key/value pairs stored in the file. */
TSR_API size_t TsrModelGetMetadataCount(const TsrModel* model);
TSR_API TsrStatus* TsrModelGetMetadata(const TsrModel* model, size_t index, const char** key, const char** value);

typedef struct TsrModelStats {
  int64_t parameter_count;  /* elements of all constant tensors */
  int64_t parameter_bytes;
  int64_t activation_bytes_planned; /* arena size after liveness-based reuse */
  int64_t activation_bytes_unplanned; /* sum of all intermediate tensors */
  int64_t num_intermediates;
} TsrModelStats;
/* Statistics for concrete input shapes. Dynamic dims are bound by name
 * (dim_names[i] = dim_values[i]); an unnamed or unbound dynamic dim is an
 * error that names the input. */
TSR_API TsrStatus* TsrModelGetStats(const TsrModel* model, const char* const* dim_names, const int64_t* dim_values,
                                    size_t num_dims, TsrModelStats* out);

/* ---- Sessions ---------------------------------------------------------- */
typedef struct TsrSessionOptions TsrSessionOptions;
TSR_API TsrStatus* TsrSessionOptionsCreate(TsrSessionOptions** out);
TSR_API void TsrSessionOptionsRelease(TsrSessionOptions* options);
/* Threads the session may use, the caller's included; 0 (default) = all
 * cores. Results are bitwise identical for every thread count. */
TSR_API TsrStatus* TsrSessionOptionsSetThreadCount(TsrSessionOptions* options, int32_t threads);
/* 1: record per-node timings on every run (see TsrSessionGetProfile*). */
TSR_API TsrStatus* TsrSessionOptionsSetProfiling(TsrSessionOptions* options, int32_t enabled);
/* Streaming: carries graph output `output_name` into graph input
 * `input_name` between runs. After every successful TsrSessionRun the
 * session keeps a copy of the output (requested or not) and gives it as the
 * input of the next run, unless that run passes the input itself (which
 * sets the state). The first run, and the first after TsrSessionResetState,
 * must pass it (e.g. zeros). For an LSTM whose initial_h/initial_c and
 * Y_h/Y_c are graph inputs and outputs, feeding a sequence in chunks then
 * gives the outputs of feeding it whole. Names are checked at each run. */
TSR_API TsrStatus* TsrSessionOptionsAddState(TsrSessionOptions* options, const char* output_name,
                                             const char* input_name);

typedef struct TsrSession TsrSession;
/* The session keeps a reference to the model: releasing the model first is
 * allowed. `options` may be NULL. */
TSR_API TsrStatus* TsrSessionCreate(const TsrModel* model, const TsrSessionOptions* options, TsrSession** out);
TSR_API void TsrSessionRelease(TsrSession* session);
/* Forgets every carried state (TsrSessionOptionsAddState). */
TSR_API TsrStatus* TsrSessionResetState(TsrSession* session);
/* Cancels the TsrSessionRun in progress on `session`, if any; callable from
 * any thread while that run is in progress. Nodes not yet started are
 * skipped and the run returns TSR_ERR_CANCELLED (a node already running
 * finishes first; a run that finished all its nodes may still succeed).
 * It does not affect a later run, and the session stays usable. Releasing
 * a session while its own run is in progress is not allowed: cancel, wait
 * for TsrSessionRun to return, then release. Other sessions are never
 * affected. */
TSR_API TsrStatus* TsrSessionCancel(TsrSession* session);

/* Runs the model. Every graph input must be given, by name. Outputs are
 * chosen by name; on success outputs[i] receives a new tensor the caller
 * releases. Inputs are only read. */
TSR_API TsrStatus* TsrSessionRun(TsrSession* session, const char* const* input_names,
                                 const TsrTensor* const* inputs, size_t num_inputs,
                                 const char* const* output_names, size_t num_outputs, TsrTensor** outputs);

/* Per-node records of the last Run with profiling on, in start order; a
 * failed Run leaves none. FLOPs and bytes are the op's declared cost
 * (OpDef.cost) for the run's concrete shapes, not counted by hardware.
 * Profiling costs two clock reads per node; with it off, nothing.
 * Pointers in a record stay valid until the session's next Run or its
 * release. Fields are only ever appended to this struct. */
typedef struct TsrNodeProfile {
  const char* node_name;
  const char* op_type;
  int64_t start_ns;    /* from the start of the run (steady clock) */
  int64_t duration_ns; /* the node ended at start_ns + duration_ns */
  int32_t thread_index; /* 0-based slot of the worker thread in the session's arena */
  double flops;
  double bytes;        /* read + written */
  /* Since 0.1 (profiler): */
  double bytes_read;
  double bytes_written;
  int32_t node_index;  /* the node's index in TsrModelGetNodeInfo order */
  const char* domain;  /* "" for ONNX ops */
  /* The node's input shapes, one per input slot: input_dims[i] has
   * input_ranks[i] dims; input_dims[i] is NULL for an omitted optional
   * input. */
  size_t num_inputs;
  const size_t* input_ranks;
  const int64_t* const* input_dims;
} TsrNodeProfile;
TSR_API size_t TsrSessionGetProfileCount(const TsrSession* session);
TSR_API TsrStatus* TsrSessionGetProfileRecord(const TsrSession* session, size_t index, TsrNodeProfile* out);

/* ---- Machine ----------------------------------------------------------- */
/* The roofline of this machine, as the profiler uses it. The first call
 * measures (about a second: an FP32 FMA loop and a stream triad, each on
 * one thread and on all cores, best of several repetitions); later calls
 * return the same numbers at once. Other load on the machine lowers them.
 * Strings are static. */
typedef struct TsrMachineInfo {
  const char* simd_target;       /* Highway target the kernels run on: "AVX3", "AVX2", "NEON", ... */
  const char* supported_targets; /* targets built and supported here, best first, space-separated */
  int32_t vector_bits;           /* float vector width on simd_target */
  int32_t cores;                 /* threads a session with thread count 0 uses */
  double peak_gflops_1thread;    /* measured FP32 FMA peak, 1e9 FLOP/s, one thread */
  double peak_gflops;            /* the same on all `cores` threads */
  double bandwidth_gbs_1thread;  /* stream triad, 1e9 bytes/s (12 bytes per element), one thread */
  double bandwidth_gbs;          /* the same on all `cores` threads */
  double measure_seconds;        /* how long the measurement took */
} TsrMachineInfo;
TSR_API TsrStatus* TsrGetMachineInfo(TsrMachineInfo* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_TESSERA_H_ */
