/* memplan.c: the memory plan of the heavy operations (see memplan.h). */
#include "config.h"

#include "memplan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "calib.h"
#include "compress.h"
#include "forward.h"
#include "meminfo.h"
#include "plan.h"
#include "ppl.h"
#include "spectra-run.h"
#include "status.h"

/* The name `info` prints for an operation. */
const char *
rs_memop_name(enum rs_memop op)
{
	static const char *const names[RS_MEM_COUNT] = { "spectra", "spectra --kind feature",
		"calibrate", "ppl", "plan factors" };

	return (unsigned)op < RS_MEM_COUNT ? names[op] : "?";
}

/* Bytes of tensor data in the model's files. */
static uint64_t
weights_bytes(const struct rs_model *m)
{
	uint64_t sum = 0;
	int i, n = rs_model_n_tensors(m);

	for (i = 0; i < n; i++) {
		const struct rs_tensor *t = rs_model_tensor_at(m, i);
		if (t != NULL && t->present)
			sum += (uint64_t)t->rows * t->row_bytes;
	}
	return sum;
}

/* The largest decoder matrix (by elements) of the model: its shape. */
static void
largest_matrix(const struct rs_model *m, int64_t *rows, int64_t *cols)
{
	const struct rs_model_config *c = rs_model_config(m);
	int l, k;

	*rows = *cols = 0;
	for (l = 0; l < c->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			const struct rs_tensor *t = rs_model_tensor(m, l, (enum rs_tkind)k);
			if (t->rows * t->cols > *rows * *cols) {
				*rows = t->rows;
				*cols = t->cols;
			}
		}
}

/* Weight and feature spectra: the workers each hold their largest task at once. */
static void
plan_spectra(const struct rs_model *m, const struct rs_memplan_opts *o, struct rs_memline *ln)
{
	int64_t r, c;
	int w = o->threads < 1 ? 1 : o->threads;
	char h[32];

	largest_matrix(m, &r, &c);
	ln->bytes = (uint64_t)w * rs_spectra_task_bytes(m, RS_SPEC_WEIGHT);
	snprintf(ln->what, sizeof ln->what, "%d worker%s, each up to %s (the largest matrix, "
	    "%" PRId64 "x%" PRId64 ", in float32 with its Gram in float64 and the eigensolver's "
	    "workspace)", w, w == 1 ? "" : "s",
	    rs_mem_human(h, sizeof h, rs_spectra_task_bytes(m, RS_SPEC_WEIGHT)), r, c);
	snprintf(ln->fix, sizeof ln->fix, "fewer workers: -t or 'set threads' %d", w > 1 ? w - 1 :
	    1);
}

/* Feature spectra: each worker holds one input's statistics and factor and one W·L. */
static void
plan_features(const struct rs_model *m, const struct rs_memplan_opts *o, struct rs_memline *ln)
{
	int w = o->threads < 1 ? 1 : o->threads;
	char h[32];

	ln->bytes = (uint64_t)w * rs_spectra_task_bytes(m, RS_SPEC_CENTRED);
	snprintf(ln->what, sizeof ln->what, "%d worker%s, each up to %s (one input's statistics "
	    "and factor in float64, the matrix times the factor)", w, w == 1 ? "" : "s",
	    rs_mem_human(h, sizeof h, rs_spectra_task_bytes(m, RS_SPEC_CENTRED)));
	snprintf(ln->fix, sizeof ln->fix, "fewer workers: -t or 'set threads' %d", w > 1 ? w - 1 :
	    1);
}

/* Calibration, as rs_calib_estimate plans it. */
static void
plan_calibrate(const struct rs_model *m, const struct rs_memplan_opts *o, struct rs_memline *ln)
{
	struct rs_calib_plan pl;
	char *cause = NULL, h1[32], h2[32], h3[32];
	int64_t windows = o->calib_tokens / (o->calib_ctx > 0 ? o->calib_ctx : 1);
	int groups = windows < o->calib_groups ? (int)windows : o->calib_groups;

	memset(&pl, 0, sizeof pl);
	if (rs_calib_estimate(m, o->calib_ctx, o->calib_tokens, groups, o->calib_memory, &pl,
	    &cause) != 0) {
		/* over the budget even for one layer: the estimate's own words */
		ln->bytes = pl.need_bytes;
		snprintf(ln->what, sizeof ln->what, "%s", cause != NULL ? cause : "does not fit");
		rs_free(cause);
	} else {
		ln->bytes = pl.need_bytes;
		snprintf(ln->what, sizeof ln->what, "--ctx %d, %" PRId64 " tokens, %d group%s: "
		    "accumulators of one layer %s, hidden states %s %s, forward state %s; one sweep",
		    o->calib_ctx, pl.tokens, pl.groups, pl.groups == 1 ? "" : "s",
		    rs_mem_human(h1, sizeof h1, pl.layer_bytes),
		    rs_mem_human(h2, sizeof h2, pl.spill ? pl.spill_bytes : pl.hidden_bytes),
		    pl.spill ? "in a spill file" : "in memory",
		    rs_mem_human(h3, sizeof h3, pl.forward_bytes));
	}
	snprintf(ln->fix, sizeof ln->fix, "a smaller --memory spills the hidden states; "
	    "--groups 1 halves the accumulators");
}

