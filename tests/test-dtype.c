/* test-dtype.c: scalar f16/bf16 conversions and block dequantization against llama.cpp.
 *
 * References: IEEE bit patterns worked out by hand, the compiler's own _Float16 conversions
 * (libgcc) where available, and tiny-random/dequant_reference.json, made by llama.cpp's own
 * dequantizers (first 8 values, sum and sha256 of the float32 bytes, bit for bit). */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "dtype.h"
#include "gguf.h"
#include "sha256.h"
#include "tap.h"

/* Float from bits. */
static float
fbits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/* Bits of a float. */
static uint32_t
bitsf(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

/* The digest of known strings (FIPS 180-4 examples): the hash helper itself is right. */
static void
test_sha256(void)
{
	char hex[65];

	sha256_buf("abc", 3, hex);
	tap_ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	    "sha256(abc)");
	sha256_buf("", 0, hex);
	tap_ok(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
	    "sha256(empty)");
	sha256_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	tap_ok(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
	    "sha256(56-byte message)");
}

/* Known half values, both directions, and rounding ties. */
static void
test_f16_known(void)
{
	static const struct { uint16_t h; float f; } k[] = {
		{ 0x3c00, 1.0f }, { 0xc000, -2.0f }, { 0x7bff, 65504.0f }, { 0x0001, 0x1p-24f },
		{ 0x03ff, 1023 * 0x1p-24f }, { 0x0400, 0x1p-14f }, { 0x3555, 0.333251953125f },
		{ 0x3bff, 0.99951171875f }, { 0x0000, 0.0f }, { 0x8001, -0x1p-24f },
		{ 0x7c00, INFINITY }, { 0xfc00, -INFINITY },
	};
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof k / sizeof k[0]; i++) {
		float f = rs_f16_to_f32(k[i].h);

		if (bitsf(f) != bitsf(k[i].f) || rs_f32_to_f16(k[i].f) != k[i].h) {
			tap_diag("half 0x%04x: got %a / 0x%04x", k[i].h, f, rs_f32_to_f16(k[i].f));
			ok = 0;
		}
	}
	tap_ok(ok, "f16 known values both ways");
	tap_ok(bitsf(rs_f16_to_f32(0x8000)) == 0x80000000u && rs_f32_to_f16(-0.0f) == 0x8000,
	    "f16 negative zero");
	tap_ok(isnan(rs_f16_to_f32(0x7e00)) && isnan(rs_f16_to_f32(0x7c01)) &&
	    isnan(rs_f16_to_f32(0xfe00)), "f16 NaNs decode to NaN");
	tap_ok((rs_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (rs_f32_to_f16(NAN) & 0x3ff) != 0,
	    "f32 NaN encodes to a half NaN");
	tap_ok(rs_f32_to_f16(65519.0f) == 0x7bff && rs_f32_to_f16(65520.0f) == 0x7c00 &&
	    rs_f32_to_f16(1e10f) == 0x7c00 && rs_f32_to_f16(-1e10f) == 0xfc00 &&
	    rs_f32_to_f16(INFINITY) == 0x7c00, "f16 overflow to infinity at 65520");
	tap_ok(rs_f32_to_f16(0x1p-25f) == 0x0000 && rs_f32_to_f16(0x1.8p-25f) == 0x0001 &&
	    rs_f32_to_f16(0x1.8p-24f) == 0x0002 && rs_f32_to_f16(0x1p-26f) == 0 &&
	    rs_f32_to_f16(0x1p-30f) == 0, "f16 subnormal rounding, ties to even");
	tap_ok(rs_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00 &&
	    rs_f32_to_f16(1.0f + 0x1.8p-10f) == 0x3c02 &&
	    rs_f32_to_f16(1.0f + 0x1.02p-11f) == 0x3c01 &&
	    rs_f32_to_f16(0x1.ffep-15f) == 0x0400, "f16 normal rounding, ties to even");
}

