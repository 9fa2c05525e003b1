"""Data-parallel training of one fastmlp model on a Dask cluster (``pip install fastmlp[dask]``).

>>> import fastmlp.dask                                        # doctest: +SKIP
>>> model = fastmlp.dask.fit(MLPClassifier(), X, y, client=client)   # doctest: +SKIP

``X`` and ``y`` are a dask array (or a dask DataFrame and Series) whose row chunks stay
on the workers that hold them: each chunk becomes one *shard*, validated and encoded
where it lies, and from then on only weights, optimizer state and gradients travel.
Two synchronous, deterministic algorithms (see :func:`fit` and docs/dask.md):

* ``'local_sgd'``: every shard takes ``steps_per_round`` minibatch steps of the
  model's optimizer (fastmlp's Cython engine) from the same weights, and the client
  averages the weights and the optimizer state, weighted by the shards' samples;
* ``'lbfgs'``: each shard returns its loss and gradient sums at the current weights,
  and the client drives scipy's L-BFGS-B on their total (the full-batch objective).

For the wrappers of dask-ml, nothing is needed here: ``dask_ml.wrappers.Incremental``
trains a fastmlp estimator by ``partial_fit`` over the chunks, one after another, and
``dask_ml.wrappers.ParallelPostFit`` predicts blockwise (docs/dask.md).

Importing this module needs ``dask`` and ``distributed``; ``import fastmlp`` never
imports them.
"""
try:
    import dask  # noqa: F401  (absolute: the real dask, not this module)
    import distributed  # noqa: F401
except ImportError as error:   # pragma: no cover - exercised in a subprocess test
    raise ImportError(f"fastmlp.dask needs dask and distributed ({error}); install them "
                      "with `pip install fastmlp[dask]`") from error

from fastmlp.dask._fit import ALGORITHMS, fit

__all__ = ["ALGORITHMS", "fit"]
