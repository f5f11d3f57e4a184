/* out.h: where commands write.  Commands never touch stdout or a terminal: the batch front end
 * passes a sink that writes to stdout/stderr, the workbench one that appends to its log pane. */
#ifndef RS_OUT_H
#define RS_OUT_H

#include <stdarg.h>
#include <stddef.h>

enum rs_out_kind {
	RS_OUT_TEXT,   /* ordinary output */
	RS_OUT_ERROR,  /* one-line error messages */
	RS_OUT_INFO,   /* progress and notes (stderr in batch mode) */
};

struct rs_out {
	/* Write len bytes of text (may hold several lines or a partial one). */
	void (*write)(void *ud, enum rs_out_kind kind, const char *text, size_t len);
	void *ud;
};

void rs_out_printf(const struct rs_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rs_out_errorf(const struct rs_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rs_out_infof(const struct rs_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rs_out_vprintf(const struct rs_out *o, enum rs_out_kind kind, const char *fmt, va_list ap);

#endif
