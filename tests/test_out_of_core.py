"""fit and partial_fit over an np.memmap X read chunk by chunk (out_of_core.py): the
same minibatches as in memory when nothing is shuffled, chunks visited in a random
order with their rows shuffled, the input checks and the validation split by chunks,
the pages read dropped from the process, and a fit over a file four times larger
than the memory the process may allocate."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp._estimators.sklearn_compat import HAVE_SKLEARN

from helpers import blobs, classifier, fitted_arrays, quiet_fit, regressor

N_FEATURES = 6
CHUNK_ROWS = 250   # rows of a chunk, set through memmap_chunk_bytes (a multiple of 50)


@pytest.fixture
def memmap(tmp_path):
    """memmap(X, mode='r', order='C'): X written to a file in tmp_path, mapped back."""
    files = []

    def make(X, mode="r", order="C"):
        path = tmp_path / f"X{len(files)}.bin"
        files.append(path)
        written = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape, order=order)
        written[...] = X
        written.flush()
        del written
        return np.memmap(path, dtype=X.dtype, mode=mode, shape=X.shape, order=order)
    return make


def chunks_of(rows, dtype=np.float32, n_features=N_FEATURES):
    """Reading a memmap by chunks of `rows` rows of n_features values of `dtype`."""
    return fastmlp.config_context(
        memmap_chunk_bytes=rows * n_features * np.dtype(dtype).itemsize)


def problem(n=1000, dtype=np.float32, seed=0):
    """A learnable 3-class problem of n rows, sorted by class: a fit that did not shuffle
    across the whole file would see one class at a time."""
    X, y = blobs(n=n, n_features=N_FEATURES, seed=seed, dtype=dtype)
    order = np.argsort(y, kind="stable")
    return X[order], y[order]


def assert_same_fit(model, other):
    """The same weights, bit for bit, and the same losses. An epoch's loss by chunks is
    a sum of the chunks' sums: the same terms as in memory, added in another order."""
    for expected, got in zip(fitted_arrays(model), fitted_arrays(other)):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    if model.solver != "lbfgs":
        np.testing.assert_allclose(other.loss_curve_, model.loss_curve_, rtol=1e-13)


# --- the same minibatches as in memory -------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make_model", [classifier, regressor])
def test_memmap_fit_without_shuffling_equals_the_in_memory_fit_bit_for_bit(
        memmap, dtype, make_model):
    # a chunk is whole minibatches: the minibatches are those of X in memory, and the
    # optimizer, the step count and the engine go on from chunk to chunk
    X, y = problem(n=1030, dtype=dtype)
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False, max_iter=3)
    in_memory = quiet_fit(make_model(**params), X, y)
    with chunks_of(CHUNK_ROWS, dtype):
        out_of_core = quiet_fit(make_model(**params), memmap(X), y)
    assert_same_fit(in_memory, out_of_core)
    assert out_of_core.t_ == in_memory.t_ == 3 * 1030


def test_memmap_fit_visits_the_chunks_in_a_random_order_and_shuffles_within_each(memmap):
    # one epoch, by hand: the fit draws its initial weights, then the order of the
    # chunks, then each chunk's order of rows; an in-memory fit without shuffling over
    # the rows in that order runs the same minibatches
    X, y = problem(n=4 * CHUNK_ROWS)
    params = dict(hidden_layer_sizes=(8,), batch_size=50, max_iter=1)
    with chunks_of(CHUNK_ROWS):
        out_of_core = quiet_fit(classifier(**params), memmap(X), y)
    rng = np.random.RandomState(0)
    glorot_uniform(ParameterLayout([N_FEATURES, 8, 3]), "relu", rng, np.float32)
    order = np.arange(len(X))
    chunks = rng.permutation(4)
    assert list(chunks) != [0, 1, 2, 3]
    visited = []
    for chunk in chunks:
        rows = order[chunk * CHUNK_ROWS:(chunk + 1) * CHUNK_ROWS]
        rng.shuffle(rows)
        visited.append(rows)
    visited = np.concatenate(visited)
    by_hand = quiet_fit(classifier(**params, shuffle=False), X[visited], y[visited])
    assert_same_fit(by_hand, out_of_core)


