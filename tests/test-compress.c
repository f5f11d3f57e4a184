/* test-compress.c: the four factor methods and the factor cache on kjv-llama.
 *
 * 1. svd: ‖W − B_k A_k‖_F² against the tail Σ_{i>k} σᵢ² of the REFERENCE singular values of L0.q
 *    (float64 SVD outside rankscope, refs/kjv-llama-sv-L0.q.txt), at several ranks; the same
 *    for the wide L0.down and the tall L0.gate against LAPACK's dgesdd called here.
 * 2. Every method at full rank reconstructs W (feature: with its bias ≈ 0).
 * 3. feature and whiten: the relative feature error ‖(W − Ŵ) L‖_F / ‖W L‖_F of the factors
 *    equals the error the spectra store predicts (computed separately by `spectra --kind
 *    feature`); feature's bias restores the mean output: Ŵ μ + b = W μ.
 * 4. asvd with α = 0 is plain SVD.
 * 5. Cache: a rank change after the first build runs no decomposition; the rank-32 pair is the
 *    first 32 components of the rank-64 one; with a zero budget nothing is held and the factors
 *    are the same.
 * 6. With a budget the full-rank factors exceed, an entry is held cut to the requested rank:
 *    a lower rank is then served from it, a higher one decomposes again. */
#include "config.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

#include "alloc.h"
#include "analysis.h"
#include "calib.h"
#include "cmd.h"
#include "compress.h"
#include "engine.h"
#include "linalg.h"
#include "model.h"
#include "plan.h"
#include "session.h"

/* Output sink: discard text, echo errors as diagnostics. */
static void
sink_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	(void)ud;
	if (kind == RS_OUT_ERROR)
		printf("# %.*s", (int)len, text);
}

/* W of plan matrix i as float32 (allocated). */
static float *
weights(const struct rs_model *m, int i)
{
	const struct rs_tensor *t = rs_model_tensor(m, i / 7, (enum rs_tkind)(i % 7));
	float *w = rs_mallocarray((size_t)(t->rows * t->cols), sizeof *w);

	rs_model_tensor_rows_f32(m, t, 0, t->rows, w);
	return w;
}

/* Ŵ = B A (+ bias ignored) of a pair into a new array. */
static float *
recon(const struct rs_factor_pair *fp)
{
	float *w = rs_mallocarray(fp->m * fp->n, sizeof *w);

	rs_factor_pair_rows(fp, 0, fp->m, w);
	return w;
}

/* ‖a − b‖_F² and ‖b‖_F² over n floats. */
static double
diff2(const float *a, const float *b, size_t n, double *norm2)
{
	double d = 0, s = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		s += (double)b[i] * b[i];
	}
	*norm2 = s;
	return d;
}

/* Build the factors of a one-matrix plan (matrix i at rank r) with src. */
static struct rs_compress_set *
build_one(struct rs_compress *c, struct rs_plan *p, int i, int r,
    const struct rs_compress_src *src)
{
	struct rs_compress_set *set = NULL;
	char *cause = NULL;
	int k;

	rs_plan_set_align(p, 1);
	for (k = 0; k < rs_plan_count(p); k++)
		rs_plan_set(p, k, k == i ? r : RS_PLAN_DENSE, NULL);
	if (rs_compress_build(c, p, src, &set, NULL, &cause) != 0) {
		tap_diag("build: %s", cause != NULL ? cause : "?");
		rs_free(cause);
		return NULL;
	}
	return set;
}

/* Relative feature error ‖(W − Ŵ) L‖_F / ‖W L‖_F with L from the statistics. */
static double
feature_err(const float *w, const float *wh, size_t m, size_t n, const double *l)
{
	double *d = rs_mallocarray(m * n, sizeof *d), *e = rs_mallocarray(m * n, sizeof *e);
	double *dl = rs_mallocarray(m * n, sizeof *dl), *el = rs_mallocarray(m * n, sizeof *el);
	double num = 0, den = 0;
	size_t i;

	for (i = 0; i < m * n; i++) {
		d[i] = (double)w[i] - wh[i];
		e[i] = w[i];
	}
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0, d,
	    (int)n, l, (int)n, 0.0, dl, (int)n);
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)n, 1.0, e,
	    (int)n, l, (int)n, 0.0, el, (int)n);
	for (i = 0; i < m * n; i++) {
		num += dl[i] * dl[i];
		den += el[i] * el[i];
	}
	rs_free(d);
	rs_free(e);
	rs_free(dl);
	rs_free(el);
	return sqrt(num / den);
}

