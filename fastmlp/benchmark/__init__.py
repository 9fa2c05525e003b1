"""fastmlp's benchmark: every contender interleaved, each as a ratio to the gemm-only bound.

Run it as ``fastmlp bench`` or ``python benchmarks/compare.py``. For each
configuration (network, batch size, dtype), each round times one training epoch
of every contender, in an order that alternates between rounds, and the report
gives per contender the median seconds per epoch, the median of its per-round
ratios to the gemm-only bound, and fastmlp's median per-round speed-up over it.

Contenders:

* ``gemm-only bound``: the matrix products of one epoch alone, through scipy's BLAS
  (fastmlp/benchmark/gemm_bound.pyx), its own threading;
* ``fastmlp``: one epoch of the Cython engine (state and buffers set up beforehand);
* ``fastmlp numpy reference``: one epoch of fastmlp.reference, the same way;
* ``scikit-learn`` (if installed): MLPClassifier.partial_fit, one epoch per call
  (its per-call input validation included);
* ``pytorch`` (if installed): nn.Sequential + Adam + CrossEntropyLoss, one pass of
  shuffled minibatches.

It also measures single-row and 10,000-row predict latency, the peak memory of a
fit (in a child process), and names the BLAS libraries, their kernels and threads.
"""
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from fastmlp import MLPClassifier
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp.benchmark import gemm_bound

FULL_CONFIGS = [((256, 128), 32, "float32"), ((256, 128), 128, "float32"),
                ((256, 128), 128, "float64"), ((1024, 1024), 256, "float32")]


@dataclass
class Config:
    hidden: tuple
    batch_size: int
    dtype: str

    def name(self, n_features, n_classes):
        widths = "-".join(map(str, (n_features, *self.hidden, n_classes)))
        return f"{widths}/{self.batch_size} {self.dtype}"


# --- environment --------------------------------------------------------------------

def blas_report():
    """One line per BLAS library loaded: API, version, kernel, threads (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl is not installed: BLAS kernel and threads unknown"]
    import scipy.linalg  # noqa: F401  (scipy's BLAS, which the kernels call)
    return [f"{i['internal_api']} {i.get('version')} kernel={i.get('architecture')} "
            f"threads={i['num_threads']} ({os.path.basename(i['filepath'])})"
            for i in threadpool_info() if i["user_api"] in ("blas", "openmp")]


def load_data(n_samples=60000, n_features=784, n_classes=10):
    """Fashion-MNIST's training images when installed, else synthetic data of that shape."""
    try:
        from fastmlp.datasets import load_fashion_mnist
        X, y, _, _ = load_fashion_mnist()
        return X[:n_samples], y[:n_samples].astype(np.int64), "Fashion-MNIST"
    except (FileNotFoundError, ImportError):
        rng = np.random.RandomState(0)
        X = rng.rand(n_samples, n_features).astype(np.float32)
        return X, rng.randint(n_classes, size=n_samples), "synthetic (Fashion-MNIST missing)"


# --- contenders: each returns the seconds of one epoch --------------------------------

def gemm_only_epoch(X, y, config, n_classes):
    sizes = np.asarray([X.shape[1], *config.hidden, n_classes], dtype=np.intp)
    scratch = np.random.RandomState(0).rand(
        gemm_bound.scratch_length(sizes, config.batch_size)).astype(config.dtype) * 0.01
    start = time.perf_counter()
    gemm_bound.gemm_epoch(scratch, sizes, X.shape[0], config.batch_size)
    return time.perf_counter() - start


def _fastmlp_epoch(engine):
    def epoch(X, y, config, n_classes, **params):
        # params: other estimator parameters (benchmarks/ab.py --new-params)
        model = MLPClassifier(config.hidden, batch_size=config.batch_size, random_state=0,
                              engine=engine, **params)
        Y, out_activation, _ = model._encode_targets(y, X.dtype, True, False, None)
        layout = ParameterLayout([X.shape[1], *config.hidden, Y.shape[1]])
        rng = np.random.RandomState(0)
        params = glorot_uniform(layout, model.activation, rng, X.dtype)
        training = model._start_training(X, Y, layout, params, rng, out_activation)
        start = time.perf_counter()
        model._run_epoch(training, X, Y)
        return time.perf_counter() - start
    return epoch


def sklearn_epoch(X, y, config, n_classes):
    from sklearn.neural_network import MLPClassifier as SklearnMLP
    model = SklearnMLP(config.hidden, batch_size=config.batch_size, random_state=0)
    classes = np.arange(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X[:config.batch_size], y[:config.batch_size], classes=classes)
        start = time.perf_counter()
        model.partial_fit(X, y)
    return time.perf_counter() - start


