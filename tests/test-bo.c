/* test-bo.c: expected improvement against its formula written out here (Φ from erfc),
 * the σ → 0 limit, the far tail against the asymptotic series of the Mills ratio; the
 * optimizer on Branin (global minimum 0.397887 at three points), with and without a
 * feasibility constraint; reproducibility from the seed and after a resume; batches of q
 * points per round (constant liar): distinct feasible points, the observations untouched,
 * a shorter round a prefix of a longer one, reproducible and resumable, and Branin still
 * found.
 *
 * RS_BO_SWEEP=N in the environment also runs Branin for seeds 1..N and reports how often
 * the 30-trial budget reaches the minimum to within 0.05, sequentially and in rounds of 2
 * and 4 (not part of make check). */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "tap.h"

#include "alloc.h"
#include "bo.h"
#include "status.h"

#define BRANIN_MIN 0.397887357729739
#define TEST_SEED 42

/* Φ and φ written out. */
static double
Phi(double z)
{
	return 0.5 * erfc(-z / sqrt(2.0));
}

static double
phi(double z)
{
	return exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
}

/* EI by the textbook formula. */
static double
ei_ref(double mu, double sigma, double fbest, double xi)
{
	double imp = fbest - xi - mu, z = imp / sigma;

	return imp * Phi(z) + sigma * phi(z);
}

