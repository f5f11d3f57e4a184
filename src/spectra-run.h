/* spectra-run.h: compute the spectra of selected decoder matrices in parallel and put them into
 * the session's store (analysis.h).
 *
 * A bounded pool of pthread workers takes tasks largest first (by multiply-adds, below; equal
 * ones in layer order), so the last tasks are short and the workers finish together.  A task is
 * one matrix for the weight kind, and one (layer, input group) with the selected matrices that
 * read it for the feature kinds, so the statistics and their Cholesky factor are loaded and
 * factorized once for q,k,v (and once for gate,up).  Each worker converts rows to float32 into
 * its own reused buffer and keeps its own LAPACK workspace: at most `workers` matrices (plus,
 * for features, one W·S and one factor each) are in memory at once.  One level of parallelism:
 * with more than one worker OpenBLAS runs at 1 thread for the duration (restored afterwards); a
 * single worker gets all the threads.  Workers rather than BLAS threads: on the shared 2-core
 * machine (load 10-11) two 4096×4096 spectra took 36-40 s as two workers at one OpenBLAS thread
 * and 83-330 s one after the other at two, whose threads wait on each other (twice the CPU s).
 *
 * Cache (cache.h, entry kind "spectrum"): the key text names the method
 * ("svals-f32-gram64-dsyevd-v1" for weights, "fsvals-f64-chol-gram-dsyevd-v1" for features),
 * the tensor's content hash (rs_hash64 of its mapped bytes, found through its quick key without
 * reading the tensor when the cache knows the file: cache.h), dtype, shape and row order, and
 * for features the variant and the calibration identity.  Records already in the store are kept
 * as they are; the others come from the cache when present and sound, else are computed and
 * stored.  A damaged entry is reported through note(), removed and recomputed.
 *
 * Progress (rs_job_progress, called from the calling thread only): matrices done of those to
 * do, weighted by work so that an ETA from it holds for unequal matrices: todo × (work of the
 * computed matrices) / (work of all less that of the cache hits).  A matrix m×n, k = min(m, n),
 * b = max(m, n), counts b·k²/2 + 2k³/3 multiply-adds (its Gram and the tridiagonal reduction),
 * plus m·n²/2 for W·L in the feature kinds, whose task adds n³/6 for the Cholesky factor
 * shared by its matrices.  It reaches todo exactly when every matrix is in.
 *
 * Cancel: workers stop taking tasks; what finished is in the store; RS_ECANCEL.  A matrix in
 * flight is abandoned within ~10 ms of the flag: its decomposition (the SVD; for features
 * also the Cholesky factor and W·L) runs through rs_linalg_cancellable() (linalg.h), in a
 * child process that is killed and reaped, so nothing of it reaches the store or the cache. */
#ifndef RS_SPECTRA_RUN_H
#define RS_SPECTRA_RUN_H

#include "analysis.h"
#include "model.h"
#include "status.h"

struct rs_cache;
struct rs_calib;
struct rs_dist;

struct rs_spectra_opts {
	const char *pattern;            /* pattern.h; NULL = every decoder matrix */
	enum rs_spec_kind kind;
	int threads;                    /* worker bound (≥ 1); also the BLAS threads restored */
	struct rs_cache *cache;         /* NULL: no cache */
	const struct rs_calib *calib;   /* required for the feature kinds */
	int recompute;                  /* ignore the store and the cache (still write the cache) */
	int cached_only;                /* take what the cache has by quick key; read no tensor
	                                 * in full and compute nothing (the workbench's open) */
	/* One-line notes (a damaged cache entry, a regularized covariance), from the calling
	 * thread. */
	void (*note)(void *ud, const char *line);
	void *ud;
	/* NULL or one process; else the matrices to do are shared among the ranks (largest
	 * first, each to the least loaded rank: the same on every rank), each rank computes its
	 * own (or finds them in the cache), and every rank's records go to every rank's store;
	 * rank 0 writes the cache entries of all and passes on their notes. */
	const struct rs_dist *dist;
};

struct rs_spectra_report {
	int selected;                   /* matrices matching the pattern */
	int kept;                       /* already in the store */
	int from_cache;
	int computed;                   /* SVDs run */
	int not_cached;                 /* cached_only: matrices left without a spectrum */
	int regularized;                /* feature spectra whose C needed λ > 0 */
	int workers;
	int quick_keyed;                /* content hashes found by quick key (sampled blocks) */
	int hashed_full;                /* content hashes that read the whole tensor */
	uint64_t hashed_bytes;          /* tensor bytes read for content hashes */
	double seconds;
};

/* Memory one worker holds for the largest task of this kind on model m: the matrix in float32
 * and its decomposition's workspace; for features also the decoded statistics, the factor and
 * W·L in float64. */
uint64_t rs_spectra_task_bytes(const struct rs_model *m, enum rs_spec_kind kind);

/* Fill the store a (made for model m) with the spectra of the selected matrices. */
int rs_spectra_run(struct rs_analysis *a, const struct rs_model *m,
    const struct rs_spectra_opts *o, struct rs_spectra_report *rep, struct rs_job *job,
    char **cause);

#endif
