"""Property tests of the model file: save -> load round trips of random fitted models, and
load of damaged or tampered files, which must be refused with a ValueError (no other
exception) or load as a model that predicts what the original did, within a few seconds
and 16 MiB of memory.

The hypothesis profile (tests/conftest.py) sets how many examples run: a few derandomized
ones by default, ten times as many with FASTMLP_HYPOTHESIS_PROFILE=fastmlp-long.
"""
import contextlib
import json
import re
import signal
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._engine.registry import HIDDEN_ACTIVATIONS, SOLVERS
from fastmlp._estimators.persistence import load, save

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
    write_zip,
)

TARGETS = ["binary", "multiclass", "multilabel", "string_labels", "regression",
           "regression_2d", "poisson"]


# --- random fitted models ---------------------------------------------------------------

def make_target(target, rng, n):
    """Targets of this kind for n rows; every class (label value) appears at least twice
    when n >= 8, so that early stopping can split off a stratified half."""
    if target == "binary":
        return rng.permutation(np.arange(n) % 2 * 4 + 3)   # the labels 3 and 7
    if target == "multiclass":
        return rng.permutation(np.arange(n) % 3)
    if target == "multilabel":
        return (rng.rand(n, 3) > 0.5).astype(int)
    if target == "string_labels":   # object dtype: saved as a unicode classes_
        return np.array(["cat", "dog", "emu"], dtype=object)[rng.permutation(np.arange(n) % 3)]
    if target == "regression":
        return rng.normal(size=n)
    if target == "regression_2d":
        return rng.normal(size=(n, 2))
    return rng.poisson(1.5, size=n).astype(float)


@st.composite
def fitted_models(draw, activations=HIDDEN_ACTIVATIONS):
    """(model, inputs): a model fitted for 1 to 3 epochs on a few random rows, and the
    inputs to predict on: all rows, and one row (which predict serves its own way)."""
    target = draw(st.sampled_from(TARGETS))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    early_stopping = draw(st.booleans())
    params = dict(hidden_layer_sizes=tuple(draw(st.lists(st.integers(1, 8), min_size=1,
                                                         max_size=3))),
                  activation=draw(st.sampled_from(activations)),
                  solver=draw(st.sampled_from(SOLVERS)), max_iter=draw(st.integers(1, 3)),
                  early_stopping=early_stopping, validation_fraction=0.5, n_threads=1,
                  random_state=draw(st.integers(0, 2**31 - 1)))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    n_samples, n_features = draw(st.integers(8, 24)), draw(st.integers(1, 6))
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    y = make_target(target, rng, n_samples)
    if target.startswith("regression") or target == "poisson":
        estimator = MLPRegressor(loss="poisson" if target == "poisson" else "squared_error",
                                 **params)
    else:
        estimator = MLPClassifier(**params)
    inputs = [X, X[:1]]
    if draw(st.booleans()):   # fitted on a DataFrame: feature_names_in_
        names = [f"feature_{i}" for i in range(n_features)]
        inputs = [Frame(X, names), Frame(X[:1], names)]
    return quiet_fit(estimator, inputs[0], y), inputs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One directory for the module: hypothesis examples cannot take tmp_path."""
    return tmp_path_factory.mktemp("fuzz")


@given(fitted=fitted_models())
def test_save_load_round_trip_keeps_predictions_params_and_fitted_attributes(workdir, fitted):
    model, inputs = fitted
    save(model, workdir / "model.npz")
    loaded = load(workdir / "model.npz")
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    # before predicting: a single-row prediction fills the model's _row_predictor
    assert_same_attributes(model, loaded, persisted_names(model))
    for X in inputs:
        assert_same_predictions(model, loaded, X)
    event(f"{type(model).__name__}, {model.coefs_[0].dtype}, solver {model.solver}")


# --- what load must do with a damaged or tampered file ------------------------------------

class Hang(BaseException):
    """A load that ran too long: a BaseException, which load's own handlers let pass."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise Hang in the block when it runs longer than `seconds` (where Unix timers are)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise Hang(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def memory_limit(nbytes):
    """Fail when the block allocates more than `nbytes` at its peak (as tracemalloc
    counts, numpy's array data included), whether it raises or not."""
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= nbytes, f"load took {peak} bytes at its peak"


def assert_refused_or_unchanged(path, model, inputs):
    """load(path) raises ValueError, and nothing else, or gives a model that predicts
    what `model` does; load takes at most 16 MiB (the files are a few KiB), and neither
    may take more than a few seconds."""
    try:
        with time_limit(10):
            try:
                with memory_limit(2**24):
                    loaded = load(path)
            except ValueError:
                event("refused")
                return
            event("loaded")
            for X in inputs:
                assert_same_predictions(model, loaded, X)
    except Hang as hang:   # an AssertionError, which hypothesis shrinks
        raise AssertionError(f"load or predict ran {hang}") from hang


