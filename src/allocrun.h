/* allocrun.h: the session's rank allocation as `alloc` runs it; the command only reads its
 * options and prints.  It resolves what every allocator needs (the eligible matrices, the
 * spectrum each previews with (engine.h), the budget), applies a result to the plan as one undo
 * step, opens the validation text whose trials run as every evaluation of the session does
 * (engine.h: factors, then plugin replacements), keeps the sensitivity probes in the session
 * (reused while model, method, calibration, text, windows, alignment and ratios are the same),
 * and keeps or resumes the Bayesian-optimization history. */
#ifndef RS_ALLOCRUN_H
#define RS_ALLOCRUN_H

#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "compress.h"
#include "rankalloc.h"
#include "status.h"

struct rs_session;

/* The profile space of `alloc bo` by default: one offset per variable type and layer group,
 * RS_ALLOC_BO_GROUPS groups (at most the layers), each a factor 1/F..F on the parameters with
 * F = RS_ALLOC_BO_OFFSET (chosen by the validation objective of 50-trial runs on two models,
 * docs/allocation.md: 3 groups and F = 8, 16 or 64 did worse). */
#define RS_ALLOC_BO_GROUPS 2
#define RS_ALLOC_BO_OFFSET 4.0

/* What every allocator needs, resolved once. */
struct rs_alloc_env {
	struct rs_session *s;
	struct rs_plan *p;
	int n;
	unsigned char *elig;            /* (n) matrices the allocator may change */
	unsigned types;                 /* their types, a bit per enum rs_tkind */
	const struct rs_spec **specs;   /* (n) preview spectrum or NULL */
	int used[RS_SPEC_KINDS];        /* eligible matrices per spectrum kind */
	int missing;                    /* eligible matrices without a spectrum */
	uint64_t target, step;          /* budget in parameters, its tolerance */
	int have_budget;
	int *ranks;                     /* (n) the result */
};

/* Resolve env for session s: `types` ("all" or "q,k,...") the eligible matrices, b the
 * budget when it sets one (else the session's).  RS_EINVAL + cause when need_budget and there
 * is none.  Free with rs_allocrun_env_free (also after a failure). */
int rs_allocrun_env(struct rs_alloc_env *e, struct rs_session *s, const char *types,
    const struct rs_budget *b, int need_budget, char **cause);
void rs_allocrun_env_free(struct rs_alloc_env *e);
/* RS_EINVAL + cause naming what to run when an eligible matrix has no spectrum. */
int rs_allocrun_need_specs(const struct rs_alloc_env *e, const char *who, char **cause);
/* "centred feature spectrum (36 matrices), weight spectrum (6 matrices)". */
void rs_allocrun_spec_desc(const struct rs_alloc_env *e, char *buf, size_t n);

/* What applying e->ranks gave. */
struct rs_alloc_outcome {
	int factored, dense;            /* matrices */
	uint64_t params, dense_params;  /* decoder-linear parameters kept, of */
	const char *budget;             /* how the budget was met, or NULL without one */
};
/* Store e->ranks in the plan as one undo step. */
int rs_allocrun_apply(struct rs_alloc_env *e, struct rs_alloc_outcome *o, char **cause);

/* The validation text of sensitivity and bo. */
struct rs_alloc_val {
	struct rs_compress_src src;
	struct rs_alloc_eval *ev;
	uint64_t text_hash;
	size_t n_ids;                   /* tokens of the text, BOS included */
	int ctx, chunks;                /* window and windows per evaluation */
	double dense_secs;              /* the dense pass at opening */
	char calib_id[24];
};
/* Open `file` as the validation text: windows of ctx tokens (0: min(256, the model's
 * context)), `chunks` of them (0: def_chunks); the dense pass runs now.  RS_EINVAL + cause
 * when the method needs a calibration the session lacks. */
int rs_allocrun_val_open(struct rs_alloc_env *e, const char *file, long ctx, long chunks,
    int def_chunks, int want_kl, struct rs_alloc_val *v, struct rs_job *job, char **cause);
void rs_allocrun_val_close(struct rs_alloc_val *v);

/* Sensitivity probes of every matrix at ratios[nr] (named rl in notes): the session's when
 * measured with the same settings (and !recompute), else probed now through the session's
 * evaluator and kept (the probes do not depend on the evaluator).  note/ud get
 * the line announcing a probe run.  *probed: 1 when probed now. */
int rs_allocrun_probes(struct rs_alloc_env *e, struct rs_alloc_val *v, const double *ratios,
    int nr, const char *rl, int recompute, void (*note)(void *, const char *), void *ud,
    const struct rs_sens **out, int *probed, struct rs_job *job, char **cause);

/* Route the validation evaluations of sensitivity and bo through evr (copied), e.g. a
 * distributed driver's (rankalloc.h: rs_alloc_evaluator); its batch is bo's default --batch
 * and the size of the probe rounds.  evr NULL: back to serial. */
int rs_allocrun_set_evaluator(struct rs_session *s, const struct rs_alloc_evaluator *evr,
    char **cause);
/* Evaluate sensitivity probes and bo rounds over the ranks of d: candidate i of a round on
 * rank i % size, every result on every rank in candidate order; bo's default --batch becomes
 * the number of ranks.  d NULL or one rank: serial. */
struct rs_dist;
int rs_allocrun_set_dist(struct rs_session *s, const struct rs_dist *d, char **cause);
/* The evaluator set for session s, or NULL (serial). */
const struct rs_alloc_evaluator *rs_allocrun_evaluator(const struct rs_session *s);

/* The BO history to run: a new one for config and seed, or when resuming the session's last
 * run (hist_file NULL) or the file's, refused unless it was made with the same config (and
 * seed, when seed_given).  *seed gets the seed the run uses. */
int rs_allocrun_bo_hist(struct rs_session *s, const char *config, uint64_t *seed,
    int seed_given, int resume, const char *hist_file, int d, struct rs_bo_hist **out,
    char **cause);
/* Keep h (taken) as the session's last run, for `alloc history` and --resume. */
int rs_allocrun_bo_keep(struct rs_session *s, struct rs_bo_hist *h, char **cause);
/* The session's last BO run, or NULL. */
struct rs_bo_hist *rs_allocrun_bo_last(struct rs_session *s);

#endif
