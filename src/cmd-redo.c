/* cmd-redo.c: redo a plan edit that was undone. */
#include "config.h"

#include "cmd.h"
#include "plan.h"
#include "session.h"

static int
cmd_redo_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_plan *p = ctx->session->plan;

	if (p == NULL)
		return rs_fail(&ctx->cause, RS_EINVAL, "redo: no plan");
	switch (rs_plan_redo(p)) {
	case 0:
		rs_out_printf(ctx->out, "redone: %d matrices factored now\n", rs_plan_n_compressed(p));
		return 0;
	case 1:
		rs_out_printf(ctx->out, "nothing to redo\n");
		return 0;
	}
	return rs_fail(&ctx->cause, RS_ENOMEM, "redo: out of memory");
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_redo_forms[] = {
	{ NULL, "" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_redo_entry = {
	.name = "redo",
	.usage = "",
	.summary = "redo a plan edit that was undone",
	.help = "Redoes the last undone plan edit; a new edit forgets what was undone.",
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_redo_exec,
	.forms = cmd_redo_forms,
};
