"""Training over several calls: partial_fit and warm_start, and what each carries over
from the previous call."""
import numpy as np
import pytest

from helpers import blobs, classifier, fitted_arrays, quiet_fit

# --- partial_fit -----------------------------------------------------------------------

def test_partial_fit_needs_the_classes_on_the_first_call():
    X, y = blobs(n=60)
    with pytest.raises(ValueError, match="classes"):
        classifier((4,)).partial_fit(X, y)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        classifier((4,)).partial_fit(X, y, classes=[0, 1])      # y also has 2
    model = classifier((4,)).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        model.partial_fit(X, np.where(y == 2, 7, y))


def test_partial_fit_on_part_of_the_classes_keeps_them_all():
    X, y = blobs(n=90)
    model = classifier((4,)).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert list(model.classes_) == [0, 1, 2] and model.predict_proba(X).shape == (90, 3)


def test_repeated_partial_fit_calls_lower_the_loss():
    X, y = blobs(n=200)
    model = classifier((16,), learning_rate_init=0.01, batch_size=50)
    model.partial_fit(X, y, classes=[0, 1, 2])
    for _ in range(9):
        model.partial_fit(X, y)
    curve = model.loss_curve_
    assert len(curve) == 10 and model.t_ == 10 * 200
    assert np.all(np.diff(curve) < 0), curve


def test_partial_fit_carries_the_optimizer_state_between_calls():
    X, y = blobs(n=120)
    params = dict(hidden_layer_sizes=(8,), shuffle=False, learning_rate_init=0.01)
    incremental = classifier(**params)
    incremental.partial_fit(X, y, classes=[0, 1, 2])
    incremental.partial_fit(X, y)
    two_epochs = quiet_fit(classifier(max_iter=2, **params), X, y)
    restarted = quiet_fit(classifier(max_iter=1, warm_start=True, **params), X, y)
    quiet_fit(restarted, X, y)                  # a second fit starts a fresh Adam
    for a, b in zip(fitted_arrays(incremental), fitted_arrays(two_epochs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert not np.allclose(incremental.coefs_[0], restarted.coefs_[0], rtol=1e-6, atol=0)


# --- warm_start ------------------------------------------------------------------------

def test_warm_start_continues_from_the_previous_weights():
    X, y = blobs(n=200)
    model = quiet_fit(classifier((8,), warm_start=True, max_iter=15), X, y)
    first_curve = list(model.loss_curve_)
    first_weights = [a.copy() for a in fitted_arrays(model)]
    starts = []
    quiet_fit(model.set_params(callbacks=[lambda m, metrics: starts.append(metrics["loss"])]),
              X, y)
    fresh = quiet_fit(classifier((8,), max_iter=15), X, y)
    assert model.loss_curve_[:15] == first_curve and len(model.loss_curve_) == 30
    assert starts[0] < fresh.loss_curve_[0]
    assert starts[0] == pytest.approx(first_curve[-1], rel=0.05)   # no jump back up
    assert not np.allclose(model.coefs_[0], first_weights[0])
    cold = quiet_fit(model.set_params(warm_start=False, callbacks=None), X, y)
    np.testing.assert_array_equal(cold.loss_curve_, fresh.loss_curve_)


def test_warm_start_with_other_hidden_layers_raises_value_error():
    X, y = blobs(n=60)
    model = quiet_fit(classifier((8,), warm_start=True, max_iter=2), X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        model.set_params(hidden_layer_sizes=(9,)).fit(X, y)
