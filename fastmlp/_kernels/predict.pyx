"""Prediction: the forward pass over X in chunks of rows, without the GIL.

The chunks' hidden activations fill about PREDICT_CHUNK_BYTES of scratch: large
enough for efficient gemms, small enough to stay in cache. Scratch is local to the
call, so concurrent calls on one model are safe. Ctrl-C stops a long prediction
between two chunks (signals.pxd). (One to a few rows take row_predict.pyx instead.)

With n_threads >= 1 the chunks are shared among up to n_threads of fastmlp's own
OpenMP threads, each calling BLAS on one thread, as the training team does: a
prediction never wakes BLAS's own thread pool, whose idle threads spin for about
0.1 s after their work and would take a core from the next epoch's team (a fit's
validation data between two epochs; a user's score between two partial_fit calls).
"""
from cython cimport floating
from cython.parallel cimport parallel, threadid
from libc.stdlib cimport free, malloc
from openmp cimport omp_get_num_threads

import numpy as np
import scipy.sparse

from fastmlp._kernels.activations cimport bias_activation, output_activation
from fastmlp._kernels.blas cimport blas_threads_local, gemm
from fastmlp._kernels.blas cimport one_blas_thread_begin, one_blas_thread_end
from fastmlp._kernels.layers cimport forward_rows
from fastmlp._kernels.signals cimport monotonic_seconds, reraise, signal_raised
from fastmlp._kernels.sparse cimport CsrMatrix, csr_matmul, csr_view

cdef Py_ssize_t PREDICT_CHUNK_BYTES = 2 * 1024 * 1024
# Fewest multiply-adds per thread that are worth a team: opening a parallel region
# and waking its threads costs some microseconds, a few hundred thousand
# multiply-adds' time.
cdef double TEAM_MIN_MULTIPLY_ADDS = 1e6

# The flags the team's threads share (written through a pointer: a variable
# assigned inside a parallel block is private to each thread).
cdef enum:
    STOP = 0          # Ctrl-C: no thread starts another chunk
    OVERFLOWED = 1    # a chunk's logit overflowed
    N_FLAGS = 2


