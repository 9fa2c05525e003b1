"""Sphinx configuration of fastmlp's documentation.

Build it with the installed fastmlp (``pip install ".[docs]"``, or an in-place build on
PYTHONPATH), warnings as errors, as CI does::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The pages are MyST Markdown (the existing docs/*.md and benchmarks/README.md are part
of the site as they are) and reStructuredText (the API reference). Before reading the
sources, the build writes docs/_generated/: the ``--help`` of every ``fastmlp``
command, and the model file format from the docstring of
fastmlp/_estimators/persistence.py. Every ``>>>`` example of the pages is run by
tests/test_docs.py.
"""
import contextlib
import importlib.util
import io
import os
import re
from pathlib import Path

try:
    import fastmlp
except ImportError as error:   # the source tree alone has no compiled kernels
    raise ImportError(f"the documentation documents an installed fastmlp ({error}): "
                      'pip install ".[docs]", or build it in place and put the '
                      "repository on PYTHONPATH") from error

DOCS = Path(__file__).resolve().parent
GENERATED = DOCS / "_generated"

project = "fastmlp"
author = "the fastmlp developers"
copyright = "the fastmlp developers"
release = fastmlp.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

# --- MyST ----------------------------------------------------------------------------
myst_enable_extensions = ["deflist"]   # definition lists (guide/callbacks.md)
# anchors for "#a-heading" links, as GitHub makes them (benchmarks/README.md uses them)
myst_heading_anchors = 4

# --- autodoc and numpydoc -------------------------------------------------------------
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"             # the docstrings say the types
autodoc_class_signature = "mixed"
numpydoc_show_class_members = False   # autodoc lists the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# fastmlp.dask needs dask and distributed (the "dask" extra); without them the API
# page still builds, from stand-ins
autodoc_mock_imports = [name for name in ("dask", "distributed", "dask_ml")
                        if importlib.util.find_spec(name) is None]

# --- HTML ------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"fastmlp {release}"
html_static_path = []
html_theme_options = {"navigation_with_keys": True}


# --- generated sources ----------------------------------------------------------------

CLI_COMMANDS = ("demo", "train", "evaluate", "predict", "export", "bench")


def _cli_help(args):
    """What ``fastmlp ARGS --help`` prints, at 88 columns whatever the terminal."""
    from fastmlp.cli import main

    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*args, "--help"])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return out.getvalue()


def _write(path, text):
    """Write `text` unless the file holds it already (Sphinx rebuilds what changed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _file_format():
    """The model file format: the part of persistence.py's docstring from its first heading."""
    from fastmlp._estimators import persistence

    text = persistence.__doc__
    start = text.index("File format")
    return text[start:]


def generate_sources(app, config):
    """docs/_generated/: the commands' --help, the file format."""
    for command in ("", *CLI_COMMANDS):
        name = command or "fastmlp"
        _write(GENERATED / f"cli_{name}.txt", _cli_help([command] if command else []))
    _write(GENERATED / "file_format.rst", _file_format())


# --- links between the Markdown files ---------------------------------------------------

# benchmarks/README.md is the page "benchmarks" here: a link to it from a page in docs/
# is written for GitHub as "../benchmarks/README.md"
_BENCHMARKS_LINK = re.compile(r"\]\(\.\./benchmarks/README\.md(#[^)]*)?\)")


def _link_benchmarks(text, prefix):
    return _BENCHMARKS_LINK.sub(lambda m: f"]({prefix}benchmarks.md{m.group(1) or ''})", text)


# Pages of the user guide that may not be written yet: the guide's table of contents
# lists them, and drops each one whose file is missing, so that the build passes.
OPTIONAL_PAGES = ("dask",)


def rewrite_sources(app, docname, source):
    depth = docname.count("/")
    source[0] = _link_benchmarks(source[0], "../" * depth)
    if docname == "guide/index":
        for page in OPTIONAL_PAGES:
            if not (DOCS / f"{page}.md").exists():
                source[0] = re.sub(rf"(?m)^\.\./{page}\n", "", source[0])


def setup(app):
    app.connect("config-inited", generate_sources)
    app.connect("source-read", rewrite_sources)
    return {"parallel_read_safe": True}
