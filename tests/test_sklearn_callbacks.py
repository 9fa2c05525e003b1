"""scikit-learn's callback API (sklearn.callback) on fastmlp's estimators: the fit is
the root task and each epoch (each L-BFGS iteration) one subtask; callbacks set on a
meta-estimator reach fastmlp's epochs; fastmlp's own callbacks, clone, pickle and
model.save are as before; and without sklearn.callback nothing changes."""
import pickle
import textwrap

import numpy as np
import pytest

pytest.importorskip("sklearn.callback", reason="this scikit-learn has no callback API")

from sklearn.base import clone  # noqa: E402
from sklearn.callback import ScoringMonitor  # noqa: E402
from sklearn.callback._callback_context import get_context_path  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp import MLPClassifier, MLPRegressor  # noqa: E402

from helpers import run_script_printing_ok  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::fastmlp.exceptions.ConvergenceWarning")

MAX_ITER = 5


class Recorder:
    """A FitCallback that records (hook, estimator name, task name, task id, context,
    fitted_estimator) for every hook call. Not auto-propagated."""

    def __init__(self, stop_at_epoch=None):
        self.record = []
        self.stop_at_epoch = stop_at_epoch

    def setup(self, estimator, context):
        self.record.append(("setup", context))

    def teardown(self, estimator, context):
        self.record.append(("teardown", context))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None,
                          fitted_estimator=None):
        self.record.append(("begin", context))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        self.record.append(("end", context, fitted_estimator, X, y, metadata))
        return (context.task_name == "epoch" and self.stop_at_epoch is not None
                and context.task_id + 1 >= self.stop_at_epoch)

    def hooks(self, name):
        return [entry for entry in self.record if entry[0] == name]

    def epoch_ends(self, estimator_name="MLPClassifier"):
        """The end hooks of epochs that ran (an empty task gets no fitted_estimator)."""
        return [entry for entry in self.hooks("end")
                if entry[1].task_name == "epoch" and entry[2] is not None
                and entry[1].estimator_name == estimator_name]


class AutoPropagatedRecorder(Recorder):
    """The Recorder as an AutoPropagatedCallback: set on a meta-estimator, it reaches
    the sub-estimators' fits."""

    max_propagation_depth = None


@pytest.fixture
def data():
    return make_classification(n_samples=100, n_features=6, random_state=0)


def model(**params):
    params = {"hidden_layer_sizes": (8,), "max_iter": MAX_ITER, "n_threads": 1,
              "random_state": 0, **params}
    return MLPClassifier(**params)


# --- the task tree of one fit --------------------------------------------------------

@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_each_epoch_of_a_minibatch_solver_is_one_subtask_of_the_fit(data, solver):
    X, y = data
    recorder = Recorder()
    clf = model(solver=solver).set_callbacks(recorder)
    assert clf.fit(X, y) is clf

    assert [entry[0] for entry in recorder.record[:2]] == ["setup", "begin"]
    assert [entry[0] for entry in recorder.record[-2:]] == ["end", "teardown"]
    root = recorder.record[0][1]
    assert (root.task_name, root.max_subtasks, root.parent) == ("fit", MAX_ITER, None)
    epochs = recorder.epoch_ends()
    assert len(epochs) == clf.n_iter_ == MAX_ITER
    assert [entry[1].task_id for entry in epochs] == list(range(MAX_ITER))
    assert all(entry[1].parent is root for entry in epochs)
    assert len(recorder.hooks("begin")) == len(recorder.hooks("end")) == MAX_ITER + 1
    # the hooks see fit's data, and a model that predicts as it stood after each epoch
    _, _, fitted, seen_X, seen_y, metadata = epochs[-1]
    assert seen_X is X and seen_y is y and metadata is None
    np.testing.assert_array_equal(fitted.predict_proba(X), clf.predict_proba(X))
    first = epochs[0][2]
    assert first.n_iter_ == 1 and not np.array_equal(first.coefs_[0], clf.coefs_[0])
    # the protocol's per-fit state is gone after the fit
    assert not {"_callback_fit_ctx", "_skl_callbacks_to_teardown"} & set(vars(clf))


def test_lbfgs_iterations_are_the_subtasks(data):
    X, y = data
    recorder = Recorder()
    clf = model(solver="lbfgs").set_callbacks(recorder)
    clf.fit(X, y)

    epochs = recorder.epoch_ends()
    assert len(epochs) == clf.n_iter_ <= MAX_ITER
    assert [entry[1].task_id for entry in epochs] == list(range(clf.n_iter_))
    assert len(recorder.hooks("begin")) == len(recorder.hooks("end"))   # all closed
    # the last iteration's copy holds the weights the fit ended with
    np.testing.assert_allclose(epochs[-1][2].predict_proba(X), clf.predict_proba(X))


