"""One layer forward (gemm, then bias + activation fused) or backward, for one part
of a thread team (see team.pxd).

A layer maps n_in inputs to n_out outputs with W (n_in x n_out) and b (n_out,); all
matrices are row-major and hold the whole minibatch (rows x width). A team computes
the units of a hidden layer in one of two ways (`team.sums_terms` picks):
- by columns (`forward_columns`): each part its columns of W, every row of them;
- as a sum of terms: each part multiplies its columns of the layer's input by its
  own rows of W (`forward_partial`, a term of every output), and after a barrier adds
  up the parts' terms for its units (`reduce_columns`). Then no row of W, and no
  column of the input, moves between cores: a core writing a cache line that another
  core has read waits for it, which is what the update of W would do after the other
  core read it by columns.
In the backward pass a part computes its rows of dW (`backward_layer`) and the same
columns of the previous layer's delta. `forward_rows`, which splits rows, serves
prediction and the output layer. With part=0, n_parts=1 these are the plain serial
passes.
"""
from cython cimport floating
from libc.string cimport memset

import numpy as np

from fastmlp._kernels.activations cimport bias_activation, derivative_colsum
from fastmlp._kernels.blas cimport gemm
from fastmlp._kernels.dropout cimport Dropout
from fastmlp._kernels.team cimport share


cdef void forward_rows(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first_layer,
                       Py_ssize_t n_layers, const Py_ssize_t* sizes, const floating** coefs,
                       const floating** intercepts, const floating* a_in, floating** acts,
                       int hidden_activation, int out_activation) noexcept nogil:
    """acts[i][lo:hi] = act(A_i[lo:hi] @ coefs[i] + intercepts[i]) for the layers from
    first_layer on.

    a_in    IN  the first of these layers' input, (>= hi rows x sizes[first_layer])
    acts[i] OUT (>= hi rows x sizes[i + 1]); acts[n_layers - 1] is the network's output
    """
    cdef Py_ssize_t i, rows = hi - lo
    cdef floating* z
    if rows <= 0:
        return
    a_in = a_in + lo * sizes[first_layer]
    for i in range(first_layer, n_layers):
        z = acts[i] + lo * sizes[i + 1]
        # Z = A_in @ W_i : (rows x n_out) = (rows x n_in) (n_in x n_out)
        gemm(False, False, <int> rows, <int> sizes[i + 1], <int> sizes[i],
             1, a_in, <int> sizes[i], coefs[i], <int> sizes[i + 1],
             0, z, <int> sizes[i + 1])
        bias_activation(z, <floating*> NULL, intercepts[i], rows, sizes[i + 1], sizes[i + 1],
                        out_activation if i == n_layers - 1 else hidden_activation, NULL,
                        0, 0)
        a_in = z


cdef void forward_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                          Py_ssize_t n_in, Py_ssize_t n_out, const floating* W,
                          const floating* b, const floating* a_in, floating* out,
                          floating* preact, int activation,
                          const Dropout* dropout) noexcept nogil:
    """This part's units [c0, c1) of a hidden layer, every row:
    out[:, c0:c1] = act(A_in @ W[:, c0:c1] + b[c0:c1]).

    a_in   IN  (rows x n_in), the layer's input
    out    OUT (rows x n_out); preact OUT NULL, or z (rows x n_out) for the derivative
    The caller puts a barrier after it: the next layer needs every column.
    """
    cdef Py_ssize_t c0, c1
    share(n_out, part, n_parts, &c0, &c1)
    if c1 <= c0 or rows <= 0:
        return
    # out[:, c0:c1] = A_in @ W[:, c0:c1] : (rows x cols) = (rows x n_in) (n_in x cols)
    gemm(False, False, <int> rows, <int> (c1 - c0), <int> n_in,
         1, a_in, <int> n_in, W + c0, <int> n_out,
         0, out + c0, <int> n_out)
    bias_activation(out + c0, NULL if preact == NULL else preact + c0, b + c0, rows,
                    c1 - c0, n_out, activation, dropout, 0, c0)


cdef void forward_partial(Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                          Py_ssize_t j0, Py_ssize_t j1, const floating* W,
                          const floating* a_in, floating* term) noexcept nogil:
    """A part's term of a hidden layer, from its units [j0, j1) of the layer's input:
    T = A_in[:, j0:j1] @ W[j0:j1, :].

    a_in IN  (rows x n_in), the layer's input; only columns [j0, j1) are read, which
             this part wrote itself (gathered, or its units of the layer before)
    term OUT (rows x n_out); zeros when the part has no input unit
    """
    if rows <= 0:
        return
    if j1 <= j0:   # a layer narrower than the team (rare): add nothing
        memset(term, 0, rows * n_out * sizeof(floating))
        return
    # T = A_in[:, j0:j1] @ W[j0:j1] : (rows x n_out) = (rows x units) (units x n_out)
    gemm(False, False, <int> rows, <int> n_out, <int> (j1 - j0),
         1, a_in + j0, <int> n_in, W + j0 * n_out, <int> n_out,
         0, term, <int> n_out)