/* Every half survives half -> float -> half; every half agrees with the compiler's _Float16. */
static void
test_f16_exhaustive(void)
{
	uint32_t h;
	int ok = 1, nan_ok = 1;

	for (h = 0; h < 0x10000; h++) {
		float f = rs_f16_to_f32((uint16_t)h);
		int isn = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;

		if (isn) {
			if (!isnan(f) || (rs_f32_to_f16(f) & 0x7fff) <= 0x7c00)
				nan_ok = 0;
		} else if (rs_f32_to_f16(f) != h) {
			if (ok)
				tap_diag("half 0x%04x -> %a -> 0x%04x", h, f, rs_f32_to_f16(f));
			ok = 0;
		}
	}
	tap_ok(ok, "all 63,488 non-NaN halves round-trip exactly");
	tap_ok(nan_ok, "all 2,046 NaN halves stay NaN");
#ifdef __FLT16_MAX__
	{
		uint32_t u, bad = 0, n = 0;

		ok = 1;
		for (h = 0; h < 0x10000; h++) {
			_Float16 x;
			uint16_t hh = (uint16_t)h;

			memcpy(&x, &hh, 2);
			if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0)
				continue;
			if (bitsf((float)x) != bitsf(rs_f16_to_f32(hh)))
				ok = 0;
		}
		tap_ok(ok, "f16 -> f32 equals the compiler's _Float16 for every half");
		/* f32 -> f16: a stride through all float bit patterns, plus the neighbourhood of
		 * every half boundary (where the rounding decisions are). */
		for (u = 0; u < 0xffffffffu - 65521; u += 65521) {
			float f = fbits(u);
			_Float16 x = (_Float16)f;
			uint16_t ref;

			if (isnan(f))
				continue;
			memcpy(&ref, &x, 2);
			n++;
			if (ref != rs_f32_to_f16(f) && bad++ == 0)
				tap_diag("f32 %a: 0x%04x, compiler 0x%04x", f, rs_f32_to_f16(f), ref);
		}
		for (h = 0; h < 0x7c00; h++) {
			float mid = rs_f16_to_f32((uint16_t)h);
			int d;

			for (d = -2; d <= 2; d++) {
				float f = fbits(bitsf(mid) + (uint32_t)(d + 4096) - 4096);
				_Float16 x = (_Float16)f;
				uint16_t ref;

				if (isnan(f))
					continue;
				memcpy(&ref, &x, 2);
				n++;
				if (ref != rs_f32_to_f16(f) && bad++ == 0)
					tap_diag("f32 %a: 0x%04x, compiler 0x%04x", f,
					    rs_f32_to_f16(f), ref);
			}
			/* The exact midpoint to the next half. */
			if (h + 1 < 0x7c00) {
				double m = ((double)mid + rs_f16_to_f32((uint16_t)(h + 1))) / 2;
				float f = (float)m;
				_Float16 x = (_Float16)f;
				uint16_t ref;

				memcpy(&ref, &x, 2);
				n++;
				if (ref != rs_f32_to_f16(f) && bad++ == 0)
					tap_diag("f32 %a: 0x%04x, compiler 0x%04x", f,
					    rs_f32_to_f16(f), ref);
			}
		}
		tap_ok(bad == 0, "f32 -> f16 equals the compiler's _Float16 (%u values, %u differ)",
		    n, bad);
	}
#else
	tap_diag("no _Float16 in this compiler: comparison with it skipped");
#endif
}

