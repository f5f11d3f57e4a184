/* rankalloc.c: budgets, the spectral proxy, the uniform/energy/greedy/cut allocators, the
 * budget fit, the Bayesian-optimization search space and its trial history. */
#include "config.h"

#include "rankalloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "atomic.h"
#include "model.h"
#include "spectrum.h"
#include "textfile.h"

/* ---------------------------------------------------------------- levels */

/* Shape and level count of matrix i: levels 0..nlev-1 are ranks a, 2a, … below break-even,
 * level nlev is dense. */
struct lev {
	uint64_t m, n;
	int a, nlev;
};

/* The level structure of matrix i under the plan's alignment. */
static struct lev
lev_of(const struct rs_plan *p, int i)
{
	struct lev l;
	int64_t m, n, maxr;
	uint64_t by_be, by_r;

	rs_plan_shape(p, i, &m, &n);
	l.m = (uint64_t)m;
	l.n = (uint64_t)n;
	l.a = rs_plan_align(p) > 0 ? rs_plan_align(p) : 1;
	maxr = m < n ? m : n;
	/* j·a·(m+n) < m·n  ⇔  j ≤ (m·n − 1) / (a·(m+n)) */
	by_be = (l.m * l.n - 1) / ((uint64_t)l.a * (l.m + l.n));
	by_r = (uint64_t)maxr / (uint64_t)l.a;
	l.nlev = (int)(by_be < by_r ? by_be : by_r);
	return l;
}

/* Rank of level j. */
static int
lev_rank(const struct lev *l, int j)
{
	return j >= l->nlev ? RS_PLAN_DENSE : (j + 1) * l->a;
}

/* Parameters at level j. */
static uint64_t
lev_params(const struct lev *l, int j)
{
	if (j >= l->nlev)
		return l->m * l->n;
	return (uint64_t)(j + 1) * (uint64_t)l->a * (l->m + l->n);
}

/* The level of a rank, rounded down (dense, or at/past break-even: the dense level). */
static int
lev_from_rank(const struct lev *l, int r)
{
	int j;

	if (r == RS_PLAN_DENSE || (uint64_t)r * (l->m + l->n) >= l->m * l->n)
		return l->nlev;
	j = r / l->a - 1;
	if (j < 0)
		j = 0;
	if (j >= l->nlev)
		j = l->nlev;
	return j;
}

/* The rank keep ratio rho asks for, in real units: rho·m·n/(m+n). */
static double
lev_rstar(const struct lev *l, double rho)
{
	return rho * (double)l->m * (double)l->n / (double)(l->m + l->n);
}

/* Level rounded down for keep ratio rho (≥ 1: dense; never below level 0). */
static int
lev_floor(const struct lev *l, double rho)
{
	double q;

	if (rho >= 1.0)
		return l->nlev;
	q = floor(lev_rstar(l, rho) / l->a) - 1;
	if (q < 0)
		return 0;
	return q >= l->nlev ? (l->nlev > 0 ? l->nlev - 1 : 0) : (int)q;
}

/* Level nearest keep ratio rho (≥ 1: dense; below 1 never dense unless nothing else exists). */
static int
lev_nearest(const struct lev *l, double rho)
{
	double q;

	if (rho >= 1.0 || l->nlev == 0)
		return l->nlev;
	q = floor(lev_rstar(l, rho) / l->a + 0.5) - 1;
	if (q < 0)
		return 0;
	return q >= l->nlev ? l->nlev - 1 : (int)q;
}

/* ---------------------------------------------------------------- budget */

uint64_t
rs_budget_target(const struct rs_budget *b, const struct rs_plan *p)
{
	uint64_t dense = rs_plan_dense_params(p);

	if (b->keep > 0)
		return b->keep >= 1.0 ? dense : (uint64_t)floor(b->keep * (double)dense);
	return b->params;
}

uint64_t
rs_rankalloc_step(const struct rs_plan *p, const unsigned char *elig)
{
	uint64_t step = 0;
	int i;

	for (i = 0; i < rs_plan_count(p); i++) {
		struct lev l;
		uint64_t s;
		if (elig != NULL && !elig[i])
			continue;
		l = lev_of(p, i);
		s = (uint64_t)l.a * (l.m + l.n);
		if (s > step)
			step = s;
	}
	return step;
}

uint64_t
rs_rankalloc_params(const struct rs_plan *p, const int *ranks)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < rs_plan_count(p); i++) {
		int64_t m, n;
		rs_plan_shape(p, i, &m, &n);
		t += ranks[i] == RS_PLAN_DENSE ? (uint64_t)m * (uint64_t)n :
		    (uint64_t)ranks[i] * (uint64_t)(m + n);
	}
	return t;
}

void
rs_budget_line(const struct rs_plan *p, uint64_t target, uint64_t step, char *buf, size_t n)
{
	uint64_t dense = rs_plan_dense_params(p);

	snprintf(buf, n, "budget: %llu decoder-linear params (keep %.4f of %llu; embeddings and "
	    "head not counted); met when target - %llu < params <= target (one alignment step)",
	    (unsigned long long)target, dense > 0 ? (double)target / (double)dense : 0.0,
	    (unsigned long long)dense, (unsigned long long)step);
}

int
rs_rankalloc_apply(struct rs_plan *p, const int *ranks, char **cause)
{
	int i;

	if (rs_plan_begin(p) != 0)
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	for (i = 0; i < rs_plan_count(p); i++)
		if (rs_plan_rank(p, i) != ranks[i])
			rs_plan_set(p, i, ranks[i], NULL);
	rs_plan_end(p);
	return 0;
}

void
rs_rankalloc_get(const struct rs_plan *p, int *ranks)
{
	int i;

	for (i = 0; i < rs_plan_count(p); i++)
		ranks[i] = rs_plan_rank(p, i);
}

