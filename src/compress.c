/* compress.c: factor computation for svd/feature/whiten/asvd, the factor cache, and plan
 * installation into a forward pass. */
#include "config.h"

#include "compress.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cache.h"
#include "calib.h"
#include "covstats.h"
#include "linalg.h"

/* Full-rank factors of one matrix by one method. */
struct entry {
	int valid;
	enum rs_method method;
	double alpha;                   /* asvd only */
	uint64_t key;                   /* calibration identity hash (0: svd) */
	size_t m, n, r;
	float *a;                       /* (r, n) */
	float *b;                       /* (m, r) */
	double *wmu;                    /* (m) feature: W μ */
	double *cu;                     /* (r) feature: A μ (= Uᵀ W μ) */
	uint64_t bytes;
	uint64_t stamp;                 /* last use, for LRU */
	int pins;
};

/* Factors given from outside, at one rank. */
struct fixed {
	int valid;
	enum rs_method method;
	double alpha;
	int rank;
	float *a, *b, *bias;            /* (rank, n), (m, rank), (m) or NULL */
	uint64_t bytes;
};

struct rs_compress {
	const struct rs_model *m;
	int n;                          /* decoder matrices */
	int n_layers;
	struct entry *ent;              /* (n, RS_METHOD_COUNT) */
	struct fixed *fix;              /* (n) */
	uint64_t clock;
	struct rs_compress_counters cnt;
	struct rs_linalg_ws *ws;
};

struct set_item {
	struct rs_factor_pair p;
	struct entry *pinned;           /* held entry the pair points into, or NULL */
	struct entry *temp;             /* an entry not held (over budget), owned */
	float *own_b, *own_bias;
};

struct rs_compress_set {
	struct rs_compress *c;
	int count;
	struct set_item *items;         /* (count) */
	int *item_of;                   /* (n) item index or -1 */
	int n;
};

/* Statistics of one (layer, input) prepared for a method. */
struct gstats {
	int ready;
	struct rs_calib_stats *st;
	double *l;                      /* (n, n) Cholesky factor (feature, whiten), then λ;
	                                   shared memory (rs_linalg_shared_alloc) */
	size_t lbytes;
	double *scale;                  /* (n) asvd: s_j^α */
};

/* Arguments of one decomposition run through rs_linalg_cancellable() (linalg.h): a cancel
 * kills the process computing it, so a factor build stops at once even mid-SVD.  Every
 * output below is in shared memory. */
struct decomp {
	struct rs_linalg_ws *ws;
	size_t m, n;
	const float *w;                 /* feature, whiten: the m×n weights */
	double *wd;                     /* svd: the m×n double matrix */
	const double *l, *mu;           /* feature, whiten: the factor, the mean */
	double *o1, *o2, *o3;           /* outputs (see each function) */
};

/* Full-rank factors of wd from its smaller-side Gram (rs_linalg_gram_factors_f64):
 * o1 = U Σ (m×r), o2 = Σ (r), o3 = Vᵀ (r×n). */
static int
decomp_svd(void *arg, char **cause)
{
	struct decomp *d = arg;

	return rs_linalg_gram_factors_f64(d->ws, d->wd, d->m, d->n, d->o1, d->o2, d->o3, cause);
}

/* Full-rank feature-PCA factors: o1 = U (m×r), o2 = Uᵀ W (r×n); the bias it computes goes
 * to o3 (scratch: the caller recomputes the full-rank one). */
static int
decomp_feature(void *arg, char **cause)
{
	struct decomp *d = arg;
	size_t r = d->m < d->n ? d->m : d->n;

	return rs_covstats_feature_pca(d->ws, d->w, d->m, d->n, d->l, d->mu, r, d->o1, d->o2,
	    d->o3, NULL, cause);
}

/* Full-rank whitened factors: o1 = U Σ (m×r), o2 = Vᵀ L⁻¹ (r×n). */
static int
decomp_whiten(void *arg, char **cause)
{
	struct decomp *d = arg;
	size_t r = d->m < d->n ? d->m : d->n;

	return rs_covstats_feature_whiten(d->ws, d->w, d->m, d->n, d->l, r, d->o1, d->o2, NULL,
	    cause);
}

static const char *const method_names[RS_METHOD_COUNT] = { "svd", "feature", "whiten", "asvd" };

const char *
rs_method_name(enum rs_method m)
{
	return (unsigned)m < RS_METHOD_COUNT ? method_names[m] : "?";
}

