/* replace.h: dense float32 replacements of decoder linears that plugins install (lrq's
 * dequantized matrices, transact's pruned ones), one per (layer, matrix) with the name of the
 * plugin that owns it.  The plugin registry holds one store per session; the engine installs
 * it into every forward pass after the plan's factors, so a replacement wins. */
#ifndef RS_REPLACE_H
#define RS_REPLACE_H

#include <stdint.h>

#include "model.h"
#include "status.h"

struct rs_forward;
struct rs_replace;

struct rs_replace *rs_replace_new(void);
void rs_replace_free(struct rs_replace *r);
/* Drop the replacements of one owner (NULL: all). */
void rs_replace_clear(struct rs_replace *r, const char *owner);
/* Take w (rows×cols of the model's matrix (layer, t), float32) as its replacement by owner;
 * w is freed on failure too.  RS_EINVAL when the matrix does not exist. */
int rs_replace_put(struct rs_replace *r, const struct rs_model *m, int layer, enum rs_tkind t,
    float *w, const char *owner, char **cause);
/* The replacement of (layer, t) and its shape, or NULL. */
const float *rs_replace_get(const struct rs_replace *r, int layer, enum rs_tkind t,
    int64_t *rows, int64_t *cols);
/* Replaced matrices, and the owner of the first (may be NULL). */
int rs_replace_count(const struct rs_replace *r, const char **owner);
/* Install every replacement into f as a dense product (r may be NULL: nothing). */
int rs_replace_install(const struct rs_replace *r, struct rs_forward *f, char **cause);

#endif
