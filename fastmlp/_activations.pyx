"""Fused elementwise epilogues: bias + activation (+ dropout) forward, derivative
(+ dropout) + column sum backward.

Derivatives are computed from the layer's *output* A = act(Z), so the forward
pass keeps no pre-activation buffer:
relu: A > 0; tanh: 1 - A^2; logistic: A (1 - A); leaky_relu: 1 if A > 0 else
LEAKY_SLOPE; elu: 1 if A > 0 else A + 1 (since A = exp(Z) - 1 there).
With dropout the stored output is A * mask / keep; the backward pass recomputes
the mask (see _dropout.pxd) and takes the derivative at A = stored * keep.
"""
from cython cimport floating
from libc.math cimport exp, expf, expm1, expm1f, tanh, tanhf

from fastmlp._dropout cimport Dropout, kept

# Fixed shapes of the two activations scikit-learn does not have.
cdef double LEAKY_SLOPE = 0.01   # leaky_relu(z) = z if z > 0 else 0.01 z
# elu(z) = z if z > 0 else exp(z) - 1   (alpha = 1)


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _logistic(floating z) noexcept nogil:
    """1 / (1 + exp(-z)), branching on the sign so exp never overflows."""
    cdef floating e
    if z >= 0:
        return 1 / (1 + _exp(-z))
    e = _exp(z)
    return e / (1 + e)


cdef void _softmax_rows(floating* z, Py_ssize_t rows, Py_ssize_t cols,
                        Py_ssize_t ld) noexcept nogil:
    """Row-wise softmax in place, stabilised by subtracting the row maximum."""
    cdef Py_ssize_t i, j
    cdef floating* row
    cdef floating zmax, total
    for i in range(rows):
        row = z + i * ld
        zmax = row[0]
        for j in range(1, cols):
            if row[j] > zmax:
                zmax = row[j]
        total = 0
        for j in range(cols):
            row[j] = _exp(row[j] - zmax)
            total = total + row[j]
        total = 1 / total
        for j in range(cols):
            row[j] = row[j] * total


cdef void bias_activation(floating* z, const floating* bias, Py_ssize_t rows,
                          Py_ssize_t cols, Py_ssize_t ld, int activation,
                          const Dropout* dropout, Py_ssize_t row0,
                          Py_ssize_t col0) noexcept nogil:
    """Z[i, j] = act(Z[i, j] + bias[j]) in place; Z is (rows x cols), row-major with
    rows ld apart (a block of columns of a wider matrix when ld > cols).

    With dropout (not NULL), then Z[i, j] *= mask / keep, the mask taken for
    minibatch row row0 + i and unit col0 + j of the layer.
    """
    cdef Py_ssize_t i, j
    cdef floating* row
    cdef floating v
    cdef floating slope = <floating> LEAKY_SLOPE
    cdef floating inv_keep
    for i in range(rows):
        row = z + i * ld
        if activation == RELU:
            for j in range(cols):
                v = row[j] + bias[j]
                row[j] = 0 if v <= 0 else v     # written so that NaN stays NaN
        elif activation == TANH:
            for j in range(cols):
                if floating is float:
                    row[j] = tanhf(row[j] + bias[j])
                else:
                    row[j] = tanh(row[j] + bias[j])
        elif activation == LOGISTIC:
            for j in range(cols):
                row[j] = _logistic(row[j] + bias[j])
        elif activation == LEAKY_RELU:
            for j in range(cols):
                v = row[j] + bias[j]
                row[j] = v if v > 0 else slope * v
        elif activation == ELU:
            for j in range(cols):
                v = row[j] + bias[j]
                if v > 0:
                    row[j] = v
                elif floating is float:
                    row[j] = expm1f(v)
                else:
                    row[j] = expm1(v)
        elif activation == EXP:
            for j in range(cols):
                row[j] = _exp(row[j] + bias[j])
        else:   # IDENTITY and SOFTMAX add the bias here
            for j in range(cols):
                row[j] = row[j] + bias[j]
        if dropout != NULL:
            inv_keep = <floating> (1 / dropout.keep)
            for j in range(cols):
                row[j] = row[j] * inv_keep if kept(dropout, row0 + i, col0 + j) else 0
    if activation == SOFTMAX:
        _softmax_rows(z, rows, cols, ld)


