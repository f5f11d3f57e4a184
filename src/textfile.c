/* textfile.c: whole-file reads of texts. */
#include "config.h"

#include "textfile.h"

#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cache.h"
#include "mapfile.h"
#include "status.h"
#include "tokenizer.h"

#define TEXTFILE_MAX ((size_t)1 << 30)

char *
rs_path_model_dir(const char *path)
{
	struct stat sb;
	char *d, *slash;

	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return rs_strdup(path);
	if ((d = rs_strdup(path)) == NULL)
		return NULL;
	if ((slash = strrchr(d, '/')) == NULL)
		strcpy(d, ".");
	else if (slash == d)
		slash[1] = '\0';
	else
		*slash = '\0';
	return d;
}

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

int
rs_textfile_tokens(const struct rs_tokenizer *t, const char *path, int32_t **ids, size_t *n,
                   uint64_t *text_hash, char **cause)
{
	char *text = NULL;
	size_t len;
	int rc;

	if ((rc = rs_textfile_read(path, &text, &len, cause)) != 0)
		return rc;
	if (text_hash != NULL)
		*text_hash = rs_hash64(text, len, 0);
	rc = rs_tokenizer_encode(t, text, len, 1, ids, n, cause);
	rs_free(text);
	return rc;
}
