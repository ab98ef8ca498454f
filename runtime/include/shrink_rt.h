/* shrink runtime: loads .shr models and runs them with integer kernels.
 * Plain C API, no allocation in the run path (the caller provides the arena).
 *
 *   shrink_rt_model* m = NULL;  char err[256];
 *   if (shrink_rt_load(bytes, size, &m, err, sizeof err) != SHRINK_RT_OK) { puts(err); return 1; }
 *   size_t n = shrink_rt_arena_size(m);  void* arena = malloc(n);
 *   shrink_rt_set_input_f32(m, arena, n, 0, x, x_count);  shrink_rt_run(m, arena, n);
 *   shrink_rt_get_output_f32(m, arena, 0, y, y_count);  free(arena);  shrink_rt_free(m);
 *
 * Loading checks the whole file (header, CRCs, every offset, size, index, shape and format; the
 * format is docs/shr-format.md) and never aborts on bad data: every problem is a status and a
 * one-line message. Shapes exclude the batch dimension (the runtime runs batch 1).
 */
#ifndef SHRINK_RT_H_
#define SHRINK_RT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes. Append only. */
typedef enum {
  SHRINK_RT_OK = 0,
  SHRINK_RT_INVALID_ARGUMENT = 1,
  SHRINK_RT_UNSUPPORTED = 2,         /* newer format version, unknown enum value or flag */
  SHRINK_RT_OUT_OF_MEMORY = 3,
  SHRINK_RT_CORRUPT_MODEL = 4,       /* structure, range, shape or consistency check failed */
  SHRINK_RT_IO_ERROR = 5,            /* a file could not be opened or read */
  SHRINK_RT_NOT_A_MODEL = 6,         /* the bytes do not start with the .shr magic */
  SHRINK_RT_CHECKSUM_MISMATCH = 7,   /* a header or section CRC-32 differs */
} shrink_rt_status;

/** Version of the runtime library, e.g. "0.1.0". */
const char* shrink_rt_version(void);
/** A short English name of a status code ("ok", "corrupt model", ...). */
const char* shrink_rt_status_str(shrink_rt_status s);

/** A loaded model (opaque). */
typedef struct shrink_rt_model shrink_rt_model;

/** Tensor element types; the values of the file format (append only). */
typedef enum {
  SHRINK_RT_F32 = 0,
  SHRINK_RT_I8 = 1,
  SHRINK_RT_I16 = 2,
  SHRINK_RT_I32 = 3,
  SHRINK_RT_U8 = 4,
  SHRINK_RT_U16 = 5,
  SHRINK_RT_U32 = 6,
} shrink_rt_dtype;

/** Storage of a constant tensor; the values of the file format (append only). */
typedef enum {
  SHRINK_RT_DENSE = 0,
  SHRINK_RT_CSR = 1,
  SHRINK_RT_CODEBOOK = 2,
  SHRINK_RT_CSR_CODEBOOK = 3, /* sparse codebook: CSR of codebook indices, u8 column gaps */
} shrink_rt_storage;

/** "dense", "csr", "codebook", "csr-codebook" ("unknown" for other values). */
const char* shrink_rt_storage_str(shrink_rt_storage s);

/** Loads a model from memory. The bytes are not copied: keep them alive and unchanged until
 *  shrink_rt_free, and aligned to 8 bytes (64 is best). On failure *out is NULL and, when
 *  msg is not NULL, a NUL-terminated message (truncated to msg_size) says what was wrong. */
shrink_rt_status shrink_rt_load(const void* data, size_t size, shrink_rt_model** out, char* msg, size_t msg_size);
/** Loads a model from a file (the runtime owns the bytes). Same contract as shrink_rt_load. */
shrink_rt_status shrink_rt_load_file(const char* path, shrink_rt_model** out, char* msg, size_t msg_size);
/* Kernel selection (docs/runtime.md, "Kernel selection"). The interpreter runs each op through a
 * registered kernel: one per op kind, weight storage and dtype, named shrink_rt_kernel_NAME with
 * NAME one of SHRINK_RT_KERNELS_ALL below. shrink_rt_load and shrink_rt_load_file register every
 * kernel. shrink_rt_load_kernels registers only those of a NULL-terminated list: a program that
 * calls nothing else links only those kernels (with the linker's --gc-sections), e.g. on a
 * microcontroller. The C export lists the kernels of its model (U_KERNELS in the generated header, U the upper-case prefix):
 *   static const shrink_rt_kernel* const kernels[] = {MODEL_KERNELS(SHRINK_RT_KERNEL_REF) NULL};
 *   shrink_rt_load_kernels(model_data, MODEL_SIZE, kernels, &m, err, sizeof err);
 * An op whose kernel is not registered fails the load with SHRINK_RT_UNSUPPORTED and a message
 * naming the kernel. */
typedef struct shrink_rt_kernel shrink_rt_kernel;

