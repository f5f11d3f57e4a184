/* tokenizer.c: vocabulary tables, the pre-tokenizer, the two merge algorithms (SentencePiece
 * BPE by score, BPE by merge rank) and the public accessors.  Loaders live in tok-load.c and
 * tok-json.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "alloc.h"
#include "gguf.h"
#include "status.h"
#include "tok-impl.h"
#include "tokenizer.h"

#define SPACE_SYM "\xe2\x96\x81"	/* U+2581, SentencePiece's visible space */

/* ------------------------------------------------------------------ building */

/* Allocate an empty tokenizer of the given model for a file. */
struct rs_tokenizer *
tok_new(const char *source, enum tok_model model)
{
	struct rs_tokenizer *t;
	int i;

	if ((t = rs_calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->model = model;
	t->bos = t->eos = t->unk = -1;
	for (i = 0; i < 256; i++)
		t->byte_tok[i] = -1;
	t->mergeable = ~0u;
	if ((t->source = rs_strdup(source)) == NULL ||
	    (t->off = rs_calloc(1, sizeof(*t->off))) == NULL) {
		rs_tokenizer_free(t);
		return NULL;
	}
	return t;
}

/* Make room for n_tokens more tokens and n_bytes more text. */
int
tok_reserve(struct rs_tokenizer *t, size_t n_tokens, size_t n_bytes)
{
	size_t cap;
	void *p;

	if (n_tokens > TOK_MAX_VOCAB || t->n + n_tokens > TOK_MAX_VOCAB)
		return RS_EFORMAT;
	if (t->n + n_tokens > t->cap_n) {
		cap = t->n + n_tokens;
		if ((p = rs_realloc(t->off, (cap + 1) * sizeof(*t->off))) == NULL)
			return RS_ENOMEM;
		t->off = p;
		if ((p = rs_realloc(t->score, (cap + 1) * sizeof(*t->score))) == NULL)
			return RS_ENOMEM;
		t->score = p;
		if ((p = rs_realloc(t->type, cap + 1)) == NULL)
			return RS_ENOMEM;
		t->type = p;
		t->cap_n = cap;
	}
	if (n_bytes > SIZE_MAX / 4 - t->pool_len)
		return RS_ENOMEM;
	if (t->pool_len + n_bytes > t->pool_cap) {
		cap = t->pool_len + n_bytes;
		if ((p = rs_realloc(t->pool, cap)) == NULL)
			return RS_ENOMEM;
		t->pool = p;
		t->pool_cap = cap;
	}
	return 0;
}

/* Append one piece (len bytes, copied) with its score and type; ids are given in order. */
int
tok_add_piece(struct rs_tokenizer *t, const char *s, size_t len, float score, int type)
{
	int rc;

	if (len > TOK_MAX_PIECE)
		return RS_EFORMAT;
	if (t->n + 1 > t->cap_n || t->pool_len + len + 1 > t->pool_cap) {
		size_t more_n = t->n + 1 > t->cap_n ? t->cap_n + 64 : 0;
		size_t more_b = t->pool_len + len + 1 > t->pool_cap ? t->pool_cap + len + 1 : 0;

		if (more_n > TOK_MAX_VOCAB - t->n)
			more_n = TOK_MAX_VOCAB - t->n;
		if (t->n + 1 > t->cap_n && more_n == 0)
			return RS_EFORMAT;

		if ((rc = tok_reserve(t, more_n, more_b)) != 0)
			return rc;
	}
	memcpy(t->pool + t->pool_len, s, len);
	t->pool[t->pool_len + len] = '\0';
	t->off[t->n] = t->pool_len;
	t->score[t->n] = score;
	t->type[t->n] = (uint8_t)type;
	t->pool_len += len + 1;
	t->n++;
	t->off[t->n] = t->pool_len;
	return 0;
}

/* FNV-1a over bytes: the hash of the piece table. */
static uint64_t
tok_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Look a piece up by its text: its id or -1. */
int32_t
tok_find(const struct rs_tokenizer *t, const char *s, size_t len)
{
	size_t i;
	int32_t id;

	if (t->hash == NULL)
		return -1;
	i = (size_t)tok_hash(s, len) & t->hmask;
	while ((id = t->hash[i]) >= 0) {
		if (t->off[id + 1] - t->off[id] - 1 == len &&
		    memcmp(t->pool + t->off[id], s, len) == 0)
			return id;
		i = (i + 1) & t->hmask;
	}
	return -1;
}

/* UTF-8 sequence length announced by a lead byte (1 for stray continuation bytes). */
size_t
tok_utf8_len(unsigned char c)
{
	static const uint8_t lens[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };

	return lens[c >> 4];
}

/* Write code point cp as UTF-8 into out (room for 4); returns the length. */
static size_t
utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if it is malformed. */
static size_t
utf8_valid(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7F >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* Index the pieces by text and find the byte tokens; call once all pieces are added. */
int
tok_finish(struct rs_tokenizer *t, char **cause)
{
	size_t cap, i, j;
	int b, k;

	if (t->n == 0)
		return rs_fail(cause, RS_EFORMAT, "%s: empty vocabulary", t->source);
	for (cap = 16; cap < t->n * 2; cap *= 2)
		;
	rs_free(t->hash);
	if ((t->hash = rs_mallocarray(cap, sizeof(*t->hash))) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", t->source);
	memset(t->hash, 0xff, cap * sizeof(*t->hash));
	t->hmask = cap - 1;
	for (i = 0; i < t->n; i++) {
		const char *s = t->pool + t->off[i];
		size_t len = t->off[i + 1] - t->off[i] - 1;
		int32_t id;

		/* a duplicate text maps to its last id, as llama.cpp's token_to_id does */
		j = (size_t)tok_hash(s, len) & t->hmask;
		while ((id = t->hash[j]) >= 0) {
			if (t->off[id + 1] - t->off[id] - 1 == len &&
			    memcmp(t->pool + t->off[id], s, len) == 0)
				break;
			j = (j + 1) & t->hmask;
		}
		t->hash[j] = (int32_t)i;
	}
	/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
	 * others take the code points from 256 up in byte order */
	for (b = 0, k = 0; b < 256; b++) {
		if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
			t->bcp[b] = (uint16_t)b;
		else
			t->bcp[b] = (uint16_t)(256 + k++);
	}
	for (b = 0; b < 256; b++) {
		char buf[8];
		size_t n;

		if (t->model == TOK_BPE && t->byte_level) {
			n = utf8_put(t->bcp[b], buf);
		} else {
			static const char hex[] = "0123456789ABCDEF";

			memcpy(buf, "<0x", 3);
			buf[3] = hex[b >> 4];
			buf[4] = hex[b & 15];
			buf[5] = '>';
			n = 6;
		}
		t->byte_tok[b] = tok_find(t, buf, n);
	}
	t->n_user = t->user_maxlen = 0;
	memset(t->user_first, 0, sizeof(t->user_first));
	for (i = 0; i < t->n; i++) {
		size_t len = t->off[i + 1] - t->off[i] - 1;
		unsigned char c = (unsigned char)t->pool[t->off[i]];

		if (t->type[i] != RS_TOKEN_USER_DEFINED || len == 0)
			continue;
		t->n_user++;
		if (len > t->user_maxlen)
			t->user_maxlen = len;
		t->user_first[c >> 3] |= (uint8_t)(1u << (c & 7));
	}
	for (k = 0; k < 3; k++) {
		int32_t *idp = k == 0 ? &t->bos : k == 1 ? &t->eos : &t->unk;

		if (*idp >= (int32_t)t->n)
			*idp = -1;
	}
	return 0;
}

/* Size the merge table for n_merges rules (rank mode). */
int
tok_merges_init(struct rs_tokenizer *t, size_t n_merges)
{
	size_t cap;

	if (n_merges > TOK_MAX_MERGES)
		return RS_EFORMAT;
	for (cap = 16; cap < n_merges * 2; cap *= 2)
		;
	rs_free(t->mtab);
	if ((t->mtab = rs_mallocarray(cap, sizeof(*t->mtab))) == NULL)
		return RS_ENOMEM;
	memset(t->mtab, 0xff, cap * sizeof(*t->mtab));
	t->mmask = cap - 1;
	t->n_merges = 0;
	t->by_rank = 1;
	return 0;
}

/* Slot of the merge (l, r) in the table: the rule's slot or the empty slot ending its run. */
static size_t
merge_slot(const struct rs_tokenizer *t, uint64_t key)
{
	size_t i = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & t->mmask;

	while (t->mtab[i].key != UINT64_MAX && t->mtab[i].key != key)
		i = (i + 1) & t->mmask;
	return i;
}

/* Add merge rule "left right" (split at the first space after the first byte) with its
 * rank.  Rules whose parts or result are not in the vocabulary are skipped (they could never
 * fire on ids); the first occurrence of a pair keeps its rank.  RS_EFORMAT if no space. */
int
tok_add_merge(struct rs_tokenizer *t, const char *s, size_t len, uint32_t rank)
{
	const char *sp;
	int32_t l, r, res;
	char stack[256], *cat;
	size_t ll, rl, i;
	uint64_t key;

	if (len < 3 || (sp = memchr(s + 1, ' ', len - 1)) == NULL)
		return RS_EFORMAT;
	ll = (size_t)(sp - s);
	rl = len - ll - 1;
	if ((l = tok_find(t, s, ll)) < 0 || (r = tok_find(t, sp + 1, rl)) < 0)
		return 0;
	cat = ll + rl <= sizeof(stack) ? stack : rs_malloc(ll + rl);
	if (cat == NULL)
		return RS_ENOMEM;
	memcpy(cat, s, ll);
	memcpy(cat + ll, sp + 1, rl);
	res = tok_find(t, cat, ll + rl);
	if (cat != stack)
		rs_free(cat);
	if (res < 0)
		return 0;
	if (t->n_merges >= t->mmask / 2 + 1)
		return RS_EFORMAT;
	key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
	i = merge_slot(t, key);
	if (t->mtab[i].key == key)
		return 0;
	t->mtab[i].key = key;
	t->mtab[i].rank = rank;
	t->mtab[i].result = res;
	t->n_merges++;
	return 0;
}

/* Compile one pre-tokenizer regex (or literal string) and append it as a split step. */
int
tok_add_split(struct rs_tokenizer *t, const char *pattern, size_t len, int literal, char **cause)
{
	pcre2_code *re;
	int err;
	PCRE2_SIZE eoff;
	struct tok_step *st;

	if (t->n_psteps >= TOK_MAX_STEPS)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: more than %d pre-tokenizer steps",
		    t->source, TOK_MAX_STEPS);
	re = pcre2_compile((PCRE2_SPTR)pattern, len,
	    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
	    (literal ? PCRE2_LITERAL : 0), &err, &eoff, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(err, msg, sizeof(msg));
		return rs_fail(cause, RS_EFORMAT, "%s: pre-tokenizer regex at offset %zu: %s",
		    t->source, (size_t)eoff, (const char *)msg);
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);	/* interpreted if JIT is absent */
	st = &t->psteps[t->n_psteps++];
	memset(st, 0, sizeof(*st));
	st->kind = TOK_PS_SPLIT;
	st->re = re;
	return 0;
}

/* llama.cpp's pre-tokenizer regexes by tokenizer.ggml.pre name (llama-vocab.cpp). */
static const struct {
	const char *names;		/* space-separated */
	int ignore_merges;
	const char *re[6];
} pre_table[] = {
	{ "llama3 llama-v3 llama-bpe falcon3 pixtral dbrx smaug-bpe chatglm-bpe",
	  1, {
	  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
	  "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL } },
	{ "deepseek-llm", 0, {
	  "[\r\n]",
	  "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf"
	  "\xc7\x84-\xca\x93\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd"
	  "\xcd\xbf\xce\x86\xce\x88-\xce\x8a\xce\x8c\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-"
	  "\xd2\x81\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96\xe1\x82\xa0-\xe1\x83\x85\xe1\x8e\xa0-"
	  "\xe1\x8f\xb5\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba\xe1\xb2\xbd-\xe1\xb2\xbf"
	  "\xe1\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a\xe1\xb8\x80-"
	  "\xe1\xbc\x95\xe1\xbc\x98-\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85\xe1\xbd\x88-\xe1\xbd\x8d"
	  "\xe1\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99\xe1\xbd\x9b\xe1\xbd\x9d\xe1\xbd\x9f-\xe1\xbd\xbd"
	  "\xe1\xbe\x80-\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe\xe1\xbf\x82-\xe1\xbf\x84"
	  "\xe1\xbf\x86-\xe1\xbf\x8c\xe1\xbf\x90-\xe1\xbf\x93\xe1\xbf\x96-\xe1\xbf\x9b\xe1\xbf\xa0-"
	  "\xe1\xbf\xac\xe1\xbf\xb2-\xe1\xbf\xb4\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87"
	  "\xe2\x84\x8a-\xe2\x84\x93\xe2\x84\x95\xe2\x84\x99-\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6"
	  "\xe2\x84\xa8\xe2\x84\xaa-\xe2\x84\xad\xe2\x84\xaf-\xe2\x84\xb4\xe2\x84\xb9\xe2\x84\xbc-"
	  "\xe2\x84\xbf\xe2\x85\x85-\xe2\x85\x89\xe2\x85\x8e\xe2\x86\x83\xe2\x86\x84\xe2\xb0\x80-"
	  "\xe2\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4\xe2\xb3\xab-\xe2\xb3\xae\xe2\xb3\xb2\xe2\xb3\xb3"
	  "\xea\x99\x80-\xea\x99\xad\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf\xea\x9d\xb1-"
	  "\xea\x9e\x87\xea\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86"
	  "\xef\xac\x93-\xef\xac\x97\xef\xbc\xa1-\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a\xf0\x90\x90"
	  "\x80-\xf0\x90\x91\x8f\xf0\x90\x92\xb0-\xf0\x90\x93\x93\xf0\x90\x93\x98-\xf0\x90\x93\xbb"
	  "\xf0\x90\xb2\x80-\xf0\x90\xb2\xb2\xf0\x90\xb3\x80-\xf0\x90\xb3\xb2\xf0\x91\xa2\xa0-"
	  "\xf0\x91\xa3\x9f\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+",
	  "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f"
	  "\xe3\x80\x80-\xe3\x80\x82]+",
	  "\\s+$",
	  "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+",
	  "\\p{N}+" } },
	{ "deepseek-coder", 0, {
	  "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+",
	  "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+",
	  "\\p{N}", NULL } },
	{ "falcon", 0, {
	  "[\\p{P}\\$\\+<=>\\^~\\|`]+",
	  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
	  "[0-9][0-9][0-9]", NULL } },
	{ "starcoder refact command-r smollm codeshell exaone minerva", 0, {
	  "\\p{N}",
	  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", NULL } },
	{ "gpt-2 mpt olmo jais trillion", 0, {
	  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", NULL } },
	{ "qwen2 stablelm2 hunyuan deepseek-r1-qwen", 0, {
	  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
	  "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL } },
	{ "default", 0, {
	  "[\\p{P}\\$\\+<=>\\^~\\|]+",
	  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
	  "\\p{N}+", "[0-9][0-9][0-9]", NULL } },
};

/* Whether word is one of the space-separated names in list. */
static int
name_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t k = strcspn(p, " ");

		if (k == n && memcmp(p, word, n) == 0)
			return 1;
		p += k;
		p += strspn(p, " ");
	}
	return 0;
}

/* Select llama.cpp's pre-tokenizer regexes by GGUF tokenizer.ggml.pre name (NULL: default). */
int
tok_set_pre(struct rs_tokenizer *t, const char *name, char **cause)
{
	size_t i, k;
	int rc;

	if (name == NULL)
		name = "default";
	for (i = 0; i < sizeof(pre_table) / sizeof(pre_table[0]); i++) {
		if (!name_in(pre_table[i].names, name))
			continue;
		for (k = 0; k < 6 && pre_table[i].re[k] != NULL; k++)
			if ((rc = tok_add_split(t, pre_table[i].re[k], strlen(pre_table[i].re[k]), 0,
			    cause)) != 0)
				return rc;
		t->ignore_merges = pre_table[i].ignore_merges;
		rs_free(t->pre);
		if ((t->pre = rs_strdup(name)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "%s: out of memory", t->source);
		return 0;
	}
	return rs_fail(cause, RS_EUNSUPPORTED, "%s: tokenizer.ggml.pre '%s' is not supported",
	    t->source, name);
}

/* Free a tokenizer and everything it owns (NULL is fine). */
void
rs_tokenizer_free(struct rs_tokenizer *t)
{
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n_nsteps; i++) {
		rs_free(t->nsteps[i].a);
		rs_free(t->nsteps[i].b);
	}
	for (i = 0; i < t->n_psteps; i++) {
		rs_free(t->psteps[i].a);
		rs_free(t->psteps[i].b);
		if (t->psteps[i].re != NULL)
			pcre2_code_free(t->psteps[i].re);
	}
	rs_free(t->source);
	rs_free(t->pre);
	rs_free(t->pool);
	rs_free(t->off);
	rs_free(t->score);
	rs_free(t->type);
	rs_free(t->hash);
	rs_free(t->mtab);
	rs_free(t);
}

/* ------------------------------------------------------------------ encoding */

struct sbuf {			/* growable byte string */
	char *p;
	size_t n, cap;
};

/* Make room for `more` bytes in b. */
static int
sbuf_grow(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (more <= b->cap - b->n)
		return 0;
	if (more > SIZE_MAX / 4 - b->n)
		return RS_ENOMEM;
	cap = b->cap * 2 > b->n + more ? b->cap * 2 : b->n + more + 64;
	if ((p = rs_realloc(b->p, cap)) == NULL)
		return RS_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Append len bytes to b. */
static int
sbuf_add(struct sbuf *b, const char *s, size_t len)
{
	if (len == 0)
		return 0;
	if (sbuf_grow(b, len) != 0)
		return RS_ENOMEM;
	memcpy(b->p + b->n, s, len);
	b->n += len;
	return 0;
}

struct span {			/* a word: bytes [start, start + len) of the normalized text */
	size_t start, len;
};

struct sym {			/* a symbol of the merge: a run of bytes of the word */
	int32_t prev, next;
	uint32_t start, len;
	int32_t id;		/* its token, -1 if the text is not one */
};

struct bigram {			/* a candidate merge of symbols left and left's next */
	double pri;		/* higher first: the score, or minus the rank */
	int32_t left, right;
	uint32_t size;		/* length of the merged text when pushed */
	int32_t id;		/* the merged token */
};

struct work {			/* buffers reused across the words of one encode */
	struct sym *syms;
	size_t n_syms, cap_syms;
	struct bigram *heap;
	size_t n_heap, cap_heap;
	struct sbuf word;
	int32_t *ids;
	size_t n_ids, cap_ids;
	int last_fallback_unk;
};

/* Append one id to the output. */
static int
out_push(struct work *w, int32_t id)
{
	if (w->n_ids == w->cap_ids) {
		size_t cap = w->cap_ids ? w->cap_ids * 2 : 256;
		int32_t *p;

		if ((p = rs_realloc(w->ids, cap * sizeof(*p))) == NULL)
			return RS_ENOMEM;
		w->ids = p;
		w->cap_ids = cap;
	}
	w->ids[w->n_ids++] = id;
	w->last_fallback_unk = 0;
	return 0;
}

/* True if bigram a comes out of the heap before b: best priority, then leftmost. */
static int
bigram_before(const struct bigram *a, const struct bigram *b)
{
	return a->pri > b->pri || (a->pri == b->pri && a->left < b->left);
}

/* Push a bigram onto the heap. */
static int
heap_push(struct work *w, const struct bigram *bg)
{
	size_t i;

	if (w->n_heap == w->cap_heap) {
		size_t cap = w->cap_heap ? w->cap_heap * 2 : 256;
		struct bigram *p;

		if ((p = rs_realloc(w->heap, cap * sizeof(*p))) == NULL)
			return RS_ENOMEM;
		w->heap = p;
		w->cap_heap = cap;
	}
	i = w->n_heap++;
	while (i > 0 && bigram_before(bg, &w->heap[(i - 1) / 2])) {
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = *bg;
	return 0;
}

/* Pop the best bigram into *out. */
static void
heap_pop(struct work *w, struct bigram *out)
{
	struct bigram last;
	size_t i = 0, c;

	*out = w->heap[0];
	last = w->heap[--w->n_heap];
	while ((c = 2 * i + 1) < w->n_heap) {
		if (c + 1 < w->n_heap && bigram_before(&w->heap[c + 1], &w->heap[c]))
			c++;
		if (!bigram_before(&w->heap[c], &last))
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	w->heap[i] = last;
}

/* Queue the merge of symbols l and r if the vocabulary has one. */
static int
try_bigram(const struct rs_tokenizer *t, struct work *w, const char *s, int32_t l, int32_t r)
{
	struct bigram bg;
	const struct sym *a, *b;

	if (l < 0 || r < 0)
		return 0;
	a = &w->syms[l];
	b = &w->syms[r];
	if (t->by_rank) {
		uint64_t key;
		size_t i;

		if (a->id < 0 || b->id < 0)
			return 0;
		key = ((uint64_t)(uint32_t)a->id << 32) | (uint32_t)b->id;
		i = merge_slot(t, key);
		if (t->mtab[i].key != key)
			return 0;
		bg.pri = -(double)t->mtab[i].rank;
		bg.id = t->mtab[i].result;
	} else {
		bg.id = tok_find(t, s + a->start, (size_t)a->len + b->len);
		if (bg.id < 0 || !(t->mergeable & (1u << t->type[bg.id])))
			return 0;
		bg.pri = t->score[bg.id];
	}
	bg.left = l;
	bg.right = r;
	bg.size = a->len + b->len;
	return heap_push(w, &bg);
}

/* Emit the tokens for a symbol whose text is not a usable token. */
static int
emit_fallback(const struct rs_tokenizer *t, struct work *w, const char *s, size_t len)
{
	size_t i;
	int rc;

	if (t->model == TOK_BPE && t->byte_level) {
		/* llama.cpp: any single byte of the text that is a token */
		for (i = 0; i < len; i++) {
			int32_t id = tok_find(t, s + i, 1);

			if (id >= 0 && (rc = out_push(w, id)) != 0)
				return rc;
		}
		return 0;
	}
	if (t->byte_fallback) {
		for (i = 0; i < len; i++) {
			int32_t id = t->byte_tok[(unsigned char)s[i]];

			if (id < 0)
				id = t->unk;
			if (id >= 0 && (rc = out_push(w, id)) != 0)
				return rc;
		}
		return 0;
	}
	if (t->unk < 0 || (t->fuse_unk && w->last_fallback_unk))
		return 0;
	if ((rc = out_push(w, t->unk)) != 0)
		return rc;
	w->last_fallback_unk = 1;
	return 0;
}

/* Tokenize one word s[0..len) (already normalized / byte-mapped) into w->ids. */
static int
encode_word(const struct rs_tokenizer *t, struct work *w, const char *s, size_t len)
{
	size_t off, n;
	int32_t i, id;
	int rc;

	if (len == 0)
		return 0;
	if (len > UINT32_MAX / 2)
		return RS_EINVAL;
	if (t->ignore_merges && (id = tok_find(t, s, len)) >= 0)
		return out_push(w, id);
	/* one symbol per UTF-8 character */
	for (off = 0, n = 0; off < len; n++)
		off += tok_utf8_len((unsigned char)s[off]);
	if (n > w->cap_syms) {
		struct sym *p = rs_realloc(w->syms, n * sizeof(*p));

		if (p == NULL)
			return RS_ENOMEM;
		w->syms = p;
		w->cap_syms = n;
	}
	for (off = 0, i = 0; off < len; i++) {
		size_t cl = tok_utf8_len((unsigned char)s[off]);
		struct sym *sy = &w->syms[i];

		if (cl > len - off)
			cl = len - off;
		sy->start = (uint32_t)off;
		sy->len = (uint32_t)cl;
		sy->prev = i - 1;
		sy->next = off + cl == len ? -1 : i + 1;
		sy->id = tok_find(t, s + off, cl);
		off += cl;
	}
	w->n_syms = n;
	w->n_heap = 0;
	for (i = 1; i < (int32_t)n; i++)
		if ((rc = try_bigram(t, w, s, i - 1, i)) != 0)
			return rc;
	while (w->n_heap > 0) {
		struct bigram bg;
		struct sym *l, *r;

		heap_pop(w, &bg);
		l = &w->syms[bg.left];
		r = &w->syms[bg.right];
		/* stale: one side was merged since (symbols only grow) */
		if (l->len == 0 || r->len == 0 || l->len + r->len != bg.size)
			continue;
		l->len += r->len;
		l->id = bg.id;
		r->len = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->syms[r->next].prev = bg.left;
		if ((rc = try_bigram(t, w, s, l->prev, bg.left)) != 0 ||
		    (rc = try_bigram(t, w, s, bg.left, l->next)) != 0)
			return rc;
	}
	for (i = 0; i >= 0; i = w->syms[i].next) {
		const struct sym *sy = &w->syms[i];

		/* SentencePiece emits <unk> pieces as bytes when it has byte fallback */
		if (sy->id >= 0 && !(t->norm == TOK_NORM_SP && sy->id == t->unk &&
		    t->byte_fallback))
			rc = out_push(w, sy->id);
		else
			rc = emit_fallback(t, w, s + sy->start, sy->len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Append the escaped space symbol (U+2581 or the Metaspace replacement) to b. */
static int
add_space(struct sbuf *b)
{
	return sbuf_add(b, SPACE_SYM, 3);
}

/* SentencePiece's normalizer with identity rules: drop extra spaces if asked, add the dummy
 * prefix, escape spaces, malformed UTF-8 bytes become U+FFFD. */
static int
norm_sp(const struct rs_tokenizer *t, const char *text, size_t len, struct sbuf *out)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	int prev_space = t->remove_extra_ws;

	if (t->remove_extra_ws)
		while (p < end && *p == ' ')
			p++;
	if (p == end)
		return 0;
	if (t->add_space_prefix && add_space(out) != 0)
		return RS_ENOMEM;
	while (p < end) {
		size_t cl = utf8_valid(p, (size_t)(end - p));
		int rc;

		if (cl == 0) {
			rc = sbuf_add(out, "\xef\xbf\xbd", 3);
			prev_space = 0;
			cl = 1;
		} else if (*p == ' ') {
			rc = prev_space ? 0 : add_space(out);
			prev_space = 1;
		} else {
			rc = sbuf_add(out, (const char *)p, cl);
			prev_space = 0;
		}
		if (rc != 0)
			return rc;
		if (!t->remove_extra_ws)
			prev_space = 0;
		p += cl;
	}
	if (t->remove_extra_ws)
		while (out->n >= 3 && memcmp(out->p + out->n - 3, SPACE_SYM, 3) == 0)
			out->n -= 3;
	return 0;
}

/* Replace every occurrence of from with to in b (from non-empty). */
static int
sbuf_replace(struct sbuf *b, const char *from, size_t flen, const char *to, size_t tlen)
{
	struct sbuf o = { NULL, 0, 0 };
	size_t i = 0;

	if (flen == 0 || b->n < flen)
		return 0;
	while (i < b->n) {
		if (i + flen <= b->n && memcmp(b->p + i, from, flen) == 0) {
			if (sbuf_add(&o, to, tlen) != 0)
				goto fail;
			i += flen;
		} else {
			if (sbuf_add(&o, b->p + i, 1) != 0)
				goto fail;
			i++;
		}
	}
	rs_free(b->p);
	*b = o;
	return 0;
fail:
	rs_free(o.p);
	return RS_ENOMEM;
}

/* Prepend s to b. */
static int
sbuf_prepend(struct sbuf *b, const char *s, size_t len)
{
	if (len == 0)
		return 0;
	if (sbuf_grow(b, len) != 0)
		return RS_ENOMEM;
	memmove(b->p + len, b->p, b->n);
	memcpy(b->p, s, len);
	b->n += len;
	return 0;
}

/* Turn the raw text into the string the pre-tokenizer and merges see; prefix: whether
 * llama.cpp's space prefix applies to this fragment. */
static int
normalize(const struct rs_tokenizer *t, const char *text, size_t len, int prefix,
          struct sbuf *out)
{
	size_t i;
	int k, rc;

	out->n = 0;
	switch (t->norm) {
	case TOK_NORM_SP:
		return norm_sp(t, text, len, out);
	case TOK_NORM_LLAMA:
		/* llama.cpp: an empty text gives no fragment, hence no prefix */
		if (len == 0)
			return 0;
		if (sbuf_grow(out, len + 3) != 0)
			return RS_ENOMEM;
		if (t->add_space_prefix && prefix && add_space(out) != 0)
			return RS_ENOMEM;
		for (i = 0; i < len; i++) {
			if (text[i] == ' ')
				rc = add_space(out);
			else
				rc = sbuf_add(out, text + i, 1);
			if (rc != 0)
				return rc;
		}
		return 0;
	case TOK_NORM_HF:
	case TOK_NORM_NONE:
		if (sbuf_add(out, text, len) != 0)
			return RS_ENOMEM;
		break;
	}
	for (k = 0; k < t->n_nsteps; k++) {
		const struct tok_step *st = &t->nsteps[k];

		if (st->kind == TOK_NS_PREPEND && out->n > 0)
			rc = sbuf_prepend(out, st->a, st->alen);
		else if (st->kind == TOK_NS_REPLACE)
			rc = sbuf_replace(out, st->a, st->alen, st->b, st->blen);
		else
			rc = 0;
		if (rc != 0)
			return rc;
	}
	for (k = 0; k < t->n_psteps; k++) {
		const struct tok_step *st = &t->psteps[k];

		if (st->kind != TOK_PS_METASPACE)
			continue;
		if ((rc = sbuf_replace(out, " ", 1, st->a, st->alen)) != 0)
			return rc;
		if (st->prepend != 0 && out->n > 0 &&
		    (out->n < st->alen || memcmp(out->p, st->a, st->alen) != 0) &&
		    (rc = sbuf_prepend(out, st->a, st->alen)) != 0)
			return rc;
	}
	if (t->prefix_space && out->n > 0 && out->p[0] != ' ' && sbuf_prepend(out, " ", 1) != 0)
		return RS_ENOMEM;
	return 0;
}

struct spans {
	struct span *v;
	size_t n, cap;
};

/* Append a span. */
static int
spans_push(struct spans *s, size_t start, size_t len)
{
	if (len == 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct span *p;

		if ((p = rs_realloc(s->v, cap * sizeof(*p))) == NULL)
			return RS_ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n].start = start;
	s->v[s->n].len = len;
	s->n++;
	return 0;
}

/* Refine the spans of `in` with one step into `out`: regex matches and the gaps between them
 * both become words (HF's "Isolated", llama.cpp's unicode_regex_split); Metaspace splits
 * before each replacement symbol. */
static int
split_step(const struct rs_tokenizer *t, const struct tok_step *st, const char *buf,
           const struct spans *in, struct spans *out, pcre2_match_data *md, char **cause)
{
	size_t k;

	out->n = 0;
	for (k = 0; k < in->n; k++) {
		const char *s = buf + in->v[k].start;
		size_t len = in->v[k].len, pos = 0, last = 0;
		size_t base = in->v[k].start;

		if (st->kind == TOK_PS_METASPACE) {
			size_t i;

			if (!st->split) {
				if (spans_push(out, base, len) != 0)
					return RS_ENOMEM;
				continue;
			}
			for (i = 1; i + st->alen <= len; i++)
				if (memcmp(s + i, st->a, st->alen) == 0) {
					if (spans_push(out, base + last, i - last) != 0)
						return RS_ENOMEM;
					last = i;
				}
			if (spans_push(out, base + last, len - last) != 0)
				return RS_ENOMEM;
			continue;
		}
		while (pos < len) {
			PCRE2_SIZE *ov;
			int rc;

			rc = pcre2_match(st->re, (PCRE2_SPTR)s, len, pos, 0, md, NULL);
			if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
				rc = pcre2_match(st->re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_JIT, md,
				    NULL);
			if (rc == PCRE2_ERROR_NOMATCH)
				break;
			if (rc < 0) {
				PCRE2_UCHAR msg[160];

				pcre2_get_error_message(rc, msg, sizeof(msg));
				return rs_fail(cause, RS_EINVAL, "%s: pre-tokenizer: %s",
				    t->source, (const char *)msg);
			}
			ov = pcre2_get_ovector_pointer(md);
			if (ov[1] <= ov[0]) {
				/* an empty match splits nothing: step one character on */
				pos = ov[0] + 1;
				while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80)
					pos++;
				continue;
			}
			if (spans_push(out, base + last, ov[0] - last) != 0 ||
			    spans_push(out, base + ov[0], ov[1] - ov[0]) != 0)
				return RS_ENOMEM;
			last = pos = ov[1];
		}
		if (spans_push(out, base + last, len - last) != 0)
			return RS_ENOMEM;
	}
	return 0;
}

/* The user-defined token starting at text[i], longest first: its id and *len, or -1. */
static int32_t
user_token_at(const struct rs_tokenizer *t, const char *text, size_t len, size_t i, size_t *tl)
{
	unsigned char c = (unsigned char)text[i];
	size_t l;

	if (!(t->user_first[c >> 3] & (1u << (c & 7))))
		return -1;
	for (l = len - i < t->user_maxlen ? len - i : t->user_maxlen; l > 0; l--) {
		int32_t id = tok_find(t, text + i, l);

		if (id >= 0 && t->type[id] == RS_TOKEN_USER_DEFINED) {
			*tl = l;
			return id;
		}
	}
	return -1;
}

struct encstate {		/* buffers of one encode call */
	struct sbuf norm;
	struct spans a, b;
	struct work w;
	pcre2_match_data *md;
};

/* Tokenize one fragment of raw text (between user-defined tokens) into s->w.ids; prefix:
 * whether the SentencePiece space prefix applies (llama.cpp: at the start and after a
 * user-defined token). */
static int
encode_fragment(const struct rs_tokenizer *t, struct encstate *es, const char *text,
                size_t len, int prefix, char **cause)
{
	struct spans tmp;
	size_t k;
	int rc, s;

	if ((rc = normalize(t, text, len, prefix, &es->norm)) != 0)
		return rc;
	es->a.n = 0;
	if ((rc = spans_push(&es->a, 0, es->norm.n)) != 0)
		return rc;
	for (s = 0; s < t->n_psteps; s++) {
		const struct tok_step *st = &t->psteps[s];

		if (st->kind == TOK_PS_SPLIT && es->md == NULL &&
		    (es->md = pcre2_match_data_create(4, NULL)) == NULL)
			return RS_ENOMEM;
		if (st->kind == TOK_PS_METASPACE && !st->split)
			continue;
		if ((rc = split_step(t, st, es->norm.p, &es->a, &es->b, es->md, cause)) != 0)
			return rc;
		tmp = es->a;
		es->a = es->b;
		es->b = tmp;
	}
	for (k = 0; k < es->a.n; k++) {
		const char *word = es->norm.p + es->a.v[k].start;
		size_t wl = es->a.v[k].len, i;
		struct work *w = &es->w;

		if (t->model == TOK_BPE && t->byte_level) {
			w->word.n = 0;
			if ((rc = sbuf_grow(&w->word, wl * 2)) != 0)
				return rc;
			for (i = 0; i < wl; i++)
				w->word.n += utf8_put(t->bcp[(unsigned char)word[i]],
				    w->word.p + w->word.n);
			word = w->word.p;
			wl = w->word.n;
		}
		if ((rc = encode_word(t, w, word, wl)) != 0)
			return rc;
	}
	return 0;
}

/* Tokenize text; see tokenizer.h. */
int
rs_tokenizer_encode(const struct rs_tokenizer *t, const char *text, size_t len, int add_bos,
                    int32_t **ids, size_t *n_ids, char **cause)
{
	struct encstate es;
	size_t i, start, tl = 0;
	int rc = 0, prefix = 1;
	int32_t id;

	*ids = NULL;
	*n_ids = 0;
	memset(&es, 0, sizeof(es));
	if (text == NULL && len > 0)
		return rs_fail(cause, RS_EINVAL, "tokenize: no text");
	if (add_bos && t->bos >= 0 && (rc = out_push(&es.w, t->bos)) != 0)
		goto out;
	for (i = start = 0; t->n_user > 0 && i < len; i++) {
		if ((id = user_token_at(t, text, len, i, &tl)) < 0)
			continue;
		if (i > start && (rc = encode_fragment(t, &es, text + start, i - start, prefix,
		    cause)) != 0)
			goto out;
		if ((rc = out_push(&es.w, id)) != 0)
			goto out;
		prefix = 1;
		start = i + tl;
		i = start - 1;
	}
	if ((start < len || len == 0) &&
	    (rc = encode_fragment(t, &es, text + start, len - start, prefix, cause)) != 0)
		goto out;
out:
	if (es.md != NULL)
		pcre2_match_data_free(es.md);
	rs_free(es.norm.p);
	rs_free(es.a.v);
	rs_free(es.b.v);
	rs_free(es.w.syms);
	rs_free(es.w.heap);
	rs_free(es.w.word.p);
	if (rc != 0) {
		rs_free(es.w.ids);
		if (rc == RS_ENOMEM)
			rs_fail(cause, rc, "%s: out of memory while tokenizing", t->source);
		else if (rc == RS_EINVAL && cause != NULL && *cause == NULL)
			rs_fail(cause, rc, "%s: text too long to tokenize", t->source);
		return rc;
	}
	*ids = es.w.ids;
	*n_ids = es.w.n_ids;
	return 0;
}

/* ------------------------------------------------------------------ accessors */

/* The raw vocabulary text of id. */
const char *
rs_tokenizer_piece(const struct rs_tokenizer *t, int32_t id, size_t *len)
{
	if (id < 0 || (size_t)id >= t->n)
		return NULL;
	if (len != NULL)
		*len = t->off[id + 1] - t->off[id] - 1;
	return t->pool + t->off[id];
}

/* Value of hex digit c, -1 if it is not one. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Put byte c at position k of buf if it fits; returns k + 1. */
static size_t
put_byte(char *buf, size_t n, size_t k, char c)
{
	if (k < n)
		buf[k] = c;
	return k + 1;
}

/* The text token id stands for; see tokenizer.h. */
size_t
rs_tokenizer_decode(const struct rs_tokenizer *t, int32_t id, char *buf, size_t n)
{
	const char *s;
	size_t len, i, k = 0;

	if ((s = rs_tokenizer_piece(t, id, &len)) == NULL)
		return 0;
	if (len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && hexval(s[3]) >= 0 &&
	    hexval(s[4]) >= 0 && (t->type[id] == RS_TOKEN_BYTE || t->model == TOK_SPM))
		return put_byte(buf, n, 0, (char)(hexval(s[3]) * 16 + hexval(s[4])));
	if (t->type[id] == RS_TOKEN_CONTROL) {
		for (i = 0; i < len; i++)
			k = put_byte(buf, n, k, s[i]);
		return k;
	}
	for (i = 0; i < len; ) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t cl = utf8_valid(p, len - i);

		if (cl == 0) {
			k = put_byte(buf, n, k, s[i++]);
			continue;
		}
		if (t->model == TOK_BPE && t->byte_level) {
			uint32_t cp = p[0];
			int b;

			if (cl == 2)
				cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
			for (b = 0; b < 256 && (cl > 2 || t->bcp[b] != cp); b++)
				;
			if (b < 256) {
				k = put_byte(buf, n, k, (char)b);
				i += cl;
				continue;
			}
		} else if (cl == 3 && memcmp(p, SPACE_SYM, 3) == 0) {
			k = put_byte(buf, n, k, ' ');
			i += cl;
			continue;
		}
		while (cl-- > 0)
			k = put_byte(buf, n, k, s[i++]);
	}
	return k;
}

size_t
rs_tokenizer_n_vocab(const struct rs_tokenizer *t)
{
	return t->n;
}

int32_t
rs_tokenizer_bos(const struct rs_tokenizer *t)
{
	return t->bos;
}

int32_t
rs_tokenizer_eos(const struct rs_tokenizer *t)
{
	return t->eos;
}

int32_t
rs_tokenizer_unk(const struct rs_tokenizer *t)
{
	return t->unk;
}

enum rs_token_type
rs_tokenizer_type(const struct rs_tokenizer *t, int32_t id)
{
	if (id < 0 || (size_t)id >= t->n)
		return RS_TOKEN_UNDEFINED;
	return (enum rs_token_type)t->type[id];
}

float
rs_tokenizer_score(const struct rs_tokenizer *t, int32_t id)
{
	if (id < 0 || (size_t)id >= t->n)
		return 0;
	return t->score[id];
}

int
rs_tokenizer_add_bos(const struct rs_tokenizer *t)
{
	return t->add_bos;
}

size_t
rs_tokenizer_n_merges(const struct rs_tokenizer *t)
{
	return t->by_rank && t->mtab != NULL ? t->n_merges : 0;
}

/* Order merge slots by rank. */
static int
merge_rank_cmp(const void *a, const void *b)
{
	const struct tok_merge *x = *(const struct tok_merge *const *)a;
	const struct tok_merge *y = *(const struct tok_merge *const *)b;

	return (x->rank > y->rank) - (x->rank < y->rank);
}

int
rs_tokenizer_merges(const struct rs_tokenizer *t, int32_t *left, int32_t *right)
{
	const struct tok_merge **by_rank;
	size_t i, n = 0, want = rs_tokenizer_n_merges(t);

	if (want == 0)
		return 0;
	if ((by_rank = rs_mallocarray(want, sizeof *by_rank)) == NULL)
		return RS_ENOMEM;
	for (i = 0; i <= t->mmask && n < want; i++)
		if (t->mtab[i].key != UINT64_MAX)
			by_rank[n++] = &t->mtab[i];
	qsort(by_rank, n, sizeof *by_rank, merge_rank_cmp);
	for (i = 0; i < n; i++) {
		left[i] = (int32_t)(by_rank[i]->key >> 32);
		right[i] = (int32_t)(uint32_t)by_rank[i]->key;
	}
	rs_free(by_rank);
	return 0;
}

const char *
rs_tokenizer_kind(const struct rs_tokenizer *t)
{
	return t->model == TOK_SPM ? "spm" : "bpe";
}

const char *
rs_tokenizer_pre(const struct rs_tokenizer *t)
{
	return t->pre != NULL ? t->pre : "default";
}

const char *
rs_tokenizer_source(const struct rs_tokenizer *t)
{
	return t->source;
}

/* ------------------------------------------------------------------ opening */

/* True if path names a regular file. */
static int
is_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Whether name ends with suffix. */
static int
ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n >= k && strcmp(name + n - k, suffix) == 0;
}

/* The file's first bytes (up to n), 0 if unreadable. */
static size_t
peek(const char *path, unsigned char *buf, size_t n)
{
	FILE *f;
	size_t k;

	if ((f = fopen(path, "rb")) == NULL)
		return 0;
	k = fread(buf, 1, n, f);
	fclose(f);
	return k;
}

/* Open a GGUF file and build its tokenizer. */
static struct rs_tokenizer *
open_gguf(const char *path, char **cause)
{
	struct rs_gguf *g;
	struct rs_tokenizer *t;

	if ((g = rs_gguf_open(path, cause)) == NULL)
		return NULL;
	t = rs_tokenizer_from_gguf(g, cause);
	rs_gguf_close(g);
	return t;
}

/* A llama2.c model .bin: its tokenizer is tokenizer.bin beside it, else the single tok*.bin. */
static struct rs_tokenizer *
open_beside(const char *path, long vocab, char **cause)
{
	const char *slash = strrchr(path, '/');
	char *dir, *cand = NULL, *found = NULL;
	DIR *d;
	struct dirent *de;
	int n_found = 0;
	struct rs_tokenizer *t;

	dir = slash != NULL ? rs_strndup(path, (size_t)(slash - path)) : rs_strdup(".");
	if (dir == NULL || (cand = rs_strdupf("%s/tokenizer.bin", dir)) == NULL) {
		rs_free(dir);
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if (is_file(cand)) {
		rs_free(dir);
		t = tok_load_llama2c(cand, vocab, cause);
		rs_free(cand);
		return t;
	}
	rs_free(cand);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "tok", 3) != 0 || !ends_with(de->d_name, ".bin"))
				continue;
			n_found++;
			rs_free(found);
			found = rs_strdupf("%s/%s", dir, de->d_name);
		}
		closedir(d);
	}
	rs_free(dir);
	if (n_found != 1 || found == NULL) {
		rs_fail(cause, n_found > 1 ? RS_EINVAL : RS_EIO,
		    n_found > 1 ? "%s: several tok*.bin beside it: name the tokenizer" :
		    "%s: no tokenizer.bin or tok*.bin beside it", path);
		rs_free(found);
		return NULL;
	}
	t = tok_load_llama2c(found, vocab, cause);
	rs_free(found);
	return t;
}

/* Open a tokenizer from a folder or file; see tokenizer.h. */
struct rs_tokenizer *
rs_tokenizer_open(const char *path, char **cause)
{
	struct stat sb;
	unsigned char head[32];
	size_t nh;
	const char *base;

	if (path == NULL || stat(path, &sb) != 0) {
		rs_fail(cause, RS_EIO, "%s: %s", path != NULL ? path : "(null)",
		    path != NULL ? strerror(errno) : "no path");
		return NULL;
	}
	if (S_ISDIR(sb.st_mode)) {
		char *p = rs_strdupf("%s/tokenizer.json", path);
		struct rs_tokenizer *t = NULL;

		if (p != NULL && !is_file(p)) {
			rs_free(p);
			p = rs_strdupf("%s/tokenizer.model", path);
			if (p != NULL && !is_file(p)) {
				rs_fail(cause, RS_EIO, "%s: no tokenizer.json or tokenizer.model",
				    path);
				rs_free(p);
				return NULL;
			}
			if (p != NULL)
				t = tok_load_spmodel(p, cause);
		} else if (p != NULL)
			t = tok_load_json(p, cause);
		if (p == NULL)
			rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		rs_free(p);
		return t;
	}
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	nh = peek(path, head, sizeof(head));
	if (nh >= 4 && memcmp(head, "GGUF", 4) == 0)
		return open_gguf(path, cause);
	if (ends_with(base, ".json") || (nh > 0 && head[0] == '{'))
		return tok_load_json(path, cause);
	if (ends_with(base, ".model"))
		return tok_load_spmodel(path, cause);
	if (ends_with(base, ".bin")) {
		int32_t hdr[7];
		long vocab;

		/* a tokenizer .bin: tok*.bin / tokenizer.bin, or anything that is not a
		 * llama2.c checkpoint header (7 positive int32, a modest dim) */
		if (strncmp(base, "tok", 3) == 0 || nh < sizeof(hdr))
			return tok_load_llama2c(path, -1, cause);
		memcpy(hdr, head, sizeof(hdr));
		vocab = hdr[5] < 0 ? -(long)hdr[5] : hdr[5];
		if (hdr[0] <= 0 || hdr[0] > 65536 || hdr[1] <= 0 || hdr[2] <= 0 ||
		    hdr[2] > 4096 || hdr[3] <= 0 || hdr[4] <= 0 || vocab <= 0 || hdr[6] <= 0)
			return tok_load_llama2c(path, -1, cause);
		return open_beside(path, vocab, cause);
	}
	if (nh > 0 && head[0] == 0x0a)	/* protobuf field 1, length-delimited */
		return tok_load_spmodel(path, cause);
	rs_fail(cause, RS_EUNSUPPORTED, "%s: not a tokenizer (.gguf, tokenizer.json, "
	    "tokenizer.model or llama2.c .bin)", path);
	return NULL;
}
