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
"""
import math
from dataclasses import dataclass

__all__ = ["SCHEDULES", "constant", "cosine", "onecycle", "Plateau", "schedule_for"]


def constant(epoch, lr_init, total_epochs, warmup_epochs=0):
    """``lr_init`` at every epoch after the warm-up (scikit-learn's sgd schedules
    apply on top, without a warm-up)."""
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
    """

    factor: float = 0.2
    patience: int = 3
    min_lr: float = 1e-6
    rate: float = None    # the current rate (None: not started)
    best: float = math.inf
    waited: int = 0

    def __call__(self, epoch, lr_init, total_epochs, warmup_epochs=0):
        if self.rate is None:
            self.rate = lr_init
        if epoch < warmup_epochs:
            return _warmup(epoch, self.rate, warmup_epochs)
        return self.rate

    def observe(self, loss, tol):
        """After an epoch: count it on the plateau or not, and lower the rate when
        the plateau is `patience` epochs long."""
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
    the user's callable f(epoch, lr_init) wrapped to the schedules' signature."""
    if isinstance(lr_schedule, str):
        schedule = SCHEDULES[lr_schedule]
        return schedule() if isinstance(schedule, type) else schedule

    def user_schedule(epoch, lr_init, total_epochs, warmup_epochs=0):
        return lr_schedule(epoch, lr_init)
    return user_schedule
