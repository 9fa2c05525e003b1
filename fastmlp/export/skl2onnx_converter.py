"""fastmlp models inside scikit-learn pipelines converted by skl2onnx
(`register_skl2onnx`); needs skl2onnx (``pip install "fastmlp[skl2onnx]"``),
imported only when called.

skl2onnx converts a Pipeline step by step, each with the converter registered for
its class. The converters here write the network that `to_onnx` writes (the same
`onnx_graph.append_*` functions) into skl2onnx's graph, and give the step the
outputs skl2onnx gives its own classifiers and regressors, so the steps after it,
ZipMap and the options skl2onnx takes work as for scikit-learn's MLPs.
"""
import numpy as np

from fastmlp._estimators.classifier import MLPClassifier
from fastmlp._estimators.regressor import MLPRegressor
from fastmlp.export._model import checked_model
from fastmlp.export.onnx_graph import (
    append_classifier_outputs,
    append_network,
    append_regressor_output,
    constant_array,
)

__all__ = ["register_skl2onnx"]

CLASSIFIER_ALIAS = "FastmlpMLPClassifier"
REGRESSOR_ALIAS = "FastmlpMLPRegressor"
# the opset from which every operator the network uses has the semantics it relies on
MIN_OPSET = 13
_WHO = "fastmlp's skl2onnx converter"


def register_skl2onnx():
    """Register fastmlp's MLPClassifier and MLPRegressor with skl2onnx.

    After this call, skl2onnx's ``to_onnx`` / ``convert_sklearn`` convert a fitted
    fastmlp model, alone or as a step of a scikit-learn Pipeline (or any estimator
    skl2onnx converts step by step), to default-domain ONNX operators; the rest of
    the pipeline is converted by skl2onnx's own converters. Calling it again does
    no harm. Importing fastmlp never imports skl2onnx: call this function once,
    before converting.

    The converted step computes in the type of its input (float32 for a
    ``FloatTensorType`` or an integer input, float64 for a ``DoubleTensorType``),
    whatever the model's dtype, and follows skl2onnx's conventions:

    * a classifier has outputs ``label`` (int64 for integer, bool or float classes,
      string for string classes) and ``probabilities`` (``(n_samples, n_classes)``,
      as ``predict_proba``). By default skl2onnx then adds a ZipMap, so the model's
      outputs are ``output_label`` and ``output_probability``, a list of
      ``{class: probability}`` dicts; the option ``{"zipmap": False}`` keeps the
      probability tensor (needed for a float64 input: onnxruntime's ZipMap takes
      float32 only), ``{"zipmap": "columns"}`` gives one output per class.
      The options ``nocl`` and ``output_class_labels`` work as for scikit-learn's
      classifiers.
    * a multilabel classifier has outputs ``label`` (the int64 0/1 indicator
      matrix) and ``probabilities`` (``(n_samples, n_labels)``), and needs
      ``{"zipmap": False}``.
    * a regressor has the output ``variable``, ``(n_samples, n_outputs)``: one
      column even when the model was fitted on a 1-D ``y``.

    Raises
    ------
    ImportError
        If skl2onnx is not installed (``pip install "fastmlp[skl2onnx]"``).

    Notes
    -----
    The conversion itself raises NotFittedError or ValueError as `to_onnx` does for
    a model that cannot be exported, and ValueError for a classifier fitted on one
    class, ZipMap on a multilabel classifier or a float64 input, a target opset
    below 13, or an input whose number of features is not the model's.

    Examples
    --------
    A Pipeline that scales the features, then classifies, converted whole and run
    with onnxruntime:

    >>> import numpy as np
    >>> import onnxruntime
    >>> from skl2onnx import to_onnx
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.export import register_skl2onnx
    >>> rng = np.random.RandomState(0)
    >>> X = (10 * rng.normal(size=(200, 4)) + 5).astype(np.float32)
    >>> y = (X[:, 0] > X[:, 1]).astype(int)
    >>> pipeline = make_pipeline(StandardScaler(), MLPClassifier(
    ...     (8,), learning_rate_init=0.02, batch_size=20, random_state=0)).fit(X, y)
    >>> register_skl2onnx()
    >>> onx = to_onnx(pipeline, X[:1], options={"zipmap": False})
    >>> session = onnxruntime.InferenceSession(onx.SerializeToString(),
    ...                                        providers=["CPUExecutionProvider"])
    >>> [output.name for output in session.get_outputs()]
    ['label', 'probabilities']
    >>> labels, probabilities = session.run(None, {"X": X[:5]})
    >>> np.array_equal(labels, pipeline.predict(X[:5]))
    True
    >>> np.allclose(probabilities, pipeline.predict_proba(X[:5]), atol=1e-5)
    True
    """
    try:
        from skl2onnx import update_registered_converter
    except ImportError as error:
        raise ImportError('register_skl2onnx needs skl2onnx: '
                          'pip install "fastmlp[skl2onnx]"') from error
    update_registered_converter(
        MLPClassifier, CLASSIFIER_ALIAS, _classifier_shapes, _convert_classifier,
        parser=_parse_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [False, True],
                 "output_class_labels": [False, True]})
    update_registered_converter(MLPRegressor, REGRESSOR_ALIAS, _regressor_shapes,
                                _convert_regressor)


