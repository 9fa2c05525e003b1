"""Warnings and errors fastmlp raises.

Where scikit-learn is installed these are its own classes, so code that filters
or catches scikit-learn's warnings and errors handles fastmlp's too.
"""
try:
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
except ImportError:  # pragma: no cover - depends on what is installed
    class ConvergenceWarning(UserWarning):
        """The optimizer stopped at max_iter before the loss converged."""

    class DataConversionWarning(UserWarning):
        """The input was converted (e.g. a column-vector y was ravelled)."""

    class NotFittedError(ValueError, AttributeError):
        """predict or score was called before fit."""


class DivergenceError(ValueError):
    """The training loss became NaN or infinite; the model was left as it was."""
