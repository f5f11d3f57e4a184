/* status.c: cause messages. */
#include "config.h"

#include "status.h"

#include <stdarg.h>
#include <stdio.h>

#include "alloc.h"

int
rs_fail(char **cause, int status, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (cause == NULL)
		return status;
	va_start(ap, fmt);
	msg = rs_vstrdupf(fmt, ap);
	va_end(ap);
	rs_free(*cause);
	*cause = msg;	/* NULL when out of memory: callers print a generic message then */
	return status;
}

const char *
rs_status_str(int status)
{
	switch (status) {
	case RS_OK: return "ok";
	case RS_EIO: return "I/O error";
	case RS_EFORMAT: return "format error";
	case RS_ENOMEM: return "out of memory";
	case RS_EINVAL: return "invalid argument";
	case RS_EUNSUPPORTED: return "unsupported";
	case RS_ECANCEL: return "cancelled";
	case RS_EUSAGE: return "usage error";
	}
	return "error";
}
