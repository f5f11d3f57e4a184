/* covstats.c: pooled activation statistics and feature spectra (methods.md §2-3). */
#include "config.h"

#include "covstats.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "linalg.h"
#include "status.h"

#ifdef HAVE_OPENBLAS_GET_NUM_THREADS
int openblas_get_num_threads(void);
#endif

/* Tokens copied (shifted) into the float batch buffer per ssyrk call. */
#define CHUNK 512

struct rs_covstats {
	size_t n;               /* input dimension */
	size_t groups;          /* G */
	size_t ngdone;          /* groups ended */
	unsigned char *done;    /* (groups) 1 once group g has ended */
	int open;               /* a group is being accumulated */
	size_t cur;             /* the open group */
	int finished;
	uint64_t tokens;        /* over all groups */

	/* Accumulators of the open group (freed by finish()).  Between groups the upper
	 * triangles of s2 and part are zero: end_group clears what it consumed, so a group
	 * costs no n×n memset. */
	double *s2;             /* (n, n) Σ y yᵀ, y = x − shift; upper triangle */
	int s2_used;            /* a flush went into s2 in the open group */
	float *part;            /* (n, n) float partial of s2; upper triangle */
	float *buf;             /* (CHUNK, n) shifted batch */
	double *s1;             /* (n) Σ y */
	double *shift;          /* (n) the mean of the group's first batch */
	int have_shift;
	uint64_t count;         /* tokens in the open group */
	size_t since_flush;     /* tokens in part */

	/* Pooled results. */
	double *cov;            /* (n, n) Σ C_g / G; aliases s2 when G == 1 */
	double *mean;           /* (n) Σ μ_g / G */
	double *gmeans;         /* (groups, n) μ_g, for the Gram */
};

/* Multiply two sizes; 0 on overflow. */
static int
mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* count × size zero bytes, written rather than calloc'ed: a fresh calloc'ed page is first
 * read (the shared zero page) and then written, and that copy-on-write fault flushes the TLB
 * of every CPU; under a hypervisor this took 40% of a TinyLlama-shaped calibration. */
static void *
zeroed(size_t count, size_t size)
{
	void *p = rs_mallocarray(count, size);

	if (p != NULL)
		memset(p, 0, count * size);
	return p;
}

/* Allocate statistics for dimension n and `groups` groups. */
struct rs_covstats *
rs_covstats_new(size_t n, size_t groups, char **cause)
{
	struct rs_covstats *cs;
	size_t nn, gn, chunk;

	if (n == 0 || groups == 0 || n > (size_t)INT32_MAX) {
		rs_fail(cause, RS_EINVAL, "covstats: bad dimension %zu or group count %zu",
		    n, groups);
		return NULL;
	}
	if (!mul_size(n, n, &nn) || !mul_size(groups, n, &gn) || !mul_size(CHUNK, n, &chunk)) {
		rs_fail(cause, RS_ENOMEM, "covstats: %zu x %zu statistics overflow", n, groups);
		return NULL;
	}
	if ((cs = rs_calloc(1, sizeof *cs)) == NULL)
		goto nomem;
	cs->n = n;
	cs->groups = groups;
	if ((cs->done = rs_calloc(groups, 1)) == NULL ||
	    (cs->s2 = zeroed(nn, sizeof(double))) == NULL ||
	    (cs->part = zeroed(nn, sizeof(float))) == NULL ||
	    (cs->buf = rs_mallocarray(chunk, sizeof(float))) == NULL ||
	    (cs->s1 = rs_mallocarray(n, sizeof(double))) == NULL ||
	    (cs->shift = rs_mallocarray(n, sizeof(double))) == NULL ||
	    (cs->mean = rs_calloc(n, sizeof(double))) == NULL ||
	    (cs->gmeans = rs_mallocarray(gn, sizeof(double))) == NULL)
		goto nomem;
	if (groups == 1)
		cs->cov = cs->s2;
	else if ((cs->cov = zeroed(nn, sizeof(double))) == NULL)
		goto nomem;
	return cs;
nomem:
	rs_covstats_free(cs);
	rs_fail(cause, RS_ENOMEM, "covstats: out of memory for %zu-dimensional statistics", n);
	return NULL;
}

