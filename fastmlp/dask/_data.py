"""The training data as shards: one per row chunk, validated and encoded where it lies.

A shard is made by a task on the worker that holds its chunk (the scheduler runs a
task where its input is), and stays there: every later task that reads it is pinned
to that worker. Only at the start may a shard move, when the chunks are unevenly
spread over the workers (all on one worker, say): then the surplus is copied once to
the workers with fewest.
"""
import math
import uuid
from dataclasses import dataclass, field
from typing import Optional

import dask
import dask.array as da
import dask.sizeof
import numpy as np

from fastmlp._estimators.base import feature_names
from fastmlp._estimators.validation import check_sample_weight, check_X, check_y


@dataclass
class Shard:
    """One chunk of the training data on its worker, as the kernels read it.

    ``cache`` holds what a fit keeps between its rounds on this shard (the engine and
    its buffers); it is never serialised, so a shard that is spilled or moved simply
    rebuilds it.
    """

    X: np.ndarray                        # (rows, features), C-contiguous, the model dtype
    Y: np.ndarray                        # (rows, outputs) encoded targets
    sample_weight: Optional[np.ndarray]  # (rows,) or None: all 1
    weight: float                        # rows, or the sum of the sample weights
    cache: dict = field(default_factory=dict, compare=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["cache"] = {}
        return state


@dask.sizeof.sizeof.register(Shard)
def _sizeof_shard(shard):
    """The shard's bytes, for the workers' memory accounting (a plain object would
    count for a few hundred bytes)."""
    arrays = (shard.X, shard.Y, shard.sample_weight)
    return sum(a.nbytes for a in arrays if a is not None)


@dataclass
class ShardRecipe:
    """What a worker needs to make a shard: a parameters-only copy of the model (its
    target encoding and class weights), the classes, the dtype and the width."""

    model: object
    classes: Optional[np.ndarray]
    dtype: np.dtype
    n_features: int


def make_shard(X, y, sample_weight, recipe):
    """A Shard from one chunk, checked exactly as ``fit`` checks its whole input (runs
    on a worker)."""
    model = recipe.model
    name = type(model).__name__
    X = check_X(X, dtype=recipe.dtype, n_features=recipe.n_features, estimator_name=name)
    y = check_y(y, X, name)
    # incremental with the classes: the shard's labels must be among them
    Y, _, _ = model._encode_targets(y, X.dtype, True, True, recipe.classes)
    weights = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    weights = model._weigh_classes(y, weights, X.dtype, True)
    total = float(X.shape[0]) if weights is None else float(np.sum(weights, dtype=np.float64))
    return Shard(X, Y, weights, total)


def shard_size(shard):
    """(rows, weight) of a shard."""
    return shard.X.shape[0], shard.weight


def same(value):
    """Identity: a task that copies its input to the worker it runs on."""
    return value


@dataclass
class Shards:
    """The shards of one fit: their futures, in the chunks' order, and where they are."""

    futures: list
    workers: list          # the address holding each shard
    rows: np.ndarray       # int: rows of each shard
    weights: np.ndarray    # float64: rows, or sums of sample weights

    @property
    def total_weight(self):
        return float(self.weights.sum())

    def holders(self):
        """The workers holding at least one shard, sorted."""
        return sorted(set(self.workers))


# --- dask collections -> aligned dask arrays ------------------------------------------

def _as_dask_array(data, name):
    if isinstance(data, da.Array):
        return data
    if dask.is_dask_collection(data) and hasattr(data, "to_dask_array"):
        return data.to_dask_array(lengths=True)   # a dask DataFrame or Series
    raise TypeError(f"{name} must be a dask array, or a dask DataFrame or Series; got "
                    f"{type(data).__name__}. For data in memory, call model.fit.")


def _known_chunks(array):
    if any(math.isnan(size) for size in array.chunks[0]):
        array.compute_chunk_sizes()
    return array


def as_aligned_arrays(X, y, sample_weight, classifier):
    """(X, y, sample_weight, feature names) as dask arrays with the same row chunks, X
    and a 2-D y in one column chunk; TypeError or ValueError for what cannot be."""
    names = feature_names(X)
    X = _known_chunks(_as_dask_array(X, "X"))
    if y is None:
        raise ValueError("fastmlp.dask.fit requires y to be passed, but the target y is None")
    y = _known_chunks(_as_dask_array(y, "y"))
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got a {X.ndim}D array of shape {X.shape} "
                         "instead.")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"Found array with shape {X.shape}; at least 1 sample and 1 "
                         "feature are required.")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y have different numbers of samples, or y is not 1-D or "
                         f"2-D: X has shape {X.shape}, y {y.shape}")
    if classifier and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]   # a column of labels: the labels
    X = X.rechunk({1: -1})
    y = y.rechunk({0: X.chunks[0]} if y.ndim == 1 else {0: X.chunks[0], 1: -1})
    if sample_weight is not None:
        sample_weight = _known_chunks(_as_dask_array(sample_weight, "sample_weight"))
        if sample_weight.ndim != 1 or sample_weight.shape[0] != X.shape[0]:
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},); got "
                             f"{sample_weight.shape}")
        sample_weight = sample_weight.rechunk({0: X.chunks[0]})
    return X, y, sample_weight, names


