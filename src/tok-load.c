/* tok-load.c: tokenizer loaders for llama2.c tokenizer.bin, SentencePiece tokenizer.model
 * (a bounded protobuf reader) and GGUF tokenizer.ggml.* metadata.
 *
 * llama2.c tokenizer.bin (little-endian): int32 max_token_length, then per token: float32
 * score, int32 len, len bytes (no NUL).  The count is the model's vocab_size (or: until the
 * end of the file).  Ids 0..2 are <unk>, <s>, </s>; spaces are stored as ' ', which become
 * U+2581 here as in llama.cpp's conversion.
 *
 * SentencePiece ModelProto (protobuf): field 1 repeated SentencePiece {1 piece, 2 score
 * (float), 3 type (enum)}, field 2 TrainerSpec {3 model_type, 35 byte_fallback, 40 unk_id,
 * 41 bos_id, 42 eos_id}, field 3 NormalizerSpec {1 name, 2 precompiled_charsmap,
 * 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces}. */
#include "config.h"

#include <string.h>

#include "alloc.h"
#include "gguf.h"
#include "mapfile.h"
#include "status.h"
#include "tok-impl.h"
#include "tokenizer.h"

/* Read a little-endian int32. */
static int32_t
rd_i32(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
	int32_t r;

	memcpy(&r, &v, sizeof(r));
	return r;
}

/* Read a little-endian float32. */
static float
rd_f32(const uint8_t *p)
{
	int32_t v = rd_i32(p);
	float f;

	memcpy(&f, &v, sizeof(f));
	return f;
}

#define ISHEX(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'A' && (c) <= 'F'))

/* Type of a piece whose source records none: byte tokens by their <0xNN> shape. */
static int
guess_type(const char *s, size_t len, size_t id)
{
	if (id == 0)
		return RS_TOKEN_UNKNOWN;
	if (id <= 2)
		return RS_TOKEN_CONTROL;
	if (len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && ISHEX(s[3]) && ISHEX(s[4]))
		return RS_TOKEN_BYTE;
	return RS_TOKEN_NORMAL;
}

/* Set the SentencePiece-style defaults shared by llama2.c and GGUF "llama" vocabularies. */
static void
spm_llama_defaults(struct rs_tokenizer *t)
{
	t->norm = TOK_NORM_LLAMA;
	t->add_space_prefix = 1;
	t->byte_fallback = 1;
	t->add_bos = 1;
	t->mergeable = ~0u;	/* llama.cpp merges into any token */
}

/* Load a llama2.c tokenizer.bin; vocab_size < 0: read to the end of the file. */
struct rs_tokenizer *
tok_load_llama2c(const char *path, long vocab_size, char **cause)
{
	struct rs_mapfile *mf;
	struct rs_tokenizer *t = NULL;
	const uint8_t *p, *end;
	int32_t maxlen;
	char *tmp = NULL;
	size_t i;
	int rc;

	if ((mf = rs_mapfile_open(path, cause)) == NULL)
		return NULL;
	if (mf->size < 4) {
		rs_fail(cause, RS_EFORMAT, "%s: truncated: no max_token_length", path);
		goto fail;
	}
	p = mf->data;
	end = p + mf->size;
	maxlen = rd_i32(p);
	p += 4;
	if (maxlen <= 0 || maxlen > (int32_t)TOK_MAX_PIECE) {
		rs_fail(cause, RS_EFORMAT, "%s: max_token_length %d out of range 1..%u", path,
		    (int)maxlen, TOK_MAX_PIECE);
		goto fail;
	}
	if (vocab_size > (long)TOK_MAX_VOCAB) {
		rs_fail(cause, RS_EFORMAT, "%s: vocab_size %ld too large", path, vocab_size);
		goto fail;
	}
	if ((t = tok_new(path, TOK_SPM)) == NULL || (tmp = rs_malloc((size_t)maxlen * 3)) == NULL)
		goto nomem;
	if (vocab_size > 0 && (rc = tok_reserve(t, (size_t)vocab_size, 0)) != 0)
		goto nomem;
	for (i = 0; vocab_size < 0 ? p < end : i < (size_t)vocab_size; i++) {
		float score;
		int32_t len;
		size_t k, n;

		if (end - p < 8) {
			rs_fail(cause, RS_EFORMAT, "%s: truncated at token %zu", path, i);
			goto fail;
		}
		score = rd_f32(p);
		len = rd_i32(p + 4);
		p += 8;
		if (len < 0 || len > maxlen) {
			rs_fail(cause, RS_EFORMAT, "%s: token %zu: length %d outside 0..%d", path, i,
			    (int)len, (int)maxlen);
			goto fail;
		}
		if (end - p < len) {
			rs_fail(cause, RS_EFORMAT, "%s: truncated in token %zu", path, i);
			goto fail;
		}
		if (i >= TOK_MAX_VOCAB) {
			rs_fail(cause, RS_EFORMAT, "%s: more than %u tokens", path, TOK_MAX_VOCAB);
			goto fail;
		}
		for (k = 0, n = 0; k < (size_t)len; k++) {
			if (p[k] == ' ') {
				memcpy(tmp + n, "\xe2\x96\x81", 3);
				n += 3;
			} else
				tmp[n++] = (char)p[k];
		}
		if ((rc = tok_add_piece(t, tmp, n, score, guess_type((const char *)p,
		    (size_t)len, i))) != 0)
			goto nomem;
		p += len;
	}
	if (t->n < 3) {
		rs_fail(cause, RS_EFORMAT, "%s: only %zu tokens", path, t->n);
		goto fail;
	}
	spm_llama_defaults(t);
	t->unk = 0;
	t->bos = 1;
	t->eos = 2;
	if (tok_finish(t, cause) != 0)
		goto fail;
	rs_free(tmp);
	rs_mapfile_close(mf);
	return t;
nomem:
	rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
fail:
	rs_free(tmp);
	rs_tokenizer_free(t);
	rs_mapfile_close(mf);
	return NULL;
}

