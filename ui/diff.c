/* diff.c: the diff columns' reference plan. */
#include "config.h"

#include "diff.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "model.h"
#include "plan.h"
#include "planfile.h"
#include "session.h"
#include "status.h"

void
ui_diff_note_alloc(struct ui_table *t, const struct rs_session *s)
{
	int i, n;
	int *r;

	if (s->plan == NULL)
		return;
	n = rs_plan_count(s->plan);
	if ((r = rs_mallocarray((size_t)n, sizeof *r)) == NULL)
		return;         /* only the reference is lost */
	for (i = 0; i < n; i++)
		r[i] = rs_plan_rank(s->plan, i);
	rs_free(t->alloc_ranks);
	t->alloc_ranks = r;
	t->alloc_n = n;
	t->alloc_model = s->model != NULL ? rs_model_identity(s->model) : 0;
}

/* Whether the last allocation's plan belongs to the loaded model. */
static int
diff_have_alloc(const struct ui_table *t, const struct rs_session *s)
{
	return t->alloc_ranks != NULL && s->model != NULL &&
	       t->alloc_model == rs_model_identity(s->model) && s->plan != NULL &&
	       t->alloc_n == rs_plan_count(s->plan);
}

void
ui_diff_cycle(struct ui_table *t, const struct rs_session *s, char *msg, size_t n)
{
	msg[0] = '\0';
	if (t->diff == 0 && s->plan_source != NULL)
		t->diff = 1;
	else if (t->diff <= 1 && diff_have_alloc(t, s))
		t->diff = 2;
	else if (t->diff == 0)
		snprintf(msg, n, "diff: nothing to compare with yet: 'plan save FILE', 'plan load "
		         "FILE' or an 'alloc' gives a reference");
	else
		t->diff = 0;
}

void
ui_diff_update(struct ui_table *t, struct ui_view *v, const struct rs_session *s, char *msg,
               size_t n)
{
	struct rs_planfile *pf = NULL;
	char *cause = NULL;
	const char *base;

	msg[0] = '\0';
	if (t->diff == 2 && diff_have_alloc(t, s)) {
		if (ui_view_set_ref(v, t->alloc_ranks, t->alloc_n, "last alloc") == 0)
			return;
	} else if (t->diff == 1 && s->plan_source != NULL && s->model != NULL) {
		if (rs_planfile_read(s->plan_source, s->model, 1, &pf, &cause) == 0) {
			base = strrchr(s->plan_source, '/');
			if (ui_view_set_ref(v, pf->ranks, pf->n, base != NULL ? base + 1 :
			                    s->plan_source) == 0) {
				rs_planfile_free(pf);
				return;
			}
			rs_planfile_free(pf);
		} else {
			snprintf(msg, n, "diff: %s", cause != NULL ? cause : "cannot read the plan file");
			rs_free(cause);
		}
	}
	if (t->diff != 0 && msg[0] == '\0')
		snprintf(msg, n, "diff: the reference is gone (another model or no file): diff off");
	t->diff = 0;
	ui_view_set_ref(v, NULL, 0, NULL);
}
