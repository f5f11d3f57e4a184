/* gguf.c: a hostile-input-safe reader of GGUF v2/v3 files.
 *
 * The whole file is mapped; a cursor walks the header and every read is checked against the
 * bytes left.  Counts are checked against what the remaining bytes could possibly hold before
 * anything is allocated, so allocations are bounded by the file size.  Keys and tensor names get
 * sorted indexes: duplicates are found in O(n log n) and lookups are binary searches. */
#include "config.h"

#include "gguf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mapfile.h"
#include "status.h"

#define GGUF_DEFAULT_ALIGNMENT	RS_GGUF_DEFAULT_ALIGNMENT
#define GGUF_MAX_DIMS		RS_GGUF_MAX_DIMS

struct gguf_kv {
	char *key;                  /* NUL-terminated copy */
	enum rs_gguf_type type;
	const uint8_t *val;         /* value bytes in the mapping (after the type) */
	uint64_t len;               /* string: byte length; array: element count */
	enum rs_gguf_type arr_type; /* arrays only */
	const uint8_t **strs;       /* string arrays: each element's length prefix */
};

struct rs_gguf {
	struct rs_mapfile *mf;
	uint32_t version;
	int64_t n_kv;
	struct gguf_kv *kv;         /* [n_kv] */
	int64_t *kv_sorted;         /* [n_kv] indexes sorted by key */
	int64_t n_tensors;
	struct rs_gguf_tensor *t;   /* [n_tensors] */
	int64_t *t_sorted;          /* [n_tensors] indexes sorted by name */
	size_t alignment;
	size_t data_start;          /* file offset of the data section */
};

/* A read position in the mapping. */
struct cursor {
	const uint8_t *p;
	size_t size;
	size_t off;
};

int
rs_gguf_dtype_of(uint32_t ggml_type)
{
	switch (ggml_type) {
	case RS_GGML_F32: return RS_DT_F32;
	case RS_GGML_F16: return RS_DT_F16;
	case RS_GGML_Q4_0: return RS_DT_Q4_0;
	case RS_GGML_Q8_0: return RS_DT_Q8_0;
	case RS_GGML_Q4_K: return RS_DT_Q4_K;
	case RS_GGML_Q6_K: return RS_DT_Q6_K;
	case RS_GGML_BF16: return RS_DT_BF16;
	default: return -1;
	}
}

uint32_t
rs_gguf_ggml_of(enum rs_dtype dt)
{
	switch (dt) {
	case RS_DT_F16: return RS_GGML_F16;
	case RS_DT_BF16: return RS_GGML_BF16;
	case RS_DT_Q4_0: return RS_GGML_Q4_0;
	case RS_DT_Q8_0: return RS_GGML_Q8_0;
	case RS_DT_Q4_K: return RS_GGML_Q4_K;
	case RS_DT_Q6_K: return RS_GGML_Q6_K;
	default: return RS_GGML_F32;
	}
}

const char *
rs_gguf_ggml_name(uint32_t t)
{
	static const char *const names[] = {
		"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
		"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
		"IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64",
		"IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0",
	};

	if (t < sizeof names / sizeof names[0])
		return names[t];
	return "unknown";
}

/* Size of a fixed-size value type; 0 for string, array and unknown types. */
static size_t
kv_type_size(uint32_t t)
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

/* Read a little-endian uint32 from unaligned memory. */
static uint32_t
load_u32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Read a little-endian uint64 from unaligned memory. */
static uint64_t
load_u64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Bytes left after the cursor. */
static size_t
cur_left(const struct cursor *c)
{
	return c->size - c->off;
}

/* Read a little-endian uint32; -1 if the file ends first. */
static int
cur_u32(struct cursor *c, uint32_t *v)
{
	if (cur_left(c) < 4)
		return -1;
	*v = load_u32(c->p + c->off);
	c->off += 4;
	return 0;
}

