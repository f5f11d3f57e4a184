/* rankscope-plugin.h: the whole plugin ABI of rankscope.  The only header a plugin includes;
 * plugins never link rankscope's core: everything they need from the host comes through
 * struct rs_host, a table of function pointers passed to every call.
 *
 * A plugin is a shared object exporting one symbol,
 *
 *     const struct rs_plugin *rs_plugin_entry(void);
 *
 * returning a constant descriptor.  The loader dlopen()s the file with RTLD_NOW | RTLD_LOCAL,
 * dlsym()s "rs_plugin_entry", and before anything else runs refuses the plugin when
 * abi != RS_PLUGIN_ABI or size < the host's sizeof(struct rs_plugin) (dlerror()'s text, or the
 * mismatch, is the message).  Then init() is called once; each command the ops table lists
 * becomes a rankscope command (built-in commands win on a name clash); fini() is called when
 * the session ends.  See rankscope-plugin(7).
 *
 * Versioning: if you change, add or remove anything in this file in a way that breaks an
 * existing plugin or host, bump RS_PLUGIN_ABI.  Appending a function pointer at the END of
 * struct rs_host is compatible (plugins check h->size before using a newer member). */
#ifndef RANKSCOPE_PLUGIN_H
#define RANKSCOPE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define RS_PLUGIN_ABI 1		/* bump on any incompatible change */
#define RS_PLUGIN_ENTRY "rs_plugin_entry"

/* Status values: the same numbers as rankscope's core (0 or negative). */
#define RS_PLUGIN_OK 0
#define RS_PLUGIN_EIO (-1)		/* open/read/write failed */
#define RS_PLUGIN_EFORMAT (-2)		/* a file's content is malformed */
#define RS_PLUGIN_ENOMEM (-3)		/* an allocation failed */
#define RS_PLUGIN_EINVAL (-4)		/* bad argument from the user */
#define RS_PLUGIN_EUNSUPPORTED (-5)	/* well-formed but not implemented */
#define RS_PLUGIN_ECANCEL (-6)		/* the user cancelled */

/* Decoder linears of a layer, in rankscope's order (y = W x, W rows = outputs). */
enum rs_plugin_mat {
	RS_PLUGIN_Q, RS_PLUGIN_K, RS_PLUGIN_V, RS_PLUGIN_O,
	RS_PLUGIN_GATE, RS_PLUGIN_UP, RS_PLUGIN_DOWN,
	RS_PLUGIN_MAT_COUNT
};

/* The four inputs the forward pass shows a hook: q/k/v's, o's, gate/up's, down's. */
enum rs_plugin_input { RS_PLUGIN_IN_ATTN, RS_PLUGIN_IN_O, RS_PLUGIN_IN_MLP, RS_PLUGIN_IN_DOWN };

/* Output kinds of rs_host.print. */
enum rs_plugin_out { RS_PLUGIN_OUT_TEXT, RS_PLUGIN_OUT_ERROR, RS_PLUGIN_OUT_INFO };

/* Element types of tensors written or read through the host. */
enum rs_plugin_dtype { RS_PLUGIN_F32, RS_PLUGIN_F16, RS_PLUGIN_BF16 };

/* The loaded model, as a plugin sees it. */
struct rs_plugin_model {
	const char *path;		/* what was loaded */
	const char *arch;		/* "llama", "mistral", "qwen2" */
	int n_layers, dim, n_heads, n_kv_heads, head_dim, ffn_dim, vocab, ctx_len;
	uint64_t linear_params;		/* decoder linears, all layers */
	uint64_t embed_head_params;	/* embeddings and head (counted separately) */
};

/* Per (layer, input) activations of a forward pass: x is n_rows x width, row-major. */
typedef int (*rs_plugin_hook)(void *ud, int layer, enum rs_plugin_input g, const float *x,
    int n_rows, int width);

/* A decoder linear given by the plugin for an export: return 1 and set rows, cols and data
 * (float32, rows x cols, valid until the export returns), or 0 for the default. */
typedef int (*rs_plugin_matrix_fn)(void *ud, int layer, enum rs_plugin_mat mat, int64_t *rows,
    int64_t *cols, const float **data);

struct rs_host_st;	/* a safetensors file being written (opaque) */
struct rs_host_sr;	/* a safetensors file opened for reading (opaque) */

/* Host services.  The pointer given to a call is valid during that call only: a plugin must
 * not keep it.  Every function taking `char **cause` fills it (allocated with h->alloc's
 * family; the host frees it) on failure, as rankscope's own functions do. */
struct rs_host {
	uint32_t abi;			/* RS_PLUGIN_ABI of the host */
	uint32_t size;			/* sizeof(struct rs_host) of the host */
	void *ctx;			/* the host's own state: pass it back, never look inside */

