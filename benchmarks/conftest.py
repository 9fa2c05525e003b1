"""pytest-benchmark suite: ``pytest benchmarks/ --benchmark-only``.

The data is Fashion-MNIST when installed, else synthetic data of its shape.
Each benchmark times whole epochs (one per round) of one contender; the
comparison of contenders as ratios, interleaved in one run, is compare.py.
"""
import numpy as np
import pytest

from fastmlp.benchmark import load_data


@pytest.fixture(scope="session")
def fashion():
    X, y, _ = load_data(60000)
    return np.ascontiguousarray(X, dtype=np.float32), y
