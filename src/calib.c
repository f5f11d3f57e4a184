/* calib.c: calibration passes, memory plan and the statistics store (see calib.h). */
#include "config.h"

#include "calib.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cache.h"
#include "covstats.h"

#define CALIB_KIND "calib"
#define CALIB_MAGIC "RSCALIB1"
#define CALIB_HEADER 48u        /* magic 8, version 4, elem 4, n 8, groups 8, tokens 8, 8 spare */
#define CALIB_VERSION 1u
#define CALIB_F64_MAX 2048      /* covariances up to this width are stored in double */
#define CALIB_HOLD_MAX (256ull << 20)   /* hold finished statistics up to this size */
#define CALIB_ROWS 512          /* rows per forward call, as ppl uses */
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

/* Half of the physical memory (1 GiB if unknown). */
uint64_t
rs_calib_default_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psize <= 0)
		return 1ull << 30;
	return (uint64_t)pages * (uint64_t)psize / 2;
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

/* Plan the calibration and fix its identity. */
struct rs_calib *
rs_calib_new(const struct rs_model *m, uint64_t text_hash, size_t n_ids,
    const struct rs_calib_params *p, char **cause)
{
	const struct rs_model_config *mc = rs_model_config(m);
	struct rs_calib *c;
	struct rs_calib_plan *pl;
	uint64_t avail, max_entry = 0, rows;
	int64_t usable;
	int g;

	if (p->ctx < 2 || p->groups < 1 || p->max_tokens < 1) {
		rs_fail(cause, RS_EINVAL, "calibrate: bad window %d, groups %d or token limit %" PRId64,
		    p->ctx, p->groups, p->max_tokens);
		return NULL;
	}
	usable = (int64_t)n_ids < p->max_tokens ? (int64_t)n_ids : p->max_tokens;
	if (usable / p->ctx < 1) {
		rs_fail(cause, RS_EINVAL, "calibrate: %" PRId64 " tokens are fewer than one window of %d",
		    usable, p->ctx);
		return NULL;
	}
	if (usable / p->ctx > INT32_MAX / 2) {
		rs_fail(cause, RS_EINVAL, "calibrate: too many windows");
		return NULL;
	}
	if ((c = rs_calloc(1, sizeof *c)) == NULL)
		goto nomem;
	c->m = m;
	c->p = *p;
	c->n_layers = mc->n_layers;
	pl = &c->plan;
	pl->windows = (int)(usable / p->ctx);
	pl->tokens = (int64_t)pl->windows * p->ctx;
	pl->groups = p->groups;
	pl->budget = p->memory;
	if (p->groups > pl->windows) {
		rs_fail(cause, RS_EINVAL, "calibrate: %d groups but only %d windows of %d tokens",
		    p->groups, pl->windows, p->ctx);
		rs_calib_free(c);
		return NULL;
	}
	for (g = 0; g < RS_IN_COUNT; g++) {
		uint64_t n = rs_calib_input_dim(m, -1, (enum rs_input_group)g), e;
		pl->layer_bytes += accum_bytes(n, (uint64_t)p->groups);
		e = entry_bytes(n, (uint64_t)p->groups);
		pl->stats_bytes += e * (uint64_t)c->n_layers;
		if (e > max_entry)
			max_entry = e;
	}
	pl->hold = pl->stats_bytes <= CALIB_HOLD_MAX && pl->stats_bytes <= p->memory / 4;
	rows = (uint64_t)p->ctx * (CALIB_ROWS / p->ctx > 1 ? CALIB_ROWS / p->ctx : 1);
	pl->fixed_bytes = forward_bytes(m, rows, (uint64_t)p->ctx) + max_entry +
	    (pl->hold ? pl->stats_bytes : 0);
	avail = p->memory > pl->fixed_bytes ? p->memory - pl->fixed_bytes : 0;
	if (avail < pl->layer_bytes) {
		rs_fail(cause, RS_EINVAL, "calibrate: one layer's accumulators need %" PRIu64
		    " bytes (plus %" PRIu64 " for the forward pass), over the budget of %" PRIu64
		    " (--memory)", pl->layer_bytes, pl->fixed_bytes, p->memory);
		rs_calib_free(c);
		return NULL;
	}
	pl->layers_per_pass = avail / pl->layer_bytes >= (uint64_t)c->n_layers ? c->n_layers :
	    (int)(avail / pl->layer_bytes);
	pl->passes = (c->n_layers + pl->layers_per_pass - 1) / pl->layers_per_pass;
	/* Balance the passes: the same number of passes with fewer layers each. */
	pl->layers_per_pass = (c->n_layers + pl->passes - 1) / pl->passes;
	pl->pass_bytes = pl->fixed_bytes + (uint64_t)pl->layers_per_pass * pl->layer_bytes;

	c->ident = rs_strdupf("calib-v2 model=%016" PRIx64 " weights=%016" PRIx64 " text=%016"
	    PRIx64 " ctx=%d tokens=%" PRId64 " windows=%d groups=%d", rs_model_identity(m),
	    weights_hash(m, p->cache), text_hash, p->ctx, pl->tokens, pl->windows, p->groups);
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
	for (i = 0; i < n; i++)
		for (j = i; j < n; j++, k++) {
			if (es == sizeof(double)) {
				memcpy(p + k * 8, &cov[i * n + j], 8);
			} else {
				float f = (float)cov[i * n + j];
				memcpy(p + k * 4, &f, 4);
			}
		}
	*out = buf;
	*len = (size_t)total;
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

	*out = NULL;
	if (len < CALIB_HEADER || memcmp(buf, CALIB_MAGIC, 8) != 0 ||
	    get_u32(buf + 8) != CALIB_VERSION)
		return rs_fail(cause, RS_EFORMAT, "calibration entry: bad header");
	es = get_u32(buf + 12);
	n = get_u64(buf + 16);
	g = get_u64(buf + 24);
	if (n != want_n || g != want_g || es != elem_size((size_t)n) ||
	    entry_bytes(n, g) != len)
		return rs_fail(cause, RS_EFORMAT, "calibration entry: %" PRIu64 "-wide, %" PRIu64
		    " groups, %zu bytes: not the expected %zu-wide, %zu groups", n, g, len,
		    want_n, want_g);
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
			s->cov[i * n + j] = s->cov[j * n + i] = v;
		}
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
	char *key;
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
	rc = rs_cache_get(cache, CALIB_KIND, key, &data, &len, cause);
	rs_free(key);
	if (rc == 1)
		return rs_fail(cause, RS_EIO, "calibration: statistics of L%d %s have gone from the "
		    "cache %s: run calibrate again", layer, rs_calib_input_name(g),
		    rs_cache_dir(cache));
	if (rc != 0)
		return rc;
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

