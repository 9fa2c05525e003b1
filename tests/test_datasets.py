"""Tests for fastmlp.datasets: IDX readers, MNIST loaders, synthetic digits."""

import gzip
import os
import struct

import numpy as np
import pytest

from fastmlp import datasets
from fastmlp.datasets import load_fashion_mnist, load_idx, load_mnist, make_digits

IDX_TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}

MNIST_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_bytes(array):
    """Encode ``array`` as an IDX file, independently of the reader."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_TYPE_CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_file(path, data, compress=False):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_fake_mnist(directory, n_train=6, n_test=4, compress=False, seed=0):
    """Write four tiny MNIST-style files; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    # Make sure the extremes of the [0, 1] scaling are exercised.
    arrays["train-images-idx3-ubyte"][0, 0, :2] = [0, 255]
    for name, array in arrays.items():
        filename = name + ".gz" if compress else name
        write_file(directory / filename, idx_bytes(array), compress)
    return arrays


# ---------------------------------------------------------------------------
# load_idx
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (2, 1, 3, 2)])
@pytest.mark.parametrize("dtype", list(IDX_TYPE_CODES))
def test_load_idx_round_trip(tmp_path, dtype, shape, compress):
    rng = np.random.default_rng(42)
    if dtype.kind == "f":
        expected = rng.normal(0, 1000, shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        expected = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    path = write_file(tmp_path / "data.idx", idx_bytes(expected), compress)

    result = load_idx(path)

    assert result.dtype == dtype
    assert result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, expected)
    assert result.flags.writeable


def test_load_idx_decodes_big_endian_bytes(tmp_path):
    # Hand-written bytes, so a reader and writer sharing the same
    # byte-order mistake cannot pass together.
    data = bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    path = write_file(tmp_path / "int16.idx", data)
    np.testing.assert_array_equal(load_idx(path), [[258, -2]])


def test_load_idx_zero_length_dimension(tmp_path):
    path = write_file(tmp_path / "empty.idx", idx_bytes(np.zeros((0, 28), np.uint8)))
    result = load_idx(path)
    assert result.shape == (0, 28)
    assert result.dtype == np.uint8


def test_load_idx_detects_gzip_by_content_not_name(tmp_path):
    expected = np.arange(12, dtype=np.int32).reshape(3, 4)
    gz_without_suffix = write_file(tmp_path / "plain-name", idx_bytes(expected), True)
    raw_with_suffix = write_file(tmp_path / "named.gz", idx_bytes(expected), False)
    np.testing.assert_array_equal(load_idx(gz_without_suffix), expected)
    np.testing.assert_array_equal(load_idx(raw_with_suffix), expected)


def test_load_idx_accepts_str_path(tmp_path):
    path = write_file(tmp_path / "a.idx", idx_bytes(np.array([1, 2, 3], np.uint8)))
    np.testing.assert_array_equal(load_idx(str(path)), [1, 2, 3])


GOOD = idx_bytes(np.arange(6, dtype=np.int16).reshape(2, 3))


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated IDX header"),
        (b"\x00\x00\x08", "truncated IDX header"),
        (GOOD[:9], "truncated IDX header"),  # dimension sizes cut short
        (b"\x01" + GOOD[1:], "magic"),
        (GOOD[:1] + b"\x07" + GOOD[2:], "magic"),
        (GOOD[:2] + b"\x0a" + GOOD[3:], "type code 0x0a"),
        (GOOD[:3] + b"\x00", "zero dimensions"),
        (GOOD[:-1], "truncated"),
        (GOOD[:-2], "needs 12 bytes after the header, found 10"),
        (GOOD + b"\x00", "too long"),
        (GOOD + b"\x00\x00", "needs 12 bytes after the header, found 14"),
    ],
    ids=[
        "empty", "short-magic", "short-dims", "bad-magic-byte0", "bad-magic-byte1",
        "bad-type-code", "zero-dims", "truncated-by-1", "truncated-by-2",
        "trailing-1", "trailing-2",
    ],
)
def test_load_idx_rejects_malformed_file(tmp_path, data, message, compress):
    path = write_file(tmp_path / "bad-file.idx", data, compress)
    with pytest.raises(ValueError, match=message) as excinfo:
        load_idx(path)
    assert "bad-file.idx" in str(excinfo.value)


