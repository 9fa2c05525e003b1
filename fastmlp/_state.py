"""What training mutates: the flat parameters, the optimizer's moments and step count."""
import numpy as np


class TrainingState:
    """Parameters and optimizer state of one fit, in the flat layout.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Initial flat parameters (see ``ParameterLayout``); owned from now on.
    """

    def __init__(self, params):
        self.params = params
        self.moment_1 = np.zeros_like(params)   # Adam's m, or SGD's velocity
        self.moment_2 = np.zeros_like(params)   # Adam's v (unused by SGD)
        self.adam_t = 0

    def copy_into(self, other):
        """Copy this state into `other` (same shapes), allocating nothing; return it."""
        if other is None:
            other = TrainingState(self.params.copy())
        np.copyto(other.params, self.params)
        np.copyto(other.moment_1, self.moment_1)
        np.copyto(other.moment_2, self.moment_2)
        other.adam_t = self.adam_t
        return other
