# The optimizers (optimizers.h): every one is a fused pass with one signature, picked by
# its code, its position in the table at the end of optimizers.h.
from cython cimport floating

ctypedef double (*UpdateFloat)(float*, const float*, float*, float*, Py_ssize_t, int,
                               float, float, double, const double*, long long) noexcept nogil
ctypedef double (*UpdateDouble)(double*, const double*, double*, double*, Py_ssize_t,
                                int, double, double, double, const double*,
                                long long) noexcept nogil

cdef extern from "norms.h" nogil:
    double sumsq_float "fastmlp_sumsq_float"(const float* g, Py_ssize_t n)
    double sumsq_double "fastmlp_sumsq_double"(const double* g, Py_ssize_t n)

cdef enum:
    GRADIENT = -1   # not a solver: writes the gradient the optimizers see (see optimizers.h)
    MAX_STATE = 2   # state arrays an optimizer may have

cdef struct Optimizer:
    # An optimizer as the training step calls it: its loops, and what they read
    # besides the arrays.
    UpdateFloat update_float
    UpdateDouble update_double
    double learning_rate
    const double* hyper     # its hyper-parameters, in the order of its table line
    long long t             # the step number of the current update: 1, 2, ...

# The loops of the optimizer with this code (GRADIENT: the gradient kernel); the
# caller checked the code.
cdef Optimizer optimizer_loops(int code) noexcept nogil

cdef inline double update(const Optimizer* o, floating* p, const floating* g,
                          floating* s0, floating* s1, Py_ssize_t n, bint weights,
                          double l2, double gscale) noexcept nogil:
    """One update of the slice p[0:n] (see optimizers.h) with the gradient
    gscale g + l2 p; l2 applies to weights only. Returns sum(p^2) of the slice before
    the update."""
    if n <= 0:
        return 0
    if floating is float:
        return o.update_float(p, g, s0, s1, n, weights, <float> (l2 if weights else 0),
                              <float> gscale, o.learning_rate, o.hyper, o.t)
    else:
        return o.update_double(p, g, s0, s1, n, weights, l2 if weights else 0, gscale,
                               o.learning_rate, o.hyper, o.t)


cdef inline double sumsq(const floating* g, Py_ssize_t n) noexcept nogil:
    """sum(g^2) of the slice g[0:n], in double."""
    if n <= 0:
        return 0
    if floating is float:
        return sumsq_float(g, n)
    else:
        return sumsq_double(g, n)
