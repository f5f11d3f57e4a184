/* host.c: the services rankscope offers plugins (struct rs_host), on top of the session, the
 * model, the forward pass and the compress module; and the dense replacements plugins install. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <jansson.h>

#include "../plugins/rankscope-plugin.h"
#include "alloc.h"
#include "atomic.h"
#include "cmd.h"
#include "compress.h"
#include "dtype.h"
#include "engine.h"
#include "export.h"
#include "forward.h"
#include "model.h"
#include "out.h"
#include "plugin.h"
#include "replace.h"
#include "ppl.h"
#include "safetensors.h"
#include "session.h"
#include "st-write.h"
#include "textfile.h"
#include "tokenizer.h"

#define HOST_ROWS_TARGET 2048	/* tokens per forward call */

int
rs_host_run_cmd(struct rs_cmd_ctx *ctx, const struct rs_plugin_cmd *pc, void *state,
    const struct rs_args *args)
{
	struct rs_host_call call;
	struct rs_host h;
	char *cause = NULL;
	int rc;

	call.s = ctx->session;
	call.out = ctx->out;
	call.job = ctx->job;
	rs_host_fill(&h, &call);
	rc = pc->exec(state, &h, args->argc, args->argv, (const char *const *)args->vals, &cause);
	if (rc > 0)
		rc = RS_EINVAL;	/* plugins return 0 or a negative status */
	if (rc != 0) {
		rs_free(ctx->cause);
		ctx->cause = cause != NULL ? cause : rs_strdupf("%s: %s", pc->name,
		    rs_status_str(rc));
	} else {
		rs_free(cause);
	}
	return rc;
}

/* The session's registry, loading the plugins on first use. */
struct rs_plugins *
rs_plugins_session(struct rs_session *s)
{
	struct rs_host_call call;
	struct rs_host h;

	if (s->plugins == NULL) {
		if ((s->plugins = rs_plugins_new(rs_host_run_cmd, NULL)) == NULL)
			return NULL;
		call.s = s;
		call.out = NULL;
		call.job = NULL;
		rs_host_fill(&h, &call);
		rs_plugins_load_default(s->plugins, &h);
	}
	return s->plugins;
}

/* A plugin command by exact name, for the dispatcher. */
const struct rs_cmd_entry *
rs_plugins_session_cmd(struct rs_session *s, const char *name)
{
	if (s == NULL)
		return NULL;
	return rs_plugins_cmd(rs_plugins_session(s), name);
}

/* The session's replacement store, or NULL. */
static struct rs_replace *
state_of(struct rs_session *s)
{
	return rs_plugins_replacements(rs_plugins_session(s));
}

/* ---- services */

/* The call context behind h->ctx. */
static struct rs_host_call *
call_of(void *ctx)
{
	return ctx;
}

/* Print through the running command's sink (dropped outside a command). */
static void
h_print(void *ctx, enum rs_plugin_out kind, const char *fmt, ...)
{
	struct rs_host_call *c = call_of(ctx);
	va_list ap;

	if (c->out == NULL)
		return;
	va_start(ap, fmt);
	rs_out_vprintf(c->out, kind == RS_PLUGIN_OUT_ERROR ? RS_OUT_ERROR :
	    kind == RS_PLUGIN_OUT_INFO ? RS_OUT_INFO : RS_OUT_TEXT, fmt, ap);
	va_end(ap);
}

/* Has the user cancelled the running command? */
static int
h_cancelled(void *ctx)
{
	return rs_job_cancelled(call_of(ctx)->job);
}

/* Report progress of the running command. */
static void
h_progress(void *ctx, double done, double total, const char *what)
{
	rs_job_progress(call_of(ctx)->job, done, total, what);
}

