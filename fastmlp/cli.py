"""The ``fastmlp`` command line (also ``python -m fastmlp``).

Commands: ``demo`` (both engines on synthetic digits, with pictures), ``train``,
``evaluate`` and ``predict``. Run ``fastmlp COMMAND --help`` for the options.
Errors in the arguments or the data end the command with a one-line message on
stderr and exit code 1 (2 for malformed arguments), never with a traceback.
"""
import argparse
import csv
import os
import sys
import time
import warnings
import zipfile
from types import SimpleNamespace

import numpy as np

from fastmlp._codes import HIDDEN_ACTIVATIONS, SOLVERS
from fastmlp._engines import ENGINES
from fastmlp._validation import FLOAT_DTYPES
from fastmlp.callbacks import ProgressBar

# The choices of train's options, read from the registries the estimators check
# against, so a name added there is accepted here. Sorted: the order --help shows
# does not depend on how a registry happens to be declared.
ACTIVATION_CHOICES = sorted(HIDDEN_ACTIVATIONS)
SOLVER_CHOICES = sorted(SOLVERS)
ENGINE_CHOICES = sorted(ENGINES)
DTYPE_CHOICES = sorted(np.dtype(dtype).name for dtype in FLOAT_DTYPES)

#: Fashion-MNIST's class names, by label.
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")

DESCRIPTION = """\
Fast multilayer perceptrons for the CPU.

Start with `fastmlp demo`. Run `fastmlp COMMAND --help` for a command's options.
Bad arguments or data end a command with a one-line message on stderr and a
non-zero exit code."""

DATA_HELP = ("digits (synthetic 28x28 digits), fashion-mnist (from "
             "/usr/share/datasets/fashion-mnist), mnist:DIR (a directory of the four "
             "MNIST IDX files, plain or .gz), PATH.npz (arrays X, y and optionally "
             "X_test, y_test) or PATH.csv (one sample per row, the label in the last "
             "column unless --label-column says otherwise; an optional header row). "
             "uint8 features (raw pixels) are divided by 255.")


class CommandError(Exception):
    """A problem with the arguments or the data, reported in one line."""


# --- argument types ------------------------------------------------------------------


def _number(kind, accepts, expected):
    """An argparse type: the text read as `kind` (int or float) where `accepts` holds.

    Text that is not a `kind` and a value out of range get the same one-line message,
    "expected {expected}, got {text!r}".
    """
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


# The float ranges are comparisons, which NaN fails: "nan" is refused like "-1".
_positive_int = _number(int, lambda value: value >= 1, "a positive integer")
_positive_float = _number(float, lambda value: 0 < value < float("inf"), "a positive number")
_non_negative_float = _number(float, lambda value: 0 <= value < float("inf"), "a number >= 0")
_fraction = _number(float, lambda value: 0 < value < 1, "a number in (0, 1)")


