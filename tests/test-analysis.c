/* test-analysis.c: the spectra store and the calibration, end to end.
 *
 * 1. A constructed matrix with a known spectrum (σᵢ = 2^{-(i-1)/2}, W = H₁ diag(σ) H₂ with
 *    Householder reflections) goes through rs_spec_of_matrix and the store; its metrics and
 *    error look-ups match closed forms.
 * 2. kjv-llama through the real commands (load; calibrate kjv-calib.txt --max-tokens 2048
 *    --groups 1; spectra --kind feature, both variants), then this test captures the real
 *    activations with its own forward hook, forms Ŵ (feature PCA with the mean bias for the
 *    centred variant, the whitened factors for the uncentred one) at random ranks, multiplies,
 *    and compares ‖WX − ŴX‖_F / ‖WX‖_F (centred: against ‖W(X − μ)‖_F) with the error the
 *    store predicts from the spectrum alone. */
#include "config.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

#include "alloc.h"
#include "analysis.h"
#include "cache.h"
#include "calib.h"
#include "cmd.h"
#include "covstats.h"
#include "forward.h"
#include "linalg.h"
#include "model.h"
#include "session.h"
#include "textfile.h"
#include "tokenizer.h"

#define TESTMAT_SEED 0x9e3779b97f4a7c15ull
#include "testmat.h"

/* Output sink: text into a growing buffer, errors echoed as diagnostics. */
struct sink {
	char buf[1 << 16];
	size_t len;
};

static void
sink_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	struct sink *s = ud;

	if (kind == RS_OUT_ERROR)
		printf("# error: %.*s", (int)len, text);
	if (s->len + len < sizeof s->buf) {
		memcpy(s->buf + s->len, text, len);
		s->len += len;
		s->buf[s->len] = '\0';
	}
}

/* Apply the Householder reflection I − 2vvᵀ/vᵀv (v of length n) to the rows (side 0: from
 * the left, a is n×cols) or columns (side 1: from the right, a is rows×n) of a. */
static void
householder(double *a, size_t rows, size_t cols, const double *v, size_t n, int side)
{
	double vv = 0, d;
	size_t i, j;

	for (i = 0; i < n; i++)
		vv += v[i] * v[i];
	if (side == 0) {
		for (j = 0; j < cols; j++) {
			for (d = 0, i = 0; i < n; i++)
				d += v[i] * a[i * cols + j];
			for (i = 0; i < n; i++)
				a[i * cols + j] -= 2 * d / vv * v[i];
		}
	} else {
		for (i = 0; i < rows; i++) {
			for (d = 0, j = 0; j < n; j++)
				d += a[i * cols + j] * v[j];
			for (j = 0; j < n; j++)
				a[i * cols + j] -= 2 * d / vv * v[j];
		}
	}
}

