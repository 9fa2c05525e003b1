"""Input checks: everything is validated here, before any Cython code runs."""
import numbers

import numpy as np
import scipy.sparse

from fastmlp._engine.registry import HIDDEN_ACTIVATIONS, SOLVERS
from fastmlp._estimators.sklearn_compat import get_scorer, scorer_names
from fastmlp.exceptions import NotFittedError
from fastmlp.schedules import SCHEDULES

FLOAT_DTYPES = (np.float32, np.float64)
# n_threads beyond any machine's cores is a mistake (fit clamps to the cores anyway)
MAX_THREADS = 4096


def _as_float_array(values, name, dtype=None):
    """`values` as a numeric float array; float32 and float64 kept unless `dtype` is given."""
    if scipy.sparse.issparse(values):
        raise TypeError(f"{name} is a sparse matrix; a dense array is needed here "
                        "(call .toarray() first)")
    array = np.asarray(values)
    if array.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} holds complex numbers")
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{name} must hold numbers; {error}") from None
    if dtype is None:
        dtype = array.dtype if array.dtype in FLOAT_DTYPES else np.float64
    with np.errstate(over="ignore"):   # an overflow is reported below, as an error
        converted = np.ascontiguousarray(array, dtype=dtype)
    if (converted.dtype.itemsize < array.dtype.itemsize and array.dtype.kind == "f"
            and converted.size and not all_finite(converted) and all_finite(array)):
        raise ValueError(f"{name} holds values too large for {converted.dtype} "
                         f"(|value| > {np.finfo(converted.dtype).max:.3g}), the dtype the "
                         "model was fitted in; scale the data")
    return converted


def _check_sparse_structure(X):
    """ValueError unless X's index arrays describe a matrix of X's shape.

    scipy builds a sparse matrix from any arrays without looking at them, and both
    its own conversions and fastmlp's first layer trust them: a column index past
    the last feature would be read out of bounds. O(nnz), and no copy of a valid X.
    """
    try:
        if X.format in ("csr", "csc", "bsr"):
            # a shallow twin, so that scipy's check may normalise its index dtypes
            # without touching the caller's object
            twin = type(X)((X.data, X.indices, X.indptr), shape=X.shape, copy=False)
            twin.check_format(full_check=True)
            # scipy checks the order of indptr only when its last entry is positive:
            # indptr [0, -1] passed, and the kernel ran a row over a negative length
            if X.indptr.size > 1 and np.any(X.indptr[1:] < X.indptr[:-1]):
                raise ValueError("indptr is not non-decreasing")
        elif X.format == "coo":
            for axis, index in enumerate((X.row, X.col)):
                if index.shape != X.data.shape:
                    raise ValueError("row, col and data lengths differ")
                if index.size and (index.min() < 0 or index.max() >= X.shape[axis]):
                    raise ValueError(f"axis {axis} index out of range [0, {X.shape[axis]})")
    except ValueError as error:
        raise ValueError(f"X is a malformed sparse matrix ({X.format}): {error}") from None


def _as_csr(X, dtype):
    """A scipy.sparse X as a float CSR matrix whose two index arrays share one dtype."""
    _check_sparse_structure(X)
    X = scipy.sparse.csr_matrix(X)   # a copy only when the format or class differs
    _check_sparse_structure(X)       # what other formats (lil, dia) converted to
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: X holds complex numbers")
    if dtype is None:
        dtype = X.dtype if X.dtype in FLOAT_DTYPES else np.float64
    if X.dtype != dtype:
        X = X.astype(dtype)
    index = np.int64 if np.int64 in (X.indptr.dtype, X.indices.dtype) else np.int32
    X.indptr = np.ascontiguousarray(X.indptr, dtype=index)
    X.indices = np.ascontiguousarray(X.indices, dtype=index)
    X.data = np.ascontiguousarray(X.data)
    if not all_finite(X.data):
        raise ValueError("Input X contains NaN or infinity.")
    return X


