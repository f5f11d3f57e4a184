/* stall.c: an LD_PRELOAD shim for tests/cli-atomic.sh.  The $RS_STALL_AT-th fsync() (default the
 * first) of a file whose path contains $RS_STALL_MATCH (default ".tmp.": the temporary file of
 * an atomic write) creates the file $RS_STALL_MARK and then sleeps forever, so that the test can
 * SIGKILL the process at exactly that point: the data written, nothing renamed yet. */
#define _GNU_SOURCE
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* fsync, stalling at the chosen temporary file. */
int
fsync(int fd)
{
	static int (*real_fsync)(int);
	static int seen;
	char link[64], target[4096];
	const char *mark = getenv("RS_STALL_MARK"), *at = getenv("RS_STALL_AT");
	const char *match = getenv("RS_STALL_MATCH");
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	if (n > 0 && mark != NULL) {
		target[n] = '\0';
		if (strstr(target, match != NULL ? match : ".tmp.") != NULL && ++seen >= (at != NULL ? atoi(at) : 1)) {
			int m = open(mark, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (m >= 0) {
				(void)write(m, target, (size_t)n);
				close(m);
			}
			for (;;)
				pause();
		}
	}
	if (real_fsync == NULL)
		real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real_fsync(fd);
}
