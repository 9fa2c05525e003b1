"""Datasets for examples, tests and benchmarks.

Two kinds of data live here:

* Readers for the IDX format used by MNIST and Fashion-MNIST (:func:`load_idx`,
  :func:`load_mnist`, :func:`load_fashion_mnist`).
* A generator of synthetic 28x28 hand-written-style digits (:func:`make_digits`),
  so that examples and benchmarks run without downloading anything.

Only NumPy and the standard library are needed.
"""

import gzip
import numbers
import os
import struct
import zlib

import numpy as np

__all__ = [
    "FASHION_MNIST_DIR",
    "load_idx",
    "load_mnist",
    "load_fashion_mnist",
    "make_digits",
]

#: Where the Debian package ``dataset-fashion-mnist`` installs the data.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

# IDX type code -> big-endian dtype of the stored values.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


# ---------------------------------------------------------------------------
# IDX readers
# ---------------------------------------------------------------------------


def _read_bytes(path):
    """Return the content of ``path``, decompressed if it is a gzip stream."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path!r}") from None
    # Detect compression by content: downloads are often renamed or
    # decompressed in place without fixing the suffix.
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        # OSError covers gzip.BadGzipFile (bad header, CRC or length) and
        # EOFError a stream that stops early.
        raise ValueError(f"{path!r}: corrupt gzip stream ({exc})") from None


def load_idx(path):
    """Read one IDX file, the format of MNIST and Fashion-MNIST.

    An IDX file is a 4-byte magic number (two zero bytes, a type code, the
    number of dimensions), the dimension sizes as big-endian uint32, then the
    values in C order, big-endian.

    Parameters
    ----------
    path : str or path-like
        The file to read. It may be gzip-compressed; compression is detected
        from the gzip magic bytes, not from the file name.

    Returns
    -------
    array : ndarray
        The stored values, with the stored dtype (uint8, int8, int16, int32,
        float32 or float64) in native byte order and the stored shape.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid IDX file: corrupt gzip stream, bad magic
        number, unknown type code, zero dimensions, truncated header, or data
        shorter or longer than the dimensions say.

    Examples
    --------
    A file of three uint8 labels (type code 0x08, one dimension), written by hand:

    >>> import os, struct, tempfile
    >>> from fastmlp.datasets import load_idx
    >>> header = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "labels-idx1-ubyte")
    ...     with open(path, "wb") as file:
    ...         _ = file.write(header + bytes([7, 2, 1]))
    ...     labels = load_idx(path)
    >>> labels
    array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    data = _read_bytes(path)

    if len(data) < 4:
        raise ValueError(
            f"{path!r}: truncated IDX header ({len(data)} bytes, need at least 4)"
        )
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"{path!r}: bad IDX magic number {data[:4].hex()} "
            "(the first two bytes must be zero)"
        )
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{path!r}: unknown IDX type code 0x{type_code:02x}")
    if ndim == 0:
        raise ValueError(f"{path!r}: IDX header declares zero dimensions")

    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{path!r}: truncated IDX header ({len(data)} bytes, "
            f"need {header_size} for {ndim} dimensions)"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])

    dtype = _IDX_DTYPES[type_code]
    # Python ints: a product of large uint32 sizes must not wrap around.
    expected = dtype.itemsize
    for size in shape:
        expected *= size
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "too long"
        raise ValueError(
            f"{path!r}: IDX data {problem}: shape {shape} of {dtype.name} needs "
            f"{expected} bytes after the header, found {actual}"
        )

    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    # astype copies: the result owns its memory, is writable and native-endian.
    return array.astype(dtype.newbyteorder("="))


def _find_mnist_file(directory, name):
    """Return the path of ``name`` or ``name.gz`` in ``directory``."""
    # The uncompressed file is preferred when both exist: it loads faster.
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"{name!r} (or {name + '.gz'!r}) not found in directory {directory!r}"
    )