def all_finite(array):
    """True when no element is NaN or infinite, without an array-sized temporary.

    A float64 sum is NaN or infinite exactly when an element is (it cannot overflow
    on float32 data); for float64 data an overflowing sum falls back to a check
    by blocks of rows.
    """
    with np.errstate(over="ignore", invalid="ignore"):   # an overflow is an answer here
        if np.isfinite(array.sum(dtype=np.float64)):
            return True
    rows = max(1, 2**16 // max(array.shape[1] if array.ndim == 2 else 1, 1))
    return all(np.isfinite(array[start:start + rows]).all()
               for start in range(0, array.shape[0], rows))


def check_X(X, dtype=None, n_features=None, estimator_name="the model"):
    """X as a C-contiguous 2-D float array (or a CSR matrix, from any scipy.sparse
    format) with at least one row and one column, all finite."""
    if scipy.sparse.issparse(X):
        X = _as_csr(X, dtype)
    else:
        X = _as_float_array(X, "X", dtype)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got a {X.ndim}D array of shape {X.shape} "
                         "instead. Reshape your data either using array.reshape(-1, 1) if "
                         "your data has a single feature or array.reshape(1, -1) if it "
                         "contains a single sample.")
    if X.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    if X.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {estimator_name} is expecting "
                         f"{n_features} features as input.")
    if not scipy.sparse.issparse(X) and not all_finite(X):
        raise ValueError("Input X contains NaN or infinity.")
    return X


def check_y(y, X, estimator_name):
    """y as an array with one entry (or row) per sample of X."""
    if y is None:
        raise ValueError(f"{estimator_name} requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != X.shape[0]:
        raise ValueError(f"X and y have different numbers of samples: {X.shape[0]} and "
                         f"{1 if y.ndim == 0 else len(y)}")
    return y


def check_targets(y, dtype):
    """Regression targets as a finite (n_samples, n_outputs) array of the model dtype."""
    y = _as_float_array(y, "y", dtype)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] < 1:
        raise ValueError(f"y must be 1-D or 2-D (n_samples, n_outputs); got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("Input y contains NaN or infinity.")
    return np.ascontiguousarray(y)


def check_is_fitted(estimator):
    """Raise NotFittedError unless estimator was fitted."""
    if not hasattr(estimator, "coefs_"):
        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet; "
                             "call fit first.")


def _check_number(params, name, kind, low=None, high=None, low_open=False, high_open=False):
    value = params[name]
    wanted = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise TypeError(f"{name} must be {'an integer' if kind is int else 'a number'}; "
                        f"got {value!r}")
    if value != value:
        raise ValueError(f"{name} must not be NaN")
    if value in (np.inf, -np.inf):   # a model file could not store it either
        raise ValueError(f"{name} must be finite; got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {value!r}")


