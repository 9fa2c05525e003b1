"""Does fastmlp's default thread choice hold up where users run it? Whole fits, side by side.

    python benchmarks/contention.py --rounds 3
    python benchmarks/contention.py --conditions idle,gridsearch2 --no-sklearn --json c.json
    python benchmarks/contention.py --quick --rounds 1          # a smoke test

fastmlp's default (``n_threads=None``) chooses how many threads a fit runs on,
within the cores it may use (see MLPClassifier's ``n_threads``). This script times
that choice against the two fixed ones, ``n_threads=1`` and ``n_threads=`` the cores
this process may use, under the conditions fits really run in:

* ``idle``: nothing else running;
* ``busy1``, ``busy2``: one (two) busy-looping processes hold cores;
* ``gridsearch1``, ``gridsearch2``: the fit is the estimator of a
  ``GridSearchCV(estimator, {"alpha": [1e-4, 1e-3]}, cv=2, n_jobs=1 or 2)`` (the
  default loky backend; with 2 jobs the fits run in worker processes, where joblib
  sets OMP_NUM_THREADS), and the whole search is timed, its refit included;
* ``limits1``: the fits run inside ``threadpoolctl.threadpool_limits(1)``.

Workloads, each a whole ``fit`` with a fixed number of epochs (``tol=0``,
``n_iter_no_change=max_iter``, no early stopping, ``random_state=0``, float32 data):
``digits`` (scikit-learn's digits / 16, hidden (100,), batch 'auto', 200 epochs),
``fashion-small`` (Fashion-MNIST 784-256-128-10, batch 128, 20,000 rows, 3 epochs) and
``fashion-large`` (784-1024-1024-10, batch 256, 10,000 rows, 2 epochs).

scikit-learn's MLPClassifier (``--no-sklearn`` skips it: it is the slowest) and a
PyTorch training loop (when torch is installed) run the same fits as peers.

Each round fits every contender once, in an order rotated every round (A B C D,
B C D A, ...), each fit started after a short pause so that the previous one's idle
thread pools stop spinning. Per workload and condition the report gives each
contender's median seconds, ``default/best``: the median over rounds of fastmlp's
default time over the faster of its two fixed choices in that round (rows above
FLAG_ABOVE are marked ``!``), and for each peer the median of its per-round ratio to
fastmlp's default. Only ratios within one run are comparable (see README.md).
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier as SklearnMLP
from threadpoolctl import threadpool_limits

import fastmlp
from fastmlp import MLPClassifier as FastMLP
from fastmlp.benchmark import blas_report, load_data

# A default above this many times the better fixed choice is flagged in the table.
FLAG_ABOVE = 1.15

DEFAULT, ONE_THREAD, TEAM = "fastmlp default", "fastmlp n_threads=1", "fastmlp full team"
SKLEARN, PYTORCH = "scikit-learn", "pytorch"
PEERS = (SKLEARN, PYTORCH)
SHORT = {DEFAULT: "default", ONE_THREAD: "1 thread", TEAM: "team", SKLEARN: "sklearn",
         PYTORCH: "pytorch"}

GRID = {"alpha": [1e-4, 1e-3]}


def available_cores():
    """Cores this process may run on (its CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# --- workloads ----------------------------------------------------------------------

@dataclass
class Workload:
    """One classifier fit: network, batch size, data rows and epochs."""
    name: str
    hidden: tuple
    batch_size: object   # an int or "auto"
    rows: int
    epochs: int

    def estimator_params(self):
        """The hyper-parameters every contender gets: exactly `epochs` epochs."""
        return {"hidden_layer_sizes": self.hidden, "batch_size": self.batch_size,
                "solver": "adam", "max_iter": self.epochs, "tol": 0.0,
                "n_iter_no_change": self.epochs, "early_stopping": False,
                "random_state": 0}


WORKLOADS = {
    "digits": Workload("digits", (100,), "auto", rows=1797, epochs=200),
    "fashion-small": Workload("fashion-small", (256, 128), 128, rows=20000, epochs=3),
    "fashion-large": Workload("fashion-large", (1024, 1024), 256, rows=10000, epochs=2),
}
# --quick: fits of a fraction of a second, to smoke-test the script (not the threads:
# so short a fit's ratios say little)
QUICK = {"digits": (400, 5), "fashion-small": (2000, 1), "fashion-large": (1000, 1)}


def load_workload_data(workload):
    """(X float32, y, description) for the workload, its first `rows` rows."""
    if workload.name == "digits":
        X, y = load_digits(return_X_y=True)
        X, y, source = X[:workload.rows] / 16.0, y[:workload.rows], "digits / 16"
    else:
        X, y, source = load_data(workload.rows)
    return np.ascontiguousarray(X, dtype=np.float32), np.asarray(y), source


# --- contenders: each a factory of a fresh, unfitted estimator -------------------------

class TorchMLP(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier training a PyTorch MLP as MLPClassifier does: relu,
    softmax cross-entropy, Adam, the L2 penalty 0.5 * alpha * |W|^2 / batch rows on the
    weights (not the biases), shuffled minibatches, exactly max_iter epochs. It takes
    MLPClassifier's stopping parameters and ignores them: it never stops early."""

    def __init__(self, hidden_layer_sizes=(100,), batch_size="auto", solver="adam",
                 alpha=1e-4, learning_rate_init=1e-3, max_iter=200, tol=0.0,
                 n_iter_no_change=200, early_stopping=False, random_state=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.batch_size = batch_size
        self.solver = solver
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.random_state = random_state

    def fit(self, X, y):
        import torch
        torch.manual_seed(self.random_state)
        self.classes_, targets = np.unique(y, return_inverse=True)
        inputs = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        targets = torch.from_numpy(targets.astype(np.int64))
        widths = [inputs.shape[1], *self.hidden_layer_sizes]
        layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        self.net_ = torch.nn.Sequential(*layers,
                                        torch.nn.Linear(widths[-1], len(self.classes_)))
        weights = [m.weight for m in self.net_ if isinstance(m, torch.nn.Linear)]
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate_init,
                                     betas=(0.9, 0.999), eps=1e-8)
        loss_function = torch.nn.CrossEntropyLoss()
        n = len(inputs)
        batch = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)
        for _ in range(self.max_iter):
            order = torch.randperm(n)
            for first in range(0, n, batch):
                rows = order[first:first + batch]
                optimizer.zero_grad()
                loss = loss_function(self.net_(inputs[rows]), targets[rows])
                penalty = sum((w * w).sum() for w in weights)
                loss = loss + 0.5 * self.alpha * penalty / len(rows)
                loss.backward()
                optimizer.step()
        return self

    def predict(self, X):
        import torch
        with torch.no_grad():
            logits = self.net_(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))
        return self.classes_[logits.argmax(1).numpy()]


