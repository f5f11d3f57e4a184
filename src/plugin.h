/* plugin.h: the plugin loader and registry (ABI: plugins/rankscope-plugin.h).
 *
 * Where plugins come from, in order:
 *   1. the preload table: the built-in methods (svd, feature, whiten, asvd; their code is in
 *      compress.c, here only descriptors) register through the same path as a loaded file;
 *   2. when RANKSCOPE_PLUGIN_PATH is set: only the files and directories it lists
 *      (colon-separated; tests use it to load from a build tree);
 *      otherwise the executable's plugin directory, then
 *      $XDG_DATA_HOME/rankscope/plugins (default ~/.local/share/rankscope/plugins).  The
 *      executable's plugin directory: in a build tree (config.status and libtool beside the
 *      executable or one level up, as for libtool's .libs/lt-rankscope) its plugins/.libs,
 *      so ./rankscope there has the bundled plugins; else $(pkglibdir) (relocated:
 *      <dir of the executable>/../lib/rankscope when that directory exists, else the
 *      configured RS_PKGLIBDIR).
 * In a directory every "*.so" is tried in name order.  A file is dlopen()ed with
 * RTLD_NOW | RTLD_LOCAL; a missing entry symbol or an ABI/size mismatch refuses it with
 * dlerror()'s text or the mismatch, before any of its code runs.  Refusals are kept (file and
 * message) for `plugins` to show; they never stop the others from loading.
 *
 * The registry belongs to one session (no global state) but knows nothing of it: the
 * replacements its plugins install (replace.h) live beside it, and its commands run through
 * the runner it was made with (host.c builds the host table for each call). */
#ifndef RS_PLUGIN_H
#define RS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

struct rs_cmd_entry;
struct rs_forward;
struct rs_out;
struct rs_plugin;
struct rs_host;
struct rs_session;

struct rs_plugins;

/* What `plugins` lists. */
struct rs_plugin_info {
	const char *name, *kind, *version, *summary;
	const char *file;		/* path, or "(built in)" */
	int n_cmds;			/* commands it added */
};

/* How a plugin command runs: the host table for the call is built by whoever made the
 * registry (host.c's rs_host_run_cmd), so the registry itself knows nothing of the session. */
struct rs_args;
struct rs_cmd_ctx;
struct rs_plugin_cmd;
typedef int (*rs_plugins_run_fn)(struct rs_cmd_ctx *ctx, const struct rs_plugin_cmd *pc,
    void *state, const struct rs_args *args);

/* An empty registry whose commands run through `run` (NULL: they refuse to run). */
struct rs_plugins *rs_plugins_new(rs_plugins_run_fn run, char **cause);
/* Call every plugin's fini, dlclose the files, free everything (NULL is fine). */
void rs_plugins_free(struct rs_plugins *p);

/* Register a descriptor (checks as for a file); file is a path or NULL for built in; handle is
 * the dlopen handle the registry then owns (NULL for built in).  init runs with host h. */
int rs_plugins_add(struct rs_plugins *p, const struct rs_plugin *d, const char *file,
    void *handle, const struct rs_host *h, char **cause);
/* dlopen one file and register it; on refusal nothing of it stays loaded. */
int rs_plugins_load_file(struct rs_plugins *p, const char *path, const struct rs_host *h,
    char **cause);
/* Every "*.so" of a directory (a missing directory is fine); refusals are recorded.
 * Returns the number loaded. */
int rs_plugins_load_dir(struct rs_plugins *p, const char *dir, const struct rs_host *h);
/* Preloads, then the search path above.  Refusals are recorded, not returned. */
int rs_plugins_load_default(struct rs_plugins *p, const struct rs_host *h);
/* The directories searched when RANKSCOPE_PLUGIN_PATH is unset, colon-separated (allocated). */
char *rs_plugins_search_path(void);

int rs_plugins_count(const struct rs_plugins *p);
void rs_plugins_info(const struct rs_plugins *p, int i, struct rs_plugin_info *out);
/* Refused files: count, then file and message of refusal i. */
int rs_plugins_n_refused(const struct rs_plugins *p);
void rs_plugins_refused(const struct rs_plugins *p, int i, const char **file, const char **why);
/* The command entry a plugin added under exactly `name`, or NULL. */
const struct rs_cmd_entry *rs_plugins_cmd(const struct rs_plugins *p, const char *name);
/* Plugin command entries, for help and completion: count and entry i. */
int rs_plugins_n_cmds(const struct rs_plugins *p);
const struct rs_cmd_entry *rs_plugins_cmd_at(const struct rs_plugins *p, int i);

/* The replacements the registry's plugins installed (replace.h), or NULL for a NULL p. */
struct rs_replace;
struct rs_replace *rs_plugins_replacements(struct rs_plugins *p);

/* The model changed: forget every replacement (called by rs_session_set_model). */
void rs_plugins_model_changed(struct rs_plugins *p);

/* ---- session glue (host.c) */
/* The session's registry, loaded on first use (rs_plugins_load_default); NULL on ENOMEM. */
struct rs_plugins *rs_plugins_session(struct rs_session *s);
/* A plugin command by exact name for the dispatcher (loads the registry first). */
const struct rs_cmd_entry *rs_plugins_session_cmd(struct rs_session *s, const char *name);
/* Run a plugin command with a host table for this call (the registry's runner). */
int rs_host_run_cmd(struct rs_cmd_ctx *ctx, const struct rs_plugin_cmd *pc, void *state,
    const struct rs_args *args);

/* ---- host services (host.c) */
/* What a host call runs in: the session and, inside a command, its output and job (out NULL:
 * no command is running; print is dropped, or goes to stderr never: the core prints nothing). */
struct rs_host_call {
	struct rs_session *s;
	const struct rs_out *out;
	struct rs_job *job;
	char name[160];		/* hf_name's answer */
};
/* Fill a host table whose ctx is `call` (which must outlive the table's use). */
void rs_host_fill(struct rs_host *h, struct rs_host_call *call);

#endif
