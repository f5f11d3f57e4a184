/* cmd.c: the command table, lookup, argument parsing and the line dispatcher. */
#include "config.h"

#include "cmd.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "plugin.h"
#include "session.h"

extern const struct rs_cmd_entry rs_cmd_alloc_entry;
extern const struct rs_cmd_entry rs_cmd_budget_entry;
extern const struct rs_cmd_entry rs_cmd_calibrate_entry;
extern const struct rs_cmd_entry rs_cmd_compare_entry;
extern const struct rs_cmd_entry rs_cmd_error_entry;
extern const struct rs_cmd_entry rs_cmd_export_entry;
extern const struct rs_cmd_entry rs_cmd_help_entry;
extern const struct rs_cmd_entry rs_cmd_info_entry;
extern const struct rs_cmd_entry rs_cmd_load_entry;
extern const struct rs_cmd_entry rs_cmd_metrics_entry;
extern const struct rs_cmd_entry rs_cmd_plan_entry;
extern const struct rs_cmd_entry rs_cmd_plot_entry;
extern const struct rs_cmd_entry rs_cmd_plugins_entry;
extern const struct rs_cmd_entry rs_cmd_ppl_entry;
extern const struct rs_cmd_entry rs_cmd_quit_entry;
extern const struct rs_cmd_entry rs_cmd_rank_entry;
extern const struct rs_cmd_entry rs_cmd_redo_entry;
extern const struct rs_cmd_entry rs_cmd_set_entry;
extern const struct rs_cmd_entry rs_cmd_spectra_entry;
extern const struct rs_cmd_entry rs_cmd_tensors_entry;
extern const struct rs_cmd_entry rs_cmd_tokenize_entry;
extern const struct rs_cmd_entry rs_cmd_undo_entry;

/* Sorted by name: `help` lists them in this order. */
const struct rs_cmd_entry *const rs_cmd_table[] = {
	&rs_cmd_alloc_entry,
	&rs_cmd_budget_entry,
	&rs_cmd_calibrate_entry,
	&rs_cmd_compare_entry,
	&rs_cmd_error_entry,
	&rs_cmd_export_entry,
	&rs_cmd_help_entry,
	&rs_cmd_info_entry,
	&rs_cmd_load_entry,
	&rs_cmd_metrics_entry,
	&rs_cmd_plan_entry,
	&rs_cmd_plot_entry,
	&rs_cmd_plugins_entry,
	&rs_cmd_ppl_entry,
	&rs_cmd_quit_entry,
	&rs_cmd_rank_entry,
	&rs_cmd_redo_entry,
	&rs_cmd_set_entry,
	&rs_cmd_spectra_entry,
	&rs_cmd_tensors_entry,
	&rs_cmd_tokenize_entry,
	&rs_cmd_undo_entry,
	NULL
};

