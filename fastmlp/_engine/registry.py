"""Every list of fastmlp, read from the kernels that define it.

Nothing here is written twice: the activations are the table at the top of
_kernels/activations.pyx.tp, the losses the table of _kernels/losses.pyx.tp, the
optimizers the table at the end of _kernels/optimizers.h, the team modes and status
codes the enums of _kernels/common.pxd. Validation, the command line's choices, the
docstrings, persistence and the tests' parametrisations all read these.
"""
from dataclasses import dataclass
from typing import Optional

from fastmlp._kernels import activations, common, losses, optimizers


@dataclass(frozen=True)
class Activation:
    name: str
    code: int                # what the kernels switch on
    hidden: bool             # may be a hidden layer's activation
    output: bool             # is a loss's output activation
    reads: Optional[str]     # what its derivative reads: "output" or "preactivation"


@dataclass(frozen=True)
class Loss:
    name: str
    code: int
    output_activation: str   # the output activation it pairs with (delta = P - Y)
    mean: bool               # a sample's loss is a mean over its outputs (else a sum)
    # the classes label smoothing spreads its share over: 'cols' (one per output), a
    # number, or None (not a classification loss)
    smoothing_classes: object = None


@dataclass(frozen=True)
class Optimizer:
    name: str
    code: int
    state: tuple   # its state arrays' names, each array shaped like the parameters
    hyper: tuple   # the estimator parameters it reads, in its kernel's order


LOSSES = {name: Loss(name, code, output, mean, labels)
          for code, (name, output, mean, labels) in enumerate(losses.TABLE)}
LOSS_FOR_OUTPUT = {loss.output_activation: name for name, loss in LOSSES.items()}

ACTIVATIONS = {name: Activation(name, code, hidden, name in LOSS_FOR_OUTPUT, reads)
               for code, (name, hidden, reads) in enumerate(activations.TABLE)}
HIDDEN_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.hidden)
OUTPUT_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.output)

OPTIMIZERS = {name: Optimizer(name, code, state, hyper)
              for code, (name, state, hyper) in enumerate(optimizers.TABLE)}
# The minibatch optimizers, and L-BFGS: the full-batch loss minimised by scipy.
SOLVERS = (*OPTIMIZERS, "lbfgs")

TEAM_MODES = {mode.name.lower(): int(mode) for mode in common.TeamMode}
Status = common.Status


def choices(names):
    """The names as numpydoc writes a choice: {'a', 'b'}."""
    return "{" + ", ".join(repr(name) for name in names) + "}"
