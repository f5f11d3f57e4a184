/* cmd-plugins.c: `plugins`: what is loaded (name, kind, version, summary, file), the commands
 * plugins added, files that were refused and why, and the directories searched. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "engine.h"
#include "plugin.h"
#include "session.h"

static const struct rs_opt cmd_plugins_opts[] = {
	{ "path", NULL, "also print the directories searched" },
	{ NULL, NULL, NULL }
};

/* List the session's plugins. */
static int
cmd_plugins_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_plugins *p = rs_plugins_session(ctx->session);
	struct rs_plugin_info in;
	const char *file, *why, *owner;
	int i, n;

	if (p == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "plugins: out of memory");
	rs_out_printf(ctx->out, "%-10s %-9s %-8s %-44s %s\n", "name", "kind", "version", "summary",
	    "file");
	for (i = 0; i < rs_plugins_count(p); i++) {
		rs_plugins_info(p, i, &in);
		rs_out_printf(ctx->out, "%-10s %-9s %-8s %-44s %s\n", in.name, in.kind, in.version,
		    in.summary, in.file);
	}
	for (i = 0; i < rs_plugins_n_cmds(p); i++) {
		const struct rs_cmd_entry *e = rs_plugins_cmd_at(p, i);
		rs_out_printf(ctx->out, "command: %s %s  (%s)%s\n", e->name, e->usage, e->summary,
		    rs_cmd_find(e->name, NULL) == e || rs_cmd_find(e->name, NULL) == NULL ? "" :
		    "  [hidden by a built-in command]");
	}
	for (i = 0; i < rs_plugins_n_refused(p); i++) {
		rs_plugins_refused(p, i, &file, &why);
		rs_out_printf(ctx->out, "refused: %s: %s\n", file, why);
	}
	if ((n = rs_engine_n_replaced(ctx->session, &owner)) > 0)
		rs_out_printf(ctx->out, "replaced: %d decoder matrices by %s\n", n, owner);
	if (rs_args_has(args, "path")) {
		const char *env = getenv("RANKSCOPE_PLUGIN_PATH");
		char *def = rs_plugins_search_path();
		rs_out_printf(ctx->out, "search path: %s%s\n", env != NULL ? env :
		    def != NULL ? def : "?", env != NULL ? " (RANKSCOPE_PLUGIN_PATH)" : "");
		rs_free(def);
	}
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_plugins_forms[] = {
	{ NULL, "" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_plugins_entry = {
	.name = "plugins",
	.alias = NULL,
	.usage = "[--path]",
	.summary = "list the loaded plugins and the commands they add",
	.help = "Lists every registered plugin: the built-in methods (svd, feature, whiten, asvd) "
	        "and the shared objects loaded from the plugin directory ($(pkglibdir), relative "
	        "to the executable when installed elsewhere), then "
	        "$XDG_DATA_HOME/rankscope/plugins (default ~/.local/share/rankscope/plugins); "
	        "RANKSCOPE_PLUGIN_PATH (colon-separated files or folders) replaces both. Shows "
	        "name, kind, version, summary and file, the commands plugins added, files that "
	        "were refused (wrong ABI, no entry symbol) with the reason, and how many decoder "
	        "matrices a plugin currently replaces. --path prints the directories searched. "
	        "See rankscope-plugin(7).",
	.opts = cmd_plugins_opts,
	.min_args = 0,
	.max_args = 0,
	.flags = 0,
	.exec = cmd_plugins_exec,
	.forms = cmd_plugins_forms,
};
