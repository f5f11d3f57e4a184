/* dtype.h: element types of weight tensors and their conversion to float32.
 *
 * Quantized types come in blocks along a row (ggml layouts): Q8_0 = 32 weights as an f16 scale and
 * 32 int8; Q4_0 = 32 weights as an f16 scale and 16 bytes of nibbles; Q4_K and Q6_K = 256-weight
 * super-blocks.  A row of `n` elements of a block type needs n to be a multiple of the block size. */
#ifndef RS_DTYPE_H
#define RS_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum rs_dtype {
	RS_DT_F32,
	RS_DT_F16,
	RS_DT_BF16,
	RS_DT_Q8_0,
	RS_DT_Q4_0,
	RS_DT_Q4_K,
	RS_DT_Q6_K,
	RS_DT_COUNT
};

const char *rs_dtype_name(enum rs_dtype t);        /* "F32", "BF16", "Q8_0", ... */
size_t rs_dtype_block_elems(enum rs_dtype t);      /* 1 for plain types, 32 or 256 for blocks */
size_t rs_dtype_block_bytes(enum rs_dtype t);      /* bytes per block */

/* Bytes of a row of n elements; 0 if n is not a multiple of the block size or overflows. */
size_t rs_dtype_row_bytes(enum rs_dtype t, uint64_t n);

/* Convert n elements (a multiple of the block size) starting at src into dst. */
void rs_dtype_to_f32(enum rs_dtype t, const void *src, float *dst, size_t n);

/* Scalar conversions. */
float rs_f16_to_f32(uint16_t h);
float rs_bf16_to_f32(uint16_t b);
uint16_t rs_f32_to_f16(float f);   /* round to nearest even */
uint16_t rs_f32_to_bf16(float f);  /* round to nearest even; NaN stays NaN */

#endif
