/* mapfile.h: a whole file mapped read-only.  Model weights stay in the page cache in their
 * own dtype; nothing in rankscope ever writes through this mapping. */
#ifndef RS_MAPFILE_H
#define RS_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

struct rs_mapfile {
	char *path;           /* owned copy of the path, for messages */
	const uint8_t *data;  /* size bytes, read-only; NULL for an empty file */
	size_t size;
};

/* Map `path` read-only.  Returns NULL and sets *cause on failure (not a regular file, I/O). */
struct rs_mapfile *rs_mapfile_open(const char *path, char **cause);
void rs_mapfile_close(struct rs_mapfile *mf);

/* Drop this process's pages of a read-only file mapping that lie wholly inside [p, p + len)
 * (madvise MADV_DONTNEED): they stop counting in the resident set, the page cache may keep
 * them, and a later read faults them in again with the same bytes, since nothing ever wrote
 * through the mapping.  p must point into a mapping from rs_mapfile_open: on anonymous or heap
 * memory this would zero the range. */
void rs_mapfile_release(const void *p, size_t len);

#endif