def test_load_idx_good_sample_is_valid(tmp_path):
    # The malformed cases above are derived from GOOD; check GOOD itself loads,
    # so that they fail for the intended reason.
    path = write_file(tmp_path / "good.idx", GOOD)
    np.testing.assert_array_equal(load_idx(path), [[0, 1, 2], [3, 4, 5]])


def _gzip(data):
    # mtime=0: the same bytes on every run.
    return gzip.compress(data, mtime=0)


def _corrupt_gzip_payload():
    compressed = bytearray(_gzip(GOOD))
    # Flip bits in the deflate stream (after the 10-byte gzip header).
    compressed[12] ^= 0xFF
    compressed[13] ^= 0xFF
    return bytes(compressed)


@pytest.mark.parametrize(
    "data",
    [
        _gzip(GOOD)[:-6],  # stream stops before its trailer
        _gzip(GOOD)[:12],  # stream stops inside the deflate data
        _gzip(GOOD)[:-8] + b"\x00\x00\x00\x00" + _gzip(GOOD)[-4:],  # bad CRC
        _corrupt_gzip_payload(),
        b"\x1f\x8b" + b"not a gzip stream at all",
    ],
    ids=["truncated-trailer", "truncated-stream", "bad-crc", "flipped-bits", "garbage"],
)
def test_load_idx_rejects_corrupt_gzip(tmp_path, data):
    path = write_file(tmp_path / "broken.gz", data)
    with pytest.raises(ValueError, match="corrupt gzip stream") as excinfo:
        load_idx(path)
    assert "broken.gz" in str(excinfo.value)


def test_load_idx_missing_file(tmp_path):
    path = tmp_path / "no-such-file-idx1-ubyte"
    with pytest.raises(FileNotFoundError, match="no-such-file-idx1-ubyte"):
        load_idx(path)


# ---------------------------------------------------------------------------
# load_mnist
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_load_mnist_fake_directory(tmp_path, compress):
    arrays = write_fake_mnist(tmp_path, n_train=6, n_test=4, compress=compress)

    X_train, y_train, X_test, y_test = load_mnist(tmp_path)

    assert X_train.shape == (6, 784) and X_test.shape == (4, 784)
    assert y_train.shape == (6,) and y_test.shape == (4,)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    # Row-major flattening of each image, divided by 255.
    np.testing.assert_allclose(
        X_train, arrays["train-images-idx3-ubyte"].reshape(6, 784) / 255.0, rtol=1e-6
    )
    np.testing.assert_allclose(
        X_test, arrays["t10k-images-idx3-ubyte"].reshape(4, 784) / 255.0, rtol=1e-6
    )
    assert X_train[0, 0] == 0.0 and X_train[0, 1] == 1.0
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_mixed_suffixes(tmp_path):
    arrays = write_fake_mnist(tmp_path, compress=False)
    # Replace two of the files by gzip-compressed ones with a .gz suffix.
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        os.remove(tmp_path / name)
        write_file(tmp_path / (name + ".gz"), idx_bytes(arrays[name]), compress=True)

    X_train, y_train, X_test, y_test = load_mnist(str(tmp_path))

    np.testing.assert_array_equal(
        np.rint(X_train * 255).astype(np.uint8).reshape(-1, 28, 28),
        arrays["train-images-idx3-ubyte"],
    )
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_prefers_uncompressed_when_both_exist(tmp_path):
    arrays = write_fake_mnist(tmp_path, compress=False)
    other = np.full(6, 9, np.uint8)
    write_file(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(other), compress=True)
    _, y_train, _, _ = load_mnist(tmp_path)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])


@pytest.mark.parametrize("missing", MNIST_NAMES)
def test_load_mnist_missing_file_names_file_and_directory(tmp_path, missing):
    write_fake_mnist(tmp_path, compress=True)
    os.remove(tmp_path / (missing + ".gz"))
    with pytest.raises(FileNotFoundError) as excinfo:
        load_mnist(tmp_path)
    assert missing in str(excinfo.value)
    assert str(tmp_path) in str(excinfo.value)