int
rs_method_parse(const char *s)
{
	int i;

	for (i = 0; i < RS_METHOD_COUNT; i++)
		if (strcmp(s, method_names[i]) == 0)
			return i;
	return -1;
}

int
rs_method_needs_calib(enum rs_method m)
{
	return m != RS_METHOD_SVD;
}

const char *
rs_method_describe(enum rs_method m)
{
	switch (m) {
	case RS_METHOD_SVD:
		return "plain SVD of W: B = U_k S_k, A = V_k^T (no data)";
	case RS_METHOD_FEATURE:
		return "feature PCA: B = U_k, A = U_k^T W, bias (I - U_k U_k^T) W mu "
		    "(pooled centred covariance)";
	case RS_METHOD_WHITEN:
		return "whitened SVD (SVD-LLM): B = U_k S_k, A = V_k^T L^-1, L L^T = pooled "
		    "uncentred Gram";
	case RS_METHOD_ASVD:
		return "activation-scaled SVD (ASVD): W S = U S V^T, S = diag(rms_j^alpha), "
		    "B = U_k S_k, A = V_k^T S^-1";
	default:
		return "?";
	}
}

uint64_t
rs_compress_default_budget(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psize <= 0)
		return 1ULL << 30;
	return (uint64_t)pages * (uint64_t)psize / 4;
}

/* Free an entry's arrays and mark it empty. */
static void
entry_clear(struct rs_compress *c, struct entry *e, int held)
{
	if (!e->valid)
		return;
	if (held && c != NULL) {
		c->cnt.held_bytes -= e->bytes;
		c->cnt.held--;
	}
	rs_free(e->a);
	rs_free(e->b);
	rs_free(e->wmu);
	rs_free(e->cu);
	memset(e, 0, sizeof *e);
}

/* Free given factors of one matrix. */
static void
fixed_clear(struct rs_compress *c, struct fixed *f)
{
	if (!f->valid)
		return;
	c->cnt.fixed_bytes -= f->bytes;
	rs_free(f->a);
	rs_free(f->b);
	rs_free(f->bias);
	memset(f, 0, sizeof *f);
}

struct rs_compress *
rs_compress_new(const struct rs_model *m, uint64_t budget, char **cause)
{
	struct rs_compress *c;
	int n = rs_model_config(m)->n_layers * RS_MAT_COUNT;

	if ((c = rs_calloc(1, sizeof *c)) == NULL ||
	    (c->ent = rs_calloc((size_t)n * RS_METHOD_COUNT, sizeof *c->ent)) == NULL ||
	    (c->fix = rs_calloc((size_t)n, sizeof *c->fix)) == NULL ||
	    (c->ws = rs_linalg_ws_new()) == NULL) {
		if (c != NULL) {
			rs_free(c->ent);
			rs_free(c->fix);
			rs_free(c);
		}
		rs_fail(cause, RS_ENOMEM, "compress: out of memory");
		return NULL;
	}
	c->m = m;
	c->n = n;
	c->n_layers = rs_model_config(m)->n_layers;
	c->cnt.budget = budget;
	return c;
}

void
rs_compress_free(struct rs_compress *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n * RS_METHOD_COUNT; i++)
		entry_clear(c, &c->ent[i], 1);
	for (i = 0; i < c->n; i++)
		fixed_clear(c, &c->fix[i]);
	rs_linalg_ws_free(c->ws);
	rs_free(c->ent);
	rs_free(c->fix);
	rs_free(c);
}

const struct rs_model *
rs_compress_model(const struct rs_compress *c)
{
	return c->m;
}

/* Evict least recently used unpinned entries until `extra` more bytes fit; 1 if they do. */
static int
make_room(struct rs_compress *c, uint64_t extra)
{
	while (c->cnt.held_bytes + extra > c->cnt.budget) {
		struct entry *lru = NULL;
		int i;

		for (i = 0; i < c->n * RS_METHOD_COUNT; i++) {
			struct entry *e = &c->ent[i];
			if (e->valid && e->pins == 0 && (lru == NULL || e->stamp < lru->stamp))
				lru = e;
		}
		if (lru == NULL)
			return 0;
		entry_clear(c, lru, 1);
		c->cnt.evictions++;
	}
	return 1;
}

