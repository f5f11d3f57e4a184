/* test-oom.c: out of memory.  A session runs load + tokenize + spectra + rank + plan show
 * through rs_cmd_run_line while rs_alloc_fail_at(N) makes the N-th allocation fail, for
 * every N of the load and a stride over the rest: each failure must be reported (a failing
 * command prints an error and returns non-zero) and, in a sanitizer build, leave no leak
 * (LeakSanitizer's recoverable check after every run). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "session.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define OOM_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_LSAN 1
#endif
#endif
#ifdef OOM_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Captured output of one run. */
struct oom_out {
	char err[512];     /* the first error text */
	size_t n_err;      /* bytes of error text seen */
};

/* Sink: keep the first error text, drop the rest. */
static void
oom_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	struct oom_out *o = ud;
	size_t room;

	if (kind != RS_OUT_ERROR)
		return;
	room = sizeof o->err - 1 - (o->n_err < sizeof o->err - 1 ? o->n_err : sizeof o->err - 1);
	if (room > 0)
		memcpy(o->err + sizeof o->err - 1 - room, text, len < room ? len : room);
	o->n_err += len;
}

/* The script: load, then the steps after it. */
static char *oom_lines[8];
static int oom_n_lines;

/* Run the script on a new session with the n-th allocation failing (0: none).  Returns the
 * status of the first failing line (0 if none) and fills *out; *made = allocations made,
 * *after_load = allocations made by the load line. */
static int
oom_run(unsigned long n, struct oom_out *out, unsigned long *made, unsigned long *after_load)
{
	const struct rs_out sink = { oom_write, out };
	struct rs_job job;
	struct rs_cmd_ctx ctx;
	int i, rc = 0;

	memset(out, 0, sizeof *out);
	memset(&job, 0, sizeof job);
	memset(&ctx, 0, sizeof ctx);
	rs_alloc_fail_at(0);
	if ((ctx.session = rs_session_new()) == NULL)
		return RS_ENOMEM;
	ctx.session->threads = 1;	/* one worker: the allocation order is the same every run */
	ctx.out = &sink;
	ctx.job = &job;
	rs_alloc_fail_at(n);
	*after_load = 0;
	for (i = 0; i < oom_n_lines && rc == 0; i++) {
		rc = rs_cmd_run_line(&ctx, oom_lines[i]);
		if (i == 0) {
			/* rs_alloc_fail_at resets the count: carry the failure point over */
			*after_load = rs_alloc_fail_at(0);
			rs_alloc_fail_at(n > *after_load ? n - *after_load : 0);
		}
	}
	*made = rs_alloc_fail_at(0) + (oom_n_lines > 1 ? *after_load : 0);
	if (oom_n_lines <= 1)
		*after_load = *made;
	rs_free(ctx.cause);
	rs_session_free(ctx.session);
	return rc;
}

static void oom_sweep1(const char *what, unsigned long lo, unsigned long hi, unsigned long stride,
                       int bisect);

/* Whether the sanitizer finds leaked blocks now (always 0 without one). */
static int
oom_leaked(void)
{
#ifdef OOM_LSAN
	return __lsan_do_recoverable_leak_check() != 0;
#else
	return 0;
#endif
}

/* Fail every N in [lo, hi] by `stride`; one test point for "reported", one for "no leak".
 * The leak check runs once after the sweep (it costs a scan of memory); only when it finds a
 * leak is the sweep run again with a check after every run, to name the first N. */
static void
oom_sweep(const char *what, unsigned long lo, unsigned long hi, unsigned long stride)
{
	oom_sweep1(what, lo, hi, stride, 0);
}

