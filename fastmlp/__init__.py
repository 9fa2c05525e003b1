"""fastmlp: fast multilayer perceptrons for the CPU, with scikit-learn's API.

>>> from fastmlp import MLPClassifier
"""
from fastmlp._estimators.classifier import MLPClassifier
from fastmlp._estimators.regressor import MLPRegressor
from fastmlp.config import config_context, get_config, set_config
from fastmlp.streaming import fit_stream

__version__ = "0.1.0"
__all__ = ["MLPClassifier", "MLPRegressor", "load", "fit_stream", "config_context",
           "get_config", "set_config", "__version__"]


def load(path):
    """Load a model written by ``model.save(path)``.

    The file is validated completely (format, version, shapes, values) before a
    model is built; anything wrong raises ValueError. Nothing in it is executed.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    model : MLPClassifier or MLPRegressor
    """
    from fastmlp._estimators.persistence import load as _load
    return _load(path)