def _load_split(directory, images_name, labels_name):
    """Load one images/labels pair and convert it to (X, y)."""
    images_path = _find_mnist_file(directory, images_name)
    labels_path = _find_mnist_file(directory, labels_name)
    images = load_idx(images_path)
    labels = load_idx(labels_path)

    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path!r}: expected uint8 images of shape (n, 28, 28), "
            f"got {images.dtype.name} of shape {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(
            f"{labels_path!r}: expected labels of shape (n,), got shape {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path!r} holds {images.shape[0]} images but "
            f"{labels_path!r} holds {labels.shape[0]} labels"
        )

    X = images.reshape(images.shape[0], 28 * 28).astype(np.float32)
    X /= 255.0
    y = labels.astype(np.int64)
    return X, y


def load_mnist(directory):
    """Load MNIST-formatted data (MNIST, Fashion-MNIST, ...) from a directory.

    Parameters
    ----------
    directory : str or path-like
        A directory holding the four standard files
        ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each either
        plain or with a ``.gz`` suffix. When both exist the plain file is used.

    Returns
    -------
    X_train : ndarray of shape (n_train, 784), dtype float32
        Training images, one flattened 28x28 image per row, scaled to [0, 1].
    y_train : ndarray of shape (n_train,), dtype int64
        Training labels.
    X_test : ndarray of shape (n_test, 784), dtype float32
        Test images, scaled to [0, 1].
    y_test : ndarray of shape (n_test,), dtype int64
        Test labels.

    Raises
    ------
    FileNotFoundError
        If one of the four files is missing; the message names the file and
        the directory.
    ValueError
        If a file is not valid IDX, the images are not 28x28 uint8, or the
        image and label counts of a split differ.

    See Also
    --------
    load_fashion_mnist : The same, with a default directory.
    load_idx : Read a single IDX file.

    Examples
    --------
    A directory of four small files in the MNIST layout (random pixels):

    >>> import os, struct, tempfile
    >>> import numpy as np
    >>> from fastmlp.datasets import load_mnist
    >>> def write_idx(path, values):   # uint8 values, type code 0x08
    ...     header = bytes([0, 0, 0x08, values.ndim])
    ...     header += struct.pack(f">{values.ndim}I", *values.shape)
    ...     with open(path, "wb") as file:
    ...         _ = file.write(header + values.astype(np.uint8).tobytes())
    >>> rng = np.random.RandomState(0)
    >>> folder = tempfile.TemporaryDirectory()
    >>> for split, n in [("train", 6), ("t10k", 2)]:
    ...     images = rng.randint(0, 256, size=(n, 28, 28))
    ...     write_idx(os.path.join(folder.name, f"{split}-images-idx3-ubyte"), images)
    ...     write_idx(os.path.join(folder.name, f"{split}-labels-idx1-ubyte"),
    ...               rng.randint(0, 10, size=n))
    >>> X_train, y_train, X_test, y_test = load_mnist(folder.name)
    >>> X_train.shape, X_train.dtype, y_train.dtype, X_test.shape
    ((6, 784), dtype('float32'), dtype('int64'), (2, 784))
    >>> bool(X_train.min() >= 0 and X_train.max() <= 1)
    True
    >>> folder.cleanup()
    """
    directory = os.fspath(directory)
    X_train, y_train = _load_split(
        directory, _MNIST_FILES["train_images"], _MNIST_FILES["train_labels"]
    )
    X_test, y_test = _load_split(
        directory, _MNIST_FILES["test_images"], _MNIST_FILES["test_labels"]
    )
    return X_train, y_train, X_test, y_test


