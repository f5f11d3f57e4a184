/* test-xdg.c: the XDG base directories (the config file, history, kept plans, cache, plugins). */
#include "config.h"

#include "xdg.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tap.h"

/* rs_xdg_path(kind, tail) equals want (NULL: fails with a cause containing want_cause). */
static void
check(enum rs_xdg kind, const char *tail, const char *want, const char *want_cause,
      const char *what)
{
	char *cause = NULL, *p = rs_xdg_path(kind, tail, &cause);

	if (want != NULL)
		tap_ok(p != NULL && strcmp(p, want) == 0, "%s: %s", what, p != NULL ? p : cause);
	else
		tap_ok(p == NULL && cause != NULL && strstr(cause, want_cause) != NULL, "%s: %s",
		       what, cause != NULL ? cause : p);
	rs_free(p);
	rs_free(cause);
}

int
main(void)
{
	setenv("HOME", "/home/u", 1);
	setenv("XDG_CONFIG_HOME", "/cfg", 1);
	setenv("XDG_STATE_HOME", "relative/state", 1);
	unsetenv("XDG_CACHE_HOME");
	setenv("XDG_DATA_HOME", "", 1);
	check(RS_XDG_CONFIG, "config", "/cfg/rankscope/config", NULL,
	      "an absolute XDG_CONFIG_HOME is used");
	check(RS_XDG_STATE, "plans", "/home/u/.local/state/rankscope/plans", NULL,
	      "a relative XDG_STATE_HOME is ignored (the spec): HOME's default");
	check(RS_XDG_CACHE, NULL, "/home/u/.cache/rankscope", NULL,
	      "no XDG_CACHE_HOME: ~/.cache, no tail");
	check(RS_XDG_DATA, "plugins", "/home/u/.local/share/rankscope/plugins", NULL,
	      "an empty XDG_DATA_HOME: ~/.local/share");
	unsetenv("HOME");
	check(RS_XDG_CONFIG, "config", "/cfg/rankscope/config", NULL,
	      "without HOME an absolute variable still serves");
	check(RS_XDG_STATE, "plans", NULL, "XDG_STATE_HOME",
	      "neither variable nor HOME: an error naming the variable");
	return tap_done();
}
