# One layer forward or backward, for one part of a thread team (see layers.pyx).
from cython cimport floating

from fastmlp._kernels.dropout cimport Dropout

cdef void forward_rows(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first_layer,
                       Py_ssize_t n_layers, const Py_ssize_t* sizes, const floating** coefs,
                       const floating** intercepts, const floating* a_in, floating** acts,
                       int hidden_activation, int out_activation) noexcept nogil

cdef void forward_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                          Py_ssize_t n_in, Py_ssize_t n_out, const floating* W,
                          const floating* b, const floating* a_in, floating* out,
                          floating* preact, int activation,
                          const Dropout* dropout) noexcept nogil

cdef void forward_partial(Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                          Py_ssize_t j0, Py_ssize_t j1, const floating* W,
                          const floating* a_in, floating* term) noexcept nogil

cdef void reduce_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                         Py_ssize_t n_out, const floating* b, const floating* terms,
                         Py_ssize_t term_stride, floating* out, floating* preact,
                         int activation, const Dropout* dropout) noexcept nogil

cdef void backward_layer(Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                         Py_ssize_t j0, Py_ssize_t j1, const floating* W,
                         const floating* a_in, const floating* delta, floating* coef_grad,
                         floating* delta_prev, const floating* preact_prev,
                         floating* bias_grad_prev, int activation_prev,
                         const Dropout* dropout_prev) noexcept nogil
