"""What both exports need: the checks of the model to export, and the activation
constants of the kernels, from the NumPy reference which has them too."""
import numpy as np

from fastmlp._engine.registry import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from fastmlp._estimators.base import _checked_network
from fastmlp._estimators.classifier import MLPClassifier
from fastmlp._estimators.regressor import MLPRegressor
from fastmlp.reference import GELU_C, GELU_K, LEAKY_SLOPE

__all__ = ["GELU_C", "GELU_K", "LEAKY_SLOPE", "checked_model", "is_classifier"]


def is_classifier(model):
    """True for an MLPClassifier (its labels and probabilities are exported).

    Parameters
    ----------
    model : object
        The model to export.

    Returns
    -------
    bool
        Whether `model` is a fastmlp MLPClassifier.

    Examples
    --------
    >>> from fastmlp import MLPClassifier, MLPRegressor
    >>> from fastmlp.export._model import is_classifier
    >>> is_classifier(MLPClassifier()), is_classifier(MLPRegressor())
    (True, False)
    """
    return isinstance(model, MLPClassifier)


def checked_model(model, function):
    """(state, coefs, intercepts, activation, out_activation) of a fitted model that
    can be exported; TypeError, NotFittedError or ValueError otherwise.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        The model to export.
    function : str
        The exporting function's name, for the messages.

    Returns
    -------
    state : dict
        A copy of the model's attributes (``classes_``, ``_multilabel``, ...).
    coefs, intercepts : list of ndarray
        The weights and biases, C-contiguous, of one network.
    activation, out_activation : str
        The hidden and the output activation.

    Raises
    ------
    TypeError
        If `model` is not a fastmlp MLPClassifier or MLPRegressor.
    NotFittedError
        If it is not fitted.
    ValueError
        If its activations are unknown or its weights are not all finite.

    Examples
    --------
    >>> from fastmlp import MLPRegressor
    >>> from fastmlp.export._model import checked_model
    >>> from fastmlp.exceptions import NotFittedError
    >>> try:
    ...     checked_model(MLPRegressor(), "to_c")
    ... except NotFittedError:
    ...     print("not fitted")
    not fitted
    """
    if not isinstance(model, (MLPClassifier, MLPRegressor)):
        raise TypeError(f"{function} exports a fastmlp MLPClassifier or MLPRegressor; "
                        f"got {type(model).__name__}")
    state = model.__dict__.copy()
    coefs, intercepts = _checked_network(state, type(model).__name__)  # NotFittedError
    activation, out_activation = state.get("activation"), state.get("out_activation_")
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"cannot export the hidden activation {activation!r}")
    if out_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"cannot export the output activation {out_activation!r}")
    for array in [*coefs, *intercepts]:
        if not np.all(np.isfinite(array)):
            raise ValueError("the model's weights are not all finite; it cannot be "
                             "exported")
    return state, coefs, intercepts, activation, out_activation
