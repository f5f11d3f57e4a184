/* plugin.c: the plugin loader (dlopen seam, ABI checks), the registry and its commands. */
#include "config.h"

#include "plugin.h"
#include "replace.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../plugins/rankscope-plugin.h"
#include "alloc.h"
#include "cmd.h"
#include "xdg.h"

#ifndef RS_PKGLIBDIR
#define RS_PKGLIBDIR "/usr/local/lib/rankscope"
#endif

/* A plugin command seen as a rankscope command: the entry first, so the dispatcher's
 * ctx->entry leads back here. */
struct pcmd {
	struct rs_cmd_entry e;
	struct rs_opt *opts;			/* converted from the plugin's table */
	const struct rs_plugin_cmd *pc;
	int owner;				/* index into the registry's plugins */
	struct rs_plugins *reg;
};

struct loaded {
	const struct rs_plugin *d;
	char *file;				/* NULL: built in */
	void *handle;				/* dlopen handle or NULL */
	void *state;				/* what init stored */
	int n_cmds;
};

struct refusal {
	char *file, *why;
};

struct rs_plugins {
	struct loaded *v;
	int n, cap;
	struct pcmd **cmds;
	int n_cmds, cap_cmds;
	struct refusal *ref;
	int n_ref, cap_ref;
	struct rs_replace *repl;
	rs_plugins_run_fn run;			/* runs a plugin command (host.c's) */
	int loaded_default;
};

/* ---- the preload table: built-in methods (their code is compress.c's) */

static const struct rs_plugin builtin_svd = {
	RS_PLUGIN_HEADER, "svd", "method", PACKAGE_VERSION,
	"plain SVD of W (no data): B = U_k S_k, A = V_k^T", NULL, NULL, NULL
};
static const struct rs_plugin builtin_feature = {
	RS_PLUGIN_HEADER, "feature", "method", PACKAGE_VERSION,
	"feature PCA of the outputs with the pooled centred covariance and mean compensation",
	NULL, NULL, NULL
};
static const struct rs_plugin builtin_whiten = {
	RS_PLUGIN_HEADER, "whiten", "method", PACKAGE_VERSION,
	"SVD-LLM: SVD of W L with L L^T the uncentred Gram (Cholesky whitening)", NULL, NULL, NULL
};
static const struct rs_plugin builtin_asvd = {
	RS_PLUGIN_HEADER, "asvd", "method", PACKAGE_VERSION,
	"activation-aware SVD: diagonal scaling by input RMS^alpha", NULL, NULL, NULL
};

/* Lua's loader_preload: descriptors registered without dlopen. */
static const struct rs_plugin *const preload[] = {
	&builtin_svd, &builtin_feature, &builtin_whiten, &builtin_asvd, NULL
};

/* Make an empty registry. */
struct rs_plugins *
rs_plugins_new(rs_plugins_run_fn run, char **cause)
{
	struct rs_plugins *p = rs_calloc(1, sizeof *p);

	if (p == NULL || (p->repl = rs_replace_new()) == NULL) {
		rs_free(p);
		rs_fail(cause, RS_ENOMEM, "plugins: out of memory");
		return NULL;
	}
	p->run = run;
	return p;
}

/* Finish every plugin and free the registry. */
void
rs_plugins_free(struct rs_plugins *p)
{
	int i;

	if (p == NULL)
		return;
	/* replacements first: nothing of a plugin may outlive its code */
	rs_replace_free(p->repl);
	for (i = 0; i < p->n_cmds; i++) {
		rs_free(p->cmds[i]->opts);
		rs_free(p->cmds[i]);
	}
	rs_free(p->cmds);
	for (i = p->n - 1; i >= 0; i--) {
		if (p->v[i].d->fini != NULL)
			p->v[i].d->fini(p->v[i].state);
		if (p->v[i].handle != NULL)
			dlclose(p->v[i].handle);
		rs_free(p->v[i].file);
	}
	rs_free(p->v);
	for (i = 0; i < p->n_ref; i++) {
		rs_free(p->ref[i].file);
		rs_free(p->ref[i].why);
	}
	rs_free(p->ref);
	rs_free(p);
}

