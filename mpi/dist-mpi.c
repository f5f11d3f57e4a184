/* dist-mpi.c: the distribution layer over MPI and the job's fault report (see dist-mpi.h). */
#include "config.h"

#include "dist-mpi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "status.h"

/* Doubles per piece of a fixed-order sum: rank 0 holds size pieces at once. */
#define SUM_PIECE (1u << 20)
/* Bytes per broadcast call (MPI counts are int). */
#define BCAST_PIECE (1u << 30)
/* A status record: "S pid\nstep\n" padded with spaces to this size. */
#define RECORD 256
/* How long a survivor waits for the others to mark themselves stopped. */
#define SETTLE_NS 400000000L

struct mpi_dist {
	MPI_Comm comm;
	int rank, size;
	double *pieces;         /* every rank's copy of this rank's slice of a sum's piece */
};

/* What the SIGTERM handler needs, prepared beforehand (a handler may only use async-signal-safe
 * calls: open, pread, pwrite, close, nanosleep, write, _exit). */
struct fault_report {
	int rank, size;
	int fd;                 /* this rank's status file, -1 none */
	char **paths;           /* every rank's status file */
	char step[RECORD - 32];
};

/* The one report of this process (a signal handler reaches it only through a static). */
static struct fault_report report = { 0, 0, -1, NULL, "starting" };

/* Write this rank's record with state S ('R' running, 'T' stopped by a signal, 'A' aborted by
 * itself, 'D' done): async-signal-safe. */
