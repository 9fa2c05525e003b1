"""What the commands read: the data sets --data names, the samples of predict's
--input, saved models; and the test split held out of data that has none.

Every problem with a file is a CommandError naming the file.
"""
import os
import zipfile
from types import SimpleNamespace

import numpy as np

from fastmlp.cli.csv_files import read_csv
from fastmlp.cli.errors import CommandError, one_line

#: Fashion-MNIST's class names, by label.
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")


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
        raise CommandError(f"{path}: not a readable .npz file ({one_line(error)})") from None


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
        X, y = read_csv(spec, -1 if label_column is None else label_column)
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
            raise CommandError(f"{path}: not a readable .npy file ({one_line(error)})") \
                from None
    elif lower.endswith(".csv"):
        X, _ = read_csv(path)
    else:
        raise CommandError(f"{path}: unknown input format; use a .npz, .npy or .csv file")
    X = np.asarray(X)
    if X.ndim == 1:
        X = X.reshape(1, -1)   # a single sample
    return _features(X, path)


def load_model(path):
    """The model saved at `path`; a missing or invalid file is a one-line error."""
    import fastmlp
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    return fastmlp.load(path)   # its ValueError names the file and the problem


def check_features(model, X, where):
    """Refuse samples whose feature count differs from the model's input width."""
    if X.shape[1] != model.n_features_in_:
        raise CommandError(f"{where}: {X.shape[1]} features per sample, but the model "
                           f"expects {model.n_features_in_}")


def holdout(X, y, fraction, seed):
    """Split off a random `fraction` of (X, y) as a test set."""
    n_test = int(round(fraction * len(y)))
    if n_test < 1 or n_test >= len(y):
        raise CommandError(f"cannot hold out {fraction:g} of {len(y)} samples for testing")
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]
