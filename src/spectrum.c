/* spectrum.c: per-matrix spectrum summaries and the energy/error look-up (methods.md §1).
 *
 * Conventions follow WeightWatcher (CalculatedContent/WeightWatcher, weightwatcher.py,
 * RMT_Util.py, WW_powerlaw.py) where it defines the quantity:
 * - eigenvalues of X = WᵀW WITHOUT the 1/N factor: analyze() defaults to normalize=False,
 *   so λᵢ = σᵢ²;
 * - the power-law fit is WW's own WWFit (its default pl_package 'ww'): eigenvalues
 *   > EVALS_THRESH = 1e-5 only, at least MIN_NUM_EVALS = 10 of them, xmax = the largest,
 *   every eigenvalue but the largest tried as xmin;
 * - WW's "norm"/"spectral_norm" are Σλ = ‖W‖_F² and λ_max = σ₁²; we report ‖W‖_F and σ₁
 *   (so WW's log_norm = 2·log10_fro and log_spectral_norm = 2·log10_spec). */
#include "config.h"

#include "spectrum.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "status.h"

#define WW_EVALS_THRESH 1e-5    /* WeightWatcher constants.py EVALS_THRESH */
#define WW_MIN_NUM_EVALS 10     /* WeightWatcher constants.py MIN_NUM_EVALS */

/* Look-up tables: head[k] = Σ_{i≤k} σᵢ², tail[k] = Σ_{i>k} σᵢ², k = 0..r. */
struct rs_energy {
	size_t r;
	double total;           /* tail[0], summed from the smallest σ up */
	double *head;           /* (r+1) */
	double *tail;           /* (r+1) */
};

/* Check that sv[r] is a valid descending spectrum. */
static int
check_sv(const double *sv, size_t r, char **cause)
{
	size_t i;

	if (r == 0)
		return rs_fail(cause, RS_EINVAL, "spectrum: no singular values");
	for (i = 0; i < r; i++) {
		if (!isfinite(sv[i]) || sv[i] < 0.0)
			return rs_fail(cause, RS_EINVAL,
			    "spectrum: singular value %zu is %g", i + 1, sv[i]);
		if (i > 0 && sv[i] > sv[i - 1])
			return rs_fail(cause, RS_EINVAL,
			    "spectrum: singular values not descending at %zu (%g > %g)",
			    i + 1, sv[i], sv[i - 1]);
	}
	return RS_OK;
}

/* Points of the first, sparse look at a candidate's KS distance. */
#define KS_PROBE 32

/* Kolmogorov–Smirnov distance of the power law α from xmin = ev[i], or a value above `bound`
 * as soon as the distance is known to exceed it. */
static double
ks_distance(const double *lg, size_t count, size_t i, double a, double bound)
{
	size_t j, n = count - i;
	double d = 0.0, dev, nn = (double)n;

	/* WW's form: max_j |1 − (λ_{i+j}/xmin)^(1−α) − j/n|, j = 0..n−1 (the theoretical CDF
	 * against the empirical one at each point).  Every KS_PROBE-th point first: their
	 * maximum is a lower bound that rules most candidates out at a fraction of the cost. */
	for (j = 0; j < n; j += KS_PROBE) {
		dev = fabs(1.0 - exp((1.0 - a) * (lg[i + j] - lg[i])) - (double)j / nn);
		if (dev > bound)
			return dev;
	}
	for (j = 0; j < n; j++) {
		dev = fabs(1.0 - exp((1.0 - a) * (lg[i + j] - lg[i])) - (double)j / nn);
		if (dev > d) {
			d = dev;
			if (d > bound)
				break;
		}
	}
	return d;
}

/* Candidates of a first pass (every STRIDE-th xmin): a good bound early lets most of the
 * others stop after a few points, without changing which xmin wins. */
#define POWERLAW_STRIDE 64

