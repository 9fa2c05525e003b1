"""What MLPClassifier and MLPRegressor share: the fit loops and the forward pass.

A fit validates everything first, then trains on a private flat state (see
fastmlp/_engine/state.py) and publishes the fitted attributes all at once after every epoch,
so the model always holds whole epochs: Ctrl-C keeps the last one, and an error
(a diverging loss) puts back what the model held before the fit.
"""
import copy
import time
import warnings
from types import SimpleNamespace

import numpy as np
import scipy.optimize
import scipy.sparse

from fastmlp import reference
from fastmlp._engine import threads
from fastmlp._engine.config import TrainingConfig
from fastmlp._engine.engines import ENGINES
from fastmlp._engine.layout import ParameterLayout, glorot_uniform
from fastmlp._engine.registry import ACTIVATIONS, LOSS_FOR_OUTPUT, LOSSES
from fastmlp._engine.state import TrainingState
from fastmlp._estimators import out_of_core
from fastmlp._estimators.sklearn_compat import (
    HAVE_SKLEARN,
    EstimatorBase,
    FitTasks,
    get_scorer,
    with_callbacks,
)
from fastmlp._estimators.validation import (
    all_finite,
    check_dropout,
    check_hyperparameters,
    check_sample_weight,
    check_X,
    check_y,
)
from fastmlp._kernels import gradient
from fastmlp._kernels.row_predict import RowPlan, RowPredictor
from fastmlp.callbacks import ProgressBar
from fastmlp.config import get_config
from fastmlp.exceptions import ConvergenceWarning, DivergenceError, NotFittedError
from fastmlp.schedules import Plateau, schedule_for

# scikit-learn's words for a fit whose weights became NaN or infinite: every
# DivergenceError starts with them, so code that matches on them works with both.
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may "
                      "contain large values and need to be preprocessed.")


# X_val's columns sit this many of X's standard deviations away from X's means (the
# median over the columns): X_val was not transformed as X was. Two samples of the
# same data differ by about 1 / sqrt(rows) standard deviations.
UNLIKE_STANDARD_DEVIATIONS = 2.0
STATISTICS_ROWS = 10_000


