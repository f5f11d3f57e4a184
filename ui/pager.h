/* pager.h: a scrolling text box drawn over the panels (the key help): entries of a label and a
 * text, the text wrapped at the box's width, scrolled by rows.  Drawing only; the caller keeps
 * the scroll offset and hands it the keys. */
#ifndef RS_UI_PAGER_H
#define RS_UI_PAGER_H

struct ui_pager_entry {
	const char *label;      /* left column (bold), or "" */
	const char *text;       /* wrapped in the right column */
};

/* Draw entries [0, n) in a box centred in width x height, title on its first row, footer on
 * its last; *top (rows scrolled) is clamped to what the text needs.  Returns the rows the
 * wrapped entries take. */
int ui_pager_draw(const char *title, const char *footer, const struct ui_pager_entry *e, int n,
                  int *top, int width, int height);

/* The rows a box of this screen shows at once (for a page step). */
int ui_pager_page(int height);

/* Scroll *top for a pager key (Up, Down, PgUp, PgDn, Home, End or their letters): 1 if the key
 * scrolls, 0 if it is no pager key. */
int ui_pager_key(int code, int *top, int height);

#endif
