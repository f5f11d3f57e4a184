/* test-forward.c: the batched float32 forward pass against outside references (kjv-llama
 * logits from a PyTorch implementation), across formats, and its seams. */
#include "config.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "forward.h"
#include "model.h"
#include "st-write.h"
#include "ppl.h"
#include "status.h"
#include "tap.h"
#include "tokenizer.h"
#include "mapfile.h"

#define NREF 16

struct ref {
	int input, next;
	double lse;
	int top_id[5];
	double top[5];
	double first8[8];
};

/* Parse refs/kjv-llama-logits-first16.txt. */
static int
read_refs(const char *path, struct ref *r)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	int n = 0, pos, k, off;
	char *p;

	if (fp == NULL)
		return -1;
	while (n < NREF && fgets(line, sizeof line, fp) != NULL) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%d %d %d %lf |%n", &pos, &r[n].input, &r[n].next, &r[n].lse,
		    &off) != 4 || pos != n)
			break;
		p = line + off;
		for (k = 0; k < 5; k++) {
			if (sscanf(p, " %d:%lf%n", &r[n].top_id[k], &r[n].top[k], &off) != 2)
				goto out;
			p += off;
		}
		if ((p = strchr(p, '|')) == NULL)
			break;
		p++;
		for (k = 0; k < 8; k++) {
			if (sscanf(p, " %lf%n", &r[n].first8[k], &off) != 1)
				goto out;
			p += off;
		}
		n++;
	}
out:
	fclose(fp);
	return n;
}

/* Read the first n ids of the stories token stream. */
static int
read_tokens(const char *path, int32_t *ids, int n)
{
	FILE *fp = fopen(path, "r");
	int i = 0, v;

	if (fp == NULL)
		return -1;
	while (i < n && fscanf(fp, "%d", &v) == 1)
		ids[i++] = v;
	fclose(fp);
	return i;
}

/* log-sum-exp of a row, in double. */
static double
lse(const float *l, int n)
{
	double mx = l[0], s = 0;
	int i;

	for (i = 1; i < n; i++)
		if (l[i] > mx)
			mx = l[i];
	for (i = 0; i < n; i++)
		s += exp(l[i] - mx);
	return mx + log(s);
}

/* Open a model and a forward pass for windows of max_tok (rows: max_rows). */
static struct rs_model *
open_model(const char *path, struct rs_forward **f, int max_rows, int max_tok)
{
	char *cause = NULL;
	struct rs_model *m = rs_model_open(path, &cause);

	*f = NULL;
	if (m != NULL && (*f = rs_forward_new(m, max_rows, max_tok, &cause)) == NULL) {
		rs_model_close(m);
		m = NULL;
	}
	if (m == NULL)
		tap_ok(0, "open %s: %s", path, cause);
	rs_free(cause);
	return m;
}

/* kjv-llama's 16 positions against the PyTorch reference. */
static void
test_kjv(const char *dir, const char *label, double tol)
{
	char p[600];
	struct ref r[NREF];
	int32_t ids[NREF];
	struct rs_forward *f;
	struct rs_model *m;
	float *logits;
	char *cause = NULL;
	int i, k, V, ok_lse = 1, ok_top = 1, ok_8 = 1;
	double worst = 0, d;

	snprintf(p, sizeof p, "%s/refs/kjv-llama-logits-first16.txt", getenv("RS_FIXTURES"));
	if (read_refs(p, r) != NREF) {
		tap_ok(0, "read %s", p);
		return;
	}
	if ((m = open_model(dir, &f, NREF, NREF)) == NULL)
		return;
	V = rs_model_config(m)->vocab;
	for (i = 0; i < NREF; i++)
		ids[i] = r[i].input;
	logits = malloc((size_t)NREF * V * sizeof *logits);
	tap_ok(rs_forward_run(f, ids, 1, NREF, 0, logits, NULL, &cause) == 0, "%s: forward 16 "
	    "tokens%s%s", label, cause ? ": " : "", cause ? cause : "");
	for (i = 0; i < NREF; i++) {
		const float *l = logits + (size_t)i * V;
		int used[5] = { -1, -1, -1, -1, -1 };

		d = fabs(lse(l, V) - r[i].lse);
		if (d > worst)
			worst = d;
		if (d > tol)
			ok_lse = 0;
		for (k = 0; k < 5; k++) {
			/* our k-th largest logit */
			int j, best = -1, u;
			for (j = 0; j < V; j++) {
				for (u = 0; u < k && used[u] != j; u++)
					;
				if (u < k)
					continue;
				if (best < 0 || l[j] > l[best])
					best = j;
			}
			used[k] = best;
			d = fabs(l[r[i].top_id[k]] - r[i].top[k]);
			if (d > worst)
				worst = d;
			/* the id must match unless two reference logits tie within tol */
			if (d > tol || (best != r[i].top_id[k] &&
			    fabs(l[best] - r[i].top[k]) > tol))
				ok_top = 0;
		}
		for (k = 0; k < 8; k++) {
			d = fabs(l[k] - r[i].first8[k]);
			if (d > worst)
				worst = d;
			if (d > tol)
				ok_8 = 0;
		}
	}
	tap_ok(ok_lse, "%s: logsumexp of 16 positions within %g", label, tol);
	tap_ok(ok_top, "%s: top-5 ids and logits within %g", label, tol);
	tap_ok(ok_8, "%s: first 8 logits within %g (largest difference %.2g)", label, tol, worst);
	free(logits);
	rs_forward_free(f);
	rs_model_close(m);
	rs_free(cause);
}

