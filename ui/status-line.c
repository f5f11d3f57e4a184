/* status-line.c: the text of the workbench's status line. */
#include "config.h"

#include "status-line.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Append a formatted segment to buf (at *at, n bytes), " | " before all but the first. */
static void
seg(char *buf, size_t n, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
seg(char *buf, size_t n, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*at >= n)
		return;
	if (*at > 0) {
		k = snprintf(buf + *at, n - *at, " | ");
		*at = k < 0 ? n : *at + (size_t)k > n ? n : *at + (size_t)k;
		if (*at >= n)
			return;
	}
	va_start(ap, fmt);
	k = vsnprintf(buf + *at, n - *at, fmt, ap);
	va_end(ap);
	*at = k < 0 ? n : *at + (size_t)k > n ? n : *at + (size_t)k;
}

void
ui_status_line(const struct ui_view *v, const struct ui_table *t, char *buf, size_t n)
{
	size_t at = 0;

	buf[0] = '\0';
	if (!v->loaded || n == 0)
		return;
	seg(buf, n, &at, "%s", v->method);
	if (v->budget > 0 && v->dense > 0) {
		/* the distance in points of the dense count, and in parameters */
		double pts = 100.0 * ((double)v->params - (double)v->budget) / (double)v->dense;
		char d[24];
		uint64_t gap = v->params > v->budget ? v->params - v->budget : v->budget - v->params;
		ui_fmt_count(d, sizeof d, gap);
		if (fabs(pts) < 0.05)
			seg(buf, n, &at, "budget %.1f%%: on target",
			    100.0 * (double)v->budget / (double)v->dense);
		else
			seg(buf, n, &at, "budget %.1f%%: %.1f pts %s (%c%s)",
			    100.0 * (double)v->budget / (double)v->dense, fabs(pts),
			    pts > 0 ? "over" : "under", pts > 0 ? '+' : '-', d);
	} else {
		seg(buf, n, &at, "no budget");
	}
	seg(buf, n, &at, "plan %s%s", v->plan_label[0] != '\0' ? v->plan_label : "(new)",
	    v->plan_unsaved ? " [+]" : "");
	if (v->redo_depth > 0)
		seg(buf, n, &at, "undo %d redo %d", v->undo_depth, v->redo_depth);
	else
		seg(buf, n, &at, "undo %d", v->undo_depth);
	if (t->filter[0] != '\0' || t->filter_edit)
		seg(buf, n, &at, "filter %s%s %d/%d", t->filter, t->filter_edit ? "_" : "",
		    t->n_order, v->n);
	if (t->sort != UI_COL_MATRIX || t->reverse)
		seg(buf, n, &at, "sort %s %s", ui_col_title(t->sort), t->reverse ? "desc" : "asc");
	if (t->diff != 0 && v->ref_ranks != NULL) {
		char d[24];
		long long dp = (long long)v->params - (long long)v->ref_total;
		ui_fmt_count(d, sizeof d, (uint64_t)(dp < 0 ? -dp : dp));
		seg(buf, n, &at, "diff vs %s %c%s", v->ref_label, dp < 0 ? '-' : '+', d);
	}
}
