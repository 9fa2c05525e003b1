"""How many threads a training step is worth: the team's cost model.

One thread's work for a step of F flops (forward, weight gradient and input
gradient of every layer) on a network of P parameters is

    W = F / R + P C

R is what one core computes per second on a step's gemms, C what one parameter costs
besides (BLAS packing its rows of W, the optimizer's update). A team of p threads
splits both (each thread packs and updates only its own rows of W), and pays for its
synchronisation:

    T(1) = S + W,
    T(p) = S + W / p + SYNC_FACTOR (region(p) + B barrier(p)) + X rows H

with S the step's serial part (its scalars, the loss's sum), B its barriers,
region(p) what opening and closing the team's parallel region costs and barrier(p)
one barrier on p threads. SYNC_FACTOR covers what the barriers' own cost leaves out:
the parts' imbalance. The last term is the work only a team does: its parts' sums of
terms and the activations that cross cores, X per row and hidden unit (H of them).
It is what keeps a small network (64-100-10, say) on one thread: its team gains
little there, and loses much beside a busy core.

The team is the p that minimizes T(p), taking the fewest threads within TIE of the
best (a thread that buys almost nothing is better left to the rest of the machine).
A team member must also get at least MIN_UNITS units of the narrowest hidden layer
and MIN_ROWS rows of the minibatch.

The constants were measured on a 2-core machine (benchmarks/team_model.py measures
them and compares the model with steps on 1 and 2 threads; docs/architecture.md
discusses them). A barrier's cost on more threads could not be measured there: the
model adds BARRIER_SECONDS_PER_THREAD per thread (each arrival moves the barrier's
shared counter to another core), which is what keeps a small step on many cores from
running on all of them.
"""
# One core's flop/s on a step's gemms, and seconds per parameter besides, by itemsize
CORE_FLOPS = {4: 1.3e11, 8: 0.65e11}
PARAMETER_SECONDS = {4: 1.6e-9, 8: 2.4e-9}
STEP_SECONDS = 3e-6          # S
ROW_UNIT_SECONDS = {4: 2.5e-9, 8: 5e-9}   # X
REGION_SECONDS = 0.65e-6     # open and close a parallel region of 2 threads, idle cores
BARRIER_SECONDS = 0.3e-6     # one barrier of 2 threads, idle cores
BARRIER_SECONDS_PER_THREAD = 0.08e-6   # each further thread's arrival
SYNC_FACTOR = 2.0
TIE = 1.05
MIN_UNITS = 8
MIN_ROWS = 4


def step_flops(sizes, rows):
    """Flops of one training step on `rows` rows: three gemms per layer."""
    return 2.0 * rows * 3 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def step_barriers(sizes):
    """Barriers per team step: about two per hidden layer forward (its columns, then
    its terms' sum), one after the output layer and one per layer backward."""
    n_layers = len(sizes) - 1
    return 2 * (n_layers - 1) + 1 + n_layers


def step_parameters(sizes):
    """Weights and biases of the network."""
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def work_seconds(sizes, rows, itemsize=4):
    """W: one thread's time for a step of `rows` rows, without a team's costs."""
    return (step_flops(sizes, rows) / CORE_FLOPS.get(itemsize, CORE_FLOPS[8])
            + step_parameters(sizes) * PARAMETER_SECONDS.get(itemsize, PARAMETER_SECONDS[8]))


def sync_seconds(n_threads, barriers):
    """What a team of n_threads pays per step to synchronise (0 for one thread)."""
    if n_threads <= 1:
        return 0.0
    barrier = BARRIER_SECONDS + BARRIER_SECONDS_PER_THREAD * (n_threads - 2)
    return SYNC_FACTOR * (REGION_SECONDS + barriers * barrier)


def overhead_seconds(sizes, rows, n_threads, itemsize=4):
    """What a team of n_threads pays per step besides its share of the work."""
    if n_threads <= 1:
        return 0.0
    cross = ROW_UNIT_SECONDS.get(itemsize, ROW_UNIT_SECONDS[8]) * rows * sum(sizes[1:-1])
    return sync_seconds(n_threads, step_barriers(sizes)) + cross


def step_seconds(sizes, rows, n_threads, itemsize=4):
    """The model's time of one step of `rows` rows on n_threads threads."""
    return (STEP_SECONDS + work_seconds(sizes, rows, itemsize) / n_threads
            + overhead_seconds(sizes, rows, n_threads, itemsize))


def best_team(sizes, rows, limit, itemsize=4):
    """The team size for steps of `rows` rows: the fewest threads (at most `limit`)
    within TIE of the model's fastest step."""
    narrowest = min(sizes[1:-1], default=sizes[-1])   # the output layer goes by rows
    limit = max(1, min(limit, rows // MIN_ROWS, narrowest // MIN_UNITS))
    times = [step_seconds(sizes, rows, p, itemsize) for p in range(1, limit + 1)]
    fastest = min(times)
    return next(p for p, t in enumerate(times, start=1) if t <= TIE * fastest)


def fewest_rows_per_thread(sizes, most, itemsize=4):
    """The fewest rows per thread (at most `most`) with which a team of two beats one
    thread: a step of fewer rows (an epoch's last) runs on fewer threads."""
    for rows in range(MIN_ROWS, most):
        if step_seconds(sizes, 2 * rows, 2, itemsize) < step_seconds(sizes, 2 * rows, 1,
                                                                      itemsize):
            return rows
    return max(most, 1)
