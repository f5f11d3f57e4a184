/* main.c: rankscope-mpi, the batch runner of an MPI job (docs/mpi.md).  Every rank runs the
 * same commands on the same session state; the distributed commands (calibrate, spectra, ppl,
 * compare) share their work through the session's rs_dist.  Rank 0 prints; the other ranks'
 * text is dropped and their errors are printed, with the rank named, when rank 0 did not fail
 * the same command.  After every command the ranks agree on its status (ctx->agree), so a
 * command that failed on one rank stops them all at the same point. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "allocrun.h"
#include "atomic.h"
#include "cache.h"
#include "cmd.h"
#include "dist-mpi.h"
#include "session.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* The output of one rank: rank 0 writes through; the others keep the errors of the running
 * command until the ranks agree on its status. */
struct rank_out {
	const struct rs_dist *d;
	char *errors;           /* this command's error text (ranks > 0) */
	size_t len;
};

/* Text to stdout and errors to stderr on rank 0; elsewhere errors are held, text dropped. */
static void
rank_write(void *ud, enum rs_out_kind kind, const char *text, size_t len)
{
	struct rank_out *ro = ud;
	char *grown;

	if (ro->d->rank == 0) {
		fwrite(text, 1, len, kind == RS_OUT_TEXT ? stdout : stderr);
		fflush(kind == RS_OUT_TEXT ? stdout : stderr);
		return;
	}
	if (kind != RS_OUT_ERROR)
		return;
	if ((grown = realloc(ro->errors, ro->len + len + 1)) == NULL)
		return;
	memcpy(grown + ro->len, text, len);
	ro->len += len;
	grown[ro->len] = '\0';
	ro->errors = grown;
}

/* After each command: every rank learns which failed; a rank whose failure rank 0 did not
 * share prints its errors, rank 0 names the first such rank, and every rank goes on with a
 * failure when any failed. */
