"""Clipping by the global norm, fused into the training step (fastmlp/_kernels/step.pyx):
the reference's arithmetic on every optimizer, a team's bits when one thread plays the
team, no change at all while the norm stays under the bound, and an update that the
bound holds; and its two loop kernels (optimizers.h, norms.h) on their own."""
import numpy as np
import pytest
import scipy.sparse

from fastmlp import reference
from fastmlp._engine.engines import CythonEngine, NumpyEngine
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp._engine.registry import OPTIMIZERS
from fastmlp._engine.state import TrainingState
from fastmlp._kernels import optimizers

from helpers import (
    BY_COLUMNS_FIRST,
    BY_COLUMNS_LAST,
    DTYPES,
    RTOL,
    random_data,
    rng_for,
    training_config,
)

EPOCH_RTOL = {np.float32: 1e-4, np.float64: 1e-10}
# Far below the norms of these networks' gradients (about 0.1 to 10): every step clips.
SMALL_CLIP = 0.02


def clipped_config(solver, batch_size, clip_norm, hidden="tanh", **kwargs):
    config = training_config(solver, hidden, "softmax", batch_size, **kwargs)
    config.clip_norm = clip_norm
    return config


def first_gradient_norm(layout, params, X, Y, config, rows):
    """The global norm of the first minibatch's gradient, L2 term left out."""
    coefs, intercepts = layout.views(params.copy())
    acts, zs = reference.forward_pass(coefs, intercepts, X[rows], config.activation,
                                      config.out_activation)
    delta = reference.output_delta(Y[rows], acts[-1], config.loss)
    coef_grads, intercept_grads = reference.backward(coefs, acts, zs, delta,
                                                     config.activation)
    return np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2))
                       for g in coef_grads + intercept_grads))


def train(engine, layout, config, dtype, X, Y, weights, orders, seed=0):
    state = TrainingState(glorot_uniform(layout, config.activation,
                                         np.random.default_rng(seed), dtype), config.solver)
    losses = []
    for order in orders:
        loss_sum, diverged = engine.train_epoch(state, X, Y, weights, order, config)
        assert diverged is False
        losses.append(loss_sum)
    return state, losses


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
@pytest.mark.parametrize("n_threads, sizes", [(1, [5, 7, 3, 4]), (2, [5, 7, 3, 4]),
                                              (3, [4, 1, 2, 3]), (2, [9, 4])])
def test_clipped_epochs_match_the_reference_engine(dtype, solver, n_threads, sizes):
    rng = rng_for("clipped-epoch", dtype, solver, n_threads, len(sizes))
    n_samples, batch_size = 37, 10     # last minibatch: 7 rows
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", dtype)
    weights = rng.uniform(0.5, 2, n_samples).astype(dtype)
    config = clipped_config(solver, batch_size, SMALL_CLIP)
    orders = [rng.permutation(n_samples).astype(np.intp) for _ in range(3)]
    start = glorot_uniform(layout, "tanh", np.random.default_rng(0), dtype)
    assert first_gradient_norm(layout, start, X, Y, config, orders[0][:10]) > 5 * SMALL_CLIP
    got, got_losses = train(CythonEngine(layout, config, dtype, n_threads=n_threads),
                            layout, config, dtype, X, Y, weights, orders)
    want, want_losses = train(NumpyEngine(layout, config, dtype), layout, config, dtype,
                              X, Y, weights, orders)
    assert got_losses == pytest.approx(want_losses, rel=EPOCH_RTOL[dtype])
    for a, b in [(got.params, want.params)] + [
            (got.optimizer_state[name], want.optimizer_state[name])
            for name in want.optimizer_state]:
        np.testing.assert_allclose(a, b, rtol=EPOCH_RTOL[dtype],
                                   atol=EPOCH_RTOL[dtype] * np.max(np.abs(b)))
    # and clipping changed the training: unclipped, the same epochs end elsewhere
    config.clip_norm = None
    free, _ = train(NumpyEngine(layout, config, dtype), layout, config, dtype, X, Y, weights,
                    orders)
    assert np.max(np.abs(free.params - want.params)) > 1e-3


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("clip_norm", [SMALL_CLIP, 0.5])
def test_five_clipped_epochs_in_float64_match_the_reference_to_1e_9(solver, clip_norm):
    # 0.5 clips some steps and not others, as a fit's steps are once the norm falls
    rng = rng_for("clipped-five-epochs", solver, clip_norm)
    sizes, n_samples = [11, 16, 9, 4], 90
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", np.float64)
    config = clipped_config(solver, 16, clip_norm)
    orders = [rng.permutation(n_samples).astype(np.intp) for _ in range(5)]
    got, _ = train(CythonEngine(layout, config, np.float64, n_threads=2), layout, config,
                   np.float64, X, Y, None, orders)
    want, _ = train(NumpyEngine(layout, config, np.float64), layout, config, np.float64, X,
                    Y, None, orders)
    assert got.t == want.t == 30
    np.testing.assert_allclose(got.params, want.params, rtol=1e-9,
                               atol=1e-9 * np.max(np.abs(want.params)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads, sizes", [(2, [30, 17, 9, 4]), (3, [4, 1, 2, 3]),
                                              (2, [30, 4]), (2, BY_COLUMNS_FIRST),
                                              (2, BY_COLUMNS_LAST)])
