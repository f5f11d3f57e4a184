/* tok-json.c: Hugging Face tokenizer.json ("BPE" models).
 *
 * Read: model {type "BPE", vocab {piece: id}, merges ["a b"] or [["a","b"]], byte_fallback,
 * fuse_unk, ignore_merges, unk_token}, added_tokens [{id, content, special}], normalizer
 * (Sequence, Prepend, Replace with a String pattern, NFC: not applied, as llama.cpp does
 * not), pre_tokenizer (Sequence, Split with behavior Isolated, ByteLevel, Metaspace, Digits),
 * post_processor TemplateProcessing (a leading special token = BOS).  A ByteLevel
 * pre-tokenizer or decoder makes a byte-level "bpe" tokenizer; otherwise it is the
 * SentencePiece-style "spm" one with merge priorities from the merges list. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "mapfile.h"
#include "status.h"
#include "tok-impl.h"
#include "tokenizer.h"

#define JSON_MAX_BYTES ((size_t)256 << 20)

#define GPT2_REGEX \
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

struct jload {
	const char *path;
	struct rs_tokenizer *t;
	char pre[128];		/* names of the pre-tokenizer steps */
	char **cause;
};

/* Append a step name to the pre-tokenizer description. */
static void
pre_name(struct jload *jl, const char *name)
{
	size_t n = strlen(jl->pre);

	if (n + strlen(name) + 2 < sizeof(jl->pre))
		snprintf(jl->pre + n, sizeof(jl->pre) - n, "%s%s", n > 0 ? "+" : "", name);
}

/* Whether the JSON value (a pre_tokenizer or decoder) contains a ByteLevel step. */
static int
has_bytelevel(const json_t *v, int depth)
{
	const char *type;
	const json_t *list, *e;
	size_t i;

	if (!json_is_object(v) || depth > 8)
		return 0;
	type = json_string_value(json_object_get(v, "type"));
	if (type != NULL && strcmp(type, "ByteLevel") == 0)
		return 1;
	list = json_object_get(v, "pretokenizers");
	if (list == NULL)
		list = json_object_get(v, "decoders");
	json_array_foreach(list, i, e)
		if (has_bytelevel(e, depth + 1))
			return 1;
	return 0;
}

/* Copy a JSON string value into a new NUL-terminated buffer (length in *len). */
static char *
jstr_dup(const json_t *s, size_t *len)
{
	*len = json_string_length(s);
	return rs_strndup(json_string_value(s), *len);
}

/* Add one normalizer (recursing into Sequence). */
static int
load_normalizer(struct jload *jl, const json_t *v, int depth)
{
	struct rs_tokenizer *t = jl->t;
	const char *type;
	const json_t *e;
	size_t i;

	if (json_is_null(v) || v == NULL)
		return 0;
	type = json_string_value(json_object_get(v, "type"));
	if (type == NULL || depth > 8)
		return rs_fail(jl->cause, RS_EFORMAT, "%s: normalizer: no type", jl->path);
	if (strcmp(type, "Sequence") == 0) {
		json_array_foreach(json_object_get(v, "normalizers"), i, e)
			if (load_normalizer(jl, e, depth + 1) != 0)
				return -1;
		return 0;
	}
	if (strcmp(type, "NFC") == 0)
		return 0;
	if (strcmp(type, "Prepend") == 0 || strcmp(type, "Replace") == 0) {
		struct tok_step *st;
		const json_t *a, *b;

		a = strcmp(type, "Prepend") == 0 ? json_object_get(v, "prepend") :
		    json_object_get(json_object_get(v, "pattern"), "String");
		b = json_object_get(v, "content");
		if (!json_is_string(a) || (type[0] == 'R' && !json_is_string(b)))
			return rs_fail(jl->cause, RS_EUNSUPPORTED, "%s: normalizer %s: only "
			    "String patterns are supported", jl->path, type);
		if (t->n_nsteps >= TOK_MAX_STEPS)
			return rs_fail(jl->cause, RS_EUNSUPPORTED, "%s: too many normalizers",
			    jl->path);
		st = &t->nsteps[t->n_nsteps++];
		memset(st, 0, sizeof(*st));
		st->kind = type[0] == 'P' ? TOK_NS_PREPEND : TOK_NS_REPLACE;
		if ((st->a = jstr_dup(a, &st->alen)) == NULL ||
		    (type[0] == 'R' && (st->b = jstr_dup(b, &st->blen)) == NULL))
			return rs_fail(jl->cause, RS_ENOMEM, "%s: out of memory", jl->path);
		return 0;
	}
	return rs_fail(jl->cause, RS_EUNSUPPORTED, "%s: normalizer %s is not supported",
	    jl->path, type);
}

