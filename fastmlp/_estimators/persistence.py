"""Save and load fitted estimators in a portable file that never holds pickled data.

:func:`save` writes a fitted :class:`~fastmlp.MLPClassifier` or
:class:`~fastmlp.MLPRegressor`; :func:`load` reads it back. Loading checks the
whole file before it builds anything and never runs code taken from the file.

File format (``format_version`` 1)
----------------------------------
One ``.npz`` archive as written by :func:`numpy.savez` (an uncompressed zip
archive whose members are ``.npy`` files). It must be readable with
``numpy.load(path, allow_pickle=False)``: no member is an object array. Members
may also be deflated, as :func:`numpy.savez_compressed` writes them; no other
compression is read. Members, by their ``numpy.load`` key (the zip member name
without its ``.npy`` suffix):

``__fastmlp__.json``
    A 1-D ``uint8`` array: UTF-8 encoded, standard JSON (no ``NaN`` or
    ``Infinity`` tokens, no repeated keys), described below; at most 8 MiB
    (``MAX_JSON_BYTES``).
``<name>``
    One member per array of the fitted state, each referenced by name from the
    JSON, each referenced exactly once. fastmlp names them after the attribute:
    ``classes_`` for an array, ``coefs_.0``, ``coefs_.1``, ... for the items of a
    list of arrays, ``<attribute>.<i>`` (``<attribute>.<i>.<j>``) for the array
    (list of arrays) in the i-th entry of a dictionary. The dtype is a numeric
    one (bool, integer, float, complex), fixed-width bytes or unicode, or a
    datetime/timedelta; never object or structured. An object array of the
    estimator is stored as a unicode array when all its items are str, else as
    int64 (all integers) or float64 (all real numbers); otherwise it cannot be
    saved.

The JSON document is an object with exactly these keys:

``format`` : str
    ``"fastmlp-model"``.
``format_version`` : int
    ``1``. Readers refuse a version they do not know.
``fastmlp_version`` : str
    ``fastmlp.__version__`` of the writer (informative).
``estimator`` : str
    ``"MLPClassifier"`` or ``"MLPRegressor"``.
``params`` : object
    ``estimator.get_params()``, parameter name -> JSON value. Tuples are written
    as arrays (and read back as tuples where the parameter's default is a tuple,
    e.g. ``hidden_layer_sizes``). ``n_iter_no_change=inf`` (scikit-learn's way to
    switch the stall rule off) is written as the string ``"inf"``. Any other value
    JSON cannot represent (a ``numpy.random.RandomState``, a callable, a
    non-finite float, ...) is written as ``null`` and :func:`save` warns about
    it. A parameter absent from the file takes its default value when loaded, and
    so does ``lr_schedule`` saved as null (a callable schedule): None is no
    schedule.
``attributes`` : object
    The fitted state, attribute name -> entry. The attributes are the public
    fitted ones (names in ``vars(estimator)`` ending in ``_`` and not starting
    with ``_``, e.g. ``coefs_``, ``intercepts_``, ``loss_curve_``, ``classes_``)
    and the private ones the class lists in its ``_persisted_private_attributes``
    tuple (for a class without that attribute: ``_multilabel`` and ``_y_was_1d``,
    those it has). Each
    entry is an object whose ``kind`` says what the rest holds:

    ===================================================  =================================
    entry                                                value
    ===================================================  =================================
    ``{"kind": "none"}``                                 ``None``
    ``{"kind": "bool", "value": true}``                  a bool
    ``{"kind": "int", "value": 3}``                      an int (numpy integers included)
    ``{"kind": "float", "value": 0.25}``                 a float (numpy floats included)
    ``{"kind": "str", "value": "softmax"}``              a str
    ``{"kind": "float_list", "values": [0.9, 0.5]}``     a list of floats (``loss_curve_``)
    ``{"kind": "array", "member": "classes_"}``          the array in that member
    ``{"kind": "array_list", "members": ["coefs_.0"]}``  a list of arrays (``coefs_``)
    ``{"kind": "dict", "items": {"key": <entry>}}``      a dict of str -> any entry above
    ===================================================  =================================

    A float, in ``float`` and ``float_list`` entries, is a JSON number or one of
    the strings ``"nan"``, ``"inf"``, ``"-inf"``; a list of ints is stored as a
    ``float_list``, a tuple of arrays as an ``array_list``. Dictionaries do not
    nest. Any other value cannot be saved.

    With ``save(..., optimizer_state=True)`` the attributes hold one more entry,
    ``_optimizer_state``, described below.

Example of a JSON document (abridged)::

    {"format": "fastmlp-model", "format_version": 1, "fastmlp_version": "0.1.0",
     "estimator": "MLPClassifier",
     "params": {"activation": "relu", "hidden_layer_sizes": [5], "random_state": 0, ...},
     "attributes": {"coefs_": {"kind": "array_list", "members": ["coefs_.0", "coefs_.1"]},
                    "loss_": {"kind": "float", "value": 1.0986},
                    "classes_": {"kind": "array", "member": "classes_"},
                    "_multilabel": {"kind": "bool", "value": false}, ...}}

The optimizer state (``_optimizer_state``)
------------------------------------------
By default a file holds what prediction needs, and ``partial_fit`` after
:func:`load` starts the optimizer afresh: Adam's moments at zero, the stall count
at zero, a named schedule from its start. ``model.save(path, optimizer_state=True)``
also writes what a minibatch fit carries from one ``partial_fit`` call to the next,
so that ``partial_fit`` after :func:`load` goes on exactly as it would have without
the round trip. Each state array is as large as the weights (Adam's two triple the
file), hence off by default. It is the attribute entry ``_optimizer_state``, a
``dict`` entry (its arrays in the members ``_optimizer_state.<i>``) with these
items and no others:

``solver`` : str or none
    The optimizer the state belongs to: the model's ``solver`` parameter. none when
    the model holds no optimizer state (a fit was interrupted, the solver was
    changed after fit, ...), as ``partial_fit`` then starts the optimizer afresh;
    ``t``, ``n_steps`` and the ``optimizer.<name>`` items are then absent.
``t``, ``n_steps`` : int
    The optimizer's updates so far (Adam's bias correction) and the steps so far
    (they key the dropout masks); at least 0 and below ``2**63 - 1``.
``optimizer.<name>`` : array
    One per state array of the solver, in ``registry.OPTIMIZERS[solver].state``
    (``optimizer.m`` and ``optimizer.v`` for Adam, ``optimizer.velocity`` for SGD,
    ...): shape ``(n_params,)`` (the flat parameters of
    fastmlp/_engine/layout.py, whose values are the weights, so not stored), the
    dtype of ``coefs_``, finite.
``learning_rate`` : float or none
    The rate the next epoch runs with unless a schedule sets it (sgd's
    ``adaptive`` and ``invscaling`` change it); finite, at least 0. none:
    ``learning_rate_init``.
``no_improvement_count`` : int or none
    The epochs without improvement so far (the ``n_iter_no_change`` rule); at
    least 0. none: 0.
``lr_schedule`` : str or none
    The schedule ``partial_fit`` goes on with, by its name in
    ``fastmlp.schedules.SCHEDULES``. none: there is none yet, or it is the user's
    callable, which is not saved (:func:`save` warns: set ``lr_schedule`` again
    after loading; it is called afresh each epoch, so nothing else is lost).
``plateau.<field>``
    With ``lr_schedule`` ``"plateau"`` only, one per field of its
    :class:`~fastmlp.schedules.Plateau`: ``plateau.factor``, ``plateau.patience``,
    ``plateau.min_lr``, ``plateau.rate``, ``plateau.best`` and ``plateau.waited``.
    ``factor`` and ``min_lr`` finite floats and ``rate`` a finite float or none
    (not started), all at least 0; ``patience`` and ``waited`` ints at least 0;
    ``best`` a float, not NaN.

The format version stays 1: files without the entry read as before; a fastmlp
older than the entry refuses a file with it (an unknown attribute).

What :func:`load` checks
------------------------
Memory first: the path is a regular file (not a device, a pipe or a directory);
before anything is decompressed, the zip directory shows only stored or deflated
members whose declared sizes add up to at most 100 times the file's size; the
JSON is read only when its member holds at most 8 MiB; a member's data are read
only when its ``.npy`` header (at most 10000 bytes, numpy's bound) agrees with
the size the zip directory declares; and no member is read until the JSON
references every one. Then the archive and every member can be read; the JSON is
as described above; the format and version are supported; the estimator is one
of the two classes; the parameters are accepted by the class and valid; every
referenced member exists, no member is left unreferenced; every attribute name
is a fitted attribute; and the fitted state is coherent: ``coefs_`` and
``intercepts_`` are non-empty lists of finite float32 or float64 arrays of one
dtype, ``coefs_[i]`` 2-D with ``coefs_[i].shape[1] == coefs_[i + 1].shape[0]``,
``intercepts_[i].shape == (coefs_[i].shape[1],)``, ``n_features_in_``,
``n_outputs_`` and ``n_layers_`` agree with the weights, ``feature_names_in_``
(if any) names every feature, ``out_activation_`` is a known output activation,
and a classifier's ``classes_`` agree with ``n_outputs_`` and
``out_activation_`` (1 logistic output for up to 2 classes, one softmax output
per class beyond, one logistic output per label when multilabel). The fitted
attributes are checked against each other, not against the parameters:
``set_params`` after ``fit`` is kept. The one exception is ``_optimizer_state``,
whose items must be exactly those above for the ``solver`` parameter, with the
values described; load builds the optimizer state from it as training lays it
out.
"""
import inspect
import json
import math
import numbers
import os
import stat
import warnings
import zipfile