class _ContainerGraph:
    """The graph interface of `onnx_graph._Graph` (name, constant, node), writing
    into skl2onnx's container under names unique in the whole converted model."""

    def __init__(self, scope, container):
        self._scope, self._container = scope, container

    def name(self, hint):
        """A variable name no other step uses, from `hint`."""
        return self._scope.get_unique_variable_name(hint)

    def constant(self, value, hint, dtype):
        """The name of a new initializer holding `value` as `dtype` (str: strings)."""
        from onnx import TensorProto, numpy_helper
        array = constant_array(value, dtype)
        name = self.name(hint)
        if dtype is str:
            self._container.add_initializer(name, TensorProto.STRING, list(array.shape),
                                            [s.encode("utf-8") for s in array.ravel()])
        else:
            tensor = numpy_helper.from_array(array, name)
            self._container.add_initializer(name, tensor.data_type, list(array.shape), tensor)
        return name

    def node(self, op, inputs, output=None, **attributes):
        """Append ``op(inputs)``, writing `output` (a new name if None); its name."""
        output = output or self.name(op.lower())
        self._container.add_node(op, list(inputs), [output],
                                 name=self._scope.get_unique_operator_name(op), **attributes)
        return output


# ---- parser: the step's outputs, and the ZipMap after it ---------------------------

_ZIPMAP_OFF = ("pass options={id(model): {'zipmap': False}} (or {type(model): ...}) "
               "to skl2onnx's to_onnx")


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx's parser for classifiers (outputs label and probabilities, then the
    ZipMap the options ask for), after the checks whose failure it would report
    less clearly or not at all."""
    # the parser skl2onnx's update_registered_converter itself gives a classifier
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common.data_types import DoubleTensorType

    state = checked_model(model, _WHO)[0]   # NotFittedError, before it reads classes_
    zipmap = scope.get_options(model, {"zipmap": True})["zipmap"]
    if zipmap is not False:
        if state.get("_multilabel", False):
            raise ValueError(f"{_WHO} needs the option zipmap=False for a multilabel "
                             f"MLPClassifier: {_ZIPMAP_OFF}")
        if isinstance(inputs[0].type, DoubleTensorType):
            raise ValueError(f"{_WHO} needs the option zipmap=False for a float64 input "
                             f"(onnxruntime's ZipMap takes float32 only): {_ZIPMAP_OFF}")
    if len(state["classes_"]) < 2:
        raise ValueError(f"{_WHO} cannot convert a classifier fitted on one class: "
                         "skl2onnx's outputs have a probability per class")
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)


# ---- shapes: what skl2onnx declares before converting ----------------------------

def _classifier_shapes(operator):
    """Declare the types of the classifier step's outputs, label and probabilities."""
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType
    from skl2onnx.common.utils import check_input_and_output_numbers

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    model = operator.raw_operator
    state, coefs = checked_model(model, _WHO)[:2]
    _check_features(operator, coefs)
    table, multilabel = _class_table(operator.scope_inst, model, state)
    n = operator.inputs[0].get_first_dimension()
    if multilabel:
        label_type = Int64TensorType([n, len(table)])
    elif table.dtype.kind == "U":
        label_type = StringTensorType([n])
    else:
        label_type = Int64TensorType([n])
    operator.outputs[0].type = label_type
    # a binary model's one logistic output becomes the two columns [1 - p, p]
    operator.outputs[1].type = _float_tensor_type(operator)([n, len(table)])


