/* test-model.c: opening models in every format, canonical tensors, refusals. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "model.h"
#include "status.h"
#include "tap.h"

static char tmpdir[512];

/* Path under the fixture root (no skip). */
static const char *
fx(char *buf, size_t n, const char *rel)
{
	const char *root = getenv("RS_FIXTURES");

	snprintf(buf, n, "%s/%s", root != NULL ? root : "../shared/fixtures", rel);
	return buf;
}

/* Write n bytes to a file in the temporary directory; returns its path in buf. */
static const char *
write_tmp(char *buf, size_t bn, const char *name, const void *data, size_t n)
{
	FILE *fp;

	snprintf(buf, bn, "%s/%s", tmpdir, name);
	if ((fp = fopen(buf, "wb")) == NULL || (n > 0 && fwrite(data, 1, n, fp) != n)) {
		perror(buf);
		exit(1);
	}
	fclose(fp);
	return buf;
}

/* Read a whole file (exits on failure). */
static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *d;
	long sz;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0)
		exit(1);
	rewind(fp);
	d = malloc((size_t)sz + 1);
	if (d == NULL || fread(d, 1, (size_t)sz, fp) != (size_t)sz)
		exit(1);
	fclose(fp);
	*n = (size_t)sz;
	return d;
}

/* Opening must fail with a cause containing `path` and `what`. */
static void
refused(const char *path, const char *what, const char *label)
{
	char *cause = NULL;
	struct rs_model *m = rs_model_open(path, &cause);

	tap_ok(m == NULL && cause != NULL && strstr(cause, path) != NULL &&
	    (what == NULL || strstr(cause, what) != NULL), "%s refused: %s", label,
	    cause != NULL ? cause : "(no cause)");
	rs_model_close(m);
	rs_free(cause);
}

/* Open a model that must load. */
static struct rs_model *
must_open(const char *path)
{
	char *cause = NULL;
	struct rs_model *m = rs_model_open(path, &cause);

	tap_ok(m != NULL, "open %s%s%s", path, cause ? ": " : "", cause ? cause : "");
	rs_free(cause);
	return m;
}

/* Largest |a - b| over two tensors' float32 rows (the same shape); -1 on a shape mismatch. */
static double
tensor_diff(const struct rs_model *a, const struct rs_model *b, const char *name)
{
	const struct rs_tensor *ta = rs_model_find(a, name), *tb = rs_model_find(b, name);
	float *fa, *fb;
	double d = 0;
	size_t i, n;

	if (ta == NULL || tb == NULL || ta->rows != tb->rows || ta->cols != tb->cols)
		return -1;
	n = (size_t)(ta->rows * ta->cols);
	fa = malloc(n * sizeof *fa);
	fb = malloc(n * sizeof *fb);
	if (rs_model_tensor_rows_f32(a, ta, 0, ta->rows, fa) != 0 ||
	    rs_model_tensor_rows_f32(b, tb, 0, tb->rows, fb) != 0)
		d = -1;
	for (i = 0; d >= 0 && i < n; i++)
		if (fabs((double)fa[i] - fb[i]) > d)
			d = fabs((double)fa[i] - fb[i]);
	free(fa);
	free(fb);
	return d;
}

/* Every canonical tensor of a and b within tol (absolute). */
static void
same_tensors(const struct rs_model *a, const struct rs_model *b, double tol, const char *label)
{
	int i, bad = 0;
	double worst = 0;
	const char *wname = "";

	for (i = 0; i < rs_model_n_tensors(a); i++) {
		const struct rs_tensor *t = rs_model_tensor_at(a, i);
		double d;

		if (!t->present)
			continue;
		d = tensor_diff(a, b, t->name);
		if (d < 0 || d > tol)
			bad++;
		if (d < 0 || d > worst) {
			worst = d;
			wname = t->name;
		}
		if (d < 0)
			break;
	}
	tap_ok(bad == 0, "%s: every tensor within %g (%d differ; largest difference %g in %s)",
	    label, tol, bad, worst, wname);
}

