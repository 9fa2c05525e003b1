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

from fastmlp._kernels.blas cimport one_blas_thread_begin, one_blas_thread_end
from fastmlp._kernels.common cimport ADAPTIVE, DIVERGED, INTERRUPTED, OK, SERIAL
from fastmlp._kernels.dropout cimport Dropout, step_key
from fastmlp._kernels.signals cimport monotonic_seconds, reraise, signal_raised
from fastmlp._kernels.step cimport Step, StepContext, close_context, open_context, run_step

cdef extern from "cpu_load.h" nogil:
    int fastmlp_allowed_cpus_busy(double* busy_seconds, int* n_cpus)
    int fastmlp_others_runnable()
    double fastmlp_process_cpu_seconds()

cdef inline double _now() noexcept nogil:
    return monotonic_seconds()


# ---- the adaptive team: the team, or one thread playing it ----------------------------

# A busy core makes every barrier of the team wait for a scheduler tick: a team step
# then takes many times one thread's. So a probe times PROBE_STEPS full minibatches
# on one thread playing the team, then one team step that wakes the team's threads,
# then PROBE_STEPS on the team; one thread takes over when its steps take less than
# SERIAL_MARGIN of the team's in all (a busy core costs the team from a sixth to most
# of its speed; noise must not decide). The sums, not the fastest steps: beside a busy
# core some team steps are fast (the other process was off the core just then) and
# most are slow. The team's half stops as soon as it has lost: when its steps so far,
# or its waking step alone, took more than the serial half / SERIAL_MARGIN. So a
# probe beside a busy core costs one slow team step, not four.
#
# A fit probes at its first full minibatch: a fit shorter than a second gets the
# right way too. Then the team's steps are watched against the probe's mean serial
# step: their time beyond it adds up (time under it counts too, down to SLOW_STEPS
# serial steps' worth, so that a long good run does not hide a new busy phase), and
# when the team has lost SLOW_STEPS serial steps' time the next probe starts. Time,
# not a count of slow steps: beside a busy core most team steps may be fast and a
# few take a scheduler tick each. So a core which turns busy is noticed within a few
# steps (but not before the probes can have cost at most 1 / PROBE_COST_RATIO of the
# time). Otherwise the team's choice holds until the next probe, PROBE_SECONDS later.
# One thread's choice holds SERIAL_PROBE_SECONDS, to hand back soon when the core is
# free again (another library's threads that still spin after their work, for one),
# doubling with every probe the team loses in a row, up to SERIAL_PROBE_SECONDS_MOST:
# beside a core that stays busy, each probe costs a slow team step.
#
# Before a probe wakes the team, the kernel's CPU counts say whether other processes
# took the cores since the last look (cpu_load.h): when they took more than the
# cores the team leaves free, plus LOAD_MARGIN_CORES, and as many of their tasks are
# runnable now (a span's average also counts a process that has gone to sleep since,
# whose cores are free again), one thread plays the team with
# no probe, and the counts are read again LOAD_MIN_SECONDS later. The watch
# looks too, as soon as it finds the team's steps slow. This spares a busy machine
# the team's waking steps and its slow steps; the probe stays the judge whenever the
# counts see free cores (a CPU quota, for one, takes time they do not show).
# The counts are per scheduler tick, so the look spans LOAD_MIN_SECONDS at least:
# a fit's first look spans the time since the last fit, or since the import.
cdef Py_ssize_t PROBE_STEPS = 3
cdef double SERIAL_MARGIN = 0.85
cdef double PROBE_SECONDS = 1.0
cdef double SERIAL_PROBE_SECONDS = 0.25
cdef double SERIAL_PROBE_SECONDS_MOST = 8
cdef double PROBE_COST_RATIO = 100
cdef double SLOW_STEPS = 3
cdef double LOAD_MIN_SECONDS = 0.1
cdef double LOAD_MARGIN_CORES = 0.5