/* Part 1: a matrix with σᵢ = 2^{-(i-1)/2} through the store. */
static void
test_constructed(void)
{
	const size_t m = 48, n = 32, r = 32;
	double *a = calloc(m * n, sizeof(double)), v[48], S, H, x, err_max = 0, sv_max = 0;
	double def_max = 0, tail, total, dS, dH, tol;
	/* the accuracy analysis.h documents for a float32 record (σ₁ = 1 here): σ ≥ tau within
	 * eps relative, the smaller ones within delta absolute */
	const double eps = 1e-4, tau = 1e-3, delta = 1e-6;
	float *w = malloc(m * n * sizeof(float));
	struct rs_linalg_ws *ws = rs_linalg_ws_new();
	struct rs_analysis *an;
	const struct rs_spec *sp;
	struct rs_spec *s;
	char *cause = NULL;
	size_t i, k, k90;
	int layer;
	enum rs_tkind mat;

	for (i = 0; i < r; i++)
		a[i * n + i] = pow(2.0, -(double)i / 2.0);
	for (i = 0; i < m; i++)
		v[i] = unif() - 0.5;
	householder(a, m, n, v, m, 0);
	for (i = 0; i < n; i++)
		v[i] = unif() - 0.5;
	householder(a, m, n, v, n, 1);
	for (i = 0; i < m * n; i++)
		w[i] = (float)a[i];

	s = rs_spec_of_matrix(ws, w, m, n, &cause);
	tap_ok(s != NULL, "spectrum of a constructed 48x32 matrix (%s)", cause ? cause : "ok");
	an = rs_analysis_new(4, &cause);
	tap_ok(an != NULL && rs_analysis_put(an, 2, RS_T_UP, s, &cause) == 0, "stored as L2.up");
	sp = rs_analysis_find(an, "L2.up", RS_SPEC_WEIGHT);
	tap_ok(sp != NULL && sp == rs_analysis_get(an, 2, RS_T_UP, RS_SPEC_WEIGHT),
	    "found by name and by (layer, matrix)");
	if (sp == NULL)
		return;
	tap_ok(rs_analysis_find(an, "L2.up", RS_SPEC_CENTRED) == NULL &&
	    rs_analysis_find(an, "L2.down", RS_SPEC_WEIGHT) == NULL &&
	    rs_analysis_find(an, "L9.up", RS_SPEC_WEIGHT) == NULL &&
	    rs_analysis_parse_name("L2.foo", &layer, &mat) != 0 &&
	    rs_analysis_parse_name("X2.up", &layer, &mat) != 0 &&
	    rs_analysis_parse_name("L12.gate", &layer, &mat) == 0 && layer == 12 && mat == RS_T_GATE,
	    "absent slots are NULL; names parse strictly");

	/* Float32 input: relative accuracy over σ ≥ tau·σ₁, absolute below (analysis.h). */
	for (x = 0, i = 0; i < r; i++) {
		double want = pow(2.0, -(double)i / 2.0), d = fabs(sp->sv[i] - want);
		if (want >= tau && d / want > sv_max)
			sv_max = d / want;
		if (want < tau && d > x)
			x = d;
	}
	tap_ok(sv_max <= eps && x <= delta, "singular values are 2^{-(i-1)/2} (max rel. error "
	    "%.2e over σ >= 1e-3, max abs. error %.2e below)", sv_max, x);
	S = 2.0 * (1.0 - pow(2.0, -(double)r));         /* Σσ² */
	/* |Σσ'² − Σσ²|: (2ε+ε²)σ² for each σ ≥ tau, at most 2·tau·delta + delta² for each below */
	dS = (2 * eps + eps * eps) * S + (double)r * (2 * tau * delta + delta * delta);
	/* |√a − √b| ≤ |a − b|/√b, and |log10 a − log10 b| ≤ |a/b − 1|/ln 10 */
	tap_ok(tap_close(sp->st.fro, sqrt(S), dS / S) && tap_close(sp->st.spec, 1.0, eps) &&
	    fabs(sp->st.log10_fro - log10(sqrt(S))) <= dS / S / log(10.0),
	    "Frobenius sqrt(2(1-2^-r)) = %.8f, spectral 1 (got %.8f, %.8f)", sqrt(S), sp->st.fro,
	    sp->st.spec);
	/* Σσ²/σ₁²: numerator within dS, σ₁² within (1±ε)² */
	tap_ok(tap_close(sp->st.stable_rank, S, (1 + dS / S) / ((1 - eps) * (1 - eps)) - 1),
	    "stable rank 2(1-2^-r) = %.6f (got %.6f)", S, sp->st.stable_rank);
	/* H = ln S + ln2 · Σ (i-1) 2^{-(i-1)} / S, Σ_{j<r} j 2^{-j} = 2 − (r+1) 2^{1-r}. */
	H = log(S) + log(2.0) * (2.0 - (double)(r + 1) * pow(2.0, 1.0 - (double)r)) / S;
	/* pᵢ = σᵢ²/S: Σ|dpᵢ| ≤ 2·dS/S and |d(p ln p)| ≤ (1 + |ln p|)·|dp| with p ≥ σ_r²/S */
	dH = 2 * dS / S * (1 + log(S / pow(2.0, -(double)(r - 1))));
	tap_ok(fabs(sp->st.entropy - H) <= dH && tap_close(sp->st.eff_rank, exp(H), exp(dH) - 1),
	    "spectral entropy %.6f and effective rank exp(H) = %.6f (got %.6f, %.6f)", H, exp(H),
	    sp->st.entropy, sp->st.eff_rank);
	/* energy(k) = (1 − 2^{-k}) / (1 − 2^{-r}) ≥ t  ⇔  k ≥ −log2(1 − t(1 − 2^{-r})). */
	k90 = (size_t)ceil(-log2(1.0 - 0.90 * (1.0 - pow(2.0, -(double)r))) - 1e-9);
	tap_ok(sp->st.rank90 == k90 &&
	    sp->st.rank95 == (size_t)ceil(-log2(1.0 - 0.95 * (1.0 - pow(2.0, -(double)r))) - 1e-9) &&
	    sp->st.rank99 == (size_t)ceil(-log2(1.0 - 0.99 * (1.0 - pow(2.0, -(double)r))) - 1e-9),
	    "ranks for 90/95/99%% energy from the closed form (%zu %zu %zu)", sp->st.rank90,
	    sp->st.rank95, sp->st.rank99);
	tap_ok(tap_close(sp->st.break_even, (double)(m * n) / (double)(m + n), 1e-12),
	    "break-even rank m·n/(m+n) = %.4f", sp->st.break_even);
	/* error(k) is a function of the record's σ: its definition at every rank, in double */
	for (total = 0, i = 0; i < r; i++)
		total += sp->sv[i] * sp->sv[i];
	for (k = 0; k < r; k++) {
		for (tail = 0, i = k; i < r; i++)
			tail += sp->sv[i] * sp->sv[i];
		x = sqrt(tail / total);
		if (fabs(rs_spec_error(sp, k) - x) / x > def_max)
			def_max = fabs(rs_spec_error(sp, k) - x) / x;
	}
	tap_ok(def_max < 1e-12 && rs_spec_error(sp, r) == 0.0 && rs_spec_error(sp, r + 5) == 0.0,
	    "error(k) = sqrt(Σ_{i>k} σᵢ² / Σσᵢ²) of the stored σ at every rank (max rel. %.2e)",
	    def_max);
	/* ... so it meets the closed form as far as the σ are accurate: at ranks whose tail
	 * starts at a σ ≥ tau, tail within 2ε·tail + r·(2·tau·delta + delta²), total within dS */
	for (k = 0; k < r && pow(2.0, -(double)k / 2.0) >= tau; k++) {
		tail = pow(2.0, -(double)k) * (1.0 - pow(2.0, -(double)(r - k))) * 2.0;
		x = sqrt(tail / S);
		tol = sqrt((tail * (1 + 2 * eps + eps * eps) + (double)r * (2 * tau * delta +
		    delta * delta)) / tail / (1 - dS / S)) - 1;
		if (fabs(rs_spec_error(sp, k) - x) / x / tol > err_max)
			err_max = fabs(rs_spec_error(sp, k) - x) / x / tol;
	}
	tap_ok(err_max <= 1.0, "error(k) = sqrt((2^-k - 2^-r)/(1 - 2^-r)) within the accuracy of "
	    "the σ at ranks 0..%zu (at most %.2g of the tolerance)", k - 1, err_max);
	tap_ok(sp->st.alpha_ok && isfinite(sp->st.alpha) && sp->st.alpha > 1.0,
	    "a power-law alpha is fitted (%.3f)", sp->st.alpha);
	tap_ok(rs_analysis_count(an, RS_SPEC_WEIGHT) == 1, "one weight record counted");
	rs_analysis_drop_kind(an, RS_SPEC_WEIGHT);
	tap_ok(rs_analysis_count(an, RS_SPEC_WEIGHT) == 0 &&
	    rs_analysis_find(an, "L2.up", RS_SPEC_WEIGHT) == NULL, "drop_kind empties the kind");
	rs_analysis_free(an);
	rs_linalg_ws_free(ws);
	rs_free(cause);
	free(a);
	free(w);
}

