/* The optimizers' update loops in C, for two things Cython cannot say:
 *  - `omp simd reduction`: the sum of squares may be reordered, so the loop that
 *    also accumulates it vectorizes (enabled by -fopenmp-simd; no OpenMP runtime);
 *  - runtime dispatch: target_clones builds each loop for AVX-512, AVX2 and the
 *    baseline, and the loader picks the widest the CPU has. The default build stays
 *    free of CPU-specific flags, so the wheel runs everywhere.
 * One function per dtype; the formulas are documented in _optimizers.pyx. */
#ifndef FASTMLP_SIMD_H
#define FASTMLP_SIMD_H
#include <Python.h>
#include <math.h>

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_DISPATCH __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTMLP_DISPATCH
#endif

#define FASTMLP_ADAM(NAME, T, SQRT)                                                     \
FASTMLP_DISPATCH static double NAME(T *p, const T *g, T *m, T *v, Py_ssize_t n_weights, \
                                    Py_ssize_t n_params, T l2, T step, T beta_1,        \
                                    T beta_2, T epsilon) {                              \
    double sumsq = 0;                                                                   \
    const T c1 = 1 - beta_1, c2 = 1 - beta_2;                                           \
    _Pragma("omp simd reduction(+:sumsq)")                                              \
    for (Py_ssize_t i = 0; i < n_weights; i++) {                                        \
        T w = p[i];                                                                     \
        T gi = g[i] + l2 * w;                                                           \
        sumsq += (double)w * (double)w;                                                 \
        m[i] = beta_1 * m[i] + c1 * gi;                                                 \
        v[i] = beta_2 * v[i] + c2 * gi * gi;                                            \
        p[i] = w - step * m[i] / (SQRT(v[i]) + epsilon);                                \
    }                                                                                   \
    _Pragma("omp simd")                                                                 \
    for (Py_ssize_t i = n_weights; i < n_params; i++) {                                 \
        T gi = g[i];                                                                    \
        m[i] = beta_1 * m[i] + c1 * gi;                                                 \
        v[i] = beta_2 * v[i] + c2 * gi * gi;                                            \
        p[i] = p[i] - step * m[i] / (SQRT(v[i]) + epsilon);                             \
    }                                                                                   \
    return sumsq;                                                                       \
}

#define FASTMLP_SGD(NAME, T)                                                            \
FASTMLP_DISPATCH static double NAME(T *p, const T *g, T *vel, Py_ssize_t n_weights,     \
                                    Py_ssize_t n_params, T l2, T lr, T mu,              \
                                    int nesterov) {                                     \
    double sumsq = 0;                                                                   \
    _Pragma("omp simd reduction(+:sumsq)")                                              \
    for (Py_ssize_t i = 0; i < n_params; i++) {                                         \
        T w = p[i];                                                                     \
        T l2_i = i < n_weights ? l2 : 0;  /* biases get no L2 */                        \
        T gi = g[i] + l2_i * w;                                                         \
        sumsq += i < n_weights ? (double)w * (double)w : 0.0;                           \
        T u = mu * vel[i] - lr * gi;                                                    \
        vel[i] = u;                                                                     \
        p[i] = w + (nesterov ? mu * u - lr * gi : u);                                   \
    }                                                                                   \
    return sumsq;                                                                       \
}

FASTMLP_ADAM(fastmlp_adam_float, float, sqrtf)
FASTMLP_ADAM(fastmlp_adam_double, double, sqrt)
FASTMLP_SGD(fastmlp_sgd_float, float)
FASTMLP_SGD(fastmlp_sgd_double, double)

#endif
