/* test-gguf-write.c: the GGUF writer against files llama.cpp wrote.
 *
 * Every key and tensor of llama.cpp's stories260K GGUF files (F32 and Q8_0, from its converter
 * and llama-quantize) copied through the writer in file order gives the same bytes as
 * llama.cpp's file: header, key encoding, tensor infos, 32-byte alignment and padding.  Then
 * every key type written and read back, refusals of duplicates and unwritable shapes, and the
 * atomic write: an abandoned or cancelled writer leaves no file and the old target intact. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "gguf-write.h"
#include "gguf.h"
#include "mapfile.h"
#include "status.h"
#include "tap.h"

/* Fill callback: bytes of a tensor of an open GGUF file. */
static int
copy_fill(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	const struct rs_gguf_tensor *t = ud;

	(void)cause;
	memcpy(buf, (const uint8_t *)t->data + off, len);
	return 0;
}

/* Order tensor indexes by data offset (the order a file holds them in). */
static const struct rs_gguf_tensor *const *sort_base;
static int
by_data(const void *a, const void *b)
{
	const uint8_t *x = sort_base[*(const int64_t *)a]->data;
	const uint8_t *y = sort_base[*(const int64_t *)b]->data;

	return (x > y) - (x < y);
}

/* Copy a fixture GGUF through the writer and compare the bytes. */
static void
test_copy(const char *rel, const char *tmpdir)
{
	char path[4096], out[4200], *cause = NULL;
	const struct rs_gguf_tensor **ts;
	struct rs_mapfile *a, *b;
	struct rs_gguf *g;
	struct rs_ggw *w;
	int64_t i, n, *order;
	uint64_t size = 0;
	int rc = 0;

	if (tap_fixture_path(path, sizeof path, rel) == NULL) {
		tap_skip(1, "fixture missing");
		return;
	}
	snprintf(out, sizeof out, "%s/copy.gguf", tmpdir);
	if ((g = rs_gguf_open(path, &cause)) == NULL || (w = rs_ggw_new(out, &cause)) == NULL) {
		tap_ok(0, "%s: open and start the copy: %s", rel, cause);
		free(cause);
		rs_gguf_close(g);
		return;
	}
	for (i = 0; rc == 0 && i < rs_gguf_n_kv(g); i++)
		rc = rs_ggw_kv_copy(w, g, i, &cause);
	n = rs_gguf_n_tensors(g);
	ts = rs_mallocarray((size_t)n, sizeof *ts);
	order = rs_mallocarray((size_t)n, sizeof *order);
	for (i = 0; i < n; i++) {
		ts[i] = rs_gguf_tensor(g, i);
		order[i] = i;
	}
	/* infos in the file's order; data offsets follow it in llama.cpp's files */
	for (i = 0; rc == 0 && i < n; i++) {
		const struct rs_gguf_tensor *t = ts[i];
		rc = rs_ggw_add_tensor(w, t->name, t->ggml_type, t->n_dims, t->ne, copy_fill,
		    (void *)t, &cause);
	}
	sort_base = ts;
	qsort(order, (size_t)n, sizeof *order, by_data);
	for (i = 0; i < n; i++)
		if (order[i] != i)
			break;
	tap_ok(i == n, "%s: its tensor data lies in the order of its infos", rel);
	if (rc == 0)
		rc = rs_ggw_finish(w, NULL, &size, &cause);
	tap_ok(rc == 0, "%s: %lld keys and %lld tensors written: %s", rel,
	    (long long)rs_gguf_n_kv(g), (long long)n, rc ? cause : "ok");
	a = rs_mapfile_open(path, NULL);
	b = rc == 0 ? rs_mapfile_open(out, NULL) : NULL;
	tap_ok(a != NULL && b != NULL && a->size == b->size && size == b->size &&
	    memcmp(a->data, b->data, a->size) == 0, "%s: the copy is byte for byte llama.cpp's "
	    "file (%zu bytes)", rel, a != NULL ? a->size : 0);
	rs_mapfile_close(a);
	rs_mapfile_close(b);
	rs_ggw_free(w);
	rs_gguf_close(g);
	rs_free(ts);
	rs_free(order);
	free(cause);
	unlink(out);
}

/* Fill callback: a float32 ramp. */
static int
ramp_fill(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	size_t i;
	float v;

	(void)ud;
	(void)cause;
	for (i = 0; i < len; i += 4) {
		v = (float)((off + i) / 4);
		memcpy((uint8_t *)buf + i, &v, 4);
	}
	return 0;
}

/* Fill callback that cancels the job on its first call. */
static int
cancel_fill(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	struct rs_job *job = ud;

	job->cancel = 1;
	return ramp_fill(NULL, buf, off, len, cause);
}

