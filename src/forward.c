/* forward.c: float32 batched prefill of LLaMA-family models through cblas_sgemm (see forward.h). */
#include "config.h"

#include "forward.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "vmath.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
#endif

#ifndef ATT_BLOCK
#define ATT_BLOCK 64	/* query rows per attention block */
#endif

/* How one decoder linear is computed. */
struct lin_slot {
	int kind;			/* 0 dense, 1 override, 2 factors */
	struct rs_linear_override ov;
	int rank;
	const float *a, *b, *bias;	/* factors: A rank x in, B out x rank, bias out */
};

struct rs_forward {
	const struct rs_model *m;
	struct rs_model_config c;
	int max_rows, max_tok;
	int qd, kvd;			/* n_heads * head_dim, n_kv_heads * head_dim */
	float *x;			/* (max_rows, dim) residual stream */
	float *xb;			/* (max_rows, dim) normalized input */
	float *q;			/* (max_rows, qd) */
	float *k;			/* (max_rows, kvd) */
	float *v;			/* (max_rows, kvd) */
	float *ao;			/* (max_rows, qd) attention output */
	float *hb;			/* (max_rows, ffn) gate, then SiLU(gate) * up */
	float *hb2;			/* (max_rows, ffn) up */
	float *tmp;			/* (max_rows, dim) output of an overridden o / down */
	float *att;			/* (max_tok, max_tok) scores of one head */
	float *rope_cos, *rope_sin;	/* (max_tok, head_dim / 2) */
	float *wbuf;			/* (wcap) converted weights: one matrix or a head chunk */
	size_t wcap;
	float *nw;			/* (dim) a norm's weight */
	float *bias;			/* (max(qd, kvd)) a bias */
	float *fscratch;		/* (max_rows, fcap) A x of a factor pair */
	size_t fcap;			/* columns of fscratch */
	struct lin_slot *slots;		/* (n_layers, RS_MAT_COUNT) */
	rs_forward_hook hook;
	void *hook_ud;
};

/* Set OpenBLAS's thread count (n <= 0: online cores). */
void
rs_forward_set_threads(int n)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	if (n <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
	}
	openblas_set_num_threads(n);
#else
	(void)n;
#endif
}

/* True if the tensor can feed sgemm in place: F32, canonical row order, 4-byte aligned. */
static int
usable_in_place(const struct rs_tensor *t)
{
	return t->dtype == RS_DT_F32 && t->unpermute_heads <= 0 &&
	    ((uintptr_t)t->data & (sizeof(float) - 1)) == 0;
}

/* Free a run state and its buffers. */
void
rs_forward_free(struct rs_forward *f)
{
	if (f == NULL)
		return;
	rs_free(f->x);
	rs_free(f->xb);
	rs_free(f->q);
	rs_free(f->k);
	rs_free(f->v);
	rs_free(f->ao);
	rs_free(f->hb);
	rs_free(f->hb2);
	rs_free(f->tmp);
	rs_free(f->att);
	rs_free(f->rope_cos);
	rs_free(f->rope_sin);
	rs_free(f->wbuf);
	rs_free(f->nw);
	rs_free(f->bias);
	rs_free(f->fscratch);
	rs_free(f->slots);
	rs_free(f);
}

/* Allocate rows x cols floats (NULL on overflow or failure). */
static float *
falloc(size_t rows, size_t cols)
{
	if (cols != 0 && rows > SIZE_MAX / cols)
		return NULL;
	return rs_mallocarray(rows * cols, sizeof(float));
}

/* Width of the widest linear output, the size of the bias row buffer (any linear may have a
 * bias: Qwen2 q/k/v, Llama attention_bias q/k/v/o and mlp_bias gate/up/down). */
static size_t
bias_width(const struct rs_forward *f)
{
	size_t w = (size_t)(f->qd > f->kvd ? f->qd : f->kvd);

	if ((size_t)f->c.dim > w)
		w = (size_t)f->c.dim;
	if ((size_t)f->c.ffn_dim > w)
		w = (size_t)f->c.ffn_dim;
	return w;
}