cdef struct Probe:
    bint team_wins      # the way chosen: the team (True) or one thread playing it
    # probe steps still to run: the serial half (left > PROBE_STEPS + 1), the team's
    # waking step (left == PROBE_STEPS + 1), the team's half
    Py_ssize_t left
    double team_seconds     # the probe's steps each way, seconds in all (the team's
    double serial_seconds   # without its waking step)
    double waking_seconds   # the team's waking step
    double next_time    # when the next probe starts (_now() seconds)
    double earliest     # no probe before then: the probes' cost bound
    double serial_step  # the last probe's mean serial step, seconds
    double excess       # the team's watched steps' time beyond serial steps (see above)
    double losses       # the probes the team lost in a row
    # the last look at the cores (see above): when, the allowed CPUs' busy seconds
    # and this process's CPU seconds then; load_time 0: none
    double load_time
    double load_busy
    double load_own
    double load_skips   # the probes the counts skipped, in all


# The last look at the cores a fit took, for the next fit's first look: its
# load_time, load_busy and load_own, written with the GIL held.
cdef double _last_load[3]


cdef bint _look_at_cores(double* when, double* busy, double* own,
                         int* n_cpus) noexcept nogil:
    """A look at the cores now; False when the counts cannot be read."""
    own[0] = fastmlp_process_cpu_seconds()
    when[0] = _now()
    return own[0] >= 0 and fastmlp_allowed_cpus_busy(busy, n_cpus) == 0


cdef double others_cores(double busy_delta, double own_delta,
                         double interval) noexcept nogil:
    """The cores other processes took over an interval: the allowed CPUs' busy
    seconds less this process's own, per second."""
    return (busy_delta - own_delta) / interval


cdef bint taken(double others, int runnable, int n_cpus,
                Py_ssize_t n_threads) noexcept nogil:
    """The rule: others took more than the cores a team of n_threads leaves free,
    plus LOAD_MARGIN_CORES, over the span, and as many of their tasks are runnable
    now (runnable -1: unknown, the span decides)."""
    return (others > n_cpus - n_threads + LOAD_MARGIN_CORES
            and (runnable < 0 or runnable > n_cpus - n_threads))


cdef bint _cores_taken(Probe* probe, Py_ssize_t n_threads) noexcept nogil:
    """Whether the cores a team of n_threads needs are taken (the rule of `taken`:
    over the span since the last look, and now). Looks again when the last look is
    LOAD_MIN_SECONDS old or more (or there was none); False without a look."""
    cdef double when, busy, own, others
    cdef int n_cpus
    cdef bint is_taken = False
    if probe.load_time > 0 and _now() - probe.load_time < LOAD_MIN_SECONDS:
        return False
    if not _look_at_cores(&when, &busy, &own, &n_cpus):
        return False
    if probe.load_time > 0:
        others = others_cores(busy - probe.load_busy, own - probe.load_own,
                              when - probe.load_time)
        is_taken = taken(others, fastmlp_others_runnable(), n_cpus, n_threads)
    probe.load_time, probe.load_busy, probe.load_own = when, busy, own
    return is_taken


def look_at_cores():
    """One look at the cores, as the adaptive team takes it: (monotonic seconds,
    busy seconds of the CPUs this process may run on, this process's CPU seconds);
    the first is 0 where the kernel's counts cannot be read."""
    cdef double when, busy = 0, own
    cdef int n_cpus
    if not _look_at_cores(&when, &busy, &own, &n_cpus):
        return 0.0, 0.0, 0.0
    return when, busy, own


def others_runnable():
    """The tasks of other processes runnable right now (cpu_load.h); -1: unknown."""
    return fastmlp_others_runnable()


def cores_taken_by_others(double busy_delta, double own_delta, double interval,
                          int n_cpus, int n_threads, int runnable=-1):
    """The adaptive team's rule on two looks at the cores and the tasks of other
    processes runnable now: (the cores other processes took, whether that leaves
    too few for a team of n_threads)."""
    cdef double others = others_cores(busy_delta, own_delta, interval)
    return others, taken(others, runnable, n_cpus, n_threads)


_last_load[0], _last_load[1], _last_load[2] = look_at_cores()


# The Probe as a fit keeps it from epoch to epoch (new_probe_memory): its fields, in order.
PROBE_FIELDS = ("team_wins", "left", "team_seconds", "serial_seconds", "waking_seconds",
                "next_time", "earliest", "serial_step", "excess", "losses",
                "load_time", "load_busy", "load_own", "load_skips")


