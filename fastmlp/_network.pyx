"""The forward pass (gemm, then bias + activation fused) and the backward pass.

Layer i maps sizes[i] inputs to sizes[i + 1] outputs with coefs[i] (sizes[i] x
sizes[i + 1]) and intercepts[i] (sizes[i + 1],); all matrices are row-major and
hold the whole minibatch (rows x width).

Both passes can be shared by the `n_parts` threads of an OpenMP team: thread
`part` owns rows [lo, hi) = [rows * part // n_parts, rows * (part + 1) // n_parts)
for everything computed row by row (the forward pass, the deltas), and the
columns [n * part // n_parts, ...) of each weight gradient, which needs every row.
Called outside a parallel region with part=0, n_parts=1, they are the plain
serial passes (the barrier is then a no-op).
"""
from cython cimport floating

from fastmlp._activations cimport bias_activation, derivative_colsum
from fastmlp._blas cimport gemm
from fastmlp._dropout cimport Dropout

cdef extern from *:
    """
    /* An orphaned barrier: binds to the innermost enclosing parallel region, and
       does nothing outside one (or in a build without OpenMP). */
    static void fastmlp_team_barrier(void) {
        _Pragma("omp barrier")
    }
    """
    void fastmlp_team_barrier() noexcept nogil


cdef void team_barrier() noexcept nogil:
    """Wait until every thread of the current OpenMP team gets here."""
    fastmlp_team_barrier()


cdef void forward(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first_layer, Py_ssize_t n_layers,
                  const Py_ssize_t* sizes, const floating** coefs,
                  const floating** intercepts, const floating* x, floating** acts,
                  int hidden_activation, int out_activation,
                  const Dropout* dropout) noexcept nogil:
    """acts[i][lo:hi] = act(A_i[lo:hi] @ coefs[i] + intercepts[i]) for layers first_layer..

    x       IN  (rows x sizes[0]); A_0 = x (first_layer 0), unused otherwise: the
                caller computed acts[first_layer - 1] (the sparse first layer)
    acts[i] OUT (rows x sizes[i + 1]); acts[n_layers - 1] is the network's output
    dropout IN  NULL, or one Dropout per hidden layer (inverted dropout after the
                activation)
    """
    cdef Py_ssize_t i, n_rows = hi - lo
    cdef const floating* a_in
    cdef floating* z
    if n_rows <= 0:
        return
    if first_layer == 0:
        a_in = x + lo * sizes[0]
    else:
        a_in = acts[first_layer - 1] + lo * sizes[first_layer]
    for i in range(first_layer, n_layers):
        z = acts[i] + lo * sizes[i + 1]
        # Z = A_in @ W_i : (n_rows x n_out) = (n_rows x n_in) (n_in x n_out)
        gemm(False, False, <int> n_rows, <int> sizes[i + 1], <int> sizes[i],
             1, a_in, <int> sizes[i], coefs[i], <int> sizes[i + 1],
             0, z, <int> sizes[i + 1])
        if i == n_layers - 1:
            bias_activation(z, intercepts[i], n_rows, sizes[i + 1], out_activation, NULL, lo)
        else:
            bias_activation(z, intercepts[i], n_rows, sizes[i + 1], hidden_activation,
                            NULL if dropout == NULL else dropout + i, lo)
        a_in = z


cdef floating* backward(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                   Py_ssize_t stop_layer, Py_ssize_t n_layers, const Py_ssize_t* sizes, const floating** coefs,
                   const floating* x, floating** acts, floating** coef_grads,
                   floating** bias_grads, floating* delta_a, floating* delta_b,
                   int hidden_activation, const Dropout* dropout) noexcept nogil:
    """Weight gradients, and this part's share of the hidden bias gradients, of
    layers stop_layer..n_layers-1.

    With stop_layer 1 (a sparse input, whose weight gradient the caller computes)
    it returns the delta of layer 0 (every row, after a barrier); with 0, NULL.

    On entry (after a barrier) acts[n_layers - 1] holds the output delta dLoss/dZ
    of every row, scaled by 1 / rows, and the loss pass wrote the output bias
    gradient; acts[i], i < n_layers - 1, hold the hidden layers' outputs.

    coef_grads[i]  OUT (sizes[i] x sizes[i + 1]) dLoss/dW_i; this part writes its columns
    bias_grads[i]  OUT (sizes[i + 1],) this part's rows' share of dLoss/db_i, i < n_layers - 1
    delta_a/b      scratch, each (rows x the largest hidden size), shared by the team
    dropout        NULL, or the forward pass's Dropout per hidden layer
    """
    cdef Py_ssize_t i, c0, c1, n_in, n_out
    cdef Py_ssize_t lo = rows * part // n_parts, hi = rows * (part + 1) // n_parts
    cdef const floating* a_in
    cdef floating* delta = acts[n_layers - 1]
    cdef floating* delta_prev
    for i in range(n_layers - 1, stop_layer - 1, -1):
        n_in, n_out = sizes[i], sizes[i + 1]
        a_in = x if i == 0 else acts[i - 1]
        c0, c1 = n_out * part // n_parts, n_out * (part + 1) // n_parts
        if c1 > c0:
            # dW_i[:, c0:c1] = A_i^T @ delta[:, c0:c1] : (n_in x cols) = (n_in x rows) (rows x cols)
            gemm(True, False, <int> n_in, <int> (c1 - c0), <int> rows,
                 1, a_in, <int> n_in, delta + c0, <int> n_out,
                 0, coef_grads[i] + c0, <int> n_out)
        if i == 0:
            return NULL   # no gradient with respect to the input
        delta_prev = delta_a if delta != delta_a else delta_b
        if hi > lo:
            # delta_prev[lo:hi] = delta[lo:hi] @ W_i^T : (part x n_in) = (part x n_out) (n_out x n_in)
            gemm(False, True, <int> (hi - lo), <int> n_in, <int> n_out,
                 1, delta + lo * n_out, <int> n_out, coefs[i], <int> n_out,
                 0, delta_prev + lo * n_in, <int> n_in)
            # delta_prev *= act'(A_i), and this part's share of db_{i-1}
            derivative_colsum(delta_prev + lo * n_in, acts[i - 1] + lo * n_in,
                              bias_grads[i - 1], hi - lo, n_in, hidden_activation,
                              NULL if dropout == NULL else dropout + i - 1, lo)
        team_barrier()   # the next layer's weight gradient reads every row of delta_prev
        delta = delta_prev
    return delta