def load_fashion_mnist(directory=None):
    """Load Fashion-MNIST: 70,000 28x28 grey-scale images of 10 clothing classes.

    Parameters
    ----------
    directory : str or path-like, optional
        Directory holding the four IDX files. Defaults to
        :data:`FASHION_MNIST_DIR` (``/usr/share/datasets/fashion-mnist``), where
        the Debian package ``dataset-fashion-mnist`` installs them.

    Returns
    -------
    X_train : ndarray of shape (60000, 784), dtype float32
        Training images scaled to [0, 1].
    y_train : ndarray of shape (60000,), dtype int64
        Training labels in 0..9.
    X_test : ndarray of shape (10000, 784), dtype float32
        Test images scaled to [0, 1].
    y_test : ndarray of shape (10000,), dtype int64
        Test labels in 0..9.

    Raises
    ------
    FileNotFoundError
        If the directory or one of its files is missing. For the default
        directory the message says how to install the data.
    ValueError
        If a file is corrupt (see :func:`load_mnist`).

    See Also
    --------
    load_mnist : The same for any directory (its example writes one).
    make_digits : Synthetic digits, for when the data are not installed.

    Examples
    --------
    The data are optional: these lines need ``apt-get install
    dataset-fashion-mnist`` (or a directory of the four files).

    >>> from fastmlp.datasets import load_fashion_mnist
    >>> X_train, y_train, X_test, y_test = load_fashion_mnist()  # doctest: +SKIP
    >>> X_train.shape, X_test.shape                              # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    if directory is not None:
        return load_mnist(directory)

    hint = (
        "Install it with `apt-get install dataset-fashion-mnist` (Debian package), "
        "or pass the directory holding the IDX files."
    )
    if not os.path.isdir(FASHION_MNIST_DIR):
        raise FileNotFoundError(
            f"Fashion-MNIST directory {FASHION_MNIST_DIR!r} does not exist. {hint}"
        )
    try:
        return load_mnist(FASHION_MNIST_DIR)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}. {hint}") from None


# ---------------------------------------------------------------------------
# Synthetic digits
# ---------------------------------------------------------------------------
#
# Each digit is drawn from one of a few stroke templates: polylines in a box
# with x in about [-0.6, 0.6] and y in [-1, 1], y pointing down (image
# convention). A sample is rendered by mapping the template through a random
# affine map (scale, aspect, slant, rotation, shift) to pixel coordinates,
# bending the pixel grid with a smooth random displacement field (elastic
# distortion), and shading each pixel by its distance to the nearest stroke
# segment, which anti-aliases the edges for free.


def _arc(cx, cy, rx, ry, start, stop, n):
    """Polyline of ``n`` segments along an ellipse, angles in degrees.

    With y pointing down, angle 0 is right, 90 bottom, -90 top.
    """
    theta = np.deg2rad(np.linspace(start, stop, n + 1))
    return np.column_stack([cx + rx * np.cos(theta), cy + ry * np.sin(theta)])


def _line(*points):
    """Polyline through the given (x, y) points."""
    return np.array(points, dtype=float)


def _join(*pieces):
    """One stroke made of consecutive polyline pieces."""
    return np.vstack(pieces)


# digit -> list of style variants; a variant is a list of strokes (polylines).
_TEMPLATES = {
    0: [
        [_arc(0.0, 0.0, 0.55, 0.95, -90, 275, 14)],
        [_arc(0.0, 0.0, 0.45, 0.95, -100, 270, 14)],
    ],
    1: [
        [_line((0.0, -1.0), (0.0, 1.0))],
        # With a flag, and with a flag and a base.
        [_line((-0.3, -0.7), (0.05, -1.0), (0.05, 1.0))],
        [_line((-0.3, -0.7), (0.05, -1.0), (0.05, 1.0)), _line((-0.3, 1.0), (0.4, 1.0))],
    ],
    2: [
        [_join(_arc(0.0, -0.45, 0.5, 0.5, 200, 365, 7)[:-1],
               _line((0.45, -0.3), (-0.55, 1.0), (0.6, 1.0)))],
        # Curly: a small loop at the bottom left.
        [_join(_arc(0.0, -0.45, 0.5, 0.5, 200, 370, 7),
               _line((-0.5, 0.85)),
               _arc(-0.35, 0.85, 0.15, 0.15, 180, 0, 3),
               _line((0.6, 0.95)))],
    ],
    3: [
        [_join(_arc(0.0, -0.5, 0.45, 0.45, -160, 90, 8),
               _arc(0.0, 0.45, 0.52, 0.52, -90, 160, 8)[1:])],
        # Flat top.
        [_join(_line((-0.45, -1.0), (0.45, -1.0), (-0.05, -0.1)),
               _arc(0.0, 0.45, 0.52, 0.52, -90, 160, 8))],
    ],
    4: [
        # Closed and open top.
        [_line((0.25, -1.0), (-0.6, 0.35), (0.6, 0.35)), _line((0.3, -0.45), (0.3, 1.0))],
        [_line((-0.45, -1.0), (-0.5, 0.2), (0.6, 0.2)), _line((0.35, -1.0), (0.35, 1.0))],
    ],
    5: [
        [_join(_line((0.5, -1.0), (-0.35, -1.0), (-0.42, -0.15)),
               _arc(0.0, 0.4, 0.55, 0.55, -125, 150, 9))],
        # Top bar drawn as a separate stroke.
        [_line((0.5, -1.0), (-0.35, -1.0)),
         _join(_line((-0.35, -1.0), (-0.4, -0.1)), _arc(0.0, 0.35, 0.5, 0.6, -130, 160, 9))],
    ],
    6: [
        [_join(_line((0.4, -1.0), (-0.1, -0.7), (-0.45, -0.05)),
               _arc(0.0, 0.45, 0.48, 0.5, 180, -180, 12))],
        # Curved stem.
        [_join(_arc(0.6, 0.2, 1.05, 1.2, -115, -180, 5),
               _arc(0.0, 0.5, 0.45, 0.45, 180, -180, 12)[1:])],
    ],
    7: [
        [_line((-0.55, -1.0), (0.55, -1.0), (-0.1, 1.0))],
        # Crossed.
        [_line((-0.55, -1.0), (0.55, -1.0), (-0.1, 1.0)), _line((-0.25, 0.0), (0.4, 0.0))],
    ],
    8: [
        [_arc(0.0, -0.5, 0.42, 0.45, 0, 360, 12), _arc(0.0, 0.45, 0.52, 0.52, 0, 360, 12)],
        [_arc(0.0, -0.5, 0.38, 0.45, 0, 360, 12), _arc(0.0, 0.47, 0.48, 0.5, 0, 360, 12)],
    ],
    9: [
        [_arc(0.0, -0.45, 0.48, 0.5, 0, 360, 12), _line((0.48, -0.45), (0.35, 1.0))],
        # Curved stem.
        [_arc(0.0, -0.45, 0.48, 0.5, 0, 360, 12),
         _join(_line((0.48, -0.5)), _arc(-0.3, -0.2, 0.78, 1.2, -10, 80, 5))],
    ],
}


def _segments(strokes):
    """Stack the segments of a list of polylines as (start, end) arrays."""
    starts = np.vstack([s[:-1] for s in strokes])
    ends = np.vstack([s[1:] for s in strokes])
    return starts, ends


# Flattened once at import: template index -> digit, start points, end points.
_TEMPLATE_DIGIT = []
_TEMPLATE_SEGMENTS = []
for _digit, _variants in _TEMPLATES.items():
    for _strokes in _variants:
        _TEMPLATE_DIGIT.append(_digit)
        _TEMPLATE_SEGMENTS.append(_segments(_strokes))
_TEMPLATE_DIGIT = np.array(_TEMPLATE_DIGIT)
del _digit, _variants, _strokes

_SIDE = 28
_N_PIXELS = _SIDE * _SIDE
# Coarse grid of the elastic displacement field (_COARSE x _COARSE knots).
_COARSE = 5


def _pixel_grid():
    """Pixel-centre coordinates x and y of a 28x28 image, each of shape (784,)."""
    ys, xs = np.mgrid[0:_SIDE, 0:_SIDE].astype(np.float32)
    return xs.ravel(), ys.ravel()


def _interp_matrix(n_coarse, n_fine):
    """Linear-interpolation weights from n_coarse knots to n_fine points, 1-D."""
    pos = np.linspace(0, n_coarse - 1, n_fine)
    lo = np.minimum(np.floor(pos).astype(int), n_coarse - 2)
    frac = pos - lo
    W = np.zeros((n_coarse, n_fine))
    W[lo, np.arange(n_fine)] = 1 - frac
    W[lo + 1, np.arange(n_fine)] = frac
    return W


def _elastic_basis():
    """Matrix mapping coarse-grid displacements to all pixels, (25, 784)."""
    W = _interp_matrix(_COARSE, _SIDE)
    # Bilinear = outer product of the 1-D weights along y and along x.
    basis = np.einsum("ai,bj->abij", W, W).reshape(_COARSE * _COARSE, _N_PIXELS)
    return basis.astype(np.float32)


def _check_random_state(random_state):
    """Turn None, an int, a RandomState or a Generator into a Generator."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        # Draw a seed from it, so the RandomState's own stream advances.
        return np.random.default_rng(random_state.randint(0, 2**32, size=4))
    raise ValueError(
        "random_state must be None, an int, a numpy.random.Generator or a "
        f"numpy.random.RandomState, got {random_state!r}"
    )


