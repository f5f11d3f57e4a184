/* test-gguf.c: the GGUF reader on every fixture GGUF, then on hostile variants of a real file.
 *
 * Known values come from the fixtures' README and config (stories260K: dim 64, 5 layers, 8 heads,
 * 4 KV heads, hidden 172, vocab 512) and from llama.cpp's vocab files.  Hostile variants are made
 * by patching a copy of stories260K.gguf in a temporary file; the fields are located by a small
 * walker written here, independent of src/gguf.c. */
#include "config.h"

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
#include "gguf.h"
#include "status.h"
#include "tap.h"

static const char *fixtures;

/* Open a fixture GGUF; NULL (and a failed test point) if it does not open. */
static struct rs_gguf *
open_fixture(const char *rel)
{
	char path[4096], *cause = NULL;
	struct rs_gguf *g;

	snprintf(path, sizeof path, "%s/%s", fixtures, rel);
	g = rs_gguf_open(path, &cause);
	if (!tap_ok(g != NULL, "%s opens", rel))
		tap_diag("%s", cause ? cause : "(no cause)");
	free(cause);
	return g;
}

/* An integer key's value, or -12345 if missing / not an integer. */
static int64_t
get_int(const struct rs_gguf *g, const char *key)
{
	int64_t v = -12345;
	char *cause = NULL;

	if (rs_gguf_get_int(g, key, &v, &cause) != 0)
		v = -12345;
	free(cause);
	return v;
}

/* True if tensor `name` exists with dims ne0, ne1 (ne1 = 0: one-dimensional). */
static int
has_shape(const struct rs_gguf *g, const char *name, uint64_t ne0, uint64_t ne1)
{
	int64_t i = rs_gguf_find_tensor(g, name);
	const struct rs_gguf_tensor *t;

	if (i < 0)
		return 0;
	t = rs_gguf_tensor(g, i);
	if (ne1 == 0)
		return t->n_dims == 1 && t->ne[0] == ne0 && t->ne[1] == 1;
	return t->n_dims == 2 && t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1;
}

/* Equality of a string key with s. */
static int
str_is(const struct rs_gguf *g, const char *key, const char *s)
{
	const char *v;
	size_t len;

	if (rs_gguf_get_str(g, key, &v, &len, NULL) != 0)
		return 0;
	return len == strlen(s) && memcmp(v, s, len) == 0;
}

/* Every tensor has data, a byte size matching its dtype and shape, and is found by its name. */
static int
tensors_sane(const struct rs_gguf *g)
{
	int64_t i;

	for (i = 0; i < rs_gguf_n_tensors(g); i++) {
		const struct rs_gguf_tensor *t = rs_gguf_tensor(g, i);
		uint64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];

		if (t->data == NULL || t->nbytes == 0 || rs_gguf_find_tensor(g, t->name) != i)
			return 0;
		if (t->nbytes != rs_dtype_row_bytes(t->dtype, t->ne[0]) * (n / t->ne[0]))
			return 0;
	}
	return 1;
}

