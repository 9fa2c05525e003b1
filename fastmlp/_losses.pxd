# Losses fused with their output-layer gradient. Codes match fastmlp/_codes.py.
from cython cimport floating

cdef enum Loss:
    SQUARED_ERROR = 0     # identity output:  0.5 * mean over outputs of (p - y)^2
    LOG_LOSS = 1          # softmax output:   -sum_k y_k log p_k
    BINARY_LOG_LOSS = 2   # logistic output:  -sum_k y_k log p_k + (1 - y_k) log(1 - p_k)
    POISSON = 3           # exp output:       sum_k y_k log(y_k / p_k) - y_k + p_k

cdef double loss_delta(floating* out, const floating* y, const floating* weights,
                       floating* bias_grad, Py_ssize_t rows, Py_ssize_t cols, int loss,
                       double scale) noexcept nogil