/* Describe the loaded model. */
static int
h_model(void *ctx, struct rs_plugin_model *out, char **cause)
{
	struct rs_session *s = call_of(ctx)->s;
	const struct rs_model_config *c;

	if (s->model == NULL)
		return rs_fail(cause, RS_EINVAL, "no model loaded (use 'load PATH')");
	c = rs_model_config(s->model);
	memset(out, 0, sizeof *out);
	out->path = s->model_path != NULL ? s->model_path : rs_model_path(s->model);
	out->arch = c->arch;
	out->n_layers = c->n_layers;
	out->dim = c->dim;
	out->n_heads = c->n_heads;
	out->n_kv_heads = c->n_kv_heads;
	out->head_dim = c->head_dim;
	out->ffn_dim = c->ffn_dim;
	out->vocab = c->vocab;
	out->ctx_len = c->ctx_len;
	out->linear_params = rs_model_linear_params(s->model);
	out->embed_head_params = rs_model_embed_head_params(s->model);
	return 0;
}

/* The tensor of a decoder linear, or NULL when out of range. */
static const struct rs_tensor *
lin_tensor(struct rs_session *s, int layer, int mat)
{
	if (s->model == NULL || layer < 0 || layer >= rs_model_config(s->model)->n_layers ||
	    mat < 0 || mat >= RS_MAT_COUNT)
		return NULL;
	return rs_model_tensor(s->model, layer, (enum rs_tkind)mat);
}

/* Shape of a decoder linear. */
static int
h_matrix_shape(void *ctx, int layer, enum rs_plugin_mat mat, int64_t *rows, int64_t *cols)
{
	const struct rs_tensor *t = lin_tensor(call_of(ctx)->s, layer, (int)mat);

	if (t == NULL)
		return RS_EINVAL;
	*rows = t->rows;
	*cols = t->cols;
	return 0;
}

/* Original weights of a decoder linear as float32. */
static int
h_matrix_rows(void *ctx, int layer, enum rs_plugin_mat mat, int64_t row0, int64_t n, float *dst,
    char **cause)
{
	struct rs_session *s = call_of(ctx)->s;
	const struct rs_tensor *t = lin_tensor(s, layer, (int)mat);

	if (t == NULL)
		return rs_fail(cause, RS_EINVAL, "matrix (%d, %d) does not exist", layer, (int)mat);
	if (rs_model_tensor_rows_f32(s->model, t, row0, n, dst) != 0)
		return rs_fail(cause, RS_EINVAL, "%s: rows %lld..%lld outside %lld", t->name,
		    (long long)row0, (long long)(row0 + n), (long long)t->rows);
	return 0;
}

/* Take w as the replacement of (layer, mat). */
static int
h_replace(void *ctx, const char *owner, int layer, enum rs_plugin_mat mat, float *w,
    char **cause)
{
	struct rs_session *s = call_of(ctx)->s;
	struct rs_replace *r = state_of(s);

	if (s->model == NULL || r == NULL) {
		rs_free(w);
		return rs_fail(cause, RS_EINVAL, "replace: no model loaded");
	}
	return rs_replace_put(r, s->model, layer, (enum rs_tkind)mat, w, owner, cause);
}

/* Drop replacements. */
static void
h_replace_clear(void *ctx, const char *owner)
{
	rs_replace_clear(state_of(call_of(ctx)->s), owner);
}

/* The replacement of (layer, mat), or NULL. */
static const float *
h_replacement(void *ctx, int layer, enum rs_plugin_mat mat)
{
	struct rs_session *s = call_of(ctx)->s;

	if (lin_tensor(s, layer, (int)mat) == NULL)
		return NULL;
	return rs_replace_get(state_of(s), layer, (enum rs_tkind)mat, NULL, NULL);
}

/* Tokenize a text file, BOS first. */
static int
h_tokenize_file(void *ctx, const char *path, int32_t **ids, size_t *n, char **cause)
{
	struct rs_session *s = call_of(ctx)->s;
	char *text = NULL;
	size_t len;
	int rc;

	if (s->tok == NULL)
		return rs_fail(cause, RS_EINVAL, "no tokenizer loaded (use 'load PATH')");
	if ((rc = rs_textfile_read(path, &text, &len, cause)) != 0)
		return rc;
	rc = rs_tokenizer_encode(s->tok, text, len, 1, ids, n, cause);
	rs_free(text);
	return rc;
}

