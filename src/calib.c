/* calib.c: the calibration sweep, its memory plan and the statistics store (see calib.h). */
#include "config.h"

#include "calib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "atomic.h"
#include "cache.h"
#include "covstats.h"
#include "dist.h"
#include "linalg.h"
#include "meminfo.h"
#include "size.h"

#define CALIB_KIND "calib"
#define CALIB_MAGIC "RSCALIB1"
#define CALIB_HEADER 48u        /* magic 8, version 4, elem 4, n 8, groups 8, tokens 8, 8 spare */
#define CALIB_VERSION 1u
#define CALIB_F64_MAX 2048      /* covariances up to this width are stored in double */
#define CALIB_HOLD_MAX (256ull << 20)   /* hold finished statistics up to this size */
#define CALIB_ROWS 512          /* rows per forward call, as ppl uses */
#define CALIB_SPILL_MAGIC "RSCSWEEP"
#define CALIB_SPILL_HEADER 64u  /* magic 8, spare 8, identity 8, tokens 8, row bytes 8,
                                   per slot: boundary 4 and complete 4; 8 spare */
#define CALIB_CHUNK 512         /* covstats.c's batch buffer (tokens) */

struct rs_calib {
	const struct rs_model *m;
	struct rs_calib_params p;
	struct rs_calib_plan plan;
	char *ident;
	int n_layers;
	unsigned char *done;            /* (n_layers) statistics exist */
	uint8_t **held;                 /* (n_layers, RS_IN_COUNT) encoded entries or NULL */
	size_t *held_len;
};

/* Half of the physical memory, at most what is available now (meminfo.h). */
uint64_t
rs_calib_default_memory(void)
{
	uint64_t phys = 0, avail = rs_mem_available(&phys);

	return phys / 2 < avail ? phys / 2 : avail;
}

/* The input group a decoder matrix reads. */
enum rs_input_group
rs_calib_input_of(enum rs_tkind mat)
{
	switch (mat) {
	case RS_T_Q: case RS_T_K: case RS_T_V: return RS_IN_ATTN;
	case RS_T_O: return RS_IN_O;
	case RS_T_GATE: case RS_T_UP: return RS_IN_MLP;
	default: return RS_IN_DOWN;
	}
}

/* Short name of an input group. */
const char *
rs_calib_input_name(enum rs_input_group g)
{
	static const char *const names[RS_IN_COUNT] = { "attn", "o", "mlp", "down" };

	return (unsigned)g < RS_IN_COUNT ? names[g] : "?";
}

/* Width of an input group: of the layer's tensors (a pruned export's layers differ), or the
 * config's (the widest) for layer < 0. */
size_t
rs_calib_input_dim(const struct rs_model *m, int layer, enum rs_input_group g)
{
	const struct rs_model_config *c = rs_model_config(m);
	static const enum rs_tkind reader[RS_IN_COUNT] = { RS_T_Q, RS_T_O, RS_T_GATE, RS_T_DOWN };

	if (layer >= 0 && layer < c->n_layers && (unsigned)g < RS_IN_COUNT)
		return (size_t)rs_model_tensor(m, layer, reader[g])->cols;
	switch (g) {
	case RS_IN_ATTN: case RS_IN_MLP: return (size_t)c->dim;
	case RS_IN_O: return (size_t)c->n_heads * (size_t)c->head_dim;
	default: return (size_t)c->ffn_dim;
	}
}

/* Bytes of one covariance element in the cache entry for width n. */
static size_t
elem_size(size_t n)
{
	return n <= CALIB_F64_MAX ? sizeof(double) : sizeof(float);
}

/* Encoded entry size for width n and G groups (saturating; callers bound n first). */
static uint64_t
entry_bytes(uint64_t n, uint64_t g)
{
	return CALIB_HEADER + (g + 1) * n * 8 + n * (n + 1) / 2 * elem_size((size_t)n);
}

/* Accumulator bytes of one input of width n (covstats.h's figures plus our group sums). */
static uint64_t
accum_bytes(uint64_t n, uint64_t g)
{
	return n * n * (8 + 4 + (g > 1 ? 8 : 0)) + CALIB_CHUNK * n * 4 + 4 * n * 8 +
	    2 * g * n * 8 + g;
}

/* Rough bytes of the forward pass state for `rows` rows and windows of max_tok. */
static uint64_t
forward_bytes(const struct rs_model *m, uint64_t rows, uint64_t max_tok)
{
	const struct rs_model_config *c = rs_model_config(m);
	uint64_t qd = (uint64_t)c->n_heads * c->head_dim, kvd = (uint64_t)c->n_kv_heads * c->head_dim;
	uint64_t wmax = (uint64_t)c->ffn_dim * c->dim;

	if (qd * c->dim > wmax)
		wmax = qd * c->dim;
	return rows * (4 * (uint64_t)c->dim + 2 * qd + 2 * kvd + 2 * (uint64_t)c->ffn_dim) * 4 +
	    max_tok * max_tok * 4 + wmax * 4;
}

/* Hash of every tensor's content hash, in the model's canonical order: through the tensors'
 * quick keys (cache.h), so a known model is identified without reading its weights. */
static uint64_t
weights_hash(const struct rs_model *m, struct rs_cache *cache)
{
	struct rs_hash_cost cost;
	uint64_t h = 0, th;
	int i, n = rs_model_n_tensors(m);

	for (i = 0; i < n; i++) {
		const struct rs_tensor *t = rs_model_tensor_at(m, i);
		if (t == NULL || !t->present)
			continue;
		th = rs_tensor_content_hash(cache, m, t, 1, &cost);
		h = rs_hash64(&th, sizeof th, h);
	}
	return h;
}

