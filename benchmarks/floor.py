"""How fast could any epoch of this design be? The gemm-only bound plus Adam alone.

Every training step must run the layer gemms (the gemm-only bound) and one Adam
pass that reads p, g, m, v and writes p, m, v for every parameter. This script
times both alone, interleaved with a fastmlp epoch and the PyTorch loop, and
prints the floor (bound + Adam pass on 2 threads, assumed to scale perfectly:
an optimistic floor) next to the project's speed targets over PyTorch: a target
that needs fastmlp below the floor cannot be met by this design.

    OPENBLAS_CORETYPE=Haswell python benchmarks/floor.py --config 256,128/128/float32
"""
import argparse
import json
import statistics
import time

import numpy as np

from fastmlp import benchmark
from fastmlp._engine.layout import staggered_empty
from fastmlp._engine.registry import OPTIMIZERS
from fastmlp._kernels.optimizers import update_twin


def adam_epoch(n_params, n_steps, dtype):
    """Seconds of n_steps single-threaded Adam passes over n_params parameters, the
    arrays placed as the engine places them (staggered page offsets)."""
    rng = np.random.RandomState(0)
    params, grads, m, v = (staggered_empty(n_params, dtype, slot) for slot in range(4))
    params[:], grads[:] = rng.rand(n_params), rng.rand(n_params)
    m[:], v[:] = 0, 0
    start = time.perf_counter()
    adam = OPTIMIZERS["adam"].code
    for t in range(1, n_steps + 1):
        update_twin(adam, params, grads, [m, v], True, 1e-4, 1e-3, [0.9, 0.999, 1e-8], t)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="256,128/128/float32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--json", help="also write the medians (seconds) to this file")
    args = parser.parse_args(argv)
    config = benchmark.Config(*benchmark.parse_config(args.config))
    X, y, source = benchmark.load_data(args.samples)
    X = np.ascontiguousarray(X, dtype=config.dtype)
    n_classes = int(y.max()) + 1
    widths = [X.shape[1], *config.hidden, n_classes]
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    n_steps = -(-len(X) // config.batch_size)
    contenders = {"gemm-only bound": benchmark.gemm_only_epoch,
                  "adam pass, 1 thread": lambda *_: adam_epoch(n_params, n_steps, config.dtype),
                  "fastmlp": benchmark.available_contenders(False)["fastmlp"]}
    try:
        import torch  # noqa: F401
        contenders["pytorch"] = benchmark.torch_epoch
    except ImportError:
        pass
    times = benchmark.time_epochs(X, y, config, contenders, args.rounds, n_classes)
    median = {name: statistics.median(t) for name, t in times.items()}
    floor = [g + a / 2 for g, a in zip(times["gemm-only bound"], times["adam pass, 1 thread"])]
    print(f"{args.config}: {source}, {n_params} parameters, {n_steps} steps, "
          f"{args.rounds} interleaved rounds (medians)")
    for name, seconds in median.items():
        print(f"  {name:22s} {seconds:8.4g} s")
    median["floor (bound + adam/2)"] = statistics.median(floor)
    print(f"  {'floor (bound + adam/2)':22s} {median['floor (bound + adam/2)']:8.4g} s")
    if "pytorch" in times:
        for target in (1.3, 2.0, 2.5):
            needed = [t / target for t in times["pytorch"]]
            print(f"  {target}x over PyTorch needs an epoch of "
                  f"{statistics.median(needed):.3f} s: "
                  f"{statistics.median(n / f for n, f in zip(needed, floor)):.2f}x the floor")
        speedups = [p / f for p, f in zip(times["pytorch"], times["fastmlp"])]
        print(f"  fastmlp's speed-up over PyTorch: {statistics.median(speedups):.2f}x")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(median, file, indent=1)


if __name__ == "__main__":
    main()
