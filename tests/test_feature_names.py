"""feature_names_in_: taken from the string columns of a DataFrame-like X and checked at
predict time."""
import warnings

import numpy as np
import pytest

from helpers import Frame, blobs, classifier, quiet_fit


def test_feature_names_are_taken_from_string_columns_and_checked_at_predict():
    X, y = blobs(n=60, n_features=3)
    model = quiet_fit(classifier((4,), max_iter=3), Frame(X, ["a", "b", "c"]), y)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = model.predict(Frame(X, ["a", "b", "c"]))     # no warning
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        plain = model.predict(X)
    np.testing.assert_array_equal(same, plain)
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(Frame(X, ["a", "c", "b"]))
    quiet_fit(model, X, y)                                  # refit without names
    assert not hasattr(model, "feature_names_in_")


def test_non_string_columns_give_no_feature_names():
    X, y = blobs(n=60, n_features=3)
    model = quiet_fit(classifier((4,), max_iter=3), Frame(X, [0, 1, 2]), y)
    assert not hasattr(model, "feature_names_in_")
