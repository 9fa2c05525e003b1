"""Row-major gemm over scipy's BLAS (``scipy.linalg.cython_blas``)."""
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    int pthread_mutex_init(pthread_mutex_t* mutex, const void* attributes)
    int pthread_mutex_lock(pthread_mutex_t* mutex)
    int pthread_mutex_unlock(pthread_mutex_t* mutex)
    int pthread_atfork(void (*prepare)() noexcept nogil, void (*parent)() noexcept nogil,
                       void (*child)() noexcept nogil)

ctypedef int (*set_threads_local_t)(int) noexcept nogil
cdef set_threads_local_t _set_threads_local = NULL


def set_threads_local_function(size_t address):
    """Register the address of the BLAS's openblas_set_num_threads_local (0: none).

    fastmlp._engine.threads finds it in the BLAS library that scipy's cython_blas calls.
    """
    global _set_threads_local
    _set_threads_local = <set_threads_local_t> address


def has_threads_local():
    """True when the BLAS thread count of one thread can be set (see blas_threads_local)."""
    return _set_threads_local != NULL


cdef int blas_threads_local(int n_threads) noexcept nogil:
    if _set_threads_local == NULL:
        return -1
    return _set_threads_local(n_threads)


def set_threads_local(int n_threads):
    """Python twin of :c:func:`blas_threads_local`: sets BLAS's thread count and
    returns the one before (a test reads the count with it)."""
    return blas_threads_local(n_threads)


# openblas_set_num_threads_local sets the count for the whole process in the
# pthreads OpenBLAS that scipy's wheels ship (a thread's setting is every thread's),
# so work that runs its gemms on one thread each (an epoch, a prediction's team)
# cannot each save the count and restore it: two of them in two Python threads would
# restore each other's 1 and leave BLAS on one thread for good. Instead the first to
# begin saves the count, and the last to end restores it.
cdef pthread_mutex_t _one_thread_lock
cdef int _one_thread_users = 0
cdef int _saved_threads = -1


cdef void _after_fork_in_child() noexcept nogil:
    """A forked child has only the thread that forked: the sections other threads
    had begun never end there, and the lock may have been held by one of them. A new
    lock, no sections, and BLAS's count as the first section found it."""
    global _one_thread_users
    pthread_mutex_init(&_one_thread_lock, NULL)
    if _one_thread_users > 0 and _saved_threads > 0 and _set_threads_local != NULL:
        _set_threads_local(_saved_threads)
    _one_thread_users = 0


pthread_mutex_init(&_one_thread_lock, NULL)
pthread_atfork(NULL, NULL, _after_fork_in_child)


cdef bint one_blas_thread_begin() noexcept nogil:
    """BLAS on one thread until the matching one_blas_thread_end; False (and nothing
    to end) when the BLAS offers no such control."""
    global _one_thread_users, _saved_threads
    cdef int previous
    if _set_threads_local == NULL:
        return False
    pthread_mutex_lock(&_one_thread_lock)
    previous = _set_threads_local(1)   # also where a BLAS keeps it per thread
    if _one_thread_users == 0:
        _saved_threads = previous
    _one_thread_users += 1
    pthread_mutex_unlock(&_one_thread_lock)
    return True


cdef void one_blas_thread_end() noexcept nogil:
    """Ends a one_blas_thread_begin that returned True; the last to end restores the
    count the first one found."""
    global _one_thread_users
    pthread_mutex_lock(&_one_thread_lock)
    _one_thread_users -= 1
    if _one_thread_users == 0 and _saved_threads > 0:
        _set_threads_local(_saved_threads)
    pthread_mutex_unlock(&_one_thread_lock)


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil:
    """C = alpha op(A) op(B) + beta C, all row-major; C is (m x n), op(A) (m x k), op(B) (k x n).

    BLAS is column-major, and a row-major matrix read column-major is its transpose,
    so we ask BLAS for C^T = op(B)^T op(A)^T: operands swapped, m and n swapped.
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef char no = b'N'
    cdef int one = 1
    if m == 1 and not trans_a and not trans_b:
        # A single row times B: y = B^T a, a gemv on B read column-major as an
        # (n x k) matrix. No packing of B, which dominates a one-row gemm.
        if floating is float:
            sgemv(&no, &n, &k, &alpha, <float*> b, &ldb, <float*> a, &one, &beta, c, &one)
        else:
            dgemv(&no, &n, &k, &alpha, <double*> b, &ldb, <double*> a, &one, &beta, c, &one)
        return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)


def gemm_twin(bint trans_a, bint trans_b, double alpha,
              const floating[:, ::1] a,   # IN  (m x k), or (k x m) if trans_a
              const floating[:, ::1] b,   # IN  (k x n), or (n x k) if trans_b
              double beta,
              floating[:, ::1] c):        # IN/OUT (m x n)
    """Test twin of :c:func:`gemm`; shapes are checked here, never in the kernel."""
    cdef int m = a.shape[1] if trans_a else a.shape[0]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    cdef int kb = b.shape[1] if trans_b else b.shape[0]
    cdef int n = b.shape[0] if trans_b else b.shape[1]
    if k != kb or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("gemm_twin: incompatible shapes")
    if m == 0 or n == 0:
        return
    with nogil:
        gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0] if k else NULL,
             a.shape[1] if a.shape[1] else 1,
             &b[0, 0] if k else NULL, b.shape[1] if b.shape[1] else 1,
             <floating> beta, &c[0, 0], c.shape[1])


def one_blas_thread_section(bint begin):
    """Python twin of one_blas_thread_begin (True) and _end (False), for the tests;
    begin returns whether there is a section to end."""
    if begin:
        return one_blas_thread_begin()
    one_blas_thread_end()
    return False
