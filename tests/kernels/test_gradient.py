"""The full-batch loss and gradient (fastmlp/_kernels/gradient.pyx): against the NumPy
reference, and by central finite differences in float64 for both engines.

`gradient.loss_and_gradient` (Cython) and `reference.loss_and_gradient` (NumPy) must
each be the derivative of their own loss, for every hidden activation and every loss,
and must agree with each other.
"""
import zlib

import numpy as np
import pytest
import scipy.sparse

from fastmlp import reference
from fastmlp._engine.layout import ParameterLayout
from fastmlp._engine.registry import ACTIVATIONS, HIDDEN_ACTIVATIONS, LOSS_FOR_OUTPUT, LOSSES
from fastmlp._kernels import gradient

from helpers import DTYPES, OUTPUTS, RTOL, random_data, random_network, rng_for

N_OUTPUTS = {"identity": 2, "logistic": 3, "softmax": 4, "exp": 2}
ALPHA = 0.3
STEP = 1e-6             # central differences: truncation ~STEP^2, rounding ~1e-16 / STEP
FD_RTOL = 1e-6
AGREE_RTOL = 1e-12
KINK_MARGIN = 1e-4      # no hidden pre-activation this close to 0 (relu, leaky_relu, elu)


def make_problem(sizes, hidden, output, n_samples, seed_key):
    """Random float64 parameters and data, redrawn until no hidden Z is near a kink.

    A step of STEP in one parameter moves each Z by at most ~|x| STEP << KINK_MARGIN,
    so no difference quotient straddles the kink of relu, leaky_relu or elu.
    """
    layout = ParameterLayout(sizes)
    rng = np.random.default_rng(zlib.crc32(repr(seed_key).encode()))
    for _ in range(100):
        flat = 0.7 * rng.standard_normal(layout.n_params)
        X = rng.standard_normal((n_samples, sizes[0]))
        coefs, intercepts = layout.unpack(flat)
        acts = reference.forward(coefs, intercepts, X, hidden, output)
        zs = [a_in @ W + b for a_in, W, b in zip(acts[:-2], coefs[:-1], intercepts[:-1])]
        if all(np.min(np.abs(z)) > KINK_MARGIN for z in zs):
            break
    else:
        pytest.fail("could not draw a problem away from the activation kinks")
    k = sizes[-1]
    if output == "identity":
        Y = rng.standard_normal((n_samples, k))
    elif output == "softmax":
        Y = np.eye(k)[rng.integers(0, k, n_samples)]
    elif output == "exp":   # Poisson counts, zeros included
        Y = rng.poisson(1.5, (n_samples, k)).astype(np.float64)
    else:
        Y = rng.integers(0, 2, (n_samples, k)).astype(np.float64)
    return layout, flat, X, Y


def kernel_loss_and_gradient(flat, grads, X, Y, layout, hidden, output, alpha,
                             sample_weight=None):
    return gradient.loss_and_gradient(flat, grads, X, Y, layout.sizes,
                                      ACTIVATIONS[hidden].code, ACTIVATIONS[output].code,
                                      LOSSES[LOSS_FOR_OUTPUT[output]].code, alpha,
                                      sample_weight)


def cython_loss_grad(layout, X, Y, hidden, output):
    def f(flat):
        grads = np.full(layout.n_params, np.nan)
        value = kernel_loss_and_gradient(flat, grads, X, Y, layout, hidden, output, ALPHA)
        return value, grads
    return f


def reference_loss_grad(layout, X, Y, hidden, output):
    def f(flat):
        coefs, intercepts = layout.unpack(flat)
        value, cg, ig = reference.loss_and_gradient(coefs, intercepts, X, Y, hidden, output,
                                                    LOSS_FOR_OUTPUT[output], ALPHA)
        return value, layout.pack(cg, ig, np.float64)
    return f


def central_differences(f, flat):
    fd = np.empty_like(flat)
    for i in range(flat.size):
        plus, minus = flat.copy(), flat.copy()
        plus[i] += STEP
        minus[i] -= STEP
        fd[i] = (f(plus)[0] - f(minus)[0]) / (2 * STEP)
    return fd


def assert_gradient_matches_differences(f, flat):
    value, grad = f(flat.copy())
    assert np.isfinite(value)
    assert np.all(np.isfinite(grad))
    fd = central_differences(f, flat)
    rel = np.linalg.norm(grad - fd) / np.linalg.norm(fd)
    assert rel < FD_RTOL, f"relative error {rel:.3g}"
    # and entry by entry, relative to the largest entry
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=FD_RTOL * np.max(np.abs(fd)))


def assert_engines_agree(layout, flat, X, Y, hidden, output):
    value, grad = cython_loss_grad(layout, X, Y, hidden, output)(flat)
    ref_value, ref_grad = reference_loss_grad(layout, X, Y, hidden, output)(flat)
    assert value == pytest.approx(ref_value, rel=AGREE_RTOL)
    np.testing.assert_allclose(grad, ref_grad, rtol=AGREE_RTOL,
                               atol=AGREE_RTOL * np.max(np.abs(ref_grad)))