def torch_available():
    """True when PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def make_contenders(workload, with_sklearn=True, with_torch=True):
    """{name: factory of an unfitted estimator with the workload's hyper-parameters}."""
    params = workload.estimator_params()
    team = available_cores()
    contenders = {
        DEFAULT: lambda: FastMLP(**params, n_threads=None),
        ONE_THREAD: lambda: FastMLP(**params, n_threads=1),
        TEAM: lambda: FastMLP(**params, n_threads=team),
    }
    if with_sklearn:
        contenders[SKLEARN] = lambda: SklearnMLP(**params)
    if with_torch:
        contenders[PYTORCH] = lambda: TorchMLP(**params)
    return contenders


# --- conditions -----------------------------------------------------------------------

@dataclass
class Condition:
    """What else runs while a contender fits."""
    busy: int = 0            # busy-looping processes
    n_jobs: int = 0          # > 0: time a GridSearchCV with this many jobs instead of a fit
    limit: int = 0           # > 0: fit inside threadpoolctl.threadpool_limits(limit)


CONDITIONS = {"idle": Condition(), "busy1": Condition(busy=1), "busy2": Condition(busy=2),
              "gridsearch1": Condition(n_jobs=1), "gridsearch2": Condition(n_jobs=2),
              "limits1": Condition(limit=1)}


@contextlib.contextmanager
def busy_loopers(count):
    """`count` child processes spinning on a core each, for the duration of the context;
    killed and reaped on the way out, whatever the way out."""
    loopers = []
    try:
        for _ in range(count):
            loopers.append(subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                            stdin=subprocess.DEVNULL))
        if loopers:
            time.sleep(0.5)   # let them start up and reach the loop
        yield loopers
    finally:
        for looper in loopers:
            looper.kill()
        for looper in loopers:
            looper.wait()


@contextlib.contextmanager
def in_condition(condition):
    """The condition's surroundings: busy loopers or a thread limit. (loky's workers,
    once started, wait for the next grid search without using a core.)"""
    with contextlib.ExitStack() as stack:
        stack.enter_context(busy_loopers(condition.busy))
        if condition.limit:
            # entered once for all rounds: its own cost (listing the libraries) is not timed
            stack.enter_context(threadpool_limits(condition.limit))
        yield


