"""Whole-epoch training, full-batch loss and gradient, and chunked prediction.

The flat parameter vector holds every layer's weights (row-major, layer by
layer) followed by every layer's biases; gradients and optimizer state use the
same layout (see fastmlp/_layout.py). Everything heavy runs without the GIL;
the GIL is taken only every CHECK_SIGNALS_SECONDS to let Ctrl-C through.
"""
from cython cimport floating
from cython.parallel cimport prange
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport isfinite, pow, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np

from fastmlp._blas cimport blas_threads_local
from fastmlp._losses cimport loss_delta
from fastmlp._network cimport backward, forward
from fastmlp._optimizers cimport adam_step, sgd_step

cdef enum:
    # Status codes of train_epoch; Python turns them into exceptions.
    OK = 0
    INTERRUPTED = 1     # a signal handler raised (Ctrl-C); re-raised on return
    DIVERGED = 2        # a minibatch loss was not finite; that step was not applied
    # Solvers
    SGD = 0
    ADAM = 1

STATUS_OK, STATUS_INTERRUPTED, STATUS_DIVERGED = OK, INTERRUPTED, DIVERGED
SOLVER_SGD, SOLVER_ADAM = SGD, ADAM

cdef double CHECK_SIGNALS_SECONDS = 0.2
cdef Py_ssize_t PREDICT_CHUNK_ROWS = 256
# The optimizer pass runs over chunks of this many parameters, shared among threads.
cdef Py_ssize_t UPDATE_CHUNK = 16384


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


cdef Py_ssize_t _part_length(const Py_ssize_t[::1] sizes, Py_ssize_t rows) noexcept nogil:
    """Scratch of one thread: its rows of the input and target batch, one activation
    buffer per layer, two delta buffers (each `rows` x the width concerned)."""
    cdef Py_ssize_t i, total = sizes[0] + sizes[sizes.shape[0] - 1] + 2 * _max_hidden(sizes)
    for i in range(1, sizes.shape[0]):
        total += sizes[i]
    return rows * total


def workspace_length(const Py_ssize_t[::1] sizes, Py_ssize_t batch_size,
                     Py_ssize_t n_threads=1):
    """Length of the scratch buffer train_epoch needs.

    Each of the n_threads threads gets ceil(batch_size / n_threads) rows of
    scratch (see _part_length); threads after the first also get a gradient
    buffer of n_params for their share of the minibatch's gradient.
    """
    cdef Py_ssize_t i, n_params = 0
    for i in range(sizes.shape[0] - 1):
        n_params += (sizes[i] + 1) * sizes[i + 1]
    cdef Py_ssize_t rows = (batch_size + n_threads - 1) // n_threads
    return n_threads * _part_length(sizes, rows) + (n_threads - 1) * n_params


cdef double _forward_backward_part(
        Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, const Py_ssize_t* batch_order,
        const floating* X, const floating* Y, Py_ssize_t n_layers, const Py_ssize_t* sizes,
        const floating** coefs, const floating** intercepts, floating** acts,
        floating** grads, floating* xb, floating* yb, floating* delta_a, floating* delta_b,
        int hidden_activation, int out_activation, int loss) noexcept nogil:
    """Forward and backward pass of one share of a minibatch of `rows` rows.

    Share `part` of `n_parts` is rows [lo, hi) of the minibatch (samples
    batch_order[lo:hi]); its gradient, scaled by 1 / rows, goes to grads. Returns
    the share's summed loss.
    """
    cdef Py_ssize_t lo = rows * part // n_parts, hi = rows * (part + 1) // n_parts
    cdef Py_ssize_t r, n_in = sizes[0], n_out = sizes[n_layers], part_rows = hi - lo
    cdef double part_loss
    if n_parts > 1:
        blas_threads_local(1)   # the threads are ours: each one's gemms run alone
    # Gather the share into contiguous buffers (one copy per row).
    for r in range(part_rows):
        memcpy(xb + r * n_in, X + batch_order[lo + r] * n_in, n_in * sizeof(floating))
        memcpy(yb + r * n_out, Y + batch_order[lo + r] * n_out, n_out * sizeof(floating))
    forward(part_rows, n_layers, sizes, coefs, intercepts, xb, acts,
            hidden_activation, out_activation)
    part_loss = loss_delta(acts[n_layers - 1], yb, grads[2 * n_layers - 1], part_rows,
                           n_out, loss, 1.0 / rows)
    backward(part_rows, n_layers, sizes, coefs, xb, acts, grads, delta_a, delta_b,
             hidden_activation)
    return part_loss


