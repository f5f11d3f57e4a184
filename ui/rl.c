/* rl.c: GNU Readline fed byte by byte by the workbench's one keyboard reader (pattern A), own
 * redisplay, own completion list, history file written atomically. */
#include "config.h"

#include "rl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "alloc.h"
#include "atomic.h"
#include "cmd.h"
#include "complete.h"
#include "status.h"
#include "xdg.h"

#define RL_HISTORY_MAX 1000

/* Readline is process-global; so is its glue. */
static struct ui_rl_hooks rl_hooks;
static unsigned char rl_inbuf[256];
static size_t rl_inlen, rl_inpos;
static FILE *rl_null;
static char *rl_prompt_copy;

/* Readline's getc: the next fed byte. */
static int
rl_feed_getc(FILE *f)
{
	(void)f;
	if (rl_inpos < rl_inlen)
		return rl_inbuf[rl_inpos++];
	return EOF;
}

/* Readline's "more input?" hook: only what was fed. */
static int
rl_feed_avail(void)
{
	return rl_inpos < rl_inlen;
}

/* Readline asks for a redisplay: the screen draws the line itself. */
static void
rl_redisplay_cb(void)
{
	if (rl_hooks.redisplay != NULL)
		rl_hooks.redisplay(rl_hooks.ud);
}

/* A finished line. */
static void
rl_line_cb(char *line)
{
	if (rl_hooks.line != NULL)
		rl_hooks.line(rl_hooks.ud, line);
	else
		free(line);
	if (line == NULL)	/* EOF removes the handler in some readline versions */
		rl_callback_handler_install(rl_prompt_copy, rl_line_cb);
}

#define RL_SHOW_MAX 400         /* matches listed; the rest are counted */

/* Show the matches in the log pane (in columns, by the screen) instead of on readline's
 * output stream; file names without their directory, as readline shows them. */
static void
rl_show_matches(char **matches, int num, int max_len)
{
	const char *shown[RL_SHOW_MAX];
	int i, n = num < RL_SHOW_MAX ? num : RL_SHOW_MAX;

	(void)max_len;
	for (i = 0; i < n; i++) {
		const char *m = matches[i + 1], *slash = strrchr(m, '/');
		shown[i] = rl_filename_completion_desired && slash != NULL && slash[1] != '\0' ?
		    slash + 1 : m;
	}
	if (rl_hooks.matches != NULL)
		rl_hooks.matches(rl_hooks.ud, shown, n, num);
	rl_forced_update_display();
}

/* Completion candidates for the current word, built once per completion. */
static char **cand;
static int cand_n, cand_cap, cand_files;

static void
cand_add(const char *s)
{
	if (cand_n == cand_cap) {
		int cap = cand_cap ? cand_cap * 2 : 64;
		char **nc = rs_realloc(cand, (size_t)cap * sizeof *nc);
		if (nc == NULL)
			return;
		cand = nc;
		cand_cap = cap;
	}
	if ((cand[cand_n] = strdup(s)) != NULL)	/* readline frees matches with free() */
		cand_n++;
}

static void
cand_reset(void)
{
	int i;

	for (i = 0; i < cand_n; i++)
		free(cand[i]);
	cand_n = 0;
	cand_files = 0;
}

/* Generator handing out the prepared candidates. */
static char *
cand_gen(const char *text, int state)
{
	static int next;

	(void)text;
	if (state == 0)
		next = 0;
	while (next < cand_n) {
		char *s = cand[next];
		cand[next++] = NULL;
		if (s != NULL)
			return s;
	}
	return NULL;
}

/* Add the strings of list that start with text. */
static void
cand_words(const char *text, const char *const *list)
{
	size_t len = strlen(text);

	for (; *list != NULL; list++)
		if (strncmp(*list, text, len) == 0)
			cand_add(*list);
}

/* Matrix names and the common patterns. */
static void
cand_matrices(const char *text)
{
	static const char *const pats[] = {
		"*", "*.q", "*.k", "*.v", "*.o", "*.gate", "*.up", "*.down", NULL
	};
	const char *const *names;
	size_t len = strlen(text);
	int n = 0, i, layers = 0;
	char buf[32];

	names = rl_hooks.names != NULL ? rl_hooks.names(rl_hooks.ud, &n) : NULL;
	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strncmp(names[i], text, len) == 0)
			cand_add(names[i]);
		if (names[i] != NULL && strstr(names[i], ".q") != NULL &&
		    strlen(strstr(names[i], ".q")) == 2)
			layers++;
	}
	for (i = 0; i < layers; i++) {
		snprintf(buf, sizeof buf, "L%d.*", i);
		if (strncmp(buf, text, len) == 0)
			cand_add(buf);
	}
	if (n > 0)
		cand_words(text, pats);
}

