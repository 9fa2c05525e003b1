"""The small-batch predict path (fastmlp/_kernels/row_predict.pyx, row_forward.h): one
row, or up to SMALL_BATCH rows computed row by row.

Its kernel is checked against the NumPy reference, and its plan against every
way a model can change after the plan was built: each change must give the
same answer as the general path, never a stale or corrupt one.
"""
import copy
import pickle
import threading
import warnings

import numpy as np
import pytest

from fastmlp import MLPClassifier, MLPRegressor, load, reference
from fastmlp._engine.registry import ACTIVATIONS, HIDDEN_ACTIVATIONS
from fastmlp._kernels.row_predict import RowPlan
from fastmlp.exceptions import ConvergenceWarning

HIDDEN = sorted(HIDDEN_ACTIVATIONS)
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def fitted(model_class=MLPClassifier, n_features=7, hidden=(9, 5), dtype=np.float32,
           n_classes=3, seed=0, **params):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, n_features)).astype(dtype)
    y = (rng.integers(0, n_classes, 60) if model_class is MLPClassifier
         else rng.exponential(size=60))
    params.setdefault("n_threads", 1)
    model = model_class(hidden, max_iter=3, random_state=seed, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y), X


def reference_output(model, X):
    return reference.forward([np.asarray(c, np.float64) for c in model.coefs_],
                             [np.asarray(b, np.float64) for b in model.intercepts_],
                             np.asarray(X, np.float64), model.activation,
                             model.out_activation_)[-1]


SMALL_BATCH = 16


def row_output(model, row):
    """The output through the row plan, asserting that the plan was used and handed
    back the fitted state it computed with."""
    result = model._row_predictor.predict(model, row)
    assert result is not None, "the single-row plan declined a clean row"
    out, state = result
    assert state["coefs_"] is model.coefs_
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("shape", [(1, (1,)), (7, (9, 5)), (13, (65, 129, 3)),
                                   (200, (64,)), (3, (1, 1))])
def test_kernel_matches_reference(dtype, activation, shape):
    n_features, hidden = shape
    model, X = fitted(n_features=n_features, hidden=hidden, dtype=dtype,
                      activation=activation)
    for row in X[:5]:
        row = row[None, :].copy()
        row[0, ::3] = 0          # the kernel skips zero inputs
        out = row_output(model, row)
        assert out.dtype == dtype and out.shape == (1, 3)
        np.testing.assert_allclose(out, reference_output(model, row), **TOLERANCE[dtype])


