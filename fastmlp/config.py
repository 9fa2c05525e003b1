"""Settings of fastmlp's behaviour as a library, the way scikit-learn has its own
(``sklearn.set_config``): process-wide defaults, changed for one block of code by
:func:`config_context`, each thread seeing its own changes.

>>> import fastmlp
>>> fastmlp.get_config()["interrupt"]
'warn'
>>> with fastmlp.config_context(interrupt="raise"):
...     fastmlp.get_config()["interrupt"]
'raise'
"""
import contextlib
import numbers
import threading

# interrupt: what Ctrl-C (KeyboardInterrupt) during a minibatch fit or partial_fit
# does. 'warn' is scikit-learn's behaviour: the fit stops between two minibatch
# steps, warns "Training interrupted by user." and returns the model, which holds
# the last whole epoch (the best one under early stopping). 'raise' re-raises the
# KeyboardInterrupt after the same clean stop, for applications (a CLI, a job
# runner) that must stop rather than go on with the model.
#
# memmap_chunk_bytes: how much of an np.memmap X a minibatch fit reads at a time
# (fastmlp/_estimators/out_of_core.py): each epoch visits blocks of consecutive rows of
# about this many bytes (in the training dtype) in a random order, each copied into one
# in-memory buffer of this size. A memmap no larger than one such block is fitted as
# any array. Tens of MB: large enough that reading a block from disk is
# sequential and the shuffle mixes many minibatches, small enough to be a small part
# of the memory the fit uses.
_DEFAULTS = {"interrupt": "warn", "memmap_chunk_bytes": 32 * 2**20}
_CHOICES = {"interrupt": ("warn", "raise")}
_global = dict(_DEFAULTS)
_local = threading.local()


def _settings():
    if not hasattr(_local, "settings"):
        _local.settings = dict(_global)
    return _local.settings


def get_config():
    """The settings in effect in this thread.

    Returns
    -------
    config : dict
        ``{"interrupt": 'warn' or 'raise', "memmap_chunk_bytes": int}``: a copy,
        changing it changes nothing (see :func:`set_config`).

    Examples
    --------
    >>> import fastmlp
    >>> config = fastmlp.get_config()
    >>> config["interrupt"], config["memmap_chunk_bytes"] == 32 * 2**20
    ('warn', True)
    """
    return dict(_settings())


def set_config(interrupt=None, memmap_chunk_bytes=None):
    """Change settings for this thread (and the defaults of threads started later).

    Parameters
    ----------
    interrupt : {'warn', 'raise'}, default=None (unchanged)
        What Ctrl-C during a minibatch ``fit`` or ``partial_fit`` does: 'warn' (the
        default, as scikit-learn) stops between two steps, warns "Training
        interrupted by user." and returns the model holding its last whole epoch;
        'raise' stops the same way, then re-raises the KeyboardInterrupt.
    memmap_chunk_bytes : int, default=None (unchanged)
        The size of the blocks of rows in which a minibatch ``fit`` or
        ``partial_fit`` reads an ``np.memmap`` X (32 MiB unless changed; see
        docs/out_of_core.md). A memmap no larger than one block is fitted as any
        array.

    Raises
    ------
    ValueError
        For an unknown `interrupt` choice, or a `memmap_chunk_bytes` below 1.
    TypeError
        For a `memmap_chunk_bytes` that is not an integer.

    See Also
    --------
    config_context : Settings for one block of code only.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.set_config(interrupt="raise")   # Ctrl-C now stops the program
    >>> fastmlp.get_config()["interrupt"]
    'raise'
    >>> fastmlp.set_config(interrupt="warn")    # back to the default
    """
    changes = {"interrupt": interrupt, "memmap_chunk_bytes": memmap_chunk_bytes}
    changes = {name: value for name, value in changes.items() if value is not None}
    for name, value in changes.items():
        _check_setting(name, value)
    _settings().update(changes)
    _global.update(changes)


def _check_setting(name, value):
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            raise ValueError(f"{name} must be one of {list(_CHOICES[name])}; got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    elif value < 1:
        raise ValueError(f"{name} must be positive; got {value!r}")


@contextlib.contextmanager
def config_context(**settings):
    """Settings for the duration of a ``with`` block, in this thread.

    Parameters
    ----------
    **settings
        As :func:`set_config` takes them: ``interrupt``, ``memmap_chunk_bytes``.

    Raises
    ------
    TypeError
        For an unknown setting (or as :func:`set_config`).
    ValueError
        As :func:`set_config`.

    Examples
    --------
    >>> import fastmlp
    >>> with fastmlp.config_context(interrupt="raise"):
    ...     fastmlp.get_config()["interrupt"]   # a fit here re-raises Ctrl-C
    'raise'
    >>> fastmlp.get_config()["interrupt"]       # as before the block
    'warn'
    """
    unknown = set(settings) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown fastmlp setting(s) {sorted(unknown)}; "
                        f"known: {sorted(_DEFAULTS)}")
    for name, value in settings.items():
        _check_setting(name, value)
    before = dict(_settings())
    _settings().update(settings)
    try:
        yield
    finally:
        _settings().clear()
        _settings().update(before)
