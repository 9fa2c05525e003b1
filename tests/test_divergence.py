"""A fit that goes numerically wrong raises DivergenceError and leaves the model, its
optimizer state included, exactly as it was before the call."""
import copy

import numpy as np
import pytest

from fastmlp import MLPRegressor
from fastmlp.exceptions import DivergenceError

from helpers import fitted_arrays, quiet_fit


def assert_same_model(model, before):
    assert model.__dict__.keys() == before.__dict__.keys()
    for a, b in zip(fitted_arrays(model), fitted_arrays(before)):
        np.testing.assert_array_equal(a, b)
    assert model.loss_curve_ == before.loss_curve_ and model.n_iter_ == before.n_iter_


def test_a_gradient_that_overflows_on_the_last_step_raises_instead_of_keeping_nan():
    # float32 data: the minibatch loss, summed in float64, stays finite while the
    # float32 gradient overflows, and the one step of max_iter=1 wrote inf into the
    # weights; fit used to return normally with them (and save a model load refused)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32) * 1e20
    y = (rng.normal(size=64) * 1e20).astype(np.float32)
    model = MLPRegressor((4,), activation="identity", solver="sgd", momentum=0.0,
                         learning_rate_init=1.0, batch_size=64, max_iter=1, random_state=0)
    with pytest.raises(DivergenceError, match="NaN or infinite"), np.errstate(all="ignore"):
        model.fit(X, y)
    assert not hasattr(model, "coefs_")


def test_an_l2_term_that_overflows_raises_instead_of_recording_an_infinite_loss():
    # X of zeros: the data loss only sees the biases and stays finite, while the
    # penalty 0.5 alpha ||W||^2 of weights near 1e181 overflows float64 (loss_ was inf)
    X, y = np.zeros((32, 3)), np.ones(32)
    model = quiet_fit(MLPRegressor((2,), activation="identity", solver="sgd",
                                   max_iter=1, random_state=0, warm_start=True,
                                   alpha=1.0), X, y)
    model.coefs_[0][...] = 1e181
    model.coefs_[1][...] = 0.0
    before = copy.deepcopy(model)
    with pytest.raises(DivergenceError), np.errstate(all="ignore"):
        model.fit(X, y)
    assert_same_model(model, before)


def test_a_diverging_partial_fit_keeps_the_optimizer_state_too():
    # the failed call's steps moved Adam's moments and step count before it stopped;
    # the next partial_fit must continue as if the failed call had never happened
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    model, twin = (MLPRegressor((4,), random_state=0, batch_size=8, shuffle=False)
                   for _ in range(2))
    for m in (model, twin):
        m.partial_fit(X, y)
    t_before = model._solver_state.t
    moments = {name: a.copy() for name, a in model._solver_state.optimizer_state.items()}
    bad = y.copy()
    bad[-8:] *= 1e200   # four minibatches update the model, the fifth's loss overflows
    with pytest.raises(DivergenceError), np.errstate(all="ignore"):
        model.partial_fit(X, bad)
    assert model._solver_state.t == t_before
    for name, array in model._solver_state.optimizer_state.items():
        np.testing.assert_array_equal(array, moments[name])
    model.partial_fit(X, y)
    twin.partial_fit(X, y)
    for a, b in zip(fitted_arrays(model), fitted_arrays(twin)):
        np.testing.assert_array_equal(a, b)
