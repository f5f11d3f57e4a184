/* draw.c: the workbench's screen: budget bar, matrix table, spectrum panel, log, status line
 * and command line.  Everything is drawn from the view copy (view.h), never from the session.
 * One erase + draw + refresh per change; curses sends only the difference. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include <curses.h>

#include "grid.h"
#include "keys.h"
#include "pager.h"
#include "plan.h"
#include "rl.h"
#include "status-line.h"
#include "table.h"
#include "wb.h"

enum {
	PAIR_HEAD = 1, PAIR_SEL, PAIR_ERR, PAIR_INFO, PAIR_ECHO, PAIR_W, PAIR_F, PAIR_MARK,
	PAIR_BAR, PAIR_FACT, PAIR_BOTH
};

/* Left margin of the plots (axis labels). */
#define PLOT_MARGIN 7

void
wb_draw_init_colors(struct wb *w)
{
	if (!w->color)
		return;
	start_color();
	use_default_colors();
	init_pair(PAIR_HEAD, COLOR_BLACK, COLOR_CYAN);
	init_pair(PAIR_SEL, COLOR_BLACK, COLOR_YELLOW);
	init_pair(PAIR_ERR, COLOR_RED, -1);
	init_pair(PAIR_INFO, COLOR_BLUE, -1);
	init_pair(PAIR_ECHO, COLOR_CYAN, -1);
	init_pair(PAIR_W, COLOR_YELLOW, -1);
	init_pair(PAIR_F, COLOR_GREEN, -1);
	init_pair(PAIR_MARK, COLOR_RED, -1);
	init_pair(PAIR_BAR, COLOR_GREEN, -1);
	init_pair(PAIR_FACT, COLOR_MAGENTA, -1);
	init_pair(PAIR_BOTH, COLOR_WHITE, -1);
}

/* Attribute of a colour pair, or the monochrome fallback. */
static attr_t
wb_attr(const struct wb *w, int pair, attr_t mono)
{
	return w->color ? (attr_t)COLOR_PAIR(pair) : mono;
}

