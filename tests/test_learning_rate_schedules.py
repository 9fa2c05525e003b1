"""The learning-rate schedules: sgd's own (constant, invscaling, adaptive), read from
the rate reported to a callback every epoch, and lr_schedule (fastmlp/schedules.py)
for every minibatch solver, read from learning_rate_curve_."""
import math

import numpy as np
import pytest

from fastmlp import schedules

from helpers import blobs, classifier, fitted_arrays, quiet_fit, regressor


def rates_seen(X, y, **params):
    rates = []
    quiet_fit(classifier((8,), solver="sgd",
                         callbacks=[lambda m, metrics: rates.append(metrics["learning_rate"])],
                         **params), X, y)
    return rates


def test_invscaling_decays_as_a_power_of_the_samples_seen():
    X, y = blobs(n=100)
    rates = rates_seen(X, y, learning_rate="invscaling", learning_rate_init=0.1,
                       power_t=0.5, max_iter=5)
    samples_before = 100 * np.arange(5)     # the rate of epoch k uses t_ before it
    np.testing.assert_allclose(rates, 0.1 / (samples_before + 1) ** 0.5, rtol=1e-12)


def test_adaptive_divides_the_rate_by_five_when_the_loss_stalls():
    X, y = blobs(n=100)
    # tol=10: no epoch counts as an improvement, so the rate drops every
    # n_iter_no_change + 1 epochs instead of stopping (the first epoch sets best_loss_)
    rates = rates_seen(X, y, learning_rate="adaptive", learning_rate_init=0.1, tol=10.0,
                       n_iter_no_change=2, max_iter=12)
    np.testing.assert_allclose(rates, [0.1] * 4 + [0.02] * 3 + [0.004] * 3 + [0.0008] * 2,
                               rtol=1e-12)


def test_constant_rate_stays_constant():
    X, y = blobs(n=100)
    assert rates_seen(X, y, learning_rate_init=0.05, max_iter=4) == [0.05] * 4


# --- lr_schedule: every minibatch solver -------------------------------------------------

def test_cosine_decays_to_zero_at_the_end_of_max_iter():
    X, y = blobs(n=100)
    model = quiet_fit(classifier((8,), lr_schedule="cosine", learning_rate_init=0.01,
                                 max_iter=10, tol=0.0, n_iter_no_change=100), X, y)
    curve = model.learning_rate_curve_
    want = [0.005 * (1 + math.cos(math.pi * e / 10)) for e in range(10)]
    np.testing.assert_allclose(curve, want, rtol=1e-12)
    assert curve[0] == 0.01 and all(a > b for a, b in zip(curve, curve[1:]))
    assert schedules.cosine(10, 0.01, 10) == 0.0      # 0 at the end of the last epoch
    assert schedules.cosine(12, 0.01, 10) == 0.0


def test_cosine_with_warmup_rises_linearly_first():
    X, y = blobs(n=100)
    model = quiet_fit(classifier((8,), lr_schedule="cosine", warmup_epochs=3,
                                 learning_rate_init=0.01, max_iter=8, tol=0.0,
                                 n_iter_no_change=100), X, y)
    curve = model.learning_rate_curve_
    np.testing.assert_allclose(curve[:3], [0.0025, 0.005, 0.0075], rtol=1e-12)
    assert curve[3] == 0.01
    np.testing.assert_allclose(curve[4], 0.005 * (1 + math.cos(math.pi / 5)), rtol=1e-12)


def test_onecycle_rises_to_the_rate_then_falls_far_below_it():
    curve = [schedules.onecycle(e, 0.1, 10) for e in range(11)]
    assert curve[0] == pytest.approx(0.1 / 25)
    assert max(curve) == pytest.approx(0.1) and curve.index(max(curve)) == 3
    assert curve[10] == pytest.approx(0.1 / 1e4)
    assert all(a < b for a, b in zip(curve[:3], curve[1:4]))
    assert all(a > b for a, b in zip(curve[3:], curve[4:]))


