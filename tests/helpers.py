"""What the tests share.

For the estimator tests: a small data set, estimators on one thread, quiet fits and a
stand-in DataFrame. For the persistence tests: what a model predicts and holds, and
model files read and written member by member. For the kernel and engine tests: dtypes
and tolerances, seeded generators, error bounds, odd memory layouts, random networks and
data, training configurations. Plain functions, imported as `from helpers import ...`
(pytest puts tests/ on the path, see pyproject.toml); a conftest.py is for fixtures.
"""
import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import threading
import warnings
import zipfile
import zlib

import numpy as np

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor, reference
from fastmlp._engine.config import TrainingConfig
from fastmlp._engine.layout import ParameterLayout
from fastmlp._engine.registry import LOSS_FOR_OUTPUT, OPTIMIZERS
from fastmlp.exceptions import ConvergenceWarning

# ---- estimators ---------------------------------------------------------------------

def classifier(*args, **params):
    """An MLPClassifier on one thread with random_state=0, unless told otherwise.

    Tests about what is learned train on one thread: tiny fits on a busy 2-core machine
    are far faster on one (the n_threads tests compare the thread counts).
    """
    params.setdefault("n_threads", 1)
    params.setdefault("random_state", 0)
    return MLPClassifier(*args, **params)


def regressor(*args, **params):
    """An MLPRegressor on one thread with random_state=0, unless told otherwise."""
    params.setdefault("n_threads", 1)
    params.setdefault("random_state", 0)
    return MLPRegressor(*args, **params)


def run_script_printing_ok(code):
    """Run `code` in a fresh Python that imports this fastmlp (it may hide modules from
    itself first) and assert that it succeeded and printed just "ok"."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root,
                                                      env.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=package_root, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def quiet_fit(model, X, y, **fit_params):
    """model.fit(X, y, **fit_params) without the ConvergenceWarning of a short max_iter;
    safe to call from several threads at once."""
    with _convergence_warnings_ignored():
        return model.fit(X, y, **fit_params)


# catch_warnings saves and restores the process-wide list of filters: two threads in
# it at once can restore each other's state and let a warning through. The quiet fits
# of all threads therefore share one: the first to start enters it, the last to end
# leaves it.
_quiet_fits_lock = threading.Lock()
_quiet_fits_running = 0
_quiet_fits_filters = None


@contextlib.contextmanager
def _convergence_warnings_ignored():
    global _quiet_fits_running, _quiet_fits_filters
    with _quiet_fits_lock:
        if _quiet_fits_running == 0:
            _quiet_fits_filters = warnings.catch_warnings()
            _quiet_fits_filters.__enter__()
            warnings.simplefilter("ignore", ConvergenceWarning)
        _quiet_fits_running += 1
    try:
        yield
    finally:
        with _quiet_fits_lock:
            _quiet_fits_running -= 1
            if _quiet_fits_running == 0:
                _quiet_fits_filters.__exit__(None, None, None)


def blobs(n=200, n_features=5, n_classes=3, seed=0, scale=2.0, dtype=np.float64):
    """n samples in unit-variance clusters around n_classes centres spread by `scale`: X, y."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=scale, size=(n_classes, n_features))
    y = rng.randint(n_classes, size=n)
    X = centers[y] + rng.normal(size=(n, n_features))
    return X.astype(dtype, copy=False), y


def small_fit_and_predict(seed):
    """A small fit's first weight matrix and its probabilities on its training data.
    Defined here, in an importable module, for the process workers that call it."""
    X, y = blobs(n=200, n_features=8, n_classes=3, seed=seed)
    model = quiet_fit(MLPClassifier((6,), max_iter=3, random_state=seed), X, y)
    return model.coefs_[0], model.predict_proba(X)


def fitted_arrays(model):
    """The learned weights, then the learned biases, layer by layer."""
    return model.coefs_ + model.intercepts_


class Frame:
    """The part of a pandas DataFrame that estimators look at: columns and __array__."""

    def __init__(self, data, columns):
        self._data = np.asarray(data)
        self.columns = list(columns)

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self):
        return len(self._data)

    @property
    def shape(self):
        return self._data.shape


# ---- model files ---------------------------------------------------------------------

HEADER = "__fastmlp__.json"   # the JSON member of a model file


def outputs(model, X):
    """Everything the model predicts for X."""
    if isinstance(model, MLPClassifier):
        return [model.predict(X), model.predict_proba(X)]
    return [model.predict(X)]


def assert_same_predictions(model, other, X):
    for expected, got in zip(outputs(model, X), outputs(other, X)):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype or expected.dtype == object


def assert_same_value(expected, got, name):
    if isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(got, expected, err_msg=name)
        # An object array of str is stored as a unicode array.
        assert got.dtype == expected.dtype or (expected.dtype == object
                                               and got.dtype.kind == "U"), name
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), name
        for i, (a, b) in enumerate(zip(expected, got)):
            assert_same_value(a, b, f"{name}[{i}]")
    elif isinstance(expected, dict):   # e.g. the optimizer's state arrays by name
        assert type(got) is type(expected) and list(got) == list(expected), name
        for key in expected:
            assert_same_value(expected[key], got[key], f"{name}[{key!r}]")
    elif hasattr(expected, "__dict__") and not callable(expected):   # e.g. a solver state
        assert type(got) is type(expected), name
        assert_same_attributes(expected, got, prefix=name)
    else:
        assert got == expected and type(got) is type(expected), name


def assert_same_attributes(model, other, names=None, prefix=""):
    """`other` holds the same attributes as `model` (only `names` of them if given)."""
    expected = vars(model) if names is None else {name: vars(model)[name] for name in names}
    assert vars(other).keys() == expected.keys()
    for name, value in expected.items():
        assert_same_value(value, vars(other)[name], f"{prefix}.{name}")