/* File names starting with text. */
static void
cand_paths(const char *text)
{
	char *f;
	int state = 0;

	while ((f = rl_filename_completion_function(text, state++)) != NULL) {
		cand_add(f);
		free(f);
		cand_files = 1;
	}
}

/* cand_add for ui_complete_words. */
static void
cand_add_cb(void *ud, const char *s)
{
	(void)ud;
	cand_add(s);
}

/* Command names (built in, then the plugins') starting with text. */
static void
cand_commands(const char *text)
{
	const struct rs_cmd_entry *const *t, *pe;
	size_t len = strlen(text);
	int i;

	for (t = rs_cmd_table; *t != NULL; t++)
		if (strncmp((*t)->name, text, len) == 0)
			cand_add((*t)->name);
	for (i = 0; rl_hooks.plugin_cmd != NULL &&
	     (pe = rl_hooks.plugin_cmd(rl_hooks.ud, i)) != NULL; i++)
		if (strncmp(pe->name, text, len) == 0)
			cand_add(pe->name);
}

/* Matrix names starting with text (no patterns). */
static void
cand_names(const char *text)
{
	const char *const *names;
	size_t len = strlen(text);
	int n = 0, i;

	names = rl_hooks.names != NULL ? rl_hooks.names(rl_hooks.ud, &n) : NULL;
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strncmp(names[i], text, len) == 0)
			cand_add(names[i]);
}

/* The entry a command word names (a built-in's name, alias or prefix, or a plugin's). */
static const struct rs_cmd_entry *
rl_entry(const char *word)
{
	const struct rs_cmd_entry *e, *pe;
	char *cause = NULL;
	int i;

	e = rs_cmd_find(word, &cause);
	rs_free(cause);
	for (i = 0; e == NULL && rl_hooks.plugin_cmd != NULL &&
	     (pe = rl_hooks.plugin_cmd(rl_hooks.ud, i)) != NULL; i++)
		if (strcmp(pe->name, word) == 0)
			e = pe;
	return e;
}

/* The completion entry point: the command's grammar (ui_complete_words) says what fits: its
 * subcommands, option names and values, matrices, commands or files. */
static char **
ui_rl_complete(const char *text, int start, int end)
{
	char *segment, *storage = NULL, *cause = NULL, **words;
	int seg = 0, i, n;
	unsigned kinds;

	(void)end;
	rl_attempted_completion_over = 1;
	cand_reset();
	/* The words of this command before the one completed: from the last ';' to start. */
	for (i = 0; i < start; i++)
		if (rl_line_buffer[i] == ';')
			seg = i + 1;
	segment = rs_malloc((size_t)(start - seg) + 1);
	words = rs_malloc(((size_t)(start - seg) / 2 + 2) * sizeof *words);
	if (segment == NULL || words == NULL) {
		rs_free(segment);
		rs_free(words);
		return NULL;
	}
	memcpy(segment, rl_line_buffer + seg, (size_t)(start - seg));
	segment[start - seg] = '\0';
	n = rs_cmd_split(segment, words, (start - seg) / 2 + 2, &storage, &cause);
	rs_free(cause);
	if (n == 0)
		kinds = UI_CAND_COMMANDS;
	else if (n < 0)
		kinds = UI_CAND_FILES;  /* inside an open quote: a file name, most likely */
	else
		kinds = ui_complete_words(rl_entry(words[0]), words + 1, n - 1, text, cand_add_cb,
		                          NULL);
	rs_free(storage);
	rs_free(words);
	rs_free(segment);
	if (kinds & UI_CAND_COMMANDS)
		cand_commands(text);
	if (kinds & UI_CAND_PATTERNS)
		cand_matrices(text);
	else if (kinds & UI_CAND_NAMES)
		cand_names(text);
	if (kinds & UI_CAND_FILES)
		cand_paths(text);
	rl_filename_completion_desired = cand_files;
	if (cand_n == 0)
		return NULL;
	return rl_completion_matches(text, cand_gen);
}

