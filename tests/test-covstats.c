/* test-covstats.c: pooled statistics against naive float64 sums, Cholesky regularization,
 * and the key identity: the feature error predicted from the spectrum alone equals the
 * error of the actually formed low-rank layer on the activations (explicit loops). */
#include "config.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdint.h>
#include <time.h>

#include "tap.h"

#include "alloc.h"
#include "covstats.h"
#include "linalg.h"
#include "spectrum.h"
#include "status.h"

#define TESTMAT_SEED 0x853c49e6748fea9bull
#include "testmat.h"


/* ntok×n activations with correlated features: x = mu + z·M, M (n×n) Gaussian with
 * column scales decaying over two decades. */
static float *
activations(size_t ntok, size_t n, const double *mu)
{
	double *mix = malloc(n * n * sizeof(double)), *z = malloc(n * sizeof(double)), acc;
	float *x = malloc(ntok * n * sizeof(float));
	size_t t, i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			mix[i * n + j] = gauss() * pow(10.0, -2.0 * (double)j / (double)n);
	for (t = 0; t < ntok; t++) {
		for (i = 0; i < n; i++)
			z[i] = gauss();
		for (j = 0; j < n; j++) {
			acc = mu[j];
			for (i = 0; i < n; i++)
				acc += z[i] * mix[i * n + j];
			x[t * n + j] = (float)acc;
		}
	}
	free(mix);
	free(z);
	return x;
}

/* Feed x (ntok×n) in uneven batches: 1, 17, 600, then the rest. */
static int
feed(struct rs_covstats *cs, const float *x, size_t ntok, size_t n, char **cause)
{
	static const size_t sizes[] = { 1, 17, 600 };
	size_t done = 0, k, i;
	int st;

	for (i = 0; done < ntok; i++) {
		k = i < 3 ? sizes[i] : ntok - done;
		if (k > ntok - done)
			k = ntok - done;
		if ((st = rs_covstats_add(cs, x + done * n, k, cause)) != 0)
			return st;
		done += k;
	}
	return 0;
}

/* Naive per-group mean, centred covariance and Gram in double, accumulated into the
 * equal-weight averages (numpy: x.mean(0), np.cov(x.T, bias=True), x.T@x/N). */
static void
naive_group(const float *x, size_t ntok, size_t n, double w, double *mean, double *cov,
    double *gram)
{
	double *mu = calloc(n, sizeof(double));
	size_t t, i, j;

	for (t = 0; t < ntok; t++)
		for (i = 0; i < n; i++)
			mu[i] += x[t * n + i];
	for (i = 0; i < n; i++) {
		mu[i] /= (double)ntok;
		mean[i] += w * mu[i];
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			double c = 0.0, g = 0.0;
			for (t = 0; t < ntok; t++) {
				c += (x[t * n + i] - mu[i]) * (x[t * n + j] - mu[j]);
				g += (double)x[t * n + i] * x[t * n + j];
			}
			cov[i * n + j] += w * c / (double)ntok;
			gram[i * n + j] += w * g / (double)ntok;
		}
	free(mu);
}

/* max |a − b| over max |b|. */
static double
rel_maxdiff(const double *a, const double *b, size_t count)
{
	double d = 0.0, s = 0.0;
	size_t i;

	for (i = 0; i < count; i++) {
		d = fmax(d, fabs(a[i] - b[i]));
		s = fmax(s, fabs(b[i]));
	}
	return d / s;
}