/* Fit a power law to ascending eigenvalues, WeightWatcher's way. */
int
rs_spectrum_powerlaw(const double *ev, size_t count, double *alpha, double *xmin,
    double *D, double *sigma, size_t *ntail, char **cause)
{
	double *lg, *tail, best_d = INFINITY, best_a = NAN, s, a, d, sum, comp, y, t;
	size_t i, n, best = 0, pass;

	if (count < 2)
		return rs_fail(cause, RS_EINVAL, "power-law fit: %zu eigenvalues, need 2",
		    count);
	for (i = 0; i < count; i++)
		if (!isfinite(ev[i]) || !(ev[i] > 0.0) || (i > 0 && ev[i] < ev[i - 1]))
			return rs_fail(cause, RS_EINVAL,
			    "power-law fit: eigenvalue %zu (%g) not positive and ascending",
			    i, ev[i]);
	if ((lg = rs_mallocarray(2 * count, sizeof(double))) == NULL)
		return rs_fail(cause, RS_ENOMEM, "power-law fit: out of memory");
	tail = lg + count;
	for (i = 0; i < count; i++)
		lg[i] = log(ev[i]);
	/* tail[i] = Σ_{j≥i} (lg[j] − lg[0]), compensated (Neumaier), so that every candidate's
	 * Σ_{j≥i} ln(λ_j / xmin) = tail[i] − n_i·(lg[i] − lg[0]) costs O(1) */
	sum = comp = 0.0;
	for (i = count; i-- > 0;) {
		y = lg[i] - lg[0];
		t = sum + y;
		comp += fabs(sum) >= fabs(y) ? (sum - t) + y : (y - t) + sum;
		sum = t;
		tail[i] = sum + comp;
	}
	/* Pass 0 takes every POWERLAW_STRIDE-th candidate, pass 1 the rest; ties go to the
	 * smaller xmin, so the winner is the first minimum in xmin order, whatever the order of
	 * evaluation. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i + 1 < count; i++) {
			if ((i % POWERLAW_STRIDE == 0) != (pass == 0))
				continue;
			n = count - i;
			/* Continuous MLE with lower cut xmin = ev[i]: α = 1 + n / Σ_{j≥i} ln(λ_j/xmin) */
			s = tail[i] - (double)n * (lg[i] - lg[0]);
			if (!(s > 0.0))
				continue;               /* all equal: no fit from this xmin (D = 1) */
			a = 1.0 + (double)n / s;
			d = ks_distance(lg, count, i, a, best_d);
			if (d < best_d || (d == best_d && i < best)) {
				best_d = d;
				best_a = a;
				best = i;
			}
		}
	rs_free(lg);
	if (!isfinite(best_d))
		return rs_fail(cause, RS_EINVAL, "power-law fit: all eigenvalues are equal");
	*alpha = best_a;
	*xmin = ev[best];
	*D = best_d;
	*sigma = (best_a - 1.0) / sqrt((double)(count - best));
	*ntail = count - best;
	return RS_OK;
}

/* The power-law fields of *st, WeightWatcher's way, from σ (descending). */
static int
fit_alpha(const double *sv, size_t r, struct rs_spectrum_stats *st, char **cause)
{
	double *ev, lmax = sv[0] * sv[0], sum = 0.0;
	size_t i, count = 0;
	int err;

	st->alpha_ok = 0;
	st->alpha = st->alpha_xmin = st->alpha_D = st->alpha_sigma = -1.0;
	st->alpha_xmax = lmax;
	st->alpha_ntail = 0;
	st->alpha_weighted = st->log_alpha_norm = -1.0;
	for (i = 0; i < r; i++)
		if (sv[i] * sv[i] > WW_EVALS_THRESH)
			count++;
	if (count < WW_MIN_NUM_EVALS)
		return RS_OK;
	if ((ev = rs_mallocarray(count, sizeof(double))) == NULL)
		return rs_fail(cause, RS_ENOMEM, "spectrum: out of memory");
	/* λ = σ² ascending: the above-threshold σ are the first `count`, reversed. */
	for (i = 0; i < count; i++)
		ev[i] = sv[count - 1 - i] * sv[count - 1 - i];
	err = rs_spectrum_powerlaw(ev, count, &st->alpha, &st->alpha_xmin, &st->alpha_D,
	    &st->alpha_sigma, &st->alpha_ntail, cause);
	rs_free(ev);
	if (err == RS_EINVAL)
		return RS_OK;           /* degenerate spectrum: report "no fit" */
	if (err != 0)
		return err;
	st->alpha_ok = 1;
	/* WW: alpha_weighted = α·log10(λ_max); log_alpha_norm = log10(Σ λᵢ^α) over all λ. */
	st->alpha_weighted = st->alpha * log10(lmax);
	for (i = 0; i < r; i++)
		if (sv[i] > 0.0)
			sum += pow(sv[i] * sv[i], st->alpha);
	st->log_alpha_norm = log10(sum);
	return RS_OK;
}

/* Compute every per-matrix summary of a descending spectrum. */
int
rs_spectrum_stats(const double *sv, size_t r, size_t m, size_t n,
    struct rs_spectrum_stats *st, char **cause)
{
	double s2 = 0.0, s1 = 0.0, h = 0.0, hq = 0.0, p, head, rank;
	size_t i;
	int err;