def new_probe_memory():
    """The adaptive team's memory at the start of a fit: the team, probing at once,
    from the last fit's last look at the cores."""
    memory = np.zeros(len(PROBE_FIELDS), dtype=np.float64)
    memory[0] = 1
    memory[10:13] = _last_load
    return memory


cdef void _probe_load(Probe* probe, const double[::1] memory) noexcept nogil:
    probe.team_wins = memory[0] != 0
    probe.left = <Py_ssize_t> memory[1]
    probe.team_seconds, probe.serial_seconds = memory[2], memory[3]
    probe.waking_seconds = memory[4]
    probe.next_time, probe.earliest = memory[5], memory[6]
    probe.serial_step, probe.excess = memory[7], memory[8]
    probe.losses = memory[9]
    probe.load_time, probe.load_busy, probe.load_own = memory[10], memory[11], memory[12]
    probe.load_skips = memory[13]


cdef void _probe_store(const Probe* probe, double[::1] memory) noexcept nogil:
    memory[0] = probe.team_wins
    memory[1] = probe.left
    memory[2], memory[3] = probe.team_seconds, probe.serial_seconds
    memory[4] = probe.waking_seconds
    memory[5], memory[6] = probe.next_time, probe.earliest
    memory[7], memory[8] = probe.serial_step, probe.excess
    memory[9] = probe.losses
    memory[10], memory[11], memory[12] = probe.load_time, probe.load_busy, probe.load_own
    memory[13] = probe.load_skips


cdef void _skip_probe(Probe* probe) noexcept nogil:
    """The cores are taken: one thread plays the team with no probe; look again as
    soon as a look means something (a look costs about a hundred microseconds, a
    wrong skip a tenth of a second of one thread at most)."""
    probe.team_wins = False
    probe.excess = 0
    probe.next_time = _now() + LOAD_MIN_SECONDS
    probe.load_skips += 1


cdef bint _probe_choice(Probe* probe, bint serial, Py_ssize_t n_threads) noexcept nogil:
    """Whether this full minibatch runs serially: a probe step's way, or the choice."""
    if probe.left == 0 and _now() >= probe.next_time:
        if _cores_taken(probe, n_threads):
            _skip_probe(probe)
            return True
        probe.left = 2 * PROBE_STEPS + 1
        probe.team_seconds = probe.serial_seconds = probe.waking_seconds = 0
    if probe.left > 0:
        return probe.left > PROBE_STEPS + 1
    return serial


cdef void _probe_end(Probe* probe) noexcept nogil:
    """Keep the faster way, and set when the next probe may start."""
    cdef Py_ssize_t team_steps = PROBE_STEPS - probe.left   # the team's half may stop early
    cdef double now = _now(), cost
    probe.team_wins = (probe.left == 0
                       and probe.serial_seconds >= SERIAL_MARGIN * probe.team_seconds)
    probe.left = 0
    probe.serial_step = probe.serial_seconds / PROBE_STEPS
    probe.excess = 0
    # what the probe cost over the way chosen: the team's steps against as many serial
    cost = fabs(probe.waking_seconds + probe.team_seconds
                - (team_steps + 1) * probe.serial_step)
    probe.earliest = now + PROBE_COST_RATIO * cost
    if probe.team_wins:
        probe.losses = 0
        probe.next_time = max(probe.earliest, now + PROBE_SECONDS)
    else:
        probe.next_time = now + min(SERIAL_PROBE_SECONDS * 2 ** probe.losses,
                                    SERIAL_PROBE_SECONDS_MOST)
        probe.losses += 1