/* Grow an array of `size`-byte items to hold one more. */
static int
grow(void **v, int *cap, int n, size_t size)
{
	void *nv;
	int nc;

	if (n < *cap)
		return 0;
	nc = *cap > 0 ? *cap * 2 : 8;
	if ((nv = rs_realloc(*v, (size_t)nc * size)) == NULL)
		return RS_ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

/* Remember that a file was refused and why. */
static void
refuse(struct rs_plugins *p, const char *file, const char *why)
{
	char *f, *w;

	if (grow((void **)&p->ref, &p->cap_ref, p->n_ref, sizeof *p->ref) != 0)
		return;
	f = rs_strdup(file);
	w = rs_strdup(why != NULL ? why : "refused");
	if (f == NULL || w == NULL) {
		rs_free(f);
		rs_free(w);
		return;
	}
	p->ref[p->n_ref].file = f;
	p->ref[p->n_ref].why = w;
	p->n_ref++;
}

/* Run a plugin command through the registry's runner (host.c builds the host for the call). */
static int
pcmd_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const struct pcmd *c = (const struct pcmd *)ctx->entry;

	if (c == NULL || c->e.exec != pcmd_exec || c->reg->run == NULL)
		return rs_fail(&ctx->cause, RS_EINVAL, "plugin command called without its entry");
	return c->reg->run(ctx, c->pc, c->reg->v[c->owner].state, args);
}

/* Wrap a plugin's command table as command entries. */
static int
add_cmds(struct rs_plugins *p, int owner, const struct rs_plugin_cmd *cmds, char **cause)
{
	const char *pname = p->v[owner].d->name;
	int first = p->n_cmds, i, j, k, no;

	for (i = 0; cmds != NULL && cmds[i].name != NULL; i++) {
		const struct rs_plugin_cmd *pc = &cmds[i];
		struct pcmd *c;

		if (pc->exec == NULL || pc->name[0] == '\0')
			goto bad;
		for (j = 0; j < p->n_cmds; j++)
			if (strcmp(p->cmds[j]->e.name, pc->name) == 0) {
				rs_fail(cause, RS_EINVAL, "plugin %s: command '%s' is already "
				    "added by another plugin", pname, pc->name);
				goto fail;
			}
		for (no = 0; pc->opts != NULL && pc->opts[no].name != NULL; no++)
			;
		if (no > RS_ARGS_MAX_OPTS) {
			rs_fail(cause, RS_EINVAL, "plugin %s: command '%s' has %d options, at "
			    "most %d", pname, pc->name, no, RS_ARGS_MAX_OPTS);
			goto fail;
		}
		if (grow((void **)&p->cmds, &p->cap_cmds, p->n_cmds, sizeof *p->cmds) != 0 ||
		    (c = rs_calloc(1, sizeof *c)) == NULL) {
			rs_fail(cause, RS_ENOMEM, "plugin %s: out of memory", pname);
			goto fail;
		}
		if ((c->opts = rs_calloc((size_t)no + 1, sizeof *c->opts)) == NULL) {
			rs_free(c);
			rs_fail(cause, RS_ENOMEM, "plugin %s: out of memory", pname);
			goto fail;
		}
		for (k = 0; k < no; k++) {
			c->opts[k].name = pc->opts[k].name;
			c->opts[k].arg = pc->opts[k].arg;
			c->opts[k].help = pc->opts[k].help != NULL ? pc->opts[k].help : "";
		}
		c->e.name = pc->name;
		c->e.usage = pc->usage != NULL ? pc->usage : "";
		c->e.summary = pc->summary != NULL ? pc->summary : "";
		c->e.help = pc->help != NULL ? pc->help : c->e.summary;
		c->e.opts = c->opts;
		c->e.min_args = pc->min_args;
		c->e.max_args = pc->max_args;
		c->e.flags = ((pc->flags & RS_PLUGIN_CMD_NEEDS_MODEL) ?
		    RS_CMD_NEEDS_MODEL | RS_CMD_NEEDS_TOKENIZER : 0) |
		    ((pc->flags & RS_PLUGIN_CMD_LONG) ? RS_CMD_JOB : 0);
		c->e.exec = pcmd_exec;
		c->pc = pc;
		c->owner = owner;
		c->reg = p;
		p->cmds[p->n_cmds++] = c;
		p->v[owner].n_cmds++;
	}
	return 0;
bad:
	rs_fail(cause, RS_EINVAL, "plugin %s: command %d has no name or no exec", pname, i);
fail:
	while (p->n_cmds > first) {
		p->n_cmds--;
		rs_free(p->cmds[p->n_cmds]->opts);
		rs_free(p->cmds[p->n_cmds]);
	}
	p->v[owner].n_cmds = 0;
	return RS_EINVAL;
}

