/* conffile.h: the user's defaults, $XDG_CONFIG_HOME/rankscope/config (default
 * ~/.config/rankscope/config): `key = value` lines, '#' starts a comment line, blank lines are
 * skipped.  Each key is a setting of `set` (method, asvd-alpha, rank-align or alignment, threads,
 * validation, mouse, colours or colors) and its value is given to `set` as typed, so the file
 * accepts exactly what `set` does.  Problems name the file and the line. */
#ifndef RS_CONFFILE_H
#define RS_CONFFILE_H

struct rs_session;

/* The config file's path (allocated), or NULL + cause when neither XDG_CONFIG_HOME nor HOME is
 * set. */
char *rs_conffile_path(char **cause);

/* Put each line's setting into the session.  *report (allocated, NULL when there is none)
 * gets one line per problem, "PATH:LINE: what" (an unknown key, a value `set` refuses, a line
 * that is no `key = value`), or "PATH: why" when the file cannot be read; a missing file is no
 * problem.  The lines before and after a bad one still apply.  Returns the number of
 * problems. */
int rs_conffile_apply(struct rs_session *s, const char *path, char **report);

#endif
