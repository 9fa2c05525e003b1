/* Reductions the C compiler may only vectorize when told the order of the sum is
 * free: `omp simd reduction` (enabled by -fopenmp-simd, no OpenMP runtime) says so
 * for this loop alone, where -ffast-math would say it for everything. */
#ifndef FASTMLP_SIMD_H
#define FASTMLP_SIMD_H
#include <Python.h>

/* sum(x^2), accumulated in double */
static inline double fastmlp_sumsq_float(const float *x, Py_ssize_t n) {
    double total = 0;
    #pragma omp simd reduction(+:total)
    for (Py_ssize_t i = 0; i < n; i++) total += (double)x[i] * (double)x[i];
    return total;
}

static inline double fastmlp_sumsq_double(const double *x, Py_ssize_t n) {
    double total = 0;
    #pragma omp simd reduction(+:total)
    for (Py_ssize_t i = 0; i < n; i++) total += x[i] * x[i];
    return total;
}
#endif
