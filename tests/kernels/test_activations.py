"""The activation kernels (fastmlp/_kernels/activations.pyx.tp) against the NumPy
reference, for every activation of the registry: bias + activation forward, the
derivative and the bias-gradient column sum backward, and their dropout."""
import numpy as np
import pytest

from fastmlp import reference
from fastmlp._engine.registry import ACTIVATIONS, HIDDEN_ACTIVATIONS
from fastmlp._kernels import activations

from helpers import DTYPES, RTOL, SHAPES, assert_within_sum_bound, non_c_contiguous, rng_for

ALL = sorted(ACTIVATIONS)
HIDDEN = sorted(HIDDEN_ACTIVATIONS)


def code(name):
    return ACTIVATIONS[name].code


def biased_input(rng, shape, dtype, scale=3.0):
    z = (scale * rng.standard_normal(shape)).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    return z, bias


def derivative_input(name, z, a):
    """What the kernel's derivative of `name` reads: its output, or its pre-activation."""
    return a if ACTIVATIONS[name].reads == "output" else z


def test_every_activation_has_a_reference_twin():
    assert set(ACTIVATIONS) <= set(reference.ACTIVATIONS)
    assert set(HIDDEN_ACTIVATIONS) <= set(reference.DERIVATIVES)
    assert all(a.reads in ("output", "preactivation") for a in ACTIVATIONS.values()
               if a.hidden)


# ---- bias + activation ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ALL)
def test_bias_activation_matches_reference(dtype, shape, name):
    rng = rng_for("act", dtype, shape, name)
    z, bias = biased_input(rng, shape, dtype)
    # z + bias is rounded to the dtype in the kernel too; the activation itself is
    # evaluated here in float64
    want_z = (z + bias).astype(np.float64)
    want = reference.ACTIVATIONS[name](want_z)
    preact = np.full(shape, np.nan, dtype)

    activations.bias_activation_twin(z, bias, code(name), preact=preact)

    assert z.dtype == dtype
    np.testing.assert_allclose(z, want, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-3)
    if ACTIVATIONS[name].reads == "preactivation":   # kept for the derivative
        np.testing.assert_array_equal(preact, want_z.astype(dtype))
    else:                                            # never written
        assert np.isnan(preact).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_sum_to_one(dtype):
    rng = rng_for("softmax-sum", dtype)
    z, bias = biased_input(rng, (37, 13), dtype, scale=20.0)
    activations.bias_activation_twin(z, bias, code("softmax"))
    assert np.all(z >= 0)
    np.testing.assert_allclose(z.sum(axis=1, dtype=np.float64), 1.0, rtol=RTOL[dtype])


HUGE_Z = np.array([[1000.0, -1000.0, 0.0, 89.0, -89.0, 710.0, -710.0]])
SATURATING = ["logistic", "tanh", "elu", "gelu", "silu"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SATURATING)
def test_saturating_activations_stay_finite_for_huge_inputs(dtype, name):
    z = HUGE_Z.astype(dtype)
    want = reference.ACTIVATIONS[name](z.astype(np.float64))
    with np.errstate(all="raise"):
        activations.bias_activation_twin(z, np.zeros(z.shape[1], dtype), code(name))
    assert np.all(np.isfinite(z))
    # below the smallest normal number of the dtype, only the absolute error counts
    np.testing.assert_allclose(z, want, rtol=RTOL[dtype],
                               atol=np.finfo(dtype).smallest_normal)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_saturates_to_exactly_zero_and_one(dtype):
    z = np.array([[1000.0, -1000.0]], dtype=dtype)
    activations.bias_activation_twin(z, np.zeros(2, dtype), code("logistic"))
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
    activations.bias_activation_twin(z, np.zeros(3, dtype), code("softmax"))
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z, want, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL)
def test_bias_activation_propagates_nan_like_numpy(dtype, name):
    # A NaN pre-activation (a diverged weight) must reach the loss, where
    # train_epoch detects divergence; np.maximum in the reference propagates it.
    z = np.array([[np.nan, 1.0, -1.0]], dtype=dtype)
    activations.bias_activation_twin(z, np.zeros(3, dtype), code(name))
    assert np.isnan(z[0, 0])


def test_bias_activation_rejects_wrong_bias_length_and_unknown_codes():
    with pytest.raises(ValueError, match="bias length"):
        activations.bias_activation_twin(np.zeros((3, 4)), np.zeros(5), 0)
    with pytest.raises(ValueError, match="no activation has code"):
        activations.bias_activation_twin(np.zeros((3, 4)), np.zeros(4), len(ACTIVATIONS))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_bias_activation_rejects_non_c_contiguous_arrays(dtype, layout):
    z = non_c_contiguous(np.ones((3, 4), dtype), layout)
    before = z.copy()
    with pytest.raises(ValueError, match="contiguous"):
        activations.bias_activation_twin(z, np.ones(4, dtype), code("tanh"))
    np.testing.assert_array_equal(z, before)
    with pytest.raises(ValueError, match="contiguous"):
        activations.bias_activation_twin(np.ones((3, 4), dtype),
                                         non_c_contiguous(np.ones(4, dtype), "strided"),
                                         code("tanh"))