/* Check a descriptor, run its init and register it with its commands. */
int
rs_plugins_add(struct rs_plugins *p, const struct rs_plugin *d, const char *file, void *handle,
    const struct rs_host *h, char **cause)
{
	const char *where = file != NULL ? file : "(built in)";
	struct loaded *l;
	char *icause = NULL;
	int i, rc;

	/* the ABI and size first: nothing else of the descriptor is read before */
	if (d->abi != RS_PLUGIN_ABI)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: plugin ABI %u, rankscope needs ABI %d",
		    where, (unsigned)d->abi, RS_PLUGIN_ABI);
	if (d->size < sizeof(struct rs_plugin))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: plugin descriptor of %u bytes, "
		    "rankscope needs %zu", where, (unsigned)d->size, sizeof(struct rs_plugin));
	if (d->name == NULL || d->name[0] == '\0' || d->kind == NULL ||
	    (strcmp(d->kind, "method") != 0 && strcmp(d->kind, "allocator") != 0 &&
	    strcmp(d->kind, "exporter") != 0))
		return rs_fail(cause, RS_EFORMAT, "%s: plugin without a name or with a kind other "
		    "than method, allocator, exporter", where);
	if (d->ops != NULL && d->ops->size < sizeof(struct rs_plugin_ops))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: plugin %s: ops table of %u bytes, "
		    "rankscope needs %zu", where, d->name, (unsigned)d->ops->size,
		    sizeof(struct rs_plugin_ops));
	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i].d->name, d->name) == 0)
			return rs_fail(cause, RS_EINVAL, "%s: plugin %s is already loaded from %s",
			    where, d->name, p->v[i].file != NULL ? p->v[i].file : "(built in)");
	if (grow((void **)&p->v, &p->cap, p->n, sizeof *p->v) != 0)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", where);
	l = &p->v[p->n];
	memset(l, 0, sizeof *l);
	l->d = d;
	if (file != NULL && (l->file = rs_strdup(file)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", where);
	if (d->init != NULL && (rc = d->init(h, &l->state, &icause)) != 0) {
		rs_fail(cause, rc < 0 ? rc : RS_EINVAL, "%s: plugin %s: init failed: %s", where,
		    d->name, icause != NULL ? icause : rs_status_str(rc < 0 ? rc : RS_EINVAL));
		rs_free(icause);
		rs_free(l->file);
		return rc < 0 ? rc : RS_EINVAL;
	}
	p->n++;
	if (d->ops != NULL && (rc = add_cmds(p, p->n - 1, d->ops->cmds, cause)) != 0) {
		p->n--;
		if (d->fini != NULL)
			d->fini(l->state);
		rs_free(l->file);
		return rc;
	}
	l->handle = handle;
	return 0;
}

/* The dlopen seam (Lua's lsys_load / lsys_sym): open, find the entry, register. */
int
rs_plugins_load_file(struct rs_plugins *p, const char *path, const struct rs_host *h,
    char **cause)
{
	const struct rs_plugin *(*entry)(void);
	const struct rs_plugin *d;
	void *handle, *sym;
	const char *err;
	int rc;

	dlerror();
	if ((handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		return rs_fail(cause, RS_EIO, "%s", err != NULL ? err : path);
	}
	dlerror();
	sym = dlsym(handle, RS_PLUGIN_ENTRY);
	if ((err = dlerror()) != NULL || sym == NULL) {
		rc = rs_fail(cause, RS_EFORMAT, "%s: no plugin entry: %s", path,
		    err != NULL ? err : "rs_plugin_entry is NULL");
		dlclose(handle);
		return rc;
	}
	memcpy(&entry, &sym, sizeof entry);	/* object to function pointer, as POSIX allows */
	if ((d = entry()) == NULL) {
		dlclose(handle);
		return rs_fail(cause, RS_EFORMAT, "%s: rs_plugin_entry returned NULL", path);
	}
	if ((rc = rs_plugins_add(p, d, path, handle, h, cause)) != 0) {
		dlclose(handle);
		return rc;
	}
	return 0;
}

/* Sort helper for directory entries. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every *.so of a directory, recording refusals. */
int
rs_plugins_load_dir(struct rs_plugins *p, const char *dir, const struct rs_host *h)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, *cause = NULL;
	int n = 0, cap = 0, i, ok = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *full;

		if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0 || de->d_name[0] == '.')
			continue;
		if (grow((void **)&names, &cap, n, sizeof *names) != 0 ||
		    (full = rs_strdupf("%s/%s", dir, de->d_name)) == NULL)
			break;
		names[n++] = full;
	}
	closedir(d);
	if (n > 1)
		qsort(names, (size_t)n, sizeof *names, cmp_str);
	for (i = 0; i < n; i++) {
		if (rs_plugins_load_file(p, names[i], h, &cause) == 0)
			ok++;
		else
			refuse(p, names[i], cause);
		rs_free(cause);
		cause = NULL;
		rs_free(names[i]);
	}
	rs_free(names);
	return ok;
}

