"""The training step shared by a team (fastmlp/_kernels/step.pyx): one thread playing
the team computes the team's very bits; the memory a step runs in."""
import numpy as np
import pytest
import scipy.sparse

from fastmlp import reference
from fastmlp._engine.engines import CythonEngine
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp._engine.registry import ACTIVATIONS, HIDDEN_ACTIVATIONS, OPTIMIZERS
from fastmlp._engine.state import TrainingState
from fastmlp._kernels import step
from fastmlp._kernels.epoch import PROBE_FIELDS

from helpers import (
    BY_COLUMNS_FIRST,
    BY_COLUMNS_LAST,
    DTYPES,
    random_data,
    rng_for,
    training_config,
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads, sizes", [(2, [30, 17, 9, 4]), (3, [30, 17, 9, 4]),
                                              (3, [4, 1, 2, 3]), (2, [30, 4]),
                                              (2, BY_COLUMNS_FIRST), (2, BY_COLUMNS_LAST)])
@pytest.mark.parametrize("sparse", [False, True])
def test_one_thread_playing_the_team_computes_what_the_team_computes(dtype, n_threads,
                                                                     sizes, sparse):
    # The adaptive fallback (a busy core) runs the team's segments one after another on
    # one thread: the same gemms on the same parts, so the same bits, with sample
    # weights, dropout, a short last minibatch and a sparse X alike; and the adaptive
    # mode's probes, which run some minibatches each way, change nothing either.
    rng = rng_for("serial-team", dtype, n_threads, len(sizes), sparse)
    # 8 full minibatches: a whole probe (3 serial steps, a waking team step, 3 team steps)
    n_samples, batch_size = 101, 12
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", dtype)
    X[X < 0.3] = 0
    if sparse:
        X = scipy.sparse.csr_matrix(X)
    weights = rng.uniform(0.5, 2, n_samples).astype(dtype)
    dropout = tuple(0.2 for _ in sizes[1:-1]) or None
    config = training_config("adam", "relu", "softmax", batch_size, dropout=dropout)
    states, losses = {}, {}
    for mode in ("always", "serial", "adaptive"):
        engine = CythonEngine(layout, config, dtype, n_threads=n_threads,
                              dense_input=not sparse, team_mode=mode)
        states[mode] = TrainingState(glorot_uniform(layout, "relu",
                                                    np.random.default_rng(2), dtype), "adam")
        losses[mode] = []
        for epoch in range(2):
            order = np.random.default_rng(epoch).permutation(n_samples).astype(np.intp)
            loss_sum, diverged = engine.train_epoch(states[mode], X, Y, weights, order,
                                                    config)
            assert diverged is False
            losses[mode].append(loss_sum)
        if mode == "adaptive":
            # it finished a probe (a serial half, then at least the team's waking step):
            # the mean serial step and the next probe's time are set; a later probe may
            # have started since, so its sums may be anything. Unless the look at the
            # cores found them busy (a loaded machine): then it skipped the probe.
            probe = dict(zip(PROBE_FIELDS, engine.probe_memory))
            assert probe["next_time"] > 0
            assert probe["serial_step"] > 0 or probe["load_skips"] > 0
    for mode in ("serial", "adaptive"):
        assert losses[mode] == losses["always"]
        assert states[mode].n_steps == states["always"].n_steps == 18
        np.testing.assert_array_equal(states[mode].params, states["always"].params)
        for name, array in states["always"].optimizer_state.items():
            np.testing.assert_array_equal(states[mode].optimizer_state[name], array)


def test_train_epoch_refuses_a_workspace_too_short_for_its_terms():
    # W_0 of [600, 500, 3] sums terms in float32 on two threads, not in float64: a
    # float32 epoch given the float64 length would write past the workspace.
    layout = ParameterLayout([600, 500, 3])
    relu = ACTIVATIONS["relu"].code
    lengths = {itemsize: step.workspace_length(layout.sizes, 8, 2, itemsize, relu)
               for itemsize in (4, 8)}
    assert lengths[4] > lengths[8]
    config = training_config("adam", "relu", "softmax", 8)
    engine = CythonEngine(layout, config, np.float32, n_threads=2)
    assert engine.workspace.shape[0] == lengths[4]
    engine.workspace = np.empty(lengths[8], np.float32)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 600)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    state = TrainingState(glorot_uniform(layout, "relu", np.random.default_rng(0),
                                         np.float32), "adam")
    before = state.params.copy()
    with pytest.raises(ValueError, match="workspace"):
        engine.train_epoch(state, X, Y, None, np.arange(20, dtype=np.intp), config)
    np.testing.assert_array_equal(state.params, before)


@pytest.mark.parametrize("name", sorted(HIDDEN_ACTIVATIONS))
def test_only_activations_whose_derivative_reads_z_get_a_preactivation_buffer(name):
    # The common case stays buffer-free: z is kept for the hidden layers (and
    # nothing else) only when the activation's derivative reads it.
    sizes = np.array([20, 7, 5, 3], dtype=np.intp)
    identity = step.workspace_length(sizes, 16, 1, 8, ACTIVATIONS["identity"].code)
    length = step.workspace_length(sizes, 16, 1, 8, ACTIVATIONS[name].code)
    extra = 16 * (7 + 5) if ACTIVATIONS[name].reads == "preactivation" else 0
    assert length == identity + extra


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_every_optimizer_steps_along_the_central_difference_gradient(solver):
    # One step of the Cython engine from a known state equals the reference update
    # applied to the gradient of the minibatch loss (L2 term included) taken by central
    # differences: the step's backward pass and the optimizer's kernel agree with the
    # loss they minimise, whatever the optimizer.
    rng = rng_for("fd-step", solver)
    sizes, hidden, output, alpha = [4, 5, 3], "silu", "softmax", 0.1
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, 12, sizes, output, np.float64)
    config = training_config(solver, hidden, output, 12, alpha=alpha)
    start = glorot_uniform(layout, hidden, rng, np.float64)

    def loss(flat):
        coefs, intercepts = layout.unpack(flat)
        return reference.loss_and_gradient(coefs, intercepts, X, Y, hidden, output,
                                           "log_loss", alpha)[0]

    h = 1e-6
    fd = np.array([(loss(start + h * e) - loss(start - h * e)) / (2 * h)
                   for e in np.eye(layout.n_params)])
    # a state from earlier steps (running means of g^2 non-negative), so that even
    # the adaptive optimizers' steps depend on the gradient's size, not only its sign
    got = TrainingState(start, solver)
    for name, array in got.optimizer_state.items():
        draw = rng.random(array.size) if name == "v" else rng.normal(size=array.size)
        array[:] = 0.01 * draw
    want = start.copy()
    coefs, intercepts = layout.views(want)
    grads = layout.views(fd)
    state = {name: sum(layout.views(array.copy()), [])
             for name, array in got.optimizer_state.items()}
    reference.OPTIMIZERS[solver](coefs + intercepts, grads[0] + grads[1], **state, t=3,
                                 learning_rate=config.learning_rate,
                                 is_weight=[True] * len(coefs) + [False] * len(intercepts),
                                 **config.optimizer_params)

    got.t = 2
    CythonEngine(layout, config, np.float64, n_threads=1).train_epoch(
        got, X, Y, None, np.arange(12, dtype=np.intp), config)

    assert got.t == 3
    np.testing.assert_allclose(got.params, want, rtol=1e-6,
                               atol=1e-6 * config.learning_rate)
