"""clip_norm on the estimators: checked before any kernel runs, the same training on both
engines, kept by save/load and partial_fit, given by the CLI, and doing what it is for."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.cli.commands import training_params
from fastmlp.cli.parser import build_parser
from fastmlp.exceptions import ConvergenceWarning


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


@pytest.mark.parametrize("value, error", [(0, ValueError), (-1.0, ValueError),
                                          (np.nan, ValueError), (np.inf, ValueError),
                                          ("1", TypeError), (True, TypeError)])
def test_a_bad_clip_norm_is_refused_by_name(digits, value, error):
    X, y = digits
    with pytest.raises(error, match="clip_norm"):
        MLPClassifier((8,), clip_norm=value, max_iter=1).fit(X, y)


def test_lbfgs_refuses_clip_norm(digits):
    X, y = digits
    with pytest.raises(ValueError, match="clip_norm.*lbfgs"):
        MLPClassifier((8,), solver="lbfgs", clip_norm=1.0).fit(X, y)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
def test_both_engines_train_the_same_clipped_model(digits, estimator, solver):
    X, y = digits
    X = X.astype(np.float64)
    models = {}
    for engine in ("cython", "numpy"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models[engine] = estimator((20, 10), solver=solver, clip_norm=0.5, max_iter=3,
                                       batch_size=32, random_state=0,
                                       engine=engine).fit(X, y)
    for a, b in zip(models["cython"].coefs_ + models["cython"].intercepts_,
                    models["numpy"].coefs_ + models["numpy"].intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.max(np.abs(b)))
    np.testing.assert_allclose(models["cython"].loss_curve_, models["numpy"].loss_curve_,
                               rtol=1e-9)


def test_clipping_lets_sgd_learn_at_a_rate_that_fails_without_it(digits):
    # Raw pixel values (0..16) make the first gradients huge: unclipped, SGD's steps
    # throw the network far off and it learns nothing in 20 epochs; clipped, the same
    # rate learns.
    X, y = load_digits(return_X_y=True)
    scores = {}
    for clip_norm in (None, 1.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = MLPRegressor((64,), solver="sgd", learning_rate_init=0.01, max_iter=20,
                                 random_state=0, clip_norm=clip_norm).fit(X, y.astype(float))
        scores[clip_norm] = model.score(X, y)
    assert scores[None] < 0.1
    assert scores[1.0] > 0.7


def test_clip_norm_is_saved_and_partial_fit_goes_on_clipped(digits, tmp_path):
    X, y = digits
    X = X.astype(np.float64)
    model = MLPClassifier((16,), clip_norm=0.25, random_state=0, batch_size=50)
    model.partial_fit(X, y, classes=np.unique(y))
    model.save(tmp_path / "m.npz", optimizer_state=True)
    loaded = fastmlp.load(tmp_path / "m.npz")
    assert loaded.clip_norm == 0.25
    # the next pass of both equals bit for bit; unclipped, it would differ
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    for a, b in zip(model.coefs_, loaded.coefs_):
        np.testing.assert_array_equal(a, b)
    unclipped = fastmlp.load(tmp_path / "m.npz").set_params(clip_norm=None).partial_fit(X, y)
    assert not np.array_equal(unclipped.coefs_[0], model.coefs_[0])


def test_the_cli_passes_clip_norm_and_refuses_a_bad_one(capsys):
    parser = build_parser()
    args = parser.parse_args(["train", "--data", "digits", "--clip-norm", "2.5"])
    assert training_params(args)["clip_norm"] == 2.5
    assert training_params(parser.parse_args(["train", "--data", "digits"]))["clip_norm"] \
        is None
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--data", "digits", "--clip-norm", "0"])
    assert "--clip-norm" in capsys.readouterr().err
