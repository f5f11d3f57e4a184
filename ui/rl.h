/* rl.h: GNU Readline inside the workbench (style.md §9, pattern A).  The screen is the only
 * reader of the keyboard: it hands the command line's bytes to ui_rl_feed(), readline edits the
 * line and calls back; nothing else includes <readline/readline.h>.  Readline never writes to
 * the terminal (its output stream is /dev/null) and never touches signals, termios or LINES. */
#ifndef RS_UI_RL_H
#define RS_UI_RL_H

#include <stddef.h>

struct ui_rl_hooks {
	void (*line)(void *ud, char *line);          /* a finished line (free() it); NULL = EOF */
	void (*redisplay)(void *ud);                 /* the line or the cursor changed */
	/* The completions to show: items [0, n) of total (the rest not listed). */
	void (*matches)(void *ud, const char *const *items, int n, int total);
	const char *const *(*names)(void *ud, int *n); /* matrix names for completion */
	/* The i-th command a plugin adds (lrq, transact), NULL past the last; may be NULL. */
	const struct rs_cmd_entry *(*plugin_cmd)(void *ud, int i);
	void *ud;
};

/* Set readline up (before the first key).  0 or RS_EIO + cause. */
int ui_rl_init(const char *prompt, const struct ui_rl_hooks *hooks, char **cause);
void ui_rl_shutdown(void);

/* Give readline bytes typed on the command line. */
void ui_rl_feed(const unsigned char *bytes, size_t n);

/* The prompt, the line and the cursor's byte offset in it. */
const char *ui_rl_prompt(void);
const char *ui_rl_line(void);
int ui_rl_point(void);

/* Replace the line (cursor at its end); "" clears it. */
void ui_rl_set_line(const char *text);
/* Insert text at the cursor as typed text (a paste: no key in it acts). */
void ui_rl_insert(const char *text);

/* History: add a line; load from / save (atomically) to the history file
 * ($XDG_STATE_HOME/rankscope/history, default ~/.local/state/rankscope/history). */
void ui_rl_history_add(const char *line);
int ui_rl_history_load(char **cause);
int ui_rl_history_save(char **cause);

#endif
