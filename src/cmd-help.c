/* cmd-help.c: list the commands, or show one command's usage, options and description. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "plugin.h"

/* Print the full help of one entry. */
static void
help_entry(struct rs_cmd_ctx *ctx, const struct rs_cmd_entry *e)
{
	const struct rs_opt *o;

	rs_cmd_print_usage(ctx, e);
	if (e->alias != NULL)
		rs_out_printf(ctx->out, "alias: %s\n", e->alias);
	rs_out_printf(ctx->out, "%s\n", e->help != NULL ? e->help : e->summary);
	for (o = e->opts; o != NULL && o->name != NULL; o++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "",
		         o->arg ? o->arg : "");
		rs_out_printf(ctx->out, "  %-22s %s\n", left, o->help);
	}
}

static int
cmd_help_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const struct rs_cmd_entry *const *e;
	const struct rs_plugins *pl;
	int i, n;

	if (args->argc == 1) {
		const struct rs_cmd_entry *one = rs_cmd_find_session(ctx->session, args->argv[0],
		                                                     &ctx->cause);
		if (one == NULL)
			return RS_EINVAL;
		help_entry(ctx, one);
		return 0;
	}
	for (e = rs_cmd_table; *e != NULL; e++)
		rs_out_printf(ctx->out, "  %-10s %s\n", (*e)->name, (*e)->summary);
	/* commands the loaded plugins add (lrq, transact, ...) */
	pl = ctx->session != NULL ? rs_plugins_session(ctx->session) : NULL;
	n = pl != NULL ? rs_plugins_n_cmds(pl) : 0;
	for (i = 0; i < n; i++) {
		const struct rs_cmd_entry *pe = rs_plugins_cmd_at(pl, i);
		rs_out_printf(ctx->out, "  %-10s %s (plugin)\n", pe->name, pe->summary);
	}
	rs_out_printf(ctx->out, "'help CMD' shows a command's options.\n");
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_help_forms[] = {
	{ NULL, "CMD" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_help_entry = {
	.name = "help",
	.alias = "?",
	.usage = "[CMD]",
	.summary = "list commands, or describe one",
	.help = "Without an argument, lists every command with a one-line summary, then the "
	        "commands the loaded plugins add. With a command name, shows its usage, options "
	        "and description.",
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_help_exec,
	.forms = cmd_help_forms,
};
