/* session.c: the loaded model, tokenizer and settings. */
#include "config.h"

#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h"
#include "analysis.h"
#include "cache.h"
#include "calib.h"
#include "compress.h"
#include "model.h"
#include "plan.h"
#include "rankalloc.h"
#include "plugin.h"
#include "status.h"
#include "tokenizer.h"

struct rs_session *
rs_session_new(void)
{
	struct rs_session *s = rs_calloc(1, sizeof *s);
	const char *env;
	long n;

	if (s == NULL)
		return NULL;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	s->threads = n > 0 ? (int)n : 1;
	/* A thread count the user gave OpenBLAS is the default (-t and 'set threads' still win):
	 * two processes each running all-core BLAS on the same cores slow each other badly. */
	if ((env = getenv("OPENBLAS_NUM_THREADS")) != NULL) {
		char *end;
		long t = strtol(env, &end, 10);
		if (end != env && *end == '\0' && t >= 1 && t <= 1024)
			s->threads = (int)t;
	}
	s->method = RS_METHOD_SVD;
	s->asvd_alpha = 0.5;
	s->mouse = 1;
	s->colours = 1;
	return s;
}

void
rs_session_set_model(struct rs_session *s, struct rs_model *m, struct rs_tokenizer *t, char *path)
{
	/* The analysis and calibration belong to the old model (calib borrows it). */
	rs_analysis_free(s->analysis);
	rs_calib_free(s->calib);
	s->analysis = NULL;
	s->calib = NULL;
	/* The factor cache borrows the model too. */
	rs_compress_free(s->compress);
	s->compress = NULL;
	rs_free(s->plan_source);
	s->plan_source = NULL;
	/* a perplexity belongs to the model it was measured on */
	s->last_ppl = 0;
	s->last_ppl_protocol[0] = '\0';
	s->last_ppl_ctx = 0;
	/* trial histories and probes were measured on the old model (the evaluator stays) */
	rs_alloc_state_model_changed(s->alloc);
	/* replacements plugins made belong to the old model */
	rs_plugins_model_changed(s->plugins);
	if (s->model != NULL)
		rs_model_close(s->model);
	if (s->tok != NULL)
		rs_tokenizer_free(s->tok);
	rs_free(s->model_path);
	rs_plan_free(s->plan);
	s->plan = m != NULL ? rs_plan_new(m, NULL) : NULL;
	if (s->plan != NULL && s->rank_align > 0)
		rs_plan_set_align(s->plan, s->rank_align);
	s->model = m;
	s->tok = t;
	s->model_path = path;
}

void
rs_session_stamp(const struct rs_session *s, struct rs_plan_stamp *st)
{
	st->digest = s->plan != NULL ? rs_plan_digest(s->plan) : 0;
	st->method = s->method;
	st->asvd_alpha = s->asvd_alpha;
}

const char *
rs_session_stamp_change(const struct rs_session *s, const struct rs_plan_stamp *st)
{
	struct rs_plan_stamp now;

	rs_session_stamp(s, &now);
	if (now.digest != st->digest)
		return "plan changed";
	/* the method decomposes factored matrices only: a dense plan is the same model */
	if (s->plan != NULL && rs_plan_n_compressed(s->plan) > 0 && (now.method != st->method ||
	    (now.method == RS_METHOD_ASVD && now.asvd_alpha != st->asvd_alpha)))
		return "method changed";
	return NULL;
}

void
rs_session_set_ppl(struct rs_session *s, double ppl, const char *protocol, int ctx)
{
	s->last_ppl = ppl;
	snprintf(s->last_ppl_protocol, sizeof s->last_ppl_protocol, "%s", protocol);
	s->last_ppl_ctx = ctx;
	rs_session_stamp(s, &s->last_ppl_stamp);
}

int
rs_session_set_plan_source(struct rs_session *s, const char *path)
{
	char *owned = rs_strdup(path);

	if (owned == NULL)
		return RS_ENOMEM;
	rs_free(s->plan_source);
	s->plan_source = owned;
	rs_session_stamp(s, &s->plan_source_stamp);
	return 0;
}

void
rs_session_free(struct rs_session *s)
{
	if (s == NULL)
		return;
	rs_session_set_model(s, NULL, NULL, NULL);
	rs_alloc_state_free(s->alloc);
	rs_plugins_free(s->plugins);
	rs_cache_close(s->cache);
	rs_free(s->validation);
	rs_free(s);
}
