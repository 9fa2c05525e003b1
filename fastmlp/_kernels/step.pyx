"""One training step, shared by the parts of a thread team, and the memory it runs in.

A step gathers its minibatch, runs the forward pass, the loss and its output delta,
then goes down the layers: each part computes its rows of dW_i and updates them
right away, while they are still in its core's cache and no other part reads them
in the rest of the step, and its share of each layer's biases; so no separate pass
over all parameters follows. Each part computes its units of every hidden layer, as
a sum of the parts' terms or by columns (layers.pyx); it gathers its columns of the
minibatch for the first way, its rows for the second. The output layer, the loss and
the output delta go by rows. The update is skipped, by every part alike, when the
minibatch loss is not finite.

Clipping by the global norm (clip_norm > 0) needs the whole gradient before any
update: the parts then only add up the squares of their gradient slices as they
compute them, meet at one more barrier, and each updates the same slices as without
clipping, with the gradient scaled by min(1, clip_norm / (norm + 1e-6)), PyTorch's
clip_grad_norm_ factor.

The barriers cut the step into segments (team.Segments). A team runs them all, one
thread per part; one thread may instead play the whole team, segment by segment and
part by part (`run_step` with serial), and computes the very same arithmetic.
"""
from cython cimport floating
from cython.parallel cimport parallel, threadid
from libc.math cimport isfinite, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from openmp cimport omp_get_max_threads, omp_get_num_threads

from fastmlp._kernels.activations cimport bias_activation, needs_preactivation
from fastmlp._kernels.blas cimport blas_threads_local
from fastmlp._kernels.dropout cimport Dropout
from fastmlp._kernels.layers cimport (backward_layer, forward_columns, forward_partial,
                                      forward_rows, reduce_columns)
from fastmlp._kernels.losses cimport loss_delta
from fastmlp._kernels.optimizers cimport MAX_STATE, optimizer_loops, update
from fastmlp._kernels.optimizers cimport sumsq as squared_norm
from fastmlp._kernels.signals cimport monotonic_seconds
from fastmlp._kernels.sparse cimport csr_matmul, csr_transpose_matmul, csr_view
from fastmlp._kernels.team cimport share, share_inputs, sums_terms

import scipy.sparse


cdef extern from *:
    """
    /* Ask for the cache lines of bytes [p, p + n) to be brought into L2
       (prefetcht1): a hint that never faults, whose loads go on while the
       core computes. On x86 as a volatile asm statement: gcc 12 -O1 and up
       deleted the __builtin_prefetch loop here as dead code. */
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #define FASTMLP_PREFETCH_L2(address) \\
        __asm__ volatile("prefetcht1 %0" : : "m"(*(const char*) (address)))
    #elif defined(__GNUC__)
    #define FASTMLP_PREFETCH_L2(address) __builtin_prefetch((address), 0, 2)
    #else
    #define FASTMLP_PREFETCH_L2(address) ((void) (address))
    #endif
    static inline void fastmlp_prefetch_l2(const void* p, Py_ssize_t n) {
        const char* c = (const char*) p;
        Py_ssize_t b;
        if (n <= 0) return;
        for (b = 0; b < n; b += 64) FASTMLP_PREFETCH_L2(c + b);
        FASTMLP_PREFETCH_L2(c + n - 1);
    }
    """
    void prefetch_l2 "fastmlp_prefetch_l2"(const void* p, Py_ssize_t n) noexcept nogil


# ---- segments: the barriers cut a step into them --------------------------------------

cdef extern from *:
    """
    /* An orphaned barrier: binds to the innermost enclosing parallel region, and
       does nothing outside one (or in a build without OpenMP). */
    static void fastmlp_team_barrier(void) {
        _Pragma("omp barrier")
    }
    """
    void team_barrier "fastmlp_team_barrier"() noexcept nogil


cdef struct Segments:
    # Where one call of a step is among the step's segments.
    # the one segment this call runs, or -1: all of them, meeting the other parts at
    # barriers
    Py_ssize_t wanted
    Py_ssize_t current    # the segment the code is in


cdef inline bint runs(const Segments* s) noexcept nogil:
    """Whether this call runs the code of the current segment."""
    return s.wanted < 0 or s.wanted == s.current