int
ui_rl_init(const char *prompt, const struct ui_rl_hooks *hooks, char **cause)
{
	rl_hooks = *hooks;
	if ((rl_null = fopen("/dev/null", "w")) == NULL)
		return rs_fail(cause, RS_EIO, "/dev/null: %s", strerror(errno));
	if ((rl_prompt_copy = rs_strdup(prompt)) == NULL) {
		fclose(rl_null);
		rl_null = NULL;
		return rs_fail(cause, RS_ENOMEM, "out of memory");
	}
	rl_readline_name = "rankscope";
	rl_change_environment = 0;      /* never export LINES/COLUMNS over ncurses' */
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_prep_term_function = NULL;
	rl_deprep_term_function = NULL;
	rl_getc_function = rl_feed_getc;
	rl_input_available_hook = rl_feed_avail;
	rl_redisplay_function = rl_redisplay_cb;
	rl_outstream = rl_null;
	rl_attempted_completion_function = ui_rl_complete;
	rl_completion_display_matches_hook = rl_show_matches;
	rl_completer_word_break_characters = " \t\n\"'`;|&<>=";
	using_history();
	stifle_history(RL_HISTORY_MAX);
	rl_variable_bind("show-all-if-ambiguous", "on");
	rl_callback_handler_install(rl_prompt_copy, rl_line_cb);
	rl_set_screen_size(1, 1000);    /* one long line: the screen scrolls it, not readline */
	return 0;
}

void
ui_rl_shutdown(void)
{
	rl_callback_handler_remove();
	cand_reset();
	rs_free(cand);
	cand = NULL;
	cand_cap = 0;
	rl_outstream = stdout;
	if (rl_null != NULL)
		fclose(rl_null);
	rl_null = NULL;
	rs_free(rl_prompt_copy);
	rl_prompt_copy = NULL;
}

void
ui_rl_feed(const unsigned char *bytes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += sizeof rl_inbuf) {
		size_t k = n - i < sizeof rl_inbuf ? n - i : sizeof rl_inbuf;
		memcpy(rl_inbuf, bytes + i, k);
		rl_inlen = k;
		rl_inpos = 0;
		while (rl_inpos < rl_inlen)
			rl_callback_read_char();
	}
	rl_inlen = rl_inpos = 0;
}

const char *
ui_rl_prompt(void)
{
	return rl_display_prompt != NULL ? rl_display_prompt : "";
}

const char *
ui_rl_line(void)
{
	return rl_line_buffer != NULL ? rl_line_buffer : "";
}

int
ui_rl_point(void)
{
	return rl_point;
}

void
ui_rl_set_line(const char *text)
{
	rl_replace_line(text, 0);
	rl_point = rl_end;
	rl_redisplay_cb();
}

void
ui_rl_insert(const char *text)
{
	rl_insert_text(text);
	rl_redisplay_cb();
}

void
ui_rl_history_add(const char *line)
{
	HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;

	if (line[0] == '\0' || (last != NULL && strcmp(last->line, line) == 0))
		return;
	add_history(line);
	using_history();        /* the next Up starts from this entry */
}

/* The history file's path (allocated), its directory in *dir (allocated). */
static char *
rl_history_path(char **dir, char **cause)
{
	char *d = rs_xdg_path(RS_XDG_STATE, NULL, cause), *p;

	if (d == NULL)
		return NULL;
	if ((p = rs_strdupf("%s/history", d)) == NULL) {
		rs_free(d);
		rs_fail(cause, RS_ENOMEM, "out of memory");
		return NULL;
	}
	*dir = d;
	return p;
}

int
ui_rl_history_load(char **cause)
{
	char *dir = NULL, *path = rl_history_path(&dir, cause);
	int e;

	if (path == NULL)
		return RS_EIO;
	e = read_history(path);
	rs_free(dir);
	if (e != 0 && e != ENOENT) {
		rs_fail(cause, RS_EIO, "%s: %s", path, strerror(e));
		rs_free(path);
		return RS_EIO;
	}
	rs_free(path);
	return 0;
}

int
ui_rl_history_save(char **cause)
{
	char *dir = NULL, *path = rl_history_path(&dir, cause);
	struct rs_afile *af;
	HIST_ENTRY **h;
	FILE *f;
	int rc, i;

	if (path == NULL)
		return RS_EIO;
	if ((rc = rs_mkdir_p(dir, cause)) != 0 || (af = rs_afile_open(path, cause)) == NULL) {
		rs_free(dir);
		rs_free(path);
		return rc != 0 ? rc : RS_EIO;
	}
	f = rs_afile_stream(af);
	h = history_list();
	for (i = 0; h != NULL && h[i] != NULL; i++)
		if (strchr(h[i]->line, '\n') == NULL)
			fprintf(f, "%s\n", h[i]->line);
	rc = rs_afile_commit(af, cause);
	rs_free(dir);
	rs_free(path);
	return rc;
}