/* Floats of the weight conversion buffer: the largest decoder linear that cannot be used in
 * place, or a chunk of the head's rows. */
static size_t
wbuf_floats(const struct rs_model *m)
{
	const struct rs_model_config *c = rs_model_config(m);
	const struct rs_tensor *t;
	size_t wcap = 0, want;
	int l, k;

	for (l = 0; l < c->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			t = rs_model_tensor(m, l, (enum rs_tkind)k);
			if (!usable_in_place(t) && (size_t)(t->rows * t->cols) > wcap)
				wcap = (size_t)(t->rows * t->cols);
		}
	if (!usable_in_place(rs_model_global(m, RS_G_HEAD))) {
		/* the head is converted in chunks of rows: at least 256 rows at a time */
		want = (size_t)(c->vocab < 256 ? c->vocab : 256) * (size_t)c->dim;
		if (want > wcap)
			wcap = want;
	}
	return wcap;
}

/* Bytes rs_forward_new allocates for max_rows rows and windows up to max_tok. */
uint64_t
rs_forward_state_bytes(const struct rs_model *m, int max_rows, int max_tok)
{
	const struct rs_model_config *c = rs_model_config(m);
	uint64_t rows = (uint64_t)max_rows, tok = (uint64_t)max_tok;
	uint64_t qd = (uint64_t)c->n_heads * c->head_dim, kvd = (uint64_t)c->n_kv_heads * c->head_dim;
	uint64_t bw = qd > kvd ? qd : kvd;

	if ((uint64_t)c->dim > bw)
		bw = (uint64_t)c->dim;
	if ((uint64_t)c->ffn_dim > bw)
		bw = (uint64_t)c->ffn_dim;
	return sizeof(float) * (rows * (3 * (uint64_t)c->dim + 2 * qd + 2 * kvd +
	    2 * (uint64_t)c->ffn_dim) + tok * tok + tok * (uint64_t)c->head_dim +
	    wbuf_floats(m) + (uint64_t)c->dim + bw) +
	    (uint64_t)c->n_layers * RS_MAT_COUNT * sizeof(struct lin_slot);
}