def test_partial_fit_is_a_task_of_one_epoch(data):
    X, y = data
    recorder = Recorder()
    clf = model().set_callbacks(recorder)
    clf.partial_fit(X, y, classes=np.unique(y))
    clf.partial_fit(X, y)

    roots = [entry[1] for entry in recorder.hooks("setup")]
    assert [(r.task_name, r.max_subtasks) for r in roots] == [("partial_fit", 1)] * 2
    assert len(recorder.epoch_ends()) == 2


def test_sample_weight_reaches_the_hooks_as_metadata(data):
    X, y = data
    weights = np.linspace(0.5, 1.5, len(y))
    recorder = Recorder()
    model().set_callbacks(recorder).fit(X, y, sample_weight=weights)
    assert all(entry[5]["sample_weight"] is weights for entry in recorder.epoch_ends())


def test_a_callback_returning_true_stops_training_after_that_epoch(data):
    X, y = data
    for solver in ("adam", "lbfgs"):
        recorder = Recorder(stop_at_epoch=2)
        clf = model(solver=solver).set_callbacks(recorder).fit(X, y)
        assert clf.n_iter_ == 2 and len(recorder.epoch_ends()) == 2


def test_regressor_supports_the_callbacks_too():
    X, y = make_classification(n_samples=100, n_features=6, random_state=1)
    recorder = Recorder()
    reg = MLPRegressor((8,), max_iter=3, n_threads=1, random_state=0)
    reg.set_callbacks(recorder).fit(X, y.astype(float))
    assert len(recorder.epoch_ends("MLPRegressor")) == reg.n_iter_ == 3


# --- scikit-learn's own callbacks -------------------------------------------------------

def test_progress_bar_shows_the_fit(data, capsys):
    pytest.importorskip("rich", reason="scikit-learn's ProgressBar needs rich")
    from sklearn.callback import ProgressBar

    X, y = data
    for solver in ("adam", "lbfgs"):
        model(solver=solver).set_callbacks(ProgressBar()).fit(X, y)
        out = capsys.readouterr().out
        assert "MLPClassifier - fit" in out and "100%" in out


def test_scoring_monitor_scores_every_epoch(data):
    pytest.importorskip("pandas", reason="ScoringMonitor's logs need pandas")
    X, y = data
    monitor = ScoringMonitor(scoring="accuracy")
    clf = model().set_callbacks(monitor).fit(X, y)

    log = monitor.get_logs().data_as_pandas
    epochs = log[log["task_name"] == "epoch"]
    assert list(epochs["task_id"]) == list(range(MAX_ITER))
    assert epochs["accuracy"].between(0, 1).all()
    final = log.loc[log["task_name"] == "fit", "accuracy"].item()
    assert final == pytest.approx(clf.score(X, y))


# --- propagation from meta-estimators -------------------------------------------------

def test_callback_on_grid_search_around_a_pipeline_reaches_the_epochs(data):
    X, y = data
    recorder = AutoPropagatedRecorder()
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", model(max_iter=3))])
    search = GridSearchCV(pipe, {"mlp__alpha": [1e-4, 1e-2]}, cv=2, n_jobs=1)
    search.set_callbacks(recorder).fit(X, y)

    # set up once, on the outermost estimator
    assert [entry[1].estimator_name for entry in recorder.hooks("setup")] == \
        ["GridSearchCV"]
    epochs = recorder.epoch_ends()
    assert len(epochs) == (2 * 2 + 1) * 3   # 2 candidates x 2 folds, the refit; 3 epochs
    for _, context, *_ in epochs:
        path = get_context_path(context)
        assert path[0].estimator_name == "GridSearchCV" and path[0].parent is None
        fit = path[-2]   # fastmlp's fit, merged with the pipeline's last step
        assert (fit.estimator_name, fit.task_name) == ("MLPClassifier", "fit")
        assert fit.source_estimator_name == "Pipeline"
    # the callbacks propagated to the pipeline's copies are taken off again
    assert not hasattr(search.best_estimator_["mlp"], "_skl_callbacks")
    assert not hasattr(pipe["mlp"], "_skl_callbacks")


def test_callback_set_on_the_pipeline_step_sees_its_epochs(data):
    X, y = data
    recorder = Recorder()   # not auto-propagated: set on fastmlp's step itself
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", model().set_callbacks(recorder))])
    pipe.fit(X, y)
    assert [entry[1].estimator_name for entry in recorder.hooks("setup")] == \
        ["MLPClassifier"]
    epochs = recorder.epoch_ends()
    assert len(epochs) == MAX_ITER
    # fastmlp's tree hangs in the pipeline's
    assert get_context_path(epochs[0][1])[0].estimator_name == "Pipeline"


