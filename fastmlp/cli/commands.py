"""The commands, one function each: demo, train, evaluate, predict and bench.

A command takes the parsed arguments and returns the exit code; its docstring is
its summary in ``fastmlp --help``. A problem it finds is raised, and ``main``
prints it in one line.
"""
import os
import sys
import time
import warnings
from types import SimpleNamespace

import numpy as np

from fastmlp.cli.data import check_features, holdout, load_data, load_inputs, load_model
from fastmlp.cli.errors import CommandError
from fastmlp.cli.pictures import write_pictures
from fastmlp.cli.report import EpochLine, prediction_lines, print_evaluation


def _network_name(n_features, hidden, n_outputs):
    return "-".join(str(n) for n in (n_features, *hidden, n_outputs))


def demo(args):
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


# train's options that set an estimator parameter, the parameter, and the option's
# default; with --recipe, the recipe's value replaces the default of an option not
# given.
TRAIN_OPTIONS = {
    "hidden": ("hidden_layer_sizes", (256, 128)),
    "epochs": ("max_iter", 10),
    "batch_size": ("batch_size", 128),
    "lr": ("learning_rate_init", 1e-3),
    "activation": ("activation", "relu"),
    "solver": ("solver", "adam"),
    "alpha": ("alpha", 1e-4),
    "weight_decay": ("weight_decay", 0.01),
    "dropout": ("dropout", 0.0),
    "lr_schedule": ("lr_schedule", "constant"),
    "warmup_epochs": ("warmup_epochs", 0),
    "label_smoothing": ("label_smoothing", 0.0),
    "clip_norm": ("clip_norm", None),
}


def training_params(args):
    """The MLPClassifier parameters of `fastmlp train`: the options given, then the
    recipe's (--recipe), then the options' defaults."""
    from fastmlp.recipes import RECIPES
    recipe = dict(RECIPES[args.recipe]) if args.recipe else {}
    params = {}
    for option, (param, default) in TRAIN_OPTIONS.items():
        value = getattr(args, option)
        params[param] = value if value is not None else recipe.get(param, default)
    for param, value in recipe.items():   # the recipe's other parameters
        params.setdefault(param, value)
    return params


def train(args):
    """Train an MLP classifier on a data set, print its test accuracy, save it."""
    from fastmlp import MLPClassifier
    from fastmlp.exceptions import ConvergenceWarning

    params = training_params(args)
    if args.plot is not None:
        from fastmlp.plot import require_matplotlib
        require_matplotlib()   # fail now, not after the training
    if args.out is not None:
        _check_writable(args.out)
    hidden, dropout = params["hidden_layer_sizes"], params["dropout"]
    if isinstance(dropout, tuple) and len(dropout) != len(hidden):
        raise CommandError(f"--dropout has {len(dropout)} rates for "
                           f"{len(hidden)} hidden layers")
    started = time.perf_counter()
    data = load_data(args.data, args.label_column, args.samples, args.test_samples)
    X, y = data.X.astype(args.dtype, copy=False), data.y
    if data.X_test is None:
        X, y, X_test, y_test = holdout(X, y, args.test_fraction, args.seed)
        split = f"a held-out {args.test_fraction:g} of the data"
    else:
        X_test, y_test = data.X_test.astype(args.dtype, copy=False), data.y_test
        split = "the test split"
    X_val = y_val = None
    if args.validation_fraction:
        X, y, X_val, y_val = holdout(X, y, args.validation_fraction, args.seed + 1)
    n_classes = len(np.unique(y))
    print(f"{data.name}: {len(y):,} training and {len(y_test):,} test samples "
          f"({'' if X_val is None else f'{len(y_val):,} validation, '}"
          f"{X.shape[1]} features, {n_classes} classes), loaded in "
          f"{time.perf_counter() - started:.1f} s")
    schedule = ("" if params["lr_schedule"] == "constant" and not params["warmup_epochs"]
                else f" ({params['lr_schedule']} schedule, {params['warmup_epochs']} "
                     "warm-up epochs)")
    print(f"training an MLP {_network_name(X.shape[1], hidden, n_classes)} "
          f"({params['activation']}, {params['solver']}, batch {params['batch_size']}, "
          f"learning rate {params['learning_rate_init']:g}{schedule}, {args.dtype}, "
          f"{args.engine} engine{', recipe ' + args.recipe if args.recipe else ''})")
    progress = EpochLine(indent="  ")
    model = MLPClassifier(**params, random_state=args.seed, engine=args.engine,
                          callbacks=None if args.quiet else [progress])
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)   # --epochs is what was asked
            model.fit(X, y, X_val=X_val, y_val=y_val)
    except KeyboardInterrupt:
        # the CLI runs with interrupt='raise' (cli.main): the fit stopped between two
        # steps and the model holds its last whole epoch, if it finished one
        if args.out is not None and hasattr(model, "coefs_"):
            model.set_params(callbacks=None)
            model.save(args.out)
            print(f"\ninterrupted in epoch {model.n_iter_ + 1}: the model of the last whole "
                  f"epoch ({model.n_iter_}) saved to {args.out}", file=sys.stderr)
        raise
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


