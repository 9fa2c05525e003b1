"""The sgd learning-rate schedules (constant, invscaling, adaptive), read from the rate
reported to a callback every epoch."""
import numpy as np

from helpers import blobs, classifier, quiet_fit


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
