"""Pictures of a trained network: one example going forward, its gradient going back,
the training curves, the confusion matrix and the first layer's weights.

matplotlib is an optional dependency (``pip install fastmlp[plot]``), imported only
when a picture is drawn. Figures are built on matplotlib's Agg canvas without
pyplot, so drawing never opens a window, changes the user's backend or keeps
figures alive in pyplot's registry. Every ``plot_*`` function returns the
:class:`matplotlib.figure.Figure` and, given ``path``, also saves it there.

All five pictures share one light style (white background, the same fonts, a bold
title at the top left). Weights are blue (positive) and red (negative) in every
picture; the changes backpropagation makes are green (up) and purple (down), so that
a change is never mistaken for a weight.

>>> from sklearn.datasets import load_digits
>>> from fastmlp import MLPClassifier
>>> from fastmlp.plot import plot_confusion_matrix, plot_training
>>> X, y = load_digits(return_X_y=True)
>>> X = X / 16
>>> model = MLPClassifier((16,), early_stopping=True, random_state=0).fit(X, y)
>>> figure = plot_training(model)   # plot_training(model, path="training.png") saves it
>>> figure = plot_confusion_matrix(y, model.predict(X))
>>> type(figure)
<class 'matplotlib.figure.Figure'>
"""
import math

import numpy as np

from fastmlp import reference
from fastmlp._engine.registry import LOSS_FOR_OUTPUT

__all__ = ["plot_network", "plot_backprop", "plot_training", "plot_confusion_matrix",
           "plot_first_layer_weights", "activation_gradients", "confusion_matrix",
           "require_matplotlib"]

INSTALL_HINT = "pip install fastmlp[plot]"

# One light style for every picture. Blue and red are the weights themselves; green
# and purple are changes (what backpropagation does), so the two never get confused.
BLUE = "#3b7dd8"     # a positive weight
RED = "#e0474c"      # a negative weight
GREEN = "#1a9850"    # a weight that grows, a neuron that should be more active
PURPLE = "#8e3fb5"   # a weight that shrinks, a neuron that should be less active
ORANGE = "#f28e2b"   # validation data in the training curves
GOLD = "#f0a500"     # the predicted class (network) or the target class (backprop)
PAPER = "#ffffff"    # background
INK = "#1f2430"      # text, and the fill of the most active neuron
MUTED = "#5e6877"    # secondary text
RING = "#646d79"     # outline of a neuron
LIGHT = "#b4bbc5"    # backprop: the fill of the most active neuron (light, under the discs)
TRACK = "#eceef2"    # grid lines, the empty part of a bar
FONT = "DejaVu Sans"   # matplotlib's own font, the same on every machine


def require_matplotlib():
    """Import matplotlib, or raise ImportError saying how to install it.

    Every ``plot_*`` function calls it first; call it to check up front.

    Raises
    ------
    ImportError
        If matplotlib is not installed; the message says ``pip install
        fastmlp[plot]``.

    Examples
    --------
    >>> from fastmlp.plot import require_matplotlib
    >>> require_matplotlib()   # matplotlib is installed: nothing happens
    """
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        raise ImportError("fastmlp's pictures need matplotlib, which is not installed: "
                          f"{INSTALL_HINT}") from None


# matplotlib settings every picture is drawn with (fonts, text and axis colours), so
# that the five pictures look alike whatever the user's rcParams say
_RC = {"font.family": "sans-serif", "font.sans-serif": [FONT],
       "font.size": 10, "text.color": INK, "axes.labelcolor": INK, "axes.titlecolor": INK,
       "axes.edgecolor": "#b9c0ca", "axes.labelsize": 10.5, "axes.titlesize": 11.5,
       "xtick.color": MUTED, "ytick.color": MUTED, "xtick.labelcolor": INK,
       "ytick.labelcolor": INK, "xtick.labelsize": 9.5, "ytick.labelsize": 9.5,
       "legend.frameon": False, "legend.fontsize": 9.5, "figure.facecolor": PAPER,
       "savefig.facecolor": PAPER, "image.interpolation": "nearest"}


def _styled(draw):
    """Run a plot_* function under the pictures' common matplotlib settings."""
    import functools

    @functools.wraps(draw)
    def styled(*args, **kwargs):
        require_matplotlib()
        import matplotlib
        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)
    return styled


