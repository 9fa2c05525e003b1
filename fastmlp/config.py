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
import threading

# interrupt: what Ctrl-C (KeyboardInterrupt) during a minibatch fit or partial_fit
# does. 'warn' is scikit-learn's behaviour: the fit stops between two minibatch
# steps, warns "Training interrupted by user." and returns the model, which holds
# the last whole epoch (the best one under early stopping). 'raise' re-raises the
# KeyboardInterrupt after the same clean stop, for applications (a CLI, a job
# runner) that must stop rather than go on with the model.
_DEFAULTS = {"interrupt": "warn"}
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
        ``{"interrupt": 'warn' or 'raise'}``.
    """
    return dict(_settings())


def set_config(interrupt=None):
    """Change settings for this thread (and the defaults of threads started later).

    Parameters
    ----------
    interrupt : {'warn', 'raise'}, default=None (unchanged)
        What Ctrl-C during a minibatch ``fit`` or ``partial_fit`` does: 'warn' (the
        default, as scikit-learn) stops between two steps, warns "Training
        interrupted by user." and returns the model holding its last whole epoch;
        'raise' stops the same way, then re-raises the KeyboardInterrupt.

    Examples
    --------
    >>> import fastmlp
    >>> fastmlp.set_config(interrupt="raise")
    >>> fastmlp.set_config(interrupt="warn")
    """
    changes = {"interrupt": interrupt}
    for name, value in changes.items():
        if value is not None and value not in _CHOICES[name]:
            raise ValueError(f"{name} must be one of {list(_CHOICES[name])}; got {value!r}")
    changes = {name: value for name, value in changes.items() if value is not None}
    _settings().update(changes)
    _global.update(changes)


@contextlib.contextmanager
def config_context(**settings):
    """Settings for the duration of a ``with`` block, in this thread.

    Parameters
    ----------
    **settings
        As :func:`set_config` takes them.

    Examples
    --------
    >>> import fastmlp
    >>> with fastmlp.config_context(interrupt="raise"):
    ...     pass   # a fit here re-raises Ctrl-C
    """
    unknown = set(settings) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown fastmlp setting(s) {sorted(unknown)}; "
                        f"known: {sorted(_DEFAULTS)}")
    for name, value in settings.items():
        if value not in _CHOICES[name]:
            raise ValueError(f"{name} must be one of {list(_CHOICES[name])}; got {value!r}")
    before = dict(_settings())
    _settings().update(settings)
    try:
        yield
    finally:
        _settings().clear()
        _settings().update(before)