def _warn_if_unlike(X, X_val):
    """Warn when X_val looks transformed unlike X: inside a Pipeline, fit parameters
    such as X_val reach the last step as they were given, untransformed."""
    if scipy.sparse.issparse(X) or scipy.sparse.issparse(X_val) or X.shape[0] < 2:
        return
    # every k-th row, at most STATISTICS_ROWS of each: X.std makes a float64 copy
    X = X[::max(1, X.shape[0] // STATISTICS_ROWS)]
    X_val = X_val[::max(1, X_val.shape[0] // STATISTICS_ROWS)]
    mean, std = X.mean(axis=0, dtype=np.float64), X.std(axis=0, dtype=np.float64)
    shift = np.abs(X_val.mean(axis=0, dtype=np.float64) - mean)
    varying = std > 0
    if not varying.any():
        return
    distance = float(np.median(shift[varying] / std[varying]))
    if distance > UNLIKE_STANDARD_DEVIATIONS:
        warnings.warn(
            f"X_val's column means sit {distance:.1f} standard deviations (the median "
            "over the columns) from X's: was X_val transformed as X was? Inside a "
            "Pipeline, pipe.fit(..., step__X_val=...) passes X_val to the step "
            "untransformed; with scikit-learn's metadata routing on "
            "(sklearn.set_config(enable_metadata_routing=True)), use "
            "Pipeline(..., transform_input=['X_val']) and "
            "step.set_fit_request(X_val=True, y_val=True), or transform X_val with "
            "pipe[:-1].transform first.", UserWarning, stacklevel=4)


def has_stochastic_solver(estimator):
    """partial_fit's condition (scikit-learn's, with its words): not the full-batch
    solver. An unknown solver keeps partial_fit, whose call then names the bad value
    in a ValueError (scikit-learn hides it there too, leaving an AttributeError)."""
    if estimator.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic optimizers. "
                             f"{estimator.solver} is not stochastic.")
    return True


def check_random_state(seed):
    """A RandomState from None (numpy's global one), an int, or a RandomState."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    raise ValueError(f"random_state must be None, an int or a numpy RandomState; got {seed!r}")


def feature_names(X):
    """The column names of a DataFrame-like X when they are all strings, else None."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if len(names) and all(isinstance(n, str) for n in names) else None


def _check_feature_names(fitted_names, X, estimator_name):
    """Warn or raise, as scikit-learn does, when X's column names differ from fit's."""
    names = feature_names(X)
    if fitted_names is None and names is not None:
        warnings.warn(f"X has feature names, but {estimator_name} was fitted "
                      "without feature names")
    elif fitted_names is not None and names is None:
        warnings.warn(f"X does not have valid feature names, but {estimator_name} "
                      "was fitted with feature names")
    elif fitted_names is not None and list(names) != list(fitted_names):
        raise ValueError("The feature names should match those that were passed during "
                         f"fit: got {list(names)}, expected {list(fitted_names)}")


def _checked_network(state, estimator_name):
    """(coefs, intercepts) of a model's attributes `state`, C-contiguous, once they form
    one network: NotFittedError without them, ValueError when they do not chain."""
    if "coefs_" not in state or "intercepts_" not in state:
        raise NotFittedError(f"This {estimator_name} instance is not fitted yet; call fit "
                             "first.")
    coefs, intercepts = state["coefs_"], state["intercepts_"]
    if not (isinstance(coefs, (list, tuple)) and isinstance(intercepts, (list, tuple))
            and len(coefs) == len(intercepts) >= 1):
        raise ValueError("coefs_ and intercepts_ must be lists of one array per layer")
    dtype = np.asarray(coefs[0]).dtype
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"coefs_ must be float32 or float64 arrays; got {dtype}")
    coefs = [np.ascontiguousarray(c, dtype=dtype) for c in coefs]
    intercepts = [np.ascontiguousarray(b, dtype=dtype) for b in intercepts]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        if (W.ndim != 2 or b.shape != (W.shape[1],) or 0 in W.shape
                or (i and W.shape[0] != coefs[i - 1].shape[1])):
            raise ValueError(f"the fitted weights do not chain: coefs_[{i}] has shape "
                             f"{W.shape}, intercepts_[{i}] {b.shape}"
                             + (f", coefs_[{i - 1}] {coefs[i - 1].shape}" if i else ""))
    return coefs, intercepts


def _largest_magnitude(X):
    values = X.data if scipy.sparse.issparse(X) else X
    return float(np.max(np.abs(values), initial=0.0))


def _end_progress(callbacks, message=None, summary=True):
    """End what the fit's ProgressBars print: a live line is finished, before a warning
    or a traceback would go on from it; then `message`, why the fit stopped, comes
    after the last epoch's line (then a live display's summary, unless not `summary`)."""
    for callback in callbacks:
        if isinstance(callback, ProgressBar):
            callback.end(message, summary)


class BaseMultilayerPerceptron(EstimatorBase):
    """Shared fit loops and forward pass; see MLPClassifier for the parameters.

    X may be a scipy.sparse matrix (any format; used as CSR): the first layer then
    reads its rows in place, and X is never densified.
    """

    # Private state that belongs to a fitted model (saved by model.save).
    _persisted_private_attributes = ()

    def _store_params(self, arguments):
        """__init__ stores its arguments as they are, scikit-learn's rule (no checks:
        fit validates)."""
        for name, value in arguments.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # --- fitting -------------------------------------------------------------------

    @with_callbacks   # scikit-learn's callbacks are torn down however the fit ends
    def _fit(self, X, y, sample_weight=None, X_val=None, y_val=None, incremental=False,
             classes=None, sample_weight_val=None):
        given = dict(X=X, y=y, sample_weight=sample_weight)   # for scikit-learn's callbacks
        hidden = check_hyperparameters(self.get_params(), ENGINES)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        fitted = hasattr(self, "coefs_")
        first_pass = not fitted or (not self.warm_start and not incremental)
        names = feature_names(X)
        dtype = None if first_pass else self.coefs_[0].dtype
        # a large np.memmap is checked, and trained on, chunk by chunk (out_of_core.py)
        check = out_of_core.check_X if out_of_core.reads_by_chunks(X, self.solver, dtype) \
            else check_X
        X = check(X, dtype=dtype, n_features=None if first_pass else self.n_features_in_,
                  estimator_name=type(self).__name__)
        y = check_y(y, X, type(self).__name__)
        Y, out_activation, target_attributes = self._encode_targets(
            y, X.dtype, first_pass, incremental, classes)
        sample_weight = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        sample_weight = self._weigh_classes(y, sample_weight, X.dtype, incremental)
        if not first_pass:
            self._check_layers(hidden)
        # One random state for the initial weights, then the validation split, then
        # the shuffling: scikit-learn's order, so the same seed gives its model.
        rng = check_random_state(self.random_state)
        layout = ParameterLayout([X.shape[1], *hidden, Y.shape[1]])
        params = self._initial_parameters(layout, rng, X.dtype, first_pass)
        validation = self._validation_data(X, Y, sample_weight, X_val, y_val, out_activation,
                                           target_attributes, rng, sample_weight_val)
        if validation is not None and validation.split:
            X, Y, sample_weight = validation.train

        # before `before`: the callbacks' context must survive a restore, for teardown
        tasks = FitTasks(self, "partial_fit" if incremental else "fit",
                         1 if incremental else self.max_iter, **given)
        before = dict(self.__dict__)
        try:
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, Y, sample_weight, validation, layout, params,
                                out_activation, target_attributes, names, tasks)
            else:
                self._fit_stochastic(X, Y, sample_weight, validation, layout, params, rng,
                                     out_activation, first_pass, incremental,
                                     target_attributes, names, tasks)
        except DivergenceError:
            self.__dict__.clear()
            self.__dict__.update(before)   # the model as it was before this fit
            raise
        tasks.end()
        return self

    def _check_layers(self, hidden):
        widths = tuple(c.shape[1] for c in self.coefs_[:-1])
        if widths != hidden:
            raise ValueError(f"hidden_layer_sizes is {hidden} but the fitted model has "
                             f"{widths}; warm_start and partial_fit need the same layers")

    def _initial_parameters(self, layout, rng, dtype, first_pass):
        if first_pass:
            return glorot_uniform(layout, self.activation, rng, dtype)
        return layout.pack(self.coefs_, self.intercepts_, dtype)

    def _common_attributes(self, layout, X, Y, out_activation, target_attributes, names):
        attributes = dict(n_features_in_=X.shape[1], n_layers_=layout.n_layers + 1,
                          n_outputs_=Y.shape[1], out_activation_=out_activation,
                          _row_predictor=RowPredictor(), **target_attributes)
        if names is not None:
            attributes["feature_names_in_"] = names
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_
        return attributes

    def _engine(self, layout, config, X):
        n_threads = self.n_threads
        if n_threads is not None:
            n_threads = threads.thread_count(n_threads) if threads.can_bound_blas() else 1
        return ENGINES[self.engine](layout, config, X.dtype, n_threads=n_threads,
                                    dense_input=not scipy.sparse.issparse(X))

    # --- minibatch solvers (sgd, adam) ----------------------------------------------

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str):   # 'auto'
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(f"Got batch_size={self.batch_size} > n_samples={n_samples}; "
                          "it is clipped to n_samples.")
        return min(self.batch_size, n_samples)

    def _start_training(self, X, Y, layout, params, rng, out_activation, first_pass=True,
                        incremental=False):
        """Everything one stochastic fit needs, allocated once: state, engine, order."""
        n_samples = X.shape[0]
        previous = getattr(self, "_solver_state", None)
        if incremental and not first_pass and previous is not None \
                and previous.solver == self.solver and previous.params.shape == params.shape \
                and previous.params.dtype == X.dtype:
            # partial_fit goes on with its optimizer, on a copy: a failed call must leave
            # the model's optimizer state as it was, not only its weights
            state = previous.copy()
            np.copyto(state.params, params)     # and with coefs_ as they are now
        else:
            state = TrainingState(params, self.solver)
        dropout = check_dropout(self.dropout, layout.n_layers - 1)
        config = TrainingConfig.from_params(
            self.get_params(), out_activation, self._batch_size(n_samples), dropout,
            dropout_seed=int(rng.randint(2**62)) if dropout is not None else 0)
        if incremental and not first_pass:
            config.learning_rate = getattr(self, "_learning_rate", self.learning_rate_init)
        return SimpleNamespace(
            layout=layout, rng=rng, state=state, config=config, shuffle=self.shuffle,
            engine=self._engine(layout, config, X), order=np.arange(n_samples, dtype=np.intp))

    @staticmethod
    def _run_epoch(training, X, Y, sample_weight=None):
        """One epoch in place on training.state; returns the epoch's mean loss."""
        if isinstance(X, out_of_core.MemmapRows):   # a large np.memmap: by chunks
            loss_sum, diverged = X.train_epoch(training, Y, sample_weight)
        else:
            if training.shuffle:
                training.rng.shuffle(training.order)   # in place, as scikit-learn: same order
            loss_sum, diverged = training.engine.train_epoch(
                training.state, X, Y, sample_weight, training.order, training.config)
        # A step stops at a non-finite minibatch loss before its update; but a float32
        # gradient may overflow while the loss (summed in float64) stays finite, and
        # the L2 term of huge weights may overflow after the last step: the epoch's
        # loss and weights are checked too (one pass over the parameters).
        if diverged or not np.isfinite(loss_sum) or not all_finite(training.state.params):
            raise DivergenceError(
                f"{NON_FINITE_WEIGHTS} The training loss or the weights became NaN or "
                "infinite; try a smaller learning_rate_init or scaling X. The model was "
                "left as it was before fit.")
        return loss_sum / X.shape[0]

    def _fit_stochastic(self, X, Y, sample_weight, validation, layout, params, rng,
                        out_activation, first_pass, incremental, target_attributes, names,
                        tasks):
        training = self._start_training(X, Y, layout, params, rng, out_activation, first_pass,
                                        incremental)
        state = training.state
        restart = first_pass
        history = SimpleNamespace(
            loss_curve=[] if restart else list(getattr(self, "loss_curve_", [])),
            t=0 if restart else getattr(self, "t_", 0),
            best_loss=np.inf if restart else getattr(self, "best_loss_", np.inf),
            no_improvement=0 if restart else getattr(self, "_no_improvement_count", 0),
            validation_scores=[] if restart else list(getattr(self, "validation_scores_",
                                                               None) or []),
            validation_losses=[] if restart else list(getattr(self, "validation_loss_curve_",
                                                               None) or []),
            learning_rates=[] if restart or not incremental else list(
                getattr(self, "learning_rate_curve_", None) or []),
            best_validation=None, best_validation_score=None, best_params=None, n_iter=0)
        # fit starts the schedule over max_iter epochs; partial_fit goes on with it
        schedule = getattr(self, "_lr_schedule", None) if incremental and not restart \
            else None
        if schedule is None:
            schedule = schedule_for(self.lr_schedule)
        scheduled = self.lr_schedule != "constant" or self.warmup_epochs > 0
        if validation is not None and validation.monitor:
            history.best_loss = None   # scikit-learn: no best_loss_ under early stopping
        callbacks = list(self.callbacks or [])
        if self.verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(ProgressBar())
        common = self._common_attributes(layout, X, Y, out_activation, target_attributes, names)
        if validation is not None:
            validation.common = common   # for a scorer's view of the model

        def publish(params):
            coefs, intercepts = layout.unpack(params)
            attributes = dict(
                common, coefs_=coefs, intercepts_=intercepts,
                loss_=history.loss_curve[-1] if history.loss_curve else None,
                loss_curve_=list(history.loss_curve), best_loss_=history.best_loss,
                n_iter_=history.n_iter, t_=history.t,
                _no_improvement_count=history.no_improvement,
                learning_rate_curve_=list(history.learning_rates),
                _learning_rate=training.config.learning_rate, _solver_state=state,
                _lr_schedule=schedule)
            if validation is not None:
                attributes.update(validation_scores_=list(history.validation_scores),
                                  validation_loss_curve_=list(history.validation_losses),
                                  best_validation_score_=history.best_validation_score)
            elif restart:
                attributes.update(validation_scores_=None, best_validation_score_=None,
                                  validation_loss_curve_=None)
            self.__dict__.update(attributes)

        keeps_best = validation is not None and validation.monitor
        if keeps_best:   # the weights to keep should no epoch improve on them
            history.best_params = state.params.copy()
        stop_message = None   # verbose: why the fit stopped, after the last epoch's line
        try:
            for _ in range(self.max_iter):
                tasks.begin_epoch()
                if scheduled:   # the epochs of this schedule so far: its position
                    training.config.learning_rate = schedule(
                        len(history.learning_rates), self.learning_rate_init, self.max_iter,
                        self.warmup_epochs)
                started = time.perf_counter()
                losses_before = len(history.loss_curve)
                try:
                    loss = self._run_epoch(training, X, Y, sample_weight)
                    seconds = time.perf_counter() - started
                    metrics = {"epoch": history.n_iter + 1, "max_iter": self.max_iter,
                               "loss": loss, "learning_rate": training.config.learning_rate,
                               "seconds": seconds,
                               "samples_per_second": X.shape[0] / max(seconds, 1e-12)}
                    history.loss_curve.append(loss)
                    improved = self._update_no_improvement(history, validation, training,
                                                           metrics)
                except DivergenceError:
                    if not keeps_best:
                        raise
                    # scikit-learn goes on to max_iter on NaN weights and then restores
                    # the best epoch's; the same model, without the useless epochs
                    del history.loss_curve[losses_before:]
                    self.__dict__["_solver_state"] = None
                    _end_progress(callbacks)
                    warnings.warn(f"{NON_FINITE_WEIGHTS} The training loss or the weights "
                                  f"became NaN or infinite in epoch {history.n_iter + 1}: "
                                  "training stopped there, and the model keeps the best "
                                  "epoch's weights (early_stopping).", ConvergenceWarning)
                    break
                history.n_iter += 1
                history.t += X.shape[0]
                history.learning_rates.append(training.config.learning_rate)
                if isinstance(schedule, Plateau):
                    schedule.observe(metrics.get("validation_loss", loss), self.tol)
                if improved and validation is not None and validation.monitor:
                    if history.best_params is None:
                        history.best_params = np.empty_like(state.params)
                    np.copyto(history.best_params, state.params)
                self._schedule_learning_rate(training, history)
                stop = False
                if history.no_improvement > self.n_iter_no_change:
                    if self.solver == "sgd" and self.learning_rate == "adaptive" \
                            and training.config.learning_rate > 1e-6:
                        training.config.learning_rate /= 5
                        history.no_improvement = 0
                    else:
                        stop = True
                        if self.verbose:
                            what = ("Validation score" if validation is not None
                                    and validation.monitor else "Training loss")
                            stop_message = (f"{what} did not improve more than tol="
                                            f"{self.tol} for {self.n_iter_no_change} "
                                            "consecutive epochs. Stopping.")
                publish(state.params)
                for callback in callbacks:
                    stop = bool(callback(self, metrics)) or stop
                # the model holds the epoch (published): a copy of it as it is will do
                stop = tasks.end_epoch({}) or stop
                if stop or incremental:
                    break
            else:
                _end_progress(callbacks)
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              "reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
        except KeyboardInterrupt:
            # The model holds the last whole epoch (published above); the optimizer
            # state went on into the interrupted one, so partial_fit starts afresh.
            self.__dict__["_solver_state"] = None
            _end_progress(callbacks, summary=not incremental)
            if get_config()["interrupt"] == "raise":
                raise
            warnings.warn("Training interrupted by user.")   # scikit-learn's words
        except BaseException:
            _end_progress(callbacks, summary=False)
            raise
        _end_progress(callbacks, stop_message, summary=not incremental)
        if history.best_params is not None:
            publish(history.best_params)   # early stopping: the best epoch's weights

    def _update_no_improvement(self, history, validation, training, metrics):
        """scikit-learn's convergence bookkeeping; True when the monitored value improved."""
        if validation is not None:
            coefs, intercepts = training.layout.views(training.state.params)
            score, loss = self._validation_metrics(validation, coefs, intercepts)
            history.validation_scores.append(score)
            history.validation_losses.append(loss)
            metrics.update(validation_score=score, validation_loss=loss)
        if validation is not None and validation.monitor:
            # higher is better: the score, or minus the validation loss
            value = score if self.monitor == "validation_score" else -loss
            best = -np.inf if history.best_validation is None else (
                history.best_validation if self.monitor == "validation_score"
                else -history.best_validation)
            history.no_improvement = history.no_improvement + 1 if value < best + self.tol else 0
            if value > best:
                history.best_validation = score if self.monitor == "validation_score" else loss
                history.best_validation_score = score   # the score of the best epoch
                return True
            return False
        loss = history.loss_curve[-1]
        history.no_improvement = (history.no_improvement + 1
                                  if loss > history.best_loss - self.tol else 0)
        if loss < history.best_loss:
            history.best_loss = loss
            return True
        return False

    def _schedule_learning_rate(self, training, history):
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            training.config.learning_rate = (self.learning_rate_init
                                             / (history.t + 1) ** self.power_t)

    def _validation_metrics(self, validation, coefs, intercepts):
        """(score, loss) on the validation data for the given parameters."""
        P = ENGINES[self.engine].predict(coefs, intercepts, validation.X, self.activation,
                                         validation.out_activation,
                                         threads.prediction_threads(self.n_threads))
        if not all_finite(P):   # a logit overflowed: no score or loss to go by
            raise DivergenceError(
                f"{NON_FINITE_WEIGHTS} The network's output on the validation data became "
                "NaN or infinite; try a smaller learning_rate_init or scaling X. The model "
                "was left as it was before fit.")
        weights = validation.sample_weight
        losses = reference.per_sample_losses(validation.Y, P,
                                             LOSS_FOR_OUTPUT[validation.out_activation])
        loss = float(np.average(losses, weights=weights))
        if self.scoring is None:
            return self._score_output(P, validation.y, weights, validation.targets), loss
        return self._scored(validation, coefs, intercepts), loss

    def _scored(self, validation, coefs, intercepts):
        """The `scoring` scorer's value for the given parameters on the validation data:
        the scorer sees a copy of this model holding them (scorers call predict)."""
        view = copy.copy(self)
        view.__dict__.update(validation.common, coefs_=list(coefs),
                             intercepts_=list(intercepts))
        view.__dict__.pop("feature_names_in_", None)   # validation.X is an array now
        scorer = get_scorer(self.scoring) if isinstance(self.scoring, str) else self.scoring
        if validation.sample_weight is None:
            return float(scorer(view, validation.X, validation.y))
        return float(scorer(view, validation.X, validation.y,
                            sample_weight=validation.sample_weight))

    def _validation_data(self, X, Y, sample_weight, X_val, y_val, out_activation,
                         target_attributes, rng, sample_weight_val=None):
        """Validation data, split off X (early stopping) or given; None when there is none."""
        if (X_val is None) != (y_val is None):
            raise ValueError("pass both X_val and y_val, or neither")
        if sample_weight_val is not None and X_val is None:
            raise ValueError("sample_weight_val needs X_val and y_val")
        if X_val is not None:
            X_val = check_X(X_val, dtype=X.dtype, n_features=X.shape[1],
                            estimator_name=type(self).__name__)
            y_val = check_y(y_val, X_val, type(self).__name__)
            Y_val = self._encode_validation_targets(y_val, X.dtype, target_attributes)
            weights_val = check_sample_weight(sample_weight_val, X_val.shape[0], X.dtype)
            _warn_if_unlike(X, X_val)
            return SimpleNamespace(X=X_val, Y=Y_val, y=np.asarray(y_val),
                                   sample_weight=weights_val,
                                   monitor=self.early_stopping, split=False,
                                   out_activation=out_activation, targets=target_attributes)
        if not self.early_stopping or self.solver == "lbfgs":
            return None
        train, val = self._split(X, Y, sample_weight, rng, target_attributes)
        if val[0].shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        X_val, Y_val, weights_val = val
        return SimpleNamespace(X=X_val, Y=Y_val, y=self._decode(Y_val, target_attributes),
                               sample_weight=weights_val, monitor=True, split=True,
                               train=train, out_activation=out_activation,
                               targets=target_attributes)

    def _split(self, X, Y, sample_weight, rng, target_attributes):
        """((X, Y, w) train, (X, Y, w) validation), validation_fraction held out.

        scikit-learn's split: train_test_split with the fit's random state,
        stratified for a binary classifier. Without scikit-learn, the same
        unstratified shuffle split, and a proportional split by class.
        """
        if isinstance(X, out_of_core.MemmapRows):   # the same rows, read by chunks
            return out_of_core.split(self._split, X, Y, sample_weight, rng,
                                     target_attributes)
        parts = [X, Y] + ([] if sample_weight is None else [sample_weight])
        stratify = (Y.astype(bool) if self._stratify and Y.shape[1] == 1
                    and not target_attributes.get("_multilabel", False) else None)
        if HAVE_SKLEARN:
            from sklearn.model_selection import train_test_split
            split = train_test_split(*parts, random_state=rng, stratify=stratify,
                                     test_size=self.validation_fraction)
            train, val = split[0::2], split[1::2]
        else:
            n = Y.shape[0]
            n_val = int(np.ceil(self.validation_fraction * n))
            permutation = rng.permutation(n)
            if stratify is not None:   # each class in proportion, in random order
                permutation = permutation[np.argsort(stratify[permutation, 0], kind="stable")]
                picks = np.linspace(0, n - 1, n_val).round().astype(np.intp)
                val_idx = permutation[picks]
                train_idx = np.setdiff1d(permutation, val_idx, assume_unique=True)
            else:
                val_idx, train_idx = permutation[:n_val], permutation[n_val:]
            train = [p[train_idx] for p in parts]
            val = [p[val_idx] for p in parts]
        if sample_weight is None:
            train, val = list(train) + [None], list(val) + [None]
        def rows(part):   # a CSR X stays well-formed
            return check_X(part, dtype=X.dtype)
        return ((rows(train[0]), train[1], train[2]), (rows(val[0]), val[1], val[2]))

    # --- L-BFGS ---------------------------------------------------------------------

    def _fit_lbfgs(self, X, Y, sample_weight, validation, layout, start, out_activation,
                   target_attributes, names, tasks):
        """Full-batch L-BFGS-B (scipy) over the flat parameters. Callbacks (fastmlp's and
        scikit-learn's), verbose and validation data see each L-BFGS iteration as an
        epoch."""
        loss_name = LOSS_FOR_OUTPUT[out_activation]
        label_smoothing = self.get_params().get("label_smoothing", 0.0)   # the classifier's
        grads = np.empty(layout.n_params, dtype=X.dtype)
        callbacks = list(self.callbacks or [])
        if self.verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(ProgressBar())
        history = SimpleNamespace(n_iter=0, started=time.perf_counter(), scores=[], losses=[])
        common = self._common_attributes(layout, X, Y, out_activation, target_attributes, names)
        if validation is not None:
            validation.common = common   # for a scorer's view of the model

        def loss_and_gradient(theta):
            params = theta.astype(X.dtype)
            if self.engine == "numpy":
                coefs, intercepts = layout.views(params)
                value, coef_grads, intercept_grads = reference.loss_and_gradient(
                    coefs, intercepts, X, Y, self.activation, out_activation, loss_name,
                    self.alpha, sample_weight, label_smoothing)
                return value, layout.pack(coef_grads, intercept_grads, np.float64)
            value = gradient.loss_and_gradient(
                params, grads, X, Y, layout.sizes, ACTIVATIONS[self.activation].code,
                ACTIVATIONS[out_activation].code, LOSSES[loss_name].code, self.alpha,
                sample_weight, label_smoothing)
            return value, grads.astype(np.float64)

        def after_iteration(intermediate_result):
            history.n_iter += 1
            now = time.perf_counter()
            metrics = {"epoch": history.n_iter, "max_iter": self.max_iter,
                       "loss": float(intermediate_result.fun), "learning_rate": None,
                       "seconds": now - history.started,
                       "samples_per_second": X.shape[0] / max(now - history.started, 1e-12)}
            history.started = now
            if validation is not None:
                coefs, intercepts = layout.views(intermediate_result.x.astype(X.dtype))
                score, loss = self._validation_metrics(validation, coefs, intercepts)
                history.scores.append(score)
                history.losses.append(loss)
                metrics.update(validation_score=score, validation_loss=loss)
            stop = False
            for callback in callbacks:
                stop = bool(callback(self, metrics)) or stop

            def fitted_attributes():   # the model is published only after scipy returns
                coefs, intercepts = layout.unpack(intermediate_result.x.astype(X.dtype))
                return dict(common, coefs_=coefs, intercepts_=intercepts,
                            n_iter_=history.n_iter)
            stop = tasks.end_epoch(fitted_attributes) or stop
            if stop:
                raise StopIteration
            if history.n_iter < self.max_iter:
                # scipy gives no hook before an iteration: open the next one now; if
                # scipy has converged, FitTasks.end closes it empty
                tasks.begin_epoch()

        tasks.begin_epoch()
        try:
            result = scipy.optimize.minimize(
                loss_and_gradient, start.astype(np.float64), method="L-BFGS-B", jac=True,
                callback=(after_iteration if callbacks or validation is not None
                          or tasks.subtasks else None),
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        except BaseException:
            _end_progress(callbacks, summary=False)
            raise
        diverged = not (np.isfinite(result.fun) and all_finite(result.x))
        converged = result.status == 0 and not diverged
        _end_progress(callbacks, summary=not diverged,
                      message=(f"L-BFGS stopped after {result.nit} iterations: "
                               f"{result.message}." if self.verbose and converged else None))
        if diverged:
            raise DivergenceError(f"{NON_FINITE_WEIGHTS} L-BFGS reached a NaN or infinite "
                                  "loss or weights; the model was left as it was before "
                                  "fit.")
        if result.status not in (0, 99):   # 99: a callback stopped it
            warnings.warn(f"lbfgs failed to converge after {result.nit} iterations "
                          f"(status={result.status}): {result.message}. Increase max_iter "
                          "or max_fun, or scale the data.", ConvergenceWarning)
        coefs, intercepts = layout.unpack(result.x.astype(X.dtype))
        attributes = dict(
            common, coefs_=coefs, intercepts_=intercepts, loss_=float(result.fun),
            n_iter_=int(result.nit), t_=X.shape[0], _solver_state=None,
            learning_rate_curve_=None)
        if validation is not None:
            attributes.update(validation_scores_=history.scores,
                              validation_loss_curve_=history.losses,
                              best_validation_score_=max(history.scores, default=None))
        self.__dict__.update(attributes)

    # --- prediction ----------------------------------------------------------------

    # What a prediction reads of the model besides X; a subclass adds what turns the
    # output into its prediction. One prediction reads them all at once (_forward).
    _prediction_attributes = ("coefs_", "intercepts_", "n_features_in_", "activation",
                              "out_activation_", "engine", "n_threads")

    def _forward(self, X):
        """(output, state): the network's output for X in the fitted dtype, and the copy
        of the model's attributes it was computed from.

        A fit in another thread publishes all its attributes in one dict update; a
        prediction copies the attributes in one step, so it never mixes two fits
        (the shapes of one with the weights of another), and checks what it copied.
        """
        row_predictor = self.__dict__.get("_row_predictor")
        if row_predictor is not None:
            # a clean batch of 1-16 rows: a prepared plan, no re-validation (row_predict.pyx)
            result = row_predictor.predict(self, X)
            if result is not None:
                return result
        state = self.__dict__.copy()
        coefs, intercepts = _checked_network(state, type(self).__name__)
        dtype = coefs[0].dtype
        if not (type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2
                and X.flags.c_contiguous and X.shape[1] == coefs[0].shape[0]
                and X.shape[0] > 0 and "feature_names_in_" not in state
                and all_finite(X)):
            # anything but a clean array of the model's dtype takes the full checks
            _check_feature_names(state.get("feature_names_in_"), X, type(self).__name__)
            X = check_X(X, dtype=dtype, n_features=coefs[0].shape[0],
                        estimator_name=type(self).__name__)
        engine = ENGINES.get(state["engine"], ENGINES["cython"])
        out = engine.predict(coefs, intercepts, X, state["activation"],
                             state["out_activation_"],
                             threads.prediction_threads(state["n_threads"], X.shape[0]))
        if not all_finite(out):
            # finite X and weights, but a product overflowed: NaN probabilities would
            # turn silently into the first class
            raise ValueError(f"The network's output is NaN or infinite for this X: its "
                             f"values are too large for {dtype} inside the network "
                             f"(largest |X| {_largest_magnitude(X):.3g}); scale X as the "
                             "training data was scaled")
        return out, state

    def _row_plan(self):
        """A RowPlan of the model as it is now, or None where one does not apply."""
        state = self.__dict__.copy()
        if state.get("engine") != "cython" or "feature_names_in_" in state:
            return None
        try:
            _checked_network(state, type(self).__name__)
            return RowPlan(state, self._prediction_attributes,
                           ACTIVATIONS[state["activation"]].code,
                           ACTIVATIONS[state["out_activation_"]].code)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None   # unfitted, or odd attributes: the general path explains

    if HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.sparse = True
            return tags

    # --- persistence ---------------------------------------------------------------

    def save(self, path, optimizer_state=False):
        """Save the fitted model to `path`: one ``.npz`` file of arrays and JSON, no pickle.

        Load it back with :func:`fastmlp.load`, which checks the whole file before
        it builds a model and never runs code taken from the file.

        The file (format version 1) is a NumPy ``.npz`` archive, as
        :func:`numpy.savez` writes it, that ``numpy.load(path, allow_pickle=False)``
        reads: a zip of ``.npy`` members, none of them an object array.

        - ``__fastmlp__.json``, a 1-D uint8 array, holds UTF-8 JSON with the keys
          ``format`` (``"fastmlp-model"``), ``format_version`` (1),
          ``fastmlp_version``, ``estimator`` (``"MLPClassifier"`` or
          ``"MLPRegressor"``), ``params`` (``get_params()``; a value JSON cannot
          hold, such as a RandomState or a callable, is written as null, with a
          warning) and ``attributes``: each fitted attribute (``coefs_``,
          ``loss_curve_``, ``classes_``, ...) as an entry whose ``kind`` says how
          to read it, e.g. ``{"kind": "float", "value": 0.25}``, or
          ``{"kind": "array_list", "members": ["coefs_.0", "coefs_.1"]}``.
        - Every other member is one array of the fitted state, named after its
          attribute (``coefs_.0``, ``intercepts_.0``, ``classes_``, ...) and
          referenced once from the JSON.
        - With `optimizer_state`, the attributes also hold ``_optimizer_state``:
          the solver's name, its step counts, the learning rate, the schedule's
          name and state, and the optimizer's arrays (members
          ``_optimizer_state.<i>``, each as large as the weights).

        The documentation's page on persistence has the complete specification
        and every check load makes.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write, exactly this path (no ``.npz`` is appended); an
            existing file is replaced.
        optimizer_state : bool, default=False
            Also save what a minibatch fit carries from one ``partial_fit`` call to
            the next: the optimizer's state (Adam's moments, SGD's velocity, ...)
            and step counts, the learning rate, its schedule's state and the stall
            count. ``partial_fit`` after :func:`fastmlp.load` then goes on exactly as
            it would have without the round trip (a checkpoint to resume from).
            Off by default: a model saved for prediction does not need it, and each
            state array is as large as the weights (Adam's two triple the file).
            Without it, ``partial_fit`` after load starts the optimizer afresh.
            A callable ``lr_schedule`` is not saved (a warning says so).

        Raises
        ------
        NotFittedError
            If the model has not been fitted.
        ValueError
            If a parameter is invalid, a fitted attribute cannot be stored without
            pickle, or the optimizer state is not one load accepts; nothing is
            written then.

        Warns
        -----
        UserWarning
            Naming the parameters saved as null because JSON cannot hold them.

        See Also
        --------
        fastmlp.load : Read the file back.
        fastmlp.callbacks.ModelCheckpoint : Save after every epoch.

        Examples
        --------
        >>> import json, os, tempfile
        >>> import numpy as np
        >>> from fastmlp import MLPClassifier, load
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 4))
        >>> y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
        >>> model = MLPClassifier((8,), learning_rate_init=0.01, batch_size=20,
        ...                       random_state=0).fit(X, y)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "model.npz")
        ...     model.save(path)
        ...     loaded = load(path)
        ...     with np.load(path, allow_pickle=False) as archive:
        ...         members = sorted(archive.files)
        ...         header = json.loads(archive["__fastmlp__.json"].tobytes())
        >>> members
        ['__fastmlp__.json', 'classes_', 'coefs_.0', 'coefs_.1', 'intercepts_.0',
         'intercepts_.1']
        >>> header["format"], header["estimator"], header["params"]["hidden_layer_sizes"]
        ('fastmlp-model', 'MLPClassifier', [8])
        >>> header["attributes"]["coefs_"]
        {'kind': 'array_list', 'members': ['coefs_.0', 'coefs_.1']}
        >>> np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
        True
        """
        from fastmlp._estimators.persistence import save
        save(self, path, optimizer_state)
