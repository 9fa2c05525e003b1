"""The demo command and the benchmark script run end to end at tiny sizes."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_trains_both_engines_and_prints_accuracy_and_speed_up():
    done = subprocess.run([sys.executable, "-m", "fastmlp", "demo", "--samples", "600",
                           "--test-samples", "200", "--epochs", "2"],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("test accuracy") == 2
    assert "speed-up" in done.stdout


def test_demo_rejects_bad_arguments_with_a_one_line_message():
    done = subprocess.run([sys.executable, "-m", "fastmlp", "demo", "--samples", "0"],
                          capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "error" in done.stderr


def test_epoch_benchmark_script_reports_both_engines(tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_epoch.py"),
                           "--samples", "512", "--hidden", "16,8", "--batch-size", "64",
                           "--rounds", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr
    assert "BLAS:" in done.stdout and "median of per-round ratios" in done.stdout
    result = json.loads(out.read_text())
    assert set(result["median_seconds"]) == {"cython", "numpy"}
    assert all(len(times) == 2 and min(times) > 0 for times in result["seconds"].values())
    assert result["median_ratio_cython_to_numpy"] > 0
