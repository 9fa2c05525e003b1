# The first layer on a scipy.sparse CSR matrix, read row by row in a minibatch's
# sample order: no dense copy of X is ever gathered. Only the first layer touches
# X, so these two kernels are all the sparse support the network needs.
from cython cimport floating

# CSR index arrays (indptr, indices) as scipy makes them: int32, or int64 once
# nnz or a dimension outgrows int32. Both arrays share one type.
ctypedef fused index_t:
    int
    long long

cdef void csr_rows_matmul(const index_t* indptr, const index_t* indices,
                          const floating* data, const Py_ssize_t* order,
                          Py_ssize_t lo, Py_ssize_t hi, const floating* W,
                          Py_ssize_t n_out, floating* Z) noexcept nogil

cdef void csr_rows_transpose_matmul(const index_t* indptr, const index_t* indices,
                                    const floating* data, const Py_ssize_t* order,
                                    Py_ssize_t rows, const floating* delta,
                                    Py_ssize_t n_features, Py_ssize_t n_out,
                                    Py_ssize_t c0, Py_ssize_t c1,
                                    floating* dW) noexcept nogil
