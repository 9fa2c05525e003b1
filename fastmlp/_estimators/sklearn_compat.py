"""scikit-learn is optional: where it is installed the estimators are real
scikit-learn estimators (its BaseEstimator, mixins and tags); where it is not,
small stand-ins give the same get_params / set_params / repr / score. Where that
scikit-learn has its callback API (sklearn.callback), the estimators take its
callbacks too (set_callbacks; see FitTasks)."""
import types

import numpy as np

from fastmlp._estimators.params import ParamsMixin

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - depends on what is installed
    HAVE_SKLEARN = False

try:
    # scikit-learn's callback API (set_callbacks, ProgressBar, ScoringMonitor, ...),
    # new in scikit-learn 1.9: see FitTasks below
    from sklearn.callback import CallbackSupportMixin, with_callbacks
    HAVE_SKLEARN_CALLBACKS = True
except ImportError:  # pragma: no cover - no scikit-learn, or one without sklearn.callback
    HAVE_SKLEARN_CALLBACKS = False

    class CallbackSupportMixin:
        """Stand-in for scikit-learn's mixin: without sklearn.callback the estimators
        have no set_callbacks, as any estimator of that scikit-learn."""

    def with_callbacks(method):
        """Stand-in for scikit-learn's decorator: no callbacks to tear down."""
        return method


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
            """Mean accuracy (subset accuracy for multilabel) of predict(X) against y.

            scikit-learn's ``ClassifierMixin.score``, for when it is not installed.

            Parameters
            ----------
            X : array-like of shape (n_samples, n_features)
                The samples.
            y : array-like of shape (n_samples,) or (n_samples, n_labels)
                Their true labels.
            sample_weight : array-like of shape (n_samples,), default=None
                Weight of each sample in the mean.

            Returns
            -------
            score : float
                The (weighted) fraction of samples predicted right, in [0, 1].
            """
            return accuracy(y, self.predict(X), sample_weight)

    class RegressorBase:
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            """Coefficient of determination R^2 of predict(X) against y.

            scikit-learn's ``RegressorMixin.score``, for when it is not installed.

            Parameters
            ----------
            X : array-like of shape (n_samples, n_features)
                The samples.
            y : array-like of shape (n_samples,) or (n_samples, n_outputs)
                Their true targets.
            sample_weight : array-like of shape (n_samples,), default=None
                Weight of each sample.

            Returns
            -------
            score : float
                R^2 (1 is a perfect prediction; averaged uniformly over the
                outputs).
            """
            return r2(y, self.predict(X), sample_weight)


class FitTasks:
    """scikit-learn's callback hooks (``sklearn.callback``) for one fit or partial_fit.

    The fit is the root task (named 'fit' or 'partial_fit'); each epoch of a minibatch
    solver, and each L-BFGS iteration, is one subtask named 'epoch'. Every hook sees
    X, y and sample_weight (as ``metadata``) as they were given to fit; the end of a
    task also offers a copy of the model as it is then (``fitted_estimator``). A
    callback whose ``on_fit_task_end`` returns True at an epoch stops training there,
    as a fastmlp callback returning True does. (Under early stopping an epoch's copy
    holds that epoch's weights; the fit's, at the root task's end, the best ones.)

    Without sklearn.callback, or for an estimator without CallbackSupportMixin, every
    method does nothing; so too for an estimator without callbacks outside any
    meta-estimator, whose fit no callback can see (a fit stays as it was, even for
    partial_fit on small batches). Epoch subtasks are made only when the estimator
    holds callbacks (its own or ones propagated by a meta-estimator), as
    scikit-learn's estimators do: otherwise no hook would see them.

    Parameters
    ----------
    estimator : BaseMultilayerPerceptron
        The estimator being fitted; its ``_fit`` must be wrapped in ``with_callbacks``,
        which tears the callbacks down after the fit, whether or not it raised.
    task_name : str
        The root task's name.
    max_subtasks : int
        The most epochs (or L-BFGS iterations) this fit runs.
    X, y, sample_weight : array-like or None
        The fit's arguments, passed on to the hooks.
    """

    def __init__(self, estimator, task_name, max_subtasks, X, y, sample_weight):
        self.estimator = estimator
        self.root = self.epoch = None
        self.subtasks = False
        if not (HAVE_SKLEARN_CALLBACKS and isinstance(estimator, CallbackSupportMixin)
                and (hasattr(estimator, "_skl_callbacks")
                     or hasattr(estimator, "_parent_callback_ctx"))):
            return
        self.data = dict(X=X, y=y, metadata=None if sample_weight is None
                         else {"sample_weight": sample_weight})
        # sets up the callbacks, and joins a meta-estimator's task tree when inside one
        self.root = estimator._init_callback_context(task_name=task_name,
                                                     max_subtasks=max_subtasks)
        self.root.call_on_fit_task_begin(estimator=estimator, **self.data)
        self.subtasks = bool(getattr(estimator, "_skl_callbacks", None))

    def begin_epoch(self):
        """Open the next epoch's subtask."""
        if self.subtasks:
            self.epoch = self.root.subcontext(task_name="epoch")
            self.epoch.call_on_fit_task_begin(estimator=self.estimator, **self.data)

    def end_epoch(self, fitted_attributes):
        """Close the open epoch's subtask; True when a callback asks to stop training.

        Parameters
        ----------
        fitted_attributes : dict or callable
            What a copy of the estimator needs, besides the attributes it holds, to
            predict as the model stands after the epoch ({} when it holds them all);
            a callable returning that dict is called only if a callback asks for it.

        Returns
        -------
        stop : bool
        """
        epoch, self.epoch = self.epoch, None
        if epoch is None:
            return False
        return bool(epoch.call_on_fit_task_end(
            estimator=self.estimator, reconstruction_attributes=fitted_attributes,
            **self.data))

    def end(self):
        """Close the root task, once the model holds what the fit leaves it."""
        if self.epoch is not None:
            # an epoch that never finished: interrupted, or the L-BFGS iteration
            # opened in case scipy ran one more; closed empty, as scikit-learn does
            self.epoch.call_on_fit_task_end(estimator=self.estimator)
            self.epoch = None
        if self.root is not None:
            self.root.call_on_fit_task_end(estimator=self.estimator,
                                           reconstruction_attributes={}, **self.data)
