/* grid.c: the layer grid: layers x matrix types, one cell per decoder matrix. */
#include "config.h"

#include "grid.h"

#include <stdio.h>
#include <string.h>

#include "model.h"
#include "plan.h"

#define GRID_LABEL 6            /* "L31  " */
#define GRID_CELL 8             /* "  23.4% " */

const char *
ui_grid_metric_name(enum ui_grid_metric m)
{
	switch (m) {
	case UI_GRID_KEEP: return "keep%";
	case UI_GRID_ERR: return "pr.err";
	case UI_GRID_ALPHA: return "alpha";
	default: return "?";
	}
}

int
ui_grid_move(const struct ui_view *v, int sel, int dlayer, int dtype)
{
	int layers = v->n / RS_MAT_COUNT, layer, type;

	if (layers == 0)
		return 0;
	layer = sel / RS_MAT_COUNT + dlayer;
	type = sel % RS_MAT_COUNT + dtype;
	if (layer < 0)
		layer = 0;
	if (layer >= layers)
		layer = layers - 1;
	if (type < 0)
		type = 0;
	if (type >= RS_MAT_COUNT)
		type = RS_MAT_COUNT - 1;
	return layer * RS_MAT_COUNT + type;
}

int
ui_grid_page(const struct ui_table *t, int h)
{
	(void)t;
	return h - 2 > 1 ? h - 2 : 1;
}

/* A cell's text for metric m, GRID_CELL - 1 characters right-aligned. */
static void
grid_cell(const struct ui_row *r, enum ui_grid_metric m, char *buf, size_t n)
{
	char s[16];

	switch (m) {
	case UI_GRID_KEEP:
		if (r->rank == RS_PLAN_DENSE)
			snprintf(s, sizeof s, "dense");
		else
			snprintf(s, sizeof s, "%.1f%s", 100.0 * (double)r->params /
			         (double)(r->dense ? r->dense : 1), r->params >= r->dense ? "!" : "");
		break;
	case UI_GRID_ERR:
		if (r->err >= 0)
			snprintf(s, sizeof s, "%.4f", r->err);
		else
			snprintf(s, sizeof s, "-");
		break;
	default:
		if (r->alpha >= 0)
			snprintf(s, sizeof s, "%.2f", r->alpha);
		else
			snprintf(s, sizeof s, "-");
		break;
	}
	snprintf(buf, n, "%*s", GRID_CELL - 1, s);
}

void
ui_grid_draw(struct ui_table *t, const struct ui_view *v, int sel, int y0, int x0, int h,
             int wd, const struct ui_grid_attrs *a)
{
	int layers = v->n / RS_MAT_COUNT, rows = ui_grid_page(t, h), l, k, x;
	char head[128];

	if (layers == 0 || h < 3)
		return;
	/* header: the cell metric over the layer labels, then the types */
	attron(A_BOLD | A_UNDERLINE);
	snprintf(head, sizeof head, "%-*s", GRID_LABEL, ui_grid_metric_name(t->grid_metric));
	mvaddnstr(y0, x0, head, wd);
	for (k = 0, x = x0 + GRID_LABEL; k < RS_MAT_COUNT && x + GRID_CELL <= x0 + wd; k++) {
		snprintf(head, sizeof head, "%*s ", GRID_CELL - 1, rs_tkind_name((enum rs_tkind)k));
		mvaddnstr(y0, x, head, GRID_CELL);
		x += GRID_CELL;
	}
	attroff(A_BOLD | A_UNDERLINE);
	l = sel / RS_MAT_COUNT;
	if (l < t->grid_top)
		t->grid_top = l;
	if (l >= t->grid_top + rows)
		t->grid_top = l - rows + 1;
	if (t->grid_top > layers - rows)
		t->grid_top = layers - rows > 0 ? layers - rows : 0;
	for (l = t->grid_top; l < layers && l - t->grid_top < rows; l++) {
		int y = y0 + 1 + (l - t->grid_top);
		snprintf(head, sizeof head, "L%-*d", GRID_LABEL - 1, l);
		mvaddnstr(y, x0, head, wd);
		for (k = 0, x = x0 + GRID_LABEL; k < RS_MAT_COUNT && x + GRID_CELL <= x0 + wd; k++) {
			int i = l * RS_MAT_COUNT + k;
			const struct ui_row *r = &v->rows[i];
			char cell[32];
			attr_t at = A_NORMAL;

			grid_cell(r, t->grid_metric, cell, sizeof cell);
			if (i == sel)
				at = a->sel;
			else if (t->filter[0] != '\0' && ui_table_pos(t, i) < 0)
				at = a->hidden;
			else if (r->rank != RS_PLAN_DENSE && r->params >= r->dense)
				at = a->costly;
			else if (r->rank != RS_PLAN_DENSE)
				at = a->fact;
			attron(at);
			mvaddnstr(y, x, cell, GRID_CELL - 1);
			attroff(at);
			x += GRID_CELL;
		}
	}
	snprintf(head, sizeof head, "%s%s  c: keep%%, pr.err, alpha  L: table", layers > rows ?
	         "more layers: Up/Down scroll" : "", layers > rows ? "  " : "");
	mvaddnstr(y0 + (layers < rows ? layers : rows) + 1, x0, head, wd);
}