def predict_forward(list coefs, list intercepts, X, floating[:, ::1] out,
                    int hidden_activation, int out_activation, int n_threads=0):
    """out = the network's output for X (C-contiguous, or CSR). When a logit overflows
    (activations.pxd, output_activation), out holds a NaN at the start of that chunk
    and the rows of the chunks not yet started are left unset.

    coefs[i] / intercepts[i] must be C-contiguous arrays of out's dtype with the
    shapes of a fitted model, X of that dtype too; the caller checks. n_threads >= 1
    shares the chunks among up to that many threads, as many as have the rows for
    them, each calling BLAS on one thread (the caller checks that BLAS can be held to
    one thread: threads.can_bound_blas); 0: this thread, BLAS threaded as it is.
    """
    cdef Py_ssize_t n_layers = len(coefs), n_samples = out.shape[0]
    cdef Py_ssize_t i, chunk, n_chunks, hidden_total = 0, layer_multiply_adds = 0
    cdef Py_ssize_t team = 1, part
    cdef bint one_blas_thread
    cdef double last_check = monotonic_seconds()
    cdef bint sparse = scipy.sparse.issparse(X)
    cdef CsrMatrix csr
    cdef const floating[:, ::1] dense
    cdef const floating[:, ::1] w
    cdef const floating[::1] b
    cdef const floating* x = NULL
    if n_samples == 0:
        return
    if sparse:
        csr = csr_view(X)
    else:
        dense = X
        x = &dense[0, 0]
    sizes_array = np.array([coefs[0].shape[0]] + [c.shape[1] for c in coefs], dtype=np.intp)
    cdef const Py_ssize_t[::1] sizes = sizes_array
    for i in range(1, n_layers):
        hidden_total += sizes[i]
    for i in range(n_layers):
        layer_multiply_adds += sizes[i] * sizes[i + 1]
    chunk = min(n_samples, max(64, PREDICT_CHUNK_BYTES // max(hidden_total * sizeof(floating), 1)))
    if n_threads > 1:
        # as many threads as have TEAM_MIN_MULTIPLY_ADDS each
        team = min(n_threads, <Py_ssize_t> (n_samples * <double> layer_multiply_adds
                                            / TEAM_MIN_MULTIPLY_ADDS))
        team = max(team, 1)
    n_chunks = (n_samples + chunk - 1) // chunk
    if team > 1:
        # a multiple of the team's size, of equal rows: every thread the same work
        n_chunks = (n_chunks + team - 1) // team * team
        chunk = (n_samples + n_chunks - 1) // n_chunks
        n_chunks = (n_samples + chunk - 1) // chunk
    team = min(team, n_chunks)
    dtype = np.float32 if floating is float else np.float64
    scratch_array = np.empty(max(team * chunk * hidden_total, 1), dtype=dtype)
    cdef floating[::1] scratch = scratch_array
    order_array = np.arange(n_samples if sparse else 1, dtype=np.intp)
    cdef const Py_ssize_t[::1] order = order_array
    # the weights' and biases' pointers, then each thread's layer outputs
    cdef void** pointers = <void**> malloc((2 + team) * n_layers * sizeof(void*))
    cdef int* flags = <int*> malloc(N_FLAGS * sizeof(int))
    if pointers == NULL or flags == NULL:
        free(pointers)
        free(flags)
        raise MemoryError()
    cdef const floating** w_ptr = <const floating**> pointers
    cdef const floating** b_ptr = <const floating**> (pointers + n_layers)
    cdef floating** acts
    cdef floating* cursor = &scratch[0]
    flags[STOP] = 0
    flags[OVERFLOWED] = 0
    try:
        for i in range(n_layers):
            w = coefs[i]
            b = intercepts[i]
            w_ptr[i] = &w[0, 0]
            b_ptr[i] = &b[0]
        for part in range(team):
            acts = <floating**> (pointers + (2 + part) * n_layers)
            for i in range(n_layers - 1):
                acts[i] = cursor
                cursor += chunk * sizes[i + 1]
        # BLAS on one thread, team or not: a prediction never wakes BLAS's pool
        one_blas_thread = n_threads >= 1 and one_blas_thread_begin()
        if team == 1:
            with nogil:
                _predict_part(0, 1, n_samples, chunk, n_chunks, sparse, &csr, x, &order[0],
                              n_layers, &sizes[0], w_ptr, b_ptr, pointers, &out[0, 0],
                              hidden_activation, out_activation, flags, &last_check)
        else:
            with nogil, parallel(num_threads=team):
                # The threads are ours: each one's gemms run alone (where a BLAS
                # keeps the count per thread, each thread must set it).
                blas_threads_local(1)
                _predict_part(threadid(), omp_get_num_threads(), n_samples, chunk,
                              n_chunks, sparse, &csr, x, &order[0], n_layers, &sizes[0],
                              w_ptr, b_ptr, pointers, &out[0, 0], hidden_activation,
                              out_activation, flags, &last_check)
        if one_blas_thread:
            one_blas_thread_end()
        stopped = flags[STOP] and not flags[OVERFLOWED]
    finally:
        free(pointers)
        free(flags)
    if stopped:
        reraise()


cdef void _predict_part(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t n_samples,
                        Py_ssize_t chunk, Py_ssize_t n_chunks, bint sparse,
                        const CsrMatrix* csr, const floating* x, const Py_ssize_t* order,
                        Py_ssize_t n_layers, const Py_ssize_t* sizes,
                        const floating** w_ptr, const floating** b_ptr, void** pointers,
                        floating* out, int hidden_activation, int out_activation,
                        int* flags, double* last_check) noexcept nogil:
    """Part `part` of n_parts: chunks part, part + n_parts, ... (no shared counter to
    contend on), until all are done or a flag is raised. Its layer outputs are the
    part's share of `pointers`; part 0 (the calling thread, which holds Python's
    signal handlers) looks for Ctrl-C between its chunks and tells the others."""
    cdef floating** acts = <floating**> (pointers + (2 + part) * n_layers)
    cdef Py_ssize_t k = part
    while k < n_chunks and not (flags[STOP] or flags[OVERFLOWED]):
        if not _forward_chunk(k * chunk, min(chunk, n_samples - k * chunk), sparse, csr,
                              x, order, n_layers, sizes, w_ptr, b_ptr, acts, out,
                              hidden_activation, out_activation):
            flags[OVERFLOWED] = 1   # out holds a NaN: the caller reports it
        elif part == 0 and k + n_parts < n_chunks and signal_raised(last_check):
            flags[STOP] = 1
        k += n_parts


cdef bint _forward_chunk(Py_ssize_t start, Py_ssize_t rows, bint sparse,
                         const CsrMatrix* csr, const floating* x,
                         const Py_ssize_t* order, Py_ssize_t n_layers,
                         const Py_ssize_t* sizes, const floating** w_ptr,
                         const floating** b_ptr, floating** acts, floating* out,
                         int hidden_activation, int out_activation) noexcept nogil:
    """out's rows [start, start + rows) from X's (x: dense X, or NULL with csr);
    acts: this thread's scratch for the hidden layers' outputs. False when a logit
    overflowed (a NaN left in out)."""
    cdef Py_ssize_t n_features = sizes[0], n_out = sizes[n_layers]
    cdef Py_ssize_t n_in = sizes[n_layers - 1]
    cdef floating* z = out + start * n_out
    cdef const floating* a_in
    acts[n_layers - 1] = z    # the last layer writes in place
    # the hidden layers
    if sparse:
        # Z = X_chunk @ W_0 : (rows x sizes[1])
        #   = (rows x n_features, sparse) (n_features x sizes[1])
        csr_matmul(csr, &order[start], 0, rows, w_ptr[0], sizes[1], acts[0])
        if n_layers > 1:
            bias_activation(acts[0], <floating*> NULL, b_ptr[0], rows, sizes[1], sizes[1],
                            hidden_activation, NULL, 0, 0)
            forward_rows(0, rows, 1, n_layers - 1, sizes, w_ptr, b_ptr, acts[0], acts,
                         hidden_activation, hidden_activation)
    else:
        forward_rows(0, rows, 0, n_layers - 1, sizes, w_ptr, b_ptr,
                     x + start * n_features, acts, hidden_activation, hidden_activation)
    # the output layer, its logits checked before the activation
    if n_layers > 1 or not sparse:
        a_in = acts[n_layers - 2] if n_layers > 1 else x + start * n_features
        # Z = A_in @ W_out : (rows x n_out) = (rows x n_in) (n_in x n_out)
        gemm(False, False, <int> rows, <int> n_out, <int> n_in, 1, a_in, <int> n_in,
             w_ptr[n_layers - 1], <int> n_out, 0, z, <int> n_out)
    return output_activation(z, b_ptr[n_layers - 1], rows, n_out, out_activation)
