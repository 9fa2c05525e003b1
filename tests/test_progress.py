"""What a verbose fit prints: a line per epoch when the output is not a terminal, one
line rewritten in place (``\\r``) and a summary on a terminal, and why the fit stopped
after its last epoch's line; the live line's parts (fastmlp/progress.py)."""
import io
import re
import sys
import warnings
from types import SimpleNamespace

import pytest

from fastmlp import callbacks as callbacks_module
from fastmlp.callbacks import ProgressBar
from fastmlp.progress import (
    LiveLine,
    fit_to_width,
    format_duration,
    format_rate,
    is_terminal,
)

from helpers import blobs, classifier, quiet_fit, regressor

TOL_STOP = "Training loss did not improve more than tol="
VALIDATION_STOP = "Validation score did not improve more than tol="


class Terminal(io.StringIO):
    """An in-memory stream that says it is a terminal, as a console's sys.stdout does."""

    def isatty(self):
        return True


def use_terminal(monkeypatch):
    """Replace sys.stdout with a Terminal 200 columns wide, for the rest of the test (not
    in a fixture: pytest's capture sets sys.stdout again between setup and the test)."""
    monkeypatch.setenv("COLUMNS", "200")   # Terminal has no file descriptor to ask
    stream = Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    return stream


def epoch_lines(lines):
    """The numbers of the lines that start with scikit-learn's 'Iteration N, loss = '."""
    return [int(re.match(r"Iteration (\d+), loss = ", line).group(1))
            for line in lines if line.startswith("Iteration ")]


def live_updates(output):
    """The texts a live line showed, in order: its updates before the first newline."""
    line, _, _ = output.partition("\n")
    assert line.startswith("\r")
    return [text.rstrip(" ") for text in line.split("\r")[1:]]


def metrics(epoch, max_iter=10, loss=0.5, seconds=1.0, **more):
    return dict(epoch=epoch, max_iter=max_iter, loss=loss, learning_rate=1e-3,
                seconds=seconds, samples_per_second=1000.0 / seconds, **more)


# --- not a terminal: a line per epoch, as scikit-learn prints them ---------------------

def test_output_that_is_not_a_terminal_gets_a_line_per_epoch_in_order(capsys):
    X, y = blobs(n=60, seed=3)
    model = quiet_fit(classifier((4,), max_iter=4, verbose=True), X, y)
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert epoch_lines(lines) == [1, 2, 3, 4] and len(lines) == 4   # no summary either
    assert lines[-1].startswith(f"Iteration 4, loss = {model.loss_curve_[-1]:.8f}")


def test_the_tol_stop_message_comes_after_the_last_epoch_line(capsys):
    # tol larger than any gain: epoch 1 sets the best loss, then no epoch improves on it
    X, y = blobs(n=60, seed=4)
    model = classifier((4,), tol=10.0, n_iter_no_change=2, max_iter=50, verbose=True)
    model.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert model.n_iter_ == 4
    assert epoch_lines(lines) == [1, 2, 3, 4]
    assert lines[-1].startswith(TOL_STOP) and lines[-1].endswith("Stopping.")
    assert lines[-2].startswith("Iteration 4, ")
    assert sum(line.startswith(TOL_STOP) for line in lines) == 1


def test_the_early_stopping_message_comes_after_the_last_epoch_line(capsys):
    X, y = blobs(n=200, seed=5)
    model = classifier((8,), early_stopping=True, n_iter_no_change=2, tol=1.0, max_iter=50,
                       verbose=True)
    model.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert epoch_lines(lines) == list(range(1, model.n_iter_ + 1))
    assert lines[-1].startswith(VALIDATION_STOP) and lines[-1].endswith("Stopping.")
    assert lines[-2].startswith(f"Iteration {model.n_iter_}, ")
    assert "validation score" in lines[-2]


