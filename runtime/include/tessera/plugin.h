/* Tessera plugin ABI: ops in a shared library, loaded at run time.
 *
 * A plugin is a shared library that exports one symbol, TsrPluginInit. The
 * host (libtessera) opens it, calls TsrPluginInit with its table of services
 * (TsrHostApi) and receives the plugin's table (TsrPluginApi), which lists
 * the ops it provides. Each op declares what a built-in op declares: inputs
 * and outputs, attributes with defaults, shape inference, cost, kernel
 * creation and run. Once loaded, plugin ops are indistinguishable from
 * built-in ones for the loader, the planner, the profiler and the executor.
 *
 * This header is C99 and self-contained so that a plugin can be written in
 * C, or in C++ through the header-only layer tessera/plugin.hpp. The rules
 * (docs/plugins.md has the long form):
 *
 * Versioning. TSR_PLUGIN_ABI_VERSION is (major << 16) | minor. The host
 * refuses a plugin whose major version it does not know. Every table starts
 * with `abi_version` and `struct_size` and only ever grows at its end, so a
 * reader uses a field only when struct_size says the writer had it: a newer
 * plugin runs on an older host of the same major and vice versa. The first
 * three fields of TsrHostApi (abi_version, struct_size, CreateStatus) keep
 * their place in every major, so either side can always refuse the other
 * with a readable message. The small
 * descriptor structs TsrPluginParam, TsrPluginAttr, TsrTensorInfo,
 * TsrTensorView and TsrOpCost are frozen for a major version (they appear in
 * arrays or are filled by the other side, so they cannot grow).
 *
 * Errors. Every fallible callback returns a TsrPluginStatus*: NULL means
 * success, anything else is an error made with host->CreateStatus, whose
 * ownership passes to the receiver. No C++ exception may cross this ABI.
 *
 * Memory. The host allocates every tensor (inputs, outputs) and scratch
 * memory; a plugin never frees host memory, and the host never frees
 * plugin memory except through the plugin's own release callback. Strings
 * and tables a plugin hands to the host (names, descriptors) must stay
 * valid until the library is unloaded (static storage is the norm). Views
 * the host hands to a plugin are valid only during the callback.
 *
 * Threads. A plugin never starts threads. A kernel that wants parallelism
 * calls host->ParallelFor, which runs on the session's thread arena, the
 * same threads the built-in kernels use. Kernels are created once per node
 * at model load and then run concurrently by any number of sessions, so
 * run must not modify the kernel object.
 */
#ifndef TESSERA_PLUGIN_H_
#define TESSERA_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define TSR_PLUGIN_EXPORT __declspec(dllexport)
#else
#define TSR_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------- */
#define TSR_PLUGIN_ABI_MAJOR 1
#define TSR_PLUGIN_ABI_MINOR 0
#define TSR_PLUGIN_ABI_VERSION ((uint32_t)((TSR_PLUGIN_ABI_MAJOR << 16) | TSR_PLUGIN_ABI_MINOR))
#define TSR_PLUGIN_ABI_VERSION_MAJOR(v) ((uint32_t)(v) >> 16)
#define TSR_PLUGIN_ABI_VERSION_MINOR(v) ((uint32_t)(v)&0xffffu)

/* The symbol the host looks up. */
#define TSR_PLUGIN_INIT_SYMBOL "TsrPluginInit"

/* ---- Codes shared with tessera.h (same values, same names) ------------- */
#ifndef TSR_OK
#define TSR_OK 0
#define TSR_ERR_INVALID_ARGUMENT 1
#define TSR_ERR_INVALID_MODEL 2
#define TSR_ERR_NOT_FOUND 3
#define TSR_ERR_UNIMPLEMENTED 4
#define TSR_ERR_RESOURCE_EXHAUSTED 5
#define TSR_ERR_INTERNAL 6
#define TSR_ERR_IO 7
#define TSR_ERR_CANCELLED 8
#endif

