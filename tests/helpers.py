"""What the estimator tests share: a small data set, quiet fits, and a stand-in DataFrame.

Test modules import these (`from helpers import quiet_fit`): pytest puts this folder on
sys.path. Plain functions live here rather than in a conftest.py, which pytest reserves
for fixtures and does not mean to be imported.
"""
import warnings

import numpy as np

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.exceptions import ConvergenceWarning


def classifier(*args, **params):
    """An MLPClassifier on one thread with random_state=0, unless told otherwise.

    Tests about what is learned train on one thread: tiny fits on a busy 2-core machine
    are far faster on one (the n_threads tests compare the thread counts).
    """
    params.setdefault("n_threads", 1)
    params.setdefault("random_state", 0)
    return MLPClassifier(*args, **params)


def regressor(*args, **params):
    """An MLPRegressor on one thread with random_state=0, unless told otherwise."""
    params.setdefault("n_threads", 1)
    params.setdefault("random_state", 0)
    return MLPRegressor(*args, **params)


def quiet_fit(model, X, y, **fit_params):
    """model.fit(X, y, **fit_params) without the ConvergenceWarning of a short max_iter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def blobs(n=200, n_features=5, n_classes=3, seed=0, scale=2.0, dtype=np.float64):
    """n samples in unit-variance clusters around n_classes centres spread by `scale`: X, y."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=scale, size=(n_classes, n_features))
    y = rng.randint(n_classes, size=n)
    X = centers[y] + rng.normal(size=(n, n_features))
    return X.astype(dtype, copy=False), y


def fitted_arrays(model):
    """The learned weights, then the learned biases, layer by layer."""
    return model.coefs_ + model.intercepts_


class Frame:
    """The part of a pandas DataFrame that estimators look at: columns and __array__."""

    def __init__(self, data, columns):
        self._data = np.asarray(data)
        self.columns = list(columns)

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self):
        return len(self._data)

    @property
    def shape(self):
        return self._data.shape
