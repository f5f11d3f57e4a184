/* lrq.c: low-rank plus quantized residual (seed paper 2: ReALLM; LQ-LoRA), as a plugin.
 *
 *     W ≈ L1 L2 + Q(W − L1 L2)
 *
 * L1 (m×r) and L2 (r×n) are kept in float16 (counted as 16 bits each); Q is one of
 *   scalar  blockwise asymmetric round-to-nearest: blocks of g consecutive weights of a row
 *           (g = 32, 64, 128), b = 2, 3, 4 or 8 bits; per block a float16 scale and a b-bit
 *           zero point: w ≈ scale · (q − z).  Bits per weight: b + (16 + b) / g;
 *   vector  (ReALLM) a k-means codebook per matrix of 2^b centroids of d consecutive weights
 *           (float16), one b-bit index per vector: b / d bits per weight + 16·d·2^b / (m n).
 * Fitting alternates (LQ-LoRA's algorithm): L = best rank-r approximation of W − Q (SVD),
 * rounded to float16; Q = quantize(W − L); repeated while ‖W − L − Q‖_F falls by more than
 * 0.1 % (at most 8 rounds), keeping the best.
 *
 * Per-matrix configuration: for every matrix and candidate (rank, quantizer) the error
 * ‖W − L − Q‖²_F of one round is the predicted error; an integer program (GLPK) picks one
 * candidate per matrix to minimize the total predicted error with total bits ≤ B · params:
 *     min Σ e_ic x_ic   s.t.  Σ_c x_ic = 1 (every i),  Σ bits_ic x_ic ≤ B · Σ m_i n_i,
 *     x_ic ∈ {0, 1}.
 * Candidate ranks: 0, 8, 16, 32, 64 (clamped below the matrix's break-even), or only R with
 * --rank R (--rank 0: plain round-to-nearest at the same budget, the baseline).  Quantizers:
 * the 12 scalar shapes, or only the vector shape given by --vq-dim/--vq-bits.
 *
 * The result replaces the decoder matrices through the host (`ppl` then measures it);
 * --save FILE writes the compressed form (safetensors, below) and --load FILE reads it back;
 * --export-dense DIR writes the dequantized model as a Hugging Face folder (float32).
 *
 * --save format: one safetensors file, all float16 except where said:
 *   "<hf name>.L1" (m×r), "<hf name>.L2" (r×n)               when r > 0
 *   scalar: "<hf name>.q" (m×n codes), ".scale" (mn/g × 1), ".zero" (mn/g × 1)
 *   vector: "<hf name>.q" (mn/d × 1 indices), ".codebook" (2^b × d)
 * (blocks and vectors run over the matrix in row-major order, so a row length need not be a
 * multiple of g or d, only m·n)
 * codes, zero points and indices are small integers stored exactly as float16 values (one per
 * element: the file is for reproduction, not packed; the bit counts above are what a packed
 * layout needs).  Metadata: "rankscope.kind": "lrq", "rankscope.lrq": JSON
 * {"version":1,"model":PATH,"matrices":[{"layer":l,"mat":k,"rank":r,"kind":"scalar"|"vector",
 * "bits":b,"block":g,"dim":d}...]}. */
#include <glpk.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rankscope-plugin.h"

#define LRQ_MAX_ROUNDS 8
#define LRQ_KMEANS_ITERS 8
#define LRQ_MAX_CAND 80

/* One candidate configuration of a matrix. */
struct cand {
	int rank;
	int vector;		/* 0 scalar, 1 vector */
	int bits;		/* scalar bits, or bits per vector index */
	int block;		/* scalar block size */
	int dim;		/* vector length */
};

/* One matrix being compressed. */
struct mat {
	int layer, kind;
	int64_t m, n;
	float *w;		/* (m×n) original */
	struct cand cand[LRQ_MAX_CAND];
	double err[LRQ_MAX_CAND], bits[LRQ_MAX_CAND];
	int n_cand, pick;
	/* result */
	float *l1, *l2;		/* (m×r), (r×n), float16-rounded */
	float *codes;		/* scalar: m×n; vector: m×n/d */
	float *scale, *zero;	/* scalar: m×n/g */
	float *codebook;	/* vector: 2^b × d */
	double final_err, norm2;
	int rounds;
};

/* What one `lrq` run works with. */
struct run {
	const struct rs_host *h;
	struct rs_plugin_model pm;
	struct mat *mats;
	int n_mats;
};

/* Round to float16 precision. */
static float
f16r(const struct rs_host *h, float x)
{
	return h->f16_to_f32(h->f32_to_f16(x));
}

/* Bits of a candidate for an m×n matrix. */
static double
cand_bits(const struct cand *c, int64_t m, int64_t n)
{
	double mn = (double)m * (double)n, b = 16.0 * c->rank * (double)(m + n);

	if (c->vector)
		b += mn / c->dim * c->bits + 16.0 * c->dim * (double)(1 << c->bits);
	else
		b += mn * c->bits + mn / c->block * (16.0 + c->bits);
	return b;
}

/* Scalar blockwise asymmetric round-to-nearest (blocks of g consecutive row-major weights) of r (m×n) into out; codes/scales kept when
 * given.  Returns the squared error. */
static double
quant_scalar(const struct rs_host *h, const float *r, int64_t m, int64_t n, int bits, int g,
    float *out, float *codes, float *scale, float *zero)
{
	int64_t i, nb = m * n / g, b;
	double err = 0;
	int qmax = (1 << bits) - 1, k;

	for (b = 0; b < nb; b++) {
		const float *x = r + b * g;
		float mn = x[0], mx = x[0], s, z;

		for (k = 1; k < g; k++) {
			if (x[k] < mn)
				mn = x[k];
			if (x[k] > mx)
				mx = x[k];
		}
		s = f16r(h, (mx - mn) / qmax);
		if (s <= 0) {
			s = f16r(h, 1e-8f);
			if (s <= 0)
				s = 6e-8f;
		}
		z = roundf(-mn / s);
		if (z < 0)
			z = 0;
		if (z > qmax)
			z = (float)qmax;
		for (k = 0; k < g; k++) {
			float q = roundf(x[k] / s + z), y;
			if (q < 0)
				q = 0;
			if (q > qmax)
				q = (float)qmax;
			y = s * (q - z);
			if (out != NULL)
				out[b * g + k] = y;
			if (codes != NULL)
				codes[b * g + k] = q;
			err += (double)(x[k] - y) * (x[k] - y);
		}
		if (scale != NULL) {
			scale[b] = s;
			zero[b] = z;
		}
	}
	(void)i;
	return err;
}

