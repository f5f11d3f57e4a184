/* spectra-run.c: the parallel pool that fills the spectra store (see spectra-run.h). */
#include "config.h"

#include "spectra-run.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cache.h"
#include "calib.h"
#include "covstats.h"
#include "dist.h"
#include "dtype.h"
#include "forward.h"
#include "linalg.h"
#include "pattern.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
#endif
#ifdef HAVE_OPENBLAS_GET_NUM_THREADS
int openblas_get_num_threads(void);
#endif

#define SPEC_KIND "spectrum"
#define WEIGHT_METHOD "svals-f32-gram64-dsyevd-v1"
#define FEATURE_METHOD "fsvals-f64-chol-gram-dsyevd-v1"

/* One unit of work: a matrix (weight kind) or an input group's matrices (feature kinds). */
struct task {
	int layer;
	enum rs_input_group g;
	int nmat;
	enum rs_tkind mats[3];
	double work[3];                 /* each matrix's share of the task's multiply-adds */
	double total;                   /* their sum: the task order, largest first */
	int order;                      /* position in layer order (ties) */
};

/* One finished matrix, queued for the calling thread. */
struct result {
	int layer;
	enum rs_tkind mat;
	double work;                    /* its share of the task's multiply-adds (progress) */
	struct rs_spec *spec;           /* NULL: failed (cause in the pool), or not_cached */
	int from_cache;
	int not_cached;                 /* cached_only: neither in the cache nor computed */
	char *note;                     /* a cache problem or a regularization, or NULL */
	char *key;                      /* distributed, computed here: its cache key (rank 0
	                                   writes the entry) */
	struct result *next;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct task *tasks;
	int ntasks, next;
	struct result *head, *tail;
	int workers, finished;
	int err;                        /* first failure */
	char *cause;
	const struct rs_model *m;
	struct rs_analysis *a;
	const struct rs_spectra_opts *o;
	struct rs_job *job;
	const struct rs_dist *dist;     /* distributed (more than one rank), else NULL */
	uint8_t *recs;                  /* distributed: this rank's finished records (rec_put) */
	size_t recs_len, recs_cap;
};

/* Per-worker scratch, reused across tasks. */
struct worker {
	struct pool *p;
	struct rs_linalg_ws *ws;
	float *w;                       /* converted matrix */
	size_t wcap;
	double *sv;
	size_t svcap;
	pthread_t tid;
	int started;
};

/* Grow a buffer of `size`-byte elements to at least `count` elements. */
static int
grow(void **buf, size_t *cap, size_t count, size_t size)
{
	void *nb;

	if (count <= *cap)
		return 0;
	rs_free(*buf);
	*buf = NULL;
	*cap = 0;
	if ((nb = rs_mallocarray(count, size)) == NULL)
		return RS_ENOMEM;
	*buf = nb;
	*cap = count;
	return 0;
}

/* Grow the worker's singular-value buffer, memory a decomposition process writes into. */
static int
grow_sv(struct worker *wk, size_t count, char **cause)
{
	if (count <= wk->svcap)
		return 0;
	rs_linalg_shared_free(wk->sv, wk->svcap * sizeof(double));
	wk->svcap = 0;
	if ((wk->sv = rs_linalg_shared_alloc(count * sizeof(double), cause)) == NULL)
		return RS_ENOMEM;
	wk->svcap = count;
	return 0;
}

/* Arguments of one decomposition run through rs_linalg_cancellable(). */
struct decomp {
	struct rs_linalg_ws *ws;
	const float *w;                 /* m×n */
	size_t m, n;
	const double *l;                /* feature spectrum: the n×n factor */
	double *out;                    /* shared: the singular values */
};

/* Singular values of w (weight spectra). */
static int
decomp_svals(void *arg, char **cause)
{
	struct decomp *d = arg;

	return rs_linalg_svals_f32(d->ws, d->w, d->m, d->n, d->out, cause);
}

/* Singular values of W·L (feature spectra). */
static int
decomp_feature(void *arg, char **cause)
{
	struct decomp *d = arg;

	return rs_covstats_feature_spectrum(d->ws, d->w, d->m, d->n, d->l, d->out, cause);
}

/* Cache key text of one matrix's spectrum; with cached_only, NULL and *unknown set when the
 * tensor's content hash is not known without reading it. */