cdef double _update_range(
        Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t n_weights, floating* params,
        floating* grads, floating** partial_grads, Py_ssize_t n_partial,
        floating* moment_1, floating* moment_2, int solver, floating l2, double step,
        double learning_rate, double momentum, bint nesterov, double beta_1,
        double beta_2, double epsilon) noexcept nogil:
    """Sum the other threads' gradient shares into grads[lo:hi], then update
    params[lo:hi]; returns sum(w^2) over the weights of the range, before the update."""
    cdef Py_ssize_t i, p
    cdef Py_ssize_t range_weights = max(0, min(n_weights, hi) - lo)
    cdef floating* share
    for p in range(n_partial):
        share = partial_grads[p]
        for i in range(lo, hi):
            grads[i] += share[i]
    if solver == ADAM:
        return adam_step(params + lo, grads + lo, moment_1 + lo, moment_2 + lo,
                         range_weights, hi - lo, l2, <floating> step, <floating> beta_1,
                         <floating> beta_2, <floating> epsilon)
    return sgd_step(params + lo, grads + lo, moment_1 + lo, range_weights, hi - lo, l2,
                    <floating> learning_rate, <floating> momentum, nesterov)


def train_epoch(floating[::1] params,          # IN/OUT flat parameters (n_params,)
                floating[::1] grads,           # scratch (n_params,)
                floating[::1] moment_1,        # IN/OUT adam m, or sgd velocity (n_params,)
                floating[::1] moment_2,        # IN/OUT adam v (n_params,); unused by sgd
                const floating[:, ::1] X,      # IN (n_samples x n_features)
                const floating[:, ::1] Y,      # IN (n_samples x n_outputs)
                const Py_ssize_t[::1] order,   # IN visiting order of the samples
                const Py_ssize_t[::1] sizes,   # IN layer widths, input first
                floating[::1] workspace,       # scratch, workspace_length(sizes, batch, threads)
                Py_ssize_t batch_size, Py_ssize_t n_threads,
                int hidden_activation, int out_activation, int loss, int solver,
                double alpha, double learning_rate, double momentum, bint nesterov,
                double beta_1, double beta_2, double epsilon, long long adam_t):
    """Run one epoch of minibatch training in place, without the GIL.

    With n_threads > 1 every minibatch is split into n_threads shares of rows,
    each run forward and backward by its own OpenMP thread with single-threaded
    BLAS; the gradient shares are then summed inside the parallel optimizer pass.
    With n_threads == 1 the kernels run on the calling thread and BLAS threads
    the gemms as it likes.

    Returns ``(loss_sum, steps, adam_t, status)``: loss_sum is the sum over the
    minibatches of batch loss x batch size (scikit-learn's accumulation), steps
    the number of updates applied, adam_t the updated Adam step count. A pending
    signal exception (KeyboardInterrupt) is re-raised after the loop stopped
    between two steps. The caller validated every shape; this function trusts them.
    """
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef Py_ssize_t n_samples = order.shape[0]
    cdef Py_ssize_t n_params = params.shape[0]
    cdef Py_ssize_t n_weights = 0
    cdef Py_ssize_t i, t, c, rows, n_parts, start = 0, steps = 0
    cdef Py_ssize_t n_chunks = (n_params + UPDATE_CHUNK - 1) // UPDATE_CHUNK
    cdef Py_ssize_t part_rows = (batch_size + n_threads - 1) // n_threads
    cdef Py_ssize_t part_length = _part_length(sizes, part_rows)
    cdef Py_ssize_t max_hidden = _max_hidden(sizes)
    cdef double loss_sum = 0, batch_loss, sumsq, step = 0, last_check
    cdef int status = OK, previous_blas_threads = -1
    for i in range(n_layers):
        n_weights += sizes[i] * sizes[i + 1]

    # Pointer tables, per thread: acts (n_layers), grads (dW then db, 2 n_layers),
    # the scratch buffers (4); shared: coefs, intercepts; and the gradient shares.
    cdef Py_ssize_t per_thread = 3 * n_layers + 4
    cdef floating** table = <floating**> malloc(
        (2 * n_layers + n_threads * per_thread + n_threads) * sizeof(floating*))
    if table == NULL:
        raise MemoryError()
    cdef floating** coefs = table
    cdef floating** intercepts = table + n_layers
    cdef floating** threads_table = table + 2 * n_layers
    cdef floating** shares = threads_table + n_threads * per_thread
    cdef floating** tt
    cdef floating* cursor
    interrupt = None
    try:
        with nogil:
            _split_flat(&params[0], &sizes[0], n_layers, coefs, intercepts)
            for t in range(n_threads):
                tt = threads_table + t * per_thread
                cursor = &workspace[0] + t * part_length
                tt[3 * n_layers] = cursor                                   # xb
                cursor += part_rows * sizes[0]
                tt[3 * n_layers + 1] = cursor                               # yb
                cursor += part_rows * sizes[n_layers]
                for i in range(n_layers):
                    tt[i] = cursor                                          # acts[i]
                    cursor += part_rows * sizes[i + 1]
                tt[3 * n_layers + 2] = cursor                               # delta_a
                tt[3 * n_layers + 3] = cursor + part_rows * max_hidden      # delta_b
                # thread 0's gradient goes to grads, the others' to their shares
                shares[t] = &grads[0] if t == 0 else (
                    &workspace[0] + n_threads * part_length + (t - 1) * n_params)
                _split_flat(shares[t], &sizes[0], n_layers, tt + n_layers,
                            tt + 2 * n_layers)
            if n_threads > 1:
                previous_blas_threads = blas_threads_local(1)
            last_check = _now()
            while start < n_samples:
                rows = min(batch_size, n_samples - start)
                n_parts = min(n_threads, rows)
                batch_loss = 0
                if n_parts == 1:
                    tt = threads_table
                    batch_loss = _forward_backward_part(
                        0, 1, rows, &order[start], &X[0, 0], &Y[0, 0], n_layers,
                        &sizes[0], <const floating**> coefs, <const floating**> intercepts,
                        tt, tt + n_layers, tt[3 * n_layers], tt[3 * n_layers + 1],
                        tt[3 * n_layers + 2], tt[3 * n_layers + 3],
                        hidden_activation, out_activation, loss)
                else:
                    for t in prange(n_parts, num_threads=n_parts, schedule="static",
                                    chunksize=1):
                        batch_loss += _forward_backward_part(
                            t, n_parts, rows, &order[start], &X[0, 0], &Y[0, 0],
                            n_layers, &sizes[0], <const floating**> coefs,
                            <const floating**> intercepts,
                            threads_table + t * per_thread,
                            threads_table + t * per_thread + n_layers,
                            threads_table[t * per_thread + 3 * n_layers],
                            threads_table[t * per_thread + 3 * n_layers + 1],
                            threads_table[t * per_thread + 3 * n_layers + 2],
                            threads_table[t * per_thread + 3 * n_layers + 3],
                            hidden_activation, out_activation, loss)
                if not isfinite(batch_loss):
                    status = DIVERGED
                    break
                if solver == ADAM:
                    adam_t += 1
                    step = learning_rate * sqrt(1 - pow(beta_2, adam_t)) / (1 - pow(beta_1, adam_t))
                sumsq = 0
                if n_parts == 1:
                    sumsq = _update_range(0, n_params, n_weights, &params[0], &grads[0],
                                          shares + 1, 0, &moment_1[0], &moment_2[0],
                                          solver, <floating> (alpha / rows), step,
                                          learning_rate, momentum, nesterov, beta_1,
                                          beta_2, epsilon)
                else:
                    for c in prange(n_chunks, num_threads=n_parts, schedule="static"):
                        sumsq += _update_range(
                            c * UPDATE_CHUNK, min(n_params, (c + 1) * UPDATE_CHUNK),
                            n_weights, &params[0], &grads[0], shares + 1, n_parts - 1,
                            &moment_1[0], &moment_2[0], solver, <floating> (alpha / rows),
                            step, learning_rate, momentum, nesterov, beta_1, beta_2,
                            epsilon)
                # batch loss x batch size = data loss sum + 0.5 alpha ||W||^2
                loss_sum += batch_loss + 0.5 * alpha * sumsq
                steps += 1
                start += rows
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
    if status == INTERRUPTED:
        raise interrupt
    return loss_sum, steps, adam_t, status