/* Allocate a run state for max_rows rows and windows up to max_tok. */
struct rs_forward *
rs_forward_new(const struct rs_model *m, int max_rows, int max_tok, char **cause)
{
	const struct rs_model_config *c = rs_model_config(m);
	struct rs_forward *f;
	size_t wcap, half;
	int p, i;

	if (max_tok <= 0 || max_rows < max_tok || max_tok > (1 << 20)) {
		rs_fail(cause, RS_EINVAL, "%s: forward pass for %d rows of windows up to %d tokens",
		    rs_model_path(m), max_rows, max_tok);
		return NULL;
	}
	if ((f = rs_calloc(1, sizeof *f)) == NULL)
		goto nomem;
	f->m = m;
	f->c = *c;
	f->max_rows = max_rows;
	f->max_tok = max_tok;
	f->qd = c->n_heads * c->head_dim;
	f->kvd = c->n_kv_heads * c->head_dim;
	f->wcap = wcap = wbuf_floats(m);
	half = (size_t)c->head_dim / 2;
	if ((f->x = falloc((size_t)max_rows, (size_t)c->dim)) == NULL ||
	    (f->xb = falloc((size_t)max_rows, (size_t)c->dim)) == NULL ||
	    (f->q = falloc((size_t)max_rows, (size_t)f->qd)) == NULL ||
	    (f->k = falloc((size_t)max_rows, (size_t)f->kvd)) == NULL ||
	    (f->v = falloc((size_t)max_rows, (size_t)f->kvd)) == NULL ||
	    (f->ao = falloc((size_t)max_rows, (size_t)f->qd)) == NULL ||
	    (f->hb = falloc((size_t)max_rows, (size_t)c->ffn_dim)) == NULL ||
	    (f->hb2 = falloc((size_t)max_rows, (size_t)c->ffn_dim)) == NULL ||
	    (f->tmp = falloc((size_t)max_rows, (size_t)c->dim)) == NULL ||
	    (f->att = falloc((size_t)max_tok, (size_t)max_tok)) == NULL ||
	    (f->rope_cos = falloc((size_t)max_tok, half)) == NULL ||
	    (f->rope_sin = falloc((size_t)max_tok, half)) == NULL ||
	    (wcap > 0 && (f->wbuf = falloc(wcap, 1)) == NULL) ||
	    (f->nw = falloc((size_t)c->dim, 1)) == NULL ||
	    (f->bias = falloc(bias_width(f), 1)) == NULL ||
	    (f->slots = rs_calloc((size_t)c->n_layers * RS_MAT_COUNT, sizeof *f->slots)) == NULL)
		goto nomem;
	/* RoPE angles pos * theta^(-2i/hd), in double, as rotate-half pairs (i, i + hd/2). */
	for (p = 0; p < max_tok; p++)
		for (i = 0; i < (int)half; i++) {
			double freq = pow(c->rope_theta, -2.0 * i / c->head_dim);
			f->rope_cos[(size_t)p * half + i] = (float)cos(p * freq);
			f->rope_sin[(size_t)p * half + i] = (float)sin(p * freq);
		}
	return f;
nomem:
	rs_forward_free(f);
	rs_fail(cause, RS_ENOMEM, "%s: out of memory for a forward pass of %d tokens",
	    rs_model_path(m), max_rows);
	return NULL;
}

/* The model a run state evaluates. */
const struct rs_model *
rs_forward_model(const struct rs_forward *f)
{
	return f->m;
}

/* Rows (tokens over all windows) a call may hold. */
int
rs_forward_max_rows(const struct rs_forward *f)
{
	return f->max_rows;
}

/* Longest window a call may hold. */
int
rs_forward_max_tok(const struct rs_forward *f)
{
	return f->max_tok;
}

/* The slot of a decoder linear, NULL if out of range. */
static struct lin_slot *
slot(struct rs_forward *f, int layer, enum rs_tkind mat)
{
	if (layer < 0 || layer >= f->c.n_layers || (unsigned)mat >= RS_MAT_COUNT)
		return NULL;
	return &f->slots[layer * RS_MAT_COUNT + mat];
}

/* Install or remove the callback replacing one decoder linear. */
int
rs_forward_set_override(struct rs_forward *f, int layer, enum rs_tkind mat,
    const struct rs_linear_override *ov)
{
	struct lin_slot *s = slot(f, layer, mat);

	if (s == NULL || (ov != NULL && ov->apply == NULL))
		return RS_EINVAL;
	memset(s, 0, sizeof *s);
	if (ov != NULL) {
		s->kind = 1;
		s->ov = *ov;
	}
	return 0;
}

/* Install or remove a factor pair replacing one decoder linear. */
int
rs_forward_set_factors(struct rs_forward *f, int layer, enum rs_tkind mat, int rank,
    const float *a, const float *b_mat, const float *bias)
{
	struct lin_slot *s = slot(f, layer, mat);
	float *p;

	if (s == NULL || (a != NULL && (rank <= 0 || b_mat == NULL)))
		return RS_EINVAL;
	memset(s, 0, sizeof *s);
	if (a == NULL)
		return 0;
	if ((size_t)rank > f->fcap) {
		if ((p = falloc((size_t)f->max_rows, (size_t)rank)) == NULL)
			return RS_ENOMEM;
		rs_free(f->fscratch);
		f->fscratch = p;
		f->fcap = (size_t)rank;
	}
	s->kind = 2;
	s->rank = rank;
	s->a = a;
	s->b = b_mat;
	s->bias = bias;
	return 0;
}

