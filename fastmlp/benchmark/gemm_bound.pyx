"""The gemm-only bound: the matrix products of one training epoch, timed alone.

Per minibatch and layer i: Z = A_i W_i forward; dW_i = A_i^T delta_{i+1} and
(but for the first layer) delta_i = delta_{i+1} W_i^T backward, through the
same BLAS and its own threading. No implementation calling this BLAS can train
an epoch faster; benchmarks report every contender as a ratio to it.
"""
from cython cimport floating

from fastmlp._kernels.blas cimport gemm


def scratch_length(const Py_ssize_t[::1] sizes, Py_ssize_t batch_size):
    """Scratch for gemm_epoch: W_i and dW_i per layer, A_i and delta_i per width."""
    cdef Py_ssize_t i, total = 0
    for i in range(sizes.shape[0] - 1):
        total += 2 * sizes[i] * sizes[i + 1]
    for i in range(sizes.shape[0]):
        total += 2 * batch_size * sizes[i]
    return total


def gemm_epoch(floating[::1] scratch,          # scratch_length(sizes, batch_size), any values
               const Py_ssize_t[::1] sizes,    # layer widths, input first
               Py_ssize_t n_samples, Py_ssize_t batch_size):
    """Run the gemms of one epoch of n_samples in minibatches (the caller times it)."""
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef Py_ssize_t i, rows, start = 0
    cdef floating* W[64]
    cdef floating* dW[64]
    cdef floating* A[65]
    cdef floating* D[65]
    cdef floating* cursor = &scratch[0]
    if n_layers > 64:
        raise ValueError("at most 64 layers")
    for i in range(n_layers):
        W[i] = cursor
        cursor += sizes[i] * sizes[i + 1]
        dW[i] = cursor
        cursor += sizes[i] * sizes[i + 1]
    for i in range(n_layers + 1):
        A[i] = cursor
        cursor += batch_size * sizes[i]
        D[i] = cursor
        cursor += batch_size * sizes[i]
    with nogil:
        while start < n_samples:
            rows = min(batch_size, n_samples - start)
            start += rows
            for i in range(n_layers):
                # Z = A_i @ W_i : (rows x n_out) = (rows x n_in) (n_in x n_out)
                gemm(False, False, <int> rows, <int> sizes[i + 1], <int> sizes[i], 1, A[i],
                     <int> sizes[i], W[i], <int> sizes[i + 1], 0, A[i + 1], <int> sizes[i + 1])
            for i in range(n_layers - 1, -1, -1):
                # dW_i = A_i^T @ delta : (n_in x n_out) = (n_in x rows) (rows x n_out)
                gemm(True, False, <int> sizes[i], <int> sizes[i + 1], <int> rows, 1, A[i],
                     <int> sizes[i], D[i + 1], <int> sizes[i + 1], 0, dW[i],
                     <int> sizes[i + 1])
                if i > 0:
                    # delta_i = delta @ W_i^T : (rows x n_in) = (rows x n_out) (n_out x n_in)
                    gemm(False, True, <int> rows, <int> sizes[i], <int> sizes[i + 1], 1,
                         D[i + 1], <int> sizes[i + 1], W[i], <int> sizes[i + 1], 0, D[i],
                         <int> sizes[i])
