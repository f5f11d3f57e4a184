/* gguf-write.c: a streaming writer of GGUF v3 files.
 *
 * Metadata is serialized into a growing buffer as it is added (a vocabulary is a few MB at
 * most); tensors are only declared until finish, which streams their data through a chunk
 * buffer into an atomic file. */
#include "config.h"

#include "gguf-write.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "atomic.h"
#include "dtype.h"

#define GGW_CHUNK (4u << 20)	/* bytes of tensor data per fill call: a multiple of every block */

struct ggw_tensor {
	char *name;
	uint32_t type;
	uint32_t n_dims;
	uint64_t ne[RS_GGUF_MAX_DIMS];
	uint64_t nbytes, offset;	/* offset in the data section */
	rs_ggw_fill_fn fill;
	void *ud;
};

struct rs_ggw {
	char *path;
	struct rs_afile *af;
	uint8_t *kv;                    /* serialized key/value pairs */
	size_t kv_len, kv_cap;
	uint64_t n_kv;
	char **keys;                    /* (n_kv) for the duplicate check */
	struct ggw_tensor *t;
	size_t n_t, cap_t;
	int done;
};

struct rs_ggw *
rs_ggw_new(const char *path, char **cause)
{
	struct rs_ggw *w;

	if ((w = rs_calloc(1, sizeof *w)) == NULL || (w->path = rs_strdup(path)) == NULL) {
		rs_free(w);
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if ((w->af = rs_afile_open(path, cause)) == NULL) {
		rs_free(w->path);
		rs_free(w);
		return NULL;
	}
	return w;
}

void
rs_ggw_free(struct rs_ggw *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (!w->done)
		rs_afile_abort(w->af);
	for (i = 0; i < w->n_kv; i++)
		rs_free(w->keys[i]);
	for (i = 0; i < w->n_t; i++)
		rs_free(w->t[i].name);
	rs_free(w->keys);
	rs_free(w->t);
	rs_free(w->kv);
	rs_free(w->path);
	rs_free(w);
}

/* Append n bytes to the metadata buffer. */
static int
kv_put(struct rs_ggw *w, const void *p, size_t n, char **cause)
{
	if (w->kv_len + n > w->kv_cap) {
		size_t cap = w->kv_cap == 0 ? 4096 : w->kv_cap;
		uint8_t *nb;

		while (cap < w->kv_len + n)
			cap *= 2;
		if ((nb = rs_realloc(w->kv, cap)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "%s: out of memory for the metadata", w->path);
		w->kv = nb;
		w->kv_cap = cap;
	}
	memcpy(w->kv + w->kv_len, p, n);
	w->kv_len += n;
	return 0;
}

/* Append a little-endian integer of `bytes` bytes. */
static int
kv_put_le(struct rs_ggw *w, uint64_t v, int bytes, char **cause)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return kv_put(w, b, (size_t)bytes, cause);
}

/* Append a GGUF string (uint64 length + bytes). */
static int
kv_put_str(struct rs_ggw *w, const char *s, size_t len, char **cause)
{
	int r;

	if ((r = kv_put_le(w, len, 8, cause)) != 0)
		return r;
	return len == 0 ? 0 : kv_put(w, s, len, cause);
}

/* Start a pair: refuse a duplicate key, write the key and the value type. */
static int
kv_begin(struct rs_ggw *w, const char *key, enum rs_gguf_type type, char **cause)
{
	char **nk;
	uint64_t i;
	int r;

	for (i = 0; i < w->n_kv; i++)
		if (strcmp(w->keys[i], key) == 0)
			return rs_fail(cause, RS_EINVAL, "%s: duplicate key '%s'", w->path, key);
	if ((nk = rs_realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *nk)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	w->keys = nk;
	if ((nk[w->n_kv] = rs_strdup(key)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	w->n_kv++;
	if ((r = kv_put_str(w, key, strlen(key), cause)) != 0)
		return r;
	return kv_put_le(w, (uint64_t)type, 4, cause);
}

int
rs_ggw_kv_u32(struct rs_ggw *w, const char *key, uint32_t v, char **cause)
{
	int r = kv_begin(w, key, RS_GGUF_UINT32, cause);

	return r != 0 ? r : kv_put_le(w, v, 4, cause);
}

int
rs_ggw_kv_i32(struct rs_ggw *w, const char *key, int32_t v, char **cause)
{
	int r = kv_begin(w, key, RS_GGUF_INT32, cause);

	return r != 0 ? r : kv_put_le(w, (uint32_t)v, 4, cause);
}

int
rs_ggw_kv_f32(struct rs_ggw *w, const char *key, float v, char **cause)
{
	uint32_t u;
	int r = kv_begin(w, key, RS_GGUF_FLOAT32, cause);

	memcpy(&u, &v, sizeof u);
	return r != 0 ? r : kv_put_le(w, u, 4, cause);
}

int
rs_ggw_kv_bool(struct rs_ggw *w, const char *key, int v, char **cause)
{
	int r = kv_begin(w, key, RS_GGUF_BOOL, cause);

	return r != 0 ? r : kv_put_le(w, v != 0, 1, cause);
}

int
rs_ggw_kv_str(struct rs_ggw *w, const char *key, const char *s, size_t len, char **cause)
{
	int r = kv_begin(w, key, RS_GGUF_STRING, cause);

	return r != 0 ? r : kv_put_str(w, s, len, cause);
}

/* Bytes of one element of a fixed-size value type; 0 for strings, arrays and unknown types. */
static int
elem_bytes(enum rs_gguf_type t)
{
	switch (t) {
	case RS_GGUF_UINT8: case RS_GGUF_INT8: case RS_GGUF_BOOL:
		return 1;
	case RS_GGUF_UINT16: case RS_GGUF_INT16:
		return 2;
	case RS_GGUF_UINT32: case RS_GGUF_INT32: case RS_GGUF_FLOAT32:
		return 4;
	case RS_GGUF_UINT64: case RS_GGUF_INT64: case RS_GGUF_FLOAT64:
		return 8;
	default:
		return 0;
	}
}

/* Append n elements of et from host memory as little-endian. */
static int
kv_put_elems(struct rs_ggw *w, enum rs_gguf_type et, const void *data, uint64_t n,
    char **cause)
{
	const uint8_t *p = data;
	int eb = elem_bytes(et), r;
	uint64_t i, v;

	for (i = 0; i < n; i++) {
		if (eb == 1)
			v = p[i];
		else if (eb == 2) {
			uint16_t x;
			memcpy(&x, p + 2 * i, 2);
			v = x;
		} else if (eb == 4) {
			uint32_t x;
			memcpy(&x, p + 4 * i, 4);
			v = x;
		} else
			memcpy(&v, p + 8 * i, 8);
		if ((r = kv_put_le(w, v, eb, cause)) != 0)
			return r;
	}
	return 0;
}

int
rs_ggw_kv_arr(struct rs_ggw *w, const char *key, enum rs_gguf_type et, const void *data,
    uint64_t n, char **cause)
{
	int r;

	if (elem_bytes(et) == 0)
		return rs_fail(cause, RS_EINVAL, "%s: key '%s': array element type %d is not numeric",
		    w->path, key, (int)et);
	if ((r = kv_begin(w, key, RS_GGUF_ARRAY, cause)) != 0 ||
	    (r = kv_put_le(w, (uint64_t)et, 4, cause)) != 0 || (r = kv_put_le(w, n, 8, cause)) != 0)
		return r;
	return kv_put_elems(w, et, data, n, cause);
}

int
rs_ggw_kv_arr_str(struct rs_ggw *w, const char *key, uint64_t n,
    const char *(*get)(void *ud, uint64_t i, size_t *len), void *ud, char **cause)
{
	uint64_t i;
	size_t len;
	const char *s;
	int r;

	if ((r = kv_begin(w, key, RS_GGUF_ARRAY, cause)) != 0 ||
	    (r = kv_put_le(w, RS_GGUF_STRING, 4, cause)) != 0 ||
	    (r = kv_put_le(w, n, 8, cause)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((s = get(ud, i, &len)) == NULL)
			return rs_fail(cause, RS_EINVAL, "%s: key '%s': no element %llu", w->path, key,
			    (unsigned long long)i);
		if ((r = kv_put_str(w, s, len, cause)) != 0)
			return r;
	}
	return 0;
}

/* String element i of a GGUF file's string array (a get callback). */
struct copy_arr {
	const struct rs_gguf *g;
	int64_t kv;
};

static const char *
copy_arr_str(void *ud, uint64_t i, size_t *len)
{
	const struct copy_arr *c = ud;

	return rs_gguf_arr_str(c->g, c->kv, i, len);
}

int
rs_ggw_kv_copy(struct rs_ggw *w, const struct rs_gguf *g, int64_t i, char **cause)
{
	const char *key = rs_gguf_key(g, i), *s;
	enum rs_gguf_type t = rs_gguf_kv_type(g, i), et;
	struct copy_arr ca;
	size_t len;
	int64_t iv;
	double dv;
	int r;

	if (key == NULL)
		return rs_fail(cause, RS_EINVAL, "%s: no key %lld", rs_gguf_path(g), (long long)i);
	if (t == RS_GGUF_STRING) {
		if ((r = rs_gguf_get_str(g, key, &s, &len, cause)) != 0)
			return r;
		return rs_ggw_kv_str(w, key, s, len, cause);
	}
	if (t == RS_GGUF_ARRAY) {
		et = rs_gguf_arr_type(g, i);
		if (et == RS_GGUF_STRING) {
			ca.g = g;
			ca.kv = i;
			return rs_ggw_kv_arr_str(w, key, rs_gguf_arr_n(g, i), copy_arr_str, &ca,
			    cause);
		}
		/* the reader's elements are little-endian already: copy them byte for byte */
		if ((r = kv_begin(w, key, RS_GGUF_ARRAY, cause)) != 0 ||
		    (r = kv_put_le(w, (uint64_t)et, 4, cause)) != 0 ||
		    (r = kv_put_le(w, rs_gguf_arr_n(g, i), 8, cause)) != 0)
			return r;
		return kv_put(w, rs_gguf_arr_data(g, i), (size_t)rs_gguf_arr_n(g, i) *
		    (size_t)elem_bytes(et), cause);
	}
	if (t == RS_GGUF_FLOAT32 || t == RS_GGUF_FLOAT64) {
		if ((r = rs_gguf_get_float(g, key, &dv, cause)) != 0)
			return r;
		if (t == RS_GGUF_FLOAT32)
			return rs_ggw_kv_f32(w, key, (float)dv, cause);
		if ((r = kv_begin(w, key, t, cause)) != 0)
			return r;
		return kv_put_elems(w, t, &dv, 1, cause);
	}
	if ((r = rs_gguf_get_int(g, key, &iv, cause)) != 0)
		return r;
	if ((r = kv_begin(w, key, t, cause)) != 0)
		return r;
	return kv_put_le(w, (uint64_t)iv, elem_bytes(t), cause);
}

int
rs_ggw_add_tensor(struct rs_ggw *w, const char *name, uint32_t type, uint32_t n_dims,
    const uint64_t *ne, rs_ggw_fill_fn fill, void *ud, char **cause)
{
	struct ggw_tensor *t;
	uint64_t rows = 1, rb;
	int dt = rs_gguf_dtype_of(type);
	uint32_t d;
	size_t i;

	if (dt < 0 || n_dims < 1 || n_dims > RS_GGUF_MAX_DIMS)
		return rs_fail(cause, RS_EINVAL, "%s: tensor '%s': ggml type %u with %u dimensions "
		    "is not written", w->path, name, type, n_dims);
	for (i = 0; i < w->n_t; i++)
		if (strcmp(w->t[i].name, name) == 0)
			return rs_fail(cause, RS_EINVAL, "%s: duplicate tensor '%s'", w->path, name);
	if ((rb = rs_dtype_row_bytes((enum rs_dtype)dt, ne[0])) == 0)
		return rs_fail(cause, RS_EINVAL, "%s: tensor '%s': row length %llu is not a multiple "
		    "of the %s block", w->path, name, (unsigned long long)ne[0],
		    rs_gguf_ggml_name(type));
	if (w->n_t == w->cap_t) {
		size_t cap = w->cap_t == 0 ? 64 : 2 * w->cap_t;
		if ((t = rs_realloc(w->t, cap * sizeof *t)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
		w->t = t;
		w->cap_t = cap;
	}
	t = &w->t[w->n_t];
	memset(t, 0, sizeof *t);
	if ((t->name = rs_strdup(name)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	t->type = type;
	t->n_dims = n_dims;
	for (d = 0; d < RS_GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	for (d = 1; d < n_dims; d++)
		rows *= ne[d];
	t->nbytes = rb * rows;
	t->fill = fill;
	t->ud = ud;
	w->n_t++;
	return 0;
}

/* Write n bytes to the output stream. */
static int
out_write(struct rs_ggw *w, const void *p, size_t n, char **cause)
{
	if (n > 0 && fwrite(p, 1, n, rs_afile_stream(w->af)) != n)
		return rs_fail(cause, RS_EIO, "%s: write failed", w->path);
	return 0;
}

/* Write a little-endian integer of `bytes` bytes to the output. */
static int
out_le(struct rs_ggw *w, uint64_t v, int bytes, char **cause)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return out_write(w, b, (size_t)bytes, cause);
}

/* Zero bytes up to the next multiple of the alignment after `at`; returns the new position. */
static int
out_pad(struct rs_ggw *w, uint64_t *at, char **cause)
{
	static const uint8_t zeros[RS_GGUF_DEFAULT_ALIGNMENT];
	size_t pad = (size_t)((RS_GGUF_DEFAULT_ALIGNMENT - *at % RS_GGUF_DEFAULT_ALIGNMENT) %
	    RS_GGUF_DEFAULT_ALIGNMENT);

	*at += pad;
	return out_write(w, zeros, pad, cause);
}

int
rs_ggw_finish(struct rs_ggw *w, struct rs_job *job, uint64_t *size, char **cause)
{
	uint64_t at, data_off = 0, total = 0, done = 0, off;
	uint8_t *chunk = NULL;
	size_t i, len;
	uint32_t d;
	int r;

	for (i = 0; i < w->n_t; i++) {
		w->t[i].offset = data_off;
		data_off += w->t[i].nbytes;
		data_off += (RS_GGUF_DEFAULT_ALIGNMENT - data_off % RS_GGUF_DEFAULT_ALIGNMENT) %
		    RS_GGUF_DEFAULT_ALIGNMENT;
		total += w->t[i].nbytes;
	}
	if ((r = out_write(w, RS_GGUF_MAGIC, 4, cause)) != 0 ||
	    (r = out_le(w, RS_GGUF_VERSION, 4, cause)) != 0 ||
	    (r = out_le(w, w->n_t, 8, cause)) != 0 || (r = out_le(w, w->n_kv, 8, cause)) != 0 ||
	    (r = out_write(w, w->kv, w->kv_len, cause)) != 0)
		return r;
	at = 24 + w->kv_len;
	for (i = 0; i < w->n_t; i++) {
		const struct ggw_tensor *t = &w->t[i];
		size_t nl = strlen(t->name);

		if ((r = out_le(w, nl, 8, cause)) != 0 || (r = out_write(w, t->name, nl, cause)) != 0 ||
		    (r = out_le(w, t->n_dims, 4, cause)) != 0)
			return r;
		for (d = 0; d < t->n_dims; d++)
			if ((r = out_le(w, t->ne[d], 8, cause)) != 0)
				return r;
		if ((r = out_le(w, t->type, 4, cause)) != 0 || (r = out_le(w, t->offset, 8, cause)) != 0)
			return r;
		at += 8 + nl + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
	}
	/* no data section without tensors: no padding either (as gguf-py writes a vocabulary) */
	if (w->n_t > 0 && (r = out_pad(w, &at, cause)) != 0)
		return r;
	if (w->n_t > 0 && (chunk = rs_malloc(GGW_CHUNK)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	for (i = 0; r == 0 && i < w->n_t; i++) {
		const struct ggw_tensor *t = &w->t[i];

		for (off = 0; r == 0 && off < t->nbytes; off += len) {
			len = t->nbytes - off < GGW_CHUNK ? (size_t)(t->nbytes - off) : GGW_CHUNK;
			if (rs_job_cancelled(job)) {
				r = rs_fail(cause, RS_ECANCEL, "%s: cancelled", w->path);
				break;
			}
			if ((r = t->fill(t->ud, chunk, (size_t)off, len, cause)) != 0 ||
			    (r = out_write(w, chunk, len, cause)) != 0)
				break;
			done += len;
			rs_job_progress(job, (double)done, (double)total, t->name);
		}
		at += t->nbytes;
		if (r == 0)
			r = out_pad(w, &at, cause);     /* after the last one too, as ggml writes */
	}
	rs_free(chunk);
	if (r != 0)
		return r;
	if ((r = rs_afile_commit(w->af, cause)) != 0) {
		w->af = NULL;
		w->done = 1;    /* commit removed the temporary file and freed af */
		return r;
	}
	w->af = NULL;
	w->done = 1;
	if (size != NULL)
		*size = at;
	return 0;
}
