"""Time to accuracy on Fashion-MNIST: fastmlp against a plain PyTorch training loop.

    python benchmarks/time_to_accuracy.py                     # 1 round, about 4 minutes
    python benchmarks/time_to_accuracy.py --rounds 3 --json t.json
    python benchmarks/time_to_accuracy.py --quick             # a smoke test, seconds

Per epoch, each contender's test accuracy on the 10,000 test images (evaluated
outside the timer) against its training seconds so far:

* ``pytorch``: nn.Sequential 784-256-128-10 (relu), Adam (lr 1e-3), cross-entropy,
  batch 128, shuffled, float32, 20 epochs, PyTorch's own thread count;
* ``fastmlp adam``: the very same recipe in fastmlp (its default thread choice);
* ``fastmlp recipe``: the recipe fastmlp documents for Fashion-MNIST
  (``fastmlp.recipes.RECIPES['fashion-mnist']``, ``fastmlp train --recipe
  fashion-mnist``).

The report gives PyTorch's best test accuracy over its epochs, the training seconds
each contender needed to first reach it (``-`` if it never did), fastmlp's time as a
ratio of PyTorch's, and the first epoch (and seconds) at which the recipe reached
0.90. Rounds interleave the contenders (their order rotates); ratios are medians of
per-round ratios. Training seconds count every step and the epoch's bookkeeping,
and for fastmlp the fit's set-up (checks, initial weights) too.
"""
import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np

from fastmlp import MLPClassifier
from fastmlp.benchmark import blas_report
from fastmlp.datasets import load_fashion_mnist
from fastmlp.exceptions import ConvergenceWarning
from fastmlp.recipes import RECIPES

TARGET = 0.90
TORCH_EPOCHS = 20
QUICK_ROWS, QUICK_EPOCHS = 3000, 3


def torch_curve(X, y, X_test, y_test, epochs, seed):
    """[(training seconds so far, test accuracy)] after each epoch of the PyTorch loop."""
    import torch
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    test_inputs = torch.from_numpy(X_test)
    curve, seconds = [], 0.0
    for _ in range(epochs):
        started = time.perf_counter()
        net.train()
        order = torch.randperm(len(inputs))
        for first in range(0, len(inputs), 128):
            rows = order[first:first + 128]
            optimizer.zero_grad()
            loss = loss_function(net(inputs[rows]), targets[rows])
            loss.backward()
            optimizer.step()
        seconds += time.perf_counter() - started
        net.eval()
        with torch.no_grad():
            predicted = net(test_inputs).argmax(1).numpy()
        curve.append((seconds, float(np.mean(predicted == y_test))))
    return curve


class TestAccuracy:
    """A fit callback: after each epoch, the training seconds so far (the fit's time
    less this callback's own) and the test accuracy."""

    def __init__(self, X_test, y_test):
        self.X_test, self.y_test = X_test, y_test
        self.curve, self.own_seconds, self.started = [], 0.0, None

    def __call__(self, model, metrics):
        entered = time.perf_counter()
        accuracy = float(np.mean(model.predict(self.X_test) == self.y_test))
        self.curve.append((entered - self.started - self.own_seconds, accuracy))
        self.own_seconds += time.perf_counter() - entered


def fastmlp_curve(X, y, X_test, y_test, params, seed):
    """[(training seconds so far, test accuracy)] after each epoch of a fastmlp fit."""
    recorder = TestAccuracy(X_test, y_test)
    model = MLPClassifier(**params, random_state=seed, callbacks=[recorder])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # fixed epochs, on purpose
        recorder.started = time.perf_counter()
        model.fit(X, y)
    return recorder.curve


def torch_like_params(epochs):
    """fastmlp's parameters for the PyTorch loop's recipe."""
    return dict(hidden_layer_sizes=(256, 128), solver="adam", learning_rate_init=1e-3,
                batch_size=128, alpha=0.0, max_iter=epochs, tol=0.0,
                n_iter_no_change=epochs)


