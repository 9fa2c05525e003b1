"""The forward pass (gemm, then bias + activation fused) and the backward pass.

Layer i maps sizes[i] inputs to sizes[i + 1] outputs with coefs[i] (sizes[i] x
sizes[i + 1]) and intercepts[i] (sizes[i + 1],); all matrices are row-major and
hold the whole minibatch (rows x width).

The training step is shared by the `n_parts` threads of an OpenMP team. Thread
`part` owns the units [n * part // n_parts, n * (part + 1) // n_parts) of every
layer of width n (see `share`; the gathered input's on multiples of 8 units, see
`share_inputs`), and with them the rows of W_i that read them. In the backward
pass it computes its rows of dW_i, updates them, and computes the same columns of
the previous layer's delta (whose column sums are then the complete bias gradient).
In the forward pass it computes its units' columns of each hidden layer, in one of
two ways (`sums_terms` picks):
- by columns (`forward_columns`): its columns of W_i, every row of them;
- as a sum of terms: it multiplies its columns of the layer's input by its own rows
  of W_i (`forward_partial`, a term of every output), and after a barrier adds up
  the parts' terms for its units (`reduce_columns`). Then no row of W_i, and no
  column of the input, moves between cores. A core writing a cache line that
  another core has read waits for it (about 7x a local write here), which is what
  the update of W_i does after the other core read it by columns, as long as that
  core's cache still holds it.
One barrier per layer. `forward`, which splits rows, serves prediction and the
output layer. Called outside a parallel region with part=0, n_parts=1 they are the
plain serial passes (barriers are no-ops).
"""
from cython cimport floating
from libc.string cimport memset

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


cdef void forward_partial(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                          const Py_ssize_t* sizes, const floating** coefs,
                          const floating* a_in, floating* term) noexcept nogil:
    """This part's term of hidden layer i, from its units [j0, j1) of the layer's input:
    T = A_i[:, j0:j1] @ W_i[j0:j1, :].

    a_in IN  (rows x sizes[i]), the layer's input; only columns [j0, j1) are read,
             which this part wrote itself (gathered, or its units of layer i - 1)
    term OUT (rows x sizes[i + 1]); zeros when the part has no input unit
    """
    cdef Py_ssize_t j0, j1, n_in = sizes[i], n_out = sizes[i + 1]
    share_inputs(i, sizes, part, n_parts, &j0, &j1)
    if rows <= 0:
        return
    if j1 <= j0:   # a layer narrower than the team (rare): add nothing
        memset(term, 0, rows * n_out * sizeof(floating))
        return
    # T = A_i[:, j0:j1] @ W_i[j0:j1] : (rows x n_out) = (rows x units) (units x n_out)
    gemm(False, False, <int> rows, <int> n_out, <int> (j1 - j0),
         1, a_in + j0, <int> n_in, coefs[i] + j0 * n_out, <int> n_out,
         0, term, <int> n_out)


cdef void reduce_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                         const Py_ssize_t* sizes, const floating** intercepts,
                         const floating* terms, Py_ssize_t term_stride, floating* z,
                         int activation, const Dropout* dropout) noexcept nogil:
    """This part's units [c0, c1) of hidden layer i, every row:
    Z[:, c0:c1] = act(sum over parts p of T_p[:, c0:c1] + b_i[c0:c1]).

    terms IN  part p's term (see forward_partial) at terms + p * term_stride, after
              a barrier
    z     OUT (rows x sizes[i + 1])
    The parts' terms are added in part order, so one thread playing the team gets
    the same bits.
    """
    cdef Py_ssize_t c0, c1, p, r, c, n_out = sizes[i + 1]
    cdef floating* z_row
    cdef const floating* t_row
    share(n_out, part, n_parts, &c0, &c1)
    if c1 <= c0 or rows <= 0:
        return
    for r in range(rows):
        z_row = z + r * n_out
        t_row = terms + r * n_out
        for c in range(c0, c1):
            z_row[c] = t_row[c]
        for p in range(1, n_parts):
            t_row = terms + p * term_stride + r * n_out
            for c in range(c0, c1):
                z_row[c] += t_row[c]
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
    share_inputs(i, sizes, part, n_parts, &j0, &j1)
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


def hidden_layer_ways(const Py_ssize_t[::1] sizes, Py_ssize_t n_parts, Py_ssize_t itemsize):
    """Test twin of sums_terms: "terms" or "columns" for each hidden layer of a
    network of these widths (input first), shared by n_parts threads."""
    return ["terms" if sums_terms(i, &sizes[0], n_parts, itemsize) else "columns"
            for i in range(sizes.shape[0] - 2)]


def input_shares(const Py_ssize_t[::1] sizes, Py_ssize_t i, Py_ssize_t n_parts):
    """Test twin of share_inputs: [(lo, hi) of each part] of layer i's input units."""
    cdef Py_ssize_t part, lo, hi
    shares = []
    for part in range(n_parts):
        share_inputs(i, &sizes[0], part, n_parts, &lo, &hi)
        shares.append((lo, hi))
    return shares