def test_memmap_fit_in_one_chunk_draws_the_in_memory_shuffle(memmap):
    # a minibatch as large as X makes one chunk: the fit shuffles its rows with the
    # random numbers, and in the order epoch after epoch, of the in-memory fit
    X, y = problem(n=300)
    params = dict(hidden_layer_sizes=(8,), batch_size=300, max_iter=4)
    in_memory = quiet_fit(classifier(**params), X, y)
    with chunks_of(100):
        out_of_core = quiet_fit(classifier(**params), memmap(X), y)
    assert_same_fit(in_memory, out_of_core)


def test_memmap_fit_with_sample_weight_equals_the_in_memory_fit(memmap):
    X, y = problem(n=1000)
    weights = np.random.RandomState(1).uniform(0, 2, size=len(X))
    weights[:100] = 0
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False, max_iter=2)
    in_memory = quiet_fit(classifier(**params), X, y, sample_weight=weights)
    with chunks_of(CHUNK_ROWS):
        out_of_core = quiet_fit(classifier(**params), memmap(X), y, sample_weight=weights)
    assert_same_fit(in_memory, out_of_core)


def test_partial_fit_over_a_memmap_equals_partial_fit_in_memory(memmap):
    X, y = problem(n=1000)
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False)
    in_memory, out_of_core, X_file = classifier(**params), classifier(**params), memmap(X)
    with chunks_of(CHUNK_ROWS):
        for _ in range(3):
            in_memory.partial_fit(X, y, classes=[0, 1, 2])
            out_of_core.partial_fit(X_file, y, classes=[0, 1, 2])
    assert_same_fit(in_memory, out_of_core)
    assert out_of_core.t_ == 3000


def test_integer_memmap_trains_in_float64_as_in_memory(memmap):
    X, y = problem(n=1000)
    X = np.round(X * 10).astype(np.int16)
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False, max_iter=2)
    in_memory = quiet_fit(classifier(**params), X, y)
    with chunks_of(CHUNK_ROWS, np.float64):
        out_of_core = quiet_fit(classifier(**params), memmap(X), y)
    assert out_of_core.coefs_[0].dtype == np.float64
    assert_same_fit(in_memory, out_of_core)


def test_warm_start_converts_each_chunk_to_the_fitted_dtype(memmap):
    X, y = problem(n=1000)
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False, max_iter=2,
                  warm_start=True)
    in_memory = quiet_fit(classifier(**params), X, y)          # float32 weights
    out_of_core = quiet_fit(classifier(**params), X, y)
    quiet_fit(in_memory, X.astype(np.float64), y)
    with chunks_of(CHUNK_ROWS):
        quiet_fit(out_of_core, memmap(X.astype(np.float64)), y)
    assert out_of_core.coefs_[0].dtype == np.float32
    assert_same_fit(in_memory, out_of_core)


def test_a_memmap_of_one_chunk_or_less_is_fitted_as_an_array(memmap):
    X, y = problem(n=300)
    params = dict(hidden_layer_sizes=(8,), max_iter=3)
    with chunks_of(300):   # exactly one chunk: read into memory, shuffled as an array
        assert_same_fit(quiet_fit(classifier(**params), X, y),
                        quiet_fit(classifier(**params), memmap(X), y))


def test_lbfgs_and_fortran_order_memmaps_are_fitted_in_memory(memmap):
    X, y = problem(n=1000)
    with chunks_of(CHUNK_ROWS):
        lbfgs = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5)
        assert_same_fit(quiet_fit(classifier(**lbfgs), X, y),
                        quiet_fit(classifier(**lbfgs), memmap(X), y))
        params = dict(hidden_layer_sizes=(8,), max_iter=2)
        with pytest.warns(UserWarning, match="rows are not stored one after the other"):
            fortran = quiet_fit(classifier(**params), memmap(X, order="F"), y)
    assert_same_fit(quiet_fit(classifier(**params), X, y), fortran)


