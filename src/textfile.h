/* textfile.h: read a whole text file (evaluation and calibration texts). */
#ifndef RS_TEXTFILE_H
#define RS_TEXTFILE_H

#include <stddef.h>

/* Read `path` into an allocated NUL-terminated buffer (len excludes the NUL).  Refuses files
 * over 1 GiB and files holding NUL bytes (not text).  0 or RS_E* with a cause naming the file. */
int rs_textfile_read(const char *path, char **text, size_t *len, char **cause);

#endif
