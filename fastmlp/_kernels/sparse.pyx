"""The first layer's two products on a CSR matrix, rows taken in a minibatch's order.

A minibatch is the rows order[0], order[1], ... of X (n_samples x n_features, CSR);
its r-th sample is CSR row order[r]. Nothing densifies X: the forward pass adds,
for each stored entry (j, v) of a row, v times row j of W to that sample's output
row, and the weight gradient scatters v times the sample's delta row into row j of
dW. Both inner loops run over contiguous output columns (axpy), which gcc
vectorizes; duplicate entries (j, v1), (j, v2) simply add up, as in toarray(), and
the order of the indices within a row does not matter.

The row/column split is the one of _network: a thread computes the forward rows
[lo, hi) it owns, and the weight-gradient columns [c0, c1) it owns (which need every
row of the minibatch), so threads never write the same memory.
"""
import numpy as np
import scipy.sparse

from cython cimport floating


cdef void csr_rows_matmul(const index_t* indptr, const index_t* indices,
                          const floating* data, const Py_ssize_t* order,
                          Py_ssize_t lo, Py_ssize_t hi, const floating* W,
                          Py_ssize_t n_out, floating* Z) noexcept nogil:
    """Z[r, :] = sum_{(j, v) in X[order[r]]} v W[j, :] for r in [lo, hi), i.e. Z = X[order] @ W.

    indptr, indices, data  IN  CSR arrays of X (n_samples x n_features)
    order                  IN  (>= hi,) CSR row of each minibatch row
    W                      IN  (n_features x n_out), row-major
    Z                      OUT (>= hi x n_out), row-major; rows [lo, hi) overwritten,
                               the others untouched
    """
    cdef Py_ssize_t r, k, c, start, end
    cdef floating v
    cdef floating* z
    cdef const floating* w
    if n_out <= 0:
        return
    for r in range(lo, hi):
        z = Z + r * n_out
        start = <Py_ssize_t> indptr[order[r]]
        end = <Py_ssize_t> indptr[order[r] + 1]
        if start == end:
            for c in range(n_out):
                z[c] = 0
            continue
        # The first entry assigns, so Z needs no zeroing pass of its own.
        v = data[start]
        w = W + <Py_ssize_t> indices[start] * n_out
        for c in range(n_out):
            z[c] = v * w[c]
        for k in range(start + 1, end):
            v = data[k]
            w = W + <Py_ssize_t> indices[k] * n_out
            for c in range(n_out):
                z[c] = z[c] + v * w[c]


cdef void csr_rows_transpose_matmul(const index_t* indptr, const index_t* indices,
                                    const floating* data, const Py_ssize_t* order,
                                    Py_ssize_t rows, const floating* delta,
                                    Py_ssize_t n_features, Py_ssize_t n_out,
                                    Py_ssize_t c0, Py_ssize_t c1,
                                    floating* dW) noexcept nogil:
    """dW[:, c0:c1] = X[order[:rows]]^T @ delta[:, c0:c1] (zeroed first, then scatter-added).

    indptr, indices, data  IN  CSR arrays of X (n_samples x n_features)
    order                  IN  (>= rows,) CSR row of each minibatch row
    delta                  IN  (>= rows x n_out), row-major
    dW                     OUT (n_features x n_out), row-major; columns [c0, c1) of
                               every row written, the other columns untouched
    """
    cdef Py_ssize_t r, k, c, j, start, end, cols = c1 - c0
    cdef floating v
    cdef floating* g
    cdef const floating* d
    if cols <= 0:
        return
    # Features no sample of the minibatch uses get no scatter: zero the whole slice.
    for j in range(n_features):
        g = dW + j * n_out + c0
        for c in range(cols):
            g[c] = 0
    for r in range(rows):
        d = delta + r * n_out + c0
        start = <Py_ssize_t> indptr[order[r]]
        end = <Py_ssize_t> indptr[order[r] + 1]
        for k in range(start, end):
            v = data[k]
            g = dW + <Py_ssize_t> indices[k] * n_out + c0
            for c in range(cols):
                g[c] = g[c] + v * d[c]


# ---- the view the training step holds ------------------------------------------

def _addresses(const index_t[::1] indptr, const index_t[::1] indices,
               const floating[::1] data):
    """The arrays' addresses (0 for an empty one, never read then), and whether the
    index type is int64."""
    return (<size_t> &indptr[0], <size_t> &indices[0] if indices.shape[0] else 0,
            <size_t> &data[0] if data.shape[0] else 0, sizeof(index_t) == 8)


