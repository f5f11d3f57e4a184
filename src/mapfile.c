/* mapfile.c: read-only mappings of model files. */
#include "config.h"

#include "mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "status.h"

struct rs_mapfile *
rs_mapfile_open(const char *path, char **cause)
{
	struct rs_mapfile *mf;
	struct stat st;
	void *p = NULL;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rs_fail(cause, RS_EIO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rs_fail(cause, RS_EIO, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			rs_fail(cause, RS_EIO, "%s: mmap: %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
	}
	close(fd);
	mf = rs_calloc(1, sizeof *mf);
	if (mf == NULL || (mf->path = rs_strdup(path)) == NULL) {
		if (p != NULL)
			munmap(p, (size_t)st.st_size);
		rs_free(mf);
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	mf->data = p;
	mf->size = (size_t)st.st_size;
	return mf;
}

void
rs_mapfile_close(struct rs_mapfile *mf)
{
	if (mf == NULL)
		return;
	if (mf->data != NULL)
		munmap((void *)mf->data, mf->size);
	rs_free(mf->path);
	rs_free(mf);
}

/* Only whole pages inside the range: a neighbouring tensor's first or last page stays. */
void
rs_mapfile_release(const void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t lo, hi;

	if (p == NULL || len == 0 || page <= 0)
		return;
	lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	hi = ((uintptr_t)p + len) & ~((uintptr_t)page - 1);
	/* posix_madvise(POSIX_MADV_DONTNEED) is a no-op in glibc; madvise drops the pages */
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
