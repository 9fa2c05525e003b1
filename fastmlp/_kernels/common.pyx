"""Python's view of the enums in common.pxd (Status, TeamMode)."""

cdef extern from *:
    """
    #if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    #include <xmmintrin.h>
    /* MXCSR's control bits (denormals-are-zero, the exception masks, rounding,
       flush-to-zero: bits 6-15; bits 0-5 are sticky exception flags, which any
       computation may set) and the x87 control word above them. */
    static unsigned long fastmlp_floating_point_control(void) {
        unsigned short x87;
        __asm__ volatile("fnstcw %0" : "=m"(x87));
        return (_mm_getcsr() & 0xFFC0u) | ((unsigned long) x87 << 16);
    }
    #else
    static unsigned long fastmlp_floating_point_control(void) { return 0; }
    #endif
    """
    unsigned long floating_point_control_word "fastmlp_floating_point_control"() nogil


def floating_point_control():
    """The calling thread's floating-point control state as one integer: SSE's rounding,
    flush-to-zero, denormals-are-zero and exception masks, and the x87 control word (0
    where the platform's is not known). fastmlp never changes it; the tests check that
    no kernel leaves it changed in a user's process."""
    return floating_point_control_word()
