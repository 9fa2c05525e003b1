# One fused pass per parameter vector. The flat vector holds all weights first
# (entries [0, n_weights)), then all biases; only weights get the L2 term.
from cython cimport floating

cdef double adam_step(floating* params, const floating* grads, floating* m, floating* v,
                      Py_ssize_t n_weights, Py_ssize_t n_params, floating l2,
                      floating step, floating beta_1, floating beta_2,
                      floating epsilon) noexcept nogil

cdef double sgd_step(floating* params, const floating* grads, floating* velocity,
                     Py_ssize_t n_weights, Py_ssize_t n_params, floating l2,
                     floating learning_rate, floating momentum,
                     bint nesterov) noexcept nogil