@pytest.mark.parametrize("split", ["train", "t10k"])
def test_load_mnist_count_mismatch(tmp_path, split):
    write_fake_mnist(tmp_path)
    labels = f"{split}-labels-idx1-ubyte"
    write_file(tmp_path / labels, idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match=r"holds \d+ images but .* holds 3 labels"):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((6, 27, 28), np.uint8),
        np.zeros((6, 784), np.uint8),
        np.zeros((6, 28, 28), np.float32),
    ],
    ids=["27x28", "flat", "float32"],
)
def test_load_mnist_rejects_non_28x28_uint8_images(tmp_path, images):
    write_fake_mnist(tmp_path)
    write_file(tmp_path / "train-images-idx3-ubyte", idx_bytes(images))
    with pytest.raises(ValueError, match="28, 28"):
        load_mnist(tmp_path)


def test_load_mnist_rejects_2d_labels(tmp_path):
    write_fake_mnist(tmp_path)
    write_file(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros((4, 1), np.uint8)))
    with pytest.raises(ValueError, match="labels of shape"):
        load_mnist(tmp_path)


# ---------------------------------------------------------------------------
# load_fashion_mnist
# ---------------------------------------------------------------------------


def test_fashion_mnist_default_directory_constant():
    assert datasets.FASHION_MNIST_DIR == "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(
    not os.path.isdir(datasets.FASHION_MNIST_DIR),
    reason=f"Fashion-MNIST not installed in {datasets.FASHION_MNIST_DIR} "
    "(apt-get install dataset-fashion-mnist)",
)
def test_load_fashion_mnist_real_data():
    X_train, y_train, X_test, y_test = load_fashion_mnist()

    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for X in (X_train, X_test):
        assert X.min() == 0.0 and X.max() == 1.0
    # Fashion-MNIST is exactly balanced: 6000 / 1000 images per class.
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))


def test_load_fashion_mnist_explicit_directory(tmp_path):
    arrays = write_fake_mnist(tmp_path, compress=True)
    _, y_train, X_test, _ = load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    assert X_test.shape == (4, 784)


def test_load_fashion_mnist_missing_default_says_how_to_install(tmp_path, monkeypatch):
    missing = tmp_path / "not-installed"
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", str(missing))
    with pytest.raises(FileNotFoundError) as excinfo:
        load_fashion_mnist()
    assert "apt-get install dataset-fashion-mnist" in str(excinfo.value)
    assert str(missing) in str(excinfo.value)


def test_load_fashion_mnist_incomplete_default_says_how_to_install(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path)
    os.remove(tmp_path / "t10k-images-idx3-ubyte")
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as excinfo:
        load_fashion_mnist()
    assert "t10k-images-idx3-ubyte" in str(excinfo.value)
    assert "apt-get install dataset-fashion-mnist" in str(excinfo.value)


# ---------------------------------------------------------------------------
# make_digits
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return make_digits(3000, random_state=0)


def test_make_digits_shape_dtype_range(digits):
    X, y = digits
    assert X.shape == (3000, 784) and X.dtype == np.float32
    assert y.shape == (3000,) and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert set(np.unique(y)) == set(range(10))
    assert X.flags.c_contiguous


def test_make_digits_look_like_ink_on_background(digits):
    X, _ = digits
    # Mostly dark background, a minority of bright stroke pixels, and every
    # image has a solid stroke (a thin short '1' has ~15 bright pixels).
    assert 0.6 < np.mean(X < 0.2) < 0.95
    assert 0.05 < np.mean(X > 0.5) < 0.3
    assert np.all(X.max(axis=1) > 0.7)
    assert np.all((X > 0.5).sum(axis=1) >= 10)


def test_make_digits_ink_follows_digit_shape(digits):
    X, y = digits
    ink = np.array([X[y == k].mean() for k in range(10)])
    # A '1' is a single stroke, an '8' two loops.
    assert ink.argmin() == 1
    assert ink[8] > 1.5 * ink[1]
    # A '0' is hollow in the middle, a '1' is not.
    centre = X.reshape(-1, 28, 28)[:, 12:16, 12:16].mean(axis=(1, 2))
    assert centre[y == 1].mean() > 2 * centre[y == 0].mean()


