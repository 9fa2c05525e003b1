"""One fuzz case, run in a worker process (tests/test_fuzz.py starts it): build the input
a case describes, make the call with both engines, and list every way the result breaks
the contract.

The contract: a call either succeeds, and then its result matches the NumPy reference
engine's (``engine="numpy"``), or raises ValueError, TypeError or DivergenceError and
leaves the model exactly as it was. Input holding NaN or infinity, or a malformed sparse
matrix, must be refused. No call may change the floating-point control state.

A case is a dict of plain values (printable, picklable); the arrays are built here from
its seed, so that the printed case reproduces the failure.
"""
import copy
import os
import signal
import tempfile
import traceback
import warnings

import numpy as np
import scipy.sparse as sp

from fastmlp import MLPClassifier, MLPRegressor, load
from fastmlp._kernels.common import floating_point_control
from fastmlp.exceptions import DivergenceError

from helpers import assert_same_value

ALLOWED = (ValueError, TypeError, DivergenceError)

# How far the Cython engine may be from the NumPy engine after a few epochs, relative to
# the largest weight: float64 sums in another order, and Adam and RMSprop divide by
# sqrt(v) + epsilon, so the last bits of a gradient near zero move a weight by up to
# learning_rate * (those bits) / epsilon (4e-7 of the largest weight after 8 RMSprop
# steps at learning rate 0.3, the largest seen); float32 rounds every step, and a ReLU
# unit near its kink may switch on in one engine and not in the other.
FIT_RTOL = {np.float64: 1e-5, np.float32: 2e-2}
# A prediction from the same weights: one forward pass, rounding only, relative to a
# bound on the magnitudes it sums (large terms that cancel leave only their rounding).
PREDICT_RTOL = {np.float64: 1e-10, np.float32: 1e-4}


# --- the input a case describes --------------------------------------------------------

def make_targets(kind, rng, n):
    if kind == "binary":
        return np.arange(n) % 2 * 4 + 3           # the labels 3 and 7
    if kind == "multiclass":
        return rng.permutation(np.arange(n) % 3)
    if kind == "one_class":
        return np.zeros(n, dtype=int)
    if kind == "multilabel":
        return (rng.random_sample((n, 3)) > 0.5).astype(int)
    if kind == "strings":
        return np.array(["cat", "dog", "emu"], dtype=object)[np.arange(n) % 3]
    if kind == "regression":
        return rng.normal(size=n)
    if kind == "regression_2d":
        return rng.normal(size=(n, 2))
    if kind == "regression_nan":
        y = rng.normal(size=n)
        y[rng.randint(n)] = np.nan
        return y
    if kind == "too_short":
        return np.arange(max(n - 1, 0)) % 2
    raise AssertionError(kind)


def make_sample_weight(kind, rng, n):
    """None, or sample weights of this kind for n rows."""
    weights = {None: None, "random": rng.random_sample(n) * 3, "zeros": np.zeros(n),
               "one_nonzero": np.eye(1, n, rng.randint(n))[0], "negative": -np.ones(n),
               "nan": np.full(n, np.nan), "huge": np.full(n, 1e300),
               "too_long": np.ones(n + 1), "int": np.arange(n) % 3}
    return weights[kind]


SPECIAL_VALUES = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "max64": 1.7e308,
                  "max32": 3.4e38, "huge": 1e30, "denormal": 1e-310, "zero": 0.0}


def make_values(spec, rng):
    """The dense float64 values of X: random normal, scaled, with special values."""
    X = rng.normal(size=(spec["n"], spec["f"])) * spec["scale"]
    if spec["zero_fraction"]:
        X[rng.random_sample(X.shape) < spec["zero_fraction"]] = 0.0
    if X.size:
        for name in spec["specials"]:
            X.flat[rng.randint(X.size)] = SPECIAL_VALUES[name]
    return X