cdef void _probe_record(Probe* probe, bint serial, double seconds,
                        Py_ssize_t n_threads) noexcept nogil:
    """Count a full minibatch's step: a probe step, or a team step watched for a
    core turning busy (a look at the cores first: it costs no probe)."""
    cdef double lost_at
    if probe.left == 0:
        if not serial:
            probe.excess = max(probe.excess + seconds - probe.serial_step,
                               -SLOW_STEPS * probe.serial_step)
            if probe.excess >= SLOW_STEPS * probe.serial_step:
                if _cores_taken(probe, n_threads):
                    _skip_probe(probe)
                else:
                    probe.next_time = probe.earliest
        return
    if probe.left > PROBE_STEPS + 1:
        probe.serial_seconds += seconds
    elif probe.left == PROBE_STEPS + 1:
        probe.waking_seconds = seconds
    else:
        probe.team_seconds += seconds
    probe.left -= 1
    lost_at = probe.serial_seconds / SERIAL_MARGIN
    if probe.left <= PROBE_STEPS and (
            probe.left == 0 or probe.team_seconds > lost_at or probe.waking_seconds > lost_at):
        _probe_end(probe)


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
                Py_ssize_t n_threads, Py_ssize_t rows_per_part, int team_mode,
                double[::1] probe_memory,
                long long t, unsigned long long n_steps):
    """Run one epoch of minibatch training in place, without the GIL.

    config (a TrainingConfig) gives batch_size, codes() (the hidden and output
    activations', the loss's and the optimizer's), learning_rate, optimizer_hyper
    (the optimizer's hyper-parameters in its table's order), alpha, dropout (None or
    a rate per hidden layer), dropout_seed, label_smoothing, clip_norm (None or the
    largest global norm of a step's gradient) and bound_blas (BLAS bounded to one
    thread per thread even without a team).

    With n_threads > 1 each step runs on a team of OpenMP threads that share the
    minibatch (see step.pyx), each calling BLAS single-threaded; with 1 on the
    calling thread, BLAS threading the gemms as it likes. A step of fewer rows (the
    epoch's last) runs on fewer threads: at most one per rows_per_part rows, the
    fewest rows that pay for a team member's barriers. team_mode (common.TeamMode):
    ADAPTIVE lets one thread play the team while that measures faster (see Probe);
    probe_memory (new_probe_memory() for a fit's first epoch) carries its choice and
    its probe in progress from epoch to epoch.
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
    if rows_per_part < 1:
        raise ValueError("rows_per_part must be at least 1")
    cdef Py_ssize_t i, r, p, n_parts, start = 0, steps = 0, hidden_units = 0
    cdef double alpha = config.alpha, loss_sum = 0, batch_loss, sumsq, weight_sum
    cdef double last_check, step_start = 0
    cdef int status = OK
    cdef bint one_blas_thread = False   # BLAS held on one thread (blas.pxd)
    cdef const floating[::1] weights = sample_weight
    cdef const double[::1] hyper = np.ascontiguousarray(config.optimizer_hyper,
                                                        dtype=np.float64)
    cdef unsigned long long dropout_seed = config.dropout_seed
    cdef bint bound_blas = config.bound_blas, serial, timed
    cdef Probe probe
    cdef Dropout* dropout = NULL
    cdef int hidden_code, out_code, loss_code, optimizer_code
    hidden_code, out_code, loss_code, optimizer_code = config.codes()
    if probe_memory.shape[0] != len(PROBE_FIELDS):
        raise ValueError(f"probe_memory needs {len(PROBE_FIELDS)} fields")
    _probe_load(&probe, probe_memory)

    open_context(&c, sizes, hidden_code, out_code, loss_code, X, Y, sample_weight, params,
                 grads, state, optimizer_code, workspace, batch_size, n_threads, False)
    c.optimizer.learning_rate = config.learning_rate
    c.clip_norm = config.clip_norm or 0
    c.label_smoothing = config.label_smoothing
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
                one_blas_thread = one_blas_thread_begin()
            last_check = _now()
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
                n_parts = max(1, min(n_threads, s.rows // rows_per_part))
                serial = n_parts > 1 and (team_mode == SERIAL or (
                    team_mode == ADAPTIVE and not probe.team_wins))
                # full minibatches are timed, to probe and to watch the team
                timed = team_mode == ADAPTIVE and n_parts > 1 and s.rows == batch_size
                if timed:
                    serial = _probe_choice(&probe, serial, n_threads)
                    step_start = _now()
                run_step(&c, &s, n_parts, serial)
                if timed:
                    _probe_record(&probe, serial, _now() - step_start, n_threads)
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
            if one_blas_thread:
                one_blas_thread_end()
    finally:
        free(dropout)
        close_context(&c)
    _probe_store(&probe, probe_memory)
    if probe.load_time > 0:
        _last_load[0], _last_load[1], _last_load[2] = \
            probe.load_time, probe.load_busy, probe.load_own
    if status == INTERRUPTED:
        reraise()
    return loss_sum, steps, t, status
