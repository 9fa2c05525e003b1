"""n_threads: the thread count does not change the model, and fastmlp leaves the
process-wide BLAS threads alone."""
import threading
import warnings

import numpy as np
import pytest

from fastmlp import MLPClassifier
from fastmlp._engine import threads

from helpers import blobs, classifier, fitted_arrays, quiet_fit


def test_one_and_two_threads_train_the_same_model():
    X, y = blobs(n=300, n_features=8, n_classes=4)
    models = {n: quiet_fit(MLPClassifier((24, 12), batch_size=50, max_iter=5, random_state=0,
                                         n_threads=n), X, y) for n in (1, 2, None)}
    for n in (2, None):
        for a, b in zip(fitted_arrays(models[1]), fitted_arrays(models[n])):
            assert a.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(models[n].predict_proba(X), models[1].predict_proba(X),
                                   rtol=1e-10)
        assert models[n].score(X, y) == models[1].score(X, y)


def test_n_threads_leaves_the_process_wide_blas_threads_as_they_were():
    # n_threads bounds BLAS per thread, inside fastmlp's own calls only; threadpoolctl
    # reads the process-wide setting, so the bound itself cannot be observed from a
    # callback. What can be: fastmlp does not change the setting for everyone else.
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [info["num_threads"] for info in threadpoolctl.threadpool_info()
                if info["user_api"] == "blas"]

    before = blas_threads()
    during = []
    X, y = blobs(n=100)
    model = quiet_fit(classifier((8,), max_iter=2, n_threads=1,
                                 callbacks=[lambda m, metrics: during.append(blas_threads())]),
                      X, y)
    model.predict(X)
    assert before and during == [before, before] and blas_threads() == before


def test_n_threads_beyond_what_the_process_may_run_warns_once(monkeypatch):
    monkeypatch.setattr(threads, "_warned", set())
    limit = threads.team_limit()
    with pytest.warns(UserWarning, match=f"n_threads=4096, but this process may run {limit}"):
        assert threads.thread_count(4096) == limit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert threads.thread_count(4096) == limit   # said once is enough
        assert threads.thread_count(limit) == limit  # within the limit: nothing to say


def test_a_worker_of_a_two_job_loky_pool_runs_a_team_of_its_share_of_the_cores():
    # joblib's loky workers (GridSearchCV(n_jobs=k), cross_val_score, ...) get
    # OMP_NUM_THREADS = cores // k: fastmlp's default team takes that share, so k
    # workers do not run k full teams on the same cores
    joblib = pytest.importorskip("joblib")
    limits = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(threads.team_limit)() for _ in range(2))
    assert limits == [max(1, min(threads.available_cores(), joblib.cpu_count() // 2))] * 2


@pytest.mark.skipif(not threads.can_bound_blas(),
                    reason="this BLAS has no openblas_set_num_threads_local")
def test_predictions_and_fits_in_several_threads_leave_blas_thread_count_as_it_was():
    # scipy's OpenBLAS keeps one count for the whole process: predictions on a team
    # and epochs set it to 1 while they run, and the last of them to end restores it,
    # however their starts and ends interleave across threads
    from fastmlp._kernels import blas

    def blas_count(new=None):
        previous = blas.set_threads_local(new or 3)
        if new is None:
            blas.set_threads_local(previous)
        return previous

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 300))
    y = np.arange(3000) % 3
    model = quiet_fit(MLPClassifier((201,), max_iter=1, random_state=0), X, y)
    original = blas_count(2)
    try:
        def predict_many():
            for _ in range(20):
                model.predict_proba(X)

        workers = [threading.Thread(target=predict_many) for _ in range(3)]
        for worker in workers:
            worker.start()
        quiet_fit(MLPClassifier((201,), max_iter=3, early_stopping=True,
                                random_state=0), X, y)
        for worker in workers:
            worker.join()
        assert blas_count() == 2
    finally:
        blas_count(original)


@pytest.mark.skipif(not threads.can_bound_blas(),
                    reason="this BLAS has no openblas_set_num_threads_local")
def test_a_prediction_too_small_for_the_team_runs_on_blas_threads_unless_bounded():
    limit = threads.team_limit()
    few = threads.PREDICTION_TEAM_MIN_ROWS * limit - 1
    assert threads.prediction_threads(None, few) == 0            # least latency
    assert threads.prediction_threads(None, few + 1) == limit    # the team
    assert threads.prediction_threads(None) == limit             # a fit's validation pass
    assert threads.prediction_threads(1, few) == 1               # the user's bound holds
