"""Prediction in chunks of rows (fastmlp/_kernels/predict.pyx) against the NumPy
reference: across chunk boundaries, for every activation, dense and CSR input."""
import numpy as np
import pytest
import scipy.sparse

from fastmlp import reference
from fastmlp._engine.engines import CythonEngine, NumpyEngine
from fastmlp._engine.registry import ACTIVATIONS, HIDDEN_ACTIVATIONS
from fastmlp._kernels import predict

from helpers import DTYPES, OUTPUTS, RTOL, random_network, rng_for

PREDICT_SIZES = [[13, 7, 3, 5], [7, 1], [1, 37, 1]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_samples", [1, 7, 256, 257, 600])
@pytest.mark.parametrize("sizes", PREDICT_SIZES)
def test_predict_forward_matches_reference_across_chunks(dtype, n_samples, sizes):
    rng = rng_for("predict", dtype, n_samples, sizes)
    layout, flat = random_network(rng, sizes, dtype, scale=0.5)
    coefs, intercepts = layout.unpack(flat)
    X = rng.standard_normal((n_samples, sizes[0])).astype(dtype)
    coefs64 = [c.astype(np.float64) for c in coefs]
    intercepts64 = [b.astype(np.float64) for b in intercepts]
    want = reference.forward(coefs64, intercepts64, X.astype(np.float64), "tanh",
                             "softmax")[-1]
    out = np.full((n_samples, sizes[-1]), np.nan, dtype=dtype)

    predict.predict_forward(coefs, intercepts, X, out, ACTIVATIONS["tanh"].code,
                              ACTIVATIONS["softmax"].code)

    assert out.dtype == dtype
    np.testing.assert_allclose(out, want, rtol=10 * RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", sorted(HIDDEN_ACTIVATIONS))
@pytest.mark.parametrize("output", OUTPUTS)
def test_predict_forward_matches_engine_numpy_for_every_activation(dtype, hidden, output):
    rng = rng_for("predict-act", dtype, hidden, output)
    sizes = [5, 7, 3, 4]
    layout, flat = random_network(rng, sizes, dtype)
    coefs, intercepts = layout.unpack(flat)
    X = rng.standard_normal((300, sizes[0])).astype(dtype)
    want = reference.forward([c.astype(np.float64) for c in coefs],
                             [b.astype(np.float64) for b in intercepts],
                             X.astype(np.float64), hidden, output)[-1]
    got = CythonEngine.predict(coefs, intercepts, X, hidden, output)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=10 * RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(NumpyEngine.predict(coefs, intercepts, X, hidden, output),
                               got, rtol=10 * RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", ["X", "out", "coef"])
def test_predict_forward_rejects_non_c_contiguous_arrays(dtype, bad):
    rng = rng_for("predict-bad", dtype, bad)
    layout, flat = random_network(rng, [4, 3, 2], dtype)
    coefs, intercepts = layout.unpack(flat)
    X = rng.standard_normal((5, 4)).astype(dtype)
    out = np.zeros((5, 2), dtype)
    if bad == "X":
        X = np.asfortranarray(X)
    elif bad == "out":
        out = np.asfortranarray(out)
    else:
        coefs[0] = np.asfortranarray(coefs[0])
    with pytest.raises(ValueError, match="contiguous"):
        predict.predict_forward(coefs, intercepts, X, out, 2, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_forward_rejects_coefs_of_another_dtype(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    coefs = [np.ones((4, 2), other)]
    intercepts = [np.ones(2, other)]
    with pytest.raises(ValueError, match="dtype mismatch"):
        predict.predict_forward(coefs, intercepts, np.ones((3, 4), dtype),
                                  np.zeros((3, 2), dtype), 0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [[9, 5, 3], [9, 2]])
def test_predict_forward_on_csr_rows_equals_the_dense_array(dtype, sizes):
    rng = rng_for("predict-csr", dtype, sizes)
    layout, flat = random_network(rng, sizes, dtype, scale=0.5)
    coefs, intercepts = layout.unpack(flat)
    X = rng.standard_normal((300, sizes[0])).astype(dtype)
    X[X < 0.5] = 0
    dense, sparse = (np.empty((300, sizes[-1]), dtype) for _ in range(2))
    predict.predict_forward(coefs, intercepts, X, dense, ACTIVATIONS["relu"].code,
                            ACTIVATIONS["softmax"].code)
    predict.predict_forward(coefs, intercepts, scipy.sparse.csr_matrix(X), sparse,
                            ACTIVATIONS["relu"].code, ACTIVATIONS["softmax"].code)
    np.testing.assert_allclose(sparse, dense, rtol=10 * RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("sizes", [[4, 3, 2], [4, 2]])
@pytest.mark.parametrize("sparse", [False, True])
def test_an_overflowing_logit_leaves_a_nan_in_the_output(dtype, output, sizes, sparse):
    # logistic and softmax would map an infinite logit to a finite output; a NaN
    # tells the caller, which raises. Row 250 of 300: finite, until the last layer.
    rng = rng_for("predict-overflow", dtype, output, sizes, sparse)
    coefs = [np.ones((n_in, n_out), dtype) for n_in, n_out in zip(sizes, sizes[1:])]
    coefs[-1][:, 1:] = 0
    coefs[-1] *= 4
    intercepts = [np.zeros(n_out, dtype) for n_out in sizes[1:]]
    X = rng.standard_normal((300, sizes[0])).astype(dtype)
    huge = X.copy()
    huge[250] = np.finfo(dtype).max / (2 * sizes[0])   # sums to half the largest float
    as_input = scipy.sparse.csr_matrix if sparse else np.asarray
    for engine in (CythonEngine, NumpyEngine):
        assert np.isfinite(engine.predict(coefs, intercepts, as_input(X), "identity",
                                          output)).all(), engine.name
        with np.errstate(over="ignore", invalid="ignore"):   # NumPy's warnings
            out = engine.predict(coefs, intercepts, as_input(huge), "identity", output)
        assert np.isnan(out).any(), engine.name


# A network large enough for a prediction's team (TEAM_MIN_MULTIPLY_ADDS per thread).
TEAM_SIZES = [300, 201, 5]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_samples", [17, 257, 600, 3001])
@pytest.mark.parametrize("n_threads", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_team_predicts_what_one_thread_predicts(dtype, n_samples, n_threads, sparse):
    # the rows shared among threads, evenly when fewer than a chunk per thread
    rng = rng_for("predict-team", dtype, n_samples, n_threads, sparse)
    layout, flat = random_network(rng, TEAM_SIZES, dtype, scale=0.2)
    coefs, intercepts = layout.unpack(flat)
    X = rng.standard_normal((n_samples, TEAM_SIZES[0])).astype(dtype)
    if sparse:
        X[X < 1.0] = 0
        X = scipy.sparse.csr_matrix(X)
    dense = X.toarray() if sparse else X
    want = reference.forward([c.astype(np.float64) for c in coefs],
                             [b.astype(np.float64) for b in intercepts],
                             dense.astype(np.float64), "relu", "softmax")[-1]
    serial, team = (np.full((n_samples, TEAM_SIZES[-1]), np.nan, dtype) for _ in range(2))
    predict.predict_forward(coefs, intercepts, X, serial, ACTIVATIONS["relu"].code,
                            ACTIVATIONS["softmax"].code, 1)
    predict.predict_forward(coefs, intercepts, X, team, ACTIVATIONS["relu"].code,
                            ACTIVATIONS["softmax"].code, n_threads)
    np.testing.assert_allclose(team, want, rtol=10 * RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(team, serial, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_overflowing_logit_in_a_teams_chunk_leaves_a_nan(dtype):
    rng = rng_for("predict-team-overflow", dtype)
    coefs = [np.full((n_in, n_out), 1 / n_in, dtype)
             for n_in, n_out in zip(TEAM_SIZES, TEAM_SIZES[1:])]
    coefs[-1][:, 1:] = 0
    coefs[-1] *= 4
    intercepts = [np.zeros(n_out, dtype) for n_out in TEAM_SIZES[1:]]
    X = np.abs(rng.standard_normal((3000, TEAM_SIZES[0]))).astype(dtype)
    out = np.empty((3000, TEAM_SIZES[-1]), dtype)
    predict.predict_forward(coefs, intercepts, X, out, ACTIVATIONS["identity"].code,
                            ACTIVATIONS["softmax"].code, 2)
    assert np.isfinite(out).all()
    X[2900] = np.finfo(dtype).max / 2   # in the team's last chunk
    with np.errstate(over="ignore", invalid="ignore"):
        predict.predict_forward(coefs, intercepts, X, out, ACTIVATIONS["identity"].code,
                                ACTIVATIONS["softmax"].code, 2)
    assert np.isnan(out).any()
