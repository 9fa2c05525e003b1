"""The engines (fastmlp/_engine/engines.py): who runs the team, and where the arrays
the optimizer streams together sit in memory."""
import numpy as np
import pytest

from fastmlp._engine import threads
from fastmlp._engine.engines import CythonEngine
from fastmlp._engine.layout import ParameterLayout, staggered_empty
from fastmlp._engine.registry import OPTIMIZERS, TEAM_MODES
from fastmlp._engine.state import STATE_SLOTS, TrainingState
from fastmlp._kernels import epoch

from helpers import DTYPES, training_config


def test_team_mode_follows_n_threads():
    # threads the user set: always the team; all cores (None): adaptive
    layout = ParameterLayout([6, 5, 3])
    config = training_config("adam", "relu", "softmax", 4)
    for bound_blas, mode in [(True, "always"), (False, "adaptive")]:
        config.bound_blas = bound_blas
        assert CythonEngine(layout, config, np.float64, n_threads=2).team_mode == \
            TEAM_MODES[mode]
    engine = CythonEngine(layout, config, np.float64, n_threads=2, team_mode="serial")
    assert engine.team_mode == TEAM_MODES["serial"]   # set explicitly: kept
    np.testing.assert_array_equal(engine.probe_memory, epoch.new_probe_memory())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_optimizer_arrays_sit_at_different_page_offsets(dtype, solver):
    # params, grads and the optimizer's state are streamed by one loop: no two may
    # share an offset within a 4 KiB page (4K aliasing), and each must still be a
    # plain array
    for slot in range(4):
        array = staggered_empty(1001, dtype, slot)
        assert array.shape == (1001,) and array.dtype == dtype and array.flags.c_contiguous
        assert array.ctypes.data % 4096 == (slot * (1024 + 64)) % 4096
    layout = ParameterLayout([7, 5, 3])
    params = np.arange(layout.n_params, dtype=dtype)
    state = TrainingState(params, solver)
    engine = CythonEngine(layout, training_config(solver, "relu", "softmax", 4), dtype)
    arrays = [state.params, engine.grads, *state.optimizer_state.values()]
    assert len(state.optimizer_state) <= len(STATE_SLOTS)
    assert len({a.ctypes.data % 4096 for a in arrays}) == len(arrays)
    np.testing.assert_array_equal(state.params, params)
    assert not np.shares_memory(state.params, params)
    assert not any(a.any() for a in state.optimizer_state.values())


def test_a_step_too_small_for_a_team_keeps_blas_on_one_thread_too():
    # the default's team of one: BLAS's own threads would pay the same barriers
    config = training_config("adam", "relu", "softmax", 200)
    small = CythonEngine(ParameterLayout([64, 100, 10]), config, np.float32)
    assert small.n_threads == 1
    assert small.one_blas_thread == threads.can_bound_blas()
    large = CythonEngine(ParameterLayout([784, 256, 128, 10]), config, np.float32)
    assert large.one_blas_thread is False
    asked = CythonEngine(ParameterLayout([64, 100, 10]), config, np.float32, n_threads=1)
    assert asked.one_blas_thread is False   # the user's n_threads bound BLAS through config