def torch_epoch(X, y, config, n_classes):
    import torch
    torch.manual_seed(0)
    dtype = torch.float32 if config.dtype == "float32" else torch.float64
    widths = [X.shape[1], *config.hidden]
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], n_classes)).to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
    start = time.perf_counter()
    order = torch.randperm(len(inputs))
    for first in range(0, len(inputs), config.batch_size):
        rows = order[first:first + config.batch_size]
        optimizer.zero_grad()
        loss = loss_function(model(inputs[rows]), targets[rows])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def available_contenders(include_reference=True, only=None):
    """{name: epoch function} of the installed contenders (`only`: a subset of names;
    the gemm-only bound and fastmlp are always kept, every ratio needs them)."""
    contenders = {"gemm-only bound": gemm_only_epoch, "fastmlp": _fastmlp_epoch("cython")}
    if include_reference:
        contenders["fastmlp numpy reference"] = _fastmlp_epoch("numpy")
    try:
        import sklearn  # noqa: F401
        contenders["scikit-learn"] = sklearn_epoch
    except ImportError:
        pass
    try:
        import torch  # noqa: F401
        contenders["pytorch"] = torch_epoch
    except ImportError:
        pass
    if only is not None:
        unknown = set(only) - set(contenders) - {"numpy", "scikit-learn", "pytorch"}
        if unknown:
            raise ValueError(f"unknown contenders {sorted(unknown)}")
        aliases = {"numpy": "fastmlp numpy reference"}
        keep = {aliases.get(name, name) for name in only} | {"gemm-only bound", "fastmlp"}
        contenders = {name: f for name, f in contenders.items() if name in keep}
    return contenders


# --- measurements -------------------------------------------------------------------

# Pause before each timed epoch: the previous contender's idle thread pools (OpenBLAS,
# OpenMP, PyTorch's) spin for up to ~0.1 s and would take a core from the next one.
SETTLE_SECONDS = 0.5


def time_epochs(X, y, config, contenders, rounds, n_classes):
    """Interleaved epoch times: {contender: [seconds per round]}, each epoch started
    on quiet cores (SETTLE_SECONDS after the previous one)."""
    X = np.ascontiguousarray(X, dtype=config.dtype)
    names = list(contenders)
    for name in names:   # warm-up: thread pools, page faults, lazy imports
        contenders[name](X[:config.batch_size * 2], y[:config.batch_size * 2], config,
                         n_classes)
    times = {name: [] for name in names}
    for round_ in range(rounds):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            time.sleep(SETTLE_SECONDS)
            times[name].append(contenders[name](X, y, config, n_classes))
    return times


def summarize(times):
    """Median seconds, median ratio to the bound and fastmlp's median speed-up, per contender."""
    bound, ours = times["gemm-only bound"], times["fastmlp"]
    return {name: {"seconds": statistics.median(t),
                   "ratio_to_bound": statistics.median(a / b for a, b in zip(t, bound)),
                   "fastmlp_speedup": statistics.median(a / b for a, b in zip(t, ours))}
            for name, t in times.items()}


def predict_latency(X, y, repeats, batch_repeats=20):
    """Median seconds per predict_proba call, single row and 10,000 rows, per library.

    Single rows cycle through up to 1,000 different rows of X; `repeats` single-row
    and `batch_repeats` 10,000-row calls make each of the 5 timings the median is of.
    """
    from fastmlp import MLPClassifier as FastMLP
    small = np.ascontiguousarray(X[:2000])
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {"fastmlp": FastMLP((256, 128), max_iter=1, random_state=0).fit(small,
                                                                                  y[:2000])}
        try:
            from sklearn.neural_network import MLPClassifier as SklearnMLP
            models["scikit-learn"] = SklearnMLP((256, 128), max_iter=1,
                                                random_state=0).fit(small, y[:2000])
        except ImportError:
            pass
    predictors = {name: model.predict_proba for name, model in models.items()}
    try:
        import torch
        net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 256), torch.nn.ReLU(),
                                  torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                  torch.nn.Linear(128, 10), torch.nn.Softmax(dim=1))

        def torch_predict(rows):
            with torch.no_grad():
                return net(torch.from_numpy(rows)).numpy()
        predictors["pytorch"] = torch_predict
    except ImportError:
        pass
    # one row at a time, cycling through 1,000 different rows: a single repeated row
    # would flatter any data-dependent work (zero inputs, branch prediction)
    singles = [small[i:i + 1] for i in range(min(1000, len(small)))]
    many = [np.ascontiguousarray(np.resize(X, (10000, X.shape[1])))]
    for name, predict in predictors.items():
        for label, batches, count in (("1 row", singles, repeats),
                                      ("10,000 rows", many, batch_repeats)):
            predict(batches[0])
            per_call = []
            for _ in range(5):
                start = time.perf_counter()
                for i in range(count):
                    predict(batches[i % len(batches)])
                per_call.append((time.perf_counter() - start) / count)
            results.setdefault(name, {})[label] = statistics.median(per_call)
    return results


