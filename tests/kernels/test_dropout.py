"""The counter-based dropout mask (fastmlp/_kernels/dropout.pxd): the kernels and the
NumPy reference draw the same mask, and about `rate` of the units are dropped."""
import numpy as np

from fastmlp import reference
from fastmlp._engine.registry import ACTIVATIONS
from fastmlp._kernels import activations, dropout


def test_dropout_masks_are_the_same_in_cython_and_numpy():
    key, rate, stride, offset = 0xDEADBEEF, 0.3, 29, 11
    z = np.ones((17, 13))
    activations.bias_activation_twin(z, np.zeros(13), ACTIVATIONS["identity"].code,
                                      (key, rate, stride, offset), 0)
    mask = reference.dropout_mask(key, rate, 17, stride, offset, 13)
    np.testing.assert_array_equal(z != 0, mask)
    np.testing.assert_allclose(z[mask], 1 / (1 - rate))
    assert 0.2 < 1 - mask.mean() < 0.4        # about `rate` of the units dropped


def test_step_keys_are_the_same_in_cython_and_numpy_and_differ_by_step():
    assert dropout.step_key_twin(7, 3) == reference.step_key(7, 3)
    assert reference.step_key(7, 3) != reference.step_key(7, 4)
    assert len({dropout.step_key_twin(7, step) for step in range(1000)}) == 1000
