/* atomic.c: temporary file, fsync, rename. */
#include "config.h"

#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "status.h"

struct rs_afile {
	char *path;     /* target */
	char *tmp;      /* temporary name beside it */
	FILE *f;
};

/* Non-zero when name is base + ".tmp." + exactly six letters or digits. */
static int
is_leftover(const char *name, const char *base, size_t blen)
{
	int i;

	if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0)
		return 0;
	name += blen + 5;
	for (i = 0; i < 6; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return name[6] == '\0';
}

/* Remove one leftover (a file, or a folder of files) unless a live writer holds its lock. */
static void
remove_leftover(const char *path)
{
	struct stat sb;
	struct dirent *e;
	DIR *d;
	int fd, folder;

	if (lstat(path, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)))
		return;
	folder = S_ISDIR(sb.st_mode);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (folder ? O_DIRECTORY : 0));
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return;
	}
	if (!folder) {
		unlink(path);
	} else if ((d = opendir(path)) != NULL) {
		/* an export's temporary folder holds files only */
		while ((e = readdir(d)) != NULL) {
			struct stat eb;
			if (fstatat(dirfd(d), e->d_name, &eb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    !S_ISDIR(eb.st_mode))
				unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
		rmdir(path);
	}
	close(fd);
}

void
rs_atomic_sweep(const char *target)
{
	char *copy, *base, *dir, *p;
	size_t n;
	struct dirent *e;
	DIR *d;

	if ((copy = rs_strdup(target)) == NULL)
		return;
	while ((n = strlen(copy)) > 1 && copy[n - 1] == '/')
		copy[n - 1] = '\0';
	if ((base = strrchr(copy, '/')) == NULL) {
		dir = ".";
		base = copy;
	} else {
		*base++ = '\0';
		dir = copy[0] != '\0' ? copy : "/";
	}
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    (d = opendir(dir)) == NULL) {
		rs_free(copy);
		return;
	}
	n = strlen(base);
	while ((e = readdir(d)) != NULL) {
		if (!is_leftover(e->d_name, base, n))
			continue;
		if ((p = rs_strdupf("%s/%s", dir, e->d_name)) != NULL) {
			remove_leftover(p);
			rs_free(p);
		}
	}
	closedir(d);
	rs_free(copy);
}

void
rs_atomic_hold(int fd)
{
	/* a fresh temporary: nobody else can hold it; a failure only weakens the sweep's check */
	(void)flock(fd, LOCK_EX | LOCK_NB);
}

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
	rs_atomic_sweep(path);
	if ((fd = mkstemp(af->tmp)) < 0) {
		rs_fail(cause, RS_EIO, "%s: cannot create a temporary file beside it: %s", path,
		        strerror(errno));
		goto fail;
	}
	rs_atomic_hold(fd);
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
	/* renamed while still open and locked, so no sweep takes it for a leftover */
	if (err == 0 && rename(af->tmp, af->path) != 0)
		err = errno;
	fclose(af->f);  /* flushed and synced above: nothing left to fail */
	af->f = NULL;
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
