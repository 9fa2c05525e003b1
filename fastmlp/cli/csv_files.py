"""CSV files of samples: blank lines skipped, a header row recognised, the label
column found by index or name, and a bad cell reported with its line number."""
import csv

import numpy as np

from fastmlp.cli.errors import CommandError, one_line


def read_csv(path, label_column=None):
    """(X, y) from a CSV file; y (None without label_column) from the label column.

    The first row is a header when one of its feature cells is not a number, when its
    label cell is not a number but the next row's is, or when label_column is a name.
    """
    try:
        with open(path, newline="") as file:
            reader = csv.reader(file)
            lines, rows = [], []
            for row in reader:
                if any(cell.strip() for cell in row):   # blank lines are skipped
                    lines.append(reader.line_num)
                    rows.append(row)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise CommandError(f"{path}: not a text CSV file ({one_line(error)})") from None
    if not rows:
        raise CommandError(f"{path}: the CSV file is empty")
    first = [cell.strip() for cell in rows[0]]
    by_name = label_column is not None and not _is_int(label_column)
    column = None if label_column is None or by_name else \
        _column_index(label_column, len(first), None, path)
    features = [cell for k, cell in enumerate(first) if k != column]
    header = None
    if by_name or not all(_numeric(cell) for cell in features) or (
            column is not None and not _numeric(first[column]) and len(rows) > 1
            and column < len(rows[1]) and _numeric(rows[1][column])):
        header = first
        lines, rows = lines[1:], rows[1:]
    if not rows:
        raise CommandError(f"{path}: the CSV file has a header but no data rows")
    width = len(rows[0]) if header is None else len(header)
    for line, row in zip(lines, rows):
        if len(row) != width:
            raise CommandError(f"{path}, line {line}: {len(row)} columns, expected {width}")
    y = None
    if label_column is not None:
        column = _column_index(label_column, width, header, path)
        y = _parse_labels(np.array([row[column].strip() for row in rows]))
        rows = [row[:column] + row[column + 1:] for row in rows]
    if not rows[0]:
        raise CommandError(f"{path}: no feature columns")
    try:
        return np.array(rows, dtype=np.float64), y
    except ValueError:   # find the culprit for the message
        for line, row in zip(lines, rows):
            for cell in row:
                if not _numeric(cell):
                    raise CommandError(f"{path}, line {line}: {cell.strip()!r} is not "
                                       "a number") from None
        raise


def _is_int(text):
    try:
        int(text)
    except (TypeError, ValueError):
        return False
    return True


def _numeric(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_index(label_column, width, header, path):
    """The index of the label column, given as an index (negative from the end) or a name."""
    try:
        index = int(label_column)
    except ValueError:
        if header is None or label_column not in header:
            raise CommandError(f"{path}: no column named {label_column!r}"
                               + ("" if header is None else f" (columns: {', '.join(header)})")
                               ) from None
        return header.index(label_column)
    if not -width <= index < width:
        raise CommandError(f"{path}: --label-column {index} is out of range for "
                           f"{width} columns")
    return index % width


def _parse_labels(values):
    """CSV label strings as ints, else floats, else kept as strings."""
    for kind in (np.int64, np.float64):
        try:
            return values.astype(kind)
        except ValueError:
            continue
    return values