/* Pooled statistics of G groups of different sizes and means against naive sums. */
static void
check_pooled(size_t groups)
{
	/* fed last to first: two groups that cross a flush with one that does not between them
	 * (each group must start from zeroed accumulators) */
	static const size_t ntoks[] = { 500, 5000, 1300, 4200 };
	size_t n = 40, g, i;
	double *mu = malloc(n * 8), *mean = calloc(n, 8), *cov = calloc(n * n, 8);
	double *gram = calloc(n * n, 8), *gr = malloc(n * n * 8), em, ec, eg;
	float *x[4];
	struct rs_covstats *cs;
	char *cause = NULL;
	int st = 0;

	cs = rs_covstats_new(n, groups, &cause);
	for (g = 0; g < groups; g++) {
		/* Large, group-dependent means on a few dimensions. */
		for (i = 0; i < n; i++)
			mu[i] = gauss();
		mu[0] = 50.0 * (double)(g + 1);
		mu[3] = -200.0;
		x[g] = activations(ntoks[g], n, mu);
		naive_group(x[g], ntoks[g], n, 1.0 / (double)groups, mean, cov, gram);
	}
	/* Groups in a different order than their numbers. */
	for (g = groups; g-- > 0;) {
		st |= rs_covstats_begin_group(cs, g, &cause);
		st |= feed(cs, x[g], ntoks[g], n, &cause);
		st |= rs_covstats_end_group(cs, &cause);
	}
	tap_ok(rs_covstats_cov(cs) == NULL && rs_covstats_mean(cs) == NULL,
	    "no results before finish()");
	st |= rs_covstats_finish(cs, &cause);
	st |= rs_covstats_gram(cs, gr, &cause);
	em = rel_maxdiff(rs_covstats_mean(cs), mean, n);
	ec = rel_maxdiff(rs_covstats_cov(cs), cov, n * n);
	eg = rel_maxdiff(gr, gram, n * n);
	tap_ok(st == 0 && em < 1e-12 && ec < 1e-6 && eg < 1e-9,
	    "G=%zu pooled over %zu tokens: mean %.1e, covariance %.1e, Gram %.1e "
	    "(max rel diff from naive float64)", groups,
	    (size_t)rs_covstats_tokens(cs), em, ec, eg);
	{
		/* the same data again after a reset: the same bits as the first time */
		double *c1 = malloc(n * n * 8), *m1 = malloc(n * 8);
		memcpy(c1, rs_covstats_cov(cs), n * n * 8);
		memcpy(m1, rs_covstats_mean(cs), n * 8);
		rs_covstats_reset(cs);
		tap_ok(rs_covstats_cov(cs) == NULL && rs_covstats_tokens(cs) == 0,
		    "G=%zu: reset clears the results", groups);
		for (g = groups; g-- > 0;) {
			st |= rs_covstats_begin_group(cs, g, &cause);
			st |= feed(cs, x[g], ntoks[g], n, &cause);
			st |= rs_covstats_end_group(cs, &cause);
		}
		st |= rs_covstats_finish(cs, &cause);
		tap_ok(st == 0 && memcmp(c1, rs_covstats_cov(cs), n * n * 8) == 0 &&
		    memcmp(m1, rs_covstats_mean(cs), n * 8) == 0,
		    "G=%zu: after a reset the same data give the same statistics bit for bit",
		    groups);
		free(c1);
		free(m1);
	}
	for (g = 0; g < groups; g++)
		free(x[g]);
	rs_covstats_free(cs);
	free(mu);
	free(mean);
	free(cov);
	free(gram);
	free(gr);
	free(cause);
}

/* Misuse is refused with a cause; nothing crashes or leaks. */
static void
check_misuse(void)
{
	struct rs_covstats *cs;
	float x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	double g[16];
	char *cause = NULL;
	unsigned long k;
	int st, fails = 0;

	cs = rs_covstats_new(4, 2, &cause);
	st = rs_covstats_add(cs, x, 2, &cause);
	tap_ok(st == RS_EINVAL, "add before begin_group: %s", cause);
	st = rs_covstats_begin_group(cs, 2, &cause);
	tap_ok(st == RS_EINVAL, "group out of range: %s", cause);
	st = rs_covstats_begin_group(cs, 0, &cause);
	st |= rs_covstats_begin_group(cs, 1, &cause);
	tap_ok(st == RS_EINVAL, "two groups open: %s", cause);
	st = rs_covstats_end_group(cs, &cause);
	tap_ok(st == RS_EINVAL, "empty group: %s", cause);
	x[5] = NAN;
	st = rs_covstats_add(cs, x, 2, &cause);
	tap_ok(st == RS_EINVAL && rs_covstats_tokens(cs) == 0,
	    "NaN batch refused whole: %s", cause);
	x[5] = 6;
	st = rs_covstats_add(cs, x, 2, &cause);
	st |= rs_covstats_end_group(cs, &cause);
	st |= rs_covstats_begin_group(cs, 0, &cause) != RS_EINVAL;
	tap_ok(st == 0, "group 0 cannot be done twice");
	st = rs_covstats_finish(cs, &cause);
	tap_ok(st == RS_EINVAL, "finish with a group missing: %s", cause);
	st = rs_covstats_gram(cs, g, &cause);
	tap_ok(st == RS_EINVAL, "Gram before finish: %s", cause);
	rs_covstats_free(cs);
	/* Every allocation of new() failing in turn. */
	for (k = 1; k <= 12; k++) {
		rs_alloc_fail_at(k);
		cs = rs_covstats_new(4, 3, &cause);
		if (cs == NULL)
			fails++;
		rs_covstats_free(cs);
	}
	rs_alloc_fail_at(0);
	tap_ok(fails == 10, "each of new()'s 10 allocations failing gives NULL (%d did)",
	    fails);
	free(cause);
}

