/* cmd-set.c: session settings, as a table (name, range, help), like tmux's options table. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "plan.h"
#include "session.h"

struct setting {
	const char *name;
	long min, max;
	const char *help;
	long (*get)(const struct rs_session *s);
	void (*put)(struct rs_session *s, long v);
};

static long
set_get_align(const struct rs_session *s)
{
	return s->plan != NULL ? rs_plan_align(s->plan) : 8;
}

static void
set_put_align(struct rs_session *s, long v)
{
	if (s->plan != NULL)
		rs_plan_set_align(s->plan, (int)v);
}

static long
set_get_threads(const struct rs_session *s)
{
	return s->threads;
}

static void
set_put_threads(struct rs_session *s, long v)
{
	s->threads = (int)v;
}

static const struct setting settings[] = {
	{ "rank-align", 1, 4096, "ranks are rounded to a multiple of this (1: no rounding)",
	  set_get_align, set_put_align },
	{ "threads", 1, 1024, "threads for matrix products and worker pools", set_get_threads,
	  set_put_threads },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

static int
cmd_set_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const struct setting *st;
	char *end;
	long v;

	if (args->argc == 0) {
		for (st = settings; st->name != NULL; st++)
			rs_out_printf(ctx->out, "%-12s %-6ld %s\n", st->name, st->get(ctx->session),
			              st->help);
		return 0;
	}
	for (st = settings; st->name != NULL; st++)
		if (strcmp(st->name, args->argv[0]) == 0)
			break;
	if (st->name == NULL)
		return rs_fail(&ctx->cause, RS_EINVAL, "set: unknown setting '%s' (try 'set')",
		               args->argv[0]);
	if (args->argc == 1) {
		rs_out_printf(ctx->out, "%s %ld\n", st->name, st->get(ctx->session));
		return 0;
	}
	errno = 0;
	v = strtol(args->argv[1], &end, 10);
	if (errno != 0 || end == args->argv[1] || *end != '\0' || v < st->min || v > st->max)
		return rs_fail(&ctx->cause, RS_EINVAL, "set %s: expected a whole number in [%ld, %ld], "
		               "got '%s'", st->name, st->min, st->max, args->argv[1]);
	st->put(ctx->session, v);
	rs_out_printf(ctx->out, "%s %ld\n", st->name, st->get(ctx->session));
	return 0;
}

const struct rs_cmd_entry rs_cmd_set_entry = {
	.name = "set",
	.usage = "[NAME [VALUE]]",
	.summary = "show or change settings (rank-align, threads)",
	.help = "Without arguments lists every setting with its value. 'set NAME' shows one, "
	        "'set NAME VALUE' changes it. rank-align: ranks are rounded to a multiple of it "
	        "(default 8). threads: threads for matrix products (default: the cores).",
	.min_args = 0,
	.max_args = 2,
	.exec = cmd_set_exec,
};
