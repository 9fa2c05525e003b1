"""class_weight and sample_weight: what weighting samples changes in the fit, how the two
relate, and the weights refused."""
import numpy as np
import pytest

from helpers import blobs, classifier, quiet_fit, regressor

# --- class_weight ----------------------------------------------------------------------

def imbalanced(n, seed):
    """About 5% positives, shifted along the first feature."""
    rng = np.random.RandomState(seed)
    y = (rng.rand(n) < 0.05).astype(int)
    X = rng.normal(size=(n, 4))
    X[:, 0] += 1.5 * y
    return X, y


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 19.0}])
def test_class_weight_raises_the_recall_of_a_rare_class(class_weight):
    X, y = imbalanced(400, seed=0)
    X_test, y_test = imbalanced(2000, seed=1)
    recall = {}
    for weights in (None, class_weight):
        model = quiet_fit(classifier((8,), class_weight=weights, learning_rate_init=0.01,
                                     max_iter=200), X, y)
        recall[str(weights)] = np.mean(model.predict(X_test)[y_test == 1] == 1)
    # None: ~0.25 (the minority is mostly predicted as the majority); weighted: ~0.65
    assert recall[str(class_weight)] > recall["None"] + 0.25, recall


def test_class_weight_is_the_same_as_per_class_sample_weights():
    X, y = blobs(n=90)
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class = classifier((6,), solver="lbfgs", max_iter=50, class_weight=weights)
    by_sample = classifier((6,), solver="lbfgs", max_iter=50)
    quiet_fit(by_class, X, y)
    quiet_fit(by_sample, X, y, sample_weight=np.vectorize(weights.get)(y))
    np.testing.assert_allclose(by_class.predict_proba(X), by_sample.predict_proba(X),
                               rtol=1e-12)


def test_balanced_class_weight_in_partial_fit_raises_value_error():
    X, y = imbalanced(100, seed=0)
    with pytest.raises(ValueError, match="balanced"):
        classifier((4,), class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    model = classifier((4,), class_weight={0: 1.0, 1: 10.0}).partial_fit(X, y, classes=[0, 1])
    assert model.n_iter_ == 1   # a dict is fine


@pytest.mark.parametrize("weights", [{0: -1.0}, {1: float("nan")}])
def test_invalid_class_weights_raise_value_error(weights):
    X, y = imbalanced(60, seed=0)
    with pytest.raises(ValueError, match="class_weight"):
        classifier((4,), class_weight=weights).fit(X, y)


# --- sample_weight ---------------------------------------------------------------------

@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_sample_weights_equal_removing_or_repeating_samples_with_lbfgs(estimator):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    y = rng.randint(3, size=80) if estimator == "classifier" else X @ rng.normal(size=4)
    counts = rng.randint(0, 4, size=80)          # 0: removed, 2 and 3: repeated
    make = classifier if estimator == "classifier" else regressor
    output = ((lambda m: m.predict_proba(X)) if estimator == "classifier"
              else (lambda m: m.predict(X)))
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=60)
    weighted = quiet_fit(make(**params), X, y, sample_weight=counts.astype(float))
    kept = counts > 0
    removed = quiet_fit(make(**params), X[kept], y[kept], sample_weight=counts[kept] * 1.0)
    repeated_rows = np.repeat(np.arange(80), counts)
    repeated = quiet_fit(make(**params), X[repeated_rows], y[repeated_rows])
    np.testing.assert_allclose(output(removed), output(weighted), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(output(repeated), output(weighted), rtol=1e-6, atol=1e-8)
    assert repeated.loss_ == pytest.approx(weighted.loss_, rel=1e-8)


@pytest.mark.parametrize("weights, match", [
    (-np.ones(40), "negative"),
    (np.where(np.arange(40) == 3, np.nan, 1.0), "NaN"),
    (np.ones(39), "shape"),
    (np.ones((40, 1)), "shape"),
    (np.zeros(40), "all zero"),
], ids=["negative", "nan", "too-short", "2-d", "all-zero"])
def test_invalid_sample_weights_raise_value_error(weights, match):
    X, y = blobs(n=40)
    with pytest.raises(ValueError, match=match):
        classifier((4,)).fit(X, y, sample_weight=weights)
