"""Predicting one row, or a handful, at low latency: a plan of a model's pointers.

predict(x) for one row is dominated by overhead, not arithmetic: validating,
converting the weights, acquiring buffers, BLAS calls per layer. A RowPlan does
that work once, at the first small predict after a fit or load, and keeps:
  - references to the model's coefs_/intercepts_ arrays (C-contiguous, one
    dtype) and raw pointers into them;
  - the activation codes and layer sizes.
The layers run row by row on the calling thread, without BLAS (see
row_forward.h): up to SMALL_BATCH rows that beats a BLAS gemm, whose packing of W
alone costs more than the whole row path. One thread: a team of two splitting
each layer's columns is faster on an idle machine but several times slower as
soon as the other core is busy (the team waits for a descheduled thread).
A plan is immutable; `predict` checks that the model still holds the very
arrays and settings it was built from, else it declines (returns None) and the
caller takes the general path. Scratch is allocated per call, so several
threads may predict with one plan at once.
"""
from cython cimport floating
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc

import numpy as np

from fastmlp._kernels.activations cimport bias_activation, output_activation

cdef extern from "row_forward.h" nogil:
    void row_affine_float "fastmlp_row_affine_float"(
        const float* x, const float* W, Py_ssize_t n_in, Py_ssize_t n_out,
        float* z, Py_ssize_t* nonzero)
    void row_affine_double "fastmlp_row_affine_double"(
        const double* x, const double* W, Py_ssize_t n_in, Py_ssize_t n_out,
        double* z, Py_ssize_t* nonzero)

# Batches of up to this many rows take the row-by-row path (beyond it BLAS wins;
# benchmarks/README.md has the measurements).
cdef Py_ssize_t SMALL_BATCH = 16


cdef inline void _affine(const floating* x, const floating* W, Py_ssize_t n_in,
                         Py_ssize_t n_out, floating* z, Py_ssize_t* nonzero) noexcept nogil:
    if floating is float:
        row_affine_float(x, W, n_in, n_out, z, nonzero)
    else:
        row_affine_double(x, W, n_in, n_out, z, nonzero)


cdef void _row_forward(const floating* x, Py_ssize_t n_layers, const Py_ssize_t* sizes,
                       void** weights, void** biases, floating** acts,
                       int hidden_activation, int out_activation,
                       Py_ssize_t* nonzero) noexcept nogil:
    """acts[i] = act(A_i @ W_i + b_i) for one row, layer after layer; A_0 = x.

    nonzero: scratch for the widest layer input's indices.
    """
    cdef Py_ssize_t i
    cdef const floating* a_in = x
    for i in range(n_layers):
        # z = a_in @ W_i : (1 x sizes[i + 1]) = (1 x sizes[i]) (sizes[i] x sizes[i + 1]), no BLAS
        _affine(a_in, <const floating*> weights[i], sizes[i], sizes[i + 1], acts[i],
                nonzero)
        if i < n_layers - 1:
            bias_activation(acts[i], <floating*> NULL, <const floating*> biases[i], 1,
                            sizes[i + 1], sizes[i + 1], hidden_activation, NULL, 0, 0)
        else:   # a NaN in the output if a logit overflowed: _run_plan then gives up
            output_activation(acts[i], <const floating*> biases[i], 1, sizes[i + 1],
                              out_activation)
        a_in = acts[i]


cdef bint _finite(const floating* x, Py_ssize_t n) noexcept nogil:
    """True when no x[k] is NaN or infinite."""
    cdef Py_ssize_t k
    cdef bint ok = True
    for k in range(n):
        ok &= isfinite(x[k])
    return ok