/* Return every decoder linear to its dense product. */
void
rs_forward_clear_overrides(struct rs_forward *f)
{
	memset(f->slots, 0, (size_t)f->c.n_layers * RS_MAT_COUNT * sizeof *f->slots);
}

/* Install or remove the activation hook. */
void
rs_forward_set_hook(struct rs_forward *f, rs_forward_hook hook, void *ud)
{
	f->hook = hook;
	f->hook_ud = ud;
}

/* The whole tensor as float32: in place when possible, else converted into wbuf. */
static const float *
weights_f32(struct rs_forward *f, const struct rs_tensor *t)
{
	if (usable_in_place(t))
		return t->data;
	rs_model_tensor_rows_f32(f->m, t, 0, t->rows, f->wbuf);
	return f->wbuf;
}

/* y (n x out) = W x (x: n x in) for decoder linear (l, mat), through its override if any;
 * accumulate: y += instead of y =.  Then the model's bias, if any. */
static int
linear(struct rs_forward *f, int l, enum rs_tkind mat, const float *x, int n, float *y,
    int accumulate)
{
	const struct rs_tensor *t = rs_model_tensor(f->m, l, mat);
	const struct rs_tensor *bt;
	struct lin_slot *s = &f->slots[l * RS_MAT_COUNT + mat];
	int in = (int)t->cols, out = (int)t->rows, r, i, st;
	float *dst = accumulate && s->kind != 0 ? f->tmp : y;
	size_t j;

	switch (s->kind) {
	case 0:
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in,
		    weights_f32(f, t), in, accumulate ? 1.0f : 0.0f, y, out);
		break;
	case 1:
		if ((st = s->ov.apply(s->ov.ud, l, mat, x, n, in, dst, out)) != 0)
			return st;
		break;
	default:
		/* A x then B (A x): two thin products */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, s->rank, in, 1.0f, x, in,
		    s->a, in, 0.0f, f->fscratch, s->rank);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, s->rank, 1.0f,
		    f->fscratch, s->rank, s->b, s->rank, 0.0f, dst, out);
		if (s->bias != NULL)
			for (r = 0; r < n; r++)
				for (i = 0; i < out; i++)
					dst[(size_t)r * out + i] += s->bias[i];
		break;
	}
	if (dst != y)
		for (j = 0; j < (size_t)n * out; j++)
			y[j] += dst[j];
	if (f->c.bias_mask & (1u << mat)) {
		bt = rs_model_tensor(f->m, l, (enum rs_tkind)(RS_T_Q_BIAS + mat));
		if (bt->present) {
			rs_model_tensor_rows_f32(f->m, bt, 0, 1, f->bias);
			for (r = 0; r < n; r++)
				for (i = 0; i < out; i++)
					y[(size_t)r * out + i] += f->bias[i];
		}
	}
	return 0;
}

/* Softmax of the score rows of query positions [r0, r1) over keys [0, r1) (att is
 * (r1 - r0) x r1): row i keeps keys 0..i, the masked rest becomes 0. */
static void
causal_softmax(float *att, int r0, int r1)
{
	int i, j;

	for (i = r0; i < r1; i++) {
		float *row = att + (size_t)(i - r0) * r1, mx = row[0], sum;

		for (j = 1; j <= i; j++)
			if (row[j] > mx)
				mx = row[j];
		sum = 1.0f / rs_vexp_sub_sum(row, (size_t)i + 1, mx);
		for (j = 0; j <= i; j++)
			row[j] *= sum;
		for (; j < r1; j++)
			row[j] = 0.0f;
	}
}

/* out[r] = x[r] / rms(x[r]) * w for n rows of width dim. */
static void
rmsnorm(float *out, const float *x, const float *w, int n, int dim, double eps)
{
	int r, i;

	for (r = 0; r < n; r++) {
		const float *xr = x + (size_t)r * dim;
		float *o = out + (size_t)r * dim;
		double ss = 0;
		float scale;

		for (i = 0; i < dim; i++)
			ss += (double)xr[i] * xr[i];
		scale = (float)(1.0 / sqrt(ss / dim + eps));
		for (i = 0; i < dim; i++)
			o[i] = w[i] * (xr[i] * scale);
	}
}

