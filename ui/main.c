/* main.c: rankscope's entry point.  Decides between batch mode (-c, -f, or a non-terminal
 * stdin, as the sqlite shell does) and the interactive front end; only this file exits. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cmd.h"
#include "conffile.h"
#include "session.h"
#include "front.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* The job of the running command: SIGINT cancels it (never kills the session). */
static struct rs_job main_job;

/* SIGINT handler: ask the running command to stop. */
static void
main_on_sigint(int sig)
{
	(void)sig;
	main_job.cancel = 1;
}

/* Batch progress: a line on stderr at most every `every` seconds of a long job. */
#define BATCH_PROGRESS_S 10.0   /* default; RANKSCOPE_PROGRESS_INTERVAL sets it, 0 silences */

struct batch_progress {
	double every;
	char what[64];          /* the job being reported; a new name restarts the clock */
	double start, last;     /* monotonic seconds: the job's start, the last line */
	double prev_done;
};

static double
main_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Print "WHAT: P%, S s so far, about E s left" when the job has run a while. */
static void
main_batch_progress(void *ud, double done, double total, const char *what)
{
	struct batch_progress *bp = ud;
	double now = main_now(), el;

	if (what == NULL)
		what = "job";
	if (strncmp(bp->what, what, sizeof bp->what - 1) != 0 || done < bp->prev_done) {
		snprintf(bp->what, sizeof bp->what, "%s", what);
		bp->start = bp->last = now;
	}
	bp->prev_done = done;
	if (bp->every <= 0 || now - bp->last < bp->every || total <= 0 || done <= 0 || done >= total)
		return;
	bp->last = now;
	el = now - bp->start;
	fprintf(stderr, "%s: %.0f%%, %.0f s so far, about %.0f s left\n", bp->what,
	    100.0 * done / total, el, el * (total - done) / done);
}

/* Batch sink: text to stdout, errors and progress to stderr. */
static void
main_batch_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	FILE *f = kind == RS_OUT_TEXT ? stdout : stderr;

	(void)ud;
	fwrite(text, 1, len, f);
	fflush(f);
}

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: rankscope [-t N] [--fresh] [MODEL]      open the workbench\n"
	    "       rankscope [-t N] -c 'CMD; CMD ...' [MODEL]  run commands, no terminal\n"
	    "       rankscope [-t N] -f SCRIPT [MODEL]          run a script of commands\n"
	    "       rankscope --help | --version\n"
	    "options:\n"
	    "  -c CMDS     run the commands (';'-separated) and exit\n"
	    "  -f SCRIPT   run the commands in SCRIPT ('-' = stdin) and exit\n"
	    "  -b          batch mode: read commands from stdin even on a terminal\n"
	    "  -t N        threads for matrix products (default: number of cores)\n"
	    "  --fresh     the workbench opens the model without the last session's plan\n"
	    "exit status: 0 success, 1 a command failed (the first failure stops), 2 usage error\n"
	    "'rankscope -c help' lists the commands.\n");
}

/* Map a command status to the process exit status. */
static int
main_exit_status(int rc)
{
	if (rc == 0)
		return EXIT_OK;
	return rc == RS_EUSAGE ? EXIT_USAGE : EXIT_FAILED;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "batch", no_argument, NULL, 'b' },
		{ "fresh", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 }
	};
	const struct rs_out batch_out = { main_batch_write, NULL };
	const char *commands = NULL, *script = NULL;
	struct batch_progress progress;
	struct rs_front_opts fopts;
	char *conf_report = NULL;
	int interactive;
	struct rs_cmd_ctx ctx;
	struct sigaction sa;
	int c, batch = 0, threads = 0, rc = 0;

	memset(&fopts, 0, sizeof fopts);
	while ((c = getopt_long(argc, argv, "c:f:bt:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': commands = optarg; break;
		case 'f': script = optarg; break;
		case 'b': batch = 1; break;
		case 'F': fopts.fresh = 1; break;
		case 't':
			threads = atoi(optarg);
			if (threads < 1 || threads > 1024) {
				fprintf(stderr, "rankscope: -t: expected a thread count, got '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': main_usage(stdout); return EXIT_OK;
		case 'V': printf("rankscope %s\n", PACKAGE_VERSION); return EXIT_OK;
		default: main_usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind > 1 || (commands != NULL && script != NULL)) {
		main_usage(stderr);
		return EXIT_USAGE;
	}

	memset(&ctx, 0, sizeof ctx);
	memset(&progress, 0, sizeof progress);
	progress.every = getenv("RANKSCOPE_PROGRESS_INTERVAL") != NULL ?
	    atof(getenv("RANKSCOPE_PROGRESS_INTERVAL")) : BATCH_PROGRESS_S;
	if ((ctx.session = rs_session_new()) == NULL) {
		fprintf(stderr, "rankscope: out of memory\n");
		return EXIT_FAILED;
	}
	{
		/* the user's defaults first: -t and the commands given here override them */
		char *cause = NULL, *path = rs_conffile_path(&cause);
		if (path != NULL)
			rs_conffile_apply(ctx.session, path, &conf_report);
		rs_free(path);
		rs_free(cause);
		interactive = commands == NULL && script == NULL && !batch &&
		    isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
		if (conf_report != NULL && !interactive) {      /* the workbench logs them */
			const char *p = conf_report, *nl;
			for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
				fprintf(stderr, "rankscope: %.*s\n", (int)(nl - p), p);
		}
		fopts.notes = conf_report;
	}
	if (threads > 0)
		ctx.session->threads = threads;
	ctx.out = &batch_out;
	ctx.job = &main_job;
	main_job.progress = main_batch_progress;
	main_job.ud = &progress;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = main_on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);

	if (optind < argc) {
		/* The model on the command line is loaded first, through the same command. */
		char *load = rs_cmd_load_line(argv[optind]);
		if (load == NULL) {
			fprintf(stderr, "rankscope: out of memory\n");
			rc = RS_ENOMEM;
		} else {
			rc = rs_cmd_run_line(&ctx, load);
		}
		rs_free(load);
		if (rc != 0) {
			rs_session_free(ctx.session);
			return EXIT_FAILED;
		}
	}

	if (commands != NULL) {
		rc = rs_cmd_run_line(&ctx, commands);
	} else if (script != NULL) {
		FILE *in = strcmp(script, "-") == 0 ? stdin : fopen(script, "r");
		if (in == NULL) {
			fprintf(stderr, "rankscope: %s: %s\n", script, strerror(errno));
			rc = RS_EIO;
		} else {
			rc = rs_cmd_run_stream(&ctx, in, strcmp(script, "-") == 0 ? "standard input" :
			                     script);
			if (in != stdin)
				fclose(in);
		}
	} else if (batch || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		rc = rs_cmd_run_stream(&ctx, stdin, "standard input");
	} else {
		main_job.progress = NULL;       /* the workbench draws progress itself */
		rc = rs_front_interactive(&ctx, &fopts);
	}
	rs_free(ctx.cause);
	rs_free(conf_report);
	rs_session_free(ctx.session);
	return main_exit_status(rc);
}
