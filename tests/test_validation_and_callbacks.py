"""Validation data, early stopping on it, and what training reports every epoch: the
callbacks, StopAtScore, ProgressBar and verbose output."""
import io
import warnings

import numpy as np
import pytest

from fastmlp.callbacks import ProgressBar, StopAtScore
from fastmlp.exceptions import ConvergenceWarning

from helpers import blobs, classifier, quiet_fit, regressor

CALLBACK_KEYS = {"epoch", "max_iter", "loss", "learning_rate", "seconds",
                 "samples_per_second"}
VALIDATION_KEYS = {"validation_loss", "validation_score"}


def noisy_xor(n, seed):
    """Two classes that need a hidden layer, with 20% of the labels flipped."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.8 * rng.normal(size=n) > 0).astype(int)
    return X, y


def log_loss(model, X, y):
    """Mean cross-entropy of model's probabilities (the validation loss, recomputed)."""
    proba = model.predict_proba(X)
    return -np.mean(np.log(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)]))


# --- validation data and early stopping ----------------------------------------------

def test_validation_set_is_scored_after_every_epoch():
    X, y = noisy_xor(100, seed=0)
    X_val, y_val = noisy_xor(300, seed=1)
    model = quiet_fit(classifier((32,), learning_rate_init=0.01, max_iter=12), X, y,
                      X_val=X_val, y_val=y_val)
    assert model.n_iter_ == 12
    assert len(model.loss_curve_) == len(model.validation_loss_curve_) \
        == len(model.validation_scores_) == 12
    # the last entries describe the final model
    assert model.validation_scores_[-1] == pytest.approx(model.score(X_val, y_val))
    assert model.validation_loss_curve_[-1] == pytest.approx(log_loss(model, X_val, y_val),
                                                             rel=1e-10)
    assert model.validation_loss_curve_[-1] < model.validation_loss_curve_[0]


@pytest.fixture(scope="module")
def stopped_on_validation_loss():
    """A classifier stopped early on its validation loss, and that validation data."""
    X, y = noisy_xor(100, seed=0)
    X_val, y_val = noisy_xor(300, seed=1)
    model = quiet_fit(classifier((64,), learning_rate_init=0.01, early_stopping=True,
                                 monitor="validation_loss", n_iter_no_change=5,
                                 max_iter=500), X, y, X_val=X_val, y_val=y_val)
    return model, X_val, y_val


def test_early_stopping_on_validation_loss_keeps_the_best_epoch(stopped_on_validation_loss):
    model, X_val, y_val = stopped_on_validation_loss
    curve = model.validation_loss_curve_
    best = int(np.argmin(curve))
    assert model.n_iter_ < 500 and len(curve) == model.n_iter_
    # stops once n_iter_no_change + 1 epochs in a row fail to improve (scikit-learn's rule)
    assert model.n_iter_ == best + 1 + model.n_iter_no_change + 1
    assert curve[-1] > curve[best]               # training went past the best epoch...
    assert log_loss(model, X_val, y_val) == pytest.approx(min(curve), rel=1e-10)  # ...restored


def test_early_stopping_on_validation_score_keeps_the_best_regressor():
    rng = np.random.RandomState(0)
    X, X_val = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))

    def target(A):
        return np.sin(A[:, 0]) + A[:, 1]

    model = quiet_fit(regressor((32,), learning_rate_init=0.01, early_stopping=True,
                                n_iter_no_change=5, max_iter=300), X, target(X),
                      X_val=X_val, y_val=target(X_val))
    assert model.n_iter_ < 300
    assert model.score(X_val, target(X_val)) == pytest.approx(max(model.validation_scores_),
                                                              rel=1e-12)   # R^2
    assert model.best_validation_score_ == pytest.approx(max(model.validation_scores_))


def test_best_validation_score_is_a_score_when_monitoring_the_loss(stopped_on_validation_loss):
    model, _, _ = stopped_on_validation_loss
    best = int(np.argmin(model.validation_loss_curve_))
    assert model.best_validation_score_ == pytest.approx(model.validation_scores_[best])


def test_lbfgs_does_not_silently_ignore_validation_data():
    X, y = noisy_xor(100, seed=0)
    X_val, y_val = noisy_xor(100, seed=1)
    model = classifier((8,), solver="lbfgs", max_iter=30)
    try:
        quiet_fit(model, X, y, X_val=X_val, y_val=y_val)
    except ValueError:
        return                                        # refusing is fine too
    assert getattr(model, "validation_loss_curve_", None) is not None


