"""How a command fails: a CommandError, and any error told in one line."""


class CommandError(Exception):
    """A problem with the arguments or the data, reported in one line."""


def one_line(error):
    """The message of `error` with its white space folded (its type's name if empty)."""
    return " ".join(str(error).split()) or type(error).__name__
