/* dtype.c: element types of weight tensors and their conversion to float32.
 *
 * The block decoders reproduce ggml's reference dequantizers bit for bit (same operations in the
 * same order), so a tensor read here equals what llama.cpp computes.  Every load from tensor data
 * goes through memcpy: data in a mapping may be unaligned. */
#include "config.h"

#include "dtype.h"

#include <string.h>

/* ggml computes e.g. d*q - m as two roundings; a fused multiply-add would change the last bit. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define QK4_0	32	/* weights per Q4_0 block */
#define QK8_0	32	/* weights per Q8_0 block */
#define QK_K	256	/* weights per K-quant super-block */

#define Q4_0_BYTES	(2 + QK4_0 / 2)			/* f16 d, nibbles */
#define Q8_0_BYTES	(2 + QK8_0)			/* f16 d, int8 */
#define Q4_K_BYTES	(2 + 2 + 12 + QK_K / 2)	/* f16 d, f16 dmin, scales, nibbles */
#define Q6_K_BYTES	(QK_K / 2 + QK_K / 4 + QK_K / 16 + 2)	/* ql, qh, scales, f16 d */

static const struct {
	const char *name;
	size_t block_elems;
	size_t block_bytes;
} dtype_info[RS_DT_COUNT] = {
	[RS_DT_F32] = { "F32", 1, 4 },
	[RS_DT_F16] = { "F16", 1, 2 },
	[RS_DT_BF16] = { "BF16", 1, 2 },
	[RS_DT_Q8_0] = { "Q8_0", QK8_0, Q8_0_BYTES },
	[RS_DT_Q4_0] = { "Q4_0", QK4_0, Q4_0_BYTES },
	[RS_DT_Q4_K] = { "Q4_K", QK_K, Q4_K_BYTES },
	[RS_DT_Q6_K] = { "Q6_K", QK_K, Q6_K_BYTES },
};

const char *
rs_dtype_name(enum rs_dtype t)
{
	if ((unsigned)t >= RS_DT_COUNT)
		return "?";
	return dtype_info[t].name;
}

size_t
rs_dtype_block_elems(enum rs_dtype t)
{
	if ((unsigned)t >= RS_DT_COUNT)
		return 0;
	return dtype_info[t].block_elems;
}

size_t
rs_dtype_block_bytes(enum rs_dtype t)
{
	if ((unsigned)t >= RS_DT_COUNT)
		return 0;
	return dtype_info[t].block_bytes;
}

size_t
rs_dtype_row_bytes(enum rs_dtype t, uint64_t n)
{
	uint64_t blocks;
	size_t bb;

	if ((unsigned)t >= RS_DT_COUNT || n % dtype_info[t].block_elems != 0)
		return 0;
	blocks = n / dtype_info[t].block_elems;
	bb = dtype_info[t].block_bytes;
	if (blocks > SIZE_MAX / bb)
		return 0;
	return (size_t)blocks * bb;
}

/* Reinterpret the bits of a float. */
static inline uint32_t
f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

/* Build a float from its bits. */
static inline float
bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/* Load a little-endian uint16 from possibly unaligned memory (memcpy: one load the
 * vectorizer understands, where two byte loads are a "complicated access pattern"). */
static inline uint16_t
load_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = (uint16_t)(v << 8 | v >> 8);
#endif
	return v;
}

/*
 * Exact half to float, branch-free so row loops vectorize.  Shifting the 15 magnitude bits into
 * float position and rebiasing the exponent (+112) is exact for normal halves; infinity and NaN
 * need +224 to reach the all-ones exponent (payload kept).  Subnormal halves are rebiased as if
 * normal with exponent -14 and 2^-14 is subtracted: one exact subtraction of normal floats (no
 * subnormal arithmetic, which costs a microcode assist on x86).
 */
static inline float
f16_to_f32(uint16_t h)
{
	uint32_t mag = (uint32_t)(h & 0x7fff) << 13;
	uint32_t exp = h & 0x7c00;
	uint32_t normal = mag + (112u << 23);
	uint32_t special = mag + (224u << 23);
	uint32_t sub = f32_bits(bits_f32(mag + (113u << 23)) - 0x1p-14f);
	uint32_t is_special = -(uint32_t)(exp == 0x7c00);	/* all ones or zero */
	uint32_t is_sub = -(uint32_t)(exp == 0);
	uint32_t r;

	r = (normal & ~(is_special | is_sub)) | (special & is_special) | (sub & is_sub);
	return bits_f32(r | ((uint32_t)(h & 0x8000) << 16));
}

float
rs_f16_to_f32(uint16_t h)
{
	return f16_to_f32(h);
}

