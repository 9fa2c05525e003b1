/* The optimizers: each is one fused pass over a slice of the flat parameters, and one
 * line of the table at the end of this file, which is all the rest of fastmlp knows
 * of it (the solver names, the state arrays to allocate and save, the estimator
 * parameters it reads).
 *
 * They are written in C for what Cython cannot say: `omp simd reduction`, so that the
 * loop that also sums w^2 may reorder that sum and vectorize (-fopenmp-simd, no OpenMP
 * runtime), and runtime dispatch to the CPU's widest vectors (dispatch.h).
 *
 * Every optimizer is called the same way (fastmlp_update_float/_double below):
 *   p, g     a slice of the parameters and of their gradient, n elements
 *   s0, s1   the same slice of its state arrays (as many as its table line names)
 *   weights  1 for a slice of weights, 0 for biases: no L2 term, no weight decay
 *   l2       alpha / (sum of the minibatch's sample weights) for weights, 0 for biases:
 *            the gradient of the loss is g + l2 w (scikit-learn's L2 penalty)
 *   gscale   the factor of g: 1, or less where clipping by the global norm scales the
 *            step's gradient down (the L2 term is not clipped, as with PyTorch's
 *            weight_decay after clip_grad_norm_)
 *   lr       the learning rate of this epoch
 *   h        its hyper-parameters, in the order its table line names them
 *   t        the step number: 1 for the optimizer's first update
 * and returns sum(w^2) over the slice before the update: the loss of the same
 * minibatch needs it, and no separate pass computes it.
 *
 * An optimizer is two macros, <name>_CONSTANTS (per call) and <name>_UPDATE (per
 * element; w = p[i] and gi = gscale g[i] + l2 w are given), and FASTMLP_OPTIMIZER(<name>),
 * which writes its float and double loops. */
#ifndef FASTMLP_OPTIMIZERS_H
#define FASTMLP_OPTIMIZERS_H
#include <Python.h>
#include <math.h>

#include "dispatch.h"

#define FASTMLP_SQRT(x) _Generic((x), float: sqrtf, default: sqrt)(x)

#define FASTMLP_OPTIMIZER_LOOP(NAME, T)                                                 \
FASTMLP_DISPATCH static double fastmlp_##NAME##_##T(                                   \
        T *restrict p, const T *restrict g, T *restrict s0, T *restrict s1,            \
        Py_ssize_t n, int weights, T l2, T gscale, double lr, const double *h,          \
        long long t) {                                                                  \
    typedef T real;                                                                     \
    NAME##_CONSTANTS                                                                    \
    double sumsq = 0;                                                                   \
    /* unclipped, g[i] + l2 w as it stands: gscale * g[i] would let the compiler fuse \
       differently and change the last bit of gi (and so every later step) */         \
    const int scaled = gscale != 1;                                                     \
    _Pragma("omp simd reduction(+:sumsq)")                                              \
    for (Py_ssize_t i = 0; i < n; i++) {                                                \
        const real w = p[i];                                                            \
        const real gi = (scaled ? gscale * g[i] : g[i]) + l2 * w;                       \
        sumsq += (double) w * (double) w;                                               \
        NAME##_UPDATE                                                                   \
    }                                                                                   \
    return sumsq;                                                                       \
}

#define FASTMLP_OPTIMIZER(NAME)                                                         \
    FASTMLP_OPTIMIZER_LOOP(NAME, float)                                                 \
    FASTMLP_OPTIMIZER_LOOP(NAME, double)


/* SGD with momentum mu = h[0] (Nesterov's when h[1] != 0). State: the velocity.
 *   vel = mu vel - lr g;   p += vel   (Nesterov: p += mu vel - lr g) */
#define sgd_CONSTANTS                                                                   \
    const real mu = (real) h[0], rate = (real) lr;                                      \
    const int nesterov = h[1] != 0;
#define sgd_UPDATE                                                                      \
    const real u = mu * s0[i] - rate * gi;                                              \
    s0[i] = u;                                                                          \
    p[i] = w + (nesterov ? mu * u - rate * gi : u);
FASTMLP_OPTIMIZER(sgd)

/* Adam with beta_1, beta_2, epsilon = h[0], h[1], h[2]. State: m, v.
 *   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2;   p -= step m / (sqrt(v) + eps),
 * with step = lr sqrt(1 - b2^t) / (1 - b1^t): the bias correction folded into one
 * scalar per call. */
