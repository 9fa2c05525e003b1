"""The one configuration of a training run, shared by both engines."""
from dataclasses import dataclass
from typing import Optional

from fastmlp._engine.registry import ACTIVATIONS, LOSS_FOR_OUTPUT, LOSSES, OPTIMIZERS


@dataclass
class TrainingConfig:
    """Everything an epoch needs besides the data and the trained state.

    Set once per fit from the estimator's parameters; a learning-rate schedule
    changes `learning_rate` between epochs. The NumPy engine reads the names, the
    Cython engine the codes (`codes()` and `optimizer_hyper`, from the registry).
    """

    activation: str                  # the hidden layers' (registry.ACTIVATIONS)
    out_activation: str              # the output layer's; it decides the loss
    solver: str                      # an optimizer (registry.OPTIMIZERS)
    alpha: float                     # L2 penalty, 0.5 alpha ||W||^2 / sum of weights
    learning_rate: float             # this epoch's
    optimizer_params: dict           # the optimizer's hyper-parameters, by name
    batch_size: int
    dropout: Optional[tuple] = None  # a rate per hidden layer
    dropout_seed: int = 0            # with the step number, keys the dropout masks
    clip_norm: Optional[float] = None   # the largest global norm of a step's gradient
    label_smoothing: float = 0.0     # of a classification loss (the classifier's)
    bound_blas: bool = False         # the user bounded the threads: BLAS too

    @classmethod
    def from_params(cls, params, out_activation, batch_size, dropout=None, dropout_seed=0):
        """The configuration an estimator with get_params() `params` trains with."""
        solver = params["solver"]
        return cls(activation=params["activation"], out_activation=out_activation,
                   solver=solver, alpha=params["alpha"],
                   learning_rate=params["learning_rate_init"],
                   optimizer_params={name: params[name]
                                     for name in OPTIMIZERS[solver].hyper},
                   batch_size=batch_size, dropout=dropout, dropout_seed=dropout_seed,
                   clip_norm=params.get("clip_norm"),
                   label_smoothing=params.get("label_smoothing", 0.0),
                   bound_blas=params["n_threads"] is not None)

    @property
    def loss(self):
        return LOSS_FOR_OUTPUT[self.out_activation]

    def codes(self):
        """The codes the kernels switch on: (hidden activation, output activation,
        loss, optimizer)."""
        return (ACTIVATIONS[self.activation].code, ACTIVATIONS[self.out_activation].code,
                LOSSES[self.loss].code, OPTIMIZERS[self.solver].code)

    @property
    def optimizer_hyper(self):
        """The optimizer's hyper-parameters as numbers, in its kernel's order."""
        return tuple(float(self.optimizer_params[name])
                     for name in OPTIMIZERS[self.solver].hyper)