float
rs_bf16_to_f32(uint16_t b)
{
	return bits_f32((uint32_t)b << 16);
}

uint16_t
rs_f32_to_f16(float f)
{
	uint32_t x = f32_bits(f);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	uint32_t odd;

	x &= 0x7fffffffu;
	if (x > 0x7f800000u)	/* NaN: keep the top payload bits, stay quiet */
		return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
	if (x >= 0x477ff000u)	/* >= 65520 rounds past 65504: infinity */
		return (uint16_t)(sign | 0x7c00);
	if (x < 0x38800000u) {
		/*
		 * Below 2^-14 the half is subnormal (or zero): adding 0.5 puts the value's
		 * 2^-24 units in the low mantissa bits, rounded to nearest even by the FPU.
		 */
		float v = bits_f32(x) + 0.5f;
		return (uint16_t)(sign | (f32_bits(v) - 0x3f000000u));
	}
	/* Normal: rebias the exponent, round the 13 dropped bits to nearest even. */
	odd = (x >> 13) & 1;
	x += ((uint32_t)(15 - 127) << 23) + 0xfff + odd;
	return (uint16_t)(sign | (x >> 13));
}

uint16_t
rs_f32_to_bf16(float f)
{
	uint32_t x = f32_bits(f);

	if ((x & 0x7fffffffu) > 0x7f800000u)	/* NaN: truncate, force quiet */
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fffu + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_CONVERT 1
#include <immintrin.h>

/* F16 row by AVX-512's vcvtph2ps, 16 halves per instruction (exact, as the scalar path). */
__attribute__((target("avx512f"))) static void
conv_f16_avx512(const uint8_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 16 <= n; i += 16)
		_mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const void *)(src + 2 * i))));
	for (; i < n; i++)
		dst[i] = f16_to_f32(load_u16(src + 2 * i));
}

/* BF16 row by AVX-512: widen 16 halves to 32 bits and shift them into the top half. */
__attribute__((target("avx512f"))) static void
conv_bf16_avx512(const uint8_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 16 <= n; i += 16) {
		__m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)(src + 2 * i)));
		_mm512_storeu_si512((void *)(dst + i), _mm512_slli_epi32(w, 16));
	}
	for (; i < n; i++)
		dst[i] = bits_f32((uint32_t)load_u16(src + 2 * i) << 16);
}
#endif

/* F16 row in portable C; fixed-size inner loops vectorize even under -O2's cheap cost model. */
static void
conv_f16_c(const uint8_t *src, float *restrict dst, size_t n)
{
	size_t i, j;

	for (i = 0; i + 16 <= n; i += 16)
		for (j = 0; j < 16; j++)
			dst[i + j] = f16_to_f32(load_u16(src + 2 * (i + j)));
	for (; i < n; i++)
		dst[i] = f16_to_f32(load_u16(src + 2 * i));
}

/* BF16 row in portable C: the top half of a float. */
static void
conv_bf16_c(const uint8_t *src, float *restrict dst, size_t n)
{
	size_t i, j;

	for (i = 0; i + 16 <= n; i += 16)
		for (j = 0; j < 16; j++)
			dst[i + j] = bits_f32((uint32_t)load_u16(src + 2 * (i + j)) << 16);
	for (; i < n; i++)
		dst[i] = bits_f32((uint32_t)load_u16(src + 2 * i) << 16);
}

/* F16 row, by AVX-512 where the CPU has it (this is the forward pass's per-call weight
 * conversion; the C loop runs at a fraction of vcvtph2ps's rate). */
static void
conv_f16(const uint8_t *src, float *dst, size_t n)
{
#ifdef HAVE_X86_CONVERT
	if (__builtin_cpu_supports("avx512f")) {
		conv_f16_avx512(src, dst, n);
		return;
	}
#endif
	conv_f16_c(src, dst, n);
}

/* BF16 row, by AVX-512 where the CPU has it. */
static void
conv_bf16(const uint8_t *src, float *dst, size_t n)
{
#ifdef HAVE_X86_CONVERT
	if (__builtin_cpu_supports("avx512f")) {
		conv_bf16_avx512(src, dst, n);
		return;
	}
#endif
	conv_bf16_c(src, dst, n);
}

/* Q8_0: d * q for each of 32 int8. */
static void
dequant_q8_0(const uint8_t *src, float *restrict dst, size_t nb)
{
	size_t i, j;

	for (i = 0; i < nb; i++, src += Q8_0_BYTES, dst += QK8_0) {
		const float d = f16_to_f32(load_u16(src));
		const int8_t *q = (const int8_t *)(src + 2);

		for (j = 0; j < QK8_0; j++)
			dst[j] = (float)q[j] * d;
	}
}

