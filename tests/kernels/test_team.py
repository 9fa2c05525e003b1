"""How a thread team shares a step (fastmlp/_kernels/team.pxd): which hidden layers
go by columns and which as sums of the parts' terms, and who owns which input units."""
import numpy as np

from fastmlp._kernels import step

from helpers import BY_COLUMNS_FIRST, BY_COLUMNS_LAST


def test_big_layers_go_by_columns_and_small_ones_as_sums_of_terms():
    ways = {(tuple(sizes), n_parts, itemsize): step.hidden_layer_ways(
                np.array(sizes, dtype=np.intp), n_parts, itemsize)
            for sizes in (BY_COLUMNS_FIRST, BY_COLUMNS_LAST)
            for n_parts in (1, 2) for itemsize in (4, 8)}
    assert ways[tuple(BY_COLUMNS_FIRST), 2, 8] == ["columns", "terms"]
    assert ways[tuple(BY_COLUMNS_LAST), 2, 8] == ["terms", "columns"]
    assert ways[tuple(BY_COLUMNS_FIRST), 2, 4] == ways[tuple(BY_COLUMNS_LAST), 2, 4] == [
        "terms", "terms"]
    for sizes in (BY_COLUMNS_FIRST, BY_COLUMNS_LAST):   # one thread: plain products
        assert ways[tuple(sizes), 1, 4] == ways[tuple(sizes), 1, 8] == ["columns"] * 2
    # the benchmark's networks on two threads
    assert step.hidden_layer_ways(np.array([784, 256, 128, 10], dtype=np.intp), 2, 8) \
        == ["terms", "terms"]
    assert step.hidden_layer_ways(np.array([784, 1024, 1024, 10], dtype=np.intp), 2,
                                      4) == ["columns", "columns"]


def test_first_layer_inputs_split_evenly_on_multiples_of_8_units():
    def shares(width, n_parts, i=0):
        return step.input_shares(np.array([width, 5, 3], dtype=np.intp), i, n_parts)
    assert shares(784, 2) == [(0, 392), (392, 784)]   # not 400/384 (whole 64-byte lines)
    assert shares(784, 3) == [(0, 264), (264, 520), (520, 784)]
    for width in (1, 3, 7, 20, 33, 784, 1001):
        for n_parts in (1, 2, 3, 4):
            cuts = shares(width, n_parts)
            # every unit owned once, in order; inner cuts on multiples of 8 units (or
            # at the end: trailing parts of a narrow layer own none)
            assert cuts[0][0] == 0 and cuts[-1][1] == width
            assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
            assert all(lo <= hi and (lo % 8 == 0 or lo == width) for lo, hi in cuts)
            # each part within 4 units of its even share
            assert all(abs(lo - width * p // n_parts) <= 4
                       for p, (lo, hi) in enumerate(cuts)), cuts
    assert shares(5, 2) == [(0, 0), (0, 5)]   # a part may own no input unit
    assert shares(30, 2, i=1) == [(0, 2), (2, 5)]   # later layers: share() as it is
