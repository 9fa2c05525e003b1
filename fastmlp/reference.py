"""The NumPy reference: the same algorithm as the Cython engine, written to be read.

Selected with ``engine="numpy"`` on the estimators; the tests compare the two
engines, and the benchmarks time them side by side. Conventions (shared with
the kernels and with scikit-learn's MLP):

* layer i computes ``A[i+1] = act(A[i] @ coefs[i] + intercepts[i])``, ``A[0] = X``;
* the per-sample loss is the cross-entropy for softmax / logistic outputs, half the
  Poisson deviance for the exp output, and half the mean squared error over the
  outputs for the identity output; the minibatch loss is
  ``(sum_i w_i loss_i + 0.5 * alpha * sum(W**2)) / sum_i w_i`` (w = sample weights, 1
  by default);
* the derivative of a hidden activation is computed from what the kernels compute it
  from: its output a = act(z), or its pre-activation z;
* inverted dropout keeps unit j of minibatch row r when a hash of the step key and
  the counter ``r * (all hidden units) + (the layer's first unit) + j`` is at
  least ``rate * 2**32`` (see `dropout_mask`).
"""
import math

import numpy as np

LEAKY_SLOPE = 0.01
# gelu(z) = 0.5 z (1 + tanh(GELU_K (z + GELU_C z^3))), the tanh approximation
GELU_K, GELU_C = (2 / math.pi) ** 0.5, 0.044715


def _logistic(z):
    # exp of a non-positive number only, so it never overflows
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _gelu(z):
    # 0.5 z (1 + tanh(u)) = z logistic(2 u): no cancellation for negative z
    return z * _logistic(2 * GELU_K * (z + GELU_C * z * z * z))


def _gelu_derivative(z):
    # at z clamped to [-10, 10], beyond which gelu' is 1 or 0 to within 1e-35 (as the kernel)
    c = np.clip(z, -10, 10)
    s = _logistic(2 * GELU_K * (c + GELU_C * c * c * c))
    return s * (1 + 2 * c * (1 - s) * GELU_K * (1 + 3 * GELU_C * c * c))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "logistic": _logistic,
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "gelu": _gelu,
    "silu": lambda z: z * _logistic(z),
    "softmax": _softmax,
    "exp": np.exp,
}

# d act / d z of the hidden activations, given z and a = act(z): each reads the one
# its kernel reads (see _kernels/activations.pyx.tp), so that both compute alike.
DERIVATIVES = {
    "identity": lambda z, a: np.ones_like(a),
    "relu": lambda z, a: (a > 0).astype(a.dtype),
    "tanh": lambda z, a: 1 - a * a,
    "logistic": lambda z, a: a * (1 - a),
    "leaky_relu": lambda z, a: np.where(a > 0, 1, LEAKY_SLOPE).astype(a.dtype),
    "elu": lambda z, a: np.where(a > 0, 1, a + 1).astype(a.dtype),
    "gelu": lambda z, a: _gelu_derivative(z),
    "silu": lambda z, a: _logistic(z) * (1 + z * (1 - _logistic(z))),
}


# --- dropout masks -------------------------------------------------------------------

def step_key(seed, step):
    """The 32-bit key of one training step: low bits of splitmix64(seed + step * golden)."""
    mask = (1 << 64) - 1
    z = (seed + step * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) & 0xFFFFFFFF