cdef void reduce_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                         Py_ssize_t n_out, const floating* b, const floating* terms,
                         Py_ssize_t term_stride, floating* out, floating* preact,
                         int activation, const Dropout* dropout) noexcept nogil:
    """This part's units [c0, c1) of a hidden layer, every row:
    out[:, c0:c1] = act(sum over parts p of T_p[:, c0:c1] + b[c0:c1]).

    terms IN  part p's term (see forward_partial) at terms + p * term_stride, after
              a barrier
    out   OUT (rows x n_out); preact OUT NULL, or z (rows x n_out)
    The parts' terms are added in part order, so one thread playing the team gets
    the same bits.
    """
    cdef Py_ssize_t c0, c1, p, r, c
    cdef floating* out_row
    cdef const floating* t_row
    share(n_out, part, n_parts, &c0, &c1)
    if c1 <= c0 or rows <= 0:
        return
    for r in range(rows):
        out_row = out + r * n_out
        t_row = terms + r * n_out
        for c in range(c0, c1):
            out_row[c] = t_row[c]
        for p in range(1, n_parts):
            t_row = terms + p * term_stride + r * n_out
            for c in range(c0, c1):
                out_row[c] += t_row[c]
    bias_activation(out + c0, NULL if preact == NULL else preact + c0, b + c0, rows,
                    c1 - c0, n_out, activation, dropout, 0, c0)


cdef void backward_layer(Py_ssize_t rows, Py_ssize_t n_in, Py_ssize_t n_out,
                         Py_ssize_t j0, Py_ssize_t j1, const floating* W,
                         const floating* a_in, const floating* delta, floating* coef_grad,
                         floating* delta_prev, const floating* preact_prev,
                         floating* bias_grad_prev, int activation_prev,
                         const Dropout* dropout_prev) noexcept nogil:
    """A layer's backward step for a part's units [j0, j1) of its input.

    a_in        IN  (rows x n_in) the layer's input: X, or the layer before's output
    delta       IN  (rows x n_out) dLoss/dZ of this layer, every row and column
    coef_grad   OUT rows [j0, j1) of dLoss/dW
    delta_prev  OUT columns [j0, j1) of dLoss/dZ of the layer before (rows x n_in);
                NULL for the first layer: no gradient with respect to X
    preact_prev IN  the layer before's z (rows x n_in) if its derivative reads it
    bias_grad_prev OUT entries [j0, j1) of dLoss/db of the layer before: whole
                column sums
    dropout_prev   IN NULL, or the layer before's Dropout

    Only rows [j0, j1) of W are read, so once this returns the part may update them
    while the others still run theirs.
    """
    if j1 <= j0 or rows <= 0:
        return
    # dW[j0:j1] = A_in[:, j0:j1]^T @ delta : (units x n_out) = (units x rows) (rows x n_out)
    gemm(True, False, <int> (j1 - j0), <int> n_out, <int> rows,
         1, a_in + j0, <int> n_in, delta, <int> n_out,
         0, coef_grad + j0 * n_out, <int> n_out)
    if delta_prev == NULL:
        return
    # delta_prev[:, j0:j1] = delta @ W[j0:j1]^T : (rows x units) = (rows x n_out) (n_out x units)
    gemm(False, True, <int> rows, <int> (j1 - j0), <int> n_out,
         1, delta, <int> n_out, W + j0 * n_out, <int> n_out,
         0, delta_prev + j0, <int> n_in)
    # delta_prev[:, j0:j1] *= act'(Z_prev), and its column sums: db_prev[j0:j1]
    derivative_colsum(delta_prev + j0, a_in + j0,
                      NULL if preact_prev == NULL else preact_prev + j0,
                      bias_grad_prev + j0, rows, j1 - j0, n_in, activation_prev,
                      dropout_prev, 0, j0)


# ---- test twins ---------------------------------------------------------------------