/* Nearest centroid of vector x among K of dimension d. */
static int
nearest(const float *x, const float *cb, int K, int d, float *dist)
{
	int c, j, best = 0;
	float bd = INFINITY;

	for (c = 0; c < K; c++) {
		float s = 0;
		for (j = 0; j < d; j++) {
			float t = x[j] - cb[c * d + j];
			s += t * t;
		}
		if (s < bd) {
			bd = s;
			best = c;
		}
	}
	*dist = bd;
	return best;
}

/* Vector quantization of r (m×n) with a k-means codebook of 2^bits centroids of d weights
 * (deterministic initialization: evenly spaced vectors).  Returns the squared error, or < 0
 * when out of memory. */
static double
quant_vector(const struct rs_host *h, const float *r, int64_t m, int64_t n, int bits, int d,
    float *out, float *codes, float *codebook)
{
	int64_t nv = m * n / d, v;
	int K = 1 << bits, it, c, j;
	float *cb = codebook != NULL ? codebook : h->alloc((size_t)K * d * sizeof(float));
	double *sum = h->calloc((size_t)K * d, sizeof(double)), err = 0;
	int64_t *cnt = h->calloc((size_t)K, sizeof(int64_t));
	int *idx = h->alloc((size_t)nv * sizeof(int));
	float dist;

	if (cb == NULL || sum == NULL || cnt == NULL || idx == NULL) {
		if (codebook == NULL)
			h->free(cb);
		h->free(sum);
		h->free(cnt);
		h->free(idx);
		return -1;
	}
	if (K > nv)
		K = (int)nv;
	for (c = 0; c < K; c++)
		memcpy(cb + (size_t)c * d, r + (int64_t)((double)c * nv / K) * d,
		    (size_t)d * sizeof(float));
	for (it = 0; it <= LRQ_KMEANS_ITERS; it++) {
		memset(sum, 0, (size_t)K * d * sizeof(double));
		memset(cnt, 0, (size_t)K * sizeof(int64_t));
		for (v = 0; v < nv; v++) {
			idx[v] = nearest(r + v * d, cb, K, d, &dist);
			cnt[idx[v]]++;
			for (j = 0; j < d; j++)
				sum[(size_t)idx[v] * d + j] += r[v * d + j];
		}
		if (it == LRQ_KMEANS_ITERS)
			break;
		for (c = 0; c < K; c++)
			if (cnt[c] > 0)
				for (j = 0; j < d; j++)
					cb[c * d + j] = (float)(sum[(size_t)c * d + j] / cnt[c]);
		/* float16 codebook: what is stored is what is used */
		for (c = 0; c < K * d; c++)
			cb[c] = f16r(h, cb[c]);
	}
	for (c = 0; c < K * d; c++)
		cb[c] = f16r(h, cb[c]);
	for (v = 0; v < nv; v++) {
		idx[v] = nearest(r + v * d, cb, K, d, &dist);
		err += dist;
		if (out != NULL)
			memcpy(out + v * d, cb + (size_t)idx[v] * d, (size_t)d * sizeof(float));
		if (codes != NULL)
			codes[v] = (float)idx[v];
	}
	if (codebook == NULL)
		h->free(cb);
	h->free(sum);
	h->free(cnt);
	h->free(idx);
	return err;
}

/* Quantize r with candidate c into out (and its stored parts when given). */
static double
quantize(const struct rs_host *h, const struct cand *c, const float *r, int64_t m, int64_t n,
    float *out, float *codes, float *scale, float *zero, float *codebook)
{
	if (c->vector)
		return quant_vector(h, r, m, n, c->bits, c->dim, out, codes, codebook);
	return quant_scalar(h, r, m, n, c->bits, c->block, out, codes, scale, zero);
}

/* Thin SVD of a (m×n, destroyed): u (m×k), s (k), vt (k×n), k = min(m, n). */
static int
svd(float *a, int64_t m, int64_t n, float *u, float *s, float *vt)
{
	int64_t k = m < n ? m : n;

	return LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)m, (lapack_int)n, a,
	    (lapack_int)n, s, u, (lapack_int)k, vt, (lapack_int)n);
}

/* L = U_r S_r V_rᵀ as float16-rounded factors l1 = U_r S_r, l2 = V_rᵀ, and lw = l1 l2. */
static void
lowrank(const struct rs_host *h, const float *u, const float *s, const float *vt, int64_t m,
    int64_t n, int r, float *l1, float *l2, float *lw)
{
	int64_t k = m < n ? m : n, i, j;
	int t;

	for (i = 0; i < m; i++)
		for (t = 0; t < r; t++)
			l1[i * r + t] = f16r(h, u[i * k + t] * s[t]);
	for (t = 0; t < r; t++)
		for (j = 0; j < n; j++)
			l2[t * n + j] = f16r(h, vt[t * n + j]);
	for (i = 0; i < m; i++)
		for (j = 0; j < n; j++) {
			float acc = 0;
			for (t = 0; t < r; t++)
				acc += l1[i * r + t] * l2[t * n + j];
			lw[i * n + j] = acc;
		}
}

