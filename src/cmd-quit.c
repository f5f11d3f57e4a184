/* cmd-quit.c: end the session. */
#include "config.h"

#include "cmd.h"

static int
cmd_quit_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	ctx->reactions |= RS_REACT_QUIT;
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_quit_forms[] = {
	{ NULL, "" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_quit_entry = {
	.name = "quit",
	.alias = "exit",
	.usage = "",
	.summary = "leave rankscope",
	.help = "Ends the session (the workbench restores the terminal first). Ctrl-C never "
	        "quits: it cancels the running command.",
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_quit_exec,
	.forms = cmd_quit_forms,
};