	memset(st, 0, sizeof *st);
	if (r != (m < n ? m : n))
		return rs_fail(cause, RS_EINVAL,
		    "spectrum: %zu singular values for a %zux%zu matrix", r, m, n);
	if ((err = check_sv(sv, r, cause)) != 0)
		return err;
	if (sv[0] == 0.0)
		return rs_fail(cause, RS_EINVAL, "spectrum: all singular values are zero");
	st->m = m;
	st->n = n;
	st->r = r;
	/* Sums from the smallest σ up, for accuracy. */
	for (i = r; i-- > 0;) {
		s2 += sv[i] * sv[i];
		s1 += sv[i];
	}
	/* ‖W‖_F = sqrt(Σσ²); ‖W‖₂ = σ₁. */
	st->fro = sqrt(s2);
	st->log10_fro = log10(st->fro);
	st->spec = sv[0];
	st->log10_spec = log10(sv[0]);
	/* Stable rank Σσ²/σ₁² (= WW's norm/spectral_norm). */
	st->stable_rank = s2 / (sv[0] * sv[0]);
	/* Spectral entropy on the energy distribution pᵢ = σᵢ²/Σσ² (the variant WW's
	 * matrix_entropy uses), H = −Σ pᵢ ln pᵢ, effective rank exp(H).
	 * Roy–Vetterli (2007) effective rank uses qᵢ = σᵢ/Σσ instead: exp(−Σ qᵢ ln qᵢ). */
	for (i = 0; i < r; i++) {
		if (sv[i] == 0.0)
			continue;
		p = sv[i] * sv[i] / s2;
		h -= p * log(p);
		p = sv[i] / s1;
		hq -= p * log(p);
	}
	st->entropy = h;
	st->eff_rank = exp(h);
	st->eff_rank_rv = exp(hq);
	/* Numerical rank as numpy's matrix_rank with a float64 SVD (WW's matrix_rank):
	 * #σ > σ₁·max(m,n)·eps.  WW's entropy = H / ln(rank), rank 1 read as 1.000001. */
	for (i = 0; i < r; i++)
		if (sv[i] > sv[0] * (double)(m > n ? m : n) * DBL_EPSILON)
			st->num_rank++;
	rank = st->num_rank == 1 ? 1.000001 : (double)st->num_rank;
	st->entropy_ww = h / log(rank);
	/* Energy ranks: smallest k with Σ_{i≤k} σᵢ² / Σσ² ≥ t (as rs_energy_rank_for). */
	st->rank90 = st->rank95 = st->rank99 = r;
	head = 0.0;
	for (i = 0; i < r; i++) {
		head += sv[i] * sv[i];
		if (head / s2 >= 0.99 && st->rank99 == r)
			st->rank99 = i + 1;
		if (head / s2 >= 0.95 && st->rank95 == r)
			st->rank95 = i + 1;
		if (head / s2 >= 0.90 && st->rank90 == r)
			st->rank90 = i + 1;
	}
	/* Break-even rank: r(m+n) = m·n. */
	st->break_even = (double)m * (double)n / ((double)m + (double)n);
	return fit_alpha(sv, r, st, cause);
}

/* Build the head/tail sums of σ² for O(1) previews. */
struct rs_energy *
rs_energy_new(const double *sv, size_t r, char **cause)
{
	struct rs_energy *e;
	size_t k;

	if (check_sv(sv, r, cause) != 0)
		return NULL;
	if (r == SIZE_MAX || (e = rs_calloc(1, sizeof *e)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "spectrum: out of memory");
		return NULL;
	}
	e->head = rs_mallocarray(r + 1, sizeof(double));
	e->tail = rs_mallocarray(r + 1, sizeof(double));
	if (e->head == NULL || e->tail == NULL) {
		rs_energy_free(e);
		rs_fail(cause, RS_ENOMEM, "spectrum: out of memory");
		return NULL;
	}
	e->r = r;
	e->head[0] = 0.0;
	for (k = 0; k < r; k++)
		e->head[k + 1] = e->head[k] + sv[k] * sv[k];
	/* The tail is summed on its own, smallest first: error(k) needs it accurate even
	 * when it is a tiny fraction of the total (1 − energy would cancel). */
	e->tail[r] = 0.0;
	for (k = r; k-- > 0;)
		e->tail[k] = e->tail[k + 1] + sv[k] * sv[k];
	e->total = e->tail[0];
	return e;
}

/* Free an energy table. */
void
rs_energy_free(struct rs_energy *e)
{
	if (e == NULL)
		return;
	rs_free(e->head);
	rs_free(e->tail);
	rs_free(e);
}

/* Return the number of singular values. */
size_t
rs_energy_rank_max(const struct rs_energy *e)
{
	return e->r;
}

/* Return Σσ². */
double
rs_energy_total(const struct rs_energy *e)
{
	return e->total;
}

/* Return the energy fraction kept at rank k. */
double
rs_energy_kept(const struct rs_energy *e, size_t k)
{
	double v;

	if (k >= e->r || e->total == 0.0)
		return 1.0;
	v = e->head[k] / e->total;
	return v > 1.0 ? 1.0 : v;
}

/* Return the relative error at rank k from the tail sum. */
double
rs_energy_error(const struct rs_energy *e, size_t k)
{
	if (k >= e->r || e->total == 0.0)
		return 0.0;
	return sqrt(e->tail[k] / e->total);
}

/* Find the smallest rank reaching an energy target. */
size_t
rs_energy_rank_for(const struct rs_energy *e, double target)
{
	size_t lo = 0, hi = e->r, mid;

	if (!(target > 0.0))
		return 0;
	/* kept() is non-decreasing in k and kept(r) = 1: bisect for the first k with
	 * kept(k) ≥ target. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (rs_energy_kept(e, mid) >= target)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}