cdef inline bint segment_ends(Segments* s) noexcept nogil:
    """End the current segment. True when this call ran only it (the caller returns
    now); otherwise wait at a barrier for the other parts (no-op without a team) and
    go on with the next segment."""
    if s.wanted == s.current:
        return True
    s.current += 1
    team_barrier()
    return False


# ---- the memory a step runs in ------------------------------------------------------

cdef Py_ssize_t _widest_hidden(const Py_ssize_t* sizes, Py_ssize_t n_layers) noexcept nogil:
    cdef Py_ssize_t i, widest = 0
    for i in range(1, n_layers):
        widest = max(widest, sizes[i])
    return widest


cdef Py_ssize_t _units(const Py_ssize_t* sizes, Py_ssize_t n_layers) noexcept nogil:
    """Units of every layer but the input: the activations of one row, or the biases."""
    cdef Py_ssize_t i, total = 0
    for i in range(1, n_layers + 1):
        total += sizes[i]
    return total


cdef Py_ssize_t _term_length(const Py_ssize_t* sizes, Py_ssize_t n_layers,
                             Py_ssize_t batch_size, Py_ssize_t n_parts,
                             Py_ssize_t itemsize) noexcept nogil:
    """One part's term of the widest hidden layer that sums terms (0: none does),
    rounded up to whole cache lines (16 elements) so that no two parts' terms
    share one."""
    cdef Py_ssize_t i, widest = 0
    for i in range(n_layers - 1):
        if sums_terms(i, sizes, n_parts, itemsize):
            widest = max(widest, sizes[i + 1])
    return (batch_size * widest + 15) // 16 * 16


def openmp_max_threads():
    """The OpenMP runtime's thread limit for the calling thread: OMP_NUM_THREADS, or
    what threadpoolctl.threadpool_limits set (it calls this libgomp's
    omp_set_num_threads)."""
    return omp_get_max_threads()


def team_overhead(Py_ssize_t n_threads, Py_ssize_t repeats):
    """Measure what a team costs a step besides its work, on n_threads threads:
    (seconds to open and close one parallel region, seconds per barrier), each the
    mean of `repeats`. The team-size model (fastmlp/_engine/team_model.py) and
    benchmarks/team_model.py use it."""
    cdef Py_ssize_t _repeat
    cdef double start, regions, barriers
    if n_threads < 1 or repeats < 1:
        raise ValueError("n_threads and repeats must be at least 1")
    with nogil:
        start = monotonic_seconds()
        for _repeat in range(repeats):
            with parallel(num_threads=n_threads):
                team_barrier()      # nothing else: not optimized away, as a region may be
        regions = monotonic_seconds() - start
        start = monotonic_seconds()
        with parallel(num_threads=n_threads):
            for _repeat in range(repeats):
                team_barrier()
        barriers = monotonic_seconds() - start
    # the first loop paid one barrier per region too
    return (regions - barriers) / repeats, barriers / repeats


def workspace_length(const Py_ssize_t[::1] sizes, Py_ssize_t batch_size, Py_ssize_t n_parts,
                     Py_ssize_t itemsize, int hidden_activation, bint gather_inputs=True,
                     bint gather_targets=True):
    """Elements (of itemsize bytes) of the workspace that steps of up to batch_size rows
    on up to n_parts parts run in.

    Its buffers, in this order: two sets of the parts' terms of a hidden layer that
    sums terms (two, so that one layer's terms are written while the last layer's
    are still being added up); the gathered inputs (a dense X; a CSR X is read in
    place), targets and sample weights; each layer's output; each hidden layer's
    pre-activation where its activation's derivative reads it; two delta buffers;
    the bias-gradient shares of the parts after the first.
    """
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef const Py_ssize_t* s = &sizes[0]
    return (2 * n_parts * _term_length(s, n_layers, batch_size, n_parts, itemsize)
            + batch_size * ((s[0] if gather_inputs else 0)
                            + ((s[n_layers] + 1) if gather_targets else 0)
                            + _units(s, n_layers)
                            + (_units(s, n_layers) - s[n_layers]
                               if needs_preactivation(hidden_activation) else 0)
                            + 2 * _widest_hidden(s, n_layers))
            + (n_parts - 1) * _units(s, n_layers))


