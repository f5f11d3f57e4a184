/* engine.c: the session's model evaluated and previewed under its plan (engine.h). */
#include "config.h"

#include "engine.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "calib.h"
#include "export.h"
#include "forward.h"
#include "out.h"
#include "plan.h"
#include "planfile.h"
#include "plugin.h"
#include "replace.h"
#include "session.h"

struct rs_compress *
rs_engine_compress(struct rs_session *s, char **cause)
{
	if (s->model == NULL) {
		rs_fail(cause, RS_EINVAL, "no model loaded");
		return NULL;
	}
	if (s->compress == NULL)
		s->compress = rs_compress_new(s->model, rs_compress_default_budget(), cause);
	return s->compress;
}

void
rs_engine_src(struct rs_session *s, struct rs_compress_src *src)
{
	memset(src, 0, sizeof *src);
	src->method = (enum rs_method)s->method;
	src->alpha = s->asvd_alpha;
	src->calib = s->calib != NULL && rs_calib_complete(s->calib) ? s->calib : NULL;
	src->cache = s->cache;
}

int
rs_engine_build(struct rs_session *s, void (*note)(void *, const char *), void *ud,
    struct rs_compress_set **out, struct rs_job *job, char **cause)
{
	struct rs_compress_src src;
	struct rs_compress *c;

	*out = NULL;
	if (s->plan == NULL || rs_plan_n_compressed(s->plan) == 0)
		return 0;
	if ((c = rs_engine_compress(s, cause)) == NULL)
		return RS_ENOMEM;
	rs_engine_src(s, &src);
	src.note = note;
	src.ud = ud;
	return rs_compress_build(c, s->plan, &src, out, job, cause);
}

int
rs_engine_n_replaced(const struct rs_session *s, const char **owner)
{
	return rs_replace_count(rs_plugins_replacements(s->plugins), owner);
}

int
rs_engine_install(struct rs_session *s, const struct rs_compress_set *set,
    struct rs_forward *f, char **cause)
{
	int rc;

	if (set != NULL) {
		if ((rc = rs_compress_install(set, f, cause)) != 0)
			return rc;
	} else {
		rs_forward_clear_overrides(f);
	}
	/* a replacement is installed last, so it wins over a factor pair of the same matrix */
	if ((rc = rs_replace_install(rs_plugins_replacements(s->plugins), f, cause)) != 0)
		rs_forward_clear_overrides(f);
	return rc;
}

int
rs_engine_open(struct rs_session *s, int rows, int window, int dense,
    void (*note)(void *, const char *), void *ud, const struct rs_out *out,
    struct rs_engine_pass *p, struct rs_job *job, char **cause)
{
	const char *owner = NULL;
	int rc;

	memset(p, 0, sizeof *p);
	if (s->model == NULL)
		return rs_fail(cause, RS_EINVAL, "no model loaded");
	rs_forward_set_threads(s->threads);
	if ((p->f = rs_forward_new(s->model, rows, window, cause)) == NULL)
		return RS_ENOMEM;
	if (dense)
		return 0;
	if ((rc = rs_engine_build(s, note, ud, &p->set, job, cause)) != 0 ||
	    (rc = rs_engine_install(s, p->set, p->f, cause)) != 0) {
		rs_engine_close(p);
		return rc;
	}
	p->n_factored = p->set != NULL ? rs_compress_set_count(p->set) : 0;
	p->n_replaced = rs_engine_n_replaced(s, &owner);
	if (p->n_replaced > 0 && out != NULL)
		rs_out_printf(out, "%d decoder matrices run as plugin %s's replacements (dense, "
		    "dequantized or pruned)\n", p->n_replaced, owner);
	return 0;
}

void
rs_engine_close(struct rs_engine_pass *p)
{
	rs_forward_free(p->f);
	rs_compress_set_free(p->set);
	memset(p, 0, sizeof *p);
}

int
rs_engine_modified(struct rs_session *s)
{
	return (s->plan != NULL && rs_plan_n_compressed(s->plan) > 0) ||
	    rs_engine_n_replaced(s, NULL) > 0;
}

/* The spectrum kinds in the order the method previews with (engine.h). */
static const enum rs_spec_kind *
preview_order(const struct rs_session *s)
{
	static const enum rs_spec_kind whiten[] = { RS_SPEC_UNCENTRED, RS_SPEC_CENTRED,
	    RS_SPEC_WEIGHT };
	static const enum rs_spec_kind other[] = { RS_SPEC_CENTRED, RS_SPEC_UNCENTRED,
	    RS_SPEC_WEIGHT };

	return s->method == RS_METHOD_WHITEN ? whiten : other;
}