def _check_layer(a_in, W, b, out, preact=None):
    """ValueError unless A_in (rows x n_in), W (n_in x n_out), b (n_out,) and out (rows x
    n_out) chain, and a given preact has out's shape."""
    if (W.shape[0] != a_in.shape[1] or b.shape[0] != W.shape[1]
            or out.shape[0] != a_in.shape[0] or out.shape[1] != W.shape[1]
            or (preact is not None and tuple(preact.shape) != tuple(out.shape))):
        raise ValueError("a_in, W, b, out and preact shapes disagree")


def forward_columns_twin(Py_ssize_t part, Py_ssize_t n_parts,
                         const floating[:, ::1] a_in,      # IN (rows x n_in)
                         const floating[:, ::1] W,         # IN (n_in x n_out)
                         const floating[::1] b,            # IN (n_out,)
                         floating[:, ::1] out,             # OUT (rows x n_out), part's columns
                         int activation,
                         floating[:, ::1] preact=None):    # OUT like out, or None
    """Test twin of :c:func:`forward_columns`: one part's units of the layer."""
    _check_layer(a_in, W, b, out, preact)
    if not 0 <= part < n_parts:
        raise ValueError("need 0 <= part < n_parts")
    with nogil:
        forward_columns(part, n_parts, a_in.shape[0], W.shape[0], W.shape[1], &W[0, 0], &b[0],
                        &a_in[0, 0], &out[0, 0], NULL if preact is None else &preact[0, 0],
                        activation, NULL)


def forward_terms_twin(Py_ssize_t n_parts,
                       const floating[:, ::1] a_in,        # IN (rows x n_in)
                       const floating[:, ::1] W,           # IN (n_in x n_out)
                       const floating[::1] b,              # IN (n_out,)
                       floating[:, ::1] out,               # OUT (rows x n_out)
                       int activation):
    """Test twins of :c:func:`forward_partial` and :c:func:`reduce_columns`: every part's
    term, from its share of the inputs, then every part's units of their sum."""
    _check_layer(a_in, W, b, out)
    cdef Py_ssize_t part, j0, j1, rows = a_in.shape[0], n_in = W.shape[0], n_out = W.shape[1]
    cdef floating[:, ::1] terms = np.full((n_parts, rows * n_out), np.nan,
                                          dtype=np.asarray(out).dtype)
    with nogil:
        for part in range(n_parts):
            share(n_in, part, n_parts, &j0, &j1)
            forward_partial(rows, n_in, n_out, j0, j1, &W[0, 0], &a_in[0, 0], &terms[part, 0])
        for part in range(n_parts):
            reduce_columns(part, n_parts, rows, n_out, &b[0], &terms[0, 0], rows * n_out,
                           &out[0, 0], NULL, activation, NULL)


def backward_layer_twin(Py_ssize_t j0, Py_ssize_t j1,
                        const floating[:, ::1] a_in,       # IN (rows x n_in)
                        const floating[:, ::1] W,          # IN (n_in x n_out)
                        const floating[:, ::1] delta,      # IN (rows x n_out)
                        floating[:, ::1] coef_grad,        # OUT rows [j0, j1) (n_in x n_out)
                        floating[:, ::1] delta_prev,       # OUT columns [j0, j1), or None
                        floating[::1] bias_grad_prev,      # OUT entries [j0, j1) (n_in,)
                        int activation_prev,
                        const floating[:, ::1] preact_prev=None):   # IN (rows x n_in) or None
    """Test twin of :c:func:`backward_layer` for the input units [j0, j1)."""
    cdef Py_ssize_t rows = a_in.shape[0], n_in = W.shape[0], n_out = W.shape[1]
    if (a_in.shape[1] != n_in or delta.shape[0] != rows or delta.shape[1] != n_out
            or coef_grad.shape[0] != n_in or coef_grad.shape[1] != n_out
            or bias_grad_prev.shape[0] != n_in
            or (delta_prev is not None and (delta_prev.shape[0] != rows
                                            or delta_prev.shape[1] != n_in))
            or (preact_prev is not None and (preact_prev.shape[0] != rows
                                             or preact_prev.shape[1] != n_in))):
        raise ValueError("a_in, W, delta, coef_grad, delta_prev, preact_prev and "
                         "bias_grad_prev shapes disagree")
    if not 0 <= j0 <= j1 <= n_in:
        raise ValueError("need 0 <= j0 <= j1 <= n_in")
    with nogil:
        backward_layer(rows, n_in, n_out, j0, j1, &W[0, 0], &a_in[0, 0], &delta[0, 0],
                       &coef_grad[0, 0], NULL if delta_prev is None else &delta_prev[0, 0],
                       NULL if preact_prev is None else &preact_prev[0, 0],
                       &bias_grad_prev[0], activation_prev, NULL)
