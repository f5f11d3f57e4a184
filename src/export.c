/* export.c: dense and factored exports, and loading a factored export. */
#include "config.h"

#include "export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "atomic.h"
#include "calib.h"
#include "mapfile.h"
#include "model.h"
#include "plan.h"
#include "planfile.h"
#include "safetensors.h"
#include "st-write.h"
#include "textfile.h"
#include "tokenizer.h"

#define FACTORS_FILE "factors.safetensors"
#define EXPORT_BLOCK_BYTES (4u << 20)   /* float32 rows converted per block */

static const char *const copy_names[] = {
	"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
	"generation_config.json", "added_tokens.json", NULL
};

/* Hugging Face name of a layer tensor ("model.layers.3.self_attn.q_proj" + suffix). */
static void
hf_name(char *buf, size_t n, int layer, enum rs_tkind k, const char *suffix)
{
	static const char *const base[RS_T_LAYER_COUNT] = {
		"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
		"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm",
		"post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
		"self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"
	};

	snprintf(buf, n, "model.layers.%d.%s%s", layer, base[k], suffix);
}

/* An export folder being written: "<dir>.tmp.XXXXXX" beside dir, locked while it is written
 * (atomic.h), renamed to dir at the end. */
struct expdir {
	const char *dir;
	char *tmp;
	int fd;                         /* open on tmp: holds the writer's lock */
};

/* Non-zero when the real path tgt is src or lies inside it. */
static int
path_within(const char *tgt, const char *src)
{
	size_t n = strlen(src);

	if (n == 1 && src[0] == '/')
		return 1;
	return strncmp(tgt, src, n) == 0 && (tgt[n] == '\0' || tgt[n] == '/');
}

/* Start an export into dir for the model loaded from source (NULL: no source folder to
 * protect): refuse a dir that is the source's folder or lies inside it, or that exists and is
 * not an empty folder; remove what a killed export to dir left; make the temporary folder. */