/* stories260K and friends: metadata and tensor shapes. */
static void
test_stories(void)
{
	static const char *const files[] = {
		"stories260K/stories260K.gguf", "stories260K/stories260K-ctx512.gguf",
		"stories260K/gguf/stories260K-f32.gguf", "stories260K/gguf/stories260K-f16.gguf",
		"stories260K/gguf/stories260K-bf16.gguf", "stories260K/gguf/stories260K-q8_0.gguf",
	};
	static const enum rs_dtype qtype[] = {
		RS_DT_F32, RS_DT_F32, RS_DT_F32, RS_DT_F16, RS_DT_BF16, RS_DT_Q8_0,
	};
	struct rs_gguf *g;
	const char *s;
	size_t i, len;
	int64_t k;
	double eps;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		if ((g = open_fixture(files[i])) == NULL)
			continue;
		tap_ok(rs_gguf_version(g) == 3 && str_is(g, "general.architecture", "llama"),
		    "%s: v3, general.architecture = llama", files[i]);
		tap_ok(get_int(g, "llama.embedding_length") == 64 &&
		    get_int(g, "llama.block_count") == 5 &&
		    get_int(g, "llama.attention.head_count") == 8 &&
		    get_int(g, "llama.attention.head_count_kv") == 4 &&
		    get_int(g, "llama.feed_forward_length") == 172,
		    "%s: dim 64, 5 layers, 8 heads, 4 KV heads, hidden 172", files[i]);
		/* stories260K.gguf says 128; the others (ctx512, converted from hf/) 512. */
		tap_ok(get_int(g, "llama.context_length") == (i == 0 ? 128 : 512),
		    "%s: context length %d", files[i], i == 0 ? 128 : 512);
		eps = 0;
		tap_ok(rs_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps, NULL) ==
		    0 && eps == (double)1e-5f, "%s: rms epsilon 1e-5", files[i]);
		k = rs_gguf_find_key(g, "tokenizer.ggml.tokens");
		tap_ok(k >= 0 && rs_gguf_kv_type(g, k) == RS_GGUF_ARRAY &&
		    rs_gguf_arr_type(g, k) == RS_GGUF_STRING && rs_gguf_arr_n(g, k) == 512 &&
		    rs_gguf_arr_data(g, k) == NULL,
		    "%s: tokenizer.ggml.tokens is 512 strings", files[i]);
		s = rs_gguf_arr_str(g, k, 1, &len);
		tap_ok(s != NULL && len == 3 && memcmp(s, "<s>", 3) == 0 &&
		    rs_gguf_arr_str(g, k, 512, &len) == NULL, "%s: token 1 is <s>, 512 is out of "
		    "range", files[i]);
		k = rs_gguf_find_key(g, "tokenizer.ggml.scores");
		tap_ok(k >= 0 && rs_gguf_arr_type(g, k) == RS_GGUF_FLOAT32 &&
		    rs_gguf_arr_n(g, k) == 512 && rs_gguf_arr_data(g, k) != NULL,
		    "%s: tokenizer.ggml.scores is 512 float32", files[i]);
		tap_ok(rs_gguf_n_tensors(g) == 48 && tensors_sane(g) &&
		    has_shape(g, "token_embd.weight", 64, 512) &&
		    has_shape(g, "blk.0.attn_q.weight", 64, 64) &&
		    has_shape(g, "blk.0.attn_k.weight", 64, 32) &&
		    has_shape(g, "blk.4.ffn_down.weight", 172, 64) &&
		    has_shape(g, "blk.4.ffn_up.weight", 64, 172) &&
		    has_shape(g, "output_norm.weight", 64, 0) &&
		    rs_gguf_find_tensor(g, "blk.5.ffn_up.weight") == -1,
		    "%s: 48 tensors with the expected shapes", files[i]);
		k = rs_gguf_find_tensor(g, "blk.2.attn_q.weight");
		tap_ok(k >= 0 && rs_gguf_tensor(g, k)->dtype == qtype[i],
		    "%s: attn_q is %s", files[i], rs_dtype_name(qtype[i]));
		rs_gguf_close(g);
	}
}

