"""The team's cost model (fastmlp/_engine/team_model.py): how many threads a step is worth."""
import numpy as np
import pytest

from fastmlp._engine import team_model
from fastmlp._engine.engines import CythonEngine
from fastmlp._engine.layout import ParameterLayout
from fastmlp._kernels import step

from helpers import training_config

SMALL = [784, 256, 128, 10]
LARGE = [784, 1024, 1024, 10]


def test_a_tiny_step_runs_on_one_thread_however_many_cores():
    assert team_model.best_team([64, 16, 10], 8, 64) == 1
    assert team_model.best_team([4, 3, 2], 200, 64) == 1


def test_a_large_step_takes_every_core_of_a_small_machine():
    assert team_model.best_team(LARGE, 256, 2) == 2
    assert team_model.best_team(SMALL, 128, 2) == 2


def test_the_team_grows_with_the_work_and_stops_short_of_64_cores_for_small_steps():
    teams = [team_model.best_team(SMALL, batch, 64) for batch in (8, 32, 128, 512, 4096)]
    assert teams == sorted(teams) and teams[0] < teams[-1]
    # batch 32 on 64 cores: a barrier per layer on 64 threads would cost more than the
    # 64th part of the work saves
    assert 1 < team_model.best_team(SMALL, 32, 64) < 64


def test_a_team_never_exceeds_its_limit_nor_splits_below_a_vector_of_units():
    assert team_model.best_team(LARGE, 4096, 3) == 3
    assert team_model.best_team([784, 16, 10], 4096, 64) <= 16 // team_model.MIN_UNITS


@pytest.mark.parametrize("sizes", [SMALL, LARGE, [64, 100, 10]])
def test_the_fewest_rows_per_thread_are_where_two_threads_start_to_win(sizes):
    rows = team_model.fewest_rows_per_thread(sizes, 1000)
    assert rows < 1000
    assert team_model.step_seconds(sizes, 2 * rows, 2) <= team_model.step_seconds(
        sizes, 2 * rows, 1)
    if rows > team_model.MIN_ROWS:
        assert team_model.step_seconds(sizes, 2 * (rows - 1), 2) > team_model.step_seconds(
            sizes, 2 * (rows - 1), 1)


def test_the_fewest_rows_per_thread_stop_at_the_most_asked_for():
    # a network whose team never wins: the search stops at `most`, not at a million rows
    assert team_model.fewest_rows_per_thread([8, 6, 3], 100) == 100


@pytest.mark.parametrize("batch_size", [1, 7, 32, 200])
def test_the_engine_runs_its_full_minibatch_on_its_whole_team(batch_size):
    layout = ParameterLayout([64, 100, 10])
    engine = CythonEngine(layout, training_config("adam", "relu", "softmax", batch_size),
                          np.float32)
    assert engine.n_threads >= 1 and engine.rows_per_part >= 1
    assert batch_size // engine.rows_per_part >= engine.n_threads


def test_a_team_overhead_measurement_is_small():
    # the region's cost is a difference of two timings: on a busy machine it may come
    # out below 0, but never by much
    region, barrier = step.team_overhead(2, 2000)
    assert abs(region) < 0.01 and 0 < barrier < 0.01
    with pytest.raises(ValueError, match="at least 1"):
        step.team_overhead(0, 10)
