/* test-hostile.c: the hostile files of tests/hostile/ (MANIFEST and FOUND), loaded in-process
 * through rs_cmd_run_line: each `load` must fail with exactly one error line that names the file
 * and matches the expected problem.  tests/cli-hostile.sh checks the same through the program
 * (exit status, time, address-space limit); this one runs in the sanitizer build, so every
 * hostile file also passes under ASan, UBSan and LeakSanitizer. */
#include "config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "session.h"
#include "tap.h"

/* Error text of one command. */
struct hostile_out {
	char err[2048];
	size_t n;
};

/* Sink: collect the error text; drop the rest. */
static void
hostile_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	struct hostile_out *o = ud;

	if (kind != RS_OUT_ERROR)
		return;
	if (len > sizeof o->err - 1 - o->n)
		len = sizeof o->err - 1 - o->n;
	memcpy(o->err + o->n, text, len);
	o->n += len;
	o->err[o->n] = '\0';
}

/* Count the lines of s (a last line without '\n' counts). */
static int
hostile_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n' || s[1] == '\0')
			n++;
	return n;
}

/* Run the cases of one list file; returns how many it had. */
static int
hostile_list(const char *dir, const char *list)
{
	char path[1024], line[2048], cmd[6000], target[3200];
	struct hostile_out out;
	const struct rs_out sink = { hostile_write, &out };
	struct rs_cmd_ctx ctx;
	FILE *f;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", dir, list);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		char *name, *args, *re, *at;
		regex_t rx;
		int rc, ok, lines;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		name = line;
		if ((args = strchr(name, '\t')) == NULL || (re = strchr(args + 1, '\t')) == NULL) {
			tap_ok(0, "%s: malformed line '%s'", list, line);
			continue;
		}
		*args++ = '\0';
		*re++ = '\0';
		snprintf(target, sizeof target, "'%s/%s'", dir, name);
		if ((at = strchr(args, '@')) != NULL)
			snprintf(cmd, sizeof cmd, "load %.*s%s%s", (int)(at - args), args, target, at + 1);
		else
			snprintf(cmd, sizeof cmd, "load %s", args);

		memset(&out, 0, sizeof out);
		memset(&ctx, 0, sizeof ctx);
		if ((ctx.session = rs_session_new()) == NULL) {
			tap_ok(0, "%s: out of memory", name);
			continue;
		}
		ctx.out = &sink;
		rc = rs_cmd_run_line(&ctx, cmd);
		rs_free(ctx.cause);
		rs_session_free(ctx.session);

		ok = regcomp(&rx, re, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0;
		if (ok) {
			ok = regexec(&rx, out.err, 0, NULL, 0) == 0;
			regfree(&rx);
		}
		lines = hostile_lines(out.err);
		out.err[strcspn(out.err, "\n")] = '\0';	/* the first line, for the report */
		tap_ok(rc != 0 && lines == 1 && strstr(out.err, name) != NULL && ok,
		    "load %s is refused (status %d): %s", name, rc,
		    strstr(out.err, dir) != NULL ? strstr(out.err, dir) + strlen(dir) + 1 : out.err);
		n++;
	}
	fclose(f);
	return n;
}

int
main(void)
{
	const char *src = getenv("RS_SRCDIR");
	char dir[1024];
	int n;

	snprintf(dir, sizeof dir, "%s/tests/hostile", src != NULL ? src : ".");
	n = hostile_list(dir, "MANIFEST");
	if (n == 0)
		tap_skip_all("tests/hostile/MANIFEST missing");
	n += hostile_list(dir, "FOUND");
	tap_ok(n >= 40, "%d hostile files", n);
	return tap_done();
}
