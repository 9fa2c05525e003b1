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
        self.adam_t = 0                          # Adam's step count t
        self.n_steps = 0                         # every update: keys dropout masks