static int
expdir_start(struct expdir *x, const char *source, const char *dir, char **cause)
{
	char src[PATH_MAX], tgt[PATH_MAX], *sdir = NULL, *parent, *slash, *p;
	struct stat sb;
	size_t n;

	x->dir = dir;
	x->tmp = NULL;
	x->fd = -1;
	if (source != NULL) {
		if ((sdir = rs_path_model_dir(source)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "export: out of memory");
		if (realpath(sdir, src) == NULL) {
			rs_fail(cause, RS_EIO, "export: %s: %s", sdir, strerror(errno));
			rs_free(sdir);
			return RS_EIO;
		}
		rs_free(sdir);
	}
	if (stat(dir, &sb) == 0) {
		DIR *d;
		struct dirent *e;
		int empty = 1;

		if (!S_ISDIR(sb.st_mode) || realpath(dir, tgt) == NULL)
			return rs_fail(cause, RS_EIO, "export: %s exists and is not a folder", dir);
		if (source != NULL && path_within(tgt, src))
			return rs_fail(cause, RS_EIO, "export: %s is the source model's folder (or "
			    "inside it): an export never writes there", dir);
		if ((d = opendir(dir)) == NULL)
			return rs_fail(cause, RS_EIO, "export: %s: %s", dir, strerror(errno));
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				empty = 0;
		closedir(d);
		if (!empty)
			return rs_fail(cause, RS_EIO, "export: %s exists and is not empty: choose a new "
			    "folder", dir);
	} else {
		/* the parent must exist; check it against the source too */
		if ((parent = rs_strdup(dir)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "export: out of memory");
		while ((n = strlen(parent)) > 1 && parent[n - 1] == '/')
			parent[n - 1] = '\0';
		slash = strrchr(parent, '/');
		if (slash == NULL)
			strcpy(parent, ".");
		else if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (realpath(parent, tgt) == NULL) {
			rs_fail(cause, RS_EIO, "export: cannot create %s: %s: %s", dir, parent,
			    strerror(errno));
			rs_free(parent);
			return RS_EIO;
		}
		if (stat(tgt, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			rs_fail(cause, RS_EIO, "export: cannot create %s: %s is not a folder", dir,
			    parent);
			rs_free(parent);
			return RS_EIO;
		}
		rs_free(parent);
		if (source != NULL && path_within(tgt, src))
			return rs_fail(cause, RS_EIO, "export: %s is inside the source model's folder "
			    "%s: an export never writes there", dir, src);
	}
	if ((x->tmp = rs_strdupf("%s.tmp.XXXXXX", dir)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	/* strip trailing slashes before the suffix */
	p = strstr(x->tmp, ".tmp.XXXXXX");
	while (p > x->tmp + 1 && p[-1] == '/') {
		memmove(p - 1, p, strlen(p) + 1);
		p--;
	}
	*p = '\0';
	rs_atomic_sweep(x->tmp);        /* the killed exports' "<dir>.tmp.XXXXXX" */
	*p = '.';
	if (mkdtemp(x->tmp) == NULL) {
		rs_fail(cause, RS_EIO, "export: cannot create a temporary folder beside %s: %s", dir,
		    strerror(errno));
		rs_free(x->tmp);
		x->tmp = NULL;
		return RS_EIO;
	}
	chmod(x->tmp, 0755);    /* mkdtemp makes it 0700; a model folder is readable by all */
	if ((x->fd = open(x->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		rs_atomic_hold(x->fd);
	return 0;
}

/* Give up: remove the temporary folder and what is in it (one level: exports write no
 * subfolders). */
static void
expdir_abort(struct expdir *x)
{
	DIR *d;
	struct dirent *e;
	char *p;

	if (x->tmp == NULL)
		return;
	if ((d = opendir(x->tmp)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if ((p = rs_strdupf("%s/%s", x->tmp, e->d_name)) != NULL) {
				unlink(p);
				rs_free(p);
			}
		}
		closedir(d);
	}
	rmdir(x->tmp);
	rs_free(x->tmp);
	x->tmp = NULL;
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

/* Rename the finished temporary folder to dir (an empty dir is replaced); aborts on failure. */
static int
expdir_finish(struct expdir *x, char **cause)
{
	struct stat sb;

	if (stat(x->dir, &sb) == 0 && rmdir(x->dir) != 0) {
		rs_fail(cause, RS_EIO, "export: %s: %s", x->dir, strerror(errno));
		expdir_abort(x);
		return RS_EIO;
	}
	if (rename(x->tmp, x->dir) != 0) {
		rs_fail(cause, RS_EIO, "export: rename %s to %s: %s", x->tmp, x->dir,
		    strerror(errno));
		expdir_abort(x);
		return RS_EIO;
	}
	rs_free(x->tmp);
	x->tmp = NULL;
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	return 0;
}

/* Copy a file from the source folder into tmp if it exists; 1 if copied, 0 if absent. */
static int
copy_file(const char *sdir, const char *tmp, const char *name, char **cause)
{
	struct rs_mapfile *mf;
	struct stat sb;
	char *from, *to;
	int rc;

	if ((from = rs_strdupf("%s/%s", sdir, name)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	if (stat(from, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rs_free(from);
		return 0;
	}
	if ((to = rs_strdupf("%s/%s", tmp, name)) == NULL) {
		rs_free(from);
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	}
	if (sb.st_size == 0)
		rc = rs_afile_write_all(to, "", 0, cause);
	else if ((mf = rs_mapfile_open(from, cause)) == NULL)
		rc = RS_EIO;
	else {
		rc = rs_afile_write_all(to, mf->data, mf->size, cause);
		rs_mapfile_close(mf);
	}
	rs_free(from);
	rs_free(to);
	return rc == 0 ? 1 : rc;
}

int
rs_export_copy_tokenizer(const char *path, const char *dir, char **cause)
{
	char *sdir;
	int i, n = 0, rc;

	if (path == NULL)
		return 0;
	if ((sdir = rs_path_model_dir(path)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	for (i = 0; copy_names[i] != NULL; i++) {
		if ((rc = copy_file(sdir, dir, copy_names[i], cause)) < 0) {
			rs_free(sdir);
			return rc;
		}
		n += rc;
	}
	rs_free(sdir);
	return n;
}

/* ------------------------------------------------------------------ dense tensors */

/* Where the values of one written tensor come from. */
struct wsrc {
	const struct rs_model *m;
	const struct rs_tensor *t;      /* dense source, or NULL */
	const float *data;              /* float32 rows the caller gave, or NULL */
	const struct rs_factor_pair *fp;/* reconstructed from factors, or NULL */
	const float *fbias;             /* bias vector from the factors, or NULL */
	const struct rs_tensor *mbias;  /* model bias added to it (Qwen2), or NULL */
	int64_t rows, cols;
	enum rs_dtype out;
	size_t esz, row_bytes;
	/* the converted block */
	int64_t blk_row0, blk_rows;
	float *f32;                     /* (blk rows, cols) */
	uint8_t *conv;                  /* (blk rows, row_bytes) */
	int64_t cap_rows;
};

/* Convert rows [r0, r0 + nr) of a source into s->conv. */
static int
wsrc_block(struct wsrc *s, int64_t r0, int64_t nr, char **cause)
{
	size_t i, n = (size_t)nr * (size_t)s->cols;
	int rc;

	if (s->data != NULL) {
		memcpy(s->f32, s->data + (size_t)r0 * (size_t)s->cols, n * sizeof *s->f32);
	} else if (s->fp != NULL) {
		rs_factor_pair_rows(s->fp, (size_t)r0, (size_t)nr, s->f32);
	} else if (s->t != NULL) {
		if ((rc = rs_model_tensor_rows_f32(s->m, s->t, r0, nr, s->f32)) != 0)
			return rs_fail(cause, rc, "export: %s: cannot read", s->t->name);
	} else {
		/* a bias vector: the factors' and/or the model's, or zeros */
		memset(s->f32, 0, n * sizeof *s->f32);
		if (s->fbias != NULL)
			memcpy(s->f32, s->fbias, n * sizeof *s->f32);
	}
	if (s->mbias != NULL && s->t == NULL) {
		float *tmp = rs_mallocarray(n, sizeof *tmp);
		if (tmp == NULL)
			return rs_fail(cause, RS_ENOMEM, "export: out of memory");
		rs_model_tensor_rows_f32(s->m, s->mbias, 0, 1, tmp);
		for (i = 0; i < n; i++)
			s->f32[i] += tmp[i];
		rs_free(tmp);
	}
	for (i = 0; i < n; i++) {
		uint16_t h;
		switch (s->out) {
		case RS_DT_F32:
			memcpy(s->conv + 4 * i, &s->f32[i], 4);
			break;
		case RS_DT_F16:
			h = rs_f32_to_f16(s->f32[i]);
			memcpy(s->conv + 2 * i, &h, 2);
			break;
		default:
			h = rs_f32_to_bf16(s->f32[i]);
			memcpy(s->conv + 2 * i, &h, 2);
			break;
		}
	}
	s->blk_row0 = r0;
	s->blk_rows = nr;
	return 0;
}

/* Fill callback: bytes [off, off + len) of the tensor in its output dtype. */
static int
wsrc_fill(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	struct wsrc *s = ud;
	uint8_t *dst = buf;
	int rc;

	if (s->f32 == NULL) {
		s->cap_rows = (int64_t)(EXPORT_BLOCK_BYTES / ((size_t)s->cols * 4));
		if (s->cap_rows < 1)
			s->cap_rows = 1;
		if (s->cap_rows > s->rows)
			s->cap_rows = s->rows;
		s->f32 = rs_mallocarray((size_t)s->cap_rows * (size_t)s->cols, sizeof *s->f32);
		s->conv = rs_mallocarray((size_t)s->cap_rows, s->row_bytes);
		if (s->f32 == NULL || s->conv == NULL)
			return rs_fail(cause, RS_ENOMEM, "export: out of memory");
		s->blk_rows = 0;
	}
	while (len > 0) {
		int64_t row = (int64_t)(off / s->row_bytes);
		size_t boff, n;

		if (row < s->blk_row0 || row >= s->blk_row0 + s->blk_rows) {
			int64_t nr = s->rows - row < s->cap_rows ? s->rows - row : s->cap_rows;
			if ((rc = wsrc_block(s, row, nr, cause)) != 0)
				return rc;
		}
		boff = off - (size_t)s->blk_row0 * s->row_bytes;
		n = (size_t)s->blk_rows * s->row_bytes - boff;
		if (n > len)
			n = len;
		memcpy(dst, s->conv + boff, n);
		dst += n;
		off += n;
		len -= n;
	}
	/* the tensor's last bytes are written: its mapped pages need not stay resident */
	if (s->t != NULL && off == (size_t)s->rows * s->row_bytes)
		rs_model_tensor_release(s->m, s->t);
	return 0;
}

/* Free the converted buffers of every source. */
static void
wsrc_free_all(struct wsrc *w, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		rs_free(w[i].f32);
		rs_free(w[i].conv);
	}
	rs_free(w);
}

/* The output dtype of a source tensor: its own when plain, F32 for quantized, or forced. */
static enum rs_dtype
out_dtype(const struct rs_tensor *t, int forced)
{
	if (forced >= 0)
		return (enum rs_dtype)forced;
	if (t->dtype == RS_DT_F32 || t->dtype == RS_DT_F16 || t->dtype == RS_DT_BF16)
		return t->dtype;
	return RS_DT_F32;
}

/* HF torch_dtype name. */
static const char *
torch_dtype(enum rs_dtype d)
{
	return d == RS_DT_F16 ? "float16" : d == RS_DT_BF16 ? "bfloat16" : "float32";
}

/* The plan JSON of an export's source (allocated). */
static char *
src_plan_json(const struct rs_export_src *src, char **cause)
{
	return rs_planfile_json(src->plan, src->model, &src->meta, cause);
}

/* The source's config.json object, or one made from the model's config. */
static json_t *
config_base(const struct rs_model *m, const char *path, char **cause)
{
	const struct rs_model_config *c = rs_model_config(m);
	json_error_t err;
	json_t *j;
	char *sdir, *from;
	struct stat sb;
	int bad = 0;

	/* a Hugging Face source: its own config.json, every key it has kept */
	if (strcmp(rs_model_format(m), "safetensors") == 0 && path != NULL) {
		if ((sdir = rs_path_model_dir(path)) == NULL ||
		    (from = rs_strdupf("%s/config.json", sdir)) == NULL) {
			rs_free(sdir);
			rs_fail(cause, RS_ENOMEM, "export: out of memory");
			return NULL;
		}
		rs_free(sdir);
		if (stat(from, &sb) == 0) {
			j = json_load_file(from, JSON_REJECT_DUPLICATES, &err);
			if (j == NULL || !json_is_object(j)) {
				json_decref(j);
				rs_fail(cause, RS_EFORMAT, "%s: line %d: %s", from, err.line, err.text);
				rs_free(from);
				return NULL;
			}
			rs_free(from);
			return j;
		}
		rs_free(from);
	}
	/* GGUF, llama2.c: one made from the model's config */
	if ((j = json_object()) == NULL) {
		rs_fail(cause, RS_ENOMEM, "export: out of memory");
		return NULL;
	}
	bad |= json_object_set_new(j, "architectures", json_pack("[s]",
	    strcmp(c->arch, "mistral") == 0 ? "MistralForCausalLM" :
	    strcmp(c->arch, "qwen2") == 0 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
	bad |= json_object_set_new(j, "model_type", json_string(c->arch));
	bad |= json_object_set_new(j, "hidden_size", json_integer(c->dim));
	bad |= json_object_set_new(j, "intermediate_size", json_integer(c->ffn_dim));
	bad |= json_object_set_new(j, "num_hidden_layers", json_integer(c->n_layers));
	bad |= json_object_set_new(j, "num_attention_heads", json_integer(c->n_heads));
	bad |= json_object_set_new(j, "num_key_value_heads", json_integer(c->n_kv_heads));
	bad |= json_object_set_new(j, "head_dim", json_integer(c->head_dim));
	bad |= json_object_set_new(j, "vocab_size", json_integer(c->vocab));
	bad |= json_object_set_new(j, "max_position_embeddings", json_integer(c->ctx_len));
	bad |= json_object_set_new(j, "rms_norm_eps", json_real(c->rms_norm_eps));
	bad |= json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
	bad |= json_object_set_new(j, "hidden_act", json_string("silu"));
	bad |= json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied));
	if (c->bos_id >= 0)
		bad |= json_object_set_new(j, "bos_token_id", json_integer(c->bos_id));
	if (c->eos_id >= 0)
		bad |= json_object_set_new(j, "eos_token_id", json_integer(c->eos_id));
	if (bad) {
		json_decref(j);
		rs_fail(cause, RS_ENOMEM, "export: out of memory");
		return NULL;
	}
	return j;
}

json_t *
rs_export_config_object(const struct rs_model *m, const char *path, const char *extra,
    char **cause)
{
	json_t *j, *x;
	json_error_t err;

	if ((j = config_base(m, path, cause)) == NULL || extra == NULL)
		return j;
	x = json_loads(extra, JSON_REJECT_DUPLICATES, &err);
	if (x == NULL || !json_is_object(x) || json_object_update(j, x) != 0) {
		rs_fail(cause, RS_EINVAL, "config: extra members are not a JSON object: %s",
		    x == NULL ? err.text : "not an object");
		json_decref(x);
		json_decref(j);
		return NULL;
	}
	json_decref(x);
	return j;
}

/* config.json for the export: the source's, or one made from the model's config, with the
 * caller's extra members, the dtype written and the biases added. */
static int
write_config(const struct rs_export_src *src, const char *tmp, const char *extra,
    enum rs_dtype dt, int attn_bias, int mlp_bias, char **cause)
{
	json_t *j;
	char *to, *text;
	int rc, bad = 0;

	if ((j = rs_export_config_object(src->model, src->path, extra, cause)) == NULL)
		return RS_EFORMAT;
	bad |= json_object_set_new(j, "torch_dtype", json_string(torch_dtype(dt)));
	if (attn_bias)
		bad |= json_object_set_new(j, "attention_bias", json_true());
	if (mlp_bias)
		bad |= json_object_set_new(j, "mlp_bias", json_true());
	text = bad ? NULL : json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (text == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	if ((to = rs_strdupf("%s/config.json", tmp)) == NULL) {
		free(text);
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	}
	rc = rs_afile_write_all(to, text, strlen(text), cause);
	free(text);
	rs_free(to);
	return rc;
}

int
rs_export_dense(const struct rs_export_src *src, const struct rs_compress_set *set,
    const char *dir, const struct rs_export_opts *o, struct rs_export_report *rep,
    struct rs_job *job, char **cause)
{
	const struct rs_model *m = src->model;
	const struct rs_model_config *c = rs_model_config(m);
	struct wsrc *w = NULL;
	struct rs_stw *stw = NULL;
	struct expdir x;
	char *path = NULL, *plan = NULL, name[160];
	int n = 0, cap, l, k, rc = 0, attn_bias = 0, mlp_bias = 0, i;
	enum rs_dtype main_dt;

	memset(rep, 0, sizeof *rep);
	memset(&x, 0, sizeof x);
	if (o->matrix != NULL && set != NULL && rs_compress_set_count(set) > 0)
		return rs_fail(cause, RS_EINVAL, "export dense: given matrices and factors do not "
		    "mix");
	/* which biases the plan needs */
	for (i = 0; set != NULL && i < rs_compress_set_count(set); i++) {
		const struct rs_factor_pair *fp = rs_compress_set_pair(set, i);
		enum rs_tkind t = (enum rs_tkind)(fp->index % RS_MAT_COUNT);
		if (fp->bias == NULL)
			continue;
		if (t >= RS_T_GATE)
			mlp_bias = 1;
		else if (!(c->bias_mask & (1u << t)))
			attn_bias = 1;
	}
	if ((attn_bias || mlp_bias) && strcmp(c->arch, "llama") != 0)
		return rs_fail(cause, RS_EUNSUPPORTED, "export dense: the plan's biases (method %s) "
		    "need 'attention_bias'/'mlp_bias', which only LlamaForCausalLM has; use 'export "
		    "factored' or another method", rs_method_name(src->meta.method));
	main_dt = out_dtype(rs_model_tensor(m, 0, RS_T_Q), o->dtype);
	cap = c->n_layers * (RS_T_LAYER_COUNT + RS_MAT_COUNT) + RS_G_COUNT;  /* + new biases */
	if ((w = rs_calloc((size_t)cap, sizeof *w)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	if ((rc = expdir_start(&x, src->path, dir, cause)) != 0) {
		rs_free(w);
		return rc;
	}
	if ((path = rs_strdupf("%s/model.safetensors", x.tmp)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "export: out of memory");
		goto fail;
	}
	if (src->plan != NULL && (plan = src_plan_json(src, cause)) == NULL) {
		rc = RS_ENOMEM;
		goto fail;
	}
	if ((stw = rs_stw_new(path, cause)) == NULL) {
		rc = RS_EIO;
		goto fail;
	}
	if ((rc = rs_stw_meta(stw, "format", "pt", cause)) != 0 ||
	    (plan != NULL && (rc = rs_stw_meta(stw, "rankscope.plan", plan, cause)) != 0))
		goto fail;
	for (l = 0; l < c->n_layers; l++) {
		for (k = 0; k < RS_T_LAYER_COUNT; k++) {
			const struct rs_tensor *t = rs_model_tensor(m, l, (enum rs_tkind)k);
			struct wsrc *ws;
			uint64_t shape[2];
			int is_bias = k >= RS_T_Q_BIAS;
			int64_t g_rows = 0, g_cols = 0;
			const float *g_data = NULL;

			if (t == NULL || !t->present)
				continue;
			ws = &w[n++];
			ws->m = m;
			ws->rows = t->rows;
			ws->cols = t->cols;
			ws->out = out_dtype(t, o->dtype);
			hf_name(name, sizeof name, l, (enum rs_tkind)k, is_bias ? ".bias" : ".weight");
			if (k < RS_MAT_COUNT && o->matrix != NULL && o->matrix(o->matrix_ud, l,
			    (enum rs_tkind)k, &g_rows, &g_cols, &g_data) == 1) {
				if (g_data == NULL || g_rows <= 0 || g_cols <= 0) {
					rc = rs_fail(cause, RS_EINVAL, "export: %s: no matrix given",
					    name);
					goto fail;
				}
				ws->data = g_data;
				ws->rows = g_rows;
				ws->cols = g_cols;
			} else if (k < RS_MAT_COUNT && set != NULL &&
			    (ws->fp = rs_compress_set_find(set, l * RS_MAT_COUNT + k)) != NULL)
				rep->factored++;
			else if (is_bias && set != NULL) {
				/* Qwen2 q/k/v bias plus the factors' bias, if any */
				const struct rs_factor_pair *fp = rs_compress_set_find(set,
				    l * RS_MAT_COUNT + (k - RS_T_Q_BIAS));
				if (fp != NULL && fp->bias != NULL) {
					ws->fbias = fp->bias;
					ws->mbias = t;
				} else
					ws->t = t;
			} else
				ws->t = t;
			ws->esz = ws->out == RS_DT_F32 ? 4 : 2;
			ws->row_bytes = (size_t)ws->cols * ws->esz;
			shape[0] = (uint64_t)ws->rows;
			shape[1] = (uint64_t)ws->cols;
			if ((rc = rs_stw_add_fill(stw, name, ws->out, t->rows == 1 &&
			    k >= RS_T_ATTN_NORM ? 1 : 2, t->rows == 1 && k >= RS_T_ATTN_NORM ?
			    shape + 1 : shape, wsrc_fill, ws, cause)) != 0)
				goto fail;
			rep->tensors++;
			rep->bytes += (uint64_t)ws->rows * ws->row_bytes;
		}
		/* biases of factored matrices that the model does not have */
		for (k = 0; k < RS_MAT_COUNT; k++) {
			const struct rs_tensor *t = rs_model_tensor(m, l, (enum rs_tkind)k);
			const struct rs_factor_pair *fp = set != NULL ?
			    rs_compress_set_find(set, l * RS_MAT_COUNT + k) : NULL;
			struct wsrc *ws;
			uint64_t shape[1];

			if (c->bias_mask & (1u << k))
				continue;       /* written above with the model's */
			if (!(k < RS_T_GATE ? attn_bias : mlp_bias))
				continue;
			ws = &w[n++];
			ws->m = m;
			ws->rows = 1;
			ws->cols = t->rows;
			ws->out = out_dtype(t, o->dtype);
			ws->fbias = fp != NULL ? fp->bias : NULL;       /* NULL: zeros */
			ws->esz = ws->out == RS_DT_F32 ? 4 : 2;
			ws->row_bytes = (size_t)ws->cols * ws->esz;
			shape[0] = (uint64_t)t->rows;
			hf_name(name, sizeof name, l, (enum rs_tkind)k, ".bias");
			if ((rc = rs_stw_add_fill(stw, name, ws->out, 1, shape, wsrc_fill, ws,
			    cause)) != 0)
				goto fail;
			rep->tensors++;
			rep->biases++;
			rep->bytes += ws->row_bytes;
		}
	}
	for (k = 0; k < RS_G_COUNT; k++) {
		const struct rs_tensor *t = rs_model_global(m, (enum rs_tglobal)k);
		static const char *const gname[RS_G_COUNT] = { "model.embed_tokens.weight",
		    "model.norm.weight", "lm_head.weight" };
		struct wsrc *ws;
		uint64_t shape[2];

		if (t == NULL || !t->present || (k == RS_G_HEAD && c->tied))
			continue;
		ws = &w[n++];
		ws->m = m;
		ws->t = t;
		ws->rows = t->rows;
		ws->cols = t->cols;
		ws->out = out_dtype(t, o->dtype);
		ws->esz = ws->out == RS_DT_F32 ? 4 : 2;
		ws->row_bytes = (size_t)ws->cols * ws->esz;
		shape[0] = (uint64_t)t->rows;
		shape[1] = (uint64_t)t->cols;
		if ((rc = rs_stw_add_fill(stw, gname[k], ws->out, k == RS_G_NORM ? 1 : 2,
		    k == RS_G_NORM ? shape + 1 : shape, wsrc_fill, ws, cause)) != 0)
			goto fail;
		rep->tensors++;
		rep->bytes += (uint64_t)t->rows * ws->row_bytes;
	}
	if ((rc = rs_stw_finish(stw, job, cause)) != 0)
		goto fail;
	rs_stw_free(stw);
	stw = NULL;
	if ((rc = write_config(src, x.tmp, o->extra_config, main_dt, attn_bias, mlp_bias,
	    cause)) != 0)
		goto fail;
	if ((rc = rs_export_copy_tokenizer(src->path, x.tmp, cause)) < 0)
		goto fail;
	rep->copied = rc;
	rc = 0;
	if (rep->copied == 0 && o->note != NULL)
		o->note(o->ud, "export: the source has no tokenizer files to copy (GGUF or llama2.c "
		    "source): add tokenizer files to the folder for Hugging Face tools");
	if (attn_bias || mlp_bias) {
		if (o->note != NULL)
			o->note(o->ud, "export: the plan's mean-compensation biases are written as "
			    "q/k/v/o and/or gate/up/down biases (config attention_bias/mlp_bias)");
	}
	wsrc_free_all(w, n);
	rs_free(path);
	rs_free(plan);
	return expdir_finish(&x, cause);
fail:
	rs_stw_free(stw);
	wsrc_free_all(w, n);
	rs_free(path);
	rs_free(plan);
	expdir_abort(&x);
	return rc != 0 ? rc : RS_EIO;
}

/* One factor array written in the export's dtype. */
struct fsrc {
	const float *v;
	enum rs_dtype out;
};

/* Fill callback: bytes [off, off + len) of a factor array converted to its output dtype (the
 * writer's chunks are whole elements). */
static int
fsrc_fill(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	const struct fsrc *f = ud;
	uint8_t *dst = buf;
	size_t i, esz = f->out == RS_DT_F32 ? 4 : 2, i0 = off / esz, n = len / esz;

	(void)cause;
	for (i = 0; i < n; i++) {
		uint16_t h;
		switch (f->out) {
		case RS_DT_F32:
			memcpy(dst + 4 * i, &f->v[i0 + i], 4);
			break;
		case RS_DT_F16:
			h = rs_f32_to_f16(f->v[i0 + i]);
			memcpy(dst + 2 * i, &h, 2);
			break;
		default:
			h = rs_f32_to_bf16(f->v[i0 + i]);
			memcpy(dst + 2 * i, &h, 2);
			break;
		}
	}
	return 0;
}

int
rs_export_factored(const struct rs_export_src *src, const struct rs_compress_set *set,
    const char *dir, const struct rs_export_opts *o, struct rs_export_report *rep,
    struct rs_job *job, char **cause)
{
	struct rs_stw *stw = NULL;
	struct fsrc *fs = NULL;
	struct expdir x;
	char *path = NULL, *plan = NULL, *pj = NULL, name[160], id[32];
	char base[PATH_MAX];
	int i, nf, rc = 0;

	memset(rep, 0, sizeof *rep);
	memset(&x, 0, sizeof x);
	if (src->plan == NULL || src->path == NULL)
		return rs_fail(cause, RS_EINVAL, "export factored: no plan or no model path");
	if (realpath(src->path, base) == NULL)
		return rs_fail(cause, RS_EIO, "export: %s: %s", src->path, strerror(errno));
	nf = set != NULL ? rs_compress_set_count(set) : 0;
	if ((fs = rs_calloc((size_t)(3 * nf + 1), sizeof *fs)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	if ((rc = expdir_start(&x, src->path, dir, cause)) != 0) {
		rs_free(fs);
		return rc;
	}
	if ((path = rs_strdupf("%s/" FACTORS_FILE, x.tmp)) == NULL ||
	    (pj = rs_strdupf("%s/plan.json", x.tmp)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "export: out of memory");
		goto fail;
	}
	if ((plan = src_plan_json(src, cause)) == NULL) {
		rc = RS_ENOMEM;
		goto fail;
	}
	snprintf(id, sizeof id, "0x%016" PRIx64, rs_model_identity(src->model));
	if ((stw = rs_stw_new(path, cause)) == NULL) {
		rc = RS_EIO;
		goto fail;
	}
	if ((rc = rs_stw_meta(stw, "format", "pt", cause)) != 0 ||
	    (rc = rs_stw_meta(stw, "rankscope.kind", "factored", cause)) != 0 ||
	    (rc = rs_stw_meta(stw, "rankscope.version", "1", cause)) != 0 ||
	    (rc = rs_stw_meta(stw, "rankscope.plan", plan, cause)) != 0 ||
	    (rc = rs_stw_meta(stw, "rankscope.base", base, cause)) != 0 ||
	    (rc = rs_stw_meta(stw, "rankscope.base_identity", id, cause)) != 0)
		goto fail;
	for (i = 0; i < nf; i++) {
		const struct rs_factor_pair *fp = rs_compress_set_pair(set, i);
		int l = fp->index / RS_MAT_COUNT;
		enum rs_tkind t = (enum rs_tkind)(fp->index % RS_MAT_COUNT);
		uint64_t sa[2] = { (uint64_t)fp->rank, fp->n }, sb[2] = { fp->m, (uint64_t)fp->rank };
		uint64_t sv[1] = { fp->m };
		enum rs_dtype dt = out_dtype(rs_model_tensor(src->model, l, t), o->dtype);
		size_t esz = dt == RS_DT_F32 ? 4 : 2;
		struct fsrc *f = &fs[3 * i];

		f[0].v = fp->a;
		f[1].v = fp->b;
		f[2].v = fp->bias;
		f[0].out = f[1].out = f[2].out = dt;
		hf_name(name, sizeof name, l, t, ".lowrank_A");
		if ((rc = rs_stw_add_fill(stw, name, dt, 2, sa, fsrc_fill, &f[0], cause)) != 0)
			goto fail;
		hf_name(name, sizeof name, l, t, ".lowrank_B");
		if ((rc = rs_stw_add_fill(stw, name, dt, 2, sb, fsrc_fill, &f[1], cause)) != 0)
			goto fail;
		rep->tensors += 2;
		rep->bytes += (uint64_t)fp->rank * (fp->m + fp->n) * esz;
		if (fp->bias != NULL) {
			hf_name(name, sizeof name, l, t, ".lowrank_bias");
			if ((rc = rs_stw_add_fill(stw, name, dt, 1, sv, fsrc_fill, &f[2], cause)) != 0)
				goto fail;
			rep->tensors++;
			rep->biases++;
			rep->bytes += fp->m * esz;
		}
		rep->factored++;
	}
	if ((rc = rs_stw_finish(stw, job, cause)) != 0)
		goto fail;
	rs_stw_free(stw);
	stw = NULL;
	if ((rc = rs_afile_write_all(pj, plan, strlen(plan), cause)) != 0)
		goto fail;
	rs_free(fs);
	rs_free(path);
	rs_free(pj);
	rs_free(plan);
	return expdir_finish(&x, cause);
fail:
	rs_stw_free(stw);
	rs_free(fs);
	rs_free(path);
	rs_free(pj);
	rs_free(plan);
	expdir_abort(&x);
	return rc != 0 ? rc : RS_EIO;
}

/* ------------------------------------------------------------------ loading */

/* The factors file of a factored export path (allocated), or NULL. */
static char *
factors_path(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		return NULL;
	if (S_ISDIR(sb.st_mode))
		return rs_strdupf("%s/" FACTORS_FILE, path);
	return rs_strdup(path);
}

int
rs_factored_probe(const char *path)
{
	struct rs_st *st;
	char *fp = factors_path(path);
	const char *kind;
	struct stat sb;
	int yes = 0;

	if (fp == NULL || stat(fp, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rs_free(fp);
		return 0;
	}
	if ((st = rs_st_open_file(fp, NULL)) != NULL) {
		kind = rs_st_metadata(st, "rankscope.kind");
		yes = kind != NULL && strcmp(kind, "factored") == 0;
		rs_st_close(st);
	}
	rs_free(fp);
	return yes;
}

/* A stored factor tensor (F32, F16 or BF16) of the expected shape, widened to a new float32
 * array. */
static float *
load_factor(const struct rs_st *st, const char *file, const char *name, uint32_t dims,
    uint64_t d0, uint64_t d1, char **cause)
{
	const struct rs_st_tensor *t = rs_st_find(st, name);
	float *v;
	size_t n = (size_t)(dims == 1 ? d0 : d0 * d1);
	size_t esz;

	if (t == NULL) {
		rs_fail(cause, RS_EFORMAT, "%s: tensor '%s' is missing", file, name);
		return NULL;
	}
	esz = t->dtype == RS_DT_F32 ? 4 : 2;
	if ((t->dtype != RS_DT_F32 && t->dtype != RS_DT_F16 && t->dtype != RS_DT_BF16) ||
	    t->n_dims != dims || t->shape[0] != d0 || (dims == 2 && t->shape[1] != d1) ||
	    t->nbytes != n * esz) {
		rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': expected F32/F16/BF16 %" PRIu64 "%s%s, "
		    "found %s with %u dimensions", file, name, d0, dims == 2 ? "x" : "",
		    dims == 2 ? "(rank-dependent)" : "", rs_dtype_name(t->dtype), t->n_dims);
		return NULL;
	}
	if ((v = rs_mallocarray(n, sizeof *v)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", file);
		return NULL;
	}
	rs_dtype_to_f32(t->dtype, t->data, v, n);
	return v;
}

void
rs_factored_close(struct rs_factored *f)
{
	if (f == NULL)
		return;
	rs_planfile_free(f->plan);
	rs_model_close(f->model);
	if (f->tok != NULL)
		rs_tokenizer_free(f->tok);
	rs_st_close(f->st);
	rs_free(f->base);
	rs_free(f->file);
	rs_free(f);
}

int
rs_factored_open(const char *path, const char *base, struct rs_factored **out, char **cause)
{
	struct rs_factored *f;
	const char *plan, *bpath, *bid;
	char idhex[32];
	int rc;

	*out = NULL;
	if ((f = rs_calloc(1, sizeof *f)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	if ((f->file = factors_path(path)) == NULL) {
		rc = rs_fail(cause, RS_EIO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((f->st = rs_st_open_file(f->file, cause)) == NULL) {
		rc = RS_EFORMAT;
		goto fail;
	}
	plan = rs_st_metadata(f->st, "rankscope.plan");
	bpath = base != NULL ? base : rs_st_metadata(f->st, "rankscope.base");
	bid = rs_st_metadata(f->st, "rankscope.base_identity");
	if (plan == NULL || bpath == NULL || bid == NULL) {
		rc = rs_fail(cause, RS_EFORMAT, "%s: not a factored export (metadata rankscope.plan, "
		    "rankscope.base and rankscope.base_identity are required)", f->file);
		goto fail;
	}
	if ((f->model = rs_model_open(bpath, cause)) == NULL) {
		char *inner = cause != NULL ? *cause : NULL;
		if (cause != NULL)
			*cause = NULL;
		rc = rs_fail(cause, RS_EFORMAT, "%s: its base model cannot be opened: %s", f->file,
		    inner != NULL ? inner : bpath);
		rs_free(inner);
		goto fail;
	}
	snprintf(idhex, sizeof idhex, "0x%016" PRIx64, rs_model_identity(f->model));
	if (strcmp(idhex, bid) != 0) {
		rc = rs_fail(cause, RS_EINVAL, "%s: the base model %s has identity %s, the factors "
		    "were made for %s: refused", f->file, bpath, idhex, bid);
		goto fail;
	}
	if ((rc = rs_planfile_parse(plan, strlen(plan), f->file, f->model, 0, &f->plan,
	    cause)) != 0)
		goto fail;
	f->tok = rs_tokenizer_open(bpath, NULL);
	if ((f->base = rs_strdup(bpath)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "%s: out of memory", f->file);
		goto fail;
	}
	*out = f;
	return 0;
fail:
	rs_factored_close(f);
	return rc;
}

int
rs_factored_pair(const struct rs_factored *f, const struct rs_model *m, int index,
    float **a, float **b, float **bias, char **cause)
{
	int r = f->plan->ranks[index], l = index / RS_MAT_COUNT;
	enum rs_tkind k = (enum rs_tkind)(index % RS_MAT_COUNT);
	const struct rs_tensor *w = rs_model_tensor(m, l, k);
	char name[160];

	*a = *b = *bias = NULL;
	hf_name(name, sizeof name, l, k, ".lowrank_A");
	if ((*a = load_factor(f->st, f->file, name, 2, (uint64_t)r, (uint64_t)w->cols,
	    cause)) == NULL)
		return RS_EFORMAT;
	hf_name(name, sizeof name, l, k, ".lowrank_B");
	if ((*b = load_factor(f->st, f->file, name, 2, (uint64_t)w->rows, (uint64_t)r,
	    cause)) == NULL)
		goto fail;
	hf_name(name, sizeof name, l, k, ".lowrank_bias");
	if (rs_st_find(f->st, name) != NULL &&
	    (*bias = load_factor(f->st, f->file, name, 1, (uint64_t)w->rows, 0, cause)) == NULL)
		goto fail;
	return 0;
fail:
	rs_free(*a);
	rs_free(*b);
	*a = *b = NULL;
	return RS_EFORMAT;
}
