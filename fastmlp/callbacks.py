"""Callbacks: callables ``f(model, metrics) -> bool | None`` run after every epoch.

``metrics`` is a dict with ``epoch``, ``max_iter``, ``loss``, ``learning_rate``,
``seconds`` (the epoch's wall time), ``samples_per_second``, and, when there is
validation data, ``validation_loss`` and ``validation_score``. A callback that
returns True stops training after that epoch (the model keeps that epoch's
weights, or the best ones under early stopping). Pass them with
``MLPClassifier(callbacks=[...])``. A callback runs once the model holds the
epoch: its attributes (``coefs_``, ``loss_curve_``, ...) are that epoch's.
"""
import contextlib
import os
import sys

from fastmlp._engine.registry import OPTIMIZERS

__all__ = ["ModelCheckpoint", "ProgressBar", "StopAtScore"]


class ProgressBar:
    """Print one line per epoch: a bar over max_iter, the loss, validation, speed.

    Used automatically when the estimator's ``verbose`` is set. The line starts
    with scikit-learn's ``Iteration N, loss = ...`` so logs stay comparable.

    Parameters
    ----------
    width : int, default=20
        Characters of the bar.
    stream : file-like, default=sys.stdout
    """

    def __init__(self, width=20, stream=None):
        self.width = width
        self.stream = stream
        self.seconds = 0.0   # training time summed over the epochs seen

    def __call__(self, model, metrics):
        self.seconds += metrics["seconds"]
        print(self.line(metrics), file=self.stream or sys.stdout, flush=True)

    def line(self, metrics):
        """The text printed for one epoch."""
        done = metrics["epoch"] / max(metrics["max_iter"], 1)
        filled = min(self.width, int(round(done * self.width)))
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"Iteration {metrics['epoch']}, loss = {metrics['loss']:.8f} "
                f"[{bar}] {metrics['epoch']}/{metrics['max_iter']}")
        if metrics.get("validation_score") is not None:
            line += f", validation score {metrics['validation_score']:.4f}"
        if metrics.get("validation_loss") is not None:
            line += f", validation loss {metrics['validation_loss']:.6f}"
        return line + (f", {metrics['seconds']:.2f} s, "
                       f"{metrics['samples_per_second']:,.0f} samples/s")


class StopAtScore:
    """Stop training once the validation score reaches `score`.

    Parameters
    ----------
    score : float
    """

    def __init__(self, score):
        self.score = score

    def __call__(self, model, metrics):
        value = metrics.get("validation_score")
        return value is not None and value >= self.score


class ModelCheckpoint:
    """Save the model after every epoch, or after each epoch that improved on the best.

    The files are :meth:`MLPClassifier.save` files, optimizer state included by
    default: :func:`fastmlp.load` one and ``partial_fit`` goes on from that epoch
    as training would have.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. ``{epoch}`` in it is replaced by the model's epoch
        count, ``len(model.loss_curve_)`` (format specs work: ``{epoch:04d}``),
        which goes on over ``partial_fit`` calls and warm starts where
        ``metrics["epoch"]`` starts again at 1. Without ``{epoch}``, each save
        replaces the last.
    monitor : {'validation_score', 'validation_loss', 'loss'}, \
            default='validation_score'
        The value `save_best_only` compares: higher is better for the score,
        lower for the losses. The validation ones need validation data
        (``early_stopping=True``, or ``X_val`` and ``y_val`` given to fit).
    save_best_only : bool, default=False
        Save only after an epoch whose monitored value beats every one before
        it (the first epoch always does). A fit that starts over (a fit without
        ``warm_start``) starts the comparison over.
    optimizer_state : bool, default=True
        Save what ``partial_fit`` needs to resume exactly (see
        :meth:`MLPClassifier.save`); False for smaller files that only predict.

    Attributes
    ----------
    best : float or None
        The best monitored value so far (with `save_best_only`).
    last_path : str or None
        The file written last.

    Raises
    ------
    ValueError
        At construction, for an unknown `monitor` or a `path` whose braces are
        not a format with ``{epoch}``. After an epoch (which stops the fit), for
        ``solver='lbfgs'``, whose model is published only once L-BFGS ends, and
        for a validation `monitor` with `save_best_only` and no validation data.

    Notes
    -----
    The file's ``callbacks`` parameter is null: the callbacks (this one among
    them) are not saved, and without the warning ``save`` gives for them. The
    other warnings of ``save`` (a parameter JSON cannot hold, a callable
    ``lr_schedule``) come with the first save only, not every epoch.

    Each save writes a file next to `path` and then renames it over `path`, so
    an interrupted save leaves the previous checkpoint whole.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastmlp import MLPClassifier, load
    >>> from fastmlp.callbacks import ModelCheckpoint
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> path = os.path.join(tempfile.mkdtemp(), "best.npz")
    >>> checkpoint = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    >>> model = MLPClassifier((8,), random_state=0, callbacks=[checkpoint])
    >>> for _ in range(5):
    ...     model = model.partial_fit(X, y, classes=[0, 1])
    >>> checkpoint.best == min(model.loss_curve_)
    True
    >>> resumed = load(path)   # the best epoch, its optimizer state included
    >>> resumed.set_params(callbacks=None).partial_fit(X, y).n_features_in_
    4
    """

    MONITORS = ("validation_score", "validation_loss", "loss")

    def __init__(self, path, monitor="validation_score", save_best_only=False,
                 optimizer_state=True):
        if monitor not in self.MONITORS:
            raise ValueError(f"monitor must be one of {list(self.MONITORS)}; got {monitor!r}")
        self.path = os.fsdecode(path)
        try:   # a mistyped path fails now, not after the first epoch's training
            self.path.format(epoch=0)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"path {self.path!r} is not a format with {{epoch}} only "
                             f"({error!r}); double the braces meant literally") from None
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.optimizer_state = optimizer_state
        self.best = None
        self.last_path = None
        self._last_epoch = None   # the epoch count of the last call: a smaller one starts over
        self._warned = False      # save's warnings come once, not every epoch

    def __call__(self, model, metrics):
        if model.solver not in OPTIMIZERS:
            raise ValueError(f"ModelCheckpoint needs a minibatch solver "
                             f"({', '.join(OPTIMIZERS)}); with {model.solver!r} the model "
                             "holds its weights only once fit ends: save it then")
        epoch = len(model.loss_curve_)
        if self._last_epoch is not None and epoch <= self._last_epoch:
            self.best = None   # a new fit: its epochs are not compared with the last one's
        self._last_epoch = epoch
        if self.save_best_only and not self._improved(metrics):
            return None
        self._save(model, self.path.format(epoch=epoch))
        return None

    def _improved(self, metrics):
        """Whether the monitored value beats the best so far (then it is the best)."""
        value = metrics.get(self.monitor)
        if value is None:
            raise ValueError(f"ModelCheckpoint(monitor={self.monitor!r}) has no "
                             f"{self.monitor} to compare: fit with early_stopping=True, or "
                             "with X_val and y_val, or monitor 'loss'")
        if self.best is not None and not (value > self.best if self.monitor ==
                                          "validation_score" else value < self.best):
            return False
        self.best = value
        return True

    def _save(self, model, path):
        """Write the model to a file beside `path`, then rename it over `path`."""
        # imported here: persistence imports the estimators, which import this module
        from fastmlp._estimators.persistence import write_model
        partial = f"{path}.{os.getpid()}.partial"
        try:
            write_model(model, partial, self.optimizer_state, warn=not self._warned,
                        unsaved_params=("callbacks",))
            self._warned = True
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise
        self.last_path = path