/* Too few tokens for the dimension: C is singular and the Cholesky must regularize. */
static void
check_singular(void)
{
	size_t n = 50, ntok = 20, i;
	double *mu = calloc(n, 8), *l = malloc(n * n * 8), lambda = -1.0;
	float *x = activations(ntok, n, mu);
	struct rs_covstats *cs = rs_covstats_new(n, 1, NULL);
	char *cause = NULL;
	int st;

	st = rs_covstats_begin_group(cs, 0, &cause);
	st |= rs_covstats_add(cs, x, ntok, &cause);
	st |= rs_covstats_end_group(cs, &cause);
	st |= rs_covstats_finish(cs, &cause);
	st |= rs_linalg_chol_reg(rs_covstats_cov(cs), n, l, &lambda, &cause);
	tap_ok(st == 0 && lambda > 0.0,
	    "covariance of %zu tokens in %zu dimensions: Cholesky regularized, λ = %g "
	    "reported", ntok, n, lambda);
	for (i = 0; i < n; i++)
		if (!(l[i * n + i] > 0.0))
			break;
	tap_ok(i == n, "regularized factor has a positive diagonal");
	rs_covstats_free(cs);
	free(mu);
	free(l);
	free(x);
	free(cause);
}

/* The key check for one W shape: predicted feature error = measured, both variants. */
static void
check_feature_error(struct rs_linalg_ws *ws, size_t m, size_t n)
{
	size_t ntok = 2000, r = m < n ? m : n, t, i, j, q, k, trial;
	double *mu = malloc(n * 8), *lc = malloc(n * n * 8), *lg = malloc(n * n * 8);
	double *gram = malloc(n * n * 8), *sv = malloc(r * 8), *sv2 = malloc(r * 8);
	double *uk = malloc(m * r * 8), *a = malloc(r * n * 8), *b = malloc(m * 8);
	double *h = malloc(r * 8), *wcw, *ev, lam_c, lam_g;
	double num, den, num_raw, den_raw, pred, meas, worst_c = 0.0, worst_w = 0.0, tot;
	float *w = malloc(m * n * 4), *x;
	struct rs_covstats *cs = rs_covstats_new(n, 1, NULL);
	struct rs_energy *ec, *eg;
	char *cause = NULL;
	int st;

	for (i = 0; i < n; i++)
		mu[i] = 3.0 * gauss();
	x = activations(ntok, n, mu);
	for (i = 0; i < m * n; i++)
		w[i] = (float)(gauss() / sqrt((double)n));
	st = rs_covstats_begin_group(cs, 0, &cause);
	st |= feed(cs, x, ntok, n, &cause);
	st |= rs_covstats_end_group(cs, &cause);
	st |= rs_covstats_finish(cs, &cause);
	st |= rs_covstats_gram(cs, gram, &cause);
	st |= rs_linalg_chol_reg(rs_covstats_cov(cs), n, lc, &lam_c, &cause);
	st |= rs_linalg_chol_reg(gram, n, lg, &lam_g, &cause);
	tap_ok(st == 0 && lam_c == 0.0 && lam_g == 0.0, "W %zux%zu: statistics of %zu tokens, "
	    "both Cholesky factors without regularization", m, n, ntok);

	/* σ(W·L) against sqrt(eig(W C Wᵀ)) from LAPACK directly. */
	st = rs_covstats_feature_spectrum(ws, w, m, n, lc, sv, &cause);
	wcw = calloc(m * m, 8);
	ev = malloc(m * 8);
	{
		const double *c = rs_covstats_cov(cs);
		double *wc = calloc(m * n, 8);
		for (i = 0; i < m; i++)
			for (j = 0; j < n; j++)
				for (q = 0; q < n; q++)
					wc[i * n + j] += w[i * n + q] * c[q * n + j];
		for (i = 0; i < m; i++)
			for (j = 0; j < m; j++)
				for (q = 0; q < n; q++)
					wcw[i * m + j] += wc[i * n + q] * w[j * n + q];
		free(wc);
	}
	LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (int)m, wcw, (int)m, ev);
	num = 0.0;
	for (i = 0; i < r; i++)
		num = fmax(num, fabs(sv[i] - sqrt(fmax(ev[m - 1 - i], 0.0))) / sv[0]);
	tap_ok(st == 0 && num < 1e-10,
	    "σ(W·L) = sqrt(eig(W C Wᵀ)) (dsyevd): max diff %.1e of σ₁", num);

	ec = rs_energy_new(sv, r, &cause);
	st = rs_covstats_feature_spectrum(ws, w, m, n, lg, sv2, &cause);
	eg = rs_energy_new(sv2, r, &cause);

	/* Total centred output energy: ‖W(X − μ1ᵀ)‖² = N Σσ². */
	tot = 0.0;
	for (t = 0; t < ntok; t++)
		for (i = 0; i < m; i++) {
			double acc = 0.0;
			for (j = 0; j < n; j++)
				acc += (double)w[i * n + j] * (x[t * n + j] - rs_covstats_mean(cs)[j]);
			tot += acc * acc;
		}
	tap_ok(tap_close(tot / (double)ntok, rs_energy_total(ec), 1e-6),
	    "‖W(X − μ)‖²/N = %.8g, Σσ² = %.8g", tot / (double)ntok, rs_energy_total(ec));

	for (trial = 0; trial < 5; trial++) {
		k = 1 + (size_t)(unif() * (double)(r - 1));
		if (trial == 0)
			k = 1;
		/* Centred: Ŵx + b = U_k (a x) + b, a = U_kᵀW. */
		st = rs_covstats_feature_pca(ws, w, m, n, lc, rs_covstats_mean(cs), k, uk, a, b,
		    NULL, &cause);
		num = den = num_raw = den_raw = 0.0;
		for (t = 0; t < ntok; t++) {
			const float *xt = x + t * n;
			for (q = 0; q < k; q++) {
				h[q] = 0.0;
				for (j = 0; j < n; j++)
					h[q] += a[q * n + j] * xt[j];
			}
			for (i = 0; i < m; i++) {
				double yi = 0.0, yc = 0.0, yh = b[i];
				for (j = 0; j < n; j++) {
					yi += (double)w[i * n + j] * xt[j];
					yc += (double)w[i * n + j] *
					    (xt[j] - rs_covstats_mean(cs)[j]);
				}
				for (q = 0; q < k; q++)
					yh += uk[i * k + q] * h[q];
				num += (yi - yh) * (yi - yh);
				den += yc * yc;
				num_raw += (yi - yh) * (yi - yh);
				den_raw += yi * yi;
			}
		}
		meas = sqrt(num / den);
		pred = rs_energy_error(ec, k);
		worst_c = fmax(worst_c, fabs(meas / pred - 1.0));
		tap_ok(st == 0 && fabs(meas / pred - 1.0) < 1e-4,
		    "centred PCA + bias, rank %zu: predicted %.8f, measured "
		    "‖WX − (ŴX + b)‖/‖W(X − μ)‖ %.8f (‖WX − ŴX − b‖/‖WX‖ = %.6f)", k, pred,
		    meas, sqrt(num_raw / den_raw));

		/* Uncentred whitened SVD: Ŵ = (U_kΣ_k)(V_kᵀL⁻¹). */
		st = rs_covstats_feature_whiten(ws, w, m, n, lg, k, uk, a, NULL, &cause);
		num = den = 0.0;
		for (t = 0; t < ntok; t++) {
			const float *xt = x + t * n;
			for (q = 0; q < k; q++) {
				h[q] = 0.0;
				for (j = 0; j < n; j++)
					h[q] += a[q * n + j] * xt[j];
			}
			for (i = 0; i < m; i++) {
				double yi = 0.0, yh = 0.0;
				for (j = 0; j < n; j++)
					yi += (double)w[i * n + j] * xt[j];
				for (q = 0; q < k; q++)
					yh += uk[i * k + q] * h[q];
				num += (yi - yh) * (yi - yh);
				den += yi * yi;
			}
		}
		meas = sqrt(num / den);
		pred = rs_energy_error(eg, k);
		worst_w = fmax(worst_w, fabs(meas / pred - 1.0));
		tap_ok(st == 0 && fabs(meas / pred - 1.0) < 1e-4,
		    "whitened SVD (Gram), rank %zu: predicted %.8f, measured ‖WX − ŴX‖/‖WX‖ "
		    "%.8f", k, pred, meas);
	}
	tap_diag("W %zux%zu: worst |measured/predicted − 1|: centred %.1e, whitened %.1e",
	    m, n, worst_c, worst_w);
	rs_energy_free(ec);
	rs_energy_free(eg);
	rs_covstats_free(cs);
	free(mu);
	free(lc);
	free(lg);
	free(gram);
	free(sv);
	free(sv2);
	free(uk);
	free(a);
	free(b);
	free(h);
	free(wcw);
	free(ev);
	free(w);
	free(x);
	free(cause);
}

