"""The forward pass (gemm, then bias + activation fused) and the backward pass.

Layer i maps sizes[i] inputs to sizes[i + 1] outputs with coefs[i] (sizes[i] x
sizes[i + 1]) and intercepts[i] (sizes[i + 1],); all matrices are row-major.
"""
from cython cimport floating

from fastmlp._activations cimport bias_activation, derivative_colsum
from fastmlp._blas cimport gemm


cdef void forward(Py_ssize_t rows, Py_ssize_t n_layers, const Py_ssize_t* sizes,
                  const floating** coefs, const floating** intercepts,
                  const floating* x, floating** acts,
                  int hidden_activation, int out_activation) noexcept nogil:
    """acts[i] = act(A_i @ coefs[i] + intercepts[i]) for every layer, A_0 = x.

    x       IN  (rows x sizes[0])
    acts[i] OUT (rows x sizes[i + 1]); acts[n_layers - 1] is the network's output
    """
    cdef Py_ssize_t i
    cdef const floating* a_in = x
    for i in range(n_layers):
        # Z = A_in @ W_i : (rows x n_out) = (rows x n_in) (n_in x n_out)
        gemm(False, False, <int> rows, <int> sizes[i + 1], <int> sizes[i],
             1, a_in, <int> sizes[i], coefs[i], <int> sizes[i + 1],
             0, acts[i], <int> sizes[i + 1])
        bias_activation(acts[i], intercepts[i], rows, sizes[i + 1],
                        out_activation if i == n_layers - 1 else hidden_activation)
        a_in = acts[i]


cdef void backward(Py_ssize_t rows, Py_ssize_t n_layers, const Py_ssize_t* sizes,
                   const floating** coefs, const floating* x, floating** acts,
                   floating** grads, floating* delta_a, floating* delta_b,
                   int hidden_activation) noexcept nogil:
    """All gradients but the output bias's, back from the output delta.

    acts[n_layers - 1]  IN  the output delta dLoss/dZ, already scaled by 1 / batch
                        size (the loss pass wrote it, and the output bias gradient)
    acts[i], i < n_layers - 1  IN  the hidden layers' outputs
    grads[i]            OUT (sizes[i] x sizes[i + 1]) dLoss/dW_i
    grads[n_layers + i] OUT (sizes[i + 1],) dLoss/db_i, for i < n_layers - 1
    delta_a, delta_b    scratch, each (rows x the largest hidden size)
    """
    cdef Py_ssize_t i
    cdef const floating* a_in
    cdef floating* delta = acts[n_layers - 1]
    cdef floating* delta_prev
    for i in range(n_layers - 1, -1, -1):
        a_in = x if i == 0 else acts[i - 1]
        # dW_i = A_i^T @ delta : (n_in x n_out) = (n_in x rows) (rows x n_out)
        gemm(True, False, <int> sizes[i], <int> sizes[i + 1], <int> rows,
             1, a_in, <int> sizes[i], delta, <int> sizes[i + 1],
             0, grads[i], <int> sizes[i + 1])
        if i == 0:
            break   # no gradient with respect to the input
        delta_prev = delta_a if delta != delta_a else delta_b
        # delta_prev = delta @ W_i^T : (rows x n_in) = (rows x n_out) (n_out x n_in)
        gemm(False, True, <int> rows, <int> sizes[i], <int> sizes[i + 1],
             1, delta, <int> sizes[i + 1], coefs[i], <int> sizes[i + 1],
             0, delta_prev, <int> sizes[i])
        # delta_prev *= act'(A_i), and db_{i-1} = column sums of delta_prev
        derivative_colsum(delta_prev, acts[i - 1], grads[n_layers + i - 1],
                          rows, sizes[i], hidden_activation)
        delta = delta_prev
