"""fastmlp.export.register_skl2onnx: skl2onnx converts a scikit-learn Pipeline that
ends in a fastmlp model, and the converted model computes what the pipeline does.

Pipelines of StandardScaler and a small MLPClassifier (binary and multiclass, integer
and string labels, every hidden activation, multilabel) or MLPRegressor (one and two
outputs), converted with skl2onnx's to_onnx, run in onnxruntime and compared with
predict_proba / predict: float32 to 1e-5, float64 to 1e-10, labels exactly. Then
skl2onnx's options (ZipMap, nocl, output_class_labels) and the errors for what
cannot be converted. Skipped without skl2onnx, onnx or onnxruntime.
"""
import builtins

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

from skl2onnx.common.data_types import (  # noqa: E402
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
)
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastmlp import MLPClassifier, MLPRegressor  # noqa: E402
from fastmlp._engine.registry import HIDDEN_ACTIVATIONS  # noqa: E402
from fastmlp.exceptions import NotFittedError  # noqa: E402
from fastmlp.export import register_skl2onnx  # noqa: E402

from helpers import classifier, quiet_fit, regressor, run_script_printing_ok  # noqa: E402

N_FEATURES = 6
NO_ZIPMAP = {"zipmap": False}
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_skl2onnx()


def data(n_classes, dtype=np.float32, labels=None):
    """300 rows of 6 features (on scales StandardScaler has work to do) and their
    classes, renamed by `labels` if given."""
    X, y = make_classification(n_samples=300, n_features=N_FEATURES, n_informative=4,
                               n_classes=n_classes, n_clusters_per_class=1,
                               random_state=0)
    X = (X * [1, 10, 100, 0.1, 1, 5] + 3).astype(dtype)
    return X, y if labels is None else np.asarray(labels)[y]


def pipeline(estimator, X, y):
    return quiet_fit(Pipeline([("scale", StandardScaler()), ("mlp", estimator)]), X, y)


def small_classifier(hidden=(8,), **params):
    """A classifier that learns these data in 20 epochs, so that every class is
    predicted somewhere and the labels are all checked."""
    return classifier(hidden, learning_rate_init=0.01, batch_size=30, max_iter=20, **params)


def convert_and_run(model, X, **to_onnx_params):
    """skl2onnx's conversion of `model` for inputs like X, and its outputs on X and on
    X's first row (the batch dimension is dynamic), by output name."""
    proto = skl2onnx.to_onnx(model, X[:1], **to_onnx_params)
    onnx.checker.check_model(proto)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    input_name = session.get_inputs()[0].name
    outputs = dict(zip(names, session.run(None, {input_name: X})))
    first_row = dict(zip(names, session.run(None, {input_name: X[:1]})))
    return outputs, first_row


def assert_classifier_outputs(outputs, model, X, dtype):
    expected_proba = model.predict_proba(X)
    assert outputs["probabilities"].dtype == dtype
    np.testing.assert_allclose(outputs["probabilities"], expected_proba, rtol=0,
                               atol=TOLERANCE[dtype])
    expected = model.predict(X)
    label = outputs["label"]
    if expected.dtype.kind in "US":
        assert label.dtype == object   # onnxruntime's string tensors
        label = label.astype(expected.dtype)
    else:
        assert label.dtype == np.int64
    np.testing.assert_array_equal(label, expected)


