"""The commands and their options: what ``fastmlp --help`` and ``fastmlp COMMAND
--help`` show. The options' text becomes values in option_values."""
import argparse

import numpy as np

# The names the estimators accept, from the registries they check against: the
# three imports below are the one place the command line learns them.
from fastmlp._engine.engines import ENGINES
from fastmlp._engine.registry import HIDDEN_ACTIVATIONS, SOLVERS
from fastmlp._estimators.validation import FLOAT_DTYPES
from fastmlp.cli import commands
from fastmlp.cli.option_values import (
    dropout_rates,
    fraction,
    fraction_or_zero,
    hidden_sizes,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from fastmlp.recipes import RECIPES
from fastmlp.schedules import SCHEDULES

# Sorted: the order --help shows does not depend on how a registry is declared.
ACTIVATION_CHOICES = sorted(HIDDEN_ACTIVATIONS)
SOLVER_CHOICES = sorted(SOLVERS)
ENGINE_CHOICES = sorted(ENGINES)
DTYPE_CHOICES = sorted(np.dtype(dtype).name for dtype in FLOAT_DTYPES)

DESCRIPTION = """\
Fast multilayer perceptrons for the CPU.

Start with `fastmlp demo`. Run `fastmlp COMMAND --help` for a command's options.
Bad arguments or data end a command with a one-line message on stderr and a
non-zero exit code; Ctrl-C ends it with exit code 130."""

DATA_HELP = ("digits (synthetic 28x28 digits), fashion-mnist (from "
             "/usr/share/datasets/fashion-mnist), mnist:DIR (a directory of the four "
             "MNIST IDX files, plain or .gz), PATH.npz (arrays X, y and optionally "
             "X_test, y_test) or PATH.csv (one sample per row, the label in the last "
             "column unless --label-column says otherwise; an optional header row). "
             "uint8 features (raw pixels) are divided by 255.")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (the usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_data_options(parser, label_column=True):
    """--data and the options that trim or read it, shared by train and evaluate."""
    parser.add_argument("--data", required=True, metavar="DATA", help=DATA_HELP)
    if label_column:
        parser.add_argument("--label-column", metavar="COLUMN",
                            help="CSV data: the label column, an index (negative counts "
                                 "from the end) or a header name (default: -1, the last)")
    parser.add_argument("--samples", type=positive_int, metavar="N",
                        help="use only the first N training samples (digits: generate N) "
                             "(default: all; digits: 20000)")
    parser.add_argument("--test-samples", type=positive_int, metavar="N",
                        help="use only the first N test samples (digits: generate N) "
                             "(default: all; digits: 5000)")


def _train_default(option, none="none"):
    """'(default: ...)' for a train option an estimator parameter comes from. Its
    argparse default is None, so that a --recipe's value can replace the default of
    commands.TRAIN_OPTIONS, which this shows."""
    value = commands.TRAIN_OPTIONS[option][1]
    if value is None:
        text = none
    elif isinstance(value, tuple):
        text = ",".join(map(str, value))
    else:
        text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"(default: {text}, or the --recipe's)"


def build_parser():
    """The ``fastmlp`` argument parser, a sub-command per command.

    Returns
    -------
    parser : argparse.ArgumentParser
        Parsing sets ``command`` (the command's name) and ``run``, the command's
        function: ``args.run(args)`` runs it and returns the exit code.
    """
    parser = _Parser(prog="fastmlp", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from fastmlp import __version__
    parser.add_argument("--version", action="version", version=f"fastmlp {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       parser_class=_Parser)

    def command(name, function):
        summary = " ".join(function.__doc__.split())
        sub = subparsers.add_parser(name, help=summary, description=summary)
        sub.set_defaults(run=function)
        return sub

    demo = command("demo", commands.demo)
    demo.add_argument("--out-dir", default="fastmlp-demo", metavar="DIR",
                      help="where the pictures go (default: %(default)s)")
    demo.add_argument("--no-pictures", action="store_true",
                      help="draw no pictures (they need matplotlib: pip install "
                           "fastmlp[plot])")
    demo.add_argument("--seed", type=int, default=0,
                      help="seeds data and weights (default: %(default)s)")
    # smaller sizes make a quicker demo
    demo.add_argument("--samples", type=positive_int, default=12000, metavar="N",
                      help="training digits (default: %(default)s)")
    demo.add_argument("--validation-samples", type=positive_int, default=2000, metavar="N",
                      help="validation digits (default: %(default)s)")
    demo.add_argument("--test-samples", type=positive_int, default=5000, metavar="N",
                      help="test digits (default: %(default)s)")
    demo.add_argument("--epochs", type=positive_int, default=8, metavar="N",
                      help="training epochs (default: %(default)s)")
    demo.add_argument("--hidden", type=hidden_sizes, default=(256, 128), metavar="SIZES",
                      help="hidden layer widths, comma-separated (default: 256,128)")
    demo.add_argument("--batch-size", type=positive_int, default=128, metavar="B",
                      help="minibatch size (default: %(default)s)")

    train = command("train", commands.train)
    _add_data_options(train)
    # the options an estimator parameter comes from default to None: given, they win;
    # not given, the recipe's value or commands.TRAIN_OPTIONS's default applies
    train.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                       help="start from a documented recipe's parameters (fastmlp.recipes); "
                            "the options given replace its values (default: none)")
    train.add_argument("--hidden", type=hidden_sizes, metavar="SIZES",
                       help="hidden layer widths, comma-separated " + _train_default("hidden"))
    train.add_argument("--epochs", type=positive_int, metavar="N",
                       help="training epochs " + _train_default("epochs"))
    train.add_argument("--batch-size", type=positive_int, metavar="B",
                       help="minibatch size " + _train_default("batch_size"))
    train.add_argument("--lr", type=positive_float, metavar="RATE",
                       help="initial learning rate " + _train_default("lr"))
    train.add_argument("--lr-schedule", choices=sorted(SCHEDULES),
                       help="the learning rate of each epoch " + _train_default("lr_schedule"))
    train.add_argument("--warmup-epochs", type=non_negative_int, metavar="N",
                       help="epochs of a linear rise to the rate first "
                            + _train_default("warmup_epochs"))
    train.add_argument("--activation", choices=ACTIVATION_CHOICES,
                       help="hidden activation " + _train_default("activation"))
    train.add_argument("--solver", choices=SOLVER_CHOICES,
                       help="optimizer; sgd uses Nesterov momentum 0.9 "
                            + _train_default("solver"))
    train.add_argument("--alpha", type=non_negative_float,
                       help="L2 penalty " + _train_default("alpha"))
    train.add_argument("--weight-decay", type=non_negative_float, metavar="DECAY",
                       help="decoupled weight decay of --solver adamw "
                            + _train_default("weight_decay"))
    train.add_argument("--dropout", type=dropout_rates, metavar="RATE",
                       help="dropout rate of the hidden layers, or one per layer (0.2,0.1) "
                            + _train_default("dropout"))
    train.add_argument("--label-smoothing", type=fraction_or_zero, metavar="E",
                       help="train on labels smoothed by E " + _train_default("label_smoothing"))
    train.add_argument("--clip-norm", type=positive_float, metavar="NORM",
                       help="scale each minibatch's gradient down to at most this global "
                            "norm " + _train_default("clip_norm", none="no clipping"))
    train.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES,
                       help="precision of training and of the saved model "
                            "(default: %(default)s)")
    train.add_argument("--engine", default="cython", choices=ENGINE_CHOICES,
                       help="cython (fast) or numpy (the reference) (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0,
                       help="seeds the weights, shuffling and splits (default: %(default)s)")
    train.add_argument("--test-fraction", type=fraction, default=0.2, metavar="F",
                       help="data without a test split: the fraction held out for "
                            "testing (default: %(default)s)")
    train.add_argument("--validation-fraction", type=fraction, default=None, metavar="F",
                       help="hold out this fraction of the training data and print the "
                            "validation accuracy after every epoch (default: none)")
    train.add_argument("--out", metavar="MODEL.npz",
                       help="save the trained model here (load it with fastmlp.load); "
                            "Ctrl-C saves the last whole epoch (default: not saved)")
    train.add_argument("--plot", metavar="DIR",
                       help="write pictures (network, backprop, training, confusion, "
                            "first_layer .png) to DIR; needs matplotlib (default: none)")
    train.add_argument("--quiet", action="store_true", help="no line per epoch")

    evaluate = command("evaluate", commands.evaluate)
    evaluate.add_argument("--model", required=True, metavar="MODEL.npz",
                          help="a model saved by fastmlp train --out (or model.save)")
    _add_data_options(evaluate)

    predict = command("predict", commands.predict)
    predict.add_argument("--model", required=True, metavar="MODEL.npz",
                         help="a model saved by fastmlp train --out (or model.save)")
    predict.add_argument("--input", required=True, metavar="FILE",
                         help="samples, one per row: a .npy array, a .npz file (array X, "
                              "or its only array) or a .csv file of features only (an "
                              "optional header row); uint8 features are divided by 255")
    predict.add_argument("--proba", action="store_true",
                         help="print class probabilities instead of labels: a header line "
                              "of the class names, then a line per sample, comma-separated "
                              "in the header's order")
    predict.add_argument("--output", metavar="FILE",
                         help="write the lines to FILE (default: standard output)")

    export = command("export", commands.export)
    export.add_argument("--model", required=True, metavar="MODEL.npz",
                        help="a model saved by fastmlp train --out (or model.save)")
    export.add_argument("--format", choices=("c", "onnx"), default="c",
                        help="c: a dependency-free C99 forward pass, PATH.h and PATH.c; "
                             "onnx: an ONNX model, PATH (needs pip install "
                             "\"fastmlp[onnx]\") (default: %(default)s)")
    export.add_argument("--out", required=True, metavar="PATH",
                        help="c: the files to write, without extension (a trailing .c "
                             "is dropped): PATH.h and PATH.c; onnx: the file to write")
    export.add_argument("--name", metavar="NAME",
                        help="the prefix of the generated C identifiers; --format c only "
                             "(default: PATH's file name)")

    # bench's options are the benchmark script's own
    from fastmlp import benchmark
    bench = command("bench", commands.bench)
    benchmark.add_arguments(bench)
    return parser
