"""fastmlp.dask.fit: checks, the shards, one of the two algorithms, the fitted model.

Everything a plain fit checks is checked the same way, by the same code: the
hyper-parameters here, each chunk on its worker (fastmlp's check_X, its target
encoding and class weights). The model is published once at the end (and after each
round when callbacks watch it); an error leaves it as it was before the call.
"""
import math
import numbers
import warnings
from types import SimpleNamespace

import dask
import dask.array as da
import numpy as np

from fastmlp._engine.engines import ENGINES
from fastmlp._engine.layout import ParameterLayout
from fastmlp._estimators.base import (
    NON_FINITE_WEIGHTS,
    BaseMultilayerPerceptron,
    check_random_state,
)
from fastmlp._estimators.classifier import MLPClassifier
from fastmlp._estimators.validation import FLOAT_DTYPES, all_finite, check_hyperparameters
from fastmlp.callbacks import ProgressBar
from fastmlp.dask import _data, _lbfgs, _local_sgd
from fastmlp.dask._rounds import RoundLog
from fastmlp.exceptions import ConvergenceWarning, DivergenceError
from fastmlp.schedules import schedule_for

ALGORITHMS = ("local_sgd", "lbfgs")


def fit(model, X, y, sample_weight=None, *, client=None, algorithm=None, steps_per_round=None,
        n_rounds=None):
    """Fit one fastmlp model data-parallel on a Dask cluster; the data stays on the workers.

    Each row chunk of ``X`` becomes a *shard*, checked and encoded on the worker that
    holds it (chunks spread unevenly over the workers are spread once, at the start).
    From then on only the weights, the optimizer state and the gradients travel
    between the client and the workers; every task on a shard runs on its worker.
    Both algorithms are synchronous: for a given partitioning and ``random_state``
    the fitted model is the same, whatever the number of workers and the order in
    which they finish.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        Its hyper-parameters are used as ``fit`` uses them (``hidden_layer_sizes``,
        ``activation``, ``solver``, ``alpha``, ``batch_size``, ``learning_rate_init``,
        ``lr_schedule``, ``max_iter``, ``random_state``, ``warm_start``, ...). It is
        fitted in place and returned.
    X : dask array of shape (n_samples, n_features), or dask DataFrame
        Its row chunks (a DataFrame's partitions) are the shards: about one per
        worker thread suits both algorithms. float32 trains in float32.
    y : dask array or dask Series/DataFrame of shape (n_samples,) or (n_samples, n_outputs)
        Rechunked to X's row chunks if needed. For a classifier the classes are
        computed once, first (only they reach the client).
    sample_weight : dask array of shape (n_samples,), default=None
    client : distributed.Client, default=None
        None: the default client (the last one created).
    algorithm : {'local_sgd', 'lbfgs'} or None, default=None
        None: 'lbfgs' for ``solver='lbfgs'``, 'local_sgd' for any other solver; given,
        it must agree with the solver.

        'local_sgd' (periodic model averaging): in a round every shard takes
        ``steps_per_round`` minibatch steps of the model's optimizer (fastmlp's
        engine, ``batch_size`` rows each, from its own shuffled epochs) from the same
        weights and optimizer state; the client then averages the weights and the
        optimizer state (Adam's moments, ...), each shard weighted by its samples
        (or sample weights). With one shard, ``shuffle=False`` and rounds of one
        epoch this is exactly the single-process fit.

        'lbfgs': scipy's L-BFGS-B on the full-batch loss; every evaluation sends the
        weights out and sums each shard's loss and gradient (the kernel of the
        single-process lbfgs solver), adding the L2 term once. ``max_iter``,
        ``max_fun`` and ``tol`` as for ``solver='lbfgs'``.
    steps_per_round : int, default=None
        Minibatch steps per shard per round ('local_sgd' only). None: one local
        epoch of an average shard, ``ceil(n_samples / n_shards / batch_size)``.
        Fewer steps average more often: closer to one big-batch optimizer, more
        communication.
    n_rounds : int, default=None
        Rounds of 'local_sgd'. None: ``max_iter`` epochs' worth of steps,
        ``ceil(max_iter * epoch_steps / steps_per_round)``.

    Returns
    -------
    model : MLPClassifier or MLPRegressor
        Fitted as by its own ``fit``: ``coefs_``, ``intercepts_``, ``classes_``,
        ``loss_``, ``loss_curve_`` (one entry per local-SGD round: the mean
        minibatch loss of the round over all shards; per L-BFGS iteration: the
        loss), ``n_iter_`` (rounds, or L-BFGS iterations), ``t_``, ... Local SGD
        also leaves the averaged optimizer state, so ``partial_fit`` goes on from
        it. Besides, ``dask_rounds_`` holds per round (per loss evaluation for
        L-BFGS) ``wall_seconds`` (the client's), ``compute_seconds`` (the busiest
        worker's, timed on the worker), ``overhead_seconds`` (the rest: transfers,
        scheduling, waiting, the client's arithmetic), ``sent_bytes`` and
        ``received_bytes`` (the arrays sent and received by the client).

    Raises
    ------
    TypeError
        For data that is not a dask collection, or a model that is not fastmlp's.
    ValueError
        For invalid parameters or data (as ``fit`` would raise them), early_stopping
        or sgd's ``learning_rate`` schedules or ``lr_schedule='plateau'`` with
        'local_sgd', or no Client.
    DivergenceError
        When the loss or the weights become NaN or infinite; the model is left as
        it was.

    Notes
    -----
    Workers started by Dask's nanny have ``OMP_NUM_THREADS=1``: fastmlp then runs
    each task on one thread (one per worker thread), as Dask intends. Callbacks
    (``model.callbacks``, ``verbose``) are called after every round with the
    model as it is then; their metrics also hold ``compute_seconds`` and
    ``overhead_seconds``. Not supported: validation data and early stopping,
    scikit-learn's callbacks, sparse chunks. See docs/dask.md.

    Examples
    --------
    A cluster in this process (``Client()`` alone starts worker processes; on a real
    cluster, ``Client("scheduler-address:8786")``), and data in two row chunks:

    >>> import numpy as np
    >>> import dask.array as da
    >>> from distributed import Client
    >>> import fastmlp.dask
    >>> from fastmlp import MLPClassifier
    >>> client = Client(processes=False, n_workers=1, threads_per_worker=2,
    ...                 dashboard_address=None)
    >>> rng = np.random.RandomState(0)
    >>> X = da.from_array(rng.normal(size=(400, 5)), chunks=200)   # two shards
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = MLPClassifier((16,), batch_size=32, learning_rate_init=0.01,
    ...                       max_iter=20, random_state=0)
    >>> model = fastmlp.dask.fit(model, X, y)      # local SGD: 20 rounds of 7 steps
    >>> model.n_iter_, len(model.dask_rounds_["wall_seconds"])
    (20, 20)
    >>> model.score(X.compute(), y.compute()) > 0.95
    True
    >>> client.close()
    """
    client = _client(client)
    if not isinstance(model, BaseMultilayerPerceptron):
        raise TypeError(f"model must be a fastmlp MLPClassifier or MLPRegressor; got "
                        f"{type(model).__name__}")
    hidden = check_hyperparameters(model.get_params(), ENGINES)
    algorithm = _algorithm(model, algorithm)
    _check_rounds(algorithm, steps_per_round, n_rounds)
    _check_supported(model, algorithm)
    classifier = isinstance(model, MLPClassifier)
    # what little is computed up front (chunk sizes, the classes) on this client's
    # cluster too when it is not the default one
    with dask.config.set(scheduler=client.get):
        return _fit(client, model, hidden, algorithm, classifier, X, y, sample_weight,
                    steps_per_round, n_rounds)


