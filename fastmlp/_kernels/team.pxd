# How the threads of a team share one training step: who owns what (see
# docs/architecture.md). Thread `part` of `n_parts` owns the units
# [n * part // n_parts, n * (part + 1) // n_parts) of every layer of width n
# (`share`; the gathered input's cut on multiples of 8 units, `share_inputs`), and
# with them the rows of W_i that read them.

cdef inline void share(Py_ssize_t n, Py_ssize_t part, Py_ssize_t n_parts,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the part of range(n) that thread `part` of `n_parts` owns."""
    lo[0] = n * part // n_parts
    hi[0] = n * (part + 1) // n_parts


cdef inline void share_inputs(Py_ssize_t i, const Py_ssize_t* sizes, Py_ssize_t part,
                              Py_ssize_t n_parts, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the units of layer i's input that `part` owns. share(), but for the
    first layer's (the gathered input, whose every row all parts write) cut on
    multiples of 8 units: 32 bytes in float32, a 64-byte cache line in float64. An
    even split matters more than whole cache lines: a part with more units keeps
    the others waiting at every barrier (784 inputs split 392/392, not 400/384)."""
    cdef Py_ssize_t n = sizes[i]
    share(n, part, n_parts, lo, hi)
    if i == 0 and n_parts > 1:
        lo[0] = 0 if part == 0 else min(n, (lo[0] + 4) // 8 * 8)
        hi[0] = n if part == n_parts - 1 else min(n, (hi[0] + 4) // 8 * 8)


cdef enum:
    # Most bytes of one part's rows of W_i that still compute hidden layer i as a sum
    # of terms: about half a core's L2 cache. Beyond it the terms' extra pass costs
    # more than the rows of W that no longer move between cores.
    TERMS_MAX_PART_BYTES = 1024 * 1024


cdef inline bint sums_terms(Py_ssize_t i, const Py_ssize_t* sizes, Py_ssize_t n_parts,
                            Py_ssize_t itemsize) noexcept nogil:
    """Whether a team computes hidden layer i as a sum of the parts' terms
    (forward_partial, reduce_columns) rather than by columns (forward_columns)."""
    return (n_parts > 1
            and sizes[i] * sizes[i + 1] * itemsize <= TERMS_MAX_PART_BYTES * n_parts)
