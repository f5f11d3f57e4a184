/* wb.c: the workbench: the one keyboard reader, key actions as commands, the worker thread for
 * long jobs, the output queue, signals and terminal restore.
 *
 * Threads: the UI thread owns curses, readline and the view.  A line holding a long command
 * (its entry has RS_CMD_JOB: ppl, spectra, calibrate, ..., plugin commands marked long) runs on
 * one worker thread; while it runs the UI thread does not touch the session (it draws the view
 * copy), refuses commands that would change state, and drains the worker's output from a
 * mutex-protected queue.  Signal handlers only set flags. */
#include "config.h"

#include "front.h"

#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <curses.h>

#include "alloc.h"
#include "cmd.h"
#include "diff.h"
#include "grid.h"
#include "compress.h"
#include "complete.h"
#include "keys.h"
#include "memplan.h"
#include "pager.h"
#include "plan.h"
#include "plugin.h"
#include "rl.h"
#include "session-store.h"
#include "session.h"
#include "wb.h"

#define WB_LOG_LINES 4000
#define WB_PROMPT "rankscope> "
#define WB_ESC_MS 30            /* how long after an ESC the rest of a sequence may take */
#define WB_PASTE_MAX 4096       /* bytes of a bracketed paste kept */

/* Commands allowed while a job runs (they read nothing the job writes). */
static const char *const wb_busy_ok[] = { "help", NULL };
static const char *const wb_quit_cmds[] = { "quit", NULL };

static volatile sig_atomic_t wb_sig_quit;      /* SIGTERM, SIGHUP */
static volatile sig_atomic_t wb_sig_cancel;    /* SIGINT */
static int wb_curses_on;                        /* the terminal is in curses mode */

/* At exit: never leave the terminal in curses mode (an exit() on some error path). */
static void
wb_atexit(void)
{
	if (wb_curses_on)
		endwin();
}

/* SIGTERM/SIGHUP: leave the loop cleanly. */
static void
wb_on_quit(int sig)
{
	(void)sig;
	wb_sig_quit = 1;
}

/* SIGINT: cancel the running job. */
static void
wb_on_int(int sig)
{
	(void)sig;
	wb_sig_cancel = 1;
}

/* The output sink (any thread): queue the text for the UI thread. */
static void
wb_out_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	struct wb *w = ud;
	struct wb_chunk *c = rs_malloc(sizeof *c + len);

	if (c == NULL)
		return;
	c->next = NULL;
	c->kind = (int)kind;
	c->len = len;
	memcpy(c->text, text, len);
	pthread_mutex_lock(&w->mu);
	if (w->q_tail != NULL)
		w->q_tail->next = c;
	else
		w->q_head = c;
	w->q_tail = c;
	pthread_mutex_unlock(&w->mu);
}

/* Progress from the worker's command. */
static void
wb_progress(void *ud, double done, double total, const char *what)
{
	struct wb *w = ud;

	pthread_mutex_lock(&w->mu);
	w->prog_done = done;
	w->prog_total = total;
	snprintf(w->prog_what, sizeof w->prog_what, "%s", what != NULL ? what : "");
	pthread_mutex_unlock(&w->mu);
}

/* Append a finished line to the log ring. */
static void
wb_log_push(struct wb *w, const char *text, size_t len, int kind)
{
	char *t = rs_malloc(len + 1);
	struct wb_line *slot;

	if (t == NULL)
		return;
	memcpy(t, text, len);
	t[len] = '\0';
	if (w->log_n < w->log_cap) {
		slot = &w->log[(w->log_head + w->log_n) % w->log_cap];
		w->log_n++;
	} else {
		slot = &w->log[w->log_head];
		rs_free(slot->text);
		w->log_head = (w->log_head + 1) % w->log_cap;
	}
	slot->text = t;
	slot->kind = kind;
	if (w->log_scroll > 0)
		w->log_scroll++;
}

/* Add text (possibly several lines, possibly a partial one) to the log. */
static void
wb_log_text(struct wb *w, int kind, const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char ch = text[i];
		if (ch == '\n') {
			wb_log_push(w, w->partial != NULL ? w->partial : "", w->partial_len,
			            w->partial_len > 0 ? w->partial_kind : kind);
			w->partial_len = 0;
			if (w->partial != NULL)
				w->partial[0] = '\0';
			continue;
		}
		if (ch == '\r')
			continue;
		if (ch == '\t')
			ch = ' ';
		if (w->partial_len == 0)
			w->partial_kind = kind;
		if (w->partial_len + 2 > w->partial_cap) {
			size_t cap = w->partial_cap ? w->partial_cap * 2 : 256;
			char *np = rs_realloc(w->partial, cap);
			if (np == NULL)
				return;
			w->partial = np;
			w->partial_cap = cap;
		}
		w->partial[w->partial_len++] = ch;
		w->partial[w->partial_len] = '\0';
	}
}

/* Move queued output into the log; 1 if there was any. */
static int
wb_drain(struct wb *w)
{
	struct wb_chunk *c, *next;

	pthread_mutex_lock(&w->mu);
	c = w->q_head;
	w->q_head = w->q_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	if (c == NULL)
		return 0;
	for (; c != NULL; c = next) {
		next = c->next;
		wb_log_text(w, c->kind, c->text, c->len);
		rs_free(c);
	}
	return 1;
}