/* Read a little-endian uint64; -1 if the file ends first. */
static int
cur_u64(struct cursor *c, uint64_t *v)
{
	uint32_t lo, hi;

	if (cur_left(c) < 8)
		return -1;
	cur_u32(c, &lo);
	cur_u32(c, &hi);
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/*
 * Read a GGUF string (uint64 length + bytes): *s points into the mapping.  The length is
 * checked against the bytes remaining.  Returns 0, or RS_EFORMAT with a message naming `what`.
 */
static int
cur_str(struct cursor *c, const char *path, const char *what, const uint8_t **s,
        uint64_t *len, char **cause)
{
	size_t at = c->off;

	if (cur_u64(c, len) != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: %s: file ends at byte %zu inside the "
		    "string length", path, what, at);
	if (*len > cur_left(c))
		return rs_fail(cause, RS_EFORMAT, "%s: %s: string length %" PRIu64 " at byte %zu "
		    "exceeds the %zu bytes left in the file", path, what, *len, at, cur_left(c));
	*s = c->p + c->off;
	c->off += (size_t)*len;
	return 0;
}

/* NUL-terminated copy of a key or name; refuses embedded NULs, which would make it ambiguous. */
static int
copy_name(const char *path, const char *what, const uint8_t *s, uint64_t len, char **out,
          char **cause)
{
	if (memchr(s, '\0', (size_t)len) != NULL)
		return rs_fail(cause, RS_EFORMAT, "%s: %s '%.*s' contains a NUL byte", path, what,
		    (int)strnlen((const char *)s, (size_t)len), (const char *)s);
	if ((*out = rs_strndup((const char *)s, (size_t)len)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	return 0;
}

/* Read one key/value pair's value (its type already read into kv->type). */
static int
read_value(struct cursor *c, const char *path, struct gguf_kv *kv, char **cause)
{
	const uint8_t *s;
	uint64_t n, j, len;
	uint32_t at;
	size_t esz, at_off;

	kv->val = c->p + c->off;
	if (kv->type == RS_GGUF_STRING)
		return cur_str(c, path, kv->key, &s, &kv->len, cause);
	if (kv->type != RS_GGUF_ARRAY) {
		esz = kv_type_size(kv->type);
		if (esz == 0)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': unknown value type %u",
			    path, kv->key, (unsigned)kv->type);
		if (cur_left(c) < esz)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': file ends inside the value",
			    path, kv->key);
		if (kv->type == RS_GGUF_BOOL && c->p[c->off] > 1)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': bool value %u is not 0 or 1",
			    path, kv->key, c->p[c->off]);
		c->off += esz;
		return 0;
	}

	at_off = c->off;
	if (cur_u32(c, &at) != 0 || cur_u64(c, &n) != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: key '%s': file ends inside the array header "
		    "at byte %zu", path, kv->key, at_off);
	kv->len = n;
	kv->val = c->p + c->off;
	if (at == RS_GGUF_ARRAY)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: key '%s': arrays of arrays are not "
		    "supported", path, kv->key);
	kv->arr_type = (enum rs_gguf_type)at;
	if (at != RS_GGUF_STRING) {
		esz = kv_type_size(at);
		if (esz == 0)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': unknown array element type "
			    "%u", path, kv->key, (unsigned)at);
		if (n > cur_left(c) / esz)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': array of %" PRIu64 " elements "
			    "of %zu bytes exceeds the %zu bytes left in the file", path, kv->key, n,
			    esz, cur_left(c));
		c->off += (size_t)n * esz;
		return 0;
	}

	/* Each string takes at least its 8-byte length: that bounds the index's size. */
	if (n > cur_left(c) / 8)
		return rs_fail(cause, RS_EFORMAT, "%s: key '%s': array of %" PRIu64 " strings "
		    "exceeds the %zu bytes left in the file", path, kv->key, n, cur_left(c));
	kv->strs = rs_mallocarray(n == 0 ? 1 : (size_t)n, sizeof *kv->strs);
	if (kv->strs == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: key '%s': out of memory for %" PRIu64
		    " strings", path, kv->key, n);
	for (j = 0; j < n; j++) {
		size_t el = c->off;

		if (cur_left(c) < 8)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': file ends at element %"
			    PRIu64 " of %" PRIu64, path, kv->key, j, n);
		len = load_u64(c->p + el);
		if (len > cur_left(c) - 8)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': element %" PRIu64 ": string "
			    "length %" PRIu64 " exceeds the %zu bytes left in the file", path,
			    kv->key, j, len, cur_left(c) - 8);
		kv->strs[j] = c->p + el;
		c->off += 8 + (size_t)len;
	}
	return 0;
}

