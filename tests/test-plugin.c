/* test-plugin.c: the plugin loader.  A good plugin loads and its command runs through the
 * dispatcher; a wrong-ABI plugin and one without its entry symbol are refused with the
 * mismatch or dlerror()'s text, before any of their code runs (wrong-abi's init aborts);
 * built-in methods register through the preload table; a duplicate name is refused; the
 * host's replacements are installed into a forward pass and give the same logits as the
 * weights they copy; a command's RS_PLUGIN_CMD_* flags carry over to its entry (the old
 * needs_model value 1 keeps its meaning).  The test plugins are loaded from the build tree's
 * tests/plugins/.libs. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../plugins/rankscope-plugin.h"
#include "alloc.h"
#include "cmd.h"
#include "engine.h"
#include "forward.h"
#include "model.h"
#include "plugin.h"
#include "session.h"
#include "tap.h"

struct sink {
	char buf[16384];
	size_t len;
};

/* Collect everything a command writes. */
static void
sink_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	struct sink *s = ud;

	(void)kind;
	if (s->len + len >= sizeof s->buf)
		len = sizeof s->buf - 1 - s->len;
	memcpy(s->buf + s->len, text, len);
	s->len += len;
	s->buf[s->len] = '\0';
}

/* Run a line into a fresh sink; returns its status. */
static int
run(struct rs_cmd_ctx *ctx, struct sink *sk, const char *line)
{
	sk->len = 0;
	sk->buf[0] = '\0';
	return rs_cmd_run_line(ctx, line);
}

/* A command that does nothing (the flag tests only register it). */
static int
flag_exec(void *state, const struct rs_host *h, int argc, char *const *argv,
    const char *const *vals, char **cause)
{
	(void)state, (void)h, (void)argc, (void)argv, (void)vals, (void)cause;
	return 0;
}

static const struct rs_plugin_cmd flagged_cmds[] = {
	{ "flag-long", "", "long", NULL, NULL, 0, 0, RS_PLUGIN_CMD_LONG, flag_exec },
	{ "flag-model", "", "needs a model", NULL, NULL, 0, 0, 1, flag_exec },
	{ "flag-both", "", "both", NULL, NULL, 0, 0,
	  RS_PLUGIN_CMD_NEEDS_MODEL | RS_PLUGIN_CMD_LONG, flag_exec },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL }
};
static const struct rs_plugin_ops flagged_ops = { sizeof(struct rs_plugin_ops), flagged_cmds };
static const struct rs_plugin flagged_plugin = {
	RS_PLUGIN_HEADER, "flagged", "method", "1.0", "commands with flags (in the test)", NULL,
	NULL, &flagged_ops
};

