"""Local SGD (periodic model averaging): each shard steps on its own, then all average.

A round: the client sends the weights and the optimizer state (Adam's moments, SGD's
velocity, ...) once to each worker holding shards; every shard takes ``steps``
minibatch steps of the model's own optimizer from them, in fastmlp's engine (the very
``train_epoch`` a fit runs, given an ``order`` of just those minibatches); the client
averages what the shards return, each weighted by its share of the samples (or of the
sample weights). The optimizer state is averaged like the weights: every shard started
from the same moments and took the same number of steps, so the average is what one
optimizer would hold had it seen the shards' gradients mixed in those proportions
(approximately: a second moment averages squares, not the square of an average);
starting the moments afresh every round would throw away their history and restart
Adam's bias correction.

Each shard reads its rows in its own stream of epochs: epoch e of shard p visits the
rows in the order of a permutation drawn from the seed (fit's seed, p, e), or in
order without ``shuffle``; every epoch is cut into minibatches from its start, its
last one shorter, as a fit cuts it. Round r takes the shard's minibatches r * steps
to (r + 1) * steps - 1 of that stream. So a fit depends only on the data's
partitioning and the seed, not on which worker runs what, nor when; and with one shard
and a round of one epoch it is the single-process fit with ``shuffle=False``.
"""
import math
import time
import uuid
import warnings
from dataclasses import dataclass

import numpy as np

from fastmlp._engine.layout import ParameterLayout
from fastmlp._engine.state import TrainingState
from fastmlp._estimators.base import NON_FINITE_WEIGHTS
from fastmlp._estimators.validation import all_finite
from fastmlp.dask._rounds import TaskClock
from fastmlp.exceptions import DivergenceError


@dataclass
class LocalPlan:
    """What every round of one fit shares (sent once to each worker)."""

    fit_id: str
    model: object            # a parameters-only copy of the model
    sizes: tuple             # layer widths, input first
    out_activation: str
    seed: int                # the shuffles' and dropout's, with the shard's index
    steps: int               # minibatch steps per shard per round


@dataclass
class Start:
    """The state every shard starts a round from (sent once to each worker)."""

    params: np.ndarray
    optimizer_state: dict    # name -> array shaped like params
    t: int                   # the optimizer's updates so far (Adam's bias correction)
    n_steps: int             # every update so far (keys the dropout masks)
    learning_rate: float


@dataclass
class LocalResult:
    params: np.ndarray
    optimizer_state: dict
    t: int
    n_steps: int
    loss_sum: float          # sum over the round's minibatches of batch loss x batch rows
    rows: int                # rows visited this round
    diverged: bool
    timing: object           # a TaskTiming


# --- on the workers ---------------------------------------------------------------------

def _training(shard, plan, index):
    """The engine, buffers and optimizer state of this fit on this shard: made by the
    model's own _start_training in the first round, kept on the shard after it."""
    cached = shard.cache.get(plan.fit_id)
    if cached is None:
        shard.cache.clear()   # a finished fit's buffers
        layout = ParameterLayout(plan.sizes)
        # _start_training draws the dropout seed from it: each shard its own masks
        rng = np.random.RandomState(np.random.SeedSequence([plan.seed, index])
                                    .generate_state(4))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # batch_size > rows: the client warned
            training = plan.model._start_training(
                shard.X, shard.Y, layout, np.zeros(layout.n_params, shard.X.dtype), rng,
                plan.out_activation)
        cached = shard.cache[plan.fit_id] = {"training": training, "epoch": (None, None)}
    return cached


def _epoch_order(cached, shard, plan, index, epoch):
    """The visiting order of the shard's local epoch `epoch` (the last one is kept)."""
    if cached["epoch"][0] != epoch:
        n = shard.X.shape[0]
        if cached["training"].shuffle:
            order = np.random.default_rng([plan.seed, index, epoch]).permutation(n)
        else:
            order = np.arange(n)
        cached["epoch"] = (epoch, order.astype(np.intp))
    return cached["epoch"][1]


def round_orders(n_rows, batch_size, first_step, steps, order_of_epoch):
    """The orders of the round's minibatches first_step .. first_step + steps - 1, one
    per local epoch they fall in: each starts on a minibatch boundary of its epoch, so
    that train_epoch cuts it into the epoch's own minibatches."""
    per_epoch = math.ceil(n_rows / batch_size)
    step, last = first_step, first_step + steps
    while step < last:
        epoch, batch = divmod(step, per_epoch)
        take = min(last - step, per_epoch - batch)
        yield order_of_epoch(epoch)[batch * batch_size:min(n_rows, (batch + take) * batch_size)]
        step += take


