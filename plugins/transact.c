/* transact.c: transitional-activation pruning (seed paper 3: TransAct), as a plugin.
 *
 * Structured pruning inside the modules; the hidden size between modules stays.  Units:
 *   MLP neuron i          rows i of gate and up, column i of down            (3·dim params)
 *   query/key pair (g,i)  kv head g, rotate-half RoPE pair (i, i + hd/2), i < hd/2: rows
 *                         g·hd+i and g·hd+i+hd/2 of k and the same two rows of every query head
 *                         of g's group (pairs rotate together under RoPE, so they go together)
 *                                                                   (2·(1 + group)·dim params)
 *   value/output dim (g,j) row g·hd+j of v and column h·hd+j of o for every query head h of
 *                         g's group                                   ((1 + group)·dim params)
 * Scores: the L2 norm over the calibration tokens of the unit's transitional activation:
 *   MLP    the down projection's input silu(gate x)·(up x), neuron i      (forward hook)
 *   v/o    the o projection's input (attention output), dims h·hd+j of g's query heads
 *          (sqrt of the summed squares)                                     (forward hook)
 *   q/k    Σ_{h in group g} ‖q_h pair i‖ · ‖k_g pair i‖: q and k are recomputed in the hook
 *          on the attention input with the current (pruned) weights, before RoPE; RoPE
 *          rotates each pair (i, i + hd/2), so a pair's norm is the same after it.
 * Schedule: step s of N keeps the fraction 1 − (1 − keep)·s/N of the units of every family
 * (MLP, q/k, v/o) in every layer (at least one), removing the lowest-scored of those still
 * kept; statistics are re-measured on the partially pruned model before every step.  Every
 * family's parameters are proportional to its units, so the decoder linears keep at most
 * --keep of their parameters.  Units are ranked within a layer and a family only: activation
 * norms differ across depth and across families, so a global ranking would compare scales.
 *
 * The result is installed through the host as the original matrices with the pruned rows
 * and columns zeroed (exactly the smaller model), so `ppl` measures it.  Exports:
 *   --export-dense DIR   Hugging Face folder, float32, zero-padded to the original shapes
 *   --export-small DIR   every linear really smaller, float32:
 *                        MLP: gate/up (F_l × dim), down (dim × F_l), config.json
 *                        "intermediate_size": max F_l, "rankscope_layer_ffn_dims": [F_0, ...];
 *                        attention (unless --mlp-only): "rankscope_layer_qk_pairs": per layer,
 *                        per kv head g, the kept pair indices i (ascending, the ORIGINAL
 *                        index: it fixes the pair's RoPE frequency theta^(-2i/hd)), and
 *                        "rankscope_layer_v_dims": per layer, per kv head, the kept value
 *                        dim count.  Counts differ between kv heads (units are ranked over
 *                        the whole layer; a head may keep none), hence lists per head.
 *                        "head_dim" stays the original hd (score scale 1/sqrt(hd), RoPE).
 *                        `load DIR; export gguf FILE` writes an --mlp-only one for llama.cpp
 *                        (docs/gguf.md); per-head attention sizes have no GGUF form.
 *                        q: per query head (kv head g's pairs p_g) the rows i of the kept
 *                        pairs, then the rows i + hd/2: a rotate-half head of 2·p_g dims;
 *                        k likewise per kv head; v: per kv head its kept dims; o: per query
 *                        head the columns of its kv head's kept dims.  rankscope reads the
 *                        keys (src/model.h, struct rs_layer_attn), checks every tensor
 *                        against them and runs the smaller attention exactly.  With equal
 *                        F_l and --mlp-only, any HF tool loads it.
 * Qwen2 models (q/k/v biases) are pruned in the MLP only: a zeroed row would keep its bias. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rankscope-plugin.h"

#define TA_DEFAULT_STEPS 4
#define TA_DEFAULT_TOKENS 32768
#define TA_CALIB_WINDOW 256

/* Families of units. */
enum { FAM_MLP, FAM_QK, FAM_VO, FAM_COUNT };

/* Pruning state of one layer. */
struct lay {
	unsigned char *keep[FAM_COUNT];	/* per unit: 1 kept */
	double *score[FAM_COUNT];	/* per unit */
	double *sf;			/* (ffn) sums of squares of down's input */
	double *sq, *sk;		/* (qd), (kvd) of q and k */
	double *svo;			/* (qd) of o's input */
	float *small[RS_PLUGIN_MAT_COUNT];	/* export-small: the linears compacted */
};

/* What one `transact` run works with. */
struct run {
	const struct rs_host *h;
	struct rs_plugin_model M;
	int group, half, qd, kvd, attn;
	int units[FAM_COUNT];
	struct lay *L;
	float *scratch;			/* hook: q or k of a batch */
	size_t scap;
};