/* A name and its entry number: qsort's comparator sees only the elements, so carry both. */
struct name_ix {
	const char *name;
	int64_t ix;
};

/* Order (name, index) pairs by name, then index. */
static int
name_ix_cmp(const void *a, const void *b)
{
	const struct name_ix *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r != 0)
		return r;
	return (x->ix > y->ix) - (x->ix < y->ix);
}

/*
 * Sort n names into an index array; report the first duplicate.  Returns 0, or a negative
 * status with the duplicate in the message (`what` is "key" or "tensor").
 */
static int
sort_names(const char *path, const char *what, const char *const *names, size_t stride,
           int64_t n, int64_t **out, char **cause)
{
	struct name_ix *tmp;
	int64_t i;

	*out = rs_mallocarray(n == 0 ? 1 : (size_t)n, sizeof **out);
	tmp = rs_mallocarray(n == 0 ? 1 : (size_t)n, sizeof *tmp);
	if (*out == NULL || tmp == NULL) {
		rs_free(tmp);
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	}
	for (i = 0; i < n; i++) {
		tmp[i].name = *(const char *const *)((const char *)names + (size_t)i * stride);
		tmp[i].ix = i;
	}
	qsort(tmp, (size_t)n, sizeof *tmp, name_ix_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(tmp[i].name, tmp[i - 1].name) == 0) {
			rs_fail(cause, RS_EFORMAT, "%s: duplicate %s '%s' (entries %" PRId64 " and %"
			    PRId64 ")", path, what, tmp[i].name, tmp[i - 1].ix, tmp[i].ix);
			rs_free(tmp);
			return RS_EFORMAT;
		}
		(*out)[i] = tmp[i].ix;
	}
	rs_free(tmp);
	return 0;
}

