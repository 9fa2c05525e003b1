"""The forward pass (gemm, then bias + activation fused) and the backward pass.

Layer i maps sizes[i] inputs to sizes[i + 1] outputs with coefs[i] (sizes[i] x
sizes[i + 1]) and intercepts[i] (sizes[i + 1],); all matrices are row-major and
hold the whole minibatch (rows x width).

The training step is shared by the `n_parts` threads of an OpenMP team. Thread
`part` owns the units [n * part // n_parts, n * (part + 1) // n_parts) of every
layer of width n (see `share`): in the forward pass it computes its units'
columns of each hidden layer for every row (so it reads, and BLAS packs, only its
columns of W_i); in the backward pass its units of layer i's input: the rows of
dW_i and W_i that belong to them, and the same columns of the previous layer's
delta (whose column sums are then the complete bias gradient). Each layer needs
every column of the one before: one barrier per layer. `forward`, which splits
rows, serves prediction and the output layer. Called outside a parallel region
with part=0, n_parts=1 they are the plain serial passes (barriers are no-ops).
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
            bias_activation(z, intercepts[i], n_rows, sizes[i + 1], sizes[i + 1],
                            out_activation, NULL, lo, 0)
        else:
            bias_activation(z, intercepts[i], n_rows, sizes[i + 1], sizes[i + 1],
                            hidden_activation, NULL if dropout == NULL else dropout + i,
                            lo, 0)
        a_in = z


cdef void forward_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                          const Py_ssize_t* sizes, const floating** coefs,
                          const floating** intercepts, const floating* a_in, floating* z,
                          int activation, const Dropout* dropout) noexcept nogil:
    """This part's units [c0, c1) of hidden layer i, every row:
    Z[:, c0:c1] = act(A_i @ W_i[:, c0:c1] + b_i[c0:c1]).

    a_in IN  (rows x sizes[i]), the layer's input; z OUT (rows x sizes[i + 1]).
    The caller puts a barrier after it: the next layer needs every column.
    """
    cdef Py_ssize_t c0, c1, n_in = sizes[i], n_out = sizes[i + 1]
    share(n_out, part, n_parts, &c0, &c1)
    if c1 <= c0 or rows <= 0:
        return
    # Z[:, c0:c1] = A_i @ W_i[:, c0:c1] : (rows x cols) = (rows x n_in) (n_in x cols)
    gemm(False, False, <int> rows, <int> (c1 - c0), <int> n_in,
         1, a_in, <int> n_in, coefs[i] + c0, <int> n_out,
         0, z + c0, <int> n_out)
    bias_activation(z + c0, intercepts[i] + c0, rows, c1 - c0, n_out, activation, dropout,
                    0, c0)


cdef void backward_layer(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                         bint weight_grad, const Py_ssize_t* sizes, const floating** coefs,
                         const floating* a_in, const floating* delta, floating* delta_prev,
                         floating* coef_grad, floating* bias_grad_prev,
                         int hidden_activation, const Dropout* dropout_prev) noexcept nogil:
    """Layer i's backward step for this part's units [j0, j1) of its input.

    a_in        IN  (rows x sizes[i]) the layer's input (x, or acts[i - 1])
    delta       IN  (rows x sizes[i + 1]) dLoss/dZ_i, every row and column
    coef_grad   OUT rows [j0, j1) of dLoss/dW_i (when weight_grad)
    delta_prev  OUT (i > 0) columns [j0, j1) of dLoss/dZ_{i-1} (rows x sizes[i]);
                NULL: not wanted
    bias_grad_prev OUT its entries [j0, j1) of dLoss/db_{i-1}: whole column sums
    dropout_prev   NULL, or the Dropout of hidden layer i - 1

    Only rows [j0, j1) of W_i are read, so once this returns the part may update
    them while the others still run theirs.
    """
    cdef Py_ssize_t j0, j1, n_in = sizes[i], n_out = sizes[i + 1]
    share(n_in, part, n_parts, &j0, &j1)
    if j1 <= j0 or rows <= 0:
        return
    if weight_grad:
        # dW_i[j0:j1] = A_i[:, j0:j1]^T @ delta : (units x n_out) = (units x rows) (rows x n_out)
        gemm(True, False, <int> (j1 - j0), <int> n_out, <int> rows,
             1, a_in + j0, <int> n_in, delta, <int> n_out,
             0, coef_grad + j0 * n_out, <int> n_out)
    if delta_prev == NULL:
        return
    # delta_prev[:, j0:j1] = delta @ W_i[j0:j1]^T : (rows x units) = (rows x n_out) (n_out x units)
    gemm(False, True, <int> rows, <int> (j1 - j0), <int> n_out,
         1, delta, <int> n_out, coefs[i] + j0 * n_out, <int> n_out,
         0, delta_prev + j0, <int> n_in)
    # delta_prev[:, j0:j1] *= act'(A_{i-1}), and its column sums: db_{i-1}[j0:j1]
    derivative_colsum(delta_prev + j0, a_in + j0, bias_grad_prev + j0, rows, j1 - j0, n_in,
                      hidden_activation, dropout_prev, 0, j0)


cdef floating* backward(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                   Py_ssize_t stop_layer, Py_ssize_t n_layers, const Py_ssize_t* sizes, const floating** coefs,
                   const floating* x, floating** acts, floating** coef_grads,
                   floating** bias_grads, floating* delta_a, floating* delta_b,
                   int hidden_activation, const Dropout* dropout) noexcept nogil:
    """Weight gradients, and the hidden bias gradients, of layers stop_layer..n_layers-1
    (see backward_layer for the share of each part).

    With stop_layer 1 (a sparse input, whose weight gradient the caller computes)
    it returns the delta of layer 0 (every row, after a barrier); with 0, NULL.

    On entry (after a barrier) acts[n_layers - 1] holds the output delta dLoss/dZ
    of every row, scaled by 1 / rows, and bias_grads[n_layers - 1] the output bias
    gradient; acts[i], i < n_layers - 1, hold the hidden layers' outputs.

    coef_grads[i]  OUT (sizes[i] x sizes[i + 1]) dLoss/dW_i
    bias_grads[i]  OUT (sizes[i + 1],) dLoss/db_i, i < n_layers - 1
    delta_a/b      scratch, each (rows x the largest hidden size), shared by the team
    dropout        NULL, or the forward pass's Dropout per hidden layer
    """
    cdef Py_ssize_t i
    cdef floating* delta = acts[n_layers - 1]
    cdef floating* delta_prev
    for i in range(n_layers - 1, stop_layer - 1, -1):
        delta_prev = NULL if i == 0 else (delta_a if delta != delta_a else delta_b)
        backward_layer(part, n_parts, rows, i, True, sizes, coefs,
                       x if i == 0 else acts[i - 1], delta, delta_prev, coef_grads[i],
                       NULL if i == 0 else bias_grads[i - 1], hidden_activation,
                       NULL if dropout == NULL or i == 0 else dropout + i - 1)
        if i == 0:
            return NULL   # no gradient with respect to the input
        team_barrier()   # the next layer reads every column of delta_prev
        delta = delta_prev
    return delta