_FIT_SCRIPT = """
import gc, warnings, numpy as np
from fastmlp.benchmark import load_data, _rss
X, y, _ = load_data({samples})
X = np.ascontiguousarray(X, dtype=np.float32)
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                       # restart the peak (VmHWM) from the current RSS
before = _rss("VmRSS")
from fastmlp import MLPClassifier
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    MLPClassifier({hidden}, batch_size={batch}, max_iter=1, random_state=0).fit(X, y)
print(before, _rss("VmHWM"), X.nbytes)
"""


def _rss(field):
    """VmRSS (now) or VmHWM (peak) of this process, in bytes (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def fit_peak_memory(samples, hidden=(256, 128), batch_size=128):
    """How much a one-epoch fit raises a process's peak RSS over the loaded data, and the
    project's budget: 1.5 x (weights + optimizer state + one minibatch of
    activations). Measured in a child process (Linux: /proc/self/status)."""
    script = _FIT_SCRIPT.format(samples=samples, hidden=hidden, batch=batch_size)
    before, peak, data = map(int, subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True,
        check=True).stdout.split())
    sizes = [784, *hidden, 10]
    layout = ParameterLayout(sizes)
    weights_and_state = 3 * layout.n_params * 4           # params, Adam's m and v
    activations = batch_size * sum(sizes[1:]) * 4
    return {"rss_before_fit": before, "peak_during_fit": peak, "fit_overhead": peak - before,
            "data": data, "budget_overhead": int(1.5 * (weights_and_state + activations))}


# --- the report ---------------------------------------------------------------------

def run(configs=None, rounds=3, samples=60000, include_reference=True, latency=True,
        memory=True, predict_repeats=2000, only=None, threads=None, predict_batch_repeats=20):
    """Run the benchmark; returns a JSON-ready dict.

    threads: run every contender and every BLAS on this many threads (threadpoolctl,
    OMP_NUM_THREADS and torch.set_num_threads), for measurements a busy second core
    cannot disturb.
    """
    limits = None
    if threads is not None:
        from threadpoolctl import threadpool_limits
        os.environ["OMP_NUM_THREADS"] = str(threads)
        limits = threadpool_limits(threads)   # noqa: F841 (held for the whole run)
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            pass
    X, y, source = load_data(samples)
    n_classes = 10
    contenders = available_contenders(include_reference, only)
    result = {"data": source, "samples": int(X.shape[0]), "rounds": rounds,
              "threads": threads or "default",
              "blas": blas_report(), "contenders": list(contenders),
              "cpu_count": os.cpu_count(), "configs": {}}
    for hidden, batch_size, dtype in (configs or FULL_CONFIGS):
        config = Config(tuple(hidden), batch_size, dtype)
        times = time_epochs(X, y, config, contenders, rounds, n_classes)
        result["configs"][config.name(X.shape[1], n_classes)] = {
            "times": times, "summary": summarize(times)}
    if latency:
        result["predict_latency"] = predict_latency(X, y, predict_repeats,
                                                    predict_batch_repeats)
    if memory:
        result["memory"] = fit_peak_memory(samples)
    return result


def format_report(result):
    lines = [f"data: {result['data']}, {result['samples']} samples; "
             f"{result['rounds']} interleaved rounds; {result['cpu_count']} CPUs; "
             f"threads: {result['threads']}"]
    lines += [f"  {line}" for line in result["blas"]]
    for name, entry in result["configs"].items():
        lines.append(f"\n{name}")
        lines.append(f"  {'contender':<26}{'s/epoch':>9}{'x bound':>9}{'fastmlp speed-up':>18}")
        for contender, s in entry["summary"].items():
            speedup = "" if contender == "fastmlp" else f"{s['fastmlp_speedup']:.2f}x"
            lines.append(f"  {contender:<26}{s['seconds']:>9.3f}{s['ratio_to_bound']:>9.2f}"
                         f"{speedup:>18}")
    if result["configs"]:
        lines.append("\n(x bound: median per-round ratio to the gemm-only bound. A peer's is "
                     "also about\n the most fastmlp could gain over it while training at the "
                     "bound.)")
    if "predict_latency" in result:
        lines.append("\npredict_proba latency, median per call (784-256-128-10)")
        for name, values in result["predict_latency"].items():
            lines.append(f"  {name:<26}" + "".join(
                f"{label}: {seconds * 1e6:10.1f} us   " for label, seconds in values.items()))
    if "memory" in result:
        m = result["memory"]
        lines.append(f"\npeak memory of a one-epoch fit (784-256-128-10/128, float32): "
                     f"{m['fit_overhead'] / 2**20:.1f} MiB over the {m['data'] / 2**20:.0f} "
                     f"MiB of data already loaded (budget: "
                     f"{m['budget_overhead'] / 2**20:.1f} MiB)")
    return "\n".join(lines)


def plot(result, path):
    """A bar chart of the ratios to the gemm-only bound (needs matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    configs = list(result["configs"])
    contenders = [c for c in result["contenders"] if c != "gemm-only bound"]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(contenders), 1)
    for i, contender in enumerate(contenders):
        ratios = [result["configs"][c]["summary"][contender]["ratio_to_bound"]
                  for c in configs]
        ax.bar(np.arange(len(configs)) + i * width, ratios, width, label=contender)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks(np.arange(len(configs)) + width * (len(contenders) - 1) / 2, configs,
                  fontsize=8)
    ax.set_ylabel("epoch time / gemm-only bound")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="fastmlp bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