/* X-macro of every kernel: K(NAME) for each. codebook_expand expands codebook (not CSR codebook)
 * weights into the arena, after which the dense kernel of the op runs. */
#define SHRINK_RT_KERNELS_ALL(K)                                                                      \
  K(conv2d_f32) K(conv2d_csr_f32) K(conv2d_q) K(conv2d_csr_q) K(conv2d_csr_codebook_q) K(dense_f32)   \
  K(dense_csr_f32) K(dense_q) K(dense_csr_q) K(dense_csr_codebook_q) K(codebook_expand)               \
  K(maxpool_f32) K(maxpool_q) K(avgpool_f32) K(avgpool_q) K(global_avgpool_f32) K(global_avgpool_q)   \
  K(add_f32) K(add_q) K(concat_f32) K(concat_q) K(activation_f32) K(requantize_q) K(lut_q)            \
  K(softmax_f32) K(quantize_f32) K(dequantize_q)
/* K for a list of kernel pointers: {MODEL_KERNELS(SHRINK_RT_KERNEL_REF) NULL}. */
#define SHRINK_RT_KERNEL_REF(name) &shrink_rt_kernel_##name,
#define SHRINK_RT_KERNEL_DECLARE_(name) extern const shrink_rt_kernel shrink_rt_kernel_##name;
SHRINK_RT_KERNELS_ALL(SHRINK_RT_KERNEL_DECLARE_)
#undef SHRINK_RT_KERNEL_DECLARE_
/** Every kernel, NULL-terminated (what shrink_rt_load registers). */
extern const shrink_rt_kernel* const shrink_rt_kernels_all[];

/** shrink_rt_load with only the kernels of `kernels`, a NULL-terminated list (NULL itself is
 *  SHRINK_RT_INVALID_ARGUMENT). The list is read during the call only. */
shrink_rt_status shrink_rt_load_kernels(const void* data, size_t size, const shrink_rt_kernel* const* kernels,
                                        shrink_rt_model** out, char* msg, size_t msg_size);
/** The kernels model m runs (their NAMEs, in SHRINK_RT_KERNELS_ALL order): writes up to `max`
 *  names to `names` (static strings) and returns how many there are (-1 when m is NULL). */
int shrink_rt_model_kernels(const shrink_rt_model* m, const char** names, int max);
/** Frees a model (NULL is allowed). */
void shrink_rt_free(shrink_rt_model* m);

/* Inspection. Functions taking an index return -1 / NULL / SHRINK_RT_INVALID_ARGUMENT when
 * the index is out of range or m is NULL. */
const char* shrink_rt_model_name(const shrink_rt_model* m);
/** Tool and version that wrote the file, e.g. "shrink 0.1.0". */
const char* shrink_rt_model_producer(const shrink_rt_model* m);
/** The .shr format version of the file. */
int shrink_rt_format_version(const shrink_rt_model* m);
/** Bytes of the file (flash). */
size_t shrink_rt_model_size(const shrink_rt_model* m);
int shrink_rt_input_count(const shrink_rt_model* m);
int shrink_rt_output_count(const shrink_rt_model* m);
/** Tensor id of graph input / output i. */
int shrink_rt_input_tensor(const shrink_rt_model* m, int i);
int shrink_rt_output_tensor(const shrink_rt_model* m, int i);
int shrink_rt_label_count(const shrink_rt_model* m);
const char* shrink_rt_label(const shrink_rt_model* m, int i);
/** The input normalization x' = (x - mean) / std of channel c of input 0 (0 and 1 when absent). */
float shrink_rt_input_mean(const shrink_rt_model* m, int c);
float shrink_rt_input_std(const shrink_rt_model* m, int c);

typedef struct {
  const char* name;
  shrink_rt_dtype dtype;
  shrink_rt_storage storage;
  int encoding;            /* 0 = raw, 1 = Huffman (docs/shr-format.md) */
  int is_constant;         /* 1 for weights, biases, tables; 0 for activations */
  int rank;                /* 1..4 */
  int32_t dims[4];         /* batch-less shape; dims[i >= rank] = 0 */
  int64_t numel;
  int bits;                /* fixed-point width (32 for biases), 0 for float */
  int fl;                  /* fractional length (of channel 0 when per_channel) */
  int per_channel;         /* number of per-channel FLs, 0 when one FL */
  int index_bits;          /* codebook, CSR codebook */
  uint32_t centroid_count; /* codebook, CSR codebook */
  uint32_t nnz;            /* CSR, CSR codebook (stored entries, padding included) */
  size_t stored_bytes;     /* bytes of its data in the file (0 for activations) */
  size_t decoded_bytes;    /* encoding 1 (Huffman): bytes decoded at load into model memory; else 0 */
} shrink_rt_tensor_info;

int shrink_rt_tensor_count(const shrink_rt_model* m);
shrink_rt_status shrink_rt_tensor_info_get(const shrink_rt_model* m, int id, shrink_rt_tensor_info* out);

