"""Targets beyond a plain multiclass label and losses beyond the default: the Poisson
loss, predict_log_proba, a single class at fit, and multilabel indicator targets."""
import numpy as np
import pytest

from helpers import blobs, classifier, quiet_fit, regressor

# --- Poisson loss ----------------------------------------------------------------------

def counts(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    mean = np.exp(0.5 + X @ np.array([0.6, -0.4, 0.3]))
    return X, rng.poisson(mean).astype(float), mean


def mean_poisson_deviance(y, mean):
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mean), 0)
    return 2 * np.mean(ylogy - y + mean)


def test_poisson_regressor_fits_log_linear_counts():
    X, y, _ = counts(400, seed=0)
    X_test, y_test, true_mean = counts(1000, seed=1)
    model = quiet_fit(regressor((8,), loss="poisson", learning_rate_init=0.01, max_iter=300),
                      X, y)
    predicted = model.predict(X_test)
    assert model.out_activation_ == "exp" and np.all(predicted > 0)
    deviance = mean_poisson_deviance(y_test, predicted)
    assert deviance < 0.6 * mean_poisson_deviance(y_test, np.full_like(y_test, y.mean()))
    assert deviance < 1.1 * mean_poisson_deviance(y_test, true_mean)   # near the truth
    assert np.corrcoef(np.log(predicted), np.log(true_mean))[0, 1] > 0.95


def test_poisson_loss_is_half_the_mean_deviance_plus_the_penalty():
    X, y, _ = counts(150, seed=2)
    model = quiet_fit(regressor((5,), loss="poisson", solver="lbfgs", alpha=0.1,
                                max_iter=100), X, y)
    penalty = 0.5 * 0.1 * sum(np.sum(W ** 2) for W in model.coefs_) / len(y)
    expected = 0.5 * mean_poisson_deviance(y, model.predict(X)) + penalty
    assert model.loss_ == pytest.approx(expected, rel=1e-10)


def test_poisson_loss_rejects_negative_targets():
    X, y, _ = counts(50, seed=3)
    y[7] = -1
    with pytest.raises(ValueError, match="negative"):
        regressor((4,), loss="poisson").fit(X, y)
    quiet_fit(regressor((4,), max_iter=2), X, y)   # squared error takes them


# --- probabilities and targets ----------------------------------------------------------

@pytest.mark.parametrize("n_classes", [2, 4])
def test_predict_log_proba_is_the_log_of_predict_proba(n_classes):
    X, y = blobs(n=100, n_classes=n_classes)
    model = quiet_fit(classifier((8,), max_iter=10), X, y)
    log_proba = model.predict_log_proba(X)
    assert log_proba.shape == (100, n_classes)
    np.testing.assert_allclose(log_proba, np.log(model.predict_proba(X)), rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_a_single_class_at_fit_is_always_predicted(solver):
    X, _ = blobs(n=50)
    y = np.full(50, "only")
    model = quiet_fit(classifier((4,), solver=solver, max_iter=5), X, y)
    assert list(model.classes_) == ["only"]
    assert list(model.predict(X * 10 - 3)) == ["only"] * 50
    assert model.score(X, y) == 1.0


def test_multilabel_indicator_targets():
    X, _ = blobs(n=150)
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0].astype(int)
    model = quiet_fit(classifier((16,), learning_rate_init=0.01, max_iter=300), X, Y)
    assert list(model.classes_) == [0, 1, 2] and model.out_activation_ == "logistic"
    assert model.predict(X).shape == (150, 3) and set(np.unique(model.predict(X))) <= {0, 1}
    proba = model.predict_proba(X)
    assert proba.shape == (150, 3)
    assert not np.allclose(proba.sum(axis=1), 1)   # independent labels, not a softmax
    assert model.score(X, Y) > 0.9                  # subset accuracy
