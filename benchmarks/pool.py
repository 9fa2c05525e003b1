"""Pool several runs of ``fastmlp bench --json``: the project's speed targets, run
by run and over all their rounds.

One run's medians swing with the machine (see the README), so this script reads the
per-round times of several runs and prints, for each target, every run's median, the
median over all rounds pooled, and in how many rounds the target was met. For the
speed-up targets it also counts the rounds in which the target was out of reach of any
epoch at the gemm-only bound: there the peer itself took less than target x the bound.

    python benchmarks/pool.py run_j.json run_k.json run_l.json
"""
import argparse
import json
import os
import statistics

SMALL_32 = "784-256-128-10/32 float32"
SMALL_128 = "784-256-128-10/128 float32"
LARGE = "784-1024-1024-10/256 float32"

# The least speed-up of fastmlp over a peer, per configuration.
SPEEDUP_TARGETS = [(SMALL_32, "scikit-learn", 3.0), (SMALL_32, "pytorch", 2.5),
                   (SMALL_128, "scikit-learn", 2.5), (SMALL_128, "pytorch", 2.0),
                   (LARGE, "scikit-learn", 1.4), (LARGE, "pytorch", 1.3)]
# The most time fastmlp's epoch may take, as a multiple of the gemm-only bound.
BOUND_TARGETS = [(SMALL_128, 1.4), (LARGE, 1.25)]

BOUND, OURS = "gemm-only bound", "fastmlp"


def per_round(run, config, contender):
    """Per-round (fastmlp speed-up over contender, contender's ratio to the bound,
    fastmlp's ratio to the bound); [] when the run lacks them."""
    times = run["configs"].get(config, {}).get("times", {})
    if not {BOUND, OURS, contender} <= set(times):
        return []
    return [(peer / ours, peer / bound, ours / bound)
            for bound, ours, peer in zip(times[BOUND], times[OURS], times[contender])]


def pool(runs):
    """{target label: {"runs": [per-run median or None], "pooled": median over all
    rounds, "met": rounds meeting the target, "rounds": rounds, "unreachable": rounds
    in which a peer took less than target x the bound}} for every target."""
    report = {}
    for config, contender, target in SPEEDUP_TARGETS:
        rounds = [per_round(run, config, contender) for run in runs]
        report[f"{config}: {target}x over {contender}"] = _entry(
            [[speedup for speedup, _, _ in r] for r in rounds], target, at_least=True,
            unreachable=sum(peer < target for r in rounds for _, peer, _ in r))
    for config, target in BOUND_TARGETS:
        rounds = [per_round(run, config, BOUND) for run in runs]
        report[f"{config}: at most {target}x the bound"] = _entry(
            [[ours for _, _, ours in r] for r in rounds], target, at_least=False)
    return report


def _entry(values_per_run, target, at_least, unreachable=None):
    pooled = [v for values in values_per_run for v in values]
    met = sum(v >= target if at_least else v <= target for v in pooled)
    entry = {"runs": [statistics.median(v) if v else None for v in values_per_run],
             "pooled": statistics.median(pooled) if pooled else None,
             "met": met, "rounds": len(pooled)}
    if unreachable is not None:
        entry["unreachable"] = unreachable
    return entry


def format_report(names, report):
    lines = ["target".ljust(54) + "".join(f"{n:>8}" for n in names) + "  pooled  rounds met"]
    for label, e in report.items():
        cells = "".join(f"{v:8.2f}" if v is not None else f"{'-':>8}" for v in e["runs"])
        pooled = f"{e['pooled']:8.2f}" if e["pooled"] is not None else f"{'-':>8}"
        tail = f"  {e['met']}/{e['rounds']}"
        if e.get("unreachable"):
            tail += f" (out of reach at the bound in {e['unreachable']})"
        lines.append(f"{label:54}{cells}{pooled}{tail}")
    lines.append("\n(run columns: the run's median of per-round ratios; pooled: the median "
                 "over every round\n of every run. 'Out of reach at the bound': rounds in "
                 "which the peer took less than\n target x the gemm-only bound, so meeting "
                 "the target needed an epoch faster than the bound.)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="JSON files written by fastmlp bench --json")
    parser.add_argument("--json", help="also write the pooled report to this file")
    args = parser.parse_args(argv)
    runs = []
    for path in args.runs:
        with open(path) as file:
            runs.append(json.load(file))
    names = [os.path.splitext(os.path.basename(p))[0][-7:] for p in args.runs]
    report = pool(runs)
    print(format_report(names, report))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(report, file, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