int
rs_rankalloc_types(const struct rs_plan *p, const char *list, unsigned char *elig,
    unsigned *types_out, char **cause)
{
	unsigned types = 0;
	int i;

	if (list == NULL || strcmp(list, "all") == 0) {
		types = (1u << RS_MAT_COUNT) - 1;
	} else {
		const char *s = list;
		while (*s != '\0') {
			size_t len = strcspn(s, ",");
			int t, found = -1;
			for (t = 0; t < RS_MAT_COUNT; t++)
				if (strlen(rs_tkind_name((enum rs_tkind)t)) == len &&
				    strncmp(s, rs_tkind_name((enum rs_tkind)t), len) == 0)
					found = t;
			if (found < 0)
				return rs_fail(cause, RS_EINVAL, "--types: '%.*s' is not a matrix type "
				    "(q, k, v, o, gate, up, down)", (int)len, s);
			types |= 1u << found;
			s += len;
			if (*s == ',')
				s++;
		}
		if (types == 0)
			return rs_fail(cause, RS_EINVAL, "--types: empty list");
	}
	for (i = 0; i < rs_plan_count(p); i++)
		elig[i] = (types >> rs_plan_type(p, i)) & 1u;
	if (types_out != NULL)
		*types_out = types;
	return 0;
}

int
rs_rankalloc_layer_weights(const char *spec, int n_layers, double *w, char **cause)
{
	int l;

	if (spec == NULL || strcmp(spec, "flat") == 0) {
		for (l = 0; l < n_layers; l++)
			w[l] = 1.0;
		return 0;
	}
	if (strcmp(spec, "front") == 0 || strcmp(spec, "back") == 0) {
		for (l = 0; l < n_layers; l++) {
			double u = n_layers > 1 ? (double)l / (n_layers - 1) : 0.0;
			w[l] = spec[0] == 'f' ? 2.0 - u : 1.0 + u;
		}
		return 0;
	}
	{
		const char *s = spec;
		for (l = 0; l < n_layers; l++) {
			char *end;
			errno = 0;
			w[l] = strtod(s, &end);
			if (errno != 0 || end == s || !isfinite(w[l]) || w[l] < 0)
				return rs_fail(cause, RS_EINVAL, "--layer-weights: weight %d is not a "
				    "number >= 0 (give %d weights, or flat, front, back)", l, n_layers);
			s = end;
			if (l + 1 < n_layers) {
				if (*s != ',')
					return rs_fail(cause, RS_EINVAL, "--layer-weights: %d weights "
					    "given, the model has %d layers", l + 1, n_layers);
				s++;
			}
		}
		if (*s != '\0')
			return rs_fail(cause, RS_EINVAL, "--layer-weights: more than %d weights (one "
			    "per layer)", n_layers);
	}
	return 0;
}

int
rs_rankalloc_rank_for_keep(const struct rs_plan *p, int i, double rho)
{
	struct lev l = lev_of(p, i);

	return lev_rank(&l, lev_floor(&l, rho));
}

/* ---------------------------------------------------------------- proxy */

double
rs_rankalloc_err(const struct rs_spec *spec, int r, int relative)
{
	double e;

	if (spec == NULL)
		return -1;
	if (r == RS_PLAN_DENSE)
		return 0;
	e = rs_energy_error(spec->energy, (size_t)r);
	e *= e;
	return relative ? e : e * rs_energy_total(spec->energy);
}

double
rs_rankalloc_proxy(const struct rs_plan *p, const struct rs_spec *const *specs,
    const double *w, int relative, const int *ranks)
{
	double t = 0;
	int i;

	for (i = 0; i < rs_plan_count(p); i++)
		if (specs[i] != NULL)
			t += (w != NULL ? w[rs_plan_layer(p, i)] : 1.0) *
			    rs_rankalloc_err(specs[i], ranks[i], relative);
	return t;
}

/* ---------------------------------------------------------------- the heap fill */

/* Priority of the step of matrix i from level `from` to level from+1 (larger: taken first
 * when adding, kept longest when removing). */
typedef double (*prio_fn)(void *ud, const struct rs_plan *p, int i, const struct lev *l,
    int from);

struct hent {
	double key;
	int i;
};

/* a before b in a max-heap: larger key, then smaller index (deterministic). */
static int
hent_before(const struct hent *a, const struct hent *b, int min)
{
	if (a->key != b->key)
		return min ? a->key < b->key : a->key > b->key;
	return a->i < b->i;
}

static void
heap_push(struct hent *h, int *n, struct hent e, int min)
{
	int c = (*n)++;

	h[c] = e;
	while (c > 0) {
		int parent = (c - 1) / 2;
		if (!hent_before(&h[c], &h[parent], min))
			break;
		e = h[c];
		h[c] = h[parent];
		h[parent] = e;
		c = parent;
	}
}

static struct hent
heap_pop(struct hent *h, int *n, int min)
{
	struct hent top = h[0], t;
	int c = 0;

	h[0] = h[--(*n)];
	for (;;) {
		int l = 2 * c + 1, r = l + 1, b = c;
		if (l < *n && hent_before(&h[l], &h[b], min))
			b = l;
		if (r < *n && hent_before(&h[r], &h[b], min))
			b = r;
		if (b == c)
			break;
		t = h[c];
		h[c] = h[b];
		h[b] = t;
		c = b;
	}
	return top;
}

/* Bring the levels to T − step < P ≤ T: remove the lowest-priority steps while over T, then
 * add the highest-priority steps that fit.  lev[] in, ranks[] out for eligible matrices. */
