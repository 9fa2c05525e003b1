"""scikit-learn is optional: where it is installed the estimators are real
scikit-learn estimators (its BaseEstimator, mixins and tags); where it is not,
small stand-ins give the same get_params / set_params / repr / score."""
import types

import numpy as np

from fastmlp._estimators.params import ParamsMixin

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - depends on what is installed
    HAVE_SKLEARN = False


def get_scorer(name):
    """scikit-learn's scorer of that name (``scoring=`` by name needs scikit-learn)."""
    if not HAVE_SKLEARN:
        raise ImportError(f"scoring={name!r} names a scikit-learn scorer, and scikit-learn "
                          "is not installed (pip install scikit-learn); or pass a "
                          "callable scorer(estimator, X, y)")
    from sklearn.metrics import get_scorer as sklearn_get_scorer
    return sklearn_get_scorer(name)


def scorer_names():
    """The scorer names scoring= accepts (none without scikit-learn)."""
    if not HAVE_SKLEARN:
        return ()
    from sklearn.metrics import get_scorer_names
    return tuple(get_scorer_names())


def accuracy(y_true, y_pred, sample_weight=None):
    """(Weighted) fraction of rows predicted exactly (all labels, for multilabel)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    correct = (y_true == y_pred) if y_true.ndim == 1 else np.all(y_true == y_pred, axis=1)
    return float(np.average(correct, weights=sample_weight))


def r2(y_true, y_pred, sample_weight=None):
    """Coefficient of determination, averaged uniformly over the outputs."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, float)
    residual = (w[:, None] * (y_true - y_pred) ** 2).sum(axis=0)
    mean = np.average(y_true, axis=0, weights=w)
    total = (w[:, None] * (y_true - mean) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1),
                          np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(scores))


class available_if:
    """A method that exists only while check(estimator) is true, as scikit-learn's
    ``available_if``: where check raises AttributeError (or returns False),
    ``hasattr(estimator, name)`` is False and a call raises that AttributeError.

    Examples
    --------
    >>> from fastmlp import MLPClassifier
    >>> hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    False
    """

    def __init__(self, check):
        self.check = check

    def __call__(self, method):
        self.method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__
        self.__qualname__ = method.__qualname__
        self.__wrapped__ = method
        return self

    def __get__(self, estimator, owner=None):
        if estimator is None:
            return self.method
        if not self.check(estimator):
            raise AttributeError(f"This {type(estimator).__name__} has no attribute "
                                 f"{self.method.__name__!r}")
        return types.MethodType(self.method, estimator)


if HAVE_SKLEARN:
    EstimatorBase = BaseEstimator
    ClassifierBase = ClassifierMixin
    RegressorBase = RegressorMixin
else:
    EstimatorBase = ParamsMixin

    class ClassifierBase:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            """Mean accuracy (subset accuracy for multilabel) of predict(X) against y."""
            return accuracy(y, self.predict(X), sample_weight)

    class RegressorBase:
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            """Coefficient of determination R^2 of predict(X) against y."""
            return r2(y, self.predict(X), sample_weight)
