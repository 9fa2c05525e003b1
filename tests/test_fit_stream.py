"""fastmlp.fit_stream: partial_fit over a stream of chunks through a shuffle buffer, its
epochs, and its errors."""
import numpy as np
import pytest
import scipy.sparse

from fastmlp import fit_stream

from helpers import blobs, classifier, fitted_arrays, regressor


def chunked(X, y, rows):
    """(X, y) as a list of chunks of `rows` rows (the last one shorter)."""
    return [(X[i:i + rows], y[i:i + rows]) for i in range(0, len(X), rows)]


class Recorder:
    """A stand-in classifier that records what each partial_fit call gets."""

    def __init__(self):
        self.calls = []

    def partial_fit(self, X, y, classes=None):
        self.calls.append((X, y, classes))
        return self


# --- the shuffle buffer -------------------------------------------------------------------

def test_each_full_buffer_is_one_partial_fit_of_its_rows_shuffled_and_the_rest_one_more():
    X = np.arange(1050, dtype=float).reshape(-1, 1)   # a row's value is its number
    y = np.arange(1050) % 2
    recorder = fit_stream(Recorder(), chunked(X, y, 100), classes=[0, 1],
                          shuffle_buffer=300, random_state=0)
    sizes = [len(call[0]) for call in recorder.calls]
    assert sizes == [300, 300, 300, 150]
    for call, start in zip(recorder.calls, range(0, 1050, 300)):
        rows = call[0][:, 0].astype(int)
        # the buffer's rows, from several chunks, all of them once, mixed
        assert sorted(rows) == list(range(start, start + len(rows)))
        assert not np.array_equal(rows, np.sort(rows))
        np.testing.assert_array_equal(call[1], rows % 2)   # each label with its row
        np.testing.assert_array_equal(call[2], [0, 1])


def test_a_chunk_larger_than_the_buffer_is_cut_across_calls():
    X = np.arange(700, dtype=float).reshape(-1, 1)
    y = np.zeros(700, dtype=int)
    recorder = fit_stream(Recorder(), [(X[:50], y[:50]), (X[50:], y[50:])], classes=[0, 1],
                          shuffle_buffer=200, random_state=0)
    assert [len(call[0]) for call in recorder.calls] == [200, 200, 200, 100]
    assert sorted(np.concatenate([call[0][:, 0] for call in recorder.calls])) == \
        list(range(700))


def test_fit_stream_equals_partial_fit_on_the_same_shuffled_buffers():
    X, y = blobs(n=500)
    model = fit_stream(classifier((8,)), chunked(X, y, 70), classes=[0, 1, 2],
                       shuffle_buffer=200, random_state=3)
    by_hand = classifier((8,))
    rng = np.random.RandomState(3)
    for start in (0, 200, 400):
        rows = slice(start, start + 200)
        shuffled = rng.permutation(len(X[rows]))
        by_hand.partial_fit(X[rows][shuffled], y[rows][shuffled], classes=[0, 1, 2])
    for expected, got in zip(fitted_arrays(by_hand), fitted_arrays(model)):
        np.testing.assert_array_equal(got, expected)
    assert model.t_ == 500 and len(model.loss_curve_) == 3


def test_a_stream_sorted_by_class_is_learned_through_a_buffer_that_spans_it():
    X, y = blobs(n=1200, n_classes=3, seed=1)
    order = np.argsort(y, kind="stable")   # every class 0 first, then 1, then 2
    X, y = X[order], y[order]
    model = fit_stream(classifier((16,), learning_rate_init=0.01), chunked(X, y, 100),
                       classes=[0, 1, 2], shuffle_buffer=1200, epochs=20, random_state=0)
    assert model.score(X, y) > 0.9