/* Candidates of one matrix for the options. */
static void
make_cands(struct mat *x, int fixed_rank, int vq_dim, int vq_bits)
{
	static const int ranks[] = { 0, 8, 16, 32, 64 };
	static const int sbits[] = { 2, 3, 4, 8 };
	static const int blocks[] = { 32, 64, 128 };
	double be = (double)x->m * x->n / (double)(x->m + x->n);
	int ri, bi, gi, nr = fixed_rank >= 0 ? 1 : 5;

	x->n_cand = 0;
	for (ri = 0; ri < nr; ri++) {
		int r = fixed_rank >= 0 ? fixed_rank : ranks[ri];
		if (r > 0 && (r >= be / 2 || r > (x->m < x->n ? x->m : x->n)))
			continue;
		if (vq_dim > 0) {
			if ((x->m * x->n) % vq_dim != 0)
				continue;
			x->cand[x->n_cand++] = (struct cand){ r, 1, vq_bits, 0, vq_dim };
			continue;
		}
		for (bi = 0; bi < 4; bi++)
			for (gi = 0; gi < 3; gi++)
				if ((x->m * x->n) % blocks[gi] == 0 && x->n_cand < LRQ_MAX_CAND)
					x->cand[x->n_cand++] = (struct cand){ r, 0, sbits[bi],
					    blocks[gi], 0 };
	}
}

/* Predicted error of every candidate: one round (SVD of W, quantize the residual). */
static int
predict(const struct rs_host *h, struct mat *x, char **cause)
{
	int64_t m = x->m, n = x->n, k = m < n ? m : n, mn = m * n;
	float *a = h->alloc((size_t)mn * sizeof(float)), *u = h->alloc((size_t)(m * k) * 4);
	float *s = h->alloc((size_t)k * 4), *vt = h->alloc((size_t)(k * n) * 4);
	float *l1 = h->alloc((size_t)(m * 64 + 1) * 4), *l2 = h->alloc((size_t)(64 * n + 1) * 4);
	float *lw = h->alloc((size_t)mn * 4), *res = h->alloc((size_t)mn * 4);
	int c, prev = -1, rc = 0;
	int64_t i;

	if (a == NULL || u == NULL || s == NULL || vt == NULL || l1 == NULL || l2 == NULL ||
	    lw == NULL || res == NULL) {
		rc = h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
		goto done;
	}
	memcpy(a, x->w, (size_t)mn * 4);
	if (svd(a, m, n, u, s, vt) != 0) {
		rc = h->fail(cause, RS_PLUGIN_EINVAL, "lrq: SVD of layer %d matrix %d failed",
		    x->layer, x->kind);
		goto done;
	}
	x->norm2 = 0;
	for (i = 0; i < mn; i++)
		x->norm2 += (double)x->w[i] * x->w[i];
	for (c = 0; c < x->n_cand; c++) {
		const struct cand *cd = &x->cand[c];
		if (cd->rank != prev) {
			if (cd->rank > 0)
				lowrank(h, u, s, vt, m, n, cd->rank, l1, l2, lw);
			else
				memset(lw, 0, (size_t)mn * 4);
			for (i = 0; i < mn; i++)
				res[i] = x->w[i] - lw[i];
			prev = cd->rank;
		}
		x->err[c] = quantize(h, cd, res, m, n, NULL, NULL, NULL, NULL, NULL);
		if (x->err[c] < 0) {
			rc = h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
			goto done;
		}
		x->bits[c] = cand_bits(cd, m, n);
	}
done:
	h->free(a);
	h->free(u);
	h->free(s);
	h->free(vt);
	h->free(l1);
	h->free(l2);
	h->free(lw);
	h->free(res);
	return rc;
}

/* Choose one candidate per matrix: the integer program, solved by GLPK. */
static int
choose(const struct rs_host *h, struct run *R, double budget_bits, double *total_bits,
    char **cause)
{
	glp_prob *lp;
	glp_iocp parm;
	int *ia, *ja, nv = 0, i, c, col, ne = 0, rc = 0, st;
	double *ar, scale = 0;

	for (i = 0; i < R->n_mats; i++)
		nv += R->mats[i].n_cand;
	ia = h->alloc((size_t)(2 * nv + 1) * sizeof(int));
	ja = h->alloc((size_t)(2 * nv + 1) * sizeof(int));
	ar = h->alloc((size_t)(2 * nv + 1) * sizeof(double));
	if (ia == NULL || ja == NULL || ar == NULL) {
		h->free(ia);
		h->free(ja);
		h->free(ar);
		return h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
	}
	/* errors relative to the matrices' total energy keep the objective well scaled */
	for (i = 0; i < R->n_mats; i++)
		scale += R->mats[i].norm2;
	scale = scale > 0 ? 1.0 / scale : 1.0;
	glp_term_out(GLP_OFF);
	lp = glp_create_prob();
	glp_set_obj_dir(lp, GLP_MIN);
	glp_add_rows(lp, R->n_mats + 1);
	for (i = 0; i < R->n_mats; i++)
		glp_set_row_bnds(lp, i + 1, GLP_FX, 1.0, 1.0);
	/* the budget row in megabits */
	glp_set_row_bnds(lp, R->n_mats + 1, GLP_UP, 0.0, budget_bits / 1e6);
	glp_add_cols(lp, nv);
	col = 0;
	for (i = 0; i < R->n_mats; i++)
		for (c = 0; c < R->mats[i].n_cand; c++) {
			col++;
			glp_set_col_kind(lp, col, GLP_BV);
			glp_set_obj_coef(lp, col, R->mats[i].err[c] * scale);
			ne++;
			ia[ne] = i + 1;
			ja[ne] = col;
			ar[ne] = 1.0;
			ne++;
			ia[ne] = R->n_mats + 1;
			ja[ne] = col;
			ar[ne] = R->mats[i].bits[c] / 1e6;
		}
	glp_load_matrix(lp, ne, ia, ja, ar);
	glp_init_iocp(&parm);
	parm.presolve = GLP_ON;
	parm.mip_gap = 1e-6;
	parm.tm_lim = 30000;
	st = glp_intopt(lp, &parm);
	if ((st != 0 && st != GLP_ETMLIM) || (glp_mip_status(lp) != GLP_OPT &&
	    glp_mip_status(lp) != GLP_FEAS)) {
		rc = h->fail(cause, RS_PLUGIN_EINVAL, "lrq: no configuration meets %.4g bits per "
		    "parameter (GLPK status %d; the cheapest scalar shape is 2 bits in blocks of "
		    "128: 2.14 bits)", budget_bits / (double)R->pm.linear_params,
		    glp_mip_status(lp));
	} else {
		*total_bits = 0;
		col = 0;
		for (i = 0; i < R->n_mats; i++) {
			R->mats[i].pick = -1;
			for (c = 0; c < R->mats[i].n_cand; c++) {
				col++;
				if (glp_mip_col_val(lp, col) > 0.5 && R->mats[i].pick < 0)
					R->mats[i].pick = c;
			}
			if (R->mats[i].pick < 0)
				R->mats[i].pick = 0;
			*total_bits += R->mats[i].bits[R->mats[i].pick];
		}
	}
	glp_delete_prob(lp);
	glp_free_env();
	h->free(ia);
	h->free(ja);
	h->free(ar);
	return rc;
}