static int
rank_agree(struct rs_cmd_ctx *ctx, int rc)
{
	struct rank_out *ro = ctx->out->ud;
	const struct rs_dist *d = ro->d;
	double *failed;
	char *cause = NULL;
	int r, first = -1;

	if ((failed = calloc((size_t)d->size, sizeof *failed)) == NULL)
		d->abort(d->ctx, "out of memory");
	failed[d->rank] = rc != 0;
	if (d->sum_f64(d->ctx, failed, (size_t)d->size, &cause) != 0)
		d->abort(d->ctx, cause != NULL ? cause : "the status reduction failed");
	for (r = 0; r < d->size; r++)
		if (failed[r] != 0.0 && first < 0)
			first = r;
	if (d->rank > 0 && rc != 0 && failed[0] == 0.0 && ro->errors != NULL) {
		char *line = ro->errors, *nl;
		for (; *line != '\0'; line = nl + 1) {
			if ((nl = strchr(line, '\n')) == NULL)
				nl = line + strlen(line) - 1;
			fprintf(stderr, "rankscope-mpi: rank %d: %.*s\n", d->rank, (int)(nl - line),
			    line);
			if (nl[1] == '\0')
				break;
		}
	}
	free(ro->errors);
	ro->errors = NULL;
	ro->len = 0;
	if (d->rank == 0 && rc == 0 && first > 0)
		fprintf(stderr, "rankscope-mpi: rank %d failed %s (its error is above); the job "
		    "stops\n", first, ctx->entry != NULL ? ctx->entry->name : "a command");
	free(failed);
	if (rc == 0 && first >= 0)
		rc = RS_EIO;
	return rc;
}

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: mpirun -np N rankscope-mpi [-t N] -c 'CMD; CMD ...' [MODEL]\n"
	    "       mpirun -np N rankscope-mpi [-t N] -f SCRIPT [MODEL]\n"
	    "       rankscope-mpi --help | --version\n"
	    "options:\n"
	    "  -c CMDS     run the commands (';'-separated) on every rank and exit\n"
	    "  -f SCRIPT   run the commands in SCRIPT on every rank and exit\n"
	    "  -t N        BLAS threads per rank (default: OPENBLAS_NUM_THREADS, else 1)\n"
	    "calibrate, spectra, ppl, compare, alloc sensitivity and alloc bo share their work\n"
	    "among the ranks; the cache (XDG_CACHE_HOME) must be on storage every rank sees.\n"
	    "Rank 0 prints.\n"
	    "manual: man rankscope-mpi\n"
	    "exit status: 0 success, 1 a command failed (the first failure stops), 2 usage error\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *commands = NULL, *script = NULL, *env;
	struct rank_out ro;
	struct rs_out out;
	struct rs_job job;
	struct rs_dist dist;
	struct rs_cmd_ctx ctx;
	char *cause = NULL;
	int c, threads = 0, rc = 0;

	while ((c = getopt_long(argc, argv, "c:f:t:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': commands = optarg; break;
		case 'f': script = optarg; break;
		case 't':
			threads = atoi(optarg);
			if (threads < 1 || threads > 1024) {
				fprintf(stderr, "rankscope-mpi: -t: expected a thread count, got "
				    "'%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': main_usage(stdout); return EXIT_OK;
		case 'V': printf("rankscope-mpi %s\n", PACKAGE_VERSION); return EXIT_OK;
		default: main_usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind > 1 || (commands == NULL) == (script == NULL)) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	memset(&ctx, 0, sizeof ctx);
	memset(&job, 0, sizeof job);
	memset(&ro, 0, sizeof ro);
	if ((ctx.session = rs_session_new()) == NULL) {
		fprintf(stderr, "rankscope-mpi: out of memory\n");
		return EXIT_FAILED;
	}
	/* the cache every rank shares also holds the job's status files */
	if ((ctx.session->cache = rs_cache_open(NULL, &cause)) == NULL) {
		fprintf(stderr, "rankscope-mpi: no cache (%s): the ranks cannot share statistics\n",
		    cause != NULL ? cause : "?");
		rs_free(cause);
		rs_session_free(ctx.session);
		return EXIT_FAILED;
	}
	if (rs_mkdir_p(rs_cache_dir(ctx.session->cache), &cause) != 0) {
		fprintf(stderr, "rankscope-mpi: %s\n", cause != NULL ? cause : "no cache directory");
		rs_free(cause);
		rs_session_free(ctx.session);
		return EXIT_FAILED;
	}
	if (rs_dist_mpi_init(&dist, &argc, &argv, rs_cache_dir(ctx.session->cache)) != 0) {
		rs_session_free(ctx.session);
		return EXIT_FAILED;
	}
	/* one level of parallelism: ranks, one BLAS thread each unless told otherwise */
	env = getenv("OPENBLAS_NUM_THREADS");
	ctx.session->threads = threads > 0 ? threads : env != NULL && atoi(env) > 0 ? atoi(env) : 1;
	ctx.session->dist = &dist;
	if (rs_allocrun_set_dist(ctx.session, &dist, &cause) != 0) {
		fprintf(stderr, "rankscope-mpi: %s\n", cause != NULL ? cause : "out of memory");
		rs_free(cause);
		ctx.session->dist = NULL;
		rs_session_free(ctx.session);
		rs_dist_mpi_finish(&dist);
		return EXIT_FAILED;
	}
	ro.d = &dist;
	out.write = rank_write;
	out.ud = &ro;
	ctx.out = &out;
	ctx.job = &job;
	ctx.agree = rank_agree;

	if (optind < argc) {
		char *load = rs_cmd_load_line(argv[optind]);
		rc = load != NULL ? rs_cmd_run_line(&ctx, load) : RS_ENOMEM;
		rs_free(load);
	}
	if (rc == 0 && commands != NULL) {
		rc = rs_cmd_run_line(&ctx, commands);
	} else if (rc == 0) {
		FILE *in = fopen(script, "r");
		/* every rank opens it: a rank that cannot fails its first "command" */
		if (in == NULL) {
			char *msg = rs_strdupf("%s: %s\n", script, strerror(errno));
			if (msg != NULL)
				rank_write(&ro, RS_OUT_ERROR, msg, strlen(msg));
			rs_free(msg);
			rc = rank_agree(&ctx, RS_EIO);
		} else {
			rc = rs_cmd_run_stream(&ctx, in, script);
			fclose(in);
		}
	}
	rs_free(ctx.cause);
	ctx.session->dist = NULL;
	rs_session_free(ctx.session);
	rs_dist_mpi_finish(&dist);
	if (rc == 0)
		return EXIT_OK;
	return rc == RS_EUSAGE ? EXIT_USAGE : EXIT_FAILED;
}
