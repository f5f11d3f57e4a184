/* test-safetensors.c: the safetensors reader on the fixture folders, hostile headers, sharded
 * folders, and the writer's round trip.
 *
 * Known shapes come from the fixtures' config.json (kjv-llama: hidden 256, 8 heads of 32, 4 KV
 * heads, intermediate 768, vocab 4096; stories260K: dim 64, 4 KV heads of 8, hidden 172, vocab
 * 512).  kjv-llama-f32 holds the same weights in F32: the BF16 file must be its rounding. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "dtype.h"
#include "safetensors.h"
#include "st-write.h"
#include "status.h"
#include "tap.h"

static const char *fixtures;
static char tmpdir[4096];

/* True if tensor `name` exists with dtype dt and the given shape (n dims). */
static int
has(const struct rs_st *st, const char *name, enum rs_dtype dt, uint32_t n, uint64_t d0,
    uint64_t d1)
{
	const struct rs_st_tensor *t = rs_st_find(st, name);

	if (t == NULL || t->dtype != dt || t->n_dims != n || t->shape[0] != d0)
		return 0;
	if (n == 2 && t->shape[1] != d1)
		return 0;
	return t->nbytes == d0 * (n == 2 ? d1 : 1) * (dt == RS_DT_F32 ? 4 : 2);
}

/* Open a fixture folder; NULL and a failed point if it does not open. */
static struct rs_st *
open_dir_fixture(const char *rel)
{
	char path[4096], *cause = NULL;
	struct rs_st *st;

	snprintf(path, sizeof path, "%s/%s", fixtures, rel);
	st = rs_st_open_dir(path, &cause);
	if (!tap_ok(st != NULL, "folder %s opens", rel))
		tap_diag("%s", cause ? cause : "(no cause)");
	free(cause);
	return st;
}

/* Every tensor's data lies in one file, in data order, and the names index back to it. */
static int
all_sane(const struct rs_st *st)
{
	int64_t i;

	for (i = 0; i < rs_st_n_tensors(st); i++) {
		const struct rs_st_tensor *t = rs_st_tensor(st, i);

		if (rs_st_find(st, t->name) != t || t->file == NULL || t->data == NULL)
			return 0;
	}
	return rs_st_tensor(st, -1) == NULL && rs_st_tensor(st, rs_st_n_tensors(st)) == NULL;
}

