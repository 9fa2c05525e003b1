# The only door to BLAS. Row-major (C-ordered) matrices in, the column-major swap
# done once, here.
from cython cimport floating

cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil

# Set the calling thread's BLAS thread count (OpenBLAS >= 0.3.27,
# openblas_set_num_threads_local); returns the previous count, or -1 when the
# BLAS offers no such control (then fastmlp leaves threading to BLAS).
cdef int blas_threads_local(int n_threads) noexcept nogil

# BLAS on one thread from begin to end, for work that runs its gemms on one thread
# each, in any number of Python threads at once: the first to begin saves BLAS's
# thread count, the last to end restores it. begin returns False (then there is
# nothing to end) when the BLAS offers no such control.
cdef bint one_blas_thread_begin() noexcept nogil
cdef void one_blas_thread_end() noexcept nogil
