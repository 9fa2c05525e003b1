"""Option text to values, as argparse ``type=`` functions: numbers within a range,
layer widths, dropout rates.

Each refuses bad text with argparse.ArgumentTypeError, whose message argparse prints
after the option's name.
"""
import argparse


def _number(kind, accepts, expected):
    """An argparse type: the text read as `kind` (int or float) where `accepts` holds.

    Text that is not a `kind` and a value out of range get the same one-line message,
    "expected {expected}, got {text!r}".
    """
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


# The float ranges are comparisons, which NaN fails: "nan" is refused like "-1".
positive_int = _number(int, lambda value: value >= 1, "a positive integer")
non_negative_int = _number(int, lambda value: value >= 0, "an integer >= 0")
positive_float = _number(float, lambda value: 0 < value < float("inf"), "a positive number")
non_negative_float = _number(float, lambda value: 0 <= value < float("inf"), "a number >= 0")
fraction = _number(float, lambda value: 0 < value < 1, "a number in (0, 1)")
fraction_or_zero = _number(float, lambda value: 0 <= value < 1, "a number in [0, 1)")


def hidden_sizes(text):
    """'256,128' -> (256, 128); '' or 'none' -> () (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer widths such as 256,128, got {text!r}")
    return sizes


def dropout_rates(text):
    """'0.2' (every hidden layer) or '0.2,0.1' (one rate per hidden layer)."""
    try:
        rates = tuple(float(part) for part in text.split(","))
    except ValueError:
        rates = None
    if not rates or not all(0 <= rate < 1 for rate in rates):
        raise argparse.ArgumentTypeError(
            f"expected a rate in [0, 1) or one per hidden layer (0.2,0.1), got {text!r}")
    return rates[0] if len(rates) == 1 else rates