/* kjv-llama (BF16), kjv-llama-f32, stories260K/hf: shapes, metadata, BF16 = rounded F32. */
static void
test_fixtures(void)
{
	struct rs_st *bf, *f32, *st;
	int64_t i, exact = 0, rounded = 0, n;
	char path[4096], *cause = NULL;

	bf = open_dir_fixture("kjv-llama");
	f32 = open_dir_fixture("kjv-llama-f32");
	if (bf != NULL) {
		tap_ok(rs_st_n_tensors(bf) == 57 && all_sane(bf), "kjv-llama: 57 tensors");
		tap_ok(has(bf, "model.layers.0.self_attn.q_proj.weight", RS_DT_BF16, 2, 256, 256) &&
		    has(bf, "model.layers.0.self_attn.k_proj.weight", RS_DT_BF16, 2, 128, 256) &&
		    has(bf, "model.layers.5.self_attn.v_proj.weight", RS_DT_BF16, 2, 128, 256) &&
		    has(bf, "model.layers.0.mlp.gate_proj.weight", RS_DT_BF16, 2, 768, 256) &&
		    has(bf, "model.layers.3.mlp.down_proj.weight", RS_DT_BF16, 2, 256, 768) &&
		    has(bf, "model.embed_tokens.weight", RS_DT_BF16, 2, 4096, 256) &&
		    has(bf, "lm_head.weight", RS_DT_BF16, 2, 4096, 256) &&
		    has(bf, "model.norm.weight", RS_DT_BF16, 1, 256, 0) &&
		    rs_st_find(bf, "model.layers.6.mlp.up_proj.weight") == NULL,
		    "kjv-llama: shapes (q 256x256, k 128x256, gate 768x256, ...)");
		tap_ok(rs_st_metadata(bf, "format") != NULL &&
		    strcmp(rs_st_metadata(bf, "format"), "pt") == 0 &&
		    rs_st_metadata(bf, "nope") == NULL, "kjv-llama: __metadata__ format = pt");
	}
	if (f32 != NULL) {
		tap_ok(rs_st_n_tensors(f32) == 57 && all_sane(f32) &&
		    has(f32, "model.layers.0.self_attn.q_proj.weight", RS_DT_F32, 2, 256, 256) &&
		    has(f32, "model.layers.0.mlp.gate_proj.weight", RS_DT_F32, 2, 768, 256),
		    "kjv-llama-f32 (single *.safetensors in the folder): 57 F32 tensors");
		tap_ok(strstr(rs_st_tensor(f32, 0)->file, "model-f32.safetensors") != NULL,
		    "kjv-llama-f32: tensors point at model-f32.safetensors");
	}
	if (bf != NULL && f32 != NULL) {
		n = rs_st_n_tensors(bf);
		for (i = 0; i < n; i++) {
			const struct rs_st_tensor *a = rs_st_tensor(bf, i);
			const struct rs_st_tensor *b = rs_st_find(f32, a->name);
			size_t k, ne = a->nbytes / 2;
			float *x, *y;
			int eq = 1, rne = 1;

			if (b == NULL || b->nbytes != ne * 4)
				break;
			x = malloc(ne * sizeof *x);
			y = malloc(ne * sizeof *y);
			rs_dtype_to_f32(RS_DT_BF16, a->data, x, ne);
			rs_dtype_to_f32(RS_DT_F32, b->data, y, ne);
			for (k = 0; k < ne; k++) {
				uint16_t h;

				memcpy(&h, (const uint8_t *)a->data + 2 * k, 2);
				if (memcmp(&x[k], &y[k], 4) != 0)
					eq = 0;
				if (rs_f32_to_bf16(y[k]) != h)
					rne = 0;
			}
			exact += eq;
			rounded += rne;
			free(x);
			free(y);
		}
		if (exact != n)
			tap_diag("BF16 upcast equals F32 exactly for %" PRId64 " of %" PRId64
			    " tensors; the F32 file is not the BF16 values widened", exact, n);
		tap_ok(i == n && (exact == n || rounded == n),
		    "every BF16 weight is %s of its F32 counterpart (%" PRId64 " tensors)",
		    exact == n ? "exactly the value" : "the round-to-nearest-even bf16", n);
	}
	rs_st_close(bf);
	rs_st_close(f32);

	if ((st = open_dir_fixture("stories260K/hf")) != NULL) {
		tap_ok(rs_st_n_tensors(st) == 48 && all_sane(st) &&
		    has(st, "lm_head.weight", RS_DT_F32, 2, 512, 64) &&
		    has(st, "model.embed_tokens.weight", RS_DT_F32, 2, 512, 64) &&
		    has(st, "model.layers.0.self_attn.q_proj.weight", RS_DT_F32, 2, 64, 64) &&
		    has(st, "model.layers.4.self_attn.k_proj.weight", RS_DT_F32, 2, 32, 64) &&
		    has(st, "model.layers.0.mlp.down_proj.weight", RS_DT_F32, 2, 64, 172) &&
		    has(st, "model.layers.0.mlp.up_proj.weight", RS_DT_F32, 2, 172, 64),
		    "stories260K/hf: 48 tensors, shapes from config.json");
		rs_st_close(st);
	}
	snprintf(path, sizeof path, "%s/tiny-random/hf/model.safetensors", fixtures);
	st = rs_st_open_file(path, &cause);
	tap_ok(st != NULL && rs_st_n_tensors(st) == 20 &&
	    has(st, "model.embed_tokens.weight", RS_DT_BF16, 2, 512, 256),
	    "tiny-random/hf/model.safetensors opened as a file");
	free(cause);
	rs_st_close(st);
}

/* ------------------------------------------------------------------ hostile files */

/* Write a safetensors file with the given header text (length field `hlen`, or the text's
 * length when hlen is UINT64_MAX) and `ndata` bytes of data. */
