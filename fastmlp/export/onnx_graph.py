"""A fitted model as an ONNX graph of default-domain operators (`to_onnx`), for
serving with onnxruntime or any ONNX runtime; needs the onnx package
(``pip install "fastmlp[onnx]"``), imported only when called.

The graph is built by three functions that append nodes to any `graph` with the
methods of `_Graph` (``name``, ``constant``, ``node``): `to_onnx` gives them a
`_Graph` of its own, the skl2onnx converter (`skl2onnx_converter`) one that writes
into skl2onnx's container, so both export the same network."""
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

    To convert a scikit-learn Pipeline that ends in a fastmlp model, use skl2onnx
    after `fastmlp.export.register_skl2onnx`.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        A fitted fastmlp model.
    path : str or os.PathLike, optional
        Where to write the serialized model (overwritten if it exists).

    Returns
    -------
    onnx.ModelProto
        The checked model (``onnx.checker.check_model`` with ``full_check``).

    Raises
    ------
    ImportError
        If the ``onnx`` package is not installed (``pip install "fastmlp[onnx]"``).
    TypeError, NotFittedError, ValueError
        As `to_c`.

    See Also
    --------
    to_c : The same network as C99 source.
    register_skl2onnx : Convert a scikit-learn Pipeline that holds a fastmlp model.

    Examples
    --------
    Export, then predict with onnxruntime:

    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.export import to_onnx
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    >>> model = MLPClassifier((8,), learning_rate_init=0.01, batch_size=20,
    ...                       random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.onnx")
    ...     proto = to_onnx(model, path)
    ...     session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> [node.name for node in proto.graph.output]
    ['label', 'probabilities']
    >>> labels, probabilities = session.run(None, {"X": X[:5]})
    >>> labels.tolist() == model.predict(X[:5]).tolist()
    True
    >>> np.allclose(probabilities, model.predict_proba(X[:5]), atol=1e-6)
    True
    """
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError as error:
        raise ImportError('to_onnx needs the onnx package: pip install "fastmlp[onnx]"'
                          ) from error
    state, coefs, intercepts, activation, out_activation = checked_model(model,
                                                                          "to_onnx")
    dtype = coefs[0].dtype
    float_type = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    graph = _Graph(reserved=("X", "label", "probabilities", "variable"))
    output = append_network(graph, "X", coefs, intercepts, activation, out_activation,
                            dtype)

    batch = "n_samples"
    if is_classifier(model):
        classes = np.asarray(state["classes_"])
        multilabel = bool(state.get("_multilabel", False))
        if multilabel or classes.dtype.kind in "iu":
            table, label_type = classes.astype(np.int64), TensorProto.INT64
        elif classes.dtype.kind in "US" or classes.dtype == object:
            table, label_type = classes.astype(str), TensorProto.STRING
        elif classes.dtype.kind in "bf":
            table = classes
            label_type = helper.np_dtype_to_tensor_dtype(classes.dtype)
        else:
            raise ValueError(f"cannot export class labels of dtype {classes.dtype}")
        n_columns = append_classifier_outputs(graph, output, table, multilabel, dtype,
                                              "label", "probabilities")
        label_shape = [batch, n_columns] if multilabel else [batch]
        graph_outputs = [helper.make_tensor_value_info("label", label_type, label_shape),
                         helper.make_tensor_value_info("probabilities", float_type,
                                                       [batch, n_columns])]
    else:
        flat = bool(state.get("_y_was_1d", False))
        append_regressor_output(graph, output, flat, "variable")
        shape = [batch] if flat else [batch, coefs[-1].shape[1]]
        graph_outputs = [helper.make_tensor_value_info("variable", float_type, shape)]

    onnx_graph = helper.make_graph(
        graph.nodes, f"fastmlp_{type(model).__name__}",
        [helper.make_tensor_value_info("X", float_type, [batch, coefs[0].shape[0]])],
        graph_outputs, graph.initializers)
    proto = helper.make_model(onnx_graph, producer_name="fastmlp",
                              opset_imports=[helper.make_opsetid("", _ONNX_OPSET)],
                              ir_version=_ONNX_IR_VERSION)
    proto.doc_string = (f"fastmlp {type(model).__name__}: hidden activation "
                        f"'{activation}', output activation '{out_activation}'")
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        with open(os.fspath(path), "wb") as file:
            file.write(proto.SerializeToString())
    return proto


class _Graph:
    """The nodes and initializers of a graph being built, each value under a name of
    its own; `reserved` are the names of the graph's inputs and outputs, which only
    an explicit ``node(..., output=name)`` may write."""

    def __init__(self, reserved=()):
        self.nodes, self.initializers = [], []
        self._taken = set(reserved)

    def name(self, hint):
        """`hint`, or `hint` with a number if that name is taken."""
        name, number = hint, 1
        while name in self._taken:
            number += 1
            name = f"{hint}_{number}"
        self._taken.add(name)
        return name

    def constant(self, value, hint, dtype):
        """The name of a new initializer holding `value` as `dtype` (str: a string tensor)."""
        from onnx import numpy_helper
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(constant_array(value, dtype), name))
        return name

    def node(self, op, inputs, output=None, **attributes):
        """Append ``op(inputs)``, writing `output` (a new name if None); its name."""
        from onnx import helper
        output = output or self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [output], **attributes))
        return output


def constant_array(value, dtype):
    """`value` as an array of `dtype`; strings as the object array ONNX wants.

    Parameters
    ----------
    value : array-like
        The constant's values.
    dtype : numpy dtype or str
        The type of its elements; ``str`` for a string tensor.

    Returns
    -------
    array : ndarray
        Of `dtype`, or of object dtype holding Python str for ``str``.

    Examples
    --------
    >>> from fastmlp.export.onnx_graph import constant_array
    >>> constant_array(["cat", "dog"], str)
    array(['cat', 'dog'], dtype=object)
    >>> constant_array([-1], "int64")
    array([-1])
    """
    if dtype is str:
        array = np.asarray(value).astype(str)
        return np.asarray([str(v) for v in array.ravel()], dtype=object).reshape(array.shape)
    return np.asarray(value, dtype=dtype)


def append_network(graph, X, coefs, intercepts, activation, out_activation, dtype):
    """Append the forward pass from the input named `X` to `graph`, computed in `dtype`
    (float32 or float64, whatever the model's); the name of its output, after the
    output activation: ``(n_samples, n_outputs)``, one column per logistic output.

    Parameters
    ----------
    graph : graph builder
        An object with the methods ``name(hint)``, ``constant(value, hint, dtype)``
        and ``node(op, inputs, output=None, **attributes)`` of `to_onnx`'s graph or
        the skl2onnx converter's.
    X : str
        The name of the input: ``(n_samples, n_features)`` in `dtype`.
    coefs, intercepts : list of ndarray
        The model's weights and biases (``coefs_``, ``intercepts_``).
    activation, out_activation : str
        The hidden and the output activation (``activation``,
        ``out_activation_``).
    dtype : numpy dtype
        float32 or float64: the type the network computes in.

    Returns
    -------
    output : str
        The name of the network's output.
    """
    node = graph.node
    shared = {}

    def scalar(value, hint):
        # made on first use, then shared by the layers: onnxruntime warns of unused ones
        if hint not in shared:
            shared[hint] = graph.constant(value, hint, dtype)
        return shared[hint]

    def logistic(z):
        return node("Sigmoid", [z])

    float32 = np.dtype(dtype) == np.float32

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
            if float32:
                return node("LeakyRelu", [z], alpha=LEAKY_SLOPE)
            return node("Max", [z, node("Mul", [z, scalar(LEAKY_SLOPE, "leaky_slope")])])
        if activation == "elu":
            if float32:
                return node("Elu", [z], alpha=1.0)
            # onnxruntime's Elu is float32 only: z > 0 ? z : exp(min(z, 0)) - 1
            zero = scalar(0.0, "zero_float")
            negative = node("Sub", [node("Exp", [node("Min", [z, zero])]),
                                    scalar(1.0, "one")])
            return node("Where", [node("Greater", [z, zero]), z, negative])
        if activation == "gelu":
            # z * logistic(2 K (z + C z z z)), in fastmlp.reference's order
            cubic = node("Mul", [node("Mul", [node("Mul", [scalar(GELU_C, "gelu_c"), z]), z]),
                                 z])
            return node("Mul", [z, logistic(node("Mul", [scalar(2 * GELU_K, "gelu_2k"),
                                                         node("Add", [z, cubic])]))])
        if activation == "silu":
            return node("Mul", [z, logistic(z)])
        raise AssertionError(activation)

    z = X
    last = len(coefs) - 1
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        weights = graph.constant(W, f"coef_{i}", dtype)
        bias = graph.constant(b, f"intercept_{i}", dtype)
        z = node("Gemm", [z, weights, bias],
                 graph.name(f"logits_{i}" if i == last else f"layer_{i}"))
        if i < last:
            z = hidden(z)
    if out_activation == "softmax":
        return node("Softmax", [z], axis=1)
    if out_activation == "logistic":
        return logistic(z)
    if out_activation == "exp":
        return node("Exp", [z])
    return z


def append_classifier_outputs(graph, output, classes, multilabel, dtype, label,
                              probabilities):
    """Append what turns the network's `output` into the outputs named `label` (the
    entries of `classes`, an array of the label type, or a multilabel model's int64
    indicator matrix) and `probabilities` (as predict_proba); their number of columns.

    Parameters
    ----------
    graph : graph builder
        As :func:`append_network`'s.
    output : str
        The name of the network's output (:func:`append_network`'s result).
    classes : ndarray
        The class labels, in the type the `label` output has.
    multilabel : bool
        Whether the model is multilabel (``_multilabel``).
    dtype : numpy dtype
        The type the network computes in.
    label, probabilities : str
        The names of the two outputs to write.

    Returns
    -------
    n_columns : int
        The columns of `probabilities` (2 for a binary classifier).
    """
    from onnx import TensorProto

    # each constant is made only where it is used: onnxruntime warns of unused ones
    if multilabel:
        half = graph.constant(0.5, "half", dtype)
        graph.node("Identity", [output], probabilities)
        graph.node("Cast", [graph.node("Greater", [output, half])], label,
                   to=TensorProto.INT64)
        return len(classes)
    if len(classes) <= 2:   # binary: [1 - p, p] from one logistic output
        half = graph.constant(0.5, "half", dtype)
        one = graph.constant(1.0, "one", dtype)
        graph.node("Concat", [graph.node("Sub", [one, output]), output], probabilities,
                   axis=1)
        indices = graph.node("Cast", [graph.node("Greater", [output, half])],
                             to=TensorProto.INT64)
        if len(classes) == 1:   # fitted on one class: predict says it whatever p is
            indices = graph.node("Mul", [indices, graph.constant(0, "zero", np.int64)])
        indices = graph.node("Reshape", [indices, graph.constant([-1], "flat", np.int64)])
        n_columns = 2
    else:
        graph.node("Identity", [output], probabilities)
        indices = graph.node("ArgMax", [output], axis=1, keepdims=0)
        n_columns = len(classes)
    table_dtype = str if classes.dtype.kind in "USO" else classes.dtype
    graph.node("Gather", [graph.constant(classes, "classes", table_dtype), indices], label,
               axis=0)
    return n_columns


def append_regressor_output(graph, output, flat, variable):
    """Append what writes the network's `output` to the output named `variable`:
    reshaped to ``(n_samples,)`` if `flat`, as it is otherwise.

    Parameters
    ----------
    graph : graph builder
        As :func:`append_network`'s.
    output : str
        The name of the network's output (:func:`append_network`'s result).
    flat : bool
        Whether the model was fitted on a 1-D y (``_y_was_1d``).
    variable : str
        The name of the output to write.
    """
    if flat:
        graph.node("Reshape", [output, graph.constant([-1], "flat", np.int64)], variable)
    else:
        graph.node("Identity", [output], variable)