/* Would `extra` more bytes fit once every unpinned entry were evicted? */
static int
could_fit(const struct rs_compress *c, uint64_t extra)
{
	uint64_t pinned = 0;
	int i;

	for (i = 0; i < c->n * RS_METHOD_COUNT; i++)
		if (c->ent[i].valid && c->ent[i].pins > 0)
			pinned += c->ent[i].bytes;
	return pinned + extra <= c->cnt.budget;
}

/* Bytes of entry e cut to its first k components. */
static uint64_t
entry_bytes(const struct entry *e, size_t k)
{
	return (uint64_t)(k * (e->m + e->n)) * sizeof(float) +
	    (e->wmu != NULL ? (uint64_t)(e->m + k) * sizeof(double) : 0);
}

/* Cut entry e (not held) to its first k components, giving the rest back. */
static void
entry_truncate(struct entry *e, size_t k)
{
	float *na;
	size_t x;

	/* row x of the m×k B moves from x·r to x·k ≤ x·r: in place, in order */
	for (x = 1; x < e->m; x++)
		memmove(e->b + x * k, e->b + x * e->r, k * sizeof *e->b);
	if ((na = rs_realloc(e->b, e->m * k * sizeof *na)) != NULL)
		e->b = na;
	if ((na = rs_realloc(e->a, k * e->n * sizeof *na)) != NULL)
		e->a = na;
	e->r = k;
	e->bytes = entry_bytes(e, k);
}

void
rs_compress_set_budget(struct rs_compress *c, uint64_t budget)
{
	c->cnt.budget = budget;
	make_room(c, 0);
}

void
rs_compress_get_counters(const struct rs_compress *c, struct rs_compress_counters *out)
{
	*out = c->cnt;
}

void
rs_compress_drop(struct rs_compress *c)
{
	int i;

	for (i = 0; i < c->n * RS_METHOD_COUNT; i++)
		if (c->ent[i].pins == 0)
			entry_clear(c, &c->ent[i], 1);
}

/* Shape of plan matrix i from the model. */
static const struct rs_tensor *
matrix_tensor(const struct rs_compress *c, int i)
{
	return rs_model_tensor(c->m, i / RS_MAT_COUNT, (enum rs_tkind)(i % RS_MAT_COUNT));
}

int
rs_compress_put_fixed(struct rs_compress *c, int i, enum rs_method method, double alpha,
    int rank, const float *a, const float *b, const float *bias, char **cause)
{
	const struct rs_tensor *t;
	struct fixed *f;
	size_t m, n;

	if (i < 0 || i >= c->n || (t = matrix_tensor(c, i)) == NULL)
		return rs_fail(cause, RS_EINVAL, "compress: matrix %d out of range", i);
	m = (size_t)t->rows;
	n = (size_t)t->cols;
	if (rank < 1 || (size_t)rank > (m < n ? m : n) || a == NULL || b == NULL)
		return rs_fail(cause, RS_EINVAL, "compress: %s: rank %d outside 1..%zu", t->name,
		    rank, m < n ? m : n);
	f = &c->fix[i];
	fixed_clear(c, f);
	f->a = rs_mallocarray((size_t)rank * n, sizeof *f->a);
	f->b = rs_mallocarray(m * (size_t)rank, sizeof *f->b);
	f->bias = bias != NULL ? rs_mallocarray(m, sizeof *f->bias) : NULL;
	if (f->a == NULL || f->b == NULL || (bias != NULL && f->bias == NULL)) {
		rs_free(f->a);
		rs_free(f->b);
		rs_free(f->bias);
		memset(f, 0, sizeof *f);
		return rs_fail(cause, RS_ENOMEM, "compress: %s: out of memory", t->name);
	}
	memcpy(f->a, a, (size_t)rank * n * sizeof *f->a);
	memcpy(f->b, b, m * (size_t)rank * sizeof *f->b);
	if (bias != NULL)
		memcpy(f->bias, bias, m * sizeof *f->bias);
	f->valid = 1;
	f->method = method;
	f->alpha = alpha;
	f->rank = rank;
	f->bytes = ((size_t)rank * (m + n) + (bias != NULL ? m : 0)) * sizeof(float);
	c->cnt.fixed_bytes += f->bytes;
	return 0;
}

void
rs_compress_clear_fixed(struct rs_compress *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		fixed_clear(c, &c->fix[i]);
}

