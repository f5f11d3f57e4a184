/* export.c: dense and factored exports, and loading a factored export. */
#include "config.h"

#include "export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "atomic.h"
#include "gguf-write.h"
#include "gguf.h"
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
	enum rs_dtype out;              /* F32, F16, BF16, or Q8_0 (GGUF) */
	size_t esz, row_bytes;
	int raw;                        /* copy t's stored bytes as they are (GGUF, same type) */
	int perm_heads;                 /* > 0: put q/k rows (perm_vec: elements) of this many
	                                 * heads back in the interleaved order llama.cpp reads */
	int perm_vec;
	/* the converted block */
	int64_t blk_row0, blk_rows;
	float *f32;                     /* (blk rows, cols) */
	uint8_t *conv;                  /* (blk rows, row_bytes) */
	int64_t cap_rows;
};

/* One Q8_0 row of n floats (n a multiple of 32) as ggml's reference quantize_row_q8_0: per
 * block of 32 an F16 scale d = max|x| / 127 and int8 round(x / d). */
static void
q8_0_row(const float *x, int64_t n, uint8_t *out)
{
	int64_t b;
	int i;

	for (b = 0; b < n / 32; b++, x += 32, out += 34) {
		float amax = 0.0f, d, id;
		uint16_t h;

		for (i = 0; i < 32; i++)
			if (fabsf(x[i]) > amax)
				amax = fabsf(x[i]);
		d = amax / 127.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		h = rs_f32_to_f16(d);
		memcpy(out, &h, 2);
		for (i = 0; i < 32; i++)
			out[2 + i] = (uint8_t)(int8_t)roundf(x[i] * id);
	}
}

/* Rows (or, for a vector, elements) of heads of hd items each, from the canonical rotate-half
 * order to the interleaved order of llama.cpp's files: file item h*hd + 2i + j is canonical item
 * h*hd + j*hd/2 + i.  n_items a multiple of hd; tmp holds n_items * item floats. */
static void
to_interleaved(float *x, int64_t n_items, int64_t item, int64_t hd, float *tmp)
{
	int64_t h, p, half = hd / 2;

	memcpy(tmp, x, (size_t)(n_items * item) * sizeof *x);
	for (h = 0; h < n_items / hd; h++)
		for (p = 0; p < hd; p++)
			memcpy(x + (h * hd + p) * item, tmp + (h * hd + (p % 2) * half + p / 2) * item,
			    (size_t)item * sizeof *x);
}

