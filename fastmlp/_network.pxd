# Forward and backward passes through all layers of one minibatch, shareable
# among the threads of an OpenMP team (see _network.pyx).
from cython cimport floating

from fastmlp._dropout cimport Dropout

cdef void forward(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first_layer, Py_ssize_t n_layers,
                  const Py_ssize_t* sizes, const floating** coefs,
                  const floating** intercepts, const floating* x, floating** acts,
                  int hidden_activation, int out_activation,
                  const Dropout* dropout) noexcept nogil

cdef floating* backward(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                   Py_ssize_t stop_layer, Py_ssize_t n_layers, const Py_ssize_t* sizes, const floating** coefs,
                   const floating* x, floating** acts, floating** coef_grads,
                   floating** bias_grads, floating* delta_a, floating* delta_b,
                   int hidden_activation, const Dropout* dropout) noexcept nogil

cdef void team_barrier() noexcept nogil