ENGINES = {"cython": cython_loss_grad, "numpy": reference_loss_grad}


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", sorted(HIDDEN_ACTIVATIONS))
def test_two_hidden_layer_gradient_matches_central_differences(engine, hidden, output):
    sizes = [5, 7, 3, N_OUTPUTS[output]]
    layout, flat, X, Y = make_problem(sizes, hidden, output, 11, ("2h", hidden, output))
    assert_gradient_matches_differences(ENGINES[engine](layout, X, Y, hidden, output), flat)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", sorted(HIDDEN_ACTIVATIONS))
def test_two_hidden_layer_cython_and_reference_agree(hidden, output):
    sizes = [5, 7, 3, N_OUTPUTS[output]]
    layout, flat, X, Y = make_problem(sizes, hidden, output, 11, ("2h", hidden, output))
    assert_engines_agree(layout, flat, X, Y, hidden, output)


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("n_samples", [1, 13])
def test_no_hidden_layer_gradient_matches_central_differences(engine, output, n_samples):
    sizes = [5, N_OUTPUTS[output]]
    layout, flat, X, Y = make_problem(sizes, "relu", output, n_samples,
                                      ("0h", output, n_samples))
    assert_gradient_matches_differences(ENGINES[engine](layout, X, Y, "relu", output), flat)
    assert_engines_agree(layout, flat, X, Y, "relu", output)


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("output", OUTPUTS)
def test_width_one_layers_gradient_matches_central_differences(engine, output):
    sizes = [1, 1, 1, N_OUTPUTS[output]]
    layout, flat, X, Y = make_problem(sizes, "tanh", output, 7, ("w1", output))
    assert_gradient_matches_differences(ENGINES[engine](layout, X, Y, "tanh", output), flat)
    assert_engines_agree(layout, flat, X, Y, "tanh", output)


@pytest.mark.parametrize("output", OUTPUTS)
def test_l2_penalty_adds_alpha_w_over_n_to_the_weights_only(output):
    # The gradient with alpha minus the gradient without it is exactly (alpha / n) W on
    # the weights, and zero on the biases; the loss grows by 0.5 alpha ||W||^2 / n.
    sizes = [5, 7, 3, N_OUTPUTS[output]]
    n = 11
    layout, flat, X, Y = make_problem(sizes, "tanh", output, n, ("l2", output))
    results = {}
    for alpha in (0.0, ALPHA):
        grads = np.empty(layout.n_params)
        value = kernel_loss_and_gradient(flat, grads, X, Y, layout, "tanh", output, alpha)
        results[alpha] = value, grads
    w = flat[:layout.n_weights]
    diff = results[ALPHA][1] - results[0.0][1]
    np.testing.assert_allclose(diff[:layout.n_weights], ALPHA / n * w, rtol=1e-9, atol=1e-14)
    np.testing.assert_array_equal(diff[layout.n_weights:], 0.0)
    assert results[ALPHA][0] - results[0.0][0] == pytest.approx(0.5 * ALPHA * w @ w / n,
                                                                rel=1e-9)


# ---- against the reference, in float32 and float64 ---------------------------------

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

    value = kernel_loss_and_gradient(flat, grads, X, Y, layout, "tanh", output, alpha)

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
        kernel_loss_and_gradient(params, np.zeros_like(params),
                                 np.asfortranarray(np.ones((5, 4), dtype)),
                                 np.zeros((5, 2), dtype), layout, "relu", "identity", 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_weights_and_csr_input_match_the_reference(dtype):
    rng = rng_for("lag-weights-csr", dtype)
    sizes, output, alpha = [9, 5, 3], "softmax", 0.1
    layout, flat = random_network(rng, sizes, dtype, scale=0.5)
    X, Y = random_data(rng, 23, sizes, output, dtype)
    X[X < 0.3] = 0
    weights = rng.uniform(0, 2, 23).astype(dtype)
    coefs, intercepts = layout.unpack(flat.astype(np.float64))
    want_value, cg, ig = reference.loss_and_gradient(
        coefs, intercepts, X.astype(np.float64), Y.astype(np.float64), "relu", output,
        "log_loss", alpha, weights.astype(np.float64))
    want_grad = layout.pack(cg, ig, np.float64)
    for data in (X, scipy.sparse.csr_matrix(X)):
        grads = np.full(layout.n_params, np.nan, dtype)
        value = kernel_loss_and_gradient(flat, grads, data, Y, layout, "relu", output, alpha,
                                         weights)
        assert value == pytest.approx(want_value, rel=10 * RTOL[dtype])
        np.testing.assert_allclose(grads, want_grad, rtol=10 * RTOL[dtype],
                                   atol=10 * RTOL[dtype] * np.max(np.abs(want_grad)))


def test_a_non_finite_loss_gives_a_nan_gradient():
    layout = ParameterLayout([3, 4, 2])
    flat = np.ones(layout.n_params)
    flat[0] = np.inf
    grads = np.zeros(layout.n_params)
    value = kernel_loss_and_gradient(flat, grads, np.ones((5, 3)), np.ones((5, 2)), layout,
                                     "relu", "identity", 0.0)
    assert not np.isfinite(value)
    assert np.isnan(grads).all()
