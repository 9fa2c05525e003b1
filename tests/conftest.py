"""What every test gets for free: a check of the floating-point control state; and the
hypothesis profiles of the property tests.

``fastmlp-quick``, the default, runs few derandomized examples: the same ones on every run,
in seconds. ``fastmlp-long`` runs ten times as many, new ones each run. Choose one with
``FASTMLP_HYPOTHESIS_PROFILE=fastmlp-long`` (or hypothesis' ``--hypothesis-profile``).
"""
import os

import pytest

from fastmlp._kernels.common import floating_point_control

try:
    from hypothesis import settings
except ImportError:   # only the property tests need hypothesis
    settings = None

if settings is not None:
    settings.register_profile("fastmlp-quick", derandomize=True, max_examples=100,
                              deadline=None, database=None)
    settings.register_profile("fastmlp-long", max_examples=1000, deadline=None,
                              database=None)
    settings.load_profile(os.environ.get("FASTMLP_HYPOTHESIS_PROFILE", "fastmlp-quick"))


@pytest.fixture(autouse=True)
def floating_point_control_is_left_as_it_was():
    """No kernel may leave the thread's floating-point control state changed (rounding,
    flush-to-zero, denormals-are-zero): it would change every later computation of the
    user's process."""
    before = floating_point_control()
    yield
    assert floating_point_control() == before, (
        f"the floating-point control state changed: {before:#x} -> "
        f"{floating_point_control():#x}")