/* One input's accumulators during a pass. */
struct accum {
	struct rs_covstats *cs;
	double *gsum;           /* (G, n) per-group sums of x */
	int open;               /* the open group, -1 none */
};

/* The state of one pass, seen by the forward hook. */
struct pass {
	struct rs_calib *c;
	int *slot;              /* (n_layers) index into acc / RS_IN_COUNT, -1 not in this pass */
	struct accum *acc;      /* (layers in pass, RS_IN_COUNT) */
	int last_layer;         /* the pass's deepest layer */
	int stop_early;         /* stop the forward after last_layer */
	int win0, n_tok;        /* the current call's first window and window length */
	int stopped;
	char *cause;
};

/* The group of window w. */
static int
group_of(const struct rs_calib *c, int w)
{
	return (int)((int64_t)w * c->p.groups / c->plan.windows);
}

/* Forward hook: accumulate the inputs of the pass's layers. */
static int
pass_hook(void *ud, int layer, enum rs_input_group g, const float *x, int n_rows, int width)
{
	struct pass *ps = ud;
	struct accum *a;
	int s, n_seq = n_rows / ps->n_tok, t, rc;
	size_t i, n = (size_t)width;

	if (ps->slot[layer] < 0)
		return 0;
	a = &ps->acc[ps->slot[layer] * RS_IN_COUNT + g];
	for (s = 0; s < n_seq; s++) {
		int grp = group_of(ps->c, ps->win0 + s);
		const float *xs = x + (size_t)s * ps->n_tok * n;
		if (grp != a->open) {
			if ((a->open >= 0 && (rc = rs_covstats_end_group(a->cs, &ps->cause)) != 0) ||
			    (rc = rs_covstats_begin_group(a->cs, (size_t)grp, &ps->cause)) != 0)
				return rc;
			a->open = grp;
		}
		if ((rc = rs_covstats_add(a->cs, xs, (size_t)ps->n_tok, &ps->cause)) != 0)
			return rc;
		for (t = 0; t < ps->n_tok; t++)
			for (i = 0; i < n; i++)
				a->gsum[(size_t)grp * n + i] += xs[(size_t)t * n + i];
	}
	if (ps->stop_early && layer == ps->last_layer && g == RS_IN_DOWN) {
		ps->stopped = 1;
		return RS_ECANCEL;
	}
	return 0;
}