def _min_distance(px, py, starts, ends):
    """Squared distance from each point to its nearest segment.

    px, py: (n, p) point coordinates; starts, ends: (n, s, 2) segment end
    points. Returns (n, p).
    """
    # Work on (n, s, p) arrays: the long pixel axis is innermost, and the
    # minimum over segments is then an element-wise minimum of s slices,
    # much faster than reducing a short innermost axis.
    ax = starts[:, :, 0, None]
    ay = starts[:, :, 1, None]
    vx = ends[:, :, 0, None] - ax
    vy = ends[:, :, 1, None] - ay
    # Zero-length segments (none in the templates, but cheap to guard).
    inv_len2 = 1.0 / np.maximum(vx * vx + vy * vy, 1e-12)

    dx = px[:, None, :] - ax
    dy = py[:, None, :] - ay
    # t: position of the orthogonal projection along the segment, clipped
    # to the segment so the end points are the nearest points beyond it.
    t = dx * vx
    tmp = dy * vy
    t += tmp
    t *= inv_len2
    np.clip(t, 0.0, 1.0, out=t)
    # (dx, dy) -= t * (vx, vy): the vector from the nearest point.
    np.multiply(t, vx, out=tmp)
    dx -= tmp
    np.multiply(t, vy, out=tmp)
    dy -= tmp
    dx *= dx
    dy *= dy
    dx += dy
    return dx.min(axis=1)