def test_lbfgs_prints_a_line_per_iteration_then_why_it_stopped(capsys):
    X, y = blobs(n=80, seed=6)
    model = classifier((6,), solver="lbfgs", max_iter=500, verbose=True).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert model.n_iter_ < 500   # converged: scipy says why
    assert epoch_lines(lines) == list(range(1, model.n_iter_ + 1))
    assert lines[-1].startswith(f"L-BFGS stopped after {model.n_iter_} iterations: ")
    assert len(lines) == model.n_iter_ + 1


def test_no_stop_message_without_verbose(capsys):
    X, y = blobs(n=60, seed=4)
    stream = io.StringIO()
    classifier((4,), tol=10.0, n_iter_no_change=2, max_iter=50,
               callbacks=[ProgressBar(stream=stream)]).fit(X, y)
    assert epoch_lines(stream.getvalue().splitlines()) == [1, 2, 3, 4]
    assert TOL_STOP not in stream.getvalue() and capsys.readouterr().out == ""


# --- a terminal: one live line, then the stop message and a summary --------------------

def test_a_terminal_gets_one_line_updated_in_place_then_a_summary(monkeypatch):
    terminal = use_terminal(monkeypatch)
    X, y = blobs(n=60, seed=3)
    model = quiet_fit(classifier((4,), max_iter=3, verbose=True), X, y)
    out = terminal.getvalue()
    assert out.endswith("\n") and out.count("\n") == 2   # the live line and the summary
    updates = live_updates(out)
    assert [text.split(" [")[0] for text in updates] == ["epoch 1/3", "epoch 2/3",
                                                         "epoch 3/3"]
    for text, loss in zip(updates, model.loss_curve_):
        assert f"loss {loss:.6g} " in text and " samples/s " in text
        assert re.search(r"\d+\.\ds elapsed +\d+\.\ds left$", text)
    assert "[" + "#" * 20 + "]" in updates[-1]   # the whole bar at the last epoch
    summary = out.splitlines()[-1]
    best = min(model.loss_curve_)
    assert re.fullmatch(
        rf"3 of 3 epochs in \d+\.\ds: final loss {model.loss_curve_[-1]:.6g}, best loss "
        rf"{best:.6g} \(epoch {model.loss_curve_.index(best) + 1}\)", summary)


def test_on_a_terminal_the_stop_message_follows_the_finished_live_line(monkeypatch):
    terminal = use_terminal(monkeypatch)
    X, y = blobs(n=60, seed=4)
    model = classifier((4,), tol=10.0, n_iter_no_change=2, max_iter=50, verbose=True)
    model.fit(X, y)
    live, message, summary = terminal.getvalue().split("\n")[:3]
    assert terminal.getvalue().endswith(f"{summary}\n")
    assert live_updates(live)[-1].startswith("epoch  4/50 ")   # the last epoch's update
    assert len(live_updates(live)) == model.n_iter_ == 4
    assert message.startswith(TOL_STOP) and message.endswith("Stopping.")
    assert summary.startswith("4 of 50 epochs in ")


def test_on_a_terminal_early_stopping_shows_the_validation_score(monkeypatch):
    terminal = use_terminal(monkeypatch)
    X, y = blobs(n=200, seed=5)
    model = classifier((8,), early_stopping=True, n_iter_no_change=2, tol=1.0, max_iter=50,
                       verbose=True).fit(X, y)
    live, message, summary, rest = terminal.getvalue().split("\n")
    updates = live_updates(live)
    assert len(updates) == model.n_iter_
    scores = model.validation_scores_
    assert all(f"val score {score:.4f}" in text for text, score in zip(updates, scores))
    assert message.startswith(VALIDATION_STOP) and rest == ""
    best = max(scores)
    assert summary.endswith(f", best validation score {best:.4f} "
                            f"(epoch {scores.index(best) + 1})")