static const char *const fam_name[FAM_COUNT] = { "MLP neurons", "query/key pairs",
	"value/output dims" };

/* Free everything a run holds. */
static void
run_free(struct run *R)
{
	int l, f;

	if (R->L != NULL)
		for (l = 0; l < R->M.n_layers; l++) {
			for (f = 0; f < FAM_COUNT; f++) {
				R->h->free(R->L[l].keep[f]);
				R->h->free(R->L[l].score[f]);
			}
			R->h->free(R->L[l].sf);
			R->h->free(R->L[l].sq);
			R->h->free(R->L[l].sk);
			R->h->free(R->L[l].svo);
			for (f = 0; f < RS_PLUGIN_MAT_COUNT; f++)
				R->h->free(R->L[l].small[f]);
		}
	R->h->free(R->L);
	R->h->free(R->scratch);
	R->L = NULL;
	R->scratch = NULL;
}

/* Allocate the per-layer state, every unit kept. */
static int
run_init(struct run *R, char **cause)
{
	const struct rs_host *h = R->h;
	int l, f;

	R->group = R->M.n_heads / R->M.n_kv_heads;
	R->half = R->M.head_dim / 2;
	R->qd = R->M.n_heads * R->M.head_dim;
	R->kvd = R->M.n_kv_heads * R->M.head_dim;
	R->units[FAM_MLP] = R->M.ffn_dim;
	R->units[FAM_QK] = R->M.n_kv_heads * R->half;
	R->units[FAM_VO] = R->M.n_kv_heads * R->M.head_dim;
	if ((R->L = h->calloc((size_t)R->M.n_layers, sizeof *R->L)) == NULL)
		return h->fail(cause, RS_PLUGIN_ENOMEM, "transact: out of memory");
	for (l = 0; l < R->M.n_layers; l++) {
		struct lay *y = &R->L[l];
		for (f = 0; f < FAM_COUNT; f++) {
			if ((y->keep[f] = h->alloc((size_t)R->units[f])) == NULL ||
			    (y->score[f] = h->calloc((size_t)R->units[f], sizeof(double))) == NULL)
				return h->fail(cause, RS_PLUGIN_ENOMEM, "transact: out of memory");
			memset(y->keep[f], 1, (size_t)R->units[f]);
		}
		if ((y->sf = h->calloc((size_t)R->M.ffn_dim, sizeof(double))) == NULL ||
		    (y->sq = h->calloc((size_t)R->qd, sizeof(double))) == NULL ||
		    (y->sk = h->calloc((size_t)R->kvd, sizeof(double))) == NULL ||
		    (y->svo = h->calloc((size_t)R->qd, sizeof(double))) == NULL)
			return h->fail(cause, RS_PLUGIN_ENOMEM, "transact: out of memory");
	}
	return 0;
}

/* Add the column sums of squares of x (n × w) into s. */
static void
colsq(double *s, const float *x, int n, int w)
{
	int r, c;

	for (r = 0; r < n; r++)
		for (c = 0; c < w; c++) {
			double v = x[(size_t)r * w + c];
			s[c] += v * v;
		}
}

/* y = x W^T for the current replacement of (layer, mat) into the scratch; NULL on failure. */
static float *
project(struct run *R, int layer, enum rs_plugin_mat mat, const float *x, int n, int in, int out)
{
	const float *w = R->h->replacement(R->h->ctx, layer, mat);
	size_t need = (size_t)n * (size_t)out;

	if (w == NULL)
		return NULL;
	if (need > R->scap) {
		R->h->free(R->scratch);
		if ((R->scratch = R->h->alloc(need * sizeof(float))) == NULL) {
			R->scap = 0;
			return NULL;
		}
		R->scap = need;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f,
	    R->scratch, out);
	return R->scratch;
}

/* Forward hook: accumulate the transitional activations' sums of squares. */
static int
hook(void *ud, int layer, enum rs_plugin_input g, const float *x, int n_rows, int width)
{
	struct run *R = ud;
	struct lay *y;
	float *p;

	if (layer < 0 || layer >= R->M.n_layers)
		return RS_PLUGIN_EINVAL;
	y = &R->L[layer];
	switch (g) {
	case RS_PLUGIN_IN_DOWN:
		if (width != R->M.ffn_dim)
			return RS_PLUGIN_EINVAL;
		colsq(y->sf, x, n_rows, width);
		break;
	case RS_PLUGIN_IN_O:
		if (width != R->qd)
			return RS_PLUGIN_EINVAL;
		colsq(y->svo, x, n_rows, width);
		break;
	case RS_PLUGIN_IN_ATTN:
		if (!R->attn)
			break;
		if (width != R->M.dim)
			return RS_PLUGIN_EINVAL;
		if ((p = project(R, layer, RS_PLUGIN_Q, x, n_rows, width, R->qd)) == NULL)
			return RS_PLUGIN_ENOMEM;
		colsq(y->sq, p, n_rows, R->qd);
		if ((p = project(R, layer, RS_PLUGIN_K, x, n_rows, width, R->kvd)) == NULL)
			return RS_PLUGIN_ENOMEM;
		colsq(y->sk, p, n_rows, R->kvd);
		break;
	default:
		break;
	}
	return R->h->cancelled(R->h->ctx) ? RS_PLUGIN_ECANCEL : 0;
}