def _is_infinity(value):
    """True for float('inf') and np.inf, scikit-learn's 'no limit'."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and value == np.inf


def _check_bool(params, name):
    if not isinstance(params[name], (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {params[name]!r}")


def _check_choice(params, name, choices):
    if not isinstance(params[name], str) or params[name] not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}; got {params[name]!r}")


def check_hidden_layer_sizes(value):
    """hidden_layer_sizes as a tuple of positive ints (an int means one layer)."""
    layers = value
    if isinstance(layers, numbers.Integral) and not isinstance(layers, bool):
        layers = (layers,)
    try:
        layers = tuple(layers)
    except TypeError:
        raise TypeError("hidden_layer_sizes must be an int or a sequence of ints; "
                        f"got {value!r}") from None
    for size in layers:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"hidden_layer_sizes must hold integers; got {size!r}")
        if size < 1:
            raise ValueError(f"hidden_layer_sizes must be positive; got {layers}")
    return tuple(int(size) for size in layers)


def check_dropout(value, n_hidden):
    """None (no dropout) or a tuple of one rate in [0, 1) per hidden layer."""
    rates = value
    if isinstance(rates, numbers.Real) and not isinstance(rates, bool):
        rates = (rates,) * n_hidden
    try:
        rates = tuple(float(r) for r in rates)
    except (TypeError, ValueError):
        raise TypeError(f"dropout must be a number or one number per hidden layer; "
                        f"got {value!r}") from None
    if len(rates) != n_hidden:
        raise ValueError(f"dropout has {len(rates)} rates for {n_hidden} hidden layers")
    if not all(0 <= r < 1 for r in rates):
        raise ValueError(f"dropout rates must be in [0, 1); got {value!r}")
    return rates if any(r > 0 for r in rates) else None


def check_hyperparameters(params, engines):
    """Raise a ValueError/TypeError naming the first invalid hyper-parameter.

    Returns the hidden layer sizes as a tuple.
    """
    layers = check_hidden_layer_sizes(params["hidden_layer_sizes"])
    _check_choice(params, "activation", HIDDEN_ACTIVATIONS)
    _check_choice(params, "solver", SOLVERS)
    _check_choice(params, "engine", engines)
    _check_choice(params, "learning_rate", ("constant", "invscaling", "adaptive"))
    _check_choice(params, "monitor", ("validation_score", "validation_loss"))
    if not callable(params["lr_schedule"]):
        _check_choice(params, "lr_schedule", SCHEDULES)
    _check_number(params, "warmup_epochs", int, low=0)
    if params["clip_norm"] is not None:
        _check_number(params, "clip_norm", float, low=0, low_open=True)
        if params["solver"] == "lbfgs":
            raise ValueError("clip_norm clips the minibatch solvers' steps; lbfgs takes "
                             "no such step (set clip_norm=None or another solver)")
    if "label_smoothing" in params:
        _check_number(params, "label_smoothing", float, low=0, high=1, high_open=True)
    scoring = params["scoring"]
    if scoring is not None and not callable(scoring):
        if not isinstance(scoring, str):
            raise TypeError("scoring must be a scikit-learn scorer name, a callable "
                            f"scorer(estimator, X, y) or None; got {scoring!r}")
        names = scorer_names()
        if not names:
            get_scorer(scoring)   # raises: scikit-learn is not installed
        if scoring not in names:
            raise ValueError(f"scoring={scoring!r} is not a scikit-learn scorer name; "
                             "see sklearn.metrics.get_scorer_names()")
    if params["solver"] == "sgd" and params["learning_rate"] != "constant" and (
            params["lr_schedule"] != "constant" or params["warmup_epochs"] > 0):
        raise ValueError(f"learning_rate={params['learning_rate']!r} is sgd's own schedule; "
                         "it cannot be combined with lr_schedule or warmup_epochs (set "
                         "learning_rate='constant')")
    if "loss" in params:
        _check_choice(params, "loss", ("squared_error", "poisson"))
    if not (isinstance(params["batch_size"], str) and params["batch_size"] == "auto"):
        if isinstance(params["batch_size"], str):
            raise TypeError(f"batch_size must be 'auto' or a positive int; "
                            f"got {params['batch_size']!r}")
        _check_number(params, "batch_size", int, low=1)
    _check_number(params, "alpha", float, low=0)
    _check_number(params, "learning_rate_init", float, low=0, low_open=True)
    _check_number(params, "power_t", float, low=0)
    _check_number(params, "max_iter", int, low=1)
    _check_number(params, "max_fun", int, low=1)
    _check_number(params, "tol", float, low=0)
    if not _is_infinity(params["n_iter_no_change"]):   # inf: never stop on a stall
        _check_number(params, "n_iter_no_change", int, low=1)
    _check_number(params, "momentum", float, low=0, high=1)
    _check_number(params, "beta_1", float, low=0, high=1, high_open=True)
    _check_number(params, "beta_2", float, low=0, high=1, high_open=True)
    _check_number(params, "epsilon", float, low=0, low_open=True)
    _check_number(params, "weight_decay", float, low=0)
    _check_number(params, "rho", float, low=0, high=1, high_open=True)
    _check_number(params, "validation_fraction", float, low=0, high=1, low_open=True,
                  high_open=True)
    for name in ("shuffle", "nesterovs_momentum", "warm_start", "early_stopping"):
        _check_bool(params, name)
    if params["n_threads"] is not None:
        _check_number(params, "n_threads", int, low=1, high=MAX_THREADS)
    callbacks = params["callbacks"]
    if callbacks is not None and (isinstance(callbacks, (str, bytes)) or not all(
            callable(c) for c in _as_list(callbacks))):
        raise TypeError("callbacks must be a list of callables f(model, metrics)")
    dropout = check_dropout(params["dropout"], len(layers))
    if dropout is not None and params["solver"] == "lbfgs":
        raise ValueError("dropout needs a stochastic solver ('adam' or 'sgd'), not 'lbfgs'")
    if "class_weight" in params:
        weights = params["class_weight"]
        if not (weights is None or (isinstance(weights, str) and weights == "balanced")
                or isinstance(weights, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict; got {weights!r}")
    return layers


def _as_list(value):
    try:
        return list(value)
    except TypeError:
        return [value]


def check_sample_weight(sample_weight, n_samples, dtype):
    """Sample weights as a finite, non-negative float array of length n_samples, or None."""
    if sample_weight is None:
        return None
    if np.isscalar(sample_weight):
        sample_weight = np.full(n_samples, sample_weight)
    weights = _as_float_array(sample_weight, "sample_weight", np.float64)
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},); got {weights.shape}")
    if not np.isfinite(weights).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (weights < 0).any():
        raise ValueError("sample_weight must not be negative")
    if not weights.sum() > 0:
        raise ValueError("sample_weight must not be all zero")
    return np.ascontiguousarray(weights, dtype=dtype)
