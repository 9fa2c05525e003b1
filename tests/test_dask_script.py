"""benchmarks/dask_fashion.py runs end to end on a subset of Fashion-MNIST, so it cannot rot."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("dask")
pytest.importorskip("distributed")

from fastmlp.datasets import FASHION_MNIST_DIR  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR),
                    reason=f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR}")
def test_dask_fashion_script_reports_every_contender_and_the_rounds_split(tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "dask_fashion.py"),
                           "--quick", "--single-lbfgs", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    results = {entry["name"]: entry for entry in json.loads(out.read_text())["results"]}
    assert set(results) == {"single adam", "single L-BFGS", "local SGD (10 steps)",
                            "L-BFGS (2 workers)"}
    for name in ("local SGD (10 steps)", "L-BFGS (2 workers)"):
        entry = results[name]
        assert entry["rounds"] >= 1 and 0 < entry["compute_seconds"] < entry["seconds"]
        assert entry["sent_mb"] > 0 and entry["received_mb"] > 0
    # the same L-BFGS objective in one process and over two shards
    assert abs(results["L-BFGS (2 workers)"]["test_accuracy"]
               - results["single L-BFGS"]["test_accuracy"]) < 0.01
    assert all(entry["test_accuracy"] > 0.6 for entry in results.values())
