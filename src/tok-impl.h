/* tok-impl.h: the tokenizer's insides, shared by tokenizer.c (building, encoding), tok-load.c
 * (llama2.c .bin, SentencePiece .model, GGUF) and tok-json.c (tokenizer.json).  Not public. */
#ifndef RS_TOK_IMPL_H
#define RS_TOK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* Caps on what any source may declare (checked before allocating). */
#define TOK_MAX_VOCAB   (1u << 22)        /* 4M tokens */
#define TOK_MAX_PIECE   (1u << 16)        /* bytes per piece */
#define TOK_MAX_MERGES  (1u << 23)
#define TOK_MAX_STEPS   16                /* normalizer / pre-tokenizer steps */

enum tok_model { TOK_SPM, TOK_BPE };

/* How the raw text becomes the string the merges run on (SPM side). */
enum tok_norm {
	TOK_NORM_NONE,     /* as is (byte-level BPE) */
	TOK_NORM_LLAMA,    /* llama.cpp: optional " " prefix, then ' ' -> U+2581 */
	TOK_NORM_SP,       /* SentencePiece normalizer_spec (identity rules) */
	TOK_NORM_HF        /* tokenizer.json normalizer steps */
};

enum tok_step_kind {
	TOK_NS_PREPEND, TOK_NS_REPLACE,           /* normalizer steps */
	TOK_PS_SPLIT, TOK_PS_METASPACE            /* pre-tokenizer steps */
};

struct tok_step {
	enum tok_step_kind kind;
	char *a, *b;              /* prepend text / replace from, to / metaspace replacement */
	size_t alen, blen;
	int prepend;              /* metaspace: 0 never, 1 always, 2 first */
	int split;                /* metaspace: split into words */
	void *re;                 /* split: pcre2_code_8 * */
};

struct tok_merge {            /* one slot of the merge table */
	uint64_t key;             /* (left id << 32) | right id; UINT64_MAX when empty */
	uint32_t rank;
	int32_t result;
};

struct rs_tokenizer {
	enum tok_model model;
	char *source;             /* file it came from */
	char *pre;                /* pre-tokenizer name */

	size_t n;                 /* vocabulary size */
	size_t cap_n;             /* room in off/score/type */
	char *pool;               /* all pieces, each NUL-terminated */
	size_t pool_len, pool_cap;
	size_t *off;              /* (n + 1) offsets into pool */
	float *score;             /* (n) */
	uint8_t *type;            /* (n) enum rs_token_type */
	int32_t *hash;            /* (hmask + 1) open-addressed ids, -1 empty */
	size_t hmask;

	struct tok_merge *mtab;   /* (mmask + 1) slots, rank mode only */
	size_t mmask, n_merges;
	int by_rank;              /* merge priority: 1 rank in merges list, 0 score */
	unsigned mergeable;       /* score mode: bit (1 << type) set if merges may form it */

	int32_t bos, eos, unk;
	int add_bos;
	int32_t byte_tok[256];    /* <0xNN> (spm) or mapped-byte token (bpe); -1 none */
	int byte_fallback;        /* unknown pieces become byte tokens */
	int fuse_unk;
	int ignore_merges;        /* bpe: a word that is a token is taken whole */

	/* user-defined tokens: cut out of the raw text before anything else (llama.cpp's
	 * tokenizer_st_partition without parse_special) */
	size_t n_user;
	size_t user_maxlen;
	uint8_t user_first[32];   /* bitmap of their first bytes */

	enum tok_norm norm;
	int add_space_prefix;     /* llama / SentencePiece add_dummy_prefix */
	int remove_extra_ws;      /* SentencePiece */
	struct tok_step nsteps[TOK_MAX_STEPS];  /* tokenizer.json normalizer */
	int n_nsteps;
	struct tok_step psteps[TOK_MAX_STEPS];  /* pre-tokenizer */
	int n_psteps;
	int byte_level;           /* bpe: bytes mapped to printable code points */
	uint16_t bcp[256];        /* byte -> code point of the byte-level mapping */
	int prefix_space;         /* ByteLevel add_prefix_space */
};

/* tokenizer.c */
struct rs_tokenizer *tok_new(const char *source, enum tok_model model);
int tok_add_piece(struct rs_tokenizer *t, const char *s, size_t len, float score, int type);
int tok_reserve(struct rs_tokenizer *t, size_t n_tokens, size_t n_bytes);
int32_t tok_find(const struct rs_tokenizer *t, const char *s, size_t len);
int tok_finish(struct rs_tokenizer *t, char **cause);
int tok_add_merge(struct rs_tokenizer *t, const char *s, size_t len, uint32_t rank);
int tok_merges_init(struct rs_tokenizer *t, size_t n_merges);
int tok_set_pre(struct rs_tokenizer *t, const char *name, char **cause);
int tok_add_split(struct rs_tokenizer *t, const char *pattern, size_t len, int literal,
                  char **cause);
size_t tok_utf8_len(unsigned char c);

/* tok-load.c */
struct rs_tokenizer *tok_load_llama2c(const char *path, long vocab_size, char **cause);
struct rs_tokenizer *tok_load_spmodel(const char *path, char **cause);
/* tok-json.c */
struct rs_tokenizer *tok_load_json(const char *path, char **cause);

#endif
