"""The estimators: both engines, dtypes, determinism, accuracy, and what fit leaves behind."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.datasets import make_digits
from fastmlp.exceptions import ConvergenceWarning, DivergenceError, NotFittedError

from helpers import blobs as shared_blobs
from helpers import fitted_arrays, quiet_fit


def blobs(n=300, n_features=7, n_classes=3, seed=0, dtype=np.float64):
    """The shared blobs spread wider (scale 3): well separated classes."""
    return shared_blobs(n, n_features, n_classes, seed, scale=3.0, dtype=dtype)


# --- the two engines ----------------------------------------------------------------

ENGINE_CASES = [
    # (estimator, activation, solver, nesterov, n_classes / outputs)
    (MLPClassifier, "relu", "adam", True, 4),
    (MLPClassifier, "tanh", "sgd", True, 2),
    (MLPClassifier, "logistic", "sgd", False, 3),
    (MLPClassifier, "elu", "adam", True, 2),
    (MLPRegressor, "leaky_relu", "adam", True, 1),
    (MLPRegressor, "tanh", "sgd", False, 3),
]


@pytest.mark.parametrize("estimator, activation, solver, nesterov, k", ENGINE_CASES)
def test_cython_and_numpy_engines_reach_the_same_weights_in_float64(
        estimator, activation, solver, nesterov, k):
    X, labels = blobs(n=233, n_features=9, n_classes=max(k, 2), seed=1)
    y = labels if estimator is MLPClassifier else np.random.RandomState(2).normal(size=(233, k))
    if estimator is MLPRegressor and k == 1:
        y = y.ravel()
    models = [estimator((13, 6), activation=activation, solver=solver, batch_size=40,
                        nesterovs_momentum=nesterov, learning_rate_init=0.01, alpha=1e-3,
                        max_iter=5, random_state=3, engine=engine)
              for engine in ("cython", "numpy")]
    for model in models:
        quiet_fit(model, X, y)
    cython_model, numpy_model = models
    for a, b in zip(fitted_arrays(cython_model), fitted_arrays(numpy_model)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cython_model.loss_curve_, numpy_model.loss_curve_, rtol=1e-10)
    assert cython_model.n_iter_ == numpy_model.n_iter_ == 5


def test_cython_and_numpy_engines_stay_close_in_float32():
    X, y = blobs(n=500, n_features=20, n_classes=5, seed=4, dtype=np.float32)
    models = [quiet_fit(MLPClassifier((32, 16), batch_size=64, max_iter=5, random_state=0,
                                      engine=engine), X, y)
              for engine in ("cython", "numpy")]
    for a, b in zip(fitted_arrays(models[0]), fitted_arrays(models[1])):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-4)
    np.testing.assert_allclose(models[0].loss_curve_, models[1].loss_curve_, rtol=1e-4)


@pytest.mark.parametrize("engine", ["cython", "numpy"])
def test_same_random_state_gives_identical_models(engine):
    X, y = blobs(seed=5)
    first, second = (quiet_fit(MLPClassifier((10,), max_iter=4, random_state=7,
                                             engine=engine), X, y) for _ in range(2))
    for a, b in zip(fitted_arrays(first), fitted_arrays(second)):
        np.testing.assert_array_equal(a, b)
    different = quiet_fit(MLPClassifier((10,), max_iter=4, random_state=8, engine=engine), X, y)
    assert not np.array_equal(first.coefs_[0], different.coefs_[0])


# --- what the fitted model computes --------------------------------------------------

def textbook_forward(model, X):
    """The forward pass over coefs_ / intercepts_ in plain NumPy."""
    activation = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
                  "logistic": lambda z: 1 / (1 + np.exp(-z)), "identity": lambda z: z}
    a = X
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        a = activation[model.activation](a @ W + b)
    z = a @ model.coefs_[-1] + model.intercepts_[-1]
    if model.out_activation_ == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if model.out_activation_ == "logistic":
        return 1 / (1 + np.exp(-z))
    return z


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_predict_proba_equals_a_textbook_forward_pass_in_float32(activation):
    X, y = blobs(n=700, n_features=12, n_classes=4, seed=6, dtype=np.float32)
    model = quiet_fit(MLPClassifier((31, 17), activation=activation, max_iter=10,
                                    random_state=0), X, y)
    proba = model.predict_proba(X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, textbook_forward(model, X), atol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)


def test_binary_proba_has_two_columns_from_one_logistic_output():
    X, y = blobs(n=200, n_classes=2, seed=7)
    model = quiet_fit(MLPClassifier((8,), max_iter=20, random_state=0), X, y)
    proba = model.predict_proba(X)
    assert model.out_activation_ == "logistic" and model.n_outputs_ == 1
    np.testing.assert_allclose(proba[:, 1], textbook_forward(model, X)[:, 0], rtol=1e-10)
    np.testing.assert_allclose(proba.sum(axis=1), 1)


def test_predictions_do_not_depend_on_memory_layout():
    X, y = blobs(n=300, n_features=10, seed=8)
    model = quiet_fit(MLPClassifier((16,), max_iter=10, random_state=0), X, y)
    expected = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict_proba(np.asfortranarray(X)), expected)
    wide = np.zeros((300, 20))
    wide[:, ::2] = X                                        # strided columns
    np.testing.assert_array_equal(model.predict_proba(wide[:, ::2]), expected)
    np.testing.assert_array_equal(model.predict_proba(X[::-1])[::-1], expected)
    # one row takes BLAS's gemv instead of gemm: the same values up to rounding
    np.testing.assert_allclose(model.predict_proba(X[:1]), expected[:1], rtol=1e-12)


def test_fit_is_the_same_for_fortran_and_c_ordered_training_data():
    X, y = blobs(n=150, seed=9)
    a = quiet_fit(MLPClassifier((5,), max_iter=3, random_state=0), X, y)
    b = quiet_fit(MLPClassifier((5,), max_iter=3, random_state=0), np.asfortranarray(X), y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                             (np.int64, np.float64), (np.uint8, np.float64)])
def test_float32_stays_float32_and_other_numbers_become_float64(dtype, expected):
    X, y = blobs(n=120, seed=10)
    X = (X * 10).astype(dtype) if np.dtype(dtype).kind in "iu" else X.astype(dtype)
    if dtype == np.uint8:
        X = np.abs(X)
    model = quiet_fit(MLPClassifier((6,), max_iter=3, random_state=0), X, y)
    assert all(a.dtype == expected for a in fitted_arrays(model))
    assert model.predict_proba(X).dtype == expected


def test_learns_a_learnable_problem_to_high_accuracy():
    X, y = make_digits(9000, random_state=0)
    model = quiet_fit(MLPClassifier((128,), batch_size=64, max_iter=10, random_state=0),
                      X[:8000], y[:8000])
    assert model.score(X[8000:], y[8000:]) > 0.93
    assert model.loss_curve_[-1] < model.loss_curve_[0] / 3


def test_regressor_fits_a_smooth_function():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(800, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2
    model = quiet_fit(MLPRegressor((32, 32), activation="tanh", learning_rate_init=0.01,
                                   max_iter=200, random_state=0), X, y)
    assert model.predict(X).shape == (800,)
    assert model.score(X, y) > 0.97
    two = quiet_fit(MLPRegressor((8,), max_iter=5, random_state=0), X, np.c_[y, -y])
    assert two.predict(X).shape == (800, 2) and two.n_outputs_ == 2


def test_string_labels_and_multilabel_targets():
    X, labels = blobs(n=240, n_classes=3, seed=11)
    names = np.array(["cat", "dog", "eel"])[labels]
    model = quiet_fit(MLPClassifier((16,), max_iter=50, random_state=0), X, names)
    assert list(model.classes_) == ["cat", "dog", "eel"]
    assert set(model.predict(X)) <= {"cat", "dog", "eel"}
    assert model.score(X, names) > 0.9
    indicator = np.c_[labels == 0, labels != 2].astype(int)
    multi = quiet_fit(MLPClassifier((16,), max_iter=100, random_state=0), X, indicator)
    assert multi.out_activation_ == "logistic" and multi.predict(X).shape == (240, 2)
    assert multi.score(X, indicator) > 0.9


def test_fitted_attributes_follow_scikit_learn():
    X, y = blobs(n=90, n_features=5, n_classes=3, seed=12)
    model = quiet_fit(MLPClassifier((7, 4), max_iter=6, batch_size=32, random_state=0), X, y)
    assert [c.shape for c in model.coefs_] == [(5, 7), (7, 4), (4, 3)]
    assert [b.shape for b in model.intercepts_] == [(7,), (4,), (3,)]
    assert model.n_layers_ == 4 and model.n_outputs_ == 3 and model.n_features_in_ == 5
    assert model.n_iter_ == len(model.loss_curve_) == 6 and model.t_ == 6 * 90
    assert model.loss_ == model.loss_curve_[-1] and model.best_loss_ == min(model.loss_curve_)
    assert model.out_activation_ == "softmax"


def test_stops_when_the_loss_stops_improving_and_warns_at_max_iter():
    X, y = blobs(n=100, seed=13)
    model = MLPClassifier((8,), max_iter=500, tol=10.0, n_iter_no_change=2, random_state=0)
    model.fit(X, y)
    assert model.n_iter_ == 4    # epoch 1 sets best_loss_; stop once 3 > 2 epochs gain < tol
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)


def test_verbose_prints_the_loss_of_every_epoch(capsys):
    X, y = blobs(n=60, seed=14)
    quiet_fit(MLPClassifier((4,), max_iter=3, verbose=True, random_state=0), X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]


def test_params_round_trip_and_repr():
    model = MLPClassifier((5,), alpha=0.5)
    assert model.get_params()["alpha"] == 0.5 and model.get_params()["engine"] == "cython"
    assert model.set_params(alpha=0.1, engine="numpy") is model and model.alpha == 0.1
    assert repr(model) == "MLPClassifier(alpha=0.1, engine='numpy', hidden_layer_sizes=(5,))"
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(nonsense=1)


# --- bad input, failures, interruption ---------------------------------------------

X_OK, Y_OK = blobs(n=50, seed=15)


@pytest.mark.parametrize("X, y, error, match", [
    (np.where(np.arange(350).reshape(50, 7) == 3, np.nan, X_OK), Y_OK, ValueError, "NaN"),
    (np.where(np.arange(350).reshape(50, 7) == 3, np.inf, X_OK), Y_OK, ValueError, "infinity"),
    (X_OK[:, 0], Y_OK, ValueError, "Reshape your data"),
    (X_OK[None], Y_OK, ValueError, "Expected a 2D array"),
    (X_OK, Y_OK[:-1], ValueError, "different numbers of samples"),
    (X_OK[:0], Y_OK[:0], ValueError, r"0 sample\(s\)"),
    (X_OK[:, :0], Y_OK, ValueError, r"0 feature\(s\)"),
    (X_OK.astype(complex), Y_OK, ValueError, "Complex data not supported"),
    (np.full((50, 7), "a"), Y_OK, ValueError, "must hold numbers"),
    (X_OK, None, ValueError, "requires y to be passed"),
])
def test_bad_training_data_gets_a_clear_error(X, y, error, match):
    with pytest.raises(error, match=match):
        MLPClassifier((3,)).fit(X, y)


@pytest.mark.parametrize("params, error, match", [
    ({"hidden_layer_sizes": (5, 0)}, ValueError, "positive"),
    ({"hidden_layer_sizes": (5, 2.5)}, TypeError, "integers"),
    ({"activation": "swish"}, ValueError, "activation"),
    ({"solver": "newton"}, ValueError, "solver"),
    ({"alpha": -1.0}, ValueError, "alpha"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": "big"}, TypeError, "batch_size"),
    ({"learning_rate_init": 0.0}, ValueError, "learning_rate_init"),
    ({"learning_rate_init": float("inf")}, ValueError, "learning_rate_init must be finite"),
    ({"alpha": float("inf")}, ValueError, "alpha must be finite"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"momentum": 1.5}, ValueError, "momentum"),
    ({"beta_1": 1.0}, ValueError, "beta_1"),
    ({"epsilon": 0.0}, ValueError, "epsilon"),
    ({"engine": "gpu"}, ValueError, "engine"),
    ({"random_state": "seed"}, ValueError, "random_state"),
])
def test_bad_hyper_parameters_get_a_clear_error(params, error, match):
    with pytest.raises(error, match=match):
        MLPClassifier(**params).fit(X_OK, Y_OK)


def test_predict_checks_fitted_state_and_feature_count():
    with pytest.raises(NotFittedError, match="not fitted"):
        MLPClassifier().predict(X_OK)
    model = quiet_fit(MLPClassifier((3,), max_iter=2, random_state=0), X_OK, Y_OK)
    with pytest.raises(ValueError, match="7 features"):
        model.predict(X_OK[:, :6])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((2, 7), np.nan))


def test_a_failed_fit_leaves_the_previous_model_untouched():
    model = quiet_fit(MLPClassifier((3,), max_iter=2, random_state=0), X_OK, Y_OK)
    before = [a.copy() for a in fitted_arrays(model)]
    with pytest.raises(ValueError):
        model.fit(X_OK[:, :3] * np.nan, Y_OK)
    for a, b in zip(fitted_arrays(model), before):
        np.testing.assert_array_equal(a, b)
    assert model.n_features_in_ == 7


@pytest.mark.parametrize("engine", ["cython", "numpy"])
def test_divergence_raises_and_leaves_the_model_as_it_was(engine):
    X = np.random.RandomState(0).normal(scale=1e3, size=(64, 4))
    y = X @ np.ones(4) * 1e30
    fresh = MLPRegressor((8,), solver="sgd", learning_rate_init=1.0, momentum=0.0,
                         max_iter=50, batch_size=8, random_state=0, engine=engine)
    with pytest.raises(DivergenceError, match="NaN or infinite"), np.errstate(all="ignore"):
        fresh.fit(X, y)
    assert not hasattr(fresh, "coefs_")


def test_predict_from_eight_threads_matches_sequential_predictions():
    X, y = blobs(n=3000, n_features=30, n_classes=4, seed=16, dtype=np.float32)
    model = quiet_fit(MLPClassifier((64, 32), max_iter=3, random_state=0), X, y)
    chunks = [X[i::8] for i in range(8)]
    expected = [model.predict_proba(c) for c in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            results = list(pool.map(model.predict_proba, chunks))
            for got, want in zip(results, expected):
                np.testing.assert_array_equal(got, want)


def test_fit_releases_the_gil():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4000, 200)).astype(np.float32)
    y = rng.randint(3, size=4000)
    model = MLPClassifier((256, 256), max_iter=4, random_state=0)
    worker = threading.Thread(target=quiet_fit, args=(model, X, y))
    ticks = 0
    worker.start()
    while worker.is_alive():         # spins in Python: only runs if fit let go of the GIL
        ticks += 1
        time.sleep(0)
    worker.join()
    assert model.n_iter_ == 4
    assert ticks > 1000


def test_sparse_input_is_read_in_place_without_a_dense_minibatch_buffer():
    # a CSR X with a million columns: a dense (batch x n_features) gather buffer
    # would be 200 MB for 50 rows; the sparse first layer needs none
    import scipy.sparse

    from fastmlp._engine.layout import ParameterLayout
    X = scipy.sparse.random(50, 1_000_000, density=1e-5, format="csr", dtype=np.float32,
                            random_state=0)
    y = np.arange(50) % 2
    model = MLPClassifier((4,), batch_size=50, max_iter=2, random_state=0)
    layout = ParameterLayout([X.shape[1], 4, 1])
    training = model._start_training(X, np.zeros((50, 1), np.float32), layout,
                                     np.zeros(layout.n_params, np.float32),
                                     np.random.RandomState(0), "logistic")
    engine = training.engine
    assert engine.workspace.size < 50 * 1000
    quiet_fit(model, X, y)
    assert model.coefs_[0].shape == (1_000_000, 4) and model.n_iter_ == 2