/* Turn the sums of squares of a layer into unit scores. */
static void
scores(struct run *R, struct lay *y)
{
	int hd = R->M.head_dim, g, i, k, q;

	for (i = 0; i < R->M.ffn_dim; i++)
		y->score[FAM_MLP][i] = sqrt(y->sf[i]);
	for (g = 0; g < R->M.n_kv_heads; g++) {
		for (i = 0; i < R->half; i++) {
			double kn = sqrt(y->sk[g * hd + i] + y->sk[g * hd + i + R->half]), s = 0;
			for (k = 0; k < R->group; k++) {
				q = (g * R->group + k) * hd;
				s += sqrt(y->sq[q + i] + y->sq[q + i + R->half]) * kn;
			}
			y->score[FAM_QK][g * R->half + i] = s;
		}
		for (i = 0; i < hd; i++) {
			double s = 0;
			for (k = 0; k < R->group; k++)
				s += y->svo[(g * R->group + k) * hd + i];
			y->score[FAM_VO][g * hd + i] = sqrt(s);
		}
	}
}

/* Order of unit indices by score (qsort has no context: the scores ride along). */
struct ix {
	double s;
	int i;
};

/* Ascending score, then index (deterministic). */
static int
ix_cmp(const void *a, const void *b)
{
	const struct ix *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return x->i - y->i;
}

/* Keep `target` of the kept units of one family: drop the lowest scores. */
static int
prune_family(struct run *R, unsigned char *keep, const double *score, int n, int target,
    char **cause)
{
	struct ix *v;
	int i, m = 0, drop;

	if ((v = R->h->alloc((size_t)n * sizeof *v)) == NULL)
		return R->h->fail(cause, RS_PLUGIN_ENOMEM, "transact: out of memory");
	for (i = 0; i < n; i++)
		if (keep[i]) {
			v[m].s = score[i];
			v[m].i = i;
			m++;
		}
	qsort(v, (size_t)m, sizeof *v, ix_cmp);
	drop = m - target;
	for (i = 0; i < drop; i++)
		keep[v[i].i] = 0;
	R->h->free(v);
	return 0;
}

/* Is row (or column) r of a matrix of this kind kept in layer y? */
static int
kept_index(const struct run *R, const struct lay *y, enum rs_plugin_mat mat, int r)
{
	int hd = R->M.head_dim, j;

	switch (mat) {
	case RS_PLUGIN_Q:	/* row of query head r / hd */
		j = r % hd;
		return y->keep[FAM_QK][(r / hd / R->group) * R->half + (j % R->half)];
	case RS_PLUGIN_K:
		j = r % hd;
		return y->keep[FAM_QK][(r / hd) * R->half + (j % R->half)];
	case RS_PLUGIN_V:
		return y->keep[FAM_VO][r];
	case RS_PLUGIN_O:	/* column of query head r / hd */
		return y->keep[FAM_VO][(r / hd / R->group) * hd + r % hd];
	default:		/* gate, up rows; down columns */
		return y->keep[FAM_MLP][r];
	}
}

/* Install the original matrices of every layer with the pruned rows/columns zeroed. */
static int
install(struct run *R, char **cause)
{
	const struct rs_host *h = R->h;
	int l, k, rc;
	int64_t rows, cols, r, c;

	for (l = 0; l < R->M.n_layers; l++)
		for (k = 0; k < RS_PLUGIN_MAT_COUNT; k++) {
			float *w;
			if (h->matrix_shape(h->ctx, l, (enum rs_plugin_mat)k, &rows, &cols) != 0)
				return h->fail(cause, RS_PLUGIN_EINVAL, "transact: layer %d matrix "
				    "%d: no shape", l, k);
			if ((w = h->alloc((size_t)rows * (size_t)cols * sizeof(float))) == NULL)
				return h->fail(cause, RS_PLUGIN_ENOMEM, "transact: out of memory");
			if ((rc = h->matrix_rows(h->ctx, l, (enum rs_plugin_mat)k, 0, rows, w,
			    cause)) != 0) {
				h->free(w);
				return rc;
			}
			if (k == RS_PLUGIN_O || k == RS_PLUGIN_DOWN) {
				for (c = 0; c < cols; c++)
					if (!kept_index(R, &R->L[l], (enum rs_plugin_mat)k, (int)c))
						for (r = 0; r < rows; r++)
							w[r * cols + c] = 0.0f;
			} else {
				for (r = 0; r < rows; r++)
					if (!kept_index(R, &R->L[l], (enum rs_plugin_mat)k, (int)r))
						memset(w + r * cols, 0, (size_t)cols * sizeof(float));
			}
			if ((rc = h->replace(h->ctx, "transact", l, (enum rs_plugin_mat)k, w,
			    cause)) != 0)
				return rc;
		}
	return 0;
}