static char *
spec_key(struct pool *p, const struct rs_tensor *t, int layer, enum rs_tkind mat, int *unknown)
{
	const char *order = t->unpermute_heads > 0 ? "unpermuted" : "file";
	uint64_t h;

	*unknown = 0;
	if (!p->o->cached_only)
		h = rs_analysis_tensor_hash(p->a, p->o->cache, p->m, !p->o->recompute, t, layer,
		    mat);
	else if (!rs_analysis_tensor_known_hash(p->a, p->o->cache, p->m, t, layer, mat, &h)) {
		*unknown = 1;
		return NULL;
	}

	if (p->o->kind == RS_SPEC_WEIGHT)
		return rs_strdupf(WEIGHT_METHOD " tensor=%016" PRIx64 " dtype=%s shape=%" PRId64
		    "x%" PRId64 " rows=%s", h, rs_dtype_name(t->dtype), t->rows, t->cols, order);
	return rs_strdupf(FEATURE_METHOD " variant=%s tensor=%016" PRIx64 " dtype=%s shape=%"
	    PRId64 "x%" PRId64 " rows=%s %s", rs_spec_kind_name(p->o->kind), h,
	    rs_dtype_name(t->dtype), t->rows, t->cols, order, rs_calib_identity(p->o->calib));
}