/* Perplexity: the forward state of a batch of windows and their logits. */
static void
plan_ppl(const struct rs_model *m, const struct rs_memplan_opts *o, struct rs_memline *ln)
{
	const struct rs_model_config *c = rs_model_config(m);
	int ctx = o->ppl_ctx, batch = RS_PPL_ROWS_TARGET / ctx > 1 ? RS_PPL_ROWS_TARGET / ctx : 1;
	uint64_t fw = rs_forward_state_bytes(m, batch * ctx, ctx);
	uint64_t lg = rs_ppl_state_bytes(m, ctx, batch);
	uint64_t kv = 2ull * (uint64_t)ctx * (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim *
	    sizeof(float);
	char h1[32], h2[32], h3[32];

	ln->bytes = fw + lg;
	snprintf(ln->what, sizeof ln->what, "--ctx %d, %d window%s per call: forward state %s "
	    "(keys and values of one window %s per layer, reused), logits %s", ctx, batch,
	    batch == 1 ? "" : "s", rs_mem_human(h1, sizeof h1, fw), rs_mem_human(h2, sizeof h2, kv),
	    rs_mem_human(h3, sizeof h3, lg));
	snprintf(ln->fix, sizeof ln->fix, "a smaller --ctx, down to %d", RS_PPL_ROWS_TARGET);
}

/* The plan's factor pairs in float32 and the largest decomposition. */
static void
plan_factors(const struct rs_model *m, const struct rs_memplan_opts *o, struct rs_memline *ln)
{
	uint64_t pairs = 0, dec = 0, d;
	int i, n = o->plan != NULL ? rs_plan_count(o->plan) : 0, k = 0;
	int64_t r, c;
	char h1[32], h2[32];

	for (i = 0; i < n; i++) {
		if (rs_plan_rank(o->plan, i) == RS_PLAN_DENSE)
			continue;
		k++;
		rs_plan_shape(o->plan, i, &r, &c);
		/* a pair and the feature method's bias */
		pairs += rs_plan_params_of(o->plan, i) * sizeof(float) + (uint64_t)r * sizeof(float);
		if ((d = rs_compress_decomp_bytes(r, c)) > dec)
			dec = d;
	}
	ln->bytes = pairs + dec;
	if (k == 0)
		snprintf(ln->what, sizeof ln->what, "none: the plan factors no matrix");
	else
		snprintf(ln->what, sizeof ln->what, "%d factored matri%s: pairs %s in float32, one "
		    "decomposition at a time %s", k, k == 1 ? "x" : "ces",
		    rs_mem_human(h1, sizeof h1, pairs), rs_mem_human(h2, sizeof h2, dec));
	snprintf(ln->fix, sizeof ln->fix, "lower ranks ('rank', 'alloc ... --keep')");
}

/* One operation's line. */
void
rs_memplan_line(const struct rs_model *m, const struct rs_memplan_opts *o, enum rs_memop op,
    struct rs_memline *ln)
{
	static void (*const planner[RS_MEM_COUNT])(const struct rs_model *,
	    const struct rs_memplan_opts *, struct rs_memline *) = { plan_spectra, plan_features,
		plan_calibrate, plan_ppl, plan_factors };

	memset(ln, 0, sizeof *ln);
	if ((unsigned)op < RS_MEM_COUNT)
		planner[op](m, o, ln);
}

void
rs_memplan_defaults(const struct rs_model *m, const struct rs_plan *plan, int threads,
    struct rs_memplan_opts *o)
{
	int ctx = rs_model_config(m)->ctx_len;

	memset(o, 0, sizeof *o);
	o->threads = threads;
	o->ppl_ctx = o->calib_ctx = ctx < 2048 ? ctx : 2048;
	o->calib_tokens = RS_CALIB_DEFAULT_TOKENS;
	o->calib_groups = RS_CALIB_DEFAULT_GROUPS;
	o->calib_memory = rs_calib_default_memory();
	o->plan = plan;
}

/* The plan for model m. */
void
rs_memplan_make(const struct rs_model *m, const struct rs_memplan_opts *o,
    struct rs_memplan *mp)
{
	int e;

	memset(mp, 0, sizeof *mp);
	mp->available = rs_mem_available(&mp->physical);
	mp->weights = weights_bytes(m);
	for (e = 0; e < RS_MEM_COUNT; e++)
		rs_memplan_line(m, o, (enum rs_memop)e, &mp->op[e]);
}

/* Refuse what does not fit the available memory, naming the option that helps. */
int
rs_memplan_check(const char *op, uint64_t need, const char *fix, char **cause)
{
	uint64_t avail = rs_mem_available(NULL);
	char h1[32], h2[32];

	if (need <= avail)
		return 0;
	return rs_fail(cause, RS_ENOMEM, "%s: needs %s but %s are available (%s)", op,
	    rs_mem_human(h1, sizeof h1, need), rs_mem_human(h2, sizeof h2, avail), fix);
}