@pytest.mark.parametrize("sparse", [False, True])
def test_one_thread_playing_a_clipping_team_computes_its_bits(dtype, n_threads, sizes,
                                                               sparse):
    # The norm's segment adds one barrier; played segment by segment on one thread,
    # every part's sum of squares is in before any part scales its update.
    rng = rng_for("clipped-serial-team", dtype, n_threads, len(sizes), sparse)
    n_samples, batch_size = 53, 12
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", dtype)
    X[X < 0.3] = 0
    if sparse:
        X = scipy.sparse.csr_matrix(X)
    weights = rng.uniform(0.5, 2, n_samples).astype(dtype)
    dropout = tuple(0.2 for _ in sizes[1:-1]) or None
    config = clipped_config("adam", batch_size, 0.1, hidden="relu", dropout=dropout)
    orders = [np.random.default_rng(e).permutation(n_samples).astype(np.intp)
              for e in range(2)]
    results = {mode: train(CythonEngine(layout, config, dtype, n_threads=n_threads,
                                        dense_input=not sparse, team_mode=mode),
                           layout, config, dtype, X, Y, weights, orders)
               for mode in ("always", "serial")}
    (team, team_losses), (serial, serial_losses) = results["always"], results["serial"]
    assert serial_losses == team_losses
    np.testing.assert_array_equal(serial.params, team.params)
    for name, array in team.optimizer_state.items():
        np.testing.assert_array_equal(serial.optimizer_state[name], array)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_bound_the_norm_never_reaches_changes_no_bit(dtype, n_threads, sparse):
    # The deferred updates run the same slices in the same order with a factor of 1.
    rng = rng_for("unreached-clip", dtype, n_threads, sparse)
    sizes, n_samples = [30, 17, 9, 4], 45
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", dtype)
    if sparse:
        X[X < 0.5] = 0
        X = scipy.sparse.csr_matrix(X)
    orders = [rng.permutation(n_samples).astype(np.intp) for _ in range(2)]
    states = {}
    for clip_norm in (None, 1e30):
        config = clipped_config("adam", 8, clip_norm, hidden="relu")
        engine = CythonEngine(layout, config, dtype, n_threads=n_threads,
                              dense_input=not sparse, team_mode="always")
        states[clip_norm] = train(engine, layout, config, dtype, X, Y, None, orders)
    assert states[None][1] == states[1e30][1]
    np.testing.assert_array_equal(states[None][0].params, states[1e30][0].params)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("clip_norm", [0.05, 1e3])
def test_a_clipped_sgd_step_moves_the_parameters_at_most_rate_times_the_bound(
        dtype, n_threads, clip_norm):
    # Plain SGD without momentum or L2: the step is -rate * factor * g, whose norm is
    # rate * min(||g||, clip_norm) (within PyTorch's 1e-6 in the factor).
    rng = rng_for("clip-bound", dtype, n_threads, clip_norm)
    sizes, rows = [30, 17, 9, 4], 24
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, rows, sizes, "softmax", dtype)
    config = training_config("sgd", "tanh", "softmax", rows, alpha=0.0, momentum=0.0,
                             nesterovs_momentum=False)
    config.clip_norm = clip_norm
    start = glorot_uniform(layout, "tanh", np.random.default_rng(3), dtype)
    norm = first_gradient_norm(layout, start, X, Y, config, np.arange(rows))
    assert 0.05 < norm < 1e3   # one bound clips, the other does not
    state = TrainingState(start.copy(), "sgd")
    engine = CythonEngine(layout, config, dtype, n_threads=n_threads, team_mode="always")
    engine.train_epoch(state, X, Y, None, np.arange(rows, dtype=np.intp), config)
    moved = np.linalg.norm((state.params - start).astype(np.float64))
    want = config.learning_rate * norm * min(1.0, clip_norm / (norm + 1e-6))
    assert moved == pytest.approx(want, rel=1e-5 if dtype == np.float32 else 1e-10)
    assert moved <= config.learning_rate * clip_norm * (1 + 1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 16, 129])
def test_sumsq_kernel_sums_the_squares_in_double(dtype, n):
    grads = rng_for("sumsq", dtype, n).standard_normal(n).astype(dtype)
    assert optimizers.sumsq_twin(grads) == pytest.approx(
        float(np.sum(grads.astype(np.float64) ** 2)), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_an_update_with_a_gradient_factor_is_the_update_of_the_scaled_gradient(dtype,
                                                                              name):
    # gscale multiplies the loss gradient, not the L2 term
    rng = rng_for("gscale", dtype, name)
    n, l2, factor = 37, 0.3, 0.25
    params = rng.standard_normal(n).astype(dtype)
    grads = rng.standard_normal(n).astype(dtype)
    hyper = [float(v) for v in training_config(name, "relu", "softmax", 1)
             .optimizer_hyper]
    state = [np.abs(rng.standard_normal(n)).astype(dtype) for _ in OPTIMIZERS[name].state]
    scaled_params, scaled_state = params.copy(), [s.copy() for s in state]
    code = OPTIMIZERS[name].code
    optimizers.update_twin(code, params, grads, state, True, l2, 0.05, hyper, 3,
                           gscale=factor)
    optimizers.update_twin(code, scaled_params, grads * dtype(factor), scaled_state, True,
                           l2, 0.05, hyper, 3)
    np.testing.assert_allclose(params, scaled_params, rtol=RTOL[dtype] * 10)
    for a, b in zip(state, scaled_state):
        np.testing.assert_allclose(a, b, rtol=RTOL[dtype] * 10)