cdef void* _take(char** cursor, Py_ssize_t n, Py_ssize_t itemsize) noexcept nogil:
    """The next n elements of the workspace."""
    cdef void* start = cursor[0]
    cursor[0] += n * itemsize
    return start


cdef int open_context(StepContext* c, const Py_ssize_t[::1] sizes, int hidden_activation,
                      int out_activation, int loss, X, const floating[:, ::1] Y,
                      sample_weight, floating[::1] params, floating[::1] grads, list state,
                      int optimizer, floating[::1] workspace, Py_ssize_t batch_size,
                      Py_ssize_t n_parts, bint in_place) except -1:
    """Fill `c` for steps of up to batch_size rows on up to n_parts parts.

    X is a C-contiguous array or a CSR matrix of the parameters' dtype; Y, the sample
    weights (None: all 1) and the state arrays (the optimizer's, in its table's
    order) are too; the caller checked every shape and keeps the arrays alive until
    close_context. With in_place the minibatch is rows [0, rows) of X, Y and the
    weights. The optimizer's learning rate, hyper-parameters and step number, and
    the dropout, are the caller's to set.
    """
    cdef Py_ssize_t i, k, L = sizes.shape[0] - 1, itemsize = sizeof(floating)
    cdef bint dense = not scipy.sparse.issparse(X)
    cdef const floating[:, ::1] X_dense
    cdef const floating[::1] weights
    cdef floating[::1] array
    cdef void** pointers
    cdef char* cursor = <char*> &workspace[0]
    if workspace.shape[0] < workspace_length(sizes, batch_size, n_parts, itemsize,
                                             hidden_activation, dense and not in_place,
                                             not in_place):
        raise ValueError("the workspace is shorter than workspace_length()")
    if len(state) > MAX_STATE:
        raise ValueError(f"an optimizer has at most {MAX_STATE} state arrays")
    c.n_layers, c.sizes, c.itemsize = L, &sizes[0], itemsize
    c.hidden_activation, c.out_activation, c.loss = hidden_activation, out_activation, loss
    c.X = NULL
    if dense:
        X_dense = X
        c.X = &X_dense[0, 0]
    else:
        c.csr = csr_view(X)
    c.Y = &Y[0, 0]
    c.sample_weight = NULL
    if sample_weight is not None:
        weights = sample_weight
        c.sample_weight = &weights[0]
    c.in_place = in_place
    c.params, c.grads = &params[0], &grads[0]
    for k in range(MAX_STATE):
        c.state[k] = NULL
        if k < len(state):
            array = state[k]
            c.state[k] = &array[0]
    c.optimizer = optimizer_loops(optimizer)
    c.clip_norm = c.label_smoothing = 0
    c.dropout = NULL

    # pointer arrays, then the partials
    c.memory = malloc((5 * L + n_parts * L) * sizeof(void*)
                      + (3 * n_parts + 1) * sizeof(double))
    if c.memory == NULL:
        raise MemoryError()
    pointers = <void**> c.memory
    c.coefs, c.intercepts, c.coef_grads = pointers, pointers + L, pointers + 2 * L
    c.acts, c.preacts, c.bias_grads = pointers + 3 * L, pointers + 4 * L, pointers + 5 * L
    c.partials = <double*> (pointers + 5 * L + n_parts * L)
    k = 0
    for i in range(L):
        c.coefs[i], c.coef_grads[i] = &params[k], &grads[k]
        k += sizes[i] * sizes[i + 1]
    for i in range(L):
        c.intercepts[i], c.bias_grads[i] = &params[k], &grads[k]   # part 0's: the gradient's
        k += sizes[i + 1]

    # the workspace, in workspace_length's order: the terms first, whole cache lines
    # each, so that the input batch (cache-line aligned like the workspace) starts on
    # a line too
    c.term_stride = _term_length(&sizes[0], L, batch_size, n_parts, itemsize)
    for k in range(2):
        c.terms[k] = _take(&cursor, n_parts * c.term_stride, itemsize)
    c.xb, c.yb, c.wb = <void*> c.X, <void*> c.Y, <void*> c.sample_weight
    if not in_place:
        if dense:
            c.xb = _take(&cursor, batch_size * sizes[0], itemsize)
        c.yb = _take(&cursor, batch_size * sizes[L], itemsize)
        c.wb = _take(&cursor, batch_size, itemsize)
    for i in range(L):
        c.acts[i] = _take(&cursor, batch_size * sizes[i + 1], itemsize)
    for i in range(L):
        c.preacts[i] = NULL
        if i < L - 1 and needs_preactivation(hidden_activation):
            c.preacts[i] = _take(&cursor, batch_size * sizes[i + 1], itemsize)
    for k in range(2):
        c.deltas[k] = _take(&cursor, batch_size * _widest_hidden(&sizes[0], L), itemsize)
    for i in range(L, n_parts * L):
        c.bias_grads[i] = _take(&cursor, sizes[i % L + 1], itemsize)
    return 0


