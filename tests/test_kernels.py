"""The Cython kernels against NumPy: every test twin, float32 and float64, odd shapes.

Each kernel is compared with `fastmlp.reference` or a plain NumPy formula evaluated in
float64 on the same (already rounded) inputs, with a tolerance for the kernel's dtype.
"""
import types
import zlib

import numpy as np
import pytest
import scipy.sparse

from fastmlp import (_activations, _blas, _dropout, _losses, _network, _optimizers,
                     _training, reference)
from fastmlp._codes import (ACTIVATION_CODES, HIDDEN_ACTIVATIONS, LOSS_CODES, LOSS_FOR_OUTPUT,
                            SOLVER_CODES)
from fastmlp._engines import CythonEngine, NumpyEngine, _KernelConfig
from fastmlp._layout import ParameterLayout, glorot_uniform
from fastmlp._state import TrainingState

# A team computes a hidden layer whose weights are large for a core's cache by
# columns, a smaller one as a sum of the parts' terms (_network.sums_terms). In
# float64 these networks mix the two ways, either way round; in float32 they
# take the terms' way only.
BY_COLUMNS_FIRST, BY_COLUMNS_LAST = [600, 500, 7, 3], [20, 600, 500, 3]

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
# Shapes (rows, cols) with a single row, a single column and sizes that are not
# multiples of any SIMD width.
SHAPES = [(1, 1), (1, 7), (13, 1), (3, 129), (37, 13)]
OUTPUTS = sorted(LOSS_FOR_OUTPUT)     # exp, identity, logistic, softmax