/* Activations captured by the test's own hook. */
#define NCAP 5
struct capture {
	int layer[NCAP];
	enum rs_input_group g[NCAP];
	float *x[NCAP];
	size_t rows[NCAP], cap;
};

static int
capture_hook(void *ud, int layer, enum rs_input_group g, const float *x, int n_rows, int width)
{
	struct capture *c = ud;
	int i;

	for (i = 0; i < NCAP; i++)
		if (c->layer[i] == layer && c->g[i] == g) {
			if (c->x[i] == NULL)
				c->x[i] = malloc(c->cap * (size_t)width * sizeof(float));
			memcpy(c->x[i] + c->rows[i] * (size_t)width, x,
			    (size_t)n_rows * (size_t)width * sizeof(float));
			c->rows[i] += (size_t)n_rows;
		}
	return 0;
}

/* Measured relative errors of the rank-k layers formed from the stored statistics. */
static void
measure(struct rs_session *s, int layer, enum rs_tkind mat, const float *xf, size_t N,
    int trials, double *worst)
{
	const struct rs_tensor *t = rs_model_tensor(s->model, layer, mat);
	size_t m = (size_t)t->rows, n = (size_t)t->cols, r = m < n ? m : n, i, j, k;
	enum rs_input_group g = rs_calib_input_of(mat);
	struct rs_linalg_ws *ws = rs_linalg_ws_new();
	struct rs_calib_stats *st = NULL;
	float *w = malloc(m * n * sizeof(float));
	double *wd = malloc(m * n * sizeof(double)), *x = malloc(N * n * sizeof(double));
	double *y = malloc(N * m * sizeof(double)), *z = malloc(N * r * sizeof(double));
	double *yh = malloc(N * m * sizeof(double)), *lc = malloc(n * n * sizeof(double));
	double *lu = malloc(n * n * sizeof(double)), *gram = malloc(n * n * sizeof(double));
	double *uk = malloc(m * r * sizeof(double)), *fa = malloc(r * n * sizeof(double));
	double *b = malloc(m * sizeof(double)), lam_c, lam_u, num, den, meas, pred, d;
	const struct rs_spec *sc, *su;
	char *cause = NULL, name[32];
	int trial, ok;

	snprintf(name, sizeof name, "L%d.%s", layer, rs_tkind_name(mat));
	ok = rs_calib_stats_get(s->calib, s->cache, layer, g, &st, &cause) == 0;
	tap_ok(ok && st->n == n && st->tokens == N, "%s: statistics (%zu-wide, %llu tokens) %s",
	    name, ok ? st->n : 0, ok ? (unsigned long long)st->tokens : 0ull, cause ? cause : "");
	if (!ok)
		return;
	rs_model_tensor_rows_f32(s->model, t, 0, t->rows, w);
	for (i = 0; i < m * n; i++)
		wd[i] = w[i];
	for (i = 0; i < N * n; i++)
		x[i] = xf[i];
	rs_calib_stats_gram(st, gram);
	ok = rs_linalg_chol_reg(st->cov, n, lc, &lam_c, &cause) == 0 &&
	    rs_linalg_chol_reg(gram, n, lu, &lam_u, &cause) == 0;
	sc = rs_analysis_get(s->analysis, layer, mat, RS_SPEC_CENTRED);
	su = rs_analysis_get(s->analysis, layer, mat, RS_SPEC_UNCENTRED);
	tap_ok(ok && lam_c == 0 && lam_u == 0 && sc != NULL && su != NULL && sc->lambda == 0 &&
	    su->lambda == 0, "%s: both feature spectra stored, no regularization needed", name);
	if (!ok || sc == NULL || su == NULL)
		return;
	/* Y = X Wᵀ (N×m). */
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)m, (int)n, 1.0, x,
	    (int)n, wd, (int)n, 0.0, y, (int)m);
	for (trial = 0; trial < trials; trial++) {
		k = 1 + (size_t)(unif() * (double)(r - 1));
		/* Centred: Ŷ = (X aᵀ) U_kᵀ + 1 bᵀ against Y; the whole against W(X − μ). */
		if (rs_covstats_feature_pca(ws, w, m, n, lc, st->mean, k, uk, fa, b, NULL,
		    &cause) != 0) {
			tap_ok(0, "%s: feature PCA at rank %zu: %s", name, k, cause);
			continue;
		}
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)k, (int)n, 1.0, x,
		    (int)n, fa, (int)n, 0.0, z, (int)k);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)m, (int)k, 1.0, z,
		    (int)k, uk, (int)k, 0.0, yh, (int)m);
		{
			double *wmu = malloc(m * sizeof(double));
			cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)n, 1.0, wd, (int)n,
			    st->mean, 1, 0.0, wmu, 1);
			for (num = den = 0, i = 0; i < N; i++)
				for (j = 0; j < m; j++) {
					d = y[i * m + j] - yh[i * m + j] - b[j];
					num += d * d;
					d = y[i * m + j] - wmu[j];
					den += d * d;
				}
			free(wmu);
		}
		meas = sqrt(num / den);
		pred = rs_spec_error(sc, k);
		d = fabs(pred - meas) / meas;
		if (d > worst[0])
			worst[0] = d;
		tap_ok(d < 1e-4, "%s centred rank %zu: predicted %.8f, measured %.8f (rel. %.1e)",
		    name, k, pred, meas, d);
		/* Uncentred: Ŷ = (X vtlᵀ)(U_k Σ_k)ᵀ against Y. */
		if (rs_covstats_feature_whiten(ws, w, m, n, lu, k, uk, fa, NULL, &cause) != 0) {
			tap_ok(0, "%s: whitened factors at rank %zu: %s", name, k, cause);
			continue;
		}
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)k, (int)n, 1.0, x,
		    (int)n, fa, (int)n, 0.0, z, (int)k);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)m, (int)k, 1.0, z,
		    (int)k, uk, (int)k, 0.0, yh, (int)m);
		for (num = den = 0, i = 0; i < N * m; i++) {
			d = y[i] - yh[i];
			num += d * d;
			den += y[i] * y[i];
		}
		meas = sqrt(num / den);
		pred = rs_spec_error(su, k);
		d = fabs(pred - meas) / meas;
		if (d > worst[1])
			worst[1] = d;
		tap_ok(d < 1e-4, "%s uncentred rank %zu: predicted %.8f, measured %.8f (rel. %.1e)",
		    name, k, pred, meas, d);
	}
	rs_calib_stats_free(st);
	rs_linalg_ws_free(ws);
	rs_free(cause);
	free(w); free(wd); free(x); free(y); free(z); free(yh); free(lc); free(lu); free(gram);
	free(uk); free(fa); free(b);
}

