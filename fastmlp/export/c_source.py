"""A fitted model as dependency-free C99 source, for embedded targets (`to_c`).

It writes a header and a source file that hold a fitted MLPClassifier's or
MLPRegressor's weights as ``static const`` arrays and compute its forward pass for
one row: the same numbers as ``predict_proba`` / ``predict``, with nothing but
``<math.h>``. No malloc (the scratch is two local arrays as wide as the widest
layer), no global mutable state (the functions are reentrant and thread-safe), no
Python, NumPy or BLAS at run time. Compile with any C99 compiler::

    cc -std=c99 -O2 -c model.c      # link with -lm

The weights are written with the shortest decimal that reads back as the same
float32 / float64 value, so the exported network is the fitted one, bit for bit;
its outputs agree with fastmlp's to rounding (the order of the sums differs from
the BLAS fastmlp uses).
"""
import os
import re

import numpy as np

from fastmlp._engine.registry import HIDDEN_ACTIVATIONS
from fastmlp.export._model import GELU_C, GELU_K, LEAKY_SLOPE, checked_model, is_classifier

__all__ = ["to_c"]

_VALUES_PER_LINE = 4


def to_c(model, path, name=None):
    """Write a fitted model's forward pass as C99 source: ``<path>.h`` and ``<path>.c``.

    The generated code depends on ``<math.h>`` only (link with ``-lm``), allocates
    nothing (the scratch is local arrays sized by the widest layer) and keeps no
    global mutable state, so it is thread-safe. The scalar type ``T`` is the model's
    dtype: ``float`` for a model fitted in float32, ``double`` for float64. The
    weights are written exactly (shortest round-trip decimals).

    The header declares, with ``NAME`` the upper-cased `name`:

    * ``#define NAME_N_INPUTS`` (the number of features) and ``NAME_N_OUTPUTS``
      (the length of the output below);
    * for a classifier, ``void name_predict_proba(const T* x, T* out)``: one row
      ``x`` of ``NAME_N_INPUTS`` features in, its ``NAME_N_OUTPUTS`` class
      probabilities out, as ``predict_proba`` computes them (2 values ``[1 - p, p]``
      for a binary classifier, one probability per label for a multilabel one);
    * for a single-label classifier, also ``int name_predict(const T* x)``: the
      index of the predicted class in ``name_class_names`` (and, for integer
      labels, in ``name_classes``), as ``predict`` chooses it; ``NAME_N_CLASSES``.
      (A multilabel model's labels are ``out[j] > 0.5`` of ``name_predict_proba``.)
    * for a regressor, ``void name_predict(const T* x, T* out)``: its
      ``NAME_N_OUTPUTS`` predicted targets, as ``predict`` computes them.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        A fitted fastmlp model.
    path : str or os.PathLike
        Where to write, without extension: ``<path>.h`` and ``<path>.c`` are
        written (overwritten if they exist). A path ending in ``.c`` or ``.h`` has
        that extension dropped first, so ``"out/model.c"`` writes ``out/model.c``
        and ``out/model.h``.
    name : str, optional
        The prefix of every generated identifier; a C identifier. By default the
        file's base name with anything but letters, digits and ``_`` replaced by
        ``_`` (and a leading ``_`` if it starts with a digit).

    Returns
    -------
    header, source : tuple of str
        The paths of the two files written.

    Raises
    ------
    TypeError
        If `model` is not a fastmlp MLPClassifier or MLPRegressor, or `name` is
        not a string.
    NotFittedError
        If `model` is not fitted.
    ValueError
        If `name` is not a C identifier, or the weights are not finite.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.export import to_c
    >>> X = np.random.RandomState(0).normal(size=(60, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     header, source = to_c(model, os.path.join(folder, "tiny_model"))
    ...     files = sorted(os.listdir(folder))
    ...     with open(header) as file:
    ...         declared = [line.rstrip() for line in file
    ...                     if line.startswith(("#define TINY_MODEL_N", "void", "int"))]
    >>> files
    ['tiny_model.c', 'tiny_model.h']
    >>> for line in declared:
    ...     print(line)
    #define TINY_MODEL_N_INPUTS 3
    #define TINY_MODEL_N_OUTPUTS 2
    #define TINY_MODEL_N_CLASSES 2
    void tiny_model_predict_proba(const double* x, double* out);
    int tiny_model_predict(const double* x);
    """
    state, coefs, intercepts, activation, out_activation = checked_model(model, "to_c")

    base = os.fspath(path)
    if isinstance(base, bytes):
        base = os.fsdecode(base)
    stem, extension = os.path.splitext(base)
    if extension in (".c", ".h"):
        base = stem
    if name is None:
        name = re.sub(r"\W", "_", os.path.basename(base), flags=re.ASCII) or "model"
        if name[0].isdigit():
            name = "_" + name
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {type(name).__name__}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"name must be a C identifier; got {name!r}")

    classifier = is_classifier(model)
    multilabel = classifier and bool(state.get("_multilabel", False))
    classes = np.asarray(state["classes_"]) if classifier else None
    header_file = os.path.basename(base) + ".h"
    generator = _Generator(coefs, intercepts, activation, out_activation, name,
                           classifier, multilabel, classes)
    header_path, source_path = base + ".h", base + ".c"
    with open(header_path, "w", encoding="utf-8", newline="\n") as file:
        file.write(generator.header(type(model).__name__))
    with open(source_path, "w", encoding="utf-8", newline="\n") as file:
        file.write(generator.source(header_file))
    return header_path, source_path


