/* test-gp.c: Gaussian-process regression against closed forms written out here:
 * the Matérn 5/2 formula, 2×2 and 3×3 inverses by cofactors, the posterior mean
 * k*ᵀK⁻¹y and variance k(x,x) − k*ᵀK⁻¹k*, the log marginal likelihood; gradients
 * against central finite differences; the hyperparameter fit on a smooth function. */
#include "config.h"

#include <math.h>
#include <stdint.h>

#include "tap.h"

#include "alloc.h"
#include "gp.h"
#include "rng.h"
#include "status.h"

/* Matérn 5/2 by its textbook formula, distance r already divided by ℓ. */
static double
m52(double r, double sf2)
{
	return sf2 * (1.0 + sqrt(5.0) * r + 5.0 * r * r / 3.0) * exp(-sqrt(5.0) * r);
}

/* Inverse of a symmetric 3×3 matrix by cofactors; returns the determinant. */
static double
inv3(const double a[3][3], double b[3][3])
{
	double det;
	int i, j;

	b[0][0] = a[1][1] * a[2][2] - a[1][2] * a[2][1];
	b[0][1] = -(a[0][1] * a[2][2] - a[0][2] * a[2][1]);
	b[0][2] = a[0][1] * a[1][2] - a[0][2] * a[1][1];
	b[1][0] = -(a[1][0] * a[2][2] - a[1][2] * a[2][0]);
	b[1][1] = a[0][0] * a[2][2] - a[0][2] * a[2][0];
	b[1][2] = -(a[0][0] * a[1][2] - a[0][2] * a[1][0]);
	b[2][0] = a[1][0] * a[2][1] - a[1][1] * a[2][0];
	b[2][1] = -(a[0][0] * a[2][1] - a[0][1] * a[2][0]);
	b[2][2] = a[0][0] * a[1][1] - a[0][1] * a[1][0];
	det = a[0][0] * b[0][0] + a[0][1] * b[1][0] + a[0][2] * b[2][0];
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			b[i][j] /= det;
	return det;
}

/* 1-D, 3 points, fixed θ: mean, variance and log marginal likelihood by hand. */
static void
test_closed_form_1d(void)
{
	const double X[3] = { 0.1, 0.4, 0.9 }, y[3] = { 1.0, 2.5, 0.5 };
	const double ell = 0.3, sf2 = 1.5, sn2 = 0.01;
	const double xs[4] = { 0.25, 0.6, 0.95, 0.4 };
	double theta[3] = { log(ell), log(sf2), log(sn2) };
	double K[3][3], Ki[3][3], ys[3], ybar, s, det, lml, lml_ref, q;
	struct rs_gp *gp = rs_gp_new(1);
	char *cause = NULL;
	int i, j, k, ok = 1;

	ybar = (y[0] + y[1] + y[2]) / 3.0;
	s = sqrt(((y[0] - ybar) * (y[0] - ybar) + (y[1] - ybar) * (y[1] - ybar) +
	    (y[2] - ybar) * (y[2] - ybar)) / 3.0);
	for (i = 0; i < 3; i++) {
		ys[i] = (y[i] - ybar) / s;
		for (j = 0; j < 3; j++)
			K[i][j] = m52(fabs(X[i] - X[j]) / ell, sf2) + (i == j ? sn2 : 0.0);
	}
	det = inv3(K, Ki);

	ok &= rs_gp_set_hypers(gp, theta, &cause) == 0;
	ok &= rs_gp_fit(gp, X, y, 3, 0, NULL, &cause) == 0;
	tap_ok(ok, "1-D fit with fixed hyperparameters");
	for (k = 0; k < 4; k++) {
		double ks[3], m = 0.0, v = sf2, mu, var;

		for (i = 0; i < 3; i++)
			ks[i] = m52(fabs(xs[k] - X[i]) / ell, sf2);
		for (i = 0; i < 3; i++)
			for (j = 0; j < 3; j++) {
				m += ks[i] * Ki[i][j] * ys[j];
				v -= ks[i] * Ki[i][j] * ks[j];
			}
		m = ybar + s * m;
		v = s * s * v;
		rs_gp_predict(gp, xs + k, &mu, &var);
		tap_ok(fabs(mu - m) < 1e-10 * (1 + fabs(m)) && fabs(var - v) < 1e-10 * (1 + v),
		    "1-D posterior at x=%.2f: mean %.12f (by hand %.12f), var %.3e (by hand %.3e)",
		    xs[k], mu, m, var, v);
	}
	q = 0.0;
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			q += ys[i] * Ki[i][j] * ys[j];
	lml_ref = -0.5 * q - 0.5 * log(det) - 1.5 * log(2.0 * M_PI);
	lml = NAN;
	ok = rs_gp_log_marginal(gp, NULL, &lml, NULL, &cause) == 0;
	tap_ok(ok && fabs(lml - lml_ref) < 1e-10 * (1 + fabs(lml_ref)),
	    "1-D log marginal likelihood %.12f (by hand %.12f)", lml, lml_ref);
	/* the noise floor: σ_n² below 1e-6 is raised to it */
	theta[2] = log(1e-9);
	rs_gp_set_hypers(gp, theta, &cause);
	rs_gp_get_hypers(gp, theta);
	tap_ok(fabs(exp(theta[2]) - RS_GP_NOISE_FLOOR) < 1e-15, "noise floor applied (%.3g)",
	    exp(theta[2]));
	rs_gp_free(gp);
	rs_free(cause);
}

