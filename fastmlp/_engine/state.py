"""What training mutates: the flat parameters, the optimizer's state and step count."""
from fastmlp._engine.layout import staggered_empty
from fastmlp._engine.registry import OPTIMIZERS

# Page-offset slots of the arrays the optimizer streams together (grads: the engine's).
PARAMS_SLOT, GRADS_SLOT = 0, 1
STATE_SLOTS = (2, 3)


class TrainingState:
    """Parameters and optimizer state of one fit, in the flat layout.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Initial flat parameters (see ``ParameterLayout``), copied into an array
        placed for the optimizer loop (see ``staggered_empty``).
    solver : str
        The optimizer (registry.OPTIMIZERS): its state arrays start at zero.
    """

    def __init__(self, params, solver):
        self.solver = solver
        self.params = staggered_empty(params.shape[0], params.dtype, PARAMS_SLOT)
        self.params[...] = params
        # the optimizer's arrays by name (Adam's m and v, SGD's velocity, ...)
        self.optimizer_state = {name: self._zeros(params, slot) for name, slot in
                                zip(OPTIMIZERS[solver].state, STATE_SLOTS)}
        self.t = 0          # the optimizer's updates so far (Adam's bias correction)
        self.n_steps = 0    # every update: keys the dropout masks

    def copy(self):
        """An independent copy, placed as a new state is."""
        other = TrainingState(self.params, self.solver)
        for name, array in self.optimizer_state.items():
            other.optimizer_state[name][...] = array
        other.t, other.n_steps = self.t, self.n_steps
        return other

    @staticmethod
    def _zeros(like, slot):
        array = staggered_empty(like.shape[0], like.dtype, slot)
        array[...] = 0
        return array
