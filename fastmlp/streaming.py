"""Training on a stream of chunks: `fit_stream`, partial_fit through a shuffle buffer.

A stream often comes sorted (by time, by class, by source file): training on its
chunks as they come would follow that order. `fit_stream` gathers ``shuffle_buffer``
rows from consecutive chunks, shuffles them together, and trains on them with one
``partial_fit`` call; only the buffer is in memory, never the stream.
"""
import inspect
import numbers

import numpy as np
import scipy.sparse

from fastmlp._estimators.base import check_random_state


def fit_stream(model, batches, *, classes=None, shuffle_buffer=10_000, epochs=1,
               random_state=None):
    """Train `model` by ``partial_fit`` over a stream of ``(X_chunk, y_chunk)`` pairs.

    The chunks fill a buffer; each time it holds ``shuffle_buffer`` rows they are
    shuffled and passed to one ``model.partial_fit`` call (one epoch of the model's
    minibatches over them), and the rows left at the end of the stream make one
    last, smaller call. A chunk larger than the buffer is cut across several calls.
    Rows from different chunks mix only within a buffer: the larger the buffer, the
    better a stream sorted by label or by time is shuffled.

    Parameters
    ----------
    model : estimator with ``partial_fit``
        A fastmlp MLPClassifier or MLPRegressor with a minibatch solver, or any
        estimator whose ``partial_fit(X, y[, classes])`` trains incrementally. It is
        trained in place, from its current weights when it is fitted.
    batches : iterable of (X_chunk, y_chunk), or callable returning one
        X_chunk is an array-like or scipy.sparse matrix of shape (n_rows,
        n_features), every chunk of the same width; y_chunk has n_rows labels or
        target rows. A chunk of no rows is skipped. For ``epochs > 1`` the stream is
        read once per epoch: pass a callable returning a fresh iterator each time (or
        a collection that can be iterated again, such as a list), not an iterator.
    classes : array-like of shape (n_classes,), default=None
        Every class of the problem, as ``partial_fit``'s first call needs it: needed
        for a classifier that is not fitted yet; passed to every call when given.
        Not for a regressor.
    shuffle_buffer : int, default=10_000
        Rows shuffled together and trained on in one ``partial_fit`` call. The
        buffer holds them, with the chunks they came from, in memory.
    epochs : int, default=1
        Passes over the stream.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling of the buffers (the model's own ``random_state`` seeds
        its initial weights and the shuffling of its minibatches).

    Returns
    -------
    model : estimator
        The model, trained.

    Raises
    ------
    TypeError
        When `batches` is neither iterable nor a callable returning an iterable, an
        item is not an ``(X_chunk, y_chunk)`` pair, or `model` has no
        ``partial_fit`` (a fastmlp model with ``solver='lbfgs'``).
    ValueError
        When chunks differ in width, a chunk's X and y differ in rows, an epoch's
        stream holds no rows, `classes` is missing for a classifier that is not
        fitted (or given for a regressor), an iterator is passed for ``epochs > 1``,
        or `shuffle_buffer` or `epochs` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLPClassifier, fit_stream
    >>> rng = np.random.RandomState(0)
    >>> def chunks():
    ...     for _ in range(5):
    ...         X = rng.normal(size=(100, 4))
    ...         yield X, (X[:, 0] > 0).astype(int)
    >>> model = fit_stream(MLPClassifier((8,), random_state=0), chunks,
    ...                    classes=[0, 1], shuffle_buffer=250, epochs=2, random_state=0)
    >>> len(model.loss_curve_)   # one partial_fit per buffer: two an epoch
    4
    """
    _check_positive_int(shuffle_buffer, "shuffle_buffer")
    _check_positive_int(epochs, "epochs")
    partial_fit = _partial_fit_of(model)
    fit_params = _fit_params(model, partial_fit, classes)
    if not callable(batches):
        try:
            is_iterator = iter(batches) is batches
        except TypeError:
            raise TypeError("batches must be an iterable of (X_chunk, y_chunk) pairs or a "
                            "callable returning one; got "
                            f"{type(batches).__name__}") from None
        if is_iterator and epochs > 1:
            raise ValueError(f"epochs={epochs} reads the stream {epochs} times, but batches "
                             "is an iterator, which the first epoch would use up: pass a "
                             "callable returning a fresh iterator for each epoch")
    rng = check_random_state(random_state)
    stream = _Stream(partial_fit, fit_params, shuffle_buffer, rng)
    for _ in range(epochs):
        stream.run_epoch(_chunks_of(batches))
    return model


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")