/* Formatted text at (y, x), cut at maxw columns (ASCII text). */
static void
put(int y, int x, int maxw, attr_t a, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
put(int y, int x, int maxw, attr_t a, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (maxw <= 0 || y < 0 || y >= LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	attron(a);
	mvaddnstr(y, x, buf, maxw);
	attroff(a);
}

/* Fill a row segment with spaces in an attribute. */
static void
fill(int y, int x, int n, attr_t a)
{
	attron(a);
	for (int i = 0; i < n; i++)
		mvaddch(y, x + i, ' ');
	attroff(a);
}

/* A horizontal bar of `width` cells, `frac` full, in `pair`; a mark at `target` (0..1; < 0:
 * none). */
static void
bar(const struct wb *w, int y, int x, int width, double frac, int pair, double target)
{
	static const char *const eighths[] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
	int full, i, rem;
	double cells;

	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	cells = frac * width;
	full = (int)cells;
	rem = (int)((cells - full) * 8);
	move(y, x);
	attron(wb_attr(w, pair, A_BOLD));
	for (i = 0; i < width; i++) {
		if (target >= 0 && i == (target >= 1 ? width - 1 : (int)(target * width))) {
			attroff(wb_attr(w, pair, A_BOLD));
			attron(A_BOLD);
			addstr(w->utf8 ? "┃" : "|");
			attroff(A_BOLD);
			attron(wb_attr(w, pair, A_BOLD));
			continue;
		}
		if (w->utf8) {
			if (i < full)
				addstr("█");
			else if (i == full && rem > 0)
				addstr(eighths[rem]);
			else
				addstr(i == full ? " " : "·");
		} else {
			addch(i < full ? '#' : '.');
		}
	}
	attroff(wb_attr(w, pair, A_BOLD));
}

/* Row 0: the model, parameters kept (decoder linears) and the last perplexity. */
static void
draw_budget(struct wb *w, int y, int width)
{
	const struct ui_view *v = &w->view;
	attr_t head = wb_attr(w, PAIR_HEAD, A_REVERSE);
	char kept[32], dense[32], other[32];
	int x, bw;

	fill(y, 0, width, head);
	if (!v->loaded) {
		put(y, 1, width - 2, head | A_BOLD, "rankscope  no model loaded: type ':load PATH'");
		return;
	}
	ui_fmt_count(kept, sizeof kept, v->params);
	ui_fmt_count(dense, sizeof dense, v->dense);
	ui_fmt_count(other, sizeof other, v->other);
	put(y, 1, width - 2, head | A_BOLD, "%s", v->model);
	x = 2 + (int)strlen(v->model);
	{
		char seg[128];
		int n = snprintf(seg, sizeof seg, "| decoder params %s/%s %5.1f%%", kept, dense,
		                 v->dense ? 100.0 * (double)v->params / (double)v->dense : 0.0);
		if (v->budget > 0 && width >= 100)
			n += snprintf(seg + n, sizeof seg - (size_t)n, " %s budget %.1f%%",
			              v->params > v->budget ? "over" : "within",
			              v->dense ? 100.0 * (double)v->budget / (double)v->dense : 0.0);
		put(y, x, width - x, head, "%s", seg);
		x += n + 1;
	}
	bw = width >= 110 ? 20 : 10;
	if (x + bw + 2 < width) {
		/* red over the budget, or over dense (ranks past break-even) without one */
		uint64_t limit = v->budget > 0 ? v->budget : v->dense;
		bar(w, y, x, bw, v->dense ? (double)v->params / (double)v->dense : 0,
		    v->params > limit ? PAIR_ERR : PAIR_BAR,
		    v->budget > 0 && v->dense ? (double)v->budget / (double)v->dense : -1);
		x += bw + 1;
	}
	if (width - x > 12) {
		/* the whole segment when it fits, else its brief form (an 80-column screen) */
		char seg[128], brief[48];
		int n;
		attr_t a = head;
		if (v->ppl > 0 && v->ppl_stale[0] != '\0') {
			/* measured under another plan: kept for reference, dimmed */
			n = snprintf(seg, sizeof seg, "| ppl %.2f (%s)", v->ppl, v->ppl_stale);
			snprintf(brief, sizeof brief, "| ppl %.2f (stale)", v->ppl);
			a |= A_DIM;
		} else if (v->ppl > 0) {
			n = snprintf(seg, sizeof seg, "| ppl %.2f (%s, ctx %d)", v->ppl, v->ppl_protocol,
			             v->ppl_ctx);
			snprintf(brief, sizeof brief, "| ppl %.2f", v->ppl);
		} else {
			n = snprintf(seg, sizeof seg, "| ppl - (run 'ppl FILE')");
			snprintf(brief, sizeof brief, "| ppl -");
		}
		if (n > width - x - 1)
			n = snprintf(seg, sizeof seg, "%s", brief);
		put(y, x, width - x, a, "%s", seg);
		x += n + 1;
	}
	{
		char seg[64];
		int n = snprintf(seg, sizeof seg, "| %d/%d factored, align %d", v->n_compressed, v->n,
		                 v->align);
		if (x + n < width)
			put(y, width - n - 1, n, head, "%s", seg);
	}
}

/* Characters the table's shown columns take (with one space between columns). */
static int
table_width(const struct wb *w)
{
	int c, n = -1;

	for (c = 0; c < UI_COL_COUNT; c++)
		if (ui_table_shows(&w->tab, &w->view, (enum ui_col)c))
			n += ui_col_width((enum ui_col)c) + 1;
	return n;
}

/* The column menu ('c') over the table at (y0, x0). */
static void
draw_column_menu(const struct wb *w, int y0, int x0, int wd)
{
	int i, n = ui_table_menu_count(), bw = wd < 60 ? wd : 60;

	fill(y0, x0, bw, A_REVERSE);
	put(y0, x0 + 1, bw - 2, A_REVERSE | A_BOLD, "columns: Up/Down move, Space toggles, c closes");
	for (i = 0; i < n; i++) {
		enum ui_col c = ui_table_menu_col(i);
		attr_t a = i == w->tab.menu_at ? A_BOLD : A_REVERSE;
		fill(y0 + 1 + i, x0, bw, a);
		put(y0 + 1 + i, x0 + 1, bw - 2, a, "[%c] %-8s %s", (w->tab.cols >> c) & 1u ? 'x' : ' ',
		    ui_col_title(c), ui_col_help(c));
	}
}

/* The matrix table in the box (y0, x0, h, wd): the shown columns, the rows the filter
 * passes in the sort order; or the layer grid. */
static void
draw_table(struct wb *w, int y0, int x0, int h, int wd)
{
	const struct ui_view *v = &w->view;
	struct ui_table *t = &w->tab;
	attr_t hdr = A_BOLD | A_UNDERLINE;
	int rows = h - 1, i, c, x, pos, tw = table_width(w);

	w->table_rows = rows > 1 ? rows : 1;
	w->table_y = y0 + 1;
	w->table_x = x0;
	w->table_w = wd;
	if (v->loaded && v->n > 0 && ui_table_order(t, v) != 0)
		t->n_order = 0;
	if (t->grid && v->loaded && v->n > 0) {
		struct ui_grid_attrs ga;
		ga.sel = w->focus == WB_FOCUS_TABLE ? wb_attr(w, PAIR_SEL, A_REVERSE) | A_BOLD :
		         A_REVERSE;
		ga.fact = wb_attr(w, PAIR_FACT, A_BOLD);
		ga.costly = wb_attr(w, PAIR_ERR, A_BOLD);
		ga.hidden = A_DIM;
		ui_grid_draw(t, v, w->sel, y0, x0, h, wd, &ga);
		w->table_rows = ui_grid_page(t, h);
		w->table_w = 0;         /* the grid's cells take no row clicks */
		return;
	}
	for (c = 0, x = x0; c < UI_COL_COUNT; c++) {
		const char *title = ui_col_title((enum ui_col)c), *mark = "";
		int cw = ui_col_width((enum ui_col)c), tl;
		if (!ui_table_shows(t, v, (enum ui_col)c))
			continue;
		if (t->sort == (enum ui_col)c && (c != UI_COL_MATRIX || t->reverse))
			mark = !t->reverse ? (w->utf8 ? "▲" : "^") : (w->utf8 ? "▼" : "v");
		tl = (int)strlen(title) + (mark[0] != '\0');     /* the mark takes one column */
		if (x - x0 < wd && c == UI_COL_MATRIX)
			put(y0, x, wd - (x - x0), hdr, "%s%s%*s", title, mark, cw - tl, "");
		else if (x - x0 < wd)   /* right-aligned over the cells */
			put(y0, x, wd - (x - x0), hdr, "%*s%s%s", cw - tl, "", title, mark);
		x += cw + 1;
	}
	if (!v->loaded || v->n == 0) {
		put(y0 + 2, x0 + 1, wd - 2, A_NORMAL, "No model.  Type :load PATH (Tab completes paths)");
		return;
	}
	if (w->sel >= v->n)
		w->sel = v->n - 1;
	if (w->sel < 0)
		w->sel = 0;
	if (t->n_order == 0) {
		put(y0 + 2, x0 + 1, wd - 2, A_NORMAL, "no matrix matches the filter '%s' (Esc clears it)",
		    t->filter);
		return;
	}
	pos = ui_table_pos(t, w->sel);
	if (pos < 0)
		pos = 0;
	if (pos < w->top)
		w->top = pos;
	if (pos >= w->top + rows)
		w->top = pos - rows + 1;
	if (w->top > t->n_order - rows)
		w->top = t->n_order - rows > 0 ? t->n_order - rows : 0;
	for (i = 0; i < rows && w->top + i < t->n_order; i++) {
		int m = t->order[w->top + i];
		const struct ui_row *r = &v->rows[m];
		char line[256], cell[32];
		size_t at = 0;
		attr_t a = A_NORMAL;
		int y = y0 + 1 + i;
		/* a factored rank at or past break-even keeps as many parameters as dense or more */
		int costly = r->rank != RS_PLAN_DENSE && r->params >= r->dense;

		for (c = 0; c < UI_COL_COUNT && at < sizeof line; c++) {
			if (!ui_table_shows(t, v, (enum ui_col)c))
				continue;
			ui_col_cell(r, (enum ui_col)c, cell, sizeof cell);
			at += (size_t)snprintf(line + at, sizeof line - at, "%s%s", at > 0 ? " " : "", cell);
		}
		if (m == w->sel)
			a = w->focus == WB_FOCUS_TABLE ? wb_attr(w, PAIR_SEL, A_REVERSE) | A_BOLD :
			    A_REVERSE;
		else if (costly)
			a = wb_attr(w, PAIR_ERR, A_BOLD);
		else if (r->rank != RS_PLAN_DENSE)
			a = wb_attr(w, PAIR_FACT, A_BOLD);
		if (m == w->sel)
			fill(y, x0, wd < tw + 2 ? wd : tw + 2, a);
		put(y, x0, wd, a, "%s", line);
	}
	if ((t->n_order > rows || t->n_order < v->n) && wd >= tw + 10)
		put(y0, x0 + wd - 9, 9, A_NORMAL, " %d/%d", pos + 1, t->n_order);
}

/* Braille dot bits, [x][y] within a cell of 2x4 dots. */
static const unsigned char braille_bit[2][4] = {
	{ 0x01, 0x02, 0x04, 0x40 },
	{ 0x08, 0x10, 0x20, 0x80 },
};

/* A series plotted into a dot grid (cw*2 x ch*4) of bits per cell. */
struct canvas {
	int cw, ch;
	unsigned char *bits[2];     /* per series: cw*ch cells of braille bits */
};

/* Plot ys[0..n) (x spread over the width), y normalized to [lo, hi] (log10 values or energy). */
static void
canvas_series(struct canvas *c, int s, const double *ys, size_t n, double lo, double hi,
              int logy)
{
	int W = c->cw * 2, H = c->ch * 4, prev = -1, dx;

	if (n == 0 || hi <= lo)
		return;
	for (dx = 0; dx < W; dx++) {
		size_t i = (size_t)((double)dx * (double)n / (double)W);
		double val, t;
		int dy, a, b, yy;

		if (i >= n)
			i = n - 1;
		val = ys[i];
		if (logy)
			val = val > 0 ? log10(val) : lo;
		t = (val - lo) / (hi - lo);
		if (t < 0)
			t = 0;
		if (t > 1)
			t = 1;
		dy = (int)lround((1.0 - t) * (H - 1));
		a = prev < 0 ? dy : prev;
		b = dy;
		if (a > b) {
			int tmp = a;
			a = b;
			b = tmp;
		}
		for (yy = a; yy <= b; yy++)
			c->bits[s][(yy / 4) * c->cw + dx / 2] |= braille_bit[dx % 2][yy % 4];
		prev = dy;
	}
}

/* Draw the canvas at (y, x); marker column mx (cell) or -1. */
static void
canvas_draw(const struct wb *w, const struct canvas *c, int y, int x, int mx)
{
	int cy, cx;

	for (cy = 0; cy < c->ch; cy++) {
		for (cx = 0; cx < c->cw; cx++) {
			unsigned b0 = c->bits[0][cy * c->cw + cx], b1 = c->bits[1][cy * c->cw + cx];
			unsigned b = b0 | b1;
			attr_t a = b0 && b1 ? wb_attr(w, PAIR_BOTH, A_BOLD) :
			           b0 ? wb_attr(w, PAIR_W, A_NORMAL) : wb_attr(w, PAIR_F, A_BOLD);
			if (cx == mx)
				a = wb_attr(w, PAIR_MARK, A_BOLD);
			attron(a);
			if (b == 0 && cx == mx) {
				mvaddstr(y + cy, x + cx, w->utf8 ? "│" : "|");
			} else if (b == 0) {
				mvaddch(y + cy, x + cx, ' ');
			} else if (w->utf8) {
				wchar_t wc[2] = { (wchar_t)(0x2800 + b), 0 };
				mvaddnwstr(y + cy, x + cx, wc, 1);
			} else {
				mvaddch(y + cy, x + cx, b0 && b1 ? '#' : b0 ? '*' : 'o');
			}
			attroff(a);
		}
	}
}

/* The spectrum panel for the selected matrix. */
static void
draw_spectrum(struct wb *w, int y0, int x0, int h, int wd)
{
	const struct ui_view *v = &w->view;
	const struct ui_spec *sp = &v->spec;
	const struct ui_row *r;
	struct canvas c;
	unsigned char cells[2][8192];
	int plot_h, en_h, cw, mx = -1, k;
	double lo = 0, hi = 0, mn = 0, mxv = 0;
	size_t rr, i;

	if (!v->loaded || v->n == 0 || w->sel < 0 || w->sel >= v->n || h < 4 || wd < 24)
		return;
	r = &v->rows[w->sel];
	k = r->rank == RS_PLAN_DENSE ? (int)r->max_rank : r->rank;
	{
		char rk[32];
		if (r->rank == RS_PLAN_DENSE)
			snprintf(rk, sizeof rk, "dense (max rank %lld)", (long long)r->max_rank);
		else
			snprintf(rk, sizeof rk, "rank %d of %lld", r->rank, (long long)r->max_rank);
		put(y0, x0, wd, A_BOLD, "%s %lldx%lld  %s  break-even %.0f%s", r->name,
		    (long long)r->rows, (long long)r->cols, rk, r->break_even,
		    r->rank != RS_PLAN_DENSE && r->params > r->dense ? "  ! costs more than dense" :
		    r->rank != RS_PLAN_DENSE && r->params == r->dense ? "  ! saves nothing" : "");
	}
	if (sp->index != w->sel || (sp->rw == 0 && sp->rf == 0)) {
		put(y0 + 2, x0 + 1, wd - 2, A_NORMAL, "%s", w->busy && sp->index != w->sel ?
		    "(spectra shown when the job finishes)" : "no spectra for this matrix yet:");
		if (!w->busy || sp->index == w->sel) {
			put(y0 + 3, x0 + 3, wd - 4, A_NORMAL, "'spectra' computes the weight spectra;");
			put(y0 + 4, x0 + 3, wd - 4, A_NORMAL, "'calibrate FILE' then");
			put(y0 + 5, x0 + 3, wd - 4, A_NORMAL, "'spectra --kind feature' the feature ones.");
		}
		return;
	}
	rr = sp->rw > sp->rf ? sp->rw : sp->rf;
	en_h = h >= 14 ? 3 : h >= 9 ? 2 : 1;
	plot_h = h - 2 - en_h - 1;      /* title, legend, energy strip, energy label */
	if (plot_h < 2) {
		plot_h = h - 2;
		en_h = 0;
	}
	cw = wd - PLOT_MARGIN - 1;
	if (cw < 8 || (size_t)cw * (size_t)(plot_h > en_h ? plot_h : en_h) > sizeof cells[0])
		return;
	/* y range: log10 of the non-zero σ of both spectra. */
	{
		int first = 1;
		for (int s = 0; s < 2; s++) {
			const double *sv = s == 0 ? sp->sw : sp->sf;
			size_t n = s == 0 ? sp->rw : sp->rf;
			for (i = 0; i < n; i++) {
				if (sv[i] <= 0)
					continue;
				if (first || sv[i] > mxv)
					mxv = sv[i];
				if (first || sv[i] < mn)
					mn = sv[i];
				first = 0;
			}
		}
		if (first)
			return;
		hi = log10(mxv);
		lo = log10(mn);
		if (hi - lo < 1e-6)
			lo = hi - 1;
	}
	if (r->rank != RS_PLAN_DENSE && k > 0 && rr > 0)   /* dense: no marker at the edge */
		mx = (int)(((double)k - 0.5) * (double)cw / (double)rr);
	if (mx >= cw)
		mx = cw - 1;

	memset(cells, 0, sizeof cells);
	c.cw = cw;
	c.ch = plot_h;
	c.bits[0] = cells[0];
	c.bits[1] = cells[1];
	canvas_series(&c, 0, sp->sw, sp->rw, lo, hi, 1);
	canvas_series(&c, 1, sp->sf, sp->rf, lo, hi, 1);
	put(y0 + 1, x0, PLOT_MARGIN, A_NORMAL, "%6.0e", mxv);
	put(y0 + plot_h / 2 + 1, x0, PLOT_MARGIN + 2, A_NORMAL, "%s", w->utf8 ? " σ log" : " log s");
	put(y0 + plot_h, x0, PLOT_MARGIN, A_NORMAL, "%6.0e", mn);
	canvas_draw(w, &c, y0 + 1, x0 + PLOT_MARGIN, mx);
	if (en_h > 0) {
		memset(cells, 0, sizeof cells);
		c.ch = en_h;
		canvas_series(&c, 0, sp->ew, sp->rw, 0, 1, 0);
		canvas_series(&c, 1, sp->ef, sp->rf, 0, 1, 0);
		put(y0 + 1 + plot_h, x0, PLOT_MARGIN, A_NORMAL, "  100%%");
		put(y0 + plot_h + en_h, x0, PLOT_MARGIN, A_NORMAL, "energy");
		canvas_draw(w, &c, y0 + 1 + plot_h, x0 + PLOT_MARGIN, mx);
	}
	/* Axis ticks under the plots and the values at the rank. */
	put(y0 + h - 2, x0 + PLOT_MARGIN, cw, A_NORMAL, "1%*zu", cw - 1, rr);
	if (cw >= 24) {
		int lx = x0 + PLOT_MARGIN + (cw - 19) / 2;
		put(y0 + h - 2, lx, 16, wb_attr(w, PAIR_W, A_NORMAL), "%s", w->utf8 ? "⣿ weight" : "* weight");
		put(y0 + h - 2, lx + 9, 16, wb_attr(w, PAIR_F, A_BOLD), "%s",
		    w->utf8 ? "⣿ feature" : "o feature");
	}
	{
		char line[256];
		size_t at = 0;
		at += (size_t)snprintf(line + at, sizeof line - at, "%s %d: kept", r->rank == RS_PLAN_DENSE ? "dense, k =" : "rank", k);
		if (sp->rw > 0)
			at += (size_t)snprintf(line + at, sizeof line - at, " W %.1f%%",
			                       100.0 * sp->ew[(size_t)k - 1 < sp->rw ? (size_t)k - 1 : sp->rw - 1]);
		if (sp->rf > 0)
			at += (size_t)snprintf(line + at, sizeof line - at, " F %.1f%%",
			                       100.0 * sp->ef[(size_t)k - 1 < sp->rf ? (size_t)k - 1 : sp->rf - 1]);
		if (r->err >= 0)
			at += (size_t)snprintf(line + at, sizeof line - at, " err %.4f", r->err);
		put(y0 + h - 1, x0, wd, A_NORMAL, "%s", line);
	}
}

/* Byte offsets where text's screen rows start when wrapped at width columns (at most max
 * rows; the rest of a longer line is cut).  Returns the number of rows (at least 1). */
static int
wrap_rows(const char *text, int width, size_t *starts, int max)
{
	mbstate_t st;
	size_t at = 0, len = strlen(text);
	int n = 1, col = 0;

	starts[0] = 0;
	memset(&st, 0, sizeof st);
	while (at < len) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, text + at, len - at, &st);
		int cw = 1;
		if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
			memset(&st, 0, sizeof st);
			k = 1;
		} else if ((cw = wcwidth(wc)) < 0) {
			cw = 1;
		}
		if (col + cw > width) {
			if (n == max)
				break;
			starts[n++] = at;
			col = 0;
		}
		col += cw;
		at += k;
	}
	return n;
}

