"""fastmlp.export.to_onnx: the exported ONNX graph computes what the model does.

Every hidden activation, every kind of target (binary with string labels, binary with
integer labels, multiclass, multilabel; single- and multi-output regression, and the
Poisson loss) and both dtypes: fit a tiny model, export it, check it with
onnx.checker, run it in onnxruntime on 1,000 rows and on 1 row (the batch dimension
is dynamic) and compare with predict_proba / predict. Skipped without onnx or
onnxruntime.
"""
import builtins

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from export_cases import KINDS, N_FEATURES, data, fitted  # noqa: E402

from fastmlp import MLPClassifier  # noqa: E402
from fastmlp._engine.registry import HIDDEN_ACTIVATIONS  # noqa: E402
from fastmlp.exceptions import NotFittedError  # noqa: E402
from fastmlp.export import to_onnx  # noqa: E402

from helpers import classifier, quiet_fit  # noqa: E402


def session(proto):
    return onnxruntime.InferenceSession(proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])


def assert_close(got, expected, dtype):
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    if dtype == np.float32:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def run_and_compare(model, X, dtype):
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(proto)
    for rows in (X, X[:1]):
        if isinstance(model, MLPClassifier):
            label, proba = sess.run(["label", "probabilities"], {"X": rows})
            assert_close(proba, model.predict_proba(rows), dtype)
            expected = model.predict(rows)
            if expected.dtype.kind in "US":
                assert label.dtype == object
                label = label.astype(expected.dtype)
            else:
                assert label.dtype == np.int64
            assert label.shape == expected.shape
            np.testing.assert_array_equal(label, expected)
        else:
            (variable,) = sess.run(["variable"], {"X": rows})
            assert_close(variable, model.predict(rows), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_onnx_graph_matches_the_model(activation, kind, dtype):
    model, X = fitted(kind, activation, dtype)
    run_and_compare(model, X, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multiclass_string_labels(dtype):
    X, y = data("multiclass", dtype)
    labels = np.array(["alpha", "béta", "gamma"])[(y + 5) // 10]
    model, X = fitted("multiclass", "relu", dtype, y=labels)
    run_and_compare(model, X, dtype)


def test_single_hidden_layer():
    X, y = data("multiclass", np.float64)
    model = quiet_fit(classifier((3,), activation="gelu", max_iter=3), X, y)
    run_and_compare(model, X, np.float64)


def test_graph_interface(tmp_path):
    model, X = fitted("regression", "relu", np.float32)
    path = tmp_path / "model.onnx"
    proto = to_onnx(model, path)
    assert isinstance(proto, onnx.ModelProto)
    loaded = onnx.load(str(path))
    assert loaded.SerializeToString() == proto.SerializeToString()
    assert [i.name for i in proto.graph.input] == ["X"]
    assert [o.name for o in proto.graph.output] == ["variable"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == N_FEATURES
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {op.domain for op in proto.opset_import} == {""}
    assert all(n.domain == "" for n in proto.graph.node)
    assert "ZipMap" not in {n.op_type for n in proto.graph.node}
    (variable,) = session(loaded).run(None, {"X": X[:5]})
    assert variable.shape == (5,)


def test_classifier_outputs_and_float64_input():
    model, X = fitted("multiclass", "tanh", np.float64)
    proto = to_onnx(model)
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert "Softmax" in {n.op_type for n in proto.graph.node}


def test_errors():
    with pytest.raises(TypeError, match="to_onnx"):
        to_onnx(object())
    with pytest.raises(NotFittedError):
        to_onnx(MLPClassifier())
    model, _ = fitted("regression", "relu", np.float64)
    model.coefs_[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        to_onnx(model)


def test_missing_onnx_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    model, _ = fitted("regression", "relu", np.float64)
    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(ImportError, match=r'pip install "fastmlp\[onnx\]"'):
        to_onnx(model)