/* Largest absolute difference between two arrays. */
static double
maxdiff(const float *a, const float *b, size_t n)
{
	double d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (fabs((double)a[i] - b[i]) > d)
			d = fabs((double)a[i] - b[i]);
	return d;
}

/* Logits of one 128-token window through a model file. */
static float *
stories_logits(const char *path, const int32_t *ids, int n)
{
	struct rs_forward *f;
	struct rs_model *m = open_model(path, &f, n, n);
	float *l;
	char *cause = NULL;

	if (m == NULL)
		return NULL;
	l = malloc((size_t)n * 512 * sizeof *l);
	if (rs_forward_run(f, ids, 1, n, 0, l, NULL, &cause) != 0) {
		tap_ok(0, "%s: %s", path, cause);
		free(l);
		l = NULL;
	}
	rs_free(cause);
	rs_forward_free(f);
	rs_model_close(m);
	return l;
}

struct hookstat {
	int calls, bad;
	int widths[RS_IN_COUNT];
};

/* Count activation hook calls and check their shapes. */
static int
count_hook(void *ud, int layer, enum rs_input_group g, const float *x, int n_rows, int width)
{
	struct hookstat *h = ud;

	h->calls++;
	if (n_rows != 256 || (int)g < 0 || g >= RS_IN_COUNT || layer < 0 || layer >= 5 ||
	    !isfinite(x[0]))
		h->bad++;
	else
		h->widths[g] = width;
	return 0;
}

/* Keep a copy of the last layer's down input (256 rows of 172). */
static int
keep_down_hook(void *ud, int layer, enum rs_input_group g, const float *x, int n_rows, int width)
{
	if (layer == 4 && g == RS_IN_DOWN && n_rows == 256 && width == 172)
		memcpy(ud, x, 256 * 172 * sizeof(float));
	return 0;
}

/* Dense product through a callback, as a compressed path would be installed. */
static int
dense_override(void *ud, int layer, enum rs_tkind mat, const float *x, int n_rows, int in,
    float *y, int out)
{
	const float *w = ud;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_rows, out, in, 1.0f, x, in, w, in,
	    0.0f, y, out);
	return 0;
}

/* An override that fails. */
static int
failing_override(void *ud, int layer, enum rs_tkind mat, const float *x, int n_rows, int in,
    float *y, int out)
{
	return RS_EINVAL;
}