/* Q4_0: low nibbles are weights 0..15, high nibbles 16..31, offset by 8. */
static void
dequant_q4_0(const uint8_t *src, float *restrict dst, size_t nb)
{
	size_t i, j;

	for (i = 0; i < nb; i++, src += Q4_0_BYTES, dst += QK4_0) {
		const float d = f16_to_f32(load_u16(src));
		const uint8_t *q = src + 2;

		for (j = 0; j < QK4_0 / 2; j++) {
			dst[j] = (float)((q[j] & 0x0f) - 8) * d;
			dst[j + QK4_0 / 2] = (float)((q[j] >> 4) - 8) * d;
		}
	}
}

/* Q4_K: the 6-bit scale and min of sub-block j from the 12 packed bytes. */
static inline void
q4_k_scale_min(int j, const uint8_t *s, uint8_t *sc, uint8_t *m)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*m = s[j + 4] & 63;
	} else {
		*sc = (uint8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
		*m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
	}
}

/* Q4_K: 8 sub-blocks of 32, each d*sc*q - dmin*m; pairs of sub-blocks share 32 bytes of nibbles. */
static void
dequant_q4_k(const uint8_t *src, float *restrict dst, size_t nb)
{
	size_t i;
	int j, l;

	for (i = 0; i < nb; i++, src += Q4_K_BYTES) {
		const float d = f16_to_f32(load_u16(src));
		const float dmin = f16_to_f32(load_u16(src + 2));
		const uint8_t *scales = src + 4;
		const uint8_t *q = src + 16;

		for (j = 0; j < QK_K / 64; j++, q += 32, dst += 64) {
			uint8_t sc, m;
			float d1, m1, d2, m2;

			q4_k_scale_min(2 * j, scales, &sc, &m);
			d1 = d * sc;
			m1 = dmin * m;
			q4_k_scale_min(2 * j + 1, scales, &sc, &m);
			d2 = d * sc;
			m2 = dmin * m;
			for (l = 0; l < 32; l++)
				dst[l] = d1 * (float)(q[l] & 0x0f) - m1;
			for (l = 0; l < 32; l++)
				dst[l + 32] = d2 * (float)(q[l] >> 4) - m2;
		}
	}
}

/* Q6_K: 6-bit weights (4 low bits in ql, 2 high in qh) minus 32, 16 int8 scales of 16 weights. */
static void
dequant_q6_k(const uint8_t *src, float *restrict dst, size_t nb)
{
	size_t i;
	int n, h, l;

	for (i = 0; i < nb; i++, src += Q6_K_BYTES) {
		const uint8_t *ql = src;
		const uint8_t *qh = src + QK_K / 2;
		const int8_t *sc = (const int8_t *)(src + QK_K / 2 + QK_K / 4);
		const float d = f16_to_f32(load_u16(src + QK_K / 2 + QK_K / 4 + QK_K / 16));

		for (n = 0; n < QK_K / 128; n++, ql += 64, qh += 32, sc += 8, dst += 128) {
			/* Weights l and l+16 use different scales: two halves keep each
			 * inner loop's scales constant, so it vectorizes. */
			for (h = 0; h < 2; h++) {
				const float s1 = d * (float)sc[h], s2 = d * (float)sc[h + 2];
				const float s3 = d * (float)sc[h + 4], s4 = d * (float)sc[h + 6];

				for (l = 16 * h; l < 16 * h + 16; l++) {
					int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
					int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
					int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
					int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;

					dst[l] = s1 * (float)q1;
					dst[l + 32] = s2 * (float)q2;
					dst[l + 64] = s3 * (float)q3;
					dst[l + 96] = s4 * (float)q4;
				}
			}
		}
	}
}

void
rs_dtype_to_f32(enum rs_dtype t, const void *src, float *dst, size_t n)
{
	const uint8_t *s = src;

	switch (t) {
	case RS_DT_F32:
		memmove(dst, src, n * sizeof(float));
		break;
	case RS_DT_F16:
		conv_f16(s, dst, n);
		break;
	case RS_DT_BF16:
		conv_bf16(s, dst, n);
		break;
	case RS_DT_Q8_0:
		dequant_q8_0(s, dst, n / QK8_0);
		break;
	case RS_DT_Q4_0:
		dequant_q4_0(s, dst, n / QK4_0);
		break;
	case RS_DT_Q4_K:
		dequant_q4_k(s, dst, n / QK_K);
		break;
	case RS_DT_Q6_K:
		dequant_q6_k(s, dst, n / QK_K);
		break;
	default:
		break;
	}
}
