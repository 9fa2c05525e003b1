"""The BLAS door (fastmlp/_kernels/blas.pyx): row-major gemm against NumPy, every
transpose, beta, odd shape and memory layout."""
import numpy as np
import pytest

from fastmlp._kernels import blas

from helpers import DTYPES, assert_within_sum_bound, non_c_contiguous, rng_for

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

    blas.gemm_twin(trans_a, trans_b, alpha, a, b, beta, c)

    assert c.dtype == dtype
    assert_within_sum_bound(c, want, magnitude, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_with_zero_beta_ignores_nan_in_c(dtype):
    # The forward pass writes into np.empty buffers with beta = 0: BLAS must not read C.
    rng = rng_for("gemm-nan", dtype)
    a = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal((3, 7)).astype(dtype)
    c = np.full((5, 7), np.nan, dtype=dtype)
    blas.gemm_twin(False, False, 1.0, a, b, 0.0, c)
    assert_within_sum_bound(c, a.astype(np.float64) @ b, np.abs(a) @ np.abs(b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_with_empty_inner_dimension_scales_c_by_beta(dtype):
    a = np.empty((3, 0), dtype=dtype)
    b = np.empty((0, 4), dtype=dtype)
    c = np.arange(12, dtype=dtype).reshape(3, 4)
    want = 0.5 * c
    blas.gemm_twin(False, False, 2.0, a, b, 0.5, c)
    np.testing.assert_array_equal(c, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_accepts_read_only_inputs(dtype):
    a = np.ones((2, 3), dtype=dtype)
    b = np.ones((3, 4), dtype=dtype)
    a.flags.writeable = False
    b.flags.writeable = False
    c = np.zeros((2, 4), dtype=dtype)
    blas.gemm_twin(False, False, 1.0, a, b, 0.0, c)
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
        blas.gemm_twin(trans_a, trans_b, 1.0, np.ones(a_shape), np.ones(b_shape), 0.0, c)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", ["a", "b", "c"])
@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_gemm_rejects_non_c_contiguous_arrays(dtype, bad, layout):
    arrays = {"a": np.ones((3, 4), dtype), "b": np.ones((4, 5), dtype),
              "c": np.zeros((3, 5), dtype)}
    arrays[bad] = non_c_contiguous(arrays[bad], layout)
    before = arrays["c"].copy()
    with pytest.raises(ValueError, match="contiguous"):
        blas.gemm_twin(False, False, 1.0, arrays["a"], arrays["b"], 0.0, arrays["c"])
    np.testing.assert_array_equal(arrays["c"], before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_rejects_mixed_dtypes(dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises((ValueError, TypeError)):
        blas.gemm_twin(False, False, 1.0, np.ones((2, 3), dtype), np.ones((3, 2), other),
                        0.0, np.zeros((2, 2), dtype))
