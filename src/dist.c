/* dist.c: the single-process distribution layer and helpers over any (see dist.h). */
#include "config.h"

#include "dist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "status.h"

/* One process: every rank has arrived. */
static int
serial_barrier(void *ctx, char **cause)
{
	(void)ctx;
	(void)cause;
	return 0;
}

/* One process: rank 0's bytes are already here. */
static int
serial_bcast(void *ctx, void *buf, size_t len, char **cause)
{
	(void)ctx;
	(void)buf;
	(void)len;
	(void)cause;
	return 0;
}

/* One process: the sum over one rank is the buffer. */
static int
serial_sum_f64(void *ctx, double *buf, size_t n, char **cause)
{
	(void)ctx;
	(void)buf;
	(void)n;
	(void)cause;
	return 0;
}

/* One process: the concatenation is a copy of the one block. */
static int
serial_gather(void *ctx, const void *buf, size_t len, void **out, size_t *out_len,
    size_t *lens, char **cause)
{
	(void)ctx;
	if ((*out = rs_malloc(len > 0 ? len : 1)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "gather: out of memory");
	if (len > 0)
		memcpy(*out, buf, len);
	*out_len = len;
	if (lens != NULL)
		lens[0] = len;
	return 0;
}

/* One process: nobody to tell. */
static void
serial_step(void *ctx, const char *what)
{
	(void)ctx;
	(void)what;
}

/* One process: print and stop. */
static void
serial_abort(void *ctx, const char *reason)
{
	(void)ctx;
	fprintf(stderr, "rankscope: %s\n", reason);
	exit(1);
}

/* The single-process layer (dist.h). */
void
rs_dist_serial_init(struct rs_dist *d)
{
	memset(d, 0, sizeof *d);
	d->rank = 0;
	d->size = 1;
	d->barrier = serial_barrier;
	d->bcast = serial_bcast;
	d->sum_f64 = serial_sum_f64;
	d->gather = serial_gather;
	d->step = serial_step;
	d->abort = serial_abort;
}

/* More than one process? */
int
rs_dist_active(const struct rs_dist *d)
{
	return d != NULL && d->size > 1;
}

/* Rank r's contiguous block of n items, the first n % size ranks one more. */
void
rs_dist_block(long n, int r, int size, long *first, long *count)
{
	long base = n / size, extra = n % size;

	*count = base + (r < extra);
	*first = (long)r * base + (r < extra ? r : extra);
}

/* Gather to rank 0, then broadcast the concatenation and the lengths to every rank. */
int
rs_dist_allgather(const struct rs_dist *d, const void *buf, size_t len, void **out,
    size_t *out_len, size_t *lens, char **cause)
{
	unsigned long long total = 0;
	size_t *all_lens = NULL;
	int rc;

	*out = NULL;
	*out_len = 0;
	if ((all_lens = rs_calloc((size_t)d->size, sizeof *all_lens)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "gather: out of memory");
	if ((rc = d->gather(d->ctx, buf, len, out, out_len, all_lens, cause)) != 0)
		goto out;
	total = *out_len;
	if ((rc = d->bcast(d->ctx, &total, sizeof total, cause)) != 0 ||
	    (rc = d->bcast(d->ctx, all_lens, (size_t)d->size * sizeof *all_lens, cause)) != 0)
		goto out;
	if (d->rank != 0 && (*out = rs_malloc(total > 0 ? (size_t)total : 1)) == NULL) {
		/* the others would wait in the broadcast below */
		d->abort(d->ctx, "gather: out of memory");
	}
	*out_len = (size_t)total;
	if (total > 0 && (rc = d->bcast(d->ctx, *out, (size_t)total, cause)) != 0)
		goto out;
	if (lens != NULL)
		memcpy(lens, all_lens, (size_t)d->size * sizeof *lens);
out:
	if (rc != 0) {
		rs_free(*out);
		*out = NULL;
	}
	rs_free(all_lens);
	return rc;
}

/* Format and record the step when distributed. */
void
rs_dist_stepf(const struct rs_dist *d, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	if (!rs_dist_active(d))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	d->step(d->ctx, buf);
}
