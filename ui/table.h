/* table.h: how the workbench shows its matrices: which columns (the column menu, htop's
 * column setup), in which order (sort by any column, reverse), which rows (a filter by matrix
 * pattern or by state), the layer grid instead of the table, and the diff columns.  No curses
 * calls: the state and the text of cells, so that draw.c, grid.c and the key handling agree.
 *
 * The selection stays a matrix index (plan order); the order only says where it is shown. */
#ifndef RS_UI_TABLE_H
#define RS_UI_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* Table columns, in the order they are drawn. */
enum ui_col {
	UI_COL_MATRIX, UI_COL_SHAPE, UI_COL_RANK, UI_COL_KEEP, UI_COL_WEN, UI_COL_FEN,
	UI_COL_ERR, UI_COL_PARAMS,
	UI_COL_ALPHA, UI_COL_STABLE, UI_COL_R90, UI_COL_R99,     /* spectrum metrics */
	UI_COL_DRANK, UI_COL_DERR, UI_COL_DPARAMS,               /* diff against the reference */
	UI_COL_COUNT
};

/* What a layer-grid cell shows. */
enum ui_grid_metric { UI_GRID_KEEP, UI_GRID_ERR, UI_GRID_ALPHA, UI_GRID_METRICS };

#define UI_FILTER_MAX 64

struct ui_table {
	unsigned cols;              /* shown columns: bit (1u << enum ui_col) */
	enum ui_col sort;           /* UI_COL_MATRIX: plan order */
	int reverse;
	char filter[UI_FILTER_MAX]; /* "" none; a matrix pattern, or dense / factored / over */
	int filter_edit;            /* the filter is being typed ('/') */
	int menu, menu_at;          /* the column menu is open, its cursor */
	int grid;                   /* the layer grid replaces the table */
	enum ui_grid_metric grid_metric;
	int grid_top;               /* first layer shown */
	int diff;                   /* 0 off, 1 against the plan file, 2 against the last allocation */
	int *alloc_ranks;           /* the plan the last allocation left (alloc_n), or NULL */
	int alloc_n;
	uint64_t alloc_model;       /* the identity of the model it was made for */
	int *order;                 /* the matrices shown, in display order (n_order of them) */
	int n_order, order_cap;
};

/* Defaults: the standard columns, plan order, no filter. */
void ui_table_init(struct ui_table *t);
void ui_table_free(struct ui_table *t);

/* Column title ("keep%") and width in characters. */
const char *ui_col_title(enum ui_col c);
int ui_col_width(enum ui_col c);
/* Whether the column is drawn now (the diff columns: while a reference is shown). */
int ui_table_shows(const struct ui_table *t, const struct ui_view *v, enum ui_col c);
/* A row's cell, right-aligned to the column's width (the name left-aligned). */
void ui_col_cell(const struct ui_row *r, enum ui_col c, char *buf, size_t n);

/* Recompute t->order from the view's rows: the filter, then the sort (stable: ties in plan
 * order; unknown values last either way).  0 or RS_ENOMEM. */
int ui_table_order(struct ui_table *t, const struct ui_view *v);
/* Position of matrix i in t->order, or -1 when the filter hides it. */
int ui_table_pos(const struct ui_table *t, int i);
/* Whether the filter is a state word (dense, factored, over) or a well-formed pattern. */
int ui_table_filter_ok(const char *filter);

/* The next sort column among those shown (s), back to plan order after the last. */
void ui_table_next_sort(struct ui_table *t, const struct ui_view *v);

/* The column menu ('c'): entries are the optional columns; a key moves the cursor, toggles
 * the column under it (Space, Enter) or closes the menu (c, Esc, q).  Returns 1 if the menu
 * took the key. */
int ui_table_menu_key(struct ui_table *t, int key);
/* Menu entries: the columns the menu toggles. */
int ui_table_menu_count(void);
enum ui_col ui_table_menu_col(int i);
const char *ui_col_help(enum ui_col c);

/* A key while the filter is typed: printable characters append, Backspace deletes, Enter
 * keeps the filter, Esc clears it; both end the typing. */
void ui_table_filter_key(struct ui_table *t, int key);

#endif