int
main(void)
{
	struct sink sk;
	const struct rs_out o = { sink_write, &sk };
	struct rs_cmd_ctx ctx;
	struct rs_session *s;
	struct rs_plugins *p;
	struct rs_plugin_info in;
	struct rs_host_call call;
	struct rs_host h;
	char libs[1024], good[1200], wrong[1200], noent[1200], path[1200], *cause = NULL;
	const char *bin = getenv("RS_BIN"), *file, *why;
	int i, found, rc;

	setenv("OPENBLAS_NUM_THREADS", "1", 0);
	/* the build tree: beside RS_BIN, else the current directory */
	if (bin != NULL && strrchr(bin, '/') != NULL)
		snprintf(libs, sizeof libs, "%.*s/tests/plugins/.libs", (int)(strrchr(bin, '/') - bin),
		    bin);
	else
		snprintf(libs, sizeof libs, "tests/plugins/.libs");
	snprintf(good, sizeof good, "%s/good.so", libs);
	snprintf(wrong, sizeof wrong, "%s/wrong-abi.so", libs);
	snprintf(noent, sizeof noent, "%s/no-entry.so", libs);
	if (access(good, R_OK) != 0)
		tap_skip_all("test plugins not built");

	/* direct loading, one file at a time */
	s = rs_session_new();
	call.s = s;
	call.out = NULL;
	call.job = NULL;
	rs_host_fill(&h, &call);
	p = rs_plugins_new(rs_host_run_cmd, NULL);
	tap_ok(p != NULL, "empty registry");
	rc = rs_plugins_load_file(p, good, &h, &cause);
	tap_ok(rc == 0 && rs_plugins_count(p) == 1, "good plugin loads (%s)", cause ? cause : "ok");
	rs_plugins_info(p, 0, &in);
	tap_ok(strcmp(in.name, "good") == 0 && strcmp(in.kind, "method") == 0 &&
	    strcmp(in.version, "1.0") == 0 && in.n_cmds == 1, "its descriptor: %s %s %s, %d command",
	    in.name, in.kind, in.version, in.n_cmds);
	tap_ok(rs_plugins_cmd(p, "good-echo") != NULL, "its command is registered");
	tap_ok(rs_plugins_cmd(p, "good-echo") != NULL && rs_plugins_cmd(p, "good-echo")->flags == 0,
	    "good-echo (flags 0): no model needed, not a job");
	rc = rs_plugins_load_file(p, good, &h, &cause);
	tap_ok(rc != 0 && cause != NULL && strstr(cause, "already loaded") != NULL,
	    "the same plugin twice is refused: %s", cause ? cause : "-");
	rs_free(cause);
	cause = NULL;
	rc = rs_plugins_load_file(p, wrong, &h, &cause);
	tap_ok(rc == RS_EUNSUPPORTED && cause != NULL && strstr(cause, "ABI 2") != NULL &&
	    strstr(cause, "needs ABI 1") != NULL, "wrong ABI refused before init: %s",
	    cause ? cause : "-");
	rs_free(cause);
	cause = NULL;
	rc = rs_plugins_load_file(p, noent, &h, &cause);
	tap_ok(rc == RS_EFORMAT && cause != NULL && strstr(cause, "rs_plugin_entry") != NULL &&
	    strstr(cause, "undefined symbol") != NULL, "missing entry refused with dlerror's "
	    "text: %s", cause ? cause : "-");
	rs_free(cause);
	cause = NULL;
	snprintf(path, sizeof path, "%s/does-not-exist.so", libs);
	rc = rs_plugins_load_file(p, path, &h, &cause);
	tap_ok(rc == RS_EIO && cause != NULL && strstr(cause, "does-not-exist.so") != NULL,
	    "missing file refused with dlerror's text: %s", cause ? cause : "-");
	rs_free(cause);
	cause = NULL;
	tap_ok(rs_plugins_count(p) == 1, "only the good plugin stayed");
	rs_plugins_free(p);

	/* command flags: a descriptor registered in memory */
	p = rs_plugins_new(rs_host_run_cmd, NULL);
	rc = rs_plugins_add(p, &flagged_plugin, NULL, NULL, &h, &cause);
	tap_ok(rc == 0, "a descriptor with flagged commands registers (%s)", cause ? cause : "ok");
	tap_ok(rs_plugins_cmd(p, "flag-long") != NULL && rs_plugins_cmd(p, "flag-long")->flags ==
	    RS_CMD_JOB, "RS_PLUGIN_CMD_LONG becomes RS_CMD_JOB on the command's entry");
	tap_ok(rs_plugins_cmd(p, "flag-model") != NULL && rs_plugins_cmd(p, "flag-model")->flags ==
	    (RS_CMD_NEEDS_MODEL | RS_CMD_NEEDS_TOKENIZER), "flags 1 (an ABI 1 needs_model) still "
	    "means a model and tokenizer are needed, and no job");
	tap_ok(rs_plugins_cmd(p, "flag-both") != NULL && rs_plugins_cmd(p, "flag-both")->flags ==
	    (RS_CMD_NEEDS_MODEL | RS_CMD_NEEDS_TOKENIZER | RS_CMD_JOB), "both bits carry over");
	rs_free(cause);
	cause = NULL;
	rs_plugins_free(p);

	/* a directory: the good one loads, the others are recorded as refused */
	p = rs_plugins_new(rs_host_run_cmd, NULL);
	rc = rs_plugins_load_dir(p, libs, &h);
	tap_ok(rc == 1 && rs_plugins_count(p) == 1 && rs_plugins_n_refused(p) == 2,
	    "directory: %d loaded, %d refused", rc, rs_plugins_n_refused(p));
	found = 0;
	for (i = 0; i < rs_plugins_n_refused(p); i++) {
		rs_plugins_refused(p, i, &file, &why);
		found += strstr(file, "wrong-abi.so") != NULL && strstr(why, "ABI") != NULL;
		found += strstr(file, "no-entry.so") != NULL && strstr(why, "undefined symbol") != NULL;
	}
	tap_ok(found == 2, "both refusals recorded with their reasons");
	rs_plugins_free(p);

	/* through the session: RANKSCOPE_PLUGIN_PATH, preloads, dispatch */
	setenv("RANKSCOPE_PLUGIN_PATH", libs, 1);
	memset(&ctx, 0, sizeof ctx);
	ctx.session = s;
	ctx.out = &o;
	rc = run(&ctx, &sk, "plugins");
	tap_ok(rc == 0, "plugins runs");
	tap_ok(strstr(sk.buf, "svd ") != NULL && strstr(sk.buf, "feature") != NULL &&
	    strstr(sk.buf, "whiten") != NULL && strstr(sk.buf, "asvd") != NULL &&
	    strstr(sk.buf, "(built in)") != NULL, "built-in methods listed through the preload table");
	tap_ok(strstr(sk.buf, "good ") != NULL && strstr(sk.buf, "good.so") != NULL &&
	    strstr(sk.buf, "command: good-echo") != NULL, "good plugin and its command listed");
	tap_ok(strstr(sk.buf, "refused: ") != NULL && strstr(sk.buf, "wrong-abi.so") != NULL &&
	    strstr(sk.buf, "no-entry.so") != NULL, "refusals listed");
	rc = run(&ctx, &sk, "good-echo a b --tag x; good-echo c");
	tap_ok(rc == 0 && strstr(sk.buf, "good-echo call 1: a b tag=x") != NULL &&
	    strstr(sk.buf, "good-echo call 2: c tag=-") != NULL, "plugin command dispatched with "
	    "positionals, options and its state: %s", sk.buf);
	rc = run(&ctx, &sk, "good-echo --fail");
	tap_ok(rc == RS_EINVAL && strstr(sk.buf, "failing as asked") != NULL,
	    "a plugin's failure reaches the output: %s", sk.buf);
	rc = run(&ctx, &sk, "good-echo --nope");
	tap_ok(rc == RS_EUSAGE && strstr(sk.buf, "unknown option --nope") != NULL,
	    "its options are checked by the command layer");
	rc = run(&ctx, &sk, "good-ech");
	tap_ok(rc == RS_EUSAGE && strstr(sk.buf, "unknown command") != NULL,
	    "plugin commands match by exact name only");
	rc = run(&ctx, &sk, "plugi");
	tap_ok(rc == 0 && strstr(sk.buf, "good.so") != NULL, "built-in prefixes still work");

	/* replacements: a copy of the weights gives the same logits */
	if (tap_fixture_path(path, sizeof path, "kjv-llama") == NULL)
		tap_skip(5, "fixture kjv-llama missing");
	else {
		struct rs_model *m = rs_model_open(path, &cause);
		struct rs_forward *f;
		int32_t toks[16];
		float *l0, *l1, *w;
		int64_t rows, cols;
		double md = 0;
		int vocab;

		tap_ok(m != NULL, "kjv-llama opens");
		if (m == NULL)
			return tap_done();
		rs_session_set_model(s, m, NULL, rs_strdup(path));
		vocab = rs_model_config(m)->vocab;
		for (i = 0; i < 16; i++)
			toks[i] = (int32_t)(1 + 37 * i % (vocab - 1));
		f = rs_forward_new(m, 16, 16, NULL);
		l0 = rs_mallocarray(16 * (size_t)vocab, sizeof *l0);
		l1 = rs_mallocarray(16 * (size_t)vocab, sizeof *l1);
		rs_forward_run(f, toks, 1, 16, 0, l0, NULL, NULL);
		rs_host_fill(&h, &call);
		h.matrix_shape(h.ctx, 2, RS_PLUGIN_UP, &rows, &cols);
		w = rs_mallocarray((size_t)(rows * cols), sizeof *w);
		h.matrix_rows(h.ctx, 2, RS_PLUGIN_UP, 0, rows, w, NULL);
		rc = h.replace(h.ctx, "test", 2, RS_PLUGIN_UP, w, &cause);
		tap_ok(rc == 0 && h.replacement(h.ctx, 2, RS_PLUGIN_UP) == w &&
		    rs_engine_n_replaced(s, NULL) == 1, "a replacement is held");
		rc = rs_engine_install(s, NULL, f, &cause);
		rs_forward_run(f, toks, 1, 16, 0, l1, NULL, NULL);
		for (i = 0; i < 16 * vocab; i++)
			if (fabsf(l0[i] - l1[i]) > md)
				md = fabsf(l0[i] - l1[i]);
		tap_ok(rc == 0 && md < 1e-3, "installed: same logits (max diff %.2g)", md);
		rc = h.replace(h.ctx, "test", 9, RS_PLUGIN_UP, rs_malloc(4), &cause);
		tap_ok(rc == RS_EINVAL, "out-of-range replacement refused: %s", cause ? cause : "-");
		rs_free(cause);
		cause = NULL;
		rs_session_set_model(s, NULL, NULL, NULL);
		tap_ok(rs_engine_n_replaced(s, NULL) == 0, "a new model drops the replacements");
		rs_forward_free(f);
		rs_free(l0);
		rs_free(l1);
	}
	rs_session_free(s);
	return tap_done();
}
