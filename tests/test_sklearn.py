"""fastmlp inside scikit-learn: its estimator checks, its meta-estimators, the same
numbers as sklearn.neural_network, and life without scikit-learn installed."""
import pickle
import textwrap
import warnings

import numpy as np
import pytest

from helpers import blobs, quiet_fit, run_script_printing_ok

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed: the "
                              "compatibility tests need it")

import joblib  # noqa: E402  (scikit-learn depends on it)
from sklearn import neural_network  # noqa: E402
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastmlp import MLPClassifier, MLPRegressor  # noqa: E402
from fastmlp.exceptions import ConvergenceWarning  # noqa: E402


def classification(n=240, n_features=5, n_classes=3, seed=0):
    return blobs(n, n_features, n_classes, seed, scale=2.5)


def regression(n=240, n_features=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)


# --- 1. every scikit-learn estimator check -----------------------------------------

# The checks fit with the default max_iter=200 on data that does not converge in it:
# the ConvergenceWarning is expected there, as scikit-learn's own MLP tests expect it.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_passes_scikit_learn_estimator_check(estimator, check):
    check(estimator)


# --- 2. real scikit-learn estimators ----------------------------------------------------

def test_estimators_are_scikit_learn_estimators_of_the_right_kind():
    assert isinstance(MLPClassifier(), BaseEstimator)
    assert isinstance(MLPRegressor(), BaseEstimator)
    assert is_classifier(MLPClassifier()) and not is_regressor(MLPClassifier())
    assert is_regressor(MLPRegressor()) and not is_classifier(MLPRegressor())


def test_clone_keeps_the_parameters_and_drops_the_fitted_state():
    X, y = classification(n=60)
    model = quiet_fit(MLPClassifier((7, 3), alpha=0.3, dropout=(0.1, 0.2), max_iter=3,
                                    random_state=4, n_threads=1), X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "coefs_") and not hasattr(copy, "classes_")
    assert hasattr(model, "coefs_")


# --- 3. meta-estimators -----------------------------------------------------------------

def test_pipeline_with_a_scaler_fits_and_predicts():
    X, y = classification(n=200)
    X = X * [1, 100, 0.01, 10, 1000]   # badly scaled features: the scaler matters
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPClassifier((16,), learning_rate_init=0.01, max_iter=100,
                                           random_state=0, n_threads=1))])
    quiet_fit(pipe, X[:150], y[:150])
    assert pipe.predict(X[150:]).shape == (50,)
    assert pipe.score(X[150:], y[150:]) > 0.85


def test_grid_search_in_two_processes_picks_a_grid_point_that_predicts_well():
    X, y = classification(n=180)
    grid = {"alpha": [1e-4, 1.0], "hidden_layer_sizes": [(4,), (16,)]}
    search = GridSearchCV(MLPClassifier(learning_rate_init=0.01, max_iter=60, random_state=0,
                                        n_threads=1),   # two processes of one thread each
                          grid, n_jobs=2, cv=3)
    quiet_fit(search, X[:150], y[:150])
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["alpha"] in grid["alpha"]
    assert search.best_params_["hidden_layer_sizes"] in grid["hidden_layer_sizes"]
    assert isinstance(search.best_estimator_, MLPClassifier)
    assert search.best_score_ > 0.8
    assert search.score(X[150:], y[150:]) > 0.8


def test_cross_val_score_gives_sane_accuracies():
    X, y = classification(n=180)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(MLPClassifier((16,), learning_rate_init=0.01, max_iter=60,
                                               random_state=0, n_threads=1), X, y, cv=3)
    assert scores.shape == (3,)
    assert np.all((scores > 0.8) & (scores <= 1.0))


