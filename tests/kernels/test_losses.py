"""The loss kernel (fastmlp/_kernels/losses.pyx.tp) against the NumPy reference, for
every loss of the registry: the summed loss, the output delta and its column sums."""
import numpy as np
import pytest

from fastmlp import reference
from fastmlp._engine.registry import LOSS_FOR_OUTPUT, LOSSES
from fastmlp._kernels import losses

from helpers import (
    DTYPES,
    OUTPUTS,
    RTOL,
    SHAPES,
    assert_within_sum_bound,
    non_c_contiguous,
    predictions_and_targets,
    rng_for,
)


def test_every_loss_pairs_with_an_output_activation_and_has_a_reference_twin():
    assert sorted(LOSS_FOR_OUTPUT.values()) == sorted(LOSSES)
    y = np.array([[1.0, 0.0]])
    for name in LOSSES:
        assert np.isfinite(reference.per_sample_losses(y, np.array([[0.6, 0.4]]), name)).all()


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

    total = losses.loss_delta_twin(out, y, bias_grad, LOSSES[loss].code, scale)

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
    total = losses.loss_delta_twin(out, y, np.empty(3, dtype), LOSSES["squared_error"].code,
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
        total = losses.loss_delta_twin(out, y, bias_grad, LOSSES["log_loss"].code, 1.0)
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
    total = losses.loss_delta_twin(out, y, np.empty(3, dtype), LOSSES["binary_log_loss"].code,
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
    total = losses.loss_delta_twin(y.copy(), y, np.empty(3, dtype), LOSSES[loss].code, 1.0)
    assert 0 <= total <= 10 * np.finfo(dtype).eps


def test_loss_delta_rejects_disagreeing_shapes():
    with pytest.raises(ValueError, match="disagree"):
        losses.loss_delta_twin(np.ones((3, 4)), np.ones((3, 5)), np.ones(4), 0, 1.0)
    with pytest.raises(ValueError, match="disagree"):
        losses.loss_delta_twin(np.ones((3, 4)), np.ones((3, 4)), np.ones(5), 0, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", ["out", "y"])
def test_loss_delta_rejects_non_c_contiguous_arrays(dtype, bad):
    arrays = {"out": np.full((3, 4), 0.25, dtype), "y": np.zeros((3, 4), dtype)}
    arrays[bad] = non_c_contiguous(arrays[bad], "fortran")
    with pytest.raises(ValueError, match="contiguous"):
        losses.loss_delta_twin(arrays["out"], arrays["y"], np.zeros(4, dtype),
                                LOSSES["log_loss"].code, 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("output", OUTPUTS)
def test_label_smoothing_is_the_loss_and_delta_of_the_smoothed_targets(dtype, shape,
                                                                       output):
    # In the kernel, each target is smoothed as it is read: (1 - e) y + e / K, K the
    # softmax's outputs or 2 per logistic output; the regression losses ignore it.
    rng = rng_for("smoothed-loss", dtype, shape, output)
    loss, e = LOSS_FOR_OUTPUT[output], 0.1
    p, y = predictions_and_targets(rng, shape, output, dtype)
    smoothed = reference.smoothed_targets(y, loss, e)
    if loss in ("squared_error", "poisson"):
        assert smoothed is y
    else:
        classes = shape[1] if loss == "log_loss" else 2
        np.testing.assert_allclose(smoothed, (1 - e) * y + e / classes, rtol=RTOL[dtype])
    scale = 1.0 / shape[0]
    want_delta = (p.astype(np.float64) - smoothed) * scale / (
        shape[1] if loss == "squared_error" else 1)
    out = p.copy()
    bias_grad = np.empty(shape[1], dtype=dtype)

    total = losses.loss_delta_twin(out, y, bias_grad, LOSSES[loss].code, scale,
                                   smoothing=e)

    np.testing.assert_allclose(total, reference.per_sample_loss_sum(smoothed, p, loss),
                               rtol=RTOL[dtype])
    assert_within_sum_bound(out, want_delta, np.abs(want_delta) + scale, dtype)
    assert_within_sum_bound(bias_grad, want_delta.sum(axis=0),
                            (np.abs(want_delta) + scale).sum(axis=0), dtype)


def test_the_reference_smooths_over_the_classes_the_kernel_table_names():
    # the table (losses.pyx.tp) and the reference's rule name the same classes
    for name, loss in LOSSES.items():
        assert loss.smoothing_classes == {"log_loss": "cols", "binary_log_loss": 2}.get(name)
        assert (name in reference.SMOOTHING_CLASSES) == (loss.smoothing_classes is not None)
