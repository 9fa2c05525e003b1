"""The benchmark script runs end to end at tiny sizes (the demo: tests/test_cli.py)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