def test_regressor_in_a_pipeline_grid_search_and_cross_validation_with_r2():
    X, y = regression(n=240)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPRegressor((16,), activation="tanh", learning_rate_init=0.01,
                                          max_iter=150, random_state=0, n_threads=1))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3, scoring="r2")
        search = GridSearchCV(pipe, {"mlp__alpha": [1e-4, 10.0]}, cv=3, scoring="r2",
                              n_jobs=2).fit(X[:200], y[:200])
    assert np.all((scores > 0.6) & (scores <= 1.0))
    assert search.best_params_ == {"mlp__alpha": 1e-4}   # alpha=10 underfits
    assert search.score(X[200:], y[200:]) > 0.6


# --- 4. the same numbers as sklearn.neural_network -----------------------------------

EQUIVALENCE_CASES = {
    # id: (target, solver, extra parameters)
    "multiclass-adam": ("multiclass", "adam", {}),
    "binary-adam": ("binary", "adam", {}),
    "regression-adam": ("regression", "adam", {}),
    "multiclass-sgd-nesterov": ("multiclass", "sgd", {}),
    "binary-sgd-momentum": ("binary", "sgd", {"nesterovs_momentum": False}),
    "regression-sgd-nesterov": ("regression", "sgd", {}),
    "multiclass-sgd-invscaling": ("multiclass", "sgd", {"learning_rate": "invscaling",
                                                        "learning_rate_init": 0.1}),
    "binary-sgd-adaptive": ("binary", "sgd", {"learning_rate": "adaptive", "tol": 10.0,
                                              "n_iter_no_change": 1}),
}


def equivalence_problem(target):
    X, y = classification(n=150, n_features=6, n_classes=2 if target == "binary" else 3,
                          seed=1)
    if target == "regression":
        y = X @ np.random.RandomState(2).normal(size=6)   # a single output
        return X, y, MLPRegressor, neural_network.MLPRegressor
    return X, y, MLPClassifier, neural_network.MLPClassifier


@pytest.mark.parametrize("target, solver, extra", EQUIVALENCE_CASES.values(),
                         ids=EQUIVALENCE_CASES.keys())
