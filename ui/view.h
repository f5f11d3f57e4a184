/* view.h: what the workbench draws, copied from the session.  The screen reads only this copy,
 * so it can draw (and the user can move around) while a job runs on the worker thread and the
 * session must not be touched.  Refreshed from the session when no job runs: O(matrices) with the
 * O(1) energy look-ups of analysis.h, cheap enough for every keystroke. */
#ifndef RS_UI_VIEW_H
#define RS_UI_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct rs_session;

struct ui_row {
	char name[24];              /* "L3.q" */
	int64_t rows, cols;
	int rank;                   /* RS_PLAN_DENSE or a rank */
	int64_t max_rank;
	double break_even;
	uint64_t params, dense;     /* kept under the plan, and dense */
	double we, fe;              /* energy kept: weight, feature spectrum; < 0 unknown */
	double err;                 /* predicted relative error at the rank; < 0 unknown */
	int err_feature;            /* err comes from the feature spectrum (else the weight one) */
	/* weight-spectrum metrics (docs/metrics.md); < 0 unknown */
	double alpha;               /* power-law exponent; < 0 also when the fit failed */
	double stable;              /* stable rank */
	double r90, r99;            /* ranks keeping 90 / 99 % of the energy */
	/* the diff reference's plan for this matrix (when v->ref_ranks is set) */
	int ref_rank;               /* RS_PLAN_DENSE or a rank */
	uint64_t ref_params;
	double ref_err;             /* predicted error at ref_rank; < 0 unknown */
};

/* One matrix's spectra (copies), for the spectrum panel. */
struct ui_spec {
	int index;                  /* matrix, -1 none */
	size_t rw, rf;              /* lengths (0 = absent) */
	double *sw, *sf;            /* σ weight, σ feature (descending) */
	double *ew, *ef;            /* energy kept at k = 1..r (ew[k-1]) */
};

struct ui_view {
	int loaded;                 /* a model with a plan */
	char model[128];            /* basename of the model path */
	char desc[128];             /* "llama, 6 layers, dim 256" */
	int n;                      /* matrices */
	struct ui_row *rows;
	int align;
	uint64_t params, dense, other;   /* decoder totals; embeddings + head */
	uint64_t budget;            /* decoder parameters the budget allows ('budget'); 0: none */
	int n_compressed;
	int have_spectra;           /* any weight spectrum */
	int have_features;          /* any feature spectrum */
	double ppl;                 /* 0: none */
	char ppl_protocol[16];
	int ppl_ctx;
	char ppl_stale[24];         /* why the ppl no longer describes the plan ("plan changed"), or "" */
	uint64_t plan_version;
	struct ui_spec spec;        /* the selected matrix's spectra */
	/* status line */
	char method[16];            /* "svd", "feature", ... */
	char plan_label[64];        /* basename of the plan file last loaded or saved, or "" */
	int plan_unsaved;           /* the plan differs from that file (or, without one, from dense) */
	int undo_depth, redo_depth;
	/* diff reference: the ranks of a plan file or of the last allocation, set by the UI
	 * (ui_view_set_ref); rows then carry ref_rank, ref_params, ref_err */
	int *ref_ranks;             /* ref_n ranks, or NULL: no reference */
	int ref_n;
	char ref_label[64];         /* "a.json", "last alloc" */
	uint64_t ref_total;         /* decoder parameters the reference keeps */
	char **names;               /* n matrix names, for completion */
};

/* Copy everything from the session (not while a job runs).  0 or RS_ENOMEM. */
int ui_view_refresh(struct ui_view *v, const struct rs_session *s);
/* Copy the spectra of matrix i into v->spec (no-op if already there and !force). */
int ui_view_load_spec(struct ui_view *v, const struct rs_session *s, int i, int force);
/* Forget the spectrum copy (after a command that may have changed the spectra). */
void ui_view_drop_spec(struct ui_view *v);
void ui_view_free(struct ui_view *v);
/* Take ranks[n] (RS_PLAN_DENSE or ranks, plan order; copied) as the diff reference named
 * label, or drop the reference (ranks NULL).  Rows get it at the next refresh.  0 or
 * RS_ENOMEM. */
int ui_view_set_ref(struct ui_view *v, const int *ranks, int n, const char *label);

/* "4.72M", "196.6K", "512" into buf. */
void ui_fmt_count(char *buf, size_t n, uint64_t x);

#endif