/* Binary search of a sorted index; -1 if absent. */
static int64_t
find_sorted(const int64_t *sorted, int64_t n, const char *const *names, size_t stride,
            const char *name)
{
	int64_t lo = 0, hi = n;

	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		const char *s = *(const char *const *)((const char *)names +
		    (size_t)sorted[mid] * stride);
		int r = strcmp(name, s);

		if (r == 0)
			return sorted[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Read the key/value section. */
static int
read_kvs(struct rs_gguf *g, struct cursor *c, uint64_t n_kv, char **cause)
{
	const char *path = g->mf->path;
	const uint8_t *s;
	uint64_t i, len;
	uint32_t type;
	int r;

	/* Each pair takes at least an 8-byte key length, a 4-byte type and 1 byte of value. */
	if (n_kv > cur_left(c) / 13)
		return rs_fail(cause, RS_EFORMAT, "%s: n_kv %" PRIu64 " cannot fit in the %zu bytes "
		    "left in the file", path, n_kv, cur_left(c));
	g->kv = rs_calloc(n_kv == 0 ? 1 : (size_t)n_kv, sizeof *g->kv);
	if (g->kv == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	for (i = 0; i < n_kv; i++) {
		struct gguf_kv *kv = &g->kv[i];
		char what[64];

		snprintf(what, sizeof what, "key %" PRIu64, i);
		if ((r = cur_str(c, path, what, &s, &len, cause)) != 0)
			return r;
		if ((r = copy_name(path, "key", s, len, &kv->key, cause)) != 0)
			return r;
		g->n_kv = (int64_t)i + 1;	/* so close() frees this key */
		if (cur_u32(c, &type) != 0)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': file ends before its type",
			    path, kv->key);
		kv->type = (enum rs_gguf_type)type;
		if (type > RS_GGUF_FLOAT64)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': unknown value type %u", path,
			    kv->key, type);
		if ((r = read_value(c, path, kv, cause)) != 0)
			return r;
	}
	return sort_names(path, "key", (const char *const *)&g->kv[0].key, sizeof *g->kv,
	    g->n_kv, &g->kv_sorted, cause);
}

/* Read the tensor infos (shapes and offsets are checked later, once the data start is known). */
static int
read_tensor_infos(struct rs_gguf *g, struct cursor *c, uint64_t n_tensors, uint64_t *offsets,
                  char **cause)
{
	const char *path = g->mf->path;
	const uint8_t *s;
	uint64_t i, len, ne;
	uint32_t d, type;
	int r, dt;

	for (i = 0; i < n_tensors; i++) {
		struct rs_gguf_tensor *t = &g->t[i];
		uint64_t nrows = 1;
		char what[64];
		size_t rb;

		snprintf(what, sizeof what, "tensor %" PRIu64 " name", i);
		if ((r = cur_str(c, path, what, &s, &len, cause)) != 0)
			return r;
		if ((r = copy_name(path, "tensor name", s, len, (char **)&t->name, cause)) != 0)
			return r;
		g->n_tensors = (int64_t)i + 1;
		if (cur_u32(c, &t->n_dims) != 0)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': file ends before n_dims",
			    path, t->name);
		if (t->n_dims > GGUF_MAX_DIMS)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': n_dims %u exceeds %d",
			    path, t->name, t->n_dims, GGUF_MAX_DIMS);
		for (d = 0; d < GGUF_MAX_DIMS; d++)
			t->ne[d] = 1;
		for (d = 0; d < t->n_dims; d++) {
			if (cur_u64(c, &ne) != 0)
				return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': file ends inside "
				    "ne[%u]", path, t->name, d);
			if (ne == 0 || ne > INT64_MAX)
				return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': ne[%u] = %" PRIu64
				    " is out of range", path, t->name, d, ne);
			t->ne[d] = ne;
		}
		if (cur_u32(c, &type) != 0)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': file ends before its type",
			    path, t->name);
		t->ggml_type = type;
		if ((dt = rs_gguf_dtype_of(type)) < 0)
			return rs_fail(cause, RS_EUNSUPPORTED, "%s: tensor '%s': ggml type %u (%s) "
			    "is not supported", path, t->name, type, rs_gguf_ggml_name(type));
		t->dtype = (enum rs_dtype)dt;
		if (cur_u64(c, &offsets[i]) != 0)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': file ends before its "
			    "offset", path, t->name);

		/* Element count and byte size, overflow-checked. */
		for (d = 1; d < GGUF_MAX_DIMS; d++) {
			if (t->ne[d] > INT64_MAX / nrows)
				return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': element count "
				    "overflows", path, t->name);
			nrows *= t->ne[d];
		}
		if (t->ne[0] > INT64_MAX / nrows)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': element count overflows",
			    path, t->name);
		rb = rs_dtype_row_bytes(t->dtype, t->ne[0]);
		if (rb == 0)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': row length %" PRIu64
			    " is not a multiple of the %s block size %zu", path, t->name, t->ne[0],
			    rs_dtype_name(t->dtype), rs_dtype_block_elems(t->dtype));
		if (nrows > SIZE_MAX / rb)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': byte size overflows",
			    path, t->name);
		t->nbytes = rb * (size_t)nrows;
	}
	return sort_names(path, "tensor name", (const char *const *)&g->t[0].name, sizeof *g->t,
	    g->n_tensors, &g->t_sorted, cause);
}