def test_same_random_state_gives_scikit_learns_weights_and_loss_curve(target, solver, extra):
    X, y, ours, theirs = equivalence_problem(target)
    params = dict(hidden_layer_sizes=(8, 5), solver=solver, batch_size=32,  # 150 % 32 != 0
                  learning_rate_init=0.01, alpha=1e-3, max_iter=6, shuffle=True,
                  random_state=3)
    params.update(extra)
    fast = quiet_fit(ours(**params), X, y)
    reference = quiet_fit(theirs(**params), X, y)
    assert fast.coefs_[0].dtype == np.float64
    assert fast.n_iter_ == reference.n_iter_ == 6
    for a, b in zip(fast.coefs_ + fast.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fast.loss_curve_, reference.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(fast.t_, reference.t_)
    if target != "regression":
        np.testing.assert_allclose(fast.predict_proba(X), reference.predict_proba(X),
                                   rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("target", ["multiclass", "binary"])
def test_partial_fit_calls_give_scikit_learns_weights(target):
    X, y, ours, theirs = equivalence_problem(target)
    models = [cls((8,), batch_size=16, learning_rate_init=0.01, random_state=0)
              for cls in (ours, theirs)]
    for model in models:
        model.partial_fit(X, y, classes=np.unique(y))
        for _ in range(3):
            model.partial_fit(X, y)
    fast, reference = models
    for a, b in zip(fast.coefs_ + fast.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fast.loss_curve_, reference.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_early_stopping_uses_scikit_learns_validation_split_and_order(target):
    X, y, ours, theirs = equivalence_problem(target)
    params = dict(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=4,
                  early_stopping=True, random_state=1)
    fast = quiet_fit(ours(**params), X, y)
    reference = quiet_fit(theirs(**params), X, y)
    np.testing.assert_allclose(fast.loss_curve_, reference.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(fast.validation_scores_, reference.validation_scores_,
                               rtol=1e-9)
    np.testing.assert_allclose(fast.coefs_[0], reference.coefs_[0], rtol=1e-6)


LBFGS_CASES = [(MLPClassifier, neural_network.MLPClassifier, "classification"),
               (MLPRegressor, neural_network.MLPRegressor, "regression")]


@pytest.mark.parametrize("ours, theirs, target", LBFGS_CASES, ids=["classifier", "regressor"])
def test_lbfgs_reaches_scikit_learns_final_loss(ours, theirs, target):
    X, y = regression(n=120, n_features=4, seed=5)
    if target == "classification":   # three classes that overlap: no zero-loss solution
        rng = np.random.RandomState(0)
        X = rng.normal(size=(120, 4))
        y = (X[:, 0] * X[:, 1] + 0.3 * rng.normal(size=120) > 0) + (X[:, 2] > 0.5)
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", alpha=1e-2, max_iter=1000,
                  random_state=0)
    fast = quiet_fit(ours(**params), X, y)
    reference = quiet_fit(theirs(**params), X, y)
    assert fast.n_iter_ < 1000 and reference.n_iter_ < 1000   # both converged
    assert fast.loss_ == pytest.approx(reference.loss_, rel=0.03)


# --- 5. persistence through a meta-estimator -------------------------------------------

def test_fitted_grid_search_survives_pickle_and_joblib_with_identical_predictions(tmp_path):
    X, y = classification(n=120)
    search = quiet_fit(GridSearchCV(MLPClassifier((8,), max_iter=20, random_state=0,
                                                  n_threads=1),
                                    {"alpha": [1e-4, 1e-1]}, cv=2), X, y)
    expected = search.predict_proba(X)
    pickled = pickle.loads(pickle.dumps(search))
    joblib.dump(search, tmp_path / "search.joblib")
    loaded = joblib.load(tmp_path / "search.joblib")
    for copy in (pickled, loaded):
        np.testing.assert_array_equal(copy.predict_proba(X), expected)
        np.testing.assert_array_equal(copy.predict(X), search.predict(X))
        assert copy.best_params_ == search.best_params_


# --- 6. without scikit-learn -------------------------------------------------------------

WITHOUT_SKLEARN = textwrap.dedent("""
    import sys
    sys.modules["sklearn"] = None          # any 'import sklearn...' now raises ImportError
    import warnings
    import numpy as np
    import fastmlp
    from fastmlp import MLPClassifier, MLPRegressor
    from fastmlp.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)

    assert not [m for m, module in sys.modules.items()
                if m.split(".")[0] == "sklearn" and module is not None]
    for cls in (MLPClassifier, MLPRegressor):
        assert not [k for k in cls.__mro__ if k.__module__.split(".")[0] == "sklearn"], \\
            cls.__mro__
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    labels = (X[:, 0] + X[:, 1] > 0).astype(int)
    target = X @ np.array([1.0, -2.0, 0.5, 0.0])

    clf = MLPClassifier((8,), learning_rate_init=0.01, max_iter=100, random_state=0,
                        n_threads=1)
    assert clf.fit(X, labels) is clf
    assert set(clf.predict(X)) <= {0, 1}
    assert clf.score(X, labels) > 0.9
    reg = MLPRegressor((8,), learning_rate_init=0.01, max_iter=200, random_state=0,
                       n_threads=1)
    assert reg.fit(X, target) is reg
    assert reg.predict(X).shape == (120,)
    assert reg.score(X, target) > 0.9

    assert clf.get_params()["hidden_layer_sizes"] == (8,)
    assert clf.set_params(alpha=0.5) is clf and clf.get_params()["alpha"] == 0.5
    assert repr(clf) == ("MLPClassifier(alpha=0.5, hidden_layer_sizes=(8,), "
                         "learning_rate_init=0.01, max_iter=100, n_threads=1, "
                         "random_state=0)"), repr(clf)
    try:
        clf.set_params(nonsense=1)
    except ValueError:
        pass
    else:
        raise AssertionError("set_params accepted an unknown parameter")
    print("ok")
""")


def test_fastmlp_imports_and_works_without_scikit_learn():
    run_script_printing_ok(WITHOUT_SKLEARN)
