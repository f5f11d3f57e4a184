/* blas.h: which OpenBLAS kernels run, and whether the environment chose them.
 *
 * OpenBLAS picks its kernel set by CPU model when it loads, unless OPENBLAS_CORETYPE names one.
 * The set decides the forward pass's speed (measured with bench/ppl on an AVX-512 machine:
 * sgemm at 512×5632×2048 runs 31-56 GFLOP/s with "Haswell", the AVX2 set, against 80-90 with
 * the AVX-512 set), so `info` and the benchmarks name it. */
#ifndef RS_BLAS_H
#define RS_BLAS_H

/* The kernel set OpenBLAS runs ("Haswell", "Cooperlake", ...), or "unknown". */
const char *rs_blas_kernels(void);

/* OPENBLAS_CORETYPE when the environment sets it, else NULL. */
const char *rs_blas_forced(void);

#endif