#define LOG_WRAP_MAX 64         /* screen rows one log line may take */

/* The log pane: a title line then the newest lines, wrapped at the width; log_scroll counts
 * screen rows back from the newest. */
static void
draw_log(struct wb *w, int y0, int h, int width)
{
	attr_t t = w->focus == WB_FOCUS_LOG ? A_BOLD | A_REVERSE : A_BOLD;
	int rows = h - 1, total = w->log_n + (w->partial_len > 0), i, vis = 0, skip, y;
	size_t starts[LOG_WRAP_MAX + 1];

	w->log_rows = rows;
	w->log_y = y0 + 1;
	w->log_w = width;
	if (w->utf8) {
		attron(A_DIM);
		for (i = 0; i < width; i++)
			mvaddstr(y0, i, "─");
		attroff(A_DIM);
	} else {
		mvhline(y0, 0, '-', width);
	}
	put(y0, 1, width - 2, t, " log%s%s ", w->log_scroll > 0 ? " (scrolled; End: newest)" : "",
	    w->zoom ? " (zoomed; z restores)" : "");
	for (i = 0; i < total; i++)     /* screen rows of the whole log */
		vis += wrap_rows(i < w->log_n ? w->log[(w->log_head + i) % w->log_cap].text :
		                 w->partial, width, starts, LOG_WRAP_MAX);
	if (w->log_scroll > vis - rows)
		w->log_scroll = vis - rows > 0 ? vis - rows : 0;
	/* fill from the bottom: the newest line's last row first, after the rows scrolled back */
	skip = w->log_scroll;
	y = rows - 1;
	if (vis < rows)
		y = vis - 1;
	for (i = total - 1; i >= 0 && y >= 0; i--) {
		const char *text;
		int kind, n, j;
		attr_t a;

		if (i < w->log_n) {
			const struct wb_line *l = &w->log[(w->log_head + i) % w->log_cap];
			text = l->text;
			kind = l->kind;
		} else {
			text = w->partial;
			kind = w->partial_kind;
		}
		a = kind == RS_OUT_ERROR ? wb_attr(w, PAIR_ERR, A_BOLD) :
		    kind == RS_OUT_INFO ? wb_attr(w, PAIR_INFO, A_DIM) :
		    kind == WB_LOG_ECHO ? wb_attr(w, PAIR_ECHO, A_BOLD) : A_NORMAL;
		n = wrap_rows(text, width, starts, LOG_WRAP_MAX);
		starts[n] = strlen(text);
		for (j = n - 1; j >= 0 && y >= 0; j--) {
			if (skip > 0) {
				skip--;
				continue;
			}
			attron(a);
			mvaddnstr(y0 + 1 + y, 0, text + starts[j], (int)(starts[j + 1] - starts[j]));
			attroff(a);
			y--;
		}
	}
}