/* general.alignment, if present: an integer power of two. */
static int
read_alignment(struct rs_gguf *g, char **cause)
{
	int64_t a;
	int r;

	g->alignment = GGUF_DEFAULT_ALIGNMENT;
	r = rs_gguf_get_int(g, "general.alignment", &a, cause);
	if (r < 0)
		return r;
	if (r == 1)
		return 0;
	if (a <= 0 || a > (int64_t)1 << 30 || (a & (a - 1)) != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: general.alignment %" PRId64 " is not a power "
		    "of two (up to 2^30)", g->mf->path, a);
	g->alignment = (size_t)a;
	return 0;
}

/* Order tensor indexes by data offset. */
static int
offset_cmp(const void *a, const void *b)
{
	const struct rs_gguf_tensor *const *x = a, *const *y = b;
	uintptr_t p = (uintptr_t)(*x)->data, q = (uintptr_t)(*y)->data;

	return (p > q) - (p < q);
}

/* Place each tensor's data: aligned, inside the file, no two overlapping. */
static int
place_tensors(struct rs_gguf *g, const uint64_t *offsets, char **cause)
{
	const char *path = g->mf->path;
	const struct rs_gguf_tensor **by_off;
	size_t data_size;
	int64_t i;

	data_size = g->mf->size - g->data_start;
	for (i = 0; i < g->n_tensors; i++) {
		struct rs_gguf_tensor *t = &g->t[i];

		if (offsets[i] % g->alignment != 0)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': data offset %" PRIu64
			    " is not a multiple of the alignment %zu", path, t->name, offsets[i],
			    g->alignment);
		if (offsets[i] > data_size || t->nbytes > data_size - offsets[i])
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': data at offset %" PRIu64
			    " + %zu bytes lies outside the %zu-byte data section", path, t->name,
			    offsets[i], t->nbytes, data_size);
		t->data = g->mf->data + g->data_start + offsets[i];
	}
	if (g->n_tensors < 2)
		return 0;
	by_off = rs_mallocarray((size_t)g->n_tensors, sizeof *by_off);
	if (by_off == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	for (i = 0; i < g->n_tensors; i++)
		by_off[i] = &g->t[i];
	qsort(by_off, (size_t)g->n_tensors, sizeof *by_off, offset_cmp);
	for (i = 1; i < g->n_tensors; i++) {
		const struct rs_gguf_tensor *a = by_off[i - 1], *b = by_off[i];

		if ((const uint8_t *)a->data + a->nbytes > (const uint8_t *)b->data) {
			rs_fail(cause, RS_EFORMAT, "%s: tensors '%s' and '%s' overlap in the data "
			    "section", path, a->name, b->name);
			rs_free(by_off);
			return RS_EFORMAT;
		}
	}
	rs_free(by_off);
	return 0;
}

/* Parse and validate the mapped file into g. */
static int
gguf_parse(struct rs_gguf *g, char **cause)
{
	const char *path = g->mf->path;
	struct cursor c = { g->mf->data, g->mf->size, 0 };
	uint64_t n_tensors, n_kv, *offsets;
	size_t pad;
	int r;

	if (c.size < 4 || memcmp(c.p, RS_GGUF_MAGIC, 4) != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: not a GGUF file (bad magic)", path);
	c.off = 4;
	if (cur_u32(&c, &g->version) != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: file ends before the version", path);
	if (g->version != 0 && (g->version & 0xffff) == 0)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: version 0x%08x looks byte-swapped: a "
		    "big-endian GGUF file? only little-endian files are read", path, g->version);
	if (g->version == 1)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: GGUF version 1 is obsolete and not "
		    "supported", path);
	if (g->version != 2 && g->version != 3)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: unsupported GGUF version %u", path,
		    g->version);
	if (cur_u64(&c, &n_tensors) != 0 || cur_u64(&c, &n_kv) != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: file ends inside the header counts", path);

	if ((r = read_kvs(g, &c, n_kv, cause)) != 0)
		return r;
	if ((r = read_alignment(g, cause)) != 0)
		return r;

	/* A tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset). */
	if (n_tensors > cur_left(&c) / 24)
		return rs_fail(cause, RS_EFORMAT, "%s: n_tensors %" PRIu64 " cannot fit in the %zu "
		    "bytes left in the file", path, n_tensors, cur_left(&c));
	g->t = rs_calloc(n_tensors == 0 ? 1 : (size_t)n_tensors, sizeof *g->t);
	offsets = rs_mallocarray(n_tensors == 0 ? 1 : (size_t)n_tensors, sizeof *offsets);
	if (g->t == NULL || offsets == NULL) {
		rs_free(offsets);
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	}
	if ((r = read_tensor_infos(g, &c, n_tensors, offsets, cause)) != 0)
		goto out;

	pad = (g->alignment - c.off % g->alignment) % g->alignment;
	if (pad > cur_left(&c)) {
		if (n_tensors != 0) {
			r = rs_fail(cause, RS_EFORMAT, "%s: file ends in the padding before the data "
			    "section", path);
			goto out;
		}
		pad = cur_left(&c);
	}
	g->data_start = c.off + pad;
	r = place_tensors(g, offsets, cause);
out:
	rs_free(offsets);
	return r;
}

