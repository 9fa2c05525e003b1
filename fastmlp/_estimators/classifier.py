"""MLPClassifier: scikit-learn's MLPClassifier over fastmlp's engines, and more."""
import warnings

import numpy as np

from fastmlp._engine.registry import HIDDEN_ACTIVATIONS, SOLVERS, choices
from fastmlp._estimators.base import BaseMultilayerPerceptron, has_stochastic_solver
from fastmlp._estimators.sklearn_compat import (
    HAVE_SKLEARN,
    CallbackSupportMixin,
    ClassifierBase,
    accuracy,
    available_if,
)
from fastmlp.exceptions import DataConversionWarning
from fastmlp.schedules import SCHEDULES


class MLPClassifier(CallbackSupportMixin, ClassifierBase, BaseMultilayerPerceptron):
    """Multilayer perceptron classifier trained by backpropagation.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: the same
    parameters, defaults, loss, initialisation, shuffling order and fitted
    attributes; the training epoch runs in fused Cython kernels without the GIL.
    The parameters after ``max_fun`` are fastmlp's own.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Width of each hidden layer: ``(64, 32)`` is two hidden layers of 64 and 32
        neurons; an int is one hidden layer.
    activation : %(activations)s, default='relu'
        Hidden-layer activation (leaky_relu has slope 0.01, elu alpha 1).
    solver : %(solvers)s, default='adam'
        The minibatch solvers (sgd, adam, adamw, rmsprop) take one step per
        minibatch, over ``max_iter`` epochs at most; 'lbfgs' minimises the
        full-batch loss with scipy's L-BFGS-B, which often suits small data sets.
    alpha : float, default=1e-4
        Strength of the L2 penalty ``0.5 * alpha * ||W||^2 / sum of sample weights``.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' means ``min(200, n_samples)``. lbfgs ignores it.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        SGD's schedule (solver='sgd' only): invscaling uses ``learning_rate_init /
        (t + 1) ** power_t`` (t: samples seen), adaptive divides the rate by 5
        whenever n_iter_no_change epochs pass without a tol gain.
    learning_rate_init : float > 0, default=1e-3
        The step size of the minibatch solvers: the rate of every epoch with the
        default schedules, and the rate ``learning_rate`` and ``lr_schedule`` start
        from. lbfgs has no learning rate and ignores it.
    power_t : float >= 0, default=0.5
        The exponent of ``learning_rate='invscaling'`` (solver='sgd' only).
    max_iter : int, default=200
        Epochs for the minibatch solvers (each sample seen once per epoch);
        iterations for lbfgs. A fit that reaches max_iter before its stopping rule
        (``tol``, ``n_iter_no_change``) is met warns with
        :class:`~fastmlp.exceptions.ConvergenceWarning`.
    shuffle : bool, default=True
        Shuffle the samples before each epoch of a minibatch solver (drawn from
        random_state, in scikit-learn's order). lbfgs ignores it.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the shuffling, the validation split and dropout.
        An int gives the same model on every fit.
    tol : float >= 0, default=1e-4
        What counts as progress for a minibatch solver: an epoch whose training
        loss is not at least tol below the best so far (under early stopping: whose
        monitored validation value does not beat the best by tol) is an epoch
        without improvement (see n_iter_no_change). The 'plateau' schedule uses it
        the same way. For lbfgs, the gradient tolerance of L-BFGS-B (``gtol``).
    verbose : bool, default=False
        Print a progress line per epoch (see :class:`fastmlp.callbacks.ProgressBar`).
    warm_start : bool, default=False
        Start fit from the current weights rather than new random ones (the layers
        must be the same), appending to ``loss_curve_``; the optimizer and the
        learning-rate schedule start afresh. See also ``partial_fit``.
    momentum : float in [0, 1], default=0.9
        SGD's momentum: the fraction of the previous step added to each step
        (solver='sgd' only).
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum, which looks ahead along the previous step
        (solver='sgd' with momentum > 0 only).
    early_stopping : bool, default=False
        Hold out validation_fraction of the data (or use X_val, y_val given to fit),
        stop when the monitored validation value stops improving, and keep the best
        epoch's weights. Minibatch solvers only; lbfgs ignores it and
        ``partial_fit`` refuses it.
    validation_fraction : float in (0, 1), default=0.1
        The fraction of the training data held out as validation data under
        early_stopping (stratified for a binary problem). Not used when fit is given
        X_val and y_val.
    beta_1 : float in [0, 1), default=0.9
        Decay rate of Adam's (and AdamW's) running mean of the gradient.
    beta_2 : float in [0, 1), default=0.999
        Decay rate of Adam's (and AdamW's) running mean of the squared gradient.
    epsilon : float > 0, default=1e-8
        Added to the denominator of the steps of Adam, AdamW and RMSprop, for
        numerical stability.
    n_iter_no_change : int or inf, default=10
        A minibatch fit stops once more than n_iter_no_change epochs in a row
        went without improvement (see tol); with ``solver='sgd'`` and
        ``learning_rate='adaptive'`` the rate is divided by 5 instead.
        ``float('inf')`` never stops early.
    max_fun : int, default=15000
        Maximum loss evaluations of lbfgs (solver='lbfgs' only).
    weight_decay : float, default=0.01
        AdamW's decoupled weight decay: each step also takes ``learning_rate *
        weight_decay * W`` off the weights (not through the gradient, so Adam's
        scaling does not weaken it). Only solver='adamw' reads it; ``alpha`` remains
        the L2 term of the loss for every solver.
    rho : float, default=0.9
        RMSprop's decay of its running mean of the squared gradient (solver='rmsprop';
        its step is ``learning_rate * g / (sqrt(mean) + epsilon)``).
    dropout : float or sequence of float, default=0.0
        Inverted-dropout rate of the hidden layers' outputs during training (one rate,
        or one per hidden layer); nothing is dropped at predict time.
    class_weight : dict, 'balanced' or None, default=None
        Weight of each class in the loss ('balanced': ``n_samples / (n_classes *
        count)``), multiplied into sample_weight.
    monitor : {'validation_score', 'validation_loss'}, default='validation_score'
        What early stopping watches.
    callbacks : list of callable, default=None
        Each called as ``f(model, metrics)`` after every epoch; returning True stops
        training (see :mod:`fastmlp.callbacks`).
    n_threads : int or None, default=None
        Bound on the threads fastmlp and its BLAS use (at most 4096; beyond the cores
        this process may use, or in a forked child process, fastmlp uses fewer, and
        says so once: more threads than cores only wait for each other). None: as
        many as a minibatch's work pays for (small networks and minibatches get
        fewer: the threads meet at a few barriers per minibatch), within the cores
        this process may use and its OpenMP limit (``OMP_NUM_THREADS``, which joblib's
        and Dask's workers set, or ``threadpoolctl.threadpool_limits``). While other
        work keeps a core busy, fit hands each minibatch to one thread, which
        computes the same result: it times a few minibatches each way when the fit
        starts, when the threads' minibatches slow down, and now and then.
    engine : {'cython', 'numpy'}, default='cython'
        'numpy' runs the readable NumPy reference of the same algorithm.
    lr_schedule : %(schedules)s or callable, default='constant'
        The learning rate of each epoch, for every minibatch solver (see
        :mod:`fastmlp.schedules`): 'cosine' decays from learning_rate_init to 0 at
        the end of max_iter epochs; 'onecycle' rises from learning_rate_init / 25 to
        it over the warm-up (or 30%% of the epochs), then falls to
        learning_rate_init / 1e4; 'plateau' multiplies it by 0.2 once the validation
        loss (or without validation data, the training loss) has not fallen by more
        than tol for 3 epochs; a callable ``f(epoch, learning_rate_init) -> rate``
        (epoch from 0). ``fit`` starts the schedule again; ``partial_fit`` goes on
        with it. sgd's ``learning_rate='invscaling'`` and ``'adaptive'`` keep their
        meaning and need ``lr_schedule='constant'``. The rates used are in
        ``learning_rate_curve_``. lbfgs has no learning rate and ignores it.
    warmup_epochs : int, default=0
        Epochs of a linear rise to the schedule's rate first (epoch e of the warm-up
        runs at ``rate * (e + 1) / (warmup_epochs + 1)``); for 'onecycle', the
        length of its rise.
    label_smoothing : float in [0, 1), default=0.0
        Train on targets ``(1 - label_smoothing) * one_hot + label_smoothing / K``
        (K the classes, 2 for a logistic output), as PyTorch's CrossEntropyLoss does:
        a network that is less sure of itself often generalises better. The loss
        kernel smooths each target as it reads it (no smoothed copy of y).
        ``loss_curve_`` is that loss; validation scores and losses use the true
        labels.
    scoring : str, callable or None, default=None
        The validation score recorded in ``validation_scores_`` and watched by early
        stopping (with ``monitor='validation_score'``): any scikit-learn scorer name
        (``sklearn.metrics.get_scorer_names()``) or a callable
        ``scorer(estimator, X, y)`` with higher meaning better; None: accuracy.
    clip_norm : float > 0 or None, default=None
        Clip each minibatch's gradient by its global norm: when the Euclidean norm
        of the whole gradient (every layer's weights and biases, the L2 term left
        out, as PyTorch's ``clip_grad_norm_`` before an optimizer's weight decay)
        exceeds clip_norm, the gradient is scaled by ``clip_norm / (norm + 1e-6)``
        before the optimizer sees it. Tames the first epochs of a high learning
        rate. The minibatch solvers only (lbfgs refuses it). None: no clipping.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (for a multilabel y, ``0 .. n_labels - 1``).
    coefs_ : list of ndarray of shape (n_in, n_out)
        Layer i computes ``act(A @ coefs_[i] + intercepts_[i])``.
    intercepts_ : list of ndarray of shape (n_out,)
        The biases of each layer.
    loss_ : float
        The last epoch's loss (mean over the epoch's minibatches, L2 term included).
    loss_curve_ : list of float
        The loss of each epoch (minibatch solvers only).
    learning_rate_curve_ : list of float or None
        The learning rate of each epoch (None for lbfgs).
    best_loss_ : float or None
        The lowest training loss so far (minibatch solvers); None under early
        stopping, as scikit-learn.
    validation_scores_ : list of float or None
        The validation score (``scoring``, accuracy by default) after each epoch;
        None without validation data.
    validation_loss_curve_ : list of float or None
        Mean loss (without the L2 term) on the validation data after each epoch.
    best_validation_score_ : float or None
        The best validation score (under early stopping, the kept epoch's); None
        without validation data.
    n_iter_ : int
        The epochs (lbfgs: iterations) the last ``fit`` or ``partial_fit`` ran.
    t_ : int
        Training samples seen.
    n_features_in_ : int
        The number of features seen during fit.
    feature_names_in_ : ndarray of str
        Only when X had string column names.
    n_layers_, n_outputs_ : int
        The layers, input and output included (one more than ``len(coefs_)``), and
        the output neurons.
    out_activation_ : str
        'softmax' (multiclass) or 'logistic' (binary, multilabel).

    See Also
    --------
    MLPRegressor : The same network for regression.
    fastmlp.fit_stream : Training by ``partial_fit`` over a stream of chunks.
    fastmlp.load : Load a model written by :meth:`save`.

    Notes
    -----
    float32 input trains and predicts in float32; float64 in float64; other numeric
    input becomes float64. Ctrl-C during a minibatch ``fit`` or ``partial_fit``
    stops it within about 0.2 s, between two steps; as scikit-learn, it warns
    "Training interrupted by user." and returns the model holding the last whole
    epoch (``fastmlp.set_config(interrupt='raise')`` re-raises instead). A loss that
    becomes NaN or infinite raises :class:`fastmlp.exceptions.DivergenceError` (a
    ValueError, in scikit-learn's words) and leaves the model as it was; under
    ``early_stopping`` the fit stops there instead, warns, and keeps the best
    epoch's weights, the model scikit-learn returns. ``partial_fit`` exists only
    for the minibatch solvers (``hasattr(model, 'partial_fit')`` is False for lbfgs).

    Examples
    --------
    Hand-written digits (8x8 images, pixels 0-16): early stopping ends the fit
    once the held-out accuracy stops improving, and keeps the best epoch.

    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
    >>> model = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True,
    ...                       random_state=0).fit(X_train, y_train)
    >>> model.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> [W.shape for W in model.coefs_]
    [(64, 32), (32, 10)]
    >>> model.predict(X_test[:3]).shape, model.predict_proba(X_test[:3]).shape
    ((3,), (3, 10))
    >>> model.n_iter_ < 200   # stopped early: no ConvergenceWarning
    True
    >>> model.score(X_test, y_test) > 0.9
    True
    """

    _persisted_private_attributes = ("_multilabel",)
    _stratify = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, weight_decay=0.01, rho=0.9,
                 dropout=0.0, class_weight=None,
                 monitor="validation_score", callbacks=None, n_threads=None,
                 engine="cython", lr_schedule="constant", warmup_epochs=0,
                 label_smoothing=0.0, scoring=None, clip_norm=None):
        self._store_params(locals())

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        """Fit the network to X and labels y.

        Starts from new random weights (from the current ones with ``warm_start``)
        and trains until the stopping rule is met or for ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data; float32 data trains in float32, anything else in
            float64. A scipy.sparse matrix is used as CSR, never densified.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel problems.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        X_val, y_val : array-like, default=None
            Validation data: recorded in ``validation_scores_`` and ``validation_loss_curve_``
            after every epoch, and used by early stopping instead of a split.
            X_val must be transformed as X is (fit warns when it looks otherwise);
            y_val may hold only classes seen in y.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation samples in the validation score and loss.

        Returns
        -------
        self : MLPClassifier
            The fitted model.

        Examples
        --------
        >>> import numpy as np
        >>> from fastmlp import MLPClassifier
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 4))
        >>> y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
        >>> model = MLPClassifier((8,), learning_rate_init=0.01, batch_size=20,
        ...                       random_state=0)
        >>> model = model.fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
        >>> model.classes_
        array(['no', 'yes'], dtype='<U3')
        >>> len(model.loss_curve_) == len(model.validation_scores_) == model.n_iter_
        True
        >>> model.validation_scores_[-1] > 0.9   # accuracy on X_val, y_val
        True
        """
        return self._fit(X, y, sample_weight, X_val, y_val, incremental=False,
                         sample_weight_val=sample_weight_val)

    @available_if(has_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights and optimizer.

        For data that arrives in parts or does not fit in memory (see also
        :func:`fastmlp.fit_stream`). Each call appends one value to ``loss_curve_``
        and goes on with the optimizer's state and the learning-rate schedule; it
        never warns about convergence. Only the minibatch solvers have it, and not
        with ``early_stopping=True``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A part of the training data (after the first call, in the fitted
            dtype and with the fitted number of features).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Its class labels (a 0/1 indicator matrix for multilabel problems).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem; required on the first call (a part may
            hold only some of them), and if given later, the same.

        Returns
        -------
        self : MLPClassifier
            The model, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from fastmlp import MLPClassifier
        >>> rng = np.random.RandomState(0)
        >>> model = MLPClassifier((8,), random_state=0)
        >>> for part in range(3):
        ...     X = rng.normal(size=(50, 4))
        ...     y = (X[:, 0] > 0).astype(int)
        ...     model = model.partial_fit(X, y, classes=[0, 1])
        >>> len(model.loss_curve_), model.t_
        (3, 150)
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # --- targets ---------------------------------------------------------------------

    def _encode_targets(self, y, dtype, first_pass, incremental, classes):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            return self._encode_multilabel(y, dtype, first_pass)
        if y.ndim == 2:
            warnings.warn("A column-vector y was passed when a 1d array was expected. "
                          "Please change the shape of y to (n_samples, ), for example "
                          "using ravel().", DataConversionWarning)
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D labels or a 2-D indicator matrix; got shape "
                             f"{y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinity")
        if y.dtype.kind == "c":
            raise ValueError("Complex data not supported: y holds complex numbers")
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            raise ValueError("Unknown label type: continuous. MLPClassifier needs class "
                             "labels; use MLPRegressor for a continuous target.")
        known = getattr(self, "classes_", None)
        if incremental and (known is None or first_pass and classes is not None):
            if classes is None and known is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            known = np.unique(np.asarray(classes))
        elif incremental and classes is not None and known is not None and \
                not np.array_equal(np.unique(np.asarray(classes)), known):
            raise ValueError(f"classes={list(classes)} is not the same as on the first "
                             f"call to partial_fit: {list(known)}")
        if first_pass and not incremental:
            known = np.unique(y)
        elif not incremental and set(np.unique(y)) != set(known):
            # scikit-learn's words, for code that matches on them
            raise ValueError("warm_start can only be used where `y` has the same classes "
                             f"as in the previous call to fit. Previously got {known}, "
                             f"`y` has {np.unique(y)}")
        if len(np.setdiff1d(np.unique(y), known)):
            raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{known}. 'y' has {np.unique(y)}.")
        return self._one_hot(y, known, dtype), self._out_activation_for(known), \
            {"classes_": known, "_multilabel": False}

    def _encode_multilabel(self, y, dtype, first_pass):
        if not np.isin(y, (0, 1)).all():
            raise ValueError("a 2-D y must be a 0/1 indicator matrix (multilabel)")
        if not first_pass and (not getattr(self, "_multilabel", False)
                               or y.shape[1] != len(self.classes_)):
            raise ValueError("y does not have the labels of the previous fit")
        return (np.ascontiguousarray(y, dtype=dtype), "logistic",
                {"classes_": np.arange(y.shape[1]), "_multilabel": True})

    @staticmethod
    def _out_activation_for(classes):
        return "logistic" if len(classes) <= 2 else "softmax"

    @staticmethod
    def _one_hot(y, classes, dtype):
        indices = np.searchsorted(classes, y)
        if len(classes) <= 2:   # one logistic output: P(classes[1])
            return (indices == 1).astype(dtype).reshape(-1, 1)
        Y = np.zeros((len(y), len(classes)), dtype=dtype)
        Y[np.arange(len(y)), indices] = 1
        return Y

    def _encode_validation_targets(self, y_val, dtype, attributes):
        y_val = np.asarray(y_val)
        if attributes["_multilabel"]:
            return self._encode_multilabel(y_val, dtype, True)[0]
        y_val = y_val.ravel() if y_val.ndim == 2 else y_val
        unknown = np.setdiff1d(np.unique(y_val), attributes["classes_"])
        if len(unknown):
            raise ValueError(f"y_val has labels {list(unknown)} not seen in y")
        return self._one_hot(y_val, attributes["classes_"], dtype)

    def _decode(self, Y, attributes):
        if attributes["_multilabel"]:
            return Y.astype(int)
        indices = Y.argmax(axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(np.intp)
        return attributes["classes_"][np.minimum(indices, len(attributes["classes_"]) - 1)]

    def _weigh_classes(self, y, sample_weight, dtype, incremental):
        if self.class_weight is None:
            return sample_weight
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            raise ValueError("class_weight is not supported for multilabel y")
        y = y.ravel()
        classes, counts = np.unique(y, return_counts=True)
        if isinstance(self.class_weight, str):   # 'balanced'
            if incremental:
                raise ValueError("class_weight='balanced' needs the whole data set; pass "
                                 "a dict to partial_fit, or use fit")
            per_class = dict(zip(classes, len(y) / (len(classes) * counts)))
        else:
            per_class = dict(self.class_weight)
            for label, weight in per_class.items():
                if not np.isfinite(weight) or weight < 0:
                    raise ValueError(f"class_weight[{label!r}] must be a non-negative "
                                     f"number; got {weight!r}")
        weights = np.array([per_class.get(label, 1.0) for label in y], dtype=dtype)
        return weights if sample_weight is None else weights * sample_weight

    # --- prediction ----------------------------------------------------------------

    _prediction_attributes = (*BaseMultilayerPerceptron._prediction_attributes, "classes_",
                              "_multilabel")

    def _score_output(self, P, y, sample_weight, targets):
        return accuracy(y, self._labels_from_output(P, targets), sample_weight)

    @staticmethod
    def _labels_from_output(output, state):
        """The labels an output means, by the classes_ and _multilabel of `state` (the
        fitted attributes the output came from)."""
        if state.get("_multilabel", False):
            return (output > 0.5).astype(int)
        classes = state.get("classes_")
        if output.shape[1] == 1:
            indices = (output[:, 0] > 0.5).astype(np.intp)
            if classes is not None and len(classes) == 1:
                indices[:] = 0
        else:
            indices = output.argmax(axis=1)
        return indices if classes is None else classes[indices]

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The samples, with the features the model was fitted on.

        Returns
        -------
        y : ndarray of shape (n_samples,), or (n_samples, n_labels) if multilabel
            The most probable class of each sample (labels from ``classes_``); for
            a multilabel model, the 0/1 indicator of each label's probability
            above 0.5.

        Examples
        --------
        >>> import numpy as np
        >>> from fastmlp import MLPClassifier
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 4))
        >>> y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
        >>> model = MLPClassifier((8,), learning_rate_init=0.01, batch_size=20,
        ...                       random_state=0).fit(X, y)
        >>> model.predict([[2.0, 2.0, 0.0, 0.0], [-2.0, -2.0, 0.0, 0.0]])
        array(['yes', 'no'], dtype='<U3')
        """
        return self._labels_from_output(*self._forward(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The samples, with the features the model was fitted on.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The probability of each class (columns in the order of ``classes_``),
            in the fitted dtype; rows sum to 1 unless the problem is multilabel,
            where column j is the probability of label j.

        Examples
        --------
        >>> import numpy as np
        >>> from fastmlp import MLPClassifier
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 4))
        >>> y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
        >>> model = MLPClassifier((8,), learning_rate_init=0.01, batch_size=20,
        ...                       random_state=0).fit(X, y)
        >>> proba = model.predict_proba([[2.0, 2.0, 0.0, 0.0], [-2.0, -2.0, 0.0, 0.0]])
        >>> proba.shape, proba.dtype
        ((2, 2), dtype('float64'))
        >>> proba.sum(axis=1).round(6)
        array([1., 1.])
        >>> model.classes_[proba.argmax(axis=1)]
        array(['yes', 'no'], dtype='<U3')
        """
        proba, state = self._forward(X)
        if proba.shape[1] == 1 and not state.get("_multilabel", False):
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The samples, with the features the model was fitted on.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``np.log(predict_proba(X))``: -inf where a probability is 0.

        Examples
        --------
        >>> import numpy as np
        >>> from fastmlp import MLPClassifier
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 4))
        >>> y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
        >>> model = MLPClassifier((8,), learning_rate_init=0.01, batch_size=20,
        ...                       random_state=0).fit(X, y)
        >>> log_proba = model.predict_log_proba(X[:3])
        >>> log_proba.shape
        (3, 2)
        >>> np.allclose(np.exp(log_proba), model.predict_proba(X[:3]))
        True
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    if HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.classifier_tags.multi_label = True
            return tags


# The docstring's lists of activations and solvers are the registry's.
MLPClassifier.__doc__ %= {"activations": choices(HIDDEN_ACTIVATIONS),
                          "solvers": choices(SOLVERS), "schedules": choices(SCHEDULES)}
