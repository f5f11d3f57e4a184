/* keys.c: the key table of the workbench (data only, no curses calls). */
#include "config.h"

#include "keys.h"

#include <string.h>

#include <curses.h>

#define CTRL_KEY(c) ((c) & 0x1f)

const struct ui_key ui_keys[] = {
	{ "Up", KEY_UP, 'k', UI_A_UP, UI_IN_PANEL, NULL, "select the previous matrix (log: scroll up)" },
	{ "Down", KEY_DOWN, 'j', UI_A_DOWN, UI_IN_PANEL, NULL, "select the next matrix (log: scroll down)" },
	{ "PgUp", KEY_PPAGE, 0, UI_A_PGUP, UI_IN_PANEL, NULL, "move up a page" },
	{ "PgDn", KEY_NPAGE, 0, UI_A_PGDN, UI_IN_PANEL, NULL, "move down a page" },
	{ "Home", KEY_HOME, 'g', UI_A_HOME, UI_IN_PANEL, NULL, "first matrix (log: oldest line)" },
	{ "End", KEY_END, 'G', UI_A_END, UI_IN_PANEL, NULL, "last matrix (log: newest line)" },
	{ "+", '+', 0, UI_A_RANK_STEP_UP, UI_IN_PANEL, "rank NAME +STEP",
	  "raise the selected rank by the alignment step (past full rank: dense)" },
	{ "-", '-', 0, UI_A_RANK_STEP_DOWN, UI_IN_PANEL, "rank NAME -STEP",
	  "lower the selected rank by the alignment step (dense: the largest aligned rank below "
	  "break-even)" },
	{ "]", ']', 0, UI_A_RANK_INC, UI_IN_PANEL, "rank NAME +1",
	  "raise the selected rank by 1" },
	{ "[", '[', 0, UI_A_RANK_DEC, UI_IN_PANEL, "rank NAME -1",
	  "lower the selected rank by 1" },
	{ "=", '=', 0, UI_A_TYPE_RANK, UI_IN_PANEL, "rank NAME ",
	  "type a rank: the command line opens with 'rank NAME '" },
	{ "d", 'd', 0, UI_A_DENSE, UI_IN_PANEL, "rank NAME dense",
	  "toggle dense: make the matrix dense, or factor it again at its last rank" },
	{ "Left", KEY_LEFT, 'h', UI_A_LEFT, UI_IN_PANEL, NULL,
	  "layer grid: the previous matrix type (q k v o gate up down)" },
	{ "Right", KEY_RIGHT, 'l', UI_A_RIGHT, UI_IN_PANEL, NULL, "layer grid: the next matrix type" },
	{ "s", 's', 0, UI_A_SORT, UI_IN_PANEL, NULL,
	  "sort by the next column (the header marks it); after the last: plan order" },
	{ "S", 'S', 0, UI_A_SORT_REVERSE, UI_IN_PANEL, NULL, "reverse the sort order" },
	{ "/", '/', 0, UI_A_FILTER, UI_IN_PANEL, NULL,
	  "filter: a matrix pattern (L1-3.*, *.up) or dense, factored, over; Enter keeps it, "
	  "Esc clears it" },
	{ "L", 'L', 0, UI_A_GRID, UI_IN_PANEL, NULL,
	  "layer grid: layers x types; arrows or hjkl move, the edit keys act on the cell" },
	{ "c", 'c', 0, UI_A_COLUMNS, UI_IN_PANEL, NULL,
	  "choose the table's columns (alpha, stable rank, r90, r99, ...); grid: next cell value" },
	{ "D", 'D', 0, UI_A_DIFF, UI_IN_PANEL, NULL,
	  "diff columns against the plan file, then the last allocation, then off" },
	{ "u", 'u', 0, UI_A_UNDO, UI_IN_PANEL, "undo", "undo the last plan change" },
	{ "r", 'r', 0, UI_A_REDO, UI_IN_PANEL, "redo", "redo" },
	{ "Tab", '\t', 0, UI_A_FOCUS_NEXT, UI_IN_PANEL,
	  NULL, "focus the next panel: table, log, command line (on the command line: complete; "
	  "on an empty line: back to the table)" },
	{ ":", ':', 0, UI_A_CMDLINE, UI_IN_PANEL, NULL, "go to the command line" },
	{ "Esc", 27, 0, UI_A_ESCAPE, UI_IN_PANEL | UI_IN_CMDLINE, NULL,
	  "cancel the running job; else leave the command line or the help" },
	{ "z", 'z', 0, UI_A_ZOOM, UI_IN_PANEL, NULL,
	  "zoom: the focused panel (table or log) fills the screen; z again restores the layout" },
	{ "|", '|', 0, UI_A_PAGER, UI_IN_PANEL, NULL,
	  "open the log in $PAGER (default less): every line whole, to search and save" },
	{ "?", '?', KEY_F(1), UI_A_HELP, UI_IN_PANEL, NULL, "show or hide this key help" },
	{ "q", 'q', 0, UI_A_QUIT, UI_IN_PANEL, "quit", "quit (cancels a running job first)" },
	{ "Ctrl-C", CTRL_KEY('c'), 0, UI_A_CANCEL, UI_IN_PANEL | UI_IN_CMDLINE, NULL,
	  "cancel the running job; else clear the command line" },
	{ "Ctrl-L", CTRL_KEY('l'), 0, UI_A_REDRAW, UI_IN_PANEL | UI_IN_CMDLINE, NULL,
	  "redraw the screen" },
	{ NULL, 0, 0, UI_A_NONE, 0, NULL, NULL }
};