@pytest.mark.parametrize("labels", [None, [-3, 7, 12], ["setosa", "versicolor", "virginica"]],
                         ids=["0,1,2", "ints", "strings"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_pipeline_matches_predict_proba(n_classes, labels):
    X, y = data(n_classes, labels=None if labels is None else labels[:n_classes])
    model = pipeline(small_classifier((8, 5)), X, y)
    assert len(np.unique(model.predict(X))) == n_classes   # the labels are all checked
    outputs, first_row = convert_and_run(model, X, options=NO_ZIPMAP)
    assert list(outputs) == ["label", "probabilities"]
    assert_classifier_outputs(outputs, model, X, np.float32)
    assert_classifier_outputs(first_row, model, X[:1], np.float32)


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_every_hidden_activation(activation):
    X, y = data(3, labels=["a", "b", "c"])
    model = pipeline(small_classifier((7, 4), activation=activation), X, y)
    outputs, _ = convert_and_run(model, X, options=NO_ZIPMAP)
    assert_classifier_outputs(outputs, model, X, np.float32)


def test_float64_input_computes_in_float64():
    X, y = data(3, np.float64, labels=["a", "b", "c"])
    model = pipeline(small_classifier(activation="elu"), X, y)
    outputs, _ = convert_and_run(model, X, options=NO_ZIPMAP)
    assert_classifier_outputs(outputs, model, X, np.float64)


def test_float32_input_on_a_float64_model():
    """The step computes in its input's type: a model fitted in float64 converted for
    float32 input gives float32 probabilities within float32 rounding."""
    X, y = data(3, np.float64)
    model = pipeline(small_classifier(), X, y)
    assert model[-1].coefs_[0].dtype == np.float64
    outputs, _ = convert_and_run(model, X.astype(np.float32), options=NO_ZIPMAP)
    proba = model.predict_proba(X)
    assert outputs["probabilities"].dtype == np.float32
    np.testing.assert_allclose(outputs["probabilities"], proba, rtol=0, atol=1e-5)
    clear = np.sort(proba, axis=1)[:, -1] - np.sort(proba, axis=1)[:, -2] > 1e-4
    np.testing.assert_array_equal(outputs["label"][clear], model.predict(X)[clear])


@pytest.mark.parametrize("labels", [[4, 9, 11], ["no", "maybe", "yes"]])
def test_zipmap_by_default(labels):
    X, y = data(3, labels=labels)
    model = pipeline(small_classifier(), X, y)
    outputs, _ = convert_and_run(model, X)
    assert list(outputs) == ["output_label", "output_probability"]
    np.testing.assert_array_equal(outputs["output_label"].astype(model.classes_.dtype),
                                  model.predict(X))
    proba = model.predict_proba(X)
    for row, dictionary in zip(proba, outputs["output_probability"]):
        assert list(dictionary) == list(model.classes_)
        np.testing.assert_allclose(list(dictionary.values()), row, rtol=0, atol=1e-5)


def test_zipmap_columns_and_options_by_model_id():
    X, y = data(2, labels=["no", "yes"])
    model = pipeline(small_classifier(), X, y)
    outputs, _ = convert_and_run(model, X, options={id(model[-1]): {"zipmap": "columns"}})
    assert list(outputs) == ["output_label", "sno", "syes"]
    proba = model.predict_proba(X)
    np.testing.assert_allclose(outputs["sno"], proba[:, 0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(outputs["syes"], proba[:, 1], rtol=0, atol=1e-5)


def test_nocl_and_output_class_labels():
    X, y = data(3, labels=["a", "b", "c"])
    model = pipeline(small_classifier(), X, y)
    outputs, _ = convert_and_run(model, X, options={MLPClassifier: {"zipmap": False,
                                                                    "nocl": True}})
    np.testing.assert_array_equal(outputs["label"], model.predict_proba(X).argmax(axis=1))
    outputs, _ = convert_and_run(model, X, options={MLPClassifier: {
        "zipmap": False, "output_class_labels": True}})
    assert list(outputs["class_labels"]) == ["a", "b", "c"]


def test_multilabel_without_zipmap():
    X, _ = data(2)
    Y = (X[:, :3] > np.median(X[:, :3], axis=0)).astype(int)
    model = pipeline(small_classifier(), X, Y)
    outputs, _ = convert_and_run(model, X, options=NO_ZIPMAP)
    assert outputs["label"].shape == (len(X), 3)
    assert_classifier_outputs(outputs, model, X, np.float32)
    with pytest.raises(ValueError, match="zipmap=False for a multilabel"):
        skl2onnx.to_onnx(model, X[:1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_pipeline_matches_predict(n_outputs, dtype):
    X, _ = data(2, dtype)
    y = X[:, 0] * 0.3 - X[:, 1] * 0.01 + np.sin(X[:, 3])
    y = y if n_outputs == 1 else np.c_[y, X[:, 2] * 0.01]
    model = pipeline(regressor((8, 4), activation="tanh", max_iter=30), X, y)
    outputs, first_row = convert_and_run(model, X)
    assert list(outputs) == ["variable"]
    # skl2onnx's regressors give (n_samples, n_outputs), also for a 1-D y
    expected = model.predict(X).reshape(len(X), n_outputs)
    assert outputs["variable"].dtype == dtype
    np.testing.assert_allclose(outputs["variable"], expected, rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype])
    np.testing.assert_allclose(first_row["variable"], expected[:1], rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype])


def test_poisson_regressor_alone_on_integer_input():
    """A model converted on its own; an int64 input is cast to float32, as skl2onnx's
    converters do."""
    X = np.random.RandomState(0).randint(0, 5, size=(300, N_FEATURES))
    y = np.random.RandomState(1).poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1]))
    model = quiet_fit(regressor((6,), loss="poisson", max_iter=20), X, y)
    outputs, _ = convert_and_run(model, X, initial_types=[
        ("X", Int64TensorType([None, N_FEATURES]))])
    np.testing.assert_allclose(outputs["variable"][:, 0], model.predict(X), rtol=1e-5)


def test_errors():
    X, y = data(2)
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(MLPClassifier(), initial_types=[
            ("X", FloatTensorType([None, N_FEATURES]))])
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(MLPRegressor(), initial_types=[
            ("X", FloatTensorType([None, N_FEATURES]))])
    model = pipeline(classifier((4,), max_iter=5), X, y)
    with pytest.raises(ValueError, match="zipmap=False for a float64 input"):
        skl2onnx.to_onnx(model, X[:1].astype(np.float64))
    with pytest.raises(ValueError, match="opset of 13"):
        skl2onnx.to_onnx(model, X[:1], options=NO_ZIPMAP, target_opset=12)
    with pytest.raises(ValueError, match="6 features and its input 4"):
        skl2onnx.to_onnx(model[-1], initial_types=[("X", DoubleTensorType([None, 4]))],
                         options=NO_ZIPMAP)
    one_class = quiet_fit(classifier((4,), max_iter=2), X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="one class"):
        skl2onnx.to_onnx(one_class, X[:1], options=NO_ZIPMAP)


def test_importing_fastmlp_export_imports_neither_skl2onnx_nor_onnx():
    run_script_printing_ok(
        "import sys\n"
        "import fastmlp.export\n"
        "assert 'skl2onnx' not in sys.modules and 'onnx' not in sys.modules\n"
        "print('ok')\n")


def test_missing_skl2onnx_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_skl2onnx(name, *args, **kwargs):
        if name == "skl2onnx" or name.startswith("skl2onnx."):
            raise ImportError("No module named 'skl2onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_skl2onnx)
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[skl2onnx\]"'):
        register_skl2onnx()