/* Units of family f kept in layer y. */
static int
n_kept(const struct run *R, const struct lay *y, int f)
{
	int i, n = 0;

	for (i = 0; i < R->units[f]; i++)
		n += y->keep[f][i];
	return n;
}

/* Decoder-linear parameters kept in layer y. */
static uint64_t
layer_params(const struct run *R, const struct lay *y)
{
	uint64_t d = (uint64_t)R->M.dim, g = (uint64_t)R->group;

	return 3 * d * (uint64_t)n_kept(R, y, FAM_MLP) +
	    2 * (1 + g) * d * (uint64_t)n_kept(R, y, FAM_QK) +
	    (1 + g) * d * (uint64_t)n_kept(R, y, FAM_VO);
}

/* Kept rows of q (query head h = g·group + k, kv head g) or k (head g) in the smaller
 * layout, written to idx: per head its kept pairs i ascending, first halves (row base + i)
 * then second halves (row base + i + hd/2): the rotate-half layout of a head of 2·p dims.
 * Returns the count. */
static int
small_qk_rows(const struct run *R, const struct lay *y, int heads, int per, int *idx)
{
	int hd = R->M.head_dim, n = 0, hh, g, i, half;

	for (hh = 0; hh < heads; hh++) {
		g = hh / per;
		for (half = 0; half < 2; half++)
			for (i = 0; i < R->half; i++)
				if (y->keep[FAM_QK][g * R->half + i])
					idx[n++] = hh * hd + i + half * R->half;
	}
	return n;
}

/* Kept rows of v (heads = n_kv_heads, per = 1) or columns of o (heads = n_heads, per = group):
 * per head the kept value dims of its kv head, ascending.  Returns the count. */
static int
small_vo_index(const struct run *R, const struct lay *y, int heads, int per, int *idx)
{
	int hd = R->M.head_dim, n = 0, hh, j;

	for (hh = 0; hh < heads; hh++)
		for (j = 0; j < hd; j++)
			if (y->keep[FAM_VO][(hh / per) * hd + j])
				idx[n++] = hh * hd + j;
	return n;
}

/* Export hook of --export-small: every linear compacted to its kept units (gate/up/down to
 * the kept neurons; with attention pruning q/k/v/o to the kept pairs and value dims). */
static int
small_matrix(void *ud, int layer, enum rs_plugin_mat mat, int64_t *rows, int64_t *cols,
    const float **data)
{
	struct run *R = ud;
	struct lay *y;
	const float *w;
	float *o;
	int *idx;
	int F = R->M.ffn_dim, d = R->M.dim, n, i, r, in, bycol;

	if (!R->attn && mat < RS_PLUGIN_GATE)
		return 0;
	if (layer < 0 || layer >= R->M.n_layers || (unsigned)mat >= RS_PLUGIN_MAT_COUNT ||
	    (w = R->h->replacement(R->h->ctx, layer, mat)) == NULL)
		return 0;
	y = &R->L[layer];
	/* the kept rows (or columns of o and down) of the original matrix, in output order */
	in = mat == RS_PLUGIN_O ? R->qd : mat == RS_PLUGIN_DOWN ? F : d;
	bycol = mat == RS_PLUGIN_O || mat == RS_PLUGIN_DOWN;
	if ((idx = R->h->alloc((size_t)(R->qd > F ? R->qd : F) * sizeof(int))) == NULL)
		return 1;	/* data NULL: the host refuses the export */
	switch (mat) {
	case RS_PLUGIN_Q: n = small_qk_rows(R, y, R->M.n_heads, R->group, idx); break;
	case RS_PLUGIN_K: n = small_qk_rows(R, y, R->M.n_kv_heads, 1, idx); break;
	case RS_PLUGIN_V: n = small_vo_index(R, y, R->M.n_kv_heads, 1, idx); break;
	case RS_PLUGIN_O: n = small_vo_index(R, y, R->M.n_heads, R->group, idx); break;
	default:
		for (i = 0, n = 0; i < F; i++)
			if (y->keep[FAM_MLP][i])
				idx[n++] = i;
		break;
	}
	R->h->free(y->small[mat]);
	if ((o = y->small[mat] = R->h->alloc((size_t)n * (size_t)d * sizeof(float))) == NULL) {
		R->h->free(idx);
		return 1;
	}
	if (bycol) {
		for (r = 0; r < d; r++)
			for (i = 0; i < n; i++)
				o[(size_t)r * n + i] = w[(size_t)r * in + idx[i]];
		*rows = d;
		*cols = n;
	} else {
		for (i = 0; i < n; i++)
			memcpy(o + (size_t)i * d, w + (size_t)idx[i] * d, (size_t)d * sizeof(float));
		*rows = n;
		*cols = d;
	}
	R->h->free(idx);
	*data = o;
	return 1;
}