def _regressor_shapes(operator):
    """Declare the type of the regressor step's output, variable."""
    from skl2onnx.common.utils import check_input_and_output_numbers

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    coefs = checked_model(operator.raw_operator, _WHO)[1]
    _check_features(operator, coefs)
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _float_tensor_type(operator)([n, coefs[-1].shape[1]])


# ---- converters -------------------------------------------------------------------

def _convert_classifier(scope, operator, container):
    """Write the classifier step: the network, then its label and probabilities."""
    model = operator.raw_operator
    state, coefs, intercepts, activation, out_activation = checked_model(model, _WHO)
    graph, X, dtype = _network_input(scope, operator, container)
    output = append_network(graph, X, coefs, intercepts, activation, out_activation, dtype)
    table, multilabel = _class_table(scope, model, state)
    append_classifier_outputs(graph, output, table, multilabel, dtype,
                              operator.outputs[0].full_name, operator.outputs[1].full_name)


def _convert_regressor(scope, operator, container):
    """Write the regressor step: the network, its output as (n_samples, n_outputs)."""
    _, coefs, intercepts, activation, out_activation = checked_model(
        operator.raw_operator, _WHO)
    graph, X, dtype = _network_input(scope, operator, container)
    output = append_network(graph, X, coefs, intercepts, activation, out_activation, dtype)
    append_regressor_output(graph, output, False, operator.outputs[0].full_name)


# ---- shared by both ------------------------------------------------------------------

def _float_tensor_type(operator):
    """skl2onnx's tensor type of the step's float outputs: double for a double input,
    float otherwise (as skl2onnx's own converters do with integer inputs)."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    if isinstance(operator.inputs[0].type, DoubleTensorType):
        return DoubleTensorType
    return FloatTensorType


def _network_input(scope, operator, container):
    """(graph, the name of the network's float input, its dtype): the step's input,
    cast to float32 unless it is float32 or float64."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    opset = container.target_opset_any_domain("")
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(f"{_WHO} needs a target opset of {MIN_OPSET} or more; got {opset}")
    graph = _ContainerGraph(scope, container)
    X, input_type = operator.inputs[0].full_name, operator.inputs[0].type
    if isinstance(input_type, DoubleTensorType):
        return graph, X, np.float64
    if not isinstance(input_type, FloatTensorType):
        X = graph.node("Cast", [X], to=TensorProto.FLOAT)
    return graph, X, np.float32


def _check_features(operator, coefs):
    """ValueError if the step's input has a known number of features, not the model's."""
    shape = operator.inputs[0].type.shape
    n_features = shape[1] if shape is not None and len(shape) == 2 else None
    if isinstance(n_features, (int, np.integer)) and n_features != coefs[0].shape[0]:
        raise ValueError(f"the {type(operator.raw_operator).__name__} step has "
                         f"{coefs[0].shape[0]} features and its input {n_features}")


def _class_table(scope, model, state):
    """(the labels the step outputs, one per class, as skl2onnx's conventions have
    them: int64, or str for string classes; whether the model is multilabel). With
    the option nocl, or for a multilabel model, the labels are the class indices."""
    classes = np.asarray(state["classes_"])
    multilabel = bool(state.get("_multilabel", False))
    if multilabel or scope.get_options(model, {"nocl": False})["nocl"]:
        return np.arange(len(classes), dtype=np.int64), multilabel
    if classes.dtype.kind in "biuf":   # fit accepts only whole float labels
        return classes.astype(np.int64), False
    if classes.dtype.kind in "US" or all(isinstance(c, str) for c in classes):
        return classes.astype(str), False
    raise ValueError(f"{_WHO} converts integer, bool, float or string class labels; "
                     f"got {classes.dtype} labels {list(classes[:3])}")
