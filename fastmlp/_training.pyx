"""Whole-epoch training, full-batch loss and gradient, and chunked prediction.

The flat parameter vector holds every layer's weights (row-major, layer by
layer) followed by every layer's biases; gradients and optimizer state use the
same layout (see fastmlp/_layout.py). Everything heavy runs without the GIL;
the GIL is taken only every CHECK_SIGNALS_SECONDS to let Ctrl-C through.
"""
from cython cimport floating
from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport isfinite, pow, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np

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


def workspace_length(const Py_ssize_t[::1] sizes, Py_ssize_t rows):
    """Length of the scratch buffer train_epoch needs for minibatches of `rows` rows.

    Layout: input batch (rows x sizes[0]), target batch (rows x sizes[-1]), one
    activation buffer per layer (rows x sizes[i + 1]), two delta buffers (rows x
    the largest hidden size).
    """
    cdef Py_ssize_t i, total = sizes[0] + sizes[sizes.shape[0] - 1] + 2 * _max_hidden(sizes)
    for i in range(1, sizes.shape[0]):
        total += sizes[i]
    return rows * total


def train_epoch(floating[::1] params,          # IN/OUT flat parameters (n_params,)
                floating[::1] grads,           # scratch (n_params,)
                floating[::1] moment_1,        # IN/OUT adam m, or sgd velocity (n_params,)
                floating[::1] moment_2,        # IN/OUT adam v (n_params,); unused by sgd
                const floating[:, ::1] X,      # IN (n_samples x n_features)
                const floating[:, ::1] Y,      # IN (n_samples x n_outputs)
                const Py_ssize_t[::1] order,   # IN visiting order of the samples
                const Py_ssize_t[::1] sizes,   # IN layer widths, input first
                floating[::1] workspace,       # scratch, workspace_length(sizes, batch_size)
                Py_ssize_t batch_size,
                int hidden_activation, int out_activation, int loss, int solver,
                double alpha, double learning_rate, double momentum, bint nesterov,
                double beta_1, double beta_2, double epsilon, long long adam_t):
    """Run one epoch of minibatch training in place, without the GIL.

    Returns ``(loss_sum, steps, adam_t, status)``: loss_sum is the sum over the
    minibatches of batch loss x batch size (scikit-learn's accumulation), steps
    the number of updates applied, adam_t the updated Adam step count. A pending
    signal exception (KeyboardInterrupt) is re-raised after the loop stopped
    between two steps. The caller validated every shape; this function trusts them.
    """
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef Py_ssize_t n_samples = order.shape[0]
    cdef Py_ssize_t n_in = sizes[0], n_out = sizes[n_layers]
    cdef Py_ssize_t n_params = params.shape[0]
    cdef Py_ssize_t n_weights = 0
    cdef Py_ssize_t i, r, rows, start, steps = 0
    cdef double loss_sum = 0, batch_loss, sumsq, step, last_check
    cdef int status = 0
    for i in range(n_layers):
        n_weights += sizes[i] * sizes[i + 1]

    cdef floating** pointers = <floating**> malloc(5 * n_layers * sizeof(floating*))
    if pointers == NULL:
        raise MemoryError()
    cdef floating** coefs = pointers
    cdef floating** intercepts = pointers + n_layers
    cdef floating** layer_grads = pointers + 2 * n_layers     # dW_0..dW_L-1, db_0..db_L-1
    cdef floating** acts = pointers + 4 * n_layers
    cdef floating* xb = &workspace[0]
    cdef floating* yb = xb + batch_size * n_in
    cdef floating* cursor = yb + batch_size * n_out
    cdef Py_ssize_t max_hidden = _max_hidden(sizes)
    cdef floating* delta_a
    cdef floating* delta_b
    interrupt = None
    try:
        with nogil:
            _split_flat(&params[0], &sizes[0], n_layers, coefs, intercepts)
            _split_flat(&grads[0], &sizes[0], n_layers, layer_grads, layer_grads + n_layers)
            for i in range(n_layers):
                acts[i] = cursor
                cursor += batch_size * sizes[i + 1]
            delta_a = cursor
            delta_b = cursor + batch_size * max_hidden
            last_check = _now()
            start = 0
            while start < n_samples:
                rows = min(batch_size, n_samples - start)
                start += rows
                # Gather the minibatch into contiguous buffers (one copy per row).
                for r in range(rows):
                    memcpy(xb + r * n_in, &X[order[start - rows + r], 0], n_in * sizeof(floating))
                    memcpy(yb + r * n_out, &Y[order[start - rows + r], 0], n_out * sizeof(floating))
                forward(rows, n_layers, &sizes[0], <const floating**> coefs,
                        <const floating**> intercepts, xb, acts,
                        hidden_activation, out_activation)
                batch_loss = loss_delta(acts[n_layers - 1], yb,
                                        layer_grads[2 * n_layers - 1], rows, n_out,
                                        loss, 1.0 / rows)
                if not isfinite(batch_loss):
                    status = DIVERGED
                    break
                backward(rows, n_layers, &sizes[0], <const floating**> coefs, xb, acts,
                         layer_grads, delta_a, delta_b, hidden_activation)
                if solver == ADAM:
                    adam_t += 1
                    step = learning_rate * sqrt(1 - pow(beta_2, adam_t)) / (1 - pow(beta_1, adam_t))
                    sumsq = adam_step(&params[0], &grads[0], &moment_1[0], &moment_2[0],
                                      n_weights, n_params, <floating> (alpha / rows),
                                      <floating> step, <floating> beta_1,
                                      <floating> beta_2, <floating> epsilon)
                else:
                    sumsq = sgd_step(&params[0], &grads[0], &moment_1[0], n_weights,
                                     n_params, <floating> (alpha / rows),
                                     <floating> learning_rate, <floating> momentum, nesterov)
                # batch loss x batch size = data loss sum + 0.5 alpha ||W||^2
                loss_sum += batch_loss + 0.5 * alpha * sumsq
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
    finally:
        free(pointers)
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
    scratch_np = np.empty(workspace_length(sizes, rows), dtype=dtype)
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