import numpy as np

import fastmlp
from fastmlp._engine.engines import ENGINES
from fastmlp._engine.layout import ParameterLayout, aligned_copy
from fastmlp._engine.registry import OPTIMIZERS, OUTPUT_ACTIVATIONS
from fastmlp._engine.state import TrainingState
from fastmlp._estimators.validation import check_hyperparameters, check_is_fitted
from fastmlp._kernels.row_predict import RowPredictor
from fastmlp.schedules import SCHEDULES, Plateau

FORMAT = "fastmlp-model"
FORMAT_VERSION = 1
HEADER_MEMBER = "__fastmlp__.json"
HEADER_KEYS = ("format", "format_version", "fastmlp_version", "estimator", "params",
               "attributes")
ESTIMATORS = ("MLPClassifier", "MLPRegressor")
# Private state the estimators need to predict, for a class that does not list
# its own in `_persisted_private_attributes`.
DEFAULT_PRIVATE_ATTRIBUTES = ("_multilabel", "_y_was_1d")
# The attributes prediction needs, per estimator: load refuses a file without them.
REQUIRED_ATTRIBUTES = {
    "MLPClassifier": ("coefs_", "intercepts_", "n_features_in_", "n_layers_", "n_outputs_",
                      "out_activation_", "classes_", "_multilabel"),
    "MLPRegressor": ("coefs_", "intercepts_", "n_features_in_", "n_layers_", "n_outputs_",
                     "out_activation_", "_y_was_1d"),
}
# dtype kinds a member may have: bool, ints, floats, complex, bytes, unicode, datetimes.
ARRAY_KINDS = "biufcSUmM"
ENTRY_KEYS = {"none": (), "bool": ("value",), "int": ("value",), "float": ("value",),
              "str": ("value",), "float_list": ("values",), "array": ("member",),
              "array_list": ("members",), "dict": ("items",)}
NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# A model's JSON is small: its longest parts, the loss curve and validation scores,
# take about 24 bytes an epoch each, so 8 MiB hold over 150 000 epochs. Hostile JSON
# ("[[], [], ...]") parses into some 22 times its size in Python objects: load reads no
# more than this, and save writes no more.
MAX_JSON_BYTES = 8 * 2**20
# numpy's own bound on a .npy header (the default max_header_size of numpy.load).
MAX_NPY_HEADER_BYTES = 10000
# Members are read into memory, so the sizes they declare may add up to at most this
# many times the file's size. Stored members (numpy.savez) add up to less than the file;
# deflated float weights (numpy.savez_compressed) shrink little; a deflated compression
# bomb expands about 1000 times.
MAX_EXPANSION = 100
# zipfile bounds what one read of deflated data expands to, but decompresses a whole
# read of bzip2 or LZMA data at once, whatever size the member declares.
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}
# The attribute entry of save(optimizer_state=True): what partial_fit carries over.
OPTIMIZER_STATE = "_optimizer_state"
# The kernels take the step counts as 64-bit ints (t signed) and add 1 per step.
MAX_STEP_COUNT = 2**63 - 1
# The fields of a Plateau schedule that change or shape its course, by type.
PLATEAU_FIELDS = {"factor": float, "patience": int, "min_lr": float, "rate": float,
                  "best": float, "waited": int}
# Parameters saved as null (a callable) that load reads as their default: None is
# not one of their values.
NULL_AS_DEFAULT_PARAMS = ("lr_schedule",)
# Reading damaged or hostile bytes, zipfile and numpy raise many kinds of errors
# (BadZipFile, zlib.error, EOFError, RuntimeError for an encrypted member, ...): each
# one means the file is not a valid model.
READ_ERRORS = (Exception,)


def _estimator_classes():
    # Looked up at call time: the package imports its estimators after this module.
    return {name: getattr(fastmlp, name) for name in ESTIMATORS}


# --- save --------------------------------------------------------------------------

def save(estimator, path, optimizer_state=False):
    """Save a fitted estimator to one ``.npz`` file (format in the module docstring).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted estimator.
    path : str or os.PathLike
        The file to write, exactly this path (no ``.npz`` is appended); an
        existing file is replaced.
    optimizer_state : bool, default=False
        Also save what a minibatch fit carries from one ``partial_fit`` call to
        the next (the ``_optimizer_state`` entry), so that ``partial_fit`` after
        :func:`load` goes on exactly as without the round trip. Off, the file
        holds what prediction needs and is smaller: each optimizer state array
        is as large as the weights. Ignored, with a warning, for ``'lbfgs'``.

    Raises
    ------
    NotFittedError
        If the estimator has not been fitted.
    TypeError
        If the estimator is not an MLPClassifier or an MLPRegressor.
    ValueError
        If a parameter is invalid (load would refuse it), a fitted attribute
        cannot be stored without pickle, the optimizer state is not one load
        accepts (NaN in Adam's moments, ...), or the JSON would be longer than
        load reads (``MAX_JSON_BYTES``); nothing is written.

    Warns
    -----
    UserWarning
        Naming the parameters JSON cannot represent (a RandomState, a callable,
        ...); they are saved as null and load as None (``lr_schedule``: as its
        default). With ``optimizer_state``: for a user's ``lr_schedule``
        callable, which is not saved, and for ``'lbfgs'``, which has no state.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    ``model.save(path)`` calls this function. A checkpoint to resume training
    from, optimizer state included:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp._estimators.persistence import load, save
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = MLPClassifier((8,), random_state=0).partial_fit(X, y, classes=[0, 1])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "checkpoint.npz")
    ...     save(model, path, optimizer_state=True)
    ...     resumed = load(path)
    >>> resumed = resumed.partial_fit(X, y)      # the second epoch, as without the save
    >>> model = model.partial_fit(X, y)
    >>> np.array_equal(resumed.coefs_[0], model.coefs_[0])
    True
    """
    write_model(estimator, path, optimizer_state)


def write_model(estimator, path, optimizer_state=False, warn=True, unsaved_params=()):
    """:func:`save`, and what a checkpoint needs besides: `warn` False saves without
    the warnings, and the parameters in `unsaved_params` are saved as null without
    one (ModelCheckpoint: the callbacks that hold it).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted estimator.
    path : str or os.PathLike
        The file to write (replaced if it exists).
    optimizer_state : bool, default=False
        As :func:`save`.
    warn : bool, default=True
        Give :func:`save`'s warnings; False saves silently.
    unsaved_params : tuple of str, default=()
        Parameters written as null, without a warning.

    Raises
    ------
    TypeError, NotFittedError, ValueError
        As :func:`save`.
    """
    name = type(estimator).__name__
    if _estimator_classes().get(name) is not type(estimator):
        raise TypeError(f"only MLPClassifier and MLPRegressor can be saved; got {name}")
    check_is_fitted(estimator)
    try:   # set_params after fit checks nothing; load would refuse the file
        check_hyperparameters(estimator.get_params(), ENGINES)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot save a model with invalid params: {error}") from None
    attributes = _persisted_attributes(estimator)
    if optimizer_state:
        state = _optimizer_state(estimator, warn)
        if state is not None:
            attributes[OPTIMIZER_STATE] = state
    arrays = {}
    params = {name: None if name in unsaved_params else value
              for name, value in estimator.get_params().items()}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastmlp_version": fastmlp.__version__,
        "estimator": name,
        "params": _encode_params(params, warn),
        "attributes": {attribute: _encode_attribute(attribute, value, arrays)
                       for attribute, value in attributes.items()},
    }
    text = json.dumps(header, allow_nan=False, ensure_ascii=False, indent=1).encode("utf-8")
    if len(text) > MAX_JSON_BYTES:
        raise ValueError(f"cannot save: the model takes {len(text)} bytes of JSON; load "
                         f"reads at most {MAX_JSON_BYTES}")
    members = {HEADER_MEMBER: np.frombuffer(text, dtype=np.uint8), **arrays}
    with open(path, "wb") as file:   # a file object: numpy appends no ".npz"
        np.savez(file, **members)


def _persisted_attributes(estimator):
    """The fitted attributes to save: public ones ending in '_', and the listed private ones."""
    private = getattr(type(estimator), "_persisted_private_attributes",
                      DEFAULT_PRIVATE_ATTRIBUTES)
    return {name: value for name, value in vars(estimator).items()
            if _is_public_fitted_name(name) or name in private}


