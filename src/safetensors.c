/* safetensors.c: reader of safetensors files and sharded Hugging Face folders.
 *
 * The header is untrusted JSON: its length is capped before jansson sees it, duplicate keys are
 * refused by the parser, and every tensor's dtype, shape and byte range is checked against the
 * file (overflow-safe) before a pointer into the mapping is handed out.  Tensors of one file are
 * kept in data order, which also makes the overlap check a single pass. */
#include "config.h"

#include "safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "alloc.h"
#include "mapfile.h"
#include "status.h"

#define ST_HEADER_MAX	(100u * 1000 * 1000)	/* bytes of JSON header, as the reference crate */
#define ST_INDEX_MAX	(100u * 1000 * 1000)	/* bytes of model.safetensors.index.json */
#define ST_MAX_DIMS	4

struct rs_st {
	struct rs_mapfile **files;  /* [n_files] */
	size_t n_files;
	struct rs_st_tensor *t;     /* [n], each file's tensors in data order */
	int64_t n;
	size_t cap;
	int64_t *sorted;            /* [n] tensor indexes sorted by name */
	char **meta;                /* [2 * n_meta] key, value pairs of the first file */
	size_t n_meta;
};

/* Element size of a dtype we read; 0 (and dt untouched) if not one of them. */
static size_t
st_dtype(const char *s, enum rs_dtype *dt)
{
	if (strcmp(s, "F32") == 0) {
		*dt = RS_DT_F32;
		return 4;
	}
	if (strcmp(s, "F16") == 0) {
		*dt = RS_DT_F16;
		return 2;
	}
	if (strcmp(s, "BF16") == 0) {
		*dt = RS_DT_BF16;
		return 2;
	}
	return 0;
}

/* A non-negative JSON integer as uint64; -1 if it is anything else. */
static int
json_u64(const json_t *j, uint64_t *v)
{
	json_int_t i;

	if (!json_is_integer(j))
		return -1;
	i = json_integer_value(j);
	if (i < 0)
		return -1;
	*v = (uint64_t)i;
	return 0;
}