/* Every F32 weight of a, rounded to BF16, is the BF16 weight of b. */
static void
rounds_to_bf16(const struct rs_model *a, const struct rs_model *b)
{
	int i, bad = 0;
	int64_t j, n;

	for (i = 0; i < rs_model_n_tensors(a); i++) {
		const struct rs_tensor *ta = rs_model_tensor_at(a, i);
		const struct rs_tensor *tb = rs_model_tensor_at(b, i);
		const uint16_t *h;
		float v;

		if (!ta->present || ta->dtype != RS_DT_F32 || tb->dtype != RS_DT_BF16) {
			bad += ta->present;
			continue;
		}
		n = ta->rows * ta->cols;
		h = tb->data;
		for (j = 0; j < n; j++) {
			memcpy(&v, (const char *)ta->data + 4 * j, 4);
			if (rs_f32_to_bf16(v) != h[j]) {
				bad++;
				break;
			}
		}
	}
	tap_ok(bad == 0, "kjv-llama-f32 rounds to kjv-llama's BF16 exactly (%d tensors differ)",
	    bad);
}

/* The stories260K config, whatever the format. */
static void
check_stories_config(const struct rs_model *m, const char *label)
{
	const struct rs_model_config *c = rs_model_config(m);

	tap_ok(strcmp(c->arch, "llama") == 0 && c->n_layers == 5 && c->dim == 64 &&
	    c->n_heads == 8 && c->n_kv_heads == 4 && c->head_dim == 8 && c->ffn_dim == 172 &&
	    c->vocab == 512 && fabs(c->rms_norm_eps - 1e-5) < 1e-9 &&
	    fabs(c->rope_theta - 10000) < 1e-6 && c->bos_id == 1 && c->eos_id == 2,
	    "%s: config (%s, %d layers, dim %d, %d/%d heads, ffn %d, vocab %d, ctx %d)", label,
	    c->arch, c->n_layers, c->dim, c->n_heads, c->n_kv_heads, c->ffn_dim, c->vocab,
	    c->ctx_len);
}

/* Hostile llama2.c files. */
static void
test_hostile_llama2c(const char *bin)
{
	char p[600];
	size_t n;
	uint8_t *d = slurp(bin, &n);
	int32_t h[7];

	refused(write_tmp(p, sizeof p, "trunc.bin", d, n - 100), "truncated", "truncated llama2.c");
	refused(write_tmp(p, sizeof p, "short.bin", d, 20), NULL, "20-byte file");
	refused(write_tmp(p, sizeof p, "empty.bin", d, 0), NULL, "empty file");
	memcpy(h, d, sizeof h);

	memcpy(d, h, sizeof h);
	((int32_t *)d)[0] = 1 << 30;		/* absurd dim */
	refused(write_tmp(p, sizeof p, "hugedim.bin", d, n), NULL, "absurd dim");
	memcpy(d, h, sizeof h);
	((int32_t *)d)[2] = -5;			/* negative layer count */
	refused(write_tmp(p, sizeof p, "neglayers.bin", d, n), NULL, "negative n_layers");
	memcpy(d, h, sizeof h);
	((int32_t *)d)[4] = 3;			/* kv heads not dividing heads */
	refused(write_tmp(p, sizeof p, "kv3.bin", d, n), NULL, "n_kv_heads 3 of 8");
	memcpy(d, h, sizeof h);
	((int32_t *)d)[5] = INT32_MIN;		/* vocab INT32_MIN: -INT32_MIN overflows */
	refused(write_tmp(p, sizeof p, "vocabmin.bin", d, n), NULL, "vocab INT32_MIN");
	memcpy(d, h, sizeof h);
	((int32_t *)d)[1] = 0x7fffffff;		/* huge hidden dim: size arithmetic */
	((int32_t *)d)[2] = 4096;
	refused(write_tmp(p, sizeof p, "hugehidden.bin", d, n), NULL, "huge hidden_dim");
	memcpy(d, h, sizeof h);
	((int32_t *)d)[5] = -512;		/* claims a separate classifier that is absent */
	refused(write_tmp(p, sizeof p, "unshared.bin", d, n), "needs", "missing classifier");
	memcpy(d, h, sizeof h);
	if ((d = realloc(d, n + 4)) == NULL)
		exit(1);
	memset(d + n, 0, 4);
	refused(write_tmp(p, sizeof p, "long.bin", d, n + 4), "needs", "4 bytes too long");
	free(d);
}

