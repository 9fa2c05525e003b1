"""The two interchangeable engines behind the estimators: Cython and NumPy.

Both run one training epoch in place on the same flat state and compute the
same forward pass, so every test and benchmark can run either.
"""
import numpy as np

from fastmlp import _threads, _training, reference
from fastmlp._codes import ACTIVATION_CODES, LOSS_CODES


class CythonEngine:
    """The fused kernels: an epoch and a prediction each run without the GIL."""

    name = "cython"

    def __init__(self, layout, batch_size, dtype, n_threads=None):
        self.layout = layout
        self.batch_size = batch_size
        self.n_threads = _threads.kernel_threads() if n_threads is None else n_threads
        # Allocated once per fit and reused by every epoch.
        self.grads = np.empty(layout.n_params, dtype=dtype)
        self.workspace = np.empty(
            _training.workspace_length(layout.sizes, batch_size, self.n_threads), dtype=dtype)

    def train_epoch(self, state, X, Y, order, config):
        solver = _training.SOLVER_ADAM if config.solver == "adam" else _training.SOLVER_SGD
        loss_sum, steps, state.adam_t, status = _training.train_epoch(
            state.params, self.grads, state.moment_1, state.moment_2, X, Y, order,
            self.layout.sizes, self.workspace, self.batch_size, self.n_threads,
            ACTIVATION_CODES[config.activation], ACTIVATION_CODES[config.out_activation],
            LOSS_CODES[config.loss], solver, config.alpha, config.learning_rate,
            config.momentum, config.nesterov, config.beta_1, config.beta_2,
            config.epsilon, state.adam_t)
        return loss_sum, status == _training.STATUS_DIVERGED

    @staticmethod
    def predict(coefs, intercepts, X, activation, out_activation):
        out = np.empty((X.shape[0], coefs[-1].shape[1]), dtype=X.dtype)
        _training.predict_forward(coefs, intercepts, X, out, ACTIVATION_CODES[activation],
                                  ACTIVATION_CODES[out_activation])
        return out


class NumpyEngine:
    """The readable reference (fastmlp.reference), on views of the same flat state."""

    name = "numpy"

    def __init__(self, layout, batch_size, dtype, n_threads=None):
        self.layout = layout
        self.batch_size = batch_size

    def train_epoch(self, state, X, Y, order, config):
        coefs, intercepts = self.layout.views(state.params)
        m_coefs, m_intercepts = self.layout.views(state.moment_1)
        v_coefs, v_intercepts = self.layout.views(state.moment_2)
        loss_sum, steps, state.adam_t, status = reference.train_epoch(
            coefs, intercepts, m_coefs + m_intercepts, v_coefs + v_intercepts, X, Y, order,
            self.batch_size, config.activation, config.out_activation, config.loss,
            config.solver, config.alpha, config.learning_rate, config.momentum,
            config.nesterov, config.beta_1, config.beta_2, config.epsilon, state.adam_t)
        return loss_sum, status == 2

    @staticmethod
    def predict(coefs, intercepts, X, activation, out_activation):
        return reference.forward(coefs, intercepts, X, activation, out_activation)[-1]


ENGINES = {"cython": CythonEngine, "numpy": NumpyEngine}