def _is_public_fitted_name(name):
    return name.isidentifier() and name.endswith("_") and not name.startswith("_")


# Parameters that may be infinite (scikit-learn's "no limit"), written as "inf".
INFINITE_PARAMS = ("n_iter_no_change",)


def _encode_params(params, warn=True):
    encoded, dropped = {}, []
    for name, value in params.items():
        if name in INFINITE_PARAMS and isinstance(value, numbers.Real) \
                and not isinstance(value, bool) and value == math.inf:
            encoded[name] = "inf"
            continue
        try:
            encoded[name] = _json_value(value)
        except TypeError:
            encoded[name] = None
            dropped.append(f"{name} ({type(value).__name__})")
    if dropped and warn:
        warnings.warn(f"parameters JSON cannot represent are saved as None: "
                      f"{', '.join(dropped)}; set them again after loading.", UserWarning,
                      stacklevel=4)   # the caller of save
    return encoded


def _optimizer_state(estimator, warn=True):
    """The items of the _optimizer_state entry (module docstring): what the model's
    next partial_fit reads besides its public attributes; None for L-BFGS.

    ValueError if load would refuse them: save writes no file load refuses.
    """
    solver = estimator.solver
    if solver not in OPTIMIZERS:
        if warn:
            warnings.warn(f"optimizer_state=True: solver={solver!r} keeps no optimizer state "
                          "between fits; the model is saved without one.", UserWarning,
                          stacklevel=4)   # the caller of save
        return None
    fitted = vars(estimator)
    coefs = fitted["coefs_"]
    n_params = _n_params(coefs, fitted["intercepts_"])
    state = {"solver": None}
    training = fitted.get("_solver_state")
    # partial_fit goes on with the state only if it is this solver's and fits the
    # weights (base._start_training); else it starts afresh, as after a load without it
    if training is not None and training.solver == solver \
            and training.params.shape == (n_params,) and training.params.dtype == coefs[0].dtype:
        state.update(solver=solver, t=_plain(training.t, int),
                     n_steps=_plain(training.n_steps, int))
        state.update({f"optimizer.{name}": training.optimizer_state[name]
                      for name in OPTIMIZERS[solver].state})
    state["learning_rate"] = _plain(fitted.get("_learning_rate"), float)
    state["no_improvement_count"] = _plain(fitted.get("_no_improvement_count"), int)
    state.update(_schedule_items(fitted.get("_lr_schedule"), warn))
    try:
        _check_optimizer_state(state, solver, n_params, coefs[0].dtype)
    except ValueError as error:
        raise ValueError(f"cannot save the optimizer state: {error}") from None
    return state


def _schedule_items(schedule, warn):
    """The items of the _optimizer_state entry that describe the schedule `schedule`."""
    if schedule is None:
        return {"lr_schedule": None}
    if type(schedule) is Plateau:   # its fields change as it runs: all of them are saved
        return {"lr_schedule": "plateau",
                **{f"plateau.{field}": _plain(getattr(schedule, field), kind)
                   for field, kind in PLATEAU_FIELDS.items()}}
    for name, function in SCHEDULES.items():   # the named schedules hold no state
        if schedule is function:
            return {"lr_schedule": name}
    if warn:
        warnings.warn("optimizer_state=True: the lr_schedule callable is not saved; set "
                      "lr_schedule again after loading and partial_fit goes on with it.",
                      UserWarning, stacklevel=5)   # the caller of save
    return {"lr_schedule": None}


def _plain(value, kind):
    """A number as a Python `kind` (int or float; numpy scalars, a rate given as an int);
    anything else as it is, for the checks to refuse."""
    if isinstance(value, (bool, np.bool_)):
        return value
    if kind is int and isinstance(value, numbers.Integral):
        return int(value)
    if kind is float and isinstance(value, numbers.Real):
        return float(value)
    return value


