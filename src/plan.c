/* plan.c: ranks per decoder matrix, parameter accounting, undo/redo. */
#include "config.h"

#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "status.h"

#define PLAN_UNDO_MAX 256	/* snapshots kept; the oldest are dropped */

struct plan_matrix {
	char name[24];
	int64_t rows, cols;
};

struct rs_plan {
	int n, n_layers, align;
	struct plan_matrix *mats;   /* n */
	int *ranks;                 /* n: RS_PLAN_DENSE or a rank */
	int **undo;                 /* snapshots before each step, oldest first */
	int n_undo;
	int **redo;                 /* snapshots undone, most recent last */
	int n_redo;
	int open;                   /* a step is open (rs_plan_begin called) */
	uint64_t version;
};

struct rs_plan *
rs_plan_new(const struct rs_model *m, char **cause)
{
	const struct rs_model_config *c = rs_model_config(m);
	struct rs_plan *p;
	int l, t, i;

	if ((p = rs_calloc(1, sizeof *p)) == NULL)
		goto oom;
	p->n_layers = c->n_layers;
	p->n = c->n_layers * RS_MAT_COUNT;
	p->align = 8;
	p->mats = rs_calloc((size_t)p->n, sizeof *p->mats);
	p->ranks = rs_mallocarray((size_t)p->n, sizeof *p->ranks);
	p->undo = rs_calloc(PLAN_UNDO_MAX, sizeof *p->undo);
	p->redo = rs_calloc(PLAN_UNDO_MAX, sizeof *p->redo);
	if (p->mats == NULL || p->ranks == NULL || p->undo == NULL || p->redo == NULL)
		goto oom;
	for (l = 0; l < c->n_layers; l++) {
		for (t = 0; t < RS_MAT_COUNT; t++) {
			const struct rs_tensor *w = rs_model_tensor(m, l, (enum rs_tkind)t);
			i = l * RS_MAT_COUNT + t;
			snprintf(p->mats[i].name, sizeof p->mats[i].name, "L%d.%s", l,
			         rs_tkind_name((enum rs_tkind)t));
			p->mats[i].rows = w != NULL ? w->rows : 0;
			p->mats[i].cols = w != NULL ? w->cols : 0;
			p->ranks[i] = RS_PLAN_DENSE;
		}
	}
	return p;
oom:
	rs_plan_free(p);
	rs_fail(cause, RS_ENOMEM, "plan: out of memory");
	return NULL;
}

/* Free the snapshots of one stack. */
static void
plan_drop(int **stack, int *n)
{
	while (*n > 0)
		rs_free(stack[--*n]);
}

void
rs_plan_free(struct rs_plan *p)
{
	if (p == NULL)
		return;
	if (p->undo != NULL)
		plan_drop(p->undo, &p->n_undo);
	if (p->redo != NULL)
		plan_drop(p->redo, &p->n_redo);
	rs_free(p->undo);
	rs_free(p->redo);
	rs_free(p->ranks);
	rs_free(p->mats);
	rs_free(p);
}

int rs_plan_count(const struct rs_plan *p) { return p->n; }
int rs_plan_n_layers(const struct rs_plan *p) { return p->n_layers; }
const char *rs_plan_name(const struct rs_plan *p, int i) { return p->mats[i].name; }
int rs_plan_layer(const struct rs_plan *p, int i) { return i / RS_MAT_COUNT; }
enum rs_tkind rs_plan_type(const struct rs_plan *p, int i) { return (enum rs_tkind)(i % RS_MAT_COUNT); }
int rs_plan_rank(const struct rs_plan *p, int i) { return p->ranks[i]; }
int rs_plan_align(const struct rs_plan *p) { return p->align; }
uint64_t rs_plan_version(const struct rs_plan *p) { return p->version; }

uint64_t
rs_plan_digest(const struct rs_plan *p)
{
	uint64_t h = 14695981039346656037ULL;
	int i;

	for (i = -1; i < p->n; i++) {
		uint32_t v = (uint32_t)(i < 0 ? p->align : p->ranks[i]);
		for (int b = 0; b < 4; b++) {
			h ^= (v >> (8 * b)) & 0xffu;
			h *= 1099511628211ULL;
		}
	}
	return h;
}

int
rs_plan_index(const struct rs_plan *p, int layer, enum rs_tkind type)
{
	if (layer < 0 || layer >= p->n_layers || (int)type < 0 || (int)type >= RS_MAT_COUNT)
		return -1;
	return layer * RS_MAT_COUNT + (int)type;
}

int
rs_plan_find(const struct rs_plan *p, const char *name)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->mats[i].name, name) == 0)
			return i;
	return -1;
}

void
rs_plan_shape(const struct rs_plan *p, int i, int64_t *rows, int64_t *cols)
{
	*rows = p->mats[i].rows;
	*cols = p->mats[i].cols;
}

int64_t
rs_plan_max_rank(const struct rs_plan *p, int i)
{
	return p->mats[i].rows < p->mats[i].cols ? p->mats[i].rows : p->mats[i].cols;
}

double
rs_plan_break_even(const struct rs_plan *p, int i)
{
	double m = (double)p->mats[i].rows, n = (double)p->mats[i].cols;

	return m * n / (m + n);
}

int
rs_plan_align_rank(const struct rs_plan *p, int i, long rank)
{
	int64_t max = rs_plan_max_rank(p, i);
	long r = rank;

	if (r == RS_PLAN_DENSE)
		return RS_PLAN_DENSE;
	if (p->align > 1)
		r = ((r + p->align / 2) / p->align) * p->align;	/* nearest multiple */
	if (r < (p->align > 1 ? p->align : 1))
		r = p->align > 1 ? p->align : 1;
	if (r > max)
		r = (long)max;
	return (int)r;
}