/* Finish one input's statistics and store them (cache, and memory when holding). */
static int
store_input(struct rs_calib *c, struct rs_cache *cache, int layer, int g, struct accum *a,
    void (*note)(void *, const char *), void *ud, char **cause)
{
	size_t n = rs_covstats_dim(a->cs), G = (size_t)c->p.groups, i, k, len = 0;
	double per_group;
	uint8_t *buf = NULL;
	char *key, *pcause = NULL;
	int rc, w, cnt;

	if ((rc = rs_covstats_end_group(a->cs, cause)) != 0 ||
	    (rc = rs_covstats_finish(a->cs, cause)) != 0)
		return rc;
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
	if (cache != NULL) {
		if ((key = entry_key(c, layer, g)) == NULL) {
			rs_free(buf);
			return rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
		}
		rc = rs_cache_put(cache, CALIB_KIND, key, buf, len, &pcause);
		rs_free(key);
		if (rc != 0) {
			if (note != NULL)
				note(ud, pcause != NULL ? pcause : "calibrate: cache write failed");
			rs_free(pcause);
		}
	}
	if (c->plan.hold || cache == NULL || rc != 0) {
		c->held[i] = buf;
		c->held_len[i] = len;
	} else {
		rs_free(buf);
	}
	return 0;
}

/* Free a pass's accumulators. */
static void
pass_free(struct accum *acc, int count)
{
	int i;

	for (i = 0; acc != NULL && i < count; i++) {
		rs_covstats_free(acc[i].cs);
		rs_free(acc[i].gsum);
	}
	rs_free(acc);
}

