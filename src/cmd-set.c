/* cmd-set.c: session settings, as a table (name, range, help), like tmux's options table. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "compress.h"
#include "plan.h"
#include "session.h"

/* A setting: its value shown as text and parsed from text, so whole numbers, reals and names
 * share one table. */
struct setting {
	const char *name;
	const char *range;      /* what VALUE may be, for messages and the listing */
	const char *help;
	void (*show)(const struct rs_session *s, char *buf, size_t n);
	/* Parse and store; 0, or RS_EINVAL (the caller names the setting and the range). */
	int (*put)(struct rs_session *s, const char *w);
};

/* Parse a whole number in [min, max]. */
static int
set_long(const char *w, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(w, &end, 10);
	return errno != 0 || end == w || *end != '\0' || *v < min || *v > max ? RS_EINVAL : 0;
}

static void
set_show_align(const struct rs_session *s, char *buf, size_t n)
{
	snprintf(buf, n, "%d", s->plan != NULL ? rs_plan_align(s->plan) :
	         s->rank_align > 0 ? s->rank_align : 8);
}

static int
set_put_align(struct rs_session *s, const char *w)
{
	long v;

	if (set_long(w, 1, 4096, &v) != 0)
		return RS_EINVAL;
	if (s->plan != NULL)
		rs_plan_set_align(s->plan, (int)v);
	s->rank_align = (int)v;         /* and every plan of a model loaded later */
	return 0;
}

/* Parse on/off (also yes/no, 1/0). */
static int
set_onoff(const char *w, int *v)
{
	if (strcmp(w, "on") == 0 || strcmp(w, "yes") == 0 || strcmp(w, "1") == 0)
		*v = 1;
	else if (strcmp(w, "off") == 0 || strcmp(w, "no") == 0 || strcmp(w, "0") == 0)
		*v = 0;
	else
		return RS_EINVAL;
	return 0;
}

static void
set_show_mouse(const struct rs_session *s, char *buf, size_t n)
{
	snprintf(buf, n, "%s", s->mouse ? "on" : "off");
}

static int
set_put_mouse(struct rs_session *s, const char *w)
{
	return set_onoff(w, &s->mouse);
}

static void
set_show_colours(const struct rs_session *s, char *buf, size_t n)
{
	snprintf(buf, n, "%s", s->colours ? "on" : "off");
}

static int
set_put_colours(struct rs_session *s, const char *w)
{
	return set_onoff(w, &s->colours);
}

static void
set_show_validation(const struct rs_session *s, char *buf, size_t n)
{
	snprintf(buf, n, "%s", s->validation != NULL ? s->validation : "-");
}

static int
set_put_validation(struct rs_session *s, const char *w)
{
	char *v = NULL;

	if (w[0] == '\0')
		return RS_EINVAL;
	if (strcmp(w, "-") != 0 && (v = rs_strdup(w)) == NULL)
		return RS_ENOMEM;
	rs_free(s->validation);
	s->validation = v;
	return 0;
}

static void
set_show_threads(const struct rs_session *s, char *buf, size_t n)
{
	snprintf(buf, n, "%d", s->threads);
}

static int
set_put_threads(struct rs_session *s, const char *w)
{
	long v;

	if (set_long(w, 1, 1024, &v) != 0)
		return RS_EINVAL;
	s->threads = (int)v;
	return 0;
}

static void
set_show_method(const struct rs_session *s, char *buf, size_t n)
{
	snprintf(buf, n, "%s", rs_method_name((enum rs_method)s->method));
}

static int
set_put_method(struct rs_session *s, const char *w)
{
	int m = rs_method_parse(w);

	if (m < 0)
		return RS_EINVAL;
	s->method = m;
	return 0;
}

static void
set_show_alpha(const struct rs_session *s, char *buf, size_t n)
{
	snprintf(buf, n, "%g", s->asvd_alpha);
}

static int
set_put_alpha(struct rs_session *s, const char *w)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(w, &end);
	if (errno != 0 || end == w || *end != '\0' || !(v >= 0 && v <= 4))
		return RS_EINVAL;
	s->asvd_alpha = v;
	return 0;
}