def _figure(width, height):
    """A Figure on its own Agg canvas (no pyplot, no global backend change)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), dpi=100, facecolor=PAPER)
    FigureCanvasAgg(figure)
    return figure


# the headline of every picture: a bold title and a grey subtitle, left-aligned, at
# fixed distances (in inches) from the top of the figure
TITLE_SIZE, SUBTITLE_SIZE = 15, 10.5
TITLE_TOP, SUBTITLE_TOP, SUBTITLE_LINE = 0.36, 0.56, 0.2


def _headline(figure, title, subtitle=None):
    """Title (and subtitle, wrapped to the figure's width) at the top left; returns
    the top of the room left below, as a fraction of the figure's height."""
    width, height = figure.get_size_inches()
    figure.text(0.015, 1 - TITLE_TOP / height, title, ha="left", va="center", color=INK,
                fontsize=TITLE_SIZE, fontweight="bold")
    if not subtitle:
        return 1 - 0.62 / height
    subtitle = _wrap(subtitle, int(11 * width))
    figure.text(0.015, 1 - SUBTITLE_TOP / height, subtitle, ha="left", va="top",
                color=MUTED, fontsize=SUBTITLE_SIZE, linespacing=1.35)
    lines = subtitle.count("\n") + 1
    return 1 - (SUBTITLE_TOP + SUBTITLE_LINE * lines + 0.12) / height


def _note(figure, text):
    """A few lines of explanation at the bottom of a picture."""
    width = figure.get_size_inches()[0]
    figure.text(0.5, 0.012, _wrap(text, int(12 * width)), ha="center", va="bottom",
                color=MUTED, fontsize=9.5, linespacing=1.4)


def _wrap(text, width):
    import textwrap
    return "\n".join(textwrap.wrap(text, width))


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


def _two_sided(negative, positive, name):
    """A colour map negative colour -> white -> positive colour."""
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list(name, [negative, PAPER, positive])


def _diverging():
    """Weights: red (negative) -> white -> blue (positive)."""
    return _two_sided(RED, BLUE, "fastmlp_weights")


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
        The model; its fitted weights are read, nothing is changed.
    x : array-like of n_features values
        One example.
    y : label or array-like
        Its target: a class label (classifier), or the target values (regressor;
        the 0/1 label indicators of a multilabel classifier).

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

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)   # 8x8 images, pixels 0-16
    >>> X = X / 16
    >>> model = MLPClassifier((16,), early_stopping=True, random_state=0).fit(X, y)
    >>> from fastmlp.plot import activation_gradients
    >>> acts, grads, loss = activation_gradients(model, X[0], y[0])
    >>> [a.shape for a in acts], [g.shape for g in grads]
    ([(64,), (16,), (10,)], [(64,), (16,), (10,)])
    >>> bool(loss > 0)
    True
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


def _error_signals(model, acts, grads):
    """(slopes, signals) of every layer but the input (entry 0 is None).

    A layer's error signal is the gradient of the loss at its neurons' weighted sums,
    ``dLoss/dz = dLoss/da * act'(z)``: what flows back through the weights, and what
    sets its incoming weights' gradient, ``dLoss/dW[i, j] = a_i * signal_j``. The
    slope ``act'(z)`` of a ReLU neuron that is off is 0, so its signal is 0: no error
    passes through it. The output's signal is grads[-1] (``P - Y``).
    """
    n_layers = len(acts) - 1
    slopes = [None] + [_derivative(model, acts, layer) for layer in range(1, n_layers)]
    signals = [None] + [grads[layer] * slopes[layer] for layer in range(1, n_layers)]
    return slopes, signals + [grads[-1]]


