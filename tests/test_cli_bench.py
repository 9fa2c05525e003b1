"""fastmlp bench --quick: one configuration, one round, no NumPy reference and fewer
predict calls, in a minute or less; the options given still win over its settings."""
import json
import os
import subprocess
import sys

import fastmlp
from fastmlp import benchmark
from fastmlp.cli.parser import build_parser

ENV = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastmlp.__file__)))


def settings(*options):
    return benchmark.run_settings(build_parser().parse_args(["bench", *options]))


def test_quick_runs_one_configuration_one_round_without_the_reference():
    assert settings() == {}   # run()'s defaults: the full benchmark
    quick = settings("--quick")
    assert quick["configs"] == [((256, 128), 128, "float32")] and quick["rounds"] == 1
    assert quick["include_reference"] is False
    assert quick["samples"] < 60000
    assert quick["predict_repeats"] < 2000 and quick["predict_batch_repeats"] < 20


def test_the_options_given_win_over_quick():
    given = settings("--quick", "--samples", "2000", "--rounds", "2", "--config",
                     "16/32/float64", "--no-memory", "--only", "numpy")
    assert (given["samples"], given["rounds"], given["configs"]) == (2000, 2,
                                                                     [((16,), 32, "float64")])
    assert given["memory"] is False and given["only"] == ["numpy"]
    assert given["include_reference"] is False   # still --quick's


def test_fastmlp_bench_quick_runs_end_to_end(tmp_path):
    # tiny: 2,000 samples, no latency or memory measurement
    done = subprocess.run([sys.executable, "-m", "fastmlp", "bench", "--quick", "--samples",
                           "2000", "--no-latency", "--no-memory", "--json", "result.json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=ENV)
    assert done.returncode == 0, done.stderr
    assert "a quick run (--quick)" in done.stdout and "x bound" in done.stdout
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["samples"] == 2000 and result["rounds"] == 1
    assert list(result["configs"]) == ["784-256-128-10/128 float32"]
    assert "fastmlp numpy reference" not in result["contenders"]
    assert "predict_latency" not in result and "memory" not in result
    for times in result["configs"]["784-256-128-10/128 float32"]["times"].values():
        assert len(times) == 1 and times[0] > 0