def make_malformed_csr(X, how, index_dtype):
    """A CSR matrix of X's shape whose arrays break one rule scipy does not check."""
    A = sp.csr_matrix(X if X.size and np.count_nonzero(X) else np.ones(X.shape))
    indices = A.indices.astype(index_dtype)
    indptr = A.indptr.astype(index_dtype)
    data = A.data.copy()
    if how == "index_far_past":
        indices[-1] = 10**8
    elif how == "index_negative":
        indices[0] = -1
    elif how == "index_at_n_features":
        indices[-1] = X.shape[1]
    elif how == "indptr_backwards":
        if len(indptr) > 2:
            indptr[1] = indptr[-1] + 1
        else:
            indptr[-1] = -1
    elif how == "indptr_past_data":
        indptr[-1] = len(data) + 5
    # assigned after construction, as a user may do it: scipy's constructor checks
    # some of these rules, its attributes none
    A.data, A.indices, A.indptr = data, indices, indptr
    return A


def make_input(spec, values):
    """X in the dtype, container and memory layout the spec names."""
    layout, dtype = spec["layout"], spec["dtype"]
    if layout.startswith("malformed_"):
        return make_malformed_csr(values, layout[len("malformed_"):], np.int32)
    if dtype == "strings":
        X = values.astype(str).astype(object)
    elif dtype == "complex128":
        X = values.astype(np.complex128) + 1j
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            X = values.astype(dtype)
    if layout == "C":
        return np.ascontiguousarray(X)
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "strided":            # every other row and column of a bigger array
        big = np.zeros((2 * X.shape[0], 2 * X.shape[1]), dtype=X.dtype)
        big[::2, ::2] = X
        return big[::2, ::2]
    if layout == "list":
        return X.tolist()
    if layout == "1d":
        return X.ravel()
    if layout == "3d":
        return X[:, :, None]
    if X.dtype in (np.float16, object):   # dtypes scipy.sparse does not hold
        X = values
    if layout in ("csr", "csc", "coo"):
        return sp.csr_matrix(X).asformat(layout)
    if layout == "csr_int64":
        A = sp.csr_matrix(X)
        A.indices, A.indptr = A.indices.astype(np.int64), A.indptr.astype(np.int64)
        return A
    raise AssertionError(layout)


def build(spec, seed):
    """(X, y) for an input spec."""
    rng = np.random.RandomState(seed)
    X = make_input(spec, make_values(spec, rng))
    return X, make_targets(spec["targets"], rng, spec["n"])


def is_hostile(spec, X):
    """True when the input must be refused: a malformed matrix, or values that are NaN or
    infinite in the dtype X comes in (1e30 is infinite in float16; a string "nan" too)."""
    if spec["layout"].startswith("malformed_"):
        return True
    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    if dense.dtype.kind in "OUS":
        dense = dense.astype(np.float64)
    return not np.all(np.isfinite(dense))


# --- what a call did -------------------------------------------------------------------

def snapshot(model):
    """A deep copy of the model's state, to compare after a call that must not change it.
    The row predictor is a cache of the weights, rebuilt at will: left out."""
    return {name: copy.deepcopy(value) for name, value in vars(model).items()
            if name != "_row_predictor"}


def changes(before, model):
    """How the model differs from a snapshot: [] when it does not."""
    after = {name: value for name, value in vars(model).items() if name != "_row_predictor"}
    if after.keys() != before.keys():
        return [f"attributes added {sorted(after.keys() - before.keys())} or removed "
                f"{sorted(before.keys() - after.keys())}"]
    found = []
    for name, value in before.items():
        if after[name] is value:   # immutable (deepcopy kept it): unchanged, NaN included
            continue
        try:
            assert_same_value(value, after[name], name)
        except AssertionError as error:
            found.append(f"{name} changed: {str(error)[:200]}")
    return found


# what the calls of the current case did, "fit: ok" or "predict: ValueError" (reported
# as hypothesis events: the share of calls that got through to the kernels)
OUTCOMES = []


def call(model, method, *args):
    """('ok', result) or (exception class name, message): quietly, warnings ignored."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            outcome = "ok", getattr(model, method)(*args)
        except ALLOWED as error:
            outcome = type(error).__name__, str(error)
    if model.engine == "cython":
        OUTCOMES.append(f"{method}: {outcome[0]}")
    return outcome


def engine_copy(model, engine):
    """The same fitted model, predicting with another engine."""
    other = copy.copy(model)
    other.__dict__ = dict(model.__dict__, engine=engine, _row_predictor=None)
    return other


def magnitude(arrays):
    return max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)


def output_terms(model, X):
    """A bound on the magnitudes the forward pass adds up for X, for the rounding of
    its sums: M_0 = |X|, M_i = (M_(i-1) + 1) @ |W_i| + |b_i| (an activation's output
    is at most its input's magnitude plus 1), the largest entry of the last."""
    M = np.abs(X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64))
    with np.errstate(all="ignore"):
        for W, b in zip(model.coefs_, model.intercepts_):
            M = (M + 1) @ np.abs(np.asarray(W, np.float64)) + np.abs(b)
    return float(np.max(M, initial=0.0))