# --- what is learned ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memmap_fit_learns_a_file_sorted_by_class(memmap, dtype):
    X, y = problem(n=2000, dtype=dtype)
    with chunks_of(CHUNK_ROWS, dtype):
        model = quiet_fit(classifier((16,), learning_rate_init=0.01, max_iter=30),
                          memmap(X), y)
    assert model.coefs_[0].dtype == dtype
    assert model.score(X, y) > 0.95


def test_memmap_regression_learns(memmap):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, N_FEATURES))
    y = X @ rng.normal(size=N_FEATURES)
    with chunks_of(CHUNK_ROWS, np.float64):
        model = quiet_fit(regressor((16,), learning_rate_init=0.01, max_iter=40),
                          memmap(X), y)
    assert model.score(X, y) > 0.95


@pytest.mark.skipif(not HAVE_SKLEARN, reason="the split is scikit-learn's train_test_split")
def test_early_stopping_holds_out_the_rows_an_in_memory_fit_holds_out(memmap):
    # the split draws after the initial weights, as in memory; the validation score
    # kept is the score of the weights kept, on the rows held out
    from sklearn.model_selection import train_test_split
    X, y = problem(n=2000)
    with chunks_of(CHUNK_ROWS):
        model = quiet_fit(classifier((16,), learning_rate_init=0.01, early_stopping=True,
                                     max_iter=40, n_iter_no_change=3), memmap(X), y)
    rng = np.random.RandomState(0)
    glorot_uniform(ParameterLayout([N_FEATURES, 16, 3]), "relu", rng, np.float32)
    _, held_out = train_test_split(np.arange(len(X)), random_state=rng, stratify=None,
                                   test_size=0.1)
    assert model.score(X[held_out], y[held_out]) == model.best_validation_score_
    assert model.best_validation_score_ > 0.95
    assert model.n_iter_ < 40 and max(model.validation_scores_) == \
        model.best_validation_score_


def test_early_stopping_on_a_binary_memmap_holds_out_both_classes(memmap):
    X, y = problem(n=1000)
    y = (y > 0).astype(int)
    with chunks_of(CHUNK_ROWS):
        model = quiet_fit(classifier((8,), early_stopping=True, max_iter=5), memmap(X), y)
    assert len(model.validation_scores_) == 5 and model.t_ == 5 * 900


def test_validation_data_given_with_a_memmap_x(memmap):
    X, y = problem(n=1200)
    with chunks_of(CHUNK_ROWS):
        model = quiet_fit(classifier((8,), max_iter=3), memmap(X[:1000]), y[:1000],
                          X_val=memmap(X[1000:]), y_val=y[1000:])
    assert len(model.validation_scores_) == 3
    assert model.validation_scores_[-1] == model.score(X[1000:], y[1000:])


# --- input checks -------------------------------------------------------------------------

@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_nan_in_a_late_chunk_is_found_and_leaves_the_model_as_it_was(memmap, value):
    X, y = problem(n=1000)
    model = quiet_fit(classifier((8,), max_iter=2), X, y)
    before = [a.copy() for a in fitted_arrays(model)]
    X[987, 3] = value
    with chunks_of(CHUNK_ROWS), pytest.raises(ValueError, match="NaN or infinity"):
        model.partial_fit(memmap(X), y)
    for expected, got in zip(before, fitted_arrays(model)):
        np.testing.assert_array_equal(got, expected)


def test_values_too_large_for_the_fitted_float32_are_reported(memmap):
    X, y = problem(n=1000)
    model = quiet_fit(classifier((8,), max_iter=2), X, y)
    X = X.astype(np.float64)
    X[600, 0] = 1e300
    with chunks_of(CHUNK_ROWS), pytest.raises(ValueError, match="too large for float32"):
        model.partial_fit(memmap(X), y)


