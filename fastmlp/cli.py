"""The ``fastmlp`` command line (also ``python -m fastmlp``)."""
import argparse
import sys
import time
import warnings

import numpy as np


def _demo(args):
    """Train on synthetic handwritten digits with both engines; print accuracy and speed-up."""
    from fastmlp import MLPClassifier
    from fastmlp.datasets import make_digits

    X, y = make_digits(args.samples + args.test_samples, random_state=args.seed)
    X_train, y_train = X[:args.samples], y[:args.samples]
    X_test, y_test = X[args.samples:], y[args.samples:]
    print(f"fastmlp demo: {args.samples} training and {args.test_samples} test digits "
          f"(28x28, float32), network 784-256-128-10, adam, batch 128, {args.epochs} epochs")
    seconds = {}
    for engine in ("cython", "numpy"):
        model = MLPClassifier((256, 128), batch_size=128, max_iter=args.epochs,
                              random_state=args.seed, engine=engine)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # max_iter reached is expected here
            model.fit(X_train, y_train)
        seconds[engine] = time.perf_counter() - start
        accuracy = model.score(X_test, y_test)
        print(f"  {engine:>6} engine: {seconds[engine]:6.2f} s "
              f"({seconds[engine] / args.epochs:.3f} s/epoch), final loss "
              f"{model.loss_:.4f}, test accuracy {accuracy:.4f}")
    print(f"speed-up of the Cython engine over the NumPy reference: "
          f"{seconds['numpy'] / seconds['cython']:.1f}x")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastmlp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help=_demo.__doc__, description=_demo.__doc__)
    demo.add_argument("--samples", type=int, default=20000, help="training digits")
    demo.add_argument("--test-samples", type=int, default=5000, help="test digits")
    demo.add_argument("--epochs", type=int, default=10)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as error:
        print(f"fastmlp {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