@pytest.mark.parametrize("out", ["binary", "multilabel", "regressor", "poisson"])
def test_every_output_layer(out):
    if out == "binary":
        model, X = fitted(n_classes=2, n_features=5)
    elif out == "multilabel":
        rng = np.random.default_rng(1)
        X = rng.normal(size=(50, 6)).astype(np.float32)
        model = MLPClassifier((8,), max_iter=3, random_state=0, n_threads=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, rng.integers(0, 2, (50, 4)))
    elif out == "regressor":
        model, X = fitted(MLPRegressor, dtype=np.float64)
    else:
        model, X = fitted(MLPRegressor, loss="poisson")
        assert model.out_activation_ == "exp"
    row = X[:1].copy()
    np.testing.assert_allclose(row_output(model, row), reference_output(model, row),
                               rtol=2e-5, atol=2e-6)
    single, batch = model.predict(row), model.predict(np.repeat(row, 3, axis=0))[:1]
    if out in ("binary", "multilabel"):
        np.testing.assert_array_equal(single, batch)
    else:
        np.testing.assert_allclose(single, batch, rtol=2e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows", [2, 5, SMALL_BATCH])
def test_small_batches_row_by_row(dtype, n_rows):
    model, X = fitted(n_features=13, hidden=(65, 17), dtype=dtype)
    batch = X[:n_rows].copy()
    batch[1, :4] = 0
    out = row_output(model, batch)
    assert out.shape == (n_rows, 3)
    np.testing.assert_allclose(out, reference_output(model, batch), **TOLERANCE[dtype])
    bad = batch.copy()
    bad[-1, -1] = np.nan                     # a NaN in the last row is still caught
    assert model._row_predictor.predict(model, bad) is None


def test_zero_row_and_all_zero_weights():
    model, X = fitted(n_features=6)
    zero = np.zeros((1, 6), np.float32)
    np.testing.assert_allclose(row_output(model, zero), reference_output(model, zero),
                               rtol=2e-5, atol=2e-6)
    model.coefs_[0][...] = 0     # in place: the plan reads the same memory
    np.testing.assert_allclose(row_output(model, X[:1]), reference_output(model, X[:1]),
                               rtol=2e-5, atol=2e-6)


def test_public_predict_equals_batch_predict():
    model, X = fitted(n_features=11, hidden=(70,))
    for i in range(5):
        row = X[i:i + 1]
        proba = model.predict_proba(row)
        assert model._row_predictor.plan is not None   # the plan served it
        np.testing.assert_allclose(proba, model.predict_proba(X)[i:i + 1], rtol=2e-5,
                                   atol=2e-6)
        assert model.predict(row)[0] == model.predict(X)[i]


def test_plan_follows_every_change_of_the_model():
    model, X = fitted(n_features=7)
    row = X[:1].copy()
    model.predict_proba(row)
    first_plan = model._row_predictor.plan

    def check():
        np.testing.assert_allclose(model.predict_proba(row), reference_output(model, row),
                                   rtol=2e-5, atol=2e-6)

    model.coefs_[1] = model.coefs_[1] * 2                  # one array replaced
    check()
    assert model._row_predictor.plan is not first_plan
    model.intercepts_ = [b + 1 for b in model.intercepts_]  # the list replaced
    check()
    model.coefs_[0] *= -1                                   # values changed in place
    check()
    model.activation = "tanh"                               # a parameter changed
    check()
    model.set_params(engine="numpy")                        # not the Cython engine
    check()
    assert model._row_predictor.predict(model, row) is None
    model.set_params(engine="cython")
    unaligned = np.empty(model.coefs_[0].size + 1, np.float32)[1:]
    model.coefs_[0] = unaligned.reshape(model.coefs_[0].shape)
    model.coefs_[0][...] = 0.5                              # unaligned arrays work too
    check()
    model.coefs_[0] = np.asfortranarray(model.coefs_[0])   # declined, not misread
    assert model._row_predictor.predict(model, row) is None
    check()


def test_refit_and_partial_fit_replace_the_plan():
    model, X = fitted(n_features=7)
    row = X[:1]
    model.predict(row)
    plan = model._row_predictor.plan
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.partial_fit(X, rng.integers(0, 3, len(X)))
    np.testing.assert_allclose(model.predict_proba(row), reference_output(model, row),
                               rtol=2e-5, atol=2e-6)
    assert model._row_predictor.plan is not plan


@pytest.mark.parametrize("row", [
    "float64", "strided", "nan", "inf", "wrong_width", "list", "big_batch", "no_rows"])
def test_anything_but_a_clean_row_takes_the_general_path(row):
    model, X = fitted(n_features=7)
    clean = X[:1].copy()
    model.predict(clean)
    cases = {
        "float64": clean.astype(np.float64),
        "strided": np.repeat(clean, 2, axis=1)[:, ::2],
        "nan": np.where(np.arange(7) == 3, np.nan, clean).astype(np.float32),
        "inf": np.where(np.arange(7) == 3, np.inf, clean).astype(np.float32),
        "wrong_width": clean[:, :6].copy(),
        "list": clean.tolist(),
        "big_batch": X[:SMALL_BATCH + 1].copy(),
        "no_rows": X[:0].copy(),
    }
    value = cases[row]
    assert model._row_predictor.predict(model, value) is None
    if row == "no_rows":
        with pytest.raises(ValueError, match="0 sample"):
            model.predict(value)
    elif row in ("nan", "inf"):
        with pytest.raises(ValueError, match="NaN|infinity"):
            model.predict(value)
    elif row == "wrong_width":
        with pytest.raises(ValueError, match="7 features"):
            model.predict(value)
    else:
        expected = reference_output(model, np.asarray(value, np.float64))
        np.testing.assert_allclose(model.predict_proba(value), expected, rtol=2e-5,
                                   atol=2e-6)


def test_predict_never_adds_attributes_and_copies_start_empty(tmp_path):
    model, X = fitted(n_features=7)
    before = dict(model.__dict__)
    model.predict(X[:1])
    assert model.__dict__.keys() == before.keys()
    assert model._row_predictor.plan is not None
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert other._row_predictor.plan is None
        np.testing.assert_array_equal(other.predict_proba(X[:1]), model.predict_proba(X[:1]))
        assert other._row_predictor.plan is not None
    model.save(tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert all(c.ctypes.data % 64 == 0 for c in loaded.coefs_)
    np.testing.assert_array_equal(row_output(loaded, X[:1]), model.predict_proba(X[:1]))


def test_fitted_weights_are_cache_line_aligned():
    model, _ = fitted(n_features=7, hidden=(9, 5))
    assert all(a.ctypes.data % 64 == 0 for a in model.coefs_ + model.intercepts_)
    arrays = model.coefs_ + model.intercepts_
    assert all(a.flags.c_contiguous and a.flags.writeable for a in arrays)
    assert not any(np.shares_memory(a, b) for i, a in enumerate(arrays) for b in arrays[:i])


def test_concurrent_single_row_predicts():
    model, X = fitted(n_features=30, hidden=(40, 20))
    rows = [X[i:i + 1].copy() for i in range(len(X))]
    expected = [model.predict_proba(r) for r in rows]
    failures = []

    def worker(offset):
        for repeat in range(200):
            i = (offset + repeat) % len(rows)
            if not np.array_equal(model.predict_proba(rows[i]), expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=worker, args=(k * 7,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_plan_rejects_inconsistent_arrays():
    model, _ = fitted(n_features=7)
    codes = ACTIVATIONS["relu"].code, ACTIVATIONS["softmax"].code

    def plan(**changes):
        return RowPlan(dict(model.__dict__, **changes), ("coefs_", "intercepts_"), *codes)

    with pytest.raises(ValueError, match="one intercept vector per weight matrix"):
        plan(intercepts_=model.intercepts_[:1])
    with pytest.raises(ValueError, match="layer 1"):
        plan(intercepts_=[model.intercepts_[0], model.intercepts_[2], model.intercepts_[1]])
    with pytest.raises(TypeError, match="float32 and float64"):
        plan(coefs_=[c.astype(np.float16) for c in model.coefs_])
