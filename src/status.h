/* status.h: error values, cause messages and cancellable jobs shared by every core module.
 *
 * Convention (tmux's cause, Lua's status codes): a function that can fail returns 0 or a
 * negative RS_E* value and, when `cause` is not NULL, stores an allocated one-line message in
 * *cause that the caller shows and frees.  The message names the file and the problem. */
#ifndef RS_STATUS_H
#define RS_STATUS_H

#include <signal.h>
#include <stddef.h>

enum rs_status {
	RS_OK = 0,
	RS_EIO = -1,          /* open/read/write/mmap failed */
	RS_EFORMAT = -2,      /* the file's content is malformed */
	RS_ENOMEM = -3,       /* an allocation failed */
	RS_EINVAL = -4,       /* a request that cannot be met: a missing precondition, a value
	                         the model or the plan refuses (exit 1) */
	RS_EUNSUPPORTED = -5, /* well-formed but not something rankscope implements */
	RS_ECANCEL = -6,      /* the job was cancelled */
	RS_EUSAGE = -7,       /* the command line itself is wrong: unknown command or option, a
	                         missing or extra argument, a malformed option value (exit 2) */
};

/* Store a formatted message in *cause (freeing any previous one); no-op if cause is NULL.
 * Returns `status` so a caller can write `return rs_fail(cause, RS_EFORMAT, "...")`. */
int rs_fail(char **cause, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Short English name of a status ("format error", ...). */
const char *rs_status_str(int status);

/* A long computation's link to whoever started it: a cancel flag set from a signal handler or
 * another thread, and an optional progress report.  Every field may be zero/NULL. */
struct rs_job {
	volatile sig_atomic_t cancel;                 /* non-zero: stop at the next check */
	void (*progress)(void *ud, double done, double total, const char *what);
	void *ud;
};

/* True once the job has been asked to stop (NULL job: never). */
static inline int rs_job_cancelled(const struct rs_job *job)
{
	return job != NULL && job->cancel != 0;
}

/* Report progress if the job has a progress callback. */
static inline void rs_job_progress(const struct rs_job *job, double done, double total,
                                   const char *what)
{
	if (job != NULL && job->progress != NULL)
		job->progress(job->ud, done, total, what);
}

#endif