/* Seams and batching on stories260K. */
static void
test_stories(const char *bin, const int32_t *ids)
{
	struct rs_forward *f;
	struct rs_model *m = open_model(bin, &f, 256, 128);
	float *l1, *l2, *lb, *w, *eye, *wd;
	const struct rs_tensor *t;
	struct hookstat hs;
	struct rs_linear_override ov;
	struct rs_job job;
	char *cause = NULL;
	int32_t two[256], bad[4] = { 1, 2, 512, 3 };
	double d, d2;
	int i, st;

	if (m == NULL)
		return;
	l1 = malloc(256 * 512 * sizeof *l1);
	l2 = malloc(256 * 512 * sizeof *l2);
	lb = malloc(256 * 512 * sizeof *lb);
	/* two windows in one call equal two calls */
	memcpy(two, ids, 128 * sizeof *ids);
	memcpy(two + 128, ids + 128, 128 * sizeof *ids);
	rs_forward_run(f, two, 1, 128, 0, l1, NULL, NULL);
	rs_forward_run(f, two + 128, 1, 128, 0, l1 + 128 * 512, NULL, NULL);
	st = rs_forward_run(f, two, 2, 128, 0, lb, NULL, NULL);
	d = maxdiff(l1, lb, 256 * 512);
	tap_ok(st == 0 && d < 1e-4, "2 windows in one call = 2 calls (%.2g)", d);
	/* logits from position 64 only */
	st = rs_forward_run(f, two, 2, 128, 64, l2, NULL, NULL);
	d = maxdiff(l1 + 64 * 512, l2, 64 * 512);
	d2 = maxdiff(l1 + 192 * 512, l2 + 64 * 512, 64 * 512);
	tap_ok(st == 0 && d < 1e-4 && d2 < 1e-4, "logits from position 64 = the tail of the full "
	    "logits (%.2g, %.2g)", d, d2);

	/* activation hook: 4 groups per layer with their widths */
	memset(&hs, 0, sizeof hs);
	rs_forward_set_hook(f, count_hook, &hs);
	rs_forward_run(f, two, 2, 128, 0, NULL, NULL, NULL);
	rs_forward_set_hook(f, NULL, NULL);
	tap_ok(hs.calls == 20 && hs.bad == 0 && hs.widths[RS_IN_ATTN] == 64 &&
	    hs.widths[RS_IN_O] == 64 && hs.widths[RS_IN_MLP] == 64 && hs.widths[RS_IN_DOWN] == 172,
	    "hook: %d calls, widths %d %d %d %d", hs.calls, hs.widths[0], hs.widths[1],
	    hs.widths[2], hs.widths[3]);

	/* embed, then layer by layer on the caller's buffer: the same arithmetic as a run */
	{
		float *k1 = calloc(256 * 172, sizeof *k1), *k2 = calloc(256 * 172, sizeof *k2);
		float *x = malloc(256 * 64 * sizeof *x);
		int l;

		rs_forward_set_hook(f, keep_down_hook, k1);
		st = rs_forward_run(f, two, 2, 128, 0, NULL, NULL, NULL);
		rs_forward_set_hook(f, keep_down_hook, k2);
		st = st ? st : rs_forward_embed(f, two, 2, 128, x, NULL);
		for (l = 0; l < 5 && st == 0; l++)
			st = rs_forward_layer(f, l, x, 2, 128, NULL, NULL);
		rs_forward_set_hook(f, NULL, NULL);
		tap_ok(st == 0 && memcmp(k1, k2, 256 * 172 * sizeof *k1) == 0 && k1[0] != 0,
		    "embed and rs_forward_layer 0-4 give the run's activations bit for bit");
		tap_ok(rs_forward_layer(f, 5, x, 2, 128, NULL, NULL) == RS_EINVAL &&
		    rs_forward_layer(f, 0, x, 3, 128, NULL, NULL) == RS_EINVAL &&
		    rs_forward_embed(f, bad, 1, 4, x, NULL) == RS_EINVAL,
		    "a layer out of range, too many rows or a bad token id are refused");
		free(k1);
		free(k2);
		free(x);
	}

	/* factor pair A = W, B = I on L0.q (exact), and a callback on L3.down */
	t = rs_model_find(m, "L0.q");
	w = malloc(64 * 64 * sizeof *w);
	eye = calloc(64 * 64, sizeof *eye);
	rs_model_tensor_rows_f32(m, t, 0, 64, w);
	for (i = 0; i < 64; i++)
		eye[i * 64 + i] = 1;
	t = rs_model_find(m, "L3.down");
	wd = malloc(64 * 172 * sizeof *wd);
	rs_model_tensor_rows_f32(m, t, 0, 64, wd);
	ov.apply = dense_override;
	ov.ud = wd;
	st = rs_forward_set_factors(f, 0, RS_T_Q, 64, w, eye, NULL);
	st = st ? st : rs_forward_set_override(f, 3, RS_T_DOWN, &ov);
	st = st ? st : rs_forward_run(f, two, 2, 128, 0, l2, NULL, NULL);
	d = maxdiff(lb, l2, 256 * 512);
	tap_ok(st == 0 && d < 1e-4, "identity factors and a dense callback leave the logits "
	    "(%.2g)", d);
	rs_forward_clear_overrides(f);
	st = rs_forward_run(f, two, 2, 128, 0, l2, NULL, NULL);
	tap_ok(st == 0 && maxdiff(lb, l2, 256 * 512) == 0,
	    "clearing overrides restores the dense pass");
	ov.apply = failing_override;
	rs_forward_set_override(f, 2, RS_T_V, &ov);
	st = rs_forward_run(f, two, 2, 128, 0, l2, NULL, &cause);
	tap_ok(st == RS_EINVAL && cause != NULL, "a failing override stops the pass: %s", cause);
	rs_forward_set_override(f, 2, RS_T_V, NULL);
	tap_ok(rs_forward_set_override(f, 5, RS_T_Q, &ov) == RS_EINVAL &&
	    rs_forward_set_override(f, 0, RS_T_ATTN_NORM, &ov) == RS_EINVAL,
	    "overrides outside the decoder linears are refused");

	memset(&job, 0, sizeof job);
	job.cancel = 1;
	tap_ok(rs_forward_run(f, two, 2, 128, 0, l2, &job, &cause) == RS_ECANCEL,
	    "a cancelled job stops the pass");
	st = rs_forward_run(f, bad, 1, 4, 0, l2, NULL, &cause);
	tap_ok(st == RS_EINVAL && strstr(cause, "512") != NULL, "token outside the vocabulary: %s",
	    cause);
	tap_ok(rs_forward_run(f, two, 3, 128, 0, l2, NULL, &cause) == RS_EINVAL &&
	    rs_forward_run(f, two, 1, 129, 0, l2, NULL, &cause) == RS_EINVAL,
	    "windows beyond the run state are refused");
	tap_ok(rs_forward_flops(m, 1, 128, 128) > 2.0 * 226560 * 128, "flop count");
	{
		struct rs_forward *g = NULL;
		unsigned long k;

		for (k = 1; k < 1000 && g == NULL; k++) {
			rs_alloc_fail_at(k);
			g = rs_forward_new(m, 256, 128, NULL);
		}
		rs_alloc_fail_at(0);
		tap_ok(g != NULL, "each of %lu allocations of a run state can fail cleanly", k - 1);
		rs_forward_free(g);
	}
	free(w);
	free(eye);
	free(wd);
	free(l1);
	free(l2);
	free(lb);
	rs_free(cause);
	rs_forward_free(f);
	rs_model_close(m);
}