/* Progress callback that cancels its own job. */
static void
cancel_on_progress(void *ud, double done, double total, const char *what)
{
	struct rs_job *job = ud;

	(void)done;
	(void)total;
	(void)what;
	job->cancel = 1;
}

/* Every progress report of a job, in order. */
struct progress_log {
	double done[64], total[64];
	int n, more;            /* reports kept, reports past the 64 */
};

/* Progress callback that records the reports. */
static void
log_progress(void *ud, double done, double total, const char *what)
{
	struct progress_log *pl = ud;

	(void)what;
	if (pl->n < 64) {
		pl->done[pl->n] = done;
		pl->total[pl->n] = total;
		pl->n++;
	} else {
		pl->more++;
	}
}

/* spectra's progress is its matrices weighted by their work (spectra-run.h: b·k²/2 + 2k³/3
 * multiply-adds for an m×n matrix, k = min, b = max), not a count: with one worker, which
 * takes the largest matrices first, the first report is a whole number of shares of the
 * largest matrix, the reports rise, and the last one is all of them. */
static void
check_progress_weights(struct rs_cmd_ctx *ctx, struct rs_session *s)
{
	struct progress_log pl;
	struct rs_job job;
	double w, wbig = 0.0, wall = 0.0, shares;
	int l, k, rc, rising = 1, nmat = 0;

	for (l = 0; l < rs_model_config(s->model)->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			const struct rs_tensor *t = rs_model_tensor(s->model, l, (enum rs_tkind)k);
			double m = (double)t->rows, n = (double)t->cols;
			double kk = m < n ? m : n, b = m < n ? n : m;
			w = b * kk * kk / 2.0 + 2.0 * kk * kk * kk / 3.0;
			wall += w;
			wbig = w > wbig ? w : wbig;
			nmat++;
		}
	memset(&pl, 0, sizeof pl);
	memset(&job, 0, sizeof job);
	job.progress = log_progress;
	job.ud = &pl;
	ctx->job = &job;
	s->threads = 1;
	rc = rs_cmd_run_line(ctx, "spectra --recompute");
	ctx->job = NULL;
	for (k = 1; k < pl.n; k++)
		rising &= pl.done[k] >= pl.done[k - 1] && pl.total[k] == nmat;
	shares = pl.n > 0 ? pl.done[0] / nmat * wall / wbig : 0.0;
	tap_ok(rc == 0 && pl.n > 1 && pl.more == 0 && pl.total[0] == nmat && rising &&
	    shares > 0.5 && fabs(shares - floor(shares + 0.5)) < 1e-9 &&
	    pl.done[pl.n - 1] == nmat,
	    "spectra progress by work: %d reports, the first %.4f of %d (%.6f shares of the "
	    "largest matrix; a count would say 1), rising to %g of %g", pl.n,
	    pl.n > 0 ? pl.done[0] : 0.0, nmat, shares, pl.n > 0 ? pl.done[pl.n - 1] : 0.0,
	    pl.n > 0 ? pl.total[pl.n - 1] : 0.0);
}