cdef inline floating _derivative_at(floating a, int activation) noexcept nogil:
    """act'(z) from a = act(z), one element (the dropout path)."""
    if activation == RELU:
        return 1 if a > 0 else 0
    if activation == TANH:
        return 1 - a * a
    if activation == LOGISTIC:
        return a * (1 - a)
    if activation == LEAKY_RELU:
        return 1 if a > 0 else <floating> LEAKY_SLOPE
    if activation == ELU:
        return 1 if a > 0 else a + 1
    return 1


cdef void derivative_colsum(floating* delta, const floating* a, floating* bias_grad,
                            Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld, int activation,
                            const Dropout* dropout, Py_ssize_t row0,
                            Py_ssize_t col0) noexcept nogil:
    """delta *= act'(A) in place, and bias_grad[j] = sum_i delta[i, j].

    delta and A are (rows x cols) row-major with rows ld apart (a block of columns
    when ld > cols); A is the layer's stored output. With dropout, delta *= mask *
    act'(stored * keep) / keep (rows from row0 on, units from col0 on).
    """
    cdef Py_ssize_t i, j
    cdef floating* d
    cdef const floating* ar
    cdef floating slope = <floating> LEAKY_SLOPE
    cdef floating keep, inv_keep
    for j in range(cols):
        bias_grad[j] = 0
    for i in range(rows):
        d = delta + i * ld
        ar = a + i * ld
        if dropout != NULL:
            keep = <floating> dropout.keep
            inv_keep = <floating> (1 / dropout.keep)
            for j in range(cols):
                if kept(dropout, row0 + i, col0 + j):
                    d[j] = d[j] * _derivative_at(ar[j] * keep, activation) * inv_keep
                else:
                    d[j] = 0
        elif activation == RELU:
            for j in range(cols):
                d[j] = d[j] if ar[j] > 0 else 0
        elif activation == TANH:
            for j in range(cols):
                d[j] = d[j] * (1 - ar[j] * ar[j])
        elif activation == LOGISTIC:
            for j in range(cols):
                d[j] = d[j] * ar[j] * (1 - ar[j])
        elif activation == LEAKY_RELU:
            for j in range(cols):
                d[j] = d[j] if ar[j] > 0 else slope * d[j]
        elif activation == ELU:
            for j in range(cols):
                d[j] = d[j] if ar[j] > 0 else d[j] * (ar[j] + 1)
        # IDENTITY: derivative 1
        for j in range(cols):
            bias_grad[j] = bias_grad[j] + d[j]


# ---- test twins -----------------------------------------------------------------

cdef Dropout _twin_dropout(object spec):
    """A Dropout from a (key, rate, stride, offset) tuple."""
    cdef Dropout d
    key, rate, stride, offset = spec
    d.key = key
    d.threshold = <unsigned int> min(rate * 4294967296.0, 4294967295.0)
    d.keep = 1 - rate
    d.stride = stride
    d.offset = offset
    return d


def bias_activation_twin(floating[:, ::1] z,               # IN/OUT (rows x cols)
                         const floating[::1] bias,          # IN (cols,)
                         int activation, dropout=None, Py_ssize_t row0=0):
    """Test twin of :c:func:`bias_activation`; dropout is (key, rate, stride, offset)."""
    cdef Dropout d
    if bias.shape[0] != z.shape[1]:
        raise ValueError("bias length must equal the number of columns")
    if z.shape[0] == 0 or z.shape[1] == 0:
        return
    if dropout is not None:
        d = _twin_dropout(dropout)
    with nogil:
        bias_activation(&z[0, 0], &bias[0], z.shape[0], z.shape[1], z.shape[1], activation,
                        &d if dropout is not None else NULL, row0, 0)


def derivative_colsum_twin(floating[:, ::1] delta,          # IN/OUT (rows x cols)
                           const floating[:, ::1] a,         # IN (rows x cols)
                           floating[::1] bias_grad,          # OUT (cols,)
                           int activation, dropout=None, Py_ssize_t row0=0):
    """Test twin of :c:func:`derivative_colsum`; dropout is (key, rate, stride, offset)."""
    cdef Dropout d
    if (a.shape[0] != delta.shape[0] or a.shape[1] != delta.shape[1]
            or bias_grad.shape[0] != delta.shape[1]):
        raise ValueError("delta, a and bias_grad shapes disagree")
    if delta.shape[0] == 0 or delta.shape[1] == 0:
        return
    if dropout is not None:
        d = _twin_dropout(dropout)
    with nogil:
        derivative_colsum(&delta[0, 0], &a[0, 0], &bias_grad[0], delta.shape[0],
                          delta.shape[1], delta.shape[1], activation,
                          &d if dropout is not None else NULL, row0, 0)