/* Typed getters: absent keys, wrong types. */
static void
test_getters(void)
{
	struct rs_gguf *g = open_fixture("stories260K/stories260K.gguf");
	char *cause = NULL;
	const char *s;
	size_t len;
	int64_t v = 77;
	double d = 7;

	if (g == NULL)
		return;
	tap_ok(rs_gguf_get_int(g, "no.such.key", &v, &cause) == 1 && v == 77 && cause == NULL,
	    "absent key gives 1 and leaves out untouched");
	tap_ok(rs_gguf_get_int(g, "general.architecture", &v, &cause) == RS_EFORMAT &&
	    cause != NULL && strstr(cause, "general.architecture") != NULL &&
	    strstr(cause, rs_gguf_path(g)) != NULL, "string read as int: RS_EFORMAT naming file "
	    "and key");
	free(cause);
	cause = NULL;
	tap_ok(rs_gguf_get_float(g, "llama.block_count", &d, &cause) == RS_EFORMAT && d == 7,
	    "int read as float: RS_EFORMAT");
	free(cause);
	cause = NULL;
	tap_ok(rs_gguf_get_str(g, "llama.block_count", &s, &len, &cause) == RS_EFORMAT,
	    "int read as string: RS_EFORMAT");
	free(cause);
	tap_ok(get_int(g, "tokenizer.ggml.seperator_token_id") == 4294967295LL,
	    "uint32 0xffffffff reads as 4294967295");
	tap_ok(rs_gguf_key(g, -1) == NULL && rs_gguf_key(g, rs_gguf_n_kv(g)) == NULL &&
	    rs_gguf_tensor(g, 48) == NULL && rs_gguf_n_kv(g) == 19,
	    "out-of-range indexes give NULL; 19 keys");
	rs_gguf_close(g);
}

/* The other fixture GGUFs: they open, and the vocabularies have their sizes. */
static void
test_others(void)
{
	static const struct { const char *file; uint64_t n_vocab; const char *last; } v[] = {
		{ "vocab/ggml-vocab-llama-spm.gguf", 32000, "\xe7\xbb\x99" },
		{ "vocab/ggml-vocab-gpt-2.gguf", 50257, "<|endoftext|>" },
		{ "vocab/ggml-vocab-deepseek-llm.gguf", 102400, "[PAD102399]" },
	};
	static const char *const tiny[] = {
		"Q4_0", "Q4_K_M", "Q6_K", "Q8_0", "bf16", "f16", "f32", "q8_0",
	};
	struct rs_gguf *g;
	const char *s;
	size_t i, len;
	int64_t k;
	char rel[256];

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		if ((g = open_fixture(v[i].file)) == NULL)
			continue;
		k = rs_gguf_find_key(g, "tokenizer.ggml.tokens");
		s = rs_gguf_arr_str(g, k, v[i].n_vocab - 1, &len);
		tap_ok(rs_gguf_n_tensors(g) == 0 && rs_gguf_arr_n(g, k) == v[i].n_vocab &&
		    s != NULL && len == strlen(v[i].last) && memcmp(s, v[i].last, len) == 0,
		    "%s: %" PRIu64 " tokens, last one right", v[i].file, v[i].n_vocab);
		rs_gguf_close(g);
	}
	if ((g = open_fixture("aidreams260K/aidreams260K.gguf")) != NULL) {
		tap_ok(rs_gguf_n_tensors(g) == 39 && tensors_sane(g) &&
		    get_int(g, "llama.block_count") == 4 &&
		    get_int(g, "llama.attention.head_count_kv") == 4 &&
		    has_shape(g, "blk.0.attn_k.weight", 64, 64), "aidreams260K: 4 layers, 39 tensors");
		rs_gguf_close(g);
	}
	for (i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
		snprintf(rel, sizeof rel, "tiny-random/gguf/tiny-random-llama-%s.gguf", tiny[i]);
		if ((g = open_fixture(rel)) == NULL)
			continue;
		tap_ok(rs_gguf_n_tensors(g) == 20 && tensors_sane(g) &&
		    get_int(g, "llama.embedding_length") == 256 &&
		    has_shape(g, "token_embd.weight", 256, 512), "%s: 20 tensors, dim 256", rel);
		rs_gguf_close(g);
	}
}

/* ------------------------------------------------------------------ hostile variants */

