"""MLPClassifier and MLPRegressor: scikit-learn's API over fastmlp's engines."""
import warnings
from types import SimpleNamespace

import numpy as np

from fastmlp._codes import LOSS_FOR_OUTPUT
from fastmlp._engines import ENGINES
from fastmlp._layout import ParameterLayout, glorot_uniform
from fastmlp._params import ParamsMixin
from fastmlp._state import TrainingState
from fastmlp._validation import (check_hyperparameters, check_is_fitted, check_targets,
                                 check_X, check_y_length)
from fastmlp.exceptions import ConvergenceWarning, DivergenceError


def check_random_state(seed):
    """A RandomState from None (numpy's global one), an int, or a RandomState."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    raise ValueError(f"random_state must be None, an int or a numpy RandomState; got {seed!r}")


class BaseMultilayerPerceptron(ParamsMixin):
    """Shared hyper-parameters, fit loop and forward pass of the two estimators."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate_init=0.001, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, momentum=0.9,
                 nesterovs_momentum=True, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, engine="cython"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.engine = engine

    # --- fitting -------------------------------------------------------------------

    def _fit(self, X, y):
        hidden = check_hyperparameters(self.get_params(), ENGINES)
        X = check_X(X)
        check_y_length(X, y)
        Y, out_activation, target_attributes = self._encode_targets(y, X.dtype)
        self.__dict__.update(   # publish everything at once
            self._fit_stochastic(X, Y, hidden, out_activation, target_attributes))
        return self

    def _start_training(self, X, Y, hidden, out_activation):
        """Everything one stochastic fit needs, allocated once: state, engine, order."""
        n_samples, n_features = X.shape
        layout = ParameterLayout([n_features, *hidden, Y.shape[1]])
        rng = check_random_state(self.random_state)
        state = TrainingState(glorot_uniform(layout, self.activation, rng, X.dtype))
        batch_size = self._batch_size(n_samples)
        config = SimpleNamespace(
            activation=self.activation, out_activation=out_activation,
            loss=LOSS_FOR_OUTPUT[out_activation], solver=self.solver, alpha=self.alpha,
            learning_rate=self.learning_rate_init, momentum=self.momentum,
            nesterov=self.nesterovs_momentum, beta_1=self.beta_1, beta_2=self.beta_2,
            epsilon=self.epsilon)
        return SimpleNamespace(
            layout=layout, rng=rng, state=state, config=config, shuffle=self.shuffle,
            engine=ENGINES[self.engine](layout, batch_size, X.dtype),
            order=np.arange(n_samples, dtype=np.intp))

    @staticmethod
    def _run_epoch(training, X, Y):
        """One epoch in place on training.state; returns the epoch's mean loss."""
        if training.shuffle:
            training.rng.shuffle(training.order)   # in place, as scikit-learn: same order
        loss_sum, diverged = training.engine.train_epoch(training.state, X, Y,
                                                         training.order, training.config)
        if diverged:
            raise DivergenceError(
                "the training loss became NaN or infinite; try a smaller "
                "learning_rate_init or scaling X. The model was left as it was before fit.")
        return loss_sum / X.shape[0]

    def _fit_stochastic(self, X, Y, hidden, out_activation, target_attributes):
        """Minibatch training; returns the fitted attributes, leaving self untouched."""
        training = self._start_training(X, Y, hidden, out_activation)
        loss_curve, best_loss, no_improvement = [], np.inf, 0

        def fitted_attributes():
            coefs, intercepts = training.layout.unpack(training.state.params)
            return dict(coefs_=coefs, intercepts_=intercepts, loss_=loss_curve[-1],
                        loss_curve_=list(loss_curve), best_loss_=best_loss,
                        n_iter_=len(loss_curve), t_=len(loss_curve) * X.shape[0],
                        n_features_in_=X.shape[1], n_layers_=training.layout.n_layers + 1,
                        n_outputs_=Y.shape[1], out_activation_=out_activation,
                        **target_attributes)

        try:
            for _ in range(self.max_iter):
                loss_curve.append(self._run_epoch(training, X, Y))
                if self.verbose:
                    print(f"Iteration {len(loss_curve)}, loss = {loss_curve[-1]:.8f}")
                if loss_curve[-1] > best_loss - self.tol:
                    no_improvement += 1
                else:
                    no_improvement = 0
                best_loss = min(best_loss, loss_curve[-1])
                if no_improvement > self.n_iter_no_change:
                    if self.verbose:
                        print(f"Training loss did not improve more than tol={self.tol} for "
                              f"{self.n_iter_no_change} consecutive epochs. Stopping.")
                    break
            else:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              "reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
        except KeyboardInterrupt:
            # Ctrl-C: keep what finished epochs learned, as scikit-learn does; the
            # Cython engine stops between two complete steps. Nothing finished: the
            # model stays as it was.
            if loss_curve:
                self.__dict__.update(fitted_attributes())
            raise
        return fitted_attributes()

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(f"Got batch_size={self.batch_size} > n_samples={n_samples}; "
                          "it is clipped to n_samples.")
        return min(self.batch_size, n_samples)

    # --- prediction ----------------------------------------------------------------

    def _forward(self, X):
        """The network's output for X, in the fitted dtype."""
        check_is_fitted(self)
        X = check_X(X, dtype=self.coefs_[0].dtype, n_features=self.n_features_in_)
        coefs = [np.ascontiguousarray(c, dtype=X.dtype) for c in self.coefs_]
        intercepts = [np.ascontiguousarray(b, dtype=X.dtype) for b in self.intercepts_]
        engine = ENGINES[self.engine] if self.engine in ENGINES else ENGINES["cython"]
        return engine.predict(coefs, intercepts, X, self.activation, self.out_activation_)


