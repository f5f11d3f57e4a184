/* gguf-write.h: a streaming writer of GGUF v3 files (the layout gguf.h describes).
 *
 * Usage: rs_ggw_new(path); rs_ggw_kv_* add metadata (kept in memory, serialized as added);
 * rs_ggw_add_tensor declares tensors with a fill callback; rs_ggw_finish writes the header, the
 * tensor infos, padding to the alignment (32) and each tensor's data at an offset that is a
 * multiple of the alignment, into a temporary file beside path that is fsynced and renamed over
 * path (atomic.h).  Tensor data is asked for in chunks, so no tensor is ever in memory whole.
 * rs_ggw_free releases the writer and removes the temporary file unless finish succeeded.
 * Duplicate keys or tensor names are refused when added. */
#ifndef RS_GGUF_WRITE_H
#define RS_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "status.h"

struct rs_ggw;	/* opaque */

/* Fill buf with bytes [off, off + len) of the tensor's data in its ggml type.  Chunks are
 * consecutive and start at multiples of the chunk size the writer uses (a multiple of every
 * block size).  Return 0, or a negative RS_E* with *cause set to stop the write. */
typedef int (*rs_ggw_fill_fn)(void *ud, void *buf, size_t off, size_t len, char **cause);

/* Start writing `path`.  NULL + *cause on failure. */
struct rs_ggw *rs_ggw_new(const char *path, char **cause);

/* Scalar metadata. */
int rs_ggw_kv_u32(struct rs_ggw *w, const char *key, uint32_t v, char **cause);
int rs_ggw_kv_i32(struct rs_ggw *w, const char *key, int32_t v, char **cause);
int rs_ggw_kv_f32(struct rs_ggw *w, const char *key, float v, char **cause);
int rs_ggw_kv_bool(struct rs_ggw *w, const char *key, int v, char **cause);
int rs_ggw_kv_str(struct rs_ggw *w, const char *key, const char *s, size_t len, char **cause);
/* A numeric array: n elements of type et (not STRING or ARRAY) in host order at data. */
int rs_ggw_kv_arr(struct rs_ggw *w, const char *key, enum rs_gguf_type et, const void *data,
    uint64_t n, char **cause);
/* A string array: element i is get(ud, i, &len). */
int rs_ggw_kv_arr_str(struct rs_ggw *w, const char *key, uint64_t n,
    const char *(*get)(void *ud, uint64_t i, size_t *len), void *ud, char **cause);
/* Copy key/value pair i of an open GGUF file as it is (any type). */
int rs_ggw_kv_copy(struct rs_ggw *w, const struct rs_gguf *g, int64_t i, char **cause);

/* A tensor of ggml type `type` with n_dims (1..4) dimensions ne[0] innermost (the row length,
 * a multiple of the type's block size). */
int rs_ggw_add_tensor(struct rs_ggw *w, const char *name, uint32_t type, uint32_t n_dims,
    const uint64_t *ne, rs_ggw_fill_fn fill, void *ud, char **cause);

/* Write everything and rename over the target; the job may cancel between chunks (RS_ECANCEL).
 * On any failure the target is untouched.  Call at most once.  *size: bytes written. */
int rs_ggw_finish(struct rs_ggw *w, struct rs_job *job, uint64_t *size, char **cause);

/* Free the writer; removes the temporary file unless finish succeeded. */
void rs_ggw_free(struct rs_ggw *w);

#endif