static void
record_write(char state)
{
	char rec[RECORD];
	size_t i = 0, k;
	long pid = (long)getpid();
	char digits[24];
	int nd = 0;

	if (report.fd < 0)
		return;
	memset(rec, ' ', sizeof rec);
	rec[i++] = state;
	rec[i++] = ' ';
	do {
		digits[nd++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0);
	while (nd > 0)
		rec[i++] = digits[--nd];
	rec[i++] = '\n';
	for (k = 0; report.step[k] != '\0' && i < sizeof rec - 2; k++)
		rec[i++] = report.step[k];
	rec[i++] = '\n';
	if (pwrite(report.fd, rec, sizeof rec, 0) < 0)
		return;
}

/* Append s to buf at *at (bounded): async-signal-safe. */
static void
put_str(char *buf, size_t cap, size_t *at, const char *s)
{
	while (*s != '\0' && *at < cap - 1)
		buf[(*at)++] = *s++;
}

/* Append a non-negative integer. */
static void
put_int(char *buf, size_t cap, size_t *at, long v)
{
	char digits[24];
	int nd = 0;

	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (nd > 0 && *at < cap - 1)
		buf[(*at)++] = digits[--nd];
}

/* SIGTERM (Open MPI stopping the survivors of a dead rank): mark this rank stopped, let the
 * others do so, and the lowest survivor names the ranks that were neither stopped nor done. */
static void
on_sigterm(int sig)
{
	struct timespec settle = { 0, SETTLE_NS };
	char rec[RECORD + 1], line[1024];
	size_t at = 0;
	int r, fd, reporter = -1, dead = 0, aborted = 0;

	(void)sig;
	record_write('T');
	nanosleep(&settle, NULL);
	put_str(line, sizeof line, &at, "rankscope-mpi: ");
	for (r = 0; report.paths != NULL && r < report.size; r++) {
		ssize_t got = -1;
		if ((fd = open(report.paths[r], O_RDONLY | O_CLOEXEC)) >= 0) {
			got = pread(fd, rec, RECORD, 0);
			close(fd);
		}
		if (got < 2 || rec[0] == 'R') {
			/* no record, or still "running": this rank died */
			char *step = NULL, *end;
			if (got >= 2) {
				rec[got] = '\0';
				step = strchr(rec, '\n');
			}
			if (step != NULL && (end = strchr(step + 1, '\n')) != NULL)
				*end = '\0';
			if (dead++ > 0)
				put_str(line, sizeof line, &at, "; ");
			put_str(line, sizeof line, &at, "rank ");
			put_int(line, sizeof line, &at, r);
			put_str(line, sizeof line, &at, " stopped during ");
			put_str(line, sizeof line, &at, step != NULL ? step + 1 : "start-up");
		} else if (rec[0] == 'A') {
			aborted = 1;
		} else if (rec[0] == 'T' && reporter < 0) {
			reporter = r;
		}
	}
	if (dead > 0 && !aborted && reporter == report.rank) {
		put_str(line, sizeof line, &at, " (the process died: killed by a signal or out "
		    "of memory; the other ranks were stopped)\n");
		if (write(STDERR_FILENO, line, at) < 0)
			_exit(1);
		/* reported: the job's records have served */
		for (r = 0; r < report.size; r++)
			unlink(report.paths[r]);
	}
	_exit(1);
}

/* Record the step this rank is in. */
static void
mpi_step(void *ctx, const char *what)
{
	(void)ctx;
	snprintf(report.step, sizeof report.step, "%s", what);
	record_write('R');
}

/* A failure the other ranks cannot see: say so with the rank and step named, stop the job. */
static void
mpi_abort(void *ctx, const char *reason)
{
	struct mpi_dist *md = ctx;

	fprintf(stderr, "rankscope-mpi: rank %d stopped during %s: %s\n", md->rank, report.step,
	    reason);
	record_write('A');
	MPI_Abort(md->comm, 1);
	_exit(1);
}

/* Wait until every rank has arrived, sleeping between checks: a rank that waits in a blocking
 * collective polls at full speed (Open MPI's progress loop), and on a machine with as many ranks
 * as cores that steals the CPU the ranks still computing need.  The collective that follows
 * then finds everyone there. */
static int
wait_all(struct mpi_dist *md)
{
	struct timespec nap = { 0, 200000 };    /* 0.2 ms */
	MPI_Request req;
	int done = 0;

	if (md->size < 2)
		return 0;
	if (MPI_Ibarrier(md->comm, &req) != MPI_SUCCESS)
		return -1;
	for (;;) {
		if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
			return -1;
		if (done)
			return 0;
		nanosleep(&nap, NULL);
	}
}

/* Wait for every rank. */
static int
mpi_barrier(void *ctx, char **cause)
{
	struct mpi_dist *md = ctx;

	if (wait_all(md) != 0)
		return rs_fail(cause, RS_EIO, "MPI_Ibarrier failed");
	return 0;
}

/* Rank 0's bytes to every rank, in pieces of at most BCAST_PIECE. */
static int
mpi_bcast(void *ctx, void *buf, size_t len, char **cause)
{
	struct mpi_dist *md = ctx;
	char *p = buf;
	size_t part;

	if (wait_all(md) != 0)
		return rs_fail(cause, RS_EIO, "MPI_Ibarrier failed");
	for (; len > 0; p += part, len -= part) {
		part = len < BCAST_PIECE ? len : BCAST_PIECE;
		if (MPI_Bcast(p, (int)part, MPI_BYTE, 0, md->comm) != MPI_SUCCESS)
			return rs_fail(cause, RS_EIO, "MPI_Bcast failed");
	}
	return 0;
}

/* The sum over ranks in rank order (dist.h), per piece of SUM_PIECE doubles: a reduce-scatter
 * (rank r receives slice r of every rank's piece and adds them b0 + b1 + … in rank order),
 * then an allgather of the slices.  Each element is added in the same order as a gather to one
 * rank would add it, but every rank sends and receives about twice the piece whatever the
 * number of ranks, instead of rank 0 taking in (P − 1) pieces (docs/scale.md). */
static int
mpi_sum_f64(void *ctx, double *buf, size_t n, char **cause)
{
	struct mpi_dist *md = ctx;
	size_t off, part, i, slice;
	int r, P = md->size, *counts = NULL, *displs = NULL, rc = 0;
	double *mine;

	if (P == 1)
		return 0;
	if ((md->pieces == NULL &&
	    (md->pieces = rs_mallocarray((size_t)P * (SUM_PIECE / (size_t)P + 1), sizeof(double))) ==
	    NULL) || (counts = rs_mallocarray((size_t)P, sizeof *counts)) == NULL ||
	    (displs = rs_mallocarray((size_t)P, sizeof *displs)) == NULL)
		/* the others would wait in the exchange */
		mpi_abort(md, "out of memory for the reduction");
	for (off = 0; off < n && rc == 0; off += part) {
		part = n - off < SUM_PIECE ? n - off : SUM_PIECE;
		/* slice r of the piece: [displs[r], displs[r] + counts[r]) */
		for (r = 0; r < P; r++) {
			displs[r] = (int)(part * (size_t)r / (size_t)P);
			counts[r] = (int)(part * (size_t)(r + 1) / (size_t)P) - displs[r];
		}
		slice = (size_t)counts[md->rank];
		/* every rank's copy of my slice, rank after rank */
		{
			int *rcounts = rs_mallocarray((size_t)P, sizeof *rcounts);
			int *rdispls = rs_mallocarray((size_t)P, sizeof *rdispls);
			if (rcounts == NULL || rdispls == NULL)
				mpi_abort(md, "out of memory for the reduction");
			for (r = 0; r < P; r++) {
				rcounts[r] = (int)slice;
				rdispls[r] = (int)(slice * (size_t)r);
			}
			if (MPI_Alltoallv(buf + off, counts, displs, MPI_DOUBLE, md->pieces, rcounts,
			    rdispls, MPI_DOUBLE, md->comm) != MPI_SUCCESS)
				rc = rs_fail(cause, RS_EIO, "MPI_Alltoallv failed");
			rs_free(rcounts);
			rs_free(rdispls);
		}
		if (rc != 0)
			break;
		mine = buf + off + displs[md->rank];
		for (i = 0; i < slice; i++) {
			double sum = md->pieces[i];
			for (r = 1; r < P; r++)
				sum += md->pieces[(size_t)r * slice + i];
			mine[i] = sum;
		}
		if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf + off, counts, displs,
		    MPI_DOUBLE, md->comm) != MPI_SUCCESS)
			rc = rs_fail(cause, RS_EIO, "MPI_Allgatherv failed");
	}
	rs_free(counts);
	rs_free(displs);
	return rc;
}

