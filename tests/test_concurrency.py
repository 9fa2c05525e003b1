"""Estimators shared between threads, and in joblib's workers: predictions never mix two
fits, and every way of running fits side by side gives the sequential result."""
import threading

import joblib
import numpy as np
import pytest

from fastmlp import MLPClassifier

from helpers import blobs, fitted_arrays, quiet_fit, small_fit_and_predict


def test_predict_while_another_thread_refits_on_other_features_never_mixes_two_fits():
    # predict checked X against n_features_in_, then read the coefs_ of a refit on
    # data of another width that had landed in between: out-of-bounds reads (a crash
    # in 3 runs out of 3). A prediction now uses one fit's state throughout: it answers
    # for that fit, or refuses X for the other.
    wide, y_wide = blobs(n=300, n_features=40, n_classes=3, seed=1, dtype=np.float32)
    narrow, y_narrow = blobs(n=300, n_features=3, n_classes=3, seed=2, dtype=np.float32)
    model = quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0, n_threads=1),
                      wide, y_wide)
    failures, stop = [], threading.Event()

    def refit():
        try:
            for i in range(40):
                X, y = (narrow, y_narrow) if i % 2 == 0 else (wide, y_wide)
                quiet_fit(model, X, y)
        except Exception as error:   # noqa: BLE001 (reported below)
            failures.append(error)
        finally:
            stop.set()

    worker = threading.Thread(target=refit)
    worker.start()
    answered = 0
    while not stop.is_set():
        for X in (wide[:1], wide, narrow[:1], narrow):
            try:
                proba = model.predict_proba(X)
            except ValueError as error:
                assert "features" in str(error)
                continue
            assert proba.shape == (len(X), 3) and np.isfinite(proba).all()
            answered += 1
    worker.join()
    assert failures == [] and answered > 0


@pytest.mark.parametrize("rows", [1, 200])   # the single-row plan, and the chunked path
def test_weights_replaced_by_hand_that_do_not_chain_are_refused(rows):
    X, y = blobs(n=200, n_features=6, n_classes=3)
    model = quiet_fit(MLPClassifier((5, 4), max_iter=2, random_state=0), X, y)
    model.coefs_ = [model.coefs_[0], np.ones((7, 3)), model.coefs_[2]]   # 5 units, not 7
    with pytest.raises(ValueError, match="do not chain"):
        model.predict(X[:rows])


def test_two_fits_in_two_threads_equal_the_same_fits_one_after_the_other():
    data = [blobs(n=400, n_features=20, n_classes=3, seed=seed) for seed in (3, 4)]
    sequential = [quiet_fit(MLPClassifier((16,), max_iter=3, random_state=0), X, y)
                  for X, y in data]
    side_by_side = [MLPClassifier((16,), max_iter=3, random_state=0) for _ in data]
    workers = [threading.Thread(target=quiet_fit, args=(model, X, y))
               for model, (X, y) in zip(side_by_side, data)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for a, b in zip(sequential, side_by_side):
        for x, z in zip(fitted_arrays(a), fitted_arrays(b)):
            np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("backend", ["loky", "threading", "multiprocessing"])
def test_joblib_workers_give_the_sequential_results(backend):
    # loky starts fresh processes; multiprocessing forks this one (after the fits
    # above ran a thread team here); threading shares this process
    expected = [small_fit_and_predict(seed) for seed in range(4)]
    got = joblib.Parallel(n_jobs=2, backend=backend, timeout=120)(
        joblib.delayed(small_fit_and_predict)(seed) for seed in range(4))
    for (w, p), (w2, p2) in zip(expected, got):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(p, p2)
