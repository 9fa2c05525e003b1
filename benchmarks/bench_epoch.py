"""Time one training epoch of the Cython engine and of the NumPy reference, interleaved.

    python benchmarks/bench_epoch.py            # Fashion-MNIST, 784-256-128-10, batch 128
    python benchmarks/bench_epoch.py --help

Each round times one epoch of each engine (the order alternates between rounds),
each from a fresh model on the same data, and the report gives the median epoch
time of each engine and the median of the per-round ratios. The BLAS libraries,
their kernels and thread counts are printed first (threadpoolctl).
"""
import argparse
import json
import os
import statistics
import time

import numpy as np

from fastmlp import MLPClassifier

ENGINES = ("cython", "numpy")


def blas_report():
    """One line per BLAS library loaded: its API, version, kernel and threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl is not installed: BLAS kernel and threads unknown"]
    import scipy.linalg  # noqa: F401  (load scipy's BLAS, which the kernels call)
    return [f"{i['internal_api']} {i.get('version')} kernel={i.get('architecture')} "
            f"threads={i['num_threads']} ({i['filepath'].rsplit('/', 1)[-1]})"
            for i in threadpool_info() if i["user_api"] == "blas"]


def load_data(n_samples, dtype):
    """Fashion-MNIST's training images when installed, else synthetic data of that shape."""
    try:
        from fastmlp.datasets import load_fashion_mnist
        X, y, _, _ = load_fashion_mnist()
        source = "Fashion-MNIST"
    except (FileNotFoundError, ImportError):
        rng = np.random.RandomState(0)
        X = rng.rand(60000, 784).astype(np.float32)
        y = rng.randint(10, size=60000)
        source = "synthetic (Fashion-MNIST not installed)"
    return X[:n_samples].astype(dtype), y[:n_samples], source


def epoch_seconds(engine, X, y, hidden, batch_size, seed):
    """Wall time of one epoch, the model set up (and its buffers allocated) beforehand."""
    model = MLPClassifier(hidden, batch_size=batch_size, random_state=seed, engine=engine)
    Y, out_activation, _ = model._encode_targets(y, X.dtype, True, False, None)
    training = model._start_training(X, Y, hidden, out_activation)
    start = time.perf_counter()
    model._run_epoch(training, X, Y)
    return time.perf_counter() - start


def run(samples=60000, hidden=(256, 128), batch_size=128, rounds=5, dtype="float32",
        threads=None):
    X, y, source = load_data(samples, np.dtype(dtype))
    if threads is not None:   # both engines and both BLAS libraries on `threads` threads
        from threadpoolctl import threadpool_limits
        os.environ["OMP_NUM_THREADS"] = str(threads)
        limits = threadpool_limits(threads)   # noqa: F841 (kept for the whole run)
    times = {engine: [] for engine in ENGINES}
    ratios = []
    epoch_seconds("cython", X[:batch_size * 4], y[:batch_size * 4], hidden, batch_size, 0)
    for round_ in range(rounds):
        order = ENGINES if round_ % 2 == 0 else ENGINES[::-1]
        for engine in order:
            times[engine].append(epoch_seconds(engine, X, y, hidden, batch_size, round_))
        ratios.append(times["cython"][-1] / times["numpy"][-1])
    return {
        "data": source, "samples": int(X.shape[0]), "dtype": str(X.dtype),
        "network": "-".join(map(str, [X.shape[1], *hidden, 10])), "batch_size": batch_size,
        "rounds": rounds, "blas": blas_report(), "threads": threads or "default",
        "median_seconds": {e: statistics.median(t) for e, t in times.items()},
        "seconds": times,
        "median_ratio_cython_to_numpy": statistics.median(ratios),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--hidden", default="256,128", help="hidden widths, comma-separated")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int,
                        help="run both engines and BLAS on this many threads (threadpoolctl)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    result = run(args.samples, hidden, args.batch_size, args.rounds, args.dtype, args.threads)
    for line in result["blas"]:
        print("BLAS:", line)
    print(f"{result['data']}, {result['samples']} samples, {result['dtype']}, network "
          f"{result['network']}, adam, batch {result['batch_size']}, {args.rounds} rounds, "
          f"threads: {result['threads']}")
    for engine in ENGINES:
        runs = " ".join(f"{t:.3f}" for t in result["seconds"][engine])
        print(f"  {engine:>6}: median {result['median_seconds'][engine]:.3f} s/epoch  ({runs})")
    print(f"  Cython / NumPy epoch time, median of per-round ratios: "
          f"{result['median_ratio_cython_to_numpy']:.3f} "
          f"(speed-up {1 / result['median_ratio_cython_to_numpy']:.1f}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