/* A pass of the model as the session evaluates it (engine.h), windows of `window` tokens. */
static int
open_pass(struct rs_session *s, int window, struct rs_engine_pass *p, struct rs_job *job,
    char **cause)
{
	int rows = window * (HOST_ROWS_TARGET / window > 1 ? HOST_ROWS_TARGET / window : 1);

	return rs_engine_open(s, rows, window, 0, NULL, NULL, NULL, p, job, cause);
}

struct hook_adapter {
	rs_plugin_hook hook;
	void *ud;
};

/* Pass the forward pass's activations on to a plugin. */
static int
hook_adapt(void *ud, int layer, enum rs_input_group g, const float *x, int n_rows, int width)
{
	struct hook_adapter *a = ud;

	return a->hook(a->ud, layer, (enum rs_plugin_input)g, x, n_rows, width);
}

/* Run windows over ids with a plugin's hook. */
static int
h_forward_pass(void *ctx, const int32_t *ids, size_t n, int window, int max_windows,
    rs_plugin_hook hook, void *ud, char **cause)
{
	struct rs_host_call *c = call_of(ctx);
	struct rs_session *s = c->s;
	struct rs_engine_pass p;
	struct hook_adapter a;
	int windows, per, w0, nw, rc = 0;

	if (s->model == NULL)
		return rs_fail(cause, RS_EINVAL, "no model loaded");
	if (window < 2 || (size_t)window > n)
		return rs_fail(cause, RS_EINVAL, "forward pass: %zu tokens, window %d", n, window);
	windows = (int)(n / (size_t)window);
	if (max_windows > 0 && max_windows < windows)
		windows = max_windows;
	if ((rc = open_pass(s, window, &p, c->job, cause)) != 0)
		return rc;
	a.hook = hook;
	a.ud = ud;
	if (hook != NULL)
		rs_forward_set_hook(p.f, hook_adapt, &a);
	per = rs_forward_max_rows(p.f) / window;
	for (w0 = 0; w0 < windows && rc == 0; w0 += nw) {
		nw = windows - w0 < per ? windows - w0 : per;
		rc = rs_forward_run(p.f, ids + (size_t)w0 * window, nw, window, 0, NULL, c->job,
		    cause);
		rs_job_progress(c->job, w0 + nw, windows, "forward");
	}
	rs_engine_close(&p);
	return rc;
}

/* Chunked perplexity of a text file under the plan and the replacements. */
static int
h_perplexity(void *ctx, const char *path, int window, double *ppl, char **cause)
{
	struct rs_host_call *c = call_of(ctx);
	struct rs_session *s = c->s;
	struct rs_engine_pass p;
	struct rs_ppl_opts o;
	struct rs_ppl_result res;
	int32_t *ids = NULL;
	size_t n;
	int rc;

	if (s->model == NULL)
		return rs_fail(cause, RS_EINVAL, "no model loaded");
	if (window <= 0) {
		window = rs_model_config(s->model)->ctx_len;
		if (window > 2048)
			window = 2048;
	}
	if ((rc = h_tokenize_file(ctx, path, &ids, &n, cause)) != 0)
		return rc;
	if ((rc = open_pass(s, window, &p, c->job, cause)) != 0) {
		rs_free(ids);
		return rc;
	}
	memset(&o, 0, sizeof o);
	o.protocol = RS_PPL_CHUNKED;
	o.ctx = window;
	o.bos = rs_tokenizer_bos(s->tok);
	rc = rs_ppl_run(p.f, ids, n, &o, &res, c->job, cause);
	rs_engine_close(&p);
	rs_free(ids);
	if (rc == 0) {
		*ppl = res.ppl;
		rs_session_set_ppl(s, res.ppl, rs_ppl_protocol_name(RS_PPL_CHUNKED), window);
	}
	return rc;
}

/* Hugging Face name of a decoder linear. */
static const char *
hf_lin(int mat)
{
	static const char *const names[RS_MAT_COUNT] = {
		"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
		"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"
	};
	return names[mat];
}

