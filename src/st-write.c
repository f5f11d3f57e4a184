/* st-write.c: a safetensors writer that never leaves a partial file under the target name.
 *
 * Tensors are only recorded by rs_stw_add*; rs_stw_finish builds the header with jansson (which
 * escapes names and checks UTF-8), then streams the data through one chunk buffer into the
 * temporary file made by mkstemp in the target's directory, and renames it into place. */
#include "config.h"

#include "st-write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "atomic.h"

#define STW_CHUNK	(4u << 20)	/* bytes written per write() call and per fill() call */
#define STW_MAX_DIMS	4

struct stw_tensor {
	char *name;
	enum rs_dtype dtype;
	uint32_t n_dims;
	uint64_t shape[STW_MAX_DIMS];   /* outermost first */
	size_t nbytes;
	const void *data;               /* or NULL with fill */
	rs_stw_fill_fn fill;
	void *ud;
};

struct rs_stw {
	char *path;                     /* target */
	char *tmp;                      /* temporary file; NULL once renamed or removed */
	int fd;                         /* open on tmp, -1 once closed */
	struct stw_tensor *t;           /* [n] in the order added */
	size_t n, cap;
	json_t *names;                  /* set of tensor names, to refuse duplicates */
	json_t *meta;                   /* "__metadata__" object, NULL if none */
	uint64_t total;                 /* data bytes so far */
	int created;                    /* tmp exists on disk */
	int finished;
};

