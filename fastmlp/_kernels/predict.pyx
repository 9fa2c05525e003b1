"""Prediction: the forward pass over X in chunks of rows, without the GIL.

The chunks' hidden activations fill about PREDICT_CHUNK_BYTES of scratch: large
enough for efficient gemms, small enough to stay in cache. Scratch is local to the
call, so concurrent calls on one model are safe. Ctrl-C stops a long prediction
between two chunks (signals.pxd). (One to a few rows take row_predict.pyx instead.)
"""
from cython cimport floating
from libc.stdlib cimport free, malloc

import numpy as np
import scipy.sparse

from fastmlp._kernels.activations cimport bias_activation, output_activation
from fastmlp._kernels.blas cimport gemm
from fastmlp._kernels.layers cimport forward_rows
from fastmlp._kernels.signals cimport monotonic_seconds, reraise, signal_raised
from fastmlp._kernels.sparse cimport CsrMatrix, csr_matmul, csr_view

cdef Py_ssize_t PREDICT_CHUNK_BYTES = 2 * 1024 * 1024


def predict_forward(list coefs, list intercepts, X, floating[:, ::1] out,
                    int hidden_activation, int out_activation):
    """out = the network's output for X (C-contiguous, or CSR). When a logit overflows
    (activations.pxd, output_activation), out holds a NaN at the start of that chunk
    and its later rows are left unset.

    coefs[i] / intercepts[i] must be C-contiguous arrays of out's dtype with the
    shapes of a fitted model, X of that dtype too; the caller checks.
    """
    cdef Py_ssize_t n_layers = len(coefs), n_samples = out.shape[0]
    cdef Py_ssize_t i, start = 0, rows, chunk, hidden_total = 0
    cdef double last_check = monotonic_seconds()
    cdef bint sparse = scipy.sparse.issparse(X)
    cdef CsrMatrix csr
    cdef const floating[:, ::1] dense
    cdef const floating[:, ::1] w
    cdef const floating[::1] b
    cdef floating* z
    cdef const floating* a_in
    cdef Py_ssize_t n_in = coefs[n_layers - 1].shape[0], n_out = out.shape[1]
    cdef bint overflowed = False
    if n_samples == 0:
        return
    if sparse:
        csr = csr_view(X)
    else:
        dense = X
    sizes_array = np.array([coefs[0].shape[0]] + [c.shape[1] for c in coefs], dtype=np.intp)
    cdef const Py_ssize_t[::1] sizes = sizes_array
    for i in range(1, n_layers):
        hidden_total += sizes[i]
    chunk = min(n_samples, max(64, PREDICT_CHUNK_BYTES // max(hidden_total * sizeof(floating), 1)))
    dtype = np.float32 if floating is float else np.float64
    scratch_array = np.empty(max(chunk * hidden_total, 1), dtype=dtype)
    cdef floating[::1] scratch = scratch_array
    order_array = np.arange(n_samples if sparse else 1, dtype=np.intp)
    cdef const Py_ssize_t[::1] order = order_array
    cdef void** pointers = <void**> malloc(3 * n_layers * sizeof(void*))
    if pointers == NULL:
        raise MemoryError()
    cdef const floating** w_ptr = <const floating**> pointers
    cdef const floating** b_ptr = <const floating**> (pointers + n_layers)
    cdef floating** acts = <floating**> (pointers + 2 * n_layers)
    cdef floating* cursor = &scratch[0]
    try:
        for i in range(n_layers):
            w = coefs[i]
            b = intercepts[i]
            w_ptr[i] = &w[0, 0]
            b_ptr[i] = &b[0]
        for i in range(n_layers - 1):
            acts[i] = cursor
            cursor += chunk * sizes[i + 1]
        with nogil:
            while start < n_samples:
                rows = min(chunk, n_samples - start)
                z = &out[start, 0]
                acts[n_layers - 1] = z    # the last layer writes in place
                # the hidden layers
                if sparse:
                    # Z = X_chunk @ W_0 : (rows x sizes[1])
                    #   = (rows x n_features, sparse) (n_features x sizes[1])
                    csr_matmul(&csr, &order[start], 0, rows, w_ptr[0], sizes[1], acts[0])
                    if n_layers > 1:
                        bias_activation(acts[0], <floating*> NULL, b_ptr[0], rows,
                                        sizes[1], sizes[1], hidden_activation, NULL, 0, 0)
                        forward_rows(0, rows, 1, n_layers - 1, &sizes[0], w_ptr, b_ptr,
                                     acts[0], acts, hidden_activation, hidden_activation)
                else:
                    forward_rows(0, rows, 0, n_layers - 1, &sizes[0], w_ptr, b_ptr,
                                 &dense[start, 0], acts, hidden_activation,
                                 hidden_activation)
                # the output layer, its logits checked before the activation
                if n_layers > 1 or not sparse:
                    a_in = acts[n_layers - 2] if n_layers > 1 else &dense[start, 0]
                    # Z = A_in @ W_out : (rows x n_out) = (rows x n_in) (n_in x n_out)
                    gemm(False, False, <int> rows, <int> n_out, <int> n_in, 1, a_in,
                         <int> n_in, w_ptr[n_layers - 1], <int> n_out, 0, z, <int> n_out)
                if not output_activation(z, b_ptr[n_layers - 1], rows, n_out,
                                         out_activation):
                    overflowed = True   # out holds a NaN: the caller reports it
                    break
                start += rows
                if start < n_samples and signal_raised(&last_check):
                    break   # Ctrl-C: reraise() below
    finally:
        free(pointers)
    if start < n_samples and not overflowed:
        reraise()
