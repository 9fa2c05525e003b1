# Forward and backward passes through all layers of one minibatch, shareable
# among the threads of an OpenMP team (see _network.pyx).
from cython cimport floating

from fastmlp._dropout cimport Dropout

cdef void forward(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first_layer, Py_ssize_t n_layers,
                  const Py_ssize_t* sizes, const floating** coefs,
                  const floating** intercepts, const floating* x, floating** acts,
                  int hidden_activation, int out_activation,
                  const Dropout* dropout) noexcept nogil

cdef inline void share(Py_ssize_t n, Py_ssize_t part, Py_ssize_t n_parts,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the part of range(n) that thread `part` of `n_parts` owns."""
    lo[0] = n * part // n_parts
    hi[0] = n * (part + 1) // n_parts

cdef void forward_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                          const Py_ssize_t* sizes, const floating** coefs,
                          const floating** intercepts, const floating* a_in, floating* z,
                          int activation, const Dropout* dropout) noexcept nogil

cdef void backward_layer(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                         bint weight_grad, const Py_ssize_t* sizes, const floating** coefs,
                         const floating* a_in, const floating* delta, floating* delta_prev,
                         floating* coef_grad, floating* bias_grad_prev,
                         int hidden_activation, const Dropout* dropout_prev) noexcept nogil

cdef floating* backward(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                   Py_ssize_t stop_layer, Py_ssize_t n_layers, const Py_ssize_t* sizes, const floating** coefs,
                   const floating* x, floating** acts, floating** coef_grads,
                   floating** bias_grads, floating* delta_a, floating* delta_b,
                   int hidden_activation, const Dropout* dropout) noexcept nogil

cdef void team_barrier() noexcept nogil