/* ssyrk with float partial sums against a float64 dsyrk reference at n = 2048. */
static void
measure(void)
{
	size_t n = 2048, ntok = 4096, i;
	double *mu = malloc(n * 8), *xd, *cref, t, t_rs, t_d, e;
	float *x = malloc(ntok * n * 4);
	struct rs_covstats *cs;
	char *cause = NULL;
	int st;

	for (i = 0; i < n; i++)
		mu[i] = i % 97 == 0 ? 30.0 : 0.1 * gauss();
	for (i = 0; i < ntok * n; i++)
		x[i] = (float)(mu[i % n] + gauss());
	cs = rs_covstats_new(n, 1, &cause);
	t = tap_now();
	st = rs_covstats_begin_group(cs, 0, &cause);
	st |= rs_covstats_add(cs, x, ntok, &cause);
	st |= rs_covstats_end_group(cs, &cause);
	st |= rs_covstats_finish(cs, &cause);
	t_rs = tap_now() - t;
	/* Reference: convert, centre with the exact mean, dsyrk in double. */
	t = tap_now();
	xd = malloc(ntok * n * 8);
	cref = calloc(n * n, 8);
	for (i = 0; i < ntok * n; i++)
		xd[i] = x[i];
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, (int)ntok, 1.0, xd, (int)n,
	    0.0, cref, (int)n);
	t_d = tap_now() - t;
	{
		double *m1 = calloc(n, 8);
		size_t j, tt;
		for (tt = 0; tt < ntok; tt++)
			for (j = 0; j < n; j++)
				m1[j] += xd[tt * n + j] / (double)ntok;
		for (tt = 0; tt < ntok; tt++)
			for (j = 0; j < n; j++)
				xd[tt * n + j] -= m1[j];
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, (int)ntok,
		    1.0 / (double)ntok, xd, (int)n, 0.0, cref, (int)n);
		for (i = 0; i < n; i++)
			for (j = 0; j < i; j++)
				cref[i * n + j] = cref[j * n + i];
		free(m1);
	}
	e = rel_maxdiff(rs_covstats_cov(cs), cref, n * n);
	tap_ok(st == 0 && e < 1e-6, "n=2048, 4096 tokens (means up to 30): covariance max "
	    "rel diff from float64 dsyrk %.1e", e);
	tap_diag("n=2048, 4096 tokens, 1 BLAS thread: rs_covstats (ssyrk, float partial "
	    "sums) %.3f s; dsyrk on the batch converted to double %.3f s", t_rs, t_d);
	rs_covstats_free(cs);
	free(mu);
	free(x);
	free(xd);
	free(cref);
	free(cause);
}

