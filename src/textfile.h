/* textfile.h: whole text files (evaluation and calibration texts) and model paths. */
#ifndef RS_TEXTFILE_H
#define RS_TEXTFILE_H

#include <stddef.h>
#include <stdint.h>

struct rs_tokenizer;

/* The folder a model path lives in: the path itself for a folder (HF), else the folder holding
 * the file (GGUF, llama2.c); allocated, NULL when out of memory. */
char *rs_path_model_dir(const char *path);

/* Read `path` into an allocated NUL-terminated buffer (len excludes the NUL).  Refuses files
 * over 1 GiB and files holding NUL bytes (not text).  0 or RS_E* with a cause naming the file. */
int rs_textfile_read(const char *path, char **text, size_t *len, char **cause);

/* Read `path` and tokenize it once with a BOS at the start (the protocol of ppl, calibrate and
 * the allocators' validation texts).  *ids is allocated; *text_hash (if not NULL) receives the
 * XXH3 of the file's bytes, the text's identity in cache keys.  0 or RS_E* with a cause. */
int rs_textfile_tokens(const struct rs_tokenizer *t, const char *path, int32_t **ids, size_t *n,
                       uint64_t *text_hash, char **cause);

#endif
