"""The full-batch loss and its gradient, L2 penalty included (L-BFGS, and the tests).

It runs the very training step of step.pyx, once, on one thread, with every sample
as the minibatch (read where it is, nothing gathered) and, instead of an optimizer,
the gradient kernel of optimizers.h, which writes the gradient every optimizer
sees. So L-BFGS and the minibatch solvers share one forward and one backward pass.
"""
from cython cimport floating

import numpy as np

from fastmlp._kernels.optimizers cimport GRADIENT
from fastmlp._kernels.step cimport Step, StepContext, close_context, open_context, step_part
from fastmlp._kernels.step import workspace_length


def loss_and_gradient(floating[::1] params,          # IN flat parameters (n_params,)
                      floating[::1] grads,           # OUT flat gradient (n_params,)
                      X,                             # IN (n_samples x n_features), C or CSR
                      const floating[:, ::1] Y,      # IN (n_samples x n_outputs)
                      const Py_ssize_t[::1] sizes,   # IN layer widths, input first
                      int hidden_activation, int out_activation, int loss, double alpha,
                      sample_weight=None,            # IN (n_samples,) or None: all 1
                      double label_smoothing=0):
    """Full-batch loss and its exact gradient, L2 penalty included.

    loss = (sum_i w_i loss_i + 0.5 alpha ||W||^2) / sum_i w_i, with w_i = 1 when
    sample_weight is None (scikit-learn's definition), the loss of the targets smoothed
    by label_smoothing (see losses.pxd). X, Y and the weights are of the
    parameters' dtype; the caller checked the shapes. A non-finite loss gives a NaN
    gradient.
    """
    cdef StepContext c
    cdef Step s
    cdef Py_ssize_t rows = Y.shape[0], itemsize = sizeof(floating)
    cdef double weight_sum = rows if sample_weight is None else float(np.sum(sample_weight))
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] scratch = np.empty(params.shape[0], dtype=dtype)   # before L2
    cdef floating[::1] workspace = np.empty(
        workspace_length(sizes, rows, 1, itemsize, hidden_activation, False, False),
        dtype=dtype)
    cdef const Py_ssize_t[::1] order = np.arange(rows, dtype=np.intp)   # a CSR X's rows
    open_context(&c, sizes, hidden_activation, out_activation, loss, X, Y, sample_weight,
                 params, scratch, [grads], GRADIENT, workspace, rows, 1, True)
    c.label_smoothing = label_smoothing
    s.rows, s.order, s.next_rows, s.next_order = rows, &order[0], 0, NULL
    s.scale = 1 / weight_sum
    s.l2 = alpha * s.scale
    try:
        with nogil:
            step_part(&c, &s, 0, 1, -1)   # skips the gradient when the loss is not finite
        value = (c.partials[1] + 0.5 * alpha * c.partials[2]) / weight_sum
    finally:
        close_context(&c)
    if not np.isfinite(value):
        grads[:] = np.nan
    return value
