"""Every option of every fastmlp command says what it does and what it is when not
given: a new user reads the defaults in --help, not in the source."""
import argparse

import pytest

from fastmlp.cli import main
from fastmlp.cli.parser import build_parser


def commands():
    """{name: parser} of fastmlp's commands."""
    parser = build_parser()
    subparsers = next(action for action in parser._actions
                      if isinstance(action, argparse._SubParsersAction))
    return subparsers.choices


def shown(value):
    """A default as the help writes it: layer widths as 256,128."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def expanded_help(action):
    """The option's help as --help prints it (its %(default)s filled in), on one line."""
    return " ".join(action.help.split()) % vars(action)


def test_the_commands_are_all_walked():
    assert set(commands()) == {"demo", "train", "evaluate", "predict", "export", "bench"}


@pytest.mark.parametrize("command", sorted(commands()))
def test_every_option_has_help_that_names_its_default(command):
    options = [action for action in commands()[command]._actions
               if not isinstance(action, argparse._HelpAction)]
    assert options
    for action in options:
        name = action.option_strings[0]
        assert action.help and action.help != argparse.SUPPRESS, f"{name} has no help"
        text = expanded_help(action)
        if action.default is not None and action.default is not False:
            assert f"(default: {shown(action.default)}" in text, (name, text)
        elif action.nargs != 0 and not action.required:
            # an option taking a value, with no value of its own: what then happens
            assert "default: " in text, (name, text)


def test_bench_help_shows_quick_and_what_it_changes(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--quick a quick look, a minute or less" in text
    assert "--rounds N interleaved rounds (default: 3; --quick: 1)" in text
    assert "--no-latency skip the predict latency measurements" in text
    assert "--no-memory skip the peak memory of a fit" in text