/* Name buffer per call: the host keeps one in the call context's session-free storage. */
static const char *
h_hf_name(void *ctx, int layer, enum rs_plugin_mat mat)
{
	struct rs_host_call *c = call_of(ctx);

	if ((int)mat < 0 || (int)mat >= RS_MAT_COUNT)
		return NULL;
	snprintf(c->name, sizeof c->name, "model.layers.%d.%s.weight", layer, hf_lin((int)mat));
	return c->name;
}

/* config.json text with extra members merged in. */
static char *
h_config_json(void *ctx, const char *extra, char **cause)
{
	struct rs_session *s = call_of(ctx)->s;
	json_t *j;
	char *text, *out;

	if (s->model == NULL) {
		rs_fail(cause, RS_EINVAL, "no model loaded");
		return NULL;
	}
	if ((j = rs_export_config_object(s->model, s->model_path, extra, cause)) == NULL)
		return NULL;
	text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (text == NULL || (out = rs_strdup(text)) == NULL) {
		free(text);
		rs_fail(cause, RS_ENOMEM, "out of memory");
		return NULL;
	}
	free(text);
	return out;
}

/* Copy the tokenizer files of the source folder. */
static int
h_copy_tokenizer(void *ctx, const char *dir, char **cause)
{
	return rs_export_copy_tokenizer(call_of(ctx)->s->model_path, dir, cause);
}

/* Map a plugin dtype to the core's. */
static enum rs_dtype
core_dtype(enum rs_plugin_dtype d)
{
	return d == RS_PLUGIN_F16 ? RS_DT_F16 : d == RS_PLUGIN_BF16 ? RS_DT_BF16 : RS_DT_F32;
}

/* What a plugin's dense export writes for a decoder linear instead of the model's. */
struct h_export_given {
	rs_plugin_matrix_fn matrix;     /* the plugin's, or NULL */
	void *ud;
	const struct rs_replace *repl;  /* the installed replacements, or NULL */
};

/* Export matrix callback: the plugin's matrix, else the installed replacement, else none. */
static int
h_export_matrix(void *ud, int layer, enum rs_tkind mat, int64_t *rows, int64_t *cols,
    const float **data)
{
	const struct h_export_given *g = ud;

	if (g->matrix != NULL && g->matrix(g->ud, layer, (enum rs_plugin_mat)mat, rows, cols,
	    data) == 1)
		return 1;
	return (*data = rs_replace_get(g->repl, layer, mat, rows, cols)) != NULL;
}

/* Write the model, with replacements and plugin-given matrices, as a Hugging Face folder:
 * the core's dense export (export.h), without the session's factors. */
static int
h_export_dense(void *ctx, const char *dir, enum rs_plugin_dtype dtype, const char *extra,
    rs_plugin_matrix_fn matrix, void *ud, char **cause)
{
	struct rs_host_call *c = call_of(ctx);
	struct rs_session *s = c->s;
	struct h_export_given g;
	struct rs_export_src src;
	struct rs_export_opts o;
	struct rs_export_report rep;

	if (s->model == NULL)
		return rs_fail(cause, RS_EINVAL, "no model loaded");
	g.matrix = matrix;
	g.ud = ud;
	g.repl = state_of(s);
	memset(&src, 0, sizeof src);
	src.model = s->model;
	src.path = s->model_path;
	memset(&o, 0, sizeof o);
	o.dtype = (int)core_dtype(dtype);
	o.matrix = h_export_matrix;
	o.matrix_ud = &g;
	o.extra_config = extra;
	return rs_export_dense(&src, NULL, dir, &o, &rep, c->job, cause);
}

/* ---- safetensors for plugins */

/* Start a safetensors file for a plugin. */
static struct rs_host_st *
h_st_new(const char *path, char **cause)
{
	return (struct rs_host_st *)rs_stw_new(path, cause);
}

