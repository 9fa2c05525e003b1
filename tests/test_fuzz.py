"""Fuzzing the estimators: hypothesis throws random shapes, dtypes, memory layouts, sparse
structures (malformed ones too), NaN and infinity, extreme magnitudes, sample weights and
hyper-parameters at fit, partial_fit, predict, predict_proba and score, and saves and
loads what fits.

Each case either matches the NumPy reference engine or raises ValueError, TypeError or
DivergenceError with the model unchanged (tests/fuzz_cases.py states and checks it).
Cases run in a worker process: a crash or a hang fails the test with the case that
caused it, and the next case gets a new worker, so one crash never ends the test run.

How many cases run is the hypothesis profile's choice (tests/conftest.py): 100 per test,
derandomized, by default; 1000 new ones per test with FASTMLP_HYPOTHESIS_PROFILE=
fastmlp-long. ``pytest --hypothesis-show-statistics tests/test_fuzz.py`` shows the
counts and the share of calls that succeeded or were refused.
"""
import multiprocessing
import signal

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from fastmlp._engine.registry import HIDDEN_ACTIVATIONS, SOLVERS

import fuzz_cases

CASE_DEADLINE = 120   # seconds; a case takes milliseconds, the worker's start about one


class Worker:
    """A spawned process that runs cases; replaced after it crashes or hangs."""

    def __init__(self):
        self.process = self.connection = None

    def start(self):
        # spawn, not fork: the worker must not inherit this process's thread team
        context = multiprocessing.get_context("spawn")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=fuzz_cases.serve, args=(child_end,),
                                       daemon=True)
        self.process.start()
        child_end.close()

    def run(self, case):
        """(problems, outcomes) of the case; a crash or a hang is a problem, and costs
        the worker."""
        if self.process is None or not self.process.is_alive():
            self.start()
        self.connection.send(case)
        if not self.connection.poll(CASE_DEADLINE):
            self.process.kill()
            self.process.join()
            self.process = None
            return [f"the case hung (no answer in {CASE_DEADLINE} s)"], []
        try:
            return self.connection.recv()
        except EOFError:
            self.process.join()
            code, self.process = self.process.exitcode, None
            how = (f"signal {signal.Signals(-code).name}" if code is not None and code < 0
                   else f"exit status {code}")
            return [f"the worker process died ({how})"], []

    def stop(self):
        if self.process is not None and self.process.is_alive():
            self.connection.send(None)
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


@pytest.fixture(scope="module")
def worker():
    worker = Worker()
    yield worker
    worker.stop()


def check(worker, case):
    problems, outcomes = worker.run(case)
    for outcome in dict.fromkeys(outcomes):
        event(outcome)
    assert not problems, f"case {case!r}:\n" + "\n".join(problems)


# --- strategies ------------------------------------------------------------------------

def rarely(valid, invalid):
    """Mostly a valid value, now and then (one time in eight) an invalid one."""
    return st.sampled_from([False] * 7 + [True]).flatmap(
        lambda hostile: st.sampled_from(invalid) if hostile else valid)


VALID_LAYOUTS = ["C", "F", "strided", "list", "csr", "csc", "coo", "csr_int64"]
HOSTILE_LAYOUTS = ["1d", "3d", "malformed_index_far_past", "malformed_index_negative",
                   "malformed_index_at_n_features", "malformed_indptr_backwards",
                   "malformed_indptr_past_data"]
VALID_DTYPES = ["float64", "float32", "int64", "int8", "uint16", "bool"]
HOSTILE_DTYPES = ["float16", "complex128", "strings"]
CLASS_TARGETS = ["binary", "multiclass", "multilabel", "strings"]
REGRESSION_TARGETS = ["regression", "regression_2d"]
HOSTILE_TARGETS = ["one_class", "regression_nan", "too_short"]


@st.composite
def inputs(draw, n_features=None):
    """The spec of an X and its y (fuzz_cases.build makes them)."""
    return dict(
        n=draw(st.integers(1, 24)),
        f=n_features if n_features is not None else draw(st.integers(1, 9)),
        layout=draw(rarely(st.sampled_from(VALID_LAYOUTS), HOSTILE_LAYOUTS)),
        dtype=draw(rarely(st.sampled_from(VALID_DTYPES), HOSTILE_DTYPES)),
        scale=draw(st.sampled_from([1.0, 1.0, 1e-30, 1e-3, 1e3, 1e20, 1e35, 1e200])),
        zero_fraction=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        specials=draw(st.sampled_from([[], [], []]) | st.lists(
            st.sampled_from(sorted(fuzz_cases.SPECIAL_VALUES)), min_size=1, max_size=2)),
        targets=draw(rarely(st.sampled_from(CLASS_TARGETS + REGRESSION_TARGETS),
                            HOSTILE_TARGETS)))