def _fit(client, model, hidden, algorithm, classifier, X, y, sample_weight, steps_per_round,
         n_rounds):
    X, y, sample_weight, names = _data.as_aligned_arrays(X, y, sample_weight, classifier)
    first_pass = not hasattr(model, "coefs_") or not model.warm_start
    if first_pass:
        dtype = X.dtype if X.dtype in FLOAT_DTYPES else np.dtype(np.float64)
    else:
        dtype = model.coefs_[0].dtype
        if X.shape[1] != model.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(model).__name__} is "
                             f"expecting {model.n_features_in_} features as input.")
        model._check_layers(hidden)
    targets = _targets(model, y, dtype, first_pass, classifier)
    # the initial weights drawn first, as fit draws them: the same seed, the same start
    rng = check_random_state(model.random_state)
    layout = ParameterLayout([X.shape[1], *hidden, targets.n_outputs])
    params = model._initial_parameters(layout, rng, dtype, first_pass)
    seed = int(rng.randint(2**62))
    recipe = _data.ShardRecipe(_worker_copy(model, targets.class_weight), targets.classes,
                               dtype, X.shape[1])
    shards = _data.make_shards(client, X, y, sample_weight, recipe)
    job = SimpleNamespace(client=client, model=model, shards=shards, layout=layout,
                          params=params, targets=targets, names=names, seed=seed,
                          first_pass=first_pass, log=RoundLog(),
                          n_samples=int(shards.rows.sum()), n_features=X.shape[1])
    before = dict(model.__dict__)
    try:
        if algorithm == "lbfgs":
            _fit_lbfgs(job)
        else:
            _fit_local_sgd(job, steps_per_round, n_rounds)
    except BaseException:
        model.__dict__.clear()
        model.__dict__.update(before)   # the model as it was before this fit
        raise
    return model