/* Directory of the running executable into buf; 0, or -1 when unknown. */
static int
exe_dir(char *buf, size_t n)
{
	ssize_t len;
	char *slash;

	if ((len = readlink("/proc/self/exe", buf, n - 1)) <= 0)
		return -1;
	buf[len] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return -1;
	*slash = '\0';
	return 0;
}

/* dir when it is a directory, else NULL (dir is freed then). */
static char *
existing_dir(char *dir)
{
	struct stat sb;

	if (dir != NULL && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
		rs_free(dir);
		return NULL;
	}
	return dir;
}

/* The bundled plugins of a build tree the executable runs from: <top>/plugins/.libs, with
 * <top> the executable's directory (the real binary) or its parent (libtool's .libs/rankscope
 * or .libs/lt-rankscope); only where <top> has config.status and libtool, so an installed
 * binary never picks up a stray directory.  NULL otherwise. */
static char *
build_tree_plugins(const char *exe)
{
	static const char *const tops[] = { "", "/.." };
	char *marker, *dir;
	size_t i;
	int is_tree;

	for (i = 0; i < sizeof tops / sizeof tops[0]; i++) {
		if ((marker = rs_strdupf("%s%s/config.status", exe, tops[i])) == NULL)
			return NULL;
		is_tree = access(marker, F_OK) == 0;
		rs_free(marker);
		if (!is_tree || (marker = rs_strdupf("%s%s/libtool", exe, tops[i])) == NULL)
			continue;
		is_tree = access(marker, F_OK) == 0;
		rs_free(marker);
		if (is_tree && (dir = existing_dir(rs_strdupf("%s%s/plugins/.libs", exe,
		    tops[i]))) != NULL)
			return dir;
	}
	return NULL;
}

/* The executable's own plugin directory: the build tree's (build_tree_plugins), else
 * <dir of the executable>/../lib/rankscope when it exists (relocated install), else NULL. */
static char *
relocated_pkglibdir(void)
{
	char exe[PATH_MAX], *dir;

	if (exe_dir(exe, sizeof exe) != 0)
		return NULL;
	if ((dir = build_tree_plugins(exe)) != NULL)
		return dir;
	return existing_dir(rs_strdupf("%s/../lib/rankscope", exe));
}