@pytest.mark.parametrize("n_samples", [1000, 1003, 7])
def test_make_digits_balanced_classes(n_samples):
    _, y = make_digits(n_samples, random_state=1)
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == n_samples
    assert counts.max() - counts.min() <= 1


def test_make_digits_labels_are_shuffled(digits):
    _, y = digits
    # Neither sorted nor cycling 0..9.
    assert np.any(np.diff(y) < 0)
    assert not np.array_equal(y, np.arange(len(y)) % 10)


def test_make_digits_deterministic_for_int_seed():
    X1, y1 = make_digits(200, random_state=123)
    X2, y2 = make_digits(200, random_state=123)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize(
    "make_rng", [np.random.default_rng, np.random.RandomState], ids=["Generator", "RandomState"]
)
def test_make_digits_accepts_generator_instances(make_rng):
    X1, y1 = make_digits(50, random_state=make_rng(5))
    X2, y2 = make_digits(50, random_state=make_rng(5))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    # The instance's state advances, so a second draw differs.
    rng = make_rng(5)
    X3, _ = make_digits(50, random_state=rng)
    X4, _ = make_digits(50, random_state=rng)
    assert not np.array_equal(X3, X4)


def test_make_digits_different_seeds_differ():
    X1, y1 = make_digits(200, random_state=1)
    X2, y2 = make_digits(200, random_state=2)
    assert not np.array_equal(y1, y2)
    assert np.abs(X1 - X2).mean() > 0.05


def test_make_digits_unseeded_calls_differ():
    X1, _ = make_digits(20)
    X2, _ = make_digits(20)
    assert not np.array_equal(X1, X2)


def test_make_digits_same_digit_varies(digits):
    X, y = digits
    ones = X[y == 1]
    # Random distortions: no two images of a class are the same.
    assert np.abs(ones[0] - ones[1]).mean() > 0.02
    assert len(np.unique(ones.round(2), axis=0)) == len(ones)


@pytest.mark.parametrize("n_samples", [0, -5, 2.5, "100", None, True])
def test_make_digits_rejects_bad_n_samples(n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        make_digits(n_samples)


def test_make_digits_accepts_numpy_integer():
    X, y = make_digits(np.int64(11), random_state=0)
    assert X.shape == (11, 784) and y.shape == (11,)


def test_make_digits_rejects_bad_random_state():
    with pytest.raises(ValueError, match="random_state"):
        make_digits(10, random_state="seed")


def _ridge_accuracy(X_train, y_train, X_test, y_test, alpha=10.0):
    """Accuracy of a one-vs-all least-squares linear classifier."""
    def design(X):
        return np.hstack([X, np.ones((len(X), 1), X.dtype)]).astype(np.float64)

    A = design(X_train)
    targets = np.eye(10)[y_train]
    W = np.linalg.solve(A.T @ A + alpha * np.eye(A.shape[1]), A.T @ targets)
    return np.mean((design(X_test) @ W).argmax(axis=1) == y_test)


def _centroid_accuracy(X_train, y_train, X_test, y_test):
    centroids = np.stack([X_train[y_train == k].mean(axis=0) for k in range(10)])
    d2 = (X_test**2).sum(1)[:, None] - 2 * X_test @ centroids.T + (centroids**2).sum(1)
    return np.mean(d2.argmin(axis=1) == y_test)


def test_make_digits_learnable_but_not_trivial(digits):
    X_train, y_train = digits
    X_test, y_test = make_digits(1000, random_state=99)

    # Chance is 10%. Measured on this data: ridge ~0.7, nearest centroid ~0.6;
    # a small MLP reaches ~98%, so a linear model must stay clearly below 100%.
    ridge = _ridge_accuracy(X_train, y_train, X_test, y_test)
    centroid = _centroid_accuracy(X_train, y_train, X_test, y_test)
    assert 0.5 < ridge < 0.95
    assert 0.4 < centroid < 0.9

    # Control: the same classifier on shuffled labels is at chance, so the
    # accuracy above comes from the images, not from a flaw in the check.
    shuffled = np.random.default_rng(0).permutation(y_train)
    assert _ridge_accuracy(X_train, shuffled, X_test, y_test) < 0.2
