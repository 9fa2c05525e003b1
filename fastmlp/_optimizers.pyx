"""Adam and SGD (momentum, Nesterov) as one fused loop over the flat parameters.

Both add the L2 gradient l2 * w to the weights' gradient on the fly (l2 = alpha / batch
size, scikit-learn's penalty) and return sum(w^2) of the weights *before* the update,
which the caller needs for the loss of the same minibatch: no separate pass.

The loops themselves are in _simd.h (C, vectorized with a reduction and dispatched
at run time to the CPU's widest vectors); here they get their fused-type front.
"""
from cython cimport floating

cdef extern from "_simd.h" nogil:
    double adam_float "fastmlp_adam_float"(
        float* p, const float* g, float* m, float* v, Py_ssize_t n_weights,
        Py_ssize_t n_params, float l2, float step, float beta_1, float beta_2, float epsilon)
    double adam_double "fastmlp_adam_double"(
        double* p, const double* g, double* m, double* v, Py_ssize_t n_weights,
        Py_ssize_t n_params, double l2, double step, double beta_1, double beta_2,
        double epsilon)
    double sgd_float "fastmlp_sgd_float"(
        float* p, const float* g, float* vel, Py_ssize_t n_weights, Py_ssize_t n_params,
        float l2, float lr, float mu, int nesterov)
    double sgd_double "fastmlp_sgd_double"(
        double* p, const double* g, double* vel, Py_ssize_t n_weights, Py_ssize_t n_params,
        double l2, double lr, double mu, int nesterov)


cdef double adam_step(floating* params, const floating* grads, floating* m, floating* v,
                      Py_ssize_t n_weights, Py_ssize_t n_params, floating l2,
                      floating step, floating beta_1, floating beta_2,
                      floating epsilon) noexcept nogil:
    """g = grads + l2 w (weights only); m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
    p -= step * m / (sqrt(v) + eps).

    step = lr * sqrt(1 - b2^t) / (1 - b1^t): the bias correction folded into one scalar.
    """
    if floating is float:
        return adam_float(params, grads, m, v, n_weights, n_params, l2, step, beta_1,
                          beta_2, epsilon)
    else:
        return adam_double(params, grads, m, v, n_weights, n_params, l2, step, beta_1,
                           beta_2, epsilon)


cdef double sgd_step(floating* params, const floating* grads, floating* velocity,
                     Py_ssize_t n_weights, Py_ssize_t n_params, floating l2,
                     floating learning_rate, floating momentum,
                     bint nesterov) noexcept nogil:
    """g = grads + l2 w (weights only); vel = mu vel - lr g;
    p += vel, or with Nesterov p += mu vel - lr g."""
    if floating is float:
        return sgd_float(params, grads, velocity, n_weights, n_params, l2, learning_rate,
                         momentum, nesterov)
    else:
        return sgd_double(params, grads, velocity, n_weights, n_params, l2, learning_rate,
                          momentum, nesterov)


# ---- test twins -----------------------------------------------------------------

def adam_step_twin(floating[::1] params, const floating[::1] grads, floating[::1] m,
                   floating[::1] v, Py_ssize_t n_weights, double l2, double step,
                   double beta_1, double beta_2, double epsilon):
    """Test twin of :c:func:`adam_step`; all arrays (n_params,), updated in place."""
    cdef Py_ssize_t n = params.shape[0]
    if grads.shape[0] != n or m.shape[0] != n or v.shape[0] != n or not 0 <= n_weights <= n:
        raise ValueError("adam_step_twin: inconsistent lengths")
    if n == 0:
        return 0.0
    return adam_step(&params[0], &grads[0], &m[0], &v[0], n_weights, n,
                     <floating> l2, <floating> step, <floating> beta_1,
                     <floating> beta_2, <floating> epsilon)


def sgd_step_twin(floating[::1] params, const floating[::1] grads,
                  floating[::1] velocity, Py_ssize_t n_weights, double l2,
                  double learning_rate, double momentum, bint nesterov):
    """Test twin of :c:func:`sgd_step`; all arrays (n_params,), updated in place."""
    cdef Py_ssize_t n = params.shape[0]
    if grads.shape[0] != n or velocity.shape[0] != n or not 0 <= n_weights <= n:
        raise ValueError("sgd_step_twin: inconsistent lengths")
    if n == 0:
        return 0.0
    return sgd_step(&params[0], &grads[0], &velocity[0], n_weights, n,
                    <floating> l2, <floating> learning_rate, <floating> momentum,
                    nesterov)