	/* memory (the host's allocator: counted and failure-injectable in its tests) */
	void *(*alloc)(size_t n);
	void *(*calloc)(size_t count, size_t size);
	void (*free)(void *p);
	/* store a formatted one-line message in *cause; returns status */
	int (*fail)(char **cause, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/* output of the running command, cancellation and progress */
	void (*print)(void *ctx, enum rs_plugin_out kind, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
	int (*cancelled)(void *ctx);
	void (*progress)(void *ctx, double done, double total, const char *what);

	/* the model: RS_PLUGIN_EINVAL when none is loaded */
	int (*model)(void *ctx, struct rs_plugin_model *out, char **cause);
	/* shape of decoder linear (layer, mat) */
	int (*matrix_shape)(void *ctx, int layer, enum rs_plugin_mat mat, int64_t *rows,
	    int64_t *cols);
	/* rows [row0, row0 + n) of the ORIGINAL weights (canonical order) as float32 into dst */
	int (*matrix_rows)(void *ctx, int layer, enum rs_plugin_mat mat, int64_t row0, int64_t n,
	    float *dst, char **cause);

	/* Replace decoder linear (layer, mat) by the dense float32 matrix w (rows x cols of the
	 * original shape, allocated with h->alloc; the host takes it, also on failure).  Every
	 * forward pass the host runs (`ppl`, exports, forward_pass below) uses the replacement
	 * instead of the plan's factors or the weights, until cleared or the model changes.
	 * `owner` names the plugin (shown by `ppl` and `plugins`). */
	int (*replace)(void *ctx, const char *owner, int layer, enum rs_plugin_mat mat, float *w,
	    char **cause);
	/* drop every replacement (owner NULL) or those of one owner */
	void (*replace_clear)(void *ctx, const char *owner);
	/* the current replacement of (layer, mat), or NULL */
	const float *(*replacement)(void *ctx, int layer, enum rs_plugin_mat mat);

	/* Tokenize a text file (BOS first) with the session's tokenizer; *ids from h->alloc. */
	int (*tokenize_file)(void *ctx, const char *path, int32_t **ids, size_t *n, char **cause);
	/* Run windows of `window` tokens over ids (at most max_windows; 0: all whole windows)
	 * with the replacements installed, calling hook on every (layer, input). */
	int (*forward_pass)(void *ctx, const int32_t *ids, size_t n, int window, int max_windows,
	    rs_plugin_hook hook, void *ud, char **cause);
	/* Chunked perplexity (methods.md §5) of a text file with windows of `window` tokens
	 * (0: min(context, 2048)) under the replacements (and the session's plan). */
	int (*perplexity)(void *ctx, const char *path, int window, double *ppl, char **cause);

	/* Write the model with its replacements as a complete Hugging Face folder DIR (config,
	 * safetensors in `dtype` F32/F16/BF16, tokenizer files).  extra_config: NULL, or a JSON
	 * object whose members are added to config.json.  matrix: NULL, or asked for every
	 * decoder linear; when it returns 1 that matrix is written with its shape and data
	 * instead (a pruned model's smaller matrices). */
	int (*export_dense)(void *ctx, const char *dir, enum rs_plugin_dtype dtype,
	    const char *extra_config, rs_plugin_matrix_fn matrix, void *ud, char **cause);
	/* Hugging Face name of a decoder linear: "model.layers.3.mlp.up_proj.weight" */
	const char *(*hf_name)(void *ctx, int layer, enum rs_plugin_mat mat);
	/* The source model's config.json with extra_config's members merged in (NULL: as is),
	 * serialized; from h->alloc. */
	char *(*config_json)(void *ctx, const char *extra_config, char **cause);
	/* Copy the source folder's tokenizer files into dir; returns how many, or < 0. */
	int (*copy_tokenizer)(void *ctx, const char *dir, char **cause);
	/* make a directory and its parents */
	int (*mkdir_p)(const char *path, char **cause);
	/* write a whole file atomically */
	int (*write_file)(const char *path, const void *data, size_t len, char **cause);

	/* Safetensors writing (atomic: temporary file renamed at finish).  Data given to st_add
	 * must stay valid until st_finish returns. */
	struct rs_host_st *(*st_new)(const char *path, char **cause);
	int (*st_add)(struct rs_host_st *w, const char *name, enum rs_plugin_dtype dt,
	    uint32_t n_dims, const uint64_t *shape, const void *data, char **cause);
	int (*st_meta)(struct rs_host_st *w, const char *key, const char *value, char **cause);
	int (*st_finish)(void *ctx, struct rs_host_st *w, char **cause);
	void (*st_free)(struct rs_host_st *w);

	/* Safetensors reading (validated, mapped read-only). */
	struct rs_host_sr *(*sr_open)(const char *path, char **cause);
	/* Tensor `name`: its dtype, dims, shape (up to 4) and data; RS_PLUGIN_EFORMAT when absent. */
	int (*sr_get)(struct rs_host_sr *r, const char *name, enum rs_plugin_dtype *dt,
	    uint32_t *n_dims, uint64_t shape[4], const void **data, size_t *nbytes, char **cause);
	const char *(*sr_meta)(struct rs_host_sr *r, const char *key);
	void (*sr_close)(struct rs_host_sr *r);

	/* float16 conversions (IEEE half, round to nearest even) */
	uint16_t (*f32_to_f16)(float x);
	float (*f16_to_f32)(uint16_t h);
};

/* An option of a plugin command: `--name` (flag, arg NULL) or `--name VALUE`. */
struct rs_plugin_opt {
	const char *name;		/* without dashes; NULL ends the table */
	const char *arg;		/* metavariable, or NULL for a flag */
	const char *help;
};

/* Bits of rs_plugin_cmd.flags.  The member was `int needs_model` (0 or 1) before the long bit
 * existed: the same place, type and meaning of 1, so ABI 1 plugins built then work unchanged.
 * Hosts that predate RS_PLUGIN_CMD_LONG read any non-zero value as NEEDS_MODEL. */
#define RS_PLUGIN_CMD_NEEDS_MODEL 0x1	/* refused unless a model and tokenizer are loaded */
#define RS_PLUGIN_CMD_LONG 0x2		/* long: the workbench runs it as a job (progress,
					   Esc cancels through h->cancelled) */

/* A command a plugin adds.  exec gets the positionals and, for option i of opts, vals[i]:
 * its value, "" for a given flag, or NULL when absent.  It returns 0 or an RS_PLUGIN_E* status
 * with *cause set.  state is what init() stored. */
struct rs_plugin_cmd {
	const char *name;		/* NULL ends a table */
	const char *usage;		/* arguments after the name */
	const char *summary;		/* one line */
	const char *help;		/* a paragraph */
	const struct rs_plugin_opt *opts;	/* NULL or ended by {NULL} */
	int min_args, max_args;		/* positionals; max -1: any */
	int flags;			/* RS_PLUGIN_CMD_* bits; unknown bits are ignored */
	int (*exec)(void *state, const struct rs_host *h, int argc, char *const *argv,
	    const char *const *vals, char **cause);
};

/* The ops of every kind start like this; a kind may append members (checked by size). */
struct rs_plugin_ops {
	uint32_t size;			/* sizeof the kind's ops struct */
	const struct rs_plugin_cmd *cmds;	/* NULL or a table ended by {NULL} */
};

struct rs_plugin {
	uint32_t abi;			/* RS_PLUGIN_ABI at build time */
	uint32_t size;			/* sizeof(struct rs_plugin) at build time */
	const char *name;		/* unique: a second plugin of the same name is refused */
	const char *kind;		/* "method" | "allocator" | "exporter" */
	const char *version;
	const char *summary;		/* one line */
	/* Called once after the checks (may be NULL).  h->ctx has no running command: print
	 * goes to the session's log.  Non-zero refuses the plugin with *cause. */
	int (*init)(const struct rs_host *h, void **state, char **cause);
	void (*fini)(void *state);	/* may be NULL */
	const struct rs_plugin_ops *ops;	/* may be NULL */
};

/* The one symbol a plugin exports. */
const struct rs_plugin *rs_plugin_entry(void);

/* Helper for a plugin's descriptor initializer. */
#define RS_PLUGIN_HEADER RS_PLUGIN_ABI, (uint32_t)sizeof(struct rs_plugin)

/* Helper for a command: the number in option value v (as the host passed it in vals[]) within
 * [lo, hi], def when the option was not given; a one-line error from `who` otherwise.  Inline,
 * so it adds nothing to the ABI. */
static inline int
rs_plugin_number(const struct rs_host *h, const char *who, const char *v, const char *name,
    double lo, double hi, double def, double *out, char **cause)
{
	char *end;

	if (v == NULL) {
		*out = def;
		return RS_PLUGIN_OK;
	}
	*out = strtod(v, &end);
	if (end == v || *end != '\0' || !(*out >= lo && *out <= hi))
		return h->fail(cause, RS_PLUGIN_EINVAL, "%s: --%s: '%s' is not a number in "
		    "[%g, %g]", who, name, v, lo, hi);
	return RS_PLUGIN_OK;
}

#endif