@pytest.mark.parametrize("given", ["X_val", "y_val"])
def test_validation_data_needs_both_X_val_and_y_val(given):
    X, y = noisy_xor(60, seed=0)
    with pytest.raises(ValueError, match="X_val and y_val"):
        classifier((4,)).fit(X, y, **{given: X[:10] if given == "X_val" else y[:10]})


# --- callbacks and verbose -----------------------------------------------------------

def test_callbacks_see_every_epoch_with_the_documented_metrics():
    X, y = blobs(n=120)
    seen = []

    def record(model, metrics):
        seen.append((dict(metrics), model.n_iter_, list(model.loss_curve_)))

    quiet_fit(classifier((8,), max_iter=4, callbacks=[record]), X, y)
    assert [metrics["epoch"] for metrics, _, _ in seen] == [1, 2, 3, 4]
    for metrics, n_iter, curve in seen:
        assert set(metrics) == CALLBACK_KEYS
        assert n_iter == metrics["epoch"] == len(curve)   # the model holds that epoch
        assert metrics["loss"] == curve[-1] and metrics["max_iter"] == 4
        assert metrics["seconds"] >= 0 and metrics["samples_per_second"] > 0
    seen.clear()
    quiet_fit(classifier((8,), max_iter=2, callbacks=[record]), X, y, X_val=X, y_val=y)
    assert all(set(metrics) == CALLBACK_KEYS | VALIDATION_KEYS for metrics, _, _ in seen)


def test_a_callback_returning_true_stops_training_after_that_epoch():
    X, y = blobs(n=120)
    later = []
    model = classifier((8,), max_iter=50, callbacks=[lambda m, metrics: metrics["epoch"] == 3,
                                                     lambda m, metrics: later.append(1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)   # a requested stop is no warning
        model.fit(X, y)
    assert model.n_iter_ == len(model.loss_curve_) == 3
    assert len(later) == 3    # every callback still ran on the stopping epoch


def test_stop_at_score_stops_at_the_first_epoch_reaching_the_score():
    X, y = noisy_xor(200, seed=0)
    X_val, y_val = noisy_xor(200, seed=1)
    model = quiet_fit(classifier((16,), learning_rate_init=0.01, max_iter=300,
                                 callbacks=[StopAtScore(0.75)]), X, y,
                      X_val=X_val, y_val=y_val)
    scores = np.asarray(model.validation_scores_)
    assert model.n_iter_ < 300
    assert scores[-1] >= 0.75 and np.all(scores[:-1] < 0.75)
    assert StopAtScore(0.5)(model, {"epoch": 1, "loss": 1.0}) is False   # no validation


def test_verbose_prints_scikit_learn_style_progress_lines(capsys):
    X, y = blobs(n=80)
    model = quiet_fit(classifier((4,), max_iter=3, verbose=True), X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"Iteration 1, loss = {model.loss_curve_[0]:.8f}")
    assert lines[2].startswith("Iteration 3, loss = ") and "3/3" in lines[2]


def test_progress_bar_writes_to_its_stream_with_validation_figures(capsys):
    X, y = blobs(n=80)
    stream = io.StringIO()
    quiet_fit(classifier((4,), max_iter=2, callbacks=[ProgressBar(width=10, stream=stream)]),
              X, y, X_val=X, y_val=y)
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2"]
    assert "[#####.....] 1/2" in lines[0] and "validation score" in lines[0]
    assert "validation loss" in lines[0]
    assert capsys.readouterr().out == ""


def test_the_first_epoch_scores_string_labels_as_labels():
    # the first epoch's validation score was taken before fit published classes_, so
    # it compared class indices with the labels: 0.0 whatever the model did
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.where(X[:, 0] > 0, "yes", "no")
    model = quiet_fit(classifier((8,), max_iter=2, learning_rate_init=0.05, batch_size=10),
                      X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    assert model.validation_scores_[0] >= 0.8   # 0.88 (0.0 before)


def test_early_stopping_scores_multilabel_targets():
    # the same mix-up compared rows of labels with class indices and failed in fit
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(60, 4)), rng.integers(0, 2, (60, 3))
    model = quiet_fit(classifier((5,), early_stopping=True, max_iter=3), X, Y)
    assert len(model.validation_scores_) == 3
    assert all(0 <= score <= 1 for score in model.validation_scores_)
