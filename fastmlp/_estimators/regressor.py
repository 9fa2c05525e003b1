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
    parameters of :class:`fastmlp.MLPClassifier` but class_weight, plus ``loss``,
    and has its fitted attributes but classes_; ``validation_scores_`` hold R^2.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        'squared_error': half the mean squared error over the outputs, identity
        output. 'poisson': half the Poisson deviance with an exp output (log link);
        y must be non-negative.
    scoring : str, callable or None, default=None
        As :class:`fastmlp.MLPClassifier`'s; None: R^2.
    **other parameters
        As :class:`fastmlp.MLPClassifier` (hidden_layer_sizes ... warmup_epochs,
        scoring, clip_norm).

    Attributes
    ----------
    out_activation_ : str
        'identity', or 'exp' for the Poisson loss.
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, validation_scores_, \
validation_loss_curve_, best_validation_score_, learning_rate_curve_, n_iter_, t_, \
n_features_in_, feature_names_in_, n_layers_, n_outputs_
        As :class:`fastmlp.MLPClassifier`.
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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        X_val, y_val : array-like, default=None
            Validation data (see :meth:`fastmlp.MLPClassifier.fit`).
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation samples in the validation score and loss.

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight, X_val, y_val, incremental=False,
                         sample_weight_val=sample_weight_val)

    @available_if(has_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and optimizer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressor
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
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        output, state = self._forward(X)
        return output.ravel() if state.get("_y_was_1d", False) else output

    if HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.target_tags.multi_output = True
            return tags