/* A width past the threaded fold's threshold (covstats.c folds rows on the BLAS threads from
 * n = 1024): the pooled covariance still equals the naive float64 sums. */
static void
check_pooled_wide(void)
{
	static const size_t ntoks[] = { 300, 450, 260 };
	size_t n = 1100, g, i, groups = 3;
	double *mu = malloc(n * 8), *mean = calloc(n, 8), *cov = calloc(n * n, 8);
	double *gram = calloc(n * n, 8), ec;
	float *x[3];
	struct rs_covstats *cs;
	char *cause = NULL;
	int st = 0;

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	openblas_set_num_threads(2);
#endif
	cs = rs_covstats_new(n, groups, &cause);
	for (g = 0; g < groups; g++) {
		for (i = 0; i < n; i++)
			mu[i] = gauss();
		x[g] = activations(ntoks[g], n, mu);
		naive_group(x[g], ntoks[g], n, 1.0 / (double)groups, mean, cov, gram);
		st |= rs_covstats_begin_group(cs, g, &cause);
		st |= feed(cs, x[g], ntoks[g], n, &cause);
		st |= rs_covstats_end_group(cs, &cause);
	}
	st |= rs_covstats_finish(cs, &cause);
	ec = rel_maxdiff(rs_covstats_cov(cs), cov, n * n);
	tap_ok(st == 0 && ec < 1e-6, "n=%zu, G=3, folded on the BLAS threads: covariance %.1e from "
	    "naive float64", n, ec);
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	openblas_set_num_threads(1);
#endif
	for (g = 0; g < groups; g++)
		free(x[g]);
	rs_covstats_free(cs);
	free(mu);
	free(mean);
	free(cov);
	free(gram);
	free(cause);
}

int
main(void)
{
	struct rs_linalg_ws *ws;

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	openblas_set_num_threads(1);
#endif
	check_pooled(3);
	check_pooled(4);
	check_pooled(1);
	check_pooled_wide();
	check_misuse();
	check_singular();
	ws = rs_linalg_ws_new();
	check_feature_error(ws, 48, 64);
	check_feature_error(ws, 96, 40);
	rs_linalg_ws_free(ws);
	measure();
	return tap_done();
}
