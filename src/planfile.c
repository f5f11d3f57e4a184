/* planfile.c: plan JSON/CSV writing and strict reading. */
#include "config.h"

#include "planfile.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "atomic.h"
#include "mapfile.h"
#include "status.h"

#define BUDGET_SEMANTICS "keep_decoder = kept / dense parameters of the decoder linears " \
	"(q, k, v, o, gate, up, down of every layer; a rank-r m x n matrix keeps r(m+n)); " \
	"keep_model = (kept decoder parameters + embedding and head parameters, kept dense) / " \
	"(dense decoder + embedding and head); norms are not counted"

int
rs_planfile_format_of(const char *path)
{
	size_t n = strlen(path);

	if (n >= 5 && strcmp(path + n - 5, ".json") == 0)
		return 0;
	if (n >= 4 && strcmp(path + n - 4, ".csv") == 0)
		return 1;
	return -1;
}

/* Set a key, counting failures (jansson returns -1 on out of memory). */
static void
jset(json_t *o, const char *k, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		(*bad)++;
}

/* The plan as a JSON value. */
static json_t *
plan_to_json(const struct rs_plan *p, const struct rs_model *m,
    const struct rs_planfile_meta *meta)
{
	const struct rs_model_config *c = rs_model_config(m);
	uint64_t kept = rs_plan_params(p), dense = rs_plan_dense_params(p);
	uint64_t other = rs_model_embed_head_params(m);
	json_t *root = json_object(), *mo = json_object(), *me = json_object();
	json_t *bu = json_object(), *arr = json_array();
	char id[32];
	int bad = 0, i;

	if (root == NULL || mo == NULL || me == NULL || bu == NULL || arr == NULL) {
		json_decref(root);
		json_decref(mo);
		json_decref(me);
		json_decref(bu);
		json_decref(arr);
		return NULL;
	}
	snprintf(id, sizeof id, "0x%016" PRIx64, rs_model_identity(m));
	jset(root, "format", json_string("rankscope-plan"), &bad);
	jset(root, "version", json_integer(RS_PLANFILE_VERSION), &bad);
	jset(mo, "identity", json_string(id), &bad);
	jset(mo, "architecture", json_string(c->arch), &bad);
	jset(mo, "n_layers", json_integer(c->n_layers), &bad);
	jset(mo, "dim", json_integer(c->dim), &bad);
	jset(mo, "n_heads", json_integer(c->n_heads), &bad);
	jset(mo, "n_kv_heads", json_integer(c->n_kv_heads), &bad);
	jset(mo, "head_dim", json_integer(c->head_dim), &bad);
	jset(mo, "ffn_dim", json_integer(c->ffn_dim), &bad);
	jset(mo, "vocab", json_integer(c->vocab), &bad);
	jset(mo, "path", meta->model_path != NULL ? json_string(meta->model_path) : json_null(),
	    &bad);
	jset(root, "model", mo, &bad);
	jset(me, "name", json_string(rs_method_name(meta->method)), &bad);
	jset(me, "asvd_alpha", json_real(meta->alpha), &bad);
	jset(root, "method", me, &bad);
	jset(root, "calibration", meta->calib != NULL ? json_string(meta->calib) : json_null(),
	    &bad);
	jset(root, "rank_align", json_integer(rs_plan_align(p)), &bad);
	jset(bu, "decoder_params_kept", json_integer((json_int_t)kept), &bad);
	jset(bu, "decoder_params_dense", json_integer((json_int_t)dense), &bad);
	jset(bu, "keep_decoder", json_real(dense ? (double)kept / (double)dense : 1.0), &bad);
	jset(bu, "embed_head_params", json_integer((json_int_t)other), &bad);
	jset(bu, "model_params_kept", json_integer((json_int_t)(kept + other)), &bad);
	jset(bu, "model_params_dense", json_integer((json_int_t)(dense + other)), &bad);
	jset(bu, "keep_model", json_real(dense + other ? (double)(kept + other) /
	    (double)(dense + other) : 1.0), &bad);
	jset(bu, "factored_matrices", json_integer(rs_plan_n_compressed(p)), &bad);
	jset(bu, "semantics", json_string(BUDGET_SEMANTICS), &bad);
	jset(root, "budget", bu, &bad);
	for (i = 0; i < rs_plan_count(p); i++) {
		json_t *e = json_object();
		int64_t rows, cols;
		int r = rs_plan_rank(p, i);

		if (e == NULL) {
			bad++;
			continue;
		}
		rs_plan_shape(p, i, &rows, &cols);
		jset(e, "name", json_string(rs_plan_name(p, i)), &bad);
		jset(e, "rows", json_integer(rows), &bad);
		jset(e, "cols", json_integer(cols), &bad);
		jset(e, "rank", r == RS_PLAN_DENSE ? json_string("dense") : json_integer(r), &bad);
		if (json_array_append_new(arr, e) != 0)
			bad++;
	}
	jset(root, "matrices", arr, &bad);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

char *
rs_planfile_json(const struct rs_plan *p, const struct rs_model *m,
    const struct rs_planfile_meta *meta, char **cause)
{
	json_t *j = plan_to_json(p, m, meta);
	char *s, *out;

	if (j == NULL || (s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
		json_decref(j);
		rs_fail(cause, RS_ENOMEM, "plan: out of memory");
		return NULL;
	}
	json_decref(j);
	out = rs_strdupf("%s\n", s);
	free(s);
	if (out == NULL)
		rs_fail(cause, RS_ENOMEM, "plan: out of memory");
	return out;
}

/* Append formatted text to a growing buffer; -1 when out of memory. */
static int
buf_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf != NULL ? *buf + *len : NULL, *buf != NULL ? *cap - *len : 0,
		    fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if (*buf != NULL && *len + (size_t)n < *cap) {
			*len += (size_t)n;
			return 0;
		}
		{
			size_t nc = (*cap + (size_t)n + 1) * 2;
			char *nb = rs_realloc(*buf, nc);
			if (nb == NULL)
				return -1;
			*buf = nb;
			*cap = nc;
		}
	}
}

