/* fuzz.h: what the libFuzzer targets share: the hostile bytes written to a scratch file.
 *
 * The readers work on paths (they map files), so each input is written to a file in a
 * per-process scratch directory ($TMPDIR or /dev/shm) and opened from there.  Formats whose
 * tensor data is large are given `pad` zero bytes after the input (a sparse extension, free on
 * tmpfs), so that a seed made of a real file's header describes data that is there and the
 * fuzzer spends its time in the header, not in megabytes of weights. */
#ifndef RS_FUZZ_H
#define RS_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The scratch directory, created on first use. */
static inline const char *
fuzz_dir(void)
{
	static char dir[256];
	const char *base;

	if (dir[0] != '\0')
		return dir;
	base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof dir, "%s/rs-fuzz.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	return dir;
}

/* The path of `name` in the scratch directory (a static buffer per call site is not needed:
 * callers copy it). */
static inline void
fuzz_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", fuzz_dir(), name);
}

/* Write data (+ pad zero bytes) to path; aborts on I/O errors (they are not findings). */
static inline void
fuzz_write(const char *path, const uint8_t *data, size_t size, size_t pad)
{
	int fd;
	size_t off = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		perror(path);
		abort();
	}
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0) {
			perror(path);
			abort();
		}
		off += (size_t)w;
	}
	if (pad > 0 && ftruncate(fd, (off_t)(size + pad)) != 0) {
		perror(path);
		abort();
	}
	close(fd);
}

#endif
