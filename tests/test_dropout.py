"""Dropout: what it does to an overfitting network, that it is off at predict time, and
the rates it accepts."""
import numpy as np
import pytest

from fastmlp import reference

from helpers import blobs, classifier, fitted_arrays, quiet_fit


def overfitting_problem(seed, n_train=60, n_test=1000, noise=0.2):
    """60 noisy samples of a linear boundary in 2-D: a 256-unit network memorises them."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_train + n_test, 2))
    y = (X @ rng.normal(size=2) > 0).astype(int)
    flip = rng.rand(len(y)) < noise
    y[flip] = 1 - y[flip]
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def test_dropout_narrows_the_generalisation_gap_of_an_overfitting_network():
    gaps, test_scores = {0.0: [], 0.5: []}, {0.0: [], 0.5: []}
    for seed in range(3):
        X, y, X_test, y_test = overfitting_problem(seed)
        for rate in (0.0, 0.5):
            model = quiet_fit(classifier((256,), dropout=rate, learning_rate_init=0.01,
                                         alpha=0.0, max_iter=400, tol=0.0,
                                         n_iter_no_change=400, random_state=seed), X, y)
            train, test = model.score(X, y), model.score(X_test, y_test)
            gaps[rate].append(train - test)
            test_scores[rate].append(test)
    # without dropout the gap is ~0.3 (train accuracy ~1), with dropout ~0.12
    assert np.mean(gaps[0.5]) < np.mean(gaps[0.0]) - 0.08, gaps
    assert np.mean(test_scores[0.5]) > np.mean(test_scores[0.0]), test_scores


def test_dropout_is_off_at_predict_time():
    X, y = blobs()
    model = quiet_fit(classifier((32, 16), dropout=0.5, max_iter=20), X, y)
    first = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict_proba(X), first)
    np.testing.assert_array_equal(model.predict(X), model.predict(X))
    # exactly the plain forward pass over the fitted weights: no mask, no 1/(1-rate)
    plain = reference.forward(model.coefs_, model.intercepts_, X, "relu", "softmax")[-1]
    np.testing.assert_allclose(first, plain, rtol=1e-12, atol=1e-14)


def test_dropout_trains_differently_and_is_reproducible_with_a_seed():
    X, y = blobs()
    plain = quiet_fit(classifier((16,), max_iter=5), X, y)
    dropped = [quiet_fit(classifier((16,), dropout=0.3, max_iter=5), X, y) for _ in range(2)]
    for a, b in zip(fitted_arrays(dropped[0]), fitted_arrays(dropped[1])):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(dropped[0].coefs_[0], plain.coefs_[0])
    assert dropped[0].loss_curve_[0] > plain.loss_curve_[0]   # a noisier, worse fit early on


def test_dropout_takes_one_rate_per_hidden_layer():
    X, y = blobs()

    def fit(rates):
        return quiet_fit(classifier((12, 8), dropout=rates, max_iter=4), X, y)

    none, zeros = fit(0.0), fit((0.0, 0.0))
    first_only, second_only = fit((0.5, 0.0)), fit([0.0, 0.5])
    for a, b in zip(fitted_arrays(none), fitted_arrays(zeros)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first_only.coefs_[0], none.coefs_[0])
    assert not np.allclose(second_only.coefs_[0], none.coefs_[0])
    assert not np.allclose(first_only.coefs_[0], second_only.coefs_[0])


@pytest.mark.parametrize("rates", [1.0, -0.1, 1.5, float("nan"), (0.2,), (0.1, 0.2, 0.3)],
                         ids=["one", "negative", "above-one", "nan", "too-few", "too-many"])
def test_invalid_dropout_rates_raise_value_error(rates):
    X, y = blobs(n=30)
    with pytest.raises(ValueError, match="dropout"):
        classifier((4, 4), dropout=rates).fit(X, y)


def test_dropout_with_lbfgs_raises_value_error():
    X, y = blobs(n=30)
    with pytest.raises(ValueError, match="lbfgs"):
        classifier((4,), dropout=0.2, solver="lbfgs").fit(X, y)