class MLPClassifier(BaseMultilayerPerceptron):
    """Multilayer perceptron classifier trained by backpropagation (Adam or SGD).

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` with the same
    parameter names, defaults, loss and initialisation; the epoch runs in fused
    Cython kernels without the GIL.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer.
    activation : {'relu', 'tanh', 'logistic', 'identity', 'leaky_relu', 'elu'}, default='relu'
        Hidden-layer activation.
    solver : {'adam', 'sgd'}, default='adam'
    alpha : float, default=1e-4
        Strength of the L2 penalty ``0.5 * alpha * ||W||^2 / batch_size``.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' means ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-3
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the samples before each epoch.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights and the shuffling; the same seed gives the same model.
    tol : float, default=1e-4
        Training stops when the loss has not improved by tol for n_iter_no_change epochs.
    verbose : bool, default=False
        Print the loss after each epoch.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
    beta_1, beta_2, epsilon : float
        Adam's parameters (0.9, 0.999, 1e-8).
    n_iter_no_change : int, default=10
    engine : {'cython', 'numpy'}, default='cython'
        'numpy' runs the readable NumPy reference of the same algorithm.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights per layer: layer i computes ``act(A @ coefs_[i] + intercepts_[i])``.
    intercepts_ : list of ndarray of shape (n_out,)
    loss_ : float
        Loss of the last epoch (mean over the epoch's minibatches, L2 term included).
    loss_curve_ : list of float
    best_loss_ : float
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.
    n_features_in_, n_layers_, n_outputs_ : int
    out_activation_ : str
        'softmax' (multiclass) or 'logistic' (binary, multilabel).

    Notes
    -----
    float32 input trains and predicts in float32; float64 in float64; other
    numeric input is converted to float64. Ctrl-C during ``fit`` stops within
    about 0.2 s; if an epoch had finished, the model keeps the weights reached.
    A loss that becomes NaN or infinite raises :class:`fastmlp.exceptions.DivergenceError`
    and leaves the model as it was.
    """

    def fit(self, X, y):
        """Fit the network to X (n_samples, n_features) and labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel problems.

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y)

    def _encode_targets(self, y, dtype):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:                  # multilabel indicator
            if not np.isin(y, (0, 1)).all():
                raise ValueError("a 2-D y must be a 0/1 indicator matrix (multilabel)")
            return (np.ascontiguousarray(y, dtype=dtype), "logistic",
                    {"classes_": np.arange(y.shape[1]), "_multilabel": True})
        if y.ndim == 2:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D labels; got shape {y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinity")
        classes, indices = np.unique(y, return_inverse=True)
        if len(classes) <= 2:   # one logistic output: P(classes[1])
            Y = (indices == 1).astype(dtype).reshape(-1, 1)
            out_activation = "logistic"
        else:
            Y = np.zeros((len(y), len(classes)), dtype=dtype)
            Y[np.arange(len(y)), indices] = 1
            out_activation = "softmax"
        return Y, out_activation, {"classes_": classes, "_multilabel": False}

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
        proba = self._forward(X)
        if proba.shape[1] == 1 and not self._multilabel:
            return np.hstack([1 - proba, proba])
        return proba

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,), or (n_samples, n_labels) if multilabel
        """
        output = self._forward(X)
        if self._multilabel:
            return (output > 0.5).astype(int)
        if output.shape[1] == 1:
            indices = (output[:, 0] > 0.5).astype(np.intp)
            if len(self.classes_) == 1:
                indices[:] = 0
        else:
            indices = output.argmax(axis=1)
        return self.classes_[indices]

    def score(self, X, y):
        """Mean accuracy on (X, y) (subset accuracy for multilabel).

        Returns
        -------
        score : float
        """
        predicted = self.predict(X)
        y = np.asarray(y)
        if self._multilabel:
            return float(np.mean(np.all(predicted == y, axis=1)))
        return float(np.mean(predicted == y.reshape(predicted.shape)))


class MLPRegressor(BaseMultilayerPerceptron):
    """Multilayer perceptron regressor (squared error, identity output).

    Takes the same parameters as :class:`MLPClassifier` and has the same fitted
    attributes, less ``classes_``; ``out_activation_`` is 'identity'. A drop-in
    for :class:`sklearn.neural_network.MLPRegressor`.
    """

    def fit(self, X, y):
        """Fit the network to X (n_samples, n_features) and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y)

    def _encode_targets(self, y, dtype):
        y_array = np.asarray(y)
        Y = check_targets(y_array, dtype)
        return Y, "identity", {"_y_was_1d": y_array.ndim == 1}

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        output = self._forward(X)
        return output.ravel() if self._y_was_1d else output

    def score(self, X, y):
        """Coefficient of determination R^2 of the prediction (averaged over outputs).

        Returns
        -------
        score : float
        """
        predicted = self.predict(X).reshape(len(X), -1).astype(np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(predicted.shape)
        residual = ((y - predicted) ** 2).sum(axis=0)
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1),
                          np.where(residual == 0, 1.0, 0.0))
        return float(np.mean(r2))