int
rs_compress_n_fixed(const struct rs_compress *c)
{
	int i, k = 0;

	for (i = 0; i < c->n; i++)
		k += c->fix[i].valid;
	return k;
}

/* Release the prepared statistics of one (layer, input). */
static void
gstats_clear(struct gstats *g)
{
	rs_calib_stats_free(g->st);
	rs_linalg_shared_free(g->l, g->lbytes);
	rs_free(g->scale);
	memset(g, 0, sizeof *g);
}

/* Note a regularized covariance through the source's callback. */
static void
note_regularized(const struct rs_compress_src *src, int layer, const char *input, double lambda)
{
	char line[256];

	if (src->note == NULL)
		return;
	snprintf(line, sizeof line, "L%d %s input: %s not positive definite, regularized with "
	    "%g x its mean diagonal", layer, input, src->method == RS_METHOD_FEATURE ?
	    "centred covariance" : "Gram matrix", lambda);
	src->note(src->ud, line);
}

/* Fetch and prepare the statistics of (layer, g) for the source's method. */
static int
gstats_load(struct rs_compress *c, const struct rs_compress_src *src, int layer,
    enum rs_input_group g, struct gstats *gs, struct rs_job *job, char **cause)
{
	struct rs_calib_stats *st;
	double lambda = 0;
	size_t n, j, k;
	int rc;

	if ((rc = rs_calib_stats_get(src->calib, src->cache, layer, g, &gs->st, cause)) != 0)
		return rc;
	c->cnt.stats_loads++;
	st = gs->st;
	n = st->n;
	if (src->method == RS_METHOD_ASVD) {
		double mx = 0;

		if ((gs->scale = rs_mallocarray(n, sizeof *gs->scale)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "compress: out of memory");
		/* RMS of input j: sqrt of the pooled Gram's diagonal, C_jj + (1/G) Σ_g μ_gj². */
		for (j = 0; j < n; j++) {
			double d = st->cov[j * n + j];
			for (k = 0; k < st->groups; k++)
				d += st->gmeans[k * n + j] * st->gmeans[k * n + j] / (double)st->groups;
			gs->scale[j] = d > 0 ? sqrt(d) : 0;
			if (gs->scale[j] > mx)
				mx = gs->scale[j];
		}
		/* A dead input would make S singular: floor it at 1e-6 of the largest RMS. */
		for (j = 0; j < n; j++) {
			double s = gs->scale[j] > 1e-6 * mx ? gs->scale[j] : (mx > 0 ? 1e-6 * mx : 1);
			gs->scale[j] = pow(s, src->alpha);
		}
	} else {
		double *gram = NULL;
		char what[96];

		if ((gs->l = rs_linalg_shared_alloc((n * n + 1) * sizeof *gs->l, cause)) == NULL)
			return RS_ENOMEM;
		gs->lbytes = (n * n + 1) * sizeof *gs->l;
		if (src->method != RS_METHOD_FEATURE) {
			if ((gram = rs_mallocarray(n * n, sizeof *gram)) == NULL)
				return rs_fail(cause, RS_ENOMEM, "compress: out of memory");
			rs_calib_stats_gram(st, gram);
		}
		snprintf(what, sizeof what, "compress: L%d %s input statistics", layer,
		    rs_calib_input_name(g));
		rc = rs_linalg_chol_reg_cancellable(job, what, gram != NULL ? gram : st->cov, n,
		    gs->l, cause);
		rs_free(gram);
		if (rc != 0)
			return rc;
		lambda = gs->l[n * n];
		if (lambda > 0) {
			c->cnt.regularized++;
			note_regularized(src, layer, rs_calib_input_name(g), lambda);
		}
	}
	gs->ready = 1;
	return 0;
}

/* Full-rank factors of the m×n double matrix wd into b = U Σ (m×r) and a = Vᵀ (r×n),
 * float32; a's column j divided by div[j] when div is not NULL. */
static int
svd_split(struct rs_linalg_ws *ws, double *wd, size_t m, size_t n, const double *div,
    float *a, float *b, struct rs_job *job, const char *name, char **cause)
{
	size_t r = m < n ? m : n, i, j;
	size_t usb = m * r * sizeof(double), sb = r * sizeof(double), vb = r * n * sizeof(double);
	double *us, *s, *vt;
	struct decomp d;
	int rc;

	us = rs_linalg_shared_alloc(usb, NULL);
	s = rs_linalg_shared_alloc(sb, NULL);
	vt = rs_linalg_shared_alloc(vb, NULL);
	if (us == NULL || s == NULL || vt == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "compress: out of memory");
		goto out;
	}
	memset(&d, 0, sizeof d);
	d.ws = ws;
	d.m = m;
	d.n = n;
	d.wd = wd;
	d.o1 = us;
	d.o2 = s;
	d.o3 = vt;
	if ((rc = rs_linalg_cancellable(job, name, (double)m * (double)n * (double)r, decomp_svd,
	    &d, cause)) != 0)
		goto out;
	for (i = 0; i < m; i++)
		for (j = 0; j < r; j++)
			b[i * r + j] = (float)us[i * r + j];
	for (i = 0; i < r; i++)
		for (j = 0; j < n; j++)
			a[i * n + j] = (float)(div != NULL ? vt[i * n + j] / div[j] : vt[i * n + j]);
out:
	rs_linalg_shared_free(us, usb);
	rs_linalg_shared_free(s, sb);
	rs_linalg_shared_free(vt, vb);
	return rc;
}

