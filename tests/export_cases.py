"""The models both export tests (tests/test_export_c.py, tests/test_export_onnx.py)
run through their exports: tiny fits of every target type on 1,000 rows."""
import numpy as np

from helpers import classifier, quiet_fit, regressor

N_ROWS = 1000
N_FEATURES = 5
CLASSIFIERS = ("binary", "binary_int", "multiclass", "multilabel")
KINDS = (*CLASSIFIERS, "regression", "multi_output", "poisson")


def data(kind, dtype, seed=0):
    """X and a y of that kind: string and integer binary labels, integer classes,
    a multilabel indicator matrix, one or two regression targets, Poisson counts."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES)).astype(dtype)
    signal = X @ rng.normal(size=(N_FEATURES, 3))
    if kind == "binary":
        y = np.where(signal[:, 0] > 0, "yes", "no")
    elif kind == "binary_int":
        y = np.where(signal[:, 0] > 0, 7, -3)
    elif kind == "multiclass":
        y = signal.argmax(axis=1) * 10 - 5
    elif kind == "multilabel":
        y = (signal > 0).astype(int)
    elif kind == "regression":
        y = signal[:, 0]
    elif kind == "multi_output":
        y = signal[:, :2]
    else:   # poisson counts
        y = rng.poisson(np.exp(0.3 * signal[:, 0]))
    return X, y


def fitted(kind, activation, dtype, y=None):
    """(a 3-epoch (7, 4) model of that kind, its X); `y` replaces the kind's labels."""
    X, y_kind = data(kind, dtype)
    y = y_kind if y is None else y
    if kind in CLASSIFIERS:
        model = classifier((7, 4), activation=activation, max_iter=3)
    else:
        model = regressor((7, 4), activation=activation, max_iter=3,
                          loss="poisson" if kind == "poisson" else "squared_error")
    return quiet_fit(model, X, y), X
