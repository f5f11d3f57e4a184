/* diff.h: the reference the diff columns ('D') compare the plan with: the plan file last
 * loaded or saved (read again at each refresh, so a save shows at once), or the plan the last
 * allocation left.  Reads the session: only while no job runs. */
#ifndef RS_UI_DIFF_H
#define RS_UI_DIFF_H

#include <stddef.h>

#include "table.h"
#include "view.h"

struct rs_session;

/* Remember the current plan as the last allocation's (after an 'alloc' that changed it). */
void ui_diff_note_alloc(struct ui_table *t, const struct rs_session *s);
/* The next diff state ('D'): off, the plan file (if any), the last allocation (if any), off.
 * A note for the log goes to msg ("" if none). */
void ui_diff_cycle(struct ui_table *t, const struct rs_session *s, char *msg, size_t n);
/* Put the reference of t->diff into the view (before ui_view_refresh); a reference that
 * cannot be read turns the diff off with a note in msg. */
void ui_diff_update(struct ui_table *t, struct ui_view *v, const struct rs_session *s,
    char *msg, size_t n);

#endif