char *
rs_planfile_csv(const struct rs_plan *p, const struct rs_model *m,
    const struct rs_planfile_meta *meta, char **cause)
{
	const struct rs_model_config *c = rs_model_config(m);
	char *buf = NULL, budget[512];
	size_t len = 0, cap = 0;
	int bad = 0, i;

	rs_plan_budget_line(p, rs_model_embed_head_params(m), budget, sizeof budget);
	bad |= buf_add(&buf, &len, &cap, "# format: rankscope-plan\n# version: %d\n",
	    RS_PLANFILE_VERSION);
	bad |= buf_add(&buf, &len, &cap, "# identity: 0x%016" PRIx64 "\n# architecture: %s\n"
	    "# shape: n_layers %d, dim %d, n_heads %d, n_kv_heads %d, head_dim %d, ffn_dim %d, "
	    "vocab %d\n", rs_model_identity(m), c->arch, c->n_layers, c->dim, c->n_heads,
	    c->n_kv_heads, c->head_dim, c->ffn_dim, c->vocab);
	if (meta->model_path != NULL)
		bad |= buf_add(&buf, &len, &cap, "# path: %s\n", meta->model_path);
	bad |= buf_add(&buf, &len, &cap, "# method: %s\n# asvd_alpha: %.17g\n",
	    rs_method_name(meta->method), meta->alpha);
	if (meta->calib != NULL)
		bad |= buf_add(&buf, &len, &cap, "# calibration: %s\n", meta->calib);
	bad |= buf_add(&buf, &len, &cap, "# rank_align: %d\n# budget: %s\n",
	    rs_plan_align(p), budget);
	bad |= buf_add(&buf, &len, &cap, "matrix,rows,cols,rank,params,keep\n");
	for (i = 0; i < rs_plan_count(p) && !bad; i++) {
		int64_t rows, cols;
		int r = rs_plan_rank(p, i);
		char rank[16];

		rs_plan_shape(p, i, &rows, &cols);
		if (r == RS_PLAN_DENSE)
			snprintf(rank, sizeof rank, "dense");
		else
			snprintf(rank, sizeof rank, "%d", r);
		bad |= buf_add(&buf, &len, &cap, "%s,%" PRId64 ",%" PRId64 ",%s,%" PRIu64 ",%.6f\n",
		    rs_plan_name(p, i), rows, cols, rank, rs_plan_params_of(p, i),
		    (double)rs_plan_params_of(p, i) / (double)rs_plan_dense_of(p, i));
	}
	if (bad) {
		rs_free(buf);
		rs_fail(cause, RS_ENOMEM, "plan: out of memory");
		return NULL;
	}
	return buf;
}