#ifndef TSR_DTYPE_FLOAT32
#define TSR_DTYPE_FLOAT32 1
#define TSR_DTYPE_FLOAT16 2
#define TSR_DTYPE_BFLOAT16 3
#define TSR_DTYPE_INT8 4
#define TSR_DTYPE_UINT8 5
#define TSR_DTYPE_INT32 6
#define TSR_DTYPE_INT64 7
#define TSR_DTYPE_BOOL 8
#endif
/* In a TsrTensorView or TsrTensorInfo: an omitted optional input. */
#define TSR_DTYPE_UNDEFINED 0

/* Attribute types (the model format's AttributeType). */
#define TSR_ATTR_INT 1
#define TSR_ATTR_FLOAT 2
#define TSR_ATTR_STRING 3
#define TSR_ATTR_INTS 4
#define TSR_ATTR_FLOATS 5
#define TSR_ATTR_STRINGS 6

/* Presence of an input or output. */
#define TSR_PARAM_REQUIRED 0
#define TSR_PARAM_OPTIONAL 1
#define TSR_PARAM_VARIADIC 2 /* only the last param; min_count or more slots */

/* In TsrTensorInfo.dims: a dim not known before run time. */
#define TSR_DYNAMIC_DIM (-1)

/* ---- Opaque handles ---------------------------------------------------- */
/* An error: code and message. Made by host->CreateStatus. */
typedef struct TsrPluginStatus TsrPluginStatus;
/* What an op sees of its node outside run: input infos, constant inputs,
 * attributes, and (during shape inference) the outputs to fill. */
typedef struct TsrShapeContext TsrShapeContext;
/* What a kernel sees during one run: input and output tensors, scratch,
 * and the host's parallel_for. */
typedef struct TsrKernelContext TsrKernelContext;
/* The plugin's per-node kernel state; the host only passes it back. */
typedef struct TsrPluginKernel TsrPluginKernel;

/* ---- Small frozen structs (fixed for ABI major 1) ---------------------- */
/* dtype and shape known before run time. rank < 0: unknown rank (dims is
 * NULL); a dim of TSR_DYNAMIC_DIM is not known yet. dtype is
 * TSR_DTYPE_UNDEFINED for an omitted optional input. */
typedef struct TsrTensorInfo {
  int32_t dtype;
  int32_t rank;
  const int64_t* dims;
} TsrTensorInfo;

/* A tensor's memory during a callback. Dense and row-major in ABI 1:
 * strides (in elements) are given so that kernels written against them
 * keep working if a later minor version lends strided views. data is NULL
 * for an omitted input (dtype TSR_DTYPE_UNDEFINED) or an empty tensor. */
typedef struct TsrTensorView {
  int32_t dtype;
  int32_t rank;
  const int64_t* dims;
  const int64_t* strides;
  void* data;
} TsrTensorView;

/* Work of one node execution, for the profiler and benchmarks. */
typedef struct TsrOpCost {
  double flops;
  double bytes_read;
  double bytes_written;
} TsrOpCost;

/* One input or output of an op. */
typedef struct TsrPluginParam {
  const char* name;
  int32_t presence;      /* TSR_PARAM_* */
  int32_t min_count;     /* TSR_PARAM_VARIADIC: fewest slots accepted (>= 1) */
  const int32_t* dtypes; /* allowed TSR_DTYPE_* values; NULL/0: any */
  size_t num_dtypes;
  /* Params naming the same non-empty type variable must have one dtype
   * (ONNX type constraints, e.g. "T"); NULL or "" for none. */
  const char* type_var;
} TsrPluginParam;

/* One attribute of an op. When has_default is 1 and the node lacks the
 * attribute, the host fills the default in before any callback sees it. */
