"""Pictures of a trained network: one example going forward, its gradient going back,
the training curves, the confusion matrix and the first layer's weights.

matplotlib is an optional dependency (``pip install fastmlp[plot]``), imported only
when a picture is drawn. Figures are built on matplotlib's Agg canvas without
pyplot, so drawing never opens a window, changes the user's backend or keeps
figures alive in pyplot's registry. Every ``plot_*`` function returns the
:class:`matplotlib.figure.Figure` and, given ``path``, also saves it there.

Colours are the same in every picture: blue is positive (a positive weight, an
activation the gradient pushes up), red is negative.

>>> from fastmlp.plot import plot_network
>>> plot_network(model, X_test[0], path="network.png")   # doctest: +SKIP
"""
import math

import numpy as np

from fastmlp import reference
from fastmlp._engine.registry import LOSS_FOR_OUTPUT

__all__ = ["plot_network", "plot_backprop", "plot_training", "plot_confusion_matrix",
           "plot_first_layer_weights", "activation_gradients", "confusion_matrix",
           "require_matplotlib"]

INSTALL_HINT = "pip install fastmlp[plot]"

BLUE = "#4a90e2"
RED = "#e8474f"
GOLD = "#ffc53d"
DARK = "#10151f"        # background of the network pictures
NEURON_OFF = "#1d2533"  # fill of a neuron with activation 0
RING = "#8893a6"        # outline of a neuron
TEXT = "#dde3ec"
MUTED = "#8d97a8"


def require_matplotlib():
    """Import matplotlib, or raise ImportError saying how to install it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        raise ImportError("fastmlp's pictures need matplotlib, which is not installed: "
                          f"{INSTALL_HINT}") from None


def _figure(width, height, facecolor="white"):
    """A Figure on its own Agg canvas (no pyplot, no global backend change)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), dpi=100, facecolor=facecolor)
    FigureCanvasAgg(figure)
    return figure


def _finish(figure, path):
    """Save the figure to `path` (if given) and return it.

    PNGs are written with a palette of at most 256 colours, which keeps the
    anti-aliased network pictures small (README-sized) at no visible cost.
    """
    if path is None:
        return figure
    if not str(path).lower().endswith(".png"):
        figure.savefig(path, facecolor=figure.get_facecolor())
        return figure
    import io

    from PIL import Image  # a dependency of matplotlib
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=figure.get_facecolor())
    buffer.seek(0)
    with Image.open(buffer) as image:
        no_dither = getattr(Image, "Dither", Image).NONE   # Pillow < 9.1: Image.NONE
        image.convert("RGB").quantize(256, dither=no_dither).save(path, optimize=True)
    return figure


def _diverging():
    """Red -> white -> blue: negative red, positive blue (for light backgrounds)."""
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("fastmlp_rwb", [RED, "#ffffff", BLUE])


def _diverging_dark():
    """Red -> background -> blue, for the dark network pictures."""
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("fastmlp_rdb", [RED, DARK, BLUE])


# --- the numbers behind the pictures (NumPy only) ------------------------------------


def _network(model):
    """(coefs, intercepts, activation, out_activation) of a fitted model, in float64."""
    if not hasattr(model, "coefs_"):
        raise ValueError(f"the {type(model).__name__} is not fitted yet; call fit first")
    coefs = [np.asarray(W, dtype=np.float64) for W in model.coefs_]
    intercepts = [np.asarray(b, dtype=np.float64) for b in model.intercepts_]
    return coefs, intercepts, model.activation, model.out_activation_


def _one_sample(model, x):
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size != model.n_features_in_:
        raise ValueError(f"x has {x.size} values, but the model expects "
                         f"{model.n_features_in_} features")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinity")
    return x


def _target_row(model, y, n_outputs):
    """The training target of one example as the output layer's row (one-hot, ...)."""
    classes = getattr(model, "classes_", None)
    if classes is None or getattr(model, "_multilabel", False):   # regression, multilabel
        row = np.asarray(y, dtype=np.float64).ravel()
        if row.size != n_outputs:
            raise ValueError(f"y has {row.size} values, the model {n_outputs} outputs")
        return row
    where = np.flatnonzero(classes == y)
    if where.size == 0:
        raise ValueError(f"y={y!r} is not one of the model's classes {list(classes)}")
    if n_outputs == 1:   # binary: one logistic output, P(classes[1])
        return np.array([float(where[0] == 1)])
    row = np.zeros(n_outputs)
    row[where[0]] = 1.0
    return row