/* bf16: known values, ties to even, NaN, every bf16 round trip. */
static void
test_bf16(void)
{
	uint32_t b;
	int ok = 1;

	tap_ok(rs_f32_to_bf16(1.0f) == 0x3f80 && rs_bf16_to_f32(0x3f80) == 1.0f &&
	    rs_f32_to_bf16(-2.0f) == 0xc000 && rs_bf16_to_f32(0xc000) == -2.0f,
	    "bf16 known values");
	tap_ok(rs_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80 &&
	    rs_f32_to_bf16(1.0f + 0x1.8p-7f) == 0x3f82 &&
	    rs_f32_to_bf16(1.0f + 0x1.0002p-8f) == 0x3f81 &&
	    rs_f32_to_bf16(fbits(0x3f80ffffu)) == 0x3f81, "bf16 rounding, ties to even");
	tap_ok(rs_f32_to_bf16(INFINITY) == 0x7f80 && rs_f32_to_bf16(-INFINITY) == 0xff80 &&
	    rs_f32_to_bf16(FLT_MAX) == 0x7f80, "bf16 infinity and overflow");
	tap_ok(isnan(rs_bf16_to_f32(rs_f32_to_bf16(NAN))) &&
	    isnan(rs_bf16_to_f32(rs_f32_to_bf16(fbits(0x7f800001u)))) &&
	    isnan(rs_bf16_to_f32(rs_f32_to_bf16(fbits(0xffffffffu)))), "bf16 NaN stays NaN");
	tap_ok(rs_f32_to_bf16(fbits(0x00010000u)) == 0x0001 &&
	    rs_f32_to_bf16(fbits(0x00008000u)) == 0x0000 &&
	    rs_f32_to_bf16(fbits(0x00018000u)) == 0x0002 &&
	    bitsf(rs_bf16_to_f32(0x8000)) == 0x80000000u, "bf16 subnormals and -0");
	for (b = 0; b < 0x10000; b++) {
		float f = rs_bf16_to_f32((uint16_t)b);

		if (bitsf(f) != b << 16)
			ok = 0;
		if (!isnan(f) && rs_f32_to_bf16(f) != b)
			ok = 0;
	}
	tap_ok(ok, "every bf16 widens by a 16-bit shift and round-trips");
}

/* Block sizes and row byte counts. */
static void
test_sizes(void)
{
	tap_ok(rs_dtype_row_bytes(RS_DT_F32, 7) == 28 && rs_dtype_row_bytes(RS_DT_BF16, 3) == 6 &&
	    rs_dtype_row_bytes(RS_DT_F16, 256) == 512, "plain row bytes");
	tap_ok(rs_dtype_row_bytes(RS_DT_Q8_0, 64) == 68 && rs_dtype_row_bytes(RS_DT_Q4_0, 64) == 36 &&
	    rs_dtype_row_bytes(RS_DT_Q4_K, 512) == 288 &&
	    rs_dtype_row_bytes(RS_DT_Q6_K, 256) == 210, "block row bytes (34, 18, 144, 210 per block)");
	tap_ok(rs_dtype_row_bytes(RS_DT_Q8_0, 33) == 0 && rs_dtype_row_bytes(RS_DT_Q4_K, 128) == 0,
	    "row not a multiple of the block size gives 0");
	tap_ok(rs_dtype_row_bytes(RS_DT_F32, UINT64_MAX / 2) == 0, "row byte overflow gives 0");
	tap_ok(strcmp(rs_dtype_name(RS_DT_Q6_K), "Q6_K") == 0 &&
	    strcmp(rs_dtype_name(RS_DT_BF16), "BF16") == 0 &&
	    rs_dtype_block_elems(RS_DT_Q4_K) == 256 && rs_dtype_block_elems(RS_DT_Q4_0) == 32,
	    "names and block sizes");
}

/* Path of a reference GGUF under the fixtures, or NULL if not there. */
static const char *
find_gguf(char *buf, size_t n, const char *root, const char *name)
{
	static const char *const dirs[] = { "tiny-random/gguf", "stories260K/gguf", "stories260K" };
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(buf, n, "%s/%s/%s", root, dirs[i], name);
		if ((f = fopen(buf, "rb")) != NULL) {
			fclose(f);
			return buf;
		}
	}
	return NULL;
}

