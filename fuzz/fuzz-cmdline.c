/* fuzz-cmdline.c: libFuzzer target for the command language: rs_cmd_split on the input, then
 * rs_cmd_run_line on a fresh session with no model.  It runs in a scratch working directory
 * with the cache there and gnuplot replaced by false(1), so that whatever a command would
 * write or spawn stays harmless. */
#include "config.h"

#include "alloc.h"
#include "cmd.h"
#include "session.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Output sink that drops everything (after checking it is addressable). */
static void
fuzz_discard(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	volatile char sink;

	(void)ud;
	(void)kind;
	if (len > 0) {
		sink = text[0];
		sink = text[len - 1];
		(void)sink;
	}
}

/* Work in the scratch directory, with the cache and gnuplot made harmless. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (chdir(fuzz_dir()) != 0) {
		perror(fuzz_dir());
		abort();
	}
	setenv("XDG_CACHE_HOME", fuzz_dir(), 1);
	setenv("RS_GNUPLOT", "/bin/false", 1);
	setenv("HOME", fuzz_dir(), 1);
	return 0;
}

/* Split the input, then run it as a command line. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct rs_out out = { fuzz_discard, NULL };
	struct rs_job job;
	struct rs_cmd_ctx ctx;
	char *line, *words[16], *storage = NULL, *cause = NULL;
	int n, i;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';

	n = rs_cmd_split(line, words, 16, &storage, &cause);
	if (n < 0 && cause == NULL)
		abort();
	for (i = 0; i < n; i++)
		(void)strlen(words[i]);
	rs_free(storage);
	rs_free(cause);

	memset(&job, 0, sizeof job);
	memset(&ctx, 0, sizeof ctx);
	if ((ctx.session = rs_session_new()) != NULL) {
		ctx.out = &out;
		ctx.job = &job;
		(void)rs_cmd_run_line(&ctx, line);
		rs_free(ctx.cause);
		rs_session_free(ctx.session);
	}
	free(line);
	return 0;
}
