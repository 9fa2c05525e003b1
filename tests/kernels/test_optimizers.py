"""The optimizer kernels (fastmlp/_kernels/optimizers.h) against the NumPy reference,
for every optimizer of the registry: one update of weights or biases, the L2 term on
weights only, the sum of squares the loss needs, and the gradient kernel of L-BFGS."""
import numpy as np
import pytest

from fastmlp import reference
from fastmlp._engine.registry import OPTIMIZERS
from fastmlp._kernels import optimizers

from helpers import (
    DTYPES,
    OPTIMIZER_PARAMS,
    RTOL,
    assert_within_sum_bound,
    non_c_contiguous,
    rng_for,
)

NAMES = sorted(OPTIMIZERS)
# Each optimizer once with its defaults, and SGD without momentum and without Nesterov.
VARIANTS = [(name, {}) for name in NAMES] + [
    ("sgd", {"momentum": 0.0, "nesterovs_momentum": False}),
    ("sgd", {"nesterovs_momentum": False})]
LENGTHS = [1, 7, 37, 129]


def hyper(name, **overrides):
    """The optimizer's hyper-parameters by name, and as its kernel reads them."""
    params = dict(OPTIMIZER_PARAMS[name], **overrides)
    return params, [float(params[h]) for h in OPTIMIZERS[name].hyper]


# State arrays that are running means of g^2, and so never negative.
MEAN_SQUARES = {"v"}


def state_arrays(rng, name, n, dtype):
    """The optimizer's state arrays, not all zero: normal draws, non-negative ones for
    the running means of g^2."""
    return [(0.1 * (rng.random(n) if state in MEAN_SQUARES else rng.standard_normal(n)))
            .astype(dtype) for state in OPTIMIZERS[name].state]


def test_every_optimizer_has_a_reference_twin_and_test_parameters():
    assert set(OPTIMIZERS) == set(reference.OPTIMIZERS) == set(OPTIMIZER_PARAMS)
    for name, optimizer in OPTIMIZERS.items():
        assert optimizer.code == list(OPTIMIZERS).index(name)
        assert 1 <= len(optimizer.state) <= 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("weights", [True, False])
@pytest.mark.parametrize("t", [1, 7])
@pytest.mark.parametrize("name, overrides", VARIANTS)
def test_update_matches_reference(dtype, n, weights, t, name, overrides):
    rng = rng_for("update", dtype, n, weights, t, name, sorted(overrides.items()))
    params = rng.standard_normal(n).astype(dtype)
    grads = rng.standard_normal(n).astype(dtype)
    state = state_arrays(rng, name, n, dtype)
    lr, l2 = 0.05, 0.3
    by_name, values = hyper(name, **overrides)
    want = [params.copy()] + [s.copy() for s in state]
    before = [x.astype(np.float64) for x in want]
    # the reference gets the gradient of the loss: the L2 term is added for weights only
    g = grads + (dtype(l2) * params if weights else 0)
    reference.OPTIMIZERS[name]([want[0]], [g.astype(dtype)],
                               **{s: [a] for s, a in zip(OPTIMIZERS[name].state, want[1:])},
                               t=t, learning_rate=lr, is_weight=[weights], **by_name)

    sumsq = optimizers.update_twin(OPTIMIZERS[name].code, params, grads, state, weights, l2,
                                   lr, values, t)

    assert sumsq == pytest.approx(float(np.sum(before[0] ** 2)), rel=RTOL[dtype])
    for got, expected, old in zip([params] + state, want, before):
        assert got.dtype == dtype
        # new = old + update: the update's rounding is relative to |old| + |new|
        assert_within_sum_bound(got, expected.astype(np.float64),
                                np.abs(old) + np.abs(expected), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_l2_penalty_applies_to_weights_only(dtype, name):
    # Zero gradient and zero state: only the L2 term (and a decoupled weight decay)
    # can move a parameter, and it may move weights only.
    n = 11
    start = np.linspace(-1, 1, n).astype(dtype) + dtype(0.1)
    moved = {}
    for weights in (True, False):
        params = start.copy()
        state = [np.zeros(n, dtype) for _ in OPTIMIZERS[name].state]
        optimizers.update_twin(OPTIMIZERS[name].code, params, np.zeros(n, dtype), state,
                               weights, 0.5, 1e-2, hyper(name)[1], 1)
        moved[weights] = params
    np.testing.assert_array_equal(moved[False], start)
    assert np.all(np.abs(moved[True]) < np.abs(start))   # every weight shrinks towards 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_kernel_writes_the_gradient_with_l2_and_leaves_the_parameters(dtype):
    rng = rng_for("gradient-kernel", dtype)
    params = rng.standard_normal(9).astype(dtype)
    grads = rng.standard_normal(9).astype(dtype)
    before = params.copy()
    for weights, l2 in ((True, 0.25), (False, 0.0)):
        out = np.full(9, np.nan, dtype)
        sumsq = optimizers.update_twin(optimizers.GRADIENT_CODE, params, grads, [out], weights,
                                       0.25, 0.1, [], 1)
        np.testing.assert_array_equal(out, grads + dtype(l2) * params)
        assert sumsq == pytest.approx(float(np.sum(params.astype(np.float64) ** 2)),
                                      rel=RTOL[dtype])
    np.testing.assert_array_equal(params, before)


def test_update_twin_rejects_unknown_codes_and_inconsistent_arguments():
    p = np.zeros(5)
    with pytest.raises(ValueError, match="no optimizer has code"):
        optimizers.update_twin(len(OPTIMIZERS), p, p.copy(), [p.copy()], True, 0, 0.1, [], 1)
    adam = OPTIMIZERS["adam"].code
    _, values = hyper("adam")
    with pytest.raises(ValueError, match="one state array per name"):
        optimizers.update_twin(adam, p, p.copy(), [p.copy()], True, 0, 0.1, values, 1)
    with pytest.raises(ValueError, match="one value per hyper-parameter"):
        optimizers.update_twin(adam, p, p.copy(), [p.copy(), p.copy()], True, 0, 0.1,
                               values[:-1], 1)
    with pytest.raises(ValueError, match="inconsistent"):
        optimizers.update_twin(adam, p, np.zeros(4), [p.copy(), p.copy()], True, 0, 0.1,
                               values, 1)
    with pytest.raises(ValueError, match="t counts from 1"):
        optimizers.update_twin(adam, p, p.copy(), [p.copy(), p.copy()], True, 0, 0.1,
                               values, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_update_twin_rejects_strided_arrays(dtype, name):
    p = non_c_contiguous(np.ones(5, dtype), "strided")
    state = [np.zeros(5, dtype) for _ in OPTIMIZERS[name].state]
    with pytest.raises(ValueError, match="contiguous"):
        optimizers.update_twin(OPTIMIZERS[name].code, p, np.zeros(5, dtype), state, True,
                               0.0, 0.1, hyper(name)[1], 1)
    np.testing.assert_array_equal(p, 1.0)
