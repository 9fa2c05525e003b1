# Losses fused with their output-layer gradient. The list of losses is the table at
# the top of losses.pyx.tp; a loss's code is its position there.
from cython cimport floating

# Return sum_i w_i loss_i over the rows, and overwrite `out` with the output delta.
#   out       IN  P, the output layer's activations (rows x cols);
#             OUT delta = w_i (P - Y) * scale (/ cols for a loss that is a mean over
#                 the outputs)
#   y         IN  targets (rows x cols)
#   weights   IN  sample weights (rows,), or NULL for weights of 1
#   bias_grad OUT column sums of delta (cols,)
#   scale     1 / (sum of the minibatch's weights), folded in here so that no later
#             pass rescales
#   smoothing label smoothing e of the classification losses: their loss and delta are
#             those of the targets (1 - e) Y + e / K, K the classes (cols for softmax,
#             2 for each logistic output), computed on the fly (no smoothed copy of Y)
cdef double loss_delta(floating* out, const floating* y, const floating* weights,
                       floating* bias_grad, Py_ssize_t rows, Py_ssize_t cols, int loss,
                       double scale, double smoothing) noexcept nogil
