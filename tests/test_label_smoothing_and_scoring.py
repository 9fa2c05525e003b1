"""label_smoothing (the classifier's targets, smoothed by the loss kernel as it reads
them), scoring= (the validation score by any scikit-learn scorer or a callable) and
sample_weight_val."""
import warnings

import numpy as np
import pytest

from fastmlp import reference
from fastmlp.exceptions import ConvergenceWarning

from helpers import blobs, classifier, fitted_arrays, quiet_fit, regressor


def first_epoch_loss(X, y, **params):
    """The loss of one epoch whose step is too small to move a weight: the loss of
    the initial weights, and those weights."""
    model = quiet_fit(classifier((7,), solver="sgd", momentum=0.0, learning_rate_init=1e-300,
                                 alpha=0.0, batch_size=len(y), max_iter=1, **params), X, y)
    return model.loss_curve_[0], model


@pytest.mark.parametrize("n_classes", [2, 4])
def test_label_smoothing_changes_the_loss_as_the_formula_says(n_classes):
    X, y = blobs(n=90, n_classes=n_classes, seed=2)
    plain, model = first_epoch_loss(X, y)
    smoothed, _ = first_epoch_loss(X, y, label_smoothing=0.2)
    P = reference.forward(model.coefs_, model.intercepts_, X, "relu",
                          model.out_activation_)[-1]
    if n_classes == 2:    # one logistic output: P(class 1); smoothing over 2 classes
        Y = (y == 1).astype(float)[:, None]
        targets, loss = Y * 0.8 + 0.1, "binary_log_loss"
    else:
        Y = np.eye(n_classes)[y]
        targets, loss = Y * 0.8 + 0.2 / n_classes, "log_loss"
    assert plain == pytest.approx(reference.per_sample_losses(Y, P, loss).mean(), rel=1e-9)
    assert smoothed == pytest.approx(
        reference.per_sample_losses(targets, P, loss).mean(), rel=1e-9)
    assert smoothed != pytest.approx(plain)


def test_label_smoothing_trains_the_same_on_both_engines_and_scores_true_labels():
    X, y = blobs(n=150, n_features=6, n_classes=3, seed=5)
    models = [quiet_fit(classifier((9,), label_smoothing=0.1, max_iter=5, batch_size=32,
                                   learning_rate_init=0.01, engine=engine), X, y,
                        X_val=X[:40], y_val=y[:40])
              for engine in ("cython", "numpy")]
    for a, b in zip(fitted_arrays(models[0]), fitted_arrays(models[1])):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # the validation loss is against the true labels, not the smoothed ones
    model = models[0]
    P = model.predict_proba(X[:40])
    true_loss = reference.per_sample_losses(np.eye(3)[y[:40]], P, "log_loss").mean()
    assert model.validation_loss_curve_[-1] == pytest.approx(true_loss, rel=1e-9)
    assert model.validation_scores_[-1] == model.score(X[:40], y[:40])


def test_label_smoothing_reaches_the_full_batch_gradient_of_lbfgs():
    # L-BFGS runs the step's loss kernel once over all rows: the same smoothed loss
    X, y = blobs(n=120, n_features=5, n_classes=3, seed=7)
    fits = {(engine, e): quiet_fit(classifier((6,), solver="lbfgs", max_iter=4,
                                              label_smoothing=e, engine=engine), X, y)
            for engine in ("cython", "numpy") for e in (0.0, 0.2)}
    for e in (0.0, 0.2):
        for a, b in zip(fitted_arrays(fits["cython", e]), fitted_arrays(fits["numpy", e])):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    assert fits["cython", 0.2].loss_ != pytest.approx(fits["cython", 0.0].loss_)


def test_label_smoothing_is_checked():
    X, y = blobs(n=30)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="label_smoothing"):
            classifier((3,), label_smoothing=bad).fit(X, y)
    with pytest.raises(TypeError, match="label_smoothing"):
        classifier((3,), label_smoothing="0.1").fit(X, y)


pytest.importorskip("sklearn", reason="scorer names are scikit-learn's")


def test_scoring_by_name_records_that_score_and_early_stopping_watches_it():
    from sklearn.metrics import f1_score
    X, y = blobs(n=200, n_classes=3, seed=1)
    model = quiet_fit(classifier((8,), scoring="f1_macro", max_iter=4), X[:150], y[:150],
                      X_val=X[150:], y_val=y[150:])
    assert model.validation_scores_[-1] == pytest.approx(
        f1_score(y[150:], model.predict(X[150:]), average="macro"))
    # neg_log_loss: higher is better, as every scorer
    model = quiet_fit(classifier((8,), scoring="neg_log_loss", max_iter=4,
                                 early_stopping=True, n_iter_no_change=100), X, y)
    assert all(s < 0 for s in model.validation_scores_)
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_a_callable_scorer_and_validation_sample_weights():
    X, y = blobs(n=200, seed=3)
    weights = np.random.RandomState(0).uniform(0, 2, 50)
    seen = []

    def scorer(estimator, X_val, y_val, sample_weight=None):
        seen.append(sample_weight)
        return float(np.average(estimator.predict(X_val) == y_val, weights=sample_weight))

    model = quiet_fit(classifier((8,), scoring=scorer, max_iter=3), X[:150], y[:150],
                      X_val=X[150:], y_val=y[150:], sample_weight_val=weights)
    assert len(seen) == 3 and all(w is not None and np.allclose(w, weights) for w in seen)
    assert model.validation_scores_[-1] == pytest.approx(
        model.score(X[150:], y[150:], sample_weight=weights))
    # the weights count in the validation loss too
    P = model.predict_proba(X[150:])
    losses = reference.per_sample_losses(np.eye(3)[y[150:]], P, "log_loss")
    assert model.validation_loss_curve_[-1] == pytest.approx(
        np.average(losses, weights=weights), rel=1e-6)


def test_scoring_on_a_regressor_and_on_lbfgs():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    y = X.sum(axis=1)
    for solver in ("adam", "lbfgs"):
        model = quiet_fit(regressor((6,), solver=solver, scoring="neg_mean_absolute_error",
                                    max_iter=5), X[:90], y[:90], X_val=X[90:], y_val=y[90:])
        assert model.validation_scores_[-1] == pytest.approx(
            -np.mean(np.abs(model.predict(X[90:]) - y[90:])))


def test_scoring_and_validation_weights_are_checked():
    X, y = blobs(n=60)
    with pytest.raises(ValueError, match="not a scikit-learn scorer name"):
        classifier((3,), scoring="acuracy").fit(X, y)
    with pytest.raises(TypeError, match="scoring must be"):
        classifier((3,), scoring=3).fit(X, y)
    with pytest.raises(ValueError, match="sample_weight_val needs X_val"):
        classifier((3,)).fit(X, y, sample_weight_val=np.ones(10))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier((3,)).fit(X, y, X_val=X[:10], y_val=y[:10],
                                 sample_weight_val=np.ones(9))
