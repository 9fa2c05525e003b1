"""A whole training epoch without the GIL: the minibatch loop around the step.

Each minibatch gets its scalars (its weights' sum, the L2 factor, the dropout key,
the optimizer's step number), then runs as one step (step.pyx) on a team of threads,
or on one thread playing the team. The GIL is taken only now and then to let Ctrl-C
through, between two whole steps (signals.pxd).
"""
from cython cimport floating
from libc.math cimport fabs, isfinite
from libc.stdlib cimport free, malloc

import numpy as np

from fastmlp._kernels.blas cimport blas_threads_local
from fastmlp._kernels.common cimport ADAPTIVE, DIVERGED, INTERRUPTED, OK, SERIAL
from fastmlp._kernels.dropout cimport Dropout, step_key
from fastmlp._kernels.signals cimport monotonic_seconds, reraise, signal_raised
from fastmlp._kernels.step cimport Step, StepContext, close_context, open_context, run_step

cdef inline double _now() noexcept nogil:
    return monotonic_seconds()


# ---- the adaptive team: the team, or one thread playing it ----------------------------

# A busy core makes every barrier of the team wait for a scheduler tick. So about
# once a second a probe times PROBE_STEPS full minibatches each way, and one thread
# takes over only when its steps take less than SERIAL_MARGIN of the team's in all
# (a busy core costs the team about half its speed; noise must not decide). The
# sums, not the fastest steps: beside a busy core some team steps are fast (the other
# process was off the core just then) and most are slow. The choice holds until the
# next probe: at least PROBE_SECONDS later (SERIAL_PROBE_SECONDS while one thread
# plays the team, to hand back soon when the core is free), and late enough for the
# probes to cost at most 1 / PROBE_COST_RATIO of the time.
cdef Py_ssize_t PROBE_STEPS = 3
cdef double SERIAL_MARGIN = 0.8
cdef double PROBE_SECONDS = 1.0
cdef double SERIAL_PROBE_SECONDS = 0.25
cdef double PROBE_COST_RATIO = 100


cdef struct Probe:
    bint team_wins      # the way chosen: the team (True) or one thread playing it
    # probe steps still to run; the first half on one thread (its cold start, the
    # epoch's or the team's idle worker, is not the team's)
    Py_ssize_t left
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


# ---- the epoch ------------------------------------------------------------------------