/* Where the fields of a GGUF are, found by an independent walk. */
struct layout {
	uint64_t n_kv, n_tensors;
	size_t kv_off[64];        /* key length field of each pair */
	uint64_t kv_keylen[64];
	size_t kv_type_off[64];   /* its type field */
	size_t ti_off[64];        /* each tensor info: its name length field */
	size_t ti_ndims_off[64];
	size_t ti_type_off[64];
	size_t ti_offset_off[64];
	uint64_t ti_namelen[64];
	uint64_t ti_ndims[64];
	uint64_t ti_ne0[64];
	uint64_t ti_offset[64];
	size_t header_end;
	size_t data_end;          /* end of the last tensor's bytes */
	size_t tokens_off;        /* tokenizer.ggml.tokens: its array element type field */
};

/* Little-endian loads for the walker. */
static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)rd64((const uint8_t[8]){ p[0], p[1], p[2], p[3], 0, 0, 0, 0 });
}

/* Little-endian stores into the patched copy. */
static void
wr64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
wr32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Walk a trusted fixture (F32 tensors, no nested arrays) and record the field offsets. */
static int
walk(const uint8_t *b, size_t size, struct layout *L)
{
	static const size_t tsz[13] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
	size_t o = 24, end;
	uint64_t i, j, n, nbytes;
	uint32_t t, at;
	unsigned d;

	memset(L, 0, sizeof *L);
	L->n_tensors = rd64(b + 8);
	L->n_kv = rd64(b + 16);
	if (L->n_kv > 64 || L->n_tensors > 64)
		return -1;
	for (i = 0; i < L->n_kv; i++) {
		L->kv_off[i] = o;
		L->kv_keylen[i] = rd64(b + o);
		if (L->kv_keylen[i] == 21 && memcmp(b + o + 8, "tokenizer.ggml.tokens", 21) == 0)
			L->tokens_off = o + 8 + 21 + 4;
		o += 8 + L->kv_keylen[i];
		L->kv_type_off[i] = o;
		t = rd32(b + o);
		o += 4;
		if (t == 8)
			o += 8 + rd64(b + o);
		else if (t == 9) {
			at = rd32(b + o);
			n = rd64(b + o + 4);
			o += 12;
			for (j = 0; j < n; j++)
				o += at == 8 ? 8 + rd64(b + o) : tsz[at];
		} else
			o += tsz[t];
	}
	for (i = 0; i < L->n_tensors; i++) {
		L->ti_off[i] = o;
		L->ti_namelen[i] = rd64(b + o);
		o += 8 + L->ti_namelen[i];
		L->ti_ndims_off[i] = o;
		L->ti_ndims[i] = rd32(b + o);
		o += 4;
		nbytes = 4;	/* F32 only */
		L->ti_ne0[i] = rd64(b + o);
		for (d = 0; d < L->ti_ndims[i]; d++, o += 8)
			nbytes *= rd64(b + o);
		L->ti_type_off[i] = o;
		if (rd32(b + o) != 0)
			return -1;
		o += 4;
		L->ti_offset_off[i] = o;
		L->ti_offset[i] = rd64(b + o);
		o += 8;
		end = (size_t)(L->ti_offset[i] + nbytes);
		if (end > L->data_end)
			L->data_end = end;
	}
	L->header_end = o;
	L->data_end += (o + 31) / 32 * 32;
	return L->data_end <= size ? 0 : -1;
}

/* The scratch file the variants are written to. */
struct scratch {
	char path[4096];
	int fd;
	const uint8_t *orig;
	size_t size;
};

/* Write the original bytes to the scratch file. */
static int
scratch_reset(struct scratch *s)
{
	if (ftruncate(s->fd, 0) != 0 || pwrite(s->fd, s->orig, s->size, 0) != (ssize_t)s->size)
		return -1;
	return 0;
}

/* Open the scratch file: it must fail with a cause naming the file (and containing `want` if
 * not NULL).  Returns 1 on the expected failure. */
