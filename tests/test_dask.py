"""fastmlp on Dask, on a real LocalCluster of two worker processes (one thread each).

dask-ml's wrappers around a fastmlp estimator (Incremental trains by partial_fit over
the chunks, ParallelPostFit predicts blockwise), what fastmlp does with the thread
limit Dask's nanny sets, and fastmlp.dask.fit: local SGD and L-BFGS over shards that
stay on their workers.

Functions run on the workers are defined inside the tests: cloudpickle then sends
them by value, as the workers cannot import this test module.
"""
import os
import warnings

import numpy as np
import pytest

pytest.importorskip("dask")
pytest.importorskip("dask_ml")
distributed = pytest.importorskip("distributed")

import dask.array as da  # noqa: E402
from dask_ml.wrappers import Incremental, ParallelPostFit  # noqa: E402

import fastmlp  # noqa: E402
import fastmlp.dask  # noqa: E402
from fastmlp import MLPClassifier, MLPRegressor  # noqa: E402
from fastmlp._engine.layout import ParameterLayout  # noqa: E402
from fastmlp._engine.registry import ACTIVATIONS, LOSSES  # noqa: E402
from fastmlp._kernels import gradient  # noqa: E402
from fastmlp.dask import _data, _lbfgs  # noqa: E402
from fastmlp.dask._fit import _targets, _worker_copy  # noqa: E402
from fastmlp.exceptions import ConvergenceWarning, DivergenceError  # noqa: E402

from helpers import blobs, run_script_printing_ok  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # Worker processes import fastmlp as this process does: they inherit PYTHONPATH. The
    # nanny sets OMP_NUM_THREADS=1 (and more) in this process too, before it spawns a
    # worker: the later test files must not run on one thread.
    environ = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.pop(name, None)   # else they, not the nanny's defaults, reach the workers
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client
    finally:
        os.environ.clear()
        os.environ.update(environ)