/* Add one pre-tokenizer (recursing into Sequence). */
static int
load_pre(struct jload *jl, const json_t *v, int depth)
{
	struct rs_tokenizer *t = jl->t;
	const char *type;
	const json_t *e;
	size_t i;

	if (json_is_null(v) || v == NULL)
		return 0;
	type = json_string_value(json_object_get(v, "type"));
	if (type == NULL || depth > 8)
		return rs_fail(jl->cause, RS_EFORMAT, "%s: pre_tokenizer: no type", jl->path);
	if (strcmp(type, "Sequence") == 0) {
		json_array_foreach(json_object_get(v, "pretokenizers"), i, e)
			if (load_pre(jl, e, depth + 1) != 0)
				return -1;
		return 0;
	}
	pre_name(jl, type);
	if (strcmp(type, "Split") == 0) {
		const json_t *pat = json_object_get(v, "pattern");
		const json_t *re = json_object_get(pat, "Regex"), *lit = json_object_get(pat,
		    "String");
		const char *beh = json_string_value(json_object_get(v, "behavior"));

		if ((!json_is_string(re) && !json_is_string(lit)) || beh == NULL ||
		    strcmp(beh, "Isolated") != 0 || json_is_true(json_object_get(v, "invert")))
			return rs_fail(jl->cause, RS_EUNSUPPORTED, "%s: pre_tokenizer Split: only "
			    "behavior Isolated, not inverted, is supported", jl->path);
		if (json_is_string(re))
			return tok_add_split(t, json_string_value(re), json_string_length(re), 0,
			    jl->cause);
		return tok_add_split(t, json_string_value(lit), json_string_length(lit), 1,
		    jl->cause);
	}
	if (strcmp(type, "Digits") == 0) {
		const char *re = json_is_true(json_object_get(v, "individual_digits")) ?
		    "\\p{N}" : "\\p{N}+";

		return tok_add_split(t, re, strlen(re), 0, jl->cause);
	}
	if (strcmp(type, "ByteLevel") == 0) {
		if (json_is_true(json_object_get(v, "add_prefix_space"))) {
			if (t->n_psteps > 0)
				return rs_fail(jl->cause, RS_EUNSUPPORTED, "%s: ByteLevel "
				    "add_prefix_space after another pre-tokenizer", jl->path);
			t->prefix_space = 1;
		}
		if (!json_is_false(json_object_get(v, "use_regex")))
			return tok_add_split(t, GPT2_REGEX, strlen(GPT2_REGEX), 0, jl->cause);
		return 0;
	}
	if (strcmp(type, "Metaspace") == 0) {
		const json_t *rep = json_object_get(v, "replacement");
		const char *scheme = json_string_value(json_object_get(v, "prepend_scheme"));
		struct tok_step *st;

		if (t->n_psteps >= TOK_MAX_STEPS)
			return rs_fail(jl->cause, RS_EUNSUPPORTED, "%s: too many pre-tokenizers",
			    jl->path);
		st = &t->psteps[t->n_psteps++];
		memset(st, 0, sizeof(*st));
		st->kind = TOK_PS_METASPACE;
		if (json_is_string(rep) && json_string_length(rep) > 0)
			st->a = jstr_dup(rep, &st->alen);
		else
			st->a = rs_strndup("\xe2\x96\x81", st->alen = 3);
		if (st->a == NULL)
			return rs_fail(jl->cause, RS_ENOMEM, "%s: out of memory", jl->path);
		if (scheme != NULL)
			st->prepend = strcmp(scheme, "always") == 0 ? 1 :
			    strcmp(scheme, "first") == 0 ? 2 : 0;
		else
			st->prepend = !json_is_false(json_object_get(v, "add_prefix_space"));
		st->split = !json_is_false(json_object_get(v, "split"));
		return 0;
	}
	return rs_fail(jl->cause, RS_EUNSUPPORTED, "%s: pre_tokenizer %s is not supported",
	    jl->path, type);
}

/* Set the piece of id (from the vocab or added_tokens) in the id-indexed tables. */
static int
set_piece(struct jload *jl, const char **text, size_t *len, uint8_t *type, size_t n,
          json_int_t id, const char *s, size_t slen, int ty)
{
	if (id < 0 || (uint64_t)id >= n || s == NULL)
		return rs_fail(jl->cause, RS_EFORMAT, "%s: token id %lld out of range or not a "
		    "string", jl->path, (long long)id);
	if (slen > TOK_MAX_PIECE)
		return rs_fail(jl->cause, RS_EFORMAT, "%s: token %lld: %zu bytes long", jl->path,
		    (long long)id, slen);
	text[id] = s;
	len[id] = slen;
	type[id] = (uint8_t)ty;
	return 0;
}