def grid_search(estimator, n_jobs):
    """The grid search a user would run around the estimator."""
    return GridSearchCV(estimator, GRID, cv=2, n_jobs=n_jobs)


def warm_up(contenders, X, y, condition=None, rows=1024):
    """One untimed one-epoch fit (or grid search) of every contender on a few rows:
    thread pools, page faults, lazy imports, and loky's workers started."""
    with warnings.catch_warnings():
        # a few rows may be fewer than a batch, in a fold of the grid search
        warnings.simplefilter("ignore", UserWarning)
        for factory in contenders.values():
            estimator = factory().set_params(max_iter=1, n_iter_no_change=1)
            if condition is not None and condition.n_jobs:
                grid_search(estimator, condition.n_jobs).fit(X[:rows], y[:rows])
            else:
                estimator.fit(X[:rows], y[:rows])


def time_once(factory, condition, X, y):
    """Seconds of one fit of a fresh estimator, or of one grid search around it."""
    if condition.n_jobs:
        search = grid_search(factory(), condition.n_jobs)
        start = time.perf_counter()
        search.fit(X, y)
    else:
        estimator = factory()
        start = time.perf_counter()
        estimator.fit(X, y)
    return time.perf_counter() - start


def rotated(names, index):
    """The contenders' order in round `index`: A B C D, then B C D A, ..."""
    shift = index % len(names)
    return names[shift:] + names[:shift]


def measure(label, contenders, condition, X, y, rounds, settle):
    """{"times": {contender: [seconds per round]}, "orders": [order of each round]}."""
    names = list(contenders)
    times, orders = {name: [] for name in names}, []
    with in_condition(condition):
        if condition.n_jobs:
            warm_up(contenders, X, y, condition)
        for index in range(rounds):
            orders.append(rotated(names, index))
            for name in orders[-1]:
                time.sleep(settle)   # the previous fit's idle thread pools spin for a while
                seconds = time_once(contenders[name], condition, X, y)
                times[name].append(seconds)
                progress(f"  [{label} round {index + 1}/{rounds}] {name}: {seconds:.3f} s")
    return {"times": times, "orders": orders}


def summarize(times):
    """Median seconds per contender, default/best, and each peer's ratio to the default,
    every ratio taken within a round and its median over rounds."""
    default = times[DEFAULT]
    best = [min(one, team) for one, team in zip(times[ONE_THREAD], times[TEAM])]
    summary = {"seconds": {name: statistics.median(t) for name, t in times.items()},
               "default/best": statistics.median(d / b for d, b in zip(default, best))}
    for peer in PEERS:
        if peer in times:
            summary[f"{peer}/default"] = statistics.median(
                p / d for p, d in zip(times[peer], default))
    return summary


# --- the report -----------------------------------------------------------------------

def progress(text):
    print(text, file=sys.stderr, flush=True)


def machine_facts():
    """Lines describing where the figures come from."""
    facts = [f"cores available to this process: {available_cores()} "
             f"(os.cpu_count() {os.cpu_count()})",
             f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
             f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}",
             f"fastmlp {getattr(fastmlp, '__version__', '?')}, scikit-learn "
             f"{sklearn.__version__}, numpy {np.__version__}, Python "
             f"{sys.version.split()[0]}"]
    facts += [f"  {line}" for line in blas_report()]
    return facts


def format_table(rows, contenders):
    """One line per workload x condition: median seconds, default/best, peer/default."""
    peers = [p for p in PEERS if p in contenders]
    seconds_columns = [f"{SHORT[name]} s" for name in contenders]
    ratio_columns = ["default/best"] + [f"{SHORT[p]}/default" for p in peers]
    lines = [f"{'workload':<15}{'condition':<13}"
             + "".join(f"{c:>11}" for c in seconds_columns)
             + "".join(f"{c:>17}" for c in ratio_columns)]
    for (workload, condition), summary in rows.items():
        cells = "".join(f"{summary['seconds'][name]:>11.3f}" for name in contenders)
        ratio = summary["default/best"]
        flag = " !" if ratio > FLAG_ABOVE else "  "
        cells += f"{ratio:>15.2f}{flag}"
        cells += "".join(f"{summary[f'{p}/default']:>17.2f}" for p in peers)
        lines.append(f"{workload:<15}{condition:<13}{cells}")
    lines.append(f"\n(seconds: median per fit, or per grid search; ratios: median over rounds "
                 f"of the ratio within a round.\n default/best: fastmlp's default over the "
                 f"faster of n_threads=1 and the full team; ! above {FLAG_ABOVE}.\n "
                 f"peer/default: above 1, fastmlp's default was that much faster.)")
    return "\n".join(lines)


