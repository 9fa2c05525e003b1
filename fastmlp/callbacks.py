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
import time

from fastmlp._engine.registry import OPTIMIZERS
from fastmlp.progress import (
    FitRecord,
    LiveLine,
    fit_to_width,
    format_duration,
    format_rate,
    is_terminal,
    terminal_columns,
)

__all__ = ["ModelCheckpoint", "ProgressBar", "StopAtScore"]


class ProgressBar:
    """Show a fit's progress: a line per epoch, or on a terminal one live line.

    Used automatically when the estimator's ``verbose`` is set. When the stream
    is not a terminal (a file, a pipe, a notebook, pytest's capture), each epoch
    prints a line that starts with scikit-learn's ``Iteration N, loss = ...``, so
    logs stay comparable. On a terminal, each epoch rewrites one line in place
    (``\\r``): the epoch out of max_iter and a bar, the loss, the validation
    score, samples per second, the time elapsed and the time left. When the fit
    ends, the line is finished, the reason the fit stopped follows (with
    ``verbose``), then a summary: the epochs run, the final and best loss, the
    best validation score, the time.

    Parameters
    ----------
    width : int, default=20
        Characters of the bar (at most: a live line narrows it, or leaves it out,
        to fit the terminal's width).
    stream : file-like, default=sys.stdout
        sys.stdout as it is at the fit's first epoch.
    live : bool or None, default=None
        True for the live line, False for a line per epoch; None for the live
        line when the stream's ``isatty()`` is true.

    Attributes
    ----------
    seconds : float
        The training time summed over the epochs seen (the metrics' ``seconds``).

    Notes
    -----
    The time left is that of the epochs up to max_iter at the mean pace so far
    (wall time, validation included): a fit that stops sooner (``tol``, early
    stopping, L-BFGS converging) ends sooner. The estimators call :meth:`end`
    when a fit ends; without it, the live line is finished at epoch max_iter, or
    when the epoch number starts over (a new fit).

    Examples
    --------
    A line per epoch into a log (a ``StringIO`` is not a terminal):

    >>> import io, warnings
    >>> import numpy as np
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.callbacks import ProgressBar
    >>> from fastmlp.exceptions import ConvergenceWarning
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> log = io.StringIO()
    >>> model = MLPClassifier((8,), max_iter=3, random_state=0,
    ...                       callbacks=[ProgressBar(stream=log)])
    >>> with warnings.catch_warnings():   # 3 epochs are too few to converge
    ...     warnings.simplefilter("ignore", ConvergenceWarning)
    ...     model = model.fit(X, y)
    >>> print(log.getvalue())
    Iteration 1, loss = ... 1/3, ... samples/s
    Iteration 2, loss = ... 2/3, ... samples/s
    Iteration 3, loss = ... 3/3, ... samples/s
    """

    def __init__(self, width=20, stream=None, live=None):
        self.width = width
        self.stream = stream
        self.live = live
        self.seconds = 0.0   # training time summed over the epochs seen
        self._fit = None     # the fit in progress, a FitRecord

    def __call__(self, model, metrics):
        """Show the epoch (the callback protocol: see the module docstring).

        Parameters
        ----------
        model : MLPClassifier or MLPRegressor
            The model in training (not read).
        metrics : dict
            The epoch's metrics.

        Returns
        -------
        None
            A progress bar never stops training.
        """
        now = time.perf_counter()
        self.seconds += metrics["seconds"]
        if self._fit is not None and metrics["epoch"] <= self._fit.last_epoch:
            self.end()   # a new fit began without end() for the last one
        if self._fit is None:
            stream = self.stream or sys.stdout
            live = is_terminal(stream) if self.live is None else self.live
            self._fit = FitRecord(stream, LiveLine(stream) if live else None,
                                  started=now - metrics["seconds"])
        fit = self._fit
        fit.add(metrics, now)
        if fit.line is None:
            print(self.line(metrics), file=fit.stream, flush=True)
            return
        width = self.width if fit.bar_width is None else fit.bar_width
        text, fit.bar_width = self.live_line(metrics, fit.elapsed, fit.left,
                                             terminal_columns(fit.stream), width)
        fit.line.update(text)
        if metrics["epoch"] >= metrics["max_iter"]:
            fit.line.finish()

    def end(self, message=None, summary=True):
        """End the fit's output: finish the live line, print `message` (why the fit
        stopped: after the last epoch's line), then the live display's summary.

        Parameters
        ----------
        message : str or None, default=None
            Why the fit stopped, printed after the last epoch's line; None: nothing.
        summary : bool, default=True
            False for no summary (a ``partial_fit`` call, a fit that raised).
        """
        fit, self._fit = self._fit, None
        stream = (self.stream or sys.stdout) if fit is None else fit.stream
        live = fit is not None and fit.line is not None
        if live:
            fit.line.finish()
        if message:
            print(message, file=stream, flush=True)
        if live and summary:
            print(fit.summary(), file=stream, flush=True)

    def bar(self, metrics, width):
        """`width` characters, '#' for the share of max_iter done, '.' for the rest.

        Parameters
        ----------
        metrics : dict
            The epoch's metrics; ``epoch`` and ``max_iter`` are read.
        width : int
            The characters of the bar.

        Returns
        -------
        bar : str
            `width` characters.

        Examples
        --------
        >>> from fastmlp.callbacks import ProgressBar
        >>> ProgressBar().bar({"epoch": 3, "max_iter": 10}, 10)
        '###.......'
        """
        done = metrics["epoch"] / max(metrics["max_iter"], 1)
        filled = max(0, min(width, int(round(done * width))))
        return "#" * filled + "." * (width - filled)

    def live_line(self, metrics, elapsed, left, columns, width):
        """The live line after an epoch, in `columns` - 1 characters, and its bar's
        width: at most `width` (the bar narrows on a narrow terminal), 0 without one.

        Parameters
        ----------
        metrics : dict
            The epoch's metrics.
        elapsed, left : float
            The seconds since the fit started, and the estimate of those left.
        columns : int
            The terminal's width.
        width : int
            The widest bar wanted.

        Returns
        -------
        text : str
            The line.
        bar_width : int
            The width its bar got.
        """
        digits = len(str(metrics["max_iter"]))
        fields = [f"epoch {metrics['epoch']:>{digits}}/{metrics['max_iter']}",
                  f"loss {metrics['loss']:.6g}"]
        if metrics.get("validation_score") is not None:
            fields.append(f"val score {metrics['validation_score']:.4f}")
        # fixed widths: the line keeps its length, and its bar its width, from epoch to epoch
        fields += [f"{format_rate(metrics['samples_per_second']):>5} samples/s",
                   f"{format_duration(elapsed):>5} elapsed",
                   f"{format_duration(left):>5} left"]
        return fit_to_width(fields, lambda n: self.bar(metrics, n), width, columns)

    def line(self, metrics):
        """The text printed for one epoch when the output is not live.

        Parameters
        ----------
        metrics : dict
            The epoch's metrics, as a callback receives them: ``epoch``,
            ``max_iter``, ``loss``, ``seconds``, ``samples_per_second``, and
            optionally ``validation_score`` and ``validation_loss``.

        Returns
        -------
        line : str
            ``Iteration N, loss = ...``, the bar, the epoch of max_iter, the
            validation values when given, the time and the speed.

        Examples
        --------
        >>> from fastmlp.callbacks import ProgressBar
        >>> metrics = {"epoch": 3, "max_iter": 10, "loss": 0.25, "seconds": 0.5,
        ...            "samples_per_second": 2000.0}
        >>> print(ProgressBar(width=10).line(metrics))
        Iteration 3, loss = 0.25000000 [###.......] 3/10, 0.50 s, 2,000 samples/s
        """
        line = (f"Iteration {metrics['epoch']}, loss = {metrics['loss']:.8f} "
                f"[{self.bar(metrics, self.width)}] {metrics['epoch']}/{metrics['max_iter']}")
        if metrics.get("validation_score") is not None:
            line += f", validation score {metrics['validation_score']:.4f}"
        if metrics.get("validation_loss") is not None:
            line += f", validation loss {metrics['validation_loss']:.6f}"
        return line + (f", {metrics['seconds']:.2f} s, "
                       f"{metrics['samples_per_second']:,.0f} samples/s")