/* Look for a BOS in post_processor: TemplateProcessing whose "single" starts with a special
 * token. */
static void
find_bos(struct rs_tokenizer *t, const json_t *root)
{
	const json_t *pp = json_object_get(root, "post_processor");
	const json_t *first, *st;
	const char *name;
	int32_t id;

	if (!json_is_object(pp))
		return;
	first = json_array_get(json_object_get(pp, "single"), 0);
	st = json_object_get(first, "SpecialToken");
	if ((name = json_string_value(json_object_get(st, "id"))) == NULL)
		return;
	if ((id = tok_find(t, name, strlen(name))) >= 0) {
		t->bos = id;
		t->add_bos = 1;
	}
}

/* Load a Hugging Face tokenizer.json. */
struct rs_tokenizer *
tok_load_json(const char *path, char **cause)
{
	struct rs_mapfile *mf;
	json_t *root = NULL, *model, *vocab, *merges, *added, *e, *v;
	json_error_t jerr;
	struct jload jl;
	struct rs_tokenizer *t = NULL;
	const char **text = NULL, *key, *mtype;
	size_t *len = NULL, n = 0, i;
	uint8_t *type = NULL;
	int byte_level;
	static const char *const bos_names[] = { "<s>", "<|begin_of_text|>", "<|startoftext|>" };
	static const char *const eos_names[] = { "</s>", "<|end_of_text|>", "<|endoftext|>" };

	if ((mf = rs_mapfile_open(path, cause)) == NULL)
		return NULL;
	memset(&jl, 0, sizeof(jl));
	jl.path = path;
	jl.cause = cause;
	if (mf->size > JSON_MAX_BYTES) {
		rs_fail(cause, RS_EFORMAT, "%s: %zu bytes: too large for a tokenizer.json", path,
		    mf->size);
		goto fail;
	}
	if ((root = json_loadb((const char *)mf->data, mf->size, 0, &jerr)) == NULL) {
		rs_fail(cause, RS_EFORMAT, "%s: line %d: %s", path, jerr.line, jerr.text);
		goto fail;
	}
	model = json_object_get(root, "model");
	mtype = json_string_value(json_object_get(model, "type"));
	vocab = json_object_get(model, "vocab");
	merges = json_object_get(model, "merges");
	if (!json_is_object(model) || !json_is_object(vocab)) {
		rs_fail(cause, RS_EFORMAT, "%s: no model.vocab object", path);
		goto fail;
	}
	if (mtype != NULL && strcmp(mtype, "BPE") != 0) {
		rs_fail(cause, RS_EUNSUPPORTED, "%s: model type %s: only BPE is supported", path,
		    mtype);
		goto fail;
	}
	if (!json_is_array(merges)) {
		rs_fail(cause, RS_EFORMAT, "%s: model.merges is not an array", path);
		goto fail;
	}
	/* the id space: every vocab and added-token id */
	json_object_foreach(vocab, key, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= (json_int_t)TOK_MAX_VOCAB) {
			rs_fail(cause, RS_EFORMAT, "%s: model.vocab['%.40s']: bad id", path, key);
			goto fail;
		}
		if ((size_t)json_integer_value(v) + 1 > n)
			n = (size_t)json_integer_value(v) + 1;
	}
	added = json_object_get(root, "added_tokens");
	json_array_foreach(added, i, e) {
		v = json_object_get(e, "id");
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= (json_int_t)TOK_MAX_VOCAB) {
			rs_fail(cause, RS_EFORMAT, "%s: added_tokens[%zu]: bad id", path, i);
			goto fail;
		}
		if ((size_t)json_integer_value(v) + 1 > n)
			n = (size_t)json_integer_value(v) + 1;
	}
	if (n == 0) {
		rs_fail(cause, RS_EFORMAT, "%s: empty vocabulary", path);
		goto fail;
	}
	if ((text = rs_calloc(n, sizeof(*text))) == NULL ||
	    (len = rs_calloc(n, sizeof(*len))) == NULL || (type = rs_calloc(n, 1)) == NULL)
		goto nomem;
	json_object_foreach(vocab, key, v) {
		/* the key itself lives as long as root */
		if (set_piece(&jl, text, len, type, n, json_integer_value(v), key, strlen(key),
		    RS_TOKEN_NORMAL) != 0)
			goto fail;
	}
	json_array_foreach(added, i, e) {
		const json_t *c = json_object_get(e, "content");

		if (set_piece(&jl, text, len, type, n, json_integer_value(json_object_get(e, "id")),
		    json_string_value(c), json_string_length(c),
		    json_is_true(json_object_get(e, "special")) ? RS_TOKEN_CONTROL :
		    RS_TOKEN_USER_DEFINED) != 0)
			goto fail;
	}
	byte_level = has_bytelevel(json_object_get(root, "pre_tokenizer"), 0) ||
	    has_bytelevel(json_object_get(root, "decoder"), 0);
	if ((t = tok_new(path, byte_level ? TOK_BPE : TOK_SPM)) == NULL ||
	    tok_reserve(t, n, 0) != 0)
		goto nomem;
	jl.t = t;
	for (i = 0; i < n; i++) {
		int ty = text[i] == NULL ? RS_TOKEN_UNUSED : type[i];

		if (ty == RS_TOKEN_NORMAL && len[i] == 6 && memcmp(text[i], "<0x", 3) == 0 &&
		    text[i][5] == '>')
			ty = RS_TOKEN_BYTE;
		if (tok_add_piece(t, text[i] != NULL ? text[i] : "", len[i], 0, ty) != 0)
			goto nomem;
	}
	t->byte_level = byte_level;
	t->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
	t->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
	t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
	t->norm = byte_level ? TOK_NORM_NONE : TOK_NORM_HF;
	if (tok_finish(t, cause) != 0)
		goto fail;
	if ((key = json_string_value(json_object_get(model, "unk_token"))) != NULL &&
	    (t->unk = tok_find(t, key, strlen(key))) >= 0)
		t->type[t->unk] = RS_TOKEN_UNKNOWN;
	for (i = 0; i < 3; i++) {
		if (t->bos < 0)
			t->bos = tok_find(t, bos_names[i], strlen(bos_names[i]));
		if (t->eos < 0)
			t->eos = tok_find(t, eos_names[i], strlen(eos_names[i]));
	}
	find_bos(t, root);
	if (load_normalizer(&jl, json_object_get(root, "normalizer"), 0) != 0 ||
	    load_pre(&jl, json_object_get(root, "pre_tokenizer"), 0) != 0)
		goto fail;
	if (jl.pre[0] != '\0' && (t->pre = rs_strdup(jl.pre)) == NULL)
		goto nomem;
	if (json_array_size(merges) > TOK_MAX_MERGES) {
		rs_fail(cause, RS_EFORMAT, "%s: %zu merges", path, json_array_size(merges));
		goto fail;
	}
	if (tok_merges_init(t, json_array_size(merges)) != 0)
		goto nomem;
	json_array_foreach(merges, i, e) {
		char buf[512], *s = buf;
		size_t l;
		int rc;

		if (json_is_string(e)) {
			s = (char *)json_string_value(e);
			l = json_string_length(e);
		} else if (json_is_array(e) && json_array_size(e) == 2 &&
		    json_is_string(json_array_get(e, 0)) && json_is_string(json_array_get(e, 1))) {
			/* newer files: ["a", "b"]; joined with a space as in the old form */
			const json_t *a = json_array_get(e, 0), *b = json_array_get(e, 1);
			size_t la = json_string_length(a), lb = json_string_length(b);

			if (la + lb + 1 > sizeof(buf) || la == 0) {
				rs_fail(cause, RS_EFORMAT, "%s: model.merges[%zu]: too long", path, i);
				goto fail;
			}
			memcpy(buf, json_string_value(a), la);
			buf[la] = ' ';
			memcpy(buf + la + 1, json_string_value(b), lb);
			l = la + lb + 1;
		} else {
			rs_fail(cause, RS_EFORMAT, "%s: model.merges[%zu]: not a merge", path, i);
			goto fail;
		}
		if ((rc = tok_add_merge(t, s, l, (uint32_t)i)) == RS_EFORMAT) {
			rs_fail(cause, RS_EFORMAT, "%s: model.merges[%zu]: not \"left right\"", path,
			    i);
			goto fail;
		}
		if (rc != 0)
			goto nomem;
	}
	rs_free(text);
	rs_free(len);
	rs_free(type);
	json_decref(root);
	rs_mapfile_close(mf);
	return t;
nomem:
	rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
fail:
	rs_free(text);
	rs_free(len);
	rs_free(type);
	rs_tokenizer_free(t);
	json_decref(root);
	rs_mapfile_close(mf);
	return NULL;
}