/* ------------------------------------------------------------------ protobuf */

struct pb {			/* a bounded protobuf cursor */
	const uint8_t *p, *end;
};

struct pb_field {
	uint32_t num;
	int wt;			/* wire type: 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
	uint64_t v;		/* varint / fixed value */
	const uint8_t *data;	/* wire type 2 */
	size_t len;
};

/* Read a varint (at most 10 bytes); -1 if truncated or too long. */
static int
pb_varint(struct pb *b, uint64_t *v)
{
	int shift;

	*v = 0;
	for (shift = 0; shift < 70; shift += 7) {
		uint8_t c;

		if (b->p >= b->end)
			return -1;
		c = *b->p++;
		*v |= (uint64_t)(c & 0x7F) << shift;
		if ((c & 0x80) == 0)
			return 0;
		if (shift == 63)
			return -1;
	}
	return -1;
}

/* Read the next field; 1 at the end, 0 on success, -1 on malformed data. */
static int
pb_next(struct pb *b, struct pb_field *f)
{
	uint64_t key;

	if (b->p >= b->end)
		return 1;
	if (pb_varint(b, &key) != 0 || key >> 3 == 0 || key >> 3 > UINT32_MAX)
		return -1;
	f->num = (uint32_t)(key >> 3);
	f->wt = (int)(key & 7);
	f->data = NULL;
	f->len = 0;
	switch (f->wt) {
	case 0:
		return pb_varint(b, &f->v);
	case 1:
		if (b->end - b->p < 8)
			return -1;
		memcpy(&f->v, b->p, 8);
		b->p += 8;
		return 0;
	case 5:
		if (b->end - b->p < 4)
			return -1;
		f->v = (uint32_t)rd_i32(b->p);
		b->p += 4;
		return 0;
	case 2:
		if (pb_varint(b, &f->v) != 0 || f->v > (uint64_t)(b->end - b->p))
			return -1;
		f->data = b->p;
		f->len = (size_t)f->v;
		b->p += f->len;
		return 0;
	}
	return -1;
}

struct sp_spec {		/* what we read of TrainerSpec and NormalizerSpec */
	uint64_t model_type, byte_fallback;
	int64_t unk_id, bos_id, eos_id;
	uint64_t add_dummy_prefix, remove_extra_ws, escape_ws;
	size_t charsmap_len;
	char name[32];
};

/* Parse one SentencePiece message and add it to t. */
static int
sp_piece(struct rs_tokenizer *t, const uint8_t *data, size_t len, size_t idx, char **cause)
{
	struct pb b = { data, data + len };
	struct pb_field f;
	const uint8_t *s = (const uint8_t *)"";
	size_t slen = 0;
	float score = 0;
	uint64_t type = RS_TOKEN_NORMAL;
	int rc;

	while ((rc = pb_next(&b, &f)) == 0) {
		if (f.num == 1 && f.wt == 2) {
			s = f.data;
			slen = f.len;
		} else if (f.num == 2 && f.wt == 5) {
			uint32_t v = (uint32_t)f.v;

			memcpy(&score, &v, sizeof(score));
		} else if (f.num == 3 && f.wt == 0)
			type = f.v;
	}
	if (rc < 0)
		return rs_fail(cause, RS_EFORMAT, "%s: piece %zu: malformed protobuf", t->source,
		    idx);
	if (type < RS_TOKEN_NORMAL || type > RS_TOKEN_BYTE)
		return rs_fail(cause, RS_EFORMAT, "%s: piece %zu: type %llu unknown", t->source,
		    idx, (unsigned long long)type);
	if (slen > TOK_MAX_PIECE)
		return rs_fail(cause, RS_EFORMAT, "%s: piece %zu: %zu bytes long", t->source, idx,
		    slen);
	if (t->n >= TOK_MAX_VOCAB)
		return rs_fail(cause, RS_EFORMAT, "%s: more than %u pieces", t->source,
		    TOK_MAX_VOCAB);
	if (tok_add_piece(t, (const char *)s, slen, score, (int)type) != 0)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", t->source);
	return 0;
}