/* Release the accumulators that only the open group needs. */
static void
free_accumulators(struct rs_covstats *cs)
{
	if (cs->s2 != cs->cov)
		rs_free(cs->s2);
	cs->s2 = NULL;
	rs_free(cs->part);
	rs_free(cs->buf);
	rs_free(cs->s1);
	rs_free(cs->shift);
	cs->part = NULL;
	cs->buf = NULL;
	cs->s1 = cs->shift = NULL;
}

/* Free the statistics. */
void
rs_covstats_free(struct rs_covstats *cs)
{
	if (cs == NULL)
		return;
	free_accumulators(cs);
	rs_free(cs->cov);
	rs_free(cs->mean);
	rs_free(cs->gmeans);
	rs_free(cs->done);
	rs_free(cs);
}

/* Open group g for accumulation. */
int
rs_covstats_begin_group(struct rs_covstats *cs, size_t g, char **cause)
{
	size_t n = cs->n;

	if (cs->finished || cs->open)
		return rs_fail(cause, RS_EINVAL, "covstats: group %zu begun while %s", g,
		    cs->finished ? "finished" : "another group is open");
	if (g >= cs->groups || cs->done[g])
		return rs_fail(cause, RS_EINVAL, "covstats: group %zu %s (of %zu)", g,
		    g >= cs->groups ? "out of range" : "already done", cs->groups);
	memset(cs->s1, 0, n * sizeof(double));
	cs->s2_used = 0;
	cs->have_shift = 0;
	cs->count = 0;
	cs->since_flush = 0;
	cs->open = 1;
	cs->cur = g;
	return RS_OK;
}

/* Move the float partial sums into the double accumulator (upper triangles). */
static void
flush(struct rs_covstats *cs)
{
	size_t n = cs->n, i, j;

	if (cs->since_flush == 0)
		return;
	for (i = 0; i < n; i++)
		for (j = i; j < n; j++) {
			cs->s2[i * n + j] += cs->part[i * n + j];
			cs->part[i * n + j] = 0.0f;
		}
	cs->since_flush = 0;
	cs->s2_used = 1;
}

/* Accumulate a batch of activations into the open group. */
int
rs_covstats_add(struct rs_covstats *cs, const float *x, size_t n_tok, char **cause)
{
	size_t n = cs->n, t, i, k, done, count;
	const float *row;
	double acc;

	if (!cs->open)
		return rs_fail(cause, RS_EINVAL, "covstats: no group open");
	if (n_tok == 0)
		return RS_OK;
	if (!mul_size(n_tok, n, &count))
		return rs_fail(cause, RS_EINVAL, "covstats: batch of %zu tokens overflows",
		    n_tok);
	for (i = 0; i < count; i++)
		if (!isfinite(x[i]))
			return rs_fail(cause, RS_EINVAL,
			    "covstats: activation %zu of token %zu is not finite", i % n, i / n);
	if (!cs->have_shift) {
		/* Shift by the mean of (up to CHUNK of) the first tokens: accumulating
		 * x − shift keeps E[yyᵀ] − E[y]E[y]ᵀ free of cancellation. */
		k = n_tok < CHUNK ? n_tok : CHUNK;
		for (i = 0; i < n; i++) {
			acc = 0.0;
			for (t = 0; t < k; t++)
				acc += x[t * n + i];
			cs->shift[i] = acc / (double)k;
		}
		cs->have_shift = 1;
	}
	for (done = 0; done < n_tok; done += k) {
		k = n_tok - done;
		if (k > CHUNK)
			k = CHUNK;
		if (k > RS_COVSTATS_FLUSH - cs->since_flush)
			k = RS_COVSTATS_FLUSH - cs->since_flush;
		for (t = 0; t < k; t++) {
			row = x + (done + t) * n;
			for (i = 0; i < n; i++) {
				/* The mean's sum stays exact in double; only the rank-k
				 * update sees the float rounding of y. */
				acc = (double)row[i] - cs->shift[i];
				cs->buf[t * n + i] = (float)acc;
				cs->s1[i] += acc;
			}
		}
		/* part += bufᵀ·buf (upper triangle, row-major). */
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, (int)k, 1.0f,
		    cs->buf, (int)n, 1.0f, cs->part, (int)n);
		cs->since_flush += k;
		cs->count += k;
		cs->tokens += k;
		if (cs->since_flush >= RS_COVSTATS_FLUSH)
			flush(cs);
	}
	return RS_OK;
}

