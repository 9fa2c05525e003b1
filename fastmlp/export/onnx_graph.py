"""A fitted model as an ONNX graph of default-domain operators (`to_onnx`), for
serving with onnxruntime or any ONNX runtime; needs the onnx package
(``pip install "fastmlp[onnx]"``), imported only when called."""
import os

import numpy as np

from fastmlp.export._model import GELU_C, GELU_K, LEAKY_SLOPE, checked_model, is_classifier

__all__ = ["to_onnx"]

_ONNX_OPSET = 17
_ONNX_IR_VERSION = 8   # what opset 17 needs; read by every onnxruntime since 1.10


def to_onnx(model, path=None):
    """A fitted model's forward pass as an ONNX graph (default-domain operators only).

    The graph has one input ``"X"``, of shape ``(n_samples, n_features)`` with a
    dynamic batch dimension and the model's dtype (float32 or float64, that of
    ``coefs_``). Its outputs are, for a classifier,

    * ``"label"``: the predicted labels, as ``predict`` gives them: an int64 tensor
      for integer classes, a string tensor for string classes (bool or float classes
      keep their type), or for a multilabel model the ``(n_samples, n_labels)`` int64
      0/1 indicator matrix;
    * ``"probabilities"``: ``(n_samples, n_classes)``, as ``predict_proba`` gives
      them (``[1 - p, p]`` for a binary classifier); no ZipMap;

    and for a regressor ``"variable"``: ``(n_samples, n_outputs)``, or
    ``(n_samples,)`` when the model was fitted on a 1-D ``y``, as ``predict``.

    The graph uses Gemm, Relu, Tanh, Sigmoid, LeakyRelu, Elu, Mul, Add, Max, Min, Where, Exp,
    Softmax, Greater, Cast, ArgMax, Gather, Concat, Sub and Reshape (opset 17).
    gelu is its tanh approximation written as fastmlp computes it,
    ``z * sigmoid(2 sqrt(2/pi) (z + 0.044715 z^3))``, silu is ``z * sigmoid(z)``.
    A float64 leaky_relu is ``max(z, 0.01 z)`` rather than LeakyRelu, whose
    float32 ``alpha`` attribute is not 0.01 in float64, and a float64 elu is
    ``where(z > 0, z, exp(min(z, 0)) - 1)`` (onnxruntime's Elu is float32 only).

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        A fitted fastmlp model.
    path : str or os.PathLike, optional
        Where to write the serialized model (overwritten if it exists).

    Returns
    -------
    onnx.ModelProto
        The checked model.

    Raises
    ------
    ImportError
        If the ``onnx`` package is not installed (``pip install "fastmlp[onnx]"``).
    TypeError, NotFittedError, ValueError
        As `to_c`.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as error:
        raise ImportError('to_onnx needs the onnx package: pip install "fastmlp[onnx]"'
                          ) from error
    state, coefs, intercepts, activation, out_activation = checked_model(model,
                                                                          "to_onnx")
    dtype = coefs[0].dtype
    float_type = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    classifier = is_classifier(model)
    multilabel = classifier and bool(state.get("_multilabel", False))

    nodes, initializers = [], []
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def constant(value, name, array_dtype=dtype):
        array = np.asarray(value, dtype=array_dtype)
        if array.dtype.kind in "UO":
            array = np.asarray([str(v) for v in array.ravel()], dtype=object).reshape(
                array.shape)
        initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(op, inputs, output=None, **attributes):
        output = output or fresh(op.lower())
        nodes.append(helper.make_node(op, list(inputs), [output], **attributes))
        return output

    def logistic(z):
        return node("Sigmoid", [z])

    def hidden(z):
        if activation == "identity":
            return z
        if activation == "relu":
            return node("Relu", [z])
        if activation == "tanh":
            return node("Tanh", [z])
        if activation == "logistic":
            return logistic(z)
        if activation == "leaky_relu":
            if dtype == np.float32:
                return node("LeakyRelu", [z], alpha=LEAKY_SLOPE)
            return node("Max", [z, node("Mul", [z, slope])])
        if activation == "elu":
            if dtype == np.float32:
                return node("Elu", [z], alpha=1.0)
            # onnxruntime's Elu is float32 only: z > 0 ? z : exp(min(z, 0)) - 1
            negative = node("Sub", [node("Exp", [node("Min", [z, zero])]), one])
            return node("Where", [node("Greater", [z, zero]), z, negative])
        if activation == "gelu":
            # z * logistic(2 K (z + C z z z)), in fastmlp.reference's order
            cubic = node("Mul", [node("Mul", [node("Mul", [gelu_c, z]), z]), z])
            return node("Mul", [z, logistic(node("Mul", [gelu_2k,
                                                         node("Add", [z, cubic])]))])
        if activation == "silu":
            return node("Mul", [z, logistic(z)])
        raise AssertionError(activation)

    zero = constant(0.0, "zero_float") if activation == "elu" else None
    binary = classifier and not multilabel and coefs[-1].shape[1] == 1
    one = constant(1.0, "one") if activation == "elu" or binary else None
    slope = constant(LEAKY_SLOPE, "leaky_slope") if activation == "leaky_relu" else None
    gelu_c = constant(GELU_C, "gelu_c") if activation == "gelu" else None
    gelu_2k = constant(2 * GELU_K, "gelu_2k") if activation == "gelu" else None

    z = "X"
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = node("Gemm", [z, constant(W, f"coef_{i}"), constant(b, f"intercept_{i}")],
                 f"logits_{i}" if i == len(coefs) - 1 else f"layer_{i}")
        if i < len(coefs) - 1:
            z = hidden(z)
    if out_activation == "softmax":
        output = node("Softmax", [z], axis=1)
    elif out_activation == "logistic":
        output = logistic(z)
    elif out_activation == "exp":
        output = node("Exp", [z])
    else:
        output = z

    batch = "n_samples"
    n_network_outputs = coefs[-1].shape[1]
    graph_outputs = []
    if classifier:
        classes = np.asarray(state["classes_"])
        if multilabel:
            half = constant(0.5, "half")   # only where used: onnxruntime warns otherwise
            node("Identity", [output], "probabilities")
            node("Cast", [node("Greater", [output, half])], "label",
                 to=TensorProto.INT64)
            label_type, label_shape = TensorProto.INT64, [batch, n_network_outputs]
            n_columns = n_network_outputs
        else:
            if classes.dtype.kind in "iu":
                table = constant(classes, "classes", np.int64)
                label_type = TensorProto.INT64
            elif classes.dtype.kind in "US" or classes.dtype == object:
                table = constant(classes.astype(str), "classes", object)
                label_type = TensorProto.STRING
            elif classes.dtype.kind in "bf":
                table = constant(classes, "classes", classes.dtype)
                label_type = helper.np_dtype_to_tensor_dtype(classes.dtype)
            else:
                raise ValueError(f"cannot export class labels of dtype {classes.dtype}")
            label_shape = [batch]
            if binary:   # binary: [1 - p, p] from one logistic output
                half = constant(0.5, "half")
                node("Concat", [node("Sub", [one, output]), output], "probabilities",
                     axis=1)
                if len(classes) == 1:
                    indices = node("Mul", [node("Cast", [node("Greater", [output, half])],
                                                to=TensorProto.INT64),
                                           constant(0, "zero", np.int64)])
                else:
                    indices = node("Cast", [node("Greater", [output, half])],
                                   to=TensorProto.INT64)
                indices = node("Reshape", [indices,
                                           constant([-1], "flat", np.int64)])
                n_columns = 2
            else:
                node("Identity", [output], "probabilities")
                indices = node("ArgMax", [output], axis=1, keepdims=0)
                n_columns = n_network_outputs
            node("Gather", [table, indices], "label", axis=0)
        graph_outputs = [helper.make_tensor_value_info("label", label_type, label_shape),
                         helper.make_tensor_value_info("probabilities", float_type,
                                                       [batch, n_columns])]
    else:
        if state.get("_y_was_1d", False):
            node("Reshape", [output, constant([-1], "flat", np.int64)], "variable")
            shape = [batch]
        else:
            node("Identity", [output], "variable")
            shape = [batch, n_network_outputs]
        graph_outputs = [helper.make_tensor_value_info("variable", float_type, shape)]

    graph = helper.make_graph(
        nodes, f"fastmlp_{type(model).__name__}",
        [helper.make_tensor_value_info("X", float_type, [batch, coefs[0].shape[0]])],
        graph_outputs, initializers)
    proto = helper.make_model(graph, producer_name="fastmlp",
                              opset_imports=[helper.make_opsetid("", _ONNX_OPSET)],
                              ir_version=_ONNX_IR_VERSION)
    proto.doc_string = (f"fastmlp {type(model).__name__}: hidden activation "
                        f"'{activation}', output activation '{out_activation}'")
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        with open(os.fspath(path), "wb") as file:
            file.write(proto.SerializeToString())
    return proto
