"""The team's cost model against the machine: measured steps on 1 and 2 threads.

    python benchmarks/team_model.py [--rounds 7]

fastmlp picks a training step's team size from a cost model
(fastmlp/_engine/team_model.py): T(p) = F / (p R) + [p > 1] overhead(p). This script
measures what the model rests on, on this machine:

- the OpenMP team's own costs (step.team_overhead): opening a parallel region and one
  barrier, on 2 threads;
- the time of one training step on one thread and on a team of two, for networks and
  batch sizes from far below to far above the size where the team starts to pay,
  interleaved (1, 2, 2, 1, ...) and given as medians;

then fits R and the team's per-step overhead to the measured steps, and prints, per
configuration, the model's T(2)/T(1) beside the measured one and the team size the
model picks.
"""
import argparse
import statistics
import time

import numpy as np

from fastmlp import MLPClassifier, benchmark
from fastmlp._engine import team_model
from fastmlp._engine.config import TrainingConfig
from fastmlp._engine.engines import CythonEngine
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp._engine.state import TrainingState
from fastmlp._kernels import step

# (hidden layers, batch size): step sizes from 0.1 MFLOP to 3 GFLOP
CONFIGS = [((16,), 8), ((100,), 8), ((100,), 32), ((100,), 200), ((256, 128), 8),
           ((256, 128), 16), ((256, 128), 32), ((256, 128), 128), ((1024, 1024), 256)]
STEPS = 400          # minibatches per timing, at most
MIN_SECONDS = 0.05   # ... or fewer, for large steps


def time_steps(engine, state, X, Y, config, n_steps):
    """Seconds per full minibatch step of `engine` over n_steps steps."""
    order = np.arange(n_steps * config.batch_size, dtype=np.intp) % X.shape[0]
    start = time.perf_counter()
    engine.train_epoch(state, X, Y, None, order, config)
    return (time.perf_counter() - start) / n_steps


def measure(hidden, batch_size, rounds, X, Y):
    """Median seconds per step on 1 and on 2 threads (the team), interleaved."""
    sizes = [X.shape[1], *hidden, Y.shape[1]]
    layout = ParameterLayout(sizes)
    # Adam and relu as MLPClassifier's defaults; bound_blas: BLAS on one thread in both
    config = TrainingConfig.from_params(
        dict(MLPClassifier().get_params(), n_threads=1), "softmax", batch_size)
    engines = {p: CythonEngine(layout, config, X.dtype, n_threads=p, team_mode="always")
               for p in (1, 2)}
    rng = np.random.default_rng(0)
    state = TrainingState(glorot_uniform(layout, "relu", rng, X.dtype), "adam")
    flops = team_model.step_flops(sizes, batch_size)
    n_steps = int(max(4, min(STEPS, MIN_SECONDS * 1e11 / flops)))
    for p in (1, 2):   # warm up: caches, the team's threads
        time_steps(engines[p], state, X, Y, config, 4)
    times = {1: [], 2: []}
    for r in range(rounds):
        for p in ((1, 2) if r % 2 == 0 else (2, 1)):
            times[p].append(time_steps(engines[p], state, X, Y, config, n_steps))
    return sizes, flops, {p: statistics.median(t) for p, t in times.items()}


def fit_line(points):
    """Least squares t = F / R + a over (F, t) points: (R, a)."""
    F = np.array([f for f, _ in points])
    t = np.array([s for _, s in points])
    slope, intercept = np.polyfit(F, t, 1)
    return 1 / slope, intercept


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: two small configurations, few steps")
    args = parser.parse_args(argv)
    configs = CONFIGS[:2] if args.quick else CONFIGS
    for line in benchmark.blas_report():
        print(line)
    overheads = [step.team_overhead(2, 200 if args.quick else 20000) for _ in range(5)]
    region = statistics.median(r for r, _ in overheads)
    barrier = statistics.median(b for _, b in overheads)
    print(f"team of 2, idle: parallel region {region * 1e6:.2f} us, "
          f"barrier {barrier * 1e6:.3f} us")
    X, y, _ = benchmark.load_data(2000 if args.quick else 20000)
    X = np.ascontiguousarray(X, dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[y]
    rows = []
    for hidden, batch_size in configs:
        # the small networks on 64 of the inputs (the size of the digits data)
        data = X if len(hidden) > 1 else np.ascontiguousarray(X[:, :64])
        sizes, flops, t = measure(hidden, batch_size, args.rounds, data, Y)
        rows.append((sizes, batch_size, flops, t))
    R1, a1 = fit_line([(f, t[1]) for _, _, f, t in rows])
    R2, a2 = fit_line([(f, t[2]) for _, _, f, t in rows])
    print(f"fitted: one thread {R1 / 1e9:.0f} GFLOP/s + {a1 * 1e6:.1f} us a step; "
          f"team of two {R2 / 1e9:.0f} GFLOP/s + {a2 * 1e6:.1f} us a step")
    barriers = team_model.step_barriers([784, 256, 128, 10])
    print(f"model: R = {team_model.CORE_FLOPS[4] / 1e9:.0f} GFLOP/s, "
          f"{team_model.PARAMETER_SECONDS[4] * 1e9:.1f} ns a parameter, synchronising "
          f"2 threads {team_model.sync_seconds(2, barriers) * 1e6:.1f} us at {barriers} "
          f"barriers, {team_model.ROW_UNIT_SECONDS[4] * 1e9:.1f} ns a row and hidden unit")
    print(f"{'network/batch':>22} {'MFLOP':>8} {'1 thread us':>11} {'model us':>8} "
          f"{'2 threads us':>12} {'measured 2/1':>12} {'model 2/1':>9} "
          f"{'model team (2, 8, 64 cores)':>28}")
    for sizes, batch_size, flops, t in rows:
        model = (team_model.step_seconds(sizes, batch_size, 2)
                 / team_model.step_seconds(sizes, batch_size, 1))
        teams = [team_model.best_team(sizes, batch_size, n) for n in (2, 8, 64)]
        name = "-".join(map(str, sizes)) + f"/{batch_size}"
        print(f"{name:>22} {flops / 1e6:8.2f} {t[1] * 1e6:11.1f} "
              f"{team_model.step_seconds(sizes, batch_size, 1) * 1e6:8.1f} "
              f"{t[2] * 1e6:12.1f} {t[2] / t[1]:12.2f} {model:9.2f} {str(teams):>28}")


if __name__ == "__main__":
    main()
