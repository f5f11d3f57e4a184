/* calib.h: the calibration run and its statistics store (methods.md §2-3).
 *
 * A calibration runs a token stream (BOS first, as the caller tokenized it) through the
 * UNCOMPRESSED model in non-overlapping windows of ctx tokens (the chunked perplexity cut: a
 * final partial window is dropped; at most max_tokens tokens, whole windows) and collects, per
 * layer, the statistics of the four input groups (forward.h: attention input for q,k,v; o input;
 * MLP input for gate,up; down input) with covstats.h, pooled over G groups of consecutive
 * windows (group of window w = floor(w·G/W)).
 *
 * One sweep, layer by layer, whatever the model size: the hidden states of every calibration
 * token at the current layer boundary are kept; for layer l every batch of windows goes through
 * layer l alone (forward.h's rs_forward_layer) while the hook accumulates l's four inputs, the
 * outputs become the boundary l+1, and l's four statistics are finished, stored and freed
 * before layer l+1 (written by a thread of their own while layer l+1 runs, and before it when
 * the hidden states spill, since the rerun of a kill resumes from the boundary l+1 overwrites).
 * The cost is one forward pass without the head plus the accumulation; the weights of a layer
 * are read once (their mapped pages are released after it).
 *
 * Memory is planned against a budget (rs_calib_estimate): one layer's accumulators (Σ over its
 * four inputs of two n×n doubles, one when G = 1, plus one n×n float: covstats.h), the forward
 * state of one batch, one layer's finished entries (being written) or, when they are small, the
 * held statistics;
 * plus the hidden states: all tokens × dim floats in memory (one boundary, each batch updated in
 * place) when they fit, else one batch in memory and two boundaries in a spill file
 * "calib-sweep-<identity hash>.spill" in the cache directory (without a cache, $TMPDIR), read
 * and written per batch with pread/pwrite.  Its header names the identity and, per slot, the
 * boundary and whether it is complete, so a rerun after a kill resumes from the last finished
 * layer's boundary; without a spill file a rerun recomputes the prefix layer by layer without
 * accumulating.  The file is removed when the run ends, fails or is cancelled; a running
 * calibration holds a lock on it, and unlocked spill files of other runs are removed at start.
 *
 * Finished statistics go to the cache (entry "calib": group means and pooled mean in
 * double, the pooled centred covariance as a packed upper triangle in double for n ≤ 2048 and
 * float32 above) and, when all of them are small, are also held in memory; otherwise they are
 * read back from the cache per (layer, input) when needed.  Either way the values a reader gets
 * are the decoded entry, so spectra do not depend on where the statistics came from.
 *
 * Distributed (params.dist, dist.h): each rank runs a contiguous block of windows that holds
 * whole groups and starts where one of a single process's forward batches starts (the same
 * rows per call give the same float32 products), through the same one-sweep loop; after each
 * layer every rank reports its status, then the four inputs' pooled sums (covariance, mean,
 * group means, the calibration's per-group sums, tokens) are added in rank order and rank 0
 * alone writes the entries.  Group means and token counts are those of one process bit for
 * bit (each group lies on one rank); the pooled mean and covariance add the same float64
 * per-group terms in another order (≤ 1e-15 of the largest entry).  Each rank spills its own
 * windows ("calib-sweep-<identity>-r<rank>of<size>.spill"); a rerun resumes from a boundary only
 * when every rank's file holds it.
 *
 * Identity: the calibration's key text names the model (rs_model_identity and a hash of every
 * tensor's content hash, found by quick key when params.cache knows the file: cache.h), the text file's bytes (XXH3), ctx, the tokens used, the windows and G. */
#ifndef RS_CALIB_H
#define RS_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "model.h"
#include "status.h"

struct rs_cache;
struct rs_dist;

/* Statistics of one (layer, input group), decoded. */
struct rs_calib_stats {
	size_t n;               /* input dimension */
	size_t groups;          /* G */
	uint64_t tokens;        /* tokens accumulated */
	double *mean;           /* (n) pooled mean μ = Σ μ_g / G */
	double *gmeans;         /* (G, n) group means */
	double *cov;            /* (n, n) pooled centred covariance, both triangles */
};

/* calibrate's defaults: tokens used at most, and G at most (never more than the windows). */
#define RS_CALIB_DEFAULT_TOKENS 65536
#define RS_CALIB_DEFAULT_GROUPS 32

struct rs_calib_params {
	int ctx;                /* window length (≥ 2) */
	int64_t max_tokens;     /* tokens used at most (whole windows) */
	int groups;             /* G, 1 ≤ G ≤ windows */
	uint64_t memory;        /* accumulator budget in bytes */
	struct rs_cache *cache; /* finds the weights' content hashes by quick key (cache.h); NULL:
	                           every weight byte is hashed */
	const struct rs_dist *dist; /* NULL or one process; else each rank runs the windows of
	                           a contiguous block of groups, the layer's sums are added
	                           in rank order and rank 0 writes the cache (rs_calib_run) */
};

