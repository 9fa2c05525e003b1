"""What fastmlp adds to scikit-learn's MLPs, each shown doing what it says.

Most models here train with n_threads=1: these tests are about what is learned,
not about threads, and tiny fits on a busy 2-core machine are far faster on one
thread (the n_threads tests compare the thread counts).
"""
import io
import warnings

import numpy as np
import pytest

from fastmlp import MLPClassifier, MLPRegressor, reference
from fastmlp.callbacks import ProgressBar, StopAtScore
from fastmlp.exceptions import ConvergenceWarning

CALLBACK_KEYS = {"epoch", "max_iter", "loss", "learning_rate", "seconds",
                 "samples_per_second"}
VALIDATION_KEYS = {"validation_loss", "validation_score"}


def classifier(*args, **params):
    params.setdefault("n_threads", 1)
    params.setdefault("random_state", 0)
    return MLPClassifier(*args, **params)


def regressor(*args, **params):
    params.setdefault("n_threads", 1)
    params.setdefault("random_state", 0)
    return MLPRegressor(*args, **params)


def quiet_fit(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def blobs(n=200, n_features=5, n_classes=3, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=2, size=(n_classes, n_features))
    y = rng.randint(n_classes, size=n)
    return centers[y] + rng.normal(size=(n, n_features)), y


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


def fitted_arrays(model):
    return model.coefs_ + model.intercepts_


# --- dropout ---------------------------------------------------------------------------

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
    fit = (lambda rates: quiet_fit(classifier((12, 8), dropout=rates, max_iter=4), X, y))
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


# --- class_weight ----------------------------------------------------------------------

def imbalanced(n, seed):
    """About 5% positives, shifted along the first feature."""
    rng = np.random.RandomState(seed)
    y = (rng.rand(n) < 0.05).astype(int)
    X = rng.normal(size=(n, 4))
    X[:, 0] += 1.5 * y
    return X, y


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 19.0}])
def test_class_weight_raises_the_recall_of_a_rare_class(class_weight):
    X, y = imbalanced(400, seed=0)
    X_test, y_test = imbalanced(2000, seed=1)
    recall = {}
    for weights in (None, class_weight):
        model = quiet_fit(classifier((8,), class_weight=weights, learning_rate_init=0.01,
                                     max_iter=200), X, y)
        recall[str(weights)] = np.mean(model.predict(X_test)[y_test == 1] == 1)
    # None: ~0.25 (the minority is mostly predicted as the majority); weighted: ~0.65
    assert recall[str(class_weight)] > recall["None"] + 0.25, recall


def test_class_weight_is_the_same_as_per_class_sample_weights():
    X, y = blobs(n=90)
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class = classifier((6,), solver="lbfgs", max_iter=50, class_weight=weights)
    by_sample = classifier((6,), solver="lbfgs", max_iter=50)
    quiet_fit(by_class, X, y)
    quiet_fit(by_sample, X, y, sample_weight=np.vectorize(weights.get)(y))
    np.testing.assert_allclose(by_class.predict_proba(X), by_sample.predict_proba(X),
                               rtol=1e-12)


