/* cmd-tokenize.c: print the token ids of a text or a file. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "session.h"
#include "textfile.h"
#include "tokenizer.h"

static const struct rs_opt cmd_tokenize_opts[] = {
	{ "no-bos", NULL, "do not add the beginning-of-sequence token" },
	{ "file", "FILE", "tokenize the contents of FILE" },
	{ NULL, NULL, NULL }
};

static int
cmd_tokenize_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const char *file = rs_args_get(args, "file");
	char *text = NULL, *line = NULL;
	size_t len = 0, n = 0, i, cap, at;
	int32_t *ids = NULL;
	int rc, a;

	if ((file == NULL) == (args->argc == 0))
		return rs_fail(&ctx->cause, RS_EUSAGE, "usage: tokenize [--no-bos] (TEXT | --file F)");
	if (file != NULL) {
		if ((rc = rs_textfile_read(file, &text, &len, &ctx->cause)) != 0)
			return rc;
	} else {
		/* Words of the command line joined by single spaces (quote to keep others). */
		for (a = 0; a < args->argc; a++)
			len += strlen(args->argv[a]) + 1;
		if ((text = rs_malloc(len)) == NULL)
			return rs_fail(&ctx->cause, RS_ENOMEM, "tokenize: out of memory");
		text[0] = '\0';
		for (a = 0; a < args->argc; a++) {
			if (a > 0)
				strcat(text, " ");
			strcat(text, args->argv[a]);
		}
		len = strlen(text);
	}
	rc = rs_tokenizer_encode(ctx->session->tok, text, len, !rs_args_has(args, "no-bos"), &ids,
	                         &n, &ctx->cause);
	rs_free(text);
	if (rc != 0)
		return rc;
	cap = n * 12 + 2;
	if ((line = rs_malloc(cap)) == NULL) {
		rs_free(ids);
		return rs_fail(&ctx->cause, RS_ENOMEM, "tokenize: out of memory");
	}
	for (i = 0, at = 0; i < n; i++)
		at += (size_t)snprintf(line + at, cap - at, i ? " %d" : "%d", (int)ids[i]);
	line[at++] = '\n';
	line[at] = '\0';
	ctx->out->write(ctx->out->ud, RS_OUT_TEXT, line, at);
	rs_free(line);
	rs_free(ids);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_tokenize_forms[] = {
	{ NULL, "TEXT" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_tokenize_entry = {
	.name = "tokenize",
	.alias = NULL,
	.usage = "[--no-bos] (TEXT | --file FILE)",
	.summary = "print the token ids of a text, space-separated on one line",
	.help = "Tokenizes TEXT (the words of the command joined by single spaces; quote to keep "
	        "other spacing) or the contents of FILE with the loaded tokenizer, adding the "
	        "beginning-of-sequence token unless --no-bos.",
	.opts = cmd_tokenize_opts,
	.min_args = 0,
	.max_args = -1,
	.flags = RS_CMD_NEEDS_TOKENIZER,
	.exec = cmd_tokenize_exec,
	.forms = cmd_tokenize_forms,
};