int
main(void)
{
	static const int methods[] = { RS_METHOD_SVD, RS_METHOD_FEATURE, RS_METHOD_WHITEN,
	    RS_METHOD_ASVD };
	const struct rs_out o = { sink_write, NULL };
	struct rs_cmd_ctx ctx;
	struct rs_session *s;
	struct rs_compress *c;
	struct rs_compress_src src;
	struct rs_compress_counters c0, c1;
	struct rs_compress_set *set, *set2;
	char path[1024], line[4096], dir[] = "/tmp/rs-test-compress.XXXXXX", *cause = NULL;
	const char *srcdir = getenv("RS_SRCDIR");
	double ref[256], tail[257];
	FILE *f;
	int i, k, nref = 0, ok;

	setenv("OPENBLAS_NUM_THREADS", "1", 0);
	tap_fixture(path, sizeof path, "refs/kjv-llama-sv-L0.q.txt");
	if ((f = fopen(path, "r")) == NULL)
		tap_skip_all("reference unreadable");
	while (fgets(line, sizeof line, f) != NULL && nref < 256)
		if (line[0] != '#')
			ref[nref++] = strtod(line, NULL);
	fclose(f);
	tap_ok(nref == 256, "reference: 256 singular values of L0.q");
	tail[nref] = 0;
	for (i = nref - 1; i >= 0; i--)
		tail[i] = tail[i + 1] + ref[i] * ref[i];

	if (mkdtemp(dir) == NULL)
		tap_skip_all("no temporary directory");
	setenv("XDG_CACHE_HOME", dir, 1);
	s = rs_session_new();
	memset(&ctx, 0, sizeof ctx);
	ctx.session = s;
	ctx.out = &o;
	snprintf(line, sizeof line, "load %s/share/models/kjv-llama; set threads 1; calibrate "
	    "%s/share/texts/kjv-calib.txt --ctx 128 --max-tokens 2048 --groups 4; spectra --kind "
	    "feature; spectra --kind feature --variant uncentred", srcdir != NULL ? srcdir : "..",
	    srcdir != NULL ? srcdir : "..");
	if (rs_cmd_run_line(&ctx, line) != 0) {
		tap_diag("setup: %s", ctx.cause != NULL ? ctx.cause : "?");
		tap_skip_all("bundled model or calibration text unavailable");
	}
	c = rs_engine_compress(s, &cause);
	tap_ok(c != NULL, "factor cache for the session");
	rs_engine_src(s, &src);
	tap_ok(src.calib != NULL, "calibration complete");

	/* 1. svd against the reference spectrum */
	{
		float *w = weights(s->model, 0);
		static const int ranks[] = { 8, 64, 128, 200 };
		src.method = RS_METHOD_SVD;
		for (k = 0; k < 4; k++) {
			double n2 = 1, d2;
			float *wh;
			set = build_one(c, s->plan, 0, ranks[k], &src);
			wh = set != NULL ? recon(rs_compress_set_pair(set, 0)) : NULL;
			d2 = wh != NULL ? diff2(wh, w, 256 * 256, &n2) : -1;
			tap_ok(wh != NULL && tap_close(d2, tail[ranks[k]], 1e-3),
			    "svd L0.q rank %d: |W - BA|^2 = %.6e, reference tail %.6e", ranks[k], d2,
			    tail[ranks[k]]);
			rs_free(wh);
			rs_compress_set_free(set);
		}
		rs_free(w);
	}

	/* 1b. svd of the wide L0.down (256x768) and the tall L0.gate (768x256) against the
	 * optimal tails of LAPACK's dgesdd called here on the same weights */
	{
		static const int mats[] = { 6, 4 };
		static const int ranks[] = { 8, 64, 128, 200, 256 };
		int j;
		src.method = RS_METHOD_SVD;
		for (j = 0; j < 2; j++) {
			const struct rs_tensor *t = rs_model_tensor(s->model, 0,
			    (enum rs_tkind)mats[j]);
			size_t m = (size_t)t->rows, n = (size_t)t->cols, r = m < n ? m : n, x;
			float *w = weights(s->model, mats[j]);
			double *wd = rs_mallocarray(m * n, sizeof *wd), sv[256], tl[257];
			for (x = 0; x < m * n; x++)
				wd[x] = w[x];
			/* the column-major n×m Wᵀ: the same singular values */
			ok = r == 256 && LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (int)n, (int)m, wd,
			    (int)n, sv, NULL, 1, NULL, 1) == 0;
			tl[256] = 0;
			for (i = 255; ok && i >= 0; i--)
				tl[i] = tl[i + 1] + sv[i] * sv[i];
			for (k = 0; ok && k < 5; k++) {
				double n2 = 1, d2;
				float *wh;
				set = build_one(c, s->plan, mats[j], ranks[k], &src);
				wh = set != NULL ? recon(rs_compress_set_pair(set, 0)) : NULL;
				d2 = wh != NULL ? diff2(wh, w, m * n, &n2) : -1;
				/* float32 factors: each entry of B·A within ~1e-7 of |W| */
				tap_ok(wh != NULL && fabs(d2 - tl[ranks[k]]) <= 1e-5 * tl[ranks[k]] +
				    1e-12 * n2, "svd %s rank %d: |W - BA|^2 = %.6e, dgesdd tail %.6e",
				    t->name, ranks[k], d2, tl[ranks[k]]);
				rs_free(wh);
				rs_compress_set_free(set);
			}
			rs_free(wd);
			rs_free(w);
		}
	}

	/* 2. full rank reconstructs W; 4. asvd α = 0 is svd */
	for (k = 0; k < 4; k++) {
		int idx[2] = { 0, 4 };    /* L0.q 256x256, L0.gate 768x256 */
		int j;
		src.method = (enum rs_method)methods[k];
		for (j = 0; j < 2; j++) {
			float *w = weights(s->model, idx[j]), *wh;
			const struct rs_factor_pair *fp;
			double n2 = 1, d2, bmax = 0;
			size_t x;
			set = build_one(c, s->plan, idx[j], 256, &src);
			fp = set != NULL ? rs_compress_set_pair(set, 0) : NULL;
			wh = fp != NULL ? recon(fp) : NULL;
			d2 = wh != NULL ? diff2(wh, w, fp->m * fp->n, &n2) : -1;
			for (x = 0; fp != NULL && fp->bias != NULL && x < fp->m; x++)
				bmax = fabs(fp->bias[x]) > bmax ? fabs(fp->bias[x]) : bmax;
			tap_ok(wh != NULL && sqrt(d2 / n2) < 2e-5 && bmax < 1e-4,
			    "%s %s full rank: relative |W - BA| = %.2e, max |bias| %.1e",
			    rs_method_name(src.method), rs_plan_name(s->plan, idx[j]),
			    d2 >= 0 ? sqrt(d2 / n2) : -1, bmax);
			rs_free(w);
			rs_free(wh);
			rs_compress_set_free(set);
		}
	}
	{
		float *wa, *wb;
		double n2, d2;
		src.method = RS_METHOD_SVD;
		set = build_one(c, s->plan, 3, 40, &src);
		src.method = RS_METHOD_ASVD;
		src.alpha = 0;
		set2 = build_one(c, s->plan, 3, 40, &src);
		wa = recon(rs_compress_set_pair(set, 0));
		wb = recon(rs_compress_set_pair(set2, 0));
		d2 = diff2(wa, wb, 256 * 256, &n2);
		tap_ok(sqrt(d2 / n2) < 1e-5, "asvd with alpha 0 = svd (relative difference %.1e)",
		    sqrt(d2 / n2));
		rs_free(wa);
		rs_free(wb);
		rs_compress_set_free(set);
		rs_compress_set_free(set2);
		src.alpha = 0.5;
	}

	/* 3. feature/whiten errors equal the spectra's predictions; the feature bias */
	for (k = 1; k <= 2; k++) {
		/* L0.q, L0.v, L0.o, L0.gate (tall), L0.down (wide) */
		static const int mats[] = { 0, 2, 3, 4, 6 };
		int j;
		src.method = (enum rs_method)methods[k];
		for (j = 0; j < 5; j++) {
			int i2 = 7 * 2 + mats[j], r = 48;   /* layer 2 */
			enum rs_tkind t = (enum rs_tkind)mats[j];
			struct rs_calib_stats *st = NULL;
			const struct rs_spec *sp = rs_analysis_get(s->analysis, 2, t,
			    k == 1 ? RS_SPEC_CENTRED : RS_SPEC_UNCENTRED);
			const struct rs_factor_pair *fp;
			float *w = weights(s->model, i2), *wh;
			double *l, lambda, e, want;
			size_t n;

			set = build_one(c, s->plan, i2, r, &src);
			fp = set != NULL ? rs_compress_set_pair(set, 0) : NULL;
			rs_calib_stats_get(s->calib, s->cache, 2, rs_calib_input_of(t), &st, &cause);
			if (fp == NULL || st == NULL || sp == NULL) {
				tap_ok(0, "%s L2.%s: factors, statistics and spectrum", rs_method_name(
				    src.method), rs_tkind_name(t));
				continue;
			}
			n = st->n;
			l = rs_mallocarray(n * n, sizeof *l);
			if (k == 1)
				rs_linalg_chol_reg(st->cov, n, l, &lambda, NULL);
			else {
				rs_calib_stats_gram(st, l);
				rs_linalg_chol_reg(l, n, l, &lambda, NULL);
			}
			wh = recon(fp);
			e = feature_err(w, wh, fp->m, n, l);
			want = rs_spec_error(sp, (size_t)r);
			tap_ok(tap_close(e, want, 1e-3), "%s L2.%s rank %d: feature error %.6f, spectra "
			    "predict %.6f", rs_method_name(src.method), rs_tkind_name(t), r, e, want);
			if (k == 1) {
				/* B(Aμ) + b = Wμ */
				double num = 0, den = 0;
				size_t x, y;
				for (x = 0; x < fp->m; x++) {
					double a = 0, b = 0;
					for (y = 0; y < n; y++) {
						a += (double)wh[x * n + y] * st->mean[y];
						b += (double)w[x * n + y] * st->mean[y];
					}
					a += fp->bias[x];
					num += (a - b) * (a - b);
					den += b * b;
				}
				tap_ok(sqrt(num / den) < 1e-5, "feature L2.%s: mean output restored by the "
				    "bias (relative %.1e)", rs_tkind_name(t), sqrt(num / den));
			}
			rs_free(l);
			rs_free(w);
			rs_free(wh);
			rs_calib_stats_free(st);
			rs_compress_set_free(set);
		}
	}

	/* 5. cache: rank changes cost no decomposition; truncation; zero budget */
	src.method = RS_METHOD_WHITEN;
	set = build_one(c, s->plan, 5, 64, &src);
	rs_compress_get_counters(c, &c0);
	set2 = build_one(c, s->plan, 5, 32, &src);
	rs_compress_get_counters(c, &c1);
	tap_ok(set != NULL && set2 != NULL && c1.decompositions == c0.decompositions &&
	    c1.hits == c0.hits + 1, "rank 64 -> 32: %llu decompositions, %llu cache hit",
	    (unsigned long long)(c1.decompositions - c0.decompositions),
	    (unsigned long long)(c1.hits - c0.hits));
	if (set != NULL && set2 != NULL) {
		const struct rs_factor_pair *a = rs_compress_set_pair(set, 0),
		    *b = rs_compress_set_pair(set2, 0);
		size_t x;
		ok = memcmp(a->a, b->a, 32 * a->n * sizeof(float)) == 0;
		for (x = 0; x < a->m && ok; x++)
			ok = memcmp(a->b + x * 64, b->b + x * 32, 32 * sizeof(float)) == 0;
		tap_ok(ok, "the rank-32 pair is the first 32 components of the rank-64 pair");
	}
	rs_compress_set_free(set2);
	{
		float *ka = NULL, *kb = NULL;
		size_t m = 0, n = 0;
		if (set != NULL) {
			const struct rs_factor_pair *a = rs_compress_set_pair(set, 0);
			m = a->m;
			n = a->n;
			ka = rs_mallocarray(64 * n, sizeof *ka);
			kb = rs_mallocarray(m * 64, sizeof *kb);
			memcpy(ka, a->a, 64 * n * sizeof *ka);
			memcpy(kb, a->b, m * 64 * sizeof *kb);
		}
		rs_compress_set_free(set);
		rs_compress_set_budget(c, 0);
		rs_compress_get_counters(c, &c0);
		tap_ok(c0.held == 0 && c0.held_bytes == 0, "budget 0 evicts every unused entry "
		    "(held %d, %llu bytes)", c0.held, (unsigned long long)c0.held_bytes);
		set2 = build_one(c, s->plan, 5, 64, &src);
		rs_compress_get_counters(c, &c1);
		ok = ka != NULL && set2 != NULL && c1.not_held == c0.not_held + 1 &&
		    c1.decompositions == c0.decompositions + 1 && c1.held == 0;
		if (ok) {
			const struct rs_factor_pair *b = rs_compress_set_pair(set2, 0);
			ok = memcmp(ka, b->a, 64 * n * sizeof(float)) == 0 &&
			    memcmp(kb, b->b, m * 64 * sizeof(float)) == 0;
		}
		tap_ok(ok, "over the budget: decomposed again, not held, the same factors");
		rs_compress_set_free(set2);

		/* 6. a budget below the full-rank factors but above the rank-64 ones: held cut */
		rs_compress_set_budget(c, 64 * (m + n) * sizeof(float) * 3 / 2);
		rs_compress_get_counters(c, &c0);
		set2 = build_one(c, s->plan, 5, 64, &src);
		rs_compress_get_counters(c, &c1);
		ok = ka != NULL && set2 != NULL && c1.decompositions == c0.decompositions + 1 &&
		    c1.truncated == c0.truncated + 1 && c1.held == 1 &&
		    c1.held_bytes == 64 * (m + n) * sizeof(float);
		if (ok) {
			const struct rs_factor_pair *b = rs_compress_set_pair(set2, 0);
			ok = memcmp(ka, b->a, 64 * n * sizeof(float)) == 0 &&
			    memcmp(kb, b->b, m * 64 * sizeof(float)) == 0;
		}
		tap_ok(ok, "full rank over the budget, rank 64 within: held cut to rank 64 (%llu "
		    "bytes), the same factors", (unsigned long long)c1.held_bytes);
		rs_compress_set_free(set2);
		set2 = build_one(c, s->plan, 5, 32, &src);
		rs_compress_get_counters(c, &c0);
		ok = set2 != NULL && c0.decompositions == c1.decompositions &&
		    c0.hits == c1.hits + 1;
		if (ok) {
			const struct rs_factor_pair *b = rs_compress_set_pair(set2, 0);
			size_t x;
			ok = memcmp(ka, b->a, 32 * n * sizeof(float)) == 0;
			for (x = 0; x < m && ok; x++)
				ok = memcmp(kb + x * 64, b->b + x * 32, 32 * sizeof(float)) == 0;
		}
		tap_ok(ok, "rank 32 from the entry cut to 64: no decomposition, the first 32 "
		    "components");
		rs_compress_set_free(set2);
		set2 = build_one(c, s->plan, 5, 80, &src);
		rs_compress_get_counters(c, &c1);
		tap_ok(set2 != NULL && c1.decompositions == c0.decompositions + 1 &&
		    c1.held == 1 && c1.held_bytes == 80 * (m + n) * sizeof(float),
		    "rank 80 above the held 64: decomposed again, held cut to 80");
		rs_compress_set_free(set2);
		rs_free(ka);
		rs_free(kb);
	}

	rs_free(cause);
	rs_free(ctx.cause);
	rs_session_free(s);
	snprintf(line, sizeof line, "rm -rf '%s'", dir);
	if (system(line) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