def loss_and_gradient(const floating[::1] params,    # IN flat parameters (n_params,)
                      floating[::1] grads,           # OUT flat gradient (n_params,)
                      const floating[:, ::1] X,      # IN (n_samples x n_features)
                      const floating[:, ::1] Y,      # IN (n_samples x n_outputs)
                      const Py_ssize_t[::1] sizes,
                      int hidden_activation, int out_activation, int loss, double alpha):
    """Full-batch loss and its exact gradient, L2 penalty included (for tests and L-BFGS).

    loss = mean per-sample loss + 0.5 alpha ||W||^2 / n_samples.
    """
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef Py_ssize_t rows = X.shape[0]
    cdef Py_ssize_t i, n_weights = 0
    cdef double data_loss, sumsq = 0
    for i in range(n_layers):
        n_weights += sizes[i] * sizes[i + 1]
    dtype = np.float32 if floating is float else np.float64
    scratch_np = np.empty(workspace_length(sizes, rows, 1), dtype=dtype)
    cdef floating[::1] scratch = scratch_np
    cdef floating** pointers = <floating**> malloc(5 * n_layers * sizeof(floating*))
    if pointers == NULL:
        raise MemoryError()
    cdef floating** coefs = pointers
    cdef floating** intercepts = pointers + n_layers
    cdef floating** layer_grads = pointers + 2 * n_layers
    cdef floating** acts = pointers + 4 * n_layers
    # the input and target slots of the workspace are unused: X and Y are contiguous
    cdef floating* cursor = &scratch[0] + rows * (sizes[0] + sizes[n_layers])
    cdef Py_ssize_t max_hidden = _max_hidden(sizes)
    try:
        with nogil:
            _split_flat(<floating*> &params[0], &sizes[0], n_layers, coefs, intercepts)
            _split_flat(&grads[0], &sizes[0], n_layers, layer_grads, layer_grads + n_layers)
            for i in range(n_layers):
                acts[i] = cursor
                cursor += rows * sizes[i + 1]
            forward(rows, n_layers, &sizes[0], <const floating**> coefs,
                    <const floating**> intercepts, &X[0, 0], acts,
                    hidden_activation, out_activation)
            data_loss = loss_delta(acts[n_layers - 1], &Y[0, 0],
                                   layer_grads[2 * n_layers - 1], rows, sizes[n_layers],
                                   loss, 1.0 / rows)
            backward(rows, n_layers, &sizes[0], <const floating**> coefs, &X[0, 0], acts,
                     layer_grads, cursor, cursor + rows * max_hidden, hidden_activation)
            # dW += (alpha / n) W, and the penalty's share of the loss
            for i in range(n_weights):
                sumsq += params[i] * params[i]
                grads[i] += <floating> (alpha / rows) * params[i]
    finally:
        free(pointers)
    return (data_loss + 0.5 * alpha * sumsq) / rows


def predict_forward(list coefs, list intercepts,
                    const floating[:, ::1] X,       # IN (n_samples x n_features)
                    floating[:, ::1] out,           # OUT (n_samples x n_outputs)
                    int hidden_activation, int out_activation):
    """The forward pass over X in chunks of rows, without the GIL, into `out`.

    coefs[i] / intercepts[i] must be C-contiguous arrays of X's dtype with the
    shapes of a fitted model; the caller checks. Scratch is local to the call, so
    concurrent calls on one model are safe.
    """
    cdef Py_ssize_t n_layers = len(coefs)
    cdef Py_ssize_t n_samples = X.shape[0]
    cdef Py_ssize_t i, start, rows, chunk = min(PREDICT_CHUNK_ROWS, n_samples)
    cdef const floating[:, ::1] w
    cdef const floating[::1] b
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
    dtype = np.float32 if floating is float else np.float64
    scratch_np = np.empty(max(chunk * hidden_total, 1), dtype=dtype)
    cdef floating[::1] scratch = scratch_np
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
                forward(rows, n_layers, &sizes[0], w_ptr, b_ptr, &X[start, 0], acts,
                        hidden_activation, out_activation)
                start += rows
    finally:
        free(pointers)
