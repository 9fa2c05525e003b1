"""Where a user of scikit-learn's MLP would notice a difference: parameter values it
accepts, the warnings it gives, the methods it hides, its words in errors, what a
diverging fit under early stopping and Ctrl-C do. Each case side by side with
scikit-learn's own estimator where that is installed."""
import _thread
import signal
import threading
import traceback
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._estimators.base import NON_FINITE_WEIGHTS
from fastmlp.exceptions import ConvergenceWarning, DivergenceError

from helpers import blobs, classifier, fitted_arrays, quiet_fit, regressor

sklearn_mlp = pytest.importorskip("sklearn.neural_network",
                                  reason="the side-by-side cases need scikit-learn")


def convergence_warnings(fit):
    """How many ConvergenceWarnings fit() gave, every one counted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return sum(issubclass(w.category, ConvergenceWarning) for w in caught)


# --- parameter values ---------------------------------------------------------------

@pytest.mark.parametrize("make", [classifier, regressor])
def test_n_iter_no_change_inf_switches_the_stall_rule_off(make, tmp_path):
    X, y = blobs(n=60)
    # tol=10: every epoch after the first is a stall, so n_iter_no_change=2 stops
    # after 1 + 3 epochs
    model = make((4,), n_iter_no_change=np.inf, tol=10.0, max_iter=6)
    assert convergence_warnings(lambda: model.fit(X, y)) == 1
    assert model.n_iter_ == 6
    stopping = quiet_fit(make((4,), n_iter_no_change=2, tol=10.0, max_iter=6), X, y)
    assert stopping.n_iter_ == 4
    model.save(tmp_path / "m.npz")   # and a model file keeps it
    assert fastmlp.load(tmp_path / "m.npz").n_iter_no_change == np.inf


def test_scikit_learn_accepts_n_iter_no_change_inf_too():
    X, y = blobs(n=60)
    theirs = sklearn_mlp.MLPClassifier((4,), n_iter_no_change=np.inf, tol=10.0,
                                       max_iter=6, random_state=0)
    assert convergence_warnings(lambda: theirs.fit(X, y)) == 1
    assert theirs.n_iter_ == 6


# --- warnings -----------------------------------------------------------------------

@pytest.mark.parametrize("ours", [True, False])
def test_each_warm_started_fit_that_stops_at_max_iter_warns(ours):
    X, y = blobs(n=60)
    make = classifier if ours else (lambda *a, **k: sklearn_mlp.MLPClassifier(
        *a, **{key: v for key, v in k.items() if key != "n_threads"}, random_state=0))
    model = make((4,), warm_start=True, max_iter=3)
    assert [convergence_warnings(lambda: model.fit(X, y)) for _ in range(3)] == [1, 1, 1]


# --- partial_fit only where the solver takes minibatches -----------------------------

@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_is_hidden_on_an_lbfgs_model(estimator):
    assert not hasattr(estimator(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit is only available for "
                                             "stochastic optimizers. lbfgs is not"):
        estimator(solver="lbfgs").partial_fit(np.zeros((2, 1)), [0, 1])
    for solver in ("adam", "sgd", "adamw", "rmsprop"):
        assert hasattr(estimator(solver=solver), "partial_fit")
    # the method is still documented on the class
    assert "epoch" in estimator.partial_fit.__doc__
    model = estimator(solver="adam")
    model.set_params(solver="lbfgs")   # follows the parameter as it is now
    assert not hasattr(model, "partial_fit")
    # a solver that does not exist: the call says so (not a missing method)
    X, y = blobs(n=20)
    with pytest.raises(ValueError, match="solver must be one of"):
        estimator(solver="newton").partial_fit(X, y, **(
            {"classes": [0, 1, 2]} if estimator is MLPClassifier else {}))


def test_scikit_learn_hides_partial_fit_on_its_lbfgs_classifier_too():
    assert not hasattr(sklearn_mlp.MLPClassifier(solver="lbfgs"), "partial_fit")


# --- scikit-learn's words in errors --------------------------------------------------

def message(call):
    with pytest.raises(ValueError) as raised:
        call()
    return str(raised.value)


def test_warm_start_with_other_classes_raises_scikit_learns_words():
    X, y = blobs(n=60)
    other = np.where(y == 2, 5, y)
    ours = quiet_fit(classifier((4,), warm_start=True, max_iter=2), X, y)
    theirs = quiet_fit(sklearn_mlp.MLPClassifier((4,), warm_start=True, max_iter=2,
                                                 random_state=0), X, y)
    assert message(lambda: ours.fit(X, other)) == message(lambda: theirs.fit(X, other))


def test_partial_fit_with_unseen_labels_raises_scikit_learns_words():
    X, y = blobs(n=60)
    other = np.where(y == 2, 5, y)
    ours = classifier((4,)).partial_fit(X, y, classes=[0, 1, 2])
    theirs = sklearn_mlp.MLPClassifier((4,), random_state=0).partial_fit(
        X, y, classes=[0, 1, 2])
    assert message(lambda: ours.partial_fit(X, other)) == \
        message(lambda: theirs.partial_fit(X, other))


def diverging_regression():
    rng = np.random.RandomState(0)
    X = rng.normal(scale=1e3, size=(64, 4))
    return X, X @ np.ones(4) * 1e30


def test_a_divergence_error_is_a_value_error_in_scikit_learns_words():
    X, y = diverging_regression()
    model = regressor((8,), solver="sgd", learning_rate_init=1.0, momentum=0.0,
                      max_iter=20, batch_size=8)
    with pytest.raises(ValueError) as raised, np.errstate(all="ignore"):
        model.fit(X, y)
    assert isinstance(raised.value, DivergenceError)
    assert str(raised.value).startswith(
        "Solver produced non-finite parameter weights. The input data may contain "
        "large values and need to be preprocessed.")
    assert not hasattr(model, "coefs_")


# --- a diverging fit under early stopping --------------------------------------------

def test_a_diverging_fit_with_early_stopping_keeps_the_best_epoch_as_scikit_learn():
    # A learning rate too large for the data's scale: a finite first epoch, then NaN.
    # scikit-learn goes on to max_iter on NaN weights and restores the best epoch's;
    # fastmlp stops at the diverging epoch and keeps the best epoch's, with a warning.
    rng = np.random.RandomState(0)
    X = 3 * rng.normal(size=(240, 4))
    y = X @ np.ones(4) + 0.3 * rng.normal(size=240)
    X_val, y_val = X[200:], y[200:]
    X, y = X[:200], y[:200]
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05,
                  momentum=0.9, max_iter=40, batch_size=20, early_stopping=True,
                  n_iter_no_change=100, tol=0.0)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        ours = regressor(**params).fit(X, y, X_val=X_val, y_val=y_val)
        theirs = sklearn_mlp.MLPRegressor(**params, random_state=0).fit(X, y)
    ours_warned = [w for w in caught if issubclass(w.category, ConvergenceWarning)
                   and str(w.message).startswith(NON_FINITE_WEIGHTS)]
    assert len(ours_warned) == 1 and "early_stopping" in str(ours_warned[0].message)
    # the case does diverge (scikit-learn's loss went to NaN); both return finite models
    assert not np.isfinite(theirs.loss_curve_[-1])
    assert all(np.isfinite(c).all() for c in theirs.coefs_)
    assert all(np.isfinite(a).all() for a in fitted_arrays(ours))
    # ours stopped at the diverging epoch: its curves hold the finite epochs only
    assert 1 <= ours.n_iter_ < 40 and np.isfinite(ours.loss_curve_).all()
    assert len(ours.loss_curve_) == len(ours.validation_scores_) == ours.n_iter_
    assert ours.best_validation_score_ == max(ours.validation_scores_)
    # the weights kept are the best epoch's: they score its validation score
    assert ours.score(X_val, y_val) == pytest.approx(ours.best_validation_score_,
                                                    rel=1e-9)


def test_a_fit_that_diverges_in_its_first_epoch_under_early_stopping_keeps_its_start():
    X, y = diverging_regression()
    params = dict(hidden_layer_sizes=(8,), solver="sgd", momentum=0.0, max_iter=20,
                  batch_size=8, early_stopping=True)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        model = regressor(**params, learning_rate_init=1.0).fit(X, y)
        # the same seed, a step too small to move a weight: the initial weights
        start = regressor(**dict(params, max_iter=1), learning_rate_init=1e-300).fit(X, y)
    assert any(str(w.message).startswith(NON_FINITE_WEIGHTS) for w in caught)
    assert model.n_iter_ == 0 and model.loss_curve_ == []
    for a, b in zip(model.coefs_ + model.intercepts_, start.coefs_ + start.intercepts_):
        np.testing.assert_array_equal(a, b)


# --- Ctrl-C ----------------------------------------------------------------------------

def interrupted_fit(interrupt=None):
    """A fit that Ctrl-C reaches in its second epoch: (model, what fit raised or None,
    the warnings it gave). 20,000 one-sample steps make an epoch of seconds, many
    times the 0.2 s between the kernel's checks for signals; max_iter=3: an interrupt
    that never lands fails the test instead of hanging it."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 64)).astype(np.float32)
    y = rng.randint(3, size=20000)
    timers = []

    def interrupt_early_in_epoch_2(model, metrics):
        if metrics["epoch"] == 1:
            timers.append(threading.Timer(0.2, _thread.interrupt_main))
            timers[0].start()

    model = MLPClassifier((256, 256), batch_size=1, max_iter=3, random_state=0, tol=0.0,
                          callbacks=[interrupt_early_in_epoch_2])
    # Python's own SIGINT handler, even in a process started ignoring SIGINT (a
    # background job), where interrupt_main would do nothing
    previous_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    raised = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if interrupt is None:
                    model.fit(X, y)
                else:
                    with fastmlp.config_context(interrupt=interrupt):
                        model.fit(X, y)
            except KeyboardInterrupt as error:
                raised = error
    finally:
        for timer in timers:
            timer.cancel()
        signal.signal(signal.SIGINT, previous_handler)
    return model, raised, [str(w.message) for w in caught]


