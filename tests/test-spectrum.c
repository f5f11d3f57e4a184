/* test-spectrum.c: spectrum summaries against closed forms worked out by hand, the energy
 * look-up, and the power-law fit on samples from known Pareto laws. */
#include "config.h"

#include <stdint.h>

#include "tap.h"

#include "spectrum.h"
#include "status.h"

#define TESTMAT_SEED 0x2545f4914f6cdd1dull
#include "testmat.h"

/* qsort comparator, ascending doubles. */
static int
cmp_asc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* σ = [4, 2, 1, 1] of a 4×6 matrix: every summary by hand. */
static void
check_closed_forms(void)
{
	static const double sv[] = { 4, 2, 1, 1 };
	struct rs_spectrum_stats st;
	char *cause = NULL;
	double h, hq;
	int err;

	err = rs_spectrum_stats(sv, 4, 4, 6, &st, &cause);
	tap_ok(err == 0, "stats of [4,2,1,1] (4x6): %s", cause ? cause : "ok");
	/* Σσ² = 16 + 4 + 1 + 1 = 22. */
	tap_ok(tap_close(st.fro, sqrt(22.0), 1e-15) &&
	    tap_close(st.log10_fro, 0.5 * log10(22.0), 1e-15), "‖W‖_F = sqrt(22)");
	tap_ok(st.spec == 4.0 && tap_close(st.log10_spec, log10(4.0), 1e-15), "‖W‖₂ = 4");
	tap_ok(tap_close(st.stable_rank, 22.0 / 16.0, 1e-15), "stable rank 22/16 = %g",
	    st.stable_rank);
	/* p = [16, 4, 1, 1]/22. */
	h = -(16.0 / 22 * log(16.0 / 22) + 4.0 / 22 * log(4.0 / 22) + 2.0 / 22 * log(1.0 / 22));
	tap_ok(tap_close(st.entropy, h, 1e-14) && tap_close(st.eff_rank, exp(h), 1e-14),
	    "spectral entropy %.6f nats, effective rank exp(H) = %.6f", st.entropy,
	    st.eff_rank);
	/* q = [4, 2, 1, 1]/8: H = (1/2 + 1/2 + 3/4) ln 2 = 1.75 ln 2, exp(H) = 2^1.75. */
	hq = 1.75 * log(2.0);
	tap_ok(tap_close(st.eff_rank_rv, exp(hq), 1e-14),
	    "Roy–Vetterli effective rank 2^1.75 = %.6f", st.eff_rank_rv);
	tap_ok(st.num_rank == 4 && tap_close(st.entropy_ww, h / log(4.0), 1e-14),
	    "WeightWatcher entropy H/ln 4 = %.6f", st.entropy_ww);
	/* Cumulative energy 16/22 = .727, 20/22 = .909, 21/22 = .955, 22/22 = 1. */
	tap_ok(st.rank90 == 2 && st.rank95 == 3 && st.rank99 == 4,
	    "energy ranks 90/95/99 %% = %zu/%zu/%zu (want 2/3/4)", st.rank90, st.rank95,
	    st.rank99);
	tap_ok(tap_close(st.break_even, 24.0 / 10.0, 1e-15), "break-even 4·6/10 = %g",
	    st.break_even);
	tap_ok(!st.alpha_ok && st.alpha == -1.0,
	    "no power-law fit from 4 eigenvalues (WeightWatcher needs 10)");
	free(cause);
}

/* The O(1) look-up on the same spectrum and a stiff one. */
static void
check_energy(void)
{
	static const double sv[] = { 4, 2, 1, 1 }, stiff[] = { 1.0, 1e-9 }, z[] = { 3, 0 };
	static const double bad1[] = { 1, 2 }, bad2[] = { 2, NAN }, bad3[] = { 1, -1 };
	struct rs_energy *e;
	char *cause = NULL;

	e = rs_energy_new(sv, 4, &cause);
	tap_ok(e != NULL && rs_energy_total(e) == 22.0 && rs_energy_rank_max(e) == 4,
	    "energy table of [4,2,1,1]");
	tap_ok(rs_energy_kept(e, 0) == 0.0 && tap_close(rs_energy_kept(e, 1), 16.0 / 22, 1e-15) &&
	    tap_close(rs_energy_kept(e, 2), 20.0 / 22, 1e-15) && rs_energy_kept(e, 4) == 1.0 &&
	    rs_energy_kept(e, 99) == 1.0, "energy(k) = 0, 16/22, 20/22, .., 1 (clamped)");
	tap_ok(rs_energy_error(e, 0) == 1.0 &&
	    tap_close(rs_energy_error(e, 1), sqrt(6.0 / 22), 1e-15) &&
	    tap_close(rs_energy_error(e, 3), sqrt(1.0 / 22), 1e-15) &&
	    rs_energy_error(e, 4) == 0.0, "error(k) = sqrt(tail/22)");
	tap_ok(rs_energy_rank_for(e, 0.9) == 2 && rs_energy_rank_for(e, 0.95) == 3 &&
	    rs_energy_rank_for(e, 0.99) == 4 && rs_energy_rank_for(e, 1.0) == 4 &&
	    rs_energy_rank_for(e, 0.0) == 0 && rs_energy_rank_for(e, 16.0 / 22) == 1,
	    "rank_for(0.9, 0.95, 0.99, 1, 0, 16/22) = 2, 3, 4, 4, 0, 1");
	rs_energy_free(e);
	/* Tail 1e-18 of the total: sqrt(1 − energy) would cancel to 0. */
	e = rs_energy_new(stiff, 2, &cause);
	tap_ok(e != NULL && tap_close(rs_energy_error(e, 1), 1e-9 / sqrt(1.0 + 1e-18), 1e-14),
	    "error(1) of [1, 1e-9] = %.17g (summed tail, no cancellation)",
	    rs_energy_error(e, 1));
	rs_energy_free(e);
	e = rs_energy_new(z, 2, &cause);
	tap_ok(e != NULL && rs_energy_rank_for(e, 1.0) == 1 && rs_energy_error(e, 1) == 0.0,
	    "trailing zero σ: full energy at rank 1");
	rs_energy_free(e);
	/* (The call is its own statement: a printf argument may be evaluated first.) */
	e = rs_energy_new(bad1, 2, &cause);
	tap_ok(e == NULL && strstr(cause, "descending") != NULL, "ascending σ refused: %s",
	    cause);
	e = rs_energy_new(bad2, 2, &cause);
	tap_ok(e == NULL, "NaN σ refused: %s", cause);
	e = rs_energy_new(bad3, 2, &cause);
	tap_ok(e == NULL, "negative σ refused: %s", cause);
	{
		struct rs_spectrum_stats st;
		static const double sv3[] = { 3, 2, 1 };
		int err = rs_spectrum_stats(sv3, 3, 4, 6, &st, &cause);
		tap_ok(err == RS_EINVAL, "3 σ for a 4x6 matrix refused: %s", cause);
	}
	free(cause);
}