/* Fold rows [i0, i1) of the open group's sums into the pooled covariance (end_group).
 * Vectorized where the CPU allows; no contraction into fused multiply-adds, so every element
 * is rounded exactly as the scalar expression is, whatever the clone that runs. */
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize",
    "fp-contract=off")))
static void
fold_rows(struct rs_covstats *cs, size_t i0, size_t i1, double N, double inv_g, const double *d)
{
	size_t n = cs->n, i, j, k;
	double *s2 = cs->s2, *cov = cs->cov, c, di;
	float *part = cs->part;
	int used = cs->s2_used, alias = cs->cov == cs->s2;

	for (i = i0; i < i1; i++) {
		di = d[i];
		k = i * n;
		if (alias) {
			for (j = i; j < n; j++) {
				cov[k + j] = ((used ? s2[k + j] : 0.0) + (double)part[k + j]) / N -
				    di * d[j];
				part[k + j] = 0.0f;
			}
		} else if (used) {
			for (j = i; j < n; j++) {
				c = (s2[k + j] + (double)part[k + j]) / N - di * d[j];
				cov[k + j] += c * inv_g;
				part[k + j] = 0.0f;
				s2[k + j] = 0.0;
			}
		} else {
			for (j = i; j < n; j++) {
				c = (0.0 + (double)part[k + j]) / N - di * d[j];
				cov[k + j] += c * inv_g;
				part[k + j] = 0.0f;
			}
		}
	}
}

struct fold_job {
	struct rs_covstats *cs;
	size_t i0, i1;
	double N, inv_g;
	const double *d;
};

/* Thread body of fold_rows. */
static void *
fold_thread(void *arg)
{
	struct fold_job *f = arg;

	fold_rows(f->cs, f->i0, f->i1, f->N, f->inv_g, f->d);
	return NULL;
}

/* The fold over `threads` threads, rows split into equal shares of the triangle; below
 * FOLD_PARALLEL_N one thread (a thread costs more than the pass). */
#define FOLD_PARALLEL_N 1024
#define FOLD_MAX_THREADS 8

static void
fold(struct rs_covstats *cs, double N, double inv_g, const double *d)
{
	struct fold_job job[FOLD_MAX_THREADS];
	pthread_t tid[FOLD_MAX_THREADS];
	int started[FOLD_MAX_THREADS];
	size_t n = cs->n, i = 0, t, nt = 1;
	double total = (double)n * (double)(n + 1) / 2.0, acc = 0.0;

#ifdef HAVE_OPENBLAS_GET_NUM_THREADS
	/* OpenBLAS's threads are idle during the fold: the same budget, one level at a time */
	if (n >= FOLD_PARALLEL_N && openblas_get_num_threads() > 1)
		nt = (size_t)openblas_get_num_threads();
#endif
	if (nt > FOLD_MAX_THREADS)
		nt = FOLD_MAX_THREADS;
	for (t = 0; t < nt; t++) {
		job[t].cs = cs;
		job[t].N = N;
		job[t].inv_g = inv_g;
		job[t].d = d;
		job[t].i0 = i;
		while (i < n && (t + 1 == nt || acc < total * (double)(t + 1) / (double)nt))
			acc += (double)(n - i++);
		job[t].i1 = i;
		started[t] = 0;
	}
	for (t = 1; t < nt; t++)
		started[t] = pthread_create(&tid[t], NULL, fold_thread, &job[t]) == 0;
	fold_rows(cs, job[0].i0, job[0].i1, N, inv_g, d);
	for (t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			fold_rows(cs, job[t].i0, job[t].i1, N, inv_g, d);
	}
}