static int
write_st(const char *path, const char *header, uint64_t hlen, size_t ndata)
{
	FILE *f = fopen(path, "wb");
	size_t n = strlen(header), i;
	uint8_t b[8];
	int ok;

	if (f == NULL)
		return -1;
	if (hlen == UINT64_MAX)
		hlen = n;
	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(hlen >> (8 * i));
	ok = fwrite(b, 1, 8, f) == 8 && fwrite(header, 1, n, f) == n;
	for (i = 0; ok && i < ndata; i++)
		ok = fputc((int)(i & 0xff), f) != EOF;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Opening path must fail with the path (and `want`, if given) in the cause. */
static int
fails(const char *path, const char *want)
{
	char *cause = NULL;
	struct rs_st *st = rs_st_open_file(path, &cause);
	int ok;

	if (st != NULL) {
		rs_st_close(st);
		return 0;
	}
	ok = cause != NULL && strstr(cause, path) != NULL &&
	    (want == NULL || strstr(cause, want) != NULL);
	if (!ok)
		tap_diag("cause: %s (wanted '%s')", cause ? cause : "(none)", want ? want : "");
	free(cause);
	return ok;
}

/* A header with one tensor entry and nothing else. */
static int
one(const char *path, const char *entry, size_t ndata, const char *want)
{
	char h[1024];

	snprintf(h, sizeof h, "{\"t\":%s}", entry);
	return write_st(path, h, UINT64_MAX, ndata) == 0 && fails(path, want);
}

/* Hand-written hostile headers. */
static void
test_hostile_headers(void)
{
	char path[4200], *deep, *cause = NULL;
	struct rs_st *st;
	size_t i, depth = 100000;
	FILE *f;

	snprintf(path, sizeof path, "%s/hostile.safetensors", tmpdir);

	/* Sanity: the generator makes a valid file. */
	write_st(path, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
	    "\"__metadata__\":{\"a\":\"b\"}}", UINT64_MAX, 16);
	st = rs_st_open_file(path, &cause);
	tap_ok(st != NULL && rs_st_n_tensors(st) == 1 && rs_st_find(st, "t")->nbytes == 16 &&
	    strcmp(rs_st_metadata(st, "a"), "b") == 0, "a hand-written valid file opens");
	rs_st_close(st);
	free(cause);

	for (i = 0; i < 8; i++) {
		if ((f = fopen(path, "wb")) == NULL || fwrite("\x10\0\0\0\0\0\0\0", 1, i, f) != i)
			break;
		fclose(f);
		if (!fails(path, "too short"))
			break;
	}
	tap_ok(i == 8, "files of 0..7 bytes: header length truncated");
	tap_ok(write_st(path, "{}", 4096, 0) == 0 && fails(path, "past the end"),
	    "header length past EOF");
	tap_ok(write_st(path, "{}", (uint64_t)1 << 40, 0) == 0 && fails(path, "limit"),
	    "header length 2^40 over the 100 MB cap");
	tap_ok(write_st(path, "{}", UINT64_MAX - 3, 0) == 0 && fails(path, NULL),
	    "header length near 2^64");
	tap_ok(write_st(path, "{\"t\": {\"dtype\"", UINT64_MAX, 0) == 0 && fails(path, "JSON"),
	    "malformed JSON (cut off)");
	tap_ok(write_st(path, "[1, 2]", UINT64_MAX, 0) == 0 && fails(path, "not an object"),
	    "JSON array instead of an object");
	tap_ok(write_st(path, "{} x", UINT64_MAX, 0) == 0 && fails(path, "JSON"),
	    "trailing garbage after the JSON");
	tap_ok(write_st(path, "", UINT64_MAX, 0) == 0 && fails(path, "JSON"), "empty header");
	tap_ok(write_st(path, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	    "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", UINT64_MAX, 8) == 0 &&
	    fails(path, "duplicate"), "duplicate tensor name refused by the JSON parser");
	tap_ok(write_st(path, "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]}}", UINT64_MAX, 4) == 0 && fails(path, NULL),
	    "NUL inside a tensor name");

	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[256],\"data_offsets\":[0,1024]}", 16,
	    "outside"), "offsets past the end of the file");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}", 16,
	    "do not hold"), "shape/offset mismatch (4 floats in 12 bytes)");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}", 16,
	    "do not hold"), "begin after end");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-4,12]}", 16,
	    "non-negative"), "negative offset");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}", 16,
	    "data_offsets"), "one offset only");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0.0,16]}", 16,
	    "data_offsets"), "float offset");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}", 16,
	    "shape[0]"), "float in shape");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}", 16,
	    "shape[0]"), "negative dimension");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}", 16, "shape"),
	    "shape not an array");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
	    "\"data_offsets\":[0,16]}", 16, "overflow"), "element count overflow");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
	    "\"data_offsets\":[0,16]}", 16, "overflow"), "byte size overflow (2^62 floats)");
	tap_ok(one(path, "{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}", 16,
	    "dimensions"), "five dimensions");
	tap_ok(one(path, "{\"dtype\":\"Q4_9\",\"shape\":[4],\"data_offsets\":[0,16]}", 16,
	    "Q4_9"), "unknown dtype named");
	tap_ok(one(path, "{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}", 16,
	    "I64"), "unsupported dtype I64 named");
	tap_ok(one(path, "{\"dtype\":7,\"shape\":[4],\"data_offsets\":[0,16]}", 16, "dtype"),
	    "non-string dtype");
	tap_ok(one(path, "{\"shape\":[4],\"data_offsets\":[0,16]}", 16, "dtype"),
	    "missing dtype");
	tap_ok(one(path, "[1]", 16, "not an object"), "tensor entry not an object");
	tap_ok(write_st(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", UINT64_MAX, 16) ==
	    0 && fails(path, "overlap"), "overlapping tensors");
	tap_ok(write_st(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	    "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", UINT64_MAX, 16) ==
	    0 && fails(path, "overlap"), "two tensors at the same bytes");
	tap_ok(write_st(path, "{\"__metadata__\":{\"a\":1}}", UINT64_MAX, 0) == 0 &&
	    fails(path, "__metadata__"), "non-string metadata value");
	tap_ok(write_st(path, "{\"__metadata__\":[\"a\"]}", UINT64_MAX, 0) == 0 &&
	    fails(path, "__metadata__"), "metadata not an object");

	/* Deep nesting: the parser must refuse it, not recurse 100,000 levels. */
	deep = malloc(2 * depth + 32);
	if (deep != NULL) {
		strcpy(deep, "{\"t\":");
		memset(deep + 5, '[', depth);
		memset(deep + 5 + depth, ']', depth);
		strcpy(deep + 5 + 2 * depth, "}");
		tap_ok(write_st(path, deep, UINT64_MAX, 0) == 0 && fails(path, "JSON"),
		    "100,000 nested arrays refused");
		strcpy(deep, "{\"__metadata__\":");
		for (i = 0; i < 3000; i++)
			memcpy(deep + 16 + 5 * i, "{\"a\":", 5);
		memset(deep + 16 + 5 * 3000, '}', 3001);
		deep[16 + 5 * 3000 + 3001] = '\0';
		tap_ok(write_st(path, deep, UINT64_MAX, 0) == 0 && fails(path, NULL),
		    "3,000 nested objects in __metadata__ refused");
		free(deep);
	}
	unlink(path);
}

