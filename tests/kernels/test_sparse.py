"""The CSR first-layer kernels (fastmlp/_kernels/sparse.pyx) against dense NumPy.

csr_rows_matmul:           Z[lo:hi] = X.toarray()[order[lo:hi]] @ W
csr_rows_transpose_matmul: dW[:, c0:c1] = X.toarray()[order[:rows]].T @ delta[:rows, c0:c1]

The reference is evaluated in float64 on the same (already rounded) inputs; the error
bound is rtol times the sum of |terms| (see assert_within_sum_bound). Outputs are filled
with a NaN sentinel first, so a row or column the kernel should write but skips shows up,
and so does one it should leave alone but touches.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastmlp._kernels import sparse

from helpers import DTYPES, assert_within_sum_bound, rng_for

INDEX_DTYPES = [np.int32, np.int64]
# (n_samples, n_features, n_out): one row, one feature, one output, and widths that are
# not multiples of any SIMD width.
SHAPES = [(1, 1, 1), (1, 7, 13), (13, 1, 7), (7, 13, 1), (37, 29, 129), (20, 300, 13)]
# How the stored entries of each row are laid out.
LAYOUTS = ["sorted", "unsorted", "duplicates"]
SENTINEL = np.nan


def make_csr(rng, n_samples, n_features, dtype, index_dtype, layout="sorted",
             density=0.3, empty_rows=True, kind=sp.csr_matrix):
    """A random CSR matrix with the exact index dtype asked for.

    layout "unsorted" shuffles the columns within each row; "duplicates" also repeats
    some columns (scipy sums them in toarray()). With empty_rows, about one row in
    four stores nothing.
    """
    indptr = [0]
    indices, data = [], []
    for _ in range(n_samples):
        count = 0 if empty_rows and rng.random() < 0.25 else rng.binomial(n_features, density)
        cols = rng.choice(n_features, size=count, replace=False)
        if layout == "duplicates" and count:
            cols = np.concatenate([cols, rng.choice(cols, size=1 + count // 2)])
        cols = np.sort(cols)
        if layout != "sorted":
            rng.shuffle(cols)
            if np.all(np.diff(cols) >= 0):
                cols = cols[::-1].copy()   # unsorted as soon as two columns differ
        indices.extend(cols)
        data.extend(rng.standard_normal(len(cols)))
        indptr.append(len(indices))
    X = kind((np.asarray(data, dtype=dtype), np.asarray(indices, dtype=np.int64),
              np.asarray(indptr, dtype=np.int64)), shape=(n_samples, n_features))
    # scipy may pick a smaller index dtype on construction: set the one under test.
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    assert X.indices.dtype == index_dtype and X.indptr.dtype == index_dtype
    assert X.data.dtype == dtype
    return X


def dense64(X):
    """X and |X| as float64 arrays; duplicates are summed in float64."""
    X64 = X.astype(np.float64)
    return X64.toarray(), abs(X64).toarray()


def forward_reference(X, order, W):
    Xd, Xabs = dense64(X)
    W64 = W.astype(np.float64)
    return Xd[order] @ W64, Xabs[order] @ np.abs(W64)


def gradient_reference(X, order, rows, delta):
    Xd, Xabs = dense64(X)
    d64 = delta[:rows].astype(np.float64)
    return Xd[order[:rows]].T @ d64, Xabs[order[:rows]].T @ np.abs(d64)


def column_slices(n_out, n_parts):
    """[c0, c1) slices that cover [0, n_out), as the training threads split the columns."""
    return [(n_out * p // n_parts, n_out * (p + 1) // n_parts) for p in range(n_parts)]


# ---- forward: Z = X[order] @ W -----------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_forward_matches_dense_product_of_ordered_rows(dtype, index_dtype, shape, layout):
    n_samples, n_features, n_out = shape
    rng = rng_for("forward", dtype, index_dtype, shape, layout)
    X = make_csr(rng, n_samples, n_features, dtype, index_dtype, layout)
    if layout == "unsorted" and X.nnz > n_samples:
        assert not X.has_sorted_indices
    if layout == "duplicates" and X.nnz:
        assert not X.has_canonical_format
    order = rng.permutation(n_samples)
    W = rng.standard_normal((n_features, n_out)).astype(dtype)
    Z = np.full((n_samples, n_out), SENTINEL, dtype=dtype)

    sparse.csr_rows_matmul_twin(X, order, 0, n_samples, W, Z)

    want, magnitude = forward_reference(X, order, W)
    assert_within_sum_bound(Z, want, magnitude, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_forward_row_shares_write_only_their_rows_and_assemble_the_product(dtype,
                                                                           index_dtype):
    rng = rng_for("forward-shares", dtype, index_dtype)
    X = make_csr(rng, 40, 23, dtype, index_dtype, "unsorted")
    # a minibatch of 17 samples starting at 11 in a longer epoch permutation: the
    # kernel gets order already offset to the minibatch
    epoch = rng.permutation(40)
    order = epoch[11:]
    W = rng.standard_normal((23, 7)).astype(dtype)
    Z = np.full((17, 7), SENTINEL, dtype=dtype)
    want, magnitude = forward_reference(X, order[:17], W)
    bounds = [0, 5, 6, 6, 12, 17]   # includes an empty share [6, 6)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sparse.csr_rows_matmul_twin(X, order, lo, hi, W, Z)
        assert_within_sum_bound(Z[:hi], want[:hi], magnitude[:hi], dtype)
        assert np.all(np.isnan(Z[hi:])), "rows after hi were touched"


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_leaves_rows_outside_lo_hi_untouched(dtype):
    rng = rng_for("forward-untouched", dtype)
    X = make_csr(rng, 9, 5, dtype, np.int32)
    W = rng.standard_normal((5, 4)).astype(dtype)
    Z = np.full((9, 4), SENTINEL, dtype=dtype)
    order = np.arange(9)
    sparse.csr_rows_matmul_twin(X, order, 3, 7, W, Z)
    assert np.all(np.isnan(Z[:3])) and np.all(np.isnan(Z[7:]))
    want, magnitude = forward_reference(X, order, W)
    assert_within_sum_bound(Z[3:7], want[3:7], magnitude[3:7], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_overwrites_empty_rows_with_zeros(dtype):
    # row 1 stores nothing; a sentinel must not survive there (no accumulation into Z)
    X = sp.csr_matrix((np.array([2.0, 3.0], dtype), np.array([0, 1]), np.array([0, 1, 1, 2])),
                      shape=(3, 2))
    W = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype)
    Z = np.full((3, 2), SENTINEL, dtype=dtype)
    sparse.csr_rows_matmul_twin(X, np.array([1, 0, 2]), 0, 3, W, Z)
    np.testing.assert_array_equal(Z, [[0, 0], [2, 4], [9, 12]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_forward_on_matrix_without_entries_gives_zeros(dtype, index_dtype):
    X = sp.csr_matrix((5, 3), dtype=dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    assert X.nnz == 0
    Z = np.full((5, 4), SENTINEL, dtype=dtype)
    sparse.csr_rows_matmul_twin(X, np.arange(5), 0, 5, np.ones((3, 4), dtype), Z)
    np.testing.assert_array_equal(Z, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_sums_duplicate_entries_like_toarray(dtype):
    # row 0 stores column 2 three times and column 0 once, in no particular order
    X = sp.csr_matrix((np.array([1.0, 0.5, 2.0, -4.0], dtype), np.array([2, 0, 2, 2]),
                       np.array([0, 4])), shape=(1, 3))
    assert not X.has_canonical_format
    W = np.array([[1.0, 10.0], [100.0, 1000.0], [0.25, 0.5]], dtype=dtype)
    Z = np.full((1, 2), SENTINEL, dtype=dtype)
    sparse.csr_rows_matmul_twin(X, np.array([0]), 0, 1, W, Z)
    np.testing.assert_array_equal(Z, X.toarray() @ W)   # exact: every term is a dyadic


def test_forward_accepts_csr_array_read_only_inputs_and_repeated_rows():
    rng = rng_for("forward-array")
    X = make_csr(rng, 6, 8, np.float64, np.int64, kind=sp.csr_array)
    order = np.array([5, 5, 0, 2, 5])   # a sample may appear twice (bootstrap)
    W = rng.standard_normal((8, 3))
    for a in (X.data, X.indices, X.indptr, order, W):
        a.flags.writeable = False
    Z = np.full((5, 3), SENTINEL)
    sparse.csr_rows_matmul_twin(X, order, 0, 5, W, Z)
    want, magnitude = forward_reference(X, order, W)
    assert_within_sum_bound(Z, want, magnitude, np.float64)


# ---- weight gradient: dW[:, c0:c1] = X[order[:rows]]^T @ delta[:, c0:c1] --------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradient_column_slices_assemble_the_dense_product(dtype, index_dtype, shape, layout):
    n_samples, n_features, n_out = shape
    rng = rng_for("gradient", dtype, index_dtype, shape, layout)
    X = make_csr(rng, n_samples, n_features, dtype, index_dtype, layout)
    order = rng.permutation(n_samples)
    delta = rng.standard_normal((n_samples, n_out)).astype(dtype)
    dW = np.full((n_features, n_out), SENTINEL, dtype=dtype)

    for c0, c1 in column_slices(n_out, 3):   # includes empty slices when n_out < 3
        sparse.csr_rows_transpose_matmul_twin(X, order, n_samples, delta, c0, c1, dW)
        assert np.all(np.isnan(dW[:, c1:])), "columns after c1 were touched"

    want, magnitude = gradient_reference(X, order, n_samples, delta)
    assert_within_sum_bound(dW, want, magnitude, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_gradient_of_a_short_minibatch_uses_only_its_rows(dtype, index_dtype):
    # the last minibatch of an epoch: 5 rows of a 12-row delta buffer, order offset
    rng = rng_for("gradient-short", dtype, index_dtype)
    X = make_csr(rng, 30, 17, dtype, index_dtype, "duplicates")
    order = rng.permutation(30)[25:]
    delta = rng.standard_normal((12, 9)).astype(dtype)
    delta[5:] = SENTINEL     # rows past the minibatch must not be read
    dW = np.full((17, 9), SENTINEL, dtype=dtype)
    sparse.csr_rows_transpose_matmul_twin(X, order, 5, delta, 2, 7, dW)
    want, magnitude = gradient_reference(X, order, 5, delta)
    assert_within_sum_bound(dW[:, 2:7], want[:, 2:7], magnitude[:, 2:7], dtype)
    assert np.all(np.isnan(dW[:, :2])) and np.all(np.isnan(dW[:, 7:]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_zeroes_features_no_sample_uses(dtype):
    # only feature 1 is stored; the other rows of the slice must become 0, not keep garbage
    X = sp.csr_matrix((np.array([2.0], dtype), np.array([1]), np.array([0, 0, 1])),
                      shape=(2, 4))
    delta = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=dtype)
    dW = np.full((4, 3), SENTINEL, dtype=dtype)
    sparse.csr_rows_transpose_matmul_twin(X, np.array([0, 1]), 2, delta, 0, 2, dW)
    np.testing.assert_array_equal(dW[:, :2], [[0, 0], [8, 10], [0, 0], [0, 0]])
    assert np.all(np.isnan(dW[:, 2]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_gradient_on_matrix_without_entries_zeroes_the_slice(dtype, index_dtype):
    X = sp.csr_matrix((4, 6), dtype=dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    assert X.nnz == 0
    delta = np.ones((4, 5), dtype)
    dW = np.full((6, 5), SENTINEL, dtype=dtype)
    sparse.csr_rows_transpose_matmul_twin(X, np.arange(4), 4, delta, 1, 4, dW)
    np.testing.assert_array_equal(dW[:, 1:4], 0)
    assert np.all(np.isnan(dW[:, [0, 4]]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_with_zero_rows_zeroes_the_slice(dtype):
    X = make_csr(rng_for("gradient-no-rows", dtype), 3, 4, dtype, np.int32)
    dW = np.full((4, 2), SENTINEL, dtype=dtype)
    sparse.csr_rows_transpose_matmul_twin(X, np.empty(0, np.intp), 0, np.empty((0, 2), dtype),
                                           0, 2, dW)
    np.testing.assert_array_equal(dW, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_sums_duplicate_entries_like_toarray(dtype):
    X = sp.csr_matrix((np.array([1.0, 0.5, 2.0, -4.0], dtype), np.array([2, 0, 2, 2]),
                       np.array([0, 4])), shape=(1, 3))
    delta = np.array([[1.0, 8.0]], dtype=dtype)
    dW = np.full((3, 2), SENTINEL, dtype=dtype)
    sparse.csr_rows_transpose_matmul_twin(X, np.array([0]), 1, delta, 0, 2, dW)
    np.testing.assert_array_equal(dW, X.toarray().T @ delta)   # exact: dyadic terms


def test_empty_row_and_column_ranges_write_nothing():
    X = make_csr(rng_for("empty-ranges"), 4, 3, np.float64, np.int32)
    Z = np.full((4, 2), SENTINEL)
    sparse.csr_rows_matmul_twin(X, np.arange(4), 2, 2, np.ones((3, 2)), Z)
    dW = np.full((3, 2), SENTINEL)
    sparse.csr_rows_transpose_matmul_twin(X, np.arange(4), 4, np.ones((4, 2)), 1, 1, dW)
    assert np.all(np.isnan(Z)) and np.all(np.isnan(dW))


# ---- error paths of the twins --------------------------------------------------------

def forward_args(dtype=np.float64):
    """Valid arguments of csr_rows_matmul_twin: X (6 x 4), order, lo, hi, W (4 x 3), Z (6 x 3)."""
    X = make_csr(rng_for("args", dtype), 6, 4, dtype, np.int32, empty_rows=False)
    return dict(X=X, order=np.arange(6), lo=0, hi=6, W=np.ones((4, 3), dtype),
                Z=np.full((6, 3), SENTINEL, dtype))


def gradient_args(dtype=np.float64):
    """Valid arguments of csr_rows_transpose_matmul_twin: delta (6 x 3), dW (4 x 3)."""
    X = make_csr(rng_for("args", dtype), 6, 4, dtype, np.int32, empty_rows=False)
    return dict(X=X, order=np.arange(6), rows=6, delta=np.ones((6, 3), dtype), c0=0, c1=3,
                dW=np.full((4, 3), SENTINEL, dtype))


def call_forward(a):
    sparse.csr_rows_matmul_twin(a["X"], a["order"], a["lo"], a["hi"], a["W"], a["Z"])


def call_gradient(a):
    sparse.csr_rows_transpose_matmul_twin(a["X"], a["order"], a["rows"], a["delta"],
                                           a["c0"], a["c1"], a["dW"])


def other(dtype):
    return np.float32 if dtype == np.float64 else np.float64


def mixed_index_dtypes(X):
    X = X.copy()
    X.indices = X.indices.astype(np.int64)
    return X


# Each case: (name, function of the valid arguments that breaks them, exception, message).
FORWARD_ERRORS = [
    ("csc", lambda a: a.update(X=a["X"].tocsc()), TypeError, "CSR"),
    ("dense X", lambda a: a.update(X=a["X"].toarray()), TypeError, "CSR"),
    ("W dtype", lambda a: a.update(W=a["W"].astype(other(a["W"].dtype))), TypeError, "dtype"),
    ("Z dtype", lambda a: a.update(Z=a["Z"].astype(other(a["Z"].dtype))), TypeError, "dtype"),
    ("int data", lambda a: a.update(X=a["X"].astype(np.int64), W=np.ones((4, 3), np.int64),
                                    Z=np.zeros((6, 3), np.int64)), TypeError, "dtype"),
    ("index dtypes differ", lambda a: a.update(X=mixed_index_dtypes(a["X"])), TypeError,
     "int32 or int64"),
    ("W fortran", lambda a: a.update(W=np.asfortranarray(a["W"])), ValueError, "contiguous"),
    ("Z fortran", lambda a: a.update(Z=np.asfortranarray(a["Z"])), ValueError, "contiguous"),
    ("Z strided", lambda a: a.update(Z=np.full((6, 6), SENTINEL, a["Z"].dtype)[:, ::2]),
     ValueError, "contiguous"),
    ("W rows", lambda a: a.update(W=np.ones((5, 3), a["W"].dtype)), ValueError, "shapes"),
    ("Z cols", lambda a: a.update(Z=np.zeros((6, 2), a["Z"].dtype)), ValueError, "shapes"),
    ("W 1-D", lambda a: a.update(W=np.ones(4, a["W"].dtype)), ValueError, "2-D"),
    ("hi past Z", lambda a: a.update(Z=np.zeros((5, 3), a["Z"].dtype)), ValueError,
     "lo <= hi"),
    ("lo > hi", lambda a: a.update(lo=4, hi=3), ValueError, "lo <= hi"),
    ("lo negative", lambda a: a.update(lo=-1), ValueError, "lo <= hi"),
    ("order short", lambda a: a.update(order=np.arange(5)), ValueError, "entries"),
    ("order too big", lambda a: a.update(order=np.array([0, 1, 2, 3, 4, 6])), ValueError,
     r"\[0, 6\)"),
    ("order negative", lambda a: a.update(order=np.array([0, 1, -1, 3, 4, 5])), ValueError,
     r"\[0, 6\)"),
    ("order float", lambda a: a.update(order=np.arange(6.0)), TypeError, "integer"),
    ("order 2-D", lambda a: a.update(order=np.arange(6).reshape(2, 3)), TypeError, "1-D"),
]

GRADIENT_ERRORS = [
    ("csc", lambda a: a.update(X=a["X"].tocsc()), TypeError, "CSR"),
    ("coo", lambda a: a.update(X=a["X"].tocoo()), TypeError, "CSR"),
    ("delta dtype", lambda a: a.update(delta=a["delta"].astype(other(a["delta"].dtype))),
     TypeError, "dtype"),
    ("dW dtype", lambda a: a.update(dW=a["dW"].astype(other(a["dW"].dtype))), TypeError,
     "dtype"),
    ("delta fortran", lambda a: a.update(delta=np.asfortranarray(a["delta"])), ValueError,
     "contiguous"),
    ("dW fortran", lambda a: a.update(dW=np.asfortranarray(a["dW"])), ValueError,
     "contiguous"),
    ("dW rows", lambda a: a.update(dW=np.zeros((5, 3), a["dW"].dtype)), ValueError, "shapes"),
    ("dW cols", lambda a: a.update(dW=np.zeros((4, 2), a["dW"].dtype)), ValueError, "shapes"),
    ("rows past delta", lambda a: a.update(rows=7, order=np.arange(7) % 6), ValueError,
     "rows"),
    ("rows negative", lambda a: a.update(rows=-1), ValueError, "rows"),
    ("c0 > c1", lambda a: a.update(c0=2, c1=1), ValueError, "c0 <= c1"),
    ("c1 past n_out", lambda a: a.update(c1=4), ValueError, "c0 <= c1"),
    ("c0 negative", lambda a: a.update(c0=-1), ValueError, "c0 <= c1"),
    ("order short", lambda a: a.update(order=np.arange(5)), ValueError, "entries"),
    ("order too big", lambda a: a.update(order=np.array([0, 1, 2, 3, 4, 6])), ValueError,
     r"\[0, 6\)"),
    ("order negative", lambda a: a.update(order=np.array([-6, 1, 2, 3, 4, 5])), ValueError,
     r"\[0, 6\)"),
]


# twin: (its arguments, its call, the output it must leave untouched when it refuses)
TWINS = {"forward": (forward_args, call_forward, "Z"),
         "gradient": (gradient_args, call_gradient, "dW")}
BAD_ARGUMENTS = ([("forward", *case) for case in FORWARD_ERRORS]
                 + [("gradient", *case) for case in GRADIENT_ERRORS])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("twin, name, breaks, error, match", BAD_ARGUMENTS,
                         ids=[f"{case[0]}-{case[1]}" for case in BAD_ARGUMENTS])
def test_twins_reject_bad_arguments_and_write_nothing(dtype, twin, name, breaks, error,
                                                      match):
    make_args, call, output = TWINS[twin]
    a = make_args(dtype)
    breaks(a)
    before = np.array(a[output], copy=True)
    with pytest.raises(error, match=match):
        call(a)
    np.testing.assert_array_equal(a[output], before)


def test_order_entries_past_the_used_ones_are_not_checked():
    # order is offset into an epoch permutation: only order[lo:hi] / order[:rows] is read,
    # so an out-of-range entry after them is neither refused nor read
    a = forward_args()
    a.update(order=np.array([5, 3, 0, 4, 1, 2, 99]))
    call_forward(a)
    truncated = dict(a, order=a["order"][:6], Z=np.full_like(a["Z"], SENTINEL))
    call_forward(truncated)
    np.testing.assert_array_equal(a["Z"], truncated["Z"])
    want, magnitude = forward_reference(a["X"], a["order"][:6], a["W"])
    assert_within_sum_bound(a["Z"], want, magnitude, np.float64)

    g = gradient_args()
    g.update(order=np.array([4, 0, 2, 99]), rows=3)
    call_gradient(g)
    truncated = dict(g, order=g["order"][:3], dW=np.full_like(g["dW"], SENTINEL))
    call_gradient(truncated)
    np.testing.assert_array_equal(g["dW"], truncated["dW"])
    want, magnitude = gradient_reference(g["X"], g["order"], 3, g["delta"])
    assert_within_sum_bound(g["dW"], want, magnitude, np.float64)


@pytest.mark.parametrize("corrupt, match", [
    (lambda X: setattr(X, "indices", np.array([0, 1, 9, 2] + [0] * (X.nnz - 4), np.int32)),
     "column indices"),
    (lambda X: setattr(X, "indptr", X.indptr[::-1].copy()), "CSR structure"),
])
def test_twins_reject_corrupt_csr_structure(corrupt, match):
    a = forward_args()
    assert a["X"].nnz >= 4
    corrupt(a["X"])
    with pytest.raises(ValueError, match=match):
        call_forward(a)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("hidden", [(7, 3), (2,)])
# 3 threads on a 2-core machine: fastmlp's note that it uses 2 is expected here
@pytest.mark.filterwarnings("ignore:n_threads=.* but this process may run:UserWarning")
def test_fit_on_csr_equals_fit_on_the_dense_array(n_threads, hidden):
    # the sparse first layer, on every team size (threads with no unit of a layer too)
    import warnings

    import scipy.sparse

    from fastmlp import MLPClassifier
    from fastmlp.exceptions import ConvergenceWarning
    rng = np.random.default_rng(7)
    dense = rng.normal(size=(60, 9)) * (rng.random((60, 9)) < 0.3)
    y = rng.integers(0, 3, 60)
    models = {}
    for name, X in (("dense", dense), ("csr", scipy.sparse.csr_matrix(dense))):
        model = MLPClassifier(hidden, max_iter=4, batch_size=16, random_state=0,
                              n_threads=n_threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models[name] = model.fit(X, y)
    for a, b in zip(models["csr"].coefs_ + models["csr"].intercepts_,
                    models["dense"].coefs_ + models["dense"].intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(models["csr"].loss_curve_, models["dense"].loss_curve_,
                               rtol=1e-10)
