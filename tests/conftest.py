"""Checks that every test gets for free."""
import pytest

from fastmlp._kernels.common import floating_point_control


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