def quietly(function, *args, **kwargs):
    """function(*args, **kwargs) without the ConvergenceWarning of a short run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


def accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def test_import_fastmlp_needs_no_dask_and_fastmlp_dask_names_the_extra():
    run_script_printing_ok(
        "import sys\n"
        "for name in ('dask', 'distributed', 'dask_ml'):\n"
        "    sys.modules[name] = None   # any import of them now fails\n"
        "import numpy as np\n"
        "import fastmlp\n"
        "X = np.random.RandomState(0).rand(40, 3); y = (X[:, 0] > 0.5).astype(int)\n"
        "fastmlp.MLPClassifier((4,), max_iter=2).fit(X, y).predict(X)\n"
        "try:\n"
        "    import fastmlp.dask\n"
        "except ImportError as error:\n"
        "    assert 'fastmlp[dask]' in str(error), error\n"
        "    print('ok')\n")


def test_workers_run_fastmlp_on_one_thread_as_dasks_nanny_sets_omp_num_threads(client):
    pytest.importorskip("threadpoolctl")
    def threads_in_worker():
        import os
        import warnings

        from threadpoolctl import threadpool_limits

        from fastmlp._engine import threads
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asked_for_two = threads.thread_count(2)
        with threadpool_limits(2, user_api="openmp"):
            raised = threads.team_limit()
        return (os.environ.get("OMP_NUM_THREADS"), threads.team_limit(),
                threads.kernel_threads(), asked_for_two, len(caught), raised)

    answers = client.run(threads_in_worker)
    assert len(answers) == 2
    # one thread per task; n_threads=2 is clamped to it with a warning, and
    # threadpoolctl cannot raise it (fastmlp reads the variable itself)
    assert all(answer == ("1", 1, 1, 1, 1, 1) for answer in answers.values()), answers
    # the nanny set it in this process too, before spawning the workers (docs/dask.md)
    assert os.environ.get("OMP_NUM_THREADS") == "1"


def test_incremental_trains_by_partial_fit_over_the_chunks_as_in_memory(client):
    X, y = blobs(1200, n_features=8, n_classes=3, seed=1, dtype=np.float32)
    classes = np.unique(y)
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0,
                  n_threads=1)
    wrapper = Incremental(MLPClassifier(**params), shuffle_blocks=False)
    dX, dy = da.from_array(X, chunks=(300, 8)), da.from_array(y, chunks=300)
    for _ in range(4):
        wrapper.partial_fit(dX, dy, classes=classes)

    model = MLPClassifier(**params)   # the same partial_fit calls, in this process
    for _ in range(4):
        for start in range(0, 1200, 300):
            model.partial_fit(X[start:start + 300], y[start:start + 300], classes=classes)
    for got, want in zip(wrapper.estimator_.coefs_ + wrapper.estimator_.intercepts_,
                         model.coefs_ + model.intercepts_):
        np.testing.assert_array_equal(got, want)
    assert accuracy(wrapper.estimator_, X, y) > 0.9


def test_parallel_post_fit_predicts_blockwise_with_the_in_memory_models_values(client):
    X, y = blobs(1200, n_features=8, n_classes=3, seed=2, dtype=np.float32)
    model = quietly(MLPClassifier((16,), max_iter=30, random_state=0).fit, X, y)
    wrapper = ParallelPostFit(model)
    dX = da.from_array(X, chunks=(300, 8))

    labels = wrapper.predict(dX)
    assert isinstance(labels, da.Array)
    assert labels.chunks == ((300,) * 4,) and labels.dtype == model.classes_.dtype
    np.testing.assert_array_equal(labels.compute(), model.predict(X))

    proba = wrapper.predict_proba(dX)
    assert proba.chunks == ((300,) * 4, (3,)) and proba.dtype == np.float32
    computed = proba.compute()
    assert computed.dtype == np.float32
    # equal here; a BLAS may sum a block of 300 rows in another order than 1,200 rows
    np.testing.assert_allclose(computed, model.predict_proba(X), rtol=1e-6, atol=1e-7)


def test_local_sgd_learns_and_gives_the_same_bits_twice(client):
    X, y = blobs(2000, n_features=10, n_classes=4, seed=3)
    dX, dy = da.from_array(X, chunks=(500, 10)), da.from_array(y, chunks=500)

    def run():
        model = MLPClassifier((32,), learning_rate_init=0.01, random_state=0)
        return fastmlp.dask.fit(model, dX, dy, client=client, steps_per_round=5,
                                n_rounds=12)

    first, second = run(), run()
    assert accuracy(first, X, y) > 0.95
    assert first.n_iter_ == len(first.loss_curve_) == 12
    assert first.loss_curve_[-1] < first.loss_curve_[0] / 2
    # 60 steps on each shard of 500 rows: 20 of its epochs of minibatches of 200, 200, 100
    assert first.t_ == 20 * 2000
    np.testing.assert_array_equal(first.classes_, np.arange(4))
    for a, b in zip(first.coefs_ + first.intercepts_, second.coefs_ + second.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert first.loss_curve_ == second.loss_curve_
    rounds = first.dask_rounds_
    assert all(len(values) == 12 for values in rounds.values())
    assert all(0 < c <= w for c, w in zip(rounds["compute_seconds"], rounds["wall_seconds"]))


@pytest.mark.parametrize("solver, dtype, weighted", [("adam", np.float64, False),
                                                     ("sgd", np.float32, False),
                                                     ("adam", np.float64, True)])
def test_local_sgd_on_one_shard_is_the_single_process_fit_without_shuffle(client, solver,
                                                                          dtype, weighted):
    X, y = blobs(600, n_features=6, n_classes=3, seed=4, dtype=dtype)
    params = dict(hidden_layer_sizes=(12,), solver=solver, learning_rate_init=0.01,
                  batch_size=64, max_iter=3, shuffle=False, random_state=0, n_threads=1)
    weights = None
    if weighted:   # string labels, sample weights, and class weights from all the labels
        y = np.array(["cat", "dog", "eel"])[y]
        weights = np.random.RandomState(4).uniform(0.5, 2.0, size=600)
        params.update(class_weight="balanced")
    single = quietly(MLPClassifier(**params).fit, X, y, sample_weight=weights)
    # default rounds: one epoch of the one shard each, max_iter of them
    spread = fastmlp.dask.fit(
        MLPClassifier(**params), da.from_array(X, chunks=(600, 6)),
        da.from_array(y, chunks=600),
        None if weights is None else da.from_array(weights, chunks=600), client=client)
    np.testing.assert_array_equal(spread.classes_, single.classes_)
    for a, b in zip(spread.coefs_ + spread.intercepts_, single.coefs_ + single.intercepts_):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)
    assert spread.loss_curve_ == single.loss_curve_
    assert (spread.n_iter_, spread.t_) == (single.n_iter_, single.t_)
    for name, array in single._solver_state.optimizer_state.items():
        np.testing.assert_array_equal(spread._solver_state.optimizer_state[name], array)
    assert spread._solver_state.t == single._solver_state.t


def test_the_lbfgs_objective_sums_the_shards_to_the_full_batch_loss_and_gradient(client):
    X, y = blobs(700, n_features=6, n_classes=3, seed=5)
    weights = np.random.RandomState(5).uniform(0.5, 2.0, size=700)
    model = MLPClassifier((9, 7), alpha=0.3, label_smoothing=0.1, solver="lbfgs")
    dX = da.from_array(X, chunks=((100, 350, 250), (6,)))   # three uneven shards
    dX, dy, dw, _ = _data.as_aligned_arrays(dX, da.from_array(y, chunks=700),
                                            da.from_array(weights, chunks=700), True)
    targets = _targets(model, dy, np.float64, True, True)
    recipe = _data.ShardRecipe(_worker_copy(model, None), targets.classes, np.float64, 6)
    shards = _data.make_shards(client, dX, dy, dw, recipe)
    assert len(shards.futures) == 3 and list(shards.rows) == [100, 350, 250]
    layout = ParameterLayout([6, 9, 7, 3])
    objective = _lbfgs.ClusterObjective(client, shards, layout, "relu", "softmax", "cython",
                                        0.1, 0.3, np.float64)

    Y = model._encode_targets(y, np.float64, True, False, None)[0]
    for seed in range(2):
        theta = np.random.RandomState(seed).normal(scale=0.5, size=layout.n_params)
        loss, grad = objective(theta)
        want_grad = np.empty(layout.n_params)
        want = gradient.loss_and_gradient(
            theta.copy(), want_grad, X, Y, layout.sizes, ACTIVATIONS["relu"].code,
            ACTIVATIONS["softmax"].code, LOSSES["log_loss"].code, 0.3, weights, 0.1)
        np.testing.assert_allclose(loss, want, rtol=1e-12)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-15)


def test_lbfgs_learns_repeats_and_follows_the_single_process_lbfgs(client):
    X, y = blobs(1000, n_features=8, n_classes=3, seed=6)
    dX, dy = da.from_array(X, chunks=(500, 8)), da.from_array(y, chunks=500)
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=10, random_state=0)
    first = quietly(fastmlp.dask.fit, MLPClassifier(**params), dX, dy, client=client)
    second = quietly(fastmlp.dask.fit, MLPClassifier(**params), dX, dy, client=client)
    single = quietly(MLPClassifier(**params).fit, X, y)
    assert accuracy(first, X, y) > 0.95
    assert first.n_iter_ == single.n_iter_ == len(first.loss_curve_) == 10
    for a, b, c in zip(first.coefs_, second.coefs_, single.coefs_):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(first.loss_, single.loss_, rtol=1e-9)
    # one round per loss evaluation (scipy evaluates at least once per iteration)
    assert len(first.dask_rounds_["wall_seconds"]) >= first.n_iter_


def test_after_the_start_only_the_weights_travel(client):
    X, y = blobs(2000, n_features=10, n_classes=3, seed=7, dtype=np.float32)
    dX, dy = da.from_array(X, chunks=(500, 10)), da.from_array(y, chunks=500)
    seen = {}

    def placement():
        # the shards held (a shard copied to another worker at the start leaves its
        # original to be released soon after)
        shards = {key: tuple(sorted(workers)) for key, workers in client.who_has().items()
                  if str(key).startswith("fastmlp-shard") and workers}
        transfers = client.run(lambda dask_worker: len(dask_worker.transfer_incoming_log))
        return shards, transfers

    def watch(model, metrics):
        seen.setdefault("first", placement())
        seen["last"] = placement()

    model = MLPClassifier((24,), random_state=0, callbacks=[watch])
    fastmlp.dask.fit(model, dX, dy, client=client, steps_per_round=3, n_rounds=6)
    shards, transfers = seen["first"]
    assert len(shards) == 4 and all(len(workers) == 1 for workers in shards.values())
    assert len({workers for workers in shards.values()}) == 2   # spread over both workers
    # no worker fetched anything from another worker, and every shard stayed put
    assert seen["last"] == seen["first"]
    # what the client sends a round: the weights and Adam's two moments, once a worker
    n_params = sum(a.size for a in model.coefs_ + model.intercepts_)
    state_bytes = 3 * n_params * 4
    assert model.dask_rounds_["sent_bytes"] == [2 * state_bytes] * 6
    assert model.dask_rounds_["received_bytes"] == [4 * state_bytes] * 6

    lbfgs = quietly(fastmlp.dask.fit, MLPClassifier((24,), solver="lbfgs", max_iter=3),
                    dX, dy, client=client)
    assert set(lbfgs.dask_rounds_["sent_bytes"]) == {2 * n_params * 4}
    assert set(lbfgs.dask_rounds_["received_bytes"]) == {4 * n_params * 4}


def test_chunks_held_by_one_worker_are_spread_once_at_the_start(client):
    X, y = blobs(800, n_features=4, seed=8)
    one = sorted(client.nthreads())[0]
    dX = client.persist(da.from_array(X, chunks=(200, 4)), workers=[one])
    dy = client.persist(da.from_array(y, chunks=200), workers=[one])
    model = MLPClassifier((8,))
    dX, dy, _, _ = _data.as_aligned_arrays(dX, dy, None, True)
    recipe = _data.ShardRecipe(_worker_copy(model, None), np.unique(y), np.float64, 4)
    shards = _data.make_shards(client, dX, dy, None, recipe)
    assert sorted(shards.workers) == sorted([one] * 2 + [w for w in client.nthreads()
                                                          if w != one] * 2)
    where = client.who_has(shards.futures)
    assert [list(where[f.key]) for f in shards.futures] == [[w] for w in shards.workers]


def test_the_fitted_model_predicts_saves_loads_and_goes_on_with_partial_fit(client, tmp_path):
    X, y = blobs(800, n_features=5, n_classes=3, seed=9)
    model = fastmlp.dask.fit(MLPClassifier((10,), random_state=0),
                             da.from_array(X, chunks=(400, 5)), da.from_array(y, chunks=400),
                             client=client, n_rounds=4)
    path = tmp_path / "model.npz"
    model.save(path, optimizer_state=True)
    loaded = fastmlp.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.dask_rounds_ == model.dask_rounds_
    t = model._solver_state.t
    loaded.partial_fit(X, y)
    assert loaded._solver_state.t > t   # went on with the averaged Adam state


def test_a_dask_dataframe_and_a_regressor(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.RandomState(10)
    frame = pd.DataFrame(rng.normal(size=(600, 3)), columns=["a", "b", "c"])
    target = pd.Series(frame.a - 2 * frame.b + 0.5 * frame.c, name="y")
    model = fastmlp.dask.fit(
        MLPRegressor((16,), solver="lbfgs", max_iter=200, random_state=0),
        dd.from_pandas(frame, npartitions=2), dd.from_pandas(target, npartitions=2),
        client=client)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    assert model.predict(frame).shape == (600,)
    assert model.score(frame, target) > 0.99


@pytest.mark.parametrize("change, error, words", [
    (dict(X="numpy"), TypeError, "dask array"),
    (dict(y="short"), ValueError, "numbers of samples"),
    (dict(algorithm="adagrad"), ValueError, "algorithm must be one of"),
    (dict(algorithm="lbfgs"), ValueError, "does not go with solver='adam'"),
    (dict(steps_per_round=0), ValueError, "at least 1"),
    (dict(n_rounds=2.5), TypeError, "positive int"),
    (dict(X="nan"), ValueError, "NaN or infinity"),
    (dict(y="continuous"), ValueError, "continuous"),
    (dict(params=dict(early_stopping=True)), ValueError, "early_stopping"),
    (dict(params=dict(lr_schedule="plateau")), ValueError, "plateau"),
    (dict(params=dict(solver="lbfgs"), n_rounds=3), ValueError, "max_iter iterations"),
])
def test_bad_input_raises_and_leaves_the_model_as_it_was(client, change, error, words):
    X, y = blobs(200, n_features=4, seed=11)
    model = quietly(MLPClassifier((5,), max_iter=2, random_state=0).fit, X, y)
    before = [a.copy() for a in model.coefs_]
    model.set_params(**change.get("params", {}))
    data = {"numpy": X, "nan": np.where(np.arange(200)[:, None] == 150, np.nan, X)}
    targets = {"short": y[:150], "continuous": y + 0.5}
    dX = data.get(change.get("X"), X)
    dX = dX if change.get("X") == "numpy" else da.from_array(dX, chunks=(100, 4))
    dy = da.from_array(targets.get(change.get("y"), y), chunks=100)
    options = {k: v for k, v in change.items() if k in ("algorithm", "steps_per_round",
                                                         "n_rounds")}
    with pytest.raises(error, match=words):
        fastmlp.dask.fit(model, dX, dy, client=client, **options)
    for a, b in zip(model.coefs_, before):
        np.testing.assert_array_equal(a, b)


def test_a_diverging_fit_raises_and_leaves_the_model_as_it_was(client):
    X, y = blobs(400, n_features=4, seed=12)
    model = quietly(MLPRegressor((8,), solver="sgd", max_iter=2, random_state=0).fit, X, y)
    before = dict(model.__dict__)
    model.set_params(learning_rate_init=1e6)
    with pytest.raises(DivergenceError, match="non-finite"):
        fastmlp.dask.fit(model, da.from_array(X * 1e3, chunks=(200, 4)),
                         da.from_array(y * 1e6, chunks=200), client=client, n_rounds=5)
    assert model.__dict__.keys() == before.keys()
    for a, b in zip(model.coefs_, before["coefs_"]):
        np.testing.assert_array_equal(a, b)