/* The memory plan (see calib.h): pure arithmetic on the model's shape. */
int
rs_calib_estimate(const struct rs_model *m, int ctx, int64_t tokens, int groups,
    uint64_t memory, struct rs_calib_plan *pl, char **cause)
{
	const struct rs_model_config *mc = rs_model_config(m);
	uint64_t layer_entries = 0, rows, need, row_bytes = (uint64_t)mc->dim * sizeof(float);
	int g;

	memset(pl, 0, sizeof *pl);
	if (ctx < 2 || groups < 1 || tokens < 1)
		return rs_fail(cause, RS_EINVAL, "calibrate: bad window %d, groups %d or token "
		    "count %" PRId64, ctx, groups, tokens);
	if (tokens / ctx < 1)
		return rs_fail(cause, RS_EINVAL, "calibrate: %" PRId64 " tokens are fewer than one "
		    "window of %d", tokens, ctx);
	if (tokens / ctx > INT32_MAX / 2)
		return rs_fail(cause, RS_EINVAL, "calibrate: too many windows");
	pl->windows = (int)(tokens / ctx);
	pl->tokens = (int64_t)pl->windows * ctx;
	pl->groups = groups;
	pl->budget = memory;
	pl->passes = 1;
	if (groups > pl->windows)
		return rs_fail(cause, RS_EINVAL, "calibrate: %d groups but only %d windows of %d "
		    "tokens", groups, pl->windows, ctx);
	for (g = 0; g < RS_IN_COUNT; g++) {
		uint64_t n = rs_calib_input_dim(m, -1, (enum rs_input_group)g), e;
		pl->layer_bytes += accum_bytes(n, (uint64_t)groups);
		e = entry_bytes(n, (uint64_t)groups);
		pl->stats_bytes += e * (uint64_t)mc->n_layers;
		layer_entries += e;
	}
	pl->hold = pl->stats_bytes <= CALIB_HOLD_MAX && pl->stats_bytes <= memory / 4;
	pl->batch_windows = CALIB_ROWS / ctx > 1 ? CALIB_ROWS / ctx : 1;
	if (pl->batch_windows > pl->windows)
		pl->batch_windows = pl->windows;
	rows = (uint64_t)pl->batch_windows * (uint64_t)ctx;
	pl->forward_bytes = forward_bytes(m, rows, (uint64_t)ctx);
	/* held, the entries are counted once; else one layer's are written while the next runs */
	pl->fixed_bytes = pl->forward_bytes + (pl->hold ? pl->stats_bytes : layer_entries);
	/* The hidden states of every token at one boundary, updated in place, if they fit
	 * beside one layer's accumulators; else two boundaries on disk and one batch here. */
	pl->hidden_bytes = (uint64_t)pl->tokens * row_bytes;
	need = pl->fixed_bytes + pl->layer_bytes + pl->hidden_bytes;
	if (need > memory) {
		pl->spill = 1;
		pl->spill_bytes = CALIB_SPILL_HEADER + 2 * pl->hidden_bytes;
		pl->hidden_bytes = rows * row_bytes;
		need = pl->fixed_bytes + pl->layer_bytes + pl->hidden_bytes;
	}
	pl->need_bytes = need;
	if (need > memory)
		return rs_fail(cause, RS_EINVAL, "calibrate: one layer's accumulators need %" PRIu64
		    " bytes (plus %" PRIu64 " for the forward pass and hidden states), over the "
		    "budget of %" PRIu64 ": --memory %" PRIu64 "MiB would fit", pl->layer_bytes,
		    need - pl->layer_bytes, memory, (need + (1u << 20) - 1) >> 20);
	return 0;
}

/* Plan the calibration and fix its identity. */
struct rs_calib *
rs_calib_new(const struct rs_model *m, uint64_t text_hash, size_t n_ids,
    const struct rs_calib_params *p, char **cause)
{
	const struct rs_model_config *mc = rs_model_config(m);
	struct rs_calib *c;
	int64_t usable;

	usable = (int64_t)n_ids < p->max_tokens ? (int64_t)n_ids : p->max_tokens;
	if (p->max_tokens < 1)
		usable = 0;
	if ((c = rs_calloc(1, sizeof *c)) == NULL)
		goto nomem;
	c->m = m;
	c->p = *p;
	c->n_layers = mc->n_layers;
	if (rs_calib_estimate(m, p->ctx, usable, p->groups, p->memory, &c->plan, cause) != 0) {
		rs_calib_free(c);
		return NULL;
	}
	c->ident = rs_strdupf("calib-v2 model=%016" PRIx64 " weights=%016" PRIx64 " text=%016"
	    PRIx64 " ctx=%d tokens=%" PRId64 " windows=%d groups=%d", rs_model_identity(m),
	    weights_hash(m, p->cache), text_hash, p->ctx, c->plan.tokens, c->plan.windows,
	    p->groups);
	c->done = rs_calloc((size_t)c->n_layers, 1);
	c->held = rs_calloc((size_t)c->n_layers * RS_IN_COUNT, sizeof *c->held);
	c->held_len = rs_calloc((size_t)c->n_layers * RS_IN_COUNT, sizeof *c->held_len);
	if (c->ident == NULL || c->done == NULL || c->held == NULL || c->held_len == NULL) {
		rs_calib_free(c);
		goto nomem;
	}
	return c;
nomem:
	rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
	return NULL;
}

/* Free a calibration and its held statistics. */
void
rs_calib_free(struct rs_calib *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; c->held != NULL && i < (size_t)c->n_layers * RS_IN_COUNT; i++)
		rs_free(c->held[i]);
	rs_free(c->held);
	rs_free(c->held_len);
	rs_free(c->done);
	rs_free(c->ident);
	rs_free(c);
}

/* The plan. */
const struct rs_calib_plan *
rs_calib_get_plan(const struct rs_calib *c)
{
	return &c->plan;
}

/* The identity key text. */
const char *
rs_calib_identity(const struct rs_calib *c)
{
	return c->ident;
}

/* True once every layer is done. */
int
rs_calib_complete(const struct rs_calib *c)
{
	int l;

	for (l = 0; l < c->n_layers; l++)
		if (!c->done[l])
			return 0;
	return 1;
}

/* Cache key text of one (layer, input). */
static char *
entry_key(const struct rs_calib *c, int layer, int g)
{
	return rs_strdupf("%s layer=%d input=%s", c->ident, layer,
	    rs_calib_input_name((enum rs_input_group)g));
}

/* Free decoded statistics. */
void
rs_calib_stats_free(struct rs_calib_stats *s)
{
	if (s == NULL)
		return;
	rs_free(s->mean);
	rs_free(s->gmeans);
	rs_free(s->cov);
	rs_free(s);
}

