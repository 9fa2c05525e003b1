# Letting Ctrl-C through a long loop that runs without the GIL: every
# CHECK_SIGNALS_SECONDS the loop takes the GIL for a moment, Python's signal handlers
# run, and when one raised (KeyboardInterrupt) the loop stops between two whole pieces
# of its work (epoch.pyx: two steps; predict.pyx: two chunks of rows).
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

cdef extern from "Python.h":
    # Declared without Cython's except clause: the exception a handler raised stays
    # set until reraise() raises it, once the loop has stopped.
    int run_signal_handlers "PyErr_CheckSignals"()

cdef enum:
    CHECK_SIGNALS_MILLISECONDS = 200


cdef inline double monotonic_seconds() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + 1e-9 * ts.tv_nsec


cdef inline bint signal_raised(double* last_check) noexcept nogil:
    """At most every CHECK_SIGNALS_MILLISECONDS since last_check: run Python's signal
    handlers with the GIL, and return True when one raised (its exception left set
    for reraise())."""
    cdef double now = monotonic_seconds()
    cdef int status
    if now - last_check[0] < CHECK_SIGNALS_MILLISECONDS / 1000.0:
        return False
    last_check[0] = now
    with gil:
        status = run_signal_handlers()
    return status != 0


cdef inline int reraise() except -1:
    """Raise the exception that signal_raised left set."""
    return -1
