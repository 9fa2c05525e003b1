"""Learning-rate schedules: the rate of each epoch, for every minibatch solver.

``MLPClassifier(lr_schedule=...)`` takes a name from :data:`SCHEDULES` or a callable
``f(epoch, lr_init) -> rate`` (epoch counted from 0). A schedule sets the rate an
epoch runs with; every step of that epoch uses it. The rates a fit used are in the
model's ``learning_rate_curve_``.

``fit`` (warm-started or not) starts a schedule from its first epoch over
``max_iter`` epochs; successive ``partial_fit`` calls go on with it, one epoch each.

>>> from fastmlp.schedules import cosine
>>> [round(cosine(e, 0.1, 4), 4) for e in range(4)]
[0.1, 0.0854, 0.05, 0.0146]

The same rates, as a model trained by ``partial_fit`` runs them:

>>> import numpy as np
>>> from fastmlp import MLPClassifier
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(100, 4))
>>> y = (X[:, 0] > 0).astype(int)
>>> model = MLPClassifier((8,), learning_rate_init=0.1, lr_schedule="cosine", max_iter=4,
...                       random_state=0)
>>> for _ in range(4):
...     model = model.partial_fit(X, y, classes=[0, 1])
>>> np.round(model.learning_rate_curve_, 4)
array([0.1   , 0.0854, 0.05  , 0.0146])
"""
import math
from dataclasses import dataclass

__all__ = ["SCHEDULES", "constant", "cosine", "onecycle", "Plateau", "schedule_for"]


def constant(epoch, lr_init, total_epochs, warmup_epochs=0):
    """``lr_init`` at every epoch after the warm-up (scikit-learn's sgd schedules
    apply on top, without a warm-up).

    Parameters
    ----------
    epoch : int
        The epoch, counted from 0.
    lr_init : float
        The model's ``learning_rate_init``.
    total_epochs : int
        The epochs of the schedule: the model's ``max_iter``.
    warmup_epochs : int, default=0
        Epochs of a linear rise to lr_init first: epoch e of them runs at
        ``lr_init * (e + 1) / (warmup_epochs + 1)``.

    Returns
    -------
    rate : float
        The learning rate of that epoch.

    Examples
    --------
    >>> from fastmlp.schedules import constant
    >>> [round(constant(e, 0.1, 10, warmup_epochs=3), 4) for e in range(5)]
    [0.025, 0.05, 0.075, 0.1, 0.1]
    """
    if epoch < warmup_epochs:
        return _warmup(epoch, lr_init, warmup_epochs)
    return lr_init


def _warmup(epoch, lr_init, warmup_epochs):
    """A linear rise to lr_init over the first warmup_epochs: epoch e runs at
    ``lr_init * (e + 1) / (warmup_epochs + 1)``, so the first epoch is never at 0."""
    return lr_init * (epoch + 1) / (warmup_epochs + 1)


def cosine(epoch, lr_init, total_epochs, warmup_epochs=0):
    """Cosine decay from lr_init to 0 over the epochs after the warm-up.

    Epoch e (warm-up over, e >= W of T epochs) runs at
    ``0.5 * lr_init * (1 + cos(pi * (e - W) / (T - W)))``: lr_init at the first,
    a rate that reaches 0 at the end of the last epoch (at e = T), and 0 after it.

    Parameters
    ----------
    epoch : int
        The epoch, counted from 0.
    lr_init : float
        The model's ``learning_rate_init``.
    total_epochs : int
        The epochs of the schedule: the model's ``max_iter``.
    warmup_epochs : int, default=0
        Epochs of a linear rise to lr_init first: epoch e of them runs at
        ``lr_init * (e + 1) / (warmup_epochs + 1)``.

    Returns
    -------
    rate : float
        The learning rate of that epoch.

    Examples
    --------
    >>> from fastmlp.schedules import cosine
    >>> [round(cosine(e, 0.1, 4), 4) for e in range(5)]
    [0.1, 0.0854, 0.05, 0.0146, 0.0]
    >>> [round(cosine(e, 0.1, 6, warmup_epochs=2), 4) for e in range(6)]
    [0.0333, 0.0667, 0.1, 0.0854, 0.05, 0.0146]
    """
    if epoch < warmup_epochs:
        return _warmup(epoch, lr_init, warmup_epochs)
    span = max(total_epochs - warmup_epochs, 1)
    progress = min((epoch - warmup_epochs) / span, 1.0)
    return 0.5 * lr_init * (1 + math.cos(math.pi * progress))


# One-cycle (Smith and Topin): from lr_init / ONECYCLE_START_DIVIDER up to lr_init over
# the warm-up, then down to lr_init / ONECYCLE_END_DIVIDER at the end, both halves
# along a cosine; without warmup_epochs the rise takes ONECYCLE_RISE of the epochs.
ONECYCLE_START_DIVIDER = 25.0
ONECYCLE_END_DIVIDER = 1e4
ONECYCLE_RISE = 0.3


