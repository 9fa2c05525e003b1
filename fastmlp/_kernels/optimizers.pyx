"""The optimizers' Cython front: their table for Python, their loops for the step.

The loops, the formulas and the table are in optimizers.h.
"""
from cython cimport floating

import numpy as np

cdef extern from "optimizers.h" nogil:
    ctypedef struct Entry "fastmlp_optimizer":
        const char* name
        const char* state
        const char* hyper
        UpdateFloat update_float
        UpdateDouble update_double
    const Entry FASTMLP_OPTIMIZERS[]
    const int FASTMLP_N_OPTIMIZERS
    double gradient_float "fastmlp_gradient_float"(
        float*, const float*, float*, float*, Py_ssize_t, int, float, float, double,
        const double*, long long)
    double gradient_double "fastmlp_gradient_double"(
        double*, const double*, double*, double*, Py_ssize_t, int, double, double, double,
        const double*, long long)


cdef Optimizer optimizer_loops(int code) noexcept nogil:
    cdef Optimizer o
    if code == GRADIENT:
        o.update_float, o.update_double = gradient_float, gradient_double
    else:
        o.update_float = FASTMLP_OPTIMIZERS[code].update_float
        o.update_double = FASTMLP_OPTIMIZERS[code].update_double
    o.learning_rate, o.hyper, o.t = 0, NULL, 1
    return o


# (name, state arrays, hyper-parameters) per optimizer, its position being its code.
TABLE = tuple(
    (FASTMLP_OPTIMIZERS[k].name.decode(), tuple(FASTMLP_OPTIMIZERS[k].state.decode().split()),
     tuple(FASTMLP_OPTIMIZERS[k].hyper.decode().split()))
    for k in range(FASTMLP_N_OPTIMIZERS))


# ---- test twin --------------------------------------------------------------------

GRADIENT_CODE = GRADIENT   # the gradient kernel, for update_twin


def update_twin(int code, floating[::1] params, const floating[::1] grads, list state,
                bint weights, double l2, double learning_rate, hyper, long long t,
                double gscale=1):
    """Test twin of :c:func:`update`: one update in place of params and the optimizer's
    state arrays (code GRADIENT: state[0] receives the gradient); returns sum(params^2)
    before the update."""
    cdef Py_ssize_t n = params.shape[0]
    cdef floating[::1] s0, s1
    cdef const double[::1] h = np.ascontiguousarray(hyper, dtype=np.float64)
    cdef Optimizer o
    names = ("gradient",) if code == GRADIENT else (
        TABLE[code][1] if 0 <= code < len(TABLE) else None)
    if names is None:
        raise ValueError(f"no optimizer has code {code}")
    if len(state) != len(names) or (code != GRADIENT and len(hyper) != len(TABLE[code][2])):
        raise ValueError("update_twin: one state array per name, one value per hyper-parameter")
    if t < 1:
        raise ValueError("update_twin: t counts from 1")
    s0 = state[0] if len(state) > 0 else params
    s1 = state[1] if len(state) > 1 else params
    if grads.shape[0] != n or s0.shape[0] != n or s1.shape[0] != n:
        raise ValueError("update_twin: inconsistent lengths")
    if n == 0:
        return 0.0
    o = optimizer_loops(code)
    o.learning_rate, o.t = learning_rate, t
    o.hyper = &h[0] if h.shape[0] else NULL
    return update(&o, &params[0], &grads[0], &s0[0] if len(state) > 0 else NULL,
                  &s1[0] if len(state) > 1 else NULL, n, weights, l2, gscale)


def sumsq_twin(const floating[::1] grads):
    """Test twin of :c:func:`sumsq`: sum(grads^2) in double."""
    return sumsq(&grads[0], grads.shape[0]) if grads.shape[0] else 0.0
