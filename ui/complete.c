/* complete.c: completion from the commands' declared grammar; match lists in columns. */
#include "config.h"

#include "complete.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

#define COMPLETE_TOKEN_MAX 128  /* longest metavariable or literal word */
#define COMPLETE_GAP 2          /* spaces between columns */

/* Whether a word of a grammar is a literal (lower case: "export", "dense", "f16") rather than
 * a metavariable (upper case: "FILE", "RANK", "+N"). */
static int
complete_literal(const char *w, size_t len)
{
	size_t i;
	int lower = 0;

	for (i = 0; i < len; i++) {
		if (isupper((unsigned char)w[i]))
			return 0;
		if (islower((unsigned char)w[i]))
			lower = 1;
	}
	return lower;
}

/* What a metavariable asks for ("FILE", "FILE.csv", "PATTERN", "NAME", "CMD", "DIR"). */
static unsigned
complete_meta_kind(const char *w, size_t len)
{
	static const struct { const char *prefix; unsigned kind; } kinds[] = {
		{ "FILE", UI_CAND_FILES }, { "PATH", UI_CAND_FILES }, { "DIR", UI_CAND_FILES },
		{ "SCRIPT", UI_CAND_FILES }, { "PATTERN", UI_CAND_PATTERNS },
		{ "NAME", UI_CAND_NAMES }, { "CMD", UI_CAND_COMMANDS },
	};
	size_t k;

	for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		size_t pl = strlen(kinds[k].prefix);
		if (len >= pl && strncmp(w, kinds[k].prefix, pl) == 0 &&
		    (len == pl || !isalpha((unsigned char)w[pl])))
			return kinds[k].kind;
	}
	return 0;
}

/* Complete from one grammar token ("f32|f16|bf16", "FILE", "RANK|dense"): its literal
 * alternatives go to add; returns the kinds its metavariables ask for. */
static unsigned
complete_token(const char *tok, size_t len, const char *text,
               void (*add)(void *ud, const char *word), void *ud)
{
	size_t tl = strlen(text), at = 0;
	unsigned kinds = 0;

	while (at < len) {
		size_t end = at;
		while (end < len && tok[end] != '|')
			end++;
		if (complete_literal(tok + at, end - at)) {
			char word[COMPLETE_TOKEN_MAX];
			if (end - at < sizeof word && tl <= end - at &&
			    strncmp(tok + at, text, tl) == 0) {
				memcpy(word, tok + at, end - at);
				word[end - at] = '\0';
				add(ud, word);
			}
		} else {
			kinds |= complete_meta_kind(tok + at, end - at);
		}
		at = end + 1;
	}
	return kinds;
}

/* The i-th space-separated token of a form's arguments; 0 if there is none. */
static int
complete_nth(const char *args, int i, const char **tok, size_t *len)
{
	const char *p = args;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		*tok = p;
		while (*p != '\0' && *p != ' ')
			p++;
		*len = (size_t)(p - *tok);
		if (i-- == 0)
			return 1;
	}
}

/* The option a word names ("--kind" or "--kind=x"), or NULL. */
static const struct rs_opt *
complete_opt(const struct rs_cmd_entry *e, const char *w)
{
	const struct rs_opt *o;
	const char *eq;
	size_t len;

	if (w[0] != '-' || w[1] != '-' || e->opts == NULL)
		return NULL;
	eq = strchr(w + 2, '=');
	len = eq != NULL ? (size_t)(eq - (w + 2)) : strlen(w + 2);
	for (o = e->opts; o->name != NULL; o++)
		if (strlen(o->name) == len && strncmp(o->name, w + 2, len) == 0)
			return o;
	return NULL;
}