def onecycle(epoch, lr_init, total_epochs, warmup_epochs=0):
    """The one-cycle policy: a cosine rise to lr_init, then a cosine fall far below it.

    Epoch e of T runs at the rate its position reaches on the curve: the rise spans
    ``warmup_epochs`` epochs (or 0.3 T), starting at lr_init / 25; the fall ends at
    lr_init / 1e4 at the end of the last epoch.

    Parameters
    ----------
    epoch : int
        The epoch, counted from 0.
    lr_init : float
        The model's ``learning_rate_init``: the peak rate.
    total_epochs : int
        The epochs of the schedule: the model's ``max_iter``.
    warmup_epochs : int, default=0
        The epochs of the rise; 0: 30% of total_epochs (at least 1).

    Returns
    -------
    rate : float
        The learning rate of that epoch.

    Examples
    --------
    >>> from fastmlp.schedules import onecycle
    >>> [round(onecycle(e, 0.1, 10), 4) for e in range(10)]
    [0.004, 0.028, 0.076, 0.1, 0.095, 0.0812, 0.0611, 0.0389, 0.0188, 0.005]
    """
    rise = warmup_epochs or max(1, round(ONECYCLE_RISE * total_epochs))
    low, lowest = lr_init / ONECYCLE_START_DIVIDER, lr_init / ONECYCLE_END_DIVIDER
    if epoch < rise:
        progress = epoch / rise
        return lr_init + (low - lr_init) * 0.5 * (1 + math.cos(math.pi * progress))
    progress = min((epoch - rise) / max(total_epochs - rise, 1), 1.0)
    return lowest + (lr_init - lowest) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class Plateau:
    """Reduce the rate on a plateau: once the watched loss has not fallen by more
    than ``tol`` for ``patience`` epochs in a row, multiply the rate by ``factor``
    (not below ``min_lr``) and wait ``patience`` epochs again.

    The loss watched is the validation loss where the fit has validation data
    (``early_stopping`` or ``X_val``), the training loss otherwise. As
    ``lr_schedule='plateau'``: factor 0.2, patience 3, min_lr 1e-6 (scikit-learn's
    ``learning_rate='adaptive'`` divides by 5 too, after ``n_iter_no_change``
    epochs); the rate stays where it is from one ``partial_fit`` call to the next.

    Calling it as ``schedule(epoch, lr_init, total_epochs, warmup_epochs=0)`` gives
    the current rate (lr_init until it first lowers it; a linear rise to it during
    the warm-up); :meth:`observe` feeds it each epoch's loss.

    Parameters
    ----------
    factor : float, default=0.2
        What the rate is multiplied by on a plateau.
    patience : int, default=3
        The epochs without improvement that make a plateau.
    min_lr : float, default=1e-6
        The rate is not lowered below this.
    rate : float or None, default=None
        The current rate; None until the first call sets it to lr_init.
    best : float, default=inf
        The lowest loss observed so far.
    waited : int, default=0
        The epochs without improvement so far.

    Examples
    --------
    >>> from fastmlp.schedules import Plateau
    >>> schedule = Plateau(patience=2)
    >>> schedule(0, 0.1, 10)
    0.1
    >>> for loss in [1.0, 0.5, 0.5, 0.5]:   # two epochs without improvement
    ...     schedule.observe(loss, tol=1e-4)
    >>> round(schedule(4, 0.1, 10), 4)
    0.02
    """

    factor: float = 0.2
    patience: int = 3
    min_lr: float = 1e-6
    rate: float = None    # the current rate (None: not started)
    best: float = math.inf
    waited: int = 0

    def __call__(self, epoch, lr_init, total_epochs, warmup_epochs=0):
        """The rate of `epoch`: the current rate (lr_init at first), risen to
        linearly during the warm-up; the arguments are the schedules' (see
        :func:`constant`), total_epochs unused."""
        if self.rate is None:
            self.rate = lr_init
        if epoch < warmup_epochs:
            return _warmup(epoch, self.rate, warmup_epochs)
        return self.rate

    def observe(self, loss, tol):
        """After an epoch: count it on the plateau or not, and lower the rate when
        the plateau is `patience` epochs long.

        Parameters
        ----------
        loss : float
            The epoch's watched loss (validation loss, or training loss).
        tol : float
            The model's ``tol``: a loss that does not fall more than this below
            the best is no improvement.

        Examples
        --------
        >>> from fastmlp.schedules import Plateau
        >>> schedule = Plateau(patience=1, rate=0.1)
        >>> schedule.observe(1.0, tol=0.01)
        >>> schedule.observe(0.995, tol=0.01)   # not 0.01 lower: a plateau
        >>> round(schedule.rate, 4), schedule.waited
        (0.02, 0)
        """
        if loss < self.best - tol:
            self.best, self.waited = loss, 0
            return
        self.best = min(self.best, loss)
        self.waited += 1
        if self.waited >= self.patience:
            self.rate = max(self.rate * self.factor, min(self.min_lr, self.rate))
            self.waited = 0


# The schedules by name: each f(epoch, lr_init, total_epochs, warmup_epochs) -> rate.
SCHEDULES = {"constant": constant, "cosine": cosine, "onecycle": onecycle,
             "plateau": Plateau}


def schedule_for(lr_schedule):
    """The schedule a fit runs: a fresh one for a name (a new Plateau each fit), or
    the user's callable f(epoch, lr_init) wrapped to the schedules' signature.

    Parameters
    ----------
    lr_schedule : str or callable
        A name in :data:`SCHEDULES`, or a callable ``f(epoch, lr_init) -> rate``
        (the model's ``lr_schedule``).

    Returns
    -------
    schedule : callable
        ``schedule(epoch, lr_init, total_epochs, warmup_epochs=0) -> rate``. A
        user's callable is called as it is: the warm-up is not applied to it.

    Examples
    --------
    >>> from fastmlp.schedules import schedule_for
    >>> round(schedule_for("cosine")(2, 0.1, 4), 4)
    0.05
    >>> halving = schedule_for(lambda epoch, lr_init: lr_init / 2 ** epoch)
    >>> halving(3, 0.1, 10)
    0.0125
    """
    if isinstance(lr_schedule, str):
        schedule = SCHEDULES[lr_schedule]
        return schedule() if isinstance(schedule, type) else schedule

    def user_schedule(epoch, lr_init, total_epochs, warmup_epochs=0):
        return lr_schedule(epoch, lr_init)
    return user_schedule