struct rs_gguf *
rs_gguf_open(const char *path, char **cause)
{
	struct rs_gguf *g;

	if ((g = rs_calloc(1, sizeof *g)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if ((g->mf = rs_mapfile_open(path, cause)) == NULL) {
		rs_free(g);
		return NULL;
	}
	if (gguf_parse(g, cause) != 0) {
		rs_gguf_close(g);
		return NULL;
	}
	return g;
}

void
rs_gguf_close(struct rs_gguf *g)
{
	int64_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n_kv; i++) {
		rs_free(g->kv[i].key);
		rs_free(g->kv[i].strs);
	}
	for (i = 0; i < g->n_tensors; i++)
		rs_free((char *)g->t[i].name);
	rs_free(g->kv);
	rs_free(g->kv_sorted);
	rs_free(g->t);
	rs_free(g->t_sorted);
	rs_mapfile_close(g->mf);
	rs_free(g);
}

const char *
rs_gguf_path(const struct rs_gguf *g)
{
	return g->mf->path;
}

uint32_t
rs_gguf_version(const struct rs_gguf *g)
{
	return g->version;
}

int64_t
rs_gguf_n_kv(const struct rs_gguf *g)
{
	return g->n_kv;
}

int64_t
rs_gguf_find_key(const struct rs_gguf *g, const char *key)
{
	if (g->kv_sorted == NULL)
		return -1;
	return find_sorted(g->kv_sorted, g->n_kv, (const char *const *)&g->kv[0].key,
	    sizeof *g->kv, key);
}

const char *
rs_gguf_key(const struct rs_gguf *g, int64_t i)
{
	if (i < 0 || i >= g->n_kv)
		return NULL;
	return g->kv[i].key;
}

enum rs_gguf_type
rs_gguf_kv_type(const struct rs_gguf *g, int64_t i)
{
	if (i < 0 || i >= g->n_kv)
		return (enum rs_gguf_type)-1;
	return g->kv[i].type;
}

/* The kv of `key` if it exists; NULL if absent. */
static const struct gguf_kv *
kv_by_key(const struct rs_gguf *g, const char *key)
{
	int64_t i = rs_gguf_find_key(g, key);

	return i < 0 ? NULL : &g->kv[i];
}

int
rs_gguf_get_int(const struct rs_gguf *g, const char *key, int64_t *out, char **cause)
{
	const struct gguf_kv *kv = kv_by_key(g, key);
	const uint8_t *b;
	uint64_t u;

	if (kv == NULL)
		return 1;
	b = kv->val;
	switch (kv->type) {
	case RS_GGUF_UINT8: case RS_GGUF_BOOL:
		*out = b[0];
		return 0;
	case RS_GGUF_INT8:
		*out = (int8_t)b[0];
		return 0;
	case RS_GGUF_UINT16:
		*out = (uint16_t)(b[0] | b[1] << 8);
		return 0;
	case RS_GGUF_INT16:
		*out = (int16_t)(uint16_t)(b[0] | b[1] << 8);
		return 0;
	case RS_GGUF_UINT32:
		*out = load_u32(b);
		return 0;
	case RS_GGUF_INT32:
		*out = (int32_t)load_u32(b);
		return 0;
	case RS_GGUF_INT64:
		*out = (int64_t)load_u64(b);
		return 0;
	case RS_GGUF_UINT64:
		u = load_u64(b);
		if (u > INT64_MAX)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s': value %" PRIu64 " is out of "
			    "range", g->mf->path, key, u);
		*out = (int64_t)u;
		return 0;
	default:
		return rs_fail(cause, RS_EFORMAT, "%s: key '%s' is not an integer", g->mf->path,
		    key);
	}
}

