/* grid.h: the layer grid ('L'): layers down, matrix types (q k v o gate up down) across, each
 * cell the keep %, the predicted error or the power-law alpha of that matrix (WeightWatcher's
 * details table, the heatmap 'plot heatmap' exports).  The selection is the cell's matrix, so
 * the edit keys act on it as they do in the table. */
#ifndef RS_UI_GRID_H
#define RS_UI_GRID_H

#include <curses.h>

#include "table.h"
#include "view.h"

/* Attributes the grid draws with (colour pairs or their monochrome fallbacks). */
struct ui_grid_attrs {
	attr_t sel;                 /* the selected cell */
	attr_t fact;                /* a factored matrix */
	attr_t costly;              /* a rank at or past break-even */
	attr_t hidden;              /* a matrix the filter hides */
};

/* "keep%", "pr.err", "alpha". */
const char *ui_grid_metric_name(enum ui_grid_metric m);
/* The matrix index a move of dlayer layers and dtype types from sel reaches (clamped to the
 * grid's edges). */
int ui_grid_move(const struct ui_view *v, int sel, int dlayer, int dtype);
/* Draw the grid in the box (y0, x0, h, wd), scrolled (t->grid_top) to show sel. */
void ui_grid_draw(struct ui_table *t, const struct ui_view *v, int sel, int y0, int x0, int h,
    int wd, const struct ui_grid_attrs *a);
/* Rows of cells the last draw showed (for PgUp/PgDn). */
int ui_grid_page(const struct ui_table *t, int h);

#endif