int
rs_planfile_save(const char *path, const struct rs_plan *p, const struct rs_model *m,
    const struct rs_planfile_meta *meta, char **cause)
{
	int fmt = rs_planfile_format_of(path), rc;
	char *text;

	if (fmt < 0)
		return rs_fail(cause, RS_EINVAL, "%s: a plan file ends in .json or .csv", path);
	text = fmt == 0 ? rs_planfile_json(p, m, meta, cause) : rs_planfile_csv(p, m, meta, cause);
	if (text == NULL)
		return RS_ENOMEM;
	rc = rs_afile_write_all(path, text, strlen(text), cause);
	rs_free(text);
	return rc;
}

void
rs_planfile_free(struct rs_planfile *pf)
{
	if (pf == NULL)
		return;
	rs_free(pf->ranks);
	rs_free(pf->calib);
	rs_free(pf->model_path);
	rs_free(pf);
}

/* A new, all-dense planfile for model m. */
static struct rs_planfile *
pf_new(const struct rs_model *m, char **cause)
{
	struct rs_planfile *pf;
	int i, n = rs_model_config(m)->n_layers * RS_MAT_COUNT;

	if ((pf = rs_calloc(1, sizeof *pf)) == NULL ||
	    (pf->ranks = rs_mallocarray((size_t)n, sizeof *pf->ranks)) == NULL) {
		rs_free(pf);
		rs_fail(cause, RS_ENOMEM, "plan: out of memory");
		return NULL;
	}
	pf->n = n;
	for (i = 0; i < n; i++)
		pf->ranks[i] = -2;      /* not seen yet */
	pf->align = 8;
	pf->alpha = 0.5;
	return pf;
}

/* Check the file's identity and model fields against the loaded model. */
static int
check_identity(struct rs_planfile *pf, const struct rs_model *m, const char *what,
    const int *fields, int force, char **cause)
{
	static const char *const names[] = { "n_layers", "dim", "n_heads", "n_kv_heads",
	    "head_dim", "ffn_dim", "vocab" };
	const struct rs_model_config *c = rs_model_config(m);
	const int have[] = { c->n_layers, c->dim, c->n_heads, c->n_kv_heads, c->head_dim,
	    c->ffn_dim, c->vocab };
	char diff[512] = "";
	size_t at = 0;
	int k;

	if (pf->identity == rs_model_identity(m))
		return 0;
	if (pf->arch[0] != '\0' && strcmp(pf->arch, c->arch) != 0)
		at += (size_t)snprintf(diff + at, sizeof diff - at, " architecture %s (loaded %s)",
		    pf->arch, c->arch);
	for (k = 0; k < 7 && at < sizeof diff; k++)
		if (fields[k] >= 0 && fields[k] != have[k])
			at += (size_t)snprintf(diff + at, sizeof diff - at, " %s %d (loaded %d)",
			    names[k], fields[k], have[k]);
	if (at > 0)
		return rs_fail(cause, RS_EINVAL, "%s: made for another model (identity 0x%016" PRIx64
		    ", loaded 0x%016" PRIx64 "):%s", what, pf->identity, rs_model_identity(m), diff);
	if (!force)
		return rs_fail(cause, RS_EINVAL, "%s: made for another model: identity 0x%016" PRIx64
		    " but the loaded model is 0x%016" PRIx64 " (same architecture and sizes, a "
		    "different tensor index: other dtypes, names or config); 'plan load --force' "
		    "accepts it when every shape agrees", what, pf->identity, rs_model_identity(m));
	pf->identity_differs = 1;
	return 0;
}