cdef class RowPlan:
    """A fitted model's single-row forward pass, built once (see the module docstring).

    Parameters
    ----------
    state : dict
        A copy of the model's ``__dict__``, taken at once: its ``coefs_``,
        ``intercepts_`` (C-contiguous, one dtype), ``activation`` and
        ``out_activation_`` are what the plan computes, and the plan hands the whole
        copy to the caller, so that a prediction uses one fit's state throughout.
    keys : tuple of str
        The attributes whose identity the plan checks on every call (they include
        ``coefs_`` and ``intercepts_``, whose arrays it also checks one by one).
    hidden_code, out_code : int
        The activations' codes (fastmlp._engine.registry.ACTIVATIONS[name].code).
    """
    cdef readonly object snapshot
    cdef object coefs_list, intercepts_list, arrays, watched
    cdef object dtype
    cdef bint is_float
    cdef int hidden_code, out_code
    cdef Py_ssize_t n_layers, hidden_total, widest_input
    cdef Py_ssize_t* sizes
    cdef void** weights
    cdef void** biases

    def __cinit__(self):
        self.sizes, self.weights, self.biases = NULL, NULL, NULL

    def __init__(self, dict state, tuple keys, int hidden_code, int out_code):
        cdef list coefs = state["coefs_"], intercepts = state["intercepts_"]
        cdef Py_ssize_t i, n_layers = len(coefs)
        cdef const float[:, ::1] wf
        cdef const double[:, ::1] wd
        cdef const float[::1] bf
        cdef const double[::1] bd
        if n_layers == 0 or len(intercepts) != n_layers:
            raise ValueError("RowPlan needs one intercept vector per weight matrix")
        self.dtype = coefs[0].dtype
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"RowPlan supports float32 and float64 weights, not {self.dtype}")
        self.is_float = self.dtype == np.float32
        self.snapshot = state
        self.coefs_list, self.intercepts_list = coefs, intercepts
        self.arrays = tuple(coefs) + tuple(intercepts)
        self.watched = tuple((key, state.get(key)) for key in keys)
        self.hidden_code, self.out_code = hidden_code, out_code
        self.n_layers = n_layers
        self.sizes = <Py_ssize_t*> malloc((n_layers + 1) * sizeof(Py_ssize_t))
        self.weights = <void**> malloc(n_layers * sizeof(void*))
        self.biases = <void**> malloc(n_layers * sizeof(void*))
        if self.sizes == NULL or self.weights == NULL or self.biases == NULL:
            raise MemoryError()
        self.sizes[0] = coefs[0].shape[0]
        self.hidden_total = 0
        self.widest_input = 0
        for i in range(n_layers):
            w, b = coefs[i], intercepts[i]
            if (w.dtype != self.dtype or b.dtype != self.dtype or w.ndim != 2 or b.ndim != 1
                    or w.shape[0] != self.sizes[i] or b.shape[0] != w.shape[1]
                    or w.shape[0] == 0 or w.shape[1] == 0):
                raise ValueError(f"RowPlan: layer {i} has inconsistent shapes or dtypes")
            # the memoryviews check C-contiguity (ValueError otherwise)
            if self.is_float:
                wf, bf = w, b
                self.weights[i], self.biases[i] = <void*> &wf[0, 0], <void*> &bf[0]
            else:
                wd, bd = w, b
                self.weights[i], self.biases[i] = <void*> &wd[0, 0], <void*> &bd[0]
            self.sizes[i + 1] = w.shape[1]
            self.widest_input = max(self.widest_input, w.shape[0])
            if i < n_layers - 1:
                self.hidden_total += w.shape[1]

    def __dealloc__(self):
        free(self.sizes)
        free(self.weights)
        free(self.biases)

    cdef bint _current(self, model) except -1:
        """True when `model` still holds the arrays and settings of this plan. Read in C,
        so no other thread runs in between: a fit publishing its result at the same
        time makes this either all old (True) or partly new (False)."""
        cdef dict state = model.__dict__
        cdef Py_ssize_t i
        for key, value in self.watched:
            if state.get(key) is not value:
                return False
        coefs, intercepts = self.coefs_list, self.intercepts_list
        if len(coefs) != self.n_layers or len(intercepts) != self.n_layers:
            return False
        for i in range(self.n_layers):
            if (coefs[i] is not self.arrays[i]
                    or intercepts[i] is not self.arrays[self.n_layers + i]):
                return False
        return state.get("engine") == "cython" and "feature_names_in_" not in state

    cdef object _predict(self, X):
        """The output for X if it is a finite, C-contiguous (1-SMALL_BATCH x n_features)
        ndarray of the plan's dtype, else None (the caller takes the general path, which
        validates and explains)."""
        if (type(X) is not np.ndarray or X.ndim != 2 or X.dtype != self.dtype
                or not 0 < X.shape[0] <= SMALL_BATCH or X.shape[1] != self.sizes[0]
                or not X.flags.c_contiguous):
            return None
        out = np.empty((X.shape[0], self.sizes[self.n_layers]), dtype=self.dtype)
        if self.is_float:
            ok = _run_plan[float](self, X, out)
        else:
            ok = _run_plan[double](self, X, out)
        return out if ok else None