const struct rs_spec *
rs_engine_preview_spec(const struct rs_session *s, int layer, enum rs_tkind t)
{
	const enum rs_spec_kind *order = preview_order(s);
	const struct rs_spec *sp;
	int k;

	if (s->analysis == NULL)
		return NULL;
	for (k = 0; k < 3; k++)
		if ((sp = rs_analysis_get(s->analysis, layer, t, order[k])) != NULL)
			return sp;
	return NULL;
}

const struct rs_spec *
rs_engine_feature_spec(const struct rs_session *s, int layer, enum rs_tkind t)
{
	const struct rs_spec *sp = rs_engine_preview_spec(s, layer, t);

	return sp != NULL && sp->kind != RS_SPEC_WEIGHT ? sp : NULL;
}

void
rs_engine_set_calib(struct rs_session *s, struct rs_calib *c)
{
	/* feature spectra of another calibration no longer apply */
	if (s->calib == NULL || c == NULL ||
	    strcmp(rs_calib_identity(s->calib), rs_calib_identity(c)) != 0) {
		rs_analysis_drop_kind(s->analysis, RS_SPEC_CENTRED);
		rs_analysis_drop_kind(s->analysis, RS_SPEC_UNCENTRED);
	}
	if (s->calib != c)
		rs_calib_free(s->calib);
	s->calib = c;
}

void
rs_engine_desc(struct rs_session *s, char *buf, size_t n)
{
	enum rs_method m = (enum rs_method)s->method;
	const char *owner = NULL, *data = "";
	char alpha[32] = "", repl[160] = "", src[300];
	int nr = rs_engine_n_replaced(s, &owner);

	if (nr > 0)
		snprintf(repl, sizeof repl, "; %d decoder matrices replaced by plugin %s", nr,
		    owner);
	if (s->plan == NULL || rs_plan_n_compressed(s->plan) == 0) {
		if (nr > 0)
			snprintf(buf, n, "the model with %d decoder matrices replaced by plugin %s "
			    "(no factored matrix)", nr, owner);
		else
			snprintf(buf, n, "the dense model (every decoder matrix dense)");
		return;
	}
	if (m == RS_METHOD_ASVD)
		snprintf(alpha, sizeof alpha, " (alpha %g)", s->asvd_alpha);
	if (rs_method_needs_calib(m))
		data = s->calib != NULL && rs_calib_complete(s->calib) ?
		    ", with the session's calibration" :
		    s->compress != NULL && rs_compress_n_fixed(s->compress) > 0 ?
		    ", factors from the loaded file" : ", no calibration yet";
	/* the file names the plan only while the plan is still what was loaded or saved */
	if (s->plan_source == NULL)
		src[0] = '\0';
	else if (rs_session_stamp_change(s, &s->plan_source_stamp) != NULL)
		snprintf(src, sizeof src, " (unsaved: edited since %s)", s->plan_source);
	else
		snprintf(src, sizeof src, " (from %s)", s->plan_source);
	snprintf(buf, n, "the plan%s: %d of %d decoder matrices factored, method %s%s%s%s",
	    src, rs_plan_n_compressed(s->plan),
	    rs_plan_count(s->plan), rs_method_name(m), alpha, data, repl);
}

void
rs_engine_print_budget(struct rs_session *s, const struct rs_out *out, const char *who)
{
	char line[512];

	if (s->plan == NULL || rs_plan_n_compressed(s->plan) == 0)
		return;
	rs_plan_budget_line(s->plan, rs_model_embed_head_params(s->model), line, sizeof line);
	rs_out_printf(out, "%s: %s\n", who, line);
}

void
rs_engine_plan_meta(const struct rs_session *s, struct rs_planfile_meta *meta)
{
	memset(meta, 0, sizeof *meta);
	meta->method = (enum rs_method)s->method;
	meta->alpha = s->asvd_alpha;
	meta->calib = s->calib != NULL && rs_calib_complete(s->calib) ?
	    rs_calib_identity(s->calib) : NULL;
	meta->model_path = s->model_path;
}

void
rs_engine_export_src(const struct rs_session *s, struct rs_export_src *src)
{
	memset(src, 0, sizeof *src);
	src->model = s->model;
	src->path = s->model_path;
	src->plan = s->plan;
	rs_engine_plan_meta(s, &src->meta);
}