/* 2-D ARD, 2 points: mean and variance with a 2×2 inverse by hand, and their gradients
 * in x against central differences. */
static void
test_closed_form_2d(void)
{
	const double X[4] = { 0.2, 0.7, 0.6, 0.1 }, y[2] = { -1.0, 3.0 };
	const double l1 = 0.4, l2 = 0.9, sf2 = 0.8, sn2 = 1e-3;
	const double xs[2] = { 0.35, 0.5 };
	double theta[4] = { log(l1), log(l2), log(sf2), log(sn2) };
	double K[2][2], Ki[2][2], ks[2], det, ybar, s, ys[2], m, v, mu, var, dmu[2], dvar[2];
	struct rs_gp *gp = rs_gp_new(2);
	char *cause = NULL;
	int i, j;

	ybar = 1.0;
	s = 2.0;        /* population std of {−1, 3} */
	ys[0] = (y[0] - ybar) / s;
	ys[1] = (y[1] - ybar) / s;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			double d1 = (X[2 * i] - X[2 * j]) / l1, d2 = (X[2 * i + 1] - X[2 * j + 1]) / l2;

			K[i][j] = m52(sqrt(d1 * d1 + d2 * d2), sf2) + (i == j ? sn2 : 0.0);
		}
	det = K[0][0] * K[1][1] - K[0][1] * K[1][0];
	Ki[0][0] = K[1][1] / det;
	Ki[1][1] = K[0][0] / det;
	Ki[0][1] = -K[0][1] / det;
	Ki[1][0] = -K[1][0] / det;
	for (i = 0; i < 2; i++) {
		double d1 = (xs[0] - X[2 * i]) / l1, d2 = (xs[1] - X[2 * i + 1]) / l2;

		ks[i] = m52(sqrt(d1 * d1 + d2 * d2), sf2);
	}
	m = v = 0.0;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			m += ks[i] * Ki[i][j] * ys[j];
			v += ks[i] * Ki[i][j] * ks[j];
		}
	m = ybar + s * m;
	v = s * s * (sf2 - v);
	rs_gp_set_hypers(gp, theta, &cause);
	i = rs_gp_fit(gp, X, y, 2, 0, NULL, &cause);
	tap_ok(i == 0, "2-D fit with fixed hyperparameters");
	rs_gp_predict_grad(gp, xs, &mu, &var, dmu, dvar);
	tap_ok(fabs(mu - m) < 1e-10 * (1 + fabs(m)) && fabs(var - v) < 1e-10 * (1 + v),
	    "2-D ARD posterior: mean %.12f (by hand %.12f), var %.6e (by hand %.6e)",
	    mu, m, var, v);
	for (j = 0; j < 2; j++) {
		double h = 1e-6, xp[2], xm[2], mp, vp, mm, vm, fdm, fdv;

		memcpy(xp, xs, sizeof xp);
		memcpy(xm, xs, sizeof xm);
		xp[j] += h;
		xm[j] -= h;
		rs_gp_predict(gp, xp, &mp, &vp);
		rs_gp_predict(gp, xm, &mm, &vm);
		fdm = (mp - mm) / (2 * h);
		fdv = (vp - vm) / (2 * h);
		tap_ok(fabs(dmu[j] - fdm) < 1e-6 * (1 + fabs(fdm)) &&
		    fabs(dvar[j] - fdv) < 1e-6 * (1 + fabs(fdv)),
		    "∂/∂x%d: mean %.8f (fd %.8f), var %.8f (fd %.8f)",
		    j + 1, dmu[j], fdm, dvar[j], fdv);
	}
	rs_gp_free(gp);
	rs_free(cause);
}