/* Free a matrix's result arrays. */
static void
mat_free_result(const struct rs_host *h, struct mat *x)
{
	h->free(x->l1);
	h->free(x->l2);
	h->free(x->codes);
	h->free(x->scale);
	h->free(x->zero);
	h->free(x->codebook);
	x->l1 = x->l2 = x->codes = x->scale = x->zero = x->codebook = NULL;
}

/* Alternate low-rank fit and quantization for the chosen candidate; *what gets Ŵ (allocated). */
static int
fit(const struct rs_host *h, struct mat *x, float **what, char **cause)
{
	const struct cand *c = &x->cand[x->pick];
	int64_t m = x->m, n = x->n, k = m < n ? m : n, mn = m * n, i;
	int r = c->rank, round, nc = c->vector ? (int)(mn / c->dim) : (int)mn;
	int nb = c->vector ? 0 : (int)(mn / c->block), K = c->vector ? 1 << c->bits : 0;
	float *a = h->alloc((size_t)mn * 4), *u = h->alloc((size_t)(m * k) * 4);
	float *s = h->alloc((size_t)k * 4), *vt = h->alloc((size_t)(k * n) * 4);
	float *l1 = h->alloc((size_t)(m * r + 1) * 4), *l2 = h->alloc((size_t)(r * n + 1) * 4);
	float *lw = h->calloc((size_t)mn, 4), *q = h->calloc((size_t)mn, 4);
	float *res = h->alloc((size_t)mn * 4), *best = h->alloc((size_t)mn * 4);
	float *codes = h->alloc((size_t)nc * 4), *scale = h->alloc((size_t)(nb + 1) * 4);
	float *zero = h->alloc((size_t)(nb + 1) * 4), *cb = h->alloc((size_t)(K * c->dim + 1) * 4);
	double err, best_err = INFINITY;
	int rc = 0;

	*what = NULL;
	mat_free_result(h, x);
	if (a == NULL || u == NULL || s == NULL || vt == NULL || l1 == NULL || l2 == NULL ||
	    lw == NULL || q == NULL || res == NULL || best == NULL || codes == NULL ||
	    scale == NULL || zero == NULL || cb == NULL) {
		rc = h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
		goto done;
	}
	x->rounds = 0;
	for (round = 0; round < (r > 0 ? LRQ_MAX_ROUNDS : 1); round++) {
		float *nl1 = NULL, *nl2 = NULL;
		if (r > 0) {
			for (i = 0; i < mn; i++)
				a[i] = x->w[i] - q[i];
			if (svd(a, m, n, u, s, vt) != 0) {
				rc = h->fail(cause, RS_PLUGIN_EINVAL, "lrq: SVD failed");
				goto done;
			}
			lowrank(h, u, s, vt, m, n, r, l1, l2, lw);
		}
		for (i = 0; i < mn; i++)
			res[i] = x->w[i] - lw[i];
		err = quantize(h, c, res, m, n, q, codes, scale, zero, cb);
		if (err < 0) {
			rc = h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
			goto done;
		}
		x->rounds = round + 1;
		if (err < best_err) {
			int improved = err < best_err * (1 - 1e-3);
			best_err = err;
			for (i = 0; i < mn; i++)
				best[i] = lw[i] + q[i];
			/* keep the parts of the best round */
			mat_free_result(h, x);
			nl1 = h->alloc((size_t)(m * r + 1) * 4);
			nl2 = h->alloc((size_t)(r * n + 1) * 4);
			x->codes = h->alloc((size_t)nc * 4);
			if (nl1 == NULL || nl2 == NULL || x->codes == NULL) {
				h->free(nl1);
				h->free(nl2);
				rc = h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
				goto done;
			}
			memcpy(nl1, l1, (size_t)(m * r) * 4);
			memcpy(nl2, l2, (size_t)(r * n) * 4);
			memcpy(x->codes, codes, (size_t)nc * 4);
			x->l1 = nl1;
			x->l2 = nl2;
			if (c->vector) {
				if ((x->codebook = h->alloc((size_t)K * c->dim * 4)) == NULL) {
					rc = h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
					goto done;
				}
				memcpy(x->codebook, cb, (size_t)K * c->dim * 4);
			} else {
				x->scale = h->alloc((size_t)nb * 4);
				x->zero = h->alloc((size_t)nb * 4);
				if (x->scale == NULL || x->zero == NULL) {
					rc = h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
					goto done;
				}
				memcpy(x->scale, scale, (size_t)nb * 4);
				memcpy(x->zero, zero, (size_t)nb * 4);
			}
			if (!improved)
				break;
		} else {
			break;	/* the error stopped falling */
		}
	}
	x->final_err = best_err;
	*what = best;
	best = NULL;
done:
	h->free(a);
	h->free(u);
	h->free(s);
	h->free(vt);
	h->free(l1);
	h->free(l2);
	h->free(lw);
	h->free(q);
	h->free(res);
	h->free(best);
	h->free(codes);
	h->free(scale);
	h->free(zero);
	h->free(cb);
	return rc;
}