def compare_arrays(got, want, rtol, what, scale=None):
    """[] when got matches want within rtol of `scale` (default: want's largest
    magnitude)."""
    got, want = list(got), list(want)
    if [a.shape for a in got] != [b.shape for b in want]:
        return [f"{what}: shapes {[a.shape for a in got]} != {[b.shape for b in want]}"]
    scale = scale or magnitude(want) or 1.0
    for i, (a, b) in enumerate(zip(got, want)):
        if a.dtype != b.dtype:
            return [f"{what}[{i}]: dtype {a.dtype} != {b.dtype}"]
        error = float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0))
        if not error <= rtol * scale:
            return [f"{what}[{i}]: differs from the reference by {error:.3g} "
                    f"(scale {scale:.3g}, rtol {rtol:g})"]
    return []


# --- the checks of one call --------------------------------------------------------------

def check_refusal(outcome, before, model, what):
    """A refused call must leave the model as it was."""
    if outcome[0] == "ok":
        return []
    return [f"{what} raised {outcome[0]} but {change}" for change in changes(before, model)]


def check_training(case, models, outcomes, befores, hostile):
    """fit or partial_fit with the two engines: the same outcome, and the same model."""
    problems = []
    for engine in models:
        problems += check_refusal(outcomes[engine], befores[engine], models[engine],
                                  f"{case['call']} ({engine})")
    kinds = {engine: outcome[0] for engine, outcome in outcomes.items()}
    if kinds["cython"] != kinds["numpy"]:
        problems.append(f"the engines disagree: {outcomes}")
    elif kinds["cython"] == "ok":
        if hostile:
            problems.append(f"{case['call']} accepted non-finite or malformed input")
        model = models["cython"]
        dtype = model.coefs_[0].dtype.type
        if not chaotic(dtype, model):
            problems += compare_arrays(
                model.coefs_ + model.intercepts_,
                models["numpy"].coefs_ + models["numpy"].intercepts_, FIT_RTOL[dtype],
                f"{case['call']}: the weights")
        if not (all(np.isfinite(a).all() for a in model.coefs_ + model.intercepts_)
                and np.isfinite(model.loss_)):
            problems.append(f"{case['call']} returned non-finite weights or loss")
    return problems


def chaotic(dtype, model):
    """True for float32 training that no other summation order reproduces: Adam, AdamW
    and RMSprop move a weight by about the learning rate whatever the size of its
    gradient, and a float32 gradient that cancels to near zero (a saturated unit) is
    rounding noise, so at learning rates of 0.1 and more the two engines take other
    paths (either may be the nearer to the float64 path). Their predictions from the
    same weights are still compared. partial_fit goes on at the rate of the fit."""
    rate = max(model.learning_rate_init, getattr(model, "_learning_rate", 0.0) or 0.0)
    return (dtype == np.float32 and model.solver in ("adam", "adamw", "rmsprop")
            and rate >= 0.1)


def check_predictions(model, X, y, hostile):
    """predict, predict_proba and score on X: refused with the model unchanged, or equal
    to the NumPy engine's from the same weights."""
    problems = []
    numpy_model = engine_copy(model, "numpy")
    dtype = model.coefs_[0].dtype.type
    methods = ["predict", "score"] + (["predict_proba"] if hasattr(model, "classes_") else [])
    for method in methods:
        before = snapshot(model)
        args = (X, y) if method == "score" else (X,)
        got, want = call(model, method, *args), call(numpy_model, method, *args)
        problems += check_refusal(got, before, model, method)
        if got[0] != want[0]:
            problems.append(f"{method}: the engines disagree: {got[0]} and {want[0]}")
        elif got[0] == "ok":
            if hostile:
                problems.append(f"{method} accepted non-finite or malformed input")
            if method == "predict_proba" or (method == "predict"
                                             and not hasattr(model, "classes_")):
                scale = max(magnitude([want[1]]), output_terms(model, X))
                problems += compare_arrays([got[1]], [want[1]], PREDICT_RTOL[dtype], method,
                                           scale)
            elif method == "predict" and got[1].dtype != want[1].dtype:
                problems.append(f"predict: dtype {got[1].dtype} != {want[1].dtype}")
    return problems