static const struct setting settings[] = {
	{ "asvd-alpha", "a number in [0, 4]", "exponent of the activation scaling of method asvd "
	  "(default 0.5; 0 is plain SVD)", set_show_alpha, set_put_alpha },
	{ "method", "svd, feature, whiten or asvd", "how factored matrices are decomposed "
	  "(default svd)", set_show_method, set_put_method },
	{ "rank-align", "a whole number in [1, 4096]", "ranks are rounded to a multiple of this "
	  "(1: no rounding)", set_show_align, set_put_align },
	{ "threads", "a whole number in [1, 1024]", "threads for matrix products and worker pools",
	  set_show_threads, set_put_threads },
	{ "validation", "a file name, or - for none", "held-out text of alloc sensitivity and bo "
	  "when --validation is not given", set_show_validation, set_put_validation },
	{ "mouse", "on or off", "the workbench takes clicks and the wheel (default on)",
	  set_show_mouse, set_put_mouse },
	{ "colours", "on or off", "the workbench draws in colour (default on; NO_COLOR wins)",
	  set_show_colours, set_put_colours },
	{ NULL, NULL, NULL, NULL, NULL }
};

static int
cmd_set_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const struct setting *st;
	char val[64];

	if (args->argc == 0) {
		for (st = settings; st->name != NULL; st++) {
			st->show(ctx->session, val, sizeof val);
			rs_out_printf(ctx->out, "%-12s %-8s %s\n", st->name, val, st->help);
		}
		return 0;
	}
	for (st = settings; st->name != NULL; st++)
		if (strcmp(st->name, args->argv[0]) == 0)
			break;
	if (st->name == NULL)
		return rs_fail(&ctx->cause, RS_EUSAGE, "set: unknown setting '%s' (try 'set')",
		               args->argv[0]);
	if (args->argc == 2 && st->put(ctx->session, args->argv[1]) != 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "set %s: expected %s, got '%s'", st->name,
		               st->range, args->argv[1]);
	st->show(ctx->session, val, sizeof val);
	rs_out_printf(ctx->out, "%s %s\n", st->name, val);
	if (args->argc == 2 && strcmp(st->name, "method") == 0)
		rs_out_printf(ctx->out, "method %s: %s\n", val,
		              rs_method_describe((enum rs_method)ctx->session->method));
	return 0;
}

static const char *const cmd_set_words[] = { "asvd-alpha", "method", "rank-align", "threads",
	"validation", "mouse", "colours", NULL };

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_set_forms[] = {
	{ "asvd-alpha", "A" },
	{ "method", "svd|feature|whiten|asvd" },
	{ "rank-align", "N" },
	{ "threads", "N" },
	{ "validation", "FILE" },
	{ "mouse", "on|off" },
	{ "colours", "on|off" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_set_entry = {
	.name = "set",
	.usage = "[NAME [VALUE]]",
	.summary = "show or change settings (method, asvd-alpha, rank-align, threads, validation, "
	           "mouse, colours)",
	.help = "Without arguments lists every setting with its value. 'set NAME' shows one, "
	        "'set NAME VALUE' changes it. method: svd (plain SVD of W), feature (feature PCA "
	        "with a mean-compensation bias, pooled centred covariance), whiten (SVD-LLM, "
	        "Cholesky of the uncentred Gram) or asvd (diagonal activation scaling by the input "
	        "RMS to the power asvd-alpha); all but svd need 'calibrate'. asvd-alpha: default "
	        "0.5. rank-align: ranks are rounded to a multiple of it (default 8). threads: "
	        "threads for matrix products (default: the cores). validation: the held-out text "
	        "'alloc sensitivity' and 'alloc bo' evaluate on when --validation is not given (- "
	        "for none). mouse: on or off, whether the workbench takes clicks and the wheel. "
	        "colours: on or off, whether it draws in colour. The config file sets any of them "
	        "at start (see FILES in the man page).",
	.min_args = 0,
	.max_args = 2,
	.exec = cmd_set_exec,
	.words = cmd_set_words,
	.forms = cmd_set_forms,
};
