"""Latency of predict_proba on 784-256-128-10: one row, and 10,000 rows."""
import warnings

import numpy as np
import pytest

from fastmlp import MLPClassifier


@pytest.fixture(scope="module")
def model(fashion):
    X, y = fashion
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((256, 128), max_iter=1, random_state=0).fit(X[:2000], y[:2000])


@pytest.mark.parametrize("rows", [1, 10000])
def test_predict_proba(benchmark, model, fashion, rows):
    X = np.ascontiguousarray(np.resize(fashion[0], (rows, 784)))
    benchmark(model.predict_proba, X)
