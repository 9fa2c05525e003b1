"""Ctrl-C ends any fastmlp command with exit code 130 and one line on stderr, never a
traceback: in the imports main makes, while data or a model is read, during training.

Each command runs as ``python -m fastmlp`` does, in a child process that sends itself a
real SIGINT at one chosen moment (tests/test_cli.py: the interrupted train that saves
its last whole epoch).
"""
import os
import subprocess
import sys

import pytest

import fastmlp

from helpers import interrupt_after_first_epoch

ENV = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastmlp.__file__)),
           PYTHONUNBUFFERED="1")

# `python -m fastmlp ARGS...` with Ctrl-C when module WHAT is first imported
# ("import:WHAT"), or when the function WHAT (module.name) is called ("call:WHAT").
CHILD = """
import importlib, runpy, signal, sys

how, what = sys.argv[1].split(":")
sys.argv = ["fastmlp", *sys.argv[2:]]

if how == "import":
    class CtrlCOnImport:
        def find_spec(self, name, path=None, target=None):
            if name == what:
                signal.raise_signal(signal.SIGINT)
            return None

    sys.meta_path.insert(0, CtrlCOnImport())
else:
    module_name, name = what.rsplit(".", 1)
    module = importlib.import_module(module_name)
    function = getattr(module, name)

    def interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return function(*args, **kwargs)

    setattr(module, name, interrupted)
runpy.run_module("fastmlp", run_name="__main__", alter_sys=True)
"""


def interrupted_at(when, *args, cwd):
    return subprocess.run([sys.executable, "-c", CHILD, when, *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=ENV)


def assert_interrupted(done, who):
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines() == [f"{who}: interrupted"], done.stderr


@pytest.mark.parametrize("when, args, who", [
    # main's own imports: the parser and the commands, before a command is known
    ("import:fastmlp.cli.parser", ["train", "--data", "digits"], "fastmlp"),
    # reading the data, a model, the benchmark's data
    ("call:fastmlp.datasets.make_digits", ["train", "--data", "digits"], "fastmlp train"),
    ("call:fastmlp.datasets.make_digits", ["demo"], "fastmlp demo"),
    ("call:fastmlp.cli.commands.load_model", ["predict", "--model", "m.npz", "--input",
                                              "x.npy"], "fastmlp predict"),
    ("call:fastmlp.cli.commands.load_model", ["evaluate", "--model", "m.npz", "--data",
                                              "digits"], "fastmlp evaluate"),
    ("call:fastmlp.benchmark.load_data", ["bench", "--quick"], "fastmlp bench"),
])
def test_ctrl_c_ends_a_command_with_130_and_one_line(tmp_path, when, args, who):
    assert_interrupted(interrupted_at(when, *args, cwd=tmp_path), who)


def test_ctrl_c_while_the_fastmlp_package_is_imported(tmp_path):
    done = interrupted_at("import:fastmlp._estimators.classifier", "train", "--data",
                          "digits", cwd=tmp_path)
    assert_interrupted(done, "fastmlp")


def test_ctrl_c_during_training_without_out(tmp_path):
    # as a terminal sends it, once the training has started (its first epoch's line)
    returncode, stderr = interrupt_after_first_epoch(
        ["train", "--data", "digits", "--samples", "2000", "--epochs", "1000",
         "--batch-size", "1"], tmp_path, ENV)
    assert returncode == 130, stderr
    assert stderr.splitlines() == ["fastmlp train: interrupted"], stderr
