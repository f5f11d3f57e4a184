/* test-manpage.c: man/rankscope.1 documents every command (with its alias and every option) of
 * rs_cmd_table, names as long exactly the commands flagged RS_CMD_JOB, every key of the
 * workbench's key table, and nothing that no longer exists. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "keys.h"
#include "tap.h"

/* The man page as plain text: font escapes dropped, \- as -, \e as \, \& dropped. */
static char *
load_man(const char *path)
{
	FILE *f = fopen(path, "r");
	char *raw, *out, *p, *q;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	raw = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (raw == NULL || out == NULL || fread(raw, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(raw);
		free(out);
		return NULL;
	}
	fclose(f);
	raw[n] = '\0';
	for (p = raw, q = out; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == 'f' && p[2] != '\0') {
			p += 2;
		} else if (p[0] == '\\' && p[1] == '-') {
			*q++ = '-';
			p++;
		} else if (p[0] == '\\' && p[1] == 'e') {
			*q++ = '\\';
			p++;
		} else if (p[0] == '\\' && p[1] == '&') {
			p++;
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	free(raw);
	return out;
}

/* The text from the line starting with `head` to the next line starting with `stop` (or the
 * end), as an allocated string; NULL if head is absent. */
static char *
section(const char *man, const char *head, const char *stop)
{
	const char *s = man, *e;
	size_t hl = strlen(head);

	for (;;) {
		if (strncmp(s, head, hl) == 0 && (s[hl] == '\n' || s[hl] == '\0'))
			break;
		if ((s = strchr(s, '\n')) == NULL)
			return NULL;
		s++;
	}
	e = strchr(s, '\n');
	while (e != NULL) {
		e++;
		if (strncmp(e, stop, strlen(stop)) == 0 || strncmp(e, ".SH", 3) == 0)
			break;
		e = strchr(e, '\n');
	}
	if (e == NULL)
		e = s + strlen(s);
	return strndup(s, (size_t)(e - s));
}

/* Whether `word` occurs in text as a whole token (neighbours not [A-Za-z0-9-]). */
static int
has_token(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p = text;

	while ((p = strstr(p, word)) != NULL) {
		int before = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '-');
		int after = !(isalnum((unsigned char)p[n]) || p[n] == '-');
		if (before && after)
			return 1;
		p++;
	}
	return 0;
}

/* Whether the KEYS section has a tagged paragraph (.TP then .B/.BR) for the label. */
static int
has_key(const char *keys, const char *label)
{
	const char *p = keys;

	while ((p = strstr(p, ".TP\n")) != NULL) {
		char tag[64];
		size_t k = 0;
		p += 4;
		if (strncmp(p, ".B ", 3) == 0)
			p += 3;
		else if (strncmp(p, ".BR ", 4) == 0)
			p += 4;
		else
			continue;
		while (p[k] != '\0' && p[k] != ' ' && p[k] != '\n' && k + 1 < sizeof tag) {
			tag[k] = p[k];
			k++;
		}
		tag[k] = '\0';
		if (k > 0 && tag[0] == '"' && tag[k - 1] == '"') {
			memmove(tag, tag + 1, k - 2);
			tag[k - 2] = '\0';
		}
		if (strcmp(tag, label) == 0)
			return 1;
	}
	return 0;
}

int
main(void)
{
	const char *srcdir = getenv("RS_SRCDIR");
	char path[4096], *man, *keys, *cmds, *opts;
	const struct rs_cmd_entry *const *e;
	const struct ui_key *k;
	const char *p;

	snprintf(path, sizeof path, "%s/man/rankscope.1", srcdir != NULL ? srcdir : ".");
	if ((man = load_man(path)) == NULL) {
		tap_ok(0, "%s can be read", path);
		return tap_done();
	}
	keys = section(man, ".SH KEYS", ".SH");
	cmds = section(man, ".SH COMMANDS", ".SH");
	opts = section(man, ".SH OPTIONS", ".SH");
	tap_ok(keys != NULL && cmds != NULL && opts != NULL,
	       "the man page has OPTIONS, KEYS and COMMANDS sections");
	if (keys == NULL || cmds == NULL || opts == NULL)
		return tap_done();

	for (e = rs_cmd_table; *e != NULL; e++) {
		char head[96], flag[80];
		char *sub;
		const struct rs_opt *o;
		int missing = 0;

		snprintf(head, sizeof head, ".SS %s", (*e)->name);
		sub = section(cmds, head, ".SS");
		if (!tap_ok(sub != NULL, "command '%s' has its own subsection", (*e)->name))
			continue;
		if ((*e)->alias != NULL)
			tap_ok(has_token(sub, (*e)->alias) || strstr(sub, (*e)->alias) != NULL,
			       "  its alias '%s' is mentioned", (*e)->alias);
		for (o = (*e)->opts; o != NULL && o->name != NULL; o++) {
			snprintf(flag, sizeof flag, "--%s", o->name);
			if (!has_token(sub, flag)) {
				tap_diag("%s: option %s is not documented", (*e)->name, flag);
				missing++;
			}
		}
		tap_ok(missing == 0, "  every option of '%s' is documented", (*e)->name);
		free(sub);
	}

	/* The reverse: no subsection for a command that does not exist. */
	for (p = cmds; (p = strstr(p, "\n.SS ")) != NULL;) {
		char name[64];
		size_t n = 0;
		char *cause = NULL;
		const struct rs_cmd_entry *found;

		p += 5;
		while (p[n] != '\0' && p[n] != '\n' && n + 1 < sizeof name) {
			name[n] = p[n];
			n++;
		}
		name[n] = '\0';
		found = rs_cmd_find(name, &cause);
		free(cause);
		tap_ok(found != NULL && strcmp(found->name, name) == 0,
		       "documented command '%s' exists", name);
	}

	/* The workbench's long commands: the list names exactly the RS_CMD_JOB entries. */
	{
		const char *from = strstr(man, "Long commands"), *to;
		char *list = NULL;

		if (from != NULL && (to = strstr(from, "plugin commands")) != NULL)
			list = strndup(from, (size_t)(to - from));
		if (tap_ok(list != NULL, "the man page lists the long commands")) {
			for (e = rs_cmd_table; *e != NULL; e++)
				tap_ok(has_token(list, (*e)->name) == !!((*e)->flags & RS_CMD_JOB),
				       "  '%s' is %slisted as long, as its RS_CMD_JOB flag says",
				       (*e)->name, has_token(list, (*e)->name) ? "" : "not ");
			free(list);
		}
	}

	for (k = ui_keys; k->label != NULL; k++)
		tap_ok(has_key(keys, k->label), "key '%s' is documented in KEYS", k->label);

	{
		static const char *const prog_opts[] = {
			"-c", "-f", "-b", "--batch", "-t", "-h", "--help", "-V", "--version", NULL
		};
		const char *const *po;
		for (po = prog_opts; *po != NULL; po++)
			tap_ok(has_token(opts, *po), "program option %s is documented", *po);
	}
	{
		static const char *const env[] = {
			"XDG_STATE_HOME", "NO_COLOR", "RS_GNUPLOT", "RS_DATADIR", NULL
		};
		const char *const *v;
		for (v = env; *v != NULL; v++)
			tap_ok(strstr(man, *v) != NULL, "environment variable %s is documented", *v);
	}
	free(keys);
	free(cmds);
	free(opts);
	free(man);
	return tap_done();
}