def train_epoch(floating[::1] params,          # IN/OUT flat parameters (n_params,)
                floating[::1] grads,           # scratch (n_params,)
                list state,                    # IN/OUT the optimizer's state arrays (n_params,)
                X,                             # IN (n_samples x n_features): C-contiguous or CSR
                const floating[:, ::1] Y,      # IN (n_samples x n_outputs)
                sample_weight,                 # IN (n_samples,), or None: all 1
                const Py_ssize_t[::1] order,   # IN the samples' visiting order
                const Py_ssize_t[::1] sizes,   # IN layer widths, input first
                floating[::1] workspace,       # scratch, step.workspace_length(...)
                config,                        # IN the kernels' settings (see below)
                Py_ssize_t n_threads, int team_mode, list probe_memory,
                long long t, unsigned long long n_steps):
    """Run one epoch of minibatch training in place, without the GIL.

    config (a TrainingConfig) gives batch_size, codes() (the hidden and output
    activations', the loss's and the optimizer's), learning_rate, optimizer_hyper
    (the optimizer's hyper-parameters in its table's order), alpha, dropout (None or
    a rate per hidden layer), dropout_seed and bound_blas (BLAS bounded to one thread
    per thread even without a team).

    With n_threads > 1 each step runs on a team of OpenMP threads that share the
    minibatch (see step.pyx), each calling BLAS single-threaded; with 1 on the
    calling thread, BLAS threading the gemms as it likes. team_mode (common.TeamMode):
    ADAPTIVE lets one thread play the team while that measures faster (see Probe);
    probe_memory, [team_wins, next_time], carries its choice from epoch to epoch.
    t is the optimizer's step count so far; n_steps the global step count, which
    keys the dropout masks.

    Returns ``(loss_sum, steps, t, status)``: loss_sum is the sum over the
    minibatches of batch loss x batch size (scikit-learn's accumulation), steps the
    number of updates applied, t the updated step count, status a common.Status. A
    minibatch whose sample weights sum to 0 is skipped. A pending signal exception
    (KeyboardInterrupt) is re-raised after the loop stopped between two steps. The
    caller validated every shape; this function trusts them.
    """
    cdef StepContext c
    cdef Step s
    cdef Py_ssize_t L = sizes.shape[0] - 1, n_samples = order.shape[0]
    cdef Py_ssize_t batch_size = config.batch_size
    cdef Py_ssize_t i, r, p, n_parts, start = 0, steps = 0, hidden_units = 0
    cdef double alpha = config.alpha, loss_sum = 0, batch_loss, sumsq, weight_sum
    cdef double last_check, step_start = 0
    cdef int status = OK, previous_blas_threads = -1
    cdef const floating[::1] weights = sample_weight
    cdef const double[::1] hyper = np.ascontiguousarray(config.optimizer_hyper,
                                                        dtype=np.float64)
    cdef unsigned long long dropout_seed = config.dropout_seed
    cdef bint bound_blas = config.bound_blas, serial, timed
    cdef Probe probe
    cdef Dropout* dropout = NULL
    cdef int hidden_code, out_code, loss_code, optimizer_code
    hidden_code, out_code, loss_code, optimizer_code = config.codes()
    probe.team_wins, probe.next_time = probe_memory   # next_time -1: a fit's first epoch
    probe.left = 0

    open_context(&c, sizes, hidden_code, out_code, loss_code, X, Y, sample_weight, params,
                 grads, state, optimizer_code, workspace, batch_size, n_threads, False)
    c.optimizer.learning_rate = config.learning_rate
    c.optimizer.hyper = &hyper[0] if hyper.shape[0] else NULL
    try:
        if config.dropout is not None:
            dropout = <Dropout*> malloc(max(L - 1, 1) * sizeof(Dropout))
            if dropout == NULL:
                raise MemoryError()
            for i in range(1, L):
                hidden_units += sizes[i]
            for i in range(L - 1):
                rate = config.dropout[i]
                dropout[i].threshold = <unsigned int> min(rate * 4294967296.0, 4294967295.0)
                dropout[i].keep = 1 - rate
                dropout[i].stride = hidden_units    # a row's counter positions
                dropout[i].offset = 0 if i == 0 else dropout[i - 1].offset + sizes[i]
            c.dropout = dropout
        with nogil:
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
                if c.sample_weight != NULL:
                    weight_sum = 0
                    for r in range(s.rows):
                        weight_sum += weights[s.order[r]]
                    if weight_sum <= 0:
                        continue   # nothing to learn from this minibatch
                s.scale = 1 / weight_sum
                s.l2 = alpha * s.scale
                c.optimizer.t = t + 1
                if dropout != NULL:
                    for i in range(L - 1):   # one key per step, all layers
                        dropout[i].key = step_key(dropout_seed, n_steps)
                n_parts = min(n_threads, s.rows)
                serial = n_parts > 1 and (team_mode == SERIAL or (
                    team_mode == ADAPTIVE and not probe.team_wins))
                timed = False   # a probe step (full minibatches only)
                if team_mode == ADAPTIVE and n_parts > 1 and s.rows == batch_size:
                    serial = _probe_choice(&probe, serial)
                    timed = probe.left > 0
                    step_start = _now() if timed else 0
                run_step(&c, &s, n_parts, serial)
                if timed:
                    _probe_record(&probe, serial, _now() - step_start)
                n_parts = <Py_ssize_t> c.partials[0]
                batch_loss = 0
                sumsq = 0
                for p in range(n_parts):
                    batch_loss += c.partials[1 + p]
                    sumsq += c.partials[1 + n_parts + p]
                if not isfinite(batch_loss):
                    status = DIVERGED   # no part applied this step
                    break
                t += 1
                n_steps += 1
                # batch loss x batch size, the loss being (weighted data loss + 0.5
                # alpha ||W||^2) / sum of weights
                loss_sum += (batch_loss + 0.5 * alpha * sumsq) * s.rows / weight_sum
                steps += 1
                if signal_raised(&last_check):   # Ctrl-C: stop between two whole steps
                    status = INTERRUPTED
                    break
            if previous_blas_threads > 0:
                blas_threads_local(previous_blas_threads)
    finally:
        free(dropout)
        close_context(&c)
    probe_memory[0], probe_memory[1] = bool(probe.team_wins), probe.next_time
    if status == INTERRUPTED:
        reraise()
    return loss_sum, steps, t, status
