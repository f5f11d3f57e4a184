/* textfile.c: whole-file reads of texts. */
#include "config.h"

#include "textfile.h"

#include <string.h>

#include "alloc.h"
#include "mapfile.h"
#include "status.h"

#define TEXTFILE_MAX ((size_t)1 << 30)

int
rs_textfile_read(const char *path, char **text, size_t *len, char **cause)
{
	struct rs_mapfile *mf;
	char *buf;

	if ((mf = rs_mapfile_open(path, cause)) == NULL)
		return RS_EIO;
	if (mf->size > TEXTFILE_MAX) {
		rs_mapfile_close(mf);
		return rs_fail(cause, RS_EINVAL, "%s: larger than 1 GiB", path);
	}
	if (mf->size > 0 && memchr(mf->data, '\0', mf->size) != NULL) {
		rs_mapfile_close(mf);
		return rs_fail(cause, RS_EINVAL, "%s: holds NUL bytes: not a text file", path);
	}
	if ((buf = rs_malloc(mf->size + 1)) == NULL) {
		rs_mapfile_close(mf);
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	}
	if (mf->size > 0)
		memcpy(buf, mf->data, mf->size);
	buf[mf->size] = '\0';
	*text = buf;
	*len = mf->size;
	rs_mapfile_close(mf);
	return 0;
}
