/* no-entry.c: a test plugin that forgot its entry symbol (it exports another name). */
#include <stdint.h>

#include "../../plugins/rankscope-plugin.h"

const struct rs_plugin *rs_plugin_entry_v0(void);

static const struct rs_plugin lost = {
	RS_PLUGIN_HEADER, "no-entry", "method", "0", "exports the wrong symbol", NULL, NULL, NULL
};

/* The wrong name. */
const struct rs_plugin *
rs_plugin_entry_v0(void)
{
	return &lost;
}