/* Truncations and random header bytes of a copy of kjv-llama/model.safetensors. */
static void
test_hostile_real(void)
{
	char src[4096], path[4200], *cause;
	uint8_t *orig = NULL, b;
	size_t size, hend, len, n = 0, bad = 0, opened = 0;
	uint32_t rng = 777;
	struct rs_st *st;
	FILE *f;
	int fd, k;
	long sz;

	snprintf(src, sizeof src, "%s/kjv-llama/model.safetensors", fixtures);
	snprintf(path, sizeof path, "%s/copy.safetensors", tmpdir);
	if ((f = fopen(src, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) <= 8 ||
	    fseek(f, 0, SEEK_SET) != 0 || (orig = malloc((size_t)sz)) == NULL ||
	    fread(orig, 1, (size_t)sz, f) != (size_t)sz) {
		tap_ok(0, "read %s", src);
		free(orig);
		return;
	}
	fclose(f);
	size = (size_t)sz;
	hend = 8 + (size_t)(orig[0] | orig[1] << 8 | orig[2] << 16);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    write(fd, orig, size) != (ssize_t)size) {
		tap_ok(0, "write %s", path);
		free(orig);
		return;
	}
	cause = NULL;
	st = rs_st_open_file(path, &cause);
	tap_ok(st != NULL, "the unmodified copy opens");
	rs_st_close(st);
	free(cause);

	/* Random bytes in the header: no crash; failures name the file. */
	for (k = 0; k < 2000; k++) {
		size_t off;

		rng = rng * 1103515245u + 12345u;
		off = (rng >> 8) % hend;
		rng = rng * 1103515245u + 12345u;
		b = (uint8_t)(rng >> 16);
		if (k % 2 == 0)
			b = (uint8_t)"0123456789[]{},:\"-e. "[(rng >> 8) % 21];
		if (pwrite(fd, &b, 1, (off_t)off) != 1)
			break;
		cause = NULL;
		st = rs_st_open_file(path, &cause);
		if (st != NULL)
			opened++;
		else if (cause == NULL || strstr(cause, path) == NULL)
			bad++;
		rs_st_close(st);
		free(cause);
		if (pwrite(fd, orig + off, 1, (off_t)off) != 1)
			break;
	}
	tap_ok(k == 2000 && bad == 0, "2000 random header bytes: no crash, failures name the file "
	    "(%zu still opened)", opened);

	/* Truncations: every length in the header's first 300 bytes, strides after. */
	for (len = size - 1;; ) {
		if (ftruncate(fd, (off_t)len) != 0)
			break;
		n++;
		if (!fails(path, NULL) && bad++ == 0)
			tap_diag("truncated to %zu bytes: not refused", len);
		if (len == 0)
			break;
		if (len > hend + 64)
			len = len - (size - hend) / 50 - 1 > hend ? len - (size - hend) / 50 - 1 :
			    hend;
		else if (len > 300)
			len -= len % 5 == 0 ? 5 : len % 5;
		else
			len--;
	}
	tap_ok(bad == 0 && n > 1000, "%zu truncations of kjv-llama all refused", n);
	close(fd);
	unlink(path);
	free(orig);
}

/* ------------------------------------------------------------------ writer */

/* Fill callback: element i of a float32 tensor is i * 0.25 - 1000. */
static int
fill_ramp(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	size_t *calls = ud, i;
	float *f = buf;

	(*calls)++;
	if (off % 4 != 0 || len % 4 != 0)
		return rs_fail(cause, RS_EINVAL, "unaligned chunk");
	for (i = 0; i < len / 4; i++)
		f[i] = (float)(off / 4 + i) * 0.25f - 1000.0f;
	return 0;
}