cdef CsrMatrix csr_view(X) except *:
    cdef CsrMatrix view
    indptr, indices, data, wide = _addresses(X.indptr, X.indices, X.data)
    view.indptr = <const void*> <size_t> indptr
    view.indices = <const void*> <size_t> indices
    view.data = <const void*> <size_t> data
    view.wide = wide
    return view


cdef void csr_matmul(const CsrMatrix* X, const Py_ssize_t* order, Py_ssize_t lo,
                     Py_ssize_t hi, const floating* W, Py_ssize_t n_out,
                     floating* Z) noexcept nogil:
    if X.wide:
        csr_rows_matmul(<const long long*> X.indptr, <const long long*> X.indices,
                        <const floating*> X.data, order, lo, hi, W, n_out, Z)
    else:
        csr_rows_matmul(<const int*> X.indptr, <const int*> X.indices,
                        <const floating*> X.data, order, lo, hi, W, n_out, Z)


cdef void csr_transpose_matmul(const CsrMatrix* X, const Py_ssize_t* order,
                               Py_ssize_t rows, const floating* delta,
                               Py_ssize_t n_features, Py_ssize_t n_out, Py_ssize_t c0,
                               Py_ssize_t c1, floating* dW) noexcept nogil:
    if X.wide:
        csr_rows_transpose_matmul(<const long long*> X.indptr, <const long long*> X.indices,
                                  <const floating*> X.data, order, rows, delta,
                                  n_features, n_out, c0, c1, dW)
    else:
        csr_rows_transpose_matmul(<const int*> X.indptr, <const int*> X.indices,
                                  <const floating*> X.data, order, rows, delta,
                                  n_features, n_out, c0, c1, dW)


# ---- test twins -----------------------------------------------------------------

def _csr_arrays(X, W):
    """(indptr, indices, data) of the CSR matrix X, checked against the dense operand W.

    TypeError when X is not CSR or a dtype is unsupported or differs from W's;
    ValueError when the CSR structure is inconsistent or W is not C-contiguous.
    """
    if not scipy.sparse.issparse(X) or X.format != "csr":
        raise TypeError(f"X must be a scipy.sparse CSR matrix or array, got {type(X).__name__}")
    if not isinstance(W, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(W).__name__}")
    if X.data.dtype not in (np.float32, np.float64) or X.data.dtype != W.dtype:
        raise TypeError(f"X.data ({X.data.dtype}) and the dense arrays ({W.dtype}) must "
                        "share one dtype, float32 or float64")
    if X.indptr.dtype not in (np.int32, np.int64) or X.indices.dtype != X.indptr.dtype:
        raise TypeError(f"indptr ({X.indptr.dtype}) and indices ({X.indices.dtype}) must "
                        "share one dtype, int32 or int64")
    n_samples, n_features = X.shape
    indptr, indices, data = X.indptr, X.indices, X.data
    if (indptr.ndim != 1 or indptr.shape[0] != n_samples + 1 or indptr[0] != 0
            or np.any(np.diff(indptr) < 0)
            or indptr[n_samples] > min(indices.shape[0], data.shape[0])):
        raise ValueError("X has an inconsistent CSR structure (indptr)")
    nnz = indptr[n_samples]
    if nnz and (indices[:nnz].min() < 0 or indices[:nnz].max() >= n_features):
        raise ValueError("X has column indices out of range")
    # 1-D index and data arrays are contiguous in any CSR scipy builds; these copy
    # only exotic strided inputs.
    return (np.ascontiguousarray(indptr), np.ascontiguousarray(indices),
            np.ascontiguousarray(data))


def _check_dense(name, a, dtype):
    """a must be a 2-D C-contiguous ndarray of dtype (never copied: it may be an output)."""
    if not isinstance(a, np.ndarray) or a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D numpy array")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")


def _check_order(order, lo, hi, n_samples):
    """order as a contiguous intp array; order[lo:hi] must name rows of X."""
    order = np.asarray(order)
    if order.ndim != 1 or order.dtype.kind not in "iu":
        raise TypeError("order must be a 1-D integer array")
    if hi > order.shape[0]:
        raise ValueError(f"order has {order.shape[0]} entries, {hi} needed")
    used = order[lo:hi]
    if used.size and (used.min() < 0 or used.max() >= n_samples):
        raise ValueError(f"order entries must lie in [0, {n_samples})")
    return np.ascontiguousarray(order, dtype=np.intp)


