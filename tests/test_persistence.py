"""Persistence: pickle and joblib round trips, the fastmlp model file, and the bad files
load refuses."""
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._estimators import persistence
from fastmlp._estimators.persistence import load, save
from fastmlp.exceptions import NotFittedError

from helpers import (
    HEADER,
    Frame,
    assert_same_attributes,
    assert_same_predictions,
    npy_bytes,
    npy_header,
    persisted_names,
    quiet_fit,
    read_members,
    write_members,
    write_zip,
)

CASES = ["multiclass", "binary", "string_labels", "multilabel", "regression_1d",
         "regression_2d"]
DTYPES = [np.float32, np.float64]
_FITTED = {}


def make_data(case, dtype, n=40, n_features=4):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, n_features)).astype(dtype)
    if case == "multiclass":
        return X, rng.randint(3, size=n)
    if case == "binary":
        return X, np.where(rng.rand(n) > 0.5, 7, 3)
    if case == "string_labels":   # object dtype: classes_ is an object array
        return X, np.array(["cat", "dog", "emu"], dtype=object)[rng.randint(3, size=n)]
    if case == "multilabel":
        return X, (rng.rand(n, 3) > 0.5).astype(int)
    if case == "regression_1d":
        return X, rng.normal(size=n)
    return X, rng.normal(size=(n, 2))