/* Log marginal likelihood gradient against central finite differences. */
static void
test_lml_gradient(void)
{
	enum { N = 12, D = 3 };
	double X[N * D], y[N], theta[D + 2], grad[D + 2], lp, lm, l0;
	struct rs_rng rng;
	struct rs_gp *gp = rs_gp_new(D);
	char *cause = NULL;
	int i, j, ok = 1;
	double worst = 0.0;

	rs_rng_seed(&rng, 7);
	for (i = 0; i < N; i++) {
		for (j = 0; j < D; j++)
			X[i * D + j] = rs_rng_uniform(&rng);
		y[i] = sin(6 * X[i * D]) + X[i * D + 1] * X[i * D + 2] + 0.1 * rs_rng_normal(&rng);
	}
	theta[0] = log(0.3);
	theta[1] = log(0.7);
	theta[2] = log(1.9);
	theta[3] = log(1.2);
	theta[4] = log(0.05);
	rs_gp_fit(gp, X, y, N, 0, NULL, &cause);
	ok &= rs_gp_log_marginal(gp, theta, &l0, grad, &cause) == 0;
	for (j = 0; j < D + 2; j++) {
		double h = 1e-5, t0 = theta[j], fd, err;

		theta[j] = t0 + h;
		rs_gp_log_marginal(gp, theta, &lp, NULL, &cause);
		theta[j] = t0 - h;
		rs_gp_log_marginal(gp, theta, &lm, NULL, &cause);
		theta[j] = t0;
		fd = (lp - lm) / (2 * h);
		err = fabs(grad[j] - fd) / (1 + fabs(fd));
		if (err > worst)
			worst = err;
		tap_diag("θ%d: analytic %.9f, finite difference %.9f", j + 1, grad[j], fd);
	}
	tap_ok(ok && worst < 1e-6, "log marginal likelihood gradient matches finite differences"
	    " (worst relative error %.2e)", worst);
	rs_gp_free(gp);
	rs_free(cause);
}

/* The hyperparameter fit raises the likelihood and predicts a smooth function well. */
static void
test_fit(void)
{
	enum { N = 12 };
	double X[N], y[N], theta[3], l_def, l_fit, err = 0.0;
	struct rs_rng rng;
	struct rs_gp *gp = rs_gp_new(1);
	char *cause = NULL;
	int i, rc;

	for (i = 0; i < N; i++) {
		X[i] = (i + 0.5) / N;
		y[i] = 10.0 + 3.0 * sin(7.0 * X[i]);
	}
	rs_gp_fit(gp, X, y, N, 0, NULL, &cause);
	rs_gp_log_marginal(gp, NULL, &l_def, NULL, &cause);
	rs_rng_seed(&rng, 1);
	rc = rs_gp_fit(gp, X, y, N, 1, &rng, &cause);
	rs_gp_log_marginal(gp, NULL, &l_fit, NULL, &cause);
	rs_gp_get_hypers(gp, theta);
	tap_ok(rc == 0 && l_fit > l_def, "fit raises the log marginal likelihood: %.4f -> %.4f "
	    "(ℓ %.3f, σ_f² %.3f, σ_n² %.2e)", l_def, l_fit, exp(theta[0]), exp(theta[1]),
	    exp(theta[2]));
	for (i = 0; i < 50; i++) {
		double x = (i + 0.25) / 50, mu, var;

		rs_gp_predict(gp, &x, &mu, &var);
		err = fmax(err, fabs(mu - (10.0 + 3.0 * sin(7.0 * x))));
	}
	tap_ok(err < 0.05, "fitted GP interpolates 10 + 3 sin 7x to %.4f (max abs error)", err);
	rs_gp_free(gp);
	rs_free(cause);
}

/* Errors: non-finite data, no data, and allocation failures at every point of a fit. */
static void
test_errors(void)
{
	double X[3] = { 0.1, 0.5, 0.9 }, y[3] = { 1, NAN, 2 }, mu, var, lml;
	struct rs_rng rng;
	struct rs_gp *gp = rs_gp_new(1);
	char *cause = NULL;
	unsigned long k;
	int rc;

	tap_ok(rs_gp_predict(gp, X, &mu, &var) == RS_EINVAL, "predict before any data: RS_EINVAL");
	rc = rs_gp_log_marginal(gp, NULL, &lml, NULL, &cause);
	tap_ok(rc == RS_EINVAL && cause != NULL, "log marginal before any data: RS_EINVAL (%s)",
	    cause);
	rc = rs_gp_fit(gp, X, y, 3, 1, NULL, &cause);
	tap_ok(rc == RS_EINVAL && cause != NULL && strstr(cause, "observation 2") != NULL,
	    "NaN observation refused: %s", cause);
	tap_ok(rs_gp_count(gp) == 0, "the GP kept its (empty) data");
	tap_ok(rs_gp_new(0) == NULL, "d = 0 refused");
	y[1] = 1.5;
	for (k = 1; k < 200; k++) {
		rs_rng_seed(&rng, 3);
		rs_alloc_fail_at(k);
		rc = rs_gp_fit(gp, X, y, 3, 1, &rng, &cause);
		rs_alloc_fail_at(0);
		if (rc == 0)
			break;
		if (rc != RS_ENOMEM)
			break;
	}
	tap_ok(rc == 0 && k > 1, "fit fails cleanly with RS_ENOMEM at each of its first %lu "
	    "allocations, then succeeds", k - 1);
	rs_gp_free(gp);
	rs_free(cause);
}

int
main(void)
{
	test_closed_form_1d();
	test_closed_form_2d();
	test_lml_gradient();
	test_fit();
	test_errors();
	return tap_done();
}
