/* atomic.h: files that appear whole or not at all.  Everything rankscope writes (plans, CSVs,
 * exports, plots, cache entries) goes to a temporary file in the target's directory, is fsynced,
 * and is renamed over the target; a crash or kill leaves the previous file intact.
 *
 * A killed writer leaves its temporary ("<target>.tmp.XXXXXX") behind; the next writer of the
 * same target removes it (rs_atomic_sweep).  Writers hold an flock on their temporary while
 * they write, so a live writer's temporary is never taken for a leftover. */
#ifndef RS_ATOMIC_H
#define RS_ATOMIC_H

#include <stdio.h>

struct rs_afile;

/* Start writing `path` (mode 0644): creates "<path>.tmp.XXXXXX" beside it.  NULL + cause. */
struct rs_afile *rs_afile_open(const char *path, char **cause);
/* The stdio stream to write into. */
FILE *rs_afile_stream(struct rs_afile *af);
/* Flush, fsync, rename over the target, fsync the directory; frees af.  On any error the
 * temporary file is removed, the target is untouched, and RS_EIO + cause is returned. */
int rs_afile_commit(struct rs_afile *af, char **cause);
/* Give up: remove the temporary file; frees af (NULL is fine). */
void rs_afile_abort(struct rs_afile *af);

/* Write a whole buffer atomically. */
int rs_afile_write_all(const char *path, const void *data, size_t len, char **cause);

/* Remove the leftovers of killed writers of `target`: entries beside it named exactly
 * "<target's name>.tmp.XXXXXX" (six letters or digits, as mkstemp/mkdtemp make them), a file or
 * a folder of files, that no live writer holds locked.  Nothing else is touched. */
void rs_atomic_sweep(const char *target);
/* Take the writer's lock on an open temporary file or folder (see rs_atomic_sweep). */
void rs_atomic_hold(int fd);

/* Create a directory and its parents (mode 0755); 0 or RS_EIO + cause. */
int rs_mkdir_p(const char *path, char **cause);

#endif