/* One tensor against its reference entry; returns 1 if everything matches. */
static int
check_tensor(const struct rs_gguf *g, json_t *ref, const char *file)
{
	const char *name = json_string_value(json_object_get(ref, "name"));
	const struct rs_gguf_tensor *t;
	json_t *ne = json_object_get(ref, "ne"), *first8 = json_object_get(ref, "first8");
	char hex[65];
	uint64_t nelem = 1, rows, r;
	size_t rb, i;
	float *y;
	double sum = 0, rsum;
	int64_t ix;
	int ok = 1;

	if (name == NULL || (ix = rs_gguf_find_tensor(g, name)) < 0) {
		tap_diag("%s: tensor %s not found", file, name ? name : "?");
		return 0;
	}
	t = rs_gguf_tensor(g, ix);
	if ((json_int_t)t->ggml_type != json_integer_value(json_object_get(ref, "type_id")) ||
	    strcmp(rs_dtype_name(t->dtype), json_string_value(json_object_get(ref, "type"))) != 0) {
		tap_diag("%s: %s: type %u", file, name, t->ggml_type);
		return 0;
	}
	if (json_array_size(ne) != t->n_dims) {
		tap_diag("%s: %s: n_dims %u", file, name, t->n_dims);
		return 0;
	}
	for (i = 0; i < t->n_dims; i++) {
		if ((json_int_t)t->ne[i] != json_integer_value(json_array_get(ne, i))) {
			tap_diag("%s: %s: ne[%zu] %llu", file, name, i, (unsigned long long)t->ne[i]);
			return 0;
		}
		nelem *= t->ne[i];
	}
	if ((json_int_t)t->nbytes != json_integer_value(json_object_get(ref, "n_bytes"))) {
		tap_diag("%s: %s: nbytes %zu", file, name, t->nbytes);
		return 0;
	}
	sha256_buf(t->data, t->nbytes, hex);
	if (strcmp(hex, json_string_value(json_object_get(ref, "raw_sha256"))) != 0) {
		tap_diag("%s: %s: raw bytes differ", file, name);
		return 0;
	}

	/* Dequantize row by row, as the forward pass does. */
	if ((y = malloc(nelem * sizeof *y)) == NULL)
		return 0;
	rb = rs_dtype_row_bytes(t->dtype, t->ne[0]);
	rows = nelem / t->ne[0];
	for (r = 0; r < rows; r++)
		rs_dtype_to_f32(t->dtype, (const uint8_t *)t->data + r * rb, y + r * t->ne[0],
		    t->ne[0]);
	sha256_buf(y, nelem * sizeof *y, hex);
	if (strcmp(hex, json_string_value(json_object_get(ref, "f32_sha256"))) != 0) {
		tap_diag("%s: %s (%s): dequantized sha256 differs", file, name,
		    rs_dtype_name(t->dtype));
		ok = 0;
	}
	for (i = 0; i < json_array_size(first8) && i < nelem; i++) {
		float want = (float)json_number_value(json_array_get(first8, i));

		if (bitsf(y[i]) != bitsf(want) && !(want == 0 && y[i] == 0)) {
			tap_diag("%s: %s: value %zu is %.9g, want %.9g", file, name, i, y[i], want);
			ok = 0;
			break;
		}
	}
	for (r = 0; r < nelem; r++)
		sum += y[r];
	rsum = json_number_value(json_object_get(ref, "sum"));
	if (fabs(sum - rsum) > 1e-9 * (fabs(rsum) + 1)) {
		tap_diag("%s: %s: sum %.17g, want %.17g", file, name, sum, rsum);
		ok = 0;
	}
	free(y);
	return ok;
}

/* Every tensor of every reference GGUF present in the fixtures. */
static void
test_reference(void)
{
	char refpath[4096], path[4096];
	const char *root = getenv("RS_FIXTURES"), *file;
	json_error_t jerr;
	json_t *refs, *list, *e;
	struct rs_gguf *g;
	char *cause = NULL;
	size_t i, n_files = 0;

	if (tap_fixture_path(refpath, sizeof refpath, "tiny-random/dequant_reference.json") == NULL) {
		tap_skip(1, "fixture tiny-random/dequant_reference.json missing");
		return;
	}
	if (root == NULL)
		root = "../shared/fixtures";
	refs = json_load_file(refpath, 0, &jerr);
	if (!tap_ok(refs != NULL, "dequant_reference.json parses"))
		return;
	json_object_foreach(refs, file, list) {
		int ok = 1, n_ok = 0;

		if (find_gguf(path, sizeof path, root, file) == NULL) {
			tap_diag("%s: not in the fixtures, skipped", file);
			continue;
		}
		g = rs_gguf_open(path, &cause);
		if (!tap_ok(g != NULL, "%s opens", file)) {
			tap_diag("%s", cause);
			free(cause);
			cause = NULL;
			continue;
		}
		n_files++;
		json_array_foreach(list, i, e) {
			if (check_tensor(g, e, file))
				n_ok++;
			else
				ok = 0;
		}
		tap_ok(ok && (int64_t)json_array_size(list) == rs_gguf_n_tensors(g),
		    "%s: %d/%zu tensors bit-exact with llama.cpp (of %lld in the file)", file,
		    n_ok, json_array_size(list), (long long)rs_gguf_n_tensors(g));
		rs_gguf_close(g);
	}
	tap_ok(n_files >= 8, "%zu reference files checked", n_files);
	json_decref(refs);
}