cdef void close_context(StepContext* c) noexcept:
    free(c.memory)
    c.memory = NULL


# ---- the step -----------------------------------------------------------------------

cdef Py_ssize_t step_part(const StepContext* c, const Step* s, Py_ssize_t part,
                          Py_ssize_t n_parts, Py_ssize_t segment) noexcept nogil:
    """This part's share of one training step: all of it (segment -1, the part's
    thread meeting the others at the barriers), or only segment `segment`.

    Returns SEGMENT_DONE after a segment that is not the last, STEP_SKIPPED for a
    non-finite loss, and else the number of the last segment. c.partials receives
    the team size, the part's loss (sum of the weighted losses of its rows), the
    sum of squares of the weights it updated, before the update, and (clipping) the
    sum of squares of its slices of the gradient.
    """
    if c.itemsize == sizeof(float):
        return _step_part(c, s, part, n_parts, segment, <float*> c.params)
    return _step_part(c, s, part, n_parts, segment, <double*> c.params)


cdef void run_step(const StepContext* c, const Step* s, Py_ssize_t n_parts,
                   bint serial) noexcept nogil:
    """One step on n_parts parts: on this thread (one part; or, serial, every part in
    turn, segment by segment), or on a team of n_parts threads, each calling BLAS on
    one thread."""
    cdef Py_ssize_t segment = 0, part, last = SEGMENT_DONE
    if n_parts == 1:
        step_part(c, s, 0, 1, -1)
    elif serial:
        # The same gemms and sums as the team's, in the same order: the same bits.
        while last == SEGMENT_DONE:
            for part in range(n_parts):
                last = step_part(c, s, part, n_parts, segment)
            segment += 1
    else:
        with parallel(num_threads=n_parts):
            blas_threads_local(1)   # the threads are ours: each one's gemms run alone
            step_part(c, s, threadid(), omp_get_num_threads(), -1)


