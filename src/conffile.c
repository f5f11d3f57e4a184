/* conffile.c: the user's config file, applied through the `set` command. */
#include "config.h"

#include "conffile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "session.h"
#include "status.h"
#include "xdg.h"

#define CONF_LINE_MAX 4096

/* Config keys and the `set` setting each one is. */
static const struct { const char *key, *setting; } conf_keys[] = {
	{ "method", "method" }, { "asvd-alpha", "asvd-alpha" }, { "rank-align", "rank-align" },
	{ "alignment", "rank-align" }, { "threads", "threads" }, { "validation", "validation" },
	{ "mouse", "mouse" }, { "colours", "colours" }, { "colors", "colours" },
};

char *
rs_conffile_path(char **cause)
{
	return rs_xdg_path(RS_XDG_CONFIG, "config", cause);
}

/* A report of problems: lines appended to an allocated string. */
struct conf_report {
	char *text;
	size_t len;
	int n;
};

/* Append "PREFIX: what" (what without its final newline) as a line of the report. */
static void
conf_problem(struct conf_report *r, const char *prefix, const char *what, size_t wlen)
{
	size_t add;
	char *nt;

	while (wlen > 0 && (what[wlen - 1] == '\n' || what[wlen - 1] == '\r'))
		wlen--;
	add = strlen(prefix) + 2 + wlen + 1;
	r->n++;
	if ((nt = rs_realloc(r->text, r->len + add + 1)) == NULL)
		return;
	r->text = nt;
	r->len += (size_t)snprintf(r->text + r->len, add + 1, "%s: %.*s\n", prefix, (int)wlen,
	                           what);
}

/* The sink of the `set` commands the file runs: errors kept, the rest dropped. */
struct conf_sink {
	char err[512];
	size_t len;
};

static void
conf_sink_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	struct conf_sink *k = ud;

	if (kind != RS_OUT_ERROR)
		return;
	if (len > sizeof k->err - 1 - k->len)
		len = sizeof k->err - 1 - k->len;
	memcpy(k->err + k->len, text, len);
	k->len += len;
	k->err[k->len] = '\0';
}

/* Text without the blanks around it: [*b, *e). */
static void
conf_trim(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\n' ||
	       (*e)[-1] == '\r'))
		(*e)--;
}

/* Run `set SETTING VALUE` with every character of the value escaped (a path with spaces or
 * quotes stays one word); the error it reports, if any, into k. */
static int
conf_set(struct rs_session *s, const char *setting, const char *v, size_t vlen,
         struct conf_sink *k)
{
	struct rs_out out = { conf_sink_write, k };
	struct rs_cmd_ctx ctx;
	char *line, *w;
	size_t i;
	int rc;

	if ((line = rs_malloc(strlen(setting) + 6 + 2 * vlen + 1)) == NULL)
		return RS_ENOMEM;
	w = line + sprintf(line, "set %s ", setting);
	for (i = 0; i < vlen; i++) {
		*w++ = '\\';
		*w++ = v[i];
	}
	*w = '\0';
	memset(&ctx, 0, sizeof ctx);
	ctx.session = s;
	ctx.out = &out;
	rc = rs_cmd_run_line(&ctx, line);
	rs_free(ctx.cause);
	rs_free(line);
	return rc;
}

int
rs_conffile_apply(struct rs_session *s, const char *path, char **report)
{
	struct conf_report r = { NULL, 0, 0 };
	char buf[CONF_LINE_MAX], where[64 + CONF_LINE_MAX / 4];
	long lineno = 0;
	FILE *f;

	*report = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno != ENOENT) {
			const char *why = strerror(errno);
			conf_problem(&r, path, why, strlen(why));
		}
		*report = r.text;
		return r.n;
	}
	while (fgets(buf, sizeof buf, f) != NULL) {
		const char *b = buf, *e = buf + strlen(buf), *eq, *kb, *ke, *vb, *ve;
		struct conf_sink k = { "", 0 };
		size_t i;
		int long_line = e > buf && e[-1] != '\n' && !feof(f);

		lineno++;
		snprintf(where, sizeof where, "%.*s:%ld", (int)(sizeof where - 24), path, lineno);
		if (long_line) {        /* skip the rest of it */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			conf_problem(&r, where, "line too long", 13);
			continue;
		}
		conf_trim(&b, &e);
		if (b == e || *b == '#')
			continue;
		if ((eq = memchr(b, '=', (size_t)(e - b))) == NULL) {
			static const char m[] = "expected 'key = value'";
			conf_problem(&r, where, m, sizeof m - 1);
			continue;
		}
		kb = b;
		ke = eq;
		vb = eq + 1;
		ve = e;
		conf_trim(&kb, &ke);
		conf_trim(&vb, &ve);
		for (i = 0; i < sizeof conf_keys / sizeof conf_keys[0]; i++)
			if (strlen(conf_keys[i].key) == (size_t)(ke - kb) &&
			    strncmp(conf_keys[i].key, kb, (size_t)(ke - kb)) == 0)
				break;
		if (i == sizeof conf_keys / sizeof conf_keys[0]) {
			char m[256];
			int n = snprintf(m, sizeof m, "unknown key '%.*s' (known: method, asvd-alpha, "
			    "alignment, threads, validation, mouse, colours)", (int)(ke - kb > 64 ? 64 :
			    ke - kb), kb);
			conf_problem(&r, where, m, (size_t)n < sizeof m ? (size_t)n : sizeof m - 1);
			continue;
		}
		if (vb == ve) {
			static const char m[] = "no value after '='";
			conf_problem(&r, where, m, sizeof m - 1);
			continue;
		}
		if (conf_set(s, conf_keys[i].setting, vb, (size_t)(ve - vb), &k) != 0)
			conf_problem(&r, where, k.len > 0 ? k.err : "refused", k.len > 0 ? k.len : 7);
	}
	if (ferror(f)) {
		const char *why = strerror(errno);
		conf_problem(&r, path, why, strlen(why));
	}
	fclose(f);
	*report = r.text;
	return r.n;
}