def test_a_memmap_of_another_width_is_refused(memmap):
    X, y = problem(n=1000)
    model = quiet_fit(classifier((8,), max_iter=2), X, y)
    wider = np.hstack([X, X])
    with chunks_of(CHUNK_ROWS), pytest.raises(ValueError, match="12 features, but "
                                              "MLPClassifier is expecting 6"):
        model.partial_fit(memmap(wider), y)
    with chunks_of(CHUNK_ROWS), pytest.raises(ValueError, match="different numbers"):
        model.partial_fit(memmap(X), y[:-1])


def test_memmap_chunk_bytes_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="positive"):
        fastmlp.set_config(memmap_chunk_bytes=0)
    with pytest.raises(TypeError, match="integer"), \
            fastmlp.config_context(memmap_chunk_bytes=2.5):
        pass
    with fastmlp.config_context(memmap_chunk_bytes=1024):
        assert fastmlp.get_config()["memmap_chunk_bytes"] == 1024
    assert fastmlp.get_config()["memmap_chunk_bytes"] == 32 * 2**20


# --- the mapping: pages dropped, writes kept ------------------------------------------------

def resident_bytes_of(path):
    """The bytes of `path`'s mappings resident in this process (/proc/self/smaps)."""
    resident, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                resident += int(line.split()[1]) * 1024
    return resident


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="Linux's /proc")
@pytest.mark.parametrize("mode", ["r", "r+"])
def test_the_pages_a_fit_read_do_not_stay_resident(tmp_path, mode):
    # 16 MiB, read in chunks of 4 MiB: after the fit no page of it is left mapped here
    # (none on Linux's default fault-around; the file itself stays in the page cache,
    # which is not the process's)
    n_rows, n_features = 2**16, 64
    path = tmp_path / "X.bin"
    rng = np.random.RandomState(0)
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, n_features))
    X[...] = rng.normal(size=X.shape)
    y = (X[:, 0] > 0).astype(int)
    X.flush()
    del X
    X = np.memmap(path, dtype=np.float32, mode=mode, shape=(n_rows, n_features))
    with fastmlp.config_context(memmap_chunk_bytes=4 * 2**20):
        quiet_fit(classifier((4,), max_iter=2, batch_size=256), X, y)
    assert resident_bytes_of(path) < 2**20, resident_bytes_of(path)
    X[:].sum()   # what the same read leaves mapped without dropping: the whole file
    assert resident_bytes_of(path) >= n_rows * n_features * 4


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="Linux's /proc")
def test_an_npy_file_opened_with_mmap_mode_is_read_by_chunks(tmp_path):
    # np.load's memmap starts after the file's header, inside the mapping: its pages
    # are found from where X starts, not from the start of the file
    X, y = problem(n=1000)
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_file = np.load(path, mmap_mode="r")
    assert isinstance(X_file, np.memmap) and X_file.offset > 0
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False, max_iter=2)
    with chunks_of(CHUNK_ROWS):
        assert_same_fit(quiet_fit(classifier(**params), X, y),
                        quiet_fit(classifier(**params), X_file, y))
    assert resident_bytes_of(path) == 0


def test_writes_through_the_memmap_are_what_the_fit_reads(memmap):
    # r+: writes not yet flushed are in the page cache and survive the dropped pages;
    # c: writes live only in this mapping's private pages, which are never dropped
    X, y = problem(n=1000)
    params = dict(hidden_layer_sizes=(8,), batch_size=50, shuffle=False, max_iter=2)
    expected = quiet_fit(classifier(**params), 2 * X, y)
    for mode in ("r+", "c"):
        X_file = memmap(X, mode=mode)
        X_file *= 2
        with chunks_of(CHUNK_ROWS):
            assert_same_fit(expected, quiet_fit(classifier(**params), X_file, y))
        np.testing.assert_array_equal(X_file, 2 * X)


# --- a file four times larger than the memory limit -----------------------------------------

