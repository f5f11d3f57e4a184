/* safetensors.h: reader of Hugging Face safetensors files and sharded folders.
 *
 * File layout: uint64 little-endian header length N, N bytes of JSON
 *   { "<name>": { "dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end] }, ...,
 *     "__metadata__": { "k": "v", ... } }
 * then the data; offsets are relative to the end of the header, shape is outermost-first.
 * Header size is capped (100 MB), every tensor's byte range is checked against its dtype and
 * shape and against the file, and ranges must not overlap.  Dtypes read: F32, F16, BF16 (others
 * are refused by name).  Tensor data points into the read-only mapping. */
#ifndef RS_SAFETENSORS_H
#define RS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

struct rs_st;	/* one opened file or a set of shards; opaque */

struct rs_st_tensor {
	const char *name;        /* NUL-terminated copy */
	enum rs_dtype dtype;
	uint32_t n_dims;         /* 0..4 */
	uint64_t shape[4];       /* outermost first, as stored */
	const void *data;        /* into the mapping of the file that holds it; safetensors does
	                          * not align data, so this may be unaligned for its dtype: read
	                          * it with rs_dtype_to_f32 (any alignment) or memcpy */
	size_t nbytes;
	const char *file;        /* path of that file, for messages */
};

/* Open one .safetensors file. */
struct rs_st *rs_st_open_file(const char *path, char **cause);
/* Open a folder: model.safetensors, or the shards listed in model.safetensors.index.json
 * ("weight_map": name -> file; every listed tensor must be found in its file), or failing both
 * the single *.safetensors file in it. */
struct rs_st *rs_st_open_dir(const char *dir, char **cause);
void rs_st_close(struct rs_st *st);

int64_t rs_st_n_tensors(const struct rs_st *st);
const struct rs_st_tensor *rs_st_tensor(const struct rs_st *st, int64_t i);
const struct rs_st_tensor *rs_st_find(const struct rs_st *st, const char *name); /* NULL if absent */
/* "__metadata__" value of the first file, NULL if absent. */
const char *rs_st_metadata(const struct rs_st *st, const char *key);

#endif
