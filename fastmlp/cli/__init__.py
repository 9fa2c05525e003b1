"""The ``fastmlp`` command line (also ``python -m fastmlp``).

Commands: ``demo`` (both engines on synthetic digits, with pictures), ``train``,
``evaluate``, ``predict`` and ``bench``. Run ``fastmlp COMMAND --help`` for the options.
Errors in the arguments or the data end the command with a one-line message on
stderr and exit code 1 (2 for malformed arguments), never with a traceback.

``parser`` declares the commands and their options (``option_values`` reads the
options' text), ``commands`` runs them on what ``data`` and ``csv_files`` read, and
``report`` and ``pictures`` are what they print and draw.
"""
import sys
import warnings
import zipfile

from fastmlp.cli.errors import CommandError, one_line
from fastmlp.cli.parser import build_parser
from fastmlp.config import config_context

__all__ = ["main", "build_parser"]


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fastmlp: warning: {one_line(message)}", file=sys.stderr)


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
        interrupted. Malformed arguments exit through SystemExit with code 2, as
        argparse does.
    """
    args = build_parser().parse_args(argv)
    # one line per warning, without the source line
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            # Ctrl-C stops the command (the library's default, as scikit-learn's, would
            # warn and go on with the model of the last whole epoch)
            with config_context(interrupt="raise"):
                return args.run(args)
        except KeyboardInterrupt:
            print(f"fastmlp {args.command}: interrupted", file=sys.stderr)
            return 130
        except (CommandError, ValueError, TypeError, OSError, ImportError, MemoryError,
                zipfile.BadZipFile, EOFError) as error:
            print(f"fastmlp {args.command}: error: {one_line(error)}", file=sys.stderr)
            return 1