/* Queue a finished matrix for the calling thread. */
static void
push(struct pool *p, struct result *r)
{
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Record the first failure (takes cause). */
static void
fail(struct pool *p, int rc, char *cause)
{
	pthread_mutex_lock(&p->mu);
	if (p->err == 0) {
		p->err = rc;
		p->cause = cause;
		cause = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	rs_free(cause);
}

/* Try the cache for one matrix: a record, or NULL (miss or damaged entry: *note says so). */
static struct rs_spec *
from_cache(struct pool *p, const char *key, const struct rs_tensor *t, char **note)
{
	size_t r = (size_t)(t->rows < t->cols ? t->rows : t->cols), len = 0;
	struct rs_spec *s = NULL;
	void *data = NULL;
	char *ecause = NULL;
	double lambda;
	int rc;

	if (p->o->cache == NULL || p->o->recompute)
		return NULL;
	rc = rs_cache_get(p->o->cache, SPEC_KIND, key, &data, &len, &ecause);
	if (rc == 0) {
		if (len != (r + 1) * sizeof(double)) {
			rs_free(ecause);
			ecause = rs_strdupf("cache: %s entry for %s has %zu bytes, not %zu: ignored",
			    SPEC_KIND, t->name, len, (r + 1) * sizeof(double));
		} else {
			memcpy(&lambda, data, sizeof lambda);
			s = rs_spec_new(p->o->kind, (const double *)data + 1, r, (size_t)t->rows,
			    (size_t)t->cols, lambda, &ecause);
		}
	}
	rs_free(data);
	if (s == NULL && rc != 1 && ecause != NULL)
		*note = rs_strdupf("%s: %s", t->name, ecause);
	rs_free(ecause);
	return s;
}

/* Store a spectrum in the cache (a failure to write is a note, not an error).  Distributed,
 * the key goes with the result to rank 0, which writes every rank's entries. */
static void
to_cache(struct pool *p, const char *key, struct result *r)
{
	const struct rs_spec *s = r->spec;
	char **note = &r->note;
	double *payload;
	char *ecause = NULL;

	if (p->o->cache == NULL)
		return;
	if (p->dist != NULL) {
		r->key = rs_strdup(key);
		return;
	}
	if ((payload = rs_mallocarray(s->r + 1, sizeof(double))) == NULL)
		return;
	payload[0] = s->lambda;
	memcpy(payload + 1, s->sv, s->r * sizeof(double));
	if (rs_cache_put(p->o->cache, SPEC_KIND, key, payload, (s->r + 1) * sizeof(double),
	    &ecause) != 0 && *note == NULL)
		*note = rs_strdupf("%s", ecause != NULL ? ecause : "cache write failed");
	rs_free(ecause);
	rs_free(payload);
}

/* Convert a tensor to float32 into the worker's buffer. */
static int
convert(struct worker *wk, const struct rs_tensor *t, char **cause)
{
	size_t count = (size_t)t->rows * (size_t)t->cols;

	if (grow((void **)&wk->w, &wk->wcap, count, sizeof(float)) != 0)
		return rs_fail(cause, RS_ENOMEM, "spectra: out of memory for %s (%" PRId64 "x%" PRId64
		    ")", t->name, t->rows, t->cols);
	if (rs_model_tensor_rows_f32(wk->p->m, t, 0, t->rows, wk->w) != 0)
		return rs_fail(cause, RS_EINVAL, "spectra: %s: rows cannot be converted", t->name);
	return 0;
}

/* A new result record for matrix i of task tk. */
static struct result *
result_new(const struct task *tk, int i)
{
	struct result *r = rs_calloc(1, sizeof *r);

	if (r != NULL) {
		r->layer = tk->layer;
		r->mat = tk->mats[i];
		r->work = tk->work[i];
	}
	return r;
}

/* Weight task: one matrix. */
static int
run_weight(struct worker *wk, const struct task *tk, char **cause)
{
	struct pool *p = wk->p;
	const struct rs_tensor *t = rs_model_tensor(p->m, tk->layer, tk->mats[0]);
	struct result *r;
	char *key = NULL;
	int rc, unknown = 0;

	if ((r = result_new(tk, 0)) == NULL ||
	    ((key = spec_key(p, t, tk->layer, tk->mats[0], &unknown)) == NULL && !unknown)) {
		rs_free(r);
		return rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
	}
	if (key != NULL && (r->spec = from_cache(p, key, t, &r->note)) != NULL) {
		r->from_cache = 1;
	} else if (p->o->cached_only) {
		r->not_cached = 1;
	} else {
		size_t m = (size_t)t->rows, n = (size_t)t->cols, k = m < n ? m : n;
		struct decomp d = { wk->ws, NULL, m, n, NULL, NULL };

		if ((rc = convert(wk, t, cause)) == 0 && (rc = grow_sv(wk, k, cause)) == 0) {
			d.w = wk->w;
			d.out = wk->sv;
			/* A cancel kills the decomposition (linalg.h): nothing reaches the cache. */
			rc = rs_linalg_cancellable(p->job, t->name, (double)m * (double)n * (double)k,
			    decomp_svals, &d, cause);
		}
		if (rc != 0 ||
		    (r->spec = rs_spec_new(RS_SPEC_WEIGHT, wk->sv, k, m, n, 0.0, cause)) == NULL) {
			rs_free(key);
			rs_free(r->note);
			rs_free(r);
			return rc != 0 ? rc : RS_EINVAL;
		}
		to_cache(p, key, r);
	}
	/* hashed and converted: its mapped pages need not stay resident (one task per tensor) */
	rs_model_tensor_release(p->m, t);
	rs_free(key);
	push(p, r);
	return 0;
}

/* Feature task: the selected matrices reading one (layer, input group). */
static int
run_feature(struct worker *wk, const struct task *tk, char **cause)
{
	struct pool *p = wk->p;
	struct result *res[3] = { NULL, NULL, NULL };
	char *keys[3] = { NULL, NULL, NULL };
	struct rs_calib_stats *stats = NULL;
	double *l = NULL, *gram = NULL, lambda = 0.0;
	size_t n = 0, lbytes = 0;
	int i, missing = 0, rc = 0;

	for (i = 0; i < tk->nmat; i++) {
		const struct rs_tensor *t = rs_model_tensor(p->m, tk->layer, tk->mats[i]);
		int unknown = 0;
		if ((res[i] = result_new(tk, i)) == NULL ||
		    ((keys[i] = spec_key(p, t, tk->layer, tk->mats[i], &unknown)) == NULL &&
		    !unknown)) {
			rc = rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
			goto out;
		}
		if (keys[i] != NULL &&
		    (res[i]->spec = from_cache(p, keys[i], t, &res[i]->note)) != NULL)
			res[i]->from_cache = 1;
		else if (p->o->cached_only)
			res[i]->not_cached = 1;
		else
			missing++;
	}
	if (missing > 0) {
		if ((rc = rs_calib_stats_get(p->o->calib, p->o->cache, tk->layer, tk->g, &stats,
		    cause)) != 0)
			goto out;
		n = stats->n;
		/* The factor and its λ (last element) are written by a decomposition process. */
		lbytes = (n * n + 1) * sizeof(double);
		if ((l = rs_linalg_shared_alloc(lbytes, cause)) == NULL) {
			rc = RS_ENOMEM;
			goto out;
		}
		{
			char what[96];
			if (p->o->kind == RS_SPEC_UNCENTRED) {
				if ((gram = rs_mallocarray(n * n, sizeof(double))) == NULL) {
					rc = rs_fail(cause, RS_ENOMEM, "spectra: out of memory for a Gram");
					goto out;
				}
				rs_calib_stats_gram(stats, gram);
			}
			snprintf(what, sizeof what, "spectra: L%d %s input covariance", tk->layer,
			    rs_calib_input_name(tk->g));
			rc = rs_linalg_chol_reg_cancellable(p->job, what, gram != NULL ? gram :
			    stats->cov, n, l, cause);
			rs_free(gram);
			gram = NULL;
			lambda = l[n * n];
		}
		rs_calib_stats_free(stats);
		stats = NULL;
		if (rc != 0)
			goto out;
	}
	for (i = 0; i < tk->nmat; i++) {
		const struct rs_tensor *t = rs_model_tensor(p->m, tk->layer, tk->mats[i]);
		size_t r = (size_t)(t->rows < t->cols ? t->rows : t->cols);
		if (res[i]->spec != NULL || res[i]->not_cached)
			continue;
		if (rs_job_cancelled(p->job)) {
			rc = RS_ECANCEL;
			goto out;
		}
		if ((size_t)t->cols != n) {
			rc = rs_fail(cause, RS_EFORMAT, "spectra: %s has %" PRId64 " inputs but its "
			    "statistics are %zu-wide", t->name, t->cols, n);
			goto out;
		}
		if ((rc = grow_sv(wk, r, cause)) != 0 || (rc = convert(wk, t, cause)) != 0)
			goto out;
		{
			/* W·L (m·n² multiply-adds) and its SVD, killed as a whole on cancel. */
			struct decomp d = { wk->ws, wk->w, (size_t)t->rows, n, l, wk->sv };
			double work = (double)t->rows * (double)n * ((double)n + (double)r);
			if ((rc = rs_linalg_cancellable(p->job, t->name, work, decomp_feature, &d,
			    cause)) != 0)
				goto out;
		}
		if ((res[i]->spec = rs_spec_new(p->o->kind, wk->sv, r, (size_t)t->rows, n, lambda,
		    cause)) == NULL) {
			rc = RS_EINVAL;
			goto out;
		}
		if (lambda > 0.0 && res[i]->note == NULL)
			res[i]->note = rs_strdupf("%s: %s input covariance of L%d (%s) is not "
			    "positive definite: regularized with %g x its mean diagonal", t->name,
			    rs_spec_kind_name(p->o->kind), tk->layer, rs_calib_input_name(tk->g),
			    lambda);
		to_cache(p, keys[i], res[i]);
	}
	for (i = 0; i < tk->nmat; i++) {
		push(p, res[i]);
		res[i] = NULL;
	}
out:
	for (i = 0; i < tk->nmat; i++) {
		if (res[i] != NULL) {
			if (res[i]->spec != NULL || res[i]->not_cached) {
				/* Finished before the failure: keep it. */
				push(p, res[i]);
			} else {
				rs_free(res[i]->note);
				rs_free(res[i]);
			}
		}
		rs_free(keys[i]);
	}
	rs_calib_stats_free(stats);
	rs_free(gram);
	rs_linalg_shared_free(l, lbytes);
	return rc;
}

/* Worker thread: take tasks until none are left, a failure, or a cancel. */
static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct pool *p = wk->p;
	struct task tk;
	char *cause = NULL;
	int rc;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (p->next >= p->ntasks || p->err != 0 || rs_job_cancelled(p->job)) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		tk = p->tasks[p->next++];
		pthread_mutex_unlock(&p->mu);
		rc = p->o->kind == RS_SPEC_WEIGHT ? run_weight(wk, &tk, &cause) :
		    run_feature(wk, &tk, &cause);
		if (rc != 0) {
			if (rc != RS_ECANCEL)
				fail(p, rc, cause);
			else
				rs_free(cause);
			cause = NULL;
			if (rc != RS_ECANCEL)
				break;
		}
	}
	pthread_mutex_lock(&p->mu);
	p->finished++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The matrices of an input group. */
static int
group_mats(enum rs_input_group g, enum rs_tkind *mats)
{
	switch (g) {
	case RS_IN_ATTN: mats[0] = RS_T_Q; mats[1] = RS_T_K; mats[2] = RS_T_V; return 3;
	case RS_IN_O: mats[0] = RS_T_O; return 1;
	case RS_IN_MLP: mats[0] = RS_T_GATE; mats[1] = RS_T_UP; return 2;
	default: mats[0] = RS_T_DOWN; return 1;
	}
}

/* Multiply-adds of the spectrum of one m×n matrix, k = min(m, n), b = max(m, n): its Gram
 * (b·k²/2) and the tridiagonal reduction (2k³/3), plus W·L (m·n²/2) for the feature kinds. */
static double
spectrum_work(const struct rs_tensor *t, enum rs_spec_kind kind)
{
	double m = (double)t->rows, n = (double)t->cols, k = m < n ? m : n, b = m < n ? n : m;
	double w = b * k * k / 2.0 + 2.0 * k * k * k / 3.0;

	return kind == RS_SPEC_WEIGHT ? w : w + m * n * n / 2.0;
}

/* Larger tasks first (a short one last keeps the workers busy to the end), else layer order. */
static int
task_cmp(const void *pa, const void *pb)
{
	const struct task *a = pa, *b = pb;

	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return (a->order > b->order) - (a->order < b->order);
}

/* Add a task, its matrices' work shares and total. */
static void
add_task(struct pool *p, struct task *tk, double shared)
{
	int i;

	tk->total = 0.0;
	for (i = 0; i < tk->nmat; i++) {
		tk->work[i] += shared / tk->nmat;
		tk->total += tk->work[i];
	}
	tk->order = p->ntasks;
	p->tasks[p->ntasks++] = *tk;
}

/* Build the task list, largest first; counts selected and kept matrices. */
static int
make_tasks(struct pool *p, struct rs_spectra_report *rep, char **cause)
{
	const struct rs_model_config *mc = rs_model_config(p->m);
	const struct rs_spectra_opts *o = p->o;
	enum rs_tkind mats[3];
	int l, g, i, k, nm;
	double n = 0.0;
	char name[64];

	if ((p->tasks = rs_calloc((size_t)mc->n_layers * RS_MAT_COUNT, sizeof *p->tasks)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
	for (l = 0; l < mc->n_layers; l++)
		for (g = 0; g < RS_IN_COUNT; g++) {
			struct task tk;
			memset(&tk, 0, sizeof tk);
			tk.layer = l;
			tk.g = (enum rs_input_group)g;
			nm = group_mats(tk.g, mats);
			for (i = 0; i < nm; i++) {
				const struct rs_tensor *t = rs_model_tensor(p->m, l, mats[i]);
				snprintf(name, sizeof name, "L%d.%s", l, rs_tkind_name(mats[i]));
				if (t == NULL || !t->present ||
				    (o->pattern != NULL && !rs_pattern_match(o->pattern, name)))
					continue;
				rep->selected++;
				if (!o->recompute && rs_analysis_get(p->a, l, mats[i], o->kind) != NULL) {
					rep->kept++;
					continue;
				}
				tk.work[tk.nmat] = spectrum_work(t, o->kind);
				tk.mats[tk.nmat++] = mats[i];
				n = (double)t->cols;
			}
			if (tk.nmat == 0)
				continue;
			if (o->kind != RS_SPEC_WEIGHT) {
				/* the input's Cholesky factor (n³/6) serves the group */
				add_task(p, &tk, n * n * n / 6.0);
				continue;
			}
			for (k = 0; k < tk.nmat; k++) {
				struct task one = tk;
				one.nmat = 1;
				one.mats[0] = tk.mats[k];
				one.work[0] = tk.work[k];
				add_task(p, &one, 0.0);
			}
		}
	qsort(p->tasks, (size_t)p->ntasks, sizeof *p->tasks, task_cmp);
	return 0;
}

/* A finished matrix as the ranks exchange it: this header, the key, the note, then r singular
 * values (native byte order: the ranks of a job run one build). */
struct rec_head {
	int32_t layer, mat, from_cache, pad;
	uint64_t m, n, r;
	double lambda;
	uint32_t key_len, note_len;
};

/* Append a finished matrix to this rank's records. */
static int
rec_put(struct pool *p, const struct result *r, char **cause)
{
	struct rec_head h;
	size_t need;

	memset(&h, 0, sizeof h);
	h.layer = r->layer;
	h.mat = (int32_t)r->mat;
	h.from_cache = r->from_cache;
	h.m = r->spec->m;
	h.n = r->spec->n;
	h.r = r->spec->r;
	h.lambda = r->spec->lambda;
	h.key_len = r->key != NULL ? (uint32_t)strlen(r->key) : 0;
	h.note_len = r->note != NULL ? (uint32_t)strlen(r->note) : 0;
	need = sizeof h + h.key_len + h.note_len + h.r * sizeof(double);
	if (p->recs_len + need > p->recs_cap) {
		size_t cap = (p->recs_len + need) * 2;
		uint8_t *grown = rs_realloc(p->recs, cap);
		if (grown == NULL)
			return rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
		p->recs = grown;
		p->recs_cap = cap;
	}
	memcpy(p->recs + p->recs_len, &h, sizeof h);
	p->recs_len += sizeof h;
	memcpy(p->recs + p->recs_len, r->key, h.key_len);
	p->recs_len += h.key_len;
	memcpy(p->recs + p->recs_len, r->note, h.note_len);
	p->recs_len += h.note_len;
	memcpy(p->recs + p->recs_len, r->spec->sv, h.r * sizeof(double));
	p->recs_len += h.r * sizeof(double);
	return 0;
}

/* The tasks of this rank: every task, largest first, goes to the least loaded rank so far (the
 * lowest on ties): the same assignment on every rank. */
static int
assign_tasks(struct pool *p, char **cause)
{
	const struct rs_dist *d = p->dist;
	double *load;
	int i, r, best, kept = 0;

	if ((load = rs_calloc((size_t)d->size, sizeof *load)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
	for (i = 0; i < p->ntasks; i++) {
		for (best = 0, r = 1; r < d->size; r++)
			if (load[r] < load[best])
				best = r;
		load[best] += p->tasks[i].total;
		if (best == d->rank)
			p->tasks[kept++] = p->tasks[i];
	}
	p->ntasks = kept;
	rs_free(load);
	return 0;
}

/* Distributed: every rank's status and records to every rank; the others' records go into the
 * store (and, on rank 0, the computed ones into the cache, their notes to note()).  Returns the
 * first failing rank's status (this rank's own cause, or one naming the rank). */
static int
exchange(struct pool *p, int rc, struct rs_spectra_report *rep, char **cause)
{
	const struct rs_dist *d = p->dist;
	uint8_t *all = NULL, *at;
	size_t all_len = 0, *lens = NULL, mine_len = sizeof(int32_t) + p->recs_len;
	uint8_t *mine;
	int32_t st = rc;
	char *gcause = NULL;
	int r, first_failed = -1;

	if ((mine = rs_malloc(mine_len)) == NULL ||
	    (lens = rs_calloc((size_t)d->size, sizeof *lens)) == NULL)
		/* the others would wait for this rank's block */
		d->abort(d->ctx, "spectra: out of memory");
	memcpy(mine, &st, sizeof st);
	if (p->recs_len > 0)
		memcpy(mine + sizeof st, p->recs, p->recs_len);
	if (rs_dist_allgather(d, mine, mine_len, (void **)&all, &all_len, lens, &gcause) != 0)
		d->abort(d->ctx, gcause != NULL ? gcause : "spectra: gather failed");
	rs_free(mine);
	for (at = all, r = 0; r < d->size; at += lens[r], r++) {
		uint8_t *q = at + sizeof st, *end = at + lens[r];
		memcpy(&st, at, sizeof st);
		if (st != 0 && first_failed < 0)
			first_failed = r;
		if (r == d->rank)
			continue;
		while (q + sizeof(struct rec_head) <= end) {
			struct rec_head h;
			struct rs_spec *sp;
			char *key = NULL, *note = NULL;
			memcpy(&h, q, sizeof h);
			q += sizeof h;
			if (h.key_len > 0)
				key = rs_strndup((const char *)q, h.key_len);
			q += h.key_len;
			if (h.note_len > 0)
				note = rs_strndup((const char *)q, h.note_len);
			q += h.note_len;
			sp = rs_spec_new(p->o->kind, (const double *)(const void *)q, (size_t)h.r,
			    (size_t)h.m, (size_t)h.n, h.lambda, NULL);
			q += h.r * sizeof(double);
			if (note != NULL && p->o->note != NULL)
				p->o->note(p->o->ud, note);
			if (sp != NULL) {
				*(h.from_cache ? &rep->from_cache : &rep->computed) += 1;
				if (h.lambda > 0.0)
					rep->regularized++;
				if (d->rank == 0 && key != NULL) {
					struct result res;
					struct pool serial = *p;
					memset(&res, 0, sizeof res);
					res.spec = sp;
					serial.dist = NULL;
					to_cache(&serial, key, &res);
					if (res.note != NULL && p->o->note != NULL)
						p->o->note(p->o->ud, res.note);
					rs_free(res.note);
				}
				if (rs_analysis_put(p->a, h.layer, (enum rs_tkind)h.mat, sp, NULL) != 0 &&
				    rc == 0)
					rc = rs_fail(cause, RS_ENOMEM, "spectra: a record from rank %d "
					    "does not fit the store", r);
			} else if (rc == 0) {
				rc = rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
			}
			rs_free(key);
			rs_free(note);
		}
	}
	rs_free(all);
	rs_free(lens);
	rs_free(gcause);
	if (rc == 0 && first_failed >= 0)
		rc = rs_fail(cause, RS_EIO, "spectra: rank %d failed (its error is above)",
		    first_failed);
	return rc;
}

/* Move one finished matrix into the store (calling thread). */
static int
take_result(struct pool *p, struct result *r, struct rs_spectra_report *rep, char **cause)
{
	struct rs_hash_cost hc;
	int rc = 0;

	if (r->note != NULL && p->o->note != NULL)
		p->o->note(p->o->ud, r->note);
	if (rs_analysis_hash_cost_take(p->a, r->layer, r->mat, &hc)) {
		if (hc.full)
			rep->hashed_full++;
		else
			rep->quick_keyed++;
		rep->hashed_bytes += hc.bytes;
	}
	if (r->not_cached)
		rep->not_cached++;
	if (r->spec != NULL) {
		if (r->from_cache)
			rep->from_cache++;
		else
			rep->computed++;
		if (r->spec->lambda > 0.0)
			rep->regularized++;
		if (p->dist != NULL && p->dist->rank == 0 && r->key != NULL) {
			/* rank 0 writes the job's entries, its own among them */
			struct pool serial = *p;
			serial.dist = NULL;
			to_cache(&serial, r->key, r);
		}
		if (p->dist != NULL && (rc = rec_put(p, r, cause)) != 0)
			rs_spec_free(r->spec);
		else
			rc = rs_analysis_put(p->a, r->layer, r->mat, r->spec, cause);
	}
	rs_free(r->note);
	rs_free(r->key);
	rs_free(r);
	return rc;
}

/* Progress in matrices weighted by their work (spectra-run.h): the computed share of the work
 * that is not served by the cache, exactly todo once every matrix is in. */
static double
progress_done(int todo, int done, double work_total, double work_done, double work_cached)
{
	double left = work_total - work_cached, f;

	if (done >= todo)
		return todo;
	f = left > 0.0 ? work_done / left : 0.0;
	return todo * (f < 1.0 ? f : 1.0);
}

/* Fill the store with the selected spectra (see spectra-run.h). */
int
rs_spectra_run(struct rs_analysis *a, const struct rs_model *m,
    const struct rs_spectra_opts *o, struct rs_spectra_report *rep, struct rs_job *job,
    char **cause)
{
	struct pool p;
	struct worker *wks = NULL;
	struct timespec t0, t1;
	struct result *r;
	double work_total = 0.0, work_done = 0.0, work_cached = 0.0;
	int i, rc = 0, blas_saved = 0, todo, done = 0;

	memset(rep, 0, sizeof *rep);
	memset(&p, 0, sizeof p);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (o->kind != RS_SPEC_WEIGHT && (o->calib == NULL || !rs_calib_complete(o->calib)))
		return rs_fail(cause, RS_EINVAL, "spectra: feature spectra need calibration "
		    "statistics: run 'calibrate FILE' first");
	if (rs_analysis_n_layers(a) != rs_model_config(m)->n_layers)
		return rs_fail(cause, RS_EINVAL, "spectra: the store was made for another model");
	p.m = m;
	p.a = a;
	p.o = o;
	p.job = job;
	p.dist = rs_dist_active(o->dist) ? o->dist : NULL;
	if ((rc = make_tasks(&p, rep, cause)) != 0)
		goto out;
	if (o->cache != NULL && !o->recompute)
		for (i = 0; i < p.ntasks; i++) {
			int k;
			for (k = 0; k < p.tasks[i].nmat; k++)
				rs_tensor_quick_key_prefetch(rs_model_tensor(m, p.tasks[i].layer,
				    p.tasks[i].mats[k]));
		}
	todo = rep->selected - rep->kept;
	if (p.dist != NULL && p.ntasks > 0) {
		rs_dist_stepf(p.dist, "spectra (%s)", rs_spec_kind_name(o->kind));
		/* every rank runs make_tasks on the same store: the same list to share */
		if ((rc = assign_tasks(&p, cause)) != 0)
			goto exchange;
		if (p.ntasks == 0)
			goto exchange;
	} else if (p.ntasks == 0) {
		goto out;
	}
	for (i = 0; i < p.ntasks; i++)
		work_total += p.tasks[i].total;
	p.workers = o->threads < 1 ? 1 : o->threads;
	if (p.workers > p.ntasks)
		p.workers = p.ntasks;
	rep->workers = p.workers;
	if ((wks = rs_calloc((size_t)p.workers, sizeof *wks)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
		goto out;
	}
	for (i = 0; i < p.workers; i++) {
		wks[i].p = &p;
		if ((wks[i].ws = rs_linalg_ws_new()) == NULL) {
			rc = rs_fail(cause, RS_ENOMEM, "spectra: out of memory");
			goto out;
		}
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
#ifdef HAVE_OPENBLAS_GET_NUM_THREADS
	blas_saved = openblas_get_num_threads();
#endif
	/* One level of parallelism: workers, or BLAS threads, never both. */
	rs_forward_set_threads(p.workers > 1 ? 1 : (o->threads < 1 ? 1 : o->threads));
	for (i = 0; i < p.workers; i++) {
		if (pthread_create(&wks[i].tid, NULL, worker_main, &wks[i]) != 0) {
			pthread_mutex_lock(&p.mu);
			if (p.err == 0) {
				p.err = RS_ENOMEM;
				p.cause = rs_strdupf("spectra: cannot start worker thread %d", i);
			}
			p.finished += p.workers - i;
			pthread_mutex_unlock(&p.mu);
			break;
		}
		wks[i].started = 1;
	}
	pthread_mutex_lock(&p.mu);
	for (;;) {
		while (p.head == NULL && p.finished < p.workers)
			pthread_cond_wait(&p.cv, &p.mu);
		if (p.head == NULL)
			break;
		r = p.head;
		p.head = NULL;
		p.tail = NULL;
		pthread_mutex_unlock(&p.mu);
		while (r != NULL) {
			struct result *next = r->next;
			int trc;
			char *tcause = NULL;
			if (r->spec != NULL || r->not_cached) {
				done++;
				*(r->spec == NULL || r->from_cache ? &work_cached : &work_done) +=
				    r->work;
			}
			if ((trc = take_result(&p, r, rep, &tcause)) != 0)
				fail(&p, trc, tcause);
			else
				rs_free(tcause);
			r = next;
		}
		rs_job_progress(job, progress_done(todo, done, work_total, work_done, work_cached),
		    todo, "spectra");
		pthread_mutex_lock(&p.mu);
	}
	pthread_mutex_unlock(&p.mu);
	for (i = 0; i < p.workers; i++)
		if (wks[i].started)
			pthread_join(wks[i].tid, NULL);
	rs_forward_set_threads(blas_saved > 0 ? blas_saved : o->threads);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	if (p.err != 0) {
		rc = p.err;
		if (cause != NULL) {
			rs_free(*cause);
			*cause = p.cause;
		} else {
			rs_free(p.cause);
		}
		p.cause = NULL;
	} else if (rs_job_cancelled(job)) {
		rc = rs_fail(cause, RS_ECANCEL, "spectra: cancelled after %d of %d matrices (kept)",
		    rep->computed + rep->from_cache, todo);
	}
exchange:
	if (p.dist != NULL)
		rc = exchange(&p, rc, rep, cause);
out:
	for (i = 0; wks != NULL && i < p.workers; i++) {
		rs_linalg_ws_free(wks[i].ws);
		rs_free(wks[i].w);
		rs_linalg_shared_free(wks[i].sv, wks[i].svcap * sizeof(double));
	}
	rs_free(wks);
	rs_free(p.tasks);
	rs_free(p.recs);
	rs_free(p.cause);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rep->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	return rc;
}

/* The largest task's memory (see spectra-run.h). */
uint64_t
rs_spectra_task_bytes(const struct rs_model *m, enum rs_spec_kind kind)
{
	const struct rs_model_config *mc = rs_model_config(m);
	uint64_t most = 0, b, r, c, k;
	int l, t;

	for (l = 0; l < mc->n_layers; l++)
		for (t = 0; t < RS_MAT_COUNT; t++) {
			const struct rs_tensor *w = rs_model_tensor(m, l, (enum rs_tkind)t);
			r = (uint64_t)w->rows;
			c = (uint64_t)w->cols;
			k = r < c ? r : c;
			b = r * c * sizeof(float) + k * sizeof(double) +
			    rs_linalg_svals_bytes((size_t)r, (size_t)c);
			if (kind != RS_SPEC_WEIGHT)
				/* statistics, factor (and the Gram for the uncentred kind), W·L */
				b += (kind == RS_SPEC_UNCENTRED ? 3 : 2) * c * c * sizeof(double) +
				    r * c * sizeof(double);
			if (b > most)
				most = b;
		}
	return most;
}
