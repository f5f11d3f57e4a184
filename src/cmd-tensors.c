/* cmd-tensors.c: list the model's tensors under their canonical and file names. */
#include "config.h"

#include <fnmatch.h>
#include <stdio.h>

#include "cmd.h"
#include "dtype.h"
#include "model.h"
#include "session.h"

static int
cmd_tensors_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const struct rs_model *m = ctx->session->model;
	const char *pattern = args->argc > 0 ? args->argv[0] : NULL;
	int i, n = rs_model_n_tensors(m), shown = 0;

	rs_out_printf(ctx->out, "%-12s %-6s %14s  %s\n", "name", "dtype", "shape", "file name");
	for (i = 0; i < n; i++) {
		const struct rs_tensor *t = rs_model_tensor_at(m, i);
		char shape[48];
		if (!t->present)
			continue;
		if (pattern != NULL && fnmatch(pattern, t->name, 0) != 0)
			continue;
		if (t->rows == 1)
			snprintf(shape, sizeof shape, "%lld", (long long)t->cols);
		else
			snprintf(shape, sizeof shape, "%lldx%lld", (long long)t->rows,
			         (long long)t->cols);
		rs_out_printf(ctx->out, "%-12s %-6s %14s  %s\n", t->name, rs_dtype_name(t->dtype),
		              shape, t->file_name);
		shown++;
	}
	if (pattern != NULL && shown == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "tensors: nothing matches '%s'", pattern);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_tensors_forms[] = {
	{ NULL, "PATTERN" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_tensors_entry = {
	.name = "tensors",
	.alias = NULL,
	.usage = "[PATTERN]",
	.summary = "list tensors: canonical name, dtype, shape (rows x cols), name in the file",
	.help = "Lists the loaded model's tensors under canonical names independent of the file "
	        "format (L<n>.q k v o gate up down, L<n>.attn_norm, L<n>.mlp_norm, embed, norm, "
	        "head) with the file's own name beside each. Shapes are outputs x inputs. "
	        "PATTERN is a shell glob over the canonical names (e.g. 'L0.*', '*.down').",
	.min_args = 0,
	.max_args = 1,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_tensors_exec,
	.forms = cmd_tensors_forms,
};