struct rs_calib_plan {
	int windows;            /* whole windows used */
	int64_t tokens;         /* windows · ctx */
	int groups;
	int passes;             /* forward passes over the tokens if no layer is cached: 1 */
	int batch_windows;      /* windows per forward call */
	uint64_t layer_bytes;   /* accumulators of one layer (its four inputs) */
	uint64_t forward_bytes; /* forward-pass state of one batch */
	uint64_t fixed_bytes;   /* forward state, held stats or one layer's entries being written */
	uint64_t hidden_bytes;  /* hidden states in memory: all tokens, or one batch if spilled */
	int spill;              /* the hidden states go to a spill file */
	uint64_t spill_bytes;   /* its size (two boundaries), 0 in memory */
	uint64_t need_bytes;    /* fixed + layer + hidden: the planned peak */
	uint64_t budget;
	uint64_t stats_bytes;   /* all finished statistics (encoded) */
	int hold;               /* finished statistics are also kept in memory */
};

struct rs_calib_report {
	int layers_cached;      /* layers whose four entries came from the cache */
	int layers_computed;
	int passes;             /* sweeps run: 0 (all cached) or 1 */
	int resumed_at;         /* the boundary a spill file resumed the sweep from, -1 none */
	int64_t tokens_run;     /* tokens through the model */
};

struct rs_calib;

/* Default budget: half of the physical memory, at most the available memory (meminfo.h). */
uint64_t rs_calib_default_memory(void);

/* The input group a decoder matrix reads; its name ("attn", "o", "mlp", "down"); its width in
 * a layer (from the layer's tensors: a pruned export's layers differ; layer < 0: the config's,
 * the widest). */
enum rs_input_group rs_calib_input_of(enum rs_tkind mat);
const char *rs_calib_input_name(enum rs_input_group g);
size_t rs_calib_input_dim(const struct rs_model *m, int layer, enum rs_input_group g);

/* The memory plan of a calibration of `tokens` tokens (whole windows of ctx are used) in G
 * groups under a budget of `memory` bytes, from the model's shape alone (no hashing, no I/O).
 * RS_EINVAL with a one-line *cause when there is no whole window, G > windows, or one layer
 * does not fit (the cause names the --memory that would). */
int rs_calib_estimate(const struct rs_model *m, int ctx, int64_t tokens, int groups,
    uint64_t memory, struct rs_calib_plan *plan, char **cause);

/* A calibration for model m (borrowed; must outlive the result) over n_ids tokens of a text
 * whose bytes hash to text_hash (at most max_tokens of them): fixes the identity and the
 * memory plan (rs_calib_estimate; kept).  Its failures return NULL with *cause. */
struct rs_calib *rs_calib_new(const struct rs_model *m, uint64_t text_hash, size_t n_ids,
    const struct rs_calib_params *p, char **cause);
void rs_calib_free(struct rs_calib *c);
const struct rs_calib_plan *rs_calib_get_plan(const struct rs_calib *c);
/* The identity key text ("calib-v2 model=… weights=… text=… ctx=… tokens=… groups=…"). */
const char *rs_calib_identity(const struct rs_calib *c);
/* Non-zero once every layer's statistics exist (in memory or in the cache). */
int rs_calib_complete(const struct rs_calib *c);

/* Fill the statistics: layers whose four cache entries are present and sound are taken from the
 * cache (a damaged entry is reported through note() and recomputed), the others computed by one
 * sweep over ids (the same n_ids tokens given to rs_calib_new) as planned, from the embeddings
 * or from a spill file's boundary, up to the last layer missing.  The BLAS thread count is the
 * caller's.  Progress: window batches done over all layers run.  Cancelling returns RS_ECANCEL;
 * layers finished by then are in the cache, so a rerun resumes. */
int rs_calib_run(struct rs_calib *c, const int32_t *ids, struct rs_cache *cache,
    void (*note)(void *ud, const char *line), void *ud, struct rs_calib_report *rep,
    struct rs_job *job, char **cause);

/* The decoded statistics of one (layer, input group): a new copy from memory or from the cache
 * (RS_EIO/RS_EFORMAT with a cause when the entry has gone or is damaged: run calibrate again).
 * Safe to call from several threads at once. */
int rs_calib_stats_get(const struct rs_calib *c, struct rs_cache *cache, int layer,
    enum rs_input_group g, struct rs_calib_stats **out, char **cause);
void rs_calib_stats_free(struct rs_calib_stats *s);
/* The pooled uncentred Gram C + (1/G) Σ μ_g μ_gᵀ into g (n×n). */
void rs_calib_stats_gram(const struct rs_calib_stats *s, double *g);

#endif