const struct rs_cmd_entry *
rs_cmd_find(const char *name, char **cause)
{
	const struct rs_cmd_entry *const *e, *found = NULL;
	size_t len = strlen(name);
	int matches = 0;

	for (e = rs_cmd_table; *e != NULL; e++) {
		if (strcmp((*e)->name, name) == 0 ||
		    ((*e)->alias != NULL && strcmp((*e)->alias, name) == 0))
			return *e;
		if (len > 0 && strncmp((*e)->name, name, len) == 0) {
			found = *e;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	if (matches == 0) {
		rs_fail(cause, RS_EUSAGE, "unknown command: %s (try 'help')", name);
		return NULL;
	}
	{
		char list[512] = "";
		for (e = rs_cmd_table; *e != NULL; e++) {
			if (strncmp((*e)->name, name, len) != 0)
				continue;
			if (list[0] != '\0')
				strncat(list, ", ", sizeof list - strlen(list) - 1);
			strncat(list, (*e)->name, sizeof list - strlen(list) - 1);
		}
		rs_fail(cause, RS_EUSAGE, "ambiguous command: %s, could be: %s", name, list);
	}
	return NULL;
}

const struct rs_cmd_entry *
rs_cmd_find_session(struct rs_session *s, const char *name, char **cause)
{
	const struct rs_cmd_entry *e;
	char *why = NULL;

	if ((e = rs_cmd_find(name, &why)) == NULL && s != NULL &&
	    (e = rs_plugins_session_cmd(s, name)) != NULL) {
		rs_free(why);
		return e;
	}
	if (e == NULL) {
		if (cause != NULL) {
			rs_free(*cause);
			*cause = why;
		} else {
			rs_free(why);
		}
	}
	return e;
}

int
rs_cmd_split(const char *line, char **words, int max_words, char **storage, char **cause)
{
	const char *p = line;
	char *buf, *w;
	int n = 0;

	*storage = NULL;
	if ((buf = rs_malloc(strlen(line) + 1)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "out of memory"), -1;
	w = buf;
	for (;;) {
		char quote = 0;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (n == max_words) {
			rs_free(buf);
			rs_fail(cause, RS_EUSAGE, "too many words (at most %d)", max_words);
			return -1;
		}
		words[n++] = w;
		for (; *p != '\0'; p++) {
			if (quote != 0) {
				if (*p == quote)
					quote = 0;
				else if (*p == '\\' && quote == '"' && p[1] != '\0')
					*w++ = *++p;
				else
					*w++ = *p;
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '\\' && p[1] != '\0') {
				*w++ = *++p;
			} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
				break;
			} else {
				*w++ = *p;
			}
		}
		if (quote != 0) {
			rs_free(buf);
			rs_fail(cause, RS_EUSAGE, "unterminated %c quote", quote);
			return -1;
		}
		*w++ = '\0';
	}
	*storage = buf;
	return n;
}

/* Index of option `name` in the entry's table, or -1. */
static int
args_index(const struct rs_opt *opts, const char *name, size_t len)
{
	int i;

	for (i = 0; opts != NULL && opts[i].name != NULL; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return i;
	return -1;
}

/* Parse words (after the command name) against the entry's option table. */
static int
args_parse(const struct rs_cmd_entry *e, int argc, char **argv, struct rs_args *a, char **cause)
{
	int i, only_pos = 0;

	memset(a, 0, sizeof *a);
	a->opts = e->opts;
	a->argv = argv;
	for (i = 0; i < argc; i++) {
		const char *w = argv[i];
		if (!only_pos && strcmp(w, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && w[0] == '-' && w[1] == '-' && w[2] != '\0') {
			const char *name = w + 2, *eq = strchr(name, '=');
			size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
			int k = args_index(e->opts, name, len);
			if (k < 0 || k >= RS_ARGS_MAX_OPTS)
				return rs_fail(cause, RS_EUSAGE, "%s: unknown option --%.*s", e->name,
				               (int)len, name);
			if (e->opts[k].arg == NULL) {
				if (eq != NULL)
					return rs_fail(cause, RS_EUSAGE, "%s: --%s takes no value",
					               e->name, e->opts[k].name);
				a->vals[k] = "";
			} else if (eq != NULL) {
				a->vals[k] = eq + 1;
			} else if (i + 1 < argc) {
				a->vals[k] = argv[++i];
			} else {
				return rs_fail(cause, RS_EUSAGE, "%s: --%s needs a value (%s)", e->name,
				               e->opts[k].name, e->opts[k].arg);
			}
			continue;
		}
		a->argv[a->argc++] = argv[i];	/* compacted in place: argc <= i */
	}
	if (a->argc < e->min_args || (e->max_args >= 0 && a->argc > e->max_args))
		return rs_fail(cause, RS_EUSAGE, "usage: %s %s", e->name, e->usage);
	return 0;
}

const char *
rs_args_get(const struct rs_args *a, const char *name)
{
	int k = args_index(a->opts, name, strlen(name));

	return k < 0 ? NULL : a->vals[k];
}

int
rs_args_has(const struct rs_args *a, const char *name)
{
	return rs_args_get(a, name) != NULL;
}

int
rs_args_int(const struct rs_args *a, const char *name, long def, long min, long max, long *out,
            char **cause)
{
	const char *v = rs_args_get(a, name);
	char *end;
	long x;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return rs_fail(cause, RS_EUSAGE, "--%s: not a whole number: '%s'", name, v);
	if (x < min || x > max)
		return rs_fail(cause, RS_EUSAGE, "--%s: %ld is out of range [%ld, %ld]", name, x,
		               min, max);
	*out = x;
	return 0;
}

int
rs_args_double(const struct rs_args *a, const char *name, double def, double min, double max,
               double *out, char **cause)
{
	const char *v = rs_args_get(a, name);
	char *end;
	double x;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	x = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(x))
		return rs_fail(cause, RS_EUSAGE, "--%s: not a number: '%s'", name, v);
	if (x < min || x > max)
		return rs_fail(cause, RS_EUSAGE, "--%s: %g is out of range [%g, %g]", name, x, min,
		               max);
	*out = x;
	return 0;
}

int
rs_args_size(const struct rs_args *a, const char *name, enum rs_size_unit unit, uint64_t def,
             uint64_t min, uint64_t max, uint64_t *out, char **cause)
{
	const char *v = rs_args_get(a, name);
	uint64_t x;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (rs_parse_size(v, unit, &x) != 0)
		return rs_fail(cause, RS_EUSAGE, "--%s: not a %s: '%s' (a number with an optional "
		               "suffix k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of "
		               "1024)%s)", name, unit == RS_SIZE_BYTES ? "byte count" : "count", v,
		               unit == RS_SIZE_BYTES ? ", then B if you like" : "");
	if (x < min || x > max)
		return rs_fail(cause, RS_EUSAGE, "--%s: %s is out of range [%llu, %llu]", name, v,
		               (unsigned long long)min, (unsigned long long)max);
	*out = x;
	return 0;
}

void
rs_cmd_print_usage(const struct rs_cmd_ctx *ctx, const struct rs_cmd_entry *e)
{
	rs_out_printf(ctx->out, "usage: %s%s%s\n", e->name, e->usage[0] ? " " : "", e->usage);
}

/* Run one command given as words (in this process alone). */
static int
cmd_run_words_here(struct rs_cmd_ctx *ctx, int argc, char **argv)
{
	const struct rs_cmd_entry *e;
	struct rs_args args;
	char *cause = NULL;
	int rc;

	if ((e = rs_cmd_find_session(ctx->session, argv[0], &cause)) == NULL) {
		rs_out_errorf(ctx->out, "%s\n", cause != NULL ? cause : "unknown command");
		rs_free(cause);
		return RS_EUSAGE;
	}
	if (args_parse(e, argc - 1, argv + 1, &args, &cause) != 0) {
		rs_out_errorf(ctx->out, "%s\n", cause != NULL ? cause : "usage error");
		rs_free(cause);
		return RS_EUSAGE;
	}
	if ((e->flags & RS_CMD_NEEDS_MODEL) && ctx->session->model == NULL) {
		rs_out_errorf(ctx->out, "%s: no model loaded (use 'load PATH')\n", e->name);
		return RS_EINVAL;
	}
	if ((e->flags & RS_CMD_NEEDS_TOKENIZER) && ctx->session->tok == NULL) {
		rs_out_errorf(ctx->out, "%s: no tokenizer loaded (use 'load PATH')\n", e->name);
		return RS_EINVAL;
	}
	if (ctx->job != NULL)
		ctx->job->cancel = 0;
	rs_free(ctx->cause);
	ctx->cause = NULL;
	ctx->entry = e;
	rc = e->exec(ctx, &args);
	ctx->entry = NULL;
	if (rc != 0) {
		if (ctx->cause != NULL)
			rs_out_errorf(ctx->out, "%s\n", ctx->cause);
		else
			rs_out_errorf(ctx->out, "%s: %s\n", e->name, rs_status_str(rc));
	}
	rs_free(ctx->cause);
	ctx->cause = NULL;
	return rc;
}

/* Run one command given as words; the ranks of a job agree on its status (ctx->agree). */
static int
cmd_run_words(struct rs_cmd_ctx *ctx, int argc, char **argv)
{
	int rc = cmd_run_words_here(ctx, argc, argv);

	return ctx->agree != NULL ? ctx->agree(ctx, rc) : rc;
}

int
rs_cmd_run_line(struct rs_cmd_ctx *ctx, const char *line)
{
	char **words, *storage = NULL, *cause = NULL, *copy, *cmd, *p;
	/* a word takes a character and a separator: no line has more words than this */
	int rc = 0, max_words = (int)(strlen(line) / 2 + 1);

	/* Split on ';' outside quotes first, then each command into words. */
	if (strlen(line) > INT_MAX / 2 || (copy = rs_strdup(line)) == NULL) {
		rs_out_errorf(ctx->out, "out of memory\n");
		return RS_ENOMEM;
	}
	if ((words = rs_mallocarray((size_t)max_words, sizeof *words)) == NULL) {
		rs_free(copy);
		rs_out_errorf(ctx->out, "out of memory\n");
		return RS_ENOMEM;
	}
	for (cmd = p = copy; rc == 0; p++) {
		char quote = 0;
		int n;

		for (; *p != '\0'; p++) {
			if (quote != 0) {
				if (*p == quote)
					quote = 0;
				else if (*p == '\\' && p[1] != '\0')
					p++;
			} else if (*p == '\'' || *p == '"') {
				quote = *p;
			} else if (*p == '\\' && p[1] != '\0') {
				p++;
			} else if (*p == ';' || (*p == '#' && (p == copy || p[-1] == ' ' ||
			           p[-1] == '\t'))) {
				break;	/* '#' starts a comment only at the start of a word */
			}
		}
		{
			char end = *p;
			*p = '\0';
			n = rs_cmd_split(cmd, words, max_words, &storage, &cause);
			if (n < 0) {
				rs_out_errorf(ctx->out, "%s\n", cause != NULL ? cause : "parse error");
				rs_free(cause);
				rc = RS_EUSAGE;
				break;
			}
			if (n > 0)
				rc = cmd_run_words(ctx, n, words);
			rs_free(storage);
			storage = NULL;
			if (end != ';' || (ctx->reactions & RS_REACT_QUIT))
				break;
			cmd = p + 1;
		}
	}
	rs_free(copy);
	rs_free(words);
	return rc;
}

int
rs_cmd_run_stream(struct rs_cmd_ctx *ctx, FILE *in, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int rc = 0;

	while ((len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		if (memchr(line, '\0', (size_t)len) != NULL) {
			rs_out_errorf(ctx->out, "%s:%ld: a NUL byte in the line\n", name, lineno);
			rc = RS_EUSAGE;
			break;
		}
		rc = rs_cmd_run_line(ctx, line);
		if (rc != 0 || (ctx->reactions & RS_REACT_QUIT))
			break;
	}
	free(line);
	return rc;
}

char *
rs_cmd_load_line(const char *path)
{
	size_t n = strlen(path), i;
	char *line = rs_malloc(5 + 2 * n + 1), *w;

	if (line == NULL)
		return NULL;
	memcpy(line, "load ", 5);
	for (w = line + 5, i = 0; i < n; i++) {
		*w++ = '\\';
		*w++ = path[i];
	}
	*w = '\0';
	return line;
}