/* EI at known points, the σ → 0 limit, the far tail and the derivatives of log EI. */
static void
test_ei(void)
{
	static const double cases[][4] = {       /* mu, sigma, fbest, xi */
		{ 1.0, 1.0, 1.0, 0.0 },         /* z = 0: σ φ(0) */
		{ 0.0, 0.5, 1.0, 0.0 },         /* z = 2 */
		{ 2.0, 1.0, 1.0, 0.0 },         /* z = −1 */
		{ 3.5, 1.0, 1.0, 0.5 },         /* z = −3, the branch point */
		{ 5.0, 0.8, 1.0, 0.0 },         /* z = −5 */
		{ 11.0, 1.0, 1.0, 0.0 },        /* z = −10 */
		{ 40.0, 2.0, 0.0, 0.0 },        /* z = −20 */
		{ -3.0, 0.01, 1.0, 0.1 },       /* z = 390 */
	};
	size_t i;
	double e, r, l, dmu, dsd, h, lp, lm, t, s, ser, ref;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const double *c = cases[i];

		e = rs_bo_ei(c[0], c[1], c[2], c[3]);
		r = ei_ref(c[0], c[1], c[2], c[3]);
		/* the direct formula cancels about log10(z²) digits in the lower tail */
		double z = (c[2] - c[3] - c[0]) / c[1];

		/* the direct formula cancels about log10(z²) digits in the lower tail */
		tap_ok(fabs(e - r) <= 1e-13 * (1 + z * z) * r, "EI(mu %g, sigma %g, f* %g, xi %g) "
		    "= %.15g (formula %.15g)", c[0], c[1], c[2], c[3], e, r);
	}
	tap_ok(fabs(rs_bo_ei(1.0, 1.0, 1.0, 0.0) - 1.0 / sqrt(2.0 * M_PI)) < 1e-15,
	    "EI at z = 0 is σ/√(2π)");

	/* σ → 0: EI → max(f* − ξ − μ, 0) */
	tap_ok(fabs(rs_bo_ei(0.3, 0.0, 1.0, 0.1) - 0.6) < 1e-15 &&
	    rs_bo_ei(2.0, 0.0, 1.0, 0.0) == 0.0 && rs_bo_ei(1.0, 0.0, 1.0, 0.0) == 0.0,
	    "sigma = 0: EI is max(f* - xi - mu, 0)");
	e = rs_bo_ei(0.3, 1e-12, 1.0, 0.1);
	tap_ok(fabs(e - 0.6) < 1e-14, "sigma = 1e-12, improvement 0.6: EI = %.17g", e);
	e = rs_bo_ei(2.0, 1e-12, 1.0, 0.0);
	tap_ok(e == 0.0, "sigma = 1e-12, no improvement: EI = %g", e);
	for (s = 1e-2; s > 1e-9; s /= 10) {
		e = rs_bo_ei(1.0, s, 1.0, 0.0);
		if (fabs(e - s / sqrt(2.0 * M_PI)) > 1e-15 * s)
			break;
	}
	tap_ok(s <= 1e-9, "sigma -> 0 at z = 0: EI = sigma/sqrt(2 pi) down to 1e-9");

	/* far tail, where EI underflows: log EI against the asymptotic expansion
	 * h(−t) = φ(t)/t² (1 − 3/t² + 15/t⁴ − 105/t⁶ + 945/t⁸ − …) at t = 40 */
	t = 40.0;
	ser = 1 - 3 / (t * t) + 15 / pow(t, 4) - 105 / pow(t, 6) + 945 / pow(t, 8) -
	    10395 / pow(t, 10);
	ref = log(0.5) - 0.5 * t * t - 0.5 * log(2 * M_PI) - 2 * log(t) + log(ser);
	l = rs_bo_log_ei(1.0 + t * 0.5, 0.5, 1.0, 0.0, NULL, NULL);
	tap_ok(fabs(l - ref) < 1e-12 * fabs(ref), "log EI at z = -40, sigma 0.5: %.15g "
	    "(asymptotic series %.15g)", l, ref);
	l = rs_bo_log_ei(1e3, 1.0, 0.0, 0.0, NULL, NULL);
	tap_ok(isfinite(l) && l < -4.9e5, "log EI at z = -1000 is finite (%.6g)", l);

	/* derivatives of log EI against central differences, both branches */
	for (i = 0; i < 3; i++) {
		static const double zmu[3] = { 0.7, 3.9, 12.0 };        /* z = −0.7/0.5… */
		double mu = zmu[i], sd = 0.5 + 0.5 * (double)i;

		l = rs_bo_log_ei(mu, sd, 0.0, 0.0, &dmu, &dsd);
		h = 1e-6;
		lp = rs_bo_log_ei(mu + h, sd, 0.0, 0.0, NULL, NULL);
		lm = rs_bo_log_ei(mu - h, sd, 0.0, 0.0, NULL, NULL);
		r = (lp - lm) / (2 * h);
		lp = rs_bo_log_ei(mu, sd + h, 0.0, 0.0, NULL, NULL);
		lm = rs_bo_log_ei(mu, sd - h, 0.0, 0.0, NULL, NULL);
		e = (lp - lm) / (2 * h);
		tap_ok(fabs(dmu - r) < 1e-6 * (1 + fabs(r)) && fabs(dsd - e) < 1e-6 * (1 + fabs(e)),
		    "d log EI at z = %.2f: d/dmu %.8f (fd %.8f), d/dsigma %.8f (fd %.8f)",
		    -mu / sd, dmu, r, dsd, e);
	}
}

/* Branin on [0,1]²: x1 ∈ [−5, 10], x2 ∈ [0, 15]. */
static double
branin(const double *u)
{
	const double a = 1.0, b = 5.1 / (4 * M_PI * M_PI), c = 5.0 / M_PI, r = 6.0, s = 10.0,
	    t = 1.0 / (8 * M_PI);
	double x1 = -5.0 + 15.0 * u[0], x2 = 15.0 * u[1];
	double q = x2 - b * x1 * x1 + c * x1 - r;

	return a * q * q + s * (1 - t) * cos(x1) + s;
}

/* The constraint of the constrained runs: x1 + x2 ≤ 0.9 (cuts off two of the three
 * minima: (0.124, 0.818) and (0.962, 0.165); (0.543, 0.152) stays feasible). */
static double
sum_le(const double *x, void *ud)
{
	return x[0] + x[1] - *(const double *)ud;
}

/* A thin band like a parameter budget's: |x1 + x2 − 1| ≤ 0.02. */
static double
band(const double *x, void *ud)
{
	return fabs(x[0] + x[1] - 1.0) - 0.02;
}

/* Run n_init random + n_guided guided trials on Branin; the best value, the trial at
 * which it got within 0.05 of the minimum (0: never) and the count of infeasible
 * suggestions (under opt's constraint) into *out. */