def persisted_names(model):
    """What save stores: the parameters and the public fitted attributes, plus the private
    ones the class lists; and the (empty) single-row predict slot load gives every model."""
    private = type(model)._persisted_private_attributes + ("_row_predictor",)
    return [name for name in vars(model) if not name.startswith("_") or name in private]


def read_members(path):
    """(header dict, {name: array}) of a model file."""
    with np.load(path, allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    return json.loads(members.pop(HEADER).tobytes().decode("utf-8")), members


def write_members(path, header, members):
    """Write a model file: `header` is a dict, or the raw bytes of the JSON member."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    members = {HEADER: np.frombuffer(raw, dtype=np.uint8), **members}
    with open(path, "wb") as file:
        np.savez(file, **members)



def npy_header(shape, dtype):
    """The header of a .npy file holding an array of this shape and dtype (C order)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                 "fortran_order": False, "shape": tuple(shape)})
    return buffer.getvalue()


def npy_bytes(array):
    """`array` as the bytes of a .npy file."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_zip(path, members):
    """Write a zip archive of raw members, zip name -> entry, which zipfile cannot write.

    An entry is bytes, stored as they are, or (data, method, crc, size): `data` already
    compressed with `method`, the archive declaring that CRC-32 and uncompressed size
    whatever the data hold. No zip64, no data descriptors, no comment.
    """
    body, directory = bytearray(), bytearray()
    for name, entry in members.items():
        if isinstance(entry, bytes):
            entry = (entry, zipfile.ZIP_STORED, zlib.crc32(entry), len(entry))
        data, method, crc, size = entry
        encoded = name.encode("utf-8")
        # version needed 2.0, no flags, the date 1980-01-01, no extra field
        fields = struct.pack("<HHHHHLLLHH", 20, 0, method, 0, 0x21, crc, len(data), size,
                             len(encoded), 0)
        directory += (b"PK\x01\x02" + struct.pack("<H", 20) + fields
                      + struct.pack("<HHHLL", 0, 0, 0, 0, len(body)) + encoded)
        body += b"PK\x03\x04" + fields + encoded + data
    end = struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(directory), len(body), 0)
    with open(path, "wb") as file:
        file.write(bytes(body + directory + end))

# ---- kernels and engines --------------------------------------------------------------

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
# Shapes (rows, cols) with a single row, a single column and sizes that are not
# multiples of any SIMD width.
SHAPES = [(1, 1), (1, 7), (13, 1), (3, 129), (37, 13)]
OUTPUTS = sorted(LOSS_FOR_OUTPUT)     # the output activations, one per loss
# A team computes a hidden layer whose weights are large for a core's cache by
# columns, a smaller one as a sum of the parts' terms. In float64 these networks mix
# the two ways, either way round; in float32 they take the terms' way only.
BY_COLUMNS_FIRST, BY_COLUMNS_LAST = [600, 500, 7, 3], [20, 600, 500, 3]

# Each optimizer's hyper-parameters for the tests, by the names its kernel reads
# (registry.OPTIMIZERS[name].hyper); every optimizer must have an entry here.
OPTIMIZER_PARAMS = {
    "sgd": {"momentum": 0.9, "nesterovs_momentum": True},
    "adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
    "adamw": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "weight_decay": 0.05},
    "rmsprop": {"rho": 0.9, "epsilon": 1e-8},
}
# Learning rates that move the weights visibly in a few steps without diverging.
LEARNING_RATES = {"sgd": 0.05, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.01}


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


def predictions_and_targets(rng, shape, output, dtype):
    """P from the output activation, and targets Y valid for its loss."""
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


def random_network(rng, sizes, dtype, scale=1.0):
    """(layout, flat parameters) of a network of these widths, normal weights."""
    layout = ParameterLayout(sizes)
    flat = (scale * rng.standard_normal(layout.n_params)).astype(dtype)
    return layout, flat


def random_data(rng, n, sizes, output, dtype):
    """n rows of normal inputs, and targets for the output activation."""
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    _, Y = predictions_and_targets(rng, (n, sizes[-1]), output, dtype)
    return X, Y


def training_config(solver, hidden, output, batch_size, alpha=1e-2, dropout=None,
                    **optimizer_params):
    """A TrainingConfig for the engine tests (a smaller learning rate for exp outputs,
    which grow fast)."""
    params = dict(OPTIMIZER_PARAMS[solver], **optimizer_params)
    assert set(params) == set(OPTIMIZERS[solver].hyper)
    return TrainingConfig(
        activation=hidden, out_activation=output, solver=solver, alpha=alpha,
        learning_rate=LEARNING_RATES[solver] * (0.1 if output == "exp" else 1),
        optimizer_params=params, batch_size=batch_size, dropout=dropout,
        dropout_seed=12345)


def interrupt_after_first_epoch(args, cwd, env):
    """Run ``python -m fastmlp <args>`` and send it SIGINT, as a terminal's Ctrl-C, once
    it printed its first epoch's line (of 1000 epochs); returns (returncode, stderr).
    A child that hangs is killed after 120 s, so the test fails instead of hanging."""
    import re
    import signal
    import threading
    child = subprocess.Popen([sys.executable, "-m", "fastmlp", *args], cwd=cwd,
                             env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = threading.Timer(120, child.kill)
    deadline.start()
    try:
        for line in child.stdout:
            if re.search(r"epoch +1/1000", line):
                child.send_signal(signal.SIGINT)
                break
        _, stderr = child.communicate()
    finally:
        deadline.cancel()
    return child.returncode, stderr