/* The status line: the job's progress bar with ETA, or its outcome, or key hints. */
static void
draw_status(struct wb *w, int y, int width)
{
	attr_t a = wb_attr(w, PAIR_HEAD, A_REVERSE);

	fill(y, 0, width, a);
	if (w->ask_quit) {
		put(y, 1, width - 2, a | A_BOLD, "the plan has unsaved edits: quit? y/n");
		return;
	}
	if (w->busy) {
		/* the job's own words first (alloc bo: the trial and the best, its sub-step beside),
		 * then the bar and the counts; the words take what the counts leave */
		double done, total, el;
		char what[sizeof w->prog_what], right[160];
		struct timespec now;
		int bw = width >= 100 ? 30 : 16, x, room, cols, cut;

		pthread_mutex_lock(&w->mu);
		done = w->prog_done;
		total = w->prog_total;
		snprintf(what, sizeof what, "%s", w->prog_what[0] ? w->prog_what : w->job_name);
		pthread_mutex_unlock(&w->mu);
		clock_gettime(CLOCK_MONOTONIC, &now);
		el = (double)(now.tv_sec - w->job_t0.tv_sec) +
		     1e-9 * (double)(now.tv_nsec - w->job_t0.tv_nsec);
		if (total > 0 && done > 0)
			snprintf(right, sizeof right, " %.0f/%.0f %3.0f%%  %.1fs  ETA %.1fs  (Esc cancels) ",
			         done, total, 100.0 * done / total, el, el * (total - done) / done);
		else if (total > 0)
			snprintf(right, sizeof right, " %.0f/%.0f %3.0f%%  %.1fs  ETA -  (Esc cancels) ",
			         done, total, 0.0, el);
		else
			snprintf(right, sizeof right, " starting  %.1fs  (Esc cancels) ", el);
		room = width - 3 - bw - (int)strlen(right);
		if (room < 12)
			room = 12;
		/* cut at a character boundary (the words may hold UTF-8, e.g. '·') */
		for (cut = 0, cols = 0; what[cut] != '\0'; cut++) {
			if (((unsigned char)what[cut] & 0xC0) == 0x80)
				continue;
			if (cols == room)
				break;
			cols++;
		}
		what[cut] = '\0';
		put(y, 1, cut, a | A_BOLD, "%s", what);
		x = 2 + (cols < 12 ? 12 : cols);
		attroff(a);
		bar(w, y, x, bw, total > 0 ? done / total : 0, PAIR_BAR, -1);
		x += bw + 1;
		put(y, x, width - x, a, "%s", right);
		return;
	}
	if (w->focus != WB_FOCUS_CMD) {
		/* the state first (method, budget, plan [+], undo, filter), then the outcome or hints */
		char st[512];
		int n;
		ui_status_line(&w->view, &w->tab, st, sizeof st);
		n = (int)strlen(st);
		if (w->tab.filter_edit)
			put(y, 1, width - 2, a, "filter /%s_  (a pattern such as L1-3.* or *.up, or dense, "
			    "factored, over; Enter keeps it, Esc clears it)%s%s", w->tab.filter,
			    n > 0 ? "  | " : "", st);
		else if (w->job_summary[0] != '\0')
			put(y, 1, width - 2, a, "%s%s%s", st, n > 0 ? " | " : "", w->job_summary);
		else if (w->focus == WB_FOCUS_LOG)
			put(y, 1, width - 2, a, "%s%slog: Up/Down/PgUp/PgDn scroll, Home/End  Tab: "
			    "command line  : command  ? keys  q quit", st, n > 0 ? " | " : "");
		else
			put(y, 1, width - 2, a, "%s%s? keys  +/- rank  d dense  u undo  s sort  / filter  "
			    "L grid  c columns  D diff  : command  q quit", st, n > 0 ? " | " : "");
		return;
	}
	if (w->focus == WB_FOCUS_CMD)
		put(y, 1, width - 2, a, "command line: Enter runs, Tab completes (empty line: back "
		    "to the table), Up/Down history, Esc leaves%s%s",
		    w->job_summary[0] ? "  | " : "", w->job_summary);
	else if (w->focus == WB_FOCUS_LOG)
		put(y, 1, width - 2, a, "log: Up/Down/PgUp/PgDn scroll, Home/End  Tab: command line  "
		    ": command  ? keys  q quit");
	else
		put(y, 1, width - 2, a, "Up/Down move  +/- rank by %d  [/] by 1  = type rank  d dense  "
		    "u/r undo/redo  Tab focus  : command  ? keys  q quit", w->view.align > 0 ?
		    w->view.align : 8);
}

