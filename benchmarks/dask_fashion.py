"""Data-parallel training on Fashion-MNIST: one process against fastmlp.dask on 2 workers.

    nice python benchmarks/dask_fashion.py                    # about 5 minutes
    nice python benchmarks/dask_fashion.py --single-lbfgs     # and L-BFGS in one process
    python benchmarks/dask_fashion.py --quick                 # a smoke test, seconds

A 784-256-128-10 network (relu, float32) on the 60,000 training images, standardized
(each pixel by the training set's mean and standard deviation), test accuracy on the
10,000 test images:

* ``single adam``: ``MLPClassifier`` in this process (adam, lr 1e-3, batch 128, 20
  epochs), on fastmlp's own threads (a team of 2 on 2 cores);
* ``local SGD (S steps)``: the same model and epochs with ``fastmlp.dask.fit`` on a
  ``LocalCluster`` of 2 worker processes of 1 thread, the training set in 2 chunks
  that each worker reads from disk itself (nothing goes through the client), S
  minibatch steps per shard per round;
* ``L-BFGS``: ``solver='lbfgs'``, ``max_iter`` 150, ``alpha`` 30 (full-batch L-BFGS
  overfits at the default 1e-4: its test accuracy peaks below adam's, then falls);
  with ``--single-lbfgs`` also in this process.

Seconds are the fit's (for the cluster: making the shards included; starting the
cluster and reading the data excluded); the single-process fits run first, before the
cluster exists (its nanny sets OMP_NUM_THREADS=1 in this process too). For the cluster
the fit's seconds are split into the rounds' compute (the busiest worker's, timed on
the worker), the rounds' overhead (the rest of each round: sending the weights, the
scheduler, receiving and combining the results) and the time outside the rounds
(making the shards, scipy's L-BFGS-B on the client, publishing the model).
"""
import argparse
import json
import time
import warnings

import numpy as np

from fastmlp import MLPClassifier
from fastmlp.datasets import load_fashion_mnist
from fastmlp.exceptions import ConvergenceWarning

HIDDEN = (256, 128)


def standardize(X, mean, scale):
    return ((X - mean) / scale).astype(np.float32)


def train_rows(start, stop, mean, scale):
    """Rows start:stop of the standardized training set (runs on a worker)."""
    X, y, _, _ = load_fashion_mnist()
    return standardize(X[start:stop], mean, scale), y[start:stop]


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


def summary(name, model, seconds, X_test, y_test):
    entry = {"name": name, "test_accuracy": float(np.mean(model.predict(X_test) == y_test)),
             "seconds": seconds, "n_iter": int(model.n_iter_)}
    rounds = getattr(model, "dask_rounds_", None)
    if rounds:
        compute, overhead = sum(rounds["compute_seconds"]), sum(rounds["overhead_seconds"])
        entry.update(rounds=len(rounds["wall_seconds"]), compute_seconds=compute,
                     overhead_seconds=overhead,
                     # the fit's time outside its rounds: making the shards, the
                     # client's optimizer (scipy's L-BFGS-B), publishing the model
                     outside_seconds=seconds - sum(rounds["wall_seconds"]),
                     round_ms=1e3 * float(np.median(rounds["wall_seconds"])),
                     compute_ms=1e3 * float(np.median(rounds["compute_seconds"])),
                     overhead_ms=1e3 * float(np.median(rounds["overhead_seconds"])),
                     sent_mb=rounds["sent_bytes"][0] / 1e6,
                     received_mb=rounds["received_bytes"][0] / 1e6)
    return entry