/* Make room for one more tensor. */
static int
st_grow(struct rs_st *st, const char *path, char **cause)
{
	struct rs_st_tensor *t;
	size_t cap;

	if ((size_t)st->n < st->cap)
		return 0;
	cap = st->cap == 0 ? 64 : st->cap * 2;
	t = rs_realloc(st->t, cap * sizeof *t);	/* cap * sizeof is bounded by header size */
	if (t == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	st->t = t;
	st->cap = cap;
	return 0;
}

/* Keep the "__metadata__" string pairs of the first file. */
static int
st_read_meta(struct rs_st *st, const char *path, json_t *obj, int keep, char **cause)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	if (!json_is_object(obj))
		return rs_fail(cause, RS_EFORMAT, "%s: __metadata__ is not an object", path);
	json_object_foreach(obj, k, v) {
		if (!json_is_string(v))
			return rs_fail(cause, RS_EFORMAT, "%s: __metadata__ value of '%s' is not a "
			    "string", path, k);
	}
	if (!keep || st->meta != NULL)
		return 0;
	st->meta = rs_calloc(json_object_size(obj) * 2 + 1, sizeof *st->meta);
	if (st->meta == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	json_object_foreach(obj, k, v) {
		st->meta[2 * n] = rs_strdup(k);
		st->meta[2 * n + 1] = rs_strdup(json_string_value(v));
		st->n_meta = ++n;
		if (st->meta[2 * n - 2] == NULL || st->meta[2 * n - 1] == NULL)
			return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	}
	return 0;
}

/*
 * Check one tensor entry of the header and append it.  `data` and `data_size` describe the
 * byte buffer after the header.
 */
static int
st_read_tensor(struct rs_st *st, struct rs_mapfile *mf, const char *name, json_t *e,
               const uint8_t *data, size_t data_size, char **cause)
{
	const char *path = mf->path;
	json_t *jd, *js, *jo;
	struct rs_st_tensor *t;
	uint64_t dim, nelem = 1, begin, end;
	enum rs_dtype dt = RS_DT_F32;
	size_t esize, i, nd;
	int r;

	if (!json_is_object(e))
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': entry is not an object", path,
		    name);
	jd = json_object_get(e, "dtype");
	js = json_object_get(e, "shape");
	jo = json_object_get(e, "data_offsets");
	if (!json_is_string(jd))
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': missing or non-string dtype",
		    path, name);
	if ((esize = st_dtype(json_string_value(jd), &dt)) == 0)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: tensor '%s': dtype '%s' is not "
		    "supported (F32, F16 and BF16 are read)", path, name, json_string_value(jd));
	if (!json_is_array(js))
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': missing or non-array shape",
		    path, name);
	if ((nd = json_array_size(js)) > ST_MAX_DIMS)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d "
		    "are read)", path, name, nd, ST_MAX_DIMS);
	if (!json_is_array(jo) || json_array_size(jo) != 2 ||
	    json_u64(json_array_get(jo, 0), &begin) != 0 ||
	    json_u64(json_array_get(jo, 1), &end) != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': data_offsets is not a pair of "
		    "non-negative integers", path, name);
	if ((r = st_grow(st, path, cause)) != 0)
		return r;
	t = &st->t[st->n];
	memset(t, 0, sizeof *t);
	for (i = 0; i < nd; i++) {
		if (json_u64(json_array_get(js, i), &dim) != 0)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': shape[%zu] is not a "
			    "non-negative integer", path, name, i);
		if (dim != 0 && nelem > UINT64_MAX / dim)
			return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': element count "
			    "overflows", path, name);
		nelem *= dim;
		t->shape[i] = dim;
	}
	for (; i < ST_MAX_DIMS; i++)
		t->shape[i] = 1;
	if (nelem > SIZE_MAX / esize)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': byte size overflows", path,
		    name);
	if (begin > end || end - begin != nelem * esize)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %"
		    PRIu64 "] do not hold %" PRIu64 " %s elements (%" PRIu64 " bytes)", path, name,
		    begin, end, nelem, json_string_value(jd), nelem * esize);
	if (end > data_size)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %"
		    PRIu64 "] lie outside the %zu bytes of data", path, name, begin, end,
		    data_size);
	if ((t->name = rs_strdup(name)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	t->dtype = dt;
	t->n_dims = (uint32_t)nd;
	t->data = data + begin;
	t->nbytes = (size_t)(end - begin);
	t->file = path;
	st->n++;
	return 0;
}

/* Order tensors by data pointer (all of one file). */
static int
st_data_cmp(const void *a, const void *b)
{
	const struct rs_st_tensor *x = a, *y = b;
	uintptr_t p = (uintptr_t)x->data, q = (uintptr_t)y->data;

	if (p != q)
		return (p > q) - (p < q);
	return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* Sort one file's tensors [first, st->n) by offset and refuse overlapping ranges. */
static int
st_check_overlap(struct rs_st *st, int64_t first, const char *path, char **cause)
{
	struct rs_st_tensor *t = st->t + first;
	int64_t i, n = st->n - first;
	const struct rs_st_tensor *prev = NULL;

	qsort(t, (size_t)n, sizeof *t, st_data_cmp);
	for (i = 0; i < n; i++) {
		if (t[i].nbytes == 0)
			continue;
		if (prev != NULL && (const uint8_t *)prev->data + prev->nbytes >
		    (const uint8_t *)t[i].data)
			return rs_fail(cause, RS_EFORMAT, "%s: tensors '%s' and '%s' overlap", path,
			    prev->name, t[i].name);
		prev = &t[i];
	}
	return 0;
}

/* Map one file and append its tensors to st; the first file's metadata is kept. */
static int
st_add_file(struct rs_st *st, const char *path, char **cause)
{
	struct rs_mapfile *mf, **files;
	json_error_t jerr;
	json_t *root, *v;
	const char *k;
	uint64_t hlen = 0;
	int64_t first = st->n;
	size_t data_size;
	int i, r = 0;

	files = rs_realloc(st->files, (st->n_files + 1) * sizeof *files);
	if (files == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	st->files = files;
	if ((mf = rs_mapfile_open(path, cause)) == NULL)
		return RS_EIO;
	st->files[st->n_files++] = mf;
	path = mf->path;

	if (mf->size < 8)
		return rs_fail(cause, RS_EFORMAT, "%s: file of %zu bytes is too short for the "
		    "header length", path, mf->size);
	for (i = 7; i >= 0; i--)
		hlen = hlen << 8 | mf->data[i];
	if (hlen > ST_HEADER_MAX)
		return rs_fail(cause, RS_EFORMAT, "%s: header length %" PRIu64 " exceeds the %u-byte "
		    "limit", path, hlen, ST_HEADER_MAX);
	if (hlen > mf->size - 8)
		return rs_fail(cause, RS_EFORMAT, "%s: header length %" PRIu64 " runs past the end "
		    "of the %zu-byte file", path, hlen, mf->size);
	data_size = mf->size - 8 - (size_t)hlen;

	root = json_loadb((const char *)mf->data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL)
		return rs_fail(cause, RS_EFORMAT, "%s: header JSON, line %d column %d: %s", path,
		    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return rs_fail(cause, RS_EFORMAT, "%s: header JSON is not an object", path);
	}
	json_object_foreach(root, k, v) {
		if (strcmp(k, "__metadata__") == 0)
			r = st_read_meta(st, path, v, st->n_files == 1, cause);
		else
			r = st_read_tensor(st, mf, k, v, mf->data + 8 + hlen, data_size, cause);
		if (r != 0)
			break;
	}
	json_decref(root);
	if (r == 0)
		r = st_check_overlap(st, first, path, cause);
	return r;
}

/* Order tensor pointers by name. */
static int
st_name_cmp(const void *a, const void *b)
{
	const struct rs_st_tensor *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Build the by-name index and refuse a name present twice (possible across shards). */
static int
st_index(struct rs_st *st, const char *what, char **cause)
{
	const struct rs_st_tensor **p;
	int64_t i;

	st->sorted = rs_mallocarray(st->n == 0 ? 1 : (size_t)st->n, sizeof *st->sorted);
	p = rs_mallocarray(st->n == 0 ? 1 : (size_t)st->n, sizeof *p);
	if (st->sorted == NULL || p == NULL) {
		rs_free(p);
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", what);
	}
	for (i = 0; i < st->n; i++)
		p[i] = &st->t[i];
	qsort(p, (size_t)st->n, sizeof *p, st_name_cmp);
	for (i = 0; i < st->n; i++) {
		if (i > 0 && strcmp(p[i - 1]->name, p[i]->name) == 0) {
			rs_fail(cause, RS_EFORMAT, "%s: tensor '%s' is in both %s and %s", what,
			    p[i]->name, p[i - 1]->file, p[i]->file);
			rs_free(p);
			return RS_EFORMAT;
		}
		st->sorted[i] = p[i] - st->t;
	}
	rs_free(p);
	return 0;
}

struct rs_st *
rs_st_open_file(const char *path, char **cause)
{
	struct rs_st *st;

	if ((st = rs_calloc(1, sizeof *st)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if (st_add_file(st, path, cause) != 0 || st_index(st, path, cause) != 0) {
		rs_st_close(st);
		return NULL;
	}
	return st;
}

/* True if path names an existing regular file. */
static int
is_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Open the shards listed in an index file's "weight_map" and check every listed tensor. */
static int
st_open_index(struct rs_st *st, const char *dir, const char *ipath, char **cause)
{
	struct rs_mapfile *mf;
	json_error_t jerr;
	json_t *root = NULL, *wm, *v, *seen = NULL;
	const char *k, *file;
	const struct rs_st_tensor *t;
	char *spath;
	int r = 0;

	if ((mf = rs_mapfile_open(ipath, cause)) == NULL)
		return RS_EIO;
	if (mf->size > ST_INDEX_MAX) {
		r = rs_fail(cause, RS_EFORMAT, "%s: index of %zu bytes exceeds the %u-byte limit",
		    ipath, mf->size, ST_INDEX_MAX);
		goto out;
	}
	root = json_loadb((const char *)mf->data, mf->size, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		r = rs_fail(cause, RS_EFORMAT, "%s: JSON, line %d column %d: %s", ipath, jerr.line,
		    jerr.column, jerr.text);
		goto out;
	}
	wm = json_object_get(root, "weight_map");
	if (!json_is_object(wm)) {
		r = rs_fail(cause, RS_EFORMAT, "%s: missing or non-object \"weight_map\"", ipath);
		goto out;
	}
	if ((seen = json_object()) == NULL) {
		r = rs_fail(cause, RS_ENOMEM, "%s: out of memory", ipath);
		goto out;
	}
	/* Open each distinct shard once, in order of first mention. */
	json_object_foreach(wm, k, v) {
		if (!json_is_string(v) || (file = json_string_value(v))[0] == '\0' ||
		    strchr(file, '/') != NULL || strcmp(file, ".") == 0 || strcmp(file, "..") == 0) {
			r = rs_fail(cause, RS_EFORMAT, "%s: weight_map entry '%s' is not a plain file "
			    "name in the folder", ipath, k);
			goto out;
		}
		if (json_object_get(seen, file) != NULL)
			continue;
		if (json_object_set_new(seen, file, json_true()) != 0) {
			r = rs_fail(cause, RS_ENOMEM, "%s: out of memory", ipath);
			goto out;
		}
		if ((spath = rs_strdupf("%s/%s", dir, file)) == NULL) {
			r = rs_fail(cause, RS_ENOMEM, "%s: out of memory", ipath);
			goto out;
		}
		r = st_add_file(st, spath, cause);
		rs_free(spath);
		if (r != 0)
			goto out;
	}
	if ((r = st_index(st, dir, cause)) != 0)
		goto out;
	json_object_foreach(wm, k, v) {
		file = json_string_value(v);
		t = rs_st_find(st, k);
		if (t == NULL) {
			r = rs_fail(cause, RS_EFORMAT, "%s: tensor '%s' listed for %s is not in it",
			    ipath, k, file);
			goto out;
		}
		if (strcmp(strrchr(t->file, '/') + 1, file) != 0) {
			r = rs_fail(cause, RS_EFORMAT, "%s: tensor '%s' listed for %s is in %s",
			    ipath, k, file, t->file);
			goto out;
		}
	}
out:
	json_decref(seen);
	json_decref(root);
	rs_mapfile_close(mf);
	return r;
}

/* True if name ends with suffix. */
static int
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && strcmp(name + n - s, suffix) == 0;
}

/* Without model.safetensors or an index: the folder's single *.safetensors file. */
static int
st_open_single(struct rs_st *st, const char *dir, char **cause)
{
	DIR *d;
	struct dirent *de;
	char *found = NULL, *path;
	int n = 0, pickles = 0, r;

	if ((d = opendir(dir)) == NULL)
		return rs_fail(cause, RS_EIO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (has_suffix(de->d_name, ".safetensors")) {
			if (n++ == 0 && (found = rs_strdup(de->d_name)) == NULL) {
				closedir(d);
				return rs_fail(cause, RS_ENOMEM, "%s: out of memory", dir);
			}
		} else if (has_suffix(de->d_name, ".bin") || has_suffix(de->d_name, ".pt") ||
		    has_suffix(de->d_name, ".pth") || has_suffix(de->d_name, ".ckpt"))
			pickles++;
	}
	closedir(d);
	if (n > 1) {
		rs_free(found);
		return rs_fail(cause, RS_EFORMAT, "%s: %d .safetensors files and no "
		    "model.safetensors.index.json to say which to use", dir, n);
	}
	if (n == 0 && pickles > 0)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: only PyTorch weights (*.bin, *.pt); "
		    "PyTorch pickle files are never opened; convert to safetensors", dir);
	if (n == 0)
		return rs_fail(cause, RS_EFORMAT, "%s: no model.safetensors, "
		    "model.safetensors.index.json or *.safetensors file", dir);
	path = rs_strdupf("%s/%s", dir, found);
	rs_free(found);
	if (path == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", dir);
	r = st_add_file(st, path, cause);
	if (r == 0)
		r = st_index(st, path, cause);
	rs_free(path);
	return r;
}

struct rs_st *
rs_st_open_dir(const char *dir, char **cause)
{
	struct rs_st *st;
	char *p;
	int r;

	if ((st = rs_calloc(1, sizeof *st)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", dir);
		return NULL;
	}
	if ((p = rs_strdupf("%s/model.safetensors", dir)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", dir);
		rs_free(st);
		return NULL;
	}
	if (is_file(p)) {
		r = st_add_file(st, p, cause);
		if (r == 0)
			r = st_index(st, p, cause);
		rs_free(p);
	} else {
		rs_free(p);
		if ((p = rs_strdupf("%s/model.safetensors.index.json", dir)) == NULL)
			r = rs_fail(cause, RS_ENOMEM, "%s: out of memory", dir);
		else if (is_file(p))
			r = st_open_index(st, dir, p, cause);
		else
			r = st_open_single(st, dir, cause);
		rs_free(p);
	}
	if (r != 0) {
		rs_st_close(st);
		return NULL;
	}
	return st;
}

void
rs_st_close(struct rs_st *st)
{
	size_t i;
	int64_t j;

	if (st == NULL)
		return;
	for (j = 0; j < st->n; j++)
		rs_free((char *)st->t[j].name);
	for (i = 0; i < 2 * st->n_meta; i++)
		rs_free(st->meta[i]);
	for (i = 0; i < st->n_files; i++)
		rs_mapfile_close(st->files[i]);
	rs_free(st->meta);
	rs_free(st->files);
	rs_free(st->t);
	rs_free(st->sorted);
	rs_free(st);
}

int64_t
rs_st_n_tensors(const struct rs_st *st)
{
	return st->n;
}

const struct rs_st_tensor *
rs_st_tensor(const struct rs_st *st, int64_t i)
{
	if (i < 0 || i >= st->n)
		return NULL;
	return &st->t[i];
}

const struct rs_st_tensor *
rs_st_find(const struct rs_st *st, const char *name)
{
	int64_t lo = 0, hi = st->n;

	if (st->sorted == NULL)
		return NULL;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		const struct rs_st_tensor *t = &st->t[st->sorted[mid]];
		int r = strcmp(name, t->name);

		if (r == 0)
			return t;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *
rs_st_metadata(const struct rs_st *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n_meta; i++)
		if (strcmp(st->meta[2 * i], key) == 0)
			return st->meta[2 * i + 1];
	return NULL;
}