def evaluate(args):
    """Evaluate a saved model on a data set: accuracy, per-class report, confusion matrix."""
    model = load_model(args.model)
    if not hasattr(model, "classes_"):
        raise CommandError(f"{args.model}: evaluate needs a classifier, this is a "
                           f"{type(model).__name__}")
    data = load_data(args.data, args.label_column, args.samples, args.test_samples)
    if data.X_test is not None:
        X, y, split = data.X_test, data.y_test, "test split"
    else:
        X, y, split = data.X, data.y, "all samples"
    check_features(model, X, args.data)
    print(f"{data.name} ({split}, {len(y):,} samples), model {args.model}")
    print_evaluation(model, X.astype(model.coefs_[0].dtype, copy=False), y,
                     data.class_names)
    return 0


def predict(args):
    """Predict each sample of a file, a line per sample: its label, as in the training
    data (a class name, say), or a regressor's value; or, with --proba, the class
    probabilities under a header line naming the classes."""
    model = load_model(args.model)
    X = load_inputs(args.input)
    check_features(model, X, args.input)
    X = X.astype(model.coefs_[0].dtype, copy=False)
    if args.proba and not hasattr(model, "predict_proba"):
        raise CommandError(f"--proba needs a classifier; {args.model} holds a "
                           f"{type(model).__name__}")
    text, n_samples = prediction_lines(model, X, args.proba)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w") as file:
                file.write(text)
        except OSError as error:
            raise CommandError(f"{args.output}: cannot write ({error.strerror})") from None
        print(f"{n_samples:,} {'probability rows' if args.proba else 'predictions'} "
              f"written to {args.output}", file=sys.stderr)
    return 0


def export(args):
    """Export a saved model as source code: a dependency-free C99 forward pass (a .h
    and a .c file) for embedded targets, or an ONNX model."""
    from fastmlp.export import to_c, to_onnx
    model = load_model(args.model)
    directory = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(directory):
        raise CommandError(f"{args.out}: the directory {directory} does not exist")
    if args.format == "onnx" and args.name is not None:
        raise CommandError("--name applies to --format c only")
    try:
        if args.format == "onnx":
            to_onnx(model, args.out)
            files = [args.out]
        else:
            files = to_c(model, args.out, name=args.name)
    except ImportError as error:
        raise CommandError(str(error)) from None
    except ValueError as error:
        raise CommandError(f"{args.model}: cannot export: {error}") from None
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write ({error.strerror})") from None
    print(f"{type(model).__name__} of {args.model} written to {' and '.join(files)}")
    return 0


def bench(args):
    """Time fastmlp against its NumPy reference, scikit-learn and PyTorch (when
    installed), interleaved, each as a ratio to the gemm-only bound; also predict
    latency and the peak memory of a fit."""
    from fastmlp import benchmark
    return benchmark.run_from_args(args)