static int
expect_fail(struct scratch *s, const char *want)
{
	char *cause = NULL;
	struct rs_gguf *g = rs_gguf_open(s->path, &cause);
	int ok;

	if (g != NULL) {
		rs_gguf_close(g);
		return 0;
	}
	ok = cause != NULL && strstr(cause, s->path) != NULL &&
	    (want == NULL || strstr(cause, want) != NULL);
	if (!ok)
		tap_diag("cause: %s (wanted '%s')", cause ? cause : "(none)", want ? want : "");
	free(cause);
	return ok;
}

/* Patch n bytes at off, open (expect failure), restore. */
static int
patch_fail(struct scratch *s, size_t off, const void *bytes, size_t n, const char *want)
{
	int ok;

	if (pwrite(s->fd, bytes, n, (off_t)off) != (ssize_t)n)
		return 0;
	ok = expect_fail(s, want);
	if (pwrite(s->fd, s->orig + off, n, (off_t)off) != (ssize_t)n)
		return 0;
	return ok;
}

/* Patch a uint64 field. */
static int
patch64(struct scratch *s, size_t off, uint64_t v, const char *want)
{
	uint8_t b[8];

	wr64(b, v);
	return patch_fail(s, off, b, 8, want);
}

/* Patch a uint32 field. */
static int
patch32(struct scratch *s, size_t off, uint32_t v, const char *want)
{
	uint8_t b[4];

	wr32(b, v);
	return patch_fail(s, off, b, 4, want);
}

/* Truncations at every length of the first bytes, then strides through header and data. */
static void
test_truncations(struct scratch *s, const struct layout *L)
{
	size_t len, n = 0, bad = 0;
	size_t stride_data = (L->data_end - L->header_end) / 60 + 1;

	/* Longest first: ftruncate only shrinks, so no rewrite is needed between lengths. */
	for (len = L->data_end - 1;; ) {
		if (ftruncate(s->fd, (off_t)len) != 0)
			break;
		n++;
		if (!expect_fail(s, NULL)) {
			if (bad++ == 0)
				tap_diag("truncated to %zu bytes: opened or bad cause", len);
		}
		if (len == 0)
			break;
		if (len > L->header_end + 64)
			len = len - stride_data > L->header_end ? len - stride_data : L->header_end;
		else if (len > 600)
			len -= len % 7 == 0 ? 7 : len % 7;
		else
			len--;
	}
	tap_ok(bad == 0 && n > 1000, "%zu truncations (every byte below 600, strides above) all "
	    "fail with the path in the cause", n);
	scratch_reset(s);
}