def print_table(entries, baseline):
    """Seconds of the fit: in all, and for the cluster the sums over the rounds of the
    busiest worker's compute and of the overhead, and the rest of the fit (outside
    the rounds); then the median round and the megabytes a round sent and received."""
    print(f"\n{'':22} {'test acc':>8} {'vs single':>9} {'fit s':>6} {'rounds':>6} "
          f"{'compute':>7} {'overhead':>8} {'outside':>7} | {'round ms':>8} {'compute':>7} "
          f"{'overhead':>8} | {'MB out':>6} {'MB in':>6}")
    for e in entries:
        line = (f"{e['name']:22} {e['test_accuracy']:8.4f} "
                f"{100 * (e['test_accuracy'] - baseline):+8.2f}p {e['seconds']:6.1f}")
        if "rounds" in e:
            line += (f" {e['rounds']:6d} {e['compute_seconds']:7.1f} "
                     f"{e['overhead_seconds']:8.1f} {e['outside_seconds']:7.1f} | "
                     f"{e['round_ms']:8.0f} {e['compute_ms']:7.0f} {e['overhead_ms']:8.0f} | "
                     f"{e['sent_mb']:6.2f} {e['received_mb']:6.2f}")
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps", type=int, nargs="+", default=[235, 50],
                        help="local SGD's steps_per_round, one run each (235: one local "
                             "epoch of a shard of 30,000 rows in minibatches of 128)")
    parser.add_argument("--lbfgs-iter", type=int, default=150)
    parser.add_argument("--lbfgs-alpha", type=float, default=30.0)
    parser.add_argument("--single-lbfgs", action="store_true",
                        help="also run L-BFGS in this process")
    parser.add_argument("--quick", action="store_true",
                        help="6,000 training rows, 2 epochs, 5 L-BFGS iterations")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import dask
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    import fastmlp.dask

    X_train, y_train, X_test, y_test = load_fashion_mnist()
    n_train = 6000 if args.quick else X_train.shape[0]
    if args.quick:
        args.epochs, args.lbfgs_iter, args.steps = 2, 5, [10]
    mean = X_train[:n_train].mean(axis=0)
    scale = X_train[:n_train].std(axis=0) + 0.01   # constant border pixels: no 0 division
    X_local, y_local = standardize(X_train[:n_train], mean, scale), y_train[:n_train]
    X_test = standardize(X_test, mean, scale)
    adam = dict(hidden_layer_sizes=HIDDEN, solver="adam", learning_rate_init=1e-3,
                batch_size=128, max_iter=args.epochs, random_state=0)
    lbfgs = dict(hidden_layer_sizes=HIDDEN, solver="lbfgs", max_iter=args.lbfgs_iter,
                 alpha=args.lbfgs_alpha, random_state=0)
    entries = []

    # The single-process fits first: starting a LocalCluster sets OMP_NUM_THREADS=1 in
    # this process too (the nanny does, before it spawns a worker; docs/dask.md)
    started = time.perf_counter()
    model = quiet(MLPClassifier(**adam).fit, X_local, y_local)
    entries.append(summary("single adam", model, time.perf_counter() - started, X_test,
                           y_test))
    print_table(entries[-1:], entries[0]["test_accuracy"])
    if args.single_lbfgs:
        started = time.perf_counter()
        model = quiet(MLPClassifier(**lbfgs).fit, X_local, y_local)
        entries.append(summary("single L-BFGS", model, time.perf_counter() - started,
                               X_test, y_test))
        print_table(entries[-1:], entries[0]["test_accuracy"])

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        half = n_train // 2
        parts = [dask.delayed(train_rows)(start, start + half, mean, scale)
                 for start in (0, half)]
        X = da.concatenate([da.from_delayed(p[0], (half, 784), np.float32) for p in parts])
        y = da.concatenate([da.from_delayed(p[1], (half,), y_train.dtype) for p in parts])
        X, y = client.persist([X, y])   # read on the workers, before any timing
        wait([X, y])
        for steps in args.steps:
            started = time.perf_counter()
            model = fastmlp.dask.fit(MLPClassifier(**adam), X, y, client=client,
                                     steps_per_round=steps)
            entries.append(summary(f"local SGD ({steps} steps)", model,
                                   time.perf_counter() - started, X_test, y_test))
            print_table(entries[-1:], entries[0]["test_accuracy"])
        started = time.perf_counter()
        model = quiet(fastmlp.dask.fit, MLPClassifier(**lbfgs), X, y, client=client)
        entries.append(summary("L-BFGS (2 workers)", model, time.perf_counter() - started,
                               X_test, y_test))
        print_table(entries[-1:], entries[0]["test_accuracy"])

    print_table(entries, entries[0]["test_accuracy"])
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"args": vars(args), "results": entries}, file, indent=1)


if __name__ == "__main__":
    main()