/* Write --export-small DIR. */
static int
export_small(struct run *R, const char *dir, double keep, char **cause)
{
	const struct rs_host *h = R->h;
	size_t cap = 256 + 12 * (size_t)R->M.n_layers, len;
	char *cfg;
	int l, maxf = 0, rc, nf, g, i;

	/* the attention lists: per layer and kv head its pair indices and value dim count */
	if (R->attn)
		cap += (size_t)R->M.n_layers * (size_t)R->M.n_kv_heads * (16 + 12 *
		    (size_t)R->half + 12);
	if ((cfg = h->alloc(cap)) == NULL)
		return h->fail(cause, RS_PLUGIN_ENOMEM, "transact: out of memory");
	for (l = 0; l < R->M.n_layers; l++)
		if ((nf = n_kept(R, &R->L[l], FAM_MLP)) > maxf)
			maxf = nf;
	len = (size_t)snprintf(cfg, cap, "{\"rankscope_transact\": {\"keep\": %.6g, "
	    "\"attention\": \"%s\"}, \"intermediate_size\": %d, \"rankscope_layer_ffn_dims\": [",
	    keep, R->attn ? "per-head sizes" : "not pruned", maxf);
	for (l = 0; l < R->M.n_layers; l++)
		len += (size_t)snprintf(cfg + len, cap - len, "%s%d", l ? ", " : "",
		    n_kept(R, &R->L[l], FAM_MLP));
	len += (size_t)snprintf(cfg + len, cap - len, "]");
	if (R->attn) {
		const struct lay *y;
		/* explicit: dim / n_heads would no longer be the head size of the tensors */
		len += (size_t)snprintf(cfg + len, cap - len, ", \"head_dim\": %d, "
		    "\"rankscope_layer_qk_pairs\": [", R->M.head_dim);
		for (l = 0; l < R->M.n_layers; l++) {
			y = &R->L[l];
			len += (size_t)snprintf(cfg + len, cap - len, "%s[", l ? ", " : "");
			for (g = 0; g < R->M.n_kv_heads; g++) {
				len += (size_t)snprintf(cfg + len, cap - len, "%s[", g ? ", " : "");
				for (i = 0, nf = 0; i < R->half; i++)
					if (y->keep[FAM_QK][g * R->half + i])
						len += (size_t)snprintf(cfg + len, cap - len, "%s%d",
						    nf++ ? ", " : "", i);
				len += (size_t)snprintf(cfg + len, cap - len, "]");
			}
			len += (size_t)snprintf(cfg + len, cap - len, "]");
		}
		len += (size_t)snprintf(cfg + len, cap - len, "], \"rankscope_layer_v_dims\": [");
		for (l = 0; l < R->M.n_layers; l++) {
			y = &R->L[l];
			len += (size_t)snprintf(cfg + len, cap - len, "%s[", l ? ", " : "");
			for (g = 0; g < R->M.n_kv_heads; g++) {
				for (i = 0, nf = 0; i < R->M.head_dim; i++)
					nf += y->keep[FAM_VO][g * R->M.head_dim + i];
				len += (size_t)snprintf(cfg + len, cap - len, "%s%d", g ? ", " : "", nf);
			}
			len += (size_t)snprintf(cfg + len, cap - len, "]");
		}
		len += (size_t)snprintf(cfg + len, cap - len, "]");
	}
	snprintf(cfg + len, cap - len, "}");
	rc = h->export_dense(h->ctx, dir, RS_PLUGIN_F32, cfg, small_matrix, R, cause);
	h->free(cfg);
	for (l = 0; l < R->M.n_layers; l++)
		for (nf = 0; nf < RS_PLUGIN_MAT_COUNT; nf++) {
			h->free(R->L[l].small[nf]);
			R->L[l].small[nf] = NULL;
		}
	return rc;
}