/* Field-level corruptions of stories260K.gguf. */
static void
test_corruptions(struct scratch *s, const struct layout *L)
{
	uint8_t key[64];
	uint64_t i, j;
	int found;

	tap_ok(patch_fail(s, 0, "GGUX", 4, "magic"), "bad magic");
	tap_ok(patch32(s, 4, 1, "version 1"), "version 1 refused");
	tap_ok(patch32(s, 4, 0x03000000, "endian"), "byte-swapped version: endianness hint");
	tap_ok(patch32(s, 4, 4, "version 4"), "version 4 refused");
	tap_ok(patch64(s, 8, (uint64_t)1 << 62, "n_tensors"), "huge n_tensors (2^62)");
	tap_ok(patch64(s, 8, UINT64_MAX, "n_tensors"), "huge n_tensors (2^64-1)");
	tap_ok(patch64(s, 8, L->n_tensors + 1, NULL), "n_tensors one too many");
	tap_ok(patch64(s, 16, (uint64_t)1 << 62, "n_kv"), "huge n_kv (2^62)");
	tap_ok(patch64(s, 16, UINT64_MAX, "n_kv"), "huge n_kv (2^64-1)");
	tap_ok(patch64(s, 16, L->n_kv + 1, NULL), "n_kv one too many");
	tap_ok(patch64(s, L->kv_off[0], UINT64_MAX - 7, "string length"), "huge key length");
	tap_ok(patch64(s, L->kv_off[1], s->size, "string length"), "key length = file size");
	for (i = 0; i < L->n_kv; i++) {
		if (rd32(s->orig + L->kv_type_off[i]) == RS_GGUF_STRING) {
			tap_ok(patch64(s, L->kv_type_off[i] + 4, (uint64_t)1 << 63, "string length"),
			    "huge string value length");
			break;
		}
	}
	tap_ok(L->tokens_off != 0 && patch64(s, L->tokens_off + 4, (uint64_t)1 << 61, "strings"),
	    "huge string array count");
	tap_ok(patch64(s, L->tokens_off + 4 + 8 + 8 + 5 + 8 + 3, UINT64_MAX, "element 2"),
	    "huge length of string array element 2");
	tap_ok(patch32(s, L->tokens_off, RS_GGUF_ARRAY, "arrays of arrays"), "nested array refused");
	tap_ok(patch32(s, L->tokens_off, 13, "element type"), "unknown array element type");
	tap_ok(patch32(s, L->kv_type_off[3], 13, "value type"), "unknown value type 13");
	tap_ok(patch32(s, L->kv_type_off[3], 0xffffffffu, "value type"), "value type -1");

	/* A duplicate key: give one key the bytes of another of the same length. */
	found = 0;
	for (i = 0; i < L->n_kv && !found; i++)
		for (j = i + 1; j < L->n_kv && !found; j++)
			if (L->kv_keylen[i] == L->kv_keylen[j] && L->kv_keylen[i] < sizeof key) {
				memcpy(key, s->orig + L->kv_off[i] + 8, L->kv_keylen[i]);
				tap_ok(patch_fail(s, L->kv_off[j] + 8, key, L->kv_keylen[i],
				    "duplicate key"), "duplicate key '%.*s'", (int)L->kv_keylen[i],
				    (const char *)key);
				found = 1;
			}
	tap_ok(found, "a pair of same-length keys exists to duplicate");
	/* An embedded NUL in a key. */
	tap_ok(patch_fail(s, L->kv_off[2] + 10, "", 1, "NUL"), "NUL byte inside a key");

	/* general.alignment: turn llama.block_count (uint32 5, same length) into it. */
	for (i = 0; i < L->n_kv; i++) {
		if (L->kv_keylen[i] == 17 && memcmp(s->orig + L->kv_off[i] + 8,
		    "llama.block_count", 17) == 0) {
			uint8_t buf[17 + 4 + 4];

			memcpy(buf, "general.alignment", 17);
			wr32(buf + 17, RS_GGUF_UINT32);
			wr32(buf + 21, 5);
			tap_ok(patch_fail(s, L->kv_off[i] + 8, buf, sizeof buf, "power of two"),
			    "general.alignment 5 refused");
			wr32(buf + 21, 0);
			tap_ok(patch_fail(s, L->kv_off[i] + 8, buf, sizeof buf, "power of two"),
			    "general.alignment 0 refused");
			wr32(buf + 21, 64);
			tap_ok(patch_fail(s, L->kv_off[i] + 8, buf, sizeof buf, NULL),
			    "general.alignment 64: 32-aligned offsets now misaligned");
			wr32(buf + 17, RS_GGUF_BOOL);
			buf[21] = 2;
			tap_ok(patch_fail(s, L->kv_off[i] + 8, buf, 22, "bool"),
			    "bool value 2 refused");
		}
	}

	/* Tensor infos. */
	tap_ok(patch64(s, L->ti_off[0], UINT64_MAX, "string length"), "huge tensor name length");
	tap_ok(patch32(s, L->ti_ndims_off[0], 5, "n_dims 5"), "n_dims 5");
	tap_ok(patch32(s, L->ti_ndims_off[0], 0xffffffffu, "n_dims"), "n_dims 2^32-1");
	tap_ok(patch32(s, L->ti_type_off[0], 99, "99"), "unknown ggml type 99, named in the cause");
	tap_ok(patch32(s, L->ti_type_off[0], 6, "Q5_0"), "unsupported ggml type 6 (Q5_0) named");
	for (i = 0; i < L->n_tensors; i++) {
		if (L->ti_ne0[i] % 32 != 0) {
			tap_ok(patch32(s, L->ti_type_off[i], 8, "block size"), "Q8_0 type on a row "
			    "of %" PRIu64 ": not a multiple of the block size", L->ti_ne0[i]);
			break;
		}
	}
	tap_ok(i < L->n_tensors, "a tensor with a row that is not a multiple of 32 exists");
	{
		uint8_t ne[16];

		wr64(ne, (uint64_t)1 << 40);
		wr64(ne + 8, (uint64_t)1 << 40);
		tap_ok(patch_fail(s, L->ti_ndims_off[0] + 4, ne, 16, "overflow"),
		    "ne = 2^40 x 2^40: element count overflow");
		wr64(ne + 8, (uint64_t)1 << 22);
		tap_ok(patch_fail(s, L->ti_ndims_off[0] + 4, ne, 16, "byte size overflows"),
		    "ne = 2^40 x 2^22 floats: byte size overflow");
	}
	tap_ok(patch64(s, L->ti_ndims_off[0] + 4, 0, "ne[0]"), "ne[0] = 0");
	tap_ok(patch64(s, L->ti_ndims_off[0] + 4, (uint64_t)1 << 63, "ne[0]"), "ne[0] = 2^63");
	tap_ok(patch64(s, L->ti_offset_off[1], s->size, "outside"), "data offset past the end");
	tap_ok(patch64(s, L->ti_offset_off[1], UINT64_MAX - 31, NULL), "data offset near 2^64");
	tap_ok(patch64(s, L->ti_offset_off[L->n_tensors - 1], L->ti_offset[L->n_tensors - 1] + 32,
	    "outside"), "last tensor shifted one alignment unit past the end");
	tap_ok(patch64(s, L->ti_offset_off[1], L->ti_offset[1] + 4, "multiple of the alignment"),
	    "misaligned data offset");
	tap_ok(patch64(s, L->ti_offset_off[1], L->ti_offset[0], "overlap"),
	    "two tensors at the same offset");
	tap_ok(patch64(s, L->ti_offset_off[1], L->ti_offset[1] - 32, "overlap"),
	    "tensor starting inside the previous one");

	/* A duplicate tensor name (same length). */
	found = 0;
	for (i = 0; i < L->n_tensors && !found; i++)
		for (j = i + 1; j < L->n_tensors && !found; j++)
			if (L->ti_namelen[i] == L->ti_namelen[j] && L->ti_namelen[i] < sizeof key) {
				memcpy(key, s->orig + L->ti_off[i] + 8, L->ti_namelen[i]);
				tap_ok(patch_fail(s, L->ti_off[j] + 8, key, L->ti_namelen[i],
				    "duplicate tensor name"), "duplicate tensor name '%.*s'",
				    (int)L->ti_namelen[i], (const char *)key);
				found = 1;
			}
	tap_ok(found, "a pair of same-length tensor names exists to duplicate");
}