# Models for the tampering tests keep the default activation: a parameter removed from
# the file loads as its default, which then changes nothing predict computes.
tamperable_models = fitted_models(activations=["relu"])


def structure_offsets(content):
    """Where zip headers and .npy headers start: edits near them reach load's checks,
    edits elsewhere mostly hit member data, which the CRC-32 guards."""
    signatures = (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07",
                  b"\x93NUMPY")
    return sorted(match.start() for signature in signatures
                  for match in re.finditer(re.escape(signature), content))


# Sizes, counts and offsets that are edge cases for 2- 4- and 8-byte fields.
EXTREME_FIELDS = st.sampled_from([
    struct.pack("<H", 0), struct.pack("<H", 0xFFFF), struct.pack("<I", 0),
    struct.pack("<I", 1), struct.pack("<I", 0x7FFFFFFF), struct.pack("<I", 0xFFFFFFFF),
    struct.pack("<Q", 2**63 - 1), struct.pack("<Q", 2**64 - 1)])


def edit_bytes(data, content):
    """`content` after 1 to 3 edits drawn from `data`: a byte flipped, bytes inserted or
    deleted, an extreme field value written over, or the rest cut off."""
    content = bytearray(content)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        anchors = structure_offsets(bytes(content)) or [0]
        at = data.draw(st.one_of(
            st.sampled_from(anchors).flatmap(lambda anchor: st.integers(anchor, anchor + 63)),
            st.integers(0, len(content))), label="at")
        at = min(at, len(content))
        edit = data.draw(st.sampled_from(["flip", "insert", "delete", "field", "truncate"]),
                         label="edit")
        if edit == "flip" and at < len(content):
            content[at] ^= data.draw(st.integers(1, 255), label="mask")
        elif edit == "insert":
            content[at:at] = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        elif edit == "delete":
            del content[at:at + data.draw(st.integers(1, 8), label="length")]
        elif edit == "field":
            field = data.draw(EXTREME_FIELDS, label="field")
            content[at:at + len(field)] = field
        elif edit == "truncate":
            del content[at:]
    return bytes(content)


@given(fitted=tamperable_models, data=st.data())
def test_a_file_with_damaged_bytes_is_refused_or_loads_unchanged(workdir, fitted, data):
    model, inputs = fitted
    path = workdir / "damaged.npz"
    save(model, path)
    path.write_bytes(edit_bytes(data, path.read_bytes()))
    assert_refused_or_unchanged(path, model, inputs)


FINITE_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON_SCALARS = {"null": st.none(), "bool": st.booleans(), "int": st.integers(),
                "float": FINITE_FLOATS, "str": st.text(max_size=8)}
JSON_VALUES = st.recursive(
    st.one_of(*JSON_SCALARS.values()),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6)
# JSON values by type (bool before int in JSON_TYPES: True is an int)
JSON_BY_TYPE = {**JSON_SCALARS, "list": st.lists(JSON_VALUES, max_size=3),
                "object": st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)}
JSON_TYPES = ((type(None), "null"), (bool, "bool"), (int, "int"), (float, "float"),
              (str, "str"), (list, "list"), (dict, "object"))
EXTREME_INTS = st.sampled_from([-1, 0, 2**31, 2**63, -2**63, 10**30]) | st.integers()
ENTRY_KINDS = ["none", "bool", "int", "float", "str", "float_list", "array", "array_list",
               "dict"]
# Shapes numpy reads from a .npy header that no small member can hold.
HUGE_OR_NEGATIVE = st.sampled_from([2**31, 2**40, 2**62, 2**63 - 1, -1, -2**40])


def json_type(value):
    return next(name for kind, name in JSON_TYPES if isinstance(value, kind))


def json_paths(value, path=()):
    """Every path (a tuple of keys and indices) to a value inside `value`."""
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        yield path + (key,)
        yield from json_paths(item, path + (key,))


def node(header, path):
    for key in path:
        header = header[key]
    return header


def entries(kind, members):
    """Well-formed attribute entries of this kind, arrays named from `members` or not."""
    member = st.sampled_from(sorted(members)) | st.text(max_size=8)
    floats = FINITE_FLOATS | st.sampled_from(["nan", "inf", "-inf"])
    values = {"none": st.just({}), "bool": st.booleans().map(lambda v: {"value": v}),
              "int": EXTREME_INTS.map(lambda v: {"value": v}),
              "float": floats.map(lambda v: {"value": v}),
              "str": st.text(max_size=8).map(lambda v: {"value": v}),
              "float_list": st.lists(floats, max_size=3).map(lambda v: {"values": v}),
              "array": member.map(lambda v: {"member": v}),
              "array_list": st.lists(member, min_size=1, max_size=3).map(
                  lambda v: {"members": v}),
              "dict": st.dictionaries(st.text(max_size=8), st.sampled_from(ENTRY_KINDS[:5])
                                      .flatmap(lambda k: entries(k, members)),
                                      max_size=2).map(lambda v: {"items": v})}
    return values[kind].map(lambda rest: {"kind": kind, **rest})


