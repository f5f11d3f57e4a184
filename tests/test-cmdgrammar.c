/* test-cmdgrammar.c: the grammar each command declares (struct rs_cmd_form, cmd.h) agrees with
 * what `help CMD` shows (every subcommand and literal word is in the usage or the paragraph, the
 * words list names the same subcommands), and completion (ui/complete.c) offers from it what the
 * usage lines say goes there. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "cmd.h"
#include "complete.h"
#include "tap.h"

/* Whether word occurs in text as a whole word (not inside a longer one). */
static int
has_word(const char *text, const char *word, size_t len)
{
	const char *p;

	for (p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
		int before = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '-');
		int after = !(isalnum((unsigned char)p[len]) || p[len] == '-');
		if (strncmp(p, word, len) == 0 && before && after)
			return 1;
	}
	return 0;
}

/* Whether the usage or the paragraph of e has word[0..len). */
static int
documented(const struct rs_cmd_entry *e, const char *word, size_t len)
{
	char w[128];

	if (len >= sizeof w)
		return 0;
	memcpy(w, word, len);
	w[len] = '\0';
	return has_word(e->usage, w, len) || has_word(e->help, w, len);
}

/* The words completion adds, space-joined. */
struct got {
	char text[512];
};

static void
got_add(void *ud, const char *word)
{
	struct got *g = ud;
	size_t n = strlen(g->text);

	snprintf(g->text + n, sizeof g->text - n, "%s%s", n > 0 ? " " : "", word);
}

/* A row of a column layout, '|'-joined. */
static void
row_add(void *ud, const char *text)
{
	struct got *g = ud;
	size_t n = strlen(g->text);

	snprintf(g->text + n, sizeof g->text - n, "%s%s", n > 0 ? "|" : "", text);
}

/* Complete text after the words of line (split on spaces) for the command named first. */
static unsigned
complete(const char *line, const char *text, struct got *g)
{
	char buf[256], *words[16], *p, *save = NULL;
	const struct rs_cmd_entry *e;
	int n = 0;

	snprintf(buf, sizeof buf, "%s", line);
	for (p = strtok_r(buf, " ", &save); p != NULL && n < 16; p = strtok_r(NULL, " ", &save))
		words[n++] = p;
	g->text[0] = '\0';
	e = rs_cmd_find(words[0], NULL);
	return ui_complete_words(e, words + 1, n - 1, text, got_add, g);
}

