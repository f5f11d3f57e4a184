/* xdg.c: the XDG base directories. */
#include "config.h"

#include "xdg.h"

#include <stdlib.h>

#include "alloc.h"
#include "status.h"

char *
rs_xdg_path(enum rs_xdg kind, const char *tail, char **cause)
{
	static const char *const var[] = { "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
	                                    "XDG_DATA_HOME" };
	static const char *const under_home[] = { ".config", ".local/state", ".cache",
	                                          ".local/share" };
	const char *xdg = getenv(var[kind]), *home = getenv("HOME");
	char *p;

	if (xdg != NULL && xdg[0] == '/')
		p = rs_strdupf("%s/rankscope%s%s", xdg, tail != NULL ? "/" : "", tail != NULL ? tail : "");
	else if (home != NULL && home[0] != '\0')
		p = rs_strdupf("%s/%s/rankscope%s%s", home, under_home[kind], tail != NULL ? "/" : "",
		               tail != NULL ? tail : "");
	else {
		rs_fail(cause, RS_EIO, "neither %s nor HOME is set", var[kind]);
		return NULL;
	}
	if (p == NULL)
		rs_fail(cause, RS_ENOMEM, "out of memory");
	return p;
}