/* Free a run. */
static void
run_free(struct run *R)
{
	int i;

	for (i = 0; R->mats != NULL && i < R->n_mats; i++) {
		R->h->free(R->mats[i].w);
		mat_free_result(R->h, &R->mats[i]);
	}
	R->h->free(R->mats);
}

/* Read every decoder matrix. */
static int
run_load(struct run *R, char **cause)
{
	const struct rs_host *h = R->h;
	int l, k, rc;

	if ((rc = h->model(h->ctx, &R->pm, cause)) != 0)
		return rc;
	R->n_mats = R->pm.n_layers * RS_PLUGIN_MAT_COUNT;
	if ((R->mats = h->calloc((size_t)R->n_mats, sizeof *R->mats)) == NULL)
		return h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
	for (l = 0; l < R->pm.n_layers; l++)
		for (k = 0; k < RS_PLUGIN_MAT_COUNT; k++) {
			struct mat *x = &R->mats[l * RS_PLUGIN_MAT_COUNT + k];
			x->layer = l;
			x->kind = k;
			h->matrix_shape(h->ctx, l, (enum rs_plugin_mat)k, &x->m, &x->n);
			if ((x->w = h->alloc((size_t)(x->m * x->n) * sizeof(float))) == NULL)
				return h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
			if ((rc = h->matrix_rows(h->ctx, l, (enum rs_plugin_mat)k, 0, x->m, x->w,
			    cause)) != 0)
				return rc;
		}
	return 0;
}

/* Append float16 copies of n floats to the writer (the array is kept in *keep). */
static int
add_f16(const struct rs_host *h, struct rs_host_st *w, const char *name, const float *v,
    uint64_t rows, uint64_t cols, uint16_t **keep, char **cause)
{
	uint64_t i, n = rows * cols, shape[2] = { rows, cols };
	uint16_t *b = h->alloc((size_t)n * 2 + 2);

	if (b == NULL)
		return h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
	for (i = 0; i < n; i++)
		b[i] = h->f32_to_f16(v[i]);
	*keep = b;
	return h->st_add(w, name, RS_PLUGIN_F16, 2, shape, b, cause);
}

/* Write the compressed form (format in the header comment). */
static int
save(struct run *R, const char *path, char **cause)
{
	const struct rs_host *h = R->h;
	struct rs_host_st *w;
	uint16_t **keep;
	char *json, name[200];
	size_t jcap, jlen;
	int i, nk = 0, rc = 0;

	if ((keep = h->calloc((size_t)R->n_mats * 6, sizeof *keep)) == NULL)
		return h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
	jcap = 256 + (size_t)R->n_mats * 128 + strlen(R->pm.path) * 2;
	if ((json = h->alloc(jcap)) == NULL) {
		h->free(keep);
		return h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
	}
	if ((w = h->st_new(path, cause)) == NULL) {
		h->free(keep);
		h->free(json);
		return RS_PLUGIN_EIO;
	}
	jlen = (size_t)snprintf(json, jcap, "{\"version\":1,\"model\":\"");
	for (const char *p = R->pm.path; *p != '\0' && jlen + 8 < jcap; p++) {
		if (*p == '"' || *p == '\\')
			json[jlen++] = '\\';
		json[jlen++] = *p;
	}
	jlen += (size_t)snprintf(json + jlen, jcap - jlen, "\",\"matrices\":[");
	for (i = 0; i < R->n_mats && rc == 0; i++) {
		struct mat *x = &R->mats[i];
		const struct cand *c = &x->cand[x->pick];
		const char *hf = h->hf_name(h->ctx, x->layer, (enum rs_plugin_mat)x->kind);
		char base[160];

		snprintf(base, sizeof base, "%.*s", (int)(strlen(hf) - 7), hf);	/* ".weight" */
		jlen += (size_t)snprintf(json + jlen, jcap - jlen, "%s{\"layer\":%d,\"mat\":%d,"
		    "\"rank\":%d,\"kind\":\"%s\",\"bits\":%d,\"block\":%d,\"dim\":%d}",
		    i ? "," : "", x->layer, x->kind, c->rank, c->vector ? "vector" : "scalar",
		    c->bits, c->block, c->dim);
		if (c->rank > 0) {
			snprintf(name, sizeof name, "%s.L1", base);
			rc = add_f16(h, w, name, x->l1, (uint64_t)x->m, (uint64_t)c->rank,
			    &keep[nk++], cause);
			snprintf(name, sizeof name, "%s.L2", base);
			if (rc == 0)
				rc = add_f16(h, w, name, x->l2, (uint64_t)c->rank, (uint64_t)x->n,
				    &keep[nk++], cause);
		}
		snprintf(name, sizeof name, "%s.q", base);
		if (rc == 0)
			rc = add_f16(h, w, name, x->codes, c->vector ?
			    (uint64_t)(x->m * x->n / c->dim) : (uint64_t)x->m,
			    c->vector ? 1 : (uint64_t)x->n, &keep[nk++], cause);
		if (rc == 0 && c->vector) {
			snprintf(name, sizeof name, "%s.codebook", base);
			rc = add_f16(h, w, name, x->codebook, (uint64_t)1 << c->bits,
			    (uint64_t)c->dim, &keep[nk++], cause);
		} else if (rc == 0) {
			snprintf(name, sizeof name, "%s.scale", base);
			rc = add_f16(h, w, name, x->scale, (uint64_t)(x->m * x->n / c->block), 1,
			    &keep[nk++], cause);
			snprintf(name, sizeof name, "%s.zero", base);
			if (rc == 0)
				rc = add_f16(h, w, name, x->zero,
				    (uint64_t)(x->m * x->n / c->block), 1, &keep[nk++], cause);
		}
	}
	snprintf(json + jlen, jcap - jlen, "]}");
	if (rc == 0 && (rc = h->st_meta(w, "rankscope.kind", "lrq", cause)) == 0 &&
	    (rc = h->st_meta(w, "rankscope.lrq", json, cause)) == 0)
		rc = h->st_finish(h->ctx, w, cause);
	h->st_free(w);
	for (i = 0; i < nk; i++)
		h->free(keep[i]);
	h->free(keep);
	h->free(json);
	return rc;
}

