"""Names the user writes, mapped to the integer codes the Cython kernels switch on.

The numbers must match the enums in _activations.pxd and _losses.pxd.
"""
HIDDEN_ACTIVATIONS = {
    "identity": 0,
    "relu": 1,
    "tanh": 2,
    "logistic": 3,
    "leaky_relu": 4,
    "elu": 5,
}
OUTPUT_ACTIVATIONS = {"identity": 0, "logistic": 3, "softmax": 6, "exp": 7}
ACTIVATION_CODES = {**HIDDEN_ACTIVATIONS, **OUTPUT_ACTIVATIONS}

LOSS_CODES = {"squared_error": 0, "log_loss": 1, "binary_log_loss": 2, "poisson": 3}

# The loss that goes with each output activation: for these pairs the output
# delta is simply P - Y (scaled), which the fused loss kernel relies on.
LOSS_FOR_OUTPUT = {"identity": "squared_error", "softmax": "log_loss",
                   "logistic": "binary_log_loss", "exp": "poisson"}

SOLVERS = ("sgd", "adam", "lbfgs")
SOLVER_CODES = {"sgd": 0, "adam": 1}   # the minibatch solvers of _training.pyx
