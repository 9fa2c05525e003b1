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
        Width of each hidden layer.
    activation : %(activations)s, default='relu'
        Hidden-layer activation (leaky_relu has slope 0.01, elu alpha 1).
    solver : %(solvers)s, default='adam'
        'lbfgs' minimises the full-batch loss with scipy's L-BFGS-B.
    alpha : float, default=1e-4
        Strength of the L2 penalty ``0.5 * alpha * ||W||^2 / sum of sample weights``.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' means ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        SGD's schedule: invscaling uses ``learning_rate_init / (t + 1) ** power_t`` (t:
        samples seen), adaptive divides the rate by 5 whenever n_iter_no_change epochs
        pass without a tol gain.
    learning_rate_init : float, default=1e-3
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs for sgd/adam; iterations for lbfgs.
    shuffle : bool, default=True
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the shuffling, the validation split and dropout.
    tol : float, default=1e-4
    verbose : bool, default=False
        Print a progress line per epoch (see :class:`fastmlp.callbacks.ProgressBar`).
    warm_start : bool, default=False
        Start fit from the current weights.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out validation_fraction of the data (or use X_val, y_val given to fit),
        stop when the monitored validation value stops improving, and keep the best
        epoch's weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        Maximum loss evaluations of lbfgs.
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

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray of shape (n_in, n_out)
        Layer i computes ``act(A @ coefs_[i] + intercepts_[i])``.
    intercepts_ : list of ndarray of shape (n_out,)
    loss_ : float
        The last epoch's loss (mean over the epoch's minibatches, L2 term included).
    loss_curve_ : list of float
    learning_rate_curve_ : list of float or None
        The learning rate of each epoch (None for lbfgs).
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Accuracy on the validation data after each epoch.
    validation_loss_curve_ : list of float or None
        Mean loss (without the L2 term) on the validation data after each epoch.
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names.
    n_layers_, n_outputs_ : int
    out_activation_ : str
        'softmax' (multiclass) or 'logistic' (binary, multilabel).

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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel problems.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        X_val, y_val : array-like, default=None
            Validation data: recorded in validation_scores_ and validation_loss_curve_
            after every epoch, and used by early stopping instead of a split.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation samples in the validation score and loss.

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, sample_weight, X_val, y_val, incremental=False,
                         sample_weight_val=sample_weight_val)

    @available_if(has_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights and optimizer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem; required on the first call.

        Returns
        -------
        self : MLPClassifier
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
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,), or (n_samples, n_labels) if multilabel
        """
        return self._labels_from_output(*self._forward(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            In the fitted dtype; rows sum to 1 unless the problem is multilabel.
        """
        proba, state = self._forward(X)
        if proba.shape[1] == 1 and not state.get("_multilabel", False):
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
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