/* The command line: prompt and the readline buffer, scrolled to keep the cursor visible. */
static int cmd_cursor_x;

static void
draw_cmdline(struct wb *w, int y, int width)
{
	const char *prompt = ui_rl_prompt(), *line = ui_rl_line();
	int point = ui_rl_point(), pw = (int)strlen(prompt), col = 0, start = 0, avail;
	mbstate_t st;
	const char *p;

	move(y, 0);
	clrtoeol();
	attron(A_BOLD);
	mvaddstr(y, 0, prompt);
	attroff(A_BOLD);
	/* The cursor's column: display width of line[0..point). */
	memset(&st, 0, sizeof st);
	for (p = line; p < line + point && *p != '\0';) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, p, (size_t)(line + point - p), &st);
		int cw;
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof st);
			n = 1;
			cw = 1;
		} else {
			cw = wcwidth(wc);
			if (cw < 0)
				cw = 1;
		}
		col += cw;
		p += n;
	}
	avail = width - pw - 1;
	if (avail < 4)
		avail = 4;
	/* Scroll by whole bytes from the start (ASCII lines scroll exactly). */
	if (col >= avail)
		start = col - avail + 1;
	mvaddnstr(y, pw, line + (start < (int)strlen(line) ? start : 0), avail);
	cmd_cursor_x = pw + col - start;
	(void)w;
}