def _partial_fit_of(model):
    try:
        return model.partial_fit
    except AttributeError:
        raise TypeError(f"fit_stream trains by partial_fit, which this {type(model).__name__} "
                        "does not have (fastmlp's lbfgs solver is full-batch: use "
                        "solver='adam' or 'sgd')") from None


def _fit_params(model, partial_fit, classes):
    """The keyword arguments of every partial_fit call: classes, for a classifier."""
    try:
        takes_classes = "classes" in inspect.signature(partial_fit).parameters
    except (TypeError, ValueError):   # no signature to read: trust the caller
        takes_classes = classes is not None
    if not takes_classes:
        if classes is not None:
            raise ValueError(f"classes is for classifiers; {type(model).__name__}."
                             "partial_fit takes no classes")
        return {}
    if classes is None:
        if not hasattr(model, "classes_"):
            raise ValueError(f"fit_stream needs classes=... to train a {type(model).__name__}"
                             " that is not fitted yet: every class of the problem, which "
                             "partial_fit's first call needs (a chunk may hold only some)")
        return {}
    return {"classes": np.asarray(classes)}


def _chunks_of(batches):
    """An iterator over this epoch's items of `batches`."""
    items = batches() if callable(batches) else batches
    try:
        return iter(items)
    except TypeError:
        raise TypeError("batches() must return an iterable of (X_chunk, y_chunk) pairs; "
                        f"got {type(items).__name__}") from None


class _Stream:
    """The shuffle buffer: chunks gathered until it holds `size` rows, then trained on
    shuffled, by one partial_fit call each."""

    def __init__(self, partial_fit, fit_params, size, rng):
        self.partial_fit = partial_fit
        self.fit_params = fit_params
        self.size = size
        self.rng = rng
        self.n_features = None   # the first chunk's width, for every epoch

    def run_epoch(self, chunks):
        pending_X, pending_y, pending_rows, seen = [], [], 0, 0
        for index, item in enumerate(chunks):
            X, y = self._chunk(index, item)
            if X.shape[0] == 0:
                continue
            seen += X.shape[0]
            pending_X.append(X)
            pending_y.append(y)
            pending_rows += X.shape[0]
            if pending_rows < self.size:
                continue
            X, y = _stack(pending_X), np.concatenate(pending_y)
            start = 0
            while X.shape[0] - start >= self.size:
                self._train(X[start:start + self.size], y[start:start + self.size])
                start += self.size
            pending_rows = X.shape[0] - start
            pending_X, pending_y = ([X[start:]], [y[start:]]) if pending_rows else ([], [])
        if seen == 0:
            raise ValueError("batches yielded no rows in this epoch")
        if pending_rows:   # the rest of the stream: a smaller buffer
            self._train(_stack(pending_X), np.concatenate(pending_y))

    def _chunk(self, index, item):
        """Chunk `index` as (X, y) arrays, checked: a pair, 2-D X, the same width."""
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(f"batches must yield (X_chunk, y_chunk) pairs; item {index} is "
                            f"a {type(item).__name__}"
                            + (f" of length {len(item)}" if isinstance(item, (tuple, list))
                               else ""))
        X, y = item
        X = X if scipy.sparse.issparse(X) else np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2:
            raise ValueError(f"X_chunk {index} must be 2-D (n_rows, n_features); got shape "
                             f"{X.shape}")
        if y.ndim == 0 or y.shape[0] != X.shape[0]:
            raise ValueError(f"chunk {index} has {X.shape[0]} rows in X_chunk but "
                             f"{1 if y.ndim == 0 else y.shape[0]} in y_chunk")
        if self.n_features is None:
            self.n_features = X.shape[1]
        elif X.shape[1] != self.n_features:
            raise ValueError(f"chunk {index} has {X.shape[1]} columns, the first chunk "
                             f"{self.n_features}: every chunk must have the same columns")
        return X, y

    def _train(self, X, y):
        shuffled = self.rng.permutation(X.shape[0])
        self.partial_fit(X[shuffled], y[shuffled], **self.fit_params)


def _stack(parts):
    """The rows of `parts` in one array (sparse if any part is), without a copy of one."""
    if len(parts) == 1:
        return parts[0]
    if any(scipy.sparse.issparse(part) for part in parts):
        return scipy.sparse.vstack(parts, format="csr")
    return np.concatenate(parts)