cdef Py_ssize_t _step_part(const StepContext* c, const Step* s, Py_ssize_t part,
                           Py_ssize_t n_parts, Py_ssize_t wanted,
                           floating* params) noexcept nogil:
    cdef Segments seg
    cdef Py_ssize_t L = c.n_layers, rows = s.rows, i, k, p, lo, hi, j0, j1
    cdef const Py_ssize_t* sizes = c.sizes
    cdef Py_ssize_t n_out = sizes[L]
    cdef bint sparse = c.X == NULL
    cdef Py_ssize_t first_layer = 1 if sparse else 0
    cdef const floating** coefs = <const floating**> c.coefs
    cdef const floating** intercepts = <const floating**> c.intercepts
    cdef floating** coef_grads = <floating**> c.coef_grads
    cdef floating** bias_grads = <floating**> c.bias_grads
    cdef floating** acts = <floating**> c.acts
    cdef floating** preacts = <floating**> c.preacts
    cdef floating* xb = <floating*> c.xb
    cdef floating* delta = acts[L - 1]
    cdef floating* delta_prev
    cdef floating* terms
    cdef floating* output_bias_share
    cdef double* sumsq = c.partials + 1 + n_parts + part
    cdef double* gradient_sumsq = c.partials + 1 + 2 * n_parts + part
    cdef double total_loss = 0
    cdef bint by_columns, clipping = c.clip_norm > 0
    seg.wanted, seg.current = wanted, 0
    share(rows, part, n_parts, &lo, &hi)
    # When the first hidden layer is a sum of terms (see layers.pyx), each part
    # gathers its columns of every row of the minibatch; otherwise its rows.
    by_columns = not sparse and L > 1 and sums_terms(0, sizes, n_parts, sizeof(floating))

    # -- segment 0: the minibatch's rows, and a CSR X's first layer
    if wanted <= 0:
        if part == 0:
            c.partials[0] = n_parts   # the team OpenMP gave us may be smaller than asked
        sumsq[0] = gradient_sumsq[0] = 0
        if not c.in_place:
            _gather(c, s, part, n_parts, by_columns, lo, hi, xb)
        if sparse:   # by rows, read in place
            _sparse_first_layer(c, s, lo, hi, coefs, intercepts, acts, preacts)

    # -- forward: every part its units of each hidden layer
    for i in range(first_layer, L - 1):
        # Every hidden layer leaves each part its own columns; the gathered input
        # too when by_columns, the sparse first layer its rows.
        if not sums_terms(i, sizes, n_parts, sizeof(floating)) or i == first_layer == 1:
            if segment_ends(&seg):   # layer i reads columns that other parts wrote
                return SEGMENT_DONE
        if not sums_terms(i, sizes, n_parts, sizeof(floating)):
            if runs(&seg):
                forward_columns(part, n_parts, rows, sizes[i], sizes[i + 1], coefs[i],
                                intercepts[i], xb if i == 0 else acts[i - 1], acts[i],
                                preacts[i], c.hidden_activation, _dropout(c, i))
            continue
        # This part's term, in one of two alternating sets of terms (the next
        # layer's are written while other parts may still add up this one's).
        terms = <floating*> c.terms[i % 2]
        if runs(&seg):
            share_inputs(i, sizes, part, n_parts, &j0, &j1)
            forward_partial(rows, sizes[i], sizes[i + 1], j0, j1, coefs[i],
                            xb if i == 0 else acts[i - 1], terms + part * c.term_stride)
        if segment_ends(&seg):   # the sum needs every part's term
            return SEGMENT_DONE
        if runs(&seg):
            reduce_columns(part, n_parts, rows, sizes[i + 1], intercepts[i], terms,
                           c.term_stride, acts[i], preacts[i], c.hidden_activation,
                           _dropout(c, i))
    if first_layer < L - 1:
        if segment_ends(&seg):   # the output layer reads every column of the last hidden
            return SEGMENT_DONE

    # -- the output layer, the loss and the output delta: by rows
    output_bias_share = bias_grads[part * L + L - 1]
    if runs(&seg):
        if first_layer < L:
            forward_rows(lo, hi, L - 1, L, sizes, coefs, intercepts,
                         xb if L == 1 else acts[L - 2], acts, c.hidden_activation,
                         c.out_activation)
        c.partials[1 + part] = loss_delta(
            acts[L - 1] + lo * n_out, <const floating*> c.yb + lo * n_out,
            NULL if c.sample_weight == NULL else <const floating*> c.wb + lo,
            output_bias_share, hi - lo, n_out, c.loss, s.scale, c.label_smoothing)
    if segment_ends(&seg):   # dW needs every row's delta; the update, the loss
        return SEGMENT_DONE
    for p in range(n_parts):
        total_loss += c.partials[1 + p]
    if not isfinite(total_loss):
        return STEP_SKIPPED

    # -- backward, each part updating its rows of W_i as soon as their gradient is in
    #    (clipping: adding up their squares, the update to follow)
    if runs(&seg):
        # The output biases: this part's units, the other parts' row shares summed in.
        share(n_out, part, n_parts, &j0, &j1)
        for p in range(1, n_parts):
            for k in range(j0, j1):
                bias_grads[L - 1][k] += bias_grads[p * L + L - 1][k]
        _update_or_sum(c, s, params, (intercepts[L - 1] - params) + j0, j1 - j0, False,
                       gradient_sumsq)
    for i in range(L - 1, first_layer - 1, -1):
        delta_prev = NULL if i == 0 else <floating*> c.deltas[i % 2]
        if runs(&seg):
            share_inputs(i, sizes, part, n_parts, &j0, &j1)
            backward_layer(rows, sizes[i], sizes[i + 1], j0, j1, coefs[i],
                           xb if i == 0 else acts[i - 1], delta, coef_grads[i], delta_prev,
                           NULL if i == 0 else preacts[i - 1],
                           NULL if i == 0 else bias_grads[i - 1], c.hidden_activation,
                           NULL if i == 0 else _dropout(c, i - 1))
            # This part's rows of W_i (dW_i's rows just computed), then its share of b_{i-1}.
            if i == 0 and not clipping:   # a dense X: meanwhile prefetch what this
                # part gathers next
                sumsq[0] += _update_first_layer(c, s, part, n_parts, by_columns, params,
                                                j0, j1, 1)
            else:
                sumsq[0] += _update_or_sum(c, s, params,
                                           (coefs[i] - params) + j0 * sizes[i + 1],
                                           (j1 - j0) * sizes[i + 1], True, gradient_sumsq)
            if i > 0:
                _update_or_sum(c, s, params, (intercepts[i - 1] - params) + j0, j1 - j0,
                               False, gradient_sumsq)
        if i > 0:
            if segment_ends(&seg):   # the layer before reads every column of delta_prev
                return SEGMENT_DONE
            delta = delta_prev
    if sparse:
        if runs(&seg):
            # dW_0[:, j0:j1] = X_b^T @ delta_0[:, j0:j1], read from the CSR rows
            share(sizes[1], part, n_parts, &j0, &j1)
            csr_transpose_matmul(&c.csr, s.order, rows, delta, sizes[0], sizes[1], j0, j1,
                                 coef_grads[0])
        if segment_ends(&seg):   # this part's rows of dW_0 have every part's columns
            return SEGMENT_DONE
        if runs(&seg):
            share_inputs(0, sizes, part, n_parts, &j0, &j1)
            sumsq[0] += _update_or_sum(c, s, params, j0 * sizes[1], (j1 - j0) * sizes[1],
                                       True, gradient_sumsq)
    if clipping:
        if segment_ends(&seg):   # the global norm needs every part's sum of squares
            return SEGMENT_DONE
        if runs(&seg):
            sumsq[0] += _clipped_updates(c, s, part, n_parts, by_columns, params,
                                         _clip_factor(c, n_parts))
    return seg.current


