"""fastmlp: fast multilayer perceptrons for the CPU, with scikit-learn's API.

:class:`MLPClassifier` and :class:`MLPRegressor` take scikit-learn's parameters and
give its fitted attributes; :func:`load` reads back what ``model.save`` wrote;
:func:`fit_stream` trains on a stream of chunks; :func:`set_config`,
:func:`get_config` and :func:`config_context` change the library's settings.

>>> import numpy as np
>>> from fastmlp import MLPClassifier
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(200, 4))
>>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
>>> model = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, y)
>>> model.predict([[2.0, 2.0, 0.0, 0.0]])
array([1])
"""
import importlib

from fastmlp.config import config_context, get_config, set_config

__version__ = "0.1.0"
__all__ = ["MLPClassifier", "MLPRegressor", "load", "fit_stream", "config_context",
           "get_config", "set_config", "__version__"]

# Imported on first use: the estimators bring scikit-learn and the kernels with them,
# and `fastmlp` on the command line must reach its Ctrl-C handler before that work.
_LAZY = {"MLPClassifier": "fastmlp._estimators.classifier",
         "MLPRegressor": "fastmlp._estimators.regressor",
         "fit_stream": "fastmlp.streaming"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def load(path):
    """Load a model written by ``model.save(path)``.

    The file is validated completely (format, version, shapes, values) before a
    model is built; anything wrong raises ValueError. Nothing in it is executed:
    the file holds arrays and JSON, never pickled objects, so a file from an
    untrusted source can be loaded safely. The format is described in
    :meth:`MLPClassifier.save`.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``model.save`` (or by
        :class:`fastmlp.callbacks.ModelCheckpoint`).

    Returns
    -------
    model : MLPClassifier or MLPRegressor
        The fitted model, with the parameters and fitted attributes it was saved
        with; it predicts as the saved model did. Parameters saved as null (a
        RandomState, a callable) come back as None.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        If `path` is not a regular file, or not a valid fastmlp model file
        (damaged, of a newer format version, ...); the message names the file and
        the problem.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import fastmlp
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> model = fastmlp.MLPRegressor((16,), learning_rate_init=0.01,
    ...                              random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "regressor.npz")
    ...     model.save(path)
    ...     loaded = fastmlp.load(path)
    >>> loaded
    MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    >>> np.array_equal(loaded.predict(X), model.predict(X))
    True
    """
    from fastmlp._estimators.persistence import load as _load
    return _load(path)