#define adam_CONSTANTS                                                                  \
    const real b1 = (real) h[0], b2 = (real) h[1], eps = (real) h[2];                   \
    /* 1 - b in double: in float32, 1 - 0.999f is 1.3e-5 off 0.001 */                   \
    const real c1 = (real) (1 - h[0]), c2 = (real) (1 - h[1]);                          \
    const real step = (real) (lr * sqrt(1 - pow(h[1], (double) t))                      \
                              / (1 - pow(h[0], (double) t)));
#define adam_UPDATE                                                                     \
    s0[i] = b1 * s0[i] + c1 * gi;                                                       \
    s1[i] = b2 * s1[i] + c2 * gi * gi;                                                  \
    p[i] = w - step * s0[i] / (FASTMLP_SQRT(s1[i]) + eps);
FASTMLP_OPTIMIZER(adam)

/* AdamW: Adam with a decoupled weight decay = h[3] of the weights (Loshchilov &
 * Hutter), applied beside the update rather than through the gradient:
 *   p = p - step m / (sqrt(v) + eps) - lr weight_decay p   (weights; biases: Adam) */
#define adamw_CONSTANTS                                                                 \
    adam_CONSTANTS                                                                      \
    const real decay = weights ? (real) (lr * h[3]) : 0;
#define adamw_UPDATE                                                                    \
    adam_UPDATE                                                                         \
    p[i] -= decay * w;
FASTMLP_OPTIMIZER(adamw)

/* RMSprop with rho, epsilon = h[0], h[1]. State: v, the running mean of g^2.
 *   v = rho v + (1 - rho) g^2;   p -= lr g / (sqrt(v) + eps) */
#define rmsprop_CONSTANTS                                                               \
    const real rho = (real) h[0], c = (real) (1 - h[0]), eps = (real) h[1];             \
    const real rate = (real) lr;
#define rmsprop_UPDATE                                                                  \
    s0[i] = rho * s0[i] + c * gi * gi;                                                  \
    p[i] = w - rate * gi / (FASTMLP_SQRT(s0[i]) + eps);
FASTMLP_OPTIMIZER(rmsprop)

/* Not a solver, so not in the table: writes the gradient that every optimizer above
 * sees, g + l2 w, to s0, and leaves p as it is. The full-batch gradient (L-BFGS) runs
 * the training step with it. */
#define gradient_CONSTANTS
#define gradient_UPDATE                                                                 \
    s0[i] = gi;
FASTMLP_OPTIMIZER(gradient)



/* The optimizers' table. A line: the solver's name; its state arrays, space-separated
 * (at most two: s0, s1); the estimator parameters it reads, space-separated, in the
 * order of h[]; its loops. The learning rate (learning_rate_init, then the schedule's)
 * is every optimizer's, and the L2 penalty alpha is the loss's: neither is listed. */
typedef double (*fastmlp_update_float)(float *, const float *, float *, float *,
                                       Py_ssize_t, int, float, float, double,
                                       const double *, long long);
typedef double (*fastmlp_update_double)(double *, const double *, double *, double *,
                                        Py_ssize_t, int, double, double, double,
                                        const double *, long long);
typedef struct {
    const char *name;
    const char *state;
    const char *hyper;
    fastmlp_update_float update_float;
    fastmlp_update_double update_double;
} fastmlp_optimizer;

#define FASTMLP_ENTRY(NAME, STATE, HYPER) \
    {#NAME, STATE, HYPER, fastmlp_##NAME##_float, fastmlp_##NAME##_double}

static const fastmlp_optimizer FASTMLP_OPTIMIZERS[] = {
    /*            name     state arrays   hyper-parameters                               */
    FASTMLP_ENTRY(sgd,     "velocity",    "momentum nesterovs_momentum"),
    FASTMLP_ENTRY(adam,    "m v",         "beta_1 beta_2 epsilon"),
    FASTMLP_ENTRY(adamw,   "m v",         "beta_1 beta_2 epsilon weight_decay"),
    FASTMLP_ENTRY(rmsprop, "v",           "rho epsilon"),
};
#define FASTMLP_N_OPTIMIZERS ((int) (sizeof FASTMLP_OPTIMIZERS / sizeof FASTMLP_OPTIMIZERS[0]))

#endif
