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
 * The registry belongs to one session (no global state); its host state (the replacements
 * plugins install, host.c) lives beside it. */
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

/* An empty registry. */
struct rs_plugins *rs_plugins_new(char **cause);
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

/* Host state kept with the registry (host.c): opaque to everyone else. */
struct rs_host_state;
struct rs_host_state *rs_plugins_host_state(struct rs_plugins *p);

/* ---- session glue */
/* The session's registry, loaded on first use (rs_plugins_load_default); NULL on ENOMEM. */
struct rs_plugins *rs_plugins_session(struct rs_session *s);
/* A plugin command by exact name for the dispatcher (loads the registry first). */
const struct rs_cmd_entry *rs_plugins_session_cmd(struct rs_session *s, const char *name);
/* The model changed: forget every replacement (called by rs_session_set_model). */
void rs_plugins_model_changed(struct rs_plugins *p);

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
/* Install the replacements plugins made into forward pass f (called by `ppl` after the plan's
 * factors); prints one line naming them to out when there are any. */
int rs_host_install(struct rs_session *s, struct rs_forward *f, const struct rs_out *out,
    char **cause);
/* Number of replaced matrices, and the owner of the first (or NULL). */
int rs_host_n_replaced(struct rs_session *s, const char **owner);

/* Host state: new/free (the registry owns it). */
struct rs_host_state *rs_host_state_new(void);
void rs_host_state_free(struct rs_host_state *hs);
void rs_host_state_clear(struct rs_host_state *hs, const char *owner);

#endif
