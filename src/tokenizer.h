/* tokenizer.h: the tokenizers of LLaMA-family models, exact to llama.cpp's ids.
 *
 * Two algorithms:
 *   "spm"  SentencePiece-style BPE with byte fallback (llama.cpp's llm_tokenizer_spm): the text
 *          gets a leading space, spaces become U+2581, adjacent symbols are merged best score
 *          first (leftmost on ties), pieces left unknown become <0xNN> byte tokens.  From a
 *          tokenizer.json "BPE" model the merge priority is the rank in its merges list.
 *   "bpe"  byte-level BPE (GPT-2, Llama 3, Qwen2, DeepSeek): a pre-tokenizer regex cuts the text
 *          into words, bytes are mapped to printable code points, merges by rank.
 *
 * Sources: a GGUF file (tokenizer.ggml.*), a Hugging Face tokenizer.json, a SentencePiece
 * tokenizer.model (its normalizer_spec honoured), or a llama2.c tokenizer.bin (whose spaces are
 * stored as U+2581 here, as llama.cpp's converter does).  Text is plain text: control-token
 * text such as "<s>" is not parsed out of it.
 *
 * A tokenizer is immutable once built; encode may run from several threads at once. */
#ifndef RS_TOKENIZER_H
#define RS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

struct rs_gguf;
struct rs_tokenizer;	/* opaque */

/* Token types (llama.cpp's / SentencePiece's numbering). */
enum rs_token_type {
	RS_TOKEN_UNDEFINED = 0, RS_TOKEN_NORMAL = 1, RS_TOKEN_UNKNOWN = 2, RS_TOKEN_CONTROL = 3,
	RS_TOKEN_USER_DEFINED = 4, RS_TOKEN_UNUSED = 5, RS_TOKEN_BYTE = 6
};

/* Open a tokenizer.  path: a Hugging Face folder (tokenizer.json preferred, else
 * tokenizer.model), a .gguf file, a llama2.c model .bin (the tokenizer is then `tokenizer.bin`
 * beside it, else the single `tok*.bin` beside it), or a tokenizer file itself (tokenizer.json,
 * tokenizer.model, a llama2.c tokenizer .bin).  NULL + *cause (one line naming the file and the
 * problem) on failure.  Free with rs_tokenizer_free. */
struct rs_tokenizer *rs_tokenizer_open(const char *path, char **cause);

/* Build from an open GGUF's tokenizer.ggml.* keys ("llama" = spm, "gpt2" = bpe); nothing of g
 * is kept, so g may be closed afterwards. */
struct rs_tokenizer *rs_tokenizer_from_gguf(const struct rs_gguf *g, char **cause);

void rs_tokenizer_free(struct rs_tokenizer *t);

/* Tokenize len bytes of text (need not be NUL-terminated), with the BOS id first when add_bos
 * and the vocabulary has one.  *ids (allocated with rs_malloc, caller frees with rs_free;
 * may be NULL when *n_ids is 0) and *n_ids on success; 0 or a negative RS_E* with *cause. */
int rs_tokenizer_encode(const struct rs_tokenizer *t, const char *text, size_t len, int add_bos,
                        int32_t **ids, size_t *n_ids, char **cause);

/* The raw vocabulary text of id (NUL-terminated, *len bytes when len is not NULL); NULL when id
 * is out of range. */
const char *rs_tokenizer_piece(const struct rs_tokenizer *t, int32_t id, size_t *len);

/* The bytes token id stands for as text: <0xNN> byte tokens give the byte, U+2581 gives a
 * space, the byte-level mapping (Ġ ...) is undone; control tokens give their text.  Writes at
 * most n bytes to buf (no NUL) and returns the full length (like snprintf, so a return > n
 * means buf was too small); 0 for an out-of-range id. */
size_t rs_tokenizer_decode(const struct rs_tokenizer *t, int32_t id, char *buf, size_t n);

size_t rs_tokenizer_n_vocab(const struct rs_tokenizer *t);
int32_t rs_tokenizer_bos(const struct rs_tokenizer *t);	/* -1 if none */
int32_t rs_tokenizer_eos(const struct rs_tokenizer *t);	/* -1 if none */
int32_t rs_tokenizer_unk(const struct rs_tokenizer *t);	/* -1 if none */
enum rs_token_type rs_tokenizer_type(const struct rs_tokenizer *t, int32_t id);
float rs_tokenizer_score(const struct rs_tokenizer *t, int32_t id);	/* 0 if none */
/* Whether the source asks for a BOS at the start of a sequence (GGUF add_bos_token,
 * tokenizer_config.json is not read: SentencePiece/llama2.c sources say yes). */
int rs_tokenizer_add_bos(const struct rs_tokenizer *t);
const char *rs_tokenizer_kind(const struct rs_tokenizer *t);	/* "spm" or "bpe" */
/* Merges of a vocabulary whose merges go by rank (byte-level BPE, tokenizer.json BPE): their
 * number (0 when merges go by score), and the merges in rank order as left and right ids
 * (arrays of rs_tokenizer_n_merges entries; merges naming unknown tokens were never kept). */
size_t rs_tokenizer_n_merges(const struct rs_tokenizer *t);
int rs_tokenizer_merges(const struct rs_tokenizer *t, int32_t *left, int32_t *right); /* 0, RS_ENOMEM */
const char *rs_tokenizer_pre(const struct rs_tokenizer *t);	/* pre-tokenizer name or "default" */
const char *rs_tokenizer_source(const struct rs_tokenizer *t);	/* file it came from */

#endif