static int
heap_fit(const struct rs_plan *p, const unsigned char *elig, uint64_t target, int *lev,
    prio_fn prio, void *ud, int *ranks, char **cause)
{
	int i, n = rs_plan_count(p), hn = 0;
	struct hent *h;
	struct lev *ls;
	uint64_t P = 0;

	h = rs_mallocarray((size_t)n + 1, sizeof *h);
	ls = rs_mallocarray((size_t)n + 1, sizeof *ls);
	if (h == NULL || ls == NULL) {
		rs_free(h);
		rs_free(ls);
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	}
	for (i = 0; i < n; i++) {
		ls[i] = lev_of(p, i);
		if (elig != NULL && !elig[i])
			P += lev_params(&ls[i], ls[i].nlev);
		else
			P += lev_params(&ls[i], lev[i]);
	}
	/* over the budget: remove steps, least useful per parameter first */
	if (P > target) {
		for (i = 0; i < n; i++)
			if ((elig == NULL || elig[i]) && lev[i] > 0) {
				struct hent e = { prio(ud, p, i, &ls[i], lev[i] - 1), i };
				heap_push(h, &hn, e, 1);
			}
		while (P > target && hn > 0) {
			struct hent e = heap_pop(h, &hn, 1);
			int k = e.i;
			P -= lev_params(&ls[k], lev[k]) - lev_params(&ls[k], lev[k] - 1);
			lev[k]--;
			if (lev[k] > 0) {
				struct hent f = { prio(ud, p, k, &ls[k], lev[k] - 1), k };
				heap_push(h, &hn, f, 1);
			}
		}
		if (P > target) {
			rs_free(h);
			rs_free(ls);
			return rs_fail(cause, RS_EINVAL, "alloc: the budget (%llu params) is below the "
			    "smallest plan the allocator can make (%llu: every eligible matrix at rank "
			    "%d, the others dense)", (unsigned long long)target, (unsigned long long)P,
			    rs_plan_align(p));
		}
		hn = 0;
	}
	/* add the most useful steps that fit */
	for (i = 0; i < n; i++)
		if ((elig == NULL || elig[i]) && lev[i] < ls[i].nlev) {
			struct hent e = { prio(ud, p, i, &ls[i], lev[i]), i };
			heap_push(h, &hn, e, 0);
		}
	while (hn > 0) {
		struct hent e = heap_pop(h, &hn, 0);
		int k = e.i;
		uint64_t cost = lev_params(&ls[k], lev[k] + 1) - lev_params(&ls[k], lev[k]);
		if (P + cost > target)
			continue;       /* P only grows: this step never fits again */
		P += cost;
		lev[k]++;
		if (lev[k] < ls[k].nlev) {
			struct hent f = { prio(ud, p, k, &ls[k], lev[k]), k };
			heap_push(h, &hn, f, 0);
		}
	}
	for (i = 0; i < n; i++)
		ranks[i] = (elig != NULL && !elig[i]) ? RS_PLAN_DENSE : lev_rank(&ls[i], lev[i]);
	rs_free(h);
	rs_free(ls);
	return 0;
}

/* Spectral priority: weighted proxy-error reduction per parameter of the step. */
struct spec_prio {
	const struct rs_spec *const *specs;
	const double *w;
	int relative;
};

static double
prio_spec(void *ud, const struct rs_plan *p, int i, const struct lev *l, int from)
{
	struct spec_prio *sp = ud;
	double gain, cost;

	if (sp->specs == NULL || sp->specs[i] == NULL)
		/* no spectrum: lowest keep ratio first */
		return -(double)lev_params(l, from) / (double)(l->m * l->n) - 1e6;
	gain = rs_rankalloc_err(sp->specs[i], lev_rank(l, from), sp->relative) -
	    rs_rankalloc_err(sp->specs[i], lev_rank(l, from + 1), sp->relative);
	cost = (double)(lev_params(l, from + 1) - lev_params(l, from));
	return (sp->w != NULL ? sp->w[rs_plan_layer(p, i)] : 1.0) * gain / cost;
}

/* Levels of the current ranks into lev[] (a new array); NULL when out of memory. */
static int *
levels_new(const struct rs_plan *p, const int *ranks)
{
	int i, *lev = rs_mallocarray((size_t)rs_plan_count(p) + 1, sizeof *lev);

	if (lev == NULL)
		return NULL;
	for (i = 0; i < rs_plan_count(p); i++) {
		struct lev l = lev_of(p, i);
		lev[i] = ranks != NULL ? lev_from_rank(&l, ranks[i]) : 0;
	}
	return lev;
}

/* Total parameters of levels (eligible) and dense (others). */
static uint64_t
levels_params(const struct rs_plan *p, const unsigned char *elig, const int *lev)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < rs_plan_count(p); i++) {
		struct lev l = lev_of(p, i);
		t += lev_params(&l, (elig != NULL && !elig[i]) ? l.nlev : lev[i]);
	}
	return t;
}

