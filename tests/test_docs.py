"""The documentation's examples run, and print what the documentation says they print.

Three kinds of examples:

- the ``>>>`` examples of the documentation's pages (docs/**/*.md and *.rst, and
  benchmarks/README.md, which the site includes), one doctest per page, run in a
  fresh folder so that files an example writes land there;
- the ``$ ...`` command lines of the pages' ``console`` blocks, run by the shell one
  after the other in a fresh folder per page (holding the page's code blocks
  captioned with a file name, such as ``:caption: main.c``), their output compared
  with the lines under them (``bash`` blocks, such as the install commands or a
  whole benchmark run, are shown but not run);
- the Examples sections of the docstrings of every fastmlp module (``doctest`` on
  each module, as ``python -m doctest`` would).

All doctests run with NORMALIZE_WHITESPACE and ELLIPSIS. The examples fit small
networks for a few epochs: the ConvergenceWarning that fastmlp gives when max_iter
ends a fit is expected there and silenced.
"""
import ast
import doctest
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import fastmlp
from fastmlp.exceptions import ConvergenceWarning

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
# pages whose examples read data that a machine may not have
PAGE_NEEDS_FILES = {"guide/fashion_mnist.md": "/usr/share/datasets/fashion-mnist"}
FENCE = re.compile(r"^\s*(```+|:::+)\s*(\{[\w-]+\})?\s*([\w-]*)")


def _pages():
    pages = [path for suffix in ("*.md", "*.rst") for path in DOCS.rglob(suffix)
             if not {"_build", "_generated"} & set(path.relative_to(DOCS).parts)]
    return sorted(pages) + [ROOT / "benchmarks" / "README.md"]


def _page_id(path):
    return path.relative_to(DOCS).as_posix() if DOCS in path.parents else \
        path.relative_to(ROOT).as_posix()


def _fenced_blocks(text):
    """[(language, [lines])] of the Markdown code fences in `text`."""
    blocks, language, lines, fence = [], None, None, None
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            language = match.group(3) or (match.group(2) or "").strip("{}")
            lines = []
        elif fence is not None and line.strip() == fence:
            blocks.append((language, lines))
            fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