def _c_string(text):
    """A C string literal of `text` (UTF-8, anything but printable ASCII escaped)."""
    out = []
    for byte in str(text).encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':     # '?' against trigraphs
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _comment(text):
    """`text` made safe inside a /* */ comment."""
    return str(text).replace("*/", "* /").replace("\n", " ")


class _Generator:
    """The text of the two files."""

    def __init__(self, coefs, intercepts, activation, out_activation, name, classifier,
                 multilabel, classes):
        self.coefs, self.intercepts = coefs, intercepts
        self.activation, self.out_activation = activation, out_activation
        self.name, self.upper = name, name.upper()
        self.classifier, self.multilabel, self.classes = classifier, multilabel, classes
        self.float32 = coefs[0].dtype == np.float32
        self.T = "float" if self.float32 else "double"
        self.suffix = "f" if self.float32 else ""
        self.n_inputs = coefs[0].shape[0]
        self.n_network_outputs = coefs[-1].shape[1]
        # predict_proba of a binary classifier: [1 - p, p] from one logistic output
        self.binary = classifier and not multilabel and self.n_network_outputs == 1
        self.n_outputs = 2 if self.binary else self.n_network_outputs
        self.width = max(W.shape[1] for W in coefs)

    # --- numbers and arrays -----------------------------------------------------------

    def number(self, value):
        """The shortest decimal that reads back as `value` in T, as a C literal."""
        text = (str(np.float32(value)) if self.float32 else repr(float(value)))
        if not any(c in text for c in ".en"):
            text += ".0"
        return text + self.suffix

    def values(self, row, indent):
        lines = [", ".join(self.number(v) for v in row[i:i + _VALUES_PER_LINE])
                 for i in range(0, len(row), _VALUES_PER_LINE)]
        return (",\n" + indent).join(lines)

    def arrays(self):
        parts = []
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            rows = ",\n".join("    {" + self.values(row, "     ") + "}" for row in W)
            parts.append(f"/* layer {i}: {W.shape[0]} inputs -> {W.shape[1]} outputs */\n"
                         f"static const {self.T} {self.name}_W{i}[{W.shape[0]}]"
                         f"[{W.shape[1]}] = {{\n{rows}\n}};\n"
                         f"static const {self.T} {self.name}_b{i}[{b.shape[0]}] = {{\n"
                         f"    {self.values(b, '    ')}\n}};\n")
        return "\n".join(parts)

    # --- the activations --------------------------------------------------------------

    def math(self, function):
        return function + ("f" if self.float32 else "")

    def activation_functions(self):
        """The static functions the model uses: act_hidden, act_logistic, ..."""
        T, n = self.T, self.name
        exp = self.math("exp")
        needed = {self.activation}
        if self.activation in ("gelu", "silu") or self.out_activation == "logistic":
            needed.add("logistic")
        bodies = {
            "identity": "return z;",
            "relu": "return z <= 0 ? 0 : z;   /* NaN stays NaN */",
            "tanh": f"return {self.math('tanh')}(z);",
            "logistic": (f"/* 1 / (1 + exp(-z)), branching so that exp never overflows */\n"
                         f"    {T} e;\n"
                         f"    if (z >= 0)\n"
                         f"        return 1 / (1 + {exp}(-z));\n"
                         f"    e = {exp}(z);\n"
                         f"    return e / (1 + e);"),
            "leaky_relu": f"return z > 0 ? z : {self.number(LEAKY_SLOPE)} * z;",
            "elu": f"return z > 0 ? z : {self.math('expm1')}(z);",
            "gelu": (f"/* 0.5 z (1 + tanh(u)), u = sqrt(2/pi) (z + 0.044715 z^3), as "
                     f"z logistic(2 u) */\n"
                     f"    return z * {n}_logistic({self.number(2 * GELU_K)} * "
                     f"(z + {self.number(GELU_C)} * z * z * z));"),
            "silu": f"return z * {n}_logistic(z);",
        }
        order = ["logistic"] + [a for a in HIDDEN_ACTIVATIONS if a != "logistic"]
        return "\n".join(f"static {T} {n}_{a}({T} z)\n{{\n    {bodies[a]}\n}}\n"
                         for a in order if a in needed)

    def output_code(self):
        """C statements turning the logits z[0..k) in place into the network's output."""
        n, k = self.name, self.n_network_outputs
        exp = self.math("exp")
        if self.out_activation == "softmax":
            return (f"    /* softmax, stabilised by subtracting the maximum */\n"
                    f"    zmax = z[0];\n"
                    f"    for (j = 1; j < {k}; j++)\n"
                    f"        if (z[j] > zmax)\n"
                    f"            zmax = z[j];\n"
                    f"    total = 0;\n"
                    f"    for (j = 0; j < {k}; j++) {{\n"
                    f"        z[j] = {exp}(z[j] - zmax);\n"
                    f"        total = total + z[j];\n"
                    f"    }}\n"
                    f"    total = 1 / total;\n"
                    f"    for (j = 0; j < {k}; j++)\n"
                    f"        z[j] = z[j] * total;\n")
        function = {"logistic": f"{n}_logistic", "exp": exp}.get(self.out_activation)
        if function is None:   # identity
            return ""
        return (f"    for (j = 0; j < {k}; j++)\n"
                f"        z[j] = {function}(z[j]);\n")

    # --- the files --------------------------------------------------------------------

    def output_function(self):
        return f"{self.name}_predict" if not self.classifier else f"{self.name}_predict_proba"

    def header(self, model_type):
        n, N, T = self.name, self.upper, self.T
        sizes = [self.n_inputs] + [W.shape[1] for W in self.coefs]
        lines = [f"/* {n}: a fastmlp {model_type} exported by fastmlp.export.to_c.",
                 f" * Layers {' -> '.join(map(str, sizes))}; hidden activation "
                 f"'{self.activation}', output activation '{self.out_activation}'; "
                 f"scalars are {T}.",
                 " * C99 and <math.h> only (link with -lm); no allocation, no global "
                 "mutable state:",
                 " * the functions are reentrant and thread-safe. */",
                 f"#ifndef {N}_H", f"#define {N}_H", "",
                 "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
                 f"#define {N}_N_INPUTS {self.n_inputs}"]
        if self.classifier:
            what = ("per label, the probability that it applies" if self.multilabel
                    else "the class probabilities, in the order of the class labels")
            lines += [f"/* the length of {n}_predict_proba's output: {what} */",
                      f"#define {N}_N_OUTPUTS {self.n_outputs}"]
            labels = list(self.classes.tolist())
            lines += [f"/* {'labels' if self.multilabel else 'classes'}: "
                      f"{_comment(', '.join(repr(c) for c in labels))} */",
                      f"#define {N}_N_CLASSES {len(labels)}",
                      f"static const char* const {n}_class_names[{len(labels)}] = {{"
                      + ", ".join(_c_string(c) for c in labels) + "};"]
            if self.classes.dtype.kind in "iub":
                lines.append(f"static const long long {n}_classes[{len(labels)}] = {{"
                             + ", ".join(f"{int(c)}LL" for c in labels) + "};")
            lines += ["",
                      f"/* x: {N}_N_INPUTS features; out: {N}_N_OUTPUTS "
                      "probabilities, as predict_proba */",
                      f"void {n}_predict_proba(const {T}* x, {T}* out);"]
            if not self.multilabel:
                lines += [f"/* the index in {n}_class_names of the predicted class, as "
                          "predict */",
                          f"int {n}_predict(const {T}* x);"]
        else:
            lines += [f"#define {N}_N_OUTPUTS {self.n_outputs}", "",
                      f"/* x: {N}_N_INPUTS features; out: {N}_N_OUTPUTS predicted "
                      "targets, as predict */",
                      f"void {n}_predict(const {T}* x, {T}* out);"]
        lines += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {N}_H */", ""]
        return "\n".join(lines)

    def layer_code(self, i, source, target):
        W, n = self.coefs[i], self.name
        last = i == len(self.coefs) - 1
        act = "" if last or self.activation == "identity" else f"{n}_{self.activation}"
        bias = f"{target}[j] + {n}_b{i}[j]"
        return (f"    /* layer {i} */\n"
                f"    for (j = 0; j < {W.shape[1]}; j++)\n"
                f"        {target}[j] = 0;\n"
                f"    for (k = 0; k < {W.shape[0]}; k++) {{\n"
                f"        xk = {source}[k];\n"
                f"        for (j = 0; j < {W.shape[1]}; j++)\n"
                f"            {target}[j] += xk * {n}_W{i}[k][j];\n"
                f"    }}\n"
                f"    for (j = 0; j < {W.shape[1]}; j++)\n"
                f"        {target}[j] = {act}({bias});\n")

    def source(self, header_file):
        n, N, T = self.name, self.upper, self.T
        parts = [f"/* {n}: generated by fastmlp.export.to_c; see {header_file}. */",
                 "#include <math.h>", "", f'#include "{_comment(header_file)}"', "",
                 self.arrays(), self.activation_functions()]
        buffers = ["a", "b"]
        body = [f"    {T} a[{self.width}], b[{self.width}];", f"    {T} xk;"]
        if self.out_activation == "softmax":
            body.append(f"    {T} zmax, total;")
        body.append("    int j, k;\n")
        source = "x"
        for i in range(len(self.coefs)):
            target = buffers[i % 2]
            body.append(self.layer_code(i, source, target))
            source = target
        body.append(self.output_code().replace("z[", f"{source}["))
        if self.binary:
            body.append(f"    out[0] = 1 - {source}[0];\n    out[1] = {source}[0];")
        else:
            body.append(f"    for (j = 0; j < {self.n_outputs}; j++)\n"
                        f"        out[j] = {source}[j];")
        signature = f"void {self.output_function()}(const {T}* x, {T}* out)"
        parts.append(f"/* the network's forward pass for one row */\n{signature}\n{{\n"
                     + "\n".join(body) + "\n}\n")
        if self.classifier and not self.multilabel:
            if self.binary:
                choose = ("    return p[1] > 0.5 ? 1 : 0;" if len(self.classes) > 1
                          else "    return 0;   /* a single class */")
            else:
                choose = (f"    for (j = 1; j < {N}_N_OUTPUTS; j++)\n"
                          "        if (p[j] > p[best])\n"
                          "            best = j;\n"
                          "    return best;")
            parts.append(f"int {n}_predict(const {T}* x)\n{{\n"
                         f"    {T} p[{N}_N_OUTPUTS];\n"
                         + ("" if self.binary else "    int j, best = 0;\n")
                         + f"\n    {n}_predict_proba(x, p);\n{choose}\n}}\n")
        return "\n".join(parts)