def local_round(shard, plan, start, index, round_index):
    """One shard's part of a round (runs on its worker): plan.steps minibatch steps from
    `start`; returns a LocalResult."""
    clock = TaskClock()
    cached = _training(shard, plan, index)
    training = cached["training"]
    state = training.state
    np.copyto(state.params, start.params)
    for name, array in state.optimizer_state.items():
        np.copyto(array, start.optimizer_state[name])
    state.t, state.n_steps = start.t, start.n_steps
    training.config.learning_rate = start.learning_rate
    loss_sum, rows, diverged = 0.0, 0, False
    for order in round_orders(shard.X.shape[0], training.config.batch_size,
                              round_index * plan.steps, plan.steps,
                              lambda epoch: _epoch_order(cached, shard, plan, index, epoch)):
        loss, diverged = training.engine.train_epoch(
            state, shard.X, shard.Y, shard.sample_weight, order, training.config)
        loss_sum += loss
        rows += len(order)
        if diverged or not np.isfinite(loss):
            diverged = True
            break
    diverged = diverged or not all_finite(state.params)
    return LocalResult(state.params.copy(),
                       {name: a.copy() for name, a in state.optimizer_state.items()},
                       state.t, state.n_steps, loss_sum, rows, diverged, clock.timing())


# --- on the client ----------------------------------------------------------------------

def average_into(state, results, fractions):
    """Write into the TrainingState `state` the fractions-weighted mean of the results'
    weights and optimizer state (summed in float64, in the shards' order: the same
    partitioning gives the same bits). The step counts are the furthest shard's."""
    def mean(arrays):
        total = np.zeros(arrays[0].shape, dtype=np.float64)
        for fraction, array in zip(fractions, arrays):
            total += fraction * array
        return total
    state.params[...] = mean([r.params for r in results])
    for name, array in state.optimizer_state.items():
        array[...] = mean([r.optimizer_state[name] for r in results])
    state.t = max(r.t for r in results)
    state.n_steps = max(r.n_steps for r in results)


def train(client, shards, model, layout, params, out_activation, seed, steps, n_rounds,
          learning_rate_of, log, after_round):
    """Local SGD from the flat `params`: n_rounds rounds of `steps` steps per shard.

    learning_rate_of(round) gives each round's rate; after_round(round, state, loss,
    rows, entry) is called after each round has been averaged (loss: the round's mean
    minibatch loss over all shards, rows: the rows visited, entry: the RoundLog's),
    and stops training by returning True. Returns the final TrainingState; raises
    DivergenceError when a shard's loss or weights became NaN or infinite.
    """
    state = TrainingState(params, model.solver)
    holders = shards.holders()
    token = uuid.uuid4().hex[:12]
    plan = LocalPlan(token, model, tuple(int(n) for n in layout.sizes), out_activation, seed,
                     steps)
    plan_future = client.scatter(plan, workers=holders, broadcast=True, hash=False)
    fractions = shards.weights / shards.total_weight
    for round_index in range(n_rounds):
        began = time.perf_counter()
        start = Start(state.params, dict(state.optimizer_state), state.t, state.n_steps,
                      learning_rate_of(round_index))
        start_future = client.scatter(start, workers=holders, broadcast=True, hash=False)
        futures = [client.submit(local_round, shard, plan_future, start_future, i,
                                 round_index, workers=[worker], allow_other_workers=False,
                                 pure=False, key=f"fastmlp-local-sgd-{token}-{round_index}-{i}")
                   for i, (shard, worker) in enumerate(zip(shards.futures, shards.workers))]
        results = client.gather(futures)
        del start_future, futures   # the round's weights leave the workers' memory
        if any(r.diverged for r in results):
            raise DivergenceError(
                f"{NON_FINITE_WEIGHTS} The training loss or the weights became NaN or "
                f"infinite on a shard in round {round_index + 1}; try a smaller "
                "learning_rate_init or scaling X. The model was left as it was before fit.")
        average_into(state, results, fractions)
        sent = _state_bytes(start) * len(holders)
        received = sum(_state_bytes(r) for r in results)
        entry = log.record(time.perf_counter() - began, [r.timing for r in results], sent,
                           received)
        rows = sum(r.rows for r in results)
        loss = sum(r.loss_sum for r in results) / rows
        if after_round(round_index, state, loss, rows, entry):
            break
    return state


def _state_bytes(state):
    """Bytes of the arrays of a Start or a LocalResult."""
    return state.params.nbytes + sum(a.nbytes for a in state.optimizer_state.values())