enum { O_KEEP, O_STEPS, O_CALIB, O_TOKENS, O_EVAL, O_CTX, O_MLP_ONLY, O_EXPORT_DENSE,
	O_EXPORT_SMALL, O_CLEAR };

/* `transact`: prune, install, report, export. */
static int
transact_exec(void *state, const struct rs_host *h, int argc, char *const *argv,
    const char *const *vals, char **cause)
{
	struct run R;
	double keep, ffrac, steps, tokens, ctx, ppl;
	int32_t *ids = NULL;
	size_t n_ids = 0;
	int rc, s, l, f, window, windows;
	uint64_t kept = 0, kv0, kv1 = 0;

	(void)state;
	(void)argc;
	(void)argv;
	if (vals[O_CLEAR] != NULL) {
		h->replace_clear(h->ctx, "transact");
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "transact: pruned matrices removed\n");
		return 0;
	}
	if (vals[O_KEEP] == NULL)
		return h->fail(cause, RS_PLUGIN_EINVAL, "transact: --keep RATIO is required "
		    "(or --clear)");
	if (vals[O_CALIB] == NULL)
		return h->fail(cause, RS_PLUGIN_EINVAL, "transact: --calib FILE is required "
		    "(calibration text for the activation norms)");
	if ((rc = rs_plugin_number(h, "transact", vals[O_KEEP], "keep", 0.01, 1, 0, &keep,
	    cause)) != 0 ||
	    (rc = rs_plugin_number(h, "transact", vals[O_STEPS], "steps", 1, 64, TA_DEFAULT_STEPS,
	    &steps, cause)) != 0 ||
	    (rc = rs_plugin_number(h, "transact", vals[O_TOKENS], "max-tokens", 2, 1e9,
	    TA_DEFAULT_TOKENS, &tokens, cause)) != 0 ||
	    (rc = rs_plugin_number(h, "transact", vals[O_CTX], "ctx", 0, 1 << 16, 0, &ctx,
	    cause)) != 0)
		return rc;
	memset(&R, 0, sizeof R);
	R.h = h;
	if ((rc = h->model(h->ctx, &R.M, cause)) != 0)
		return rc;
	R.attn = vals[O_MLP_ONLY] == NULL;
	if (R.attn && strcmp(R.M.arch, "qwen2") == 0) {
		h->print(h->ctx, RS_PLUGIN_OUT_INFO, "transact: qwen2 has q/k/v biases: pruning "
		    "the MLP only\n");
		R.attn = 0;
	}
	/* the unit bookkeeping assumes the config's shapes: a pruned export is pruned again from
	 * its original */
	for (l = 0; l < R.M.n_layers; l++)
		for (f = 0; f < RS_PLUGIN_MAT_COUNT; f++) {
			int64_t rows, cols, er, ec;
			int qd = R.M.n_heads * R.M.head_dim, kvd = R.M.n_kv_heads * R.M.head_dim;
			er = f == RS_PLUGIN_Q ? qd : f == RS_PLUGIN_K || f == RS_PLUGIN_V ? kvd :
			    f == RS_PLUGIN_O || f == RS_PLUGIN_DOWN ? R.M.dim : R.M.ffn_dim;
			ec = f == RS_PLUGIN_O ? qd : f == RS_PLUGIN_DOWN ? R.M.ffn_dim : R.M.dim;
			if (h->matrix_shape(h->ctx, l, (enum rs_plugin_mat)f, &rows, &cols) != 0 ||
			    rows != er || cols != ec)
				return h->fail(cause, RS_PLUGIN_EINVAL, "transact: layer %d matrix %d is "
				    "%lldx%lld, not the config's %lldx%lld (an already pruned export): "
				    "prune the original model", l, f, (long long)rows, (long long)cols,
				    (long long)er, (long long)ec);
		}
	if ((rc = run_init(&R, cause)) != 0)
		goto out;
	if ((rc = h->tokenize_file(h->ctx, vals[O_CALIB], &ids, &n_ids, cause)) != 0)
		goto out;
	window = R.M.ctx_len < TA_CALIB_WINDOW ? R.M.ctx_len : TA_CALIB_WINDOW;
	if ((size_t)window > n_ids)
		window = (int)n_ids;
	if (window < 2) {
		rc = h->fail(cause, RS_PLUGIN_EINVAL, "transact: %s: too few tokens (%zu)",
		    vals[O_CALIB], n_ids);
		goto out;
	}
	windows = (int)(tokens / window);
	if (windows < 1)
		windows = 1;
	/* MLP only: the MLPs alone must give up what the whole budget asks */
	ffrac = keep;
	if (!R.attn) {
		double mlp = 3.0 * R.M.dim * (double)R.M.ffn_dim * R.M.n_layers;
		ffrac = (keep * (double)R.M.linear_params - ((double)R.M.linear_params - mlp)) / mlp;
		if (ffrac < 1.0 / R.M.ffn_dim) {
			rc = h->fail(cause, RS_PLUGIN_EINVAL, "transact: --keep %g cannot be met by "
			    "pruning the MLPs alone (attention is %.1f%% of the decoder linears)",
			    keep, 100.0 * (1.0 - mlp / (double)R.M.linear_params));
			goto out;
		}
	}
	h->replace_clear(h->ctx, NULL);
	if ((rc = install(&R, cause)) != 0)
		goto fail;
	for (s = 1; s <= (int)steps; s++) {
		double frac = 1.0 - (1.0 - ffrac) * s / steps;
		for (l = 0; l < R.M.n_layers; l++) {
			memset(R.L[l].sf, 0, (size_t)R.M.ffn_dim * sizeof(double));
			memset(R.L[l].sq, 0, (size_t)R.qd * sizeof(double));
			memset(R.L[l].sk, 0, (size_t)R.kvd * sizeof(double));
			memset(R.L[l].svo, 0, (size_t)R.qd * sizeof(double));
		}
		if ((rc = h->forward_pass(h->ctx, ids, n_ids, window, windows, hook, &R,
		    cause)) != 0)
			goto fail;
		for (l = 0; l < R.M.n_layers; l++) {
			scores(&R, &R.L[l]);
			for (f = 0; f < FAM_COUNT; f++) {
				int target = (int)floor(frac * R.units[f] + 1e-9);
				if (f != FAM_MLP && !R.attn)
					continue;
				if (target < 1)
					target = 1;
				if ((rc = prune_family(&R, R.L[l].keep[f], R.L[l].score[f],
				    R.units[f], target, cause)) != 0)
					goto fail;
			}
		}
		if ((rc = install(&R, cause)) != 0)
			goto fail;
		h->print(h->ctx, RS_PLUGIN_OUT_INFO, "transact: step %d/%d: unit fraction %.4f, "
		    "layer 0 keeps %d MLP neurons, %d query/key pairs, %d value/output dims "
		    "(statistics from %d windows of %d tokens)\n", s, (int)steps, frac,
		    n_kept(&R, &R.L[0], FAM_MLP), n_kept(&R, &R.L[0], FAM_QK),
		    n_kept(&R, &R.L[0], FAM_VO), windows < (int)(n_ids / window) ? windows :
		    (int)(n_ids / window), window);
		h->progress(h->ctx, s, steps, "transact");
	}
	for (l = 0; l < R.M.n_layers; l++) {
		kept += layer_params(&R, &R.L[l]);
		kv1 += 2 * (uint64_t)n_kept(&R, &R.L[l], FAM_QK) +
		    (uint64_t)n_kept(&R, &R.L[l], FAM_VO);
	}
	kv0 = 2 * (uint64_t)R.M.n_layers * (uint64_t)R.kvd;
	h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "transact: decoder linears: %llu of %llu "
	    "parameters kept (keep %.4f); whole model with %llu embedding and head parameters "
	    "dense: %llu of %llu (keep %.4f)\n", (unsigned long long)kept,
	    (unsigned long long)R.M.linear_params, (double)kept / (double)R.M.linear_params,
	    (unsigned long long)R.M.embed_head_params,
	    (unsigned long long)(kept + R.M.embed_head_params),
	    (unsigned long long)(R.M.linear_params + R.M.embed_head_params),
	    (double)(kept + R.M.embed_head_params) /
	    (double)(R.M.linear_params + R.M.embed_head_params));
	for (f = 0; f < FAM_COUNT; f++) {
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "transact: %s kept per layer (of %d):",
		    fam_name[f], R.units[f]);
		for (l = 0; l < R.M.n_layers; l++)
			h->print(h->ctx, RS_PLUGIN_OUT_TEXT, " %d", n_kept(&R, &R.L[l], f));
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "\n");
	}
	h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "transact: KV cache per token: %llu -> %llu values "
	    "(%.1f -> %.1f KiB in float16; keys count kept query/key pairs twice)\n",
	    (unsigned long long)kv0, (unsigned long long)kv1, kv0 * 2.0 / 1024, kv1 * 2.0 / 1024);
	if (vals[O_EXPORT_DENSE] != NULL) {
		char cfg[128];
		snprintf(cfg, sizeof cfg, "{\"rankscope_transact\": {\"keep\": %.6g, \"padded\": "
		    "true}}", keep);
		if ((rc = h->export_dense(h->ctx, vals[O_EXPORT_DENSE], RS_PLUGIN_F32, cfg, NULL,
		    NULL, cause)) != 0)
			goto out;
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "transact: pruned model written to %s (float32 "
		    "Hugging Face folder, zero-padded to the original shapes)\n",
		    vals[O_EXPORT_DENSE]);
	}
	if (vals[O_EXPORT_SMALL] != NULL) {
		if ((rc = export_small(&R, vals[O_EXPORT_SMALL], keep, cause)) != 0)
			goto out;
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "transact: smaller model written to %s (float32; "
		    "MLPs at their kept sizes, \"rankscope_layer_ffn_dims\" in config.json%s)\n",
		    vals[O_EXPORT_SMALL], R.attn ? "; attention at its kept per-head sizes, "
		    "\"rankscope_layer_qk_pairs\" and \"rankscope_layer_v_dims\"" : "");
	}
	if (vals[O_EVAL] != NULL) {
		if ((rc = h->perplexity(h->ctx, vals[O_EVAL], (int)ctx, &ppl, cause)) != 0)
			goto out;
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "transact: perplexity %.4f on %s (chunked)\n",
		    ppl, vals[O_EVAL]);
	}
	rc = 0;
	goto out;
