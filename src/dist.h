/* dist.h: the distribution layer: the ranks of a job and the few collective operations the
 * distributed commands need (calibrate, spectra, ppl, compare).  The core library knows only
 * this interface; the MPI implementation is compiled into rankscope-mpi alone (mpi/), and
 * dist.c gives the single-process one.  A session without one (NULL) is one process.
 *
 * Every operation is collective: every rank calls it, in the same order, with the same sizes
 * (gather: each rank its own).  They return 0 or RS_EIO with *cause.  Determinism: sum_f64
 * adds the ranks' buffers element by element in rank order (((b0 + b1) + b2) …) and gives
 * every rank the result, so the sum does not depend on timing or on the MPI library's
 * reduction tree (MPI_Reduce may pair ranks as it likes).  The MPI layer does it in pieces of
 * 8 MiB as a reduce-scatter (rank r adds slice r of every rank's piece) and an allgather:
 * each rank sends and receives about 2·n doubles whatever the number of ranks. */
#ifndef RS_DIST_H
#define RS_DIST_H

#include <stddef.h>

struct rs_dist {
	int rank, size;
	void *ctx;
	/* Wait for every rank. */
	int (*barrier)(void *ctx, char **cause);
	/* len bytes of buf from rank 0 to every rank (len the same on all). */
	int (*bcast)(void *ctx, void *buf, size_t len, char **cause);
	/* buf[0..n) := the sum over ranks in rank order, on every rank. */
	int (*sum_f64)(void *ctx, double *buf, size_t n, char **cause);
	/* Each rank's len bytes to rank 0, concatenated in rank order into a new *out (rank 0
	 * only; NULL elsewhere) of *out_len bytes; lens[r] (rank 0, size entries, may be NULL)
	 * receives each rank's length. */
	int (*gather)(void *ctx, const void *buf, size_t len, void **out, size_t *out_len,
	    size_t *lens, char **cause);
	/* What this rank is doing now ("calibrate, layer 3 of 6"): a fault report names it. */
	void (*step)(void *ctx, const char *what);
	/* Stop the whole job after a failure on this rank that the others cannot see (they may
	 * wait in a collective): prints reason with the rank named; does not return. */
	void (*abort)(void *ctx, const char *reason);
};

/* The single-process layer: rank 0 of 1, every operation a copy or nothing. */
void rs_dist_serial_init(struct rs_dist *d);

/* Non-zero when d spans more than one process (NULL: one). */
int rs_dist_active(const struct rs_dist *d);

/* The contiguous block [*first, *first + *count) of n items that rank r of size takes: the
 * first n % size ranks one more, in rank order. */
void rs_dist_block(long n, int r, int size, long *first, long *count);

/* Gather each rank's block and broadcast the concatenation (rank order) to every rank: a new
 * *out of *out_len bytes on every rank; lens as in gather (every rank, may be NULL). */
int rs_dist_allgather(const struct rs_dist *d, const void *buf, size_t len, void **out,
    size_t *out_len, size_t *lens, char **cause);

/* Record the step (printf-style) when d is distributed; nothing otherwise. */
void rs_dist_stepf(const struct rs_dist *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