cdef inline const Dropout* _dropout(const StepContext* c, Py_ssize_t i) noexcept nogil:
    """Hidden layer i's Dropout, or NULL."""
    return NULL if c.dropout == NULL else c.dropout + i


cdef inline double _update(const StepContext* c, const Step* s, floating* params,
                           Py_ssize_t first, Py_ssize_t count, bint weights,
                           double gscale) noexcept nogil:
    """The optimizer's update of params[first:first + count] (weights, with the L2
    term, or biases) with the gradient scaled by gscale; returns sum(w^2) of that
    slice before the update."""
    return update(&c.optimizer, params + first, <const floating*> c.grads + first,
                  NULL if c.state[0] == NULL else <floating*> c.state[0] + first,
                  NULL if c.state[1] == NULL else <floating*> c.state[1] + first,
                  count, weights, s.l2, gscale)


cdef inline double _update_or_sum(const StepContext* c, const Step* s, floating* params,
                                  Py_ssize_t first, Py_ssize_t count, bint weights,
                                  double* gradient_sumsq) noexcept nogil:
    """Without clipping, _update (gscale 1); clipping, add sum(g^2) of the slice's
    gradient, just computed and still in cache, to gradient_sumsq, and leave the
    update to _clipped_updates. Returns sum(w^2) of the slice if it was updated, else
    0."""
    if c.clip_norm > 0:
        gradient_sumsq[0] += squared_norm(<const floating*> c.grads + first, count)
        return 0
    return _update(c, s, params, first, count, weights, 1)


cdef double _clip_factor(const StepContext* c, Py_ssize_t n_parts) noexcept nogil:
    """min(1, clip_norm / (||g|| + 1e-6)) for the step's whole gradient, every part's
    sum of squares added in part order (every part computes the same bits); 1 when the
    norm is not finite, so that the divergence checks see what happened."""
    cdef double total = 0, factor
    cdef Py_ssize_t p
    for p in range(n_parts):
        total += c.partials[1 + 2 * n_parts + p]
    if not isfinite(total):
        return 1
    factor = c.clip_norm / (sqrt(total) + 1e-6)
    return factor if factor < 1 else 1