# --- checks -------------------------------------------------------------------------------

def _client(client):
    if client is not None:
        return client
    from distributed import default_client
    try:
        return default_client()
    except ValueError:
        raise ValueError("fastmlp.dask.fit needs a dask.distributed Client: pass client=, "
                         "or create one first (distributed.Client(...))") from None


def _algorithm(model, algorithm):
    stochastic = model.solver != "lbfgs"
    if algorithm is None:
        return "local_sgd" if stochastic else "lbfgs"
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {list(ALGORITHMS)} or None; got "
                         f"{algorithm!r}")
    if (algorithm == "local_sgd") != stochastic:
        raise ValueError(f"algorithm={algorithm!r} does not go with solver="
                         f"{model.solver!r}: 'lbfgs' is solver='lbfgs', 'local_sgd' runs "
                         "a minibatch solver ('adam', 'sgd', ...)")
    return algorithm


def _check_rounds(algorithm, steps_per_round, n_rounds):
    for name, value in (("steps_per_round", steps_per_round), ("n_rounds", n_rounds)):
        if value is None:
            continue
        if algorithm == "lbfgs":
            raise ValueError(f"{name} is local SGD's; L-BFGS runs the model's max_iter "
                             "iterations")
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be a positive int or None; got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1; got {value}")


def _check_supported(model, algorithm):
    if algorithm != "local_sgd":
        return
    if model.early_stopping:
        raise ValueError("early_stopping needs validation data, which fastmlp.dask.fit "
                         "does not hold out; set early_stopping=False (a callback can "
                         "watch a held-out set)")
    if model.solver == "sgd" and model.learning_rate != "constant":
        raise ValueError(f"learning_rate={model.learning_rate!r} is not supported by local "
                         "SGD; use learning_rate='constant' and an lr_schedule")
    if model.lr_schedule == "plateau":
        raise ValueError("lr_schedule='plateau' is not supported by local SGD; use "
                         "'constant', 'cosine', 'onecycle' or a callable")


def _targets(model, y, dtype, first_pass, classifier):
    """The targets' attributes, from the classes alone (a classifier: they are computed
    once, here) or from y's first row (a regressor, a multilabel y); the model's own
    _encode_targets checks them as fit does."""
    class_weight = getattr(model, "class_weight", None)
    classes = None
    if classifier and y.ndim == 1:
        classes, counts = dask.compute(*da.unique(y, return_counts=True))
        sample = classes
        if isinstance(class_weight, str):   # 'balanced', over all the samples
            class_weight = dict(zip(classes.tolist(),
                                    (counts.sum() / (len(classes) * counts)).tolist()))
    else:
        sample = y[:1].compute()
    Y, out_activation, attributes = model._encode_targets(sample, dtype, first_pass, False,
                                                           None)
    return SimpleNamespace(classes=classes, n_outputs=Y.shape[1],
                           out_activation=out_activation, attributes=attributes,
                           class_weight=class_weight)


def _worker_copy(model, class_weight):
    """A parameters-only copy of the model for the workers: what they use of it (the
    engine, the optimizer, the target encoding), without the client's callbacks."""
    params = model.get_params()
    params.update(callbacks=None, verbose=False, scoring=None, warm_start=False,
                  early_stopping=False, lr_schedule="constant", warmup_epochs=0)
    if "class_weight" in params:
        params["class_weight"] = class_weight
    return type(model)(**params)


# --- the algorithms -------------------------------------------------------------------------

class _Shape:
    """What _common_attributes reads of X and Y: their shape."""

    def __init__(self, *shape):
        self.shape = shape


def _common(job):
    targets = job.targets
    return job.model._common_attributes(
        job.layout, _Shape(job.n_samples, job.n_features),
        _Shape(job.n_samples, targets.n_outputs), targets.out_activation,
        targets.attributes, job.names)


def _callbacks(model):
    callbacks = list(model.callbacks or [])
    if model.verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(ProgressBar())
    return callbacks


def _call(callbacks, model, metrics):
    stop = False
    for callback in callbacks:
        stop = bool(callback(model, metrics)) or stop
    return stop


def _metrics(number, total, loss, learning_rate, rows, entry):
    wall = entry["wall_seconds"]
    return {"epoch": number, "max_iter": total, "loss": loss, "learning_rate": learning_rate,
            "seconds": wall, "samples_per_second": rows / max(wall, 1e-12),
            "compute_seconds": entry["compute_seconds"],
            "overhead_seconds": entry["overhead_seconds"]}


