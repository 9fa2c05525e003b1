# Activation functions fused with the bias add (forward) and their derivatives
# fused with the bias-gradient column sum (backward). Codes match
# fastmlp/_codes.py, which maps the user's names to them.
from cython cimport floating

from fastmlp._dropout cimport Dropout

cdef enum Activation:
    IDENTITY = 0
    RELU = 1
    TANH = 2
    LOGISTIC = 3
    LEAKY_RELU = 4
    ELU = 5
    SOFTMAX = 6
    EXP = 7

cdef void bias_activation(floating* z, const floating* bias, Py_ssize_t rows,
                          Py_ssize_t cols, Py_ssize_t ld, int activation,
                          const Dropout* dropout, Py_ssize_t row0,
                          Py_ssize_t col0) noexcept nogil

cdef void derivative_colsum(floating* delta, const floating* a, floating* bias_grad,
                            Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld, int activation,
                            const Dropout* dropout, Py_ssize_t row0,
                            Py_ssize_t col0) noexcept nogil
