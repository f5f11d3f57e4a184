/* mkmodel.c: the project's fixture generator.  Writes a Hugging Face folder (config.json +
 * model.safetensors) holding a LLaMA-architecture model with random weights of a named shape,
 * for benchmarks at realistic sizes.  Its perplexity means nothing.
 *
 *   bench/mkmodel OUTDIR [tinyllama|llama-7b-layer|small] [bf16|f16|f32] [SEED]
 *
 * Weights are N(0, 0.02) (norms 1), generated per chunk by a counter-based hash so the output is
 * reproducible and never held in memory whole. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "atomic.h"
#include "dtype.h"
#include "st-write.h"

struct shape {
	const char *name;
	int dim, layers, heads, kv_heads, ffn, vocab, ctx;
};

static const struct shape shapes[] = {
	/* TinyLlama-1.1B: hidden 2048, 22 layers, 32 heads, 4 KV heads, intermediate 5632. */
	{ "tinyllama", 2048, 22, 32, 4, 5632, 32000, 2048 },
	/* One Llama-2-7B-sized layer (for per-layer costs without a 13 GB file). */
	{ "llama-7b-layer", 4096, 1, 32, 32, 11008, 32000, 4096 },
	{ "small", 512, 4, 8, 4, 1536, 4096, 512 },
};

struct tensor_gen {
	uint64_t seed;
	enum rs_dtype dt;
	int is_norm;
};

/* splitmix64: a counter-based generator (element i of tensor `seed`). */
static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A N(0, 0.02) value for element i (Box-Muller on two hashed uniforms). */
static float
gen_value(uint64_t seed, uint64_t i)
{
	uint64_t a = mix64(seed ^ (i * 2)), b = mix64(seed ^ (i * 2 + 1));
	double u1 = ((double)(a >> 11) + 0.5) / 9007199254740992.0;
	double u2 = (double)(b >> 11) / 9007199254740992.0;

	return (float)(0.02 * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* Fill callback: bytes [off, off+len) of the tensor in its dtype. */
static int
gen_fill(void *ud, void *buf, size_t off, size_t len, char **cause)
{
	const struct tensor_gen *g = ud;
	size_t esz = g->dt == RS_DT_F32 ? 4 : 2, i, n = len / esz, first = off / esz;
	uint8_t *out = buf;

	(void)cause;
	for (i = 0; i < n; i++) {
		float v = g->is_norm ? 1.0f : gen_value(g->seed, first + i);
		if (g->dt == RS_DT_F32) {
			memcpy(out + i * 4, &v, 4);
		} else {
			uint16_t h = g->dt == RS_DT_BF16 ? rs_f32_to_bf16(v) : rs_f32_to_f16(v);
			memcpy(out + i * 2, &h, 2);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct shape *s = &shapes[0];
	enum rs_dtype dt = RS_DT_BF16;
	uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
	struct tensor_gen *gens;
	struct rs_stw *w;
	char path[4096], name[128], cfg[2048], *cause = NULL;
	int l, n = 0, ntens, k;
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OUTDIR [tinyllama|llama-7b-layer|small] [bf16|f16|f32] [SEED]\n",
		        argv[0]);
		return 2;
	}
	if (argc > 2) {
		for (i = 0, s = NULL; i < sizeof shapes / sizeof shapes[0]; i++)
			if (strcmp(shapes[i].name, argv[2]) == 0)
				s = &shapes[i];
		if (s == NULL) {
			fprintf(stderr, "mkmodel: unknown shape '%s'\n", argv[2]);
			return 2;
		}
	}
	if (argc > 3)
		dt = strcmp(argv[3], "f32") == 0 ? RS_DT_F32 : strcmp(argv[3], "f16") == 0 ? RS_DT_F16 :
		    RS_DT_BF16;
	if (rs_mkdir_p(argv[1], &cause) != 0) {
		fprintf(stderr, "mkmodel: %s\n", cause);
		return 1;
	}
	snprintf(cfg, sizeof cfg,
	    "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
	    "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
	    "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
	    "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 10000.0,\n"
	    "  \"hidden_act\": \"silu\",\n  \"tie_word_embeddings\": false,\n  \"torch_dtype\": \"%s\",\n"
	    "  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n  \"rope_scaling\": null\n}\n",
	    s->dim, s->ffn, s->layers, s->heads, s->kv_heads, s->vocab, s->ctx,
	    dt == RS_DT_F32 ? "float32" : dt == RS_DT_F16 ? "float16" : "bfloat16");
	snprintf(path, sizeof path, "%s/config.json", argv[1]);
	if (rs_afile_write_all(path, cfg, strlen(cfg), &cause) != 0) {
		fprintf(stderr, "mkmodel: %s\n", cause);
		return 1;
	}

	ntens = 3 + 9 * s->layers;
	gens = calloc((size_t)ntens, sizeof *gens);
	snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
	if (gens == NULL || (w = rs_stw_new(path, &cause)) == NULL) {
		fprintf(stderr, "mkmodel: %s\n", cause ? cause : "out of memory");
		return 1;
	}
	{
		int hd = s->dim / s->heads;
		struct { const char *fmt; int rows, cols, norm; } per[] = {
			{ "self_attn.q_proj.weight", s->heads * hd, s->dim, 0 },
			{ "self_attn.k_proj.weight", s->kv_heads * hd, s->dim, 0 },
			{ "self_attn.v_proj.weight", s->kv_heads * hd, s->dim, 0 },
			{ "self_attn.o_proj.weight", s->dim, s->heads * hd, 0 },
			{ "mlp.gate_proj.weight", s->ffn, s->dim, 0 },
			{ "mlp.up_proj.weight", s->ffn, s->dim, 0 },
			{ "mlp.down_proj.weight", s->dim, s->ffn, 0 },
			{ "input_layernorm.weight", 1, s->dim, 1 },
			{ "post_attention_layernorm.weight", 1, s->dim, 1 },
		};
		uint64_t shp[2];

#define ADD(nm, r, c, isnorm) do { \
		gens[n].seed = mix64(seed * 1000003u + (uint64_t)n); gens[n].dt = dt; \
		gens[n].is_norm = (isnorm); \
		shp[0] = (uint64_t)(r); shp[1] = (uint64_t)(c); \
		if (rs_stw_add_fill(w, (nm), dt, (r) == 1 ? 1 : 2, (r) == 1 ? shp + 1 : shp, \
		    gen_fill, &gens[n], &cause) != 0) { \
			fprintf(stderr, "mkmodel: %s\n", cause); return 1; } \
		n++; } while (0)

		ADD("model.embed_tokens.weight", s->vocab, s->dim, 0);
		for (l = 0; l < s->layers; l++) {
			for (k = 0; k < 9; k++) {
				snprintf(name, sizeof name, "model.layers.%d.%s", l, per[k].fmt);
				ADD(name, per[k].rows, per[k].cols, per[k].norm);
			}
		}
		ADD("model.norm.weight", 1, s->dim, 1);
		ADD("lm_head.weight", s->vocab, s->dim, 0);
#undef ADD
	}
	rs_stw_meta(w, "format", "pt", &cause);
	rs_stw_meta(w, "generator", "rankscope bench/mkmodel (random weights)", &cause);
	if (rs_stw_finish(w, NULL, &cause) != 0) {
		fprintf(stderr, "mkmodel: %s\n", cause);
		rs_stw_free(w);
		return 1;
	}
	rs_stw_free(w);
	free(gens);
	printf("mkmodel: wrote %s (%s, %s, %d tensors)\n", argv[1], s->name, rs_dtype_name(dt), n);
	return 0;
}
