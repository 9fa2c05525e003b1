"""The benchmark runs end to end at tiny sizes, as a script and as `fastmlp bench`,
so it cannot rot (the demo: tests/test_cli.py)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--samples", "600", "--config", "16,8/64/float32", "--config", "12/32/float64",
        "--rounds", "2", "--no-memory"]


@pytest.mark.slow
def test_comparison_script_reports_every_contender_as_a_ratio_to_the_bound(tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "compare.py"),
                           *TINY, "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "kernel=" in done.stdout and "x bound" in done.stdout
    result = json.loads(out.read_text())
    assert {"gemm-only bound", "fastmlp", "fastmlp numpy reference"} <= set(
        result["contenders"])
    assert list(result["configs"]) == ["784-16-8-10/64 float32", "784-12-10/32 float64"]
    for entry in result["configs"].values():
        assert all(len(t) == 2 and min(t) > 0 for t in entry["times"].values())
        assert entry["summary"]["gemm-only bound"]["ratio_to_bound"] == 1.0
        assert entry["summary"]["fastmlp"]["fastmlp_speedup"] == 1.0
    latency = result["predict_latency"]["fastmlp"]
    assert 0 < latency["1 row"] < latency["10,000 rows"]


@pytest.mark.slow
def test_fastmlp_bench_command_runs_and_plots(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fastmlp", "bench", *TINY, "--only", "numpy",
                           "--no-latency", "--plot", str(tmp_path / "bench.png")],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "fastmlp numpy reference" in done.stdout and "scikit-learn" not in done.stdout
    assert (tmp_path / "bench.png").stat().st_size > 1000


def test_fastmlp_bench_rejects_a_bad_config_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fastmlp", "bench", "--config", "nonsense"],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "--config" in done.stderr


@pytest.mark.slow
def test_floor_script_reports_the_bound_adam_and_the_floor(tmp_path):
    out = tmp_path / "floor.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "floor.py"),
                           "--samples", "600", "--config", "16,8/64/float32", "--rounds", "1",
                           "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    seconds = json.loads(out.read_text())
    assert seconds["gemm-only bound"] > 0 and seconds["adam pass, 1 thread"] > 0
    assert seconds["fastmlp"] > 0
    assert seconds["floor (bound + adam/2)"] == (seconds["gemm-only bound"]
                                                 + seconds["adam pass, 1 thread"] / 2)
    assert "floor (bound + adam/2)" in done.stdout


def test_blas_builds_script_times_both_openblas_builds_on_the_step_shapes(tmp_path):
    out = tmp_path / "blas.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "blas_builds.py"),
                           "--seconds", "0.002", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result["builds"]) == {"scipy", "numpy"}
    assert all(build["version"] for build in result["builds"].values())
    assert len(result["gflops"]) == 5
    assert all(row["scipy"] > 0 and row["numpy"] > 0 for row in result["gflops"])
    assert "layer 0 term" in done.stdout and "numpy/scipy" in done.stdout


def _fake_run(bound, ours, torch):
    """A bench JSON with one configuration and per-round seconds."""
    times = {"gemm-only bound": bound, "fastmlp": ours, "pytorch": torch}
    return {"configs": {"784-1024-1024-10/256 float32": {"times": times}}}


def test_pool_script_reports_each_run_and_the_pooled_rounds_against_the_targets(tmp_path):
    # run a: speed-ups over PyTorch 1.5, 1.1 (median 1.3); run b: 1.2 only. Pooled 1.2.
    # PyTorch's ratio to the bound: 1.5, 1.1 | 1.2: below 1.3 in two rounds.
    runs = [_fake_run([1.0, 1.0], [1.0, 1.0], [1.5, 1.1]),
            _fake_run([2.0], [2.0], [2.4])]
    paths = []
    for name, run in zip("ab", runs):
        paths.append(tmp_path / f"run_{name}.json")
        paths[-1].write_text(json.dumps(run))
    out = tmp_path / "pooled.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "pool.py"),
                           *map(str, paths), "--json", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    torch = report["784-1024-1024-10/256 float32: 1.3x over pytorch"]
    assert torch["runs"] == [1.3, 1.2]
    assert abs(torch["pooled"] - 1.2) < 1e-12
    assert (torch["met"], torch["rounds"], torch["unreachable"]) == (1, 3, 2)
    bound = report["784-1024-1024-10/256 float32: at most 1.25x the bound"]
    assert bound["pooled"] == 1.0 and (bound["met"], bound["rounds"]) == (3, 3)
    # configurations and peers a run lacks are reported as missing, not as zero
    absent = report["784-256-128-10/32 float32: 2.5x over pytorch"]
    assert absent["runs"] == [None, None] and absent["rounds"] == 0
    assert "out of reach at the bound in 2" in done.stdout


def test_contention_script_reports_default_over_best_per_condition(tmp_path):
    out = tmp_path / "contention.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "contention.py"),
                           "--quick", "--rounds", "1", "--workloads", "digits",
                           "--conditions", "idle,busy1,limits1", "--no-sklearn",
                           "--no-torch", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "default/best" in done.stdout and "kernel=" in done.stdout
    result = json.loads(out.read_text())["results"]
    assert set(result) == {"digits idle", "digits busy1", "digits limits1"}
    for entry in result.values():
        assert {"fastmlp default", "fastmlp n_threads=1", "fastmlp full team"} <= set(
            entry["times"])
        assert all(len(t) == 1 and t[0] > 0 for t in entry["times"].values())


def test_team_model_script_sets_the_model_beside_measured_steps(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "team_model.py"),
                           "--quick", "--rounds", "1"],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "barrier" in done.stdout and "measured 2/1" in done.stdout
    assert "64-16-10/8" in done.stdout and "64-100-10/8" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="needs Fashion-MNIST (apt-get install dataset-fashion-mnist)")
def test_time_to_accuracy_script_reports_each_curve_and_the_times_to_reach(tmp_path):
    out = tmp_path / "tta.json"
    done = subprocess.run([sys.executable,
                           os.path.join(ROOT, "benchmarks", "time_to_accuracy.py"),
                           "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "reaches 0.90" in done.stdout and "kernel=" in done.stdout
    curves = json.loads(out.read_text())["curves"]
    assert {"fastmlp adam", "fastmlp recipe"} <= set(curves)
    for per_round in curves.values():
        (curve,) = per_round                      # one round
        assert len(curve) == 3                    # --quick: 3 epochs
        seconds = [s for s, _ in curve]
        assert seconds == sorted(seconds) and seconds[0] > 0
        assert all(0.1 < accuracy <= 1 for _, accuracy in curve)