/* Biases added by overrides on the llama model: the reference for the Qwen2 path. */
static int
bias_override(void *ud, int layer, enum rs_tkind mat, const float *x, int n_rows, int in,
    float *y, int out)
{
	float **wb = ud;	/* [2 * (layer * 3 + mat)] = W, [+1] = bias */
	const float *w = wb[2 * (layer * 3 + mat)], *b = wb[2 * (layer * 3 + mat) + 1];
	int r, i;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_rows, out, in, 1.0f, x, in, w, in,
	    0.0f, y, out);
	for (r = 0; r < n_rows; r++)
		for (i = 0; i < out; i++)
			y[(size_t)r * out + i] += b[i];
	return 0;
}

/* A Qwen2 folder made of stories260K's weights plus q/k/v biases gives the llama model's logits
 * with those biases added by overrides. */
static void
test_qwen2(const char *hfdir, const int32_t *ids)
{
	static const char *const hn[] = { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
	    "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
	    "input_layernorm", "post_attention_layernorm" };
	char dir[600], path[700], name[128], *cause = NULL;
	const char *tmp = getenv("TMPDIR");
	struct rs_model *m, *q;
	struct rs_forward *f, *fq;
	struct rs_stw *w;
	struct rs_linear_override ov;
	float *bufs[64], *wb[30], *l1, *l2;
	int nb = 0, l, k, i, st;
	uint64_t shape[2];
	FILE *fp;

	snprintf(dir, sizeof dir, "%s/rs-test-qwen2-XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || (m = open_model(hfdir, &f, 128, 128)) == NULL)
		return;
	snprintf(path, sizeof path, "%s/config.json", dir);
	fp = fopen(path, "w");
	fputs("{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 64, "
	    "\"intermediate_size\": 172, \"num_hidden_layers\": 5, \"num_attention_heads\": 8, "
	    "\"num_key_value_heads\": 4, \"vocab_size\": 512, \"max_position_embeddings\": 512, "
	    "\"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true, "
	    "\"use_sliding_window\": false, \"sliding_window\": 32, \"hidden_act\": \"silu\", "
	    "\"bos_token_id\": 1, \"eos_token_id\": 2}", fp);
	fclose(fp);
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	w = rs_stw_new(path, &cause);
	for (l = 0; w != NULL && l < 5; l++) {
		for (k = 0; k <= RS_T_MLP_NORM; k++) {
			const struct rs_tensor *t = rs_model_tensor(m, l, (enum rs_tkind)k);
			float *b = malloc((size_t)(t->rows * t->cols) * sizeof *b);

			rs_model_tensor_rows_f32(m, t, 0, t->rows, b);
			bufs[nb++] = b;
			shape[0] = (uint64_t)t->rows;
			shape[1] = (uint64_t)t->cols;
			snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, hn[k]);
			rs_stw_add(w, name, RS_DT_F32, k <= RS_T_DOWN ? 2 : 1, k <= RS_T_DOWN ? shape :
			    shape + 1, b, NULL);
			if (k <= RS_T_V) {
				float *bias = malloc((size_t)t->rows * sizeof *bias);

				for (i = 0; i < t->rows; i++)
					bias[i] = 0.05f * (float)((i * 7 + l * 13 + k * 5) % 11 - 5);
				bufs[nb++] = bias;
				wb[2 * (l * 3 + k)] = b;
				wb[2 * (l * 3 + k) + 1] = bias;
				snprintf(name, sizeof name, "model.layers.%d.%s.bias", l, hn[k]);
				rs_stw_add(w, name, RS_DT_F32, 1, shape, bias, NULL);
			}
		}
	}
	if (w != NULL) {
		const struct rs_tensor *e = rs_model_global(m, RS_G_EMBED), *n =
		    rs_model_global(m, RS_G_NORM);
		shape[0] = 512;
		shape[1] = 64;
		rs_stw_add(w, "model.embed_tokens.weight", RS_DT_F32, 2, shape, e->data, NULL);
		rs_stw_add(w, "model.norm.weight", RS_DT_F32, 1, shape + 1, n->data, NULL);
		st = rs_stw_finish(w, NULL, &cause);
		rs_stw_free(w);
		tap_ok(st == 0, "write a Qwen2 folder%s%s", cause ? ": " : "", cause ? cause : "");
	}
	if ((q = open_model(dir, &fq, 128, 128)) != NULL) {
		tap_ok(strcmp(rs_model_config(q)->arch, "qwen2") == 0 && rs_model_config(q)->qkv_bias &&
		    rs_model_find(q, "L4.v_bias") != NULL &&
		    rs_model_find(q, "L4.v_bias")->cols == 32, "qwen2: q/k/v biases in the view");
		l1 = malloc(128 * 512 * sizeof *l1);
		l2 = malloc(128 * 512 * sizeof *l2);
		ov.apply = bias_override;
		ov.ud = wb;
		for (l = 0; l < 5; l++)
			for (k = 0; k <= RS_T_V; k++)
				rs_forward_set_override(f, l, (enum rs_tkind)k, &ov);
		st = rs_forward_run(f, ids, 1, 128, 0, l1, NULL, NULL);
		st |= rs_forward_run(fq, ids, 1, 128, 0, l2, NULL, NULL);
		tap_ok(st == 0 && maxdiff(l1, l2, 128 * 512) < 1e-4, "qwen2 biases = llama + bias "
		    "overrides (%.2g)", maxdiff(l1, l2, 128 * 512));
		free(l1);
		free(l2);
		rs_forward_free(fq);
		rs_model_close(q);
	}
	for (i = 0; i < nb; i++)
		free(bufs[i]);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		tap_diag("could not remove %s", dir);
	rs_free(cause);
	rs_forward_free(f);
	rs_model_close(m);
}