/* Random byte changes in the header: whatever happens, no crash, and failures name the file. */
static void
test_random_bytes(struct scratch *s, const struct layout *L)
{
	uint32_t rng = 12345;
	size_t off, bad = 0, opened = 0;
	uint8_t b;
	int k;

	for (k = 0; k < 3000; k++) {
		char *cause = NULL;
		struct rs_gguf *g;

		rng = rng * 1103515245u + 12345u;
		off = (rng >> 8) % L->header_end;
		rng = rng * 1103515245u + 12345u;
		b = (uint8_t)(rng >> 16);
		if (k % 3 == 0)
			b = (uint8_t)(s->orig[off] ^ (1u << ((rng >> 8) & 7)));
		if (pwrite(s->fd, &b, 1, (off_t)off) != 1)
			break;
		g = rs_gguf_open(s->path, &cause);
		if (g != NULL) {
			opened++;
			rs_gguf_close(g);
		} else if (cause == NULL || strstr(cause, s->path) == NULL) {
			bad++;
		}
		free(cause);
		if (pwrite(s->fd, s->orig + off, 1, (off_t)off) != 1)
			break;
	}
	tap_ok(k == 3000 && bad == 0, "3000 random header bytes: no crash, every failure names "
	    "the file (%zu still opened)", opened);
}