def _json_value(value):
    """`value` as plain JSON data; TypeError if JSON cannot represent it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json_value(item) for key, item in value.items()}
    raise TypeError(f"JSON cannot represent {value!r}")


def _encode_attribute(name, value, arrays, member=None, nested=False):
    """The JSON entry for one attribute value; its arrays are added to `arrays`."""
    member = name if member is None else member
    if isinstance(value, np.ndarray):
        return {"kind": "array", "member": _add_array(name, member, value, arrays)}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(item, np.ndarray) for item in value):
            return {"kind": "array_list",
                    "members": [_add_array(name, f"{member}.{i}", item, arrays)
                                for i, item in enumerate(value)]}
        if all(_is_real(item) for item in value):
            return {"kind": "float_list", "values": [_encode_float(item) for item in value]}
        raise ValueError(f"cannot save attribute {name}: a list must hold only arrays or "
                         "only numbers")
    if isinstance(value, dict) and not nested:
        if not all(isinstance(key, str) for key in value):
            raise ValueError(f"cannot save attribute {name}: dictionary keys must be str")
        return {"kind": "dict",
                "items": {key: _encode_attribute(name, item, arrays, f"{member}.{i}", True)
                          for i, (key, item) in enumerate(value.items())}}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"kind": "bool", "value": bool(value)}
    if isinstance(value, numbers.Integral):
        return {"kind": "int", "value": int(value)}
    if isinstance(value, numbers.Real):
        return {"kind": "float", "value": _encode_float(value)}
    if isinstance(value, str):
        return {"kind": "str", "value": str(value)}
    raise ValueError(f"cannot save attribute {name}: a {type(value).__name__} value is none "
                     "of the kinds the format stores")


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _encode_float(value):
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _add_array(name, member, array, arrays):
    if array.dtype == object:
        array = _from_object_array(name, array)
    if array.dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"cannot save attribute {name}: arrays of dtype {array.dtype} "
                         "are not stored")
    if member in arrays or member == HEADER_MEMBER:
        raise ValueError(f"cannot save attribute {name}: array name {member!r} is taken")
    arrays[member] = array
    return member


def _from_object_array(name, array):
    """An object array as unicode (all str), int64 (all ints) or float64 (all reals)."""
    items = array.ravel().tolist()
    if all(isinstance(item, str) for item in items):
        dtype = str
    elif all(_is_real(item) and isinstance(item, numbers.Integral) for item in items):
        dtype = np.int64
    elif all(_is_real(item) for item in items):
        dtype = np.float64
    else:
        kinds = sorted({type(item).__name__ for item in items})
        raise ValueError(f"cannot save attribute {name}: an object array holding {kinds} "
                         "is stored only if all its items are str or all are numbers "
                         "(fastmlp never pickles)")
    try:
        return np.array(items, dtype=dtype).reshape(array.shape)
    except OverflowError:
        raise ValueError(f"cannot save attribute {name}: its integers do not fit in "
                         "int64") from None


# --- load --------------------------------------------------------------------------

def load(path):
    """Load an estimator saved by :func:`save`, after checking the whole file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    estimator : MLPClassifier or MLPRegressor
        The fitted estimator. An object-dtype ``classes_`` comes back as a
        unicode (or numeric) array; parameters saved as null come back as None.

    Raises
    ------
    FileNotFoundError
        If there is no file at `path`.
    ValueError
        If `path` is not a regular file (a device, a pipe, a directory), or the
        file is not a valid fastmlp model file (damaged, tampered with, of a
        newer format version, ...); the message names the file and the problem.
        No estimator is built unless everything is valid.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    :func:`fastmlp.load` calls this function. A file that is not a model is
    refused with a ValueError that says why:

    >>> import os, tempfile
    >>> from fastmlp._estimators.persistence import load
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "notes.npz")
    ...     with open(path, "w") as file:
    ...         _ = file.write("not a model")
    ...     try:
    ...         load(path)
    ...     except ValueError as error:
    ...         print(str(error).replace(path, "notes.npz"))
    cannot load 'notes.npz' as a fastmlp model: not an .npz (zip) archive...
    """
    path = os.fspath(path)
    # Checked before opening: a device may never end (/dev/zero) and opening a pipe
    # waits for a writer; only a regular file has a size to bound what load reads.
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"cannot load {path!r} as a fastmlp model: not a regular file")
    with open(path, "rb") as file:
        try:
            estimator_class, params, attributes = _read_model(file)
        except ValueError as error:
            raise ValueError(f"cannot load {path!r} as a fastmlp model: {error}") from error
    estimator = estimator_class(**params)
    for name in ("coefs_", "intercepts_"):   # laid out as fit lays them out
        attributes[name] = [aligned_copy(array) for array in attributes[name]]
    estimator.__dict__.update(attributes)   # as fit publishes its result
    estimator._row_predictor = RowPredictor()
    return estimator


def _read_model(file):
    """(estimator class, params, attributes) from an open model file; ValueError if invalid.

    Memory stays bounded by the file's size: the zip directory is checked before
    anything is decompressed, then the JSON, then that the JSON references every
    member; a member's data are read only once its .npy header agrees with its size.
    """
    if not zipfile.is_zipfile(file):
        raise ValueError("not an .npz (zip) archive; the file is truncated, damaged or "
                         "of another kind")
    file.seek(0)
    try:
        archive = np.load(file, allow_pickle=False)
    except READ_ERRORS as error:
        raise ValueError(f"the .npz archive cannot be opened ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("not an .npz archive")
    with archive:
        _check_directory(archive.zip, os.fstat(file.fileno()).st_size)
        header = _read_header(archive)
        estimator_class = _check_header(header)
        params = _check_params(estimator_class, header["params"])
        names = dict.fromkeys(name for name in archive.files if name != HEADER_MEMBER)
        attributes = _decode_attributes(estimator_class, header["attributes"], names)
        arrays = {name: _read_array(archive, name) for name in names}
    attributes = {name: _with_arrays(value, arrays) for name, value in attributes.items()}
    _check_fitted_state(estimator_class.__name__, attributes)
    if OPTIMIZER_STATE in attributes:
        state = attributes.pop(OPTIMIZER_STATE)
        coefs, intercepts = attributes["coefs_"], attributes["intercepts_"]
        n_params = _n_params(coefs, intercepts)
        solver = params.get("solver", estimator_class().solver)
        try:
            _check_optimizer_state(state, solver, n_params, coefs[0].dtype)
        except ValueError as error:
            raise ValueError(f"{OPTIMIZER_STATE}: {error}") from None
        attributes.update(_resumed_attributes(state, coefs, intercepts))
    return estimator_class, params, attributes


def _check_directory(archive, file_size):
    """Refuse, from the zip directory alone, members that would take memory out of
    proportion to the file (`file_size` bytes)."""
    infos = archive.infolist()
    for info in infos:
        if info.compress_type not in COMPRESSIONS:
            method = zipfile.compressor_names.get(info.compress_type,
                                                  f"method {info.compress_type}")
            raise ValueError(f"member {info.filename!r} is compressed with {method}; only "
                             "stored and deflated members are read (as numpy.savez and "
                             "numpy.savez_compressed write them)")
    declared = sum(info.file_size for info in infos)
    if declared > MAX_EXPANSION * file_size:
        raise ValueError(f"the members declare {declared} bytes, over {MAX_EXPANSION} times "
                         f"the file's {file_size}: a compression bomb or a damaged archive")


def _read_member(archive, name):
    try:
        return archive[name]
    except READ_ERRORS as error:
        raise ValueError(f"member {name!r} cannot be read ({error})") from error


def _read_array(archive, name, max_bytes=None):
    """The array in member `name`; its data are read only once its .npy header agrees
    with the size the zip directory declares and holds at most `max_bytes` of data."""
    info = _member_info(archive, name)
    try:
        with archive.zip.open(info) as stream:
            header = _read_npy_header(stream)
    except READ_ERRORS as error:
        raise ValueError(f"member {name!r} cannot be read ({error})") from error
    if header is None:
        raise ValueError(f"member {name!r} is not a .npy array")
    header_size, shape, dtype = header
    if any(n < 0 for n in shape):
        raise ValueError(f"member {name!r}: its .npy header gives the shape {shape}")
    data_size = math.prod(shape) * dtype.itemsize
    # An object array's data are a pickle, of no size the header gives: numpy refuses
    # to read it.
    if not dtype.hasobject and header_size + data_size != info.file_size:
        raise ValueError(f"member {name!r}: its .npy header describes "
                         f"{header_size + data_size} bytes; the archive declares "
                         f"{info.file_size}")
    if max_bytes is not None and data_size > max_bytes:
        raise ValueError(f"{name} holds {data_size} bytes; load reads at most {max_bytes}")
    array = _read_member(archive, name)
    if not isinstance(array, np.ndarray):
        raise ValueError(f"member {name!r} is not a .npy array")
    if array.dtype.kind not in ARRAY_KINDS:
        raise ValueError(f"member {name!r} has dtype {array.dtype}, which the format "
                         "does not allow")
    return array


def _member_info(archive, name):
    """The zip entry numpy reads for `name`: the entry of that name, else `name`.npy."""
    try:
        return archive.zip.getinfo(name)
    except KeyError:
        return archive.zip.getinfo(f"{name}.npy")


def _read_npy_header(stream):
    """(size, shape, dtype) of the .npy header `stream` starts with; None if no .npy."""
    magic = stream.read(np.lib.format.MAGIC_LEN)   # the prefix, then the version's 2 bytes
    if magic[:-2] != np.lib.format.MAGIC_PREFIX:
        return None
    version = tuple(magic[-2:])
    if version not in NPY_HEADER_READERS:
        raise ValueError(f".npy format version {version} is not read")
    shape, _, dtype = NPY_HEADER_READERS[version](stream,
                                                  max_header_size=MAX_NPY_HEADER_BYTES)
    return stream.tell(), shape, dtype


def _read_header(archive):
    if HEADER_MEMBER not in archive.files:
        raise ValueError(f"no {HEADER_MEMBER} member; not a fastmlp model file")
    raw = _read_array(archive, HEADER_MEMBER, max_bytes=MAX_JSON_BYTES)
    if not (raw.dtype == np.uint8 and raw.ndim == 1):
        raise ValueError(f"{HEADER_MEMBER} must be a 1-D uint8 array")
    try:
        return json.loads(raw.tobytes().decode("utf-8"), parse_constant=_refuse_constant,
                          object_pairs_hook=_object_without_repeated_keys)
    except (ValueError, RecursionError) as error:   # JSON and Unicode errors are ValueErrors
        raise ValueError(f"{HEADER_MEMBER} is not valid UTF-8 JSON ({error})") from error


def _refuse_constant(token):
    raise ValueError(f"{token} is not standard JSON")


def _object_without_repeated_keys(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object repeats a key")
    return result


def _check_header(header):
    """The estimator class the header names, once its keys and format are checked."""
    if not isinstance(header, dict):
        raise ValueError(f"{HEADER_MEMBER} must hold a JSON object")
    # format and version first: another version may well have other keys
    if header.get("format") != FORMAT:
        raise ValueError(f"format is {header.get('format')!r}, not {FORMAT!r}")
    version = header.get("format_version")
    if not _is_json_int(version):
        raise ValueError(f"format_version must be an integer; got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"format_version {version} was written by a newer fastmlp "
                         f"({header.get('fastmlp_version')!r}); this fastmlp reads "
                         f"format_version {FORMAT_VERSION}; upgrade fastmlp to load it")
    if version != FORMAT_VERSION:
        raise ValueError(f"format_version {version} is not supported")
    if set(header) != set(HEADER_KEYS):
        raise ValueError(f"{HEADER_MEMBER} must have exactly the keys {list(HEADER_KEYS)}; "
                         f"got {sorted(header)}")
    if not isinstance(header["fastmlp_version"], str):
        raise ValueError("fastmlp_version must be a string")
    if header["estimator"] not in ESTIMATORS:
        raise ValueError(f"unknown estimator {header['estimator']!r}; expected one of "
                         f"{list(ESTIMATORS)}")
    for key in ("params", "attributes"):
        if not isinstance(header[key], dict):
            raise ValueError(f"{key} must be a JSON object")
    return _estimator_classes()[header["estimator"]]


def _is_json_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_params(estimator_class, params):
    """The saved params, tuples restored, once the class accepts them."""
    defaults = {name: p.default for name, p in
                inspect.signature(estimator_class.__init__).parameters.items()}
    params = {name: tuple(value) if isinstance(value, list)
              and isinstance(defaults.get(name), tuple) else value
              for name, value in params.items()}
    params.update({name: math.inf for name in INFINITE_PARAMS if params.get(name) == "inf"})
    params.update({name: defaults[name] for name in NULL_AS_DEFAULT_PARAMS
                   if name in params and params[name] is None})
    try:
        estimator = estimator_class().set_params(**params)
        check_hyperparameters(estimator.get_params(), ENGINES)
    except (TypeError, ValueError) as error:
        raise ValueError(f"invalid params: {error}") from error
    return params


class _Member:
    """A decoded attribute's array, by member name, until the member is read."""

    def __init__(self, name):
        self.name = name