def test_ctrl_c_in_fit_warns_and_returns_the_last_whole_epoch_as_scikit_learn():
    model, raised, messages = interrupted_fit()
    assert raised is None
    assert "Training interrupted by user." in messages
    assert model.n_iter_ == len(model.loss_curve_) == 1
    assert all(np.isfinite(a).all() for a in fitted_arrays(model))
    assert model.predict(np.zeros((2, 64), np.float32)).shape == (2,)


def test_ctrl_c_in_fit_raises_when_the_application_says_so():
    model, raised, messages = interrupted_fit(interrupt="raise")
    assert isinstance(raised, KeyboardInterrupt)
    assert "Training interrupted by user." not in messages
    # raised by the compiled training loop, within the epoch: a loop that did not look
    # for signals would leave it to Python after the epoch
    assert traceback.extract_tb(raised.__traceback__)[-1].filename.endswith(".pyx")
    assert model.n_iter_ == len(model.loss_curve_) == 1     # epoch 2 is not kept
    assert all(np.isfinite(a).all() for a in fitted_arrays(model))


def test_the_interrupt_setting_is_checked_and_scoped():
    assert fastmlp.get_config()["interrupt"] == "warn"
    with fastmlp.config_context(interrupt="raise"):
        assert fastmlp.get_config()["interrupt"] == "raise"
    assert fastmlp.get_config()["interrupt"] == "warn"
    with pytest.raises(ValueError, match="interrupt must be one of"):
        fastmlp.set_config(interrupt="ignore")
    with pytest.raises(TypeError, match="unknown fastmlp setting"):
        with fastmlp.config_context(interupt="raise"):
            pass


# --- sample weights: scikit-learn's checks, by name ------------------------------------

@pytest.mark.parametrize("estimator", [MLPClassifier(max_iter=50, n_threads=1),
                                       MLPRegressor(max_iter=50, n_threads=1)],
                         ids=["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("check", ["check_sample_weight_equivalence_on_dense_data",
                                   "check_sample_weight_equivalence_on_sparse_data",
                                   "check_sample_weights_not_overwritten",
                                   "check_sample_weights_shape",
                                   "check_sample_weights_list",
                                   "check_sample_weights_not_an_array",
                                   "check_sample_weights_pandas_series"])
def test_scikit_learns_sample_weight_checks_pass(estimator, check):
    from sklearn.utils import estimator_checks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(estimator_checks, check)(type(estimator).__name__, estimator)
