"""Per-sample losses (scikit-learn's definitions) and the output delta in one pass.

For each loss paired with its canonical output activation the gradient of the
loss with respect to the output layer's pre-activation is P - Y (divided by the
number of outputs for the squared error, whose loss is a mean over outputs).
Probabilities are clipped to [eps, 1 - eps] inside the logarithms, as scikit-learn does.
"""
from cython cimport floating
from libc.float cimport DBL_EPSILON, FLT_EPSILON
from libc.math cimport log


cdef double loss_delta(floating* out, const floating* y, floating* bias_grad,
                       Py_ssize_t rows, Py_ssize_t cols, int loss,
                       double scale) noexcept nogil:
    """Return the summed per-sample loss of the batch; overwrite OUT with the delta.

    out       IN  P, the output layer's activations (rows x cols);
              OUT delta = (P - Y) * scale (/ cols for the squared error)
    y         IN  targets (rows x cols)
    bias_grad OUT column sums of delta (cols,)
    scale     1 / batch size (folded in here so no later pass rescales)
    """
    cdef double eps = FLT_EPSILON if floating is float else DBL_EPSILON
    cdef double total = 0, p, t, diff
    cdef floating s = <floating> (scale / cols if loss == SQUARED_ERROR else scale)
    cdef Py_ssize_t i, j
    cdef floating* o
    cdef const floating* yr
    for j in range(cols):
        bias_grad[j] = 0
    for i in range(rows):
        o = out + i * cols
        yr = y + i * cols
        for j in range(cols):
            p = o[j]
            t = yr[j]
            if loss == SQUARED_ERROR:
                diff = p - t
                total += 0.5 * diff * diff / cols
            else:
                p = min(max(p, eps), 1 - eps)
                if t != 0:
                    total -= t * log(p)
                if loss == BINARY_LOG_LOSS and t != 1:
                    total -= (1 - t) * log(1 - p)
            o[j] = (o[j] - yr[j]) * s
            bias_grad[j] = bias_grad[j] + o[j]
    return total


def loss_delta_twin(floating[:, ::1] out,           # IN P / OUT delta (rows x cols)
                    const floating[:, ::1] y,        # IN (rows x cols)
                    floating[::1] bias_grad,         # OUT (cols,)
                    int loss, double scale):
    """Test twin of :c:func:`loss_delta`; returns the summed per-sample loss."""
    if y.shape[0] != out.shape[0] or y.shape[1] != out.shape[1] or \
            bias_grad.shape[0] != out.shape[1]:
        raise ValueError("out, y and bias_grad shapes disagree")
    if out.shape[0] == 0 or out.shape[1] == 0:
        return 0.0
    cdef double total
    with nogil:
        total = loss_delta(&out[0, 0], &y[0, 0], &bias_grad[0], out.shape[0],
                           out.shape[1], loss, scale)
    return total