/* Store one matrix's rank from the file after checking name, shape and range. */
static int
put_rank(struct rs_planfile *pf, const struct rs_model *m, const char *what, const char *name,
    int64_t rows, int64_t cols, const char *rankw, long long rankv, char **cause)
{
	enum rs_tkind t;
	const struct rs_tensor *w;
	int layer, i;
	int64_t max;

	if (rs_analysis_parse_name(name, &layer, &t) != 0 ||
	    layer >= rs_model_config(m)->n_layers)
		return rs_fail(cause, RS_EFORMAT, "%s: '%.40s' is not a decoder matrix of this model",
		    what, name);
	i = layer * RS_MAT_COUNT + (int)t;
	w = rs_model_tensor(m, layer, t);
	if (pf->ranks[i] != -2)
		return rs_fail(cause, RS_EFORMAT, "%s: %s appears twice", what, name);
	if (w == NULL || w->rows != rows || w->cols != cols)
		return rs_fail(cause, RS_EFORMAT, "%s: %s: shape %" PRId64 "x%" PRId64 ", the model's "
		    "is %" PRId64 "x%" PRId64, what, name, rows, cols, w != NULL ? w->rows : 0,
		    w != NULL ? w->cols : 0);
	max = rows < cols ? rows : cols;
	if (rankw != NULL) {
		if (strcmp(rankw, "dense") != 0)
			return rs_fail(cause, RS_EFORMAT, "%s: %s: rank '%.20s' (a number or dense)",
			    what, name, rankw);
		pf->ranks[i] = RS_PLAN_DENSE;
		return 0;
	}
	if (rankv < 1 || rankv > max)
		return rs_fail(cause, RS_EFORMAT, "%s: %s: rank %lld outside 1..%" PRId64, what, name,
		    rankv, max);
	pf->ranks[i] = (int)rankv;
	return 0;
}

/* Every matrix must have been given. */
static int
check_complete(const struct rs_planfile *pf, const char *what, char **cause)
{
	int i;

	for (i = 0; i < pf->n; i++)
		if (pf->ranks[i] == -2)
			return rs_fail(cause, RS_EFORMAT, "%s: matrix L%d.%s is missing", what,
			    i / RS_MAT_COUNT, rs_tkind_name((enum rs_tkind)(i % RS_MAT_COUNT)));
	return 0;
}

/* Parse "0x<hex>" into v. */
static int
parse_identity(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || strncmp(s, "0x", 2) != 0)
		return -1;
	errno = 0;
	*v = strtoull(s + 2, &end, 16);
	return errno != 0 || end == s + 2 || *end != '\0' ? -1 : 0;
}

/* An integer field of a JSON object, or -1 when absent. */
static int
jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 1 << 30 ? (int)json_integer_value(v) : -1;
}

/* Parse the JSON format. */
static int
parse_json(const char *text, size_t len, const char *what, const struct rs_model *m, int force,
    struct rs_planfile *pf, char **cause)
{
	json_error_t err;
	json_t *j, *mo, *me, *arr, *v;
	const char *s;
	int fields[7], rc = RS_EFORMAT, k;
	size_t i;