def _with_arrays(value, arrays):
    """A decoded attribute value with each _Member replaced by its array."""
    if isinstance(value, _Member):
        return arrays[value.name]
    if isinstance(value, list):
        return [_with_arrays(item, arrays) for item in value]
    if isinstance(value, dict):
        return {key: _with_arrays(item, arrays) for key, item in value.items()}
    return value


def _decode_attributes(estimator_class, entries, members):
    """Attribute name -> value, arrays as _Member; each of the `members` (names) must be
    referenced exactly once."""
    private = getattr(estimator_class, "_persisted_private_attributes",
                      DEFAULT_PRIVATE_ATTRIBUTES)
    used = set()
    attributes = {}
    for name, entry in entries.items():
        if not (_is_public_fitted_name(name) or name in private or name == OPTIMIZER_STATE):
            raise ValueError(f"{name!r} is not a fitted attribute of "
                             f"{estimator_class.__name__}")
        attributes[name] = _decode_entry(name, entry, members, used)
    unused = sorted(set(members) - used)
    if unused:
        raise ValueError(f"member(s) {unused} are not referenced by {HEADER_MEMBER}")
    return attributes


def _decode_entry(name, entry, members, used, nested=False):
    """The value an attribute entry describes (see the module docstring)."""
    kind = entry.get("kind") if isinstance(entry, dict) else None
    if not isinstance(kind, str) or kind not in ENTRY_KEYS or (kind == "dict" and nested):
        raise ValueError(f"attribute {name}: {entry!r} is not a valid entry")
    if set(entry) != {"kind", *ENTRY_KEYS[kind]}:
        raise ValueError(f"attribute {name}: a {kind!r} entry has the keys "
                         f"{['kind', *ENTRY_KEYS[kind]]}; got {sorted(entry)}")
    value = entry[ENTRY_KEYS[kind][0]] if ENTRY_KEYS[kind] else None
    if kind == "none":
        return None
    if kind == "float":
        return _decode_float(name, value)
    if kind == "float_list":
        if not isinstance(value, list):
            raise ValueError(f"attribute {name}: values must be a list")
        return [_decode_float(name, item) for item in value]
    if kind == "array":
        return _take_member(name, value, members, used)
    if kind == "array_list":
        if not (isinstance(value, list) and value):
            raise ValueError(f"attribute {name}: members must be a non-empty list")
        return [_take_member(name, member, members, used) for member in value]
    if kind == "dict":
        if not isinstance(value, dict):
            raise ValueError(f"attribute {name}: items must be an object")
        return {key: _decode_entry(f"{name}[{key!r}]", item, members, used, nested=True)
                for key, item in value.items()}
    valid = {"bool": isinstance(value, bool), "int": _is_json_int(value),
             "str": isinstance(value, str)}[kind]
    if not valid:
        raise ValueError(f"attribute {name}: {value!r} is not of kind {kind!r}")
    return value