def _unit_hash(x):
    """lowbias32, on uint32 arrays."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def dropout_mask(key, rate, rows, stride, offset, width):
    """Boolean (rows, width) mask of kept units of one hidden layer in one step."""
    counter = (np.arange(rows, dtype=np.uint64)[:, None] * np.uint64(stride)
               + np.uint64(offset) + np.arange(width, dtype=np.uint64)[None, :])
    threshold = np.uint32(min(rate * 2.0**32, 2.0**32 - 1))
    return _unit_hash(np.uint32(key) ^ counter.astype(np.uint32)) >= threshold


def dropout_masks(key, rates, rows, widths):
    """One mask per hidden layer (widths: the hidden widths), or None without dropout."""
    if rates is None:
        return None
    offsets = np.concatenate([[0], np.cumsum(widths)[:-1]])
    return [dropout_mask(key, rate, rows, sum(widths), offset, width)
            for rate, offset, width in zip(rates, offsets, widths)]


# --- the network ---------------------------------------------------------------------

def forward(coefs, intercepts, X, activation, out_activation, masks=None, rates=None):
    """Activations of every layer, the input first and the network's output last.

    With dropout masks, each hidden output is multiplied by mask / (1 - rate).
    """
    return forward_pass(coefs, intercepts, X, activation, out_activation, masks, rates)[0]


def forward_pass(coefs, intercepts, X, activation, out_activation, masks=None, rates=None):
    """(acts, zs): the activations of every layer (as `forward`), and each layer's
    pre-activation z = A @ W + b."""
    acts, zs = [X], []
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        last = i == len(coefs) - 1
        z = acts[-1] @ W + b
        a = ACTIVATIONS[out_activation if last else activation](z)
        if masks is not None and not last:
            a = np.where(masks[i], a / a.dtype.type(1 - rates[i]), 0).astype(a.dtype)
        acts.append(a)
        zs.append(z)
    return acts, zs


def per_sample_losses(Y, P, loss):
    """Loss of every row (probabilities clipped as in scikit-learn), in float64."""
    eps = np.finfo(P.dtype).eps   # the clip of P's own precision
    P, Y = P.astype(np.float64), Y.astype(np.float64)
    if loss == "squared_error":
        return 0.5 * np.mean((P - Y) ** 2, axis=1)
    if loss == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogy = np.where(Y != 0, Y * np.log(np.where(Y != 0, Y, 1) / P), 0)
        return np.sum(ylogy - Y + P, axis=1)
    P = np.clip(P, eps, 1 - eps)
    total = -np.sum(np.where(Y != 0, Y * np.log(P), 0), axis=1)
    if loss == "binary_log_loss":
        total -= np.sum(np.where(Y != 1, (1 - Y) * np.log(1 - P), 0), axis=1)
    return total


# The classes label smoothing spreads its share over, for the classification losses:
# one per output (None) or a number.
SMOOTHING_CLASSES = {"log_loss": None, "binary_log_loss": 2}


def smoothed_targets(Y, loss, label_smoothing):
    """(1 - e) Y + e / K, K the classes (the outputs of a softmax, 2 for each logistic
    output): the targets a classification loss trains on under label smoothing e. Y
    itself for e = 0 or another loss."""
    if not label_smoothing or loss not in SMOOTHING_CLASSES:
        return Y
    classes = SMOOTHING_CLASSES[loss] or Y.shape[1]
    return Y * Y.dtype.type(1 - label_smoothing) + Y.dtype.type(label_smoothing / classes)


def per_sample_loss_sum(Y, P, loss, sample_weight=None):
    """Sum over the rows of the (weighted) per-sample loss."""
    losses = per_sample_losses(Y, P, loss)
    return float(np.sum(losses if sample_weight is None else losses * sample_weight))


def output_delta(Y, P, loss, sample_weight=None):
    """dLoss/dZ of the output layer for a loss averaged over the (weighted) rows."""
    weight_sum = P.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    delta = (P - Y) / P.dtype.type(weight_sum * (P.shape[1] if loss == "squared_error" else 1))
    if sample_weight is not None:
        delta *= sample_weight[:, None].astype(P.dtype)
    return delta


def backward(coefs, acts, zs, delta, activation, masks=None, rates=None):
    """Gradients (coef_grads, intercept_grads) from the output delta, without L2."""
    n = len(coefs)
    coef_grads, intercept_grads = [None] * n, [None] * n
    for i in range(n - 1, -1, -1):
        coef_grads[i] = acts[i].T @ delta
        intercept_grads[i] = delta.sum(axis=0)
        if i > 0:
            a = acts[i]
            if masks is None:
                delta = (delta @ coefs[i].T) * DERIVATIVES[activation](zs[i - 1], a)
            else:   # the stored output is act * mask / keep
                keep = a.dtype.type(1 - rates[i - 1])
                factor = DERIVATIVES[activation](zs[i - 1], a * keep) / keep
                delta = np.where(masks[i - 1], (delta @ coefs[i].T) * factor,
                                 0).astype(a.dtype)
    return coef_grads, intercept_grads


def loss_and_gradient(coefs, intercepts, X, Y, activation, out_activation, loss, alpha,
                      sample_weight=None, label_smoothing=0.0):
    """Mean loss with the L2 penalty, and its gradient (coef_grads, intercept_grads);
    a classification loss of the targets smoothed by label_smoothing."""
    Y = smoothed_targets(Y, loss, label_smoothing)
    acts, zs = forward_pass(coefs, intercepts, X, activation, out_activation)
    weight_sum = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    delta = output_delta(Y, acts[-1], loss, sample_weight)
    coef_grads, intercept_grads = backward(coefs, acts, zs, delta, activation)
    sumsq = sum(float(np.sum(W.astype(np.float64) ** 2)) for W in coefs)
    value = (per_sample_loss_sum(Y, acts[-1], loss, sample_weight)
             + 0.5 * alpha * sumsq) / weight_sum
    coef_grads = [g + W.dtype.type(alpha / weight_sum) * W for g, W in zip(coef_grads, coefs)]
    return value, coef_grads, intercept_grads


# --- optimizers ----------------------------------------------------------------------
# Each updates lists of arrays (the layers' weights, then their biases) in place, given
# its state arrays by the names of its kernel's table line (_kernels/optimizers.h), the
# step number t (1, 2, ...), the learning rate, which arrays are weights, and its
# hyper-parameters by the estimator's names. The gradients hold the L2 term already.

def sgd_update(params, grads, velocity, *, t, learning_rate, is_weight, momentum,
               nesterovs_momentum):
    """SGD with momentum (optionally Nesterov's)."""
    for p, g, vel in zip(params, grads, velocity):
        vel *= momentum
        vel -= learning_rate * g
        if nesterovs_momentum:
            p += momentum * vel - learning_rate * g
        else:
            p += vel


def adam_update(params, grads, m, v, *, t, learning_rate, is_weight, beta_1, beta_2,
                epsilon):
    """Adam, its bias correction folded into the step size."""
    step = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    for p, g, m_i, v_i in zip(params, grads, m, v):
        m_i *= beta_1
        m_i += (1 - beta_1) * g
        v_i *= beta_2
        v_i += (1 - beta_2) * g * g
        p -= step * m_i / (np.sqrt(v_i) + epsilon)


def adamw_update(params, grads, m, v, *, t, learning_rate, is_weight, beta_1, beta_2,
                 epsilon, weight_decay):
    """Adam, then a decoupled weight decay of the weights as they were before the step."""
    before = [p.copy() for p in params]
    adam_update(params, grads, m, v, t=t, learning_rate=learning_rate, is_weight=is_weight,
                beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    for p, w, weight in zip(params, before, is_weight):
        if weight:
            p -= p.dtype.type(learning_rate * weight_decay) * w


def rmsprop_update(params, grads, v, *, t, learning_rate, is_weight, rho, epsilon):
    """RMSprop: each step divided by the root of the running mean of g^2."""
    for p, g, v_i in zip(params, grads, v):
        v_i *= rho
        v_i += (1 - rho) * g * g
        p -= learning_rate * g / (np.sqrt(v_i) + epsilon)


OPTIMIZERS = {"sgd": sgd_update, "adam": adam_update, "adamw": adamw_update,
              "rmsprop": rmsprop_update}


def clip_by_global_norm(coef_grads, intercept_grads, clip_norm):
    """The gradient (without the L2 term) scaled by min(1, clip_norm / (norm + 1e-6)),
    norm being the Euclidean norm of all its arrays together (PyTorch's
    clip_grad_norm_); left as it is when the norm is not finite."""
    grads = list(coef_grads) + list(intercept_grads)
    norm = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    factor = clip_norm / (norm + 1e-6)
    if not np.isfinite(norm) or factor >= 1:
        return coef_grads, intercept_grads
    scaled = [g * g.dtype.type(factor) for g in grads]
    return scaled[:len(coef_grads)], scaled[len(coef_grads):]


# --- one epoch -----------------------------------------------------------------------

def train_epoch(coefs, intercepts, optimizer_state, X, Y, sample_weight, order, config,
                t, n_steps):
    """One epoch of minibatch training in place; the same contract as the Cython engine.

    `optimizer_state` maps the optimizer's state names to lists of arrays shaped like
    coefs + intercepts. `config` is a TrainingConfig (fastmlp/_engine/config.py):
    batch_size, activation, out_activation, loss, solver, alpha, learning_rate,
    optimizer_params, dropout (None or a rate per hidden layer), dropout_seed,
    label_smoothing and clip_norm (None or the largest global norm of a step's
    gradient).
    Returns ``(loss_sum, steps, t, diverged)``, diverged being True when a minibatch
    loss was not finite (that step is then not applied, nor any after it). A
    minibatch whose weights sum to 0 is skipped.
    """
    c = config
    params = list(coefs) + list(intercepts)
    is_weight = [True] * len(coefs) + [False] * len(intercepts)
    widths = [W.shape[1] for W in coefs[:-1]]
    loss_sum, steps = 0.0, 0
    for start in range(0, len(order), c.batch_size):
        rows = order[start:start + c.batch_size]
        xb, yb = X[rows], smoothed_targets(Y[rows], c.loss, c.label_smoothing)
        wb = None if sample_weight is None else sample_weight[rows]
        weight_sum = len(rows) if wb is None else float(np.sum(wb, dtype=np.float64))
        if weight_sum <= 0:
            continue
        masks = None if c.dropout is None else dropout_masks(
            step_key(c.dropout_seed, n_steps), c.dropout, len(rows), widths)
        acts, zs = forward_pass(coefs, intercepts, xb, c.activation, c.out_activation,
                                masks, c.dropout)
        batch_loss = per_sample_loss_sum(yb, acts[-1], c.loss, wb)
        if not np.isfinite(batch_loss):
            return loss_sum, steps, t, True
        delta = output_delta(yb, acts[-1], c.loss, wb)
        coef_grads, intercept_grads = backward(coefs, acts, zs, delta, c.activation, masks,
                                               c.dropout)
        sumsq = sum(float(np.sum(W.astype(np.float64) ** 2)) for W in coefs)
        if c.clip_norm:
            coef_grads, intercept_grads = clip_by_global_norm(coef_grads, intercept_grads,
                                                              c.clip_norm)
        coef_grads = [g + W.dtype.type(c.alpha / weight_sum) * W
                      for g, W in zip(coef_grads, coefs)]
        t += 1
        OPTIMIZERS[c.solver](params, coef_grads + intercept_grads, **optimizer_state, t=t,
                             learning_rate=c.learning_rate, is_weight=is_weight,
                             **c.optimizer_params)
        n_steps += 1
        loss_sum += (batch_loss + 0.5 * c.alpha * sumsq) * len(rows) / weight_sum
        steps += 1
    return loss_sum, steps, t, False
