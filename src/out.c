/* out.c: formatted writes to an output sink. */
#include "config.h"

#include "out.h"

#include <stdio.h>

#include "alloc.h"

void
rs_out_vprintf(const struct rs_out *o, enum rs_out_kind kind, const char *fmt, va_list ap)
{
	char small[512];
	va_list ap2;
	char *big;
	int len;

	if (o == NULL || o->write == NULL)
		return;
	va_copy(ap2, ap);
	len = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		return;
	if ((size_t)len < sizeof small) {
		o->write(o->ud, kind, small, (size_t)len);
		return;
	}
	if ((big = rs_vstrdupf(fmt, ap)) == NULL) {
		o->write(o->ud, RS_OUT_ERROR, "out of memory\n", 14);
		return;
	}
	o->write(o->ud, kind, big, (size_t)len);
	rs_free(big);
}

void
rs_out_printf(const struct rs_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rs_out_vprintf(o, RS_OUT_TEXT, fmt, ap);
	va_end(ap);
}

void
rs_out_errorf(const struct rs_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rs_out_vprintf(o, RS_OUT_ERROR, fmt, ap);
	va_end(ap);
}

void
rs_out_infof(const struct rs_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rs_out_vprintf(o, RS_OUT_INFO, fmt, ap);
	va_end(ap);
}
