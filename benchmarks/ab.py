"""Interleaved A/B of fastmlp's training epoch between two builds of the source tree.

    python benchmarks/ab.py OLD_TREE NEW_TREE [--config 256,128/128/float32 ...]

Shows whether a change to the kernels, the step or the threads lost or gained speed:
for each configuration, each round starts one process per tree, in an order that
alternates between rounds, and each process times one epoch of the gemm-only bound
and one epoch of fastmlp (after a warm-up). The report gives, per configuration, the
median over rounds of new/old epoch time, and of new/old ratio to each process's own
gemm-only bound (which absorbs part of the machine's swings from minute to minute).

Each tree must hold a built fastmlp (``python setup.py build_ext --inplace``), e.g.
``git worktree add ../before HEAD~1`` built in place.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

DEFAULT_CONFIGS = ["256,128/128/float32", "256,128/32/float32", "1024,1024/256/float32"]

# Run inside each tree: one epoch of the bound and of fastmlp, as JSON.
_ROUND = """
import json, sys
from fastmlp import benchmark
X, y, _ = benchmark.load_data({samples})
out = {{}}
for text in {configs!r}:
    config = benchmark.Config(*benchmark.parse_config(text))
    contenders = benchmark.available_contenders(include_reference=False, only=["numpy"])
    times = benchmark.time_epochs(X, y, config, contenders, 1, 10)
    out[text] = {{name: seconds[0] for name, seconds in times.items()}}
print(json.dumps(out))
"""


def run_round(tree, configs, samples):
    """{config: {'gemm-only bound': s, 'fastmlp': s}} of one process in `tree`."""
    script = _ROUND.format(samples=samples, configs=configs)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    done = subprocess.run([sys.executable, "-c", script], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the source tree before the change (built in place)")
    parser.add_argument("new", help="the source tree with the change (built in place)")
    parser.add_argument("--config", action="append", metavar="HIDDEN/BATCH/DTYPE",
                        help=f"repeatable (default: {', '.join(DEFAULT_CONFIGS)})")
    parser.add_argument("--rounds", type=int, default=6, help="rounds (default 6)")
    parser.add_argument("--samples", type=int, default=60000,
                        help="training samples (default 60000)")
    parser.add_argument("--json", help="also write every round's times to this file")
    args = parser.parse_args(argv)
    configs = args.config or DEFAULT_CONFIGS
    rounds = []
    for index in range(args.rounds):
        order = ("old", "new") if index % 2 == 0 else ("new", "old")
        result = {name: run_round(getattr(args, name), configs, args.samples)
                  for name in order}
        rounds.append(result)
        print(f"round {index + 1}: " + "; ".join(
            f"{c} new/old {result['new'][c]['fastmlp'] / result['old'][c]['fastmlp']:.3f}"
            for c in configs), flush=True)
    print(f"\nmedians of {args.rounds} interleaved rounds (new/old; < 1: the new code is "
          "faster)")
    print(f"  {'configuration':26s}{'epoch':>8s}{'x bound':>9s}{'old s':>8s}{'new s':>8s}")
    for c in configs:
        epoch = [r["new"][c]["fastmlp"] / r["old"][c]["fastmlp"] for r in rounds]
        bound = [(r["new"][c]["fastmlp"] / r["new"][c]["gemm-only bound"])
                 / (r["old"][c]["fastmlp"] / r["old"][c]["gemm-only bound"]) for r in rounds]
        old = statistics.median(r["old"][c]["fastmlp"] for r in rounds)
        new = statistics.median(r["new"][c]["fastmlp"] for r in rounds)
        print(f"  {c:26s}{statistics.median(epoch):8.3f}{statistics.median(bound):9.3f}"
              f"{old:8.3f}{new:8.3f}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rounds, file, indent=1)


if __name__ == "__main__":
    main()
