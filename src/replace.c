/* replace.c: the plugins' dense replacements of decoder linears (replace.h). */
#include "config.h"

#include "replace.h"

#include <cblas.h>
#include <string.h>

#include "alloc.h"
#include "forward.h"

struct rs_replace {
	int n;				/* n_layers * RS_MAT_COUNT, 0 before the first */
	float **w;			/* (n) owned, or NULL */
	char **owner;			/* (n) owned names */
	int64_t *rows, *cols;		/* (n) shapes */
};

struct rs_replace *
rs_replace_new(void)
{
	return rs_calloc(1, sizeof(struct rs_replace));
}

void
rs_replace_clear(struct rs_replace *r, const char *owner)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		if (r->w[i] != NULL && (owner == NULL || strcmp(r->owner[i], owner) == 0)) {
			rs_free(r->w[i]);
			rs_free(r->owner[i]);
			r->w[i] = NULL;
			r->owner[i] = NULL;
		}
}

void
rs_replace_free(struct rs_replace *r)
{
	if (r == NULL)
		return;
	rs_replace_clear(r, NULL);
	rs_free(r->w);
	rs_free(r->owner);
	rs_free(r->rows);
	rs_free(r->cols);
	rs_free(r);
}

/* Make sure the store has a slot per decoder linear of model m. */
static int
replace_ready(struct rs_replace *r, const struct rs_model *m)
{
	int n = rs_model_config(m)->n_layers * RS_MAT_COUNT, i;

	if (r->n == n)
		return 0;
	rs_replace_clear(r, NULL);
	rs_free(r->w);
	rs_free(r->owner);
	rs_free(r->rows);
	rs_free(r->cols);
	r->n = 0;
	r->w = rs_calloc((size_t)n, sizeof *r->w);
	r->owner = rs_calloc((size_t)n, sizeof *r->owner);
	r->rows = rs_calloc((size_t)n, sizeof *r->rows);
	r->cols = rs_calloc((size_t)n, sizeof *r->cols);
	if (r->w == NULL || r->owner == NULL || r->rows == NULL || r->cols == NULL)
		return RS_ENOMEM;
	for (i = 0; i < n; i++) {
		const struct rs_tensor *t = rs_model_tensor(m, i / RS_MAT_COUNT,
		    (enum rs_tkind)(i % RS_MAT_COUNT));
		r->rows[i] = t != NULL ? t->rows : 0;
		r->cols[i] = t != NULL ? t->cols : 0;
	}
	r->n = n;
	return 0;
}

int
rs_replace_put(struct rs_replace *r, const struct rs_model *m, int layer, enum rs_tkind t,
    float *w, const char *owner, char **cause)
{
	const struct rs_tensor *tt;
	char *o;
	int i;

	if (w == NULL)
		return rs_fail(cause, RS_EINVAL, "replace: no matrix");
	if (layer < 0 || layer >= rs_model_config(m)->n_layers || (int)t < 0 ||
	    (int)t >= RS_MAT_COUNT || (tt = rs_model_tensor(m, layer, t)) == NULL) {
		rs_free(w);
		return rs_fail(cause, RS_EINVAL, "replace: matrix (%d, %d) does not exist", layer,
		    (int)t);
	}
	if (replace_ready(r, m) != 0 || (o = rs_strdup(owner != NULL ? owner : "?")) == NULL) {
		rs_free(w);
		return rs_fail(cause, RS_ENOMEM, "replace: out of memory");
	}
	i = layer * RS_MAT_COUNT + (int)t;
	rs_free(r->w[i]);
	rs_free(r->owner[i]);
	r->w[i] = w;
	r->owner[i] = o;
	return 0;
}

const float *
rs_replace_get(const struct rs_replace *r, int layer, enum rs_tkind t, int64_t *rows,
    int64_t *cols)
{
	int i = layer * RS_MAT_COUNT + (int)t;

	if (r == NULL || layer < 0 || (int)t < 0 || (int)t >= RS_MAT_COUNT || i >= r->n ||
	    r->w[i] == NULL)
		return NULL;
	if (rows != NULL)
		*rows = r->rows[i];
	if (cols != NULL)
		*cols = r->cols[i];
	return r->w[i];
}

int
rs_replace_count(const struct rs_replace *r, const char **owner)
{
	int i, n = 0;

	if (owner != NULL)
		*owner = NULL;
	for (i = 0; r != NULL && i < r->n; i++)
		if (r->w[i] != NULL) {
			if (n == 0 && owner != NULL)
				*owner = r->owner[i];
			n++;
		}
	return n;
}

/* The dense product of a replacement: y = x W^T. */
static int
replace_apply(void *ud, int layer, enum rs_tkind mat, const float *x, int n_rows, int in,
    float *y, int out)
{
	const float *w = ud;

	(void)layer;
	(void)mat;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_rows, out, in, 1.0f, x, in, w, in,
	    0.0f, y, out);
	return 0;
}

int
rs_replace_install(const struct rs_replace *r, struct rs_forward *f, char **cause)
{
	struct rs_linear_override ov;
	int i, rc;

	for (i = 0; r != NULL && i < r->n; i++) {
		if (r->w[i] == NULL)
			continue;
		ov.apply = replace_apply;
		ov.ud = r->w[i];
		if ((rc = rs_forward_set_override(f, i / RS_MAT_COUNT,
		    (enum rs_tkind)(i % RS_MAT_COUNT), &ov)) != 0)
			return rs_fail(cause, rc, "plugin replacement %d: %s", i, rs_status_str(rc));
	}
	return 0;
}