def _doctest_text(path):
    """The page's text for doctest: Markdown fence lines blanked, so that a fence
    closing an example is not read as its expected output."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".md":
        return text
    return "\n".join("" if FENCE.match(line) else line for line in text.splitlines())


PAGES = _pages()
PAGES_WITH_EXAMPLES = [p for p in PAGES if ">>>" in p.read_text(encoding="utf-8")]
PAGES_WITH_COMMANDS = [p for p in PAGES if p.suffix == ".md" and any(
    language == "console" for language, _ in _fenced_blocks(p.read_text(encoding="utf-8")))]


@pytest.fixture
def in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _skip_without_data(path):
    needed = PAGE_NEEDS_FILES.get(_page_id(path))
    if needed and not os.path.exists(needed):
        pytest.skip(f"the examples of {_page_id(path)} read {needed}")


def _run_doctest(tests):
    """Run the doctests; the runner's report of the failures ('' when none)."""
    report = []
    # verbose=False: by default doctest reads it from sys.argv, where pytest -v puts it
    runner = doctest.DocTestRunner(optionflags=FLAGS, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for test in tests:
            runner.run(test, out=report.append)
    return "".join(report)


@pytest.mark.parametrize("path", PAGES_WITH_EXAMPLES, ids=_page_id)
def test_page_examples_print_what_the_page_says(path, in_tmp_path):
    _skip_without_data(path)
    test = doctest.DocTestParser().get_doctest(
        _doctest_text(path), {"__name__": "__main__"}, _page_id(path), str(path), 0)
    assert test.examples
    failures = _run_doctest([test])
    assert not failures, failures


def test_pages_have_examples():
    """The pages that teach the API (getting started, the user guide) show runnable
    examples, so a page whose fences lost their ``>>>`` is noticed."""
    found = {_page_id(path) for path in PAGES_WITH_EXAMPLES}
    for page in ("index.md", "getting_started.md", "guide/estimators.md",
                 "guide/training.md", "guide/persistence.rst", "guide/callbacks.md"):
        assert page in found


def _console_sessions(path):
    """[(command line, expected output)] of the page's ``console`` blocks, in order."""
    sessions = []
    for language, lines in _fenced_blocks(path.read_text(encoding="utf-8")):
        if language != "console":
            continue
        for line in lines:
            if line.startswith("$ "):
                sessions.append([line[2:], ""])
            elif sessions:
                sessions[-1][1] += line + "\n"
    return sessions


def _captioned_files(path):
    """{file name: text} of the page's code blocks captioned with a file name
    (``:caption: main.c``): the files its commands read."""
    files = {}
    for _, lines in _fenced_blocks(path.read_text(encoding="utf-8")):
        options = {}
        while lines and lines[0].startswith(":"):
            name, _, value = lines.pop(0)[1:].partition(":")
            options[name] = value.strip()
        caption = options.get("caption", "")
        if re.fullmatch(r"[\w-]+\.\w+", caption):
            files[caption] = "\n".join(lines).strip("\n") + "\n"
    return files


@pytest.fixture(scope="module")
def commands_path(tmp_path_factory):
    """A PATH on which ``fastmlp`` and ``python`` are this interpreter's."""
    folder = tmp_path_factory.mktemp("bin")
    for name, command in (("fastmlp", f'"{sys.executable}" -m fastmlp'),
                          ("python", f'"{sys.executable}"')):
        script = folder / name
        script.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        script.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.mark.parametrize("path", PAGES_WITH_COMMANDS, ids=_page_id)
def test_page_commands_print_what_the_page_says(path, in_tmp_path, commands_path):
    """Each ``$ ...`` line of a page's console blocks, run by the shell in the page's
    order (a later command reads what an earlier one wrote, and the files of the
    page's captioned code blocks), exits with 0 and prints the output shown under it
    (ELLIPSIS and NORMALIZE_WHITESPACE)."""
    _skip_without_data(path)
    for name, text in _captioned_files(path).items():
        (in_tmp_path / name).write_text(text)
    checker = doctest.OutputChecker()
    env = {**os.environ, "PATH": commands_path, "COLUMNS": "88"}
    for command, expected in _console_sessions(path):
        result = subprocess.run(command, shell=True, capture_output=True, text=True,
                                timeout=300, env=env)
        assert result.returncode == 0, f"$ {command}\n{result.stdout}\n{result.stderr}"
        if expected.strip():
            assert checker.check_output(expected, result.stdout, FLAGS), \
                f"$ {command}\nexpected:\n{expected}\ngot:\n{result.stdout}"


@pytest.mark.parametrize("path", PAGES, ids=_page_id)
def test_page_python_blocks_parse(path):
    """The Python blocks that are not ``>>>`` examples (code shown whole, needing files
    or a cluster to run) are at least valid Python."""
    for language, lines in _fenced_blocks(path.read_text(encoding="utf-8")):
        if language == "python":
            source = "\n".join(lines)
            ast.parse(source, filename=f"{_page_id(path)} block:\n{source}")


@pytest.mark.slow
def test_readme_usage_runs_without_a_warning(in_tmp_path, capsys):
    """The README's usage example (Fashion-MNIST) runs as shown, saves and loads the
    model, and warns about nothing: a newcomer's first fit is quiet."""
    if not os.path.exists(PAGE_NEEDS_FILES["guide/fashion_mnist.md"]):
        pytest.skip("the README's usage example reads Fashion-MNIST")
    blocks = [lines for language, lines in
              _fenced_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
              if language == "python" and "load_fashion_mnist" in "\n".join(lines)]
    assert len(blocks) == 1
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile("\n".join(blocks[0]), "README.md usage", "exec"), namespace)
    n_iter, accuracy = capsys.readouterr().out.split()
    assert int(n_iter) < namespace["model"].max_iter
    assert float(accuracy) > 0.88
    assert (namespace["same"].predict_proba(namespace["X_test"][:5]) ==
            namespace["proba"]).all()


def _modules_with_examples():
    """The fastmlp modules whose source holds a ``>>>`` example (found without
    importing them: fastmlp.dask needs dask)."""
    names = []
    for info in pkgutil.walk_packages(fastmlp.__path__, "fastmlp.",
                                      onerror=lambda name: None):
        spec = importlib.util.find_spec(info.name)
        if (spec.origin or "").endswith(".py") and info.name.rsplit(".", 1)[-1] != "__main__":
            if ">>>" in Path(spec.origin).read_text(encoding="utf-8"):
                names.append(info.name)
    return ["fastmlp", *sorted(names)]


# The modules whose __all__ is fastmlp's public API (the API reference's pages)
PUBLIC_MODULES = ("fastmlp", "fastmlp.callbacks", "fastmlp.datasets", "fastmlp.plot",
                  "fastmlp.recipes", "fastmlp.schedules", "fastmlp.export", "fastmlp.dask",
                  "fastmlp.cli")
SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}\n", re.M)


def _documented_parameters(docstring):
    """The names in the numpydoc Parameters section of `docstring`."""
    sections = SECTION.split(inspect.cleandoc(docstring or ""))
    # [text before, title, body, title, body, ...]
    bodies = [body for title, body in zip(sections[1::2], sections[2::2])
              if title == "Parameters"]
    return {name.strip().lstrip("*") for body in bodies for line in body.splitlines()
            if line[:1].strip() for name in line.split(" :")[0].split(",")}


def _signature_parameters(function):
    return [name for name in inspect.signature(function).parameters
            if name not in ("self", "args", "kwargs")]


def _public_api():
    """(qualified name, object) of every public class and function."""
    objects = []
    for name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:   # an optional dependency (fastmlp.dask: dask)
            continue
        for attribute in module.__all__:
            value = getattr(module, attribute)
            if inspect.isclass(value) or inspect.isfunction(value):
                objects.append((f"{name}.{attribute}", value))
    return objects


def test_public_api_describes_every_parameter_and_shows_examples():
    """Every public class and function has an Examples section, and every parameter
    of it (of a class: its constructor's and its public methods') is described."""
    problems = []
    for name, value in _public_api():
        if "Examples\n--------\n" not in inspect.cleandoc(value.__doc__ or ""):
            problems.append(f"{name}: no Examples section")
        functions = [(name, value)]
        if inspect.isclass(value):
            functions = [(name, value)] + [
                (f"{name}.{attribute}", getattr(method, "__wrapped__", method))
                for attribute, method in vars(value).items()
                if not attribute.startswith("_")
                and inspect.isfunction(getattr(method, "__wrapped__", method))]
        for where, function in functions:
            missing = set(_signature_parameters(function)) - _documented_parameters(
                function.__doc__ if function is not value else value.__doc__)
            if missing:
                problems.append(f"{where}: parameters not described: {sorted(missing)}")
    assert {"fastmlp.MLPClassifier", "fastmlp.load", "fastmlp.callbacks.ProgressBar",
            "fastmlp.export.to_onnx", "fastmlp.cli.main"} <= dict(_public_api()).keys()
    assert problems == []


def test_the_parameters_check_reads_numpydoc():
    def f(a, b, *args, c=1, **kwargs):
        """Summary.

        Parameters
        ----------
        a, b : int
            Two.
        *args : float
        c : int, default=1

        Returns
        -------
        d : int
        """
    assert _documented_parameters(f.__doc__) == {"a", "b", "args", "c"}
    assert _signature_parameters(f) == ["a", "b", "c"]


def _wrapped_method_doctests(module):
    """The doctests of the module's classes' methods that doctest passes over: a
    method wrapped in a descriptor (``available_if``, as ``partial_fit``) looks to it
    as if defined in the descriptor's module."""
    tests = []
    for class_name, cls in vars(module).items():
        if not (isinstance(cls, type) and cls.__module__ == module.__name__):
            continue
        for attribute, value in vars(cls).items():
            method = getattr(value, "__wrapped__", None)
            if (not inspect.isfunction(value) and inspect.isfunction(method)
                    and method.__module__ == module.__name__):
                tests += doctest.DocTestFinder(recurse=False).find(
                    method, f"{module.__name__}.{class_name}.{attribute}",
                    globs=dict(vars(module)))
    return tests


def test_wrapped_methods_examples_are_collected():
    """partial_fit's examples run too (available_if hides them from doctest)."""
    from fastmlp._estimators import classifier, regressor
    names = {test.name for module in (classifier, regressor)
             for test in _wrapped_method_doctests(module) if test.examples}
    assert {"fastmlp._estimators.classifier.MLPClassifier.partial_fit",
            "fastmlp._estimators.regressor.MLPRegressor.partial_fit"} <= names


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples(name, in_tmp_path):
    try:
        module = importlib.import_module(name)
    except ImportError as error:   # an optional dependency (fastmlp.dask: dask)
        missing = error.name or getattr(error.__cause__, "name", None)
        if missing is None or missing.split(".")[0] == "fastmlp":
            raise
        pytest.skip(f"{name} needs {missing}")
    finder = doctest.DocTestFinder()
    tests = [test for test in finder.find(module, name) + _wrapped_method_doctests(module)
             if test.examples]
    failures = _run_doctest(tests)
    assert not failures, failures