unsigned
ui_complete_words(const struct rs_cmd_entry *e, char *const *prev, int n, const char *text,
                  void (*add)(void *ud, const char *word), void *ud)
{
	const struct rs_cmd_form *f, *sub = NULL, *bare = NULL;
	const char *pos0 = NULL, *tok;
	size_t tl = strlen(text), len;
	int i, npos = 0, only_pos = 0;

	if (e == NULL)
		return UI_CAND_FILES;
	/* Walk the words before: positionals, and whether the last one wants a value. */
	for (i = 0; i < n; i++) {
		const struct rs_opt *o;
		if (!only_pos && strcmp(prev[i], "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && (o = complete_opt(e, prev[i])) != NULL) {
			if (o->arg != NULL && strchr(prev[i], '=') == NULL) {
				if (i == n - 1)         /* the word is this option's value */
					return complete_token(o->arg, strlen(o->arg), text, add, ud);
				i++;
			}
			continue;
		}
		if (npos++ == 0)
			pos0 = prev[i];
	}
	if (!only_pos && text[0] == '-') {
		const struct rs_opt *o;
		char buf[64];
		for (o = e->opts; o != NULL && o->name != NULL; o++) {
			snprintf(buf, sizeof buf, "--%s", o->name);
			if (strncmp(buf, text, tl) == 0)
				add(ud, buf);
		}
		return 0;
	}
	if (e->forms == NULL) {
		/* no declared grammar (a plugin's command): its words first, then anything */
		if (npos == 0 && e->words != NULL) {
			const char *const *w;
			for (w = e->words; *w != NULL; w++)
				if (strncmp(*w, text, tl) == 0)
					add(ud, *w);
		}
		return UI_CAND_FILES | ((e->flags & RS_CMD_NEEDS_MODEL) ? UI_CAND_PATTERNS : 0);
	}
	for (f = e->forms; f->args != NULL; f++) {
		if (f->word == NULL)
			bare = f;
		else if (pos0 != NULL && strcmp(f->word, pos0) == 0)
			sub = f;
	}
	if (npos == 0) {
		unsigned kinds = 0;
		for (f = e->forms; f->args != NULL; f++)
			if (f->word != NULL && strncmp(f->word, text, tl) == 0)
				add(ud, f->word);
		if (bare != NULL && complete_nth(bare->args, 0, &tok, &len))
			kinds = complete_token(tok, len, text, add, ud);
		return kinds;
	}
	if (sub != NULL)
		return complete_nth(sub->args, npos - 1, &tok, &len) ?
		    complete_token(tok, len, text, add, ud) : 0;
	if (bare != NULL)
		return complete_nth(bare->args, npos, &tok, &len) ?
		    complete_token(tok, len, text, add, ud) : 0;
	return 0;
}

/* Display columns of a UTF-8 string (one per character). */
static int
complete_cols(const char *s)
{
	int c = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			c++;
	return c;
}

int
ui_complete_columns(const char *const *items, int n, int width,
                    void (*line)(void *ud, const char *text), void *ud)
{
	int i, r, c, widest = 1, ncols, nrows;
	char *buf;
	size_t cap;

	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if (complete_cols(items[i]) > widest)
			widest = complete_cols(items[i]);
	ncols = (width + COMPLETE_GAP) / (widest + COMPLETE_GAP);
	if (ncols < 1)
		ncols = 1;
	nrows = (n + ncols - 1) / ncols;
	ncols = (n + nrows - 1) / nrows;        /* no empty column at the right */
	cap = (size_t)ncols * ((size_t)widest * 4 + COMPLETE_GAP) + 1;
	if ((buf = rs_malloc(cap)) == NULL)
		return 0;
	for (r = 0; r < nrows; r++) {
		size_t at = 0;
		for (c = 0; c < ncols; c++) {
			int k = c * nrows + r, pad;
			if (k >= n)
				break;
			if (c > 0) {
				pad = widest + COMPLETE_GAP - complete_cols(items[k - nrows]);
				while (pad-- > 0 && at + 1 < cap)
					buf[at++] = ' ';
			}
			at += (size_t)snprintf(buf + at, cap - at, "%s", items[k]);
			if (at >= cap)
				at = cap - 1;
		}
		buf[at] = '\0';
		line(ud, buf);
	}
	rs_free(buf);
	return nrows;
}
