/* plan.h: a rank plan: for every decoder matrix (L<n>.q … L<n>.down) a rank or "dense".
 *
 * A rank-r factorization of an m×n matrix keeps r·(m+n) parameters; it saves parameters only
 * below the break-even rank m·n/(m+n).  Ranks are clamped to [1, min(m,n)] and rounded to a
 * multiple of the alignment (default 8; 1 disables rounding).  Keep ratio ρ of one matrix =
 * kept / dense parameters; a ratio ≥ 1 means dense.  Parameter totals count the decoder linears
 * only; embeddings and head are reported beside them by the callers, never mixed in silently.
 *
 * Edits are grouped into undoable steps: rs_plan_begin() before a command's edits snapshots the
 * ranks; rs_plan_undo()/rs_plan_redo() move between snapshots. */
#ifndef RS_PLAN_H
#define RS_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define RS_PLAN_DENSE (-1)

struct rs_plan;

/* A plan for the model's decoder matrices, all dense, alignment 8. */
struct rs_plan *rs_plan_new(const struct rs_model *m, char **cause);
void rs_plan_free(struct rs_plan *p);

int rs_plan_count(const struct rs_plan *p);                 /* n_layers * 7 */
int rs_plan_n_layers(const struct rs_plan *p);
/* Matrix i = layer * 7 + type (type in RS_T_Q .. RS_T_DOWN order). */
const char *rs_plan_name(const struct rs_plan *p, int i);   /* "L3.q" */
int rs_plan_index(const struct rs_plan *p, int layer, enum rs_tkind type);
int rs_plan_find(const struct rs_plan *p, const char *name);/* -1 if not a decoder matrix */
void rs_plan_shape(const struct rs_plan *p, int i, int64_t *rows, int64_t *cols);
int rs_plan_layer(const struct rs_plan *p, int i);
enum rs_tkind rs_plan_type(const struct rs_plan *p, int i);
int64_t rs_plan_max_rank(const struct rs_plan *p, int i);   /* min(m, n) */
double rs_plan_break_even(const struct rs_plan *p, int i);  /* m*n/(m+n) */

int rs_plan_rank(const struct rs_plan *p, int i);           /* RS_PLAN_DENSE or 1..min(m,n) */
/* Set a rank (or RS_PLAN_DENSE), aligned and clamped.  Returns the rank stored; *clamped
 * (if not NULL) is set when the requested value had to be changed beyond alignment. */
int rs_plan_set(struct rs_plan *p, int i, long rank, int *clamped);
/* Set a rank clamped to [1, min(m,n)] but not rounded to the alignment (relative edits such as
 * "+1": the user asked for that exact step).  Returns the rank stored. */
int rs_plan_set_exact(struct rs_plan *p, int i, long rank, int *clamped);
/* The aligned, clamped rank for a keep ratio (≥ 1: dense). */
int rs_plan_rank_for_keep(const struct rs_plan *p, int i, double keep);
/* The rank an alignment/clamp gives for a requested rank (without storing it). */
int rs_plan_align_rank(const struct rs_plan *p, int i, long rank);

int rs_plan_align(const struct rs_plan *p);
void rs_plan_set_align(struct rs_plan *p, int align);

/* Parameters: of matrix i under the plan, of i dense, and totals over all decoder matrices. */
uint64_t rs_plan_params_of(const struct rs_plan *p, int i);
uint64_t rs_plan_dense_of(const struct rs_plan *p, int i);
uint64_t rs_plan_params(const struct rs_plan *p);
uint64_t rs_plan_dense_params(const struct rs_plan *p);
int rs_plan_n_compressed(const struct rs_plan *p);

/* One line stating the keep ratio both ways: of the decoder linears, and of the whole model
 * with `other` parameters (embeddings and head) kept dense. */
void rs_plan_budget_line(const struct rs_plan *p, uint64_t other, char *buf, size_t n);

/* Undo/redo in steps of whole commands. */
int rs_plan_begin(struct rs_plan *p);          /* snapshot before an edit; RS_ENOMEM */
int rs_plan_undo(struct rs_plan *p);           /* 0, or 1 when there is nothing to undo */
int rs_plan_redo(struct rs_plan *p);           /* 0, or 1 when there is nothing to redo */
/* Steps that undo and redo can take now. */
int rs_plan_undo_depth(const struct rs_plan *p);
int rs_plan_redo_depth(const struct rs_plan *p);
/* Drop the snapshot taken by rs_plan_begin when the edit changed nothing. */
void rs_plan_end(struct rs_plan *p);
/* Version counter, bumped by every change (views cache against it). */
uint64_t rs_plan_version(const struct rs_plan *p);
/* A 64-bit digest (FNV-1a) of the ranks and the alignment: equal plans have equal digests,
 * so an undo back to a measured or saved plan is recognised as that plan again. */
uint64_t rs_plan_digest(const struct rs_plan *p);

#endif