struct rs_stw *
rs_stw_new(const char *path, char **cause)
{
	struct rs_stw *w;

	if ((w = rs_calloc(1, sizeof *w)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	w->fd = -1;
	w->path = rs_strdup(path);
	w->tmp = rs_strdupf("%s.tmp.XXXXXX", path);
	w->names = json_object();
	if (w->path == NULL || w->tmp == NULL || w->names == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		rs_stw_free(w);
		return NULL;
	}
	rs_atomic_sweep(path);
	if ((w->fd = mkstemp(w->tmp)) < 0) {
		rs_fail(cause, RS_EIO, "%s: cannot create a temporary file: %s", path,
		    strerror(errno));
		rs_stw_free(w);
		return NULL;
	}
	rs_atomic_hold(w->fd);
	w->created = 1;
	return w;
}

/* Record one tensor after checking its dtype, shape and name. */
static int
stw_add(struct rs_stw *w, const char *name, enum rs_dtype dt, uint32_t n_dims,
        const uint64_t *shape, const void *data, rs_stw_fill_fn fill, void *ud, char **cause)
{
	struct stw_tensor *t;
	uint64_t nelem = 1;
	size_t esize, cap;
	uint32_t i;

	if (dt != RS_DT_F32 && dt != RS_DT_F16 && dt != RS_DT_BF16)
		return rs_fail(cause, RS_EINVAL, "%s: tensor '%s': dtype %s cannot be written to "
		    "safetensors", w->path, name, rs_dtype_name(dt));
	if (n_dims > STW_MAX_DIMS)
		return rs_fail(cause, RS_EINVAL, "%s: tensor '%s': %u dimensions (at most %d)",
		    w->path, name, n_dims, STW_MAX_DIMS);
	if (strcmp(name, "__metadata__") == 0 || json_object_get(w->names, name) != NULL)
		return rs_fail(cause, RS_EINVAL, "%s: tensor name '%s' is reserved or already used",
		    w->path, name);
	esize = rs_dtype_block_bytes(dt);
	for (i = 0; i < n_dims; i++) {
		if (shape[i] > INT64_MAX || (shape[i] != 0 && nelem > UINT64_MAX / shape[i]))
			return rs_fail(cause, RS_EINVAL, "%s: tensor '%s': element count overflows",
			    w->path, name);
		nelem *= shape[i];
	}
	if (nelem > (SIZE_MAX / 2) / esize || nelem * esize > INT64_MAX - w->total)
		return rs_fail(cause, RS_EINVAL, "%s: tensor '%s': too large", w->path, name);
	if (w->n == w->cap) {
		cap = w->cap == 0 ? 32 : w->cap * 2;
		t = rs_realloc(w->t, cap * sizeof *t);
		if (t == NULL)
			return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
		w->t = t;
		w->cap = cap;
	}
	t = &w->t[w->n];
	memset(t, 0, sizeof *t);
	if ((t->name = rs_strdup(name)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	if (json_object_set_new(w->names, name, json_true()) != 0) {
		rs_free(t->name);
		return rs_fail(cause, RS_EINVAL, "%s: tensor name '%s' is not valid UTF-8 (or out "
		    "of memory)", w->path, name);
	}
	t->dtype = dt;
	t->n_dims = n_dims;
	for (i = 0; i < n_dims; i++)
		t->shape[i] = shape[i];
	t->nbytes = (size_t)(nelem * esize);
	t->data = data;
	t->fill = fill;
	t->ud = ud;
	w->total += t->nbytes;
	w->n++;
	return 0;
}

int
rs_stw_add(struct rs_stw *w, const char *name, enum rs_dtype dt, uint32_t n_dims,
           const uint64_t *shape, const void *data, char **cause)
{
	return stw_add(w, name, dt, n_dims, shape, data, NULL, NULL, cause);
}

int
rs_stw_add_fill(struct rs_stw *w, const char *name, enum rs_dtype dt, uint32_t n_dims,
                const uint64_t *shape, rs_stw_fill_fn fill, void *ud, char **cause)
{
	if (fill == NULL)
		return rs_fail(cause, RS_EINVAL, "%s: tensor '%s': no fill function", w->path,
		    name);
	return stw_add(w, name, dt, n_dims, shape, NULL, fill, ud, cause);
}

int
rs_stw_meta(struct rs_stw *w, const char *key, const char *value, char **cause)
{
	json_t *v;

	if (w->meta == NULL && (w->meta = json_object()) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	if ((v = json_string(value)) == NULL || json_object_set_new(w->meta, key, v) != 0)
		return rs_fail(cause, RS_EINVAL, "%s: metadata '%s': not valid UTF-8 (or out of "
		    "memory)", w->path, key);
	return 0;
}

/* Write all of buf, retrying short writes and EINTR. */
static int
stw_write(struct rs_stw *w, const void *buf, size_t len, char **cause)
{
	const uint8_t *p = buf;
	ssize_t k;

	while (len > 0) {
		k = write(w->fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return rs_fail(cause, RS_EIO, "%s: write: %s", w->tmp,
			    k < 0 ? strerror(errno) : "no progress");
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* The header: 8-byte length, then JSON padded with spaces to a multiple of 8. */
static int
stw_header(struct rs_stw *w, char **cause)
{
	static const char *const dtnames[RS_DT_COUNT] = {
		[RS_DT_F32] = "F32", [RS_DT_F16] = "F16", [RS_DT_BF16] = "BF16",
	};
	json_t *root, *e, *shape;
	uint64_t off = 0, hlen;
	uint8_t lenb[8];
	char *js = NULL, *buf;
	size_t i, jlen;
	uint32_t d;
	int ok, r, b;

	if ((root = json_object()) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	ok = w->meta == NULL || json_object_set(root, "__metadata__", w->meta) == 0;
	for (i = 0; ok && i < w->n; i++) {
		const struct stw_tensor *t = &w->t[i];

		shape = json_array();
		for (d = 0; shape != NULL && d < t->n_dims; d++)
			if (json_array_append_new(shape, json_integer((json_int_t)t->shape[d])))
				ok = 0;
		e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtnames[t->dtype], "shape", shape,
		    "data_offsets", (json_int_t)off, (json_int_t)(off + t->nbytes));
		ok = ok && e != NULL && json_object_set_new(root, t->name, e) == 0;
		off += t->nbytes;
	}
	if (ok)
		js = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (js == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: cannot build the header JSON", w->path);
	jlen = strlen(js);
	hlen = (jlen + 7) & ~(uint64_t)7;
	if ((buf = rs_malloc((size_t)hlen)) == NULL) {
		free(js);
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
	}
	memcpy(buf, js, jlen);
	memset(buf + jlen, ' ', (size_t)hlen - jlen);
	free(js);
	for (b = 0; b < 8; b++)
		lenb[b] = (uint8_t)(hlen >> (8 * b));
	r = stw_write(w, lenb, sizeof lenb, cause);
	if (r == 0)
		r = stw_write(w, buf, (size_t)hlen, cause);
	rs_free(buf);
	return r;
}

/* Stream every tensor's data in order. */
static int
stw_data(struct rs_stw *w, struct rs_job *job, char **cause)
{
	uint8_t *chunk = NULL;
	uint64_t done = 0;
	size_t i, off, len;
	int r = 0;

	for (i = 0; r == 0 && i < w->n; i++) {
		const struct stw_tensor *t = &w->t[i];

		for (off = 0; off < t->nbytes; off += len) {
			len = t->nbytes - off < STW_CHUNK ? t->nbytes - off : STW_CHUNK;
			if (rs_job_cancelled(job)) {
				r = rs_fail(cause, RS_ECANCEL, "%s: cancelled", w->path);
				break;
			}
			if (t->fill != NULL) {
				if (chunk == NULL && (chunk = rs_malloc(STW_CHUNK)) == NULL) {
					r = rs_fail(cause, RS_ENOMEM, "%s: out of memory", w->path);
					break;
				}
				if ((r = t->fill(t->ud, chunk, off, len, cause)) != 0)
					break;
				r = stw_write(w, chunk, len, cause);
			} else
				r = stw_write(w, (const uint8_t *)t->data + off, len, cause);
			if (r != 0)
				break;
			done += len;
			rs_job_progress(job, (double)done, (double)w->total, t->name);
		}
	}
	rs_free(chunk);
	return r;
}

/* fsync the directory holding path so the rename itself is durable. */
static void
stw_sync_dir(const char *path)
{
	char *copy = rs_strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	rs_free(copy);
}

int
rs_stw_finish(struct rs_stw *w, struct rs_job *job, char **cause)
{
	int r;

	if (w->finished || w->fd < 0)
		return rs_fail(cause, RS_EINVAL, "%s: writer already finished", w->path);
	if ((r = stw_header(w, cause)) != 0 || (r = stw_data(w, job, cause)) != 0)
		return r;
	if (fchmod(w->fd, 0644) != 0 || fsync(w->fd) != 0)
		return rs_fail(cause, RS_EIO, "%s: %s", w->tmp, strerror(errno));
	/* renamed while still open and locked, so no sweep takes it for a leftover */
	if (rename(w->tmp, w->path) != 0)
		return rs_fail(cause, RS_EIO, "%s: rename from %s: %s", w->path, w->tmp,
		    strerror(errno));
	close(w->fd);   /* synced above: nothing left to fail */
	w->fd = -1;
	rs_free(w->tmp);
	w->tmp = NULL;
	w->finished = 1;
	stw_sync_dir(w->path);
	return 0;
}

void
rs_stw_free(struct rs_stw *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->created && w->tmp != NULL)
		unlink(w->tmp);
	for (i = 0; i < w->n; i++)
		rs_free(w->t[i].name);
	rs_free(w->t);
	json_decref(w->names);
	json_decref(w->meta);
	rs_free(w->tmp);
	rs_free(w->path);
	rs_free(w);
}

const char *
rs_stw_tmp_path(const struct rs_stw *w)
{
	return w->tmp;
}