/* Parse a TrainerSpec (which == 2) or NormalizerSpec (which == 3) into spec. */
static int
sp_spec(const uint8_t *data, size_t len, int which, struct sp_spec *spec)
{
	struct pb b = { data, data + len };
	struct pb_field f;
	int rc;

	while ((rc = pb_next(&b, &f)) == 0) {
		if (which == 2 && f.wt == 0) {
			switch (f.num) {
			case 3: spec->model_type = f.v; break;
			case 35: spec->byte_fallback = f.v; break;
			case 40: spec->unk_id = (int32_t)f.v; break;
			case 41: spec->bos_id = (int32_t)f.v; break;
			case 42: spec->eos_id = (int32_t)f.v; break;
			}
		} else if (which == 3) {
			if (f.num == 1 && f.wt == 2) {
				size_t n = f.len < sizeof(spec->name) - 1 ? f.len :
				    sizeof(spec->name) - 1;

				memcpy(spec->name, f.data, n);
				spec->name[n] = '\0';
			} else if (f.num == 2 && f.wt == 2)
				spec->charsmap_len = f.len;
			else if (f.num == 3 && f.wt == 0)
				spec->add_dummy_prefix = f.v;
			else if (f.num == 4 && f.wt == 0)
				spec->remove_extra_ws = f.v;
			else if (f.num == 5 && f.wt == 0)
				spec->escape_ws = f.v;
		}
	}
	return rc < 0 ? -1 : 0;
}

