/* One row through one dense layer, without BLAS: z = x @ W.
 *
 * For a single row, BLAS's gemv is bound by streaming W from cache and pays
 * call overhead on every layer. This loop streams W once, row by row, into a
 * block of JB accumulators that stay in vector registers, and skips the rows
 * of W whose input is exactly zero (images have many zero pixels; ReLU layers
 * output many zeros). Skipping adds nothing a finite W would have changed.
 * The nonzero inputs are gathered once per layer: a branch on x[k] in every block
 * is mispredicted at each new row's pattern of zeros (benchmarks/README.md has the
 * figures). Built for AVX-512, AVX2 and the baseline, picked at load time. */
#ifndef FASTMLP_ROW_FORWARD_H
#define FASTMLP_ROW_FORWARD_H
#include <Python.h>

#include "dispatch.h"

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
/* gcc -O3's unroll-and-jam turns the block loop over gathered indices into scalar code */
#define FASTMLP_ROW_DISPATCH FASTMLP_DISPATCH __attribute__((optimize("no-loop-unroll-and-jam")))
#else
#define FASTMLP_ROW_DISPATCH FASTMLP_DISPATCH
#endif

#define FASTMLP_ROW_BLOCK 64

/* acc[0:WIDTH] += x[k] * W[k, j0:j0 + WIDTH] over the gathered k with x[k] != 0 */
#define FASTMLP_ROW_BLOCK_LOOP(T, WIDTH)                                                 \
    for (Py_ssize_t n = 0; n < n_nonzero; n++) {                                         \
        const Py_ssize_t k = nonzero[n];                                                 \
        const T xk = x[k];                                                               \
        const T *w = W + k * n_out + j0;                                                 \
        _Pragma("omp simd")                                                              \
        for (Py_ssize_t j = 0; j < WIDTH; j++) acc[j] += xk * w[j];                      \
    }

#define FASTMLP_ROW_AFFINE(NAME, T)                                                      \
FASTMLP_ROW_DISPATCH static void NAME(const T *restrict x, const T *restrict W,          \
                                      Py_ssize_t n_in, Py_ssize_t n_out,                 \
                                      T *restrict z, Py_ssize_t *restrict nonzero) {     \
    /* nonzero: scratch for n_in indices, the rows of W that count, gathered once:   */ \
    /* (see the top of this file)                                                     */ \
    Py_ssize_t n_nonzero = 0;                                                            \
    for (Py_ssize_t k = 0; k < n_in; k++) {                                              \
        nonzero[n_nonzero] = k;                                                          \
        n_nonzero += x[k] != 0;                                                          \
    }                                                                                    \
    Py_ssize_t j0 = 0;                                                                   \
    while (j0 < n_out) {                                                                 \
        Py_ssize_t width = n_out - j0 < FASTMLP_ROW_BLOCK ? n_out - j0 : FASTMLP_ROW_BLOCK; \
        T acc[FASTMLP_ROW_BLOCK];                                                        \
        _Pragma("omp simd")                                                              \
        for (Py_ssize_t j = 0; j < FASTMLP_ROW_BLOCK; j++) acc[j] = 0;                   \
        if (width == FASTMLP_ROW_BLOCK) {  /* constant width: registers, no tail */      \
            FASTMLP_ROW_BLOCK_LOOP(T, FASTMLP_ROW_BLOCK)                                 \
        } else {                                                                         \
            FASTMLP_ROW_BLOCK_LOOP(T, width)                                             \
        }                                                                                \
        for (Py_ssize_t j = 0; j < width; j++) z[j0 + j] = acc[j];                       \
        j0 += width;                                                                     \
    }                                                                                    \
}

FASTMLP_ROW_AFFINE(fastmlp_row_affine_float, float)
FASTMLP_ROW_AFFINE(fastmlp_row_affine_double, double)

#endif
