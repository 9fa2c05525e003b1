"""A whole training epoch (fastmlp/_kernels/epoch.pyx) against the NumPy reference
engine: every optimizer and every hidden activation of the registry, on one thread and
on teams, with sample weights and dropout, its loss sum and its divergence report."""
import numpy as np
import pytest

from fastmlp import reference
from fastmlp._engine.engines import CythonEngine, NumpyEngine
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp._engine.registry import HIDDEN_ACTIVATIONS, OPTIMIZERS, Status
from fastmlp._engine.state import TrainingState
from fastmlp._kernels import epoch

from helpers import (
    BY_COLUMNS_FIRST,
    BY_COLUMNS_LAST,
    DTYPES,
    OUTPUTS,
    RTOL,
    random_data,
    rng_for,
    training_config,
)

EPOCH_RTOL = {np.float32: 1e-4, np.float64: 1e-10}
# Each optimizer with its test parameters, and SGD without Nesterov's momentum.
SOLVERS = [(name, {}) for name in sorted(OPTIMIZERS)] + [
    ("sgd", {"nesterovs_momentum": False})]
# (dtype, team size, network): several thread splits; [4, 1, 2, 3] on 3 threads leaves
# threads with no unit of a layer; the BY_COLUMNS networks mix the two ways of
# computing a hidden layer (float32 would take only the terms' way).
TEAMS = [(dtype, n_threads, sizes) for dtype in DTYPES
         for n_threads, sizes in [(1, [5, 7, 3, 4]), (2, [5, 7, 3, 4]), (3, [5, 7, 3, 4]),
                                  (3, [4, 1, 2, 3])]] + [
    (np.float64, 2, BY_COLUMNS_FIRST), (np.float64, 2, BY_COLUMNS_LAST)]


def engines_and_states(layout, config, dtype, n_threads, seed=0):
    """The Cython engine and the reference engine, each with its own copy of the same
    initial state."""
    engines = {"cython": CythonEngine(layout, config, dtype, n_threads=n_threads),
               "numpy": NumpyEngine(layout, config, dtype)}
    params = glorot_uniform(layout, config.activation, np.random.default_rng(seed), dtype)
    states = {name: TrainingState(params, config.solver) for name in engines}
    return engines, states


def assert_states_close(got, want, rtol):
    assert got.t == want.t and got.n_steps == want.n_steps
    assert got.params.dtype == want.params.dtype
    for a, b in [(got.params, want.params)] + [
            (got.optimizer_state[name], want.optimizer_state[name])
            for name in want.optimizer_state]:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.max(np.abs(b)))


@pytest.mark.parametrize("solver, overrides", SOLVERS,
                         ids=[f"{name}{'-' if o else ''}{'-'.join(o)}" for name, o in SOLVERS])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", ["relu", "tanh", "elu"])
@pytest.mark.parametrize("dtype, n_threads, sizes", TEAMS)
def test_every_optimizer_matches_the_reference_engine(dtype, solver, overrides, output,
                                                       hidden, n_threads, sizes):
    rng = rng_for("epoch", dtype, solver, sorted(overrides), output, hidden)
    n_samples, batch_size = 37, 10     # last minibatch: 7 rows
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, output, dtype)
    config = training_config(solver, hidden, output, batch_size, **overrides)
    engines, states = engines_and_states(layout, config, dtype, n_threads)
    # two epochs, so the second starts from non-zero optimizer state
    for _ in range(2):
        order = rng.permutation(n_samples).astype(np.intp)
        results = {name: engines[name].train_epoch(states[name], X, Y, None, order, config)
                   for name in engines}
        assert results["cython"][1] is False and results["numpy"][1] is False
        assert results["cython"][0] == pytest.approx(results["numpy"][0],
                                                     rel=EPOCH_RTOL[dtype])
        assert_states_close(states["cython"], states["numpy"], EPOCH_RTOL[dtype])
    assert states["cython"].t == 8


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", sorted(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("variant", ["plain", "sample_weight", "dropout", "both"])
def test_every_hidden_activation_matches_the_reference_engine(dtype, hidden, n_threads,
                                                               variant):
    # sample weights scale rows of the output delta; dropout masks are hashed from
    # (step key, row, unit), so both engines and any thread split draw the same masks
    rng = rng_for("epoch-variant", dtype, hidden, variant)
    sizes, n_samples, batch_size = [6, 9, 5, 3], 41, 8
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", dtype)
    weights = None
    if variant in ("sample_weight", "both"):
        weights = rng.uniform(0, 3, n_samples).astype(dtype)
        weights[:8] = 0     # a whole minibatch of zero weight is skipped
    dropout = (0.3, 0.5) if variant in ("dropout", "both") else None
    config = training_config("adam", hidden, "softmax", batch_size, dropout=dropout)
    engines, states = engines_and_states(layout, config, dtype, n_threads, seed=1)
    order = np.arange(n_samples, dtype=np.intp)
    for _ in range(2):
        results = {name: engines[name].train_epoch(states[name], X, Y, weights, order,
                                                   config) for name in engines}
        assert results["cython"][0] == pytest.approx(results["numpy"][0],
                                                     rel=EPOCH_RTOL[dtype])
        assert_states_close(states["cython"], states["numpy"], EPOCH_RTOL[dtype])
    # 6 minibatches an epoch (5 of 8 rows, 1 of 1); the weighted first one is all zero
    assert states["cython"].n_steps == (12 if weights is None else 10)