typedef struct TsrPluginAttr {
  const char* name;
  int32_t type; /* TSR_ATTR_* */
  int32_t required;
  int32_t has_default;
  int32_t reserved; /* 0 */
  int64_t default_int;
  float default_float;
  const char* default_string;
  const int64_t* default_ints;   /* TSR_ATTR_INTS */
  const float* default_floats;   /* TSR_ATTR_FLOATS */
  const char* const* default_strings; /* TSR_ATTR_STRINGS */
  size_t default_count;          /* elements of the list default */
} TsrPluginAttr;

/* ---- The host's services (host -> plugin) ------------------------------ */
typedef struct TsrHostApi {
  uint32_t abi_version; /* the host's TSR_PLUGIN_ABI_VERSION */
  uint32_t struct_size; /* sizeof(TsrHostApi) in the host */

  /* A new error status; `message` is copied. Whoever receives a status
   * owns it: the host frees those a plugin returns; a plugin frees those
   * host services return to it (or returns them on, passing ownership). */
  TsrPluginStatus* (*CreateStatus)(int32_t code, const char* message);
  void (*ReleaseStatus)(TsrPluginStatus* status);
  int32_t (*GetStatusCode)(const TsrPluginStatus* status);   /* TSR_OK for NULL */
  const char* (*GetStatusMessage)(const TsrPluginStatus* status); /* "" for NULL */

  /* -- TsrShapeContext (infer_shapes, cost, create_kernel) -- */
  const char* (*GetNodeName)(const TsrShapeContext* ctx);
  size_t (*GetInputCount)(const TsrShapeContext* ctx);
  size_t (*GetOutputCount)(const TsrShapeContext* ctx);
  TsrPluginStatus* (*GetInputInfo)(const TsrShapeContext* ctx, size_t index, TsrTensorInfo* out);
  /* The value of a constant input (weights) and 1 in *is_constant, or 0
   * there when the input is computed at run time or omitted. */
  TsrPluginStatus* (*GetConstantInput)(const TsrShapeContext* ctx, size_t index, TsrTensorView* out,
                                       int32_t* is_constant);
  /* Output infos: set by infer_shapes, read by cost and create_kernel. */
  TsrPluginStatus* (*GetOutputInfo)(const TsrShapeContext* ctx, size_t index, TsrTensorInfo* out);
  /* rank < 0: unknown rank. Only valid inside infer_shapes. */
  TsrPluginStatus* (*SetOutputInfo)(TsrShapeContext* ctx, size_t index, int32_t dtype, int32_t rank,
                                    const int64_t* dims);
  /* Attributes by name: TSR_ERR_NOT_FOUND when the node lacks it (and the
   * op declares no default), TSR_ERR_INVALID_ARGUMENT for another type.
   * Returned pointers stay valid while the model is loaded. */
  TsrPluginStatus* (*GetAttrInt)(const TsrShapeContext* ctx, const char* name, int64_t* out);
  TsrPluginStatus* (*GetAttrFloat)(const TsrShapeContext* ctx, const char* name, float* out);
  TsrPluginStatus* (*GetAttrString)(const TsrShapeContext* ctx, const char* name, const char** out);
  TsrPluginStatus* (*GetAttrInts)(const TsrShapeContext* ctx, const char* name, const int64_t** out,
                                  size_t* count);
  TsrPluginStatus* (*GetAttrFloats)(const TsrShapeContext* ctx, const char* name, const float** out,
                                    size_t* count);

  /* -- TsrKernelContext (run) -- */
  size_t (*GetKernelInputCount)(const TsrKernelContext* ctx);
  size_t (*GetKernelOutputCount)(const TsrKernelContext* ctx);
  /* An omitted optional input gives dtype TSR_DTYPE_UNDEFINED. */
  TsrPluginStatus* (*GetInput)(const TsrKernelContext* ctx, size_t index, TsrTensorView* out);
  /* Outputs are allocated by the host with the shape inferred for this
   * run; the kernel writes every element. */
  TsrPluginStatus* (*GetOutput)(const TsrKernelContext* ctx, size_t index, TsrTensorView* out);
  /* 64-byte-aligned memory that lives until run returns. */
  TsrPluginStatus* (*GetScratch)(TsrKernelContext* ctx, size_t bytes, void** out);
  /* Calls fn(user, begin, end) over chunks that tile [0, n), each at most
   * `grain` items, on the session's threads; returns when all are done.
   * Chunk bounds depend only on n and grain, never on the thread count, so
   * a kernel that writes disjoint outputs per chunk is bitwise
   * thread-invariant. fn must not fail; record an error and return it from
   * run afterwards. */
  void (*ParallelFor)(const TsrKernelContext* ctx, int64_t n, int64_t grain,
                      void (*fn)(void* user, int64_t begin, int64_t end), void* user);
} TsrHostApi;

