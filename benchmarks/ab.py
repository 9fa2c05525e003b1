"""Interleaved A/B of fastmlp's training epoch between two builds of the source tree.

    python benchmarks/ab.py OLD_TREE NEW_TREE [--config 256,128/128/float32 ...]

Shows whether a change to the kernels, the step or the threads lost or gained speed.
One worker process per tree loads the data once; then, for each configuration, the
two workers time one epoch each in turn (old, new, new, old, ...), each epoch
started on quiet cores. Adjacent epochs see the same phase of a noisy machine, so
the report gives, per configuration, the median of the new/old ratios of adjacent
epochs, with the median seconds of each tree, and the same for the gemm-only bound
(a control: its ratio should be about 1).

Each tree must hold a built fastmlp (``python setup.py build_ext --inplace``), e.g.
``git worktree add ../before HEAD~1`` built in place.

``--new-params clip_norm=1.0`` gives the new tree's model that estimator parameter:
with the same tree twice, it measures what a parameter costs, side by side.

``--workload`` picks what each timing is (the gemm-only bound's epoch stays the
control): ``epoch``, one training epoch; ``validated-fit``, the mean epoch of a
4-epoch fit with early stopping, which scores its validation data between epochs
(what a fit does besides the training epoch, and how the next epoch starts after it);
``predict``, one ``predict_proba`` of ``--rows`` rows by a model trained for one epoch
(``workloads.predict_seconds``: the median of 7 timings of about 20 ms of calls).
"""
import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import time

DEFAULT_CONFIGS = ["256,128/128/float32", "256,128/32/float32", "1024,1024/256/float32"]
CONTENDERS = ("fastmlp", "gemm-only bound")
WORKLOADS = ("epoch", "validated-fit", "predict")
BENCHMARKS = os.path.dirname(os.path.abspath(__file__))   # workloads.py, for the workers

# A worker: loads the data, then times one epoch per request line
# ("<contender>|<config>|<fastmlp's parameters as JSON>"), answering with the seconds.
_WORKER = """
import json
import sys
from fastmlp import benchmark
sys.path.append({benchmarks!r})
import workloads
X, y, _ = benchmark.load_data({samples})
epochs = benchmark.available_contenders(include_reference=False, only=["numpy"])
import numpy as np
for line in sys.stdin:
    name, text, params = line.rstrip("\\n").split("|")
    params = json.loads(params)
    config = benchmark.Config(*benchmark.parse_config(text))
    data = np.ascontiguousarray(X, dtype=config.dtype)
    if name == "warm-up":
        for epoch in epochs.values():
            epoch(data[:2 * config.batch_size], y[:2 * config.batch_size], config, 10)
        print(0.0, flush=True)
    elif name == "validated-fit":
        print(workloads.validated_fit_epoch(data, y, config, **params), flush=True)
    elif name.startswith("predict-"):
        print(workloads.predict_seconds(data, y, config, int(name[8:]), **params),
              flush=True)
    else:
        print(epochs[name](data, y, config, 10, **(params if name == "fastmlp" else {{}})),
              flush=True)
"""


class Worker:
    """A Python process running fastmlp from `tree`."""

    def __init__(self, tree, samples, params=None):
        self.params = json.dumps(params or {})
        env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
        source = _WORKER.format(samples=samples, benchmarks=BENCHMARKS)
        self.process = subprocess.Popen(
            [sys.executable, "-c", source], cwd=tree, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def time(self, name, config):
        self.process.stdin.write(f"{name}|{config}|{self.params}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the source tree before the change (built in place)")
    parser.add_argument("new", help="the source tree with the change (built in place)")
    parser.add_argument("--config", action="append", metavar="HIDDEN/BATCH/DTYPE",
                        help=f"repeatable (default: {', '.join(DEFAULT_CONFIGS)})")
    parser.add_argument("--rounds", type=int, default=10,
                        help="epochs of each tree per configuration (default 10)")
    parser.add_argument("--samples", type=int, default=60000,
                        help="training samples (default 60000)")
    parser.add_argument("--settle", type=float, default=0.5,
                        help="seconds of quiet before each epoch (default 0.5)")
    parser.add_argument("--new-params", nargs="*", default=[], metavar="NAME=VALUE",
                        help="estimator parameters of the new tree's model only")
    parser.add_argument("--workload", choices=WORKLOADS, default="epoch",
                        help="what is timed (default epoch; see the module's help)")
    parser.add_argument("--rows", type=int, default=2000,
                        help="rows of each prediction of --workload predict (default 2000)")
    parser.add_argument("--json", help="also write every epoch's seconds to this file")
    args = parser.parse_args(argv)
    new_params = {}
    for item in args.new_params:
        name, _, value = item.partition("=")
        new_params[name] = ast.literal_eval(value)
    workers = {"old": Worker(args.old, args.samples),
               "new": Worker(args.new, args.samples, new_params)}
    timed = {"epoch": "fastmlp", "validated-fit": "validated-fit",
             "predict": f"predict-{args.rows}"}[args.workload]
    results = {}
    try:
        for config in args.config or DEFAULT_CONFIGS:
            for worker in workers.values():
                worker.time("warm-up", config)
            times = {name: {tree: [] for tree in workers} for name in CONTENDERS}
            for index in range(args.rounds):
                order = ("old", "new") if index % 2 == 0 else ("new", "old")
                for name in CONTENDERS:
                    for tree in order:
                        time.sleep(args.settle)
                        request = timed if name == "fastmlp" else name
                        times[name][tree].append(workers[tree].time(request, config))
            results[config] = times
            ratios = {name: [n / o for n, o in zip(times[name]["new"], times[name]["old"])]
                      for name in CONTENDERS}
            print(f"{config}: new/old median {statistics.median(ratios['fastmlp']):.3f} "
                  f"(old {statistics.median(times['fastmlp']['old']):.3f} s, new "
                  f"{statistics.median(times['fastmlp']['new']):.3f} s); the bound's "
                  f"new/old {statistics.median(ratios['gemm-only bound']):.3f}", flush=True)
            print("  per round: " + " ".join(f"{r:.3f}" for r in ratios["fastmlp"]))
    finally:
        for worker in workers.values():
            worker.close()
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
