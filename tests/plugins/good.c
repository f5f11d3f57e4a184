/* good.c: a well-formed test plugin: kind "method", one command `good-echo` that prints its
 * positionals and its --tag option, and counts its calls in the state init made. */
#include <stdint.h>
#include <stdlib.h>

#include "../../plugins/rankscope-plugin.h"

struct good_state {
	int calls;
	void (*free)(void *);	/* the host's, kept for fini */
};

/* Make the state. */
static int
good_init(const struct rs_host *h, void **state, char **cause)
{
	struct good_state *st;

	if (h->abi != RS_PLUGIN_ABI || h->size < sizeof *h)
		return h->fail(cause, RS_PLUGIN_EUNSUPPORTED, "good: host too old");
	if ((st = h->calloc(1, sizeof *st)) == NULL)
		return h->fail(cause, RS_PLUGIN_ENOMEM, "good: out of memory");
	st->free = h->free;
	*state = st;
	return 0;
}

/* Free the state with the allocator it came from. */
static void
good_fini(void *state)
{
	struct good_state *st = state;

	st->free(st);
}

/* Print the arguments; fail on demand. */
static int
good_echo(void *state, const struct rs_host *h, int argc, char *const *argv,
    const char *const *vals, char **cause)
{
	struct good_state *st = state;
	int i;

	st->calls++;
	if (vals[1] != NULL)
		return h->fail(cause, RS_PLUGIN_EINVAL, "good-echo: failing as asked");
	h->print(h->ctx, RS_PLUGIN_OUT_TEXT, "good-echo call %d:", st->calls);
	for (i = 0; i < argc; i++)
		h->print(h->ctx, RS_PLUGIN_OUT_TEXT, " %s", argv[i]);
	h->print(h->ctx, RS_PLUGIN_OUT_TEXT, " tag=%s\n", vals[0] != NULL ? vals[0] : "-");
	return 0;
}

static const struct rs_plugin_opt good_opts[] = {
	{ "tag", "WORD", "a word to print" },
	{ "fail", NULL, "fail with a message" },
	{ NULL, NULL, NULL }
};

static const struct rs_plugin_cmd good_cmds[] = {
	{ "good-echo", "[WORD...] [--tag WORD] [--fail]", "print the arguments (test plugin)",
	  "Prints its arguments; --fail makes it fail.", good_opts, 0, -1, 0, good_echo },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL }
};

static const struct rs_plugin_ops good_ops = { sizeof(struct rs_plugin_ops), good_cmds };

static const struct rs_plugin good_plugin = {
	RS_PLUGIN_HEADER, "good", "method", "1.0", "test plugin that echoes", good_init, good_fini,
	&good_ops
};

/* The entry. */
const struct rs_plugin *
rs_plugin_entry(void)
{
	return &good_plugin;
}
