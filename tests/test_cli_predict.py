"""fastmlp predict prints what the model was trained on: a classifier's own labels
(strings, or integers that are not 0..K-1), never class indices; with --proba, a header
line of those labels over the probability columns; a regressor's values."""
import csv

import numpy as np
import pytest

import fastmlp
from fastmlp.cli import main

from helpers import classifier, quiet_fit, regressor


def saved(model, X, y, path):
    quiet_fit(model, X, y).save(path)
    return fastmlp.load(path)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Three well separated clusters (every class is predicted somewhere), and the
    .npy file of the samples predict reads."""
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(3), 40)
    X = rng.normal(size=(120, 4)) + 4 * np.eye(3, 4)[group]
    path = tmp_path_factory.mktemp("inputs") / "x.npy"
    np.save(path, X)
    return X, group, path


def predict(capsys, model_path, input_path, *options):
    assert main(["predict", "--model", str(model_path), "--input", str(input_path),
                 *options]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("labels", [
    np.array(["bird", "cat", "dog"]),   # names
    np.array([10, 20, 30]),             # integers that are not the indices 0, 1, 2
])
def test_predict_prints_the_labels_the_model_was_trained_on(tmp_path, capsys, samples,
                                                            labels):
    X, group, inputs = samples
    model = saved(classifier((8,), max_iter=60, learning_rate_init=0.05), X, labels[group],
                  tmp_path / "m.npz")
    lines = predict(capsys, tmp_path / "m.npz", inputs)
    assert lines == [str(label) for label in model.predict(X)]
    assert set(lines) == {str(label) for label in labels}   # all three, as labels


def test_predict_proba_prints_a_header_of_the_classes_in_the_columns_order(tmp_path,
                                                                          capsys, samples):
    X, group, inputs = samples
    labels = np.array(["dog", "cat", "bird"])   # classes_ sorts them: bird, cat, dog
    model = saved(classifier((8,), max_iter=60, learning_rate_init=0.05), X, labels[group],
                  tmp_path / "m.npz")
    header, *rows = predict(capsys, tmp_path / "m.npz", inputs, "--proba")
    assert header == "bird,cat,dog"
    proba = np.array([[float(p) for p in row.split(",")] for row in rows])
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)
    # the header names each column: its best class is the label predict prints
    names = header.split(",")
    assert [names[k] for k in proba.argmax(axis=1)] == predict(capsys, tmp_path / "m.npz",
                                                               inputs)


def test_predict_proba_writes_the_header_to_the_output_file_too(tmp_path, capsys, samples):
    X, group, inputs = samples
    saved(classifier((8,), max_iter=5), X, np.array([3, 5, 7])[group], tmp_path / "m.npz")
    out = tmp_path / "proba.csv"
    assert main(["predict", "--model", str(tmp_path / "m.npz"), "--input", str(inputs),
                 "--proba", "--output", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "3,5,7" and len(lines) == 1 + len(X)
    assert "120 probability rows written" in capsys.readouterr().err


def test_labels_holding_commas_or_quotes_are_quoted_as_csv(tmp_path, capsys, samples):
    X, group, inputs = samples
    labels = np.array(['say "hi"', "x,y", "plain"])
    model = saved(classifier((8,), max_iter=60, learning_rate_init=0.05), X, labels[group],
                  tmp_path / "m.npz")
    header = next(csv.reader(predict(capsys, tmp_path / "m.npz", inputs, "--proba")[:1]))
    assert header == list(model.classes_)
    lines = predict(capsys, tmp_path / "m.npz", inputs)
    assert [row[0] for row in csv.reader(lines)] == list(model.predict(X))


def test_a_regressor_prints_its_values(tmp_path, capsys, samples):
    X, group, inputs = samples
    model = saved(regressor((8,), max_iter=5), X, np.column_stack([X[:, 0], group]),
                  tmp_path / "r.npz")
    rows = [[float(v) for v in line.split(",")]
            for line in predict(capsys, tmp_path / "r.npz", inputs)]
    np.testing.assert_allclose(rows, model.predict(X), rtol=1e-6)
    assert main(["predict", "--model", str(tmp_path / "r.npz"), "--input", str(inputs),
                 "--proba"]) == 1
    assert "--proba needs a classifier" in capsys.readouterr().err