fail:
	h->replace_clear(h->ctx, "transact");
out:
	h->free(ids);
	run_free(&R);
	return rc;
}

static const struct rs_plugin_opt transact_opts[] = {
	{ "keep", "RATIO", "fraction of the decoder-linear parameters to keep" },
	{ "steps", "N", "pruning steps, statistics re-measured between them (default 4)" },
	{ "calib", "FILE", "calibration text for the activation norms (required)" },
	{ "max-tokens", "N", "calibration tokens per step (default 32768)" },
	{ "eval", "FILE", "then report the perplexity on FILE (chunked)" },
	{ "ctx", "N", "window for --eval (default: the model's context, at most 2048)" },
	{ "mlp-only", NULL, "prune MLP neurons only (attention kept whole)" },
	{ "export-dense", "DIR", "write the pruned model zero-padded as a Hugging Face folder" },
	{ "export-small", "DIR", "write the model with smaller linears (per-layer, per-head sizes)" },
	{ "clear", NULL, "remove transact's matrices" },
	{ NULL, NULL, NULL }
};

static const struct rs_plugin_cmd transact_cmds[] = {
	{ "transact", "--keep RATIO --calib FILE [--steps N] [--max-tokens N] [--mlp-only] "
	  "[--eval FILE] [--ctx N] [--export-dense DIR] [--export-small DIR] | --clear",
	  "structured pruning inside modules by transitional activations (TransAct)",
	  "Prunes MLP neurons (rows of gate/up, columns of down) and attention inner dimensions "
	  "(per kv head: rotate-half query/key pairs, value/output dimensions) ranked by the "
	  "norms of their activations on the calibration text, in N steps (statistics "
	  "re-measured between them) until the decoder linears keep RATIO of their parameters; "
	  "the hidden size stays. Every layer keeps the same fraction of each family. The "
	  "result replaces the original matrices (pruned rows and columns zeroed, exactly the "
	  "smaller model) for 'ppl' until 'transact --clear' or a new model. Reports parameters, "
	  "KV-cache size per token and, with --eval, perplexity. --export-dense writes a "
	  "zero-padded Hugging Face folder; --export-small one whose linears have their kept "
	  "sizes (config keys rankscope_layer_ffn_dims, and with attention pruning "
	  "rankscope_layer_qk_pairs and rankscope_layer_v_dims; rankscope loads it). For "
	  "llama.cpp: 'load DIR; export gguf FILE' writes the --mlp-only smaller model (one MLP "
	  "width in every layer); attention pruned per head has no GGUF form (llama.cpp gives "
	  "every head one size and a RoPE pair its frequency by its place in the head), so it is "
	  "refused: use --mlp-only, or the zero-padded --export-dense.",
	  transact_opts, 0, 0, RS_PLUGIN_CMD_NEEDS_MODEL | RS_PLUGIN_CMD_LONG, transact_exec },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL }
};

static const struct rs_plugin_ops transact_ops = { sizeof(struct rs_plugin_ops), transact_cmds };

static const struct rs_plugin transact_plugin = {
	RS_PLUGIN_HEADER, "transact", "method", "1.0",
	"TransAct structured pruning of MLP neurons and attention inner dimensions", NULL, NULL,
	&transact_ops
};

/* The entry. */
const struct rs_plugin *
rs_plugin_entry(void)
{
	return &transact_plugin;
}
