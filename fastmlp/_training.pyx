"""Whole-epoch training, full-batch loss and gradient, and chunked prediction.

The flat parameter vector holds every layer's weights (row-major, layer by
layer) followed by every layer's biases; gradients and optimizer state use the
same layout (see fastmlp/_layout.py). Everything heavy runs without the GIL;
the GIL is taken only every CHECK_SIGNALS_SECONDS to let Ctrl-C through.
"""
from cython cimport floating
from cython.parallel cimport parallel, threadid
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport fabs, isfinite, pow, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from openmp cimport omp_get_num_threads
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np

from fastmlp._blas cimport blas_threads_local
from fastmlp._dropout cimport Dropout, step_key
from fastmlp._losses cimport loss_delta
from fastmlp._activations cimport bias_activation
from fastmlp._network cimport (backward, backward_layer, forward, forward_columns,
                               forward_partial, reduce_columns, share, share_inputs,
                               sums_terms, team_barrier)
from fastmlp._sparse cimport csr_rows_matmul, csr_rows_transpose_matmul, index_t
from fastmlp._optimizers cimport adam_step, sgd_step

cdef enum:
    # Status codes of train_epoch; Python turns them into exceptions.
    OK = 0
    INTERRUPTED = 1     # a signal handler raised (Ctrl-C); re-raised on return
    DIVERGED = 2        # a minibatch loss was not finite; that step was not applied
    # Solvers, as fastmlp._codes.SOLVER_CODES names them
    SGD = 0
    ADAM = 1

STATUS_OK, STATUS_DIVERGED = OK, DIVERGED

cdef double CHECK_SIGNALS_SECONDS = 0.2
# predict runs chunks of rows whose hidden activations fill about this much scratch:
# large enough for efficient gemms, small enough to stay in cache
cdef Py_ssize_t PREDICT_CHUNK_BYTES = 2 * 1024 * 1024


cdef struct Hyper:
    # What one epoch needs besides arrays, read once from the Python config.
    Py_ssize_t batch_size
    Py_ssize_t n_threads
    int hidden_activation
    int out_activation
    int loss
    int solver
    double alpha
    double learning_rate
    double momentum
    bint nesterov
    double beta_1
    double beta_2
    double epsilon
    Py_ssize_t term_stride      # elements between two parts' terms of a hidden layer


cdef struct Step:
    # One minibatch: its size, its samples, and the scalars of its update.
    Py_ssize_t rows
    const Py_ssize_t* order     # the minibatch's samples: order[0..rows)
    double scale                # 1 / (sum of the minibatch's sample weights)
    double l2                   # alpha * scale, the L2 gradient factor
    double step                 # Adam's bias-corrected step size
    Py_ssize_t next_rows        # the next minibatch, whose rows the W_0 update
    const Py_ssize_t* next_order    # prefetches (0 rows: none follows)


