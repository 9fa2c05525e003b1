"""What the commands print: a line per epoch, evaluate's accuracy, per-class report
and confusion matrix, and predict's lines."""
import csv
import io
import sys

import numpy as np

from fastmlp.callbacks import ProgressBar


class EpochLine(ProgressBar):
    """The commands' progress: one compact line per epoch (loss, validation
    accuracy, speed); `seconds` sums the training time."""

    def __init__(self, stream=None, indent="  "):
        super().__init__(stream=stream)
        self.indent = indent

    def line(self, metrics):
        width = len(str(metrics["max_iter"]))
        line = (f"{self.indent}epoch {metrics['epoch']:>{width}}/{metrics['max_iter']}"
                f"  loss {metrics['loss']:.4f}")
        if metrics.get("validation_score") is not None:
            line += f"  validation accuracy {metrics['validation_score']:.4f}"
        return line + (f"  {metrics['samples_per_second']:>9,.0f} samples/s"
                       f"  {metrics['seconds']:5.2f} s")


def classification_report(y_true, y_pred, names=None):
    """Per-class precision, recall, F1 and support, then macro and weighted averages."""
    from fastmlp.plot import confusion_matrix
    matrix, labels = confusion_matrix(y_true, y_pred)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    hits = np.diag(matrix)
    precision = np.divide(hits, predicted, out=np.zeros(len(hits)), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(len(hits)), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(len(hits)), where=total > 0)
    shown = [_label_name(label, names) for label in labels]
    width = max(12, *(len(s) for s in shown))
    lines = [f"{'class':<{width}}  precision  recall  f1-score  support"]
    for name, p, r, f, s in zip(shown, precision, recall, f1, support):
        lines.append(f"{name:<{width}}  {p:9.4f}  {r:6.4f}  {f:8.4f}  {s:7d}")
    n = support.sum()
    for name, weights in (("macro avg", None), ("weighted avg", support)):
        if weights is not None and not weights.sum():
            continue
        averages = [np.average(v, weights=weights) for v in (precision, recall, f1)]
        lines.append(f"{name:<{width}}  {averages[0]:9.4f}  {averages[1]:6.4f}  "
                     f"{averages[2]:8.4f}  {n:7d}")
    return "\n".join(lines), matrix, labels


def _label_name(label, names):
    if names is not None and isinstance(label, (int, np.integer)) and 0 <= label < len(names):
        return f"{label} {names[label]}"
    return str(label)


def format_confusion_matrix(matrix, labels):
    """The confusion matrix as text: a row per true class, a column per predicted one."""
    shown = [str(label) for label in labels]
    width = max(5, max(len(s) for s in shown) + 1, len(f"{matrix.max():,}") + 1)
    head = max(len(s) for s in shown)
    lines = [" " * (head + 2) + "".join(f"{s:>{width}}" for s in shown)]
    for name, row in zip(shown, matrix):
        lines.append(f"{name:>{head}}  " + "".join(f"{v:>{width},}" for v in row))
    return "\n".join(lines)


def print_evaluation(model, X, y, class_names, out=None):
    """Print the accuracy of `model` on (X, y), the report and the confusion matrix;
    returns the accuracy and the predictions."""
    out = out or sys.stdout
    y_pred = model.predict(X)
    accuracy = float(np.mean(y_pred == y))
    print(f"accuracy {accuracy:.4f} ({int(np.sum(y_pred == y)):,} of {len(y):,} correct)",
          file=out)
    report, matrix, labels = classification_report(y, y_pred, class_names)
    print(f"\n{report}\n", file=out)
    print("confusion matrix (rows: true class, columns: predicted class)", file=out)
    print(format_confusion_matrix(matrix, labels), file=out)
    return accuracy, y_pred


def prediction_lines(model, X, proba=False):
    """What predict prints for the samples X, as CSV text, and the number of samples.

    A line per sample: a classifier's label (one of ``model.classes_``, as it was in
    the training data; a multi-label classifier's 0/1 per label), a regressor's value
    or values; with `proba`, the class probabilities after a header line of the class
    names, the columns' order. A label holding a comma or a quote is quoted, as CSV
    readers expect.
    """
    if proba:
        rows = [[str(label) for label in model.classes_.tolist()]]
        rows += [[f"{p:.6g}" for p in row] for row in model.predict_proba(X)]
    else:
        rows = [[str(v) for v in np.atleast_1d(row)] for row in model.predict(X).tolist()]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue(), len(X)