/* α from the closed-form MLE on the returned xmin, recomputed here. */
static double
mle_at(const double *ev, size_t count, double xmin, size_t *nt)
{
	double s = 0.0;
	size_t i, n = 0;

	for (i = 0; i < count; i++)
		if (ev[i] >= xmin) {
			s += log(ev[i] / xmin);
			n++;
		}
	*nt = n;
	return 1.0 + (double)n / s;
}

/* Pareto samples: a pure tail, and a bulk with a tail above 1, through both entries. */
static void
check_powerlaw(void)
{
	static const double alphas[] = { 2.5, 4.0 };
	size_t count, i, k, nt;
	double *ev, *sv, a, xmin, D, sigma, ref;
	struct rs_spectrum_stats st;
	char *cause = NULL;
	int err;

	/* Pure Pareto: pdf ∝ λ^−α on λ ≥ 1, drawn as u^(−1/(α−1)). */
	count = 3000;
	ev = malloc(5000 * sizeof(double));
	sv = malloc(5000 * sizeof(double));
	for (k = 0; k < 2; k++) {
		for (i = 0; i < count; i++)
			ev[i] = pow(unif(), -1.0 / (alphas[k] - 1.0));
		qsort(ev, count, sizeof(double), cmp_asc);
		err = rs_spectrum_powerlaw(ev, count, &a, &xmin, &D, &sigma, &nt, &cause);
		ref = mle_at(ev, count, xmin, &i);
		tap_ok(err == 0 && fabs(a - alphas[k]) < 0.1 && tap_close(a, ref, 1e-12) && i == nt,
		    "Pareto α = %.1f, 3000 samples: fit α = %.4f ± %.4f, xmin = %.3f, D = %.4f, "
		    "tail %zu (MLE at that xmin recomputed: %.4f)", alphas[k], a, sigma, xmin, D,
		    nt, ref);
	}
	/* A bulk of 2000 uniform on [0.05, 1) under a Pareto(α = 3) tail of 3000 from 1:
	 * the KS choice must find xmin ≈ 1 (an ESD with a heavy tail). */
	count = 5000;
	for (i = 0; i < 2000; i++)
		ev[i] = 0.05 + 0.95 * unif() * 0.999;
	for (; i < count; i++)
		ev[i] = pow(unif(), -1.0 / 2.0);
	qsort(ev, count, sizeof(double), cmp_asc);
	/* As singular values of a 5000×8000 matrix, descending. */
	for (i = 0; i < count; i++)
		sv[i] = sqrt(ev[count - 1 - i]);
	err = rs_spectrum_stats(sv, count, 5000, 8000, &st, &cause);
	ref = mle_at(ev, count, st.alpha_xmin, &nt);
	tap_ok(err == 0 && st.alpha_ok && fabs(st.alpha - 3.0) < 0.1 &&
	    st.alpha_xmin > 0.9 && st.alpha_xmin < 1.3 && tap_close(st.alpha, ref, 1e-9) &&
	    nt == st.alpha_ntail,
	    "bulk + Pareto(3) tail via rs_spectrum_stats: α = %.4f, xmin = %.4f, D = %.4f, "
	    "tail %zu", st.alpha, st.alpha_xmin, st.alpha_D, st.alpha_ntail);
	tap_ok(tap_close(st.alpha_xmax, ev[count - 1], 1e-12) &&
	    tap_close(st.alpha_weighted, st.alpha * log10(ev[count - 1]), 1e-12),
	    "xmax = λ_max, alpha_weighted = α·log10 λ_max = %.4f", st.alpha_weighted);
	/* Eigenvalues at or below 1e-5 are left out (WeightWatcher's EVALS_THRESH). */
	for (i = 0; i < 12; i++)
		sv[i] = i < 9 ? 1.0 / (double)(i + 1) : 1e-3;
	err = rs_spectrum_stats(sv, 12, 12, 20, &st, &cause);
	tap_ok(err == 0 && !st.alpha_ok,
	    "9 eigenvalues above 1e-5 (3 at 1e-6): no fit, as WeightWatcher");
	err = rs_spectrum_powerlaw(ev, 1, &a, &xmin, &D, &sigma, &nt, &cause);
	tap_ok(err == RS_EINVAL, "fit of 1 eigenvalue refused: %s", cause);
	free(ev);
	free(sv);
	free(cause);
}

int
main(void)
{
	check_closed_forms();
	check_energy();
	check_powerlaw();
	return tap_done();
}
