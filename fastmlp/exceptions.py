"""Warnings and errors fastmlp raises.

Where scikit-learn is installed these are its own classes, so code that filters
or catches scikit-learn's warnings and errors handles fastmlp's too.

- :class:`ConvergenceWarning`: a fit reached ``max_iter`` before its stopping rule.
- :class:`DataConversionWarning`: the input was converted (a column-vector y).
- :class:`NotFittedError`: predict, score or save before fit.
- :class:`DivergenceError`: the training loss became NaN or infinite.

A fit stopped by ``max_iter`` warns; the warning can be caught or silenced as
scikit-learn's:

>>> import warnings
>>> import numpy as np
>>> from fastmlp import MLPClassifier
>>> from fastmlp.exceptions import ConvergenceWarning, NotFittedError
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(100, 4))
>>> y = (X[:, 0] > 0).astype(int)
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     model = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
>>> [issubclass(w.category, ConvergenceWarning) for w in caught]
[True]
>>> try:
...     MLPClassifier().predict(X)
... except NotFittedError:
...     print("fit the model first")
fit the model first
"""
try:
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
except ImportError:  # pragma: no cover - depends on what is installed
    class ConvergenceWarning(UserWarning):
        """The optimizer stopped at max_iter before the loss converged (a
        UserWarning)."""

    class DataConversionWarning(UserWarning):
        """The input was converted (e.g. a column-vector y was ravelled)."""

    class NotFittedError(ValueError, AttributeError):
        """predict, score or save was called before fit (a ValueError and an
        AttributeError, as scikit-learn's)."""


class DivergenceError(ValueError):
    """The training loss became NaN or infinite; the model was left as it was.

    Raised by ``fit`` and ``partial_fit`` (a learning rate too high, features or
    targets too large) with scikit-learn's message for non-finite weights first.
    Under ``early_stopping`` the fit stops instead, warns with a
    ConvergenceWarning, and keeps the best epoch's weights.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLPRegressor
    >>> from fastmlp.exceptions import DivergenceError
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 2))
    >>> model = MLPRegressor((4,), solver="sgd", learning_rate_init=1e10, random_state=0)
    >>> try:
    ...     model.fit(X, X.sum(axis=1))
    ... except DivergenceError as error:
    ...     print(error)
    Solver produced non-finite parameter weights. ...
    >>> hasattr(model, "coefs_")   # left as it was: not fitted
    False
    """
