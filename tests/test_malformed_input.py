"""Input that could crash a kernel is refused before any kernel runs: malformed sparse
matrices, absurd thread counts, values beyond the dtype, sparse matrices without
entries."""
import os

import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp import MLPClassifier
from fastmlp._engine import threads

from helpers import classifier, quiet_fit

N_SAMPLES, N_FEATURES = 6, 5


def csr(indices, indptr, index_dtype=np.int32):
    """A CSR matrix built from raw arrays: scipy checks neither the indices nor indptr."""
    indices = np.asarray(indices, dtype=index_dtype)
    return sp.csr_matrix((np.ones(len(indices)), indices, np.asarray(indptr, index_dtype)),
                         shape=(N_SAMPLES, N_FEATURES))


# a column index past the matrix (far past: the kernel read 100 MB beyond W_0 and
# crashed), a negative one, one equal to n_features, and indptr that goes backwards
MALFORMED = {
    "index 1e8": csr([0, 100_000_000, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]),
    "index 1e8 in int64": csr([0, 100_000_000, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6], np.int64),
    "negative index": csr([0, -1, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]),
    "index == n_features": csr([0, N_FEATURES, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]),
    "indptr backwards": csr([0, 1, 2, 3, 4, 0], [0, 2, 1, 3, 4, 5, 6]),
    # scipy's own check skips the order of indptr when it ends below 1 (the fuzz
    # tests found this one crashing fit)
    "indptr ending at -1": csr([], [0, 0, 0, 0, 0, 0, -1]),
}


def valid_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)) * (rng.random((N_SAMPLES, N_FEATURES)) < .5)
    return X, np.arange(N_SAMPLES) % 2


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_fit_refuses_a_malformed_csr_matrix_before_any_kernel_reads_it(name):
    _, y = valid_data()
    with pytest.raises(ValueError, match="malformed sparse matrix"):
        classifier((3,), max_iter=1).fit(MALFORMED[name], y)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_predict_refuses_a_malformed_csr_matrix_and_keeps_the_model(name):
    X, y = valid_data()
    model = quiet_fit(classifier((3,), max_iter=1), X, y)
    before = [W.copy() for W in model.coefs_]
    with pytest.raises(ValueError, match="malformed sparse matrix"):
        model.predict(MALFORMED[name])
    for W, old in zip(model.coefs_, before):
        np.testing.assert_array_equal(W, old)


def test_malformed_csc_and_coo_matrices_are_refused_before_scipy_converts_them():
    csc = sp.csc_matrix(np.eye(N_FEATURES, N_SAMPLES).T)
    csc.indices[0] = 10**8   # scipy's own conversion to CSR would read past the matrix
    coo = sp.coo_matrix(np.eye(N_SAMPLES, N_FEATURES))
    coo.col[0] = -3
    _, y = valid_data()
    for X in (csc, coo):
        with pytest.raises(ValueError, match="malformed sparse matrix"):
            classifier((3,), max_iter=1).fit(X, y)


def test_a_valid_csr_matrix_is_checked_without_copying_its_arrays():
    X, y = valid_data()
    X = sp.csr_matrix(X)
    model = quiet_fit(classifier((3,), max_iter=1), X, y)
    indices, indptr = X.indices, X.indptr
    model.predict(X)
    assert X.indices is indices and X.indptr is indptr   # the caller's matrix untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sparse_matrix_without_stored_entries_fits_and_predicts(dtype):
    # its index array is empty: the kernels must not even take its first element's
    # address (a bounds-checked build refused that)
    X = sp.csr_matrix((N_SAMPLES, N_FEATURES), dtype=dtype)
    y = np.arange(N_SAMPLES) % 2
    model = quiet_fit(classifier((3,), max_iter=2), X, y)
    assert model.predict(X).shape == (N_SAMPLES,)
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(X.toarray()))


@pytest.mark.parametrize("n_threads", [2**62, 4097, 0, -1])
def test_an_absurd_thread_count_is_refused(n_threads):
    X, y = valid_data()
    with pytest.raises(ValueError, match="n_threads"):
        MLPClassifier((3,), n_threads=n_threads, max_iter=1).fit(X, y)


@pytest.mark.filterwarnings("ignore:n_threads=.* but this process may run:UserWarning")
def test_threads_beyond_the_cores_are_clamped_to_the_cores():
    # more threads than cores only make every barrier wait (predict was 50-250x
    # slower with 8 threads on 2 cores), and many more cannot even be created
    X, y = valid_data()
    model = quiet_fit(MLPClassifier((3,), n_threads=1000, max_iter=1, random_state=0),
                      X, y)
    assert threads.thread_count(1000) == threads.available_cores() <= os.cpu_count()
    np.testing.assert_array_equal(
        model.predict_proba(X),
        quiet_fit(MLPClassifier((3,), n_threads=threads.available_cores(), max_iter=1,
                                random_state=0), X, y).predict_proba(X))


def test_float64_values_beyond_float32_are_refused_by_a_float32_model():
    X, y = valid_data()
    model = quiet_fit(classifier((3,), max_iter=1), X.astype(np.float32), y)
    huge = X.copy()
    huge[0, 0] = 1e300    # finite in float64, inf once cast to the model's float32
    with pytest.raises(ValueError, match="too large for float32"):
        model.predict(huge)


@pytest.mark.parametrize("n_rows", [1, 100])   # the small-batch plan and the general path
def test_finite_inputs_that_overflow_inside_the_network_are_refused_not_predicted(n_rows):
    # predict_proba returned NaN, and predict turned it into the first class
    X, _ = valid_data()
    model = quiet_fit(classifier((4, 4), max_iter=2), X, np.arange(N_SAMPLES) % 3)
    huge = np.full((n_rows, N_FEATURES), np.finfo(np.float64).max)
    for method in (model.predict, model.predict_proba):
        with pytest.raises(ValueError, match="too large for float64 inside the network"):
            method(huge)


@pytest.mark.parametrize("n_rows", [1, 100])   # the small-batch plan and the general path
@pytest.mark.parametrize("n_classes", [2, 3])   # logistic and softmax output layers
def test_a_logit_that_overflows_is_refused_though_the_output_would_look_finite(
        n_rows, n_classes):
    # logistic(inf) = 1, and softmax gives a -inf logit probability 0: the model
    # answered with confident, finite probabilities for an input that overflowed
    X, _ = valid_data()
    model = quiet_fit(classifier((2,), activation="identity", max_iter=1), X,
                      np.arange(N_SAMPLES) % n_classes)
    W_out = np.zeros_like(model.coefs_[1])
    W_out[:, 0] = 4.0 if n_classes == 2 else -4.0   # a logit of +inf, or of -inf
    model.coefs_ = [np.ones_like(model.coefs_[0]), W_out]
    model.intercepts_ = [np.zeros_like(b) for b in model.intercepts_]
    # each hidden unit sums to half the largest float64: finite; the logits overflow
    huge = np.full((n_rows, N_FEATURES), np.finfo(np.float64).max / (2 * N_FEATURES))
    for method in (model.predict, model.predict_proba):
        with pytest.raises(ValueError, match="too large for float64 inside the network"):
            method(huge)
    assert np.isfinite(model.predict_proba(X)).all()   # the model still works
