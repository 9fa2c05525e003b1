"""Per-sample losses (scikit-learn's definitions) and the output delta in one pass.

For each loss paired with its canonical output activation the gradient of the
loss with respect to the output layer's pre-activation is P - Y (divided by the
number of outputs for the squared error, whose loss is a mean over outputs).
Probabilities are clipped to [eps, 1 - eps] inside the logarithms, as scikit-learn does.
"""
from cython cimport floating
from libc.float cimport DBL_EPSILON, FLT_EPSILON
from libc.math cimport log


cdef double loss_delta(floating* out, const floating* y, const floating* weights,
                       floating* bias_grad, Py_ssize_t rows, Py_ssize_t cols, int loss,
                       double scale) noexcept nogil:
    """Return sum_i w_i loss_i over the rows; overwrite OUT with the delta.

    out       IN  P, the output layer's activations (rows x cols);
              OUT delta = w_i (P - Y) * scale (/ cols for the squared error)
    y         IN  targets (rows x cols)
    weights   IN  sample weights (rows,), or NULL for weights of 1
    bias_grad OUT column sums of delta (cols,)
    scale     1 / (sum of the minibatch's weights), folded in here so no later
              pass rescales
    """
    cdef double eps = FLT_EPSILON if floating is float else DBL_EPSILON
    cdef double total = 0, row_loss, p, t, diff
    cdef floating s = <floating> (scale / cols if loss == SQUARED_ERROR else scale)
    cdef floating s_row
    cdef Py_ssize_t i, j
    cdef floating* o
    cdef const floating* yr
    for j in range(cols):
        bias_grad[j] = 0
    for i in range(rows):
        o = out + i * cols
        yr = y + i * cols
        row_loss = 0
        for j in range(cols):
            p = o[j]
            t = yr[j]
            if loss == SQUARED_ERROR:
                diff = p - t
                row_loss += 0.5 * diff * diff / cols
            elif loss == POISSON:
                row_loss += p - t
                if t != 0:
                    row_loss += t * log(t / p)
            else:
                p = min(max(p, eps), 1 - eps)
                if t != 0:
                    row_loss -= t * log(p)
                if loss == BINARY_LOG_LOSS and t != 1:
                    row_loss -= (1 - t) * log(1 - p)
        s_row = s if weights == NULL else s * weights[i]
        total += row_loss if weights == NULL else row_loss * weights[i]
        for j in range(cols):
            o[j] = (o[j] - yr[j]) * s_row
            bias_grad[j] = bias_grad[j] + o[j]
    return total


def loss_delta_twin(floating[:, ::1] out,           # IN P / OUT delta (rows x cols)
                    const floating[:, ::1] y,        # IN (rows x cols)
                    floating[::1] bias_grad,         # OUT (cols,)
                    int loss, double scale,
                    const floating[::1] weights=None):   # IN (rows,) or None
    """Test twin of :c:func:`loss_delta`; returns the (weighted) summed loss."""
    if y.shape[0] != out.shape[0] or y.shape[1] != out.shape[1] or \
            bias_grad.shape[0] != out.shape[1]:
        raise ValueError("out, y and bias_grad shapes disagree")
    if weights is not None and weights.shape[0] != out.shape[0]:
        raise ValueError("weights must have one entry per row")
    if out.shape[0] == 0 or out.shape[1] == 0:
        return 0.0
    cdef double total
    cdef const floating* w = NULL if weights is None else &weights[0]
    with nogil:
        total = loss_delta(&out[0, 0], &y[0, 0], w, &bias_grad[0], out.shape[0],
                           out.shape[1], loss, scale)
    return total