/* Variable-size blocks to rank 0 in rank order (at most 2 GiB in all: MPI counts are int). */
static int
mpi_gather(void *ctx, const void *buf, size_t len, void **out, size_t *out_len, size_t *lens,
    char **cause)
{
	struct mpi_dist *md = ctx;
	unsigned long long mine = len, *all = NULL, total = 0;
	int *counts = NULL, *displs = NULL, r, rc = 0, ok = 1;

	*out = NULL;
	*out_len = 0;
	if (md->rank == 0 && (all = rs_calloc((size_t)md->size, sizeof *all)) == NULL)
		mpi_abort(md, "out of memory for a gather");
	if (wait_all(md) != 0)
		return rs_fail(cause, RS_EIO, "MPI_Ibarrier failed");
	if (MPI_Gather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, 0,
	    md->comm) != MPI_SUCCESS)
		return rs_fail(cause, RS_EIO, "MPI_Gather failed");
	if (md->rank == 0) {
		if ((counts = rs_calloc((size_t)md->size, sizeof *counts)) == NULL ||
		    (displs = rs_calloc((size_t)md->size, sizeof *displs)) == NULL)
			ok = 0;
		for (r = 0; ok && r < md->size; r++) {
			if (total + all[r] > INT_MAX) {
				ok = 0;
				break;
			}
			counts[r] = (int)all[r];
			displs[r] = (int)total;
			total += all[r];
		}
		if (ok && (*out = rs_malloc(total > 0 ? (size_t)total : 1)) == NULL)
			ok = 0;
		if (!ok) {
			/* the others are in the gather below: stop the job */
			fprintf(stderr, "rankscope-mpi: rank 0: gather of %llu bytes: out of memory or "
			    "over 2 GiB\n", total);
			MPI_Abort(md->comm, 1);
		}
	}
	if (mine > INT_MAX) {
		fprintf(stderr, "rankscope-mpi: rank %d: gather of %llu bytes: over 2 GiB\n",
		    md->rank, mine);
		MPI_Abort(md->comm, 1);
	}
	if (MPI_Gatherv(buf, (int)len, MPI_BYTE, *out, counts, displs, MPI_BYTE, 0, md->comm) !=
	    MPI_SUCCESS)
		rc = rs_fail(cause, RS_EIO, "MPI_Gatherv failed");
	if (md->rank == 0 && rc == 0) {
		*out_len = (size_t)total;
		for (r = 0; lens != NULL && r < md->size; r++)
			lens[r] = (size_t)all[r];
	}
	rs_free(all);
	rs_free(counts);
	rs_free(displs);
	return rc;
}