/* A folder with config.json (text) and no weights: the refusal comes from the config. */
static void
config_refused(const char *name, const char *json, const char *what)
{
	char dir[600], p[700];
	FILE *fp;

	snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
	mkdir(dir, 0755);
	snprintf(p, sizeof p, "%s/config.json", dir);
	if ((fp = fopen(p, "w")) == NULL)
		exit(1);
	fputs(json, fp);
	fclose(fp);
	refused(dir, what, name);
}

#define BASECFG "\"hidden_size\": 64, \"intermediate_size\": 172, \"num_hidden_layers\": 5, " \
	"\"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"vocab_size\": 512, " \
	"\"max_position_embeddings\": 512, \"rms_norm_eps\": 1e-05"

static void
test_refusals(void)
{
	char p[600];
	static const uint8_t zip[] = "PK\003\004\024\000\000\000\010\000archive/data.pkl";
	static const uint8_t pkl[] = "\200\002}q\000(X\005\000\000\000model";

	refused(write_tmp(p, sizeof p, "model.pt", zip, sizeof zip), "PyTorch pickle files are "
	    "never opened", "zip (torch.save) file");
	refused(write_tmp(p, sizeof p, "pytorch_model.bin", pkl, sizeof pkl), "PyTorch pickle "
	    "files are never opened", "pickle file");
	refused(write_tmp(p, sizeof p, "junk.bin", "hello, world, this is not a model", 33), NULL,
	    "unknown content");
	config_refused("rope-scaling", "{\"architectures\": [\"LlamaForCausalLM\"], " BASECFG
	    ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}", "rope_scaling");
	config_refused("moe", "{\"architectures\": [\"MixtralForCausalLM\"], " BASECFG
	    ", \"num_local_experts\": 8}", "MixtralForCausalLM");
	config_refused("moe-llama", "{\"architectures\": [\"LlamaForCausalLM\"], " BASECFG
	    ", \"num_local_experts\": 8}", "num_local_experts");
	config_refused("gpt2", "{\"architectures\": [\"GPT2LMHeadModel\"], " BASECFG "}",
	    "GPT2LMHeadModel");
	config_refused("sliding", "{\"architectures\": [\"MistralForCausalLM\"], " BASECFG
	    ", \"sliding_window\": 128}", "sliding_window");
	config_refused("gelu", "{\"architectures\": [\"LlamaForCausalLM\"], " BASECFG
	    ", \"hidden_act\": \"gelu\"}", "hidden_act");
	config_refused("badjson", "{\"architectures\": [\"LlamaForCausalLM\"], ", NULL);
	config_refused("nolayers", "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64}",
	    "num_hidden_layers");
	config_refused("negheads", "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64,"
	    " \"intermediate_size\": 172, \"num_hidden_layers\": 5, \"num_attention_heads\": -8,"
	    " \"vocab_size\": 512}", "num_attention_heads");
	/* a folder with a pickle but no safetensors */
	snprintf(p, sizeof p, "%s/pickledir", tmpdir);
	mkdir(p, 0755);
	{
		char q[700];
		FILE *fp;

		snprintf(q, sizeof q, "%s/config.json", p);
		fp = fopen(q, "w");
		fputs("{\"architectures\": [\"LlamaForCausalLM\"], " BASECFG "}", fp);
		fclose(fp);
		snprintf(q, sizeof q, "%s/pytorch_model.bin", p);
		fp = fopen(q, "w");
		fwrite(pkl, 1, sizeof pkl, fp);
		fclose(fp);
	}
	refused(p, "PyTorch pickle files are never opened", "folder with only pytorch_model.bin");
}