/* Close the open group and pool its mean and covariance. */
int
rs_covstats_end_group(struct rs_covstats *cs, char **cause)
{
	size_t n = cs->n, i;
	double N, inv_g, *mu, *d;

	if (!cs->open)
		return rs_fail(cause, RS_EINVAL, "covstats: no group open");
	if (cs->count == 0)
		return rs_fail(cause, RS_EINVAL, "covstats: group %zu has no tokens", cs->cur);
	N = (double)cs->count;
	inv_g = 1.0 / (double)cs->groups;
	mu = cs->gmeans + cs->cur * n;
	/* d = E[y] = μ_g − shift; reuse s1 for it. */
	d = cs->s1;
	for (i = 0; i < n; i++) {
		d[i] /= N;
		mu[i] = cs->shift[i] + d[i];
		cs->mean[i] += mu[i] * inv_g;
	}
	/* C_g = E[yyᵀ] − E[y]E[y]ᵀ (the shift cancels), pooled with weight 1/G; the last flush
	 * (s2 + part, as flush() adds them) is folded in, and s2 and part are left zero.  A
	 * group that never flushed has s2 = 0: only part is read. */
	fold(cs, N, inv_g, d);
	cs->since_flush = 0;
	cs->s2_used = 0;
	cs->done[cs->cur] = 1;
	cs->ngdone++;
	cs->open = 0;
	return RS_OK;
}

/* Complete the pooled statistics once every group is done. */
int
rs_covstats_finish(struct rs_covstats *cs, char **cause)
{
	if (cs->finished)
		return RS_OK;
	if (cs->open || cs->ngdone != cs->groups)
		return rs_fail(cause, RS_EINVAL, "covstats: %zu of %zu groups done%s",
		    cs->ngdone, cs->groups, cs->open ? ", one still open" : "");
	rs_linalg_mirror_upper(cs->cov, cs->n);
	cs->finished = 1;
	return RS_OK;
}

/* The pooled sums of the groups ended here, for a sum across processes (see covstats.h). */
int
rs_covstats_partial(struct rs_covstats *cs, double **cov, double **mean, double **gmeans,
    char **cause)
{
	size_t g;

	if (cs->open || cs->finished)
		return rs_fail(cause, RS_EINVAL, "covstats: partial sums taken while %s",
		    cs->open ? "a group is open" : "finished");
	for (g = 0; g < cs->groups; g++)
		if (!cs->done[g])
			memset(cs->gmeans + g * cs->n, 0, cs->n * sizeof(double));
	*cov = cs->cov;
	*mean = cs->mean;
	*gmeans = cs->gmeans;
	return RS_OK;
}

/* Every group done elsewhere or here: the reduced sums are the pooled statistics. */
int
rs_covstats_finish_reduced(struct rs_covstats *cs, uint64_t tokens, char **cause)
{
	if (cs->open || cs->finished)
		return rs_fail(cause, RS_EINVAL, "covstats: reduced sums finished while %s",
		    cs->open ? "a group is open" : "finished");
	memset(cs->done, 1, cs->groups);
	cs->ngdone = cs->groups;
	cs->tokens = tokens;
	return rs_covstats_finish(cs, cause);
}

/* Start over with the same dimension and groups, keeping the (already faulted-in) buffers. */
void
rs_covstats_reset(struct rs_covstats *cs)
{
	size_t n = cs->n;

	/* end_group left the upper triangles of s2 and part zero; cov is the result (and is s2
	 * when G = 1) */
	memset(cs->cov, 0, n * n * sizeof(double));
	memset(cs->mean, 0, n * sizeof(double));
	memset(cs->done, 0, cs->groups);
	cs->ngdone = 0;
	cs->open = 0;
	cs->finished = 0;
	cs->tokens = 0;
	cs->count = 0;
	cs->since_flush = 0;
	cs->s2_used = 0;
}

/* Return the input dimension. */
size_t
rs_covstats_dim(const struct rs_covstats *cs)
{
	return cs->n;
}

/* Return the number of tokens added. */
uint64_t
rs_covstats_tokens(const struct rs_covstats *cs)
{
	return cs->tokens;
}

/* Borrow the pooled centred covariance. */
const double *
rs_covstats_cov(const struct rs_covstats *cs)
{
	return cs->finished ? cs->cov : NULL;
}

/* Borrow the pooled mean. */
const double *
rs_covstats_mean(const struct rs_covstats *cs)
{
	return cs->finished ? cs->mean : NULL;
}