/* Add a tensor to a safetensors file being written. */
static int
h_st_add(struct rs_host_st *w, const char *name, enum rs_plugin_dtype dt, uint32_t n_dims,
    const uint64_t *shape, const void *data, char **cause)
{
	return rs_stw_add((struct rs_stw *)w, name, core_dtype(dt), n_dims, shape, data, cause);
}

/* Add metadata. */
static int
h_st_meta(struct rs_host_st *w, const char *key, const char *value, char **cause)
{
	return rs_stw_meta((struct rs_stw *)w, key, value, cause);
}

/* Write and rename. */
static int
h_st_finish(void *ctx, struct rs_host_st *w, char **cause)
{
	return rs_stw_finish((struct rs_stw *)w, call_of(ctx)->job, cause);
}

/* Free a writer. */
static void
h_st_free(struct rs_host_st *w)
{
	rs_stw_free((struct rs_stw *)w);
}

/* Open a safetensors file for reading. */
static struct rs_host_sr *
h_sr_open(const char *path, char **cause)
{
	return (struct rs_host_sr *)rs_st_open_file(path, cause);
}

/* A tensor of an opened file. */
static int
h_sr_get(struct rs_host_sr *r, const char *name, enum rs_plugin_dtype *dt, uint32_t *n_dims,
    uint64_t shape[4], const void **data, size_t *nbytes, char **cause)
{
	const struct rs_st_tensor *t = rs_st_find((const struct rs_st *)r, name);
	uint32_t i;

	if (t == NULL)
		return rs_fail(cause, RS_EFORMAT, "tensor '%s' is missing", name);
	switch (t->dtype) {
	case RS_DT_F32: *dt = RS_PLUGIN_F32; break;
	case RS_DT_F16: *dt = RS_PLUGIN_F16; break;
	case RS_DT_BF16: *dt = RS_PLUGIN_BF16; break;
	default:
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': dtype %s", t->file, name,
		    rs_dtype_name(t->dtype));
	}
	*n_dims = t->n_dims;
	for (i = 0; i < 4; i++)
		shape[i] = i < t->n_dims ? t->shape[i] : 0;
	*data = t->data;
	*nbytes = t->nbytes;
	return 0;
}

/* Metadata value of an opened file, or NULL. */
static const char *
h_sr_meta(struct rs_host_sr *r, const char *key)
{
	return rs_st_metadata((const struct rs_st *)r, key);
}

/* Close a file opened for reading. */
static void
h_sr_close(struct rs_host_sr *r)
{
	rs_st_close((struct rs_st *)r);
}

/* Fill the host table for one call. */
void
rs_host_fill(struct rs_host *h, struct rs_host_call *call)
{
	memset(h, 0, sizeof *h);
	h->abi = RS_PLUGIN_ABI;
	h->size = sizeof *h;
	h->ctx = call;
	h->alloc = rs_malloc;
	h->calloc = rs_calloc;
	h->free = rs_free;
	h->fail = rs_fail;
	h->print = h_print;
	h->cancelled = h_cancelled;
	h->progress = h_progress;
	h->model = h_model;
	h->matrix_shape = h_matrix_shape;
	h->matrix_rows = h_matrix_rows;
	h->replace = h_replace;
	h->replace_clear = h_replace_clear;
	h->replacement = h_replacement;
	h->tokenize_file = h_tokenize_file;
	h->forward_pass = h_forward_pass;
	h->perplexity = h_perplexity;
	h->export_dense = h_export_dense;
	h->hf_name = h_hf_name;
	h->config_json = h_config_json;
	h->copy_tokenizer = h_copy_tokenizer;
	h->mkdir_p = rs_mkdir_p;
	h->write_file = rs_afile_write_all;
	h->st_new = h_st_new;
	h->st_add = h_st_add;
	h->st_meta = h_st_meta;
	h->st_finish = h_st_finish;
	h->st_free = h_st_free;
	h->sr_open = h_sr_open;
	h->sr_get = h_sr_get;
	h->sr_meta = h_sr_meta;
	h->sr_close = h_sr_close;
	h->f32_to_f16 = rs_f32_to_f16;
	h->f16_to_f32 = rs_f16_to_f32;
}
