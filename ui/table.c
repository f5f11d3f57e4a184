/* table.c: columns, sort order, filter and column menu of the workbench's matrix table. */
#include "config.h"

#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>

#include "alloc.h"
#include "pattern.h"
#include "plan.h"
#include "status.h"

struct col_def {
	const char *title;
	int width;
	int standard;               /* shown by default */
	const char *help;           /* the column menu's line */
};

static const struct col_def col_defs[UI_COL_COUNT] = {
	[UI_COL_MATRIX] = { "matrix", 8, 1, "matrix name" },
	[UI_COL_SHAPE] = { "shape", 9, 1, "outputs x inputs" },
	[UI_COL_RANK] = { "rank", 6, 1, "planned rank or dense" },
	[UI_COL_KEEP] = { "keep%", 6, 1, "parameters kept, % of dense" },
	[UI_COL_WEN] = { "W.en%", 6, 1, "weight-spectrum energy kept" },
	[UI_COL_FEN] = { "F.en%", 6, 1, "feature-spectrum energy kept" },
	[UI_COL_ERR] = { "pr.err", 8, 1, "predicted relative error (f/w: feature/weight)" },
	[UI_COL_PARAMS] = { "params", 8, 1, "parameters kept" },
	[UI_COL_ALPHA] = { "alpha", 6, 0, "power-law exponent of the weight spectrum" },
	[UI_COL_STABLE] = { "stable", 7, 0, "stable rank sum s^2 / s1^2" },
	[UI_COL_R90] = { "r90", 5, 0, "rank keeping 90 % of the weight energy" },
	[UI_COL_R99] = { "r99", 5, 0, "rank keeping 99 % of the weight energy" },
	[UI_COL_DRANK] = { "d.rank", 7, 0, "rank minus the reference's, dense as full rank (D)" },
	[UI_COL_DERR] = { "d.err", 8, 0, "predicted error minus the reference's (D)" },
	[UI_COL_DPARAMS] = { "d.params", 9, 0, "parameters minus the reference's (D)" },
};

/* The columns the menu toggles, in its order. */
static const enum ui_col menu_cols[] = {
	UI_COL_SHAPE, UI_COL_WEN, UI_COL_FEN, UI_COL_ERR, UI_COL_PARAMS,
	UI_COL_ALPHA, UI_COL_STABLE, UI_COL_R90, UI_COL_R99,
};
#define MENU_N ((int)(sizeof menu_cols / sizeof menu_cols[0]))

void
ui_table_init(struct ui_table *t)
{
	int c;

	memset(t, 0, sizeof *t);
	for (c = 0; c < UI_COL_COUNT; c++)
		if (col_defs[c].standard)
			t->cols |= 1u << c;
	t->sort = UI_COL_MATRIX;
}

void
ui_table_free(struct ui_table *t)
{
	rs_free(t->order);
	rs_free(t->alloc_ranks);
	t->alloc_ranks = NULL;
	t->alloc_n = 0;
	t->order = NULL;
	t->n_order = t->order_cap = 0;
}

const char *
ui_col_title(enum ui_col c)
{
	return col_defs[c].title;
}

int
ui_col_width(enum ui_col c)
{
	return col_defs[c].width;
}

const char *
ui_col_help(enum ui_col c)
{
	return col_defs[c].help;
}

int
ui_table_shows(const struct ui_table *t, const struct ui_view *v, enum ui_col c)
{
	if (c == UI_COL_MATRIX || c == UI_COL_RANK || c == UI_COL_KEEP)
		return 1;               /* what the edit keys change: always there */
	if (c >= UI_COL_DRANK)
		return t->diff != 0 && v->ref_ranks != NULL;
	return (t->cols >> c) & 1u;
}

/* "+1.2K" / "-512" / "0": a signed parameter difference. */
static void
fmt_delta_count(char *buf, size_t n, long long d)
{
	char mag[24];

	if (d == 0) {
		snprintf(buf, n, "0");
		return;
	}
	ui_fmt_count(mag, sizeof mag, (uint64_t)(d < 0 ? -d : d));
	snprintf(buf, n, "%c%s", d < 0 ? '-' : '+', mag);
}

