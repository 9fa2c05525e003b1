"""n_threads: the thread count does not change the model, and fastmlp leaves the
process-wide BLAS threads alone."""
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