typedef struct {
  const char* name;        /* the node's name */
  const char* op;          /* "Conv2d", "Quantize", ... */
  int opcode;
  int input_count;
  int output;              /* tensor id */
  int weight, bias, lut;   /* tensor ids, -1 when absent */
} shrink_rt_op_info;

int shrink_rt_op_count(const shrink_rt_model* m);
shrink_rt_status shrink_rt_op_info_get(const shrink_rt_model* m, int i, shrink_rt_op_info* out);
/** Tensor id of activation input j of op i. */
int shrink_rt_op_input(const shrink_rt_model* m, int i, int j);

/* Running. The interpreter plans every activation, kernel scratch buffer and expanded codebook
 * weight into ONE caller-provided arena at load time (docs/runtime.md); shrink_rt_run performs
 * no allocation. The arena may have any alignment (the runtime aligns it to 64 bytes inside;
 * shrink_rt_arena_size includes the 63 spare bytes). Between runs the arena belongs to the
 * model: codebook weights are expanded into it on the first run with a given arena pointer and
 * reused by later runs with the same pointer. One model and arena: one thread at a time. */

/** Bytes of arena a run needs (0 when m is NULL). */
size_t shrink_rt_arena_size(const shrink_rt_model* m);
/** Bytes of arena the same model needs on a target without fast kernels (the portable scalar
 *  kernels only: e.g. a Cortex-M4 build), planned here. Equals shrink_rt_arena_size on such a
 *  build; may be less than it on x86-64 with AVX2 (their scratch). 0 when m is NULL. For
 *  exporters (shrink export --format c); a device checks shrink_rt_arena_size. */
size_t shrink_rt_arena_size_scalar(const shrink_rt_model* m);
/** Sets float input i (n values, C order, batch-less shape). The model's normalization
 *  (x - mean[c]) / std[c] is applied here in float32, then the model's Quantize op runs. */
shrink_rt_status shrink_rt_set_input_f32(shrink_rt_model* m, void* arena, size_t arena_size, int i, const float* x,
                                         size_t n);
/** The integer format of input i for shrink_rt_set_input_q: dtype I8 (int8_t values) or I16
 *  (int16_t), bits and FL. SHRINK_RT_UNSUPPORTED for a float model (no Quantize op). */
shrink_rt_status shrink_rt_input_format(const shrink_rt_model* m, int i, shrink_rt_dtype* dtype, int* bits, int* fl);
/** Sets input i as already-quantized integers (devices without an FPU): q = quantize((x - mean)
 *  / std) with the format of shrink_rt_input_format, n values of int8_t / int16_t. The model's
 *  Quantize op is then skipped. Values outside B bits are saturated. */
shrink_rt_status shrink_rt_set_input_q(shrink_rt_model* m, void* arena, size_t arena_size, int i, const void* q,
                                       size_t n);
/** Runs the model (no allocation). INVALID_ARGUMENT when the arena is NULL or too small. */
shrink_rt_status shrink_rt_run(shrink_rt_model* m, void* arena, size_t arena_size);
/** Output i as float32 (n = its element count); an integer output is dequantized (exact). */
shrink_rt_status shrink_rt_get_output_f32(const shrink_rt_model* m, const void* arena, int i, float* y, size_t n);
/** The integer format of output i for shrink_rt_get_output_q: the last integer tensor it is
 *  computed from (the input of a final Dequantize). UNSUPPORTED for float models. */
shrink_rt_status shrink_rt_output_format(const shrink_rt_model* m, int i, shrink_rt_dtype* dtype, int* bits, int* fl);
/** Output i as integers (int8_t / int16_t by shrink_rt_output_format), n values. */
shrink_rt_status shrink_rt_get_output_q(const shrink_rt_model* m, const void* arena, int i, void* q, size_t n);
/** Per-op timing (steady clock) of the following runs: on (1) or off (0, the default). */
shrink_rt_status shrink_rt_set_profiling(shrink_rt_model* m, int enable);
/** Microseconds op i took in the last profiled run (name and op: shrink_rt_op_info_get). */
shrink_rt_status shrink_rt_profile(const shrink_rt_model* m, int op, double* microseconds);
/** Debugging: re-plans so that no buffer is reused and every tensor can be read after a run
 *  (shrink_rt_tensor_data); the arena size grows. Call before allocating the arena. */
shrink_rt_status shrink_rt_keep_all_tensors(shrink_rt_model* m);
/** The bytes of tensor id after a run: activations in the arena (valid while their buffer is not
 *  reused: all of them after shrink_rt_keep_all_tensors), dense constants in the model; NULL
 *  otherwise. Element type: shrink_rt_tensor_info. */
const void* shrink_rt_tensor_data(const shrink_rt_model* m, const void* arena, int id);


#ifdef __cplusplus
}
#endif
#endif /* SHRINK_RT_H_ */