def test_lbfgs_on_a_terminal(monkeypatch):
    terminal = use_terminal(monkeypatch)
    X, y = blobs(n=80, seed=6)
    model = regressor((6,), solver="lbfgs", max_iter=500, verbose=True).fit(X, y * 1.0)
    live, message, summary, rest = terminal.getvalue().split("\n")
    assert len(live_updates(live)) == model.n_iter_ and rest == ""
    assert live_updates(live)[-1].startswith(f"epoch {model.n_iter_:>3}/500 ")
    assert message.startswith(f"L-BFGS stopped after {model.n_iter_} iterations: ")
    assert summary.startswith(f"{model.n_iter_} of 500 epochs in ")
    assert f"final loss {model.loss_:.6g}" in summary


def test_a_warning_after_a_live_line_starts_on_a_line_of_its_own(monkeypatch):
    terminal = use_terminal(monkeypatch)
    # Ctrl-C after epoch 3: the live line is finished before the "interrupted" warning
    X, y = blobs(n=60, seed=3)
    at_warning = []

    def interrupt(model, metrics):
        if metrics["epoch"] == 3:
            raise KeyboardInterrupt

    def record(message, *args, **kwargs):
        at_warning.append((str(message), terminal.getvalue()))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        model = classifier((4,), max_iter=50, callbacks=[ProgressBar(), interrupt]).fit(X, y)
    assert model.n_iter_ == 3
    (message, shown), = at_warning
    assert message == "Training interrupted by user." and shown.endswith("\n")
    assert shown == terminal.getvalue()
    assert terminal.getvalue().splitlines()[-1].startswith("3 of 50 epochs in ")


def test_a_fit_that_raises_finishes_its_live_line_without_a_summary(monkeypatch):
    terminal = use_terminal(monkeypatch)
    X, y = blobs(n=60, seed=3)

    def fail(model, metrics):
        if metrics["epoch"] == 2:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        classifier((4,), max_iter=50, callbacks=[ProgressBar(), fail]).fit(X, y)
    out = terminal.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")
    assert [text.split(" [")[0] for text in live_updates(out)] == ["epoch  1/50",
                                                                   "epoch  2/50"]


def test_partial_fit_on_a_terminal_ends_each_call_s_line_without_a_summary(monkeypatch):
    terminal = use_terminal(monkeypatch)
    X, y = blobs(n=60, seed=3)
    model = classifier((4,), max_iter=20, verbose=True)
    for _ in range(3):
        model.partial_fit(X, y, classes=[0, 1, 2])
    lines = terminal.getvalue().split("\n")
    assert len(lines) == 4 and lines[-1] == ""
    assert all(len(live_updates(line)) == 1 for line in lines[:3])


