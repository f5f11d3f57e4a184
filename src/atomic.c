/* atomic.c: temporary file, fsync, rename. */
#include "config.h"

#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "status.h"

struct rs_afile {
	char *path;     /* target */
	char *tmp;      /* temporary name beside it */
	FILE *f;
};

struct rs_afile *
rs_afile_open(const char *path, char **cause)
{
	struct rs_afile *af;
	int fd;

	if ((af = rs_calloc(1, sizeof *af)) == NULL ||
	    (af->path = rs_strdup(path)) == NULL ||
	    (af->tmp = rs_strdupf("%s.tmp.XXXXXX", path)) == NULL) {
		if (af != NULL) {
			rs_free(af->path);
			rs_free(af);
		}
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if ((fd = mkstemp(af->tmp)) < 0) {
		rs_fail(cause, RS_EIO, "%s: cannot create a temporary file beside it: %s", path,
		        strerror(errno));
		goto fail;
	}
	fchmod(fd, 0644);
	if ((af->f = fdopen(fd, "wb")) == NULL) {
		rs_fail(cause, RS_EIO, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(af->tmp);
		goto fail;
	}
	return af;
fail:
	rs_free(af->tmp);
	rs_free(af->path);
	rs_free(af);
	return NULL;
}

FILE *
rs_afile_stream(struct rs_afile *af)
{
	return af->f;
}

/* Free the handle's memory. */
static void
afile_free(struct rs_afile *af)
{
	rs_free(af->tmp);
	rs_free(af->path);
	rs_free(af);
}

/* fsync the directory holding path, so the rename itself is durable. */
static void
afile_sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	dir = slash == NULL ? rs_strdup(".") :
	    rs_strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (dir == NULL)
		return;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
	}
	rs_free(dir);
}

int
rs_afile_commit(struct rs_afile *af, char **cause)
{
	int err = 0;

	if (fflush(af->f) != 0 || ferror(af->f))
		err = errno ? errno : EIO;
	if (err == 0 && fsync(fileno(af->f)) != 0)
		err = errno;
	if (fclose(af->f) != 0 && err == 0)
		err = errno ? errno : EIO;
	af->f = NULL;
	if (err == 0 && rename(af->tmp, af->path) != 0)
		err = errno;
	if (err != 0) {
		unlink(af->tmp);
		rs_fail(cause, RS_EIO, "%s: %s (the previous file, if any, is untouched)",
		        af->path, strerror(err));
		afile_free(af);
		return RS_EIO;
	}
	afile_sync_dir(af->path);
	afile_free(af);
	return 0;
}

void
rs_afile_abort(struct rs_afile *af)
{
	if (af == NULL)
		return;
	if (af->f != NULL)
		fclose(af->f);
	unlink(af->tmp);
	afile_free(af);
}

int
rs_afile_write_all(const char *path, const void *data, size_t len, char **cause)
{
	struct rs_afile *af = rs_afile_open(path, cause);

	if (af == NULL)
		return RS_EIO;
	if (len > 0 && fwrite(data, 1, len, af->f) != len) {
		rs_fail(cause, RS_EIO, "%s: %s", path, strerror(errno));
		rs_afile_abort(af);
		return RS_EIO;
	}
	return rs_afile_commit(af, cause);
}

int
rs_mkdir_p(const char *path, char **cause)
{
	char *p, *s;

	if ((s = rs_strdup(path)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "out of memory");
	for (p = s + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(s, 0755) != 0 && errno != EEXIST) {
				int e = errno;
				rs_fail(cause, RS_EIO, "%s: cannot create directory: %s", s,
				        strerror(e));
				rs_free(s);
				return RS_EIO;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	rs_free(s);
	return 0;
}
