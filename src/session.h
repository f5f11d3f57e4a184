/* session.h: the state commands act on: the loaded model and tokenizer, and settings. */
#ifndef RS_SESSION_H
#define RS_SESSION_H

struct rs_alloc_state;
struct rs_analysis;
struct rs_cache;
struct rs_calib;
struct rs_compress;
struct rs_dist;
struct rs_model;
struct rs_plan;
struct rs_plugins;
struct rs_tokenizer;

/* What a perplexity or a plan file was made from: the plan's ranks and the method. */
struct rs_plan_stamp {
	unsigned long long digest;    /* rs_plan_digest */
	int method;
	double asvd_alpha;
};

struct rs_session {
	struct rs_model *model;       /* NULL until `load`; NULL after `load --vocab-only` */
	struct rs_tokenizer *tok;     /* NULL until `load` */
	char *model_path;             /* what was loaded */
	struct rs_plan *plan;         /* ranks per decoder matrix; NULL without weights */
	int threads;                  /* BLAS threads for forward passes */
	double last_ppl;              /* the last finished `ppl`, 0 if none */
	char last_ppl_protocol[16];   /* its protocol name */
	int last_ppl_ctx;             /* its window */
	struct rs_plan_stamp last_ppl_stamp; /* the plan it was measured under */
	struct rs_analysis *analysis; /* spectra of the loaded model; NULL until `spectra` */
	struct rs_calib *calib;       /* calibration statistics; NULL until `calibrate` */
	struct rs_cache *cache;       /* opened on first use */
	/* compression (compress.h) */
	int method;                   /* enum rs_method: `set method`, default svd */
	double asvd_alpha;            /* `set asvd-alpha`, default 0.5 */
	struct rs_compress *compress; /* factor cache of the loaded model; NULL until first use */
	char *plan_source;            /* plan or factored file last loaded or saved, or NULL */
	struct rs_plan_stamp plan_source_stamp; /* the plan as loaded or saved */
	/* rank allocation (rankalloc.h) */
	double budget_keep;           /* `budget --keep RATIO`, 0 when unset */
	unsigned long long budget_params; /* `budget --params N`, 0 when unset */
	struct rs_alloc_state *alloc; /* BO history, sensitivity probes; NULL until `alloc` */
	struct rs_plugins *plugins;   /* plugin registry (plugin.h); NULL until first use */
	const struct rs_dist *dist;   /* the ranks of an MPI job (dist.h), borrowed; NULL: one
	                                 process */
	/* defaults a user sets once (`set`, or the config file) */
	int rank_align;               /* `set rank-align`: the alignment of every new plan; 0: the
	                                 plan's default */
	char *validation;             /* `set validation`: alloc's --validation when not given */
	int mouse;                    /* `set mouse`: the workbench takes mouse reports (default 1) */
	int colours;                  /* `set colours`: the workbench uses colours (default 1) */
};

struct rs_session *rs_session_new(void);
void rs_session_free(struct rs_session *s);
/* Replace the loaded model/tokenizer (taking ownership of both and of path); starts a new,
 * all-dense plan for the new model (plan stays NULL if that allocation fails). */
void rs_session_set_model(struct rs_session *s, struct rs_model *m, struct rs_tokenizer *t,
                          char *path);
/* The current plan's stamp (digest 0 without a plan). */
void rs_session_stamp(const struct rs_session *s, struct rs_plan_stamp *st);
/* What changed since the stamp: NULL if nothing, else "plan changed" or "method changed". */
const char *rs_session_stamp_change(const struct rs_session *s, const struct rs_plan_stamp *st);
/* Record a finished perplexity measured under the current plan. */
void rs_session_set_ppl(struct rs_session *s, double ppl, const char *protocol, int ctx);
/* Record that the plan was loaded from or saved to path (a copy is kept; 0 or RS_ENOMEM). */
int rs_session_set_plan_source(struct rs_session *s, const char *path);

#endif