def parse_overrides(items, option):
    """{workload: int} from repeated WORKLOAD=N options."""
    overrides = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if name not in WORKLOADS or not value.isdigit() or int(value) < 1:
            raise SystemExit(f"{option} must look like fashion-small=5000 (workloads: "
                             f"{', '.join(WORKLOADS)}); got {item!r}")
        overrides[name] = int(value)
    return overrides


def parse_list(text, known, option):
    """The comma-separated names of `text`, each one of `known`."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise SystemExit(f"{option}: unknown {unknown or text!r}; choose from "
                         f"{', '.join(known)}")
    return names


def select_workloads(args):
    """The workloads to run, with --quick, --rows and --epochs applied."""
    rows = parse_overrides(args.rows, "--rows")
    epochs = parse_overrides(args.epochs, "--epochs")
    chosen = []
    for name in parse_list(args.workloads, WORKLOADS, "--workloads"):
        base = WORKLOADS[name]
        quick_rows, quick_epochs = QUICK[name] if args.quick else (base.rows, base.epochs)
        chosen.append(Workload(name, base.hidden, base.batch_size,
                               rows=rows.get(name, quick_rows),
                               epochs=epochs.get(name, quick_epochs)))
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per workload and condition (default 3)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help=f"comma-separated subset of {', '.join(CONDITIONS)} (default all)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {', '.join(WORKLOADS)} (default all)")
    parser.add_argument("--rows", action="append", metavar="WORKLOAD=N",
                        help="training rows of a workload (repeatable)")
    parser.add_argument("--epochs", action="append", metavar="WORKLOAD=N",
                        help="epochs of a workload (repeatable)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (rows/epochs: "
                             + ", ".join(f"{k} {r}/{e}" for k, (r, e) in QUICK.items())
                             + ") and a 0.1 s pause: a smoke test of the script")
    parser.add_argument("--settle", type=float,
                        help="seconds of pause before each timed fit (default 0.5, "
                             "--quick 0.1)")
    parser.add_argument("--no-sklearn", action="store_true",
                        help="skip scikit-learn's MLPClassifier (the slowest contender)")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip the PyTorch loop even where torch is installed")
    parser.add_argument("--json", metavar="PATH",
                        help="also write every per-round time and the summaries here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    conditions = parse_list(args.conditions, CONDITIONS, "--conditions")
    workloads = select_workloads(args)
    settle = args.settle if args.settle is not None else (0.1 if args.quick else 0.5)
    with_torch = not args.no_torch and torch_available()

    facts = machine_facts()
    facts.append(f"full team: n_threads={available_cores()}; pytorch: "
                 + ("compared" if with_torch else
                    "skipped (--no-torch)" if args.no_torch else "not installed, skipped")
                 + ("; scikit-learn: skipped (--no-sklearn)" if args.no_sklearn else ""))
    print("\n".join(facts), flush=True)
    result = {"machine": facts, "rounds": args.rounds, "settle": settle,
              "conditions": conditions, "workloads": {}, "results": {}}
    rows, contenders = {}, {}
    status = 0
    try:
        with warnings.catch_warnings():
            # fixed epochs stop at max_iter on purpose; scikit-learn passes these
            # filters on to its loky workers
            warnings.simplefilter("ignore", ConvergenceWarning)
            # the full team asks for more threads than limits1 and loky's workers allow,
            # on purpose: fastmlp's note that it uses fewer is expected there
            warnings.filterwarnings("ignore", r"n_threads=\d+, but this process may run",
                                    UserWarning)
            for workload in workloads:
                X, y, source = load_workload_data(workload)
                contenders = make_contenders(workload, not args.no_sklearn, with_torch)
                result["workloads"][workload.name] = {
                    "data": source, "rows": int(X.shape[0]), "epochs": workload.epochs,
                    "params": workload.estimator_params()}
                progress(f"{workload.name}: {X.shape[0]} rows of {source}, "
                         f"{workload.epochs} epochs")
                warm_up(contenders, X, y)
                for name in conditions:
                    label = f"{workload.name} {name}"
                    progress(f" {label}")
                    measured = measure(label, contenders, CONDITIONS[name], X, y,
                                       args.rounds, settle)
                    measured["summary"] = rows[workload.name, name] = summarize(
                        measured["times"])
                    result["results"][label] = measured
    except KeyboardInterrupt:
        progress("interrupted: the table holds the workloads and conditions measured so far")
        status = 130
    if rows:
        print("\n" + format_table(rows, list(contenders)))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=1)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