/* A mistral config with a null sliding window is accepted as far as the config goes. */
static void
test_mistral_null_window(const char *hfdir)
{
	char dir[600], p[700], src[700];
	char *cause = NULL;
	struct rs_model *m;
	FILE *fp;

	snprintf(dir, sizeof dir, "%s/mistral", tmpdir);
	mkdir(dir, 0755);
	snprintf(p, sizeof p, "%s/config.json", dir);
	fp = fopen(p, "w");
	fputs("{\"architectures\": [\"MistralForCausalLM\"], " BASECFG
	    ", \"sliding_window\": null, \"rope_theta\": 10000.0, \"bos_token_id\": 1,"
	    " \"eos_token_id\": [2, 3]}", fp);
	fclose(fp);
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	snprintf(src, sizeof src, "%s/model.safetensors", hfdir);
	if (symlink(src, p) != 0 && errno != EEXIST)
		exit(1);
	m = rs_model_open(dir, &cause);
	tap_ok(m != NULL && strcmp(rs_model_config(m)->arch, "mistral") == 0 &&
	    rs_model_config(m)->eos_id == 2, "mistral, null sliding_window, eos list: %s",
	    m != NULL ? "loads" : cause);
	rs_model_close(m);
	rs_free(cause);
}

/* Fail each allocation of an open in turn: every failure is clean (ASan checks leaks). */
static void
oom(const char *path)
{
	struct rs_model *m = NULL;
	char *cause = NULL;
	unsigned long i;
	int clean = 1;

	for (i = 1; i < 10000 && m == NULL; i++) {
		rs_alloc_fail_at(i);
		m = rs_model_open(path, &cause);
		if (m == NULL && cause != NULL && strstr(cause, "out of memory") == NULL &&
		    strstr(cause, path) == NULL)
			clean = 0;
		rs_free(cause);
		cause = NULL;
	}
	rs_alloc_fail_at(0);
	tap_ok(m != NULL && clean, "%s: each of %lu allocations can fail cleanly", path, i - 1);
	rs_model_close(m);
}

/* tiny-random: every GGUF's tensors through the model view against llama.cpp's dequantized
 * sums (permutation-invariant; file-order first values for tensors not un-permuted), and the
 * F32 GGUF against the HF folder. */
static void
test_tiny_random(void)
{
	char p[2048], dir[1024];
	json_t *ref, *arr, *e;
	json_error_t err;
	const char *file;
	struct rs_model *hf, *m;
	size_t i;
	int bad, checked;

	fx(dir, sizeof dir, "tiny-random");
	snprintf(p, sizeof p, "%s/dequant_reference.json", dir);
	if (access(p, R_OK) != 0) {
		tap_skip(1, "fixture tiny-random/dequant_reference.json missing");
		return;
	}
	if ((ref = json_load_file(p, 0, &err)) == NULL) {
		tap_ok(0, "%s parses: %s", p, err.text);
		return;
	}
	snprintf(p, sizeof p, "%s/hf", dir);
	hf = must_open(p);
	json_object_foreach(ref, file, arr) {
		snprintf(p, sizeof p, "%s/gguf/%s", dir, file);
		if (access(p, R_OK) != 0)
			continue;
		if ((m = must_open(p)) == NULL)
			continue;
		bad = checked = 0;
		json_array_foreach(arr, i, e) {
			const char *name = json_string_value(json_object_get(e, "name"));
			double want = json_number_value(json_object_get(e, "sum")), sum = 0;
			json_t *first8 = json_object_get(e, "first8");
			const struct rs_tensor *t = NULL;
			float *v;
			int j, l;
			char canon[64];

			/* map the GGUF name to the canonical tensor */
			if (strcmp(name, "token_embd.weight") == 0)
				t = rs_model_global(m, RS_G_EMBED);
			else if (strcmp(name, "output_norm.weight") == 0)
				t = rs_model_global(m, RS_G_NORM);
			else if (strcmp(name, "output.weight") == 0)
				t = rs_model_global(m, RS_G_HEAD);
			else if (sscanf(name, "blk.%d.%63s", &l, canon) == 2) {
				for (j = 0; j < RS_T_LAYER_COUNT; j++) {
					t = rs_model_tensor(m, l, (enum rs_tkind)j);
					if (t != NULL && t->present && strcmp(t->file_name, name) == 0)
						break;
					t = NULL;
				}
			}
			if (t == NULL) {
				bad++;
				tap_diag("%s: %s not in the model view", file, name);
				continue;
			}
			v = malloc((size_t)(t->rows * t->cols) * sizeof *v);
			rs_model_tensor_rows_f32(m, t, 0, t->rows, v);
			for (j = 0; j < t->rows * t->cols; j++)
				sum += v[j];
			if (fabs(sum - want) > 1e-4 * (1 + fabs(want)))
				bad++;
			for (j = 0; t->unpermute_heads == 0 && j < 8; j++)
				if (v[j] != (float)json_number_value(json_array_get(first8, (size_t)j)))
					bad++;
			checked++;
			free(v);
		}
		tap_ok(bad == 0 && checked > 0, "%s: %d tensors match llama.cpp's dequantized sums",
		    file, checked);
		if (strstr(file, "f32") != NULL && hf != NULL)
			same_tensors(m, hf, 0, "tiny-random f32 gguf = hf");
		rs_model_close(m);
	}
	if (hf != NULL)
		tap_ok(rs_model_config(hf)->tied && rs_model_config(hf)->n_kv_heads == 2 &&
		    rs_model_config(hf)->head_dim == 64 && rs_model_find(hf, "head") != NULL &&
		    rs_model_find(hf, "head")->data == rs_model_find(hf, "embed")->data,
		    "tiny-random: tied head is the embedding");
	rs_model_close(hf);
	json_decref(ref);
}