# --- shards on the workers --------------------------------------------------------------

def make_shards(client, X, y, sample_weight, recipe):
    """The Shards of aligned dask arrays (see as_aligned_arrays), made on the workers.

    A chunk with no rows, or whose sample weights sum to 0, adds nothing to the loss
    and is left out. A bad chunk raises its error here, as fit would.
    """
    token = uuid.uuid4().hex[:12]
    rows = X.chunks[0]
    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    ws = sample_weight.to_delayed().ravel() if sample_weight is not None else [None] * len(xs)
    make = dask.delayed(make_shard, pure=False)
    lazy = [make(x, part, w, recipe, dask_key_name=f"fastmlp-shard-{token}-{i}")
            for i, (x, part, w, n) in enumerate(zip(xs, ys, ws, rows)) if n > 0]
    futures = client.compute(lazy)
    _wait(futures)
    where = client.who_has(futures)
    sizes = client.gather([client.submit(shard_size, f, pure=False, workers=list(where[f.key]))
                           for f in futures])
    kept = [i for i, (_, weight) in enumerate(sizes) if weight > 0]
    if not kept:
        raise ValueError("sample_weight sums to 0 over every sample: there is nothing to fit")
    futures = [futures[i] for i in kept]
    futures, workers = _spread(client, futures, token)
    return Shards(futures, workers, np.array([sizes[i][0] for i in kept], dtype=np.intp),
                  np.array([sizes[i][1] for i in kept], dtype=np.float64))


def _wait(futures):
    """Wait for the futures, raising the first one's error as the worker raised it.

    Not distributed.wait, which waits with the default client: the fit's client may
    be another one. Future.exception fetches no result.
    """
    for future in futures:
        if future.exception() is not None:
            future.result()


def _spread(client, futures, token):
    """(futures, workers): the shards where they are, but a worker's shards beyond its
    fair share (ceil(shards / workers)) copied once to the workers with fewest, so
    that every worker has a share of the work."""
    all_workers = sorted(client.nthreads())
    where = client.who_has(futures)
    workers = [sorted(where[f.key])[0] for f in futures]
    fair = math.ceil(len(futures) / max(len(all_workers), 1))
    load = {worker: 0 for worker in all_workers}
    surplus = []
    for i, worker in enumerate(workers):
        if load.get(worker, 0) < fair:
            load[worker] = load.get(worker, 0) + 1
        else:
            surplus.append(i)
    moved = []
    for i in surplus:
        target = min(load, key=lambda w: (load[w], w))
        load[target] += 1
        moved.append(client.submit(same, futures[i], workers=[target],
                                   allow_other_workers=False, pure=False,
                                   key=f"fastmlp-shard-{token}-{i}-on-{len(moved)}"))
        workers[i] = target
    if moved:
        _wait(moved)
        for i, future in zip(surplus, moved):
            futures[i] = future
    return futures, workers
