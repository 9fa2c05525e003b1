"""What benchmarks/ab.py times besides one training epoch (its --workload), written
against fastmlp's public API only: each A/B worker runs them on its own tree's
fastmlp, the code before a change as well as the code with it."""
import statistics
import time
import warnings

import numpy as np

from fastmlp import MLPClassifier


def validated_fit_epoch(X, y, config, **params):
    """Seconds per epoch of a 4-epoch fit that scores held-out validation data after
    every epoch (early stopping that never stops): the epochs, what runs between them,
    and how the next epoch starts after it."""
    model = MLPClassifier(config.hidden, batch_size=config.batch_size, random_state=0,
                          max_iter=4, early_stopping=True, n_iter_no_change=5,
                          **params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # it stops at max_iter, on purpose
        model.fit(X, y)
    return (time.perf_counter() - start) / model.n_iter_


def predict_seconds(X, y, config, rows, **params):
    """Seconds per predict_proba call on `rows` rows of X (cycled when X has fewer),
    by a model trained for one epoch on the first 10,000 rows: the median of 7
    timings, each of as many calls as take about 20 ms (a call of a few rows takes
    microseconds, less than the timer's noise)."""
    model = MLPClassifier(config.hidden, batch_size=config.batch_size, random_state=0,
                          max_iter=1, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # one epoch, on purpose
        model.fit(X[:10000], y[:10000])
    batch = np.ascontiguousarray(np.resize(X, (rows, X.shape[1])))
    start = time.perf_counter()
    model.predict_proba(batch)
    calls = max(1, int(0.02 / max(time.perf_counter() - start, 1e-7)))
    seconds = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(calls):
            model.predict_proba(batch)
        seconds.append((time.perf_counter() - start) / calls)
    return statistics.median(seconds)
