/* cmd-undo.c: undo the last plan edit (one command is one step). */
#include "config.h"

#include "cmd.h"
#include "plan.h"
#include "session.h"

static int
cmd_undo_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_plan *p = ctx->session->plan;

	if (p == NULL)
		return rs_fail(&ctx->cause, RS_EINVAL, "undo: no plan");
	switch (rs_plan_undo(p)) {
	case 0:
		rs_out_printf(ctx->out, "undone: %d matrices factored now\n", rs_plan_n_compressed(p));
		return 0;
	case 1:
		rs_out_printf(ctx->out, "nothing to undo\n");
		return 0;
	}
	return rs_fail(&ctx->cause, RS_ENOMEM, "undo: out of memory");
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_undo_forms[] = {
	{ NULL, "" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_undo_entry = {
	.name = "undo",
	.usage = "",
	.summary = "undo the last plan edit",
	.help = "Undoes the last command that changed the plan (rank, plan reset, allocators).",
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_undo_exec,
	.forms = cmd_undo_forms,
};
