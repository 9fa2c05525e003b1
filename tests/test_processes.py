"""fastmlp in processes: a forked child after a team-trained fit, a tight address-space
limit, Ctrl-C during a long fit and a long predict. Each scenario runs in a child Python
process with a deadline, so that a hang or a crash fails the test instead of the test
run."""
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

import fastmlp
from fastmlp._engine import threads

# The child runs the installed fastmlp, as the tests do.
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [os.path.dirname(os.path.dirname(fastmlp.__file__)), os.environ.get("PYTHONPATH", "")]))
DEADLINE = 120   # seconds; each scenario takes a few


def run_python(code):
    """Run `code` in a fresh Python; its CompletedProcess (a hang fails the test). The
    child starts in a scratch folder: `python -c` puts its folder first on sys.path,
    where the repository's fastmlp (its source, without the built extensions) would
    hide the installed one."""
    try:
        with tempfile.TemporaryDirectory() as folder:
            return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=ENV,
                                  cwd=folder, capture_output=True, text=True,
                                  timeout=DEADLINE)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the child hung; it printed:\n{expired.stdout}\n{expired.stderr}")


TEAM_FIT = """
    import os, warnings
    import numpy as np
    from fastmlp import MLPClassifier
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 64)).astype(np.float32)
    y = rng.integers(0, 3, 2000)
    def fit():   # a step large enough for a thread team, on two threads
        return MLPClassifier((128, 64), batch_size=128, max_iter=2, n_threads=2,
                             random_state=0).fit(X, y)
    parent = fit()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_child_forked_after_a_team_trained_fit_fits_and_predicts():
    # libgomp's team threads do not survive fork: the child's first team step waited
    # for them forever (os.fork, multiprocessing's 'fork', joblib's multiprocessing)
    done = run_python(TEAM_FIT + """
    pid = os.fork()
    if pid == 0:
        child = fit()
        os._exit(0 if child.n_iter_ == 2 and child.predict(X).shape == (2000,) else 3)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))
    """)
    assert done.returncode == 0, done.stderr
    assert "child exit 0" in done.stdout


@pytest.mark.skipif(not hasattr(os, "fork") or not threads.can_bound_blas(),
                    reason="needs os.fork and openblas_set_num_threads_local")
def test_a_child_forked_inside_a_one_blas_thread_section_gets_blas_threads_back():
    # a section begun by a thread the child does not have never ends in the child:
    # the child starts with no section, BLAS's count as it was, and a working lock
    done = run_python(TEAM_FIT + """
    from fastmlp._kernels import blas
    blas.set_threads_local(2)
    assert blas.one_blas_thread_section(True)    # begun, BLAS on one thread
    pid = os.fork()
    if pid == 0:
        count = blas.set_threads_local(2)
        child = fit()                            # its epochs begin and end sections
        again = blas.set_threads_local(2)
        os._exit(0 if (count, again, child.predict(X).shape) == (2, 2, (2000,)) else 3)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))
    blas.one_blas_thread_section(False)
    print("parent count", blas.set_threads_local(2))
    """)
    assert done.returncode == 0, done.stderr
    assert "child exit 0" in done.stdout and "parent count 2" in done.stdout, done.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_multiprocessing_fork_pool_after_a_team_trained_fit_finishes():
    done = run_python(TEAM_FIT + """
    import multiprocessing
    def work(seed):
        return fit().n_iter_
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print("pool", pool.map(work, range(2)))
    """)
    assert done.returncode == 0, done.stderr
    assert "pool [2, 2]" in done.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux applies it")
def test_a_thousand_threads_under_an_address_space_limit_fit_instead_of_exiting():
    # libgomp could not create 1000 threads' stacks in 3 GiB of address space and
    # ended the process ("Thread creation failed", status 1): threads beyond the cores
    # are not asked for any more
    done = run_python("""
    import resource, warnings
    import numpy as np
    from fastmlp import MLPClassifier
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1000, 64)), rng.integers(0, 3, 1000)
    limit = 3 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    model = MLPClassifier((64, 64), batch_size=1000, max_iter=2, n_threads=1000,
                          random_state=0).fit(X, y)
    print("fitted", model.n_iter_)
    """)
    assert done.returncode == 0, done.stderr
    assert "fitted 2" in done.stdout


def test_ctrl_c_stops_a_long_predict_between_two_chunks():
    # predict ran all its chunks without the GIL and let Ctrl-C through only at the end
    done = run_python("""
    import signal, threading, time, traceback, warnings
    import numpy as np
    from fastmlp import MLPClassifier
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    model = MLPClassifier((2048, 2048), max_iter=1, random_state=0, n_threads=1).fit(
        rng.normal(size=(100, 256)).astype(np.float32), rng.integers(0, 3, 100))
    X = rng.normal(size=(50_000, 256)).astype(np.float32)   # seconds of predict
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Timer(0.5, signal.raise_signal, (signal.SIGINT,)).start()
    try:
        model.predict_proba(X)
        print("predict finished")
    except KeyboardInterrupt as interrupt:
        print("interrupted in", traceback.extract_tb(interrupt.__traceback__)[-1].filename)
    """)
    assert done.returncode == 0, done.stderr
    # raised inside the chunk loop: a loop that did not look for signals would leave
    # it to Python code after predict's kernel returned
    assert "interrupted in" in done.stdout and "predict.pyx" in done.stdout, done.stdout


def test_ctrl_c_sent_to_the_process_stops_a_long_fit_inside_its_epoch():
    # SIGINT from outside, as a terminal sends it, once the second of 50 long epochs
    # (20,000 one-row steps, seconds each) is under way
    code = """
    import signal, traceback, warnings
    import numpy as np
    import fastmlp
    from fastmlp import MLPClassifier
    warnings.simplefilter("ignore")
    fastmlp.set_config(interrupt="raise")   # an application that must stop on Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 64)).astype(np.float32)
    y = rng.integers(0, 3, 20_000)
    def tell(model, metrics):
        print("epoch", metrics["epoch"], flush=True)
    model = MLPClassifier((256, 256), batch_size=1, max_iter=50, random_state=0,
                          callbacks=[tell])
    try:
        model.fit(X, y)
        print("fit finished")
    except KeyboardInterrupt as interrupt:
        print("interrupted in", traceback.extract_tb(interrupt.__traceback__)[-1].filename,
              "after", model.n_iter_, "epoch(s), finite:",
              all(np.isfinite(a).all() for a in model.coefs_ + model.intercepts_))
    """
    with tempfile.TemporaryDirectory() as folder:
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=ENV,
                                 cwd=folder, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = threading.Timer(DEADLINE, child.kill)   # a hang fails, not hangs
        deadline.start()
        try:
            first = child.stdout.readline()
            if first.startswith("epoch 1"):
                # epoch 2's kernel, not the Python between two epochs, should get it
                time.sleep(0.5)
                child.send_signal(signal.SIGINT)
            rest, errors = child.communicate()
        finally:
            deadline.cancel()
    assert first.startswith("epoch 1"), (first, errors)
    assert child.returncode == 0, errors
    # raised by the compiled loop inside epoch 2, with epoch 1's weights kept
    assert "interrupted in" in rest and ".pyx after 1 epoch(s), finite: True" in rest, rest


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or threads.available_cores() < 2,
                    reason="counts threads in /proc/self/task, with at least 2 cores")
def test_threadpool_limits_of_one_keeps_fit_on_one_thread():
    # threadpoolctl bounds OpenMP code everywhere else (scikit-learn, joblib's workers):
    # fastmlp's team obeys it too. Counted: the threads a fit leaves in the process (the
    # OpenMP runtime keeps its team's threads for the next parallel region).
    done = run_python("""
    import os, warnings
    import numpy as np
    from threadpoolctl import threadpool_limits
    from fastmlp import MLPClassifier
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 512)).astype(np.float32)
    y = rng.integers(0, 3, 2000)
    def fit(n_threads):   # a network whose minibatches are worth a team
        MLPClassifier((256, 128), batch_size=128, max_iter=2, random_state=0,
                      n_threads=n_threads).fit(X, y)
    def threads():
        return len(os.listdir("/proc/self/task"))
    before = threads()
    with threadpool_limits(1):
        fit(None)   # the default
        fit(2)      # and a team asked for
    limited = threads() - before
    # a team asked for (the default would leave it asleep beside a busy core)
    fit(2)
    print("new threads:", limited, threads() - before - limited)
    """)
    assert done.returncode == 0, done.stderr
    limited, free = (int(n) for n in done.stdout.split(":")[1].split())
    assert limited == 0, done.stdout
    # without the limit the team's threads appear: the count can see them
    assert free >= 1, done.stdout
