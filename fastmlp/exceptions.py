"""Warnings and errors fastmlp raises."""
try:  # be the very class scikit-learn users already filter on
    from sklearn.exceptions import ConvergenceWarning
except ImportError:  # pragma: no cover - depends on what is installed
    class ConvergenceWarning(UserWarning):
        """The optimizer stopped at max_iter before the loss converged."""


class NotFittedError(ValueError, AttributeError):
    """predict or score was called before fit."""


class DivergenceError(ValueError):
    """The training loss became NaN or infinite; the model was left as it was."""