# --- what stays as it was ------------------------------------------------------------

def test_ctrl_c_closes_the_interrupted_epoch_and_the_fit(data):
    X, y = data

    def interrupt_in_epoch_2(model, metrics):
        if metrics["epoch"] == 2:
            raise KeyboardInterrupt   # as Ctrl-C there; the default setting warns

    recorder = Recorder()
    clf = model(callbacks=[interrupt_in_epoch_2]).set_callbacks(recorder)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2
    assert len(recorder.epoch_ends()) == 1   # epoch 2 was closed without a model
    assert len(recorder.hooks("begin")) == len(recorder.hooks("end")) == 3
    assert [(entry[0], entry[1].task_name) for entry in recorder.record[-2:]] == \
        [("end", "fit"), ("teardown", "fit")]


def test_fastmlp_callbacks_are_still_called_beside_scikit_learns(data):
    X, y = data
    seen = []
    recorder = Recorder()
    clf = model(callbacks=[lambda m, metrics: seen.append(metrics["epoch"])])
    clf.set_callbacks(recorder).fit(X, y)
    assert seen == list(range(1, MAX_ITER + 1))
    assert len(recorder.epoch_ends()) == MAX_ITER


def test_callbacks_do_not_change_what_is_learned(data):
    X, y = data
    for solver in ("adam", "lbfgs"):
        plain = model(solver=solver).fit(X, y)
        watched = model(solver=solver).set_callbacks(Recorder()).fit(X, y)
        for a, b in zip(plain.coefs_ + plain.intercepts_,
                        watched.coefs_ + watched.intercepts_):
            np.testing.assert_array_equal(a, b)
        assert set(vars(watched)) - set(vars(plain)) == {"_skl_callbacks"}


def test_clone_get_params_pickle_and_save_are_unaffected(data, tmp_path):
    X, y = data
    recorder = Recorder()
    clf = model().set_callbacks(recorder).fit(X, y)
    assert clf.get_params() == model().get_params()
    assert clone(clf).get_params() == clf.get_params()

    clf.set_callbacks(ScoringMonitor(scoring="accuracy"))   # scikit-learn's, picklable
    restored = pickle.loads(pickle.dumps(clf))
    assert len(restored._skl_callbacks) == 1
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))

    path = tmp_path / "model.npz"
    clf.save(path)
    loaded = fastmlp.load(path)
    assert not [name for name in vars(loaded) if name.startswith("_") and "callback" in name]
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_failed_fit_tears_the_callbacks_down():
    # test_divergence.py's overflow: the float32 gradient overflows in the first epoch
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32) * 1e20
    y = (rng.normal(size=64) * 1e20).astype(np.float32)
    recorder = Recorder()
    reg = MLPRegressor((4,), activation="identity", solver="sgd", momentum=0.0,
                       learning_rate_init=1.0, batch_size=64, max_iter=1, random_state=0)
    reg.set_callbacks(recorder)
    with pytest.raises(fastmlp.exceptions.DivergenceError), np.errstate(all="ignore"):
        reg.fit(X, y)
    assert not hasattr(reg, "coefs_")
    assert [entry[0] for entry in recorder.record][-1] == "teardown"
    assert not {"_callback_fit_ctx", "_skl_callbacks_to_teardown"} & set(vars(reg))


WITHOUT_CALLBACK_API = textwrap.dedent("""
    import sys
    sys.modules["sklearn.callback"] = None   # a scikit-learn without its callback API
    import warnings
    import numpy as np
    from fastmlp import MLPClassifier
    from fastmlp.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)

    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    seen = []
    clf = MLPClassifier((8,), max_iter=3, n_threads=1, random_state=0,
                        callbacks=[lambda m, metrics: seen.append(metrics["epoch"])])
    assert not hasattr(clf, "set_callbacks")
    clf.fit(X, y)
    clf.partial_fit(X, y)
    MLPClassifier((8,), solver="lbfgs", max_iter=3, n_threads=1).fit(X, y)
    assert seen == [1, 2, 3, 1], seen   # fit's three epochs, partial_fit's one
    assert not [name for name in vars(clf) if "callback" in name and name != "callbacks"]
    print("ok")
""")


def test_without_the_callback_api_the_estimators_work_as_before():
    run_script_printing_ok(WITHOUT_CALLBACK_API)
