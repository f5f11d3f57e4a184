/* analysis.c: the session's store of spectra (see analysis.h). */
#include "config.h"

#include "analysis.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cache.h"
#include "linalg.h"
#include "status.h"

struct rs_analysis {
	int n_layers;
	struct rs_spec **slots;         /* (n_layers, RS_MAT_COUNT, RS_SPEC_KINDS) */
	uint64_t *hash;                 /* (n_layers, RS_MAT_COUNT) tensor content hashes */
	unsigned char *have_hash;
	struct rs_hash_cost *cost;      /* (n_layers, RS_MAT_COUNT) what finding the hash cost */
	unsigned char *cost_untaken;
	size_t count[RS_SPEC_KINDS];
};

static const char *const kind_names[RS_SPEC_KINDS] = { "weight", "centred", "uncentred" };

/* Name of a spectrum kind. */
const char *
rs_spec_kind_name(enum rs_spec_kind k)
{
	return (unsigned)k < RS_SPEC_KINDS ? kind_names[k] : "?";
}

/* Parse a spectrum kind name. */
int
rs_spec_kind_parse(const char *s)
{
	int i;

	for (i = 0; i < RS_SPEC_KINDS; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return i;
	if (strcmp(s, "feature") == 0 || strcmp(s, "centered") == 0)
		return RS_SPEC_CENTRED;
	if (strcmp(s, "uncentered") == 0)
		return RS_SPEC_UNCENTRED;
	return -1;
}

/* Build a spectrum record: copy sv, compute the summaries and the energy look-up. */
struct rs_spec *
rs_spec_new(enum rs_spec_kind kind, const double *sv, size_t r, size_t m, size_t n,
    double lambda, char **cause)
{
	struct rs_spec *s;

	if ((unsigned)kind >= RS_SPEC_KINDS || r == 0 || r != (m < n ? m : n)) {
		rs_fail(cause, RS_EINVAL, "spectrum: %zu values for a %zux%zu matrix", r, m, n);
		return NULL;
	}
	if ((s = rs_calloc(1, sizeof *s)) == NULL ||
	    (s->sv = rs_mallocarray(r, sizeof(double))) == NULL) {
		rs_free(s);
		rs_fail(cause, RS_ENOMEM, "spectrum: out of memory");
		return NULL;
	}
	memcpy(s->sv, sv, r * sizeof(double));
	s->kind = kind;
	s->m = m;
	s->n = n;
	s->r = r;
	s->lambda = lambda;
	if (rs_spectrum_stats(s->sv, r, m, n, &s->st, cause) != 0 ||
	    (s->energy = rs_energy_new(s->sv, r, cause)) == NULL) {
		rs_spec_free(s);
		return NULL;
	}
	return s;
}

/* Free a spectrum record. */
void
rs_spec_free(struct rs_spec *s)
{
	if (s == NULL)
		return;
	rs_energy_free(s->energy);
	rs_free(s->sv);
	rs_free(s);
}

/* Weight spectrum of an m×n float32 matrix as a new record. */
struct rs_spec *
rs_spec_of_matrix(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n, char **cause)
{
	size_t r = m < n ? m : n;
	struct rs_spec *s;
	double *sv;

	if (r == 0) {
		rs_fail(cause, RS_EINVAL, "spectrum: empty %zux%zu matrix", m, n);
		return NULL;
	}
	if ((sv = rs_mallocarray(r, sizeof(double))) == NULL) {
		rs_fail(cause, RS_ENOMEM, "spectrum: out of memory");
		return NULL;
	}
	s = NULL;
	if (rs_linalg_svals_f32(ws, w, m, n, sv, cause) == 0)
		s = rs_spec_new(RS_SPEC_WEIGHT, sv, r, m, n, 0.0, cause);
	rs_free(sv);
	return s;
}

/* Relative error at rank k. */
double
rs_spec_error(const struct rs_spec *s, size_t k)
{
	return s == NULL ? -1.0 : rs_energy_error(s->energy, k);
}

/* A new, empty store. */
struct rs_analysis *
rs_analysis_new(int n_layers, char **cause)
{
	struct rs_analysis *a;
	size_t nm;

	if (n_layers <= 0 || n_layers > 100000) {
		rs_fail(cause, RS_EINVAL, "analysis: bad layer count %d", n_layers);
		return NULL;
	}
	nm = (size_t)n_layers * RS_MAT_COUNT;
	if ((a = rs_calloc(1, sizeof *a)) == NULL ||
	    (a->slots = rs_calloc(nm * RS_SPEC_KINDS, sizeof *a->slots)) == NULL ||
	    (a->hash = rs_calloc(nm, sizeof *a->hash)) == NULL ||
	    (a->have_hash = rs_calloc(nm, 1)) == NULL ||
	    (a->cost = rs_calloc(nm, sizeof *a->cost)) == NULL ||
	    (a->cost_untaken = rs_calloc(nm, 1)) == NULL) {
		rs_analysis_free(a);
		rs_fail(cause, RS_ENOMEM, "analysis: out of memory");
		return NULL;
	}
	a->n_layers = n_layers;
	return a;
}

/* Free the store and every record. */
void
rs_analysis_free(struct rs_analysis *a)
{
	size_t i, total;

	if (a == NULL)
		return;
	total = (size_t)a->n_layers * RS_MAT_COUNT * RS_SPEC_KINDS;
	for (i = 0; a->slots != NULL && i < total; i++)
		rs_spec_free(a->slots[i]);
	rs_free(a->slots);
	rs_free(a->hash);
	rs_free(a->have_hash);
	rs_free(a->cost);
	rs_free(a->cost_untaken);
	rs_free(a);
}

/* Number of layers of the store. */
int
rs_analysis_n_layers(const struct rs_analysis *a)
{
	return a->n_layers;
}

/* Index of a slot, or -1 when out of range. */
static long
slot_index(const struct rs_analysis *a, int layer, enum rs_tkind mat, enum rs_spec_kind kind)
{
	if (layer < 0 || layer >= a->n_layers || (unsigned)mat >= RS_MAT_COUNT ||
	    (unsigned)kind >= RS_SPEC_KINDS)
		return -1;
	return ((long)layer * RS_MAT_COUNT + (long)mat) * RS_SPEC_KINDS + (long)kind;
}

/* Insert a record, replacing the slot's previous one. */
int
rs_analysis_put(struct rs_analysis *a, int layer, enum rs_tkind mat, struct rs_spec *s,
    char **cause)
{
	long i = s != NULL ? slot_index(a, layer, mat, s->kind) : -1;

	if (i < 0) {
		rs_spec_free(s);
		return rs_fail(cause, RS_EINVAL, "analysis: no slot for layer %d matrix %d",
		    layer, (int)mat);
	}
	if (a->slots[i] != NULL)
		rs_spec_free(a->slots[i]);
	else
		a->count[s->kind]++;
	a->slots[i] = s;
	return 0;
}

/* The record of a slot. */
const struct rs_spec *
rs_analysis_get(const struct rs_analysis *a, int layer, enum rs_tkind mat,
    enum rs_spec_kind kind)
{
	long i;

	if (a == NULL || (i = slot_index(a, layer, mat, kind)) < 0)
		return NULL;
	return a->slots[i];
}

/* Parse "L<n>.<mat>". */
int
rs_analysis_parse_name(const char *name, int *layer, enum rs_tkind *mat)
{
	const char *p = name;
	long l = 0;
	int k;

	if (p[0] != 'L' || p[1] < '0' || p[1] > '9')
		return RS_EINVAL;
	for (p++; *p >= '0' && *p <= '9'; p++) {
		l = l * 10 + (*p - '0');
		if (l > 1000000)
			return RS_EINVAL;
	}
	if (*p++ != '.')
		return RS_EINVAL;
	for (k = 0; k < RS_MAT_COUNT; k++)
		if (strcmp(p, rs_tkind_name((enum rs_tkind)k)) == 0) {
			*layer = (int)l;
			*mat = (enum rs_tkind)k;
			return 0;
		}
	return RS_EINVAL;
}

/* The record by canonical name. */
const struct rs_spec *
rs_analysis_find(const struct rs_analysis *a, const char *name, enum rs_spec_kind kind)
{
	enum rs_tkind mat;
	int layer;

	if (a == NULL || rs_analysis_parse_name(name, &layer, &mat) != 0)
		return NULL;
	return rs_analysis_get(a, layer, mat, kind);
}

/* Number of records of a kind. */
size_t
rs_analysis_count(const struct rs_analysis *a, enum rs_spec_kind kind)
{
	return a != NULL && (unsigned)kind < RS_SPEC_KINDS ? a->count[kind] : 0;
}

/* Drop every record of a kind. */
void
rs_analysis_drop_kind(struct rs_analysis *a, enum rs_spec_kind kind)
{
	size_t i, nm;

	if (a == NULL || (unsigned)kind >= RS_SPEC_KINDS)
		return;
	nm = (size_t)a->n_layers * RS_MAT_COUNT;
	for (i = 0; i < nm; i++) {
		rs_spec_free(a->slots[i * RS_SPEC_KINDS + kind]);
		a->slots[i * RS_SPEC_KINDS + kind] = NULL;
	}
	a->count[kind] = 0;
}

/* Memoised content hash of a decoder matrix's mapped bytes. */
uint64_t
rs_analysis_tensor_hash(struct rs_analysis *a, struct rs_cache *c, const struct rs_model *m,
    int trust_quick, const struct rs_tensor *t, int layer, enum rs_tkind mat)
{
	struct rs_hash_cost scratch;
	size_t i;

	if (layer < 0 || layer >= a->n_layers || (unsigned)mat >= RS_MAT_COUNT)
		return rs_tensor_content_hash(c, m, t, trust_quick, &scratch);
	i = (size_t)layer * RS_MAT_COUNT + mat;
	if (!a->have_hash[i] || !trust_quick) {
		a->hash[i] = rs_tensor_content_hash(c, m, t, trust_quick, &a->cost[i]);
		a->have_hash[i] = 1;
		a->cost_untaken[i] = 1;
	}
	return a->hash[i];
}

/* A slot's content hash only if known without reading the tensor (the memo, or a quick key). */
int
rs_analysis_tensor_known_hash(struct rs_analysis *a, struct rs_cache *c,
    const struct rs_model *m, const struct rs_tensor *t, int layer, enum rs_tkind mat,
    uint64_t *h)
{
	struct rs_hash_cost cost;
	size_t i;

	if (layer < 0 || layer >= a->n_layers || (unsigned)mat >= RS_MAT_COUNT)
		return rs_tensor_known_hash(c, m, t, h, &cost);
	i = (size_t)layer * RS_MAT_COUNT + mat;
	if (!a->have_hash[i]) {
		if (!rs_tensor_known_hash(c, m, t, &a->hash[i], &cost))
			return 0;
		a->cost[i] = cost;
		a->have_hash[i] = 1;
		a->cost_untaken[i] = 1;
	}
	*h = a->hash[i];
	return 1;
}

/* The cost of finding a slot's hash, reported once. */
int
rs_analysis_hash_cost_take(struct rs_analysis *a, int layer, enum rs_tkind mat,
    struct rs_hash_cost *cost)
{
	size_t i;

	if (layer < 0 || layer >= a->n_layers || (unsigned)mat >= RS_MAT_COUNT)
		return 0;
	i = (size_t)layer * RS_MAT_COUNT + mat;
	if (!a->cost_untaken[i])
		return 0;
	a->cost_untaken[i] = 0;
	*cost = a->cost[i];
	return 1;
}
