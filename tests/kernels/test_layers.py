"""One layer for one part of a team (fastmlp/_kernels/layers.pyx) against NumPy: by
columns, as a sum of the parts' terms, and backward; every hidden activation, team sizes
that split layers unevenly (or leave a part without units), odd shapes."""
import numpy as np
import pytest

from fastmlp import reference
from fastmlp._engine.registry import ACTIVATIONS, HIDDEN_ACTIVATIONS
from fastmlp._kernels import layers

from helpers import DTYPES, assert_within_sum_bound, rng_for

# (rows, n_in, n_out): one row, one input, one output, widths no SIMD width divides
SHAPES = [(1, 1, 1), (1, 7, 3), (13, 1, 5), (7, 13, 1), (37, 29, 19)]
N_PARTS = [1, 2, 3, 5]


def layer(rng, shape, dtype):
    rows, n_in, n_out = shape
    return (rng.standard_normal((rows, n_in)).astype(dtype),
            (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype),
            rng.standard_normal(n_out).astype(dtype))


def reference_layer(a_in, W, b, name):
    """(z, act(z)) in float64 from the same (rounded) inputs."""
    z = a_in.astype(np.float64) @ W.astype(np.float64) + b
    return z, reference.ACTIVATIONS[name](z)


# every dtype, shape, team size and hidden activation
EVERY_LAYER = pytest.mark.parametrize("dtype, shape, n_parts, name", [
    (dtype, shape, n_parts, name) for dtype in DTYPES for shape in SHAPES
    for n_parts in N_PARTS for name in sorted(HIDDEN_ACTIVATIONS)])


def share(n, part, n_parts):
    return n * part // n_parts, n * (part + 1) // n_parts


@EVERY_LAYER
def test_forward_by_columns_each_part_writes_its_units_and_together_the_layer(
        dtype, shape, n_parts, name):
    rng = rng_for("by-columns", dtype, shape, n_parts, name)
    a_in, W, b = layer(rng, shape, dtype)
    z, want = reference_layer(a_in, W, b, name)
    out = np.full((shape[0], shape[2]), np.nan, dtype)
    preact = np.full_like(out, np.nan)
    for part in range(n_parts):
        layers.forward_columns_twin(part, n_parts, a_in, W, b, out, ACTIVATIONS[name].code,
                                    preact)
        c1 = share(shape[2], part, n_parts)[1]
        assert np.isnan(out[:, c1:]).all()   # the later parts' units are not touched yet
    # the activation of a rounded z: bound by the sum of the product's |terms|
    magnitude = np.abs(a_in) @ np.abs(W) + np.abs(b) + np.abs(want)
    assert_within_sum_bound(out, want, 10 * magnitude, dtype)
    if ACTIVATIONS[name].reads == "preactivation":
        assert_within_sum_bound(preact, z, magnitude, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n_parts", N_PARTS)
def test_forward_as_a_sum_of_the_parts_terms_is_the_layer(dtype, shape, n_parts):
    # five parts of a layer with a single input: four terms are zero
    rng = rng_for("terms", dtype, shape, n_parts)
    a_in, W, b = layer(rng, shape, dtype)
    _, want = reference_layer(a_in, W, b, "tanh")
    out = np.full((shape[0], shape[2]), np.nan, dtype)
    layers.forward_terms_twin(n_parts, a_in, W, b, out, ACTIVATIONS["tanh"].code)
    magnitude = np.abs(a_in) @ np.abs(W) + np.abs(b)
    assert_within_sum_bound(out, want, magnitude, dtype)


@EVERY_LAYER
def test_backward_each_part_computes_its_rows_of_dw_and_columns_of_the_previous_delta(
        dtype, shape, n_parts, name):
    rng = rng_for("backward", dtype, shape, n_parts, name)
    rows, n_in, n_out = shape
    z_prev = (2 * rng.standard_normal((rows, n_in))).astype(dtype)
    a_in = reference.ACTIVATIONS[name](z_prev.astype(np.float64)).astype(dtype)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    delta = rng.standard_normal((rows, n_out)).astype(dtype)
    coef_grad = np.full((n_in, n_out), np.nan, dtype)
    delta_prev = np.full((rows, n_in), np.nan, dtype)
    bias_grad = np.full(n_in, np.nan, dtype)
    for part in range(n_parts):
        j0, j1 = share(n_in, part, n_parts)
        layers.backward_layer_twin(j0, j1, a_in, W, delta, coef_grad, delta_prev, bias_grad,
                                   ACTIVATIONS[name].code, z_prev)
    a64, d64, W64 = (x.astype(np.float64) for x in (a_in, delta, W))
    assert_within_sum_bound(coef_grad, a64.T @ d64, np.abs(a64).T @ np.abs(d64), dtype)
    back = d64 @ W64.T
    slope = reference.DERIVATIVES[name](z_prev.astype(np.float64), a64)
    # the derivative's own rounding, as in test_activations (its terms grow like |z|^3)
    terms = (np.abs(d64) @ np.abs(W64).T) * (np.abs(slope) + 1 + a64 * a64
                                               + np.abs(z_prev) ** 3)
    assert_within_sum_bound(delta_prev, back * slope, terms, dtype)
    assert_within_sum_bound(bias_grad, (back * slope).sum(axis=0), terms.sum(axis=0), dtype)


def test_the_first_layer_gets_no_previous_delta():
    rng = rng_for("first-layer")
    a_in, W, _ = layer(rng, (6, 4, 3), np.float64)
    delta = rng.standard_normal((6, 3))
    coef_grad, bias_grad = np.empty((4, 3)), np.full(4, np.nan)
    layers.backward_layer_twin(0, 4, a_in, W, delta, coef_grad, None, bias_grad,
                               ACTIVATIONS["relu"].code)
    np.testing.assert_allclose(coef_grad, a_in.T @ delta, rtol=1e-12)
    assert np.isnan(bias_grad).all()


def test_twins_refuse_shapes_that_do_not_chain():
    a_in, W, b = layer(rng_for("refuse"), (5, 4, 3), np.float64)
    with pytest.raises(ValueError, match="disagree"):
        layers.forward_columns_twin(0, 1, a_in, W, b, np.empty((5, 2)), 0)
    with pytest.raises(ValueError, match="disagree"):
        layers.forward_terms_twin(2, a_in, W[:3], b, np.empty((5, 3)), 0)
    with pytest.raises(ValueError, match="disagree"):
        layers.backward_layer_twin(0, 4, a_in, W, np.ones((5, 2)), np.empty((4, 3)), None,
                                   np.empty(4), 0)
    with pytest.raises(ValueError, match="j0 <= j1"):
        layers.backward_layer_twin(3, 2, a_in, W, np.ones((5, 3)), np.empty((4, 3)), None,
                                   np.empty(4), 0)
