# Forward and backward passes through all layers of one minibatch.
from cython cimport floating

cdef void forward(Py_ssize_t rows, Py_ssize_t n_layers, const Py_ssize_t* sizes,
                  const floating** coefs, const floating** intercepts,
                  const floating* x, floating** acts,
                  int hidden_activation, int out_activation) noexcept nogil

cdef void backward(Py_ssize_t rows, Py_ssize_t n_layers, const Py_ssize_t* sizes,
                   const floating** coefs, const floating* x, floating** acts,
                   floating** grads, floating* delta_a, floating* delta_b,
                   int hidden_activation) noexcept nogil
