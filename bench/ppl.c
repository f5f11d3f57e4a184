/* bench/ppl.c: throughput of the float32 forward pass through chunked perplexity, beside what
 * cblas_sgemm reaches on this machine in the same run.
 *
 * usage: bench/ppl [-c CTX] [-n CHUNKS] [-t THREADS] [-r ROWS] [-p chunked|llama.cpp]
 *                  MODEL [TEXT | IDS.txt]
 * TEXT is tokenized with the model's tokenizer (BOS first); a file of one integer per line is
 * taken as token ids; with no text, random ids are used (throughput only: the PPL means
 * nothing then).  Prints tokens/s, the model's achieved GFLOP/s (2 per multiply-add of the
 * linears, causal attention and the head) and its ratio to sgemm's GFLOP/s at the shape of
 * the model's largest linear and at 1024^3. */
#include "config.h"

#include <cblas.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "blas.h"
#include "dtype.h"
#include "forward.h"
#include "mapfile.h"
#include "model.h"
#include "ppl.h"
#include "status.h"
#include "tokenizer.h"


/* Monotonic time in seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of C (m x n) = A (m x k) . B^T (n x k), the forward pass's product, for ~secs. */
static double
sgemm_gflops(int m, int n, int k, double secs)
{
	float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)n * k * sizeof *b);
	float *c = malloc((size_t)m * n * sizeof *c);
	double t0, t, flops = 0;
	size_t i;
	int reps = 0;

	if (a == NULL || b == NULL || c == NULL) {
		free(a);
		free(b);
		free(c);
		return 0;
	}
	for (i = 0; i < (size_t)m * k; i++)
		a[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
	for (i = 0; i < (size_t)n * k; i++)
		b[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
	t0 = now();
	do {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f,
		    c, n);
		flops += 2.0 * m * n * k;
		reps++;
		t = now() - t0;
	} while (t < secs || reps < 3);
	free(a);
	free(b);
	free(c);
	return flops / t / 1e9;
}

/* Seconds to convert every decoder matrix and the head to float32 once, as one forward call
 * does for weights that cannot feed sgemm in place (0 for an all-F32 model). */
static double
convert_secs(const struct rs_model *m)
{
	const struct rs_model_config *c = rs_model_config(m);
	const struct rs_tensor *t;
	size_t cap = 0;
	float *buf;
	double t0;
	int l, k;

	for (l = 0; l < c->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			t = rs_model_tensor(m, l, (enum rs_tkind)k);
			if ((size_t)(t->rows * t->cols) > cap)
				cap = (size_t)(t->rows * t->cols);
		}
	t = rs_model_global(m, RS_G_HEAD);
	if ((size_t)(t->rows * t->cols) > cap)
		cap = (size_t)(t->rows * t->cols);
	if ((buf = rs_mallocarray(cap, sizeof *buf)) == NULL)
		return 0;
	t0 = now();
	for (l = 0; l < c->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			t = rs_model_tensor(m, l, (enum rs_tkind)k);
			if (t->dtype != RS_DT_F32)
				rs_model_tensor_rows_f32(m, t, 0, t->rows, buf);
		}
	t = rs_model_global(m, RS_G_HEAD);
	if (t->dtype != RS_DT_F32)
		rs_model_tensor_rows_f32(m, t, 0, t->rows, buf);
	t0 = now() - t0;
	rs_free(buf);
	return t0;
}

/* Token ids from a file of integers, or NULL if it is not one. */
static int32_t *
read_ids(const struct rs_mapfile *mf, size_t *n)
{
	const char *p = (const char *)mf->data, *end = p + mf->size;
	int32_t *ids = NULL;
	size_t cap = 0;
	char *e;
	long v;

	*n = 0;
	while (p < end) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end)
			break;
		if (!isdigit((unsigned char)*p))
			goto no;
		v = strtol(p, &e, 10);
		if (e > end || v < 0 || v > INT32_MAX)
			goto no;
		p = e;
		if (*n == cap) {
			int32_t *q;
			cap = cap ? 2 * cap : 4096;
			if ((q = rs_realloc(ids, cap * sizeof *q)) == NULL)
				goto no;
			ids = q;
		}
		ids[(*n)++] = (int32_t)v;
	}
	if (*n > 0)
		return ids;
no:
	rs_free(ids);
	*n = 0;
	return NULL;
}

/* Print usage and exit. */
static void
usage(void)
{
	fprintf(stderr, "usage: ppl [-c CTX] [-n CHUNKS] [-t THREADS] [-r ROWS] "
	    "[-p chunked|llama.cpp] MODEL [TEXT | IDS.txt]\n");
	exit(2);
}