enum ui_act
ui_key_action(int code)
{
	const struct ui_key *k;

	for (k = ui_keys; k->label != NULL; k++)
		if ((k->where & UI_IN_PANEL) && (k->code == code || (k->code2 != 0 && k->code2 == code)))
			return k->act;
	return UI_A_NONE;
}

/* The curses code of a CSI key with final byte f and first parameter p (0 if none), or 0. */
static int
seq_csi_key(int f, long p)
{
	switch (f) {
	case 'A': return KEY_UP;
	case 'B': return KEY_DOWN;
	case 'C': return KEY_RIGHT;
	case 'D': return KEY_LEFT;
	case 'H': return KEY_HOME;
	case 'F': return KEY_END;
	case '~':
		switch (p) {
		case 1: case 7: return KEY_HOME;
		case 4: case 8: return KEY_END;
		case 5: return KEY_PPAGE;
		case 6: return KEY_NPAGE;
		case 11: return KEY_F(1);
		default: return 0;
		}
	default:
		return 0;
	}
}

enum ui_seq
ui_key_seq(const unsigned char *s, size_t n, size_t *len, int *code)
{
	size_t i;
	long p = 0;
	int digits = 1;

	*len = n;
	*code = 0;
	if (n < 2)
		return UI_SEQ_PARTIAL;
	if (s[1] == 'O') {                      /* SS3: one more byte, a keypad or function key */
		if (n < 3)
			return UI_SEQ_PARTIAL;
		*len = 3;
		switch (s[2]) {
		case 'A': *code = KEY_UP; break;
		case 'B': *code = KEY_DOWN; break;
		case 'C': *code = KEY_RIGHT; break;
		case 'D': *code = KEY_LEFT; break;
		case 'H': *code = KEY_HOME; break;
		case 'F': *code = KEY_END; break;
		case 'P': *code = KEY_F(1); break;
		default: break;
		}
		return s[2] >= 0x40 && s[2] <= 0x7e ? UI_SEQ_KEY : UI_SEQ_UNKNOWN;
	}
	if (s[1] != '[') {
		*len = 2;
		return UI_SEQ_META;
	}
	/* CSI: parameter bytes 0x30-0x3f, intermediate bytes 0x20-0x2f, a final byte 0x40-0x7e */
	for (i = 2; i < n && s[i] >= 0x30 && s[i] <= 0x3f; i++) {
		if (digits && s[i] >= '0' && s[i] <= '9')
			p = p < 100000 ? p * 10 + (s[i] - '0') : p;
		else
			digits = 0;             /* only the first parameter matters */
	}
	while (i < n && s[i] >= 0x20 && s[i] <= 0x2f)
		i++;
	if (i == n)
		return UI_SEQ_PARTIAL;
	*len = i + 1;
	if (s[i] < 0x40 || s[i] > 0x7e) {       /* not a CSI after all: drop what came before */
		*len = i;
		return UI_SEQ_UNKNOWN;
	}
	if (s[i] == 'M' && i == 2) {            /* X10 mouse report: three raw bytes follow */
		if (n < 6)
			return UI_SEQ_PARTIAL;
		*len = 6;
		return UI_SEQ_MOUSE;
	}
	if (s[2] == '<' && (s[i] == 'M' || s[i] == 'm'))
		return UI_SEQ_MOUSE;
	if (s[i] == '~' && p == 200)
		return UI_SEQ_PASTE;
	/* keys: cursor and editing keys, function keys, Shift-Tab; not reports or focus events */
	if (s[2] == '<' || s[2] == '?' || s[2] == '>' || strchr("ABCDEFHPQRSZ~", s[i]) == NULL)
		return UI_SEQ_UNKNOWN;
	*code = seq_csi_key(s[i], p);
	return UI_SEQ_KEY;
}

/* The button of a report's button byte (without the modifier bits 4, 8, 16). */
static int
mouse_button(long b)
{
	if (b & 32)                     /* motion */
		return 0;
	if (b & 64)                     /* wheel: 64 up, 65 down */
		return (b & 3) == 0 ? 4 : (b & 3) == 1 ? 5 : 0;
	return (b & 3) == 3 ? 0 : (int)(b & 3) + 1;
}

int
ui_key_mouse(const unsigned char *s, size_t n, struct ui_mouse *m)
{
	long v[3] = { 0, 0, 0 };
	size_t i;
	int k = 0;

	memset(m, 0, sizeof *m);
	if (n == 6 && s[1] == '[' && s[2] == 'M') {     /* X10: bytes 32 + b, 33 + x, 33 + y */
		m->button = (s[3] & 3) == 3 ? 0 : mouse_button(s[3] - 32);
		m->press = (s[3] & 3) != 3 || (s[3] & 64);
		m->x = s[4] - 33;
		m->y = s[5] - 33;
		return m->x >= 0 && m->y >= 0 ? 0 : -1;
	}
	if (n < 4 || s[1] != '[' || s[2] != '<' || (s[n - 1] != 'M' && s[n - 1] != 'm'))
		return -1;
	for (i = 3; i < n - 1; i++) {
		if (s[i] == ';') {
			if (++k > 2)
				return -1;
		} else if (s[i] >= '0' && s[i] <= '9') {
			v[k] = v[k] < 100000 ? v[k] * 10 + (s[i] - '0') : v[k];
		} else {
			return -1;
		}
	}
	if (k != 2 || v[1] < 1 || v[2] < 1)
		return -1;
	m->button = mouse_button(v[0]);
	m->press = s[n - 1] == 'M' && !(v[0] & 32);
	m->x = (int)v[1] - 1;
	m->y = (int)v[2] - 1;
	return 0;
}
