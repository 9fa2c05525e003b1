"""fastmlp.plot: the pictures are drawn, saved, not blank and in one light style; the
network picture's lines leave the image's pixels; the backpropagation picture draws weight
changes in other colours than weights; the gradients behind it are right."""
import sys

import numpy as np
import pytest

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.datasets import make_digits
from fastmlp.plot import activation_gradients, confusion_matrix

from helpers import quiet_fit

matplotlib = pytest.importorskip(
    "matplotlib", reason="matplotlib is not installed (pip install fastmlp[plot])")
Image = pytest.importorskip("PIL.Image", reason="Pillow (a matplotlib dependency) is missing")

from fastmlp import plot  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = make_digits(700, random_state=0)
    return X[:600], y[:600], X[600:], y[600:]


@pytest.fixture(scope="module")
def model(digits):
    X, y, X_val, y_val = digits
    return quiet_fit(MLPClassifier((48, 24), batch_size=50, max_iter=4, random_state=0),
                     X, y, X_val=X_val, y_val=y_val)


def pixels(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def n_colours(rgb):
    return len(np.unique(rgb.reshape(-1, 3), axis=0))


def count_blue(rgb):
    r, b = rgb[..., 0], rgb[..., 2]
    return int(np.sum((b > 150) & (b > r + 60)))


def count_red(rgb):
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(np.sum((r > 150) & (r > g + 60) & (r > b + 60)))


def count_green(rgb):
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(np.sum((g > 110) & (g > r + 50) & (g > b + 30)))


def count_purple(rgb):
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(np.sum((b > 140) & (r > g + 40) & (b > g + 60)))


def texts_of(figure):
    """Every text of the figure: headline, notes and the texts on the picture."""
    return [t.get_text() for t in figure.texts + figure.axes[0].texts]


def legend_texts(figure):
    return [t.get_text() for legend in figure.legends for t in legend.get_texts()]


def line_colours(figure, gid="lines"):
    """The distinct RGB colours of the network's lines (alpha left out)."""
    colours = set()
    for collection in figure.axes[0].collections:
        if collection.get_gid() == gid:
            colours |= {tuple(np.round(c[:3], 3)) for c in collection.get_colors()}
    return colours


def rgb_of(colour):
    return tuple(np.round(matplotlib.colors.to_rgb(colour), 3))


def assert_picture(figure, path, min_colours):
    """The figure was saved at its size, and the picture is far from uniform."""
    assert isinstance(figure, matplotlib.figure.Figure)
    rgb = pixels(path)
    width, height = figure.get_size_inches() * figure.dpi
    assert rgb.shape == (round(height), round(width), 3)
    assert n_colours(rgb) >= min_colours
    # no single colour (the background) covers almost everything
    _, counts = np.unique(rgb.reshape(-1, 3), axis=0, return_counts=True)
    assert counts.max() < 0.95 * rgb.shape[0] * rgb.shape[1]
    return rgb


def test_plot_network_draws_image_neurons_and_blue_and_red_weights(model, digits, tmp_path):
    X_test = digits[2]
    path = tmp_path / "network.png"
    figure = plot.plot_network(model, X_test[0], path=path)
    rgb = assert_picture(figure, path, min_colours=100)
    assert count_blue(rgb) > 2000 and count_red(rgb) > 500
    texts = texts_of(figure)
    predicted = model.predict(X_test[:1])[0]
    assert any(f"answers {predicted}" in t for t in texts)
    assert sum("%" in t for t in texts) == 10   # a probability per output neuron
    assert path.stat().st_size < 250_000   # README-sized
    assert line_colours(figure) <= {rgb_of(plot.BLUE), rgb_of(plot.RED)}


def test_plot_network_legend_explains_colours_thickness_and_neurons(model, digits):
    legend = " | ".join(legend_texts(plot.plot_network(model, digits[2][0])))
    for words in ("positive weight", "negative weight", "thin to thick", "neuron:",
                  "pixel", "answer"):
        assert words in legend


def test_plot_network_lines_leave_the_inked_pixels_of_the_image(model, digits):
    x = digits[2][0]
    figure = plot.plot_network(model, x, edges_per_neuron=3)
    ax = figure.axes[0]
    (image,) = ax.images
    left, right, bottom, top = image.get_extent()
    pixel = (right - left) / 28
    (dots,) = [c for c in ax.collections if c.get_gid() == "pixels"]
    starts = dots.get_offsets()
    assert len(starts) > 0 and dots.get_zorder() > image.get_zorder()
    # every line starts at the centre of a pixel of the image, and that pixel is inked
    # (the lines are a neuron's strongest weight x pixel products)
    column = (starts[:, 0] - left) / pixel - 0.5
    row = (top - starts[:, 1]) / pixel - 0.5
    np.testing.assert_allclose(column, column.round(), atol=1e-9)
    np.testing.assert_allclose(row, row.round(), atol=1e-9)
    index = row.round().astype(int) * 28 + column.round().astype(int)
    assert (x[index] > 0).all()
    # and the lines are drawn over the image, not hidden behind it
    over = [c for c in ax.collections if c.get_gid() == "lines over the image"]
    assert over and all(c.get_zorder() > image.get_zorder() for c in over)
    np.testing.assert_allclose(over[0].get_segments()[0][0], starts[0])


def test_plot_network_subsamples_wide_layers(model, digits):
    figure = plot.plot_network(model, digits[2][1], max_neurons=8)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert any("8 of 48 shown" in t for t in texts)
    assert any("8 of 24 shown" in t for t in texts)


def test_plot_backprop_draws_the_push_on_every_layer(model, digits, tmp_path):
    X_test, y_test = digits[2], digits[3]
    wrong = np.flatnonzero(model.predict(X_test) != y_test)
    k = wrong[0] if len(wrong) else 0
    path = tmp_path / "backprop.png"
    figure = plot.plot_backprop(model, X_test[k], y_test[k], path=path)
    rgb = assert_picture(figure, path, min_colours=100)
    assert count_green(rgb) > 1000 and count_purple(rgb) > 1000
    texts = texts_of(figure)
    assert any(f"the target is {y_test[k]}" in t for t in texts)
    assert "should be 100%" in texts   # the target's output
    assert any("error flows back" in t for t in texts)   # the arrows' labels
    assert len(ax_arrows(figure)) == 2   # output -> hidden 2 -> hidden 1
    legend = " | ".join(legend_texts(figure))
    for words in ("should be more active", "should be less active", "will grow",
                  "will shrink", "small to big change"):
        assert words in legend


def ax_arrows(figure):
    from matplotlib.patches import FancyArrowPatch
    return [p for p in figure.axes[0].patches if isinstance(p, FancyArrowPatch)]


def test_backprop_draws_weight_changes_in_other_colours_than_the_weights(model, digits):
    x, y = digits[2][0], digits[3][0]
    weights = line_colours(plot.plot_network(model, x))
    changes = line_colours(plot.plot_backprop(model, x, y))
    assert weights and changes and not weights & changes
    assert changes <= {rgb_of(plot.GREEN), rgb_of(plot.PURPLE)}
    assert weights <= {rgb_of(plot.BLUE), rgb_of(plot.RED)}


def test_backprop_explains_switched_off_neurons_and_thick_lines_of_small_discs(model,
                                                                               digits):
    """A ReLU neuron that is off passes no error back, so it gets no disc and none of
    its weights change; a very active neuron with a small error signal still gets
    thick outgoing lines. Both are said in the picture's note."""
    figure = plot.plot_backprop(model, digits[2][0], digits[3][0])
    note = " ".join(figure.texts[-1].get_text().split())
    assert "switched off" in note and "no error passes" in note
    assert "small disc can still have thick lines" in note
    assert "switched off: passes no error" in legend_texts(figure)
    assert any(p.get_linestyle() != "solid" for p in figure.axes[0].patches
               if isinstance(p, matplotlib.patches.Circle))   # the dashed, off neurons


def test_plot_training_shows_loss_and_validation_accuracy(model, tmp_path):
    path = tmp_path / "training.png"
    figure = plot.plot_training(model, path=path)
    assert_picture(figure, path, min_colours=30)
    assert len(figure.axes) == 2
    loss_line = figure.axes[0].lines[0]
    np.testing.assert_allclose(loss_line.get_ydata(), model.loss_curve_)
    np.testing.assert_allclose(figure.axes[1].lines[0].get_ydata(),
                               np.array(model.validation_scores_) * 100)


def test_plot_training_without_validation_has_one_panel(digits):
    X, y = digits[0], digits[1]
    model = quiet_fit(MLPClassifier((8,), max_iter=2, random_state=0), X, y)
    assert len(plot.plot_training(model).axes) == 1


def test_plot_confusion_matrix_counts_and_names(tmp_path):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    path = tmp_path / "confusion.png"
    figure = plot.plot_confusion_matrix(y_true, y_pred, display_labels=["a", "b", "c"],
                                        path=path)
    assert_picture(figure, path, min_colours=20)
    ax = figure.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(),
                                  [[0.5, 0.5, 0], [0, 1, 0], [1 / 3, 0, 2 / 3]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert any("71.43%" in t for t in texts_of(figure))


def test_confusion_matrix_rows_are_true_columns_predicted():
    matrix, labels = confusion_matrix(["x", "y", "y", "z"], ["y", "y", "y", "z"])
    assert list(labels) == ["x", "y", "z"]
    np.testing.assert_array_equal(matrix, [[0, 1, 0], [0, 2, 0], [0, 0, 1]])
    matrix, _ = confusion_matrix([1, 2, 3], [1, 2, 1], labels=[1, 2])
    np.testing.assert_array_equal(matrix, [[1, 0], [0, 1]])   # the pair (3, 1) is left out


def test_plot_first_layer_weights_draws_one_28x28_image_per_unit(model, tmp_path):
    path = tmp_path / "first_layer.png"
    figure = plot.plot_first_layer_weights(model, max_units=16, columns=4, path=path)
    rgb = assert_picture(figure, path, min_colours=100)
    assert count_blue(rgb) > 500 and count_red(rgb) > 500
    assert len(figure.axes) == 16
    shown = figure.axes[0].images[0].get_array()
    assert shown.shape == (28, 28)
    unit = int(figure.axes[0].get_title().split()[-1])
    np.testing.assert_allclose(shown, model.coefs_[0][:, unit].reshape(28, 28))


def test_pictures_of_a_binary_classifier_on_non_image_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    model = quiet_fit(MLPClassifier((20,), max_iter=20, random_state=0), X, y)
    figure = plot.plot_network(model, X[0])   # the input drawn as 5 neurons
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "P(pos)" in texts and any("5 features" in t for t in texts)
    plot.plot_backprop(model, X[0], y[0])
    with pytest.raises(ValueError, match="square"):
        plot.plot_first_layer_weights(model)


def test_the_five_pictures_share_one_light_style(model, digits, tmp_path):
    """White background, and the same bold title at the same place in every picture."""
    x, y = digits[2][0], digits[3][0]
    figures = [plot.plot_network(model, x), plot.plot_backprop(model, x, y),
               plot.plot_training(model), plot.plot_confusion_matrix(y, y),
               plot.plot_first_layer_weights(model, max_units=8)]
    for figure in figures:
        assert matplotlib.colors.to_hex(figure.get_facecolor()) == "#ffffff"
        title = figure.texts[0]
        height = figure.get_size_inches()[1]
        assert (title.get_fontsize(), title.get_fontweight()) == (plot.TITLE_SIZE, "bold")
        assert title.get_position() == pytest.approx((0.015, 1 - plot.TITLE_TOP / height))
        assert title.get_fontname() == "DejaVu Sans"
        path = tmp_path / "picture.png"
        figure.savefig(path)
        corner = pixels(path)[:5, -5:]
        assert (corner == 255).all()   # a light picture: the corner is white


def test_plots_refuse_bad_input(model):
    with pytest.raises(ValueError, match="784"):
        plot.plot_network(model, np.zeros(10))
    with pytest.raises(ValueError, match="classes"):
        plot.plot_backprop(model, np.zeros(784), 11)
    with pytest.raises(ValueError, match="not fitted"):
        plot.plot_network(MLPClassifier(), np.zeros(784))


def central_difference(f, x, eps=1e-6):
    grad = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu"])
def test_activation_gradients_match_central_differences(activation):
    from fastmlp import reference
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 6))
    y = (X[:, :3].argmax(axis=1)).astype(np.int64)
    model = quiet_fit(MLPClassifier((7, 5), activation=activation, max_iter=30,
                                    random_state=0), X, y)
    x, target = X[3], y[3]
    acts, grads, loss = activation_gradients(model, x, target)
    coefs, intercepts = model.coefs_, model.intercepts_

    def loss_from(layer, a):   # the loss as a function of layer `layer`'s activations
        out = reference.forward(coefs[layer:], intercepts[layer:], a[None, :], activation,
                                model.out_activation_)[-1]
        Y = np.zeros((1, 3))
        Y[0, list(model.classes_).index(target)] = 1
        return reference.per_sample_losses(Y, out, "log_loss")[0]

    assert loss == pytest.approx(loss_from(0, x), rel=1e-12)
    for layer in range(len(coefs)):   # the input, then each hidden layer
        numeric = central_difference(lambda a, layer=layer: loss_from(layer, a), acts[layer])
        np.testing.assert_allclose(grads[layer], numeric, rtol=1e-5, atol=1e-8)
    # the output entry is dL/dz = P - Y for softmax with the cross-entropy
    expected = acts[-1].copy()
    expected[list(model.classes_).index(target)] -= 1
    np.testing.assert_allclose(grads[-1], expected, atol=1e-12)