def activation_gradients(model, x, y):
    """Forward and backward pass of one example through a fitted model, in NumPy.

    Parameters
    ----------
    model : fitted MLPClassifier or MLPRegressor
    x : array-like of n_features values
    y : a class label (classifier), or the target values (regressor, multilabel)

    Returns
    -------
    acts : list of ndarray
        Activations of every layer for x, the input first and the output last.
    grads : list of ndarray
        ``grads[i]`` is the gradient of the example's loss with respect to
        ``acts[i]`` (``grads[0]``: with respect to the input pixels), except the last,
        which is the gradient with respect to the output layer's pre-activation
        (``P - Y`` for the cross-entropies). Gradient descent moves each value
        against its gradient.
    loss : float
        The example's loss (without the L2 penalty).
    """
    coefs, intercepts, activation, out_activation = _network(model)
    x = _one_sample(model, x)
    acts = _forward_one(model, x)
    Y = _target_row(model, y, coefs[-1].shape[1])[None, :]
    loss_name = LOSS_FOR_OUTPUT[out_activation]
    loss = float(reference.per_sample_losses(Y, acts[-1][None, :], loss_name)[0])
    delta = reference.output_delta(Y, acts[-1][None, :], loss_name)   # dL/dz, output
    grads = [None] * len(acts)
    grads[-1] = delta[0]
    for i in range(len(coefs) - 1, -1, -1):
        grad_a = delta @ coefs[i].T                                   # dL/da of layer i
        grads[i] = grad_a[0]
        if i > 0:
            delta = grad_a * _derivative(model, acts, i)
    return acts, grads, loss


def _derivative(model, acts, layer):
    """act'(z) of hidden layer `layer` for one example (acts[layer] = act(z))."""
    coefs, intercepts, activation, _ = _network(model)
    z = acts[layer - 1] @ coefs[layer - 1] + intercepts[layer - 1]
    return reference.DERIVATIVES[activation](z, acts[layer])