/* Fill callback that fails. */
static int
fill_fail(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	return rs_fail(cause, RS_EIO, "fill failed on purpose");
}

/* Count directory entries containing ".tmp.". */
static int
count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL)
			n++;
	closedir(d);
	return n;
}

/* Write tensors and metadata, read them back. */
static void
test_writer(void)
{
	char path[4200], *cause = NULL;
	struct rs_stw *w;
	struct rs_st *st;
	struct rs_job job = { 0 };
	const struct rs_st_tensor *t;
	float a[15];
	uint16_t h[7], bb[24];
	uint64_t sa[2] = { 3, 5 }, sh[1] = { 7 }, sb[3] = { 2, 3, 4 }, se[2] = { 0, 4 };
	uint64_t big[2] = { 1024, 3000 };
	size_t calls = 0, i, hlen;
	struct stat sb_;
	int ok, r, fd;
	uint8_t lenb[8];
	float *bigf = NULL;

	for (i = 0; i < 15; i++)
		a[i] = (float)i / 3.0f;
	for (i = 0; i < 7; i++)
		h[i] = rs_f32_to_f16((float)i - 3.5f);
	for (i = 0; i < 24; i++)
		bb[i] = rs_f32_to_bf16((float)i * 1.5f);
	snprintf(path, sizeof path, "%s/out.safetensors", tmpdir);

	w = rs_stw_new(path, &cause);
	if (!tap_ok(w != NULL && count_tmp(tmpdir) == 1, "writer created with its temporary file")) {
		tap_diag("%s", cause ? cause : "");
		return;
	}
	tap_ok(strncmp(rs_stw_tmp_path(w), path, strlen(path)) == 0 &&
	    strstr(rs_stw_tmp_path(w), ".tmp.") != NULL, "temporary name is path.tmp.XXXXXX");
	ok = rs_stw_add(w, "a.weight", RS_DT_F32, 2, sa, a, &cause) == 0 &&
	    rs_stw_add(w, "h", RS_DT_F16, 1, sh, h, &cause) == 0 &&
	    rs_stw_add(w, "b \"quoted\" \xc3\xa9", RS_DT_BF16, 3, sb, bb, &cause) == 0 &&
	    rs_stw_add(w, "empty", RS_DT_F32, 2, se, NULL, &cause) == 0 &&
	    rs_stw_add(w, "scalar", RS_DT_F32, 0, NULL, a + 1, &cause) == 0 &&
	    rs_stw_add_fill(w, "big", RS_DT_F32, 2, big, fill_ramp, &calls, &cause) == 0 &&
	    rs_stw_meta(w, "format", "pt", &cause) == 0 &&
	    rs_stw_meta(w, "note", "line\nbreak \"q\" \xe2\x9c\x93", &cause) == 0;
	tap_ok(ok, "tensors and metadata added");
	tap_ok(rs_stw_add(w, "h", RS_DT_F32, 1, sh, a, &cause) == RS_EINVAL &&
	    strstr(cause, path) != NULL, "duplicate name refused");
	tap_ok(rs_stw_add(w, "__metadata__", RS_DT_F32, 1, sh, a, &cause) == RS_EINVAL,
	    "reserved name refused");
	tap_ok(rs_stw_add(w, "q", RS_DT_Q8_0, 1, sh, a, &cause) == RS_EINVAL,
	    "quantized dtype refused");
	tap_ok(rs_stw_add(w, "bad\xff", RS_DT_F32, 1, sh, a, &cause) == RS_EINVAL,
	    "invalid UTF-8 name refused");
	r = rs_stw_finish(w, &job, &cause);
	tap_ok(r == 0 && rs_stw_tmp_path(w) == NULL && count_tmp(tmpdir) == 0,
	    "finish renames the temporary file away");
	if (r != 0)
		tap_diag("%s", cause);
	tap_ok(calls == (1024 * 3000 * 4 + (4u << 20) - 1) / (4u << 20),
	    "fill called once per 4 MiB chunk (%zu calls)", calls);
	rs_stw_free(w);
	tap_ok(stat(path, &sb_) == 0 && (sb_.st_mode & 0777) == 0644, "target exists, mode 0644");

	/* Header length a multiple of 8, padded with spaces. */
	fd = open(path, O_RDONLY);
	hlen = 0;
	if (fd >= 0 && read(fd, lenb, 8) == 8)
		for (i = 0; i < 8; i++)
			hlen |= (size_t)lenb[i] << (8 * i);
	if (fd >= 0)
		close(fd);
	tap_ok(hlen > 0 && hlen % 8 == 0, "header length %zu is a multiple of 8", hlen);

	st = rs_st_open_file(path, &cause);
	if (!tap_ok(st != NULL, "written file opens")) {
		tap_diag("%s", cause);
		free(cause);
		return;
	}
	t = rs_st_find(st, "a.weight");
	tap_ok(t != NULL && t->dtype == RS_DT_F32 && t->n_dims == 2 && t->shape[0] == 3 &&
	    t->shape[1] == 5 && t->nbytes == sizeof a && memcmp(t->data, a, sizeof a) == 0,
	    "F32 [3,5] read back equal");
	t = rs_st_find(st, "h");
	tap_ok(t != NULL && t->dtype == RS_DT_F16 && t->n_dims == 1 && t->shape[0] == 7 &&
	    memcmp(t->data, h, sizeof h) == 0, "F16 [7] read back equal");
	t = rs_st_find(st, "b \"quoted\" \xc3\xa9");
	tap_ok(t != NULL && t->dtype == RS_DT_BF16 && t->n_dims == 3 && t->shape[2] == 4 &&
	    memcmp(t->data, bb, sizeof bb) == 0, "BF16 [2,3,4] with an escaped name read back");
	t = rs_st_find(st, "empty");
	tap_ok(t != NULL && t->nbytes == 0 && t->shape[0] == 0 && t->shape[1] == 4,
	    "empty [0,4] tensor");
	t = rs_st_find(st, "scalar");
	tap_ok(t != NULL && t->n_dims == 0 && t->nbytes == 4 && memcmp(t->data, a + 1, 4) == 0,
	    "0-dimensional tensor");
	/* After the odd-sized F16 tensor this one is not 4-aligned: read it through the
	 * converter, which accepts any alignment. */
	t = rs_st_find(st, "big");
	ok = t != NULL && t->nbytes == 1024 * 3000 * 4 &&
	    (bigf = malloc(t->nbytes)) != NULL;
	if (ok)
		rs_dtype_to_f32(RS_DT_F32, t->data, bigf, 1024 * 3000);
	for (i = 0; ok && i < 1024 * 3000; i++)
		if (bigf[i] != (float)i * 0.25f - 1000.0f)
			ok = 0;
	free(bigf);
	tap_ok(ok, "12 MB tensor from the fill callback read back equal");
	tap_ok(rs_st_metadata(st, "format") != NULL && strcmp(rs_st_metadata(st, "format"), "pt")
	    == 0 && rs_st_metadata(st, "note") != NULL &&
	    strcmp(rs_st_metadata(st, "note"), "line\nbreak \"q\" \xe2\x9c\x93") == 0,
	    "metadata read back equal");
	/* Data in the order added, contiguous from offset 0. */
	{
		static const char *const order[] = { "a.weight", "h", "b \"quoted\" \xc3\xa9",
		    "empty", "scalar", "big" };
		const uint8_t *p = (const uint8_t *)rs_st_find(st, "a.weight")->data;

		ok = p != NULL;
		for (i = 0; i < 6; i++) {
			t = rs_st_find(st, order[i]);
			if (t == NULL || (const uint8_t *)t->data != p)
				ok = 0;
			else
				p += t->nbytes;
		}
		tap_ok(ok && rs_st_n_tensors(st) == 6, "data in the order added, offsets contiguous");
	}
	rs_st_close(st);

	/* Abort: free without finish leaves neither target nor temporary file. */
	unlink(path);
	w = rs_stw_new(path, &cause);
	ok = w != NULL && rs_stw_add(w, "a", RS_DT_F32, 2, sa, a, &cause) == 0 &&
	    count_tmp(tmpdir) == 1;
	rs_stw_free(w);
	tap_ok(ok && count_tmp(tmpdir) == 0 && access(path, F_OK) != 0,
	    "abort removes the temporary file and creates no target");

	/* Cancel and fill failure: an error, the temporary file goes on free, the old target
	 * stays untouched. */
	write_st(path, "{}", UINT64_MAX, 0);
	w = rs_stw_new(path, &cause);
	job.cancel = 1;
	r = w == NULL ? -99 : (rs_stw_add_fill(w, "big", RS_DT_F32, 2, big, fill_ramp, &calls,
	    &cause) == 0 ? rs_stw_finish(w, &job, &cause) : -98);
	rs_stw_free(w);
	job.cancel = 0;
	tap_ok(r == RS_ECANCEL && count_tmp(tmpdir) == 0 && stat(path, &sb_) == 0 &&
	    sb_.st_size == 10, "cancelled job: RS_ECANCEL, old target kept, no temporary file");
	w = rs_stw_new(path, &cause);
	r = w == NULL ? -99 : (rs_stw_add_fill(w, "x", RS_DT_F32, 2, big, fill_fail, NULL,
	    &cause) == 0 ? rs_stw_finish(w, NULL, &cause) : -98);
	rs_stw_free(w);
	tap_ok(r == RS_EIO && strstr(cause, "on purpose") != NULL && count_tmp(tmpdir) == 0,
	    "failing fill callback: its error, no temporary file");
	free(cause);
	cause = NULL;
	tap_ok(rs_stw_new("/nonexistent-dir/x.safetensors", &cause) == NULL && cause != NULL &&
	    strstr(cause, "/nonexistent-dir/x.safetensors") != NULL,
	    "unwritable folder: error naming the target");
	free(cause);
	unlink(path);
}