def test_error_signals_give_the_weight_gradients_and_stop_at_switched_off_neurons():
    """The weight changes drawn by plot_backprop are -learning_rate * a_i * signal_j;
    a_i * signal_j must be dLoss/dW (checked by central differences), and a ReLU
    neuron that is off (output 0) must have a zero signal."""
    from fastmlp import reference
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    model = quiet_fit(MLPClassifier((9, 6), activation="relu", max_iter=30,
                                    random_state=0), X, y)
    x, target = X[5], y[5]
    acts, grads, _ = activation_gradients(model, x, target)
    slopes, signals = plot._error_signals(model, acts, grads)
    coefs, intercepts = [W.copy() for W in model.coefs_], model.intercepts_
    Y = np.zeros((1, 3))
    Y[0, list(model.classes_).index(target)] = 1
    for layer in range(len(coefs)):
        def loss_of(flat, layer=layer):
            weights = list(coefs)
            weights[layer] = flat.reshape(coefs[layer].shape)
            out = reference.forward(weights, intercepts, x[None, :], "relu",
                                    model.out_activation_)[-1]
            return reference.per_sample_losses(Y, out, "log_loss")[0]
        numeric = central_difference(loss_of, coefs[layer].ravel()).reshape(
            coefs[layer].shape)
        np.testing.assert_allclose(np.outer(acts[layer], signals[layer + 1]), numeric,
                                   rtol=1e-5, atol=1e-8)
    for layer in range(1, len(coefs)):
        off = acts[layer] == 0
        assert off.any()   # the example has switched-off neurons to check
        assert (signals[layer][off] == 0).all() and (slopes[layer][off] == 0).all()


def test_activation_gradients_of_a_regressor():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 3))
    model = quiet_fit(MLPRegressor((6,), activation="tanh", max_iter=20, random_state=0),
                      X, X.sum(axis=1))
    acts, grads, loss = activation_gradients(model, X[0], [1.5])
    assert grads[-1] == pytest.approx(acts[-1] - 1.5)
    assert loss == pytest.approx(0.5 * (acts[-1][0] - 1.5) ** 2)


def test_plotting_leaves_pyplot_alone(model, digits):
    before = "matplotlib.pyplot" in sys.modules
    plot.plot_network(model, digits[2][0])
    plot.plot_training(model)
    assert ("matplotlib.pyplot" in sys.modules) == before


def test_without_matplotlib_the_error_names_the_extra(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # `import matplotlib` fails
    with pytest.raises(ImportError, match=r"pip install fastmlp\[plot\]"):
        plot.plot_training(model)