def tamper(data, header, members, raw):
    """One tampering drawn from `data`, done in place: the JSON header with a value of
    another type, an extreme int, a key removed or added, an attribute entry of another
    kind; or the members with one added, one removed, or a .npy header claiming a huge
    or negative shape. None of them makes another valid model with other predictions."""
    paths = list(json_paths(header))
    attributes = header.get("attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    what = data.draw(st.sampled_from(["retype", "extreme_int", "remove_key", "add_key",
                                      "other_kind", "add_member", "remove_member",
                                      "huge_shape"]), label="tampering")
    event(what)
    if what == "retype" and paths:
        path = data.draw(st.sampled_from(paths), label="path")
        old = json_type(node(header, path))
        new = data.draw(st.sampled_from([kind for kind in JSON_BY_TYPE if kind != old]),
                        label="type")
        node(header, path[:-1])[path[-1]] = data.draw(JSON_BY_TYPE[new], label="value")
    elif what == "extreme_int":
        ints = [path for path in paths if json_type(node(header, path)) == "int"]
        if ints:
            path = data.draw(st.sampled_from(ints), label="path")
            node(header, path[:-1])[path[-1]] = data.draw(EXTREME_INTS, label="value")
    elif what == "remove_key":
        keys = [path for path in paths if isinstance(node(header, path[:-1]), dict)]
        if keys:
            path = data.draw(st.sampled_from(keys), label="path")
            del node(header, path[:-1])[path[-1]]
    elif what == "add_key":
        objects = [()] + [path for path in paths if isinstance(node(header, path), dict)]
        target = node(header, data.draw(st.sampled_from(objects), label="object"))
        key = data.draw(st.sampled_from(["extra_", "kind", "value", "members", "items"])
                        | st.text(max_size=8), label="key")
        if key not in target:
            target[key] = data.draw(JSON_VALUES, label="value")
    elif what == "other_kind" and attributes:
        name = data.draw(st.sampled_from(sorted(attributes)), label="attribute")
        old = attributes[name].get("kind") if isinstance(attributes[name], dict) else None
        kind = data.draw(st.sampled_from([k for k in ENTRY_KINDS if k != old]), label="kind")
        attributes[name] = data.draw(entries(kind, members), label="entry")
    elif what == "add_member":
        name = data.draw(st.sampled_from(["payload", "extra_", "coefs_.9", "a.b"]),
                         label="member")
        if name in members:
            return
        members[name] = data.draw(st.sampled_from([np.zeros(3), np.arange(4.0).reshape(2, 2),
                                                   np.array(["a", "b"])]), label="array")
        if data.draw(st.booleans(), label="referenced") and "extra_" not in attributes:
            attributes["extra_"] = {"kind": "array", "member": name}
    elif what == "remove_member" and members:
        del members[data.draw(st.sampled_from(sorted(members)), label="member")]
    elif what == "huge_shape" and members:
        name = data.draw(st.sampled_from(sorted(members)), label="member")
        shape = data.draw(st.lists(st.integers(0, 4), max_size=2), label="small dims")
        shape.insert(data.draw(st.integers(0, len(shape)), label="where"),
                     data.draw(HUGE_OR_NEGATIVE, label="huge dim"))
        raw[f"{name}.npy"] = (npy_header(shape, members.pop(name).dtype)
                              + data.draw(st.binary(max_size=64), label="data"))


@given(fitted=tamperable_models, data=st.data())
def test_a_file_with_a_tampered_json_or_members_is_refused_or_loads_unchanged(
        workdir, fitted, data):
    model, inputs = fitted
    path = workdir / "tampered.npz"
    save(model, path)
    header, members = read_members(path)
    raw = {}   # zip name -> .npy bytes that np.save would not write
    for _ in range(data.draw(st.integers(1, 3), label="tamperings")):
        tamper(data, header, members, raw)
    text = json.dumps(header).encode("utf-8")
    write_zip(path, {f"{HEADER}.npy": npy_bytes(np.frombuffer(text, dtype=np.uint8)),
                     **{f"{name}.npy": npy_bytes(array) for name, array in members.items()},
                     **raw})
    assert_refused_or_unchanged(path, model, inputs)