class StopAtScore:
    """Stop training once the validation score reaches `score`.

    The validation score is the model's ``scoring`` (accuracy or R^2 by default)
    on its validation data, so the fit needs some: ``early_stopping=True``, or
    ``X_val`` and ``y_val`` given to fit. Without them it never stops training.

    Parameters
    ----------
    score : float
        The validation score to reach: training stops after the first epoch
        whose score is at least this.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.callbacks import StopAtScore
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> model = MLPClassifier((8,), learning_rate_init=0.01, batch_size=20,
    ...                       random_state=0, callbacks=[StopAtScore(0.9)])
    >>> model = model.fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    >>> model.validation_scores_[-1] >= 0.9
    True
    >>> all(score < 0.9 for score in model.validation_scores_[:-1])
    True
    """

    def __init__(self, score):
        self.score = score

    def __call__(self, model, metrics):
        """Whether the epoch's validation score reached `score`.

        Parameters
        ----------
        model : MLPClassifier or MLPRegressor
            The model in training (not read).
        metrics : dict
            The epoch's metrics; ``validation_score`` is read.

        Returns
        -------
        stop : bool
            True (stop training) once the score is reached; False without a
            validation score.
        """
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
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "best.npz")
    >>> checkpoint = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    >>> model = MLPClassifier((8,), random_state=0, callbacks=[checkpoint])
    >>> for _ in range(5):
    ...     model = model.partial_fit(X, y, classes=[0, 1])
    >>> checkpoint.best == min(model.loss_curve_)
    True
    >>> resumed = load(path)   # the best epoch, its optimizer state included
    >>> len(resumed.loss_curve_)
    5
    >>> resumed.set_params(callbacks=None).partial_fit(X, y).n_features_in_
    4

    With ``{epoch}`` in the path, one file per epoch:

    >>> every = ModelCheckpoint(os.path.join(folder.name, "epoch-{epoch:02d}.npz"),
    ...                         monitor="loss")
    >>> model = MLPClassifier((8,), random_state=0, callbacks=[every])
    >>> for _ in range(3):
    ...     model = model.partial_fit(X, y, classes=[0, 1])
    >>> sorted(name for name in os.listdir(folder.name) if name.startswith("epoch"))
    ['epoch-01.npz', 'epoch-02.npz', 'epoch-03.npz']
    >>> folder.cleanup()
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
        """Save the model after its epoch, if it is to be saved.

        Parameters
        ----------
        model : MLPClassifier or MLPRegressor
            The model in training, holding the epoch.
        metrics : dict
            The epoch's metrics; the `monitor` value is read with
            `save_best_only`.

        Returns
        -------
        None
            A checkpoint never stops training (an error does, see Raises).
        """
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