@st.composite
def base_parameters(draw):
    """Valid hyper-parameters of a small, short fit."""
    hidden = tuple(draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)))
    solver = draw(st.sampled_from(SOLVERS))
    return dict(hidden_layer_sizes=hidden, activation=draw(st.sampled_from(HIDDEN_ACTIVATIONS)),
                solver=solver, max_iter=draw(st.integers(1, 3)),
                batch_size=draw(st.sampled_from(["auto", 1, 3, 8, 1000])),
                learning_rate_init=draw(st.sampled_from([1e-3, 1e-2, 0.3])),
                alpha=draw(st.sampled_from([0.0, 1e-4, 1.0])),
                n_threads=draw(st.sampled_from([1, 2, 3, None])),
                dropout=0.0 if solver == "lbfgs" else draw(st.sampled_from([0.0, 0.3])),
                shuffle=draw(st.booleans()), random_state=draw(st.integers(0, 2**32 - 1)))


# Hyper-parameter values that must be refused, or trained with a result the reference
# engine reproduces (learning rates and penalties far too large to train with).
EXTREME_PARAMETERS = [
    ("hidden_layer_sizes", (0,)), ("hidden_layer_sizes", (-3,)),
    ("hidden_layer_sizes", (2.5,)), ("hidden_layer_sizes", ("4",)),
    ("hidden_layer_sizes", None), ("hidden_layer_sizes", ()),
    ("activation", "sigmoid"), ("solver", "newton"), ("batch_size", 0),
    ("batch_size", -1), ("batch_size", 2.5), ("batch_size", "all"), ("batch_size", 2**62),
    ("learning_rate_init", 0.0), ("learning_rate_init", -1.0),
    ("learning_rate_init", float("nan")), ("learning_rate_init", float("inf")),
    ("learning_rate_init", 1e30), ("alpha", -1.0), ("alpha", float("nan")),
    ("alpha", float("inf")), ("alpha", 1e300), ("max_iter", 0), ("max_iter", -1),
    ("max_iter", 1.5), ("n_threads", 0), ("n_threads", -1), ("n_threads", 2**62),
    ("n_threads", 2.0), ("n_threads", "2"), ("dropout", 1.0), ("dropout", -0.1),
    ("dropout", float("nan")), ("dropout", [0.1] * 7), ("momentum", 2.0),
    ("beta_1", 1.0), ("beta_2", float("nan")), ("epsilon", 0.0), ("epsilon", 1e300),
    ("tol", -1.0), ("validation_fraction", 0.0), ("early_stopping", "yes"),
    ("early_stopping", True), ("warm_start", True), ("shuffle", None),
    ("random_state", -1), ("random_state", "seed"), ("n_iter_no_change", 0),
    ("learning_rate", "cyclic"), ("weight_decay", -1.0), ("rho", 1.0),
]


@st.composite
def cases(draw, call):
    base = draw(base_parameters())
    params = dict(base)
    n_extreme = draw(st.sampled_from([0, 0, 0, 0, 0, 1, 2]))   # most cases train
    for name, value in draw(st.lists(st.sampled_from(EXTREME_PARAMETERS),
                                     min_size=n_extreme, max_size=n_extreme)):
        params[name] = value
    fit_features = draw(st.integers(1, 9))
    same_features = call == "fit" or draw(st.integers(0, 4)) > 0   # mostly the fit's
    spec = draw(inputs(n_features=fit_features if same_features else None))
    if call == "partial_fit":   # partial_fit's own rules: no lbfgs, no early stopping
        base.update(solver="adam", dropout=0.0, early_stopping=False)
        if "solver" not in params or params["solver"] == "lbfgs":
            params["solver"] = "adam"
    return dict(call=call, input=spec, params=params, base_params=base,
                fitted_before=call != "fit" or draw(st.booleans()),
                fit_features=fit_features,
                fit_dtype=draw(st.sampled_from(["float64", "float32"])),
                sample_weight=draw(rarely(st.sampled_from([None, None, "random"]),
                                          ["zeros", "one_nonzero", "negative", "nan", "huge",
                                           "too_long", "int"])),
                seed=draw(st.integers(0, 2**31 - 1)))


SMALL_CASE = dict(
    call="fit", fitted_before=False, fit_features=3, fit_dtype="float64", seed=0,
    sample_weight=None,
    input=dict(n=10, f=3, layout="C", dtype="float64", scale=1.0, zero_fraction=0.0,
               specials=[], targets="binary"),
    params=dict(hidden_layer_sizes=(4,), max_iter=2, n_threads=1, random_state=0))
SMALL_CASE["base_params"] = SMALL_CASE["params"]


# --- the properties --------------------------------------------------------------------

@given(case=cases("fit"))
def test_fit_matches_the_reference_or_refuses_and_keeps_the_model(worker, case):
    check(worker, case)


@given(case=cases("partial_fit"))
def test_partial_fit_matches_the_reference_or_refuses_and_keeps_the_model(worker, case):
    check(worker, case)


@given(case=cases("predict"))
def test_predictions_match_the_reference_or_refuse_and_keep_the_model(worker, case):
    check(worker, case)


def test_the_worker_reports_a_crash_as_a_failure_and_recovers(worker):
    # what the harness is for: a case that kills its process fails, the next one runs
    assert worker.run("crash") == (["the worker process died (signal SIGSEGV)"], [])
    problems, outcomes = worker.run(SMALL_CASE)
    assert problems == []
    assert set(outcomes) == {"fit: ok", "predict: ok", "predict_proba: ok", "score: ok"}