def rng_for(*key):
    """A generator seeded by the test's parameters: reproducible, different per case."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def assert_within_sum_bound(got, want, magnitude, dtype):
    """|got - want| <= rtol * magnitude elementwise, magnitude = the sum of |terms|.

    The natural bound for a rounded sum or dot product: it is tight for
    cancelling sums, where a plain relative tolerance on the result would fail.
    """
    got = np.asarray(got, dtype=np.float64)
    err = np.abs(got - want)
    bound = RTOL[dtype] * (magnitude + np.finfo(np.float64).tiny)
    worst = np.max(err / bound) if err.size else 0.0
    assert np.all(err <= bound), f"error / bound = {worst:.3g}"


# ---- gemm ---------------------------------------------------------------------

GEMM_SHAPES = [(1, 1, 1), (1, 7, 3), (13, 1, 37), (7, 13, 1), (37, 129, 13), (129, 3, 7)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, n, k", GEMM_SHAPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("beta", [0.0, -1.5])
def test_gemm_matches_numpy_for_every_transpose_and_beta(dtype, m, n, k, trans_a, trans_b,
                                                         beta):
    rng = rng_for("gemm", dtype, m, n, k, trans_a, trans_b, beta)
    alpha = 0.7
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    op_a = (a.T if trans_a else a).astype(np.float64)
    op_b = (b.T if trans_b else b).astype(np.float64)
    want = alpha * op_a @ op_b + beta * c.astype(np.float64)
    magnitude = abs(alpha) * np.abs(op_a) @ np.abs(op_b) + abs(beta) * np.abs(c)

    _blas.gemm_twin(trans_a, trans_b, alpha, a, b, beta, c)

    assert c.dtype == dtype
    assert_within_sum_bound(c, want, magnitude, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_with_zero_beta_ignores_nan_in_c(dtype):
    # The forward pass writes into np.empty buffers with beta = 0: BLAS must not read C.
    rng = rng_for("gemm-nan", dtype)
    a = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal((3, 7)).astype(dtype)
    c = np.full((5, 7), np.nan, dtype=dtype)
    _blas.gemm_twin(False, False, 1.0, a, b, 0.0, c)
    assert_within_sum_bound(c, a.astype(np.float64) @ b, np.abs(a) @ np.abs(b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_with_empty_inner_dimension_scales_c_by_beta(dtype):
    a = np.empty((3, 0), dtype=dtype)
    b = np.empty((0, 4), dtype=dtype)
    c = np.arange(12, dtype=dtype).reshape(3, 4)
    want = 0.5 * c
    _blas.gemm_twin(False, False, 2.0, a, b, 0.5, c)
    np.testing.assert_array_equal(c, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_accepts_read_only_inputs(dtype):
    a = np.ones((2, 3), dtype=dtype)
    b = np.ones((3, 4), dtype=dtype)
    a.flags.writeable = False
    b.flags.writeable = False
    c = np.zeros((2, 4), dtype=dtype)
    _blas.gemm_twin(False, False, 1.0, a, b, 0.0, c)
    np.testing.assert_array_equal(c, np.full((2, 4), 3.0))


@pytest.mark.parametrize("trans_a, trans_b, a_shape, b_shape, c_shape", [
    (False, False, (3, 4), (5, 6), (3, 6)),    # inner dimensions differ
    (False, False, (3, 4), (4, 6), (3, 5)),    # wrong number of columns in c
    (False, False, (3, 4), (4, 6), (2, 6)),    # wrong number of rows in c
    (True, False, (3, 4), (4, 6), (4, 6)),     # a^T is (4 x 3): inner 3 != 4
    (False, True, (3, 4), (4, 6), (3, 6)),     # b^T is (6 x 4): inner 4 != 6
])
def test_gemm_rejects_incompatible_shapes(trans_a, trans_b, a_shape, b_shape, c_shape):
    c = np.zeros(c_shape)
    with pytest.raises(ValueError, match="incompatible shapes"):
        _blas.gemm_twin(trans_a, trans_b, 1.0, np.ones(a_shape), np.ones(b_shape), 0.0, c)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", ["a", "b", "c"])
@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_gemm_rejects_non_c_contiguous_arrays(dtype, bad, layout):
    arrays = {"a": np.ones((3, 4), dtype), "b": np.ones((4, 5), dtype),
              "c": np.zeros((3, 5), dtype)}
    arrays[bad] = non_c_contiguous(arrays[bad], layout)
    before = arrays["c"].copy()
    with pytest.raises(ValueError, match="contiguous"):
        _blas.gemm_twin(False, False, 1.0, arrays["a"], arrays["b"], 0.0, arrays["c"])
    np.testing.assert_array_equal(arrays["c"], before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_rejects_mixed_dtypes(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises((ValueError, TypeError)):
        _blas.gemm_twin(False, False, 1.0, np.ones((2, 3), dtype), np.ones((3, 2), other),
                        0.0, np.zeros((2, 2), dtype))


def non_c_contiguous(x, layout):
    """A copy of x with the same values that is F-ordered, or a strided view."""
    if layout == "fortran":
        out = np.asfortranarray(x)
    else:
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype)
        out = wide[..., ::2]
        out[...] = x
    assert not out.flags.c_contiguous
    return out


# ---- bias + activation ------------------------------------------------------------

def biased_input(rng, shape, dtype, scale=3.0):
    z = (scale * rng.standard_normal(shape)).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    return z, bias


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(ACTIVATION_CODES))
def test_bias_activation_matches_reference(dtype, shape, name):
    rng = rng_for("act", dtype, shape, name)
    z, bias = biased_input(rng, shape, dtype)
    # z + bias is rounded to the dtype in the kernel too; the activation itself is
    # evaluated here in float64
    want = reference.ACTIVATIONS[name]((z + bias).astype(np.float64))

    _activations.bias_activation_twin(z, bias, ACTIVATION_CODES[name])

    assert z.dtype == dtype
    np.testing.assert_allclose(z, want, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_sum_to_one(dtype):
    rng = rng_for("softmax-sum", dtype)
    z, bias = biased_input(rng, (37, 13), dtype, scale=20.0)
    _activations.bias_activation_twin(z, bias, ACTIVATION_CODES["softmax"])
    assert np.all(z >= 0)
    np.testing.assert_allclose(z.sum(axis=1, dtype=np.float64), 1.0, rtol=RTOL[dtype])


HUGE_Z = np.array([[1000.0, -1000.0, 0.0, 89.0, -89.0, 710.0, -710.0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["logistic", "tanh", "elu"])
def test_saturating_activations_stay_finite_for_huge_inputs(dtype, name):
    z = HUGE_Z.astype(dtype)
    want = reference.ACTIVATIONS[name](z.astype(np.float64))
    with np.errstate(all="raise"):
        _activations.bias_activation_twin(z, np.zeros(z.shape[1], dtype), ACTIVATION_CODES[name])
    assert np.all(np.isfinite(z))
    # below the smallest normal number of the dtype, only the absolute error counts
    np.testing.assert_allclose(z, want, rtol=RTOL[dtype],
                               atol=np.finfo(dtype).smallest_normal)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_saturates_to_exactly_zero_and_one(dtype):
    z = np.array([[1000.0, -1000.0]], dtype=dtype)
    _activations.bias_activation_twin(z, np.zeros(2, dtype), ACTIVATION_CODES["logistic"])
    np.testing.assert_array_equal(z, [[1.0, 0.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_stays_finite_and_correct_for_huge_inputs(dtype):
    z = np.array([[1000.0, -1000.0, 0.0],
                  [1000.0, 1000.0, -1000.0],
                  [-1000.0, -1000.0, -1000.0],
                  [-1000.0, -999.0, -1000.0],
                  [3e38, 0.0, -3e38]], dtype=dtype)
    e = np.exp(1.0)
    want = np.array([[1.0, 0.0, 0.0],
                     [0.5, 0.5, 0.0],
                     [1 / 3, 1 / 3, 1 / 3],
                     [1 / (2 + e), e / (2 + e), 1 / (2 + e)],
                     [1.0, 0.0, 0.0]])
    _activations.bias_activation_twin(z, np.zeros(3, dtype), ACTIVATION_CODES["softmax"])
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z, want, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATION_CODES))
def test_bias_activation_propagates_nan_like_numpy(dtype, name):
    # A NaN pre-activation (a diverged weight) must reach the loss, where
    # train_epoch detects divergence; np.maximum in the reference propagates it.
    z = np.array([[np.nan, 1.0, -1.0]], dtype=dtype)
    _activations.bias_activation_twin(z, np.zeros(3, dtype), ACTIVATION_CODES[name])
    assert np.isnan(z[0, 0])


def test_bias_activation_rejects_wrong_bias_length():
    with pytest.raises(ValueError, match="bias length"):
        _activations.bias_activation_twin(np.zeros((3, 4)), np.zeros(5), 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_bias_activation_rejects_non_c_contiguous_arrays(dtype, layout):
    z = non_c_contiguous(np.ones((3, 4), dtype), layout)
    before = z.copy()
    with pytest.raises(ValueError, match="contiguous"):
        _activations.bias_activation_twin(z, np.ones(4, dtype), ACTIVATION_CODES["tanh"])
    np.testing.assert_array_equal(z, before)
    with pytest.raises(ValueError, match="contiguous"):
        _activations.bias_activation_twin(np.ones((3, 4), dtype),
                                          non_c_contiguous(np.ones(4, dtype), "strided"),
                                          ACTIVATION_CODES["tanh"])


# ---- derivative + column sum --------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(HIDDEN_ACTIVATIONS))
def test_derivative_colsum_matches_reference(dtype, shape, name):
    rng = rng_for("deriv", dtype, shape, name)
    z = 3 * rng.standard_normal(shape)
    a = reference.ACTIVATIONS[name](z).astype(dtype)
    delta = rng.standard_normal(shape).astype(dtype)
    a64, delta64 = a.astype(np.float64), delta.astype(np.float64)
    want = delta64 * reference.DERIVATIVES[name](a64)
    # 1 - a^2 and a (1 - a) cancel near saturation: bound the error by the terms' size
    terms = np.abs(want) + np.abs(delta64) * (np.abs(a64) + a64 * a64)
    bias_grad = np.full(shape[1], np.nan, dtype=dtype)   # overwritten, not accumulated

    _activations.derivative_colsum_twin(delta, a, bias_grad, HIDDEN_ACTIVATIONS[name])

    assert delta.dtype == dtype and bias_grad.dtype == dtype
    assert_within_sum_bound(delta, want, terms, dtype)
    assert_within_sum_bound(bias_grad, want.sum(axis=0), terms.sum(axis=0), dtype)


@pytest.mark.parametrize("name", sorted(HIDDEN_ACTIVATIONS))
def test_derivative_from_output_equals_central_difference(name):
    # The derivative is computed from a = act(z); check it against d act / dz itself.
    rng = rng_for("deriv-fd", name)
    z = rng.uniform(0.05, 3, (7, 13)) * rng.choice([-1.0, 1.0], (7, 13))  # away from kinks
    act = reference.ACTIVATIONS[name]
    h = 1e-6
    slope = (act(z + h) - act(z - h)) / (2 * h)
    delta = np.ones_like(z)
    bias_grad = np.empty(13)
    _activations.derivative_colsum_twin(delta, act(z), bias_grad, HIDDEN_ACTIVATIONS[name])
    np.testing.assert_allclose(delta, slope, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(bias_grad, slope.sum(axis=0), rtol=1e-7, atol=1e-9)


def test_derivative_colsum_rejects_disagreeing_shapes():
    with pytest.raises(ValueError, match="disagree"):
        _activations.derivative_colsum_twin(np.ones((3, 4)), np.ones((3, 5)), np.ones(4), 1)
    with pytest.raises(ValueError, match="disagree"):
        _activations.derivative_colsum_twin(np.ones((3, 4)), np.ones((3, 4)), np.ones(3), 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", ["delta", "a", "bias_grad"])
def test_derivative_colsum_rejects_non_c_contiguous_arrays(dtype, bad):
    arrays = {"delta": np.ones((3, 4), dtype), "a": np.full((3, 4), 0.5, dtype),
              "bias_grad": np.zeros(4, dtype)}
    arrays[bad] = non_c_contiguous(arrays[bad], "fortran" if arrays[bad].ndim == 2
                                   else "strided")
    with pytest.raises(ValueError, match="contiguous"):
        _activations.derivative_colsum_twin(arrays["delta"], arrays["a"],
                                            arrays["bias_grad"], ACTIVATION_CODES["tanh"])


# ---- losses ------------------------------------------------------------------------

def predictions_and_targets(rng, shape, output, dtype):
    """P from the output activation matching the loss, and valid targets Y."""
    rows, cols = shape
    z = 2 * rng.standard_normal(shape)
    if output == "identity":
        y = rng.standard_normal(shape)
    elif output == "softmax":
        y = np.eye(cols)[rng.integers(0, cols, rows)]
    elif output == "exp":   # Poisson counts, zeros included
        y = rng.poisson(1.5, shape).astype(np.float64)
    else:
        y = rng.integers(0, 2, shape).astype(np.float64)
    p = reference.ACTIVATIONS[output](z)
    return p.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("scale", [None, 0.37])
def test_loss_delta_matches_reference(dtype, shape, output, scale):
    rng = rng_for("loss", dtype, shape, output, scale)
    loss = LOSS_FOR_OUTPUT[output]
    p, y = predictions_and_targets(rng, shape, output, dtype)
    scale = 1.0 / shape[0] if scale is None else scale
    want_loss = reference.per_sample_loss_sum(y, p, loss)
    want_delta = (p.astype(np.float64) - y) * scale
    if loss == "squared_error":
        want_delta /= shape[1]
    out = p.copy()
    bias_grad = np.full(shape[1], np.nan, dtype=dtype)

    total = _losses.loss_delta_twin(out, y, bias_grad, LOSS_CODES[loss], scale)

    assert isinstance(total, float)
    assert out.dtype == dtype and bias_grad.dtype == dtype
    np.testing.assert_allclose(total, want_loss, rtol=RTOL[np.float64])
    assert_within_sum_bound(out, want_delta, np.abs(want_delta), dtype)
    assert_within_sum_bound(bias_grad, want_delta.sum(axis=0),
                            np.abs(want_delta).sum(axis=0), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_error_is_half_the_mean_over_outputs(dtype):
    p = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype)
    y = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]], dtype)
    out = p.copy()
    total = _losses.loss_delta_twin(out, y, np.empty(3, dtype), LOSS_CODES["squared_error"],
                                    0.5)
    assert total == pytest.approx(0.5 * (1 + 4 + 9) / 3 + 0.5 * 4 / 3, rel=1e-12)
    np.testing.assert_allclose(out, (p - y) * 0.5 / 3, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_loss_clips_zero_probability_of_the_true_class(dtype):
    # P is one-hot on the wrong class: log(0) must become log(eps), and 0 log 0 = 0.
    rows, cols = 5, 3
    y = np.eye(cols, dtype=dtype)[np.arange(rows) % cols]
    p = np.eye(cols, dtype=dtype)[(np.arange(rows) + 1) % cols]
    out = p.copy()
    bias_grad = np.empty(cols, dtype)
    eps = np.finfo(dtype).eps
    with np.errstate(all="raise"):
        total = _losses.loss_delta_twin(out, y, bias_grad, LOSS_CODES["log_loss"], 1.0)
    assert np.isfinite(total)
    assert total == pytest.approx(-rows * np.log(float(eps)), rel=1e-12)
    assert total == pytest.approx(reference.per_sample_loss_sum(y, p, "log_loss"), rel=1e-12)
    # the delta is taken from the unclipped probabilities
    np.testing.assert_array_equal(out, p - y)
    np.testing.assert_array_equal(bias_grad, (p - y).sum(axis=0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_log_loss_clips_both_ends(dtype):
    # P = 0 where Y = 1 and P = 1 where Y = 0: each entry costs -log(eps).
    y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype)
    p = 1 - y
    out = p.copy()
    eps = np.finfo(dtype).eps
    total = _losses.loss_delta_twin(out, y, np.empty(3, dtype), LOSS_CODES["binary_log_loss"],
                                    1.0)
    assert total == pytest.approx(-6 * np.log(float(eps)), rel=1e-12)
    assert total == pytest.approx(reference.per_sample_loss_sum(y, p, "binary_log_loss"),
                                  rel=1e-12)
    np.testing.assert_array_equal(out, p - y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["log_loss", "binary_log_loss"])
def test_log_losses_are_zero_for_perfect_predictions(dtype, loss):
    # P = Y exactly (0s and 1s): clipping costs at most a few eps, never log(0).
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype)
    total = _losses.loss_delta_twin(y.copy(), y, np.empty(3, dtype), LOSS_CODES[loss], 1.0)
    assert 0 <= total <= 10 * np.finfo(dtype).eps


def test_loss_delta_rejects_disagreeing_shapes():
    with pytest.raises(ValueError, match="disagree"):
        _losses.loss_delta_twin(np.ones((3, 4)), np.ones((3, 5)), np.ones(4), 0, 1.0)
    with pytest.raises(ValueError, match="disagree"):
        _losses.loss_delta_twin(np.ones((3, 4)), np.ones((3, 4)), np.ones(5), 0, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", ["out", "y"])
def test_loss_delta_rejects_non_c_contiguous_arrays(dtype, bad):
    arrays = {"out": np.full((3, 4), 0.25, dtype), "y": np.zeros((3, 4), dtype)}
    arrays[bad] = non_c_contiguous(arrays[bad], "fortran")
    with pytest.raises(ValueError, match="contiguous"):
        _losses.loss_delta_twin(arrays["out"], arrays["y"], np.zeros(4, dtype),
                                LOSS_CODES["log_loss"], 1.0)


# ---- optimizers --------------------------------------------------------------------

# (n_params, n_weights): weights only, biases only, one of each, odd lengths
OPT_SIZES = [(1, 1), (1, 0), (7, 3), (37, 37), (129, 100)]


def optimizer_state(rng, n, dtype):
    params = rng.standard_normal(n).astype(dtype)
    grads = rng.standard_normal(n).astype(dtype)
    m = (0.1 * rng.standard_normal(n)).astype(dtype)
    v = (0.1 * rng.random(n)).astype(dtype)
    return params, grads, m, v


def assert_update_close(got, want, old, dtype):
    """new = old + update: the update's rounding is relative to |old| + |new|, not |new|."""
    want = want.astype(np.float64)
    assert_within_sum_bound(got, want, np.abs(old) + np.abs(want), dtype)


