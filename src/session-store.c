/* session-store.c: the last session's plan per model, under $XDG_STATE_HOME/rankscope/plans. */
#include "config.h"

#include "session-store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "atomic.h"
#include "engine.h"
#include "model.h"
#include "plan.h"
#include "planfile.h"
#include "session.h"
#include "status.h"
#include "xdg.h"

/* The directory of the kept plans (allocated). */
static char *
store_dir(char **cause)
{
	return rs_xdg_path(RS_XDG_STATE, "plans", cause);
}

char *
rs_session_store_path(const struct rs_session *s, char **cause)
{
	char *d, *p;

	if (s->model == NULL || s->plan == NULL) {
		rs_fail(cause, RS_EINVAL, "session store: no model loaded");
		return NULL;
	}
	if ((d = store_dir(cause)) == NULL)
		return NULL;
	p = rs_strdupf("%s/%016" PRIx64 ".json", d, rs_model_identity(s->model));
	rs_free(d);
	if (p == NULL)
		rs_fail(cause, RS_ENOMEM, "out of memory");
	return p;
}

int
rs_session_store_save(const struct rs_session *s, char **cause)
{
	struct rs_planfile_meta meta;
	char *d, *p;
	int rc;

	if ((p = rs_session_store_path(s, cause)) == NULL)
		return RS_EINVAL;
	if ((d = store_dir(cause)) == NULL) {
		rs_free(p);
		return RS_EIO;
	}
	rs_engine_plan_meta(s, &meta);
	if ((rc = rs_mkdir_p(d, cause)) == 0)
		rc = rs_planfile_save(p, s->plan, s->model, &meta, cause);
	rs_free(d);
	rs_free(p);
	return rc;
}

int
rs_session_store_restore(struct rs_session *s, char **path, char **cause)
{
	struct rs_planfile *pf;
	struct stat st;
	char *p;
	int rc, i, factored = 0;

	*path = NULL;
	if ((p = rs_session_store_path(s, cause)) == NULL)
		return RS_EINVAL;
	if (stat(p, &st) != 0 && errno == ENOENT) {
		rs_free(p);
		return 1;
	}
	if ((rc = rs_planfile_read(p, s->model, 0, &pf, cause)) != 0) {
		*path = p;
		return rc;
	}
	for (i = 0; i < pf->n; i++)
		factored += pf->ranks[i] != RS_PLAN_DENSE;
	if (factored == 0) {
		rs_planfile_free(pf);
		rs_free(p);
		return 1;
	}
	if ((rc = rs_planfile_apply(pf, s->plan, cause)) == 0) {
		s->method = pf->method;
		s->asvd_alpha = pf->alpha;
	}
	rs_planfile_free(pf);
	*path = p;
	return rc;
}
