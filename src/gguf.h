/* gguf.h: a hostile-input-safe reader of GGUF v2/v3 files (llama.cpp's model format).
 *
 * File layout (little-endian):
 *   1. magic "GGUF", uint32 version (2 or 3)
 *   2. uint64 n_tensors, uint64 n_kv
 *   3. n_kv pairs: string key, int32 type, value   (string = uint64 length + bytes, no NUL)
 *      arrays: int32 element type, uint64 count, elements
 *   4. n_tensors infos: string name, uint32 n_dims (<= 4), uint64 ne[n_dims] (ne[0] innermost,
 *      i.e. the row length), int32 ggml type, uint64 offset (relative to the data section)
 *   5. padding to `general.alignment` (default 32), then the data section.
 *
 * Every count, length, offset and shape is checked against the file before use; duplicate keys
 * or tensor names, unknown types, misaligned or out-of-file data are refused with a message
 * naming the file and the field.  Tensor data is a pointer into the read-only mapping. */
#ifndef RS_GGUF_H
#define RS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

enum rs_gguf_type {
	RS_GGUF_UINT8 = 0, RS_GGUF_INT8 = 1, RS_GGUF_UINT16 = 2, RS_GGUF_INT16 = 3,
	RS_GGUF_UINT32 = 4, RS_GGUF_INT32 = 5, RS_GGUF_FLOAT32 = 6, RS_GGUF_BOOL = 7,
	RS_GGUF_STRING = 8, RS_GGUF_ARRAY = 9, RS_GGUF_UINT64 = 10, RS_GGUF_INT64 = 11,
	RS_GGUF_FLOAT64 = 12
};

/* ggml tensor type numbers of the types rankscope reads and writes (ggml's numbering). */
enum rs_ggml_type {
	RS_GGML_F32 = 0, RS_GGML_F16 = 1, RS_GGML_Q4_0 = 2, RS_GGML_Q8_0 = 8, RS_GGML_Q4_K = 12,
	RS_GGML_Q6_K = 14, RS_GGML_BF16 = 30
};

#define RS_GGUF_MAGIC		"GGUF"
#define RS_GGUF_VERSION		3	/* the version the writer writes */
#define RS_GGUF_DEFAULT_ALIGNMENT	32
#define RS_GGUF_MAX_DIMS	4

/* Our dtype of a ggml type number; -1 where rankscope does not read that type. */
int rs_gguf_dtype_of(uint32_t ggml_type);
/* The ggml type number of one of our dtypes. */
uint32_t rs_gguf_ggml_of(enum rs_dtype dt);
/* Name of a ggml type number ("Q8_0"; types rankscope does not read included). */
const char *rs_gguf_ggml_name(uint32_t ggml_type);

struct rs_gguf;	/* opaque */

struct rs_gguf_tensor {
	const char *name;        /* NUL-terminated copy */
	uint32_t ggml_type;      /* as stored */
	enum rs_dtype dtype;     /* mapped; tensors of other ggml types are refused at open */
	uint32_t n_dims;
	uint64_t ne[4];          /* ne[0] = innermost (row length); unused dims are 1 */
	const void *data;        /* into the mapping, nbytes long */
	size_t nbytes;
};

/* Open and validate.  NULL + *cause on any problem. */
struct rs_gguf *rs_gguf_open(const char *path, char **cause);
void rs_gguf_close(struct rs_gguf *g);
const char *rs_gguf_path(const struct rs_gguf *g);
uint32_t rs_gguf_version(const struct rs_gguf *g);

/* Key/value metadata; index-based like ggml's API.  Keys are NUL-terminated copies. */
int64_t rs_gguf_n_kv(const struct rs_gguf *g);
int64_t rs_gguf_find_key(const struct rs_gguf *g, const char *key);   /* -1 if absent */
const char *rs_gguf_key(const struct rs_gguf *g, int64_t i);
enum rs_gguf_type rs_gguf_kv_type(const struct rs_gguf *g, int64_t i);

/* Typed getters by key: 0 on success; RS_EFORMAT (with cause naming file and key) if the key is
 * of an incompatible type; 1 if the key is absent (out untouched).  Integers of any width and
 * bool convert to int64; float32/float64 to double; get_str gives a pointer into the mapping. */
int rs_gguf_get_int(const struct rs_gguf *g, const char *key, int64_t *out, char **cause);
int rs_gguf_get_float(const struct rs_gguf *g, const char *key, double *out, char **cause);
int rs_gguf_get_str(const struct rs_gguf *g, const char *key, const char **s, size_t *len,
                    char **cause);

/* Arrays (kv type RS_GGUF_ARRAY) by kv index. */
enum rs_gguf_type rs_gguf_arr_type(const struct rs_gguf *g, int64_t i);
uint64_t rs_gguf_arr_n(const struct rs_gguf *g, int64_t i);
/* Numeric arrays: pointer to the raw little-endian elements in the mapping (may be unaligned:
 * read with memcpy).  NULL for string arrays. */
const void *rs_gguf_arr_data(const struct rs_gguf *g, int64_t i);
/* String arrays: element j as pointer + length (not NUL-terminated).  NULL if out of range. */
const char *rs_gguf_arr_str(const struct rs_gguf *g, int64_t i, uint64_t j, size_t *len);

/* Tensors. */
int64_t rs_gguf_n_tensors(const struct rs_gguf *g);
const struct rs_gguf_tensor *rs_gguf_tensor(const struct rs_gguf *g, int64_t i);
int64_t rs_gguf_find_tensor(const struct rs_gguf *g, const char *name);  /* -1 if absent */

#endif