void
ui_col_cell(const struct ui_row *r, enum ui_col c, char *buf, size_t n)
{
	char s[32];
	int w = col_defs[c].width;
	/* a factored rank at or past break-even keeps as many parameters as dense or more */
	int costly = r->rank != RS_PLAN_DENSE && r->params >= r->dense;

	s[0] = '\0';
	switch (c) {
	case UI_COL_MATRIX:
		snprintf(buf, n, "%-*s", w, r->name);
		return;
	case UI_COL_SHAPE:
		snprintf(s, sizeof s, "%lldx%lld", (long long)r->rows, (long long)r->cols);
		break;
	case UI_COL_RANK:
		if (r->rank == RS_PLAN_DENSE)
			snprintf(s, sizeof s, "dense");
		else
			snprintf(s, sizeof s, "%d", r->rank);
		break;
	case UI_COL_KEEP:
		snprintf(s, sizeof s, costly ? "%.1f!" : "%.1f",
		         100.0 * (double)r->params / (double)(r->dense ? r->dense : 1));
		break;
	case UI_COL_WEN:
	case UI_COL_FEN: {
		double e = c == UI_COL_WEN ? r->we : r->fe;
		if (e >= 0)
			snprintf(s, sizeof s, "%.2f", 100.0 * e);
		else
			snprintf(s, sizeof s, "-");
		break;
	}
	case UI_COL_ERR:
		if (r->err >= 0)
			snprintf(s, sizeof s, "%.4f%c", r->err, r->err_feature ? 'f' : 'w');
		else
			snprintf(s, sizeof s, "-");
		break;
	case UI_COL_PARAMS:
		ui_fmt_count(s, sizeof s, r->params);
		break;
	case UI_COL_ALPHA:
		if (r->alpha >= 0)
			snprintf(s, sizeof s, "%.2f", r->alpha);
		else
			snprintf(s, sizeof s, "-");
		break;
	case UI_COL_STABLE:
		if (r->stable >= 0)
			snprintf(s, sizeof s, "%.1f", r->stable);
		else
			snprintf(s, sizeof s, "-");
		break;
	case UI_COL_R90:
	case UI_COL_R99: {
		double k = c == UI_COL_R90 ? r->r90 : r->r99;
		if (k >= 0)
			snprintf(s, sizeof s, "%.0f", k);
		else
			snprintf(s, sizeof s, "-");
		break;
	}
	case UI_COL_DRANK: {
		/* dense counts as full rank */
		long a = r->rank == RS_PLAN_DENSE ? (long)r->max_rank : r->rank;
		long b = r->ref_rank == RS_PLAN_DENSE ? (long)r->max_rank : r->ref_rank;
		if (r->rank == r->ref_rank)
			snprintf(s, sizeof s, "=");
		else
			snprintf(s, sizeof s, "%+ld", a - b);
		break;
	}
	case UI_COL_DERR:
		if (r->err >= 0 && r->ref_err >= 0)
			snprintf(s, sizeof s, r->err == r->ref_err ? "0" : "%+.4f", r->err - r->ref_err);
		else
			snprintf(s, sizeof s, "-");
		break;
	case UI_COL_DPARAMS:
		fmt_delta_count(s, sizeof s, (long long)r->params - (long long)r->ref_params);
		break;
	case UI_COL_COUNT:
		break;
	}
	snprintf(buf, n, "%*.*s", w, w, s);
}

/* A row's sort key for column c; *known 0 when the value is unknown ('-'). */
static double
col_key(const struct ui_row *r, enum ui_col c, int *known)
{
	*known = 1;
	switch (c) {
	case UI_COL_SHAPE: return (double)r->rows * (double)r->cols;
	/* dense sorts above every rank, dense rows tie (plan order) */
	case UI_COL_RANK: return r->rank == RS_PLAN_DENSE ? 1e18 : r->rank;
	case UI_COL_KEEP: return (double)r->params / (double)(r->dense ? r->dense : 1);
	case UI_COL_WEN: *known = r->we >= 0; return r->we;
	case UI_COL_FEN: *known = r->fe >= 0; return r->fe;
	case UI_COL_ERR: *known = r->err >= 0; return r->err;
	case UI_COL_PARAMS: return (double)r->params;
	case UI_COL_ALPHA: *known = r->alpha >= 0; return r->alpha;
	case UI_COL_STABLE: *known = r->stable >= 0; return r->stable;
	case UI_COL_R90: *known = r->r90 >= 0; return r->r90;
	case UI_COL_R99: *known = r->r99 >= 0; return r->r99;
	case UI_COL_DRANK: {
		double a = r->rank == RS_PLAN_DENSE ? (double)r->max_rank : r->rank;
		double b = r->ref_rank == RS_PLAN_DENSE ? (double)r->max_rank : r->ref_rank;
		return a - b;
	}
	case UI_COL_DERR: *known = r->err >= 0 && r->ref_err >= 0; return r->err - r->ref_err;
	case UI_COL_DPARAMS: return (double)r->params - (double)r->ref_params;
	default: return 0;
	}
}

int
ui_table_filter_ok(const char *filter)
{
	char *cause = NULL;
	int rc;

	if (strcmp(filter, "dense") == 0 || strcmp(filter, "factored") == 0 ||
	    strcmp(filter, "over") == 0)
		return 1;
	rc = rs_pattern_check(filter, &cause);
	rs_free(cause);
	return rc == 0;
}

