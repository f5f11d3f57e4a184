/* gplot.h: drive a real gnuplot process to write a plot file.
 *
 * A script is built in memory (prelude choosing the terminal from the file name's extension,
 * data as inline datablocks, then a template from share/gnuplot/), piped to gnuplot's standard
 * input, and gnuplot writes into a temporary file beside the target that is renamed over the
 * target only when gnuplot exits 0.  gnuplot's standard error is captured: on failure it is the
 * error message; on success any warnings are passed back too.
 *
 * The program run is $RS_GNUPLOT, else the gnuplot found at configure time, else `gnuplot` on
 * PATH.  Templates are looked up in $RS_DATADIR/gnuplot, the installed $(pkgdatadir)/gnuplot,
 * and share/gnuplot beside or above the executable (an uninstalled build). */
#ifndef RS_GPLOT_H
#define RS_GPLOT_H

#include <stdarg.h>
#include <stddef.h>

enum rs_gplot_format {
	RS_GPLOT_PNG,
	RS_GPLOT_SVG,
	RS_GPLOT_PDF,
};

/* The format named by a path's extension (.png, .svg, .pdf; any case); RS_EINVAL + cause. */
int rs_gplot_format_of(const char *path, enum rs_gplot_format *fmt, char **cause);

/* Path of template `name` ("spectrum" -> ".../gnuplot/spectrum.gp"), allocated; NULL + cause
 * (naming the places searched) when it is nowhere. */
char *rs_gplot_template_path(const char *name, char **cause);

struct rs_gplot;

/* A new script that will write `out` (format from its extension).  NULL + cause. */
struct rs_gplot *rs_gplot_new(const char *out, char **cause);
void rs_gplot_free(struct rs_gplot *g);

/* Append text to the script (errors are remembered and reported by rs_gplot_render). */
void rs_gplot_printf(struct rs_gplot *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append a gnuplot string literal (single-quoted, quotes doubled) for arbitrary text. */
void rs_gplot_quoted(struct rs_gplot *g, const char *text);
/* Start / end an inline datablock `$name << EOD` ... `EOD`; rows go in with rs_gplot_printf. */
void rs_gplot_data_begin(struct rs_gplot *g, const char *name);
void rs_gplot_data_end(struct rs_gplot *g);
/* Append the contents of template `name`. */
void rs_gplot_template(struct rs_gplot *g, const char *name);

/* The script built so far (for debugging and tests). */
const char *rs_gplot_script(const struct rs_gplot *g);

/* Default canvas: 1000 x 600 pixels (PNG, SVG); a PDF gets 1 inch per 100 pixels. */
#define RS_GPLOT_WIDTH 1000
#define RS_GPLOT_HEIGHT 600

/* Canvas size in pixels (PNG, SVG; PDF: 1 inch per 100), 100..10000 each, else unchanged. */
void rs_gplot_set_size(struct rs_gplot *g, int width, int height);
/* Parse "WxH" (or "W,H") into a canvas size within 100..10000; RS_EUSAGE + cause. */
int rs_gplot_parse_size(const char *text, int *width, int *height, char **cause);
/* Also write the whole script gnuplot reads (prelude included) to `path` when rendering,
 * before gnuplot runs: it is there to read even when gnuplot fails or is missing. */
int rs_gplot_save_script(struct rs_gplot *g, const char *path, char **cause);

/* Run gnuplot on the script.  0: the target exists, whole; *warnings (if not NULL) gets
 * gnuplot's standard error when it said anything (allocated; NULL otherwise).  On failure:
 * RS_EUNSUPPORTED (gnuplot missing or lacking a terminal), RS_EIO (gnuplot failed: cause holds
 * its own first error lines), RS_ENOMEM; the target is left as it was.  RS_EIO when the script
 * copy (rs_gplot_save_script) cannot be written, before gnuplot runs. */
int rs_gplot_render(struct rs_gplot *g, char **warnings, char **cause);

#endif