MEMORY_SCRIPT = r"""
import json, os, resource, sys, warnings
import numpy as np
from fastmlp import MLPClassifier

path, n_features, headroom = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

# the baseline: fastmlp imported and one small fit done (BLAS and the kernels set up)
rng = np.random.default_rng(0)
block = rng.random((1024, n_features), dtype=np.float32) - np.float32(0.5)
labels = (block[:, :16].sum(axis=1) > 0).astype(np.int8)
MLPClassifier((4,), n_threads=1).partial_fit(block, labels, classes=[0, 1])
baseline = status("VmData")
limit = baseline + headroom

# the file: at least 4 x the limit, written block by block; y and its rows in memory
n_blocks = -(-4 * limit // block.nbytes)
with open(path, "wb") as f:
    for i in range(n_blocks):   # the block, then its negation: labels flip with it
        f.write((block if i % 2 == 0 else -block).tobytes())
y = np.tile(np.concatenate([labels, 1 - labels]), n_blocks // 2 + 1)[:n_blocks * 1024]
file_size = os.path.getsize(path)

resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
bites = []
for n_bytes in (file_size, limit):   # the limit is real: neither fits under it
    try:
        np.ones(n_bytes // 4, dtype=np.float32)
        bites.append(False)
    except MemoryError:
        bites.append(True)

X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_blocks * 1024, n_features))
# VmHWM, not ru_maxrss, which a child process inherits from its parent's peak
peak_before_fit = status("VmHWM")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")   # VmHWM from here: the fit's peak
rss_before_fit = status("VmRSS")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")   # one epoch: not converged
    model = MLPClassifier((4,), max_iter=1, n_threads=1, random_state=0,
                          learning_rate_init=0.01).fit(X, y)
print(json.dumps(dict(
    baseline_vm_data=baseline, limit=limit, file_size=file_size, bites=bites,
    rss_before_fit=rss_before_fit, peak_rss_of_fit=status("VmHWM"),
    peak_rss_of_process=max(peak_before_fit, status("VmHWM")),
    accuracy=model.score(block, labels))))
"""


def rlimit_data_counts_anonymous_memory():
    """RLIMIT_DATA bounds private memory (mmap'd or not) only since Linux 4.7."""
    if not sys.platform.startswith("linux"):
        return False
    release = tuple(int(part) for part in re.findall(r"\d+", os.uname().release)[:2])
    return release >= (4, 7) and os.path.exists("/proc/self/clear_refs")


@pytest.mark.skipif(not rlimit_data_counts_anonymous_memory(),
                    reason="needs Linux >= 4.7 (RLIMIT_DATA) and /proc")
def test_a_fit_over_a_file_four_times_the_memory_limit_stays_under_the_limit(tmp_path):
    # RLIMIT_AS could not work: the file's mapping is address space. RLIMIT_DATA counts
    # private memory only, so the limit bounds what the fit allocates (the chunk
    # buffer, y, the targets, the order of the rows), and peak RSS, which also counts
    # the file's pages mapped, shows that those did not stay resident
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root,
                                                      env.get("PYTHONPATH", "")]))
    path = tmp_path / "X.bin"
    headroom = 96 * 2**20   # the fit's own: a 32 MiB chunk buffer, y, targets, order
    try:
        result = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(path), "1024", str(headroom)],
            capture_output=True, text=True, env=env, cwd=package_root, timeout=300)
    finally:
        path.unlink(missing_ok=True)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    mib = {name: round(value / 2**20, 1) for name, value in figures.items()
           if isinstance(value, int)}
    print(f"memory limit (RLIMIT_DATA) {mib['limit']} MiB (VmData after import "
          f"{mib['baseline_vm_data']} MiB + {headroom // 2**20}), file {mib['file_size']} "
          f"MiB, peak RSS of the fit {mib['peak_rss_of_fit']} MiB (RSS before it "
          f"{mib['rss_before_fit']} MiB), of the process {mib['peak_rss_of_process']} MiB")
    assert figures["bites"] == [True, True], "np.ones under the limit did not fail"
    assert figures["file_size"] >= 4 * figures["limit"]
    assert figures["peak_rss_of_process"] < figures["limit"], mib
    assert figures["peak_rss_of_fit"] - figures["rss_before_fit"] < headroom, mib
    assert figures["accuracy"] > 0.9
