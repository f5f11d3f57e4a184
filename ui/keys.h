/* keys.h: the workbench's key table.  One row per key: what it does, the command it runs (every
 * key that changes state is a command, run like a typed one and put in the history), and the
 * label the key help and the man page use (tests/test-manpage checks the man page against it). */
#ifndef RS_UI_KEYS_H
#define RS_UI_KEYS_H

#include <stddef.h>

enum ui_act {
	UI_A_NONE,
	UI_A_UP, UI_A_DOWN, UI_A_PGUP, UI_A_PGDN, UI_A_HOME, UI_A_END,
	UI_A_RANK_STEP_UP,      /* rank NAME +align */
	UI_A_RANK_STEP_DOWN,    /* rank NAME -align */
	UI_A_RANK_INC,          /* rank NAME +1 */
	UI_A_RANK_DEC,          /* rank NAME -1 */
	UI_A_TYPE_RANK,         /* command line prefilled with "rank NAME " */
	UI_A_DENSE,             /* rank NAME dense, or back to a factored rank */
	UI_A_LEFT, UI_A_RIGHT,  /* layer grid: the previous, next matrix type */
	UI_A_SORT,              /* s: next sort column */
	UI_A_SORT_REVERSE,      /* S */
	UI_A_FILTER,            /* /: type a filter */
	UI_A_GRID,              /* L: layer grid on or off */
	UI_A_COLUMNS,           /* c: column menu (grid: next cell metric) */
	UI_A_DIFF,              /* D: diff columns against the plan file, the last allocation */
	UI_A_UNDO, UI_A_REDO,
	UI_A_FOCUS_NEXT,        /* Tab: table -> log -> command line */
	UI_A_CMDLINE,           /* ':' */
	UI_A_ESCAPE,            /* Esc: cancel the job, or leave the command line / help */
	UI_A_HELP,              /* '?' */
	UI_A_QUIT,
	UI_A_CANCEL,            /* Ctrl-C */
	UI_A_REDRAW,            /* Ctrl-L */
	UI_A_ZOOM,              /* 'z': the focused panel fills the screen, or back */
	UI_A_PAGER,             /* '|': the log in $PAGER */
};

/* Where a key works. */
enum ui_key_where {
	UI_IN_PANEL = 1,        /* a panel has the focus */
	UI_IN_CMDLINE = 2,      /* the command line has the focus */
};

struct ui_key {
	const char *label;      /* as shown in the key help and the man page: "PgUp", "+" */
	int code, code2;        /* curses key codes or characters; 0 = none */
	enum ui_act act;
	unsigned where;         /* enum ui_key_where bits */
	const char *command;    /* the command it runs (NAME is the selected matrix), or NULL */
	const char *help;       /* one line */
};

/* The table, ended by a row with a NULL label. */
extern const struct ui_key ui_keys[];

/* The panel action of a key code (UI_A_NONE if unbound). */
enum ui_act ui_key_action(int code);

/* What the bytes after an ESC are (ui_key_seq).  Terminals send keys the terminfo entry does
 * not name (tmux's Home is ESC [ 1 ~ under TERM=xterm-256color), focus events, mouse reports
 * and bracketed paste: each is parsed whole so that none of its bytes acts as a key. */
enum ui_seq {
	UI_SEQ_PARTIAL,     /* a prefix: more bytes may follow (a lone ESC when none do) */
	UI_SEQ_KEY,         /* a key: *code its curses code if the panels bind it, else 0 */
	UI_SEQ_UNKNOWN,     /* a complete sequence that is no key (focus event, mouse report) */
	UI_SEQ_META,        /* ESC and one other byte (Alt-x) */
	UI_SEQ_PASTE,       /* ESC [ 200 ~: bracketed paste starts (ends at ESC [ 201 ~) */
	UI_SEQ_MOUSE,       /* a mouse report, SGR (ESC [ < b ; x ; y M|m) or X10 (ESC [ M b x y) */
};

/* A mouse report. */
struct ui_mouse {
	int button;         /* 1 left, 2 middle, 3 right, 4 wheel up, 5 wheel down, 0 other */
	int press;          /* 1 pressed (or a wheel step), 0 released or moved */
	int x, y;           /* screen cell, 0-based */
};

/* Decode the mouse report s[0..n) (UI_SEQ_MOUSE of ui_key_seq); 0, or -1 if it is none. */
int ui_key_mouse(const unsigned char *s, size_t n, struct ui_mouse *m);

/* Parse s[0..n) (s[0] is ESC): ESC [ parameters intermediates final (CSI), ESC O x (SS3), the
 * X10 mouse report ESC [ M b x y.  *len: the bytes the sequence takes (when not partial). */
enum ui_seq ui_key_seq(const unsigned char *s, size_t n, size_t *len, int *code);

#endif
