/* evaltext.h: the evaluation text of ppl-like commands (ppl, compare): the protocol, window and
 * window count options, read and tokenized once, checked to hold at least one window. */
#ifndef RS_EVALTEXT_H
#define RS_EVALTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "ppl.h"

struct rs_cmd_ctx;
struct rs_args;

struct rs_evaltext {
	enum rs_ppl_protocol protocol;
	int ctx;                /* window length */
	int chunks;             /* --chunks (0: all) */
	int windows;            /* whole windows to evaluate (after --chunks) */
	int32_t *ids;           /* the text with one BOS at the start; rs_free() it */
	size_t n_ids;
};

/* The options every such command takes, for its options table. */
#define RS_EVALTEXT_OPTS \
	{ "protocol", "chunked|llama.cpp", "windows and scoring (default chunked)" }, \
	{ "ctx", "N", "window length in tokens (default: the model's context, at most 2048)" }, \
	{ "chunks", "N", "evaluate at most N windows" }

/* Parse --protocol/--ctx/--chunks of the command `name`, warn when the window is longer than
 * the model's context, and tokenize args->argv[0].  0, or RS_E* with ctx->cause set. */
int rs_evaltext_open(struct rs_cmd_ctx *ctx, const struct rs_args *args, const char *name,
                     struct rs_evaltext *ev);
/* Rows per forward call: whole windows, about `target` rows, at least one window. */
int rs_evaltext_rows(const struct rs_evaltext *ev, int target);

#endif
