"""The ``fastmlp`` command line (also ``python -m fastmlp``).

Commands: ``demo`` (both engines on synthetic digits, with pictures), ``train``,
``evaluate``, ``predict``, ``export`` and ``bench``. Run ``fastmlp COMMAND --help`` for
the options. Errors in the arguments or the data end the command with a one-line
message on stderr and exit code 1 (2 for malformed arguments), never with a traceback;
so does Ctrl-C, with exit code 130. A reader that stops reading (``| head``) ends
the command quietly with code 141, as it ends ``seq``.

``parser`` declares the commands and their options (``option_values`` reads the
options' text), ``commands`` runs them on what ``data`` and ``csv_files`` read, and
``report`` and ``pictures`` are what they print and draw.
"""
import os
import sys
import warnings
import zipfile

from fastmlp.cli.errors import CommandError, one_line
from fastmlp.config import config_context

__all__ = ["main"]

# The exit code of a command stopped by Ctrl-C: 128 + SIGINT, as a shell reports it.
INTERRUPTED = 130
# The exit code of a command whose reader went away (`fastmlp predict ... | head`):
# 128 + SIGPIPE, what the shell reports for a program that signal ended, as `seq`.
READER_GONE = 141


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program's name; default ``sys.argv[1:]``.

    Returns
    -------
    code : int
        0 on success, 1 when a command fails (one line on stderr), 130 when
        interrupted, 141 when stdout's reader went away. Malformed arguments exit
        through SystemExit with code 2, as argparse does.

    Examples
    --------
    ``fastmlp train`` from Python, on synthetic digits, as the shell would run it:

    >>> from fastmlp.cli import main
    >>> main(["train", "--data", "digits", "--samples", "1000", "--test-samples", "500",
    ...       "--hidden", "32", "--epochs", "5", "--quiet"])
    synthetic digits: 1,000 training and 500 test samples (784 features, 10 classes), ...
    training an MLP 784-32-10 (relu, adam, batch 128, learning rate 0.001, float32, ...)
    test accuracy ... on the test split (500 samples), trained in ... s
    0
    >>> main(["predict", "--model", "missing.npz", "--input", "x.npy"])   # one line on stderr
    1
    """
    who = "fastmlp"   # the message's prefix; the command's name once it is known
    # Everything main does is inside this try, so that Ctrl-C at any moment ends in one
    # line rather than a traceback; the parser's import too, which brings in the
    # commands and what they import. (The fastmlp package is imported before main runs.)
    try:
        from fastmlp.cli.parser import build_parser
        args = build_parser().parse_args(argv)
        who = f"fastmlp {args.command}"
        return _run(args, who)
    except KeyboardInterrupt:
        print(f"{who}: interrupted", file=sys.stderr)
        return INTERRUPTED


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fastmlp: warning: {one_line(message)}", file=sys.stderr)


def _run(args, who):
    """Run the parsed command; a problem it raises becomes one line on stderr and code 1."""
    # one line per warning, without the source line
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            # Ctrl-C stops the command (the library's default, as scikit-learn's, would
            # warn and go on with the model of the last whole epoch)
            with config_context(interrupt="raise"):
                return args.run(args)
        except BrokenPipeError:
            _discard_further_output()
            return READER_GONE
        except (CommandError, ValueError, TypeError, OSError, ImportError, MemoryError,
                zipfile.BadZipFile, EOFError) as error:
            print(f"{who}: error: {one_line(error)}", file=sys.stderr)
            return 1


def _discard_further_output():
    """Point stdout at /dev/null, quietly: its reader has gone (``| head``), and the
    interpreter's last flush of what stdout still buffers would fail again and print
    an "Exception ignored" report."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):   # no real stdout (an embedding program's): nothing to do
        pass
