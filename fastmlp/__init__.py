"""fastmlp: fast multilayer perceptrons for the CPU, with scikit-learn's API.

>>> from fastmlp import MLPClassifier
"""
from fastmlp._multilayer_perceptron import MLPClassifier, MLPRegressor

__version__ = "0.1.0"
__all__ = ["MLPClassifier", "MLPRegressor", "__version__"]