def csr_rows_matmul_twin(X, order, Py_ssize_t lo, Py_ssize_t hi, W, Z):
    """Test twin of :c:func:`csr_rows_matmul`: Z[lo:hi] = X[order[lo:hi]] @ W in place.

    X      IN  scipy.sparse CSR (n_samples x n_features)
    order  IN  (>= hi,) integer rows of X
    W      IN  (n_features x n_out) C-contiguous, X's dtype
    Z      OUT (>= hi x n_out) C-contiguous, X's dtype; rows outside [lo, hi) untouched
    """
    indptr, indices, data = _csr_arrays(X, W)
    _check_dense("W", W, data.dtype)
    _check_dense("Z", Z, data.dtype)
    if W.shape[0] != X.shape[1] or Z.shape[1] != W.shape[1]:
        raise ValueError(f"shapes disagree: X {X.shape}, W {W.shape}, Z {Z.shape}")
    if not 0 <= lo <= hi <= Z.shape[0]:
        raise ValueError(f"need 0 <= lo <= hi <= {Z.shape[0]}, got lo={lo}, hi={hi}")
    order = _check_order(order, lo, hi, X.shape[0])
    _csr_rows_matmul_call(indptr, indices, data, order, lo, hi, W, Z)


def _csr_rows_matmul_call(const index_t[::1] indptr, const index_t[::1] indices,
                          const floating[::1] data, const Py_ssize_t[::1] order,
                          Py_ssize_t lo, Py_ssize_t hi, const floating[:, ::1] W,
                          floating[:, ::1] Z):
    """Checked arrays to pointers (NULL for empty ones, never read then)."""
    if hi <= lo or Z.shape[1] == 0:
        return
    with nogil:
        csr_rows_matmul(&indptr[0], &indices[0] if indices.shape[0] else NULL,
                        &data[0] if data.shape[0] else NULL, &order[0], lo, hi,
                        &W[0, 0] if W.shape[0] else NULL, Z.shape[1], &Z[0, 0])


def csr_rows_transpose_matmul_twin(X, order, Py_ssize_t rows, delta,
                                   Py_ssize_t c0, Py_ssize_t c1, dW):
    """Test twin of :c:func:`csr_rows_transpose_matmul`, in place.

    dW[:, c0:c1] = X[order[:rows]]^T @ delta[:rows, c0:c1]

    X      IN  scipy.sparse CSR (n_samples x n_features)
    order  IN  (>= rows,) integer rows of X
    delta  IN  (>= rows x n_out) C-contiguous, X's dtype
    dW     OUT (n_features x n_out) C-contiguous, X's dtype; columns outside [c0, c1) untouched
    """
    indptr, indices, data = _csr_arrays(X, delta)
    _check_dense("delta", delta, data.dtype)
    _check_dense("dW", dW, data.dtype)
    if dW.shape[0] != X.shape[1] or dW.shape[1] != delta.shape[1]:
        raise ValueError(f"shapes disagree: X {X.shape}, delta {delta.shape}, dW {dW.shape}")
    if not 0 <= rows <= delta.shape[0]:
        raise ValueError(f"need 0 <= rows <= {delta.shape[0]}, got {rows}")
    if not 0 <= c0 <= c1 <= dW.shape[1]:
        raise ValueError(f"need 0 <= c0 <= c1 <= {dW.shape[1]}, got c0={c0}, c1={c1}")
    order = _check_order(order, 0, rows, X.shape[0])
    _csr_rows_transpose_matmul_call(indptr, indices, data, order, rows, delta, c0, c1, dW)


def _csr_rows_transpose_matmul_call(const index_t[::1] indptr, const index_t[::1] indices,
                                    const floating[::1] data, const Py_ssize_t[::1] order,
                                    Py_ssize_t rows, const floating[:, ::1] delta,
                                    Py_ssize_t c0, Py_ssize_t c1, floating[:, ::1] dW):
    """Checked arrays to pointers (NULL for empty ones, never read then)."""
    if c1 <= c0 or dW.shape[0] == 0:
        return
    with nogil:
        csr_rows_transpose_matmul(&indptr[0], &indices[0] if indices.shape[0] else NULL,
                                  &data[0] if data.shape[0] else NULL,
                                  &order[0] if order.shape[0] else NULL, rows,
                                  &delta[0, 0] if delta.shape[0] else NULL,
                                  dW.shape[0], dW.shape[1], c0, c1, &dW[0, 0])