cdef double _clipped_updates(const StepContext* c, const Step* s, Py_ssize_t part,
                             Py_ssize_t n_parts, bint by_columns, floating* params,
                             double gscale) noexcept nogil:
    """This part's updates of a clipped step, with the gradient scaled by gscale: the
    slices and the order of the updates of the backward pass without clipping (the
    output biases; then from the last layer down its rows of W_i and its share of
    b_{i-1}). Returns sum(w^2) of its weights before the update."""
    cdef Py_ssize_t L = c.n_layers, i, j0, j1
    cdef const Py_ssize_t* sizes = c.sizes
    cdef floating** coefs = <floating**> c.coefs
    cdef floating** intercepts = <floating**> c.intercepts
    cdef double total = 0
    share(sizes[L], part, n_parts, &j0, &j1)
    _update(c, s, params, (intercepts[L - 1] - params) + j0, j1 - j0, False, gscale)
    for i in range(L - 1, -1, -1):
        share_inputs(i, sizes, part, n_parts, &j0, &j1)
        if i == 0 and c.X != NULL:   # a dense X: prefetch what this part gathers next
            total += _update_first_layer(c, s, part, n_parts, by_columns, params, j0, j1,
                                         gscale)
        else:
            total += _update(c, s, params, (coefs[i] - params) + j0 * sizes[i + 1],
                             (j1 - j0) * sizes[i + 1], True, gscale)
        if i > 0:
            _update(c, s, params, (intercepts[i - 1] - params) + j0, j1 - j0, False, gscale)
    return total


cdef inline void _input_share(bint by_columns, Py_ssize_t rows, Py_ssize_t part,
                              Py_ssize_t n_parts, const Py_ssize_t* sizes, Py_ssize_t* r0,
                              Py_ssize_t* r1, Py_ssize_t* c0, Py_ssize_t* c1) noexcept nogil:
    """What `part` gathers of a dense minibatch's inputs, rows [r0, r1) x columns
    [c0, c1): every row's columns of its input units (by_columns), or its rows
    whole. Targets and sample weights go by rows, share(rows, ...), either way."""
    if by_columns:
        r0[0], r1[0] = 0, rows
        share_inputs(0, sizes, part, n_parts, c0, c1)
    else:
        share(rows, part, n_parts, r0, r1)
        c0[0], c1[0] = 0, sizes[0]


cdef void _gather(const StepContext* c, const Step* s, Py_ssize_t part, Py_ssize_t n_parts,
                  bint by_columns, Py_ssize_t lo, Py_ssize_t hi,
                  floating* xb) noexcept nogil:
    """Copy this part's share of the minibatch into the contiguous buffers: inputs
    (a dense X), targets and sample weights."""
    cdef Py_ssize_t r, r0, r1, c0, c1, n_in = c.sizes[0], n_out = c.sizes[c.n_layers]
    cdef const floating* X = <const floating*> c.X
    cdef const floating* Y = <const floating*> c.Y
    cdef const floating* weights = <const floating*> c.sample_weight
    cdef floating* yb = <floating*> c.yb
    cdef floating* wb = <floating*> c.wb
    if X != NULL:
        _input_share(by_columns, s.rows, part, n_parts, c.sizes, &r0, &r1, &c0, &c1)
        for r in range(r0, r1):
            memcpy(xb + r * n_in + c0, X + s.order[r] * n_in + c0,
                   (c1 - c0) * sizeof(floating))
    for r in range(lo, hi):
        memcpy(yb + r * n_out, Y + s.order[r] * n_out, n_out * sizeof(floating))
        if weights != NULL:
            wb[r] = weights[s.order[r]]