/* A line of our own in the log. */
static void
wb_note(struct wb *w, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
wb_note(struct wb *w, int kind, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	if (w->partial_len > 0)
		wb_log_text(w, w->partial_kind, "\n", 1);
	wb_log_push(w, buf, (size_t)n, kind);
	w->dirty = 1;
}

/* Keep the plan for the model's next session when it changed since it was last kept (a few
 * KB written atomically: cheap after each change); a plan not yet adopted by its model's open
 * (wb_model_opened) is not kept, so a new model's dense plan never overwrites its kept one. */
static void
wb_store(struct wb *w)
{
	struct rs_session *s = w->ctx->session;
	char *cause = NULL;

	if (s->plan == NULL || (const void *)s->plan != w->store_plan ||
	    rs_plan_version(s->plan) == w->store_version)
		return;
	w->store_version = rs_plan_version(s->plan);
	if (rs_session_store_save(s, &cause) != 0) {
		if (!w->store_failed)
			wb_note(w, RS_OUT_ERROR, "session: the plan is not kept for the next session: "
			        "%s", cause != NULL ? cause : "?");
		w->store_failed = 1;
	} else {
		w->store_failed = 0;
	}
	rs_free(cause);
}

#define WB_MOUSE_EVENTS (BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED)
#define WB_WHEEL_STEP 3         /* rows one wheel step moves */

/* The session's workbench settings (`set mouse`, `set colours`) onto the terminal. */
static void
wb_apply_settings(struct wb *w)
{
	const struct rs_session *s = w->ctx->session;

	if (!wb_curses_on)
		return;
	if (s->mouse != w->mouse_on) {
		/* curses asks the terminal for the reports (xterm: SGR 1006) and decodes them */
		mousemask(s->mouse ? WB_MOUSE_EVENTS : 0, NULL);
		mouseinterval(0);
		w->mouse_on = s->mouse;
	}
	w->color = w->color_ok && s->colours;
}

/* Refresh the view from the session (only when no job runs). */
static void
wb_refresh(struct wb *w, int reload_spec)
{
	struct rs_session *s = w->ctx->session;
	int i;

	if (w->busy)
		return;
	{
		char msg[512];
		ui_diff_update(&w->tab, &w->view, s, msg, sizeof msg);
		if (msg[0] != '\0')
			wb_note(w, RS_OUT_ERROR, "%s", msg);
	}
	wb_store(w);
	wb_apply_settings(w);
	/* unsaved: edited since the plan file it was loaded from or saved to, else since the open */
	w->unsaved = s->plan != NULL && (const void *)s->plan == w->store_plan &&
	    rs_session_stamp_change(s, s->plan_source != NULL ? &s->plan_source_stamp :
	                            &w->open_stamp) != NULL;
	if (ui_view_refresh(&w->view, s) != 0)
		wb_note(w, RS_OUT_ERROR, "out of memory refreshing the screen");
	if (w->view.n > 0) {
		int *lr = w->last_rank;
		if (lr == NULL || w->last_rank_n != w->view.n) {
			rs_free(lr);
			lr = rs_calloc((size_t)w->view.n, sizeof *lr);
			w->last_rank_n = lr != NULL ? w->view.n : 0;
		}
		w->last_rank = lr;
		for (i = 0; lr != NULL && i < w->view.n; i++)
			if (w->view.rows[i].rank != RS_PLAN_DENSE)
				lr[i] = w->view.rows[i].rank;
		if (w->sel >= w->view.n)
			w->sel = w->view.n - 1;
		if (ui_view_load_spec(&w->view, s, w->sel, reload_spec) != 0)
			wb_note(w, RS_OUT_ERROR, "out of memory copying the spectrum");
	}
	w->dirty = 1;
}

/* Whether a command entry is one of the names in list. */
static int
wb_cmd_in(const struct rs_cmd_entry *e, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(e->name, *list) == 0)
			return 1;
	return 0;
}

/* The entry a command word names (name, alias or prefix; then a plugin's), or NULL.  Plugin
 * commands only while no job runs: the registry loads on first use and the job may use it. */
static const struct rs_cmd_entry *
wb_entry(struct wb *w, const char *word)
{
	const struct rs_cmd_entry *e;
	char *cause = NULL;

	if (w->busy)
		e = rs_cmd_find(word, &cause);
	else
		e = rs_cmd_find_session(w->ctx->session, word, &cause);
	rs_free(cause);
	return e;
}

/* Classify a line by the entries of its ';'-separated commands, split as rs_cmd_run_line
 * splits them: any job (RS_CMD_JOB; name: the first one's), any quit, all allowed while
 * busy.  Any number of words. */
static void
wb_classify(struct wb *w, const char *line, int *job, int *quit, int *busy_ok, char *name,
            size_t namen)
{
	char *copy = rs_strdup(line), *p, *seg, **words, *storage;
	char quote = 0;

	*job = *quit = 0;
	*busy_ok = 1;
	name[0] = '\0';
	/* a word takes a character and a separator: at most len / 2 + 1 of them */
	words = rs_malloc((strlen(line) / 2 + 1) * sizeof *words);
	if (copy == NULL || words == NULL) {
		rs_free(copy);
		rs_free(words);
		*busy_ok = 0;
		return;
	}
	for (seg = p = copy;; p++) {
		if (quote != 0) {
			if (*p == quote)
				quote = 0;
			else if (*p == '\\' && p[1] != '\0')
				p++;
			if (*p != '\0')
				continue;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
			continue;
		} else if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		/* '#' at the start of a word ends the line, as in rs_cmd_run_line */
		if (*p == ';' || *p == '\0' || (*p == '#' && (p == copy || p[-1] == ' ' ||
		    p[-1] == '\t'))) {
			const struct rs_cmd_entry *e;
			char end = *p, *cause = NULL;
			int n;
			*p = '\0';
			n = rs_cmd_split(seg, words, (int)(strlen(line) / 2 + 1), &storage, &cause);
			rs_free(cause);
			if (n > 0 && (e = wb_entry(w, words[0])) != NULL) {
				if ((e->flags & RS_CMD_JOB) && !*job) {
					*job = 1;
					snprintf(name, namen, "%s", e->name);
				}
				if (wb_cmd_in(e, wb_quit_cmds))
					*quit = 1;
				if (!wb_cmd_in(e, wb_busy_ok))
					*busy_ok = 0;
			} else if (n != 0) {
				*busy_ok = 0;   /* unknown, or a split error: it runs and reports it */
			}
			rs_free(storage);
			if (end != ';')
				break;
			seg = p + 1;
		}
	}
	rs_free(words);
	rs_free(copy);
}