int
main(void)
{
	const struct rs_cmd_entry *const *e;
	struct got g;
	unsigned k;

	for (e = rs_cmd_table; *e != NULL; e++) {
		const struct rs_cmd_form *f;
		int bad = 0, nforms = 0, nwords = 0;

		if (!tap_ok((*e)->forms != NULL, "'%s' declares its grammar", (*e)->name))
			continue;
		for (f = (*e)->forms; f->args != NULL; f++) {
			const char *p = f->args;
			if (f->word != NULL) {
				nforms++;
				if (!documented(*e, f->word, strlen(f->word))) {
					tap_diag("%s: subcommand '%s' is not in its help", (*e)->name, f->word);
					bad++;
				}
			}
			/* the literal alternatives of each token ("RANK|dense": dense) */
			while (*p != '\0') {
				size_t len = strcspn(p, " |");
				int lower = 0, upper = 0;
				size_t i;
				for (i = 0; i < len; i++) {
					lower |= islower((unsigned char)p[i]) != 0;
					upper |= isupper((unsigned char)p[i]) != 0;
				}
				if (lower && !upper && !documented(*e, p, len)) {
					tap_diag("%s: word '%.*s' is not in its help", (*e)->name, (int)len, p);
					bad++;
				}
				p += len;
				while (*p == ' ' || *p == '|')
					p++;
			}
		}
		if ((*e)->words != NULL) {
			const char *const *w;
			for (w = (*e)->words; *w != NULL; w++, nwords++) {
				for (f = (*e)->forms; f->args != NULL; f++)
					if (f->word != NULL && strcmp(f->word, *w) == 0)
						break;
				if (f->args == NULL) {
					tap_diag("%s: word '%s' has no form", (*e)->name, *w);
					bad++;
				}
			}
			if (nwords != nforms) {
				tap_diag("%s: %d words, %d subcommand forms", (*e)->name, nwords, nforms);
				bad++;
			}
		}
		tap_ok(bad == 0, "  its subcommands and words are the ones its help shows");
	}

	/* Completion from the grammar, against the usage lines. */
	k = complete("plot", "", &g);
	tap_ok(strcmp(g.text, "spectrum energy plan heatmap alloc-trace") == 0 && k == 0,
	    "plot: the five subcommands, nothing else (got '%s', kinds %u)", g.text, k);
	k = complete("plot spectrum", "", &g);
	tap_ok(g.text[0] == '\0' && k == UI_CAND_PATTERNS, "plot spectrum: a PATTERN (kinds %u)", k);
	k = complete("plot spectrum L0.q --to", "", &g);
	tap_ok(g.text[0] == '\0' && k == UI_CAND_FILES, "plot ... --to: a FILE (kinds %u)", k);
	k = complete("plot spectrum", "--t", &g);
	tap_ok(strcmp(g.text, "--to --title") == 0, "plot --t: --to --title (got '%s')", g.text);
	k = complete("alloc", "s", &g);
	tap_ok(strcmp(g.text, "sensitivity") == 0 && k == 0, "alloc s: sensitivity (got '%s')",
	    g.text);
	k = complete("alloc bo --objective", "", &g);
	tap_ok(strcmp(g.text, "ppl proxy") == 0, "alloc bo --objective: ppl proxy (got '%s')",
	    g.text);
	k = complete("alloc bo --validation", "", &g);
	tap_ok(g.text[0] == '\0' && k == UI_CAND_FILES, "alloc bo --validation: a FILE");
	k = complete("alloc bo --trials", "", &g);
	tap_ok(g.text[0] == '\0' && k == 0, "alloc bo --trials: a number, nothing to offer");
	k = complete("alloc history", "", &g);
	tap_ok(strcmp(g.text, "export") == 0, "alloc history: export (got '%s')", g.text);
	k = complete("alloc history export", "", &g);
	tap_ok(k == UI_CAND_FILES, "alloc history export: a FILE");
	k = complete("plan", "", &g);
	tap_ok(strcmp(g.text, "show reset save load diff") == 0 && k == 0,
	    "plan: its subcommands (got '%s')", g.text);
	k = complete("plan save", "", &g);
	tap_ok(g.text[0] == '\0' && k == UI_CAND_FILES, "plan save: a FILE");
	k = complete("plan show", "", &g);
	tap_ok(k == UI_CAND_PATTERNS, "plan show: a PATTERN");
	k = complete("plan reset", "", &g);
	tap_ok(g.text[0] == '\0' && k == 0, "plan reset: nothing");
	k = complete("export", "", &g);
	tap_ok(strcmp(g.text, "dense factored gguf") == 0 && k == 0,
	    "export: dense factored gguf (got '%s')", g.text);
	k = complete("export gguf", "", &g);
	tap_ok(k == UI_CAND_FILES, "export gguf: a FILE");
	k = complete("export factored", "", &g);
	tap_ok(k == UI_CAND_FILES, "export factored: a DIR");
	k = complete("export factored out --dtype", "", &g);
	tap_ok(strcmp(g.text, "f32 f16 bf16 q8_0") == 0, "export --dtype: f32 f16 bf16 q8_0 (got '%s')",
	    g.text);
	k = complete("export factored --dtype=bf16", "", &g);
	tap_ok(k == UI_CAND_FILES, "export factored --dtype=bf16: the DIR still (kinds %u)", k);
	k = complete("spectra --kind", "", &g);
	tap_ok(strcmp(g.text, "weight feature") == 0, "spectra --kind: weight feature");
	k = complete("spectra", "", &g);
	tap_ok(strcmp(g.text, "show export") == 0 && k == UI_CAND_PATTERNS,
	    "spectra: show, export or a PATTERN (got '%s', kinds %u)", g.text, k);
	k = complete("spectra show", "", &g);
	tap_ok(k == UI_CAND_NAMES, "spectra show: a matrix NAME");
	k = complete("set", "", &g);
	tap_ok(strstr(g.text, "method") != NULL && strstr(g.text, "threads") != NULL && k == 0,
	    "set: the settings (got '%s')", g.text);
	k = complete("set method", "", &g);
	tap_ok(strcmp(g.text, "svd feature whiten asvd") == 0, "set method: the methods (got '%s')",
	    g.text);
	k = complete("set threads", "", &g);
	tap_ok(g.text[0] == '\0' && k == 0, "set threads: a number");
	k = complete("rank L0.q", "", &g);
	tap_ok(strcmp(g.text, "dense") == 0 && k == 0, "rank PATTERN: dense, or a number");
	k = complete("rank", "", &g);
	tap_ok(g.text[0] == '\0' && k == UI_CAND_PATTERNS, "rank: a PATTERN");
	k = complete("help", "", &g);
	tap_ok(k == UI_CAND_COMMANDS, "help: a command");
	k = complete("ppl", "", &g);
	tap_ok(k == UI_CAND_FILES, "ppl: a FILE");
	k = complete("ppl x.txt --protocol", "", &g);
	tap_ok(strcmp(g.text, "chunked llama.cpp") == 0, "ppl --protocol: chunked llama.cpp");
	k = complete("quit", "", &g);
	tap_ok(g.text[0] == '\0' && k == 0, "quit: nothing");
	k = ui_complete_words(NULL, NULL, 0, "", got_add, &g);
	tap_ok(k == UI_CAND_FILES, "an unknown command: files");

	/* Columns, ordered down each column: 5 items of up to 3 columns in 10: 2 columns. */
	{
		static const char *const items[] = { "a", "bb", "ccc", "d", "e" };
		struct got rows = { "" };
		int n = ui_complete_columns(items, 5, 10, row_add, &rows);
		tap_ok(n == 3 && strcmp(rows.text, "a    d|bb   e|ccc") == 0,
		    "columns: 'a    d|bb   e|ccc' (got %d rows '%s')", n, rows.text);
		rows.text[0] = '\0';
		n = ui_complete_columns(items, 5, 80, row_add, &rows);
		tap_ok(n == 1 && strcmp(rows.text, "a    bb   ccc  d    e") == 0,
		    "columns: one row when they fit (got '%s')", rows.text);
	}
	return tap_done();
}