int
rs_gguf_get_float(const struct rs_gguf *g, const char *key, double *out, char **cause)
{
	const struct gguf_kv *kv = kv_by_key(g, key);
	uint64_t u;
	uint32_t u32;
	float f;
	double d;

	if (kv == NULL)
		return 1;
	switch (kv->type) {
	case RS_GGUF_FLOAT32:
		u32 = load_u32(kv->val);
		memcpy(&f, &u32, sizeof f);
		*out = f;
		return 0;
	case RS_GGUF_FLOAT64:
		u = load_u64(kv->val);
		memcpy(&d, &u, sizeof d);
		*out = d;
		return 0;
	default:
		return rs_fail(cause, RS_EFORMAT, "%s: key '%s' is not a float", g->mf->path, key);
	}
}

int
rs_gguf_get_str(const struct rs_gguf *g, const char *key, const char **s, size_t *len,
                char **cause)
{
	const struct gguf_kv *kv = kv_by_key(g, key);

	if (kv == NULL)
		return 1;
	if (kv->type != RS_GGUF_STRING)
		return rs_fail(cause, RS_EFORMAT, "%s: key '%s' is not a string", g->mf->path, key);
	*s = (const char *)kv->val + 8;
	*len = (size_t)kv->len;
	return 0;
}

enum rs_gguf_type
rs_gguf_arr_type(const struct rs_gguf *g, int64_t i)
{
	if (i < 0 || i >= g->n_kv || g->kv[i].type != RS_GGUF_ARRAY)
		return (enum rs_gguf_type)-1;
	return g->kv[i].arr_type;
}

uint64_t
rs_gguf_arr_n(const struct rs_gguf *g, int64_t i)
{
	if (i < 0 || i >= g->n_kv || g->kv[i].type != RS_GGUF_ARRAY)
		return 0;
	return g->kv[i].len;
}

const void *
rs_gguf_arr_data(const struct rs_gguf *g, int64_t i)
{
	if (i < 0 || i >= g->n_kv || g->kv[i].type != RS_GGUF_ARRAY ||
	    g->kv[i].arr_type == RS_GGUF_STRING)
		return NULL;
	return g->kv[i].val;
}

const char *
rs_gguf_arr_str(const struct rs_gguf *g, int64_t i, uint64_t j, size_t *len)
{
	const struct gguf_kv *kv;

	if (i < 0 || i >= g->n_kv)
		return NULL;
	kv = &g->kv[i];
	if (kv->type != RS_GGUF_ARRAY || kv->arr_type != RS_GGUF_STRING || j >= kv->len)
		return NULL;
	*len = (size_t)load_u64(kv->strs[j]);
	return (const char *)kv->strs[j] + 8;
}

int64_t
rs_gguf_n_tensors(const struct rs_gguf *g)
{
	return g->n_tensors;
}

const struct rs_gguf_tensor *
rs_gguf_tensor(const struct rs_gguf *g, int64_t i)
{
	if (i < 0 || i >= g->n_tensors)
		return NULL;
	return &g->t[i];
}

int64_t
rs_gguf_find_tensor(const struct rs_gguf *g, const char *name)
{
	if (g->t_sorted == NULL)
		return -1;
	return find_sorted(g->t_sorted, g->n_tensors, (const char *const *)&g->t[0].name,
	    sizeof *g->t, name);
}
