/* view.c: copy what the workbench draws out of the session. */
#include "config.h"

#include "view.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "compress.h"
#include "engine.h"
#include "model.h"
#include "plan.h"
#include "rankalloc.h"
#include "session.h"
#include "status.h"

void
ui_fmt_count(char *buf, size_t n, uint64_t x)
{
	if (x >= 10000000000ULL)
		snprintf(buf, n, "%.1fG", (double)x / 1e9);
	else if (x >= 10000000ULL)
		snprintf(buf, n, "%.1fM", (double)x / 1e6);
	else if (x >= 1000000ULL)
		snprintf(buf, n, "%.2fM", (double)x / 1e6);
	else if (x >= 10000ULL)
		snprintf(buf, n, "%.1fK", (double)x / 1e3);
	else
		snprintf(buf, n, "%llu", (unsigned long long)x);
}

void
ui_view_drop_spec(struct ui_view *v)
{
	rs_free(v->spec.sw);
	rs_free(v->spec.sf);
	rs_free(v->spec.ew);
	rs_free(v->spec.ef);
	memset(&v->spec, 0, sizeof v->spec);
	v->spec.index = -1;
}

/* Free the row and name arrays. */
static void
view_free_rows(struct ui_view *v)
{
	int i;

	if (v->names != NULL)
		for (i = 0; i < v->n; i++)
			rs_free(v->names[i]);
	rs_free(v->names);
	rs_free(v->rows);
	v->names = NULL;
	v->rows = NULL;
	v->n = 0;
}

void
ui_view_free(struct ui_view *v)
{
	view_free_rows(v);
	ui_view_drop_spec(v);
	ui_view_set_ref(v, NULL, 0, NULL);
}

int
ui_view_set_ref(struct ui_view *v, const int *ranks, int n, const char *label)
{
	int *copy = NULL;

	if (ranks != NULL) {
		if ((copy = rs_mallocarray((size_t)n, sizeof *copy)) == NULL)
			return RS_ENOMEM;
		memcpy(copy, ranks, (size_t)n * sizeof *copy);
	}
	rs_free(v->ref_ranks);
	v->ref_ranks = copy;
	v->ref_n = copy != NULL ? n : 0;
	snprintf(v->ref_label, sizeof v->ref_label, "%s", copy != NULL && label != NULL ? label : "");
	return 0;
}

/* The plan's file label, whether the plan left it, the method and the undo depth. */
static void
view_plan_status(struct ui_view *v, const struct rs_session *s)
{
	const char *base;

	snprintf(v->method, sizeof v->method, "%s", rs_method_name((enum rs_method)s->method));
	v->plan_label[0] = '\0';
	v->plan_unsaved = 0;
	v->undo_depth = v->redo_depth = 0;
	if (s->plan == NULL)
		return;
	v->undo_depth = rs_plan_undo_depth(s->plan);
	v->redo_depth = rs_plan_redo_depth(s->plan);
	if (s->plan_source != NULL) {
		base = strrchr(s->plan_source, '/');
		snprintf(v->plan_label, sizeof v->plan_label, "%s", base != NULL ? base + 1 :
		         s->plan_source);
		v->plan_unsaved = rs_session_stamp_change(s, &s->plan_source_stamp) != NULL;
	} else {
		/* never saved: a plan with any factored matrix is work that no file holds */
		v->plan_unsaved = rs_plan_n_compressed(s->plan) > 0;
	}
}