/* The status files of a job: rank 0 names the job, every rank learns the name. */
static int
fault_report_init(struct mpi_dist *md, const char *dir)
{
	char tag[64];
	struct sigaction sa;
	int r;

	memset(tag, 0, sizeof tag);
	if (md->rank == 0)
		snprintf(tag, sizeof tag, "%lx-%lx", (long)getpid(), (long)time(NULL));
	if (MPI_Bcast(tag, sizeof tag, MPI_CHAR, 0, md->comm) != MPI_SUCCESS)
		return -1;
	report.rank = md->rank;
	report.size = md->size;
	if (dir == NULL || (report.paths = rs_calloc((size_t)md->size, sizeof *report.paths)) ==
	    NULL)
		return 0;
	for (r = 0; r < md->size; r++)
		if ((report.paths[r] = rs_strdupf("%s/mpi-%s-rank%d.status", dir, tag, r)) == NULL)
			return 0;
	report.fd = open(report.paths[md->rank], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (report.fd < 0) {
		fprintf(stderr, "rankscope-mpi: rank %d: %s: %s (no fault report)\n", md->rank,
		    report.paths[md->rank], strerror(errno));
		return 0;
	}
	record_write('R');
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigterm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	/* every record exists before any rank can die and be looked for */
	return MPI_Barrier(md->comm) == MPI_SUCCESS ? 0 : -1;
}

/* Start MPI and the fault report; fill d (dist-mpi.h). */
int
rs_dist_mpi_init(struct rs_dist *d, int *argc, char ***argv, const char *status_dir)
{
	struct mpi_dist *md;
	int provided = MPI_THREAD_SINGLE;

	/* threads of our own (BLAS, the covariance fold, calibrate's cache writer) never call MPI */
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		fprintf(stderr, "rankscope-mpi: MPI_Init_thread failed\n");
		return -1;
	}
	if (provided < MPI_THREAD_FUNNELED) {
		fprintf(stderr, "rankscope-mpi: this MPI library does not allow threads beside the "
		    "main one (MPI_THREAD_FUNNELED)\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
		return -1;
	}
	if ((md = rs_calloc(1, sizeof *md)) == NULL) {
		fprintf(stderr, "rankscope-mpi: out of memory\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
		return -1;
	}
	md->comm = MPI_COMM_WORLD;
	MPI_Comm_rank(md->comm, &md->rank);
	MPI_Comm_size(md->comm, &md->size);
	memset(d, 0, sizeof *d);
	d->rank = md->rank;
	d->size = md->size;
	d->ctx = md;
	d->barrier = mpi_barrier;
	d->bcast = mpi_bcast;
	d->sum_f64 = mpi_sum_f64;
	d->gather = mpi_gather;
	d->step = mpi_step;
	d->abort = mpi_abort;
	if (fault_report_init(md, status_dir) != 0) {
		fprintf(stderr, "rankscope-mpi: rank %d: the job's start-up failed\n", md->rank);
		MPI_Abort(md->comm, 1);
		return -1;
	}
	return 0;
}

/* A normal end: record it, remove the status file, MPI_Finalize. */
void
rs_dist_mpi_finish(struct rs_dist *d)
{
	struct mpi_dist *md = d->ctx;
	int r;

	snprintf(report.step, sizeof report.step, "finishing");
	record_write('D');
	MPI_Barrier(md->comm);
	if (report.fd >= 0) {
		close(report.fd);
		unlink(report.paths[md->rank]);
		report.fd = -1;
	}
	for (r = 0; report.paths != NULL && r < report.size; r++)
		rs_free(report.paths[r]);
	rs_free(report.paths);
	report.paths = NULL;
	rs_free(md->pieces);
	rs_free(md);
	d->ctx = NULL;
	MPI_Finalize();
}