/* A float16 tensor of the file as float32 (allocated), checking its shape. */
static float *
get_f16(const struct rs_host *h, struct rs_host_sr *r, const char *name, uint64_t rows,
    uint64_t cols, char **cause)
{
	enum rs_plugin_dtype dt;
	uint32_t nd;
	uint64_t shape[4], i;
	const void *data;
	size_t nb;
	float *out;

	if (h->sr_get(r, name, &dt, &nd, shape, &data, &nb, cause) != 0)
		return NULL;
	if (dt != RS_PLUGIN_F16 || nd != 2 || shape[0] != rows || shape[1] != cols ||
	    nb != rows * cols * 2) {
		h->fail(cause, RS_PLUGIN_EFORMAT, "lrq file: tensor '%s': expected F16 %llu x %llu",
		    name, (unsigned long long)rows, (unsigned long long)cols);
		return NULL;
	}
	if ((out = h->alloc((size_t)(rows * cols) * 4 + 4)) == NULL) {
		h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
		return NULL;
	}
	for (i = 0; i < rows * cols; i++) {
		uint16_t v;
		memcpy(&v, (const char *)data + 2 * i, 2);
		out[i] = h->f16_to_f32(v);
	}
	return out;
}

/* Parse the next integer field "key": N after *p in the metadata JSON. */
static int
json_int(const char *obj, const char *key, int *out)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	if ((p = strstr(obj, pat)) == NULL)
		return -1;
	*out = atoi(p + strlen(pat));
	return 0;
}

/* Dequantize one matrix of a loaded file: Ŵ = L1 L2 + Q. */
static int
load_one(const struct rs_host *h, struct rs_host_sr *r, const char *obj, struct run *R,
    char **cause)
{
	int layer, mat, rank, bits, block, dim, vector = strstr(obj, "\"vector\"") != NULL, rc = 0;
	int64_t m, n, i, j;
	float *l1 = NULL, *l2 = NULL, *q = NULL, *sc = NULL, *zr = NULL, *cb = NULL, *w = NULL;
	char base[160], name[200];
	const char *hf;

	if (json_int(obj, "layer", &layer) || json_int(obj, "mat", &mat) ||
	    json_int(obj, "rank", &rank) || json_int(obj, "bits", &bits) ||
	    json_int(obj, "block", &block) || json_int(obj, "dim", &dim) || layer < 0 ||
	    layer >= R->pm.n_layers || mat < 0 || mat >= RS_PLUGIN_MAT_COUNT || rank < 0 ||
	    bits < 1 || bits > 16)
		return h->fail(cause, RS_PLUGIN_EFORMAT, "lrq file: bad matrix entry %.60s", obj);
	h->matrix_shape(h->ctx, layer, (enum rs_plugin_mat)mat, &m, &n);
	if (rank > (m < n ? m : n) || (vector ? dim <= 0 || (m * n) % dim != 0 :
	    block <= 0 || (m * n) % block != 0))
		return h->fail(cause, RS_PLUGIN_EFORMAT, "lrq file: bad shape for %d/%d", layer,
		    mat);
	hf = h->hf_name(h->ctx, layer, (enum rs_plugin_mat)mat);
	snprintf(base, sizeof base, "%.*s", (int)(strlen(hf) - 7), hf);
	if ((w = h->calloc((size_t)(m * n), 4)) == NULL)
		return h->fail(cause, RS_PLUGIN_ENOMEM, "lrq: out of memory");
	if (rank > 0) {
		snprintf(name, sizeof name, "%s.L1", base);
		if ((l1 = get_f16(h, r, name, (uint64_t)m, (uint64_t)rank, cause)) == NULL)
			goto fail;
		snprintf(name, sizeof name, "%s.L2", base);
		if ((l2 = get_f16(h, r, name, (uint64_t)rank, (uint64_t)n, cause)) == NULL)
			goto fail;
		for (i = 0; i < m; i++)
			for (j = 0; j < n; j++) {
				float acc = 0;
				for (int t = 0; t < rank; t++)
					acc += l1[i * rank + t] * l2[t * n + j];
				w[i * n + j] = acc;
			}
	}
	snprintf(name, sizeof name, "%s.q", base);
	if ((q = get_f16(h, r, name, vector ? (uint64_t)(m * n / dim) : (uint64_t)m,
	    vector ? 1 : (uint64_t)n, cause)) == NULL)
		goto fail;
	if (vector) {
		int K = 1 << bits;
		snprintf(name, sizeof name, "%s.codebook", base);
		if ((cb = get_f16(h, r, name, (uint64_t)K, (uint64_t)dim, cause)) == NULL)
			goto fail;
		for (i = 0; i < m * n / dim; i++) {
			int c = (int)q[i];
			if (c < 0 || c >= K) {
				h->fail(cause, RS_PLUGIN_EFORMAT, "lrq file: %s: index %d", name, c);
				goto fail;
			}
			for (j = 0; j < dim; j++)
				w[i * dim + j] += cb[c * dim + j];
		}
	} else {
		snprintf(name, sizeof name, "%s.scale", base);
		if ((sc = get_f16(h, r, name, (uint64_t)(m * n / block), 1, cause)) == NULL)
			goto fail;
		snprintf(name, sizeof name, "%s.zero", base);
		if ((zr = get_f16(h, r, name, (uint64_t)(m * n / block), 1, cause)) == NULL)
			goto fail;
		for (i = 0; i < m * n; i++)
			w[i] += sc[i / block] * (q[i] - zr[i / block]);
	}
	rc = h->replace(h->ctx, "lrq", layer, (enum rs_plugin_mat)mat, w, cause);
	w = NULL;
	goto done;
fail:
	rc = RS_PLUGIN_EFORMAT;
done:
	h->free(w);
	h->free(l1);
	h->free(l2);
	h->free(q);
	h->free(sc);
	h->free(zr);
	h->free(cb);
	return rc;
}