cdef class RowPredictor:
    """A fitted model's slot for its RowPlan.

    Fit and load give a model an empty slot (a fitted attribute, so that predict
    never adds attributes); the first small-batch predict fills it with a plan
    from ``model._row_plan()``, and a later one rebuilds the plan when the model
    changed. Replacing the plan is one reference assignment under the GIL; a
    call keeps its own reference, so concurrent calls are safe. Pickles and
    copies as an empty slot, and all slots compare equal: a cache is not part of
    a model's state.
    """
    cdef RowPlan _plan

    def __reduce__(self):
        return (RowPredictor, ())

    def __eq__(self, other):
        return isinstance(other, RowPredictor)

    def __hash__(self):
        return hash(RowPredictor)

    @property
    def plan(self):
        """The current plan, or None."""
        return self._plan

    def predict(self, model, X):
        """(model's output, the fitted state it came from) for a clean small batch X
        when a plan applies, else None."""
        cdef RowPlan plan
        if type(X) is not np.ndarray or X.ndim != 2 or not 0 < X.shape[0] <= SMALL_BATCH:
            return None
        plan = self._plan
        if plan is None or not plan._current(model):
            plan = model._row_plan()
            if plan is None:
                return None
            self._plan = plan
        out = plan._predict(X)
        return None if out is None else (out, plan.snapshot)


cdef bint _run_plan(RowPlan plan, const floating[:, ::1] X, floating[:, ::1] out) except -1:
    """Runs `plan` on each row of X into out; False if X or the output is not finite (the
    general path then explains: a finite X may overflow inside the network)."""
    cdef Py_ssize_t i, r
    cdef bint finite
    cdef Py_ssize_t n_rows = X.shape[0], n_features = X.shape[1]
    cdef floating** acts = <floating**> malloc(plan.n_layers * sizeof(floating*))
    cdef floating* scratch = <floating*> malloc(max(plan.hidden_total, 1) * sizeof(floating))
    cdef Py_ssize_t* nonzero = <Py_ssize_t*> malloc(plan.widest_input * sizeof(Py_ssize_t))
    try:
        if acts == NULL or scratch == NULL or nonzero == NULL:
            raise MemoryError()
        acts[0] = scratch
        for i in range(1, plan.n_layers):
            acts[i] = acts[i - 1] + plan.sizes[i]
        with nogil:
            finite = _finite(&X[0, 0], n_rows * n_features)
            if finite:
                for r in range(n_rows):
                    acts[plan.n_layers - 1] = &out[r, 0]   # the last layer writes in place
                    _row_forward(&X[r, 0], plan.n_layers, plan.sizes, plan.weights,
                                 plan.biases, acts, plan.hidden_code, plan.out_code, nonzero)
                finite = _finite(&out[0, 0], n_rows * out.shape[1])
        return finite
    finally:
        free(acts)
        free(scratch)
        free(nonzero)
