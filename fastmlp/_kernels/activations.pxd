# Activation functions fused with the bias add (forward) and their derivatives fused
# with the bias-gradient column sum (backward). The list of activations is the table
# at the top of activations.pyx.tp; an activation's code is its position there.
from cython cimport floating

from fastmlp._kernels.dropout cimport Dropout

cdef bint needs_preactivation(int activation) noexcept nogil

# out[i, j] = act(out[i, j] + bias[j]) in place: out is (rows x cols), row-major with
# rows ld apart (a block of columns of a wider matrix when ld > cols), holding the
# layer's gemm result on entry.
#   preact  OUT NULL, or z = out + bias (same layout), for an activation whose
#               derivative reads it (needs_preactivation)
#   dropout IN  NULL, or the layer's Dropout: then out[i, j] *= mask / keep, the mask
#               taken for minibatch row row0 + i and unit col0 + j of the layer
cdef void bias_activation(floating* out, floating* preact, const floating* bias,
                          Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld, int activation,
                          const Dropout* dropout, Py_ssize_t row0,
                          Py_ssize_t col0) noexcept nogil

# A prediction's output layer: out = act(out + bias) in place, out (rows x cols)
# contiguous, holding the layer's gemm result on entry. Unless a logit out + bias is
# NaN or infinite (a finite X overflowed inside the network): then out[0, 0] = NaN
# and False, for logistic and softmax would turn an infinite logit into a finite,
# confident and possibly wrong output.
cdef bint output_activation(floating* out, const floating* bias, Py_ssize_t rows,
                            Py_ssize_t cols, int activation) noexcept nogil

# delta *= act'(z) in place, and bias_grad[j] = sum_i delta[i, j]. delta, a and preact
# are (rows x cols), rows ld apart; the derivative reads a (the layer's stored output)
# or preact (its pre-activation) as the activation's table line says. With dropout,
# delta *= mask act'(z) / keep (rows from row0 on, units from col0 on).
cdef void derivative_colsum(floating* delta, const floating* a, const floating* preact,
                            floating* bias_grad, Py_ssize_t rows, Py_ssize_t cols,
                            Py_ssize_t ld, int activation, const Dropout* dropout,
                            Py_ssize_t row0, Py_ssize_t col0) noexcept nogil