/* `lrq --load FILE`: install a saved result. */
static int
load(const struct rs_host *h, const char *path, char **cause)
{
	struct run R;
	struct rs_host_sr *r;
	const char *kind, *meta, *p;
	int rc = 0, n = 0;

	memset(&R, 0, sizeof R);
	R.h = h;
	if ((rc = h->model(h->ctx, &R.pm, cause)) != 0)
		return rc;
	if ((r = h->sr_open(path, cause)) == NULL)
		return RS_PLUGIN_EIO;
	kind = h->sr_meta(r, "rankscope.kind");
	meta = h->sr_meta(r, "rankscope.lrq");
	if (kind == NULL || strcmp(kind, "lrq") != 0 || meta == NULL ||
	    (p = strstr(meta, "\"matrices\":[")) == NULL) {
		h->sr_close(r);
		return h->fail(cause, RS_PLUGIN_EFORMAT, "%s: not an lrq file", path);
	}
	h->replace_clear(h->ctx, NULL);
	for (p = strchr(p, '{'); p != NULL && rc == 0; p = strchr(p + 1, '{')) {
		rc = load_one(h, r, p, &R, cause);
		n++;
	}
	h->sr_close(r);
	if (rc != 0)
		h->replace_clear(h->ctx, "lrq");
	else
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: loaded %d matrices from %s\n", n, path);
	return rc;
}

enum { O_BITS, O_RANK, O_VQD, O_VQB, O_EVAL, O_CTX, O_SAVE, O_LOAD, O_EXPORT, O_CLEAR };

/* `lrq`: compress every decoder matrix, install the result, report. */
static int
lrq_exec(void *state, const struct rs_host *h, int argc, char *const *argv,
    const char *const *vals, char **cause)
{
	struct run R;
	double B, rank, vqd, vqb, ctx, total_bits = 0, ppl, e2 = 0, n2 = 0;
	int rc, i, fixed;
	int64_t params = 0;

	(void)state;
	(void)argc;
	(void)argv;
	if (vals[O_CLEAR] != NULL) {
		h->replace_clear(h->ctx, "lrq");
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: replacements removed\n");
		return 0;
	}
	if (vals[O_LOAD] != NULL) {
		if ((rc = load(h, vals[O_LOAD], cause)) != 0)
			return rc;
		goto report;
	}
	if (vals[O_BITS] == NULL)
		return h->fail(cause, RS_PLUGIN_EINVAL, "lrq: --bits-per-param B is required "
		    "(or --load FILE, --clear)");
	if ((rc = rs_plugin_number(h, "lrq", vals[O_BITS], "bits-per-param", 1, 16, 0, &B, cause)) != 0 ||
	    (rc = rs_plugin_number(h, "lrq", vals[O_RANK], "rank", 0, 4096, -1, &rank, cause)) != 0 ||
	    (rc = rs_plugin_number(h, "lrq", vals[O_VQD], "vq-dim", 1, 16, 0, &vqd, cause)) != 0 ||
	    (rc = rs_plugin_number(h, "lrq", vals[O_VQB], "vq-bits", 1, 12, 0, &vqb, cause)) != 0 ||
	    (rc = rs_plugin_number(h, "lrq", vals[O_CTX], "ctx", 0, 1 << 16, 0, &ctx, cause)) != 0)
		return rc;
	if ((vqd > 0) != (vqb > 0))
		return h->fail(cause, RS_PLUGIN_EINVAL, "lrq: --vq-dim and --vq-bits go together");
	if (vqd > 0 && ((int)vqd & ((int)vqd - 1)) != 0)
		return h->fail(cause, RS_PLUGIN_EINVAL, "lrq: --vq-dim must be a power of two");
	fixed = rank >= 0 ? (int)rank : -1;
	memset(&R, 0, sizeof R);
	R.h = h;
	if ((rc = run_load(&R, cause)) != 0)
		goto out;
	h->print(h->ctx, RS_PLUGIN_OUT_INFO, "lrq: predicting errors of %s configurations for "
	    "%d matrices\n", vqd > 0 ? "vector" : "scalar", R.n_mats);
	for (i = 0; i < R.n_mats; i++) {
		struct mat *x = &R.mats[i];
		make_cands(x, fixed, (int)vqd, (int)vqb);
		if (x->n_cand == 0) {
			rc = h->fail(cause, RS_PLUGIN_EINVAL, "lrq: no configuration fits layer %d "
			    "matrix %d (%lld x %lld)", x->layer, x->kind, (long long)x->m,
			    (long long)x->n);
			goto out;
		}
		if ((rc = predict(h, x, cause)) != 0)
			goto out;
		params += x->m * x->n;
		if (h->cancelled(h->ctx)) {
			rc = h->fail(cause, RS_PLUGIN_ECANCEL, "lrq: cancelled");
			goto out;
		}
		h->progress(h->ctx, i + 1, 2 * R.n_mats, "lrq");
	}
	if ((rc = choose(h, &R, B * (double)params, &total_bits, cause)) != 0)
		goto out;
	h->replace_clear(h->ctx, NULL);
	for (i = 0; i < R.n_mats; i++) {
		struct mat *x = &R.mats[i];
		float *w;
		if ((rc = fit(h, x, &w, cause)) != 0 ||
		    (rc = h->replace(h->ctx, "lrq", x->layer, (enum rs_plugin_mat)x->kind, w,
		    cause)) != 0) {
			h->replace_clear(h->ctx, "lrq");
			goto out;
		}
		e2 += x->final_err;
		n2 += x->norm2;
		if (h->cancelled(h->ctx)) {
			h->replace_clear(h->ctx, "lrq");
			rc = h->fail(cause, RS_PLUGIN_ECANCEL, "lrq: cancelled");
			goto out;
		}
		h->progress(h->ctx, R.n_mats + i + 1, 2 * R.n_mats, "lrq");
	}
	{
		int hist_rank[5] = { 0 }, nvec = 0, bits_hist[9] = { 0 };
		for (i = 0; i < R.n_mats; i++) {
			const struct cand *c = &R.mats[i].cand[R.mats[i].pick];
			hist_rank[c->rank == 0 ? 0 : c->rank <= 8 ? 1 : c->rank <= 16 ? 2 :
			    c->rank <= 32 ? 3 : 4]++;
			if (c->vector)
				nvec++;
			else
				bits_hist[c->bits]++;
		}
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: %d matrices, %lld parameters: %.4f bits "
		    "per parameter (budget %.4g; low-rank part in 16 bits, scales, zero points and "
		    "codebooks counted; decoder linears only)\n", R.n_mats, (long long)params,
		    total_bits / (double)params, B);
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: ranks 0:%d <=8:%d <=16:%d <=32:%d "
		    "<=64:%d; residual %s", hist_rank[0], hist_rank[1], hist_rank[2],
		    hist_rank[3], hist_rank[4], nvec ? "vector" : "scalar");
		if (nvec)
			h->print(h->ctx, RS_PLUGIN_OUT_TEXT, " d=%d b=%d\n", (int)vqd, (int)vqb);
		else
			h->print(h->ctx, RS_PLUGIN_OUT_TEXT, " 2-bit:%d 3-bit:%d 4-bit:%d 8-bit:%d\n",
			    bits_hist[2], bits_hist[3], bits_hist[4], bits_hist[8]);
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: relative weight error %.5f "
		    "(sqrt of sum |W - W_hat|^2 / sum |W|^2)\n", sqrt(e2 / n2));
	}
	if (vals[O_SAVE] != NULL) {
		if ((rc = save(&R, vals[O_SAVE], cause)) != 0)
			goto out;
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: saved %s\n", vals[O_SAVE]);
	}
	run_free(&R);
	memset(&R, 0, sizeof R);