def _hidden_sizes(text):
    """'256,128' -> (256, 128); '' or 'none' -> () (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer widths such as 256,128, got {text!r}")
    return sizes


def _dropout(text):
    """'0.2' (every hidden layer) or '0.2,0.1' (one rate per hidden layer)."""
    try:
        rates = tuple(float(part) for part in text.split(","))
    except ValueError:
        rates = None
    if not rates or not all(0 <= rate < 1 for rate in rates):
        raise argparse.ArgumentTypeError(
            f"expected a rate in [0, 1) or one per hidden layer (0.2,0.1), got {text!r}")
    return rates[0] if len(rates) == 1 else rates


# --- data ----------------------------------------------------------------------------


def _features(X, where):
    """X as a finite 2-D float array; (n, h, w) images are flattened, uint8 scaled."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise CommandError(f"{where}: X must hold numbers, not {X.dtype}")
    if X.ndim == 3:   # images
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2:
        raise CommandError(f"{where}: X must be 2-D (samples x features) or 3-D (images); "
                           f"got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise CommandError(f"{where}: X is empty (shape {X.shape})")
    scale = X.dtype == np.uint8
    X = X.astype(np.float64 if X.dtype == np.float64 else np.float32)
    if scale:
        X /= 255
    if not np.isfinite(X).all():
        raise CommandError(f"{where}: X contains NaN or infinity")
    return X


def _labels(y, n_samples, where, name="y"):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise CommandError(f"{where}: {name} must be 1-D (one label per sample); "
                           f"got shape {y.shape}")
    if len(y) != n_samples:
        raise CommandError(f"{where}: {n_samples} samples but {len(y)} labels in {name}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise CommandError(f"{where}: {name} contains NaN or infinity")
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)
    return y


def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise CommandError(f"{path}: not a readable .npz file ({_one_line(error)})") from None


def _read_csv(path, label_column=None):
    """(X, y) from a CSV file; y (None without label_column) from the label column.

    The first row is a header when one of its feature cells is not a number, when its
    label cell is not a number but the next row's is, or when label_column is a name.
    """
    try:
        with open(path, newline="") as file:
            reader = csv.reader(file)
            lines, rows = [], []
            for row in reader:
                if any(cell.strip() for cell in row):   # blank lines are skipped
                    lines.append(reader.line_num)
                    rows.append(row)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise CommandError(f"{path}: not a text CSV file ({_one_line(error)})") from None
    if not rows:
        raise CommandError(f"{path}: the CSV file is empty")
    first = [cell.strip() for cell in rows[0]]
    by_name = label_column is not None and not _is_int(label_column)
    column = None if label_column is None or by_name else \
        _column_index(label_column, len(first), None, path)
    features = [cell for k, cell in enumerate(first) if k != column]
    header = None
    if by_name or not all(_numeric(cell) for cell in features) or (
            column is not None and not _numeric(first[column]) and len(rows) > 1
            and column < len(rows[1]) and _numeric(rows[1][column])):
        header = first
        lines, rows = lines[1:], rows[1:]
    if not rows:
        raise CommandError(f"{path}: the CSV file has a header but no data rows")
    width = len(rows[0]) if header is None else len(header)
    for line, row in zip(lines, rows):
        if len(row) != width:
            raise CommandError(f"{path}, line {line}: {len(row)} columns, expected {width}")
    y = None
    if label_column is not None:
        column = _column_index(label_column, width, header, path)
        y = _parse_labels(np.array([row[column].strip() for row in rows]))
        rows = [row[:column] + row[column + 1:] for row in rows]
    if not rows[0]:
        raise CommandError(f"{path}: no feature columns")
    try:
        return np.array(rows, dtype=np.float64), y
    except ValueError:   # find the culprit for the message
        for line, row in zip(lines, rows):
            for cell in row:
                if not _numeric(cell):
                    raise CommandError(f"{path}, line {line}: {cell.strip()!r} is not "
                                       "a number") from None
        raise


def _is_int(text):
    try:
        int(text)
    except (TypeError, ValueError):
        return False
    return True


def _numeric(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(label_column, width, header, path):
    """The index of the label column, given as an index (negative from the end) or a name."""
    try:
        index = int(label_column)
    except ValueError:
        if header is None or label_column not in header:
            raise CommandError(f"{path}: no column named {label_column!r}"
                               + ("" if header is None else f" (columns: {', '.join(header)})")
                               ) from None
        return header.index(label_column)
    if not -width <= index < width:
        raise CommandError(f"{path}: --label-column {index} is out of range for "
                           f"{width} columns")
    return index % width


def _parse_labels(values):
    """CSV label strings as ints, else floats, else kept as strings."""
    for kind in (np.int64, np.float64):
        try:
            return values.astype(kind)
        except ValueError:
            continue
    return values


def load_data(spec, label_column=None, samples=None, test_samples=None):
    """The data named by --data as a namespace (X, y, X_test, y_test, name, class_names).

    X_test and y_test are None when the data has no test split.
    """
    from fastmlp import datasets
    data = SimpleNamespace(X_test=None, y_test=None, class_names=None, name=spec)
    if spec == "digits":
        # fixed seeds: the same digits for train and evaluate, whatever the model's seed
        data.X, data.y = datasets.make_digits(samples or 20000, random_state=0)
        data.X_test, data.y_test = datasets.make_digits(test_samples or 5000,
                                                        random_state=1)
        data.name = "synthetic digits"
    elif spec == "fashion-mnist" or spec.startswith("mnist:") or os.path.isdir(spec):
        directory = None if spec == "fashion-mnist" else os.path.expanduser(
            spec[len("mnist:"):] if spec.startswith("mnist:") else spec)
        if directory is not None and not os.path.isdir(directory):
            raise CommandError(f"{directory}: no such directory")
        data.X, data.y, data.X_test, data.y_test = datasets.load_fashion_mnist(directory) \
            if directory is None else datasets.load_mnist(directory)
        if spec == "fashion-mnist":
            data.class_names = FASHION_MNIST_CLASSES
    elif spec.lower().endswith(".npz"):
        arrays = _load_npz(spec)
        missing = [name for name in ("X", "y") if name not in arrays]
        if missing:
            raise CommandError(f"{spec}: no array {' or '.join(missing)} in the file "
                               f"(it holds: {', '.join(sorted(arrays)) or 'nothing'})")
        data.X = _features(arrays["X"], spec)
        data.y = _labels(arrays["y"], data.X.shape[0], spec)
        if ("X_test" in arrays) != ("y_test" in arrays):
            raise CommandError(f"{spec}: X_test and y_test go together; the file holds "
                               "only one of them")
        if "X_test" in arrays:
            data.X_test = _features(arrays["X_test"], f"{spec} (X_test)")
            data.y_test = _labels(arrays["y_test"], data.X_test.shape[0], spec, "y_test")
            if data.X_test.shape[1] != data.X.shape[1]:
                raise CommandError(f"{spec}: X has {data.X.shape[1]} features but X_test "
                                   f"{data.X_test.shape[1]}")
    elif spec.lower().endswith(".csv"):
        X, y = _read_csv(spec, -1 if label_column is None else label_column)
        data.X = _features(X, spec)
        data.y = _labels(y, data.X.shape[0], spec)
    else:
        raise CommandError(f"unknown --data {spec!r}: use digits, fashion-mnist, mnist:DIR, "
                           "a .npz or a .csv file")
    if samples is not None and spec != "digits":
        data.X, data.y = data.X[:samples], data.y[:samples]
    if test_samples is not None and data.X_test is not None and spec != "digits":
        data.X_test, data.y_test = data.X_test[:test_samples], data.y_test[:test_samples]
    return data


def load_inputs(path):
    """Samples to predict from a .npz (array X, or its only array), .csv or .npy file."""
    lower = path.lower()
    if lower.endswith(".npz"):
        arrays = _load_npz(path)
        if "X" in arrays:
            X = arrays["X"]
        elif len(arrays) == 1:
            X = next(iter(arrays.values()))
        else:
            raise CommandError(f"{path}: no array X in the file (it holds: "
                               f"{', '.join(sorted(arrays)) or 'nothing'})")
    elif lower.endswith(".npy"):
        try:
            X = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except (ValueError, OSError, EOFError) as error:
            raise CommandError(f"{path}: not a readable .npy file ({_one_line(error)})") \
                from None
    elif lower.endswith(".csv"):
        X, _ = _read_csv(path)
    else:
        raise CommandError(f"{path}: unknown input format; use a .npz, .npy or .csv file")
    X = np.asarray(X)
    if X.ndim == 1:
        X = X.reshape(1, -1)   # a single sample
    return _features(X, path)


def _load_model(path):
    import fastmlp
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    return fastmlp.load(path)   # its ValueError names the file and the problem


def _check_features(model, X, where):
    if X.shape[1] != model.n_features_in_:
        raise CommandError(f"{where}: {X.shape[1]} features per sample, but the model "
                           f"expects {model.n_features_in_}")


def _holdout(X, y, fraction, seed):
    """Split off a random `fraction` of (X, y) as a test set."""
    n_test = int(round(fraction * len(y)))
    if n_test < 1 or n_test >= len(y):
        raise CommandError(f"cannot hold out {fraction:g} of {len(y)} samples for testing")
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


# --- reports -------------------------------------------------------------------------


class EpochLine(ProgressBar):
    """The commands' progress: one compact line per epoch (loss, validation
    accuracy, speed); `seconds` sums the training time."""

    def __init__(self, stream=None, indent="  "):
        super().__init__(stream=stream)
        self.indent = indent

    def line(self, metrics):
        width = len(str(metrics["max_iter"]))
        line = (f"{self.indent}epoch {metrics['epoch']:>{width}}/{metrics['max_iter']}"
                f"  loss {metrics['loss']:.4f}")
        if metrics.get("validation_score") is not None:
            line += f"  validation accuracy {metrics['validation_score']:.4f}"
        return line + (f"  {metrics['samples_per_second']:>9,.0f} samples/s"
                       f"  {metrics['seconds']:5.2f} s")


def classification_report(y_true, y_pred, names=None):
    """Per-class precision, recall, F1 and support, then macro and weighted averages."""
    from fastmlp.plot import confusion_matrix
    matrix, labels = confusion_matrix(y_true, y_pred)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    hits = np.diag(matrix)
    precision = np.divide(hits, predicted, out=np.zeros(len(hits)), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(len(hits)), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(len(hits)), where=total > 0)
    shown = [_label_name(label, names) for label in labels]
    width = max(12, *(len(s) for s in shown))
    lines = [f"{'class':<{width}}  precision  recall  f1-score  support"]
    for name, p, r, f, s in zip(shown, precision, recall, f1, support):
        lines.append(f"{name:<{width}}  {p:9.4f}  {r:6.4f}  {f:8.4f}  {s:7d}")
    n = support.sum()
    for name, weights in (("macro avg", None), ("weighted avg", support)):
        if weights is not None and not weights.sum():
            continue
        averages = [np.average(v, weights=weights) for v in (precision, recall, f1)]
        lines.append(f"{name:<{width}}  {averages[0]:9.4f}  {averages[1]:6.4f}  "
                     f"{averages[2]:8.4f}  {n:7d}")
    return "\n".join(lines), matrix, labels


def _label_name(label, names):
    if names is not None and isinstance(label, (int, np.integer)) and 0 <= label < len(names):
        return f"{label} {names[label]}"
    return str(label)


def format_confusion_matrix(matrix, labels):
    shown = [str(label) for label in labels]
    width = max(5, max(len(s) for s in shown) + 1, len(f"{matrix.max():,}") + 1)
    head = max(len(s) for s in shown)
    lines = [" " * (head + 2) + "".join(f"{s:>{width}}" for s in shown)]
    for name, row in zip(shown, matrix):
        lines.append(f"{name:>{head}}  " + "".join(f"{v:>{width},}" for v in row))
    return "\n".join(lines)


def _print_evaluation(model, X, y, class_names, out=None):
    out = out or sys.stdout
    y_pred = model.predict(X)
    accuracy = float(np.mean(y_pred == y))
    print(f"accuracy {accuracy:.4f} ({int(np.sum(y_pred == y)):,} of {len(y):,} correct)",
          file=out)
    report, matrix, labels = classification_report(y, y_pred, class_names)
    print(f"\n{report}\n", file=out)
    print("confusion matrix (rows: true class, columns: predicted class)", file=out)
    print(format_confusion_matrix(matrix, labels), file=out)
    return accuracy, y_pred


# --- pictures ------------------------------------------------------------------------


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


# --- commands ------------------------------------------------------------------------


def _network_name(n_features, hidden, n_outputs):
    return "-".join(str(n) for n in (n_features, *hidden, n_outputs))


def _demo(args):
    """Train on synthetic handwritten digits with the Cython engine and the NumPy
    reference; print the progress, test accuracies and speed-up, and draw pictures."""
    from fastmlp import MLPClassifier
    from fastmlp.datasets import make_digits
    from fastmlp.exceptions import ConvergenceWarning

    pictures = not args.no_pictures
    if pictures:
        try:
            from fastmlp.plot import require_matplotlib
            require_matplotlib()
        except ImportError as error:
            print(f"note: no pictures: {error}", file=sys.stderr)
            pictures = False

    start = time.perf_counter()
    X, y = make_digits(args.samples, random_state=args.seed)
    X_val, y_val = make_digits(args.validation_samples, random_state=args.seed + 1)
    X_test, y_test = make_digits(args.test_samples, random_state=args.seed + 2)
    print(f"fastmlp demo: an MLP {_network_name(784, args.hidden, 10)} (relu, adam, "
          f"batch {args.batch_size}, {args.epochs} epochs, float32) learns synthetic "
          f"28x28 digits\n  {args.samples:,} training, {args.validation_samples:,} "
          f"validation and {args.test_samples:,} test digits, generated in "
          f"{time.perf_counter() - start:.1f} s")
    results = {}
    for engine, what in (("cython", "fused Cython kernels over BLAS"),
                         ("numpy", "the NumPy reference")):
        print(f"\n{engine} engine ({what})")
        progress = EpochLine(indent="  ")
        model = MLPClassifier(args.hidden, batch_size=args.batch_size, max_iter=args.epochs,
                              random_state=args.seed, engine=engine, callbacks=[progress])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter is the point
            model.fit(X, y, X_val=X_val, y_val=y_val)
        y_pred = model.predict(X_test)
        accuracy = float(np.mean(y_pred == y_test))
        print(f"  test accuracy {accuracy:.4f} on {len(y_test):,} digits, "
              f"training {progress.seconds:.2f} s")
        results[engine] = SimpleNamespace(model=model, seconds=progress.seconds,
                                          accuracy=accuracy, y_pred=y_pred)
    cython, numpy_ = results["cython"], results["numpy"]
    print(f"\nspeed-up of the Cython engine over the NumPy reference: "
          f"{numpy_.seconds / max(cython.seconds, 1e-9):.1f}x "
          f"({cython.seconds:.2f} s vs {numpy_.seconds:.2f} s of training)")
    if pictures:
        paths = write_pictures(cython.model, X_test, y_test, cython.y_pred, args.out_dir,
                               title=f"Training on synthetic digits (cython engine), "
                                     f"{args.epochs} epochs")
        print(f"pictures: {', '.join(paths)}")
    return 0


def _train(args):
    """Train an MLP classifier on a data set, print its test accuracy, save it."""
    from fastmlp import MLPClassifier
    from fastmlp.exceptions import ConvergenceWarning

    if args.plot is not None:
        from fastmlp.plot import require_matplotlib
        require_matplotlib()   # fail now, not after the training
    if args.out is not None:
        _check_writable(args.out)
    if isinstance(args.dropout, tuple) and len(args.dropout) != len(args.hidden):
        raise CommandError(f"--dropout has {len(args.dropout)} rates for "
                           f"{len(args.hidden)} hidden layers")
    started = time.perf_counter()
    data = load_data(args.data, args.label_column, args.samples, args.test_samples)
    X, y = data.X.astype(args.dtype, copy=False), data.y
    if data.X_test is None:
        X, y, X_test, y_test = _holdout(X, y, args.test_fraction, args.seed)
        split = f"a held-out {args.test_fraction:g} of the data"
    else:
        X_test, y_test = data.X_test.astype(args.dtype, copy=False), data.y_test
        split = "the test split"
    X_val = y_val = None
    if args.validation_fraction:
        X, y, X_val, y_val = _holdout(X, y, args.validation_fraction, args.seed + 1)
    n_classes = len(np.unique(y))
    print(f"{data.name}: {len(y):,} training and {len(y_test):,} test samples "
          f"({'' if X_val is None else f'{len(y_val):,} validation, '}"
          f"{X.shape[1]} features, {n_classes} classes), loaded in "
          f"{time.perf_counter() - started:.1f} s")
    print(f"training an MLP {_network_name(X.shape[1], args.hidden, n_classes)} "
          f"({args.activation}, {args.solver}, batch {args.batch_size}, "
          f"learning rate {args.lr:g}, {args.dtype}, {args.engine} engine)")
    progress = EpochLine(indent="  ")
    model = MLPClassifier(args.hidden, activation=args.activation, solver=args.solver,
                          alpha=args.alpha, batch_size=args.batch_size,
                          learning_rate_init=args.lr, max_iter=args.epochs,
                          random_state=args.seed, dropout=args.dropout, engine=args.engine,
                          callbacks=None if args.quiet else [progress])
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # --epochs is what was asked
        model.fit(X, y, X_val=X_val, y_val=y_val)
    seconds = time.perf_counter() - started
    y_pred = model.predict(X_test)
    accuracy = float(np.mean(y_pred == y_test))
    print(f"test accuracy {accuracy:.4f} on {split} ({len(y_test):,} samples), "
          f"trained in {seconds:.1f} s")
    if args.out is not None:
        model.set_params(callbacks=None)   # the progress printer is not part of the model
        model.save(args.out)
        print(f"model saved to {args.out}")
    if args.plot is not None:
        paths = write_pictures(model, X_test, y_test, y_pred, args.plot, data.class_names,
                               title=f"Training on {data.name}")
        print(f"pictures: {', '.join(paths)}")
    return 0


def _check_writable(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CommandError(f"{path}: the directory {directory} does not exist")
    if not path.lower().endswith(".npz"):
        raise CommandError(f"{path}: the model file must end in .npz")


def _evaluate(args):
    """Evaluate a saved model on a data set: accuracy, per-class report, confusion matrix."""
    model = _load_model(args.model)
    if not hasattr(model, "classes_"):
        raise CommandError(f"{args.model}: evaluate needs a classifier, this is a "
                           f"{type(model).__name__}")
    data = load_data(args.data, args.label_column, args.samples, args.test_samples)
    if data.X_test is not None:
        X, y, split = data.X_test, data.y_test, "test split"
    else:
        X, y, split = data.X, data.y, "all samples"
    _check_features(model, X, args.data)
    print(f"{data.name} ({split}, {len(y):,} samples), model {args.model}")
    _print_evaluation(model, X.astype(model.coefs_[0].dtype, copy=False), y,
                      data.class_names)
    return 0


def _predict(args):
    """Predict labels (or class probabilities) for the samples of a file, one per line."""
    model = _load_model(args.model)
    X = load_inputs(args.input)
    _check_features(model, X, args.input)
    X = X.astype(model.coefs_[0].dtype, copy=False)
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise CommandError(f"--proba needs a classifier; {args.model} holds a "
                               f"{type(model).__name__}")
        rows = [",".join(f"{p:.6g}" for p in row) for row in model.predict_proba(X)]
    else:
        predictions = model.predict(X)
        rows = [",".join(str(v) for v in np.atleast_1d(row)) for row in predictions.tolist()]
    text = "\n".join(rows) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w") as file:
                file.write(text)
        except OSError as error:
            raise CommandError(f"{args.output}: cannot write ({error.strerror})") from None
        print(f"{len(rows):,} {'probability rows' if args.proba else 'predictions'} "
              f"written to {args.output}", file=sys.stderr)
    return 0


# --- the parser ----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (the usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_data_options(parser, label_column=True):
    parser.add_argument("--data", required=True, metavar="DATA", help=DATA_HELP)
    if label_column:
        parser.add_argument("--label-column", metavar="COLUMN",
                            help="CSV data: the label column, an index (negative counts "
                                 "from the end; default -1, the last) or a header name")
    parser.add_argument("--samples", type=_positive_int, metavar="N",
                        help="use only the first N training samples (digits: generate N; "
                             "default 20000)")
    parser.add_argument("--test-samples", type=_positive_int, metavar="N",
                        help="use only the first N test samples (digits: generate N; "
                             "default 5000)")


def build_parser():
    parser = _Parser(prog="fastmlp", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from fastmlp import __version__
    parser.add_argument("--version", action="version", version=f"fastmlp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    def command(name, function):
        summary = " ".join(function.__doc__.split())
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(run=function)
        return sub

    demo = command("demo", _demo)
    demo.add_argument("--out-dir", default="fastmlp-demo", metavar="DIR",
                      help="where the pictures go (default: fastmlp-demo)")
    demo.add_argument("--no-pictures", action="store_true",
                      help="draw no pictures (they need matplotlib: pip install "
                           "fastmlp[plot])")
    demo.add_argument("--seed", type=int, default=0, help="seeds data and weights (default 0)")
    # small sizes for the tests; hidden from --help
    demo.add_argument("--samples", type=_positive_int, default=12000, help=argparse.SUPPRESS)
    demo.add_argument("--validation-samples", type=_positive_int, default=2000,
                      help=argparse.SUPPRESS)
    demo.add_argument("--test-samples", type=_positive_int, default=5000,
                      help=argparse.SUPPRESS)
    demo.add_argument("--epochs", type=_positive_int, default=8, help=argparse.SUPPRESS)
    demo.add_argument("--hidden", type=_hidden_sizes, default=(256, 128),
                      help=argparse.SUPPRESS)
    demo.add_argument("--batch-size", type=_positive_int, default=128, help=argparse.SUPPRESS)

    train = command("train", _train)
    _add_data_options(train)
    train.add_argument("--hidden", type=_hidden_sizes, default=(256, 128), metavar="SIZES",
                       help="hidden layer widths, comma-separated (default 256,128)")
    train.add_argument("--epochs", type=_positive_int, default=10, metavar="N",
                       help="training epochs (default 10)")
    train.add_argument("--batch-size", type=_positive_int, default=128, metavar="B",
                       help="minibatch size (default 128)")
    train.add_argument("--lr", type=_positive_float, default=1e-3, metavar="RATE",
                       help="initial learning rate (default 0.001)")
    train.add_argument("--activation", default="relu", choices=ACTIVATION_CHOICES,
                       help="hidden activation (default relu)")
    train.add_argument("--solver", default="adam", choices=SOLVER_CHOICES,
                       help="optimizer (default adam; sgd uses Nesterov momentum 0.9)")
    train.add_argument("--alpha", type=_non_negative_float, default=1e-4,
                       help="L2 penalty (default 0.0001)")
    train.add_argument("--dropout", type=_dropout, default=0.0, metavar="RATE",
                       help="dropout rate of the hidden layers, or one per layer "
                            "(0.2,0.1); default 0")
    train.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES,
                       help="precision of training and of the saved model (default float32)")
    train.add_argument("--engine", default="cython", choices=ENGINE_CHOICES,
                       help="cython (fast) or numpy (the reference) (default cython)")
    train.add_argument("--seed", type=int, default=0,
                       help="seeds the weights, shuffling and splits (default 0)")
    train.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                       help="data without a test split: the fraction held out for "
                            "testing (default 0.2)")
    train.add_argument("--validation-fraction", type=_fraction, default=None, metavar="F",
                       help="hold out this fraction of the training data and print the "
                            "validation accuracy after every epoch (default: none)")
    train.add_argument("--out", metavar="MODEL.npz",
                       help="save the trained model here (load it with fastmlp.load)")
    train.add_argument("--plot", metavar="DIR",
                       help="write pictures (network, backprop, training, confusion, "
                            "first_layer .png) to DIR; needs matplotlib")
    train.add_argument("--quiet", action="store_true", help="no line per epoch")

    evaluate = command("evaluate", _evaluate)
    evaluate.add_argument("--model", required=True, metavar="MODEL.npz",
                          help="a model saved by fastmlp train --out (or model.save)")
    _add_data_options(evaluate)

    predict = command("predict", _predict)
    predict.add_argument("--model", required=True, metavar="MODEL.npz",
                         help="a model saved by fastmlp train --out (or model.save)")
    predict.add_argument("--input", required=True, metavar="FILE",
                         help="samples, one per row: a .npy array, a .npz file (array X, "
                              "or its only array) or a .csv file of features only (an "
                              "optional header row); uint8 features are divided by 255")
    predict.add_argument("--proba", action="store_true",
                         help="print class probabilities (comma-separated, in the order "
                              "of the model's classes) instead of labels")
    predict.add_argument("--output", metavar="FILE",
                         help="write the lines to FILE instead of standard output")

    from fastmlp import benchmark
    bench = command("bench", _bench)
    benchmark.add_arguments(bench)
    return parser


def _bench(args):
    """Time fastmlp against its NumPy reference, scikit-learn and PyTorch (when
    installed), interleaved, each as a ratio to the gemm-only bound; also predict
    latency and the peak memory of a fit."""
    from fastmlp import benchmark
    return benchmark.run_from_args(args)


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fastmlp: warning: {_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit code (0 on success)."""
    args = build_parser().parse_args(argv)
    # one line per warning, without the source line
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except KeyboardInterrupt:
            print(f"fastmlp {args.command}: interrupted", file=sys.stderr)
            return 130
        except (CommandError, ValueError, TypeError, OSError, ImportError, MemoryError,
                zipfile.BadZipFile, EOFError) as error:
            print(f"fastmlp {args.command}: error: {_one_line(error)}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