/* Rotate-half RoPE on every head of n rows of width heads * hd; row r is position r % n_tok. */
static void
rope(struct rs_forward *f, float *x, int n, int n_tok, int heads)
{
	int hd = f->c.head_dim, half = hd / 2, r, h, i;

	for (r = 0; r < n; r++) {
		const float *cs = f->rope_cos + (size_t)(r % n_tok) * half;
		const float *sn = f->rope_sin + (size_t)(r % n_tok) * half;

		for (h = 0; h < heads; h++) {
			float *v = x + (size_t)r * heads * hd + (size_t)h * hd;

			for (i = 0; i < half; i++) {
				float a = v[i], b = v[i + half];

				v[i] = a * cs[i] - b * sn[i];
				v[i + half] = a * sn[i] + b * cs[i];
			}
		}
	}
}

/* Causal softmax attention of every window and head: ao = softmax(Q K^T / sqrt(hd)) V. */
static void
attention(struct rs_forward *f, int n_seq, int n_tok)
{
	int hd = f->c.head_dim, group = f->c.n_heads / f->c.n_kv_heads;
	float scale = (float)(1.0 / sqrt((double)hd));
	int s, h, r0, r1;

	for (s = 0; s < n_seq; s++)
		for (h = 0; h < f->c.n_heads; h++) {
			const float *qh = f->q + (size_t)s * n_tok * f->qd + (size_t)h * hd;
			const float *kh = f->k + (size_t)s * n_tok * f->kvd + (size_t)(h / group) * hd;
			const float *vh = f->v + (size_t)s * n_tok * f->kvd + (size_t)(h / group) * hd;
			float *oh = f->ao + (size_t)s * n_tok * f->qd + (size_t)h * hd;

			/* Blocks of query rows [r0, r1) see keys [0, r1): the causal triangle
			 * without computing much of the masked half. */
			for (r0 = 0; r0 < n_tok; r0 = r1) {
				r1 = r0 + ATT_BLOCK < n_tok ? r0 + ATT_BLOCK : n_tok;
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hd,
				    scale, qh + (size_t)r0 * f->qd, f->qd, kh, f->kvd, 0.0f, f->att, r1);
				causal_softmax(f->att, r0, r1);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hd, r1,
				    1.0f, f->att, r1, vh, f->kvd, 0.0f, oh + (size_t)r0 * f->qd, f->qd);
			}
		}
}

/* RoPE of a pruned export's layer (model.h's struct rs_layer_attn) on n rows of width w: head
 * hh (of `heads`, kv head g = hh / per) has p = qk_pairs[g] pairs at its offset, pair t made of
 * elements t and t + p, rotated with the frequency of its original pair index. */
static void
rope_small(struct rs_forward *f, const struct rs_layer_attn *a, float *x, int n, int n_tok,
    int heads, int per, int w)
{
	int half = f->c.head_dim / 2, r, hh, g, t, p, pi;

	for (r = 0; r < n; r++) {
		const float *cs = f->rope_cos + (size_t)(r % n_tok) * half;
		const float *sn = f->rope_sin + (size_t)(r % n_tok) * half;

		for (hh = 0; hh < heads; hh++) {
			float *v;

			g = hh / per;
			p = a->qk_pairs[g];
			v = x + (size_t)r * w + (size_t)per * a->k_off[g] + (size_t)(hh % per) * 2 * p;
			for (t = 0; t < p; t++) {
				float b0 = v[t], b1 = v[t + p];

				pi = a->pair_idx[a->pair_off[g] + t];
				v[t] = b0 * cs[pi] - b1 * sn[pi];
				v[t + p] = b0 * sn[pi] + b1 * cs[pi];
			}
		}
	}
}

