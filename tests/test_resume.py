"""Checkpoints that resume exactly: save(optimizer_state=True) -> load -> partial_fit goes
on bit for bit as without the round trip; the files load refuses; and ModelCheckpoint."""
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp._engine.registry import OPTIMIZERS
from fastmlp._estimators import persistence
from fastmlp.callbacks import ModelCheckpoint
from fastmlp.schedules import Plateau

from helpers import (
    blobs,
    classifier,
    fitted_arrays,
    quiet_fit,
    read_members,
    regressor,
    write_members,
)

STATE = persistence.OPTIMIZER_STATE   # the attribute entry of the optimizer state
CLASSES = [0, 1, 2]


def data(dtype=np.float64, n=60):
    return blobs(n=n, n_features=5, n_classes=3, dtype=dtype)


def trained(X, y, epochs=3, **params):
    """A classifier after `epochs` partial_fit calls; max_iter sets cosine's span."""
    params = {"hidden_layer_sizes": (6, 5), "max_iter": 8, "batch_size": 16, **params}
    model = classifier(**params)
    for _ in range(epochs):
        model.partial_fit(X, y, classes=CLASSES)
    return model


def round_trip(model, path, **save_params):
    model.save(path, **save_params)
    return fastmlp.load(path)


def assert_same_training(a, b):
    """a and b trained alike: same fitted arrays and curves, same optimizer state."""
    for expected, got in zip(fitted_arrays(a), fitted_arrays(b)):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(b.loss_curve_, a.loss_curve_)
    np.testing.assert_array_equal(b.learning_rate_curve_, a.learning_rate_curve_)
    assert (b.t_, b.n_iter_, b.best_loss_) == (a.t_, a.n_iter_, a.best_loss_)
    expected, got = a._solver_state, b._solver_state
    assert (got.solver, got.t, got.n_steps) == (expected.solver, expected.t, expected.n_steps)
    assert list(got.optimizer_state) == list(expected.optimizer_state)
    for name, array in expected.optimizer_state.items():
        np.testing.assert_array_equal(got.optimizer_state[name], array)
    assert b._learning_rate == a._learning_rate
    assert b._no_improvement_count == a._no_improvement_count
    if isinstance(a._lr_schedule, Plateau):
        assert vars(b._lr_schedule) == vars(a._lr_schedule)
    else:
        assert b._lr_schedule is a._lr_schedule


def continue_both(a, b, X, y, epochs=2):
    for _ in range(epochs):
        a.partial_fit(X, y)
        b.partial_fit(X, y)


# --- resuming exactly ------------------------------------------------------------------