/* ---- One op (plugin -> host) ------------------------------------------- */
typedef struct TsrPluginOp {
  uint32_t abi_version; /* the plugin's TSR_PLUGIN_ABI_VERSION */
  uint32_t struct_size; /* sizeof(TsrPluginOp) in the plugin */

  /* Key: domain (the plugin's own, e.g. "com.acme"; not "" which is ONNX's),
   * op type, and the inclusive range of op versions it implements. */
  const char* domain;
  const char* op_type;
  int32_t since_version;
  int32_t until_version; /* 0: no upper bound */

  const TsrPluginParam* inputs;
  size_t num_inputs;
  const TsrPluginParam* outputs;
  size_t num_outputs;
  const TsrPluginAttr* attributes;
  size_t num_attributes;

  /* Passed back to every callback below. */
  void* op_state;

  /* Required. Sets every output's dtype and shape from the inputs and
   * attributes. Called at load (dims may be TSR_DYNAMIC_DIM) and again with
   * concrete shapes when a session plans a run. */
  TsrPluginStatus* (*infer_shapes)(void* op_state, TsrShapeContext* ctx);
  /* Optional (NULL: bytes of inputs and outputs, no FLOPs). Concrete
   * shapes; output infos are set. */
  TsrPluginStatus* (*cost)(void* op_state, const TsrShapeContext* ctx, TsrOpCost* out);
  /* Required. Called once per node at load: validates attributes and
   * prepacks constant inputs (GetConstantInput) into the kernel's own
   * memory. *out may stay NULL for a kernel without state. */
  TsrPluginStatus* (*create_kernel)(void* op_state, const TsrShapeContext* ctx, TsrPluginKernel** out);
  /* Required. Runs one node; concurrently with other runs of the same
   * kernel in other sessions, so it only reads `kernel`. */
  TsrPluginStatus* (*run)(void* op_state, const TsrPluginKernel* kernel, TsrKernelContext* ctx);
  /* Optional. Frees a kernel when its model is released. */
  void (*release_kernel)(void* op_state, TsrPluginKernel* kernel);
} TsrPluginOp;

/* ---- The plugin (plugin -> host) --------------------------------------- */
typedef struct TsrPluginApi {
  uint32_t abi_version; /* the plugin's TSR_PLUGIN_ABI_VERSION */
  uint32_t struct_size; /* sizeof(TsrPluginApi) in the plugin */
  const char* name;     /* e.g. "tessera-example-ops", for messages */
  const char* version;  /* the plugin's own version, e.g. "1.0" */
  const TsrPluginOp* const* ops;
  size_t num_ops;
} TsrPluginApi;

/* The entry point every plugin exports (extern "C", TSR_PLUGIN_EXPORT).
 * Called once per load, before anything else. `host` stays valid until the
 * library is unloaded; *out receives the plugin's table, which must also
 * stay valid that long. On failure return a status (made with
 * host->CreateStatus) and the library is unloaded again. */
typedef TsrPluginStatus* (*TsrPluginInitFn)(const TsrHostApi* host, const TsrPluginApi** out);
TSR_PLUGIN_EXPORT TsrPluginStatus* TsrPluginInit(const TsrHostApi* host, const TsrPluginApi** out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_PLUGIN_H_ */