/* Load a SentencePiece tokenizer.model (BPE models only). */
struct rs_tokenizer *
tok_load_spmodel(const char *path, char **cause)
{
	struct rs_mapfile *mf;
	struct rs_tokenizer *t = NULL;
	struct pb b;
	struct pb_field f;
	struct sp_spec spec;
	int rc, have_trainer = 0;

	if ((mf = rs_mapfile_open(path, cause)) == NULL)
		return NULL;
	memset(&spec, 0, sizeof(spec));
	spec.model_type = 1;	/* protobuf defaults: UNIGRAM, ids 0/1/2, prefix, cleanup */
	spec.unk_id = 0;
	spec.bos_id = 1;
	spec.eos_id = 2;
	spec.add_dummy_prefix = spec.remove_extra_ws = spec.escape_ws = 1;
	if ((t = tok_new(path, TOK_SPM)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	b.p = mf->data;
	b.end = mf->size > 0 ? mf->data + mf->size : mf->data;	/* an empty file maps to NULL */
	while ((rc = pb_next(&b, &f)) == 0) {
		if (f.num == 1 && f.wt == 2) {
			if (sp_piece(t, f.data, f.len, t->n, cause) != 0)
				goto fail;
		} else if ((f.num == 2 || f.num == 3) && f.wt == 2) {
			if (sp_spec(f.data, f.len, (int)f.num, &spec) != 0) {
				rs_fail(cause, RS_EFORMAT, "%s: %s: malformed protobuf", path,
				    f.num == 2 ? "trainer_spec" : "normalizer_spec");
				goto fail;
			}
			have_trainer |= f.num == 2;
		}
	}
	if (rc < 0) {
		rs_fail(cause, RS_EFORMAT, "%s: malformed protobuf after %zu pieces", path, t->n);
		goto fail;
	}
	if (t->n == 0) {
		rs_fail(cause, RS_EFORMAT, "%s: no pieces (not a SentencePiece model?)", path);
		goto fail;
	}
	if (!have_trainer || spec.model_type != 2) {
		rs_fail(cause, RS_EUNSUPPORTED, "%s: trainer_spec.model_type %llu: only BPE (2) "
		    "SentencePiece models are supported", path,
		    (unsigned long long)spec.model_type);
		goto fail;
	}
	if (spec.charsmap_len > 0 || !spec.escape_ws) {
		rs_fail(cause, RS_EUNSUPPORTED, "%s: normalizer '%s' %s is not supported", path,
		    spec.name, spec.charsmap_len > 0 ? "with a precompiled charsmap" :
		    "without escape_whitespaces");
		goto fail;
	}
	t->norm = TOK_NORM_SP;
	t->add_space_prefix = spec.add_dummy_prefix != 0;
	t->remove_extra_ws = spec.remove_extra_ws != 0;
	t->byte_fallback = spec.byte_fallback != 0;
	t->add_bos = 1;
	/* SentencePiece merges only into normal and user-defined pieces */
	t->mergeable = (1u << RS_TOKEN_NORMAL) | (1u << RS_TOKEN_USER_DEFINED);
	t->unk = spec.unk_id >= 0 && (size_t)spec.unk_id < t->n ? (int32_t)spec.unk_id : -1;
	t->bos = spec.bos_id >= 0 && (size_t)spec.bos_id < t->n ? (int32_t)spec.bos_id : -1;
	t->eos = spec.eos_id >= 0 && (size_t)spec.eos_id < t->n ? (int32_t)spec.eos_id : -1;
	if (tok_finish(t, cause) != 0)
		goto fail;
	rs_mapfile_close(mf);
	return t;
fail:
	rs_tokenizer_free(t);
	rs_mapfile_close(mf);
	return NULL;
}

/* ------------------------------------------------------------------ GGUF */

/* Find a GGUF array key of the given element type: its index, -1 if absent, -2 (cause set)
 * if it has another type or n elements when n > 0. */
static int64_t
gguf_array(const struct rs_gguf *g, const char *key, enum rs_gguf_type et, uint64_t n,
           char **cause)
{
	int64_t i = rs_gguf_find_key(g, key);

	if (i < 0)
		return -1;
	if (rs_gguf_kv_type(g, i) != RS_GGUF_ARRAY || rs_gguf_arr_type(g, i) != et) {
		rs_fail(cause, RS_EFORMAT, "%s: %s: not an array of the expected type",
		    rs_gguf_path(g), key);
		return -2;
	}
	if (n > 0 && rs_gguf_arr_n(g, i) != n) {
		rs_fail(cause, RS_EFORMAT, "%s: %s: %llu elements for %llu tokens",
		    rs_gguf_path(g), key, (unsigned long long)rs_gguf_arr_n(g, i),
		    (unsigned long long)n);
		return -2;
	}
	return i;
}

/* Read an optional integer key into *out (untouched if absent); -1 with cause on error. */
static int
gguf_int(const struct rs_gguf *g, const char *key, int64_t *out, char **cause)
{
	return rs_gguf_get_int(g, key, out, cause) < 0 ? -1 : 0;
}

/* Build a tokenizer from GGUF metadata; see tokenizer.h. */
struct rs_tokenizer *
rs_tokenizer_from_gguf(const struct rs_gguf *g, char **cause)
{
	const char *path = rs_gguf_path(g), *model, *pre = NULL;
	size_t mlen, plen, i;
	int64_t ki, si, ti, mi, v;
	uint64_t n;
	struct rs_tokenizer *t = NULL;
	const uint8_t *scores = NULL, *types = NULL;
	char *prename = NULL;
	int rc;

	rc = rs_gguf_get_str(g, "tokenizer.ggml.model", &model, &mlen, cause);
	if (rc < 0)
		return NULL;
	if (rc == 1) {
		rs_fail(cause, RS_EFORMAT, "%s: no tokenizer.ggml.model (no vocabulary)", path);
		return NULL;
	}
	if (!(mlen == 5 && memcmp(model, "llama", 5) == 0) &&
	    !(mlen == 4 && memcmp(model, "gpt2", 4) == 0)) {
		rs_fail(cause, RS_EUNSUPPORTED, "%s: tokenizer.ggml.model '%.*s': only llama "
		    "and gpt2 are supported", path, (int)(mlen < 64 ? mlen : 64), model);
		return NULL;
	}
	if ((ki = gguf_array(g, "tokenizer.ggml.tokens", RS_GGUF_STRING, 0, cause)) < -1)
		return NULL;
	if (ki < 0) {
		rs_fail(cause, RS_EFORMAT, "%s: no tokenizer.ggml.tokens", path);
		return NULL;
	}
	n = rs_gguf_arr_n(g, ki);
	if (n == 0 || n > TOK_MAX_VOCAB) {
		rs_fail(cause, RS_EFORMAT, "%s: tokenizer.ggml.tokens: %llu tokens", path,
		    (unsigned long long)n);
		return NULL;
	}
	if ((si = gguf_array(g, "tokenizer.ggml.scores", RS_GGUF_FLOAT32, n, cause)) < -1 ||
	    (ti = gguf_array(g, "tokenizer.ggml.token_type", RS_GGUF_INT32, n, cause)) < -1)
		return NULL;
	if (si >= 0)
		scores = rs_gguf_arr_data(g, si);
	if (ti >= 0)
		types = rs_gguf_arr_data(g, ti);
	if ((t = tok_new(path, model[0] == 'l' ? TOK_SPM : TOK_BPE)) == NULL ||
	    tok_reserve(t, (size_t)n, 0) != 0)
		goto nomem;
	for (i = 0; i < n; i++) {
		const char *s = rs_gguf_arr_str(g, ki, i, &plen);
		float score = 0;
		int32_t type = RS_TOKEN_NORMAL;

		if (s == NULL || plen > TOK_MAX_PIECE) {
			rs_fail(cause, RS_EFORMAT, "%s: tokenizer.ggml.tokens[%zu]: bad string",
			    path, i);
			goto fail;
		}
		if (scores != NULL)
			score = rd_f32(scores + 4 * i);
		if (types != NULL)
			type = rd_i32(types + 4 * i);
		if (type < 0 || type > RS_TOKEN_BYTE)
			type = RS_TOKEN_UNDEFINED;
		if (tok_add_piece(t, s, plen, score, type) != 0)
			goto nomem;
	}
	if (t->model == TOK_SPM) {
		spm_llama_defaults(t);
		t->unk = 0;
		t->bos = 1;
		t->eos = 2;
	} else {
		t->byte_level = 1;
		t->add_bos = 0;
	}
	v = t->add_space_prefix;
	if (gguf_int(g, "tokenizer.ggml.add_space_prefix", &v, cause) != 0)
		goto fail;
	t->add_space_prefix = v != 0;
	v = t->add_bos;
	if (gguf_int(g, "tokenizer.ggml.add_bos_token", &v, cause) != 0)
		goto fail;
	t->add_bos = v != 0;
	v = t->bos;
	if (gguf_int(g, "tokenizer.ggml.bos_token_id", &v, cause) != 0)
		goto fail;
	t->bos = v >= 0 && (uint64_t)v < n ? (int32_t)v : -1;
	v = t->eos;
	if (gguf_int(g, "tokenizer.ggml.eos_token_id", &v, cause) != 0)
		goto fail;
	t->eos = v >= 0 && (uint64_t)v < n ? (int32_t)v : -1;
	v = t->unk;
	if (gguf_int(g, "tokenizer.ggml.unknown_token_id", &v, cause) != 0)
		goto fail;
	t->unk = v >= 0 && (uint64_t)v < n ? (int32_t)v : -1;
	if (tok_finish(t, cause) != 0)
		goto fail;
	if (t->model == TOK_BPE) {
		rc = rs_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &plen, cause);
		if (rc < 0)
			goto fail;
		if (rc == 0 && (prename = rs_strndup(pre, plen < 64 ? plen : 64)) == NULL)
			goto nomem;
		if (tok_set_pre(t, prename, cause) != 0)
			goto fail;
		if ((mi = gguf_array(g, "tokenizer.ggml.merges", RS_GGUF_STRING, 0, cause)) < -1)
			goto fail;
		if (mi < 0) {
			rs_fail(cause, RS_EFORMAT, "%s: no tokenizer.ggml.merges", path);
			goto fail;
		}
		if (rs_gguf_arr_n(g, mi) > TOK_MAX_MERGES) {
			rs_fail(cause, RS_EFORMAT, "%s: tokenizer.ggml.merges: %llu merges", path,
			    (unsigned long long)rs_gguf_arr_n(g, mi));
			goto fail;
		}
		if (tok_merges_init(t, (size_t)rs_gguf_arr_n(g, mi)) != 0)
			goto nomem;
		for (i = 0; i < rs_gguf_arr_n(g, mi); i++) {
			const char *s = rs_gguf_arr_str(g, mi, i, &plen);

			if (s == NULL || (rc = tok_add_merge(t, s, plen, (uint32_t)i)) ==
			    RS_EFORMAT) {
				rs_fail(cause, RS_EFORMAT, "%s: tokenizer.ggml.merges[%zu]: not "
				    "\"left right\"", path, i);
				goto fail;
			}
			if (rc != 0)
				goto nomem;
		}
	}
	rs_free(prename);
	return t;
nomem:
	rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
fail:
	rs_free(prename);
	rs_tokenizer_free(t);
	return NULL;
}