def test_balanced_class_weight_in_partial_fit_raises_value_error():
    X, y = imbalanced(100, seed=0)
    with pytest.raises(ValueError, match="balanced"):
        classifier((4,), class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    model = classifier((4,), class_weight={0: 1.0, 1: 10.0}).partial_fit(X, y, classes=[0, 1])
    assert model.n_iter_ == 1   # a dict is fine


@pytest.mark.parametrize("weights", [{0: -1.0}, {1: float("nan")}])
def test_invalid_class_weights_raise_value_error(weights):
    X, y = imbalanced(60, seed=0)
    with pytest.raises(ValueError, match="class_weight"):
        classifier((4,), class_weight=weights).fit(X, y)


# --- sample_weight ---------------------------------------------------------------------

@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_sample_weights_equal_removing_or_repeating_samples_with_lbfgs(estimator):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    y = rng.randint(3, size=80) if estimator == "classifier" else X @ rng.normal(size=4)
    counts = rng.randint(0, 4, size=80)          # 0: removed, 2 and 3: repeated
    make = classifier if estimator == "classifier" else regressor
    output = ((lambda m: m.predict_proba(X)) if estimator == "classifier"
              else (lambda m: m.predict(X)))
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=60)
    weighted = quiet_fit(make(**params), X, y, sample_weight=counts.astype(float))
    kept = counts > 0
    removed = quiet_fit(make(**params), X[kept], y[kept], sample_weight=counts[kept] * 1.0)
    repeated_rows = np.repeat(np.arange(80), counts)
    repeated = quiet_fit(make(**params), X[repeated_rows], y[repeated_rows])
    np.testing.assert_allclose(output(removed), output(weighted), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(output(repeated), output(weighted), rtol=1e-6, atol=1e-8)
    assert repeated.loss_ == pytest.approx(weighted.loss_, rel=1e-8)


@pytest.mark.parametrize("weights, match", [
    (-np.ones(40), "negative"),
    (np.where(np.arange(40) == 3, np.nan, 1.0), "NaN"),
    (np.ones(39), "shape"),
    (np.ones((40, 1)), "shape"),
    (np.zeros(40), "all zero"),
], ids=["negative", "nan", "too-short", "2-d", "all-zero"])
def test_invalid_sample_weights_raise_value_error(weights, match):
    X, y = blobs(n=40)
    with pytest.raises(ValueError, match=match):
        classifier((4,)).fit(X, y, sample_weight=weights)


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


def test_early_stopping_on_validation_loss_keeps_the_best_epoch():
    X, y = noisy_xor(100, seed=0)
    X_val, y_val = noisy_xor(300, seed=1)
    model = quiet_fit(classifier((64,), learning_rate_init=0.01, early_stopping=True,
                                 monitor="validation_loss", n_iter_no_change=5,
                                 max_iter=500), X, y, X_val=X_val, y_val=y_val)
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
    target = (lambda A: np.sin(A[:, 0]) + A[:, 1])
    model = quiet_fit(regressor((32,), learning_rate_init=0.01, early_stopping=True,
                                n_iter_no_change=5, max_iter=300), X, target(X),
                      X_val=X_val, y_val=target(X_val))
    assert model.n_iter_ < 300
    assert model.score(X_val, target(X_val)) == pytest.approx(max(model.validation_scores_),
                                                              rel=1e-12)   # R^2
    assert model.best_validation_score_ == pytest.approx(max(model.validation_scores_))


def test_best_validation_score_is_a_score_when_monitoring_the_loss():
    X, y = noisy_xor(100, seed=0)
    X_val, y_val = noisy_xor(300, seed=1)
    model = quiet_fit(classifier((64,), learning_rate_init=0.01, early_stopping=True,
                                 monitor="validation_loss", n_iter_no_change=5,
                                 max_iter=500), X, y, X_val=X_val, y_val=y_val)
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


# --- n_threads -------------------------------------------------------------------------

def test_one_and_two_threads_train_the_same_model():
    X, y = blobs(n=300, n_features=8, n_classes=4)
    models = {n: quiet_fit(MLPClassifier((24, 12), batch_size=50, max_iter=5, random_state=0,
                                         n_threads=n), X, y) for n in (1, 2, None)}
    for n in (2, None):
        for a, b in zip(fitted_arrays(models[1]), fitted_arrays(models[n])):
            assert a.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(models[n].predict_proba(X), models[1].predict_proba(X),
                                   rtol=1e-10)
        assert models[n].score(X, y) == models[1].score(X, y)


def test_n_threads_leaves_the_process_wide_blas_threads_as_they_were():
    # n_threads bounds BLAS per thread, inside fastmlp's own calls only; threadpoolctl
    # reads the process-wide setting, so the bound itself cannot be observed from a
    # callback. What can be: fastmlp does not change the setting for everyone else.
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [info["num_threads"] for info in threadpoolctl.threadpool_info()
                if info["user_api"] == "blas"]

    before = blas_threads()
    during = []
    X, y = blobs(n=100)
    model = quiet_fit(classifier((8,), max_iter=2, n_threads=1,
                                 callbacks=[lambda m, metrics: during.append(blas_threads())]),
                      X, y)
    model.predict(X)
    assert before and during == [before, before] and blas_threads() == before


# --- partial_fit -----------------------------------------------------------------------

def test_partial_fit_needs_the_classes_on_the_first_call():
    X, y = blobs(n=60)
    with pytest.raises(ValueError, match="classes"):
        classifier((4,)).partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes"):
        classifier((4,)).partial_fit(X, y, classes=[0, 1])      # y also has 2
    model = classifier((4,)).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not in classes"):
        model.partial_fit(X, np.where(y == 2, 7, y))


def test_partial_fit_on_part_of_the_classes_keeps_them_all():
    X, y = blobs(n=90)
    model = classifier((4,)).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert list(model.classes_) == [0, 1, 2] and model.predict_proba(X).shape == (90, 3)


def test_repeated_partial_fit_calls_lower_the_loss():
    X, y = blobs(n=200)
    model = classifier((16,), learning_rate_init=0.01, batch_size=50)
    model.partial_fit(X, y, classes=[0, 1, 2])
    for _ in range(9):
        model.partial_fit(X, y)
    curve = model.loss_curve_
    assert len(curve) == 10 and model.t_ == 10 * 200
    assert np.all(np.diff(curve) < 0), curve


def test_partial_fit_carries_the_optimizer_state_between_calls():
    X, y = blobs(n=120)
    params = dict(hidden_layer_sizes=(8,), shuffle=False, learning_rate_init=0.01)
    incremental = classifier(**params)
    incremental.partial_fit(X, y, classes=[0, 1, 2])
    incremental.partial_fit(X, y)
    two_epochs = quiet_fit(classifier(max_iter=2, **params), X, y)
    restarted = quiet_fit(classifier(max_iter=1, warm_start=True, **params), X, y)
    quiet_fit(restarted, X, y)                  # a second fit starts a fresh Adam
    for a, b in zip(fitted_arrays(incremental), fitted_arrays(two_epochs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert not np.allclose(incremental.coefs_[0], restarted.coefs_[0], rtol=1e-6, atol=0)


# --- warm_start ------------------------------------------------------------------------

def test_warm_start_continues_from_the_previous_weights():
    X, y = blobs(n=200)
    model = quiet_fit(classifier((8,), warm_start=True, max_iter=15), X, y)
    first_curve = list(model.loss_curve_)
    first_weights = [a.copy() for a in fitted_arrays(model)]
    starts = []
    quiet_fit(model.set_params(callbacks=[lambda m, metrics: starts.append(metrics["loss"])]),
              X, y)
    fresh = quiet_fit(classifier((8,), max_iter=15), X, y)
    assert model.loss_curve_[:15] == first_curve and len(model.loss_curve_) == 30
    assert starts[0] < fresh.loss_curve_[0]
    assert starts[0] == pytest.approx(first_curve[-1], rel=0.05)   # no jump back up
    assert not np.allclose(model.coefs_[0], first_weights[0])
    cold = quiet_fit(model.set_params(warm_start=False, callbacks=None), X, y)
    np.testing.assert_array_equal(cold.loss_curve_, fresh.loss_curve_)


def test_warm_start_with_other_hidden_layers_raises_value_error():
    X, y = blobs(n=60)
    model = quiet_fit(classifier((8,), warm_start=True, max_iter=2), X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        model.set_params(hidden_layer_sizes=(9,)).fit(X, y)


# --- learning-rate schedules -----------------------------------------------------------

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


# --- feature names -----------------------------------------------------------------------

class Frame:
    """The part of a pandas DataFrame that estimators look at: columns and __array__."""

    def __init__(self, data, columns):
        self._data = np.asarray(data)
        self.columns = list(columns)

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self):
        return len(self._data)

    @property
    def shape(self):
        return self._data.shape


def test_feature_names_are_taken_from_string_columns_and_checked_at_predict():
    X, y = blobs(n=60, n_features=3)
    model = quiet_fit(classifier((4,), max_iter=3), Frame(X, ["a", "b", "c"]), y)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = model.predict(Frame(X, ["a", "b", "c"]))     # no warning
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        plain = model.predict(X)
    np.testing.assert_array_equal(same, plain)
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(Frame(X, ["a", "c", "b"]))
    quiet_fit(model, X, y)                                  # refit without names
    assert not hasattr(model, "feature_names_in_")


def test_non_string_columns_give_no_feature_names():
    X, y = blobs(n=60, n_features=3)
    model = quiet_fit(classifier((4,), max_iter=3), Frame(X, [0, 1, 2]), y)
    assert not hasattr(model, "feature_names_in_")