/* Look a layer up in the cache: 1 if all four entries are there and sound. */
static int
layer_cached(struct rs_calib *c, struct rs_cache *cache, int layer,
    void (*note)(void *, const char *), void *ud)
{
	struct rs_calib_stats *s;
	size_t len = 0, i;
	void *data;
	char *key, *ecause;
	int g, rc, ok = 1;

	for (g = 0; g < RS_IN_COUNT && ok; g++) {
		data = NULL;
		ecause = NULL;
		if ((key = entry_key(c, layer, g)) == NULL)
			return 0;
		rc = rs_cache_get(cache, CALIB_KIND, key, &data, &len, &ecause);
		rs_free(key);
		if (rc == 0 && decode(data, len, rs_calib_input_dim(c->m, layer, (enum rs_input_group)g),
		    (size_t)c->p.groups, &s, &ecause) != 0)
			rc = RS_EFORMAT;
		else if (rc == 0)
			rs_calib_stats_free(s);
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

/* Run the calibration (see calib.h). */
int
rs_calib_run(struct rs_calib *c, const int32_t *ids, struct rs_cache *cache,
    void (*note)(void *ud, const char *line), void *ud, struct rs_calib_report *rep,
    struct rs_job *job, char **cause)
{
	const struct rs_calib_plan *pl = &c->plan;
	struct rs_forward *f = NULL;
	struct pass ps;
	int *todo = NULL, ntodo = 0, l, i, k, g, rc = 0, per_call, w0, nseq, n_in_pass;
	double total_windows;

	memset(rep, 0, sizeof *rep);
	memset(&ps, 0, sizeof ps);
	if ((todo = rs_mallocarray((size_t)c->n_layers, sizeof *todo)) == NULL ||
	    (ps.slot = rs_mallocarray((size_t)c->n_layers, sizeof *ps.slot)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
		goto out;
	}
	for (l = 0; l < c->n_layers; l++) {
		if (c->done[l])
			continue;
		if (cache != NULL && layer_cached(c, cache, l, note, ud)) {
			c->done[l] = 1;
			rep->layers_cached++;
		} else {
			todo[ntodo++] = l;
		}
	}
	if (ntodo == 0)
		goto out;
	per_call = CALIB_ROWS / c->p.ctx > 1 ? CALIB_ROWS / c->p.ctx : 1;
	if ((f = rs_forward_new(c->m, per_call * c->p.ctx, c->p.ctx, cause)) == NULL) {
		rc = RS_ENOMEM;
		goto out;
	}
	rs_forward_set_hook(f, pass_hook, &ps);
	ps.c = c;
	ps.n_tok = c->p.ctx;
	total_windows = (double)pl->windows *
	    (double)((ntodo + pl->layers_per_pass - 1) / pl->layers_per_pass);
	for (k = 0; k < ntodo; k += n_in_pass) {
		n_in_pass = ntodo - k < pl->layers_per_pass ? ntodo - k : pl->layers_per_pass;
		for (l = 0; l < c->n_layers; l++)
			ps.slot[l] = -1;
		if ((ps.acc = rs_calloc((size_t)n_in_pass * RS_IN_COUNT, sizeof *ps.acc)) == NULL) {
			rc = rs_fail(cause, RS_ENOMEM, "calibrate: out of memory");
			goto out;
		}
		for (i = 0; i < n_in_pass; i++) {
			ps.slot[todo[k + i]] = i;
			for (g = 0; g < RS_IN_COUNT; g++) {
				struct accum *a = &ps.acc[i * RS_IN_COUNT + g];
				size_t n = rs_calib_input_dim(c->m, todo[k + i],
				    (enum rs_input_group)g);
				a->open = -1;
				if ((a->cs = rs_covstats_new(n, (size_t)c->p.groups, cause)) == NULL ||
				    (a->gsum = rs_calloc((size_t)c->p.groups * n, sizeof(double))) == NULL) {
					pass_free(ps.acc, n_in_pass * RS_IN_COUNT);
					ps.acc = NULL;
					rc = rs_fail(cause, RS_ENOMEM, "calibrate: out of memory for the "
					    "accumulators of %d layers", n_in_pass);
					goto out;
				}
			}
		}
		ps.last_layer = todo[k + n_in_pass - 1];
		ps.stop_early = ps.last_layer < c->n_layers - 1;
		for (w0 = 0; w0 < pl->windows; w0 += nseq) {
			char *fcause = NULL;
			nseq = pl->windows - w0 < per_call ? pl->windows - w0 : per_call;
			ps.win0 = w0;
			ps.stopped = 0;
			rc = rs_forward_run(f, ids + (size_t)w0 * c->p.ctx, nseq, c->p.ctx, 0, NULL,
			    job, &fcause);
			if (rc == RS_ECANCEL && ps.stopped && !rs_job_cancelled(job))
				rc = 0;
			if (rc != 0) {
				if (ps.cause != NULL && rc != RS_ECANCEL) {
					rs_free(*cause);
					*cause = ps.cause;
					ps.cause = NULL;
					rs_free(fcause);
				} else if (cause != NULL) {
					rs_free(*cause);
					*cause = fcause;
				} else {
					rs_free(fcause);
				}
				pass_free(ps.acc, n_in_pass * RS_IN_COUNT);
				ps.acc = NULL;
				goto out;
			}
			rs_free(fcause);
			rep->tokens_run += (int64_t)nseq * c->p.ctx;
			rs_job_progress(job, (double)rep->passes * pl->windows + w0 + nseq,
			    total_windows, "calibrate");
		}
		for (i = 0; i < n_in_pass && rc == 0; i++)
			for (g = 0; g < RS_IN_COUNT && rc == 0; g++)
				rc = store_input(c, cache, todo[k + i], g, &ps.acc[i * RS_IN_COUNT + g],
				    note, ud, cause);
		pass_free(ps.acc, n_in_pass * RS_IN_COUNT);
		ps.acc = NULL;
		if (rc != 0)
			goto out;
		for (i = 0; i < n_in_pass; i++)
			c->done[todo[k + i]] = 1;
		rep->layers_computed += n_in_pass;
		rep->passes++;
	}
	/* every pass reads the layers from the first again: only now are the weights done with */
	for (l = 0; l < c->n_layers; l++)
		for (k = 0; k < RS_T_LAYER_COUNT; k++)
			rs_model_tensor_release(c->m, rs_model_tensor(c->m, l, (enum rs_tkind)k));
	for (k = 0; k < RS_G_COUNT; k++)
		rs_model_tensor_release(c->m, rs_model_global(c->m, (enum rs_tglobal)k));
out:
	rs_free(ps.cause);
	rs_forward_free(f);
	rs_free(ps.slot);
	rs_free(todo);
	return rc;
}