int
ui_view_refresh(struct ui_view *v, const struct rs_session *s)
{
	const struct rs_plan *p = s->plan;
	const struct rs_analysis *a = s->analysis;
	const char *base;
	int i, n;

	v->loaded = s->model != NULL && p != NULL;
	v->ppl = s->last_ppl;
	snprintf(v->ppl_protocol, sizeof v->ppl_protocol, "%s", s->last_ppl_protocol);
	v->ppl_ctx = s->last_ppl_ctx;
	{
		const char *why = s->last_ppl > 0 ? rs_session_stamp_change(s, &s->last_ppl_stamp) : NULL;
		snprintf(v->ppl_stale, sizeof v->ppl_stale, "%s", why != NULL ? why : "");
	}
	base = s->model_path != NULL ? strrchr(s->model_path, '/') : NULL;
	if (base != NULL && base[1] == '\0') {
		/* "dir/": take the component before the slash */
		const char *q = base;
		while (q > s->model_path && q[-1] != '/')
			q--;
		snprintf(v->model, sizeof v->model, "%.*s", (int)(base - q), q);
	} else {
		snprintf(v->model, sizeof v->model, "%s", base != NULL ? base + 1 :
		         s->model_path != NULL ? s->model_path : "");
	}
	v->desc[0] = '\0';
	view_plan_status(v, s);
	if (!v->loaded) {
		view_free_rows(v);
		ui_view_drop_spec(v);
		v->have_spectra = v->have_features = 0;
		return 0;
	}
	{
		const struct rs_model_config *mc = rs_model_config(s->model);
		snprintf(v->desc, sizeof v->desc, "%s, %d layers, dim %d", mc->arch, mc->n_layers,
		         mc->dim);
	}
	n = rs_plan_count(p);
	if (v->ref_ranks != NULL && v->ref_n != n)     /* made for another model */
		ui_view_set_ref(v, NULL, 0, NULL);
	if (n != v->n || v->rows == NULL) {
		view_free_rows(v);
		ui_view_drop_spec(v);
		if ((v->rows = rs_calloc((size_t)n, sizeof *v->rows)) == NULL ||
		    (v->names = rs_calloc((size_t)n, sizeof *v->names)) == NULL) {
			view_free_rows(v);
			v->loaded = 0;
			return RS_ENOMEM;
		}
		v->n = n;
	}
	v->align = rs_plan_align(p);
	v->params = rs_plan_params(p);
	v->dense = rs_plan_dense_params(p);
	v->other = rs_model_embed_head_params(s->model);
	v->n_compressed = rs_plan_n_compressed(p);
	{
		struct rs_budget b = { s->budget_keep, s->budget_params };
		v->budget = b.keep > 0 || b.params > 0 ? rs_budget_target(&b, p) : 0;
	}
	v->plan_version = rs_plan_version(p);
	v->have_spectra = a != NULL && rs_analysis_count(a, RS_SPEC_WEIGHT) > 0;
	v->have_features = a != NULL && (rs_analysis_count(a, RS_SPEC_CENTRED) > 0 ||
	                                 rs_analysis_count(a, RS_SPEC_UNCENTRED) > 0);
	v->ref_total = 0;
	for (i = 0; i < n; i++) {
		struct ui_row *r = &v->rows[i];
		int layer = rs_plan_layer(p, i);
		enum rs_tkind t = rs_plan_type(p, i);
		const struct rs_spec *w = a != NULL ? rs_analysis_get(a, layer, t, RS_SPEC_WEIGHT) : NULL;
		/* what `rank --energy`, `alloc` and `plan show` preview with (engine.h) */
		const struct rs_spec *f = rs_engine_feature_spec(s, layer, t);
		size_t k;

		snprintf(r->name, sizeof r->name, "%s", rs_plan_name(p, i));
		if (v->names[i] == NULL || strcmp(v->names[i], r->name) != 0) {
			rs_free(v->names[i]);
			v->names[i] = rs_strdup(r->name);
		}
		rs_plan_shape(p, i, &r->rows, &r->cols);
		r->rank = rs_plan_rank(p, i);
		r->max_rank = rs_plan_max_rank(p, i);
		r->break_even = rs_plan_break_even(p, i);
		r->params = rs_plan_params_of(p, i);
		r->dense = rs_plan_dense_of(p, i);
		k = r->rank == RS_PLAN_DENSE ? (size_t)r->max_rank : (size_t)r->rank;
		r->we = w != NULL ? rs_energy_kept(w->energy, k) : -1;
		r->fe = f != NULL ? rs_energy_kept(f->energy, k) : -1;
		r->err_feature = f != NULL;
		if (f != NULL)
			r->err = r->rank == RS_PLAN_DENSE ? 0.0 : rs_spec_error(f, k);
		else if (w != NULL)
			r->err = r->rank == RS_PLAN_DENSE ? 0.0 : rs_spec_error(w, k);
		else
			r->err = -1;
		r->alpha = w != NULL && w->st.alpha_ok ? w->st.alpha : -1;
		r->stable = w != NULL ? w->st.stable_rank : -1;
		r->r90 = w != NULL ? (double)w->st.rank90 : -1;
		r->r99 = w != NULL ? (double)w->st.rank99 : -1;
		if (v->ref_ranks != NULL) {
			const struct rs_spec *e = f != NULL ? f : w;
			int rk = v->ref_ranks[i];
			r->ref_rank = rk;
			r->ref_params = rk == RS_PLAN_DENSE ? r->dense :
			                (uint64_t)rk * (uint64_t)(r->rows + r->cols);
			r->ref_err = rk == RS_PLAN_DENSE ? 0.0 : e != NULL ? rs_spec_error(e, (size_t)rk) : -1;
			v->ref_total += r->ref_params;
		}
	}
	return 0;
}

/* Copy sv[r] and its cumulative energy into fresh arrays. */
static int
view_copy(const struct rs_spec *s, double **sv, double **en, size_t *r)
{
	size_t k;

	*sv = *en = NULL;
	*r = 0;
	if (s == NULL || s->r == 0)
		return 0;
	if ((*sv = rs_mallocarray(s->r, sizeof **sv)) == NULL ||
	    (*en = rs_mallocarray(s->r, sizeof **en)) == NULL) {
		rs_free(*sv);
		*sv = NULL;
		return RS_ENOMEM;
	}
	memcpy(*sv, s->sv, s->r * sizeof **sv);
	for (k = 0; k < s->r; k++)
		(*en)[k] = rs_energy_kept(s->energy, k + 1);
	*r = s->r;
	return 0;
}

int
ui_view_load_spec(struct ui_view *v, const struct rs_session *s, int i, int force)
{
	const struct rs_analysis *a = s->analysis;
	int layer, rc;
	enum rs_tkind t;

	if (!force && v->spec.index == i)
		return 0;
	ui_view_drop_spec(v);
	if (s->plan == NULL || i < 0 || i >= rs_plan_count(s->plan))
		return 0;
	v->spec.index = i;
	if (a == NULL)
		return 0;
	layer = rs_plan_layer(s->plan, i);
	t = rs_plan_type(s->plan, i);
	if ((rc = view_copy(rs_analysis_get(a, layer, t, RS_SPEC_WEIGHT), &v->spec.sw, &v->spec.ew,
	                    &v->spec.rw)) != 0 ||
	    (rc = view_copy(rs_engine_feature_spec(s, layer, t), &v->spec.sf, &v->spec.ef, &v->spec.rf)) != 0) {
		ui_view_drop_spec(v);
		return rc;
	}
	return 0;
}