def _decode_float(name, value):
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"attribute {name}: {value!r} is not a float")


def _take_member(name, member, members, used):
    if not isinstance(member, str):
        raise ValueError(f"attribute {name}: member names must be strings; got {member!r}")
    if member not in members:
        raise ValueError(f"attribute {name}: array member {member!r} is missing")
    if member in used:
        raise ValueError(f"attribute {name}: array member {member!r} is referenced twice")
    used.add(member)
    return _Member(member)


def _check_fitted_state(estimator_name, attributes):
    """ValueError unless the fitted attributes describe one working network."""
    missing = [name for name in REQUIRED_ATTRIBUTES[estimator_name] if name not in attributes]
    if missing:
        raise ValueError(f"fitted attribute(s) {missing} are missing")
    coefs, intercepts = attributes["coefs_"], attributes["intercepts_"]
    _check_weights(coefs, intercepts)
    for name, expected in (("n_features_in_", coefs[0].shape[0]),
                           ("n_outputs_", coefs[-1].shape[1]),
                           ("n_layers_", len(coefs) + 1)):
        if not _is_json_int(attributes[name]) or attributes[name] != expected:
            raise ValueError(f"{name} must be the int {expected} the weights give; got "
                             f"{attributes[name]!r}")
    names = attributes.get("feature_names_in_")
    if names is not None and not (isinstance(names, np.ndarray) and names.ndim == 1
                                  and len(names) == coefs[0].shape[0]):
        raise ValueError(f"feature_names_in_ must be a 1-D array of {coefs[0].shape[0]} "
                         "names, one per feature")
    n_outputs = attributes["n_outputs_"]
    if estimator_name == "MLPClassifier":
        classes, multilabel = attributes["classes_"], attributes["_multilabel"]
        if not (isinstance(classes, np.ndarray) and classes.ndim == 1 and classes.size):
            raise ValueError("classes_ must be a non-empty 1-D array")
        if not isinstance(multilabel, bool):
            raise ValueError("_multilabel must be a bool")
        if multilabel:
            expected = (len(classes), "logistic")
        elif len(classes) <= 2:
            expected = (1, "logistic")
        else:
            expected = (len(classes), "softmax")
        if (n_outputs, attributes["out_activation_"]) != expected:
            raise ValueError(f"{len(classes)} classes{' (multilabel)' if multilabel else ''} "
                             f"need {expected[0]} {expected[1]} output(s); the model has "
                             f"{n_outputs} {attributes['out_activation_']!r} output(s)")
    else:
        if not (isinstance(attributes["out_activation_"], str)
                and attributes["out_activation_"] in OUTPUT_ACTIVATIONS):
            raise ValueError(f"unknown out_activation_ {attributes['out_activation_']!r}; "
                             f"expected one of {sorted(OUTPUT_ACTIVATIONS)}")
        if not isinstance(attributes["_y_was_1d"], bool):
            raise ValueError("_y_was_1d must be a bool")
        if attributes["_y_was_1d"] and n_outputs != 1:
            raise ValueError(f"_y_was_1d is true but the model has {n_outputs} outputs")