def test_regressor_and_sparse_chunks():
    rng = np.random.RandomState(0)
    X = scipy.sparse.random(600, 8, density=0.5, format="csr", random_state=rng)
    y = X @ rng.normal(size=8)
    chunks = [(X[i:i + 90], y[i:i + 90]) for i in range(0, 600, 90)]
    model = fit_stream(regressor((16,), learning_rate_init=0.01), chunks,
                       shuffle_buffer=250, epochs=30, random_state=0)
    assert len(model.loss_curve_) == 30 * 3
    assert model.score(X, y) > 0.8


# --- epochs ---------------------------------------------------------------------------------

def test_each_epoch_calls_the_callable_for_a_fresh_stream():
    X, y = blobs(n=300)
    calls = []

    def stream():
        calls.append(1)
        return iter(chunked(X, y, 60))
    model = fit_stream(classifier((8,)), stream, classes=[0, 1, 2], shuffle_buffer=100,
                       epochs=4, random_state=0)
    assert len(calls) == 4
    assert len(model.loss_curve_) == 4 * 3 and model.t_ == 4 * 300


def test_a_list_of_chunks_is_read_again_each_epoch_but_an_iterator_is_refused():
    X, y = blobs(n=300)
    model = fit_stream(classifier((8,)), chunked(X, y, 60), classes=[0, 1, 2],
                       shuffle_buffer=150, epochs=2)
    assert model.t_ == 600
    with pytest.raises(ValueError, match="iterator"):
        fit_stream(classifier((8,)), iter(chunked(X, y, 60)), classes=[0, 1, 2], epochs=2)
    # one epoch over an iterator is what it is for
    assert fit_stream(classifier((8,)), iter(chunked(X, y, 60)), classes=[0, 1, 2]).t_ == 300


def test_a_fitted_classifier_goes_on_without_classes():
    X, y = blobs(n=200)
    model = classifier((8,)).partial_fit(X, y, classes=[0, 1, 2])
    fit_stream(model, chunked(X, y, 50), shuffle_buffer=100)
    assert model.t_ == 400


# --- errors ---------------------------------------------------------------------------------

def test_bad_streams_are_refused_with_what_is_wrong():
    X, y = blobs(n=100)
    model = classifier((4,))
    with pytest.raises(TypeError, match="iterable of \\(X_chunk, y_chunk\\) pairs"):
        fit_stream(model, 42, classes=[0, 1, 2])
    with pytest.raises(TypeError, match="must return an iterable"):
        fit_stream(model, lambda: 42, classes=[0, 1, 2])
    with pytest.raises(TypeError, match="item 1 is a tuple of length 3"):
        fit_stream(model, [(X, y), (X, y, y)], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="chunk 1 has 3 columns, the first chunk 5"):
        fit_stream(model, [(X, y), (X[:, :3], y)], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="chunk 0 has 100 rows in X_chunk but 99"):
        fit_stream(model, [(X, y[:-1])], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="2-D"):
        fit_stream(model, [(X[0], y[:1])], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="no rows"):
        fit_stream(model, [], classes=[0, 1, 2])
    assert not hasattr(model, "coefs_")


def test_missing_or_misplaced_classes_and_models_without_partial_fit():
    X, y = blobs(n=100)
    with pytest.raises(ValueError, match="needs classes"):
        fit_stream(classifier((4,)), [(X, y)])
    with pytest.raises(ValueError, match="classes is for classifiers"):
        fit_stream(regressor((4,)), [(X, y)], classes=[0, 1, 2])
    with pytest.raises(TypeError, match="partial_fit.*lbfgs"):
        fit_stream(classifier((4,), solver="lbfgs"), [(X, y)], classes=[0, 1, 2])


@pytest.mark.parametrize("name, value, error", [
    ("shuffle_buffer", 0, ValueError), ("shuffle_buffer", 2.5, TypeError),
    ("epochs", 0, ValueError), ("epochs", True, TypeError)])
def test_shuffle_buffer_and_epochs_must_be_positive_integers(name, value, error):
    X, y = blobs(n=100)
    with pytest.raises(error, match=name):
        fit_stream(classifier((4,)), [(X, y)], classes=[0, 1, 2], **{name: value})