def confusion_matrix(y_true, y_pred, labels=None):
    """Counts of (true, predicted) pairs: rows true labels, columns predicted labels.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
        The labels in the order of the rows and columns; by default every label
        of y_true and y_pred, sorted. Pairs with other labels are not counted.

    Returns
    -------
    matrix : ndarray of shape (n_labels, n_labels), dtype int64
    labels : ndarray of shape (n_labels,)
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred {y_pred.size}")
    labels = np.union1d(y_true, y_pred) if labels is None else np.asarray(labels)
    index = {label: i for i, label in enumerate(labels.tolist())}
    rows = np.array([index.get(v, -1) for v in y_true.tolist()], dtype=np.intp)
    cols = np.array([index.get(v, -1) for v in y_pred.tolist()], dtype=np.intp)
    keep = (rows >= 0) & (cols >= 0)
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, (rows[keep], cols[keep]), 1)
    return matrix, labels


# --- drawing a network ---------------------------------------------------------------


def _pick(values, limit):
    """Indices of at most `limit` units to draw, in order: half the units with the
    largest |value|, the rest spread evenly over the layer."""
    n = len(values)
    if n <= limit:
        return np.arange(n)
    top = np.argsort(-np.abs(values), kind="stable")[:limit // 2]
    rest = np.setdiff1d(np.arange(n), top)
    spread = rest[np.linspace(0, len(rest) - 1, limit - len(top)).round().astype(np.intp)]
    return np.sort(np.concatenate([top, spread]))


def _image_shape(n_features, image_shape):
    if image_shape is not None:
        if int(np.prod(image_shape)) != n_features:
            raise ValueError(f"image_shape {tuple(image_shape)} does not hold "
                             f"{n_features} features")
        return tuple(image_shape)
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features and side > 1 else None


def _strongest(strength, limit):
    """Per target column, the rows of the `limit` largest nonzero |strength|."""
    edges = []
    for j in range(strength.shape[1]):
        column = np.abs(strength[:, j])
        for i in np.argsort(-column, kind="stable")[:limit]:
            if column[i] > 0:
                edges.append((i, j))
    return edges


class _Canvas:
    """A network drawn in data units on one axes: x 0..15, y 0..10, equal aspect.

    Column 0 is the input (an image or a column of neurons); columns 1.. are the
    layers. Neuron positions are kept so edges can join them.
    """

    WIDTH, HEIGHT = 15.0, 10.0
    CENTRE = 5.5                  # y of the middle of every column
    IMAGE = (0.25, 3.8, 3.4)      # x0, y0, size of the input image

    def __init__(self, figure, n_columns, image_shape, label_chars=2):
        self.figure = figure
        self.ax = figure.add_axes([0.0, 0.0, 1.0, 0.86])
        self.ax.set_xlim(0, self.WIDTH)
        self.ax.set_ylim(0, self.HEIGHT)
        self.ax.set_aspect("equal")
        self.ax.axis("off")
        self.image_shape = image_shape
        self.label_width = 0.3 + 0.15 * label_chars   # room for the output labels
        first = 5.0 if image_shape is not None else 3.0
        last = self.WIDTH - 3.1 - self.label_width
        step = (last - first) / max(n_columns - 2, 1)
        self.xs = [1.6] + [first + k * step for k in range(n_columns - 1)]
        self.positions = {}

    def column_y(self, n):
        gap = min(0.62, 7.6 / max(n, 1))
        ys = self.CENTRE + gap * (np.arange(n)[::-1] - (n - 1) / 2)
        return ys, 0.34 * gap

    def image(self, pixels, cmap, vmin, vmax):
        x0, y0, size = self.IMAGE
        self.ax.imshow(pixels.reshape(self.image_shape), cmap=cmap, vmin=vmin, vmax=vmax,
                       extent=(x0, x0 + size, y0, y0 + size), interpolation="nearest",
                       zorder=3)
        self.ax.add_patch(_rectangle(x0, y0, size, size))
        rows, cols = self.image_shape
        r, c = np.divmod(np.arange(rows * cols), cols)
        # pixel centres, so that edges leave from the pixel that feeds them
        self.positions[0] = np.column_stack([x0 + (c + 0.5) * size / cols,
                                             y0 + size - (r + 0.5) * size / rows])

    def neurons(self, column, faces, shown, sizes=None, rings=None, ring_widths=None):
        """Circles for the `shown` units of a layer; sizes scale each radius (0..1)."""
        from matplotlib.patches import Circle
        ys, radius = self.column_y(len(shown))
        x = self.xs[column]
        points = np.full((np.max(shown) + 1 if len(shown) else 0, 2), np.nan)
        for k, unit in enumerate(shown):
            points[unit] = (x, ys[k])
            ring = RING if rings is None else rings[k]
            width = 1.0 if ring_widths is None else ring_widths[k]
            if sizes is None:
                self.ax.add_patch(Circle((x, ys[k]), radius, facecolor=faces[k],
                                         edgecolor=ring, linewidth=width, zorder=4))
            else:   # an outline at full size, a disc sized by the value
                self.ax.add_patch(Circle((x, ys[k]), radius, facecolor=NEURON_OFF,
                                         edgecolor=ring, linewidth=width, zorder=4))
                self.ax.add_patch(Circle((x, ys[k]), radius * max(sizes[k], 0.0),
                                         facecolor=faces[k], linewidth=0, zorder=5))
        self.positions[column] = points
        return ys, radius

    def edges(self, column, pairs, signs, strengths, max_width=2.6):
        """Lines from column-1 units to column units: colour by sign, width by strength."""
        from matplotlib.collections import LineCollection
        from matplotlib.colors import to_rgba
        if not pairs:
            return
        strengths = np.asarray(strengths, dtype=np.float64)
        scale = strengths / max(strengths.max(), 1e-300)
        order = np.argsort(scale)   # the strongest drawn last, on top
        start, end = self.positions[column - 1], self.positions[column]
        segments, colours, widths = [], [], []
        for k in order:
            i, j = pairs[k]
            segments.append([start[i], end[j]])
            colours.append(to_rgba(BLUE if signs[k] > 0 else RED, 0.25 + 0.6 * scale[k]))
            widths.append(0.35 + max_width * scale[k])
        self.ax.add_collection(LineCollection(segments, colors=colours, linewidths=widths,
                                              capstyle="round", zorder=2))

    def caption(self, column, text, y=1.15):
        x = self.xs[column] if column or self.image_shape is None else \
            self.IMAGE[0] + self.IMAGE[2] / 2
        self.ax.text(x, y, text, ha="center", va="top", color=MUTED, fontsize=9.5,
                     linespacing=1.3)

    def title(self, text, subtitle):
        self.figure.text(0.5, 0.955, text, ha="center", va="center", color=TEXT,
                         fontsize=15, fontweight="bold")
        self.figure.text(0.5, 0.905, subtitle, ha="center", va="center", color=MUTED,
                         fontsize=10)


def _rectangle(x0, y0, width, height):
    from matplotlib.patches import Rectangle
    return Rectangle((x0, y0), width, height, fill=False, edgecolor=RING, linewidth=1.0,
                     zorder=4)


def _grey(level):
    """The fill of a neuron with activation level in [0, 1]: dark to white."""
    from matplotlib.colors import to_rgb
    dark, light = np.array(to_rgb(NEURON_OFF)), np.ones(3)
    return tuple(dark + (light - dark) * float(np.clip(level, 0, 1)))


def _layer_names(model, coefs):
    names = []
    for i, W in enumerate(coefs):
        if i < len(coefs) - 1:
            names.append(f"hidden layer {i + 1}\n{W.shape[1]} {model.activation}")
        else:
            names.append(f"output\n{W.shape[1]} {model.out_activation_}")
    return names


def _output_labels(model, n_outputs, names=None):
    if names is not None:
        names = [str(name) for name in names]
        if len(names) != n_outputs:
            raise ValueError(f"output_names has {len(names)} names for {n_outputs} outputs")
        return names
    classes = getattr(model, "classes_", None)
    if classes is None:
        return [f"y{j}" for j in range(n_outputs)]
    if n_outputs == 1 and not getattr(model, "_multilabel", False):
        return [f"P({classes[1] if len(classes) > 1 else classes[0]})"]
    return [str(c) for c in classes]


def _shown_caption(n_shown, n_units):
    return "" if n_shown == n_units else f"\n({n_shown} of {n_units} shown)"


def plot_network(model, x, *, image_shape=None, output_names=None, max_neurons=16,
                 edges_per_neuron=4, title=None, path=None):
    """The network at work on one example, drawn the way illustrated explanations do.

    The input image sits on the left; each layer is a column of neurons shaded by
    their activation for this example (dark: 0, white: the layer's largest); lines
    join each drawn neuron to the inputs that feed it most strongly for this example
    (largest |weight x input activation|), blue for positive and red for negative
    weights, wider for larger |weight|. Layers wider than `max_neurons` are
    subsampled (half their most active neurons, half spread evenly). The output
    neurons carry their probabilities; the predicted class is highlighted.

    Parameters
    ----------
    model : fitted MLPClassifier or MLPRegressor
    x : array-like of n_features values
        One example (e.g. a flattened 28x28 image).
    image_shape : tuple of int, default=None
        Shape of the input image; by default square when n_features is a square
        number, otherwise the input is drawn as a column of neurons too.
    output_names : list of str, default=None
        Names shown next to the output neurons; by default the model's classes.
    max_neurons : int, default=16
    edges_per_neuron : int, default=4
        Incoming lines drawn per neuron.
    title : str, default=None
    path : str or path-like, default=None
        Where to save the picture (the format follows the suffix, e.g. .png).

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    coefs, _, _, _ = _network(model)
    x = _one_sample(model, x)
    acts = _forward_one(model, x)
    shape = _image_shape(x.size, image_shape)
    labels = _output_labels(model, coefs[-1].shape[1], output_names)
    figure = _figure(12.0, 8.6, DARK)
    canvas = _Canvas(figure, len(coefs) + 1, shape, max(len(s) for s in labels))

    # input
    if shape is not None:
        canvas.image(x, "gray", min(0.0, x.min()), max(1.0, x.max()))
        canvas.caption(0, f"input image\n{shape[0]}\u00d7{shape[1]} = {x.size} pixels",
                       y=canvas.IMAGE[1] - 0.2)
        shown = [np.arange(x.size)]
    else:
        shown = [_pick(x, max_neurons)]
        peak = max(np.abs(x[shown[0]]).max(), 1e-12)
        canvas.neurons(0, [_grey(v / peak) for v in x[shown[0]]], shown[0])
        canvas.caption(0, f"input\n{x.size} features{_shown_caption(len(shown[0]), x.size)}")

    # layers, from the first hidden one to the output
    names = _layer_names(model, coefs)
    is_classifier = hasattr(model, "classes_")
    winner = _winner(model, acts[-1]) if is_classifier else None
    for layer, W in enumerate(coefs, start=1):
        a = acts[layer]
        last = layer == len(coefs)
        units = np.arange(len(a)) if last else _pick(a, max_neurons)
        shown.append(units)
        if last and is_classifier:
            levels = a[units]
        else:
            levels = a[units] / max(np.abs(a[units]).max(), 1e-12)
        rings = [GOLD if last and unit == winner else RING for unit in units]
        widths = [2.6 if last and unit == winner else 1.0 for unit in units]
        ys, radius = canvas.neurons(layer, [_grey(v) for v in levels], units, rings=rings,
                                    ring_widths=widths)
        source = shown[layer - 1]
        contribution = acts[layer - 1][source, None] * W[np.ix_(source, units)]
        pairs = _strongest(contribution, edges_per_neuron)
        weights = [W[source[i], units[j]] for i, j in pairs]
        canvas.edges(layer, [(source[i], units[j]) for i, j in pairs], weights,
                     np.abs(weights))
        canvas.caption(layer, names[layer - 1] + _shown_caption(len(units), len(a)))
        if last:
            _output_column(canvas, layer, ys, radius, a, labels, winner, is_classifier)

    predicted = labels[winner] if winner is not None else None
    if title is None:
        title = (f"The network sees this input and answers {predicted}"
                 if predicted is not None else "The network at work on one example")
    canvas.title(title, "neuron brightness: its activation for this input   \u2022   "
                        "lines: the strongest weighted inputs of each neuron, "
                        "blue positive / red negative weight, width \u221d |weight|")
    return _finish(figure, path)


def _forward_one(model, x):
    """Activations of every layer for one example, the input first."""
    coefs, intercepts, activation, out_activation = _network(model)
    acts = reference.forward(coefs, intercepts, x[None, :], activation, out_activation)
    return [a[0] for a in acts]


def _winner(model, output):
    if getattr(model, "_multilabel", False):
        return int(np.argmax(output))
    if output.size == 1:
        return 0
    return int(np.argmax(output))


def _output_column(canvas, column, ys, radius, values, labels, winner, probabilities):
    """Labels and bars to the right of the output neurons."""
    ax = canvas.ax
    x = canvas.xs[column] + radius + 0.25
    bar_x, bar_length = x + canvas.label_width, 1.6
    peak = 1.0 if probabilities else max(np.abs(values).max(), 1e-12)
    for k, value in enumerate(values):
        best = k == winner
        colour = GOLD if best else TEXT
        ax.text(x, ys[k], labels[k], ha="left", va="center", color=colour,
                fontsize=12 if best else 10.5, fontweight="bold" if best else "normal")
        ax.add_patch(_bar(bar_x, ys[k], bar_length, radius, 1.0, "#252e3d"))
        ax.add_patch(_bar(bar_x, ys[k], bar_length, radius, abs(value) / peak,
                          GOLD if best else "#9aa6b8"))
        text = f"{value:.1%}" if probabilities else f"{value:.3g}"
        ax.text(bar_x + bar_length + 0.12, ys[k], text, ha="left", va="center",
                color=colour, fontsize=9.5, fontweight="bold" if best else "normal")


def _bar(x, y, length, radius, fraction, colour):
    from matplotlib.patches import Rectangle
    height = 1.1 * radius
    return Rectangle((x, y - height / 2), length * float(np.clip(fraction, 0, 1)), height,
                     facecolor=colour, edgecolor="none", zorder=4)


def plot_backprop(model, x, y, *, image_shape=None, output_names=None, max_neurons=16,
                  edges_per_neuron=3, title=None, path=None):
    """Backpropagation for one example: which way the gradient pushes every neuron.

    The output layer shows the error ``Y - P``: the target neuron should rise (blue),
    the others fall (red), by as much as they are wrong. Going back, each hidden
    neuron is coloured by the sign of ``-dLoss/d(activation)`` (blue: gradient
    descent wants it higher, red: lower), its disc sized by the magnitude
    (relative to the layer's largest). Lines show the weight updates gradient
    descent makes for this example, ``-dLoss/dW = -a_in x delta_out``: blue for
    weights that grow, red for weights that shrink, wider for larger changes.
    The input picture is ``-dLoss/dx``: the pixels that would make the target more
    likely if brighter (blue) or darker (red), over the faint digit.

    Parameters
    ----------
    model : fitted MLPClassifier or MLPRegressor
    x : array-like of n_features values
    y : the example's class label (or target values for a regressor)
    image_shape, output_names, max_neurons, edges_per_neuron, title, path
        As :func:`plot_network`.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    coefs, _, activation, _ = _network(model)
    x = _one_sample(model, x)
    acts, grads, loss = activation_gradients(model, x, y)
    push = [-g for g in grads]   # the direction gradient descent moves each value
    shape = _image_shape(x.size, image_shape)
    labels = _output_labels(model, coefs[-1].shape[1], output_names)
    figure = _figure(12.0, 8.6, DARK)
    canvas = _Canvas(figure, len(coefs) + 1, shape, max(len(s) for s in labels))

    if shape is not None:
        peak = max(np.abs(push[0]).max(), 1e-300)
        canvas.image(push[0], _diverging_dark(), -peak, peak)
        x0, y0, size = canvas.IMAGE
        canvas.ax.contour(np.linspace(x0, x0 + size, shape[1]),
                          np.linspace(y0 + size, y0, shape[0]), x.reshape(shape),
                          levels=[0.5 * max(x.max(), 1e-12)], colors=[TEXT],
                          linewidths=0.6, alpha=0.55, zorder=5)
        canvas.caption(0, "input gradient \u2212\u2202L/\u2202x\nblue: brighter would help",
                       y=y0 - 0.2)
        shown = [np.arange(x.size)]
    else:
        shown = [_pick(push[0], max_neurons)]
        _signed_neurons(canvas, 0, push[0], shown[0])
        canvas.caption(0, f"input gradient\n{x.size} features"
                          f"{_shown_caption(len(shown[0]), x.size)}")

    names = _layer_names(model, coefs)
    is_classifier = hasattr(model, "classes_")
    target = np.flatnonzero(_target_row(model, y, coefs[-1].shape[1]) > 0.5) \
        if is_classifier else np.array([], dtype=np.intp)
    for layer in range(1, len(coefs) + 1):
        last = layer == len(coefs)
        units = np.arange(len(push[layer])) if last else _pick(push[layer], max_neurons)
        shown.append(units)
        rings = [GOLD if last and unit in target else RING for unit in units]
        ys, radius = _signed_neurons(canvas, layer, push[layer], units, rings=rings,
                                     absolute=last and is_classifier)
        # the weight update of this example: -dL/dW[i, j] = -a_i * delta_j
        delta = grads[layer] if last else grads[layer] * _derivative(model, acts, layer)
        source = shown[layer - 1]
        update = -acts[layer - 1][source, None] * delta[None, units]
        pairs = _strongest(update, edges_per_neuron)
        changes = [update[i, j] for i, j in pairs]
        canvas.edges(layer, [(source[i], units[j]) for i, j in pairs], changes,
                     np.abs(changes))
        what = "error Y \u2212 P" if last else "\u2212\u2202L/\u2202a"
        canvas.caption(layer, names[layer - 1].split("\n")[0] + f": {what}"
                       + _shown_caption(len(units), len(push[layer])))
        if last:
            _error_column(canvas, layer, ys, radius, acts[-1], push[-1], labels, target,
                          is_classifier)

    if title is None:
        if is_classifier and target.size == 1:
            predicted = labels[_winner(model, acts[-1])]
            title = (f"Backpropagation: the target is {labels[target[0]]}, the network "
                     f"says {predicted} (loss {loss:.3g})")
        else:
            title = f"Backpropagation for one example (loss {loss:.3g})"
    canvas.title(title, "blue: gradient descent pushes it up   \u2022   red: pushes it down"
                        "   \u2022   disc size and line width: how hard")
    return _finish(figure, path)


def _signed_neurons(canvas, column, values, units, rings=None, absolute=False):
    """Neurons coloured by the sign of `values`, discs sized by |value|."""
    chosen = values[units]
    peak = 1.0 if absolute else max(np.abs(chosen).max(), 1e-300)
    sizes = np.sqrt(np.abs(chosen) / peak)   # area proportional to the magnitude
    faces = [BLUE if v > 0 else RED for v in chosen]
    widths = [2.6 if rings is not None and rings[k] == GOLD else 1.0
              for k in range(len(units))]
    return canvas.neurons(column, faces, units, sizes=sizes, rings=rings, ring_widths=widths)


def _error_column(canvas, column, ys, radius, output, error, labels, target, probabilities):
    ax = canvas.ax
    x = canvas.xs[column] + radius + 0.25
    for k, value in enumerate(output):
        is_target = k in target
        colour = GOLD if is_target else TEXT
        arrow = "\u25b2" if error[k] > 0 else "\u25bc"
        arrow_colour = BLUE if error[k] > 0 else RED
        ax.text(x, ys[k], labels[k], ha="left", va="center", color=colour,
                fontsize=12 if is_target else 10.5,
                fontweight="bold" if is_target else "normal")
        ax.text(x + canvas.label_width, ys[k], arrow, ha="left", va="center", color=arrow_colour,
                fontsize=8 + 6 * min(abs(error[k]), 1.0))
        shown = f"{value:.1%}" if probabilities else f"{value:.3g}"
        note = " target" if is_target else ""
        ax.text(x + canvas.label_width + 0.55, ys[k], f"{shown}{note}", ha="left",
                va="center", color=colour, fontsize=9.5,
                fontweight="bold" if is_target else "normal")


def _smoothness(W, shape):
    """Per column of W seen as an image: the lag-1 autocorrelation of its pixels."""
    images = W.reshape(*shape, W.shape[1])
    across = (images[:, 1:] * images[:, :-1]).sum(axis=(0, 1))
    down = (images[1:] * images[:-1]).sum(axis=(0, 1))
    energy = (images ** 2).sum(axis=(0, 1))
    return (across + down) / np.maximum(2 * energy, 1e-300)


# --- charts --------------------------------------------------------------------------


def _style(ax):
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#e6e9ee", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors="#3c4452")


def plot_training(model, *, title=None, path=None):
    """The training curves: the loss per epoch and, when fit had validation data,
    the validation score (accuracy for a classifier, R^2 for a regressor).

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor fitted by a stochastic solver
    title : str, default=None
    path : str or path-like, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    losses = list(getattr(model, "loss_curve_", None) or [])
    if not losses:
        raise ValueError("the model has no loss_curve_: fit it with solver='adam' or 'sgd'")
    scores = list(getattr(model, "validation_scores_", None) or [])
    val_losses = list(getattr(model, "validation_loss_curve_", None) or [])
    figure = _figure(11.0 if scores else 6.5, 4.2)
    axes = figure.subplots(1, 2 if scores else 1, squeeze=False)[0]
    epochs = np.arange(1, len(losses) + 1)

    ax = axes[0]
    _style(ax)
    ax.plot(epochs, losses, "-o", color=BLUE, linewidth=2, markersize=4,
            label="training loss")
    if val_losses:
        ax.plot(np.arange(1, len(val_losses) + 1), val_losses, "-o", color=RED,
                linewidth=2, markersize=4, label="validation loss")
    positive = [v for v in losses + val_losses if v > 0]
    if positive and max(positive) / min(positive) > 20:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss", loc="left", fontweight="bold")
    ax.legend(frameon=False)
    ax.xaxis.get_major_locator().set_params(integer=True)

    if scores:
        ax = axes[1]
        _style(ax)
        is_classifier = hasattr(model, "classes_")
        values = np.array(scores) * (100 if is_classifier else 1)
        ax.plot(np.arange(1, len(values) + 1), values, "-o", color="#2a9d6f", linewidth=2,
                markersize=4)
        best = int(np.argmax(values))
        ax.annotate(f"{values[best]:.2f}%" if is_classifier else f"{values[best]:.4f}",
                    (best + 1, values[best]), textcoords="offset points", xytext=(0, 8),
                    ha="center", color="#1d6f4f", fontweight="bold")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (%)" if is_classifier else "validation R\u00b2")
        ax.set_title("Validation accuracy" if is_classifier else "Validation R\u00b2",
                     loc="left", fontweight="bold")
        ax.xaxis.get_major_locator().set_params(integer=True)
        low, high = values.min(), values.max()
        ax.set_ylim(low - 0.15 * (high - low + 1e-9), high + 0.25 * (high - low + 1e-9))

    if title is None:
        sizes = [model.coefs_[0].shape[0]] + [W.shape[1] for W in model.coefs_]
        title = (f"Training {'-'.join(map(str, sizes))} ({model.activation}, "
                 f"{model.solver}), {len(losses)} epochs")
    figure.suptitle(title, fontsize=13, fontweight="bold", x=0.02, ha="left")
    figure.tight_layout()
    return _finish(figure, path)


def plot_confusion_matrix(y_true, y_pred, labels=None, *, display_labels=None, title=None,
                          path=None):
    """The confusion matrix as a heat map: rows true class, columns predicted class.

    Each cell shows its count; the colour is the fraction of its row (so the
    diagonal is each class's recall), on a power scale that makes rare confusions
    visible.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
        The classes and their order; by default all of y_true and y_pred, sorted.
    display_labels : list of str, default=None
        Names shown for the labels (e.g. Fashion-MNIST's clothing names).
    title : str, default=None
    path : str or path-like, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    matrix, labels = confusion_matrix(y_true, y_pred, labels)
    names = [str(v) for v in (labels if display_labels is None else display_labels)]
    if len(names) != len(labels):
        raise ValueError(f"display_labels has {len(names)} names for {len(labels)} labels")
    n = len(labels)
    side = min(max(4.5, 0.55 * n + 2.5), 14)
    longest = max(len(s) for s in names)
    figure = _figure(side + 0.08 * longest, side)
    ax = figure.add_subplot()
    rows = matrix.sum(axis=1, keepdims=True)
    fraction = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    from matplotlib.colors import PowerNorm
    # a power scale, so that a few errors in a cell still show against the white
    image = ax.imshow(fraction, cmap="Blues", norm=PowerNorm(0.4, vmin=0, vmax=1))
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if matrix[i, j] or i == j:
                    ax.text(j, i, f"{matrix[i, j]:,}", ha="center", va="center",
                            fontsize=9 if n <= 12 else 7,
                            color="white" if fraction[i, j] > 0.55 else "#26303d")
    ax.set_xticks(range(n), names, rotation=45 if longest > 2 else 0,
                  ha="right" if longest > 2 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    colorbar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("fraction of the true class")
    total = matrix.sum()
    accuracy = np.trace(matrix) / total if total else 0.0
    ax.set_title(title or f"Confusion matrix: accuracy {accuracy:.2%} on {total:,} samples",
                 fontweight="bold", loc="left")
    figure.tight_layout()
    return _finish(figure, path)


def plot_first_layer_weights(model, *, image_shape=None, max_units=64, columns=8,
                             title=None, path=None):
    """The first layer's weight columns drawn as images, one per hidden unit.

    Each image is what one first-layer unit looks for: its weight on every input
    pixel, blue positive and red negative (each image on its own symmetric scale).
    The `max_units` units whose weights are the most spatially structured (the
    largest correlation between neighbouring pixels' weights, which the random
    initialisation lacks) are shown, most structured first.

    Parameters
    ----------
    model : fitted MLPClassifier or MLPRegressor
    image_shape : tuple of int, default=None
        Input image shape; by default square (n_features must be a square number).
    max_units : int, default=64
    columns : int, default=8
    title : str, default=None
    path : str or path-like, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    coefs, _, _, _ = _network(model)
    W = coefs[0]
    shape = _image_shape(W.shape[0], image_shape)
    if shape is None:
        raise ValueError(f"the {W.shape[0]} input features are not a square image; "
                         "pass image_shape")
    units = np.argsort(-_smoothness(W, shape), kind="stable")[:max_units]
    columns = max(1, min(columns, len(units)))
    rows = math.ceil(len(units) / columns)
    figure = _figure(1.25 * columns + 0.2, 1.25 * rows + 0.75)
    cmap = _diverging()
    for k, unit in enumerate(units):
        ax = figure.add_subplot(rows, columns, k + 1)
        peak = max(np.abs(W[:, unit]).max(), 1e-300)
        ax.imshow(W[:, unit].reshape(shape), cmap=cmap, vmin=-peak, vmax=peak,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor("#c9ced6")
        ax.set_title(f"unit {unit}", fontsize=7.5, color="#5b6472", pad=2)
    if title is None:
        title = (f"What the first layer looks for: {len(units)} of its {W.shape[1]} units "
                 "(the most structured), blue positive, red negative weights")
    figure.suptitle(title, fontsize=11, fontweight="bold")
    figure.tight_layout(rect=(0, 0, 1, 0.97), h_pad=0.9, w_pad=0.3)
    return _finish(figure, path)