/* Build the pooled uncentred Gram matrix. */
int
rs_covstats_gram(const struct rs_covstats *cs, double *g, char **cause)
{
	size_t n = cs->n, i, j, k;
	const double *mu;
	double inv_g = 1.0 / (double)cs->groups;

	if (!cs->finished)
		return rs_fail(cause, RS_EINVAL, "covstats: statistics not finished");
	/* Gram_g = C_g + μ_g μ_gᵀ, so the equal-weight average is C + (1/G) Σ μ_g μ_gᵀ. */
	memcpy(g, cs->cov, n * n * sizeof(double));
	for (k = 0; k < cs->groups; k++) {
		mu = cs->gmeans + k * n;
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				g[i * n + j] += inv_g * mu[i] * mu[j];
	}
	return RS_OK;
}

/* W·L as doubles in ws's aux buffer (m×n) into *out. */
static int
times_l(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n, const double *l,
    double **out, char **cause)
{
	double *wl;
	size_t count, i;

	if (m == 0 || n == 0 || !mul_size(m, n, &count))
		return rs_fail(cause, RS_EINVAL, "feature spectrum: bad shape %zux%zu", m, n);
	if ((wl = rs_linalg_ws_aux(ws, count, cause)) == NULL)
		return RS_ENOMEM;
	for (i = 0; i < count; i++)
		wl[i] = w[i];
	*out = wl;
	return rs_linalg_trmm(l, n, wl, m, RS_LINALG_RIGHT, 0, cause);
}

/* Compute the singular values of W·L (from its Gram, as the weight spectra). */
int
rs_covstats_feature_spectrum(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n,
    const double *l, double *sv, char **cause)
{
	double *wl;
	int st;

	if ((st = times_l(ws, w, m, n, l, &wl, cause)) != 0)
		return st;
	return rs_linalg_svals_gram_f64(ws, wl, m, n, sv, cause);
}

/* Check a factor rank; W·L as doubles in ws's aux buffer into *wl. */
static int
factor_input(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n, const double *l,
    size_t k, double **wl, char **cause)
{
	size_t r = m < n ? m : n, mr, rn;

	if (k == 0 || k > r)
		return rs_fail(cause, RS_EINVAL, "feature factors: rank %zu outside 1..%zu",
		    k, r);
	if (!mul_size(m, r, &mr) || !mul_size(r, n, &rn))
		return rs_fail(cause, RS_EINVAL, "feature factors: bad shape %zux%zu", m, n);
	return times_l(ws, w, m, n, l, wl, cause);
}

/* Compute the centred feature-PCA factors and bias at rank k: from the eigenvectors of
 * (W·L)(W·L)ᵀ = W C Wᵀ when m ≤ n (a = U_kᵀ W from W itself), from those of (W·L)ᵀ(W·L) when
 * m > n (the smaller Gram: U_k Σ_k = W L V_k, normalized, and a = Σ_k V_kᵀ L⁻¹). */