FIVE_EPOCHS = ([("optimizer", name) for name in sorted(OPTIMIZERS)]
               + [("activation", name) for name in sorted(HIDDEN_ACTIVATIONS)])


@pytest.mark.parametrize("kind, name", FIVE_EPOCHS, ids=[f"{k}-{n}" for k, n in FIVE_EPOCHS])
def test_five_epochs_in_float64_match_the_reference_to_1e_9(kind, name):
    # The acceptance of every optimizer and activation: five epochs of shuffled
    # minibatches on a team of two, every parameter and state array within rtol 1e-9.
    rng = rng_for("five-epochs", kind, name)
    solver, hidden = (name, "tanh") if kind == "optimizer" else ("adam", name)
    sizes, n_samples = [11, 16, 9, 4], 90
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", np.float64)
    config = training_config(solver, hidden, "softmax", 16)
    engines, states = engines_and_states(layout, config, np.float64, 2)
    for _ in range(5):
        order = rng.permutation(n_samples).astype(np.intp)
        for engine in engines:
            engines[engine].train_epoch(states[engine], X, Y, None, order, config)
    assert states["cython"].t == states["numpy"].t == 30
    assert_states_close(states["cython"], states["numpy"], 1e-9)
    # and training moved the weights
    start = glorot_uniform(layout, hidden, np.random.default_rng(0), np.float64)
    assert np.max(np.abs(states["cython"].params - start)) > 1e-3


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_epoch_reports_its_steps_and_loss_sum(dtype):
    # loss_sum = sum over minibatches of (data loss sum + 0.5 alpha ||W||^2 before the step)
    rng = rng_for("epoch-steps", dtype)
    sizes = [3, 4, 2]
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, 23, sizes, "identity", dtype)
    params = glorot_uniform(layout, "relu", rng, dtype)
    alpha = 0.1
    config = training_config("sgd", "relu", "identity", 5, alpha=alpha, momentum=0.0)
    config.learning_rate = 0.0
    state = TrainingState(params, "sgd")
    engine = CythonEngine(layout, config, dtype)
    loss_sum, steps, t, status = epoch.train_epoch(
        state.params, engine.grads, list(state.optimizer_state.values()), X, Y, None,
        np.arange(23, dtype=np.intp), layout.sizes, engine.workspace, config,
        engine.n_threads, engine.rows_per_part, engine.team_mode, epoch.new_probe_memory(),
        0, 0)
    # a zero learning rate leaves params unchanged, so every batch sees the same W
    assert (steps, t, status) == (5, 5, Status.OK)
    np.testing.assert_array_equal(state.params, params)
    coefs, intercepts = layout.unpack(params.astype(np.float64))
    P = reference.forward(coefs, intercepts, X.astype(np.float64), "relu", "identity")[-1]
    sumsq = float(np.sum(params[:layout.n_weights].astype(np.float64) ** 2))
    want = reference.per_sample_loss_sum(Y.astype(np.float64), P, "squared_error") \
        + 5 * 0.5 * alpha * sumsq
    assert loss_sum == pytest.approx(want, rel=10 * RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_train_epoch_reports_divergence_like_the_reference(dtype, hidden):
    # A NaN weight (left by an overflowing step) must stop the epoch in both engines.
    rng = rng_for("diverge", dtype, hidden)
    sizes = [4, 5, 3]
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, 12, sizes, "softmax", dtype)
    params = glorot_uniform(layout, hidden, rng, dtype)
    params[0] = np.nan
    config = training_config("adam", hidden, "softmax", 4)
    order = np.arange(12, dtype=np.intp)
    diverged = {}
    for name, engine_class in [("cython", CythonEngine), ("numpy", NumpyEngine)]:
        state = TrainingState(params, "adam")
        _, diverged[name] = engine_class(layout, config, dtype).train_epoch(
            state, X, Y, None, order, config)
        assert state.n_steps == 0
    assert diverged == {"cython": True, "numpy": True}
