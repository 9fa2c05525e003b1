"""The NumPy reference: the same algorithm as the Cython engine, written to be read.

Selected with ``engine="numpy"`` on the estimators; the tests compare the two
engines, and the benchmarks time them side by side. Conventions (shared with
the kernels and with scikit-learn's MLP):

* layer i computes ``A[i+1] = act(A[i] @ coefs[i] + intercepts[i])``, ``A[0] = X``;
* the per-sample loss is the cross-entropy for softmax / logistic outputs and
  half the mean squared error over the outputs for the identity output; the
  minibatch loss is its mean plus ``0.5 * alpha * sum(W**2) / batch_size``;
* derivatives of the hidden activations are taken from their outputs.
"""
import numpy as np


LEAKY_SLOPE = 0.01


def _logistic(z):
    # exp of a non-positive number only, so it never overflows
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


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
    "softmax": _softmax,
}

# d act / d z, written in terms of the output a = act(z)
DERIVATIVES = {
    "identity": lambda a: np.ones_like(a),
    "relu": lambda a: (a > 0).astype(a.dtype),
    "tanh": lambda a: 1 - a * a,
    "logistic": lambda a: a * (1 - a),
    "leaky_relu": lambda a: np.where(a > 0, 1, LEAKY_SLOPE).astype(a.dtype),
    "elu": lambda a: np.where(a > 0, 1, a + 1).astype(a.dtype),
}


def forward(coefs, intercepts, X, activation, out_activation):
    """Activations of every layer, the input first and the network's output last."""
    acts = [X]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        act = out_activation if i == len(coefs) - 1 else activation
        acts.append(ACTIVATIONS[act](acts[-1] @ W + b))
    return acts


def per_sample_loss_sum(Y, P, loss):
    """Sum over the rows of the per-sample loss (probabilities clipped as in scikit-learn)."""
    if loss == "squared_error":
        return 0.5 * np.sum((P.astype(np.float64) - Y) ** 2) / P.shape[1]
    eps = np.finfo(P.dtype).eps
    P = np.clip(P.astype(np.float64), eps, 1 - eps)
    total = -np.sum(np.where(Y != 0, Y * np.log(P), 0))
    if loss == "binary_log_loss":
        total -= np.sum(np.where(Y != 1, (1 - Y) * np.log(1 - P), 0))
    return total


def output_delta(Y, P, loss):
    """dLoss/dZ of the output layer for a loss averaged over the rows."""
    scale = P.shape[0] * (P.shape[1] if loss == "squared_error" else 1)
    return (P - Y) / P.dtype.type(scale)


def backward(coefs, acts, delta, activation):
    """Gradients (coef_grads, intercept_grads) from the output delta, without L2."""
    n = len(coefs)
    coef_grads, intercept_grads = [None] * n, [None] * n
    for i in range(n - 1, -1, -1):
        coef_grads[i] = acts[i].T @ delta
        intercept_grads[i] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ coefs[i].T) * DERIVATIVES[activation](acts[i])
    return coef_grads, intercept_grads


def loss_and_gradient(coefs, intercepts, X, Y, activation, out_activation, loss, alpha):
    """Mean loss with the L2 penalty, and its gradient (coef_grads, intercept_grads)."""
    acts = forward(coefs, intercepts, X, activation, out_activation)
    n = X.shape[0]
    delta = output_delta(Y, acts[-1], loss)
    coef_grads, intercept_grads = backward(coefs, acts, delta, activation)
    sumsq = sum(float(np.sum(W.astype(np.float64) ** 2)) for W in coefs)
    value = (per_sample_loss_sum(Y, acts[-1], loss) + 0.5 * alpha * sumsq) / n
    coef_grads = [g + W.dtype.type(alpha / n) * W for g, W in zip(coef_grads, coefs)]
    return value, coef_grads, intercept_grads


def adam_update(params, grads, m, v, t, learning_rate, beta_1, beta_2, epsilon):
    """One Adam step in place on lists of arrays; t is the step number (1, 2, ...)."""
    step = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    for p, g, m_i, v_i in zip(params, grads, m, v):
        m_i *= beta_1
        m_i += (1 - beta_1) * g
        v_i *= beta_2
        v_i += (1 - beta_2) * g * g
        p -= step * m_i / (np.sqrt(v_i) + epsilon)


def sgd_update(params, grads, velocities, learning_rate, momentum, nesterov):
    """One SGD step with momentum (optionally Nesterov's) in place on lists of arrays."""
    for p, g, vel in zip(params, grads, velocities):
        vel *= momentum
        vel -= learning_rate * g
        if nesterov:
            p += momentum * vel - learning_rate * g
        else:
            p += vel


def train_epoch(coefs, intercepts, moment_1, moment_2, X, Y, order, batch_size,
                activation, out_activation, loss, solver, alpha, learning_rate,
                momentum, nesterov, beta_1, beta_2, epsilon, adam_t):
    """One epoch of minibatch training in place; the same contract as the Cython engine.

    `moment_1` / `moment_2` are lists of arrays shaped like coefs + intercepts
    (Adam's m and v, or SGD's velocity and an unused list). Returns
    ``(loss_sum, steps, adam_t, status)`` with status 0, or 2 when a minibatch
    loss was not finite (that step is then not applied).
    """
    params = list(coefs) + list(intercepts)
    loss_sum, steps = 0.0, 0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        xb, yb = X[rows], Y[rows]
        acts = forward(coefs, intercepts, xb, activation, out_activation)
        batch_loss = per_sample_loss_sum(yb, acts[-1], loss)
        if not np.isfinite(batch_loss):
            return loss_sum, steps, adam_t, 2
        coef_grads, intercept_grads = backward(coefs, acts, output_delta(yb, acts[-1], loss),
                                               activation)
        n = len(rows)
        sumsq = sum(float(np.sum(W.astype(np.float64) ** 2)) for W in coefs)
        coef_grads = [g + W.dtype.type(alpha / n) * W for g, W in zip(coef_grads, coefs)]
        grads = coef_grads + intercept_grads
        if solver == "adam":
            adam_t += 1
            adam_update(params, grads, moment_1, moment_2, adam_t, learning_rate,
                        beta_1, beta_2, epsilon)
        else:
            sgd_update(params, grads, moment_1, learning_rate, momentum, nesterov)
        loss_sum += batch_loss + 0.5 * alpha * sumsq
        steps += 1
    return loss_sum, steps, adam_t, 0
