"""MLPRegressor: scikit-learn's MLPRegressor over fastmlp's engines, and more."""
import numpy as np

from fastmlp._estimators.base import BaseMultilayerPerceptron, has_stochastic_solver
from fastmlp._estimators.sklearn_compat import (
    HAVE_SKLEARN,
    CallbackSupportMixin,
    RegressorBase,
    available_if,
    r2,
)
from fastmlp._estimators.validation import check_targets


class MLPRegressor(CallbackSupportMixin, RegressorBase, BaseMultilayerPerceptron):
    """Multilayer perceptron regressor trained by backpropagation.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`. It takes the
    parameters of :class:`fastmlp.MLPClassifier` but class_weight and
    label_smoothing, plus ``loss``, and has its fitted attributes but ``classes_``;
    ``validation_scores_`` hold R^2 unless ``scoring`` says otherwise. The output
    layer has one neuron per target column.

    Parameters
    ----------
    hidden_layer_sizes, activation
        As :class:`fastmlp.MLPClassifier`: the width of each hidden layer
        (default ``(100,)``) and their activation (default 'relu').
    loss : {'squared_error', 'poisson'}, default='squared_error'
        'squared_error': half the mean squared error over the outputs, identity
        output. 'poisson': half the Poisson deviance with an exp output (log link);
        y must be non-negative.
    solver, alpha, batch_size, learning_rate, learning_rate_init, power_t, \
max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, \
nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon, \
n_iter_no_change, max_fun, weight_decay, rho, dropout, monitor, callbacks, \
n_threads, engine, lr_schedule, warmup_epochs
        As :class:`fastmlp.MLPClassifier`, with the same defaults; the validation
        split of early_stopping is not stratified.
    scoring : str, callable or None, default=None
        As :class:`fastmlp.MLPClassifier`'s (a scikit-learn scorer name such as
        'neg_mean_absolute_error', or ``scorer(estimator, X, y)``, higher is
        better); None: R^2.
    clip_norm : float > 0 or None, default=None
        As :class:`fastmlp.MLPClassifier`.

    Attributes
    ----------
    out_activation_ : str
        'identity', or 'exp' for the Poisson loss.
    n_outputs_ : int
        The number of target columns (1 for a 1-D y).
    validation_scores_ : list of float or None
        The validation score (``scoring``, R^2 by default) after each epoch; None
        without validation data.
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, \
validation_loss_curve_, best_validation_score_, learning_rate_curve_, n_iter_, t_, \
n_features_in_, feature_names_in_, n_layers_
        As :class:`fastmlp.MLPClassifier`.

    See Also
    --------
    MLPClassifier : The same network for classification, and the parameters.

    Notes
    -----
    As scikit-learn's, MLPRegressor does not scale its targets: targets of a
    large magnitude train better standardised (for instance with
    :class:`sklearn.compose.TransformedTargetRegressor`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlp import MLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=200)
    >>> model = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01,
    ...                      random_state=0).fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> model.out_activation_, model.n_outputs_
    ('identity', 1)
    >>> model.score(X, y) > 0.95   # R^2
    True
    """

    _persisted_private_attributes = ("_y_was_1d",)
    _stratify = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, weight_decay=0.01, rho=0.9, dropout=0.0,
                 monitor="validation_score", callbacks=None, n_threads=None,
                 engine="cython", lr_schedule="constant", warmup_epochs=0, scoring=None,
                 clip_norm=None):
        self._store_params(locals())

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        """Fit the network to X and targets y.

        Starts from new random weights (from the current ones with ``warm_start``)
        and trains until the stopping rule is met or for ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data; float32 data trains in float32, anything else in
            float64. A scipy.sparse matrix is used as CSR, never densified.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets: one column per output (non-negative for
            ``loss='poisson'``). A 1-D y gives 1-D predictions.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.
        X_val, y_val : array-like, default=None
            Validation data (see :meth:`fastmlp.MLPClassifier.fit`).
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation samples in the validation score and loss.

        Returns
        -------
        self : MLPRegressor
            The fitted model.

        Examples
        --------
        Two targets at once, and the validation R^2 of every epoch:

        >>> import numpy as np
        >>> from fastmlp import MLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(250, 3))
        >>> Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] ** 2])
        >>> model = MLPRegressor((16,), learning_rate_init=0.01, batch_size=20,
        ...                      random_state=0)
        >>> model = model.fit(X[:200], Y[:200], X_val=X[200:], y_val=Y[200:])
        >>> model.n_outputs_, model.predict(X[:5]).shape
        (2, (5, 2))
        >>> len(model.validation_scores_) == model.n_iter_
        True
        >>> model.validation_scores_[-1] > 0.9
        True
        """
        return self._fit(X, y, sample_weight, X_val, y_val, incremental=False,
                         sample_weight_val=sample_weight_val)

    @available_if(has_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
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
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets, with the outputs of the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss.

        Returns
        -------
        self : MLPRegressor
            The model, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from fastmlp import MLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> model = MLPRegressor((8,), random_state=0)
        >>> for part in range(4):
        ...     X = rng.normal(size=(50, 3))
        ...     model = model.partial_fit(X, X.sum(axis=1))
        >>> len(model.loss_curve_), model.t_
        (4, 200)
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, dtype, first_pass, incremental, classes):
        y_array = np.asarray(y)
        Y = check_targets(y_array, dtype)
        if self.loss == "poisson" and (Y < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for "
                             "Poisson regression.")
        if not first_pass and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, the model {self.n_outputs_}")
        out_activation = "exp" if self.loss == "poisson" else "identity"
        return Y, out_activation, {"_y_was_1d": y_array.ndim == 1}

    def _encode_validation_targets(self, y_val, dtype, attributes):
        return check_targets(np.asarray(y_val), dtype)

    def _decode(self, Y, attributes):
        return Y

    def _weigh_classes(self, y, sample_weight, dtype, incremental):
        return sample_weight

    _prediction_attributes = (*BaseMultilayerPerceptron._prediction_attributes, "_y_was_1d")

    def _score_output(self, P, y, sample_weight, targets):
        return r2(y, P, sample_weight)

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The samples, with the features the model was fitted on.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The network's output, in the fitted dtype: 1-D when the model was
            fitted on a 1-D y.

        Examples
        --------
        >>> import numpy as np
        >>> from fastmlp import MLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 3)).astype(np.float32)
        >>> y = X @ [1.0, -2.0, 0.5]
        >>> model = MLPRegressor((16,), learning_rate_init=0.01, random_state=0).fit(X, y)
        >>> prediction = model.predict(X[:4])
        >>> prediction.shape, prediction.dtype   # float32 in, float32 out
        ((4,), dtype('float32'))
        >>> bool(np.abs(prediction - y[:4]).max() < 0.5)
        True
        """
        output, state = self._forward(X)
        return output.ravel() if state.get("_y_was_1d", False) else output

    if HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.target_tags.multi_output = True
            return tags