@pytest.mark.parametrize("lr_schedule", ["plateau", "cosine"])
@pytest.mark.parametrize("dropout", [0.0, 0.2], ids=["no_dropout", "dropout"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("solver", list(OPTIMIZERS))
def test_partial_fit_after_load_goes_on_as_without_the_round_trip(
        solver, dtype, dropout, lr_schedule, tmp_path):
    X, y = data(dtype)
    a = trained(X, y, solver=solver, dropout=dropout, lr_schedule=lr_schedule)
    b = round_trip(a, tmp_path / "model.npz", optimizer_state=True)
    assert_same_training(a, b)
    continue_both(a, b, X, y)
    assert_same_training(a, b)
    assert len(b.loss_curve_) == 5


def test_a_regressor_resumes_exactly_too(tmp_path):
    X, _ = data()
    y = X @ np.arange(1.0, 6.0)
    a = regressor((6,), batch_size=16, lr_schedule="plateau")
    for _ in range(3):
        a.partial_fit(X, y)
    b = round_trip(a, tmp_path / "model.npz", optimizer_state=True)
    continue_both(a, b, X, y)
    assert_same_training(a, b)


def test_without_the_optimizer_state_partial_fit_starts_the_optimizer_afresh(tmp_path):
    # the control of the tests above: the state saved is what makes the difference
    X, y = data()
    a = trained(X, y)
    b = round_trip(a, tmp_path / "model.npz")
    assert not hasattr(b, "_solver_state") and not hasattr(b, "_lr_schedule")
    continue_both(a, b, X, y)
    assert b._solver_state.t == 2 * 4   # two epochs of 4 minibatches: a fresh Adam
    assert not np.array_equal(b.coefs_[0], a.coefs_[0])
    np.testing.assert_array_equal(b.loss_curve_[:3], a.loss_curve_[:3])


def test_a_model_without_an_optimizer_state_saves_what_partial_fit_reads(tmp_path):
    # solver changed after fit: partial_fit starts a fresh optimizer, with the rate and
    # the schedule the model holds; the file says so (solver none) and does the same
    X, y = data()
    a = trained(X, y, lr_schedule="plateau").set_params(solver="sgd")
    b = round_trip(a, tmp_path / "model.npz", optimizer_state=True)
    header, _ = read_members(tmp_path / "model.npz")
    assert header["attributes"][STATE]["items"]["solver"] == {"kind": "none"}
    assert not hasattr(b, "_solver_state") and isinstance(b._lr_schedule, Plateau)
    continue_both(a, b, X, y)
    assert_same_training(a, b)


def test_a_callable_lr_schedule_is_not_saved_with_a_warning_and_set_again(tmp_path):
    def halving(epoch, lr_init):
        return lr_init / 2**epoch

    X, y = data()
    a = trained(X, y, lr_schedule=halving)
    with pytest.warns(UserWarning) as records:
        b = round_trip(a, tmp_path / "model.npz", optimizer_state=True)
    messages = " ".join(str(record.message) for record in records)
    assert "lr_schedule (function)" in messages                 # the parameter
    assert "the lr_schedule callable is not saved" in messages   # and the schedule
    assert b.lr_schedule == "constant" and not hasattr(b, "_lr_schedule")
    b.set_params(lr_schedule=halving)
    continue_both(a, b, X, y)
    for expected, got in zip(fitted_arrays(a), fitted_arrays(b)):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(b.learning_rate_curve_, a.learning_rate_curve_)


def test_the_file_holds_one_dict_entry_with_the_documented_items(tmp_path):
    X, y = data(np.float32)
    model = trained(X, y, solver="adam", lr_schedule="plateau")
    model.save(tmp_path / "model.npz", optimizer_state=True)
    header, members = read_members(tmp_path / "model.npz")
    entry = header["attributes"][STATE]
    assert entry["kind"] == "dict"
    items = entry["items"]
    assert list(items) == ["solver", "t", "n_steps", "optimizer.m", "optimizer.v",
                           "learning_rate", "no_improvement_count", "lr_schedule",
                           *(f"plateau.{field}" for field in persistence.PLATEAU_FIELDS)]
    assert items["solver"] == {"kind": "str", "value": "adam"}
    assert items["t"] == {"kind": "int", "value": model._solver_state.t}
    assert items["lr_schedule"] == {"kind": "str", "value": "plateau"}
    n_params = sum(array.size for array in fitted_arrays(model))
    for name in ("m", "v"):
        member = items[f"optimizer.{name}"]["member"]
        assert member.startswith(f"{STATE}.")
        assert members[member].shape == (n_params,) and members[member].dtype == np.float32
        np.testing.assert_array_equal(members[member], model._solver_state.optimizer_state[name])


def test_optimizer_state_is_off_by_default(tmp_path):
    X, y = data()
    model = trained(X, y)
    model.save(tmp_path / "small.npz")
    model.save(tmp_path / "large.npz", optimizer_state=True)
    assert STATE not in read_members(tmp_path / "small.npz")[0]["attributes"]
    n_arrays = len(read_members(tmp_path / "large.npz")[1])
    assert n_arrays == len(read_members(tmp_path / "small.npz")[1]) + 2   # Adam's m and v


def test_a_file_saved_without_the_optimizer_state_loads_and_partial_fit_works(tmp_path):
    X, y = data()
    model = trained(X, y)
    loaded = round_trip(model, tmp_path / "model.npz")
    loaded.partial_fit(X, y)
    assert len(loaded.loss_curve_) == 4 and loaded._solver_state.t == 4


def test_lbfgs_has_no_optimizer_state_to_save_and_says_so(tmp_path):
    X, y = data()
    model = quiet_fit(classifier((5,), solver="lbfgs", max_iter=5), X, y)
    with pytest.warns(UserWarning, match="solver='lbfgs' keeps no optimizer state"):
        model.save(tmp_path / "model.npz", optimizer_state=True)
    assert STATE not in read_members(tmp_path / "model.npz")[0]["attributes"]
    fastmlp.load(tmp_path / "model.npz")


def test_save_refuses_an_optimizer_state_load_would_refuse_and_writes_nothing(tmp_path):
    X, y = data()
    model = trained(X, y)
    model._solver_state.optimizer_state["v"][3] = np.inf
    with pytest.raises(ValueError, match=r"cannot save the optimizer state: optimizer\.v "
                                         "holds NaN or infinity"):
        model.save(tmp_path / "model.npz", optimizer_state=True)
    assert not (tmp_path / "model.npz").exists()


# --- files load refuses ----------------------------------------------------------------

def _items(header):
    return header["attributes"][STATE]["items"]


def _member(header, name):
    return _items(header)[name]["member"]


def _wrong_shape(header, members):
    members[_member(header, "optimizer.m")] = members[_member(header, "optimizer.m")][:-1]


def _wrong_dtype(header, members):
    name = _member(header, "optimizer.v")
    members[name] = members[name].astype(np.float32)


def _non_finite(header, members):
    members[_member(header, "optimizer.v")][2] = np.nan


def _wrong_solver(header, members):
    _items(header)["solver"]["value"] = "rmsprop"


def _params_of_another_solver(header, members):
    header["params"]["solver"] = "sgd"


def _lbfgs_params(header, members):
    header["params"]["solver"] = "lbfgs"


def _solver_not_a_str(header, members):
    _items(header)["solver"] = {"kind": "array", "member": _member(header, "optimizer.m")}
    del _items(header)["optimizer.m"]


def _set_item(name, entry):
    def tamper(header, members):
        _items(header)[name] = entry
    return tamper


def _drop_item(name):
    def tamper(header, members):
        del _items(header)[name]
    return tamper


def _not_a_dict(header, members):
    for name in list(members):
        if name.startswith(f"{STATE}."):
            del members[name]
    header["attributes"][STATE] = {"kind": "float", "value": 1.0}


def _nested_dict(header, members):
    _items(header)["lr_schedule"] = {"kind": "dict", "items": {}}


TAMPERINGS = [
    # id: (what is done to a file saved with an adam state, the message load must give)
    ("wrong_shape", _wrong_shape, r"optimizer\.m must be a \(\d+,\) float64 array"),
    ("wrong_dtype", _wrong_dtype, r"optimizer\.v must be a .* float64 array.* float32"),
    ("non_finite", _non_finite, r"optimizer\.v holds NaN or infinity"),
    ("wrong_solver", _wrong_solver,
     "it is the state of solver 'rmsprop'; the model's solver is 'adam'"),
    ("params_of_another_solver", _params_of_another_solver,
     "it is the state of solver 'adam'; the model's solver is 'sgd'"),
    ("lbfgs_params", _lbfgs_params, "solver='lbfgs' keeps no optimizer state"),
    ("solver_not_a_str", _solver_not_a_str, "it is the state of solver a ndarray"),
    ("negative_t", _set_item("t", {"kind": "int", "value": -1}), "t must be an int at least 0"),
    ("huge_n_steps", _set_item("n_steps", {"kind": "int", "value": 2**63}),
     "n_steps must be an int at least 0 and at most"),
    ("t_as_float", _set_item("t", {"kind": "float", "value": 3.0}), "t must be an int"),
    ("negative_stall", _set_item("no_improvement_count", {"kind": "int", "value": -2}),
     "no_improvement_count must be an int at least 0"),
    ("infinite_rate", _set_item("learning_rate", {"kind": "float", "value": "inf"}),
     "learning_rate must be a finite float"),
    ("unknown_schedule", _set_item("lr_schedule", {"kind": "str", "value": "os.system"}),
     "lr_schedule must be one of"),
    ("plateau_without_fields", _set_item("lr_schedule", {"kind": "str", "value": "plateau"}),
     "the items must be exactly"),
    ("missing_item", _drop_item("n_steps"), "the items must be exactly"),
    ("extra_item", _set_item("eval", {"kind": "str", "value": "x"}),
     "the items must be exactly"),
    ("not_a_dict", _not_a_dict, "must be a 'dict' entry"),
    ("nested_dict", _nested_dict, "not a valid entry"),
]


@pytest.mark.parametrize("tamper, message", [row[1:] for row in TAMPERINGS],
                         ids=[row[0] for row in TAMPERINGS])
def test_a_tampered_optimizer_state_is_refused(tamper, message, tmp_path):
    X, y = data()
    path = tmp_path / "model.npz"
    trained(X, y, solver="adam", lr_schedule="cosine").save(path, optimizer_state=True)
    header, members = read_members(path)
    tamper(header, members)
    write_members(path, header, members)
    with pytest.raises(ValueError, match=r"model\.npz' as a fastmlp model") as info:
        fastmlp.load(path)
    assert info.match(message)


@pytest.mark.parametrize("field, entry, message", [
    ("best", {"kind": "float", "value": "nan"}, "plateau.best must be a float, not NaN"),
    ("waited", {"kind": "int", "value": -1}, "plateau.waited must be an int at least 0"),
    ("factor", {"kind": "float", "value": -0.5}, "plateau.factor must be a finite float"),
    ("rate", {"kind": "str", "value": "fast"}, "plateau.rate must be a finite float"),
])
def test_a_tampered_plateau_is_refused(field, entry, message, tmp_path):
    X, y = data()
    path = tmp_path / "model.npz"
    trained(X, y, lr_schedule="plateau").save(path, optimizer_state=True)
    header, members = read_members(path)
    _items(header)[f"plateau.{field}"] = entry
    write_members(path, header, members)
    with pytest.raises(ValueError, match=message):
        fastmlp.load(path)


# --- ModelCheckpoint -------------------------------------------------------------------

def test_checkpoint_saves_every_epoch_numbered_by_the_models_epoch_count(tmp_path):
    X, y = data()
    checkpoint = ModelCheckpoint(tmp_path / "epoch-{epoch:02d}.npz")
    model = quiet_fit(classifier((5,), max_iter=3, callbacks=[checkpoint]), X, y)
    model.partial_fit(X, y)   # the count goes on over partial_fit calls
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "epoch-01.npz", "epoch-02.npz", "epoch-03.npz", "epoch-04.npz"]
    assert checkpoint.last_path == str(tmp_path / "epoch-04.npz")
    for epoch in range(1, 5):
        saved = fastmlp.load(tmp_path / f"epoch-{epoch:02d}.npz")
        np.testing.assert_array_equal(saved.loss_curve_, model.loss_curve_[:epoch])
        assert saved.callbacks is None and saved._solver_state.solver == "adam"


def test_training_resumes_exactly_from_a_checkpoint(tmp_path):
    X, y = data()
    path = tmp_path / "last.npz"
    a = trained(X, y, callbacks=[ModelCheckpoint(path)], dropout=0.2,
                lr_schedule="plateau")
    b = fastmlp.load(path)
    continue_both(a, b, X, y)
    assert_same_training(a, b)


@pytest.mark.parametrize("monitor, curve, better", [
    ("loss", "loss_curve_", np.less),
    ("validation_loss", "validation_loss_curve_", np.less),
    ("validation_score", "validation_scores_", np.greater),
])
def test_save_best_only_saves_the_epochs_that_beat_every_earlier_one(monitor, curve, better,
                                                                     tmp_path):
    X, y = data(n=120)
    checkpoint = ModelCheckpoint(tmp_path / "{epoch}.npz", monitor=monitor,
                                 save_best_only=True, optimizer_state=False)
    # a large rate and a small batch: the curves go up and down
    model = classifier((5,), max_iter=12, learning_rate_init=0.3, batch_size=8,
                       callbacks=[checkpoint], n_iter_no_change=100)
    quiet_fit(model, X[:80], y[:80], X_val=X[80:], y_val=y[80:])
    values = getattr(model, curve)
    best = [epoch for epoch in range(1, len(values) + 1)
            if all(better(values[epoch - 1], values[:epoch - 1]))]
    assert sorted(int(p.stem) for p in tmp_path.iterdir()) == best
    assert checkpoint.best == values[best[-1] - 1]
    assert STATE not in read_members(tmp_path / f"{best[-1]}.npz")[0]["attributes"]


def test_a_fit_that_starts_over_starts_the_comparison_over(tmp_path):
    X, y = data()
    checkpoint = ModelCheckpoint(tmp_path / "best.npz", monitor="loss", save_best_only=True)
    model = quiet_fit(classifier((5,), max_iter=6, callbacks=[checkpoint]), X, y)
    quiet_fit(model.set_params(max_iter=1, learning_rate_init=1e-6), X, y)
    assert checkpoint.best == model.loss_curve_[0]
    np.testing.assert_array_equal(fastmlp.load(tmp_path / "best.npz").coefs_[0],
                                  model.coefs_[0])


def test_checkpoints_warn_once_and_never_about_the_callbacks(tmp_path):
    X, y = data()
    checkpoint = ModelCheckpoint(tmp_path / "{epoch}.npz")
    model = classifier((5,), max_iter=4, callbacks=[checkpoint],
                       lr_schedule=lambda epoch, lr_init: lr_init)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        model.fit(X, y)
    saved_as_none = [str(r.message) for r in records if "saved as None" in str(r.message)]
    assert len(saved_as_none) == 1 and "callbacks" not in saved_as_none[0]
    assert "lr_schedule" in saved_as_none[0]
    assert sum("callable is not saved" in str(r.message) for r in records) == 1
    assert len(list(tmp_path.iterdir())) == 4   # and no partial file left behind


def test_a_checkpoint_refuses_lbfgs_and_a_missing_validation_monitor(tmp_path):
    X, y = data()
    with pytest.raises(ValueError, match="ModelCheckpoint needs a minibatch solver"):
        classifier((5,), solver="lbfgs", callbacks=[ModelCheckpoint(tmp_path / "m.npz")]
                   ).fit(X, y)
    checkpoint = ModelCheckpoint(tmp_path / "m.npz", save_best_only=True)
    with pytest.raises(ValueError, match="has no validation_score to compare"):
        classifier((5,), callbacks=[checkpoint]).partial_fit(X, y, classes=CLASSES)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("params, message", [
    (dict(path="m.npz", monitor="accuracy"), "monitor must be one of"),
    (dict(path="m-{step}.npz"), r"not a format with \{epoch\} only"),
    (dict(path="m-{epoch.npz"), r"not a format with \{epoch\} only"),
])
def test_a_checkpoint_refuses_a_bad_monitor_or_path_at_once(params, message):
    with pytest.raises(ValueError, match=message):
        ModelCheckpoint(**params)
