"""Epoch time of each contender on the four benchmark configurations."""
import numpy as np
import pytest

from fastmlp.benchmark import FULL_CONFIGS, Config, available_contenders

CONTENDERS = available_contenders(include_reference=True)


@pytest.mark.parametrize("hidden, batch_size, dtype", FULL_CONFIGS,
                         ids=[f"{'-'.join(map(str, h))}/{b}/{d}" for h, b, d in FULL_CONFIGS])
@pytest.mark.parametrize("contender", sorted(CONTENDERS))
def test_epoch(benchmark, fashion, contender, hidden, batch_size, dtype):
    X, y = fashion
    X = np.ascontiguousarray(X, dtype=dtype)
    config = Config(tuple(hidden), batch_size, dtype)
    epoch = CONTENDERS[contender]
    benchmark.pedantic(epoch, args=(X, y, config, 10), rounds=3, iterations=1,
                       warmup_rounds=0)