/* Attention of a pruned export's layer: per-head widths from the layer's lists (query heads
 * share their kv head's), scale 1 / sqrt(original head_dim), o's input is the concatenated
 * per-head outputs (width o_cols). */
static void
attention_small(struct rs_forward *f, const struct rs_layer_attn *a, int n_seq, int n_tok)
{
	int G = f->c.n_heads / f->c.n_kv_heads, H = f->c.n_kv_heads;
	int qw = a->q_rows, kw = a->k_off[H], vw = a->v_off[H], ow = a->o_cols;
	float scale = (float)(1.0 / sqrt((double)f->c.head_dim));
	int s, h, g, r0, r1, kd, vd;

	for (s = 0; s < n_seq; s++)
		for (h = 0; h < f->c.n_heads; h++) {
			const float *qh, *kh, *vh;
			float *oh;

			g = h / G;
			kd = 2 * a->qk_pairs[g];
			vd = a->v_dims[g];
			if (vd == 0)
				continue;	/* the head adds nothing to o's input */
			qh = f->q + (size_t)s * n_tok * qw + (size_t)G * a->k_off[g] +
			    (size_t)(h % G) * kd;
			kh = f->k + (size_t)s * n_tok * kw + (size_t)a->k_off[g];
			vh = f->v + (size_t)s * n_tok * vw + (size_t)a->v_off[g];
			oh = f->ao + (size_t)s * n_tok * ow + (size_t)G * a->v_off[g] +
			    (size_t)(h % G) * vd;
			for (r0 = 0; r0 < n_tok; r0 = r1) {
				r1 = r0 + ATT_BLOCK < n_tok ? r0 + ATT_BLOCK : n_tok;
				if (kd > 0)
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1,
					    kd, scale, qh + (size_t)r0 * qw, qw, kh, kw, 0.0f, f->att, r1);
				else	/* no pair left: every score is 0, uniform over the past */
					memset(f->att, 0, (size_t)(r1 - r0) * r1 * sizeof(float));
				causal_softmax(f->att, r0, r1);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, vd, r1,
				    1.0f, f->att, r1, vh, vw, 0.0f, oh + (size_t)r0 * ow, ow);
			}
		}
}

/* Call the activation hook if one is installed. */
static int
hook(struct rs_forward *f, int l, enum rs_input_group g, const float *x, int n, int width)
{
	return f->hook != NULL ? f->hook(f->hook_ud, l, g, x, n, width) : 0;
}

/* The logits of the selected positions: final norm of those rows, then the head in chunks. */
static void
head(struct rs_forward *f, int n_seq, int n_tok, int first, float *logits)
{
	const struct rs_tensor *norm = rs_model_global(f->m, RS_G_NORM);
	const struct rs_tensor *ht = rs_model_global(f->m, RS_G_HEAD);
	int per = n_tok - first, nsel = n_seq * per, dim = f->c.dim, vocab = f->c.vocab;
	int s, r0, nr, chunk;

	rs_model_tensor_rows_f32(f->m, norm, 0, 1, f->nw);
	for (s = 0; s < n_seq; s++)
		rmsnorm(f->xb + (size_t)s * per * dim, f->x + ((size_t)s * n_tok + first) * dim,
		    f->nw, per, dim, f->c.rms_norm_eps);
	if (usable_in_place(ht)) {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nsel, vocab, dim, 1.0f, f->xb,
		    dim, ht->data, dim, 0.0f, logits, vocab);
		return;
	}
	chunk = (int)(f->wcap / (size_t)dim);
	for (r0 = 0; r0 < vocab; r0 += chunk) {
		nr = vocab - r0 < chunk ? vocab - r0 : chunk;
		rs_model_tensor_rows_f32(f->m, ht, r0, nr, f->wbuf);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nsel, nr, dim, 1.0f, f->xb,
		    dim, f->wbuf, dim, 0.0f, logits + r0, vocab);
	}
}

