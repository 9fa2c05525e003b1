/* sum(g^2) of a slice of the gradient, in double: clipping by the global norm sums it
 * over each part's slices while they are still in its cache. In C, as the optimizers
 * (optimizers.h), for the `omp simd reduction` that lets the sum vectorize. */
#ifndef FASTMLP_NORMS_H
#define FASTMLP_NORMS_H
#include <Python.h>

#include "dispatch.h"

#define FASTMLP_SUMSQ_LOOP(T)                                                           \
FASTMLP_DISPATCH static double fastmlp_sumsq_##T(const T *restrict g, Py_ssize_t n) {    \
    double sumsq = 0;                                                                   \
    _Pragma("omp simd reduction(+:sumsq)")                                              \
    for (Py_ssize_t i = 0; i < n; i++) sumsq += (double) g[i] * (double) g[i];          \
    return sumsq;                                                                       \
}
FASTMLP_SUMSQ_LOOP(float)
FASTMLP_SUMSQ_LOOP(double)

#endif