def fitted(case, dtype):
    """A tiny fitted model for `case`, fitted once per test session (tests never mutate it)."""
    if (case, dtype) not in _FITTED:
        X, y = make_data(case, dtype)
        estimator = MLPRegressor if case.startswith("regression") else MLPClassifier
        model = estimator(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
        _FITTED[case, dtype] = quiet_fit(model, X, y), X
    return _FITTED[case, dtype]


def fitted_copy(case, dtype=np.float64):
    """A copy of fitted(case, dtype) that the test may change: (model, X)."""
    model, X = fitted(case, dtype)
    return pickle.loads(pickle.dumps(model)), X


@pytest.fixture
def saved(tmp_path):
    """A saved multiclass float64 model: (path, model, X)."""
    model, X = fitted("multiclass", np.float64)
    path = tmp_path / "model.fastmlp"
    save(model, path)
    return path, model, X


# --- round trips --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_pickle_round_trip_keeps_predictions_and_attributes(case, dtype):
    model, X = fitted(case, dtype)
    copy = pickle.loads(pickle.dumps(model))
    assert_same_predictions(model, copy, X)
    assert_same_attributes(model, copy)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_joblib_round_trip_keeps_predictions_and_attributes(case, dtype, tmp_path):
    joblib = pytest.importorskip("joblib", reason="joblib is not installed")
    model, X = fitted(case, dtype)
    joblib.dump(model, tmp_path / "model.joblib")
    copy = joblib.load(tmp_path / "model.joblib")
    assert_same_predictions(model, copy, X)
    assert_same_attributes(model, copy)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_save_load_round_trip_keeps_predictions_weights_loss_curve_and_params(
        case, dtype, tmp_path):
    model, X = fitted(case, dtype)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert type(loaded) is type(model)
    assert_same_predictions(model, loaded, X)
    for name in ("coefs_", "intercepts_"):
        for expected, got in zip(getattr(model, name), getattr(loaded, name)):
            assert got.dtype == expected.dtype == dtype
            np.testing.assert_array_equal(got, expected)
    assert loaded.loss_curve_ == model.loss_curve_
    assert loaded.get_params() == model.get_params()
    assert loaded.hidden_layer_sizes == (5,)
    assert_same_attributes(model, loaded, persisted_names(model))


def test_a_loaded_model_can_be_fitted_again(saved):
    path, model, X = saved
    loaded = quiet_fit(load(path), X, model.predict(X))
    assert loaded.n_iter_ == 3


@pytest.mark.parametrize("case", ["string_labels", "multilabel", "regression_1d"])
def test_saved_file_is_a_plain_npz_with_the_documented_json(case, tmp_path):
    model, _ = fitted(case, np.float32)
    save(model, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    raw = members.pop(HEADER)
    assert raw.dtype == np.uint8 and raw.ndim == 1
    header = json.loads(raw.tobytes().decode("utf-8"))

    assert list(header) == ["format", "format_version", "fastmlp_version", "estimator",
                            "params", "attributes"]
    assert header["format"] == "fastmlp-model"
    assert header["format_version"] == 1
    assert header["fastmlp_version"] == fastmlp.__version__
    assert header["estimator"] == type(model).__name__
    assert header["params"] == {**model.get_params(), "hidden_layer_sizes": [5]}

    attributes = header["attributes"]
    private = "_y_was_1d" if case.startswith("regression") else "_multilabel"
    assert type(model)._persisted_private_attributes == (private,)
    public = {name for name in vars(model) if name.endswith("_") and not name.startswith("_")}
    assert set(attributes) == public | {private}
    assert attributes["validation_scores_"] == {"kind": "none"}
    assert attributes[private] == {"kind": "bool", "value": getattr(model, private)}
    assert attributes["coefs_"] == {"kind": "array_list", "members": ["coefs_.0", "coefs_.1"]}
    assert attributes["intercepts_"] == {"kind": "array_list",
                                         "members": ["intercepts_.0", "intercepts_.1"]}
    assert attributes["loss_curve_"] == {"kind": "float_list", "values": model.loss_curve_}
    assert attributes["loss_"] == {"kind": "float", "value": model.loss_}
    assert attributes["n_iter_"] == {"kind": "int", "value": 3}
    assert attributes["out_activation_"] == {"kind": "str", "value": model.out_activation_}
    for i, coef in enumerate(model.coefs_):
        np.testing.assert_array_equal(members[f"coefs_.{i}"], coef)
        assert members[f"coefs_.{i}"].dtype == np.float32
    expected_members = {"coefs_.0", "coefs_.1", "intercepts_.0", "intercepts_.1"}
    if case == "string_labels":
        assert attributes["classes_"] == {"kind": "array", "member": "classes_"}
        assert members["classes_"].dtype.kind == "U"
        assert members["classes_"].tolist() == ["cat", "dog", "emu"]
        expected_members.add("classes_")
    elif case == "multilabel":
        expected_members.add("classes_")
    assert set(members) == expected_members
    with zipfile.ZipFile(tmp_path / "model.npz") as archive:   # members are .npy files
        assert set(archive.namelist()) == {f"{name}.npy" for name in expected_members | {HEADER}}


def test_save_writes_exactly_the_given_path_str_or_pathlike(tmp_path):
    model, X = fitted("binary", np.float64)
    save(model, str(tmp_path / "model.bin"))
    save(model, tmp_path / "other")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "other"]
    assert_same_predictions(model, load(str(tmp_path / "model.bin")), X)
    assert_same_predictions(model, load(tmp_path / "other"), X)


def test_save_of_an_unfitted_model_raises_not_fitted_and_writes_nothing(tmp_path):
    with pytest.raises(NotFittedError):
        save(MLPClassifier(), tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()


def test_save_refuses_other_estimators(tmp_path):
    with pytest.raises(TypeError, match="only MLPClassifier and MLPRegressor"):
        save(object(), tmp_path / "model.npz")


@pytest.mark.parametrize("name, value", [("random_state", np.random.RandomState(0)),
                                         ("callbacks", [print])],
                         ids=["random_state_instance", "callable_callbacks"])
def test_a_parameter_json_cannot_hold_is_saved_as_null_with_a_warning(name, value, tmp_path):
    model, X = fitted_copy("multiclass")
    model.set_params(**{name: value})
    with pytest.warns(UserWarning, match=name):
        save(model, tmp_path / "model.npz")
    assert read_members(tmp_path / "model.npz")[0]["params"][name] is None
    loaded = load(tmp_path / "model.npz")
    assert getattr(loaded, name) is None
    assert_same_predictions(model, loaded, X)


@pytest.mark.parametrize("params", [dict(learning_rate_init=float("inf")),
                                    dict(n_threads=0), dict(solver="newton")])
def test_save_refuses_params_set_after_fit_that_load_would_refuse(params, tmp_path):
    # set_params checks nothing: an infinite learning rate was saved as null, and the
    # file could not be loaded back
    model, _ = fitted_copy("multiclass")
    model.set_params(**params)
    with pytest.raises(ValueError, match="cannot save a model with invalid params"):
        save(model, tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("estimator, params, target", [
    (MLPClassifier, dict(early_stopping=True, validation_fraction=0.25), "multiclass"),
    (MLPClassifier, dict(solver="lbfgs"), "binary"),
    (MLPClassifier, dict(class_weight="balanced", dropout=0.2), "multiclass"),
    (MLPRegressor, dict(loss="poisson"), "poisson"),
], ids=["early_stopping", "lbfgs", "class_weight_dropout", "poisson"])
def test_save_load_round_trip_of_other_configurations(estimator, params, target, tmp_path):
    X, y = make_data("regression_1d" if target == "poisson" else target, np.float64)
    y = np.abs(y) if target == "poisson" else y
    frame = Frame(X, [f"feature_{i}" for i in range(X.shape[1])])
    model = quiet_fit(estimator(hidden_layer_sizes=(5,), max_iter=3, random_state=0, **params),
                      frame, y)
    assert model.feature_names_in_.dtype == object
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert_same_predictions(model, loaded, frame)
    assert loaded.get_params() == model.get_params()
    assert loaded.feature_names_in_.dtype.kind == "U"
    assert_same_attributes(model, loaded, persisted_names(model))


def test_save_refuses_an_object_array_of_mixed_items_naming_the_attribute(tmp_path):
    model, _ = fitted_copy("multiclass")
    model.classes_ = np.array([1, "two", 3.0], dtype=object)
    with pytest.raises(ValueError, match="classes_"):
        save(model, tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()


def test_save_stores_object_arrays_of_numbers_as_numbers(tmp_path):
    model, X = fitted_copy("multiclass")
    model.classes_ = np.array([10, 20, 30], dtype=object)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert loaded.classes_.dtype == np.int64
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# --- files load refuses ---------------------------------------------------------------

class Tripwire:
    """Unpickling it records that code from a file ran."""

    def __reduce__(self):
        return (_trip, ())


TRIPPED = []


def _trip():
    TRIPPED.append(True)


def test_file_not_found_is_not_a_value_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def test_truncated_file_is_refused(saved):
    path, _, _ = saved
    content = path.read_bytes()
    for length in (0, 10, len(content) // 2, len(content) - 1):
        path.write_bytes(content[:length])
        with pytest.raises(ValueError, match=r"model\.fastmlp.*(truncated|cannot be read)"):
            load(path)


def test_damaged_member_bytes_are_refused(saved):
    path, _, _ = saved
    content = bytearray(path.read_bytes())
    start = content.index(b"\x93NUMPY", content.index(b"coefs_.0.npy"))
    content[start + 200:start + 208] = b"\xff" * 8   # inside the weights: CRC mismatch
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match=r"member 'coefs_\.0' cannot be read"):
        load(path)


def test_garbage_bytes_are_refused(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(np.random.RandomState(0).bytes(5000))
    with pytest.raises(ValueError, match=r"model\.npz.*not an \.npz \(zip\) archive"):
        load(path)


def test_a_plain_npy_file_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz"):
        load(path)


def test_an_npz_without_the_json_member_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as file:
        np.savez(file, coefs=np.zeros(3))
    with pytest.raises(ValueError, match="no __fastmlp__.json member"):
        load(path)


def test_object_array_member_is_refused_without_unpickling(saved):
    path, _, _ = saved
    header, members = read_members(path)
    header["attributes"]["classes_"] = {"kind": "array", "member": "classes_"}
    members["classes_"] = np.array([Tripwire(), 1, 2], dtype=object)
    write_members(path, header, members)   # np.savez pickles the object array
    with pytest.raises(ValueError, match=r"model\.fastmlp.*Object arrays cannot be loaded"):
        load(path)
    assert TRIPPED == []


def _set(path, value):
    """A tampering that sets header[path[0]][path[1]]... to value."""
    def tamper(header, members):
        target = header
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return tamper


def _break_chain(header, members):
    members["coefs_.1"] = np.zeros((4, 3))


def _nan_weight(header, members):
    members["coefs_.0"][1, 2] = np.nan


def _drop_member(header, members):
    del members["intercepts_.1"]


def _extra_member(header, members):
    members["payload"] = np.zeros(3)


def _float32_layer(header, members):
    members["coefs_.1"] = members["coefs_.1"].astype(np.float32)


def _bad_intercept(header, members):
    members["intercepts_.0"] = np.zeros(4)


def _shared_member(header, members):
    header["attributes"]["intercepts_"]["members"][1] = "intercepts_.0"
    del members["intercepts_.1"]


def _float16_weights(header, members):
    for name in members:
        members[name] = members[name].astype(np.float16)


def _structured_member(header, members):
    members["coefs_.0"] = np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])


def _two_classes(header, members):
    members["classes_"] = np.array([0, 1])


def _future_file(header, members):
    header.update(format_version=2, compression="zstd")


def _feature_names(header, members):
    header["attributes"]["feature_names_in_"] = {"kind": "array", "member": "names"}
    members["names"] = np.array(["height", "width"])


def _missing_attribute(header, members):
    del header["attributes"]["_multilabel"]


def _drop_key(header, members):
    del header["params"]


TAMPERINGS = [
    # id: (what is done to the file, the message load must give)
    ("wrong_format", _set(["format"], "numpy-pickle"),
     "format is 'numpy-pickle', not 'fastmlp-model'"),
    ("future_version", _set(["format_version"], 2),
     "format_version 2 was written by a newer fastmlp"),
    ("future_version_new_keys", _future_file,
     "format_version 2 was written by a newer fastmlp"),
    ("version_not_int", _set(["format_version"], "1"), "format_version must be an integer"),
    ("unknown_estimator", _set(["estimator"], "os.system"), "unknown estimator 'os.system'"),
    ("missing_json_key", _drop_key, "must have exactly the keys"),
    ("missing_member", _drop_member, r"array member 'intercepts_\.1' is missing"),
    ("extra_member", _extra_member, r"\['payload'\] are not referenced"),
    ("shared_member", _shared_member, "referenced twice"),
    ("broken_chain", _break_chain, "the layers do not chain"),
    ("intercept_shape", _bad_intercept, r"intercepts_\[0\] has shape \(4,\)"),
    ("nan_weight", _nan_weight, r"coefs_\[0\] or intercepts_\[0\] holds NaN"),
    ("mixed_dtypes", _float32_layer, "must all be float64"),
    ("float16", _float16_weights, "must be float32 or float64"),
    ("structured_member", _structured_member, "has dtype .* which the format does not allow"),
    ("unknown_param", _set(["params", "bogus_parameter"], 1),
     "Invalid parameter 'bogus_parameter'"),
    ("invalid_param", _set(["params", "activation"], "os.system"), "activation must be one of"),
    ("n_features_in", _set(["attributes", "n_features_in_", "value"], 5),
     "n_features_in_ must be the int 4 the weights give; got 5"),
    ("n_layers", _set(["attributes", "n_layers_", "value"], 2),
     "n_layers_ must be the int 3 the weights give; got 2"),
    ("n_outputs_float", _set(["attributes", "n_outputs_"], {"kind": "float", "value": 3.0}),
     "n_outputs_ must be the int 3 the weights give; got 3.0"),
    ("n_outputs_bool", _set(["attributes", "n_outputs_", "value"], True),
     "n_outputs_: True is not of kind 'int'"),
    ("feature_names", _feature_names, "feature_names_in_ must be a 1-D array of 4 names"),
    ("classes_vs_outputs", _two_classes, "2 classes need 1 logistic output"),
    ("out_activation", _set(["attributes", "out_activation_", "value"], "logistic"),
     "need 3 softmax output"),
    ("missing_attribute", _missing_attribute, r"\['_multilabel'\] are missing"),
    ("not_a_fitted_attribute", _set(["attributes", "__class__"], {"kind": "str", "value": "x"}),
     "'__class__' is not a fitted attribute"),
    ("unknown_kind", _set(["attributes", "loss_"], {"kind": "pickle", "value": "x"}),
     "not a valid entry"),
    ("float_as_string", _set(["attributes", "loss_", "value"], "0.5"), "'0.5' is not a float"),
    ("int_as_float", _set(["attributes", "n_iter_", "value"], 3.0),
     "3.0 is not of kind 'int'"),
    ("members_not_list", _set(["attributes", "coefs_", "members"], "coefs_.0"),
     "members must be a non-empty list"),
    ("extra_entry_key", _set(["attributes", "loss_", "extra"], 1),
     "a 'float' entry has the keys"),
]


@pytest.mark.parametrize("tamper, message", [row[1:] for row in TAMPERINGS],
                         ids=[row[0] for row in TAMPERINGS])
def test_tampered_file_is_refused_with_a_message_naming_the_problem(saved, tamper, message):
    path, _, _ = saved
    header, members = read_members(path)
    tamper(header, members)
    write_members(path, header, members)
    with pytest.raises(ValueError, match=r"'[^']*model\.fastmlp' as a fastmlp model") as info:
        load(path)
    assert info.match(message)


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid UTF-8 JSON"),
    ('{"format": NaN}', "NaN is not standard JSON"),
    ('{"format": 1, "format": 2}', "repeats a key"),
    ("[1, 2]", "must hold a JSON object"),
    ("\udcff", "is not valid UTF-8 JSON"),
])
def test_json_member_that_is_not_valid_json_is_refused(saved, text, message):
    path, _, _ = saved
    _, members = read_members(path)
    write_members(path, text.encode("utf-8", "surrogateescape"), members)
    with pytest.raises(ValueError, match=message):
        load(path)


def test_json_member_of_another_dtype_is_refused(saved):
    path, _, _ = saved
    header, members = read_members(path)
    with open(path, "wb") as file:
        np.savez(file, **{HEADER: np.array([json.dumps(header)])}, **members)
    with pytest.raises(ValueError, match="must be a 1-D uint8 array"):
        load(path)


# --- files that would take unbounded memory or time -------------------------------------

# the subprocess imports the same fastmlp as this test process
ENV = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastmlp.__file__)))
# Loads each path of sys.argv[1:] in a Python that cannot map 512 MiB more than importing
# fastmlp took, so that allocating 1 GiB fails, and prints how each load ended.
BOUNDED_LOAD = """
import json, resource, sys
import fastmlp
import fastmlp._estimators.persistence   # what load imports on first use: before the bound
from fastmlp import MLPClassifier, MLPRegressor
mapped = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**29, hard))
outcomes = []
for path in sys.argv[1:]:
    try:
        fastmlp.load(path)
        outcomes.append(["loaded", ""])
    except Exception as error:
        outcomes.append([type(error).__name__, str(error)])
print(json.dumps(outcomes))
"""
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="bounds memory with RLIMIT_AS and /proc")