/* kjv-llama over its held-out text, chunked windows of 256: 51.3761 (PyTorch reference). */
static void
test_kjv_chunked(const char *root)
{
	char dir[600], text[600], *cause = NULL;
	struct rs_tokenizer *t;
	struct rs_mapfile *mf = NULL;
	struct rs_model *m;
	struct rs_forward *f;
	struct rs_ppl_opts o;
	struct rs_ppl_result r;
	int32_t *ids = NULL;
	size_t n = 0;
	int st;

	snprintf(dir, sizeof dir, "%s/kjv-llama", root);
	snprintf(text, sizeof text, "%s/texts/kjv-eval.txt", root);
	if ((t = rs_tokenizer_open(dir, &cause)) == NULL ||
	    (mf = rs_mapfile_open(text, &cause)) == NULL ||
	    rs_tokenizer_encode(t, (const char *)mf->data, mf->size, 1, &ids, &n, &cause) != 0) {
		tap_ok(0, "tokenize %s: %s", text, cause);
		goto out;
	}
	tap_ok(n == 55788 && ids[0] == 1, "kjv-eval.txt: %zu tokens, BOS first", n);
	if ((m = open_model(dir, &f, 512, 256)) == NULL)
		goto out;
	memset(&o, 0, sizeof o);
	o.protocol = RS_PPL_CHUNKED;
	o.ctx = 256;
	o.bos = -1;
	st = rs_ppl_run(f, ids, n, &o, &r, NULL, &cause);
	tap_ok(st == 0 && tap_close(r.ppl, 51.3761, 1e-4) && r.n_scored == 55335 &&
	    r.n_chunks == 217, "kjv-llama chunked 256: PPL %.4f (want 51.3761), %lld scored in %d "
	    "windows", r.ppl, (long long)r.n_scored, r.n_chunks);
	rs_forward_free(f);
	rs_model_close(m);
out:
	rs_free(ids);
	rs_mapfile_close(mf);
	rs_tokenizer_free(t);
	rs_free(cause);
}