int
main(void)
{
	char bin[512], gguf[512], hf[512], p[1024];
	struct rs_model *mb, *mg, *mh, *m;
	const struct rs_tensor *t;
	const char *tmp = getenv("TMPDIR");
	static const char *const ggufs[] = { "stories260K/stories260K-ctx512.gguf",
	    "stories260K/gguf/stories260K-f32.gguf", "stories260K/gguf/stories260K-f16.gguf",
	    "stories260K/gguf/stories260K-bf16.gguf", "stories260K/gguf/stories260K-q8_0.gguf" };
	static const double tols[] = { 0, 0, 1e-3, 8e-3, 1.5e-2 };
	int i;

	tap_fixture(bin, sizeof bin, "stories260K/stories260K.bin");
	snprintf(tmpdir, sizeof tmpdir, "%s/rs-test-model-XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return 1;

	mb = must_open(bin);
	if (mb == NULL)
		return tap_done();
	check_stories_config(mb, "llama2.c");
	tap_ok(strcmp(rs_model_format(mb), "llama2.c") == 0 && rs_model_config(mb)->tied &&
	    rs_model_config(mb)->ctx_len == 512, "llama2.c: format, shared classifier, seq_len 512");
	t = rs_model_find(mb, "L4.down");
	tap_ok(t != NULL && t->rows == 64 && t->cols == 172 && t->dtype == RS_DT_F32 &&
	    strcmp(t->file_name, "w2[4]") == 0, "L4.down is 64 x 172 F32 (w2[4])");
	t = rs_model_find(mb, "L0.q");
	tap_ok(t != NULL && t->unpermute_heads == 8, "L0.q rows are un-permuted over 8 heads");
	tap_ok(rs_model_find(mb, "L0.q_bias") == NULL, "no q bias in a llama model");
	tap_ok(rs_model_linear_params(mb) == 5ull * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 172),
	    "decoder linear parameters: %llu", (unsigned long long)rs_model_linear_params(mb));
	{
		float row[64];
		tap_ok(rs_model_tensor_rows_f32(mb, t, 63, 2, row) == RS_EINVAL &&
		    rs_model_tensor_rows_f32(mb, t, -1, 1, row) == RS_EINVAL,
		    "rows outside a tensor are refused");
	}

	/* The same weights through GGUF and Hugging Face: the un-permutation makes them equal. */
	tap_fixture(gguf, sizeof gguf, "stories260K/stories260K.gguf");
	tap_fixture(hf, sizeof hf, "stories260K/hf/model.safetensors");
	fx(hf, sizeof hf, "stories260K/hf");
	mg = must_open(gguf);
	mh = must_open(hf);
	if (mg != NULL && mh != NULL) {
		check_stories_config(mg, "gguf");
		check_stories_config(mh, "hf");
		tap_ok(strcmp(rs_model_format(mg), "gguf") == 0 &&
		    strcmp(rs_model_format(mh), "safetensors") == 0, "format names");
		tap_ok(rs_model_config(mg)->ctx_len == 128, "gguf context_length 128");
		tap_ok(strcmp(rs_model_find(mh, "L2.gate")->file_name,
		    "model.layers.2.mlp.gate_proj.weight") == 0, "hf file names kept");
		same_tensors(mb, mg, 0, "llama2.c = gguf");
		same_tensors(mb, mh, 0, "llama2.c = hf (q/k un-permuted)");
		tap_ok(tensor_diff(mb, mh, "L3.k") == 0 && tensor_diff(mb, mh, "L3.q") == 0,
		    "L3.q and L3.k equal to HF's rotate-half order");
		tap_ok(rs_model_identity(mb) != rs_model_identity(mg) &&
		    rs_model_identity(mg) != rs_model_identity(mh), "identities differ by format");
		m = must_open(hf);
		tap_ok(m != NULL && rs_model_identity(m) == rs_model_identity(mh),
		    "identity stable across opens (%016llx)",
		    (unsigned long long)rs_model_identity(mh));
		rs_model_close(m);
		/* a single .safetensors file with config.json beside it */
		snprintf(p, sizeof p, "%s/model.safetensors", hf);
		m = must_open(p);
		if (m != NULL)
			same_tensors(m, mh, 0, "hf file = hf folder");
		rs_model_close(m);
		for (i = 0; i < 5; i++) {
			m = must_open(fx(p, sizeof p, ggufs[i]));
			if (m == NULL)
				continue;
			check_stories_config(m, ggufs[i]);
			same_tensors(m, mh, tols[i], ggufs[i]);
			if (i == 4) {
				t = rs_model_find(m, "L0.q");
				tap_ok(t->dtype == RS_DT_Q8_0 &&
				    rs_model_find(m, "L0.down")->dtype == RS_DT_F16,
				    "q8_0: q is Q8_0, the 172-wide down stays F16");
			}
			rs_model_close(m);
		}
		test_mistral_null_window(hf);
	}
	rs_model_close(mg);
	rs_model_close(mh);

	/* kjv-llama: BF16 and F32 folders, GQA, untied head */
	m = must_open(fx(p, sizeof p, "kjv-llama"));
	if (m != NULL) {
		const struct rs_model_config *c = rs_model_config(m);
		tap_ok(c->n_layers == 6 && c->dim == 256 && c->n_heads == 8 && c->n_kv_heads == 4 &&
		    c->head_dim == 32 && c->ffn_dim == 768 && c->vocab == 4096 && !c->tied &&
		    c->ctx_len == 256 && rs_model_find(m, "L5.v")->dtype == RS_DT_BF16 &&
		    rs_model_find(m, "L5.v")->rows == 128, "kjv-llama config and BF16 tensors");
		mh = must_open(fx(p, sizeof p, "kjv-llama-f32"));
		if (mh != NULL) {
			same_tensors(m, mh, 8e-3, "kjv-llama bf16 ~ f32");
			rounds_to_bf16(mh, m);
		}
		rs_model_close(mh);
	}
	rs_model_close(m);

	test_tiny_random();
	oom(bin);
	oom(fx(p, sizeof p, "stories260K/stories260K.gguf"));
	oom(fx(p, sizeof p, "stories260K/hf"));
	test_hostile_llama2c(bin);
	test_refusals();
	rs_model_close(mb);
	{
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", tmpdir);
	}
	return tap_done();
}