def check_save_load(model, X):
    """A fitted model saves, loads back, and predicts the very same values."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.fastmlp")
        model.save(path)
        loaded = load(path)
    X = np.asarray(X) if not sp.issparse(X) else X
    a, b = call(model, "predict", X), call(loaded, "predict", X)
    if a[0] != b[0] or (a[0] == "ok" and not np.array_equal(a[1], b[1])):
        return [f"the loaded model predicts otherwise: {a[0]} vs {b[0]}"]
    return []


# --- one case --------------------------------------------------------------------------

def make_model(case, engine, params=None):
    kind = MLPRegressor if case["input"]["targets"].startswith("regression") else MLPClassifier
    return kind(**dict(params if params is not None else case["params"], engine=engine))


def clean_fit(case, engine):
    """A model fitted with the case's valid base parameters on a clean copy of its input,
    or None when even that fit is refused (a learning rate that diverges, say)."""
    spec = dict(case["input"], layout="C", dtype="float64", specials=[], scale=1.0)
    if spec["targets"] in ("regression_nan", "too_short", "one_class"):
        spec["targets"] = "regression" if spec["targets"] == "regression_nan" else "binary"
    spec["n"], spec["f"] = max(spec["n"], 2), case["fit_features"]
    X, y = build(spec, case["seed"] + 1)
    model = make_model(dict(case, input=spec), engine, case["base_params"])
    outcome = call(model, "fit", X.astype(case["fit_dtype"]), y)
    return model if outcome[0] == "ok" else None


def check_case(case):
    X, y = build(case["input"], case["seed"])
    hostile = is_hostile(case["input"], X)
    if case["call"] == "predict":
        model = clean_fit(case, "cython")
        return [] if model is None else check_predictions(model, X, y, hostile)
    engines = ("cython", "numpy")
    if case["fitted_before"]:
        model = clean_fit(case, "cython")
        if model is None:
            return []   # nothing to go on from (the fuzz of fit covers that fit)
        # both engines go on from the very same model: a clean fit per engine would
        # differ in the last bits already, which a large learning rate then amplifies
        models = {"cython": model, "numpy": copy.deepcopy(model)}
        for engine, model in models.items():
            model.set_params(**dict(case["params"], engine=engine))
    else:
        models = {engine: make_model(case, engine) for engine in engines}
    befores = {engine: snapshot(model) for engine, model in models.items()}
    weights = make_sample_weight(case["sample_weight"], np.random.RandomState(case["seed"]),
                                 case["input"]["n"])
    outcomes = {engine: call(model, case["call"], X, y, weights)
                for engine, model in models.items()}
    hostile = hostile or case["sample_weight"] in ("zeros", "negative", "nan", "too_long")
    problems = check_training(case, models, outcomes, befores, hostile)
    if not problems and outcomes["cython"][0] == "ok":
        problems += check_save_load(models["cython"], X)
        problems += check_predictions(models["cython"], X, y, hostile)
    return problems


def run_case(case):
    """(problems, outcomes): the contract's violations for one case (empty: it held), and
    what its calls did."""
    OUTCOMES.clear()
    control = floating_point_control()
    try:
        problems = check_case(case)
    except Exception:   # the check itself broke: report it as a failure of the case
        problems = [f"unexpected exception:\n{traceback.format_exc()}"]
    if floating_point_control() != control:
        problems.append(f"the floating-point control state changed: {control:#x} -> "
                        f"{floating_point_control():#x}")
    return problems, list(OUTCOMES)


def serve(connection):
    """The worker's loop: a case in, its problems out, until None comes."""
    while True:
        case = connection.recv()
        if case is None:
            return
        if case == "crash":   # the harness's own test: a crash must fail only its case
            os.kill(os.getpid(), signal.SIGSEGV)
        connection.send(run_case(case))