def test_plateau_lowers_the_rate_when_the_loss_stalls():
    X, y = blobs(n=100)
    # tol=10: no epoch improves by more than tol, so every 3 epochs the rate drops
    model = quiet_fit(classifier((8,), solver="adam", lr_schedule="plateau",
                                 learning_rate_init=0.01, tol=10.0, n_iter_no_change=100,
                                 max_iter=8), X, y)
    np.testing.assert_allclose(model.learning_rate_curve_,
                               [0.01] * 4 + [0.002] * 3 + [0.0004], rtol=1e-12)


def test_plateau_watches_the_validation_loss_when_there_is_one():
    plateau = schedules.Plateau(factor=0.5, patience=2)
    assert plateau(0, 1.0, 10) == 1.0
    for loss in (1.0, 0.5, 0.6, 0.7):   # a gain, then two epochs without one
        plateau.observe(loss, tol=0.0)
    assert plateau(4, 1.0, 10) == 0.5
    X, y = blobs(n=100)
    seen = []
    model = classifier((8,), lr_schedule="plateau", tol=10.0, n_iter_no_change=100,
                       max_iter=5, callbacks=[lambda m, metrics: seen.append(
                           metrics["validation_loss"])])
    quiet_fit(model, X, y, X_val=X[:30], y_val=y[:30])
    assert len(seen) == 5 and model.learning_rate_curve_[-1] == 0.0002
    assert model._lr_schedule.best == min(seen)   # it watched the validation loss


def test_a_callable_schedule_gets_the_epoch_and_the_initial_rate():
    X, y = blobs(n=100)
    model = quiet_fit(classifier((8,), lr_schedule=lambda epoch, lr: lr / (1 + epoch),
                                 learning_rate_init=0.03, max_iter=4, tol=0.0), X, y)
    np.testing.assert_allclose(model.learning_rate_curve_, [0.03, 0.015, 0.01, 0.0075])


def test_partial_fit_goes_on_with_the_schedule_and_fit_starts_it_again():
    X, y = blobs(n=100)
    model = classifier((8,), lr_schedule="cosine", learning_rate_init=0.01, max_iter=4)
    for _ in range(3):
        model.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(model.learning_rate_curve_,
                               [schedules.cosine(e, 0.01, 4) for e in range(3)])
    quiet_fit(model, X, y)
    np.testing.assert_allclose(model.learning_rate_curve_,
                               [schedules.cosine(e, 0.01, 4) for e in range(4)])


def test_sgds_own_schedules_keep_their_meaning_and_refuse_a_second_schedule():
    X, y = blobs(n=100)
    # invscaling's rate, as before, now also in learning_rate_curve_
    model = quiet_fit(classifier((8,), solver="sgd", learning_rate="invscaling",
                                 learning_rate_init=0.1, max_iter=3), X, y)
    np.testing.assert_allclose(model.learning_rate_curve_,
                               0.1 / (100 * np.arange(3) + 1) ** 0.5, rtol=1e-12)
    for schedule in (dict(lr_schedule="cosine"), dict(warmup_epochs=2)):
        with pytest.raises(ValueError, match="sgd's own schedule"):
            classifier((8,), solver="sgd", learning_rate="adaptive", **schedule).fit(X, y)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        classifier((8,), lr_schedule="linear").fit(X, y)
    with pytest.raises(ValueError, match="warmup_epochs must be >= 0"):
        classifier((8,), warmup_epochs=-1).fit(X, y)
    assert quiet_fit(classifier((8,), solver="lbfgs", lr_schedule="cosine", max_iter=3),
                     X, y).learning_rate_curve_ is None


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "plateau"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_scheduled_cython_and_numpy_engines_reach_the_same_weights(schedule, solver):
    X, y = blobs(n=150, n_features=6, seed=3)
    models = [quiet_fit(classifier((9, 5), solver=solver, lr_schedule=schedule,
                                   warmup_epochs=1, learning_rate_init=0.02,
                                   batch_size=32, max_iter=5, engine=engine), X, y)
              for engine in ("cython", "numpy")]
    for a, b in zip(fitted_arrays(models[0]), fitted_arrays(models[1])):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert models[0].learning_rate_curve_ == models[1].learning_rate_curve_


def test_a_regressor_takes_a_schedule_too():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    model = quiet_fit(regressor((6,), lr_schedule="cosine", max_iter=5, tol=0.0), X,
                      X.sum(axis=1))
    assert model.learning_rate_curve_[0] == 0.001 and len(model.learning_rate_curve_) == 5