/* The sweep itself; bisect: check for leaks after every run. */
static void
oom_sweep1(const char *what, unsigned long lo, unsigned long hi, unsigned long stride, int bisect)
{
	struct oom_out out;
	unsigned long n, made, after_load, runs = 0, failed = 0, survived = 0, silent = 0, leaks = 0;
	unsigned long first_silent = 0, first_leak = 0;

	(void)first_leak;
	int rc;

	for (n = lo; n <= hi; n += stride) {
		rc = oom_run(n, &out, &made, &after_load);
		runs++;
		if (rc != 0) {
			failed++;
			if (out.n_err == 0 && silent++ == 0)
				first_silent = n;
		} else {
			if (survived++ < 12 && getenv("RS_OOM_VERBOSE") != NULL)
				tap_diag("%s: N=%lu absorbed", what, n);	/* e.g. an optional cache */
		}
		if (bisect && oom_leaked() && leaks++ == 0)
			first_leak = n;
		if (rc != 0 && failed <= 2) {
			out.err[strcspn(out.err, "\n")] = '\0';
			tap_diag("%s: N=%lu: %s", what, n, out.err);
		}
	}
	if (!bisect && oom_leaked()) {
		oom_sweep1(what, lo, hi, stride, 1);
		return;
	}
	if (!bisect)
		leaks = 0;
	tap_ok(silent == 0, "%s: %lu failing allocations (N = %lu..%lu step %lu): %lu reported an "
	    "error, %lu were absorbed, %lu failed silently%s", what, runs, lo, hi, stride, failed,
	    survived, silent, silent ? " (first below)" : "");
	if (silent)
		tap_diag("first silent failure at N=%lu", first_silent);
#ifdef OOM_LSAN
	tap_ok(leaks == 0, "%s: no leak after any of them (LeakSanitizer)%s", what,
	    leaks ? " (first below)" : "");
	if (leaks)
		tap_diag("first leak at N=%lu", first_leak);
#endif
}

/* Sweep one script: every N of its load line, a stride over the rest. */
static void
oom_script(const char *name)
{
	struct oom_out out;
	unsigned long made, after_load, total, load_n, stride;
	const char *stride_env = getenv("RS_OOM_STRIDE");
	char what[160];
	int rc;

	/* The run without failures: it succeeds, and it counts the allocations. */
	rc = oom_run(0, &out, &made, &after_load);
	if (!tap_ok(rc == 0, "%s: the script runs without injected failures (%lu allocations, "
	    "%lu of them in load)", name, made, after_load)) {
		tap_diag("%s", out.err);
		return;
	}
	total = made;
	load_n = after_load;
	tap_ok(!oom_leaked(), "%s: no leak after the clean run", name);

	/* Every allocation of the load; a stride over the rest (at most ~300 runs). */
	snprintf(what, sizeof what, "%s: load", name);
	oom_sweep(what, 1, load_n, 1);
	stride = (total - load_n) / 300 + 1;
	if (stride_env != NULL && atol(stride_env) > 0)
		stride = (unsigned long)atol(stride_env);
	if (total > load_n) {
		snprintf(what, sizeof what, "%s: the commands after load", name);
		oom_sweep(what, load_n + 1, total, stride);
	}

	/* A failure after the last allocation changes nothing. */
	rc = oom_run(total + 1, &out, &made, &after_load);
	tap_ok(rc == 0, "%s: N past the last allocation: the script succeeds", name);
}

/* Free the script lines. */
static void
oom_clear(void)
{
	while (oom_n_lines > 0)
		rs_free(oom_lines[--oom_n_lines]);
}

int
main(void)
{
	static const char *const loads[] = {
		"kjv-llama/config.json",		/* HF folder, BF16, tokenizer.json */
		"stories260K/stories260K.gguf",		/* GGUF with its vocabulary */
		"stories260K/stories260K.bin",		/* llama2.c with tok512.bin beside it */
	};
	char path[1024];
	size_t i;

	/* The whole script on the small HF folder (tokenizer.model). */
	tap_fixture(path, sizeof path, "stories260K/hf/config.json");
	*strrchr(path, '/') = '\0';
	oom_lines[oom_n_lines++] = rs_strdupf("load '%s'", path);
	oom_lines[oom_n_lines++] = rs_strdup("tokenize 'Once upon a time, a little dog.'");
	if (rs_cmd_find("spectra", NULL) != NULL)
		oom_lines[oom_n_lines++] = rs_strdup("spectra L0.q --recompute");
	else
		oom_lines[oom_n_lines++] = rs_strdup("tensors 'L0.*'");
	oom_lines[oom_n_lines++] = rs_strdup("rank L0.q 16");
	oom_lines[oom_n_lines++] = rs_strdup("plan show");
	oom_script("stories260K/hf");
	oom_clear();

	/* The other load paths, load then tokenize. */
	for (i = 0; i < sizeof loads / sizeof loads[0]; i++) {
		tap_fixture(path, sizeof path, loads[i]);
		if (strcmp(strrchr(path, '/'), "/config.json") == 0)
			*strrchr(path, '/') = '\0';
		oom_lines[oom_n_lines++] = rs_strdupf("load '%s'", path);
		oom_lines[oom_n_lines++] = rs_strdup("tokenize 'Once upon a time'");
		oom_script(loads[i]);
		oom_clear();
	}
	return tap_done();
}
