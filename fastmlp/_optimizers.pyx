"""Adam and SGD (momentum, Nesterov) as one fused loop over the flat parameters.

Both add the L2 gradient l2 * w to the weights' gradient on the fly (l2 = alpha / batch
size, scikit-learn's penalty) and return sum(w^2) of the weights *before* the update,
which the caller needs for the loss of the same minibatch: no separate pass.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf


cdef extern from "_simd.h" nogil:
    double sumsq_float "fastmlp_sumsq_float"(const float* x, Py_ssize_t n)
    double sumsq_double "fastmlp_sumsq_double"(const double* x, Py_ssize_t n)


cdef inline double _sumsq(const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return sumsq_float(x, n)
    else:
        return sumsq_double(x, n)


cdef double adam_step(floating* params, const floating* grads, floating* m, floating* v,
                      Py_ssize_t n_weights, Py_ssize_t n_params, floating l2,
                      floating step, floating beta_1, floating beta_2,
                      floating epsilon) noexcept nogil:
    """m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= step * m / (sqrt(v) + eps).

    step = lr * sqrt(1 - b2^t) / (1 - b1^t): the bias correction folded into one scalar.
    """
    cdef Py_ssize_t i
    cdef floating g, w
    cdef floating c1 = 1 - beta_1
    cdef floating c2 = 1 - beta_2
    cdef double sumsq = _sumsq(params, n_weights)
    for i in range(n_weights):
        w = params[i]
        g = grads[i] + l2 * w
        m[i] = beta_1 * m[i] + c1 * g
        v[i] = beta_2 * v[i] + c2 * g * g
        if floating is float:
            params[i] = w - step * m[i] / (sqrtf(v[i]) + epsilon)
        else:
            params[i] = w - step * m[i] / (sqrt(v[i]) + epsilon)
    for i in range(n_weights, n_params):
        g = grads[i]
        m[i] = beta_1 * m[i] + c1 * g
        v[i] = beta_2 * v[i] + c2 * g * g
        if floating is float:
            params[i] = params[i] - step * m[i] / (sqrtf(v[i]) + epsilon)
        else:
            params[i] = params[i] - step * m[i] / (sqrt(v[i]) + epsilon)
    return sumsq


cdef double sgd_step(floating* params, const floating* grads, floating* velocity,
                     Py_ssize_t n_weights, Py_ssize_t n_params, floating l2,
                     floating learning_rate, floating momentum,
                     bint nesterov) noexcept nogil:
    """vel = mu vel - lr g;  p += vel, or with Nesterov p += mu vel - lr g."""
    cdef Py_ssize_t i
    cdef floating g, vel
    cdef double sumsq = _sumsq(params, n_weights)
    cdef floating l2_i
    for i in range(n_params):
        # l2_i: the weights get the L2 term, the biases none (a select, so the loop
        # stays branch-free and vectorizes)
        l2_i = l2 if i < n_weights else 0
        g = grads[i] + l2_i * params[i]
        vel = momentum * velocity[i] - learning_rate * g
        velocity[i] = vel
        if nesterov:
            params[i] = params[i] + momentum * vel - learning_rate * g
        else:
            params[i] = params[i] + vel
    return sumsq


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