/* Tokenize, measure sgemm, run perplexity, print the rates. */
int
main(int argc, char **argv)
{
	struct rs_model *m;
	struct rs_forward *f;
	struct rs_ppl_opts o;
	struct rs_ppl_result r;
	const struct rs_model_config *c;
	char *cause = NULL;
	int32_t *ids = NULL;
	size_t n = 0, i;
	int ch, ctx = 0, chunks = 0, threads = 0, rows = 0, big_m, big_n, big_k;
	int per_window;
	double t0, secs, flops, model_gf, sg_shape, sg_big, conv;
	const char *core = rs_blas_kernels();
	const char *proto = "chunked";

	while ((ch = getopt(argc, argv, "c:n:t:r:p:")) != -1) {
		switch (ch) {
		case 'c': ctx = atoi(optarg); break;
		case 'n': chunks = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'r': rows = atoi(optarg); break;
		case 'p': proto = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		usage();
	if (threads > 0)
		rs_forward_set_threads(threads);
	if ((m = rs_model_open(argv[0], &cause)) == NULL) {
		fprintf(stderr, "ppl: %s\n", cause);
		return 1;
	}
	c = rs_model_config(m);
	if (ctx <= 0)
		ctx = c->ctx_len < 256 ? c->ctx_len : 256;
	if (rows < ctx)
		rows = ctx * (ctx >= 512 ? 1 : 512 / ctx);

	if (argc == 2) {
		struct rs_mapfile *mf = rs_mapfile_open(argv[1], &cause);

		if (mf == NULL) {
			fprintf(stderr, "ppl: %s\n", cause);
			return 1;
		}
		if ((ids = read_ids(mf, &n)) == NULL) {
			struct rs_tokenizer *t = rs_tokenizer_open(argv[0], &cause);

			if (t == NULL || rs_tokenizer_encode(t, (const char *)mf->data, mf->size, 1,
			    &ids, &n, &cause) != 0) {
				fprintf(stderr, "ppl: %s\n", cause);
				return 1;
			}
			rs_tokenizer_free(t);
		}
		rs_mapfile_close(mf);
	} else {
		n = (size_t)ctx * (chunks > 0 ? chunks : 64);
		if ((ids = rs_mallocarray(n, sizeof *ids)) == NULL)
			return 1;
		for (i = 0; i < n; i++)
			ids[i] = (int32_t)((i * 2654435761u) % (unsigned)c->vocab);
	}
	if ((f = rs_forward_new(m, rows, ctx, &cause)) == NULL) {
		fprintf(stderr, "ppl: %s\n", cause);
		return 1;
	}
	memset(&o, 0, sizeof o);
	o.protocol = strcmp(proto, "llama.cpp") == 0 ? RS_PPL_LLAMACPP : RS_PPL_CHUNKED;
	o.ctx = ctx;
	o.max_chunks = chunks;
	o.bos = -1;

	/* sgemm at the shape of the largest linear (all rows of a call) and at 1024^3 */
	big_m = rows;
	big_n = c->ffn_dim;
	big_k = c->dim;
	sg_shape = sgemm_gflops(big_m, big_n, big_k, 1.0);
	sg_big = sgemm_gflops(1024, 1024, 1024, 1.0);
	/* twice: the first pass also faults the mapped file in */
	conv = convert_secs(m);
	conv = convert_secs(m);

	t0 = now();
	if (rs_ppl_run(f, ids, n, &o, &r, NULL, &cause) != 0) {
		fprintf(stderr, "ppl: %s\n", cause);
		return 1;
	}
	secs = now() - t0;
	per_window = o.protocol == RS_PPL_LLAMACPP ? ctx - ctx / 2 : ctx;
	flops = rs_forward_flops(m, r.n_chunks, ctx, per_window);
	model_gf = flops / secs / 1e9;

	printf("model       %s (%s, %d layers, dim %d, ffn %d, vocab %d; %.2fM decoder-linear "
	    "params, %.2fM embedding+head)\n", argv[0], rs_model_format(m), c->n_layers, c->dim,
	    c->ffn_dim, c->vocab, rs_model_linear_params(m) / 1e6,
	    rs_model_embed_head_params(m) / 1e6);
	printf("protocol    %s, window %d, %d windows (%d per call), %lld tokens scored\n",
	    rs_ppl_protocol_name(o.protocol), ctx, r.n_chunks, rows / ctx,
	    (long long)r.n_scored);
	printf("ppl         %.4f +/- %.4f%s\n", r.ppl, r.error, argc == 2 ? "" :
	    " (random ids: meaningless)");
	printf("time        %.3f s, %.1f tokens/s\n", secs, (double)r.n_chunks * ctx / secs);
	printf("model       %.2f GFLOP/s (%.3g GFLOP)\n", model_gf, flops / 1e9);
	printf("sgemm       %.2f GFLOP/s at %dx%dx%d, %.2f GFLOP/s at 1024^3 (OpenBLAS kernels: %s)\n",
	    sg_shape, big_m, big_n, big_k, sg_big, core);
	if (rs_blas_forced() != NULL)
		printf("note        OPENBLAS_CORETYPE=%s chose these kernels; unset, OpenBLAS picks "
		    "the CPU's own\n", rs_blas_forced());
	printf("convert     %.3f s per call for every decoder matrix and the head (%s weights), "
	    "%.3f ms per token at %d rows per call\n", conv, rs_dtype_name(rs_model_tensor(m, 0,
	    RS_T_Q)->dtype), conv * 1e3 / rows, rows);
	printf("ratio       %.2f of sgemm at the model's shape, %.2f of sgemm at 1024^3\n",
	    model_gf / sg_shape, model_gf / sg_big);
	rs_forward_free(f);
	rs_model_close(m);
	rs_free(ids);
	return 0;
}
