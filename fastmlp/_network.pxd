# Forward and backward passes through all layers of one minibatch, shareable
# among the threads of an OpenMP team (see _network.pyx).
from cython cimport floating

from fastmlp._dropout cimport Dropout

cdef void forward(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t first_layer, Py_ssize_t n_layers,
                  const Py_ssize_t* sizes, const floating** coefs,
                  const floating** intercepts, const floating* x, floating** acts,
                  int hidden_activation, int out_activation,
                  const Dropout* dropout) noexcept nogil

cdef inline void share(Py_ssize_t n, Py_ssize_t part, Py_ssize_t n_parts,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the part of range(n) that thread `part` of `n_parts` owns."""
    lo[0] = n * part // n_parts
    hi[0] = n * (part + 1) // n_parts

cdef inline void share_inputs(Py_ssize_t i, const Py_ssize_t* sizes, Py_ssize_t part,
                              Py_ssize_t n_parts, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the units of layer i's input that `part` owns. share(), but for the
    first layer's (the gathered input, whose every row all parts write) cut on
    multiples of 8 units: 32 bytes in float32, a 64-byte cache line in float64.
    784 inputs split 392/392. In float32 the two parts then write one cache line of
    each row between them; that cost nothing measurable in the gather here, while a
    cut on whole lines (400/384) left the second thread waiting at every barrier:
    batch 128 and 32 epochs ran 1.3% and 1.6% faster with the even split (median
    ratios of 8 and 6 interleaved rounds)."""
    cdef Py_ssize_t n = sizes[i]
    share(n, part, n_parts, lo, hi)
    if i == 0 and n_parts > 1:
        lo[0] = 0 if part == 0 else min(n, (lo[0] + 4) // 8 * 8)
        hi[0] = n if part == n_parts - 1 else min(n, (hi[0] + 4) // 8 * 8)

# sums_terms: most bytes of one part's rows of W_i that still go the sum-of-terms
# way, about half a core's L2 here (2 MiB). 784-256-128-10 (W_0 400 KB per part in
# float32): 3-9% faster per epoch at batch 128, 5-12% at batch 32, the update of W_0
# twice as fast; 784-1024-1024-10/256 (1.6 and 2 MB per part): 1-2% slower, the
# terms' extra pass costing more than what no longer crosses cores.
cdef enum:
    TERMS_MAX_PART_BYTES = 1024 * 1024

cdef inline bint sums_terms(Py_ssize_t i, const Py_ssize_t* sizes, Py_ssize_t n_parts,
                            Py_ssize_t itemsize) noexcept nogil:
    """Whether a team computes hidden layer i as a sum of the parts' terms
    (forward_partial, reduce_columns) rather than by columns (forward_columns)."""
    return (n_parts > 1
            and sizes[i] * sizes[i + 1] * itemsize <= TERMS_MAX_PART_BYTES * n_parts)

cdef void forward_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                          const Py_ssize_t* sizes, const floating** coefs,
                          const floating** intercepts, const floating* a_in, floating* z,
                          int activation, const Dropout* dropout) noexcept nogil

cdef void forward_partial(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                          const Py_ssize_t* sizes, const floating** coefs,
                          const floating* a_in, floating* term) noexcept nogil

cdef void reduce_columns(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                         const Py_ssize_t* sizes, const floating** intercepts,
                         const floating* terms, Py_ssize_t term_stride, floating* z,
                         int activation, const Dropout* dropout) noexcept nogil

cdef void backward_layer(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows, Py_ssize_t i,
                         bint weight_grad, const Py_ssize_t* sizes, const floating** coefs,
                         const floating* a_in, const floating* delta, floating* delta_prev,
                         floating* coef_grad, floating* bias_grad_prev,
                         int hidden_activation, const Dropout* dropout_prev) noexcept nogil

cdef floating* backward(Py_ssize_t part, Py_ssize_t n_parts, Py_ssize_t rows,
                   Py_ssize_t stop_layer, Py_ssize_t n_layers, const Py_ssize_t* sizes, const floating** coefs,
                   const floating* x, floating** acts, floating** coef_grads,
                   floating** bias_grads, floating* delta_a, floating* delta_b,
                   int hidden_activation, const Dropout* dropout) noexcept nogil

cdef void team_barrier() noexcept nogil