/* Convert rows [r0, r0 + nr) of a source into s->conv. */
static int
wsrc_block(struct wsrc *s, int64_t r0, int64_t nr, char **cause)
{
	size_t i, n = (size_t)nr * (size_t)s->cols;
	int rc;

	if (s->raw) {
		memcpy(s->conv, (const uint8_t *)s->t->data + (size_t)r0 * s->row_bytes,
		    (size_t)nr * s->row_bytes);
		s->blk_row0 = r0;
		s->blk_rows = nr;
		return 0;
	}

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
	if (s->perm_heads > 0) {
		float *tmp = rs_mallocarray(n, sizeof *tmp);
		if (tmp == NULL)
			return rs_fail(cause, RS_ENOMEM, "export: out of memory");
		if (s->perm_vec)
			to_interleaved(s->f32, s->cols, 1, s->cols / s->perm_heads, tmp);
		else
			to_interleaved(s->f32, nr, s->cols, s->rows / s->perm_heads, tmp);
		rs_free(tmp);
	}
	if (s->out == RS_DT_Q8_0) {
		for (i = 0; i < (size_t)nr; i++)
			q8_0_row(s->f32 + i * (size_t)s->cols, s->cols, s->conv + i * s->row_bytes);
		n = 0;
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
		int64_t unit = s->perm_heads > 0 && !s->perm_vec ? s->rows / s->perm_heads : 1;
		s->cap_rows = (int64_t)(EXPORT_BLOCK_BYTES / ((size_t)s->cols * 4));
		/* whole heads in a block when its rows are re-ordered within heads */
		s->cap_rows -= s->cap_rows % unit;
		if (s->cap_rows < unit)
			s->cap_rows = unit;
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
			int64_t r0 = row - row % s->cap_rows;   /* blocks at multiples of cap_rows */
			int64_t nr = s->rows - r0 < s->cap_rows ? s->rows - r0 : s->cap_rows;
			if ((rc = wsrc_block(s, r0, nr, cause)) != 0)
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

/* ------------------------------------------------------------------ GGUF */

/* llama.cpp's tensor names of the per-layer kinds (blk.N. + name). */
static const char *const gguf_lname[RS_T_LAYER_COUNT] = {
	"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
	"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "attn_norm.weight",
	"ffn_norm.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_output.bias",
	"ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"
};

/* llama.cpp's general.file_type (enum llama_ftype) of the main weight type. */
static uint32_t
gguf_file_type(enum rs_dtype d)
{
	switch (d) {
	case RS_DT_F16: return 1;
	case RS_DT_Q4_0: return 2;
	case RS_DT_Q8_0: return 7;
	case RS_DT_Q4_K: return 15;     /* Q4_K_M */
	case RS_DT_Q6_K: return 18;
	case RS_DT_BF16: return 32;
	default: return 0;
	}
}

/* The written type of a matrix: forced (Q8_0 where the row allows, else F16), else the
 * source's plain type, a quantized source's own type (copied, *raw) unless it is computed. */
static enum rs_dtype
gguf_matrix_dtype(const struct rs_tensor *t, int forced, int computed, int64_t cols, int *raw)
{
	*raw = 0;
	if (forced == RS_DT_Q8_0)
		return cols % 32 == 0 ? RS_DT_Q8_0 : RS_DT_F16;
	if (forced >= 0)
		return (enum rs_dtype)forced;
	if (t->dtype == RS_DT_F32 || t->dtype == RS_DT_F16 || t->dtype == RS_DT_BF16)
		return t->dtype;
	if (computed)
		return RS_DT_F32;
	*raw = 1;
	return t->dtype;
}

/* Declare one tensor of a source set up in ws (rows x cols, 1-D when vec). */
static int
gguf_add(struct rs_ggw *g, struct wsrc *ws, const char *name, int vec,
    struct rs_export_report *rep, char **cause)
{
	uint64_t ne[2] = { (uint64_t)ws->cols, (uint64_t)ws->rows };

	ws->row_bytes = rs_dtype_row_bytes(ws->out, (uint64_t)ws->cols);
	ws->esz = ws->out == RS_DT_F32 ? 4 : 2;
	rep->tensors++;
	rep->bytes += (uint64_t)ws->rows * ws->row_bytes;
	return rs_ggw_add_tensor(g, name, rs_gguf_ggml_of(ws->out), vec ? 1 : 2, ne, wsrc_fill, ws,
	    cause);
}

/* The vocabulary being written: pieces from t, merges as "left right" text. */
struct gguf_vocab {
	const struct rs_tokenizer *t;
	int32_t *left, *right;
	char *buf;
	size_t cap;
};

/* Piece i (a string-array callback). */
static const char *
vocab_piece(void *ud, uint64_t i, size_t *len)
{
	const struct gguf_vocab *v = ud;

	return rs_tokenizer_piece(v->t, (int32_t)i, len);
}

/* Merge i as "left right" (a string-array callback). */
static const char *
vocab_merge(void *ud, uint64_t i, size_t *len)
{
	struct gguf_vocab *v = ud;
	size_t ll, rl;
	const char *l = rs_tokenizer_piece(v->t, v->left[i], &ll);
	const char *r = rs_tokenizer_piece(v->t, v->right[i], &rl);

	if (l == NULL || r == NULL)
		return NULL;
	if (ll + rl + 1 > v->cap) {
		char *nb = rs_realloc(v->buf, ll + rl + 1);
		if (nb == NULL)
			return NULL;
		v->buf = nb;
		v->cap = ll + rl + 1;
	}
	memcpy(v->buf, l, ll);
	v->buf[ll] = ' ';
	memcpy(v->buf + ll + 1, r, rl);
	*len = ll + rl + 1;
	return v->buf;
}

/* The source folder's JSON file `name` as an object, or NULL when absent or unreadable. */
static json_t *
source_json(const char *path, const char *name)
{
	char *sdir, *from;
	json_t *j = NULL;

	if (path == NULL || (sdir = rs_path_model_dir(path)) == NULL)
		return NULL;
	if ((from = rs_strdupf("%s/%s", sdir, name)) != NULL)
		j = json_load_file(from, 0, NULL);
	rs_free(sdir);
	rs_free(from);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* The SentencePiece model beside a Hugging Face source whose tokenizer.json gives merge ranks
 * instead of the piece scores llama.cpp's "llama" vocabulary merges by (its converter reads
 * tokenizer.model too); NULL when there is none or it is a different vocabulary. */
static struct rs_tokenizer *
spm_scores_source(const struct rs_export_src *src)
{
	struct rs_tokenizer *sp;
	char *sdir, *from;

	if (rs_tokenizer_n_merges(src->tok) == 0 || src->path == NULL ||
	    (sdir = rs_path_model_dir(src->path)) == NULL)
		return NULL;
	from = rs_strdupf("%s/tokenizer.model", sdir);
	rs_free(sdir);
	if (from == NULL)
		return NULL;
	sp = access(from, R_OK) == 0 ? rs_tokenizer_open(from, NULL) : NULL;
	rs_free(from);
	if (sp != NULL && rs_tokenizer_n_vocab(sp) != rs_tokenizer_n_vocab(src->tok)) {
		rs_tokenizer_free(sp);
		sp = NULL;
	}
	return sp;
}

/* A piece and its id: qsort's comparator sees only the elements, so carry both. */
struct piece_id {
	const char *p;
	size_t len;
	int32_t id;
};

/* Order pieces by their bytes (a shorter prefix first). */
static int
piece_cmp(const void *a, const void *b)
{
	const struct piece_id *x = a, *y = b;
	int r = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

	return r != 0 ? r : (x->len > y->len) - (x->len < y->len);
}

/* Merge ranks as scores for llama.cpp's best-score-first merging: a piece scores minus the rank
 * of the first merge making it (the piece spelled left + right), others below every merge. */
static int
merge_scores(const struct rs_tokenizer *t, const int32_t *left, const int32_t *right,
    size_t nm, float *score, char **cause)
{
	size_t n = rs_tokenizer_n_vocab(t), i;
	struct piece_id *ids = rs_mallocarray(n, sizeof *ids), key;
	const struct piece_id *hit;
	char *cat = NULL;

	if (ids == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	for (i = 0; i < n; i++) {
		ids[i].p = rs_tokenizer_piece(t, (int32_t)i, &ids[i].len);
		ids[i].id = (int32_t)i;
		score[i] = -(float)(nm + i);
	}
	qsort(ids, n, sizeof *ids, piece_cmp);
	for (i = nm; i-- > 0;) {
		size_t ll, rl;
		const char *l = rs_tokenizer_piece(t, left[i], &ll);
		const char *r = rs_tokenizer_piece(t, right[i], &rl);
		char *nb = rs_realloc(cat, ll + rl + 1);

		if (nb == NULL) {
			rs_free(cat);
			rs_free(ids);
			return rs_fail(cause, RS_ENOMEM, "export: out of memory");
		}
		cat = nb;
		memcpy(cat, l, ll);
		memcpy(cat + ll, r, rl);
		key.p = cat;
		key.len = ll + rl;
		/* the piece spelled left + right */
		if ((hit = bsearch(&key, ids, n, sizeof *ids, piece_cmp)) != NULL)
			score[hit->id] = -(float)i;
	}
	rs_free(cat);
	rs_free(ids);
	return 0;
}

/* tokenizer.ggml.*: the vocabulary of src->tok as llama.cpp reads it ("llama" = SentencePiece
 * BPE merged by score, "gpt2" = byte-level BPE merged by rank), its special ids, and from the
 * source the chat template, padding id and add_eos (GGUF keys, or tokenizer_config.json and
 * config.json). */
static int
gguf_vocab(struct rs_ggw *g, const struct rs_export_src *src, struct rs_gguf *sg,
    char **cause)
{
	const struct rs_tokenizer *t = src->tok;
	struct rs_tokenizer *sp = NULL;
	struct gguf_vocab v;
	size_t n = rs_tokenizer_n_vocab(t), i, nm;
	int spm = strcmp(rs_tokenizer_kind(t), "spm") == 0, rc;
	float *score = NULL;
	int32_t *type = NULL;
	json_t *tc = NULL, *cfg = NULL, *x;
	const char *pre = spm ? "default" : rs_tokenizer_pre(t);

	memset(&v, 0, sizeof v);
	v.t = t;
	if (spm)
		sp = spm_scores_source(src);
	score = rs_mallocarray(n, sizeof *score);
	type = rs_mallocarray(n, sizeof *type);
	if (score == NULL || type == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "export: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		score[i] = rs_tokenizer_score(sp != NULL ? sp : t, (int32_t)i);
		type[i] = (int32_t)rs_tokenizer_type(t, (int32_t)i);
	}
	nm = rs_tokenizer_n_merges(t);
	if (spm && sp == NULL && nm > 0) {
		/* merge ranks as scores: a piece scores minus the rank of the first merge making it,
		 * so llama.cpp's best-score-first order is the rank order */
		v.left = rs_mallocarray(nm, sizeof *v.left);
		v.right = rs_mallocarray(nm, sizeof *v.right);
		if (v.left == NULL || v.right == NULL || rs_tokenizer_merges(t, v.left, v.right)) {
			rc = rs_fail(cause, RS_ENOMEM, "export: out of memory");
			goto out;
		}
		if ((rc = merge_scores(t, v.left, v.right, nm, score, cause)) != 0)
			goto out;
	}
	if ((rc = rs_ggw_kv_str(g, "tokenizer.ggml.model", spm ? "llama" : "gpt2", spm ? 5 : 4,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_str(g, "tokenizer.ggml.pre", pre, strlen(pre), cause)) != 0 ||
	    (rc = rs_ggw_kv_arr_str(g, "tokenizer.ggml.tokens", n, vocab_piece, &v, cause)) != 0 ||
	    (rc = rs_ggw_kv_arr(g, "tokenizer.ggml.scores", RS_GGUF_FLOAT32, score, n,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_arr(g, "tokenizer.ggml.token_type", RS_GGUF_INT32, type, n,
	    cause)) != 0)
		goto out;
	if (!spm && nm > 0) {
		v.left = rs_mallocarray(nm, sizeof *v.left);
		v.right = rs_mallocarray(nm, sizeof *v.right);
		if (v.left == NULL || v.right == NULL || rs_tokenizer_merges(t, v.left, v.right)) {
			rc = rs_fail(cause, RS_ENOMEM, "export: out of memory");
			goto out;
		}
		if ((rc = rs_ggw_kv_arr_str(g, "tokenizer.ggml.merges", nm, vocab_merge, &v,
		    cause)) != 0)
			goto out;
	}
	if ((rs_tokenizer_bos(t) >= 0 && (rc = rs_ggw_kv_u32(g, "tokenizer.ggml.bos_token_id",
	    (uint32_t)rs_tokenizer_bos(t), cause)) != 0) ||
	    (rs_tokenizer_eos(t) >= 0 && (rc = rs_ggw_kv_u32(g, "tokenizer.ggml.eos_token_id",
	    (uint32_t)rs_tokenizer_eos(t), cause)) != 0) ||
	    (rs_tokenizer_unk(t) >= 0 && (rc = rs_ggw_kv_u32(g, "tokenizer.ggml.unknown_token_id",
	    (uint32_t)rs_tokenizer_unk(t), cause)) != 0) ||
	    (rc = rs_ggw_kv_bool(g, "tokenizer.ggml.add_bos_token", rs_tokenizer_add_bos(t),
	    cause)) != 0)
		goto out;
	if (sg != NULL) {
		static const char *const keep[] = { "tokenizer.ggml.padding_token_id",
		    "tokenizer.ggml.add_eos_token", "tokenizer.chat_template", NULL };
		for (i = 0; keep[i] != NULL; i++) {
			int64_t k = rs_gguf_find_key(sg, keep[i]);
			if (k >= 0 && (rc = rs_ggw_kv_copy(g, sg, k, cause)) != 0)
				goto out;
		}
	} else {
		tc = source_json(src->path, "tokenizer_config.json");
		cfg = source_json(src->path, "config.json");
		if (cfg != NULL && json_is_integer(x = json_object_get(cfg, "pad_token_id")) &&
		    json_integer_value(x) >= 0 && (size_t)json_integer_value(x) < n &&
		    (rc = rs_ggw_kv_u32(g, "tokenizer.ggml.padding_token_id",
		    (uint32_t)json_integer_value(x), cause)) != 0)
			goto out;
		if (tc != NULL && json_is_boolean(x = json_object_get(tc, "add_eos_token")) &&
		    (rc = rs_ggw_kv_bool(g, "tokenizer.ggml.add_eos_token", json_is_true(x),
		    cause)) != 0)
			goto out;
		if (tc != NULL && json_is_string(x = json_object_get(tc, "chat_template")) &&
		    (rc = rs_ggw_kv_str(g, "tokenizer.chat_template", json_string_value(x),
		    json_string_length(x), cause)) != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(tc);
	json_decref(cfg);
	if (sp != NULL)
		rs_tokenizer_free(sp);
	rs_free(score);
	rs_free(type);
	rs_free(v.left);
	rs_free(v.right);
	rs_free(v.buf);
	return rc;
}

/* rankscope.plan.*: the plan JSON, method, base identity, and the rank of every decoder
 * matrix (layer-major q k v o gate up down; -1 dense). */
static int
gguf_plan(struct rs_ggw *g, const struct rs_export_src *src, char **cause)
{
	const char *method = rs_method_name(src->meta.method);
	char *plan, id[32];
	int32_t *ranks;
	int i, n = rs_plan_count(src->plan), rc;

	if ((plan = src_plan_json(src, cause)) == NULL)
		return RS_ENOMEM;
	if ((ranks = rs_mallocarray((size_t)n, sizeof *ranks)) == NULL) {
		rs_free(plan);
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	}
	for (i = 0; i < n; i++)
		ranks[i] = rs_plan_rank(src->plan, i);
	snprintf(id, sizeof id, "0x%016" PRIx64, rs_model_identity(src->model));
	if ((rc = rs_ggw_kv_str(g, "rankscope.plan.json", plan, strlen(plan), cause)) != 0 ||
	    (rc = rs_ggw_kv_str(g, "rankscope.plan.method", method, strlen(method), cause)) != 0 ||
	    (rc = rs_ggw_kv_str(g, "rankscope.plan.base_identity", id, strlen(id), cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, "rankscope.plan.factored",
	    (uint32_t)rs_plan_n_compressed(src->plan), cause)) != 0 ||
	    (rc = rs_ggw_kv_arr(g, "rankscope.plan.ranks", RS_GGUF_INT32, ranks, (uint64_t)n,
	    cause)) != 0)
		goto out;
out:
	rs_free(plan);
	rs_free(ranks);
	return rc;
}

/* Refuse a target that is the source file or lies in the source's folder. */
static int
gguf_target_ok(const char *source, const char *file, char **cause)
{
	char src[PATH_MAX], tgt[PATH_MAX], *sdir, *copy, *slash;
	struct stat sb;
	int is_dir;

	if (source == NULL)
		return 0;
	if (stat(file, &sb) == 0 && S_ISDIR(sb.st_mode))
		return rs_fail(cause, RS_EIO, "export: %s is a folder: give a file name", file);
	is_dir = stat(source, &sb) == 0 && S_ISDIR(sb.st_mode);
	if ((sdir = rs_strdup(source)) == NULL ||
	    (copy = rs_strdup(file)) == NULL) {
		rs_free(sdir);
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	}
	/* the target's folder must exist; compare real paths */
	slash = strrchr(copy, '/');
	if (slash == NULL)
		strcpy(copy, ".");
	else if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (realpath(copy, tgt) == NULL) {
		rs_fail(cause, RS_EIO, "export: cannot create %s: %s: %s", file, copy, strerror(errno));
		rs_free(copy);
		rs_free(sdir);
		return RS_EIO;
	}
	rs_free(copy);
	if (realpath(sdir, src) == NULL) {
		rs_free(sdir);
		return 0;
	}
	rs_free(sdir);
	if (is_dir && path_within(tgt, src))
		return rs_fail(cause, RS_EIO, "export: %s is inside the source model's folder %s: an "
		    "export never writes there", file, src);
	if (!is_dir && realpath(file, tgt) != NULL && strcmp(tgt, src) == 0)
		return rs_fail(cause, RS_EIO, "export: %s is the source model: an export never "
		    "writes over it", file);
	return 0;
}

/* Declare a global tensor: the embedding or head (a matrix) or the final norm (F32). */
static int
gguf_global(struct rs_ggw *g, struct wsrc *ws, const struct rs_model *m, enum rs_tglobal k,
    const char *name, const struct rs_export_opts *o, struct rs_export_report *rep,
    char **cause)
{
	const struct rs_tensor *t = rs_model_global(m, k);

	ws->m = m;
	ws->t = t;
	ws->rows = t->rows;
	ws->cols = t->cols;
	if (k == RS_G_NORM) {
		ws->out = RS_DT_F32;
		return gguf_add(g, ws, name, 1, rep, cause);
	}
	ws->out = gguf_matrix_dtype(t, o->dtype, 0, t->cols, &ws->raw);
	rep->kept += ws->raw;
	return gguf_add(g, ws, name, 0, rep, cause);
}

int
rs_export_gguf(const struct rs_export_src *src, const struct rs_compress_set *set,
    const char *file, const struct rs_export_opts *o, struct rs_export_report *rep,
    struct rs_job *job, char **cause)
{
	const struct rs_model *m = src->model;
	const struct rs_model_config *c = rs_model_config(m);
	int qwen = strcmp(c->arch, "qwen2") == 0, n = 0, cap, l, k, i, rc = 0;
	int attn_bias = 0, mlp_bias = 0, raw, *ffn = NULL;
	const char *arch = qwen ? "qwen2" : "llama", *base;
	unsigned want_bias;
	struct rs_gguf *sg = NULL;
	struct rs_ggw *g = NULL;
	struct wsrc *w = NULL;
	char key[96], name[96];
	enum rs_dtype main_dt;

	memset(rep, 0, sizeof *rep);
	if (src->tok == NULL)
		return rs_fail(cause, RS_EINVAL, "export gguf: no tokenizer loaded: llama.cpp needs "
		    "the vocabulary in the file");
	if (o->matrix != NULL && set != NULL && rs_compress_set_count(set) > 0)
		return rs_fail(cause, RS_EINVAL, "export gguf: given matrices and factors do not mix");
	/* which biases the plan needs, and whether llama.cpp's architecture reads them */
	for (i = 0; set != NULL && i < rs_compress_set_count(set); i++) {
		const struct rs_factor_pair *fp = rs_compress_set_pair(set, i);
		enum rs_tkind t = (enum rs_tkind)(fp->index % RS_MAT_COUNT);
		if (fp->bias == NULL || (c->bias_mask & (1u << t)))
			continue;
		if (qwen)
			return rs_fail(cause, RS_EUNSUPPORTED, "export gguf: the plan gives %s a bias "
			    "(method %s), and llama.cpp's qwen2 architecture reads biases of q, k and v "
			    "only: use --method whiten (no biases), or 'export dense'/'export factored'",
			    rs_plan_name(src->plan, fp->index), rs_method_name(src->meta.method));
		if (t >= RS_T_GATE)
			mlp_bias = 1;
		else
			attn_bias = 1;
	}
	want_bias = c->bias_mask | (attn_bias ? 15u : 0u) | (mlp_bias ? 7u << RS_T_GATE : 0u);
	if ((ffn = rs_calloc((size_t)c->n_layers, sizeof *ffn)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "export: out of memory");
	/* a pruned model (loaded, or a caller's matrices): one MLP width for all layers, and
	 * attention of the config's shapes, are what llama.cpp runs */
	for (l = 0; l < c->n_layers; l++) {
		if (rs_model_layer_attn(m, l) != NULL) {
			rc = rs_fail(cause, RS_EUNSUPPORTED, "export gguf: layer %d keeps a different "
			    "number of query/key pairs or value dims per head (a transact export): "
			    "llama.cpp gives every attention head of a model one size and takes a RoPE "
			    "pair's frequency from its place in the head, so it cannot be written "
			    "(prune the MLP only: transact --mlp-only)", l);
			goto fail;
		}
		ffn[l] = (int)rs_model_tensor(m, l, RS_T_GATE)->rows;
		for (k = 0; o->matrix != NULL && k < RS_MAT_COUNT; k++) {
			const struct rs_tensor *t = rs_model_tensor(m, l, (enum rs_tkind)k);
			int64_t gr = 0, gc = 0;
			const float *gd = NULL;
			if (o->matrix(o->matrix_ud, l, (enum rs_tkind)k, &gr, &gc, &gd) != 1)
				continue;
			if (k < RS_T_GATE && (gr != t->rows || gc != t->cols)) {
				rc = rs_fail(cause, RS_EUNSUPPORTED, "export gguf: layer %d %s is %lldx%lld, "
				    "not %lldx%lld: llama.cpp gives every attention head of a model one size "
				    "and takes a RoPE pair's frequency from its place in the head, so pruned "
				    "attention heads cannot be written (prune the MLP only)", l,
				    rs_tkind_name((enum rs_tkind)k), (long long)gr, (long long)gc,
				    (long long)t->rows, (long long)t->cols);
				goto fail;
			}
			if (k == RS_T_GATE)
				ffn[l] = (int)gr;
		}
		if (ffn[l] != ffn[0]) {
			/* llama.cpp (build 4748) reads feed_forward_length per layer but sizes every
			 * llama/qwen2 layer's MLP tensors with layer 0's width: it refuses the file */
			rc = rs_fail(cause, RS_EUNSUPPORTED, "export gguf: layer %d's MLP is %d wide, "
			    "layer 0's %d: llama.cpp's %s architecture sizes every layer's MLP with "
			    "layer 0's width, so per-layer widths cannot be run (write the model "
			    "zero-padded to the full width instead: transact --export-dense, then "
			    "load and export gguf)", l, ffn[l], ffn[0], arch);
			goto fail;
		}
	}
	if ((rc = gguf_target_ok(src->path, file, cause)) != 0)
		goto fail;
	if (strcmp(rs_model_format(m), "gguf") == 0 && src->path != NULL &&
	    (sg = rs_gguf_open(src->path, cause)) == NULL) {
		rc = RS_EFORMAT;
		goto fail;
	}
	cap = c->n_layers * RS_T_LAYER_COUNT + RS_G_COUNT;
	if ((w = rs_calloc((size_t)cap, sizeof *w)) == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "export: out of memory");
		goto fail;
	}
	{
		const struct rs_tensor *q = rs_model_tensor(m, 0, RS_T_Q);
		main_dt = gguf_matrix_dtype(q, o->dtype, 0, q->cols, &raw);
	}
	if ((g = rs_ggw_new(file, cause)) == NULL) {
		rc = RS_EIO;
		goto fail;
	}
	base = src->path != NULL ? strrchr(src->path, '/') : NULL;
	base = base != NULL && base[1] != '\0' ? base + 1 : src->path != NULL ? src->path : "model";
#define KEY(s) (snprintf(key, sizeof key, "%s." s, arch), key)
	if ((rc = rs_ggw_kv_str(g, "general.architecture", arch, strlen(arch), cause)) != 0 ||
	    (rc = rs_ggw_kv_str(g, "general.name", base, strlen(base), cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, "general.alignment", RS_GGUF_DEFAULT_ALIGNMENT, cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, "general.file_type", gguf_file_type(main_dt), cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("context_length"), (uint32_t)c->ctx_len, cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("embedding_length"), (uint32_t)c->dim, cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("block_count"), (uint32_t)c->n_layers, cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("attention.head_count"), (uint32_t)c->n_heads,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("attention.key_length"), (uint32_t)c->head_dim,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("attention.value_length"), (uint32_t)c->head_dim,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("rope.dimension_count"), (uint32_t)c->head_dim,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_f32(g, KEY("rope.freq_base"), (float)c->rope_theta, cause)) != 0 ||
	    (rc = rs_ggw_kv_f32(g, KEY("attention.layer_norm_rms_epsilon"), (float)c->rms_norm_eps,
	    cause)) != 0 ||
	    (rc = rs_ggw_kv_u32(g, KEY("vocab_size"), (uint32_t)c->vocab, cause)) != 0)
		goto fail;
	rc = rs_ggw_kv_u32(g, KEY("feed_forward_length"), (uint32_t)ffn[0], cause);
#undef KEY
	if (rc != 0 || (rc = gguf_vocab(g, src, sg, cause)) != 0 ||
	    (src->plan != NULL && (rc = gguf_plan(g, src, cause)) != 0))
		goto fail;

	/* token_embd, the layers, output_norm, output (absent when tied): the order llama.cpp's
	 * converter writes */
	if ((rc = gguf_global(g, &w[n++], m, RS_G_EMBED, "token_embd.weight", o, rep,
	    cause)) != 0)
		goto fail;
	for (l = 0; l < c->n_layers; l++) {
		for (i = 0; i < RS_T_LAYER_COUNT; i++) {
			const struct rs_tensor *lt = rs_model_tensor(m, l, (enum rs_tkind)i);
			int is_bias = i >= RS_T_Q_BIAS, mat = is_bias ? i - RS_T_Q_BIAS : i;
			const struct rs_tensor *mt = rs_model_tensor(m, l, (enum rs_tkind)mat);
			const struct rs_factor_pair *fp = set != NULL && mat < RS_MAT_COUNT ?
			    rs_compress_set_find(set, l * RS_MAT_COUNT + mat) : NULL;
			struct wsrc *ws;
			int64_t gr = 0, gc = 0;
			const float *gd = NULL;

			if (is_bias && !(want_bias & (1u << mat)))
				continue;
			ws = &w[n++];
			ws->m = m;
			snprintf(name, sizeof name, "blk.%d.%s", l, gguf_lname[i]);
			if (is_bias) {
				/* the model's bias, the factors' bias, their sum, or zeros */
				ws->rows = 1;
				ws->cols = mat == RS_T_GATE || mat == RS_T_UP ? ffn[l] : mt->rows;
				ws->out = RS_DT_F32;
				if (fp != NULL && fp->bias != NULL) {
					ws->fbias = fp->bias;
					ws->mbias = lt->present ? lt : NULL;
				} else if (lt->present)
					ws->t = lt;
				if (!qwen && (mat == RS_T_Q || mat == RS_T_K)) {
					ws->perm_heads = mat == RS_T_Q ? c->n_heads : c->n_kv_heads;
					ws->perm_vec = 1;
				}
				if ((rc = gguf_add(g, ws, name, 1, rep, cause)) != 0)
					goto fail;
				if (!(c->bias_mask & (1u << mat)))
					rep->biases++;
				continue;
			}
			ws->rows = lt->rows;
			ws->cols = lt->cols;
			if (i >= RS_T_ATTN_NORM) {
				ws->t = lt;
				ws->out = RS_DT_F32;
				if ((rc = gguf_add(g, ws, name, 1, rep, cause)) != 0)
					goto fail;
				continue;
			}
			if (o->matrix != NULL && o->matrix(o->matrix_ud, l, (enum rs_tkind)i, &gr, &gc,
			    &gd) == 1) {
				if (gd == NULL || gr <= 0 || gc <= 0) {
					rc = rs_fail(cause, RS_EINVAL, "export: %s: no matrix given", name);
					goto fail;
				}
				ws->data = gd;
				ws->rows = gr;
				ws->cols = gc;
			} else if (fp != NULL) {
				ws->fp = fp;
				rep->factored++;
			} else
				ws->t = lt;
			ws->out = gguf_matrix_dtype(lt, o->dtype, ws->t == NULL, ws->cols, &ws->raw);
			rep->kept += ws->raw;
			if (!qwen && !ws->raw && (i == RS_T_Q || i == RS_T_K))
				ws->perm_heads = i == RS_T_Q ? c->n_heads : c->n_kv_heads;
			if ((rc = gguf_add(g, ws, name, 0, rep, cause)) != 0)
				goto fail;
		}
	}
	if ((rc = gguf_global(g, &w[n++], m, RS_G_NORM, "output_norm.weight", o, rep,
	    cause)) != 0 ||
	    (!c->tied && (rc = gguf_global(g, &w[n++], m, RS_G_HEAD, "output.weight", o, rep,
	    cause)) != 0))
		goto fail;
	if ((rc = rs_ggw_finish(g, job, &rep->file_bytes, cause)) != 0)
		goto fail;
	if (o->note != NULL && (attn_bias || mlp_bias))
		o->note(o->ud, "export gguf: the plan's mean-compensation biases are written as "
		    "bias tensors (blk.N.attn_*.bias / ffn_*.bias), which llama.cpp's llama "
		    "architecture reads");
fail:
	rs_ggw_free(g);
	if (w != NULL)
		wsrc_free_all(w, n);
	if (sg != NULL)
		rs_gguf_close(sg);
	rs_free(ffn);
	return rc;
}

int
rs_export_gguf_vocab(const struct rs_tokenizer *tok, const char *source, const char *file,
    uint64_t *size, char **cause)
{
	struct rs_export_src src;
	struct rs_gguf *sg;
	struct rs_ggw *g = NULL;
	int64_t i;
	int rc;

	memset(&src, 0, sizeof src);
	src.tok = tok;
	src.path = source;
	if (source == NULL || (sg = rs_gguf_open(source, NULL)) == NULL)
		return rs_fail(cause, RS_EUNSUPPORTED, "export gguf: %s: a vocabulary-only export "
		    "takes the architecture's keys from a GGUF vocabulary (load --vocab-only "
		    "FILE.gguf), or load a model", source != NULL ? source : "nothing loaded");
	if ((rc = gguf_target_ok(source, file, cause)) != 0 ||
	    (g = rs_ggw_new(file, cause)) == NULL) {
		rc = rc != 0 ? rc : RS_EIO;
		goto out;
	}
	/* every key but the vocabulary's, which is written from the tokenizer as loaded */
	for (i = 0; i < rs_gguf_n_kv(sg); i++)
		if (strncmp(rs_gguf_key(sg, i), "tokenizer.", 10) != 0 &&
		    (rc = rs_ggw_kv_copy(g, sg, i, cause)) != 0)
			goto out;
	if ((rc = gguf_vocab(g, &src, sg, cause)) != 0)
		goto out;
	rc = rs_ggw_finish(g, NULL, size, cause);
out:
	rs_ggw_free(g);
	rs_gguf_close(sg);
	return rc;
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