def test_live_can_be_forced_either_way(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    X, y = blobs(n=60, seed=3)
    on_terminal, on_file = Terminal(), io.StringIO()
    quiet_fit(classifier((4,), max_iter=2, callbacks=[
        ProgressBar(stream=on_terminal, live=False), ProgressBar(stream=on_file, live=True)]),
        X, y)
    assert epoch_lines(on_terminal.getvalue().splitlines()) == [1, 2]
    assert len(live_updates(on_file.getvalue())) == 2
    assert on_file.getvalue().splitlines()[-1].startswith("2 of 2 epochs in ")


# --- the live line's parts --------------------------------------------------------------

def test_elapsed_and_time_left_follow_the_mean_pace(monkeypatch):
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(callbacks_module, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    monkeypatch.setenv("COLUMNS", "200")
    stream = Terminal()
    bar = ProgressBar(width=10, stream=stream)
    clock.now = 2.0
    bar(None, metrics(1, seconds=2.0))            # the fit began at 0
    clock.now = 5.0                               # 1 s of validation and callbacks too
    bar(None, metrics(2, seconds=2.0, loss=0.25, validation_score=0.75))
    first, second = live_updates(stream.getvalue())
    assert first == ("epoch  1/10 [#.........]  loss 0.5    500 samples/s   2.0s elapsed  "
                     "18.0s left")
    assert second == ("epoch  2/10 [##........]  loss 0.25  val score 0.7500    500 "
                      "samples/s   5.0s elapsed  20.0s left")
    bar.end("Stopped by hand.")
    assert stream.getvalue().split("\n")[1:] == [
        "Stopped by hand.",
        "2 of 10 epochs in 5.0s: final loss 0.25, best loss 0.25 (epoch 2), "
        "best validation score 0.7500 (epoch 2)", ""]


def test_a_bar_called_again_from_epoch_one_starts_a_new_line():
    stream = Terminal()
    bar = ProgressBar(stream=stream)
    for epoch in (1, 2, 1):   # two fits, no end() in between
        bar(None, metrics(epoch))
    first, second = stream.getvalue().split("\n")[:2]
    assert len(live_updates(first)) == 2
    assert second.startswith("2 of 10 epochs in ")
    assert stream.getvalue().split("\n")[2].startswith("\repoch  1/10")
    bar.end()
    assert stream.getvalue().splitlines()[-1].startswith("1 of 10 epochs in ")


def test_the_line_is_finished_at_max_iter_without_end():
    stream = Terminal()
    bar = ProgressBar(stream=stream)
    bar(None, metrics(1, max_iter=2))
    assert "\n" not in stream.getvalue()
    bar(None, metrics(2, max_iter=2))
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1


def test_the_live_line_fits_a_narrow_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    stream = Terminal()
    bar = ProgressBar(stream=stream)
    bar(None, metrics(3, max_iter=1000, loss=0.123456789, validation_score=0.5))
    text, = live_updates(stream.getvalue())
    assert len(text) <= 59 and "[" not in text   # no room for a bar
    assert text.startswith("epoch    3/1000  loss 0.123457")
    assert text == "epoch    3/1000  loss 0.123457   1.0s elapsed  16:37 left"


def test_fit_to_width_narrows_the_bar_then_drops_it_then_fields():
    def bar(n):
        return "#" * n

    fields = ["epoch 1/9", "loss 1", "val 1", "fast", "1s elapsed", "2s left"]
    wide, width = fit_to_width(fields, bar, 20, 200)
    assert wide == "epoch 1/9 [" + "#" * 20 + "]  loss 1  val 1  fast  1s elapsed  2s left"
    assert width == 20
    plain = "epoch 1/9  loss 1  val 1  fast  1s elapsed  2s left"
    assert fit_to_width(fields, bar, 20, len(plain) + 9) == (
        "epoch 1/9 [#####]  loss 1  val 1  fast  1s elapsed  2s left", 5)
    assert fit_to_width(fields, bar, 20, len(plain) + 1) == (plain, 0)
    assert fit_to_width(fields, bar, 20, len(plain)) == (
        "epoch 1/9  loss 1  val 1  1s elapsed  2s left", 0)
    assert fit_to_width(fields, bar, 20, 20) == ("epoch 1/9  loss 1", 0)   # cut


def test_live_line_rewrites_in_place_and_finishes_once():
    stream = io.StringIO()
    line = LiveLine(stream)
    line.finish()   # nothing shown: nothing to finish
    line.update("abcdef")
    line.update("xy")   # spaces over what is left of the longer text
    line.finish()
    line.finish()
    assert stream.getvalue() == "\rabcdef\rxy    \n"


@pytest.mark.parametrize("seconds, text", [
    (0.04, "0.0s"), (4.24, "4.2s"), (59.94, "59.9s"), (59.96, "1:00"), (65, "1:05"),
    (3599.4, "59:59"), (7384, "2:03:04"), (-1, "0.0s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("rate, text", [
    (0.4, "0"), (8765.4, "8,765"), (37_040, "37.0k"), (370_400, "370k"),
    (999_600, "1.00M"), (4_561_000, "4.56M"), (45_610_000, "45.6M"),
    (456_100_000, "456M")])
def test_format_rate(rate, text):
    assert format_rate(rate) == text


def test_is_terminal_asks_isatty_and_takes_a_closed_stream_for_no_terminal():
    closed = io.StringIO()
    closed.close()   # its isatty raises ValueError
    assert is_terminal(Terminal()) and not is_terminal(io.StringIO())
    assert not is_terminal(object()) and not is_terminal(closed)
