"""fastmlp.export.to_c: the exported C99 forward pass computes what the model does.

Every hidden activation, every kind of target (binary, multiclass and multilabel
classification; single- and multi-output regression, and the Poisson loss) and both
dtypes: fit a tiny model, export it, compile it with the system's C compiler, load it
with ctypes and compare 1,000 rows with predict_proba / predict. Skipped without `cc`.
"""
import ctypes
import os
import shutil
import subprocess

import numpy as np
import pytest
from export_cases import KINDS, N_FEATURES, fitted

from fastmlp import MLPClassifier
from fastmlp._engine.registry import HIDDEN_ACTIVATIONS
from fastmlp.exceptions import NotFittedError
from fastmlp.export import to_c

CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc) found")


def assert_close(got, expected, dtype):
    """rtol 1e-5 (atol 1e-6) in float32, rtol 1e-12 in float64, where an output near 0
    (a sum that cancels) is compared with an atol of 1e-12 times the largest output:
    the C code sums in another order than the BLAS."""
    if dtype == np.float32:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12,
                                   atol=1e-12 * float(np.abs(expected).max()))


def compile_c(source, extra_flags=()):
    """The shared library built from `source` by the command the docs give, loaded."""
    library = os.path.splitext(source)[0] + ".so"
    done = subprocess.run([CC, "-std=c99", "-O2", "-shared", "-fPIC", *extra_flags,
                           "-o", library, source, "-lm"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return ctypes.CDLL(library), done.stderr


def c_type(dtype):
    return ctypes.c_float if dtype == np.float32 else ctypes.c_double


def run_rows(function, X, n_outputs):
    """function(x, out) on every row of X: the (rows, n_outputs) outputs."""
    T = c_type(X.dtype)
    function.argtypes = [ctypes.POINTER(T), ctypes.POINTER(T)]
    function.restype = None
    out = np.empty((len(X), n_outputs), dtype=X.dtype)
    for row, target in zip(X, out):
        function(row.ctypes.data_as(ctypes.POINTER(T)), target.ctypes.data_as(ctypes.POINTER(T)))
    return out


def run_labels(function, X):
    T = c_type(X.dtype)
    function.argtypes = [ctypes.POINTER(T)]
    function.restype = ctypes.c_int
    return np.array([function(row.ctypes.data_as(ctypes.POINTER(T))) for row in X])


def header_define(header, name):
    for line in open(header).read().splitlines():
        if line.startswith(f"#define {name} "):
            return int(line.split()[2])
    raise AssertionError(f"{name} is not defined in {header}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_exported_forward_pass_matches_the_model(tmp_path, activation, kind, dtype):
    model, X = fitted(kind, activation, dtype)
    header, source = to_c(model, tmp_path / "net", name="net")
    library, _ = compile_c(source)
    n_outputs = header_define(header, "NET_N_OUTPUTS")
    assert header_define(header, "NET_N_INPUTS") == N_FEATURES
    assert ("float" if dtype == np.float32 else "double") + "* x" in open(header).read()
    if isinstance(model, MLPClassifier):
        expected = model.predict_proba(X)
        assert n_outputs == expected.shape[1]
        got = run_rows(library.net_predict_proba, X, n_outputs)
        assert_close(got, expected, dtype)
        if kind == "multilabel":
            assert not hasattr(library, "net_predict")
        else:
            indices = run_labels(library.net_predict, X)
            np.testing.assert_array_equal(model.classes_[indices], model.predict(X))
    else:
        expected = model.predict(X).reshape(len(X), -1)
        assert n_outputs == expected.shape[1]
        got = run_rows(library.net_predict, X, n_outputs)
        assert_close(got, expected, dtype)


def test_weights_are_written_exactly(tmp_path):
    """The arrays read back bit for bit: the float literals round-trip."""
    for dtype in (np.float32, np.float64):
        model, _ = fitted("multiclass", "tanh", dtype)
        _, source = to_c(model, tmp_path / f"w_{np.dtype(dtype).name}")
        text = open(source).read()
        for i, W in enumerate(model.coefs_):
            block = text.split(f"_W{i}[")[1].split("= {", 1)[1].split("};")[0]
            numbers = [float(v.rstrip("f")) for v in
                       block.replace("{", " ").replace("}", " ").replace(",", " ").split()]
            assert np.array_equal(np.array(numbers, dtype=dtype), W.ravel())


def test_files_names_and_the_strict_compiler(tmp_path):
    model, X = fitted("multiclass", "relu", np.float64)
    # a path ending in .c: the extension is dropped; the name comes from the file name
    header, source = to_c(model, str(tmp_path / "my-model.c"))
    assert (header, source) == (str(tmp_path / "my-model.h"), str(tmp_path / "my-model.c"))
    text = open(header).read()
    assert "int my_model_predict(const double* x);" in text
    assert "#define MY_MODEL_N_CLASSES 3" in text
    assert "my_model_classes[3] = {-5LL, 5LL, 15LL}" in text
    assert "#include <math.h>" in open(source).read()
    includes = [line for line in open(source).read().splitlines()
                if line.startswith("#include")]
    assert includes == ["#include <math.h>", '#include "my-model.h"']
    # no warnings from a pedantic C99 compiler
    library, warnings = compile_c(source, ["-Wall", "-Wextra", "-pedantic", "-Werror"])
    assert warnings == ""
    indices = run_labels(library.my_model_predict, X[:50])
    np.testing.assert_array_equal(model.classes_[indices], model.predict(X[:50]))


def test_string_labels_are_listed_in_the_header(tmp_path):
    model, _ = fitted("binary", "relu", np.float32)
    header, _ = to_c(model, tmp_path / "b", name="spam_filter")
    text = open(header).read()
    assert 'spam_filter_class_names[2] = {"no", "yes"};' in text
    assert "spam_filter_classes[" not in text   # not integer labels
    assert "#define SPAM_FILTER_N_OUTPUTS 2" in text


def test_refuses_what_it_cannot_export(tmp_path):
    with pytest.raises(NotFittedError):
        to_c(MLPClassifier(), tmp_path / "m")
    for thing in (object(), "model", None):
        with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor"):
            to_c(thing, tmp_path / "m")
    model, _ = fitted("regression", "relu", np.float64)
    for name in ("1abc", "a-b", "", "naïve"):
        with pytest.raises(ValueError, match="C identifier"):
            to_c(model, tmp_path / "m", name=name)
    with pytest.raises(TypeError, match="name"):
        to_c(model, tmp_path / "m", name=3)
    model.coefs_[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        to_c(model, tmp_path / "m")
    assert not os.listdir(tmp_path)   # nothing written by a refusal
