"""fastmlp never leaves the floating-point control state of the user's thread changed
(the autouse fixture of conftest.py checks it around every test); here, that the check
can see a change at all."""
import ctypes
import ctypes.util
import platform

import numpy as np
import pytest

from fastmlp import MLPClassifier
from fastmlp._kernels.common import floating_point_control

from helpers import quiet_fit

X86 = platform.machine() in ("x86_64", "AMD64", "i386", "i686")
FE_DOWNWARD, FE_TONEAREST = 0x400, 0x000   # <fenv.h> on x86


@pytest.mark.skipif(not X86, reason="the control word is read on x86 only")
def test_the_control_state_shows_a_changed_rounding_mode():
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    before = floating_point_control()
    libm.fesetround(FE_DOWNWARD)
    try:
        assert floating_point_control() != before
    finally:
        libm.fesetround(FE_TONEAREST)
    assert floating_point_control() == before


def test_training_on_a_team_and_predicting_leave_the_control_state_alone():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(600, 40)).astype(np.float32), rng.integers(0, 3, 600)
    before = floating_point_control()
    model = quiet_fit(MLPClassifier((64, 32), activation="gelu", max_iter=2, n_threads=2,
                                    random_state=0), X, y)
    model.predict_proba(X)
    model.predict_proba(X[:1])
    assert floating_point_control() == before