/* ------------------------------------------------------------------ folders */

/* Write a text file. */
static int
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* A folder: make it empty. */
static void
clean_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[8192];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
}

/* Opening the folder must fail with the folder or a file in it named, and `want`. */
static int
dir_fails(const char *dir, const char *want)
{
	char *cause = NULL;
	struct rs_st *st = rs_st_open_dir(dir, &cause);
	int ok;

	if (st != NULL) {
		rs_st_close(st);
		return 0;
	}
	ok = cause != NULL && strstr(cause, dir) != NULL && (want == NULL ||
	    strstr(cause, want) != NULL);
	if (!ok)
		tap_diag("cause: %s (wanted '%s')", cause ? cause : "(none)", want ? want : "");
	free(cause);
	return ok;
}

/* Sharded folders (made from kjv-llama with the writer), pickles, ambiguity. */
static void
test_folders(void)
{
	char dir[4200], p[8400], *cause = NULL, *idx;
	struct rs_st *src, *st;
	struct rs_stw *w1, *w2;
	int64_t i, n;
	size_t len = 0, cap = 1 << 16;
	int ok;

	snprintf(dir, sizeof dir, "%s/folder", tmpdir);
	mkdir(dir, 0700);
	tap_ok(dir_fails(dir, "no model.safetensors"), "empty folder refused");
	snprintf(p, sizeof p, "%s/pytorch_model.bin", dir);
	write_text(p, "not a pickle really");
	tap_ok(dir_fails(dir, "PyTorch pickle files are never opened; convert to safetensors"),
	    "folder with only a .bin: pickle refusal");
	snprintf(p, sizeof p, "%s/a.safetensors", dir);
	write_st(p, "{}", UINT64_MAX, 0);
	snprintf(p, sizeof p, "%s/b.safetensors", dir);
	write_st(p, "{}", UINT64_MAX, 0);
	tap_ok(dir_fails(dir, "2 .safetensors files"), "two *.safetensors without an index");
	clean_dir(dir);

	snprintf(p, sizeof p, "%s/kjv-llama", fixtures);
	if ((src = rs_st_open_dir(p, &cause)) == NULL) {
		tap_ok(0, "kjv-llama for sharding: %s", cause);
		free(cause);
		return;
	}
	n = rs_st_n_tensors(src);
	snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
	w1 = rs_stw_new(p, &cause);
	snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
	w2 = rs_stw_new(p, &cause);
	idx = malloc(cap);
	ok = w1 != NULL && w2 != NULL && idx != NULL;
	if (ok)
		len = (size_t)snprintf(idx, cap, "{\"metadata\": {\"total_size\": 0},\n"
		    "\"weight_map\": {");
	for (i = 0; ok && i < n; i++) {
		const struct rs_st_tensor *t = rs_st_tensor(src, i);
		int second = i >= n / 2;

		ok = rs_stw_add(second ? w2 : w1, t->name, t->dtype, t->n_dims, t->shape, t->data,
		    &cause) == 0;
		len += (size_t)snprintf(idx + len, cap - len, "%s\n\"%s\": \"model-0000%d-of-00002."
		    "safetensors\"", i ? "," : "", t->name, second ? 2 : 1);
	}
	ok = ok && rs_stw_finish(w1, NULL, &cause) == 0 && rs_stw_finish(w2, NULL, &cause) == 0;
	rs_stw_free(w1);
	rs_stw_free(w2);
	if (ok) {
		snprintf(idx + len, cap - len, "}}\n");
		snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
		ok = write_text(p, idx) == 0;
	}
	if (!tap_ok(ok, "two shards and an index written")) {
		tap_diag("%s", cause ? cause : "");
		free(cause);
		free(idx);
		rs_st_close(src);
		return;
	}
	st = rs_st_open_dir(dir, &cause);
	ok = st != NULL && rs_st_n_tensors(st) == n;
	for (i = 0; ok && i < n; i++) {
		const struct rs_st_tensor *a = rs_st_tensor(src, i), *b = rs_st_find(st, a->name);

		ok = b != NULL && b->nbytes == a->nbytes && b->dtype == a->dtype &&
		    memcmp(b->data, a->data, a->nbytes) == 0 &&
		    strstr(b->file, i >= n / 2 ? "00002-of" : "00001-of") != NULL;
	}
	tap_ok(ok, "sharded folder: all %" PRId64 " tensors equal, each from its shard", n);
	rs_st_close(st);

	/* Hostile indexes. */
	snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
	len = strlen(idx);
	{
		char *bad = malloc(len + 256), *q;

		/* A tensor listed that is not in its shard. */
		q = strstr(idx, "\"weight_map\": {");
		memcpy(bad, idx, (size_t)(q - idx) + 15);
		sprintf(bad + (q - idx) + 15, "\"ghost.weight\": \"model-00001-of-00002."
		    "safetensors\",%s", q + 15);
		write_text(p, bad);
		tap_ok(dir_fails(dir, "ghost.weight"), "index lists a tensor missing from its shard");
		/* Path traversal. */
		sprintf(bad + (q - idx) + 15, "\"ghost.weight\": \"../../etc/passwd\",%s", q + 15);
		write_text(p, bad);
		tap_ok(dir_fails(dir, "plain file name"), "index pointing outside the folder");
		/* A shard that does not exist. */
		sprintf(bad + (q - idx) + 15, "\"ghost.weight\": \"nope.safetensors\",%s", q + 15);
		write_text(p, bad);
		tap_ok(dir_fails(dir, "nope.safetensors"), "index naming a missing shard");
		free(bad);
	}
	write_text(p, "{\"weight_map\": [1]}");
	tap_ok(dir_fails(dir, "weight_map"), "weight_map not an object");
	write_text(p, "{\"weight_map\": ");
	tap_ok(dir_fails(dir, "JSON"), "index truncated");
	/* The same tensor in both shards: name both shards, list the tensor once. */
	{
		uint64_t sh[1] = { 4 };
		float z[4] = { 0 };

		snprintf(p, sizeof p, "%s/model-00003-of-00002.safetensors", dir);
		w1 = rs_stw_new(p, &cause);
		ok = w1 != NULL && rs_stw_add(w1, rs_st_tensor(src, 0)->name, RS_DT_F32, 1, sh, z,
		    &cause) == 0 && rs_stw_add(w1, "extra", RS_DT_F32, 1, sh, z, &cause) == 0 &&
		    rs_stw_finish(w1, NULL, &cause) == 0;
		rs_stw_free(w1);
		snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
		len = strlen(idx);
		idx[len - 3] = '\0';
		strcat(idx, ",\n\"extra\": \"model-00003-of-00002.safetensors\"}}\n");
		write_text(p, idx);
		tap_ok(ok && dir_fails(dir, "is in both"), "a tensor in two shards refused");
	}
	free(idx);
	rs_st_close(src);
	clean_dir(dir);
	rmdir(dir);
}

