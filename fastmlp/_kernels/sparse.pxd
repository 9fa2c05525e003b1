# The first layer on a scipy.sparse CSR matrix, read row by row in a minibatch's
# sample order: no dense copy of X is ever gathered. Only the first layer touches
# X, so these two products are all the sparse support the network needs.
from cython cimport floating

# CSR index arrays (indptr, indices) as scipy makes them: int32, or int64 once
# nnz or a dimension outgrows int32. Both arrays share one type.
ctypedef fused index_t:
    int
    long long

cdef struct CsrMatrix:
    # A CSR X as the training step holds it (a struct cannot hold fused types: the
    # products below cast the pointers back).
    const void* indptr
    const void* indices
    const void* data
    bint wide           # int64 index arrays, else int32

# The kernels' view of a checked CSR matrix (contiguous arrays, one index dtype);
# the caller keeps X alive.
cdef CsrMatrix csr_view(X) except *

# Z[r, :] = X[order[r]] @ W for r in [lo, hi): see csr_rows_matmul in sparse.pyx.
cdef void csr_matmul(const CsrMatrix* X, const Py_ssize_t* order, Py_ssize_t lo,
                     Py_ssize_t hi, const floating* W, Py_ssize_t n_out,
                     floating* Z) noexcept nogil

# dW[:, c0:c1] = X[order[:rows]]^T @ delta[:, c0:c1]: see csr_rows_transpose_matmul.
cdef void csr_transpose_matmul(const CsrMatrix* X, const Py_ssize_t* order,
                               Py_ssize_t rows, const floating* delta,
                               Py_ssize_t n_features, Py_ssize_t n_out, Py_ssize_t c0,
                               Py_ssize_t c1, floating* dW) noexcept nogil