/* Part 2: predicted feature errors against measured ones on kjv-llama's activations. */
static void
test_feature_errors(void)
{
	static struct sink out;
	const struct rs_out o = { sink_write, &out };
	char model[1024], text[1024], line[4096], tmpl[] = "/tmp/rs-test-analysis.XXXXXX";
	struct rs_session *s = rs_session_new();
	struct rs_cmd_ctx ctx;
	struct capture cap;
	struct rs_forward *f;
	int32_t *ids = NULL;
	size_t n_ids = 0, len, N = 2048;
	char *buf = NULL, *cause = NULL, *dir;
	double worst[2] = { 0, 0 };
	const int layers[NCAP] = { 0, 1, 2, 4, 5 };
	const enum rs_tkind mats[NCAP] = { RS_T_Q, RS_T_O, RS_T_GATE, RS_T_DOWN, RS_T_V };
	int i, rc;

	{
		const char *root = getenv("RS_FIXTURES") != NULL ? getenv("RS_FIXTURES") :
		    "../shared/fixtures";
		snprintf(model, sizeof model, "%s/kjv-llama/model.safetensors", root);
		snprintf(text, sizeof text, "%s/texts/kjv-calib.txt", root);
		if (access(model, R_OK) != 0 || access(text, R_OK) != 0) {
			tap_skip(1, "fixture kjv-llama or texts/kjv-calib.txt missing: the feature-error "
			    "checks");
			rs_session_free(s);
			return;
		}
		snprintf(model, sizeof model, "%s/kjv-llama", root);
	}
	if ((dir = mkdtemp(tmpl)) == NULL) {
		tap_ok(0, "a temporary directory");
		rs_session_free(s);
		return;
	}
	setenv("XDG_CACHE_HOME", dir, 1);

	memset(&ctx, 0, sizeof ctx);
	ctx.session = s;
	ctx.out = &o;

	/* Cancel from the first progress report: what finished is kept. */
	{
		struct rs_job job;
		memset(&job, 0, sizeof job);
		job.progress = cancel_on_progress;
		job.ud = &job;
		ctx.job = &job;
		s->threads = 1;
		snprintf(line, sizeof line, "load '%s'", model);
		rc = rs_cmd_run_line(&ctx, line);
		rc = rc != 0 ? rc : rs_cmd_run_line(&ctx, "spectra");
		tap_ok(rc == RS_ECANCEL && rs_analysis_count(s->analysis, RS_SPEC_WEIGHT) >= 1 &&
		    rs_analysis_count(s->analysis, RS_SPEC_WEIGHT) < 42,
		    "spectra cancelled at the first progress report keeps what finished (%zu of 42)",
		    rs_analysis_count(s->analysis, RS_SPEC_WEIGHT));
		snprintf(line, sizeof line, "calibrate '%s' --max-tokens %zu --groups 1", text, N);
		rc = rs_cmd_run_line(&ctx, line);
		tap_ok(rc == RS_ECANCEL && s->calib == NULL && strstr(out.buf, "cancelled") != NULL,
		    "calibrate cancelled at the first progress report leaves no calibration");
		ctx.job = NULL;
		s->threads = 2;
	}
	check_progress_weights(&ctx, s);
	s->threads = 2;
	snprintf(line, sizeof line, "load '%s'; calibrate '%s' --max-tokens %zu --groups 1; "
	    "spectra --kind feature; spectra --kind feature --variant uncentred", model, text, N);
	rc = rs_cmd_run_line(&ctx, line);
	tap_ok(rc == 0, "load; calibrate --max-tokens 2048 --groups 1; spectra --kind feature "
	    "(both variants)");
	tap_ok(strstr(out.buf, "8 windows of 256 tokens") != NULL &&
	    strstr(out.buf, "6 layers computed in 1 pass") != NULL,
	    "the calibration used 8 windows of 256 tokens in one pass");
	tap_ok(s->calib != NULL && s->analysis != NULL &&
	    rs_analysis_count(s->analysis, RS_SPEC_CENTRED) == 42 &&
	    rs_analysis_count(s->analysis, RS_SPEC_UNCENTRED) == 42,
	    "42 centred and 42 uncentred feature spectra stored");
	if (rc != 0 || s->calib == NULL)
		goto out;

	/* The same token windows: BOS + the text, 8 windows of 256. */
	if (rs_textfile_read(text, &buf, &len, &cause) != 0 ||
	    rs_tokenizer_encode(s->tok, buf, len, 1, &ids, &n_ids, &cause) != 0 || n_ids < N) {
		tap_ok(0, "tokenize the calibration text: %s", cause ? cause : "too short");
		goto out;
	}
	memset(&cap, 0, sizeof cap);
	cap.cap = N;
	for (i = 0; i < NCAP; i++) {
		cap.layer[i] = layers[i];
		cap.g[i] = rs_calib_input_of(mats[i]);
	}
	f = rs_forward_new(s->model, 512, 256, &cause);
	tap_ok(f != NULL, "forward pass state");
	if (f == NULL)
		goto out;
	rs_forward_set_hook(f, capture_hook, &cap);
	for (i = 0; i < 8 && f != NULL; i += 2)
		if (rs_forward_run(f, ids + (size_t)i * 256, 2, 256, 0, NULL, NULL, &cause) != 0)
			break;
	tap_ok(i == 8 && cap.rows[0] == N, "captured %zu activations per input", cap.rows[0]);
	rs_forward_free(f);
	for (i = 0; i < NCAP; i++)
		if (cap.rows[i] == N)
			measure(s, layers[i], mats[i], cap.x[i], N, 3, worst);
	tap_diag("largest relative difference predicted vs measured: centred %.2e, uncentred %.2e",
	    worst[0], worst[1]);
	for (i = 0; i < NCAP; i++)
		free(cap.x[i]);
out:
	rs_free(ids);
	rs_free(buf);
	rs_free(cause);
	rs_free(ctx.cause);
	rs_session_free(s);
	snprintf(line, sizeof line, "rm -rf '%s'", dir);
	if (system(line) != 0)
		tap_diag("could not remove %s", dir);
}

int
main(void)
{
	test_constructed();
	test_feature_errors();
	return tap_done();
}