cdef void _sparse_first_layer(const StepContext* c, const Step* s, Py_ssize_t lo,
                              Py_ssize_t hi, const floating** coefs,
                              const floating** intercepts, floating** acts,
                              floating** preacts) noexcept nogil:
    """acts[0][lo:hi] = act(X[order[lo:hi]] @ W_0 + b_0) for a CSR X (the caller's
    forward pass goes on from layer 1)."""
    cdef Py_ssize_t n_out = c.sizes[1]
    cdef bint output = c.n_layers == 1
    if hi <= lo:
        return
    # Z = X_b @ W_0 : (part x n_out) = (part x n_features, sparse) (n_features x n_out)
    csr_matmul(&c.csr, s.order, lo, hi, coefs[0], n_out, acts[0])
    bias_activation(acts[0] + lo * n_out,
                    NULL if preacts[0] == NULL else preacts[0] + lo * n_out, intercepts[0],
                    hi - lo, n_out, n_out, c.out_activation if output else c.hidden_activation,
                    NULL if output else _dropout(c, 0), lo, 0)


# The W_0 update is cut into slices, each after prefetching this many rows of the
# next minibatch (see _update_first_layer).
cdef Py_ssize_t PREFETCH_ROWS_PER_SLICE = 4


cdef double _update_first_layer(const StepContext* c, const Step* s, Py_ssize_t part,
                                Py_ssize_t n_parts, bint by_columns, floating* params,
                                Py_ssize_t j0, Py_ssize_t j1, double gscale) noexcept nogil:
    """The update of this part's rows [j0, j1) of W_0 (a dense X), in slices, each
    after prefetching PREFETCH_ROWS_PER_SLICE of the rows of the next minibatch that
    this part will gather: X's columns it gathers (see _input_share), and Y's rows.

    The gather reads rows scattered over all of X, from memory, and mostly waits.
    Prefetched between slices of the update, those reads overlap its arithmetic;
    prefetched a step earlier, they would no longer be in any cache when the gather
    comes. Returns sum(w^2) of these weights before the step.
    """
    cdef Py_ssize_t n_in = c.sizes[0], n_out = c.sizes[c.n_layers], width = c.sizes[1]
    cdef Py_ssize_t first = j0 * width, count = (j1 - j0) * width
    cdef Py_ssize_t r0, r1, c0, c1, y0, y1, k, r, row, a, b = 0, n_slices
    cdef const floating* X = <const floating*> c.X
    cdef const floating* Y = <const floating*> c.Y
    cdef double sumsq = 0
    _input_share(by_columns, s.next_rows, part, n_parts, c.sizes, &r0, &r1, &c0, &c1)
    share(s.next_rows, part, n_parts, &y0, &y1)
    n_slices = (r1 - r0 + PREFETCH_ROWS_PER_SLICE - 1) // PREFETCH_ROWS_PER_SLICE
    if n_slices <= 0:
        return _update(c, s, params, first, count, True, gscale)
    for k in range(n_slices):
        for r in range(r0 + k * PREFETCH_ROWS_PER_SLICE,
                       min(r1, r0 + (k + 1) * PREFETCH_ROWS_PER_SLICE)):
            row = s.next_order[r]
            prefetch_l2(X + row * n_in + c0, (c1 - c0) * sizeof(floating))
            if y0 <= r < y1:
                prefetch_l2(Y + row * n_out, n_out * sizeof(floating))
        # slices of whole 16-element blocks (64 bytes in float32)
        a = b
        b = count if k == n_slices - 1 else count * (k + 1) // n_slices // 16 * 16
        sumsq += _update(c, s, params, first + a, b - a, True, gscale)
    return sumsq


# ---- test twins of team.pxd ---------------------------------------------------------

def hidden_layer_ways(const Py_ssize_t[::1] sizes, Py_ssize_t n_parts, Py_ssize_t itemsize):
    """Test twin of team.sums_terms: "terms" or "columns" for each hidden layer of a
    network of these widths (input first), shared by n_parts threads."""
    return ["terms" if sums_terms(i, &sizes[0], n_parts, itemsize) else "columns"
            for i in range(sizes.shape[0] - 2)]


def input_shares(const Py_ssize_t[::1] sizes, Py_ssize_t i, Py_ssize_t n_parts):
    """Test twin of team.share_inputs: [(lo, hi) of each part] of layer i's input units."""
    cdef Py_ssize_t part, lo, hi
    shares = []
    for part in range(n_parts):
        share_inputs(i, &sizes[0], part, n_parts, &lo, &hi)
        shares.append((lo, hi))
    return shares