int
rs_rankalloc_fit(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_spec *const *specs, uint64_t target, int *ranks, char **cause)
{
	struct spec_prio sp = { specs, NULL, 1 };
	int *lev = levels_new(p, ranks), rc;

	if (lev == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	rc = heap_fit(p, elig, target, lev, prio_spec, &sp, ranks, cause);
	rs_free(lev);
	return rc;
}

/* ---------------------------------------------------------------- uniform */

struct uni_prio {
	double rho;
};

/* Largest rounding remainder first. */
static double
prio_uni(void *ud, const struct rs_plan *p, int i, const struct lev *l, int from)
{
	struct uni_prio *u = ud;

	(void)p;
	(void)i;
	return lev_rstar(l, u->rho) / l->a - (double)(from + 1);
}

/* Floor levels of ratio rho for the eligible matrices. */
static void
uni_levels(const struct rs_plan *p, double rho, int *lev)
{
	int i;

	for (i = 0; i < rs_plan_count(p); i++) {
		struct lev l = lev_of(p, i);
		lev[i] = lev_floor(&l, rho);
	}
}

int
rs_rankalloc_uniform(const struct rs_plan *p, const unsigned char *elig, uint64_t target,
    int *ranks, double *rho_out, char **cause)
{
	struct uni_prio u;
	double lo = 0, hi = 1;
	int *lev = levels_new(p, NULL), k, rc;

	if (lev == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	uni_levels(p, 1.0, lev);
	if (levels_params(p, elig, lev) <= target) {
		lo = 1.0;
	} else {
		uni_levels(p, 0.0, lev);
		if (levels_params(p, elig, lev) <= target)
			for (k = 0; k < 64; k++) {
				double mid = 0.5 * (lo + hi);
				uni_levels(p, mid, lev);
				if (levels_params(p, elig, lev) <= target)
					lo = mid;
				else
					hi = mid;
			}
	}
	u.rho = lo;
	uni_levels(p, lo, lev);
	rc = heap_fit(p, elig, target, lev, prio_uni, &u, ranks, cause);
	if (rho_out != NULL)
		*rho_out = lo;
	rs_free(lev);
	return rc;
}

/* ---------------------------------------------------------------- energy */

/* The level of energy e for matrix i (rounded up; past break-even: the dense level). */
static int
energy_level(const struct rs_plan *p, int i, const struct rs_spec *sp, double e)
{
	struct lev l = lev_of(p, i);
	size_t k;

	if (sp == NULL || e >= 1.0)
		return l.nlev;
	k = rs_energy_rank_for(sp->energy, e < 0 ? 0 : e);
	if (k < 1)
		k = 1;
	k = (k + (size_t)l.a - 1) / (size_t)l.a;       /* level + 1 */
	return k > (size_t)l.nlev ? l.nlev : (int)k - 1;
}

int
rs_rankalloc_energy_rank(const struct rs_plan *p, int i, const struct rs_spec *sp, double e)
{
	struct lev l = lev_of(p, i);

	return lev_rank(&l, energy_level(p, i, sp, e));
}

/* Levels reaching energy e, eligible matrices with a spectrum. */
static void
energy_levels(const struct rs_plan *p, const struct rs_spec *const *specs, double e, int *lev)
{
	int i;

	for (i = 0; i < rs_plan_count(p); i++)
		lev[i] = energy_level(p, i, specs[i], e);
}

/* Check that every eligible matrix has a spectrum. */
static int
need_specs(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_spec *const *specs, const char *who, char **cause)
{
	int i;

	for (i = 0; i < rs_plan_count(p); i++)
		if ((elig == NULL || elig[i]) && (specs == NULL || specs[i] == NULL))
			return rs_fail(cause, RS_EINVAL, "alloc %s: no spectrum of %s: run 'spectra' "
			    "(weights) or 'calibrate' and 'spectra --kind feature' first", who,
			    rs_plan_name(p, i));
	return 0;
}

int
rs_rankalloc_energy(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_spec *const *specs, double energy, uint64_t target, int *ranks,
    double *e_out, char **cause)
{
	struct spec_prio sp = { specs, NULL, 1 };
	int *lev, i, k, rc = 0;
	double lo = 0, hi = 1;

	if ((rc = need_specs(p, elig, specs, "energy", cause)) != 0)
		return rc;
	if ((lev = levels_new(p, NULL)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	if (energy >= 0) {
		energy_levels(p, specs, energy, lev);
		for (i = 0; i < rs_plan_count(p); i++) {
			struct lev l = lev_of(p, i);
			ranks[i] = (elig != NULL && !elig[i]) ? RS_PLAN_DENSE : lev_rank(&l, lev[i]);
		}
		if (e_out != NULL)
			*e_out = energy;
		rs_free(lev);
		return 0;
	}
	energy_levels(p, specs, 1.0, lev);
	if (levels_params(p, elig, lev) <= target) {
		lo = 1.0;
	} else {
		for (k = 0; k < 64; k++) {
			double mid = 0.5 * (lo + hi);
			energy_levels(p, specs, mid, lev);
			if (levels_params(p, elig, lev) <= target)
				lo = mid;
			else
				hi = mid;
		}
	}
	energy_levels(p, specs, lo, lev);
	rc = heap_fit(p, elig, target, lev, prio_spec, &sp, ranks, cause);
	if (e_out != NULL)
		*e_out = lo;
	rs_free(lev);
	return rc;
}

/* ---------------------------------------------------------------- greedy */

int
rs_rankalloc_greedy(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_spec *const *specs, const double *w, int relative, uint64_t target,
    int *ranks, char **cause)
{
	struct spec_prio sp = { specs, w, relative };
	int *lev, rc;

	if ((rc = need_specs(p, elig, specs, "greedy", cause)) != 0)
		return rc;
	if ((lev = levels_new(p, NULL)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	rc = heap_fit(p, elig, target, lev, prio_spec, &sp, ranks, cause);
	rs_free(lev);
	return rc;
}

/* ---------------------------------------------------------------- sensitivity cut */

/* Interpolated NLL increase of matrix i at keep ratio rho: linear through the probes and
 * (1, 0); below the smallest probe, the first segment extended. */
static double
sens_at(const struct rs_sens *s, int i, double rho)
{
	const double *y = s->nll + (size_t)i * (size_t)s->n_ratios;
	double x0, x1, y0, y1;
	int k, K = s->n_ratios;

	if (rho >= 1.0)
		return 0;
	for (k = 0; k < K; k++)
		if (rho <= s->ratios[k] || k == K - 1)
			break;
	/* segment [k-1, k], or [0, 1] extended below, or [K-1, dense] above */
	if (rho > s->ratios[K - 1]) {
		x0 = s->ratios[K - 1];
		y0 = y[K - 1] - s->dense_nll;
		x1 = 1.0;
		y1 = 0;
	} else if (k == 0) {
		x0 = s->ratios[0];
		y0 = y[0] - s->dense_nll;
		x1 = K > 1 ? s->ratios[1] : 1.0;
		y1 = K > 1 ? y[1] - s->dense_nll : 0;
	} else {
		x0 = s->ratios[k - 1];
		y0 = y[k - 1] - s->dense_nll;
		x1 = s->ratios[k];
		y1 = y[k] - s->dense_nll;
	}
	if (!isfinite(y0) || !isfinite(y1) || x1 <= x0)
		return 0;
	return y0 + (rho - x0) * (y1 - y0) / (x1 - x0);
}

static double
prio_sens(void *ud, const struct rs_plan *p, int i, const struct lev *l, int from)
{
	const struct rs_sens *s = ud;
	double dense = (double)(l->m * l->n);
	double r0 = (double)lev_params(l, from) / dense, r1 = (double)lev_params(l, from + 1) / dense;
	double cost = (double)(lev_params(l, from + 1) - lev_params(l, from));

	(void)p;
	if (from + 1 >= l->nlev)
		r1 = 1.0;
	return (sens_at(s, i, r0) - sens_at(s, i, r1)) / cost;
}

/* Levels at threshold tau. */
static void
cut_levels(const struct rs_plan *p, const struct rs_sens *s, double tau, int *lev)
{
	int i, k;

	for (i = 0; i < rs_plan_count(p); i++) {
		struct lev l = lev_of(p, i);
		lev[i] = l.nlev;
		for (k = 0; k < s->n_ratios; k++) {
			double d = s->nll[(size_t)i * (size_t)s->n_ratios + (size_t)k] - s->dense_nll;
			if (isfinite(d) && d <= tau) {
				lev[i] = lev_floor(&l, s->ratios[k]);
				break;
			}
		}
	}
}

/* Ascending doubles for qsort. */
static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
rs_rankalloc_cut(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_sens *s, uint64_t target, int *ranks, double *tau_out, char **cause)
{
	size_t nc = 0, total = (size_t)s->n * (size_t)s->n_ratios, lo, hi, k;
	double *cand;
	int *lev, rc, i;

	if (s->n != rs_plan_count(p) || s->n_ratios < 1)
		return rs_fail(cause, RS_EINVAL, "alloc sensitivity: probes for another plan");
	for (i = 0; i < s->n; i++)
		if ((elig == NULL || elig[i]) &&
		    !isfinite(s->nll[(size_t)i * (size_t)s->n_ratios]))
			return rs_fail(cause, RS_EINVAL, "alloc sensitivity: %s was not probed",
			    rs_plan_name(p, i));
	cand = rs_mallocarray(total + 1, sizeof *cand);
	lev = levels_new(p, NULL);
	if (cand == NULL || lev == NULL) {
		rs_free(cand);
		rs_free(lev);
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	}
	cand[nc++] = -HUGE_VAL;
	for (k = 0; k < total; k++)
		if ((elig == NULL || elig[k / (size_t)s->n_ratios]) && isfinite(s->nll[k]))
			cand[nc++] = s->nll[k] - s->dense_nll;
	qsort(cand, nc, sizeof *cand, dbl_cmp);
	/* smallest candidate τ whose levels fit (params fall as τ grows); the last if none */
	lo = 0;
	hi = nc - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		cut_levels(p, s, cand[mid], lev);
		if (levels_params(p, elig, lev) <= target)
			hi = mid;
		else
			lo = mid + 1;
	}
	cut_levels(p, s, cand[lo], lev);
	if (tau_out != NULL)
		*tau_out = cand[lo];
	rc = heap_fit(p, elig, target, lev, prio_sens, (void *)s, ranks, cause);
	rs_free(cand);
	rs_free(lev);
	return rc;
}

/* ---------------------------------------------------------------- BO space */

int
rs_bo_space_init(struct rs_bo_space *sp, const struct rs_plan *p, unsigned types, int groups,
    char **cause)
{
	static const struct {
		const char *name;
		unsigned mask;
	} vt[] = {
		{ "qk", (1u << RS_T_Q) | (1u << RS_T_K) }, { "v", 1u << RS_T_V },
		{ "o", 1u << RS_T_O }, { "gate", 1u << RS_T_GATE }, { "up", 1u << RS_T_UP },
		{ "down", 1u << RS_T_DOWN },
	};
	size_t k;

	memset(sp, 0, sizeof *sp);
	sp->n_layers = rs_plan_n_layers(p);
	if (groups < 1 || groups > sp->n_layers)
		return rs_fail(cause, RS_EINVAL, "alloc bo: --groups %d: between 1 and the number "
		    "of layers (%d)", groups, sp->n_layers);
	for (k = 0; k < sizeof vt / sizeof vt[0]; k++) {
		unsigned m = vt[k].mask & types;
		if (m == 0)
			continue;
		sp->vtype_mask[sp->n_vtypes] = m;
		snprintf(sp->vtype_name[sp->n_vtypes], sizeof sp->vtype_name[0], "%s",
		    m == (1u << RS_T_Q) ? "q" : m == (1u << RS_T_K) ? "k" : vt[k].name);
		sp->n_vtypes++;
	}
	if (sp->n_vtypes == 0)
		return rs_fail(cause, RS_EINVAL, "alloc bo: no matrix type to search");
	sp->groups = groups;
	sp->d = sp->n_vtypes * groups;
	if (sp->d > RS_BO_MAX_VARS)
		return rs_fail(cause, RS_EINVAL, "alloc bo: %d variables (at most %d)", sp->d,
		    RS_BO_MAX_VARS);
	sp->lo = 0.05;
	sp->hi = 1.05;
	return 0;
}

int
rs_bo_space_init_profile(struct rs_bo_space *sp, const struct rs_plan *p, unsigned types,
    int groups, int n_prof, const int *const *prof, const char *const *names, char **cause)
{
	int rc, h, i, n = rs_plan_count(p);

	if (n_prof < 1 || n_prof > RS_BO_MAX_PROFILES)
		return rs_fail(cause, RS_EINVAL, "alloc bo: %d heuristic plans (1 to %d)", n_prof,
		    RS_BO_MAX_PROFILES);
	if ((rc = rs_bo_space_init(sp, p, types, groups, cause)) != 0)
		return rc;
	sp->kind = RS_BO_SPACE_PROFILE;
	sp->n_prof = n_prof;
	sp->n_mat = n;
	sp->d += n_prof;
	sp->off = log(4.0);
	if (sp->d > RS_BO_MAX_VARS)
		return rs_fail(cause, RS_EINVAL, "alloc bo: %d variables (at most %d)", sp->d,
		    RS_BO_MAX_VARS);
	if ((sp->prof_logu = rs_mallocarray((size_t)n_prof * (size_t)n, sizeof *sp->prof_logu))
	    == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc bo: out of memory");
	(void)i;
	for (h = 0; h < n_prof; h++) {
		snprintf(sp->prof_name[h], sizeof sp->prof_name[h], "%s", names[h]);
		rs_bo_space_set_profile(sp, p, h, prof[h]);
	}
	return 0;
}

void
rs_bo_space_set_profile(struct rs_bo_space *sp, const struct rs_plan *p, int h,
    const int *ranks)
{
	int i;

	for (i = 0; i < sp->n_mat; i++) {
		struct lev l = lev_of(p, i);
		sp->prof_logu[(size_t)h * (size_t)sp->n_mat + (size_t)i] = log((double)lev_params(&l,
		    lev_from_rank(&l, ranks[i])) / (double)(l.m * l.n));
	}
}

void
rs_bo_space_free(struct rs_bo_space *sp)
{
	if (sp == NULL)
		return;
	rs_free(sp->prof_logu);
	sp->prof_logu = NULL;
}

/* First offset variable of the space (0 in the ratio space). */
static int
space_first_type_var(const struct rs_bo_space *sp)
{
	return sp->kind == RS_BO_SPACE_PROFILE ? sp->n_prof : 0;
}

void
rs_bo_space_var_name(const struct rs_bo_space *sp, int j, char *buf, size_t n)
{
	int j0 = space_first_type_var(sp), t, g, l0, l1;
	const char *pre = sp->kind == RS_BO_SPACE_PROFILE ? "d." : "";

	if (j < j0) {
		snprintf(buf, n, "w.%s", sp->prof_name[j]);
		return;
	}
	j -= j0;
	t = j / sp->groups;
	g = j % sp->groups;
	l0 = (g * sp->n_layers + sp->groups - 1) / sp->groups;
	l1 = ((g + 1) * sp->n_layers + sp->groups - 1) / sp->groups - 1;
	if (sp->groups == 1)
		snprintf(buf, n, "%s%s", pre, sp->vtype_name[t]);
	else if (l0 == l1)
		snprintf(buf, n, "%s%s@L%d", pre, sp->vtype_name[t], l0);
	else
		snprintf(buf, n, "%s%s@L%d-%d", pre, sp->vtype_name[t], l0, l1);
}

void
rs_bo_space_var_text(const struct rs_bo_space *sp, int j, double x, char *buf, size_t n)
{
	double r;

	if (sp->kind == RS_BO_SPACE_PROFILE) {
		if (j < sp->n_prof)
			snprintf(buf, n, "%.2f", x);
		else
			snprintf(buf, n, "x%.2f", exp((2.0 * x - 1.0) * sp->off));
		return;
	}
	r = rs_bo_space_ratio(sp, x);
	if (r >= 1.0)
		snprintf(buf, n, "dense");
	else
		snprintf(buf, n, "%.3f", r);
}

double
rs_bo_space_ratio(const struct rs_bo_space *sp, double x)
{
	return sp->lo + x * (sp->hi - sp->lo);
}

void
rs_bo_space_profile_point(const struct rs_bo_space *sp, int h, double *x)
{
	int j;

	for (j = 0; j < sp->d; j++)
		x[j] = j < sp->n_prof ? (j == h ? 1.0 : 0.0) : 0.5;
}

/* The level nearest parameter fraction exp(lu) in log scale: ranks (j+1)·a, then dense. */
static int
lev_nearest_log(const struct lev *l, double lu)
{
	double k = exp(lu) * (double)l->m * (double)l->n / ((double)l->a * (double)(l->m +
	    l->n)), kd = (double)l->m * (double)l->n / ((double)l->a * (double)(l->m + l->n));
	double lo, hi;
	int kf;

	if (l->nlev == 0 || k >= kd)
		return l->nlev;
	if (k <= 1.0)
		return 0;
	kf = (int)floor(k);
	if (kf >= l->nlev) {
		/* between the top level and dense */
		lo = (double)l->nlev;
		hi = kd;
		return log(k) - log(lo) <= log(hi) - log(k) ? l->nlev - 1 : l->nlev;
	}
	lo = (double)kf;
	hi = (double)(kf + 1);
	return log(k) - log(lo) <= log(hi) - log(k) ? kf - 1 : kf;
}

void
rs_bo_space_ranks(const struct rs_bo_space *sp, const struct rs_plan *p, const double *x,
    double shift, int *ranks)
{
	int i, t, h, j0 = space_first_type_var(sp);
	double wsum = 0;

	if (sp->kind == RS_BO_SPACE_PROFILE)
		for (h = 0; h < sp->n_prof; h++)
			wsum += x[h];
	for (i = 0; i < rs_plan_count(p); i++) {
		struct lev l = lev_of(p, i);
		unsigned bit = 1u << rs_plan_type(p, i);
		int layer = rs_plan_layer(p, i), g = layer * sp->groups / sp->n_layers;

		ranks[i] = RS_PLAN_DENSE;
		for (t = 0; t < sp->n_vtypes; t++) {
			double lu = 0, xv = x[j0 + t * sp->groups + g];

			if (!(sp->vtype_mask[t] & bit))
				continue;
			if (sp->kind == RS_BO_SPACE_RATIO) {
				ranks[i] = lev_rank(&l, lev_nearest(&l, rs_bo_space_ratio(sp, xv)));
				continue;
			}
			for (h = 0; h < sp->n_prof; h++)
				lu += (wsum > 1e-12 ? x[h] / wsum : 1.0 / sp->n_prof) *
				    sp->prof_logu[(size_t)h * (size_t)sp->n_mat + (size_t)i];
			lu += (2.0 * xv - 1.0) * sp->off + shift;
			ranks[i] = lev_rank(&l, lev_nearest_log(&l, lu));
		}
	}
}

void
rs_bo_space_project(const struct rs_bo_space *sp, const struct rs_plan *p,
    const double *x, uint64_t target, uint64_t step, int *ranks, double *shift_out)
{
	double lo = -20, hi = 20, s;
	uint64_t P;
	int it;

	rs_bo_space_ranks(sp, p, x, 0.0, ranks);
	P = rs_rankalloc_params(p, ranks);
	if (P <= target && P + step > target) {
		if (shift_out != NULL)
			*shift_out = 0;
		return;
	}
	/* params grow with the shift: the largest shift that keeps at most T */
	for (it = 0; it < 60; it++) {
		s = 0.5 * (lo + hi);
		rs_bo_space_ranks(sp, p, x, s, ranks);
		if (rs_rankalloc_params(p, ranks) <= target)
			lo = s;
		else
			hi = s;
	}
	rs_bo_space_ranks(sp, p, x, lo, ranks);
	if (shift_out != NULL)
		*shift_out = lo;
}

/* ---------------------------------------------------------------- history */

struct rs_bo_hist *
rs_bo_hist_new(const char *config, uint64_t seed, int d, char **cause)
{
	struct rs_bo_hist *h;

	if (d < 1 || d > RS_BO_MAX_VARS) {
		rs_fail(cause, RS_EINVAL, "bo history: %d variables (1 to %d)", d, RS_BO_MAX_VARS);
		return NULL;
	}
	if ((h = rs_calloc(1, sizeof *h)) == NULL ||
	    (h->config = rs_strdup(config != NULL ? config : "")) == NULL) {
		rs_free(h);
		rs_fail(cause, RS_ENOMEM, "bo history: out of memory");
		return NULL;
	}
	h->seed = seed;
	h->chosen = -1;
	h->d = d;
	return h;
}

void
rs_bo_hist_free(struct rs_bo_hist *h)
{
	size_t k;

	if (h == NULL)
		return;
	for (k = 0; k < h->n; k++)
		rs_free(h->t[k].x);
	rs_free(h->t);
	rs_free(h->config);
	rs_free(h);
}

int
rs_bo_hist_add(struct rs_bo_hist *h, const struct rs_bo_trial *t, char **cause)
{
	struct rs_bo_trial *nt;
	double *x;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		if ((nt = rs_realloc(h->t, cap * sizeof *nt)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "bo history: out of memory");
		h->t = nt;
		h->cap = cap;
	}
	if ((x = rs_mallocarray((size_t)h->d, sizeof *x)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "bo history: out of memory");
	memcpy(x, t->x, (size_t)h->d * sizeof *x);
	h->t[h->n] = *t;
	h->t[h->n].x = x;
	h->n++;
	return 0;
}

long
rs_bo_hist_best(const struct rs_bo_hist *h)
{
	long b = -1;
	size_t k;

	for (k = 0; k < h->n; k++)
		if (h->t[k].fidelity == RS_BO_FID_FULL && (b < 0 || h->t[k].y < h->t[b].y))
			b = (long)k;
	return b;
}

void
rs_bo_hist_profile_name(const struct rs_bo_hist *h, size_t k, char *buf, size_t n)
{
	const char *s = strstr(h->config, " profiles=");
	size_t i = 0, len;

	snprintf(buf, n, "heuristic %zu", k + 1);
	if (s == NULL)
		return;
	s += 10;
	while (i < k && *s != '\0' && *s != ':' && *s != ' ')
		if (*s++ == ',')
			i++;
	len = strcspn(s, ",: ");
	if (i == k && len > 0 && len < n)
		snprintf(buf, n, "%.*s", (int)len, s);
}

int
rs_bo_hist_save(const struct rs_bo_hist *h, const char *path, char **cause)
{
	struct rs_afile *af;
	FILE *f;
	long best = -1;
	size_t k;
	int j;

	if ((af = rs_afile_open(path, cause)) == NULL)
		return RS_EIO;
	f = rs_afile_stream(af);
	fprintf(f, "# rankscope bo history v2\n# seed %llu\n# dense_params %llu\n# config %s\n",
	    (unsigned long long)h->seed, (unsigned long long)h->dense_params, h->config);
	fprintf(f, "trial,guided");
	for (j = 0; j < h->d; j++)
		fprintf(f, ",%s", h->var_names[j][0] ? h->var_names[j] : "x");
	fprintf(f, ",params,keep,objective,ppl,kl,proxy,seconds,best,fidelity,round,low_ppl,"
	    "windows\n");
	for (k = 0; k < h->n; k++) {
		const struct rs_bo_trial *t = &h->t[k];
		if (t->fidelity == RS_BO_FID_FULL && (best < 0 || t->y < h->t[best].y))
			best = (long)k;
		fprintf(f, "%zu,%d", k + 1, t->guided);
		for (j = 0; j < h->d; j++)
			fprintf(f, ",%.17g", t->x[j]);
		fprintf(f, ",%llu,%.6f,%.17g,%.17g,%.17g,%.17g,%.3f,%.17g,%d,%d,%.17g,%llu\n",
		    (unsigned long long)t->params, h->dense_params > 0 ?
		    (double)t->params / (double)h->dense_params : 0.0, t->y, t->ppl, t->kl,
		    t->proxy, t->secs, best >= 0 ? h->t[best].y : t->y, t->fidelity, t->round,
		    t->low_ppl, (unsigned long long)t->windows);
	}
	return rs_afile_commit(af, cause);
}

/* Parse one finite double field; 0 or -1. */
static int
parse_dbl(const char *s, size_t len, double *out)
{
	char buf[64], *end;

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	return errno != 0 || *end != '\0' || !isfinite(*out) ? -1 : 0;
}

int
rs_bo_hist_load(const char *path, struct rs_bo_hist **out, char **cause)
{
	struct rs_bo_hist *h = NULL;
	char *text = NULL, *line, *next, *config = NULL;
	size_t len;
	unsigned long long seed = 0, dense = 0;
	int rc, lineno = 0, have_seed = 0, d = -1, j, v2 = 0;
	char names[RS_BO_MAX_VARS][24];

	*out = NULL;
	if ((rc = rs_textfile_read(path, &text, &len, cause)) != 0)
		return rc;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		size_t ll;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		ll = strlen(line);
		if (ll > 0 && line[ll - 1] == '\r')
			line[--ll] = '\0';
		lineno++;
		if (lineno == 1 && strcmp(line, "# rankscope bo history v1") != 0 &&
		    strcmp(line, "# rankscope bo history v2") != 0) {
			rc = rs_fail(cause, RS_EFORMAT, "%s: line 1: not a rankscope bo history "
			    "(expected '# rankscope bo history v2' or v1)", path);
			goto fail;
		}
		if (lineno == 1)
			v2 = line[24] == '2';
		if (line[0] == '#') {
			if (strncmp(line, "# seed ", 7) == 0) {
				char *end;
				errno = 0;
				seed = strtoull(line + 7, &end, 10);
				if (errno != 0 || *end != '\0' || end == line + 7) {
					rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: bad seed", path,
					    lineno);
					goto fail;
				}
				have_seed = 1;
			} else if (strncmp(line, "# dense_params ", 15) == 0) {
				dense = strtoull(line + 15, NULL, 10);
			} else if (strncmp(line, "# config ", 9) == 0) {
				rs_free(config);
				if ((config = rs_strdup(line + 9)) == NULL) {
					rc = rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
					goto fail;
				}
			}
			continue;
		}
		if (ll == 0)
			continue;
		if (d < 0) {
			/* header: trial,guided,<d names>,params,keep,objective,ppl,kl,proxy,seconds,best */
			char *s = line;
			if (strncmp(line, "trial,guided,", 13) != 0) {
				rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: expected the header "
				    "'trial,guided,…'", path, lineno);
				goto fail;
			}
			s += 13;
			d = 0;
			while (*s != '\0') {
				size_t fl = strcspn(s, ",");
				if (fl == 6 && strncmp(s, "params", 6) == 0)
					break;
				if (d == RS_BO_MAX_VARS || fl == 0 || fl >= sizeof names[0]) {
					rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: bad variable "
					    "column %d (at most %d variables, names up to %zu bytes)",
					    path, lineno, d + 1, RS_BO_MAX_VARS, sizeof names[0] - 1);
					goto fail;
				}
				memcpy(names[d], s, fl);
				names[d][fl] = '\0';
				d++;
				s += fl;
				if (*s == ',')
					s++;
			}
			if (d == 0 || strcmp(s, v2 ? "params,keep,objective,ppl,kl,proxy,seconds,"
			    "best,fidelity,round,low_ppl,windows" :
			    "params,keep,objective,ppl,kl,proxy,seconds,best") != 0) {
				rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: the header's columns "
				    "are not trial,guided,VARS…,params,keep,objective,ppl,kl,proxy,"
				    "seconds,best", path, lineno);
				goto fail;
			}
			if (!have_seed || config == NULL) {
				rc = rs_fail(cause, RS_EFORMAT, "%s: the '# seed' or '# config' line "
				    "is missing before the header", path);
				goto fail;
			}
			if ((h = rs_bo_hist_new(config, seed, d, cause)) == NULL) {
				rc = RS_ENOMEM;
				goto fail;
			}
			h->dense_params = dense;
			for (j = 0; j < d; j++)
				memcpy(h->var_names[j], names[j], sizeof names[j]);
			continue;
		}
		{
			/* a row: 2 + d + 8 fields (v2: + 4) */
			double v[2 + RS_BO_MAX_VARS + 12], x[RS_BO_MAX_VARS];
			struct rs_bo_trial t;
			int nf = 0, want = 2 + d + (v2 ? 12 : 8);
			char *s = line;
			for (;;) {
				size_t fl = strcspn(s, ",");
				if (nf == want || parse_dbl(s, fl, &v[nf]) != 0) {
					rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: field %d is not a "
					    "finite number (or too many fields; %d expected)", path,
					    lineno, nf + 1, want);
					goto fail;
				}
				nf++;
				s += fl;
				if (*s == '\0')
					break;
				s++;
			}
			if (nf != want) {
				rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: %d fields, %d expected",
				    path, lineno, nf, want);
				goto fail;
			}
			if (v[0] != (double)(h->n + 1)) {
				rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: trial %g out of order "
				    "(expected %zu)", path, lineno, v[0], h->n + 1);
				goto fail;
			}
			for (j = 0; j < d; j++) {
				x[j] = v[2 + j];
				if (x[j] < 0 || x[j] > 1) {
					rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: variable %s = %g "
					    "outside [0, 1]", path, lineno, names[j], x[j]);
					goto fail;
				}
			}
			if (v[2 + d] < 0 || v[2 + d] > 1.8e19 || v[2 + d + 6] < 0) {
				rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: negative or absurd "
				    "params or seconds", path, lineno);
				goto fail;
			}
			memset(&t, 0, sizeof t);
			t.x = x;
			t.guided = v[1] != 0;
			t.params = (uint64_t)v[2 + d];
			t.y = v[2 + d + 2];
			t.ppl = v[2 + d + 3];
			t.kl = v[2 + d + 4];
			t.proxy = v[2 + d + 5];
			t.secs = v[2 + d + 6];
			if (v2) {
				if (v[2 + d + 8] < 0 || v[2 + d + 8] > 2 || v[2 + d + 9] < 0 ||
				    v[2 + d + 11] < 0 || v[1] < 0 || v[1] > 2) {
					rc = rs_fail(cause, RS_EFORMAT, "%s: line %d: bad fidelity, round, "
					    "kind or windows", path, lineno);
					goto fail;
				}
				t.guided = (int)v[1];
				t.fidelity = (int)v[2 + d + 8];
				t.round = (int)v[2 + d + 9];
				t.low_ppl = v[2 + d + 10];
				t.windows = (uint64_t)v[2 + d + 11];
			}
			if ((rc = rs_bo_hist_add(h, &t, cause)) != 0)
				goto fail;
		}
	}
	if (h == NULL) {
		rc = rs_fail(cause, RS_EFORMAT, "%s: no header line (trial,guided,…)", path);
		goto fail;
	}
	rs_free(config);
	rs_free(text);
	*out = h;
	return 0;
fail:
	rs_bo_hist_free(h);
	rs_free(config);
	rs_free(text);
	return rc;
}