int
rs_plan_set(struct rs_plan *p, int i, long rank, int *clamped)
{
	int r = rs_plan_align_rank(p, i, rank);

	if (clamped != NULL)
		*clamped = rank != RS_PLAN_DENSE &&
		    (rank < 1 || rank > rs_plan_max_rank(p, i));
	if (p->ranks[i] != r) {
		p->ranks[i] = r;
		p->version++;
	}
	return r;
}

int
rs_plan_set_exact(struct rs_plan *p, int i, long rank, int *clamped)
{
	int64_t max = rs_plan_max_rank(p, i);
	long r = rank;

	if (r != RS_PLAN_DENSE) {
		if (r < 1)
			r = 1;
		if (r > max)
			r = (long)max;
	}
	if (clamped != NULL)
		*clamped = r != rank;
	if (p->ranks[i] != (int)r) {
		p->ranks[i] = (int)r;
		p->version++;
	}
	return (int)r;
}

int
rs_plan_rank_for_keep(const struct rs_plan *p, int i, double keep)
{
	double m = (double)p->mats[i].rows, n = (double)p->mats[i].cols;

	if (keep >= 1.0)
		return RS_PLAN_DENSE;
	return rs_plan_align_rank(p, i, lround(keep * m * n / (m + n)));
}

void
rs_plan_set_align(struct rs_plan *p, int align)
{
	p->align = align < 1 ? 1 : align;
}

uint64_t
rs_plan_dense_of(const struct rs_plan *p, int i)
{
	return (uint64_t)p->mats[i].rows * (uint64_t)p->mats[i].cols;
}

uint64_t
rs_plan_params_of(const struct rs_plan *p, int i)
{
	if (p->ranks[i] == RS_PLAN_DENSE)
		return rs_plan_dense_of(p, i);
	return (uint64_t)p->ranks[i] * (uint64_t)(p->mats[i].rows + p->mats[i].cols);
}

uint64_t
rs_plan_params(const struct rs_plan *p)
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < p->n; i++)
		s += rs_plan_params_of(p, i);
	return s;
}

uint64_t
rs_plan_dense_params(const struct rs_plan *p)
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < p->n; i++)
		s += rs_plan_dense_of(p, i);
	return s;
}

int
rs_plan_n_compressed(const struct rs_plan *p)
{
	int i, k = 0;

	for (i = 0; i < p->n; i++)
		k += p->ranks[i] != RS_PLAN_DENSE;
	return k;
}

/* A copy of the current ranks. */
static int *
plan_snapshot(const struct rs_plan *p)
{
	int *s = rs_mallocarray((size_t)p->n, sizeof *s);

	if (s != NULL)
		memcpy(s, p->ranks, (size_t)p->n * sizeof *s);
	return s;
}

/* Push onto a stack, dropping the oldest when full. */
static void
plan_push(int **stack, int *n, int *snap)
{
	if (*n == PLAN_UNDO_MAX) {
		rs_free(stack[0]);
		memmove(stack, stack + 1, (size_t)(PLAN_UNDO_MAX - 1) * sizeof *stack);
		(*n)--;
	}
	stack[(*n)++] = snap;
}

int
rs_plan_begin(struct rs_plan *p)
{
	int *snap = plan_snapshot(p);

	if (snap == NULL)
		return RS_ENOMEM;
	plan_push(p->undo, &p->n_undo, snap);
	p->open = 1;
	return 0;
}

void
rs_plan_end(struct rs_plan *p)
{
	if (!p->open || p->n_undo == 0)
		return;
	p->open = 0;
	if (memcmp(p->undo[p->n_undo - 1], p->ranks, (size_t)p->n * sizeof *p->ranks) == 0) {
		rs_free(p->undo[--p->n_undo]);	/* nothing changed: not a step */
		return;
	}
	plan_drop(p->redo, &p->n_redo);		/* a new edit forgets what was undone */
}

int
rs_plan_undo_depth(const struct rs_plan *p)
{
	return p->n_undo;
}

int
rs_plan_redo_depth(const struct rs_plan *p)
{
	return p->n_redo;
}

int
rs_plan_undo(struct rs_plan *p)
{
	int *now;

	if (p->n_undo == 0)
		return 1;
	if ((now = plan_snapshot(p)) == NULL)
		return RS_ENOMEM;
	plan_push(p->redo, &p->n_redo, now);
	memcpy(p->ranks, p->undo[p->n_undo - 1], (size_t)p->n * sizeof *p->ranks);
	rs_free(p->undo[--p->n_undo]);
	p->version++;
	return 0;
}

int
rs_plan_redo(struct rs_plan *p)
{
	int *now;

	if (p->n_redo == 0)
		return 1;
	if ((now = plan_snapshot(p)) == NULL)
		return RS_ENOMEM;
	plan_push(p->undo, &p->n_undo, now);
	memcpy(p->ranks, p->redo[p->n_redo - 1], (size_t)p->n * sizeof *p->ranks);
	rs_free(p->redo[--p->n_redo]);
	p->version++;
	return 0;
}

void
rs_plan_budget_line(const struct rs_plan *p, uint64_t other, char *buf, size_t n)
{
	uint64_t kept = rs_plan_params(p), dense = rs_plan_dense_params(p);

	snprintf(buf, n, "decoder linears: %llu of %llu parameters kept (keep %.4f); whole model "
	         "with %llu embedding and head parameters dense: %llu of %llu (keep %.4f)",
	         (unsigned long long)kept, (unsigned long long)dense,
	         dense ? (double)kept / (double)dense : 1.0, (unsigned long long)other,
	         (unsigned long long)(kept + other), (unsigned long long)(dense + other),
	         dense + other ? (double)(kept + other) / (double)(dense + other) : 1.0);
}