struct run {
	double best;
	int hit_at;
	int infeasible;
	int rc;
	double secs;
	double xs[30][2];
};

static void
run_branin_q(uint64_t seed, const struct rs_bo_options *opt, int q, struct run *out)
{
	struct rs_bo *bo;
	char *cause = NULL;
	struct timespec t0, t1;
	double X[30][2];
	int k, i, qr;

	memset(out, 0, sizeof *out);
	out->best = HUGE_VAL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((bo = rs_bo_new(2, seed, 5, opt, &cause)) == NULL) {
		out->rc = -1;
		tap_diag("rs_bo_new: %s", cause);
		rs_free(cause);
		return;
	}
	for (k = 0; k < 30 && out->rc == 0; k += qr) {
		qr = 30 - k < q ? 30 - k : q;
		out->rc = q == 1 ? rs_bo_suggest(bo, X[0], &cause) :
		    rs_bo_suggest_batch(bo, (size_t)qr, X[0], NULL, &cause);
		if (out->rc != 0) {
			tap_diag("suggest %d: %s", k + 1, cause);
			break;
		}
		/* the round is chosen before any of it is evaluated */
		for (i = 0; i < qr; i++) {
			const double *x = X[i];
			double y;

			memcpy(out->xs[k + i], x, sizeof X[i]);
			if (opt != NULL && opt->constraint != NULL && opt->constraint(x, opt->ud) > 0)
				out->infeasible++;
			y = branin(x);
			if (y < out->best)
				out->best = y;
			if (out->hit_at == 0 && y - BRANIN_MIN <= 0.05)
				out->hit_at = k + i + 1;
			rs_bo_observe(bo, x, y, &cause);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->secs = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
	rs_bo_free(bo);
	rs_free(cause);
}

/* Sequential run: one suggestion at a time. */
static void
run_branin(uint64_t seed, const struct rs_bo_options *opt, struct run *out)
{
	run_branin_q(seed, opt, 1, out);
}

/* Branin within 30 trials (5 random + 25 guided), unconstrained. */
static void
test_branin(void)
{
	struct rs_bo_options opt;
	struct run r;

	rs_bo_options_init(&opt);
	run_branin(TEST_SEED, &opt, &r);
	tap_ok(r.rc == 0 && r.best - BRANIN_MIN <= 0.05,
	    "Branin, seed %d: best %.6f after 30 trials (min %.6f; within 0.05 at trial %d), %.2f s",
	    TEST_SEED, r.best, BRANIN_MIN, r.hit_at, r.secs);
}

/* Branin under x1 + x2 ≤ 0.9 and in a thin band: nothing infeasible is suggested. */
static void
test_constrained(void)
{
	struct rs_bo_options opt;
	double lim = 0.9, bmin = HUGE_VAL;
	struct run r;
	int i, j;

	rs_bo_options_init(&opt);
	opt.constraint = sum_le;
	opt.ud = &lim;
	run_branin(TEST_SEED, &opt, &r);
	tap_ok(r.rc == 0 && r.infeasible == 0, "x1 + x2 <= 0.9: no infeasible suggestion in 30 "
	    "(%d infeasible)", r.infeasible);
	tap_ok(r.rc == 0 && r.best - BRANIN_MIN <= 0.05, "x1 + x2 <= 0.9: best %.6f (within "
	    "0.05 at trial %d), %.2f s", r.best, r.hit_at, r.secs);

	/* the band's optimum by a dense grid */
	for (i = 0; i <= 2000; i++)
		for (j = 0; j <= 40; j++) {
			double u[2];

			u[0] = i / 2000.0;
			u[1] = (0.98 + 1e-12) + (0.04 - 2e-12) * j / 40.0 - u[0];
			if (u[1] >= 0.0 && u[1] <= 1.0 && band(u, NULL) <= 0.0)
				bmin = fmin(bmin, branin(u));
		}
	opt.constraint = band;
	opt.ud = NULL;
	run_branin(TEST_SEED, &opt, &r);
	tap_ok(r.rc == 0 && r.infeasible == 0, "|x1 + x2 - 1| <= 0.02: no infeasible suggestion "
	    "in 30 (%d infeasible), %.2f s", r.infeasible, r.secs);
	tap_ok(r.rc == 0 && r.best - bmin <= 0.05, "|x1 + x2 - 1| <= 0.02: best %.6f (band "
	    "optimum by grid %.6f)", r.best, bmin);
}

/* A constraint nothing satisfies: a clear error, no hang. */
static double
never(const double *x, void *ud)
{
	return 1.0;
}

static void
test_infeasible(void)
{
	struct rs_bo_options opt;
	struct rs_bo *bo;
	char *cause = NULL;
	double x[2];
	int rc;

	rs_bo_options_init(&opt);
	opt.constraint = never;
	opt.max_tries = 1000;
	bo = rs_bo_new(2, 1, 3, &opt, &cause);
	rc = rs_bo_suggest(bo, x, &cause);
	tap_ok(rc == RS_EUNSUPPORTED && cause != NULL && strstr(cause, "1000") != NULL,
	    "empty feasible set: %s", cause);
	x[0] = 0.5;
	x[1] = NAN;
	rc = rs_bo_observe(bo, x, 1.0, &cause);
	tap_ok(rc == RS_EINVAL, "observe refuses x outside [0,1]: %s", cause);
	x[1] = 0.5;
	rc = rs_bo_observe(bo, x, INFINITY, &cause);
	tap_ok(rc == RS_EINVAL, "observe refuses a non-finite value: %s", cause);
	tap_ok(rs_bo_best(bo, x, NULL) == RS_EINVAL, "no best before any observation");
	rs_bo_free(bo);
	rs_free(cause);
}

/* Same seed twice: the same suggestions, bit for bit; a resumed run continues the same. */
static void
test_reproducible(void)
{
	struct rs_bo_options opt;
	struct run a, b;
	struct rs_bo *bo, *bo2;
	const double *HX, *Hy;
	double x[2], x2[2], xb[2], yb;
	char *cause = NULL;
	size_t n;
	int k, same;

	rs_bo_options_init(&opt);
	run_branin(7, &opt, &a);
	run_branin(7, &opt, &b);
	tap_ok(a.rc == 0 && memcmp(a.xs, b.xs, sizeof a.xs) == 0,
	    "same seed twice: identical 30-point suggestion sequences");
	run_branin(8, &opt, &b);
	tap_ok(memcmp(a.xs, b.xs, sizeof a.xs) != 0, "another seed: a different sequence");

	/* 12 trials, then resume from the history of the first 12 in a fresh optimizer */
	bo = rs_bo_new(2, 7, 5, &opt, &cause);
	for (k = 0; k < 12; k++) {
		rs_bo_suggest(bo, x, &cause);
		rs_bo_observe(bo, x, branin(x), &cause);
	}
	n = rs_bo_history(bo, &HX, &Hy);
	bo2 = rs_bo_new(2, 7, 5, &opt, &cause);
	same = rs_bo_load_history(bo2, HX, Hy, n, &cause) == 0;
	same &= memcmp(HX, a.xs, 12 * sizeof a.xs[0]) == 0;
	for (k = 12; k < 16; k++) {
		rs_bo_suggest(bo, x, &cause);
		rs_bo_suggest(bo2, x2, &cause);
		same &= memcmp(x, x2, sizeof x) == 0 && memcmp(x, a.xs[k], sizeof x) == 0;
		rs_bo_observe(bo, x, branin(x), &cause);
		rs_bo_observe(bo2, x2, branin(x2), &cause);
	}
	tap_ok(n == 12 && same, "resumed from a 12-trial history: trials 13-16 as in the "
	    "uninterrupted run");
	rs_bo_best(bo2, xb, &yb);
	n = rs_bo_history(bo2, &HX, &Hy);
	same = n == 16 && branin(xb) == yb;
	for (k = 0; k < 16; k++)
		same &= Hy[k] >= yb;
	tap_ok(same, "rs_bo_best returns the smallest of the 16 observations (%.6f)", yb);
	rs_bo_free(bo);
	rs_bo_free(bo2);
	rs_free(cause);
}

/* Batches: a round of q points is q distinct feasible points, leaves the observations as
 * they were, starts with the points of a shorter round, is reproducible and resumable, and
 * still finds Branin's minimum. */
static void
test_batch(void)
{
	struct rs_bo_options opt;
	struct rs_bo *bo, *bo2;
	struct rs_bo_info info[4];
	struct run a, b;
	const double *HX, *Hy;
	double X4[4][2], X2[2][2], Xb[4][2], Hcopy[12][2], lim = 0.9;
	char *cause = NULL;
	size_t n;
	int k, i, j, ok, distinct = 1, lies_ok = 1;

	rs_bo_options_init(&opt);
	bo = rs_bo_new(2, 7, 5, &opt, &cause);
	for (k = 0; k < 12; k++) {
		double x[2];
		rs_bo_suggest(bo, x, &cause);
		rs_bo_observe(bo, x, branin(x), &cause);
	}
	n = rs_bo_history(bo, &HX, &Hy);
	memcpy(Hcopy, HX, sizeof Hcopy);
	ok = rs_bo_suggest_batch(bo, 4, X4[0], info, &cause) == 0;
	n = rs_bo_history(bo, &HX, &Hy);
	tap_ok(ok && n == 12 && memcmp(HX, Hcopy, sizeof Hcopy) == 0, "a round of 4 leaves the "
	    "12 observations as they were (%zu after)", n);
	for (i = 0; i < 4; i++)
		for (j = 0; j < i; j++)
			distinct &= X4[i][0] != X4[j][0] || X4[i][1] != X4[j][1];
	tap_ok(ok && distinct && info[0].guided && info[3].guided, "a guided round of 4: 4 "
	    "distinct points");
	ok = rs_bo_suggest_batch(bo, 2, X2[0], NULL, &cause) == 0;
	tap_ok(ok && memcmp(X2, X4, sizeof X2) == 0, "a round of 2 is the first 2 points of the "
	    "round of 4");
	ok = rs_bo_suggest(bo, X2[0], &cause) == 0;
	tap_ok(ok && memcmp(X2[0], X4[0], sizeof X2[0]) == 0, "its first point is the "
	    "sequential suggestion");
	/* a round straddling the random design: points 0-1 random, 2-3 guided */
	bo2 = rs_bo_new(2, 7, 5, &opt, &cause);
	for (k = 0; k < 3; k++) {
		double x[2];
		rs_bo_suggest(bo2, x, &cause);
		rs_bo_observe(bo2, x, branin(x), &cause);
	}
	ok = rs_bo_suggest_batch(bo2, 4, Xb[0], info, &cause) == 0;
	tap_ok(ok && !info[0].guided && !info[1].guided && info[2].guided && info[3].guided,
	    "after 3 of 5 random trials: 2 random points, then 2 guided");
	rs_bo_free(bo2);
	for (int lie = RS_BO_LIE_MEAN; lie <= RS_BO_LIE_MAX; lie++) {
		opt.lie = (enum rs_bo_lie)lie;
		bo2 = rs_bo_new(2, 7, 5, &opt, &cause);
		lies_ok &= bo2 != NULL && rs_bo_load_history(bo2, Hcopy[0], Hy, 12, &cause) == 0 &&
		    rs_bo_suggest_batch(bo2, 4, Xb[0], NULL, &cause) == 0 &&
		    memcmp(Xb[0], X4[0], sizeof Xb[0]) == 0 && memcmp(Xb, X4, sizeof Xb) != 0;
		rs_bo_free(bo2);
	}
	tap_ok(lies_ok, "lie = mean or worst: the same first point, other later ones");
	opt.lie = (enum rs_bo_lie)7;
	ok = rs_bo_new(2, 7, 5, &opt, &cause) == NULL && cause != NULL &&
	    strstr(cause, "lie") != NULL;
	tap_ok(ok, "an unknown lie is refused: %s", cause);
	rs_bo_free(bo);

	rs_bo_options_init(&opt);
	run_branin_q(7, &opt, 4, &a);
	run_branin_q(7, &opt, 4, &b);
	tap_ok(a.rc == 0 && memcmp(a.xs, b.xs, sizeof a.xs) == 0, "rounds of 4, same seed twice: "
	    "identical 30 points");
	/* resume after 3 rounds: rounds 4 and 5 as in the uninterrupted run */
	bo = rs_bo_new(2, 7, 5, &opt, &cause);
	ok = 1;
	for (k = 0; k < 12; k++)
		ok &= rs_bo_observe(bo, a.xs[k], branin(a.xs[k]), &cause) == 0;
	for (k = 12; k < 20 && ok; k += 4) {
		ok &= rs_bo_suggest_batch(bo, 4, X4[0], NULL, &cause) == 0 &&
		    memcmp(X4, a.xs[k], sizeof X4) == 0;
		for (i = 0; i < 4; i++)
			rs_bo_observe(bo, X4[i], branin(X4[i]), &cause);
	}
	tap_ok(ok, "rounds of 4 resumed from a 12-trial history: trials 13-20 as uninterrupted");
	rs_bo_free(bo);
	run_branin_q(TEST_SEED, &opt, 4, &a);
	tap_ok(a.rc == 0 && a.best - BRANIN_MIN <= 0.05, "Branin in rounds of 4, seed %d: best "
	    "%.6f after 30 trials (within 0.05 at trial %d), %.2f s", TEST_SEED, a.best,
	    a.hit_at, a.secs);
	opt.constraint = sum_le;
	opt.ud = &lim;
	run_branin_q(TEST_SEED, &opt, 4, &a);
	opt.constraint = band;
	opt.ud = NULL;
	run_branin_q(TEST_SEED, &opt, 3, &b);
	tap_ok(a.rc == 0 && b.rc == 0 && a.infeasible == 0 && b.infeasible == 0, "rounds of 4 "
	    "under x1 + x2 <= 0.9 and of 3 in the thin band: no infeasible point (%d, %d)",
	    a.infeasible, b.infeasible);
	rs_free(cause);
}

/* Optional: success rate over seeds 1..N. */
static void
sweep(int nseeds)
{
	struct rs_bo_options opt;
	struct run r;
	double lim = 0.9, tsum = 0.0;
	int s, hits = 0, chits = 0, infeas = 0;

	rs_bo_options_init(&opt);
	for (int q = 1; q <= 4; q *= 2) {
		int hsum = 0;
		hits = 0;
		tsum = 0.0;
		for (s = 1; s <= nseeds; s++) {
			run_branin_q((uint64_t)s, &opt, q, &r);
			hits += r.best - BRANIN_MIN <= 0.05;
			hsum += r.hit_at > 0 ? r.hit_at : 31;
			tsum += r.secs;
			tap_diag("q %d seed %2d: best %.6f, within 0.05 at trial %2d, %.2f s", q, s,
			    r.best, r.hit_at, r.secs);
		}
		tap_diag("unconstrained, rounds of %d: %d/%d seeds within 0.05 in 30 trials, at "
		    "trial %.1f on average (31: never), mean %.2f s per run", q, hits, nseeds,
		    (double)hsum / nseeds, tsum / nseeds);
	}
	opt.constraint = sum_le;
	opt.ud = &lim;
	for (s = 1; s <= nseeds; s++) {
		run_branin((uint64_t)s, &opt, &r);
		chits += r.best - BRANIN_MIN <= 0.05;
		infeas += r.infeasible;
		tap_diag("x1+x2<=0.9 seed %2d: best %.6f, within 0.05 at trial %2d, %.2f s",
		    s, r.best, r.hit_at, r.secs);
	}
	tap_diag("x1 + x2 <= 0.9: %d/%d seeds within 0.05, %d infeasible suggestions",
	    chits, nseeds, infeas);
}

int
main(void)
{
	const char *sw = getenv("RS_BO_SWEEP");

	test_ei();
	test_branin();
	test_constrained();
	test_infeasible();
	test_reproducible();
	test_batch();
	if (sw != NULL && atoi(sw) > 0)
		sweep(atoi(sw));
	return tap_done();
}