def _fit_local_sgd(job, steps_per_round, n_rounds):
    model, shards = job.model, job.shards
    configured = 200 if model.batch_size == "auto" else model.batch_size
    if configured > shards.rows.min() and model.batch_size != "auto":
        warnings.warn(f"Got batch_size={configured} > the {shards.rows.min()} samples of "
                      "the smallest shard; it is clipped to each shard's samples.",
                      stacklevel=3)   # the caller of fit
    mean_rows = job.n_samples / len(shards.futures)
    epoch_steps = math.ceil(mean_rows / min(configured, mean_rows))
    steps = steps_per_round or epoch_steps
    n_rounds = n_rounds or math.ceil(model.max_iter * epoch_steps / steps)
    schedule = schedule_for(model.lr_schedule)
    scheduled = model.lr_schedule != "constant" or model.warmup_epochs > 0
    total_epochs = max(1, math.ceil(n_rounds * steps / epoch_steps))

    def learning_rate_of(round_index):   # a round runs at the rate of its epoch
        if not scheduled:
            return model.learning_rate_init
        return schedule((round_index * steps) // epoch_steps, model.learning_rate_init,
                        total_epochs, model.warmup_epochs)

    previous = {} if job.first_pass else model.__dict__
    history = SimpleNamespace(losses=list(previous.get("loss_curve_", None) or []),
                              rates=[], t=previous.get("t_", 0), n_iter=0)
    common = _common(job)
    callbacks = _callbacks(model)

    def publish(state):
        coefs, intercepts = job.layout.unpack(state.params)
        model.__dict__.update(
            common, coefs_=coefs, intercepts_=intercepts, loss_=history.losses[-1],
            loss_curve_=list(history.losses), best_loss_=min(history.losses),
            n_iter_=history.n_iter, t_=history.t, _no_improvement_count=0,
            learning_rate_curve_=list(history.rates), _learning_rate=history.rates[-1],
            _solver_state=state.copy(), _lr_schedule=schedule, validation_scores_=None,
            best_validation_score_=None, validation_loss_curve_=None,
            dask_rounds_=job.log.as_attribute())

    def after_round(round_index, state, loss, rows, entry):
        history.losses.append(loss)
        history.rates.append(learning_rate_of(round_index))
        history.n_iter += 1
        history.t += rows
        if not callbacks:
            return False
        publish(state)
        return _call(callbacks, model, _metrics(round_index + 1, n_rounds, loss,
                                                history.rates[-1], rows, entry))

    state = _local_sgd.train(job.client, shards, _worker_copy(model, None), job.layout,
                             job.params, job.targets.out_activation, job.seed, steps, n_rounds,
                             learning_rate_of, job.log, after_round)
    publish(state)


def _fit_lbfgs(job):
    model, layout = job.model, job.layout
    dtype = job.params.dtype
    objective = _lbfgs.ClusterObjective(job.client, job.shards, layout, model.activation,
                                        job.targets.out_activation, model.engine,
                                        model.get_params().get("label_smoothing", 0.0),
                                        model.alpha, dtype, job.log)
    common = _common(job)
    callbacks = _callbacks(model)

    def publish(theta, loss, losses, n_iter):
        coefs, intercepts = layout.unpack(np.asarray(theta).astype(dtype))
        model.__dict__.update(
            common, coefs_=coefs, intercepts_=intercepts, loss_=float(loss),
            loss_curve_=list(losses), n_iter_=int(n_iter), t_=job.n_samples,
            _solver_state=None, learning_rate_curve_=None,
            dask_rounds_=job.log.as_attribute())

    losses = []

    def after_iteration(n_iter, loss, theta):
        losses.append(loss)
        if not callbacks:
            return False
        publish(theta, loss, losses, n_iter)
        entry = {key: values[-1] for key, values in job.log.rounds.items()}
        return _call(callbacks, model, _metrics(n_iter, model.max_iter, loss, None,
                                                job.n_samples, entry))

    result = _lbfgs.train(objective, job.params, model, after_iteration)
    if not (np.isfinite(result.fun) and all_finite(result.x)):
        raise DivergenceError(f"{NON_FINITE_WEIGHTS} L-BFGS reached a NaN or infinite loss "
                              "or weights; the model was left as it was before fit.")
    if result.status not in (0, 99):   # 99: a callback stopped it
        warnings.warn(f"lbfgs failed to converge after {result.nit} iterations "
                      f"(status={result.status}): {result.message}. Increase max_iter or "
                      "max_fun, or scale the data.", ConvergenceWarning,
                      stacklevel=3)   # the caller of fit
    publish(result.x, result.fun, losses, result.nit)