int
rs_covstats_feature_pca(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n,
    const double *l, const double *mu, size_t k, double *uk, double *a, double *b,
    double *sv, char **cause)
{
	size_t r = m < n ? m : n, i, j;
	double *wl, *s, *z = NULL, *at = NULL, *wd, *proj;
	int st;

	if ((st = factor_input(ws, w, m, n, l, k, &wl, cause)) != 0)
		return st;
	if ((s = rs_mallocarray(r + k, sizeof(double))) == NULL)
		return rs_fail(cause, RS_ENOMEM, "feature factors: out of memory");
	proj = s + r;
	if (m <= n) {
		/* z = Uᵀ (m×m): U_k is the first k of its rows, transposed. */
		if ((z = rs_mallocarray(m * m, sizeof(double))) == NULL) {
			st = rs_fail(cause, RS_ENOMEM, "feature factors: out of memory");
			goto out;
		}
		if ((st = rs_linalg_gram_eig_f64(ws, wl, m, n, s, z, cause)) != 0)
			goto out;
		for (i = 0; i < m; i++)
			for (j = 0; j < k; j++)
				uk[i * k + j] = z[j * m + i];
		for (j = 0; j < r; j++)
			s[j] = sqrt(s[j] > 0 ? s[j] : 0);
	} else {
		/* z = W L V (m×r), at = Vᵀ: U_k = z_k Σ_k⁻¹, a = Σ_k V_kᵀ L⁻¹. */
		z = rs_mallocarray(m * r, sizeof(double));
		at = k < r ? rs_mallocarray(r * n, sizeof(double)) : a;
		if (z == NULL || at == NULL) {
			st = rs_fail(cause, RS_ENOMEM, "feature factors: out of memory");
			goto out;
		}
		if ((st = rs_linalg_gram_factors_f64(ws, wl, m, n, z, s, at, cause)) != 0)
			goto out;
		for (i = 0; i < m; i++)
			for (j = 0; j < k; j++)
				uk[i * k + j] = s[j] > 0 ? z[i * r + j] / s[j] : 0;
		if (at != a)
			memcpy(a, at, k * n * sizeof(double));
		if ((st = rs_linalg_trsm(l, n, a, k, RS_LINALG_RIGHT, 0, cause)) != 0)
			goto out;
		for (j = 0; j < k; j++)
			cblas_dscal((int)n, s[j], a + j * n, 1);
	}
	/* W as doubles (the aux buffer held W·L). */
	if ((wd = rs_linalg_ws_aux(ws, m * n, cause)) == NULL) {
		st = RS_ENOMEM;
		goto out;
	}
	for (i = 0; i < m * n; i++)
		wd[i] = w[i];
	if (m <= n)
		/* a = U_kᵀ W (k×n). */
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, (int)m, 1.0,
		    uk, (int)k, wd, (int)n, 0.0, a, (int)n);
	/* b = W μ − U_k (a μ): the part of the mean output the rank-k map cannot carry
	 * (a μ = U_kᵀ W μ), so that Ŵ μ + b = W μ. */
	cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)n, 1.0, wd, (int)n, mu, 1,
	    0.0, b, 1);
	cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)n, 1.0, a, (int)n, mu, 1, 0.0,
	    proj, 1);
	cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)k, -1.0, uk, (int)k, proj, 1,
	    1.0, b, 1);
	if (sv != NULL)
		memcpy(sv, s, r * sizeof(double));
out:
	rs_free(z);
	if (at != a)
		rs_free(at);
	rs_free(s);
	return st;
}

/* Compute the whitened-SVD factors at rank k: W·L ≈ (U Σ)(Vᵀ) from its smaller-side Gram
 * (rs_linalg_gram_factors_f64), then V_kᵀ L⁻¹. */
int
rs_covstats_feature_whiten(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n,
    const double *l, size_t k, double *us, double *vtl, double *sv, char **cause)
{
	size_t r = m < n ? m : n, i;
	double *wl, *s, *bb, *at;
	int st;

	if ((st = factor_input(ws, w, m, n, l, k, &wl, cause)) != 0)
		return st;
	/* At full rank the outputs are the factors' own arrays. */
	s = rs_mallocarray(r, sizeof(double));
	bb = k < r ? rs_mallocarray(m * r, sizeof(double)) : us;
	at = k < r ? rs_mallocarray(r * n, sizeof(double)) : vtl;
	if (s == NULL || bb == NULL || at == NULL) {
		st = rs_fail(cause, RS_ENOMEM, "feature factors: out of memory");
		goto out;
	}
	if ((st = rs_linalg_gram_factors_f64(ws, wl, m, n, bb, s, at, cause)) != 0)
		goto out;
	if (k < r) {
		for (i = 0; i < m; i++)
			memcpy(us + i * k, bb + i * r, k * sizeof(double));
		memcpy(vtl, at, k * n * sizeof(double));
	}
	/* V_kᵀ L⁻¹ (k×n): solved against L from the right. */
	st = rs_linalg_trsm(l, n, vtl, k, RS_LINALG_RIGHT, 0, cause);
	if (st == 0 && sv != NULL)
		memcpy(sv, s, r * sizeof(double));
out:
	if (bb != us)
		rs_free(bb);
	if (at != vtl)
		rs_free(at);
	rs_free(s);
	return st;
}
