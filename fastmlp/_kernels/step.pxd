# One training step (a minibatch: forward, loss, backward, update) for one part of a
# thread team. See step.pyx, and docs/architecture.md for a picture of the segments.
from cython cimport floating

from fastmlp._kernels.dropout cimport Dropout
from fastmlp._kernels.optimizers cimport MAX_STATE, Optimizer
from fastmlp._kernels.sparse cimport CsrMatrix

cdef enum:
    # What step_part returns besides the number of the step's last segment
    SEGMENT_DONE = -1   # it ran the one segment asked for; later segments follow
    STEP_SKIPPED = -2   # the minibatch loss is not finite: no update, no later segment


cdef struct StepContext:
    # What the steps of one epoch share (or the single step of a full-batch
    # gradient): the network, the data, the parameters and the workspace. Arrays are
    # void*, since a Cython struct cannot hold a fused type; step_part reads them as
    # the parameters' dtype (itemsize).
    #
    # -- the network
    Py_ssize_t n_layers
    const Py_ssize_t* sizes        # widths, input first (n_layers + 1)
    Py_ssize_t itemsize            # 4: float32, 8: float64
    int hidden_activation
    int out_activation
    int loss
    double label_smoothing         # of a classification loss (losses.pxd); 0: none
    # -- the data
    const void* X                  # a dense X (n_samples x n_in); NULL: X is `csr`
    CsrMatrix csr
    const void* Y                  # (n_samples x n_out)
    const void* sample_weight      # (n_samples,), or NULL: weights of 1
    # the minibatch is rows [0, rows) of X, Y and the weights, read where they are
    # (nothing is gathered)
    bint in_place
    # -- the parameters, their gradient and the optimizer's state: flat vectors
    #    (fastmlp/_engine/layout.py), and each layer's place in them
    void* params
    void* grads
    void* state[MAX_STATE]
    Optimizer optimizer
    # > 0: the step's gradient is scaled to at most this global norm before any
    # update (the updates then wait until every part's gradient is in); 0: no clipping
    double clip_norm
    void** coefs                   # n_layers each
    void** intercepts
    void** coef_grads
    # n_parts x n_layers: part p's column sums of each layer's delta; part 0's are
    # the gradient's own
    void** bias_grads
    # -- the workspace (see workspace_length)
    void* xb                       # the gathered inputs (rows x n_in) of a dense X
    void* yb                       # the gathered targets (rows x n_out)
    void* wb                       # the gathered sample weights (rows,)
    # each layer's output (rows x width); the output layer's becomes its delta
    void** acts
    # each hidden layer's z where its activation's derivative reads it (else NULL)
    void** preacts
    void* deltas[2]                # the hidden layers' deltas, alternately
    void* terms[2]                 # two sets of the parts' terms (see layers.pyx)
    Py_ssize_t term_stride         # elements from one part's term to the next
    const Dropout* dropout         # one per hidden layer, or NULL
    # the team size; each part's loss; each part's sum(w^2) (before its updates); each
    # part's sum(g^2) when clipping
    double* partials
    void* memory                   # what open_context allocated


cdef struct Step:
    # One minibatch: its samples, and the scalars of its update.
    Py_ssize_t rows
    const Py_ssize_t* order        # the minibatch's samples: order[0..rows)
    double scale                   # 1 / (sum of the minibatch's sample weights)
    double l2                      # alpha * scale, the L2 gradient factor
    Py_ssize_t next_rows           # the next minibatch, whose rows the W_0 update
    const Py_ssize_t* next_order   # prefetches (0 rows: none follows)


cdef int open_context(StepContext* c, const Py_ssize_t[::1] sizes, int hidden_activation,
                      int out_activation, int loss, X, const floating[:, ::1] Y,
                      sample_weight, floating[::1] params, floating[::1] grads, list state,
                      int optimizer, floating[::1] workspace, Py_ssize_t batch_size,
                      Py_ssize_t n_parts, bint in_place) except -1

cdef void close_context(StepContext* c) noexcept

cdef Py_ssize_t step_part(const StepContext* c, const Step* s, Py_ssize_t part,
                          Py_ssize_t n_parts, Py_ssize_t segment) noexcept nogil

cdef void run_step(const StepContext* c, const Step* s, Py_ssize_t n_parts,
                   bint serial) noexcept nogil