def grads_with_l2(grads, params, n_weights, l2):
    g = grads.copy()
    g[:n_weights] += params.dtype.type(l2) * params[:n_weights]
    return g


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_params, n_weights", OPT_SIZES)
@pytest.mark.parametrize("t", [1, 7])
def test_adam_step_matches_reference(dtype, n_params, n_weights, t):
    rng = rng_for("adam", dtype, n_params, n_weights, t)
    params, grads, m, v = optimizer_state(rng, n_params, dtype)
    lr, beta_1, beta_2, epsilon, l2 = 1e-3, 0.9, 0.999, 1e-8, 0.3
    want_sumsq = float(np.sum(params[:n_weights].astype(np.float64) ** 2))
    ref = [x.copy() for x in (params, m, v)]
    before = [x.astype(np.float64) for x in (params, m, v)]
    reference.adam_update([ref[0]], [grads_with_l2(grads, params, n_weights, l2)],
                          [ref[1]], [ref[2]], t, lr, beta_1, beta_2, epsilon)
    step = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)

    sumsq = _optimizers.adam_step_twin(params, grads, m, v, n_weights, l2, step, beta_1,
                                       beta_2, epsilon)

    assert sumsq == pytest.approx(want_sumsq, rel=RTOL[dtype])
    for got, want, old in zip((params, m, v), ref, before):
        assert got.dtype == dtype
        assert_update_close(got, want, old, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_params, n_weights", OPT_SIZES)
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_step_matches_reference(dtype, n_params, n_weights, momentum, nesterov):
    rng = rng_for("sgd", dtype, n_params, n_weights, momentum, nesterov)
    params, grads, velocity, _ = optimizer_state(rng, n_params, dtype)
    lr, l2 = 0.05, 0.3
    want_sumsq = float(np.sum(params[:n_weights].astype(np.float64) ** 2))
    ref = [params.copy(), velocity.copy()]
    before = [x.astype(np.float64) for x in (params, velocity)]
    reference.sgd_update([ref[0]], [grads_with_l2(grads, params, n_weights, l2)], [ref[1]],
                         lr, momentum, nesterov)

    sumsq = _optimizers.sgd_step_twin(params, grads, velocity, n_weights, l2, lr, momentum,
                                      nesterov)

    assert sumsq == pytest.approx(want_sumsq, rel=RTOL[dtype])
    for got, want, old in zip((params, velocity), ref, before):
        assert got.dtype == dtype
        assert_update_close(got, want, old, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_l2_penalty_applies_to_weights_only(dtype, solver):
    # Zero gradient and zero moments: only the L2 term can move a parameter.
    n_params, n_weights = 11, 6
    params = np.linspace(-1, 1, n_params).astype(dtype) + dtype(0.1)
    before = params.copy()
    zeros = [np.zeros(n_params, dtype) for _ in range(3)]
    if solver == "adam":
        _optimizers.adam_step_twin(params, zeros[0], zeros[1], zeros[2], n_weights, 0.5,
                                   1e-2, 0.9, 0.999, 1e-8)
    else:
        _optimizers.sgd_step_twin(params, zeros[0], zeros[1], n_weights, 0.5, 1e-2, 0.9,
                                  False)
    np.testing.assert_array_equal(params[n_weights:], before[n_weights:])
    # every weight shrinks towards zero
    assert np.all(np.abs(params[:n_weights]) < np.abs(before[:n_weights]))


@pytest.mark.parametrize("twin", ["adam", "sgd"])
def test_optimizers_reject_inconsistent_lengths(twin):
    p, g, m, v = (np.zeros(5) for _ in range(4))
    with pytest.raises(ValueError, match="inconsistent"):
        if twin == "adam":
            _optimizers.adam_step_twin(p, np.zeros(4), m, v, 3, 0.0, 1e-3, 0.9, 0.999, 1e-8)
        else:
            _optimizers.sgd_step_twin(p, np.zeros(4), m, 3, 0.0, 0.1, 0.9, False)
    with pytest.raises(ValueError, match="inconsistent"):   # n_weights > n_params
        if twin == "adam":
            _optimizers.adam_step_twin(p, g, m, v, 6, 0.0, 1e-3, 0.9, 0.999, 1e-8)
        else:
            _optimizers.sgd_step_twin(p, g, m, 6, 0.0, 0.1, 0.9, False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("twin", ["adam", "sgd"])
def test_optimizers_reject_strided_arrays(dtype, twin):
    p = non_c_contiguous(np.ones(5, dtype), "strided")
    g, m, v = (np.zeros(5, dtype) for _ in range(3))
    with pytest.raises(ValueError, match="contiguous"):
        if twin == "adam":
            _optimizers.adam_step_twin(p, g, m, v, 3, 0.0, 1e-3, 0.9, 0.999, 1e-8)
        else:
            _optimizers.sgd_step_twin(p, g, m, 3, 0.0, 0.1, 0.9, False)
    np.testing.assert_array_equal(p, 1.0)


# ---- network: prediction, full-batch gradient, one epoch ----------------------------

def random_network(rng, sizes, dtype, scale=1.0):
    layout = ParameterLayout(sizes)
    flat = (scale * rng.standard_normal(layout.n_params)).astype(dtype)
    return layout, flat


def random_data(rng, n, sizes, output, dtype):
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    _, Y = predictions_and_targets(rng, (n, sizes[-1]), output, dtype)
    return X, Y


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

    _training.predict_forward(coefs, intercepts, X, out, ACTIVATION_CODES["tanh"],
                              ACTIVATION_CODES["softmax"])

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
        _training.predict_forward(coefs, intercepts, X, out, 2, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_forward_rejects_coefs_of_another_dtype(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    coefs = [np.ones((4, 2), other)]
    intercepts = [np.ones(2, other)]
    with pytest.raises(ValueError, match="dtype mismatch"):
        _training.predict_forward(coefs, intercepts, np.ones((3, 4), dtype),
                                  np.zeros((3, 2), dtype), 0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("sizes", [[5, 7, 3, 4], [13, 1], [3, 1, 1]])
def test_loss_and_gradient_matches_reference(dtype, output, sizes):
    rng = rng_for("lag", dtype, output, sizes)
    loss, alpha = LOSS_FOR_OUTPUT[output], 0.1
    layout, flat = random_network(rng, sizes, dtype, scale=0.5)
    X, Y = random_data(rng, 37, sizes, output, dtype)
    coefs, intercepts = layout.unpack(flat.astype(np.float64))
    want_value, cg, ig = reference.loss_and_gradient(
        coefs, intercepts, X.astype(np.float64), Y.astype(np.float64), "tanh", output,
        loss, alpha)
    want_grad = layout.pack(cg, ig, np.float64)
    grads = np.full(layout.n_params, np.nan, dtype)

    value = _training.loss_and_gradient(flat, grads, X, Y, layout.sizes,
                                        HIDDEN_ACTIVATIONS["tanh"], ACTIVATION_CODES[output],
                                        LOSS_CODES[loss], alpha)

    assert grads.dtype == dtype
    assert value == pytest.approx(want_value, rel=10 * RTOL[dtype])
    scale = np.max(np.abs(want_grad))
    np.testing.assert_allclose(grads, want_grad, rtol=10 * RTOL[dtype],
                               atol=10 * RTOL[dtype] * scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_and_gradient_rejects_fortran_ordered_input(dtype):
    layout = ParameterLayout([4, 3, 2])
    params = np.zeros(layout.n_params, dtype)
    with pytest.raises(ValueError, match="contiguous"):
        _training.loss_and_gradient(params, np.zeros_like(params),
                                    np.asfortranarray(np.ones((5, 4), dtype)),
                                    np.zeros((5, 2), dtype), layout.sizes, 1, 0, 0, 0.0)


EPOCH_RTOL = {np.float32: 1e-4, np.float64: 1e-10}
SOLVERS = [("adam", False), ("sgd", False), ("sgd", True)]


def epoch_config(solver, nesterov, hidden, output, alpha=1e-2, dropout=None):
    return types.SimpleNamespace(
        solver=solver, activation=hidden, out_activation=output,
        loss=LOSS_FOR_OUTPUT[output], alpha=alpha,
        # exp outputs grow fast: a smaller SGD step keeps them finite
        learning_rate=(0.05 if solver == "sgd" else 0.01) * (0.1 if output == "exp" else 1),
        momentum=0.9, nesterov=nesterov, beta_1=0.9, beta_2=0.999,
        epsilon=1e-8, dropout=dropout, dropout_seed=12345, bound_blas=False)


@pytest.mark.parametrize("solver, nesterov", SOLVERS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", ["relu", "tanh", "elu"])
@pytest.mark.parametrize("dtype, n_threads, sizes", [
    (dtype, n_threads, sizes) for dtype in DTYPES
    for n_threads, sizes in [(1, [5, 7, 3, 4]), (2, [5, 7, 3, 4]), (3, [5, 7, 3, 4]),
                             (3, [4, 1, 2, 3])]] + [   # float32 would take only the terms' way
    (np.float64, 2, BY_COLUMNS_FIRST), (np.float64, 2, BY_COLUMNS_LAST)])
def test_train_epoch_matches_reference_engine(dtype, solver, nesterov, output, hidden,
                                              n_threads, sizes):
    # n_threads > 1 splits each layer's units (and the output layer's rows) among the
    # team; [4, 1, 2, 3] on 3 threads leaves threads with no unit of a layer; the
    # BY_COLUMNS networks mix the two ways of computing a hidden layer
    rng = rng_for("epoch", dtype, solver, nesterov, output, hidden)
    n_samples, batch_size = 37, 10     # last minibatch: 7 rows
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, output, dtype)
    config = epoch_config(solver, nesterov, hidden, output)
    states = {}
    for name in ("cython", "numpy"):
        states[name] = TrainingState(glorot_uniform(layout, hidden,
                                                    np.random.default_rng(0), dtype))
    engines = {"cython": CythonEngine(layout, batch_size, dtype, n_threads=n_threads),
               "numpy": NumpyEngine(layout, batch_size, dtype)}
    # two epochs, so the second starts from non-zero moments and adam_t
    for epoch in range(2):
        order = rng.permutation(n_samples).astype(np.intp)
        results = {name: engines[name].train_epoch(states[name], X, Y, None, order, config)
                   for name in engines}
        got, want = states["cython"], states["numpy"]
        assert results["cython"][1] is False and results["numpy"][1] is False
        assert results["cython"][0] == pytest.approx(results["numpy"][0],
                                                     rel=EPOCH_RTOL[dtype])
        assert got.adam_t == want.adam_t == (4 * (epoch + 1) if solver == "adam" else 0)
        assert got.params.dtype == dtype
        for a, b in [(got.params, want.params), (got.moment_1, want.moment_1),
                     (got.moment_2, want.moment_2)]:
            np.testing.assert_allclose(a, b, rtol=EPOCH_RTOL[dtype],
                                       atol=EPOCH_RTOL[dtype] * np.max(np.abs(b)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_epoch_steps_and_loss_sum(dtype):
    # loss_sum = sum over minibatches of (data loss sum + 0.5 alpha ||W||^2 before the step)
    rng = rng_for("epoch-steps", dtype)
    sizes = [3, 4, 2]
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, 23, sizes, "identity", dtype)
    params = glorot_uniform(layout, "relu", rng, dtype)
    state = TrainingState(params.copy())
    engine = CythonEngine(layout, 5, dtype)
    alpha = 0.1
    config = types.SimpleNamespace(
        batch_size=5, n_threads=engine.n_threads, hidden_code=HIDDEN_ACTIVATIONS["relu"],
        out_code=ACTIVATION_CODES["identity"], loss_code=LOSS_CODES["squared_error"],
        solver_code=SOLVER_CODES["sgd"], alpha=alpha, learning_rate=0.0, momentum=0.0,
        nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8, dropout=None,
        dropout_seed=0, bound_blas=False)
    no_index = np.empty(0, np.int32)
    loss_sum, steps, adam_t, status = _training.train_epoch(
        state.params, engine.grads, state.moment_1, state.moment_2, X, no_index, no_index,
        np.empty(0, dtype), Y, np.empty(0, dtype), np.arange(23, dtype=np.intp),
        layout.sizes, engine.workspace, config, 0, 0)
    # a zero learning rate leaves params unchanged, so every batch sees the same W
    assert (steps, adam_t, status) == (5, 0, _training.STATUS_OK)
    np.testing.assert_array_equal(state.params, params)
    coefs, intercepts = layout.unpack(params.astype(np.float64))
    P = reference.forward(coefs, intercepts, X.astype(np.float64), "relu", "identity")[-1]
    sumsq = float(np.sum(params[:layout.n_weights].astype(np.float64) ** 2))
    want = reference.per_sample_loss_sum(Y.astype(np.float64), P, "squared_error") \
        + 5 * 0.5 * alpha * sumsq
    assert loss_sum == pytest.approx(want, rel=10 * RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_train_epoch_reports_divergence_like_reference(dtype, hidden):
    # A NaN weight (left by an overflowing step) must stop the epoch in both engines.
    rng = rng_for("diverge", dtype, hidden)
    sizes = [4, 5, 3]
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, 12, sizes, "softmax", dtype)
    params = glorot_uniform(layout, hidden, rng, dtype)
    params[0] = np.nan
    config = epoch_config("adam", False, hidden, "softmax")
    order = np.arange(12, dtype=np.intp)
    diverged = {}
    for name, engine_cls in [("cython", CythonEngine), ("numpy", NumpyEngine)]:
        state = TrainingState(params.copy())
        _, diverged[name] = engine_cls(layout, 4, dtype).train_epoch(state, X, Y, None,
                                                                      order, config)
    assert diverged == {"cython": True, "numpy": True}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", ["relu", "tanh", "logistic", "elu"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("variant", ["sample_weight", "dropout", "both"])
def test_train_epoch_with_weights_and_dropout_matches_reference(dtype, hidden, n_threads,
                                                                variant):
    # sample weights scale rows of the output delta; dropout masks are hashed from
    # (step key, row, unit), so both engines and any thread split draw the same masks
    rng = rng_for("epoch-variant", dtype, hidden, variant)
    sizes, n_samples, batch_size = [6, 9, 5, 3], 41, 8
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", dtype)
    weights = None
    if variant in ("sample_weight", "both"):
        weights = rng.uniform(0, 3, n_samples).astype(dtype)
        weights[:8] = 0     # a whole minibatch of zero weight is skipped
    dropout = (0.3, 0.5) if variant in ("dropout", "both") else None
    config = epoch_config("adam", False, hidden, "softmax", dropout=dropout)
    states = {name: TrainingState(glorot_uniform(layout, hidden, np.random.default_rng(1),
                                                 dtype)) for name in ("cython", "numpy")}
    engines = {"cython": CythonEngine(layout, batch_size, dtype, n_threads=n_threads),
               "numpy": NumpyEngine(layout, batch_size, dtype)}
    order = np.arange(n_samples, dtype=np.intp)
    for _ in range(2):
        results = {name: engines[name].train_epoch(states[name], X, Y, weights, order,
                                                   config) for name in engines}
        assert results["cython"][0] == pytest.approx(results["numpy"][0],
                                                     rel=EPOCH_RTOL[dtype])
        assert states["cython"].n_steps == states["numpy"].n_steps
        np.testing.assert_allclose(states["cython"].params, states["numpy"].params,
                                   rtol=EPOCH_RTOL[dtype],
                                   atol=EPOCH_RTOL[dtype] * np.max(np.abs(
                                       states["numpy"].params)))
    # 6 minibatches an epoch (5 of 8 rows, 1 of 1); the weighted first one is all zero
    assert states["cython"].n_steps == (12 if weights is None else 10)


def test_big_layers_go_by_columns_and_small_ones_as_sums_of_terms():
    ways = {(tuple(sizes), n_parts, itemsize): _network.hidden_layer_ways(
                np.array(sizes, dtype=np.intp), n_parts, itemsize)
            for sizes in (BY_COLUMNS_FIRST, BY_COLUMNS_LAST)
            for n_parts in (1, 2) for itemsize in (4, 8)}
    assert ways[tuple(BY_COLUMNS_FIRST), 2, 8] == ["columns", "terms"]
    assert ways[tuple(BY_COLUMNS_LAST), 2, 8] == ["terms", "columns"]
    assert ways[tuple(BY_COLUMNS_FIRST), 2, 4] == ways[tuple(BY_COLUMNS_LAST), 2, 4] == [
        "terms", "terms"]
    for sizes in (BY_COLUMNS_FIRST, BY_COLUMNS_LAST):   # one thread: plain products
        assert ways[tuple(sizes), 1, 4] == ways[tuple(sizes), 1, 8] == ["columns"] * 2
    # the benchmark's networks on two threads
    assert _network.hidden_layer_ways(np.array([784, 256, 128, 10], dtype=np.intp), 2, 8) \
        == ["terms", "terms"]
    assert _network.hidden_layer_ways(np.array([784, 1024, 1024, 10], dtype=np.intp), 2,
                                      4) == ["columns", "columns"]


def test_first_layer_inputs_split_evenly_on_multiples_of_8_units():
    def shares(width, n_parts, i=0):
        return _network.input_shares(np.array([width, 5, 3], dtype=np.intp), i, n_parts)
    assert shares(784, 2) == [(0, 392), (392, 784)]   # not 400/384 (whole 64-byte lines)
    assert shares(784, 3) == [(0, 264), (264, 520), (520, 784)]
    for width in (1, 3, 7, 20, 33, 784, 1001):
        for n_parts in (1, 2, 3, 4):
            cuts = shares(width, n_parts)
            # every unit owned once, in order; inner cuts on multiples of 8 units (or
            # at the end: trailing parts of a narrow layer own none)
            assert cuts[0][0] == 0 and cuts[-1][1] == width
            assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
            assert all(lo <= hi and (lo % 8 == 0 or lo == width) for lo, hi in cuts)
            # each part within 4 units of its even share
            assert all(abs(lo - width * p // n_parts) <= 4
                       for p, (lo, hi) in enumerate(cuts)), cuts
    assert shares(5, 2) == [(0, 0), (0, 5)]   # a part may own no input unit
    assert shares(30, 2, i=1) == [(0, 2), (2, 5)]   # later layers: share() as it is


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads, sizes", [(2, [30, 17, 9, 4]), (3, [30, 17, 9, 4]),
                                              (3, [4, 1, 2, 3]), (2, [30, 4]),
                                              (2, BY_COLUMNS_FIRST), (2, BY_COLUMNS_LAST)])
@pytest.mark.parametrize("sparse", [False, True])
def test_one_thread_playing_the_team_computes_what_the_team_computes(dtype, n_threads,
                                                                     sizes, sparse):
    # The adaptive fallback (a busy core) runs the team's segments one after another on
    # one thread: the same gemms on the same parts, so the same bits, with sample
    # weights, dropout, a short last minibatch and a sparse X alike; and the adaptive
    # mode's probes, which run some minibatches each way, change nothing either.
    rng = rng_for("serial-team", dtype, n_threads, len(sizes), sparse)
    n_samples, batch_size = 101, 12   # 8 full minibatches: a whole probe, 3 each way
    layout = ParameterLayout(sizes)
    X, Y = random_data(rng, n_samples, sizes, "softmax", dtype)
    X[X < 0.3] = 0
    if sparse:
        X = scipy.sparse.csr_matrix(X)
    weights = rng.uniform(0.5, 2, n_samples).astype(dtype)
    dropout = tuple(0.2 for _ in sizes[1:-1]) or None
    config = epoch_config("adam", False, "relu", "softmax", dropout=dropout)
    states, losses = {}, {}
    for mode in ("always", "serial", "adaptive"):
        engine = CythonEngine(layout, batch_size, dtype, n_threads=n_threads,
                              dense_input=not sparse)
        engine.probe_memory = [True, 0.0]   # adaptive: probe at the first full minibatch
        states[mode] = TrainingState(glorot_uniform(layout, "relu",
                                                    np.random.default_rng(2), dtype))
        config.team_mode = _training.TEAM_MODES[mode]
        losses[mode] = []
        for epoch in range(2):
            order = np.random.default_rng(epoch).permutation(n_samples).astype(np.intp)
            loss_sum, diverged = engine.train_epoch(states[mode], X, Y, weights, order,
                                                    config)
            assert diverged is False
            losses[mode].append(loss_sum)
        if mode == "adaptive":   # it probed (both ways), and set the time of the next probe
            assert engine.probe_memory[1] > 0
    for mode in ("serial", "adaptive"):
        assert losses[mode] == losses["always"]
        assert states[mode].n_steps == states["always"].n_steps == 18
        for name in ("params", "moment_1", "moment_2"):
            np.testing.assert_array_equal(getattr(states[mode], name),
                                          getattr(states["always"], name))


def test_team_mode_follows_n_threads():
    # threads the user set: always the team; all cores (None): adaptive
    layout = ParameterLayout([6, 5, 3])
    base = epoch_config("adam", False, "relu", "softmax")
    for bound_blas, mode in [(True, "always"), (False, "adaptive")]:
        base.bound_blas = bound_blas
        config = _KernelConfig(base, 4, 2)
        assert config.team_mode == _training.TEAM_MODES[mode]
    base.team_mode = _training.TEAM_MODES["serial"]   # set explicitly: kept
    assert _KernelConfig(base, 4, 2).team_mode == _training.TEAM_MODES["serial"]
    assert CythonEngine(layout, 4, np.float64, n_threads=2).probe_memory == [True, -1.0]


def test_train_epoch_refuses_a_workspace_too_short_for_its_terms():
    # W_0 of [600, 500, 3] sums terms in float32 on two threads, not in float64: a
    # float32 epoch given the float64 length would write past the workspace.
    layout = ParameterLayout([600, 500, 3])
    lengths = {itemsize: _training.workspace_length(layout.sizes, 8, 2, True, itemsize)
               for itemsize in (4, 8)}
    assert lengths[4] > lengths[8]
    engine = CythonEngine(layout, 8, np.float32, n_threads=2)
    assert engine.workspace.shape[0] == lengths[4]
    engine.workspace = np.empty(lengths[8], np.float32)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 600)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    state = TrainingState(glorot_uniform(layout, "relu", np.random.default_rng(0),
                                         np.float32))
    before = state.params.copy()
    with pytest.raises(ValueError, match="workspace"):
        engine.train_epoch(state, X, Y, None, np.arange(20, dtype=np.intp),
                           epoch_config("adam", False, "relu", "softmax"))
    np.testing.assert_array_equal(state.params, before)


def test_dropout_masks_are_the_same_in_cython_and_numpy():
    key, rate, stride, offset = 0xDEADBEEF, 0.3, 29, 11
    z = np.ones((17, 13))
    _activations.bias_activation_twin(z, np.zeros(13), HIDDEN_ACTIVATIONS["identity"],
                                      (key, rate, stride, offset), 0)
    mask = reference.dropout_mask(key, rate, 17, stride, offset, 13)
    np.testing.assert_array_equal(z != 0, mask)
    np.testing.assert_allclose(z[mask], 1 / (1 - rate))
    assert 0.2 < 1 - mask.mean() < 0.4        # about `rate` of the units dropped
    assert _dropout.step_key_twin(7, 3) == reference.step_key(7, 3)
    assert reference.step_key(7, 3) != reference.step_key(7, 4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_arrays_sit_at_different_page_offsets(dtype):
    # params, grads and both moments are streamed by one loop: no two may share an
    # offset within a 4 KiB page (4K aliasing), and each must still be a plain array
    from fastmlp._layout import staggered_empty
    for slot in range(4):
        array = staggered_empty(1001, dtype, slot)
        assert array.shape == (1001,) and array.dtype == dtype and array.flags.c_contiguous
        assert array.ctypes.data % 4096 == (slot * (1024 + 64)) % 4096
    layout = ParameterLayout([7, 5, 3])
    params = np.arange(layout.n_params, dtype=dtype)
    state = TrainingState(params)
    engine = CythonEngine(layout, 4, dtype)
    arrays = [state.params, engine.grads, state.moment_1, state.moment_2]
    assert len({a.ctypes.data % 4096 for a in arrays}) == 4
    np.testing.assert_array_equal(state.params, params)
    assert not np.shares_memory(state.params, params)
    assert not state.moment_1.any() and not state.moment_2.any()