def confusion_matrix(y_true, y_pred, labels=None):
    """Counts of (true, predicted) pairs: rows true labels, columns predicted labels.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        The true and the predicted labels.
    labels : array-like, default=None
        The labels in the order of the rows and columns; by default every label
        of y_true and y_pred, sorted. Pairs with other labels are not counted.

    Returns
    -------
    matrix : ndarray of shape (n_labels, n_labels), dtype int64
        ``matrix[i, j]``: the samples of label ``labels[i]`` predicted as
        ``labels[j]``; the diagonal counts the right predictions.
    labels : ndarray of shape (n_labels,)
        The labels of the rows and columns.

    Examples
    --------
    >>> from fastmlp.plot import confusion_matrix
    >>> matrix, labels = confusion_matrix(["cat", "dog", "dog"], ["cat", "cat", "dog"])
    >>> matrix
    array([[1, 0],
           [1, 1]])
    >>> labels
    array(['cat', 'dog'], dtype='<U3')
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
    """A network drawn in data units on one axes, 1.25 units an inch: x from 0 to
    `self.width`, y from 0 to `self.height` (equal aspect, the axes fill their box).

    Column 0 is the input (an image or a column of neurons); columns 1.. are the
    layers. Neuron positions are kept so edges can join them.
    """

    SCALE = 1.25   # data units per inch
    IMAGE_X, IMAGE_SIZE = 0.2, 4.3    # left edge and side of the input image

    def __init__(self, figure, n_columns, image_shape, label_chars=2, top=0.9,
                 bottom=0.12, extra=0.0):
        width, height = figure.get_size_inches()
        self.figure = figure
        self.ax = figure.add_axes([0.0, bottom, 1.0, top - bottom])
        self.width = self.SCALE * width
        self.height = self.SCALE * (top - bottom) * height
        self.ax.set_xlim(0, self.width)
        self.ax.set_ylim(0, self.height)
        self.ax.set_aspect("equal")
        self.ax.axis("off")
        self.centre = 0.5 * self.height + 0.45     # the captions go below the columns
        self.image_shape = image_shape
        self.label_width = 0.4 + 0.115 * label_chars   # room for the output labels
        last = self.width - 3.15 - self.label_width - extra   # extra: room on the right
        if image_shape is None:   # the input is a column of neurons too: even spacing
            self.xs = list(np.linspace(1.6, last, n_columns))
        else:
            step = (last - 6.0) / max(n_columns - 2, 1)
            self.xs = [1.6] + [6.0 + k * step for k in range(n_columns - 1)]
        self.positions = {}

    def column_y(self, n):
        gap = min(0.62, (self.height - 2.4) / max(n, 1))
        ys = self.centre + gap * (np.arange(n)[::-1] - (n - 1) / 2)
        return ys, 0.34 * gap

    def top(self):
        """The y just above the tallest column."""
        return self.centre + 0.5 * (self.height - 2.4) + 0.1

    def image(self, pixels, cmap, vmin, vmax):
        x0, size = self.IMAGE_X, self.IMAGE_SIZE
        y0 = self.centre - size / 2
        self.ax.imshow(pixels.reshape(self.image_shape), cmap=cmap, vmin=vmin, vmax=vmax,
                       extent=(x0, x0 + size, y0, y0 + size), interpolation="nearest",
                       zorder=3)
        self.ax.add_patch(_rectangle(x0, y0, size, size))
        rows, cols = self.image_shape
        r, c = np.divmod(np.arange(rows * cols), cols)
        # pixel centres: the lines leave from the pixels that feed them
        self.positions[0] = np.column_stack([x0 + (c + 0.5) * size / cols,
                                             y0 + size - (r + 0.5) * size / rows])

    def neurons(self, column, faces, shown, rings=None, ring_widths=None, dashed=None):
        """Circles for the `shown` units of a layer."""
        from matplotlib.patches import Circle
        ys, radius = self.column_y(len(shown))
        x = self.xs[column]
        points = np.full((np.max(shown) + 1 if len(shown) else 0, 2), np.nan)
        for k, unit in enumerate(shown):
            points[unit] = (x, ys[k])
            self.ax.add_patch(Circle(
                (x, ys[k]), radius, facecolor=faces[k],
                edgecolor=RING if rings is None else rings[k],
                linewidth=1.1 if ring_widths is None else ring_widths[k],
                linestyle=(0, (2, 1.5)) if dashed is not None and dashed[k] else "solid",
                zorder=7))
        self.positions[column] = points
        return ys, radius

    def discs(self, column, units, sizes, colours, radius):
        """Discs inside the circles of `column`, of area proportional to `sizes` (0..1),
        with a white up or down triangle on the large ones."""
        from matplotlib.patches import Circle, RegularPolygon
        for unit, size, colour in zip(units, sizes, colours):
            if size <= 0:
                continue
            centre = self.positions[column][unit]
            r = radius * 0.86 * math.sqrt(min(size, 1.0))
            self.ax.add_patch(Circle(centre, r, facecolor=colour, edgecolor="none",
                                     zorder=8))
            if r > 0.45 * radius:
                up = colour == GREEN
                self.ax.add_patch(RegularPolygon(
                    (centre[0], centre[1] + (-0.12 if up else 0.12) * r), 3,
                    radius=0.5 * r, orientation=0 if up else math.pi,
                    facecolor=PAPER, edgecolor="none", zorder=9))

    def edges(self, column, pairs, signs, strengths, colours=(BLUE, RED), max_width=2.8):
        """Lines from column-1 units to column units: colour by sign (the first colour
        positive), width by strength. Lines leaving the input image start with a dot
        on the pixel they leave."""
        from matplotlib.collections import LineCollection
        from matplotlib.colors import to_rgba
        if not pairs:
            return
        strengths = np.asarray(strengths, dtype=np.float64)
        scale = strengths / max(strengths.max(), 1e-300)
        order = np.argsort(scale)   # the strongest drawn last, on top
        start, end = self.positions[column - 1], self.positions[column]
        segments, rgba, widths = [], [], []
        for k in order:
            i, j = pairs[k]
            segments.append([start[i], end[j]])
            rgba.append(to_rgba(colours[0] if signs[k] > 0 else colours[1],
                                0.3 + 0.6 * scale[k]))
            widths.append(0.4 + max_width * scale[k])
        if column == 1 and self.image_shape is not None:
            # over the image the lines are thin and faint, so that the digit stays
            # readable; a dot marks the pixel each line leaves from
            edge = self.IMAGE_X + self.IMAGE_SIZE
            inside, outside = [], []
            for (x0, y0), (x1, y1) in segments:
                y_edge = y0 + (y1 - y0) * (edge - x0) / (x1 - x0)
                inside.append([(x0, y0), (edge, y_edge)])
                outside.append([(edge, y_edge), (x1, y1)])
            self.ax.add_collection(LineCollection(
                inside, colors=[(r, g, b, 0.55 * a) for r, g, b, a in rgba],
                linewidths=[0.45 + 0.3 * w for w in widths], zorder=4,
                gid="lines over the image"))
            segments = outside
            dots = np.array([line[0] for line in inside])
            self.ax.scatter(dots[:, 0], dots[:, 1], s=30, c=[c[:3] for c in rgba],
                            edgecolors=PAPER, linewidths=0.8, zorder=6, gid="pixels")
        self.ax.add_collection(LineCollection(segments, colors=rgba, linewidths=widths,
                                              capstyle="round", zorder=4, gid="lines"))

    def caption(self, column, text, y=0.95):
        x = self.xs[column] if column or self.image_shape is None else \
            self.IMAGE_X + self.IMAGE_SIZE / 2
        if column == 0 and self.image_shape is not None:
            y = min(y, self.centre - self.IMAGE_SIZE / 2 - 0.2)
        self.ax.text(x, y, text, ha="center", va="top", color=MUTED, fontsize=9.5,
                     linespacing=1.35)

    def arrow(self, x_from, x_to, y, text):
        """A wide arrow from x_from to x_to at height y, labelled above."""
        from matplotlib.patches import FancyArrowPatch
        self.ax.add_patch(FancyArrowPatch(
            (x_from, y), (x_to, y), arrowstyle="simple,head_width=0.9,head_length=0.7,"
            "tail_width=0.35", mutation_scale=14, facecolor="#8a93a0", edgecolor="none",
            zorder=6))
        self.ax.text((x_from + x_to) / 2, y + 0.28, text, ha="center", va="bottom",
                     color=INK, fontsize=9.5)


def _rectangle(x0, y0, width, height):
    from matplotlib.patches import Rectangle
    return Rectangle((x0, y0), width, height, fill=False, edgecolor=RING, linewidth=1.0,
                     zorder=5)


def _grey(level, darkest=INK):
    """The fill of a neuron with activation level in [0, 1]: white (silent) to
    `darkest` (the most active)."""
    from matplotlib.colors import to_rgb
    dark, light = np.array(to_rgb(darkest)), np.ones(3)
    return tuple(light + (dark - light) * float(np.clip(level, 0, 1)))


def _ink():
    """The input image's colour map: white paper, slate ink (light enough that the
    lines drawn over it stay visible)."""
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("fastmlp_ink", [PAPER, "#4f5866"])


def _layer_names(model, coefs):
    """Captions of the layers: what each is, in words."""
    names = []
    for i, W in enumerate(coefs):
        if i < len(coefs) - 1:
            names.append(f"hidden layer {i + 1}\n{W.shape[1]} neurons ({model.activation})")
        elif hasattr(model, "classes_"):
            names.append(f"output\n{W.shape[1]} neuron{'s' * (W.shape[1] > 1)} "
                         f"({model.out_activation_})")
        else:
            names.append(f"output\n{W.shape[1]} value{'s' * (W.shape[1] > 1)}")
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


def _legend(figure, entries, ncol, y):
    """A legend below the picture: entries are (handle, text) pairs; a handle may be a
    tuple of handles drawn side by side."""
    from matplotlib.legend_handler import HandlerPatch, HandlerTuple
    from matplotlib.patches import Circle

    def circle(legend, orig_handle, xdescent, ydescent, width, height, fontsize):
        return Circle((width / 2 - xdescent, height / 2 - ydescent), 0.62 * height)

    handles, texts = zip(*entries)
    return figure.legend(handles, texts, loc="upper center", bbox_to_anchor=(0.5, y),
                         ncol=ncol, frameon=False, fontsize=9.5, handlelength=3.2,
                         columnspacing=2.2, handletextpad=0.7,
                         handler_map={tuple: HandlerTuple(ndivide=None, pad=0.6),
                                      Circle: HandlerPatch(patch_func=circle)})


def _line(colour, width=2.4, **kwargs):
    from matplotlib.lines import Line2D
    return Line2D([], [], color=colour, linewidth=width, solid_capstyle="round", **kwargs)


def _dot(face, edge=RING, size=12, **kwargs):
    from matplotlib.lines import Line2D
    return Line2D([], [], linestyle="none", marker="o", markersize=size,
                  markerfacecolor=face, markeredgecolor=edge, **kwargs)


@_styled
def plot_network(model, x, *, image_shape=None, output_names=None, max_neurons=16,
                 edges_per_neuron=4, title=None, path=None):
    """The network at work on one example, drawn the way illustrated explanations do.

    The input image sits on the left; each layer is a column of neurons shaded by
    their activation for this example (white: 0, dark: the layer's largest); lines
    join each drawn neuron to the inputs that feed it most strongly for this example
    (largest ``|weight x input activation|``), blue for positive and red for negative
    weights, wider for larger ``|weight|``. Lines from the image start at the pixel
    they come from (marked by a dot, drawn over the image). Layers wider than
    `max_neurons` are subsampled (half their most active neurons, half spread
    evenly). The output neurons carry their probabilities; the predicted class is
    highlighted. A legend explains the colours, widths and shades.

    Parameters
    ----------
    model : fitted MLPClassifier or MLPRegressor
        The model to draw.
    x : array-like of n_features values
        One example (e.g. a flattened 28x28 image).
    image_shape : tuple of int, default=None
        Shape of the input image; by default square when n_features is a square
        number, otherwise the input is drawn as a column of neurons too.
    output_names : list of str, default=None
        Names shown next to the output neurons; by default the model's classes.
    max_neurons : int, default=16
        The most neurons drawn per hidden layer.
    edges_per_neuron : int, default=4
        Incoming lines drawn per neuron.
    title : str, default=None
        The picture's title; None: one that says what the network answers.
    path : str or path-like, default=None
        Where to save the picture (the format follows the suffix, e.g. .png);
        None: not saved.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The picture (on its own canvas: no pyplot window opens).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)   # 8x8 images, pixels 0-16
    >>> X = X / 16
    >>> model = MLPClassifier((16,), early_stopping=True, random_state=0).fit(X, y)
    >>> from fastmlp.plot import plot_network
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "network.png")
    ...     figure = plot_network(model, X[0], path=path)
    ...     saved = os.path.getsize(path) > 0
    >>> type(figure).__name__, saved
    ('Figure', True)
    """
    coefs, _, _, _ = _network(model)
    x = _one_sample(model, x)
    acts = _forward_one(model, x)
    shape = _image_shape(x.size, image_shape)
    labels = _output_labels(model, coefs[-1].shape[1], output_names)
    height = 9.3
    figure = _figure(12.0, height)
    canvas = _Canvas(figure, len(coefs) + 1, shape, max(len(s) for s in labels),
                     top=1 - 1.0 / height, bottom=1.45 / height)

    # input
    if shape is not None:
        canvas.image(x, _ink(), min(0.0, x.min()), max(1.0, x.max()))
        canvas.caption(0, f"input image\n{shape[0]}\u00d7{shape[1]} = {x.size} pixels")
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
        widths = [3.0 if last and unit == winner else 1.1 for unit in units]
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

    predicted = _answer(model, acts[-1], labels) if is_classifier else None
    what = "image" if shape is not None else "input"
    if title is None:
        title = (f"The network looks at this {what} and answers {predicted}"
                 if predicted is not None else "The network at work on one example")
    _headline(figure, title, f"Each circle is a neuron, the darker the more active for this "
                             f"{what}. The lines join each neuron to the inputs that drive it "
                             f"most.")
    entries = [(_line(BLUE), "positive weight: the input excites the neuron"),
               (_line(RED), "negative weight: the input inhibits it"),
               ((_line(MUTED, 0.6), _line(MUTED, 3.2)), "thin to thick: small to large weight"),
               ((_dot(PAPER), _dot(_grey(0.5)), _dot(_grey(1.0))),
                "neuron: silent, active, most active")]
    if shape is not None:
        entries.append((_dot(BLUE, PAPER, 7), "a pixel that feeds a neuron"))
    if predicted is not None:
        entries.append((_dot(PAPER, GOLD, 12, markeredgewidth=3), "the network's answer"))
    _legend(figure, entries, 3, 1.45 / height)
    last = ("The output neurons turn their sums into the probabilities on the right."
            if is_classifier else "The output neurons give the predicted values.")
    _note(figure, "Each neuron adds up all its inputs, each multiplied by its weight, and "
                  "turns the sum into its activity; only the strongest few inputs of each "
                  f"neuron are drawn. {last}")
    return _finish(figure, path)


def _forward_one(model, x):
    """Activations of every layer for one example, the input first."""
    coefs, intercepts, activation, out_activation = _network(model)
    acts = reference.forward(coefs, intercepts, x[None, :], activation, out_activation)
    return [a[0] for a in acts]


def _answer(model, output, labels):
    """The class a classifier answers, in words (a binary one's single output is
    the probability of its second class)."""
    if output.size == 1 and not getattr(model, "_multilabel", False):
        classes = model.classes_
        return str(classes[int(output[0] >= 0.5)] if len(classes) > 1 else classes[0])
    return labels[_winner(model, output)]


def _winner(model, output):
    if getattr(model, "_multilabel", False):
        return int(np.argmax(output))
    if output.size == 1:
        return 0
    return int(np.argmax(output))


def _output_column(canvas, column, ys, radius, values, labels, highlight, probabilities):
    """Labels, bars and values to the right of the output neurons, the `highlight`
    unit (the answer, or the target) in bold with a gold bar. Returns the x where
    the values end."""
    ax = canvas.ax
    x = canvas.xs[column] + radius + 0.25
    bar_x, bar_length = x + canvas.label_width, 1.5
    peak = 1.0 if probabilities else max(np.abs(values).max(), 1e-12)
    for k, value in enumerate(values):
        best = k == highlight
        weight = "bold" if best else "normal"
        ax.text(x, ys[k], labels[k], ha="left", va="center", color=INK,
                fontsize=11.5 if best else 10.5, fontweight=weight)
        ax.add_patch(_bar(bar_x, ys[k], bar_length, radius, 1.0, TRACK))
        ax.add_patch(_bar(bar_x, ys[k], bar_length, radius, abs(value) / peak,
                          GOLD if best else "#a3abb7"))
        text = f"{value:.1%}" if probabilities else f"{value:.3g}"
        ax.text(bar_x + bar_length + 0.12, ys[k], text, ha="left", va="center",
                color=INK if best else MUTED, fontsize=9.5, fontweight=weight)
    return bar_x + bar_length + 0.85


def _bar(x, y, length, radius, fraction, colour):
    from matplotlib.patches import Rectangle
    height = 1.1 * radius
    return Rectangle((x, y - height / 2), length * float(np.clip(fraction, 0, 1)), height,
                     facecolor=colour, edgecolor="none", zorder=4)


@_styled
def plot_backprop(model, x, y, *, image_shape=None, output_names=None, max_neurons=16,
                  edges_per_neuron=3, title=None, path=None):
    """Backpropagation for one example: the error flowing back, and the weight changes.

    The output layer shows the error ``Y - P``: the target neuron should rise, the
    others fall, by as much as they are wrong. Arrows show the error flowing back
    layer by layer. Each neuron carries a disc for its error signal, the gradient at
    its weighted sum ``-dLoss/dz`` (green with an up triangle: it should be more
    active, purple with a down one: less), sized by the magnitude relative to the
    layer's largest; its grey fill is its activation. A ReLU neuron that is off
    passes no error back (its slope is 0): it is drawn dashed, without a disc. Lines
    are the weight changes of plain gradient descent for this example,
    ``-learning_rate_init * dLoss/dW = -learning_rate_init * a_in * signal_out``:
    green for weights that grow, purple for weights that shrink (never blue and red,
    which are the weights themselves), wider for larger changes. A note below
    the legend explains why a very active neuron with a small disc can still have
    thick lines. The input image shows the example, with the lines leaving its
    inked pixels.

    Parameters
    ----------
    model : fitted MLPClassifier or MLPRegressor
        The model to draw.
    x : array-like of n_features values
        One example (e.g. a flattened 28x28 image).
    y : label or array-like
        The example's class label (or target values for a regressor), as
        :func:`activation_gradients` takes it.
    image_shape, output_names, max_neurons, edges_per_neuron, title, path
        As :func:`plot_network`.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The picture.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)   # 8x8 images, pixels 0-16
    >>> X = X / 16
    >>> model = MLPClassifier((16,), early_stopping=True, random_state=0).fit(X, y)
    >>> from fastmlp.plot import plot_backprop
    >>> figure = plot_backprop(model, X[0], y[0])
    >>> type(figure).__name__
    'Figure'
    """
    coefs, _, _, _ = _network(model)
    x = _one_sample(model, x)
    acts, grads, loss = activation_gradients(model, x, y)
    slopes, signals = _error_signals(model, acts, grads)
    shape = _image_shape(x.size, image_shape)
    labels = _output_labels(model, coefs[-1].shape[1], output_names)
    height = 9.9
    figure = _figure(13.4, height)   # wider than the network: room for the wishes
    canvas = _Canvas(figure, len(coefs) + 1, shape, max(len(s) for s in labels),
                     top=1 - 1.0 / height, bottom=2.05 / height, extra=1.75)

    if shape is not None:
        canvas.image(x, _ink(), min(0.0, x.min()), max(1.0, x.max()))
        canvas.caption(0, "input image\n(the pixels themselves\ndo not change)")
        shown = [np.arange(x.size)]
    else:
        shown = [_pick(x, max_neurons)]
        peak = max(np.abs(x[shown[0]]).max(), 1e-12)
        canvas.neurons(0, [_grey(v / peak, LIGHT) for v in x[shown[0]]], shown[0])
        canvas.caption(0, f"input\n{x.size} features{_shown_caption(len(shown[0]), x.size)}")

    names = _layer_names(model, coefs)
    is_classifier = hasattr(model, "classes_")
    wanted = _target_row(model, y, coefs[-1].shape[1])
    target = np.flatnonzero(wanted > 0.5) if is_classifier else np.array([], dtype=np.intp)
    any_off = False
    for layer in range(1, len(coefs) + 1):
        last = layer == len(coefs)
        push = -signals[layer]   # > 0: this neuron should be more active
        units = np.arange(len(push)) if last else _pick(push, max_neurons)
        shown.append(units)
        off = np.zeros(len(units), bool) if last else slopes[layer][units] == 0
        any_off = any_off or bool(off.any())
        a = acts[layer][units]
        levels = a if last and is_classifier else a / max(np.abs(a).max(), 1e-12)
        rings = [GOLD if last and unit in target else RING for unit in units]
        widths = [3.0 if ring == GOLD else 1.1 for ring in rings]
        ys, radius = canvas.neurons(layer, [_grey(v, LIGHT) for v in levels], units,
                                    rings=rings, ring_widths=widths, dashed=off)
        peak = 1.0 if last and is_classifier else max(np.abs(push[units]).max(), 1e-300)
        canvas.discs(layer, units, np.abs(push[units]) / peak,
                     [GREEN if v > 0 else PURPLE for v in push[units]], radius)
        # the change of each weight for this example, in plain gradient descent:
        # -learning_rate * dLoss/dW[i, j] = -learning_rate * a_i * signal_j
        source = shown[layer - 1]
        change = -model.learning_rate_init * acts[layer - 1][source, None] \
            * signals[layer][None, units]
        if layer == 1 and shape is not None:
            pairs = _inked(x, change, edges_per_neuron)
        else:
            pairs = _strongest(change, edges_per_neuron)
        changes = [change[i, j] for i, j in pairs]
        canvas.edges(layer, [(source[i], units[j]) for i, j in pairs], changes,
                     np.abs(changes), colours=(GREEN, PURPLE))
        if last:
            canvas.caption(layer, f"output\nerror = target \u2212 answer\n(loss {loss:.3g})")
            end = _output_column(canvas, layer, ys, radius, acts[layer], labels,
                                 target[0] if target.size == 1 else None, is_classifier)
            _wanted_column(canvas, end, ys, push, wanted, is_classifier)
        else:
            canvas.caption(layer, names[layer - 1] + _shown_caption(len(units), len(push)))
    # the error flows back: an arrow from each layer to the one before it
    for layer in range(len(coefs), 1, -1):
        canvas.arrow(canvas.xs[layer] - 0.45, canvas.xs[layer - 1] + 0.45,
                     canvas.top() + 0.25, "error flows back")

    if title is None:
        binary = is_classifier and len(labels) == 1 and not getattr(model, "_multilabel",
                                                                     False)
        if is_classifier and (target.size == 1 or binary):
            title = (f"Backpropagation: the target is "
                     f"{y if binary else labels[target[0]]}, the network says "
                     f"{_answer(model, acts[-1], labels)}")
        else:
            title = "Backpropagation for one example"
    _headline(figure, title, "The error at the output flows backwards, layer by layer, "
                             "and tells every weight which way to change.")
    entries = [(_dot(GREEN, GREEN), "this neuron should be more active"),
               (_dot(PURPLE, PURPLE), "this neuron should be less active"),
               ((_dot(GREEN, GREEN, 5), _dot(GREEN, GREEN, 12)), "small to big disc: "
                                                                 "how much"),
               (_line(GREEN), "this weight will grow"),
               (_line(PURPLE), "this weight will shrink"),
               ((_line(MUTED, 0.6), _line(MUTED, 3.2)), "thin to thick: small to big change"),
               ((_dot(PAPER), _dot(_grey(0.5, LIGHT)), _dot(_grey(1, LIGHT))),
                "grey fill: how active the neuron is")]
    if any_off:
        entries.append((_ring(linestyle=(0, (2, 1.5))), "switched off: passes no error"))
    if target.size:
        entries.append((_ring(GOLD, 3.0), "the right answer (target)"))
    _legend(figure, entries, 3, 2.05 / height)
    note = ("A weight's change = learning rate \u00d7 activity of what it leaves (neuron or "
            "pixel) \u00d7 error signal of the neuron it enters. So lines leave only active "
            "neurons and inked pixels, and a very active neuron with a small disc can still "
            "have thick lines: it is fine as it is, the neurons it feeds are not.")
    if any_off:
        note += (" Dashed neurons are switched off (ReLU gives 0): no error passes through "
                 "them and none of their weights change.")
    note += (" Green and purple are changes, not weights (blue and red in the network "
             "picture). Shown: plain gradient descent; Adam rescales each change.")
    _note(figure, note)
    return _finish(figure, path)


def _wanted_column(canvas, x, ys, push, wanted, probabilities):
    """Right of the output values: an arrow up (green) or down (purple) sized by the
    error, and the value the output should have had when it is far from it."""
    for k, value in enumerate(push):
        up = value > 0
        canvas.ax.text(x, ys[k], "\u25b2" if up else "\u25bc", ha="left", va="center",
                       color=GREEN if up else PURPLE,
                       fontsize=7 + 9 * min(abs(value) / (1.0 if probabilities else
                                                          max(np.abs(push).max(), 1e-300)),
                                            1.0))
        if abs(value) >= 0.05 or not probabilities:
            should = f"{wanted[k]:.0%}" if probabilities else f"{wanted[k]:.3g}"
            canvas.ax.text(x + 0.4, ys[k], f"should be {should}", ha="left", va="center",
                           color=INK, fontsize=9.5)


def _ring(colour=RING, width=1.3, linestyle="solid"):
    """A legend handle: an empty circle (drawn by _legend's circle handler)."""
    from matplotlib.patches import Circle
    return Circle((0, 0), 1, facecolor=PAPER, edgecolor=colour, linewidth=width,
                  linestyle=linestyle)


def _inked(x, change, limit):
    """Edges of the first layer of an image: per neuron, `limit` pixels spread over
    the inked ones. A weight's change is the pixel's value times the neuron's error
    signal, so all inked pixels (about 1) give changes of about the same size, and
    the largest would be the same few pixels for every neuron."""
    ink = np.flatnonzero(x >= 0.5 * max(x.max(), 1e-12))
    edges = []
    n = change.shape[1]
    for j in range(n):
        picks = ((np.arange(limit) + (j + 0.5) / n) * len(ink) / limit).astype(np.intp)
        for i in np.unique(ink[np.minimum(picks, len(ink) - 1)]):
            if change[i, j] != 0:
                edges.append((i, j))
    return edges


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
    ax.grid(True, color=TRACK, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(color=MUTED, labelcolor=INK)


@_styled
def plot_training(model, *, title=None, path=None):
    """The training curves: the loss per epoch and, when fit had validation data,
    the validation score (accuracy for a classifier, R^2 for a regressor).

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor fitted by a stochastic solver
        The model; its ``loss_curve_`` (and ``validation_scores_``,
        ``validation_loss_curve_``) are drawn. An lbfgs model has no loss curve:
        ValueError.
    title : str, default=None
        The picture's title; None: the network's layers, activation, solver and
        epochs.
    path : str or path-like, default=None
        Where to save the picture (the format follows the suffix); None: not
        saved.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The picture.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)   # 8x8 images, pixels 0-16
    >>> X = X / 16
    >>> model = MLPClassifier((16,), early_stopping=True, random_state=0).fit(X, y)
    >>> from fastmlp.plot import plot_training
    >>> figure = plot_training(model)   # early stopping: validation accuracy too
    >>> type(figure).__name__
    'Figure'
    """
    losses = list(getattr(model, "loss_curve_", None) or [])
    if not losses:
        raise ValueError("the model has no loss_curve_: fit it with solver='adam' or 'sgd'")
    scores = list(getattr(model, "validation_scores_", None) or [])
    val_losses = list(getattr(model, "validation_loss_curve_", None) or [])
    is_classifier = hasattr(model, "classes_")
    figure = _figure(11.0 if scores else 6.5, 4.6)
    axes = figure.subplots(1, 2 if scores else 1, squeeze=False)[0]
    epochs = np.arange(1, len(losses) + 1)

    ax = axes[0]
    _style(ax)
    ax.plot(epochs, losses, "-o", color=BLUE, linewidth=2, markersize=4,
            label="on the training data")
    if val_losses:
        ax.plot(np.arange(1, len(val_losses) + 1), val_losses, "-o", color=ORANGE,
                linewidth=2, markersize=4, label="on the validation data")
    positive = [v for v in losses + val_losses if v > 0]
    if positive and max(positive) / min(positive) > 20:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("epoch (one pass over the training data)")
    ax.set_ylabel("loss")
    ax.set_title("Loss: how wrong the network is (lower is better)", loc="left",
                 fontweight="bold")
    ax.legend()
    ax.xaxis.get_major_locator().set_params(integer=True)

    if scores:
        ax = axes[1]
        _style(ax)
        values = np.array(scores) * (100 if is_classifier else 1)
        ax.plot(np.arange(1, len(values) + 1), values, "-o", color=ORANGE, linewidth=2,
                markersize=4)
        best = int(np.argmax(values))
        ax.annotate(f"{values[best]:.2f}%" if is_classifier else f"{values[best]:.4f}",
                    (best + 1, values[best]), textcoords="offset points", xytext=(0, 8),
                    ha="center", color=INK, fontweight="bold")
        ax.set_xlabel("epoch (one pass over the training data)")
        ax.set_ylabel("validation accuracy (%)" if is_classifier else "validation R\u00b2")
        ax.set_title("Validation accuracy (higher is better)" if is_classifier else
                     "Validation R\u00b2 (higher is better)", loc="left", fontweight="bold")
        ax.xaxis.get_major_locator().set_params(integer=True)
        low, high = values.min(), values.max()
        ax.set_ylim(low - 0.15 * (high - low + 1e-9), high + 0.25 * (high - low + 1e-9))

    if title is None:
        sizes = [model.coefs_[0].shape[0]] + [W.shape[1] for W in model.coefs_]
        title = (f"Training {'-'.join(map(str, sizes))} ({model.activation}, "
                 f"{model.solver}), {len(losses)} epochs")
    subtitle = ("The validation data are examples the network never trains on: they show "
                "how well it does on new ones." if scores or val_losses else
                "Each point is one pass over the training data.")
    top = _headline(figure, title, subtitle)
    figure.tight_layout(rect=(0, 0, 1, top))
    return _finish(figure, path)


@_styled
def plot_confusion_matrix(y_true, y_pred, labels=None, *, display_labels=None, title=None,
                          path=None):
    """The confusion matrix as a heat map: rows true class, columns predicted class.

    Each cell shows its count; the colour is the fraction of its row (so the
    diagonal is each class's recall), on a power scale that makes rare confusions
    visible.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        The true and the predicted labels.
    labels : array-like, default=None
        The classes and their order; by default all of y_true and y_pred, sorted.
    display_labels : list of str, default=None
        Names shown for the labels (e.g. Fashion-MNIST's clothing names).
    title : str, default=None
        The picture's title; None: the accuracy and the number of samples.
    path : str or path-like, default=None
        Where to save the picture (the format follows the suffix); None: not
        saved.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The picture.

    See Also
    --------
    confusion_matrix : The counts, without a picture.

    Examples
    --------
    >>> from fastmlp.plot import plot_confusion_matrix
    >>> y_true = ["cat", "dog", "dog", "bird", "cat"]
    >>> y_pred = ["cat", "cat", "dog", "bird", "cat"]
    >>> figure = plot_confusion_matrix(y_true, y_pred,
    ...                                display_labels=["Bird", "Cat", "Dog"])
    >>> type(figure).__name__
    'Figure'
    """
    matrix, labels = confusion_matrix(y_true, y_pred, labels)
    names = [str(v) for v in (labels if display_labels is None else display_labels)]
    if len(names) != len(labels):
        raise ValueError(f"display_labels has {len(names)} names for {len(labels)} labels")
    n = len(labels)
    side = min(max(4.5, 0.55 * n + 2.5), 14)
    longest = max(len(s) for s in names)
    figure = _figure(side + 0.08 * longest + 1.2, side + 0.6)
    ax = figure.add_subplot()
    rows = matrix.sum(axis=1, keepdims=True)
    fraction = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    from matplotlib.colors import LinearSegmentedColormap, PowerNorm
    cmap = LinearSegmentedColormap.from_list("fastmlp_counts", [PAPER, BLUE, "#123a70"])
    # a power scale, so that a few errors in a cell still show against the white
    image = ax.imshow(fraction, cmap=cmap, norm=PowerNorm(0.4, vmin=0, vmax=1))
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if matrix[i, j] or i == j:
                    ax.text(j, i, f"{matrix[i, j]:,}", ha="center", va="center",
                            fontsize=9 if n <= 12 else 7,
                            color=PAPER if fraction[i, j] > 0.3 else INK)
    ax.set_xticks(range(n), names, rotation=45 if longest > 2 else 0,
                  ha="right" if longest > 2 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("the network's answer")
    ax.set_ylabel("the true class")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    colorbar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("fraction of the true class")
    colorbar.outline.set_visible(False)
    total = matrix.sum()
    accuracy = np.trace(matrix) / total if total else 0.0
    top = _headline(figure, title or f"Confusion matrix: accuracy {accuracy:.2%} on "
                                      f"{total:,} samples",
                    "Each row is a true class, each column an answer: the diagonal "
                    "counts the right answers, the other cells which classes get mixed up.")
    figure.tight_layout(rect=(0, 0, 1, top))
    return _finish(figure, path)


@_styled
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
        The model, fitted on images.
    image_shape : tuple of int, default=None
        Input image shape; by default square (n_features must be a square number).
    max_units : int, default=64
        The most units drawn.
    columns : int, default=8
        Images per row.
    title : str, default=None
        The picture's title; None: how many of the layer's units are shown.
    path : str or path-like, default=None
        Where to save the picture (the format follows the suffix); None: not
        saved.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The picture.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)   # 8x8 images, pixels 0-16
    >>> X = X / 16
    >>> model = MLPClassifier((16,), early_stopping=True, random_state=0).fit(X, y)
    >>> from fastmlp.plot import plot_first_layer_weights
    >>> figure = plot_first_layer_weights(model, max_units=8, columns=4)
    >>> type(figure).__name__
    'Figure'
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
    figure = _figure(max(1.25 * columns + 0.2, 6.5), 1.25 * rows + 1.1)
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
        ax.set_title(f"neuron {unit}", fontsize=7.5, color=MUTED, pad=2)
    if title is None:
        title = f"What the first layer looks for: {len(units)} of its {W.shape[1]} neurons"
    subtitle = ("Each square is one neuron's weight on every pixel: ink on blue pixels "
                "excites it, ink on red pixels inhibits it. Shown: the neurons with the most "
                "structured weights.")
    top = _headline(figure, title, subtitle)
    figure.tight_layout(rect=(0, 0, 1, top), h_pad=1.4, w_pad=0.3)
    return _finish(figure, path)
