/* pager.c: the scrolling text box of the key help: wrapped entries, a scroll offset in rows. */
#include "config.h"

#include "pager.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <curses.h>

#define PAGER_LABEL_W 12        /* columns of the label */
#define PAGER_WIDTH_MAX 110
#define PAGER_WRAP_MAX 32       /* rows one entry may take */

/* Display columns of the UTF-8 text s[0..n) (one per character: the help is plain text). */
static int
pager_cols(const char *s, size_t n)
{
	int c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* Split text into rows of at most w columns at spaces (a longer word is cut); starts[k] and
 * lens[k] give each row.  Returns the rows (at most max). */
static int
pager_wrap(const char *text, int w, size_t *starts, size_t *lens, int max)
{
	size_t at = 0, len = strlen(text);
	int n = 0;

	if (w < 1)
		w = 1;
	while (n < max) {
		size_t end = at, brk = 0, i;
		int cols = 0;

		for (i = at; i < len; i++) {
			if (((unsigned char)text[i] & 0xc0) != 0x80) {
				if (cols == w)
					break;
				cols++;
			}
			if (text[i] == ' ')
				brk = i;
		}
		end = i;
		if (end < len && brk > at)      /* break at the last space inside the row */
			end = brk;
		starts[n] = at;
		lens[n] = end - at;
		n++;
		at = end;
		while (at < len && text[at] == ' ')
			at++;
		if (at >= len)
			break;
	}
	return n;
}

/* The box's size on this screen. */
static void
pager_box(int width, int height, int *bw, int *bh)
{
	*bw = width - 4 < PAGER_WIDTH_MAX ? width - 4 : PAGER_WIDTH_MAX;
	*bh = height - 2;
}

int
ui_pager_page(int height)
{
	int rows = height - 2 - 3;

	return rows > 1 ? rows : 1;
}

int
ui_pager_draw(const char *title, const char *footer, const struct ui_pager_entry *e, int n,
              int *top, int width, int height)
{
	size_t starts[PAGER_WRAP_MAX], lens[PAGER_WRAP_MAX];
	int bw, bh, x0, y0, tw, rows, total = 0, i, row = 0, y;

	pager_box(width, height, &bw, &bh);
	tw = bw - PAGER_LABEL_W - 4;
	for (i = 0; i < n; i++)
		total += pager_wrap(e[i].text, tw, starts, lens, PAGER_WRAP_MAX);
	rows = bh - 3;
	if (total + 3 < bh) {           /* a short text: a smaller box */
		bh = total + 3;
		rows = total;
	}
	if (*top > total - rows)
		*top = total - rows > 0 ? total - rows : 0;
	if (*top < 0)
		*top = 0;
	y0 = (height - bh) / 2;
	x0 = (width - bw) / 2;
	attron(A_REVERSE);
	for (y = 0; y < bh; y++)
		mvhline(y0 + y, x0, ' ', bw);
	attron(A_BOLD);
	mvaddnstr(y0, x0 + 2, title, bw - 4);
	attroff(A_BOLD);
	for (i = 0; i < n; i++) {
		int k, m = pager_wrap(e[i].text, tw, starts, lens, PAGER_WRAP_MAX);
		for (k = 0; k < m; k++, row++) {
			if (row < *top || row >= *top + rows)
				continue;
			y = y0 + 1 + row - *top;
			if (k == 0) {
				attron(A_BOLD);
				mvaddnstr(y, x0 + 2, e[i].label, PAGER_LABEL_W);
				attroff(A_BOLD);
			}
			mvaddnstr(y, x0 + 2 + PAGER_LABEL_W, e[i].text + starts[k], (int)lens[k]);
		}
	}
	{
		char pos[64];
		int pw;
		if (total > rows)
			snprintf(pos, sizeof pos, " rows %d-%d of %d%s", *top + 1, *top + rows, total,
			         *top + rows < total ? " (Down, PgDn: more)" : "");
		else
			pos[0] = '\0';
		pw = pager_cols(pos, strlen(pos));
		mvaddnstr(y0 + bh - 1, x0 + 2, footer, bw - 4 - pw);
		if (pw > 0 && pw < bw - 4)
			mvaddstr(y0 + bh - 1, x0 + bw - 2 - pw, pos);
	}
	attroff(A_REVERSE);
	return total;
}

int
ui_pager_key(int code, int *top, int height)
{
	int page = ui_pager_page(height);

	switch (code) {
	case KEY_UP: case 'k':
		(*top)--;
		break;
	case KEY_DOWN: case 'j':
		(*top)++;
		break;
	case KEY_PPAGE:
		*top -= page - 1 > 0 ? page - 1 : 1;
		break;
	case KEY_NPAGE: case ' ':
		*top += page - 1 > 0 ? page - 1 : 1;
		break;
	case KEY_HOME: case 'g':
		*top = 0;
		break;
	case KEY_END: case 'G':
		*top = INT_MAX / 2;     /* drawing clamps it */
		break;
	default:
		return 0;
	}
	if (*top < 0)
		*top = 0;
	return 1;
}