/* Allocation failures at every step of an open: an error, never a crash or a leak. */
static void
test_alloc_failures(const char *path)
{
	unsigned long n, total;
	char *cause = NULL;
	struct rs_gguf *g;
	int ok = 1;

	rs_alloc_fail_at(0);
	g = rs_gguf_open(path, NULL);
	total = rs_alloc_fail_at(0);
	rs_gguf_close(g);
	for (n = 1; n <= total; n++) {
		rs_alloc_fail_at(n);
		g = rs_gguf_open(path, &cause);
		if (g != NULL) {
			ok = 0;
			rs_gguf_close(g);
		}
		free(cause);
		cause = NULL;
	}
	rs_alloc_fail_at(0);
	tap_ok(ok && total > 0, "each of the %lu allocations of an open failing makes it fail",
	    total);
}

/* Hostile variants of stories260K.gguf. */
static void
test_hostile(void)
{
	char path[4096];
	struct scratch s;
	struct layout L;
	const char *tmp = getenv("TMPDIR");
	uint8_t *orig;
	FILE *f;
	long size;

	snprintf(path, sizeof path, "%s/stories260K/stories260K.gguf", fixtures);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (orig = malloc((size_t)size)) == NULL || fread(orig, 1, (size_t)size, f) !=
	    (size_t)size) {
		tap_ok(0, "read %s", path);
		return;
	}
	fclose(f);
	if (!tap_ok(walk(orig, (size_t)size, &L) == 0, "independent walk of the fixture")) {
		free(orig);
		return;
	}
	tap_ok(L.data_end == (size_t)size, "its last tensor ends at the end of the file");
	snprintf(s.path, sizeof s.path, "%s/rs-test-gguf-XXXXXX", tmp ? tmp : "/tmp");
	s.orig = orig;
	s.size = (size_t)size;
	if ((s.fd = mkstemp(s.path)) < 0 || scratch_reset(&s) != 0) {
		tap_ok(0, "scratch file %s: %s", s.path, strerror(errno));
		free(orig);
		return;
	}
	{
		char *cause = NULL;
		struct rs_gguf *g = rs_gguf_open(s.path, &cause);

		tap_ok(g != NULL, "the unmodified copy opens");
		rs_gguf_close(g);
		free(cause);
	}
	test_corruptions(&s, &L);
	test_random_bytes(&s, &L);
	test_truncations(&s, &L);
	{
		char *cause = NULL;

		tap_ok(ftruncate(s.fd, 0) == 0 && rs_gguf_open(s.path, &cause) == NULL &&
		    cause != NULL && strstr(cause, s.path) != NULL, "empty file refused");
		free(cause);
		cause = NULL;
		tap_ok(rs_gguf_open("/nonexistent/x.gguf", &cause) == NULL && cause != NULL &&
		    strstr(cause, "/nonexistent/x.gguf") != NULL, "missing file refused");
		free(cause);
	}
	close(s.fd);
	unlink(s.path);
	free(orig);
	test_alloc_failures(path);
}

int
main(void)
{
	char buf[4096];

	tap_fixture(buf, sizeof buf, "stories260K/stories260K.gguf");
	fixtures = getenv("RS_FIXTURES");
	if (fixtures == NULL)
		fixtures = "../shared/fixtures";
	test_stories();
	test_getters();
	test_others();
	test_hostile();
	return tap_done();
}
