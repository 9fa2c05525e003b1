"""What training mutates: the flat parameters, the optimizer's moments and step count."""
import numpy as np

from fastmlp._layout import staggered_empty

# Page-offset slots of the arrays the optimizer streams together (grads: the engine's).
PARAMS_SLOT, GRADS_SLOT, MOMENT_1_SLOT, MOMENT_2_SLOT = range(4)


class TrainingState:
    """Parameters and optimizer state of one fit, in the flat layout.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Initial flat parameters (see ``ParameterLayout``), copied into an array
        placed for the optimizer loop (see ``staggered_empty``).
    """

    def __init__(self, params):
        self.params = staggered_empty(params.shape[0], params.dtype, PARAMS_SLOT)
        self.params[...] = params
        self.moment_1 = self._zeros(params, MOMENT_1_SLOT)   # Adam's m, or SGD's velocity
        self.moment_2 = self._zeros(params, MOMENT_2_SLOT)   # Adam's v (unused by SGD)
        self.adam_t = 0                          # Adam's step count t
        self.n_steps = 0                         # every update: keys dropout masks

    @staticmethod
    def _zeros(like, slot):
        array = staggered_empty(like.shape[0], like.dtype, slot)
        array[...] = 0
        return array