def make_digits(n_samples=10000, random_state=None):
    """Generate synthetic 28x28 grey-scale hand-written-style digits 0-9.

    Each image is a stroke template of its digit (a few style variants per
    digit) drawn with a random slant, scale, aspect ratio, rotation, shift,
    stroke width and darkness, bent by a smooth elastic distortion,
    anti-aliased, and finished with pixel noise. The task is meant to be
    learnable but not trivial: a small MLP reaches roughly 97-98% test
    accuracy, a linear model clearly less.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of images to generate.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, default=None
        Seed or random generator. An int gives the same data on every call.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype float32
        Flattened images (row-major 28x28), values in [0, 1], 0 is background.
    y : ndarray of shape (n_samples,), dtype int64
        Digit labels 0-9. The classes are balanced (counts differ by at most
        one) and the samples are shuffled.

    Raises
    ------
    ValueError
        If ``n_samples`` is not a positive integer or ``random_state`` has an
        unsupported type.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp.datasets import make_digits
    >>> X, y = make_digits(1000, random_state=0)
    >>> X.shape, X.dtype, y.dtype
    ((1000, 784), dtype('float32'), dtype('int64'))
    >>> np.bincount(y)   # balanced classes
    array([100, 100, 100, 100, 100, 100, 100, 100, 100, 100])
    """
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, (numbers.Integral, np.integer))
        or n_samples <= 0
    ):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    n = int(n_samples)
    rng = _check_random_state(random_state)

    # Balanced labels, then a random style variant of each label's digit.
    y = rng.permutation(np.arange(n) % 10).astype(np.int64)
    n_variants = np.bincount(_TEMPLATE_DIGIT, minlength=10)
    first_variant = np.concatenate([[0], np.cumsum(n_variants)[:-1]])
    template = first_variant[y] + rng.integers(0, n_variants[y])

    # Affine map from template units to pixels: p = M q + offset, with
    # M = scale * rotation * shear * diag(aspect, 1). A template unit is
    # ~9.5 px, so a digit is ~19 px tall like the 20-px box of MNIST.
    scale = 9.5 * rng.uniform(0.75, 1.1, n)
    aspect = rng.uniform(0.75, 1.25, n)
    shear = rng.uniform(-0.4, 0.4, n)
    angle = np.deg2rad(rng.normal(0.0, 10.0, n))
    offset = 13.5 + rng.uniform(-2.0, 2.0, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    # Slant: x moves with -y, so the tops of the letters lean right.
    m00 = scale * cos * aspect
    m01 = scale * (-cos * shear - sin)
    m10 = scale * sin * aspect
    m11 = scale * (-sin * shear + cos)
    M = np.stack([np.stack([m00, m01], -1), np.stack([m10, m11], -1)], -2)

    half_width = rng.uniform(0.8, 1.7, n).astype(np.float32)
    darkness = rng.uniform(0.75, 1.0, n).astype(np.float32)

    # Elastic distortion: random displacements (in pixels) at coarse knots,
    # interpolated to every pixel, so neighbouring pixels move together.
    knots = rng.normal(0.0, 1.1, (n, 2, _COARSE * _COARSE)).astype(np.float32)
    noise = rng.standard_normal((n, _N_PIXELS), dtype=np.float32)
    noise *= 0.04

    grid_x, grid_y = _pixel_grid()
    basis = _elastic_basis()
    X = np.empty((n, _N_PIXELS), dtype=np.float32)
    # Render template by template, so that all samples in a batch have the
    # same number of segments; batches bound the (batch, segments, 784)
    # temporaries to about 1 MB each, which stay in cache.
    for k, (starts, ends) in enumerate(_TEMPLATE_SEGMENTS):
        idx = np.flatnonzero(template == k)
        batch = max(1, 250_000 // (_N_PIXELS * len(starts)))
        for lo in range(0, len(idx), batch):
            rows = idx[lo:lo + batch]
            Mb = M[rows]
            ob = offset[rows, None, :]
            a = (np.einsum("nij,sj->nsi", Mb, starts) + ob).astype(np.float32)
            b = (np.einsum("nij,sj->nsi", Mb, ends) + ob).astype(np.float32)
            # Displaced pixel centres, (batch, 784) each.
            px = grid_x + knots[rows, 0] @ basis
            py = grid_y + knots[rows, 1] @ basis
            dist = np.sqrt(_min_distance(px, py, a, b))
            # Intensity falls linearly from 1 to 0 over one pixel at the stroke
            # edge: a cheap box-filter anti-aliasing.
            X[rows] = np.clip(half_width[rows, None] + 0.5 - dist, 0.0, 1.0)

    X *= darkness[:, None]
    X += noise
    np.clip(X, 0.0, 1.0, out=X)
    return X, y