# ---- derivative + column sum --------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", HIDDEN)
def test_derivative_colsum_matches_reference(dtype, shape, name):
    rng = rng_for("deriv", dtype, shape, name)
    z = (3 * rng.standard_normal(shape)).astype(dtype)
    a = reference.ACTIVATIONS[name](z.astype(np.float64)).astype(dtype)
    delta = rng.standard_normal(shape).astype(dtype)
    z64, a64, delta64 = z.astype(np.float64), a.astype(np.float64), delta.astype(np.float64)
    slope = reference.DERIVATIVES[name](z64, a64)
    want = delta64 * slope
    # 1 - t^2 and s (1 - s) cancel where an activation saturates (tanh, logistic, and
    # inside gelu and silu), so a last-bit difference between two tanh or exp
    # implementations grows there: bound the error by the size of the formulas' terms,
    # which grow like |z|^3 for gelu's cubic
    terms = np.abs(want) + np.abs(delta64) * (np.abs(a64) + a64 * a64 + np.abs(slope)
                                              + np.abs(z64) + np.abs(z64) ** 3)
    bias_grad = np.full(shape[1], np.nan, dtype=dtype)   # overwritten, not accumulated

    activations.derivative_colsum_twin(delta, derivative_input(name, z, a), bias_grad,
                                       code(name))

    assert delta.dtype == dtype and bias_grad.dtype == dtype
    assert_within_sum_bound(delta, want, terms, dtype)
    assert_within_sum_bound(bias_grad, want.sum(axis=0), terms.sum(axis=0), dtype)


@pytest.mark.parametrize("name", HIDDEN)
def test_derivative_equals_central_difference(name):
    # Whatever the kernel reads (a = act(z), or z), it must give d act / dz itself.
    rng = rng_for("deriv-fd", name)
    z = rng.uniform(0.05, 3, (7, 13)) * rng.choice([-1.0, 1.0], (7, 13))  # away from kinks
    act = reference.ACTIVATIONS[name]
    h = 1e-6
    slope = (act(z + h) - act(z - h)) / (2 * h)
    delta = np.ones_like(z)
    bias_grad = np.empty(13)
    activations.derivative_colsum_twin(delta, derivative_input(name, z, act(z)), bias_grad,
                                       code(name))
    np.testing.assert_allclose(delta, slope, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(bias_grad, slope.sum(axis=0), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", [n for n in HIDDEN if ACTIVATIONS[n].reads == "output"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_derivative_reads_the_output_before_the_mask_scale(name, dtype):
    # The stored output of a kept unit is act(z) / keep: the derivative must be taken
    # at act(z), then scaled by 1 / keep; dropped units get no gradient.
    rng = rng_for("deriv-dropout", name, dtype)
    key, rate, stride, offset = 0xC0FFEE, 0.4, 13, 0
    z = rng.uniform(-2, 2, (9, 13))
    a = reference.ACTIVATIONS[name](z)
    mask = reference.dropout_mask(key, rate, 9, stride, offset, 13)
    stored = np.where(mask, a / (1 - rate), 0).astype(dtype)
    delta = np.ones((9, 13), dtype)
    bias_grad = np.empty(13, dtype)
    activations.derivative_colsum_twin(delta, stored, bias_grad, code(name),
                                       (key, rate, stride, offset))
    want = np.where(mask, reference.DERIVATIVES[name](z, a) / (1 - rate), 0)
    np.testing.assert_allclose(delta, want, rtol=100 * RTOL[dtype], atol=100 * RTOL[dtype])


def test_derivative_colsum_rejects_disagreeing_shapes_and_output_only_codes():
    with pytest.raises(ValueError, match="disagree"):
        activations.derivative_colsum_twin(np.ones((3, 4)), np.ones((3, 5)), np.ones(4), 1)
    with pytest.raises(ValueError, match="disagree"):
        activations.derivative_colsum_twin(np.ones((3, 4)), np.ones((3, 4)), np.ones(3), 1)
    with pytest.raises(ValueError, match="no hidden activation"):
        activations.derivative_colsum_twin(np.ones((3, 4)), np.ones((3, 4)), np.ones(4),
                                           code("softmax"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", ["delta", "x", "bias_grad"])
def test_derivative_colsum_rejects_non_c_contiguous_arrays(dtype, bad):
    arrays = {"delta": np.ones((3, 4), dtype), "x": np.full((3, 4), 0.5, dtype),
              "bias_grad": np.zeros(4, dtype)}
    arrays[bad] = non_c_contiguous(arrays[bad], "fortran" if arrays[bad].ndim == 2
                                   else "strided")
    with pytest.raises(ValueError, match="contiguous"):
        activations.derivative_colsum_twin(arrays["delta"], arrays["x"],
                                           arrays["bias_grad"], code("tanh"))