# --quick: a look at the benchmark in a minute or less, run()'s arguments it changes
# (the options given still win). One round of one configuration is noisy: the full
# run is what the project's figures come from.
QUICK = {"rounds": 1, "samples": 10000, "configs": [((256, 128), 128, "float32")],
         "include_reference": False, "predict_repeats": 200, "predict_batch_repeats": 2}


def _defaults(name):
    """'(default: ...; --quick: ...)' for the option of run()'s argument `name`: the
    values run() and QUICK declare, not copies of them."""
    default = inspect.signature(run).parameters[name].default
    return f"(default: {default}; --quick: {QUICK[name]})"


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="a quick look, a minute or less: "
                             f"{QUICK['samples']:,} samples, one configuration, one round, "
                             "no NumPy reference, fewer predict calls; the options given "
                             "still apply (e.g. --quick --samples 2000)")
    # rounds and samples default to None: given, they win over --quick's
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="interleaved rounds " + _defaults("rounds"))
    parser.add_argument("--samples", type=int, metavar="N",
                        help="training samples " + _defaults("samples"))
    parser.add_argument("--config", action="append", metavar="HIDDEN/BATCH/DTYPE",
                        help="e.g. 256,128/128/float32 (repeatable) (default: the four "
                             "benchmark configurations; --quick: 256,128/128/float32)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip fastmlp's NumPy reference engine (--quick skips it)")
    parser.add_argument("--only", metavar="NAMES",
                        help="comma-separated subset of numpy, scikit-learn, pytorch "
                             "(the bound and fastmlp always run) (default: all installed)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="run every contender and BLAS on N threads (threadpoolctl) "
                             "(default: each library's own)")
    parser.add_argument("--no-latency", action="store_true",
                        help="skip the predict latency measurements")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak memory of a fit (measured in a child process)")
    parser.add_argument("--json", metavar="FILE",
                        help="write the results to this JSON file (default: none)")
    parser.add_argument("--plot", metavar="FILE",
                        help="write a PNG chart here; needs matplotlib (default: none)")


def parse_config(text):
    try:
        hidden, batch, dtype = text.split("/")
        hidden = tuple(int(h) for h in hidden.split(",") if h)
        if dtype not in ("float32", "float64") or int(batch) < 1:
            raise ValueError
        return hidden, int(batch), dtype
    except ValueError:
        raise ValueError(f"--config must look like 256,128/128/float32; got {text!r}") from None


def run_settings(args):
    """run()'s arguments from the parsed options: --quick's, then the options given."""
    settings = dict(QUICK) if args.quick else {}
    given = {"rounds": args.rounds, "samples": args.samples,
             "configs": [parse_config(c) for c in args.config] if args.config else None,
             "include_reference": False if args.no_reference else None,
             "only": [name.strip() for name in args.only.split(",")] if args.only else None,
             "threads": args.threads,
             "latency": False if args.no_latency else None,
             "memory": False if args.no_memory else None}
    settings.update({name: value for name, value in given.items() if value is not None})
    return settings


def run_from_args(args):
    settings = run_settings(args)
    if args.quick:
        print("a quick run (--quick): fewer samples and rounds, so noisier figures than "
              "the full benchmark's\n", flush=True)
    result = run(**settings)
    print(format_report(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if args.plot:
        plot(result, args.plot)
    return 0