/* Whether row r passes the filter (a state word, else a matrix pattern as `rank` takes). */
static int
filter_pass(const char *filter, const struct ui_row *r)
{
	if (filter[0] == '\0')
		return 1;
	if (strcmp(filter, "dense") == 0)
		return r->rank == RS_PLAN_DENSE;
	if (strcmp(filter, "factored") == 0)
		return r->rank != RS_PLAN_DENSE;
	if (strcmp(filter, "over") == 0)        /* at or past break-even: saves nothing */
		return r->rank != RS_PLAN_DENSE && r->params >= r->dense;
	return rs_pattern_match(filter, r->name);
}

int
ui_table_order(struct ui_table *t, const struct ui_view *v)
{
	int i, j, n = 0, ok;

	if (v->n > t->order_cap) {
		int *o = rs_realloc(t->order, (size_t)v->n * sizeof *o);
		if (o == NULL)
			return RS_ENOMEM;
		t->order = o;
		t->order_cap = v->n;
	}
	/* a half-typed pattern ("L1-") is no pattern yet: show every row meanwhile */
	ok = t->filter[0] != '\0' && ui_table_filter_ok(t->filter);
	for (i = 0; i < v->n; i++)
		if (!ok || filter_pass(t->filter, &v->rows[i]))
			t->order[n++] = i;
	t->n_order = n;
	if (t->sort == UI_COL_MATRIX && !t->reverse)
		return 0;
	/* insertion sort: stable, and n is a few hundred at most (80 layers x 7) */
	for (i = 1; i < n; i++) {
		int x = t->order[i], kx, kj;
		double vx = col_key(&v->rows[x], t->sort, &kx);
		if (t->sort == UI_COL_MATRIX)
			vx = x;
		for (j = i - 1; j >= 0; j--) {
			int y = t->order[j];
			double vy = t->sort == UI_COL_MATRIX ? y : col_key(&v->rows[y], t->sort, &kj);
			int after;          /* x goes after y */
			if (t->sort == UI_COL_MATRIX)
				kj = kx = 1;
			if (kx != kj)
				after = !kx;    /* unknown values last */
			else if (!kx || vx == vy)
				after = 1;      /* ties keep plan order */
			else
				after = t->reverse ? vx < vy : vx > vy;
			if (after)
				break;
			t->order[j + 1] = y;
		}
		t->order[j + 1] = x;
	}
	return 0;
}

int
ui_table_pos(const struct ui_table *t, int i)
{
	int k;

	for (k = 0; k < t->n_order; k++)
		if (t->order[k] == i)
			return k;
	return -1;
}

void
ui_table_next_sort(struct ui_table *t, const struct ui_view *v)
{
	int c = (int)t->sort;

	do
		c = (c + 1) % UI_COL_COUNT;
	while (c != UI_COL_MATRIX && !ui_table_shows(t, v, (enum ui_col)c));
	t->sort = (enum ui_col)c;
}

int
ui_table_menu_count(void)
{
	return MENU_N;
}

enum ui_col
ui_table_menu_col(int i)
{
	return menu_cols[i];
}

int
ui_table_menu_key(struct ui_table *t, int key)
{
	if (!t->menu)
		return 0;
	switch (key) {
	case KEY_UP: case 'k':
		t->menu_at = t->menu_at > 0 ? t->menu_at - 1 : MENU_N - 1;
		break;
	case KEY_DOWN: case 'j':
		t->menu_at = (t->menu_at + 1) % MENU_N;
		break;
	case ' ': case '\r': case '\n': case KEY_ENTER:
		t->cols ^= 1u << menu_cols[t->menu_at];
		/* a hidden column sorts nothing: back to plan order */
		if (!((t->cols >> t->sort) & 1u) && t->sort != UI_COL_MATRIX && t->sort < UI_COL_DRANK)
			t->sort = UI_COL_MATRIX;
		break;
	case 'c': case 27: case 'q':
		t->menu = 0;
		break;
	default:
		break;
	}
	return 1;
}

void
ui_table_filter_key(struct ui_table *t, int key)
{
	size_t len = strlen(t->filter);

	if (key == 27) {
		t->filter[0] = '\0';
		t->filter_edit = 0;
	} else if (key == '\r' || key == '\n' || key == KEY_ENTER) {
		t->filter_edit = 0;
	} else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		if (len > 0)
			t->filter[len - 1] = '\0';
	} else if (key > ' ' && key < 127 && len + 1 < sizeof t->filter) {
		t->filter[len] = (char)key;
		t->filter[len + 1] = '\0';
	}
}