/* The worker thread: run the job's line. */
static void *
wb_worker(void *arg)
{
	struct wb *w = arg;
	int rc = rs_cmd_run_line(&w->wctx, w->job_line);

	pthread_mutex_lock(&w->mu);
	w->job_done = 1;
	w->job_rc = rc;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Start a job on the worker thread. */
static int
wb_job_start(struct wb *w, const char *line, const char *name)
{
	sigset_t all, old;
	int e;

	if ((w->job_line = rs_strdup(line)) == NULL)
		return RS_ENOMEM;
	memset(&w->job, 0, sizeof w->job);
	w->job.progress = wb_progress;
	w->job.ud = w;
	memset(&w->wctx, 0, sizeof w->wctx);
	w->wctx.session = w->ctx->session;
	w->wctx.out = &w->out;
	w->wctx.job = &w->job;
	w->job_done = 0;
	w->job_rc = 0;
	w->prog_done = w->prog_total = 0;
	w->prog_what[0] = '\0';
	snprintf(w->job_name, sizeof w->job_name, "%s", name);
	w->job_auto = 0;
	w->job_summary[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &w->job_t0);
	/* Signals stay with the UI thread (the worker and its BLAS threads block them). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&w->thread, NULL, wb_worker, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		rs_free(w->job_line);
		w->job_line = NULL;
		wb_note(w, RS_OUT_ERROR, "cannot start a thread: %s", strerror(e));
		return RS_EIO;
	}
	w->busy = 1;
	return 0;
}

/* One log line: the memory available and each heavy operation's planned peak at this model's
 * size with default settings (memplan.h; `info` says what each is made of). */
static void
wb_note_memory(struct wb *w)
{
	const struct rs_session *s = w->ctx->session;
	struct rs_memplan_opts mo;
	struct rs_memplan mp;
	char line[512], h[32];
	size_t n;
	int e;
	static const char *const label[RS_MEM_COUNT] = { "spectra", "features", "calibrate",
	    "ppl", "plan factors" };

	if (s->model == NULL)
		return;
	rs_memplan_defaults(s->model, s->plan, s->threads, &mo);
	rs_memplan_make(s->model, &mo, &mp);
	n = (size_t)snprintf(line, sizeof line, "memory: %s available; peaks:",
	    rs_mem_human(h, sizeof h, mp.available));
	for (e = 0; e < RS_MEM_COUNT && n < sizeof line; e++)
		n += (size_t)snprintf(line + n, sizeof line - n, "%s %s %s%s", e > 0 ? "," : "",
		    label[e], rs_mem_human(h, sizeof h, mp.op[e].bytes),
		    mp.op[e].bytes > mp.available ? " (does not fit)" : "");
	if (n < sizeof line)
		snprintf(line + n, sizeof line - n, " ('info' says what each holds)");
	wb_note(w, RS_OUT_INFO, "%s", line);
}

/* After a model is opened: the memory line, and the spectra the cache already holds for it,
 * looked up as a short job (quick keys only: no weight is read in full, nothing computed). */
static void
wb_model_opened(struct wb *w)
{
	struct rs_session *s = w->ctx->session;

	if (s->model == NULL)
		return;
	if (s->plan != NULL && !w->fresh) {
		char *path = NULL, *cause = NULL;
		int rc = rs_session_store_restore(s, &path, &cause);
		if (rc == 0)
			wb_note(w, RS_OUT_INFO, "session: restored the last session's plan (%d of %d "
			        "factored, method %s); undo drops it", rs_plan_n_compressed(s->plan),
			        rs_plan_count(s->plan), rs_method_name((enum rs_method)s->method));
		else if (rc != 1)
			wb_note(w, RS_OUT_ERROR, "session: the last session's plan is not restored: %s",
			        cause != NULL ? cause : "?");
		rs_free(path);
		rs_free(cause);
	}
	/* this plan is the one kept from now on; it is unsaved once it differs from here */
	w->store_plan = s->plan;
	w->store_version = s->plan != NULL ? rs_plan_version(s->plan) : 0;
	rs_session_stamp(s, &w->open_stamp);
	wb_refresh(w, 1);
	wb_note_memory(w);
	if (!w->busy && wb_job_start(w, "spectra --cached", "spectra") == 0)
		w->job_auto = 1;
}

/* If the job finished (or wait: until it does), join it and take its results. */
static void
wb_job_reap(struct wb *w, int wait)
{
	struct timespec now;
	double secs;
	int done;

	if (!w->busy)
		return;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		done = w->job_done;
		pthread_mutex_unlock(&w->mu);
		if (done || !wait)
			break;
		wb_drain(w);
		{
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (!done)
		return;
	pthread_join(w->thread, NULL);
	w->busy = 0;
	wb_drain(w);
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - w->job_t0.tv_sec) +
	       1e-9 * (double)(now.tv_nsec - w->job_t0.tv_nsec);
	if (w->job_rc == 0 && w->prog_total > 0)
		snprintf(w->job_summary, sizeof w->job_summary, "%s: %.0f/%.0f done in %.1f s",
		         w->job_name, w->prog_done, w->prog_total, secs);
	else if (w->job_rc == 0)
		snprintf(w->job_summary, sizeof w->job_summary, "%s: done in %.1f s", w->job_name, secs);
	else if (w->job_rc == RS_ECANCEL)
		snprintf(w->job_summary, sizeof w->job_summary, "%s: cancelled after %.1f s (%.0f/%.0f)",
		         w->job_name, secs, w->prog_done, w->prog_total);
	else
		snprintf(w->job_summary, sizeof w->job_summary, "%s: failed after %.1f s (see the log)",
		         w->job_name, secs);
	if (!w->job_auto)
		w->rc = w->job_rc;
	w->job_auto = 0;
	w->ctx->reactions |= w->wctx.reactions;
	if (w->wctx.reactions & RS_REACT_QUIT)
		w->quit = 1;
	if (w->wctx.reactions & RS_REACT_MODEL) {
		w->sel = 0;
		w->top = 0;
		w->store_plan = NULL;   /* the new model's plan is kept once it is opened */
	}
	rs_free(w->job_line);
	w->job_line = NULL;
	/* the plan an allocation left is the diff columns' second reference */
	if (w->job_rc == 0 && strcmp(w->job_name, "alloc") == 0 && w->ctx->session->plan != NULL &&
	    rs_plan_version(w->ctx->session->plan) != w->view.plan_version)
		ui_diff_note_alloc(&w->tab, w->ctx->session);
	wb_refresh(w, 1);
	if (w->wctx.reactions & RS_REACT_MODEL)
		wb_model_opened(w);
}

/* Ask the running job to stop. */
static void
wb_cancel(struct wb *w)
{
	if (!w->busy)
		return;
	w->job.cancel = 1;
	wb_note(w, RS_OUT_INFO, "cancelling %s ...", w->job_name);
}

/* Run a command line as typed (or as a key's command): history, echo, then either here or on
 * the worker. */
static void
wb_run(struct wb *w, const char *line)
{
	char name[32];
	int job, quit, busy_ok;
	const char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return;
	ui_rl_history_add(p);
	wb_note(w, WB_LOG_ECHO, "> %s", p);
	w->log_scroll = 0;
	wb_classify(w, p, &job, &quit, &busy_ok, name, sizeof name);
	/* the open's lookup reads no weights and ends within a second: wait for it */
	if (w->busy && w->job_auto && !quit)
		wb_job_reap(w, 1);
	if (w->busy) {
		if (quit) {
			wb_cancel(w);
			wb_job_reap(w, 1);
			w->quit = 1;
			return;
		}
		if (!busy_ok) {
			wb_note(w, RS_OUT_ERROR, "busy: %s is running; Esc cancels", w->job_name);
			return;
		}
	}
	if (job && !w->busy) {
		if (wb_job_start(w, p, name) == 0)
			w->dirty = 1;
		return;
	}
	w->ctx->reactions = 0;
	w->rc = rs_cmd_run_line(w->ctx, p);
	wb_drain(w);
	if (w->ctx->reactions & RS_REACT_QUIT)
		w->quit = 1;
	if (w->ctx->reactions & RS_REACT_MODEL) {
		w->sel = 0;
		w->top = 0;
		w->store_plan = NULL;   /* the new model's plan is kept once it is opened */
	}
	wb_refresh(w, 1);
	if (w->ctx->reactions & RS_REACT_MODEL)
		wb_model_opened(w);
}

/* Readline hook: a finished line. */
static void
wb_rl_line(void *ud, char *line)
{
	struct wb *w = ud;

	if (line == NULL) {
		wb_note(w, RS_OUT_INFO, "(Ctrl-D: type 'quit' or press Esc then q to leave)");
		return;
	}
	wb_run(w, line);
	free(line);
	w->dirty = 1;
}

static void
wb_rl_redisplay(void *ud)
{
	((struct wb *)ud)->dirty = 1;
}

/* One row of a completion list into the log. */
static void
wb_match_row(void *ud, const char *text)
{
	wb_note(ud, RS_OUT_INFO, "%s", text);
}

/* Readline hook: completions, in columns at the screen's width (the log scrolls them). */
static void
wb_rl_matches(void *ud, const char *const *items, int n, int total)
{
	ui_complete_columns(items, n, COLS > 1 ? COLS - 1 : 1, wb_match_row, ud);
	if (total > n)
		wb_note(ud, RS_OUT_INFO, "... (%d in all; type more to narrow them)", total);
}

static const char *const *
wb_rl_names(void *ud, int *n)
{
	struct wb *w = ud;

	*n = w->view.names != NULL ? w->view.n : 0;
	return (const char *const *)w->view.names;
}

static const struct rs_cmd_entry *
wb_rl_plugin_cmd(void *ud, int i)
{
	struct wb *w = ud;
	const struct rs_plugins *p;

	/* the registry loads on first use: not while a job may be using the session */
	if (w->busy || (p = rs_plugins_session(w->ctx->session)) == NULL ||
	    i >= rs_plugins_n_cmds(p))
		return NULL;
	return rs_plugins_cmd_at(p, i);
}

/* Move focus (keypad on for panels only: readline needs the raw bytes). */
static void
wb_focus(struct wb *w, int focus)
{
	if (focus != WB_FOCUS_CMD && w->focus != WB_FOCUS_CMD)
		w->prev_focus = w->focus;
	if (focus == WB_FOCUS_CMD && w->focus != WB_FOCUS_CMD)
		w->prev_focus = w->focus;
	w->focus = focus;
	keypad(stdscr, focus != WB_FOCUS_CMD);
	w->dirty = 1;
}

/* Select matrix i (clamped) and show its spectra. */
static void
wb_select(struct wb *w, int i)
{
	if (w->view.n == 0)
		return;
	if (i < 0)
		i = 0;
	if (i >= w->view.n)
		i = w->view.n - 1;
	w->sel = i;
	if (!w->busy && ui_view_load_spec(&w->view, w->ctx->session, i, 0) != 0)
		wb_note(w, RS_OUT_ERROR, "out of memory copying the spectrum");
	w->dirty = 1;
}

/* A rank action on the selected matrix, as a command. */
static void
wb_rank_key(struct wb *w, enum ui_act act)
{
	const struct ui_row *r;
	char cmd[128];
	int step = w->view.align > 0 ? w->view.align : 1;

	if (!w->view.loaded || w->view.n == 0) {
		wb_note(w, RS_OUT_ERROR, "no model loaded (type :load PATH)");
		return;
	}
	r = &w->view.rows[w->sel];
	switch (act) {
	case UI_A_RANK_STEP_UP:
		snprintf(cmd, sizeof cmd, "rank %s +%d", r->name, step);
		break;
	case UI_A_RANK_STEP_DOWN:
		snprintf(cmd, sizeof cmd, "rank %s -%d", r->name, step);
		break;
	case UI_A_RANK_INC:
		snprintf(cmd, sizeof cmd, "rank %s +1", r->name);
		break;
	case UI_A_RANK_DEC:
		snprintf(cmd, sizeof cmd, "rank %s -1", r->name);
		break;
	case UI_A_DENSE:
		if (r->rank != RS_PLAN_DENSE) {
			snprintf(cmd, sizeof cmd, "rank %s dense", r->name);
		} else {
			long k = w->last_rank != NULL ? w->last_rank[w->sel] : 0;
			if (k <= 0)     /* below break-even: a rank at it saves nothing */
				k = ((long)ceil(r->break_even - 1) / step) * step;
			if (k < 1)
				k = step;
			snprintf(cmd, sizeof cmd, "rank %s %ld", r->name, k);
		}
		break;
	default:
		return;
	}
	wb_run(w, cmd);
}

/* After an ESC: read the rest of its sequence (bytes arriving within WB_ESC_MS) until it is
 * complete.  UI_SEQ_PARTIAL means a lone Esc.  A byte or key read past the sequence is pushed
 * back for the next getch. */
static enum ui_seq
wb_read_seq(unsigned char *seq, size_t cap, size_t *n, int *code)
{
	enum ui_seq k;
	size_t len = 1;
	int d;

	seq[0] = 27;
	*n = 1;
	for (;;) {
		k = ui_key_seq(seq, *n, &len, code);
		if (k != UI_SEQ_PARTIAL || *n == cap)
			break;
		timeout(*n == 1 ? WB_ESC_MS : 10);
		if ((d = getch()) == ERR)
			break;
		if (d < 0 || d > 255 || (d == 27 && *n == 1)) {
			ungetch(d);     /* a key, or Esc Esc: the first Esc is alone */
			break;
		}
		seq[(*n)++] = (unsigned char)d;
	}
	if (k == UI_SEQ_PARTIAL)
		return *n == 1 ? UI_SEQ_PARTIAL : UI_SEQ_UNKNOWN;   /* cut off: drop it */
	if (len < *n) {
		ungetch(seq[*n - 1]);
		*n = len;
	}
	return k;
}

/* A bracketed paste (its start already read): the text up to ESC [ 201 ~ goes into the command
 * line as typed text, line ends as spaces, so nothing in it runs or acts as a key. */
static void
wb_paste(struct wb *w)
{
	static const char end[] = "\x1b[201~";
	char *text = rs_malloc(WB_PASTE_MAX + 1);
	size_t n = 0, matched = 0;
	int d;

	timeout(200);
	while ((d = getch()) != ERR) {
		if (d < 0 || d > 255)
			continue;       /* a key curses made out of pasted bytes */
		if ((char)d == end[matched]) {
			if (end[++matched] == '\0')
				break;
			continue;
		}
		matched = (char)d == end[0] ? 1 : 0;
		if (text != NULL && n < WB_PASTE_MAX && matched == 0)
			text[n++] = d == '\n' || d == '\r' || d == '\t' ? ' ' : (char)d;
	}
	if (text == NULL) {
		wb_note(w, RS_OUT_ERROR, "out of memory: paste dropped");
		return;
	}
	{
		size_t i, k = 0;
		for (i = 0; i < n; i++)         /* drop the other control bytes */
			if ((unsigned char)text[i] >= 0x20 && text[i] != 0x7f)
				text[k++] = text[i];
		text[k] = '\0';
	}
	if (w->focus != WB_FOCUS_CMD)
		wb_focus(w, WB_FOCUS_CMD);
	ui_rl_insert(text);
	rs_free(text);
	w->dirty = 1;
}

/* Move the selection d rows in the table's shown order (clamped); the layer grid moves by
 * layers.  d = INT_MIN / INT_MAX: the first / last row. */
static void
wb_move(struct wb *w, int d)
{
	int pos;

	if (w->view.n == 0)
		return;
	if (w->tab.grid) {
		int layers = w->view.n / RS_MAT_COUNT;
		d = d == INT_MIN ? -layers : d == INT_MAX ? layers : d;
		wb_select(w, ui_grid_move(&w->view, w->sel, d, 0));
		return;
	}
	if (ui_table_order(&w->tab, &w->view) != 0 || w->tab.n_order == 0)
		return;
	pos = ui_table_pos(&w->tab, w->sel);
	if (d == INT_MIN || d == INT_MAX)
		pos = d == INT_MIN ? 0 : w->tab.n_order - 1;
	else
		pos = pos < 0 ? 0 : pos + d;
	if (pos < 0)
		pos = 0;
	if (pos >= w->tab.n_order)
		pos = w->tab.n_order - 1;
	wb_select(w, w->tab.order[pos]);
}

/* After the filter or the sort changed: keep the selected matrix when it is shown, else
 * select the first row shown. */
static void
wb_follow(struct wb *w)
{
	if (ui_table_order(&w->tab, &w->view) == 0 && w->tab.n_order > 0 &&
	    ui_table_pos(&w->tab, w->sel) < 0)
		wb_select(w, w->tab.order[0]);
	w->top = 0;
}

/* The view keys: sort, filter, layer grid, columns, diff. */
static void
wb_view_key(struct wb *w, enum ui_act act)
{
	char msg[512];

	switch (act) {
	case UI_A_LEFT: case UI_A_RIGHT:
		if (w->tab.grid && w->view.n > 0)
			wb_select(w, ui_grid_move(&w->view, w->sel, 0, act == UI_A_LEFT ? -1 : 1));
		break;
	case UI_A_SORT:
		ui_table_next_sort(&w->tab, &w->view);
		wb_follow(w);
		break;
	case UI_A_SORT_REVERSE:
		w->tab.reverse = !w->tab.reverse;
		wb_follow(w);
		break;
	case UI_A_FILTER:
		w->tab.filter[0] = '\0';
		w->tab.filter_edit = 1;
		break;
	case UI_A_GRID:
		w->tab.grid = !w->tab.grid;
		break;
	case UI_A_COLUMNS:
		if (w->tab.grid)
			w->tab.grid_metric = (enum ui_grid_metric)((w->tab.grid_metric + 1) %
			                                           UI_GRID_METRICS);
		else {
			w->tab.menu = !w->tab.menu;
			w->tab.menu_at = 0;
		}
		break;
	case UI_A_DIFF:
		if (w->busy) {
			wb_note(w, RS_OUT_ERROR, "busy: %s is running; the diff waits for it", w->job_name);
			break;
		}
		ui_diff_cycle(&w->tab, w->ctx->session, msg, sizeof msg);
		if (msg[0] != '\0')
			wb_note(w, RS_OUT_INFO, "%s", msg);
		wb_refresh(w, 0);
		break;
	default:
		break;
	}
}

/* A mouse report: a click selects a table row (and focuses the table) or focuses the log; the
 * wheel moves the selection or scrolls the log, or scrolls the key help. */
static void
wb_mouse(struct wb *w, const struct ui_mouse *m)
{
	int in_table, in_log, d;

	if (!w->mouse_on || !m->press || m->button == 0)
		return;
	w->dirty = 1;
	d = m->button == 4 ? -WB_WHEEL_STEP : m->button == 5 ? WB_WHEEL_STEP : 0;
	if (w->help) {
		if (d != 0)
			w->help_top = w->help_top + d > 0 ? w->help_top + d : 0;
		else
			w->help = 0;
		return;
	}
	in_table = w->table_w > 0 && m->y >= w->table_y && m->y < w->table_y + w->table_rows &&
	    m->x >= w->table_x && m->x < w->table_x + w->table_w;
	in_log = w->log_w > 0 && m->y >= w->log_y && m->y < w->log_y + w->log_rows &&
	    m->x < w->log_w;
	if (m->button == 1 && in_table) {
		/* the row shown there: through the sort and the filter */
		int pos = w->top + (m->y - w->table_y);
		if (ui_table_order(&w->tab, &w->view) == 0 && pos < w->tab.n_order) {
			wb_focus(w, WB_FOCUS_TABLE);
			wb_select(w, w->tab.order[pos]);
		}
	} else if (m->button == 1 && in_log) {
		wb_focus(w, WB_FOCUS_LOG);
	} else if (d != 0 && in_log) {
		w->log_scroll = w->log_scroll - d > 0 ? w->log_scroll - d : 0;
	} else if (d != 0 && in_table) {
		wb_move(w, d);
	}
}

/* KEY_MOUSE from curses: its decoded event, or (when curses could not decode it) the rest of
 * an SGR report read here. */
static void
wb_curses_mouse(struct wb *w)
{
	struct ui_mouse m;
	MEVENT ev;

	if (getmouse(&ev) == OK) {
		memset(&m, 0, sizeof m);
		m.x = ev.x;
		m.y = ev.y;
		m.press = 1;
		m.button = (ev.bstate & BUTTON1_PRESSED) ? 1 : (ev.bstate & BUTTON4_PRESSED) ? 4 :
		    (ev.bstate & BUTTON5_PRESSED) ? 5 : 0;
		wb_mouse(w, &m);
		return;
	}
	/* curses took ESC [ < (kmous) but not the report (or dropped a masked event whole): read
	 * the report's parameters and final M or m when they follow; any other byte is a key */
	{
		unsigned char seq[40] = { 27, '[', '<' };
		size_t n = 3;
		int d;
		timeout(WB_ESC_MS);
		while (n < sizeof seq - 1 && (d = getch()) != ERR) {
			if ((d >= '0' && d <= '9') || (d == ';' && n > 3)) {
				seq[n++] = (unsigned char)d;
				continue;
			}
			if ((d == 'M' || d == 'm') && n > 3)
				seq[n++] = (unsigned char)d;
			else
				ungetch(d);
			break;
		}
		if (ui_key_mouse(seq, n, &m) == 0)
			wb_mouse(w, &m);
	}
}

/* '|': the whole log (every line unwrapped) in $PAGER (default less), the screen suspended
 * until it exits; the job, if any, runs on and its output waits in the queue. */
static void
wb_pager(struct wb *w)
{
	const char *tmp = getenv("TMPDIR");
	char *path = rs_strdupf("%s/rankscope-log.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp :
	                        "/tmp");
	int fd, i, status = 0;
	FILE *f;
	pid_t pid;

	if (path == NULL || (fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL) {
		wb_note(w, RS_OUT_ERROR, "pager: cannot write the log to a temporary file: %s",
		        strerror(errno));
		rs_free(path);
		return;
	}
	for (i = 0; i < w->log_n; i++)
		fprintf(f, "%s\n", w->log[(w->log_head + i) % w->log_cap].text);
	if (w->partial_len > 0)
		fprintf(f, "%s\n", w->partial);
	if (fclose(f) != 0) {
		wb_note(w, RS_OUT_ERROR, "pager: %s: %s", path, strerror(errno));
		unlink(path);
		rs_free(path);
		return;
	}
	if (w->mouse_on)
		mousemask(0, NULL);     /* the pager gets no mouse reports */
	def_prog_mode();
	endwin();
	if ((pid = fork()) == 0) {
		execl("/bin/sh", "sh", "-c", "exec ${PAGER:-less} \"$1\"", "sh", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	reset_prog_mode();
	if (w->mouse_on)
		mousemask(WB_MOUSE_EVENTS, NULL);
	clearok(curscr, TRUE);
	unlink(path);
	if (pid < 0)
		wb_note(w, RS_OUT_ERROR, "pager: cannot start it: %s", strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		wb_note(w, RS_OUT_ERROR, "pager: '%s' failed (status %d)", getenv("PAGER") != NULL ?
		        getenv("PAGER") : "less", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	rs_free(path);
	w->dirty = 1;
}

/* A key while a panel has the focus. */
static void
wb_panel_key(struct wb *w, int c)
{
	enum ui_act act = ui_key_action(c);
	int log = w->focus == WB_FOCUS_LOG;
	int page = log ? (w->log_rows > 1 ? w->log_rows - 1 : 1) :
	           (w->table_rows > 1 ? w->table_rows - 1 : 1);

	/* typing a filter, or the column menu: they take every key */
	if (w->tab.filter_edit && !log) {
		ui_table_filter_key(&w->tab, c);
		wb_follow(w);
		w->dirty = 1;
		return;
	}
	if (w->tab.menu && !log && ui_table_menu_key(&w->tab, c)) {
		w->dirty = 1;
		return;
	}
	if (w->help) {
		w->dirty = 1;
		if (ui_pager_key(c, &w->help_top, LINES))
			return;         /* the help scrolls */
		w->help = 0;
		if (act == UI_A_HELP || act == UI_A_ESCAPE || act == UI_A_QUIT)
			return;
	}
	switch (act) {
	case UI_A_UP:
		if (log) w->log_scroll++; else wb_move(w, -1);
		break;
	case UI_A_DOWN:
		if (log) w->log_scroll = w->log_scroll > 0 ? w->log_scroll - 1 : 0;
		else wb_move(w, 1);
		break;
	case UI_A_PGUP:
		if (log) w->log_scroll += page; else wb_move(w, -page);
		break;
	case UI_A_PGDN:
		if (log) w->log_scroll = w->log_scroll > page ? w->log_scroll - page : 0;
		else wb_move(w, page);
		break;
	case UI_A_HOME:
		if (log) w->log_scroll = INT_MAX / 2; else wb_move(w, INT_MIN);   /* drawing clamps it */
		break;
	case UI_A_END:
		if (log) w->log_scroll = 0; else wb_move(w, INT_MAX);
		break;
	case UI_A_LEFT: case UI_A_RIGHT: case UI_A_SORT: case UI_A_SORT_REVERSE: case UI_A_FILTER:
	case UI_A_GRID: case UI_A_COLUMNS: case UI_A_DIFF:
		if (!log)
			wb_view_key(w, act);
		break;
	case UI_A_RANK_STEP_UP: case UI_A_RANK_STEP_DOWN: case UI_A_RANK_INC: case UI_A_RANK_DEC:
	case UI_A_DENSE:
		wb_rank_key(w, act);
		break;
	case UI_A_TYPE_RANK:
		if (w->view.n > 0) {
			char pre[64];
			snprintf(pre, sizeof pre, "rank %s ", w->view.rows[w->sel].name);
			ui_rl_set_line(pre);
		}
		wb_focus(w, WB_FOCUS_CMD);
		break;
	case UI_A_UNDO:
		wb_run(w, "undo");
		break;
	case UI_A_REDO:
		wb_run(w, "redo");
		break;
	case UI_A_FOCUS_NEXT:
		wb_focus(w, w->focus == WB_FOCUS_TABLE ? WB_FOCUS_LOG : WB_FOCUS_CMD);
		break;
	case UI_A_CMDLINE:
		wb_focus(w, WB_FOCUS_CMD);
		break;
	case UI_A_ESCAPE:
		if (!w->busy && w->tab.filter[0] != '\0' && !log) {
			w->tab.filter[0] = '\0';      /* Esc clears the filter (less, lazygit) */
			wb_follow(w);
		} else if (!w->job_auto) {
			wb_cancel(w);
		}
		break;
	case UI_A_CANCEL:
		wb_cancel(w);
		break;
	case UI_A_HELP:
		w->help = 1;
		w->help_top = 0;
		break;
	case UI_A_ZOOM:
		w->zoom = !w->zoom;
		break;
	case UI_A_PAGER:
		wb_pager(w);
		break;
	case UI_A_QUIT:
		if (w->unsaved) {
			w->ask_quit = 1;
			wb_note(w, RS_OUT_INFO, "quit: the plan has unsaved edits (kept for this model's "
			        "next session, not in a plan file): y or q quits, any other key stays; "
			        "'plan save FILE' saves it");
		} else {
			wb_run(w, "quit");
		}
		break;
	case UI_A_REDRAW:
		clearok(curscr, TRUE);
		break;
	default:
		break;
	}
	w->dirty = 1;
}

/* A key while the command line has the focus: bytes go to readline. */
static void
wb_cmd_key(struct wb *w, int c)
{
	unsigned char seq[64];
	size_t n = 0;

	if (c == 27) {
		/* A lone Esc leaves the command line; a key's sequence (arrows, Alt-b) goes to
		 * readline, a paste is inserted as text, focus events and reports are dropped. */
		int code;
		enum ui_seq k = wb_read_seq(seq, sizeof seq, &n, &code);
		if (k == UI_SEQ_PASTE) {
			wb_paste(w);
			return;
		}
		if (k == UI_SEQ_MOUSE) {
			struct ui_mouse m;
			if (ui_key_mouse(seq, n, &m) == 0)
				wb_mouse(w, &m);
			return;
		}
		if (k == UI_SEQ_UNKNOWN)
			return;
		if (k == UI_SEQ_PARTIAL) {
			/* Esc cancels what the user started; the open's lookup is not that */
			if (w->busy && !w->job_auto)
				wb_cancel(w);
			else if (w->help)
				w->help = 0;
			else
				wb_focus(w, w->prev_focus == WB_FOCUS_LOG ? WB_FOCUS_LOG : WB_FOCUS_TABLE);
			w->dirty = 1;
			return;
		}
		ui_rl_feed(seq, n);
		return;
	}
	if (c == 3) {
		if (w->busy)
			wb_cancel(w);
		else
			ui_rl_set_line("");
		return;
	}
	if (c == 12) {
		clearok(curscr, TRUE);
		w->dirty = 1;
		return;
	}
	if (c == '\t' && ui_rl_line()[0] == '\0') {
		wb_focus(w, WB_FOCUS_TABLE);
		return;
	}
	if (c == '\n')
		c = '\r';
	if (c >= 0 && c < 256) {
		seq[0] = (unsigned char)c;
		ui_rl_feed(seq, 1);
	}
}

/* The loop: one reader, redraw when something changed, poll the job. */
static void
wb_loop(struct wb *w)
{
	while (!w->quit) {
		int c;

		if (wb_sig_quit) {
			wb_cancel(w);
			wb_job_reap(w, 1);
			break;
		}
		if (wb_sig_cancel) {
			wb_sig_cancel = 0;
			wb_cancel(w);
		}
		if (wb_drain(w))
			w->dirty = 1;
		if (w->busy) {
			wb_job_reap(w, 0);
			w->dirty = 1;   /* progress and ETA move */
		}
		if (w->quit)
			break;
		if (w->dirty) {
			w->dirty = 0;
			wb_draw(w);
		}
		timeout(w->busy ? 100 : 250);
		c = getch();
		if (c == ERR)
			continue;
		if (c == KEY_RESIZE) {
			w->dirty = 1;
			continue;
		}
		if (w->ask_quit) {      /* the answer to 'quit with an unsaved plan?' */
			w->ask_quit = 0;
			if (c == 'y' || c == 'Y' || c == 'q') {
				wb_run(w, "quit");
			} else {
				if (c == 27) {  /* drop a whole sequence, not only its ESC */
					unsigned char seq[64];
					size_t n;
					int code;
					wb_read_seq(seq, sizeof seq, &n, &code);
				}
				wb_note(w, RS_OUT_INFO, "quit: not quitting");
			}
		} else if (w->focus == WB_FOCUS_CMD) {
			wb_cmd_key(w, c);
		} else if (c == 27) {
			/* a sequence acts whole or not at all: none of its bytes is a key */
			unsigned char seq[64];
			size_t n;
			int code;
			switch (wb_read_seq(seq, sizeof seq, &n, &code)) {
			case UI_SEQ_PARTIAL:
				wb_panel_key(w, 27);
				break;
			case UI_SEQ_KEY:
				if (code != 0)
					wb_panel_key(w, code);
				break;
			case UI_SEQ_PASTE:
				wb_paste(w);
				break;
			case UI_SEQ_MOUSE: {
				struct ui_mouse m;
				if (ui_key_mouse(seq, n, &m) == 0)
					wb_mouse(w, &m);
				break;
			}
			default:
				break;
			}
		} else if (c == KEY_MOUSE) {
			wb_curses_mouse(w);
		} else {
			wb_panel_key(w, c);
		}
		w->dirty = 1;
	}
}

int
rs_front_interactive(struct rs_cmd_ctx *ctx, const struct rs_front_opts *opts)
{
	struct sigaction sa, old_term, old_hup, old_int;
	const struct rs_out *saved_out = ctx->out;
	const char *nc = getenv("NO_COLOR");
	struct ui_rl_hooks hooks;
	struct wb w;
	SCREEN *scr;
	char *cause = NULL;
	int i;

	memset(&w, 0, sizeof w);
	w.ctx = ctx;
	w.out.write = wb_out_write;
	w.out.ud = &w;
	w.log_cap = WB_LOG_LINES;
	w.view.spec.index = -1;
	ui_table_init(&w.tab);
	w.fresh = opts != NULL && opts->fresh;
	if ((w.log = rs_calloc((size_t)w.log_cap, sizeof *w.log)) == NULL) {
		fprintf(stderr, "rankscope: out of memory\n");
		return RS_ENOMEM;
	}
	pthread_mutex_init(&w.mu, NULL);

	/* The locale for wide characters; numbers stay in the C locale (commands print them). */
	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");
	w.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

	hooks.line = wb_rl_line;
	hooks.redisplay = wb_rl_redisplay;
	hooks.matches = wb_rl_matches;
	hooks.names = wb_rl_names;
	hooks.plugin_cmd = wb_rl_plugin_cmd;
	hooks.ud = &w;
	if (ui_rl_init(WB_PROMPT, &hooks, &cause) != 0) {
		fprintf(stderr, "rankscope: %s\n", cause != NULL ? cause : "readline setup failed");
		rs_free(cause);
		rs_free(w.log);
		return RS_EIO;
	}
	if (ui_rl_history_load(&cause) != 0) {
		wb_note(&w, RS_OUT_INFO, "history: %s", cause != NULL ? cause : "?");
		rs_free(cause);
		cause = NULL;
	}

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = wb_on_quit;
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	sa.sa_handler = wb_on_int;
	sigaction(SIGINT, &sa, &old_int);

	if ((scr = newterm(NULL, stdout, stdin)) == NULL) {
		fprintf(stderr, "rankscope: cannot use this terminal (TERM=%s); try -c or -f\n",
		        getenv("TERM") != NULL ? getenv("TERM") : "");
		ui_rl_shutdown();
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
		sigaction(SIGINT, &old_int, NULL);
		rs_free(w.log);
		return RS_EIO;
	}
	set_term(scr);
	{
		static int registered;
		if (!registered)
			atexit(wb_atexit);
		registered = 1;
	}
	wb_curses_on = 1;
	w.color_ok = has_colors() && (nc == NULL || nc[0] == '\0');
	w.color = w.color_ok;
	raw();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	set_escdelay(25);
	wb_draw_init_colors(&w);
	wb_focus(&w, WB_FOCUS_TABLE);

	ctx->out = &w.out;
	wb_refresh(&w, 1);
	if (!w.view.loaded)
		wb_note(&w, RS_OUT_INFO, "no model loaded: press : and type 'load PATH'");
	else
		wb_note(&w, RS_OUT_INFO, "model: %s (%s)", ctx->session->model_path, w.view.desc);
	wb_note(&w, RS_OUT_INFO, "rankscope %s: ? shows the keys, : opens the command line, "
	        "'help' lists the commands", PACKAGE_VERSION);
	if (opts != NULL && opts->notes != NULL) {     /* the config file's problems */
		const char *p = opts->notes, *nl;
		for (; *p != '\0'; p = nl + 1) {
			if ((nl = strchr(p, '\n')) == NULL)
				nl = p + strlen(p) - 1;
			wb_note(&w, RS_OUT_ERROR, "%.*s", (int)(nl - p + (*nl != '\n')), p);
		}
	}
	if (w.view.loaded)
		wb_model_opened(&w);
	wb_loop(&w);

	/* Leave: stop the job, restore the terminal, save the history. */
	if (w.busy) {
		wb_cancel(&w);
		wb_job_reap(&w, 1);
	}
	if (w.mouse_on)
		mousemask(0, NULL);     /* the terminal stops sending reports */
	endwin();
	wb_curses_on = 0;
	delscreen(scr);
	ctx->out = saved_out;
	if (ui_rl_history_save(&cause) != 0) {
		fprintf(stderr, "rankscope: history not saved: %s\n", cause != NULL ? cause : "?");
		rs_free(cause);
	}
	ui_rl_shutdown();
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGINT, &old_int, NULL);

	wb_drain(&w);
	for (i = 0; i < w.log_n; i++)
		rs_free(w.log[(w.log_head + i) % w.log_cap].text);
	rs_free(w.log);
	rs_free(w.partial);
	rs_free(w.last_rank);
	ui_view_free(&w.view);
	ui_table_free(&w.tab);
	pthread_mutex_destroy(&w.mu);
	return wb_sig_quit ? 0 : (w.rc == RS_ECANCEL ? 0 : w.rc);
}