/* Full-rank factors of plan matrix i into e (allocated here). */
static int
compute_entry(struct rs_compress *c, int i, const struct rs_compress_src *src,
    const struct gstats *gs, uint64_t key, struct entry *e, struct rs_job *job, char **cause)
{
	const struct rs_tensor *t = matrix_tensor(c, i);
	size_t m = (size_t)t->rows, n = (size_t)t->cols, r = m < n ? m : n, x, y;
	size_t d1b = m * r * sizeof(double), d2b = r * n * sizeof(double);
	float *w = NULL;
	double *d1 = NULL, *d2 = NULL;
	struct decomp d;
	int rc;

	memset(e, 0, sizeof *e);
	e->m = m;
	e->n = n;
	e->r = r;
	w = rs_mallocarray(m * n, sizeof *w);
	e->a = rs_mallocarray(r * n, sizeof *e->a);
	e->b = rs_mallocarray(m * r, sizeof *e->b);
	if (w == NULL || e->a == NULL || e->b == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "compress: %s: out of memory", t->name);
		goto fail;
	}
	if ((rc = rs_model_tensor_rows_f32(c->m, t, 0, (int64_t)m, w)) != 0) {
		rc = rs_fail(cause, rc, "compress: %s: cannot read the weights", t->name);
		goto fail;
	}
	switch (src->method) {
	case RS_METHOD_SVD:
	case RS_METHOD_ASVD:
		if ((d1 = rs_mallocarray(m * n, sizeof *d1)) == NULL) {
			rc = rs_fail(cause, RS_ENOMEM, "compress: %s: out of memory", t->name);
			goto fail;
		}
		for (x = 0; x < m; x++)
			for (y = 0; y < n; y++)
				d1[x * n + y] = (double)w[x * n + y] *
				    (src->method == RS_METHOD_ASVD ? gs->scale[y] : 1.0);
		rc = svd_split(c->ws, d1, m, n, src->method == RS_METHOD_ASVD ? gs->scale : NULL,
		    e->a, e->b, job, t->name, cause);
		rs_free(d1);
		d1 = NULL;
		break;
	case RS_METHOD_FEATURE:
		d1 = rs_linalg_shared_alloc(d1b, NULL);         /* U */
		d2 = rs_linalg_shared_alloc(d2b, NULL);         /* Uᵀ W */
		e->wmu = rs_mallocarray(m, sizeof *e->wmu);
		e->cu = rs_mallocarray(r, sizeof *e->cu);
		if (d1 == NULL || d2 == NULL || e->wmu == NULL || e->cu == NULL) {
			rc = rs_fail(cause, RS_ENOMEM, "compress: %s: out of memory", t->name);
			goto fail;
		}
		/* the full-rank bias is ~0: computed into e->wmu's space (the child's copy when
		 * forked), then overwritten */
		memset(&d, 0, sizeof d);
		d.ws = c->ws;
		d.m = m;
		d.n = n;
		d.w = w;
		d.l = gs->l;
		d.mu = gs->st->mean;
		d.o1 = d1;
		d.o2 = d2;
		d.o3 = e->wmu;
		/* W·L, its Gram and eigenvectors, the other side: about m·n·(n + 2r) */
		if ((rc = rs_linalg_cancellable(job, t->name, (double)m * (double)n *
		    ((double)n + 2.0 * (double)r), decomp_feature, &d, cause)) != 0)
			break;
		for (x = 0; x < m; x++) {
			double acc = 0;
			for (y = 0; y < n; y++)
				acc += (double)w[x * n + y] * gs->st->mean[y];
			e->wmu[x] = acc;
		}
		/* A μ (= Uᵀ W μ), so that every rank's bias restores W μ exactly */
		for (y = 0; y < r; y++) {
			double acc = 0;
			for (x = 0; x < n; x++)
				acc += d2[y * n + x] * gs->st->mean[x];
			e->cu[y] = acc;
		}
		for (x = 0; x < m * r; x++)
			e->b[x] = (float)d1[x];
		for (x = 0; x < r * n; x++)
			e->a[x] = (float)d2[x];
		break;
	case RS_METHOD_WHITEN:
		d1 = rs_linalg_shared_alloc(d1b, NULL);         /* U Σ */
		d2 = rs_linalg_shared_alloc(d2b, NULL);         /* Vᵀ L⁻¹ */
		if (d1 == NULL || d2 == NULL) {
			rc = rs_fail(cause, RS_ENOMEM, "compress: %s: out of memory", t->name);
			goto fail;
		}
		memset(&d, 0, sizeof d);
		d.ws = c->ws;
		d.m = m;
		d.n = n;
		d.w = w;
		d.l = gs->l;
		d.o1 = d1;
		d.o2 = d2;
		/* W·L, its Gram and eigenvectors, the other side, Vᵀ·L⁻¹: about m·n·(n + 2r) +
		 * r·n² */
		if ((rc = rs_linalg_cancellable(job, t->name, (double)m * (double)n *
		    ((double)n + (double)r) + (double)r * (double)n * (double)n, decomp_whiten, &d,
		    cause)) != 0)
			break;
		for (x = 0; x < m * r; x++)
			e->b[x] = (float)d1[x];
		for (x = 0; x < r * n; x++)
			e->a[x] = (float)d2[x];
		break;
	default:
		rc = rs_fail(cause, RS_EINVAL, "compress: unknown method %d", (int)src->method);
		break;
	}
	if (rc != 0)
		goto fail;
	rs_free(w);
	rs_linalg_shared_free(d1, d1b);
	rs_linalg_shared_free(d2, d2b);
	e->valid = 1;
	e->method = src->method;
	e->alpha = src->method == RS_METHOD_ASVD ? src->alpha : 0;
	e->key = key;
	e->bytes = entry_bytes(e, r);
	c->cnt.decompositions++;
	return 0;
