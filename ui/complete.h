/* complete.h: what the command line completes, from the grammar each command declares
 * (struct rs_cmd_entry: forms and option metavariables, cmd.h), and the layout of a list of
 * matches in columns.  No readline and no curses here: rl.c asks, the log shows. */
#ifndef RS_UI_COMPLETE_H
#define RS_UI_COMPLETE_H

#include "cmd.h"

/* Kinds of candidates the caller adds itself (it knows the files and the matrices). */
enum ui_cand_kind {
	UI_CAND_FILES = 1,          /* file names */
	UI_CAND_PATTERNS = 2,       /* matrix names and patterns (L3.*, *.q) */
	UI_CAND_NAMES = 4,          /* matrix names only */
	UI_CAND_COMMANDS = 8,       /* command names */
};

/* The candidates for the word `text` of a command whose entry is e, after the words prev[0..n)
 * (the command name excluded): words that fit (subcommands, option names, option values) go to
 * add(ud, word) when they start with text; returns the enum ui_cand_kind bits of what else
 * fits there.  e NULL (an unknown command): files. */
unsigned ui_complete_words(const struct rs_cmd_entry *e, char *const *prev, int n,
                           const char *text, void (*add)(void *ud, const char *word), void *ud);

/* Lay items [0, n) out in columns of a screen width columns wide, ordered down each column as
 * ls does; each row goes to line(ud, text).  Returns the rows. */
int ui_complete_columns(const char *const *items, int n, int width,
                        void (*line)(void *ud, const char *text), void *ud);

#endif