	if ((j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err)) == NULL)
		return rs_fail(cause, RS_EFORMAT, "%s: line %d: %s", what, err.line, err.text);
	if (!json_is_object(j) || (s = json_string_value(json_object_get(j, "format"))) == NULL ||
	    strcmp(s, "rankscope-plan") != 0) {
		rs_fail(cause, RS_EFORMAT, "%s: not a rankscope plan (\"format\" is not "
		    "\"rankscope-plan\")", what);
		goto out;
	}
	v = json_object_get(j, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > RS_PLANFILE_VERSION) {
		rs_fail(cause, RS_EUNSUPPORTED, "%s: plan format version %s is not supported (this "
		    "rankscope reads 1..%d)", what, json_is_integer(v) ? "newer" : "missing",
		    RS_PLANFILE_VERSION);
		goto out;
	}
	pf->version = (int)json_integer_value(v);
	mo = json_object_get(j, "model");
	if (!json_is_object(mo) ||
	    parse_identity(json_string_value(json_object_get(mo, "identity")), &pf->identity) != 0) {
		rs_fail(cause, RS_EFORMAT, "%s: \"model\".\"identity\" is missing or not \"0x<hex>\"",
		    what);
		goto out;
	}
	if ((s = json_string_value(json_object_get(mo, "architecture"))) != NULL)
		snprintf(pf->arch, sizeof pf->arch, "%s", s);
	fields[0] = jint(mo, "n_layers");
	fields[1] = jint(mo, "dim");
	fields[2] = jint(mo, "n_heads");
	fields[3] = jint(mo, "n_kv_heads");
	fields[4] = jint(mo, "head_dim");
	fields[5] = jint(mo, "ffn_dim");
	fields[6] = jint(mo, "vocab");
	if ((rc = check_identity(pf, m, what, fields, force, cause)) != 0)
		goto out;
	rc = RS_EFORMAT;
	if ((s = json_string_value(json_object_get(mo, "path"))) != NULL &&
	    (pf->model_path = rs_strdup(s)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "%s: out of memory", what);
		goto out;
	}
	me = json_object_get(j, "method");
	if (!json_is_object(me) || (s = json_string_value(json_object_get(me, "name"))) == NULL ||
	    (k = rs_method_parse(s)) < 0) {
		rs_fail(cause, RS_EFORMAT, "%s: \"method\".\"name\" is missing or unknown", what);
		goto out;
	}
	pf->method = (enum rs_method)k;
	v = json_object_get(me, "asvd_alpha");
	if (v != NULL) {
		if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) <= 4)) {
			rs_fail(cause, RS_EFORMAT, "%s: \"method\".\"asvd_alpha\" is not in [0, 4]",
			    what);
			goto out;
		}
		pf->alpha = json_number_value(v);
	}
	v = json_object_get(j, "calibration");
	if (json_is_string(v) && (pf->calib = rs_strdup(json_string_value(v))) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "%s: out of memory", what);
		goto out;
	}
	v = json_object_get(j, "rank_align");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4096) {
			rs_fail(cause, RS_EFORMAT, "%s: \"rank_align\" is not in 1..4096", what);
			goto out;
		}
		pf->align = (int)json_integer_value(v);
	}
	arr = json_object_get(j, "matrices");
	if (!json_is_array(arr)) {
		rs_fail(cause, RS_EFORMAT, "%s: \"matrices\" is missing or not an array", what);
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i), *r;
		const char *name;
		int rows, cols;

		name = json_string_value(json_object_get(e, "name"));
		rows = jint(e, "rows");
		cols = jint(e, "cols");
		r = json_object_get(e, "rank");
		if (name == NULL || rows < 1 || cols < 1 || !(json_is_integer(r) || json_is_string(r))) {
			rs_fail(cause, RS_EFORMAT, "%s: \"matrices\"[%zu]: needs \"name\", \"rows\", "
			    "\"cols\" and \"rank\" (a number or \"dense\")", what, i);
			goto out;
		}
		if ((rc = put_rank(pf, m, what, name, rows, cols, json_string_value(r),
		    json_is_integer(r) ? (long long)json_integer_value(r) : 0, cause)) != 0)
			goto out;
		rc = RS_EFORMAT;
	}
	rc = check_complete(pf, what, cause);