/* The default search directories, colon-separated. */
char *
rs_plugins_search_path(void)
{
	char *lib = relocated_pkglibdir(), *user, *all;

	if ((user = rs_xdg_path(RS_XDG_DATA, "plugins", NULL)) == NULL)
		user = rs_strdup("");   /* no HOME: the installed plugins only */
	if (user == NULL) {
		rs_free(lib);
		return NULL;
	}
	all = rs_strdupf("%s%s%s", lib != NULL ? lib : RS_PKGLIBDIR, user[0] ? ":" : "", user);
	rs_free(lib);
	rs_free(user);
	return all;
}

/* Load one search-path element: a directory, or a file. */
static void
load_element(struct rs_plugins *p, const char *el, const struct rs_host *h)
{
	struct stat sb;
	char *cause = NULL;

	if (el[0] == '\0' || stat(el, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode)) {
		rs_plugins_load_dir(p, el, h);
		return;
	}
	if (rs_plugins_load_file(p, el, h, &cause) != 0)
		refuse(p, el, cause);
	rs_free(cause);
}

/* Preloads, then RANKSCOPE_PLUGIN_PATH or the default directories. */
int
rs_plugins_load_default(struct rs_plugins *p, const struct rs_host *h)
{
	const char *env = getenv("RANKSCOPE_PLUGIN_PATH");
	char *path, *el, *save = NULL, *cause = NULL;
	int i;

	for (i = 0; preload[i] != NULL; i++) {
		if (rs_plugins_add(p, preload[i], NULL, NULL, h, &cause) != 0)
			refuse(p, preload[i]->name, cause);
		rs_free(cause);
		cause = NULL;
	}
	path = env != NULL ? rs_strdup(env) : rs_plugins_search_path();
	if (path == NULL)
		return RS_ENOMEM;
	for (el = strtok_r(path, ":", &save); el != NULL; el = strtok_r(NULL, ":", &save))
		load_element(p, el, h);
	rs_free(path);
	p->loaded_default = 1;
	return 0;
}

/* Number of registered plugins. */
int
rs_plugins_count(const struct rs_plugins *p)
{
	return p != NULL ? p->n : 0;
}

/* Describe plugin i. */
void
rs_plugins_info(const struct rs_plugins *p, int i, struct rs_plugin_info *out)
{
	const struct loaded *l = &p->v[i];

	out->name = l->d->name;
	out->kind = l->d->kind;
	out->version = l->d->version != NULL ? l->d->version : "";
	out->summary = l->d->summary != NULL ? l->d->summary : "";
	out->file = l->file != NULL ? l->file : "(built in)";
	out->n_cmds = l->n_cmds;
}

/* Number of refused files. */
int
rs_plugins_n_refused(const struct rs_plugins *p)
{
	return p != NULL ? p->n_ref : 0;
}

/* File and message of refusal i. */
void
rs_plugins_refused(const struct rs_plugins *p, int i, const char **file, const char **why)
{
	*file = p->ref[i].file;
	*why = p->ref[i].why;
}

/* The plugin command named exactly `name`. */
const struct rs_cmd_entry *
rs_plugins_cmd(const struct rs_plugins *p, const char *name)
{
	int i;

	for (i = 0; p != NULL && i < p->n_cmds; i++)
		if (strcmp(p->cmds[i]->e.name, name) == 0)
			return &p->cmds[i]->e;
	return NULL;
}

/* Number of plugin commands. */
int
rs_plugins_n_cmds(const struct rs_plugins *p)
{
	return p != NULL ? p->n_cmds : 0;
}

/* Plugin command i. */
const struct rs_cmd_entry *
rs_plugins_cmd_at(const struct rs_plugins *p, int i)
{
	return &p->cmds[i]->e;
}

/* The replacements kept with the registry. */
struct rs_replace *
rs_plugins_replacements(struct rs_plugins *p)
{
	return p != NULL ? p->repl : NULL;
}

/* Forget what plugins computed for the previous model. */
void
rs_plugins_model_changed(struct rs_plugins *p)
{
	if (p != NULL)
		rs_replace_clear(p->repl, NULL);
}
