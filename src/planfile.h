/* planfile.h: rank plans saved to and read from files (docs/plan-format.md).
 *
 * JSON (versioned, the reference format):
 *   { "format": "rankscope-plan", "version": 1,
 *     "model": { "identity": "0x<16 hex>", "architecture", "n_layers", "dim", "n_heads",
 *                "n_kv_heads", "head_dim", "ffn_dim", "vocab", "path" },
 *     "method": { "name": "svd|feature|whiten|asvd", "asvd_alpha": 0.5 },
 *     "calibration": "<calibration identity>" | null,
 *     "rank_align": 8,
 *     "budget": { ... informational, recomputed on load ... },
 *     "matrices": [ { "name": "L0.q", "rows": 256, "cols": 256, "rank": 64 | "dense" }, ... ] }
 * CSV (for spreadsheets): "# key: value" comment lines with the same header fields, then
 *   matrix,rows,cols,rank,params,keep
 * one row per decoder matrix (rank a number or "dense").
 *
 * Reading is strict and size-capped (4 MiB): the format and version are checked, every decoder
 * matrix must appear exactly once with its shape, ranks are 1..min(rows, cols) or dense, and the
 * model identity (rs_model_identity) must be the loaded model's: a plan made for another model
 * is refused with the reason (which fields differ).  `force` accepts a different identity when
 * the architecture and every shape agree (e.g. the same model in another dtype), never
 * otherwise.  Ranks are restored exactly (the alignment is not applied to them). */
#ifndef RS_PLANFILE_H
#define RS_PLANFILE_H

#include <stddef.h>
#include <stdint.h>

#include "compress.h"
#include "model.h"
#include "plan.h"

#define RS_PLANFILE_VERSION 1
#define RS_PLANFILE_MAX_BYTES (4u << 20)

/* What the file says besides the ranks. */
struct rs_planfile_meta {
	enum rs_method method;
	double alpha;                   /* asvd exponent */
	const char *calib;              /* calibration identity, or NULL */
	const char *model_path;         /* informational, or NULL */
};

/* A plan read from a file. */
struct rs_planfile {
	int version;
	uint64_t identity;              /* of the model it was made for */
	char arch[16];
	int n;                          /* decoder matrices */
	int *ranks;                     /* (n) RS_PLAN_DENSE or a rank, plan order */
	int align;
	enum rs_method method;
	double alpha;
	char *calib;                    /* or NULL */
	char *model_path;               /* or NULL */
	int identity_differs;           /* accepted with force */
};

/* 0 JSON, 1 CSV by the file name's extension (.json, .csv); -1 otherwise. */
int rs_planfile_format_of(const char *path);

/* The plan as JSON text (allocated; the caller frees it with rs_free).  NULL + cause. */
char *rs_planfile_json(const struct rs_plan *p, const struct rs_model *m,
    const struct rs_planfile_meta *meta, char **cause);
/* The plan as CSV text (allocated). */
char *rs_planfile_csv(const struct rs_plan *p, const struct rs_model *m,
    const struct rs_planfile_meta *meta, char **cause);
/* Save to path atomically, in the format its extension names. */
int rs_planfile_save(const char *path, const struct rs_plan *p, const struct rs_model *m,
    const struct rs_planfile_meta *meta, char **cause);

/* Parse a plan from text (JSON if it starts with '{', else CSV) for model m; `what` names the
 * source in messages. */
int rs_planfile_parse(const char *text, size_t len, const char *what, const struct rs_model *m,
    int force, struct rs_planfile **out, char **cause);
/* Read and parse a file. */
int rs_planfile_read(const char *path, const struct rs_model *m, int force,
    struct rs_planfile **out, char **cause);
void rs_planfile_free(struct rs_planfile *pf);

/* Put the file's alignment and ranks into p as one undo step, ranks exactly as stored. */
int rs_planfile_apply(const struct rs_planfile *pf, struct rs_plan *p, char **cause);

#endif
