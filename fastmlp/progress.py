"""What a fit's progress looks like on a terminal: the live line and its fields.

:class:`fastmlp.callbacks.ProgressBar` prints a line per epoch when its stream is a
file, a pipe or a notebook, and on a terminal one line that every epoch rewrites in
place (:class:`LiveLine`). These helpers decide which, and format that line's figures.
"""
import math
import os
import shutil

# Columns assumed when the stream cannot tell (some pseudo-terminals report 0).
DEFAULT_COLUMNS = 80
# The narrowest bar worth drawing: below it the live line goes without one.
MIN_BAR_WIDTH = 5


def is_terminal(stream):
    """Whether `stream` is an interactive terminal (its ``isatty()``), False for a
    stream without one or a closed file."""
    isatty = getattr(stream, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (OSError, ValueError):   # a closed or detached stream
        return False


def terminal_columns(stream):
    """The width of the terminal `stream` writes to, in characters.

    The terminal of the stream's file descriptor; for a stream without one (a stand-in
    that only says it is a terminal), ``shutil.get_terminal_size``: the ``COLUMNS``
    environment variable, then the terminal of ``sys.__stdout__``, then 80.
    """
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):   # io.UnsupportedOperation is both
        columns = shutil.get_terminal_size((DEFAULT_COLUMNS, 24)).columns
    return columns if columns > 0 else DEFAULT_COLUMNS


def format_duration(seconds):
    """A duration for people: ``'4.2s'`` under a minute, ``'1:05'`` (m:ss) under an
    hour, ``'2:03:04'`` (h:mm:ss) beyond."""
    if seconds < 59.95:   # what would round to 60.0s is 1:00
        return f"{max(seconds, 0.0):.1f}s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(per_second):
    """A rate in about 5 characters: ``'8,765'``, ``'37.0k'``, ``'370k'``, ``'4.56M'``
    (a fixed number of decimals in each range, so that the width changes seldom)."""
    for limit, scale, decimals, unit in ((9_999.5, 1, 0, ""), (99_950, 1e3, 1, "k"),
                                         (999_500, 1e3, 0, "k"), (9_995_000, 1e6, 2, "M"),
                                         (99_950_000, 1e6, 1, "M")):
        if per_second < limit:
            return f"{per_second / scale:,.{decimals}f}{unit}"
    return f"{per_second / 1e6:,.0f}M"


def fit_to_width(fields, bar, width, columns):
    """The live line and its bar's width: `fields` (strings) two spaces apart, a bar of
    at most `width` characters after the first field (``bar(n)`` draws one of n), all
    in ``columns - 1`` characters (a line that fills the last column wraps on some
    terminals, and ``\\r`` would then rewrite only its last row).

    The bar narrows, then goes (width 0); then the fields before the last two (the
    times, the line's reason to be) go from the right; then the line is cut.
    """
    room = columns - 1
    fields = list(fields)
    while True:
        text = "  ".join(fields[1:])
        plain = f"{fields[0]}  {text}" if text else fields[0]
        bar_width = min(width, room - len(plain) - 3)   # ' [' + bar + ']'
        if bar_width >= MIN_BAR_WIDTH:
            return f"{fields[0]} [{bar(bar_width)}]  {text}", bar_width
        if len(plain) <= room or len(fields) <= 4:
            return plain[:room].rstrip(), 0
        del fields[-3]   # keep the epoch, the loss and the two times


class LiveLine:
    """One line of a terminal, rewritten in place: ``\\r``, the new text, and spaces
    over what is left of a longer previous text (no escape codes: any terminal, the
    Windows console included, honours ``\\r``).

    Parameters
    ----------
    stream : file-like
    """

    def __init__(self, stream):
        self.stream = stream
        self.length = 0      # characters of the text on screen
        self.open = False    # a text is on screen without its newline

    def update(self, text):
        """Show `text` in place of the line's previous text."""
        padding = " " * max(0, self.length - len(text))
        self.stream.write(f"\r{text}{padding}")
        self.stream.flush()
        self.length = len(text)
        self.open = True

    def finish(self):
        """End the line with a newline, once: what is printed next starts a line."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
        self.open = False
        self.length = 0


class FitRecord:
    """What a progress display knows of one fit, from its epochs' metrics: the times,
    the losses, the validation scores.

    Parameters
    ----------
    stream : file-like
        Where the fit's progress goes.
    line : LiveLine or None
        The live line, None when the stream gets a line per epoch.
    started : float
        When the first epoch began (a ``time.perf_counter()`` reading).
    """

    def __init__(self, stream, line, started):
        self.stream = stream
        self.line = line
        self.started = self.now = started   # now: when the last epoch ended
        self.bar_width = None       # the live line's bar: it narrows, never widens
        self.epochs = 0             # epochs seen in this fit
        self.last_epoch = 0         # the metrics' epoch number of the last one
        self.max_iter = 0
        self.final_loss = None
        self.best_loss = self.best_loss_epoch = None
        self.best_score = self.best_score_epoch = None

    def add(self, metrics, now):
        """Take in an epoch's metrics; `now` is when it ended."""
        epoch, loss = metrics["epoch"], metrics["loss"]
        self.now = now
        self.epochs += 1
        self.last_epoch, self.max_iter = epoch, metrics["max_iter"]
        self.final_loss = loss
        if not math.isnan(loss) and (self.best_loss is None or loss < self.best_loss):
            self.best_loss, self.best_loss_epoch = loss, epoch
        score = metrics.get("validation_score")
        if score is not None and (self.best_score is None or score > self.best_score):
            self.best_score, self.best_score_epoch = score, epoch

    @property
    def elapsed(self):
        """Seconds from the first epoch's start to the last one's end."""
        return self.now - self.started

    @property
    def left(self):
        """Seconds the epochs up to max_iter would take at the mean pace so far."""
        return self.elapsed / max(self.epochs, 1) * max(self.max_iter - self.last_epoch, 0)

    def summary(self):
        """The line that closes a live display: the epochs, the time, the losses."""
        text = (f"{self.epochs} of {self.max_iter} epochs in {format_duration(self.elapsed)}: "
                f"final loss {self.final_loss:.6g}")
        if self.best_loss is not None:
            text += f", best loss {self.best_loss:.6g} (epoch {self.best_loss_epoch})"
        if self.best_score is not None:
            text += (f", best validation score {self.best_score:.4f} "
                     f"(epoch {self.best_score_epoch})")
        return text
