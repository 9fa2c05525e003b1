"""Callbacks: callables ``f(model, metrics) -> bool | None`` run after every epoch.

``metrics`` is a dict with ``epoch``, ``max_iter``, ``loss``, ``learning_rate``,
``seconds`` (the epoch's wall time), ``samples_per_second``, and, when there is
validation data, ``validation_loss`` and ``validation_score``. A callback that
returns True stops training after that epoch (the model keeps that epoch's
weights, or the best ones under early stopping). Pass them with
``MLPClassifier(callbacks=[...])``.
"""
import sys

__all__ = ["ProgressBar", "StopAtScore"]


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