/* Every value type written and read back; refusals; atomicity. */
static void
test_types(const char *tmpdir)
{
	char out[4200], *cause = NULL;
	static const int32_t arr[3] = { -1, 7, 1 << 30 };
	uint64_t ne[2] = { 3, 5 }, ne_bad[1] = { 33 }, size = 0;
	struct rs_ggw *w;
	struct rs_gguf *g;
	const struct rs_gguf_tensor *t;
	struct rs_job job;
	const char *s;
	size_t len;
	int64_t v, k;
	double d;
	int ok;

	snprintf(out, sizeof out, "%s/types.gguf", tmpdir);
	w = rs_ggw_new(out, &cause);
	ok = w != NULL && rs_ggw_kv_u32(w, "u", 4000000000u, &cause) == 0 &&
	    rs_ggw_kv_i32(w, "i", -5, &cause) == 0 && rs_ggw_kv_f32(w, "f", 0.25f, &cause) == 0 &&
	    rs_ggw_kv_bool(w, "b", 1, &cause) == 0 && rs_ggw_kv_str(w, "s", "hé", 3, &cause) == 0 &&
	    rs_ggw_kv_arr(w, "a", RS_GGUF_INT32, arr, 3, &cause) == 0;
	tap_ok(ok, "scalars and a numeric array are added");
	ok = rs_ggw_kv_u32(w, "u", 1, &cause) == RS_EINVAL;
	tap_ok(ok && strstr(cause, "duplicate key 'u'") != NULL, "a duplicate key is refused: %s",
	    cause);
	free(cause);
	cause = NULL;
	ok = rs_ggw_add_tensor(w, "t", RS_GGML_F32, 2, ne, ramp_fill, NULL, &cause) == 0 &&
	    rs_ggw_add_tensor(w, "t", RS_GGML_F32, 2, ne, ramp_fill, NULL, &cause) == RS_EINVAL;
	tap_ok(ok, "a duplicate tensor name is refused: %s", cause);
	free(cause);
	cause = NULL;
	ok = rs_ggw_add_tensor(w, "q", RS_GGML_Q8_0, 1, ne_bad, ramp_fill, NULL, &cause) ==
	    RS_EINVAL;
	tap_ok(ok, "a Q8_0 row of 33 is refused: %s", cause);
	free(cause);
	cause = NULL;
	tap_ok(rs_ggw_finish(w, NULL, &size, &cause) == 0, "finish");
	rs_ggw_free(w);
	g = rs_gguf_open(out, &cause);
	tap_ok(g != NULL, "the reader opens it: %s", cause ? cause : "ok");
	if (g != NULL) {
		tap_ok(rs_gguf_version(g) == 3 && rs_gguf_get_int(g, "u", &v, NULL) == 0 &&
		    v == 4000000000LL && rs_gguf_get_int(g, "i", &v, NULL) == 0 && v == -5 &&
		    rs_gguf_get_float(g, "f", &d, NULL) == 0 && d == 0.25 &&
		    rs_gguf_get_int(g, "b", &v, NULL) == 0 && v == 1 &&
		    rs_gguf_get_str(g, "s", &s, &len, NULL) == 0 && len == 3 &&
		    memcmp(s, "hé", 3) == 0, "version 3, every scalar reads back");
		k = rs_gguf_find_key(g, "a");
		tap_ok(k >= 0 && rs_gguf_arr_type(g, k) == RS_GGUF_INT32 && rs_gguf_arr_n(g, k) == 3 &&
		    memcmp(rs_gguf_arr_data(g, k), arr, sizeof arr) == 0, "the array reads back");
		t = rs_gguf_tensor(g, 0);
		tap_ok(rs_gguf_n_tensors(g) == 1 && t->ne[0] == 3 && t->ne[1] == 5 &&
		    ((const float *)t->data)[14] == 14.0f && size % 32 == 0,
		    "the tensor reads back; the file (%llu bytes) ends padded to 32",
		    (unsigned long long)size);
		rs_gguf_close(g);
	}
	free(cause);
	cause = NULL;

	/* an abandoned writer, and a cancelled one: the old target stays, no temporary is left */
	w = rs_ggw_new(out, NULL);
	rs_ggw_kv_u32(w, "x", 1, NULL);
	rs_ggw_free(w);
	memset(&job, 0, sizeof job);
	w = rs_ggw_new(out, NULL);
	rs_ggw_add_tensor(w, "big", RS_GGML_F32, 2, (const uint64_t[]){ 1024, 4096 }, cancel_fill,
	    &job, NULL);
	ok = rs_ggw_finish(w, &job, NULL, &cause) == RS_ECANCEL;
	rs_ggw_free(w);
	g = rs_gguf_open(out, NULL);
	tap_ok(ok && g != NULL && rs_gguf_find_key(g, "u") >= 0 && rs_gguf_find_key(g, "x") < 0,
	    "abandoned and cancelled writes leave the previous file: %s", cause);
	rs_gguf_close(g);
	free(cause);
	snprintf(out, sizeof out, "ls %s | grep -c tmp >/dev/null", tmpdir);
	tap_ok(system(out) != 0, "and no temporary file");
}

int
main(void)
{
	char tmpl[] = "/tmp/rs-ggw-XXXXXX", cmd[256];

	if (mkdtemp(tmpl) == NULL)
		tap_skip_all("no temporary folder");
	test_copy("stories260K/stories260K.gguf", tmpl);
	test_copy("stories260K/gguf/stories260K-q8_0.gguf", tmpl);
	test_copy("vocab/ggml-vocab-gpt-2.gguf", tmpl);
	test_types(tmpl);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpl);
	return tap_done();
}