def first_reaching(curve, accuracy):
    """(epoch, seconds) of the first epoch at or above accuracy, or None."""
    for epoch, (seconds, reached) in enumerate(curve, 1):
        if reached >= accuracy:
            return epoch, seconds
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1,
                        help="interleaved rounds of the three contenders (default 1)")
    parser.add_argument("--recipe", default="fashion-mnist", choices=sorted(RECIPES),
                        help="fastmlp's recipe (default fashion-mnist)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ROWS} training rows and {QUICK_EPOCHS} epochs each: "
                             "a smoke test of the script")
    parser.add_argument("--json", metavar="PATH", help="also write the curves here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        import torch
    except ImportError:
        torch = None   # fastmlp's curves only
    X, y, X_test, y_test = load_fashion_mnist()
    torch_epochs = TORCH_EPOCHS
    recipe = dict(RECIPES[args.recipe])
    if args.quick:
        X, y = X[:QUICK_ROWS], y[:QUICK_ROWS]
        torch_epochs = QUICK_EPOCHS
        recipe["max_iter"] = QUICK_EPOCHS
    print(blas_report())
    print((f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
           else "torch: not installed, fastmlp's curves only")
          + f"; {len(y):,} training and {len(y_test):,} test images; recipe "
          f"{args.recipe}: {recipe}", flush=True)
    contenders = {
        "pytorch": lambda seed: torch_curve(X, y, X_test, y_test, torch_epochs, seed),
        "fastmlp adam": lambda seed: fastmlp_curve(X, y, X_test, y_test,
                                                   torch_like_params(torch_epochs), seed),
        "fastmlp recipe": lambda seed: fastmlp_curve(X, y, X_test, y_test, recipe, seed),
    }
    if torch is None:
        del contenders["pytorch"]
    names = list(contenders)
    curves = {name: [] for name in names}
    for index in range(args.rounds):
        for name in names[index % len(names):] + names[:index % len(names)]:
            curves[name].append(contenders[name](index))
            seconds, accuracy = curves[name][-1][-1]
            print(f"  [round {index + 1}/{args.rounds}] {name}: {len(curves[name][-1])} "
                  f"epochs, {seconds:.1f} s, final test accuracy {accuracy:.4f}", flush=True)
    report(curves, args.rounds)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"recipe": recipe, "curves": curves}, file, indent=1)
    return 0


def report(curves, rounds):
    """Print each curve, PyTorch's best accuracy and the time each contender took to
    reach it (when PyTorch ran), and when each reached TARGET."""
    print("\ntest accuracy after each epoch (training seconds so far), round 1:")
    for name, per_round in curves.items():
        points = "  ".join(f"{acc:.4f} ({sec:.1f}s)" for sec, acc in per_round[0])
        print(f"  {name}: {points}")
    with_torch = "pytorch" in curves
    header = f"\n{'contender':<16}"
    if with_torch:
        header += f"{'reaches pytorch best':>22}{'x pytorch time':>16}"
    print(header + f"{'reaches ' + format(TARGET, '.2f'):>18}")
    for name in curves:
        row = f"{name:<16}"
        if with_torch:
            hits, ratios = [], []
            for index in range(rounds):
                best = max(acc for _, acc in curves["pytorch"][index])
                torch_seconds = first_reaching(curves["pytorch"][index], best)[1]
                hit = first_reaching(curves[name][index], best)
                if hit is not None:
                    hits.append(hit)
                    ratios.append(hit[1] / torch_seconds)
            at = (f"epoch {hits[0][0]}, {statistics.median(h[1] for h in hits):.1f} s"
                  if hits else "-")
            row += f"{at:>22}{format(statistics.median(ratios), '.2f') if ratios else '-':>16}"
        targets = [first_reaching(curves[name][index], TARGET) for index in range(rounds)]
        target = ("-" if None in targets else f"epoch {targets[0][0]}, "
                  f"{statistics.median(h[1] for h in targets):.1f} s")
        print(row + f"{target:>18}")
    if with_torch:
        best = statistics.median(max(acc for _, acc in c) for c in curves["pytorch"])
        print(f"\npytorch's best test accuracy: {best:.4f} (median over rounds); ratios are "
              f"medians of per-round ratios of training seconds, {rounds} round(s)")


if __name__ == "__main__":
    sys.exit(main())
