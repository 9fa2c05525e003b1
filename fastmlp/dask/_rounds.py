"""Where a round's time goes: compute on the workers, and everything in between.

A round is one exchange between the client and the workers: a local-SGD round, or one
loss-and-gradient evaluation of L-BFGS. Each task times its own work on its worker;
the client times the whole round, from sending the weights to having combined the
results. The round cannot end before its busiest worker has done its tasks (one after
another on a worker with one thread), so

    overhead = wall - max over workers of (that worker's compute seconds)

is what distribution costs: serialising and sending the weights and the results,
the scheduler's messages, the client combining the results, and a slower worker
waiting for the busiest (imbalance counts as compute, not as overhead).
"""
import time
from collections import defaultdict
from dataclasses import dataclass


@dataclass
class TaskTiming:
    """What a task reports besides its result: its worker and its compute seconds."""

    worker: str
    seconds: float


def worker_address():
    """The address of the worker running the calling task ('' outside a worker)."""
    from distributed import get_worker
    try:
        return get_worker().address
    except ValueError:
        return ""


class TaskClock:
    """Times a task's work on a worker: ``clock = TaskClock()``, then ``clock.timing()``."""

    def __init__(self):
        self.started = time.perf_counter()

    def timing(self):
        return TaskTiming(worker_address(), time.perf_counter() - self.started)


class RoundLog:
    """One entry per round, in lists of numbers (a fitted attribute ``save`` can store).

    Keys: ``wall_seconds`` (the client's time for the round), ``compute_seconds`` (the
    busiest worker's compute), ``overhead_seconds`` (their difference),
    ``sent_bytes`` (the arrays the client sent: the weights, and for local SGD the
    optimizer state, once to each worker holding shards) and ``received_bytes`` (the
    arrays the tasks returned).
    """

    KEYS = ("wall_seconds", "compute_seconds", "overhead_seconds", "sent_bytes",
            "received_bytes")

    def __init__(self):
        self.rounds = {key: [] for key in self.KEYS}

    def record(self, wall_seconds, timings, sent_bytes, received_bytes):
        """Add one round; returns its entry as a dict."""
        per_worker = defaultdict(float)
        for timing in timings:
            per_worker[timing.worker] += timing.seconds
        compute = max(per_worker.values(), default=0.0)
        entry = dict(wall_seconds=wall_seconds, compute_seconds=compute,
                     overhead_seconds=max(wall_seconds - compute, 0.0),
                     sent_bytes=int(sent_bytes), received_bytes=int(received_bytes))
        for key, value in entry.items():
            self.rounds[key].append(value)
        return entry

    def as_attribute(self):
        """A copy of the lists, keyed as above."""
        return {key: list(values) for key, values in self.rounds.items()}
