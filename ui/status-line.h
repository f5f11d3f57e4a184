/* status-line.h: the workbench's state in one line (vim's status line, lazygit's status):
 * method, budget and how far the plan is from it, the plan's file with an unsaved mark [+],
 * undo depth, and the table's filter, sort and diff reference when set. */
#ifndef RS_UI_STATUS_LINE_H
#define RS_UI_STATUS_LINE_H

#include <stddef.h>

#include "table.h"
#include "view.h"

/* The line into buf (n bytes); "" without a model. */
void ui_status_line(const struct ui_view *v, const struct ui_table *t, char *buf, size_t n);

#endif
