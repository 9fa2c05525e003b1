"""The two interchangeable engines behind the estimators: Cython and NumPy.

Both run one training epoch in place on the same flat state and compute the
same forward pass, so every test and benchmark can run either.
"""
from types import SimpleNamespace

import numpy as np

from fastmlp import _threads, _training, reference
from fastmlp._codes import ACTIVATION_CODES, LOSS_CODES, SOLVER_CODES
from fastmlp._layout import aligned_empty, staggered_empty
from fastmlp._state import GRADS_SLOT

_NO_WEIGHTS = {np.dtype(np.float32): np.empty(0, np.float32),
               np.dtype(np.float64): np.empty(0, np.float64)}


class CythonEngine:
    """The fused kernels: an epoch and a prediction each run without the GIL.

    Parameters
    ----------
    layout : ParameterLayout
    batch_size : int
    dtype : numpy dtype of the parameters and data
    n_threads : int or None
        The team size for a step; None: chosen by team_size.
    dense_input : bool
        False for a CSR X, which the kernels read in place (no input batch buffer).
    """

    name = "cython"

    def __init__(self, layout, batch_size, dtype, n_threads=None, dense_input=True):
        self.layout = layout
        self.batch_size = batch_size
        self.n_threads = self.team_size(layout, batch_size) if n_threads is None else n_threads
        # Allocated once per fit and reused by every epoch.
        self.grads = staggered_empty(layout.n_params, dtype, GRADS_SLOT)
        # the adaptive team's last choice and next probe time, kept across epochs
        self.probe_memory = [True, -1.0]
        # cache-line aligned: the parts' shares of its buffers start on line boundaries
        self.workspace = aligned_empty(_training.workspace_length(
            layout.sizes, batch_size, self.n_threads, dense_input,
            np.dtype(dtype).itemsize), dtype)

    # A team pays a few barriers per step (microseconds on idle cores, a scheduler
    # tick on busy ones): below TEAM_MIN_FLOPS per step one thread is faster
    # (784-256-128-10: batch 32 (45 MFLOP) 0.82 s with the team vs 1.00 s). Since the
    # team splits hidden layers by units (each thread packs only its columns of W)
    # and updates the parameters inside the backward pass, it also beats BLAS's own
    # threads on the largest steps measured, so TEAM_MAX_FLOPS only keeps unmeasured
    # sizes with BLAS (2 cores, Haswell kernels, s/epoch, team vs 1 thread + BLAS
    # threads: 784-256-128-10/128 (180 MFLOP) 0.43-0.45 vs 0.51-0.54; /512 0.38 vs
    # 0.40 and 0.58 vs 0.62 at two load levels; 784-1024-1024-10/256 (2.9 GFLOP)
    # 3.30-3.39 vs 3.50-3.60).
    TEAM_MIN_FLOPS = 4e6
    TEAM_MAX_FLOPS = 1e10

    @classmethod
    def team_size(cls, layout, batch_size):
        """Threads for a step: every core for mid-sized steps, else one (BLAS threads)."""
        fan_in, fan_out = layout.sizes[:-1], layout.sizes[1:]
        flops = 2 * batch_size * 3 * float(np.sum(fan_in * fan_out))  # fwd, dW, delta
        if cls.TEAM_MIN_FLOPS <= flops < cls.TEAM_MAX_FLOPS:
            return _threads.kernel_threads()
        return 1

    def train_epoch(self, state, X, Y, sample_weight, order, config):
        """One epoch in place on `state`; returns (loss_sum, diverged)."""
        kernel_config = _KernelConfig(config, self.batch_size, self.n_threads,
                                      self.probe_memory)
        weights = _NO_WEIGHTS[Y.dtype] if sample_weight is None else sample_weight
        dense, indptr, indices, data = self._csr_arrays(X, Y.dtype)
        loss_sum, steps, state.adam_t, status = _training.train_epoch(
            state.params, self.grads, state.moment_1, state.moment_2, dense, indptr, indices,
            data, Y, weights, order, self.layout.sizes, self.workspace, kernel_config,
            state.adam_t, state.n_steps)
        state.n_steps += steps
        return loss_sum, status == _training.STATUS_DIVERGED

    def _csr_arrays(self, X, dtype):
        """The kernels' view of X, cached per fit: a CSR X's stand-in is allocated once."""
        if getattr(self, "_csr_of", None) is not X:
            self._csr_of, self._csr = X, _training.csr_arrays(X, dtype)
        return self._csr

    @staticmethod
    def predict(coefs, intercepts, X, activation, out_activation):
        out = np.empty((X.shape[0], coefs[-1].shape[1]), dtype=coefs[0].dtype)
        _training.predict_forward(coefs, intercepts, X, out, ACTIVATION_CODES[activation],
                                  ACTIVATION_CODES[out_activation])
        return out


class _KernelConfig:
    """The epoch's hyper-parameters with the codes the kernels switch on."""

    def __init__(self, config, batch_size, n_threads, probe_memory=None):
        self.batch_size, self.n_threads = batch_size, n_threads
        self.probe_memory = probe_memory   # the engine's, kept across epochs (or None)
        self.hidden_code = ACTIVATION_CODES[config.activation]
        self.out_code = ACTIVATION_CODES[config.out_activation]
        self.loss_code = LOSS_CODES[config.loss]
        self.solver_code = SOLVER_CODES[config.solver]
        for name in ("alpha", "learning_rate", "momentum", "nesterov", "beta_1", "beta_2",
                     "epsilon", "dropout", "dropout_seed", "bound_blas"):
            setattr(self, name, getattr(config, name))
        # threads set by the user: always the team; else the team, or one thread
        # playing it while that measures faster (a busy core)
        self.team_mode = getattr(config, "team_mode", None)
        if self.team_mode is None:
            self.team_mode = _training.TEAM_MODES["always" if config.bound_blas
                                                  else "adaptive"]


class NumpyEngine:
    """The readable reference (fastmlp.reference), on views of the same flat state."""

    name = "numpy"

    def __init__(self, layout, batch_size, dtype, n_threads=None, dense_input=True):
        self.layout = layout
        self.batch_size = batch_size

    def train_epoch(self, state, X, Y, sample_weight, order, config):
        """One epoch in place on `state`; returns (loss_sum, diverged)."""
        coefs, intercepts = self.layout.views(state.params)
        m_coefs, m_intercepts = self.layout.views(state.moment_1)
        v_coefs, v_intercepts = self.layout.views(state.moment_2)
        loss_sum, steps, state.adam_t, status = reference.train_epoch(
            coefs, intercepts, m_coefs + m_intercepts, v_coefs + v_intercepts, X, Y,
            sample_weight, order, SimpleNamespace(**vars(config), batch_size=self.batch_size),
            state.adam_t, state.n_steps)
        state.n_steps += steps
        return loss_sum, status == reference.DIVERGED

    @staticmethod
    def predict(coefs, intercepts, X, activation, out_activation):
        return np.asarray(reference.forward(coefs, intercepts, X, activation,
                                            out_activation)[-1])


ENGINES = {"cython": CythonEngine, "numpy": NumpyEngine}
