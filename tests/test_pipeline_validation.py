"""A validation set inside a scikit-learn Pipeline: with metadata routing and
``Pipeline(transform_input=['X_val'])`` X_val is transformed as X is; without it,
``pipe.fit(..., mlp__X_val=...)`` hands X_val to the network untransformed, and
fit says so."""
import warnings

import pytest

from fastmlp import MLPClassifier
from fastmlp.exceptions import ConvergenceWarning

from helpers import blobs

sklearn = pytest.importorskip("sklearn", reason="Pipeline is scikit-learn's")

from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def badly_scaled(seed=0):
    X, y = blobs(n=400, n_features=5, n_classes=3, seed=seed, scale=2.5)
    X = X * [1, 100, 0.01, 10, 1000] + [5, -300, 0.2, 40, 2000]
    return X[:300], y[:300], X[300:], y[300:]


def mlp():
    return MLPClassifier((16,), learning_rate_init=0.01, max_iter=30, random_state=0,
                         n_threads=1)


def test_metadata_routing_transforms_x_val_as_x():
    X, y, X_val, y_val = badly_scaled()
    with sklearn.config_context(enable_metadata_routing=True), \
            warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)     # no warning: X_val is right
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = Pipeline([("scale", StandardScaler()),
                         ("mlp", mlp().set_fit_request(X_val=True, y_val=True))],
                        transform_input=["X_val"])
        pipe.fit(X, y, X_val=X_val, y_val=y_val)
    model = pipe[-1]
    # the score recorded for the last epoch is the pipeline's score on X_val
    assert model.validation_scores_[-1] == pytest.approx(pipe.score(X_val, y_val))
    assert model.validation_scores_[-1] > 0.85


def test_an_untransformed_x_val_in_a_pipeline_is_reported():
    X, y, X_val, y_val = badly_scaled()
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", mlp())])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="was X_val transformed as X was"):
            pipe.fit(X, y, mlp__X_val=X_val, mlp__y_val=y_val)
    # what the warning is about: the recorded score is not the pipeline's
    assert pipe[-1].validation_scores_[-1] != pytest.approx(pipe.score(X_val, y_val))


def test_x_val_like_x_is_not_reported():
    X, y, X_val, y_val = badly_scaled()
    scaler = StandardScaler().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp().fit(scaler.transform(X), y, X_val=scaler.transform(X_val), y_val=y_val)
        mlp().fit(X, y, X_val=X_val, y_val=y_val)