/* Allocation failures at every step of opening a folder: an error, never a crash or leak. */
static void
test_alloc_failures(void)
{
	char p[4096], *cause = NULL;
	unsigned long n, total;
	struct rs_st *st;
	int ok = 1;

	snprintf(p, sizeof p, "%s/kjv-llama", fixtures);
	rs_alloc_fail_at(0);
	st = rs_st_open_dir(p, NULL);
	total = rs_alloc_fail_at(0);
	rs_st_close(st);
	for (n = 1; n <= total; n++) {
		rs_alloc_fail_at(n);
		st = rs_st_open_dir(p, &cause);
		if (st != NULL) {
			ok = 0;
			rs_st_close(st);
		}
		free(cause);
		cause = NULL;
	}
	rs_alloc_fail_at(0);
	tap_ok(ok && total > 0, "each of the %lu allocations of an open failing makes it fail",
	    total);
}

int
main(void)
{
	char buf[4096];
	const char *t = getenv("TMPDIR");
	int have;

	have = tap_fixture_path(buf, sizeof buf, "kjv-llama/model.safetensors") != NULL;
	fixtures = getenv("RS_FIXTURES");
	if (fixtures == NULL)
		fixtures = "../shared/fixtures";
	snprintf(tmpdir, sizeof tmpdir, "%s/rs-test-st-XXXXXX", t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	/* the constructed headers and the writer need no fixture; the rest reads kjv-llama */
	if (have)
		test_fixtures();
	else
		tap_skip(1, "fixture kjv-llama missing: the fixture folders");
	test_hostile_headers();
	if (have)
		test_hostile_real();
	else
		tap_skip(1, "fixture kjv-llama missing: hostile edits of a real file");
	test_writer();
	if (have) {
		test_folders();
		test_alloc_failures();
	} else
		tap_skip(2, "fixture kjv-llama missing: folders and allocation failures");
	clean_dir(tmpdir);
	rmdir(tmpdir);
	return tap_done();
}