/* Check that n_seq windows of n_tok tokens fit the run state. */
static int
check_shape(const struct rs_forward *f, int n_seq, int n_tok, char **cause)
{
	if (n_seq <= 0 || n_tok <= 0 || n_tok > f->max_tok || n_seq > f->max_rows / n_tok)
		return rs_fail(cause, RS_EINVAL, "%s: %d windows of %d tokens do not fit a forward "
		    "pass of %d rows, windows up to %d", rs_model_path(f->m), n_seq, n_tok,
		    f->max_rows, f->max_tok);
	return 0;
}

/* The token embeddings of n rows into x (ids already checked). */
static int
embed_rows(struct rs_forward *f, const int32_t *tokens, int n, float *x, char **cause)
{
	const struct rs_tensor *embed = rs_model_global(f->m, RS_G_EMBED);
	int i;

	for (i = 0; i < n; i++) {
		if (tokens[i] < 0 || tokens[i] >= f->c.vocab)
			return rs_fail(cause, RS_EINVAL, "%s: token id %d at %d is outside the "
			    "vocabulary of %d", rs_model_path(f->m), (int)tokens[i], i, f->c.vocab);
		rs_model_tensor_rows_f32(f->m, embed, tokens[i], 1, x + (size_t)i * f->c.dim);
	}
	return 0;
}

/* Decoder layer l on the residual stream x (n_seq * n_tok rows, shape checked), in place. */
static int
layer_rows(struct rs_forward *f, int l, float *x, int n_seq, int n_tok, struct rs_job *job,
    char **cause)
{
	const struct rs_model_config *c = &f->c;
	const struct rs_layer_attn *la;
	int n = n_seq * n_tok, dim = c->dim, ffn, st;

	if (rs_job_cancelled(job))
		return rs_fail(cause, RS_ECANCEL, "%s: forward pass cancelled", rs_model_path(f->m));
	/* attention block */
	rs_model_tensor_rows_f32(f->m, rs_model_tensor(f->m, l, RS_T_ATTN_NORM), 0, 1, f->nw);
	rmsnorm(f->xb, x, f->nw, n, dim, c->rms_norm_eps);
	if ((st = hook(f, l, RS_IN_ATTN, f->xb, n, dim)) != 0 ||
	    (st = linear(f, l, RS_T_Q, f->xb, n, f->q, 0)) != 0 ||
	    (st = linear(f, l, RS_T_K, f->xb, n, f->k, 0)) != 0 ||
	    (st = linear(f, l, RS_T_V, f->xb, n, f->v, 0)) != 0)
		goto fail;
	if ((la = rs_model_layer_attn(f->m, l)) == NULL) {
		rope(f, f->q, n, n_tok, c->n_heads);
		rope(f, f->k, n, n_tok, c->n_kv_heads);
		attention(f, n_seq, n_tok);
	} else {
		/* a pruned export's layer: its own per-head sizes */
		rope_small(f, la, f->q, n, n_tok, c->n_heads, c->n_heads / c->n_kv_heads,
		    la->q_rows);
		rope_small(f, la, f->k, n, n_tok, c->n_kv_heads, 1, la->k_off[c->n_kv_heads]);
		attention_small(f, la, n_seq, n_tok);
	}
	if ((st = hook(f, l, RS_IN_O, f->ao, n, la != NULL ? la->o_cols : f->qd)) != 0 ||
	    (st = linear(f, l, RS_T_O, f->ao, n, x, 1)) != 0)
		goto fail;
	/* MLP block */
	rs_model_tensor_rows_f32(f->m, rs_model_tensor(f->m, l, RS_T_MLP_NORM), 0, 1, f->nw);
	rmsnorm(f->xb, x, f->nw, n, dim, c->rms_norm_eps);
	/* the layer's own intermediate size (pruned exports), at most the config's */
	ffn = (int)rs_model_tensor(f->m, l, RS_T_GATE)->rows;
	if ((st = hook(f, l, RS_IN_MLP, f->xb, n, dim)) != 0 ||
	    (st = linear(f, l, RS_T_GATE, f->xb, n, f->hb, 0)) != 0 ||
	    (st = linear(f, l, RS_T_UP, f->xb, n, f->hb2, 0)) != 0)
		goto fail;
	rs_vsilu_mul(f->hb, f->hb2, (size_t)n * ffn);
	if ((st = hook(f, l, RS_IN_DOWN, f->hb, n, ffn)) != 0 ||
	    (st = linear(f, l, RS_T_DOWN, f->hb, n, x, 1)) != 0)
		goto fail;
	return 0;
fail:
	if (st == RS_ECANCEL)
		return rs_fail(cause, st, "%s: forward pass cancelled", rs_model_path(f->m));
	return rs_fail(cause, st, "%s: layer %d: a linear override or hook failed (%s)",
	    rs_model_path(f->m), l, rs_status_str(st));
}