int
main(void)
{
	char bin[512], tok[512], p[600];
	const char *root;
	int32_t ids[256];
	float *lbin, *l;
	static const char *const others[] = { "stories260K/stories260K.gguf",
	    "stories260K/gguf/stories260K-f32.gguf", "stories260K/hf" };
	static const char *const lowp[] = { "stories260K/gguf/stories260K-f16.gguf",
	    "stories260K/gguf/stories260K-bf16.gguf", "stories260K/gguf/stories260K-q8_0.gguf" };
	int i;

	tap_fixture(bin, sizeof bin, "stories260K/stories260K.bin");
	tap_fixture(tok, sizeof tok, "texts/tinystories_val.stories260K.tokens.txt");
	root = getenv("RS_FIXTURES");
	if (root == NULL)
		setenv("RS_FIXTURES", "../shared/fixtures", 1), root = getenv("RS_FIXTURES");
	if (read_tokens(tok, ids, 256) != 256)
		return 1;

	snprintf(p, sizeof p, "%s/kjv-llama", root);
	test_kjv(p, "kjv-llama (BF16)", 1e-3);
	/* The F32 folder holds the weights before BF16 rounding (test-model checks that they round
	 * to the BF16 folder's), so the BF16 reference only bounds it loosely. */
	snprintf(p, sizeof p, "%s/kjv-llama-f32", root);
	test_kjv(p, "kjv-llama-f32 (unrounded weights)", 0.05);

	/* the formats agree: logits of a 128-token window */
	lbin = stories_logits(bin, ids, 128);
	for (i = 0; lbin != NULL && i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", root, others[i]);
		if ((l = stories_logits(p, ids, 128)) == NULL)
			continue;
		tap_ok(maxdiff(lbin, l, 128 * 512) < 1e-4, "%s logits = llama2.c's within 1e-4 (%.2g)",
		    others[i], maxdiff(lbin, l, 128 * 512));
		free(l);
	}
	for (i = 0; lbin != NULL && i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", root, lowp[i]);
		if ((l = stories_logits(p, ids, 128)) == NULL)
			continue;
		tap_ok(maxdiff(lbin, l, 128 * 512) < 0.5, "%s logits near F32's (largest difference "
		    "%.3g)", lowp[i], maxdiff(lbin, l, 128 * 512));
		free(l);
	}
	free(lbin);
	test_stories(bin, ids);
	snprintf(p, sizeof p, "%s/stories260K/hf", root);
	test_qwen2(p, ids);
	test_kjv_chunked(root);
	return tap_done();
}