/* Conversion of unaligned sources (data in mappings need not be aligned). */
static void
test_unaligned(void)
{
	uint8_t buf[1 + 34 * 2];
	float y[64];
	uint16_t h = rs_f32_to_f16(0.5f);
	int i, ok = 1;

	memset(buf, 0, sizeof buf);
	for (i = 0; i < 2; i++) {
		memcpy(buf + 1 + 34 * i, &h, 2);
		buf[1 + 34 * i + 2 + 5] = (uint8_t)-4;
	}
	rs_dtype_to_f32(RS_DT_Q8_0, buf + 1, y, 64);
	for (i = 0; i < 64; i++)
		if (y[i] != ((i % 32) == 5 ? -2.0f : 0.0f))
			ok = 0;
	rs_dtype_to_f32(RS_DT_F16, buf + 1, y, 1);
	tap_ok(ok && y[0] == 0.5f, "Q8_0 and F16 from an odd address");
}

/*
 * Row conversion (the forward pass's path, vector instructions where the CPU has them) of every
 * half and every bf16 pattern, from an odd address and with a tail shorter than a vector:
 * F16 against the bits worked out from the IEEE formula in double (sign, exponent, mantissa),
 * BF16 against the 16-bit shift that defines it.
 */
static void
test_rows_exhaustive(void)
{
	size_t n = 0x10000 - 3, i;	/* not a multiple of 8 or 16: the tail loop runs */
	uint8_t *buf = malloc(2 * n + 1);
	float *y = malloc(n * sizeof *y);
	int ok = 1, bok = 1;

	if (buf == NULL || y == NULL) {
		tap_ok(0, "row buffers");
		free(buf);
		free(y);
		return;
	}
	for (i = 0; i < n; i++) {
		uint16_t h = (uint16_t)(i + 3);

		memcpy(buf + 1 + 2 * i, &h, 2);
	}
	rs_dtype_to_f32(RS_DT_F16, buf + 1, y, n);
	for (i = 0; i < n; i++) {
		unsigned h = (unsigned)(i + 3), e = (h >> 10) & 31, m = h & 1023;
		double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, (int)e - 25);

		if (h & 0x8000)
			v = -v;
		if (e == 31) {
			if (m == 0 ? !isinf(y[i]) || !!signbit(y[i]) != !!(h & 0x8000) : !isnan(y[i]))
				ok = 0;
		} else if (bitsf(y[i]) != bitsf((float)v)) {
			if (ok)
				tap_diag("half 0x%04x: row gives %a, want %a", h, y[i], v);
			ok = 0;
		}
	}
	tap_ok(ok, "F16 rows: all %zu halves from an odd address equal the IEEE value", n);
	rs_dtype_to_f32(RS_DT_BF16, buf + 1, y, n);
	for (i = 0; i < n; i++)
		if (bitsf(y[i]) != (uint32_t)(i + 3) << 16)
			bok = 0;
	tap_ok(bok, "BF16 rows: all %zu patterns from an odd address widen by the 16-bit shift", n);
	free(buf);
	free(y);
}

int
main(void)
{
	test_sha256();
	test_f16_known();
	test_f16_exhaustive();
	test_bf16();
	test_sizes();
	test_unaligned();
	test_rows_exhaustive();
	test_reference();
	return tap_done();
}