/* The embeddings of n_seq windows of n_tok tokens into x (see forward.h). */
int
rs_forward_embed(struct rs_forward *f, const int32_t *tokens, int n_seq, int n_tok, float *x,
    char **cause)
{
	int st;

	if ((st = check_shape(f, n_seq, n_tok, cause)) != 0)
		return st;
	return embed_rows(f, tokens, n_seq * n_tok, x, cause);
}

/* Decoder layer l on x in place (see forward.h). */
int
rs_forward_layer(struct rs_forward *f, int l, float *x, int n_seq, int n_tok,
    struct rs_job *job, char **cause)
{
	int st;

	if (l < 0 || l >= f->c.n_layers)
		return rs_fail(cause, RS_EINVAL, "%s: no layer %d", rs_model_path(f->m), l);
	if ((st = check_shape(f, n_seq, n_tok, cause)) != 0)
		return st;
	return layer_rows(f, l, x, n_seq, n_tok, job, cause);
}

/* Evaluate n_seq causal windows of n_tok tokens; logits of the chosen positions. */
int
rs_forward_run(struct rs_forward *f, const int32_t *tokens, int n_seq, int n_tok,
    int first_logit, float *logits, struct rs_job *job, char **cause)
{
	int l, st;

	if (n_seq <= 0 || n_tok <= 0 || n_tok > f->max_tok || n_seq > f->max_rows / n_tok ||
	    first_logit < 0 || first_logit >= n_tok)
		return rs_fail(cause, RS_EINVAL, "%s: %d windows of %d tokens (logits from %d) do not "
		    "fit a forward pass of %d rows, windows up to %d", rs_model_path(f->m), n_seq,
		    n_tok, first_logit, f->max_rows, f->max_tok);
	if ((st = embed_rows(f, tokens, n_seq * n_tok, f->x, cause)) != 0)
		return st;
	for (l = 0; l < f->c.n_layers; l++)
		if ((st = layer_rows(f, l, f->x, n_seq, n_tok, job, cause)) != 0)
			return st;
	if (logits != NULL)
		head(f, n_seq, n_tok, first_logit, logits);
	return 0;
}

/* Floating-point operations of one call (2 per multiply-add). */
double
rs_forward_flops(const struct rs_model *m, int n_seq, int n_tok, int n_logits)
{
	const struct rs_model_config *c = rs_model_config(m);
	double tok = (double)n_seq * n_tok;
	double lin = 2.0 * (double)rs_model_linear_params(m) * tok;
	/* causal scores and mixing: 2 * hd * (1 + ... + n) each, per head, layer and window */
	double att = 2.0 * 2.0 * c->head_dim * ((double)n_tok * (n_tok + 1) / 2.0) * c->n_heads *
	    c->n_layers * n_seq;
	double hd = 2.0 * (double)c->vocab * c->dim * n_logits * n_seq;

	return lin + att + hd;
}
