/* wb.h: the workbench's state, shared by its loop (wb.c) and its drawing (draw.c). */
#ifndef RS_UI_WB_H
#define RS_UI_WB_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cmd.h"
#include "session.h"
#include "status.h"
#include "table.h"
#include "view.h"

enum wb_focus { WB_FOCUS_TABLE, WB_FOCUS_LOG, WB_FOCUS_CMD };

/* Kinds of log lines: the command's own kinds plus the echo of a command. */
enum { WB_LOG_ECHO = 16 };

struct wb_line {
	char *text;
	int kind;                   /* enum rs_out_kind or WB_LOG_ECHO */
};

/* Output waiting to be moved into the log (written by any thread). */
struct wb_chunk {
	struct wb_chunk *next;
	int kind;
	size_t len;
	char text[];
};

struct wb {
	struct rs_cmd_ctx *ctx;     /* the UI thread's context (session, job) */
	struct rs_out out;          /* sink of every command run here: the queue */

	/* Log pane: a ring of lines plus the line being written. */
	struct wb_line *log;
	int log_cap, log_n, log_head;   /* log_head: index of the oldest line */
	char *partial;
	size_t partial_len, partial_cap;
	int partial_kind;
	int log_scroll;             /* lines scrolled back from the newest */

	/* Worker: queue, job and progress, under mu. */
	pthread_mutex_t mu;
	struct wb_chunk *q_head, *q_tail;
	int busy;                   /* UI thread only: a job is running */
	pthread_t thread;
	char *job_line;
	char job_name[32];
	int job_auto;               /* the running job is the open's cached-spectra lookup */
	struct rs_job job;          /* cancel flag and progress of the worker's command */
	struct rs_cmd_ctx wctx;
	int job_done, job_rc;       /* under mu */
	double prog_done, prog_total;   /* under mu */
	char prog_what[160];            /* under mu */
	struct timespec job_t0;
	char job_summary[160];      /* the last job's outcome, shown on the status line */

	/* View and navigation. */
	struct ui_view view;
	int sel, top;               /* selected matrix, first visible row */
	int table_rows;             /* visible rows of the last draw (for PgUp/PgDn) */
	int log_rows;
	int *last_rank;             /* per matrix: last factored rank (for 'd') */
	int last_rank_n;
	int focus, prev_focus;
	int help;                   /* key help shown */
	struct ui_table tab;        /* columns, sort, filter, layer grid, diff (table.h) */
	int help_top;               /* its rows scrolled */
	int zoom;                   /* 'z': the focused panel (table or log) fills the screen */

	/* The plan kept per model between sessions (session-store.h). */
	int fresh;                  /* --fresh: restore nothing */
	const void *store_plan;     /* the plan being kept (NULL until the model's open) */
	uint64_t store_version;     /* its version when last written */
	int store_failed;           /* the last write failed (said once) */
	struct rs_plan_stamp open_stamp; /* the plan as opened or restored */
	int unsaved;                /* the plan differs from its file, or from the open */
	int ask_quit;               /* 'q' asked whether to quit with an unsaved plan */

	/* Terminal. */
	int utf8, color;
	int color_ok;               /* the terminal has colours and NO_COLOR is not set */
	int mouse_on;               /* mouse reports asked for (`set mouse`) */
	/* Where the last draw put the table's rows and the log's text rows (mouse clicks): the
	 * first row's y, and x and width (0: not drawn). */
	int table_y, table_x, table_w;
	int log_y, log_w;
	int too_small;
	int quit;
	int rc;                     /* status of the last command */
	int dirty;
};

/* draw.c */
void wb_draw_init_colors(struct wb *w);
void wb_draw(struct wb *w);
/* Place the cursor for the current focus (after wb_draw). */
void wb_draw_cursor(struct wb *w);

#endif
