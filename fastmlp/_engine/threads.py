"""Who runs the threads: BLAS, or fastmlp's OpenMP workers; never both on the same work.

With several threads, fastmlp splits each minibatch (and a prediction's rows) across
its own OpenMP threads and makes every one of them call BLAS single-threaded, through
OpenBLAS's `openblas_set_num_threads_local` (OpenBLAS >= 0.3.27, what scipy's wheels
ship; in their pthreads builds the count it sets is the whole process's, which
blas.pyx's one_blas_thread_begin/end take care of). It is looked up here, in the
OpenBLAS that scipy's cython_blas calls. Where it cannot be found (another BLAS,
another platform), fastmlp runs its kernels on one thread and lets BLAS thread the
gemms.
"""
import ctypes
import os
import warnings

import scipy.linalg.cython_blas  # noqa: F401  (load scipy's BLAS before looking for it)

from fastmlp._kernels import blas, step

_SET_LOCAL = ("openblas_set_num_threads_local", "scipy_openblas_set_num_threads_local")


def _scipy_blas_libraries():
    """Paths of the loaded shared libraries that look like scipy's OpenBLAS."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    scipy_dir = os.path.dirname(os.path.dirname(os.path.dirname(scipy.linalg.__file__)))
    # scipy's wheels keep their OpenBLAS in site-packages/scipy.libs; numpy has its own
    return sorted(p for p in paths if os.path.basename(os.path.dirname(p)).startswith("scipy")
                  and os.path.dirname(os.path.dirname(p)) == scipy_dir) or sorted(paths)


def _find_set_threads_local():
    for path in _scipy_blas_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SET_LOCAL:
            function = getattr(library, name, None)
            if function is not None:
                return ctypes.cast(function, ctypes.c_void_p).value or 0
    return 0


blas.set_threads_local_function(_find_set_threads_local())


def available_cores():
    """Cores this process may run on (honours CPU affinity and OMP_NUM_THREADS)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(cores, 1)


# A forked child has this process's memory but only the thread that forked: libgomp's
# pool of team threads is gone, and the child's first parallel region would wait for
# it forever. So a forked child runs every step on one thread.
_forked = False


def _note_fork():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):   # POSIX
    os.register_at_fork(after_in_child=_note_fork)


def team_limit():
    """The most threads fastmlp may run a step or a prediction on: the cores this
    process may use, within the OpenMP limit of the calling thread (OMP_NUM_THREADS, or
    threadpoolctl.threadpool_limits, as other OpenMP code obeys it), and 1 in a forked
    child."""
    if _forked:
        return 1
    return max(1, min(available_cores(), step.openmp_max_threads()))


# (asked, allowed) thread counts already warned about: once each per process
_warned = set()


def thread_count(n_threads):
    """The user's n_threads as fastmlp uses it: more threads than cores only make every
    barrier wait (and, beyond the address space, cannot even be created), so at most
    team_limit(), with a warning the first time."""
    limit = team_limit()
    if n_threads > limit and (n_threads, limit) not in _warned:
        _warned.add((n_threads, limit))
        warnings.warn(
            f"n_threads={n_threads}, but this process may run {limit} thread(s) (its "
            "cores, OMP_NUM_THREADS and threadpoolctl limits); fastmlp uses "
            f"{limit}. n_threads=None chooses by itself.", UserWarning, stacklevel=4)
    return min(n_threads, limit)


def can_bound_blas():
    """True when fastmlp can keep BLAS to a given thread count on each of its threads."""
    return blas.has_threads_local()


def kernel_threads():
    """How many threads fastmlp's kernels split a minibatch across (1: BLAS threads)."""
    return team_limit() if can_bound_blas() else 1


# A prediction of fewer rows than this per thread, by a model whose n_threads is
# None, runs on BLAS's threads as they are: split by rows, so small a gemm loses more
# than BLAS's own split gains (benchmarks/README.md, predictions on fastmlp's team).
PREDICTION_TEAM_MIN_ROWS = 50


def prediction_threads(n_threads, rows=None):
    """How many threads a prediction may share its rows among, each calling BLAS on
    one thread, for a model's n_threads (None: fastmlp's choice); 0: on the calling
    thread, BLAS threaded as it is (where BLAS cannot be held to one thread, and for a
    prediction of `rows` rows too few for the team, which wants the least latency;
    a fit's validation pass gives no rows: it never wakes BLAS's pool, whose spinning
    threads would slow the next epoch)."""
    if not can_bound_blas():
        return 0
    if n_threads is not None:
        return thread_count(n_threads)
    limit = team_limit()
    if rows is not None and rows < PREDICTION_TEAM_MIN_ROWS * limit:
        return 0
    return limit