def _check_weights(coefs, intercepts):
    """coefs_/intercepts_: chained finite 2-D/1-D arrays of one float dtype."""
    for name, arrays in (("coefs_", coefs), ("intercepts_", intercepts)):
        if not (isinstance(arrays, list) and arrays
                and all(isinstance(array, np.ndarray) for array in arrays)):
            raise ValueError(f"{name} must be a non-empty list of arrays")
    if len(coefs) != len(intercepts):
        raise ValueError(f"coefs_ has {len(coefs)} layers but intercepts_ has "
                         f"{len(intercepts)}")
    dtype = coefs[0].dtype
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"weights must be float32 or float64; got {dtype}")
    for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
        if coef.dtype != dtype or intercept.dtype != dtype:
            raise ValueError(f"coefs_ and intercepts_ must all be {dtype}; layer {i} has "
                             f"{coef.dtype} and {intercept.dtype}")
        if coef.ndim != 2 or 0 in coef.shape:
            raise ValueError(f"coefs_[{i}] must be a non-empty 2-D array; got shape "
                             f"{coef.shape}")
        if i and coef.shape[0] != coefs[i - 1].shape[1]:
            raise ValueError(f"coefs_[{i}] has shape {coef.shape} but coefs_[{i - 1}] has "
                             f"shape {coefs[i - 1].shape}: the layers do not chain")
        if intercept.shape != (coef.shape[1],):
            raise ValueError(f"intercepts_[{i}] has shape {intercept.shape}; coefs_[{i}] "
                             f"of shape {coef.shape} needs ({coef.shape[1]},)")
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ValueError(f"coefs_[{i}] or intercepts_[{i}] holds NaN or infinity")


# --- the optimizer state -----------------------------------------------------------

def _n_params(coefs, intercepts):
    """The length of the flat parameters (the optimizer's arrays) of these weights."""
    return sum(c.size for c in coefs) + sum(b.size for b in intercepts)


def _check_optimizer_state(state, solver, n_params, dtype):
    """ValueError unless `state` holds the items of an _optimizer_state entry (module
    docstring) for a model whose solver parameter is `solver`, with weights of
    `n_params` parameters of `dtype`."""
    if not isinstance(state, dict):
        raise ValueError("must be a 'dict' entry")
    saved = state.get("solver")
    if solver not in OPTIMIZERS:
        raise ValueError(f"solver={solver!r} keeps no optimizer state")
    if saved is not None and not _is_str(saved, solver):
        raise ValueError(f"it is the state of solver {_shown(saved)}; the model's solver is "
                         f"{solver!r}")
    expected = ["solver", "learning_rate", "no_improvement_count", "lr_schedule"]
    if saved is not None:
        expected += ["t", "n_steps", *(f"optimizer.{name}" for name in OPTIMIZERS[solver].state)]
    if _is_str(state.get("lr_schedule"), "plateau"):
        expected += [f"plateau.{field}" for field in PLATEAU_FIELDS]
    if set(state) != set(expected):
        raise ValueError(f"the items must be exactly {sorted(expected)}; got {sorted(state)}")
    for name in ("t", "n_steps"):
        if name in state:
            _check_count(state, name, MAX_STEP_COUNT - 1)
    for name in expected:
        if name.startswith("optimizer."):
            _check_state_array(name, state[name], n_params, dtype)
    if state["learning_rate"] is not None:
        _check_rate(state, "learning_rate")
    if state["no_improvement_count"] is not None:
        _check_count(state, "no_improvement_count")
    schedule = state["lr_schedule"]
    if schedule is not None and not (isinstance(schedule, str) and schedule in SCHEDULES):
        raise ValueError(f"lr_schedule must be one of {sorted(SCHEDULES)} or none; got "
                         f"{_shown(schedule)}")
    if _is_str(schedule, "plateau"):
        _check_plateau(state)


def _shown(value):
    """`value` for a message: a short repr of a scalar, the type of anything else (an
    array, a list: their repr may be long)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return text if len(text) <= 80 else f"{text[:77]}..."
    return f"a {type(value).__name__}"


def _is_str(value, text):
    """value == text, for a value that may be anything an entry decodes to (an array)."""
    return isinstance(value, str) and value == text


def _check_count(state, name, high=None):
    value = state[name]
    if not (_is_json_int(value) and value >= 0 and (high is None or value <= high)):
        bound = "" if high is None else f" and at most {high}"
        raise ValueError(f"{name} must be an int at least 0{bound}; got {_shown(value)}")


def _check_rate(state, name):
    value = state[name]
    if not (isinstance(value, float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite float at least 0; got {_shown(value)}")


def _check_state_array(name, array, n_params, dtype):
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name} must be an array; got {_shown(array)}")
    if array.shape != (n_params,) or array.dtype != dtype:
        raise ValueError(f"{name} must be a ({n_params},) {dtype} array, as the weights; "
                         f"got a {array.shape} {array.dtype} array")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinity")


def _check_plateau(state):
    for field in ("factor", "min_lr"):
        _check_rate(state, f"plateau.{field}")
    if state["plateau.rate"] is not None:   # None: the schedule has not started
        _check_rate(state, "plateau.rate")
    for field in ("patience", "waited"):
        _check_count(state, f"plateau.{field}")
    best = state["plateau.best"]
    if not (isinstance(best, float) and not math.isnan(best)):   # inf: no epoch seen yet
        raise ValueError(f"plateau.best must be a float, not NaN; got {_shown(best)}")


def _resumed_attributes(state, coefs, intercepts):
    """The private attributes partial_fit reads, from a checked _optimizer_state: the
    optimizer state built by TrainingState (so its arrays are placed as training
    places them), the learning rate, the stall count and the schedule."""
    attributes = {}
    if state["solver"] is not None:
        sizes = [coefs[0].shape[0], *(coef.shape[1] for coef in coefs)]
        params = ParameterLayout(sizes).pack(coefs, intercepts, coefs[0].dtype)
        training = TrainingState(params, state["solver"])
        for name, array in training.optimizer_state.items():
            array[...] = state[f"optimizer.{name}"]
        training.t, training.n_steps = state["t"], state["n_steps"]
        attributes["_solver_state"] = training
    if state["learning_rate"] is not None:
        attributes["_learning_rate"] = state["learning_rate"]
    if state["no_improvement_count"] is not None:
        attributes["_no_improvement_count"] = state["no_improvement_count"]
    schedule = state["lr_schedule"]
    if schedule == "plateau":
        attributes["_lr_schedule"] = Plateau(**{field: state[f"plateau.{field}"]
                                                for field in PLATEAU_FIELDS})
    elif schedule is not None:
        attributes["_lr_schedule"] = SCHEDULES[schedule]
    return attributes