out:
	json_decref(j);
	return rc;
}

/* Parse the CSV format. */
static int
parse_csv(const char *text, size_t len, const char *what, const struct rs_model *m, int force,
    struct rs_planfile *pf, char **cause)
{
	const char *p = text, *end = text + len;
	char line[1024];
	int lineno = 0, header = 0, have_id = 0, rc, k;
	int fields[7] = { -1, -1, -1, -1, -1, -1, -1 };

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		if (n >= sizeof line)
			return rs_fail(cause, RS_EFORMAT, "%s: line %d is too long", what, lineno);
		memcpy(line, p, n);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		p = nl != NULL ? nl + 1 : end;
		if (n == 0)
			continue;
		if (line[0] == '#') {
			char *colon = strstr(line, ": "), *key = line + 1, *val;
			if (colon == NULL)
				continue;
			*colon = '\0';
			val = colon + 2;
			while (*key == ' ')
				key++;
			if (strcmp(key, "format") == 0 && strcmp(val, "rankscope-plan") != 0)
				return rs_fail(cause, RS_EFORMAT, "%s: not a rankscope plan", what);
			if (strcmp(key, "version") == 0 && (atoi(val) < 1 ||
			    atoi(val) > RS_PLANFILE_VERSION))
				return rs_fail(cause, RS_EUNSUPPORTED, "%s: plan format version %.10s "
				    "is not supported (this rankscope reads 1..%d)", what, val,
				    RS_PLANFILE_VERSION);
			if (strcmp(key, "version") == 0)
				pf->version = atoi(val);
			if (strcmp(key, "identity") == 0) {
				if (parse_identity(val, &pf->identity) != 0)
					return rs_fail(cause, RS_EFORMAT, "%s: line %d: identity is not "
					    "0x<hex>", what, lineno);
				have_id = 1;
			}
			if (strcmp(key, "architecture") == 0)
				snprintf(pf->arch, sizeof pf->arch, "%s", val);
			if (strcmp(key, "shape") == 0 && sscanf(val, "n_layers %d, dim %d, n_heads %d, "
			    "n_kv_heads %d, head_dim %d, ffn_dim %d, vocab %d", &fields[0], &fields[1],
			    &fields[2], &fields[3], &fields[4], &fields[5], &fields[6]) != 7)
				return rs_fail(cause, RS_EFORMAT, "%s: line %d: bad shape line", what,
				    lineno);
			if (strcmp(key, "path") == 0 && pf->model_path == NULL &&
			    (pf->model_path = rs_strdup(val)) == NULL)
				return rs_fail(cause, RS_ENOMEM, "%s: out of memory", what);
			if (strcmp(key, "method") == 0) {
				if ((k = rs_method_parse(val)) < 0)
					return rs_fail(cause, RS_EFORMAT, "%s: line %d: unknown method "
					    "'%.20s'", what, lineno, val);
				pf->method = (enum rs_method)k;
			}
			if (strcmp(key, "asvd_alpha") == 0) {
				char *e;
				pf->alpha = strtod(val, &e);
				if (e == val || *e != '\0' || !(pf->alpha >= 0 && pf->alpha <= 4))
					return rs_fail(cause, RS_EFORMAT, "%s: line %d: asvd_alpha is not "
					    "in [0, 4]", what, lineno);
			}
			if (strcmp(key, "calibration") == 0 && pf->calib == NULL &&
			    (pf->calib = rs_strdup(val)) == NULL)
				return rs_fail(cause, RS_ENOMEM, "%s: out of memory", what);
			if (strcmp(key, "rank_align") == 0 && ((pf->align = atoi(val)) < 1 ||
			    pf->align > 4096))
				return rs_fail(cause, RS_EFORMAT, "%s: line %d: rank_align is not in "
				    "1..4096", what, lineno);
			continue;
		}
		if (!header) {
			if (strncmp(line, "matrix,rows,cols,rank", 21) != 0)
				return rs_fail(cause, RS_EFORMAT, "%s: line %d: expected the header "
				    "'matrix,rows,cols,rank,...'", what, lineno);
			if (!have_id)
				return rs_fail(cause, RS_EFORMAT, "%s: no '# identity: 0x...' line "
				    "before the header", what);
			if ((rc = check_identity(pf, m, what, fields, force, cause)) != 0)
				return rc;
			header = 1;
			continue;
		}
		{
			char name[32], rankw[16];
			long long rows, cols, rv = 0;
			char *e;
			int got = sscanf(line, "%31[^,],%lld,%lld,%15[^,\n]", name, &rows, &cols, rankw);

			if (got != 4)
				return rs_fail(cause, RS_EFORMAT, "%s: line %d: expected "
				    "matrix,rows,cols,rank", what, lineno);
			if (rows < 1 || cols < 1 || rows > INT32_MAX || cols > INT32_MAX)
				return rs_fail(cause, RS_EFORMAT, "%s: line %d: bad shape", what, lineno);
			errno = 0;
			rv = strtoll(rankw, &e, 10);
			if ((rc = put_rank(pf, m, what, name, rows, cols,
			    errno == 0 && e != rankw && *e == '\0' ? NULL : rankw, rv, cause)) != 0)
				return rc;
		}
	}
	if (!header)
		return rs_fail(cause, RS_EFORMAT, "%s: no 'matrix,rows,cols,rank' header", what);
	return check_complete(pf, what, cause);
}