/* The key help, drawn over the panels: wrapped, scrolled by w->help_top (ui/pager.c). */
static void
draw_help(struct wb *w, int width, int height)
{
	enum { HELP_MAX = 64 };
	struct ui_pager_entry e[HELP_MAX];
	char label[HELP_MAX][24], text[HELP_MAX][320];
	const struct ui_key *k;
	int n = 0;

	for (k = ui_keys; k->label != NULL && n < HELP_MAX; k++, n++) {
		snprintf(label[n], sizeof label[n], "%s%s%s", k->label,
		         k->code2 > 32 && k->code2 < 127 ? ", " : "",
		         k->code2 > 32 && k->code2 < 127 ? (char[]){ (char)k->code2, 0 } : "");
		snprintf(text[n], sizeof text[n], "%s%s%s%s", k->help, k->command ? "  [" : "",
		         k->command ? k->command : "", k->command ? "]" : "");
		e[n].label = label[n];
		e[n].text = text[n];
	}
	ui_pager_draw("keys  (a key that edits runs the [command] shown, kept in the history)",
	    "? Esc q: close", e, n, &w->help_top, width, height);
}

void
wb_draw(struct wb *w)
{
	int width = COLS, height = LINES, main_h, log_h, tw;

	erase();
	w->table_w = w->log_w = 0;     /* a panel not drawn takes no clicks */
	w->too_small = width < 80 || height < 24;
	if (w->too_small) {
		const char *m1 = "rankscope needs a terminal of at least 80x24";
		char m2[64];
		snprintf(m2, sizeof m2, "(this one is %dx%d; q quits)", width, height);
		put(height / 2 - 1, width > (int)strlen(m1) ? (width - (int)strlen(m1)) / 2 : 0, width,
		    A_BOLD, "%s", m1);
		put(height / 2, width > (int)strlen(m2) ? (width - (int)strlen(m2)) / 2 : 0, width,
		    A_NORMAL, "%s", m2);
		refresh();
		return;
	}
	log_h = (height - 3) / 4;
	if (log_h < 5)
		log_h = 5;
	main_h = height - 3 - log_h;
	draw_budget(w, 0, width);
	/* side by side when the table's columns leave the spectrum panel 40 columns, else the
	 * table over the spectrum */
	tw = w->tab.grid || table_width(w) + 3 < 67 ? 67 : table_width(w) + 3;
	if (w->zoom) {          /* the focused panel (the one before the command line) alone */
		int panel = w->focus == WB_FOCUS_CMD ? w->prev_focus : w->focus;
		if (panel == WB_FOCUS_LOG)
			draw_log(w, 1, height - 3, width);
		else
			draw_table(w, 1, 0, height - 3, width);
	} else if (width >= 110 && tw <= width - 42) {
		draw_table(w, 1, 0, main_h, tw);
		if (w->utf8) {
			for (int y = 1; y < 1 + main_h; y++)
				mvaddstr(y, tw, "│");
		} else {
			mvvline(1, tw, '|', main_h);
		}
		draw_spectrum(w, 1, tw + 2, main_h, width - tw - 2);
	} else {
		int th = main_h * 11 / 20;
		draw_table(w, 1, 0, th, width);
		draw_spectrum(w, 1 + th, 0, main_h - th, width);
	}
	if (!w->zoom)
		draw_log(w, 1 + main_h, log_h, width);
	draw_status(w, height - 2, width);
	draw_cmdline(w, height - 1, width);
	if (w->tab.menu && !w->tab.grid)
		draw_column_menu(w, 2, 0, width);
	if (w->help)
		draw_help(w, width, height);
	wb_draw_cursor(w);
	refresh();
}

void
wb_draw_cursor(struct wb *w)
{
	if (w->focus == WB_FOCUS_CMD && !w->help && !w->too_small) {
		curs_set(1);
		move(LINES - 1, cmd_cursor_x < COLS ? cmd_cursor_x : COLS - 1);
	} else {
		curs_set(0);
	}
}
