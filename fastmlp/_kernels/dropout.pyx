"""The per-step key of the dropout mask (see _dropout.pxd)."""


cdef unsigned int step_key(unsigned long long seed, unsigned long long step) noexcept nogil:
    """Low 32 bits of splitmix64(seed + step): one unrelated key per training step."""
    cdef unsigned long long z = seed + step * 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return <unsigned int> (z ^ (z >> 31))


def step_key_twin(unsigned long long seed, unsigned long long step):
    """Test twin of :c:func:`step_key`."""
    return step_key(seed, step)