report:
	if (vals[O_EXPORT] != NULL) {
		if ((rc = h->export_dense(h->ctx, vals[O_EXPORT], RS_PLUGIN_F32, NULL, NULL, NULL,
		    cause)) != 0)
			return rc;
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: dequantized model written to %s "
		    "(float32 Hugging Face folder)\n", vals[O_EXPORT]);
	}
	if (vals[O_EVAL] != NULL) {
		if ((rc = rs_plugin_number(h, "lrq", vals[O_CTX], "ctx", 0, 1 << 16, 0, &ctx, cause)) != 0 ||
		    (rc = h->perplexity(h->ctx, vals[O_EVAL], (int)ctx, &ppl, cause)) != 0)
			return rc;
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "lrq: perplexity %.4f on %s (chunked)\n", ppl,
		    vals[O_EVAL]);
	}
	return 0;
out:
	run_free(&R);
	return rc;
}

static const struct rs_plugin_opt lrq_opts[] = {
	{ "bits-per-param", "B", "budget in bits per decoder parameter, everything counted" },
	{ "rank", "R", "one rank for every matrix (0: plain round-to-nearest)" },
	{ "vq-dim", "d", "vector quantization of the residual: d weights per vector" },
	{ "vq-bits", "b", "bits per vector index (2^b centroids per matrix)" },
	{ "eval", "FILE", "then report the perplexity on FILE (chunked)" },
	{ "ctx", "N", "window for --eval (default: the model's context, at most 2048)" },
	{ "save", "FILE", "write the compressed form (safetensors)" },
	{ "load", "FILE", "install a saved compressed form instead of computing" },
	{ "export-dense", "DIR", "write the dequantized model as a Hugging Face folder" },
	{ "clear", NULL, "remove lrq's matrices (back to the plan)" },
	{ NULL, NULL, NULL }
};

static const struct rs_plugin_cmd lrq_cmds[] = {
	{ "lrq", "--bits-per-param B [--rank R] [--vq-dim d --vq-bits b] [--eval FILE] "
	  "[--save FILE] [--export-dense DIR] | --load FILE | --clear",
	  "low-rank plus quantized residual (ReALLM / LQ-LoRA) to a bits-per-parameter budget",
	  "Compresses every decoder matrix as W ~ L1 L2 + Q(W - L1 L2): a float16 low-rank part "
	  "and a residual quantized blockwise (2/3/4/8 bits, blocks of 32/64/128, float16 scales, "
	  "b-bit zero points) or, with --vq-dim/--vq-bits, by a k-means codebook per matrix. "
	  "Low-rank fit and quantization alternate until the error stops falling. Each matrix's "
	  "rank and quantizer are chosen by an integer program (GLPK) on predicted errors so the "
	  "total, low-rank part, scales and codebooks included, meets --bits-per-param. --rank 0 "
	  "is plain round-to-nearest at the same budget. The result replaces the matrices for "
	  "'ppl' until 'lrq --clear' or a new model.",
	  lrq_opts, 0, 0, RS_PLUGIN_CMD_NEEDS_MODEL | RS_PLUGIN_CMD_LONG, lrq_exec },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL }
};

static const struct rs_plugin_ops lrq_ops = { sizeof(struct rs_plugin_ops), lrq_cmds };

static const struct rs_plugin lrq_plugin = {
	RS_PLUGIN_HEADER, "lrq", "method", "1.0",
	"low-rank + quantized residual (ReALLM, LQ-LoRA), GLPK allocation", NULL, NULL, &lrq_ops
};

/* The entry. */
const struct rs_plugin *
rs_plugin_entry(void)
{
	return &lrq_plugin;
}
