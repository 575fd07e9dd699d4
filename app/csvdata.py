"""A CSV file as a dataset: a header row, numeric columns, and the label or target last.

Parsed with the standard library's csv module. Every problem names its line (as an editor
counts them, from 1) and column, and the limits are the scenario's (app.scenario.LIMITS).
"""

import csv
import io
import math
from typing import Any

from app.scenario import LIMITS

MAX_CLASSES = 10  # integer labels with at most this many distinct values are classes
MAX_PROBLEMS = 5  # problems reported at once; more are counted


class CsvError(ValueError):
    """A file that is not a usable dataset; the message names every line and column at fault."""


class _Rows:
    """A csv reader whose own errors (a NUL byte, say) become CsvError naming the line."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    @property
    def line_num(self) -> int:
        return int(self.reader.line_num)

    def __iter__(self) -> "_Rows":
        return self

    def __next__(self) -> list[str]:
        try:
            return list(next(self.reader))
        except csv.Error as e:
            raise CsvError(f"line {self.reader.line_num + 1}: {e}") from None


def parse(text: str) -> dict[str, Any]:
    """{"x", "y", "columns", "task", "classes"} from the text of a CSV file, or CsvError.

    x: rows of the input columns. y: the last column as targets, by the labels it holds:
    integer values with at most 10 distinct ones are classes ("binary" for 1 or 2 of them: one
    target, the label itself when the labels are 0 and 1, else the index of its class;
    "multiclass" for 3 to 10: a one-hot row); anything else is "regression", the value itself.
    `classes` lists the label values in order (empty for regression).
    """
    # newline="": a lone \r ends a line too (old Mac files), as the csv module expects
    rows = _Rows(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), skipinitialspace=True))
    header = next((r for r in rows if any(c.strip() for c in r)), None)
    if header is None:
        raise CsvError("the file is empty: it needs a header row and at least one row of data")
    head_line = rows.line_num
    columns = [c.strip() for c in header]
    if all(_number(c) is not None for c in columns):
        raise CsvError(f"line {head_line}: the first row must be a header naming the columns, but it holds numbers")
    blank = [k + 1 for k, c in enumerate(columns) if not c]
    if blank:
        raise CsvError(f"line {head_line}, column {blank[0]}: every column needs a name in the header")
    if len(columns) < 2:
        raise CsvError(f"line {head_line}: needs at least two columns, the inputs and then the label")
    if len(columns) - 1 > LIMITS["max_units"]:
        raise CsvError(
            f"line {head_line}: {len(columns)} columns make {len(columns) - 1} inputs; "
            f"at most {LIMITS['max_units']} (max_units)"
        )
    values: list[list[float]] = []
    found: list[str] = []
    total = 0  # problems found, of which the first MAX_PROBLEMS are told
    rows_seen = 0
    for row in rows:
        if not any(c.strip() for c in row):
            continue  # blank lines, such as a trailing one, are not rows
        if rows_seen == LIMITS["max_examples"]:
            found.append(f"line {rows.line_num}: more than {LIMITS['max_examples']} rows of data (max_examples)")
            total += 1
            break
        rows_seen += 1
        bad = _row_problems(row, columns, rows.line_num)
        total += len(bad)
        found += bad[: max(0, MAX_PROBLEMS - len(found))]
        if not bad:
            values.append([float(c) for c in row])
    if found:
        more = total - len(found)
        raise CsvError("; ".join(found) + (f"; and {more} more" if more else ""))
    if not values:
        raise CsvError(f"line {head_line}: the file has a header but no rows of data")
    x = [r[:-1] for r in values]
    task, classes, y = _targets([r[-1] for r in values])
    return {"x": x, "y": y, "columns": columns, "task": task, "classes": classes}


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _row_problems(row: list[str], columns: list[str], line: int) -> list[str]:
    if len(row) != len(columns):
        return [f"line {line}: {len(row)} values, but the header has {len(columns)} columns"]
    out = []
    limit = LIMITS["max_abs_value"]
    for k, (cell, name) in enumerate(zip(row, columns), start=1):
        where = f"line {line}, column {k} ({name})"
        text = cell.strip()
        v = _number(text)
        if not text:
            out.append(f"{where}: empty; every value must be a number")
        elif v is None:
            out.append(f"{where}: {text[:40]!r} is not a number")
        elif math.isnan(v):
            out.append(f"{where}: NaN is not a number")
        elif math.isinf(v):
            out.append(f"{where}: {text!r} is infinite")
        elif abs(v) > limit:
            out.append(f"{where}: {text} is beyond ±{limit:,.0f} (max_abs_value)")
    return out


def _targets(labels: list[float]) -> tuple[str, list[int], list[list[float]]]:
    distinct = sorted(set(labels))
    if len(distinct) > MAX_CLASSES or any(v != math.floor(v) for v in distinct):
        return "regression", [], [[v] for v in labels]
    index = {v: k for k, v in enumerate(distinct)}
    if len(distinct) <= 2:
        as_is = set(distinct) <= {0.0, 1.0}
        return "binary", [int(v) for v in distinct], [[v if as_is else float(index[v])] for v in labels]
    eye = [[1.0 if j == k else 0.0 for j in range(len(distinct))] for k in range(len(distinct))]
    return "multiclass", [int(v) for v in distinct], [eye[index[v]] for v in labels]