def load_with_bounded_memory(paths, cwd, timeout=60):
    """[(exception name or "loaded", message)] of load(path) for each path, in a fresh
    Python that fails to allocate 512 MiB beyond what importing fastmlp and its
    estimators takes."""
    done = subprocess.run([sys.executable, "-c", BOUNDED_LOAD, *map(str, paths)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd, env=ENV)
    assert done.returncode == 0, done.stderr
    return [tuple(outcome) for outcome in json.loads(done.stdout)]


def deflated(prefix, fill, n_mib):
    """A write_zip entry: `prefix` then n_mib MiB of the byte `fill`, deflated about
    1000:1 in milliseconds (a full flush after each MiB restarts the compressor, so
    every MiB compresses to the same bytes)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)   # raw deflate, as zip holds it
    mib = fill * 2**20
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(n_mib):
        crc = zlib.crc32(mib, crc)
    return (head + body * n_mib + compressor.flush(), zipfile.ZIP_DEFLATED, crc,
            len(prefix) + n_mib * 2**20)


def write_raw_model(path, header, members, raw):
    """Write a model file (stored .npy members) with `raw` write_zip entries added or
    replacing members, by zip name."""
    text = json.dumps(header).encode("utf-8")
    write_zip(path, {f"{HEADER}.npy": npy_bytes(np.frombuffer(text, dtype=np.uint8)),
                     **{f"{name}.npy": npy_bytes(array) for name, array in members.items()},
                     **raw})


@linux_only
def test_load_refuses_devices_pipes_and_directories_without_reading_them(tmp_path):
    # load read /dev/zero until memory ran out (the zip check reads to the end of what it
    # cannot seek in) and waited forever on a named pipe no one writes to.
    pipe = tmp_path / "model.pipe"
    os.mkfifo(pipe)
    paths = ["/dev/zero", pipe, tmp_path]
    for path, outcome in zip(paths, load_with_bounded_memory(paths, cwd=tmp_path)):
        assert outcome == ("ValueError", f"cannot load {str(path)!r} as a fastmlp model: "
                                         "not a regular file")


@linux_only
def test_compression_bombs_and_oversized_members_are_refused_before_memory_is_taken(saved):
    # load decompressed every member, referenced or not, into memory before it checked
    # anything: a 1 MiB file whose member deflates to 1 GiB took 1 GiB; and a .npy header
    # claiming a 1 GiB array made numpy allocate it before finding the data missing.
    path, _, _ = saved
    header, members = read_members(path)
    gib_of_zeros = deflated(npy_header((2**30,), np.uint8), b"\0", 1024)
    with_payload = {**header, "attributes": {**header["attributes"],
                                             "payload_": {"kind": "array",
                                                          "member": "payload"}}}
    text = json.dumps(header).encode("utf-8")
    files = {   # name: (header, raw zip entries, message)
        "unreferenced_bomb": (header, {"payload.npy": gib_of_zeros}, "compression bomb"),
        "referenced_bomb": (with_payload, {"payload.npy": gib_of_zeros}, "compression bomb"),
        "json_bomb": (header, {f"{HEADER}.npy": deflated(
            npy_header((len(text) + 2**30,), np.uint8) + text, b" ", 1024)},
            "compression bomb"),
        "npy_header_claims_1_gib": (with_payload, {"payload.npy": npy_header(
            (2**27,), np.float64) + bytes(8)},
            r"member 'payload': its \.npy header describes 1073741952 bytes; the archive "
            r"declares 136"),
    }
    paths = []
    for name, (file_header, raw, _) in files.items():
        paths.append(path.with_name(f"{name}.npz"))
        write_raw_model(paths[-1], file_header, members, raw)
        assert paths[-1].stat().st_size < 2**21
    outcomes = load_with_bounded_memory(paths, cwd=path.parent)
    for (name, (_, _, message)), (kind, text) in zip(files.items(), outcomes):
        assert kind == "ValueError", (name, text)
        assert re.search(message, text), (name, text)


def test_an_unreferenced_member_is_refused_before_it_is_read(saved):
    # load read every member before it looked for unreferenced ones: an unreferenced
    # member was decompressed, here failing on a damaged deflate stream.
    path, _, _ = saved
    header, members = read_members(path)
    write_raw_model(path, header, members,
                    {"payload.npy": (b"\xff" * 64, zipfile.ZIP_DEFLATED, 0, 64)})
    with pytest.raises(ValueError, match=r"\['payload'\] are not referenced"):
        load(path)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_members_compressed_with_other_than_deflate_are_refused(saved, method):
    # zipfile decompresses a whole read of a bzip2 or LZMA member at once, whatever size
    # the member declares: a few KiB of such data can expand to GiB before any check.
    path, _, _ = saved
    with np.load(path) as archive, zipfile.ZipFile(path.with_name("copy.npz"), "w",
                                                   compression=method) as copy:
        for info in archive.zip.infolist():
            copy.writestr(info.filename, archive.zip.read(info))
    with pytest.raises(ValueError, match=r"is compressed with (bzip2|lzma); only stored "
                                         r"and deflated"):
        load(path.with_name("copy.npz"))


def test_a_file_numpy_savez_compressed_wrote_loads(saved):
    path, model, X = saved
    header, members = read_members(path)
    raw = json.dumps(header).encode("utf-8")
    with open(path, "wb") as file:
        np.savez_compressed(file, **{HEADER: np.frombuffer(raw, dtype=np.uint8)}, **members)
    assert_same_predictions(model, load(path), X)


def test_a_json_member_beyond_the_size_limit_is_refused_before_it_is_read(saved):
    # load read and parsed a JSON member of any size; JSON parses into many times its
    # size in Python objects.
    path, _, _ = saved
    header, members = read_members(path)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (persistence.MAX_JSON_BYTES + 1 - len(text))   # valid JSON, too long
    write_members(path, text, members)
    with pytest.raises(ValueError, match=f"{HEADER} holds {persistence.MAX_JSON_BYTES + 1} "
                                         f"bytes; load reads at most "
                                         f"{persistence.MAX_JSON_BYTES}"):
        load(path)


def test_save_refuses_a_json_beyond_the_size_load_reads_and_writes_nothing(
        tmp_path, monkeypatch):
    model, _ = fitted("multiclass", np.float64)
    monkeypatch.setattr(persistence, "MAX_JSON_BYTES", 1000)
    with pytest.raises(ValueError, match="bytes of JSON; load reads at most 1000"):
        save(model, tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()


def test_a_file_asking_for_absurdly_many_threads_is_refused(saved):
    # check_hyperparameters accepted any positive n_threads, so a file could ask predict
    # for 2**62 threads (and partial_fit crashed on it)
    path, _, _ = saved
    header, members = read_members(path)
    header["params"]["n_threads"] = 2**62
    write_members(path, header, members)
    with pytest.raises(ValueError, match="n_threads"):
        load(path)
