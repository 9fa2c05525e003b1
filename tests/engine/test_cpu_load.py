"""The adaptive team's look at the cores (fastmlp/_kernels/cpu_load.h, epoch.pyx): the
kernel's CPU counts tell when other processes hold the cores a team would need, so
that no probe wakes the team beside them."""
import contextlib
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from fastmlp._engine.engines import CythonEngine
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp._engine.state import TrainingState
from fastmlp._kernels import epoch
from fastmlp._kernels.epoch import PROBE_FIELDS

from helpers import random_data, rng_for, training_config

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the kernel's CPU counts are read from /proc/stat")


@contextlib.contextmanager
def busy_loopers(count):
    """`count` processes spinning on a core each, killed on the way out."""
    loopers = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                stdin=subprocess.DEVNULL) for _ in range(count)]
    try:
        time.sleep(0.3)   # started and looping
        yield loopers
    finally:
        for looper in loopers:
            looper.kill()
        for looper in loopers:
            looper.wait()


def others_over(seconds, work=None):
    """The cores other processes took over `seconds` (this process runs `work`, or
    sleeps), and this process's CPU seconds and the CPUs' busy seconds meanwhile."""
    first = epoch.look_at_cores()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        work() if work else time.sleep(end - time.monotonic())
    last = epoch.look_at_cores()
    interval, busy, own = (b - a for a, b in zip(first, last))
    others, _ = epoch.cores_taken_by_others(busy, own, interval, 2, 2)
    return others, own, busy, interval


def test_the_rule_leaves_a_team_the_cores_it_needs():
    # others' share = (busy - own) / interval; too much = more than the cores the team
    # leaves free plus half a core
    assert epoch.cores_taken_by_others(1.0, 0.5, 1.0, 2, 2) == (0.5, False)
    assert epoch.cores_taken_by_others(1.6, 0.5, 1.0, 2, 2) == (pytest.approx(1.1), True)
    assert epoch.cores_taken_by_others(3.0, 0.5, 1.0, 8, 2) == (2.5, False)
    assert epoch.cores_taken_by_others(7.5, 0.5, 1.0, 8, 2)[1] is True   # 7 of 8 taken
    assert epoch.cores_taken_by_others(0.2, 0.0, 1.0, 1, 1)[1] is False
    # ... and only while as many of their tasks are runnable now: a process that was
    # busy over the span but sleeps now (another benchmark worker, a pipeline's
    # previous stage) leaves its cores free
    assert epoch.cores_taken_by_others(1.6, 0.5, 1.0, 2, 2, runnable=1)[1] is True
    assert epoch.cores_taken_by_others(1.6, 0.5, 1.0, 2, 2, runnable=0)[1] is False
    assert epoch.cores_taken_by_others(7.5, 0.5, 1.0, 8, 2, runnable=6)[1] is False
    assert epoch.cores_taken_by_others(7.5, 0.5, 1.0, 8, 2, runnable=7)[1] is True


@linux_only
def test_a_busy_process_shows_as_a_core_taken():
    with busy_loopers(1):
        others, _, _, interval = others_over(0.5)
    assert interval > 0.4
    # the looper had a core to itself or shared one with whatever else ran
    assert 0.6 < others < len(os.sched_getaffinity(0)) + 0.1


@linux_only
def test_this_process_own_work_is_not_counted_as_others():
    # spinning here: the look's own CPU seconds are this process's (what it takes
    # off the CPUs' busy seconds), and the CPUs' busy seconds grew by at least as much
    cpu_before = time.process_time()
    _, own, busy, interval = others_over(0.5, work=lambda: sum(range(1000)))
    assert own == pytest.approx(time.process_time() - cpu_before, abs=0.02)
    assert own > 0.35 * interval      # it did run (most of the time: a loaded machine)
    assert busy > 0.8 * own           # the kernel counted its ticks


@linux_only
def test_a_busy_process_is_runnable_at_every_look():
    with busy_loopers(1):
        assert min(epoch.others_runnable() for _ in range(20)) >= 1


def train_beside(loopers):
    """A 2-thread adaptive epoch beside `loopers` busy processes, its first look
    spanning them: its probe memory."""
    sizes = [30, 17, 4]
    layout = ParameterLayout(sizes)
    rng = rng_for("cpu-load-skip")
    X, Y = random_data(rng, 240, sizes, "softmax", np.float64)
    config = training_config("adam", "relu", "softmax", 12)
    engine = CythonEngine(layout, config, np.float64, n_threads=2, team_mode="adaptive")
    state = TrainingState(glorot_uniform(layout, "relu", rng, np.float64), "adam")
    with busy_loopers(loopers):
        # the fit's first look: once the loopers run (a fit's first look otherwise
        # spans the time since the last fit, when they did not run yet)
        engine.probe_memory[PROBE_FIELDS.index("load_time"):
                            PROBE_FIELDS.index("load_own") + 1] = epoch.look_at_cores()
        time.sleep(0.3)
        engine.train_epoch(state, X, Y, None, np.arange(240, dtype=np.intp), config)
    return dict(zip(PROBE_FIELDS, engine.probe_memory))


@linux_only
@pytest.mark.skipif(len(os.sched_getaffinity(0)) > 8,
                    reason="takes a looper per core but one; too many on this machine")
def test_a_fit_beside_busy_cores_skips_the_probe_and_plays_the_team_on_one_thread():
    # (cores busy over the span but free now: the rule's test above; a fit there
    # would depend on what else this machine runs at that moment)
    n_cpus = len(os.sched_getaffinity(0))
    if n_cpus < 2:
        pytest.skip("one core: no team to probe")
    probe = train_beside(n_cpus - 1)
    assert probe["load_skips"] >= 1 and probe["team_wins"] == 0
    assert probe["serial_step"] == 0     # no probe ran: one thread from the start
