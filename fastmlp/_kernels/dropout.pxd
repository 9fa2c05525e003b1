# Inverted dropout with a counter-based mask: whether unit j of minibatch row r
# is kept is a hash of (step key, r * stride + offset + j), so the mask needs no
# buffer, comes out the same whichever thread computes it, and is recomputed by
# the backward pass. The NumPy reference (fastmlp.reference.dropout_mask) hashes alike.

cdef struct Dropout:
    unsigned int key          # per training step (step_key)
    unsigned int threshold    # a unit is dropped when its hash < threshold = rate * 2^32
    double keep               # 1 - rate: kept outputs are divided by it
    Py_ssize_t stride         # counter positions per minibatch row (all hidden units)
    Py_ssize_t offset         # the layer's first unit in a row's counter positions

cdef inline unsigned int unit_hash(unsigned int x) noexcept nogil:
    """A 32-bit integer mixer (lowbias32): consecutive inputs, unrelated outputs."""
    x ^= x >> 16
    x *= 0x7feb352dU
    x ^= x >> 15
    x *= 0x846ca68bU
    x ^= x >> 16
    return x

cdef inline bint kept(const Dropout* d, Py_ssize_t row, Py_ssize_t unit) noexcept nogil:
    return unit_hash(d.key ^ <unsigned int> (row * d.stride + d.offset + unit)) >= d.threshold

cdef unsigned int step_key(unsigned long long seed, unsigned long long step) noexcept nogil