cdef extern from *:
    """
    /* Ask for the cache lines of bytes [p, p + n) to be brought into L2
       (prefetcht1): a hint that never faults, whose loads go on while the
       core computes. On x86 as a volatile asm statement: gcc 12 -O1 and up
       deleted the __builtin_prefetch loop here as dead code. */
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #define FASTMLP_PREFETCH_L2(address) \
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
    void fastmlp_prefetch_l2(const void* p, Py_ssize_t n) noexcept nogil


cdef double _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + 1e-9 * ts.tv_nsec


cdef int _split_flat(floating* flat, const Py_ssize_t* sizes, Py_ssize_t n_layers,
                     floating** coefs, floating** intercepts) noexcept nogil:
    """Point coefs[i] / intercepts[i] into the flat layout (all weights, then biases)."""
    cdef Py_ssize_t i, offset = 0
    for i in range(n_layers):
        coefs[i] = flat + offset
        offset += sizes[i] * sizes[i + 1]
    for i in range(n_layers):
        intercepts[i] = flat + offset
        offset += sizes[i + 1]
    return 0


cdef Py_ssize_t _max_hidden(const Py_ssize_t[::1] sizes) noexcept nogil:
    cdef Py_ssize_t i, m = 0
    for i in range(1, sizes.shape[0] - 1):
        m = max(m, sizes[i])
    return m


cdef Py_ssize_t _n_biases(const Py_ssize_t[::1] sizes) noexcept nogil:
    cdef Py_ssize_t i, total = 0
    for i in range(1, sizes.shape[0]):
        total += sizes[i]
    return total


def workspace_length(const Py_ssize_t[::1] sizes, Py_ssize_t batch_size,
                     Py_ssize_t n_threads=1, bint dense_input=True, Py_ssize_t itemsize=8):
    """Length of the scratch buffer train_epoch needs (elements of itemsize bytes).

    Shared by the threads: the gathered input batch (only for a dense X: a sparse
    one is read in place), the target and sample-weight batch, one activation
    buffer per layer, two delta buffers (each batch_size x the width concerned).
    Each thread after the first also gets its own share of the bias gradients, and
    where a team sums terms (see _network.sums_terms) each thread has two buffers
    for its term of a hidden layer (two, so that one layer's terms are written while
    the last layer's are still being added up).
    """
    return (batch_size * ((sizes[0] if dense_input else 0) + sizes[sizes.shape[0] - 1] + 1
                          + _network_length(sizes))
            + (n_threads - 1) * _n_biases(sizes)
            + 2 * n_threads * _term_length(&sizes[0], sizes.shape[0] - 1, batch_size,
                                           n_threads, itemsize))


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


cdef Py_ssize_t _network_length(const Py_ssize_t[::1] sizes) noexcept nogil:
    """Scratch per row for the activations of every layer and the two delta buffers."""
    return _n_biases(sizes) + 2 * _max_hidden(sizes)


cdef void _sparse_first_layer(
        Py_ssize_t lo, Py_ssize_t hi, const Py_ssize_t* order, const index_t* X_indptr,
        const index_t* X_indices, const floating* X_data, Py_ssize_t n_layers,
        const Py_ssize_t* sizes, const floating** coefs, const floating** intercepts,
        floating** acts, const Hyper* h, const Dropout* dropout) noexcept nogil:
    """acts[0][lo:hi] = act(X[order[lo:hi]] @ W_0 + b_0) for a CSR X (the caller's
    forward pass goes on from layer 1)."""
    if hi <= lo:
        return
    # Z = X_b @ W_0 : (part x n_out) = (part x n_features, sparse) (n_features x n_out)
    csr_rows_matmul(X_indptr, X_indices, X_data, order, lo, hi, coefs[0], sizes[1], acts[0])
    if n_layers == 1:
        bias_activation(acts[0] + lo * sizes[1], intercepts[0], hi - lo, sizes[1], sizes[1],
                        h.out_activation, NULL, lo, 0)
    else:
        bias_activation(acts[0] + lo * sizes[1], intercepts[0], hi - lo, sizes[1], sizes[1],
                        h.hidden_activation, dropout, lo, 0)


cdef double _update(const Hyper* h, const Step* s, floating* params, const floating* grads,
                    floating* moment_1, floating* moment_2, Py_ssize_t first,
                    Py_ssize_t count, bint weights) noexcept nogil:
    """The optimizer step on params[first:first + count] (weights, with the L2 term,
    or biases); returns sum(w^2) of those weights before the step."""
    if count <= 0:
        return 0
    if h.solver == ADAM:
        return adam_step(params + first, grads + first, moment_1 + first, moment_2 + first,
                         count if weights else 0, count, <floating> s.l2, <floating> s.step,
                         <floating> h.beta_1, <floating> h.beta_2, <floating> h.epsilon)
    return sgd_step(params + first, grads + first, moment_1 + first, count if weights else 0,
                    count, <floating> s.l2, <floating> h.learning_rate,
                    <floating> h.momentum, h.nesterov)


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


# The W_0 update is cut into slices, each after prefetching this many rows of the
# next minibatch (see _update_first_layer).
cdef Py_ssize_t PREFETCH_ROWS_PER_SLICE = 4


cdef double _update_first_layer(const Hyper* h, const Step* s, floating* params,
                                const floating* grads, floating* moment_1,
                                floating* moment_2, Py_ssize_t first, Py_ssize_t count,
                                const floating* X, const floating* Y, Py_ssize_t n_in,
                                Py_ssize_t n_out, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t c0, Py_ssize_t c1, Py_ssize_t y0,
                                Py_ssize_t y1) noexcept nogil:
    """The update of this part's rows of W_0 (params[first:first + count]), in slices,
    each after prefetching PREFETCH_ROWS_PER_SLICE of the rows r0..r1 of the next
    minibatch that this part will gather: X's columns [c0, c1) (see _input_share),
    and Y's rows among y0..y1.

    The gather reads rows scattered over all of X, from memory: about 40 us a step
    for 128 rows x 392 float32 inputs, most of it waiting. Prefetched between slices
    of the update, those reads overlap its arithmetic. 784-256-128-10, batch 128,
    per thread and epoch: gather 19 -> 6-13 ms, update 17 -> 20-22 ms; epochs 2.2-2.4%
    faster (interleaved, quiet rounds), batch 32 about 1.5%. 2, 4, 8 or all rows per
    slice measured alike. Prefetched a step earlier, the rows were no longer in any
    cache when the gather came (C microbenchmark). Returns sum(w^2) of these weights
    before the step.
    """
    cdef Py_ssize_t n_slices = (r1 - r0 + PREFETCH_ROWS_PER_SLICE - 1) // PREFETCH_ROWS_PER_SLICE
    cdef Py_ssize_t k, r, row, a, b = 0
    cdef double sumsq = 0
    if n_slices <= 0:
        return _update(h, s, params, grads, moment_1, moment_2, first, count, True)
    for k in range(n_slices):
        for r in range(r0 + k * PREFETCH_ROWS_PER_SLICE,
                       min(r1, r0 + (k + 1) * PREFETCH_ROWS_PER_SLICE)):
            row = s.next_order[r]
            fastmlp_prefetch_l2(X + row * n_in + c0, (c1 - c0) * sizeof(floating))
            if y0 <= r < y1:
                fastmlp_prefetch_l2(Y + row * n_out, n_out * sizeof(floating))
        # slices of whole 16-element blocks (64 bytes in float32)
        a = b
        b = count if k == n_slices - 1 else count * (k + 1) // n_slices // 16 * 16
        sumsq += _update(h, s, params, grads, moment_1, moment_2, first + a, b - a, True)
    return sumsq


cdef enum:
    # What _train_step_part returns
    SEGMENT_DONE = -1   # ran the segment asked for; later segments follow
    STEP_SKIPPED = -2   # the minibatch loss is not finite: no update, no later segment


cdef Py_ssize_t _train_step_part(
        Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t segment, const Step* s,
        const Hyper* h, const floating* X, const index_t* X_indptr,
        const index_t* X_indices, const floating* X_data, const floating* Y,
        const floating* sample_weight, Py_ssize_t n_layers, const Py_ssize_t* sizes,
        floating** table, floating** bias_shares, const Dropout* dropout,
        floating* params, floating* grads, floating* moment_1, floating* moment_2,
        double* partials) noexcept nogil:
    """This part's share of one training step, or of one segment of it.

    table: coefs, intercepts, acts, coef grads (n_layers each), xb, yb, wb,
    delta_a, delta_b, the two sets of terms. X_indptr is NULL for a dense X;
    otherwise X is the CSR matrix (X_indptr, X_indices, X_data) and the first layer
    reads its rows in place. Each part computes its units of every hidden layer, as
    a sum of the parts' terms or by columns (see _network); it gathers its columns
    of the minibatch for the first way, its rows for the second. The output layer,
    the loss and the output delta go by rows. After the loss's barrier the backward
    pass goes down the layers, and each part updates its rows of W_i as soon as
    their gradient is computed (still in this core's cache; no other part reads them
    in the rest of the step), and its share of each layer's biases, so no separate
    pass over all parameters follows.
    The update is skipped, by every part alike, when the minibatch loss is not
    finite. partials: [team size, loss share per part..., sum of squares per part...]

    The barriers cut the step into segments 0, 1, ... With segment < 0 the part
    runs them all, one thread per part meeting at the barriers (the team). With
    segment = k it runs segment k alone and returns: one thread can then play the
    whole team, segment by segment and part by part, computing exactly what the
    team computes (the serial fallback of train_epoch). Returns SEGMENT_DONE after a
    segment that is not the last, STEP_SKIPPED for a non-finite loss, and else the
    number of the last segment.
    """
    cdef Py_ssize_t rows = s.rows
    cdef Py_ssize_t lo, hi, j0, j1, r, i, p, first_layer, n_in = sizes[0], n_out = sizes[n_layers]
    cdef Py_ssize_t k = 0   # the segment the code below is in
    cdef const floating** coefs = <const floating**> table
    cdef const floating** intercepts = <const floating**> (table + n_layers)
    cdef floating** acts = table + 2 * n_layers
    cdef floating** coef_grads = table + 3 * n_layers
    cdef floating* xb = table[4 * n_layers]
    cdef floating* yb = table[4 * n_layers + 1]
    cdef floating* wb = table[4 * n_layers + 2]
    cdef floating* delta_a = table[4 * n_layers + 3]
    cdef floating* delta_b = table[4 * n_layers + 4]
    cdef floating** term_sets = table + 4 * n_layers + 5   # two, each n_parts terms
    cdef floating* terms
    cdef bint by_columns, with_terms
    cdef Py_ssize_t r0, r1, c0, c1, lo_next, hi_next
    cdef floating** bias_grads = bias_shares   # thread 0's shares are the flat gradient's
    cdef floating* share_p
    cdef floating* delta
    cdef floating* delta_prev
    cdef double* sumsq = partials + 1 + n_parts + part   # accumulated across segments
    cdef double total_loss = 0
    share(rows, part, n_parts, &lo, &hi)
    first_layer = 0 if X_indptr == NULL else 1
    # When the first hidden layer is a sum of terms (see _network), each part
    # gathers its columns of every row of the minibatch; otherwise its rows.
    by_columns = (X_indptr == NULL and n_layers > 1
                  and sums_terms(0, sizes, n_parts, sizeof(floating)))
    if segment <= 0:
        if part == 0:
            partials[0] = n_parts   # the team OpenMP gave us may be smaller than asked
        if n_parts > 1 and segment < 0:
            blas_threads_local(1)   # the threads are ours: each one's gemms run alone
        sumsq[0] = 0
        # Gather the minibatch into the contiguous buffers: inputs, targets, weights.
        if X_indptr == NULL:
            _input_share(by_columns, rows, part, n_parts, sizes, &r0, &r1, &c0, &c1)
            for r in range(r0, r1):
                memcpy(xb + r * n_in + c0, X + s.order[r] * n_in + c0,
                       (c1 - c0) * sizeof(floating))
        for r in range(lo, hi):
            memcpy(yb + r * n_out, Y + s.order[r] * n_out, n_out * sizeof(floating))
            if sample_weight != NULL:
                wb[r] = sample_weight[s.order[r]]
        if X_indptr != NULL:   # the sparse first layer, by rows, read in place
            _sparse_first_layer(lo, hi, s.order, X_indptr, X_indices, X_data, n_layers,
                                sizes, coefs, intercepts, acts, h, dropout)
    for i in range(first_layer, n_layers - 1):
        with_terms = sums_terms(i, sizes, n_parts, sizeof(floating))
        # Every hidden layer leaves each part its own columns; the gathered input
        # too when by_columns, the sparse first layer its rows.
        if not with_terms or i == first_layer == 1:
            if segment == k:
                return SEGMENT_DONE
            k += 1
            team_barrier()   # layer i reads columns of its input that other parts wrote
        if not with_terms:
            if segment < 0 or segment == k:
                forward_columns(part, n_parts, rows, i, sizes, coefs, intercepts,
                                xb if i == 0 else acts[i - 1], acts[i], h.hidden_activation,
                                NULL if dropout == NULL else dropout + i)
            continue
        # This part's term, in one of two alternating sets of terms (the next
        # layer's are written while other parts may still add up this one's).
        terms = term_sets[i % 2]
        if segment < 0 or segment == k:
            forward_partial(part, n_parts, rows, i, sizes, coefs,
                            xb if i == 0 else acts[i - 1], terms + part * h.term_stride)
        if segment == k:
            return SEGMENT_DONE
        k += 1
        team_barrier()   # the sum needs every part's term
        if segment < 0 or segment == k:
            reduce_columns(part, n_parts, rows, i, sizes, intercepts, terms, h.term_stride,
                           acts[i], h.hidden_activation,
                           NULL if dropout == NULL else dropout + i)
    if first_layer < n_layers - 1:
        if segment == k:
            return SEGMENT_DONE
        k += 1
        team_barrier()   # the output layer reads every column of the last hidden one
    if segment < 0 or segment == k:
        forward(lo, hi, max(first_layer, n_layers - 1), n_layers, sizes, coefs, intercepts,
                xb, acts, h.hidden_activation, h.out_activation, dropout)
        partials[1 + part] = loss_delta(acts[n_layers - 1] + lo * n_out, yb + lo * n_out,
                                        NULL if sample_weight == NULL else wb + lo,
                                        bias_shares[part * n_layers + n_layers - 1], hi - lo,
                                        n_out, h.loss, s.scale)
    if segment == k:
        return SEGMENT_DONE
    k += 1
    team_barrier()   # the weight gradients need every row's delta; the update, the loss
    for p in range(n_parts):
        total_loss += partials[1 + p]
    if not isfinite(total_loss):
        return STEP_SKIPPED
    delta = acts[n_layers - 1]
    if segment < 0 or segment == k:
        # The output biases: this part's units, the other parts' row shares summed in.
        share(n_out, part, n_parts, &j0, &j1)
        for p in range(1, n_parts):
            share_p = bias_shares[p * n_layers + n_layers - 1]
            for i in range(j0, j1):
                bias_grads[n_layers - 1][i] += share_p[i]
        _update(h, s, params, grads, moment_1, moment_2,
                (intercepts[n_layers - 1] - params) + j0, j1 - j0, False)
    for i in range(n_layers - 1, -1 if X_indptr == NULL else 0, -1):
        delta_prev = NULL if i == 0 else (delta_a if delta != delta_a else delta_b)
        if segment < 0 or segment == k:
            backward_layer(part, n_parts, rows, i, True, sizes, coefs,
                           xb if i == 0 else acts[i - 1], delta, delta_prev, coef_grads[i],
                           NULL if i == 0 else bias_grads[i - 1], h.hidden_activation,
                           NULL if dropout == NULL or i == 0 else dropout + i - 1)
            # This part's rows of W_i (dW_i's rows just computed), then its share of b_{i-1}.
            share_inputs(i, sizes, part, n_parts, &j0, &j1)
            if i == 0:   # a dense X: meanwhile prefetch what this part gathers next
                _input_share(by_columns, s.next_rows, part, n_parts, sizes, &r0, &r1,
                             &c0, &c1)
                share(s.next_rows, part, n_parts, &lo_next, &hi_next)
                sumsq[0] += _update_first_layer(h, s, params, grads, moment_1, moment_2,
                                                (coefs[0] - params) + j0 * sizes[1],
                                                (j1 - j0) * sizes[1], X, Y, n_in, n_out,
                                                r0, r1, c0, c1, lo_next, hi_next)
            else:
                sumsq[0] += _update(h, s, params, grads, moment_1, moment_2,
                                    (coefs[i] - params) + j0 * sizes[i + 1],
                                    (j1 - j0) * sizes[i + 1], True)
            if i > 0:
                _update(h, s, params, grads, moment_1, moment_2,
                        (intercepts[i - 1] - params) + j0, j1 - j0, False)
        if i > 0:
            if segment == k:
                return SEGMENT_DONE
            k += 1
            team_barrier()   # layer i - 1 reads every column of delta_prev
            delta = delta_prev
    if X_indptr != NULL:
        if segment < 0 or segment == k:
            # dW_0[:, c0:c1] = X_b^T @ delta_0[:, c0:c1], read from the CSR rows
            share(sizes[1], part, n_parts, &j0, &j1)
            csr_rows_transpose_matmul(X_indptr, X_indices, X_data, s.order, rows, delta,
                                      n_in, sizes[1], j0, j1, coef_grads[0])
        if segment == k:
            return SEGMENT_DONE
        k += 1
        team_barrier()   # this part's rows of dW_0 have every part's columns
        if segment < 0 or segment == k:
            share_inputs(0, sizes, part, n_parts, &j0, &j1)
            sumsq[0] += _update(h, s, params, grads, moment_1, moment_2, j0 * sizes[1],
                                (j1 - j0) * sizes[1], True)
    return k


cdef enum:
    # How a step with several parts runs (config.team_mode)
    TEAM_ADAPTIVE = 0   # the team, or one thread playing it when that measures faster
    TEAM_ALWAYS = 1     # the team
    TEAM_SERIAL = 2     # one thread playing the team (tests)

TEAM_MODES = {"adaptive": TEAM_ADAPTIVE, "always": TEAM_ALWAYS, "serial": TEAM_SERIAL}

# The adaptive choice: PROBE_STEPS full minibatches each way; one thread takes over
# only when its steps take less than SERIAL_MARGIN of the team's in all (a busy core
# costs the team about half its speed; noise must not). The sums, not the fastest
# steps: beside a busy core some team steps are fast (the other process was off the
# core just then) and most slow; the fastest kept the team 1.2 s per epoch at batch
# 128 where one thread took 0.78. The choice holds until the next
# probe: at least PROBE_SECONDS later (SERIAL_PROBE_SECONDS while one thread plays the
# team, to hand back soon when the core is free), and late enough for the probes to
# cost at most 1 / PROBE_COST_RATIO of the time.
cdef Py_ssize_t PROBE_STEPS = 3
cdef double SERIAL_MARGIN = 0.8
cdef double PROBE_SECONDS = 1.0
cdef double SERIAL_PROBE_SECONDS = 0.25
cdef double PROBE_COST_RATIO = 100


cdef struct Probe:
    bint team_wins      # the way chosen: the team (True) or one thread playing it
    Py_ssize_t left     # probe steps still to run; the first half on one thread (its cold
                        # start, the epoch's or the team's idle worker, is not the team's)
    double team_seconds     # the probe's steps each way, seconds in all
    double serial_seconds
    double next_time    # when the next probe starts (_now() seconds)


cdef bint _probe_choice(Probe* probe, bint serial) noexcept nogil:
    """Whether this full minibatch runs serially: a probe step's way, or the choice."""
    if probe.left == 0 and _now() >= probe.next_time:
        probe.left = 2 * PROBE_STEPS
        probe.team_seconds = probe.serial_seconds = 0
    if probe.left > 0:
        return probe.left > PROBE_STEPS
    return serial


cdef void _probe_record(Probe* probe, bint serial, double seconds) noexcept nogil:
    """Count a timed probe step; after the last one keep the faster way."""
    if serial:
        probe.serial_seconds += seconds
    else:
        probe.team_seconds += seconds
    probe.left -= 1
    if probe.left == 0:
        probe.team_wins = probe.serial_seconds >= SERIAL_MARGIN * probe.team_seconds
        probe.next_time = _now() + max(
            PROBE_SECONDS if probe.team_wins else SERIAL_PROBE_SECONDS,
            PROBE_COST_RATIO * fabs(probe.serial_seconds - probe.team_seconds))


def train_epoch(floating[::1] params,          # IN/OUT flat parameters (n_params,)
                floating[::1] grads,           # scratch (n_params,)
                floating[::1] moment_1,        # IN/OUT adam m, or sgd velocity (n_params,)
                floating[::1] moment_2,        # IN/OUT adam v (n_params,); unused by sgd
                const floating[:, ::1] X,      # IN (n_samples x n_features), or (1 x n_features)
                const index_t[::1] X_indptr,   # IN a CSR X's arrays, or empty for a dense X
                const index_t[::1] X_indices,
                const floating[::1] X_data,
                const floating[:, ::1] Y,      # IN (n_samples x n_outputs)
                const floating[::1] sample_weight,  # IN (n_samples,), or empty: all 1
                const Py_ssize_t[::1] order,   # IN visiting order of the samples
                const Py_ssize_t[::1] sizes,   # IN layer widths, input first
                floating[::1] workspace,       # scratch, workspace_length(sizes, batch, threads, ...)
                config,                        # IN hyper-parameters (see Hyper), dropout
                long long adam_t, unsigned long long n_steps):
    """Run one epoch of minibatch training in place, without the GIL.

    With config.n_threads > 1 each step runs on a team of OpenMP threads that
    share the minibatch (rows for the forward pass and the deltas, columns for
    the weight gradients, slices for the update; see _train_step_part), each
    calling BLAS single-threaded. With 1 the step runs on the calling thread
    and BLAS threads the gemms as it likes. config.team_mode (TEAM_MODES): with
    'adaptive' a probe every second or so times a few minibatches on the team and
    a few on the calling thread alone playing every part in turn (the same
    arithmetic, so the same result to the bit), and the team steps aside while it
    measures clearly slower: a busy core makes every barrier wait for a scheduler
    tick. config.dropout is None or a rate
    per hidden layer; its mask keys come from config.dropout_seed and the global
    step number n_steps.

    Returns ``(loss_sum, steps, adam_t, status)``: loss_sum is the sum over the
    minibatches of batch loss x batch size (scikit-learn's accumulation), steps
    the number of updates applied, adam_t the updated Adam step count. A
    minibatch whose sample weights sum to 0 is skipped. A pending signal exception
    (KeyboardInterrupt) is re-raised after the loop stopped between two steps.
    The caller validated every shape; this function trusts them.
    """
    cdef Hyper h
    h.batch_size, h.n_threads = config.batch_size, config.n_threads
    h.hidden_activation, h.out_activation = config.hidden_code, config.out_code
    h.loss, h.solver = config.loss_code, config.solver_code
    h.alpha, h.learning_rate, h.momentum = config.alpha, config.learning_rate, config.momentum
    h.nesterov, h.beta_1, h.beta_2 = config.nesterov, config.beta_1, config.beta_2
    h.epsilon = config.epsilon
    h.term_stride = _term_length(&sizes[0], sizes.shape[0] - 1, config.batch_size,
                                 config.n_threads, sizeof(floating))
    cdef Step s
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef Py_ssize_t n_samples = order.shape[0]
    cdef Py_ssize_t n_threads = h.n_threads, batch_size = h.batch_size
    cdef Py_ssize_t i, t, r, n_parts, start = 0, steps = 0
    cdef double loss_sum = 0, batch_loss, sumsq, weight_sum, last_check
    cdef int status = OK, previous_blas_threads = -1
    cdef const floating* weights = NULL if sample_weight.shape[0] == 0 else &sample_weight[0]
    cdef const index_t* csr_indptr = NULL if X_indptr.shape[0] == 0 else &X_indptr[0]
    cdef const index_t* csr_indices = NULL if X_indices.shape[0] == 0 else &X_indices[0]
    cdef const floating* csr_data = NULL if X_data.shape[0] == 0 else &X_data[0]
    cdef unsigned long long dropout_seed = config.dropout_seed
    cdef unsigned int key
    # n_threads set by the user bounds BLAS too, even on one thread
    cdef bint bound_blas = config.bound_blas
    # None for n_threads: the team, or one thread playing it while a core is busy
    cdef int team_mode = getattr(config, "team_mode", TEAM_ADAPTIVE)
    cdef Probe probe
    cdef bint serial, timed
    cdef Py_ssize_t segment, last
    cdef double step_start = 0
    # the last choice and when to probe again, carried from epoch to epoch
    memory = getattr(config, "probe_memory", None)   # [team_wins, next_time] or None
    probe.team_wins = True if memory is None else memory[0]
    probe.next_time = -1 if memory is None else memory[1]   # -1: a fit's first epoch
    probe.left = 0

    if workspace.shape[0] < workspace_length(sizes, batch_size, n_threads,
                                             csr_indptr == NULL, sizeof(floating)):
        raise ValueError("train_epoch: the workspace is shorter than workspace_length()")
    # table: coefs, intercepts, acts, coef grads (n_layers each), xb, yb, wb,
    # delta_a, delta_b, the two sets of terms; then each thread's bias-gradient
    # pointers (n_layers each).
    cdef floating** table = <floating**> malloc(
        (4 * n_layers + 7 + n_threads * n_layers) * sizeof(floating*))
    # partials: team size, then per thread its loss share and its sum of squares
    cdef double* partials = <double*> malloc((2 * n_threads + 1) * sizeof(double))
    cdef Dropout* dropout = NULL
    if config.dropout is not None:
        dropout = <Dropout*> malloc(max(n_layers - 1, 1) * sizeof(Dropout))
    if table == NULL or partials == NULL or (config.dropout is not None and dropout == NULL):
        free(table)
        free(partials)
        free(dropout)
        raise MemoryError()
    if dropout != NULL:
        for i in range(n_layers - 1):
            rate = config.dropout[i]
            dropout[i].threshold = <unsigned int> min(rate * 4294967296.0, 4294967295.0)
            dropout[i].keep = 1 - rate
            dropout[i].stride = _n_biases(sizes) - sizes[n_layers]   # all hidden units
            dropout[i].offset = 0 if i == 0 else dropout[i - 1].offset + sizes[i]
    cdef floating** bias_shares = table + 4 * n_layers + 7
    cdef floating* cursor = &workspace[0]
    interrupt = None
    try:
        with nogil:
            _split_flat(&params[0], &sizes[0], n_layers, table, table + n_layers)
            _split_flat(&grads[0], &sizes[0], n_layers, table + 3 * n_layers, bias_shares)
            # first the terms, whole cache lines each, then the input batch (cache-
            # line aligned like the workspace: each row of 784 float32 inputs is 49
            # whole lines)
            for i in range(2):                                             # terms
                table[4 * n_layers + 5 + i] = cursor
                cursor += n_threads * h.term_stride
            table[4 * n_layers] = cursor                                   # xb
            if csr_indptr == NULL:   # a CSR X is read in place: no input batch
                cursor += batch_size * sizes[0]
            table[4 * n_layers + 1] = cursor                               # yb
            cursor += batch_size * sizes[n_layers]
            table[4 * n_layers + 2] = cursor                               # wb
            cursor += batch_size
            for i in range(n_layers):
                table[2 * n_layers + i] = cursor                           # acts[i]
                cursor += batch_size * sizes[i + 1]
            table[4 * n_layers + 3] = cursor                               # delta_a
            cursor += batch_size * _max_hidden(sizes)
            table[4 * n_layers + 4] = cursor                               # delta_b
            cursor += batch_size * _max_hidden(sizes)
            for t in range(1, n_threads):   # thread 0's bias gradients go to grads
                for i in range(n_layers):
                    bias_shares[t * n_layers + i] = cursor
                    cursor += sizes[i + 1]
            if n_threads > 1 or bound_blas:
                previous_blas_threads = blas_threads_local(1)
            last_check = _now()
            if probe.next_time < 0:   # a fit starts with the team, and probes after a while
                probe.next_time = last_check + PROBE_SECONDS
            while start < n_samples:
                s.rows = min(batch_size, n_samples - start)
                s.order = &order[start]
                start += s.rows
                s.next_rows = min(batch_size, n_samples - start)
                s.next_order = &order[start] if s.next_rows > 0 else NULL
                weight_sum = s.rows
                if weights != NULL:
                    weight_sum = 0
                    for r in range(s.rows):
                        weight_sum += weights[s.order[r]]
                    if weight_sum <= 0:
                        continue   # nothing to learn from this minibatch
                s.scale = 1 / weight_sum
                s.l2 = h.alpha * s.scale
                if h.solver == ADAM:
                    s.step = (h.learning_rate * sqrt(1 - pow(h.beta_2, adam_t + 1))
                              / (1 - pow(h.beta_1, adam_t + 1)))
                if dropout != NULL:
                    key = step_key(dropout_seed, n_steps)   # one per step, all layers
                    for i in range(n_layers - 1):
                        dropout[i].key = key
                n_parts = min(n_threads, s.rows)
                serial = n_parts > 1 and (team_mode == TEAM_SERIAL or (
                    team_mode == TEAM_ADAPTIVE and not probe.team_wins))
                timed = False   # a probe step (full minibatches only)
                if team_mode == TEAM_ADAPTIVE and n_parts > 1 and s.rows == batch_size:
                    serial = _probe_choice(&probe, serial)
                    timed = probe.left > 0
                    step_start = _now() if timed else 0
                if n_parts == 1:
                    _train_step_part(0, 1, -1, &s, &h, &X[0, 0], csr_indptr, csr_indices,
                                     csr_data, &Y[0, 0], weights, n_layers,
                                     &sizes[0], table, bias_shares, dropout, &params[0],
                                     &grads[0], &moment_1[0], &moment_2[0], partials)
                elif serial:
                    # This thread plays the whole team, segment by segment: the same
                    # gemms and sums as the team's, so the same result to the bit.
                    segment = 0
                    while True:
                        for t in range(n_parts):
                            last = _train_step_part(t, n_parts, segment, &s, &h, &X[0, 0],
                                                    csr_indptr, csr_indices, csr_data,
                                                    &Y[0, 0], weights, n_layers, &sizes[0],
                                                    table, bias_shares, dropout, &params[0],
                                                    &grads[0], &moment_1[0], &moment_2[0],
                                                    partials)
                        if last != SEGMENT_DONE:
                            break
                        segment += 1
                else:
                    with parallel(num_threads=n_parts):
                        _train_step_part(threadid(), omp_get_num_threads(), -1, &s, &h,
                                         &X[0, 0], csr_indptr, csr_indices, csr_data,
                                         &Y[0, 0], weights, n_layers, &sizes[0],
                                         table, bias_shares, dropout, &params[0], &grads[0],
                                         &moment_1[0], &moment_2[0], partials)
                if timed:
                    _probe_record(&probe, serial, _now() - step_start)
                n_parts = <Py_ssize_t> partials[0]
                batch_loss = 0
                sumsq = 0
                for t in range(n_parts):
                    batch_loss += partials[1 + t]
                    sumsq += partials[1 + n_parts + t]
                if not isfinite(batch_loss):
                    status = DIVERGED   # no thread applied this step
                    break
                if h.solver == ADAM:
                    adam_t += 1
                n_steps += 1
                # batch loss x batch size, the loss being (weighted data loss + 0.5
                # alpha ||W||^2) / sum of weights
                loss_sum += (batch_loss + 0.5 * h.alpha * sumsq) * s.rows / weight_sum
                steps += 1
                if _now() - last_check > CHECK_SIGNALS_SECONDS:
                    # Take the GIL briefly so a Ctrl-C (or any raising signal
                    # handler) can stop the epoch between two complete steps.
                    with gil:
                        try:
                            PyErr_CheckSignals()
                        except BaseException as exc:
                            interrupt = exc
                    if interrupt is not None:
                        status = INTERRUPTED
                        break
                    last_check = _now()
            if previous_blas_threads > 0:
                blas_threads_local(previous_blas_threads)
    finally:
        free(table)
        free(partials)
        free(dropout)
    if memory is not None:
        memory[0], memory[1] = bool(probe.team_wins), probe.next_time
    if status == INTERRUPTED:
        raise interrupt
    return loss_sum, steps, adam_t, status


def csr_arrays(X, dtype):
    """(dense stand-in, indptr, indices, data) for the kernels: a CSR X's arrays, or X
    itself with empty index arrays when it is dense."""
    if hasattr(X, "indptr"):
        stand_in = np.zeros((1, X.shape[1]), dtype=dtype)
        return stand_in, X.indptr, X.indices, X.data
    return X, _NO_INDEX, _NO_INDEX, np.empty(0, dtype=dtype)


_NO_INDEX = np.empty(0, dtype=np.int32)


def loss_and_gradient(params, grads, X, Y, sizes, int hidden_activation, int out_activation,
                      int loss, double alpha, sample_weight=None):
    """Full-batch loss and its exact gradient, L2 penalty included (for tests and L-BFGS).

    loss = (sum_i w_i loss_i + 0.5 alpha ||W||^2) / sum_i w_i, with w_i = 1 when
    sample_weight is None (scikit-learn's definition). X is a C-contiguous array
    or a CSR matrix of the parameters' dtype; the output goes to grads.
    """
    stand_in, indptr, indices, data = csr_arrays(X, Y.dtype)
    return _loss_and_gradient(params, grads, stand_in, indptr, indices, data, Y, sizes,
                              X.shape[0], hidden_activation, out_activation, loss, alpha,
                              sample_weight)


def _loss_and_gradient(const floating[::1] params,    # IN flat parameters (n_params,)
                       floating[::1] grads,           # OUT flat gradient (n_params,)
                       const floating[:, ::1] X,      # IN (n_samples x n_features) or stand-in
                       const index_t[::1] X_indptr,   # IN a CSR X, or empty
                       const index_t[::1] X_indices,
                       const floating[::1] X_data,
                       const floating[:, ::1] Y,      # IN (n_samples x n_outputs)
                       const Py_ssize_t[::1] sizes, Py_ssize_t rows,
                       int hidden_activation, int out_activation, int loss, double alpha,
                       const floating[::1] sample_weight=None):   # IN (n_samples,) or None
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef Py_ssize_t i, n_weights = 0
    cdef double data_loss, sumsq = 0, weight_sum = rows
    cdef const floating* weights = NULL
    cdef bint sparse = X_indptr.shape[0] > 0
    cdef Hyper h
    h.hidden_activation, h.out_activation = hidden_activation, out_activation
    if sample_weight is not None:
        weights = &sample_weight[0]
        weight_sum = 0
        for i in range(rows):
            weight_sum += sample_weight[i]
    for i in range(n_layers):
        n_weights += sizes[i] * sizes[i + 1]
    dtype = np.float32 if floating is float else np.float64
    # X, Y and the weights are read in place: scratch for activations and deltas only
    scratch_np = np.empty(rows * _network_length(sizes), dtype=dtype)
    cdef floating[::1] scratch = scratch_np
    order_np = np.arange(rows if sparse else 1, dtype=np.intp)
    cdef const Py_ssize_t[::1] order = order_np
    cdef floating** pointers = <floating**> malloc(5 * n_layers * sizeof(floating*))
    if pointers == NULL:
        raise MemoryError()
    cdef floating** coefs = pointers
    cdef floating** intercepts = pointers + n_layers
    cdef floating** layer_grads = pointers + 2 * n_layers
    cdef floating** acts = pointers + 4 * n_layers
    cdef floating* cursor = &scratch[0]
    cdef floating* first_delta
    cdef Py_ssize_t max_hidden = _max_hidden(sizes)
    try:
        with nogil:
            _split_flat(<floating*> &params[0], &sizes[0], n_layers, coefs, intercepts)
            _split_flat(&grads[0], &sizes[0], n_layers, layer_grads, layer_grads + n_layers)
            for i in range(n_layers):
                acts[i] = cursor
                cursor += rows * sizes[i + 1]
            if sparse:
                _sparse_first_layer(0, rows, &order[0], &X_indptr[0], &X_indices[0],
                                    &X_data[0], n_layers, &sizes[0],
                                    <const floating**> coefs, <const floating**> intercepts,
                                    acts, &h, NULL)
            forward(0, rows, 1 if sparse else 0, n_layers, &sizes[0],
                    <const floating**> coefs, <const floating**> intercepts, &X[0, 0], acts,
                    hidden_activation, out_activation, NULL)
            data_loss = loss_delta(acts[n_layers - 1], &Y[0, 0], weights,
                                   layer_grads[2 * n_layers - 1], rows, sizes[n_layers],
                                   loss, 1.0 / weight_sum)
            first_delta = backward(0, 1, rows, 1 if sparse else 0, n_layers, &sizes[0],
                                   <const floating**> coefs, &X[0, 0], acts, layer_grads,
                                   layer_grads + n_layers, cursor,
                                   cursor + rows * max_hidden, hidden_activation, NULL)
            if sparse:
                # dW_0 = X^T @ delta_0, from the CSR rows
                csr_rows_transpose_matmul(&X_indptr[0], &X_indices[0], &X_data[0], &order[0],
                                          rows, first_delta, sizes[0], sizes[1], 0, sizes[1],
                                          layer_grads[0])
            # dW += (alpha / sum w) W, and the penalty's share of the loss
            for i in range(n_weights):
                sumsq += params[i] * params[i]
                grads[i] += <floating> (alpha / weight_sum) * params[i]
    finally:
        free(pointers)
    return (data_loss + 0.5 * alpha * sumsq) / weight_sum


def predict_forward(list coefs, list intercepts, X, out, int hidden_activation,
                    int out_activation):
    """The forward pass over X (C-contiguous, or CSR) in chunks of rows, into `out`.

    coefs[i] / intercepts[i] must be C-contiguous arrays of out's dtype with the
    shapes of a fitted model; the caller checks. Scratch is local to the call, so
    concurrent calls on one model are safe.
    """
    stand_in, indptr, indices, data = csr_arrays(X, out.dtype)
    _predict_forward(coefs, intercepts, stand_in, indptr, indices, data, out,
                     hidden_activation, out_activation)


def _predict_forward(list coefs, list intercepts,
                     const floating[:, ::1] X,       # IN (n_samples x n_features) or stand-in
                     const index_t[::1] X_indptr,    # IN a CSR X, or empty
                     const index_t[::1] X_indices,
                     const floating[::1] X_data,
                     floating[:, ::1] out,           # OUT (n_samples x n_outputs)
                     int hidden_activation, int out_activation):
    cdef Py_ssize_t n_layers = len(coefs)
    cdef Py_ssize_t n_samples = out.shape[0]
    cdef Py_ssize_t i, start, rows, chunk
    cdef bint sparse = X_indptr.shape[0] > 0
    cdef const floating[:, ::1] w
    cdef const floating[::1] b
    cdef Hyper h
    h.hidden_activation, h.out_activation = hidden_activation, out_activation
    if n_samples == 0:
        return
    sizes_np = np.empty(n_layers + 1, dtype=np.intp)
    cdef Py_ssize_t[::1] sizes = sizes_np
    sizes[0] = X.shape[1]
    for i in range(n_layers):
        sizes[i + 1] = coefs[i].shape[1]
    cdef Py_ssize_t hidden_total = 0
    for i in range(1, n_layers):
        hidden_total += sizes[i]
    chunk = min(n_samples, max(64, PREDICT_CHUNK_BYTES // max(hidden_total * sizeof(floating), 1)))
    dtype = np.float32 if floating is float else np.float64
    scratch_np = np.empty(max(chunk * hidden_total, 1), dtype=dtype)
    cdef floating[::1] scratch = scratch_np
    order_np = np.arange(n_samples if sparse else 1, dtype=np.intp)
    cdef const Py_ssize_t[::1] order = order_np
    cdef floating** pointers = <floating**> malloc(3 * n_layers * sizeof(floating*))
    if pointers == NULL:
        raise MemoryError()
    cdef const floating** w_ptr = <const floating**> pointers
    cdef const floating** b_ptr = <const floating**> (pointers + n_layers)
    cdef floating** acts = pointers + 2 * n_layers
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
            start = 0
            while start < n_samples:
                rows = min(chunk, n_samples - start)
                acts[n_layers - 1] = &out[start, 0]    # the last layer writes in place
                if sparse:
                    _sparse_first_layer(0, rows, &order[start], &X_indptr[0], &X_indices[0],
                                        &X_data[0], n_layers, &sizes[0], w_ptr, b_ptr, acts,
                                        &h, NULL)
                    forward(0, rows, 1, n_layers, &sizes[0], w_ptr, b_ptr, &X[0, 0], acts,
                            hidden_activation, out_activation, NULL)
                else:
                    forward(0, rows, 0, n_layers, &sizes[0], w_ptr, b_ptr, &X[start, 0],
                            acts, hidden_activation, out_activation, NULL)
                start += rows
    finally:
        free(pointers)