fail:
	rs_free(w);
	if (src->method == RS_METHOD_SVD || src->method == RS_METHOD_ASVD) {
		rs_free(d1);
	} else {
		rs_linalg_shared_free(d1, d1b);
		rs_linalg_shared_free(d2, d2b);
	}
	e->valid = 1;
	entry_clear(NULL, e, 0);
	return rc;
}

/* Does a held entry match the source? */
static int
entry_matches(const struct entry *e, const struct rs_compress_src *src, uint64_t key)
{
	return e->valid && e->method == src->method && e->key == key &&
	    (src->method != RS_METHOD_ASVD || e->alpha == src->alpha);
}

/* Cut the rank-k pair of item it from entry e. */
static int
cut_pair(struct set_item *it, const struct entry *e, int rank, char **cause)
{
	size_t k = (size_t)rank, x, y;

	if (k > e->r)
		return rs_fail(cause, RS_EINVAL, "compress: rank %d above %zu", rank, e->r);
	it->p.rank = rank;
	it->p.m = e->m;
	it->p.n = e->n;
	it->p.a = e->a;         /* the first k rows of A are the rank-k A */
	if (k == e->r) {
		/* an entry cut to this rank (or full rank): B as it is, no copy */
		it->p.b = e->b;
	} else {
		if ((it->own_b = rs_mallocarray(e->m * k, sizeof *it->own_b)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "compress: out of memory");
		for (x = 0; x < e->m; x++)
			memcpy(it->own_b + x * k, e->b + x * e->r, k * sizeof *it->own_b);
		it->p.b = it->own_b;
	}
	if (e->wmu != NULL) {
		/* b_k = W μ − U_k (U_kᵀ W μ) */
		if ((it->own_bias = rs_mallocarray(e->m, sizeof *it->own_bias)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "compress: out of memory");
		for (x = 0; x < e->m; x++) {
			double acc = e->wmu[x];
			for (y = 0; y < k; y++)
				acc -= (double)e->b[x * e->r + y] * e->cu[y];
			it->own_bias[x] = (float)acc;
		}
		it->p.bias = it->own_bias;
	}
	return 0;
}

void
rs_compress_set_free(struct rs_compress_set *s)
{
	int k;

	if (s == NULL)
		return;
	for (k = 0; k < s->count; k++) {
		struct set_item *it = &s->items[k];
		if (it->pinned != NULL)
			it->pinned->pins--;
		if (it->temp != NULL) {
			entry_clear(NULL, it->temp, 0);
			rs_free(it->temp);
		}
		rs_free(it->own_b);
		rs_free(it->own_bias);
	}
	rs_free(s->items);
	rs_free(s->item_of);
	rs_free(s);
}

int
rs_compress_build(struct rs_compress *c, const struct rs_plan *p,
    const struct rs_compress_src *src, struct rs_compress_set **out, struct rs_job *job,
    char **cause)
{
	struct rs_compress_set *s;
	struct gstats gs;
	uint64_t key = 0;
	int l, g, t, i, rc = 0, total, done = 0;

	*out = NULL;
	memset(&gs, 0, sizeof gs);
	if (rs_plan_count(p) != c->n)
		return rs_fail(cause, RS_EINVAL, "compress: the plan is for another model");
	if ((unsigned)src->method >= RS_METHOD_COUNT)
		return rs_fail(cause, RS_EINVAL, "compress: unknown method");
	total = rs_plan_n_compressed(p);
	if ((s = rs_calloc(1, sizeof *s)) == NULL ||
	    (s->items = rs_calloc((size_t)(total > 0 ? total : 1), sizeof *s->items)) == NULL ||
	    (s->item_of = rs_mallocarray((size_t)c->n, sizeof *s->item_of)) == NULL) {
		if (s != NULL)
			rs_free(s->items);
		rs_free(s);
		return rs_fail(cause, RS_ENOMEM, "compress: out of memory");
	}
	s->c = c;
	s->n = c->n;
	for (i = 0; i < c->n; i++)
		s->item_of[i] = -1;
	if (rs_method_needs_calib(src->method) && src->calib != NULL)
		key = rs_hash64(rs_calib_identity(src->calib), strlen(rs_calib_identity(src->calib)),
		    0);
	for (l = 0; l < c->n_layers && rc == 0; l++) {
		for (g = 0; g < RS_IN_COUNT && rc == 0; g++) {
			for (t = 0; t < RS_MAT_COUNT && rc == 0; t++) {
				struct set_item *it;
				struct entry *e;
				struct fixed *f;
				int rank;

				if (rs_calib_input_of((enum rs_tkind)t) != (enum rs_input_group)g)
					continue;
				i = l * RS_MAT_COUNT + t;
				if ((rank = rs_plan_rank(p, i)) == RS_PLAN_DENSE)
					continue;
				it = &s->items[s->count];
				it->p.index = i;
				s->item_of[i] = s->count++;
				f = &c->fix[i];
				if (f->valid && f->method == src->method && f->rank == rank &&
				    (src->method != RS_METHOD_ASVD || f->alpha == src->alpha)) {
					const struct rs_tensor *w = matrix_tensor(c, i);
					it->p.rank = rank;
					it->p.m = (size_t)w->rows;
					it->p.n = (size_t)w->cols;
					it->p.a = f->a;
					it->p.b = f->b;
					it->p.bias = f->bias;
					c->cnt.fixed_hits++;
					goto next;
				}
				e = &c->ent[i * RS_METHOD_COUNT + src->method];
				if (entry_matches(e, src, key) && (size_t)rank <= e->r) {
					c->cnt.hits++;
				} else {
					struct entry tmp;

					if (rs_method_needs_calib(src->method) && src->calib == NULL) {
						rc = rs_fail(cause, RS_EINVAL, "method %s needs calibration "
						    "statistics: run 'calibrate FILE' first (or 'set method "
						    "svd')", rs_method_name(src->method));
						break;
					}
					if (rs_method_needs_calib(src->method) && !gs.ready &&
					    (rc = gstats_load(c, src, l, (enum rs_input_group)g, &gs,
					    job, cause)) != 0)
						break;
					if ((rc = compute_entry(c, i, src, &gs, key, &tmp, job,
					    cause)) != 0)
						break;
					if (e->valid && e->pins == 0)
						entry_clear(c, e, 1);
					/* full rank if it fits, else cut to this rank if that
					 * fits (it serves every rank up to it) */
					if (!e->valid && !could_fit(c, tmp.bytes) &&
					    (size_t)rank < tmp.r &&
					    could_fit(c, entry_bytes(&tmp, (size_t)rank))) {
						entry_truncate(&tmp, (size_t)rank);
						c->cnt.truncated++;
					}
					if (!e->valid && could_fit(c, tmp.bytes) &&
					    make_room(c, tmp.bytes)) {
						*e = tmp;
						c->cnt.held_bytes += e->bytes;
						c->cnt.held++;
					} else {
						if ((it->temp = rs_malloc(sizeof *it->temp)) == NULL) {
							entry_clear(NULL, &tmp, 0);
							rc = rs_fail(cause, RS_ENOMEM, "compress: out of "
							    "memory");
							break;
						}
						*it->temp = tmp;
						e = it->temp;
						c->cnt.not_held++;
					}
				}
				if (e != it->temp) {
					e->pins++;
					e->stamp = ++c->clock;
					it->pinned = e;
				}
				if ((rc = cut_pair(it, e, rank, cause)) != 0)
					break;
				/* an entry not held is cut down to the rank-k rows now: the rest of
				 * A and B goes back to the allocator */
				if (it->temp != NULL && (size_t)rank < e->r) {
					float *na = rs_realloc(e->a, (size_t)rank * e->n * sizeof *na);
					if (na != NULL)
						e->a = na;
					it->p.a = e->a;
					rs_free(e->b);
					e->b = NULL;
				}
next:
				done++;
				rs_job_progress(job, done, total, "factors");
				if (rs_job_cancelled(job))
					rc = RS_ECANCEL;
			}
			gstats_clear(&gs);
		}
	}
	gstats_clear(&gs);
	if (rc != 0) {
		/* (a decomposition killed by the cancel left "NAME: cancelled": replaced) */
		if (rc == RS_ECANCEL && cause != NULL)
			rs_fail(cause, RS_ECANCEL, "compress: cancelled after %d of %d matrices",
			    done, total);
		rs_compress_set_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int
rs_compress_set_count(const struct rs_compress_set *s)
{
	return s->count;
}

const struct rs_factor_pair *
rs_compress_set_pair(const struct rs_compress_set *s, int k)
{
	return k >= 0 && k < s->count ? &s->items[k].p : NULL;
}

const struct rs_factor_pair *
rs_compress_set_find(const struct rs_compress_set *s, int i)
{
	if (i < 0 || i >= s->n || s->item_of[i] < 0)
		return NULL;
	return &s->items[s->item_of[i]].p;
}

int
rs_compress_install(const struct rs_compress_set *s, struct rs_forward *f, char **cause)
{
	int k, rc;

	rs_forward_clear_overrides(f);
	for (k = 0; k < s->count; k++) {
		const struct rs_factor_pair *fp = &s->items[k].p;
		if ((rc = rs_forward_set_factors(f, fp->index / RS_MAT_COUNT,
		    (enum rs_tkind)(fp->index % RS_MAT_COUNT), fp->rank, fp->a, fp->b,
		    fp->bias)) != 0) {
			rs_forward_clear_overrides(f);
			return rs_fail(cause, rc, "compress: cannot install the factors of matrix %d",
			    fp->index);
		}
	}
	return 0;
}

void
rs_factor_pair_rows(const struct rs_factor_pair *fp, size_t row0, size_t nrows, float *dst)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nrows, (int)fp->n, fp->rank,
	    1.0f, fp->b + row0 * (size_t)fp->rank, fp->rank, fp->a, (int)fp->n, 0.0f, dst,
	    (int)fp->n);
}

/* Upper bound of one full-rank decomposition's memory (see compress.h). */
uint64_t
rs_compress_decomp_bytes(int64_t rows, int64_t cols)
{
	uint64_t m = (uint64_t)rows, n = (uint64_t)cols, r = m < n ? m : n;

	/* weights in float32 and double (or W·L), the factors in float32 and double, the Gram
	 * with dsyevd's vectors and workspace (about 3 k² doubles), the input factor L */
	return m * n * (4 + 8) + r * (m + n) * (4 + 8) + 3 * r * r * 8 + n * n * 8;
}