/* Little helpers for the entry header (native byte order: entries are machine-local). */
static void
put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Encode finished statistics into a new entry. */
static int
encode(size_t n, size_t groups, uint64_t tokens, const double *gmeans, const double *mean,
    const double *cov, uint8_t **out, size_t *len, char **cause)
{
	size_t es = elem_size(n), i, j, k = 0;
	uint64_t total = entry_bytes(n, groups);
	uint8_t *buf, *p;

	if ((buf = rs_malloc((size_t)total)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "calibrate: out of memory for a %zu-wide entry", n);
	memcpy(buf, CALIB_MAGIC, 8);
	put_u32(buf + 8, CALIB_VERSION);
	put_u32(buf + 12, (uint32_t)es);
	put_u64(buf + 16, n);
	put_u64(buf + 24, groups);
	put_u64(buf + 32, tokens);
	put_u64(buf + 40, 0);
	p = buf + CALIB_HEADER;
	memcpy(p, gmeans, groups * n * sizeof(double));
	p += groups * n * sizeof(double);
	memcpy(p, mean, n * sizeof(double));
	p += n * sizeof(double);
	/* the upper triangle row by row (an element-wise copy took 0.2 s at n = 5632) */
	for (i = 0; i < n; k += n - i, i++) {
		if (es == sizeof(double)) {
			memcpy(p + k * 8, &cov[i * n + i], (n - i) * sizeof(double));
		} else {
			for (j = i; j < n; j++) {
				float f = (float)cov[i * n + j];
				memcpy(p + (k + j - i) * 4, &f, 4);
			}
		}
	}
	*out = buf;
	*len = (size_t)total;
	return 0;
}

/* Check an entry's header (its first CALIB_HEADER bytes) against the expected shape and the
 * entry's length len. */
static int
check_header(const uint8_t *head, size_t len, size_t want_n, size_t want_g, char **cause)
{
	uint64_t n, g, es;

	if (len < CALIB_HEADER || memcmp(head, CALIB_MAGIC, 8) != 0 ||
	    get_u32(head + 8) != CALIB_VERSION)
		return rs_fail(cause, RS_EFORMAT, "calibration entry: bad header");
	es = get_u32(head + 12);
	n = get_u64(head + 16);
	g = get_u64(head + 24);
	if (n != want_n || g != want_g || es != elem_size((size_t)n) ||
	    entry_bytes(n, g) != len)
		return rs_fail(cause, RS_EFORMAT, "calibration entry: %" PRIu64 "-wide, %" PRIu64
		    " groups, %zu bytes: not the expected %zu-wide, %zu groups", n, g, len,
		    want_n, want_g);
	return 0;
}

/* Decode an entry (checking every size against its length) into new statistics. */
static int
decode(const uint8_t *buf, size_t len, size_t want_n, size_t want_g,
    struct rs_calib_stats **out, char **cause)
{
	struct rs_calib_stats *s;
	uint64_t n, g, es;
	const uint8_t *p;
	size_t i, j, k = 0;
	int rc;

	*out = NULL;
	if ((rc = check_header(buf, len, want_n, want_g, cause)) != 0)
		return rc;
	es = get_u32(buf + 12);
	n = get_u64(buf + 16);
	g = get_u64(buf + 24);
	if ((s = rs_calloc(1, sizeof *s)) == NULL ||
	    (s->mean = rs_mallocarray(n, sizeof(double))) == NULL ||
	    (s->gmeans = rs_mallocarray(g * n, sizeof(double))) == NULL ||
	    (s->cov = rs_mallocarray(n * n, sizeof(double))) == NULL) {
		rs_calib_stats_free(s);
		return rs_fail(cause, RS_ENOMEM, "calibration entry: out of memory (%" PRIu64
		    "-wide)", n);
	}
	s->n = n;
	s->groups = g;
	s->tokens = get_u64(buf + 32);
	p = buf + CALIB_HEADER;
	memcpy(s->gmeans, p, g * n * sizeof(double));
	p += g * n * sizeof(double);
	memcpy(s->mean, p, n * sizeof(double));
	p += n * sizeof(double);
	for (i = 0; i < n; i++)
		for (j = i; j < n; j++, k++) {
			double v;
			if (es == sizeof(double)) {
				memcpy(&v, p + k * 8, 8);
			} else {
				float f;
				memcpy(&f, p + k * 4, 4);
				v = f;
			}
			s->cov[i * n + j] = v;
		}
	rs_linalg_mirror_upper(s->cov, (size_t)n);
	*out = s;
	return 0;
}

/* Decoded statistics of one (layer, input) from memory or the cache. */
int
rs_calib_stats_get(const struct rs_calib *c, struct rs_cache *cache, int layer,
    enum rs_input_group g, struct rs_calib_stats **out, char **cause)
{
	size_t n, len = 0, i;
	void *data = NULL;
	char *key, *why = NULL, *cut;
	int rc;

	*out = NULL;
	if (layer < 0 || layer >= c->n_layers || (unsigned)g >= RS_IN_COUNT)
		return rs_fail(cause, RS_EINVAL, "calibration: no layer %d input %d", layer, (int)g);
	if (!c->done[layer])
		return rs_fail(cause, RS_EINVAL, "calibration: layer %d has no statistics yet "
		    "(calibration incomplete)", layer);
	n = rs_calib_input_dim(c->m, layer, g);
	i = (size_t)layer * RS_IN_COUNT + g;
	if (c->held[i] != NULL)
		return decode(c->held[i], c->held_len[i], n, (size_t)c->p.groups, out, cause);
	if (cache == NULL)
		return rs_fail(cause, RS_EIO, "calibration: statistics of L%d %s are not held and "
		    "there is no cache", layer, rs_calib_input_name(g));
	if ((key = entry_key(c, layer, g)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "calibration: out of memory");
	rc = rs_cache_get(cache, CALIB_KIND, key, &data, &len, &why);
	rs_free(key);
	if (rc == 1)
		return rs_fail(cause, RS_EIO, "calibration: statistics of L%d %s have gone from the "
		    "cache %s: run calibrate again", layer, rs_calib_input_name(g),
		    rs_cache_dir(cache));
	if (rc != 0) {
		/* calibrate checked only the entry's header: its checksum is first verified here,
		 * and what recomputes the entry is calibrate, not this lookup */
		if (why != NULL && (cut = strstr(why, "; removed, recomputing")) != NULL)
			*cut = '\0';
		rc = rs_fail(cause, rc, "calibration: statistics of L%d %s: %s; removed: run "
		    "calibrate again to recompute them", layer, rs_calib_input_name(g),
		    why != NULL ? why : "unreadable");
		rs_free(why);
		return rc;
	}
	rc = decode(data, len, n, (size_t)c->p.groups, out, cause);
	rs_free(data);
	return rc;
}

/* The pooled Gram C + (1/G) Σ μ_g μ_gᵀ. */
void
rs_calib_stats_gram(const struct rs_calib_stats *s, double *g)
{
	size_t n = s->n, i, j, k;
	double w = 1.0 / (double)s->groups;

	memcpy(g, s->cov, n * n * sizeof(double));
	for (k = 0; k < s->groups; k++) {
		const double *mu = s->gmeans + k * n;
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				g[i * n + j] += w * mu[i] * mu[j];
	}
}

/* One input's accumulators. */
struct accum {
	struct rs_covstats *cs;
	double *gsum;           /* (G, n) per-group sums of x */
	int open;               /* the open group, -1 none */
};

/* The state of the sweep, seen by the forward hook. */
struct sweep {
	struct rs_calib *c;
	int layer;              /* the layer whose inputs are accumulated, -1 none */
	struct accum acc[RS_IN_COUNT];
	int win0, n_tok;        /* the current call's first window and window length */
	char *cause;
};

/* The group of window w. */
static int
group_of(const struct rs_calib *c, int w)
{
	return (int)((int64_t)w * c->p.groups / c->plan.windows);
}

/* Forward hook: accumulate the inputs of the layer being calibrated. */
static int
sweep_hook(void *ud, int layer, enum rs_input_group g, const float *x, int n_rows, int width)
{
	struct sweep *sw = ud;
	struct accum *a;
	int s, n_seq = n_rows / sw->n_tok, t, rc;
	size_t i, n = (size_t)width;

	if (layer != sw->layer)
		return 0;
	a = &sw->acc[g];
	for (s = 0; s < n_seq; s++) {
		int grp = group_of(sw->c, sw->win0 + s);
		const float *xs = x + (size_t)s * sw->n_tok * n;
		if (grp != a->open) {
			if ((a->open >= 0 && (rc = rs_covstats_end_group(a->cs, &sw->cause)) != 0) ||
			    (rc = rs_covstats_begin_group(a->cs, (size_t)grp, &sw->cause)) != 0)
				return rc;
			a->open = grp;
		}
		if ((rc = rs_covstats_add(a->cs, xs, (size_t)sw->n_tok, &sw->cause)) != 0)
			return rc;
		for (t = 0; t < sw->n_tok; t++)
			for (i = 0; i < n; i++)
				a->gsum[(size_t)grp * n + i] += xs[(size_t)t * n + i];
	}
	return 0;
}

/* Distributed: close this rank's last group and replace its pooled sums (covariance, mean,
 * group means, the per-group sums of x, the token count) by their totals over the ranks, summed
 * in rank order (dist.h); each group lies on one rank, so only the pooled covariance and mean
 * are sums of several ranks' values. */
static int
reduce_input(struct rs_calib *c, struct accum *a, char **cause)
{
	const struct rs_dist *d = c->p.dist;
	size_t n = rs_covstats_dim(a->cs), G = (size_t)c->p.groups, i, k;
	double *cov, *mean, *gmeans, tokens;
	int rc;

	if (a->open >= 0 && (rc = rs_covstats_end_group(a->cs, cause)) != 0)
		return rc;
	a->open = -1;
	if ((rc = rs_covstats_partial(a->cs, &cov, &mean, &gmeans, cause)) != 0)
		return rc;
	tokens = (double)rs_covstats_tokens(a->cs);
	/* only the upper triangle is summed: packed in place before, unpacked after (finish
	 * mirrors it into the lower one), half the bytes of the n×n sum */
	for (i = 0, k = 0; i < n; k += n - i, i++)
		memmove(cov + k, cov + i * n + i, (n - i) * sizeof *cov);
	if ((rc = d->sum_f64(d->ctx, cov, n * (n + 1) / 2, cause)) != 0)
		return rc;
	for (i = n; i-- > 0;) {
		k -= n - i;
		memmove(cov + i * n + i, cov + k, (n - i) * sizeof *cov);
	}
	if ((rc = d->sum_f64(d->ctx, mean, n, cause)) != 0 ||
	    (rc = d->sum_f64(d->ctx, gmeans, G * n, cause)) != 0 ||
	    (rc = d->sum_f64(d->ctx, a->gsum, G * n, cause)) != 0 ||
	    (rc = d->sum_f64(d->ctx, &tokens, 1, cause)) != 0)
		return rc;
	return rs_covstats_finish_reduced(a->cs, (uint64_t)tokens, cause);
}

/* A layer's finished entries on their way to the cache, written by a thread of their own while
 * the sweep runs the next layer: written in line, each write held every rank of a distributed
 * run (rank 0 writes, the others wait in the next reduction), 0.25 s of a 3.5 s layer at the
 * TinyLlama shape on two ranks. */
struct entry_write {
	char *key;
	uint8_t *buf;
	size_t len;
	size_t slot;            /* index into held */
	int attempted, rc;
	char *cause;
};

struct writer {
	struct rs_cache *cache;
	struct entry_write e[RS_IN_COUNT];
	int n, running;
	pthread_t tid;
};

/* Thread body: write the queued entries in order. */
static void *
writer_thread(void *arg)
{
	struct writer *wr = arg;
	int i;

	for (i = 0; i < wr->n; i++) {
		wr->e[i].rc = rs_cache_put(wr->cache, CALIB_KIND, wr->e[i].key, wr->e[i].buf,
		    wr->e[i].len, &wr->e[i].cause);
		wr->e[i].attempted = 1;
	}
	return NULL;
}

/* Start writing the queued entries; in this thread when no other can be made. */
static void
writer_start(struct writer *wr)
{
	if (wr->n == 0 || wr->running)
		return;
	wr->running = pthread_create(&wr->tid, NULL, writer_thread, wr) == 0;
	if (!wr->running)
		writer_thread(wr);
}

/* Wait for the queued entries.  A failed write keeps its entry in memory, as the session
 * needs it; an entry never attempted (the run failed first) is dropped. */
static void
writer_finish(struct rs_calib *c, struct writer *wr, void (*note)(void *, const char *),
    void *ud)
{
	int i;

	if (wr->running)
		pthread_join(wr->tid, NULL);
	wr->running = 0;
	for (i = 0; i < wr->n; i++) {
		struct entry_write *e = &wr->e[i];
		if (e->attempted && e->rc != 0) {
			if (note != NULL)
				note(ud, e->cause != NULL ? e->cause : "calibrate: cache write failed");
			c->held[e->slot] = e->buf;
			c->held_len[e->slot] = e->len;
		} else if (c->held[e->slot] != e->buf) {
			rs_free(e->buf);
		}
		rs_free(e->key);
		rs_free(e->cause);
	}
	memset(wr->e, 0, sizeof wr->e);
	wr->n = 0;
}

/* Finish one input's statistics and store them: queued for the cache (wr), and kept in memory
 * when holding or when there is no cache. */
static int
store_input(struct rs_calib *c, struct rs_cache *cache, struct writer *wr, int layer, int g,
    struct accum *a, char **cause)
{
	size_t n = rs_covstats_dim(a->cs), G = (size_t)c->p.groups, i, k, len = 0;
	double per_group;
	uint8_t *buf = NULL;
	char *key;
	int rc, w, cnt;
	/* distributed, rank 0 alone writes (the others read it back when not holding) */
	int writes = cache != NULL && (!rs_dist_active(c->p.dist) || c->p.dist->rank == 0);
	int keeps = c->plan.hold || cache == NULL;

	if (rs_dist_active(c->p.dist)) {
		if ((rc = reduce_input(c, a, cause)) != 0)
			return rc;
	} else if ((rc = rs_covstats_end_group(a->cs, cause)) != 0 ||
	    (rc = rs_covstats_finish(a->cs, cause)) != 0) {
		return rc;
	}
	if (!writes && !keeps)
		return 0;
	for (k = 0; k < G; k++) {
		for (cnt = 0, w = 0; w < c->plan.windows; w++)
			cnt += group_of(c, w) == (int)k;
		per_group = (double)cnt * c->p.ctx;
		for (i = 0; i < n; i++)
			a->gsum[k * n + i] /= per_group;
	}
	if ((rc = encode(n, G, rs_covstats_tokens(a->cs), a->gsum, rs_covstats_mean(a->cs),
	    rs_covstats_cov(a->cs), &buf, &len, cause)) != 0)
		return rc;
	i = (size_t)layer * RS_IN_COUNT + g;
	if (keeps) {
		c->held[i] = buf;
		c->held_len[i] = len;
	}
	if (!writes)
		return 0;
	if ((key = entry_key(c, layer, g)) == NULL) {
		if (!keeps)
			rs_free(buf);
		return rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
	}
	wr->e[wr->n].key = key;
	wr->e[wr->n].buf = buf;
	wr->e[wr->n].len = len;
	wr->e[wr->n].slot = i;
	wr->n++;
	return 0;
}

/* Free one layer's accumulators. */
static void
accum_free(struct accum *acc)
{
	int g;

	for (g = 0; g < RS_IN_COUNT; g++) {
		rs_covstats_free(acc[g].cs);
		rs_free(acc[g].gsum);
		memset(&acc[g], 0, sizeof acc[g]);
	}
}

/* The accumulators of layer l: the previous layer's, reset, when the widths agree (fresh n×n
 * buffers would cost a page fault per 4 KiB on every layer), else new ones. */
static int
accum_new(struct rs_calib *c, int l, struct accum *acc, char **cause)
{
	int g;

	for (g = 0; g < RS_IN_COUNT; g++) {
		size_t n = rs_calib_input_dim(c->m, l, (enum rs_input_group)g);
		acc[g].open = -1;
		if (acc[g].cs != NULL && rs_covstats_dim(acc[g].cs) == n) {
			rs_covstats_reset(acc[g].cs);
			memset(acc[g].gsum, 0, (size_t)c->p.groups * n * sizeof(double));
			continue;
		}
		rs_covstats_free(acc[g].cs);
		rs_free(acc[g].gsum);
		acc[g].gsum = NULL;
		if ((acc[g].cs = rs_covstats_new(n, (size_t)c->p.groups, cause)) == NULL ||
		    (acc[g].gsum = rs_calloc((size_t)c->p.groups * n, sizeof(double))) == NULL) {
			accum_free(acc);
			return rs_fail(cause, RS_ENOMEM, "calibrate: out of memory for the "
			    "accumulators of layer %d", l);
		}
	}
	return 0;
}

/* Refuse before the sweep when the cache directory's disk cannot take the statistics still
 * to compute (a 7B model's are 11 GB, an 8B's 16 GB) and the spill file. */
static int
disk_check(struct rs_calib *c, struct rs_cache *cache, char **cause)
{
	uint64_t need = c->plan.spill ? c->plan.spill_bytes : 0, avail;
	char h1[32], h2[32];
	int l, g;

	for (l = 0; l < c->n_layers; l++)
		for (g = 0; g < RS_IN_COUNT && !c->done[l]; g++)
			need += entry_bytes(rs_calib_input_dim(c->m, l, (enum rs_input_group)g),
			    (uint64_t)c->p.groups);
	if (rs_cache_free_bytes(cache, &avail) != 0 || need <= avail)
		return 0;
	return rs_fail(cause, RS_EIO, "calibrate: the statistics still to compute need %s in the "
	    "cache directory %s, which has %s free: free space there or point XDG_CACHE_HOME at a "
	    "larger disk", rs_mem_human(h1, sizeof h1, need), rs_cache_dir(cache),
	    rs_mem_human(h2, sizeof h2, avail));
}

/* Look a layer up in the cache: 1 if all four entries are there with sound headers. */
static int
layer_cached(struct rs_calib *c, struct rs_cache *cache, int layer,
    void (*note)(void *, const char *), void *ud)
{
	uint8_t head[CALIB_HEADER];
	size_t len = 0, i;
	void *data;
	char *key, *ecause;
	int g, rc, ok = 1;

	for (g = 0; g < RS_IN_COUNT && ok; g++) {
		data = NULL;
		ecause = NULL;
		if ((key = entry_key(c, layer, g)) == NULL)
			return 0;
		/* Held entries are read (checksum verified); others only peeked at: at 7B the 128
		 * entries are 22 GB, and their checksums are verified when they are used. */
		if (c->plan.hold)
			rc = rs_cache_get(cache, CALIB_KIND, key, &data, &len, &ecause);
		else
			rc = rs_cache_peek(cache, CALIB_KIND, key, head, sizeof head, &len, &ecause);
		rs_free(key);
		if (rc == 0 && check_header(c->plan.hold ? data : head, len,
		    rs_calib_input_dim(c->m, layer, (enum rs_input_group)g), (size_t)c->p.groups,
		    &ecause) != 0)
			rc = RS_EFORMAT;
		if (rc < 0 && note != NULL)
			note(ud, ecause != NULL ? ecause : "calibration cache entry unusable");
		rs_free(ecause);
		if (rc != 0) {
			rs_free(data);
			ok = 0;
			break;
		}
		i = (size_t)layer * RS_IN_COUNT + g;
		if (c->plan.hold) {
			rs_free(c->held[i]);
			c->held[i] = data;
			c->held_len[i] = len;
		} else {
			rs_free(data);
		}
	}
	if (!ok)
		for (g = 0; g < RS_IN_COUNT; g++) {
			i = (size_t)layer * RS_IN_COUNT + g;
			rs_free(c->held[i]);
			c->held[i] = NULL;
		}
	return ok;
}

/* The hidden states of every calibration token at one layer boundary: in memory (one boundary,
 * each batch updated in place), or spilled to a file of two boundary slots (boundary b in slot
 * b % 2) read and written one batch at a time. */
struct hidden {
	float *all;             /* in memory: (tokens, dim); NULL when spilled */
	float *batch;           /* spilled: one batch of rows */
	int fd;                 /* the spill file, -1 none */
	char *path;
	uint64_t row_bytes;     /* dim floats */
	uint64_t tokens;
	uint64_t ident;         /* hash of the identity key text (distributed: and the rank's) */
	uint64_t base;          /* hash of the identity key text alone: names the file */
};

/* Offset of a slot's header fields: boundary (u32) then complete (u32). */
#define SPILL_SLOT_FIELD(slot) (40u + 8u * (unsigned)(slot))

/* Name prefix and suffix of spill files in the cache directory. */
#define SPILL_PREFIX "calib-sweep-"
#define SPILL_SUFFIX ".spill"

/* pread or pwrite all of len bytes at off (short transfers continue). */
static int
spill_io(int fd, int write_it, void *buf, uint64_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t r;

	while (len > 0) {
		size_t part = len > (1u << 30) ? (1u << 30) : (size_t)len;
		r = write_it ? pwrite(fd, p, part, (off_t)off) : pread(fd, p, part, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (uint64_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* Record a slot's boundary and whether it is complete. */
static int
spill_mark(struct hidden *h, int slot, int boundary, int complete, char **cause)
{
	uint8_t f[8];

	put_u32(f, (uint32_t)boundary);
	put_u32(f + 4, (uint32_t)complete);
	if (spill_io(h->fd, 1, f, 8, SPILL_SLOT_FIELD(slot)) != 0)
		return rs_fail(cause, RS_EIO, "%s: %s", h->path, strerror(errno));
	return 0;
}

/* Remove spill files that no live process holds (killed runs, other identities): a running
 * calibration keeps an exclusive lock on its file.  keep: the name to keep, or with
 * keep_prefix every name starting with it (the ranks of one distributed calibration). */
static void
spill_sweep(const char *dir, const char *keep, int keep_prefix)
{
	struct dirent *e;
	DIR *d;
	char *path;
	int fd;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, SPILL_PREFIX, strlen(SPILL_PREFIX)) != 0 ||
		    len < strlen(SPILL_SUFFIX) ||
		    strcmp(e->d_name + len - strlen(SPILL_SUFFIX), SPILL_SUFFIX) != 0 ||
		    (keep != NULL && (keep_prefix ? strncmp(e->d_name, keep, strlen(keep)) :
		    strcmp(e->d_name, keep)) == 0))
			continue;
		if ((path = rs_strdupf("%s/%s", dir, e->d_name)) == NULL)
			break;
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) >= 0) {
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				unlink(path);
			close(fd);
		}
		rs_free(path);
	}
	closedir(d);
}

/* File name of the spill file of the identity hashing to ident. */
static char *
spill_name(uint64_t ident)
{
	return rs_strdupf(SPILL_PREFIX "%016" PRIx64 SPILL_SUFFIX, ident);
}

/* Open (or create) the spill file of this identity under dir, locked.
 * *resume: the boundary of the latest complete slot that is at most max_boundary, -1 none. */
static int
spill_open(struct hidden *h, const char *dir, int max_boundary, int *resume,
    const struct rs_dist *d, char **cause)
{
	uint8_t hdr[CALIB_SPILL_HEADER];
	struct stat st;
	char *name;
	int slot, fresh = 1, attempt;

	*resume = -1;
	if (rs_mkdir_p(dir, cause) != 0)
		return RS_EIO;
	for (attempt = 0; attempt < 2; attempt++) {
		/* the identity's own name; if another process holds it, a private one */
		name = attempt == 0 && d != NULL ? rs_strdupf(SPILL_PREFIX "%016" PRIx64
		    "-r%dof%d" SPILL_SUFFIX, h->base, d->rank,
		    d->size) :
		    attempt == 0 ? spill_name(h->ident) :
		    rs_strdupf(SPILL_PREFIX "%016" PRIx64 "-%ld" SPILL_SUFFIX, h->ident,
		    (long)getpid());
		if (name == NULL)
			return rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
		rs_free(h->path);
		h->path = rs_strdupf("%s/%s", dir, name);
		rs_free(name);
		if (h->path == NULL)
			return rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
		if ((h->fd = open(h->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
			return rs_fail(cause, RS_EIO, "%s: %s", h->path, strerror(errno));
		/* a sweeper may unlink the file between our open and our lock: then start over */
		if (flock(h->fd, LOCK_EX | LOCK_NB) == 0 && fstat(h->fd, &st) == 0 &&
		    st.st_nlink > 0)
			break;
		close(h->fd);
		h->fd = -1;
	}
	if (h->fd < 0)
		return rs_fail(cause, RS_EIO, "%s: locked by another process", h->path);
	if (spill_io(h->fd, 0, hdr, sizeof hdr, 0) == 0 &&
	    memcmp(hdr, CALIB_SPILL_MAGIC, 8) == 0 && get_u64(hdr + 16) == h->ident &&
	    get_u64(hdr + 24) == h->tokens && get_u64(hdr + 32) == h->row_bytes) {
		fresh = 0;
		for (slot = 0; slot < 2; slot++) {
			int b = (int)get_u32(hdr + SPILL_SLOT_FIELD(slot));
			if (get_u32(hdr + SPILL_SLOT_FIELD(slot) + 4) == 1 && b % 2 == slot &&
			    b <= max_boundary && b > *resume)
				*resume = b;
		}
	}
	if (fresh) {
		memset(hdr, 0, sizeof hdr);
		memcpy(hdr, CALIB_SPILL_MAGIC, 8);
		put_u64(hdr + 16, h->ident);
		put_u64(hdr + 24, h->tokens);
		put_u64(hdr + 32, h->row_bytes);
		if (ftruncate(h->fd, 0) != 0 || spill_io(h->fd, 1, hdr, sizeof hdr, 0) != 0)
			return rs_fail(cause, RS_EIO, "%s: %s", h->path, strerror(errno));
	}
	return 0;
}

/* Close the hidden-state store; the spill file is removed unless keep. */
static void
hidden_close(struct hidden *h, int keep)
{
	if (h->fd >= 0) {
		if (!keep)
			unlink(h->path);
		close(h->fd);
	}
	h->fd = -1;
	rs_free(h->path);
	rs_free(h->all);
	rs_free(h->batch);
	h->path = NULL;
	h->all = h->batch = NULL;
}

/* The rows of windows [w0, w0 + nseq) at the boundary in `slot`: a pointer into memory, or
 * read from the spill file into the batch buffer. */
static float *
hidden_get(struct hidden *h, int slot, uint64_t row0, uint64_t rows, int read_it, char **cause)
{
	if (h->all != NULL)
		return h->all + row0 * (h->row_bytes / sizeof(float));
	if (read_it && spill_io(h->fd, 0, h->batch, rows * h->row_bytes, CALIB_SPILL_HEADER +
	    ((uint64_t)slot * h->tokens + row0) * h->row_bytes) != 0) {
		rs_fail(cause, RS_EIO, "%s: %s", h->path, errno != 0 ? strerror(errno) :
		    "short read");
		return NULL;
	}
	return h->batch;
}

/* Write a batch to the boundary in `slot` (nothing to do in memory: updated in place). */
static int
hidden_put(struct hidden *h, int slot, uint64_t row0, uint64_t rows, char **cause)
{
	if (h->all != NULL)
		return 0;
	if (spill_io(h->fd, 1, h->batch, rows * h->row_bytes, CALIB_SPILL_HEADER +
	    ((uint64_t)slot * h->tokens + row0) * h->row_bytes) != 0)
		return rs_fail(cause, RS_EIO, "%s: %s", h->path, strerror(errno));
	return 0;
}

/* Move the first failure's cause into *cause: the hook's when it failed, else the pass's. */
static void
take_cause(struct sweep *sw, int rc, char *fcause, char **cause)
{
	if (sw->cause != NULL && rc != RS_ECANCEL) {
		if (cause != NULL) {
			rs_free(*cause);
			*cause = sw->cause;
		} else {
			rs_free(sw->cause);
		}
		sw->cause = NULL;
		rs_free(fcause);
	} else if (cause != NULL) {
		rs_free(*cause);
		*cause = fcause;
	} else {
		rs_free(fcause);
	}
}

/* Give back the mapped pages of layer l's tensors (read once per sweep). */
static void
release_layer(const struct rs_model *m, int l)
{
	int k;

	for (k = 0; k < RS_T_LAYER_COUNT; k++)
		rs_model_tensor_release(m, rs_model_tensor(m, l, (enum rs_tkind)k));
}

/* Distributed: every rank tells whether it failed (rc) at this point, with n_extra values
 * summed alongside; 0 when none failed, else the failing rank's own status on that rank and
 * RS_EIO with a cause naming the first failing rank on the others. */
static int
sync_status(const struct rs_dist *d, int rc, const char *where, double *extra, size_t n_extra,
    char **cause)
{
	double *v;
	char *scause = NULL;
	int r;

	if ((v = rs_calloc((size_t)d->size + n_extra, sizeof *v)) == NULL)
		d->abort(d->ctx, "calibrate: out of memory");
	v[d->rank] = rc != 0;
	if (n_extra > 0)
		memcpy(v + d->size, extra, n_extra * sizeof *v);
	if (d->sum_f64(d->ctx, v, (size_t)d->size + n_extra, &scause) != 0)
		d->abort(d->ctx, scause != NULL ? scause : "calibrate: reduction failed");
	if (n_extra > 0)
		memcpy(extra, v + d->size, n_extra * sizeof *v);
	for (r = 0; r < d->size && v[r] == 0.0; r++)
		;
	rs_free(v);
	if (r == d->size || rc != 0)
		return rc;
	return rs_fail(cause, RS_EIO, "calibrate: rank %d failed %s (its error is above)", r,
	    where);
}

/* A window where a rank's block may start: a group's first window (each group's sums stay on
 * one rank), and when `aligned` also the first window of one of the serial run's forward batches
 * (a batch of other rows gives other float32 products: the same batches give the same bits). */
static int
block_start(const struct rs_calib *c, int w, int aligned)
{
	if (w <= 0 || w >= c->plan.windows)
		return 1;
	return group_of(c, w) != group_of(c, w - 1) && (!aligned || w % c->plan.batch_windows == 0);
}

/* The windows this process runs: all of them, or, distributed, a contiguous block in rank order
 * that starts at block_start(), the nearest such window to an equal share, preferring ones
 * aligned to the serial batches. */
static void
local_windows(const struct rs_calib *c, int *wa, int *wb)
{
	const struct rs_dist *d = c->p.dist;
	int W = c->plan.windows, r, prev = 0, bound[2] = { 0, W };

	*wa = 0;
	*wb = W;
	if (!rs_dist_active(d))
		return;
	for (r = 1; r <= d->rank + 1 && r < d->size; r++) {
		int target = (int)(((int64_t)W * r + d->size / 2) / d->size), best = -1, aligned, k;
		for (aligned = 1; aligned >= 0 && best < 0; aligned--)
			for (k = 0; k <= W && best < 0; k++) {
				if (target - k >= prev && block_start(c, target - k, aligned))
					best = target - k;
				else if (target + k <= W && target + k >= prev &&
				    block_start(c, target + k, aligned))
					best = target + k;
			}
		prev = best < 0 ? W : best;
		if (r == d->rank)
			bound[0] = prev;
		if (r == d->rank + 1)
			bound[1] = prev;
	}
	*wa = bound[0];
	*wb = bound[1];
}

/* Boundary 0 (the embeddings) of windows [wa, wb). */
static int
embed_windows(struct rs_calib *c, struct rs_forward *f, struct hidden *h, const int32_t *ids,
    int wa, int wb, struct rs_job *job, double *done_units, double units, char **cause)
{
	int w0, nseq, per_call = c->plan.batch_windows, rc;
	uint64_t rows;
	float *x;

	if (h->fd >= 0 && (rc = spill_mark(h, 0, 0, 0, cause)) != 0)
		return rc;
	for (w0 = wa; w0 < wb; w0 += nseq) {
		nseq = wb - w0 < per_call ? wb - w0 : per_call;
		rows = (uint64_t)nseq * c->p.ctx;
		if (rs_job_cancelled(job))
			return rs_fail(cause, RS_ECANCEL, "calibrate: cancelled");
		if ((x = hidden_get(h, 0, (uint64_t)(w0 - wa) * c->p.ctx, rows, 0, cause)) == NULL)
			return RS_EIO;
		if ((rc = rs_forward_embed(f, ids + (size_t)w0 * c->p.ctx, nseq, c->p.ctx, x,
		    cause)) != 0 ||
		    (rc = hidden_put(h, 0, (uint64_t)(w0 - wa) * c->p.ctx, rows, cause)) != 0)
			return rc;
		rs_job_progress(job, *done_units += nseq, units, "calibrate");
	}
	if (h->fd >= 0 && (rc = spill_mark(h, 0, 0, 1, cause)) != 0)
		return rc;
	return 0;
}

/* Windows [wa, wb) through layer l: from the boundary in slot `in` to the one in `outs` (kept
 * when keep_out), the hook accumulating when sw->layer is l. */
static int
sweep_layer(struct rs_calib *c, struct rs_forward *f, struct hidden *h, struct sweep *sw,
    int l, int wa, int wb, int keep_out, struct rs_job *job, double *done_units, double units,
    char **cause)
{
	int w0, nseq, per_call = c->plan.batch_windows, rc, in = l % 2, outs = (l + 1) % 2;
	uint64_t rows;

	if (h->fd >= 0 && keep_out && (rc = spill_mark(h, outs, l + 1, 0, cause)) != 0)
		return rc;
	for (w0 = wa; w0 < wb; w0 += nseq) {
		char *fcause = NULL;
		float *x;
		nseq = wb - w0 < per_call ? wb - w0 : per_call;
		rows = (uint64_t)nseq * c->p.ctx;
		if ((x = hidden_get(h, in, (uint64_t)(w0 - wa) * c->p.ctx, rows, 1, cause)) == NULL)
			return RS_EIO;
		sw->win0 = w0;
		if ((rc = rs_forward_layer(f, l, x, nseq, c->p.ctx, job, &fcause)) != 0) {
			take_cause(sw, rc, fcause, cause);
			return rc;
		}
		if (keep_out && (rc = hidden_put(h, outs, (uint64_t)(w0 - wa) * c->p.ctx, rows,
		    cause)) != 0)
			return rc;
		rs_job_progress(job, *done_units += nseq, units, "calibrate");
	}
	return 0;
}

/* Run the calibration (see calib.h): one sweep, layer by layer; distributed, each rank runs
 * its windows and the layer's sums are reduced before rank 0 stores them. */
int
rs_calib_run(struct rs_calib *c, const int32_t *ids, struct rs_cache *cache,
    void (*note)(void *ud, const char *line), void *ud, struct rs_calib_report *rep,
    struct rs_job *job, char **cause)
{
	const struct rs_calib_plan *pl = &c->plan;
	const struct rs_dist *d = rs_dist_active(c->p.dist) ? c->p.dist : NULL;
	struct rs_forward *f = NULL;
	struct hidden h;
	struct sweep sw;
	struct writer wr;
	int l, first = -1, last = -1, start = 0, rc = 0, per_call = pl->batch_windows, wa, wb;
	uint64_t base_ident;
	double units, done_units = 0;
	const char *tmp;
	char *name = NULL, where[64];

	memset(rep, 0, sizeof *rep);
	memset(&sw, 0, sizeof sw);
	memset(&h, 0, sizeof h);
	memset(&wr, 0, sizeof wr);
	wr.cache = cache;
	h.fd = -1;
	sw.layer = -1;
	rep->resumed_at = -1;
	local_windows(c, &wa, &wb);
	base_ident = h.base = h.ident = rs_hash64(c->ident, strlen(c->ident), 0);
	if (d != NULL) {
		/* each rank spills its own windows, under a name of its own */
		int shard[2] = { d->rank, d->size };
		h.ident = rs_hash64(shard, sizeof shard, base_ident);
	}
	if (cache != NULL && (name = spill_name(base_ident)) != NULL) {
		/* spill files of killed runs of other calibrations are of no further use; the
		 * ranks of this one keep theirs (their names extend this one's) */
		if (d != NULL)
			name[strlen(name) - strlen(SPILL_SUFFIX)] = '\0';
		spill_sweep(rs_cache_dir(cache), name, d != NULL);
		rs_free(name);
	}
	for (l = 0; l < c->n_layers; l++) {
		if (c->done[l])
			continue;
		if (cache != NULL && layer_cached(c, cache, l, note, ud)) {
			c->done[l] = 1;
			rep->layers_cached++;
		}
	}
	if (d != NULL) {
		/* every rank must run the same layers: they read one shared cache */
		double *v = rs_mallocarray((size_t)c->n_layers, sizeof *v);
		if (v == NULL)
			d->abort(d->ctx, "calibrate: out of memory");
		for (l = 0; l < c->n_layers; l++)
			v[l] = c->done[l];
		rc = sync_status(d, 0, "reading the cache", v, (size_t)c->n_layers, cause);
		for (l = 0; l < c->n_layers && rc == 0; l++)
			if (v[l] != 0.0 && v[l] != (double)d->size)
				rc = rs_fail(cause, RS_EIO, "calibrate: the ranks see different "
				    "layers in the cache %s (is it on storage they all share?)",
				    cache != NULL ? rs_cache_dir(cache) : "(none)");
		rs_free(v);
		if (rc != 0)
			return rc;
	}
	for (l = 0; l < c->n_layers; l++)
		if (!c->done[l]) {
			if (first < 0)
				first = l;
			last = l;
		}
	if (first < 0)
		return 0;
	/* every rank sees the same cache directory: all refuse together */
	if (cache != NULL && (rc = disk_check(c, cache, cause)) != 0)
		return rc;
	rs_dist_stepf(d, "calibrate, setting up");
	if ((f = rs_forward_new(c->m, per_call * c->p.ctx, c->p.ctx, cause)) == NULL)
		rc = RS_ENOMEM;
	else
		rs_forward_set_hook(f, sweep_hook, &sw);
	sw.c = c;
	sw.n_tok = c->p.ctx;
	h.row_bytes = (uint64_t)rs_model_config(c->m)->dim * sizeof(float);
	h.tokens = (uint64_t)(wb - wa) * (uint64_t)c->p.ctx;
	if (rc != 0) {
	} else if (!pl->spill) {
		if ((h.all = rs_mallocarray(h.tokens > 0 ? (size_t)h.tokens : 1,
		    (size_t)h.row_bytes)) == NULL)
			rc = rs_fail(cause, RS_ENOMEM, "calibrate: out of memory for the hidden "
			    "states (%" PRIu64 " bytes)", h.tokens * h.row_bytes);
	} else {
		tmp = getenv("TMPDIR");
		if ((h.batch = rs_mallocarray((size_t)per_call * c->p.ctx, (size_t)h.row_bytes)) ==
		    NULL)
			rc = rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
		else if ((rc = spill_open(&h, cache != NULL ? rs_cache_dir(cache) :
		    (tmp != NULL && *tmp != '\0' ? tmp : "/tmp"), first, &start, d, cause)) == 0 &&
		    start < 0)
			start = 0;
	}
	if (d != NULL) {
		/* every rank resumes from the same boundary, or all start over */
		double v[2] = { start, (double)start * start };
		if ((rc = sync_status(d, rc, "setting up", v, 2, cause)) == 0 &&
		    (double)d->size * v[1] != v[0] * v[0])
			start = 0;
	}
	if (rc != 0)
		goto out;
	if (start > 0)
		rep->resumed_at = start;
	units = (double)(wb - wa) * (last + 1 - start + (start == 0));
	/* boundary 0: the embeddings, unless the spill file holds a later boundary */
	if (start == 0) {
		rs_dist_stepf(d, "calibrate, embeddings");
		rc = embed_windows(c, f, &h, ids, wa, wb, job, &done_units, units, cause);
		if (d != NULL)
			rc = sync_status(d, rc, "at the embeddings", NULL, 0, cause);
		if (rc != 0)
			goto out;
		rs_model_tensor_release(c->m, rs_model_global(c->m, RS_G_EMBED));
	}
	rep->passes = 1;
	rep->tokens_run = pl->tokens;
	for (l = start; l <= last; l++) {
		int outs = (l + 1) % 2, keep_out = l < last;
		rs_dist_stepf(d, "calibrate, layer %d of %d", l, c->n_layers);
		rc = 0;
		if (!c->done[l])
			rc = accum_new(c, l, sw.acc, cause);
		sw.layer = c->done[l] ? -1 : l;
		if (rc == 0)
			rc = sweep_layer(c, f, &h, &sw, l, wa, wb, keep_out, job, &done_units, units,
			    cause);
		if (d != NULL) {
			snprintf(where, sizeof where, "at layer %d of %d", l, c->n_layers);
			rc = sync_status(d, rc, where, NULL, 0, cause);
		}
		if (rc != 0)
			goto out;
		if (sw.layer >= 0) {
			int g;
			/* the previous layer's entries first: one layer's in flight at most */
			writer_finish(c, &wr, note, ud);
			for (g = 0; g < RS_IN_COUNT && rc == 0; g++)
				rc = store_input(c, cache, &wr, l, g, &sw.acc[g], cause);
			if (rc == 0)
				writer_start(&wr);
			/* a spilled sweep resumes from the boundary the next layer overwrites: its
			 * statistics must be in the cache before that */
			if (h.fd >= 0)
				writer_finish(c, &wr, note, ud);
			sw.layer = -1;
			if (rc != 0 && d != NULL)
				/* the others are in this layer's reductions */
				d->abort(d->ctx, cause != NULL && *cause != NULL ? *cause :
				    "calibrate: storing the statistics failed");
			if (rc != 0)
				goto out;
			c->done[l] = 1;
			rep->layers_computed++;
		}
		if (h.fd >= 0 && keep_out && (rc = spill_mark(&h, outs, l + 1, 1, cause)) != 0) {
			if (d != NULL)
				d->abort(d->ctx, cause != NULL && *cause != NULL ? *cause :
				    "calibrate: spill file");
			goto out;
		}
		/* the sweep reads each layer once: its weights are done with */
		release_layer(c->m, l);
	}
	writer_finish(c, &wr, note, ud);
	/* rank 0's last entries are written before any rank reads them back */
	if (d != NULL && (rc = d->barrier(d->ctx, cause)) != 0)
		d->abort(d->ctx, "calibrate: barrier failed");
out:
	writer_finish(c, &wr, note, ud);
	accum_free(sw.acc);
	/* a kill keeps the spill file for a rerun; a finished, failed or cancelled run does not */
	hidden_close(&h, 0);
	rs_free(sw.cause);
	rs_forward_free(f);
	return rc;
}
