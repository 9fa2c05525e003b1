"""Full-batch L-BFGS over the shards, as dask-glm fits its models.

The loss ``fit`` minimises is a sum over the samples plus one L2 term:

    L(theta) = (sum_i w_i loss_i(theta) + 0.5 alpha ||W||^2) / sum_i w_i

(W: the weights, not the biases). Each shard computes the sum of its own samples'
terms and its gradient, at the weights the client sent, with the kernel the lbfgs
solver uses (``_kernels.gradient.loss_and_gradient``, called without the L2 term);
the client adds the shards' sums in their order, adds the L2 term once, divides, and
hands the result to scipy's L-BFGS-B. So the optimiser sees the full-batch objective
of the single-process fit, up to the rounding of the sums' order.

Every evaluation is one round: the weights go out (once to each worker holding
shards), and one gradient per shard comes back.
"""
import time
import uuid
from dataclasses import dataclass

import numpy as np
import scipy.optimize

from fastmlp import reference
from fastmlp._engine.layout import ParameterLayout
from fastmlp._engine.registry import ACTIVATIONS, LOSS_FOR_OUTPUT, LOSSES
from fastmlp._kernels import gradient
from fastmlp.dask._rounds import TaskClock


@dataclass
class GradientPlan:
    """What every evaluation of one fit shares (sent once to each worker)."""

    sizes: tuple
    activation: str
    out_activation: str
    engine: str
    label_smoothing: float   # the classifier's (the kernel smooths the targets it reads)


@dataclass
class ShardGradient:
    loss_sum: float          # sum_i w_i loss_i over the shard, in float64
    grads: np.ndarray        # its gradient, the sum's, in the model dtype ... divided by
    weight: float            # ... this: the kernel returns means; the client scales back
    timing: object


def shard_loss_and_gradient(shard, plan, params):
    """The shard's loss sum and gradient at `params`, without the L2 term (runs on its
    worker)."""
    clock = TaskClock()
    layout = ParameterLayout(plan.sizes)
    loss_name = LOSS_FOR_OUTPUT[plan.out_activation]
    if plan.engine == "numpy":
        coefs, intercepts = layout.views(params)
        value, coef_grads, intercept_grads = reference.loss_and_gradient(
            coefs, intercepts, shard.X, shard.Y, plan.activation, plan.out_activation,
            loss_name, 0.0, shard.sample_weight, plan.label_smoothing)
        grads = layout.pack(coef_grads, intercept_grads, params.dtype)
    else:
        grads = np.empty(layout.n_params, dtype=params.dtype)
        value = gradient.loss_and_gradient(
            np.ascontiguousarray(params), grads, shard.X, shard.Y, layout.sizes,
            ACTIVATIONS[plan.activation].code, ACTIVATIONS[plan.out_activation].code,
            LOSSES[loss_name].code, 0.0, shard.sample_weight, plan.label_smoothing)
    return ShardGradient(float(value) * shard.weight, grads, shard.weight, clock.timing())


class ClusterObjective:
    """The full-batch loss and gradient over the shards: ``loss, grad = objective(theta)``.

    Parameters
    ----------
    client : distributed.Client
    shards : Shards
    layout : ParameterLayout
    activation, out_activation, engine : str
        The model's.
    label_smoothing : float
        The classifier's (0 for a regressor).
    alpha : float
        The L2 strength.
    dtype : numpy dtype
        The model's: the weights are sent, and the gradients computed, in it.
    log : RoundLog or None
        Gets one entry per evaluation.
    """

    def __init__(self, client, shards, layout, activation, out_activation, engine,
                 label_smoothing, alpha, dtype, log=None):
        self.client, self.shards, self.layout = client, shards, layout
        self.alpha, self.dtype, self.log = alpha, np.dtype(dtype), log
        self.token = uuid.uuid4().hex[:12]
        self.evaluations = 0
        plan = GradientPlan(tuple(int(n) for n in layout.sizes), activation, out_activation,
                            engine, label_smoothing)
        self.plan = client.scatter(plan, workers=shards.holders(), broadcast=True,
                                   hash=False)

    def __call__(self, theta):
        began = time.perf_counter()
        params = np.asarray(theta).astype(self.dtype)   # as the single-process lbfgs casts
        holders = self.shards.holders()
        sent = self.client.scatter(params, workers=holders, broadcast=True, hash=False)
        futures = [self.client.submit(shard_loss_and_gradient, shard, self.plan, sent,
                                      workers=[worker], allow_other_workers=False,
                                      pure=False,
                                      key=f"fastmlp-lbfgs-{self.token}-{self.evaluations}-{i}")
                   for i, (shard, worker) in enumerate(zip(self.shards.futures,
                                                           self.shards.workers))]
        results = self.client.gather(futures)
        del sent, futures
        self.evaluations += 1
        loss = 0.0
        grad = np.zeros(self.layout.n_params, dtype=np.float64)
        for result in results:   # in the shards' order: the same bits every time
            loss += result.loss_sum
            grad += result.grads.astype(np.float64) * result.weight
        weights = params[:self.layout.n_weights].astype(np.float64)
        loss = (loss + 0.5 * self.alpha * float(weights @ weights)) / self.shards.total_weight
        grad[:self.layout.n_weights] += self.alpha * weights
        grad /= self.shards.total_weight
        if self.log is not None:
            self.log.record(time.perf_counter() - began, [r.timing for r in results],
                            params.nbytes * len(holders),
                            sum(r.grads.nbytes for r in results))
        if not np.isfinite(loss):
            grad[:] = np.nan   # as the kernel: no gradient for a non-finite loss
        return loss, grad


def train(objective, start, model, after_iteration):
    """scipy's L-BFGS-B on `objective` from the flat `start`, with the model's max_iter,
    max_fun and tol (as its lbfgs solver). after_iteration(n_iter, loss, theta) is
    called after each iteration and stops it by returning True. Returns scipy's
    OptimizeResult."""
    iterations = [0]

    def callback(intermediate_result):
        iterations[0] += 1
        if after_iteration(iterations[0], float(intermediate_result.fun),
                           intermediate_result.x):
            raise StopIteration   # scipy ends with status 99

    result = scipy.optimize.minimize(
        objective, np.asarray(start, dtype=np.float64), method="L-BFGS-B", jac=True,
        callback=callback,
        options={"maxfun": model.max_fun, "maxiter": model.max_iter, "gtol": model.tol})
    return result