int
rs_planfile_parse(const char *text, size_t len, const char *what, const struct rs_model *m,
    int force, struct rs_planfile **out, char **cause)
{
	struct rs_planfile *pf;
	size_t i = 0;
	int rc;

	*out = NULL;
	if (len > RS_PLANFILE_MAX_BYTES)
		return rs_fail(cause, RS_EFORMAT, "%s: %zu bytes is too large for a plan", what, len);
	if ((pf = pf_new(m, cause)) == NULL)
		return RS_ENOMEM;
	while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
		i++;
	if (i < len && text[i] == '{')
		rc = parse_json(text, len, what, m, force, pf, cause);
	else
		rc = parse_csv(text, len, what, m, force, pf, cause);
	if (rc != 0) {
		rs_planfile_free(pf);
		return rc;
	}
	*out = pf;
	return 0;
}

int
rs_planfile_read(const char *path, const struct rs_model *m, int force,
    struct rs_planfile **out, char **cause)
{
	struct rs_mapfile *mf;
	int rc;

	*out = NULL;
	if ((mf = rs_mapfile_open(path, cause)) == NULL)
		return RS_EIO;
	rc = rs_planfile_parse((const char *)mf->data, mf->size, path, m, force, out, cause);
	rs_mapfile_close(mf);
	return rc;
}

int
rs_planfile_apply(const struct rs_planfile *pf, struct rs_plan *p, char **cause)
{
	int i;

	if (pf->n != rs_plan_count(p))
		return rs_fail(cause, RS_EINVAL, "plan: the file is for another model");
	if (rs_plan_begin(p) != 0)
		return rs_fail(cause, RS_ENOMEM, "plan: out of memory");
	/* alignment 1 while storing, so every rank is kept exactly as in the file */
	rs_plan_set_align(p, 1);
	for (i = 0; i < pf->n; i++)
		rs_plan_set(p, i, pf->ranks[i], NULL);
	rs_plan_set_align(p, pf->align);
	rs_plan_end(p);
	return 0;
}
