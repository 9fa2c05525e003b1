"""The two interchangeable engines behind the estimators: Cython and NumPy.

Both run one training epoch in place on the same flat state (state.py) with the same
configuration (config.py), and compute the same forward pass, so every test and
benchmark can run either.
"""
import dataclasses

import numpy as np

from fastmlp import reference
from fastmlp._engine import team_model, threads
from fastmlp._engine.layout import aligned_empty, staggered_empty
from fastmlp._engine.registry import ACTIVATIONS, TEAM_MODES, Status
from fastmlp._engine.state import GRADS_SLOT
from fastmlp._kernels import epoch, predict, step


class CythonEngine:
    """The fused kernels: an epoch and a prediction each run without the GIL.

    Parameters
    ----------
    layout : ParameterLayout
    config : TrainingConfig
    dtype : numpy dtype of the parameters and data
    n_threads : int or None
        The team size for a step; None: chosen by _default_threads (team_model.py).
    dense_input : bool
        False for a CSR X, which the kernels read in place (no input batch buffer).
    team_mode : {'adaptive', 'always', 'serial'} or None
        How a step with several parts runs (common.TeamMode); None: 'always' when the
        user bounded the threads, else 'adaptive'.
    """

    name = "cython"

    def __init__(self, layout, config, dtype, n_threads=None, dense_input=True,
                 team_mode=None):
        self.layout = layout
        itemsize = np.dtype(dtype).itemsize
        if n_threads is None:
            self.n_threads, self.rows_per_part, self.one_blas_thread = self._default_threads(
                layout, config.batch_size, itemsize)
        else:   # the user's threads: every step that has the rows for them; the
            # user's bound reaches BLAS through config.bound_blas
            self.n_threads, self.rows_per_part, self.one_blas_thread = n_threads, 1, False
        if team_mode is None:
            team_mode = "always" if config.bound_blas else "adaptive"
        self.team_mode = TEAM_MODES[team_mode]
        # Allocated once per fit and reused by every epoch.
        self.grads = staggered_empty(layout.n_params, dtype, GRADS_SLOT)
        # the adaptive team's choice and probe, kept across epochs
        self.probe_memory = epoch.new_probe_memory()
        # cache-line aligned: the parts' shares of its buffers start on line boundaries
        self.workspace = aligned_empty(step.workspace_length(
            layout.sizes, config.batch_size, self.n_threads, itemsize,
            config.codes()[0], dense_input), dtype)

    # Beyond TEAM_MAX_FLOPS per step, one thread with BLAS's own threads: no step that
    # large was measured (benchmarks/README.md has the measurements).
    TEAM_MAX_FLOPS = 1e10

    @classmethod
    def _default_threads(cls, layout, batch_size, itemsize):
        """(threads for a full minibatch, fewest rows per thread of a shorter one,
        whether BLAS stays on one thread) when the user left n_threads to fastmlp."""
        sizes = [int(n) for n in layout.sizes]
        if team_model.step_flops(sizes, batch_size) >= cls.TEAM_MAX_FLOPS:
            return 1, 1, False   # one thread, and BLAS's own threads
        n_threads = team_model.best_team(sizes, batch_size, threads.kernel_threads(),
                                         itemsize)
        if n_threads == 1:   # too small for a team: too small for BLAS's threads too
            return 1, 1, threads.can_bound_blas()
        # a shorter step (an epoch's last) on fewer threads, the full one on all
        return n_threads, team_model.fewest_rows_per_thread(
            sizes, batch_size // n_threads, itemsize), False

    def train_epoch(self, state, X, Y, sample_weight, order, config):
        """One epoch in place on `state`; returns (loss_sum, diverged)."""
        if self.one_blas_thread and not config.bound_blas:
            config = dataclasses.replace(config, bound_blas=True)
        loss_sum, steps, state.t, status = epoch.train_epoch(
            state.params, self.grads, list(state.optimizer_state.values()), X, Y,
            sample_weight, order, self.layout.sizes, self.workspace, config, self.n_threads,
            self.rows_per_part, self.team_mode, self.probe_memory, state.t, state.n_steps)
        state.n_steps += steps
        return loss_sum, status == Status.DIVERGED

    @staticmethod
    def predict(coefs, intercepts, X, activation, out_activation, n_threads=0):
        """The network's output for X; n_threads: as threads.prediction_threads."""
        # both engines: the output, with a NaN in it when a logit overflowed (which
        # logistic or softmax would hide); the estimator raises on it
        out = np.empty((X.shape[0], coefs[-1].shape[1]), dtype=coefs[0].dtype)
        predict.predict_forward(coefs, intercepts, X, out, ACTIVATIONS[activation].code,
                                ACTIVATIONS[out_activation].code, n_threads)
        return out


class NumpyEngine:
    """The readable reference (fastmlp.reference), on views of the same flat state."""

    name = "numpy"

    def __init__(self, layout, config, dtype, n_threads=None, dense_input=True,
                 team_mode=None):
        self.layout = layout

    def train_epoch(self, state, X, Y, sample_weight, order, config):
        """One epoch in place on `state`; returns (loss_sum, diverged)."""
        coefs, intercepts = self.layout.views(state.params)
        optimizer_state = {name: self._per_layer(array)
                           for name, array in state.optimizer_state.items()}
        loss_sum, steps, state.t, diverged = reference.train_epoch(
            coefs, intercepts, optimizer_state, X, Y, sample_weight, order, config,
            state.t, state.n_steps)
        state.n_steps += steps
        return loss_sum, diverged

    def _per_layer(self, flat):
        coefs, intercepts = self.layout.views(flat)
        return coefs + intercepts

    @staticmethod
    def predict(coefs, intercepts, X, activation, out_activation, n_threads=0):
        """The network's output for X (NumPy's BLAS threads it: n_threads is unused)."""
        acts, zs = reference.forward_pass(coefs, intercepts, X, activation, out_activation)
        out = np.asarray(acts[-1])
        out[~np.isfinite(zs[-1])] = np.nan   # as the Cython engine: where a logit overflowed
        return out


ENGINES = {"cython": CythonEngine, "numpy": NumpyEngine}
