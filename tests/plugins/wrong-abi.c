/* wrong-abi.c: a test plugin built for another ABI version.  The loader must refuse it before
 * calling anything but the entry: its init aborts the process. */
#include <stdint.h>
#include <stdlib.h>

#include "../../plugins/rankscope-plugin.h"

/* Must never run. */
static int
wrong_init(const struct rs_host *h, void **state, char **cause)
{
	(void)h;
	(void)state;
	(void)cause;
	abort();
}

static const struct rs_plugin wrong_plugin = {
	RS_PLUGIN_ABI + 1, (uint32_t)sizeof(struct rs_plugin), "wrong-abi", "method", "9.9",
	"built for a future ABI", wrong_init, NULL, NULL
};

/* The entry. */
const struct rs_plugin *
rs_plugin_entry(void)
{
	return &wrong_plugin;
}
