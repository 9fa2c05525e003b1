"""What the commands draw: the PNGs of ``demo`` and ``train --plot`` (matplotlib)."""
import os

import numpy as np


def write_pictures(model, X_test, y_test, y_pred, directory, class_names=None,
                   title=None):
    """The PNGs of `demo` and `train --plot` into `directory`; returns their paths."""
    from fastmlp import plot
    os.makedirs(directory, exist_ok=True)
    paths = []

    def save(name, draw):
        path = os.path.join(directory, name)
        draw(path).clear()   # clear: the figure's memory goes at once
        paths.append(path)

    classifier = hasattr(model, "classes_")
    names = None
    if classifier and class_names is not None and \
            all(isinstance(c, (int, np.integer)) and 0 <= c < len(class_names)
                for c in model.classes_):
        names = [class_names[c] for c in model.classes_]
    image = plot._image_shape(X_test.shape[1], None) is not None
    if classifier and image and model.n_outputs_ == len(model.classes_):
        right = np.flatnonzero(y_pred == y_test)
        wrong = np.flatnonzero(y_pred != y_test)
        shown = right[0] if len(right) else 0
        # backprop is most telling where the network is wrong
        taught = wrong[0] if len(wrong) else shown
        save("network.png", lambda p: plot.plot_network(model, X_test[shown], path=p,
                                                        output_names=names))
        save("backprop.png", lambda p: plot.plot_backprop(
            model, X_test[taught], y_test[taught], path=p, output_names=names))
    if getattr(model, "loss_curve_", None):
        save("training.png", lambda p: plot.plot_training(model, title=title, path=p))
    if classifier:
        labels = np.union1d(y_test, y_pred)
        display = None
        if class_names is not None and all(isinstance(v, (int, np.integer)) and
                                           0 <= v < len(class_names) for v in labels):
            display = [class_names[v] for v in labels]
        save("confusion.png", lambda p: plot.plot_confusion_matrix(
            y_test, y_pred, labels, display_labels=display, path=p))
    if image:
        save("first_layer.png", lambda p: plot.plot_first_layer_weights(
            model, max_units=32, path=p))
    return paths
